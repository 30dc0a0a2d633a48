//! DNS transaction detection: the `dns.query` sticky buffer (and its
//! legacy name `dns_query`) with transforms and `bsize`, `dns.opcode`, and
//! `app-layer-event:dns.*`, matched against one
//! [`crate::app::dns::DnsTx`].
//!
//! A rule with any of these is a transaction rule bound to app_proto dns,
//! run once per transaction when the transaction is parsed. `dns.query` is
//! a multi-buffer: each question's name is inspected on its own, and the
//! buffer matches when one of them does. Queries are to_server
//! transactions, so a rule reading `dns.query` inspects to_server only.

use super::content::ContentList;
use super::http::Transform;
use super::rule::NumTest;
use crate::app::dns::{DnsEvent, DnsTx};
use crate::packet::Direction;

/// One `dns.query` list of a rule.
#[derive(Debug)]
pub struct DnsList {
    pub transforms: Vec<Transform>,
    pub contents: ContentList,
    pub bsize: Option<NumTest>,
}

/// `dns.opcode`: the opcode, negated or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Opcode {
    pub opcode: u8,
    pub negated: bool,
}

impl Opcode {
    /// Suricata's syntax: `N` or `!N` (spaces allowed).
    pub fn parse(v: &str) -> Result<Opcode, String> {
        let t = v.trim();
        let (negated, n) = match t.strip_prefix('!') {
            Some(r) => (true, r.trim()),
            None => (false, t),
        };
        let opcode = n
            .parse::<u8>()
            .map_err(|_| format!("`{n}` is not an opcode (0-255, optionally negated with !)"))?;
        Ok(Opcode { opcode, negated })
    }

    pub fn matches(self, opcode: u8) -> bool {
        (opcode == self.opcode) != self.negated
    }
}

/// The DNS part of a rule.
#[derive(Debug)]
pub struct DnsRule {
    pub lists: Vec<DnsList>,
    pub opcode: Option<Opcode>,
    /// `app-layer-event:dns.<event>`: all must be set on the transaction.
    pub events: Vec<DnsEvent>,
    /// The direction inspected (`None`: both).
    pub dir: Option<Direction>,
}

impl DnsRule {
    pub fn new(
        lists: Vec<DnsList>,
        opcode: Option<Opcode>,
        events: Vec<DnsEvent>,
        flow_dir: Option<Direction>,
    ) -> DnsRule {
        let dir = if lists.is_empty() {
            flow_dir
        } else {
            Some(Direction::ToServer)
        };
        DnsRule {
            lists,
            opcode,
            events,
            dir,
        }
    }
}

/// Scratch buffers for [`matches`], kept per thread.
#[derive(Debug, Default)]
pub struct Scratch {
    buf: Vec<u8>,
    lower: Vec<u8>,
    tmp: Vec<u8>,
}

/// One list against one buffer.
fn list_matches(l: &DnsList, value: &[u8], s: &mut Scratch) -> bool {
    s.buf.clear();
    s.buf.extend_from_slice(value);
    for t in &l.transforms {
        t.apply(&mut s.buf, &mut s.tmp);
    }
    if l.bsize.is_some_and(|b| !b.matches(s.buf.len() as u64)) {
        return false;
    }
    if l.contents.is_empty() {
        return true;
    }
    let lower = if l.contents.needs_lower() {
        s.lower.clear();
        s.lower.extend(s.buf.iter().map(u8::to_ascii_lowercase));
        &s.lower[..]
    } else {
        &s.buf[..]
    };
    l.contents.matches(&s.buf, lower, 0)
}

/// The DNS part of `rule` matches transaction `tx`.
pub fn matches(rule: &DnsRule, tx: &DnsTx, s: &mut Scratch) -> bool {
    if rule.dir.is_some_and(|d| d != tx.dir) {
        return false;
    }
    if let Some(op) = rule.opcode {
        if !op.matches(tx.msg.header.opcode()) {
            return false;
        }
    }
    if !rule.events.iter().all(|e| tx.has_event(*e)) {
        return false;
    }
    for l in &rule.lists {
        // Suricata skips empty names in this buffer.
        let any = tx
            .msg
            .queries
            .iter()
            .filter(|q| !q.name.value.is_empty())
            .any(|q| list_matches(l, &q.name.value, s));
        if !any {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opcode_syntax() {
        assert_eq!(
            Opcode::parse(" ! 4"),
            Ok(Opcode {
                opcode: 4,
                negated: true
            })
        );
        assert!(Opcode::parse("!").is_err() && Opcode::parse("x").is_err());
        assert!(Opcode::parse("4").unwrap().matches(4));
        assert!(Opcode::parse("!0").unwrap().matches(4));
        assert!(!Opcode::parse("!0").unwrap().matches(0));
    }
}
