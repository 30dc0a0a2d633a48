//! End-to-end HTTP through the mixed-mode gateway with real peers: curl on
//! the inline path (NFQUEUE) and wget on the watched path (NFLOG) against
//! Python's `http.server`. An `http.uri` drop rule blocks the request on
//! the inline path and only alerts on the watched one; `http` events and
//! the `http` object of alerts carry what the clients really sent.
//!
//! Root only: a failure under CI (`CI` or `MEERKAT_REQUIRE_ALL=1`), a loud
//! skip elsewhere (see `prereq`).

mod common;

use std::fs;
use std::time::Duration;

use common::*;
use serde_json::Value;

const HTTP_PORT: u16 = 8081;
const DROP_SID: u64 = 1000301;
const UA_SID: u64 = 1000302;

fn rules() -> String {
    format!(
        "drop http any any -> any {HTTP_PORT} (msg:\"MEERKAT e2e http evil uri\"; \
         flow:established,to_server; http.uri; content:\"/evil\"; startswith; \
         sid:{DROP_SID}; rev:1;)\n\
         alert http any any -> any {HTTP_PORT} (msg:\"MEERKAT e2e http client\"; \
         flow:established,to_server; http.user_agent; content:\"e2e-agent\"; \
         sid:{UA_SID}; rev:1;)\n"
    )
}

/// `curl` or `wget` from `ns` for `path`; returns (exit ok, body).
fn fetch(topo: &Topology, ns: &str, tool: &str, path: &str) -> (bool, String) {
    let url = format!("http://{SERVER_IP}:{HTTP_PORT}{path}");
    let args: Vec<&str> = match tool {
        "curl" => vec![
            "curl",
            "-s",
            "-m",
            "4",
            "-A",
            "curl-e2e-agent",
            "--fail",
            &url,
        ],
        _ => vec![
            "wget",
            "-q",
            "-O",
            "-",
            "-T",
            "4",
            "-t",
            "1",
            "-U",
            "wget-e2e-agent",
            &url,
        ],
    };
    let out = topo.exec(ns, &args);
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

fn alert_for<'a>(events: &'a [Value], sid: u64, iface: &str, url: &str) -> Option<&'a Value> {
    events.iter().find(|v| {
        is_event(v, "alert", iface) && v["alert"]["signature_id"] == sid && v["http"]["url"] == url
    })
}

#[test]
fn http_rules_drop_inline_and_alert_on_copies() {
    if !require_programs(
        "http_rules_drop_inline_and_alert_on_copies",
        &[PYTHON, "curl", "wget"],
    ) {
        return;
    }
    let Some(topo) = Topology::new("http") else {
        return;
    };
    let dir = WorkDir::new("http");
    let www = dir.join("www");
    fs::create_dir_all(&www).expect("create the web root");
    fs::write(www.join("ok.txt"), "meerkat ok page\n").expect("write ok.txt");
    fs::write(www.join("evil.txt"), "meerkat evil page\n").expect("write evil.txt");
    topo.mixed_mode_firewall();
    let port = HTTP_PORT.to_string();
    let www_s = www.to_string_lossy();
    topo.spawn(
        &topo.server,
        &[
            PYTHON,
            "-m",
            "http.server",
            "--bind",
            SERVER_IP,
            "--directory",
            &www_s,
            &port,
        ],
        &dir.join("http-server.log"),
    );
    assert!(
        topo.wait_listen(&topo.server, HTTP_PORT, Duration::from_secs(10)),
        "the web server does not listen on {SERVER_IP}:{HTTP_PORT}"
    );
    let rules_path = dir.join("http.rules");
    fs::write(&rules_path, rules()).expect("write rules");
    let rules_s = rules_path.to_string_lossy();
    let mut sensor = Sensor::start(
        &topo.gateway,
        &["-q", "0", "--nflog", "10", "-S", &rules_s],
        &dir.path,
    );

    // Inline path: a clean request passes, the evil one is dropped.
    let (ok, body) = fetch(&topo, &topo.attacker, "curl", "/ok.txt");
    assert!(
        ok && body.contains("meerkat ok page"),
        "curl on the inline path should get /ok.txt (got {body:?})\nsensor log:\n{}",
        sensor.log_text()
    );
    let (ok, body) = fetch(&topo, &topo.attacker, "curl", "/evil.txt");
    assert!(
        !ok && !body.contains("evil page"),
        "the drop rule should block /evil.txt on the inline path (got {body:?})\nevents:\n{}",
        eve_summary(&sensor.eve)
    );
    // Watched path: the same request gets through, and is reported.
    let (ok, body) = fetch(&topo, &topo.client, "wget", "/evil.txt");
    assert!(
        ok && body.contains("meerkat evil page"),
        "wget on the watched path is never blocked (got {body:?})\nsensor log:\n{}",
        sensor.log_text()
    );

    let found = wait_for_eve(
        &sensor.eve,
        |v| is_event(v, "alert", IDS_IFACE) && v["alert"]["signature_id"] == DROP_SID,
        EVE_TIMEOUT,
    );
    assert!(
        found.is_some(),
        "no alert for /evil.txt on the watched path; events:\n{}",
        eve_summary(&sensor.eve)
    );
    sensor.stop();
    let events = read_eve(&sensor.eve);

    let blocked = alert_for(&events, DROP_SID, IPS_IFACE, "/evil.txt").unwrap_or_else(|| {
        panic!(
            "no drop alert with an http object on the inline path; events:\n{}",
            eve_summary(&sensor.eve)
        )
    });
    assert_eq!(blocked["alert"]["action"], "blocked", "{blocked}");
    assert_eq!(blocked["app_proto"], "http", "{blocked}");
    assert_eq!(blocked["src_ip"], ATTACKER_IP, "{blocked}");
    assert_eq!(blocked["http"]["hostname"], SERVER_IP, "{blocked}");
    assert_eq!(blocked["http"]["http_method"], "GET", "{blocked}");
    assert_eq!(
        blocked["http"]["http_user_agent"], "curl-e2e-agent",
        "{blocked}"
    );

    let watched = alert_for(&events, DROP_SID, IDS_IFACE, "/evil.txt").unwrap_or_else(|| {
        panic!(
            "no alert with an http object on the watched path; events:\n{}",
            eve_summary(&sensor.eve)
        )
    });
    assert_eq!(watched["alert"]["action"], "allowed", "{watched}");
    assert_eq!(watched["src_ip"], CLIENT_IP, "{watched}");
    assert_eq!(
        watched["http"]["http_user_agent"], "wget-e2e-agent",
        "{watched}"
    );

    // The user-agent rule fired once for each request that got through.
    for (iface, url) in [(IPS_IFACE, "/ok.txt"), (IDS_IFACE, "/evil.txt")] {
        let got = events
            .iter()
            .filter(|v| {
                is_event(v, "alert", iface)
                    && v["alert"]["signature_id"] == UA_SID
                    && v["http"]["url"] == url
            })
            .count();
        assert_eq!(
            got,
            1,
            "user-agent alerts for {url} on {iface}; events:\n{}",
            eve_summary(&sensor.eve)
        );
    }

    // The transactions that completed are logged with their response.
    let ok_tx = events
        .iter()
        .find(|v| is_event(v, "http", IPS_IFACE) && v["http"]["url"] == "/ok.txt")
        .unwrap_or_else(|| {
            panic!(
                "no http event for /ok.txt; events:\n{}",
                eve_summary(&sensor.eve)
            )
        });
    assert_eq!(ok_tx["http"]["status"], 200, "{ok_tx}");
    assert_eq!(ok_tx["http"]["length"], 16, "{ok_tx}");
    let wget_tx = events
        .iter()
        .find(|v| is_event(v, "http", IDS_IFACE) && v["http"]["url"] == "/evil.txt")
        .unwrap_or_else(|| {
            panic!(
                "no http event for /evil.txt on the watched path; events:\n{}",
                eve_summary(&sensor.eve)
            )
        });
    assert_eq!(wget_tx["http"]["status"], 200, "{wget_tx}");
    assert_eve_valid(&sensor.eve);
}
