//! Decoding: typed, length-checked views over packet bytes (one file per
//! header, in the style of smoltcp's `wire`) and the summary [`Packet`] that
//! later stages read.
//!
//! Input starts at the IP header. Nothing here panics on any input: a
//! truncated or malformed packet yields a [`DecodeError`] whose
//! [`DecodeError::reason`] names a counter.

use std::net::IpAddr;

pub mod icmp;
pub mod ipv4;
pub mod ipv6;
pub mod tcp;
pub mod udp;

/// Big-endian `u16` at byte range `r` of `b`, 0 when `r` is not a 2-byte
/// range inside `b`. The views call it only with field ranges their length
/// check covers; `get` keeps even unchecked views from panicking.
pub(crate) fn be16(b: &[u8], r: std::ops::Range<usize>) -> u16 {
    match b.get(r) {
        Some(&[x, y]) => u16::from_be_bytes([x, y]),
        _ => 0,
    }
}

/// Big-endian `u32` at byte range `r` of `b`, 0 when out of range.
pub(crate) fn be32(b: &[u8], r: std::ops::Range<usize>) -> u32 {
    match b.get(r) {
        Some(&[w, x, y, z]) => u32::from_be_bytes([w, x, y, z]),
        _ => 0,
    }
}

/// Summary of a decoded packet. Borrowed from the capture buffer.
#[derive(Debug, Clone, Copy)]
pub struct Packet<'a> {
    pub ip: IpInfo,
    pub l4: L4,
    /// Transport payload (after the TCP/UDP/ICMP header), trimmed to the IP
    /// length. Empty for `L4::Other`.
    pub payload: &'a [u8],
}

/// The IP layer's fields that flows, rules and EVE need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpInfo {
    /// 4 or 6.
    pub version: u8,
    pub src: IpAddr,
    pub dst: IpAddr,
    /// Upper-layer protocol after IPv6 extension headers.
    pub proto: u8,
    /// TTL or hop limit.
    pub ttl: u8,
    /// IPv4 TOS or IPv6 traffic class.
    pub tos: u8,
    /// IPv4 identification (0 for IPv6).
    pub id: u16,
    /// IPv4 total length, or IPv6 payload length (as EVE `drop.len`).
    pub len: u32,
    /// IPv6 flow label (0 for IPv4).
    pub flow_label: u32,
    /// A fragment (not the first, or more fragments follow). Fragments are
    /// counted and passed, not reassembled, in this version.
    pub fragment: bool,
    /// Length of the IP header including IPv6 extension headers.
    pub header_len: u16,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum L4 {
    Tcp(TcpInfo),
    Udp(UdpInfo),
    Icmp(IcmpInfo),
    /// Another protocol, or a non-first fragment.
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TcpInfo {
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: u32,
    pub ack: u32,
    /// FIN=0x01 SYN=0x02 RST=0x04 PSH=0x08 ACK=0x10 URG=0x20 ECE=0x40 CWR=0x80.
    pub flags: u8,
    pub window: u16,
    pub urgent: u16,
    /// The reserved bits (EVE `drop.tcpres`).
    pub reserved: u8,
    pub header_len: u8,
}

pub mod tcp_flags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;
    pub const URG: u8 = 0x20;
    pub const ECE: u8 = 0x40;
    pub const CWR: u8 = 0x80;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UdpInfo {
    pub src_port: u16,
    pub dst_port: u16,
    pub len: u16,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IcmpInfo {
    /// ICMPv6 rather than ICMPv4.
    pub v6: bool,
    pub itype: u8,
    pub icode: u8,
    /// Echo id and sequence (0 for other messages).
    pub id: u16,
    pub seq: u16,
}

impl Packet<'_> {
    /// Source and destination ports for TCP and UDP.
    pub fn ports(&self) -> Option<(u16, u16)> {
        match self.l4 {
            L4::Tcp(t) => Some((t.src_port, t.dst_port)),
            L4::Udp(u) => Some((u.src_port, u.dst_port)),
            _ => None,
        }
    }

    /// EVE `proto`: "TCP", "UDP", "ICMP", "IPv6-ICMP", else the number.
    pub fn proto_name(&self) -> std::borrow::Cow<'static, str> {
        proto_name(self.ip.proto)
    }
}

/// IP protocol numbers (IANA), the one place they are written.
pub mod ipproto {
    pub const ICMP: u8 = 1;
    pub const TCP: u8 = 6;
    pub const UDP: u8 = 17;
    pub const ICMPV6: u8 = 58;
    pub const SCTP: u8 = 132;

    /// ICMPv4 or ICMPv6.
    pub fn is_icmp(p: u8) -> bool {
        p == ICMP || p == ICMPV6
    }

    /// Protocols whose EVE events carry ports.
    pub fn has_ports(p: u8) -> bool {
        matches!(p, TCP | UDP | SCTP)
    }
}

/// EVE `proto` string for an IP protocol number.
pub fn proto_name(proto: u8) -> std::borrow::Cow<'static, str> {
    match proto {
        ipproto::TCP => "TCP".into(),
        ipproto::UDP => "UDP".into(),
        ipproto::ICMP => "ICMP".into(),
        ipproto::ICMPV6 => "IPv6-ICMP".into(),
        ipproto::SCTP => "SCTP".into(),
        n => n.to_string().into(),
    }
}

/// The layer where decoding stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layer {
    Ipv4,
    Ipv6,
    Ipv6Ext,
    Tcp,
    Udp,
    Icmp,
}

/// Why a packet could not be decoded. Small and `Copy`: it feeds
/// per-reason counters on the hot path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("empty packet")]
    Empty,
    #[error("IP version {0} is neither 4 nor 6")]
    BadVersion(u8),
    #[error("{0:?} header truncated")]
    Truncated(Layer),
    #[error("{0:?} length field is inconsistent")]
    BadLength(Layer),
    #[error("too many IPv6 extension headers")]
    TooManyExtensions,
}

/// One kind of decode failure: Meerkat's reason name (log messages,
/// `capture.decoder` in stats) and, where Suricata has the same event,
/// its `decoder.event.<layer>.<name>` counter. The one list of them:
/// counters are indexed by [`DecodeError::index`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorKind {
    pub reason: &'static str,
    pub suricata: Option<(&'static str, &'static str)>,
}

const fn kind(reason: &'static str, suricata: Option<(&'static str, &'static str)>) -> ErrorKind {
    ErrorKind { reason, suricata }
}

/// Every decode failure, in [`DecodeError::index`] order.
pub const ERROR_KINDS: [ErrorKind; 14] = [
    kind("empty", None),
    kind("invalid_ip_version", Some(("ipraw", "invalid_ip_version"))),
    kind("ipv4_trunc", Some(("ipv4", "trunc_pkt"))),
    kind("ipv6_trunc", Some(("ipv6", "trunc_pkt"))),
    kind("ipv6_exthdr_trunc", Some(("ipv6", "trunc_exthdr"))),
    kind("tcp_trunc", Some(("tcp", "pkt_too_small"))),
    kind("udp_trunc", Some(("udp", "pkt_too_small"))),
    kind("icmp_trunc", Some(("icmpv4", "pkt_too_small"))),
    kind("ipv4_bad_len", Some(("ipv4", "iplen_smaller_than_hlen"))),
    kind("ipv6_bad_len", Some(("ipv6", "pkt_too_small"))),
    kind("tcp_bad_hlen", Some(("tcp", "hlen_too_small"))),
    kind("udp_bad_len", Some(("udp", "len_invalid"))),
    kind("bad_len", None),
    kind("ipv6_too_many_ext", None),
];

impl DecodeError {
    /// Position in [`ERROR_KINDS`] (and in the per-kind counters).
    pub fn index(&self) -> usize {
        match self {
            DecodeError::Empty => 0,
            DecodeError::BadVersion(_) => 1,
            DecodeError::Truncated(Layer::Ipv4) => 2,
            DecodeError::Truncated(Layer::Ipv6) => 3,
            DecodeError::Truncated(Layer::Ipv6Ext) => 4,
            DecodeError::Truncated(Layer::Tcp) => 5,
            DecodeError::Truncated(Layer::Udp) => 6,
            DecodeError::Truncated(Layer::Icmp) => 7,
            DecodeError::BadLength(Layer::Ipv4) => 8,
            DecodeError::BadLength(Layer::Ipv6) => 9,
            DecodeError::BadLength(Layer::Tcp) => 10,
            DecodeError::BadLength(Layer::Udp) => 11,
            DecodeError::BadLength(_) => 12,
            DecodeError::TooManyExtensions => 13,
        }
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        ERROR_KINDS[self.index()]
    }

    /// Meerkat's name for the failure (as in [`ERROR_KINDS`]).
    pub fn reason(&self) -> &'static str {
        self.kind().reason
    }
}

/// Decodes a packet that starts at the IP header.
///
/// Lengths are checked strictly: a buffer shorter than the IP length is
/// `Truncated`. A total/payload length of 0 (BIG TCP, GSO super-packets,
/// jumbograms) means "the whole buffer", so packets of any size up to the
/// buffer decode. Trailing bytes after the IP length are ignored.
/// Fragments set `ip.fragment`; non-first fragments get `L4::Other`.
/// Checksums are never validated.
///
/// # Errors
/// A [`DecodeError`] naming the layer and what was wrong; its
/// [`DecodeError::reason`] is the counter to bump.
pub fn decode(data: &[u8]) -> Result<Packet<'_>, DecodeError> {
    decode_inner(data, false)
}

/// Like [`decode`], but a copy shorter than the IP length (NFLOG/NFQUEUE
/// copy range, snaplen) is decoded as far as it goes instead of being
/// rejected: the payload is what was copied. Use it when
/// `CapturedPacket::truncated()` is true.
///
/// # Errors
/// As [`decode`], except for the "shorter than the IP length" cases.
pub fn decode_truncated(data: &[u8]) -> Result<Packet<'_>, DecodeError> {
    decode_inner(data, true)
}

fn decode_inner(data: &[u8], allow_truncated: bool) -> Result<Packet<'_>, DecodeError> {
    let first = *data.first().ok_or(DecodeError::Empty)?;
    match first >> 4 {
        4 => decode_v4(data, allow_truncated),
        6 => decode_v6(data, allow_truncated),
        v => Err(DecodeError::BadVersion(v)),
    }
}

fn decode_v4(data: &[u8], allow_truncated: bool) -> Result<Packet<'_>, DecodeError> {
    let p = ipv4::Packet::new_unchecked(data);
    p.check_len_inner(allow_truncated)?;
    let frag_off = p.frag_offset();
    let fragment = frag_off != 0 || p.more_frags();
    let proto = p.protocol();
    let ip = IpInfo {
        version: 4,
        src: IpAddr::V4(p.src_addr()),
        dst: IpAddr::V4(p.dst_addr()),
        proto,
        ttl: p.ttl(),
        tos: p.tos(),
        id: p.ident(),
        len: p.effective_len() as u32,
        flow_label: 0,
        fragment,
        header_len: p.header_len() as u16,
    };
    let l4data = p.into_payload();
    if frag_off != 0 {
        return Ok(Packet {
            ip,
            l4: L4::Other,
            payload: &[],
        });
    }
    decode_l4(ip, proto, false, l4data, allow_truncated)
}

fn decode_v6(data: &[u8], allow_truncated: bool) -> Result<Packet<'_>, DecodeError> {
    let p = ipv6::Packet::new_unchecked(data);
    p.check_len_inner(allow_truncated)?;
    let rest = p.into_payload();
    let walk = ipv6::walk_extensions(p.next_header(), rest)?;
    let ip = IpInfo {
        version: 6,
        src: IpAddr::V6(p.src_addr()),
        dst: IpAddr::V6(p.dst_addr()),
        proto: walk.proto,
        ttl: p.hop_limit(),
        tos: p.traffic_class(),
        id: 0,
        len: rest.len() as u32,
        flow_label: p.flow_label(),
        fragment: walk.fragment,
        header_len: (ipv6::HEADER_LEN + walk.ext_len) as u16,
    };
    if walk.non_first_fragment {
        return Ok(Packet {
            ip,
            l4: L4::Other,
            payload: &[],
        });
    }
    let l4data = rest.get(walk.ext_len..).unwrap_or(&[]);
    decode_l4(ip, walk.proto, true, l4data, allow_truncated)
}

fn decode_l4(
    ip: IpInfo,
    proto: u8,
    v6: bool,
    data: &[u8],
    allow_truncated: bool,
) -> Result<Packet<'_>, DecodeError> {
    // A first fragment too short for its L4 header is still a valid
    // fragment: report it without L4 instead of failing.
    let other = |e: DecodeError| {
        if ip.fragment {
            Ok(Packet {
                ip,
                l4: L4::Other,
                payload: &[],
            })
        } else {
            Err(e)
        }
    };
    match proto {
        ipproto::TCP => match tcp::Packet::new_checked(data) {
            Ok(t) => Ok(Packet {
                ip,
                l4: L4::Tcp(t.info()),
                payload: t.into_payload(),
            }),
            Err(e) => other(e),
        },
        ipproto::UDP => {
            let u = udp::Packet::new_unchecked(data);
            match u.check_len_inner(allow_truncated || ip.fragment) {
                Ok(()) => Ok(Packet {
                    ip,
                    l4: L4::Udp(u.info()),
                    payload: u.into_payload(),
                }),
                Err(e) => other(e),
            }
        }
        1 if !v6 => icmp_l4(ip, false, data).or_else(other),
        58 if v6 => icmp_l4(ip, true, data).or_else(other),
        _ => Ok(Packet {
            ip,
            l4: L4::Other,
            payload: &[],
        }),
    }
}

fn icmp_l4(ip: IpInfo, v6: bool, data: &[u8]) -> Result<Packet<'_>, DecodeError> {
    let i = icmp::Packet::new_checked(data)?;
    Ok(Packet {
        ip,
        l4: L4::Icmp(i.info(v6)),
        payload: i.into_payload(),
    })
}

#[cfg(test)]
pub(crate) mod testpkt;
#[cfg(test)]
mod tests;
