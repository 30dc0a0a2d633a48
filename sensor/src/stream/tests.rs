//! Reassembly behaviour: ordering, overlaps, wraparound, IPS/IDS timing
//! and the sliding window.

use super::*;
use crate::decode::tcp_flags::{ACK, FIN, PSH, RST, SYN};

const C: Direction = Direction::ToServer;
const S: Direction = Direction::ToClient;

fn info(seq: u32, ack: u32, flags: u8) -> TcpInfo {
    TcpInfo {
        src_port: 1,
        dst_port: 2,
        seq,
        ack,
        flags,
        window: 1000,
        ..TcpInfo::default()
    }
}

/// A session after a handshake with client ISN `ci` and server ISN `si`.
fn session(cfg: StreamConfig, ci: u32, si: u32, mode: Mode, out: &mut Inspect) -> TcpSession {
    let mut s = TcpSession::new(&StreamContext::new(cfg));
    s.on_packet(C, &info(ci, 0, SYN), b"", mode, out);
    s.on_packet(S, &info(si, ci.wrapping_add(1), SYN | ACK), b"", mode, out);
    s.on_packet(
        C,
        &info(ci.wrapping_add(1), si.wrapping_add(1), ACK),
        b"",
        mode,
        out,
    );
    assert_eq!(s.state(), TcpState::Established);
    assert!(out.is_empty());
    s
}

fn new_bytes(out: &Inspect, d: Direction) -> Vec<u8> {
    out.get(d)
        .map(|c| c.new_bytes().to_vec())
        .unwrap_or_default()
}

#[test]
fn in_order_ips_inspects_each_packet() {
    let mut out = Inspect::new();
    let mut s = session(StreamConfig::default(), 100, 5000, Mode::Ips, &mut out);
    s.on_packet(
        C,
        &info(101, 5001, ACK | PSH),
        b"hello ",
        Mode::Ips,
        &mut out,
    );
    let c = out.get(C).unwrap();
    assert_eq!(c.window, b"hello ");
    assert_eq!(c.new_from, 0);
    s.on_packet(
        C,
        &info(107, 5001, ACK | PSH),
        b"world",
        Mode::Ips,
        &mut out,
    );
    let c = out.get(C).unwrap();
    assert_eq!(c.window, b"hello world");
    assert_eq!(c.new_from, 6);
    assert_eq!(c.new_bytes(), b"world");
    assert_eq!(s.dir(C).stream_len(), 11);
    assert!(out.get(S).is_none());
}

#[test]
fn window_keeps_only_last_n_bytes() {
    let cfg = StreamConfig {
        window: 4,
        ..StreamConfig::default()
    };
    let mut out = Inspect::new();
    let mut s = session(cfg, 1, 1, Mode::Ips, &mut out);
    s.on_packet(C, &info(2, 2, ACK), b"abcdefgh", Mode::Ips, &mut out);
    s.on_packet(C, &info(10, 2, ACK), b"XY", Mode::Ips, &mut out);
    let c = out.get(C).unwrap();
    assert_eq!(c.window, b"efghXY");
    assert_eq!(c.new_from, 4);
}

#[test]
fn content_split_across_three_segments_is_contiguous() {
    let mut out = Inspect::new();
    let mut s = session(StreamConfig::default(), 10, 20, Mode::Ips, &mut out);
    s.on_packet(C, &info(11, 21, ACK), b"xxSSH", Mode::Ips, &mut out);
    s.on_packet(C, &info(16, 21, ACK), b"-2.", Mode::Ips, &mut out);
    s.on_packet(C, &info(19, 21, ACK), b"0-libssh", Mode::Ips, &mut out);
    let c = out.get(C).unwrap();
    let pos = c
        .window
        .windows(b"SSH-2.0-libssh".len())
        .position(|w| w == b"SSH-2.0-libssh")
        .unwrap();
    // The match ends inside the new bytes: detection reports it once.
    assert!(pos + 14 > c.new_from);
    assert_eq!(c.window, b"xxSSH-2.0-libssh");
}

#[test]
fn out_of_order_is_buffered_until_the_hole_fills() {
    let mut out = Inspect::new();
    let mut s = session(StreamConfig::default(), 0, 0, Mode::Ips, &mut out);
    s.on_packet(C, &info(7, 1, ACK), b"ghi", Mode::Ips, &mut out);
    assert!(out.is_empty());
    s.on_packet(C, &info(4, 1, ACK), b"def", Mode::Ips, &mut out);
    assert!(out.is_empty());
    assert_eq!(s.dir(C).regions(), 2, "adjacent regions are not coalesced");
    s.on_packet(C, &info(1, 1, ACK), b"abc", Mode::Ips, &mut out);
    assert_eq!(new_bytes(&out, C), b"abcdefghi");
    assert_eq!(s.dir(C).regions(), 0);
    assert_eq!(s.dir(C).buffered(), 0);
    assert!(s.dir(C).max_regions >= 1);
}

#[test]
fn overlap_keeps_first_seen_bytes() {
    let mut out = Inspect::new();
    let mut s = session(StreamConfig::default(), 0, 0, Mode::Ips, &mut out);
    // Out-of-order "DEF" first, then an in-order segment that claims
    // different bytes for the same range.
    s.on_packet(C, &info(4, 1, ACK), b"DEF", Mode::Ips, &mut out);
    s.on_packet(C, &info(1, 1, ACK), b"abcdefgh", Mode::Ips, &mut out);
    assert_eq!(new_bytes(&out, C), b"abcDEFgh");
    assert_eq!(out.events.overlaps, 1);
    // Partial overlap with in-order data: only the new tail is taken.
    s.on_packet(C, &info(7, 1, ACK), b"XXzz", Mode::Ips, &mut out);
    assert_eq!(new_bytes(&out, C), b"zz");
    assert_eq!(out.events.overlaps, 1);
}

#[test]
fn overlapping_out_of_order_segments() {
    let mut out = Inspect::new();
    let mut s = session(StreamConfig::default(), 0, 0, Mode::Ips, &mut out);
    s.on_packet(C, &info(5, 1, ACK), b"EF", Mode::Ips, &mut out);
    s.on_packet(C, &info(9, 1, ACK), b"IJ", Mode::Ips, &mut out);
    s.on_packet(C, &info(4, 1, ACK), b"defghijk", Mode::Ips, &mut out);
    assert_eq!(out.events.overlaps, 1);
    s.on_packet(C, &info(1, 1, ACK), b"abc", Mode::Ips, &mut out);
    assert_eq!(new_bytes(&out, C), b"abcdEFghIJk");
}

#[test]
fn retransmission_is_not_inspected_twice() {
    let mut out = Inspect::new();
    let mut s = session(StreamConfig::default(), 0, 0, Mode::Ips, &mut out);
    s.on_packet(C, &info(1, 1, ACK), b"abc", Mode::Ips, &mut out);
    s.on_packet(C, &info(1, 1, ACK), b"abc", Mode::Ips, &mut out);
    assert!(out.is_empty());
    assert_eq!(out.events.overlaps, 1);
    assert_eq!(s.dir(C).stream_len(), 3);
}

#[test]
fn sequence_wraparound_near_u32_max() {
    let mut out = Inspect::new();
    let isn = u32::MAX - 3;
    let mut s = session(StreamConfig::default(), isn, 7, Mode::Ips, &mut out);
    // Bytes at seq MAX-2 .. MAX, 0, 1, 2: second half arrives first.
    s.on_packet(C, &info(0, 8, ACK), b"def", Mode::Ips, &mut out);
    assert!(out.is_empty());
    s.on_packet(C, &info(u32::MAX - 2, 8, ACK), b"abc", Mode::Ips, &mut out);
    assert_eq!(new_bytes(&out, C), b"abcdef");
    s.on_packet(C, &info(3, 8, ACK), b"g", Mode::Ips, &mut out);
    assert_eq!(new_bytes(&out, C), b"g");
}

#[test]
fn ids_inspects_only_after_ack() {
    let mut out = Inspect::new();
    let mut s = session(StreamConfig::default(), 100, 900, Mode::Ids, &mut out);
    s.on_packet(
        C,
        &info(101, 901, ACK | PSH),
        b"SSH-2.0-",
        Mode::Ids,
        &mut out,
    );
    assert!(out.is_empty(), "IDS must wait for the ACK");
    s.on_packet(
        C,
        &info(109, 901, ACK | PSH),
        b"evil\r\n",
        Mode::Ids,
        &mut out,
    );
    assert!(out.is_empty());
    assert_eq!(s.dir(C).buffered(), 14);
    // Server ACKs the first segment only.
    s.on_packet(S, &info(901, 109, ACK), b"", Mode::Ids, &mut out);
    assert_eq!(new_bytes(&out, C), b"SSH-2.0-");
    // Server data plus an ACK of the rest.
    s.on_packet(
        S,
        &info(901, 115, ACK | PSH),
        b"SSH-2.0-srv\r\n",
        Mode::Ids,
        &mut out,
    );
    let c = out.get(C).unwrap();
    assert_eq!(c.window, b"SSH-2.0-evil\r\n");
    assert_eq!(c.new_from, 8);
    assert!(out.get(S).is_none(), "server data not acked yet");
    s.on_packet(C, &info(115, 914, ACK), b"", Mode::Ids, &mut out);
    assert_eq!(new_bytes(&out, S), b"SSH-2.0-srv\r\n");
    assert_eq!(s.dir(C).buffered() + s.dir(S).buffered(), 0);
}

#[test]
fn ips_inspects_before_ack() {
    let mut out = Inspect::new();
    let mut s = session(StreamConfig::default(), 100, 900, Mode::Ips, &mut out);
    s.on_packet(
        C,
        &info(101, 901, ACK | PSH),
        b"SSH-2.0-",
        Mode::Ips,
        &mut out,
    );
    assert_eq!(new_bytes(&out, C), b"SSH-2.0-");
    // The ACK yields nothing new.
    s.on_packet(S, &info(901, 109, ACK), b"", Mode::Ips, &mut out);
    assert!(out.is_empty());
}

#[test]
fn ids_ack_beyond_seen_data_is_a_gap() {
    let mut out = Inspect::new();
    let mut s = session(StreamConfig::default(), 0, 0, Mode::Ids, &mut out);
    s.on_packet(C, &info(1, 1, ACK), b"abc", Mode::Ids, &mut out);
    // Lost: seq 4..7. Buffered: 7..9.
    s.on_packet(C, &info(7, 1, ACK), b"gh", Mode::Ids, &mut out);
    s.on_packet(S, &info(1, 9, ACK), b"", Mode::Ids, &mut out);
    assert_eq!(out.events.gaps, 1);
    assert!(s.dir(C).gap);
    assert_eq!(new_bytes(&out, C), b"abcgh");
    assert_eq!(s.dir(C).stream_len(), 8);
}

#[test]
fn too_much_out_of_order_data_becomes_a_gap() {
    let cfg = StreamConfig {
        max_buffered_per_dir: 8,
        ..StreamConfig::default()
    };
    let mut out = Inspect::new();
    let mut s = session(cfg, 0, 0, Mode::Ips, &mut out);
    s.on_packet(C, &info(3, 1, ACK), b"cd", Mode::Ips, &mut out);
    assert!(out.is_empty());
    // 20 bytes past the hole: cannot wait, skip the hole.
    s.on_packet(C, &info(5, 1, ACK), &[b'x'; 20], Mode::Ips, &mut out);
    assert_eq!(out.events.gaps, 1);
    let got = new_bytes(&out, C);
    assert_eq!(&got[..2], b"cd");
    assert_eq!(got.len(), 22);
}

#[test]
fn memcap_drops_out_of_order_segments() {
    let cfg = StreamConfig {
        memcap: 4,
        ..StreamConfig::default()
    };
    let ctx = StreamContext::new(cfg);
    let mut out = Inspect::new();
    let mut s = TcpSession::new(&ctx);
    s.on_packet(C, &info(0, 0, SYN), b"", Mode::Ips, &mut out);
    s.on_packet(C, &info(10, 0, ACK), b"123456", Mode::Ips, &mut out);
    assert_eq!(out.events.memcap_drops, 1);
    assert_eq!(ctx.mem.used(), 0);
    s.on_packet(C, &info(10, 0, ACK), b"12", Mode::Ips, &mut out);
    assert_eq!(ctx.mem.used(), 2);
    drop(s);
    assert_eq!(ctx.mem.used(), 0, "session gives memory back on drop");
}

#[test]
fn depth_stops_reassembly() {
    let cfg = StreamConfig {
        depth: 5,
        ..StreamConfig::default()
    };
    let mut out = Inspect::new();
    let mut s = session(cfg, 0, 0, Mode::Ips, &mut out);
    s.on_packet(C, &info(1, 1, ACK), b"abcdefgh", Mode::Ips, &mut out);
    assert_eq!(new_bytes(&out, C), b"abcde");
    assert!(s.dir(C).depth_reached);
    s.on_packet(C, &info(9, 1, ACK), b"ij", Mode::Ips, &mut out);
    assert!(out.is_empty());
}

#[test]
fn midstream_pickup_and_rst_flush_in_ids() {
    let ctx = StreamContext::default();
    let mut out = Inspect::new();
    let mut s = TcpSession::new(&ctx);
    s.on_packet(C, &info(5000, 77, ACK), b"abc", Mode::Ids, &mut out);
    assert!(out.events.midstream_pickup);
    assert!(s.midstream);
    assert!(out.is_empty());
    s.on_packet(C, &info(5003, 77, ACK), b"def", Mode::Ids, &mut out);
    assert!(!out.events.midstream_pickup, "counted once per session");
    s.on_packet(S, &info(77, 0, RST), b"", Mode::Ids, &mut out);
    assert_eq!(new_bytes(&out, C), b"abcdef");
    assert_eq!(s.state(), TcpState::Closed);
    assert_eq!(ctx.mem.used(), 0);
}

#[test]
fn fin_then_ack_of_fin_is_not_a_gap() {
    let mut out = Inspect::new();
    let mut s = session(StreamConfig::default(), 0, 0, Mode::Ids, &mut out);
    s.on_packet(C, &info(1, 1, ACK | FIN), b"bye", Mode::Ids, &mut out);
    s.on_packet(S, &info(1, 5, ACK | FIN), b"", Mode::Ids, &mut out);
    assert_eq!(out.events.gaps, 0);
    assert_eq!(new_bytes(&out, C), b"bye");
    assert_eq!(s.state(), TcpState::Closed);
}

#[test]
fn flush_returns_pending_data() {
    let mut out = Inspect::new();
    let mut s = session(StreamConfig::default(), 0, 0, Mode::Ids, &mut out);
    s.on_packet(S, &info(1, 1, ACK), b"banner", Mode::Ids, &mut out);
    assert!(out.is_empty());
    s.flush(&mut out);
    assert_eq!(new_bytes(&out, S), b"banner");
}

#[test]
fn gso_super_packet_in_ips_mode() {
    let mut out = Inspect::new();
    let mut s = session(StreamConfig::default(), 0, 0, Mode::Ips, &mut out);
    let mut big = vec![b'a'; 65_000];
    big.extend_from_slice(b"NEEDLE");
    s.on_packet(C, &info(1, 1, ACK), &big, Mode::Ips, &mut out);
    let c = out.get(C).unwrap();
    assert_eq!(c.new_bytes().len(), 65_006);
    assert!(c.window.ends_with(b"NEEDLE"));
    s.on_packet(C, &info(65_007, 1, ACK), b"x", Mode::Ips, &mut out);
    assert_eq!(out.get(C).unwrap().window.len(), 2049);
}

#[test]
fn random_segments_never_panic_and_memory_balances() {
    let ctx = StreamContext::new(StreamConfig {
        max_buffered_per_dir: 300,
        memcap: 2000,
        window: 16,
        depth: 0,
        ..StreamConfig::default()
    });
    let mut x: u64 = 0x1234_5678_9abc_def1;
    let mut rnd = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut out = Inspect::new();
    for round in 0..200 {
        let mut s = TcpSession::new(&ctx);
        let base = rnd() as u32;
        for _ in 0..200 {
            let dir = if rnd() & 1 == 0 { C } else { S };
            let seq = base.wrapping_add((rnd() % 2000) as u32);
            let ack = base.wrapping_add((rnd() % 2000) as u32);
            let flags = (rnd() as u8) & (ACK | SYN | FIN | RST | PSH);
            let len = (rnd() % 200) as usize;
            let data = vec![b'z'; len];
            let mode = if round % 2 == 0 { Mode::Ips } else { Mode::Ids };
            s.on_packet(dir, &info(seq, ack, flags), &data, mode, &mut out);
            for c in out.chunks() {
                assert!(c.new_from <= c.window.len());
            }
        }
        drop(s);
        assert_eq!(ctx.mem.used(), 0);
    }
}
