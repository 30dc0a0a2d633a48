//! DNS transactions: rules with a DNS part run here, once per transaction,
//! with the packet that carried it (see `super::super::dns`).
//!
//! Prefilter: a rule whose first `dns.query` list has a fast pattern (and
//! no transform but `dotprefix`) is a candidate only when the pattern
//! occurs in a query name with a dot in front (which covers both the plain
//! and the dot-prefixed buffer); other DNS rules are always candidates.

use super::*;
use crate::detect::dns::DnsBuf;
use crate::detect::http::Transform;

/// The candidate sources of the DNS rules.
#[derive(Debug, Default)]
pub(super) struct DnsPrefilter {
    patterns: PatternSet,
    always: Vec<u32>,
}

impl DnsPrefilter {
    pub(super) fn build(rules: &[Rule], dns_rules: &[u32]) -> DnsPrefilter {
        let mut pats: Vec<(u32, Vec<u8>, bool)> = Vec::new();
        let mut always = Vec::new();
        for &ri in dns_rules {
            let fast = rules
                .get(ri as usize)
                .and_then(|r| r.dns.as_deref())
                .and_then(|d| d.lists.iter().find(|l| l.buf == DnsBuf::Query))
                .filter(|l| l.transforms.iter().all(|t| *t == Transform::DotPrefix))
                .and_then(|l| l.contents.fast_pattern());
            match fast {
                Some((p, nocase)) if !p.is_empty() => pats.push((ri, p.to_vec(), nocase)),
                _ => always.push(ri),
            }
        }
        let entries: Vec<(u32, &[u8], bool)> = pats
            .iter()
            .map(|(r, p, n)| (*r, p.as_slice(), *n))
            .collect();
        DnsPrefilter {
            patterns: PatternSet::build(&entries),
            always,
        }
    }
}

impl Engine {
    pub(super) fn inspect_dns(&self, input: &DetectInput, fired: &mut Vec<u32>, out: &mut Matches) {
        let Some(d) = input.dns else { return };
        if d.marks.is_empty() || self.dns_rules.is_empty() {
            return;
        }
        let Some(pdir) = input.dir else { return };
        let pkt = input.pkt;
        let Some(ptuple) = Tuple::of_ported(pkt) else {
            return;
        };
        for &tx_id in &d.marks {
            let Some(tx) = d.tx(tx_id).filter(|t| t.dir == pdir) else {
                continue;
            };
            let mut cand = std::mem::take(&mut out.dns.cand);
            cand.clear();
            cand.extend_from_slice(&self.dns_prefilter.always);
            if !self.brute && tx.dir == Direction::ToServer {
                for q in &tx.msg.queries {
                    out.dns.name.clear();
                    out.dns.name.push(b'.');
                    out.dns.name.extend_from_slice(&q.name.value);
                    self.dns_prefilter
                        .patterns
                        .scan(&out.dns.name, &mut out.scan, |r| cand.push(r));
                }
            } else if self.brute {
                cand.clone_from(&self.dns_rules);
            }
            cand.sort_unstable();
            cand.dedup();
            self.inspect_dns_tx(input, tx, &cand, ptuple, pdir, fired, out);
            out.dns.cand = cand;
        }
    }

    /// Runs the candidate rules `cand` (in rank order) on one transaction.
    #[allow(clippy::too_many_arguments)]
    fn inspect_dns_tx(
        &self,
        input: &DetectInput,
        tx: &crate::app::dns::DnsTx,
        cand: &[u32],
        ptuple: Tuple,
        pdir: Direction,
        fired: &mut Vec<u32>,
        out: &mut Matches,
    ) {
        let pkt = input.pkt;
        let tx_id = tx.tx_id;
        {
            let tuple = if tx.dir != pdir {
                ptuple.swapped()
            } else {
                ptuple
            };
            for &ri in cand {
                let (Some(rule), Some(meta)) =
                    (self.rules.get(ri as usize), self.metas.get(ri as usize))
                else {
                    continue;
                };
                let Some(dr) = rule.dns.as_deref() else {
                    continue;
                };
                if dr.dir.is_some_and(|d| d != tx.dir) || !rule.proto.accepts(pkt.ip.proto) {
                    continue;
                }
                let f = &rule.flow;
                if f.dir.is_some_and(|d| d != tx.dir) || f.established == Some(false) {
                    continue;
                }
                if f.established == Some(true) && !input.established {
                    continue;
                }
                if !rule.flowbits.is_empty() && !flowbits::check(&rule.flowbits, fired) {
                    continue;
                }
                if !tuple_matches(rule, &tuple) {
                    continue;
                }
                if !crate::detect::dns::matches(dr, tx, &mut out.dns) {
                    continue;
                }
                record_tx_match(rule, meta, ri, input, fired, out, tx_id, tx.dir);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::app::dns::records::tests::{query, response};
    use crate::app::dns::DnsState;
    use crate::decode::{decode, testpkt};
    use crate::detect::{DetectInput, Engine, Matches, Vars};
    use crate::packet::{Direction, Mode, Timestamp};

    const RULES: &str = "\
alert dns any any -> any any (msg:\"dot\"; dns.query; dotprefix; content:\".evil.example\"; nocase; endswith; fast_pattern; sid:1;)
alert dns any any -> any any (msg:\"plain\"; dns.query; content:\"evil\"; sid:2;)
alert dns any any -> any any (msg:\"lower\"; dns.query; to_lowercase; content:\"www.evil\"; sid:3;)
alert dns any any -> any any (msg:\"opcode\"; dns.opcode:0; sid:4;)
alert dns any any -> any any (msg:\"other\"; dns.query; content:\"good.example\"; sid:5;)
drop dns any any -> any any (msg:\"resp\"; dns.opcode:0; flow:to_client; sid:6;)
";

    fn run(e: &Engine, d: &DnsState, dir: Direction) -> Vec<(u32, u64)> {
        let (src, dst, sp, dp) = match dir {
            Direction::ToServer => ("10.0.0.1", "10.0.0.53", 4000, 53),
            Direction::ToClient => ("10.0.0.53", "10.0.0.1", 53, 4000),
        };
        let bytes = testpkt::ip(src, dst, 17, &testpkt::udp_datagram(sp, dp, b"x"));
        let pkt = decode(&bytes).unwrap();
        let input = DetectInput {
            mode: Mode::Ips,
            pkt: &pkt,
            dir: Some(dir),
            established: true,
            stream: &[],
            ssh_client: None,
            ssh_server: None,
            app_is_ssh: false,
            pseudo: false,
            http: None,
            tls: None,
            dns: Some(d),
            ts: Timestamp::default(),
            stream_size: None,
        };
        let mut m = Matches::new();
        e.inspect(&input, &mut Vec::new(), &mut m);
        let mut out: Vec<(u32, u64)> = m
            .hits
            .iter()
            .map(|h| (e.rule(h.rule).sid, h.tx_id))
            .collect();
        out.sort_unstable();
        out
    }

    #[test]
    fn prefilter_gives_the_same_results_as_brute_force() {
        let (mut e, r) = Engine::load_str(RULES, "t.rules", &Vars::default());
        assert_eq!((r.loaded, r.skipped), (6, 0), "{:?}", r.errors);
        let mut d = DnsState::new();
        d.feed_udp(Direction::ToServer, &query(1, "WWW.Evil.Example", 1));
        d.feed_udp(
            Direction::ToClient,
            &response(1, "www.evil.example", &[(1, vec![1, 2, 3, 4])]),
        );
        let q = run(&e, &d, Direction::ToServer);
        let a = run(&e, &d, Direction::ToClient);
        assert_eq!(q, vec![(1, 0), (3, 0), (4, 0)]);
        assert_eq!(a, vec![(4, 1), (6, 1)]);
        e.set_brute_force(true);
        assert_eq!(run(&e, &d, Direction::ToServer), q);
        assert_eq!(run(&e, &d, Direction::ToClient), a);
        // Inspected once per direction: the worker clears the marks.
        d.inspected(Direction::ToServer);
        e.set_brute_force(false);
        assert!(run(&e, &d, Direction::ToServer).is_empty());
    }
}
