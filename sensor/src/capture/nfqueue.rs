//! NFQUEUE: inline packets (IPS) through the vendored, patched `nfq` crate
//! (`vendor/nfq`, see its MEERKAT-PATCHES.md).
//!
//! One [`NfQueue`] = one queue, one netlink socket, one thread. Verdicts are
//! given in id order, synchronously: runs of accepts are covered by one
//! `NFQNL_MSG_VERDICT_BATCH` (sent when the socket is drained, every
//! `batch` packets, before a drop and before a tick); a drop is sent on its
//! own after the pending accepts, so no id is ever covered twice.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tracing::{debug, info, warn};

use super::ratelimit::RateLimit;
use super::{
    timestamp_from_system, CaptureError, NfqConfig, PacketHandler, MAX_CONSECUTIVE_ERRORS,
    RECV_TIMEOUT, TICK_INTERVAL,
};
use crate::counters::{add, inc, SourceCounters};
use crate::packet::{CapturedPacket, Source, Timestamp, Verdict};
use crate::sys;

/// `NFQA_CFG_F_FAIL_OPEN` (linux/netfilter/nfnetlink_queue.h).
const CFG_F_FAIL_OPEN: u32 = 1;
/// `NFQA_CFG_F_GSO`.
const CFG_F_GSO: u32 = 4;
/// `NFQA_SKB_CSUMNOTREADY`: the L4 checksum is not filled in yet.
const SKB_CSUMNOTREADY: u32 = 1;

/// An open, fully configured NFQUEUE queue.
pub struct NfQueue {
    queue: nfq::Queue,
    num: u16,
    batch: u32,
    fail_open: bool,
    /// Id of the last packet received, to find the ids the kernel skipped.
    last_id: Option<u32>,
}

/// Accepts not yet sent to the kernel.
#[derive(Debug, Default)]
struct PendingAccepts {
    max_id: Option<u32>,
    count: u32,
}

impl NfQueue {
    /// Opens the netlink socket, sizes its buffer, binds queue `queue` and
    /// applies `cfg` (copy range, queue length, fail-open, GSO), all before
    /// returning, so that the caller can open every source and fail fast
    /// before any thread starts.
    pub fn open(queue: u16, cfg: &NfqConfig) -> Result<NfQueue, CaptureError> {
        let err = |step: &'static str| {
            move |source: io::Error| CaptureError::NfqOpen {
                queue,
                step,
                source,
            }
        };
        let mut q = nfq::Queue::open().map_err(err("open a netlink socket for"))?;
        // Buffer and timeout first: packets may arrive as soon as we bind.
        let got =
            sys::set_rcvbuf_force(&q, cfg.rcvbuf).map_err(err("size the socket buffer of"))?;
        if got < cfg.rcvbuf {
            warn!(
                queue,
                requested = cfg.rcvbuf,
                got,
                "NFQUEUE socket buffer is smaller than configured (no CAP_NET_ADMIN?); expect kernel drops under load"
            );
        }
        sys::set_recv_timeout(&q, RECV_TIMEOUT).map_err(err("set the receive timeout of"))?;
        q.bind(queue).map_err(err("bind"))?;
        q.set_copy_range(queue, cfg.copy_range)
            .map_err(err("set the copy range of"))?;
        q.set_queue_max_len(queue, cfg.queue_maxlen)
            .map_err(err("set the maximum length of"))?;
        let mut flags = 0;
        if cfg.fail_open {
            flags |= CFG_F_FAIL_OPEN;
        }
        if cfg.gso {
            flags |= CFG_F_GSO;
        }
        q.set_flags(queue, flags, CFG_F_FAIL_OPEN | CFG_F_GSO)
            .map_err(err("set the flags (fail-open, GSO) of"))?;
        info!(
            queue,
            rcvbuf = got,
            copy_range = cfg.copy_range,
            maxlen = cfg.queue_maxlen,
            fail_open = cfg.fail_open,
            gso = cfg.gso,
            "NFQUEUE bound"
        );
        Ok(NfQueue {
            queue: q,
            num: queue,
            batch: cfg.batch.max(1),
            fail_open: cfg.fail_open,
            last_id: None,
        })
    }

    /// The queue number.
    pub fn queue_num(&self) -> u16 {
        self.num
    }

    /// Receives packets and gives each exactly one verdict until `stop` is
    /// set; then handles everything still queued on the socket, flushes the
    /// verdicts and returns. Calls `handler.tick` every ~250 ms (also when
    /// idle) and once at the end. Returns an error only when the socket
    /// keeps failing.
    pub fn run(
        &mut self,
        handler: &mut dyn PacketHandler,
        stop: &AtomicBool,
        counters: &SourceCounters,
    ) -> Result<(), CaptureError> {
        let mut pending = PendingAccepts::default();
        let mut nonblocking = false;
        let mut draining = false;
        let mut last_tick = Instant::now();
        let mut consecutive_errors = 0u32;
        let mut warn_limit = RateLimit::new(Duration::from_secs(10));
        loop {
            if !draining && stop.load(Ordering::Relaxed) {
                debug!(queue = self.num, "stop requested: draining NFQUEUE socket");
                draining = true;
            }
            self.queue.set_nonblocking(nonblocking || draining);
            match self.queue.recv() {
                Ok(msg) => {
                    consecutive_errors = 0;
                    nonblocking = true;
                    self.process(msg, handler, counters, &mut pending);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.flush(&mut pending, counters);
                    if draining {
                        handler.tick(Timestamp::now());
                        return Ok(());
                    }
                    nonblocking = false;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    inc(&counters.errors);
                    consecutive_errors += 1;
                    if let Some(suppressed) = warn_limit.allow(Instant::now()) {
                        warn!(queue = self.num, error = %e, suppressed, "NFQUEUE receive error");
                    }
                    if consecutive_errors >= MAX_CONSECUTIVE_ERRORS {
                        self.flush(&mut pending, counters);
                        return Err(CaptureError::Receive {
                            source_label: Source::Nfq(self.num).to_string(),
                            count: consecutive_errors,
                            last: e,
                        });
                    }
                }
            }
            if last_tick.elapsed() >= TICK_INTERVAL {
                self.flush(&mut pending, counters);
                handler.tick(Timestamp::now());
                last_tick = Instant::now();
            }
        }
    }

    fn process(
        &mut self,
        mut msg: nfq::Message,
        handler: &mut dyn PacketHandler,
        counters: &SourceCounters,
        pending: &mut PendingAccepts,
    ) {
        let id = msg.get_packet_id();
        if let Some(last) = self.last_id {
            // A skipped id is a packet the kernel could not put on the
            // socket (buffer full): with fail-open it was accepted unseen
            // and nothing else counts it; without, the kernel dropped it
            // and counts it itself (`queue_user_dropped`, in kernel_lost).
            let skipped = ids_skipped(last, id);
            if skipped > 0 && self.fail_open {
                add(&counters.fail_open, u64::from(skipped));
            }
        }
        self.last_id = Some(id);
        let verdict = {
            let data = msg.get_payload();
            let orig_len = u32::try_from(msg.get_original_len()).unwrap_or(u32::MAX);
            inc(&counters.packets);
            add(&counters.bytes, data.len() as u64);
            if orig_len as usize > data.len() {
                inc(&counters.truncated);
            }
            let pkt = CapturedPacket {
                source: Source::Nfq(self.num),
                ts: msg
                    .get_timestamp()
                    .map(timestamp_from_system)
                    .unwrap_or_else(Timestamp::now),
                data,
                linktype: crate::decode::LINKTYPE_RAW,
                orig_len,
                csum_unknown: msg.get_skb_info() & SKB_CSUMNOTREADY != 0,
            };
            handler.handle(&pkt)
        };
        match verdict {
            Verdict::Accept => {
                inc(&counters.accepted);
                drop(msg);
                pending.max_id = Some(id);
                pending.count += 1;
                if pending.count >= self.batch {
                    self.flush(pending, counters);
                }
            }
            Verdict::Drop => {
                inc(&counters.dropped);
                // Ids must stay in order: the accepts before this packet first.
                self.flush(pending, counters);
                msg.set_verdict(nfq::Verdict::Drop);
                self.send_drop(msg, id, counters);
            }
        }
    }

    /// Sends a drop verdict; retried once, because a later batch accept
    /// would otherwise cover (and accept) this packet.
    fn send_drop(&mut self, msg: nfq::Message, id: u32, counters: &SourceCounters) {
        match self.queue.verdict(msg) {
            Ok(()) => inc(&counters.verdict_msgs),
            Err(e) => {
                inc(&counters.errors);
                warn!(queue = self.num, id, error = %e, "NFQUEUE drop verdict failed; retrying");
                match self.queue.verdict_batch(self.num, id, nfq::Verdict::Drop) {
                    Ok(()) => inc(&counters.verdict_msgs),
                    Err(e) => {
                        inc(&counters.errors);
                        warn!(queue = self.num, id, error = %e, "NFQUEUE drop verdict failed twice");
                    }
                }
            }
        }
    }

    /// Sends one batch accept for the pending accepts, if any.
    fn flush(&mut self, pending: &mut PendingAccepts, counters: &SourceCounters) {
        let Some(max_id) = pending.max_id.take() else {
            return;
        };
        pending.count = 0;
        match self
            .queue
            .verdict_batch(self.num, max_id, nfq::Verdict::Accept)
        {
            Ok(()) => inc(&counters.verdict_msgs),
            Err(e) => {
                // The next batch (ids <= a later max id) covers these too;
                // at worst the kernel drops them when the queue is unbound.
                inc(&counters.errors);
                warn!(queue = self.num, max_id, error = %e, "NFQUEUE batch verdict failed");
            }
        }
    }
}

/// Packet ids the kernel assigned between `last` and `id`, which never
/// reached the socket. Ids grow by one per packet put on the socket, in
/// order, and wrap; a step backwards (not expected) counts as none.
fn ids_skipped(last: u32, id: u32) -> u32 {
    let step = id.wrapping_sub(last);
    if step == 0 || step > u32::MAX / 2 {
        0
    } else {
        step - 1
    }
}

/// `(queue_dropped, queue_user_dropped)` of `queue` from
/// `/proc/net/netfilter/nfnetlink_queue` (of the calling thread's network
/// namespace): packets the kernel dropped because the queue was full, and
/// because the socket buffer was full. `None` when the queue is not bound
/// or the file cannot be read.
pub fn kernel_queue_stats(queue: u16) -> Option<(u64, u64)> {
    let text = std::fs::read_to_string("/proc/thread-self/net/netfilter/nfnetlink_queue")
        .or_else(|_| std::fs::read_to_string("/proc/net/netfilter/nfnetlink_queue"))
        .ok()?;
    parse_queue_stats(&text, queue)
}

/// Parses the kernel's `nfnetlink_queue` proc file: one line per bound
/// queue, `queue_num portid queue_total copy_mode copy_range queue_dropped
/// queue_user_dropped id_sequence 1`.
fn parse_queue_stats(text: &str, queue: u16) -> Option<(u64, u64)> {
    text.lines().find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.first()?.parse::<u16>().ok()? != queue {
            return None;
        }
        Some((f.get(5)?.parse().ok()?, f.get(6)?.parse().ok()?))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skipped_ids_are_the_gaps() {
        assert_eq!(ids_skipped(1, 2), 0);
        assert_eq!(ids_skipped(1, 5), 3);
        assert_eq!(ids_skipped(u32::MAX, 1), 1);
        assert_eq!(ids_skipped(7, 7), 0);
        assert_eq!(ids_skipped(7, 3), 0);
    }

    #[test]
    fn queue_stats_are_parsed_for_the_right_queue() {
        let text = "    0  12345     0 2 65531     7     9        42  1\n\
                    \x20   3  12346     2 2 65531   100   200      4242  1\n";
        assert_eq!(parse_queue_stats(text, 0), Some((7, 9)));
        assert_eq!(parse_queue_stats(text, 3), Some((100, 200)));
        assert_eq!(parse_queue_stats(text, 1), None);
        assert_eq!(parse_queue_stats("garbage\n1 2\n", 1), None);
        assert_eq!(parse_queue_stats("", 0), None);
    }

    /// Found by the `nfqueue` fuzz target: an `NLMSG_ERROR` whose error code
    /// is `i32::MIN` made the vendored parser panic (`abs()` overflow).
    #[test]
    fn nlmsg_error_with_i32_min_is_an_error_not_a_panic() {
        let mut msg = Vec::new();
        msg.extend_from_slice(&36u32.to_ne_bytes()); // nlmsg_len: header + nlmsgerr
        msg.extend_from_slice(&2u16.to_ne_bytes()); // NLMSG_ERROR
        msg.extend_from_slice(&0u16.to_ne_bytes()); // flags
        msg.extend_from_slice(&[0; 8]); // seq, pid
        msg.extend_from_slice(&i32::MIN.to_ne_bytes()); // error
        msg.extend_from_slice(&[0; 16]); // the offending message's header
        let (msgs, err, ack) = nfq::Queue::fuzz_parse(&msg);
        assert!(msgs.is_empty());
        assert!(!ack);
        assert_eq!(err.and_then(|e| e.raw_os_error()), Some(libc::EINVAL));
    }
}
