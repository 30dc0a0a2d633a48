//! One direction of a TCP stream: sequence tracking, out-of-order segment
//! buffer (sorted, non-overlapping, first-seen bytes win), gap handling and
//! the history window.
//!
//! Offsets are `u64` byte counts from the start of the direction (the byte
//! after the ISN, or the first byte seen on a midstream pickup); they never
//! wrap. Sequence numbers are mapped to offsets relative to `next_seq` with
//! wrapping `i32` distance, so any `u32` value is safe.

use super::{StreamConfig, StreamEvents, StreamMemory};

/// At most this many out-of-order regions per direction; beyond it, new
/// regions are dropped (`memcap_drops`), bounding the bookkeeping.
const MAX_REGIONS: usize = 64;

/// An ACK more than this far beyond the data seen is implausible (garbage
/// or a different connection) and is ignored instead of skipping data.
const MAX_ACK_JUMP: i64 = 1 << 30;

#[derive(Debug)]
struct Segment {
    off: u64,
    data: Vec<u8>,
}

impl Segment {
    fn end(&self) -> u64 {
        self.off + self.data.len() as u64
    }
}

/// One direction of a [`super::TcpSession`].
#[derive(Debug, Default)]
pub struct StreamDir {
    started: bool,
    /// Initial sequence number (SYN's seq, or one before the first byte
    /// on a midstream pickup).
    pub isn: u32,
    /// Next in-order sequence number expected.
    next_seq: u32,
    /// Offset of `next_seq`: bytes of this direction received in order.
    next_off: u64,
    /// Last `window` bytes already inspected.
    pub(super) history: Vec<u8>,
    /// In-order bytes not yet inspectable (IDS: not yet ACKed). They are
    /// the bytes just before `next_off`.
    pub(super) pending: Vec<u8>,
    ooo: Vec<Segment>,
    ooo_bytes: usize,
    pub(super) ack_seen: bool,
    /// A FIN was sent in this direction.
    pub fin_seen: bool,
    /// A RST was sent in this direction.
    pub rst_seen: bool,
    /// Data was skipped at least once (EVE `tcp.ts_gap`/`tc_gap`).
    pub gap: bool,
    /// Most out-of-order regions buffered at once (EVE `*_max_regions`).
    pub max_regions: usize,
    /// `depth` bytes were reassembled; the rest is ignored.
    pub depth_reached: bool,
}

impl StreamDir {
    /// A packet of this direction was seen.
    pub fn started(&self) -> bool {
        self.started
    }

    /// Bytes received in order so far.
    pub fn stream_len(&self) -> u64 {
        self.next_off
    }

    /// Bytes held in buffers (pending + out of order), as accounted in the
    /// shared [`StreamMemory`].
    pub fn buffered(&self) -> usize {
        self.pending.len() + self.ooo_bytes
    }

    /// Out-of-order regions buffered now.
    pub fn regions(&self) -> usize {
        self.ooo.len()
    }

    pub(super) fn start(&mut self, first_seq: u32) {
        self.started = true;
        self.isn = first_seq.wrapping_sub(1);
        self.next_seq = first_seq;
        self.next_off = 0;
    }

    /// Gives back pending capacity after a large burst, so idle flows do
    /// not pin big buffers.
    pub(super) fn shrink_pending(&mut self) {
        if self.pending.is_empty() && self.pending.capacity() > 16 * 1024 {
            self.pending = Vec::new();
        }
    }

    /// Stream offset of a sequence number (relative to `next_seq`).
    fn offset_of(&self, seq: u32) -> i64 {
        let rel = i64::from(seq.wrapping_sub(self.next_seq) as i32);
        self.next_off as i64 + rel
    }

    /// Adds segment data starting at `seq`. Bytes that become in order are
    /// appended to `sink`; others are buffered (bounded) or dropped.
    pub(super) fn add_data(
        &mut self,
        seq: u32,
        data: &[u8],
        sink: &mut Vec<u8>,
        cfg: &StreamConfig,
        mem: &StreamMemory,
        ev: &mut StreamEvents,
    ) {
        if self.depth_reached || data.is_empty() {
            return;
        }
        let mut off = self.offset_of(seq);
        let mut data = data;
        if off < 0 {
            // Starts before the stream (before the ISN): keep the rest.
            let skip = usize::try_from(off.unsigned_abs()).unwrap_or(usize::MAX);
            data = data.get(skip..).unwrap_or(&[]);
            off = 0;
            ev.overlaps += 1;
            if data.is_empty() {
                return;
            }
        }
        let mut off = off as u64;
        if cfg.depth != 0 {
            let depth = cfg.depth as u64;
            if off >= depth {
                self.depth_reached = true;
                return;
            }
            let room = usize::try_from(depth - off).unwrap_or(usize::MAX);
            if data.len() > room {
                data = data.get(..room).unwrap_or(&[]);
            }
        }
        let end = off + data.len() as u64;
        if end <= self.next_off {
            ev.overlaps += 1; // retransmission
            return;
        }
        if off < self.next_off {
            ev.overlaps += 1;
            let skip = (self.next_off - off) as usize;
            data = data.get(skip..).unwrap_or(&[]);
            off = self.next_off;
        }
        // Out of order and too far ahead to wait for the hole: skip it.
        for _ in 0..2 {
            if off <= self.next_off {
                break;
            }
            let span = end - self.next_off;
            if span <= cfg.max_buffered_per_dir as u64 {
                break;
            }
            let target = self.ooo.first().map_or(off, |s| s.off.min(off));
            ev.gaps += 1;
            self.gap = true;
            self.jump_to(target, sink, mem);
        }
        if off <= self.next_off {
            if self.merge(sink, Some((off, data)), mem) {
                ev.overlaps += 1;
            }
        } else {
            self.insert_ooo(off, data, cfg, mem, ev);
        }
        if cfg.depth != 0 && self.next_off >= cfg.depth as u64 {
            self.depth_reached = true;
        }
    }

    /// Skips holes up to `target` (a gap), merging buffered segments met
    /// on the way (and any that become contiguous) into `sink`.
    fn jump_to(&mut self, target: u64, sink: &mut Vec<u8>, mem: &StreamMemory) {
        while self.next_off < target {
            let stop = self
                .ooo
                .first()
                .map_or(target, |s| s.off.min(target))
                .max(self.next_off);
            self.next_seq = self.next_seq.wrapping_add((stop - self.next_off) as u32);
            self.next_off = stop;
            self.merge(sink, None, mem);
        }
    }

    /// Appends in-order data `new` (starting at or before `next_off`) to
    /// `sink`, preferring already-buffered bytes where they overlap (first
    /// seen wins), then any buffered segments that became contiguous.
    /// Buffered bytes leave the out-of-order accounting; the caller
    /// accounts what it keeps of `sink`.
    ///
    /// Returns true when `new` overlapped buffered bytes.
    fn merge(&mut self, sink: &mut Vec<u8>, new: Option<(u64, &[u8])>, mem: &StreamMemory) -> bool {
        let (noff, ndata) = new.unwrap_or((0, &[]));
        let nend = noff + ndata.len() as u64;
        let mut cur = self.next_off;
        let mut overlapped = false;
        loop {
            if self.ooo.first().is_some_and(|s| s.off <= cur) {
                let seg = self.ooo.remove(0);
                self.ooo_bytes = self.ooo_bytes.saturating_sub(seg.data.len());
                let seg_end = seg.end();
                if seg.off < nend && seg_end > cur.max(noff) {
                    overlapped = true;
                }
                if seg_end > cur {
                    let from = (cur - seg.off) as usize;
                    sink.extend_from_slice(seg.data.get(from..).unwrap_or(&[]));
                    cur = seg_end;
                }
                mem.release(seg.data.len());
                continue;
            }
            if cur < nend && cur >= noff {
                let stop = self.ooo.first().map_or(nend, |s| s.off.min(nend));
                let a = (cur - noff) as usize;
                let b = (stop - noff) as usize;
                sink.extend_from_slice(ndata.get(a..b).unwrap_or(&[]));
                cur = stop;
                continue;
            }
            break;
        }
        self.next_seq = self.next_seq.wrapping_add((cur - self.next_off) as u32);
        self.next_off = cur;
        overlapped
    }

    /// Buffers an out-of-order segment, keeping existing bytes where they
    /// overlap.
    fn insert_ooo(
        &mut self,
        off: u64,
        data: &[u8],
        cfg: &StreamConfig,
        mem: &StreamMemory,
        ev: &mut StreamEvents,
    ) {
        let end = off + data.len() as u64;
        let mut cur = off;
        let mut i = 0;
        let mut overlapped = false;
        while cur < end {
            // First existing segment ending after `cur`.
            while self.ooo.get(i).is_some_and(|s| s.end() <= cur) {
                i += 1;
            }
            let (piece_end, skip_to) = match self.ooo.get(i) {
                Some(s) if s.off <= cur => {
                    overlapped = true;
                    (cur, s.end().min(end))
                }
                Some(s) => (s.off.min(end), s.off.min(end)),
                None => (end, end),
            };
            if piece_end > cur {
                let a = (cur - off) as usize;
                let b = (piece_end - off) as usize;
                let piece = data.get(a..b).unwrap_or(&[]);
                if self.ooo.len() >= MAX_REGIONS || !mem.try_reserve(piece.len(), cfg.memcap) {
                    ev.memcap_drops += 1;
                    return;
                }
                self.ooo.insert(
                    i,
                    Segment {
                        off: cur,
                        data: piece.to_vec(),
                    },
                );
                self.ooo_bytes += piece.len();
                i += 1;
            }
            cur = skip_to.max(piece_end);
        }
        if overlapped {
            ev.overlaps += 1;
        }
        self.max_regions = self.max_regions.max(self.ooo.len());
    }

    /// Processes an ACK from the other direction for this direction's
    /// data. Returns the offset up to which data is acknowledged (never
    /// beyond what was received). An ACK beyond the data received (capture
    /// loss) skips the missing bytes as a gap, merging buffered segments
    /// into `sink`.
    pub(super) fn on_ack(
        &mut self,
        ack: u32,
        sink: &mut Vec<u8>,
        mem: &StreamMemory,
        ev: &mut StreamEvents,
    ) -> Option<u64> {
        if !self.started {
            return None;
        }
        if self.depth_reached {
            return Some(self.next_off);
        }
        let rel = i64::from(ack.wrapping_sub(self.next_seq) as i32);
        if rel <= 0 {
            return Some((self.next_off as i64 + rel).max(0) as u64);
        }
        if (self.fin_seen && rel == 1) || rel > MAX_ACK_JUMP {
            return Some(self.next_off);
        }
        ev.gaps += 1;
        self.gap = true;
        let target = self.next_off + rel as u64;
        self.jump_to(target, sink, mem);
        Some(self.next_off.min(target))
    }
}
