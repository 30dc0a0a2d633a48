//! Read-only views of pipeline state (flows, app-layer state) in the shape
//! the event builders take. The only place where output looks into a
//! [`Flow`]; nothing here changes pipeline state.

use meerkat_shared::eve::{Event, Hassh as EveHassh, Ssh, SshSide};

use crate::app::{Banner, SshState};
use crate::decode::ipproto;
use crate::detect::{Engine, FLOWBIT_TAG};
use crate::flow::Flow;
use crate::packet::{Direction, Source, Timestamp};

use super::build::{self, BuildOpts, FlowEnd, FlowView, TcpSummary};

/// The builders' view of a flow.
pub fn flow_view(flow: &Flow) -> FlowView {
    let (mut client, mut server) = (flow.client, flow.server);
    if ipproto::is_icmp(flow.proto) {
        // ICMP: the builders take each side's type as its "port".
        client.1 = flow.icmp[0].map(|(t, _)| u16::from(t)).unwrap_or(0);
        server.1 = flow.icmp[1].map(|(t, _)| u16::from(t)).unwrap_or(0);
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

/// Adds the `traffic` and `metadata` objects of a flow's flowbits to `ev`
/// (Suricata's `EveAddMetadata`): bits named `traffic/id/X` and
/// `traffic/label/X` go to `traffic.id` / `traffic.label`, the others to
/// `metadata.flowbits`. Nothing without flowbits.
pub fn add_flow_vars(ev: &mut Event, flow: &Flow, engine: &Engine) {
    let names = flow
        .fired
        .iter()
        .filter(|&&e| e & FLOWBIT_TAG != 0)
        .filter_map(|&e| engine.flowbit_name(e & !FLOWBIT_TAG));
    let (mut ids, mut labels, mut bits) = (Vec::new(), Vec::new(), Vec::new());
    for name in names {
        if let Some(id) = name.strip_prefix("traffic/id/") {
            ids.push(serde_json::Value::from(id));
        } else if let Some(label) = name.strip_prefix("traffic/label/") {
            labels.push(serde_json::Value::from(label));
        } else {
            bits.push(serde_json::Value::from(name));
        }
    }
    if ids.is_empty() && labels.is_empty() && bits.is_empty() {
        return;
    }
    if !ids.is_empty() || !labels.is_empty() {
        let mut t = serde_json::Map::new();
        if !ids.is_empty() {
            t.insert("id".into(), ids.into());
        }
        if !labels.is_empty() {
            t.insert("label".into(), labels.into());
        }
        ev.traffic = Some(t.into());
    }
    let mut m = serde_json::Map::new();
    if !bits.is_empty() {
        m.insert("flowbits".into(), bits.into());
    }
    ev.metadata = Some(m.into());
}

/// The EVE `ssh` object of a flow's banners.
pub fn ssh_object(s: &SshState) -> Ssh {
    let side = |b: Option<&Banner>, dir: Direction| {
        b.map(|b| SshSide {
            proto_version: b.proto_version.clone(),
            software_version: Some(b.software_version.clone()),
            hassh: s.kex(dir).hassh.as_ref().map(|h| EveHassh {
                hash: h.hash.clone(),
                string: h.string.clone(),
            }),
        })
    };
    Ssh {
        client: side(s.client_banner(), Direction::ToServer),
        server: side(s.server_banner(), Direction::ToClient),
    }
}

/// The `flow` event of a flow that left the table.
pub fn flow_end_event(flow: &Flow, source: Source, now: Timestamp, opts: &BuildOpts) -> Event {
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
        app_proto: flow.app.proto().eve_name(),
        tcp,
    };
    let mut ev = build::flow_event(&flow_view(flow), &end, source, now, opts);
    if !flow.vlan.is_empty() {
        ev.vlan = Some(flow.vlan.as_slice().to_vec());
    }
    ev.spi = flow.esp_spi;
    ev
}

/// The `netflow` events of an ended flow: to_server always, to_client when
/// that direction had packets (as Suricata's netflow logger).
pub fn netflow_events(flow: &Flow, source: Source, now: Timestamp) -> Vec<Event> {
    let view = flow_view(flow);
    let app_proto = flow.app.proto().eve_name();
    [Direction::ToServer, Direction::ToClient]
        .into_iter()
        .filter(|d| *d == Direction::ToServer || flow.pkts[1] > 0)
        .map(|dir| {
            let d = dir.index() & 1;
            let (lo, hi) = flow.ttl[d];
            let side = build::NetFlowSide {
                dir,
                pkts: flow.pkts[d],
                bytes: flow.bytes[d],
                min_ttl: if flow.pkts[d] == 0 { 0 } else { lo },
                max_ttl: hi,
                tcp_flags: flow.tcp.as_ref().map(|_| flow.tcp_flags_seen[d]),
            };
            let mut ev = build::netflow_event(&view, &side, flow.last, app_proto, source, now);
            if !flow.vlan.is_empty() {
                ev.vlan = Some(flow.vlan.as_slice().to_vec());
            }
            ev.spi = flow.esp_spi;
            ev
        })
        .collect()
}
