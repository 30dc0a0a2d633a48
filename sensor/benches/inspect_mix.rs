//! Benchmark (not a test: it only prints): `inspect` over all of ET Open
//! (`../shared/reference/etopen` beside the repository) on a mix of typical
//! packets, µs per packet overall and per packet kind.
//!
//! `cargo bench -p meerkat-sensor --bench inspect_mix`
//!
//! It also counts heap allocations in the steady state (after one warm-up
//! pass over the mix, which compiles the pcre programs first used and
//! grows the scratch buffers): detection should make none per packet.

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use meerkat_sensor::decode::{IcmpInfo, IpInfo, Packet, TcpInfo, UdpInfo, L4};
use meerkat_sensor::detect::{DetectInput, Engine, Matches, StreamChunk, Vars};
use meerkat_sensor::packet::{Direction, Mode};

/// The system allocator, counting allocations (benchmark only).
struct Counting;

static ALLOCS: AtomicU64 = AtomicU64::new(0);

// SAFETY: every call is passed unchanged to `System`, which upholds the
// `GlobalAlloc` contract; the counter is a relaxed atomic add.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as this function.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as this function.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as this function.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn etopen_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/reference/etopen")
}

fn rule_files() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(etopen_dir())
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "rules"))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// One packet of the timing mix.
struct MixPacket {
    proto: u8,
    src: &'static str,
    dst: &'static str,
    sp: u16,
    dp: u16,
    flags: u8,
    payload: Vec<u8>,
    /// Inspected as reassembled stream data of an established flow.
    stream: bool,
    ssh: bool,
}

fn packet_mix() -> Vec<MixPacket> {
    let tcp = |dp: u16, flags: u8, payload: &[u8], stream: bool| MixPacket {
        proto: 6,
        src: "203.0.113.5",
        dst: "192.168.1.10",
        sp: 41000,
        dp,
        flags,
        payload: payload.to_vec(),
        stream,
        ssh: dp == 22,
    };
    let mut tls = vec![
        0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03,
    ];
    tls.extend((0..500u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8));
    let mut dns = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    dns.extend(b"\x03www\x07example\x03com\x00\x00\x01\x00\x01");
    let bulk: Vec<u8> = (0..1400u32)
        .map(|i| (i.wrapping_mul(2246822519) >> 11) as u8)
        .collect();
    let text: Vec<u8> = b"Lorem ipsum dolor sit amet, consectetur adipiscing elit. "
        .iter()
        .copied()
        .cycle()
        .take(1200)
        .collect();
    vec![
        tcp(80, 0x02, b"", false),
        tcp(80, 0x10, b"", true),
        tcp(
            80,
            0x18,
            b"GET /index.html HTTP/1.1\r\nHost: www.example.com\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64)\r\nAccept: */*\r\n\r\n",
            true,
        ),
        tcp(443, 0x18, &tls, true),
        tcp(443, 0x10, &bulk, true),
        tcp(8080, 0x18, &text, true),
        tcp(22, 0x18, b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n", true),
        tcp(22, 0x18, &bulk[..300], true),
        MixPacket {
            proto: 17,
            src: "192.168.1.10",
            dst: "198.51.100.53",
            sp: 53000,
            dp: 53,
            flags: 0,
            payload: dns,
            stream: false,
            ssh: false,
        },
        MixPacket {
            proto: 17,
            src: "192.168.1.10",
            dst: "198.51.100.9",
            sp: 40000,
            dp: 443,
            flags: 0,
            payload: bulk[..1200].to_vec(),
            stream: false,
            ssh: false,
        },
        MixPacket {
            proto: 1,
            src: "198.51.100.9",
            dst: "192.168.1.10",
            sp: 0,
            dp: 0,
            flags: 0,
            payload: b"abcdefghijklmnopqrstuvwabcdefghi".to_vec(),
            stream: false,
            ssh: false,
        },
    ]
}

/// Times `inspect` on a mix of typical packets against all ET Open rules
/// and prints µs per packet.
fn main() {
    let files = rule_files();
    if files.is_empty() {
        eprintln!(
            "inspect_mix: no ET Open rules under {} (../shared beside the repository)",
            etopen_dir().display()
        );
        std::process::exit(2);
    }
    let (engine, report) = Engine::load_files(&files, &Vars::default());
    let mix = packet_mix();
    let pkts: Vec<Packet> = mix
        .iter()
        .map(|m| Packet {
            ext: Default::default(),
            ip: IpInfo {
                version: 4,
                src: m.src.parse().unwrap(),
                dst: m.dst.parse().unwrap(),
                proto: m.proto,
                ttl: 64,
                tos: 0,
                id: 1,
                len: 40 + m.payload.len() as u32,
                flow_label: 0,
                fragment: false,
                header_len: 20,
            },
            l4: match m.proto {
                6 => L4::Tcp(TcpInfo {
                    src_port: m.sp,
                    dst_port: m.dp,
                    flags: m.flags,
                    ..Default::default()
                }),
                17 => L4::Udp(UdpInfo {
                    src_port: m.sp,
                    dst_port: m.dp,
                    len: 8 + m.payload.len() as u16,
                }),
                _ => L4::Icmp(IcmpInfo {
                    itype: 8,
                    ..Default::default()
                }),
            },
            payload: &m.payload,
        })
        .collect();
    let chunks: Vec<[StreamChunk; 1]> = mix
        .iter()
        .map(|m| {
            [StreamChunk {
                dir: Direction::ToServer,
                window: &m.payload,
                new_from: 0,
            }]
        })
        .collect();
    let inputs: Vec<DetectInput> = mix
        .iter()
        .zip(&pkts)
        .zip(&chunks)
        .map(|((m, p), c)| DetectInput {
            mode: Mode::Ips,
            pkt: p,
            dir: (m.proto == 6).then_some(Direction::ToServer),
            established: m.proto == 6 && m.flags != 0x02,
            stream: if m.stream && !m.payload.is_empty() {
                c
            } else {
                &[]
            },
            ssh_client: None,
            ssh_server: None,
            app_is_ssh: m.ssh,
            pseudo: false,
            http: None,
            tls: None,
            dns: None,
            ts: meerkat_sensor::packet::Timestamp { secs: 0, micros: 0 },
            stream_size: None,
        })
        .collect();
    let mut m = Matches::new();
    let mut fired = Vec::new();
    let mut hits = 0usize;
    let rounds = 3000u32;
    // Warm-up, then the allocations of one more pass.
    for inp in &inputs {
        fired.clear();
        engine.inspect(inp, &mut fired, &mut m);
    }
    let a0 = ALLOCS.load(Ordering::Relaxed);
    for inp in &inputs {
        fired.clear();
        engine.inspect(inp, &mut fired, &mut m);
    }
    let steady = ALLOCS.load(Ordering::Relaxed) - a0;
    println!(
        "inspect mix: {steady} heap allocations in a steady-state pass over {} packets ({:.2} per packet)",
        inputs.len(),
        steady as f64 / inputs.len() as f64
    );
    let t = Instant::now();
    for _ in 0..rounds {
        for inp in &inputs {
            fired.clear();
            engine.inspect(inp, &mut fired, &mut m);
            hits += m.hits.len();
        }
    }
    let n = rounds as usize * inputs.len();
    let per = t.elapsed().as_secs_f64() * 1e6 / n as f64;
    println!(
        "inspect mix: {per:.2} µs/packet over {} packet kinds, {} rules loaded ({} hits)",
        inputs.len(),
        report.loaded,
        hits
    );
    for (inp, mp) in inputs.iter().zip(&mix) {
        let t = Instant::now();
        for _ in 0..rounds {
            fired.clear();
            engine.inspect(inp, &mut fired, &mut m);
        }
        println!(
            "  proto {} dport {:5} {:5} bytes: {:.2} µs",
            mp.proto,
            mp.dp,
            mp.payload.len(),
            t.elapsed().as_secs_f64() * 1e6 / rounds as f64
        );
    }
}
