//! Reject responses: TCP RST and ICMP "administratively prohibited" packets
//! built here ([`tcp_rst`], [`icmp`]) and sent through raw IP sockets
//! ([`sender`]), routed by the kernel like any locally generated packet.
//!
//! Semantics follow Suricata 7's `respond-reject-libnet11.c`: TTL/hop limit
//! 64; TCP gets RST|ACK, everything else ICMP; ICMP errors, RSTs and
//! non-first fragments are never answered.

pub mod icmp;
pub mod sender;
pub mod tcp_rst;

use std::net::IpAddr;

pub use sender::Responder;

pub use crate::action::RejectTarget;

/// Which end of the matching packet a reject packet goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Toward {
    Src,
    Dst,
}

/// Errors of the reject path.
#[derive(Debug, thiserror::Error)]
pub enum RespondError {
    #[error(
        "cannot open raw sockets for rejects (IPv4: {v4}; IPv6: {v6}): \
         run as root or with CAP_NET_RAW, or disable reject rules"
    )]
    NoSockets {
        v4: std::io::Error,
        v6: std::io::Error,
    },
    #[error(
        "no raw {family} socket is open (it failed at startup), cannot reject a packet to {dst}"
    )]
    NoSocket { family: &'static str, dst: IpAddr },
    #[error("sending a {kind} to {dst} failed: {source}")]
    Send {
        kind: &'static str,
        dst: IpAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("sent only {sent} of {len} bytes of a {kind} to {dst}")]
    Short {
        kind: &'static str,
        dst: IpAddr,
        sent: usize,
        len: usize,
    },
}

/// The Internet checksum (RFC 1071) over `parts` taken as one byte stream,
/// plus `initial` (a pre-summed pseudo header). Returns the value to store.
pub fn checksum(initial: u32, parts: &[&[u8]]) -> u16 {
    let mut sum = initial as u64;
    let mut odd: Option<u8> = None;
    for part in parts {
        for &b in part.iter() {
            match odd.take() {
                Some(hi) => sum += u64::from(u16::from_be_bytes([hi, b])),
                None => odd = Some(b),
            }
        }
    }
    if let Some(hi) = odd {
        sum += u64::from(u16::from_be_bytes([hi, 0]));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Sum of the TCP/UDP/ICMPv6 pseudo header (not folded, not inverted).
pub fn pseudo_header_sum(src: IpAddr, dst: IpAddr, proto: u8, len: u32) -> u32 {
    let words = |b: &[u8]| -> u32 {
        b.chunks(2)
            .map(|c| u32::from(u16::from_be_bytes([c[0], c.get(1).copied().unwrap_or(0)])))
            .sum()
    };
    let addrs = match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => words(&s.octets()) + words(&d.octets()),
        (s, d) => words(&v6_octets(s)) + words(&v6_octets(d)),
    };
    addrs + u32::from(proto) + (len >> 16) + (len & 0xffff)
}

fn v6_octets(a: IpAddr) -> [u8; 16] {
    match a {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        IpAddr::V6(v6) => v6.octets(),
    }
}

/// TTL / hop limit of reject packets (as Suricata).
pub const REJECT_TTL: u8 = 64;

/// Appends an IP header for a packet of `payload_len` transport bytes.
/// Returns `None` if the addresses are of different families or the
/// payload does not fit.
pub(crate) fn push_ip_header(
    buf: &mut Vec<u8>,
    src: IpAddr,
    dst: IpAddr,
    proto: u8,
    payload_len: usize,
) -> Option<()> {
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let total = u16::try_from(20 + payload_len).ok()?;
            let start = buf.len();
            buf.extend_from_slice(&[0x45, 0]);
            buf.extend_from_slice(&total.to_be_bytes());
            // id 0 with DF set (RFC 6864: atomic datagrams need no id).
            buf.extend_from_slice(&[0, 0, 0x40, 0, REJECT_TTL, proto, 0, 0]);
            buf.extend_from_slice(&s.octets());
            buf.extend_from_slice(&d.octets());
            let sum = checksum(0, &[buf.get(start..)?]);
            buf.get_mut(start + 10..start + 12)?
                .copy_from_slice(&sum.to_be_bytes());
            Some(())
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            let plen = u16::try_from(payload_len).ok()?;
            buf.extend_from_slice(&[0x60, 0, 0, 0]);
            buf.extend_from_slice(&plen.to_be_bytes());
            buf.extend_from_slice(&[proto, REJECT_TTL]);
            buf.extend_from_slice(&s.octets());
            buf.extend_from_slice(&d.octets());
            Some(())
        }
        _ => None,
    }
}

#[cfg(test)]
pub(crate) mod testutil {
    //! Hand parsing of the packets the builders produce, independent of the
    //! decoder, with checksum verification.
    use super::*;

    pub struct Parsed {
        pub src: IpAddr,
        pub dst: IpAddr,
        pub proto: u8,
        pub ttl: u8,
        pub l4: Vec<u8>,
    }

    pub fn parse(b: &[u8]) -> Parsed {
        match b[0] >> 4 {
            4 => {
                let ihl = usize::from(b[0] & 0xf) * 4;
                let total = usize::from(u16::from_be_bytes([b[2], b[3]]));
                assert_eq!(total, b.len(), "IPv4 total length");
                assert_eq!(checksum(0, &[&b[..ihl]]), 0, "IPv4 header checksum");
                let src = IpAddr::from(<[u8; 4]>::try_from(&b[12..16]).unwrap());
                let dst = IpAddr::from(<[u8; 4]>::try_from(&b[16..20]).unwrap());
                Parsed {
                    src,
                    dst,
                    proto: b[9],
                    ttl: b[8],
                    l4: b[ihl..].to_vec(),
                }
            }
            6 => {
                let plen = usize::from(u16::from_be_bytes([b[4], b[5]]));
                assert_eq!(plen + 40, b.len(), "IPv6 payload length");
                let src = IpAddr::from(<[u8; 16]>::try_from(&b[8..24]).unwrap());
                let dst = IpAddr::from(<[u8; 16]>::try_from(&b[24..40]).unwrap());
                Parsed {
                    src,
                    dst,
                    proto: b[6],
                    ttl: b[7],
                    l4: b[40..].to_vec(),
                }
            }
            v => panic!("IP version {v}"),
        }
    }

    /// Verifies the transport checksum (with pseudo header where used).
    pub fn l4_checksum_ok(p: &Parsed) -> bool {
        let initial = if p.proto == 1 {
            0
        } else {
            pseudo_header_sum(p.src, p.dst, p.proto, p.l4.len() as u32)
        };
        checksum(initial, &[&p.l4]) == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1071_example() {
        // RFC 1071 section 3: the sum of these bytes is 0xddf2.
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(checksum(0, &[&data]), !0xddf2);
        // Split at an odd boundary gives the same result.
        assert_eq!(checksum(0, &[&data[..3], &data[3..]]), !0xddf2);
    }

    #[test]
    fn ipv4_header_known_vector() {
        // A well-known IPv4 header whose checksum is 0xb861.
        let mut h = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8,
            0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
        ];
        assert_eq!(checksum(0, &[&h]), 0xb861);
        h[10] = 0xb8;
        h[11] = 0x61;
        assert_eq!(checksum(0, &[&h]), 0);
    }

    #[test]
    fn ip_header_family_mismatch_is_refused() {
        let mut b = Vec::new();
        let v4: IpAddr = "192.0.2.1".parse().unwrap();
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        assert!(push_ip_header(&mut b, v4, v6, 6, 20).is_none());
        assert!(push_ip_header(&mut b, v4, v4, 6, 70_000).is_none());
    }

    #[test]
    fn targets() {
        assert!(RejectTarget::Both.to_src() && RejectTarget::Both.to_dst());
        assert!(RejectTarget::Src.to_src() && !RejectTarget::Src.to_dst());
        assert!(!RejectTarget::Dst.to_src() && RejectTarget::Dst.to_dst());
    }
}
