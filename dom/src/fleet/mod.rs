//! Fleet: one ban holds on every gateway, through Redis.
//!
//! Each gateway publishes the decisions its own heuristics or operator made
//! (ban, extension, unban) to the `<prefix>:bans` stream and keeps
//! `<prefix>:active` (address -> expiry) up to date in the same MULTI; it
//! reads everyone else's decisions with `XREAD BLOCK` from a saved cursor
//! and applies them like its own, but never publishes them again (no
//! loops). Why Redis and not a protocol of our own: streams give ordered,
//! replayable delivery with a cursor (the thing CrowdSec's bouncers got
//! wrong with timestamp polling), and Redis/Valkey is an engine operators
//! already run, replicate and secure.
//!
//! * [`config`]: `[fleet]` and `[input] redis`.
//! * [`wire`]: keys, the `d` JSON object, stream ids, reply parsing.
//! * [`conn`]: connecting (redis://, rediss:// with rustls, unix://, ACL
//!   user and password file) and the reconnect backoff.
//! * [`publish`]: the outgoing task; a bounded queue absorbs outages.
//! * [`subscribe`]: the incoming task; catch-up from the stream or, when
//!   it was trimmed past the cursor, from the `active` snapshot.
//! * [`limit`]: per-origin rate limit on the stream's own clock.
//! * [`apply`]: what the engine does with a received batch (trust checks,
//!   never shorten, never resurrect).
//! * [`cursor`]: the saved read positions (fleet and `[input] redis`).
//!
//! The engine never waits for Redis: it hands decisions to the publisher
//! with `try_send` (a full queue drops and counts), and received batches
//! arrive as ordinary engine messages.

pub mod apply;
pub mod config;
pub mod conn;
pub mod cursor;
pub mod limit;
pub mod publish;
pub mod subscribe;
pub mod wire;

use std::net::IpAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::SyncSender;
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use tokio::sync::mpsc::error::TrySendError;

use crate::engine::Msg;
use crate::state::{now_ms, BanRecord};
use config::FleetConfig;
use wire::{Decision, Op, StreamId};

/// A batch of received decisions for the engine, in stream order.
#[derive(Debug)]
pub struct Batch {
    pub items: Vec<Decision>,
    /// Stream id to save once the batch is applied.
    pub cursor: StreamId,
    /// The items are the whole `active` set (catch-up after trimming).
    pub snapshot: bool,
}

/// Counters and connection state, shared by the tasks and the engine.
#[derive(Debug, Default)]
pub struct FleetStats {
    pub pub_connected: AtomicBool,
    pub sub_connected: AtomicBool,
    pub last_error: Mutex<String>,
    pub published: AtomicU64,
    /// Decisions taken from the queue and not yet acknowledged by Redis.
    pub in_flight: AtomicU64,
    pub queue_overflow: AtomicU64,
    pub publish_errors: AtomicU64,
    pub dropped_batches: AtomicU64,
    pub reconnects: AtomicU64,
    pub received: AtomicU64,
    pub own: AtomicU64,
    pub bad_entries: AtomicU64,
    pub rate_limited: AtomicU64,
    pub snapshot_loads: AtomicU64,
    pub lag_ms: AtomicU64,
    pub applied: AtomicU64,
    pub unbans_applied: AtomicU64,
    pub refused: AtomicU64,
    /// Received bans not later than what this gateway already holds.
    pub not_longer: AtomicU64,
    pub expired_on_arrival: AtomicU64,
    pub cursor: Mutex<String>,
}

impl FleetStats {
    pub fn add(c: &AtomicU64, n: u64) {
        c.fetch_add(n, Ordering::Relaxed);
    }

    pub fn error(&self, e: impl std::fmt::Display) {
        if let Ok(mut g) = self.last_error.lock() {
            *g = e.to_string();
        }
    }

    fn get(c: &AtomicU64) -> u64 {
        c.load(Ordering::Relaxed)
    }

    /// `fleet_*` fields of `meerkat-dom status`.
    pub fn status(&self, cfg: &FleetConfig, queued: u64, out: &mut serde_json::Map<String, Value>) {
        let up = |b: &AtomicBool| b.load(Ordering::Relaxed);
        let state = match (cfg.publish, cfg.apply) {
            (true, true) if up(&self.pub_connected) && up(&self.sub_connected) => "connected",
            (true, false) if up(&self.pub_connected) => "connected",
            (false, true) if up(&self.sub_connected) => "connected",
            (false, false) => "idle",
            _ => "disconnected",
        };
        let g = Self::get;
        let fields = [
            ("fleet_state", json!(state)),
            ("fleet_name", json!(cfg.name)),
            ("fleet_prefix", json!(cfg.prefix)),
            (
                "fleet_last_error",
                json!(self
                    .last_error
                    .lock()
                    .map(|s| s.clone())
                    .unwrap_or_default()),
            ),
            (
                "fleet_cursor",
                json!(self.cursor.lock().map(|s| s.clone()).unwrap_or_default()),
            ),
            ("fleet_lag_ms", json!(g(&self.lag_ms))),
            ("fleet_published", json!(g(&self.published))),
            ("fleet_queued", json!(queued + g(&self.in_flight))),
            ("fleet_queue_overflow", json!(g(&self.queue_overflow))),
            ("fleet_publish_errors", json!(g(&self.publish_errors))),
            ("fleet_dropped_batches", json!(g(&self.dropped_batches))),
            ("fleet_reconnects", json!(g(&self.reconnects))),
            ("fleet_received", json!(g(&self.received))),
            ("fleet_own", json!(g(&self.own))),
            ("fleet_bad_entries", json!(g(&self.bad_entries))),
            ("fleet_rate_limited", json!(g(&self.rate_limited))),
            ("fleet_snapshot_loads", json!(g(&self.snapshot_loads))),
            ("fleet_applied", json!(g(&self.applied))),
            ("fleet_unbans_applied", json!(g(&self.unbans_applied))),
            ("fleet_refused", json!(g(&self.refused))),
            ("fleet_not_longer", json!(g(&self.not_longer))),
            (
                "fleet_expired_on_arrival",
                json!(g(&self.expired_on_arrival)),
            ),
        ];
        for (k, v) in fields {
            out.insert(k.into(), v);
        }
    }
}

/// The engine's side of the publisher: local decisions go in with
/// `try_send`, never blocking.
pub struct Outbox {
    tx: tokio::sync::mpsc::Sender<Decision>,
    name: String,
    /// Start time in ms, part of every id (unique across restarts).
    boot: u64,
    seq: u64,
    stats: Arc<FleetStats>,
}

impl Outbox {
    fn push(&mut self, d: Decision) {
        match self.tx.try_send(d) {
            Ok(()) => {}
            Err(TrySendError::Full(d)) => {
                let n = self.stats.queue_overflow.fetch_add(1, Ordering::Relaxed);
                if n.is_power_of_two() || n == 0 {
                    tracing::warn!(ip = %d.ip, overflowed = n + 1, "fleet queue full (Redis unreachable?): decision not published");
                }
            }
            Err(TrySendError::Closed(_)) => {}
        }
    }

    fn next_id(&mut self) -> String {
        self.seq += 1;
        format!("{}-{:x}-{}", self.name, self.boot, self.seq)
    }

    /// A local ban or extension.
    pub fn ban(&mut self, r: &BanRecord, event: Option<Box<serde_json::value::RawValue>>) {
        let id = self.next_id();
        self.push(Decision {
            v: wire::VERSION,
            op: Op::Ban,
            ip: r.ip,
            until_ms: r.expires,
            rule: r.rule.clone(),
            reason: r.reason.clone(),
            client: r.client.clone().filter(|c| !c.is_empty()),
            origin: self.name.clone(),
            id,
            event,
        });
    }

    /// A local unban (operator).
    pub fn unban(&mut self, ip: IpAddr) {
        let id = self.next_id();
        self.push(Decision {
            v: wire::VERSION,
            op: Op::Unban,
            ip,
            until_ms: 0,
            rule: String::new(),
            reason: "unban".into(),
            client: None,
            origin: self.name.clone(),
            id,
            event: None,
        });
    }

    /// Decisions waiting in the queue.
    pub fn queued(&self) -> u64 {
        (self.tx.max_capacity() - self.tx.capacity()) as u64
    }
}

/// What the engine holds of the fleet.
pub struct Fleet {
    pub cfg: FleetConfig,
    pub stats: Arc<FleetStats>,
    pub outbox: Option<Outbox>,
}

impl Fleet {
    pub fn status(&self, out: &mut serde_json::Map<String, Value>) {
        let q = self.outbox.as_ref().map(Outbox::queued).unwrap_or(0);
        self.stats.status(&self.cfg, q, out);
    }
}

/// Starts the publisher and subscriber tasks on the current tokio runtime.
pub fn start(cfg: &FleetConfig, state_dir: &Path, engine: SyncSender<Msg>) -> Fleet {
    let stats = Arc::new(FleetStats::default());
    let outbox = if cfg.publish {
        let (tx, rx) = tokio::sync::mpsc::channel(cfg.queue);
        tokio::spawn(publish::run(cfg.clone(), rx, stats.clone()));
        Some(Outbox {
            tx,
            name: cfg.name.clone(),
            boot: now_ms(),
            seq: 0,
            stats: stats.clone(),
        })
    } else {
        None
    };
    if cfg.apply {
        let key = wire::bans_key(&cfg.prefix);
        let saved = cursor::load(state_dir, cursor::FLEET, &key);
        if let Some(c) = saved {
            if let Ok(mut g) = stats.cursor.lock() {
                *g = c.to_string();
            }
        }
        tokio::spawn(subscribe::run(cfg.clone(), engine, stats.clone(), saved));
    }
    tracing::info!(
        name = %cfg.name,
        prefix = %cfg.prefix,
        publish = cfg.publish,
        apply = cfg.apply,
        "fleet enabled"
    );
    Fleet {
        cfg: cfg.clone(),
        stats,
        outbox,
    }
}
