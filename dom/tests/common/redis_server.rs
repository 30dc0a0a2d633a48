//! A redis-server of the test's own: temporary directory, unix socket (a
//! path, so it is reachable from every network namespace), `--port 0`
//! (no TCP), `--save ''`, no AOF. Killed on drop.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::wait_for;

/// A redis-server of our own on a unix socket in a temporary directory.
pub struct Redis {
    child: Option<Child>,
    pub dir: PathBuf,
    pub sock: PathBuf,
}

impl Redis {
    pub fn start(dir: &Path) -> Redis {
        let sock = dir.join("redis.sock");
        let mut r = Redis {
            child: None,
            dir: dir.to_path_buf(),
            sock,
        };
        r.spawn();
        r
    }

    pub fn spawn(&mut self) {
        let _ = std::fs::remove_file(&self.sock);
        let child = Command::new("redis-server")
            .args(["--port", "0", "--save", "", "--appendonly", "no"])
            .arg("--unixsocket")
            .arg(&self.sock)
            .args(["--unixsocketperm", "700", "--daemonize", "no"])
            .arg("--dir")
            .arg(&self.dir)
            .arg("--logfile")
            .arg(self.dir.join("redis.log"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn redis-server");
        self.child = Some(child);
        let up = wait_for(Duration::from_secs(10), || {
            self.con()
                .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c).ok())
                .is_some()
        });
        assert!(up, "redis-server did not start: {}", self.log());
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("redis.log")).unwrap_or_default()
    }

    pub fn url(&self) -> String {
        format!("unix://{}", self.sock.display())
    }

    pub fn con(&self) -> Option<redis::Connection> {
        redis::Client::open(self.url()).ok()?.get_connection().ok()
    }

    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Every entry of a stream: (id, field map).
    pub fn xrange(&self, key: &str) -> Vec<(String, HashMap<String, String>)> {
        let mut c = self.con().expect("redis connection");
        let v: Vec<(String, HashMap<String, String>)> = redis::cmd("XRANGE")
            .arg(key)
            .arg("-")
            .arg("+")
            .query(&mut c)
            .expect("XRANGE");
        v
    }

    pub fn cmd(&self, args: &[&str]) -> redis::Value {
        let mut c = self.con().expect("redis connection");
        let mut cmd = redis::cmd(args[0]);
        for a in &args[1..] {
            cmd.arg(*a);
        }
        cmd.query(&mut c).expect("redis command")
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
    }
}
