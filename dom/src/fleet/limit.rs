//! Per-origin rate limit: at most N bans per origin in any 60 s window.
//!
//! The window runs on the stream's clock (the millisecond part of each
//! entry id, assigned by Redis, not by the origin), not on arrival time, so
//! a gateway catching up after downtime cuts exactly the entries a live one
//! cut, and an origin cannot dodge the limit by lying about time.
//! One compromised or misconfigured gateway can therefore ban at most N
//! addresses a minute on the others.

use std::collections::{HashMap, VecDeque};

const WINDOW_MS: u64 = 60_000;
/// Origins tracked at most (names are attacker-controlled text).
const MAX_ORIGINS: usize = 10_000;

#[derive(Debug, Default)]
pub struct Limiter {
    /// 0 = unlimited.
    per_minute: u32,
    seen: HashMap<String, VecDeque<u64>>,
}

impl Limiter {
    pub fn new(per_minute: u32) -> Limiter {
        Limiter {
            per_minute,
            seen: HashMap::new(),
        }
    }

    /// Records a ban by `origin` at stream time `ms`; false = over the limit.
    pub fn allow(&mut self, origin: &str, ms: u64) -> bool {
        if self.per_minute == 0 {
            return true;
        }
        if !self.seen.contains_key(origin) && self.seen.len() >= MAX_ORIGINS {
            // Forget origins idle for a window before tracking a new one.
            self.seen
                .retain(|_, q| q.back().is_some_and(|&t| ms.saturating_sub(t) < WINDOW_MS));
            if self.seen.len() >= MAX_ORIGINS {
                return false;
            }
        }
        let q = self.seen.entry(origin.to_string()).or_default();
        while q.front().is_some_and(|&t| t + WINDOW_MS <= ms) {
            q.pop_front();
        }
        if q.len() >= self.per_minute as usize {
            return false;
        }
        q.push_back(ms);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_a_burst_per_origin_and_recovers_after_a_window() {
        let mut l = Limiter::new(3);
        let ok: Vec<bool> = (0..5).map(|i| l.allow("gw1", 1000 + i)).collect();
        assert_eq!(ok, [true, true, true, false, false]);
        assert!(l.allow("gw2", 1000), "origins are limited separately");
        assert!(!l.allow("gw1", 60_999));
        assert!(l.allow("gw1", 61_000));
        let mut u = Limiter::new(0);
        assert!((0..10_000).all(|i| u.allow("x", i)));
    }
}
