//! Heuristic rules: matchers on one event field, invert mode, thresholds
//! per (rule, address) over a sliding window, and escalation of repeat
//! offenders' ban durations.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::time::{Duration, Instant};

use regex::Regex;
use serde_json::Value;

use crate::event::{self, FieldPath};

/// String tests on a field's text. The rule's matcher matches when any of
/// its tests does (exact OR prefix OR contains OR regex).
#[derive(Debug, Clone)]
pub struct Matcher {
    /// Patterns, lower-cased when `nocase`.
    pub exact: Vec<String>,
    pub prefix: Vec<String>,
    pub contains: Vec<String>,
    /// Compiled with case-insensitivity when `nocase`.
    pub regex: Option<Regex>,
    pub nocase: bool,
}

impl Matcher {
    pub fn is_empty(&self) -> bool {
        self.exact.is_empty()
            && self.prefix.is_empty()
            && self.contains.is_empty()
            && self.regex.is_none()
    }

    pub fn matches(&self, text: &str) -> bool {
        if let Some(re) = &self.regex {
            if re.is_match(text) {
                return true;
            }
        }
        if self.exact.is_empty() && self.prefix.is_empty() && self.contains.is_empty() {
            return false;
        }
        let lowered;
        let t: &str = if self.nocase {
            lowered = text.to_lowercase();
            &lowered
        } else {
            text
        };
        self.exact.iter().any(|p| t == p)
            || self.prefix.iter().any(|p| t.starts_with(p.as_str()))
            || self.contains.iter().any(|p| t.contains(p.as_str()))
    }
}

/// `threshold = { count = 3, within = "10m" }`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Threshold {
    pub count: u32,
    pub within: Duration,
}

/// `escalate = { factor = 2, max = "7d" }`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Escalate {
    pub factor: f64,
    pub max: Duration,
}

/// One validated `[[rule]]`.
#[derive(Debug, Clone)]
pub struct Rule {
    pub name: String,
    /// Only events of this `event_type`; `None` = any type.
    pub event: Option<String>,
    pub field: FieldPath,
    /// Where the address to ban is (default `src_ip`).
    pub ip_field: FieldPath,
    pub matcher: Matcher,
    /// Fire when the matcher does NOT match (the original DOM's `-i`).
    pub invert: bool,
    pub ban: Duration,
    pub threshold: Option<Threshold>,
    pub escalate: Option<Escalate>,
}

/// What a rule saw in an event that made it fire.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub ip: IpAddr,
    /// The field's text (e.g. the client software version).
    pub value: String,
}

impl Rule {
    /// Whether this rule fires on `ev` (before thresholds). A missing field
    /// never fires, inverted or not: absence is not evidence. An array
    /// field fires when any element matches (inverted: when none does).
    pub fn evaluate(&self, ev: &Value, ev_type: Option<&str>) -> Option<Hit> {
        if let Some(want) = &self.event {
            if ev_type != Some(want.as_str()) {
                return None;
            }
        }
        let v = self.field.get(ev)?;
        let (matched, text) = match v {
            Value::Array(items) => {
                let texts: Vec<_> = items.iter().filter_map(event::scalar_text).collect();
                if texts.is_empty() {
                    return None;
                }
                let found = texts.iter().find(|t| self.matcher.matches(t));
                match found {
                    Some(t) => (true, t.to_string()),
                    None => (
                        false,
                        texts.first().map(|t| t.to_string()).unwrap_or_default(),
                    ),
                }
            }
            other => {
                let t = event::scalar_text(other)?;
                (self.matcher.matches(&t), t.into_owned())
            }
        };
        if matched == self.invert {
            return None;
        }
        let ip = event::ip_at(ev, &self.ip_field)?;
        Some(Hit { ip, value: text })
    }

    /// Ban length for an address that was banned `previous` times before:
    /// `ban * factor^previous`, at most `max` (never below `ban`).
    pub fn ban_duration(&self, previous: u32) -> Duration {
        escalated(self.ban, self.escalate.as_ref(), previous)
    }
}

/// `base * factor^previous`, capped at `max`.
pub fn escalated(base: Duration, esc: Option<&Escalate>, previous: u32) -> Duration {
    let Some(e) = esc else { return base };
    if previous == 0 {
        return base.min(e.max.max(base));
    }
    let exp = i32::try_from(previous).unwrap_or(i32::MAX);
    let mult = e.factor.powi(exp);
    let secs = base.as_secs_f64() * mult;
    let cap = e.max.max(base);
    if !secs.is_finite() || secs >= cap.as_secs_f64() {
        cap
    } else {
        Duration::from_secs_f64(secs.max(0.0)).max(base)
    }
}

/// Hit counters per (rule name, address) over a sliding window.
/// Bounded: when more than `max_keys` addresses are tracked, stale ones are
/// pruned, and if that is not enough the oldest-looking half is dropped.
#[derive(Debug, Default)]
pub struct Thresholds {
    per_rule: HashMap<String, HashMap<IpAddr, VecDeque<Instant>>>,
    keys: usize,
    max_keys: usize,
}

impl Thresholds {
    pub fn new(max_keys: usize) -> Thresholds {
        Thresholds {
            per_rule: HashMap::new(),
            keys: 0,
            max_keys: max_keys.max(16),
        }
    }

    /// Records one hit at `now`; true when `count` hits fell within the
    /// window (then the counter restarts).
    pub fn hit(&mut self, rule: &str, ip: IpAddr, t: Threshold, now: Instant) -> bool {
        if t.count <= 1 {
            return true;
        }
        if self.keys >= self.max_keys {
            self.prune(now, t.within);
        }
        let per_ip = match self.per_rule.get_mut(rule) {
            Some(m) => m,
            None => self.per_rule.entry(rule.to_string()).or_default(),
        };
        let q = per_ip.entry(ip).or_insert_with(|| {
            self.keys += 1;
            VecDeque::new()
        });
        while let Some(first) = q.front() {
            if now.saturating_duration_since(*first) > t.within {
                q.pop_front();
            } else {
                break;
            }
        }
        q.push_back(now);
        while q.len() > t.count as usize {
            q.pop_front();
        }
        if q.len() >= t.count as usize {
            per_ip.remove(&ip);
            self.keys = self.keys.saturating_sub(1);
            true
        } else {
            false
        }
    }

    /// Drops counters of rules that no longer exist (after a reload).
    pub fn retain_rules(&mut self, names: &[&str]) {
        self.per_rule.retain(|k, _| names.contains(&k.as_str()));
        self.keys = self.per_rule.values().map(HashMap::len).sum();
    }

    pub fn tracked(&self) -> usize {
        self.keys
    }

    fn prune(&mut self, now: Instant, within: Duration) {
        for m in self.per_rule.values_mut() {
            m.retain(|_, q| {
                q.back()
                    .is_some_and(|last| now.saturating_duration_since(*last) <= within)
            });
        }
        self.keys = self.per_rule.values().map(HashMap::len).sum();
        if self.keys >= self.max_keys {
            // Still full: forget half of every rule's counters.
            for m in self.per_rule.values_mut() {
                let drop_n = m.len() / 2 + 1;
                let victims: Vec<IpAddr> = m.keys().take(drop_n).copied().collect();
                for v in victims {
                    m.remove(&v);
                }
            }
            self.keys = self.per_rule.values().map(HashMap::len).sum();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::parse_line;

    fn rule(matcher: Matcher, invert: bool) -> Rule {
        Rule {
            name: "r".into(),
            event: Some("ssh".into()),
            field: FieldPath::parse("ssh.client.software_version").unwrap(),
            ip_field: FieldPath::parse("src_ip").unwrap(),
            matcher,
            invert,
            ban: Duration::from_secs(3600),
            threshold: None,
            escalate: None,
        }
    }

    fn m() -> Matcher {
        Matcher {
            exact: vec![],
            prefix: vec![],
            contains: vec![],
            regex: None,
            nocase: false,
        }
    }

    fn ssh(ver: &str) -> Value {
        parse_line(
            format!(r#"{{"event_type":"ssh","src_ip":"198.51.100.7","ssh":{{"client":{{"software_version":"{ver}"}}}}}}"#)
                .as_bytes(),
        )
        .unwrap()
    }

    #[test]
    fn matcher_kinds_and_case() {
        let mut x = m();
        x.prefix = vec!["libssh_".into(), "libssh2_".into()];
        assert!(x.matches("libssh_0.9.6"));
        assert!(x.matches("libssh2_1.10.0"));
        assert!(!x.matches("LIBSSH_0.9"));
        assert!(!x.matches("OpenSSH_9.2"));
        let mut e = m();
        e.exact = vec!["Go".into()];
        assert!(e.matches("Go"));
        assert!(!e.matches("Go2") && !e.matches("go"));
        let mut c = m();
        c.contains = vec!["putty".into()];
        c.nocase = true;
        assert!(c.matches("xPUTTY_1"));
        let mut r = m();
        r.regex = Some(Regex::new("^OpenSSH_").unwrap());
        assert!(r.matches("OpenSSH_for_Windows_8.1"));
        assert!(!r.matches("xOpenSSH_"));
        assert!(!m().matches("anything"));
    }

    #[test]
    fn evaluate_and_invert() {
        let mut re = m();
        re.regex = Some(Regex::new("^OpenSSH_").unwrap());
        let inv = rule(re.clone(), true);
        assert!(inv.evaluate(&ssh("OpenSSH_9.2p1"), Some("ssh")).is_none());
        let hit = inv
            .evaluate(&ssh("PuTTY_Release_0.80"), Some("ssh"))
            .unwrap();
        assert_eq!(hit.ip, "198.51.100.7".parse::<IpAddr>().unwrap());
        assert_eq!(hit.value, "PuTTY_Release_0.80");
        // Wrong event type or missing field: never fires, even inverted.
        assert!(inv.evaluate(&ssh("PuTTY"), Some("alert")).is_none());
        let no_field =
            parse_line(br#"{"event_type":"ssh","src_ip":"198.51.100.7","ssh":{"server":{}}}"#)
                .unwrap();
        assert!(inv.evaluate(&no_field, Some("ssh")).is_none());
        // No usable address: no hit.
        let no_ip =
            parse_line(br#"{"event_type":"ssh","ssh":{"client":{"software_version":"x"}}}"#)
                .unwrap();
        assert!(inv.evaluate(&no_ip, Some("ssh")).is_none());
        let plain = rule(re, false);
        assert!(plain.evaluate(&ssh("OpenSSH_9.2p1"), Some("ssh")).is_some());
    }

    #[test]
    fn thresholds_slide() {
        let mut t = Thresholds::new(100);
        let th = Threshold {
            count: 3,
            within: Duration::from_secs(600),
        };
        let ip: IpAddr = "198.51.100.7".parse().unwrap();
        let t0 = Instant::now();
        assert!(!t.hit("go", ip, th, t0));
        assert!(!t.hit("go", ip, th, t0 + Duration::from_secs(100)));
        // The first hit slides out of the window.
        assert!(!t.hit("go", ip, th, t0 + Duration::from_secs(650)));
        assert!(t.hit("go", ip, th, t0 + Duration::from_secs(660)));
        // Counter restarted after firing.
        assert!(!t.hit("go", ip, th, t0 + Duration::from_secs(661)));
        // Other rule / other ip are separate.
        let other: IpAddr = "198.51.100.8".parse().unwrap();
        assert!(!t.hit("go", other, th, t0 + Duration::from_secs(661)));
        assert!(!t.hit("x", ip, th, t0 + Duration::from_secs(661)));
        assert_eq!(t.tracked(), 3);
        t.retain_rules(&["x"]);
        assert_eq!(t.tracked(), 1);
        // count = 1 fires at once.
        assert!(t.hit(
            "y",
            ip,
            Threshold {
                count: 1,
                within: Duration::ZERO
            },
            t0
        ));
    }

    #[test]
    fn thresholds_are_bounded() {
        let mut t = Thresholds::new(16);
        let th = Threshold {
            count: 5,
            within: Duration::from_secs(60),
        };
        let now = Instant::now();
        for i in 0..1000u32 {
            let ip = IpAddr::from(std::net::Ipv4Addr::from(0xC633_6400 + i));
            t.hit("r", ip, th, now);
            assert!(t.tracked() <= 17, "tracked {}", t.tracked());
        }
    }

    #[test]
    fn escalation_grows_and_caps() {
        let e = Escalate {
            factor: 2.0,
            max: Duration::from_secs(7 * 86400),
        };
        let base = Duration::from_secs(1800);
        assert_eq!(escalated(base, Some(&e), 0), base);
        assert_eq!(escalated(base, Some(&e), 1), Duration::from_secs(3600));
        assert_eq!(escalated(base, Some(&e), 3), Duration::from_secs(14400));
        assert_eq!(
            escalated(base, Some(&e), 40),
            Duration::from_secs(7 * 86400)
        );
        assert_eq!(
            escalated(base, Some(&e), u32::MAX),
            Duration::from_secs(7 * 86400)
        );
        assert_eq!(escalated(base, None, 5), base);
    }
}
