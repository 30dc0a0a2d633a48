//! ICMP "administratively prohibited" for reject rules on non-TCP packets:
//! ICMPv4 type 3 code 13 quoting the offending IP header plus 8 bytes,
//! ICMPv6 type 1 code 1 quoting as much as fits in 1280 bytes (RFC 4443).

use std::net::IpAddr;

use crate::decode::{Packet, L4};

use super::{checksum, pseudo_header_sum, push_ip_header, Toward};

/// ICMPv4 destination unreachable.
pub const ICMP4_UNREACH: u8 = 3;
/// Communication administratively prohibited (RFC 1812).
pub const ICMP4_ADMIN_PROHIBITED: u8 = 13;
/// ICMPv6 destination unreachable.
pub const ICMP6_UNREACH: u8 = 1;
/// Communication with destination administratively prohibited.
pub const ICMP6_ADMIN_PROHIBITED: u8 = 1;
/// IPv6 minimum MTU: an ICMPv6 error must not exceed it.
const IPV6_MIN_MTU: usize = 1280;

/// Whether an ICMP reject may answer `pkt` (RFC 1122 §3.2.2, RFC 4443
/// §2.4): never an ICMP error, a non-first fragment, or a packet from or to
/// a multicast, broadcast or unspecified address.
pub fn may_answer(pkt: &Packet<'_>) -> bool {
    match pkt.l4 {
        L4::Icmp(i) if i.v6 && i.itype < 128 => return false,
        L4::Icmp(i) if !i.v6 && !matches!(i.itype, 0 | 8 | 9 | 10 | 13..=18) => return false,
        L4::Other if pkt.ip.fragment => return false,
        _ => {}
    }
    let special = |a: IpAddr| match a {
        IpAddr::V4(v4) => v4.is_multicast() || v4.is_broadcast() || v4.is_unspecified(),
        IpAddr::V6(v6) => v6.is_multicast() || v6.is_unspecified(),
    };
    !special(pkt.ip.src) && !special(pkt.ip.dst)
}

/// Builds the ICMP error (a complete IP packet) about `pkt`, whose bytes
/// from the IP header on are `raw`. `None` when [`may_answer`] says no or
/// `raw` is too short to quote.
pub fn build_unreachable(pkt: &Packet<'_>, raw: &[u8], toward: Toward) -> Option<Vec<u8>> {
    if !may_answer(pkt) {
        return None;
    }
    let (src, dst) = match toward {
        Toward::Src => (pkt.ip.dst, pkt.ip.src),
        Toward::Dst => (pkt.ip.src, pkt.ip.dst),
    };
    let v6 = pkt.ip.version == 6;
    let quote_len = if v6 {
        raw.len().min(IPV6_MIN_MTU - 40 - 8)
    } else {
        raw.len().min(usize::from(pkt.ip.header_len).max(20) + 8)
    };
    let quote = raw.get(..quote_len)?;
    if quote.len() < if v6 { 40 } else { 20 } {
        return None;
    }
    let (itype, code, proto) = if v6 {
        (ICMP6_UNREACH, ICMP6_ADMIN_PROHIBITED, 58)
    } else {
        (ICMP4_UNREACH, ICMP4_ADMIN_PROHIBITED, 1)
    };
    let mut icmp = Vec::with_capacity(8 + quote.len());
    icmp.extend_from_slice(&[itype, code, 0, 0, 0, 0, 0, 0]);
    icmp.extend_from_slice(quote);
    let initial = if v6 {
        pseudo_header_sum(src, dst, 58, icmp.len() as u32)
    } else {
        0
    };
    let sum = checksum(initial, &[&icmp]);
    icmp.get_mut(2..4)?.copy_from_slice(&sum.to_be_bytes());
    let mut out = Vec::with_capacity(40 + icmp.len());
    push_ip_header(&mut out, src, dst, proto, icmp.len())?;
    out.extend_from_slice(&icmp);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{l4_checksum_ok, parse};
    use super::*;
    use crate::decode::{IcmpInfo, IpInfo, UdpInfo};

    /// A UDP packet 192.0.2.1:5000 -> 198.51.100.7:53 with 12 payload bytes.
    fn udp_v4() -> (Vec<u8>, Packet<'static>) {
        let mut raw = vec![
            0x45, 0, 0, 40, 0x12, 0x34, 0, 0, 61, 17, 0, 0, 192, 0, 2, 1, 198, 51, 100, 7,
        ];
        let sum = checksum(0, &[&raw]);
        raw[10..12].copy_from_slice(&sum.to_be_bytes());
        raw.extend_from_slice(&[0x13, 0x88, 0, 53, 0, 20, 0, 0]);
        raw.extend_from_slice(b"abcdefghijkl");
        let pkt = Packet {
            ext: Default::default(),
            ip: IpInfo {
                version: 4,
                src: "192.0.2.1".parse().unwrap(),
                dst: "198.51.100.7".parse().unwrap(),
                proto: 17,
                ttl: 61,
                tos: 0,
                id: 0x1234,
                len: 40,
                flow_label: 0,
                fragment: false,
                header_len: 20,
            },
            l4: L4::Udp(UdpInfo {
                src_port: 5000,
                dst_port: 53,
                len: 20,
            }),
            payload: b"abcdefghijkl",
        };
        (raw, pkt)
    }

    #[test]
    fn v4_quotes_header_plus_8() {
        let (raw, pkt) = udp_v4();
        let b = build_unreachable(&pkt, &raw, Toward::Src).unwrap();
        let p = parse(&b);
        assert_eq!(p.src.to_string(), "198.51.100.7");
        assert_eq!(p.dst.to_string(), "192.0.2.1");
        assert_eq!((p.proto, p.ttl), (1, 64));
        assert_eq!(&p.l4[..2], &[3, 13]);
        assert_eq!(&p.l4[8..], &raw[..28]);
        assert!(l4_checksum_ok(&p));
        let d = parse(&build_unreachable(&pkt, &raw, Toward::Dst).unwrap());
        assert_eq!(d.dst.to_string(), "198.51.100.7");
    }

    #[test]
    fn v6_quotes_up_to_min_mtu() {
        let mut raw = vec![0x60, 0, 0, 0];
        let payload = vec![0u8; 2000];
        raw.extend_from_slice(&((payload.len() + 8) as u16).to_be_bytes());
        raw.extend_from_slice(&[17, 64]);
        let src: std::net::Ipv6Addr = "2001:db8::1".parse().unwrap();
        let dst: std::net::Ipv6Addr = "2001:db8::2".parse().unwrap();
        raw.extend_from_slice(&src.octets());
        raw.extend_from_slice(&dst.octets());
        raw.extend_from_slice(&[0x13, 0x88, 0, 53, 0x07, 0xd8, 0, 0]);
        raw.extend_from_slice(&payload);
        let pkt = Packet {
            ext: Default::default(),
            ip: IpInfo {
                version: 6,
                src: src.into(),
                dst: dst.into(),
                proto: 17,
                ttl: 64,
                tos: 0,
                id: 0,
                len: 2008,
                flow_label: 0,
                fragment: false,
                header_len: 40,
            },
            l4: L4::Udp(UdpInfo {
                src_port: 5000,
                dst_port: 53,
                len: 2008,
            }),
            payload: &[],
        };
        let b = build_unreachable(&pkt, &raw, Toward::Src).unwrap();
        assert_eq!(b.len(), 1280);
        let p = parse(&b);
        assert_eq!((p.proto, p.l4[0], p.l4[1]), (58, 1, 1));
        assert_eq!(&p.l4[8..], &raw[..1232]);
        assert!(l4_checksum_ok(&p));
    }

    #[test]
    fn decoder_reads_the_icmp_back() {
        let (raw, pkt) = udp_v4();
        let b = build_unreachable(&pkt, &raw, Toward::Src).unwrap();
        let d = crate::decode::decode(&b).unwrap();
        let L4::Icmp(i) = d.l4 else {
            panic!("not ICMP: {:?}", d.l4)
        };
        assert_eq!((i.v6, i.itype, i.icode), (false, 3, 13));
        assert_eq!(d.ip.dst, pkt.ip.src);
        // Never answered again: it is an ICMP error itself.
        assert!(!may_answer(&d));
    }

    #[test]
    fn never_answers_icmp_errors_or_broadcast() {
        let (raw, mut pkt) = udp_v4();
        pkt.ip.proto = 1;
        pkt.l4 = L4::Icmp(IcmpInfo {
            v6: false,
            itype: 3,
            icode: 3,
            id: 0,
            seq: 0,
        });
        assert!(build_unreachable(&pkt, &raw, Toward::Src).is_none());
        pkt.l4 = L4::Icmp(IcmpInfo {
            v6: false,
            itype: 8,
            icode: 0,
            id: 1,
            seq: 1,
        });
        assert!(build_unreachable(&pkt, &raw, Toward::Src).is_some());
        pkt.l4 = L4::Icmp(IcmpInfo {
            v6: true,
            itype: 1,
            icode: 0,
            id: 0,
            seq: 0,
        });
        assert!(!may_answer(&pkt));
        let (raw, mut pkt) = udp_v4();
        pkt.ip.dst = "255.255.255.255".parse().unwrap();
        assert!(build_unreachable(&pkt, &raw, Toward::Src).is_none());
        let (_, pkt) = udp_v4();
        assert!(build_unreachable(&pkt, &[0x45, 0, 0], Toward::Src).is_none());
    }
}
