//! Counters. Each capture thread owns one [`SourceCounters`] and one
//! [`PipelineCounters`] (no sharing between threads on the hot path, so
//! `Relaxed` atomics cost no more than plain integers); the stats task sums
//! them for EVE `stats` events.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::decode::{Packet, COUNTED, ERROR_KINDS};

/// Add to a counter.
#[inline]
pub fn add(c: &AtomicU64, n: u64) {
    c.fetch_add(n, Relaxed);
}

/// Increment a counter.
#[inline]
pub fn inc(c: &AtomicU64) {
    c.fetch_add(1, Relaxed);
}

/// Per capture source (`nfq:0`, `nflog:10`, `pcap`).
#[derive(Debug, Default)]
pub struct SourceCounters {
    /// Packets received from the kernel or file.
    pub packets: AtomicU64,
    /// Bytes received (as copied).
    pub bytes: AtomicU64,
    /// IPS verdicts: accepted.
    pub accepted: AtomicU64,
    /// IPS verdicts: dropped.
    pub dropped: AtomicU64,
    /// Packets that triggered a reject response (any mode).
    pub rejected: AtomicU64,
    /// Packets lost in the kernel: NFLOG sequence gaps, NFQUEUE queue and
    /// socket drops.
    pub kernel_lost: AtomicU64,
    /// NFQUEUE with `fail_open`: packets the kernel accepted without
    /// asking because the socket buffer was full (gaps in the packet ids).
    /// Packets accepted because the queue itself was full (`queue_maxlen`)
    /// are not in it: the kernel counts those nowhere.
    pub fail_open: AtomicU64,
    /// Packets whose copy was shorter than the original.
    pub truncated: AtomicU64,
    /// Receive or verdict errors (each also logged).
    pub errors: AtomicU64,
    /// Verdict messages sent (a batch verdict counts once).
    pub verdict_msgs: AtomicU64,
}

/// Per pipeline (one per capture thread): decoder, flow, stream,
/// app-layer and detection counters.
#[derive(Debug, Default)]
pub struct PipelineCounters {
    // decoder
    pub decoder_pkts: AtomicU64,
    pub decoder_bytes: AtomicU64,
    pub decoder_ipv4: AtomicU64,
    pub decoder_ipv6: AtomicU64,
    pub decoder_tcp: AtomicU64,
    pub decoder_udp: AtomicU64,
    pub decoder_icmpv4: AtomicU64,
    pub decoder_icmpv6: AtomicU64,
    pub decoder_other: AtomicU64,
    pub decoder_fragments: AtomicU64,
    pub decoder_invalid: AtomicU64,
    pub decoder_max_pkt_size: AtomicU64,
    /// Decode failures by kind, indexed by `DecodeError::index` (names in
    /// `decode::ERROR_KINDS`).
    pub decoder_errors: Counters<{ ERROR_KINDS.len() }>,
    /// Packets per decoded layer (`stats.decoder.ethernet`, `vlan`, `gre`,
    /// `ipv4`, ...: a tunnel counts its inner layers too), indexed as
    /// `decode::COUNTED`.
    pub decoder_layers: Counters<{ COUNTED.len() }>,
    // flow
    pub flow_tcp: AtomicU64,
    pub flow_udp: AtomicU64,
    pub flow_icmpv4: AtomicU64,
    pub flow_icmpv6: AtomicU64,
    pub flow_other: AtomicU64,
    pub flow_active: AtomicU64,
    pub flow_timeout: AtomicU64,
    pub flow_evicted: AtomicU64,
    pub flow_memcap: AtomicU64,
    pub flow_memuse: AtomicU64,
    /// Flows bypassed (no more inspection) and their packets since.
    pub flow_bypassed: AtomicU64,
    pub flow_bypassed_pkts: AtomicU64,
    // tcp / stream
    pub tcp_sessions: AtomicU64,
    pub tcp_syn: AtomicU64,
    pub tcp_synack: AtomicU64,
    pub tcp_rst: AtomicU64,
    pub tcp_midstream_pickups: AtomicU64,
    pub tcp_reassembly_gap: AtomicU64,
    pub tcp_overlap: AtomicU64,
    pub tcp_segment_memcap_drop: AtomicU64,
    pub tcp_reassembly_memuse: AtomicU64,
    // app layer
    pub app_flow_ssh: AtomicU64,
    pub app_flow_failed_tcp: AtomicU64,
    pub app_tx_ssh: AtomicU64,
    pub app_flow_http: AtomicU64,
    pub app_tx_http: AtomicU64,
    pub app_ssh_invalid_banner: AtomicU64,
    pub app_ssh_long_banner: AtomicU64,
    pub app_flow_tls: AtomicU64,
    /// TLS records the parser could not follow (`app_layer.error.tls.parser`).
    pub app_tls_parser_errors: AtomicU64,
    pub app_flow_dns_udp: AtomicU64,
    pub app_flow_dns_tcp: AtomicU64,
    pub app_flow_failed_udp: AtomicU64,
    pub app_tx_dns_udp: AtomicU64,
    pub app_tx_dns_tcp: AtomicU64,
    /// DNS app-layer events raised (malformed data, Z flag, ...).
    pub app_dns_events: AtomicU64,
    // detect
    pub detect_alert: AtomicU64,
    pub detect_alert_queue_overflow: AtomicU64,
    pub detect_pass: AtomicU64,
    pub detect_drop: AtomicU64,
    pub detect_reject: AtomicU64,
    // ips (IPS packets only)
    pub ips_accepted: AtomicU64,
    pub ips_blocked: AtomicU64,
    pub ips_rejected: AtomicU64,
    pub ips_drop_rules: AtomicU64,
    pub ips_drop_flow: AtomicU64,
    // output
    pub eve_events: AtomicU64,
    pub eve_dropped: AtomicU64,
    pub reject_sent: AtomicU64,
    pub reject_errors: AtomicU64,
}

/// A fixed array of counters (`Default` for any length).
#[derive(Debug)]
pub struct Counters<const N: usize>(pub [AtomicU64; N]);

impl<const N: usize> Default for Counters<N> {
    fn default() -> Self {
        Counters(std::array::from_fn(|_| AtomicU64::new(0)))
    }
}

impl<const N: usize> std::ops::Deref for Counters<N> {
    type Target = [AtomicU64; N];
    fn deref(&self) -> &[AtomicU64; N] {
        &self.0
    }
}

impl PipelineCounters {
    /// Counts what decoding found in one packet: its layers, its
    /// anomalies (`stats.decoder.event.*`) and whether it was invalid.
    pub fn note_decoded(&self, pkt: &Packet<'_>) {
        for i in pkt.ext.layers.iter() {
            if let Some(c) = self.decoder_layers.get(i) {
                inc(c);
            }
        }
        for e in pkt.ext.events.iter() {
            if let Some(c) = self.decoder_errors.get(e.index()) {
                inc(c);
            }
        }
        if pkt.ext.invalid.is_some() {
            inc(&self.decoder_invalid);
        }
    }

    /// Decode failures by reason, non-zero only.
    pub fn decode_errors(&self) -> BTreeMap<&'static str, u64> {
        ERROR_KINDS
            .iter()
            .zip(self.decoder_errors.iter())
            .filter_map(|(k, c)| {
                let v = c.load(Relaxed);
                (v > 0).then_some((k.reason, v))
            })
            .collect()
    }

    /// Raises `decoder_max_pkt_size` to `len` if larger.
    pub fn note_pkt_size(&self, len: u64) {
        self.decoder_max_pkt_size.fetch_max(len, Relaxed);
    }
}
