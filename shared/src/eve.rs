//! Suricata 7 EVE JSON event types.
//!
//! Field names, order and types follow Suricata 7.0.10 (`output-json*.c`) so
//! that its schema, jq, EveBox and Filebeat read Meerkat's output unchanged.
//! Every field is optional on input: [`Event`] deserializes anything that is
//! a JSON object, and readers such as `meerkat-dom` take what is there.
//!
//! The top level of Suricata's schema is closed (`additionalProperties:
//! false`): do not add top-level fields here. Meerkat's capture source goes
//! into `in_iface` (`"nfq:0"`, `"nflog:10"`, `"pcap"`).

use serde::{Deserialize, Serialize};

/// One EVE line. Unknown event types keep their type name and are otherwise
/// ignored by typed readers.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Event {
    pub timestamp: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flow_id: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub in_iface: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pcap_cnt: Option<u64>,
    pub event_type: String,
    /// VLAN ids of the packet, outer first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vlan: Option<Vec<u16>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub src_ip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub src_port: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dest_ip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dest_port: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proto: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub icmp_type: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub icmp_code: Option<u8>,
    /// ESP security parameter index (flows of IP protocol 50).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spi: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pkt_src: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub community_id: Option<String>,
    /// Flowbits named `traffic/id/NAME` and `traffic/label/NAME`:
    /// `{"id": [..], "label": [..]}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub traffic: Option<serde_json::Value>,
    /// The flow's other variables (`{"flowbits": [..]}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tx_id: Option<u64>,
    /// Drop events write `direction` right after the header.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drop: Option<Drop>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub anomaly: Option<Anomaly>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alert: Option<Alert>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ssh: Option<Ssh>,
    /// Suricata's `http` object (`http` events, alerts on HTTP
    /// transactions, `fileinfo` events of HTTP files).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http: Option<serde_json::Value>,
    /// Suricata's `tls` object (`tls` events, alerts on TLS flows).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<serde_json::Value>,
    /// Suricata's `fileinfo` object.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fileinfo: Option<serde_json::Value>,
    /// Suricata's `dns` object (`dns` events, alerts on DNS
    /// transactions).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dns: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_proto: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub direction: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flow: Option<Flow>,
    /// `netflow` events: one direction of a flow.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub netflow: Option<NetFlow>,
    /// Alert `payload` (base64 of the packet payload or stream data).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload: Option<String>,
    /// Alert `payload_printable` (non-printable bytes as `.`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload_printable: Option<String>,
    /// Alert `payload_length`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload_length: Option<u64>,
    /// Alert `stream`: 1 when the payload is stream data.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream: Option<u8>,
    /// Alert and `packet` events: the packet in base64, link layer included.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub packet: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub packet_info: Option<PacketInfo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tcp: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verdict: Option<Verdict>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stats: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
}

/// `packet_info` object of events with a `packet`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct PacketInfo {
    /// pcap `LINKTYPE_*` of `packet`.
    pub linktype: u16,
}

/// `ssh` object: client and server banners.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct Ssh {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client: Option<SshSide>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server: Option<SshSide>,
}

/// One side's banner as Suricata 7 logs it: the software version stops at
/// the first space, so the comment is not included.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct SshSide {
    pub proto_version: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub software_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hassh: Option<Hassh>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct Hassh {
    pub hash: String,
    pub string: String,
}

/// `alert` object.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Alert {
    /// `"allowed"` or `"blocked"`.
    pub action: String,
    pub gid: u32,
    pub signature_id: u32,
    pub rev: u32,
    pub signature: String,
    pub category: String,
    pub severity: u8,
    /// Object of arrays, keys sorted: `{"created_at":["2025_03_14"]}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<std::collections::BTreeMap<String, Vec<String>>>,
}

/// `flow` object as written inside alerts (no end/age/state) and in flow
/// events (with them).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Flow {
    pub pkts_toserver: u64,
    pub pkts_toclient: u64,
    pub bytes_toserver: u64,
    pub bytes_toclient: u64,
    pub start: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub age: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alerted: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub src_ip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dest_ip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub src_port: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dest_port: Option<u16>,
}

/// `netflow` object: one direction of a flow, as Suricata's netflow
/// logger writes it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct NetFlow {
    pub pkts: u64,
    pub bytes: u64,
    pub start: String,
    pub end: String,
    pub age: u64,
    pub min_ttl: u8,
    pub max_ttl: u8,
}

/// `drop` object: the dropped packet's IP and transport header fields.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct Drop {
    pub len: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tos: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tc: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttl: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hoplimit: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ipid: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flowlbl: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tcpseq: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tcpack: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tcpwin: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub syn: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ack: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub psh: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rst: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub urg: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fin: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tcpres: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tcpurgp: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub udplen: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub icmp_id: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub icmp_seq: Option<u16>,
    /// `"rules"`, `"flow drop"`, `"decode error"`, ...
    pub reason: String,
}

/// `anomaly` object: a protocol violation seen by a parser.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct Anomaly {
    /// `"applayer"`, `"decode"` or `"stream"`.
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_proto: Option<String>,
    /// Event name, e.g. `"INVALID_BANNER"`.
    pub event: String,
    /// `"proto_parser"` for app-layer parser events.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layer: Option<String>,
}

/// `verdict` object (only when verdict logging is on).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct Verdict {
    /// `"drop"`, `"alert"` or `"pass"`.
    pub action: String,
    #[serde(rename = "reject-target", skip_serializing_if = "Option::is_none")]
    pub reject_target: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reject: Option<Vec<String>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_suricata_ssh_line() {
        let line = r#"{"timestamp":"2020-03-05T02:49:20.642408+0000","flow_id":283589856884159,"in_iface":"eth0","event_type":"ssh","src_ip":"45.141.86.128","src_port":22361,"dest_ip":"172.31.8.201","dest_port":22,"proto":"TCP","ssh":{"client":{"proto_version":"2.0","software_version":"paramiko_1.8.1"},"server":{"proto_version":"2.0","software_version":"OpenSSH_7.6p1 Ubuntu-4ubuntu0.3"}}}"#;
        let ev: Event = serde_json::from_str(line).unwrap();
        assert_eq!(ev.event_type, "ssh");
        let client = ev.ssh.unwrap().client.unwrap();
        assert_eq!(client.software_version.as_deref(), Some("paramiko_1.8.1"));
    }

    #[test]
    fn tolerates_missing_fields() {
        let ev: Event = serde_json::from_str(r#"{"event_type":"ssh","ssh":{}}"#).unwrap();
        assert!(ev.src_ip.is_none());
        assert!(ev.ssh.unwrap().client.is_none());
    }

    #[test]
    fn header_order_matches_suricata() {
        let ev = Event {
            timestamp: "t".into(),
            flow_id: Some(1),
            in_iface: Some("nfq:0".into()),
            event_type: "ssh".into(),
            src_ip: Some("192.0.2.1".into()),
            proto: Some("TCP".into()),
            ..Default::default()
        };
        let s = serde_json::to_string(&ev).unwrap();
        assert_eq!(
            s,
            r#"{"timestamp":"t","flow_id":1,"in_iface":"nfq:0","event_type":"ssh","src_ip":"192.0.2.1","proto":"TCP"}"#
        );
    }
}
