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

use meerkat_shared::eve::Event;

use crate::action::RejectTarget;
use crate::app::{AppConfig, AppProto, AppState, EncryptionHandling, SshState, TlsState};
use crate::capture::PacketHandler;
use crate::config::IpsConfig;
use crate::counters::{add, inc, PipelineCounters, SourceCounters};
use crate::decode::defrag::{Defrag, DefragConfig};
use crate::decode::{self, tcp_flags, Packet, L4};
use crate::detect::tag::Tagger;
use crate::detect::{DetectInput, Engine, Matches, SshBannerRef, StreamChunk};
use crate::flow::{Flow, FlowAction, FlowState, FlowTable};
use crate::output::build::{self, BuildOpts, PacketView};
use crate::output::eve::{EveSender, EveTypes};
use crate::output::fast;
use crate::output::view::{add_flow_vars, flow_end_event, flow_view, netflow_events, ssh_object};
use crate::packet::{CapturedPacket, Direction, Mode, Source, Timestamp, Verdict};
use crate::respond::Responder;
use crate::stream::{Inspect, StreamContext, TcpSession};
use crate::verdict::{self, Outcome};

/// What every worker shares.
pub struct Shared {
    /// The rules, immutable after load.
    pub engine: Arc<Engine>,
    /// Where events go; never blocks.
    pub eve: EveSender,
    /// fast.log, when enabled: one line per alert event.
    pub fast: Option<EveSender>,
    /// The `tls-store` output, when enabled.
    pub tls_store: Option<crate::output::tls_store::TlsStoreSender>,
    /// Further `eve-log` outputs of a Suricata YAML (each filters by its
    /// own types), and per output whether it logs `dns` events and with
    /// which options (DNS events are built per output).
    pub extra_eve: Vec<EveSender>,
    pub extra_dns: Vec<(bool, crate::output::dns::DnsLogMask)>,
    /// Which event types are written.
    pub types: EveTypes,
    /// Options for the event builders.
    pub build: BuildOpts,
    /// Raw sockets for reject; `None` when they could not be opened
    /// (rejects are then counted as errors).
    pub responder: Option<Arc<Responder>>,
    /// IPS policies.
    pub ips: IpsConfig,
    /// App-layer settings.
    pub app: AppConfig,
}

/// One capture thread's pipeline.
pub struct Worker {
    source: Source,
    shared: Arc<Shared>,
    flows: FlowTable,
    stream: StreamContext,
    inspect: Inspect,
    matches: Matches,
    outcome: Outcome,
    expired: Vec<Flow>,
    counters: Arc<PipelineCounters>,
    source_counters: Arc<SourceCounters>,
    last_expire: i64,
    /// IPS packets dropped because their copy was truncated (for
    /// rate-limiting the warning).
    truncated_drops: u64,
    /// IPv4/IPv6 reassembly of this thread.
    defrag: Defrag,
    /// Packets handed to this worker so far.
    packets: u64,
    /// The current packet's `pcap_cnt` (pcap sources only).
    pcap_cnt: Option<u64>,
    /// Sessions and hosts tagged by `tag` rules.
    tags: Tagger,
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
            outcome: Outcome::default(),
            expired: Vec::new(),
            counters,
            source_counters,
            last_expire: 0,
            truncated_drops: 0,
            defrag: Defrag::new(DefragConfig::default()),
            packets: 0,
            pcap_cnt: None,
            tags: Tagger::default(),
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

    /// Ends the flows the flow table evicted since the last call.
    fn end_evicted(&mut self, now: Timestamp) {
        let mut flows = std::mem::take(&mut self.expired);
        flows.clear();
        self.flows.take_evicted(&mut flows);
        for flow in flows.drain(..) {
            self.end_flow(flow, now);
        }
        self.expired = flows;
    }

    fn send(&self, ev: &Event) {
        send(&self.shared, &self.counters, ev);
    }

    fn end_flow(&mut self, mut flow: Flow, now: Timestamp) {
        self.tags.end_flow(flow.id);
        self.flush_flow(&mut flow);
        let shared = &*self.shared;
        if let Some(ssh) = flow.app.take_unlogged_ssh().map(ssh_object) {
            if shared.types.ssh {
                let ev = build::ssh_event(
                    &flow_view(&flow),
                    ssh,
                    self.source,
                    now,
                    None,
                    &shared.build,
                );
                self.send(&ev);
            }
        }
        if flow.app.take_unlogged_tls() && shared.types.tls {
            if let Some(t) = flow.app.tls() {
                let obj = crate::output::tls::tls_object(t, &shared.build.tls);
                let ev = build::tls_event(
                    &flow_view(&flow),
                    obj,
                    self.source,
                    now,
                    None,
                    &shared.build,
                );
                self.send(&ev);
            }
        }
        // A dropped TCP flow gets no flow-end pass (Suricata sends no
        // flow-timeout pseudo packets for it): its unfinished transactions
        // are not logged.
        let dropped_tcp = flow.action == FlowAction::Drop && flow.tcp.is_some();
        if flow.app.http().is_some() && !dropped_tcp {
            let at = crate::output::http::At {
                source: self.source,
                ts: now,
                pcap_cnt: None,
                opts: &shared.build,
                types: &shared.types,
            };
            for ev in crate::output::http::pending_events(&mut flow, true, at) {
                send(shared, &self.counters, &ev);
            }
        }
        if flow.app.dns().is_some() {
            let pkt = flow.pseudo_packet(Direction::ToServer);
            let pv = PacketView {
                pkt: &pkt,
                ts: now,
                source: self.source,
                dir: Some(Direction::ToServer),
                pcap_cnt: None,
            };
            for (target, ev) in crate::output::dns::pending_events(
                &mut flow,
                &pv,
                &shared.types,
                &shared.build,
                &shared.extra_dns,
            ) {
                send_to(shared, &self.counters, target, &ev);
            }
        }
        if shared.types.flow {
            let mut ev = flow_end_event(&flow, self.source, now, &shared.build);
            add_flow_vars(&mut ev, &flow, &shared.engine);
            self.send(&ev);
        }
        if shared.types.netflow {
            for mut ev in netflow_events(&flow, self.source, now) {
                add_flow_vars(&mut ev, &flow, &shared.engine);
                self.send(&ev);
            }
        }
    }

    /// Flow end: what reassembly still holds goes to the app layer (with
    /// end of stream), and the last stream data and transactions of each
    /// direction reach detection through one pseudo packet per direction,
    /// as Suricata's flow-timeout pseudo packets: their alerts say
    /// `pkt_src: "stream (flow timeout)"` and have no `pcap_cnt`; packet
    /// rules do not run on them; no verdict or reject follows.
    fn flush_flow(&mut self, flow: &mut Flow) {
        if flow.action == FlowAction::Drop || flow.state == FlowState::Bypassed {
            return;
        }
        let Worker {
            inspect,
            matches,
            outcome,
            shared,
            counters,
            source,
            ..
        } = self;
        let Some(session) = flow.tcp.as_mut() else {
            return;
        };
        let shared = &**shared;
        let counters = &**counters;
        let payload_inspected = flow.app.payload_inspected(&shared.app);
        session.flush(inspect);
        flow.app.begin_packet();
        for chunk in inspect.chunks() {
            flow.app
                .on_stream_data(chunk.dir, chunk.new_bytes(), &shared.app, counters);
        }
        flow.app.on_eof(counters);
        if flow.action == FlowAction::Pass {
            // Passed: the app layer logs what it has; no more detection.
            return;
        }
        flow.app.on_close(Direction::ToServer);
        flow.app.on_close(Direction::ToClient);
        let ctx = verdict::Context {
            engine: &shared.engine,
            types: &shared.types,
            build: &shared.build,
            counters,
        };
        // Data of a session that never completed its handshake was
        // inspected packet by packet already.
        let both_acked = flow.tcp_flags_seen.iter().all(|f| f & tcp_flags::ACK != 0);
        for dir in [Direction::ToServer, Direction::ToClient] {
            let chunk = inspect.get(dir).filter(|_| payload_inspected && both_acked);
            let ssh = flow.app.ssh();
            let has_tx = ssh.is_some_and(|s| s.side(dir).banner.is_some())
                || flow.app.tls().is_some_and(|t| t.marks[dir.index()])
                || flow
                    .app
                    .http()
                    .is_some_and(|h| h.marks.iter().any(|m| m.dir == dir))
                || flow.app.dns().is_some_and(|d| d.has_uninspected(dir));
            if chunk.is_none() && !has_tx {
                continue;
            }
            let pkt = flow.pseudo_packet(dir);
            let chunks: [StreamChunk<'_>; 1] = [chunk.unwrap_or_else(empty_chunk)];
            let input = flow_input(
                FlowParts {
                    app: &flow.app,
                    tcp: flow.tcp.as_ref(),
                    established: flow.state == FlowState::Established,
                },
                &pkt,
                dir,
                source.mode(),
                if chunk.is_some() { &chunks } else { &[] },
                true,
                flow.last,
            );
            matches.clear();
            shared.engine.inspect(&input, &mut flow.fired, matches);
            let pv = PacketView {
                pkt: &pkt,
                ts: flow.last,
                source: *source,
                dir: Some(dir),
                pcap_cnt: None,
            };
            verdict::decide(&ctx, matches, &pv, Some(flow), outcome);
            if let Some(d) = flow.app.dns_mut() {
                d.inspected(dir);
            }
            for ev in outcome.events.drain(..) {
                let mut ev = ev;
                ev.pkt_src = Some(build::PKT_SRC_FLOW_TIMEOUT.to_string());
                send(shared, counters, &ev);
            }
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
        self.packets += 1;
        self.pcap_cnt =
            matches!(cap.source, Source::Pcap | Source::PcapIps).then_some(self.packets);
        {
            let c = &*self.counters;
            inc(&c.decoder_pkts);
            add(&c.decoder_bytes, cap.data.len() as u64);
            c.note_pkt_size(cap.orig_len.max(cap.data.len() as u32) as u64);
        }
        // Decode (decode/): link layer, tunnels, anomalies. Fragments go to
        // the defrag table; invalid packets, fragments and non-IP frames
        // skip the flow stages (see `decode_step`).
        let mut pkt = decode::decode_frame(cap.linktype, cap.data, cap.truncated());
        if let Some(v) = self.decode_step(cap, &mut pkt) {
            return v;
        }
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
        // A new flow that evicted another one: the evicted flow ends now,
        // not at the next tick (a flood of new flows would otherwise pile
        // up evicted flows beyond the flow memcap until then).
        if self.flows.evicted_pending() > 0 {
            self.end_evicted(cap.ts);
        }
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
        let (fid, mut dir) = match self.flows.lookup(pkt, cap.ts, cap.wire_len()) {
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
            outcome,
            shared,
            counters,
            source,
            source_counters,
            pcap_cnt,
            tags,
            ..
        } = self;
        let Some(flow) = flows.get_mut(fid) else {
            return Verdict::Accept;
        };
        let shared = &**shared;
        let counters = &**counters;
        let ctx = verdict::Context {
            engine: &shared.engine,
            types: &shared.types,
            build: &shared.build,
            counters,
        };
        let mut pv = PacketView {
            pkt,
            ts: cap.ts,
            source: *source,
            dir: Some(dir),
            pcap_cnt: *pcap_cnt,
        };
        outcome.clear();
        log_decode_anomalies(shared, counters, &pv, Some(&flow_view(flow)));

        // A flow already decided.
        if let Some(v) = verdict::flow_decided(&ctx, flow, &pv, outcome) {
            send_all(shared, counters, outcome);
            return v;
        }
        if flow.state == FlowState::Bypassed {
            inc(&counters.flow_bypassed_pkts);
            return Verdict::Accept;
        }
        // An encrypted session's payload is not inspected (Suricata's
        // `encryption-handling: track-only`): only data that arrived before
        // encryption began still reaches content rules.
        let payload_inspected = flow.app.payload_inspected(&shared.app);

        // Stream reassembly and the app layer.
        inspect.clear();
        if let L4::Tcp(tcp) = pkt.l4 {
            let session = flow
                .tcp
                .get_or_insert_with(|| crate::stream::TcpSession::new(stream));
            session.on_packet(dir, &tcp, pkt.payload, mode, inspect);
            inspect.add_to_counters(counters);
            flow.app.begin_packet();
            let dns_port = shared.app.dns_tcp_ports.either(tcp.src_port, tcp.dst_port);
            for chunk in inspect.chunks() {
                let mut cdir = chunk.dir;
                if flow.app.proto() == AppProto::Unknown {
                    let du = flow
                        .app
                        .probe_dns_tcp(cdir, chunk.new_bytes(), dns_port, counters);
                    if du.reverse {
                        flow.swap_direction();
                        cdir = crate::app::dns::flow::flip(cdir);
                        dir = crate::app::dns::flow::flip(dir);
                        pv.dir = Some(dir);
                    }
                }
                let up = flow
                    .app
                    .on_stream_data(cdir, chunk.new_bytes(), &shared.app, counters);
                if (up.invalid_banner || up.long_banner)
                    && shared.types.anomaly
                    && shared.build.anomaly.applayer
                {
                    let event = if up.invalid_banner {
                        "INVALID_BANNER"
                    } else {
                        "LONG_BANNER"
                    };
                    let mut ev =
                        build::anomaly_event(&pv, &flow_view(flow), "ssh", event, &shared.build);
                    if chunk.dir != dir {
                        build::orient(&mut ev, chunk.dir);
                    }
                    send(shared, counters, &ev);
                }
                if up.tls_events && shared.types.anomaly {
                    let events = flow.app.tls_mut().map(TlsState::take_events);
                    for event in events.unwrap_or_default() {
                        let mut ev = build::anomaly_event(
                            &pv,
                            &flow_view(flow),
                            "tls",
                            event,
                            &shared.build,
                        );
                        if chunk.dir != dir {
                            build::orient(&mut ev, chunk.dir);
                        }
                        send(shared, counters, &ev);
                    }
                } else if up.tls_events {
                    flow.app.tls_mut().map(TlsState::take_events);
                }
                if up.encrypted
                    && shared.app.encryption(flow.app.proto()) == EncryptionHandling::Bypass
                {
                    flow.state = FlowState::Bypassed;
                    inc(&counters.flow_bypassed);
                }
                if up.tx_complete && shared.types.tls {
                    if let Some(t) = flow.app.tls() {
                        let obj = crate::output::tls::tls_object(t, &shared.build.tls);
                        let ev = build::tls_event(
                            &flow_view(flow),
                            obj,
                            *source,
                            cap.ts,
                            pv.pcap_cnt,
                            &shared.build,
                        );
                        send(shared, counters, &ev);
                    }
                }
                if up.tx_complete && shared.types.ssh {
                    if let Some(ssh) = flow.app.ssh() {
                        let ev = build::ssh_event(
                            &flow_view(flow),
                            ssh_object(ssh),
                            *source,
                            cap.ts,
                            pv.pcap_cnt,
                            &shared.build,
                        );
                        send(shared, counters, &ev);
                    }
                }
            }
        }

        // DNS over UDP: one message per datagram (app/dns).
        if let L4::Udp(u) = pkt.l4 {
            let dns_port = shared.app.dns_udp_ports.either(u.src_port, u.dst_port);
            let du = flow.app.on_udp(dir, pkt.payload, dns_port, counters);
            if du.reverse {
                flow.swap_direction();
                dir = crate::app::dns::flow::flip(dir);
                pv.dir = Some(dir);
            }
        }

        // HTTP anomalies, transactions and files ready (output/http.rs).
        if flow.app.http().is_some() {
            let at = crate::output::http::At {
                source: *source,
                ts: cap.ts,
                pcap_cnt: pv.pcap_cnt,
                opts: &shared.build,
                types: &shared.types,
            };
            for ev in crate::output::http::pending_events(flow, false, at) {
                send(shared, counters, &ev);
            }
        }

        // A closed session has nothing more to add to its transaction:
        // write it now rather than at the flow's timeout.
        if flow.state == FlowState::Closed && flow.app.take_unlogged_tls() && shared.types.tls {
            if let Some(t) = flow.app.tls() {
                let obj = crate::output::tls::tls_object(t, &shared.build.tls);
                let ev = build::tls_event(
                    &flow_view(flow),
                    obj,
                    *source,
                    cap.ts,
                    pv.pcap_cnt,
                    &shared.build,
                );
                send(shared, counters, &ev);
            }
        }
        if flow.state == FlowState::Closed && shared.types.ssh {
            // The flow view is built only when there is something to log.
            if let Some(ssh) = flow.app.take_unlogged_ssh().map(ssh_object) {
                let ev = build::ssh_event(
                    &flow_view(flow),
                    ssh,
                    *source,
                    cap.ts,
                    pv.pcap_cnt,
                    &shared.build,
                );
                send(shared, counters, &ev);
            }
        }

        // A passed flow is not inspected any more (Suricata's pass: the
        // app layer above still parses and logs).
        if flow.action == FlowAction::Pass {
            for (target, ev) in crate::output::dns::pending_events(
                flow,
                &pv,
                &shared.types,
                &shared.build,
                &shared.extra_dns,
            ) {
                send_to(shared, counters, target, &ev);
            }
            return Verdict::Accept;
        }

        // Detection.
        let mut chunks: [StreamChunk<'_>; 2] = [empty_chunk(), empty_chunk()];
        let mut n = 0;
        if payload_inspected {
            for (slot, c) in chunks.iter_mut().zip(inspect.chunks()) {
                *slot = c;
                n += 1;
            }
        }
        let mut header_only;
        let pkt = if payload_inspected {
            pkt
        } else {
            header_only = *pkt;
            header_only.payload = &[];
            &header_only
        };
        let input = flow_input(
            FlowParts {
                app: &flow.app,
                tcp: flow.tcp.as_ref(),
                established: flow.packet_established(),
            },
            pkt,
            dir,
            mode,
            &chunks[..n],
            false,
            cap.ts,
        );
        matches.clear();
        shared.engine.inspect(&input, &mut flow.fired, matches);

        // Verdict.
        verdict::decide(&ctx, matches, &pv, Some(flow), outcome);
        store_certs(shared, matches, flow, &pv);
        if let Some(d) = flow.app.dns_mut() {
            d.inspected(dir);
        }
        let view = flow_view(flow);
        tag_packet(tags, shared, matches, &pv, Some(&view), outcome);
        let verdict = finish(shared, counters, source_counters, cap, pkt, outcome);
        // DNS transactions of this packet are logged after its alerts.
        for (target, ev) in crate::output::dns::pending_events(
            flow,
            &pv,
            &shared.types,
            &shared.build,
            &shared.extra_dns,
        ) {
            send_to(shared, counters, target, &ev);
        }
        verdict
    }

    /// Detection for a packet that has no flow (flow table full).
    fn detect_flowless(&mut self, cap: &CapturedPacket<'_>, pkt: &Packet<'_>) -> Verdict {
        let input = DetectInput {
            mode: cap.mode(),
            pkt,
            dir: None,
            established: false,
            stream: &[],
            ssh_client: None,
            ssh_server: None,
            app_is_ssh: false,
            pseudo: false,
            http: None,
            tls: None,
            dns: None,
            ts: cap.ts,
            stream_size: None,
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
            pcap_cnt: self.pcap_cnt,
        };
        let shared = &*self.shared;
        let counters = &*self.counters;
        log_decode_anomalies(shared, counters, &pv, None);
        let ctx = verdict::Context {
            engine: &shared.engine,
            types: &shared.types,
            build: &shared.build,
            counters,
        };
        verdict::decide(&ctx, &self.matches, &pv, None, &mut self.outcome);
        tag_packet(
            &mut self.tags,
            shared,
            &self.matches,
            &pv,
            None,
            &mut self.outcome,
        );
        finish(
            shared,
            counters,
            &self.source_counters,
            cap,
            pkt,
            &mut self.outcome,
        )
    }
}

/// `tls.store`: a match of such a rule marks the flow; its server chain is
/// queued for the `tls-store` output as soon as the server certificate has
/// been parsed (on this packet or a later one), then the mark is cleared,
/// as Suricata's `SSL_TLS_LOG_PEM` flag.
fn store_certs(shared: &Shared, matches: &Matches, flow: &mut Flow, pv: &PacketView<'_>) {
    let Some(store) = shared.tls_store.as_ref() else {
        return;
    };
    let asked = matches
        .hits
        .iter()
        .any(|h| shared.engine.get(h.rule).is_some_and(|m| m.tls_store));
    let (client, server, proto) = (flow.client, flow.server, flow.proto);
    let Some(t) = flow.app.tls_mut() else {
        return;
    };
    t.store_pending |= asked;
    if !t.store_pending || t.server.certs.is_empty() {
        return;
    }
    let Some(c) = t.server.cert0.as_ref() else {
        return;
    };
    let job = crate::output::tls_store::CertJob {
        secs: pv.ts.secs,
        micros: pv.ts.micros,
        pcap_cnt: pv.pcap_cnt,
        client,
        server,
        proto,
        subject: c.subject.clone(),
        issuer: c.issuer.clone(),
        fingerprint: c.fingerprint.clone(),
        certs: t.server.certs.clone(),
    };
    store.send(job);
    t.store_pending = false;
}

/// The `tag` keyword: records the tags of this packet's alerts, then counts
/// the packet against the tags of its flow and hosts and, when it is
/// tagged and `tagged-packets` is on, adds a `packet` event to `outcome`.
fn tag_packet(
    tags: &mut Tagger,
    shared: &Shared,
    matches: &Matches,
    pv: &PacketView<'_>,
    flow: Option<&build::FlowView>,
    outcome: &mut Outcome,
) {
    let p = pv.pkt;
    let flow_id = flow.map(|f| f.flow_id);
    for hit in &matches.hits {
        if let Some(meta) = shared.engine.get(hit.rule) {
            if !meta.tags.is_empty() {
                tags.add(&meta.tags, flow_id, p.ip.src, p.ip.dst, pv.ts);
            }
        }
    }
    let len = p.ext.frame.len() as u64;
    if tags.on_packet(flow_id, p.ip.src, p.ip.dst, pv.ts, len)
        && shared.build.tagged_packets
        && shared.types.alert
    {
        outcome
            .events
            .push(build::packet_event(pv, flow, &shared.build));
    }
}

/// Suricata's anomaly logger for decoder anomalies: one `anomaly` event per
/// anomaly of the packet, when `[eve.anomaly] decode` is on. Meerkat-only
/// kinds (`empty`, `bad_len`: no Suricata name) are counted, not logged.
fn log_decode_anomalies(
    shared: &Shared,
    counters: &PipelineCounters,
    pv: &PacketView<'_>,
    flow: Option<&build::FlowView>,
) {
    if !(shared.types.anomaly && shared.build.anomaly.decode) {
        return;
    }
    for e in pv.pkt.ext.events.iter() {
        if decode::ERROR_KINDS[e.index()].suricata.is_none() {
            continue;
        }
        let ev = build::decode_anomaly_event(pv, flow, e.name(), &shared.build);
        send(shared, counters, &ev);
    }
}

/// Carries out an outcome: writes its events, sends its reject, returns
/// its verdict.
fn finish(
    shared: &Shared,
    counters: &PipelineCounters,
    source_counters: &SourceCounters,
    cap: &CapturedPacket<'_>,
    pkt: &Packet<'_>,
    outcome: &mut Outcome,
) -> Verdict {
    send_all(shared, counters, outcome);
    if let Some(target) = outcome.reject {
        send_reject(shared, counters, source_counters, cap, pkt, target);
    }
    outcome.verdict
}

fn send_all(shared: &Shared, counters: &PipelineCounters, outcome: &mut Outcome) {
    for ev in outcome.events.drain(..) {
        send(shared, counters, &ev);
    }
}

fn send_reject(
    shared: &Shared,
    counters: &PipelineCounters,
    source_counters: &SourceCounters,
    cap: &CapturedPacket<'_>,
    pkt: &Packet<'_>,
    target: RejectTarget,
) {
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

fn send(shared: &Shared, counters: &PipelineCounters, ev: &Event) {
    if shared.eve.send(ev) {
        inc(&counters.eve_events);
    } else {
        inc(&counters.eve_dropped);
    }
    if let Some(fast) = shared.fast.as_ref() {
        let mut line = Vec::with_capacity(256);
        if fast::fast_line(ev, &mut line) && !fast.send_line(line) {
            inc(&counters.eve_dropped);
        }
    }
    for extra in &shared.extra_eve {
        // Each output keeps the types it lists (`send` skips the others).
        if !extra.send(ev) {
            inc(&counters.eve_dropped);
        }
    }
}

/// A DNS-layer event to its output: `dns` events are built once per
/// output, with that output's `dns` options.
fn send_to(
    shared: &Shared,
    counters: &PipelineCounters,
    target: crate::output::dns::DnsTarget,
    ev: &Event,
) {
    use crate::output::dns::DnsTarget;
    let sender = match target {
        DnsTarget::All => return send(shared, counters, ev),
        DnsTarget::Primary => &shared.eve,
        DnsTarget::Extra(i) => match shared.extra_eve.get(i) {
            Some(s) => s,
            None => return,
        },
    };
    if sender.send(ev) {
        inc(&counters.eve_events);
    } else {
        inc(&counters.eve_dropped);
    }
}

/// The parts of a flow detection reads (borrowed field by field, so the
/// flow's detection state can be updated while they are in use).
struct FlowParts<'a> {
    app: &'a AppState,
    tcp: Option<&'a TcpSession>,
    established: bool,
}

/// What detection sees of a packet (or pseudo packet) of a flow in
/// direction `dir`.
fn flow_input<'a>(
    flow: FlowParts<'a>,
    pkt: &'a Packet<'a>,
    dir: Direction,
    mode: Mode,
    stream: &'a [StreamChunk<'a>],
    pseudo: bool,
    ts: Timestamp,
) -> DetectInput<'a> {
    let ssh = flow.app.ssh();
    DetectInput {
        mode,
        pkt,
        dir: Some(dir),
        established: flow.established,
        stream,
        ssh_client: ssh_side(ssh, Direction::ToServer),
        ssh_server: ssh_side(ssh, Direction::ToClient),
        app_is_ssh: flow.app.proto() == AppProto::Ssh,
        pseudo,
        http: flow.app.http(),
        tls: flow.app.tls(),
        dns: flow.app.dns(),
        ts,
        stream_size: flow.tcp.map(crate::detect::header::stream_sizes),
    }
}

/// What the `ssh.*` keywords read of one side.
fn ssh_side(ssh: Option<&SshState>, dir: Direction) -> Option<SshBannerRef<'_>> {
    let ssh = ssh?;
    let b = ssh.side(dir).banner.as_ref()?;
    let hassh = ssh.kex(dir).hassh.as_ref();
    Some(SshBannerRef {
        proto_version: b.proto_version.as_str(),
        software_version: b.software_version.as_str(),
        hassh: hassh.map(|h| h.hash.as_str()),
        hassh_string: hassh.map(|h| h.string.as_str()),
    })
}

fn empty_chunk<'a>() -> StreamChunk<'a> {
    StreamChunk {
        dir: Direction::ToServer,
        window: &[],
        new_from: 0,
    }
}

/// The decode step's own cases: anomalies counted (and logged as
/// `anomaly` events), fragments to defrag, and the packets that do not
/// go through flows: invalid ones and fragments (inspected without a
/// flow, as Suricata) and non-IP frames (ARP, ...: accepted).
impl Worker {
    /// `Some(verdict)` when the packet is done; `None`: go on with flows.
    fn decode_step(&mut self, cap: &CapturedPacket<'_>, pkt: &mut Packet<'_>) -> Option<Verdict> {
        let reassembled = self.defrag.insert(pkt, cap.ts.secs);
        self.counters.note_decoded(pkt);
        if let Some(e) = pkt.ext.invalid {
            tracing::debug!(source = %self.source, error = %e, len = cap.data.len(), "undecodable packet");
        }
        if pkt.ext.invalid.is_none() && pkt.ext.frag.is_none() && pkt.ext.has_ip {
            return None;
        }
        let mode = cap.mode();
        // Undecodable packets meet `pkthdr` rules (decode-event), as in
        // Suricata; well-formed non-IP frames (ARP, ...) are accepted.
        let mut verdict = if pkt.ext.has_ip || pkt.ext.invalid.is_some() {
            self.detect_flowless(cap, pkt)
        } else {
            let pv = PacketView {
                pkt,
                ts: cap.ts,
                source: self.source,
                dir: None,
                pcap_cnt: self.pcap_cnt,
            };
            log_decode_anomalies(&self.shared, &self.counters, &pv, None);
            Verdict::Accept
        };
        if reassembled {
            let (linktype, buf) = self.defrag.take_output();
            let rcap = CapturedPacket {
                data: &buf,
                linktype,
                orig_len: buf.len() as u32,
                ..*cap
            };
            let rpkt = decode::decode_frame(linktype, &buf, false);
            self.counters.note_decoded(&rpkt);
            let v = if rpkt.ext.invalid.is_none() && rpkt.ext.frag.is_none() && rpkt.ext.has_ip {
                self.count_decoded(&rpkt);
                self.inspect_packet(&rcap, &rpkt)
            } else if rpkt.ext.has_ip {
                self.detect_flowless(&rcap, &rpkt)
            } else {
                Verdict::Accept
            };
            if v == Verdict::Drop {
                verdict = Verdict::Drop;
            }
            self.defrag.restore_output(buf);
        }
        if verdict == Verdict::Drop {
            if mode == Mode::Ips {
                inc(&self.counters.ips_blocked);
            }
            return Some(Verdict::Drop);
        }
        Some(self.accept(mode))
    }
}
