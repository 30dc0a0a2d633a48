//! `threshold` and `detection_filter`: how often a matching rule may
//! alert, counted per tracked address (or per rule) in a time window.
//!
//! The counters live in a [`ThresholdState`] owned by one capture thread
//! (inside its [`super::Matches`]), so counts are per thread: a source
//! whose packets are spread over several threads is counted on each.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Counters kept per thread at most; beyond this, expired entries are
/// dropped, and if that frees too little, all counters restart.
pub const MAX_ENTRIES: usize = 65_536;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThresholdType {
    /// Alert on the first `count` matches per window.
    Limit,
    /// Alert on every `count`-th match within a window.
    Threshold,
    /// Alert once per window, when the `count`-th match happens.
    Both,
    /// `detection_filter`: alert on every match after the first `count`
    /// within a window.
    DetectionFilter,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Track {
    BySrc,
    ByDst,
    ByRule,
    ByBoth,
}

/// A rule's `threshold` or `detection_filter`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Threshold {
    pub kind: ThresholdType,
    pub track: Track,
    pub count: u32,
    pub seconds: u32,
}

/// Why a `threshold`/`detection_filter`/`flowbits` value was not taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OptError {
    Invalid(String),
    /// Valid, but a variant this engine does not implement.
    Unsupported(String),
}

/// Parses `type T, track X, count N, seconds S` (no `type` for
/// `detection_filter`), in any order.
pub fn parse(v: &str, detection_filter: bool) -> Result<Threshold, OptError> {
    let inv = |s: String| OptError::Invalid(s);
    let mut kind = detection_filter.then_some(ThresholdType::DetectionFilter);
    let (mut track, mut count, mut seconds) = (None, None, None);
    for part in v.split(',') {
        let part = part.trim();
        let (k, val) = part
            .split_once(char::is_whitespace)
            .map(|(k, v)| (k, v.trim()))
            .ok_or_else(|| inv(format!("`{part}` is not `name value`")))?;
        match k {
            "type" if !detection_filter => {
                kind = Some(match val {
                    "limit" => ThresholdType::Limit,
                    "threshold" => ThresholdType::Threshold,
                    "both" => ThresholdType::Both,
                    "backoff" => {
                        return Err(OptError::Unsupported("threshold type backoff".into()))
                    }
                    _ => {
                        return Err(inv(format!(
                            "unknown type `{val}` (limit, threshold, both)"
                        )))
                    }
                })
            }
            "track" => {
                track = Some(match val {
                    "by_src" => Track::BySrc,
                    "by_dst" => Track::ByDst,
                    "by_rule" => Track::ByRule,
                    "by_both" => Track::ByBoth,
                    "by_flow" => return Err(OptError::Unsupported("track by_flow".into())),
                    _ => {
                        return Err(inv(format!(
                            "unknown track `{val}` (by_src, by_dst, by_rule, by_both)"
                        )))
                    }
                })
            }
            "count" | "seconds" => {
                let n: u32 = val
                    .parse()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| inv(format!("{k} `{val}` is not a number above 0")))?;
                if k == "count" {
                    count = Some(n);
                } else {
                    seconds = Some(n);
                }
            }
            _ => return Err(inv(format!("unknown setting `{k}`"))),
        }
    }
    Ok(Threshold {
        kind: kind.ok_or_else(|| inv("`type` missing".into()))?,
        track: track.ok_or_else(|| inv("`track` missing".into()))?,
        count: count.ok_or_else(|| inv("`count` missing".into()))?,
        seconds: seconds.ok_or_else(|| inv("`seconds` missing".into()))?,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum TrackKey {
    Addr(IpAddr),
    Pair(IpAddr, IpAddr),
    Rule,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    first: Instant,
    window: Duration,
    count: u32,
}

/// Per-thread threshold counters (one per rule and tracked key).
#[derive(Debug, Default)]
pub struct ThresholdState {
    /// The engine these rule indices belong to (counters restart when the
    /// engine changes).
    engine: u64,
    map: HashMap<(u32, TrackKey), Entry>,
}

impl ThresholdState {
    pub fn new() -> ThresholdState {
        ThresholdState::default()
    }

    /// Number of live counters.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Forgets counters of another engine.
    pub(super) fn bind(&mut self, engine: u64) {
        if self.engine != engine {
            self.map.clear();
            self.engine = engine;
        }
    }

    /// Counts one match of `rule` for the packet `src -> dst` at `now`;
    /// true when it may alert.
    pub fn allow(
        &mut self,
        rule: u32,
        t: &Threshold,
        src: IpAddr,
        dst: IpAddr,
        now: Instant,
    ) -> bool {
        let key = match t.track {
            Track::BySrc => TrackKey::Addr(src),
            Track::ByDst => TrackKey::Addr(dst),
            Track::ByBoth => TrackKey::Pair(src, dst),
            Track::ByRule => TrackKey::Rule,
        };
        let window = Duration::from_secs(u64::from(t.seconds));
        if self.map.len() >= MAX_ENTRIES && !self.map.contains_key(&(rule, key)) {
            self.evict(now);
        }
        let e = self.map.entry((rule, key)).or_insert(Entry {
            first: now,
            window,
            count: 0,
        });
        let within = now.saturating_duration_since(e.first) < window;
        if within {
            e.count = e.count.saturating_add(1);
        } else {
            e.first = now;
            e.count = 1;
        }
        match t.kind {
            ThresholdType::Limit => e.count <= t.count,
            ThresholdType::Threshold => {
                if e.count >= t.count {
                    e.count = 0;
                    true
                } else {
                    false
                }
            }
            ThresholdType::Both => e.count == t.count,
            ThresholdType::DetectionFilter => e.count > t.count,
        }
    }

    fn evict(&mut self, now: Instant) {
        self.map
            .retain(|_, e| now.saturating_duration_since(e.first) < e.window);
        if self.map.len() > MAX_ENTRIES * 3 / 4 {
            tracing::debug!(
                entries = self.map.len(),
                "threshold table full of live counters; restarting all counters"
            );
            self.map.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn run(t: Threshold, times: &[u64]) -> Vec<bool> {
        let mut st = ThresholdState::new();
        let t0 = Instant::now();
        times
            .iter()
            .map(|s| {
                st.allow(
                    1,
                    &t,
                    ip("192.0.2.1"),
                    ip("192.0.2.2"),
                    t0 + Duration::from_secs(*s),
                )
            })
            .collect()
    }

    fn th(kind: ThresholdType, count: u32, seconds: u32) -> Threshold {
        Threshold {
            kind,
            track: Track::BySrc,
            count,
            seconds,
        }
    }

    #[test]
    fn parse_forms() {
        assert_eq!(
            parse("type both, track by_src, count 5, seconds 120", false),
            Ok(th(ThresholdType::Both, 5, 120))
        );
        assert_eq!(
            parse("type limit,track by_src,count 1,seconds 120", false),
            Ok(th(ThresholdType::Limit, 1, 120))
        );
        assert_eq!(
            parse("track by_src, count 3, seconds 60", true),
            Ok(th(ThresholdType::DetectionFilter, 3, 60))
        );
        assert!(matches!(
            parse("type limit, track by_flow, count 1, seconds 1", false),
            Err(OptError::Unsupported(_))
        ));
        for bad in [
            "type x, track by_src, count 1, seconds 1",
            "type limit, track by_src, count 0, seconds 1",
            "type limit, track by_src, seconds 1",
            "track by_src, count 1, seconds 1",
            "type limit, track by_src, count 1, seconds 1, foo 2",
        ] {
            assert!(
                matches!(parse(bad, false), Err(OptError::Invalid(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn limit_threshold_both_filter() {
        let t = |v: &[u64], k, c| run(th(k, c, 10), v);
        use ThresholdType::*;
        assert_eq!(
            t(&[0, 1, 2, 3, 11, 12], Limit, 2),
            vec![true, true, false, false, true, true]
        );
        assert_eq!(
            t(&[0, 1, 2, 3, 4, 5, 6], Threshold, 3),
            vec![false, false, true, false, false, true, false]
        );
        assert_eq!(
            t(&[0, 1, 2, 3, 4, 12, 13, 14], Both, 3),
            vec![false, false, true, false, false, false, false, true]
        );
        assert_eq!(
            t(&[0, 1, 2, 3, 4, 20], DetectionFilter, 2),
            vec![false, false, true, true, true, false]
        );
    }

    #[test]
    fn tracking_keys_are_separate() {
        let mut st = ThresholdState::new();
        let t = th(ThresholdType::Limit, 1, 60);
        let now = Instant::now();
        let (a, b, c) = (ip("192.0.2.1"), ip("192.0.2.2"), ip("192.0.2.3"));
        assert!(st.allow(1, &t, a, c, now));
        assert!(!st.allow(1, &t, a, b, now));
        assert!(st.allow(1, &t, b, c, now));
        assert!(st.allow(2, &t, a, c, now));
        let by_rule = Threshold {
            track: Track::ByRule,
            ..t
        };
        assert!(st.allow(3, &by_rule, a, c, now));
        assert!(!st.allow(3, &by_rule, b, c, now));
        let by_dst = Threshold {
            track: Track::ByDst,
            ..t
        };
        assert!(st.allow(4, &by_dst, a, c, now));
        assert!(!st.allow(4, &by_dst, b, c, now));
    }

    #[test]
    fn table_is_bounded() {
        let mut st = ThresholdState::new();
        let t = th(ThresholdType::Limit, 1, 60);
        let now = Instant::now();
        for i in 0..(MAX_ENTRIES as u32 + 10) {
            let src = IpAddr::from(i.to_be_bytes());
            st.allow(1, &t, src, src, now);
        }
        assert!(st.len() <= MAX_ENTRIES);
    }
}
