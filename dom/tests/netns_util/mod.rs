//! An empty network namespace for one test, deleted on drop (also when
//! the test fails). Include it next to `prereq`:
//!
//! ```ignore
//! #[path = "../../sensor/tests/prereq/mod.rs"]
//! mod prereq;
//! mod netns_util;
//! ```
#![allow(dead_code)]

use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::prereq;

pub struct NetNs(pub String);

impl NetNs {
    /// A fresh namespace `mkdom-<pid>-<n>`. `None` when root, `ip netns`
    /// or one of `tools` is missing: a failure under CI or
    /// `MEERKAT_REQUIRE_ALL=1`, a loud skip elsewhere (`prereq`).
    pub fn new(test: &str, tools: &[&str]) -> Option<NetNs> {
        if !prereq::require_netns(test) || !prereq::require_programs(test, tools) {
            return None;
        }
        static N: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "mkdom-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        let ok = Command::new("ip")
            .args(["netns", "add", &name])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "`ip netns add {name}` failed");
        Some(NetNs(name))
    }

    /// Runs `args` inside; (success, stdout + stderr).
    pub fn exec(&self, args: &[&str]) -> (bool, String) {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.0])
            .args(args)
            .output()
            .expect("ip netns exec");
        let mut s = String::from_utf8_lossy(&out.stdout).into_owned();
        s.push_str(&String::from_utf8_lossy(&out.stderr));
        (out.status.success(), s)
    }

    /// The command prefix that runs a program inside.
    pub fn wrapper(&self) -> Vec<&str> {
        vec!["ip", "netns", "exec", &self.0]
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}
