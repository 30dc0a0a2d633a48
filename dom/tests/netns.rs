//! Root tests against the real kernel, each in a fresh network namespace:
//! eve lines become nftables / ipset elements with timeouts (read back with
//! `nft -j` / `ipset save`), IPv4 and IPv6; a flushed ruleset or set is
//! reconciled; allow / home_net never reach the kernel.
//! Without root or `ip netns`: a failure under CI, a loud skip elsewhere.

mod common;
// The sensor tests' prerequisite checks (CI makes a missing one a failure).
#[path = "../../sensor/tests/prereq/mod.rs"]
mod prereq;

mod netns_util;

use std::time::{Duration, Instant};

use common::*;
use netns_util::NetNs;
use serde_json::Value;

/// Elements of an nft set: (address, timeout secs, expires secs).
fn nft_elems(ns: &NetNs, table: &str, set: &str) -> Option<Vec<(String, u64, u64)>> {
    let (ok, out) = ns.exec(&["nft", "-j", "list", "set", "inet", table, set]);
    if !ok {
        return None;
    }
    let v: Value = serde_json::from_str(&out).ok()?;
    let mut res = Vec::new();
    for item in v["nftables"].as_array()? {
        let Some(elems) = item["set"]["elem"].as_array() else {
            continue;
        };
        for e in elems {
            let inner = &e["elem"];
            if let Some(ip) = inner["val"].as_str() {
                res.push((
                    ip.to_string(),
                    inner["timeout"].as_u64().unwrap_or(0),
                    inner["expires"].as_u64().unwrap_or(0),
                ));
            } else if let Some(ip) = e.as_str() {
                res.push((ip.to_string(), 0, 0));
            }
        }
    }
    Some(res)
}

/// Elements of an ipset: (address, timeout secs remaining).
fn ipset_elems(ns: &NetNs, set: &str) -> Option<Vec<(String, u64)>> {
    let (ok, out) = ns.exec(&["ipset", "save", set]);
    if !ok {
        return None;
    }
    Some(
        out.lines()
            .filter_map(|l| {
                let w: Vec<&str> = l.split_whitespace().collect();
                if w.first() != Some(&"add") {
                    return None;
                }
                let ip = w.get(2)?.to_string();
                let t = w
                    .iter()
                    .position(|x| *x == "timeout")
                    .and_then(|i| w.get(i + 1))
                    .and_then(|x| x.parse().ok())
                    .unwrap_or(0);
                Some((ip, t))
            })
            .collect(),
    )
}

fn lines() -> Vec<String> {
    vec![
        ssh_line("198.51.100.7", "libssh_0.9.6"),
        ssh_line("2001:db8::7", "libssh2_1.10.0"),
        ssh_line("::ffff:198.51.100.8", "PuTTY_Release_0.80"),
        ssh_line("203.0.113.7", "libssh_0.9.6"),
        ssh_line("127.0.0.1", "libssh_0.9.6"),
    ]
}

fn wait_value<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn nftables_elements_have_timeouts_and_survive_flush_ruleset() {
    let Some(ns) = NetNs::new("nft", &["nft"]) else {
        return;
    };
    let t = TmpDir::new("nft");
    std::fs::write(t.0.join("eve.json"), "").unwrap();
    let backend = "[[backend]]\nkind = \"nftables\"\nfamily = \"inet\"\ntable = \"mkdom\"\nset_v4 = \"bad4\"\nset_v6 = \"bad6\"\nmanage = true\n";
    let cfg = config(&t.0, "", "", &format!("{backend}{ISSUE_RULES}"));
    let mut d = Daemon::start_with(&t.0, &cfg, &ns.wrapper());
    let start = Instant::now();
    d.append(&lines());
    let complete =
        |v4: &[(String, u64, u64)], v6: &[(String, u64, u64)]| v4.len() == 2 && v6.len() == 1;
    let got = wait_value(Duration::from_secs(5), || {
        let v4 = nft_elems(&ns, "mkdom", "bad4")?;
        let v6 = nft_elems(&ns, "mkdom", "bad6")?;
        complete(&v4, &v6).then_some((v4, v6))
    });
    let (v4, v6) = got.unwrap_or_else(|| panic!("elements did not appear; log:\n{}", d.log_text()));
    eprintln!("line -> kernel within {:?}", start.elapsed());
    let find = |v: &[(String, u64, u64)], ip: &str| {
        v.iter()
            .find(|e| e.0 == ip)
            .cloned()
            .unwrap_or_else(|| panic!("{ip} missing in {v:?}"))
    };
    let (_, t7, e7) = find(&v4, "198.51.100.7");
    assert_eq!(t7, 3600, "libssh rule bans for 1h");
    assert!(e7 > 3500 && e7 <= 3600, "expires {e7}");
    let (_, t8, _) = find(&v4, "198.51.100.8");
    assert_eq!(
        t8, 600,
        "invert rule bans for 10m (mapped address folded to IPv4)"
    );
    let (_, t6, _) = find(&v6, "2001:db8::7");
    assert_eq!(t6, 3600);
    // Someone runs `nft flush ruleset`: recreated and refilled.
    assert!(ns.exec(&["nft", "flush", "ruleset"]).0);
    let back = wait_value(Duration::from_secs(6), || {
        let v4 = nft_elems(&ns, "mkdom", "bad4")?;
        let v6 = nft_elems(&ns, "mkdom", "bad6")?;
        complete(&v4, &v6).then_some(v4)
    });
    let v4 = back
        .unwrap_or_else(|| panic!("not reconciled after flush ruleset; log:\n{}", d.log_text()));
    let (_, _, e7) = find(&v4, "198.51.100.7");
    assert!(e7 > 3500, "re-added with its remaining time, got {e7}");
    // Elements deleted one by one are re-added too.
    assert!(
        ns.exec(&[
            "nft",
            "delete",
            "element",
            "inet",
            "mkdom",
            "bad6",
            "{ 2001:db8::7 }"
        ])
        .0
    );
    assert!(
        wait_value(Duration::from_secs(6), || nft_elems(&ns, "mkdom", "bad6")
            .filter(|v| v.len() == 1))
        .is_some(),
        "deleted element not re-added; log:\n{}",
        d.log_text()
    );
    // Unban removes from the kernel.
    assert!(d.cli(&["unban", "198.51.100.7"]).0);
    let v4 = nft_elems(&ns, "mkdom", "bad4").unwrap();
    assert!(v4.iter().all(|e| e.0 != "198.51.100.7"), "{v4:?}");
    // Restart: restored in one batch with the remaining time.
    d.stop();
    assert!(ns.exec(&["nft", "flush", "ruleset"]).0);
    let d = Daemon::start_with(&t.0, &cfg, &ns.wrapper());
    let v4 = wait_value(Duration::from_secs(5), || {
        nft_elems(&ns, "mkdom", "bad4").filter(|v| v.len() == 1)
    })
    .unwrap_or_else(|| panic!("not restored; log:\n{}", d.log_text()));
    assert_eq!(v4[0].0, "198.51.100.8");
    assert!(v4[0].2 > 500 && v4[0].2 <= 600, "{v4:?}");
}

#[test]
fn ipset_elements_have_timeouts_and_are_reconciled() {
    let Some(ns) = NetNs::new("ipset", &["ipset"]) else {
        return;
    };
    let t = TmpDir::new("ipset");
    std::fs::write(t.0.join("eve.json"), "").unwrap();
    let set4 = format!("mkd4-{}", std::process::id());
    let set6 = format!("mkd6-{}", std::process::id());
    let backend = format!(
        "[[backend]]\nkind = \"ipset\"\nset_v4 = \"{set4}\"\nset_v6 = \"{set6}\"\nmanage = true\n"
    );
    let cfg = config(&t.0, "", "", &format!("{backend}{ISSUE_RULES}"));
    let d = Daemon::start_with(&t.0, &cfg, &ns.wrapper());
    d.append(&lines());
    let got = wait_value(Duration::from_secs(5), || {
        let v4 = ipset_elems(&ns, &set4)?;
        let v6 = ipset_elems(&ns, &set6)?;
        (v4.len() == 2 && v6.len() == 1).then_some((v4, v6))
    });
    let (v4, v6) =
        got.unwrap_or_else(|| panic!("ipset elements did not appear; log:\n{}", d.log_text()));
    let t7 = v4
        .iter()
        .find(|e| e.0 == "198.51.100.7")
        .map(|e| e.1)
        .unwrap();
    assert!(t7 > 3500 && t7 <= 3600, "timeout {t7}");
    let t8 = v4
        .iter()
        .find(|e| e.0 == "198.51.100.8")
        .map(|e| e.1)
        .unwrap();
    assert!(t8 > 500 && t8 <= 600, "timeout {t8}");
    assert_eq!(v6[0].0, "2001:db8::7");
    assert!(v6[0].1 > 3500);
    // Elements go missing: re-added within a few seconds.
    assert!(ns.exec(&["ipset", "flush", &set4]).0);
    assert!(
        wait_value(Duration::from_secs(6), || ipset_elems(&ns, &set4)
            .filter(|v| v.len() == 2))
        .is_some(),
        "not reconciled; log:\n{}",
        d.log_text()
    );
    // The set itself is destroyed: recreated (manage = true).
    assert!(ns.exec(&["ipset", "destroy", &set6]).0);
    assert!(
        wait_value(Duration::from_secs(6), || ipset_elems(&ns, &set6)
            .filter(|v| v.len() == 1))
        .is_some(),
        "set not recreated; log:\n{}",
        d.log_text()
    );
}
