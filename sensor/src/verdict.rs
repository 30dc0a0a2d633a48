//! The decision stage: from what detection matched (and what the flow has
//! already decided) to the packet's [`Verdict`], the reject to send, and the
//! alert and drop events to write. Pure with respect to I/O: the worker
//! sends what the [`Outcome`] holds.
//!
//! Suricata's semantics (`detect-engine-alert.c`, `decode.h`): alerts in
//! action order; the first `pass` or `drop`/`reject` decides; `drop` and
//! `reject` drop the packet only on the IPS path (the packet's own mode),
//! and a drop on a TCP flow drops the rest of the flow ("flow drop"); a
//! flow-scoped `pass` (a stream, transaction or IP-only match) ends
//! detection for the flow.

use meerkat_shared::eve::{Alert, Event};

use crate::action::{Action, RejectTarget};
use crate::counters::{inc, PipelineCounters};
use crate::detect::{Engine, Matches, RuleMeta};
use crate::flow::{Flow, FlowAction};
use crate::output::build::{self, AlertInfo, BuildOpts, PacketView, TxMatch};
use crate::output::eve::EveTypes;
use crate::output::view::{flow_view, ssh_object};
use crate::packet::{Mode, Verdict};

/// What the decision stage needs, shared by all packets of a thread.
#[derive(Clone, Copy)]
pub struct Context<'a> {
    pub engine: &'a Engine,
    pub types: &'a EveTypes,
    pub build: &'a BuildOpts,
    pub counters: &'a PipelineCounters,
}

/// The decision for one packet. Reuse one per thread: `events` keeps its
/// capacity.
#[derive(Debug, Default)]
pub struct Outcome {
    pub verdict: Verdict,
    /// Send a reject, aimed relative to the current packet.
    pub reject: Option<RejectTarget>,
    /// Events to write, in order.
    pub events: Vec<Event>,
}

impl Outcome {
    pub fn clear(&mut self) {
        self.verdict = Verdict::Accept;
        self.reject = None;
        self.events.clear();
    }
}

/// A flow whose rules dropped it: IPS packets of a dropped flow are dropped
/// (one `drop` event per direction, or one per packet with Suricata's
/// `drop: {flows: all}`). `None`: go on with the packet (a
/// passed flow still goes through stream and app layer, so its
/// transactions are logged; only detection is skipped).
pub fn flow_decided(
    ctx: &Context<'_>,
    flow: &mut Flow,
    pv: &PacketView<'_>,
    out: &mut Outcome,
) -> Option<Verdict> {
    match flow.action {
        FlowAction::Drop if pv.source.mode() == Mode::Ips => {
            inc(&ctx.counters.ips_drop_flow);
            let d = pv.dir.map_or(0, |d| d.index());
            if !flow.drop_logged[d] || ctx.types.drop_flows_all {
                flow.drop_logged[d] = true;
                if ctx.types.drop {
                    let view = flow_view(flow);
                    out.events.push(build::drop_event(
                        pv,
                        Some(&view),
                        "flow drop",
                        None,
                        ctx.build,
                    ));
                }
            }
            Some(Verdict::Drop)
        }
        _ => None,
    }
}

/// Decides a packet from its detection results. `flow` is `None` for a
/// packet without a flow (flow table full).
pub fn decide(
    ctx: &Context<'_>,
    matches: &Matches,
    pv: &PacketView<'_>,
    mut flow: Option<&mut Flow>,
    out: &mut Outcome,
) {
    out.clear();
    if matches.hits.is_empty() && matches.action.is_none() {
        return;
    }
    let mode = pv.source.mode();
    let first_block = report_hits(ctx, matches, pv, flow.as_deref_mut(), out);
    let Some(fa) = matches.action else {
        return;
    };
    match fa.action {
        Action::Alert => {}
        Action::Pass => {
            inc(&ctx.counters.detect_pass);
            if let Some(f) = flow {
                if fa.flow_scope {
                    f.action = FlowAction::Pass;
                }
            }
        }
        Action::Drop | Action::Reject(_) => {
            if let Action::Reject(target) = fa.action {
                inc(&ctx.counters.detect_reject);
                // `reject` names sides relative to the matched data. On the
                // IDS path a stream match arrives with the receiver's ACK,
                // which travels the other way: swap the sides so the RST
                // still reaches the sender of the data.
                let matched_dir = matches
                    .hits
                    .iter()
                    .find(|h| h.rule == fa.rule)
                    .map(|h| h.dir);
                let swap = matches!((pv.dir, matched_dir), (Some(p), Some(m)) if p != m);
                out.reject = Some(if swap { target.swapped() } else { target });
                if mode == Mode::Ips {
                    inc(&ctx.counters.ips_rejected);
                }
            } else {
                inc(&ctx.counters.detect_drop);
            }
            if mode != Mode::Ips {
                return;
            }
            out.verdict = Verdict::Drop;
            let Some(flow) = flow else {
                return;
            };
            inc(&ctx.counters.ips_drop_rules);
            // As Suricata: a flow-scoped match (stream, transaction,
            // IP-only) drops the rest of the flow, whose later packets are
            // dropped with reason "flow drop"; a packet match drops only
            // its packet.
            if fa.flow_scope {
                flow.action = FlowAction::Drop;
            }
            if let Some(d) = pv.dir {
                flow.drop_logged[d.index()] = true;
            }
            if ctx.types.drop {
                let view = flow_view(flow);
                // Suricata's reason names a rate_filter's drop after the
                // threshold module.
                let reason = if fa.rate_filter {
                    "threshold detection_filter"
                } else {
                    "rules"
                };
                out.events.push(build::drop_event(
                    pv,
                    Some(&view),
                    reason,
                    first_block,
                    ctx.build,
                ));
            }
        }
    }
}

/// Builds one alert event per hit (flow counters, the app-layer object for
/// transaction matches) and marks the flow alerted. Returns the first drop
/// or reject alert, for the drop event.
fn report_hits(
    ctx: &Context<'_>,
    matches: &Matches,
    pv: &PacketView<'_>,
    mut flow: Option<&mut Flow>,
    out: &mut Outcome,
) -> Option<(Alert, Action, Option<u64>)> {
    let mode = pv.source.mode();
    let view = flow.as_deref().map(flow_view);
    let app_proto = flow.as_deref().and_then(|f| f.app.proto().eve_name());
    let mut first_block = None;
    for hit in &matches.hits {
        let Some(meta) = ctx.engine.get(hit.rule) else {
            continue;
        };
        let alert = eve_alert(meta, mode, hit.action);
        inc(&ctx.counters.detect_alert);
        if let Some(f) = flow.as_deref_mut() {
            f.alerted = true;
        }
        let tx_id = hit.tx.then_some(hit.tx_id).or_else(|| {
            // A payload match on a DNS flow names the transaction of its
            // direction, as Suricata's (guessed) tx.
            let f = flow.as_deref()?;
            crate::output::dns::guess_tx(f, ctx.engine, hit, pv.pkt)
        });
        if first_block.is_none() && hit.action.blocks() {
            first_block = Some((alert.clone(), hit.action, tx_id));
        }
        if !ctx.types.alert {
            continue;
        }
        // A TLS flow has one transaction: every alert on it carries it
        // (Suricata: a stream or packet match "guesses" that one).
        let tls = flow
            .as_deref()
            .and_then(|f| f.app.tls())
            .map(|t| crate::output::tls::tls_object(t, &ctx.build.tls));
        let tx_id = tx_id.or(tls.is_some().then_some(0));
        let tx = tx_id.map(|tx_id| TxMatch {
            tx_id,
            tls,
            ssh: flow.as_deref().and_then(|f| f.app.ssh()).map(ssh_object),
            http: flow
                .as_deref()
                .and_then(|f| f.app.http())
                .and_then(|h| h.tx(tx_id))
                .map(crate::output::http::http_object),
            dns: flow
                .as_deref()
                .and_then(|f| f.app.dns())
                .and_then(|d| d.tx(tx_id))
                .map(crate::output::dns::alert_object),
        });
        let info = AlertInfo {
            alert,
            action: hit.action,
            tx,
            app_proto,
            stream: None,
        };
        let mut ev = build::alert_event(pv, view.as_ref(), info, ctx.build);
        if let Some(f) = flow.as_deref() {
            crate::output::view::add_flow_vars(&mut ev, f, ctx.engine);
        }
        if pv.dir.is_some_and(|d| d != hit.dir) {
            // Matched on the other direction's stream (IDS inspects data
            // when the receiver's ACK arrives): orient the header like the
            // data, client to server for to_server.
            build::orient(&mut ev, hit.dir);
        }
        out.events.push(ev);
    }
    first_block
}

fn eve_alert(meta: &RuleMeta, mode: Mode, action: Action) -> Alert {
    Alert {
        action: build::alert_action(mode, action).to_string(),
        gid: meta.gid,
        signature_id: meta.sid,
        rev: meta.rev,
        signature: meta.msg.clone(),
        category: meta.category.clone(),
        severity: meta.severity,
        metadata: (!meta.metadata.is_empty()).then(|| meta.metadata.to_map()),
    }
}
