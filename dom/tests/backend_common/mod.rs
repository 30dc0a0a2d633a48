//! Harness for the backend tests: every scenario runs in a fresh network
//! namespace. The outer test (host side) creates the namespace and re-runs
//! this test binary inside it with `ip netns exec`, selecting the matching
//! `#[ignore]`d inner test; the inner test only does anything when the
//! marker variable is set, so `--include-ignored` on the host is harmless.

#![allow(dead_code)]

use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

/// Set (to the namespace name) only for the inner run.
pub const MARKER: &str = "MEERKAT_BACKEND_TEST_NETNS";

/// Deletes the namespace on drop, also when the test panics.
pub struct Netns {
    pub name: String,
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

// The sensor tests' prerequisite checks (CI makes a missing one a failure).
#[path = "../../../sensor/tests/prereq/mod.rs"]
mod prereq;

/// Host side: run `inner` (a test name in this binary) inside a new netns.
/// Without root, `ip netns`, `nft` or `ipset`: a failure under CI (or
/// `MEERKAT_REQUIRE_ALL=1`), a loud skip elsewhere.
pub fn run_in_netns(inner: &str) {
    if std::env::var_os(MARKER).is_some() {
        return; // already inside: the inner test does the work
    }
    if !prereq::require_netns(inner) || !prereq::require_programs(inner, &["nft", "ipset"]) {
        return;
    }
    static N: AtomicU32 = AtomicU32::new(0);
    let name = format!(
        "mkbk-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    );
    let ok = Command::new("ip")
        .args(["netns", "add", &name])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(ok, "`ip netns add {name}` failed");
    let _ns = Netns { name: name.clone() };
    let exe = std::env::current_exe().expect("current test executable");
    let out = Command::new("ip")
        .args(["netns", "exec", &name])
        .arg(exe)
        .args([
            inner,
            "--exact",
            "--include-ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(MARKER, &name)
        .output()
        .expect("run inner test");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("--- inner {inner} in netns {name} ---\n{stdout}\n{stderr}");
    assert!(out.status.success(), "inner test {inner} failed");
    assert!(
        stdout.contains("1 passed"),
        "inner test {inner} did not run: {stdout}"
    );
}

/// Inner side: true when running inside the test namespace.
pub fn inside() -> bool {
    std::env::var_os(MARKER).is_some()
}

/// Run a command, panic with its stderr on failure, return stdout.
pub fn sh(cmd: &str, args: &[&str]) -> String {
    let out = Command::new(cmd).args(args).output().expect("spawn");
    assert!(
        out.status.success(),
        "{cmd} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Run a shell snippet (for nft -f - input etc.).
pub fn sh_stdin(cmd: &str, args: &[&str], input: &str) {
    use std::io::Write;
    let mut child = Command::new(cmd)
        .args(args)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write");
    assert!(
        child.wait().expect("wait").success(),
        "{cmd} {args:?} failed"
    );
}
