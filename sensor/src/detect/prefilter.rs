//! Load-time indexes that pick candidate rules for a packet cheaply:
//!
//! - [`PatternSet`]: one multi-pattern matcher ([`super::mpm`]) over the
//!   fast patterns of a rule group, so a single scan of a buffer yields
//!   every rule whose fast pattern occurs in it;
//! - [`AddrIndex`]: disjoint address segments mapped to the rules whose
//!   (long, purely positive) address list covers them, for IP-reputation
//!   rules that have no content.
//!
//! Both give a superset of the rules that can match; the engine still
//! evaluates every candidate in full, so results do not depend on them.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

use meerkat_shared::net::fold_mapped;

use super::address::{AddrExpr, AddrLeaf};
use super::mpm::{self, Matcher};

/// Patterns are cut to this many bytes in the matcher.
const MAX_PATTERN_LEN: usize = mpm::MAX_LEN;

/// Per-thread scratch for [`PatternSet::scan`]: which patterns were seen
/// in the current scan. Reused, so steady state does not allocate.
#[derive(Debug, Default)]
pub struct ScanScratch {
    seen: Vec<u64>,
    touched: Vec<u32>,
}

impl ScanScratch {
    fn reset(&mut self, patterns: usize) {
        for &p in &self.touched {
            if let Some(w) = self.seen.get_mut(p as usize / 64) {
                *w = 0;
            }
        }
        self.touched.clear();
        let words = patterns.div_ceil(64);
        if self.seen.len() < words {
            self.seen.resize(words, 0);
        }
    }
}

#[derive(Debug)]
struct PatInfo {
    /// The exact bytes for a case-sensitive pattern (the matcher is
    /// case-insensitive, so its matches are verified); None for nocase.
    exact: Option<Box<[u8]>>,
    /// Range of this pattern's rules in `PatternSet::rules`.
    start: u32,
    end: u32,
}

/// The fast patterns of a rule group in one matcher.
#[derive(Debug, Default)]
pub struct PatternSet {
    matcher: Matcher,
    pats: Vec<PatInfo>,
    rules: Vec<u32>,
}

impl PatternSet {
    /// Builds from `(rule, pattern, nocase)`; nocase patterns must be
    /// lowercase already. Rule indices keep their order per pattern.
    pub fn build(entries: &[(u32, &[u8], bool)]) -> PatternSet {
        if entries.is_empty() {
            return PatternSet::default();
        }
        let mut ids: HashMap<(&[u8], bool), usize> = HashMap::new();
        let mut by_pat: Vec<(&[u8], bool, Vec<u32>)> = Vec::new();
        for &(rule, pat, nocase) in entries {
            // A prefix of the fast pattern is also a necessary condition;
            // short patterns keep the automaton small and cache-friendly.
            let pat = pat.get(..MAX_PATTERN_LEN).unwrap_or(pat);
            let id = *ids.entry((pat, nocase)).or_insert_with(|| {
                by_pat.push((pat, nocase, Vec::new()));
                by_pat.len() - 1
            });
            if let Some(e) = by_pat.get_mut(id) {
                e.2.push(rule);
            }
        }
        let mut set = PatternSet {
            matcher: Matcher::new(by_pat.iter().map(|(p, nocase, _)| (*p, *nocase))),
            pats: Vec::with_capacity(by_pat.len()),
            rules: Vec::with_capacity(entries.len()),
        };
        for (pat, nocase, rules) in by_pat {
            let start = set.rules.len() as u32;
            set.rules.extend(rules);
            set.pats.push(PatInfo {
                exact: (!nocase).then(|| pat.into()),
                start,
                end: set.rules.len() as u32,
            });
        }
        set
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// One set per key (what the patterns are scanned in, e.g. a buffer
    /// and its transforms) from `(key, rule, pattern, nocase)`, keys in
    /// the order first seen.
    pub fn keyed<K: PartialEq>(
        entries: impl IntoIterator<Item = (K, u32, Vec<u8>, bool)>,
    ) -> Vec<(K, PatternSet)> {
        let mut keyed: Vec<(K, Vec<FastEntry>)> = Vec::new();
        for (k, rule, pat, nocase) in entries {
            match keyed.iter_mut().find(|(kk, _)| *kk == k) {
                Some((_, v)) => v.push((rule, pat, nocase)),
                None => keyed.push((k, vec![(rule, pat, nocase)])),
            }
        }
        keyed
            .into_iter()
            .map(|(k, v)| {
                let pats: Vec<(u32, &[u8], bool)> =
                    v.iter().map(|(r, p, n)| (*r, p.as_slice(), *n)).collect();
                (k, PatternSet::build(&pats))
            })
            .collect()
    }

    /// Calls `found` once per rule whose fast pattern occurs in `buf`
    /// (a rule with several entries may be reported more than once).
    pub fn scan(&self, buf: &[u8], scratch: &mut ScanScratch, mut found: impl FnMut(u32)) {
        if buf.is_empty() || self.pats.is_empty() {
            return;
        }
        scratch.reset(self.pats.len());
        let ScanScratch { seen, touched } = scratch;
        self.matcher.scan(buf, |pid, at| {
            let Some(info) = self.pats.get(pid as usize) else {
                return;
            };
            if let Some(exact) = &info.exact {
                if buf.get(at..at + exact.len()) != Some(&exact[..]) {
                    return;
                }
            }
            if !mark(seen, touched, pid) {
                return;
            }
            if let Some(rs) = self.rules.get(info.start as usize..info.end as usize) {
                rs.iter().for_each(|&r| found(r));
            }
        });
    }
}

/// Marks pattern `p` in `seen`; true when it was not marked yet.
fn mark(seen: &mut [u64], touched: &mut Vec<u32>, p: u32) -> bool {
    let Some(w) = seen.get_mut(p as usize / 64) else {
        return false;
    };
    let bit = 1u64 << (p % 64);
    if *w & bit != 0 {
        return false;
    }
    *w |= bit;
    touched.push(p);
    true
}

/// `(rule, fast pattern, nocase)`.
type FastEntry = (u32, Vec<u8>, bool);

/// An address as a point on one line: IPv4 as its IPv4-mapped IPv6 form.
pub fn addr_key(ip: IpAddr) -> u128 {
    match fold_mapped(ip) {
        IpAddr::V4(v4) => 0xffff_0000_0000u128 | u128::from(u32::from(v4)),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

/// The key ranges an address list covers, when it is a purely positive
/// list of at least `min` entries.
pub fn addr_ranges(e: &AddrExpr, min: usize) -> Option<Vec<(u128, u128)>> {
    let leaves = e.positive_leaves()?;
    if leaves.len() < min {
        return None;
    }
    Some(
        leaves
            .into_iter()
            .map(|l| match l {
                AddrLeaf::Net(n) => {
                    let lo = addr_key(n.addr());
                    let width = match n.addr() {
                        IpAddr::V4(_) => 32u32,
                        IpAddr::V6(_) => 128u32,
                    };
                    let host_bits = width.saturating_sub(n.prefix() as u32);
                    let span = if host_bits >= 128 {
                        u128::MAX
                    } else {
                        (1u128 << host_bits) - 1
                    };
                    (lo, lo.saturating_add(span))
                }
                AddrLeaf::Range(a, b) => (addr_key(*a), addr_key(*b)),
            })
            .collect(),
    )
}

/// Disjoint address segments, each with the rules covering it.
#[derive(Debug, Default)]
pub struct AddrIndex {
    /// Segment starts, ascending; segment `i` runs to `starts[i+1] - 1`.
    starts: Vec<u128>,
    /// Per segment: range into `rules`.
    spans: Vec<(u32, u32)>,
    rules: Vec<u32>,
}

impl AddrIndex {
    /// Builds from `(lo, hi, rule)` inclusive ranges.
    pub fn build(mut ranges: Vec<(u128, u128, u32)>) -> AddrIndex {
        if ranges.is_empty() {
            return AddrIndex::default();
        }
        // Events: +rule at lo, -rule after hi.
        let mut events: Vec<(u128, bool, u32)> = Vec::with_capacity(ranges.len() * 2);
        for (lo, hi, r) in ranges.drain(..) {
            events.push((lo, true, r));
            if let Some(after) = hi.checked_add(1) {
                events.push((after, false, r));
            }
        }
        events.sort_unstable();
        let mut active: BTreeMap<u32, u32> = BTreeMap::new();
        let mut idx = AddrIndex::default();
        let mut i = 0;
        while let Some(&(at, _, _)) = events.get(i) {
            while let Some(&(p, add, r)) = events.get(i) {
                if p != at {
                    break;
                }
                if add {
                    *active.entry(r).or_insert(0) += 1;
                } else if let Some(c) = active.get_mut(&r) {
                    *c -= 1;
                    if *c == 0 {
                        active.remove(&r);
                    }
                }
                i += 1;
            }
            let prev = idx
                .spans
                .last()
                .and_then(|&(s, e)| idx.rules.get(s as usize..e as usize));
            if prev.is_some_and(|p| p.iter().copied().eq(active.keys().copied())) {
                continue;
            }
            let start = idx.rules.len() as u32;
            idx.rules.extend(active.keys().copied());
            idx.starts.push(at);
            idx.spans.push((start, idx.rules.len() as u32));
        }
        idx
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The rules whose ranges contain `ip`.
    pub fn lookup(&self, ip: IpAddr) -> &[u32] {
        let k = addr_key(ip);
        let n = self.starts.partition_point(|&s| s <= k);
        let Some(seg) = n.checked_sub(1) else {
            return &[];
        };
        self.spans
            .get(seg)
            .and_then(|&(s, e)| self.rules.get(s as usize..e as usize))
            .unwrap_or(&[])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(set: &PatternSet, buf: &[u8]) -> Vec<u32> {
        let mut s = ScanScratch::default();
        let mut v = Vec::new();
        set.scan(buf, &mut s, |r| v.push(r));
        v.sort();
        v
    }

    #[test]
    fn patterns_respect_case_and_report_each_rule() {
        let set = PatternSet::build(&[
            (1, b"abc", true),
            (2, b"ABC", false),
            (3, b"abc", true),
            (4, b"|x", false),
        ]);
        assert_eq!(scan(&set, b"xxABCxx"), vec![1, 2, 3]);
        assert_eq!(scan(&set, b"xxabcxx"), vec![1, 3]);
        assert_eq!(scan(&set, b"aBc abc ABC"), vec![1, 2, 3]);
        assert_eq!(scan(&set, b"|X"), Vec::<u32>::new());
        assert_eq!(scan(&set, b"|x"), vec![4]);
        assert!(scan(&set, b"").is_empty());
    }

    #[test]
    fn overlapping_patterns_all_found() {
        let set = PatternSet::build(&[(1, b"abcd", false), (2, b"bc", false), (3, b"c", false)]);
        assert_eq!(scan(&set, b"abcd"), vec![1, 2, 3]);
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn addr_index_overlaps_and_edges() {
        let k = |s: &str| addr_key(ip(s));
        let idx = AddrIndex::build(vec![
            (k("192.0.2.0"), k("192.0.2.255"), 1),
            (k("192.0.2.7"), k("192.0.2.7"), 2),
            (k("198.51.100.1"), k("198.51.100.1"), 1),
            (k("2001:db8::"), k("2001:db8::ffff"), 3),
        ]);
        assert_eq!(idx.lookup(ip("192.0.2.1")), &[1]);
        assert_eq!(idx.lookup(ip("192.0.2.7")), &[1, 2]);
        assert_eq!(idx.lookup(ip("192.0.2.8")), &[1]);
        assert_eq!(idx.lookup(ip("192.0.3.0")), &[] as &[u32]);
        assert_eq!(idx.lookup(ip("198.51.100.1")), &[1]);
        assert_eq!(idx.lookup(ip("::ffff:198.51.100.1")), &[1]);
        assert_eq!(idx.lookup(ip("2001:db8::5")), &[3]);
        assert_eq!(idx.lookup(ip("0.0.0.0")), &[] as &[u32]);
    }
}
