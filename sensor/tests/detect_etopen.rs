//! Loads every ET Open rule file of `../shared/reference/etopen` (found
//! through the repository, never a machine path): must not panic, must
//! load at least the SSH/IP/TCP share of the set, and runs a packet
//! through all of it. Also checks the SSH rule subset. The files missing
//! is a failure under CI (see `prereq`). The timing of `inspect` over
//! all of ET Open is a benchmark: `cargo bench -p meerkat-sensor --bench
//! inspect_mix`.

use meerkat_sensor::decode::{IpInfo, Packet, TcpInfo, L4};
use meerkat_sensor::detect::{DetectInput, Engine, Matches, StreamChunk, Vars};
use meerkat_sensor::packet::{Direction, Mode};

mod prereq;

/// ET Open has ~24,800 rules; those without app-layer keywords other than
/// SSH (about 2,900) load. A floor well under that catches a loader that
/// silently loads nothing (or a truncated reference folder).
const MIN_LOADED: usize = 1_500;

#[test]
fn load_all_etopen_rules() {
    let Some(files) = prereq::etopen_files("load_all_etopen_rules") else {
        return;
    };
    let (engine, report) = Engine::load_files(&files, &Vars::default());
    println!(
        "ETopen: {} files, loaded {}, skipped {}, failed {}",
        files.len(),
        report.loaded,
        report.skipped,
        report.failed
    );
    for e in report.errors.iter().take(20) {
        println!("  error: {e}");
    }
    assert!(
        report.loaded >= MIN_LOADED,
        "only {} ET Open rules loaded (expected at least {MIN_LOADED}); errors: {:?}",
        report.loaded,
        report.errors.iter().take(5).collect::<Vec<_>>()
    );
    assert!(
        report.loaded + report.skipped + report.failed > 20_000,
        "ET Open holds ~24,800 rules; only {} seen",
        report.loaded + report.skipped + report.failed
    );
    assert_eq!(engine.len(), report.loaded);
    assert_eq!(report.files.len(), files.len());

    // Run a few packets through the full set: no panic, sane results.
    let payload = b"GET / HTTP/1.1\r\nHost: example\r\nUser-Agent: curl\r\n\r\n";
    let pkt = Packet {
        ext: Default::default(),
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
        pseudo: false,
        http: None,
        tls: None,
        dns: None,
        ts: meerkat_sensor::packet::Timestamp { secs: 0, micros: 0 },
        stream_size: None,
    };
    let mut m = Matches::new();
    for _ in 0..3 {
        e_inspect(&engine, &input, &mut m);
    }
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
    let Some(ssh_rules) = prereq::require_shared("etopen_ssh_rules", "reference/etopen-ssh.rules")
    else {
        return;
    };
    let (engine, report) = Engine::load_files(&[ssh_rules], &Vars::default());
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
        ext: Default::default(),
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
        pseudo: false,
        http: None,
        tls: None,
        dns: None,
        ts: meerkat_sensor::packet::Timestamp { secs: 0, micros: 0 },
        stream_size: None,
    };
    let mut m = Matches::new();
    engine.inspect(&input, &mut Vec::new(), &mut m);
    let sids: Vec<u32> = m.hits.iter().map(|h| engine.rule(h.rule).sid).collect();
    assert!(sids.contains(&sid), "{sids:?}");
    let meta = engine.rule(m.hits[0].rule);
    assert_eq!(meta.category, "Detection of a Network Scan");
    assert_eq!(
        meta.metadata.get("created_at").collect::<Vec<_>>(),
        vec!["2010_09_23"]
    );
}
