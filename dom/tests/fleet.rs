//! Fleet end-to-end tests: a real `redis-server` started here (temporary
//! directory, unix socket, `--save ''`), gateways as network namespaces,
//! each with its own nft table and its own meerkat-dom, and the kernel
//! sets read back with `nft -j`.
//!
//! A missing prerequisite (root, `ip netns`, `nft`, `redis-server`) fails
//! the test when `CI` is set or `MEERKAT_REQUIRE_ALL=1`, and is a loud skip
//! otherwise. Addresses are documentation ranges only.

mod common;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::redis_server::Redis;
use common::*;
use serde_json::Value;

fn strict() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && v != "false")
        || std::env::var("MEERKAT_REQUIRE_ALL").is_ok_and(|v| v == "1")
}

/// Fails (strict) or skips loudly; true = go on.
fn need(ok: bool, what: &str, test: &str) -> bool {
    if ok {
        return true;
    }
    if strict() {
        panic!("{test}: prerequisite missing: {what} (CI or MEERKAT_REQUIRE_ALL=1 makes this a failure)");
    }
    eprintln!(
        "\n*** SKIPPED {test}: {what} (set MEERKAT_REQUIRE_ALL=1 to make this a failure) ***\n"
    );
    false
}

fn have(cmd: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {cmd}"))
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn prerequisites(test: &str, netns: bool) -> bool {
    if !need(
        have("redis-server"),
        "redis-server not installed (apt-get install redis-server)",
        test,
    ) {
        return false;
    }
    if netns {
        return need(is_root(), "not root", test)
            && need(have("nft"), "nft not installed", test)
            && need(have("ip"), "ip (iproute2) not installed", test);
    }
    true
}

struct NetNs(String);

impl NetNs {
    fn new(tag: &str) -> NetNs {
        let name = format!("mkfl-{tag}-{}", std::process::id());
        let _ = Command::new("ip")
            .args(["netns", "del", &name])
            .stderr(Stdio::null())
            .status();
        let ok = Command::new("ip")
            .args(["netns", "add", &name])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "ip netns add {name} failed");
        NetNs(name)
    }

    fn wrapper(&self) -> Vec<&str> {
        vec!["ip", "netns", "exec", &self.0]
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

/// One gateway: a namespace, a directory, a meerkat-dom.
struct Gw {
    name: String,
    dir: PathBuf,
    cfg: String,
    d: Option<Daemon>,
    // Dropped last: the daemon runs inside it.
    ns: NetNs,
}

const BACKEND: &str = "[[backend]]\nkind = \"nftables\"\nfamily = \"inet\"\ntable = \"mkfl\"\nset_v4 = \"bad4\"\nset_v6 = \"bad6\"\nmanage = true\n";

impl Gw {
    /// `allow` adds to the allow list; `fleet_extra` goes into `[fleet]`.
    fn start(
        tag: &str,
        name: &str,
        root: &Path,
        redis: &Redis,
        allow: &[&str],
        fleet_extra: &str,
    ) -> Gw {
        Gw::start_url(tag, name, root, &redis.url(), allow, fleet_extra)
    }

    /// [`Gw::start`] with the Redis URL given.
    fn start_url(
        tag: &str,
        name: &str,
        root: &Path,
        url: &str,
        allow: &[&str],
        fleet_extra: &str,
    ) -> Gw {
        let dir = root.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("eve.json"), "").unwrap();
        let mut allow_list = vec!["127.0.0.0/8", "::1/128"];
        allow_list.extend_from_slice(allow);
        let allow_toml: Vec<String> = allow_list.iter().map(|a| format!("\"{a}\"")).collect();
        let cfg = format!(
            "allow = [{allow}]\nhome_net = [\"203.0.113.0/24\"]\n[input]\neve = \"{eve}\"\npoll_interval = \"200ms\"\n[state]\ndir = \"{state}\"\n[control]\nsocket = \"{sock}\"\n[daemon]\ndetect_own = false\nreconcile_interval = \"1s\"\n[fleet]\nurl = \"{url}\"\nname = \"{name}\"\n{fleet_extra}\n{BACKEND}{ISSUE_RULES}",
            allow = allow_toml.join(", "),
            eve = dir.join("eve.json").display(),
            state = dir.join("state").display(),
            sock = dir.join("dom.sock").display(),
        );
        let ns = NetNs::new(&format!("{tag}{}", name.trim_start_matches("gw")));
        let mut g = Gw {
            name: name.into(),
            dir,
            cfg,
            d: None,
            ns,
        };
        g.restart();
        g
    }

    fn restart(&mut self) {
        let d = Daemon::start_with(&self.dir, &self.cfg, &self.ns.wrapper());
        self.d = Some(d);
        // Connected, and the first batch (at least the start position) is
        // applied and its cursor saved.
        let up = wait_for(Duration::from_secs(15), || {
            let s = self.status();
            s["fleet_state"].as_str() == Some("connected")
                && s["fleet_cursor"].as_str().is_some_and(|c| !c.is_empty())
        });
        assert!(
            up,
            "{} never connected to Redis; log:\n{}",
            self.name,
            self.log()
        );
    }

    fn stop(&mut self) {
        if let Some(mut d) = self.d.take() {
            d.stop();
        }
    }

    fn d(&self) -> &Daemon {
        self.d.as_ref().expect("daemon running")
    }

    fn status(&self) -> Value {
        self.d().status()
    }

    fn stat(&self, k: &str) -> u64 {
        self.status()[k].as_u64().unwrap_or(0)
    }

    fn log(&self) -> String {
        self.d.as_ref().map(|d| d.log_text()).unwrap_or_default()
    }

    fn cli_ok(&self, args: &[&str]) {
        let (ok, out, err) = self.d().cli(args);
        assert!(ok, "{} {args:?}: {out}{err}", self.name);
    }

    /// Elements of one set: address -> seconds left.
    fn elems(&self, set: &str) -> HashMap<String, u64> {
        let out = Command::new("ip")
            .args([
                "netns", "exec", &self.ns.0, "nft", "-j", "list", "set", "inet", "mkfl", set,
            ])
            .output()
            .expect("nft");
        let mut res = HashMap::new();
        let Ok(v) = serde_json::from_slice::<Value>(&out.stdout) else {
            return res;
        };
        for item in v["nftables"].as_array().into_iter().flatten() {
            for e in item["set"]["elem"].as_array().into_iter().flatten() {
                let inner = &e["elem"];
                if let Some(ip) = inner["val"].as_str() {
                    res.insert(ip.to_string(), inner["expires"].as_u64().unwrap_or(0));
                } else if let Some(ip) = e.as_str() {
                    res.insert(ip.to_string(), 0);
                }
            }
        }
        res
    }

    fn all_elems(&self) -> HashMap<String, u64> {
        let mut m = self.elems("bad4");
        m.extend(self.elems("bad6"));
        m
    }

    /// Waits until `ip` is in a set with more than `min_left` seconds left.
    fn wait_ban(&self, ip: &str, min_left: u64) -> u64 {
        let mut last = None;
        let ok = wait_for(Duration::from_secs(15), || {
            last = self.all_elems().get(ip).copied();
            last.is_some_and(|l| l > min_left)
        });
        assert!(
            ok,
            "{}: {ip} not in the set with > {min_left}s left (got {last:?}); log:\n{}",
            self.name,
            self.log()
        );
        last.unwrap_or(0)
    }

    fn wait_gone(&self, ip: &str) {
        let ok = wait_for(Duration::from_secs(15), || {
            !self.all_elems().contains_key(ip)
        });
        assert!(
            ok,
            "{}: {ip} still in the set; log:\n{}",
            self.name,
            self.log()
        );
    }

    fn wait_stat(&self, k: &str, at_least: u64) {
        let mut v = 0;
        let ok = wait_for(Duration::from_secs(30), || {
            v = self.stat(k);
            v >= at_least
        });
        assert!(
            ok,
            "{}: {k} = {v}, waited for >= {at_least}; log:\n{}",
            self.name,
            self.log()
        );
    }

    fn append(&self, lines: &[String]) {
        self.d().append(lines);
    }
}

/// Entries of `mk:bans`, decoded: (origin, op, ip, until_ms, id).
fn decisions(r: &Redis) -> Vec<(String, String, String, u64, String)> {
    r.xrange("mk:bans")
        .into_iter()
        .map(|(_, f)| {
            let d: Value = serde_json::from_str(f.get("d").expect("field d")).expect("d is JSON");
            assert_eq!(d["v"], 1);
            (
                d["origin"].as_str().unwrap_or("").to_string(),
                d["op"].as_str().unwrap_or("").to_string(),
                d["ip"].as_str().unwrap_or("").to_string(),
                d["until_ms"].as_u64().unwrap_or(0),
                d["id"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

fn zscore(r: &Redis, ip: &str) -> Option<f64> {
    match r.cmd(&["ZSCORE", "mk:active", ip]) {
        redis::Value::BulkString(b) => String::from_utf8_lossy(&b).parse().ok(),
        redis::Value::Double(f) => Some(f),
        _ => None,
    }
}

#[test]
fn fleet_ban_extension_unban_propagate_and_never_loop() {
    let test = "fleet_ban_extension_unban_propagate_and_never_loop";
    if !prerequisites(test, true) {
        return;
    }
    let t = TmpDir::new("fleet-prop");
    let r = Redis::start(&t.0);
    let gw1 = Gw::start("p", "gw1", &t.0, &r, &[], "");
    let gw2 = Gw::start("p", "gw2", &t.0, &r, &[], "");
    let gw3 = Gw::start("p", "gw3", &t.0, &r, &[], "");

    // A heuristic ban on gw1 (libssh rule: 1h) is in gw2's and gw3's sets
    // with the right remaining time.
    gw1.append(&[ssh_line("198.51.100.7", "libssh_0.9.6")]);
    for g in [&gw1, &gw2, &gw3] {
        let left = g.wait_ban("198.51.100.7", 3500);
        assert!(left <= 3600, "{}: {left}s left of a 1h ban", g.name);
    }
    // Operator ban, then an extension.
    gw1.cli_ok(&["ban", "198.51.100.20", "--for", "2h"]);
    for g in [&gw2, &gw3] {
        g.wait_ban("198.51.100.20", 7000);
    }
    gw1.cli_ok(&["ban", "198.51.100.20", "--for", "5h"]);
    for g in [&gw2, &gw3] {
        g.wait_ban("198.51.100.20", 17_500);
    }
    // A shorter ban never shortens a longer one (in the sets or in the
    // active set).
    let received = gw2.stat("fleet_received");
    gw1.cli_ok(&["ban", "198.51.100.20", "--for", "10m"]);
    gw2.wait_stat("fleet_received", received + 1);
    gw3.wait_stat("fleet_not_longer", 1);
    for g in [&gw2, &gw3] {
        let left = g.all_elems()["198.51.100.20"];
        assert!(left > 17_500, "{}: shortened to {left}s", g.name);
        assert!(g.stat("fleet_not_longer") >= 1);
    }
    let score = zscore(&r, "198.51.100.20").expect("in mk:active");
    assert!(
        score > (now_ms() + 17_500_000) as f64,
        "mk:active lowered: {score}"
    );
    // IPv6, decided on gw2, reaches gw1 and gw3.
    gw2.cli_ok(&["ban", "2001:db8::66", "--for", "1h"]);
    for g in [&gw1, &gw3] {
        g.wait_ban("2001:db8::66", 3500);
    }
    // Unban propagates.
    gw1.cli_ok(&["unban", "198.51.100.20"]);
    for g in [&gw2, &gw3] {
        g.wait_gone("198.51.100.20");
    }
    assert!(
        zscore(&r, "198.51.100.20").is_none(),
        "unban removes from mk:active"
    );
    gw3.wait_stat("fleet_received", 6);

    // Exactly one entry per local decision: 5 on gw1, 1 on gw2, none on
    // gw3, none applied-and-republished.
    let d = decisions(&r);
    let by = |o: &str| d.iter().filter(|x| x.0 == o).count();
    assert_eq!(by("gw1"), 5, "{d:?}");
    assert_eq!(by("gw2"), 1, "{d:?}");
    assert_eq!(by("gw3"), 0, "{d:?}");
    assert_eq!(d.len(), 6, "{d:?}");
    let ids: HashSet<&String> = d.iter().map(|x| &x.4).collect();
    assert_eq!(ids.len(), d.len(), "ids are unique");
    let ops: Vec<&str> = d
        .iter()
        .filter(|x| x.0 == "gw1")
        .map(|x| x.1.as_str())
        .collect();
    assert_eq!(ops, ["ban", "ban", "ban", "ban", "unban"]);
    for g in [&gw1, &gw2, &gw3] {
        assert_eq!(g.stat("fleet_bad_entries"), 0);
        assert_eq!(g.stat("fleet_queue_overflow"), 0);
    }
    assert_eq!(
        gw2.stat("fleet_own"),
        1,
        "gw2 saw its own entry and skipped it"
    );
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

fn v6(prefix: &str, i: usize) -> String {
    format!("{prefix}{i:x}")
}

#[test]
fn fleet_stopped_gateway_catches_up_from_stream_and_from_snapshot() {
    let test = "fleet_stopped_gateway_catches_up_from_stream_and_from_snapshot";
    if !prerequisites(test, true) {
        return;
    }
    let t = TmpDir::new("fleet-catchup");
    let r = Redis::start(&t.0);
    let unlimited = "max_bans_per_minute_per_origin = 0";
    let gw1 = Gw::start("c", "gw1", &t.0, &r, &[], unlimited);
    let mut gw3 = Gw::start("c", "gw3", &t.0, &r, &[], unlimited);
    gw3.stop();

    // 1,000 bans while gw3 is down, plus 5 that expire before it is back.
    let lines: Vec<String> = (1..=1000)
        .map(|i| ssh_line(&v6("2001:db8:c0::", i), "libssh_0.9.6"))
        .collect();
    gw1.append(&lines);
    for i in 50..55 {
        gw1.cli_ok(&["ban", &format!("198.51.100.{i}"), "--for", "1s"]);
    }
    gw1.wait_stat("fleet_published", 1005);
    let t_short = now_ms();
    assert!(wait_for(Duration::from_secs(10), || now_ms() > t_short + 1500));

    gw3.restart();
    let ok = wait_for(Duration::from_secs(30), || gw3.elems("bad6").len() >= 1000);
    assert!(
        ok,
        "gw3 has {} of 1000; log:\n{}",
        gw3.elems("bad6").len(),
        gw3.log()
    );
    gw3.wait_stat("fleet_expired_on_arrival", 5);
    assert_eq!(gw3.elems("bad6").len(), 1000);
    assert!(
        gw3.elems("bad4").is_empty(),
        "expired bans resurrected: {:?}",
        gw3.elems("bad4")
    );
    assert_eq!(
        gw3.stat("fleet_snapshot_loads"),
        0,
        "caught up from the stream"
    );

    // Snapshot path: gw3 down again, 1,000 more bans, one earlier ban
    // lifted, 3 short ones expired, then the stream trimmed past gw3's
    // cursor.
    gw3.stop();
    let lines: Vec<String> = (1..=1000)
        .map(|i| ssh_line(&v6("2001:db8:c1::", i), "libssh_0.9.6"))
        .collect();
    gw1.append(&lines);
    gw1.cli_ok(&["unban", "2001:db8:c0::1"]);
    for i in 60..63 {
        gw1.cli_ok(&["ban", &format!("198.51.100.{i}"), "--for", "1s"]);
    }
    gw1.wait_stat("fleet_published", 2009);
    let t_short = now_ms();
    assert!(wait_for(Duration::from_secs(10), || now_ms() > t_short + 1500));
    let before = r.xrange("mk:bans").len();
    assert_eq!(before, 2009, "one entry per local decision");
    r.cmd(&["XTRIM", "mk:bans", "MAXLEN", "0"]);

    gw3.restart();
    let ok = wait_for(Duration::from_secs(30), || gw3.elems("bad6").len() == 1999);
    assert!(
        ok,
        "gw3 has {} of 1999; log:\n{}",
        gw3.elems("bad6").len(),
        gw3.log()
    );
    let s = gw3.status();
    assert_eq!(s["fleet_snapshot_loads"], 1, "{s}");
    let e = gw3.all_elems();
    assert!(
        !e.contains_key("2001:db8:c0::1"),
        "a ban lifted while gw3 was away stays lifted"
    );
    assert!(e.get("2001:db8:c1::3e8").is_some_and(|l| *l > 3000));
    assert!(gw3.elems("bad4").is_empty(), "expired bans resurrected");
    // gw3 published nothing across its restarts.
    assert!(decisions(&r).iter().all(|d| d.0 == "gw1"));
    assert_eq!(gw3.stat("fleet_published"), 0);
}

#[test]
fn fleet_trust_checks_and_per_origin_rate_limit() {
    let test = "fleet_trust_checks_and_per_origin_rate_limit";
    if !prerequisites(test, true) {
        return;
    }
    let t = TmpDir::new("fleet-trust");
    let r = Redis::start(&t.0);
    let gw1 = Gw::start("t", "gw1", &t.0, &r, &[], "");
    let gw2 = Gw::start("t", "gw2", &t.0, &r, &["198.51.100.99/32"], "");
    let gw3 = Gw::start(
        "t",
        "gw3",
        &t.0,
        &r,
        &[],
        "max_bans_per_minute_per_origin = 50",
    );

    // In gw2's allow list: refused on gw2, applied on gw3.
    gw1.cli_ok(&["ban", "198.51.100.99", "--for", "1h"]);
    gw3.wait_ban("198.51.100.99", 3500);
    gw2.wait_stat("fleet_refused", 1);
    assert!(!gw2.all_elems().contains_key("198.51.100.99"));
    // An ordinary one reaches both.
    gw3.wait_ban("198.51.100.99", 3500);
    gw1.cli_ok(&["ban", "2001:db8:1::1", "--for", "1h"]);
    gw2.wait_ban("2001:db8:1::1", 3500);

    // A burst of 80 from gw1: gw2 (limit 1000/min) takes all, gw3 (50/min)
    // takes 50 in all (2 used above), the rest is cut and counted.
    let lines: Vec<String> = (1..=80)
        .map(|i| ssh_line(&v6("2001:db8:b0::", i), "libssh_0.9.6"))
        .collect();
    gw1.append(&lines);
    gw2.wait_stat("fleet_received", 82);
    gw3.wait_stat("fleet_received", 82);
    let ok = wait_for(Duration::from_secs(10), || gw2.elems("bad6").len() == 81);
    assert!(ok, "gw2 has {} of 81", gw2.elems("bad6").len());
    let s3 = gw3.status();
    assert_eq!(s3["fleet_rate_limited"], 32, "{s3}");
    assert_eq!(s3["fleet_applied"], 50, "{s3}");
    assert_eq!(gw3.elems("bad6").len(), 49);
    assert_eq!(gw2.stat("fleet_rate_limited"), 0);
}

#[test]
fn fleet_redis_down_local_bans_enforced_then_published() {
    let test = "fleet_redis_down_local_bans_enforced_then_published";
    if !prerequisites(test, true) {
        return;
    }
    let t = TmpDir::new("fleet-down");
    let mut r = Redis::start(&t.0);
    let gw1 = Gw::start("d", "gw1", &t.0, &r, &[], "");
    let gw2 = Gw::start("d", "gw2", &t.0, &r, &[], "");
    r.kill();
    gw1.append(&[
        ssh_line("198.51.100.31", "libssh_0.9.6"),
        ssh_line("198.51.100.32", "libssh_0.9.6"),
        ssh_line("198.51.100.33", "libssh_0.9.6"),
    ]);
    gw2.append(&[ssh_line("198.51.100.41", "libssh_0.9.6")]);
    // Local enforcement does not wait for Redis.
    for ip in ["198.51.100.31", "198.51.100.32", "198.51.100.33"] {
        gw1.wait_ban(ip, 3500);
    }
    gw2.wait_ban("198.51.100.41", 3500);
    gw1.wait_stat("fleet_queued", 3);
    assert_eq!(gw1.status()["fleet_state"], "disconnected");
    assert!(!gw2.all_elems().contains_key("198.51.100.31"));
    // Control requests are answered while Redis is away.
    assert!(gw1.d().try_status().is_some());

    r.spawn();
    for ip in ["198.51.100.31", "198.51.100.32", "198.51.100.33"] {
        gw2.wait_ban(ip, 3400);
    }
    gw1.wait_ban("198.51.100.41", 3400);
    gw1.wait_stat("fleet_published", 3);
    assert_eq!(gw1.stat("fleet_queued"), 0);
    assert_eq!(gw1.stat("fleet_queue_overflow"), 0);
    let d = decisions(&r);
    assert_eq!(d.len(), 4, "{d:?}");
}

/// A unix-socket relay in front of Redis that, once armed, loses the reply
/// of the next transaction: it forwards the request that ends with `EXEC`,
/// lets Redis run it, relays nothing more to that client and closes both
/// sides (what a connection dropping right after the server applied a
/// MULTI looks like to the client).
struct ReplyCutter {
    path: PathBuf,
    armed: std::sync::Arc<std::sync::atomic::AtomicBool>,
    cuts: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl ReplyCutter {
    fn start(path: &Path, upstream: &Path) -> ReplyCutter {
        use std::io::{Read, Write};
        use std::os::unix::net::{UnixListener, UnixStream};
        use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
        use std::sync::Arc;
        let _ = std::fs::remove_file(path);
        let l = UnixListener::bind(path).expect("bind the relay socket");
        let armed = Arc::new(AtomicBool::new(false));
        let cuts = Arc::new(AtomicU64::new(0));
        let (a, c, up) = (armed.clone(), cuts.clone(), upstream.to_path_buf());
        std::thread::spawn(move || {
            for client in l.incoming() {
                let Ok(mut client) = client else { return };
                let Ok(mut server) = UnixStream::connect(&up) else {
                    continue;
                };
                let muted = Arc::new(AtomicBool::new(false));
                let (mut c2, mut s2, m2) = (
                    client.try_clone().unwrap(),
                    server.try_clone().unwrap(),
                    muted.clone(),
                );
                std::thread::spawn(move || {
                    let mut buf = vec![0u8; 65536];
                    while let Ok(n) = s2.read(&mut buf) {
                        if n == 0 || m2.load(Ordering::SeqCst) || c2.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                });
                let (a, c) = (a.clone(), c.clone());
                std::thread::spawn(move || {
                    const EXEC: &[u8] = b"$4\r\nEXEC\r\n";
                    let mut buf = vec![0u8; 65536];
                    let mut tail: Vec<u8> = Vec::new();
                    loop {
                        let n = match client.read(&mut buf) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        tail.extend_from_slice(&buf[..n]);
                        let exec = tail.windows(EXEC.len()).any(|w| w == EXEC);
                        let cut = exec && a.swap(false, Ordering::SeqCst);
                        if cut {
                            muted.store(true, Ordering::SeqCst);
                        }
                        if server.write_all(&buf[..n]).is_err() {
                            break;
                        }
                        if cut {
                            std::thread::sleep(Duration::from_millis(300));
                            c.fetch_add(1, Ordering::SeqCst);
                            let _ = server.shutdown(std::net::Shutdown::Both);
                            let _ = client.shutdown(std::net::Shutdown::Both);
                            break;
                        }
                        let keep = tail.len().saturating_sub(EXEC.len() - 1);
                        tail.drain(..keep);
                    }
                });
            }
        });
        ReplyCutter {
            path: path.to_path_buf(),
            armed,
            cuts,
        }
    }

    fn url(&self) -> String {
        format!("unix://{}", self.path.display())
    }
}

#[test]
fn fleet_lost_reply_is_not_published_twice() {
    use std::sync::atomic::Ordering;
    let test = "fleet_lost_reply_is_not_published_twice";
    if !prerequisites(test, true) {
        return;
    }
    let t = TmpDir::new("fleet-cut");
    let r = Redis::start(&t.0);
    let relay = ReplyCutter::start(&t.0.join("relay.sock"), &r.sock);
    let extra = "max_bans_per_minute_per_origin = 0";
    let gw1 = Gw::start_url("x", "gw1", &t.0, &relay.url(), &[], extra);
    let gw2 = Gw::start("x", "gw2", &t.0, &r, &[], extra);
    // A burst (several MULTIs in flight); the connection of the first one
    // drops after Redis applied it, before its reply arrived.
    relay.armed.store(true, Ordering::SeqCst);
    let n = 3000;
    let lines: Vec<String> = (1..=n)
        .map(|i| ssh_line(&v6("2001:db8:c0::", i), "libssh_0.9.6"))
        .collect();
    gw1.append(&lines);
    gw1.wait_stat("fleet_published", n as u64);
    gw2.wait_stat("fleet_applied", n as u64);
    assert_eq!(relay.cuts.load(Ordering::SeqCst), 1, "{}", gw1.log());
    let log = gw1.log();
    assert!(
        log.contains("Redis connection lost while publishing"),
        "{log}"
    );
    assert!(log.contains("not sent again"), "{log}");
    let d = decisions(&r);
    let ids: HashSet<&str> = d.iter().map(|x| x.4.as_str()).collect();
    let ips: HashSet<&str> = d.iter().map(|x| x.2.as_str()).collect();
    assert_eq!(d.len(), n, "one entry per decision, no duplicates");
    assert_eq!(ids.len(), n);
    assert_eq!(ips.len(), n);
    assert_eq!(gw1.stat("fleet_published"), n as u64);
    assert_eq!(gw1.stat("fleet_queued"), 0);
    assert_eq!(gw2.elems("bad6").len(), n);
    let zcard = r.cmd(&["ZCARD", "mk:active"]);
    assert_eq!(zcard, redis::Value::Int(n as i64));
}

#[test]
fn input_from_a_redis_stream_with_its_own_cursor() {
    let test = "input_from_a_redis_stream_with_its_own_cursor";
    if !prerequisites(test, false) {
        return;
    }
    let t = TmpDir::new("fleet-input");
    let r = Redis::start(&t.0);
    // Already in the stream before the daemon's first start: not judged
    // (no saved cursor = start at the end).
    r.cmd(&[
        "XADD",
        "suricata",
        "MAXLEN",
        "~",
        "1000",
        "*",
        "eve",
        &ssh_line("198.51.100.70", "libssh_0.9.6"),
    ]);
    let cfg = format!(
        "allow = [\"127.0.0.0/8\"]\n[input]\nredis = {{ url = \"{}\", key = \"suricata\" }}\n[state]\ndir = \"{}\"\n[control]\nsocket = \"{}\"\n[daemon]\ndetect_own = false\n{}{}",
        r.url(),
        t.0.join("state").display(),
        t.0.join("dom.sock").display(),
        dry_run_backend(),
        ISSUE_RULES
    );
    let mut d = Daemon::start(&t.0, &cfg);
    assert!(wait_for(Duration::from_secs(10), || d.status()
        ["input_connected"]
        == true));
    r.cmd(&["XADD", "suricata", "MAXLEN", "~", "1000", "*", "other", "x"]);
    r.cmd(&[
        "XADD",
        "suricata",
        "MAXLEN",
        "~",
        "1000",
        "*",
        "eve",
        "{not json",
    ]);
    r.cmd(&[
        "XADD",
        "suricata",
        "MAXLEN",
        "~",
        "1000",
        "*",
        "eve",
        &ssh_line("198.51.100.71", "libssh_0.9.6"),
    ]);
    assert!(
        wait_for(Duration::from_secs(10), || d
            .banned_ips()
            .contains(&"198.51.100.71".to_string())),
        "not banned; log:\n{}",
        d.log_text()
    );
    let s = d.status();
    assert_eq!(s["input_bad_entries"], 1, "{s}");
    assert_eq!(s["skipped_invalid_json"], 1, "{s}");
    assert!(!d.banned_ips().contains(&"198.51.100.70".to_string()));
    d.stop();
    // Restart: resumes after what was read (no replay), reads what came
    // in meanwhile.
    r.cmd(&[
        "XADD",
        "suricata",
        "MAXLEN",
        "~",
        "1000",
        "*",
        "eve",
        &ssh_line("198.51.100.72", "libssh_0.9.6"),
    ]);
    let d = Daemon::start(&t.0, &cfg);
    assert!(
        wait_for(Duration::from_secs(10), || d
            .banned_ips()
            .contains(&"198.51.100.72".to_string())),
        "event written while stopped not read; log:\n{}",
        d.log_text()
    );
    let s = d.status();
    assert_eq!(s["events"], 1, "replayed after restart: {s}");
    assert_eq!(
        d.banned_ips(),
        vec!["198.51.100.71".to_string(), "198.51.100.72".to_string()]
    );
}

/// Gateways reaching Redis over `rediss://` (rustls) with a private CA.
#[test]
fn fleet_over_tls_with_a_private_ca() {
    let test = "fleet_over_tls_with_a_private_ca";
    if !prerequisites(test, false)
        || !need(
            have("openssl"),
            "openssl (to make a test CA) not installed",
            test,
        )
    {
        return;
    }
    let t = TmpDir::new("fleet-tls");
    let dir = &t.0;
    let sh = |cmd: &str| {
        let ok = Command::new("sh")
            .arg("-c")
            .arg(cmd)
            .current_dir(dir)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "{cmd}");
    };
    let ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
    sh(&format!(
        "openssl req -x509 {ec} -keyout ca.key -out ca.crt -days 2 -subj /CN=mk-test-ca"
    ));
    sh(&format!(
        "openssl req {ec} -keyout srv.key -out srv.csr -subj /CN=127.0.0.1"
    ));
    std::fs::write(dir.join("ext"), "subjectAltName=IP:127.0.0.1\n").unwrap();
    sh("openssl x509 -req -in srv.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out srv.crt -days 2 -extfile ext");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new("redis-server")
        .args([
            "--port",
            "0",
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .args(["--tls-port", &port.to_string(), "--tls-auth-clients", "no"])
        .args([
            "--tls-cert-file",
            "srv.crt",
            "--tls-key-file",
            "srv.key",
            "--tls-ca-cert-file",
            "ca.crt",
        ])
        .arg("--dir")
        .arg(dir)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("redis-server");
    struct Kill<'a>(&'a mut Child);
    impl Drop for Kill<'_> {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _guard = Kill(&mut child);
    let gw = |name: &str| {
        let d = dir.join(name);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("eve.json"), "").unwrap();
        let cfg = config(
            &d,
            "",
            "",
            &format!(
                "[fleet]\nurl = \"rediss://127.0.0.1:{port}\"\nname = \"{name}\"\ntls_ca_file = \"{}\"\n{}{ISSUE_RULES}",
                dir.join("ca.crt").display(),
                dry_run_backend()
            ),
        );
        let dm = Daemon::start(&d, &cfg);
        let up = wait_for(Duration::from_secs(15), || {
            let s = dm.status();
            s["fleet_state"] == "connected"
                && s["fleet_cursor"].as_str().is_some_and(|c| !c.is_empty())
        });
        assert!(
            up,
            "{name} did not connect over TLS: {}\n{}",
            dm.status(),
            dm.log_text()
        );
        dm
    };
    let a = gw("gw1");
    let b = gw("gw2");
    let (ok, _, err) = a.cli(&["ban", "198.51.100.77", "--for", "1h"]);
    assert!(ok, "{err}");
    assert!(
        wait_for(Duration::from_secs(10), || b
            .banned_ips()
            .contains(&"198.51.100.77".to_string())),
        "not propagated over TLS; log:\n{}",
        b.log_text()
    );
}
