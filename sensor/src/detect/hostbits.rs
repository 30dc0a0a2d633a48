//! `hostbits` and `xbits`: named marks on a host (an IP address) or an
//! address pair that rules set and test, as Suricata's
//! `detect-hostbits.c` / `detect-xbits.c`: `set`, `unset`, `toggle`,
//! `isset`, `isnotset`, `noalert`. Hostbits track the packet's source
//! (the default) or destination and expire 300 s after being set; xbits
//! say `track ip_src|ip_dst|ip_pair` and `expire N` (default 30 s).
//! `xbits` on `ip_src`/`ip_dst` are hostbits (same names), as in Suricata.
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
/// Suricata's default xbits lifetime.
const XBITS_EXPIRE: u64 = 30;
/// Marks one thread keeps at most.
pub const MAX_ENTRIES: usize = 65_536;

/// One `hostbits` option; `id` is filled when the engine is built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hostbit {
    pub cmd: FlowbitCmd,
    pub name: String,
    pub id: u32,
    pub track: Track,
    pub expire: Duration,
}

/// What a bit is attached to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Track {
    Src,
    Dst,
    /// The address pair, either direction.
    Pair,
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
        track: if dst { Track::Dst } else { Track::Src },
        expire: EXPIRE,
    }))
}

/// Parses an `xbits` value: `cmd,name,track ip_src|ip_dst|ip_pair
/// [,expire N]`, or `noalert`.
pub fn parse_xbits(v: &str) -> Result<Parsed, OptError> {
    let parts: Vec<&str> = v.split(',').map(str::trim).collect();
    if parts.first() == Some(&"noalert") && parts.len() == 1 {
        return Ok(Parsed::NoAlert);
    }
    let (Some(cmd), Some(name)) = (parts.first(), parts.get(1)) else {
        return Err(OptError::Invalid("expected cmd,name,track ...".into()));
    };
    let Parsed::Op(mut bit) = parse(&format!("{cmd},{name}"))? else {
        return Err(OptError::Invalid("noalert takes no name".into()));
    };
    let mut track = None;
    bit.expire = Duration::from_secs(XBITS_EXPIRE);
    for o in parts.iter().skip(2) {
        let mut w = o.split_whitespace();
        match (w.next(), w.next(), w.next()) {
            (Some("track"), Some(t), None) => {
                track = Some(match t {
                    "ip_src" => Track::Src,
                    "ip_dst" => Track::Dst,
                    "ip_pair" => Track::Pair,
                    _ => return Err(OptError::Invalid(format!("unknown track `{t}`"))),
                })
            }
            (Some("expire"), Some(n), None) => {
                let n: u64 = n
                    .parse()
                    .ok()
                    .filter(|n| *n > 0 && *n <= u64::from(u32::MAX))
                    .ok_or_else(|| OptError::Invalid(format!("bad expire `{n}`")))?;
                bit.expire = Duration::from_secs(n);
            }
            _ => return Err(OptError::Invalid(format!("unknown xbits option `{o}`"))),
        }
    }
    bit.track = track
        .ok_or_else(|| OptError::Invalid("xbits needs `track ip_src|ip_dst|ip_pair`".into()))?;
    Ok(Parsed::Op(bit))
}

/// A bit's owner: a host (second address unspecified) or an ordered
/// address pair, and the bit.
type Key = (IpAddr, IpAddr, u32);

/// One thread's host and pair marks: key -> expiry.
#[derive(Debug, Default)]
pub struct HostBits {
    bits: HashMap<Key, Instant>,
}

impl HostBits {
    fn key(b: &Hostbit, src: IpAddr, dst: IpAddr) -> Key {
        let none = IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED);
        match b.track {
            Track::Src => (src, none, b.id),
            Track::Dst => (dst, none, b.id),
            Track::Pair => (src.min(dst), src.max(dst), b.id),
        }
    }

    fn is_set(&self, key: Key, now: Instant) -> bool {
        self.bits.get(&key).is_some_and(|&exp| exp > now)
    }

    /// True when all `isset`/`isnotset` conditions hold.
    pub fn check(&self, bits: &[Hostbit], src: IpAddr, dst: IpAddr, now: Instant) -> bool {
        bits.iter().all(|b| {
            let set = self.is_set(Self::key(b, src, dst), now);
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
            let key = Self::key(b, src, dst);
            let set = self.is_set(key, now);
            match (b.cmd, set) {
                (FlowbitCmd::Set, _) | (FlowbitCmd::Toggle, false) => {
                    self.insert(key, now + b.expire, now)
                }
                (FlowbitCmd::Unset, _) | (FlowbitCmd::Toggle, true) => {
                    self.bits.remove(&key);
                }
                _ => {}
            }
        }
    }

    fn insert(&mut self, key: Key, exp: Instant, now: Instant) {
        if self.bits.len() >= MAX_ENTRIES && !self.bits.contains_key(&key) {
            self.bits.retain(|_, exp| *exp > now);
            if self.bits.len() >= MAX_ENTRIES {
                return;
            }
        }
        self.bits.insert(key, exp);
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
        assert_eq!(op("toggle,abc,dst", 0).track, Track::Dst);
        assert_eq!(op("isset,abc", 0).track, Track::Src);
        let x = match parse_xbits("set,a, track ip_pair, expire 15").unwrap() {
            Parsed::Op(x) => x,
            Parsed::NoAlert => panic!(),
        };
        assert_eq!((x.track, x.expire), (Track::Pair, Duration::from_secs(15)));
        for bad in [
            "set,a",
            "set,a,track ip_any",
            "set,a,track ip_src,expire 0",
            "set,a,sideways",
        ] {
            assert!(parse_xbits(bad).is_err(), "{bad}");
        }
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
        // A pair bit holds in both directions, not for another pair.
        let Ok(Parsed::Op(mut pair)) = parse_xbits("set,p,track ip_pair,expire 5") else {
            panic!()
        };
        pair.id = 7;
        hb.apply(std::slice::from_ref(&pair), a, b, now);
        pair.cmd = FlowbitCmd::IsSet;
        assert!(hb.check(std::slice::from_ref(&pair), b, a, now));
        assert!(!hb.check(std::slice::from_ref(&pair), a, a, now));
        assert!(!hb.check(
            std::slice::from_ref(&pair),
            a,
            b,
            now + Duration::from_secs(5)
        ));
    }
}
