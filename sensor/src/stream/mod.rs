//! Per-direction TCP reassembly that hands detection and the app layer the
//! bytes of each direction in stream order, through a sliding window.
//!
//! - [`TcpSession`] (one per TCP flow, in `Flow::tcp`) holds two
//!   [`StreamDir`]s. Create it with [`TcpSession::new`] from the per-thread
//!   [`StreamContext`]; feed every TCP packet of the flow to
//!   [`TcpSession::on_packet`].
//! - [`Inspect`] is a per-thread, reused output buffer: after each call it
//!   holds at most one [`Chunk`] per direction: the last `window` bytes
//!   already inspected followed by the new bytes. Detection reports only
//!   matches that end at or after [`Chunk::new_from`], so a pattern split
//!   across segments matches once, in the packet that completes it.
//!
//! When data becomes inspectable depends on the packet's [`Mode`]:
//! - IPS (NFQUEUE): in-order data is inspectable in the packet that
//!   carries it (or that fills the hole before buffered data), before the
//!   receiver ACKs it, so the verdict can still drop that packet.
//! - IDS (NFLOG, pcap): data of direction `d` becomes inspectable when a
//!   packet of the other direction ACKs it. Unacked data is buffered; more
//!   than `max_buffered_per_dir` of it, a RST, or [`TcpSession::flush`]
//!   makes it inspectable anyway.
//!
//! Limits: out-of-order data is buffered up to `max_buffered_per_dir` per
//! direction and `memcap` in total ([`StreamMemory`], shared by every
//! session created from the same context). A segment that does not fit is
//! dropped (`memcap_drops`); a hole that cannot be waited for any longer,
//! or data ACKed but never seen (capture loss), is skipped as a gap
//! (`gaps`). Overlaps keep the first-seen bytes (`overlaps`). Reassembly
//! stops after `depth` bytes per direction. Sequence numbers use wrapping
//! arithmetic throughout; nothing here panics on any input.
//!
//! Steady state (in-order traffic in IPS mode) allocates nothing: the
//! window copy goes into the reused [`Inspect`] buffers and the per-flow
//! history buffer is allocated once per direction.

mod seg;

use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;

use serde::Deserialize;

use crate::counters::{add, PipelineCounters};
use crate::decode::{tcp_flags, TcpInfo};
use crate::packet::{Direction, Mode};

pub use seg::StreamDir;

/// `[stream]` configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StreamConfig {
    /// Bytes of already-inspected data kept in front of new data, so
    /// patterns split across segments still match.
    pub window: usize,
    /// Unacked (IDS) or out-of-order data buffered per direction.
    pub max_buffered_per_dir: usize,
    /// Total buffered bytes over all sessions sharing a [`StreamMemory`].
    pub memcap: usize,
    /// Stop reassembling a direction after this many bytes (0 = never).
    pub depth: usize,
    /// Suricata's `stream.midstream`: pick up TCP sessions whose handshake
    /// was not seen. Default false, as Suricata. NOT YET WIRED into the
    /// data path (set from YAML / `--set`; the stream stage reads it).
    pub midstream: bool,
    /// Suricata's `stream.midstream-policy`: what happens to a midstream
    /// session when `midstream` is false. NOT YET WIRED.
    pub midstream_policy: ExceptionPolicy,
    /// Suricata's `stream.inline`: `None` = auto (inline for IPS packets,
    /// on acknowledged data for IDS packets: Meerkat's per-packet mode);
    /// `Some(true)` = inline for every packet, `Some(false)` = never.
    /// NOT YET WIRED: the stream stage follows the packet's mode.
    pub inline: Option<bool>,
    /// Suricata's `stream.bypass`: stop inspecting a flow once its stream
    /// depth is reached (`flow.state: bypassed`). NOT YET WIRED.
    pub bypass: bool,
    /// Suricata's `stream.checksum-validation` (and `-k`): segments with a
    /// bad TCP checksum are not reassembled. NOT YET WIRED.
    pub checksum_validation: bool,
    /// Suricata's `stream.async-oneside`: sessions seen in one direction
    /// only are tracked. NOT YET WIRED.
    pub async_oneside: bool,
}

impl Default for StreamConfig {
    fn default() -> Self {
        StreamConfig {
            window: 2048,
            max_buffered_per_dir: 64 * 1024,
            memcap: 64 * 1024 * 1024,
            depth: 1024 * 1024,
            midstream: false,
            midstream_policy: ExceptionPolicy::Ignore,
            inline: None,
            bypass: false,
            checksum_validation: true,
            async_oneside: false,
        }
    }
}

/// Suricata's exception policies (`stream.midstream-policy`,
/// `exception-policy`, ...): what to do with a packet or flow when the
/// engine cannot handle it normally.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExceptionPolicy {
    /// Suricata's `auto`: `drop-flow` in IPS mode, `ignore` otherwise.
    Auto,
    DropPacket,
    DropFlow,
    PassPacket,
    PassFlow,
    Bypass,
    Reject,
    /// Carry on as if nothing happened (the default).
    #[default]
    Ignore,
}

impl ExceptionPolicy {
    /// Parses Suricata's spelling (`drop-flow`, ...).
    pub fn parse(s: &str) -> Option<ExceptionPolicy> {
        Some(match s {
            "auto" => ExceptionPolicy::Auto,
            "drop-packet" => ExceptionPolicy::DropPacket,
            "drop-flow" => ExceptionPolicy::DropFlow,
            "pass-packet" => ExceptionPolicy::PassPacket,
            "pass-flow" => ExceptionPolicy::PassFlow,
            "bypass" => ExceptionPolicy::Bypass,
            "reject" => ExceptionPolicy::Reject,
            "ignore" => ExceptionPolicy::Ignore,
            _ => return None,
        })
    }

    /// Suricata's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ExceptionPolicy::Auto => "auto",
            ExceptionPolicy::DropPacket => "drop-packet",
            ExceptionPolicy::DropFlow => "drop-flow",
            ExceptionPolicy::PassPacket => "pass-packet",
            ExceptionPolicy::PassFlow => "pass-flow",
            ExceptionPolicy::Bypass => "bypass",
            ExceptionPolicy::Reject => "reject",
            ExceptionPolicy::Ignore => "ignore",
        }
    }
}

/// Buffered-byte accounting shared by all sessions of one or more
/// pipelines (clone to share). Sessions give their bytes back on drop.
#[derive(Debug, Clone, Default)]
pub struct StreamMemory(Arc<AtomicUsize>);

impl StreamMemory {
    /// Bytes currently buffered.
    pub fn used(&self) -> usize {
        self.0.load(Relaxed)
    }

    fn add(&self, n: usize) {
        self.0.fetch_add(n, Relaxed);
    }

    fn try_reserve(&self, n: usize, cap: usize) -> bool {
        let mut cur = self.0.load(Relaxed);
        loop {
            let Some(next) = cur.checked_add(n) else {
                return false;
            };
            if next > cap {
                return false;
            }
            match self.0.compare_exchange_weak(cur, next, Relaxed, Relaxed) {
                Ok(_) => return true,
                Err(c) => cur = c,
            }
        }
    }

    fn release(&self, n: usize) {
        // Saturate: accounting must never wrap even if a bug double-frees.
        let _ = self
            .0
            .fetch_update(Relaxed, Relaxed, |c| Some(c.saturating_sub(n)));
    }
}

/// What a pipeline needs to create sessions: the config and the shared
/// memory accounting. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct StreamContext {
    pub cfg: StreamConfig,
    pub mem: StreamMemory,
}

impl StreamContext {
    /// A context with its own memory accounting.
    pub fn new(cfg: StreamConfig) -> StreamContext {
        StreamContext {
            cfg,
            mem: StreamMemory::default(),
        }
    }
}

/// Stream anomalies seen during one [`TcpSession::on_packet`] call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StreamEvents {
    /// Holes skipped (data never seen).
    pub gaps: u32,
    /// Segments overlapping data already received (retransmissions
    /// included); the first-seen bytes were kept.
    pub overlaps: u32,
    /// Segments (or parts) not buffered because of `max_buffered_per_dir`
    /// or `memcap`.
    pub memcap_drops: u32,
    /// The session was picked up without seeing a SYN.
    pub midstream_pickup: bool,
}

/// Per-thread output of [`TcpSession::on_packet`], reused across calls
/// (its buffers keep their capacity, so steady state allocates nothing).
#[derive(Debug, Default)]
pub struct Inspect {
    bufs: [Vec<u8>; 2],
    new_from: [usize; 2],
    /// Directions with a chunk, in the order they were produced.
    order: [Option<Direction>; 2],
    /// Anomalies of the last call. Add them to the pipeline counters with
    /// [`Inspect::add_to_counters`].
    pub events: StreamEvents,
}

/// New inspectable bytes of one direction, with the window before them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chunk<'a> {
    pub dir: Direction,
    /// Up to `window` bytes already inspected, then the new bytes.
    pub window: &'a [u8],
    /// Index in `window` where the new bytes start.
    pub new_from: usize,
}

impl<'a> Chunk<'a> {
    /// Only the new bytes (feed these to the app layer).
    pub fn new_bytes(&self) -> &'a [u8] {
        self.window.get(self.new_from..).unwrap_or(&[])
    }
}

impl Inspect {
    pub fn new() -> Inspect {
        Inspect::default()
    }

    /// Forgets the chunks and events of the previous call (buffers keep
    /// their capacity). [`TcpSession::on_packet`] calls this itself.
    pub fn clear(&mut self) {
        self.order = [None, None];
        self.events = StreamEvents::default();
    }

    /// True when no direction has new inspectable data.
    pub fn is_empty(&self) -> bool {
        self.order[0].is_none()
    }

    /// The chunks of the last call, oldest data first.
    pub fn chunks(&self) -> impl Iterator<Item = Chunk<'_>> + '_ {
        self.order.iter().flatten().map(move |&dir| self.chunk(dir))
    }

    /// The chunk of one direction, if it has new data.
    pub fn get(&self, dir: Direction) -> Option<Chunk<'_>> {
        self.order
            .iter()
            .flatten()
            .any(|d| *d == dir)
            .then(|| self.chunk(dir))
    }

    fn chunk(&self, dir: Direction) -> Chunk<'_> {
        let i = dir.index();
        Chunk {
            dir,
            window: self.bufs.get(i).map(|b| &b[..]).unwrap_or(&[]),
            new_from: self.new_from.get(i).copied().unwrap_or(0),
        }
    }

    /// Adds the last call's anomalies to `tcp_reassembly_gap`,
    /// `tcp_overlap`, `tcp_segment_memcap_drop` and
    /// `tcp_midstream_pickups`.
    pub fn add_to_counters(&self, c: &PipelineCounters) {
        let e = &self.events;
        add(&c.tcp_reassembly_gap, u64::from(e.gaps));
        add(&c.tcp_overlap, u64::from(e.overlaps));
        add(&c.tcp_segment_memcap_drop, u64::from(e.memcap_drops));
        add(&c.tcp_midstream_pickups, u64::from(e.midstream_pickup));
    }

    /// Starts a chunk for `dir`: clears its buffer and copies the history
    /// in front; new bytes are then appended to `bufs[dir]`.
    fn begin(&mut self, dir: Direction, history: &[u8]) {
        let i = dir.index() & 1;
        let buf = &mut self.bufs[i];
        buf.clear();
        buf.extend_from_slice(history);
        self.new_from[i] = history.len();
    }

    /// Publishes the chunk of `dir` if it got new bytes; updates the
    /// direction's history to the last `window` bytes of it.
    fn commit(&mut self, dir: Direction, history: &mut Vec<u8>, window: usize) -> bool {
        let i = dir.index() & 1;
        let buf = &self.bufs[i];
        if buf.len() <= self.new_from[i] {
            return false;
        }
        history.clear();
        let keep = buf.len().min(window);
        history.extend_from_slice(buf.get(buf.len() - keep..).unwrap_or(&[]));
        if !self.order.iter().flatten().any(|d| *d == dir) {
            if self.order[0].is_none() {
                self.order[0] = Some(dir);
            } else {
                self.order[1] = Some(dir);
            }
        }
        true
    }
}

/// Coarse TCP connection state, for EVE `tcp.state` and flow timeouts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpState {
    /// Only the client's SYN so far.
    SynSent,
    /// SYN-ACK seen, handshake not complete.
    SynRecv,
    Established,
    /// One side sent FIN.
    FinWait,
    /// Both sides sent FIN, or a RST was seen.
    Closed,
}

impl TcpState {
    /// EVE `tcp.state` spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            TcpState::SynSent => "syn_sent",
            TcpState::SynRecv => "syn_recv",
            TcpState::Established => "established",
            TcpState::FinWait => "fin_wait1",
            TcpState::Closed => "closed",
        }
    }
}

/// Both directions of one TCP connection.
#[derive(Debug)]
pub struct TcpSession {
    /// Indexed by [`Direction::index`].
    pub dirs: [StreamDir; 2],
    cfg: StreamConfig,
    mem: StreamMemory,
    /// The session was picked up without a SYN.
    pub midstream: bool,
    /// The to_server side's first packet was a SYN.
    pub syn_seen: bool,
    /// The server answered with SYN-ACK.
    pub synack_seen: bool,
}

impl TcpSession {
    /// A session with no data yet. Allocates nothing.
    pub fn new(ctx: &StreamContext) -> TcpSession {
        TcpSession {
            dirs: [StreamDir::default(), StreamDir::default()],
            cfg: ctx.cfg,
            mem: ctx.mem.clone(),
            midstream: false,
            syn_seen: false,
            synack_seen: false,
        }
    }

    /// One direction.
    pub fn dir(&self, d: Direction) -> &StreamDir {
        &self.dirs[d.index() & 1]
    }

    /// Coarse connection state.
    pub fn state(&self) -> TcpState {
        let [a, b] = &self.dirs;
        if a.rst_seen || b.rst_seen || (a.fin_seen && b.fin_seen) {
            TcpState::Closed
        } else if a.fin_seen || b.fin_seen {
            TcpState::FinWait
        } else if a.started() && b.started() && (a.ack_seen || !self.syn_seen) {
            if self.synack_seen && !a.ack_seen {
                TcpState::SynRecv
            } else {
                TcpState::Established
            }
        } else if self.synack_seen {
            TcpState::SynRecv
        } else {
            TcpState::SynSent
        }
    }

    /// Feeds one packet of direction `dir`; see the module docs for when
    /// data becomes inspectable in each mode. `out` is cleared first, then
    /// holds the chunks (at most one per direction) and the events.
    pub fn on_packet(
        &mut self,
        dir: Direction,
        tcp: &TcpInfo,
        payload: &[u8],
        mode: Mode,
        out: &mut Inspect,
    ) {
        out.clear();
        let cfg = self.cfg;
        let me_i = dir.index() & 1;
        let peer_i = me_i ^ 1;
        let flags = tcp.flags;
        let syn = flags & tcp_flags::SYN != 0;

        // Sequence space of this direction.
        {
            let me = &mut self.dirs[me_i];
            if !me.started() {
                if syn {
                    me.start(tcp.seq.wrapping_add(1));
                    if flags & tcp_flags::ACK != 0 {
                        self.synack_seen = true;
                    } else if dir == Direction::ToServer {
                        self.syn_seen = true;
                    }
                } else {
                    me.start(tcp.seq);
                    if !self.midstream {
                        self.midstream = true;
                        out.events.midstream_pickup = true;
                    }
                }
            } else if syn && flags & tcp_flags::ACK != 0 {
                self.synack_seen = true;
            }
            if flags & tcp_flags::ACK != 0 {
                me.ack_seen = true;
            }
        }

        // This packet's data.
        if !payload.is_empty() {
            let seq = if syn {
                tcp.seq.wrapping_add(1)
            } else {
                tcp.seq
            };
            let me = &mut self.dirs[me_i];
            match mode {
                Mode::Ips => {
                    // Inspect in-order data now: window = history + new.
                    out.begin(dir, &me.history);
                    me.add_data(
                        seq,
                        payload,
                        &mut out.bufs[me_i],
                        &cfg,
                        &self.mem,
                        &mut out.events,
                    );
                    out.commit(dir, &mut me.history, cfg.window);
                }
                Mode::Ids => {
                    let mut pending = std::mem::take(&mut me.pending);
                    let before = pending.len();
                    me.add_data(seq, payload, &mut pending, &cfg, &self.mem, &mut out.events);
                    self.mem.add(pending.len().saturating_sub(before));
                    me.pending = pending;
                }
            }
        }
        if flags & tcp_flags::FIN != 0 {
            self.dirs[me_i].fin_seen = true;
        }
        let rst = flags & tcp_flags::RST != 0;
        if rst {
            self.dirs[me_i].rst_seen = true;
        }

        // The ACK covers the peer's data (and reveals capture loss).
        if flags & tcp_flags::ACK != 0 && !rst {
            let peer = &mut self.dirs[peer_i];
            let mut pending = std::mem::take(&mut peer.pending);
            let before = pending.len();
            let acked = peer.on_ack(tcp.ack, &mut pending, &self.mem, &mut out.events);
            self.mem.add(pending.len().saturating_sub(before));
            peer.pending = pending;
            match mode {
                Mode::Ids => {
                    if let Some(upto) = acked {
                        self.emit_pending(peer_i, Some(upto), out);
                    }
                }
                // Only a gap merge can leave pending data in IPS mode.
                Mode::Ips => self.emit_pending(peer_i, None, out),
            }
        }

        if mode == Mode::Ids {
            if rst {
                // No ACK will come: inspect what we have.
                self.emit_pending(peer_i, None, out);
                self.emit_pending(me_i, None, out);
            } else if self.dirs[me_i].pending.len() > cfg.max_buffered_per_dir
                || self.mem.used() > cfg.memcap
            {
                self.emit_pending(me_i, None, out);
            }
        }
    }

    /// Makes all buffered in-order data of both directions inspectable
    /// (flow end, shutdown). Out-of-order data stays unreachable.
    pub fn flush(&mut self, out: &mut Inspect) {
        out.clear();
        self.emit_pending(0, None, out);
        self.emit_pending(1, None, out);
    }

    /// Moves pending bytes of direction `i` (up to stream offset `upto`,
    /// or all) into that direction's chunk.
    fn emit_pending(&mut self, i: usize, upto: Option<u64>, out: &mut Inspect) {
        let i = i & 1;
        let dir = if i == 0 {
            Direction::ToServer
        } else {
            Direction::ToClient
        };
        let window = self.cfg.window;
        let d = &mut self.dirs[i];
        // Pending bytes are the ones just before `next_off`.
        let first_off = d.stream_len().saturating_sub(d.pending.len() as u64);
        let n = match upto {
            Some(off) => usize::try_from(off.saturating_sub(first_off))
                .unwrap_or(usize::MAX)
                .min(d.pending.len()),
            None => d.pending.len(),
        };
        if n == 0 {
            return;
        }
        // At most one chunk per direction per call: extend an existing one.
        if out.get(dir).is_none() {
            out.begin(dir, &d.history);
        }
        out.bufs[i].extend_from_slice(d.pending.get(..n).unwrap_or(&[]));
        out.commit(dir, &mut d.history, window);
        d.pending.drain(..n);
        self.mem.release(n);
        d.shrink_pending();
    }
}

impl Drop for TcpSession {
    fn drop(&mut self) {
        let held: usize = self.dirs.iter().map(|d| d.buffered()).sum();
        self.mem.release(held);
    }
}

#[cfg(test)]
mod tests;
