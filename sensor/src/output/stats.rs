//! The EVE `stats` event: Suricata's nested counter object built from the
//! per-source and per-pipeline counters.
//!
//! Suricata's schema closes `stats` and almost every object in it; only
//! `stats.capture` is open. So Meerkat writes the Suricata counters it has
//! under their Suricata names, and its own numbers under `capture`:
//!
//! * `capture.kernel_packets` / `capture.kernel_drops`: totals over all
//!   sources (packets received, packets lost in the kernel);
//! * `capture."<source>"` (`"nfq:0"`, `"nflog:10"`): that source's
//!   `packets`, `bytes`, `accepted`, `dropped`, `rejected`, `kernel_lost`,
//!   `fail_open` (NFQUEUE packets the kernel accepted unseen because the
//!   socket buffer was full), `truncated`, `errors`, `verdict_msgs`;
//! * `capture.eve`: `events`, `dropped` (queue full); `capture.reject`:
//!   `sent`, `errors`; `capture.detect`: `pass`, `drop`, `reject`;
//!   `capture.decoder`: `other`, `fragments` and the decode failure reasons
//!   that have no Suricata counter.
//!
//! The `ips` block is written only when an IPS (NFQUEUE) source exists.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use meerkat_shared::eve::Event;
use serde_json::{json, Map, Value};

use crate::counters::{PipelineCounters, SourceCounters};
use crate::decode::{COUNTED, ERROR_KINDS};
use crate::packet::{Mode, Source, Timestamp};

/// Detection engine state for `stats.detect.engines`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DetectStats {
    pub rules_loaded: u64,
    pub rules_failed: u64,
    pub rules_skipped: u64,
    pub last_reload: Timestamp,
}

/// Builds one `stats` event. `now` is the wall-clock log time.
pub fn stats_event(
    uptime_secs: u64,
    sources: &[(Source, &SourceCounters)],
    pipelines: &[&PipelineCounters],
    detect: &DetectStats,
    now: Timestamp,
) -> Event {
    let sum = |f: fn(&PipelineCounters) -> &AtomicU64| -> u64 {
        pipelines
            .iter()
            .map(|p| f(p).load(Relaxed))
            .fold(0u64, u64::wrapping_add)
    };
    let max = |f: fn(&PipelineCounters) -> &AtomicU64| -> u64 {
        pipelines
            .iter()
            .map(|p| f(p).load(Relaxed))
            .max()
            .unwrap_or(0)
    };

    // capture
    let mut capture = Map::new();
    let src_sum = |f: fn(&SourceCounters) -> &AtomicU64| -> u64 {
        sources
            .iter()
            .map(|(_, c)| f(c).load(Relaxed))
            .fold(0u64, u64::wrapping_add)
    };
    capture.insert("kernel_packets".into(), src_sum(|c| &c.packets).into());
    capture.insert("kernel_drops".into(), src_sum(|c| &c.kernel_lost).into());
    for (src, c) in sources {
        capture.insert(
            src.to_string(),
            json!({
                "packets": c.packets.load(Relaxed),
                "bytes": c.bytes.load(Relaxed),
                "accepted": c.accepted.load(Relaxed),
                "dropped": c.dropped.load(Relaxed),
                "rejected": c.rejected.load(Relaxed),
                "kernel_lost": c.kernel_lost.load(Relaxed),
                "fail_open": c.fail_open.load(Relaxed),
                "truncated": c.truncated.load(Relaxed),
                "errors": c.errors.load(Relaxed),
                "verdict_msgs": c.verdict_msgs.load(Relaxed),
            }),
        );
    }
    capture.insert(
        "eve".into(),
        json!({"events": sum(|p| &p.eve_events), "dropped": sum(|p| &p.eve_dropped)}),
    );
    capture.insert(
        "reject".into(),
        json!({"sent": sum(|p| &p.reject_sent), "errors": sum(|p| &p.reject_errors)}),
    );
    capture.insert(
        "detect".into(),
        json!({
            "pass": sum(|p| &p.detect_pass),
            "drop": sum(|p| &p.detect_drop),
            "reject": sum(|p| &p.detect_reject),
        }),
    );

    // decoder
    let pkts = sum(|p| &p.decoder_pkts);
    let bytes = sum(|p| &p.decoder_bytes);
    let mut events: Map<String, Value> = Map::new();
    let mut meerkat_decoder = Map::new();
    meerkat_decoder.insert("other".into(), sum(|p| &p.decoder_other).into());
    meerkat_decoder.insert("fragments".into(), sum(|p| &p.decoder_fragments).into());
    let mut top_level: Vec<(&str, u64)> = Vec::new();
    for (i, kind) in ERROR_KINDS.iter().enumerate() {
        let n: u64 = pipelines
            .iter()
            .filter_map(|p| p.decoder_errors.get(i))
            .map(|c| c.load(Relaxed))
            .fold(0u64, u64::wrapping_add);
        match kind.suricata {
            // No layer in Suricata either: `decoder.too_many_layers`.
            Some(("-", name)) => {
                top_level.push((name, n));
            }
            Some((layer, name)) => {
                let entry = events
                    .entry(layer.to_string())
                    .or_insert_with(|| Value::Object(Map::new()));
                if let Value::Object(m) = entry {
                    let old = m.get(name).and_then(Value::as_u64).unwrap_or(0);
                    m.insert(name.into(), (old + n).into());
                }
            }
            None => {
                meerkat_decoder.insert(format!("error_{}", kind.reason), n.into());
            }
        }
    }
    capture.insert("decoder".into(), Value::Object(meerkat_decoder));
    let layer = |name: &str| -> u64 {
        COUNTED
            .iter()
            .position(|n| *n == name)
            .map(|i| {
                pipelines
                    .iter()
                    .filter_map(|p| p.decoder_layers.get(i))
                    .map(|c| c.load(Relaxed))
                    .fold(0u64, u64::wrapping_add)
            })
            .unwrap_or(0)
    };
    let mut decoder = Map::new();
    decoder.insert("pkts".into(), pkts.into());
    decoder.insert("bytes".into(), bytes.into());
    decoder.insert("invalid".into(), sum(|p| &p.decoder_invalid).into());
    for name in COUNTED {
        decoder.insert(name.into(), layer(name).into());
    }
    decoder.insert(
        "avg_pkt_size".into(),
        bytes.checked_div(pkts).unwrap_or(0).into(),
    );
    decoder.insert(
        "max_pkt_size".into(),
        max(|p| &p.decoder_max_pkt_size).into(),
    );
    decoder.insert("event".into(), Value::Object(events));
    for (name, n) in top_level {
        decoder.insert(name.into(), n.into());
    }
    let decoder = Value::Object(decoder);

    let (ftcp, fudp, ficmp4, ficmp6, fother) = (
        sum(|p| &p.flow_tcp),
        sum(|p| &p.flow_udp),
        sum(|p| &p.flow_icmpv4),
        sum(|p| &p.flow_icmpv6),
        sum(|p| &p.flow_other),
    );
    let flow = json!({
        "total": ftcp + fudp + ficmp4 + ficmp6 + fother,
        "tcp": ftcp,
        "udp": fudp,
        "icmpv4": ficmp4,
        "icmpv6": ficmp6,
        "active": sum(|p| &p.flow_active),
        "memcap": sum(|p| &p.flow_memcap),
        "memuse": sum(|p| &p.flow_memuse),
        "mgr": {"flows_timeout": sum(|p| &p.flow_timeout), "flows_evicted": sum(|p| &p.flow_evicted)},
    });
    let tcp = json!({
        "sessions": sum(|p| &p.tcp_sessions),
        "syn": sum(|p| &p.tcp_syn),
        "synack": sum(|p| &p.tcp_synack),
        "rst": sum(|p| &p.tcp_rst),
        "midstream_pickups": sum(|p| &p.tcp_midstream_pickups),
        "reassembly_gap": sum(|p| &p.tcp_reassembly_gap),
        "overlap": sum(|p| &p.tcp_overlap),
        "segment_memcap_drop": sum(|p| &p.tcp_segment_memcap_drop),
        "reassembly_memuse": sum(|p| &p.tcp_reassembly_memuse),
    });
    let app_layer = json!({
        "flow": {"ssh": sum(|p| &p.app_flow_ssh), "http": sum(|p| &p.app_flow_http), "tls": sum(|p| &p.app_flow_tls), "failed_tcp": sum(|p| &p.app_flow_failed_tcp)},
        // TLS: one transaction per flow that, as in Suricata, is not
        // counted here.
        "tx": {"ssh": sum(|p| &p.app_tx_ssh), "http": sum(|p| &p.app_tx_http), "tls": 0},
        "error": {"ssh": {"parser": sum(|p| &p.app_ssh_invalid_banner)}, "tls": {"parser": sum(|p| &p.app_tls_parser_errors)}},
    });
    let mut app_layer = app_layer;
    crate::output::dns::add_stats(&mut app_layer, &sum);
    let detect = json!({
        "engines": [{
            "id": 0,
            "last_reload": detect.last_reload.to_eve(),
            "rules_loaded": detect.rules_loaded,
            "rules_failed": detect.rules_failed,
            "rules_skipped": detect.rules_skipped,
        }],
        "alert": sum(|p| &p.detect_alert),
        "alert_queue_overflow": sum(|p| &p.detect_alert_queue_overflow),
        "alerts_suppressed": 0,
    });

    let mut stats = Map::new();
    stats.insert("uptime".into(), uptime_secs.into());
    stats.insert("capture".into(), Value::Object(capture));
    if sources.iter().any(|(s, _)| s.mode() == Mode::Ips) {
        stats.insert(
            "ips".into(),
            json!({
                "accepted": sum(|p| &p.ips_accepted),
                "blocked": sum(|p| &p.ips_blocked),
                "rejected": sum(|p| &p.ips_rejected),
                "replaced": 0,
                "drop_reason": {
                    "decode_error": 0, "defrag_error": 0, "defrag_memcap": 0,
                    "flow_memcap": 0, "flow_drop": sum(|p| &p.ips_drop_flow),
                    "applayer_error": 0, "applayer_memcap": 0,
                    "rules": sum(|p| &p.ips_drop_rules),
                    "threshold_detection_filter": 0, "stream_error": 0,
                    "stream_memcap": 0, "stream_midstream": 0,
                    "stream_reassembly": 0, "stream_urgent": 0,
                    "nfq_error": 0, "tunnel_packet_drop": 0,
                },
            }),
        );
    }
    stats.insert("decoder".into(), decoder);
    stats.insert("flow".into(), flow);
    stats.insert(
        "flow_bypassed".into(),
        json!({
            "local_pkts": sum(|p| &p.flow_bypassed_pkts),
            "closed": sum(|p| &p.flow_bypassed),
        }),
    );
    stats.insert("tcp".into(), tcp);
    stats.insert("app_layer".into(), app_layer);
    stats.insert("detect".into(), detect);

    Event {
        timestamp: now.to_eve(),
        event_type: "stats".into(),
        stats: Some(Value::Object(stats)),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::counters::{add, inc};
    use crate::decode::{DecodeError, Layer};

    #[test]
    fn sums_pipelines_and_places_sources() {
        let nfq = SourceCounters::default();
        add(&nfq.packets, 10);
        add(&nfq.kernel_lost, 2);
        let nflog = SourceCounters::default();
        add(&nflog.packets, 5);
        let p1 = PipelineCounters::default();
        let p2 = PipelineCounters::default();
        add(&p1.decoder_pkts, 10);
        add(&p1.decoder_bytes, 1000);
        add(&p2.decoder_pkts, 5);
        add(&p2.decoder_bytes, 500);
        p1.note_pkt_size(1500);
        p2.note_pkt_size(60);
        inc(&p1.ips_drop_rules);
        inc(&p2.decoder_errors[DecodeError::Truncated(Layer::Tcp).index()]);
        inc(&p2.decoder_errors[DecodeError::Empty.index()]);
        let det = DetectStats {
            rules_loaded: 42,
            ..Default::default()
        };
        let ev = stats_event(
            60,
            &[(Source::Nfq(0), &nfq), (Source::Nflog(10), &nflog)],
            &[&p1, &p2],
            &det,
            Timestamp { secs: 0, micros: 0 },
        );
        let s = ev.stats.unwrap();
        assert_eq!(s["uptime"], 60);
        assert_eq!(s["capture"]["kernel_packets"], 15);
        assert_eq!(s["capture"]["kernel_drops"], 2);
        assert_eq!(s["capture"]["nfq:0"]["packets"], 10);
        assert_eq!(s["capture"]["nflog:10"]["packets"], 5);
        assert_eq!(s["decoder"]["pkts"], 15);
        assert_eq!(s["decoder"]["avg_pkt_size"], 100);
        assert_eq!(s["decoder"]["max_pkt_size"], 1500);
        assert_eq!(s["decoder"]["event"]["tcp"]["pkt_too_small"], 1);
        assert_eq!(s["capture"]["decoder"]["error_empty"], 1);
        assert_eq!(s["ips"]["drop_reason"]["rules"], 1);
        assert_eq!(s["detect"]["engines"][0]["rules_loaded"], 42);
    }

    #[test]
    fn no_ips_block_without_ips_source() {
        let nflog = SourceCounters::default();
        let ev = stats_event(
            1,
            &[(Source::Nflog(1), &nflog)],
            &[],
            &DetectStats::default(),
            Timestamp::default(),
        );
        let s = ev.stats.unwrap();
        assert!(s.get("ips").is_none());
        assert_eq!(s["decoder"]["avg_pkt_size"], 0);
    }
}
