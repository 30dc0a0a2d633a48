//! Resident memory of the daemon with 100,000 active bans: a measurement
//! that prints VmRSS next to the 30 MiB target (a benchmark, not a pass/fail
//! check; `bench/dom.sh` reports the same figure). Ignored by default because it writes 33 MB of eve lines
//! and needs a release build to be meaningful:
//!
//! ```text
//! cargo test -p meerkat-dom --release --test memory -- --ignored --nocapture
//! ```
//!
//! `MEM_BANS` (environment) changes the number of distinct hosts. The
//! nftables variant runs the daemon inside a fresh network namespace and is
//! a failure under CI without root or `ip netns`, a loud skip elsewhere.

mod common;
// The sensor tests' prerequisite checks (CI makes a missing one a failure).
#[path = "../../sensor/tests/prereq/mod.rs"]
mod prereq;

mod netns_util;

use std::time::Duration;

use common::*;
use netns_util::NetNs;

const TARGET_KIB: u64 = 30 * 1024;

/// Prints the figure against the target.
fn report(backend: &str, rss: u64) {
    let verdict = if rss < TARGET_KIB { "under" } else { "OVER" };
    eprintln!(
        "{backend}: VmRSS {:.1} MiB with {} bans ({verdict} the 30 MiB target)",
        rss as f64 / 1024.0,
        bans()
    );
}

fn bans() -> u32 {
    std::env::var("MEM_BANS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000)
}

/// `2001:db8:100::<i>`: one distinct documentation address per host.
fn host(i: u32) -> String {
    format!("2001:db8:100::{:x}:{:x}", i >> 16, i & 0xffff)
}

/// (VmRSS, VmHWM) in KiB.
fn rss_kib(pid: u32) -> (u64, u64) {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// The pid of the daemon itself (under `ip netns exec` the child execs
/// into it, so the pid is the same).
fn measure(label: &str, backend: &str, wrapper: &[&str]) -> u64 {
    let n = bans();
    let t = TmpDir::new(&format!("mem-{label}"));
    let cfg = config(&t.0, "", "", &format!("{backend}{ISSUE_RULES}"));
    let d = Daemon::start_with(&t.0, &cfg, wrapper);
    let pid = d.child.as_ref().map(|c| c.id()).unwrap_or(0);
    let (rss0, _) = rss_kib(pid);
    let lines: Vec<String> = (0..n).map(|i| ssh_line(&host(i), "libssh_0.9.6")).collect();
    d.append(&lines);
    drop(lines);
    let ok = wait_for(Duration::from_secs(180), || {
        d.try_status()
            .is_some_and(|s| s["active_bans"].as_u64() == Some(u64::from(n)))
    });
    assert!(
        ok,
        "bans not all applied; log tail:\n{}",
        tail(&d.log_text())
    );
    // Let a few reconcile passes (interval 1 s) run over the full set.
    std::thread::sleep(Duration::from_secs(4));
    let s = d.status();
    let (rss, hwm) = rss_kib(pid);
    println!(
        "memory[{label}]: bans={} VmRSS idle={:.1} MiB, with bans={:.1} MiB (peak VmHWM {:.1} MiB), readded={}",
        s["active_bans"],
        rss0 as f64 / 1024.0,
        rss as f64 / 1024.0,
        hwm as f64 / 1024.0,
        s["backend_readded"],
    );
    rss
}

fn tail(s: &str) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

#[test]
#[ignore = "writes 33 MB; run in release with --ignored --nocapture"]
fn rss_with_100k_bans_dry_run() {
    let rss = measure("dry-run", &dry_run_backend(), &[]);
    report("dry-run", rss);
}

#[test]
#[ignore = "writes 33 MB and 100,000 set elements; run in release with --ignored --nocapture"]
fn rss_with_100k_bans_nftables() {
    let Some(ns) = NetNs::new("mem", &["nft"]) else {
        return;
    };
    let backend =
        "[[backend]]\nkind = \"nftables\"\nfamily = \"inet\"\ntable = \"memtest\"\nmanage = true\n";
    let rss = measure("nftables", backend, &["ip", "netns", "exec", &ns.0]);
    report("nftables", rss);
}
