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

/// What a list inspects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DnsBuf {
    /// `dns.query`: each question's name.
    Query,
    /// `frame:dns.pdu`: the whole message (TCP: without its length).
    Pdu,
}

/// One `dns.query` (or `frame:dns.pdu`) list of a rule.
#[derive(Debug)]
pub struct DnsList {
    pub buf: DnsBuf,
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
        let dir = if lists.iter().any(|l| l.buf == DnsBuf::Query) {
            Some(Direction::ToServer)
        } else {
            flow_dir
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
    /// Candidate rules of one transaction (engine prefilter).
    pub(crate) cand: Vec<u32>,
    /// A query name with a dot in front (engine prefilter).
    pub(crate) name: Vec<u8>,
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
        if l.buf == DnsBuf::Pdu {
            if !list_matches(l, &tx.raw, s) {
                return false;
            }
            continue;
        }
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

    use crate::app::dns::records::tests::{query, response};
    use crate::app::dns::DnsState;
    use crate::detect::parse::{parse_rule, Parsed};
    use crate::detect::rule::{Kind, Rule, RuleProto};
    use crate::detect::Vars;

    fn rule(text: &str) -> Rule {
        match parse_rule(text, "t.rules:1", &Vars::default()) {
            Parsed::Ok(r, _) => *r,
            other => panic!("{text}: {other:?}"),
        }
    }

    fn hit(text: &str, d: &DnsState, tx_id: u64) -> bool {
        let r = rule(text);
        let tx = d.tx(tx_id).unwrap();
        matches(r.dns.as_deref().unwrap(), tx, &mut Scratch::default())
    }

    #[test]
    fn et_open_style_rules() {
        let mut d = DnsState::new();
        d.feed_udp(Direction::ToServer, &query(1, "Evil.Example.COM", 1));
        d.feed_udp(
            Direction::ToClient,
            &response(1, "evil.example.com", &[(1, vec![1, 2, 3, 4])]),
        );
        let r = rule("alert dns $HOME_NET any -> any any (msg:\"x\"; dns.query; dotprefix; content:\".example.com\"; nocase; endswith; fast_pattern; sid:1;)");
        assert_eq!((r.proto, r.kind), (RuleProto::Dns, Kind::Tx));
        for (text, want) in [
            ("alert dns any any -> any any (dns.query; dotprefix; content:\".example.com\"; nocase; endswith; sid:1;)", true),
            ("alert dns any any -> any any (dns.query; content:\"example.com\"; endswith; sid:1;)", false),
            ("alert dns any any -> any any (dns.query; content:\"evil\"; nocase; bsize:16; sid:1;)", true),
            ("alert dns any any -> any any (dns.query; bsize:<10; sid:1;)", false),
            ("alert dns any any -> any any (dns_query; content:\"Evil.Example.COM\"; isdataat:!1,relative; sid:1;)", true),
            ("alert dns any any -> any any (dns.query; pcre:\"/^[a-z]+\\.example\\.com$/i\"; sid:1;)", true),
            ("alert dns any any -> any any (dns.opcode:0; sid:1;)", true),
            ("alert dns any any -> any any (dns.opcode:!0; sid:1;)", false),
        ] {
            assert_eq!(hit(text, &d, 0), want, "{text}");
        }
        // frame:dns.pdu: the message itself, in the rule's direction.
        assert!(hit("alert udp any any -> any any (frame:dns.pdu; content:\"|01 00 00 01|\"; offset:2; depth:4; sid:1;)", &d, 0));
        assert!(hit("alert udp any any -> any any (frame:dns.pdu; content:\"|81 80|\"; offset:2; depth:2; sid:1;)", &d, 1));
        assert!(!hit("alert udp any any -> any any (flow:to_server; frame:dns.pdu; content:\"|81 80|\"; sid:1;)", &d, 1));
        assert!(matches!(
            parse_rule(
                "alert tcp any any -> any any (frame:http1.request; content:\"x\"; sid:1;)",
                "t:1",
                &Vars::default()
            ),
            Parsed::Unsupported { .. }
        ));
        // dns.query reads queries only; opcode rules see responses too.
        assert!(!hit(
            "alert dns any any -> any any (dns.query; content:\"evil\"; nocase; sid:1;)",
            &d,
            1
        ));
        assert!(hit(
            "alert dns any any -> any any (dns.opcode:0; sid:1;)",
            &d,
            1
        ));
        assert!(!hit(
            "alert dns any any -> any any (dns.opcode:0; flow:to_server; sid:1;)",
            &d,
            1
        ));
    }

    #[test]
    fn app_layer_events_and_unsupported_mixes() {
        let mut d = DnsState::new();
        let mut q = query(5, "z.example", 1);
        q[3] |= 0x40;
        d.feed_udp(Direction::ToServer, &q);
        assert!(hit(
            "alert dns any any -> any any (app-layer-event:dns.z_flag_set; sid:1;)",
            &d,
            0
        ));
        assert!(!hit(
            "alert dns any any -> any any (app-layer-event:dns.malformed_data; sid:1;)",
            &d,
            0
        ));
        for text in [
            "alert dns any any -> any any (app-layer-event:dns.not_a_request; sid:1;)",
            "alert dns any any -> any any (content:\"x\"; dns.query; content:\"y\"; sid:1;)",
        ] {
            assert!(
                matches!(
                    parse_rule(text, "t:1", &Vars::default()),
                    Parsed::Unsupported { .. }
                ),
                "{text}"
            );
        }
        // Payload content on protocol dns: a payload rule bound to DNS flows.
        let r = rule("alert dns any any -> any any (content:\"suricata|02|\"; sid:1;)");
        assert_eq!((r.kind, r.dns.is_none()), (Kind::Payload, true));
        assert!(r.proto.accepts(17) && r.proto.accepts(6) && !r.proto.accepts(1));
    }

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
