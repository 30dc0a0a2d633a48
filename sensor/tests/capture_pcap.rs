//! pcap round trip: traffic captured by tcpdump (Ethernet on `lo`, Linux
//! SLL2 on `any`, nanosecond timestamps) and converted to pcapng by tshark,
//! read back by `read_pcap`. Root only (namespace); a failure under CI, a loud skip otherwise.

mod capture_util;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use capture_util::{in_netns, udp_exchange, udp_seq, Netns};
use meerkat_sensor::capture::{read_pcap, PacketHandler};
use meerkat_sensor::counters::SourceCounters;
use meerkat_sensor::decode::decode_frame;
use meerkat_sensor::packet::{CapturedPacket, Source, Timestamp, Verdict};

#[derive(Default)]
struct Collect {
    seqs: Vec<u8>,
    ts: Vec<Timestamp>,
}

impl PacketHandler for Collect {
    fn handle(&mut self, pkt: &CapturedPacket<'_>) -> Verdict {
        assert_eq!(pkt.source, Source::Pcap);
        // The reader hands over whole frames; decoding finds the IP packet.
        let decoded = decode_frame(pkt.linktype, pkt.data, false);
        if let Some((false, seq)) = udp_seq(decoded.ext.ip_raw) {
            self.seqs.push(seq);
            self.ts.push(pkt.ts);
        }
        Verdict::Accept
    }
    fn tick(&mut self, _now: Timestamp) {}
}

/// Starts tcpdump in the namespace and waits until it is capturing
/// (`--immediate-mode`: otherwise packets wait in a kernel ring block for up
/// to a second and are lost when tcpdump is interrupted; `-Z root`: write
/// into our root-owned temporary directory).
fn tcpdump(ns: &Netns, iface: &str, out: &Path) -> Child {
    let mut child = Command::new("ip")
        .args([
            "netns",
            "exec",
            &ns.name,
            "tcpdump",
            "-Z",
            "root",
            "--immediate-mode",
            "-U",
            "-n",
            "-i",
            iface,
        ])
        .args(["--time-stamp-precision", "nano", "-w"])
        .arg(out)
        .args(["udp", "port", "9999"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn tcpdump");
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = BufReader::new(stderr).lines();
    loop {
        match lines.next() {
            Some(Ok(l)) if l.contains("listening on") => break,
            Some(_) => {}
            None => panic!("tcpdump on {iface} exited before capturing"),
        }
    }
    // Keep draining stderr so tcpdump never blocks on it.
    std::thread::spawn(move || for _ in lines {});
    child
}

fn stop(mut child: Child) {
    // Let tcpdump write what it has read before it is interrupted.
    std::thread::sleep(std::time::Duration::from_millis(200));
    let _ = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    let _ = child.wait();
}

fn read(path: &Path) -> Collect {
    let mut h = Collect::default();
    let c = SourceCounters::default();
    let s = read_pcap(path, &mut h, &c).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        s.packets,
        c.packets.load(std::sync::atomic::Ordering::Relaxed)
    );
    h
}

#[test]
fn pcap_round_trip_of_tcpdump_captures() {
    let Some(ns) = Netns::create("pcap", &["tcpdump", "tshark"]) else {
        return;
    };
    let tmp = TmpDir(std::env::temp_dir().join(format!("mk-cap-pcap-{}", std::process::id())));
    let dir = tmp.0.clone();
    std::fs::create_dir_all(&dir).unwrap();
    let eth: PathBuf = dir.join("lo.pcap");
    let any: PathBuf = dir.join("any.pcap");
    let t1 = tcpdump(&ns, "lo", &eth);
    let t2 = tcpdump(&ns, "any", &any);
    let got = in_netns(ns.path(), || {
        udp_exchange("198.51.100.1".parse().unwrap(), &[1, 2, 3, 4, 5], 32)
    })
    .join()
    .unwrap();
    stop(t1);
    stop(t2);
    assert_eq!(got, vec![1, 2, 3, 4, 5]);

    let h = read(&eth);
    assert_eq!(h.seqs, vec![1, 2, 3, 4, 5], "Ethernet (lo) capture");
    assert!(h.ts.windows(2).all(|w| w[0] <= w[1]));
    assert!(h.ts[0].secs > 1_600_000_000);
    let h_any = read(&any);
    assert_eq!(h_any.seqs, vec![1, 2, 3, 4, 5], "SLL2 (any) capture");

    // pcapng written by tshark from the same capture: same packets, same times.
    let ng = dir.join("lo.pcapng");
    let status = Command::new("tshark")
        .args(["-r"])
        .arg(&eth)
        .args(["-F", "pcapng", "-w"])
        .arg(&ng)
        .stderr(Stdio::null())
        .status();
    match status {
        Ok(s) if s.success() => {
            let h_ng = read(&ng);
            assert_eq!(h_ng.seqs, h.seqs, "pcapng conversion");
            assert_eq!(h_ng.ts, h.ts, "pcapng timestamps");
        }
        other => panic!("tshark -F pcapng failed: {other:?}"),
    }
}

/// Removes the capture files also when an assertion fails.
struct TmpDir(PathBuf);

impl Drop for TmpDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
