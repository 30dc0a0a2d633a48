//! DNS state: UDP and TCP framing, transactions, events, probing.

use super::records::tests::{push_name, query, response};
use super::records::{TYPE_A, TYPE_CNAME};
use super::*;

const S: Direction = Direction::ToServer;
const C: Direction = Direction::ToClient;

fn framed(msgs: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    for m in msgs {
        out.extend_from_slice(&(m.len() as u16).to_be_bytes());
        out.extend_from_slice(m);
    }
    out
}

#[test]
fn udp_query_and_response_are_two_transactions_paired_by_id() {
    let mut d = DnsState::new();
    let f = d.feed_udp(S, &query(0x1234, "example.com", TYPE_A));
    assert_eq!(
        f,
        Feed {
            new_txs: 1,
            events: 0
        }
    );
    let f = d.feed_udp(
        C,
        &response(0x1234, "example.com", &[(TYPE_A, vec![1, 2, 3, 4])]),
    );
    assert_eq!(f.new_txs, 1);
    assert_eq!(d.txs.len(), 2);
    let (q, r) = (&d.txs[0], &d.txs[1]);
    assert_eq!((q.tx_id, q.dir, r.tx_id, r.dir), (0, S, 1, C));
    assert_eq!(r.reply_to, Some(0));
    assert_eq!(d.marks, vec![0, 1]);
    assert!(d.has_uninspected(S) && d.has_uninspected(C));
    d.inspected(C);
    assert_eq!(d.marks, vec![0]);
    d.inspected(S);
    assert!(d.marks.is_empty() && !d.has_uninspected(S));
    // An unsolicited response pairs with nothing.
    d.feed_udp(C, &response(9, "x.org", &[]));
    assert_eq!(d.txs[2].reply_to, None);
    let logged: Vec<u64> = d.take_unlogged().map(|t| t.tx_id).collect();
    assert_eq!(logged, vec![0, 1, 2]);
    assert_eq!(d.take_unlogged().count(), 0);
}

#[test]
fn tcp_several_messages_per_segment_and_one_over_many() {
    let q1 = query(1, "a.example", TYPE_A);
    let q2 = query(2, "b.example", TYPE_A);
    let q3 = query(3, "c.example", TYPE_A);
    let stream = framed(&[&q1, &q2, &q3]);
    // All at once.
    let mut d = DnsState::new();
    assert_eq!(d.feed_tcp(S, &stream).new_txs, 3);
    // Byte by byte: one transaction as each message completes.
    let mut d = DnsState::new();
    let mut made = Vec::new();
    for (i, b) in stream.chunks(1).enumerate() {
        if d.feed_tcp(S, b).new_txs > 0 {
            made.push(i + 1);
        }
    }
    assert_eq!(
        made,
        vec![2 + q1.len(), 4 + q1.len() + q2.len(), stream.len()]
    );
    let names: Vec<&[u8]> = d
        .txs
        .iter()
        .map(|t| t.msg.queries[0].name.value.as_slice())
        .collect();
    assert_eq!(names, vec![&b"a.example"[..], b"b.example", b"c.example"]);
    // Directions are framed separately; zero-length prefixes are skipped.
    let mut d = DnsState::new();
    let mut s = vec![0, 0];
    s.extend_from_slice(&framed(&[&q1])[..5]);
    d.feed_tcp(S, &s);
    let r = response(1, "a.example", &[(TYPE_A, vec![9, 9, 9, 9])]);
    assert_eq!(d.feed_tcp(C, &framed(&[&r])).new_txs, 1);
    assert_eq!(d.feed_tcp(S, &framed(&[&q1])[5..]).new_txs, 1);
    assert_eq!(d.txs[1].dir, S);
}

#[test]
fn tcp_garbage_stops_the_direction() {
    let mut d = DnsState::new();
    // A length with a message whose header counts cannot fit.
    let mut bad = vec![0u8, 12];
    bad.extend_from_slice(&[0, 1, 0, 0, 0xff, 0xff, 0, 0, 0, 0, 0, 0]);
    assert_eq!(d.feed_tcp(S, &bad).new_txs, 0);
    let q = query(1, "a.example", TYPE_A);
    assert_eq!(d.feed_tcp(S, &framed(&[&q])).new_txs, 0);
    // The other direction still works.
    let r = response(1, "a.example", &[]);
    assert_eq!(d.feed_tcp(C, &framed(&[&r])).new_txs, 1);
}

#[test]
fn events_are_set_on_the_new_transaction() {
    let mut d = DnsState::new();
    // Z flag and opcode 7 on a query.
    let mut q = query(5, "z.example", TYPE_A);
    q[2] = 0x38; // opcode 7
    q[3] = 0x40; // Z
    d.feed_udp(S, &q);
    let tx = &d.txs[0];
    assert!(tx.has_event(DnsEvent::ZFlagSet) && tx.has_event(DnsEvent::InvalidOpcode));
    let evs: Vec<&str> = d.take_anomalies().iter().map(|a| a.2.as_str()).collect();
    assert_eq!(evs, vec!["z_flag_set", "invalid_opcode"]);
    // A malformed response: no transaction, the event goes to the newest.
    let r = response(5, "z.example", &[(TYPE_A, vec![1, 2, 3, 4])]);
    let f = d.feed_udp(C, &r[..r.len() - 2]);
    assert_eq!(
        f,
        Feed {
            new_txs: 0,
            events: 1
        }
    );
    assert!(d.txs[0].has_event(DnsEvent::MalformedData));
    // A query with QR set: not_request, no transaction.
    let mut q = query(6, "q.example", TYPE_A);
    q[2] |= 0x80;
    assert_eq!(d.feed_udp(S, &q).new_txs, 0);
    assert!(d.txs[0].has_event(DnsEvent::NotRequest));
    // A response without QR: a transaction with not_response.
    d.feed_udp(C, &query(7, "r.example", TYPE_A));
    assert!(d.txs[1].has_event(DnsEvent::NotResponse));
    // Events before any transaction are lost (as in Suricata).
    let mut d = DnsState::new();
    assert_eq!(d.feed_udp(S, &[0u8; 5]).events, 0);
}

#[test]
fn long_and_looping_names_raise_events() {
    let mut d = DnsState::new();
    let mut m = vec![0, 1, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0];
    push_name(&mut m, "loop.example");
    m.extend_from_slice(&[0, 5, 0, 1]);
    // Answer name: two pointers pointing at each other.
    let at = m.len() as u8;
    m.extend_from_slice(&[0xc0, at + 2, 0xc0, at]);
    m.extend_from_slice(&[0, TYPE_CNAME as u8, 0, 1, 0, 0, 0, 1, 0, 2, 0xc0, 12]);
    assert_eq!(d.feed_udp(C, &m).new_txs, 1);
    let tx = &d.txs[0];
    assert!(tx.has_event(DnsEvent::TooManyLabels) && tx.has_event(DnsEvent::NameTooLong));
    // A name of 2000 characters in a query: cut at 1025, flagged.
    let mut q = vec![0, 2, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0];
    for _ in 0..32 {
        q.push(62);
        q.extend_from_slice(&[b'x'; 62]);
    }
    q.extend_from_slice(&[0, 0, 1, 0, 1]);
    d.feed_udp(S, &q);
    let tx = d.txs.back().unwrap();
    assert_eq!(tx.msg.queries[0].name.value.len(), wire::MAX_NAME_LEN);
    assert!(tx.msg.queries[0].name.flags.truncated);
    assert!(tx.has_event(DnsEvent::NameTooLong));
}

#[test]
fn transactions_are_bounded() {
    let mut d = DnsState::new();
    for i in 0..(MAX_TXS as u16 + 10) {
        d.feed_udp(S, &query(i, "a.b", TYPE_A));
    }
    assert_eq!(d.txs.len(), MAX_TXS);
    assert_eq!(d.tx_count(), MAX_TXS as u64 + 10);
    assert!(d.tx(0).is_none() && d.tx(MAX_TXS as u64 + 9).is_some());
}

#[test]
fn probing() {
    let q = query(1, "example.com", TYPE_A);
    assert_eq!(probe(&q, q.len()), Some(true));
    let r = response(1, "example.com", &[(TYPE_A, vec![1, 2, 3, 4])]);
    assert_eq!(probe(&r, r.len()), Some(false));
    assert_eq!(probe(b"GET / HTTP/1.1\r\n\r\n", 18), None);
    assert_eq!(probe(&[0u8; 11], 11), None);
    assert_eq!(probe_tcp(&framed(&[&q])), Some(true));
    // Only the start of a long message: the header decides.
    assert_eq!(probe_tcp(&framed(&[&r])[..16]), Some(false));
    assert_eq!(probe_tcp(&[0]), None);
}

#[test]
fn names_of_types_and_rcodes() {
    assert_eq!(rrtype_name(28), "AAAA");
    assert_eq!(rrtype_name(65), "HTTPS");
    assert_eq!(rrtype_name(4242), "4242");
    assert_eq!(rcode_name(3), "NXDOMAIN");
    assert_eq!(rcode_name(0x8183), "NXDOMAIN");
    assert_eq!(rcode_name(12), "12");
    assert_eq!(DnsEvent::from_name("Z_FLAG_SET"), Some(DnsEvent::ZFlagSet));
}
