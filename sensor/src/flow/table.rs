//! The per-thread flow table.
//!
//! Storage is a slab (`Vec` of slots with a free list) indexed by a
//! `HashMap<FlowKey, u32>` with a fast keyed hasher: looking up an existing
//! flow hashes once and allocates nothing. [`FlowTable::lookup`] returns a
//! [`FlowId`] (slot + generation) that [`FlowTable::get_mut`] resolves
//! without hashing again (a stale id resolves to `None`).
//!
//! Each flow sits in one of five intrusive LRU lists, one per timeout class
//! (TCP new, TCP established, TCP closed, UDP/other, ICMP). A packet moves
//! its flow to the head of its list, so every list is ordered by last
//! activity and [`FlowTable::expire`] only walks flows that really timed
//! out.
//!
//! When the table is full (`max_flows`, or `memcap_bytes` by the
//! [`FlowTable::memuse`] estimate) a new flow evicts, in this order: the
//! least recently used closed TCP flow; the least recently used
//! not-yet-established TCP flow; the least recently used other flow idle
//! for at least [`EVICT_MIN_IDLE_US`]. Evicted flows (end reason `Forced`)
//! are handed out by the next [`FlowTable::expire`] call so they can be
//! logged. If nothing is evictable, `lookup` fails with
//! [`FlowError::Full`] and the packet goes on without a flow.
//!
//! Evicted flows are outside the caps until they are handed out, so the
//! caller should take them with [`FlowTable::take_evicted`] right after
//! the lookup that evicted them: left for a periodic `expire`, a flood of
//! new flows (one eviction each) would pile up flows in proportion to its
//! rate.
//!
//! Counters: call [`FlowTable::publish`] (e.g. once per stats interval) to
//! add `flow_tcp`/`flow_udp`/`flow_icmpv4`/`flow_icmpv6`/`flow_other`,
//! `flow_timeout`, `flow_evicted`, `flow_memcap` and to set `flow_active`
//! and `flow_memuse`.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};

use super::hash::FastState;
use super::{EndReason, Flow, FlowConfig, FlowKey, FlowState};
use crate::counters::PipelineCounters;
use crate::decode::{ipproto, Packet};
use crate::packet::{Direction, Timestamp};

/// Flows active more recently than this are never evicted.
pub const EVICT_MIN_IDLE_US: i64 = 1_000_000;

const NIL: u32 = u32::MAX;
const CLASSES: usize = 5;
const C_TCP_NEW: usize = 0;
const C_TCP_EST: usize = 1;
const C_TCP_CLOSED: usize = 2;
const C_UDP: usize = 3;
const C_ICMP: usize = 4;

/// Handle to a flow in its table: slot index plus generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FlowId {
    idx: u32,
    gen: u32,
}

/// Why no flow could be had for a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FlowError {
    #[error(
        "flow table full ({flows} flows, {memuse} bytes) and no flow is evictable; \
         raise flow.max_flows or flow.memcap_bytes, or lower the timeouts"
    )]
    Full { flows: usize, memuse: usize },
}

#[derive(Debug)]
struct Slot {
    flow: Option<Flow>,
    key: Option<FlowKey>,
    gen: u32,
    prev: u32,
    next: u32,
    class: u8,
}

#[derive(Debug, Clone, Copy)]
struct List {
    head: u32,
    tail: u32,
}

/// Cumulative table events not yet published to the counters.
#[derive(Debug, Default, Clone, Copy)]
struct Pending {
    by_proto: [u64; 5],
    timeout: u64,
    evicted: u64,
    memcap: u64,
}

/// The per-thread flow table. See the module docs.
#[derive(Debug)]
pub struct FlowTable {
    cfg: FlowConfig,
    map: HashMap<FlowKey, u32, FastState>,
    hash_state: FastState,
    slots: Vec<Slot>,
    free: Vec<u32>,
    lists: [List; CLASSES],
    len: usize,
    /// Evicted flows waiting to be handed out by `expire`.
    evicted: Vec<Flow>,
    pending: Pending,
}

/// Estimated bytes per flow: its slot, its free-list entry, and its map
/// entry with its control byte at the map's lowest load (7/16, just after
/// the map doubled), so that the estimate bounds what the table really
/// uses (it used to count the map entry once, plus 16: a SYN flood showed
/// the table about 8 % over `memcap_bytes`). Stream buffers are accounted
/// separately (stream memcap).
pub const FLOW_MEM_ESTIMATE: usize = std::mem::size_of::<Slot>()
    + std::mem::size_of::<u32>()
    + (std::mem::size_of::<(FlowKey, u32)>() + 1) * 16 / 7;

impl FlowTable {
    /// An empty table. Reserves map space for up to 64Ki flows now.
    pub fn new(cfg: FlowConfig) -> FlowTable {
        let hash_state = FastState::random();
        FlowTable {
            map: HashMap::with_capacity_and_hasher(cfg.max_flows.min(65_536), hash_state),
            hash_state,
            cfg,
            slots: Vec::new(),
            free: Vec::new(),
            lists: [List {
                head: NIL,
                tail: NIL,
            }; CLASSES],
            len: 0,
            evicted: Vec::new(),
            pending: Pending::default(),
        }
    }

    /// Flows in the table.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when the table holds no flow.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Estimated bytes of flow state (`len * FLOW_MEM_ESTIMATE`).
    pub fn memuse(&self) -> usize {
        self.len * FLOW_MEM_ESTIMATE
    }

    /// Finds or creates the flow of `pkt`, accounts the packet to it
    /// (packets, bytes, flags, last time, state) and moves it to the head
    /// of its LRU list. Returns the flow's handle, the packet's direction
    /// and whether the flow was created by this packet. Allocation-free
    /// for existing flows.
    ///
    /// # Errors
    /// [`FlowError::Full`] when the table is full and nothing is evictable.
    pub fn lookup(
        &mut self,
        pkt: &Packet<'_>,
        ts: Timestamp,
        wire_len: u32,
    ) -> Result<(FlowId, Direction, bool), FlowError> {
        let (key, _) = FlowKey::from_packet(pkt);
        if let Some(&idx) = self.map.get(&key) {
            let class = {
                let Some(slot) = self.slots.get_mut(idx as usize) else {
                    return Err(self.full());
                };
                let Some(flow) = slot.flow.as_mut() else {
                    return Err(self.full());
                };
                let dir = flow.direction_of(pkt);
                flow.account(pkt, dir, ts, wire_len);
                let class = class_of(flow);
                let id = FlowId { idx, gen: slot.gen };
                (class, id, dir)
            };
            let (class, id, dir) = class;
            self.unlink(idx);
            self.push_head(idx, class);
            return Ok((id, dir, false));
        }
        // A new flow: make room first.
        let full = self.len >= self.cfg.max_flows
            || (self.len + 1) * FLOW_MEM_ESTIMATE > self.cfg.memcap_bytes;
        if full && !self.evict_one(ts) {
            self.pending.memcap += 1;
            return Err(self.full());
        }
        let hash = {
            let mut h = self.hash_state.build_hasher();
            std::hash::Hash::hash(&key, &mut h);
            let v = h.finish();
            (v ^ (v >> 32)) as u32
        };
        let mut flow = Flow::new(pkt, ts, hash);
        let dir = flow.direction_of(pkt);
        flow.account(pkt, dir, ts, wire_len);
        let class = class_of(&flow);
        self.pending.by_proto[proto_slot(flow.proto)] += 1;
        let idx = match self.free.pop() {
            Some(i) => i,
            None => {
                self.slots.push(Slot {
                    flow: None,
                    key: None,
                    gen: 0,
                    prev: NIL,
                    next: NIL,
                    class: 0,
                });
                (self.slots.len() - 1) as u32
            }
        };
        let gen = match self.slots.get_mut(idx as usize) {
            Some(slot) => {
                slot.gen = slot.gen.wrapping_add(1);
                slot.flow = Some(flow);
                slot.key = Some(key);
                slot.gen
            }
            None => return Err(self.full()),
        };
        self.map.insert(key, idx);
        self.push_head(idx, class);
        self.len += 1;
        Ok((FlowId { idx, gen }, dir, true))
    }

    /// The flow behind a handle from [`FlowTable::lookup`], if it is still
    /// in the table.
    pub fn get_mut(&mut self, id: FlowId) -> Option<&mut Flow> {
        let slot = self.slots.get_mut(id.idx as usize)?;
        if slot.gen != id.gen {
            return None;
        }
        slot.flow.as_mut()
    }

    /// Flows evicted and not yet handed out.
    pub fn evicted_pending(&self) -> usize {
        self.evicted.len()
    }

    /// Moves the flows evicted since the last call (end reason `Forced`)
    /// into `out`; see the module docs for why at once.
    pub fn take_evicted(&mut self, out: &mut Vec<Flow>) {
        out.append(&mut self.evicted);
    }

    /// Moves timed-out flows (end reason `Timeout`) and flows evicted since
    /// the last call (end reason `Forced`) into `out`.
    pub fn expire(&mut self, now: Timestamp, out: &mut Vec<Flow>) {
        out.append(&mut self.evicted);
        let now_us = now.as_micros();
        for class in 0..CLASSES {
            let timeout = self.timeout_us(class);
            loop {
                let tail = self.lists[class].tail;
                let Some(last) = self.last_of(tail) else {
                    break;
                };
                if now_us.saturating_sub(last) < timeout {
                    break;
                }
                if let Some(mut f) = self.remove(tail) {
                    f.end_reason = Some(EndReason::Timeout);
                    self.pending.timeout += 1;
                    out.push(f);
                }
            }
        }
    }

    /// Moves every flow into `out` (end reason `Shutdown`; flows evicted
    /// and not yet handed out keep `Forced`).
    pub fn drain(&mut self, out: &mut Vec<Flow>) {
        out.append(&mut self.evicted);
        for class in 0..CLASSES {
            loop {
                let tail = self.lists[class].tail;
                if tail == NIL {
                    break;
                }
                match self.remove(tail) {
                    Some(mut f) => {
                        f.end_reason = Some(EndReason::Shutdown);
                        out.push(f);
                    }
                    None => break,
                }
            }
        }
    }

    /// Adds the events since the last call to the pipeline counters and
    /// sets the gauges `flow_active` and `flow_memuse`.
    pub fn publish(&mut self, c: &PipelineCounters) {
        use crate::counters::add;
        use std::sync::atomic::Ordering::Relaxed;
        let p = std::mem::take(&mut self.pending);
        add(&c.flow_tcp, p.by_proto[0]);
        add(&c.flow_udp, p.by_proto[1]);
        add(&c.flow_icmpv4, p.by_proto[2]);
        add(&c.flow_icmpv6, p.by_proto[3]);
        add(&c.flow_other, p.by_proto[4]);
        add(&c.flow_timeout, p.timeout);
        add(&c.flow_evicted, p.evicted);
        add(&c.flow_memcap, p.memcap);
        c.flow_active.store(self.len as u64, Relaxed);
        c.flow_memuse.store(self.memuse() as u64, Relaxed);
    }

    fn full(&self) -> FlowError {
        FlowError::Full {
            flows: self.len,
            memuse: self.memuse(),
        }
    }

    fn timeout_us(&self, class: usize) -> i64 {
        let d = match class {
            C_TCP_NEW => self.cfg.timeout_new,
            C_TCP_EST => self.cfg.timeout_established,
            C_TCP_CLOSED => self.cfg.timeout_closed,
            C_UDP => self.cfg.timeout_udp,
            _ => self.cfg.timeout_icmp,
        };
        i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
    }

    fn last_of(&self, idx: u32) -> Option<i64> {
        self.slots
            .get(idx as usize)?
            .flow
            .as_ref()
            .map(|f| f.last.as_micros())
    }

    /// Evicts one flow per the module-level policy. True if one was.
    fn evict_one(&mut self, now: Timestamp) -> bool {
        let now_us = now.as_micros();
        let mut victim = [C_TCP_CLOSED, C_TCP_NEW]
            .into_iter()
            .map(|c| self.lists[c].tail)
            .find(|&t| t != NIL);
        if victim.is_none() {
            // Oldest idle tail among the remaining classes.
            victim = [C_TCP_EST, C_UDP, C_ICMP]
                .into_iter()
                .map(|c| self.lists[c].tail)
                .filter_map(|t| Some((t, self.last_of(t)?)))
                .filter(|&(_, last)| now_us.saturating_sub(last) >= EVICT_MIN_IDLE_US)
                .min_by_key(|&(_, last)| last)
                .map(|(t, _)| t);
        }
        let Some(idx) = victim else {
            return false;
        };
        match self.remove(idx) {
            Some(mut f) => {
                f.end_reason = Some(EndReason::Forced);
                self.pending.evicted += 1;
                self.evicted.push(f);
                true
            }
            None => false,
        }
    }

    /// Takes a flow out of the table and frees its slot.
    fn remove(&mut self, idx: u32) -> Option<Flow> {
        self.unlink(idx);
        let slot = self.slots.get_mut(idx as usize)?;
        let flow = slot.flow.take()?;
        if let Some(key) = slot.key.take() {
            self.map.remove(&key);
        }
        self.free.push(idx);
        self.len = self.len.saturating_sub(1);
        Some(flow)
    }

    fn unlink(&mut self, idx: u32) {
        let Some(slot) = self.slots.get(idx as usize) else {
            return;
        };
        let (prev, next, class) = (slot.prev, slot.next, slot.class as usize);
        if let Some(p) = self.slots.get_mut(prev as usize) {
            p.next = next;
        } else if let Some(l) = self.lists.get_mut(class) {
            if l.head == idx {
                l.head = next;
            }
        }
        if let Some(n) = self.slots.get_mut(next as usize) {
            n.prev = prev;
        } else if let Some(l) = self.lists.get_mut(class) {
            if l.tail == idx {
                l.tail = prev;
            }
        }
        if let Some(s) = self.slots.get_mut(idx as usize) {
            s.prev = NIL;
            s.next = NIL;
        }
    }

    fn push_head(&mut self, idx: u32, class: usize) {
        let Some(list) = self.lists.get(class).copied() else {
            return;
        };
        if let Some(s) = self.slots.get_mut(idx as usize) {
            s.prev = NIL;
            s.next = list.head;
            s.class = class as u8;
        }
        if let Some(h) = self.slots.get_mut(list.head as usize) {
            h.prev = idx;
        }
        let l = &mut self.lists[class];
        l.head = idx;
        if l.tail == NIL {
            l.tail = idx;
        }
    }
}

fn class_of(f: &Flow) -> usize {
    match f.proto {
        ipproto::TCP => match f.state {
            FlowState::New => C_TCP_NEW,
            FlowState::Established | FlowState::Bypassed => C_TCP_EST,
            FlowState::Closed => C_TCP_CLOSED,
        },
        ipproto::ICMP | ipproto::ICMPV6 => C_ICMP,
        _ => C_UDP,
    }
}

fn proto_slot(proto: u8) -> usize {
    match proto {
        ipproto::TCP => 0,
        ipproto::UDP => 1,
        ipproto::ICMP => 2,
        ipproto::ICMPV6 => 3,
        _ => 4,
    }
}
