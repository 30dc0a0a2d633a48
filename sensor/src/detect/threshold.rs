//! Alert limits: the `threshold` and `detection_filter` rule keywords and
//! the `threshold.config` entries (`threshold`/`event_filter`, `suppress`,
//! `rate_filter`) that attach to rules, with Suricata 7's semantics
//! (`detect-engine-threshold.c`, `util-threshold-config.c`).
//!
//! Each rule carries its [`Limits`]: suppressions first, then filters in
//! order. When a rule matches, [`ThresholdState::decide`] turns them into
//! a [`Decision`]: alert (possibly with a rate_filter's new action), a
//! silent match (no alert, the action still applies), or nothing. Windows
//! are measured in packet time.
//!
//! The counters live in a [`ThresholdState`] owned by one capture thread
//! (inside its [`super::Matches`]), so counts are per thread: a source
//! whose packets are spread over several threads is counted on each.

pub mod config;
mod state;

use std::net::IpAddr;

pub use state::{Subject, ThresholdState, MAX_ENTRIES};

use super::address::{self, AddrExpr};
use crate::action::{Action, RejectTarget};

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
    /// `rate_filter` (threshold.config only): past `count` matches in a
    /// window, the rule's action becomes `new_action` for `timeout`
    /// seconds.
    Rate(RateFilter),
}

/// The part of a `rate_filter` beyond count and window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateFilter {
    pub new_action: NewAction,
    pub timeout: u32,
}

/// A `rate_filter`'s `new_action`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NewAction {
    Alert,
    Drop,
    Reject,
    Pass,
    /// Accepted but, as in Suricata 7, without effect.
    Log,
    /// Accepted but, as in Suricata 7, without effect.
    Sdrop,
}

impl NewAction {
    fn parse(s: &str) -> Option<NewAction> {
        Some(match s {
            "alert" => NewAction::Alert,
            "drop" => NewAction::Drop,
            "reject" => NewAction::Reject,
            "pass" => NewAction::Pass,
            "log" => NewAction::Log,
            "sdrop" => NewAction::Sdrop,
            _ => return None,
        })
    }

    /// The action it puts on the alert (None: the rule's own stays).
    pub fn action(self) -> Option<Action> {
        match self {
            NewAction::Alert => Some(Action::Alert),
            NewAction::Drop => Some(Action::Drop),
            NewAction::Reject => Some(Action::Reject(RejectTarget::Src)),
            NewAction::Pass => Some(Action::Pass),
            NewAction::Log | NewAction::Sdrop => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Track {
    BySrc,
    ByDst,
    ByRule,
    /// The address pair, in either direction.
    ByBoth,
}

impl Track {
    fn parse(s: &str) -> Option<Track> {
        Some(match s {
            "by_src" => Track::BySrc,
            "by_dst" => Track::ByDst,
            "by_rule" => Track::ByRule,
            "by_both" => Track::ByBoth,
            _ => return None,
        })
    }
}

/// A rule's `threshold` or `detection_filter`, or a threshold.config
/// `threshold`/`event_filter`/`rate_filter`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Threshold {
    pub kind: ThresholdType,
    pub track: Track,
    pub count: u32,
    pub seconds: u32,
}

/// Which address of the packet a `suppress` looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SuppressTrack {
    BySrc,
    ByDst,
    /// Source or destination.
    ByEither,
}

/// A threshold.config `suppress` with an address list: matches from (or
/// to) these addresses give no alert; the rule's action still applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suppress {
    pub track: SuppressTrack,
    pub addrs: AddrExpr,
}

impl Suppress {
    /// True when a match on `src -> dst` is suppressed.
    pub fn hides(&self, src: IpAddr, dst: IpAddr) -> bool {
        match self.track {
            SuppressTrack::BySrc => address::matches(&self.addrs, src),
            SuppressTrack::ByDst => address::matches(&self.addrs, dst),
            SuppressTrack::ByEither => {
                address::matches(&self.addrs, src) || address::matches(&self.addrs, dst)
            }
        }
    }
}

/// Everything that limits one rule's alerts, in evaluation order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Limits {
    pub suppress: Vec<Suppress>,
    /// The rule's own `threshold`/`detection_filter` and threshold.config
    /// filters, in the order Suricata evaluates them.
    pub filters: Vec<Threshold>,
}

impl Limits {
    pub fn is_empty(&self) -> bool {
        self.suppress.is_empty() && self.filters.is_empty()
    }
}

/// What the limits make of one match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Alert and apply the action: the rule's, or a rate_filter's
    /// replacement (`Some`).
    Alert(Option<Action>),
    /// No alert record, but the action applies (suppressed, or past a
    /// `limit`/`both` count).
    Silent(Option<Action>),
    /// Neither alert nor action (a count not reached yet).
    Discard,
}

impl Decision {
    /// The rate_filter's replacement action, if any.
    pub fn new_action(self) -> Option<Action> {
        match self {
            Decision::Alert(a) | Decision::Silent(a) => a,
            Decision::Discard => None,
        }
    }
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
                track = Some(match Track::parse(val) {
                    // Suricata 7's detection_filter counts per address.
                    Some(Track::ByRule | Track::ByBoth) if detection_filter => {
                        return Err(inv(format!(
                            "detection_filter tracks by_src or by_dst, not `{val}`"
                        )))
                    }
                    Some(t) => t,
                    None if val == "by_flow" => {
                        return Err(OptError::Unsupported("track by_flow".into()))
                    }
                    None => {
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

#[cfg(test)]
mod tests {
    use super::*;

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
        assert!(matches!(
            parse("track by_rule, count 3, seconds 60", true),
            Err(OptError::Invalid(_))
        ));
    }

    #[test]
    fn suppress_tracks() {
        let addrs = address::parse("192.0.2.0/24", &|_| None).unwrap();
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let (inside, outside) = (ip("192.0.2.7"), ip("198.51.100.1"));
        let s = |track| Suppress {
            track,
            addrs: addrs.clone(),
        };
        assert!(s(SuppressTrack::BySrc).hides(inside, outside));
        assert!(!s(SuppressTrack::BySrc).hides(outside, inside));
        assert!(s(SuppressTrack::ByDst).hides(outside, inside));
        assert!(s(SuppressTrack::ByEither).hides(outside, inside));
        assert!(s(SuppressTrack::ByEither).hides(inside, outside));
        assert!(!s(SuppressTrack::ByEither).hides(outside, outside));
    }

    #[test]
    fn new_actions() {
        assert_eq!(
            NewAction::parse("drop").and_then(NewAction::action),
            Some(Action::Drop)
        );
        assert_eq!(
            NewAction::parse("reject").and_then(NewAction::action),
            Some(Action::Reject(RejectTarget::Src))
        );
        assert_eq!(NewAction::parse("sdrop").and_then(NewAction::action), None);
        assert_eq!(NewAction::parse("block"), None);
    }
}
