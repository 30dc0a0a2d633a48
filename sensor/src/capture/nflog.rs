//! NFLOG: packet copies (IDS) from an nfnetlink_log group.
//!
//! The few nfnetlink_log messages are written and parsed here by hand on a
//! raw `NETLINK_NETFILTER` socket ([`crate::sys::NetlinkSocket`]) rather
//! than through `netlink-packet-netfilter`: that crate copies every payload
//! into a fresh `Vec` (an allocation per packet on the hot path), while we
//! need only five config attributes and four packet attributes, parsed in
//! place from one reused receive buffer with bounds-checked `get()`.
//!
//! Setup: `NFULNL_CFG_CMD_BIND` for the group (family AF_UNSPEC), then one
//! config message with copy mode/range, NLBUFSIZ, TIMEOUT, QTHRESH and
//! `NFULNL_CFG_F_SEQ`. We do not send `NFULNL_CFG_CMD_PF_BIND`: since Linux
//! 3.17 the NFLOG target reaches nfnetlink_log without it, and PF_BIND would
//! make nfnetlink_log the namespace's default logger for that family (a side
//! effect on unrelated logging).
//!
//! Loss accounting: with F_SEQ every message carries the instance's
//! sequence number (starting at 0 at bind), so every gap is a packet the
//! kernel could not deliver; gaps go to `kernel_lost`. The socket has
//! `NETLINK_NO_ENOBUFS` on (an overrun does not flag the socket congested,
//! which measurably loses fewer packets); an `ENOBUFS` that still arrives
//! is counted in `errors` with a rate-limited warning and never stops the
//! loop.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tracing::{debug, info, warn};

use super::ratelimit::RateLimit;
use super::{
    CaptureError, NflogConfig, PacketHandler, MAX_CONSECUTIVE_ERRORS, RECV_TIMEOUT, TICK_INTERVAL,
};
use crate::counters::{add, inc, SourceCounters};
use crate::packet::{CapturedPacket, Source, Timestamp};
use crate::sys::{self, NetlinkSocket};

// linux/netlink.h
const NLMSG_HDRLEN: usize = 16;
const NLMSG_ERROR: u16 = 2;
const NLM_F_REQUEST: u16 = 1;
const NLM_F_ACK: u16 = 4;
const NLA_HDRLEN: usize = 4;
const NLA_TYPE_MASK: u16 = 0x3fff;
// linux/netfilter/nfnetlink.h
const NFGEN_HDRLEN: usize = 4;
const NFNL_SUBSYS_ULOG: u16 = 4;
// linux/netfilter/nfnetlink_log.h
const NFULNL_MSG_PACKET: u16 = 0;
const NFULNL_MSG_CONFIG: u16 = 1;
const NFULA_TIMESTAMP: u16 = 3;
const NFULA_PAYLOAD: u16 = 9;
const NFULA_SEQ: u16 = 12;
const NFULA_CFG_CMD: u16 = 1;
const NFULA_CFG_MODE: u16 = 2;
const NFULA_CFG_NLBUFSIZ: u16 = 3;
const NFULA_CFG_TIMEOUT: u16 = 4;
const NFULA_CFG_QTHRESH: u16 = 5;
const NFULA_CFG_FLAGS: u16 = 6;
const NFULNL_CFG_CMD_BIND: u8 = 1;
const NFULNL_COPY_PACKET: u8 = 2;
const NFULNL_CFG_F_SEQ: u16 = 1;

/// How many receive timeouts a config request waits for its ACK.
const ACK_WAIT_TIMEOUTS: u32 = 20;

/// An open, fully configured NFLOG group.
pub struct Nflog {
    sock: NetlinkSocket,
    group: u16,
    buf: Vec<u8>,
    /// The sequence number the next message should carry.
    next_seq: u32,
    /// How long after `stop` the kernel may still hold a batch.
    flush_wait: Duration,
}

/// What one datagram contained.
#[derive(Debug, Default, PartialEq, Eq)]
struct DatagramStats {
    packets: u64,
    lost: u64,
    malformed: u64,
}

impl Nflog {
    /// Opens the socket, sizes its buffer, binds `group` and applies `cfg`
    /// before returning.
    pub fn open(group: u16, cfg: &NflogConfig) -> Result<Nflog, CaptureError> {
        let err = |step: &'static str| {
            move |source: io::Error| CaptureError::NflogOpen {
                group,
                step,
                source,
            }
        };
        let sock = NetlinkSocket::open_netfilter().map_err(err("open a netlink socket for"))?;
        let got =
            sys::set_rcvbuf_force(&sock, cfg.rcvbuf).map_err(err("size the socket buffer of"))?;
        if got < cfg.rcvbuf {
            warn!(
                group,
                requested = cfg.rcvbuf,
                got,
                "NFLOG socket buffer is smaller than configured (no CAP_NET_ADMIN?); expect losses under load"
            );
        }
        sys::set_recv_timeout(&sock, RECV_TIMEOUT).map_err(err("set the receive timeout of"))?;
        sys::set_netlink_no_enobufs(&sock, true).map_err(err("set NETLINK_NO_ENOBUFS on"))?;
        let nlbufsiz = cfg.nlbufsiz.max(4096) as usize;
        let mut nflog = Nflog {
            sock,
            group,
            // Room for a full batch, or for one 64 KiB packet that the kernel
            // puts in a larger-than-nlbufsiz message.
            buf: vec![0; nlbufsiz.max(131_072) + 131_072],
            next_seq: 0,
            flush_wait: Duration::from_millis(u64::from(cfg.timeout_cs.min(100)) * 10),
        };
        let bind = config_msg(
            group,
            1,
            &[Attr::U8s(NFULA_CFG_CMD, &[NFULNL_CFG_CMD_BIND])],
        );
        nflog.request(&bind).map_err(err("bind"))?;
        let mut mode = [0u8; 6];
        mode[..4].copy_from_slice(&cfg.copy_range.to_be_bytes());
        mode[4] = NFULNL_COPY_PACKET;
        let config = config_msg(
            group,
            2,
            &[
                Attr::U8s(NFULA_CFG_MODE, &mode),
                Attr::Be32(NFULA_CFG_NLBUFSIZ, cfg.nlbufsiz),
                Attr::Be32(NFULA_CFG_TIMEOUT, cfg.timeout_cs),
                Attr::Be32(NFULA_CFG_QTHRESH, cfg.qthresh),
                Attr::Be16(NFULA_CFG_FLAGS, NFULNL_CFG_F_SEQ),
            ],
        );
        nflog.request(&config).map_err(err("configure"))?;
        info!(
            group,
            rcvbuf = got,
            copy_range = cfg.copy_range,
            qthresh = cfg.qthresh,
            timeout_cs = cfg.timeout_cs,
            nlbufsiz = cfg.nlbufsiz,
            "NFLOG bound"
        );
        Ok(nflog)
    }

    /// The group number.
    pub fn group(&self) -> u16 {
        self.group
    }

    /// Sends one config request and waits for its ACK. Packet messages that
    /// arrive meanwhile carry no sequence number yet (F_SEQ is the last
    /// thing configured) and are skipped.
    fn request(&mut self, msg: &[u8]) -> io::Result<()> {
        let seq = msg
            .get(8..12)
            .and_then(|b| b.try_into().ok())
            .map(u32::from_ne_bytes)
            .unwrap_or(0);
        self.sock.send(msg)?;
        let mut timeouts = 0;
        loop {
            let got = match self.sock.recv(&mut self.buf, false) {
                Ok(r) => r,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock && timeouts < ACK_WAIT_TIMEOUTS => {
                    timeouts += 1;
                    continue;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "no answer from the kernel",
                    ));
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            let data = self.buf.get(..got.len).unwrap_or(&[]);
            if let Some(result) = find_ack(data, seq) {
                return result;
            }
        }
    }

    /// Receives and hands over packets until `stop` is set, then reads what
    /// the kernel still delivers within its batch timeout and returns.
    /// Calls `handler.tick` every ~250 ms and once at the end. The verdict
    /// the handler returns is ignored (these are copies).
    pub fn run(
        &mut self,
        handler: &mut dyn PacketHandler,
        stop: &AtomicBool,
        counters: &SourceCounters,
    ) -> Result<(), CaptureError> {
        let mut nonblocking = false;
        let mut drain_until: Option<Instant> = None;
        let mut last_tick = Instant::now();
        let mut consecutive_errors = 0u32;
        let mut enobufs_limit = RateLimit::new(Duration::from_secs(10));
        let mut error_limit = RateLimit::new(Duration::from_secs(10));
        let mut gap_limit = RateLimit::new(Duration::from_secs(10));
        loop {
            if drain_until.is_none() && stop.load(Ordering::Relaxed) {
                debug!(group = self.group, "stop requested: draining NFLOG socket");
                drain_until = Some(Instant::now() + self.flush_wait);
            }
            match self.sock.recv(&mut self.buf, nonblocking) {
                Ok(got) => {
                    consecutive_errors = 0;
                    nonblocking = true;
                    if got.truncated {
                        inc(&counters.errors);
                        if let Some(suppressed) = error_limit.allow(Instant::now()) {
                            warn!(
                                group = self.group,
                                size = self.buf.len(),
                                suppressed,
                                "NFLOG datagram larger than the receive buffer; its tail is lost"
                            );
                        }
                    }
                    let data = self.buf.get(..got.len).unwrap_or(&[]);
                    let st = parse_datagram(data, self.group, &mut self.next_seq, |pkt| {
                        add(&counters.bytes, pkt.data.len() as u64);
                        inc(&counters.packets);
                        // Copies: the verdict is ignored.
                        let _ = handler.handle(pkt);
                    });
                    if st.lost > 0 {
                        add(&counters.kernel_lost, st.lost);
                        if let Some(suppressed) = gap_limit.allow(Instant::now()) {
                            warn!(
                                group = self.group,
                                lost = st.lost,
                                suppressed,
                                "NFLOG sequence gap: the kernel dropped packets (raise rcvbuf?)"
                            );
                        }
                    }
                    if st.malformed > 0 {
                        add(&counters.errors, st.malformed);
                        if let Some(suppressed) = error_limit.allow(Instant::now()) {
                            warn!(
                                group = self.group,
                                suppressed, "malformed NFLOG message skipped"
                            );
                        }
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    nonblocking = false;
                    if drain_until.is_some_and(|t| Instant::now() >= t) {
                        handler.tick(Timestamp::now());
                        return Ok(());
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                    inc(&counters.errors);
                    if let Some(suppressed) = enobufs_limit.allow(Instant::now()) {
                        warn!(
                            group = self.group,
                            suppressed,
                            "NFLOG socket overrun (ENOBUFS); losses are counted from sequence gaps"
                        );
                    }
                }
                Err(e) => {
                    inc(&counters.errors);
                    consecutive_errors += 1;
                    if let Some(suppressed) = error_limit.allow(Instant::now()) {
                        warn!(group = self.group, error = %e, suppressed, "NFLOG receive error");
                    }
                    if consecutive_errors >= MAX_CONSECUTIVE_ERRORS {
                        return Err(CaptureError::Receive {
                            source_label: Source::Nflog(self.group).to_string(),
                            count: consecutive_errors,
                            last: e,
                        });
                    }
                }
            }
            if last_tick.elapsed() >= TICK_INTERVAL {
                handler.tick(Timestamp::now());
                last_tick = Instant::now();
            }
        }
    }
}

/// A config attribute to encode.
enum Attr<'a> {
    U8s(u16, &'a [u8]),
    Be32(u16, u32),
    Be16(u16, u16),
}

/// Builds an `NFULNL_MSG_CONFIG` request (with ACK) for `group`.
fn config_msg(group: u16, seq: u32, attrs: &[Attr<'_>]) -> Vec<u8> {
    let mut m = Vec::with_capacity(64);
    m.extend_from_slice(&0u32.to_ne_bytes()); // length, patched below
    m.extend_from_slice(&((NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_CONFIG).to_ne_bytes());
    m.extend_from_slice(&(NLM_F_REQUEST | NLM_F_ACK).to_ne_bytes());
    m.extend_from_slice(&seq.to_ne_bytes());
    m.extend_from_slice(&0u32.to_ne_bytes()); // port id: the kernel fills it in
    m.push(libc::AF_UNSPEC as u8);
    m.push(0); // NFNETLINK_V0
    m.extend_from_slice(&group.to_be_bytes());
    for a in attrs {
        let (ty, payload): (u16, Vec<u8>) = match a {
            Attr::U8s(t, b) => (*t, b.to_vec()),
            Attr::Be32(t, v) => (*t, v.to_be_bytes().to_vec()),
            Attr::Be16(t, v) => (*t, v.to_be_bytes().to_vec()),
        };
        m.extend_from_slice(&((NLA_HDRLEN + payload.len()) as u16).to_ne_bytes());
        m.extend_from_slice(&ty.to_ne_bytes());
        m.extend_from_slice(&payload);
        while m.len() & 3 != 0 {
            m.push(0);
        }
    }
    let len = (m.len() as u32).to_ne_bytes();
    m[..4].copy_from_slice(&len);
    m
}

fn ne_u16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn ne_u32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn be_u32(b: &[u8]) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(..4)?.try_into().ok()?))
}

fn be_u64(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_be_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

/// Splits a datagram into netlink messages: `(type, whole message)`. Stops
/// at the first malformed header.
fn messages(mut data: &[u8]) -> impl Iterator<Item = Result<(u16, &[u8]), ()>> {
    std::iter::from_fn(move || {
        if data.len() < NLMSG_HDRLEN {
            return None;
        }
        let len = ne_u32(data, 0)? as usize;
        let ty = ne_u16(data, 4)?;
        if len < NLMSG_HDRLEN || len > data.len() {
            data = &[];
            return Some(Err(()));
        }
        let msg = data.get(..len)?;
        data = data.get((len + 3) & !3..).unwrap_or(&[]);
        Some(Ok((ty, msg)))
    })
}

/// The ACK (or error) answering request `seq`, if `data` holds it.
fn find_ack(data: &[u8], seq: u32) -> Option<io::Result<()>> {
    for m in messages(data) {
        let Ok((ty, msg)) = m else { break };
        if ty == NLMSG_ERROR && ne_u32(msg, 8) == Some(seq) {
            let errno = ne_u32(msg, NLMSG_HDRLEN)
                .map(|e| e as i32)
                .unwrap_or(-libc::EPROTO);
            return Some(if errno == 0 {
                Ok(())
            } else {
                Err(io::Error::from_raw_os_error(errno.saturating_abs()))
            });
        }
    }
    None
}

/// Iterates over the attributes of one nfnetlink message body: `(type,
/// payload)`. Stops at a malformed attribute and sets `malformed`.
struct Attrs<'a> {
    body: &'a [u8],
    malformed: bool,
}

impl<'a> Iterator for Attrs<'a> {
    type Item = (u16, &'a [u8]);

    fn next(&mut self) -> Option<(u16, &'a [u8])> {
        if self.body.len() < NLA_HDRLEN {
            return None;
        }
        let len = ne_u16(self.body, 0)? as usize;
        let ty = ne_u16(self.body, 2)? & NLA_TYPE_MASK;
        if len < NLA_HDRLEN || len > self.body.len() {
            self.malformed = true;
            self.body = &[];
            return None;
        }
        let payload = self.body.get(NLA_HDRLEN..len)?;
        self.body = self.body.get((len + 3) & !3..).unwrap_or(&[]);
        Some((ty, payload))
    }
}

/// Parses every `NFULNL_MSG_PACKET` of `group` in a datagram, calling
/// `each` with the packet, and accounts sequence gaps against `next_seq`.
fn parse_datagram(
    data: &[u8],
    group: u16,
    next_seq: &mut u32,
    mut each: impl FnMut(&CapturedPacket<'_>),
) -> DatagramStats {
    let mut st = DatagramStats::default();
    let packet_type = (NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_PACKET;
    for m in messages(data) {
        let Ok((ty, msg)) = m else {
            st.malformed += 1;
            break;
        };
        if ty != packet_type {
            continue; // NLMSG_DONE ends a multi-part batch; nothing else is expected.
        }
        let Some(body) = msg.get(NLMSG_HDRLEN + NFGEN_HDRLEN..) else {
            st.malformed += 1;
            continue;
        };
        let res_id = msg
            .get(NLMSG_HDRLEN + 2..NLMSG_HDRLEN + 4)
            .and_then(|b| b.try_into().ok())
            .map(u16::from_be_bytes);
        if res_id != Some(group) {
            continue;
        }
        let mut it = Attrs {
            body,
            malformed: false,
        };
        let mut payload: &[u8] = &[];
        let mut ts = None;
        let mut seq = None;
        for (aty, val) in &mut it {
            match aty {
                NFULA_PAYLOAD => payload = val,
                NFULA_TIMESTAMP => {
                    if let (Some(s), Some(us)) = (be_u64(val, 0), be_u64(val, 8)) {
                        ts = Some(Timestamp {
                            secs: i64::try_from(s).unwrap_or(i64::MAX),
                            micros: (us % 1_000_000) as u32,
                        });
                    }
                }
                NFULA_SEQ => seq = be_u32(val),
                _ => {}
            }
        }
        if it.malformed {
            st.malformed += 1;
            continue;
        }
        if let Some(seq) = seq {
            let gap = seq.wrapping_sub(*next_seq);
            // A "negative" gap (reordering, or a rebound instance) is not a loss.
            if gap > 0 && gap < (1 << 31) {
                st.lost += u64::from(gap);
            }
            *next_seq = seq.wrapping_add(1);
        }
        st.packets += 1;
        let pkt = CapturedPacket {
            source: Source::Nflog(group),
            ts: ts.unwrap_or_else(Timestamp::now),
            data: payload,
            linktype: crate::decode::LINKTYPE_RAW,
            orig_len: u32::try_from(payload.len()).unwrap_or(u32::MAX),
            csum_unknown: true,
        };
        each(&pkt);
    }
    st
}

/// Fuzzing entry point (not an API): parses one received datagram exactly
/// as [`Nflog::run`] does, handing each packet to `each`; returns
/// `(packets, lost, malformed)`.
#[doc(hidden)]
pub fn fuzz_parse_datagram(
    data: &[u8],
    group: u16,
    next_seq: &mut u32,
    each: impl FnMut(&CapturedPacket<'_>),
) -> (u64, u64, u64) {
    let st = parse_datagram(data, group, next_seq, each);
    (st.packets, st.lost, st.malformed)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds one NFULNL_MSG_PACKET for tests.
    fn packet_msg(group: u16, seq: Option<u32>, ts: Option<(u64, u64)>, payload: &[u8]) -> Vec<u8> {
        let mut attrs: Vec<(u16, Vec<u8>)> = vec![(1, vec![0x08, 0x00, 1, 0])];
        if let Some((s, us)) = ts {
            let mut v = s.to_be_bytes().to_vec();
            v.extend_from_slice(&us.to_be_bytes());
            attrs.push((NFULA_TIMESTAMP, v));
        }
        attrs.push((10, b"pfx\0".to_vec()));
        attrs.push((NFULA_PAYLOAD, payload.to_vec()));
        if let Some(s) = seq {
            attrs.push((NFULA_SEQ, s.to_be_bytes().to_vec()));
        }
        let mut m = vec![0u8; 16];
        m[4..6].copy_from_slice(&((NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_PACKET).to_ne_bytes());
        m.extend_from_slice(&[libc::AF_INET as u8, 0]);
        m.extend_from_slice(&group.to_be_bytes());
        for (t, v) in attrs {
            m.extend_from_slice(&((4 + v.len()) as u16).to_ne_bytes());
            m.extend_from_slice(&t.to_ne_bytes());
            m.extend_from_slice(&v);
            while m.len() & 3 != 0 {
                m.push(0);
            }
        }
        let len = m.len() as u32;
        m[..4].copy_from_slice(&len.to_ne_bytes());
        m
    }

    fn done_msg() -> Vec<u8> {
        let mut m = vec![0u8; 20];
        m[..4].copy_from_slice(&20u32.to_ne_bytes());
        m[4..6].copy_from_slice(&3u16.to_ne_bytes());
        m
    }

    fn collect(
        data: &[u8],
        group: u16,
        next: &mut u32,
    ) -> (DatagramStats, Vec<(Vec<u8>, Timestamp)>) {
        let mut got = Vec::new();
        let st = parse_datagram(data, group, next, |p| {
            assert_eq!(p.source, Source::Nflog(group));
            assert!(p.csum_unknown);
            assert_eq!(p.orig_len as usize, p.data.len());
            got.push((p.data.to_vec(), p.ts));
        });
        (st, got)
    }

    #[test]
    fn multipart_datagram_yields_every_packet_in_order() {
        let mut d = packet_msg(7, Some(0), Some((1_700_000_000, 123_456)), &[0x45, 1, 2]);
        d.extend(packet_msg(7, Some(1), None, &[0x45, 9, 9, 9, 9]));
        d.extend(done_msg());
        let mut next = 0;
        let (st, got) = collect(&d, 7, &mut next);
        assert_eq!(
            st,
            DatagramStats {
                packets: 2,
                lost: 0,
                malformed: 0
            }
        );
        assert_eq!(got[0].0, vec![0x45, 1, 2]);
        assert_eq!(
            got[0].1,
            Timestamp {
                secs: 1_700_000_000,
                micros: 123_456
            }
        );
        assert_eq!(got[1].0, vec![0x45, 9, 9, 9, 9]);
        assert_eq!(next, 2);
    }

    #[test]
    fn sequence_gaps_count_as_kernel_losses() {
        let mut next = 0;
        let d = packet_msg(1, Some(5), None, b"x");
        let (st, _) = collect(&d, 1, &mut next);
        assert_eq!((st.packets, st.lost), (1, 5));
        let d = packet_msg(1, Some(6), None, b"x");
        assert_eq!(collect(&d, 1, &mut next).0.lost, 0);
        // Wrap-around is not a gap.
        let mut next = u32::MAX;
        let d = packet_msg(1, Some(u32::MAX), None, b"x");
        assert_eq!(collect(&d, 1, &mut next).0.lost, 0);
        let d = packet_msg(1, Some(0), None, b"x");
        assert_eq!(collect(&d, 1, &mut next).0.lost, 0);
        // Going backwards is not counted as a loss.
        let d = packet_msg(1, Some(0), None, b"x");
        assert_eq!(collect(&d, 1, &mut next).0.lost, 0);
    }

    #[test]
    fn other_groups_are_ignored() {
        let mut next = 0;
        let (st, got) = collect(&packet_msg(2, Some(0), None, b"x"), 1, &mut next);
        assert_eq!(st.packets, 0);
        assert!(got.is_empty());
    }

    #[test]
    fn malformed_input_never_panics() {
        let good = packet_msg(3, Some(0), Some((1, 2)), &[0x60; 40]);
        let mut next = 0;
        // Every truncation and every single-byte corruption.
        for cut in 0..good.len() {
            let _ = collect(&good[..cut], 3, &mut next);
        }
        for i in 0..good.len() {
            for v in [0u8, 1, 3, 0xff] {
                let mut bad = good.clone();
                bad[i] = v;
                let _ = collect(&bad, 3, &mut next);
            }
        }
        // A zero-length attribute is malformed, not an endless loop.
        let mut bad = good.clone();
        bad[20..22].copy_from_slice(&0u16.to_ne_bytes());
        let (st, _) = collect(&bad, 3, &mut next);
        assert_eq!((st.packets, st.malformed), (0, 1));
        // A netlink length larger than the datagram.
        let mut bad = good.clone();
        bad[..4].copy_from_slice(&9999u32.to_ne_bytes());
        assert_eq!(collect(&bad, 3, &mut next).0.malformed, 1);
    }

    #[test]
    fn config_message_layout_matches_the_kernel_abi() {
        let m = config_msg(
            0x0102,
            9,
            &[
                Attr::U8s(NFULA_CFG_MODE, &[0, 0, 0, 0, 2, 0]),
                Attr::Be16(NFULA_CFG_FLAGS, 1),
            ],
        );
        assert_eq!(m.len(), 16 + 4 + 12 + 8);
        assert_eq!(ne_u32(&m, 0), Some(m.len() as u32));
        assert_eq!(ne_u16(&m, 4), Some(0x0401));
        assert_eq!(ne_u16(&m, 6), Some(NLM_F_REQUEST | NLM_F_ACK));
        assert_eq!(ne_u32(&m, 8), Some(9));
        assert_eq!(&m[16..20], &[0, 0, 0x01, 0x02]);
        assert_eq!(ne_u16(&m, 20), Some(10)); // mode attribute: 4 + 6
        assert_eq!(ne_u16(&m, 32), Some(6)); // flags attribute: 4 + 2
        assert_eq!(&m[36..38], &[0, 1]);
    }

    #[test]
    fn acks_and_errors_are_matched_by_sequence() {
        let mut ack = vec![0u8; 36];
        ack[..4].copy_from_slice(&36u32.to_ne_bytes());
        ack[4..6].copy_from_slice(&NLMSG_ERROR.to_ne_bytes());
        ack[8..12].copy_from_slice(&4u32.to_ne_bytes());
        assert!(find_ack(&ack, 3).is_none());
        assert!(matches!(find_ack(&ack, 4), Some(Ok(()))));
        ack[16..20].copy_from_slice(&(-libc::EBUSY).to_ne_bytes());
        let e = find_ack(&ack, 4).unwrap().unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EBUSY));
    }
}
