//! EVE for DNS, in Suricata 7's format (version 2): `dns` events (one per
//! question of a query, one per response), the `dns` object of alerts on
//! DNS transactions, app-layer `anomaly` events, the logging options of
//! Suricata's `outputs.eve-log.types.dns` (`requests`, `responses`,
//! `formats`, `types`) and the `app_layer` stats of DNS.

use std::sync::atomic::AtomicU64;

use meerkat_shared::eve::Event;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::app::dns::{rcode_name, rrtype_name, DnsTx, Name, RData, Record};
use crate::counters::PipelineCounters;
use crate::flow::Flow;

use super::build::{self, BuildOpts, PacketView};
use super::eve::EveTypes;
use super::view::flow_view;

/// `[eve.dns]`: what `dns` events carry (Suricata's
/// `outputs.N.eve-log.types.M.dns.*`; the defaults log everything).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct DnsLogConfig {
    /// Log queries (`requests`).
    pub requests: bool,
    /// Log responses (`responses`).
    pub responses: bool,
    /// `formats`: `detailed` (the `answers` array) and/or `grouped`
    /// (`grouped` by record type); empty: both.
    pub formats: Vec<String>,
    /// `types`: the record types logged (lower-case names as in Suricata,
    /// `a`, `aaaa`, `mx`, ...); None: all.
    pub types: Option<Vec<String>>,
}

impl Default for DnsLogConfig {
    fn default() -> Self {
        DnsLogConfig {
            requests: true,
            responses: true,
            formats: Vec::new(),
            types: None,
        }
    }
}

const LOG_QUERIES: u64 = 1;
const LOG_ANSWERS: u64 = 1 << 1;
const LOG_GROUPED: u64 = 1 << 60;
const LOG_DETAILED: u64 = 1 << 61;
const LOG_HTTPS: u64 = 1 << 62;
const ALL_RRTYPES: u64 = !(LOG_QUERIES | LOG_ANSWERS | LOG_GROUPED | LOG_DETAILED);

/// Suricata's record-type names in `types` and their flag bits (types 1 to
/// 30 take bits 2 to 31, in type order).
const TYPE_BITS: &[(&str, u16, u64)] = &[
    ("a", 1, 1 << 2),
    ("ns", 2, 1 << 3),
    ("md", 3, 1 << 4),
    ("mf", 4, 1 << 5),
    ("cname", 5, 1 << 6),
    ("soa", 6, 1 << 7),
    ("mb", 7, 1 << 8),
    ("mg", 8, 1 << 9),
    ("mr", 9, 1 << 10),
    ("null", 10, 1 << 11),
    ("wks", 11, 1 << 12),
    ("ptr", 12, 1 << 13),
    ("hinfo", 13, 1 << 14),
    ("minfo", 14, 1 << 15),
    ("mx", 15, 1 << 16),
    ("txt", 16, 1 << 17),
    ("rp", 17, 1 << 18),
    ("afsdb", 18, 1 << 19),
    ("x25", 19, 1 << 20),
    ("isdn", 20, 1 << 21),
    ("rt", 21, 1 << 22),
    ("nsap", 22, 1 << 23),
    ("nsapptr", 23, 1 << 24),
    ("sig", 24, 1 << 25),
    ("key", 25, 1 << 26),
    ("px", 26, 1 << 27),
    ("gpos", 27, 1 << 28),
    ("aaaa", 28, 1 << 29),
    ("loc", 29, 1 << 30),
    ("nxt", 30, 1 << 31),
    ("srv", 33, 1 << 32),
    ("atma", 34, 1 << 33),
    ("naptr", 35, 1 << 34),
    ("kx", 36, 1 << 35),
    ("cert", 37, 1 << 36),
    ("a6", 38, 1 << 37),
    ("dname", 39, 1 << 38),
    ("opt", 41, 1 << 39),
    ("apl", 42, 1 << 40),
    ("ds", 43, 1 << 41),
    ("sshfp", 44, 1 << 42),
    ("ipseckey", 45, 1 << 43),
    ("rrsig", 46, 1 << 44),
    ("nsec", 47, 1 << 45),
    ("dnskey", 48, 1 << 46),
    ("dhcid", 49, 1 << 47),
    ("nsec3", 50, 1 << 48),
    ("nsec3param", 51, 1 << 49),
    ("tlsa", 52, 1 << 50),
    ("hip", 55, 1 << 51),
    ("cds", 59, 1 << 52),
    ("cdnskey", 60, 1 << 53),
    ("https", 65, LOG_HTTPS),
    ("spf", 99, 1 << 54),
    ("tkey", 249, 1 << 55),
    ("tsig", 250, 1 << 56),
    ("maila", 254, 1 << 57),
    ("any", 255, 1 << 58),
    ("uri", 256, 1 << 59),
];

/// The logging options as Suricata's flag word (all bits: log all).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DnsLogMask(pub u64);

impl Default for DnsLogMask {
    fn default() -> Self {
        DnsLogMask(!0)
    }
}

impl DnsLogConfig {
    /// The flag word, built as Suricata's `JsonDnsLogInitFilters`.
    pub fn mask(&self) -> DnsLogMask {
        let mut f: u64 = !0;
        if !self.requests {
            f &= !LOG_QUERIES;
        }
        if !self.responses {
            f &= !LOG_ANSWERS;
        }
        if let Some(types) = &self.types {
            f &= !ALL_RRTYPES;
            for t in types {
                match TYPE_BITS.iter().find(|(n, _, _)| n.eq_ignore_ascii_case(t)) {
                    Some((_, _, bit)) => f |= bit,
                    None => tracing::warn!(rrtype = %t, "eve dns: unknown record type in types"),
                }
            }
        }
        if f & LOG_ANSWERS != 0 {
            let mut fmt = 0;
            for x in &self.formats {
                match x.to_ascii_lowercase().as_str() {
                    "detailed" => fmt |= LOG_DETAILED,
                    "grouped" => fmt |= LOG_GROUPED,
                    other => tracing::warn!(format = %other, "eve dns: unknown format"),
                }
            }
            if fmt != 0 {
                f = (f & !(LOG_DETAILED | LOG_GROUPED)) | fmt;
            }
        }
        DnsLogMask(f)
    }
}

/// One `outputs.N.eve-log.types.M.dns.<opt>[.<i>]` setting of a Suricata
/// YAML; false when the key is not one of DNS's.
pub fn config_key(c: &mut DnsLogConfig, opt: &str, value: &str) -> bool {
    let yes = |v: &str| crate::config::keys::parse_bool(v);
    match opt {
        "version" => {
            if value.trim() != "2" {
                tracing::warn!(version = %value, "eve dns: only version 2 is written");
            }
        }
        "requests" | "query" => c.requests = yes(value).unwrap_or(true),
        "responses" | "answer" => c.responses = yes(value).unwrap_or(true),
        "formats" => {
            if !value.trim().is_empty() {
                c.formats.push(value.trim().to_string());
            }
        }
        "types" => {
            let t = c.types.get_or_insert_with(Vec::new);
            if !value.trim().is_empty() {
                t.push(value.trim().to_string());
            }
        }
        _ => return false,
    }
    true
}

impl DnsLogMask {
    fn rrtype(self, t: u16) -> bool {
        if self.0 == !0 {
            return true;
        }
        TYPE_BITS
            .iter()
            .find(|(_, n, _)| *n == t)
            .is_some_and(|(_, _, bit)| self.0 & bit != 0)
    }
}

/// Bytes as Suricata's JSON builder writes them: UTF-8 as is, otherwise
/// ASCII bytes as characters and others as `\xNN`.
pub fn text(b: &[u8]) -> Value {
    match std::str::from_utf8(b) {
        Ok(s) => Value::String(s.to_string()),
        Err(_) => {
            let mut s = String::with_capacity(b.len() * 2);
            for &c in b {
                if c < 128 {
                    s.push(char::from(c));
                } else {
                    s.push_str(&format!("\\x{c:02x}"));
                }
            }
            Value::String(s)
        }
    }
}

fn put_name(m: &mut Map<String, Value>, key: &str, n: &Name) {
    m.insert(key.into(), text(&n.value));
    if n.flags.truncated {
        m.insert(format!("{key}_truncated"), Value::Bool(true));
    }
}

fn addr(a: &[u8]) -> String {
    match a.len() {
        4 => format!("{}.{}.{}.{}", a[0], a[1], a[2], a[3]),
        16 => a
            .chunks(2)
            .map(|p| format!("{:02x}{:02x}", p[0], p[1]))
            .collect::<Vec<_>>()
            .join(":"),
        _ => String::new(),
    }
}

fn soa(s: &crate::app::dns::records::Soa) -> Value {
    let mut m = Map::new();
    put_name(&mut m, "mname", &s.mname);
    put_name(&mut m, "rname", &s.rname);
    m.insert("serial".into(), json!(s.serial));
    m.insert("refresh".into(), json!(s.refresh));
    m.insert("retry".into(), json!(s.retry));
    m.insert("expire".into(), json!(s.expire));
    m.insert("minimum".into(), json!(s.minimum));
    Value::Object(m)
}

fn srv(s: &crate::app::dns::records::Srv) -> Value {
    json!({
        "priority": s.priority,
        "weight": s.weight,
        "port": s.port,
        "name": text(&s.target.value),
    })
}

fn sshfp(s: &crate::app::dns::records::Sshfp) -> Value {
    let fp: Vec<String> = s.fingerprint.iter().map(|b| format!("{b:02x}")).collect();
    json!({"fingerprint": fp.join(":"), "algo": s.algo, "type": s.fp_type})
}

/// One record in detail (`answers` and `authorities` entries).
fn record(r: &Record) -> Value {
    let mut m = Map::new();
    put_name(&mut m, "rrname", &r.name);
    m.insert("rrtype".into(), Value::String(rrtype_name(r.rrtype).into()));
    m.insert("ttl".into(), json!(r.ttl));
    match &r.data {
        RData::Addr(a) => {
            m.insert("rdata".into(), Value::String(addr(a)));
        }
        RData::Name(n) => {
            m.insert("rdata".into(), text(&n.value));
            if n.flags.truncated {
                m.insert("rdata_truncated".into(), Value::Bool(true));
            }
        }
        RData::Text(t) => {
            m.insert("rdata".into(), text(t));
        }
        RData::Soa(s) => {
            m.insert("soa".into(), soa(s));
        }
        RData::Srv(s) => {
            m.insert("srv".into(), srv(s));
        }
        RData::Sshfp(s) => {
            m.insert("sshfp".into(), sshfp(s));
        }
        RData::Unknown(_) => {}
    }
    Value::Object(m)
}

/// The grouped form of a record's data (None: not grouped).
fn grouped_value(d: &RData) -> Option<Value> {
    Some(match d {
        RData::Addr(a) => Value::String(addr(a)),
        RData::Name(n) => text(&n.value),
        RData::Text(t) => text(t),
        RData::Soa(s) => soa(s),
        RData::Srv(s) => srv(s),
        RData::Sshfp(s) => sshfp(s),
        RData::Unknown(_) => return None,
    })
}

/// The `dns` object of the `i`th question of a query transaction, or None
/// when there is no such question or its type is not logged.
fn query_object(tx: &DnsTx, i: usize, mask: DnsLogMask) -> Option<Map<String, Value>> {
    if tx.is_response() {
        return None;
    }
    let q = tx.msg.queries.get(i)?;
    if !mask.rrtype(q.rrtype) {
        return None;
    }
    let h = &tx.msg.header;
    let mut m = Map::new();
    m.insert("type".into(), json!("query"));
    m.insert("id".into(), json!(h.id));
    put_name(&mut m, "rrname", &q.name);
    m.insert("rrtype".into(), Value::String(rrtype_name(q.rrtype).into()));
    m.insert("tx_id".into(), json!(tx.tx_id));
    if h.z() {
        m.insert("z".into(), Value::Bool(true));
    }
    m.insert("opcode".into(), json!(h.opcode()));
    Some(m)
}

/// The `dns` object of a response transaction (without `version`), or
/// None when none of its questions' types is logged.
fn answer_object(tx: &DnsTx, mask: DnsLogMask) -> Option<Map<String, Value>> {
    if !tx.is_response() {
        return None;
    }
    let msg = &tx.msg;
    if !msg.queries.iter().any(|q| mask.rrtype(q.rrtype)) {
        return None;
    }
    let h = &msg.header;
    let mut m = Map::new();
    m.insert("version".into(), json!(2));
    m.insert("type".into(), json!("answer"));
    m.insert("id".into(), json!(h.id));
    m.insert("flags".into(), json!(format!("{:x}", h.flags)));
    for (bit, key) in [
        (0x8000, "qr"),
        (0x0400, "aa"),
        (0x0200, "tc"),
        (0x0100, "rd"),
        (0x0080, "ra"),
        (0x0040, "z"),
    ] {
        if h.flags & bit != 0 {
            m.insert(key.into(), Value::Bool(true));
        }
    }
    m.insert("opcode".into(), json!(h.opcode()));
    if let Some(q) = msg.queries.first() {
        put_name(&mut m, "rrname", &q.name);
        m.insert("rrtype".into(), Value::String(rrtype_name(q.rrtype).into()));
    }
    m.insert("rcode".into(), Value::String(rcode_name(h.rcode()).into()));
    if !msg.answers.is_empty() {
        if mask.0 & LOG_DETAILED != 0 {
            let answers: Vec<Value> = msg.answers.iter().map(record).collect();
            m.insert("answers".into(), Value::Array(answers));
        }
        if mask.0 & LOG_GROUPED != 0 {
            let mut g = Map::new();
            for r in &msg.answers {
                if let Some(v) = grouped_value(&r.data) {
                    let e = g
                        .entry(rrtype_name(r.rrtype).into_owned())
                        .or_insert_with(|| Value::Array(Vec::new()));
                    if let Value::Array(a) = e {
                        a.push(v);
                    }
                }
            }
            m.insert("grouped".into(), Value::Object(g));
        }
    }
    if !msg.authorities.is_empty() {
        let auth: Vec<Value> = msg.authorities.iter().map(record).collect();
        m.insert("authorities".into(), Value::Array(auth));
    }
    Some(m)
}

/// The `dns` object of an alert on transaction `tx` (Suricata's
/// `AlertJsonDns`: `query` array or `answer` object, no answer details).
pub fn alert_object(tx: &DnsTx) -> Value {
    let mask = DnsLogMask(ALL_RRTYPES);
    let mut m = Map::new();
    m.insert("version".into(), json!(2));
    let queries: Vec<Value> = (0..tx.msg.queries.len())
        .map_while(|i| query_object(tx, i, mask).map(Value::Object))
        .collect();
    if !queries.is_empty() {
        m.insert("query".into(), Value::Array(queries));
    }
    if let Some(a) = answer_object(tx, mask) {
        m.insert("answer".into(), Value::Object(a));
    }
    Value::Object(m)
}

/// The `dns` event objects of one transaction under `mask`.
pub fn event_objects(tx: &DnsTx, mask: DnsLogMask) -> Vec<Value> {
    let mut out = Vec::new();
    if tx.is_response() {
        if mask.0 & LOG_ANSWERS != 0 {
            if let Some(a) = answer_object(tx, mask) {
                out.push(Value::Object(a));
            }
        }
    } else if mask.0 & LOG_QUERIES != 0 {
        for i in 0..tx.msg.queries.len() {
            let Some(q) = query_object(tx, i, mask) else {
                break;
            };
            let mut m = Map::new();
            m.insert("version".into(), json!(2));
            m.extend(q);
            out.push(Value::Object(m));
        }
    }
    out
}

/// Whether EVE `dns` events are written at all.
fn dns_enabled(types: &EveTypes) -> bool {
    types.enabled("dns")
}

/// Which EVE output a DNS-layer event goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DnsTarget {
    /// Every output that logs its type (`anomaly` events).
    All,
    /// The first `eve-log` output (built with its `dns` options).
    Primary,
    /// A further `eve-log` output, by its index among the extra ones
    /// (built with that output's `dns` options).
    Extra(usize),
}

/// The `dns` and `anomaly` events of the transactions the flow's DNS state
/// created since the last call (client to server tuple for `dns` events,
/// the packet's for anomalies), each with its output. Empty for other
/// protocols. `extra` holds, per further `eve-log` output, whether it logs
/// `dns` events and with which options.
pub fn pending_events(
    flow: &mut Flow,
    pv: &PacketView<'_>,
    types: &EveTypes,
    opts: &BuildOpts,
    extra: &[(bool, DnsLogMask)],
) -> Vec<(DnsTarget, Event)> {
    let mut out = Vec::new();
    if flow.app.dns().is_none() {
        return out;
    }
    let view = flow_view(flow);
    let Some(d) = flow.app.dns_mut() else {
        return out;
    };
    // As Suricata, anomaly events read like the packet that raised them
    // (in IDS mode a to_server message is parsed on the server's ACK).
    for (_dir, tx_id, e) in d.take_anomalies() {
        if !types.anomaly {
            continue;
        }
        let mut ev = build::anomaly_event(pv, &view, "dns", e.as_str(), opts);
        ev.tx_id = Some(tx_id);
        out.push((DnsTarget::All, ev));
    }
    let outputs: Vec<(DnsTarget, DnsLogMask)> =
        std::iter::once((dns_enabled(types), DnsTarget::Primary, opts.dns))
            .chain(
                extra
                    .iter()
                    .enumerate()
                    .map(|(i, &(on, mask))| (on, DnsTarget::Extra(i), mask)),
            )
            .filter(|(on, _, _)| *on)
            .map(|(_, t, m)| (t, m))
            .collect();
    for tx in d.take_unlogged() {
        for &(target, mask) in &outputs {
            for obj in event_objects(tx, mask) {
                let mut ev = build::ssh_event(
                    &view,
                    Default::default(),
                    pv.source,
                    pv.ts,
                    pv.pcap_cnt,
                    opts,
                );
                ev.event_type = "dns".to_string();
                ev.ssh = None;
                ev.tx_id = None;
                ev.dns = Some(obj);
                out.push((target, ev));
            }
        }
    }
    out
}

/// The transaction a non-transaction match on a DNS flow refers to, as
/// Suricata 7 picks it: for an app-layer (`dns`) rule on UDP, or a match
/// on the reassembled TCP stream, the newest transaction of the match's
/// direction created with this packet.
pub fn guess_tx(
    flow: &Flow,
    engine: &crate::detect::Engine,
    hit: &crate::detect::Hit,
    pkt: &crate::decode::Packet<'_>,
) -> Option<u64> {
    let d = flow.app.dns()?;
    let udp = matches!(pkt.l4, crate::decode::L4::Udp(_));
    let dns_rule = engine.rule_proto(hit.rule) == Some(crate::detect::rule::RuleProto::Dns);
    let applies = if udp { dns_rule } else { hit.flow_scope };
    if !applies {
        return None;
    }
    let tx = d.last_tx(hit.dir)?;
    // UDP: the packet's own message; TCP: the newest of the direction (the
    // stream may be inspected packets after it was parsed).
    (!udp || d.marks.contains(&tx.tx_id)).then_some(tx.tx_id)
}

/// Adds DNS's `app_layer` counters to the stats object.
pub fn add_stats(app_layer: &mut Value, sum: &dyn Fn(fn(&PipelineCounters) -> &AtomicU64) -> u64) {
    let put = |v: &mut Value, k: &str, n: u64| {
        if let Some(m) = v.as_object_mut() {
            m.insert(k.to_string(), json!(n));
        }
    };
    if let Some(flow) = app_layer.get_mut("flow") {
        put(flow, "dns_udp", sum(|p| &p.app_flow_dns_udp));
        put(flow, "dns_tcp", sum(|p| &p.app_flow_dns_tcp));
        put(flow, "failed_udp", sum(|p| &p.app_flow_failed_udp));
    }
    if let Some(tx) = app_layer.get_mut("tx") {
        put(tx, "dns_udp", sum(|p| &p.app_tx_dns_udp));
        put(tx, "dns_tcp", sum(|p| &p.app_tx_dns_tcp));
    }
}

#[cfg(test)]
mod tests;
