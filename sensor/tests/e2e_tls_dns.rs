//! End-to-end TLS and DNS through the mixed-mode gateway with real peers:
//! curl and `openssl s_client` against `openssl s_server` (a root, an
//! intermediate and a leaf with subjectAltName, made at test time), `dig`
//! against `dnsmasq` over UDP. A `tls.sni` drop rule blocks the handshake
//! on the inline path (NFQUEUE) and only alerts on the watched one (NFLOG);
//! a `dns.query` drop rule does the same to a query. The `tls`/`dns`
//! objects of alerts and the `tls`/`dns` events carry what the clients
//! really sent and what the servers really answered.
//!
//! Root only: a failure under CI (`CI` or `MEERKAT_REQUIRE_ALL=1`), a loud
//! skip elsewhere (see `prereq`).

mod common;

use common::peers::*;
use common::*;
use serde_json::Value;

const TLS_PORT: u16 = 443;
/// A second `s_server`: `openssl s_server` serves one connection at a
/// time, and a connection whose ClientHello was dropped keeps it waiting
/// for good, so each blocked client gets a server of its own.
const TLS_PORT2: u16 = 8443;
const SNI_DROP_SID: u64 = 1000401;
const SNI_ALERT_SID: u64 = 1000402;
const DNS_DROP_SID: u64 = 1000411;
const DNS_ALERT_SID: u64 = 1000412;

const GOOD_SNI: &str = TLS_NAMES[0];
const BAD_SNI: &str = TLS_NAMES[1];

fn tls_rules() -> String {
    format!(
        "drop tls any any -> any any (msg:\"MEERKAT e2e tls blocked sni\"; \
         flow:established,to_server; tls.sni; content:\"{BAD_SNI}\"; bsize:{}; \
         sid:{SNI_DROP_SID}; rev:1;)\n\
         alert tls any any -> any any (msg:\"MEERKAT e2e tls any sni in the zone\"; \
         flow:established,to_server; tls.sni; content:\".example.net\"; endswith; \
         sid:{SNI_ALERT_SID}; rev:1;)\n",
        BAD_SNI.len()
    )
}

fn dns_rules() -> String {
    format!(
        "drop dns any any -> any any (msg:\"MEERKAT e2e dns blocked name\"; \
         dns.query; content:\"{DNS_BLOCKED}\"; nocase; bsize:{}; \
         sid:{DNS_DROP_SID}; rev:1;)\n\
         alert dns any any -> any any (msg:\"MEERKAT e2e dns query in the zone\"; \
         dns.query; content:\".example.net\"; endswith; \
         sid:{DNS_ALERT_SID}; rev:1;)\n",
        DNS_BLOCKED.len()
    )
}

/// `curl https://NAME/` from `ns`, the name resolved to the server, the
/// root CA trusted; returns whether the page came back.
fn curl_tls(topo: &Topology, ns: &str, pki: &Pki, name: &str) -> (bool, String) {
    let resolve = format!("{name}:{TLS_PORT}:{SERVER_IP}");
    let url = format!("https://{name}:{TLS_PORT}/");
    let ca = pki.ca.to_string_lossy();
    let out = topo.exec(
        ns,
        &[
            "curl",
            "-s",
            "-S",
            "-m",
            "4",
            "--cacert",
            &ca,
            "--resolve",
            &resolve,
            "--fail",
            &url,
        ],
    );
    let body = String::from_utf8_lossy(&out.stdout).into_owned();
    (out.status.success() && body.contains("<HTML>"), show(&out))
}

/// `openssl s_client -tls1_2 -servername NAME` from `ns` with certificate
/// verification; returns whether the handshake completed and verified.
fn s_client(topo: &Topology, ns: &str, pki: &Pki, name: &str, port: u16) -> (bool, String) {
    let connect = format!("{SERVER_IP}:{port}");
    let ca = pki.ca.to_string_lossy();
    let out = topo.exec(
        ns,
        &[
            "timeout",
            "5",
            "openssl",
            "s_client",
            "-connect",
            &connect,
            "-servername",
            name,
            "-tls1_2",
            "-CAfile",
            &ca,
            "-verify_return_error",
            "-verify_hostname",
            name,
            "-brief",
        ],
    );
    let text = show(&out);
    (
        out.status.success() && text.contains("Verification: OK"),
        text,
    )
}

fn find(events: &[Value], pred: impl Fn(&Value) -> bool) -> Vec<&Value> {
    events.iter().filter(|v| pred(v)).collect()
}

#[test]
fn tls_sni_drop_inline_and_alert_on_copies() {
    let test = "tls_sni_drop_inline_and_alert_on_copies";
    if !require_programs(test, &["openssl", "curl", "timeout"]) {
        return;
    }
    let Some(topo) = Topology::new("tls") else {
        return;
    };
    let dir = WorkDir::new("tls");
    let pki = Pki::generate(&dir.path);
    let leaf = pki.leaf_facts();
    topo.mixed_mode_firewall();
    start_tls_server(
        &topo,
        &topo.server,
        SERVER_IP,
        TLS_PORT,
        &pki,
        &dir.join("s_server.log"),
    );
    start_tls_server(
        &topo,
        &topo.server,
        SERVER_IP,
        TLS_PORT2,
        &pki,
        &dir.join("s_server2.log"),
    );
    let rules_path = dir.join("tls.rules");
    std::fs::write(&rules_path, tls_rules()).expect("write rules");
    let rules_s = rules_path.to_string_lossy();
    let mut sensor = Sensor::start(
        &topo.gateway,
        &[
            "-q",
            "0",
            "--nflog",
            "10",
            "-S",
            &rules_s,
            "--set",
            "app-layer.protocols.tls.ja3-fingerprints=yes",
        ],
        &dir.path,
    );

    // Inline path: the good name passes (curl: TLS 1.3; s_client: 1.2).
    let (ok, why) = curl_tls(&topo, &topo.attacker, &pki, GOOD_SNI);
    assert!(
        ok,
        "curl {GOOD_SNI} on the inline path: {why}\n{}",
        sensor.log_text()
    );
    let (ok, why) = s_client(&topo, &topo.attacker, &pki, GOOD_SNI, TLS_PORT);
    assert!(ok, "s_client {GOOD_SNI} on the inline path: {why}");
    // Watched path: the blocked name completes and is reported.
    let (ok, why) = curl_tls(&topo, &topo.client, &pki, BAD_SNI);
    assert!(
        ok,
        "curl {BAD_SNI} on the watched path is never blocked: {why}"
    );
    let (ok, why) = s_client(&topo, &topo.client, &pki, BAD_SNI, TLS_PORT);
    assert!(
        ok,
        "s_client {BAD_SNI} on the watched path is never blocked: {why}"
    );
    // Inline path, last (see TLS_PORT2): the blocked name never completes
    // a handshake, against servers that answered everything so far.
    let (ok, why) = curl_tls(&topo, &topo.attacker, &pki, BAD_SNI);
    assert!(
        !ok,
        "the sni drop rule should block curl {BAD_SNI} on the inline path: {why}\nevents:\n{}",
        eve_summary(&sensor.eve)
    );
    let (ok, why) = s_client(&topo, &topo.attacker, &pki, BAD_SNI, TLS_PORT2);
    assert!(
        !ok,
        "the sni drop rule should block s_client {BAD_SNI} on the inline path: {why}"
    );

    let watched = |v: &Value| is_event(v, "tls", IDS_IFACE) && v["tls"]["version"] == "TLS 1.2";
    assert!(
        wait_for_eve(&sensor.eve, watched, EVE_TIMEOUT).is_some(),
        "no TLS 1.2 tls event on the watched path; events:\n{}",
        eve_summary(&sensor.eve)
    );
    sensor.stop();
    let events = read_eve(&sensor.eve);
    let summary = || eve_summary(&sensor.eve);

    // Drops: one alert per blocked client, "blocked", with the SNI it sent,
    // and nothing from the drop rule for the good name or on the IDS path
    // beyond the two watched handshakes.
    let blocked = find(&events, |v| {
        is_event(v, "alert", IPS_IFACE) && v["alert"]["signature_id"] == SNI_DROP_SID
    });
    assert_eq!(
        blocked.len(),
        2,
        "drop alerts on the inline path:\n{}",
        summary()
    );
    for a in &blocked {
        assert_eq!(a["alert"]["action"], "blocked", "{a}");
        assert_eq!(a["app_proto"], "tls", "{a}");
        assert_eq!(a["src_ip"], ATTACKER_IP, "{a}");
        assert!(
            a["dest_port"] == TLS_PORT || a["dest_port"] == TLS_PORT2,
            "{a}"
        );
        assert_eq!(a["tls"]["sni"], BAD_SNI, "{a}");
        // The server never answered: no certificate in the object.
        assert!(a["tls"]["subject"].is_null(), "{a}");
    }
    assert!(
        events.iter().any(|v| is_event(v, "drop", IPS_IFACE)),
        "no drop event on the inline path:\n{}",
        summary()
    );
    let allowed = find(&events, |v| {
        is_event(v, "alert", IDS_IFACE) && v["alert"]["signature_id"] == SNI_DROP_SID
    });
    assert_eq!(
        allowed.len(),
        2,
        "drop-rule alerts on the watched path:\n{}",
        summary()
    );
    for a in &allowed {
        assert_eq!(a["alert"]["action"], "allowed", "{a}");
        assert_eq!(a["src_ip"], CLIENT_IP, "{a}");
        assert_eq!(a["tls"]["sni"], BAD_SNI, "{a}");
    }
    // The zone rule fired for every handshake that was inspected: 2 good +
    // 2 blocked inline, 2 watched.
    for (iface, want) in [(IPS_IFACE, 4), (IDS_IFACE, 2)] {
        let got = find(&events, |v| {
            is_event(v, "alert", iface) && v["alert"]["signature_id"] == SNI_ALERT_SID
        });
        assert_eq!(got.len(), want, "zone alerts on {iface}:\n{}", summary());
    }

    // tls events: every completed handshake, with what was really sent.
    for (iface, sni) in [(IPS_IFACE, GOOD_SNI), (IDS_IFACE, BAD_SNI)] {
        let tls = find(&events, |v| {
            is_event(v, "tls", iface) && v["tls"]["sni"] == sni
        });
        let versions: Vec<&Value> = tls.iter().map(|v| &v["tls"]["version"]).collect();
        assert!(
            versions.contains(&&Value::from("TLS 1.3"))
                && versions.contains(&&Value::from("TLS 1.2")),
            "tls events for {sni} on {iface} should be one TLS 1.3 (curl) and one TLS 1.2 \
             (s_client), got {versions:?}:\n{}",
            summary()
        );
        for t in &tls {
            let j = &t["tls"]["ja3"];
            assert!(
                j["hash"].as_str().is_some_and(|h| h.len() == 32)
                    && j["string"].as_str().is_some_and(|s| s.starts_with("771,")),
                "ja3 of a real client hello: {t}"
            );
        }
        // TLS 1.2: the certificate is in the clear; it is the leaf made here.
        let t12 = tls
            .iter()
            .find(|v| v["tls"]["version"] == "TLS 1.2")
            .expect("checked above");
        let t = &t12["tls"];
        assert_eq!(t["subject"], leaf.subject.as_str(), "{t12}");
        assert_eq!(t["issuerdn"], leaf.issuerdn.as_str(), "{t12}");
        assert_eq!(t["fingerprint"], leaf.fingerprint.as_str(), "{t12}");
        let serial = t["serial"].as_str().unwrap_or_default();
        assert_eq!(
            serial.trim_start_matches("00:"),
            leaf.serial,
            "serial in {t12}"
        );
        assert!(t["ja3s"]["hash"].is_string(), "ja3s: {t12}");
    }
    // The dropped handshakes: a tls event with the SNI and no certificate,
    // if any (the flow ends without a server hello).
    for t in find(&events, |v| {
        is_event(v, "tls", IPS_IFACE) && v["tls"]["sni"] == BAD_SNI
    }) {
        assert!(
            t["tls"]["subject"].is_null(),
            "a dropped handshake has no cert: {t}"
        );
    }
    assert_eve_valid(&sensor.eve);
}

#[test]
fn dns_query_drop_inline_and_alert_on_copies() {
    let test = "dns_query_drop_inline_and_alert_on_copies";
    if !require_programs(test, DNS_TOOLS) {
        return;
    }
    let Some(topo) = Topology::new("dns") else {
        return;
    };
    let dir = WorkDir::new("dns");
    topo.mixed_mode_firewall();
    start_dnsmasq(&topo, &topo.server, SERVER_IP, &dir.path);
    let rules_path = dir.join("dns.rules");
    std::fs::write(&rules_path, dns_rules()).expect("write rules");
    let rules_s = rules_path.to_string_lossy();
    let mut sensor = Sensor::start(
        &topo.gateway,
        &["-q", "0", "--nflog", "10", "-S", &rules_s],
        &dir.path,
    );

    // Inline path: the good name resolves, the blocked one times out.
    let (ok, status, answers) = dig(&topo, &topo.attacker, SERVER_IP, DNS_WWW, "A", false);
    assert!(
        ok && status == "NOERROR" && answers.contains(DNS_WWW_A),
        "dig {DNS_WWW} on the inline path: {status} {answers}\n{}",
        sensor.log_text()
    );
    let (ok, status, answers) = dig(&topo, &topo.attacker, SERVER_IP, DNS_BLOCKED, "A", false);
    assert!(
        !ok,
        "the dns.query drop rule should block {DNS_BLOCKED} on the inline path \
         (got {status} {answers})\nevents:\n{}",
        eve_summary(&sensor.eve)
    );
    // Watched path: answered, reported.
    let (ok, status, answers) = dig(&topo, &topo.client, SERVER_IP, DNS_BLOCKED, "A", false);
    assert!(
        ok && status == "NOERROR" && answers.contains(DNS_BLOCKED_A),
        "dig {DNS_BLOCKED} on the watched path is never blocked: {status} {answers}"
    );
    let answered = |v: &Value| {
        is_event(v, "dns", IDS_IFACE)
            && v["dns"]["type"] == "answer"
            && v["dns"]["rrname"] == DNS_BLOCKED
    };
    assert!(
        wait_for_eve(&sensor.eve, answered, EVE_TIMEOUT).is_some(),
        "no dns answer event on the watched path; events:\n{}",
        eve_summary(&sensor.eve)
    );
    sensor.stop();
    let events = read_eve(&sensor.eve);
    let summary = || eve_summary(&sensor.eve);

    let blocked = find(&events, |v| {
        is_event(v, "alert", IPS_IFACE) && v["alert"]["signature_id"] == DNS_DROP_SID
    });
    assert_eq!(
        blocked.len(),
        1,
        "drop alerts on the inline path:\n{}",
        summary()
    );
    let a = blocked[0];
    assert_eq!(a["alert"]["action"], "blocked", "{a}");
    assert_eq!(a["app_proto"], "dns", "{a}");
    assert_eq!(a["proto"], "UDP", "{a}");
    assert_eq!(a["src_ip"], ATTACKER_IP, "{a}");
    let q = &a["dns"]["query"][0];
    assert_eq!(q["rrname"], DNS_BLOCKED, "{a}");
    assert_eq!(q["rrtype"], "A", "{a}");
    assert_eq!(q["type"], "query", "{a}");
    // The query never reached dnsmasq: no answer for it on the inline path.
    assert!(
        !events.iter().any(|v| is_event(v, "dns", IPS_IFACE)
            && v["dns"]["type"] == "answer"
            && v["dns"]["rrname"] == DNS_BLOCKED),
        "a dropped query was answered:\n{}",
        summary()
    );

    let allowed = find(&events, |v| {
        is_event(v, "alert", IDS_IFACE) && v["alert"]["signature_id"] == DNS_DROP_SID
    });
    assert_eq!(
        allowed.len(),
        1,
        "drop-rule alerts on the watched path:\n{}",
        summary()
    );
    let a = allowed[0];
    assert_eq!(a["alert"]["action"], "allowed", "{a}");
    assert_eq!(a["src_ip"], CLIENT_IP, "{a}");
    assert_eq!(a["dns"]["query"][0]["rrname"], DNS_BLOCKED, "{a}");
    // The zone rule: the good and the blocked query inline, the watched one.
    for (iface, want) in [(IPS_IFACE, 2), (IDS_IFACE, 1)] {
        let got = find(&events, |v| {
            is_event(v, "alert", iface) && v["alert"]["signature_id"] == DNS_ALERT_SID
        });
        assert_eq!(got.len(), want, "zone alerts on {iface}:\n{}", summary());
    }

    // dns events: the query as dig sent it and the answer dnsmasq gave, with
    // the same id.
    for (iface, name, addr) in [
        (IPS_IFACE, DNS_WWW, DNS_WWW_A),
        (IDS_IFACE, DNS_BLOCKED, DNS_BLOCKED_A),
    ] {
        let query = events
            .iter()
            .find(|v| {
                is_event(v, "dns", iface)
                    && v["dns"]["type"] == "query"
                    && v["dns"]["rrname"] == name
            })
            .unwrap_or_else(|| panic!("no dns query event for {name} on {iface}:\n{}", summary()));
        assert_eq!(query["dns"]["rrtype"], "A", "{query}");
        let answer = events
            .iter()
            .find(|v| {
                is_event(v, "dns", iface)
                    && v["dns"]["type"] == "answer"
                    && v["dns"]["rrname"] == name
            })
            .unwrap_or_else(|| panic!("no dns answer event for {name} on {iface}:\n{}", summary()));
        let d = &answer["dns"];
        assert_eq!(d["id"], query["dns"]["id"], "{answer}");
        assert_eq!(d["rcode"], "NOERROR", "{answer}");
        assert_eq!(d["answers"][0]["rrname"], name, "{answer}");
        assert_eq!(d["answers"][0]["rrtype"], "A", "{answer}");
        assert_eq!(d["answers"][0]["rdata"], addr, "{answer}");
        assert_eq!(d["grouped"]["A"][0], addr, "{answer}");
    }
    assert_eve_valid(&sensor.eve);
}
