//! End-to-end mixed mode over IPv6 only: the gateway's ip6tables rules send
//! the attacker's packets to NFQUEUE (IPS) and copy everything else to
//! NFLOG (IDS); one meerkat-sensor handles both. A real OpenSSH client on
//! the IDS path must produce an `ssh` event, and paramiko on the IPS path
//! must be blocked by the fake-agent rules.
//!
//! Root only: a failure under CI (`CI` or `MEERKAT_REQUIRE_ALL=1`), a loud
//! skip elsewhere (see `prereq`).

mod common;

use std::net::IpAddr;
use std::process::Stdio;

use common::*;
use serde_json::Value;

/// `ev[field]` parsed as an IP address (EVE may shorten IPv6 text in any
/// valid way, so addresses are compared as values).
fn ip_of(ev: &Value, field: &str) -> Option<IpAddr> {
    ev[field].as_str().and_then(|s| s.parse().ok())
}

fn ip(text: &str) -> IpAddr {
    text.parse()
        .unwrap_or_else(|e| panic!("test address {text:?} is not an IP address: {e}"))
}

#[test]
fn ipv6_mixed_mode() {
    if !require_programs("ipv6_mixed_mode", SSH_TOOLS) {
        return;
    }
    let Some(topo) = Topology::new_ipv6("ipv6") else {
        return;
    };
    let dir = WorkDir::new("ipv6");
    topo.mixed_mode_firewall_v6();
    let sshd = Sshd::start(&topo, &topo.server, SERVER_IP6, &dir.path);
    let rules = fake_agent_rules();
    let rules = rules.to_string_lossy();
    let mut sensor = Sensor::start(
        &topo.gateway,
        &["-q", "0", "--nflog", "10", "-S", &rules],
        &dir.path,
    );

    // IPS path: paramiko from the attacker, started first because a
    // blocked agent waits for its timeout.
    let agent = fake_agent_script();
    let agent = agent.to_string_lossy();
    let ips_child = topo
        .command(
            &topo.attacker,
            &[
                "timeout",
                "20",
                PYTHON,
                &agent,
                SERVER_IP6,
                "--timeout",
                "3",
            ],
        )
        .stdin(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start fake_agent.py in {}: {e}", topo.attacker));

    // IDS path: a real OpenSSH session from the client.
    let ids = sshd.ssh(&topo, &topo.client, SERVER_IP6, "echo ids-ok");
    assert!(
        ids.status.success() && String::from_utf8_lossy(&ids.stdout).contains("ids-ok"),
        "ssh over IPv6 from the client (IDS path) failed: {}\nsensor log:\n{}",
        show(&ids),
        sensor.log_text()
    );
    let ssh_ev = wait_for_eve(
        &sensor.eve,
        |v| {
            is_event(v, "ssh", IDS_IFACE)
                && v["ssh"]["client"]["software_version"]
                    .as_str()
                    .is_some_and(|s| s.starts_with("OpenSSH_"))
        },
        EVE_TIMEOUT,
    )
    .unwrap_or_else(|| {
        panic!(
            "no IPv6 ssh event on {IDS_IFACE} within 10 s; events:\n{}\nsensor log:\n{}",
            eve_summary(&sensor.eve),
            sensor.log_text()
        )
    });
    assert_eq!(ip_of(&ssh_ev, "src_ip"), Some(ip(CLIENT_IP6)), "{ssh_ev}");
    assert_eq!(ip_of(&ssh_ev, "dest_ip"), Some(ip(SERVER_IP6)), "{ssh_ev}");
    assert_eq!(ssh_ev["dest_port"], 22, "{ssh_ev}");

    // The IPS verdict: the agent never finishes its handshake.
    let ips = ips_child
        .wait_with_output()
        .expect("wait for fake agent (IPS)");
    assert!(
        !ips.status.success(),
        "paramiko over IPv6 from the attacker (IPS path) should have been stopped: {}\n\
         events:\n{}",
        show(&ips),
        eve_summary(&sensor.eve)
    );
    let alert = wait_for_eve(
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
    assert_eq!(alert["alert"]["action"], "blocked", "{alert}");
    assert_eq!(ip_of(&alert, "src_ip"), Some(ip(ATTACKER_IP6)), "{alert}");
    assert_eq!(ip_of(&alert, "dest_ip"), Some(ip(SERVER_IP6)), "{alert}");
    let drop = wait_for_eve(&sensor.eve, |v| is_event(v, "drop", IPS_IFACE), EVE_TIMEOUT)
        .unwrap_or_else(|| {
            panic!(
                "no drop event on {IPS_IFACE}; events:\n{}",
                eve_summary(&sensor.eve)
            )
        });
    let attacker = Some(ip(ATTACKER_IP6));
    assert!(
        ip_of(&drop, "src_ip") == attacker || ip_of(&drop, "dest_ip") == attacker,
        "the drop event does not involve the attacker {ATTACKER_IP6}: {drop}"
    );

    sensor.stop();
    assert_eve_valid(&sensor.eve);
}
