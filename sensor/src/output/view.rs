//! Read-only views of pipeline state (flows, app-layer state) in the shape
//! the event builders take. The only place where output looks into a
//! [`Flow`]; nothing here changes pipeline state.

use meerkat_shared::eve::{Event, Hassh as EveHassh, Ssh, SshSide};

use crate::app::{Banner, SshState};
use crate::decode::ipproto;
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
    build::flow_event(&flow_view(flow), &end, source, now, opts)
}
