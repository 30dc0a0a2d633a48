//! End-to-end SSH tests: real traffic through a gateway namespace whose
//! firewall sends the attacker's packets to NFQUEUE (IPS) and everything
//! else to NFLOG (IDS), one meerkat-sensor process handling both, a real
//! OpenSSH server and client, and paramiko as a fake agent.
//!
//! Root only: a failure under CI (`CI` or `MEERKAT_REQUIRE_ALL=1`), a loud
//! skip elsewhere (see `prereq`).

mod common;

use std::process::Stdio;

use common::*;
use serde_json::Value;

/// The ssh event of `iface` whose client software is `client_sw` (prefix).
fn find_ssh(eve: &std::path::Path, iface: &str, client_sw: &str) -> Option<Value> {
    let client_sw = client_sw.to_string();
    let iface = iface.to_string();
    wait_for_eve(
        eve,
        move |v| {
            is_event(v, "ssh", &iface)
                && v["ssh"]["client"]["software_version"]
                    .as_str()
                    .is_some_and(|s| s.starts_with(&client_sw))
        },
        EVE_TIMEOUT,
    )
}

#[test]
fn mixed_mode_ssh_events() {
    if !require_programs("mixed_mode_ssh_events", SSH_TOOLS) {
        return;
    }
    let Some(topo) = Topology::new("mixed") else {
        return;
    };
    let dir = WorkDir::new("mixed");
    topo.mixed_mode_firewall();
    let sshd = Sshd::start(&topo, &topo.server, SERVER_IP, &dir.path);
    let mut sensor = Sensor::start(&topo.gateway, &["-q", "0", "--nflog", "10"], &dir.path);

    let ids = sshd.ssh(&topo, &topo.client, SERVER_IP, "echo ids-ok");
    let ips = sshd.ssh(&topo, &topo.attacker, SERVER_IP, "echo ips-ok");
    assert!(
        ids.status.success() && String::from_utf8_lossy(&ids.stdout).contains("ids-ok"),
        "ssh from the client (IDS path) failed: {}",
        show(&ids)
    );

    let server_prefix = sshd_version_prefix();
    let check = |iface: &str, client_ip: &str| {
        let ev = find_ssh(&sensor.eve, iface, "OpenSSH_").unwrap_or_else(|| {
            panic!(
                "no ssh event on {iface} within 10 s; events:\n{}\nsensor log:\n{}",
                eve_summary(&sensor.eve),
                sensor.log_text()
            )
        });
        assert_eq!(ev["src_ip"], client_ip, "{ev}");
        assert_eq!(ev["dest_ip"], SERVER_IP, "{ev}");
        assert_eq!(ev["dest_port"], 22, "{ev}");
        assert_eq!(ev["ssh"]["client"]["proto_version"], "2.0", "{ev}");
        assert_eq!(ev["ssh"]["server"]["proto_version"], "2.0", "{ev}");
        let server = ev["ssh"]["server"]["software_version"]
            .as_str()
            .unwrap_or_default();
        assert!(
            server.starts_with(&server_prefix),
            "server software {server:?} does not start with {server_prefix:?} (sshd -V): {ev}"
        );
    };
    check(IDS_IFACE, CLIENT_IP);
    // The IPS path: the session itself must have worked through NFQUEUE.
    assert!(
        ips.status.success() && String::from_utf8_lossy(&ips.stdout).contains("ips-ok"),
        "ssh from the attacker (IPS path, NFQUEUE) failed: {}\nsensor log:\n{}",
        show(&ips),
        sensor.log_text()
    );
    check(IPS_IFACE, ATTACKER_IP);

    sensor.stop();
    assert_eve_valid(&sensor.eve);
}

#[test]
fn drop_ips_vs_ids() {
    if !require_programs("drop_ips_vs_ids", SSH_TOOLS) {
        return;
    }
    let Some(topo) = Topology::new("drop") else {
        return;
    };
    let dir = WorkDir::new("drop");
    topo.mixed_mode_firewall();
    let _sshd = Sshd::start(&topo, &topo.server, SERVER_IP, &dir.path);
    let rules = fake_agent_rules();
    let rules = rules.to_string_lossy();
    let mut sensor = Sensor::start(
        &topo.gateway,
        &["-q", "0", "--nflog", "10", "-S", &rules],
        &dir.path,
    );

    // Both fake agents at once: the blocked one waits for its timeout.
    let agent = fake_agent_script();
    let agent = agent.to_string_lossy();
    let args = ["timeout", "20", PYTHON, &agent, SERVER_IP, "--timeout", "3"];
    let spawn = |ns: &str| {
        topo.command(ns, &args)
            .stdin(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start fake_agent.py in {ns}: {e}"))
    };
    let ips_child = spawn(&topo.attacker);
    let ids_child = spawn(&topo.client);
    let ids = ids_child
        .wait_with_output()
        .expect("wait for fake agent (IDS)");
    let ips = ips_child
        .wait_with_output()
        .expect("wait for fake agent (IPS)");

    // IDS: the copy cannot be dropped; the handshake completes and the
    // alert says "allowed".
    assert!(
        ids.status.success(),
        "paramiko from the client (IDS path) should complete its handshake: {}",
        show(&ids)
    );
    let alert_ids = wait_for_eve(
        &sensor.eve,
        |v| is_event(v, "alert", IDS_IFACE) && v["alert"]["signature_id"] == 1000001,
        EVE_TIMEOUT,
    )
    .unwrap_or_else(|| {
        panic!(
            "no paramiko alert on {IDS_IFACE}; events:\n{}",
            eve_summary(&sensor.eve)
        )
    });
    assert_eq!(alert_ids["alert"]["action"], "allowed", "{alert_ids}");

    // IPS: the same rule drops the flow; paramiko never finishes.
    assert!(
        !ips.status.success(),
        "paramiko from the attacker (IPS path) should have been stopped: {}",
        show(&ips)
    );
    let alert_ips = wait_for_eve(
        &sensor.eve,
        |v| is_event(v, "alert", IPS_IFACE) && v["alert"]["signature_id"] == 1000001,
        EVE_TIMEOUT,
    )
    .unwrap_or_else(|| {
        panic!(
            "no paramiko alert on {IPS_IFACE}; fake agent: {}\nevents:\n{}\nsensor log:\n{}",
            show(&ips),
            eve_summary(&sensor.eve),
            sensor.log_text()
        )
    });
    assert_eq!(alert_ips["alert"]["action"], "blocked", "{alert_ips}");
    assert_eq!(alert_ips["src_ip"], ATTACKER_IP, "{alert_ips}");
    assert!(
        wait_for_eve(&sensor.eve, |v| is_event(v, "drop", IPS_IFACE), EVE_TIMEOUT).is_some(),
        "no drop event on {IPS_IFACE}; events:\n{}",
        eve_summary(&sensor.eve)
    );

    sensor.stop();
    let events = read_eve(&sensor.eve);
    let ids_drops: Vec<&Value> = events
        .iter()
        .filter(|v| is_event(v, "drop", IDS_IFACE))
        .collect();
    assert!(
        ids_drops.is_empty(),
        "the IDS path must never report drops: {ids_drops:?}"
    );
    assert_eve_valid(&sensor.eve);
}

/// Connects to HOST:PORT, sends the SSH banner "SSH-2.0-Split_Agent_1.0"
/// in six TCP segments (no Nagle, a pause between writes), reads the
/// server's banner and prints it.
const SPLIT_BANNER_CLIENT: &str = r#"
import socket, sys, time
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
buf = b""
for part in [b"SSH-", b"2.0-", b"Split_", b"Agent", b"_1.0", b"\r\n"]:
    s.sendall(part)
    time.sleep(0.05)
while b"\n" not in buf:
    d = s.recv(512)
    if not d:
        break
    buf += d
print(buf.split(b"\n")[0].decode("ascii", "replace").strip())
time.sleep(0.2)
s.close()
"#;

#[test]
fn split_banner() {
    let Some(topo) = Topology::new("split") else {
        return;
    };
    let dir = WorkDir::new("split");
    topo.mixed_mode_firewall();
    let _sshd = Sshd::start(&topo, &topo.server, SERVER_IP, &dir.path);
    let mut sensor = Sensor::start(&topo.gateway, &["-q", "0", "--nflog", "10"], &dir.path);

    for (ns, iface, ip) in [
        (topo.client.as_str(), IDS_IFACE, CLIENT_IP),
        (topo.attacker.as_str(), IPS_IFACE, ATTACKER_IP),
    ] {
        let out = python(&topo, ns, 15, SPLIT_BANNER_CLIENT, &[SERVER_IP, "22"]);
        assert!(
            out.status.success() && String::from_utf8_lossy(&out.stdout).starts_with("SSH-2.0-"),
            "split-banner client on {iface} did not get the server banner: {}\nsensor log:\n{}",
            show(&out),
            sensor.log_text()
        );
        let ev = find_ssh(&sensor.eve, iface, "Split_Agent").unwrap_or_else(|| {
            panic!(
                "no ssh event for the split banner on {iface}; events:\n{}",
                eve_summary(&sensor.eve)
            )
        });
        assert_eq!(
            ev["ssh"]["client"]["software_version"], "Split_Agent_1.0",
            "{ev}"
        );
        assert_eq!(ev["ssh"]["client"]["proto_version"], "2.0", "{ev}");
        assert_eq!(ev["src_ip"], ip, "{ev}");
    }
    sensor.stop();
}
