//! Prerequisites of the sensor's integration tests, in one place: root,
//! network namespaces, external programs, and the data that lives beside
//! the checkout (`../shared`: ET Open, `check-eve`).
//!
//! A missing prerequisite is a **failure** when the environment asks for
//! every test to run: `CI` is set (`.ci/run` and `scripts/test.sh` set it)
//! or `MEERKAT_REQUIRE_ALL=1`. Otherwise the test is skipped, loudly: a
//! banner on stderr naming the test and what is missing.
//!
//! Every `require_*` function returns `true` when the test may go on and
//! `false` when it must return (skipped); under CI it panics instead of
//! returning `false`.

#![allow(dead_code)] // each test binary uses a different subset

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Whether a missing prerequisite must fail the test (`CI` set to anything
/// but "" / "0" / "false", or `MEERKAT_REQUIRE_ALL=1`).
pub fn strict() -> bool {
    let ci = std::env::var("CI").unwrap_or_default();
    let ci = !ci.is_empty() && ci != "0" && !ci.eq_ignore_ascii_case("false");
    ci || std::env::var("MEERKAT_REQUIRE_ALL").is_ok_and(|v| v == "1")
}

/// Reports that `test` cannot run because `what` is missing: panics under
/// [`strict`], otherwise prints a banner that is hard to overlook.
pub fn missing(test: &str, what: &str) {
    if strict() {
        panic!(
            "{test}: prerequisite missing: {what}\n\
             (CI or MEERKAT_REQUIRE_ALL=1 is set, so a missing prerequisite is a failure; \
             scripts/test.sh installs the packages)"
        );
    }
    eprintln!(
        "\n************************************************************\n\
         SKIPPED {test}: {what}\n\
         (this test did NOT run; set MEERKAT_REQUIRE_ALL=1 to make it fail)\n\
         ************************************************************\n"
    );
}

/// The repository root (the workspace directory above `sensor/`).
pub fn repo_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| manifest.to_path_buf())
}

/// `../shared` beside the checkout (reference data and tools).
pub fn shared_dir() -> PathBuf {
    repo_root().join("..").join("shared")
}

/// A file or directory under [`shared_dir`], when it exists; otherwise
/// reports it [`missing`] and returns `None`.
pub fn require_shared(test: &str, rel: &str) -> Option<PathBuf> {
    let p = shared_dir().join(rel);
    if p.exists() {
        Some(p)
    } else {
        missing(
            test,
            &format!(
                "{} not found (expected ../shared/{rel} beside the repository)",
                p.display()
            ),
        );
        None
    }
}

/// The ET Open rule files (`../shared/reference/etopen/*.rules`), sorted;
/// `None` (reported) when the folder is missing or holds no rule file.
pub fn etopen_files(test: &str) -> Option<Vec<PathBuf>> {
    let dir = require_shared(test, "reference/etopen")?;
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "rules"))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    if v.is_empty() {
        missing(test, &format!("no *.rules file in {}", dir.display()));
        return None;
    }
    Some(v)
}

/// Whether the effective user is root (`/proc/self` belongs to the euid).
pub fn is_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// Whether `program` can be run (found on PATH or as an absolute path).
pub fn have_program(program: &str) -> bool {
    if program.contains('/') {
        return Path::new(program).exists();
    }
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(program).is_file()))
        .unwrap_or(false)
}

/// Root, or [`missing`].
pub fn require_root(test: &str) -> bool {
    if is_root() {
        return true;
    }
    missing(test, "needs root (network namespaces, netfilter)");
    false
}

/// Every program in `programs` is on PATH, or [`missing`] (naming them all).
pub fn require_programs(test: &str, programs: &[&str]) -> bool {
    let absent: Vec<&str> = programs
        .iter()
        .copied()
        .filter(|p| !have_program(p))
        .collect();
    if absent.is_empty() {
        return true;
    }
    missing(test, &format!("not installed: {}", absent.join(", ")));
    false
}

/// Root, and `ip netns` works (iproute2 present, namespaces available).
pub fn require_netns(test: &str) -> bool {
    if !require_root(test) || !require_programs(test, &["ip"]) {
        return false;
    }
    let ok = Command::new("ip")
        .args(["netns", "list"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        missing(
            test,
            "`ip netns list` fails: network namespaces unavailable",
        );
    }
    ok
}

/// `check-eve` from `../shared/tools`, when it exists and can run (it needs
/// `/usr/bin/python3` with `jsonschema`); otherwise [`missing`].
pub fn require_check_eve(test: &str) -> Option<PathBuf> {
    let tool = require_shared(test, "tools/check-eve")?;
    let out = Command::new(&tool)
        .arg("--help")
        .stdin(Stdio::null())
        .output();
    match out {
        Ok(o) if o.status.success() => {}
        Ok(o) => {
            missing(
                test,
                &format!(
                    "{} --help failed ({}): {}",
                    tool.display(),
                    o.status,
                    String::from_utf8_lossy(&o.stderr).trim()
                ),
            );
            return None;
        }
        Err(e) => {
            missing(test, &format!("cannot run {}: {e}", tool.display()));
            return None;
        }
    }
    Some(tool)
}

/// Runs `check-eve` on `eve` and returns `(exit code, stdout+stderr)`.
/// Exit 2 (the tool itself could not work: no jsonschema, unreadable file)
/// is reported through [`missing`] and gives `None`.
pub fn run_check_eve(test: &str, tool: &Path, eve: &Path) -> Option<(i32, String)> {
    let out = Command::new(tool)
        .arg(eve)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", tool.display()));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let code = out.status.code().unwrap_or(-1);
    if code != 0 && code != 1 {
        missing(
            test,
            &format!(
                "check-eve could not check {} (exit {code}): {text}",
                eve.display()
            ),
        );
        return None;
    }
    Some((code, text))
}
