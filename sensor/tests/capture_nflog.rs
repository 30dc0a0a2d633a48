//! NFLOG against the real kernel, inside a private network namespace: every
//! logged datagram arrives, with no sequence gaps. Root only; a failure
//! under CI, a loud skip otherwise.

mod capture_util;

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use capture_util::{in_netns, udp_exchange, udp_seq, Netns};
use meerkat_sensor::capture::{Nflog, NflogConfig, PacketHandler};
use meerkat_sensor::counters::SourceCounters;
use meerkat_sensor::packet::{CapturedPacket, Source, Timestamp, Verdict};

#[derive(Default)]
struct Collect {
    seqs: Vec<(bool, u8)>,
    other: u32,
    bad_meta: u32,
    ticks: u32,
}

impl PacketHandler for Collect {
    fn handle(&mut self, pkt: &CapturedPacket<'_>) -> Verdict {
        let meta_ok = pkt.source == Source::Nflog(5)
            && pkt.csum_unknown
            && pkt.orig_len as usize == pkt.data.len()
            && pkt.ts.secs > 1_600_000_000;
        if !meta_ok {
            self.bad_meta += 1;
        }
        match udp_seq(pkt.data) {
            Some(s) => self.seqs.push(s),
            None => self.other += 1,
        }
        // NFLOG ignores verdicts.
        Verdict::Drop
    }
    fn tick(&mut self, _now: Timestamp) {
        self.ticks += 1;
    }
}

#[test]
fn nflog_sees_every_packet_without_sequence_gaps() {
    let Some(ns) = Netns::create("nflog", &["iptables", "ip6tables"]) else {
        return;
    };
    ns.sh("iptables -A INPUT -p udp --dport 9999 -j NFLOG --nflog-group 5");
    ns.sh("ip6tables -A INPUT -p udp --dport 9999 -j NFLOG --nflog-group 5");

    let stop = Arc::new(AtomicBool::new(false));
    let counters = Arc::new(SourceCounters::default());
    let (tx, rx) = mpsc::channel();
    let (stop2, counters2) = (stop.clone(), counters.clone());
    let worker = in_netns(ns.path(), move || {
        let mut log = Nflog::open(5, &NflogConfig::default()).expect("open NFLOG 5");
        // A second socket on the same group must fail with a clear message.
        let second = Nflog::open(5, &NflogConfig::default())
            .err()
            .map(|e| e.to_string());
        tx.send(second).unwrap();
        let mut h = Collect::default();
        log.run(&mut h, &stop2, &counters2).expect("run");
        h
    });
    let second = rx
        .recv()
        .unwrap()
        .expect("binding a bound group twice must fail");
    assert!(second.contains("cannot bind NFLOG group 5"), "{second}");

    let v4_seqs: Vec<u8> = (1..=40).collect();
    let (v4, v6) = in_netns(ns.path(), move || {
        (
            udp_exchange("198.51.100.1".parse().unwrap(), &v4_seqs, 100),
            udp_exchange(
                "2001:db8::1".parse().unwrap(),
                &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
                100,
            ),
        )
    })
    .join()
    .unwrap();
    assert_eq!(
        (v4.len(), v6.len()),
        (40, 10),
        "NFLOG must not affect delivery"
    );
    // The kernel flushes its batch after timeout_cs = 100 ms.
    std::thread::sleep(Duration::from_millis(200));
    stop.store(true, Relaxed);
    let h = worker.join().unwrap();

    let v4: Vec<u8> = h.seqs.iter().filter(|s| !s.0).map(|s| s.1).collect();
    assert_eq!(v4, (1..=40).collect::<Vec<u8>>());
    let v6: Vec<u8> = h.seqs.iter().filter(|s| s.0).map(|s| s.1).collect();
    assert_eq!(v6, (1..=10).collect::<Vec<u8>>());
    assert_eq!((h.other, h.bad_meta), (0, 0));
    assert!(h.ticks >= 1);
    assert_eq!(counters.packets.load(Relaxed), 50);
    assert_eq!(counters.bytes.load(Relaxed), 40 * 128 + 10 * 148);
    assert_eq!(counters.kernel_lost.load(Relaxed), 0, "sequence gaps");
    assert_eq!(counters.errors.load(Relaxed), 0);
    assert_eq!(
        counters.accepted.load(Relaxed) + counters.dropped.load(Relaxed),
        0
    );
}
