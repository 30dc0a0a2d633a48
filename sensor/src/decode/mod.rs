//! Decoding: typed, length-checked views over packet bytes (one file per
//! header, in the style of smoltcp's `wire`) and the summary [`Packet`] that
//! later stages read.
//!
//! Input starts at the IP header. Nothing here panics on any input: a
//! truncated or malformed packet yields a [`DecodeError`] whose
//! [`DecodeError::reason`] names a counter.

use std::net::IpAddr;

pub mod defrag;
pub mod ethernet;
pub mod event;
pub mod gre;
pub mod icmp;
pub mod ipv4;
pub mod ipv6;
pub mod link;
pub mod mpls;
pub mod ppp;
pub mod tcp;
pub mod udp;
pub mod udp_tunnel;

mod frame;

pub use event::{Counted, Ev, Events, Layers, COUNTED};
pub use frame::decode_frame;
pub use link::LINKTYPE_RAW;

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
    /// What else decoding found: link layer, VLANs, tunnels, anomalies.
    pub ext: Ext<'a>,
}

/// The parts of a decoded packet beyond its IP and L4 summary.
#[derive(Debug, Clone, Copy, Default)]
pub struct Ext<'a> {
    /// Link type the frame was decoded from (pcap `LINKTYPE_*`).
    pub linktype: u16,
    /// The whole captured frame, link layer included.
    pub frame: &'a [u8],
    /// The innermost IP packet, from its header to the end of the capture.
    pub ip_raw: &'a [u8],
    /// Addresses of the outermost Ethernet header.
    pub ether: Option<Ether>,
    /// VLAN ids, outer first (EVE `vlan`).
    pub vlan: Vlans,
    /// Decoder anomalies found in this packet.
    pub events: Events,
    /// The layers decoded, outer first (the `stats.decoder.*` counters).
    pub layers: Layers,
    /// An IP layer was decoded (false for ARP, unknown ethertypes, and
    /// packets that failed before IP).
    pub has_ip: bool,
    /// Decoding stopped at a fatal anomaly (also in `events`); the fields
    /// above it are as far as decoding got, `l4` is `Other`.
    pub invalid: Option<DecodeError>,
    /// A tunnel was followed: `ip`/`l4` are the inner packet's.
    pub tunnel: bool,
    /// SCTP source and destination ports.
    pub sctp_ports: Option<(u16, u16)>,
    /// ESP security parameter index.
    pub esp_spi: Option<u32>,
    /// Fragment header fields, when the innermost IP packet is a fragment.
    pub frag: Option<Frag>,
}

/// Source and destination MAC addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Ether {
    pub src: [u8; 6],
    pub dst: [u8; 6],
}

/// Up to three VLAN ids (Suricata's limit), outer first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Vlans {
    n: u8,
    ids: [u16; 3],
}

impl Vlans {
    /// Adds an id; false when three are already there.
    pub fn push(&mut self, id: u16) -> bool {
        match self.ids.get_mut(usize::from(self.n)) {
            Some(slot) => {
                *slot = id;
                self.n += 1;
                true
            }
            None => false,
        }
    }

    pub fn len(&self) -> usize {
        usize::from(self.n)
    }

    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    pub fn as_slice(&self) -> &[u16] {
        self.ids.get(..usize::from(self.n)).unwrap_or(&[])
    }
}

/// Fragment fields of an IPv4 or IPv6 fragment, offsets into
/// [`Ext::ip_raw`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Frag {
    /// IPv4 identification or IPv6 fragment id.
    pub id: u32,
    /// Offset of this fragment's data in the original packet, in bytes.
    pub offset: u32,
    pub more: bool,
    /// Where the fragment's data starts in `ip_raw`.
    pub data_off: usize,
    /// Length of the fragment's data.
    pub data_len: usize,
    /// Protocol of the fragmented payload.
    pub proto: u8,
    /// IPv6: where the fragment header starts in `ip_raw` (the
    /// unfragmentable part ends there); IPv4: the header length.
    pub unfrag_len: usize,
    /// IPv6: offset in `ip_raw` of the next-header byte that names the
    /// fragment header (rewritten on reassembly).
    pub prev_nh_off: usize,
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

impl IpInfo {
    /// Placeholder for a packet whose IP layer was not decoded
    /// (`ext.has_ip` is false).
    pub const NONE: IpInfo = IpInfo {
        version: 0,
        src: IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
        dst: IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
        proto: 0,
        ttl: 0,
        tos: 0,
        id: 0,
        len: 0,
        flow_label: 0,
        fragment: false,
        header_len: 0,
    };
}

impl Packet<'_> {
    /// An IP header was decoded: `ip` holds real addresses (false for
    /// [`IpInfo::NONE`], a packet that failed before its IP layer).
    pub fn ip_decoded(&self) -> bool {
        self.ip.version != 0
    }

    /// Source and destination ports for TCP, UDP and SCTP.
    pub fn ports(&self) -> Option<(u16, u16)> {
        match self.l4 {
            L4::Tcp(t) => Some((t.src_port, t.dst_port)),
            L4::Udp(u) => Some((u.src_port, u.dst_port)),
            _ if self.ip.proto == ipproto::SCTP => self.ext.sctp_ports,
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
    pub const IPIP: u8 = 4;
    pub const IPV6: u8 = 41;
    pub const GRE: u8 = 47;
    pub const ESP: u8 = 50;

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
    #[error("decoder anomaly {}", .0.name())]
    Anomaly(Ev),
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

/// Every decoder anomaly and decode failure, in [`Ev`] order: Suricata's
/// `decoder.event.*` list plus a few Meerkat-only kinds. The one list.
pub const ERROR_KINDS: [ErrorKind; event::KINDS.len()] = event::KINDS;

impl DecodeError {
    /// The anomaly this failure is.
    pub fn event(&self) -> Ev {
        match self {
            DecodeError::Empty => Ev::Empty,
            DecodeError::BadVersion(_) => Ev::IprawInvalidIpVersion,
            DecodeError::Truncated(Layer::Ipv4) => Ev::Ipv4TruncPkt,
            DecodeError::Truncated(Layer::Ipv6) => Ev::Ipv6TruncPkt,
            DecodeError::Truncated(Layer::Ipv6Ext) => Ev::Ipv6TruncExthdr,
            DecodeError::Truncated(Layer::Tcp) => Ev::TcpPktTooSmall,
            DecodeError::Truncated(Layer::Udp) => Ev::UdpHlenTooSmall,
            DecodeError::Truncated(Layer::Icmp) => Ev::Icmpv4PktTooSmall,
            DecodeError::BadLength(Layer::Ipv4) => Ev::Ipv4IplenSmallerThanHlen,
            DecodeError::BadLength(Layer::Ipv6) => Ev::Ipv6PktTooSmall,
            DecodeError::BadLength(Layer::Tcp) => Ev::TcpHlenTooSmall,
            DecodeError::BadLength(Layer::Udp) => Ev::UdpLenInvalid,
            DecodeError::BadLength(_) => Ev::BadLen,
            DecodeError::TooManyExtensions => Ev::Ipv6TooManyExt,
            DecodeError::Anomaly(e) => *e,
        }
    }

    /// Position in [`ERROR_KINDS`] (and in the per-kind counters).
    pub fn index(&self) -> usize {
        self.event().index()
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
/// Checksums are never validated. Tunnels inside are followed as
/// [`decode_frame`] does.
///
/// # Errors
/// A [`DecodeError`] naming the layer and what was wrong; its
/// [`DecodeError::index`] is the counter to bump.
pub fn decode(data: &[u8]) -> Result<Packet<'_>, DecodeError> {
    decode_ip(data, false)
}

/// Like [`decode`], but a copy shorter than the IP length (NFLOG/NFQUEUE
/// copy range, snaplen) is decoded as far as it goes instead of being
/// rejected: the payload is what was copied. Use it when
/// `CapturedPacket::truncated()` is true.
///
/// # Errors
/// As [`decode`], except for the "shorter than the IP length" cases.
pub fn decode_truncated(data: &[u8]) -> Result<Packet<'_>, DecodeError> {
    decode_ip(data, true)
}

fn decode_ip(data: &[u8], allow_truncated: bool) -> Result<Packet<'_>, DecodeError> {
    let p = decode_frame(LINKTYPE_RAW, data, allow_truncated);
    match p.ext.invalid {
        Some(e) => Err(e),
        None => Ok(p),
    }
}

#[cfg(test)]
pub(crate) mod testpkt;
#[cfg(test)]
mod tests;
