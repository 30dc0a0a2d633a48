//! The multi-pattern matcher behind the fast-pattern prefilter: which of
//! a set of short patterns (up to [`MAX_LEN`] bytes, compared without
//! ASCII case) occur in a buffer.
//!
//! Built for the prefilter's workload: thousands of patterns, most buffers
//! containing none of them. An Aho-Corasick DFA over ET Open's patterns
//! is several MiB, so nearly every byte of a scan misses the cache; here
//! the per-byte work touches only small tables:
//!
//! - 1-byte patterns are found with `memchr` (the first occurrence is
//!   enough for a prefilter: later ones would cost a lookup per byte of
//!   binary data);
//! - `two`: a 65,536-bit table (8 KiB) of the first two bytes of every
//!   longer pattern. Almost all positions stop here, after one lookup;
//! - On a hit, the 2-byte patterns come from a direct table, and longer
//!   ones through a hashed 65,536-bit table of their first 3 or 4 bytes,
//!   then a sorted table keyed on those bytes, then a comparison of the
//!   rest.
//!
//! Bytes are lowercased through a 256-byte table as they are read, so
//! every lookup is case-folded; the caller verifies case-sensitive
//! patterns against the original bytes ([`Matcher::scan`] reports
//! positions). A scan allocates nothing.

/// Longer patterns are cut to this many bytes by the caller.
pub const MAX_LEN: usize = 8;

/// ASCII lowercase of every byte.
static LOWER: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = (i as u8).to_ascii_lowercase();
        i += 1;
    }
    t
};

const HASH_BITS: u32 = 16;

fn hash(key: u32) -> usize {
    (key.wrapping_mul(0x9E37_79B1) >> (32 - HASH_BITS)) as usize
}

fn bit(table: &[u64], i: usize) -> bool {
    table.get(i / 64).is_some_and(|w| w & (1 << (i % 64)) != 0)
}

fn set_bit(table: &mut [u64], i: usize) {
    if let Some(w) = table.get_mut(i / 64) {
        *w |= 1 << (i % 64);
    }
}

/// Little-endian key of up to 4 bytes.
fn key(b: &[u8]) -> u32 {
    b.iter()
        .take(4)
        .enumerate()
        .fold(0u32, |k, (i, &c)| k | (u32::from(c) << (8 * i)))
}

/// Pattern ids by key: an open-addressing table over runs of a sorted
/// `(key, pattern)` list; one probe for most lookups.
#[derive(Debug, Clone, Default)]
struct Index {
    /// `(key, start, end)` of each run in `ids`; `end == 0`: empty slot.
    slots: Vec<(u32, u32, u32)>,
    ids: Vec<u32>,
}

impl Index {
    fn new(mut pairs: Vec<(u32, u32)>) -> Index {
        pairs.sort_unstable();
        let mut runs: Vec<(u32, u32, u32)> = Vec::new();
        for (i, &(k, _)) in pairs.iter().enumerate() {
            match runs.last_mut() {
                Some(r) if r.0 == k => r.2 = i as u32 + 1,
                _ => runs.push((k, i as u32, i as u32 + 1)),
            }
        }
        let size = (runs.len() * 2).next_power_of_two().max(2);
        let mut slots = vec![(0, 0, 0); size];
        for r in runs {
            let mut i = Self::home(r.0, size);
            while slots.get(i).is_some_and(|s| s.2 != 0) {
                i = (i + 1) & (size - 1);
            }
            if let Some(s) = slots.get_mut(i) {
                *s = r;
            }
        }
        Index {
            slots,
            ids: pairs.into_iter().map(|(_, p)| p).collect(),
        }
    }

    fn home(key: u32, size: usize) -> usize {
        (key.wrapping_mul(0x9E37_79B1).rotate_left(16) as usize) & (size - 1)
    }

    fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The patterns with this key.
    fn get(&self, key: u32) -> &[u32] {
        if self.ids.is_empty() {
            return &[];
        }
        let size = self.slots.len();
        let mut i = Self::home(key, size);
        loop {
            match self.slots.get(i) {
                Some(&(k, start, end)) if end != 0 => {
                    if k == key {
                        return self
                            .ids
                            .get(start as usize..end as usize)
                            .unwrap_or_default();
                    }
                    i = (i + 1) & (size - 1);
                }
                _ => return &[],
            }
        }
    }

    fn memory_usage(&self) -> usize {
        self.slots.len() * 12 + self.ids.len() * 4
    }
}

/// A set of lowercase patterns of 1 to [`MAX_LEN`] bytes.
#[derive(Debug, Clone)]
pub struct Matcher {
    /// The patterns, lowercase.
    pats: Vec<Box<[u8]>>,
    /// 1-byte patterns: `(byte, both cases, patterns)`; the byte is
    /// lowercase when both cases match.
    singles: Vec<(u8, bool, Vec<u32>)>,
    /// Where a longer pattern may start: its first two bytes.
    two: Box<[u64; 1024]>,
    /// The 2-byte patterns: exact bit per key, and the patterns by key.
    two_exact: Vec<u64>,
    two_pats: Index,
    /// 3-byte patterns, and the first 4 bytes of longer ones: hashed
    /// filter, then the patterns by key.
    three: Vec<u64>,
    three_pats: Index,
    four: Vec<u64>,
    four_pats: Index,
}

impl Default for Matcher {
    fn default() -> Matcher {
        Matcher::new([])
    }
}

impl Matcher {
    /// Builds from `(pattern, nocase)`; pattern `i` is reported as `i`.
    /// Empty patterns never match; longer ones are cut to [`MAX_LEN`].
    /// `nocase` matters for 1-byte patterns only (see [`Matcher::scan`]).
    pub fn new<'p>(patterns: impl IntoIterator<Item = (&'p [u8], bool)>) -> Matcher {
        let mut m = Matcher {
            pats: Vec::new(),
            singles: Vec::new(),
            two: Box::new([0; 1024]),
            two_exact: vec![0; 65536 / 64],
            two_pats: Index::default(),
            three: vec![0; (1 << HASH_BITS) / 64],
            three_pats: Index::default(),
            four: vec![0; (1 << HASH_BITS) / 64],
            four_pats: Index::default(),
        };
        let (mut twos, mut threes, mut fours) = (vec![], vec![], vec![]);
        for (i, (orig, nocase)) in patterns.into_iter().enumerate() {
            let p: Box<[u8]> = orig
                .iter()
                .take(MAX_LEN)
                .map(|&c| LOWER[c as usize])
                .collect();
            let id = i as u32;
            match p.len() {
                0 => {}
                1 => {
                    let b = orig.first().copied().unwrap_or_default();
                    let (b, nocase) = if nocase && b.is_ascii_alphabetic() {
                        (b.to_ascii_lowercase(), true)
                    } else {
                        (b, false)
                    };
                    match m.singles.iter_mut().find(|s| s.0 == b && s.1 == nocase) {
                        Some(s) => s.2.push(id),
                        None => m.singles.push((b, nocase, vec![id])),
                    }
                }
                n => {
                    let k = key(&p);
                    set_bit(&mut m.two[..], (k & 0xffff) as usize);
                    match n {
                        2 => {
                            set_bit(&mut m.two_exact, k as usize);
                            twos.push((k, id));
                        }
                        3 => {
                            set_bit(&mut m.three, hash(k));
                            threes.push((k, id));
                        }
                        _ => {
                            set_bit(&mut m.four, hash(k));
                            fours.push((k, id));
                        }
                    }
                }
            }
            m.pats.push(p);
        }
        m.two_pats = Index::new(twos);
        m.three_pats = Index::new(threes);
        m.four_pats = Index::new(fours);
        m
    }

    pub fn len(&self) -> usize {
        self.pats.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pats.is_empty()
    }

    /// Heap bytes held (for the load summary).
    pub fn memory_usage(&self) -> usize {
        self.pats.iter().map(|p| p.len() + 16).sum::<usize>()
            + (self.two.len() + self.two_exact.len() + self.three.len() + self.four.len()) * 8
            + self
                .singles
                .iter()
                .map(|s| 32 + s.2.len() * 4)
                .sum::<usize>()
            + self.two_pats.memory_usage()
            + self.three_pats.memory_usage()
            + self.four_pats.memory_usage()
    }

    /// Calls `found(pattern, start)` for every occurrence of every
    /// pattern of 2+ bytes in `buf`, ignoring ASCII case, and for the
    /// first occurrence of each 1-byte pattern (in its case unless it was
    /// given as nocase).
    pub fn scan(&self, buf: &[u8], mut found: impl FnMut(u32, usize)) {
        if self.pats.is_empty() {
            return;
        }
        // 1-byte patterns: only whether (and one place where) they occur
        // matters to the prefilter, and memchr finds the first one at
        // SIMD speed; reporting every occurrence would cost a lookup per
        // byte of binary data.
        for (b, nocase, ids) in &self.singles {
            let at = if *nocase {
                memchr::memchr2(*b, b.to_ascii_uppercase(), buf)
            } else {
                memchr::memchr(*b, buf)
            };
            if let Some(at) = at {
                ids.iter().for_each(|&p| found(p, at));
            }
        }
        if self.singles.iter().map(|s| s.2.len()).sum::<usize>() == self.pats.len() {
            return;
        }
        let two: &[u64; 1024] = &self.two;
        let Some((&first, rest)) = buf.split_first() else {
            return;
        };
        // Rolling key of the two bytes at `at`, lowercase.
        let mut prev = usize::from(LOWER[first as usize]);
        for (i, &c) in rest.iter().enumerate() {
            let cur = usize::from(LOWER[c as usize]);
            let k = prev | cur << 8;
            if two[k >> 6] & (1 << (k & 63)) != 0 {
                self.report_at(buf, i, &mut found);
            }
            prev = cur;
        }
    }

    /// Every pattern at `at` (the first two bytes passed `two`).
    fn report_at(&self, buf: &[u8], at: usize, found: &mut impl FnMut(u32, usize)) {
        let rest = buf.get(at..).unwrap_or_default();
        let k2 = lkey(rest, 2);
        if bit(&self.two_exact, k2 as usize) {
            for &p in self.two_pats.get(k2) {
                found(p, at);
            }
        }
        if rest.len() >= 3 && !self.three_pats.is_empty() {
            let k3 = lkey(rest, 3);
            if bit(&self.three, hash(k3)) {
                for &p in self.three_pats.get(k3) {
                    found(p, at);
                }
            }
        }
        if rest.len() >= 4 && !self.four_pats.is_empty() {
            let k4 = lkey(rest, 4);
            if bit(&self.four, hash(k4)) {
                for &p in self.four_pats.get(k4) {
                    let whole = self.pats.get(p as usize).is_some_and(|pat| {
                        rest.len() >= pat.len()
                            && pat.iter().zip(rest).all(|(&x, &r)| x == LOWER[r as usize])
                    });
                    if whole {
                        found(p, at);
                    }
                }
            }
        }
    }
}

/// Little-endian key of the first `n` (up to 4) bytes of `b`, lowercase.
fn lkey(b: &[u8], n: usize) -> u32 {
    b.iter()
        .take(n.min(4))
        .enumerate()
        .fold(0u32, |k, (i, &c)| {
            k | (u32::from(LOWER[c as usize]) << (8 * i))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every (pattern, start) by brute force (1-byte patterns: the first).
    fn naive(pats: &[&[u8]], buf: &[u8]) -> Vec<(u32, usize)> {
        let low: Vec<u8> = buf.to_ascii_lowercase();
        let mut v = Vec::new();
        for (i, p) in pats.iter().enumerate() {
            let p: Vec<u8> = p.iter().take(MAX_LEN).map(u8::to_ascii_lowercase).collect();
            if p.is_empty() {
                continue;
            }
            for s in 0..low.len() {
                if low[s..].starts_with(&p) {
                    v.push((i as u32, s));
                    if p.len() == 1 {
                        break;
                    }
                }
            }
        }
        v.sort_unstable();
        v
    }

    #[test]
    fn single_bytes_respect_case() {
        let m = Matcher::new([(&b"A"[..], false), (&b"b"[..], true), (&b"\x00"[..], true)]);
        assert_eq!(scan(&m, b"aaA"), vec![(0, 2)]);
        assert_eq!(scan(&m, b"xB\x00b"), vec![(1, 1), (2, 2)]);
        assert!(scan(&m, b"a").is_empty());
    }

    fn scan(m: &Matcher, buf: &[u8]) -> Vec<(u32, usize)> {
        let mut v = Vec::new();
        m.scan(buf, |p, at| v.push((p, at)));
        v.sort_unstable();
        v
    }

    #[test]
    fn finds_every_occurrence_of_every_length() {
        let pats: Vec<&[u8]> = vec![
            b"a",
            b"ab",
            b"abc",
            b"abcd",
            b"abcdefgh",
            b"abcdefghij",
            b"BC",
            b"\x00",
            b"\x00\x01",
            b"",
            b"zz",
            b"hij",
            b"xyzw",
        ];
        let m = Matcher::new(pats.iter().map(|p| (*p, true)));
        for buf in [
            &b"abcdefghij"[..],
            b"ABCDEFGHIJ abcd",
            b"a",
            b"",
            b"\x00\x01\x00",
            b"zzz xyzw XYZW hij",
            b"bcbcbc",
        ] {
            assert_eq!(scan(&m, buf), naive(&pats, buf), "{buf:?}");
        }
    }

    #[test]
    fn agrees_with_brute_force_on_random_input() {
        let mut x = 0x1234_5678_9abc_def0u64;
        let mut rnd = |n: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % n
        };
        // A small alphabet so that patterns occur often.
        let alpha = b"aAbB\x00\xff-";
        let mut owned = Vec::new();
        for _ in 0..300 {
            let len = 1 + rnd(10) as usize;
            let p: Vec<u8> = (0..len)
                .map(|_| alpha[rnd(alpha.len() as u64) as usize])
                .collect();
            owned.push(p);
        }
        let pats: Vec<&[u8]> = owned.iter().map(|p| &p[..]).collect();
        let m = Matcher::new(pats.iter().map(|p| (*p, true)));
        for _ in 0..200 {
            let len = rnd(64) as usize;
            let buf: Vec<u8> = (0..len)
                .map(|_| alpha[rnd(alpha.len() as u64) as usize])
                .collect();
            assert_eq!(scan(&m, &buf), naive(&pats, &buf), "{buf:?}");
        }
    }
}
