//! The whole loop on two gateways, each with meerkat-sensor + meerkat-dom:
//! a fake SSH agent seen on gw1's IDS path is blocked inline on gw2 at its
//! first connection there.
//!
//! ```text
//!                                      gw1 198.51.100.1 | 203.0.113.1 --- srv1 203.0.113.22 (sshd)
//!   attacker 198.51.100.66 --+        (sensor, dom; EVE via Redis)
//!                            +- lan --+
//!   client   198.51.100.10 --+        gw2 198.51.100.2  | 192.0.2.1   --- srv2 192.0.2.22 (sshd)
//!                                     (sensor, dom; EVE via eve.json)
//! ```
//!
//! Every host is a network namespace (deleted by a guard, also when the test
//! fails); only documentation addresses. Each gateway loads the example
//! ruleset (`examples/firewall/nftables.nft`, or on kernels without nft's
//! `queue` expression `nftables-mark-fallback.nft` + `iptables-mark-fallback.rules`):
//! hosts in its `suspectedip` set go to NFQUEUE 0 (IPS), everything else is
//! copied to NFLOG 10 (IDS). Each gateway runs a meerkat-sensor with
//! `examples/rules/fake-ssh-agents.rules` and a meerkat-dom with
//! `examples/dom-heuristics.toml` and `[fleet]` on one redis-server started
//! here (unix socket in the temporary directory: reachable from every
//! namespace). gw1's sensor also sends its EVE to Redis (`[eve.redis]`) and
//! gw1's DOM reads it from there (`[input] redis`); gw2 uses eve.json.
//!
//! The story: the paramiko fake agent connects to srv1 through gw1 (IDS
//! path, it gets through) → gw1's sensor logs the ssh event → gw1's DOM bans
//! it into gw1's set and publishes the ban → gw2's DOM applies it into gw2's
//! set → the agent's first connection through gw2 goes to NFQUEUE and gw2's
//! sensor drops it (alert "blocked", `in_iface` nfq:0) → an OpenSSH client
//! through gw2 still logs in. Printed: the time from gw1's ban (its DOM's
//! log line, written right after the address went into gw1's set) to the
//! address in gw2's set (gw2's DOM's "applied fleet decisions", written right
//! after the netlink transaction), both the daemons' own µs timestamps.
//!
//! meerkat-sensor is taken from beside meerkat-dom (same target directory
//! and profile; `cargo build --workspace` or `cargo test --workspace` builds
//! both) or from `MEERKAT_SENSOR`. Missing prerequisites (root, `ip netns`,
//! nft, iptables-restore, redis-server, sshd, ssh, python3-paramiko, the
//! sensor binary) fail the test under `CI` or `MEERKAT_REQUIRE_ALL=1`, and
//! skip it loudly otherwise.

mod common;
// The sensor tests' prerequisite checks (CI makes a missing one a failure).
#[path = "../../sensor/tests/prereq/mod.rs"]
mod prereq;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::redis_server::Redis;
use common::{wait_for, Daemon, TmpDir};
use serde_json::Value;

const TEST: &str = "fleet_loop_fake_agent_seen_on_gw1_is_blocked_inline_on_gw2";

const ATTACKER: &str = "198.51.100.66";
const CLIENT: &str = "198.51.100.10";
const GW1_OUT: &str = "198.51.100.1";
const GW2_OUT: &str = "198.51.100.2";
const GW1_IN: &str = "203.0.113.1";
const SRV1: &str = "203.0.113.22";
const GW2_IN: &str = "192.0.2.1";
const SRV2: &str = "192.0.2.22";
/// The Debian python with paramiko (the `python3` on PATH may lack it).
const PYTHON: &str = "/usr/bin/python3";
const SSHD: &str = "/usr/sbin/sshd";
/// The example ruleset's table and IPv4 set.
const TABLE: &str = "meerkat";
const SET4: &str = "suspectedip";
const IPS_IFACE: &str = "nfq:0";
const IDS_IFACE: &str = "nflog:10";
const STEP: Duration = Duration::from_secs(10);

fn repo_root() -> PathBuf {
    prereq::repo_root()
}

/// meerkat-sensor: `MEERKAT_SENSOR`, or beside meerkat-dom.
fn sensor_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("MEERKAT_SENSOR") {
        return PathBuf::from(p);
    }
    Path::new(common::BIN).with_file_name("meerkat-sensor")
}

fn run(program: &str, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program} {args:?}: {e}"))
}

fn show(out: &Output) -> String {
    format!(
        "{}; stdout: {}; stderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout).trim(),
        String::from_utf8_lossy(&out.stderr).trim()
    )
}

fn run_ok(program: &str, args: &[&str]) -> Output {
    let out = run(program, args);
    assert!(
        out.status.success(),
        "`{program} {}` failed: {}",
        args.join(" "),
        show(&out)
    );
    out
}

/// `ip ARGS` (split at spaces), panicking when it fails.
fn ip(args: &str) -> Output {
    run_ok("ip", &args.split_whitespace().collect::<Vec<_>>())
}

fn signal(pid: u32, sig: &str) {
    let _ = Command::new("kill")
        .args(["-s", sig, &pid.to_string()])
        .stderr(Stdio::null())
        .status();
}

/// The namespaces of this test and what runs in them. Dropping it stops
/// every process in them (TERM, then KILL) and deletes them.
struct Lab {
    created: Vec<String>,
    children: Vec<Child>,
}

impl Lab {
    fn ns_name(role: &str) -> String {
        format!("mkloop-{role}-{}", std::process::id())
    }

    fn add(&mut self, role: &str) -> String {
        let ns = Lab::ns_name(role);
        // A leftover of a crashed run with the same pid.
        let _ = run("ip", &["netns", "del", &ns]);
        ip(&format!("netns add {ns}"));
        self.created.push(ns.clone());
        ip(&format!("-n {ns} link set lo up"));
        ns
    }

    /// A veth `a_if` in `a` to `b_if` in `b`, both up; `addr` on `b_if`.
    fn veth(&self, a: &str, a_if: &str, b: &str, b_if: &str, addr: &str) {
        ip(&format!(
            "-n {a} link add {a_if} type veth peer name {b_if} netns {b}"
        ));
        ip(&format!("-n {b} addr add {addr} dev {b_if}"));
        ip(&format!("-n {a} link set {a_if} up"));
        ip(&format!("-n {b} link set {b_if} up"));
    }

    fn exec(&self, ns: &str, args: &[&str]) -> Output {
        let mut full = vec!["netns", "exec", ns];
        full.extend_from_slice(args);
        run("ip", &full)
    }

    fn exec_ok(&self, ns: &str, args: &[&str]) -> Output {
        let mut full = vec!["netns", "exec", ns];
        full.extend_from_slice(args);
        run_ok("ip", &full)
    }

    /// Runs `args` in `ns` in the background, output appended to `log`.
    fn spawn(&mut self, ns: &str, args: &[&str], log: &Path) -> u32 {
        let open = || {
            fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(log)
                .unwrap_or_else(|e| panic!("cannot open {}: {e}", log.display()))
        };
        let child = Command::new("ip")
            .args(["netns", "exec", ns])
            .args(args)
            .stdin(Stdio::null())
            .stdout(open())
            .stderr(open())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {args:?} in {ns}: {e}"));
        let pid = child.id();
        self.children.push(child);
        pid
    }

    /// Whether a process started with [`Lab::spawn`] has exited.
    fn gone(&mut self, pid: u32) -> bool {
        self.children
            .iter_mut()
            .find(|c| c.id() == pid)
            .is_some_and(|c| !matches!(c.try_wait(), Ok(None)))
    }

    fn wait_listen(&self, ns: &str, port: u16) -> bool {
        let filter = format!("sport = :{port}");
        wait_for(STEP, || {
            let out = self.exec(ns, &["ss", "-Hltn", &filter]);
            out.status.success() && !out.stdout.is_empty()
        })
    }

    fn ns_pids(ns: &str) -> Vec<u32> {
        let out = run("ip", &["netns", "pids", ns]);
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .filter_map(|p| p.parse().ok())
            .collect()
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for c in &self.children {
            signal(c.id(), "TERM");
        }
        // Everything else in these namespaces was started by this test
        // (sshd's session children).
        for ns in &self.created {
            for pid in Lab::ns_pids(ns) {
                signal(pid, "TERM");
            }
        }
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            let alive = self
                .children
                .iter_mut()
                .any(|c| matches!(c.try_wait(), Ok(None)))
                || self.created.iter().any(|ns| !Lab::ns_pids(ns).is_empty());
            if !alive {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        for ns in &self.created {
            for pid in Lab::ns_pids(ns) {
                signal(pid, "KILL");
            }
        }
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        for ns in self.created.iter().rev() {
            if !run("ip", &["netns", "del", ns]).status.success() {
                eprintln!("warning: could not delete namespace {ns}; run: ip netns del {ns}");
            }
        }
    }
}

/// The hosts of the picture at the top.
struct Hosts {
    attacker: String,
    client: String,
    gw1: String,
    gw2: String,
    srv1: String,
    srv2: String,
}

fn build(lab: &mut Lab) -> Hosts {
    let lan = lab.add("lan");
    let h = Hosts {
        attacker: lab.add("att"),
        client: lab.add("cli"),
        gw1: lab.add("gw1"),
        gw2: lab.add("gw2"),
        srv1: lab.add("srv1"),
        srv2: lab.add("srv2"),
    };
    // The outside: one bridge (a switch) joining attacker, client and the
    // outside interfaces of both gateways.
    ip(&format!("-n {lan} link add br0 type bridge"));
    ip(&format!("-n {lan} link set br0 up"));
    for (ns, port, addr) in [
        (&h.attacker, "p-att", ATTACKER),
        (&h.client, "p-cli", CLIENT),
        (&h.gw1, "p-gw1", GW1_OUT),
        (&h.gw2, "p-gw2", GW2_OUT),
    ] {
        lab.veth(&lan, port, ns, "eth0", &format!("{addr}/24"));
        ip(&format!("-n {lan} link set {port} master br0"));
    }
    // The inside of each gateway: one server.
    for (gw, gw_addr, srv, srv_addr) in [
        (&h.gw1, GW1_IN, &h.srv1, SRV1),
        (&h.gw2, GW2_IN, &h.srv2, SRV2),
    ] {
        lab.veth(gw, "eth1", srv, "eth0", &format!("{srv_addr}/24"));
        ip(&format!("-n {gw} addr add {gw_addr}/24 dev eth1"));
        ip(&format!("-n {srv} route add default via {gw_addr}"));
    }
    // srv1's network through gw1, srv2's through gw2.
    for ns in [&h.attacker, &h.client] {
        ip(&format!("-n {ns} route add 203.0.113.0/24 via {GW1_OUT}"));
        ip(&format!("-n {ns} route add 192.0.2.0/24 via {GW2_OUT}"));
    }
    for gw in [&h.gw1, &h.gw2] {
        lab.exec_ok(gw, &["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
    }
    // With br_netfilter loaded, bridged frames would cross the lan's hooks.
    for k in ["bridge-nf-call-iptables", "bridge-nf-call-ip6tables"] {
        let _ = lab.exec(&lan, &["sysctl", "-qw", &format!("net.bridge.{k}=0")]);
    }
    h
}

/// Whether nft's `queue` expression works here, tried in a scratch table
/// without a hook (no traffic affected), as examples/fake-ssh-agent does.
fn nft_has_queue(lab: &Lab, ns: &str) -> bool {
    lab.exec_ok(ns, &["nft", "add", "table", "inet", "mkprobe"]);
    lab.exec_ok(ns, &["nft", "add", "chain", "inet", "mkprobe", "c"]);
    let ok = lab
        .exec(
            ns,
            &[
                "nft", "add", "rule", "inet", "mkprobe", "c", "queue", "num", "0", "bypass",
            ],
        )
        .status
        .success();
    lab.exec_ok(ns, &["nft", "delete", "table", "inet", "mkprobe"]);
    ok
}

/// Loads the example gateway ruleset into `ns`; returns its mode.
fn firewall(lab: &Lab, ns: &str) -> &'static str {
    let fw = repo_root().join("examples/firewall");
    let path = |f: &str| fw.join(f).to_string_lossy().into_owned();
    if nft_has_queue(lab, ns) {
        lab.exec_ok(ns, &["nft", "-f", &path("nftables.nft")]);
        return "nft-native";
    }
    lab.exec_ok(ns, &["nft", "-f", &path("nftables-mark-fallback.nft")]);
    for tool in ["iptables-restore", "ip6tables-restore"] {
        let rules = fs::File::open(fw.join("iptables-mark-fallback.rules"))
            .expect("examples/firewall/iptables-mark-fallback.rules");
        let out = Command::new("ip")
            .args(["netns", "exec", ns, tool, "--noflush"])
            .stdin(rules)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {tool}: {e}"));
        assert!(out.status.success(), "{tool} in {ns}: {}", show(&out));
    }
    "nft-mark-fallback"
}

/// Whether `ip` is in the gateway's set (asked from the kernel).
fn in_set(lab: &Lab, ns: &str, ip: &str) -> bool {
    lab.exec(
        ns,
        &[
            "nft",
            "get",
            "element",
            "inet",
            TABLE,
            SET4,
            &format!("{{ {ip} }}"),
        ],
    )
    .status
    .success()
}

/// Packets the gateway sent to the IPS path: the counters of the nft rules
/// that queue or mark (the mark is what the iptables NFQUEUE rule queues).
fn ips_packets(lab: &Lab, ns: &str) -> u64 {
    let out = lab.exec_ok(ns, &["nft", "-j", "list", "table", "inet", TABLE]);
    let v: Value = serde_json::from_slice(&out.stdout).expect("nft -j");
    let mut n = 0;
    for item in v["nftables"].as_array().into_iter().flatten() {
        let Some(expr) = item["rule"]["expr"].as_array() else {
            continue;
        };
        if expr
            .iter()
            .any(|e| e.get("queue").is_some() || e.get("mangle").is_some())
        {
            n += expr
                .iter()
                .filter_map(|e| e["counter"]["packets"].as_u64())
                .sum::<u64>();
        }
    }
    n
}

/// Every JSON line of an EVE file so far.
fn read_eve(path: &Path) -> Vec<Value> {
    fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn wait_eve(path: &Path, pred: impl Fn(&Value) -> bool) -> Option<Value> {
    let mut found = None;
    wait_for(STEP, || {
        found = read_eve(path).into_iter().find(|v| pred(v));
        found.is_some()
    });
    found
}

fn eve_summary(path: &Path) -> String {
    read_eve(path)
        .iter()
        .filter(|v| v["event_type"] != "stats")
        .map(|v| v.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

fn involves(ev: &Value, ip: &str) -> bool {
    ev["src_ip"] == ip || ev["dest_ip"] == ip
}

/// One gateway's meerkat-sensor; the log tells when it runs.
struct Sensor {
    dir: PathBuf,
}

impl Sensor {
    fn eve(&self) -> PathBuf {
        self.dir.join("eve.json")
    }

    fn log(&self) -> String {
        fs::read_to_string(self.dir.join("sensor.log")).unwrap_or_default()
    }

    fn start(lab: &mut Lab, ns: &str, dir: PathBuf, config: &str) -> Sensor {
        fs::create_dir_all(&dir).expect("sensor dir");
        let cfg = dir.join("sensor.toml");
        fs::write(&cfg, config).expect("sensor config");
        let rules = repo_root().join("examples/rules/fake-ssh-agents.rules");
        let bin = sensor_bin();
        let args = [
            bin.to_str().expect("utf-8 path"),
            "-c",
            cfg.to_str().expect("utf-8 path"),
            "-q",
            "0",
            "--nflog",
            "10",
            "-S",
            rules.to_str().expect("utf-8 path"),
            "-l",
            dir.to_str().expect("utf-8 path"),
        ];
        let pid = lab.spawn(ns, &args, &dir.join("sensor.log"));
        let s = Sensor { dir };
        let up = wait_for(STEP, || {
            s.log().contains("meerkat-sensor running") || lab.gone(pid)
        });
        assert!(
            up && s.log().contains("meerkat-sensor running"),
            "meerkat-sensor in {ns} did not come up:\n{}",
            s.log()
        );
        s
    }
}

/// meerkat-dom for a gateway: the example heuristics, the example
/// ruleset's sets (`manage = false`: the firewall owns them), the fleet
/// (`apply = false` only to see this test fail).
fn dom_config(dir: &Path, input: &str, redis: &Redis, name: &str, apply: bool) -> String {
    format!(
        "allow = [\"127.0.0.0/8\", \"::1/128\"]\n\
         home_net = [\"203.0.113.0/24\", \"192.0.2.0/24\"]\n\
         include = [\"{heur}\"]\n\
         [input]\n{input}\nstart_at = \"beginning\"\n\
         [state]\ndir = \"{state}\"\n\
         [control]\nsocket = \"{sock}\"\n\
         [fleet]\nurl = \"{url}\"\nname = \"{name}\"\nprefix = \"mk\"\napply = {apply}\n\
         [[backend]]\nkind = \"nftables\"\nfamily = \"inet\"\ntable = \"{TABLE}\"\n\
         set_v4 = \"{SET4}\"\nset_v6 = \"suspectedip6\"\nmanage = false\n",
        heur = repo_root().join("examples/dom-heuristics.toml").display(),
        state = dir.join("state").display(),
        sock = dir.join("dom.sock").display(),
        url = redis.url(),
    )
}

/// Starts meerkat-dom in `ns` and waits until it publishes to Redis, reads
/// the fleet stream (when `apply`) and, with `redis_input`, its EVE stream.
fn start_dom(dir: &Path, cfg: &str, ns: &str, apply: bool, redis_input: bool) -> Daemon {
    fs::create_dir_all(dir).expect("dom dir");
    let d = Daemon::start_with(dir, cfg, &["ip", "netns", "exec", ns]);
    let up = wait_for(Duration::from_secs(15), || {
        let Some(s) = d.try_status() else {
            return false;
        };
        s["fleet_state"].as_str() == Some("connected")
            && (!apply || s["fleet_cursor"].as_str().is_some_and(|c| !c.is_empty()))
            && (!redis_input || s["input_connected"] == true)
    });
    assert!(
        up,
        "meerkat-dom in {ns} not connected to Redis: {}\nlog:\n{}",
        d.status(),
        d.log_text()
    );
    d
}

/// A new ed25519 key pair without passphrase at `path` (and `.pub`).
fn keygen(path: &Path) {
    let p = path.to_str().expect("utf-8 path");
    run_ok("ssh-keygen", &["-q", "-t", "ed25519", "-N", "", "-f", p]);
}

/// An sshd in `ns` on `addr:22` that lets root in with `client_pub`'s key.
fn start_sshd(lab: &mut Lab, ns: &str, addr: &str, dir: &Path, client_pub: &Path) {
    fs::create_dir_all(dir).expect("sshd dir");
    // sshd refuses to start without its privilege-separation directory.
    fs::create_dir_all("/run/sshd").expect("mkdir /run/sshd");
    let host = dir.join("host_ed25519");
    keygen(&host);
    let auth = dir.join("authorized_keys");
    fs::copy(client_pub, &auth).expect("authorized_keys");
    let cfg = dir.join("sshd_config");
    fs::write(
        &cfg,
        format!(
            "ListenAddress {addr}\nPort 22\nHostKey {}\nPidFile {}\nAuthorizedKeysFile {}\n\
             PermitRootLogin prohibit-password\nPasswordAuthentication no\n\
             KbdInteractiveAuthentication no\nStrictModes no\nUsePAM no\nPrintMotd no\n",
            host.display(),
            dir.join("sshd.pid").display(),
            auth.display()
        ),
    )
    .expect("sshd_config");
    let log = dir.join("sshd.log");
    lab.spawn(ns, &[SSHD, "-D", "-e", "-f", cfg.to_str().unwrap()], &log);
    assert!(
        lab.wait_listen(ns, 22),
        "sshd does not listen in {ns}:\n{}",
        fs::read_to_string(&log).unwrap_or_default()
    );
}

fn ssh(lab: &Lab, ns: &str, key: &Path, addr: &str) -> Output {
    let dest = format!("root@{addr}");
    lab.exec(
        ns,
        &[
            "timeout",
            "15",
            "ssh",
            "-F",
            "/dev/null",
            "-i",
            key.to_str().unwrap(),
            "-o",
            "BatchMode=yes",
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "ConnectTimeout=5",
            "-o",
            "LogLevel=ERROR",
            &dest,
            "echo logged-in",
        ],
    )
}

/// The paramiko fake agent from `ns` to `addr` (exit 0: handshake done;
/// 4: timed out, what a dropped flow looks like).
fn fake_agent(lab: &Lab, ns: &str, addr: &str) -> Output {
    let agent = repo_root().join("examples/fake-ssh-agent/fake_agent.py");
    lab.exec(
        ns,
        &[
            "timeout",
            "20",
            PYTHON,
            agent.to_str().unwrap(),
            addr,
            "--timeout",
            "3",
        ],
    )
}

fn prerequisites() -> bool {
    if !prereq::require_netns(TEST)
        || !prereq::require_programs(
            TEST,
            &[
                "nft",
                "iptables-restore",
                "ip6tables-restore",
                "redis-server",
                SSHD,
                "ssh",
                "ssh-keygen",
                "ss",
                "sysctl",
                "timeout",
                PYTHON,
            ],
        )
    {
        return false;
    }
    let paramiko = Command::new(PYTHON)
        .args(["-c", "import paramiko"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !paramiko {
        prereq::missing(
            TEST,
            &format!("{PYTHON} cannot import paramiko (apt-get install python3-paramiko)"),
        );
        return false;
    }
    let bin = sensor_bin();
    if !bin.is_file() {
        prereq::missing(
            TEST,
            &format!(
                "{} not found: build it beside meerkat-dom (cargo build --workspace, \
                 same profile) or set MEERKAT_SENSOR",
                bin.display()
            ),
        );
        return false;
    }
    true
}

#[test]
fn fleet_loop_fake_agent_seen_on_gw1_is_blocked_inline_on_gw2() {
    if !prerequisites() {
        return;
    }
    let started = Instant::now();
    let t = TmpDir::new("fleet-loop");
    let redis = Redis::start(&t.0);
    let mut lab = Lab {
        created: Vec::new(),
        children: Vec::new(),
    };
    let h = build(&mut lab);

    // Servers: one client key for both.
    let key = t.0.join("client_ed25519");
    keygen(&key);
    let key_pub = t.0.join("client_ed25519.pub");
    start_sshd(&mut lab, &h.srv1, SRV1, &t.0.join("srv1"), &key_pub);
    start_sshd(&mut lab, &h.srv2, SRV2, &t.0.join("srv2"), &key_pub);

    // Gateways: firewall, sensor, DOM.
    let mode1 = firewall(&lab, &h.gw1);
    let mode2 = firewall(&lab, &h.gw2);
    assert_eq!(mode1, mode2);
    let s1 = Sensor::start(
        &mut lab,
        &h.gw1,
        t.0.join("gw1/sensor"),
        &format!(
            "[nflog]\ntimeout_cs = 1\n[eve]\nsensor_name = \"gw1\"\n\
             [eve.redis]\nurl = \"{}\"\nkey = \"gw1:eve\"\nmode = \"stream\"\n",
            redis.url()
        ),
    );
    let s2 = Sensor::start(
        &mut lab,
        &h.gw2,
        t.0.join("gw2/sensor"),
        "[nflog]\ntimeout_cs = 1\n[eve]\nsensor_name = \"gw2\"\n",
    );
    let dir1 = t.0.join("gw1/dom");
    let dir2 = t.0.join("gw2/dom");
    let in1 = format!("redis = {{ url = \"{}\", key = \"gw1:eve\" }}", redis.url());
    let in2 = format!("eve = \"{}\"", s2.eve().display());
    // With `false` here the test fails: gw2 never learns the ban.
    let apply2 = true;
    let cfg1 = dom_config(&dir1, &in1, &redis, "gw1", true);
    let cfg2 = dom_config(&dir2, &in2, &redis, "gw2", apply2);
    let d1 = start_dom(&dir1, &cfg1, &h.gw1, true, true);
    let d2 = start_dom(&dir2, &cfg2, &h.gw2, apply2, false);
    let setup = started.elapsed();

    // 1. The fake agent through gw1: IDS path, so it gets through.
    let out = fake_agent(&lab, &h.attacker, SRV1);
    assert!(
        out.status.success(),
        "fake agent through gw1 (IDS path) should complete its handshake: {}\ngw1 eve:\n{}",
        show(&out),
        eve_summary(&s1.eve())
    );
    let ev = wait_eve(&s1.eve(), |v| {
        v["event_type"] == "ssh" && v["src_ip"] == ATTACKER && v["in_iface"] == IDS_IFACE
    })
    .unwrap_or_else(|| {
        panic!(
            "no ssh event of {ATTACKER} on {IDS_IFACE} in gw1's eve:\n{}\nsensor log:\n{}",
            eve_summary(&s1.eve()),
            s1.log()
        )
    });
    let client_sw = ev["ssh"]["client"]["software_version"]
        .as_str()
        .unwrap_or_default();
    assert!(client_sw.starts_with("paramiko_"), "{ev}");
    assert_eq!(ev["host"], "gw1", "sensor_name → host: {ev}");
    // On the IDS path the drop rule can only alert.
    let allowed = wait_eve(&s1.eve(), |v| {
        v["event_type"] == "alert" && v["src_ip"] == ATTACKER && v["in_iface"] == IDS_IFACE
    })
    .unwrap_or_else(|| panic!("no alert for {ATTACKER} in gw1's eve"));
    assert_eq!(allowed["alert"]["action"], "allowed", "{allowed}");

    // 2. gw1's DOM bans it (read from the Redis EVE stream).
    let banned1 = wait_for(STEP, || in_set(&lab, &h.gw1, ATTACKER));
    assert!(
        banned1,
        "{ATTACKER} not in gw1's set; gw1 dom: {}\nlog:\n{}",
        d1.status(),
        d1.log_text()
    );
    // 3. The fleet carries it to gw2's set.
    let banned2 = wait_for(STEP, || in_set(&lab, &h.gw2, ATTACKER));
    assert!(
        banned2,
        "{ATTACKER} not in gw2's set; gw2 dom: {}\nlog:\n{}\ngw1 dom: {}",
        d2.status(),
        d2.log_text(),
        d1.status()
    );
    let st2 = d2.status();
    assert!(
        st2["fleet_applied"].as_u64().unwrap_or(0) >= 1,
        "gw2 did not apply it from the fleet: {st2}"
    );
    // The decision on the stream came from gw1.
    let decision = redis
        .xrange("mk:bans")
        .into_iter()
        .find_map(|(_, f)| {
            let d: Value = serde_json::from_str(f.get("d")?).ok()?;
            (d["ip"] == ATTACKER && d["op"] == "ban").then_some(d)
        })
        .expect("gw1's ban on mk:bans");
    assert_eq!(decision["origin"], "gw1", "{decision}");
    // Until now the attacker never sent anything through gw2.
    assert!(
        !read_eve(&s2.eve()).iter().any(|v| involves(v, ATTACKER)),
        "gw2 saw {ATTACKER} before its first connection there:\n{}",
        eve_summary(&s2.eve())
    );
    let ips_before = ips_packets(&lab, &h.gw2);

    // 4. The agent's first connection through gw2: NFQUEUE, dropped.
    let out = fake_agent(&lab, &h.attacker, SRV2);
    assert!(
        !out.status.success(),
        "fake agent through gw2 completed its handshake although banned: {}\ngw2 eve:\n{}",
        show(&out),
        eve_summary(&s2.eve())
    );
    let blocked = wait_eve(&s2.eve(), |v| {
        v["event_type"] == "alert" && v["src_ip"] == ATTACKER && v["alert"]["action"] == "blocked"
    })
    .unwrap_or_else(|| {
        panic!(
            "no blocked alert for {ATTACKER} in gw2's eve:\n{}\nsensor log:\n{}",
            eve_summary(&s2.eve()),
            s2.log()
        )
    });
    assert_eq!(blocked["in_iface"], IPS_IFACE, "{blocked}");
    assert_eq!(blocked["alert"]["signature_id"], 1000001, "{blocked}");
    assert_eq!(blocked["dest_ip"], SRV2, "{blocked}");
    assert_eq!(blocked["host"], "gw2", "{blocked}");
    let ips_after = ips_packets(&lab, &h.gw2);
    assert!(
        ips_after > ips_before,
        "no packet of the attacker took gw2's IPS path ({ips_before} → {ips_after})"
    );
    // Every packet of that connection went through the IPS path.
    let on_ids: Vec<Value> = read_eve(&s2.eve())
        .into_iter()
        .filter(|v| involves(v, ATTACKER) && v["in_iface"] != IPS_IFACE)
        .collect();
    assert!(
        on_ids.is_empty(),
        "gw2 saw {ATTACKER} outside the IPS path: {on_ids:?}"
    );

    // 5. A legitimate OpenSSH client through gw2 still logs in.
    let out = ssh(&lab, &h.client, &key, SRV2);
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains("logged-in"),
        "OpenSSH client through gw2 failed: {}",
        show(&out)
    );
    let ev = wait_eve(&s2.eve(), |v| {
        v["event_type"] == "ssh" && v["src_ip"] == CLIENT && v["in_iface"] == IDS_IFACE
    })
    .unwrap_or_else(|| panic!("no ssh event of the client in gw2's eve"));
    assert!(
        ev["ssh"]["client"]["software_version"]
            .as_str()
            .is_some_and(|s| s.starts_with("OpenSSH_")),
        "{ev}"
    );
    std::thread::sleep(Duration::from_millis(300));
    for (ns, d) in [(&h.gw1, &d1), (&h.gw2, &d2)] {
        assert!(!in_set(&lab, ns, CLIENT), "client banned in {ns}");
        assert!(
            !d.banned_ips().iter().any(|ip| ip == CLIENT),
            "client in {ns}'s DOM list"
        );
    }

    // The daemons' own timestamps: gw1 logs the ban right after its
    // netlink add, gw2 "applied fleet decisions" right after its own.
    let gw1_ban = log_ms(&d1.log_text(), &[&format!("ban {ATTACKER} for")]);
    let gw2_set = log_ms(&d2.log_text(), &["applied fleet decisions"]);
    let (Some(gw1_ban), Some(gw2_set)) = (gw1_ban, gw2_set) else {
        panic!(
            "no ban line in gw1's log or no applied line in gw2's:\n{}\n---\n{}",
            d1.log_text(),
            d2.log_text()
        );
    };
    eprintln!(
        "fleet loop ({mode1}): gw1's ban → in gw2's set {:.2} ms; ssh event (packet time) → \
         gw1's ban {:.1} ms; setup {:.1} s, total {:.1} s",
        gw2_set - gw1_ban,
        gw1_ban - ts_ms(&ev_ts(&s1.eve())),
        setup.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
}

/// The first line of a DOM log containing every needle: its timestamp in
/// ms since the epoch (colour codes skipped).
fn log_ms(log: &str, needles: &[&str]) -> Option<f64> {
    let plain = |l: &str| {
        let mut out = String::new();
        let mut esc = false;
        for c in l.chars() {
            match (esc, c) {
                (false, '\x1b') => esc = true,
                (true, 'm') => esc = false,
                (true, _) => {}
                (false, c) => out.push(c),
            }
        }
        out
    };
    log.lines()
        .map(plain)
        .find(|l| needles.iter().all(|n| l.contains(n)))
        .and_then(|l| l.split_whitespace().next().map(ts_ms))
        .filter(|v| v.is_finite())
}

/// The timestamp of the attacker's ssh event in an EVE file.
fn ev_ts(eve: &Path) -> String {
    read_eve(eve)
        .into_iter()
        .find(|v| v["event_type"] == "ssh" && v["src_ip"] == ATTACKER)
        .and_then(|v| v["timestamp"].as_str().map(str::to_string))
        .unwrap_or_default()
}

/// "2026-01-02T03:04:05.123456+0000" (EVE) or "...05.123456Z" (the DOM's
/// log) → ms since the epoch; NaN when it does not parse.
fn ts_ms(ts: &str) -> f64 {
    let p = |r: std::ops::Range<usize>| ts.get(r).and_then(|s| s.parse::<i64>().ok());
    let (Some(y), Some(mo), Some(d), Some(h), Some(mi)) =
        (p(0..4), p(5..7), p(8..10), p(11..13), p(14..16))
    else {
        return f64::NAN;
    };
    let rest = ts.get(17..).unwrap_or_default();
    let n = rest
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(rest.len());
    let Ok(sec) = rest[..n].parse::<f64>() else {
        return f64::NAN;
    };
    // "Z", "+hhmm" or "+hh:mm".
    let zone: String = rest[n..].chars().filter(|c| *c != ':').collect();
    let off = match (zone.get(..1), zone.get(1..3), zone.get(3..5)) {
        (Some("Z") | None, _, _) => 0.0,
        (Some(sign), Some(oh), Some(om)) => {
            let (Ok(oh), Ok(om)) = (oh.parse::<i64>(), om.parse::<i64>()) else {
                return f64::NAN;
            };
            let m = (oh * 60 + om) as f64 * 60_000.0;
            if sign == "-" {
                -m
            } else {
                m
            }
        }
        _ => return f64::NAN,
    };
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    ((days * 86_400 + h * 3600 + mi * 60) as f64) * 1000.0 + sec * 1000.0 - off
}
