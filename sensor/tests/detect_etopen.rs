//! Loads every ET Open rule file in the reference folder: must not panic,
//! must load rules, and prints the counts and the time taken. Also checks
//! the SSH rule subset and a few packets against the loaded set.

use std::path::{Path, PathBuf};
use std::time::Instant;

use meerkat_sensor::decode::{IpInfo, Packet, TcpInfo, L4};
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
