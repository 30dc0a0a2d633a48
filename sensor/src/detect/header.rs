//! Header keywords and header sticky buffers, as Suricata 7 has them:
//! `ttl`, `tos`, `id`, `ipopts`, `fragbits`, `fragoffset`, `sameip`,
//! `ip_proto`, `window`, `seq`, `ack`, `tcp.mss`, `icmp_id`, `icmp_seq`,
//! and the buffers `ipv4.hdr`, `ipv6.hdr`, `tcp.hdr`, `udp.hdr`,
//! `icmpv4.hdr`, `icmpv6.hdr`.
//!
//! Raw header bytes come from the decoded packet's innermost IP packet
//! (`ext.ip_raw`, see [`Headers::locate`]); every read is bounds-checked.

use super::parse::parse_num_test;
use super::rule::{FlagsMode, NumTest};
use super::threshold::OptError;
use crate::decode::{ipproto, Packet, L4};

/// A header sticky buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HdrBuf {
    Ipv4,
    Ipv6,
    Tcp,
    Udp,
    Icmpv4,
    Icmpv6,
}

impl HdrBuf {
    /// In evaluation order (variables flow from earlier to later buffers).
    pub const ALL: [HdrBuf; 6] = [
        HdrBuf::Ipv4,
        HdrBuf::Ipv6,
        HdrBuf::Tcp,
        HdrBuf::Udp,
        HdrBuf::Icmpv4,
        HdrBuf::Icmpv6,
    ];

    pub fn index(self) -> usize {
        self as usize
    }

    /// The buffer for a sticky-buffer keyword.
    pub fn from_keyword(k: &str) -> Option<HdrBuf> {
        Some(match k {
            "ipv4.hdr" => HdrBuf::Ipv4,
            "ipv6.hdr" => HdrBuf::Ipv6,
            "tcp.hdr" => HdrBuf::Tcp,
            "udp.hdr" => HdrBuf::Udp,
            "icmpv4.hdr" => HdrBuf::Icmpv4,
            "icmpv6.hdr" => HdrBuf::Icmpv6,
            _ => return None,
        })
    }
}

/// The raw IP and transport headers of a packet (empty when they cannot
/// be located).
#[derive(Debug, Clone, Copy, Default)]
pub struct Headers<'a> {
    /// From the IP header to the end of the captured bytes.
    ip: &'a [u8],
    /// From the transport header to the end of the captured bytes.
    l4: &'a [u8],
}

impl<'a> Headers<'a> {
    /// The headers of `pkt`, from its innermost IP packet's bytes
    /// (empty when they do not belong to it).
    pub fn locate(pkt: &Packet<'a>) -> Headers<'a> {
        let raw = pkt.ext.ip_raw;
        let ip_hlen = usize::from(pkt.ip.header_len);
        // The bytes must be this packet's IP header (same version and
        // source address).
        let src = match pkt.ip.src {
            std::net::IpAddr::V4(a) => raw.get(12..16) == Some(&a.octets()[..]),
            std::net::IpAddr::V6(a) => raw.get(8..24) == Some(&a.octets()[..]),
        };
        if !src || raw.first().is_none_or(|b| b >> 4 != pkt.ip.version) {
            return Headers::default();
        }
        Headers {
            ip: raw,
            l4: raw.get(ip_hlen..).unwrap_or_default(),
        }
    }

    /// The IPv4 header with its options.
    fn ipv4(&self, pkt: &Packet<'_>) -> Option<&'a [u8]> {
        if pkt.ip.version != 4 {
            return None;
        }
        let hlen = usize::from(self.ip.first()? & 0x0f) * 4;
        self.ip.get(..hlen).filter(|h| h.len() >= 20)
    }

    /// The bytes of a sticky buffer, None when the packet has no such
    /// header.
    pub fn buffer(&self, b: HdrBuf, pkt: &Packet<'_>) -> Option<&'a [u8]> {
        match (b, pkt.l4) {
            (HdrBuf::Ipv4, _) => self.ipv4(pkt),
            (HdrBuf::Ipv6, _) if pkt.ip.version == 6 => {
                self.ip.get(..usize::from(pkt.ip.header_len))
            }
            (HdrBuf::Tcp, L4::Tcp(t)) => self.l4.get(..usize::from(t.header_len)),
            (HdrBuf::Udp, L4::Udp(_)) => self.l4.get(..8),
            (HdrBuf::Icmpv4, L4::Icmp(i)) if !i.v6 => self.l4.get(..icmpv4_hlen(self.l4)),
            (HdrBuf::Icmpv6, L4::Icmp(i)) if i.v6 => self.l4.get(..8),
            _ => None,
        }
    }
}

/// Suricata's ICMPv4 header length: 8, plus the timestamps of timestamp
/// messages and the addresses of router advertisements when present.
fn icmpv4_hlen(icmp: &[u8]) -> usize {
    let extra = match icmp.first() {
        Some(13 | 14) => 12,
        Some(9) => {
            let n = usize::from(icmp.get(4).copied().unwrap_or(0));
            let size = usize::from(icmp.get(5).copied().unwrap_or(0));
            n * size * 4
        }
        _ => 0,
    };
    if icmp.len() >= 8 + extra {
        8 + extra
    } else {
        8
    }
}

/// IPv4 options as `ipopts` names them (Suricata's option flags).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpOpt {
    /// `any`: at least one option.
    Any,
    /// An option type byte.
    Code(u8),
}

const IPOPTS: &[(&str, u8)] = &[
    ("rr", 0x07),
    ("eol", 0x00),
    ("nop", 0x01),
    ("ts", 0x44),
    ("sec", 0x82),
    ("esec", 0x85),
    ("lsrr", 0x83),
    ("ssrr", 0x89),
    ("satid", 0x88),
];

/// True when the IPv4 header's options include `want`, walked as
/// Suricata's decoder does (it stops at EOL or at a malformed option).
fn has_ipopt(hdr: &[u8], want: IpOpt) -> bool {
    let mut opts = hdr.get(20..).unwrap_or_default();
    while let Some(&t) = opts.first() {
        if want == IpOpt::Any || want == IpOpt::Code(t) {
            return true;
        }
        match t {
            0x00 => return false,
            0x01 => opts = opts.get(1..).unwrap_or_default(),
            _ => {
                let len = usize::from(opts.get(1).copied().unwrap_or(0));
                if len < 2 || len > opts.len() {
                    return false;
                }
                opts = opts.get(len..).unwrap_or_default();
            }
        }
    }
    false
}

/// The MSS option of a TCP header.
fn tcp_mss(hdr: &[u8]) -> Option<u16> {
    let mut opts = hdr.get(20..)?;
    while let Some(&k) = opts.first() {
        match k {
            0 => return None,
            1 => opts = opts.get(1..)?,
            _ => {
                let len = usize::from(*opts.get(1)?);
                if len < 2 || len > opts.len() {
                    return None;
                }
                if k == 2 && len == 4 {
                    return Some(u16::from_be_bytes([*opts.get(2)?, *opts.get(3)?]));
                }
                opts = opts.get(len..)?;
            }
        }
    }
    None
}

/// One header test of a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderTest {
    Ttl(NumTest),
    Tos {
        value: u8,
        negated: bool,
    },
    Id(u16),
    IpOpts(IpOpt),
    FragBits {
        bits: u16,
        mode: FlagsMode,
    },
    FragOffset {
        value: u16,
        op: FragOp,
    },
    SameIp,
    IpProto {
        value: u8,
        op: FragOp,
    },
    Window {
        value: u16,
        negated: bool,
    },
    Seq(u32),
    Ack(u32),
    TcpMss(NumTest),
    IcmpId(u16),
    IcmpSeq(u16),
    /// `stream_size`: bytes a side sent (plus one for its SYN), as
    /// Suricata's `next_seq - isn`.
    StreamSize {
        side: StreamSide,
        test: NumTest,
    },
    /// `ipv4-csum`, `tcpv4-csum`, ...: `valid` or `invalid`.
    Csum {
        kind: Csum,
        valid: bool,
    },
}

/// The checksum a `*-csum` keyword verifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Csum {
    Ipv4,
    Tcpv4,
    Tcpv6,
    Udpv4,
    Udpv6,
    Icmpv4,
    Icmpv6,
}

/// One's complement sum of `b` (big-endian 16-bit words, odd byte
/// padded), added to `acc`, not folded.
fn sum16(b: &[u8], acc: u64) -> u64 {
    let mut acc = acc;
    let mut it = b.chunks_exact(2);
    for w in &mut it {
        if let [x, y] = *w {
            acc += u64::from(u16::from_be_bytes([x, y]));
        }
    }
    if let Some(&last) = it.remainder().first() {
        acc += u64::from(last) << 8;
    }
    acc
}

fn folds_to_ffff(mut acc: u64) -> bool {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc == 0xffff
}

/// Whether the checksum is valid; None when the packet has no such
/// checksum (wrong protocol, no UDP checksum, bytes missing).
fn csum_valid(kind: Csum, pkt: &Packet<'_>, h: &Headers<'_>) -> Option<bool> {
    let ip = &pkt.ip;
    let v4 = ip.version == 4;
    // The transport segment, up to the IP length (all of it captured).
    let ext = if v4 {
        usize::from(ip.header_len)
    } else {
        usize::from(ip.header_len).checked_sub(40)?
    };
    let l4_len = (ip.len as usize).checked_sub(ext)?;
    let seg = || h.l4.get(..l4_len);
    let pseudo = |proto: u8, len: usize| -> Option<u64> {
        let (s, d) = if v4 {
            (h.ip.get(12..16)?, h.ip.get(16..20)?)
        } else {
            (h.ip.get(8..24)?, h.ip.get(24..40)?)
        };
        let acc = sum16(d, sum16(s, 0)) + u64::from(proto);
        Some(acc + (len as u64 & 0xffff) + ((len as u64) >> 16))
    };
    let with_pseudo = |proto: u8| -> Option<bool> {
        let seg = seg()?;
        Some(folds_to_ffff(sum16(seg, pseudo(proto, seg.len())?)))
    };
    match (kind, pkt.l4, v4) {
        (Csum::Ipv4, _, true) => Some(folds_to_ffff(sum16(h.ipv4(pkt)?, 0))),
        (Csum::Tcpv4, L4::Tcp(_), true) | (Csum::Tcpv6, L4::Tcp(_), false) => {
            with_pseudo(ipproto::TCP)
        }
        (Csum::Udpv4, L4::Udp(_), true) => {
            // A zero checksum: none was computed (no match either way).
            if h.l4.get(6..8)? == [0, 0] {
                return None;
            }
            with_pseudo(ipproto::UDP)
        }
        (Csum::Udpv6, L4::Udp(_), false) => with_pseudo(ipproto::UDP),
        (Csum::Icmpv4, L4::Icmp(i), true) if !i.v6 => Some(folds_to_ffff(sum16(seg()?, 0))),
        (Csum::Icmpv6, L4::Icmp(i), false) if i.v6 => with_pseudo(ipproto::ICMPV6),
        _ => None,
    }
}

/// Which side `stream_size` measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamSide {
    /// What the server sent.
    Server,
    /// What the client sent.
    Client,
    Both,
    Either,
}

/// The `stream_size` input of a TCP session: bytes sent in order by the
/// client (to_server) and by the server (to_client).
pub fn stream_sizes(s: &crate::stream::TcpSession) -> [u64; 2] {
    use crate::packet::Direction;
    [
        s.dir(Direction::ToServer).stream_len(),
        s.dir(Direction::ToClient).stream_len(),
    ]
}

/// `!`, `<`, `>` or equality, as `fragoffset` and `ip_proto` take them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FragOp {
    Eq,
    Ne,
    Lt,
    Gt,
}

impl FragOp {
    fn test(self, v: u64, want: u64) -> bool {
        match self {
            FragOp::Eq => v == want,
            FragOp::Ne => v != want,
            FragOp::Lt => v < want,
            FragOp::Gt => v > want,
        }
    }
}

/// ICMP id and sequence of the message types that carry them (Suricata's
/// list: echo, timestamp, information and address-mask messages).
fn icmp_id_seq(pkt: &Packet<'_>, h: &Headers<'_>) -> Option<(u16, u16)> {
    let L4::Icmp(i) = pkt.l4 else { return None };
    let carries = if i.v6 {
        matches!(i.itype, 128 | 129)
    } else {
        matches!(i.itype, 0 | 8 | 13 | 14 | 15 | 16 | 17 | 18)
    };
    if !carries {
        return None;
    }
    let b = h.l4;
    let r = |x: usize| Some(u16::from_be_bytes([*b.get(x)?, *b.get(x + 1)?]));
    Some((r(4)?, r(6)?))
}

impl HeaderTest {
    /// `sizes`: the flow's [`stream_sizes`], None without a TCP session.
    pub fn matches(&self, pkt: &Packet<'_>, h: &Headers<'_>, sizes: Option<[u64; 2]>) -> bool {
        let ip = &pkt.ip;
        match *self {
            HeaderTest::Ttl(t) => t.matches(u64::from(ip.ttl)),
            HeaderTest::Tos { value, negated } => ip.version == 4 && ((ip.tos == value) != negated),
            HeaderTest::Id(v) => ip.version == 4 && ip.id == v,
            HeaderTest::IpOpts(o) => h.ipv4(pkt).is_some_and(|hdr| has_ipopt(hdr, o)),
            HeaderTest::FragBits { bits, mode } => {
                let Some(hdr) = h.ipv4(pkt) else { return false };
                let fb = u16::from_be_bytes([hdr.get(6).copied().unwrap_or(0), 0]) & 0xe000;
                match mode {
                    FlagsMode::Exact => fb == bits,
                    FlagsMode::All => fb & bits == bits,
                    FlagsMode::Any => fb & bits != 0,
                    FlagsMode::Not => fb & bits == 0,
                }
            }
            HeaderTest::FragOffset { value, op } => {
                let off = match h.ipv4(pkt) {
                    Some(hdr) => {
                        let w = u16::from_be_bytes([
                            hdr.get(6).copied().unwrap_or(0),
                            hdr.get(7).copied().unwrap_or(0),
                        ]);
                        w & 0x1fff
                    }
                    None => return false,
                };
                op.test(u64::from(off), u64::from(value))
            }
            HeaderTest::SameIp => ip.src == ip.dst,
            HeaderTest::IpProto { value, op } => op.test(u64::from(ip.proto), u64::from(value)),
            HeaderTest::Window { value, negated } => match pkt.l4 {
                L4::Tcp(t) => (t.window == value) != negated,
                _ => false,
            },
            HeaderTest::Seq(v) => matches!(pkt.l4, L4::Tcp(t) if t.seq == v),
            HeaderTest::Ack(v) => matches!(pkt.l4, L4::Tcp(t) if t.ack == v),
            HeaderTest::TcpMss(t) => match pkt.l4 {
                L4::Tcp(tcp) => {
                    h.l4.get(..usize::from(tcp.header_len))
                        .and_then(tcp_mss)
                        .is_some_and(|m| t.matches(u64::from(m)))
                }
                _ => false,
            },
            HeaderTest::IcmpId(v) => icmp_id_seq(pkt, h).is_some_and(|(id, _)| id == v),
            HeaderTest::IcmpSeq(v) => icmp_id_seq(pkt, h).is_some_and(|(_, s)| s == v),
            HeaderTest::Csum { kind, valid } => csum_valid(kind, pkt, h) == Some(valid),
            HeaderTest::StreamSize { side, test } => {
                let (L4::Tcp(_), Some([client, server])) = (pkt.l4, sizes) else {
                    return false;
                };
                // next_seq - isn: the data plus the SYN, as a u32.
                let m = |n: u64| test.matches(u64::from((n as u32).wrapping_add(1)));
                match side {
                    StreamSide::Server => m(server),
                    StreamSide::Client => m(client),
                    StreamSide::Both => m(server) && m(client),
                    StreamSide::Either => m(server) || m(client),
                }
            }
        }
    }

    /// Needs the raw headers (else the decoded fields suffice).
    pub fn needs_raw(&self) -> bool {
        matches!(
            self,
            HeaderTest::IpOpts(_)
                | HeaderTest::FragBits { .. }
                | HeaderTest::FragOffset { .. }
                | HeaderTest::TcpMss(_)
                | HeaderTest::IcmpId(_)
                | HeaderTest::IcmpSeq(_)
        )
    }
}

fn invalid(s: impl Into<String>) -> OptError {
    OptError::Invalid(s.into())
}

/// A plain number, optionally in quotes.
fn plain<T: std::str::FromStr>(v: &str) -> Option<T> {
    let v = v.trim();
    let v = v
        .strip_prefix('"')
        .and_then(|x| x.strip_suffix('"'))
        .unwrap_or(v)
        .trim();
    v.parse().ok()
}

fn op_prefix(v: &str) -> (FragOp, &str) {
    let v = v.trim();
    if let Some(r) = v.strip_prefix('!') {
        (FragOp::Ne, r)
    } else if let Some(r) = v.strip_prefix('<') {
        (FragOp::Lt, r)
    } else if let Some(r) = v.strip_prefix('>') {
        (FragOp::Gt, r)
    } else {
        (FragOp::Eq, v)
    }
}

/// Protocol names `ip_proto` accepts (as /etc/protocols).
const PROTO_NAMES: &[(&str, u8)] = &[
    ("ip", 0),
    ("hopopt", 0),
    ("icmp", 1),
    ("igmp", 2),
    ("ggp", 3),
    ("ipencap", 4),
    ("st", 5),
    ("tcp", 6),
    ("egp", 8),
    ("igp", 9),
    ("pup", 12),
    ("udp", 17),
    ("hmp", 20),
    ("xns-idp", 22),
    ("rdp", 27),
    ("iso-tp4", 29),
    ("dccp", 33),
    ("xtp", 36),
    ("ddp", 37),
    ("idpr-cmtp", 38),
    ("ipv6", 41),
    ("ipv6-route", 43),
    ("ipv6-frag", 44),
    ("idrp", 45),
    ("rsvp", 46),
    ("gre", 47),
    ("esp", 50),
    ("ah", 51),
    ("skip", 57),
    ("ipv6-icmp", 58),
    ("ipv6-nonxt", 59),
    ("ipv6-opts", 60),
    ("rspf", 73),
    ("vmtp", 81),
    ("eigrp", 88),
    ("ospf", 89),
    ("ax.25", 93),
    ("ipip", 94),
    ("etherip", 97),
    ("encap", 98),
    ("pim", 103),
    ("ipcomp", 108),
    ("vrrp", 112),
    ("l2tp", 115),
    ("isis", 124),
    ("sctp", 132),
    ("fc", 133),
    ("mobility-header", 135),
    ("udplite", 136),
    ("mpls-in-ip", 137),
    ("manet", 138),
    ("hip", 139),
    ("shim6", 140),
    ("wesp", 141),
    ("rohc", 142),
];

/// Parses one header keyword; None when `k` is not one.
pub fn parse(k: &str, v: Option<&str>) -> Option<Result<HeaderTest, OptError>> {
    let need = || {
        v.map(str::trim)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| invalid("value missing"))
    };
    let num = |max: u64| -> Result<NumTest, OptError> {
        let s = need()?;
        let s = s
            .strip_prefix('"')
            .and_then(|x| x.strip_suffix('"'))
            .unwrap_or(s);
        parse_num_test(s, max).map_err(invalid)
    };
    let r = match k {
        "ttl" => num(255).map(HeaderTest::Ttl),
        "tcp.mss" => num(65535).map(HeaderTest::TcpMss),
        "tos" => need().and_then(|s| {
            let (negated, s) = match s.strip_prefix('!') {
                Some(r) => (true, r.trim()),
                None => (false, s),
            };
            let value = match s.strip_prefix(['x', 'X']).or_else(|| s.strip_prefix("0x")) {
                Some(h) => u8::from_str_radix(h, 16).ok(),
                None => s.parse().ok(),
            };
            value
                .map(|value| HeaderTest::Tos { value, negated })
                .ok_or_else(|| invalid(format!("bad tos `{s}` (0-255, or x00-xff)")))
        }),
        "id" => need().and_then(|s| {
            plain::<u16>(s)
                .map(HeaderTest::Id)
                .ok_or_else(|| invalid(format!("bad id `{s}` (0-65535)")))
        }),
        "ipopts" => need().and_then(|s| {
            if s == "any" {
                return Ok(HeaderTest::IpOpts(IpOpt::Any));
            }
            IPOPTS
                .iter()
                .find(|(n, _)| *n == s)
                .map(|(_, c)| HeaderTest::IpOpts(IpOpt::Code(*c)))
                .ok_or_else(|| invalid(format!("unknown IP option `{s}`")))
        }),
        "fragbits" => need().and_then(|s| {
            let s = s.split(',').next().unwrap_or("").trim();
            let (mode, rest) = match s.chars().next() {
                Some('+') => (FlagsMode::All, s.get(1..).unwrap_or("")),
                Some('*') => (FlagsMode::Any, s.get(1..).unwrap_or("")),
                Some('!') => (FlagsMode::Not, s.get(1..).unwrap_or("")),
                _ => (FlagsMode::Exact, s),
            };
            let mut bits = 0u16;
            for c in rest.chars() {
                bits |= match c.to_ascii_uppercase() {
                    'M' => 0x2000,
                    'D' => 0x4000,
                    'R' => 0x8000,
                    _ => return Err(invalid(format!("unknown fragment bit `{c}`"))),
                };
            }
            if bits == 0 {
                return Err(invalid("no fragment bits given"));
            }
            Ok(HeaderTest::FragBits { bits, mode })
        }),
        "fragoffset" => need().and_then(|s| {
            let (op, n) = op_prefix(s);
            plain::<u16>(n)
                .filter(|n| *n <= 0x1fff)
                .map(|value| HeaderTest::FragOffset { value, op })
                .ok_or_else(|| invalid(format!("bad fragment offset `{s}`")))
        }),
        "sameip" => match v {
            None => Ok(HeaderTest::SameIp),
            Some(x) => Err(invalid(format!("sameip takes no value, got `{x}`"))),
        },
        "ip_proto" => need().and_then(|s| {
            let (op, n) = op_prefix(s);
            let n = n.trim();
            let value = plain::<u8>(n).or_else(|| {
                let lower = n.to_ascii_lowercase();
                PROTO_NAMES
                    .iter()
                    .find(|(name, _)| *name == lower)
                    .map(|(_, p)| *p)
            });
            if op != FragOp::Eq && value.is_some() && plain::<u8>(n).is_none() {
                // Suricata takes names only without a modifier.
                return Err(invalid(format!("`{s}`: a protocol name takes no modifier")));
            }
            value
                .map(|value| HeaderTest::IpProto { value, op })
                .ok_or_else(|| invalid(format!("unknown protocol `{n}`")))
        }),
        "window" => need().and_then(|s| {
            let (negated, n) = match s.strip_prefix('!') {
                Some(r) => (true, r),
                None => (false, s),
            };
            plain::<u16>(n)
                .map(|value| HeaderTest::Window { value, negated })
                .ok_or_else(|| invalid(format!("bad window `{s}` (0-65535)")))
        }),
        "seq" | "ack" => need().and_then(|s| {
            let n = plain::<u32>(s).ok_or_else(|| invalid(format!("bad {k} `{s}`")))?;
            Ok(if k == "seq" {
                HeaderTest::Seq(n)
            } else {
                HeaderTest::Ack(n)
            })
        }),
        "ipv4-csum" | "tcpv4-csum" | "tcpv6-csum" | "udpv4-csum" | "udpv6-csum" | "icmpv4-csum"
        | "icmpv6-csum" => need().and_then(|s| {
            let kind = match k {
                "ipv4-csum" => Csum::Ipv4,
                "tcpv4-csum" => Csum::Tcpv4,
                "tcpv6-csum" => Csum::Tcpv6,
                "udpv4-csum" => Csum::Udpv4,
                "udpv6-csum" => Csum::Udpv6,
                "icmpv4-csum" => Csum::Icmpv4,
                _ => Csum::Icmpv6,
            };
            let v = s
                .strip_prefix('"')
                .and_then(|x| x.strip_suffix('"'))
                .unwrap_or(s)
                .to_ascii_lowercase();
            match v.as_str() {
                "valid" => Ok(HeaderTest::Csum { kind, valid: true }),
                "invalid" => Ok(HeaderTest::Csum { kind, valid: false }),
                _ => Err(invalid(format!("expected valid or invalid, got `{s}`"))),
            }
        }),
        "stream_size" => need().and_then(|s| {
            let parts: Vec<&str> = s.split(',').map(str::trim).collect();
            let [side, op, n] = parts.as_slice() else {
                return Err(invalid(
                    "expected <server|client|both|either>,<op>,<number>",
                ));
            };
            let side = match *side {
                "server" => StreamSide::Server,
                "client" => StreamSide::Client,
                "both" => StreamSide::Both,
                "either" => StreamSide::Either,
                other => return Err(invalid(format!("unknown side `{other}`"))),
            };
            let test = match *op {
                "<" | ">" | "<=" | ">=" | "!=" | "=" => {
                    parse_num_test(&format!("{op}{n}"), u64::from(u32::MAX)).map_err(invalid)?
                }
                other => return Err(invalid(format!("unknown operator `{other}`"))),
            };
            Ok(HeaderTest::StreamSize { side, test })
        }),
        "icmp_id" | "icmp_seq" => need().and_then(|s| {
            let n = plain::<u16>(s).ok_or_else(|| invalid(format!("bad {k} `{s}` (0-65535)")))?;
            Ok(if k == "icmp_id" {
                HeaderTest::IcmpId(n)
            } else {
                HeaderTest::IcmpSeq(n)
            })
        }),
        _ => return None,
    };
    Some(r)
}

/// True when the rule protocol can carry this test at all (load-time
/// sanity, as Suricata refuses e.g. `window` on a UDP rule).
pub fn proto_fits(t: &HeaderTest, ip_proto_ok: impl Fn(u8) -> bool) -> bool {
    match t {
        HeaderTest::Window { .. }
        | HeaderTest::Seq(_)
        | HeaderTest::Ack(_)
        | HeaderTest::TcpMss(_) => ip_proto_ok(ipproto::TCP),
        HeaderTest::IcmpId(_) | HeaderTest::IcmpSeq(_) => {
            ip_proto_ok(ipproto::ICMP) || ip_proto_ok(ipproto::ICMPV6)
        }
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::{self, testpkt};

    fn p(k: &str, v: Option<&str>) -> HeaderTest {
        parse(k, v).unwrap().unwrap()
    }

    #[test]
    fn parse_values_and_errors() {
        assert_eq!(p("ttl", Some("<5")), HeaderTest::Ttl(NumTest::Lt(5)));
        assert_eq!(
            p("tos", Some("!x10")),
            HeaderTest::Tos {
                value: 16,
                negated: true
            }
        );
        assert_eq!(
            p("ipopts", Some("lsrr")),
            HeaderTest::IpOpts(IpOpt::Code(0x83))
        );
        assert_eq!(
            p("fragbits", Some("+MD")),
            HeaderTest::FragBits {
                bits: 0x6000,
                mode: FlagsMode::All
            }
        );
        assert_eq!(
            p("ip_proto", Some("gre")),
            HeaderTest::IpProto {
                value: 47,
                op: FragOp::Eq
            }
        );
        assert_eq!(p("sameip", None), HeaderTest::SameIp);
        assert_eq!(
            p("stream_size", Some("server, <, 1111")),
            HeaderTest::StreamSize {
                side: StreamSide::Server,
                test: NumTest::Lt(1111)
            }
        );
        for (k, v) in [
            ("stream_size", "server,<"),
            ("stream_size", "up,<,5"),
            ("stream_size", "both,~,5"),
            ("ttl", "300"),
            ("tos", "x1ff"),
            ("id", "70000"),
            ("ipopts", "bogus"),
            ("fragbits", "MX"),
            ("fragoffset", "9000"),
            ("ip_proto", "nope"),
            ("window", "-1"),
            ("seq", "x"),
            ("icmp_id", "65536"),
        ] {
            assert!(
                matches!(parse(k, Some(v)), Some(Err(OptError::Invalid(_)))),
                "{k}:{v}"
            );
        }
        assert!(parse("content", Some("x")).is_none());
    }

    #[test]
    fn header_buffers_and_options() {
        // TCP SYN with MSS 1460 and a NOP.
        let mut seg = testpkt::tcp_segment(1234, 80, 7, 0, 0x02, b"");
        // Grow the header by 8 bytes of options: MSS, NOP, NOP, EOL, EOL.
        let opts = [2u8, 4, 0x05, 0xb4, 1, 1, 0, 0];
        seg.splice(20..20, opts);
        if let Some(b) = seg.get_mut(12) {
            *b = 7 << 4;
        }
        let raw = testpkt::ip("192.0.2.1", "192.0.2.2", 6, &seg);
        let pkt = decode::decode(&raw).unwrap();
        let h = Headers::locate(&pkt);
        let tcp = h.buffer(HdrBuf::Tcp, &pkt).unwrap();
        assert_eq!(tcp.len(), 28);
        assert_eq!(tcp.get(20..22), Some(&[2u8, 4][..]));
        assert_eq!(h.buffer(HdrBuf::Ipv4, &pkt).map(<[u8]>::len), Some(20));
        assert!(h.buffer(HdrBuf::Udp, &pkt).is_none());
        assert!(p("tcp.mss", Some("1460")).matches(&pkt, &h, None));
        assert!(!p("tcp.mss", Some("<536")).matches(&pkt, &h, None));
        assert!(p("seq", Some("7")).matches(&pkt, &h, None));
        assert!(!p("ipopts", Some("any")).matches(&pkt, &h, None));
        assert!(p("fragoffset", Some("0")).matches(&pkt, &h, None));
        assert!(!p("sameip", None).matches(&pkt, &h, None));
        // testpkt leaves checksums zero: invalid, and the IPv4 header too.
        assert!(p("tcpv4-csum", Some("invalid")).matches(&pkt, &h, None));
        assert!(!p("tcpv4-csum", Some("valid")).matches(&pkt, &h, None));
        assert!(!p("tcpv6-csum", Some("invalid")).matches(&pkt, &h, None));
        assert!(p("ipv4-csum", Some("invalid")).matches(&pkt, &h, None));
        let ss = p("stream_size", Some("client,=,11"));
        assert!(ss.matches(&pkt, &h, Some([10, 0])));
        assert!(!ss.matches(&pkt, &h, Some([11, 0])));
        assert!(!ss.matches(&pkt, &h, None));
        assert!(p("stream_size", Some("either,>,5")).matches(&pkt, &h, Some([0, 9])));
        assert!(!p("stream_size", Some("both,>,5")).matches(&pkt, &h, Some([0, 9])));
        // Bytes that are not this packet's: nothing located, no panic.
        let mut other = pkt;
        other.ext.ip_raw = &[0x45];
        let h3 = Headers::locate(&other);
        assert!(h3.buffer(HdrBuf::Tcp, &other).is_none());
        assert!(!p("tcp.mss", Some("1460")).matches(&other, &h3, None));
    }

    #[test]
    fn checksums_verified() {
        // RFC 1071 example header (checksum 0xb861) is valid.
        let hdr = [
            0x45u8, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xb8, 0x61, 0xc0, 0xa8,
            0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
        ];
        assert!(folds_to_ffff(sum16(&hdr, 0)));
        let mut bad = hdr;
        bad[11] ^= 1;
        assert!(!folds_to_ffff(sum16(&bad, 0)));
        // An ICMP echo with its checksum filled in.
        let mut msg = testpkt::icmp_message(8, 0, 0x1234, 1);
        let sum = !(sum16(&msg, 0) as u16);
        msg[2..4].copy_from_slice(&sum.to_be_bytes());
        let raw = testpkt::ip("192.0.2.1", "192.0.2.2", 1, &msg);
        let pkt = decode::decode(&raw).unwrap();
        let h = Headers::locate(&pkt);
        assert!(p("icmpv4-csum", Some("valid")).matches(&pkt, &h, None));
        assert!(!p("icmpv4-csum", Some("invalid")).matches(&pkt, &h, None));
        assert!(matches!(parse("ipv4-csum", Some("maybe")), Some(Err(_))));
    }

    #[test]
    fn ipv4_options_walk() {
        let mut hdr = vec![0x47u8; 28];
        hdr.truncate(20);
        hdr.extend_from_slice(&[0x01, 0x83, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00]);
        assert!(has_ipopt(&hdr, IpOpt::Code(0x83)));
        assert!(has_ipopt(&hdr, IpOpt::Code(0x01)));
        assert!(has_ipopt(&hdr, IpOpt::Code(0x00)));
        assert!(!has_ipopt(&hdr, IpOpt::Code(0x07)));
        // A length running past the header stops the walk.
        let bad = [vec![0u8; 20], vec![0x07, 0x30, 0x00]].concat();
        assert!(has_ipopt(&bad, IpOpt::Code(0x07)));
        assert!(!has_ipopt(&bad, IpOpt::Code(0x00)));
    }
}
