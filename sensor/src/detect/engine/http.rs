//! HTTP transactions: rules with an HTTP part run here, once per
//! transaction and direction, at the inspection points the app layer
//! marked (see `crate::app::http::Mark` and `super::super::http`).
//!
//! Prefilter ([`HttpPrefilter`]): each rule is keyed on one fast pattern,
//! the longest among its buffers' fast patterns (Suricata's choice when no
//! `fast_pattern` says otherwise; within a buffer the content list already
//! honours `fast_pattern`). Rules are grouped by the buffer and transforms
//! of that pattern, one automaton per group; at an inspection point each
//! group's buffer is built once, scanned once, and only the rules whose
//! pattern occurs are evaluated, beside the rules without a fast pattern
//! (always candidates). Every list of a rule must match for the rule to
//! match, so the candidates are a superset of the matches.

use super::*;
use crate::app::http::HttpTx;
use crate::detect::http::{self as h, HttpBuf, Transform};

/// One group: the rules whose fast pattern is in `buf` after `transforms`.
#[derive(Debug)]
struct Group {
    buf: HttpBuf,
    transforms: Vec<Transform>,
    patterns: PatternSet,
}

/// The candidate sources of the HTTP rules.
#[derive(Debug, Default)]
pub(super) struct HttpPrefilter {
    groups: Vec<Group>,
    always: Vec<u32>,
}

/// Per-thread scratch of the prefilter.
#[derive(Debug, Default)]
pub struct Scratch {
    cand: Vec<u32>,
    buf: Vec<u8>,
    tmp: Vec<u8>,
    scan: ScanScratch,
}

impl HttpPrefilter {
    pub(super) fn build(rules: &[Rule], http_rules: &[u32]) -> HttpPrefilter {
        let mut keyed = Vec::new();
        let mut always = Vec::new();
        for &ri in http_rules {
            let fast = rules
                .get(ri as usize)
                .and_then(|r| r.http.as_deref())
                .and_then(|hr| {
                    hr.lists
                        .iter()
                        .filter_map(|l| {
                            let (p, nocase) = l.contents.fast_pattern()?;
                            (!p.is_empty()).then_some((l, p, nocase))
                        })
                        .max_by_key(|(_, p, _)| p.len())
                });
            match fast {
                Some((l, p, nocase)) => {
                    keyed.push(((l.buf, l.transforms.clone()), ri, p.to_vec(), nocase))
                }
                None => always.push(ri),
            }
        }
        let groups = PatternSet::keyed(keyed)
            .into_iter()
            .map(|((buf, transforms), patterns)| Group {
                buf,
                transforms,
                patterns,
            })
            .collect();
        HttpPrefilter { groups, always }
    }

    /// Candidate rules of `tx` in direction `dir` into `s.cand`, sorted
    /// and deduplicated. `body`: the inspection point includes the body
    /// (rules whose pattern is in a body buffer only run at such points).
    fn candidates(&self, tx: &HttpTx, dir: Direction, body: bool, s: &mut Scratch) {
        let Scratch {
            cand,
            buf,
            tmp,
            scan,
        } = s;
        cand.clear();
        cand.extend_from_slice(&self.always);
        for g in &self.groups {
            if g.buf.is_body() && !body {
                continue;
            }
            if !h::fill(g.buf, tx, dir, buf) {
                continue;
            }
            for t in &g.transforms {
                t.apply(buf, tmp);
            }
            g.patterns.scan(buf, scan, |r| cand.push(r));
        }
        cand.sort_unstable();
        cand.dedup();
    }
}

impl Engine {
    pub(super) fn inspect_http(
        &self,
        input: &DetectInput,
        fired: &mut Vec<u32>,
        out: &mut Matches,
    ) {
        let Some(hs) = input.http else { return };
        if hs.marks.is_empty() || self.http_rules.is_empty() {
            return;
        }
        let Some(pdir) = input.dir else { return };
        let pkt = input.pkt;
        let Some(ptuple) = Tuple::of_ported(pkt) else {
            return;
        };
        let mut cand = std::mem::take(&mut out.http_pf.cand);
        for m in &hs.marks {
            let Some(tx) = hs.tx(m.tx_id) else { continue };
            let tuple = if m.dir != pdir {
                ptuple.swapped()
            } else {
                ptuple
            };
            if self.brute {
                cand.clear();
                cand.extend_from_slice(&self.http_rules);
            } else {
                out.http_pf.cand = cand;
                self.http_prefilter
                    .candidates(tx, m.dir, m.body, &mut out.http_pf);
                cand = std::mem::take(&mut out.http_pf.cand);
            }
            for &ri in &cand {
                let (Some(rule), Some(meta)) =
                    (self.rules.get(ri as usize), self.metas.get(ri as usize))
                else {
                    continue;
                };
                let Some(hr) = rule.http.as_deref() else {
                    continue;
                };
                let stage = if hr.needs_body { m.body } else { m.headers };
                let other_dir = hr.dir.is_some_and(|d| d != m.dir);
                if other_dir || !stage || !rule.proto.accepts(pkt.ip.proto) {
                    continue;
                }
                let f = &rule.flow;
                if f.dir.is_some_and(|d| d != m.dir) || f.established == Some(false) {
                    continue;
                }
                if !rule.flowbits.is_empty() && !flowbits::check(&rule.flowbits, fired) {
                    continue;
                }
                if !tuple_matches(rule, &tuple) {
                    continue;
                }
                if !h::matches(hr, tx, m.dir, &mut out.http) {
                    continue;
                }
                record_tx_match(rule, meta, ri, input, fired, out, m.tx_id, m.dir);
            }
        }
        out.http_pf.cand = cand;
    }
}
