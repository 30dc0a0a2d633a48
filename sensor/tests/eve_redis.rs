//! EVE to Redis (`[eve.redis]`, `[eve] sensor_name`) with a real
//! `redis-server` started here (temporary directory, unix socket only,
//! `--save ''`):
//!
//! * `pcap_events_reach_redis_in_every_mode`: a pcap read with `-r`; every
//!   line of eve.json is also in Redis, with the configured `host`, in the
//!   `stream`, `list`, `rpush` and `channel` modes (no root needed).
//! * `redis_outage_under_nfqueue_traffic`: iperf3 through NFQUEUE with a
//!   rule that alerts on every packet to the server; Redis is killed
//!   mid-run and started again. iperf3 completes, every packet gets its
//!   verdict, the events for Redis lost meanwhile are counted in the stats
//!   event and reported in the log once, eve.json loses nothing, and
//!   events reach the restarted Redis (root, namespaces).
//!
//! A missing redis-server, iperf3 or root fails the test under `CI` (or
//! `MEERKAT_REQUIRE_ALL=1`) and is a loud skip otherwise (see `prereq`).
//! Addresses are documentation ranges only.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

const SENSOR_NAME: &str = "gw-test-7";

/// A redis-server of our own on a unix socket in `dir`.
struct Redis {
    child: Option<Child>,
    dir: PathBuf,
    sock: PathBuf,
}

impl Redis {
    fn start(dir: &Path) -> Redis {
        let mut r = Redis {
            child: None,
            dir: dir.to_path_buf(),
            sock: dir.join("redis.sock"),
        };
        r.spawn();
        r
    }

    fn url(&self) -> String {
        format!("unix://{}", self.sock.display())
    }

    fn spawn(&mut self) {
        let _ = fs::remove_file(&self.sock);
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
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Some(mut c) = self.con() {
                if redis::cmd("PING").query::<String>(&mut c).is_ok() {
                    return;
                }
            }
            sleep(Duration::from_millis(50));
        }
        panic!(
            "redis-server did not come up on {}: {}",
            self.sock.display(),
            fs::read_to_string(self.dir.join("redis.log")).unwrap_or_default()
        );
    }

    fn con(&self) -> Option<redis::Connection> {
        redis::Client::open(self.url()).ok()?.get_connection().ok()
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = fs::remove_file(&self.sock);
    }

    /// The `eve` field of every entry of stream `key`.
    fn stream(&self, key: &str) -> Vec<String> {
        let Some(mut c) = self.con() else {
            return Vec::new();
        };
        let v: redis::Value = redis::cmd("XRANGE")
            .arg(key)
            .arg("-")
            .arg("+")
            .query(&mut c)
            .expect("XRANGE");
        let mut out = Vec::new();
        if let redis::Value::Array(entries) = v {
            for e in entries {
                let redis::Value::Array(parts) = e else {
                    continue;
                };
                let Some(redis::Value::Array(fields)) = parts.get(1) else {
                    continue;
                };
                assert_eq!(fields.len(), 2, "one field per entry: {fields:?}");
                let name: String = redis::from_redis_value(fields[0].clone()).unwrap();
                assert_eq!(name, "eve");
                out.push(redis::from_redis_value(fields[1].clone()).unwrap());
            }
        }
        out
    }

    fn xlen(&self, key: &str) -> u64 {
        self.con()
            .and_then(|mut c| redis::cmd("XLEN").arg(key).query(&mut c).ok())
            .unwrap_or(0)
    }

    fn list(&self, key: &str) -> Vec<String> {
        let mut c = self.con().expect("connect to redis");
        redis::cmd("LRANGE")
            .arg(key)
            .arg(0)
            .arg(-1)
            .query(&mut c)
            .expect("LRANGE")
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
    }
}

fn need_redis(test: &str) -> bool {
    require_programs(test, &["redis-server"])
}

/// A pcap (raw IPv4) of `n` UDP datagrams 192.0.2.10 → 198.51.100.20:9999,
/// each from its own source port.
fn write_pcap(path: &Path, n: u16) {
    let mut out = Vec::new();
    out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&0i32.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&65535u32.to_le_bytes());
    out.extend_from_slice(&101u32.to_le_bytes()); // LINKTYPE_RAW
    for i in 0..n {
        let payload = format!("meerkat redis test {i}");
        let udp_len = 8 + payload.len();
        let total = 20 + udp_len;
        let mut ip = vec![
            0x45,
            0,
            (total >> 8) as u8,
            total as u8,
            0,
            1,
            0x40,
            0,
            64,
            17,
            0,
            0,
            192,
            0,
            2,
            10,
            198,
            51,
            100,
            20,
        ];
        let mut sum: u32 = ip
            .chunks(2)
            .map(|c| u32::from(c[0]) << 8 | u32::from(c[1]))
            .sum();
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        let ck = !(sum as u16);
        ip[10] = (ck >> 8) as u8;
        ip[11] = ck as u8;
        let sport = 40000 + i;
        ip.extend_from_slice(&sport.to_be_bytes());
        ip.extend_from_slice(&9999u16.to_be_bytes());
        ip.extend_from_slice(&(udp_len as u16).to_be_bytes());
        ip.extend_from_slice(&[0, 0]); // no UDP checksum
        ip.extend_from_slice(payload.as_bytes());
        out.extend_from_slice(&(1_700_000_000u32 + u32::from(i)).to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&(ip.len() as u32).to_le_bytes());
        out.extend_from_slice(&(ip.len() as u32).to_le_bytes());
        out.extend_from_slice(&ip);
    }
    fs::write(path, out).expect("write pcap");
}

/// Collects what is published on `channel` until `stop` exists.
fn subscribe(url: String, channel: String, stop: PathBuf) -> std::thread::JoinHandle<Vec<String>> {
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let h = std::thread::spawn(move || {
        let mut con = redis::Client::open(url)
            .and_then(|c| c.get_connection())
            .expect("subscriber connection");
        let mut got = Vec::new();
        let mut ps = con.as_pubsub();
        ps.subscribe(&channel).expect("SUBSCRIBE");
        ps.set_read_timeout(Some(Duration::from_millis(200)))
            .expect("read timeout");
        ready_tx.send(()).ok();
        loop {
            match ps.get_message() {
                Ok(m) => got.push(m.get_payload::<String>().expect("payload")),
                Err(e) if e.is_timeout() => {
                    if stop.exists() {
                        break;
                    }
                }
                Err(e) => panic!("subscriber: {e}"),
            }
        }
        got
    });
    ready_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("subscriber ready");
    h
}

#[test]
fn pcap_events_reach_redis_in_every_mode() {
    let test = "pcap_events_reach_redis_in_every_mode";
    if !need_redis(test) {
        return;
    }
    let dir = WorkDir::new("everedis-pcap");
    let redis = Redis::start(&dir.path);
    let pcap = dir.join("udp.pcap");
    write_pcap(&pcap, 40);
    let rules = dir.join("r.rules");
    fs::write(
        &rules,
        "alert udp any any -> any 9999 (msg:\"MEERKAT redis test\"; sid:1000300; rev:1;)\n",
    )
    .unwrap();
    for mode in ["stream", "list", "rpush", "channel"] {
        let key = format!("eve-{mode}");
        let log = dir.join(mode);
        fs::create_dir_all(&log).unwrap();
        let cfg = log.join("sensor.toml");
        fs::write(
            &cfg,
            format!(
                "[eve]\nsensor_name = \"{SENSOR_NAME}\"\n\n[eve.redis]\nurl = \"{}\"\n\
                 key = \"{key}\"\nmode = \"{mode}\"\nmaxlen = 10000\n",
                redis.url()
            ),
        )
        .unwrap();
        let stop = log.join("stop");
        let sub = (mode == "channel").then(|| subscribe(redis.url(), key.clone(), stop.clone()));
        let out = Command::new(sensor_bin())
            .arg("-c")
            .arg(&cfg)
            .arg("-r")
            .arg(&pcap)
            .arg("-S")
            .arg(&rules)
            .arg("-l")
            .arg(&log)
            .output()
            .expect("run meerkat-sensor");
        assert!(out.status.success(), "{mode}: {}", show(&out));
        let file: Vec<String> = fs::read_to_string(log.join("eve.json"))
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect();
        let got = match mode {
            "stream" => redis.stream(&key),
            "list" => {
                // LPUSH: newest first.
                let mut l = redis.list(&key);
                l.reverse();
                l
            }
            "rpush" => redis.list(&key),
            _ => {
                sleep(Duration::from_millis(300));
                fs::write(&stop, "").unwrap();
                sub.unwrap().join().expect("subscriber")
            }
        };
        assert_eq!(
            got, file,
            "{mode}: Redis must hold exactly the lines of eve.json, in order"
        );
        let alerts = file
            .iter()
            .filter(|l| l.contains("\"event_type\":\"alert\""))
            .count();
        assert_eq!(alerts, 40, "{mode}: one alert per datagram");
        for l in &got {
            let v: Value = serde_json::from_str(l).expect("JSON in Redis");
            assert_eq!(v["host"], SENSOR_NAME, "{mode}: {l}");
            assert!(
                l.ends_with(&format!(",\"host\":\"{SENSOR_NAME}\"}}")),
                "host last: {l}"
            );
        }
        let stats: Value = file
            .iter()
            .rev()
            .find_map(|l| {
                serde_json::from_str::<Value>(l)
                    .ok()
                    .filter(|v| v["event_type"] == "stats")
            })
            .expect("stats event");
        let e = &stats["stats"]["capture"]["eve"];
        // The stats event is built while earlier lines may still be on
        // their way to Redis: only `lost` is exact here.
        assert_eq!(e["redis_lost"], 0, "{mode}: {e}");
        assert_eq!(e["redis_outages"], 0, "{mode}: {e}");
        assert!(e["redis_sent"].is_u64(), "{mode}: {e}");
    }
    // Without sensor_name, no host field (as Suricata without sensor-name).
    let log = dir.join("nohost");
    fs::create_dir_all(&log).unwrap();
    let out = Command::new(sensor_bin())
        .arg("-r")
        .arg(&pcap)
        .arg("-S")
        .arg(&rules)
        .arg("-l")
        .arg(&log)
        .output()
        .expect("run meerkat-sensor");
    assert!(out.status.success(), "{}", show(&out));
    let text = fs::read_to_string(log.join("eve.json")).unwrap();
    assert!(!text.is_empty() && !text.contains("\"host\""), "{text}");
}

/// A Redis that is not there: the pcap run still completes, eve.json is
/// complete, and every event is counted as lost for Redis.
#[test]
fn unreachable_redis_does_not_stop_the_sensor() {
    let dir = WorkDir::new("everedis-down");
    let pcap = dir.join("udp.pcap");
    write_pcap(&pcap, 20);
    let rules = dir.join("r.rules");
    fs::write(
        &rules,
        "alert udp any any -> any 9999 (msg:\"MEERKAT redis test\"; sid:1000300; rev:1;)\n",
    )
    .unwrap();
    let cfg = dir.join("sensor.toml");
    fs::write(
        &cfg,
        format!(
            "[eve.redis]\nurl = \"unix://{}/absent.sock\"\n",
            dir.path.display()
        ),
    )
    .unwrap();
    let started = Instant::now();
    let out = Command::new(sensor_bin())
        .arg("-c")
        .arg(&cfg)
        .arg("-r")
        .arg(&pcap)
        .arg("-S")
        .arg(&rules)
        .arg("-l")
        .arg(&dir.path)
        .output()
        .expect("run meerkat-sensor");
    assert!(out.status.success(), "{}", show(&out));
    assert!(started.elapsed() < Duration::from_secs(20));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.matches("EVE to Redis: cannot connect").count(),
        1,
        "one warning per outage: {stderr}"
    );
    assert!(stderr.contains("absent.sock"), "the URL is named: {stderr}");
    let events = read_eve(&dir.join("eve.json"));
    assert_eq!(
        events.iter().filter(|v| v["event_type"] == "alert").count(),
        20
    );
    let stats = events
        .iter()
        .rev()
        .find(|v| v["event_type"] == "stats")
        .expect("stats event");
    let e = &stats["stats"]["capture"]["eve"];
    // The counters are there; in a pcap run the stats event is built
    // before the eve-redis thread has tried (see the e2e test for counts).
    for k in ["redis_lost", "redis_sent", "redis_outages"] {
        assert!(e[k].is_u64(), "{k}: {e}");
    }
    assert_eq!(e["redis_sent"], 0, "{e}");
}

#[test]
fn redis_outage_under_nfqueue_traffic() {
    let test = "redis_outage_under_nfqueue_traffic";
    if !need_redis(test) || !require_programs(test, &["iperf3"]) {
        return;
    }
    let Some(topo) = Topology::new("everedis") else {
        return;
    };
    let dir = WorkDir::new("everedis-nfq");
    let mut redis = Redis::start(&dir.path);
    topo.mixed_mode_firewall();
    topo.spawn(
        &topo.server,
        &["iperf3", "-s", "-1", "-B", SERVER_IP, "-p", "5201"],
        &dir.join("iperf3-server.log"),
    );
    assert!(
        topo.wait_listen(&topo.server, 5201, Duration::from_secs(10)),
        "iperf3 server does not listen"
    );
    let rules = dir.join("flood.rules");
    fs::write(
        &rules,
        "alert tcp any any -> any 5201 (msg:\"MEERKAT e2e redis flood\"; flow:to_server; \
         dsize:>0; sid:1000301; rev:1;)\n",
    )
    .unwrap();
    let cfg = dir.join("sensor.toml");
    fs::write(
        &cfg,
        format!(
            "[eve]\nsensor_name = \"{SENSOR_NAME}\"\nstats_interval = \"1s\"\n\n\
             [eve.redis]\nurl = \"{}\"\nkey = \"suricata\"\nmaxlen = 1000000\n",
            redis.url()
        ),
    )
    .unwrap();
    let cfg_s = cfg.to_string_lossy();
    let rules_s = rules.to_string_lossy();
    let mut sensor = Sensor::start(
        &topo.gateway,
        &["-c", &cfg_s, "-q", "0", "--nflog", "10", "-S", &rules_s],
        &dir.path,
    );

    // 10 s at 40 Mbit/s from the attacker: every packet crosses NFQUEUE,
    // each one to the server raises an alert (about 3,500 events/s).
    let client = topo
        .command(
            &topo.attacker,
            &[
                "timeout", "40", "iperf3", "-c", SERVER_IP, "-p", "5201", "-t", "10", "-b", "1G",
                "-J",
            ],
        )
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start iperf3 client");
    let t0 = Instant::now();
    let wait_xlen = |r: &Redis, min: u64, until: Duration| {
        while t0.elapsed() < until {
            if r.xlen("suricata") >= min {
                return true;
            }
            sleep(Duration::from_millis(100));
        }
        false
    };
    assert!(
        wait_xlen(&redis, 1000, Duration::from_secs(3)),
        "events should reach Redis: XLEN {}\nsensor log:\n{}",
        redis.xlen("suricata"),
        sensor.log_text()
    );
    // Outage: Redis gone for 2 s, then back empty (no persistence).
    redis.stop();
    let stopped_at = t0.elapsed();
    sleep(Duration::from_secs(2));
    redis.spawn();
    let resumed = wait_xlen(&redis, 100, Duration::from_secs(9));
    let out = client.wait_with_output().expect("wait for iperf3");
    sensor.stop();
    let log = sensor.log_text();
    assert!(
        resumed,
        "events should reach the restarted Redis (stopped at {stopped_at:?}): XLEN {}\nsensor log:\n{log}",
        redis.xlen("suricata")
    );
    assert!(out.status.success(), "iperf3 must complete: {}", show(&out));
    let report: Value = serde_json::from_slice(&out.stdout).expect("iperf3 -J output");
    assert!(
        report["end"]["sum_received"]["bytes"].as_u64().unwrap_or(0) > 10_000_000,
        "iperf3 moved too little: {}",
        report["end"]
    );

    let stats = last_stats(&sensor.eve);
    let cap = &stats["stats"]["capture"];
    let nfq = &cap[IPS_IFACE];
    let n = |k: &str| nfq[k].as_u64().unwrap_or(u64::MAX);
    assert!(
        n("packets") > 1000,
        "too little traffic through NFQUEUE: {nfq}"
    );
    assert_eq!(
        n("packets"),
        n("accepted") + n("dropped"),
        "every queued packet must get a verdict: {nfq}"
    );
    let eve = &cap["eve"];
    eprintln!(
        "{test}: nfq {nfq}\neve {eve}\niperf3 {} bit/s",
        report["end"]["sum_received"]["bits_per_second"]
    );
    let e = |k: &str| eve[k].as_u64().unwrap_or(u64::MAX);
    assert!(
        e("redis_lost") > 0 && e("redis_lost") != u64::MAX,
        "lost events must be counted: {eve}"
    );
    assert!(e("redis_outages") >= 1, "{eve}");
    assert!(e("redis_sent") > 1000, "{eve}");
    assert_eq!(
        e("dropped"),
        0,
        "eve.json must not lose events to the Redis outage: {eve}"
    );
    assert_eq!(
        log.matches("EVE to Redis: lost the connection").count(),
        1,
        "one warning per outage:\n{log}"
    );
    assert!(log.contains("connected again"), "{log}");
    // Every event of the file went to Redis or was counted as lost; the
    // last stats event is built while some lines may still be queued.
    let alerts = read_eve(&sensor.eve)
        .iter()
        .filter(|v| v["event_type"] == "alert")
        .count();
    assert!(alerts > 5000, "the rule should alert often: {alerts}");
    let in_file = read_eve(&sensor.eve).len() as u64;
    assert!(e("redis_sent") + e("redis_lost") < in_file, "{eve}");
    let sample = redis.stream("suricata");
    let v: Value = serde_json::from_str(sample.last().expect("events after restart")).unwrap();
    assert_eq!(v["host"], SENSOR_NAME, "{v}");
}
