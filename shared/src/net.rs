//! IP networks (CIDR blocks) and address parsing.
//!
//! Addresses are always parsed, never compared as text. IPv4-mapped IPv6
//! addresses (`::ffff:192.0.2.1`) are folded to IPv4 so that one host has
//! one identity whichever way a log wrote it.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// Why an address or network did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NetError {
    #[error("`{0}` is not an IPv4 or IPv6 address")]
    BadAddress(String),
    #[error("`{0}`: prefix length must be a number from 0 to {1}")]
    BadPrefix(String, u8),
}

/// Parses an address, trims whitespace and folds IPv4-mapped IPv6 to IPv4.
pub fn parse_ip(s: &str) -> Result<IpAddr, NetError> {
    let t = s.trim();
    // Accept bracketed IPv6 as some tools write it.
    let t = t
        .strip_prefix('[')
        .and_then(|x| x.strip_suffix(']'))
        .unwrap_or(t);
    t.parse::<IpAddr>()
        .map(fold_mapped)
        .map_err(|_| NetError::BadAddress(s.to_string()))
}

/// Folds `::ffff:a.b.c.d` to `a.b.c.d`; other addresses are returned as is.
pub fn fold_mapped(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        v4 => v4,
    }
}

/// An IP network: an address with a prefix length. The address is stored
/// with its host bits cleared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

impl IpNet {
    /// Builds a network, clearing host bits. `prefix` is clamped to the
    /// family's width.
    pub fn new(addr: IpAddr, prefix: u8) -> IpNet {
        let addr = fold_mapped(addr);
        let max = max_prefix(&addr);
        let prefix = prefix.min(max);
        IpNet {
            addr: mask(addr, prefix),
            prefix,
        }
    }

    /// A network holding exactly one host.
    pub fn host(addr: IpAddr) -> IpNet {
        let addr = fold_mapped(addr);
        IpNet::new(addr, max_prefix(&addr))
    }

    pub fn addr(&self) -> IpAddr {
        self.addr
    }

    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// True when `ip` (after folding) lies inside this network. An IPv4
    /// address is never inside an IPv6 network and vice versa.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = fold_mapped(ip);
        match (self.addr, ip) {
            (IpAddr::V4(_), IpAddr::V4(_)) | (IpAddr::V6(_), IpAddr::V6(_)) => {
                mask(ip, self.prefix) == self.addr
            }
            _ => false,
        }
    }
}

fn max_prefix(addr: &IpAddr) -> u8 {
    match addr {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => 128,
    }
}

fn mask(addr: IpAddr, prefix: u8) -> IpAddr {
    match addr {
        IpAddr::V4(a) => {
            let bits = u32::from(a);
            let m = if prefix == 0 {
                0
            } else {
                u32::MAX << (32 - prefix as u32)
            };
            IpAddr::V4(Ipv4Addr::from(bits & m))
        }
        IpAddr::V6(a) => {
            let bits = u128::from(a);
            let m = if prefix == 0 {
                0
            } else {
                u128::MAX << (128 - prefix as u32)
            };
            IpAddr::V6(Ipv6Addr::from(bits & m))
        }
    }
}

impl FromStr for IpNet {
    type Err = NetError;

    /// Parses `192.0.2.0/24`, `2001:db8::/32` or a bare address (a host).
    fn from_str(s: &str) -> Result<IpNet, NetError> {
        let t = s.trim();
        match t.split_once('/') {
            None => Ok(IpNet::host(parse_ip(t)?)),
            Some((a, p)) => {
                let raw: IpAddr = a
                    .trim()
                    .parse()
                    .map_err(|_| NetError::BadAddress(s.to_string()))?;
                let max = max_prefix(&raw);
                let prefix: u8 = p
                    .trim()
                    .parse()
                    .ok()
                    .filter(|n| *n <= max)
                    .ok_or_else(|| NetError::BadPrefix(s.to_string(), max))?;
                // A mapped network ::ffff:a.b.c.d/n becomes a.b.c.d/(n-96).
                if let IpAddr::V6(v6) = raw {
                    if let Some(v4) = v6.to_ipv4_mapped() {
                        if prefix >= 96 {
                            return Ok(IpNet::new(IpAddr::V4(v4), prefix - 96));
                        }
                    }
                }
                Ok(IpNet {
                    addr: mask(raw, prefix),
                    prefix,
                })
            }
        }
    }
}

impl fmt::Display for IpNet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// A list of networks, tested in order. Small lists are fastest as a plain
/// vector.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetList(pub Vec<IpNet>);

impl NetList {
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = fold_mapped(ip);
        self.0.iter().any(|n| n.contains(ip))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Parses each entry; the error names the first bad one.
    pub fn parse<S: AsRef<str>>(items: &[S]) -> Result<NetList, NetError> {
        items
            .iter()
            .map(|s| s.as_ref().parse())
            .collect::<Result<Vec<_>, _>>()
            .map(NetList)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_masks() {
        let n: IpNet = "192.0.2.77/24".parse().unwrap();
        assert_eq!(n.to_string(), "192.0.2.0/24");
        assert!(n.contains("192.0.2.1".parse().unwrap()));
        assert!(!n.contains("192.0.3.1".parse().unwrap()));
        assert!(!n.contains("2001:db8::1".parse().unwrap()));
    }

    #[test]
    fn folds_mapped_addresses() {
        assert_eq!(
            parse_ip("::ffff:198.51.100.7").unwrap(),
            "198.51.100.7".parse::<IpAddr>().unwrap()
        );
        let n: IpNet = "::ffff:198.51.100.0/120".parse().unwrap();
        assert_eq!(n.to_string(), "198.51.100.0/24");
        let host: IpNet = "::ffff:203.0.113.9".parse().unwrap();
        assert_eq!(host.to_string(), "203.0.113.9/32");
        assert!(n.contains("::ffff:198.51.100.9".parse().unwrap()));
    }

    #[test]
    fn ipv6_networks() {
        let n: IpNet = "2001:db8::/32".parse().unwrap();
        assert!(n.contains("2001:db8:1::5".parse().unwrap()));
        assert!(!n.contains("2001:db9::5".parse().unwrap()));
        let all: IpNet = "::/0".parse().unwrap();
        assert!(all.contains("2001:db8::1".parse().unwrap()));
    }

    #[test]
    fn rejects_bad_input() {
        assert!(matches!(
            "300.1.1.1".parse::<IpNet>(),
            Err(NetError::BadAddress(_))
        ));
        assert!(matches!(
            "192.0.2.0/33".parse::<IpNet>(),
            Err(NetError::BadPrefix(_, 32))
        ));
        assert!(matches!(
            "192.0.2.0/x".parse::<IpNet>(),
            Err(NetError::BadPrefix(_, 32))
        ));
        assert!(parse_ip("not-an-ip").is_err());
        assert_eq!(
            parse_ip(" [2001:db8::1] ").unwrap(),
            "2001:db8::1".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn list_contains() {
        let l = NetList::parse(&["127.0.0.0/8", "::1/128"]).unwrap();
        assert!(l.contains("127.1.2.3".parse().unwrap()));
        assert!(l.contains("::1".parse().unwrap()));
        assert!(l.contains("::ffff:127.0.0.1".parse().unwrap()));
        assert!(!l.contains("192.0.2.1".parse().unwrap()));
    }
}
