//! The DNS entry points of a flow's [`AppState`]: UDP datagrams (parsed
//! per packet, detected per direction as Suricata: each direction gets one
//! detection attempt, and a flow is DNS once either direction is) and the
//! detection of DNS on a TCP flow's first bytes.

use super::{probe, probe_tcp, DnsState, Feed};
use crate::app::AppState;
use crate::counters::{inc, PipelineCounters};
use crate::packet::Direction;

/// What one packet did to a flow's DNS state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DnsUpdate {
    /// The flow became DNS with this packet.
    pub became_dns: bool,
    /// The first DNS message says the flow's direction is the other way
    /// round (a response seen first): swap the flow, the packet's
    /// direction is the opposite one.
    pub reverse: bool,
    /// The flow became `Failed` with this packet.
    pub failed: bool,
    pub feed: Feed,
}

/// The opposite direction.
pub fn flip(d: Direction) -> Direction {
    match d {
        Direction::ToServer => Direction::ToClient,
        Direction::ToClient => Direction::ToServer,
    }
}

impl AppState {
    /// The DNS state, once the flow is DNS.
    pub fn dns(&self) -> Option<&DnsState> {
        match self {
            AppState::Dns(d) => Some(d),
            _ => None,
        }
    }

    /// The DNS state, once the flow is DNS.
    pub fn dns_mut(&mut self) -> Option<&mut DnsState> {
        match self {
            AppState::Dns(d) => Some(d),
            _ => None,
        }
    }

    /// One UDP datagram of direction `dir`. `dns_port`: one of the flow's
    /// ports is a DNS port (detection runs only then; other UDP flows fail
    /// detection at once, EVE `app_proto: "failed"`, as in Suricata).
    pub fn on_udp(
        &mut self,
        dir: Direction,
        payload: &[u8],
        dns_port: bool,
        counters: &PipelineCounters,
    ) -> DnsUpdate {
        let mut up = DnsUpdate::default();
        if let AppState::Dns(d) = self {
            up.feed = d.feed_udp(dir, payload);
            count(&up.feed, counters, false);
            return up;
        }
        let mut tried = match self {
            AppState::Unknown if dns_port => [false; 2],
            AppState::UdpProbe(t) => *t,
            AppState::Unknown => {
                // No UDP protocol but DNS is parsed: as Suricata, whose
                // detection finds nothing on this flow.
                *self = AppState::Failed;
                inc(&counters.app_flow_failed_udp);
                up.failed = true;
                return up;
            }
            _ => return up,
        };
        let di = dir.index() & 1;
        if tried.get(di).copied().unwrap_or(true) {
            return up;
        }
        match probe(payload, payload.len()) {
            Some(is_request) => {
                let real = if is_request {
                    Direction::ToServer
                } else {
                    Direction::ToClient
                };
                up.reverse = real != dir;
                up.became_dns = true;
                let mut d = Box::<DnsState>::default();
                up.feed = d.feed_udp(real, payload);
                count(&up.feed, counters, false);
                inc(&counters.app_flow_dns_udp);
                *self = AppState::Dns(d);
            }
            None => {
                if let Some(t) = tried.get_mut(di) {
                    *t = true;
                }
                if tried.iter().all(|t| *t) {
                    *self = AppState::Failed;
                    inc(&counters.app_flow_failed_udp);
                    up.failed = true;
                } else {
                    *self = AppState::UdpProbe(tried);
                }
            }
        }
        up
    }

    /// Tries DNS on the first bytes of a TCP direction (before the other
    /// probes) when one of the flow's ports is a DNS port. Only an
    /// undecided flow changes; the bytes themselves are then fed through
    /// [`AppState::on_stream_data`] as usual (in the returned direction
    /// order: with `reverse`, swap the flow first).
    pub fn probe_dns_tcp(
        &mut self,
        dir: Direction,
        bytes: &[u8],
        dns_port: bool,
        counters: &PipelineCounters,
    ) -> DnsUpdate {
        let mut up = DnsUpdate::default();
        if !dns_port || !matches!(self, AppState::Unknown) {
            return up;
        }
        // Pattern-detected protocols come first, as in Suricata.
        if crate::app::http::probe(bytes, dir == Direction::ToClient) == Some(true)
            || bytes.starts_with(b"SSH-")
        {
            return up;
        }
        if let Some(is_request) = probe_tcp(bytes) {
            up.reverse = is_request != (dir == Direction::ToServer);
            up.became_dns = true;
            inc(&counters.app_flow_dns_tcp);
            *self = AppState::Dns(Box::default());
        }
        up
    }

    /// New in-order TCP bytes of a DNS flow.
    pub(crate) fn on_stream_data_dns(
        &mut self,
        dir: Direction,
        bytes: &[u8],
        counters: &PipelineCounters,
    ) -> Feed {
        match self {
            AppState::Dns(d) => {
                let f = d.feed_tcp(dir, bytes);
                count(&f, counters, true);
                f
            }
            _ => Feed::default(),
        }
    }
}

fn count(f: &Feed, counters: &PipelineCounters, tcp: bool) {
    let tx = if tcp {
        &counters.app_tx_dns_tcp
    } else {
        &counters.app_tx_dns_udp
    };
    crate::counters::add(tx, u64::from(f.new_txs));
    crate::counters::add(&counters.app_dns_events, u64::from(f.events));
}
