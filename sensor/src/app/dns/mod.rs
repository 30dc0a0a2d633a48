//! DNS over UDP and TCP, as Suricata 7 parses it.
//!
//! Every message is its own transaction (Suricata 7's model: a query is a
//! to_server transaction, a response a to_client one, numbered together in
//! arrival order from 0); a response also records which query it answers
//! ([`DnsTx::reply_to`], the latest query with the same DNS id). UDP: one
//! message per datagram. TCP: each message behind its 2-byte length; a
//! segment may carry several, a message may span segments (the partial
//! message is kept, at most [`MAX_TCP_MSG`] bytes).
//!
//! Problems become Suricata's `dns` app-layer events ([`DnsEvent`]), set on
//! the newest transaction as Suricata does, and queued for EVE `anomaly`
//! events; nothing panics on any input (see `fuzz/fuzz_targets/dns.rs`).
//!
//! Protocol detection ([`probe`], [`probe_tcp`]) follows Suricata: a DNS
//! port on either side (53), then a header whose counts fit the message
//! and, for complete messages, parseable questions.

pub mod flow;
pub mod records;
pub mod wire;

use std::collections::VecDeque;

use crate::packet::Direction;
pub use records::{Message, RData, Record};
pub use wire::{Header, Name, NameFlags};

/// Largest TCP message (the length prefix is 16 bits).
pub const MAX_TCP_MSG: usize = 65_535 + 2;
/// Transactions kept per flow once logged (older ones are dropped; their
/// events were written when they were parsed).
pub const MAX_TXS: usize = 64;
/// The DNS port.
pub const PORT: u16 = 53;

/// Ports on which DNS is detected (Suricata's
/// `app-layer.protocols.dns.{tcp,udp}.detection-ports.dp`): at most 8.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DnsPorts {
    ports: [u16; 8],
    len: u8,
}

impl Default for DnsPorts {
    fn default() -> Self {
        DnsPorts::from_list(&[PORT])
    }
}

impl DnsPorts {
    /// The first 8 ports of `list`.
    pub fn from_list(list: &[u16]) -> DnsPorts {
        let mut p = DnsPorts {
            ports: [0; 8],
            len: 0,
        };
        for (slot, port) in p.ports.iter_mut().zip(list) {
            *slot = *port;
            p.len += 1;
        }
        p
    }

    /// `53`, `[53, 5353]` or `53,5353`.
    pub fn parse(v: &str) -> Option<Vec<u16>> {
        let t = v.trim().trim_start_matches('[').trim_end_matches(']');
        let ports: Option<Vec<u16>> = t.split(',').map(|p| p.trim().parse().ok()).collect();
        ports.filter(|p| !p.is_empty() && p.len() <= 8)
    }

    pub fn contains(&self, port: u16) -> bool {
        self.ports
            .get(..usize::from(self.len))
            .is_some_and(|p| p.contains(&port))
    }

    /// Either port of a flow is a DNS port.
    pub fn either(&self, a: u16, b: u16) -> bool {
        self.contains(a) || self.contains(b)
    }
}

/// `[app_layer.dns]`: the detection ports of DNS.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DnsAppConfig {
    pub tcp_ports: Vec<u16>,
    pub udp_ports: Vec<u16>,
}

impl Default for DnsAppConfig {
    fn default() -> Self {
        DnsAppConfig {
            tcp_ports: vec![PORT],
            udp_ports: vec![PORT],
        }
    }
}

/// Suricata's `dns` app-layer events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DnsEvent {
    MalformedData,
    NotRequest,
    NotResponse,
    ZFlagSet,
    InvalidOpcode,
    NameTooLong,
    InfiniteLoop,
    TooManyLabels,
}

impl DnsEvent {
    pub const ALL: [DnsEvent; 8] = [
        DnsEvent::MalformedData,
        DnsEvent::NotRequest,
        DnsEvent::NotResponse,
        DnsEvent::ZFlagSet,
        DnsEvent::InvalidOpcode,
        DnsEvent::NameTooLong,
        DnsEvent::InfiniteLoop,
        DnsEvent::TooManyLabels,
    ];

    /// The name in rules (`app-layer-event:dns.<name>`) and EVE anomaly
    /// events.
    pub fn as_str(self) -> &'static str {
        match self {
            DnsEvent::MalformedData => "malformed_data",
            DnsEvent::NotRequest => "not_request",
            DnsEvent::NotResponse => "not_response",
            DnsEvent::ZFlagSet => "z_flag_set",
            DnsEvent::InvalidOpcode => "invalid_opcode",
            DnsEvent::NameTooLong => "name_too_long",
            DnsEvent::InfiniteLoop => "infinite_loop",
            DnsEvent::TooManyLabels => "too_many_labels",
        }
    }

    pub fn from_name(s: &str) -> Option<DnsEvent> {
        DnsEvent::ALL
            .into_iter()
            .find(|e| e.as_str().eq_ignore_ascii_case(s))
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// One message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsTx {
    /// EVE `tx_id` (0-based, per flow).
    pub tx_id: u64,
    /// ToServer: a query; ToClient: a response.
    pub dir: Direction,
    pub msg: Message,
    /// A response: the `tx_id` of the query it answers, if seen.
    pub reply_to: Option<u64>,
    /// The message as sent (TCP: without its length), Suricata's
    /// `dns.pdu` frame; kept until the transaction is inspected.
    pub raw: Vec<u8>,
    /// [`DnsEvent`] bits set on this transaction.
    events: u8,
}

impl DnsTx {
    pub fn is_response(&self) -> bool {
        self.dir == Direction::ToClient
    }

    pub fn has_event(&self, e: DnsEvent) -> bool {
        self.events & e.bit() != 0
    }

    /// The events set on this transaction.
    pub fn events(&self) -> impl Iterator<Item = DnsEvent> + '_ {
        DnsEvent::ALL.into_iter().filter(|e| self.has_event(*e))
    }
}

/// What one feed did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Feed {
    /// Transactions created.
    pub new_txs: u32,
    /// Events raised.
    pub events: u32,
}

/// The DNS state of one flow.
#[derive(Debug, Default)]
pub struct DnsState {
    pub txs: VecDeque<DnsTx>,
    next_tx_id: u64,
    /// TCP: the start of an incomplete message, per direction.
    partial: [Vec<u8>; 2],
    /// TCP: a direction whose data stopped parsing (Suricata's parser
    /// error): ignored from then on.
    dead: [bool; 2],
    /// Transactions not inspected by detection yet: a transaction is
    /// inspected with the next packet of its own direction (the one that
    /// carried it inline; in IDS mode TCP data is parsed when the other
    /// side acknowledges it, and the transaction waits for the next packet
    /// of its direction, as in Suricata). See [`DnsState::inspected`].
    pub marks: Vec<u64>,
    /// Events raised and not yet written as EVE anomalies: direction,
    /// transaction id, event.
    anomalies: Vec<(Direction, u64, DnsEvent)>,
    /// First transaction not yet written as an EVE `dns` event.
    next_to_log: u64,
}

impl DnsState {
    pub fn new() -> DnsState {
        DnsState::default()
    }

    /// Detection ran with a packet of direction `dir`: its transactions
    /// are inspected.
    pub fn inspected(&mut self, dir: Direction) {
        for t in self.txs.iter_mut().filter(|t| t.dir == dir) {
            if !t.raw.is_empty() {
                t.raw = Vec::new();
            }
        }
        let txs = &self.txs;
        self.marks
            .retain(|id| txs.iter().any(|t| t.tx_id == *id && t.dir != dir));
    }

    /// Some transaction of direction `dir` waits for inspection.
    pub fn has_uninspected(&self, dir: Direction) -> bool {
        self.marks
            .iter()
            .any(|id| self.tx(*id).is_some_and(|t| t.dir == dir))
    }

    pub fn tx(&self, tx_id: u64) -> Option<&DnsTx> {
        self.txs.iter().find(|t| t.tx_id == tx_id)
    }

    /// The newest transaction of direction `dir`.
    pub fn last_tx(&self, dir: Direction) -> Option<&DnsTx> {
        self.txs.iter().rev().find(|t| t.dir == dir)
    }

    /// Transactions created so far (the next `tx_id`).
    pub fn tx_count(&self) -> u64 {
        self.next_tx_id
    }

    /// Transactions not yet written as `dns` events, oldest first; marks
    /// them written.
    pub fn take_unlogged(&mut self) -> impl Iterator<Item = &DnsTx> {
        let from = self.next_to_log;
        self.next_to_log = self.next_tx_id;
        self.txs.iter().filter(move |t| t.tx_id >= from)
    }

    /// Anomalies raised since the last call.
    pub fn take_anomalies(&mut self) -> Vec<(Direction, u64, DnsEvent)> {
        std::mem::take(&mut self.anomalies)
    }

    /// Sets `e` on the newest transaction (none yet: the event is lost, as
    /// in Suricata) and queues its anomaly.
    fn set_event(&mut self, dir: Direction, e: DnsEvent, feed: &mut Feed) {
        if let Some(tx) = self.txs.back_mut() {
            tx.events |= e.bit();
            self.anomalies.push((dir, tx.tx_id, e));
            feed.events += 1;
        }
    }

    /// One message in direction `dir`. Returns false when it could not be
    /// parsed (after a header check: TCP stops there).
    fn parse_message(&mut self, dir: Direction, msg: &[u8], tcp: bool, feed: &mut Feed) -> bool {
        let Some(h) = Header::parse(msg).filter(|h| h.plausible(msg.len())) else {
            tracing::trace!(len = msg.len(), "dns: implausible header");
            return !tcp;
        };
        let response = dir == Direction::ToClient;
        let mut flags = NameFlags::default();
        let m = match records::parse_message(msg, response, &mut flags) {
            Ok(m) => m,
            Err(_) => {
                tracing::trace!(len = msg.len(), ?dir, "dns: malformed message");
                self.set_event(dir, DnsEvent::MalformedData, feed);
                return false;
            }
        };
        if !response && h.is_response() {
            // A response sent to the server: not a transaction.
            self.set_event(dir, DnsEvent::NotRequest, feed);
            return false;
        }
        let reply_to = if response {
            self.txs
                .iter()
                .rev()
                .find(|t| t.dir == Direction::ToServer && t.msg.header.id == h.id)
                .map(|t| t.tx_id)
        } else {
            None
        };
        let tx_id = self.next_tx_id;
        self.next_tx_id += 1;
        if self.txs.len() >= MAX_TXS {
            self.txs.pop_front();
        }
        self.txs.push_back(DnsTx {
            tx_id,
            dir,
            msg: m,
            reply_to,
            raw: msg.to_vec(),
            events: 0,
        });
        if self.marks.len() >= MAX_TXS {
            self.marks.remove(0);
        }
        self.marks.push(tx_id);
        feed.new_txs += 1;
        if response && !h.is_response() {
            self.set_event(dir, DnsEvent::NotResponse, feed);
        }
        if h.z() {
            self.set_event(dir, DnsEvent::ZFlagSet, feed);
        }
        if h.opcode() >= 7 {
            self.set_event(dir, DnsEvent::InvalidOpcode, feed);
        }
        if flags.truncated {
            self.set_event(dir, DnsEvent::NameTooLong, feed);
        }
        if flags.infinite_loop {
            self.set_event(dir, DnsEvent::InfiniteLoop, feed);
        }
        if flags.label_limit {
            self.set_event(dir, DnsEvent::TooManyLabels, feed);
        }
        true
    }

    /// One UDP datagram's payload.
    pub fn feed_udp(&mut self, dir: Direction, payload: &[u8]) -> Feed {
        let mut feed = Feed::default();
        self.parse_message(dir, payload, false, &mut feed);
        feed
    }

    /// New in-order TCP bytes of direction `dir`.
    pub fn feed_tcp(&mut self, dir: Direction, bytes: &[u8]) -> Feed {
        let mut feed = Feed::default();
        let di = dir.index() & 1;
        if bytes.is_empty() || self.dead.get(di).copied().unwrap_or(true) {
            return feed;
        }
        let mut held = std::mem::take(&mut self.partial[di]);
        let input: &[u8] = if held.is_empty() {
            bytes
        } else {
            held.extend_from_slice(bytes);
            &held
        };
        let mut pos = 0usize;
        let mut ok = true;
        while pos < input.len() {
            let Some(len) = wire::u16_at(input, pos).map(usize::from) else {
                break; // one byte of a length: wait for more
            };
            if len == 0 {
                pos += 2;
                continue;
            }
            let Some(msg) = input.get(pos + 2..pos + 2 + len) else {
                break; // incomplete message: wait for more
            };
            if !self.parse_message(dir, msg, true, &mut feed) {
                ok = false;
                break;
            }
            pos += 2 + len;
        }
        if !ok {
            tracing::debug!(
                ?dir,
                "dns: TCP message did not parse; direction ignored from here"
            );
            if let Some(d) = self.dead.get_mut(di) {
                *d = true;
            }
            return feed;
        }
        let rest = input.get(pos..).unwrap_or(&[]);
        if !rest.is_empty() && rest.len() <= MAX_TCP_MSG {
            let mut keep = Vec::with_capacity(rest.len());
            keep.extend_from_slice(rest);
            self.partial[di] = keep;
        }
        feed
    }
}

/// Suricata's DNS probe of a message of `dlen` bytes whose first bytes
/// are `input`: `Some(is_request)` when it looks like DNS.
pub fn probe(input: &[u8], dlen: usize) -> Option<bool> {
    let input = input.get(..dlen).unwrap_or(input);
    let h = Header::parse(input)?;
    if input.len() >= dlen {
        // A complete message: its questions must parse.
        records::parse_message(input, false, &mut NameFlags::default()).ok()?;
    }
    h.plausible(dlen).then_some(!h.is_response())
}

/// [`probe`] for TCP data (the 2-byte length first).
pub fn probe_tcp(input: &[u8]) -> Option<bool> {
    let len = usize::from(wire::u16_at(input, 0)?);
    probe(input.get(2..)?, len)
}

/// Suricata's names of record types (EVE `rrtype`); others as numbers.
pub fn rrtype_name(t: u16) -> std::borrow::Cow<'static, str> {
    let s = match t {
        1 => "A",
        2 => "NS",
        3 => "ND",
        4 => "MF",
        5 => "CNAME",
        6 => "SOA",
        7 => "MB",
        8 => "MG",
        9 => "MR",
        10 => "NULL",
        11 => "WKS",
        12 => "PTR",
        13 => "HINFO",
        14 => "MINFO",
        15 => "MX",
        16 => "TXT",
        17 => "RP",
        18 => "AFSDB",
        19 => "X25",
        20 => "ISDN",
        21 => "RT",
        22 => "NSAP",
        23 => "NSAPPT",
        24 => "SIG",
        25 => "KEY",
        26 => "PX",
        27 => "GPOS",
        28 => "AAAA",
        29 => "LOC",
        30 => "NXT",
        33 => "SRV",
        34 => "ATMA",
        35 => "NAPTR",
        36 => "KX",
        37 => "CERT",
        38 => "A6",
        39 => "DNAME",
        41 => "OPT",
        42 => "APL",
        43 => "DS",
        44 => "SSHFP",
        45 => "IPSECKEY",
        46 => "RRSIG",
        47 => "NSEC",
        48 => "DNSKEY",
        49 => "DHCID",
        50 => "NSEC3",
        51 => "NSEC3PARAM",
        52 => "TLSA",
        55 => "HIP",
        59 => "CDS",
        60 => "CDSNKEY",
        65 => "HTTPS",
        99 => "SPF",
        249 => "TKEY",
        250 => "TSIG",
        254 => "MAILA",
        255 => "ANY",
        256 => "URI",
        other => return std::borrow::Cow::Owned(other.to_string()),
    };
    std::borrow::Cow::Borrowed(s)
}

/// Suricata's names of rcodes (EVE `rcode`).
pub fn rcode_name(rcode: u16) -> std::borrow::Cow<'static, str> {
    let s = match rcode & 0xf {
        0 => "NOERROR",
        1 => "FORMERR",
        2 => "SERVFAIL",
        3 => "NXDOMAIN",
        4 => "NOTIMP",
        5 => "REFUSED",
        6 => "YXDOMAIN",
        7 => "YXRRSET",
        8 => "NXRRSET",
        9 => "NOTAUTH",
        10 => "NOTZONE",
        other => return std::borrow::Cow::Owned(other.to_string()),
    };
    std::borrow::Cow::Borrowed(s)
}

#[cfg(test)]
mod tests;
