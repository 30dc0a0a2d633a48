//! Whole-packet decode tests and the no-panic robustness test.

use super::testpkt::*;
use super::*;

#[test]
fn ipv4_tcp() {
    let p = tcp(
        "192.0.2.1",
        "198.51.100.2",
        50000,
        22,
        1,
        2,
        tcp_flags::ACK | tcp_flags::PSH,
        b"SSH-2.0-x\r\n",
    );
    let d = decode(&p).unwrap();
    assert_eq!(d.ip.version, 4);
    assert_eq!(d.ip.src.to_string(), "192.0.2.1");
    assert_eq!(d.ip.proto, 6);
    assert_eq!(d.ip.len as usize, p.len());
    assert!(!d.ip.fragment);
    match d.l4 {
        L4::Tcp(t) => {
            assert_eq!((t.src_port, t.dst_port, t.seq, t.ack), (50000, 22, 1, 2));
            assert_eq!(t.flags, 0x18);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(d.payload, b"SSH-2.0-x\r\n");
    assert_eq!(d.ports(), Some((50000, 22)));
}

#[test]
fn ipv6_udp_and_icmp() {
    let p = ip(
        "2001:db8::1",
        "2001:db8::2",
        17,
        &udp_datagram(53, 5353, b"abc"),
    );
    let d = decode(&p).unwrap();
    assert_eq!(d.ip.version, 6);
    assert!(matches!(
        d.l4,
        L4::Udp(UdpInfo {
            src_port: 53,
            dst_port: 5353,
            len: 11
        })
    ));
    assert_eq!(d.payload, b"abc");

    let p = ip(
        "2001:db8::1",
        "2001:db8::2",
        58,
        &icmp_message(128, 0, 77, 1),
    );
    let d = decode(&p).unwrap();
    assert!(matches!(
        d.l4,
        L4::Icmp(IcmpInfo {
            v6: true,
            itype: 128,
            id: 77,
            ..
        })
    ));
    assert_eq!(d.proto_name(), "IPv6-ICMP");

    let p = ip("192.0.2.1", "192.0.2.2", 1, &icmp_message(8, 0, 5, 6));
    let d = decode(&p).unwrap();
    assert!(matches!(
        d.l4,
        L4::Icmp(IcmpInfo {
            v6: false,
            itype: 8,
            id: 5,
            seq: 6,
            ..
        })
    ));
}

/// The quoted header of an ICMPv4 error is checked as Suricata's
/// DecodePartialIPV4 does: only for a known code, only when something is
/// quoted, and a bad one is an anomaly on a packet that stays valid.
#[test]
fn icmpv4_error_quote_anomalies_do_not_invalidate() {
    let evs = |d: &Packet<'_>| d.ext.events.iter().map(|e| e.name()).collect::<Vec<_>>();
    // Destination unreachable (3/1) quoting 4 bytes: too short for IPv4.
    let mut body = icmp_message(3, 1, 0, 0);
    body.extend_from_slice(&[0x45, 0, 0, 20]);
    let p1 = ip("192.0.2.1", "192.0.2.2", 1, &body);
    let d = decode(&p1).unwrap();
    assert!(matches!(d.l4, L4::Icmp(IcmpInfo { itype: 3, .. })));
    assert_eq!(evs(&d), ["icmpv4.ipv4_trunc_pkt"]);
    // Quoting 20 bytes of something that is not IPv4.
    let mut body = icmp_message(11, 0, 0, 0);
    body.extend_from_slice(&[0x60; 20]);
    let p2 = ip("192.0.2.1", "192.0.2.2", 1, &body);
    let d = decode(&p2).unwrap();
    assert_eq!(evs(&d), ["icmpv4.ipv4_unknown_ver"]);
    // An unknown code: only that, the quote is not looked at.
    let mut body = icmp_message(3, 99, 0, 0);
    body.extend_from_slice(&[0x60; 20]);
    let p3 = ip("192.0.2.1", "192.0.2.2", 1, &body);
    let d = decode(&p3).unwrap();
    assert_eq!(evs(&d), ["icmpv4.unknown_code"]);
    // Nothing quoted: no anomaly.
    let p4 = ip("192.0.2.1", "192.0.2.2", 1, &icmp_message(3, 1, 0, 0));
    let d = decode(&p4).unwrap();
    assert!(d.ext.events.is_empty());
}

/// An upper layer right after the IPv6 header is judged by its own decoder
/// (Suricata: `tcp.pkt_too_small`, `gre.pkt_too_small`), not by the
/// extension-header walk (`ipv6.trunc_exthdr`).
#[test]
fn ipv6_empty_upper_layer_is_that_layers_anomaly() {
    for (proto, want) in [(6, "tcp.pkt_too_small"), (47, "gre.pkt_too_small")] {
        let p = ip("2001:db8::1", "2001:db8::2", proto, &[]);
        let e = decode(&p).unwrap_err();
        assert_eq!(e.reason(), want, "next header {proto}");
    }
}

#[test]
fn ipv6_extension_headers_then_tcp() {
    let seg = tcp_segment(1, 2, 3, 4, tcp_flags::SYN, b"");
    let mut body = vec![60, 0, 0, 0, 0, 0, 0, 0]; // HBH -> dest opts
    body.extend_from_slice(&[6, 0, 0, 0, 0, 0, 0, 0]); // dest opts -> TCP
    body.extend_from_slice(&seg);
    let p = ip("2001:db8::1", "2001:db8::2", 0, &body);
    let d = decode(&p).unwrap();
    assert_eq!(d.ip.proto, 6);
    assert_eq!(d.ip.header_len, 56);
    assert!(matches!(d.l4, L4::Tcp(_)));
}

#[test]
fn ipv6_non_first_fragment_has_no_l4() {
    let mut body = vec![6, 0, 0x05, 0x00, 0, 0, 0, 9];
    body.extend_from_slice(&[0xaa; 30]);
    let pkt = ip("2001:db8::1", "2001:db8::2", 44, &body);
    let d = decode(&pkt).unwrap();
    assert!(d.ip.fragment);
    assert_eq!(d.l4, L4::Other);
    assert!(d.payload.is_empty());
}

#[test]
fn ipv4_fragments() {
    // First fragment (MF set): L4 decoded.
    let mut p = tcp("192.0.2.1", "192.0.2.2", 1, 2, 3, 4, 0x10, b"hello");
    p[6] = 0x20;
    let d = decode(&p).unwrap();
    assert!(d.ip.fragment);
    assert!(matches!(d.l4, L4::Tcp(_)));
    // First fragment too short for TCP: still decodes, without L4.
    let mut short = tcp("192.0.2.1", "192.0.2.2", 1, 2, 3, 4, 0x10, b"");
    short.truncate(28);
    short[3] = 28;
    short[6] = 0x20;
    let d = decode(&short).unwrap();
    assert_eq!(d.l4, L4::Other);
    // Non-first fragment: no L4.
    p[6] = 0x00;
    p[7] = 0x10;
    let d = decode(&p).unwrap();
    assert!(d.ip.fragment);
    assert_eq!(d.l4, L4::Other);
}

#[test]
fn big_tcp_super_packet_decodes() {
    let payload = vec![0x41u8; 66_000];
    let p = tcp("192.0.2.1", "192.0.2.2", 1, 2, 3, 4, 0x18, &payload);
    assert_eq!(&p[2..4], &[0, 0], "builder sets tot_len 0 beyond 64 KiB");
    let d = decode(&p).unwrap();
    assert_eq!(d.payload.len(), 66_000);
    let p6 = tcp("2001:db8::1", "2001:db8::2", 1, 2, 3, 4, 0x18, &payload);
    assert_eq!(decode(&p6).unwrap().payload.len(), 66_000);
}

#[test]
fn padding_trimmed_from_payload() {
    let mut p = tcp("192.0.2.1", "192.0.2.2", 1, 2, 3, 4, 0x18, b"abc");
    p.extend_from_slice(&[0, 0, 0]);
    assert_eq!(decode(&p).unwrap().payload, b"abc");
}

#[test]
fn error_reasons() {
    assert_eq!(decode(&[]).unwrap_err(), DecodeError::Empty);
    assert_eq!(decode(&[0x55]).unwrap_err(), DecodeError::BadVersion(5));
    let p = tcp("192.0.2.1", "192.0.2.2", 1, 2, 3, 4, 0x18, b"abc");
    // Truncated copy: strict decode fails, lenient one decodes what is there.
    assert_eq!(
        decode(&p[..p.len() - 1]).unwrap_err().reason(),
        "ipv4.trunc_pkt"
    );
    assert_eq!(decode_truncated(&p[..p.len() - 1]).unwrap().payload, b"ab");
    // IP fine but TCP header cut: tcp_trunc.
    let mut q = p[..30].to_vec();
    q[3] = 30;
    assert_eq!(decode(&q).unwrap_err().reason(), "tcp.pkt_too_small");
    let mut u = ip("192.0.2.1", "192.0.2.2", 17, &udp_datagram(1, 2, b"x"));
    u[25] = 3;
    assert_eq!(decode(&u).unwrap_err().reason(), "udp.len_invalid");
    let i = ip("192.0.2.1", "192.0.2.2", 1, &[8, 0, 0]);
    assert_eq!(decode(&i).unwrap_err().reason(), "icmpv4.pkt_too_small");
}

#[test]
fn unknown_protocol_is_other() {
    let p = ip("192.0.2.1", "192.0.2.2", 99, &[1, 2, 3, 4]);
    let d = decode(&p).unwrap();
    assert_eq!(d.l4, L4::Other);
    assert_eq!(d.ip.proto, 99);
    assert_eq!(d.proto_name(), "99");
}

/// Deterministic xorshift PRNG so failures reproduce.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn random_and_mutated_input_never_panics() {
    let fixtures: Vec<Vec<u8>> = vec![
        tcp(
            "192.0.2.1",
            "192.0.2.2",
            1,
            2,
            3,
            4,
            0x18,
            b"SSH-2.0-OpenSSH\r\n",
        ),
        tcp("2001:db8::1", "2001:db8::2", 1, 2, 3, 4, 0x02, b""),
        ip(
            "192.0.2.1",
            "192.0.2.2",
            17,
            &udp_datagram(1, 2, b"payload"),
        ),
        ip(
            "2001:db8::1",
            "2001:db8::2",
            58,
            &icmp_message(128, 0, 1, 1),
        ),
        {
            let mut b = vec![43, 0, 0, 0, 0, 0, 0, 0, 44, 0, 0, 0, 0, 0, 0, 0];
            b.extend_from_slice(&[6, 0, 0, 1, 0, 0, 0, 1]);
            b.extend_from_slice(&tcp_segment(1, 2, 3, 4, 0x10, b"zz"));
            ip("2001:db8::1", "2001:db8::2", 0, &b)
        },
    ];
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut decoded = 0usize;
    // Every prefix of every fixture.
    for f in &fixtures {
        for n in 0..=f.len() {
            let _ = decode(&f[..n]);
            let _ = decode_truncated(&f[..n]);
        }
    }
    let mut buf = Vec::with_capacity(256);
    for i in 0..100_000u32 {
        buf.clear();
        if i % 4 == 0 {
            // Pure random bytes with a plausible version nibble.
            let len = (rng.next() % 120) as usize;
            for _ in 0..len {
                buf.push(rng.next() as u8);
            }
            if let Some(b) = buf.first_mut() {
                *b = (*b & 0x0f) | if rng.next() & 1 == 0 { 0x40 } else { 0x60 };
            }
        } else {
            // A fixture with a few random byte flips, maybe cut short.
            let f = &fixtures[(rng.next() as usize) % fixtures.len()];
            buf.extend_from_slice(f);
            for _ in 0..(1 + rng.next() % 4) {
                let pos = (rng.next() as usize) % buf.len();
                buf[pos] = rng.next() as u8;
            }
            if matches!(rng.next() % 3, 0) {
                let cut = (rng.next() as usize) % (buf.len() + 1);
                buf.truncate(cut);
            }
        }
        if let Ok(p) = decode(&buf) {
            decoded += 1;
            assert!(p.payload.len() <= buf.len());
            let _ = p.ports();
        }
        let _ = decode_truncated(&buf);
    }
    assert!(
        decoded > 1000,
        "mutations should still decode often ({decoded})"
    );
}
