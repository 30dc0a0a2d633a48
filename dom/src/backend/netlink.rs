//! Netfilter netlink plumbing shared by the nftables and ipset backends.
//!
//! Job: build `nlmsghdr` + `nfgenmsg` + attribute messages into one buffer,
//! send a buffer in one `sendmsg`, collect the kernel's acknowledgements and
//! errors by sequence number, and read multi-part dumps.
//!
//! Invariants and limits:
//! * Parsing never indexes blindly: every length read from the kernel is
//!   checked with `get()` before use, so a malformed reply is an error, not a
//!   panic.
//! * The socket has `NETLINK_CAP_ACK` (error replies do not echo our possibly
//!   large request) and `NETLINK_EXT_ACK` (the kernel may add a text message).
//! * Every receive has a timeout ([`RECV_TIMEOUT`]), so a kernel that never
//!   answers cannot hang the enforcement thread.
//! * The only `unsafe` code of the backends is in [`sockopt`]: two
//!   `setsockopt` calls that `netlink-sys` does not offer.

use std::io;
use std::time::Duration;

use netlink_sys::protocols::NETLINK_NETFILTER;
use netlink_sys::Socket;

/// `NLMSG_NOOP`.
const NLMSG_NOOP: u16 = 1;
/// `NLMSG_ERROR`: an error, or an acknowledgement when the code is 0.
const NLMSG_ERROR: u16 = 2;
/// `NLMSG_DONE`: end of a multi-part dump.
const NLMSG_DONE: u16 = 3;
/// `NLMSG_OVERRUN`.
const NLMSG_OVERRUN: u16 = 4;

pub(crate) const NLM_F_REQUEST: u16 = 0x1;
pub(crate) const NLM_F_ACK: u16 = 0x4;
/// A dump was interrupted by a concurrent change: the caller must retry.
const NLM_F_DUMP_INTR: u16 = 0x10;
/// On an error message: extended-ack attributes follow.
const NLM_F_ACK_TLVS: u16 = 0x200;
/// On an error message: the echoed request was capped to its header.
const NLM_F_CAPPED: u16 = 0x100;
pub(crate) const NLM_F_DUMP: u16 = 0x300;
pub(crate) const NLM_F_CREATE: u16 = 0x400;

/// Attribute type flag: the payload is a list of attributes.
pub(crate) const NLA_F_NESTED: u16 = 0x8000;
/// Attribute type flag: the payload is in network byte order.
pub(crate) const NLA_F_NET_BYTEORDER: u16 = 0x4000;
const NLA_TYPE_MASK: u16 = !(NLA_F_NESTED | NLA_F_NET_BYTEORDER);

/// `NLMSGERR_ATTR_MSG`: extended-ack text.
const NLMSGERR_ATTR_MSG: u16 = 1;

/// `NFNL_MSG_BATCH_BEGIN` / `NFNL_MSG_BATCH_END` (nfnetlink transactions).
pub(crate) const NFNL_MSG_BATCH_BEGIN: u16 = 0x10;
pub(crate) const NFNL_MSG_BATCH_END: u16 = 0x11;

const NLMSG_HDR_LEN: usize = 16;
const NFGENMSG_LEN: usize = 4;
const NLA_HDR_LEN: usize = 4;

/// How long one receive may wait for the kernel. Netfilter requests are
/// processed synchronously inside `sendmsg`, so replies are normally queued
/// before we even start reading; this only bounds pathological cases.
pub(crate) const RECV_TIMEOUT: Duration = Duration::from_secs(5);
/// Receive buffer: dump chunks are at most 32 KiB, acks are tiny.
const RECV_BUF_LEN: usize = 128 * 1024;
/// Kernel socket receive queue (room for many error replies of one batch).
const SOCKET_RCVBUF: usize = 8 * 1024 * 1024;

/// Round `n` up to the 4-byte netlink alignment.
fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// A failure below the backend layer, mapped to [`super::BackendError`] by
/// the caller, which knows the set, table and addresses involved.
#[derive(Debug, thiserror::Error)]
pub(crate) enum NlError {
    /// A socket call failed.
    #[error("netlink {op} failed: {source}")]
    Io {
        op: &'static str,
        #[source]
        source: io::Error,
    },
    /// The kernel replied with something we cannot parse.
    #[error("malformed netlink reply: {0}")]
    Malformed(String),
    /// A request could not be encoded (an attribute over 64 KiB).
    #[error("cannot encode netlink request: {0}")]
    Encode(String),
}

/// One error reply from the kernel, tied to the request's sequence number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KernelError {
    /// Sequence number of the request that failed.
    pub seq: u32,
    /// Positive errno (or ipset private code >= 4096).
    pub code: i32,
    /// Extended-ack text, if the kernel sent one.
    pub text: Option<String>,
}

/// Builder for a buffer holding one or more netlink messages.
#[derive(Debug, Default)]
pub(crate) struct MsgBuf {
    buf: Vec<u8>,
    /// Start of the message being built.
    msg_start: Option<usize>,
    /// Open nested attributes (their start offsets).
    nests: Vec<usize>,
}

impl MsgBuf {
    pub(crate) fn new() -> MsgBuf {
        MsgBuf::default()
    }

    /// Bytes built so far.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.buf
    }

    pub(crate) fn len(&self) -> usize {
        self.buf.len()
    }

    /// Start a message with an `nfgenmsg` header. Ends the previous message.
    pub(crate) fn begin(&mut self, ty: u16, flags: u16, seq: u32, family: u8, res_id: u16) {
        self.end();
        let start = self.buf.len();
        self.buf.extend_from_slice(&0u32.to_ne_bytes()); // length, patched by end()
        self.buf.extend_from_slice(&ty.to_ne_bytes());
        self.buf.extend_from_slice(&flags.to_ne_bytes());
        self.buf.extend_from_slice(&seq.to_ne_bytes());
        self.buf.extend_from_slice(&0u32.to_ne_bytes()); // port id: kernel fills
        self.buf.push(family);
        self.buf.push(0); // NFNETLINK_V0
        self.buf.extend_from_slice(&res_id.to_be_bytes());
        self.msg_start = Some(start);
    }

    /// Finish the current message (patches its length). Idempotent.
    pub(crate) fn end(&mut self) {
        if let Some(start) = self.msg_start.take() {
            let len = (self.buf.len() - start) as u32;
            if let Some(dst) = self.buf.get_mut(start..start + 4) {
                dst.copy_from_slice(&len.to_ne_bytes());
            }
        }
    }

    /// Overwrite the flags of the message starting at `msg_offset`.
    pub(crate) fn set_flags(&mut self, msg_offset: usize, flags: u16) {
        if let Some(dst) = self.buf.get_mut(msg_offset + 6..msg_offset + 8) {
            dst.copy_from_slice(&flags.to_ne_bytes());
        }
    }

    /// Append an attribute with the given raw payload.
    pub(crate) fn attr(&mut self, ty: u16, data: &[u8]) -> Result<(), NlError> {
        let len = u16::try_from(NLA_HDR_LEN + data.len())
            .map_err(|_| NlError::Encode(format!("attribute {ty} of {} bytes", data.len())))?;
        self.buf.extend_from_slice(&len.to_ne_bytes());
        self.buf.extend_from_slice(&ty.to_ne_bytes());
        self.buf.extend_from_slice(data);
        self.buf.resize(align4(self.buf.len()), 0);
        Ok(())
    }

    pub(crate) fn attr_u8(&mut self, ty: u16, v: u8) -> Result<(), NlError> {
        self.attr(ty, &[v])
    }

    pub(crate) fn attr_u32_be(&mut self, ty: u16, v: u32) -> Result<(), NlError> {
        self.attr(ty, &v.to_be_bytes())
    }

    pub(crate) fn attr_u64_be(&mut self, ty: u16, v: u64) -> Result<(), NlError> {
        self.attr(ty, &v.to_be_bytes())
    }

    /// NUL-terminated string attribute.
    pub(crate) fn attr_strz(&mut self, ty: u16, s: &str) -> Result<(), NlError> {
        let mut v = Vec::with_capacity(s.len() + 1);
        v.extend_from_slice(s.as_bytes());
        v.push(0);
        self.attr(ty, &v)
    }

    /// Open a nested attribute (`NLA_F_NESTED` is added).
    pub(crate) fn nest_start(&mut self, ty: u16) {
        self.nests.push(self.buf.len());
        self.buf.extend_from_slice(&0u16.to_ne_bytes());
        self.buf
            .extend_from_slice(&(ty | NLA_F_NESTED).to_ne_bytes());
    }

    /// Close the innermost nested attribute.
    pub(crate) fn nest_end(&mut self) -> Result<(), NlError> {
        let start = self
            .nests
            .pop()
            .ok_or_else(|| NlError::Encode("nest_end without nest_start".into()))?;
        let len = u16::try_from(self.buf.len() - start).map_err(|_| {
            NlError::Encode(format!(
                "nested attribute of {} bytes exceeds 65535",
                self.buf.len() - start
            ))
        })?;
        if let Some(dst) = self.buf.get_mut(start..start + 2) {
            dst.copy_from_slice(&len.to_ne_bytes());
        }
        Ok(())
    }

    /// Size of the currently open nest (0 if none); used to split long lists.
    pub(crate) fn open_nest_len(&self) -> usize {
        self.nests.last().map_or(0, |s| self.buf.len() - s)
    }
}

/// One received netlink message (header fields plus the bytes after the
/// `nlmsghdr`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct NlMsg<'a> {
    pub ty: u16,
    pub flags: u16,
    pub seq: u32,
    pub payload: &'a [u8],
}

impl<'a> NlMsg<'a> {
    /// Attributes after the 4-byte `nfgenmsg` header.
    pub(crate) fn nf_attrs(&self) -> AttrIter<'a> {
        AttrIter::new(self.payload.get(NFGENMSG_LEN..).unwrap_or(&[]))
    }
}

/// Iterate over the messages in a received datagram.
pub(crate) fn messages(buf: &[u8]) -> impl Iterator<Item = Result<NlMsg<'_>, NlError>> {
    let mut rest = buf;
    std::iter::from_fn(move || {
        if rest.len() < NLMSG_HDR_LEN {
            return None;
        }
        let hdr = rest.get(..NLMSG_HDR_LEN)?;
        let len = u32::from_ne_bytes([hdr[0], hdr[1], hdr[2], hdr[3]]) as usize;
        let ty = u16::from_ne_bytes([hdr[4], hdr[5]]);
        let flags = u16::from_ne_bytes([hdr[6], hdr[7]]);
        let seq = u32::from_ne_bytes([hdr[8], hdr[9], hdr[10], hdr[11]]);
        let Some(payload) = rest.get(NLMSG_HDR_LEN..len.max(NLMSG_HDR_LEN)) else {
            rest = &[];
            return Some(Err(NlError::Malformed(format!(
                "message length {len} exceeds datagram"
            ))));
        };
        if len < NLMSG_HDR_LEN {
            rest = &[];
            return Some(Err(NlError::Malformed(format!("message length {len}"))));
        }
        rest = rest.get(align4(len)..).unwrap_or(&[]);
        Some(Ok(NlMsg {
            ty,
            flags,
            seq,
            payload,
        }))
    })
}

/// One attribute: type without the nested/byte-order flags, and payload.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Attr<'a> {
    pub ty: u16,
    pub data: &'a [u8],
}

impl<'a> Attr<'a> {
    pub(crate) fn nested(&self) -> AttrIter<'a> {
        AttrIter::new(self.data)
    }

    pub(crate) fn u8(&self) -> Option<u8> {
        self.data.first().copied()
    }

    pub(crate) fn u32_be(&self) -> Option<u32> {
        let b: [u8; 4] = self.data.get(..4)?.try_into().ok()?;
        Some(u32::from_be_bytes(b))
    }

    pub(crate) fn u64_be(&self) -> Option<u64> {
        let b: [u8; 8] = self.data.get(..8)?.try_into().ok()?;
        Some(u64::from_be_bytes(b))
    }

    /// String without the trailing NUL(s); lossy on bad UTF-8.
    pub(crate) fn string(&self) -> String {
        let end = self
            .data
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(self.data.len());
        String::from_utf8_lossy(self.data.get(..end).unwrap_or(&[])).into_owned()
    }
}

/// Iterator over a run of attributes; stops (without panicking) at the first
/// malformed length.
#[derive(Debug, Clone)]
pub(crate) struct AttrIter<'a> {
    rest: &'a [u8],
}

impl<'a> AttrIter<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> AttrIter<'a> {
        AttrIter { rest: buf }
    }

    /// First attribute of the given type.
    pub(crate) fn find_type(mut self, ty: u16) -> Option<Attr<'a>> {
        Iterator::find(&mut self, |a| a.ty == ty)
    }
}

impl<'a> Iterator for AttrIter<'a> {
    type Item = Attr<'a>;

    fn next(&mut self) -> Option<Attr<'a>> {
        let hdr = self.rest.get(..NLA_HDR_LEN)?;
        let len = u16::from_ne_bytes([hdr[0], hdr[1]]) as usize;
        let ty = u16::from_ne_bytes([hdr[2], hdr[3]]) & NLA_TYPE_MASK;
        if len < NLA_HDR_LEN {
            self.rest = &[];
            return None;
        }
        let Some(data) = self.rest.get(NLA_HDR_LEN..len) else {
            self.rest = &[];
            return None;
        };
        self.rest = self.rest.get(align4(len)..).unwrap_or(&[]);
        Some(Attr { ty, data })
    }
}

/// Parse the body of an `NLMSG_ERROR` message: `(code, ext-ack text)`, code
/// positive (0 = acknowledgement).
pub(super) fn parse_error(msg: &NlMsg<'_>) -> Result<(i32, Option<String>), NlError> {
    let code_bytes: [u8; 4] = msg
        .payload
        .get(..4)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| NlError::Malformed("short NLMSG_ERROR".into()))?;
    let code = i32::from_ne_bytes(code_bytes).saturating_neg();
    let mut text = None;
    if msg.flags & NLM_F_ACK_TLVS != 0 {
        // After the code comes the echoed request: header only when capped.
        let echoed = if msg.flags & NLM_F_CAPPED != 0 {
            NLMSG_HDR_LEN
        } else {
            msg.payload
                .get(4..8)
                .and_then(|b| b.try_into().ok())
                .map(|b: [u8; 4]| u32::from_ne_bytes(b) as usize)
                .unwrap_or(NLMSG_HDR_LEN)
        };
        if let Some(tlvs) = msg.payload.get(4 + align4(echoed)..) {
            text = AttrIter::new(tlvs)
                .find_type(NLMSGERR_ATTR_MSG)
                .map(|a| a.string())
                .filter(|s| !s.is_empty());
        }
    }
    Ok((code, text))
}

/// A bound `NETLINK_NETFILTER` socket with its own sequence counter.
pub(crate) struct NfSocket {
    sock: Socket,
    seq: u32,
    buf: Vec<u8>,
}

impl std::fmt::Debug for NfSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NfSocket").field("seq", &self.seq).finish()
    }
}

impl NfSocket {
    /// Open and bind a netfilter netlink socket.
    pub(crate) fn open() -> Result<NfSocket, NlError> {
        let io = |op| move |source| NlError::Io { op, source };
        let mut sock = Socket::new(NETLINK_NETFILTER).map_err(io("socket"))?;
        sock.bind_auto().map_err(io("bind"))?;
        sock.set_cap_ack(true)
            .map_err(io("setsockopt NETLINK_CAP_ACK"))?;
        // Extended acks are a nicety: older kernels may refuse the option.
        let _ = sock.set_ext_ack(true);
        sockopt::set_rcvbuf(&sock, SOCKET_RCVBUF).map_err(io("setsockopt SO_RCVBUF"))?;
        sockopt::set_rcvtimeo(&sock, RECV_TIMEOUT).map_err(io("setsockopt SO_RCVTIMEO"))?;
        // Start from a time-derived sequence so replies to a previous
        // process's socket can never be mistaken for ours.
        let seq = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as u32)
            .unwrap_or(1);
        Ok(NfSocket {
            sock,
            seq,
            buf: Vec::with_capacity(RECV_BUF_LEN),
        })
    }

    /// Next sequence number.
    pub(crate) fn next_seq(&mut self) -> u32 {
        self.seq = self.seq.wrapping_add(1);
        self.seq
    }

    /// Send one buffer of messages in a single `sendmsg`, growing the send
    /// buffer first if the request is larger than the default.
    pub(crate) fn send(&mut self, bytes: &[u8]) -> Result<(), NlError> {
        if bytes.len() > 64 * 1024 {
            sockopt::set_sndbuf(&self.sock, bytes.len() + 64 * 1024).map_err(|source| {
                NlError::Io {
                    op: "setsockopt SO_SNDBUF",
                    source,
                }
            })?;
        }
        let sent = self
            .sock
            .send(bytes, 0)
            .map_err(|source| NlError::Io { op: "send", source })?;
        if sent != bytes.len() {
            return Err(NlError::Malformed(format!(
                "short send: {sent} of {} bytes",
                bytes.len()
            )));
        }
        Ok(())
    }

    /// Receive one datagram into the internal buffer; returns its length.
    fn recv(&mut self) -> Result<usize, NlError> {
        self.buf.clear();
        if self.buf.capacity() < RECV_BUF_LEN {
            self.buf.reserve(RECV_BUF_LEN);
        }
        let cap = self.buf.capacity();
        let n = self
            .sock
            .recv(&mut self.buf, libc::MSG_TRUNC)
            .map_err(|source| NlError::Io { op: "recv", source })?;
        if n > cap {
            return Err(NlError::Malformed(format!(
                "reply of {n} bytes truncated to {cap}"
            )));
        }
        Ok(n)
    }

    /// Wait for the acknowledgement of every sequence number in `expected`
    /// (requests sent with `NLM_F_ACK`) and return the errors among them, and
    /// any error for other sequence numbers `>= first_seq` (requests sent
    /// without `NLM_F_ACK` are reported only when they fail). `on_msg`
    /// receives every non-error message of ours (replies to GET requests).
    /// An error for `abort_on` (a batch header: the kernel gave up on the
    /// whole batch, e.g. out of memory) ends the wait early.
    pub(crate) fn collect_acks(
        &mut self,
        first_seq: u32,
        expected: &[u32],
        abort_on: Option<u32>,
        mut on_msg: impl FnMut(&NlMsg<'_>),
    ) -> Result<Vec<KernelError>, NlError> {
        let mut pending: std::collections::HashSet<u32> = expected.iter().copied().collect();
        let last = self.seq;
        let ours = |seq: u32| seq.wrapping_sub(first_seq) <= last.wrapping_sub(first_seq);
        let mut errors = Vec::new();
        while !pending.is_empty() {
            let n = self.recv()?;
            let buf = self.buf.get(..n).unwrap_or(&[]);
            for msg in messages(buf) {
                let msg = msg?;
                if !ours(msg.seq) {
                    continue; // stale reply to an earlier, abandoned request
                }
                match msg.ty {
                    NLMSG_ERROR => {
                        let (code, text) = parse_error(&msg)?;
                        pending.remove(&msg.seq);
                        if code != 0 {
                            if abort_on == Some(msg.seq) {
                                pending.clear();
                            }
                            errors.push(KernelError {
                                seq: msg.seq,
                                code,
                                text,
                            });
                        }
                    }
                    NLMSG_NOOP | NLMSG_DONE | NLMSG_OVERRUN => {}
                    _ => on_msg(&msg),
                }
            }
        }
        Ok(errors)
    }

    /// Send a dump request (built with `NLM_F_DUMP`, sequence `seq`) and feed
    /// every reply message to `on_msg`. Returns `Ok(Err(e))` when the kernel
    /// refused the dump, and `Ok(Ok(true))` when the dump was interrupted by
    /// a concurrent change (the caller should retry).
    pub(crate) fn dump(
        &mut self,
        req: &[u8],
        seq: u32,
        mut on_msg: impl FnMut(&NlMsg<'_>) -> Result<(), NlError>,
    ) -> Result<Result<bool, KernelError>, NlError> {
        self.send(req)?;
        let mut interrupted = false;
        loop {
            let n = self.recv()?;
            let buf = self.buf.get(..n).unwrap_or(&[]);
            for msg in messages(buf) {
                let msg = msg?;
                if msg.seq != seq {
                    continue;
                }
                if msg.flags & NLM_F_DUMP_INTR != 0 {
                    interrupted = true;
                }
                match msg.ty {
                    NLMSG_DONE => return Ok(Ok(interrupted)),
                    NLMSG_ERROR => {
                        let (code, text) = parse_error(&msg)?;
                        if code == 0 {
                            return Ok(Ok(interrupted));
                        }
                        return Ok(Err(KernelError { seq, code, text }));
                    }
                    NLMSG_NOOP | NLMSG_OVERRUN => {}
                    _ => on_msg(&msg)?,
                }
            }
        }
    }
}

/// The only `unsafe` code of the backends: socket options that `netlink-sys`
/// 0.9 does not wrap (`SO_SNDBUFFORCE`, `SO_RCVBUFFORCE`, `SO_RCVTIMEO`).
#[allow(unsafe_code)]
mod sockopt {
    use std::io;
    use std::os::fd::AsRawFd;
    use std::time::Duration;

    use netlink_sys::Socket;

    fn setsockopt<T>(sock: &Socket, name: libc::c_int, value: &T) -> io::Result<()> {
        let len = std::mem::size_of::<T>() as libc::socklen_t;
        // SAFETY: the fd is owned by `sock` and open for its lifetime;
        // `value` points to a live, initialised `T` of exactly `len` bytes,
        // which the kernel only reads during the call.
        let rc = unsafe {
            libc::setsockopt(
                sock.as_raw_fd(),
                libc::SOL_SOCKET,
                name,
                (value as *const T).cast::<libc::c_void>(),
                len,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Set a buffer size, beyond `wmem_max`/`rmem_max` when we have
    /// CAP_NET_ADMIN (`*FORCE`), else as far as the sysctl allows.
    fn set_buf(
        sock: &Socket,
        force: libc::c_int,
        plain: libc::c_int,
        size: usize,
    ) -> io::Result<()> {
        let v = libc::c_int::try_from(size).unwrap_or(libc::c_int::MAX);
        setsockopt(sock, force, &v).or_else(|_| setsockopt(sock, plain, &v))
    }

    pub(super) fn set_sndbuf(sock: &Socket, size: usize) -> io::Result<()> {
        set_buf(sock, libc::SO_SNDBUFFORCE, libc::SO_SNDBUF, size)
    }

    pub(super) fn set_rcvbuf(sock: &Socket, size: usize) -> io::Result<()> {
        set_buf(sock, libc::SO_RCVBUFFORCE, libc::SO_RCVBUF, size)
    }

    pub(super) fn set_rcvtimeo(sock: &Socket, d: Duration) -> io::Result<()> {
        let tv = libc::timeval {
            tv_sec: d.as_secs() as libc::time_t,
            tv_usec: d.subsec_micros() as libc::suseconds_t,
        };
        setsockopt(sock, libc::SO_RCVTIMEO, &tv)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_message_with_nested_attrs_and_patched_lengths() {
        let mut b = MsgBuf::new();
        b.begin(0x0a0c, NLM_F_REQUEST | NLM_F_ACK, 7, 1, 0);
        b.attr_strz(1, "filter").unwrap();
        b.nest_start(3);
        b.attr_u64_be(4, 3_600_000).unwrap();
        b.nest_end().unwrap();
        b.end();
        let bytes = b.as_bytes().to_vec();
        let msgs: Vec<_> = messages(&bytes).collect::<Result<_, _>>().unwrap();
        assert_eq!(msgs.len(), 1);
        let m = msgs[0];
        assert_eq!((m.ty, m.seq), (0x0a0c, 7));
        assert_eq!(bytes.len() % 4, 0);
        let attrs: Vec<_> = m.nf_attrs().collect();
        assert_eq!(attrs.len(), 2);
        assert_eq!(attrs[0].string(), "filter");
        assert_eq!(attrs[1].ty, 3, "nested flag is masked off");
        let inner = attrs[1].nested().find_type(4).unwrap();
        assert_eq!(inner.u64_be(), Some(3_600_000));
    }

    #[test]
    fn oversized_attribute_is_an_error_not_a_panic() {
        let mut b = MsgBuf::new();
        b.begin(1, 0, 1, 0, 0);
        assert!(b.attr(1, &vec![0u8; 70_000]).is_err());
        b.nest_start(2);
        b.attr(1, &vec![0u8; 40_000]).unwrap();
        b.attr(1, &vec![0u8; 40_000]).unwrap();
        assert!(b.nest_end().is_err());
        assert!(b.nest_end().is_err(), "unbalanced nest_end");
    }

    #[test]
    fn parsers_survive_truncated_and_lying_input() {
        let mut b = MsgBuf::new();
        b.begin(2, NLM_F_ACK_TLVS | NLM_F_CAPPED, 9, 0, 0);
        b.end();
        let good = b.as_bytes().to_vec();
        for cut in 0..good.len() {
            for m in messages(&good[..cut]) {
                let _ = m.map(|m| parse_error(&m));
            }
        }
        // A message claiming to be longer than the datagram.
        let mut lie = good.clone();
        lie[0] = 200;
        assert!(messages(&lie).next().unwrap().is_err());
        // An attribute claiming 0 length stops iteration.
        assert_eq!(AttrIter::new(&[0, 0, 1, 0, 9, 9, 9, 9]).count(), 0);
        assert_eq!(AttrIter::new(&[8, 0, 1, 0, 9]).count(), 0);
    }

    #[test]
    fn parses_error_code_and_ext_ack_text() {
        // error -2, echoed header (capped), then NLMSGERR_ATTR_MSG "boom".
        let mut payload = Vec::new();
        payload.extend_from_slice(&(-2i32).to_ne_bytes());
        payload.extend_from_slice(&[0u8; 16]);
        payload.extend_from_slice(&9u16.to_ne_bytes());
        payload.extend_from_slice(&1u16.to_ne_bytes());
        payload.extend_from_slice(b"boom\0\0\0\0");
        let msg = NlMsg {
            ty: NLMSG_ERROR,
            flags: NLM_F_ACK_TLVS | NLM_F_CAPPED,
            seq: 1,
            payload: &payload,
        };
        assert_eq!(parse_error(&msg).unwrap(), (2, Some("boom".to_string())));
    }
}
