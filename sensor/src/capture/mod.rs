//! Capture sources: NFQUEUE (inline, IPS) in [`nfqueue`], NFLOG (copies,
//! IDS) in [`nflog`], and offline pcap/pcapng files in [`pcap`].
//!
//! Every source turns what it receives into a [`CapturedPacket`] (data
//! starting at the IP header) and hands it to a [`PacketHandler`] on the
//! capture thread; only NFQUEUE uses the returned [`Verdict`]. Sources are
//! opened and fully configured first (so the program can fail fast with a
//! clear message), then `run` on a dedicated thread until a stop flag is
//! set.

pub mod nflog;
pub mod nfqueue;
pub mod pcap;
mod ratelimit;

use std::io;
use std::path::PathBuf;

use serde::Deserialize;

pub use crate::packet::{CapturedPacket, Timestamp, Verdict};
pub use nflog::Nflog;
pub use nfqueue::{kernel_queue_stats, NfQueue};
pub use pcap::{read_pcap, read_pcap_as, PcapSummary};

/// What the pipeline implements; capture sources call it synchronously on
/// their own thread.
pub trait PacketHandler {
    /// Inspect one packet and return its verdict (ignored for IDS sources).
    fn handle(&mut self, pkt: &CapturedPacket<'_>) -> Verdict;
    /// Called periodically (at least once a second) and once at the end, with the current time.
    fn tick(&mut self, now: Timestamp);
}

/// `[nfqueue]` settings, shared by every queue.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NfqConfig {
    /// Kernel queue length (packets) before the kernel drops or, with
    /// `fail_open`, accepts without asking.
    pub queue_maxlen: u32,
    /// Accept packets when the queue is full instead of dropping them.
    pub fail_open: bool,
    /// Bytes copied per packet (the kernel caps it at 65531).
    pub copy_range: u16,
    /// Socket receive buffer requested with SO_RCVBUFFORCE.
    pub rcvbuf: usize,
    /// Receive GSO super-packets unsegmented (NFQA_CFG_F_GSO).
    pub gso: bool,
    /// Maximum consecutive accepts covered by one batch verdict.
    pub batch: u32,
}

impl Default for NfqConfig {
    fn default() -> Self {
        NfqConfig {
            queue_maxlen: 4096,
            fail_open: true,
            copy_range: 65531,
            rcvbuf: 64 << 20,
            gso: true,
            batch: 32,
        }
    }
}

/// `[nflog]` settings, shared by every group.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NflogConfig {
    /// Socket receive buffer requested with SO_RCVBUFFORCE.
    pub rcvbuf: usize,
    /// Packets the kernel batches into one netlink datagram.
    pub qthresh: u32,
    /// Longest the kernel holds a batch, in centiseconds.
    pub timeout_cs: u32,
    /// Kernel batch buffer size (the kernel caps it at 131072).
    pub nlbufsiz: u32,
    /// Bytes copied per packet; 0 = the whole packet.
    pub copy_range: u32,
}

impl Default for NflogConfig {
    fn default() -> Self {
        NflogConfig {
            rcvbuf: 64 << 20,
            qthresh: 64,
            timeout_cs: 10,
            nlbufsiz: 131_072,
            copy_range: 0,
        }
    }
}

/// Errors from opening or running a capture source.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error(
        "cannot {step} NFQUEUE {queue}: {source}; is another process bound to this queue? \
         are you root/CAP_NET_ADMIN? is the nfnetlink_queue module available?"
    )]
    NfqOpen {
        queue: u16,
        step: &'static str,
        #[source]
        source: io::Error,
    },
    #[error(
        "cannot {step} NFLOG group {group}: {source}; is another process bound to this group? \
         are you root/CAP_NET_ADMIN? is the nfnetlink_log module available?"
    )]
    NflogOpen {
        group: u16,
        step: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("{source_label}: giving up after {count} consecutive receive errors, last: {last}")]
    Receive {
        source_label: String,
        count: u32,
        #[source]
        last: io::Error,
    },
    #[error("cannot read pcap file {}: {source}", path.display())]
    PcapIo {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("bad pcap file {} at byte offset {offset}: {what}", path.display())]
    PcapFormat {
        path: PathBuf,
        offset: u64,
        what: String,
    },
}

/// Converts a kernel/file time to a [`Timestamp`].
pub(crate) fn timestamp_from_system(t: std::time::SystemTime) -> Timestamp {
    match t.duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => Timestamp {
            secs: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            micros: d.subsec_micros(),
        },
        Err(_) => Timestamp::default(),
    }
}

/// How often idle capture loops call [`PacketHandler::tick`].
pub(crate) const TICK_INTERVAL: std::time::Duration = std::time::Duration::from_millis(250);
/// Receive timeout of blocking capture sockets (bounds stop and tick latency).
pub(crate) const RECV_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(100);
/// Consecutive receive errors after which a capture loop gives up.
pub(crate) const MAX_CONSECUTIVE_ERRORS: u32 = 1000;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_documented_values() {
        let q = NfqConfig::default();
        assert_eq!(
            (
                q.queue_maxlen,
                q.fail_open,
                q.copy_range,
                q.rcvbuf,
                q.gso,
                q.batch
            ),
            (4096, true, 65531, 64 << 20, true, 32)
        );
        let l = NflogConfig::default();
        assert_eq!(
            (l.rcvbuf, l.qthresh, l.timeout_cs, l.nlbufsiz, l.copy_range),
            (64 << 20, 64, 10, 131072, 0)
        );
    }

    #[test]
    fn configs_deserialize_partially_and_reject_unknown_keys() {
        let q: NfqConfig = toml::from_str("batch = 8\ngso = false").unwrap();
        assert_eq!((q.batch, q.gso, q.queue_maxlen), (8, false, 4096));
        assert!(toml::from_str::<NfqConfig>("batchh = 8").is_err());
        let l: NflogConfig = toml::from_str("qthresh = 1").unwrap();
        assert_eq!((l.qthresh, l.nlbufsiz), (1, 131072));
        assert!(toml::from_str::<NflogConfig>("group = 1").is_err());
    }

    #[test]
    fn open_errors_say_what_to_check() {
        let e = CaptureError::NfqOpen {
            queue: 0,
            step: "bind",
            source: io::Error::from_raw_os_error(libc::EBUSY),
        };
        let s = e.to_string();
        assert!(s.starts_with("cannot bind NFQUEUE 0: "), "{s}");
        assert!(
            s.contains("another process") && s.contains("CAP_NET_ADMIN"),
            "{s}"
        );
    }
}
