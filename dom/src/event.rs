//! Tolerant access to EVE events: any field may be missing.
//!
//! A line is parsed into a [`serde_json::Value`] object; rules read fields by
//! dotted path (`ssh.client.software_version`, `alert.signature_id`). Numbers
//! and booleans are matched by their JSON text. Addresses are parsed and
//! IPv4-mapped IPv6 is folded to IPv4, so `::ffff:192.0.2.1`, `192.0.2.1` and
//! expanded/compressed IPv6 forms all name one host.

use std::borrow::Cow;
use std::net::IpAddr;

use serde_json::Value;

/// Why a line is not an event.
#[derive(Debug, thiserror::Error)]
pub enum LineError {
    #[error("invalid JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("JSON value is not an object")]
    NotObject,
}

/// Parses one EVE line (without its newline). A trailing `\r` is ignored.
pub fn parse_line(line: &[u8]) -> Result<Value, LineError> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let v: Value = serde_json::from_slice(line)?;
    if v.is_object() {
        Ok(v)
    } else {
        Err(LineError::NotObject)
    }
}

/// The event's `event_type`, if it is a string.
pub fn event_type(ev: &Value) -> Option<&str> {
    ev.get("event_type").and_then(Value::as_str)
}

/// A dotted path into an event, split once at configuration time.
/// A numeric segment also indexes arrays (`alert.metadata.tag.0`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldPath {
    text: String,
    parts: Vec<String>,
}

impl FieldPath {
    /// Splits `a.b.c`; `None` when the path or one of its parts is empty.
    pub fn parse(text: &str) -> Option<FieldPath> {
        let text = text.trim();
        if text.is_empty() {
            return None;
        }
        let parts: Vec<String> = text.split('.').map(str::to_string).collect();
        if parts.iter().any(String::is_empty) {
            return None;
        }
        Some(FieldPath {
            text: text.to_string(),
            parts,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The value at this path, or `None` when any level is missing.
    pub fn get<'a>(&self, ev: &'a Value) -> Option<&'a Value> {
        let mut cur = ev;
        for p in &self.parts {
            cur = match cur {
                Value::Object(m) => m.get(p.as_str())?,
                Value::Array(a) => a.get(p.parse::<usize>().ok()?)?,
                _ => return None,
            };
        }
        Some(cur)
    }
}

/// Text of a scalar JSON value: strings as they are, numbers and booleans as
/// JSON writes them. Objects, arrays and null have no text.
pub fn scalar_text(v: &Value) -> Option<Cow<'_, str>> {
    match v {
        Value::String(s) => Some(Cow::Borrowed(s.as_str())),
        Value::Number(n) => Some(Cow::Owned(n.to_string())),
        Value::Bool(b) => Some(Cow::Borrowed(if *b { "true" } else { "false" })),
        _ => None,
    }
}

/// The address at `path`, parsed (never compared as text) and folded.
pub fn ip_at(ev: &Value, path: &FieldPath) -> Option<IpAddr> {
    let s = path.get(ev)?.as_str()?;
    meerkat_shared::net::parse_ip(s).ok()
}

/// The event's key fields for a ban record, besides the matched value
/// (kept separately as the client): `dest=203.0.113.5:22 sid=2006546
/// flow_id=7`. Short, because 100,000 of them stay in memory.
pub fn key_fields(ev: &Value) -> String {
    let mut parts: Vec<String> = Vec::with_capacity(3);
    if let Some(d) = ev.get("dest_ip").and_then(Value::as_str) {
        match ev.get("dest_port").and_then(Value::as_u64) {
            Some(p) if d.contains(':') => parts.push(format!("dest=[{d}]:{p}")),
            Some(p) => parts.push(format!("dest={d}:{p}")),
            None => parts.push(format!("dest={d}")),
        }
    }
    if let Some(sid) = ev.pointer("/alert/signature_id").and_then(Value::as_u64) {
        parts.push(format!("sid={sid}"));
    }
    if let Some(f) = ev.get("flow_id").and_then(Value::as_u64) {
        parts.push(format!("flow_id={f}"));
    }
    parts.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const SSH: &str = r#"{"timestamp":"2025-01-01T00:00:00.000000+0000","flow_id":7,"event_type":"ssh","src_ip":"::ffff:198.51.100.7","src_port":40000,"dest_ip":"203.0.113.5","dest_port":22,"proto":"TCP","ssh":{"client":{"proto_version":"2.0","software_version":"libssh_0.9.6"},"server":{"proto_version":"2.0"}}}"#;

    #[test]
    fn dotted_paths_and_missing_levels() {
        let ev = parse_line(SSH.as_bytes()).unwrap();
        let p = FieldPath::parse("ssh.client.software_version").unwrap();
        assert_eq!(p.get(&ev).and_then(Value::as_str), Some("libssh_0.9.6"));
        let missing = FieldPath::parse("ssh.server.software_version").unwrap();
        assert!(missing.get(&ev).is_none());
        let through_scalar = FieldPath::parse("src_port.x").unwrap();
        assert!(through_scalar.get(&ev).is_none());
        assert!(FieldPath::parse("a..b").is_none());
        assert!(FieldPath::parse("").is_none());
        assert_eq!(event_type(&ev), Some("ssh"));
    }

    #[test]
    fn arrays_by_index_and_scalars_as_text() {
        let ev = parse_line(br#"{"alert":{"signature_id":2006546,"severity":2,"x":[true,"b"]}}"#)
            .unwrap();
        let sid = FieldPath::parse("alert.signature_id").unwrap();
        assert_eq!(scalar_text(sid.get(&ev).unwrap()).unwrap(), "2006546");
        let x0 = FieldPath::parse("alert.x.0").unwrap();
        assert_eq!(scalar_text(x0.get(&ev).unwrap()).unwrap(), "true");
        assert!(FieldPath::parse("alert.x.9").unwrap().get(&ev).is_none());
        assert!(FieldPath::parse("alert.x.q").unwrap().get(&ev).is_none());
        assert!(scalar_text(&Value::Null).is_none());
    }

    #[test]
    fn addresses_are_parsed_and_folded() {
        let ev = parse_line(SSH.as_bytes()).unwrap();
        let src = FieldPath::parse("src_ip").unwrap();
        assert_eq!(ip_at(&ev, &src), Some("198.51.100.7".parse().unwrap()));
        let v6 = parse_line(br#"{"src_ip":"2001:0db8:0000:0000:0000:0000:0000:0001"}"#).unwrap();
        assert_eq!(ip_at(&v6, &src), Some("2001:db8::1".parse().unwrap()));
        let bad = parse_line(br#"{"src_ip":"999.1.1.1"}"#).unwrap();
        assert_eq!(ip_at(&bad, &src), None);
    }

    #[test]
    fn bad_lines_are_errors_not_panics() {
        assert!(matches!(parse_line(b"{\"a\":"), Err(LineError::Json(_))));
        assert!(matches!(parse_line(b"[1,2]"), Err(LineError::NotObject)));
        assert!(matches!(parse_line(b"\xff\xfe"), Err(LineError::Json(_))));
        assert!(parse_line(b"{}\r").is_ok());
    }

    #[test]
    fn key_fields_name_the_event() {
        let ev = parse_line(SSH.as_bytes()).unwrap();
        assert_eq!(key_fields(&ev), "dest=203.0.113.5:22 flow_id=7");
        let v6 = parse_line(
            br#"{"dest_ip":"2001:db8::1","dest_port":22,"alert":{"signature_id":2006546}}"#,
        )
        .unwrap();
        assert_eq!(key_fields(&v6), "dest=[2001:db8::1]:22 sid=2006546");
        assert_eq!(key_fields(&parse_line(b"{}").unwrap()), "");
    }
}
