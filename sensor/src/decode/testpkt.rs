//! Test-only packet builders (checksums left zero: the decoder never
//! checks them).

use std::net::IpAddr;

/// A TCP segment header followed by `payload`.
pub fn tcp_segment(
    sport: u16,
    dport: u16,
    seq: u32,
    ack: u32,
    flags: u8,
    payload: &[u8],
) -> Vec<u8> {
    let mut v = Vec::with_capacity(20 + payload.len());
    v.extend_from_slice(&sport.to_be_bytes());
    v.extend_from_slice(&dport.to_be_bytes());
    v.extend_from_slice(&seq.to_be_bytes());
    v.extend_from_slice(&ack.to_be_bytes());
    v.push(0x50);
    v.push(flags);
    v.extend_from_slice(&[0xff, 0xff, 0, 0, 0, 0]);
    v.extend_from_slice(payload);
    v
}

/// A UDP datagram.
pub fn udp_datagram(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&sport.to_be_bytes());
    v.extend_from_slice(&dport.to_be_bytes());
    v.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    v.extend_from_slice(&[0, 0]);
    v.extend_from_slice(payload);
    v
}

/// An ICMP (v4 or v6) message with the given type, code, id and seq.
pub fn icmp_message(itype: u8, code: u8, id: u16, seq: u16) -> Vec<u8> {
    let mut v = vec![itype, code, 0, 0];
    v.extend_from_slice(&id.to_be_bytes());
    v.extend_from_slice(&seq.to_be_bytes());
    v
}

/// Wraps an L4 body in an IPv4 or IPv6 header (by address family).
pub fn ip(src: &str, dst: &str, proto: u8, body: &[u8]) -> Vec<u8> {
    let s: IpAddr = src.parse().unwrap();
    let d: IpAddr = dst.parse().unwrap();
    match (s, d) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let total = 20 + body.len();
            let tl = if total > 0xffff { 0 } else { total as u16 };
            let mut v = vec![0x45, 0];
            v.extend_from_slice(&tl.to_be_bytes());
            v.extend_from_slice(&[0, 1, 0x40, 0, 64, proto, 0, 0]);
            v.extend_from_slice(&s.octets());
            v.extend_from_slice(&d.octets());
            v.extend_from_slice(body);
            v
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            let pl = if body.len() > 0xffff {
                0
            } else {
                body.len() as u16
            };
            let mut v = vec![0x60, 0, 0, 0];
            v.extend_from_slice(&pl.to_be_bytes());
            v.push(proto);
            v.push(64);
            v.extend_from_slice(&s.octets());
            v.extend_from_slice(&d.octets());
            v.extend_from_slice(body);
            v
        }
        _ => panic!("mixed address families"),
    }
}

/// An IPv4/IPv6 TCP packet.
#[allow(clippy::too_many_arguments)]
pub fn tcp(
    src: &str,
    dst: &str,
    sport: u16,
    dport: u16,
    seq: u32,
    ack: u32,
    flags: u8,
    payload: &[u8],
) -> Vec<u8> {
    ip(
        src,
        dst,
        6,
        &tcp_segment(sport, dport, seq, ack, flags, payload),
    )
}
