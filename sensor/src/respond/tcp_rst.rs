//! TCP RST packets for reject rules (Suricata `respond-reject-libnet11.c`,
//! RFC 793 §3.4 "Reset Generation").

use crate::decode::{tcp_flags, Packet, TcpInfo, L4};
use crate::packet::Mode;

use super::{checksum, pseudo_header_sum, push_ip_header, Toward};

/// Sequence number space a segment takes: payload plus SYN and FIN.
fn seg_len(t: &TcpInfo, payload_len: usize) -> u32 {
    let mut n = payload_len as u32;
    if t.flags & tcp_flags::SYN != 0 {
        n = n.wrapping_add(1);
    }
    if t.flags & tcp_flags::FIN != 0 {
        n = n.wrapping_add(1);
    }
    n
}

/// Builds the RST (a complete IP packet) answering `pkt`, or `None` if
/// `pkt` is not TCP or is itself a RST.
///
/// * toward the source: addresses and ports swapped; RST|ACK with
///   seq = the packet's ack (0 if it has no ACK) and
///   ack = packet seq + payload (+1 for SYN, +1 for FIN).
/// * toward the destination: a RST as if from the source. Its seq is the
///   receiver's next expected sequence number: the packet's seq when the
///   packet was dropped (IPS), seq + its length when it was delivered (IDS
///   copy). ACK (with the packet's ack) only if the packet had ACK.
pub fn build_rst(pkt: &Packet<'_>, toward: Toward, mode: Mode) -> Option<Vec<u8>> {
    let L4::Tcp(t) = pkt.l4 else {
        return None;
    };
    if t.flags & tcp_flags::RST != 0 {
        return None;
    }
    let len = seg_len(&t, pkt.payload.len());
    let (src, dst, sport, dport, seq, ack, flags) = match toward {
        Toward::Src => {
            let seq = if t.flags & tcp_flags::ACK != 0 {
                t.ack
            } else {
                0
            };
            (
                pkt.ip.dst,
                pkt.ip.src,
                t.dst_port,
                t.src_port,
                seq,
                t.seq.wrapping_add(len),
                tcp_flags::RST | tcp_flags::ACK,
            )
        }
        Toward::Dst => {
            let seq = match mode {
                Mode::Ips => t.seq,
                Mode::Ids => t.seq.wrapping_add(len),
            };
            let (ack, flags) = if t.flags & tcp_flags::ACK != 0 {
                (t.ack, tcp_flags::RST | tcp_flags::ACK)
            } else {
                (0, tcp_flags::RST)
            };
            (
                pkt.ip.src, pkt.ip.dst, t.src_port, t.dst_port, seq, ack, flags,
            )
        }
    };
    let mut tcp = [0u8; 20];
    tcp[0..2].copy_from_slice(&sport.to_be_bytes());
    tcp[2..4].copy_from_slice(&dport.to_be_bytes());
    tcp[4..8].copy_from_slice(&seq.to_be_bytes());
    tcp[8..12].copy_from_slice(&ack.to_be_bytes());
    tcp[12] = 5 << 4;
    tcp[13] = flags;
    tcp[14..16].copy_from_slice(&t.window.to_be_bytes());
    let sum = checksum(pseudo_header_sum(src, dst, 6, 20), &[&tcp]);
    tcp[16..18].copy_from_slice(&sum.to_be_bytes());
    let mut out = Vec::with_capacity(60);
    push_ip_header(&mut out, src, dst, 6, tcp.len())?;
    out.extend_from_slice(&tcp);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{l4_checksum_ok, parse};
    use super::*;
    use crate::decode::IpInfo;
    use std::net::IpAddr;

    fn pkt<'a>(src: &str, dst: &str, flags: u8, payload: &'a [u8]) -> Packet<'a> {
        let src: IpAddr = src.parse().unwrap();
        let dst: IpAddr = dst.parse().unwrap();
        Packet {
            ext: Default::default(),
            ip: IpInfo {
                version: if src.is_ipv4() { 4 } else { 6 },
                src,
                dst,
                proto: 6,
                ttl: 60,
                tos: 0,
                id: 1,
                len: 0,
                flow_label: 0,
                fragment: false,
                header_len: if src.is_ipv4() { 20 } else { 40 },
            },
            l4: L4::Tcp(TcpInfo {
                src_port: 40000,
                dst_port: 22,
                seq: 1000,
                ack: 5000,
                flags,
                window: 512,
                urgent: 0,
                reserved: 0,
                header_len: 20,
            }),
            payload,
        }
    }

    fn tcp_fields(l4: &[u8]) -> (u16, u16, u32, u32, u8) {
        (
            u16::from_be_bytes([l4[0], l4[1]]),
            u16::from_be_bytes([l4[2], l4[3]]),
            u32::from_be_bytes([l4[4], l4[5], l4[6], l4[7]]),
            u32::from_be_bytes([l4[8], l4[9], l4[10], l4[11]]),
            l4[13],
        )
    }

    #[test]
    fn rst_to_source_v4() {
        let p = pkt(
            "203.0.113.50",
            "192.0.2.10",
            tcp_flags::ACK | tcp_flags::PSH,
            b"SSH-2.0-x\r\n",
        );
        let b = build_rst(&p, Toward::Src, Mode::Ips).unwrap();
        let parsed = parse(&b);
        assert_eq!(parsed.src.to_string(), "192.0.2.10");
        assert_eq!(parsed.dst.to_string(), "203.0.113.50");
        assert_eq!((parsed.proto, parsed.ttl, parsed.l4.len()), (6, 64, 20));
        assert!(l4_checksum_ok(&parsed));
        assert_eq!(
            tcp_fields(&parsed.l4),
            (22, 40000, 5000, 1011, tcp_flags::RST | tcp_flags::ACK)
        );
    }

    #[test]
    fn rst_to_source_for_syn_acks_the_syn() {
        let p = pkt("203.0.113.50", "192.0.2.10", tcp_flags::SYN, b"");
        let parsed = parse(&build_rst(&p, Toward::Src, Mode::Ips).unwrap());
        let (_, _, seq, ack, flags) = tcp_fields(&parsed.l4);
        assert_eq!(
            (seq, ack, flags),
            (0, 1001, tcp_flags::RST | tcp_flags::ACK)
        );
    }

    #[test]
    fn rst_to_destination_depends_on_delivery_v6() {
        let p = pkt("2001:db8::1", "2001:db8::2", tcp_flags::ACK, b"abcd");
        let ips = parse(&build_rst(&p, Toward::Dst, Mode::Ips).unwrap());
        assert_eq!(ips.src.to_string(), "2001:db8::1");
        assert_eq!(ips.dst.to_string(), "2001:db8::2");
        assert_eq!(ips.ttl, 64);
        assert!(l4_checksum_ok(&ips));
        assert_eq!(
            tcp_fields(&ips.l4),
            (40000, 22, 1000, 5000, tcp_flags::RST | tcp_flags::ACK)
        );
        let ids = parse(&build_rst(&p, Toward::Dst, Mode::Ids).unwrap());
        assert_eq!(tcp_fields(&ids.l4).2, 1004);
        assert!(l4_checksum_ok(&ids));
    }

    #[test]
    fn decoder_reads_the_rst_back() {
        let p = pkt("203.0.113.50", "192.0.2.10", tcp_flags::ACK, b"abc");
        for toward in [Toward::Src, Toward::Dst] {
            let b = build_rst(&p, toward, Mode::Ips).unwrap();
            let d = crate::decode::decode(&b).unwrap();
            let L4::Tcp(t) = d.l4 else {
                panic!("not TCP: {:?}", d.l4)
            };
            assert_eq!(t.flags & tcp_flags::RST, tcp_flags::RST);
            assert_eq!((d.ip.ttl, d.payload.len()), (64, 0));
            if toward == Toward::Src {
                assert_eq!(
                    (d.ip.src, t.src_port, t.seq, t.ack),
                    (p.ip.dst, 22, 5000, 1003)
                );
            } else {
                assert_eq!((d.ip.src, t.src_port, t.seq), (p.ip.src, 40000, 1000));
            }
        }
    }

    #[test]
    fn never_answers_rst_or_non_tcp() {
        let p = pkt(
            "192.0.2.1",
            "192.0.2.2",
            tcp_flags::RST | tcp_flags::ACK,
            b"",
        );
        assert!(build_rst(&p, Toward::Src, Mode::Ips).is_none());
        let mut u = pkt("192.0.2.1", "192.0.2.2", 0, b"");
        u.l4 = L4::Other;
        assert!(build_rst(&u, Toward::Src, Mode::Ips).is_none());
    }

    #[test]
    fn corrupting_a_byte_breaks_the_checksum() {
        let p = pkt("192.0.2.1", "192.0.2.2", tcp_flags::ACK, b"");
        let mut b = build_rst(&p, Toward::Src, Mode::Ips).unwrap();
        let last = b.len() - 1;
        b[last] ^= 1;
        assert!(!l4_checksum_ok(&parse(&b)));
    }
}
