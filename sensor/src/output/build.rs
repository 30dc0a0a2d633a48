//! Builders for EVE events. Pure functions from plain inputs to
//! `meerkat_shared::eve::Event`, in the field order and with the semantics
//! of Suricata 7.0.10 (`output-json*.c`):
//!
//! * packet events (alert, drop) carry the tuple of the triggering packet
//!   (`LOG_DIR_PACKET`);
//! * transaction and flow events (ssh, flow) carry the flow's
//!   client→server tuple (`LOG_DIR_FLOW`);
//! * `in_iface` is always the capture source label (`nfq:0`, `nflog:10`),
//!   which is how Meerkat marks the mode without leaving the schema.

use std::net::IpAddr;

use serde::Deserialize;

use meerkat_shared::eve::{Alert, Drop, Event, Flow, Ssh, Verdict};

use crate::action::{Action, RejectTarget};
use crate::decode::{ipproto, proto_name, tcp_flags, Packet, L4};
use crate::packet::{Direction, Mode, Source, Timestamp};

use super::community_id::community_id;
use super::payload::{self, PayloadOpts};

/// Suricata's `pkt_src` for every captured packet (NFQ and NFLOG included).
pub const PKT_SRC_WIRE: &str = "wire/pcap";

/// Suricata's `pkt_src` of a flow-end pseudo packet.
pub const PKT_SRC_FLOW_TIMEOUT: &str = "stream (flow timeout)";

/// Options that change what the builders write (from `EveConfig`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BuildOpts {
    /// Write `community_id` with this seed.
    pub community_id: Option<u16>,
    /// Write the `verdict` object on alert and drop events.
    pub verdict: bool,
    /// Byte fields of alert events (`payload`, `packet`, ...).
    pub alert: PayloadOpts,
    /// Write `packet` events for packets tagged by `tag` rules.
    pub tagged_packets: bool,
    /// What `dns` events carry (`[eve.dns]`).
    pub dns: super::dns::DnsLogMask,
    /// Fields of the `tls` object.
    pub tls: super::tls::TlsLogOpts,
    /// Which anomalies `anomaly` events report.
    pub anomaly: AnomalyOpts,
}

/// `[eve.anomaly]`: which kinds of anomaly are written as `anomaly` events
/// (Suricata's `outputs.N.eve-log.types.M.anomaly.types.*` and
/// `packethdr`, with Suricata 7's defaults). `[eve.types] anomaly` turns
/// them all off.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct AnomalyOpts {
    /// Decoder anomalies (`decoder.icmpv4.unknown_type`, ...): one event
    /// per anomaly of a packet. Off by default: a noisy network writes one
    /// per bad packet.
    pub decode: bool,
    /// Stream anomalies (`stream.*`). Off by default, as in Suricata.
    /// Accepted for compatibility: Meerkat does not report stream
    /// anomalies yet.
    pub stream: bool,
    /// App-layer parser anomalies (`INVALID_BANNER`, ...). On by default.
    pub applayer: bool,
    /// Add the captured frame (`packet`, `packet_info.linktype`) to decode
    /// and stream anomalies.
    pub packethdr: bool,
}

impl Default for AnomalyOpts {
    fn default() -> Self {
        AnomalyOpts {
            decode: false,
            stream: false,
            applayer: true,
            packethdr: false,
        }
    }
}

/// What the output needs to know about a flow. `client` is the initiator.
/// For ICMP flows put the ICMP type of each side in the port fields (they
/// are then only used for `community_id`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowView {
    pub flow_id: u64,
    pub start: Timestamp,
    pub client: (IpAddr, u16),
    pub server: (IpAddr, u16),
    pub proto: u8,
    /// Packets to server, to client.
    pub pkts: [u64; 2],
    /// Bytes to server, to client.
    pub bytes: [u64; 2],
}

/// A decoded packet with its capture context.
#[derive(Debug, Clone, Copy)]
pub struct PacketView<'a> {
    pub pkt: &'a Packet<'a>,
    pub ts: Timestamp,
    pub source: Source,
    /// Direction within its flow, if it has one.
    pub dir: Option<Direction>,
    /// Suricata's `pcap_cnt`: the packet's number in a pcap file (1-based);
    /// `None` for live capture.
    pub pcap_cnt: Option<u64>,
}

/// `alert.action`: `"blocked"` for any reject (in any mode) and for a drop
/// on an IPS packet, `"allowed"` otherwise.
pub fn alert_action(mode: Mode, action: Action) -> &'static str {
    match action {
        Action::Reject(_) => "blocked",
        Action::Drop if mode == Mode::Ips => "blocked",
        _ => "allowed",
    }
}

/// The `verdict` object Suricata writes with `verdict: yes`.
pub fn verdict(mode: Mode, action: Action, proto: u8) -> Verdict {
    let act = match action {
        Action::Pass => "pass",
        Action::Alert => "alert",
        _ if mode == Mode::Ips => "drop",
        _ => "alert",
    };
    let target = action.reject_target().map(RejectTarget::eve_name);
    Verdict {
        action: act.to_string(),
        reject_target: target.map(str::to_string),
        reject: target.map(|_| {
            vec![if proto == ipproto::TCP {
                "tcp-reset"
            } else {
                "icmp-prohib"
            }
            .to_string()]
        }),
    }
}

fn cid(opts: &BuildOpts, a: (IpAddr, u16), b: (IpAddr, u16), proto: u8) -> Option<String> {
    opts.community_id
        .map(|seed| community_id(seed, a.0, a.1, b.0, b.1, proto))
}

/// An address as Suricata writes it: IPv4 dotted, IPv6 in full, eight
/// groups of four hex digits (`2001:0db8:0000:...:0001`, never `::`).
pub fn eve_ip(a: IpAddr) -> String {
    match a {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            use std::fmt::Write;
            let mut s = String::with_capacity(39);
            for (i, g) in v6.segments().iter().enumerate() {
                if i > 0 {
                    s.push(':');
                }
                let _ = write!(s, "{g:04x}");
            }
            s
        }
    }
}

/// Header of a packet event (`LOG_DIR_PACKET`).
fn packet_header(
    event_type: &str,
    pv: &PacketView<'_>,
    flow: Option<&FlowView>,
    opts: &BuildOpts,
) -> Event {
    let p = pv.pkt;
    let (sport, dport) = p.ports().unwrap_or((0, 0));
    let (icmp_type, icmp_code) = match p.l4 {
        L4::Icmp(i) => (Some(i.itype), Some(i.icode)),
        _ => (None, None),
    };
    let community_id = match flow {
        Some(f) => cid(opts, f.client, f.server, f.proto),
        None => {
            let (a, b) = match p.l4 {
                L4::Icmp(i) => (i.itype as u16, i.icode as u16),
                _ => (sport, dport),
            };
            cid(opts, (p.ip.src, a), (p.ip.dst, b), p.ip.proto)
        }
    };
    if !p.ip_decoded() {
        // No IP header decoded (a truncated one, a non-IP frame): no
        // tuple, as Suricata writes it.
        return Event {
            timestamp: pv.ts.to_eve(),
            flow_id: flow.map(|f| f.flow_id),
            pcap_cnt: pv.pcap_cnt,
            in_iface: Some(pv.source.to_string()),
            event_type: event_type.to_string(),
            vlan: vlan_ids(p),
            pkt_src: Some(PKT_SRC_WIRE.to_string()),
            ..Default::default()
        };
    }
    Event {
        timestamp: pv.ts.to_eve(),
        flow_id: flow.map(|f| f.flow_id),
        pcap_cnt: pv.pcap_cnt,
        in_iface: Some(pv.source.to_string()),
        event_type: event_type.to_string(),
        vlan: vlan_ids(p),
        src_ip: Some(eve_ip(p.ip.src)),
        src_port: p.ports().map(|_| sport),
        dest_ip: Some(eve_ip(p.ip.dst)),
        dest_port: p.ports().map(|_| dport),
        proto: Some(p.proto_name().into_owned()),
        icmp_type,
        icmp_code,
        pkt_src: Some(PKT_SRC_WIRE.to_string()),
        community_id,
        ..Default::default()
    }
}

/// The EVE `vlan` array of a packet (None without VLAN tags).
fn vlan_ids(p: &Packet<'_>) -> Option<Vec<u16>> {
    let v = &p.ext.vlan;
    (!v.is_empty()).then(|| v.as_slice().to_vec())
}

/// A `packet` event: a packet tagged by a `tag` rule.
pub fn packet_event(pv: &PacketView<'_>, flow: Option<&FlowView>, opts: &BuildOpts) -> Event {
    let mut ev = packet_header("packet", pv, flow, opts);
    payload::add_packet(&mut ev, pv.pkt);
    ev
}

/// Header of a flow or transaction event (`LOG_DIR_FLOW`).
fn flow_header(event_type: &str, flow: &FlowView, source: Source, ts: Timestamp) -> Event {
    let ports = ipproto::has_ports(flow.proto);
    Event {
        timestamp: ts.to_eve(),
        flow_id: Some(flow.flow_id),
        in_iface: Some(source.to_string()),
        event_type: event_type.to_string(),
        src_ip: Some(eve_ip(flow.client.0)),
        src_port: ports.then_some(flow.client.1),
        dest_ip: Some(eve_ip(flow.server.0)),
        dest_port: ports.then_some(flow.server.1),
        proto: Some(proto_name(flow.proto).into_owned()),
        ..Default::default()
    }
}

fn flow_counters(flow: &FlowView) -> Flow {
    Flow {
        pkts_toserver: flow.pkts[0],
        pkts_toclient: flow.pkts[1],
        bytes_toserver: flow.bytes[0],
        bytes_toclient: flow.bytes[1],
        start: flow.start.to_eve(),
        ..Default::default()
    }
}

/// An `ssh` transaction event: client→server tuple, `tx_id` 0.
pub fn ssh_event(
    flow: &FlowView,
    ssh: Ssh,
    source: Source,
    ts: Timestamp,
    pcap_cnt: Option<u64>,
    opts: &BuildOpts,
) -> Event {
    let mut ev = flow_header("ssh", flow, source, ts);
    ev.pcap_cnt = pcap_cnt;
    ev.pkt_src = Some(PKT_SRC_WIRE.to_string());
    ev.community_id = cid(opts, flow.client, flow.server, flow.proto);
    ev.tx_id = Some(0);
    ev.ssh = Some(ssh);
    ev
}

/// A `tls` transaction event: client→server tuple, no `tx_id` (as
/// Suricata).
pub fn tls_event(
    flow: &FlowView,
    tls: serde_json::Value,
    source: Source,
    ts: Timestamp,
    pcap_cnt: Option<u64>,
    opts: &BuildOpts,
) -> Event {
    let mut ev = flow_header("tls", flow, source, ts);
    ev.pcap_cnt = pcap_cnt;
    ev.pkt_src = Some(PKT_SRC_WIRE.to_string());
    ev.community_id = cid(opts, flow.client, flow.server, flow.proto);
    ev.tls = Some(tls);
    ev
}

/// A rule match on a transaction (e.g. `ssh.software`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TxMatch {
    pub tx_id: u64,
    /// The transaction's ssh object; `None` before any banner is parsed.
    pub ssh: Option<Ssh>,
    /// The transaction's `http` object (HTTP transactions).
    pub http: Option<serde_json::Value>,
    /// The flow's `tls` object (TLS flows).
    pub tls: Option<serde_json::Value>,
    /// The transaction's `dns` object (DNS transactions).
    pub dns: Option<serde_json::Value>,
}

/// What the alert event needs beyond the packet and flow.
#[derive(Debug, Clone)]
pub struct AlertInfo<'a> {
    /// The `alert` object; set `action` with [`alert_action`].
    pub alert: Alert,
    /// The rule's action (for the `verdict` object).
    pub action: Action,
    /// Set when the rule matched on a transaction.
    pub tx: Option<TxMatch>,
    /// Detected application protocol (`"ssh"`, `"failed"`).
    pub app_proto: Option<&'a str>,
    /// The stream data the rule matched on, for `payload` (None: the
    /// packet's own payload).
    pub stream: Option<&'a [u8]>,
}

/// Swaps an event's tuple so that it reads in direction `dir` (an event of
/// the packet `pv` about data that travelled the other way).
pub fn orient(ev: &mut Event, dir: Direction) {
    std::mem::swap(&mut ev.src_ip, &mut ev.dest_ip);
    std::mem::swap(&mut ev.src_port, &mut ev.dest_port);
    if ev.direction.is_some() {
        ev.direction = Some(dir.as_str().to_string());
    }
}

/// An `alert` event for the packet `pv`.
pub fn alert_event(
    pv: &PacketView<'_>,
    flow: Option<&FlowView>,
    info: AlertInfo<'_>,
    opts: &BuildOpts,
) -> Event {
    let mut ev = packet_header("alert", pv, flow, opts);
    if let Some(tx) = info.tx {
        ev.tx_id = Some(tx.tx_id);
        ev.ssh = tx.ssh;
        ev.http = tx.http;
        ev.tls = tx.tls;
        ev.dns = tx.dns;
    }
    ev.alert = Some(info.alert);
    if let Some(f) = flow {
        ev.app_proto = info.app_proto.map(str::to_string);
        ev.direction = pv.dir.map(|d| d.as_str().to_string());
        let ports = ipproto::has_ports(f.proto);
        ev.flow = Some(Flow {
            src_ip: Some(eve_ip(f.client.0)),
            dest_ip: Some(eve_ip(f.server.0)),
            src_port: ports.then_some(f.client.1),
            dest_port: ports.then_some(f.server.1),
            ..flow_counters(f)
        });
    }
    if opts.alert.any() {
        match info.stream {
            Some(data) => payload::add_payload(&mut ev, data, true, &opts.alert),
            None => payload::add_payload(&mut ev, pv.pkt.payload, false, &opts.alert),
        }
        if opts.alert.packet {
            payload::add_packet(&mut ev, pv.pkt);
        }
    }
    if opts.verdict {
        ev.verdict = Some(verdict(pv.source.mode(), info.action, pv.pkt.ip.proto));
    }
    ev
}

/// An app-layer `anomaly` event (e.g. an SSH flow whose other side sent
/// garbage instead of a banner), for the packet `pv` of flow `flow`.
pub fn anomaly_event(
    pv: &PacketView<'_>,
    flow: &FlowView,
    app_proto: &str,
    event: &str,
    opts: &BuildOpts,
) -> Event {
    let mut ev = packet_header("anomaly", pv, Some(flow), opts);
    ev.tx_id = Some(0);
    ev.anomaly = Some(meerkat_shared::eve::Anomaly {
        kind: "applayer".to_string(),
        app_proto: Some(app_proto.to_string()),
        event: event.to_string(),
        layer: Some("proto_parser".to_string()),
    });
    ev
}

/// A decoder `anomaly` event: one of the packet's decoder anomalies
/// (`decoder.icmpv4.unknown_type`), with the captured frame when
/// `packethdr` is on. Packets whose IP header did not decode carry no
/// addresses, as in Suricata.
pub fn decode_anomaly_event(
    pv: &PacketView<'_>,
    flow: Option<&FlowView>,
    name: &str,
    opts: &BuildOpts,
) -> Event {
    let mut ev = packet_header("anomaly", pv, flow, opts);
    ev.anomaly = Some(meerkat_shared::eve::Anomaly {
        kind: "decode".to_string(),
        app_proto: None,
        event: format!("decoder.{name}"),
        layer: None,
    });
    if opts.anomaly.packethdr {
        payload::add_packet(&mut ev, pv.pkt);
    }
    ev
}

/// A `drop` event: only for IPS packets (the caller checks the mode).
/// `reason` is Suricata's drop reason string (`"rules"`, `"flow drop"`,
/// `"decode error"`, ...). The alert, if any, is written without metadata.
pub fn drop_event(
    pv: &PacketView<'_>,
    flow: Option<&FlowView>,
    reason: &str,
    alert: Option<(Alert, Action, Option<u64>)>,
    opts: &BuildOpts,
) -> Event {
    let mut ev = packet_header("drop", pv, flow, opts);
    if flow.is_some() {
        ev.direction = pv.dir.map(|d| d.as_str().to_string());
    }
    ev.drop = Some(drop_object(pv.pkt, reason));
    let mut action = Action::Drop;
    if let Some((mut alert, act, tx_id)) = alert {
        alert.metadata = None;
        ev.tx_id = tx_id;
        ev.alert = Some(alert);
        action = act;
    }
    if opts.verdict {
        ev.verdict = Some(verdict(Mode::Ips, action, pv.pkt.ip.proto));
    }
    ev
}

/// The `drop` object's header fields.
pub fn drop_object(p: &Packet<'_>, reason: &str) -> Drop {
    let mut d = Drop {
        len: p.ip.len,
        reason: reason.to_string(),
        ..Default::default()
    };
    if p.ip.version == 6 {
        d.tc = Some(p.ip.tos);
        d.hoplimit = Some(p.ip.ttl);
        d.flowlbl = Some(p.ip.flow_label);
    } else {
        d.tos = Some(p.ip.tos);
        d.ttl = Some(p.ip.ttl);
        d.ipid = Some(p.ip.id);
    }
    match p.l4 {
        L4::Tcp(t) => {
            let f = |bit: u8| Some(t.flags & bit != 0);
            d.tcpseq = Some(t.seq);
            d.tcpack = Some(t.ack);
            d.tcpwin = Some(t.window);
            d.syn = f(tcp_flags::SYN);
            d.ack = f(tcp_flags::ACK);
            d.psh = f(tcp_flags::PSH);
            d.rst = f(tcp_flags::RST);
            d.urg = f(tcp_flags::URG);
            d.fin = f(tcp_flags::FIN);
            d.tcpres = Some(t.reserved);
            d.tcpurgp = Some(t.urgent);
        }
        L4::Udp(u) => d.udplen = Some(u.len),
        L4::Icmp(i) => {
            d.icmp_id = Some(i.id);
            d.icmp_seq = Some(i.seq);
        }
        L4::Other => {}
    }
    d
}

/// TCP flags seen on a flow, per direction, and the session state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TcpSummary<'a> {
    pub flags_ts: u8,
    pub flags_tc: u8,
    /// `syn_sent`, `established`, `closed`, ...
    pub state: Option<&'a str>,
}

/// How a flow ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowEnd<'a> {
    /// Time of the flow's last packet.
    pub last_seen: Timestamp,
    /// `new`, `established`, `closed`, `bypassed`.
    pub state: &'a str,
    /// `timeout`, `forced`, `shutdown`, `unknown`.
    pub reason: &'a str,
    pub alerted: bool,
    /// `Some("drop")`/`Some("pass")` when a rule set the flow's action.
    pub action: Option<&'a str>,
    pub app_proto: Option<&'a str>,
    /// For TCP flows.
    pub tcp: Option<TcpSummary<'a>>,
}

/// A `flow` event at flow end. `now` is the log time (Suricata writes the
/// current time, not a packet time).
pub fn flow_event(
    flow: &FlowView,
    end: &FlowEnd<'_>,
    source: Source,
    now: Timestamp,
    opts: &BuildOpts,
) -> Event {
    let mut ev = flow_header("flow", flow, source, now);
    ev.app_proto = end.app_proto.map(str::to_string);
    ev.flow = Some(Flow {
        end: Some(end.last_seen.to_eve()),
        age: Some(end.last_seen.secs.saturating_sub(flow.start.secs).max(0) as u64),
        state: Some(end.state.to_string()),
        reason: Some(end.reason.to_string()),
        alerted: Some(end.alerted),
        action: end.action.map(str::to_string),
        ..flow_counters(flow)
    });
    ev.community_id = cid(opts, flow.client, flow.server, flow.proto);
    if flow.proto == ipproto::TCP {
        if let Some(t) = end.tcp {
            ev.tcp = Some(tcp_object(&t));
        }
    }
    ev
}

/// Suricata's flow-event `tcp` object.
pub fn tcp_object(t: &TcpSummary<'_>) -> serde_json::Value {
    let all = t.flags_ts | t.flags_tc;
    let mut m = serde_json::Map::new();
    m.insert("tcp_flags".into(), format!("{all:02x}").into());
    m.insert("tcp_flags_ts".into(), format!("{:02x}", t.flags_ts).into());
    m.insert("tcp_flags_tc".into(), format!("{:02x}", t.flags_tc).into());
    add_flag_names(&mut m, all);
    if let Some(s) = t.state {
        m.insert("state".into(), s.into());
    }
    serde_json::Value::Object(m)
}

/// `"syn": true`, ... for each flag set in `flags`.
fn add_flag_names(m: &mut serde_json::Map<String, serde_json::Value>, flags: u8) {
    for (bit, name) in [
        (tcp_flags::SYN, "syn"),
        (tcp_flags::FIN, "fin"),
        (tcp_flags::RST, "rst"),
        (tcp_flags::PSH, "psh"),
        (tcp_flags::ACK, "ack"),
        (tcp_flags::URG, "urg"),
        (tcp_flags::ECE, "ecn"),
        (tcp_flags::CWR, "cwr"),
    ] {
        if flags & bit != 0 {
            m.insert(name.into(), true.into());
        }
    }
}

/// One direction of a flow for a `netflow` event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NetFlowSide {
    pub dir: Direction,
    pub pkts: u64,
    pub bytes: u64,
    pub min_ttl: u8,
    pub max_ttl: u8,
    /// OR of this direction's TCP flags (TCP flows only).
    pub tcp_flags: Option<u8>,
}

/// A `netflow` event (Suricata's netflow logger): one direction of a flow
/// with the tuple as that direction's packets carry it; `start`/`end` are
/// the flow's.
pub fn netflow_event(
    flow: &FlowView,
    side: &NetFlowSide,
    last_seen: Timestamp,
    app_proto: Option<&str>,
    source: Source,
    now: Timestamp,
) -> Event {
    let mut ev = flow_header("netflow", flow, source, now);
    if side.dir == Direction::ToClient {
        std::mem::swap(&mut ev.src_ip, &mut ev.dest_ip);
        std::mem::swap(&mut ev.src_port, &mut ev.dest_port);
    }
    ev.app_proto = app_proto.map(str::to_string);
    ev.netflow = Some(meerkat_shared::eve::NetFlow {
        pkts: side.pkts,
        bytes: side.bytes,
        start: flow.start.to_eve(),
        end: last_seen.to_eve(),
        age: last_seen.secs.saturating_sub(flow.start.secs).max(0) as u64,
        min_ttl: side.min_ttl,
        max_ttl: side.max_ttl,
    });
    if let Some(f) = side.tcp_flags {
        let mut m = serde_json::Map::new();
        m.insert("tcp_flags".into(), format!("{f:02x}").into());
        add_flag_names(&mut m, f);
        ev.tcp = Some(serde_json::Value::Object(m));
    }
    ev
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::{IcmpInfo, IpInfo, TcpInfo, UdpInfo};
    use meerkat_shared::eve::SshSide;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    pub(crate) fn tcp_packet(payload: &[u8]) -> Packet<'_> {
        Packet {
            ext: Default::default(),
            ip: IpInfo {
                version: 4,
                src: ip("203.0.113.50"),
                dst: ip("192.0.2.10"),
                proto: 6,
                ttl: 52,
                tos: 0,
                id: 46211,
                len: 73,
                flow_label: 0,
                fragment: false,
                header_len: 20,
            },
            l4: L4::Tcp(TcpInfo {
                src_port: 51544,
                dst_port: 22,
                seq: 3_617_113_208,
                ack: 2_046_573_119,
                flags: tcp_flags::ACK | tcp_flags::PSH,
                window: 502,
                urgent: 0,
                reserved: 0,
                header_len: 32,
            }),
            payload,
        }
    }

    fn flow() -> FlowView {
        FlowView {
            flow_id: 816_023_875_525_697,
            start: Timestamp {
                secs: 1_741_944_410,
                micros: 583_211,
            },
            client: (ip("203.0.113.50"), 51544),
            server: (ip("192.0.2.10"), 22),
            proto: 6,
            pkts: [4, 3],
            bytes: [301, 250],
        }
    }

    fn ts() -> Timestamp {
        Timestamp {
            secs: 1_741_944_410,
            micros: 621_034,
        }
    }

    fn rule_alert(action: &str) -> Alert {
        let mut md = std::collections::BTreeMap::new();
        md.insert("created_at".to_string(), vec!["2025_03_14".to_string()]);
        Alert {
            action: action.into(),
            gid: 1,
            signature_id: 9_000_001,
            rev: 1,
            signature: "LOCAL SSH libssh client blocked".into(),
            category: "Attempted Administrator Privilege Gain".into(),
            severity: 1,
            metadata: Some(md),
        }
    }

    fn ssh_obj() -> Ssh {
        Ssh {
            client: Some(SshSide {
                proto_version: "2.0".into(),
                software_version: Some("libssh_0.9.6".into()),
                hassh: None,
            }),
            server: Some(SshSide {
                proto_version: "2.0".into(),
                software_version: Some("OpenSSH_9.2p1".into()),
                hassh: None,
            }),
        }
    }

    #[test]
    fn action_semantics() {
        assert_eq!(alert_action(Mode::Ips, Action::Drop), "blocked");
        assert_eq!(alert_action(Mode::Ids, Action::Drop), "allowed");
        assert_eq!(
            alert_action(Mode::Ids, Action::Reject(RejectTarget::Src)),
            "blocked"
        );
        assert_eq!(
            alert_action(Mode::Ids, Action::Reject(RejectTarget::Both)),
            "blocked"
        );
        assert_eq!(alert_action(Mode::Ips, Action::Alert), "allowed");
        let v = verdict(Mode::Ids, Action::Reject(RejectTarget::Src), 17);
        assert_eq!(v.action, "alert");
        assert_eq!(v.reject_target.as_deref(), Some("to_client"));
        assert_eq!(v.reject, Some(vec!["icmp-prohib".to_string()]));
        let v = verdict(Mode::Ips, Action::Reject(RejectTarget::Dst), 6);
        assert_eq!(v.action, "drop");
        assert_eq!(v.reject, Some(vec!["tcp-reset".to_string()]));
        assert_eq!(verdict(Mode::Ips, Action::Pass, 6).action, "pass");
    }

    #[test]
    fn flow_id_is_51_bits() {
        let id = crate::flow::flow_id(
            Timestamp {
                secs: i64::MAX,
                micros: 999_999,
            },
            u32::MAX,
        );
        assert!(id < (1 << 51));
        assert_eq!(
            crate::flow::flow_id(Timestamp { secs: 1, micros: 0 }, 5),
            (1 << 48) | 5
        );
    }

    #[test]
    fn ips_ssh_alert_matches_reference_shape() {
        let payload = [0u8; 21];
        let pkt = tcp_packet(&payload);
        let pv = PacketView {
            pkt: &pkt,
            ts: ts(),
            source: Source::Nfq(0),
            dir: Some(Direction::ToServer),
            pcap_cnt: None,
        };
        let opts = BuildOpts {
            community_id: Some(0),
            verdict: true,
            ..Default::default()
        };
        let ev = alert_event(
            &pv,
            Some(&flow()),
            AlertInfo {
                alert: rule_alert(alert_action(Mode::Ips, Action::Drop)),
                action: Action::Drop,
                tx: Some(TxMatch {
                    tx_id: 0,
                    ssh: Some(ssh_obj()),
                    http: None,
                    tls: None,
                    dns: None,
                }),
                app_proto: Some("ssh"),
                stream: None,
            },
            &opts,
        );
        let s = serde_json::to_string(&ev).unwrap();
        assert_eq!(
            s,
            r#"{"timestamp":"2025-03-14T09:26:50.621034+0000","flow_id":816023875525697,"in_iface":"nfq:0","event_type":"alert","src_ip":"203.0.113.50","src_port":51544,"dest_ip":"192.0.2.10","dest_port":22,"proto":"TCP","pkt_src":"wire/pcap","community_id":"1:ZGvLnSCpsmyPPvH+7hJAPSvNCNg=","tx_id":0,"alert":{"action":"blocked","gid":1,"signature_id":9000001,"rev":1,"signature":"LOCAL SSH libssh client blocked","category":"Attempted Administrator Privilege Gain","severity":1,"metadata":{"created_at":["2025_03_14"]}},"ssh":{"client":{"proto_version":"2.0","software_version":"libssh_0.9.6"},"server":{"proto_version":"2.0","software_version":"OpenSSH_9.2p1"}},"app_proto":"ssh","direction":"to_server","flow":{"pkts_toserver":4,"pkts_toclient":3,"bytes_toserver":301,"bytes_toclient":250,"start":"2025-03-14T09:26:50.583211+0000","src_ip":"203.0.113.50","dest_ip":"192.0.2.10","src_port":51544,"dest_port":22},"verdict":{"action":"drop"}}"#
        );
    }

    #[test]
    fn to_client_alert_normalises_flow_tuple() {
        let mut pkt = tcp_packet(b"");
        pkt.ip.src = ip("192.0.2.10");
        pkt.ip.dst = ip("203.0.113.50");
        if let L4::Tcp(t) = &mut pkt.l4 {
            std::mem::swap(&mut t.src_port, &mut t.dst_port);
        }
        let pv = PacketView {
            pkt: &pkt,
            ts: ts(),
            source: Source::Nflog(2),
            dir: Some(Direction::ToClient),
            pcap_cnt: None,
        };
        let ev = alert_event(
            &pv,
            Some(&flow()),
            AlertInfo {
                alert: rule_alert("allowed"),
                action: Action::Alert,
                tx: None,
                app_proto: Some("ssh"),
                stream: None,
            },
            &BuildOpts::default(),
        );
        assert_eq!(ev.src_ip.as_deref(), Some("192.0.2.10"));
        assert_eq!(ev.in_iface.as_deref(), Some("nflog:2"));
        assert_eq!(ev.direction.as_deref(), Some("to_client"));
        let f = ev.flow.unwrap();
        assert_eq!(f.src_ip.as_deref(), Some("203.0.113.50"));
        assert_eq!(f.src_port, Some(51544));
        assert!(ev.tx_id.is_none() && ev.ssh.is_none() && ev.verdict.is_none());
    }

    #[test]
    fn drop_event_fields() {
        let payload = [0u8; 21];
        let pkt = tcp_packet(&payload);
        let pv = PacketView {
            pkt: &pkt,
            ts: ts(),
            source: Source::Nfq(0),
            dir: Some(Direction::ToServer),
            pcap_cnt: None,
        };
        let ev = drop_event(
            &pv,
            Some(&flow()),
            "rules",
            Some((rule_alert("blocked"), Action::Drop, Some(0))),
            &BuildOpts::default(),
        );
        let d = ev.drop.as_ref().unwrap();
        assert_eq!(
            (d.len, d.ttl, d.ipid, d.tcpwin),
            (73, Some(52), Some(46211), Some(502))
        );
        assert_eq!((d.syn, d.ack, d.psh), (Some(false), Some(true), Some(true)));
        assert_eq!(d.reason, "rules");
        assert!(ev.alert.as_ref().unwrap().metadata.is_none());
        assert_eq!(ev.direction.as_deref(), Some("to_server"));

        let udp = Packet {
            ext: Default::default(),
            l4: L4::Udp(UdpInfo {
                src_port: 5353,
                dst_port: 53,
                len: 30,
            }),
            ..tcp_packet(b"")
        };
        let pv = PacketView {
            pkt: &udp,
            ts: ts(),
            source: Source::Nfq(1),
            dir: None,
            pcap_cnt: None,
        };
        let d = drop_event(&pv, None, "flow drop", None, &BuildOpts::default())
            .drop
            .unwrap();
        assert_eq!((d.udplen, d.tcpseq), (Some(30), None));
    }

    #[test]
    fn icmp_header_has_type_code_no_ports() {
        let icmp = Packet {
            ext: Default::default(),
            l4: L4::Icmp(IcmpInfo {
                v6: false,
                itype: 8,
                icode: 0,
                id: 7,
                seq: 1,
            }),
            ..tcp_packet(b"")
        };
        let mut icmp = icmp;
        icmp.ip.proto = 1;
        let pv = PacketView {
            pkt: &icmp,
            ts: ts(),
            source: Source::Nflog(0),
            dir: None,
            pcap_cnt: None,
        };
        let ev = drop_event(
            &pv,
            None,
            "rules",
            None,
            &BuildOpts {
                community_id: Some(0),
                verdict: false,
                ..Default::default()
            },
        );
        assert_eq!(
            (ev.icmp_type, ev.icmp_code, ev.src_port),
            (Some(8), Some(0), None)
        );
        assert_eq!(ev.proto.as_deref(), Some("ICMP"));
        assert!(ev.community_id.is_some());
    }

    #[test]
    fn ssh_and_flow_events() {
        let opts = BuildOpts {
            community_id: Some(0),
            verdict: false,
            ..Default::default()
        };
        let ev = ssh_event(&flow(), ssh_obj(), Source::Nfq(0), ts(), None, &opts);
        assert_eq!(ev.tx_id, Some(0));
        assert_eq!(ev.pkt_src.as_deref(), Some("wire/pcap"));
        assert_eq!(
            ev.community_id.as_deref(),
            Some("1:ZGvLnSCpsmyPPvH+7hJAPSvNCNg=")
        );
        let end = FlowEnd {
            last_seen: Timestamp {
                secs: 1_741_944_415,
                micros: 790_011,
            },
            state: "established",
            reason: "timeout",
            alerted: true,
            action: Some("drop"),
            app_proto: Some("ssh"),
            tcp: Some(TcpSummary {
                flags_ts: 0x1a,
                flags_tc: 0x12,
                state: Some("established"),
            }),
        };
        let ev = flow_event(&flow(), &end, Source::Nfq(0), ts(), &opts);
        assert!(ev.pkt_src.is_none());
        let f = ev.flow.as_ref().unwrap();
        assert_eq!((f.age, f.action.as_deref()), (Some(5), Some("drop")));
        let tcp = ev.tcp.unwrap();
        assert_eq!(tcp["tcp_flags"], "1a");
        assert_eq!(tcp["tcp_flags_tc"], "12");
        assert_eq!(tcp["syn"], true);
        assert!(tcp.get("fin").is_none());
    }

    #[test]
    fn decode_anomaly_without_ip_has_no_tuple() {
        let pkt = Packet {
            ext: Default::default(),
            ip: IpInfo::NONE,
            l4: L4::Other,
            payload: &[],
        };
        let pv = PacketView {
            pkt: &pkt,
            ts: ts(),
            source: Source::Pcap,
            dir: None,
            pcap_cnt: Some(3),
        };
        let mut opts = BuildOpts::default();
        let ev = decode_anomaly_event(&pv, None, "ipv4.trunc_pkt", &opts);
        assert_eq!(ev.event_type, "anomaly");
        assert!(ev.src_ip.is_none() && ev.dest_ip.is_none() && ev.proto.is_none());
        assert_eq!(ev.pcap_cnt, Some(3));
        let a = ev.anomaly.unwrap();
        assert_eq!(
            (a.kind.as_str(), a.event.as_str()),
            ("decode", "decoder.ipv4.trunc_pkt")
        );
        assert!(ev.packet.is_none());
        opts.anomaly.packethdr = true;
        let ev = decode_anomaly_event(&pv, None, "ipv4.trunc_pkt", &opts);
        assert!(ev.packet.is_some() && ev.packet_info.is_some());
        // With an IP header the tuple is written.
        let pkt = tcp_packet(b"");
        let pv = PacketView { pkt: &pkt, ..pv };
        let ev = decode_anomaly_event(&pv, Some(&flow()), "tcp.opt_invalid_len", &opts);
        assert_eq!(ev.src_ip.as_deref(), Some("203.0.113.50"));
        assert_eq!(ev.flow_id, Some(flow().flow_id));
    }

    #[test]
    fn addresses_as_suricata_writes_them() {
        assert_eq!(eve_ip(ip("192.0.2.1")), "192.0.2.1");
        assert_eq!(
            eve_ip(ip("2001:db8::1")),
            "2001:0db8:0000:0000:0000:0000:0000:0001"
        );
        assert_eq!(eve_ip(ip("::")), "0000:0000:0000:0000:0000:0000:0000:0000");
        assert_eq!(
            eve_ip(ip("::ffff:192.0.2.1")),
            "0000:0000:0000:0000:0000:ffff:c000:0201"
        );
    }

    #[test]
    fn netflow_event_per_direction() {
        let f = flow();
        let side = NetFlowSide {
            dir: Direction::ToClient,
            pkts: 4,
            bytes: 495,
            min_ttl: 50,
            max_ttl: 50,
            tcp_flags: Some(tcp_flags::SYN | tcp_flags::ACK | tcp_flags::FIN | tcp_flags::PSH),
        };
        let ev = netflow_event(&f, &side, ts(), Some("http"), Source::Pcap, ts());
        assert_eq!(ev.event_type, "netflow");
        // The to_client side carries the server as its source.
        assert_eq!(ev.src_ip, Some(eve_ip(f.server.0)));
        assert_eq!(ev.src_port, Some(f.server.1));
        assert_eq!(ev.dest_port, Some(f.client.1));
        assert_eq!(ev.app_proto.as_deref(), Some("http"));
        let n = ev.netflow.unwrap();
        assert_eq!((n.pkts, n.bytes, n.min_ttl, n.max_ttl), (4, 495, 50, 50));
        let tcp = ev.tcp.unwrap();
        assert_eq!(tcp["tcp_flags"], "1b");
        assert_eq!(tcp["syn"], true);
        assert!(tcp.get("rst").is_none() && tcp.get("tcp_flags_ts").is_none());
    }
}
