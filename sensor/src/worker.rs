//! The per-packet pipeline of one capture thread: decode → flow → stream →
//! app layer → detection → verdict and EVE events.
//!
//! Each capture thread owns one [`Worker`]: its own flow table, reassembly
//! buffers and scratch space, so the hot path takes no lock and, in steady
//! state, allocates nothing. What all threads share (the rule engine, the
//! EVE sender, the reject sockets) is immutable or internally synchronised.
//!
//! Every decision that depends on IPS versus IDS reads the packet's own
//! mode ([`CapturedPacket::mode`]), never a global one.

use std::sync::Arc;

use meerkat_shared::eve::{Alert, Ssh, SshSide};

use crate::app::{self, AppProto, SshState};
use crate::capture::PacketHandler;
use crate::config::IpsConfig;
use crate::counters::{add, inc, PipelineCounters, SourceCounters};
use crate::decode::{self, Packet, L4};
use crate::detect::{self, Action, DetectInput, Engine, Matches, SshBannerRef, StreamChunk};
use crate::flow::{Flow, FlowAction, FlowState, FlowTable};
use crate::output::build::{
    self, AlertInfo, BuildOpts, FlowEnd, FlowView, PacketView, RuleAction, TcpSummary, TxMatch,
};
use crate::output::eve::{EveSender, EveTypes};
use crate::packet::{CapturedPacket, Direction, Mode, Source, Timestamp, Verdict};
use crate::respond::{RejectTarget, Responder};
use crate::stream::{Inspect, StreamContext};

/// What every worker shares.
pub struct Shared {
    /// The rules, immutable after load.
    pub engine: Arc<Engine>,
    /// Where events go; never blocks.
    pub eve: EveSender,
    /// Which event types are written.
    pub types: EveTypes,
    /// Options for the event builders.
    pub build: BuildOpts,
    /// Raw sockets for reject; `None` when they could not be opened
    /// (rejects are then counted as errors).
    pub responder: Option<Arc<Responder>>,
    /// IPS policies.
    pub ips: IpsConfig,
}

/// One capture thread's pipeline.
pub struct Worker {
    source: Source,
    shared: Arc<Shared>,
    flows: FlowTable,
    stream: StreamContext,
    inspect: Inspect,
    matches: Matches,
    expired: Vec<Flow>,
    counters: Arc<PipelineCounters>,
    source_counters: Arc<SourceCounters>,
    last_expire: i64,
    /// IPS packets dropped because their copy was truncated (for
    /// rate-limiting the warning).
    truncated_drops: u64,
}

impl Worker {
    pub fn new(
        source: Source,
        shared: Arc<Shared>,
        flows: FlowTable,
        stream: StreamContext,
        counters: Arc<PipelineCounters>,
        source_counters: Arc<SourceCounters>,
    ) -> Worker {
        Worker {
            source,
            shared,
            flows,
            stream,
            inspect: Inspect::new(),
            matches: Matches::new(),
            expired: Vec::new(),
            counters,
            source_counters,
            last_expire: 0,
            truncated_drops: 0,
        }
    }

    /// Ends every flow (shutdown): writes pending ssh and flow events.
    pub fn finish(&mut self) {
        let mut flows = std::mem::take(&mut self.expired);
        flows.clear();
        self.flows.drain(&mut flows);
        let now = Timestamp::now();
        for flow in flows.drain(..) {
            self.end_flow(flow, now);
        }
        self.expired = flows;
        self.flows.publish(&self.counters);
    }

    fn send(&self, ev: &meerkat_shared::eve::Event) {
        send(&self.shared, &self.counters, ev);
    }

    fn end_flow(&mut self, flow: Flow, now: Timestamp) {
        let view = flow_view(&flow);
        if self.shared.types.ssh {
            if let Some(ssh) = flow.ssh.as_ref() {
                if !ssh.logged && (ssh.client_banner().is_some() || ssh.server_banner().is_some()) {
                    let ev =
                        build::ssh_event(&view, eve_ssh(ssh), self.source, now, &self.shared.build);
                    self.send(&ev);
                }
            }
        }
        if self.shared.types.flow {
            let tcp = flow.tcp.as_ref().map(|t| TcpSummary {
                flags_ts: flow.tcp_flags_seen[0],
                flags_tc: flow.tcp_flags_seen[1],
                state: Some(t.state().as_str()),
            });
            let end = FlowEnd {
                last_seen: flow.last,
                state: flow.state.as_str(),
                reason: flow.end_reason.map(|r| r.as_str()).unwrap_or("unknown"),
                alerted: flow.alerted,
                action: flow.action.as_eve(),
                app_proto: app_proto_name(flow.app_proto),
                tcp,
            };
            let ev = build::flow_event(&view, &end, self.source, now, &self.shared.build);
            self.send(&ev);
        }
    }

    /// The verdict for a packet the pipeline does not inspect further.
    fn accept(&self, mode: Mode) -> Verdict {
        if mode == Mode::Ips {
            inc(&self.counters.ips_accepted);
        }
        Verdict::Accept
    }

    fn count_decoded(&self, pkt: &Packet<'_>) {
        let c = &*self.counters;
        if pkt.ip.version == 4 {
            inc(&c.decoder_ipv4);
        } else {
            inc(&c.decoder_ipv6);
        }
        if pkt.ip.fragment {
            inc(&c.decoder_fragments);
        }
        match pkt.l4 {
            L4::Tcp(_) => inc(&c.decoder_tcp),
            L4::Udp(_) => inc(&c.decoder_udp),
            L4::Icmp(i) if i.v6 => inc(&c.decoder_icmpv6),
            L4::Icmp(_) => inc(&c.decoder_icmpv4),
            L4::Other => inc(&c.decoder_other),
        }
    }
}

impl PacketHandler for Worker {
    fn handle(&mut self, cap: &CapturedPacket<'_>) -> Verdict {
        let mode = cap.mode();
        {
            let c = &*self.counters;
            inc(&c.decoder_pkts);
            add(&c.decoder_bytes, cap.data.len() as u64);
            c.note_pkt_size(cap.orig_len.max(cap.data.len() as u32) as u64);
        }
        let decoded = if cap.truncated() {
            decode::decode_truncated(cap.data)
        } else {
            decode::decode(cap.data)
        };
        let pkt = match decoded {
            Ok(p) => p,
            Err(e) => {
                let c = &*self.counters;
                inc(&c.decoder_invalid);
                let idx = PipelineCounters::decode_error_index(e.reason());
                if let Some(slot) = c.decoder_errors.get(idx) {
                    inc(slot);
                }
                tracing::debug!(source = %self.source, error = %e, len = cap.data.len(), "undecodable packet accepted");
                return self.accept(mode);
            }
        };
        self.count_decoded(&pkt);

        if mode == Mode::Ips && cap.truncated() && self.shared.ips.drop_truncated {
            // The kernel would forward bytes we never saw: fail closed.
            inc(&self.counters.ips_blocked);
            self.truncated_drops += 1;
            // Logged at the 1st, 2nd, 4th, 8th, ... occurrence: a BIG TCP
            // path would otherwise log every packet.
            if !self.truncated_drops.is_power_of_two() {
                return Verdict::Drop;
            }
            tracing::warn!(
                drops = self.truncated_drops,
                source = %self.source,
                copied = cap.data.len(),
                original = cap.orig_len,
                "IPS packet larger than its copy dropped (BIG TCP? keep gso_max_size <= 65536, or set [ips] drop_truncated = false)"
            );
            return Verdict::Drop;
        }

        let verdict = self.inspect_packet(cap, &pkt);
        if mode == Mode::Ips {
            match verdict {
                Verdict::Accept => inc(&self.counters.ips_accepted),
                Verdict::Drop => inc(&self.counters.ips_blocked),
            }
        }
        verdict
    }

    fn tick(&mut self, now: Timestamp) {
        if now.secs == self.last_expire {
            return;
        }
        self.last_expire = now.secs;
        let mut flows = std::mem::take(&mut self.expired);
        flows.clear();
        self.flows.expire(now, &mut flows);
        for flow in flows.drain(..) {
            self.end_flow(flow, now);
        }
        self.expired = flows;
        self.flows.publish(&self.counters);
    }
}

impl Worker {
    fn inspect_packet(&mut self, cap: &CapturedPacket<'_>, pkt: &Packet<'_>) -> Verdict {
        let mode = cap.mode();
        let (fid, dir) = match self.flows.lookup(pkt, cap.ts) {
            Ok((fid, dir, _new)) => (fid, dir),
            Err(e) => {
                // Counted by the flow table (`flow.memcap` in stats).
                tracing::debug!(source = %self.source, error = %e, "no flow for packet");
                if mode == Mode::Ips && !self.shared.ips.accept_on_flow_memcap {
                    return Verdict::Drop;
                }
                return self.detect_flowless(cap, pkt);
            }
        };
        let Worker {
            flows,
            stream,
            inspect,
            matches,
            shared,
            counters,
            source,
            source_counters,
            ..
        } = self;
        let Some(flow) = flows.get_mut(fid) else {
            return Verdict::Accept;
        };
        let shared = &**shared;
        let counters = &**counters;
        let pv = PacketView {
            pkt,
            ts: cap.ts,
            source: *source,
            dir: Some(dir),
        };

        // A flow already decided.
        match flow.action {
            FlowAction::Drop if mode == Mode::Ips => {
                inc(&counters.ips_drop_flow);
                if !flow.drop_logged[dir.index()] {
                    flow.drop_logged[dir.index()] = true;
                    if shared.types.drop {
                        let view = flow_view(flow);
                        let ev =
                            build::drop_event(&pv, Some(&view), "flow drop", None, &shared.build);
                        send(shared, counters, &ev);
                    }
                }
                return Verdict::Drop;
            }
            FlowAction::Pass => return Verdict::Accept,
            _ => {}
        }

        // Stream reassembly and the app layer.
        inspect.clear();
        if let L4::Tcp(tcp) = pkt.l4 {
            let session = flow
                .tcp
                .get_or_insert_with(|| crate::stream::TcpSession::new(stream));
            session.on_packet(dir, &tcp, pkt.payload, mode, inspect);
            inspect.add_to_counters(counters);
            let mut ssh_done = false;
            for chunk in inspect.chunks() {
                let up = app::on_stream_data(flow, chunk.dir, chunk.new_bytes(), counters);
                ssh_done |= up.both_done;
                if (up.invalid_banner || up.long_banner) && shared.types.anomaly {
                    let event = if up.invalid_banner {
                        "INVALID_BANNER"
                    } else {
                        "LONG_BANNER"
                    };
                    let mut ev =
                        build::anomaly_event(&pv, &flow_view(flow), "ssh", event, &shared.build);
                    if chunk.dir != dir {
                        orient(&mut ev, chunk.dir);
                    }
                    send(shared, counters, &ev);
                }
            }
            let newly_done = match flow.ssh.as_mut() {
                Some(ssh) if ssh_done && !ssh.logged => {
                    ssh.logged = true;
                    Some(eve_ssh(ssh))
                }
                _ => None,
            };
            if let Some(obj) = newly_done {
                inc(&counters.app_tx_ssh);
                if shared.types.ssh {
                    let ev =
                        build::ssh_event(&flow_view(flow), obj, *source, cap.ts, &shared.build);
                    send(shared, counters, &ev);
                }
            }
        }

        // Detection.
        let mut chunks: [StreamChunk<'_>; 2] = [empty_chunk(), empty_chunk()];
        let mut n = 0;
        for (slot, c) in chunks.iter_mut().zip(inspect.chunks()) {
            *slot = c;
            n += 1;
        }
        let ssh = flow.ssh.as_ref();
        let input = DetectInput {
            mode,
            pkt,
            dir: Some(dir),
            established: flow.state == FlowState::Established,
            stream: &chunks[..n],
            ssh_client: banner(ssh.and_then(|s| s.client_banner())),
            ssh_server: banner(ssh.and_then(|s| s.server_banner())),
            app_is_ssh: flow.app_proto == AppProto::Ssh,
        };
        matches.clear();
        shared.engine.inspect(&input, &mut flow.fired, matches);
        if matches.hits.is_empty() && matches.action.is_none() {
            return Verdict::Accept;
        }

        let view = flow_view(flow);
        let first_block = report_hits(shared, counters, matches, &pv, Some(flow));
        let Some(fa) = matches.action else {
            return Verdict::Accept;
        };
        match fa.action {
            Action::Alert => Verdict::Accept,
            Action::Pass => {
                inc(&counters.detect_pass);
                if fa.flow_scope {
                    flow.action = FlowAction::Pass;
                }
                Verdict::Accept
            }
            Action::Drop => {
                inc(&counters.detect_drop);
                if mode != Mode::Ips {
                    return Verdict::Accept;
                }
                block(
                    shared,
                    counters,
                    flow,
                    &pv,
                    &view,
                    fa.flow_scope,
                    dir,
                    first_block,
                )
            }
            Action::Reject(target) => {
                inc(&counters.detect_reject);
                // `reject` names sides relative to the matched data. On the
                // IDS path a stream match arrives with the receiver's ACK,
                // which travels the other way: swap the sides so the RST
                // still reaches the sender of the data.
                let matched_dir = matches
                    .hits
                    .iter()
                    .find(|h| h.rule == fa.rule)
                    .map_or(dir, |h| h.dir);
                let target = if matched_dir == dir {
                    target
                } else {
                    swap_sides(target)
                };
                send_reject(shared, counters, source_counters, cap, pkt, target);
                if mode != Mode::Ips {
                    return Verdict::Accept;
                }
                inc(&counters.ips_rejected);
                block(
                    shared,
                    counters,
                    flow,
                    &pv,
                    &view,
                    fa.flow_scope,
                    dir,
                    first_block,
                )
            }
        }
    }

    /// Detection for a packet that has no flow (flow table full).
    fn detect_flowless(&mut self, cap: &CapturedPacket<'_>, pkt: &Packet<'_>) -> Verdict {
        let mode = cap.mode();
        let input = DetectInput {
            mode,
            pkt,
            dir: None,
            established: false,
            stream: &[],
            ssh_client: None,
            ssh_server: None,
            app_is_ssh: false,
        };
        let mut fired = Vec::new();
        self.matches.clear();
        self.shared
            .engine
            .inspect(&input, &mut fired, &mut self.matches);
        let pv = PacketView {
            pkt,
            ts: cap.ts,
            source: self.source,
            dir: None,
        };
        let shared = &*self.shared;
        let counters = &*self.counters;
        report_hits(shared, counters, &self.matches, &pv, None);
        match self.matches.action.map(|a| a.action) {
            Some(Action::Reject(t)) => {
                send_reject(shared, counters, &self.source_counters, cap, pkt, t);
                if mode == Mode::Ips {
                    Verdict::Drop
                } else {
                    Verdict::Accept
                }
            }
            Some(Action::Drop) if mode == Mode::Ips => Verdict::Drop,
            _ => Verdict::Accept,
        }
    }
}

/// Writes one alert event per hit (flow counters, the ssh object for
/// transaction matches) and marks the flow alerted. Returns the first drop
/// or reject alert, for the drop event.
fn report_hits(
    shared: &Shared,
    counters: &PipelineCounters,
    matches: &Matches,
    pv: &PacketView<'_>,
    mut flow: Option<&mut Flow>,
) -> Option<(Alert, RuleAction, Option<u64>)> {
    let mode = pv.source.mode();
    let view = flow.as_deref().map(flow_view);
    let app_proto = flow.as_deref().and_then(|f| app_proto_name(f.app_proto));
    let mut first_block = None;
    for hit in &matches.hits {
        let Some(meta) = shared.engine.get(hit.rule) else {
            continue;
        };
        let ra = rule_action(hit.action);
        let alert = eve_alert(meta, mode, ra);
        inc(&counters.detect_alert);
        if let Some(f) = flow.as_deref_mut() {
            f.alerted = true;
        }
        if first_block.is_none() && matches!(hit.action, Action::Drop | Action::Reject(_)) {
            first_block = Some((alert.clone(), ra, hit.tx.then_some(0)));
        }
        if !shared.types.alert {
            continue;
        }
        let tx = hit.tx.then(|| TxMatch {
            tx_id: 0,
            ssh: flow.as_deref().and_then(|f| f.ssh.as_ref()).map(eve_ssh),
        });
        let info = AlertInfo {
            alert,
            action: ra,
            tx,
            app_proto,
        };
        let mut ev = build::alert_event(pv, view.as_ref(), info, &shared.build);
        if pv.dir.is_some_and(|d| d != hit.dir) {
            // Matched on the other direction's stream (IDS inspects data
            // when the receiver's ACK arrives): orient the header like the
            // data, client to server for to_server.
            orient(&mut ev, hit.dir);
        }
        send(shared, counters, &ev);
    }
    first_block
}

/// Drops an IPS packet by rule, and the flow with it when the match was
/// flow-scoped, writing the drop event.
#[allow(clippy::too_many_arguments)]
fn block(
    shared: &Shared,
    counters: &PipelineCounters,
    flow: &mut Flow,
    pv: &PacketView<'_>,
    view: &FlowView,
    flow_scope: bool,
    dir: Direction,
    alert: Option<(Alert, RuleAction, Option<u64>)>,
) -> Verdict {
    inc(&counters.ips_drop_rules);
    // Suricata drops the whole flow on a drop; later packets are dropped
    // with reason "flow drop". A single-packet match still ends the flow for
    // TCP, since the receiver would only see a hole.
    if flow_scope || flow.proto == 6 {
        flow.action = FlowAction::Drop;
    }
    flow.drop_logged[dir.index()] = true;
    if shared.types.drop {
        let ev = build::drop_event(pv, Some(view), "rules", alert, &shared.build);
        send(shared, counters, &ev);
    }
    Verdict::Drop
}

fn swap_sides(t: detect::RejectTarget) -> detect::RejectTarget {
    match t {
        detect::RejectTarget::Src => detect::RejectTarget::Dst,
        detect::RejectTarget::Dst => detect::RejectTarget::Src,
        detect::RejectTarget::Both => detect::RejectTarget::Both,
    }
}

fn send_reject(
    shared: &Shared,
    counters: &PipelineCounters,
    source_counters: &SourceCounters,
    cap: &CapturedPacket<'_>,
    pkt: &Packet<'_>,
    target: detect::RejectTarget,
) {
    let target = match target {
        detect::RejectTarget::Src => RejectTarget::Src,
        detect::RejectTarget::Dst => RejectTarget::Dst,
        detect::RejectTarget::Both => RejectTarget::Both,
    };
    inc(&source_counters.rejected);
    match shared.responder.as_deref() {
        Some(r) => match r.reject(cap, pkt, target) {
            Ok(n) => add(&counters.reject_sent, n as u64),
            Err(e) => {
                inc(&counters.reject_errors);
                tracing::warn!(error = %e, src = %pkt.ip.src, dst = %pkt.ip.dst, "reject failed");
            }
        },
        None => inc(&counters.reject_errors),
    }
}

fn send(shared: &Shared, counters: &PipelineCounters, ev: &meerkat_shared::eve::Event) {
    if shared.eve.send(ev) {
        inc(&counters.eve_events);
    } else {
        inc(&counters.eve_dropped);
    }
}

fn banner(b: Option<&crate::app::ssh::Banner>) -> Option<SshBannerRef<'_>> {
    b.map(|b| SshBannerRef {
        proto_version: b.proto_version.as_str(),
        software_version: b.software_version.as_str(),
    })
}

fn empty_chunk<'a>() -> StreamChunk<'a> {
    StreamChunk {
        dir: Direction::ToServer,
        window: &[],
        new_from: 0,
    }
}

/// Swaps an event's tuple so that it reads in direction `dir`.
fn orient(ev: &mut meerkat_shared::eve::Event, dir: Direction) {
    std::mem::swap(&mut ev.src_ip, &mut ev.dest_ip);
    std::mem::swap(&mut ev.src_port, &mut ev.dest_port);
    if ev.direction.is_some() {
        ev.direction = Some(dir.as_str().to_string());
    }
}

fn rule_action(a: Action) -> RuleAction {
    match a {
        Action::Alert => RuleAction::Alert,
        Action::Pass => RuleAction::Pass,
        Action::Drop => RuleAction::Drop,
        Action::Reject(detect::RejectTarget::Src) => RuleAction::Reject,
        Action::Reject(detect::RejectTarget::Dst) => RuleAction::RejectDst,
        Action::Reject(detect::RejectTarget::Both) => RuleAction::RejectBoth,
    }
}

fn eve_alert(meta: &detect::RuleMeta, mode: Mode, ra: RuleAction) -> Alert {
    Alert {
        action: build::alert_action(mode, ra).to_string(),
        gid: meta.gid,
        signature_id: meta.sid,
        rev: meta.rev,
        signature: meta.msg.clone(),
        category: meta.category.clone(),
        severity: meta.severity,
        metadata: (!meta.metadata.is_empty()).then(|| meta.metadata.clone()),
    }
}

fn app_proto_name(p: AppProto) -> Option<&'static str> {
    match p {
        AppProto::Unknown => None,
        other => Some(other.as_str()),
    }
}

/// The EVE `ssh` object of a flow's banners.
fn eve_ssh(s: &SshState) -> Ssh {
    let side = |b: Option<&crate::app::ssh::Banner>| {
        b.map(|b| SshSide {
            proto_version: b.proto_version.clone(),
            software_version: Some(b.software_version.clone()),
            hassh: None,
        })
    };
    Ssh {
        client: side(s.client_banner()),
        server: side(s.server_banner()),
    }
}

fn flow_view(flow: &Flow) -> FlowView {
    let (mut client, mut server) = (flow.client, flow.server);
    if matches!(flow.proto, 1 | 58) {
        // ICMP: the builders take each side's type as its "port".
        client.1 = flow.icmp[0].map(|(t, _)| t as u16).unwrap_or(0);
        server.1 = flow.icmp[1].map(|(t, _)| t as u16).unwrap_or(0);
    }
    FlowView {
        flow_id: flow.id,
        start: flow.start,
        client,
        server,
        proto: flow.proto,
        pkts: flow.pkts,
        bytes: flow.bytes,
    }
}
