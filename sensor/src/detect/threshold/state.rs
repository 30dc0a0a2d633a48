//! The counters behind [`Limits`]: one entry per tracked address (or
//! address pair, or rule) and rule, as Suricata keeps them in its host,
//! IP-pair and per-rule tables, timed by packet timestamps.

use std::collections::HashMap;
use std::net::IpAddr;

use super::{Decision, Limits, RateFilter, Threshold, ThresholdType, Track};
use crate::action::Action;
use crate::packet::Timestamp;

/// Counters kept per thread at most; beyond this, expired entries are
/// dropped, and if that frees too little, all counters restart.
pub const MAX_ENTRIES: usize = 65_536;

const MICROS: i64 = 1_000_000;

/// One match to decide on.
#[derive(Debug, Clone, Copy)]
pub struct Subject {
    /// The rule's index in its engine (the key of `by_rule` counters).
    pub rule: u32,
    pub sid: u32,
    pub gid: u32,
    /// The match's source and destination (oriented like the matched
    /// data).
    pub src: IpAddr,
    pub dst: IpAddr,
    /// Packet time.
    pub ts: Timestamp,
}

/// Where a counter lives. Address entries are keyed by the rule's
/// gid:sid (not by how they track), as Suricata's host storage is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Key {
    Host(IpAddr, u32, u32),
    /// Lower address first: a pair is the same in both directions.
    Pair(IpAddr, IpAddr, u32, u32),
    Rule(u32),
}

impl Key {
    fn of(track: Track, s: &Subject) -> Key {
        match track {
            Track::BySrc => Key::Host(s.src, s.gid, s.sid),
            Track::ByDst => Key::Host(s.dst, s.gid, s.sid),
            Track::ByBoth => {
                let (a, b) = if s.src <= s.dst {
                    (s.src, s.dst)
                } else {
                    (s.dst, s.src)
                };
                Key::Pair(a, b, s.gid, s.sid)
            }
            Track::ByRule => Key::Rule(s.rule),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    /// Start of the current window (µs since the epoch).
    first: i64,
    count: u32,
    /// The window length the entry was made with (for eviction).
    seconds: u32,
    /// rate_filter: second at which the new action took effect.
    rate_since: Option<i64>,
    /// rate_filter: how long the new action lasts (for eviction).
    rate_timeout: u32,
}

impl Entry {
    fn new(t: &Threshold, at: i64) -> Entry {
        Entry {
            first: at,
            count: 1,
            seconds: t.seconds,
            rate_since: None,
            rate_timeout: match t.kind {
                ThresholdType::Rate(r) => r.timeout,
                _ => 0,
            },
        }
    }

    /// `at` is within `seconds` of the window start (inclusive, as
    /// Suricata's `SCTIME_CMP_LTE`).
    fn within(&self, seconds: u32, at: i64) -> bool {
        at <= self.first.saturating_add(i64::from(seconds) * MICROS)
    }

    fn restart(&mut self, at: i64) {
        self.first = at;
        self.count = 1;
    }

    /// Still needed at `at` (its window or its rate timeout is open).
    fn live(&self, at: i64) -> bool {
        self.within(self.seconds, at)
            || self
                .rate_since
                .is_some_and(|since| at / MICROS - since <= i64::from(self.rate_timeout))
    }
}

/// Per-thread threshold counters.
#[derive(Debug, Default)]
pub struct ThresholdState {
    /// The engine these rule indices belong to (counters restart when the
    /// engine changes).
    engine: u64,
    map: HashMap<Key, Entry>,
}

/// What one filter says (Suricata's 0/1/2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Alert,
    Silent,
    Discard,
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
    pub(in crate::detect) fn bind(&mut self, engine: u64) {
        if self.engine != engine {
            self.map.clear();
            self.engine = engine;
        }
    }

    /// Decides one match of a rule with these limits: suppressions first,
    /// then each filter in order until one withholds the alert.
    pub fn decide(&mut self, limits: &Limits, s: &Subject) -> Decision {
        if limits.suppress.iter().any(|sup| sup.hides(s.src, s.dst)) {
            return Decision::Silent(None);
        }
        let mut new_action = None;
        for t in &limits.filters {
            match self.step(t, s, &mut new_action) {
                Step::Alert => {}
                Step::Silent => return Decision::Silent(new_action),
                Step::Discard => return Decision::Discard,
            }
        }
        Decision::Alert(new_action)
    }

    fn step(&mut self, t: &Threshold, s: &Subject, new_action: &mut Option<Action>) -> Step {
        let at = s.ts.as_micros();
        let key = Key::of(t.track, s);
        if self.map.len() >= MAX_ENTRIES && !self.map.contains_key(&key) {
            self.evict(at);
        }
        let Some(e) = self.map.get_mut(&key) else {
            // A first match: Suricata keeps no entry for a `threshold` of
            // count 1 (every match alerts).
            let first = match t.kind {
                ThresholdType::Limit | ThresholdType::Rate(_) => Step::Alert,
                ThresholdType::Threshold | ThresholdType::Both if t.count == 1 => Step::Alert,
                ThresholdType::Threshold | ThresholdType::Both => Step::Discard,
                ThresholdType::DetectionFilter => Step::Discard,
            };
            if !(t.kind == ThresholdType::Threshold && t.count == 1) {
                self.map.insert(key, Entry::new(t, at));
            }
            return first;
        };
        let within = e.within(t.seconds, at);
        match t.kind {
            ThresholdType::Limit => {
                if within {
                    e.count = e.count.saturating_add(1);
                    if e.count <= t.count {
                        Step::Alert
                    } else {
                        Step::Silent
                    }
                } else {
                    e.restart(at);
                    Step::Alert
                }
            }
            ThresholdType::Threshold => {
                if within {
                    e.count = e.count.saturating_add(1);
                    if e.count >= t.count {
                        e.count = 0;
                        return Step::Alert;
                    }
                } else {
                    e.restart(at);
                }
                Step::Discard
            }
            ThresholdType::Both => {
                if within {
                    e.count = e.count.saturating_add(1);
                    if e.count == t.count {
                        Step::Alert
                    } else if e.count > t.count {
                        Step::Silent
                    } else {
                        Step::Discard
                    }
                } else {
                    e.restart(at);
                    if t.count == 1 {
                        Step::Alert
                    } else {
                        Step::Discard
                    }
                }
            }
            ThresholdType::DetectionFilter => {
                if within {
                    e.count = e.count.saturating_add(1);
                    if e.count > t.count {
                        return Step::Alert;
                    }
                } else {
                    e.restart(at);
                }
                Step::Discard
            }
            ThresholdType::Rate(r) => {
                if rate_reached(e, t, r, at) {
                    if let Some(a) = r.new_action.action() {
                        *new_action = Some(a);
                    }
                }
                Step::Alert
            }
        }
    }

    fn evict(&mut self, at: i64) {
        self.map.retain(|_, e| e.live(at));
        if self.map.len() > MAX_ENTRIES * 3 / 4 {
            tracing::debug!(
                entries = self.map.len(),
                "threshold table full of live counters; restarting all counters"
            );
            self.map.clear();
        }
    }
}

/// Suricata's `IsThresholdReached`: once more than `count` matches fell in
/// a window, the new action holds for `timeout` seconds (whole seconds).
fn rate_reached(e: &mut Entry, t: &Threshold, r: RateFilter, at: i64) -> bool {
    let secs = at.div_euclid(MICROS);
    if let Some(since) = e.rate_since {
        if secs - since > i64::from(r.timeout) {
            e.rate_since = None;
            return false;
        }
        return true;
    }
    if e.within(t.seconds, at) {
        e.count = e.count.saturating_add(1);
        if e.count > t.count {
            e.rate_since = Some(secs);
            return true;
        }
    } else {
        e.restart(at);
    }
    false
}

#[cfg(test)]
mod tests {
    use super::super::{NewAction, Suppress, SuppressTrack};
    use super::*;
    use crate::action::RejectTarget;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn subject(src: &str, dst: &str, secs: i64) -> Subject {
        Subject {
            rule: 0,
            sid: 1,
            gid: 1,
            src: ip(src),
            dst: ip(dst),
            ts: Timestamp { secs, micros: 0 },
        }
    }

    fn limits(kind: ThresholdType, track: Track, count: u32, seconds: u32) -> Limits {
        Limits {
            suppress: Vec::new(),
            filters: vec![Threshold {
                kind,
                track,
                count,
                seconds,
            }],
        }
    }

    /// Decisions for matches from one source at these seconds.
    fn run(kind: ThresholdType, count: u32, times: &[i64]) -> Vec<Decision> {
        let mut st = ThresholdState::new();
        let l = limits(kind, Track::BySrc, count, 10);
        times
            .iter()
            .map(|t| st.decide(&l, &subject("192.0.2.1", "192.0.2.2", 1_000 + t)))
            .collect()
    }

    const A: Decision = Decision::Alert(None);
    const S: Decision = Decision::Silent(None);
    const D: Decision = Decision::Discard;

    #[test]
    fn limit_alerts_first_count_then_silent() {
        // The window includes its last second (10 s after the start).
        assert_eq!(
            run(ThresholdType::Limit, 2, &[0, 1, 2, 10, 11, 12]),
            vec![A, A, S, S, A, A]
        );
    }

    #[test]
    fn threshold_alerts_every_count_th() {
        assert_eq!(
            run(ThresholdType::Threshold, 3, &[0, 1, 2, 3, 4, 5, 6]),
            vec![D, D, A, D, D, A, D]
        );
        assert_eq!(run(ThresholdType::Threshold, 1, &[0, 0]), vec![A, A]);
    }

    #[test]
    fn both_alerts_once_then_silent() {
        assert_eq!(
            run(ThresholdType::Both, 3, &[0, 1, 2, 3, 4, 12, 13, 14]),
            vec![D, D, A, S, S, D, D, A]
        );
        assert_eq!(run(ThresholdType::Both, 1, &[0, 1, 20]), vec![A, S, A]);
    }

    #[test]
    fn detection_filter_alerts_after_count() {
        assert_eq!(
            run(ThresholdType::DetectionFilter, 2, &[0, 1, 2, 3, 4, 20]),
            vec![D, D, A, A, A, D]
        );
    }

    #[test]
    fn rate_filter_changes_the_action_until_its_timeout() {
        let rate = ThresholdType::Rate(RateFilter {
            new_action: NewAction::Drop,
            timeout: 5,
        });
        let drop = Decision::Alert(Some(Action::Drop));
        // count 1: the second match in the window switches; the switch
        // holds for 5 s; the window's count goes on meanwhile.
        assert_eq!(
            run(rate, 1, &[0, 1, 2, 6, 7, 8, 20, 21, 22]),
            vec![A, drop, drop, drop, A, drop, A, A, drop]
        );
        let reject = ThresholdType::Rate(RateFilter {
            new_action: NewAction::Reject,
            timeout: 5,
        });
        assert_eq!(
            run(reject, 1, &[0, 1])[1],
            Decision::Alert(Some(Action::Reject(RejectTarget::Src)))
        );
        let log = ThresholdType::Rate(RateFilter {
            new_action: NewAction::Log,
            timeout: 5,
        });
        assert_eq!(run(log, 1, &[0, 1, 2]), vec![A, A, A]);
    }

    #[test]
    fn tracking_keys() {
        let mut st = ThresholdState::new();
        let one = |track| limits(ThresholdType::Limit, track, 1, 60);
        let (a, b, c) = ("192.0.2.1", "192.0.2.2", "192.0.2.3");
        let by_src = one(Track::BySrc);
        assert_eq!(st.decide(&by_src, &subject(a, c, 0)), A);
        assert_eq!(st.decide(&by_src, &subject(a, b, 0)), S);
        assert_eq!(st.decide(&by_src, &subject(b, c, 0)), A);
        // Another sid has its own counters.
        let other = Subject {
            sid: 2,
            rule: 1,
            ..subject(a, c, 0)
        };
        assert_eq!(st.decide(&by_src, &other), A);
        let mut st = ThresholdState::new();
        let by_dst = one(Track::ByDst);
        assert_eq!(st.decide(&by_dst, &subject(a, c, 0)), A);
        assert_eq!(st.decide(&by_dst, &subject(b, c, 0)), S);
        let mut st = ThresholdState::new();
        let by_rule = one(Track::ByRule);
        assert_eq!(st.decide(&by_rule, &subject(a, c, 0)), A);
        assert_eq!(st.decide(&by_rule, &subject(b, a, 0)), S);
        // A pair is the same both ways.
        let mut st = ThresholdState::new();
        let by_both = one(Track::ByBoth);
        assert_eq!(st.decide(&by_both, &subject(a, b, 0)), A);
        assert_eq!(st.decide(&by_both, &subject(b, a, 0)), S);
        assert_eq!(st.decide(&by_both, &subject(a, c, 0)), A);
    }

    #[test]
    fn suppress_comes_first_and_keeps_the_action() {
        let mut st = ThresholdState::new();
        let mut l = limits(ThresholdType::Limit, Track::BySrc, 1, 60);
        l.suppress.push(Suppress {
            track: SuppressTrack::BySrc,
            addrs: crate::detect::address::parse("192.0.2.1", &|_| None).unwrap(),
        });
        assert_eq!(st.decide(&l, &subject("192.0.2.1", "192.0.2.9", 0)), S);
        // The suppressed match did not count.
        assert_eq!(st.decide(&l, &subject("192.0.2.9", "192.0.2.1", 0)), A);
        assert!(st.len() == 1);
    }

    #[test]
    fn first_filter_that_withholds_stops() {
        let mut st = ThresholdState::new();
        let rate = Threshold {
            kind: ThresholdType::Rate(RateFilter {
                new_action: NewAction::Drop,
                timeout: 60,
            }),
            track: Track::ByRule,
            count: 1,
            seconds: 60,
        };
        let limit = Threshold {
            kind: ThresholdType::Limit,
            track: Track::BySrc,
            count: 1,
            seconds: 60,
        };
        let l = Limits {
            suppress: Vec::new(),
            filters: vec![rate, limit],
        };
        let s = subject("192.0.2.1", "192.0.2.2", 0);
        assert_eq!(st.decide(&l, &s), A);
        assert_eq!(st.decide(&l, &s), Decision::Silent(Some(Action::Drop)));
    }

    #[test]
    fn table_is_bounded() {
        let mut st = ThresholdState::new();
        let l = limits(ThresholdType::Limit, Track::BySrc, 1, 60);
        for i in 0..(MAX_ENTRIES as u32 + 10) {
            let src = IpAddr::from(i.to_be_bytes());
            let s = Subject {
                src,
                dst: src,
                ..subject("192.0.2.1", "192.0.2.2", 0)
            };
            st.decide(&l, &s);
        }
        assert!(st.len() <= MAX_ENTRIES);
    }
}
