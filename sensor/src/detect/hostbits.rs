//! `hostbits`: named marks on a host (an IP address) that rules set and
//! test, as Suricata's `detect-hostbits.c`: `set`, `unset`, `toggle`,
//! `isset`, `isnotset`, `noalert`, tracked on the packet's source (the
//! default) or destination address, expiring 300 s after being set.
//!
//! The table is per capture thread (it lives in [`super::Matches`]), like
//! the threshold counters, and bounded: past [`MAX_ENTRIES`] marks, new
//! ones are not recorded (expired ones are swept first).

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::flowbits::FlowbitCmd;
use super::threshold::OptError;

/// Suricata's hostbit lifetime.
const EXPIRE: Duration = Duration::from_secs(300);
/// Marks one thread keeps at most.
pub const MAX_ENTRIES: usize = 65_536;

/// One `hostbits` option; `id` is filled when the engine is built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hostbit {
    pub cmd: FlowbitCmd,
    pub name: String,
    pub id: u32,
    /// Track the destination address (`dst`) instead of the source.
    pub dst: bool,
}

/// What a `hostbits` option asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    Op(Hostbit),
    NoAlert,
}

/// Parses `cmd[,name[,src|dst]]`.
pub fn parse(v: &str) -> Result<Parsed, OptError> {
    let parts: Vec<&str> = v.split(',').map(str::trim).collect();
    let cmd = parts.first().copied().unwrap_or("");
    let name = parts.get(1).copied().filter(|n| !n.is_empty());
    let dir = parts.get(2).copied();
    if parts.len() > 3 {
        return Err(OptError::Invalid("expected cmd[,name[,src|dst]]".into()));
    }
    let dst = match dir {
        None | Some("src") => false,
        Some("dst") => true,
        Some("both") => return Err(OptError::Invalid("'both' is not implemented".into())),
        Some(d) => return Err(OptError::Invalid(format!("unknown direction `{d}`"))),
    };
    let cmd = match cmd {
        "noalert" => {
            return match name {
                None => Ok(Parsed::NoAlert),
                Some(_) => Err(OptError::Invalid("noalert takes no name".into())),
            }
        }
        "set" => FlowbitCmd::Set,
        "unset" => FlowbitCmd::Unset,
        "toggle" => FlowbitCmd::Toggle,
        "isset" => FlowbitCmd::IsSet,
        "isnotset" => FlowbitCmd::IsNotSet,
        other => {
            return Err(OptError::Invalid(format!(
                "unknown command `{other}` (set, unset, toggle, isset, isnotset, noalert)"
            )))
        }
    };
    let name = name.ok_or_else(|| OptError::Invalid("hostbit name missing".into()))?;
    if name.chars().any(char::is_whitespace) {
        return Err(OptError::Invalid(format!("bad hostbit name `{name}`")));
    }
    Ok(Parsed::Op(Hostbit {
        cmd,
        name: name.to_string(),
        id: 0,
        dst,
    }))
}

/// One thread's host marks: (address, bit) -> expiry.
#[derive(Debug, Default)]
pub struct HostBits {
    bits: HashMap<(IpAddr, u32), Instant>,
}

impl HostBits {
    fn host(b: &Hostbit, src: IpAddr, dst: IpAddr) -> IpAddr {
        if b.dst {
            dst
        } else {
            src
        }
    }

    fn is_set(&self, host: IpAddr, id: u32, now: Instant) -> bool {
        self.bits.get(&(host, id)).is_some_and(|&exp| exp > now)
    }

    /// True when all `isset`/`isnotset` conditions hold.
    pub fn check(&self, bits: &[Hostbit], src: IpAddr, dst: IpAddr, now: Instant) -> bool {
        bits.iter().all(|b| {
            let set = self.is_set(Self::host(b, src, dst), b.id, now);
            match b.cmd {
                FlowbitCmd::IsSet => set,
                FlowbitCmd::IsNotSet => !set,
                _ => true,
            }
        })
    }

    /// Applies the set/unset/toggle operations of a matched rule.
    pub fn apply(&mut self, bits: &[Hostbit], src: IpAddr, dst: IpAddr, now: Instant) {
        for b in bits {
            let key = (Self::host(b, src, dst), b.id);
            let set = self.is_set(key.0, key.1, now);
            match (b.cmd, set) {
                (FlowbitCmd::Set, _) | (FlowbitCmd::Toggle, false) => self.insert(key, now),
                (FlowbitCmd::Unset, _) | (FlowbitCmd::Toggle, true) => {
                    self.bits.remove(&key);
                }
                _ => {}
            }
        }
    }

    fn insert(&mut self, key: (IpAddr, u32), now: Instant) {
        if self.bits.len() >= MAX_ENTRIES && !self.bits.contains_key(&key) {
            self.bits.retain(|_, exp| *exp > now);
            if self.bits.len() >= MAX_ENTRIES {
                return;
            }
        }
        self.bits.insert(key, now + EXPIRE);
    }

    pub fn len(&self) -> usize {
        self.bits.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bits.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(v: &str, id: u32) -> Hostbit {
        match parse(v).unwrap() {
            Parsed::Op(mut h) => {
                h.id = id;
                h
            }
            Parsed::NoAlert => panic!("{v}"),
        }
    }

    #[test]
    fn parse_forms() {
        assert_eq!(parse("noalert"), Ok(Parsed::NoAlert));
        assert!(op("toggle,abc,dst", 0).dst);
        assert!(!op("isset,abc", 0).dst);
        for bad in [
            "set",
            "flip,a",
            "set,a,both",
            "set,a,up",
            "noalert,a",
            "set,a b",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn set_check_toggle_per_host() {
        let (a, b): (IpAddr, IpAddr) = ("192.0.2.1".parse().unwrap(), "192.0.2.2".parse().unwrap());
        let now = Instant::now();
        let mut hb = HostBits::default();
        let isset = [op("isset,x", 1)];
        let isset_dst = [op("isset,x,dst", 1)];
        assert!(!hb.check(&isset, a, b, now));
        hb.apply(&[op("set,x", 1)], a, b, now);
        assert!(hb.check(&isset, a, b, now));
        // Tracked on a, so from b's side the source is not marked.
        assert!(!hb.check(&isset, b, a, now));
        assert!(hb.check(&isset_dst, b, a, now));
        assert!(!hb.check(&isset, a, b, now + EXPIRE));
        hb.apply(&[op("toggle,x", 1)], a, b, now);
        assert!(hb.is_empty());
        hb.apply(&[op("toggle,x", 1)], a, b, now);
        hb.apply(&[op("unset,x", 1)], a, b, now);
        assert!(hb.check(&[op("isnotset,x", 1)], a, b, now));
    }
}
