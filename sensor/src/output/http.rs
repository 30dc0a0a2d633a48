//! EVE for HTTP: the `http` object (on `http`, `fileinfo` and alert
//! events), `http` transaction events and `fileinfo` events, with
//! Suricata 7's field names.

use meerkat_shared::eve::Event;
use serde_json::{json, Map, Value};

use crate::app::http::{files::FileInfo, HttpTx};
use crate::flow::Flow;
use crate::packet::{Direction, Source, Timestamp};

use super::build::{self, BuildOpts, FlowView};
use super::eve::EveTypes;
use super::view::flow_view;

fn text(b: &[u8]) -> Value {
    Value::String(String::from_utf8_lossy(b).into_owned())
}

/// The media type of a `Content-Type` value as Suricata logs it: cut at
/// the first `;`, so the parameters (`charset=...`) are left out and
/// nothing else is trimmed.
fn content_type_value(v: &[u8]) -> &[u8] {
    v.split(|&b| b == b';').next().unwrap_or(v)
}

/// Suricata's `http` object of a transaction.
pub fn http_object(tx: &HttpTx) -> Value {
    let mut m = Map::new();
    if let Some(h) = tx.hostname() {
        m.insert("hostname".into(), text(&h));
    }
    if let Some(port) = tx.header(Direction::ToServer, "host").and_then(|h| {
        let after = h.rsplit(|&b| b == b']').next().unwrap_or(h);
        let colon = after.iter().position(|&b| b == b':')?;
        std::str::from_utf8(after.get(colon + 1..)?)
            .ok()?
            .parse::<u16>()
            .ok()
    }) {
        m.insert("http_port".into(), json!(port));
    }
    if !tx.request_line.is_empty() {
        m.insert("url".into(), text(&tx.uri_raw));
    }
    let hdr = |name: &str, key: &str, dir: Direction, m: &mut Map<String, Value>| {
        if let Some(v) = tx.header(dir, name) {
            m.insert(key.into(), text(v));
        }
    };
    hdr("user-agent", "http_user_agent", Direction::ToServer, &mut m);
    if let Some(v) = tx.header(Direction::ToClient, "content-type") {
        m.insert("http_content_type".into(), text(content_type_value(v)));
    }
    hdr("referer", "http_refer", Direction::ToServer, &mut m);
    if !tx.method.is_empty() {
        m.insert("http_method".into(), text(&tx.method));
    }
    let proto = if tx.protocol.is_empty() {
        &tx.resp_protocol
    } else {
        &tx.protocol
    };
    if !proto.is_empty() {
        m.insert("protocol".into(), text(proto));
    }
    if let Some(s) = tx.status {
        m.insert("status".into(), json!(s));
    }
    hdr("location", "redirect", Direction::ToClient, &mut m);
    if tx.resp_progress > crate::app::http::Progress::None {
        m.insert("length".into(), json!(tx.resp_body.len));
    }
    Value::Object(m)
}

/// Suricata's `fileinfo` object.
pub fn fileinfo_object(f: &FileInfo, tx_id: u64) -> Value {
    json!({
        "filename": String::from_utf8_lossy(&f.name),
        "gaps": f.gaps,
        "state": f.state.as_str(),
        "stored": false,
        "size": f.size,
        "tx_id": tx_id,
    })
}

/// An event of `event_type` on the flow, client to server.
fn tx_event(
    event_type: &str,
    view: &FlowView,
    tx_id: u64,
    source: Source,
    ts: Timestamp,
    pcap_cnt: Option<u64>,
    opts: &BuildOpts,
) -> Event {
    let mut ev = build::ssh_event(view, Default::default(), source, ts, pcap_cnt, opts);
    ev.event_type = event_type.to_string();
    ev.ssh = None;
    ev.tx_id = Some(tx_id);
    ev
}

/// Where and when events are written.
#[derive(Debug, Clone, Copy)]
pub struct At<'a> {
    pub source: Source,
    pub ts: Timestamp,
    pub pcap_cnt: Option<u64>,
    pub opts: &'a BuildOpts,
    pub types: &'a EveTypes,
}

/// The HTTP events a flow has ready: anomalies, `http` events of complete
/// transactions (of all transactions with a request at flow end), and
/// `fileinfo` events of closed files. Marks them written. Empty (and no
/// allocation) for other protocols.
pub fn pending_events(flow: &mut Flow, at_end: bool, at: At<'_>) -> Vec<Event> {
    let mut out = Vec::new();
    let view = flow_view(flow);
    let app_proto = flow.app.proto().eve_name().map(str::to_string);
    let Some(h) = flow.app.http_mut() else {
        return out;
    };
    for (dir, name) in h.take_anomalies() {
        if !at.types.anomaly {
            continue;
        }
        let mut ev = tx_event("anomaly", &view, 0, at.source, at.ts, at.pcap_cnt, at.opts);
        ev.tx_id = h.txs.back().map(|t| t.tx_id);
        ev.anomaly = Some(meerkat_shared::eve::Anomaly {
            kind: "applayer".into(),
            app_proto: Some("http".into()),
            event: name.to_string(),
            layer: Some("proto_parser".into()),
        });
        if dir == Direction::ToClient {
            build::orient(&mut ev, dir);
        }
        out.push(ev);
    }
    loop {
        let id = if at_end {
            h.next_complete_unlogged()
                .or_else(|| h.next_unlogged_at_end())
        } else {
            h.next_complete_unlogged()
        };
        let Some(id) = id else { break };
        let Some(tx) = h.tx(id) else { continue };
        if at.types.enabled("http") {
            let mut ev = tx_event("http", &view, id, at.source, at.ts, at.pcap_cnt, at.opts);
            ev.http = Some(http_object(tx));
            ev.app_proto = app_proto.clone();
            out.push(ev);
        }
    }
    while let Some((id, dir)) = h.next_file_to_log() {
        let Some(tx) = h.tx(id) else { continue };
        let Some(f) = tx.file(dir) else { continue };
        if at.types.enabled("fileinfo") {
            let mut ev = tx_event(
                "fileinfo",
                &view,
                id,
                at.source,
                at.ts,
                at.pcap_cnt,
                at.opts,
            );
            ev.http = Some(http_object(tx));
            ev.app_proto = app_proto.clone();
            ev.fileinfo = Some(fileinfo_object(f, id));
            if dir == Direction::ToClient {
                build::orient(&mut ev, dir);
            }
            out.push(ev);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::http::HttpState;

    fn object(resp_headers: &str) -> Value {
        let mut st = HttpState::default();
        st.feed(
            Direction::ToServer,
            b"GET /x HTTP/1.1\r\nHost: example.net\r\n\r\n",
        );
        let resp = format!("HTTP/1.0 404 Not Found\r\n{resp_headers}Content-Length: 2\r\n\r\nno");
        st.feed(Direction::ToClient, resp.as_bytes());
        http_object(st.tx(0).expect("one transaction"))
    }

    #[test]
    fn content_type_without_parameters() {
        // Python's http.server error pages, as Suricata 7 logs them.
        let o = object("Content-Type: text/html;charset=utf-8\r\n");
        assert_eq!(o["http_content_type"], "text/html");
        let o = object("Content-Type: text/plain; charset=utf-8\r\n");
        assert_eq!(o["http_content_type"], "text/plain");
        let o = object("Content-Type: application/json\r\n");
        assert_eq!(o["http_content_type"], "application/json");
        let o = object("Content-Type: ;x\r\n");
        assert_eq!(o["http_content_type"], "");
        assert!(object("")["http_content_type"].is_null());
        assert_eq!(object("")["status"], 404);
    }
}
