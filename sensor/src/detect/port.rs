//! Rule ports: `80`, ranges `1024:`, `:1023`, `1:5`, in Suricata's list
//! syntax (see [`super::expr`]).

use super::expr::{self, Expr, ExprError};

/// An inclusive port range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortRange {
    pub lo: u16,
    pub hi: u16,
}

pub type PortExpr = Expr<PortRange>;

fn port_num(s: &str) -> Result<u16, String> {
    s.trim()
        .parse::<u16>()
        .map_err(|_| format!("`{s}` is not a port number (0-65535)"))
}

fn parse_leaf(s: &str) -> Result<PortRange, String> {
    let r = match s.split_once(':') {
        None => {
            let p = port_num(s)?;
            PortRange { lo: p, hi: p }
        }
        Some((a, b)) => {
            let lo = if a.is_empty() { 0 } else { port_num(a)? };
            let hi = if b.is_empty() { u16::MAX } else { port_num(b)? };
            PortRange { lo, hi }
        }
    };
    if r.lo > r.hi {
        return Err("range runs from high to low".into());
    }
    Ok(r)
}

/// Parses a port expression; `lookup` resolves port variables.
pub fn parse(s: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<PortExpr, ExprError> {
    expr::parse(s, &parse_leaf, lookup)
}

/// True when the expression accepts `port`.
pub fn matches(e: &PortExpr, port: u16) -> bool {
    e.matches(&|r: &PortRange| r.lo <= port && port <= r.hi)
}

/// The ports a purely positive expression lists, when there are at most
/// `limit` of them (for prefilter buckets).
pub fn small_port_set(e: &PortExpr, limit: usize) -> Option<Vec<u16>> {
    let leaves = e.positive_leaves()?;
    let mut out = Vec::new();
    for r in leaves {
        let n = (r.hi - r.lo) as usize + 1;
        if out.len() + n > limit {
            return None;
        }
        out.extend(r.lo..=r.hi);
    }
    out.sort_unstable();
    out.dedup();
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(n: &str) -> Option<String> {
        match n {
            "HTTP_PORTS" => Some("[80,8080]".into()),
            "SHELLCODE_PORTS" => Some("!80".into()),
            _ => None,
        }
    }

    #[test]
    fn ranges_lists_negation() {
        let e = parse("1024:", &vars).unwrap();
        assert!(matches(&e, 1024) && matches(&e, 65535) && !matches(&e, 1023));
        let e = parse(":1023", &vars).unwrap();
        assert!(matches(&e, 0) && matches(&e, 1023) && !matches(&e, 1024));
        let e = parse("[1:5,22,!3]", &vars).unwrap();
        assert!(matches(&e, 1) && matches(&e, 5) && matches(&e, 22));
        assert!(!matches(&e, 3) && !matches(&e, 6));
        let e = parse("!$HTTP_PORTS", &vars).unwrap();
        assert!(!matches(&e, 8080) && matches(&e, 22));
        let e = parse("$SHELLCODE_PORTS", &vars).unwrap();
        assert!(!matches(&e, 80) && matches(&e, 81));
    }

    #[test]
    fn bad_ports() {
        assert!(parse("65536", &vars).is_err());
        assert!(parse("5:1", &vars).is_err());
        assert!(parse("http", &vars).is_err());
        assert!(parse("[80,", &vars).is_err());
    }

    #[test]
    fn buckets() {
        let e = parse("[$HTTP_PORTS,1:3]", &vars).unwrap();
        assert_eq!(small_port_set(&e, 8), Some(vec![1, 2, 3, 80, 8080]));
        assert_eq!(small_port_set(&e, 4), None);
        assert_eq!(small_port_set(&parse("any", &vars).unwrap(), 8), None);
    }
}
