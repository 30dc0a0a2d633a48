//! End-to-end tests of the sensor binary without live capture: rules
//! checking with `-T` (garbage in, clear file:line errors out) and reading
//! a pcap of a real SSH session recorded in the test topology.
//!
//! `garbage_rules_file` runs everywhere; `pcap_offline` needs root.

mod common;

use std::fs;
use std::process::Command;
use std::thread::sleep;
use std::time::Duration;

use common::*;

fn sensor(args: &[&str]) -> std::process::Output {
    Command::new(sensor_bin())
        .args(args)
        .output()
        .expect("run meerkat-sensor")
}

/// Deterministic bytes from a xorshift generator: mostly invalid UTF-8,
/// with some newlines so the loader sees many "lines".
fn random_bytes(n: usize) -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

#[test]
fn garbage_rules_file() {
    let dir = WorkDir::new("garbage");

    // Text garbage between valid rules: the bad lines are named.
    let garbage = dir.join("garbage.rules");
    fs::write(
        &garbage,
        "alert tcp any any -> any 22 (msg:\"fine\"; sid:1;)\n\
         this is not a rule at all\n\
         alert tcp any any -> (msg:\"broken header\"; sid:2;)\n\
         alert tcp any any -> any any (msg:\"unterminated\"; content:\"abc; sid:3;)\n",
    )
    .expect("write garbage.rules");
    let g = garbage.to_string_lossy();
    let out = sensor(&["-T", "-S", &g]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "-T must fail on garbage: {}",
        show(&out)
    );
    for line in [2, 3, 4] {
        assert!(
            stderr.contains(&format!("{g}:{line}")),
            "stderr should name {g}:{line}: {stderr}"
        );
    }
    assert!(
        !stderr.contains(&format!("{g}:1:")),
        "line 1 is a valid rule and must not be reported: {stderr}"
    );

    // Unsupported rules: skipped (the run still passes) and summed up one
    // line per keyword.
    let skipped = dir.join("skipped.rules");
    fs::write(
        &skipped,
        "alert tcp any any -> any 22 (msg:\"fine\"; sid:1;)\n\
         alert smtp any any -> any any (msg:\"smtp a\"; sid:2;)\n\
         alert smtp any any -> any any (msg:\"smtp b\"; sid:3;)\n\
         alert tcp any any -> any any (msg:\"asn1\"; asn1:oversize_length 10; sid:4;)\n",
    )
    .expect("write skipped.rules");
    let out = sensor(&["-T", "-S", &skipped.to_string_lossy()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "-T with skipped rules: {}",
        show(&out)
    );
    assert!(
        stdout.contains("skipped: 2 rule(s): protocol smtp")
            && stdout.contains("skipped: 1 rule(s): asn1")
            && stdout.contains("1 loaded, 3 skipped"),
        "per-keyword summary expected: {stdout}"
    );

    // Random binary bytes: a clean error naming the file, no panic.
    let binary = dir.join("binary.rules");
    fs::write(&binary, random_bytes(4096)).expect("write binary.rules");
    let b = binary.to_string_lossy();
    let out = sensor(&["-T", "-S", &b]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "-T on binary garbage must exit 1 (not crash): {}",
        show(&out)
    );
    assert!(
        stderr.contains(&format!("{b}:")),
        "stderr should name {b}: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");

    // Without -T the sensor refuses to start on a file with no valid rule.
    let logs = dir.join("logs");
    fs::create_dir_all(&logs).expect("mkdir logs");
    let out = sensor(&["-r", "/dev/null", "-S", &b, "-l", &logs.to_string_lossy()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "start-up must fail: {}", show(&out));
    assert!(
        stderr.contains(b.as_ref()),
        "stderr should name {b}: {stderr}"
    );

    // A missing rules file is named too.
    let missing = dir.join("missing.rules");
    let m = missing.to_string_lossy();
    let out = sensor(&["-T", "-S", &m]);
    assert!(
        !out.status.success(),
        "-T on a missing file: {}",
        show(&out)
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(m.as_ref()),
        "stderr should name {m}: {}",
        show(&out)
    );

    // The shipped example rules check clean.
    let good = fake_agent_rules();
    let out = sensor(&["-T", "-S", &good.to_string_lossy()]);
    assert!(
        out.status.success(),
        "-T on {}: {}",
        good.display(),
        show(&out)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("4 loaded"),
        "{}",
        show(&out)
    );
}

#[test]
fn pcap_offline() {
    if !require_programs("pcap_offline", &["tcpdump"])
        || !require_programs("pcap_offline", SSH_TOOLS)
    {
        return;
    }
    let Some(topo) = Topology::new("pcap") else {
        return;
    };
    let dir = WorkDir::new("pcap");
    let sshd = Sshd::start(&topo, &topo.server, SERVER_IP, &dir.path);

    // Record the server-side link of the gateway (Ethernet frames).
    let pcap = dir.join("ssh.pcap");
    let tcpdump_log = dir.join("tcpdump.log");
    let pid = topo.spawn(
        &topo.gateway,
        &[
            "tcpdump",
            "-i",
            "eth-srv",
            "-U",
            "--immediate-mode",
            "-n",
            "-Z",
            "root",
            "-w",
            &pcap.to_string_lossy(),
            "tcp",
            "port",
            "22",
        ],
        &tcpdump_log,
    );
    let ready = wait_until(Duration::from_secs(10), || {
        fs::read_to_string(&tcpdump_log).is_ok_and(|s| s.contains("listening on"))
    });
    assert!(
        ready,
        "tcpdump did not start: {}",
        fs::read_to_string(&tcpdump_log).unwrap_or_default()
    );

    let out = sshd.ssh(&topo, &topo.client, SERVER_IP, "echo pcap-ok");
    assert!(out.status.success(), "ssh failed: {}", show(&out));
    sleep(Duration::from_millis(300));
    topo.terminate(pid);
    assert!(
        topo.wait_child(pid, Duration::from_secs(5)).is_some(),
        "tcpdump did not stop"
    );

    let logs = dir.join("logs");
    fs::create_dir_all(&logs).expect("mkdir logs");
    let rules = fake_agent_rules();
    let out = sensor(&[
        "-r",
        &pcap.to_string_lossy(),
        "-S",
        &rules.to_string_lossy(),
        "-l",
        &logs.to_string_lossy(),
    ]);
    assert!(
        out.status.success(),
        "meerkat-sensor -r failed: {}",
        show(&out)
    );
    let eve = logs.join("eve.json");
    let events = read_eve(&eve);
    let ssh = events
        .iter()
        .find(|v| v["event_type"] == "ssh")
        .unwrap_or_else(|| panic!("no ssh event from the pcap:\n{}", eve_summary(&eve)));
    assert_eq!(ssh["src_ip"], CLIENT_IP, "{ssh}");
    assert_eq!(ssh["dest_ip"], SERVER_IP, "{ssh}");
    let client = ssh["ssh"]["client"]["software_version"]
        .as_str()
        .unwrap_or_default();
    assert!(client.starts_with("OpenSSH_"), "{ssh}");
    let server = ssh["ssh"]["server"]["software_version"]
        .as_str()
        .unwrap_or_default();
    assert!(server.starts_with(&sshd_version_prefix()), "{ssh}");
    assert!(
        events.iter().all(|v| v["event_type"] != "alert"),
        "an OpenSSH session must not trigger the fake-agent rules:\n{}",
        eve_summary(&eve)
    );
    assert_eve_valid(&eve);
}

fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + timeout;
    while std::time::Instant::now() < deadline {
        if cond() {
            return true;
        }
        sleep(Duration::from_millis(50));
    }
    false
}
