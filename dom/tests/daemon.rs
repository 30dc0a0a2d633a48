//! Daemon-level tests with the dry-run backend: the real binary, a
//! temporary eve.json, state directory and control socket. Assertions go
//! through `meerkat-dom list --json` / `status --json`.

mod common;

use std::time::Duration;

use common::*;

fn issue_config(dir: &std::path::Path) -> String {
    config(
        dir,
        "",
        "",
        &format!("{}{}", dry_run_backend(), ISSUE_RULES),
    )
}

#[test]
fn lines_become_bans_with_invert_allow_and_home_net() {
    let t = TmpDir::new("basic");
    let d = Daemon::start(&t.0, &issue_config(&t.0));
    d.append(&[
        ssh_line("198.51.100.7", "libssh_0.9.6"),
        ssh_line("198.51.100.8", "OpenSSH_9.2p1"),
        ssh_line(
            "2001:0db8:0000:0000:0000:0000:0000:0009",
            "PuTTY_Release_0.80",
        ),
        ssh_line("::ffff:198.51.100.10", "libssh2_1.10.0"),
        // Never banned: home_net, allow.
        ssh_line("203.0.113.5", "libssh_0.9.6"),
        ssh_line("127.0.0.1", "libssh_0.9.6"),
        ssh_line("::1", "PuTTY"),
        // Missing software_version: not evidence, even for the invert rule.
        r#"{"event_type":"ssh","src_ip":"198.51.100.11","ssh":{"server":{"proto_version":"2.0"}}}"#
            .to_string(),
    ]);
    assert!(
        wait_for(Duration::from_secs(5), || d.list().len() >= 3),
        "log:\n{}",
        d.log_text()
    );
    std::thread::sleep(Duration::from_millis(300));
    let list = d.list();
    let mut ips: Vec<&str> = list.iter().filter_map(|r| r["ip"].as_str()).collect();
    ips.sort();
    assert_eq!(ips, vec!["198.51.100.10", "198.51.100.7", "2001:db8::9"]);
    let by_ip = |ip: &str| list.iter().find(|r| r["ip"] == ip).cloned().unwrap();
    assert_eq!(by_ip("198.51.100.7")["rule"], "libssh clients");
    assert_eq!(by_ip("198.51.100.7")["client"], "libssh_0.9.6");
    assert!(by_ip("198.51.100.7")["reason"]
        .as_str()
        .unwrap()
        .contains("dest=192.0.2.1:22"));
    let rem = by_ip("198.51.100.7")["remaining_secs"].as_u64().unwrap();
    assert!((3590..=3600).contains(&rem), "remaining {rem}");
    assert_eq!(by_ip("2001:db8::9")["rule"], "anything but OpenSSH");
    let s = d.status();
    assert_eq!(s["refused"], 3, "{s}");
    assert_eq!(s["bans"], 3);
    let log = d.log_text();
    assert!(
        log.contains(
            "ban 198.51.100.7 for 1h rule=\"libssh clients\" client=\"libssh_0.9.6\" backends=1"
        ),
        "{log}"
    );
}

#[test]
fn threshold_then_escalation() {
    let t = TmpDir::new("thresh");
    let d = Daemon::start(&t.0, &issue_config(&t.0));
    let go = ssh_line("198.51.100.20", "Go");
    d.append(&[go.clone(), go.clone()]);
    assert!(wait_for(Duration::from_secs(5), || d.status()
        ["below_threshold"]
        == 2));
    assert!(d.list().is_empty(), "two hits must not ban (threshold 3)");
    d.append(std::slice::from_ref(&go));
    assert!(wait_for(Duration::from_secs(5), || d.list().len() == 1));
    let r = &d.list()[0];
    assert_eq!(r["rule"], "Go ssh library");
    assert!((1790..=1800).contains(&r["remaining_secs"].as_u64().unwrap()));
    assert_eq!(r["offence"], 1);
    // Lift it, offend again: the second ban is twice as long.
    let (ok, _, err) = d.cli(&["unban", "198.51.100.20"]);
    assert!(ok, "{err}");
    assert!(d.list().is_empty());
    d.append(&[go.clone(), go.clone(), go]);
    assert!(wait_for(Duration::from_secs(5), || d.list().len() == 1));
    let r = &d.list()[0];
    assert_eq!(r["offence"], 2);
    let rem = r["remaining_secs"].as_u64().unwrap();
    assert!((3590..=3600).contains(&rem), "escalated remaining {rem}");
}

#[test]
fn malformed_and_overlong_lines_are_skipped_and_counted() {
    let t = TmpDir::new("malformed");
    let cfg = config(
        &t.0,
        "",
        "max_line = 1024",
        &format!("{}{}", dry_run_backend(), ISSUE_RULES),
    );
    let d = Daemon::start(&t.0, &cfg);
    let long = format!(
        r#"{{"event_type":"ssh","src_ip":"198.51.100.30","pad":"{}","ssh":{{"client":{{"software_version":"libssh_1"}}}}}}"#,
        "x".repeat(5000)
    );
    d.append(&[
        "not json at all".into(),
        "[1,2,3]".into(),
        r#"{"event_type":"ssh","src_ip":"198.51.100.31","ssh":{"client":{"software_version":"#.into(),
        long,
        r#"{"event_type":"flow","src_ip":"198.51.100.32"}"#.into(),
        r#"{"src_ip":"198.51.100.33"}"#.into(),
        r#"{"event_type":"ssh","src_ip":"not-an-ip","ssh":{"client":{"software_version":"libssh_1"}}}"#.into(),
        r#"{"event_type":"ssh","src_ip":42,"ssh":{"client":{"software_version":["libssh_1"]}}}"#.into(),
        String::new(),
        ssh_line("198.51.100.34", "libssh_0.9.6"),
    ]);
    assert!(
        wait_for(Duration::from_secs(5), || d.list().len() == 1),
        "log:\n{}",
        d.log_text()
    );
    let s = d.status();
    assert_eq!(s["skipped_invalid_json"], 3, "{s}");
    assert_eq!(s["skipped_long"], 1, "{s}");
    assert_eq!(s["skipped_unknown"], 2, "{s}");
    assert_eq!(d.banned_ips(), vec!["198.51.100.34"]);
    // A half-written line waits for its end.
    let full = ssh_line("198.51.100.35", "libssh_0.9.6");
    let (a, b) = full.split_at(40);
    {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&d.eve)
            .unwrap();
        f.write_all(a.as_bytes()).unwrap();
        f.flush().unwrap();
        std::thread::sleep(Duration::from_millis(400));
        assert_eq!(d.list().len(), 1);
        f.write_all(format!("{b}\n").as_bytes()).unwrap();
    }
    assert!(wait_for(Duration::from_secs(5), || d.list().len() == 2));
    assert_eq!(d.status()["skipped_invalid_json"], 3);
}

fn burst(from: u32, to: u32) -> Vec<String> {
    (from..to)
        .map(|i| {
            ssh_line(
                &format!("198.51.{}.{}", 100 + i / 250, 1 + i % 250),
                "libssh_0.9.6",
            )
        })
        .collect()
}

#[test]
fn rotation_by_rename_and_by_copytruncate_loses_nothing() {
    let t = TmpDir::new("rotate");
    // The writer's file exists before the daemon starts (as with Suricata).
    std::fs::write(t.0.join("eve.json"), "").unwrap();
    let d = Daemon::start(&t.0, &issue_config(&t.0));
    let eve = d.eve.clone();
    let rotated = t.0.join("eve.json.1");
    // Rename rotation in the middle of a burst; the writer keeps writing to
    // the old file for a moment (until it is told to reopen).
    for chunk in burst(0, 200).chunks(20) {
        append(&eve, chunk);
    }
    {
        use std::io::Write;
        let mut old = std::fs::OpenOptions::new().append(true).open(&eve).unwrap();
        std::fs::rename(&eve, &rotated).unwrap();
        for l in burst(200, 260) {
            old.write_all(format!("{l}\n").as_bytes()).unwrap();
        }
    }
    for chunk in burst(260, 400).chunks(20) {
        append(&eve, chunk);
    }
    assert!(
        wait_for(Duration::from_secs(10), || d.list().len() == 400),
        "got {} bans; log:\n{}",
        d.list().len(),
        d.log_text()
    );
    // copytruncate: copy, truncate in place, keep appending.
    let lines_before = d.status()["lines"].as_u64().unwrap();
    for chunk in burst(400, 500).chunks(25) {
        append(&eve, chunk);
    }
    assert!(wait_for(Duration::from_secs(5), || d.status()["lines"]
        .as_u64()
        .unwrap()
        == lines_before + 100));
    std::fs::copy(&eve, t.0.join("eve.json.2")).unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&eve)
        .unwrap()
        .set_len(0)
        .unwrap();
    for chunk in burst(500, 600).chunks(25) {
        append(&eve, chunk);
    }
    assert!(
        wait_for(Duration::from_secs(10), || d.list().len() == 600),
        "got {} bans; log:\n{}",
        d.list().len(),
        d.log_text()
    );
    let s = d.status();
    assert!(s["rotations"].as_u64().unwrap() >= 1, "{s}");
    assert!(s["truncations"].as_u64().unwrap() >= 1, "{s}");
    assert_eq!(s["skipped_invalid_json"], 0, "{s}");
}

#[test]
fn restart_resumes_without_replay_and_restores_bans() {
    let t = TmpDir::new("restart");
    let cfg = issue_config(&t.0);
    let mut d = Daemon::start(&t.0, &cfg);
    d.append(&[
        ssh_line("198.51.100.40", "libssh_0.9.6"),
        ssh_line("198.51.100.41", "libssh_0.9.6"),
    ]);
    assert!(wait_for(Duration::from_secs(5), || d.list().len() == 2));
    // Lift one ban: a replay after restart would bring it back.
    assert!(d.cli(&["unban", "198.51.100.40"]).0);
    d.stop();
    // Written while stopped: must not be skipped.
    append(
        &t.0.join("eve.json"),
        &[ssh_line("198.51.100.42", "libssh_0.9.6")],
    );
    std::thread::sleep(Duration::from_millis(1100));
    let d = Daemon::start(&t.0, &cfg);
    assert!(
        wait_for(Duration::from_secs(5), || d.list().len() == 2),
        "log:\n{}",
        d.log_text()
    );
    assert_eq!(d.banned_ips(), vec!["198.51.100.41", "198.51.100.42"]);
    let l = d.list();
    let r41 = l.iter().find(|r| r["ip"] == "198.51.100.41").unwrap();
    let rem = r41["remaining_secs"].as_u64().unwrap();
    assert!(
        rem < 3600 && rem > 3500,
        "restored with its remaining time, got {rem}"
    );
    assert_eq!(d.status()["lines"], 1, "only the new line is read");
}

#[test]
fn manual_ban_unban_flush_and_guards() {
    let t = TmpDir::new("manual");
    let d = Daemon::start(&t.0, &issue_config(&t.0));
    let (ok, out, err) = d.cli(&[
        "ban",
        "2001:db8::77",
        "--for",
        "2h",
        "--reason",
        "seen in honeypot",
    ]);
    assert!(ok, "{out}{err}");
    let l = d.list();
    assert_eq!(l.len(), 1);
    assert_eq!(l[0]["rule"], "manual");
    assert_eq!(l[0]["reason"], "seen in honeypot");
    assert!(l[0]["remaining_secs"].as_u64().unwrap() > 7100);
    let (ok, _, err) = d.cli(&["ban", "203.0.113.9"]);
    assert!(!ok && err.contains("home_net"), "{err}");
    let (ok, _, err) = d.cli(&["ban", "::ffff:127.0.0.1"]);
    assert!(!ok && err.contains("allow"), "{err}");
    let (ok, _, err) = d.cli(&["ban", "banana"]);
    assert!(!ok && err.contains("banana"), "{err}");
    assert!(d.cli(&["ban", "198.51.100.50"]).0);
    let (ok, out, _) = d.cli(&["list"]);
    assert!(
        ok && out.contains("198.51.100.50") && out.contains("2 active bans"),
        "{out}"
    );
    assert!(d.cli(&["unban", "198.51.100.50"]).0);
    assert_eq!(d.banned_ips(), vec!["2001:db8::77"]);
    assert!(d.cli(&["flush"]).0);
    assert!(d.list().is_empty());
    let (ok, out, _) = d.cli(&["status"]);
    assert!(ok && out.contains("active_bans: 0"), "{out}");
}

#[test]
fn reload_keeps_old_config_when_new_one_is_bad() {
    let t = TmpDir::new("reload");
    let d = Daemon::start(&t.0, &issue_config(&t.0));
    // Bad regex: rejected, old rules keep working.
    let bad = issue_config(&t.0).replace("^OpenSSH_", "^(OpenSSH_");
    std::fs::write(&d.cfg, &bad).unwrap();
    let (ok, _, err) = d.cli(&["reload"]);
    assert!(!ok, "bad reload must fail");
    assert!(
        err.contains("dom.toml:") && err.contains("anything but OpenSSH") && err.contains("regex"),
        "{err}"
    );
    d.signal("HUP");
    std::thread::sleep(Duration::from_millis(300));
    d.append(&[ssh_line("198.51.100.60", "libssh_0.9.6")]);
    assert!(wait_for(Duration::from_secs(5), || d.list().len() == 1));
    // Good reload via SIGHUP: 198.51.100.0/24 becomes allowed, so its ban
    // is lifted, and a new rule takes effect.
    let good = issue_config(&t.0).replace("allow = [\"127.0.0.0/8\", \"::1/128\"]", "allow = [\"127.0.0.0/8\", \"::1/128\", \"198.51.100.0/24\"]")
        + "\n[[rule]]\nname = \"dropbear\"\nevent = \"ssh\"\nfield = \"ssh.client.software_version\"\nprefix = [\"dropbear\"]\nban = \"5m\"\n";
    std::fs::write(
        &d.cfg,
        good.replace("regex = \"^OpenSSH_\"", "regex = \"^(OpenSSH|dropbear)\""),
    )
    .unwrap();
    d.signal("HUP");
    assert!(
        wait_for(Duration::from_secs(5), || d.status()["reloads"] == 1),
        "log:\n{}",
        d.log_text()
    );
    assert!(
        d.list().is_empty(),
        "ban of a now-allowed address is lifted"
    );
    d.append(&[ssh_line("192.0.2.99", "dropbear_2022.83")]);
    assert!(wait_for(Duration::from_secs(5), || d.list().len() == 1));
    assert_eq!(d.list()[0]["rule"], "dropbear");
    assert!(d.log_text().contains("reload failed"));
}

#[test]
fn check_reports_file_line_and_rule() {
    let t = TmpDir::new("check");
    let cfg = t.0.join("bad.toml");
    std::fs::write(&cfg, "[[rule]]\nname = \"r1\"\nfield = \"ssh.client.software_version\"\nregex = \"[\"\nban = \"1h\"\n").unwrap();
    let out = std::process::Command::new(BIN)
        .args(["--check", "-c"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.toml:4:9: rule \"r1\": bad regex \"[\""),
        "{err}"
    );
    let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for ex in ["../examples/dom.toml", "../examples/dom-heuristics.toml"] {
        let out = std::process::Command::new(BIN)
            .args(["--check", "-c"])
            .arg(manifest.join(ex))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{ex}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn heuristics_pack_bans_known_fake_agents() {
    let t = TmpDir::new("pack");
    let pack =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/dom-heuristics.toml");
    std::fs::copy(&pack, t.0.join("dom-heuristics.toml")).unwrap();
    let cfg = config(
        &t.0,
        "include = [\"dom-heuristics.toml\"]",
        "",
        &dry_run_backend(),
    );
    let d = Daemon::start(&t.0, &cfg);
    d.append(&[
        ssh_line("198.51.100.71", "libssh_0.9.6"),
        ssh_line("198.51.100.72", "libssh2_1.11.0"),
        ssh_line("198.51.100.73", "PUTTY"),
        ssh_line("198.51.100.74", "PuTTY_Release_0.80"),
        ssh_line("198.51.100.75", "OpenSSH_9.6"),
        r#"{"event_type":"alert","src_ip":"198.51.100.76","alert":{"signature_id":2006546,"severity":2}}"#.to_string(),
    ]);
    assert!(
        wait_for(Duration::from_secs(5), || d.list().len() == 4),
        "log:\n{}",
        d.log_text()
    );
    assert_eq!(
        d.banned_ips(),
        vec![
            "198.51.100.71",
            "198.51.100.72",
            "198.51.100.73",
            "198.51.100.76"
        ]
    );
}

/// A meerkat-sensor `tls` event from `src` with the client's JA3 hash.
fn tls_line(src: &str, ja3: &str, sni: Option<&str>) -> String {
    let sni = sni.map(|n| format!(r#""sni":"{n}","#)).unwrap_or_default();
    format!(
        r#"{{"timestamp":"2025-03-14T10:00:00.000000+0000","flow_id":2,"event_type":"tls","src_ip":"{src}","src_port":40001,"dest_ip":"192.0.2.1","dest_port":443,"proto":"TCP","tls":{{{sni}"version":"TLS 1.3","ja3":{{"hash":"{ja3}","string":"771,4866"}}}}}}"#
    )
}

/// The JA3 rule of the default pack: the no-SNI hashes measured in the
/// pack's comment ban after the threshold (3 in 10 minutes); fewer hits,
/// or the same tool naming its server (another hash), do not.
#[test]
fn heuristics_pack_judges_ja3_of_script_clients() {
    let t = TmpDir::new("pack-ja3");
    let pack =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/dom-heuristics.toml");
    std::fs::copy(&pack, t.0.join("dom-heuristics.toml")).unwrap();
    let cfg = config(
        &t.0,
        "include = [\"dom-heuristics.toml\"]",
        "",
        &dry_run_backend(),
    );
    let d = Daemon::start(&t.0, &cfg);
    const CURL_NO_SNI: &str = "78f0dc5ac5b19daf131a133cfdee9691";
    const REQUESTS_NO_SNI: &str = "f80d3d09f61892c5846c854dd84ac403";
    const CURL_WITH_SNI: &str = "0149f47eabf9a20d0893e2a44e5a6323";
    let mut lines = Vec::new();
    for _ in 0..3 {
        lines.push(tls_line("198.51.100.81", CURL_NO_SNI, None));
        lines.push(tls_line(
            "198.51.100.83",
            CURL_WITH_SNI,
            Some("www.example.net"),
        ));
    }
    lines.push(tls_line("198.51.100.82", REQUESTS_NO_SNI, None));
    lines.push(tls_line("198.51.100.82", REQUESTS_NO_SNI, None));
    d.append(&lines);
    assert!(
        wait_for(Duration::from_secs(5), || d.list().len() == 1),
        "log:\n{}",
        d.log_text()
    );
    // The third requests hello bans .82 too; nothing else is banned.
    d.append(&[tls_line("198.51.100.82", REQUESTS_NO_SNI, None)]);
    assert!(
        wait_for(Duration::from_secs(5), || d.list().len() == 2),
        "log:\n{}",
        d.log_text()
    );
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(d.banned_ips(), vec!["198.51.100.81", "198.51.100.82"]);
}
