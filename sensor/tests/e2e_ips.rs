//! End-to-end tests of the inline (IPS) machinery on real traffic: reject
//! resets a connection on both paths, and a shutdown under load gives
//! every queued packet its verdict while `--queue-bypass` keeps traffic
//! flowing after the sensor is gone.
//!
//! Root only: a failure under CI (`CI` or `MEERKAT_REQUIRE_ALL=1`), a loud
//! skip elsewhere (see `prereq`).

mod common;

use std::fs;
use std::process::Stdio;
use std::thread::sleep;
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

const REJECT_PORT: &str = "8080";
const MARKER: &str = "MEERKAT-E2E-REJECT-ME";

/// Accepts TCP connections on HOST:PORT and holds them open without ever
/// answering, so that the only thing a client can receive is a reset.
const SILENT_SERVER: &str = r#"
import socket, sys
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind((sys.argv[1], int(sys.argv[2])))
srv.listen(16)
held = []
while True:
    c, _ = srv.accept()
    held.append(c)
"#;

/// Connects, sends a harmless line, then the marker, and waits for the
/// connection to be reset. Prints RESET (exit 0), EOF (exit 2) or TIMEOUT
/// (exit 3).
const RESET_CLIENT: &str = r#"
import socket, sys, time
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
try:
    s.sendall(b"hello\n")
    time.sleep(0.2)
    s.sendall(sys.argv[3].encode() + b"\n")
    while True:
        d = s.recv(4096)
        if not d:
            print("EOF")
            sys.exit(2)
except ConnectionResetError:
    print("RESET")
    sys.exit(0)
except socket.timeout:
    print("TIMEOUT")
    sys.exit(3)
"#;

#[test]
fn reject_sends_reset() {
    if !require_programs("reject_sends_reset", &[PYTHON]) {
        return;
    }
    let Some(topo) = Topology::new("reject") else {
        return;
    };
    let dir = WorkDir::new("reject");
    topo.mixed_mode_firewall();
    topo.spawn(
        &topo.server,
        &[PYTHON, "-c", SILENT_SERVER, SERVER_IP, REJECT_PORT],
        &dir.join("server.log"),
    );
    assert!(
        topo.wait_listen(&topo.server, 8080, Duration::from_secs(10)),
        "the test server does not listen on {SERVER_IP}:{REJECT_PORT}"
    );
    let rules = dir.join("reject.rules");
    fs::write(
        &rules,
        format!(
            "reject tcp any any -> any {REJECT_PORT} (msg:\"MEERKAT e2e reject marker\"; \
             flow:established,to_server; content:\"{MARKER}\"; sid:1000101; rev:1;)\n"
        ),
    )
    .expect("write rules");
    let rules = rules.to_string_lossy();
    let mut sensor = Sensor::start(
        &topo.gateway,
        &["-q", "0", "--nflog", "10", "-S", &rules],
        &dir.path,
    );

    for (ns, iface, ip) in [
        (topo.attacker.as_str(), IPS_IFACE, ATTACKER_IP),
        (topo.client.as_str(), IDS_IFACE, CLIENT_IP),
    ] {
        let out = python(
            &topo,
            ns,
            15,
            RESET_CLIENT,
            &[SERVER_IP, REJECT_PORT, MARKER],
        );
        assert!(
            out.status.success() && String::from_utf8_lossy(&out.stdout).contains("RESET"),
            "the client on the {iface} path should see a reset: {}\nevents:\n{}\nsensor log:\n{}",
            show(&out),
            eve_summary(&sensor.eve),
            sensor.log_text()
        );
        let alert = wait_for_eve(
            &sensor.eve,
            |v| is_event(v, "alert", iface) && v["alert"]["signature_id"] == 1000101,
            EVE_TIMEOUT,
        )
        .unwrap_or_else(|| {
            panic!(
                "no reject alert on {iface}; events:\n{}",
                eve_summary(&sensor.eve)
            )
        });
        assert_eq!(alert["src_ip"], ip, "{alert}");
    }
    sensor.stop();
    let stats = last_stats(&sensor.eve);
    let sent = stats["stats"]["capture"]["reject"]["sent"]
        .as_u64()
        .unwrap_or(0);
    assert!(
        sent >= 2,
        "at least one reset per path should be counted: {}",
        stats["stats"]["capture"]
    );
}

#[test]
fn shutdown_under_traffic() {
    if !require_programs("shutdown_under_traffic", &["iperf3"]) {
        return;
    }
    let Some(topo) = Topology::new("shutdown") else {
        return;
    };
    let dir = WorkDir::new("shutdown");
    topo.mixed_mode_firewall();
    topo.spawn(
        &topo.server,
        &["iperf3", "-s", "-1", "-B", SERVER_IP, "-p", "5201"],
        &dir.join("iperf3-server.log"),
    );
    assert!(
        topo.wait_listen(&topo.server, 5201, Duration::from_secs(10)),
        "iperf3 server does not listen"
    );
    let mut sensor = Sensor::start(&topo.gateway, &["-q", "0", "--nflog", "10"], &dir.path);

    // 4 s of bulk TCP from the attacker: every packet crosses NFQUEUE.
    let client = topo
        .command(
            &topo.attacker,
            &[
                "timeout", "40", "iperf3", "-c", SERVER_IP, "-p", "5201", "-t", "4", "-i", "0.5",
                "-J",
            ],
        )
        .stdin(Stdio::null())
        .spawn()
        .expect("start iperf3 client");
    let started = Instant::now();
    sleep(Duration::from_millis(1500));
    let status = sensor.stop_within(Duration::from_secs(10));
    let stopped_at = started.elapsed().as_secs_f64();
    let out = client.wait_with_output().expect("wait for iperf3");
    assert!(
        status.is_some_and(|s| s.success()),
        "the sensor should exit 0 on SIGTERM under load ({status:?}):\n{}",
        sensor.log_text()
    );

    let stats = last_stats(&sensor.eve);
    let nfq = &stats["stats"]["capture"][IPS_IFACE];
    let n = |k: &str| nfq[k].as_u64().unwrap_or(u64::MAX);
    assert!(
        n("packets") > 100,
        "too little traffic went through NFQUEUE: {nfq}"
    );
    assert_eq!(
        n("packets"),
        n("accepted") + n("dropped"),
        "every queued packet must get a verdict: {nfq}"
    );

    assert!(
        out.status.success(),
        "iperf3 must complete (--queue-bypass after shutdown): {}",
        show(&out)
    );
    let report: Value = serde_json::from_slice(&out.stdout).expect("iperf3 -J output");
    let received = report["end"]["sum_received"]["bytes"].as_u64().unwrap_or(0);
    assert!(received > 0, "iperf3 received nothing: {}", report["end"]);
    // Traffic kept flowing after the sensor stopped: the intervals that
    // start after the shutdown (plus one second of slack) carry data.
    let intervals = report["intervals"].as_array().cloned().unwrap_or_default();
    let after: Vec<u64> = intervals
        .iter()
        .filter(|i| i["sum"]["start"].as_f64().unwrap_or(0.0) >= stopped_at + 1.0)
        .map(|i| i["sum"]["bytes"].as_u64().unwrap_or(0))
        .collect();
    assert!(
        !after.is_empty() && after.iter().all(|&b| b > 0),
        "the transfer stalled after the sensor stopped at {stopped_at:.1}s: {after:?}"
    );
}
