//! Rule addresses: CIDR blocks (IPv4/IPv6), single addresses, ranges
//! `a-b`, in Suricata's list syntax (see [`super::expr`]).

use std::net::IpAddr;

use meerkat_shared::net::{fold_mapped, parse_ip, IpNet};

use super::expr::{self, Expr, ExprError};

/// One address entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddrLeaf {
    Net(IpNet),
    /// Inclusive range of the same family.
    Range(IpAddr, IpAddr),
}

pub type AddrExpr = Expr<AddrLeaf>;

impl AddrLeaf {
    pub fn contains(&self, ip: IpAddr) -> bool {
        match self {
            AddrLeaf::Net(n) => n.contains(ip),
            AddrLeaf::Range(lo, hi) => {
                let ip = fold_mapped(ip);
                match (lo, hi, ip) {
                    (IpAddr::V4(a), IpAddr::V4(b), IpAddr::V4(x)) => *a <= x && x <= *b,
                    (IpAddr::V6(a), IpAddr::V6(b), IpAddr::V6(x)) => *a <= x && x <= *b,
                    _ => false,
                }
            }
        }
    }
}

fn parse_leaf(s: &str) -> Result<AddrLeaf, String> {
    if let Some((a, b)) = s.split_once('-') {
        let lo = parse_ip(a).map_err(|e| e.to_string())?;
        let hi = parse_ip(b).map_err(|e| e.to_string())?;
        return match (lo, hi) {
            (IpAddr::V4(x), IpAddr::V4(y)) if x <= y => Ok(AddrLeaf::Range(lo, hi)),
            (IpAddr::V6(x), IpAddr::V6(y)) if x <= y => Ok(AddrLeaf::Range(lo, hi)),
            _ => Err("a range needs two addresses of one family, low to high".into()),
        };
    }
    s.parse::<IpNet>()
        .map(AddrLeaf::Net)
        .map_err(|e| e.to_string())
}

/// Parses an address expression; `lookup` resolves address variables.
pub fn parse(s: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<AddrExpr, ExprError> {
    expr::parse(s, &parse_leaf, lookup)
}

/// True when the expression accepts `ip`.
pub fn matches(e: &AddrExpr, ip: IpAddr) -> bool {
    e.matches(&|l: &AddrLeaf| l.contains(ip))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(n: &str) -> Option<String> {
        match n {
            "HOME_NET" => Some("[192.168.0.0/16,10.0.0.0/8]".into()),
            "EXTERNAL_NET" => Some("!$HOME_NET".into()),
            _ => None,
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn cidr_v4_v6_and_nested_negation() {
        let e = parse(
            "[192.0.2.0/24,2001:db8::/32,![192.0.2.7,198.51.100.1]]",
            &vars,
        )
        .unwrap();
        assert!(matches(&e, ip("192.0.2.1")));
        assert!(matches(&e, ip("2001:db8::1")));
        assert!(matches(&e, ip("::ffff:192.0.2.9")));
        assert!(!matches(&e, ip("192.0.2.7")));
        assert!(!matches(&e, ip("203.0.113.1")));
    }

    #[test]
    fn variables_and_external_net() {
        let home = parse("$HOME_NET", &vars).unwrap();
        let ext = parse("$EXTERNAL_NET", &vars).unwrap();
        assert!(matches(&home, ip("10.1.2.3")));
        assert!(!matches(&ext, ip("10.1.2.3")));
        assert!(matches(&ext, ip("203.0.113.5")));
        let both = parse("[$HOME_NET,203.0.113.0/24]", &vars).unwrap();
        assert!(matches(&both, ip("203.0.113.5")));
    }

    #[test]
    fn ranges_and_bad_values() {
        let e = parse("192.0.2.10-192.0.2.20", &vars).unwrap();
        assert!(matches(&e, ip("192.0.2.15")) && !matches(&e, ip("192.0.2.21")));
        assert!(parse("192.0.2.300", &vars).is_err());
        assert!(parse("192.0.2.0/33", &vars).is_err());
        assert!(parse("$NOPE", &vars).is_err());
        assert!(parse("192.0.2.20-192.0.2.1", &vars).is_err());
    }
}
