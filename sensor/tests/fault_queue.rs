//! Faults 1 and 2 (reliability issue): the sensor killed with SIGKILL under
//! load, and the sensor overloaded (NFQUEUE full) while traffic goes on.
//! Real traffic (iperf3, ping series) through the mixed-mode gateway of
//! `common`: the attacker's packets cross NFQUEUE 0 with `--queue-bypass`
//! (IPS), the client's are copied to NFLOG group 10 (IDS).
//!
//! Fault 1: after `kill -9` traffic keeps flowing on both paths (IPS
//! bypassed, IDS untouched), no packet waits for a verdict that never comes
//! (the ping series goes on; the gap between replies across the kill is
//! printed), and a restarted sensor inspects again (a drop rule drops a
//! marked ping again).
//!
//! Fault 2, the sensor stopped with SIGSTOP, three times:
//! * `fail_open = true`, `queue_maxlen = 8`: the queue fills, traffic goes
//!   on, and the fail-opened packets are counted as the NFQUEUE rules'
//!   packet counters minus what the sensor received. The kernel counts
//!   these nowhere (`queue_dropped` only counts without fail-open, and no
//!   packet id is spent on them), so the sensor cannot either.
//! * `fail_open = true`, tiny socket buffer, long queue: the socket fills
//!   first; the kernel fails open on each packet it cannot put on the
//!   socket, and the sensor counts exactly those from the gaps in the
//!   packet ids (stats `capture."nfq:0".fail_open`).
//! * `fail_open = false`: the kernel drops instead of stalling for ever,
//!   counts it (`queue_dropped`), and the sensor reports it (`kernel_lost`);
//!   traffic is back after SIGCONT.
//!
//! Root only: a failure under CI, a loud skip elsewhere.

mod common;

use std::fs;
use std::path::Path;
use std::process::{Child, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::*;
use serde_json::Value;

/// A drop rule for echo requests that carry the marker "MKFAULT1" (the
/// pattern of [`MARKER_HEX`]).
const MARKER_RULE: &str = "drop icmp any any -> any any (msg:\"MEERKAT fault marker ping\"; \
     itype:8; content:\"MKFAULT1\"; sid:1000901; rev:1;)\n";
const MARKER_SID: u64 = 1000901;
/// "MKFAULT1" in hex, for `ping -p`.
const MARKER_HEX: &str = "4d4b4641554c5431";

/// Seconds since the epoch, as `ping -D` prints them.
fn now_epoch() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Sends `count` marked pings from `ns` to the server; returns how many
/// were answered.
fn marker_pings(topo: &Topology, ns: &str, count: u32) -> u32 {
    let c = count.to_string();
    let out = topo.exec(
        ns,
        &[
            "ping", "-c", &c, "-i", "0.2", "-W", "1", "-q", "-p", MARKER_HEX, SERVER_IP,
        ],
    );
    received(&String::from_utf8_lossy(&out.stdout))
}

/// "N received" of ping's summary line.
fn received(text: &str) -> u32 {
    text.split(',')
        .find_map(|p| p.trim().strip_suffix(" received"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

/// A ping series from `ns` to the server: `count` echo requests every
/// `interval` seconds, replies timestamped (`-D`), written to `out` (a
/// pipe nobody reads until the end would fill up and stall ping).
fn spawn_ping_series(topo: &Topology, ns: &str, count: u32, interval: &str, out: &Path) -> Child {
    let c = count.to_string();
    let file = fs::File::create(out).expect("create ping output file");
    topo.command(
        ns,
        &[
            "ping", "-D", "-n", "-c", &c, "-i", interval, "-W", "1", SERVER_IP,
        ],
    )
    .stdout(file)
    .spawn()
    .expect("start ping series")
}

/// Waits for a ping series and returns its reply times.
fn finish_ping_series(child: Child, out: &Path) -> Vec<f64> {
    let _ = child.wait_with_output().expect("wait for ping");
    reply_times(&fs::read_to_string(out).unwrap_or_default())
}

/// Reply receive times (epoch seconds) of a `ping -D` output, in order.
fn reply_times(text: &str) -> Vec<f64> {
    text.lines()
        .filter(|l| l.contains("icmp_seq=") && l.contains("bytes from"))
        .filter_map(|l| {
            let ts = l.strip_prefix('[')?.split(']').next()?;
            ts.parse().ok()
        })
        .collect()
}

/// The longest gap between two consecutive replies, in ms, and when it
/// started (epoch seconds).
fn longest_gap(times: &[f64]) -> (f64, f64) {
    times
        .windows(2)
        .map(|w| ((w[1] - w[0]) * 1000.0, w[0]))
        .fold((0.0, 0.0), |acc, g| if g.0 > acc.0 { g } else { acc })
}

/// The time between the last reply at or before `at` and the first one
/// after it, in ms (NaN when there is none on one side).
fn gap_across(times: &[f64], at: f64) -> f64 {
    let before = times.iter().rev().find(|&&t| t <= at);
    let after = times.iter().find(|&&t| t > at);
    match (before, after) {
        (Some(a), Some(b)) => (b - a) * 1000.0,
        _ => f64::NAN,
    }
}

/// The median time between consecutive replies, in ms.
fn median_spacing(times: &[f64]) -> f64 {
    let mut d: Vec<f64> = times.windows(2).map(|w| (w[1] - w[0]) * 1000.0).collect();
    d.sort_by(f64::total_cmp);
    d.get(d.len() / 2).copied().unwrap_or(f64::NAN)
}

/// iperf3 `-J` report of a finished client; panics with its output when
/// it failed.
fn iperf_report(child: Child, what: &str) -> Value {
    let out = child.wait_with_output().expect("wait for iperf3");
    assert!(
        out.status.success(),
        "iperf3 on the {what} path must complete: {}",
        show(&out)
    );
    serde_json::from_slice(&out.stdout).expect("iperf3 -J output")
}

/// `(start s, bytes)` of each interval of an iperf3 report.
fn intervals(report: &Value) -> Vec<(f64, u64)> {
    report["intervals"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|i| {
                    (
                        i["sum"]["start"].as_f64().unwrap_or(0.0),
                        i["sum"]["bytes"].as_u64().unwrap_or(0),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn spawn_iperf(topo: &Topology, ns: &str, port: &str, secs: &str) -> Child {
    topo.command(
        ns,
        &[
            "timeout", "60", "iperf3", "-c", SERVER_IP, "-p", port, "-t", secs, "-i", "0.5", "-b",
            "200M", "-J",
        ],
    )
    .stdin(Stdio::null())
    .spawn()
    .expect("start iperf3 client")
}

fn start_iperf_server(topo: &Topology, port: u16, dir: &WorkDir) {
    let p = port.to_string();
    topo.spawn(
        &topo.server,
        &["iperf3", "-s", "-1", "-B", SERVER_IP, "-p", &p],
        &dir.join(&format!("iperf3-server-{port}.log")),
    );
    assert!(
        topo.wait_listen(&topo.server, port, Duration::from_secs(10)),
        "iperf3 server does not listen on {port}"
    );
}

fn kill(pid: u32, sig: &str) {
    run_ok("kill", &["-s", sig, &pid.to_string()]);
}

/// The marker alert (sid 1000901) on the IPS path, within 10 s.
fn marker_alert(eve: &Path) -> Option<Value> {
    wait_for_eve(
        eve,
        |v| is_event(v, "alert", IPS_IFACE) && v["alert"]["signature_id"] == MARKER_SID,
        EVE_TIMEOUT,
    )
}

#[test]
fn kill9_under_load_bypasses_and_restart_inspects() {
    let test = "kill9_under_load_bypasses_and_restart_inspects";
    if !require_programs(test, &["iperf3", "ping", "kill"]) {
        return;
    }
    let Some(topo) = Topology::new("kill9") else {
        return;
    };
    let dir = WorkDir::new("kill9");
    topo.mixed_mode_firewall();
    start_iperf_server(&topo, 5201, &dir);
    start_iperf_server(&topo, 5202, &dir);
    let rules = dir.join("marker.rules");
    fs::write(&rules, MARKER_RULE).expect("write rules");
    let rules = rules.to_string_lossy().into_owned();
    let args = ["-q", "0", "--nflog", "10", "-S", &rules];
    let run1 = dir.join("run1");
    let run2 = dir.join("run2");
    fs::create_dir_all(&run1).unwrap();
    fs::create_dir_all(&run2).unwrap();
    let sensor = Sensor::start(&topo.gateway, &args, &run1);

    // Inspection works before the fault.
    assert_eq!(
        marker_pings(&topo, &topo.attacker, 2),
        0,
        "marked pings must be dropped on the IPS path"
    );
    let a = marker_alert(&sensor.eve);
    assert!(
        a.as_ref()
            .is_some_and(|a| a["alert"]["action"] == "blocked"),
        "no blocked marker alert before the kill: {a:?}\n{}",
        eve_summary(&sensor.eve)
    );

    // Load on both paths, and a ping series on each (100 per second).
    let ips_iperf = spawn_iperf(&topo, &topo.attacker, "5201", "10");
    let ids_iperf = spawn_iperf(&topo, &topo.client, "5202", "10");
    let (ips_out, ids_out) = (dir.join("ping-ips.txt"), dir.join("ping-ids.txt"));
    let ips_ping = spawn_ping_series(&topo, &topo.attacker, 1000, "0.01", &ips_out);
    let ids_ping = spawn_ping_series(&topo, &topo.client, 1000, "0.01", &ids_out);
    let started = Instant::now();
    sleep(Duration::from_secs(3));

    let pid = sensor.pid().expect("sensor pid");
    let killed_at = now_epoch();
    let killed_rel = started.elapsed().as_secs_f64();
    kill(pid, "KILL");
    drop(sensor); // reaps the killed process
    sleep(Duration::from_millis(2500));

    // Restart during the load; the marker is dropped again.
    let restarted_at = now_epoch();
    let restarted_rel = started.elapsed().as_secs_f64();
    let mut sensor = Sensor::start(&topo.gateway, &args, &run2);
    let up_at = now_epoch();
    let dropped_again = marker_pings(&topo, &topo.attacker, 2);
    let alert_again = marker_alert(&sensor.eve);

    let ips_report = iperf_report(ips_iperf, "IPS (NFQUEUE)");
    let ids_report = iperf_report(ids_iperf, "IDS (NFLOG)");
    let ips_times = finish_ping_series(ips_ping, &ips_out);
    let ids_times = finish_ping_series(ids_ping, &ids_out);
    sensor.stop();

    let (ips_gap, ips_gap_at) = longest_gap(&ips_times);
    let (ids_gap, ids_gap_at) = longest_gap(&ids_times);
    // The gaps around the kill and the restart, and the usual spacing of
    // replies (ping's real pace) to compare them with.
    let kill_gap = gap_across(&ips_times, killed_at);
    let restart_gap = gap_across(&ips_times, restarted_at);
    let pace = median_spacing(&ips_times);
    let while_dead = ips_times
        .iter()
        .filter(|&&t| t > killed_at && t < restarted_at)
        .count();
    let after_restart = ips_times.iter().filter(|&&t| t > up_at).count();
    let ips_iv = intervals(&ips_report);
    let ids_iv = intervals(&ids_report);
    eprintln!(
        "fault 1 figures: kill -9 at {killed_rel:.2}s, restart at {restarted_rel:.2}s; \
         IPS ping replies {}/1000 (longest gap {ips_gap:.0} ms at {:.2}s, gap across the kill \
         {kill_gap:.0} ms, across the restart {restart_gap:.0} ms, median spacing {pace:.0} ms, {while_dead} replies while \
         the sensor was dead, {after_restart} after restart); IDS ping replies {}/1000 \
         (longest gap {ids_gap:.0} ms at {:.2}s); iperf3 IPS {:.0} Mbit/s (lowest 0.5 s interval {} \
         bytes), IDS {:.0} Mbit/s (lowest {} bytes)",
        ips_times.len(),
        ips_gap_at - (killed_at - killed_rel),
        ids_times.len(),
        ids_gap_at - (killed_at - killed_rel),
        ips_report["end"]["sum_received"]["bits_per_second"]
            .as_f64()
            .unwrap_or(0.0)
            / 1e6,
        ips_iv.iter().map(|i| i.1).min().unwrap_or(0),
        ids_report["end"]["sum_received"]["bits_per_second"]
            .as_f64()
            .unwrap_or(0.0)
            / 1e6,
        ids_iv.iter().map(|i| i.1).min().unwrap_or(0),
    );

    // IPS path bypassed while the sensor was dead: no verdict awaited.
    assert!(
        while_dead > 50,
        "the IPS ping series stalled after kill -9 ({while_dead} replies in the \
         {:.1} s the sensor was dead)",
        restarted_at - killed_at
    );
    assert!(
        ips_iv.iter().all(|&(_, b)| b > 0) && !ips_iv.is_empty(),
        "an iperf3 interval on the IPS path carried nothing: {ips_iv:?}"
    );
    assert!(
        after_restart > 50,
        "the IPS ping series did not go on after the restart ({after_restart} replies)"
    );
    // IDS path untouched.
    assert!(
        ids_iv.iter().all(|&(_, b)| b > 0) && !ids_iv.is_empty(),
        "an iperf3 interval on the IDS path carried nothing: {ids_iv:?}"
    );
    assert!(
        ids_times.len() >= 900,
        "the IDS ping series lost replies: {} of 1000",
        ids_times.len()
    );
    // Inspection resumed after the restart.
    assert_eq!(
        dropped_again, 0,
        "marked pings must be dropped again after the restart"
    );
    assert!(
        alert_again
            .as_ref()
            .is_some_and(|a| a["alert"]["action"] == "blocked"),
        "no blocked marker alert after the restart: {alert_again:?}\n{}",
        eve_summary(&sensor.eve)
    );
}

/// Packets counted by the gateway's NFQUEUE rules (`iptables -vxL`): every
/// packet the firewall sent to the queue, whether the sensor saw it, the
/// kernel accepted it unseen (fail-open, bypass) or dropped it.
fn nfqueue_rule_packets(topo: &Topology) -> u64 {
    let out = topo.exec_ok(
        &topo.gateway,
        &["iptables", "-L", "FORWARD", "-v", "-x", "-n"],
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains("NFQUEUE"))
        .filter_map(|l| l.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

/// Queue 0's line of the gateway's `/proc/net/netfilter/nfnetlink_queue`:
/// `(queue_total, queue_dropped, queue_user_dropped, id_sequence)`.
fn proc_queue(topo: &Topology) -> Option<(u64, u64, u64, u64)> {
    let out = topo.exec(
        &topo.gateway,
        &["cat", "/proc/net/netfilter/nfnetlink_queue"],
    );
    String::from_utf8_lossy(&out.stdout).lines().find_map(|l| {
        let f: Vec<u64> = l
            .split_whitespace()
            .map(|x| x.parse().unwrap_or(0))
            .collect();
        (f.len() >= 8 && f[0] == 0).then(|| (f[2], f[5], f[6], f[7]))
    })
}

/// The last `stats` event's counters of the IPS source.
fn nfq_stats(eve: &Path) -> Value {
    read_eve(eve)
        .into_iter()
        .rev()
        .find(|v| v["event_type"] == "stats")
        .map(|v| v["stats"]["capture"][IPS_IFACE].clone())
        .unwrap_or(Value::Null)
}

/// A ping series from the attacker (IPS path): replies received and the
/// longest gap between them in ms.
fn ping_series(topo: &Topology, count: u32, out: &Path) -> (usize, f64) {
    let child = spawn_ping_series(topo, &topo.attacker, count, "0.01", out);
    let times = finish_ping_series(child, out);
    (times.len(), longest_gap(&times).0)
}

/// One overload phase: a sensor with `config`, stopped with SIGSTOP while
/// a ping series (and, when `tcp`, a 2 s iperf3 transfer) crosses the
/// IPS path, then continued. Returns what was measured.
struct Overload {
    replies: usize,
    gap_ms: f64,
    iperf_bytes: u64,
    held: u64,
    proc_dropped: u64,
    proc_user_dropped: u64,
    rule_packets: u64,
    nfq: Value,
    after_cont: u32,
}

fn overload_phase(topo: &Topology, dir: &Path, config: &str, tcp: bool) -> Overload {
    fs::create_dir_all(dir).unwrap();
    let cfg = dir.join("sensor.toml");
    fs::write(&cfg, config).unwrap();
    topo.exec_ok(&topo.gateway, &["iptables", "-Z", "FORWARD"]);
    let mut sensor = Sensor::start(
        &topo.gateway,
        &["-c", &cfg.to_string_lossy(), "-q", "0", "--nflog", "10"],
        dir,
    );
    assert_eq!(
        marker_free_pings(topo, 3),
        3,
        "pings before the overload:\n{}",
        sensor.log_text()
    );
    let pid = sensor.pid().expect("sensor pid");
    kill(pid, "STOP");
    let (replies, gap_ms) = ping_series(topo, 300, &dir.join("ping.txt"));
    let mut iperf_bytes = 0;
    if tcp {
        let c = spawn_iperf(topo, &topo.attacker, "5201", "2");
        let out = c.wait_with_output().expect("wait for iperf3");
        if out.status.success() {
            let r: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
            iperf_bytes = r["end"]["sum_received"]["bytes"].as_u64().unwrap_or(0);
        }
    }
    let (held, proc_dropped, proc_user_dropped, _) = proc_queue(topo).unwrap_or_default();
    kill(pid, "CONT");
    let after_cont = marker_free_pings(topo, 3);
    // Two stats periods, so that the kernel's counters are read once more.
    sleep(Duration::from_millis(2200));
    let rule_packets = nfqueue_rule_packets(topo);
    sensor.stop();
    Overload {
        replies,
        gap_ms,
        iperf_bytes,
        held,
        proc_dropped,
        proc_user_dropped,
        rule_packets,
        nfq: nfq_stats(&sensor.eve),
        after_cont,
    }
}

/// Unmarked pings from the attacker (IPS path), 0.2 s apart; replies.
fn marker_free_pings(topo: &Topology, count: u32) -> u32 {
    let c = count.to_string();
    let out = topo.exec(
        &topo.attacker,
        &["ping", "-c", &c, "-i", "0.2", "-W", "2", "-q", SERVER_IP],
    );
    received(&String::from_utf8_lossy(&out.stdout))
}

#[test]
fn overload_fail_open_counts_and_fail_closed_drops() {
    let test = "overload_fail_open_counts_and_fail_closed_drops";
    if !require_programs(test, &["iperf3", "ping", "kill", "cat"]) {
        return;
    }
    let Some(topo) = Topology::new("ovl") else {
        return;
    };
    let dir = WorkDir::new("ovl");
    topo.mixed_mode_firewall();
    start_iperf_server(&topo, 5201, &dir);
    let n = |v: &Value, k: &str| v[k].as_u64().unwrap_or(0);

    // fail_open = true, the queue holds 8 packets: once 8 wait for the
    // stopped sensor, the kernel accepts the rest without asking.
    let open = overload_phase(
        &topo,
        &dir.join("open"),
        "[nfqueue]\nqueue_maxlen = 8\nfail_open = true\n[eve]\nstats_interval = \"1s\"\n",
        true,
    );
    let seen = n(&open.nfq, "packets");
    let fail_opened = open.rule_packets.saturating_sub(seen);
    eprintln!(
        "fault 2 figures (fail_open = true, queue_maxlen 8, sensor stopped): ping replies {}/300, \
         longest gap {:.0} ms, iperf3 {} bytes; kernel queue held {} (queue_dropped {}, \
         user_dropped {}); NFQUEUE rule packets {}, sensor saw {seen} -> {fail_opened} \
         fail-opened; sensor stats {}",
        open.replies,
        open.gap_ms,
        open.iperf_bytes,
        open.held,
        open.proc_dropped,
        open.proc_user_dropped,
        open.rule_packets,
        open.nfq
    );
    assert!(
        open.replies >= 250,
        "fail_open: the IPS path stalled with the sensor stopped ({} of 300 pings answered)",
        open.replies
    );
    assert!(
        open.iperf_bytes > 0,
        "fail_open: no TCP transfer with the sensor stopped"
    );
    assert_eq!(open.held, 8, "the kernel queue should be full (8 held)");
    assert_eq!(
        open.proc_dropped + open.proc_user_dropped,
        0,
        "fail_open: the kernel must not drop"
    );
    assert!(
        fail_opened >= 500,
        "fail-opened packets are not accounted for: {} rule packets, {seen} seen",
        open.rule_packets
    );
    assert_eq!(open.after_cont, 3, "pings after SIGCONT");
    assert_eq!(
        n(&open.nfq, "packets"),
        n(&open.nfq, "accepted") + n(&open.nfq, "dropped"),
        "every packet the sensor saw got a verdict: {}",
        open.nfq
    );

    // fail_open = true with a tiny socket buffer and a long queue: now the
    // socket fills first, the kernel fails open on every packet it cannot
    // put on the socket, and the sensor counts them from the gaps in the
    // packet ids (stats `fail_open`).
    let sock = overload_phase(
        &topo,
        &dir.join("sockfull"),
        "[nfqueue]\nqueue_maxlen = 4096\nfail_open = true\nrcvbuf = 4096\n\
         [eve]\nstats_interval = \"1s\"\n",
        false,
    );
    let sock_seen = n(&sock.nfq, "packets");
    let sock_failed_open = sock.rule_packets.saturating_sub(sock_seen);
    eprintln!(
        "fault 2 figures (fail_open = true, socket buffer full): ping replies {}/300, \
         longest gap {:.0} ms; kernel queue held {}; NFQUEUE rule packets {}, sensor saw \
         {sock_seen} -> {sock_failed_open} fail-opened, sensor counted fail_open {}; \
         sensor stats {}",
        sock.replies,
        sock.gap_ms,
        sock.held,
        sock.rule_packets,
        n(&sock.nfq, "fail_open"),
        sock.nfq
    );
    assert!(
        sock.replies >= 250,
        "fail_open (socket full): the IPS path stalled ({} of 300 pings answered)",
        sock.replies
    );
    assert!(
        sock_failed_open >= 500,
        "fail_open (socket full): too few packets failed open ({sock_failed_open})"
    );
    assert_eq!(
        n(&sock.nfq, "fail_open"),
        sock_failed_open,
        "the sensor's fail_open counter should equal the packets the kernel accepted \
         unseen (rule packets minus packets seen): {}",
        sock.nfq
    );
    assert_eq!(sock.after_cont, 3, "pings after SIGCONT (socket full)");

    // fail_open = false: the kernel drops instead, and counts it; no stall
    // forever (the ping series ends, traffic is back after SIGCONT).
    let closed = overload_phase(
        &topo,
        &dir.join("closed"),
        "[nfqueue]\nqueue_maxlen = 8\nfail_open = false\n[eve]\nstats_interval = \"1s\"\n",
        false,
    );
    eprintln!(
        "fault 2 figures (fail_open = false): ping replies {}/300; kernel queue held {}, \
         queue_dropped {}, user_dropped {}; NFQUEUE rule packets {}; sensor stats {}",
        closed.replies,
        closed.held,
        closed.proc_dropped,
        closed.proc_user_dropped,
        closed.rule_packets,
        closed.nfq
    );
    assert!(
        closed.replies <= 10,
        "fail_open = false: pings crossed a full queue ({} answered)",
        closed.replies
    );
    assert!(
        closed.proc_dropped >= 250,
        "fail_open = false: the kernel's queue_dropped should count the drops ({})",
        closed.proc_dropped
    );
    assert!(
        n(&closed.nfq, "kernel_lost") >= closed.proc_dropped,
        "the sensor's kernel_lost should report the kernel's drops ({}): {}",
        closed.proc_dropped,
        closed.nfq
    );
    assert_eq!(
        closed.after_cont, 3,
        "pings after SIGCONT (fail_open = false)"
    );
}
