//! Counters of the engine, shown by `meerkat-dom status`.

use serde::Serialize;

/// Engine counters; the follower keeps its own (lines, over-long lines,
/// rotations) in [`crate::follow::FollowStats`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Counters {
    /// JSON objects parsed.
    pub events: u64,
    pub skipped_invalid_json: u64,
    /// Events whose `event_type` is missing or not looked at by any rule.
    pub skipped_unknown: u64,
    pub skipped_blank: u64,
    /// Rule hits (before thresholds and guards).
    pub matches: u64,
    /// Hits on addresses in allow / home_net / own addresses.
    pub refused: u64,
    /// Hits that did not reach their threshold yet.
    pub below_threshold: u64,
    pub bans: u64,
    pub renewals: u64,
    pub unbans: u64,
    pub expired: u64,
    /// Bans that no backend accepted (kept in state; reconciliation retries).
    pub ban_failures: u64,
    pub state_errors: u64,
    pub reloads: u64,
}
