//! nftables backend: bans are elements of named nft sets with per-element
//! timeouts, written over nfnetlink (`NFNL_SUBSYS_NFTABLES`).
//!
//! Every mutating call is one nfnetlink transaction (`BATCH_BEGIN` … messages
//! … `BATCH_END`) sent in one `sendmsg`; the kernel applies all of it or none
//! of it. Element lists are split over several `NEWSETELEM` messages inside
//! the transaction because one attribute cannot exceed 64 KiB.
//!
//! Refresh: `add` sends `DESTROYSETELEM` + `NEWSETELEM` for the same keys in
//! the same transaction (re-adding with an unchanged timeout would not reset
//! the expiry). Kernels before 6.3 lack `DESTROYSETELEM`; then the backend
//! dumps the set and deletes only present keys with `DELSETELEM` (retrying
//! once when an element expired in between, which aborts the transaction).
//!
//! Never touches chains or rules: the ruleset that references the sets is the
//! operator's. With `manage = true` only the table (if missing) and the sets
//! (`type ipv4_addr` / `ipv6_addr`, `flags timeout`) are created.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use tracing::{debug, info, warn};

use super::netlink::{
    KernelError, MsgBuf, NfSocket, NlError, NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_REQUEST,
};
use super::nft_wire::*;
use super::{
    describe_ips, errno_text, split_entries, split_ips, Backend, BackendConfig, BackendError,
    BanEntry,
};

/// nft object names are at most 255 bytes.
const MAX_NAME_LEN: usize = 255;
const EXAMPLE: &str = "see examples/nftables.conf";

/// One configured set: name and address family of its keys.
#[derive(Debug, Clone)]
struct SetSpec {
    name: String,
    v6: bool,
}

/// nftables enforcement backend (see the module docs).
#[derive(Debug)]
pub struct NftBackend {
    display: String,
    family: u8,
    family_name: String,
    table: String,
    v4: Option<SetSpec>,
    v6: Option<SetSpec>,
    manage: bool,
    sock: Option<NfSocket>,
    destroy_supported: bool,
}

fn check_name(key: &str, value: &str) -> Result<(), BackendError> {
    if value.is_empty() || value.len() > MAX_NAME_LEN || value.contains('\0') {
        return Err(BackendError::Config(format!(
            "{key} = {value:?}: must be 1..={MAX_NAME_LEN} bytes without NUL"
        )));
    }
    Ok(())
}

impl NftBackend {
    /// Validate the config; no kernel access yet.
    ///
    /// # Errors
    /// [`BackendError::Config`] for an unknown family or a bad name.
    pub fn new(cfg: &BackendConfig) -> Result<NftBackend, BackendError> {
        let (family, has_v4, has_v6) = match cfg.family.as_str() {
            "inet" => (NFPROTO_INET, true, true),
            "ip" => (NFPROTO_IPV4, true, false),
            "ip6" => (NFPROTO_IPV6, false, true),
            other => {
                return Err(BackendError::Config(format!(
                    "family = {other:?}: nftables backend supports \"inet\", \"ip\" or \"ip6\""
                )))
            }
        };
        check_name("table", &cfg.table)?;
        let v4 = if has_v4 {
            check_name("set_v4", &cfg.set_v4)?;
            Some(SetSpec {
                name: cfg.set_v4.clone(),
                v6: false,
            })
        } else {
            None
        };
        let v6 = if has_v6 {
            check_name("set_v6", &cfg.set_v6)?;
            Some(SetSpec {
                name: cfg.set_v6.clone(),
                v6: true,
            })
        } else {
            None
        };
        if has_v4 && has_v6 && cfg.set_v4 == cfg.set_v6 {
            return Err(BackendError::Config(format!(
                "set_v4 and set_v6 are both {:?}: an nft set holds one address family, use two names",
                cfg.set_v4
            )));
        }
        let sets: Vec<&str> = [&v4, &v6]
            .into_iter()
            .flatten()
            .map(|s| s.name.as_str())
            .collect();
        let display = cfg
            .name
            .clone()
            .unwrap_or_else(|| format!("nftables {} {} {}", cfg.family, cfg.table, sets.join("/")));
        Ok(NftBackend {
            display,
            family,
            family_name: cfg.family.clone(),
            table: cfg.table.clone(),
            v4,
            v6,
            manage: cfg.manage,
            sock: None,
            destroy_supported: true,
        })
    }

    /// Force the pre-Linux-6.3 refresh path (dump + `DELSETELEM`) instead of
    /// `DESTROYSETELEM`. The backend switches by itself when the kernel
    /// rejects `DESTROYSETELEM`; this exists for tests.
    pub fn set_legacy_refresh(&mut self, legacy: bool) {
        self.destroy_supported = !legacy;
    }

    fn sets(&self) -> impl Iterator<Item = &SetSpec> {
        self.v4.iter().chain(self.v6.iter())
    }

    fn set_what(&self, set: &str) -> String {
        format!("nftables set {} {} {}", self.family_name, self.table, set)
    }

    fn netlink_err(&self, e: NlError) -> BackendError {
        BackendError::Netlink {
            backend: self.display.clone(),
            detail: e.to_string(),
        }
    }

    /// The socket, opened on first use (and again after an I/O failure).
    fn socket(&mut self) -> Result<&mut NfSocket, BackendError> {
        if self.sock.is_none() {
            let s = NfSocket::open().map_err(|e| self.netlink_err(e))?;
            self.sock = Some(s);
        }
        self.sock.as_mut().ok_or_else(|| BackendError::Netlink {
            backend: self.display.clone(),
            detail: "socket unavailable".into(),
        })
    }

    /// Map a netlink failure; I/O errors drop the socket so the next call
    /// starts fresh.
    fn io_fail(&mut self, e: NlError) -> BackendError {
        if matches!(e, NlError::Io { .. }) {
            self.sock = None;
        }
        self.netlink_err(e)
    }

    fn kernel_err(&self, ke: &KernelError, ctx: &MsgCtx) -> BackendError {
        if ke.code == libc::ENOENT && ctx.op != "delete" {
            return BackendError::Missing {
                what: if ctx.op == "create table" {
                    format!("nftables table {} {}", self.family_name, self.table)
                } else {
                    self.set_what(&ctx.set)
                },
                how: EXAMPLE.into(),
            };
        }
        let hint = match ke.code {
            libc::EPERM => "; run meerkat-dom as root or with CAP_NET_ADMIN",
            libc::ENFILE | libc::ENOSPC | libc::E2BIG => {
                "; the set is full: raise its `size` or lower ban durations"
            }
            libc::EEXIST => {
                "; a set with this name exists with a different definition: delete it or pick another name"
            }
            libc::EINVAL | libc::EOPNOTSUPP => {
                "; the set must be `type ipv4_addr`/`ipv6_addr` with `flags timeout`"
            }
            libc::ERANGE => "; the ban duration is too long for the kernel",
            _ => "",
        };
        // ENFILE is how nf_tables says "set full"; its errno text misleads.
        let base = if ke.code == libc::ENFILE {
            "set is full".to_string()
        } else {
            errno_text(ke.code)
        };
        let reason = match &ke.text {
            Some(t) => format!("{base} ({t})"),
            None => base,
        };
        BackendError::Kernel {
            backend: self.display.clone(),
            op: ctx.op,
            target: format!(
                "{} {} {}{}",
                self.family_name,
                self.table,
                ctx.set,
                describe_ips(ctx.ips.iter().copied())
            ),
            reason,
            code: ke.code,
            hint,
        }
    }

    /// Run one transaction; returns the kernel's errors with their context.
    fn transact(
        &mut self,
        build: impl FnOnce(&mut Tx<'_>) -> Result<(), NlError>,
    ) -> Result<Vec<(KernelError, MsgCtx)>, BackendError> {
        let family = self.family;
        let table = self.table.clone();
        let sock = self.socket()?;
        let result = (|| {
            let mut tx = Tx::begin(sock, family, table);
            build(&mut tx)?;
            tx.commit()
        })();
        result.map_err(|e| self.io_fail(e))
    }

    /// GETSET: `None` when the table or set does not exist.
    fn get_set(&mut self, set: &str) -> Result<Option<SetInfo>, BackendError> {
        let (family, table) = (self.family, self.table.clone());
        let sock = self.socket()?;
        let result = (|| {
            let seq = sock.next_seq();
            let mut b = MsgBuf::new();
            b.begin(
                msg_type(NFT_MSG_GETSET),
                NLM_F_REQUEST | NLM_F_ACK,
                seq,
                family,
                0,
            );
            b.attr_strz(NFTA_SET_TABLE, &table)?;
            b.attr_strz(NFTA_SET_NAME, set)?;
            b.end();
            sock.send(b.as_bytes())?;
            let mut info = None;
            let errors = sock.collect_acks(seq, &[seq], None, |m| {
                if m.ty == msg_type(NFT_MSG_NEWSET) {
                    info = Some(parse_set_info(m));
                }
            })?;
            Ok::<_, NlError>((info, errors))
        })();
        let (info, errors) = result.map_err(|e| self.io_fail(e))?;
        match errors.first() {
            None => Ok(info),
            Some(ke) if ke.code == libc::ENOENT => Ok(None),
            Some(ke) => Err(self.kernel_err(
                ke,
                &MsgCtx {
                    op: "get set",
                    set: set.to_string(),
                    ips: Vec::new(),
                },
            )),
        }
    }

    fn validate(&self, spec: &SetSpec, info: SetInfo) -> Result<(), BackendError> {
        let what = self.set_what(&spec.name);
        let want_type = if spec.v6 { "ipv6_addr" } else { "ipv4_addr" };
        let fix = format!(
            "recreate it as `type {want_type}; flags timeout;` ({EXAMPLE}) or point set_{} at another set",
            if spec.v6 { "v6" } else { "v4" }
        );
        let want_len = if spec.v6 { 16 } else { 4 };
        let problem = if info.flags & (NFT_SET_MAP | NFT_SET_OBJECT) != 0 {
            Some("it is a map, not a plain set".to_string())
        } else if info.flags & (NFT_SET_INTERVAL | NFT_SET_CONCAT) != 0 {
            Some("it has `flags interval` or a concatenated type".to_string())
        } else if info.key_len != want_len {
            Some(format!(
                "its key is {} bytes, not a {want_type}",
                info.key_len
            ))
        } else if info.flags & NFT_SET_TIMEOUT == 0 {
            Some("it lacks `flags timeout`, so elements cannot carry their own timeout".to_string())
        } else {
            None
        };
        match problem {
            Some(problem) => Err(BackendError::Incompatible { what, problem, fix }),
            None => Ok(()),
        }
    }

    /// Dump one set's elements (retrying when a concurrent change interrupts
    /// the dump).
    fn dump_set(
        &mut self,
        spec: &SetSpec,
        f: &mut dyn FnMut(IpAddr, Option<Duration>),
    ) -> Result<(), BackendError> {
        let (family, table) = (self.family, self.table.clone());
        // Elements of one netlink message at a time (at most a few hundred).
        let mut out = Vec::new();
        for _attempt in 0..3 {
            let sock = self.socket()?;
            let result = (|| {
                let seq = sock.next_seq();
                let mut b = MsgBuf::new();
                b.begin(
                    msg_type(NFT_MSG_GETSETELEM),
                    NLM_F_REQUEST | NLM_F_DUMP,
                    seq,
                    family,
                    0,
                );
                b.attr_strz(NFTA_SET_ELEM_LIST_TABLE, &table)?;
                b.attr_strz(NFTA_SET_ELEM_LIST_SET, &spec.name)?;
                b.end();
                sock.dump(b.as_bytes(), seq, |m| {
                    out.clear();
                    parse_elements(m, spec.v6, &mut out);
                    for (ip, t) in out.drain(..) {
                        f(ip, t);
                    }
                    Ok(())
                })
            })();
            match result.map_err(|e| self.io_fail(e))? {
                Ok(false) => return Ok(()),
                Ok(true) => debug!(set = %spec.name, "nft set dump interrupted, retrying"),
                Err(ke) => {
                    return Err(self.kernel_err(
                        &ke,
                        &MsgCtx {
                            op: "list",
                            set: spec.name.clone(),
                            ips: Vec::new(),
                        },
                    ))
                }
            }
        }
        Err(BackendError::Netlink {
            backend: self.display.clone(),
            detail: format!(
                "listing set {} was interrupted by concurrent changes 3 times",
                spec.name
            ),
        })
    }

    /// Drop entries of a family this table cannot hold (warns once per call).
    fn keep_supported<T>(
        &self,
        v4: Vec<T>,
        v6: Vec<T>,
        first: impl Fn(&T) -> IpAddr,
    ) -> (Vec<T>, Vec<T>) {
        let (v4, v6) = (
            if self.v4.is_some() {
                v4
            } else {
                skip(self, v4, &first)
            },
            if self.v6.is_some() {
                v6
            } else {
                skip(self, v6, &first)
            },
        );
        fn skip<T>(b: &NftBackend, items: Vec<T>, first: &impl Fn(&T) -> IpAddr) -> Vec<T> {
            if let Some(x) = items.first() {
                warn!(
                    backend = %b.display,
                    count = items.len(),
                    first = %first(x),
                    "skipping addresses of a family this nftables table cannot hold (family {})",
                    b.family_name
                );
            }
            Vec::new()
        }
        (v4, v6)
    }

    fn add_once(&mut self, v4: &[BanEntry], v6: &[BanEntry]) -> Result<(), BackendError> {
        let groups: Vec<(SetSpec, &[BanEntry])> = [(&self.v4, v4), (&self.v6, v6)]
            .into_iter()
            .filter_map(|(spec, e)| spec.clone().map(|s| (s, e)))
            .filter(|(_, e)| !e.is_empty())
            .collect();
        if self.destroy_supported {
            let errors = self.transact(|tx| {
                for (spec, entries) in &groups {
                    let keys: Vec<_> = entries.iter().map(|e| (e.ip, None)).collect();
                    tx.elements(
                        NFT_MSG_DESTROYSETELEM,
                        0,
                        "refresh (destroy)",
                        &spec.name,
                        &keys,
                    )?;
                }
                for (spec, entries) in &groups {
                    let elems: Vec<_> = entries
                        .iter()
                        .map(|e| (e.ip, Some(timeout_ms(e.timeout))))
                        .collect();
                    tx.elements(NFT_MSG_NEWSETELEM, NLM_F_CREATE, "add", &spec.name, &elems)?;
                }
                Ok(())
            })?;
            if destroy_unsupported(&errors) {
                warn!(backend = %self.display, "kernel lacks NFT_MSG_DESTROYSETELEM (Linux < 6.3): refreshing bans by listing the set first");
                self.destroy_supported = false;
            } else {
                return self.first_error(&errors);
            }
        }
        // Legacy path: delete only the keys that are present.
        let mut last = Vec::new();
        for _attempt in 0..2 {
            let mut present_by_set = Vec::new();
            for (spec, entries) in &groups {
                let mut present = std::collections::HashSet::new();
                self.dump_set(spec, &mut |ip, _| {
                    present.insert(ip);
                })?;
                let del: Vec<_> = entries
                    .iter()
                    .filter(|e| present.contains(&e.ip))
                    .map(|e| (e.ip, None))
                    .collect();
                present_by_set.push(del);
            }
            last = self.transact(|tx| {
                for ((spec, _), del) in groups.iter().zip(&present_by_set) {
                    tx.elements(NFT_MSG_DELSETELEM, 0, "delete", &spec.name, del)?;
                }
                for (spec, entries) in &groups {
                    let elems: Vec<_> = entries
                        .iter()
                        .map(|e| (e.ip, Some(timeout_ms(e.timeout))))
                        .collect();
                    tx.elements(NFT_MSG_NEWSETELEM, NLM_F_CREATE, "add", &spec.name, &elems)?;
                }
                Ok(())
            })?;
            let raced = last
                .iter()
                .any(|(ke, ctx)| ke.code == libc::ENOENT && ctx.op == "delete");
            if !raced {
                break;
            }
            debug!(backend = %self.display, "an element expired between list and delete; retrying");
        }
        self.first_error(&last)
    }

    fn remove_once(&mut self, v4: &[IpAddr], v6: &[IpAddr]) -> Result<(), BackendError> {
        let groups: Vec<(SetSpec, Keys)> = [(&self.v4, v4), (&self.v6, v6)]
            .into_iter()
            .filter_map(|(spec, ips)| {
                spec.clone()
                    .map(|s| (s, ips.iter().map(|&ip| (ip, None)).collect::<Vec<_>>()))
            })
            .filter(|(_, k)| !k.is_empty())
            .collect();
        if self.destroy_supported {
            let errors = self.transact(|tx| {
                for (spec, keys) in &groups {
                    tx.elements(NFT_MSG_DESTROYSETELEM, 0, "remove", &spec.name, keys)?;
                }
                Ok(())
            })?;
            if destroy_unsupported(&errors) {
                self.destroy_supported = false;
            } else {
                return self.first_error(&errors);
            }
        }
        let mut last = Vec::new();
        for _attempt in 0..2 {
            let mut present_keys = Vec::new();
            for (spec, keys) in &groups {
                let mut present = std::collections::HashSet::new();
                self.dump_set(spec, &mut |ip, _| {
                    present.insert(ip);
                })?;
                present_keys.push(
                    keys.iter()
                        .filter(|(ip, _)| present.contains(ip))
                        .copied()
                        .collect::<Vec<_>>(),
                );
            }
            last = self.transact(|tx| {
                for ((spec, _), keys) in groups.iter().zip(&present_keys) {
                    tx.elements(NFT_MSG_DELSETELEM, 0, "delete", &spec.name, keys)?;
                }
                Ok(())
            })?;
            if !last.iter().any(|(ke, _)| ke.code == libc::ENOENT) {
                break;
            }
        }
        self.first_error(&last)
    }

    /// The most telling error of an aborted transaction (a real failure
    /// rather than a follow-up one).
    fn first_error(&self, errors: &[(KernelError, MsgCtx)]) -> Result<(), BackendError> {
        match errors.first() {
            None => Ok(()),
            Some((ke, ctx)) => Err(self.kernel_err(ke, ctx)),
        }
    }
}

fn destroy_unsupported(errors: &[(KernelError, MsgCtx)]) -> bool {
    errors.iter().any(|(ke, ctx)| {
        ctx.op.contains("destroy") || ctx.op == "remove"
    } && (ke.code == libc::EINVAL || ke.code == libc::EOPNOTSUPP))
}

impl Backend for NftBackend {
    fn name(&self) -> &str {
        &self.display
    }

    fn ensure(&mut self) -> Result<(), BackendError> {
        let specs: Vec<SetSpec> = self.sets().cloned().collect();
        let mut missing = Vec::new();
        for spec in &specs {
            match self.get_set(&spec.name)? {
                Some(info) => self.validate(spec, info)?,
                None => missing.push(spec.clone()),
            }
        }
        let Some(first_missing) = missing.first() else {
            return Ok(());
        };
        if !self.manage {
            return Err(BackendError::Missing {
                what: self.set_what(&first_missing.name),
                how: EXAMPLE.into(),
            });
        }
        let table = self.table.clone();
        let errors = self.transact(|tx| {
            tx.new_table(&table)?;
            for (i, spec) in missing.iter().enumerate() {
                tx.new_set(&spec.name, spec.v6, i as u32 + 1)?;
            }
            Ok(())
        })?;
        self.first_error(&errors)?;
        for spec in &missing {
            match self.get_set(&spec.name)? {
                Some(info) => self.validate(spec, info)?,
                None => {
                    return Err(BackendError::Netlink {
                        backend: self.display.clone(),
                        detail: format!(
                            "set {} still missing after the kernel acknowledged its creation",
                            spec.name
                        ),
                    })
                }
            }
            info!(backend = %self.display, set = %spec.name, "created nftables set (flags timeout)");
        }
        Ok(())
    }

    fn add(&mut self, entries: &[BanEntry]) -> Result<(), BackendError> {
        let started = Instant::now();
        let (v4, v6) = split_entries(entries);
        let (v4, v6) = self.keep_supported(v4, v6, |e| e.ip);
        if v4.is_empty() && v6.is_empty() {
            return Ok(());
        }
        let result = match self.add_once(&v4, &v6) {
            Err(e) if e.is_missing() && self.manage => {
                warn!(backend = %self.display, error = %e, "set vanished; recreating it (manage = true)");
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
            "nft add"
        );
        result
    }

    fn remove(&mut self, ips: &[IpAddr]) -> Result<(), BackendError> {
        let (v4, v6) = split_ips(ips);
        let (v4, v6) = self.keep_supported(v4, v6, |ip| *ip);
        if v4.is_empty() && v6.is_empty() {
            return Ok(());
        }
        self.remove_once(&v4, &v6)
    }

    fn list(&mut self) -> Result<Vec<(IpAddr, Option<Duration>)>, BackendError> {
        let mut out = Vec::new();
        self.list_each(&mut |ip, t| out.push((ip, t)))?;
        Ok(out)
    }

    fn list_each(
        &mut self,
        f: &mut dyn FnMut(IpAddr, Option<Duration>),
    ) -> Result<(), BackendError> {
        let specs: Vec<SetSpec> = self.sets().cloned().collect();
        for spec in &specs {
            self.dump_set(spec, f)?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), BackendError> {
        let names: Vec<String> = self.sets().map(|s| s.name.clone()).collect();
        let errors = self.transact(|tx| {
            for name in &names {
                tx.flush_set(name)?;
            }
            Ok(())
        })?;
        self.first_error(&errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(family: &str) -> BackendConfig {
        BackendConfig {
            family: family.into(),
            ..BackendConfig::default()
        }
    }

    #[test]
    fn names_follow_family() {
        assert_eq!(
            NftBackend::new(&cfg("ip")).unwrap().display,
            "nftables ip filter suspectedip"
        );
        assert_eq!(
            NftBackend::new(&cfg("ip6")).unwrap().display,
            "nftables ip6 filter suspectedip6"
        );
        let mut same = cfg("inet");
        same.set_v6 = same.set_v4.clone();
        assert!(NftBackend::new(&same).is_err());
        let mut empty = cfg("inet");
        empty.table = String::new();
        assert!(NftBackend::new(&empty).is_err());
    }

    #[test]
    fn validate_rejects_sets_without_timeout_or_wrong_type() {
        let b = NftBackend::new(&cfg("inet")).unwrap();
        let v4 = b.v4.clone().unwrap();
        let good = SetInfo {
            flags: NFT_SET_TIMEOUT,
            key_type: TYPE_IPADDR,
            key_len: 4,
        };
        assert!(b.validate(&v4, good).is_ok());
        let no_timeout = SetInfo { flags: 0, ..good };
        let e = b.validate(&v4, no_timeout).unwrap_err().to_string();
        assert!(e.contains("flags timeout"), "{e}");
        assert!(e.contains("inet filter suspectedip"), "{e}");
        let v6_key = SetInfo {
            key_len: 16,
            ..good
        };
        assert!(b.validate(&v4, v6_key).is_err());
        let interval = SetInfo {
            flags: NFT_SET_TIMEOUT | NFT_SET_INTERVAL,
            ..good
        };
        assert!(b.validate(&v4, interval).is_err());
    }
}
