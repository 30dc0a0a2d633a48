//! Who must never be banned: `allow`, `home_net`, the gateway's own
//! addresses (unless `allow_own`), and addresses that are not hosts.
//! Checked before every ban and every restore.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv6Addr};

use meerkat_shared::net::{fold_mapped, NetList};

use crate::config::Config;

/// Why an address may not be banned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Allow,
    HomeNet,
    Own,
    NotAHost,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Refusal::Allow => "it is in `allow`",
            Refusal::HomeNet => "it is in `home_net` (a protected host)",
            Refusal::Own => {
                "it is an address of this gateway (set daemon.allow_own = true to override)"
            }
            Refusal::NotAHost => "it is not a unicast host address",
        })
    }
}

#[derive(Debug, Clone, Default)]
pub struct Guard {
    allow: NetList,
    home_net: NetList,
    own: HashSet<IpAddr>,
    allow_own: bool,
}

impl Guard {
    pub fn new(
        allow: NetList,
        home_net: NetList,
        own: impl IntoIterator<Item = IpAddr>,
        allow_own: bool,
    ) -> Guard {
        Guard {
            allow,
            home_net,
            own: own.into_iter().map(fold_mapped).collect(),
            allow_own,
        }
    }

    /// Builds the guard for a configuration, detecting local addresses
    /// when `daemon.detect_own` is on.
    pub fn from_config(c: &Config) -> Guard {
        let mut own = c.daemon.gateway_addresses.clone();
        if c.daemon.detect_own {
            own.extend(local_addresses());
        }
        Guard::new(c.allow.clone(), c.home_net.clone(), own, c.daemon.allow_own)
    }

    pub fn check(&self, ip: IpAddr) -> Result<(), Refusal> {
        let ip = fold_mapped(ip);
        if ip.is_unspecified() || ip.is_multicast() || ip == IpAddr::from([255, 255, 255, 255]) {
            return Err(Refusal::NotAHost);
        }
        if self.allow.contains(ip) {
            return Err(Refusal::Allow);
        }
        if self.home_net.contains(ip) {
            return Err(Refusal::HomeNet);
        }
        if !self.allow_own && self.own.contains(&ip) {
            return Err(Refusal::Own);
        }
        Ok(())
    }

    pub fn own_count(&self) -> usize {
        self.own.len()
    }
}

/// Addresses configured on this host's interfaces (in the current network
/// namespace), read from procfs: IPv4 from `/proc/net/fib_trie` local host
/// routes, IPv6 from `/proc/net/if_inet6`. Missing files give nothing.
pub fn local_addresses() -> Vec<IpAddr> {
    let mut out = Vec::new();
    if let Ok(t) = std::fs::read_to_string("/proc/net/fib_trie") {
        out.extend(parse_fib_trie(&t));
    }
    if let Ok(t) = std::fs::read_to_string("/proc/net/if_inet6") {
        out.extend(parse_if_inet6(&t));
    }
    out.sort();
    out.dedup();
    out
}

fn parse_fib_trie(text: &str) -> Vec<IpAddr> {
    let mut out = Vec::new();
    let mut last: Option<IpAddr> = None;
    for line in text.lines() {
        let t = line.trim_start_matches([' ', '|', '+', '-', '`']).trim();
        if let Ok(ip) = t.parse::<IpAddr>() {
            last = Some(ip);
        } else if t.contains("/32 host LOCAL") {
            if let Some(ip) = last {
                out.push(ip);
            }
        }
    }
    out
}

fn parse_if_inet6(text: &str) -> Vec<IpAddr> {
    text.lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter_map(|hex| {
            u128::from_str_radix(hex, 16)
                .ok()
                .filter(|_| hex.len() == 32)
        })
        .map(|v| IpAddr::V6(Ipv6Addr::from(v)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_protected_addresses() {
        let g = Guard::new(
            NetList::parse(&["127.0.0.0/8", "::1/128"]).unwrap(),
            NetList::parse(&["203.0.113.0/24"]).unwrap(),
            ["192.0.2.1".parse().unwrap()],
            false,
        );
        assert_eq!(g.check("127.0.0.1".parse().unwrap()), Err(Refusal::Allow));
        assert_eq!(
            g.check("::ffff:127.0.0.1".parse().unwrap()),
            Err(Refusal::Allow)
        );
        assert_eq!(
            g.check("203.0.113.77".parse().unwrap()),
            Err(Refusal::HomeNet)
        );
        assert_eq!(
            g.check("::ffff:192.0.2.1".parse().unwrap()),
            Err(Refusal::Own)
        );
        assert_eq!(g.check("0.0.0.0".parse().unwrap()), Err(Refusal::NotAHost));
        assert_eq!(g.check("ff02::1".parse().unwrap()), Err(Refusal::NotAHost));
        assert_eq!(g.check("198.51.100.7".parse().unwrap()), Ok(()));
        assert_eq!(g.check("2001:db8::7".parse().unwrap()), Ok(()));
        let over = Guard::new(
            NetList::default(),
            NetList::default(),
            ["192.0.2.1".parse().unwrap()],
            true,
        );
        assert_eq!(over.check("192.0.2.1".parse().unwrap()), Ok(()));
    }

    #[test]
    fn parses_procfs() {
        let fib = "Main:\n  +-- 0.0.0.0/0 3 0 5\n     |-- 192.0.2.10\n        /32 host LOCAL\n     |-- 192.0.2.255\n        /32 link BROADCAST\n";
        assert_eq!(
            parse_fib_trie(fib),
            vec!["192.0.2.10".parse::<IpAddr>().unwrap()]
        );
        let v6 = "20010db8000000000000000000000001 02 40 00 80   eth0\nzz 01\n";
        assert_eq!(
            parse_if_inet6(v6),
            vec!["2001:db8::1".parse::<IpAddr>().unwrap()]
        );
    }
}
