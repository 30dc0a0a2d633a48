//! Fault 4 (reliability issue): a SYN flood of one million spoofed flows
//! through NFQUEUE, with an SSH session and a fake agent during it.
//!
//! IPv6 topology of `common` (IPv6 has room for a million source
//! addresses inside the documentation prefix): the gateway sends every
//! forwarded packet to NFQUEUE 0 (`--queue-bypass`). The flood comes from
//! the attacker's namespace with sources in 2001:db8:ff00::/40 (a prefix
//! the gateway has no route for, so the server's answers die there) and
//! varying source ports, marked `NOTRACK` in the gateway's raw table so
//! that conntrack does not fill first. The sender is this test binary run
//! again inside the attacker's namespace ([`synflood_sender_helper`]): a
//! raw IPv6 socket (socket2, no unsafe code) writing prepared SYNs.
//!
//! Checked: the sensor's memory stays under its configured caps (peak RSS
//! minus RSS before the flood against `[flow] memcap_bytes`), evictions are
//! counted in its stats, a legitimate OpenSSH session during the flood is
//! inspected (its alert is in eve.json) and the fake agent (paramiko) is
//! still dropped. Figures (send time, RSS, evictions) are printed.
//!
//! The sensor runs with `fail_open = false`: a packet the sensor cannot
//! take in time is dropped by the kernel (TCP sends it again), never
//! forwarded uninspected, so the drop rule's verdict does not depend on
//! how fast this machine is.
//!
//! Root only: a failure under CI, a loud skip elsewhere.

mod common;

use std::fs;
use std::net::{Ipv6Addr, SocketAddrV6};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::sleep;
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;
use socket2::{Domain, Protocol, SockAddr, Socket, Type};

/// SYNs in the flood.
const FLOOD_SYNS: u64 = 1_000_000;
/// The flood's source prefix (no route in the gateway).
const FLOOD_PREFIX: &str = "2001:db8:ff00::/40";
/// Environment variable that turns [`synflood_sender_helper`] into the
/// sender: `COUNT,DEST`.
const SENDER_ENV: &str = "MEERKAT_SYNFLOOD_SEND";
/// Flow table caps for the test.
const MAX_FLOWS: u64 = 100_000;
const MEMCAP_BYTES: u64 = 32 * 1024 * 1024;
/// What the sensor's RSS may grow by beyond `memcap_bytes`: memory outside
/// the flow table that a flood touches once and that has caps of its own
/// (packet and verdict buffers, the EVE writer's queue, allocator slack).
const OUTSIDE_FLOW_TABLE: u64 = 8 * 1024 * 1024;
/// An alert for the legitimate OpenSSH client.
const LEGIT_RULE: &str =
    "alert ssh any any -> any any (msg:\"MEERKAT OpenSSH client during flood\"; \
     flow:established,to_server; ssh.software; content:\"OpenSSH\"; sid:1000902; rev:1;)\n";

/// The internet checksum of `data` added to `sum` (not folded).
fn sum16(data: &[u8], mut sum: u32) -> u32 {
    for c in data.chunks(2) {
        let hi = u32::from(c[0]) << 8;
        let lo = c.get(1).map_or(0, |&b| u32::from(b));
        sum += hi | lo;
    }
    sum
}

fn fold(mut sum: u32) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Writes SYN number `i` into `pkt` (40-byte IPv6 header + 20-byte TCP
/// header): source 2001:db8:ff00::/40 plus `i`, source port varying too.
fn build_syn(pkt: &mut [u8; 60], i: u64, dst: &Ipv6Addr, dport: u16) {
    let mut src = [0u8; 16];
    src[..5].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0xff]);
    src[8..16].copy_from_slice(&i.to_be_bytes());
    let sport = 1024 + (i % 64_000) as u16;
    pkt.fill(0);
    pkt[0] = 0x60;
    pkt[4..6].copy_from_slice(&20u16.to_be_bytes());
    pkt[6] = 6; // TCP
    pkt[7] = 64;
    pkt[8..24].copy_from_slice(&src);
    pkt[24..40].copy_from_slice(&dst.octets());
    let tcp = &mut pkt[40..60];
    tcp[0..2].copy_from_slice(&sport.to_be_bytes());
    tcp[2..4].copy_from_slice(&dport.to_be_bytes());
    tcp[4..8].copy_from_slice(&(i as u32).wrapping_mul(2_654_435_761).to_be_bytes());
    tcp[12] = 5 << 4;
    tcp[13] = 0x02; // SYN
    tcp[14..16].copy_from_slice(&64_240u16.to_be_bytes());
    let mut s = sum16(&src, 0);
    s = sum16(&dst.octets(), s);
    s += 20 + 6;
    s = sum16(&pkt[40..60], s);
    let c = fold(s);
    pkt[56..58].copy_from_slice(&c.to_be_bytes());
}

/// Not a test of its own: when [`SENDER_ENV`] is set (the flood test runs
/// this binary again inside the attacker's namespace with it), sends the
/// flood and prints `sent N in S s`; otherwise does nothing.
#[test]
fn synflood_sender_helper() {
    let Ok(spec) = std::env::var(SENDER_ENV) else {
        return;
    };
    let (count, dst) = spec.split_once(',').expect("COUNT,DEST");
    let count: u64 = count.parse().expect("count");
    let dst: Ipv6Addr = dst.parse().expect("destination");
    // IPPROTO_RAW: the packets carry their own IPv6 header.
    let sock =
        Socket::new(Domain::IPV6, Type::RAW, Some(Protocol::from(255))).expect("raw IPv6 socket");
    let to = SockAddr::from(SocketAddrV6::new(dst, 0, 0, 0));
    let mut pkt = [0u8; 60];
    let started = Instant::now();
    let mut sent = 0u64;
    let mut errors = 0u64;
    for i in 0..count {
        build_syn(&mut pkt, i, &dst, 22);
        loop {
            match sock.send_to(&pkt, &to) {
                Ok(_) => {
                    sent += 1;
                    break;
                }
                // A full device queue: wait a moment and send it again.
                Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                    errors += 1;
                    std::thread::yield_now();
                }
                Err(e) => panic!("send SYN {i}: {e}"),
            }
        }
    }
    println!(
        "sent {sent} in {:.3} s ({errors} ENOBUFS retries)",
        started.elapsed().as_secs_f64()
    );
}

/// CPU time (user + system) of `pid` so far, in seconds.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces): state is the
    // 3rd field, utime and stime the 14th and 15th, in clock ticks (100 Hz).
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|x| x.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

/// `VmRSS` and `VmHWM` (peak) of `pid` in bytes.
fn rss(pid: u32) -> Option<(u64, u64)> {
    let s = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb = |key: &str| -> Option<u64> {
        s.lines()
            .find(|l| l.starts_with(key))?
            .split_whitespace()
            .nth(1)?
            .parse::<u64>()
            .ok()
            .map(|k| k * 1024)
    };
    Some((kb("VmRSS:")?, kb("VmHWM:")?))
}

fn mib(b: u64) -> f64 {
    b as f64 / (1024.0 * 1024.0)
}

#[test]
fn synflood_million_spoofed_flows() {
    let test = "synflood_million_spoofed_flows";
    if !require_programs(test, SSH_TOOLS) {
        return;
    }
    let Some(topo) = Topology::new_ipv6("synflood") else {
        return;
    };
    let dir = WorkDir::new("synflood");
    let gw = topo.gateway.as_str();
    // The flood (and the server's answers to it) untracked; everything
    // forwarded goes through NFQUEUE 0.
    for (iface, dir_flag) in [("veth-att", "-s"), ("eth-srv", "-d")] {
        topo.exec_ok(
            gw,
            &[
                "ip6tables",
                "-t",
                "raw",
                "-A",
                "PREROUTING",
                "-i",
                iface,
                dir_flag,
                FLOOD_PREFIX,
                "-j",
                "NOTRACK",
            ],
        );
    }
    topo.exec_ok(
        gw,
        &[
            "ip6tables",
            "-A",
            "FORWARD",
            "-j",
            "NFQUEUE",
            "--queue-num",
            "0",
            "--queue-bypass",
        ],
    );
    let sshd = Sshd::start(&topo, &topo.server, SERVER_IP6, &dir.path);
    let legit_rules = dir.join("legit.rules");
    fs::write(&legit_rules, LEGIT_RULE).unwrap();
    let cfg = dir.join("sensor.toml");
    fs::write(
        &cfg,
        format!(
            "[nfqueue]\nfail_open = false\n\n[flow]\nmax_flows = {MAX_FLOWS}\n\
             memcap_bytes = {MEMCAP_BYTES}\n\n[eve]\nstats_interval = \"1s\"\n\n\
             [eve.types]\nflow = false\n"
        ),
    )
    .unwrap();
    let agent_rules = fake_agent_rules();
    let mut sensor = Sensor::start(
        gw,
        &[
            "-c",
            &cfg.to_string_lossy(),
            "-q",
            "0",
            "-S",
            &agent_rules.to_string_lossy(),
            "-S",
            &legit_rules.to_string_lossy(),
        ],
        &dir.path,
    );
    let pid = sensor.pid().expect("sensor pid");
    sleep(Duration::from_millis(300));
    let (rss_before, _) = rss(pid).expect("sensor RSS");

    // RSS sampled every 50 ms while the flood runs.
    let stop = Arc::new(AtomicBool::new(false));
    let peak = Arc::new(AtomicU64::new(rss_before));
    let sampler = {
        let (stop, peak) = (Arc::clone(&stop), Arc::clone(&peak));
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                if let Some((r, _)) = rss(pid) {
                    peak.fetch_max(r, Ordering::Relaxed);
                }
                sleep(Duration::from_millis(50));
            }
        })
    };

    let exe = std::env::current_exe().expect("test binary path");
    let flood = Command::new("ip")
        .args(["netns", "exec", &topo.attacker])
        .arg(&exe)
        .args([
            "--exact",
            "synflood_sender_helper",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env(SENDER_ENV, format!("{FLOOD_SYNS},{SERVER_IP6}"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the SYN flood sender");
    let flood_started = Instant::now();
    sleep(Duration::from_millis(500));

    // During the flood, at the same time: a legitimate OpenSSH session and
    // the fake agent. Both get long connect timeouts: with fail_open off,
    // the kernel drops what does not fit in the full queue, and TCP needs
    // its retries (1 s, 2 s, 4 s...) to get a SYN through.
    let legit_args = sshd.ssh_args(SERVER_IP6, "echo legit-ok", 45, 20);
    let legit_args: Vec<&str> = legit_args.iter().map(String::as_str).collect();
    let legit = topo
        .command(&topo.client, &legit_args)
        .spawn()
        .expect("start ssh");
    let agent = fake_agent_script();
    let agent = topo
        .command(
            &topo.attacker,
            &[
                "timeout",
                "45",
                PYTHON,
                &agent.to_string_lossy(),
                SERVER_IP6,
                "--timeout",
                "15",
            ],
        )
        .spawn()
        .expect("start the fake agent");
    let legit = legit.wait_with_output().expect("wait for ssh");
    let legit_done = flood_started.elapsed().as_secs_f64();
    let agent_out = agent.wait_with_output().expect("wait for the fake agent");
    let agent_done = flood_started.elapsed().as_secs_f64();
    let flood_out = flood.wait_with_output().expect("wait for the sender");
    let flood_done = flood_started.elapsed().as_secs_f64();
    // Let the sensor catch up with the queue, then one more stats period.
    sleep(Duration::from_millis(2500));
    stop.store(true, Ordering::Relaxed);
    let _ = sampler.join();
    if agent_out.status.code() == Some(64) {
        prereq::missing(test, "python3-paramiko (fake_agent.py exits 64)");
        return;
    }
    let (_, hwm) = rss(pid).unwrap_or((0, 0));
    let cpu = cpu_seconds(pid);
    let peak = peak.load(Ordering::Relaxed).max(hwm);
    let last = read_eve(&sensor.eve)
        .into_iter()
        .rev()
        .find(|v| v["event_type"] == "stats")
        .unwrap_or(Value::Null);
    sensor.stop();

    let sender_text = String::from_utf8_lossy(&flood_out.stdout).into_owned();
    let sent_line = sender_text
        .lines()
        .find_map(|l| l.find("sent ").map(|i| &l[i..]))
        .unwrap_or("")
        .to_string();
    let stats = &last["stats"];
    let nfq = &stats["capture"][IPS_IFACE];
    let flow = &stats["flow"];
    let evicted = flow["mgr"]["flows_evicted"].as_u64().unwrap_or(0);
    let growth = peak.saturating_sub(rss_before);
    eprintln!(
        "fault 4 figures: sender: {sent_line} (flood over at {flood_done:.1} s); sensor saw {} \
         NFQUEUE packets ({} dropped by the kernel at the full queue; sensor CPU {cpu:.1} s), \
         {} TCP flows, {evicted} evicted, flow memcap hits {}, active {} \
         (max_flows {MAX_FLOWS}), flow memuse {:.1} MiB; RSS {:.1} MiB before, peak {:.1} MiB \
         (+{:.1} MiB) against memcap_bytes {:.0} MiB; ssh done at {legit_done:.1} s, fake \
         agent at {agent_done:.1} s",
        nfq["packets"],
        nfq["kernel_lost"],
        flow["tcp"],
        flow["memcap"],
        flow["active"],
        mib(flow["memuse"].as_u64().unwrap_or(0)),
        mib(rss_before),
        mib(peak),
        mib(growth),
        mib(MEMCAP_BYTES),
    );

    assert!(
        flood_out.status.success() && sent_line.contains(&format!("sent {FLOOD_SYNS} ")),
        "the SYN flood sender failed: {}",
        show(&flood_out)
    );
    assert!(
        growth <= MEMCAP_BYTES + OUTSIDE_FLOW_TABLE,
        "RSS grew by {:.1} MiB during the flood, more than memcap_bytes {:.0} MiB + {:.0} MiB",
        mib(growth),
        mib(MEMCAP_BYTES),
        mib(OUTSIDE_FLOW_TABLE)
    );
    assert!(
        flow["memuse"].as_u64().unwrap_or(u64::MAX) <= MEMCAP_BYTES,
        "flow memuse over memcap_bytes: {flow}"
    );
    assert!(
        evicted > 0,
        "no eviction counted in stats.flow.mgr.flows_evicted: {flow}"
    );
    assert!(
        flow["active"].as_u64().unwrap_or(u64::MAX) <= MAX_FLOWS,
        "more flows than max_flows: {flow}"
    );
    assert!(
        legit.status.success() && String::from_utf8_lossy(&legit.stdout).contains("legit-ok"),
        "the legitimate ssh session failed during the flood: {}",
        show(&legit)
    );
    let alert = wait_for_eve(
        &sensor.eve,
        |v| is_event(v, "alert", IPS_IFACE) && v["alert"]["signature_id"] == 1000902,
        EVE_TIMEOUT,
    );
    assert!(
        alert.is_some(),
        "the legitimate ssh session was not inspected (no alert 1000902)"
    );
    assert!(
        !agent_out.status.success(),
        "the fake agent completed its handshake during the flood: {}",
        show(&agent_out)
    );
    let blocked = wait_for_eve(
        &sensor.eve,
        |v| {
            is_event(v, "alert", IPS_IFACE)
                && v["alert"]["signature_id"] == 1000001
                && v["alert"]["action"] == "blocked"
        },
        EVE_TIMEOUT,
    );
    assert!(
        blocked.is_some(),
        "no blocked alert for the fake agent: {}",
        show(&agent_out)
    );
}
