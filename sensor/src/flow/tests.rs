//! Flow table behaviour: direction, client/server, ids, timeouts, eviction.

use std::time::Duration;

use super::*;
use crate::counters::PipelineCounters;
use crate::decode::testpkt::*;
use crate::decode::{decode, tcp_flags::*};
use std::sync::atomic::Ordering::Relaxed;

fn ts(secs: i64) -> Timestamp {
    Timestamp { secs, micros: 0 }
}

fn cfg() -> FlowConfig {
    FlowConfig::default()
}

#[test]
fn both_directions_share_a_flow() {
    let mut t = FlowTable::new(cfg());
    let syn = tcp("192.0.2.1", "198.51.100.2", 40000, 22, 1, 0, SYN, b"");
    let synack = tcp("198.51.100.2", "192.0.2.1", 22, 40000, 9, 2, SYN | ACK, b"");
    let ack = tcp("192.0.2.1", "198.51.100.2", 40000, 22, 2, 10, ACK, b"");
    let (id, d, new) = t
        .lookup(&decode(&syn).unwrap(), ts(100), syn.len() as u32)
        .unwrap();
    assert!(new);
    assert_eq!(d, Direction::ToServer);
    let (id2, d, new) = t
        .lookup(&decode(&synack).unwrap(), ts(101), synack.len() as u32)
        .unwrap();
    assert_eq!(id, id2);
    assert!(!new);
    assert_eq!(d, Direction::ToClient);
    t.lookup(&decode(&ack).unwrap(), ts(102), ack.len() as u32)
        .unwrap();
    assert_eq!(t.len(), 1);
    let f = t.get_mut(id).unwrap();
    assert_eq!(f.client, ("192.0.2.1".parse().unwrap(), 40000));
    assert_eq!(f.server, ("198.51.100.2".parse().unwrap(), 22));
    assert_eq!(f.pkts, [2, 1]);
    assert_eq!(f.bytes, [80, 40]);
    assert_eq!(f.state, FlowState::Established);
    assert_eq!(f.tcp_flags_seen, [SYN | ACK, SYN | ACK]);
    assert_eq!(f.start, ts(100));
    assert_eq!(f.last, ts(102));
    assert!(f.id < (1 << 51));
    assert_eq!(f.id >> 48, 100 & 0x7);
}

#[test]
fn synack_first_makes_sender_the_server() {
    let mut t = FlowTable::new(cfg());
    let synack = tcp("198.51.100.2", "192.0.2.1", 22, 40000, 9, 2, SYN | ACK, b"");
    let (id, d, _) = t
        .lookup(&decode(&synack).unwrap(), ts(1), synack.len() as u32)
        .unwrap();
    assert_eq!(d, Direction::ToClient);
    let f = t.get_mut(id).unwrap();
    assert_eq!(f.server.1, 22);
    assert_eq!(f.client.1, 40000);
}

#[test]
fn flow_id_formula() {
    let start = Timestamp {
        secs: 0x1_2345,
        micros: 0x1_0007,
    };
    assert_eq!(
        flow_id(start, 0xdead_beef),
        (0x2345 << 48 | 0x0007 << 32 | 0xdead_beef) & 0x7_ffff_ffff_ffff
    );
}

#[test]
fn icmp_echo_id_separates_flows() {
    let mut t = FlowTable::new(cfg());
    let req = ip("192.0.2.1", "192.0.2.2", 1, &icmp_message(8, 0, 7, 1));
    let rep = ip("192.0.2.2", "192.0.2.1", 1, &icmp_message(0, 0, 7, 1));
    let other = ip("192.0.2.1", "192.0.2.2", 1, &icmp_message(8, 0, 8, 1));
    let (a, _, _) = t
        .lookup(&decode(&req).unwrap(), ts(1), req.len() as u32)
        .unwrap();
    let (b, d, new) = t
        .lookup(&decode(&rep).unwrap(), ts(1), rep.len() as u32)
        .unwrap();
    assert_eq!(a, b);
    assert!(!new);
    assert_eq!(d, Direction::ToClient);
    let (c, _, new) = t
        .lookup(&decode(&other).unwrap(), ts(1), other.len() as u32)
        .unwrap();
    assert!(new && c != a);
    assert_eq!(t.get_mut(a).unwrap().icmp, [Some((8, 0)), Some((0, 0))]);
}

#[test]
fn expire_uses_per_state_timeouts() {
    let mut c = cfg();
    c.timeout_udp = Duration::from_secs(30);
    c.timeout_closed = Duration::from_secs(10);
    c.timeout_established = Duration::from_secs(3600);
    let mut t = FlowTable::new(c);
    let udp = ip("192.0.2.1", "192.0.2.2", 17, &udp_datagram(5000, 53, b"q"));
    t.lookup(&decode(&udp).unwrap(), ts(0), udp.len() as u32)
        .unwrap();
    // Established TCP flow.
    for p in [
        tcp("192.0.2.1", "192.0.2.3", 1000, 22, 1, 0, SYN, b""),
        tcp("192.0.2.3", "192.0.2.1", 22, 1000, 5, 2, SYN | ACK, b""),
        tcp("192.0.2.1", "192.0.2.3", 1000, 22, 2, 6, ACK, b""),
    ] {
        t.lookup(&decode(&p).unwrap(), ts(0), p.len() as u32)
            .unwrap();
    }
    // Closed TCP flow (RST).
    let rst = tcp("192.0.2.1", "192.0.2.4", 1001, 23, 1, 0, RST, b"");
    t.lookup(&decode(&rst).unwrap(), ts(0), rst.len() as u32)
        .unwrap();
    assert_eq!(t.len(), 3);
    let mut out = Vec::new();
    t.expire(ts(9), &mut out);
    assert!(out.is_empty());
    t.expire(ts(10), &mut out);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].state, FlowState::Closed);
    assert_eq!(out[0].end_reason, Some(EndReason::Timeout));
    t.expire(ts(30), &mut out);
    assert_eq!(out.len(), 2);
    assert_eq!(out[1].proto, 17);
    t.expire(ts(3599), &mut out);
    assert_eq!(t.len(), 1);
    t.expire(ts(3600), &mut out);
    assert!(t.is_empty());
    let c = PipelineCounters::default();
    t.publish(&c);
    assert_eq!(c.flow_timeout.load(Relaxed), 3);
    assert_eq!(c.flow_tcp.load(Relaxed), 2);
    assert_eq!(c.flow_udp.load(Relaxed), 1);
    assert_eq!(c.flow_active.load(Relaxed), 0);
}

#[test]
fn activity_postpones_expiry_and_stale_ids_resolve_to_none() {
    let mut t = FlowTable::new(cfg());
    let udp = ip("192.0.2.1", "192.0.2.2", 17, &udp_datagram(5000, 53, b"q"));
    let (id, _, _) = t
        .lookup(&decode(&udp).unwrap(), ts(0), udp.len() as u32)
        .unwrap();
    t.lookup(&decode(&udp).unwrap(), ts(20), udp.len() as u32)
        .unwrap();
    let mut out = Vec::new();
    t.expire(ts(40), &mut out);
    assert!(out.is_empty());
    t.expire(ts(50), &mut out);
    assert_eq!(out.len(), 1);
    assert!(t.get_mut(id).is_none());
    // The slot is reused with a new generation.
    let (id2, _, new) = t
        .lookup(&decode(&udp).unwrap(), ts(60), udp.len() as u32)
        .unwrap();
    assert!(new);
    assert_ne!(id, id2);
    assert!(t.get_mut(id).is_none());
    assert!(t.get_mut(id2).is_some());
}

#[test]
fn full_table_evicts_closed_then_new_then_idle() {
    let mut c = cfg();
    c.max_flows = 2;
    let mut t = FlowTable::new(c);
    let est = |sport: u16, s: i64, t: &mut FlowTable| {
        for p in [
            tcp("192.0.2.1", "192.0.2.9", sport, 22, 1, 0, SYN, b""),
            tcp("192.0.2.9", "192.0.2.1", 22, sport, 5, 2, SYN | ACK, b""),
            tcp("192.0.2.1", "192.0.2.9", sport, 22, 2, 6, ACK, b""),
        ] {
            t.lookup(&decode(&p).unwrap(), ts(s), p.len() as u32)
                .unwrap();
        }
    };
    est(1, 0, &mut t);
    let rst = tcp("192.0.2.1", "192.0.2.9", 2, 22, 1, 0, RST, b"");
    t.lookup(&decode(&rst).unwrap(), ts(0), rst.len() as u32)
        .unwrap();
    // Full: the closed flow goes first.
    let syn3 = tcp("192.0.2.1", "192.0.2.9", 3, 22, 1, 0, SYN, b"");
    t.lookup(&decode(&syn3).unwrap(), ts(0), syn3.len() as u32)
        .unwrap();
    let mut out = Vec::new();
    t.expire(ts(0), &mut out);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].client.1, 2);
    assert_eq!(out[0].end_reason, Some(EndReason::Forced));
    // Then the half-open one.
    let syn4 = tcp("192.0.2.1", "192.0.2.9", 4, 22, 1, 0, SYN, b"");
    t.lookup(&decode(&syn4).unwrap(), ts(0), syn4.len() as u32)
        .unwrap();
    t.expire(ts(0), &mut out);
    assert_eq!(out[1].client.1, 3);
    // Only established, active ones left besides the new one: make flow 4
    // established, then a new flow finds nothing evictable right now...
    est(4, 0, &mut t);
    let syn5 = tcp("192.0.2.1", "192.0.2.9", 5, 22, 1, 0, SYN, b"");
    let e = t
        .lookup(&decode(&syn5).unwrap(), ts(0), syn5.len() as u32)
        .unwrap_err();
    assert!(matches!(e, FlowError::Full { flows: 2, .. }));
    assert!(e.to_string().contains("max_flows"));
    // ...but evicts the least recently used one once it is idle.
    t.lookup(
        &decode(&tcp("192.0.2.1", "192.0.2.9", 4, 22, 3, 6, ACK, b"")).unwrap(),
        ts(5),
        40,
    )
    .unwrap();
    t.lookup(&decode(&syn5).unwrap(), ts(5), syn5.len() as u32)
        .unwrap();
    t.expire(ts(5), &mut out);
    assert_eq!(out[2].client.1, 1);
    let cn = PipelineCounters::default();
    t.publish(&cn);
    assert_eq!(cn.flow_evicted.load(Relaxed), 3);
    assert_eq!(cn.flow_memcap.load(Relaxed), 1);
}

#[test]
fn evicted_flows_are_handed_out_at_once() {
    let mut c = cfg();
    c.max_flows = 2;
    let mut t = FlowTable::new(c);
    for port in 1..=5u16 {
        let syn = tcp("192.0.2.1", "192.0.2.9", port, 22, 1, 0, SYN, b"");
        t.lookup(&decode(&syn).unwrap(), ts(0), syn.len() as u32)
            .unwrap();
        let mut out = Vec::new();
        t.take_evicted(&mut out);
        // From the third SYN on, each one evicts the oldest half-open flow.
        let expected = usize::from(port > 2);
        assert_eq!(out.len(), expected, "SYN {port}");
        assert_eq!(t.evicted_pending(), 0);
        if let Some(f) = out.first() {
            assert_eq!(f.client.1, port - 2);
            assert_eq!(f.end_reason, Some(EndReason::Forced));
        }
    }
    assert_eq!(t.len(), 2);
}

#[test]
fn drain_returns_everything() {
    let mut t = FlowTable::new(cfg());
    for port in 1..=50u16 {
        let p = ip("192.0.2.1", "192.0.2.2", 17, &udp_datagram(port, 53, b""));
        t.lookup(&decode(&p).unwrap(), ts(0), p.len() as u32)
            .unwrap();
    }
    assert_eq!(t.len(), 50);
    assert!(t.memuse() >= 50 * 64);
    let mut out = Vec::new();
    t.drain(&mut out);
    assert_eq!(out.len(), 50);
    assert!(out
        .iter()
        .all(|f| f.end_reason == Some(EndReason::Shutdown)));
    assert!(t.is_empty());
}

#[test]
fn memcap_limits_flows() {
    let mut c = cfg();
    c.memcap_bytes = super::table::FLOW_MEM_ESTIMATE * 3;
    let mut t = FlowTable::new(c);
    for port in 1..=5u16 {
        let p = ip("192.0.2.1", "192.0.2.2", 17, &udp_datagram(port, 53, b""));
        let _ = t.lookup(
            &decode(&p).unwrap(),
            ts(i64::from(port) * 2),
            p.len() as u32,
        );
    }
    assert_eq!(t.len(), 3);
}

/// Each ESP security association is a flow of its own (Suricata keys ESP
/// flows by SPI), and the flow remembers its SPI and TTL range.
#[test]
fn esp_flows_are_keyed_by_spi() {
    let esp = |spi: u32, seq: u32| {
        let mut body = spi.to_be_bytes().to_vec();
        body.extend_from_slice(&seq.to_be_bytes());
        body.extend_from_slice(&[0u8; 16]);
        ip("192.0.2.1", "198.51.100.2", 50, &body)
    };
    let mut t = FlowTable::new(cfg());
    let mut ids = Vec::new();
    for (spi, seq) in [(123, 1), (123, 2), (321, 1)] {
        let p = esp(spi, seq);
        let (id, _, _) = t
            .lookup(&decode(&p).unwrap(), ts(100), p.len() as u32)
            .unwrap();
        ids.push(id);
    }
    assert_eq!(ids[0], ids[1]);
    assert_ne!(ids[0], ids[2]);
    assert_eq!(t.len(), 2);
    let f = t.get_mut(ids[0]).unwrap();
    assert_eq!(f.esp_spi, Some(123));
    assert_eq!(f.pkts, [2, 0]);
    assert_eq!(f.ttl[0], (64, 64));
}
