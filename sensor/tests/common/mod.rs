//! Shared helpers for the end-to-end tests (`tests/e2e_*.rs`): a private
//! client/attacker — gateway — server topology in network namespaces, the
//! sensor process as a guard that shuts it down with SIGTERM, a real sshd,
//! and EVE polling.
//!
//! Layout (documentation addresses only):
//!
//! ```text
//!   attacker 198.51.100.66 --+
//!                            +-- br0 198.51.100.1 [gateway] 203.0.113.1 -- server 203.0.113.22
//!   client   198.51.100.10 --+
//! ```
//!
//! Prerequisites (root, `ip`, the programs a test runs) go through
//! [`prereq`]: a failure under CI, a loud skip elsewhere.
//!
//! Every namespace name carries the test name and the process id, so tests
//! running in parallel threads or processes never share one. The
//! [`Topology`] guard kills what runs in its namespaces and deletes them,
//! also when the test panics.

#![allow(dead_code)] // each e2e test binary uses a different subset

pub mod peers;
#[path = "../prereq/mod.rs"]
pub mod prereq;

use std::cell::RefCell;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub const ATTACKER_IP: &str = "198.51.100.66";
pub const CLIENT_IP: &str = "198.51.100.10";
pub const GW_OUTSIDE_IP: &str = "198.51.100.1";
pub const GW_INSIDE_IP: &str = "203.0.113.1";
pub const SERVER_IP: &str = "203.0.113.22";

/// The IPv6-only variant of the same layout ([`Topology::new_ipv6`]):
/// outside 2001:db8:1::/64, inside 2001:db8:2::/64.
pub const ATTACKER_IP6: &str = "2001:db8:1::66";
pub const CLIENT_IP6: &str = "2001:db8:1::10";
pub const GW_OUTSIDE_IP6: &str = "2001:db8:1::1";
pub const GW_INSIDE_IP6: &str = "2001:db8:2::1";
pub const SERVER_IP6: &str = "2001:db8:2::22";

/// The NFQUEUE queue (IPS) and NFLOG group (IDS) the mixed-mode gateway
/// uses. Netfilter queues and log groups are per network namespace, and
/// every test has its own gateway namespace, so they never collide.
pub const QUEUE: u16 = 0;
pub const NFLOG_GROUP: u16 = 10;
pub const IPS_IFACE: &str = "nfq:0";
pub const IDS_IFACE: &str = "nflog:10";

/// The Debian python with paramiko (the `python3` on PATH may lack it).
pub const PYTHON: &str = "/usr/bin/python3";

/// How long [`wait_for_eve`] waits by default.
pub const EVE_TIMEOUT: Duration = Duration::from_secs(10);

/// The sensor binary under test.
pub fn sensor_bin() -> &'static str {
    env!("CARGO_BIN_EXE_meerkat-sensor")
}

/// The repository root (the workspace directory).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
}

/// `examples/rules/fake-ssh-agents.rules`.
pub fn fake_agent_rules() -> PathBuf {
    repo_root().join("examples/rules/fake-ssh-agents.rules")
}

/// `examples/fake-ssh-agent/fake_agent.py`.
pub fn fake_agent_script() -> PathBuf {
    repo_root().join("examples/fake-ssh-agent/fake_agent.py")
}

/// Whether this process can build namespaces (root and `ip netns`). When
/// not, [`prereq::missing`] fails the test under CI and otherwise prints a
/// loud skip; the caller then returns.
pub fn can_run_netns(test: &str) -> bool {
    prereq::require_netns(test)
}

/// Whether `program` can be run (found on PATH or as an absolute path).
pub fn have_program(program: &str) -> bool {
    prereq::have_program(program)
}

/// Every program is installed; otherwise a failure under CI, a loud skip
/// elsewhere (the caller then returns).
pub fn require_programs(test: &str, programs: &[&str]) -> bool {
    prereq::require_programs(test, programs)
}

/// Runs a command, returns its output; panics (naming the command) only
/// when it cannot be started at all.
pub fn run(program: &str, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program} {args:?}: {e}"))
}

/// Runs a command and panics with its stderr when it fails.
pub fn run_ok(program: &str, args: &[&str]) -> Output {
    let out = run(program, args);
    assert!(
        out.status.success(),
        "`{program} {}` failed ({}): {}{}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A working directory removed on drop, kept when the test panicked (its
/// path is printed so the sensor log and eve.json can be read).
pub struct WorkDir {
    pub path: PathBuf,
}

impl WorkDir {
    pub fn new(name: &str) -> WorkDir {
        let path = std::env::temp_dir().join(format!("meerkat-e2e-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path)
            .unwrap_or_else(|e| panic!("cannot create work dir {}: {e}", path.display()));
        WorkDir { path }
    }

    pub fn join(&self, p: &str) -> PathBuf {
        self.path.join(p)
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("note: test failed; files kept in {}", self.path.display());
        } else {
            let _ = fs::remove_dir_all(&self.path);
        }
    }
}

/// The four namespaces of one test, and the processes started in them.
pub struct Topology {
    pub attacker: String,
    pub client: String,
    pub gateway: String,
    pub server: String,
    created: RefCell<Vec<String>>,
    children: RefCell<Vec<Child>>,
}

impl Topology {
    /// Builds the topology for test `name`, or returns `None` (after a
    /// note) when namespaces are not available. Panics when building fails
    /// on a machine that should support it; whatever was created is
    /// removed again.
    pub fn new(name: &str) -> Option<Topology> {
        let topo = Topology::empty(name, &["iptables", "ss", "sysctl"])?;
        topo.build();
        Some(topo)
    }

    /// Like [`Topology::new`], but IPv6 only: the same namespaces and links
    /// with the `*_IP6` addresses (no DAD, so they are usable at once) and
    /// no IPv4 address at all.
    pub fn new_ipv6(name: &str) -> Option<Topology> {
        let topo = Topology::empty(name, &["ip6tables", "ss", "sysctl"])?;
        topo.build_ipv6();
        Some(topo)
    }

    fn empty(name: &str, tools: &[&str]) -> Option<Topology> {
        if !can_run_netns(name) || !require_programs(name, tools) {
            return None;
        }
        let pid = std::process::id();
        let ns = |role: &str| format!("mke2e-{name}-{role}-{pid}");
        Some(Topology {
            attacker: ns("att"),
            client: ns("cli"),
            gateway: ns("gw"),
            server: ns("srv"),
            created: RefCell::new(Vec::new()),
            children: RefCell::new(Vec::new()),
        })
    }

    fn add_ns(&self, ns: &str) {
        // A leftover from a crashed run with the same pid: remove it.
        let _ = run("ip", &["netns", "del", ns]);
        run_ok("ip", &["netns", "add", ns]);
        self.created.borrow_mut().push(ns.to_string());
        run_ok("ip", &["-n", ns, "link", "set", "lo", "up"]);
    }

    /// A veth between namespace `ns` (interface eth0, `addr`) and the
    /// gateway (interface `gw_if`).
    fn link(&self, ns: &str, addr: &str, gw_if: &str) {
        let gw = self.gateway.as_str();
        run_ok(
            "ip",
            &[
                "-n", gw, "link", "add", gw_if, "type", "veth", "peer", "name", "eth0", "netns", ns,
            ],
        );
        run_ok("ip", &["-n", ns, "addr", "add", addr, "dev", "eth0"]);
        run_ok("ip", &["-n", ns, "link", "set", "eth0", "up"]);
        run_ok("ip", &["-n", gw, "link", "set", gw_if, "up"]);
    }

    /// The veth of [`Topology::link`] with an IPv6 address added `nodad`.
    fn link6(&self, ns: &str, addr: &str, gw_if: &str) {
        let gw = self.gateway.as_str();
        run_ok(
            "ip",
            &[
                "-n", gw, "link", "add", gw_if, "type", "veth", "peer", "name", "eth0", "netns", ns,
            ],
        );
        run_ok(
            "ip",
            &["-n", ns, "-6", "addr", "add", addr, "dev", "eth0", "nodad"],
        );
        run_ok("ip", &["-n", ns, "link", "set", "eth0", "up"]);
        run_ok("ip", &["-n", gw, "link", "set", gw_if, "up"]);
    }

    fn build_ipv6(&self) {
        let (gw, att, cli, srv) = (
            self.gateway.as_str(),
            self.attacker.as_str(),
            self.client.as_str(),
            self.server.as_str(),
        );
        for ns in [gw, att, cli, srv] {
            self.add_ns(ns);
        }
        run_ok("ip", &["-n", gw, "link", "add", "br0", "type", "bridge"]);
        run_ok("ip", &["-n", gw, "link", "set", "br0", "up"]);
        let outside = format!("{GW_OUTSIDE_IP6}/64");
        run_ok(
            "ip",
            &[
                "-n", gw, "-6", "addr", "add", &outside, "dev", "br0", "nodad",
            ],
        );
        self.link6(att, &format!("{ATTACKER_IP6}/64"), "veth-att");
        self.link6(cli, &format!("{CLIENT_IP6}/64"), "veth-cli");
        for port in ["veth-att", "veth-cli"] {
            run_ok("ip", &["-n", gw, "link", "set", port, "master", "br0"]);
        }
        self.link6(srv, &format!("{SERVER_IP6}/64"), "eth-srv");
        let inside = format!("{GW_INSIDE_IP6}/64");
        run_ok(
            "ip",
            &[
                "-n", gw, "-6", "addr", "add", &inside, "dev", "eth-srv", "nodad",
            ],
        );
        for ns in [att, cli] {
            run_ok(
                "ip",
                &[
                    "-n",
                    ns,
                    "-6",
                    "route",
                    "add",
                    "default",
                    "via",
                    GW_OUTSIDE_IP6,
                ],
            );
        }
        run_ok(
            "ip",
            &[
                "-n",
                srv,
                "-6",
                "route",
                "add",
                "default",
                "via",
                GW_INSIDE_IP6,
            ],
        );
        self.exec_ok(gw, &["sysctl", "-qw", "net.ipv6.conf.all.forwarding=1"]);
        for k in ["bridge-nf-call-iptables", "bridge-nf-call-ip6tables"] {
            let _ = self.exec(gw, &["sysctl", "-qw", &format!("net.bridge.{k}=0")]);
        }
    }

    fn build(&self) {
        let (gw, att, cli, srv) = (
            self.gateway.as_str(),
            self.attacker.as_str(),
            self.client.as_str(),
            self.server.as_str(),
        );
        for ns in [gw, att, cli, srv] {
            self.add_ns(ns);
        }
        run_ok("ip", &["-n", gw, "link", "add", "br0", "type", "bridge"]);
        run_ok("ip", &["-n", gw, "link", "set", "br0", "up"]);
        let outside = format!("{GW_OUTSIDE_IP}/24");
        run_ok("ip", &["-n", gw, "addr", "add", &outside, "dev", "br0"]);
        self.link(att, &format!("{ATTACKER_IP}/24"), "veth-att");
        self.link(cli, &format!("{CLIENT_IP}/24"), "veth-cli");
        run_ok(
            "ip",
            &["-n", gw, "link", "set", "veth-att", "master", "br0"],
        );
        run_ok(
            "ip",
            &["-n", gw, "link", "set", "veth-cli", "master", "br0"],
        );
        self.link(srv, &format!("{SERVER_IP}/24"), "eth-srv");
        let inside = format!("{GW_INSIDE_IP}/24");
        run_ok("ip", &["-n", gw, "addr", "add", &inside, "dev", "eth-srv"]);
        for ns in [att, cli] {
            run_ok(
                "ip",
                &["-n", ns, "route", "add", "default", "via", GW_OUTSIDE_IP],
            );
        }
        run_ok(
            "ip",
            &["-n", srv, "route", "add", "default", "via", GW_INSIDE_IP],
        );
        self.exec_ok(gw, &["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
        // With br_netfilter loaded, bridged frames would also cross FORWARD.
        for k in ["bridge-nf-call-iptables", "bridge-nf-call-ip6tables"] {
            let _ = self.exec(gw, &["sysctl", "-qw", &format!("net.bridge.{k}=0")]);
        }
    }

    /// The gateway's mixed-mode firewall: everything from or to the
    /// attacker goes to NFQUEUE [`QUEUE`] (IPS, `--queue-bypass`), every
    /// other forwarded packet is copied to NFLOG group [`NFLOG_GROUP`] (IDS).
    pub fn mixed_mode_firewall(&self) {
        let q = QUEUE.to_string();
        let g = NFLOG_GROUP.to_string();
        for dir in ["-s", "-d"] {
            self.exec_ok(
                &self.gateway,
                &[
                    "iptables",
                    "-A",
                    "FORWARD",
                    dir,
                    ATTACKER_IP,
                    "-j",
                    "NFQUEUE",
                    "--queue-num",
                    &q,
                    "--queue-bypass",
                ],
            );
        }
        self.exec_ok(
            &self.gateway,
            &[
                "iptables",
                "-A",
                "FORWARD",
                "-j",
                "NFLOG",
                "--nflog-group",
                &g,
            ],
        );
    }

    /// [`Topology::mixed_mode_firewall`] for the IPv6 topology, with
    /// ip6tables: the attacker's IPv6 packets (both directions) to NFQUEUE
    /// [`QUEUE`] with `--queue-bypass`, every other forwarded IPv6 packet
    /// to NFLOG group [`NFLOG_GROUP`].
    pub fn mixed_mode_firewall_v6(&self) {
        let q = QUEUE.to_string();
        let g = NFLOG_GROUP.to_string();
        for dir in ["-s", "-d"] {
            self.exec_ok(
                &self.gateway,
                &[
                    "ip6tables",
                    "-A",
                    "FORWARD",
                    dir,
                    ATTACKER_IP6,
                    "-j",
                    "NFQUEUE",
                    "--queue-num",
                    &q,
                    "--queue-bypass",
                ],
            );
        }
        self.exec_ok(
            &self.gateway,
            &[
                "ip6tables",
                "-A",
                "FORWARD",
                "-j",
                "NFLOG",
                "--nflog-group",
                &g,
            ],
        );
    }

    /// Runs a command inside namespace `ns` and returns its output.
    pub fn exec(&self, ns: &str, args: &[&str]) -> Output {
        let mut full = vec!["netns", "exec", ns];
        full.extend_from_slice(args);
        run("ip", &full)
    }

    /// A command to run inside `ns`, not started yet (to run several
    /// clients at once: spawn them all, then `wait_with_output`).
    pub fn command(&self, ns: &str, args: &[&str]) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", ns])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        c
    }

    /// Like [`Topology::exec`], panicking with the output when it fails.
    pub fn exec_ok(&self, ns: &str, args: &[&str]) -> Output {
        let mut full = vec!["netns", "exec", ns];
        full.extend_from_slice(args);
        run_ok("ip", &full)
    }

    /// Starts a command in namespace `ns` in the background, stdout and
    /// stderr appended to `log`. It is killed when the topology is dropped;
    /// the returned pid can be used to signal it earlier.
    pub fn spawn(&self, ns: &str, args: &[&str], log: &Path) -> u32 {
        let child = spawn_logged(ns, args, log);
        let pid = child.id();
        self.children.borrow_mut().push(child);
        pid
    }

    /// Sends SIGTERM to a process started with [`Topology::spawn`].
    pub fn terminate(&self, pid: u32) {
        if self.children.borrow().iter().any(|c| c.id() == pid) {
            signal(pid, "TERM");
        }
    }

    /// Waits until something listens on TCP `port` in `ns`.
    pub fn wait_listen(&self, ns: &str, port: u16, timeout: Duration) -> bool {
        let filter = format!("sport = :{port}");
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            let out = self.exec(ns, &["ss", "-Hltn", &filter]);
            if out.status.success() && !out.stdout.is_empty() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    /// Waits for a background process started with [`Topology::spawn`] to
    /// exit, up to `timeout`; returns its status.
    pub fn wait_child(&self, pid: u32, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            {
                let mut children = self.children.borrow_mut();
                let child = children.iter_mut().find(|c| c.id() == pid)?;
                if let Ok(Some(st)) = child.try_wait() {
                    return Some(st);
                }
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn ns_pids(ns: &str) -> Vec<u32> {
        let out = run("ip", &["netns", "pids", ns]);
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .filter_map(|p| p.parse().ok())
            .collect()
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        let created = self.created.borrow().clone();
        let mut children = std::mem::take(&mut *self.children.borrow_mut());
        for c in &children {
            signal(c.id(), "TERM");
        }
        // Anything else still running in our namespaces was started by this
        // test (sshd's session children, for example).
        for ns in &created {
            for pid in Topology::ns_pids(ns) {
                signal(pid, "TERM");
            }
        }
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            let children_alive = children
                .iter_mut()
                .any(|c| matches!(c.try_wait(), Ok(None)));
            let ns_alive = created.iter().any(|ns| !Topology::ns_pids(ns).is_empty());
            if !children_alive && !ns_alive {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        for ns in &created {
            for pid in Topology::ns_pids(ns) {
                signal(pid, "KILL");
            }
        }
        for c in &mut children {
            let _ = c.kill();
            let _ = c.wait();
        }
        for ns in created.iter().rev() {
            let out = run("ip", &["netns", "del", ns]);
            if !out.status.success() {
                eprintln!("warning: could not delete namespace {ns}; run: ip netns del {ns}");
            }
        }
    }
}

/// Sends `sig` ("TERM", "KILL") to one process this test started.
fn signal(pid: u32, sig: &str) {
    if pid > 0 {
        let _ = Command::new("kill")
            .args(["-s", sig, &pid.to_string()])
            .stderr(Stdio::null())
            .status();
    }
}

fn spawn_logged(ns: &str, args: &[&str], log: &Path) -> Child {
    let open = || {
        fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .unwrap_or_else(|e| panic!("cannot open log {}: {e}", log.display()))
    };
    // `ip netns exec` execs the program itself: the child's pid is the
    // program's pid, so signals reach it directly.
    Command::new("ip")
        .args(["netns", "exec", ns])
        .args(args)
        .stdin(Stdio::null())
        .stdout(open())
        .stderr(open())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {args:?} in {ns}: {e}"))
}

fn read_lossy(path: &Path) -> String {
    let mut buf = Vec::new();
    if let Ok(mut f) = fs::File::open(path) {
        let _ = f.read_to_end(&mut buf);
    }
    String::from_utf8_lossy(&buf).into_owned()
}

/// A running meerkat-sensor. Dropping it sends SIGTERM and waits (then
/// SIGKILL after a few seconds).
pub struct Sensor {
    child: Option<Child>,
    pub eve: PathBuf,
    pub log: PathBuf,
}

impl Sensor {
    /// Starts `meerkat-sensor ARGS -l DIR` in namespace `ns` and waits
    /// until it reports that it is running. Panics with its log when it
    /// exits or does not come up within 10 s.
    pub fn start(ns: &str, args: &[&str], dir: &Path) -> Sensor {
        let log = dir.join("sensor.log");
        let dir_s = dir.to_string_lossy().into_owned();
        let mut full = vec![sensor_bin()];
        full.extend_from_slice(args);
        full.extend_from_slice(&["-l", &dir_s]);
        let child = spawn_logged(ns, &full, &log);
        let mut sensor = Sensor {
            child: Some(child),
            eve: dir.join("eve.json"),
            log,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if read_lossy(&sensor.log).contains("meerkat-sensor running") {
                return sensor;
            }
            if let Some(c) = sensor.child.as_mut() {
                if let Ok(Some(st)) = c.try_wait() {
                    panic!(
                        "meerkat-sensor {args:?} exited at start-up ({st}):\n{}",
                        read_lossy(&sensor.log)
                    );
                }
            }
            assert!(
                Instant::now() < deadline,
                "meerkat-sensor {args:?} not running after 10 s:\n{}",
                read_lossy(&sensor.log)
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The sensor's log so far.
    pub fn log_text(&self) -> String {
        read_lossy(&self.log)
    }

    /// SIGTERM, then waits up to `timeout` for a clean exit. Returns the
    /// exit status, or `None` when it had to be killed.
    pub fn stop_within(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let mut child = self.child.take()?;
        signal(child.id(), "TERM");
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(st)) = child.try_wait() {
                return Some(st);
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGTERM and wait (10 s); panics with the log unless it exits 0.
    pub fn stop(&mut self) {
        let st = self.stop_within(Duration::from_secs(10));
        assert!(
            st.is_some_and(|s| s.success()),
            "meerkat-sensor did not shut down cleanly ({st:?}):\n{}",
            self.log_text()
        );
    }
}

impl Drop for Sensor {
    fn drop(&mut self) {
        let _ = self.stop_within(Duration::from_secs(5));
    }
}

/// Every JSON line of an EVE file so far (a partial last line is skipped).
pub fn read_eve(path: &Path) -> Vec<Value> {
    read_lossy(path)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// The last `stats` event of an EVE file.
pub fn last_stats(eve: &Path) -> Value {
    read_eve(eve)
        .into_iter()
        .rev()
        .find(|v| v["event_type"] == "stats")
        .unwrap_or_else(|| panic!("no stats event in {}", eve.display()))
}

/// Polls `path` every 50 ms until an event satisfies `pred`, for at most
/// `timeout`; returns that event.
pub fn wait_for_eve(
    path: &Path,
    pred: impl Fn(&Value) -> bool,
    timeout: Duration,
) -> Option<Value> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = read_eve(path).into_iter().find(|v| pred(v)) {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// One line per event (without stats), for assertion messages.
pub fn eve_summary(path: &Path) -> String {
    read_eve(path)
        .iter()
        .filter(|v| v["event_type"] != "stats")
        .map(|v| v.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

/// `ev["event_type"] == t && ev["in_iface"] == iface`.
pub fn is_event(ev: &Value, t: &str, iface: &str) -> bool {
    ev["event_type"] == t && ev["in_iface"] == iface
}

/// Validates every line of `eve` with `../shared/tools/check-eve`; the
/// tool missing or unable to work is a failure under CI, a loud skip
/// elsewhere.
pub fn assert_eve_valid(eve: &Path) {
    let test = format!("EVE schema check of {}", eve.display());
    let Some(tool) = prereq::require_check_eve(&test) else {
        return;
    };
    let Some((code, report)) = prereq::run_check_eve(&test, &tool, eve) else {
        return;
    };
    assert_eq!(code, 0, "check-eve {} failed:\n{report}", eve.display());
}

/// The programs [`Sshd`] and its clients need.
pub const SSH_TOOLS: &[&str] = &["/usr/sbin/sshd", "ssh", "ssh-keygen", PYTHON];

/// A real OpenSSH server in a namespace; files live in `dir`.
pub struct Sshd {
    /// The client private key root may log in with.
    pub key: PathBuf,
}

impl Sshd {
    /// Generates keys and a config under `dir` and starts `sshd -D -e` in
    /// `ns` on `addr:22`; waits until it listens.
    pub fn start(topo: &Topology, ns: &str, addr: &str, dir: &Path) -> Sshd {
        let dir = dir.join("sshd");
        fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
        run_ok("chmod", &["700", &dir.to_string_lossy()]);
        // sshd refuses to start without its privilege-separation directory.
        fs::create_dir_all("/run/sshd").unwrap_or_else(|e| panic!("mkdir /run/sshd: {e}"));
        let host = dir.join("host_ed25519");
        let key = dir.join("client_ed25519");
        for (k, c) in [(&host, "meerkat-e2e-host"), (&key, "meerkat-e2e-client")] {
            run_ok(
                "ssh-keygen",
                &[
                    "-q",
                    "-t",
                    "ed25519",
                    "-N",
                    "",
                    "-C",
                    c,
                    "-f",
                    &k.to_string_lossy(),
                ],
            );
        }
        let auth = dir.join("authorized_keys");
        fs::copy(dir.join("client_ed25519.pub"), &auth)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", auth.display()));
        let config = format!(
            "ListenAddress {addr}\nPort 22\nHostKey {}\nPidFile {}\nAuthorizedKeysFile {}\n\
             PermitRootLogin prohibit-password\nPasswordAuthentication no\n\
             KbdInteractiveAuthentication no\nStrictModes no\nUsePAM no\nPrintMotd no\n\
             LogLevel INFO\n",
            host.display(),
            dir.join("sshd.pid").display(),
            auth.display()
        );
        let cfg = dir.join("sshd_config");
        fs::write(&cfg, config).unwrap_or_else(|e| panic!("cannot write {}: {e}", cfg.display()));
        let log = dir.join("sshd.log");
        topo.spawn(
            ns,
            &["/usr/sbin/sshd", "-D", "-e", "-f", &cfg.to_string_lossy()],
            &log,
        );
        assert!(
            topo.wait_listen(ns, 22, Duration::from_secs(10)),
            "sshd does not listen in {ns} after 10 s:\n{}",
            read_lossy(&log)
        );
        Sshd { key }
    }

    /// Runs `ssh root@addr CMD` from namespace `ns` (15 s at most).
    pub fn ssh(&self, topo: &Topology, ns: &str, addr: &str, cmd: &str) -> Output {
        let args = self.ssh_args(addr, cmd, 15, 5);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        topo.exec(ns, &args)
    }

    /// The command line of `ssh root@addr CMD` with this server's key, no
    /// prompts and no known-hosts file, under `timeout total_s`, with
    /// `ConnectTimeout=connect_s`.
    pub fn ssh_args(&self, addr: &str, cmd: &str, total_s: u32, connect_s: u32) -> Vec<String> {
        let mut args: Vec<String> = [
            "timeout",
            &total_s.to_string(),
            "ssh",
            "-F",
            "/dev/null",
            "-i",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.push(self.key.to_string_lossy().into_owned());
        for opt in [
            "BatchMode=yes".to_string(),
            "IdentitiesOnly=yes".to_string(),
            "StrictHostKeyChecking=no".to_string(),
            "UserKnownHostsFile=/dev/null".to_string(),
            format!("ConnectTimeout={connect_s}"),
            "LogLevel=ERROR".to_string(),
        ] {
            args.push("-o".to_string());
            args.push(opt);
        }
        args.push(format!("root@{addr}"));
        args.push(cmd.to_string());
        args
    }
}

/// The server software version prefix `sshd -V` reports (for example
/// `OpenSSH_9.2`); the banner adds the portable suffix (`p1`).
pub fn sshd_version_prefix() -> String {
    let out = run("/usr/sbin/sshd", &["-V"]);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    let first = text
        .split([',', ' ', '\n'])
        .find(|t| t.starts_with("OpenSSH_"))
        .unwrap_or_else(|| panic!("`sshd -V` printed no OpenSSH version: {text}"));
    first.to_string()
}

/// Runs a python snippet (`/usr/bin/python3 -c SCRIPT ARGS`) in `ns`,
/// killed after `secs` seconds.
pub fn python(topo: &Topology, ns: &str, secs: u32, script: &str, args: &[&str]) -> Output {
    let secs = secs.to_string();
    let mut full = vec!["timeout", &secs, PYTHON, "-c", script];
    full.extend_from_slice(args);
    topo.exec(ns, &full)
}

/// Formats an [`Output`] for assertion messages.
pub fn show(out: &Output) -> String {
    format!(
        "status {}; stdout: {}; stderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout).trim(),
        String::from_utf8_lossy(&out.stderr).trim()
    )
}
