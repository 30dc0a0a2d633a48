//! Faults 5 and 6 of the reliability issue, against the real `meerkat-dom`
//! binary and the real kernel sets, each test in its own network namespace:
//!
//! * 5: `kill -9` of meerkat-dom three times in the middle of a 20,000-event
//!   burst (SSH events of many distinct bad hosts, IPv4 and IPv6), each time
//!   restarted: every bad host is banned, exactly once in the state, the ban
//!   journal, the ban log and the nftables sets; no good or protected host
//!   is; each restart resumes at its saved read position.
//! * 6: `nft flush ruleset` (nftables backend) and `ipset destroy` (ipset
//!   backend) during a burst: every ban comes back (reconciliation), nothing
//!   is lost; the time until the kernel holds every ban again is printed
//!   (limit 10 s).
//!
//! Without root, `ip netns`, `nft` or `ipset`: a failure under CI (or
//! `MEERKAT_REQUIRE_ALL=1`), a loud skip elsewhere. Addresses are
//! documentation ranges only, and nothing is sent on any network.

mod common;
// The sensor tests' prerequisite checks (CI makes a missing one a failure).
#[path = "../../sensor/tests/prereq/mod.rs"]
mod prereq;

mod netns_util;

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use netns_util::NetNs;
use serde_json::Value;

/// Events in a burst.
const BURST: usize = 20_000;
/// The burst is written in chunks of this many lines (about one read batch
/// of the daemon, `batch_max` 4096) ...
const CHUNK: usize = 4_000;
/// ... one every this often (8,000 events/s; a burst lasts 2.5 s).
const PACE: Duration = Duration::from_millis(500);

/// The tests of this file run one after the other: each pushes 20,000
/// events through a daemon and the kernel, and the recovery time is a
/// figure worth reading only without the others' load.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// The n-th distinct bad host: 508 IPv4 addresses, then IPv6.
fn bad_host(n: usize) -> IpAddr {
    match n {
        0..254 => IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1 + n as u8)),
        254..508 => IpAddr::V4(Ipv4Addr::new(198, 51, 100, 1 + (n - 254) as u8)),
        _ => IpAddr::V6(Ipv6Addr::new(
            0x2001,
            0xdb8,
            0xbad,
            (n >> 16) as u16,
            n as u16,
            0,
            0,
            1,
        )),
    }
}

struct Burst {
    lines: Vec<String>,
    /// Hosts that must end up banned (each appears in exactly one event).
    bad: BTreeSet<IpAddr>,
    /// Hosts that must not: OpenSSH clients, and bad clients in home_net.
    good: BTreeSet<IpAddr>,
}

/// 20,000 SSH events: 9 in 10 from a bad client (libssh, libssh2, PuTTY:
/// banned by the rules), 1 in 10 from OpenSSH (not banned), and 1
/// in 100 a bad client inside home_net (refused by the guard).
fn burst() -> Burst {
    let mut b = Burst {
        lines: Vec::with_capacity(BURST),
        bad: BTreeSet::new(),
        good: BTreeSet::new(),
    };
    let clients = ["libssh_0.9.6", "libssh2_1.10.0", "PuTTY_Release_0.80"];
    for i in 0..BURST {
        if i % 10 == 9 {
            let ip = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0x600d, 0, 0, 0, 0, i as u16));
            b.good.insert(ip);
            b.lines.push(ssh_line(&ip.to_string(), "OpenSSH_9.2p1"));
        } else if i % 100 == 50 {
            let ip = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 1 + (i / 100 % 254) as u8));
            b.good.insert(ip);
            b.lines.push(ssh_line(&ip.to_string(), "libssh_0.9.6"));
        } else {
            let ip = bad_host(b.bad.len());
            b.bad.insert(ip);
            b.lines
                .push(ssh_line(&ip.to_string(), clients[i % clients.len()]));
        }
    }
    b
}

/// Writes the burst to `eve` in paced chunks on a thread; `done` is set
/// when the last line is written.
fn write_paced(
    eve: &Path,
    lines: Vec<String>,
    done: Arc<AtomicBool>,
) -> std::thread::JoinHandle<()> {
    let eve = eve.to_path_buf();
    std::thread::spawn(move || {
        for chunk in lines.chunks(CHUNK) {
            append(&eve, chunk);
            std::thread::sleep(PACE);
        }
        done.store(true, Ordering::Release);
    })
}

/// Our config with the daemon defaults (reconcile every 2 s): the recovery
/// time is measured as a gateway would see it.
fn dom_config(dir: &Path, backend: &str) -> String {
    format!(
        "allow = [\"127.0.0.0/8\", \"::1/128\"]\nhome_net = [\"203.0.113.0/24\"]\n\
         [input]\neve = \"{eve}\"\nstart_at = \"saved\"\n\
         [state]\ndir = \"{state}\"\n[control]\nsocket = \"{sock}\"\n\
         [daemon]\ndetect_own = false\n{backend}{ISSUE_RULES}",
        eve = dir.join("eve.json").display(),
        state = dir.join("state").display(),
        sock = dir.join("dom.sock").display(),
    )
}

const NFT_BACKEND: &str = "[[backend]]\nkind = \"nftables\"\nfamily = \"inet\"\ntable = \"mkdom\"\nset_v4 = \"bad4\"\nset_v6 = \"bad6\"\nmanage = true\n";

/// Addresses in the nft sets `bad4` and `bad6` of table `inet mkdom`;
/// `None` when the table or a set does not exist.
fn nft_set(ns: &NetNs) -> Option<BTreeSet<IpAddr>> {
    let mut all = BTreeSet::new();
    for set in ["bad4", "bad6"] {
        let (ok, out) = ns.exec(&["nft", "-j", "list", "set", "inet", "mkdom", set]);
        if !ok {
            return None;
        }
        let v: Value = serde_json::from_str(&out).ok()?;
        for item in v["nftables"].as_array()? {
            for e in item["set"]["elem"].as_array().into_iter().flatten() {
                let ip = e["elem"]["val"].as_str().or(e.as_str())?;
                all.insert(ip.parse().ok()?);
            }
        }
    }
    Some(all)
}

/// Addresses in the ipsets `set4` and `set6`; `None` when one is missing.
fn ipsets(ns: &NetNs, set4: &str, set6: &str) -> Option<BTreeSet<IpAddr>> {
    let mut all = BTreeSet::new();
    for set in [set4, set6] {
        let (ok, out) = ns.exec(&["ipset", "save", set]);
        if !ok {
            return None;
        }
        for l in out.lines() {
            let w: Vec<&str> = l.split_whitespace().collect();
            if w.first() == Some(&"add") {
                all.insert(w.get(2)?.parse().ok()?);
            }
        }
    }
    Some(all)
}

/// Lines of the ban journal (a cheap progress measure).
fn journal_lines(dir: &Path) -> usize {
    std::fs::read(dir.join("state").join("bans.jsonl"))
        .map(|b| b.iter().filter(|c| **c == b'\n').count())
        .unwrap_or(0)
}

/// How often each address has a `ban` record in the journal.
fn journal_bans(dir: &Path) -> BTreeMap<IpAddr, usize> {
    let text = std::fs::read_to_string(dir.join("state").join("bans.jsonl")).unwrap_or_default();
    let mut m = BTreeMap::new();
    for l in text.lines() {
        let Ok(v) = serde_json::from_str::<Value>(l) else {
            panic!("damaged journal line: {l:?}");
        };
        if v["op"] == "ban" {
            let ip: IpAddr = v["ip"].as_str().unwrap_or("").parse().expect("journal ip");
            *m.entry(ip).or_insert(0) += 1;
        }
    }
    m
}

/// The daemon's log files in `dir` (one per start), oldest first.
fn logs(dir: &Path) -> Vec<String> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("daemon-") && n.ends_with(".log"))
        })
        .collect();
    files.sort();
    files
        .iter()
        .map(|p| strip_ansi(&std::fs::read_to_string(p).unwrap_or_default()))
        .collect()
}

/// The text without ANSI colour sequences (`ESC [ ... m`).
fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c == '\u{1b}' {
            for d in it.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// How often each address has a `ban <ip> for …` line in the logs:
/// (decided, written again at start-up because a kill cut the write of
/// its batch's lines short).
fn logged_bans(logs: &[String]) -> BTreeMap<IpAddr, (usize, usize)> {
    let mut m = BTreeMap::new();
    for l in logs.iter().flat_map(|t| t.lines()) {
        let w: Vec<&str> = l.split_whitespace().collect();
        for i in 0..w.len().saturating_sub(2) {
            if w[i] == "ban" && w[i + 2] == "for" {
                if let Ok(ip) = w[i + 1].parse::<IpAddr>() {
                    let e: &mut (usize, usize) = m.entry(ip).or_default();
                    if l.contains("(logged again") {
                        e.1 += 1;
                    } else {
                        e.0 += 1;
                    }
                }
            }
        }
    }
    m
}

/// The eve offset a start resumed at, from its log.
fn resumed_at(log: &str) -> Option<u64> {
    let l = log.lines().find(|l| l.contains("resuming the eve file"))?;
    let at = l.find("offset=")? + "offset=".len();
    l[at..]
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

/// Which of `want` are missing from `got`, and what `got` has beyond it
/// (a few of each, for messages).
fn diff(want: &BTreeSet<IpAddr>, got: &BTreeSet<IpAddr>) -> String {
    let missing: Vec<_> = want.difference(got).take(5).collect();
    let extra: Vec<_> = got.difference(want).take(5).collect();
    format!(
        "{} missing (e.g. {missing:?}), {} extra (e.g. {extra:?})",
        want.difference(got).count(),
        got.difference(want).count()
    )
}

fn kill9(d: &mut Daemon) {
    let mut c = d.child.take().expect("daemon running");
    c.kill().expect("kill -9");
    let _ = c.wait();
}

/// Fault 5: kill -9 mid-burst, three times, each time restarted.
#[test]
fn kill9_mid_burst_every_host_banned_exactly_once() {
    let _serial = serial();
    let Some(ns) = NetNs::new("kill9_mid_burst_every_host_banned_exactly_once", &["nft"]) else {
        return;
    };
    let t = TmpDir::new("kill9-burst");
    std::fs::write(t.0.join("eve.json"), "").unwrap();
    let cfg = dom_config(&t.0, NFT_BACKEND);
    let b = burst();
    let n_bad = b.bad.len();
    let mut d = Daemon::start_with(&t.0, &cfg, &ns.wrapper());

    let started = Instant::now();
    let done = Arc::new(AtomicBool::new(false));
    let writer = write_paced(&d.eve, b.lines.clone(), done.clone());
    // Three kills, each while the daemon works on a batch: when its journal
    // grew past a quarter (then three quarters) of the burst's bans, and
    // when its log grew by 100 KB (it is writing `ban` lines).
    let journal = t.0.join("state").join("bans.jsonl");
    let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    // Bytes of a journal line, from the first batch.
    assert!(
        wait_for(Duration::from_secs(30), || journal_lines(&t.0) >= 1000),
        "no bans journaled; log:\n{}",
        d.log_text()
    );
    let per_ban = size(&journal) as usize / journal_lines(&t.0);
    let mut kills = Vec::new();
    for k in 1..=3 {
        let (what, file, target) = match k {
            2 => ("log", d.log.clone(), size(&d.log) + 100_000),
            _ => ("journal", journal.clone(), (n_bad * per_ban * k / 4) as u64),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while size(&file) < target {
            assert!(
                Instant::now() < deadline,
                "{what} never reached {target} bytes; log:\n{}",
                d.log_text()
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        kill9(&mut d);
        let at = journal_lines(&t.0);
        let restart = Instant::now();
        d = Daemon::start_with(&t.0, &cfg, &ns.wrapper());
        kills.push((what, at, restart.elapsed(), done.load(Ordering::Acquire)));
    }
    writer.join().unwrap();
    let all_in = wait_for(Duration::from_secs(30), || {
        d.try_status()
            .is_some_and(|s| s["active_bans"].as_u64() == Some(n_bad as u64))
    });
    let elapsed = started.elapsed();
    let list = d.list();
    assert!(
        all_in,
        "{} of {n_bad} bans; log:\n{}",
        list.len(),
        d.log_text()
    );
    println!(
        "fault 5: burst of {BURST} events ({n_bad} bad hosts, {} good or protected), written in {:?}; \
         kill -9 (trigger, journal lines) {:?}, restart and catch-up {:?}; all {n_bad} banned {elapsed:?} after the first line",
        b.good.len(),
        PACE * (BURST / CHUNK) as u32,
        kills.iter().map(|k| (k.0, k.1)).collect::<Vec<_>>(),
        kills.iter().map(|k| k.2).collect::<Vec<_>>(),
    );
    assert!(
        kills.iter().any(|k| !k.3),
        "every kill came after the burst was written: not mid-burst"
    );

    // State: exactly the bad hosts, each from one event.
    let state: BTreeSet<IpAddr> = list
        .iter()
        .map(|r| r["ip"].as_str().unwrap().parse().unwrap())
        .collect();
    assert_eq!(list.len(), state.len(), "an address listed twice");
    assert!(
        state == b.bad,
        "state vs bad hosts: {}",
        diff(&b.bad, &state)
    );
    let recounted: Vec<&Value> = list.iter().filter(|r| r["count"] != 1).take(5).collect();
    assert!(
        recounted.is_empty(),
        "events counted twice (read again after a restart): {recounted:?}"
    );
    // Journal: one ban record per host.
    let journal = journal_bans(&t.0);
    let jset: BTreeSet<IpAddr> = journal.keys().copied().collect();
    assert!(
        jset == b.bad,
        "journal vs bad hosts: {}",
        diff(&b.bad, &jset)
    );
    let twice: Vec<_> = journal.iter().filter(|(_, n)| **n != 1).take(5).collect();
    assert!(twice.is_empty(), "journaled more than once: {twice:?}");
    // Ban log, over all four daemon lives: one `ban` line per host. A kill
    // during the write of a batch's lines can cut it short; the next start
    // then writes that batch's lines again, marked "logged again", so a
    // ban is never missing from the log and a repeat is never unmarked.
    let logs = logs(&t.0);
    assert_eq!(logs.len(), 4, "one log per start");
    let logged = logged_bans(&logs);
    let lset: BTreeSet<IpAddr> = logged.keys().copied().collect();
    assert!(
        lset == b.bad,
        "ban log vs bad hosts: {}",
        diff(&b.bad, &lset)
    );
    let twice: Vec<_> = logged
        .iter()
        .filter(|(_, n)| n.0 > 1 || n.1 > 1)
        .take(5)
        .collect();
    assert!(twice.is_empty(), "logged more than once: {twice:?}");
    let again = logged.values().filter(|n| n.1 > 0).count();
    let repeated = logged.values().filter(|n| n.0 == 1 && n.1 == 1).count();
    let count = |what: &str| logs.iter().filter(|l| l.contains(what)).count();
    println!(
        "fault 5: restarts that rolled back a half-journaled batch: {}, that resumed at the journal's newer position: {}; \
         ban lines written again after a kill cut their write short: {again} ({repeated} of them had been written before the kill)",
        count("was not completely written"),
        count("holds a newer read position"),
    );
    // Read position: each restart resumed where the killed daemon had
    // saved it (never before the previous start's position: the same one
    // when the daemon was killed before it completed a batch), and the
    // last one read exactly the lines after that.
    let eve = std::fs::read(&d.eve).unwrap();
    let mut prev = 0;
    for (i, log) in logs.iter().enumerate().skip(1) {
        let at = resumed_at(log)
            .unwrap_or_else(|| panic!("restart {i} did not resume at a saved position:\n{log}"));
        assert!(
            at > 0 && at >= prev && at as usize <= eve.len(),
            "restart {i} resumed at {at} (previous {prev})"
        );
        assert_eq!(
            eve[at as usize - 1],
            b'\n',
            "restart {i} resumed inside a line"
        );
        prev = at;
    }
    let after = eve[prev as usize..].iter().filter(|c| **c == b'\n').count() as u64;
    let s = d.status();
    assert_eq!(
        s["lines"], after,
        "the last start read the lines after its position, once: {s}"
    );
    assert_eq!(s["position"], eve.len() as u64, "{s}");
    // Kernel: the nftables sets hold exactly the bad hosts.
    let kernel = nft_set(&ns).expect("nft sets exist");
    assert!(
        kernel == b.bad,
        "nft sets vs bad hosts: {}",
        diff(&b.bad, &kernel)
    );
}

/// Fault 6, one backend: `fault` runs mid-burst (twice); every ban must be
/// back in the kernel (`read_kernel`) within 10 s of the last one. Two
/// times are printed: until the bans journaled before the fault are back,
/// and until the kernel holds every ban of the burst.
fn flushed_during_burst(
    test: &str,
    ns: &NetNs,
    backend: &str,
    fault: &dyn Fn(),
    read_kernel: &dyn Fn() -> Option<BTreeSet<IpAddr>>,
) {
    let t = TmpDir::new(test);
    std::fs::write(t.0.join("eve.json"), "").unwrap();
    let cfg = dom_config(&t.0, backend);
    let b = burst();
    let n_bad = b.bad.len();
    let d = Daemon::start_with(&t.0, &cfg, &ns.wrapper());
    let done = Arc::new(AtomicBool::new(false));
    let writer = write_paced(&d.eve, b.lines.clone(), done.clone());
    let mut last_fault = Instant::now();
    let mut during = Vec::new();
    let mut before = BTreeSet::new();
    for k in [1, 4] {
        let target = n_bad * k / 5;
        assert!(
            wait_for(Duration::from_secs(30), || journal_lines(&t.0) >= target),
            "journal never reached {target} lines; log:\n{}",
            d.log_text()
        );
        fault();
        last_fault = Instant::now();
        during.push(!done.load(Ordering::Acquire));
        // What was banned (and so in the kernel) before the fault.
        before = journal_bans(&t.0).into_keys().collect();
    }
    // Every ban back in the kernel: waited for up to 10 s after the fault.
    let mut kernel = None;
    let mut restored = None;
    let mut polls = 0u32;
    let back = wait_for(
        Duration::from_secs(10).saturating_sub(last_fault.elapsed()),
        || {
            kernel = read_kernel();
            polls += 1;
            let k = kernel.as_ref();
            if restored.is_none() && k.is_some_and(|k| k.is_superset(&before)) {
                restored = Some(last_fault.elapsed());
            }
            k == Some(&b.bad)
        },
    );
    let recovery = last_fault.elapsed();
    writer.join().unwrap();
    let written = done.load(Ordering::Acquire);
    let kernel = kernel.unwrap_or_default();
    assert!(
        back,
        "{test}: not all bans back within 10 s: {}; log:\n{}",
        diff(&b.bad, &kernel),
        d.log_text()
    );
    println!(
        "fault 6 ({test}): burst of {BURST} events, {n_bad} bans; faults while the burst was written: {during:?}; \
         after the last fault, the {} bans banned before it were back in the kernel within {:?}, \
         every ban of the burst within {recovery:?} ({polls} reads of the kernel sets; burst written completely: {written})",
        before.len(),
        restored.unwrap_or(recovery),
    );
    assert!(
        during.iter().any(|x| *x),
        "no fault happened during the burst"
    );
    // Nothing lost in the state either, and nothing extra anywhere.
    let state: BTreeSet<IpAddr> = d
        .list()
        .iter()
        .map(|r| r["ip"].as_str().unwrap().parse().unwrap())
        .collect();
    assert!(
        state == b.bad,
        "state vs bad hosts: {}",
        diff(&b.bad, &state)
    );
    let s = d.status();
    assert!(
        s["backend_recreated"].as_u64().unwrap_or(0) >= 1
            || s["backend_readded"].as_u64().unwrap_or(0) > 0,
        "{s}"
    );
}

/// Fault 6, nftables: `nft flush ruleset` twice during a burst.
#[test]
fn nft_flush_ruleset_during_burst_every_ban_comes_back() {
    let _serial = serial();
    let test = "nft_flush_ruleset_during_burst_every_ban_comes_back";
    let Some(ns) = NetNs::new(test, &["nft"]) else {
        return;
    };
    flushed_during_burst(
        "nft-flush",
        &ns,
        NFT_BACKEND,
        &|| assert!(ns.exec(&["nft", "flush", "ruleset"]).0),
        &|| nft_set(&ns),
    );
}

/// Fault 6, ipset: both sets destroyed twice during a burst.
#[test]
fn ipset_destroy_during_burst_every_ban_comes_back() {
    let _serial = serial();
    let test = "ipset_destroy_during_burst_every_ban_comes_back";
    let Some(ns) = NetNs::new(test, &["ipset"]) else {
        return;
    };
    let backend =
        "[[backend]]\nkind = \"ipset\"\nset_v4 = \"mkd4\"\nset_v6 = \"mkd6\"\nmanage = true\n";
    flushed_during_burst(
        "ipset-destroy",
        &ns,
        backend,
        &|| {
            // The daemon may be re-creating one between the two commands.
            let a = ns.exec(&["ipset", "destroy", "mkd4"]);
            let b = ns.exec(&["ipset", "destroy", "mkd6"]);
            assert!(a.0 || b.0, "ipset destroy failed: {} {}", a.1, b.1);
        },
        &|| ipsets(&ns, "mkd4", "mkd6"),
    );
}
