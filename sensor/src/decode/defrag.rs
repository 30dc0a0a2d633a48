//! IPv4 and IPv6 defragmentation, one table per capture thread.
//!
//! Fragments are kept per (addresses, id, protocol for IPv4, VLANs) with
//! bounded memory: at most [`DefragConfig::max_trackers`] packets in
//! reassembly and [`DefragConfig::memcap`] bytes of fragment data; a
//! tracker idle for [`DefragConfig::timeout_secs`] is dropped; when a
//! limit is hit the oldest tracker is evicted (counted). Overlapping data
//! sets `ipv4.frag_overlap`/`ipv6.frag_overlap` on the packet that
//! overlaps, and the data that arrived first wins (Suricata's default
//! `bsd` policy keeps the original data except when a later fragment
//! starts before it; this table keeps the first arrival everywhere).
//!
//! When the last hole is filled the packet is rebuilt into one reused
//! buffer (link header of the completing fragment, IP header of the first
//! fragment with its lengths fixed and the fragment fields cleared, then
//! the data) for the caller to decode and inspect like a captured packet.

use std::collections::HashMap;
use std::net::IpAddr;

use super::event::Ev;
use super::link::LINKTYPE_RAW;
use super::{Packet, Vlans};

/// Limits of one table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DefragConfig {
    pub max_trackers: usize,
    /// Bytes of fragment data held at most.
    pub memcap: usize,
    pub timeout_secs: i64,
    /// Fragments per packet at most.
    pub max_frags: usize,
}

impl Default for DefragConfig {
    fn default() -> DefragConfig {
        DefragConfig {
            max_trackers: 65_535,
            memcap: 32 << 20,
            timeout_secs: 60,
            max_frags: 256,
        }
    }
}

/// What the table did, for stats.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DefragStats {
    pub fragments: u64,
    pub reassembled: u64,
    pub timeouts: u64,
    /// Trackers dropped to stay within the limits.
    pub evicted: u64,
    /// Fragments not kept (memcap, too many fragments, too large).
    pub dropped: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Key {
    src: IpAddr,
    dst: IpAddr,
    id: u32,
    proto: u8,
    vlan: Vlans,
}

#[derive(Debug)]
struct Piece {
    offset: u32,
    data: Vec<u8>,
}

#[derive(Debug, Default)]
struct Tracker {
    pieces: Vec<Piece>,
    /// Link header and IP header (IPv6: unfragmentable part) of the first
    /// fragment; empty until it arrived.
    first_hdr: Vec<u8>,
    /// Where the IP header starts in `first_hdr`.
    ip_at: usize,
    linktype: u16,
    v6: bool,
    /// IPv6: offset (from the IP header) of the next-header byte naming
    /// the fragment header; IPv4: unused.
    prev_nh_off: usize,
    proto: u8,
    /// End of the data, once the last fragment arrived.
    end: Option<u32>,
    bytes: usize,
    last_seen: i64,
}

/// A defragmentation table.
#[derive(Debug)]
pub struct Defrag {
    cfg: DefragConfig,
    trackers: HashMap<Key, Tracker>,
    bytes: usize,
    out: Vec<u8>,
    out_linktype: u16,
    last_expire: i64,
    pub stats: DefragStats,
}

impl Defrag {
    pub fn new(cfg: DefragConfig) -> Defrag {
        Defrag {
            cfg,
            trackers: HashMap::new(),
            bytes: 0,
            out: Vec::new(),
            out_linktype: LINKTYPE_RAW,
            last_expire: i64::MIN,
            stats: DefragStats::default(),
        }
    }

    /// Packets in reassembly.
    pub fn len(&self) -> usize {
        self.trackers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.trackers.is_empty()
    }

    /// Bytes of fragment data held.
    pub fn memuse(&self) -> usize {
        self.bytes
    }

    /// Takes a fragment (`pkt.ext.frag` set, IP decoded, not invalid; other
    /// packets are ignored). Anomalies go into `pkt.ext.events`. Returns
    /// true when this fragment completed a packet: [`Defrag::output`] then
    /// holds it until the next call.
    pub fn insert(&mut self, pkt: &mut Packet<'_>, now_secs: i64) -> bool {
        let Some(f) = pkt.ext.frag else { return false };
        if !pkt.ext.has_ip || pkt.ext.invalid.is_some() {
            return false;
        }
        self.stats.fragments += 1;
        if now_secs != self.last_expire {
            self.last_expire = now_secs;
            self.expire(now_secs);
        }
        let v6 = pkt.ip.version == 6;
        let key = Key {
            src: pkt.ip.src,
            dst: pkt.ip.dst,
            id: f.id,
            proto: if v6 { 0 } else { f.proto },
            vlan: pkt.ext.vlan,
        };
        let raw = pkt.ext.ip_raw;
        let Some(data) = raw.get(f.data_off..f.data_off.saturating_add(f.data_len)) else {
            return false;
        };
        let end = f.offset.saturating_add(data.len() as u32);
        if end > 65_535 {
            self.stats.dropped += 1;
            return false;
        }
        if !self.trackers.contains_key(&key) {
            while self.trackers.len() >= self.cfg.max_trackers.max(1) {
                if !self.evict_oldest() {
                    break;
                }
            }
        }
        while self.bytes + data.len() > self.cfg.memcap {
            if !self.evict_oldest() {
                self.stats.dropped += 1;
                return false;
            }
        }
        let t = self.trackers.entry(key).or_default();
        t.last_seen = now_secs;
        if t.pieces.len() >= self.cfg.max_frags {
            self.stats.dropped += 1;
            return false;
        }
        let overlap = t
            .pieces
            .iter()
            .any(|p| f.offset < p.offset + p.data.len() as u32 && p.offset < end);
        if overlap {
            pkt.ext.events.push(if v6 {
                Ev::Ipv6FragOverlap
            } else {
                Ev::Ipv4FragOverlap
            });
        }
        if f.offset == 0 && t.first_hdr.is_empty() {
            // Link header (unless inside a tunnel) and IP header.
            let ip_at = if pkt.ext.tunnel {
                0
            } else {
                (raw.as_ptr() as usize).saturating_sub(pkt.ext.frame.as_ptr() as usize)
            };
            let link = if ip_at > 0 {
                pkt.ext.frame.get(..ip_at).unwrap_or(&[])
            } else {
                &[]
            };
            let hdr = raw.get(..f.unfrag_len).unwrap_or(&[]);
            t.first_hdr.extend_from_slice(link);
            t.first_hdr.extend_from_slice(hdr);
            t.ip_at = link.len();
            t.linktype = if link.is_empty() {
                LINKTYPE_RAW
            } else {
                pkt.ext.linktype
            };
            t.v6 = v6;
            t.prev_nh_off = f.prev_nh_off;
            t.proto = f.proto;
        }
        if !f.more {
            t.end = Some(end);
        }
        t.pieces.push(Piece {
            offset: f.offset,
            data: data.to_vec(),
        });
        t.bytes += data.len();
        self.bytes += data.len();
        self.try_reassemble(key)
    }

    /// The packet the last [`Defrag::insert`] completed: (link type, bytes).
    pub fn output(&self) -> (u16, &[u8]) {
        (self.out_linktype, &self.out)
    }

    /// Takes the output buffer (to decode it while the table is borrowed
    /// mutably elsewhere); give it back with [`Defrag::restore_output`] so
    /// its capacity is reused.
    pub fn take_output(&mut self) -> (u16, Vec<u8>) {
        (self.out_linktype, std::mem::take(&mut self.out))
    }

    pub fn restore_output(&mut self, buf: Vec<u8>) {
        self.out = buf;
    }

    fn try_reassemble(&mut self, key: Key) -> bool {
        let Some(t) = self.trackers.get_mut(&key) else {
            return false;
        };
        let Some(end) = t.end else { return false };
        if t.first_hdr.is_empty() {
            return false;
        }
        // Covered from 0 to end?
        t.pieces.sort_by_key(|p| p.offset);
        let mut covered = 0u32;
        for p in &t.pieces {
            if p.offset > covered {
                return false;
            }
            covered = covered.max(p.offset + p.data.len() as u32);
        }
        if covered < end {
            return false;
        }
        let Some(t) = self.trackers.remove(&key) else {
            return false;
        };
        self.bytes = self.bytes.saturating_sub(t.bytes);
        self.stats.reassembled += 1;
        let out = &mut self.out;
        out.clear();
        out.extend_from_slice(&t.first_hdr);
        let data_at = out.len();
        out.resize(data_at + end as usize, 0);
        // First arrival wins: write in reverse arrival order... pieces are
        // sorted by offset now, so write each byte range only where no
        // earlier-written piece covered it; simplest: fill a coverage map.
        let mut written = vec![false; end as usize];
        for p in &t.pieces {
            for (i, b) in p.data.iter().enumerate() {
                let at = p.offset as usize + i;
                if let (Some(w), Some(o)) = (written.get_mut(at), out.get_mut(data_at + at)) {
                    if !*w {
                        *w = true;
                        *o = *b;
                    }
                }
            }
        }
        let ip = t.ip_at;
        let hdr_len = t.first_hdr.len() - ip;
        if t.v6 {
            // Payload length; the fragment header is gone: the header that
            // named it names the fragmented protocol.
            let plen = (hdr_len - 40 + end as usize) as u16;
            if let Some(s) = out.get_mut(ip + 4..ip + 6) {
                s.copy_from_slice(&plen.to_be_bytes());
            }
            if let Some(b) = out.get_mut(ip + t.prev_nh_off) {
                *b = t.proto;
            }
        } else {
            let total = (hdr_len + end as usize) as u16;
            if let Some(s) = out.get_mut(ip + 2..ip + 4) {
                s.copy_from_slice(&total.to_be_bytes());
            }
            if let Some(s) = out.get_mut(ip + 6..ip + 8) {
                s.copy_from_slice(&[0, 0]);
            }
            // Header checksum recomputed.
            if let Some(s) = out.get_mut(ip + 10..ip + 12) {
                s.copy_from_slice(&[0, 0]);
            }
            let sum = out.get(ip..ip + hdr_len).map(ipv4_checksum).unwrap_or(0);
            if let Some(s) = out.get_mut(ip + 10..ip + 12) {
                s.copy_from_slice(&sum.to_be_bytes());
            }
        }
        self.out_linktype = t.linktype;
        true
    }

    fn evict_oldest(&mut self) -> bool {
        let Some(key) = self
            .trackers
            .iter()
            .min_by_key(|(_, t)| t.last_seen)
            .map(|(k, _)| *k)
        else {
            return false;
        };
        if let Some(t) = self.trackers.remove(&key) {
            self.bytes = self.bytes.saturating_sub(t.bytes);
            self.stats.evicted += 1;
        }
        true
    }

    /// Drops trackers idle for longer than the timeout.
    pub fn expire(&mut self, now_secs: i64) {
        let timeout = self.cfg.timeout_secs;
        let before = self.trackers.len();
        let mut freed = 0usize;
        self.trackers.retain(|_, t| {
            let keep = now_secs.saturating_sub(t.last_seen) <= timeout;
            if !keep {
                freed += t.bytes;
            }
            keep
        });
        self.bytes = self.bytes.saturating_sub(freed);
        self.stats.timeouts += (before - self.trackers.len()) as u64;
    }
}

fn ipv4_checksum(h: &[u8]) -> u16 {
    let mut sum = 0u32;
    for c in h.chunks(2) {
        let w = match c {
            [a, b] => u16::from_be_bytes([*a, *b]),
            [a] => u16::from_be_bytes([*a, 0]),
            _ => 0,
        };
        sum += u32::from(w);
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

#[cfg(test)]
mod tests {
    use super::super::{decode_frame, testpkt, L4};
    use super::*;

    /// An IPv4 fragment of a TCP packet: `data` at byte `offset`.
    fn frag4(id: u16, offset: u16, more: bool, data: &[u8]) -> Vec<u8> {
        let mut v = vec![0x45, 0];
        v.extend_from_slice(&((20 + data.len()) as u16).to_be_bytes());
        v.extend_from_slice(&id.to_be_bytes());
        let fo = (offset / 8) | if more { 0x2000 } else { 0 };
        v.extend_from_slice(&fo.to_be_bytes());
        v.extend_from_slice(&[64, 6, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2]);
        v.extend_from_slice(data);
        v
    }

    #[test]
    fn ipv4_in_order_out_of_order_and_overlap() {
        let seg = testpkt::tcp_segment(1234, 80, 1, 0, 0x02, &[7u8; 32]);
        assert_eq!(seg.len(), 52);
        let a = frag4(9, 0, true, &seg[..24]);
        let b = frag4(9, 24, false, &seg[24..]);
        let mut d = Defrag::new(DefragConfig::default());
        let mut pb = decode_frame(LINKTYPE_RAW, &b, false);
        assert!(matches!(pb.l4, L4::Other));
        assert!(!d.insert(&mut pb, 1));
        // Overlapping duplicate of the second fragment.
        let mut pb2 = decode_frame(LINKTYPE_RAW, &b, false);
        assert!(!d.insert(&mut pb2, 1));
        assert!(pb2.ext.events.contains(Ev::Ipv4FragOverlap));
        let mut pa = decode_frame(LINKTYPE_RAW, &a, false);
        assert!(d.insert(&mut pa, 1));
        let (lt, out) = d.output();
        let p = decode_frame(lt, out, false);
        assert!(p.ext.invalid.is_none(), "{:?}", p.ext.invalid);
        assert!(matches!(p.l4, L4::Tcp(t) if t.src_port == 1234));
        assert_eq!(p.payload, &[7u8; 32]);
        assert!(d.is_empty());
        assert_eq!(d.memuse(), 0);
        assert_eq!(d.stats.reassembled, 1);
    }

    #[test]
    fn limits_evict_and_expire() {
        let cfg = DefragConfig {
            max_trackers: 2,
            memcap: 1 << 20,
            timeout_secs: 10,
            max_frags: 4,
        };
        let mut d = Defrag::new(cfg);
        for id in 0..5u16 {
            let f = frag4(id, 8, true, &[0u8; 8]);
            let mut p = decode_frame(LINKTYPE_RAW, &f, false);
            d.insert(&mut p, i64::from(id));
        }
        assert_eq!(d.len(), 2);
        assert_eq!(d.stats.evicted, 3);
        d.expire(100);
        assert!(d.is_empty());
        assert_eq!(d.memuse(), 0);
        assert_eq!(d.stats.timeouts, 2);
    }
}
