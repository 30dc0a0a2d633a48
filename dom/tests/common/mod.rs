//! Helpers for daemon-level tests: a temporary directory with config,
//! eve.json, state and socket; the real `meerkat-dom` binary; queries over
//! the control socket through the CLI; a redis-server of the test's own
//! ([`redis_server`]).
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub mod redis_server;

pub const BIN: &str = env!("CARGO_BIN_EXE_meerkat-dom");

pub struct TmpDir(pub PathBuf);

impl TmpDir {
    pub fn new(tag: &str) -> TmpDir {
        let p = std::env::temp_dir().join(format!("meerkat-dom-it-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("create temp dir");
        TmpDir(p)
    }
}

impl Drop for TmpDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Rules used by most tests: the issue's example.
pub const ISSUE_RULES: &str = r#"
[[rule]]
name = "libssh clients"
event = "ssh"
field = "ssh.client.software_version"
prefix = ["libssh_", "libssh2_"]
ban = "1h"

[[rule]]
name = "Go ssh library"
event = "ssh"
field = "ssh.client.software_version"
exact = ["Go"]
threshold = { count = 3, within = "10m" }
ban = "30m"
escalate = { factor = 2, max = "7d" }

[[rule]]
name = "anything but OpenSSH"
event = "ssh"
field = "ssh.client.software_version"
regex = "^OpenSSH_"
invert = true
ban = "10m"
"#;

pub fn dry_run_backend() -> String {
    "[[backend]]\nkind = \"dry-run\"\n".to_string()
}

/// A config text for `dir`; `head` goes before the tables (top-level keys),
/// `tail` after (backends, rules, extra tables).
pub fn config(dir: &Path, head: &str, input_extra: &str, tail: &str) -> String {
    format!(
        "allow = [\"127.0.0.0/8\", \"::1/128\"]\nhome_net = [\"203.0.113.0/24\"]\n{head}\n[input]\neve = \"{eve}\"\nstart_at = \"saved\"\npoll_interval = \"200ms\"\n{input_extra}\n[state]\ndir = \"{state}\"\n[control]\nsocket = \"{sock}\"\n[daemon]\ndetect_own = false\nreconcile_interval = \"1s\"\n{tail}\n",
        eve = dir.join("eve.json").display(),
        state = dir.join("state").display(),
        sock = dir.join("dom.sock").display(),
    )
}

pub struct Daemon {
    pub child: Option<Child>,
    pub dir: PathBuf,
    pub cfg: PathBuf,
    pub sock: PathBuf,
    pub eve: PathBuf,
    pub log: PathBuf,
}

impl Daemon {
    /// Writes `cfg_text` and starts the daemon, optionally through a
    /// wrapper (e.g. `ip netns exec NS`). Waits until it answers.
    pub fn start_with(dir: &Path, cfg_text: &str, wrapper: &[&str]) -> Daemon {
        let cfg = dir.join("dom.toml");
        std::fs::write(&cfg, cfg_text).expect("write config");
        let log = dir.join(format!(
            "daemon-{}.log",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        let logf = std::fs::File::create(&log).expect("log file");
        let mut cmd = if wrapper.is_empty() {
            Command::new(BIN)
        } else {
            let mut c = Command::new(wrapper[0]);
            c.args(&wrapper[1..]).arg(BIN);
            c
        };
        cmd.arg("-c")
            .arg(&cfg)
            .arg("run")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(logf);
        let child = cmd.spawn().expect("spawn meerkat-dom");
        let d = Daemon {
            child: Some(child),
            dir: dir.to_path_buf(),
            cfg,
            sock: dir.join("dom.sock"),
            eve: dir.join("eve.json"),
            log,
        };
        let ok = wait_for(Duration::from_secs(10), || d.try_status().is_some());
        assert!(ok, "daemon did not come up; log:\n{}", d.log_text());
        d
    }

    pub fn start(dir: &Path, cfg_text: &str) -> Daemon {
        Daemon::start_with(dir, cfg_text, &[])
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn cli(&self, args: &[&str]) -> (bool, String, String) {
        let out = Command::new(BIN)
            .arg("--socket")
            .arg(&self.sock)
            .args(args)
            .output()
            .expect("run cli");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    pub fn try_status(&self) -> Option<Value> {
        let (ok, out, _) = self.cli(&["status", "--json"]);
        if !ok {
            return None;
        }
        serde_json::from_str(&out).ok()
    }

    pub fn status(&self) -> Value {
        self.try_status()
            .unwrap_or_else(|| panic!("status failed; log:\n{}", self.log_text()))
    }

    pub fn list(&self) -> Vec<Value> {
        let (ok, out, err) = self.cli(&["list", "--json"]);
        assert!(ok, "list failed: {err}");
        serde_json::from_str::<Value>(&out)
            .expect("list json")
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    pub fn banned_ips(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .list()
            .iter()
            .filter_map(|r| r["ip"].as_str().map(str::to_string))
            .collect();
        v.sort();
        v
    }

    pub fn append(&self, lines: &[String]) {
        append(&self.eve, lines);
    }

    /// SIGTERM and wait.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(c.id().to_string())
                .status();
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                if let Ok(Some(_)) = c.try_wait() {
                    break;
                }
                if Instant::now() > deadline {
                    let _ = c.kill();
                    let _ = c.wait();
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    pub fn signal(&self, sig: &str) {
        if let Some(c) = &self.child {
            let _ = Command::new("kill")
                .arg(format!("-{sig}"))
                .arg(c.id().to_string())
                .status();
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

pub fn append(path: &Path, lines: &[String]) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("open eve");
    let mut buf = String::new();
    for l in lines {
        buf.push_str(l);
        buf.push('\n');
    }
    f.write_all(buf.as_bytes()).expect("append eve");
}

pub fn ssh_line(src: &str, client: &str) -> String {
    format!(
        r#"{{"timestamp":"2025-03-14T10:00:00.000000+0000","flow_id":1,"event_type":"ssh","src_ip":"{src}","src_port":40000,"dest_ip":"192.0.2.1","dest_port":22,"proto":"TCP","ssh":{{"client":{{"proto_version":"2.0","software_version":"{client}"}},"server":{{"proto_version":"2.0","software_version":"OpenSSH_9.2p1"}}}}}}"#
    )
}

pub fn wait_for(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if f() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}
