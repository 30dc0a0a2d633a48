//! Loads every ET Open rule file in the reference folder: must not panic,
//! must load rules, and prints the counts and the time taken. Also checks
//! the SSH rule subset and a few packets against the loaded set.

use std::path::{Path, PathBuf};
use std::time::Instant;

use meerkat_sensor::decode::{IcmpInfo, IpInfo, Packet, TcpInfo, UdpInfo, L4};
use meerkat_sensor::detect::{DetectInput, Engine, Matches, StreamChunk, Vars};
use meerkat_sensor::packet::{Direction, Mode};

const ETOPEN: &str = "/work/shared/reference/etopen";
const SSH_RULES: &str = "/work/shared/reference/etopen-ssh.rules";

fn rule_files() -> Option<Vec<PathBuf>> {
    let dir = Path::new(ETOPEN);
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "rules"))
        .collect();
    v.sort();
    Some(v)
}

#[test]
fn load_all_etopen_rules() {
    let Some(files) = rule_files() else {
        eprintln!("note: {ETOPEN} not present, skipping");
        return;
    };
    let t = Instant::now();
    let (engine, report) = Engine::load_files(&files, &Vars::default());
    let took = t.elapsed();
    println!(
        "ETopen: {} files, loaded {}, skipped {}, failed {} in {:?}",
        files.len(),
        report.loaded,
        report.skipped,
        report.failed,
        took
    );
    for e in report.errors.iter().take(20) {
        println!("  error: {e}");
    }
    assert!(report.loaded > 0);
    assert_eq!(engine.len(), report.loaded);
    assert_eq!(report.files.len(), files.len());

    // Run a few packets through the full set: no panic, sane results.
    let payload = b"GET / HTTP/1.1\r\nHost: example\r\nUser-Agent: curl\r\n\r\n";
    let pkt = Packet {
        ip: IpInfo {
            version: 4,
            src: "203.0.113.5".parse().unwrap(),
            dst: "192.168.1.1".parse().unwrap(),
            proto: 6,
            ttl: 64,
            tos: 0,
            id: 1,
            len: 40 + payload.len() as u32,
            flow_label: 0,
            fragment: false,
            header_len: 20,
        },
        l4: L4::Tcp(TcpInfo {
            src_port: 40000,
            dst_port: 80,
            flags: 0x18,
            ..Default::default()
        }),
        payload,
    };
    let chunk = [StreamChunk {
        dir: Direction::ToServer,
        window: payload,
        new_from: 0,
    }];
    let input = DetectInput {
        mode: Mode::Ids,
        pkt: &pkt,
        dir: Some(Direction::ToServer),
        established: true,
        stream: &chunk,
        ssh_client: None,
        ssh_server: None,
        app_is_ssh: false,
    };
    let mut m = Matches::new();
    let t = Instant::now();
    let n = 2000;
    for _ in 0..n {
        e_inspect(&engine, &input, &mut m);
    }
    println!(
        "inspect: {:?} per packet over {} rules",
        t.elapsed() / n,
        engine.len()
    );
}

fn e_inspect(engine: &Engine, input: &DetectInput, m: &mut Matches) {
    let mut fired = Vec::new();
    engine.inspect(input, &mut fired, m);
    for h in &m.hits {
        assert!(engine.get(h.rule).is_some());
    }
}

#[test]
fn etopen_ssh_rules() {
    if !Path::new(SSH_RULES).exists() {
        eprintln!("note: {SSH_RULES} not present, skipping");
        return;
    }
    let (engine, report) = Engine::load_files(&[PathBuf::from(SSH_RULES)], &Vars::default());
    println!(
        "etopen-ssh: loaded {}, skipped {}, failed {}",
        report.loaded, report.skipped, report.failed
    );
    for e in &report.errors {
        println!("  error: {e}");
    }
    assert!(report.errors.is_empty());
    assert!(report.loaded > 0);
    // sid 2101638 "GPL SCAN SSH Version map attempt": content on the
    // client's stream to port 22.
    let sid = 2101638;
    assert!((0..engine.len() as u32).any(|i| engine.rule(i).sid == sid));
    let data = b"SSH-2.0-xx\r\nversion_mapper";
    let pkt = Packet {
        ip: IpInfo {
            version: 4,
            src: "203.0.113.5".parse().unwrap(),
            dst: "192.168.1.1".parse().unwrap(),
            proto: 6,
            ttl: 64,
            tos: 0,
            id: 1,
            len: 40,
            flow_label: 0,
            fragment: false,
            header_len: 20,
        },
        l4: L4::Tcp(TcpInfo {
            src_port: 40000,
            dst_port: 22,
            flags: 0x18,
            ..Default::default()
        }),
        payload: data,
    };
    let chunk = [StreamChunk {
        dir: Direction::ToServer,
        window: data,
        new_from: 0,
    }];
    let input = DetectInput {
        mode: Mode::Ips,
        pkt: &pkt,
        dir: Some(Direction::ToServer),
        established: true,
        stream: &chunk,
        ssh_client: None,
        ssh_server: None,
        app_is_ssh: true,
    };
    let mut m = Matches::new();
    engine.inspect(&input, &mut Vec::new(), &mut m);
    let sids: Vec<u32> = m.hits.iter().map(|h| engine.rule(h.rule).sid).collect();
    assert!(sids.contains(&sid), "{sids:?}");
    let meta = engine.rule(m.hits[0].rule);
    assert_eq!(meta.category, "Detection of a Network Scan");
    assert_eq!(meta.metadata["created_at"], vec!["2010_09_23"]);
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

/// Times `inspect` on a mix of typical packets against all ET Open rules.
/// Prints µs per packet (meaningful with `--release`); asserts nothing
/// about speed.
#[test]
fn inspect_speed_on_packet_mix() {
    let Some(files) = rule_files() else {
        eprintln!("note: {ETOPEN} not present, skipping");
        return;
    };
    let (engine, report) = Engine::load_files(&files, &Vars::default());
    let mix = packet_mix();
    let pkts: Vec<Packet> = mix
        .iter()
        .map(|m| Packet {
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
        })
        .collect();
    let mut m = Matches::new();
    let mut fired = Vec::new();
    let mut hits = 0usize;
    let rounds = 3000u32;
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
