//! The DNS parser: one datagram as a query and as a response, the same
//! bytes as a TCP stream (whole and split at fuzzer-chosen points), the
//! probes, and the EVE objects of every transaction. Invariants: no
//! panic; TCP segmentation never changes the transactions; names are at
//! most 1025 bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use meerkat_sensor::app::dns::{probe, probe_tcp, wire, DnsState};
use meerkat_sensor::output::dns::{alert_object, event_objects, DnsLogMask};
use meerkat_sensor::packet::Direction;

fuzz_target!(|input: &[u8]| {
    let Some((&ctl, data)) = input.split_first() else {
        return;
    };
    let _ = probe(data, data.len());
    let _ = probe_tcp(data);

    let mut udp = DnsState::new();
    udp.feed_udp(Direction::ToServer, data);
    udp.feed_udp(Direction::ToClient, data);
    for tx in &udp.txs {
        for q in &tx.msg.queries {
            assert!(q.name.value.len() <= wire::MAX_NAME_LEN);
        }
        for r in tx.msg.answers.iter().chain(&tx.msg.authorities) {
            assert!(r.name.value.len() <= wire::MAX_NAME_LEN);
        }
        let _ = event_objects(tx, DnsLogMask::default());
        let _ = alert_object(tx);
    }

    let dir = if ctl & 1 == 0 {
        Direction::ToServer
    } else {
        Direction::ToClient
    };
    let mut whole = DnsState::new();
    whole.feed_tcp(dir, data);
    let mut split = DnsState::new();
    let mut rest = data;
    let mut step = usize::from(ctl >> 1) + 1;
    while !rest.is_empty() {
        let n = step.min(rest.len());
        split.feed_tcp(dir, &rest[..n]);
        rest = &rest[n..];
        step = usize::from(rest.first().copied().unwrap_or(1) % 13) + 1;
    }
    assert_eq!(whole.txs, split.txs, "transactions depend on segmentation");
});
