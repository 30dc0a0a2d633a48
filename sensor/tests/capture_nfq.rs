//! NFQUEUE against the real kernel, inside a private network namespace:
//! accepted datagrams get through, dropped ones do not, and the counters
//! match what the handler saw. Root only; a failure under CI, a loud skip otherwise.

mod capture_util;

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{mpsc, Arc};

use capture_util::{in_netns, udp_exchange, udp_seq, Netns};
use meerkat_sensor::capture::{kernel_queue_stats, NfQueue, NfqConfig, PacketHandler};
use meerkat_sensor::counters::SourceCounters;
use meerkat_sensor::packet::{CapturedPacket, Source, Timestamp, Verdict};

/// Drops IPv4 test datagrams with sequence >= 4, accepts everything else.
#[derive(Default)]
struct DropFromSeq4 {
    seen: Vec<(bool, u8, Verdict)>,
    other: u32,
    ticks: u32,
    bad_source: u32,
}

impl PacketHandler for DropFromSeq4 {
    fn handle(&mut self, pkt: &CapturedPacket<'_>) -> Verdict {
        if pkt.source != Source::Nfq(3) {
            self.bad_source += 1;
        }
        let Some((v6, seq)) = udp_seq(pkt.data) else {
            self.other += 1;
            return Verdict::Accept;
        };
        let v = if !v6 && seq >= 4 {
            Verdict::Drop
        } else {
            Verdict::Accept
        };
        self.seen.push((v6, seq, v));
        v
    }
    fn tick(&mut self, _now: Timestamp) {
        self.ticks += 1;
    }
}

#[test]
fn nfqueue_verdicts_accept_and_drop() {
    let Some(ns) = Netns::create("nfq", &["iptables", "ip6tables"]) else {
        return;
    };
    ns.sh("iptables -A INPUT -p udp --dport 9999 -j NFQUEUE --queue-num 3 --queue-bypass");
    ns.sh("ip6tables -A INPUT -p udp --dport 9999 -j NFQUEUE --queue-num 3 --queue-bypass");

    let stop = Arc::new(AtomicBool::new(false));
    let counters = Arc::new(SourceCounters::default());
    let (opened_tx, opened_rx) = mpsc::channel();
    let (stop2, counters2) = (stop.clone(), counters.clone());
    let worker = in_netns(ns.path(), move || {
        let cfg = NfqConfig::default();
        let mut q = match NfQueue::open(3, &cfg) {
            Ok(q) => q,
            Err(e) => {
                opened_tx.send(Err(e.to_string())).unwrap();
                return None;
            }
        };
        // A second socket on the same queue must fail with a clear message.
        let second = NfQueue::open(3, &cfg).err().map(|e| e.to_string());
        opened_tx.send(Ok(second)).unwrap();
        let mut h = DropFromSeq4::default();
        q.run(&mut h, &stop2, &counters2).expect("run");
        let stats = kernel_queue_stats(3);
        Some((h, stats))
    });
    let second = opened_rx.recv().unwrap().expect("open NFQUEUE 3");
    let second = second.expect("binding a bound queue twice must fail");
    assert!(second.contains("cannot bind NFQUEUE 3"), "{second}");

    let traffic = in_netns(ns.path(), || {
        let v4 = udp_exchange("198.51.100.1".parse().unwrap(), &[1, 2, 3, 4, 5, 6], 56);
        let v6 = udp_exchange("2001:db8::1".parse().unwrap(), &[1, 2, 3], 56);
        (v4, v6)
    });
    let (v4, v6) = traffic.join().unwrap();
    stop.store(true, Relaxed);
    let (h, stats) = worker.join().unwrap().expect("worker");

    assert_eq!(v4, vec![1, 2, 3], "IPv4: seq 1-3 accepted, 4-6 dropped");
    assert_eq!(v6, vec![1, 2, 3], "IPv6: all accepted");
    let v4_seen: Vec<(u8, Verdict)> = h.seen.iter().filter(|s| !s.0).map(|s| (s.1, s.2)).collect();
    use Verdict::{Accept, Drop};
    assert_eq!(
        v4_seen,
        vec![
            (1, Accept),
            (2, Accept),
            (3, Accept),
            (4, Drop),
            (5, Drop),
            (6, Drop)
        ]
    );
    assert_eq!(h.seen.iter().filter(|s| s.0).count(), 3);
    assert_eq!((h.other, h.bad_source), (0, 0));
    assert!(h.ticks >= 2, "ticks while idle: {}", h.ticks);
    assert_eq!(counters.packets.load(Relaxed), 9);
    assert_eq!(counters.accepted.load(Relaxed), 6);
    assert_eq!(counters.dropped.load(Relaxed), 3);
    assert_eq!(counters.errors.load(Relaxed), 0);
    assert_eq!(counters.truncated.load(Relaxed), 0);
    // Every packet got a verdict; accepts may share batch messages.
    let msgs = counters.verdict_msgs.load(Relaxed);
    assert!((4..=9).contains(&msgs), "verdict messages: {msgs}");
    assert_eq!(
        counters.bytes.load(Relaxed),
        6 * (20 + 8 + 56) + 3 * (40 + 8 + 56)
    );
    assert_eq!(stats, Some((0, 0)), "kernel queue drops");
}

/// Truncation is reported (counted and visible to the handler), not hidden.
#[test]
fn nfqueue_reports_truncated_copies() {
    let Some(ns) = Netns::create("nfqtr", &["iptables"]) else {
        return;
    };
    ns.sh("iptables -A INPUT -p udp --dport 9999 -j NFQUEUE --queue-num 4 --queue-bypass");
    let stop = Arc::new(AtomicBool::new(false));
    let counters = Arc::new(SourceCounters::default());
    let (tx, rx) = mpsc::channel();
    let (stop2, counters2) = (stop.clone(), counters.clone());

    struct Lens(Vec<(usize, u32)>);
    impl PacketHandler for Lens {
        fn handle(&mut self, pkt: &CapturedPacket<'_>) -> Verdict {
            self.0.push((pkt.data.len(), pkt.orig_len));
            Verdict::Accept
        }
        fn tick(&mut self, _: Timestamp) {}
    }
    let worker = in_netns(ns.path(), move || {
        let cfg = NfqConfig {
            copy_range: 64,
            batch: 1,
            ..NfqConfig::default()
        };
        let mut q = NfQueue::open(4, &cfg).expect("open NFQUEUE 4");
        tx.send(()).unwrap();
        let mut h = Lens(Vec::new());
        q.run(&mut h, &stop2, &counters2).expect("run");
        h
    });
    rx.recv().unwrap();
    let got = in_netns(ns.path(), || {
        udp_exchange("198.51.100.1".parse().unwrap(), &[7, 8], 500)
    })
    .join()
    .unwrap();
    stop.store(true, Relaxed);
    let h = worker.join().unwrap();
    assert_eq!(got, vec![7, 8]);
    assert_eq!(h.0, vec![(64, 528), (64, 528)]);
    assert_eq!(counters.truncated.load(Relaxed), 2);
    assert_eq!(counters.verdict_msgs.load(Relaxed), 2);
}
