//! What travels through Redis: the keys, the `d` field of a `<prefix>:bans`
//! stream entry, and stream ids.
//!
//! One entry per decision a gateway made itself (its heuristics or its
//! operator): `XADD <prefix>:bans MINID ~ <ms> * d <json>`, where the JSON
//! object is a [`Decision`]:
//!
//! ```text
//! {"v":1,"op":"ban","ip":"198.51.100.7","until_ms":1764390000000,
//!  "rule":"libssh clients","reason":"dest=192.0.2.1:22 flow_id=1",
//!  "client":"libssh_0.9.6","origin":"gw1","id":"gw1-19a2c3d4e5f-17",
//!  "event":{...the EVE event...}}
//! ```
//!
//! `until_ms` is absolute (ms since the epoch): every gateway computes the
//! same expiry whatever the delivery delay, at the price of needing NTP.
//! `<prefix>:active` is a sorted set address -> `until_ms`, only ever
//! raised (`ZADD GT`); an unban removes the address.
//!
//! Parsing is tolerant and total: anything that is not a version-1 object
//! with a valid address and origin is an error value, never a panic.

use std::borrow::Cow;
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use meerkat_shared::net::fold_mapped;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// Format version written in `v`.
pub const VERSION: u64 = 1;
/// The stream entry's field holding the decision.
pub const FIELD: &str = "d";

pub fn bans_key(prefix: &str) -> String {
    format!("{prefix}:bans")
}

pub fn active_key(prefix: &str) -> String {
    format!("{prefix}:active")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Op {
    Ban,
    Unban,
}

/// One decision, as published in the `d` field.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Decision {
    pub v: u64,
    pub op: Op,
    pub ip: IpAddr,
    /// Absolute expiry of a ban, ms since the epoch (0 for an unban).
    #[serde(default)]
    pub until_ms: u64,
    #[serde(default)]
    pub rule: String,
    #[serde(default)]
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    pub origin: String,
    pub id: String,
    /// The EVE event that triggered the decision, when there is one: the
    /// EVE line's own JSON text, carried as is (the origin does not build
    /// and serialise a copy of its tree, and receivers, which only apply
    /// the ban, do not build one either).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<Box<RawValue>>,
}

impl PartialEq for Decision {
    fn eq(&self, o: &Decision) -> bool {
        self.v == o.v
            && self.op == o.op
            && self.ip == o.ip
            && self.until_ms == o.until_ms
            && self.rule == o.rule
            && self.reason == o.reason
            && self.client == o.client
            && self.origin == o.origin
            && self.id == o.id
            && self.event.as_ref().map(|e| e.get()) == o.event.as_ref().map(|e| e.get())
    }
}

/// An EVE line as a decision's `event`: its JSON text without the line
/// end; `None` when it is not valid JSON (the engine parsed it already, so
/// only a line it could not have judged).
pub fn raw_event(line: &[u8]) -> Option<Box<RawValue>> {
    let s = std::str::from_utf8(line).ok()?.trim_ascii();
    RawValue::from_string(s.to_owned()).ok()
}

/// Why a stream entry was skipped.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WireError {
    #[error("entry has no `d` field")]
    NoField,
    #[error("`d` is not valid JSON for a decision: {0}")]
    Json(String),
    #[error("unsupported format version {0}")]
    Version(u64),
    #[error("empty origin or id")]
    Incomplete,
    #[error("a ban without until_ms")]
    NoExpiry,
}

impl Decision {
    pub fn encode(&self) -> String {
        // Serialising a struct of strings, numbers and a Value cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Parses the `d` field of an entry.
    pub fn decode(d: &[u8]) -> Result<Decision, WireError> {
        let mut x: Decision =
            serde_json::from_slice(d).map_err(|e| WireError::Json(e.to_string()))?;
        if x.v != VERSION {
            return Err(WireError::Version(x.v));
        }
        if x.origin.is_empty() || x.id.is_empty() {
            return Err(WireError::Incomplete);
        }
        if x.op == Op::Ban && x.until_ms == 0 {
            return Err(WireError::NoExpiry);
        }
        x.ip = fold_mapped(x.ip);
        Ok(x)
    }
}

/// The `origin` of an encoded decision, read without decoding the rest:
/// the subscriber skips its own gateway's entries with it. `None` when `d`
/// is not an object with a string `origin` (then a full decode says why).
pub fn origin_of(d: &[u8]) -> Option<Cow<'_, str>> {
    #[derive(Deserialize)]
    struct Origin<'a> {
        #[serde(borrow)]
        origin: Cow<'a, str>,
    }
    serde_json::from_slice::<Origin>(d).ok().map(|o| o.origin)
}

/// A stream entry id `ms-seq`, ordered like Redis orders them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct StreamId {
    pub ms: u64,
    pub seq: u64,
}

impl StreamId {
    pub const ZERO: StreamId = StreamId { ms: 0, seq: 0 };
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

impl FromStr for StreamId {
    type Err = String;
    fn from_str(s: &str) -> Result<StreamId, String> {
        let s = s.trim();
        let (a, b) = s.split_once('-').unwrap_or((s, "0"));
        let ms = a.parse().map_err(|_| format!("bad stream id {s:?}"))?;
        let seq = b.parse().map_err(|_| format!("bad stream id {s:?}"))?;
        Ok(StreamId { ms, seq })
    }
}

/// One stream entry: its id and its field/value pairs.
pub type Entry = (StreamId, Vec<(Vec<u8>, Vec<u8>)>);

fn bytes(v: redis::Value) -> Option<Vec<u8>> {
    match v {
        redis::Value::BulkString(b) => Some(b),
        redis::Value::SimpleString(s) => Some(s.into_bytes()),
        redis::Value::Int(i) => Some(i.to_string().into_bytes()),
        _ => None,
    }
}

fn pairs(v: redis::Value) -> Vec<(redis::Value, redis::Value)> {
    match v {
        redis::Value::Array(a) => {
            let mut out = Vec::with_capacity(a.len() / 2);
            let mut it = a.into_iter();
            while let (Some(k), Some(v)) = (it.next(), it.next()) {
                out.push((k, v));
            }
            out
        }
        redis::Value::Map(m) => m,
        _ => Vec::new(),
    }
}

/// Entries of one `XRANGE`/`XREVRANGE` reply, or of one stream's part of
/// an `XREAD` reply (taken apart, not copied). Malformed entries are
/// counted in `bad` and skipped.
pub fn entries(v: redis::Value, bad: &mut u64) -> Vec<Entry> {
    let redis::Value::Array(items) = v else {
        if !matches!(v, redis::Value::Nil) {
            *bad += 1;
        }
        return Vec::new();
    };
    let mut out = Vec::with_capacity(items.len());
    for it in items {
        let parsed = (|| {
            let redis::Value::Array(pair) = it else {
                return None;
            };
            let mut pair = pair.into_iter();
            let id: StreamId = String::from_utf8(bytes(pair.next()?)?).ok()?.parse().ok()?;
            let fields = pairs(pair.next()?)
                .into_iter()
                .filter_map(|(k, v)| Some((bytes(k)?, bytes(v)?)))
                .collect();
            Some((id, fields))
        })();
        match parsed {
            Some(e) => out.push(e),
            None => *bad += 1,
        }
    }
    out
}

/// Entries one `XREAD` returns at most.
pub const XREAD_COUNT: usize = 1000;
/// How long one `XREAD` waits for new entries (ms).
pub const XREAD_BLOCK_MS: u64 = 5000;

/// `XREAD COUNT .. BLOCK .. STREAMS <key> <from>`: the blocking read both
/// stream followers (fleet decisions, EVE input) use; parse its reply with
/// [`xread_entries`].
pub fn xread_cmd(key: &str, from: StreamId) -> redis::Cmd {
    let mut cmd = redis::cmd("XREAD");
    cmd.arg("COUNT")
        .arg(XREAD_COUNT)
        .arg("BLOCK")
        .arg(XREAD_BLOCK_MS)
        .arg("STREAMS")
        .arg(key)
        .arg(from.to_string());
    cmd
}

/// The entries of an `XREAD` reply (RESP2 array or RESP3 map), all streams
/// together; `Nil` (BLOCK timed out) is no entries.
pub fn xread_entries(v: redis::Value, bad: &mut u64) -> Vec<Entry> {
    let mut out = Vec::new();
    match v {
        redis::Value::Nil => {}
        redis::Value::Array(streams) => {
            for s in streams {
                match s {
                    redis::Value::Array(kv) if kv.len() == 2 => {
                        if let Some(e) = kv.into_iter().nth(1) {
                            out.extend(entries(e, bad));
                        }
                    }
                    _ => *bad += 1,
                }
            }
        }
        redis::Value::Map(m) => {
            for (_, e) in m {
                out.extend(entries(e, bad));
            }
        }
        _ => *bad += 1,
    }
    out
}

/// The value of `field` in an entry.
pub fn field<'a>(fields: &'a [(Vec<u8>, Vec<u8>)], name: &str) -> Option<&'a [u8]> {
    fields
        .iter()
        .find(|(k, _)| k == name.as_bytes())
        .map(|(_, v)| v.as_slice())
}

#[cfg(test)]
mod tests {
    use super::*;
    use redis::Value as V;

    fn bulk(s: &str) -> V {
        V::BulkString(s.as_bytes().to_vec())
    }

    fn sample() -> Decision {
        Decision {
            v: 1,
            op: Op::Ban,
            ip: "198.51.100.7".parse().unwrap(),
            until_ms: 1_764_390_000_000,
            rule: "libssh clients".into(),
            reason: "dest=192.0.2.1:22".into(),
            client: Some("libssh_0.9.6".into()),
            origin: "gw1".into(),
            id: "gw1-1-1".into(),
            event: raw_event(b"{\"event_type\": \"ssh\", \"b\": [1, 2]}\r\n"),
        }
    }

    #[test]
    fn roundtrip_and_field_names() {
        let d = sample();
        let s = d.encode();
        for k in [
            "\"v\":1",
            "\"op\":\"ban\"",
            "\"ip\":\"198.51.100.7\"",
            "\"until_ms\":1764390000000",
            "\"rule\":",
            "\"reason\":",
            "\"client\":",
            "\"origin\":\"gw1\"",
            "\"id\":",
            "\"event\":{\"event_type\": \"ssh\", \"b\": [1, 2]}}",
        ] {
            assert!(s.contains(k), "{k} missing in {s}");
        }
        assert_eq!(Decision::decode(s.as_bytes()).unwrap(), d);
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        for bad in [
            &b""[..],
            b"{",
            b"[]",
            b"{\"v\":1}",
            b"{\"v\":2,\"op\":\"ban\",\"ip\":\"192.0.2.1\",\"until_ms\":5,\"origin\":\"a\",\"id\":\"x\"}",
            b"{\"v\":1,\"op\":\"ban\",\"ip\":\"nope\",\"until_ms\":5,\"origin\":\"a\",\"id\":\"x\"}",
            b"{\"v\":1,\"op\":\"ban\",\"ip\":\"192.0.2.1\",\"origin\":\"a\",\"id\":\"x\"}",
            b"{\"v\":1,\"op\":\"kick\",\"ip\":\"192.0.2.1\",\"until_ms\":5,\"origin\":\"a\",\"id\":\"x\"}",
            b"{\"v\":1,\"op\":\"ban\",\"ip\":\"192.0.2.1\",\"until_ms\":5,\"origin\":\"\",\"id\":\"x\"}",
            b"\xff\xfe",
        ] {
            assert!(Decision::decode(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
        let mapped =
            b"{\"v\":1,\"op\":\"unban\",\"ip\":\"::ffff:192.0.2.9\",\"origin\":\"a\",\"id\":\"x\"}";
        let d = Decision::decode(mapped).unwrap();
        assert_eq!(d.ip, "192.0.2.9".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn origin_is_read_without_decoding_the_rest() {
        let s = sample().encode();
        assert_eq!(origin_of(s.as_bytes()).as_deref(), Some("gw1"));
        assert_eq!(
            origin_of(br#"{"event":{"origin":"x"},"origin":"g\u0077"}"#).as_deref(),
            Some("gw")
        );
        for bad in [&b""[..], b"[]", b"{\"origin\":1}", b"{\"v\":1}", b"\xff"] {
            assert_eq!(origin_of(bad), None);
        }
    }

    #[test]
    fn stream_ids_order_and_parse() {
        let a: StreamId = "1700000000000-5".parse().unwrap();
        let b: StreamId = "1700000000001-0".parse().unwrap();
        assert!(a < b);
        assert_eq!(a.to_string(), "1700000000000-5");
        assert_eq!(
            "17".parse::<StreamId>().unwrap(),
            StreamId { ms: 17, seq: 0 }
        );
        assert!("x-1".parse::<StreamId>().is_err());
    }

    #[test]
    fn xread_replies_with_garbage_are_counted() {
        let good = V::Array(vec![bulk("5-1"), V::Array(vec![bulk("d"), bulk("{}")])]);
        let bad_id = V::Array(vec![bulk("zz"), V::Array(vec![])]);
        let reply = V::Array(vec![
            V::Array(vec![
                bulk("mk:bans"),
                V::Array(vec![good, bad_id, V::Int(3)]),
            ]),
            V::Int(7),
        ]);
        let mut bad = 0;
        let e = xread_entries(reply, &mut bad);
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].0, StreamId { ms: 5, seq: 1 });
        assert_eq!(field(&e[0].1, "d"), Some(&b"{}"[..]));
        assert_eq!(bad, 3);
        assert!(xread_entries(V::Nil, &mut bad).is_empty());
    }
}
