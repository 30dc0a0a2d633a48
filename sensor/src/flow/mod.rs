//! Flows: the bidirectional state of one conversation, keyed by a
//! direction-normalised 5-tuple, and the per-thread [`FlowTable`] that owns
//! them.
//!
//! One table per capture thread (NFQUEUE and NFLOG threads never share
//! flows), so nothing here locks. See [`table`] for lookup, eviction and
//! timeouts.

mod config;
mod hash;
mod swap;
pub mod table;

use std::net::IpAddr;

use crate::app::AppState;
use crate::decode::{icmp, ipproto, tcp_flags, Packet, Vlans, L4};
use crate::packet::{Direction, Timestamp};
use crate::stream::TcpSession;
pub use config::FlowConfig;
pub use table::{FlowError, FlowId, FlowTable};

/// What rules decided for the rest of the flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FlowAction {
    #[default]
    None,
    /// Drop every further packet (IPS) / mark as dropped (IDS).
    Drop,
    /// Skip detection for the rest of the flow.
    Pass,
}

impl FlowAction {
    /// EVE `flow.action` value, if any.
    pub fn as_eve(self) -> Option<&'static str> {
        match self {
            FlowAction::None => None,
            FlowAction::Drop => Some("drop"),
            FlowAction::Pass => Some("pass"),
        }
    }
}

/// EVE `flow.state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FlowState {
    /// One direction seen (TCP: handshake not complete).
    #[default]
    New,
    /// Both directions seen (TCP: both sides ACKed).
    Established,
    /// TCP: FIN from both sides, or a RST.
    Closed,
    /// No more inspection (an encrypted session with `encryption-handling:
    /// bypass`): packets are only accounted. Final.
    Bypassed,
}

impl FlowState {
    pub fn as_str(self) -> &'static str {
        match self {
            FlowState::New => "new",
            FlowState::Established => "established",
            FlowState::Closed => "closed",
            FlowState::Bypassed => "bypassed",
        }
    }
}

/// Why a flow left the table (EVE `flow.reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    Timeout,
    /// Evicted to make room for a new flow (table full).
    Forced,
    Shutdown,
}

impl EndReason {
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::Timeout => "timeout",
            EndReason::Forced => "forced",
            EndReason::Shutdown => "shutdown",
        }
    }
}

/// Direction-normalised 5-tuple: `lo` is the smaller (address, port)
/// endpoint, so both directions of a conversation share one key. ICMP echo
/// uses the echo id as both ports; other ICMP uses ports 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FlowKey {
    pub lo: (IpAddr, u16),
    pub hi: (IpAddr, u16),
    pub proto: u8,
    /// VLAN ids (Suricata's default `vlan.use-for-tracking: true`).
    pub vlan: Vlans,
    /// ESP security parameter index: each SA is a flow of its own, as
    /// in Suricata (0 for other protocols).
    pub spi: u32,
}

impl FlowKey {
    /// The key of a packet and whether the packet's source is `hi`.
    pub fn from_packet(p: &Packet<'_>) -> (FlowKey, bool) {
        let (sp, dp) = match p.l4 {
            L4::Tcp(t) => (t.src_port, t.dst_port),
            L4::Udp(u) => (u.src_port, u.dst_port),
            L4::Icmp(i) if icmp::is_echo(i.v6, i.itype) => (i.id, i.id),
            _ => (0, 0),
        };
        let a = (p.ip.src, sp);
        let b = (p.ip.dst, dp);
        let proto = p.ip.proto;
        if a <= b {
            (
                FlowKey {
                    lo: a,
                    hi: b,
                    proto,
                    vlan: p.ext.vlan,
                    spi: p.ext.esp_spi.unwrap_or(0),
                },
                false,
            )
        } else {
            (
                FlowKey {
                    lo: b,
                    hi: a,
                    proto,
                    vlan: p.ext.vlan,
                    spi: p.ext.esp_spi.unwrap_or(0),
                },
                true,
            )
        }
    }
}

/// Suricata's 51-bit `flow_id`: start time bits above a 32-bit hash.
pub fn flow_id(start: Timestamp, hash: u32) -> u64 {
    let secs = (start.secs as u64) & 0xffff;
    let usecs = u64::from(start.micros) & 0xffff;
    ((secs << 48) | (usecs << 32) | u64::from(hash)) & 0x7_ffff_ffff_ffff
}

/// One bidirectional flow. Arrays are indexed by [`Direction::index`]
/// (0 = to_server, 1 = to_client).
#[derive(Debug)]
pub struct Flow {
    /// EVE `flow_id`.
    pub id: u64,
    pub start: Timestamp,
    /// Time of the last packet.
    pub last: Timestamp,
    /// IP protocol number.
    pub proto: u8,
    /// The initiator (for TCP: the SYN sender; a SYN-ACK-first pickup
    /// makes the SYN-ACK sender the server).
    pub client: (IpAddr, u16),
    pub server: (IpAddr, u16),
    /// VLAN ids of the flow's first packet (EVE `vlan`).
    pub vlan: Vlans,
    pub pkts: [u64; 2],
    /// Bytes per direction as captured (link-layer header included).
    pub bytes: [u64; 2],
    pub action: FlowAction,
    /// A `drop` EVE event was already written for this direction.
    pub drop_logged: [bool; 2],
    pub alerted: bool,
    /// Application protocol and its parser state (owned by [`crate::app`]).
    pub app: AppState,
    /// TCP reassembly; created by the pipeline on the first TCP packet.
    pub tcp: Option<TcpSession>,
    /// Rules (indices) that already fired on this flow's transaction.
    pub fired: Vec<u32>,
    /// OR of the TCP flags seen per direction.
    pub tcp_flags_seen: [u8; 2],
    /// First ICMP (type, code) per direction.
    pub icmp: [Option<(u8, u8)>; 2],
    pub state: FlowState,
    /// `state` before the current packet was accounted. For TCP the packet
    /// that completes the handshake is itself not yet "established" (as in
    /// Suricata, where the stream engine updates the state after the flow
    /// flags are set).
    pub prev_state: FlowState,
    /// Set when the flow leaves the table.
    pub end_reason: Option<EndReason>,
    /// ESP flows: the SPI (EVE `spi`).
    pub esp_spi: Option<u32>,
    /// Lowest and highest IP TTL / hop limit seen per direction (netflow
    /// `min_ttl`, `max_ttl`).
    pub ttl: [(u8, u8); 2],
}

impl Flow {
    /// A flow for its first packet. A SYN-ACK seen first makes its sender
    /// the server. `hash` is the flow key's hash (for `flow_id`). Allocates
    /// nothing.
    pub fn new(p: &Packet<'_>, ts: Timestamp, hash: u32) -> Flow {
        let (sp, dp) = match p.l4 {
            L4::Tcp(t) => (t.src_port, t.dst_port),
            L4::Udp(u) => (u.src_port, u.dst_port),
            _ => (0, 0),
        };
        let synack = matches!(p.l4, L4::Tcp(t)
            if t.flags & (tcp_flags::SYN | tcp_flags::ACK) == (tcp_flags::SYN | tcp_flags::ACK));
        let (client, server) = if synack {
            ((p.ip.dst, dp), (p.ip.src, sp))
        } else {
            ((p.ip.src, sp), (p.ip.dst, dp))
        };
        Flow {
            id: flow_id(ts, hash),
            start: ts,
            last: ts,
            proto: p.ip.proto,
            vlan: p.ext.vlan,
            client,
            server,
            pkts: [0; 2],
            bytes: [0; 2],
            action: FlowAction::None,
            drop_logged: [false; 2],
            alerted: false,
            app: AppState::default(),
            tcp: None,
            fired: Vec::new(),
            tcp_flags_seen: [0; 2],
            icmp: [None; 2],
            state: FlowState::New,
            prev_state: FlowState::New,
            end_reason: None,
            esp_spi: p.ext.esp_spi,
            ttl: [(u8::MAX, 0); 2],
        }
    }

    /// Direction of a packet of this flow.
    pub fn direction_of(&self, p: &Packet<'_>) -> Direction {
        let sp = match p.l4 {
            L4::Tcp(t) => t.src_port,
            L4::Udp(u) => u.src_port,
            _ => 0,
        };
        if p.ip.src == self.client.0 && sp == self.client.1 {
            Direction::ToServer
        } else {
            Direction::ToClient
        }
    }

    /// Accounts a packet of direction `dir` that was `wire_len` bytes long
    /// as captured (link-layer header included, as Suricata counts flow
    /// bytes): counters, flags, last time, state.
    pub fn account(&mut self, p: &Packet<'_>, dir: Direction, ts: Timestamp, wire_len: u32) {
        let d = dir.index() & 1;
        if ts > self.last {
            self.last = ts;
        }
        self.prev_state = self.state;
        self.pkts[d] += 1;
        self.bytes[d] += u64::from(wire_len);
        let (lo, hi) = &mut self.ttl[d];
        *lo = (*lo).min(p.ip.ttl);
        *hi = (*hi).max(p.ip.ttl);
        match p.l4 {
            L4::Tcp(t) => self.tcp_flags_seen[d] |= t.flags,
            L4::Icmp(i) if self.icmp[d].is_none() => {
                self.icmp[d] = Some((i.itype, i.icode));
            }
            _ => {}
        }
        self.state = self.next_state();
    }

    fn next_state(&self) -> FlowState {
        if self.state == FlowState::Bypassed {
            return FlowState::Bypassed;
        }
        let both = self.pkts[0] > 0 && self.pkts[1] > 0;
        if self.proto != ipproto::TCP {
            return if both {
                FlowState::Established
            } else {
                FlowState::New
            };
        }
        let [ts, tc] = self.tcp_flags_seen;
        if (ts | tc) & tcp_flags::RST != 0 || (ts & tc & tcp_flags::FIN != 0) {
            FlowState::Closed
        } else if self.state == FlowState::Established
            || (both && ts & tcp_flags::ACK != 0 && tc & tcp_flags::ACK != 0)
        {
            FlowState::Established
        } else {
            FlowState::New
        }
    }

    /// A payload-less TCP/UDP packet of this flow in direction `dir`,
    /// standing for the flow's end (Suricata's flow-timeout pseudo packet):
    /// what is left of the flow's streams and transactions is inspected
    /// "with" it.
    pub fn pseudo_packet(&self, dir: Direction) -> Packet<'static> {
        let (src, dst) = match dir {
            Direction::ToServer => (self.client, self.server),
            Direction::ToClient => (self.server, self.client),
        };
        let l4 = match self.proto {
            ipproto::TCP => L4::Tcp(crate::decode::TcpInfo {
                src_port: src.1,
                dst_port: dst.1,
                flags: tcp_flags::ACK,
                header_len: 20,
                ..Default::default()
            }),
            _ => L4::Other,
        };
        Packet {
            ip: crate::decode::IpInfo {
                version: if src.0.is_ipv4() { 4 } else { 6 },
                src: src.0,
                dst: dst.0,
                proto: self.proto,
                ttl: 0,
                tos: 0,
                id: 0,
                len: 0,
                flow_label: 0,
                fragment: false,
                header_len: 0,
            },
            l4,
            payload: &[],
            ext: Default::default(),
        }
    }

    /// Whether the current packet counts as part of an established flow
    /// for `flow:established` (TCP: the state before this packet; other
    /// protocols: both directions seen, this packet included).
    pub fn packet_established(&self) -> bool {
        if self.is_tcp() {
            self.prev_state == FlowState::Established
        } else {
            self.state == FlowState::Established
        }
    }

    /// A TCP flow.
    pub fn is_tcp(&self) -> bool {
        self.proto == ipproto::TCP
    }
}

#[cfg(test)]
mod tests;
