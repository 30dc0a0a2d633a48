//! ipset backend: bans are entries of `hash:ip` sets with per-entry timeouts,
//! written over nfnetlink (`NFNL_SUBSYS_IPSET`).
//!
//! The ipset netlink protocol has no multi-command transactions. The best it
//! allows, and what this backend does, is to put every `IPSET_CMD_ADD` of a
//! call into **one buffer sent with one `sendmsg`**: the kernel processes the
//! messages one after another inside that call. Only the last message asks
//! for an acknowledgement; failing messages are reported individually (by
//! sequence number, so the error names the address), and a failure of one
//! entry does not undo the others.
//!
//! Refresh: messages are sent without `NLM_F_EXCL`, which is ipset's `-exist`:
//! adding an existing entry replaces its timeout, and deleting a missing one
//! is not an error. Timeouts are whole seconds (rounded up, at least 1 s,
//! at most 2147483 s, the kernel's cap; 0 would mean "permanent").
//!
//! `manage = true` creates `hash:ip family inet|inet6 timeout 0 maxelem
//! 1048576` (timeout support with no default expiry; room for 100k+ bans).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

use tracing::{debug, info};

use super::netlink::{
    KernelError, MsgBuf, NfSocket, NlError, NlMsg, NLA_F_NET_BYTEORDER, NLM_F_ACK, NLM_F_DUMP,
    NLM_F_REQUEST,
};
use super::{
    describe_ips, errno_text, split_entries, split_ips, Backend, BackendConfig, BackendError,
    BanEntry,
};

const NFNL_SUBSYS_IPSET: u16 = 6;
/// Protocol version we speak (the kernel accepts 6..=7 for these commands).
const IPSET_PROTOCOL: u8 = 6;

const IPSET_CMD_CREATE: u16 = 2;
const IPSET_CMD_FLUSH: u16 = 4;
const IPSET_CMD_LIST: u16 = 7;
const IPSET_CMD_ADD: u16 = 9;
const IPSET_CMD_DEL: u16 = 10;

const IPSET_ATTR_PROTOCOL: u16 = 1;
const IPSET_ATTR_SETNAME: u16 = 2;
const IPSET_ATTR_TYPENAME: u16 = 3;
const IPSET_ATTR_REVISION: u16 = 4;
const IPSET_ATTR_FAMILY: u16 = 5;
const IPSET_ATTR_FLAGS: u16 = 6;
const IPSET_ATTR_DATA: u16 = 7;
const IPSET_ATTR_ADT: u16 = 8;

/// Inside IPSET_ATTR_DATA.
const IPSET_ATTR_IP: u16 = 1;
const IPSET_ATTR_TIMEOUT: u16 = 6;
const IPSET_ATTR_MAXELEM: u16 = 19;
/// Inside IPSET_ATTR_IP.
const IPSET_ATTR_IPADDR_IPV4: u16 = 1;
const IPSET_ATTR_IPADDR_IPV6: u16 = 2;

/// `IPSET_FLAG_LIST_HEADER`: list only the set header.
const IPSET_FLAG_LIST_HEADER: u32 = 1 << 2;

const NFPROTO_IPV4: u8 = 2;
const NFPROTO_IPV6: u8 = 10;

/// `hash:ip` revision 4 (skbinfo) exists since Linux 3.19 and has timeouts.
const HASH_IP_REVISION: u8 = 4;
/// The kernel caps timeouts at (UINT_MAX >> 1) / 1000 seconds.
const MAX_TIMEOUT_SECS: u32 = 2_147_483;
const MANAGED_MAXELEM: u32 = 1 << 20;
/// IPSET_MAXNAMELEN is 32 including the NUL.
const MAX_NAME_LEN: usize = 31;

fn msg_type(cmd: u16) -> u16 {
    (NFNL_SUBSYS_IPSET << 8) | cmd
}

/// Kernel timeout for a ban duration: whole seconds rounded up, 1..=cap.
pub(crate) fn timeout_secs(d: Duration) -> u32 {
    let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    u32::try_from(secs)
        .unwrap_or(u32::MAX)
        .clamp(1, MAX_TIMEOUT_SECS)
}

/// Text for ipset's private error codes (>= 4096) or an errno.
fn ipset_reason(code: i32) -> (String, &'static str) {
    let (text, hint): (&str, &str) = match code {
        4097 => (
            "kernel-userspace protocol error",
            "; the kernel's ip_set module may be too old",
        ),
        4098 => (
            "cannot find the set type",
            "; load the ip_set_hash_ip module",
        ),
        4099 => (
            "the maximal number of sets is reached",
            "; raise ip_set max_sets",
        ),
        4100 => ("set is busy", ""),
        4102 => ("set type mismatch", "; the set must be hash:ip"),
        4103 => (
            "set exists with a different definition",
            "; destroy it or create it as hash:ip with timeout",
        ),
        4106 => (
            "address family mismatch",
            "; set_v4 must be family inet, set_v6 family inet6",
        ),
        4107 => (
            "the set was created without timeout support",
            "; recreate it with `timeout 0` (e.g. ipset create NAME hash:ip family inet timeout 0)",
        ),
        4109 | 4110 => ("invalid IP address for this set", ""),
        4352 => (
            "the set is full (maxelem reached)",
            "; recreate it with a larger maxelem",
        ),
        libc::EPERM => (
            "operation not permitted",
            "; run meerkat-dom as root or with CAP_NET_ADMIN",
        ),
        _ => return (errno_text(code), ""),
    };
    (text.to_string(), hint)
}

/// One configured set.
#[derive(Debug, Clone)]
struct IpsetSpec {
    name: String,
    v6: bool,
}

/// ipset enforcement backend (see the module docs).
#[derive(Debug)]
pub struct IpsetBackend {
    display: String,
    v4: IpsetSpec,
    v6: IpsetSpec,
    manage: bool,
    sock: Option<NfSocket>,
}

fn check_name(key: &str, value: &str) -> Result<(), BackendError> {
    if value.is_empty() || value.len() > MAX_NAME_LEN || value.contains('\0') {
        return Err(BackendError::Config(format!(
            "{key} = {value:?}: ipset names must be 1..={MAX_NAME_LEN} bytes without NUL"
        )));
    }
    Ok(())
}

/// What a message was about, for errors.
#[derive(Debug, Clone)]
struct Ctx {
    op: &'static str,
    set: String,
    ip: Option<IpAddr>,
}

/// Header facts of an existing set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct SetHeader {
    typename: String,
    family: u8,
    has_timeout: bool,
}

impl IpsetBackend {
    /// Validate the config; no kernel access yet.
    ///
    /// # Errors
    /// [`BackendError::Config`] for bad set names.
    pub fn new(cfg: &BackendConfig) -> Result<IpsetBackend, BackendError> {
        check_name("set_v4", &cfg.set_v4)?;
        check_name("set_v6", &cfg.set_v6)?;
        if cfg.set_v4 == cfg.set_v6 {
            return Err(BackendError::Config(format!(
                "set_v4 and set_v6 are both {:?}: a hash:ip set holds one address family, use two names",
                cfg.set_v4
            )));
        }
        Ok(IpsetBackend {
            display: cfg
                .name
                .clone()
                .unwrap_or_else(|| format!("ipset {}/{}", cfg.set_v4, cfg.set_v6)),
            v4: IpsetSpec {
                name: cfg.set_v4.clone(),
                v6: false,
            },
            v6: IpsetSpec {
                name: cfg.set_v6.clone(),
                v6: true,
            },
            manage: cfg.manage,
            sock: None,
        })
    }

    fn socket(&mut self) -> Result<&mut NfSocket, BackendError> {
        if self.sock.is_none() {
            let s = NfSocket::open().map_err(|e| BackendError::Netlink {
                backend: self.display.clone(),
                detail: e.to_string(),
            })?;
            self.sock = Some(s);
        }
        self.sock.as_mut().ok_or_else(|| BackendError::Netlink {
            backend: String::new(),
            detail: "socket unavailable".into(),
        })
    }

    fn io_fail(&mut self, e: NlError) -> BackendError {
        if matches!(e, NlError::Io { .. }) {
            self.sock = None;
        }
        BackendError::Netlink {
            backend: self.display.clone(),
            detail: e.to_string(),
        }
    }

    fn missing(&self, set: &str, v6: bool) -> BackendError {
        BackendError::Missing {
            what: format!("ipset {set}"),
            how: format!(
                "ipset create {set} hash:ip family {} timeout 0; see examples/ipset.conf",
                if v6 { "inet6" } else { "inet" }
            ),
        }
    }

    fn kernel_err(&self, ke: &KernelError, ctx: &Ctx) -> BackendError {
        if ke.code == libc::ENOENT {
            return self.missing(&ctx.set, ctx.set == self.v6.name);
        }
        let (reason, hint) = ipset_reason(ke.code);
        let reason = match &ke.text {
            Some(t) => format!("{reason} ({t})"),
            None => reason,
        };
        BackendError::Kernel {
            backend: self.display.clone(),
            op: ctx.op,
            target: format!("{}{}", ctx.set, describe_ips(ctx.ip)),
            reason,
            code: ke.code,
            hint,
        }
    }

    /// Send `msgs` (built by `build`, which returns one context per message)
    /// in one `sendmsg`; only the last message requests an ack.
    fn send_all(
        &mut self,
        build: impl FnOnce(&mut MsgBuilder<'_>) -> Result<(), NlError>,
    ) -> Result<Vec<(KernelError, Ctx)>, BackendError> {
        let sock = self.socket()?;
        let result = (|| {
            let mut mb = MsgBuilder {
                sock,
                buf: MsgBuf::new(),
                ctx: HashMap::new(),
                first_seq: None,
                last_seq: 0,
                last_start: 0,
            };
            build(&mut mb)?;
            let Some(first) = mb.first_seq else {
                return Ok(Vec::new());
            };
            mb.buf.end();
            mb.request_ack_on_last();
            mb.sock.send(mb.buf.as_bytes())?;
            let errors = mb.sock.collect_acks(first, &[mb.last_seq], None, |_| {})?;
            Ok(errors
                .into_iter()
                .map(|ke| {
                    let ctx = mb.ctx.get(&ke.seq).cloned().unwrap_or(Ctx {
                        op: "request",
                        set: String::new(),
                        ip: None,
                    });
                    (ke, ctx)
                })
                .collect())
        })();
        result.map_err(|e| self.io_fail(e))
    }

    /// List a set (`header_only`: just its header). `Ok(None)` when missing.
    #[allow(clippy::type_complexity)]
    fn dump(
        &mut self,
        spec: &IpsetSpec,
        header_only: bool,
    ) -> Result<Option<(SetHeader, Vec<(IpAddr, Option<Duration>)>)>, BackendError> {
        let sock = self.socket()?;
        let mut header = SetHeader::default();
        let mut elems = Vec::new();
        let result = (|| {
            let seq = sock.next_seq();
            let mut b = MsgBuf::new();
            b.begin(
                msg_type(IPSET_CMD_LIST),
                NLM_F_REQUEST | NLM_F_ACK | NLM_F_DUMP,
                seq,
                NFPROTO_IPV4,
                0,
            );
            b.attr_u8(IPSET_ATTR_PROTOCOL, IPSET_PROTOCOL)?;
            b.attr_strz(IPSET_ATTR_SETNAME, &spec.name)?;
            if header_only {
                b.attr_u32_be(
                    IPSET_ATTR_FLAGS | NLA_F_NET_BYTEORDER,
                    IPSET_FLAG_LIST_HEADER,
                )?;
            }
            b.end();
            sock.dump(b.as_bytes(), seq, |m| {
                parse_list(m, &mut header, &mut elems);
                Ok(())
            })
        })();
        match result.map_err(|e| self.io_fail(e))? {
            Ok(_) => Ok(Some((header, elems))),
            Err(ke) if ke.code == libc::ENOENT => Ok(None),
            Err(ke) => Err(self.kernel_err(
                &ke,
                &Ctx {
                    op: "list",
                    set: spec.name.clone(),
                    ip: None,
                },
            )),
        }
    }

    fn validate(&self, spec: &IpsetSpec, h: &SetHeader) -> Result<(), BackendError> {
        let fam = if spec.v6 { "inet6" } else { "inet" };
        let fix = format!(
            "recreate it: ipset destroy {0}; ipset create {0} hash:ip family {fam} timeout 0",
            spec.name
        );
        let want_family = if spec.v6 { NFPROTO_IPV6 } else { NFPROTO_IPV4 };
        let problem = if !h.typename.starts_with("hash:") {
            Some(format!("its type is {}, not hash:ip", h.typename))
        } else if h.family != want_family {
            Some(format!("it is not family {fam}"))
        } else if !h.has_timeout {
            Some("it was created without timeout support".to_string())
        } else {
            None
        };
        match problem {
            Some(problem) => Err(BackendError::Incompatible {
                what: format!("ipset {}", spec.name),
                problem,
                fix,
            }),
            None => Ok(()),
        }
    }

    fn first_error(&self, errors: &[(KernelError, Ctx)]) -> Result<(), BackendError> {
        if errors.len() > 1 {
            debug!(backend = %self.display, count = errors.len(), "ipset reported several failures");
        }
        match errors.first() {
            None => Ok(()),
            Some((ke, ctx)) => Err(self.kernel_err(ke, ctx)),
        }
    }

    fn add_once(&mut self, v4: &[BanEntry], v6: &[BanEntry]) -> Result<(), BackendError> {
        let (n4, n6) = (self.v4.name.clone(), self.v6.name.clone());
        let errors = self.send_all(|mb| {
            for (set, entries) in [(&n4, v4), (&n6, v6)] {
                for e in entries {
                    mb.adt(
                        IPSET_CMD_ADD,
                        "add",
                        set,
                        e.ip,
                        Some(timeout_secs(e.timeout)),
                    )?;
                }
            }
            Ok(())
        })?;
        self.first_error(&errors)
    }
}

impl Backend for IpsetBackend {
    fn name(&self) -> &str {
        &self.display
    }

    fn ensure(&mut self) -> Result<(), BackendError> {
        for spec in [self.v4.clone(), self.v6.clone()] {
            if let Some((h, _)) = self.dump(&spec, true)? {
                self.validate(&spec, &h)?;
                continue;
            }
            if !self.manage {
                return Err(self.missing(&spec.name, spec.v6));
            }
            let errors = self.send_all(|mb| mb.create(&spec.name, spec.v6))?;
            self.first_error(&errors)?;
            match self.dump(&spec, true)? {
                Some((h, _)) => self.validate(&spec, &h)?,
                None => return Err(self.missing(&spec.name, spec.v6)),
            }
            info!(backend = %self.display, set = %spec.name, "created ipset hash:ip with timeout support");
        }
        Ok(())
    }

    fn add(&mut self, entries: &[BanEntry]) -> Result<(), BackendError> {
        let started = Instant::now();
        let (v4, v6) = split_entries(entries);
        if v4.is_empty() && v6.is_empty() {
            return Ok(());
        }
        let result = match self.add_once(&v4, &v6) {
            Err(e) if e.is_missing() && self.manage => {
                self.ensure()?;
                self.add_once(&v4, &v6)
            }
            r => r,
        };
        debug!(
            backend = %self.display,
            count = v4.len() + v6.len(),
            elapsed_us = started.elapsed().as_micros() as u64,
            ok = result.is_ok(),
            "ipset add"
        );
        result
    }

    fn remove(&mut self, ips: &[IpAddr]) -> Result<(), BackendError> {
        let (v4, v6) = split_ips(ips);
        let (n4, n6) = (self.v4.name.clone(), self.v6.name.clone());
        let errors = self.send_all(|mb| {
            for (set, ips) in [(&n4, &v4), (&n6, &v6)] {
                for ip in ips {
                    mb.adt(IPSET_CMD_DEL, "remove", set, *ip, None)?;
                }
            }
            Ok(())
        })?;
        self.first_error(&errors)
    }

    fn list(&mut self) -> Result<Vec<(IpAddr, Option<Duration>)>, BackendError> {
        let mut out = Vec::new();
        for spec in [self.v4.clone(), self.v6.clone()] {
            match self.dump(&spec, false)? {
                Some((_, elems)) => out.extend(elems),
                None => return Err(self.missing(&spec.name, spec.v6)),
            }
        }
        Ok(out)
    }

    fn flush(&mut self) -> Result<(), BackendError> {
        let (n4, n6) = (self.v4.name.clone(), self.v6.name.clone());
        let errors = self.send_all(|mb| {
            mb.simple(IPSET_CMD_FLUSH, "flush", &n4)?;
            mb.simple(IPSET_CMD_FLUSH, "flush", &n6)
        })?;
        self.first_error(&errors)
    }
}

/// Builds a run of ipset messages into one buffer.
struct MsgBuilder<'s> {
    sock: &'s mut NfSocket,
    buf: MsgBuf,
    ctx: HashMap<u32, Ctx>,
    first_seq: Option<u32>,
    last_seq: u32,
    /// Offset of the last message, to set NLM_F_ACK on it.
    last_start: usize,
}

impl MsgBuilder<'_> {
    fn begin(&mut self, cmd: u16, ctx: Ctx) -> Result<(), NlError> {
        let seq = self.sock.next_seq();
        self.first_seq.get_or_insert(seq);
        self.last_seq = seq;
        self.buf.end();
        self.last_start = self.buf.len();
        self.buf
            .begin(msg_type(cmd), NLM_F_REQUEST, seq, NFPROTO_IPV4, 0);
        self.buf.attr_u8(IPSET_ATTR_PROTOCOL, IPSET_PROTOCOL)?;
        self.buf.attr_strz(IPSET_ATTR_SETNAME, &ctx.set)?;
        self.ctx.insert(seq, ctx);
        Ok(())
    }

    fn request_ack_on_last(&mut self) {
        self.buf
            .set_flags(self.last_start, NLM_F_REQUEST | NLM_F_ACK);
    }

    fn simple(&mut self, cmd: u16, op: &'static str, set: &str) -> Result<(), NlError> {
        self.begin(
            cmd,
            Ctx {
                op,
                set: set.to_string(),
                ip: None,
            },
        )
    }

    fn create(&mut self, set: &str, v6: bool) -> Result<(), NlError> {
        self.simple(IPSET_CMD_CREATE, "create", set)?;
        self.buf.attr_strz(IPSET_ATTR_TYPENAME, "hash:ip")?;
        self.buf.attr_u8(IPSET_ATTR_REVISION, HASH_IP_REVISION)?;
        self.buf.attr_u8(
            IPSET_ATTR_FAMILY,
            if v6 { NFPROTO_IPV6 } else { NFPROTO_IPV4 },
        )?;
        self.buf.nest_start(IPSET_ATTR_DATA);
        self.buf
            .attr_u32_be(IPSET_ATTR_TIMEOUT | NLA_F_NET_BYTEORDER, 0)?;
        self.buf
            .attr_u32_be(IPSET_ATTR_MAXELEM | NLA_F_NET_BYTEORDER, MANAGED_MAXELEM)?;
        self.buf.nest_end()
    }

    /// One ADD or DEL message.
    fn adt(
        &mut self,
        cmd: u16,
        op: &'static str,
        set: &str,
        ip: IpAddr,
        timeout: Option<u32>,
    ) -> Result<(), NlError> {
        self.begin(
            cmd,
            Ctx {
                op,
                set: set.to_string(),
                ip: Some(ip),
            },
        )?;
        self.buf.nest_start(IPSET_ATTR_DATA);
        self.buf.nest_start(IPSET_ATTR_IP);
        match ip {
            IpAddr::V4(a) => self
                .buf
                .attr(IPSET_ATTR_IPADDR_IPV4 | NLA_F_NET_BYTEORDER, &a.octets())?,
            IpAddr::V6(a) => self
                .buf
                .attr(IPSET_ATTR_IPADDR_IPV6 | NLA_F_NET_BYTEORDER, &a.octets())?,
        }
        self.buf.nest_end()?;
        if let Some(t) = timeout {
            self.buf
                .attr_u32_be(IPSET_ATTR_TIMEOUT | NLA_F_NET_BYTEORDER, t)?;
        }
        self.buf.nest_end()
    }
}

/// Fold one `IPSET_CMD_LIST` dump message into the header and element list.
pub(super) fn parse_list(
    m: &NlMsg<'_>,
    header: &mut SetHeader,
    out: &mut Vec<(IpAddr, Option<Duration>)>,
) {
    if m.ty != msg_type(IPSET_CMD_LIST) {
        return;
    }
    for a in m.nf_attrs() {
        match a.ty {
            IPSET_ATTR_TYPENAME => header.typename = a.string(),
            IPSET_ATTR_FAMILY => header.family = a.u8().unwrap_or(0),
            IPSET_ATTR_DATA => {
                header.has_timeout |= a.nested().find_type(IPSET_ATTR_TIMEOUT).is_some()
            }
            IPSET_ATTR_ADT => {
                for entry in a.nested().filter(|e| e.ty == IPSET_ATTR_DATA) {
                    match parse_entry(entry.nested()) {
                        Some(e) => out.push(e),
                        None => debug!("skipping ipset entry without a usable address"),
                    }
                }
            }
            _ => {}
        }
    }
}

fn parse_entry(attrs: super::netlink::AttrIter<'_>) -> Option<(IpAddr, Option<Duration>)> {
    let mut ip = None;
    let mut timeout = None;
    for a in attrs {
        match a.ty {
            IPSET_ATTR_IP => {
                for inner in a.nested() {
                    ip = match inner.ty {
                        IPSET_ATTR_IPADDR_IPV4 => <[u8; 4]>::try_from(inner.data)
                            .ok()
                            .map(|b| IpAddr::V4(Ipv4Addr::from(b))),
                        IPSET_ATTR_IPADDR_IPV6 => <[u8; 16]>::try_from(inner.data)
                            .ok()
                            .map(|b| IpAddr::V6(Ipv6Addr::from(b))),
                        _ => ip,
                    };
                }
            }
            // 0 remaining means "no timeout" (permanent entry).
            IPSET_ATTR_TIMEOUT => {
                timeout = a
                    .u32_be()
                    .filter(|&t| t > 0)
                    .map(|t| Duration::from_secs(u64::from(t)))
            }
            _ => {}
        }
    }
    ip.map(|ip| (ip, timeout))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::netlink::messages;

    #[test]
    fn timeouts_round_up_and_clamp() {
        assert_eq!(timeout_secs(Duration::from_secs(3600)), 3600);
        assert_eq!(timeout_secs(Duration::from_millis(1500)), 2);
        assert_eq!(timeout_secs(Duration::ZERO), 1, "0 would mean permanent");
        assert_eq!(timeout_secs(Duration::from_secs(1 << 40)), MAX_TIMEOUT_SECS);
    }

    #[test]
    fn names_are_checked() {
        let mut cfg = BackendConfig {
            kind: super::super::BackendKind::Ipset,
            ..BackendConfig::default()
        };
        assert_eq!(
            IpsetBackend::new(&cfg).unwrap().display,
            "ipset suspectedip/suspectedip6"
        );
        cfg.set_v6 = cfg.set_v4.clone();
        assert!(IpsetBackend::new(&cfg).is_err());
    }

    #[test]
    fn list_parser_reads_header_and_entries() {
        let mut b = MsgBuf::new();
        b.begin(msg_type(IPSET_CMD_LIST), 0, 1, NFPROTO_IPV4, 0);
        b.attr_strz(IPSET_ATTR_TYPENAME, "hash:ip").unwrap();
        b.attr_u8(IPSET_ATTR_FAMILY, NFPROTO_IPV6).unwrap();
        b.nest_start(IPSET_ATTR_DATA);
        b.attr_u32_be(IPSET_ATTR_TIMEOUT | NLA_F_NET_BYTEORDER, 0)
            .unwrap();
        b.nest_end().unwrap();
        b.nest_start(IPSET_ATTR_ADT);
        for (last, t) in [(1u8, 60u32), (2, 0)] {
            b.nest_start(IPSET_ATTR_DATA);
            b.nest_start(IPSET_ATTR_IP);
            let mut a = [0u8; 16];
            a[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
            a[15] = last;
            b.attr(IPSET_ATTR_IPADDR_IPV6 | NLA_F_NET_BYTEORDER, &a)
                .unwrap();
            b.nest_end().unwrap();
            b.attr_u32_be(IPSET_ATTR_TIMEOUT | NLA_F_NET_BYTEORDER, t)
                .unwrap();
            b.nest_end().unwrap();
        }
        b.nest_end().unwrap();
        b.end();
        let bytes = b.as_bytes().to_vec();
        let (mut h, mut out) = (SetHeader::default(), Vec::new());
        for m in messages(&bytes) {
            parse_list(&m.unwrap(), &mut h, &mut out);
        }
        assert_eq!(
            h,
            SetHeader {
                typename: "hash:ip".into(),
                family: NFPROTO_IPV6,
                has_timeout: true
            }
        );
        assert_eq!(
            out,
            vec![
                (
                    "2001:db8::1".parse().unwrap(),
                    Some(Duration::from_secs(60))
                ),
                ("2001:db8::2".parse().unwrap(), None),
            ]
        );
        for cut in 0..bytes.len() {
            for m in messages(&bytes[..cut]).flatten() {
                parse_list(&m, &mut SetHeader::default(), &mut Vec::new());
            }
        }
    }

    #[test]
    fn ipset_errors_are_explained() {
        assert!(ipset_reason(4107).0.contains("timeout"));
        assert!(ipset_reason(4352).1.contains("maxelem"));
        assert_eq!(ipset_reason(libc::ENOENT).0, "No such file or directory");
    }
}
