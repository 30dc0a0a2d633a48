//! DNS transactions: rules with a DNS part run here, once per transaction,
//! with the packet that carried it (see `super::super::dns`).

use super::*;

impl Engine {
    pub(super) fn inspect_dns(&self, input: &DetectInput, fired: &mut Vec<u32>, out: &mut Matches) {
        let Some(d) = input.dns else { return };
        if d.marks.is_empty() || self.dns_rules.is_empty() {
            return;
        }
        let Some(pdir) = input.dir else { return };
        let pkt = input.pkt;
        let Some((sp, dp)) = pkt.ports() else { return };
        let ptuple = Tuple {
            src: pkt.ip.src,
            dst: pkt.ip.dst,
            sp,
            dp,
            has_ports: true,
        };
        for &tx_id in &d.marks {
            let Some(tx) = d.tx(tx_id).filter(|t| t.dir == pdir) else {
                continue;
            };
            let tuple = if tx.dir != pdir {
                ptuple.swapped()
            } else {
                ptuple
            };
            for &ri in &self.dns_rules {
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
                if !rule.flowbits.is_empty() {
                    flowbits::apply(&rule.flowbits, fired);
                }
                let Some(Limited {
                    action,
                    alert,
                    rate_filter,
                }) = limit(rule, meta, ri, input, &mut out.thresholds)
                else {
                    continue;
                };
                let fa = FinalAction {
                    action,
                    rule: ri,
                    flow_scope: true,
                    rate_filter,
                };
                if action == Action::Pass {
                    if out.action.is_none() {
                        out.action = Some(fa);
                    }
                    continue;
                }
                if alert {
                    out.hits.push(Hit {
                        rule: ri,
                        action,
                        tx: true,
                        tx_id,
                        dir: tx.dir,
                        flow_scope: true,
                        rate_filter,
                    });
                }
                if action.blocks() && out.action.is_none() {
                    out.action = Some(fa);
                }
            }
        }
    }
}
