//! The `dns` objects and the logging options.

use super::*;
use crate::app::dns::records::tests::{query, response};
use crate::app::dns::records::{TYPE_A, TYPE_AAAA, TYPE_CNAME, TYPE_MX, TYPE_TXT};
use crate::app::dns::DnsState;
use crate::packet::Direction;

fn state() -> DnsState {
    let mut d = DnsState::new();
    d.feed_udp(Direction::ToServer, &query(0x1a2b, "example.com", TYPE_A));
    let mut cname = Vec::new();
    crate::app::dns::records::tests::push_name(&mut cname, "www.example.net");
    d.feed_udp(
        Direction::ToClient,
        &response(
            0x1a2b,
            "example.com",
            &[
                (TYPE_CNAME, cname),
                (TYPE_A, vec![192, 0, 2, 1]),
                (TYPE_A, vec![192, 0, 2, 2]),
                (TYPE_TXT, b"\x02\xff!".to_vec()),
            ],
        ),
    );
    d
}

#[test]
fn query_and_answer_events() {
    let d = state();
    let all = DnsLogMask::default();
    let q = event_objects(d.tx(0).unwrap(), all);
    assert_eq!(
        q,
        vec![
            json!({"version": 2, "type": "query", "id": 0x1a2b, "rrname": "example.com",
            "rrtype": "A", "tx_id": 0, "opcode": 0})
        ]
    );
    let a = event_objects(d.tx(1).unwrap(), all);
    assert_eq!(a.len(), 1);
    let a = &a[0];
    assert_eq!(a["type"], "answer");
    assert_eq!(a["flags"], "8180");
    assert_eq!(
        (a["qr"].clone(), a["rd"].clone(), a["ra"].clone()),
        (json!(true), json!(true), json!(true))
    );
    assert!(a.get("aa").is_none());
    assert_eq!(a["rcode"], "NOERROR");
    assert_eq!(a["rrname"], "example.com");
    assert_eq!(a["answers"][0]["rdata"], "www.example.net");
    assert_eq!(a["answers"][1]["rdata"], "192.0.2.1");
    assert_eq!(a["answers"][1]["ttl"], 60);
    assert_eq!(a["grouped"]["A"], json!(["192.0.2.1", "192.0.2.2"]));
    assert_eq!(a["grouped"]["CNAME"], json!(["www.example.net"]));
    // Non-UTF-8 bytes as Suricata writes them.
    assert_eq!(a["grouped"]["TXT"], json!(["\\xff!"]));
}

#[test]
fn alert_object_has_query_or_answer_without_details() {
    let d = state();
    let q = alert_object(d.tx(0).unwrap());
    assert_eq!(q["query"][0]["rrname"], "example.com");
    assert!(q.get("answer").is_none());
    let a = alert_object(d.tx(1).unwrap());
    assert_eq!(a["answer"]["rcode"], "NOERROR");
    assert!(a["answer"].get("answers").is_none() && a["answer"].get("grouped").is_none());
    assert!(a.get("query").is_none());
}

#[test]
fn options_filter_like_suricata() {
    let d = state();
    let mut c = DnsLogConfig {
        types: Some(vec!["aaaa".into(), "mx".into()]),
        ..Default::default()
    };
    // Neither the A query nor its answer.
    assert!(event_objects(d.tx(0).unwrap(), c.mask()).is_empty());
    assert!(event_objects(d.tx(1).unwrap(), c.mask()).is_empty());
    c.types = Some(vec!["A".into()]);
    assert_eq!(event_objects(d.tx(0).unwrap(), c.mask()).len(), 1);
    c.requests = false;
    assert!(event_objects(d.tx(0).unwrap(), c.mask()).is_empty());
    assert_eq!(event_objects(d.tx(1).unwrap(), c.mask()).len(), 1);
    // Formats: grouped only.
    let c = DnsLogConfig {
        formats: vec!["grouped".into()],
        ..Default::default()
    };
    let a = &event_objects(d.tx(1).unwrap(), c.mask())[0];
    assert!(a.get("answers").is_none() && a.get("grouped").is_some());
    // Record types unknown to the table are logged only when all are.
    let mut d2 = DnsState::new();
    d2.feed_udp(Direction::ToServer, &query(1, "x.org", 4242));
    assert_eq!(
        event_objects(d2.tx(0).unwrap(), DnsLogMask::default()).len(),
        1
    );
    assert!(event_objects(d2.tx(0).unwrap(), c.mask()).is_empty());
    let _ = (TYPE_AAAA, TYPE_MX);
}

#[test]
fn yaml_keys() {
    let mut c = DnsLogConfig::default();
    assert!(config_key(&mut c, "version", "2"));
    assert!(config_key(&mut c, "requests", "no"));
    assert!(config_key(&mut c, "types", "mx"));
    assert!(config_key(&mut c, "formats", ""));
    assert!(!config_key(&mut c, "colour", "blue"));
    assert!(!c.requests && c.responses);
    assert_eq!(c.types, Some(vec!["mx".to_string()]));
    assert!(c.formats.is_empty());
}

#[test]
fn addresses() {
    assert_eq!(addr(&[10, 0, 0, 1]), "10.0.0.1");
    let mut v6 = [0u8; 16];
    v6[0] = 0x20;
    v6[1] = 0x01;
    v6[15] = 1;
    assert_eq!(addr(&v6), "2001:0000:0000:0000:0000:0000:0000:0001");
    assert_eq!(addr(&[1, 2, 3]), "");
}
