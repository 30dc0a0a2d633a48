//! Helpers for the root-only capture integration tests: a network namespace
//! that is always deleted (Drop guard), commands run inside it, and a
//! capture thread that enters it.

#![allow(dead_code)]

#[path = "../prereq/mod.rs"]
pub mod prereq;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// A network namespace `mk-cap-<tag>-<pid>-<n>`, deleted on drop.
pub struct Netns {
    pub name: String,
}

static NEXT: AtomicU32 = AtomicU32::new(0);

impl Netns {
    /// Creates the namespace with `lo` up and 198.51.100.1/32 and
    /// 2001:db8::1/128 on it. `None` when root, `ip netns` or one of
    /// `tools` is missing: a failure under CI, a loud skip elsewhere
    /// ([`prereq`]); the caller then returns.
    pub fn create(tag: &str, tools: &[&str]) -> Option<Netns> {
        let test = format!("capture test {tag}");
        if !prereq::require_netns(&test) || !prereq::require_programs(&test, tools) {
            return None;
        }
        let name = format!(
            "mk-cap-{tag}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let o = Command::new("ip")
            .args(["netns", "add", &name])
            .output()
            .unwrap_or_else(|e| panic!("cannot run `ip netns add {name}`: {e}"));
        assert!(
            o.status.success(),
            "`ip netns add {name}` failed: {}",
            String::from_utf8_lossy(&o.stderr).trim()
        );
        let ns = Netns { name };
        ns.sh("ip link set lo up");
        ns.sh("ip addr add 198.51.100.1/32 dev lo");
        ns.sh("ip -6 addr add 2001:db8::1/128 dev lo nodad");
        Some(ns)
    }

    /// `/run/netns/NAME`, for `setns`.
    pub fn path(&self) -> PathBuf {
        PathBuf::from(format!("/run/netns/{}", self.name))
    }

    /// Runs a command line (split on whitespace) inside the namespace.
    pub fn exec(&self, cmdline: &str) -> Output {
        Command::new("ip")
            .args(["netns", "exec", &self.name])
            .args(cmdline.split_whitespace())
            .output()
            .unwrap_or_else(|e| panic!("cannot run `{cmdline}` in {}: {e}", self.name))
    }

    /// Like [`Netns::exec`] but panics with the output when it fails.
    pub fn sh(&self, cmdline: &str) -> String {
        let o = self.exec(cmdline);
        assert!(
            o.status.success(),
            "`{cmdline}` failed in {}: {}{}",
            self.name,
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
}

/// UDP port the tests send to.
pub const PORT: u16 = 9999;

/// Runs `f` on a new thread that has entered the namespace at `path`.
pub fn in_netns<T: Send + 'static>(
    path: PathBuf,
    f: impl FnOnce() -> T + Send + 'static,
) -> std::thread::JoinHandle<T> {
    std::thread::spawn(move || {
        meerkat_sensor::sys::enter_netns(&path)
            .unwrap_or_else(|e| panic!("setns {}: {e}", path.display()));
        f()
    })
}

/// Inside the namespace (the calling thread must have entered it): sends
/// one UDP datagram per `seqs` entry to `dst`:[`PORT`] (first payload byte
/// = the sequence number, padded to `size` bytes), about 10 ms apart, and
/// returns the sequence numbers that arrived.
pub fn udp_exchange(dst: IpAddr, seqs: &[u8], size: usize) -> Vec<u8> {
    let rx = UdpSocket::bind(SocketAddr::new(dst, PORT)).expect("bind receiver");
    rx.set_nonblocking(true).unwrap();
    let any: IpAddr = if dst.is_ipv4() {
        Ipv4Addr::UNSPECIFIED.into()
    } else {
        Ipv6Addr::UNSPECIFIED.into()
    };
    let tx = UdpSocket::bind(SocketAddr::new(any, 0)).expect("bind sender");
    let mut got = Vec::new();
    let mut buf = [0u8; 2048];
    for &seq in seqs {
        let mut payload = vec![0u8; size.max(1)];
        payload[0] = seq;
        tx.send_to(&payload, SocketAddr::new(dst, PORT))
            .expect("send");
        std::thread::sleep(Duration::from_millis(5));
        while let Ok(n) = rx.recv(&mut buf) {
            got.push(buf[..n][0]);
        }
    }
    let deadline = Instant::now() + Duration::from_millis(300);
    while Instant::now() < deadline {
        match rx.recv(&mut buf) {
            Ok(n) => got.push(buf[..n][0]),
            Err(_) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
    got
}

/// `(is_ipv6, sequence)` of a test datagram (UDP to [`PORT`]) in an IP packet.
pub fn udp_seq(ip: &[u8]) -> Option<(bool, u8)> {
    let (v6, udp) = match ip.first()? >> 4 {
        4 => {
            let ihl = usize::from(ip.first()? & 0x0f) * 4;
            if *ip.get(9)? != 17 {
                return None;
            }
            (false, ip.get(ihl..)?)
        }
        6 => {
            if *ip.get(6)? != 17 {
                return None;
            }
            (true, ip.get(40..)?)
        }
        _ => return None,
    };
    if u16::from_be_bytes([*udp.get(2)?, *udp.get(3)?]) != PORT {
        return None;
    }
    Some((v6, *udp.get(8)?))
}
