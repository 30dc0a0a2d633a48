//! The compiled form of one rule: header filters, options, and the
//! metadata EVE needs.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock};

use super::address::AddrExpr;
use super::content::ContentList;
use super::port::PortExpr;
use crate::decode::ipproto;

pub use crate::action::{Action, RejectTarget};

/// The protocol field of a rule header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleProto {
    Ip,
    Tcp,
    /// `tcp-pkt`: content is inspected on single packets only.
    TcpPkt,
    /// `tcp-stream`: content is inspected on reassembled data only.
    TcpStream,
    Udp,
    /// ICMPv4 and ICMPv6, as Suricata's `icmp`.
    Icmp,
    Icmpv4,
    Icmpv6,
    /// TCP whose flow the app layer identified as SSH.
    Ssh,
    /// TCP whose flow the app layer identified as HTTP.
    Http,
    /// TCP whose flow the app layer identified as TLS (`tls`, `ssl`).
    Tls,
    /// UDP or TCP whose flow the app layer identified as DNS.
    Dns,
    /// `pkthdr`: any packet, also one that failed to decode.
    Pkthdr,
    /// `ipv4`/`ip4` and `ipv6`/`ip6`.
    Ipv4,
    Ipv6,
    Sctp,
}

impl RuleProto {
    /// True when an IP protocol number is one this rule can match.
    pub fn accepts(self, ip_proto: u8) -> bool {
        match self {
            RuleProto::Ip | RuleProto::Pkthdr | RuleProto::Ipv4 | RuleProto::Ipv6 => true,
            RuleProto::Sctp => ip_proto == ipproto::SCTP,
            RuleProto::Tcp
            | RuleProto::TcpPkt
            | RuleProto::TcpStream
            | RuleProto::Ssh
            | RuleProto::Http
            | RuleProto::Tls => ip_proto == ipproto::TCP,
            RuleProto::Udp => ip_proto == ipproto::UDP,
            RuleProto::Dns => ip_proto == ipproto::UDP || ip_proto == ipproto::TCP,
            RuleProto::Icmp => ipproto::is_icmp(ip_proto),
            RuleProto::Icmpv4 => ip_proto == ipproto::ICMP,
            RuleProto::Icmpv6 => ip_proto == ipproto::ICMPV6,
        }
    }
}

/// The SSH sticky buffers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SshBuf {
    /// `ssh.proto`: the protocol version of either side.
    Proto,
    /// `ssh.software`: the software version of either side.
    Software,
    /// `ssh.hassh`: the client's HASSH (to_server only).
    Hassh,
    /// `ssh.hassh.string`.
    HasshString,
    /// `ssh.hassh.server`: the server's HASSH (to_client only).
    HasshServer,
    /// `ssh.hassh.server.string`.
    HasshServerString,
}

impl SshBuf {
    pub const ALL: [SshBuf; 6] = [
        SshBuf::Proto,
        SshBuf::Software,
        SshBuf::Hassh,
        SshBuf::HasshString,
        SshBuf::HasshServer,
        SshBuf::HasshServerString,
    ];

    pub fn index(self) -> usize {
        self as usize
    }

    /// The only direction this buffer exists in, if it is one-sided.
    pub fn side(self) -> Option<crate::packet::Direction> {
        use crate::packet::Direction;
        match self {
            SshBuf::Proto | SshBuf::Software => None,
            SshBuf::Hassh | SshBuf::HasshString => Some(Direction::ToServer),
            SshBuf::HasshServer | SshBuf::HasshServerString => Some(Direction::ToClient),
        }
    }
}

/// `->` or `<>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleDir {
    Forward,
    Both,
}

/// The `flow` keyword's conditions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FlowOpts {
    /// Required packet direction within its flow.
    pub dir: Option<crate::packet::Direction>,
    /// `Some(true)`: established; `Some(false)`: not_established.
    pub established: Option<bool>,
    /// `only_stream`: content only on reassembled data.
    pub only_stream: bool,
    /// `no_stream`: content only on single packets.
    pub no_stream: bool,
    /// Any `flow` condition other than `stateless`: the packet needs a flow.
    pub needs_flow: bool,
}

/// A numeric test as `dsize`, `itype` and `icode` take it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumTest {
    Eq(u64),
    Ne(u64),
    Lt(u64),
    Le(u64),
    Gt(u64),
    Ge(u64),
    /// Strictly between the bounds (`min<>max`, `min-max`).
    Between(u64, u64),
}

impl NumTest {
    pub fn matches(self, v: u64) -> bool {
        match self {
            NumTest::Eq(n) => v == n,
            NumTest::Ne(n) => v != n,
            NumTest::Lt(n) => v < n,
            NumTest::Le(n) => v <= n,
            NumTest::Gt(n) => v > n,
            NumTest::Ge(n) => v >= n,
            NumTest::Between(a, b) => v > a && v < b,
        }
    }
}

/// The `flags` keyword: TCP flag bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlagsTest {
    pub bits: u8,
    /// Bits ignored in the comparison (after the comma).
    pub ignore: u8,
    pub mode: FlagsMode,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlagsMode {
    /// Exactly these bits (of the ones not ignored).
    Exact,
    /// At least these bits (`+`).
    All,
    /// Any of these bits (`*`).
    Any,
    /// None of these bits (`!`).
    Not,
}

impl FlagsTest {
    pub fn matches(self, flags: u8) -> bool {
        let f = flags & !self.ignore;
        match self.mode {
            FlagsMode::Exact => f == self.bits,
            FlagsMode::All => f & self.bits == self.bits,
            FlagsMode::Any => f & self.bits != 0,
            FlagsMode::Not => f & self.bits == 0,
        }
    }
}

/// The SSH banner fields the `ssh.*` keywords read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SshField {
    Proto,
    Software,
}

/// An older-style SSH test (`ssh.protoversion`, `ssh.softwareversion`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SshLegacy {
    /// Exact protocol version.
    ProtoEq(String),
    /// `2_compat`: protocol starting with `2` or equal to `1.99`.
    ProtoCompat2,
    /// Software version starts with this.
    SoftwarePrefix(String),
}

/// Where a rule's content (if any) is inspected, decided at load time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Header-only or single-packet rule: fires on each matching packet.
    Packet,
    /// Raw payload content: reassembled stream for TCP flows, else the
    /// packet payload.
    Payload,
    /// SSH transaction rule (`ssh.*` keywords, or `ssh` with no content):
    /// fires once per flow.
    Tx,
}

/// A loaded rule as the engine matches it.
#[derive(Debug)]
pub struct Rule {
    pub proto: RuleProto,
    pub src: AddrExpr,
    pub src_ports: PortExpr,
    pub dir: RuleDir,
    pub dst: AddrExpr,
    pub dst_ports: PortExpr,
    pub flow: FlowOpts,
    pub dsize: Option<NumTest>,
    pub itype: Option<NumTest>,
    pub icode: Option<NumTest>,
    pub flags: Option<FlagsTest>,
    /// Content on the packet payload or stream.
    pub payload: ContentList,
    /// Content on the SSH transaction's buffers, indexed by
    /// [`SshBuf::index`].
    pub ssh: [ContentList; SshBuf::ALL.len()],
    pub ssh_legacy: Vec<SshLegacy>,
    pub kind: Kind,
    /// Suricata's IP-only (and "like IP-only") rule: decided once per
    /// flow direction.
    pub ip_only: bool,
    /// `threshold` or `detection_filter`, and what threshold.config adds
    /// (see [`super::threshold`]).
    pub limits: super::threshold::Limits,
    /// `flowbits` operations and conditions, in rule order.
    pub flowbits: Vec<super::flowbits::Flowbit>,
    /// `flowbits:noalert`: a match gives no alert record (its action
    /// still applies).
    pub noalert: bool,
    /// `alert` on a `pass` rule (Suricata 7): the pass also writes an alert
    /// record (action "allowed").
    pub pass_alert: bool,
    /// Content and byte keywords on header sticky buffers (`tcp.hdr`,
    /// ...), in evaluation order.
    pub hdr: Vec<(super::header::HdrBuf, ContentList)>,
    /// Header keywords (`ttl`, `ipopts`, `tcp.mss`, ...).
    pub headers: Vec<super::header::HeaderTest>,
    /// Suricata's signature mask: Some(true) needs payload (or stream
    /// data), Some(false) needs none.
    pub require_payload: Option<bool>,
    /// `hostbits` operations and conditions, in rule order.
    pub hostbits: Vec<super::hostbits::Hostbit>,
    /// `decode-event` options.
    pub decode_events: super::decode_event::DecodeEvents,
    /// The HTTP transaction part (HTTP buffers, `protocol http` without
    /// payload content); such rules are matched by the HTTP inspection
    /// only.
    pub http: Option<Box<super::http::HttpRule>>,
    /// The TLS transaction part (TLS buffers and keywords); such rules are
    /// matched by the TLS inspection only.
    pub tls: Option<Box<super::tls::TlsRule>>,
    /// The DNS transaction part (`dns.query`, `dns.opcode`,
    /// `app-layer-event:dns.*`), matched by the DNS inspection only.
    pub dns: Option<Box<super::dns::DnsRule>>,
}

/// A rule's `metadata` pairs, sorted, with every key and value interned:
/// ET Open repeats the same few hundred strings over 24,000 rules, and a
/// map of owned strings per rule cost about 40 MiB there.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Metadata(Box<[(Arc<str>, Arc<str>)]>);

impl Metadata {
    /// From key → values (values in the order they are to be written).
    pub fn new(map: BTreeMap<String, Vec<String>>) -> Metadata {
        let pairs: Vec<(Arc<str>, Arc<str>)> = map
            .into_iter()
            .flat_map(|(k, vs)| {
                let k = intern(&k);
                vs.into_iter().map(move |v| (k.clone(), intern(&v)))
            })
            .collect();
        Metadata(pairs.into_boxed_slice())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Key → values, as EVE writes them.
    pub fn to_map(&self) -> BTreeMap<String, Vec<String>> {
        let mut m: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (k, v) in self.0.iter() {
            m.entry(k.to_string()).or_default().push(v.to_string());
        }
        m
    }

    /// The values of one key.
    pub fn get(&self, key: &str) -> impl Iterator<Item = &str> + '_ {
        let key = key.to_string();
        self.0
            .iter()
            .filter(move |(k, _)| **k == *key)
            .map(|(_, v)| &**v)
    }
}

/// The process-wide copy of `s` (rule loading only; strings are never
/// removed, and a reload adds only what is new).
fn intern(s: &str) -> Arc<str> {
    static POOL: OnceLock<Mutex<HashSet<Arc<str>>>> = OnceLock::new();
    let pool = POOL.get_or_init(|| Mutex::new(HashSet::new()));
    let mut pool = match pool.lock() {
        Ok(p) => p,
        Err(poisoned) => poisoned.into_inner(),
    };
    if let Some(a) = pool.get(s) {
        return a.clone();
    }
    let a: Arc<str> = Arc::from(s);
    pool.insert(a.clone());
    a
}

/// What EVE and the worker need to know about a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleMeta {
    pub sid: u32,
    pub gid: u32,
    pub rev: u32,
    pub msg: String,
    pub action: Action,
    /// Classtype description (EVE `alert.category`), empty without one.
    pub category: String,
    /// Priority (EVE `alert.severity`): `priority`, else the classtype's,
    /// else 3.
    pub severity: u8,
    /// EVE `alert.metadata`: key → sorted values.
    pub metadata: Metadata,
    /// `reference` options as written (`type,value`).
    pub references: Vec<String>,
    /// `target:src_ip` / `target:dest_ip`, for EVE `source`/`target`.
    pub target: Option<String>,
    /// `file:line` where the rule starts.
    pub origin: String,
    /// A match may apply to the whole flow (SSH transaction rules, IP-only
    /// rules, and raw content rules when they match on the reassembled
    /// stream; see [`super::Hit::flow_scope`] for the per-match answer).
    pub flow_scope: bool,
    /// The rule text as loaded (one line).
    pub raw: String,
    /// `tag` options (see [`super::tag`]).
    pub tags: Vec<super::tag::TagSpec>,
    /// `tls.store`: a match asks the `tls-store` output to write the
    /// flow's server certificates.
    pub tls_store: bool,
}
