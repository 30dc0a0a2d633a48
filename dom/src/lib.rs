//! meerkat-dom: Deny On Monitoring.
//!
//! Follows Suricata/Meerkat EVE JSON, judges events with TOML heuristics
//! (matchers on any field, invert mode, thresholds, escalation) and bans
//! source addresses into nftables sets or ipsets with kernel-side expiry.
//!
//! * [`config`]: TOML -> validated [`config::Config`] with file:line errors.
//! * [`follow`]: tailing eve.json across rotation and truncation, saved position.
//! * [`event`]: tolerant dotted-path field access, address parsing.
//! * [`rules`]: matchers, thresholds, escalation.
//! * [`guard`]: allow / home_net / own addresses, checked before every ban.
//! * [`state`]: persisted ban records.
//! * [`enforce`]: the backends, batched, and reconciliation.
//! * [`engine`]: the single thread that owns all of the above.
//! * [`control`]: the Unix control socket protocol, server and client.
//! * [`daemon`]: start-up, signals, reload, shutdown.
//! * [`logbatch`]: the log writer, which can hold a batch's lines.
//! * [`fleet`]: sharing decisions with other gateways through Redis.
//! * [`redis_input`]: EVE from a Redis stream instead of a file.
#![deny(unsafe_code)]

pub mod backend;
pub mod config;
pub mod control;
pub mod daemon;
pub mod enforce;
pub mod engine;
pub mod event;
pub mod fleet;
pub mod follow;
pub mod guard;
pub mod logbatch;
pub mod metrics;
pub mod redis_input;
pub mod rules;
pub mod state;
