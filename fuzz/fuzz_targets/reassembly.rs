//! TCP reassembly against a reference model.
//!
//! Model mode (first byte even): one client stream of known bytes is cut
//! into segments at fuzzer-chosen offsets and lengths, sent in any order
//! with duplicates and overlaps (retransmissions carry the same bytes),
//! after a SYN with a fuzzer-chosen ISN (so sequence numbers wrap). In IDS
//! mode the server ACKs at most what the model says is contiguous. After a
//! flush, the bytes handed to inspection must be exactly the contiguous
//! prefix the model computes: nothing lost, duplicated, reordered or
//! invented.
//!
//! Chaos mode (first byte odd): packets of both directions with arbitrary
//! seq/ack/flags/payloads. Invariants in both modes: no panic; each chunk's
//! window starts with the bytes already inspected in that direction (the
//! sliding window is consistent) and holds new bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use meerkat_sensor::decode::{tcp_flags, TcpInfo};
use meerkat_sensor::packet::{Direction, Mode};
use meerkat_sensor::stream::{Inspect, StreamConfig, StreamContext, TcpSession};

/// Bytes handed to inspection per direction, checked chunk by chunk.
#[derive(Default)]
struct Seen {
    got: [Vec<u8>; 2],
}

impl Seen {
    fn take(&mut self, out: &Inspect, window: usize) {
        for c in out.chunks() {
            let i = match c.dir {
                Direction::ToServer => 0,
                Direction::ToClient => 1,
            };
            assert!(c.new_from <= c.window.len(), "new_from past the window");
            let new = c.new_bytes();
            assert!(!new.is_empty(), "a chunk without new bytes");
            let got = &mut self.got[i];
            assert!(c.new_from <= window, "history longer than the window");
            assert!(
                c.new_from <= got.len(),
                "history longer than what was inspected"
            );
            assert_eq!(
                &c.window[..c.new_from],
                &got[got.len() - c.new_from..],
                "window history is not the last inspected bytes"
            );
            got.extend_from_slice(new);
        }
    }
}

fn tcp(seq: u32, ack: u32, flags: u8) -> TcpInfo {
    TcpInfo {
        src_port: 40000,
        dst_port: 22,
        seq,
        ack,
        flags,
        window: 65535,
        ..Default::default()
    }
}

fn u32_at(d: &[u8], i: usize) -> u32 {
    let mut b = [0u8; 4];
    for (k, x) in b.iter_mut().enumerate() {
        *x = d.get(i + k).copied().unwrap_or(0);
    }
    u32::from_be_bytes(b)
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 8 {
        return;
    }
    let ctl = data[0];
    let mode = if ctl & 2 == 0 { Mode::Ips } else { Mode::Ids };
    let window = usize::from(data[1]) * 8;
    let cfg = StreamConfig {
        window,
        max_buffered_per_dir: 1 << 20,
        memcap: 1 << 24,
        depth: 0,
        ..StreamConfig::default()
    };
    let ctx = StreamContext::new(cfg);
    let mut s = TcpSession::new(&ctx);
    let mut out = Inspect::new();
    let mut seen = Seen::default();
    let isn = u32_at(data, 2);
    let rest = &data[6..];

    if ctl & 1 == 1 {
        // Chaos: [dir|flags][seq:4][ack:4][len] payload...
        let mut r = rest;
        while r.len() >= 10 {
            let dir = if r[0] & 0x80 == 0 {
                Direction::ToServer
            } else {
                Direction::ToClient
            };
            let flags = r[0] & 0x3f | if r[0] & 0x40 != 0 { tcp_flags::ACK } else { 0 };
            let seq = isn.wrapping_add(u32_at(r, 1));
            let ack = isn.wrapping_add(u32_at(r, 5));
            let n = usize::from(r[9]).min(r.len() - 10);
            let payload = &r[10..10 + n];
            s.on_packet(dir, &tcp(seq, ack, flags), payload, mode, &mut out);
            seen.take(&out, window);
            r = &r[10 + n..];
        }
        s.flush(&mut out);
        seen.take(&out, window);
        return;
    }

    // Model: stream length and content, then segment descriptors.
    let len = (usize::from(u16::from_be_bytes([rest[0], rest[1]])) % 3000) + 1;
    let stream: Vec<u8> = (0..len)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_be_bytes()[1] ^ ctl)
        .collect();
    let mut covered = vec![false; len];
    let mut prefix = 0usize;
    let (mut gaps, mut drops) = (0u32, 0u32);
    s.on_packet(
        Direction::ToServer,
        &tcp(isn, 0, tcp_flags::SYN),
        &[],
        mode,
        &mut out,
    );
    seen.take(&out, window);
    for d in rest[2..].chunks_exact(4) {
        let off = usize::from(u16::from_be_bytes([d[0], d[1]])) % len;
        let n = (usize::from(d[2]) * 4 + 1).min(len - off);
        let seq = isn.wrapping_add(1).wrapping_add(off as u32);
        s.on_packet(
            Direction::ToServer,
            &tcp(seq, 0, tcp_flags::ACK | tcp_flags::PSH),
            &stream[off..off + n],
            mode,
            &mut out,
        );
        gaps += out.events.gaps;
        drops += out.events.memcap_drops;
        seen.take(&out, window);
        covered[off..off + n].iter_mut().for_each(|c| *c = true);
        while prefix < len && covered[prefix] {
            prefix += 1;
        }
        if mode == Mode::Ids && d[3] & 1 == 1 {
            // The server ACKs some of what it has in order.
            let upto = prefix * usize::from(d[3] >> 1) / 127;
            let ack = isn.wrapping_add(1).wrapping_add(upto as u32);
            s.on_packet(
                Direction::ToClient,
                &tcp(0x5eed, ack, tcp_flags::ACK),
                &[],
                mode,
                &mut out,
            );
            gaps += out.events.gaps;
            drops += out.events.memcap_drops;
            seen.take(&out, window);
        }
    }
    s.flush(&mut out);
    seen.take(&out, window);
    assert_eq!(
        gaps, 0,
        "a gap reported with no data missing before the ACK"
    );
    assert_eq!(drops, 0, "memcap drop far below the limits");
    assert!(seen.got[1].is_empty(), "data invented for the server side");
    assert_eq!(
        seen.got[0].len(),
        prefix,
        "inspected {} bytes, the contiguous prefix is {prefix}",
        seen.got[0].len()
    );
    assert!(
        seen.got[0] == stream[..prefix],
        "inspected bytes differ from the stream"
    );
});
