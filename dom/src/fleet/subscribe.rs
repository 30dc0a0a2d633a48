//! The incoming task: other gateways' decisions -> engine batches.
//!
//! `XREAD COUNT 1000 BLOCK 5000 STREAMS <prefix>:bans <cursor>` on a
//! connection of its own (a blocked read would stall a shared one). Each
//! batch is handed to the engine, which applies it in one netlink
//! transaction and then saves the cursor.
//!
//! Catch-up: with no saved cursor (a new gateway), or when the stream was
//! trimmed past the cursor (Redis 7's `max-deleted-entry-id` in
//! `XINFO STREAM` is newer than it), the gateway loads `<prefix>:active`
//! (every address with an expiry still ahead) and continues from the
//! stream's last id read just before: anything that changes in between is
//! in the stream after that id, and applying a ban twice is harmless.
//!
//! Skipped and counted, never applied: entries of this gateway's own
//! origin (no loops), garbage (no `d`, bad JSON, unknown version), and bans
//! beyond an origin's rate limit.

use std::sync::atomic::Ordering;
use std::sync::mpsc::{SyncSender, TrySendError};
use std::sync::Arc;
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::Value;

use crate::engine::Msg;
use crate::fleet::config::FleetConfig;
use crate::fleet::conn::{self, Backoff};
use crate::fleet::limit::Limiter;
use crate::fleet::wire::{self, Decision, Op, StreamId};
use crate::fleet::{Batch, FleetStats};
use crate::state::now_ms;

/// Addresses per page of the snapshot.
const PAGE: usize = 10_000;

/// Hands a message to the engine without blocking the runtime; false when
/// the engine is gone.
pub async fn to_engine(tx: &SyncSender<Msg>, mut msg: Msg) -> bool {
    loop {
        match tx.try_send(msg) {
            Ok(()) => return true,
            Err(TrySendError::Full(m)) => {
                msg = m;
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            Err(TrySendError::Disconnected(_)) => return false,
        }
    }
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::BulkString(b) => String::from_utf8(b.clone()).ok(),
        Value::SimpleString(s) => Some(s.clone()),
        _ => None,
    }
}

/// Was the stream trimmed past `cursor`? A missing stream was not (Redis
/// restarted empty: there is nothing to catch up).
///
/// Trimming removes the oldest entries first, so while the entry at the
/// cursor is still there nothing after it is gone. When it is not there,
/// `entries-added > length` (Redis 7+; Redis 7.0 does not update
/// `max-deleted-entry-id` on trimming) says entries were removed; older
/// servers fall back to "the oldest entry is newer than the cursor".
async fn trimmed_past(
    con: &mut MultiplexedConnection,
    key: &str,
    cursor: StreamId,
) -> redis::RedisResult<bool> {
    let info: Value = match redis::cmd("XINFO")
        .arg("STREAM")
        .arg(key)
        .query_async(con)
        .await
    {
        Ok(v) => v,
        Err(e) if e.to_string().contains("no such key") => return Ok(false),
        Err(e) => return Err(e),
    };
    let pairs: Vec<(&Value, &Value)> = match &info {
        Value::Array(a) => a.chunks_exact(2).map(|c| (&c[0], &c[1])).collect(),
        Value::Map(m) => m.iter().map(|(k, v)| (k, v)).collect(),
        _ => Vec::new(),
    };
    let int = |v: &Value| match v {
        Value::Int(i) => u64::try_from(*i).ok(),
        other => text(other).and_then(|t| t.parse().ok()),
    };
    let (mut length, mut added, mut max_deleted, mut first) = (0u64, None, None, None);
    for (k, v) in pairs {
        match text(k).as_deref() {
            Some("length") => length = int(v).unwrap_or(0),
            Some("entries-added") => added = int(v),
            Some("max-deleted-entry-id") => {
                max_deleted = text(v).and_then(|s| s.parse::<StreamId>().ok())
            }
            Some("first-entry") => {
                if let Value::Array(e) = v {
                    first = e
                        .first()
                        .and_then(text)
                        .and_then(|s| s.parse::<StreamId>().ok());
                }
            }
            _ => {}
        }
    }
    if max_deleted.is_some_and(|m| m > cursor) {
        return Ok(true);
    }
    if cursor != StreamId::ZERO {
        let v: Value = redis::cmd("XRANGE")
            .arg(key)
            .arg(cursor.to_string())
            .arg(cursor.to_string())
            .query_async(con)
            .await?;
        let mut bad = 0;
        if !wire::entries(v, &mut bad).is_empty() {
            return Ok(false);
        }
    }
    Ok(match added {
        Some(a) => a > length,
        None => first.is_some_and(|f| f > cursor),
    })
}

/// The newest id of the stream (`0-0` when empty or missing).
pub(crate) async fn last_id(
    con: &mut MultiplexedConnection,
    key: &str,
) -> redis::RedisResult<StreamId> {
    let v: Value = redis::cmd("XREVRANGE")
        .arg(key)
        .arg("+")
        .arg("-")
        .arg("COUNT")
        .arg(1)
        .query_async(con)
        .await?;
    let mut bad = 0;
    Ok(wire::entries(v, &mut bad)
        .first()
        .map(|e| e.0)
        .unwrap_or(StreamId::ZERO))
}

/// Reads `<prefix>:active` page by page: bans whose expiry is ahead.
async fn snapshot(
    con: &mut MultiplexedConnection,
    cfg: &FleetConfig,
    stats: &FleetStats,
) -> redis::RedisResult<(Vec<Decision>, StreamId)> {
    let bans = wire::bans_key(&cfg.prefix);
    let active = wire::active_key(&cfg.prefix);
    let last = last_id(con, &bans).await?;
    let now = now_ms();
    let mut items = Vec::new();
    let mut offset = 0usize;
    loop {
        let v: Value = redis::cmd("ZRANGEBYSCORE")
            .arg(&active)
            .arg(format!("({now}"))
            .arg("+inf")
            .arg("WITHSCORES")
            .arg("LIMIT")
            .arg(offset)
            .arg(PAGE)
            .query_async(con)
            .await?;
        let flat: Vec<(Value, Value)> = match v {
            Value::Array(a) => {
                let mut out = Vec::with_capacity(a.len() / 2);
                let mut it = a.into_iter();
                while let (Some(m), Some(s)) = (it.next(), it.next()) {
                    out.push((m, s));
                }
                out
            }
            // RESP3: [[member, score], ...]
            _ => Vec::new(),
        };
        let n = flat.len();
        for (m, s) in flat {
            let ip = text(&m).and_then(|t| meerkat_shared::net::parse_ip(&t).ok());
            let until = match &s {
                Value::Double(f) => Some(*f as u64),
                other => text(other).and_then(|t| t.parse::<f64>().ok().map(|f| f as u64)),
            };
            match (ip, until) {
                (Some(ip), Some(until_ms)) => items.push(Decision {
                    v: wire::VERSION,
                    op: Op::Ban,
                    ip,
                    until_ms,
                    rule: "fleet".into(),
                    reason: "snapshot".into(),
                    client: None,
                    origin: "snapshot".into(),
                    id: String::new(),
                    event: None,
                }),
                _ => FleetStats::add(&stats.bad_entries, 1),
            }
        }
        if n < PAGE {
            break;
        }
        offset += n;
    }
    Ok((items, last))
}

/// Turns stream entries into decisions for the engine.
fn decode(
    entries: Vec<wire::Entry>,
    cfg: &FleetConfig,
    limiter: &mut Limiter,
    stats: &FleetStats,
) -> Vec<Decision> {
    let mut out = Vec::with_capacity(entries.len());
    for (id, fields) in entries {
        FleetStats::add(&stats.received, 1);
        let raw = wire::field(&fields, wire::FIELD);
        // Own entries (every one this gateway published comes back) are
        // skipped before the whole decision is decoded.
        if raw
            .and_then(wire::origin_of)
            .is_some_and(|o| o == cfg.name.as_str())
        {
            FleetStats::add(&stats.own, 1);
            continue;
        }
        let d = match raw
            .ok_or(wire::WireError::NoField)
            .and_then(Decision::decode)
        {
            Ok(d) => d,
            Err(e) => {
                let n = stats.bad_entries.fetch_add(1, Ordering::Relaxed);
                if n < 10 || n.is_power_of_two() {
                    tracing::warn!(%id, error = %e, "fleet: skipping a stream entry");
                }
                continue;
            }
        };
        if d.origin == cfg.name {
            FleetStats::add(&stats.own, 1);
            continue;
        }
        if d.op == Op::Ban && !limiter.allow(&d.origin, id.ms) {
            let n = stats.rate_limited.fetch_add(1, Ordering::Relaxed);
            if n < 10 || n.is_power_of_two() {
                tracing::warn!(origin = %d.origin, ip = %d.ip, limit = cfg.max_bans_per_minute_per_origin, cut = n + 1, "fleet: origin over its rate limit; ban not applied");
            }
            continue;
        }
        out.push(d);
    }
    out
}

/// Runs until the engine is gone.
pub async fn run(
    cfg: FleetConfig,
    engine: SyncSender<Msg>,
    stats: Arc<FleetStats>,
    mut cursor: Option<StreamId>,
) {
    let key = wire::bans_key(&cfg.prefix);
    let mut limiter = Limiter::new(cfg.max_bans_per_minute_per_origin);
    let mut backoff = Backoff::default();
    let timeout = Duration::from_millis(wire::XREAD_BLOCK_MS) + conn::RESPONSE_TIMEOUT;
    loop {
        let mut con = match conn::connect(&cfg.target, timeout).await {
            Ok(c) => c,
            Err(e) => {
                stats.sub_connected.store(false, Ordering::Relaxed);
                stats.error(&e);
                tracing::debug!(error = %e, "fleet: cannot reach Redis to read decisions");
                tokio::time::sleep(backoff.next_delay()).await;
                continue;
            }
        };
        stats.sub_connected.store(true, Ordering::Relaxed);
        let need = match cursor {
            None => Ok(true),
            Some(c) => trimmed_past(&mut con, &key, c).await,
        };
        let need = match need {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(error = %e, "fleet: XINFO STREAM failed");
                stats.error(&e);
                stats.sub_connected.store(false, Ordering::Relaxed);
                tokio::time::sleep(backoff.next_delay()).await;
                continue;
            }
        };
        if need {
            let t0 = std::time::Instant::now();
            match snapshot(&mut con, &cfg, &stats).await {
                Ok((items, last)) => {
                    tracing::info!(
                        bans = items.len(),
                        from = %last,
                        why = if cursor.is_some() { "stream trimmed past the saved cursor" } else { "no saved cursor" },
                        ms = t0.elapsed().as_millis() as u64,
                        "fleet: loaded the active set"
                    );
                    FleetStats::add(&stats.snapshot_loads, 1);
                    cursor = Some(last);
                    let b = Batch {
                        items,
                        cursor: last,
                        snapshot: true,
                    };
                    if !to_engine(&engine, Msg::Fleet(b)).await {
                        return;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "fleet: reading the active set failed");
                    stats.error(&e);
                    stats.sub_connected.store(false, Ordering::Relaxed);
                    tokio::time::sleep(backoff.next_delay()).await;
                    continue;
                }
            }
        }
        tracing::info!(from = %cursor.unwrap_or_default(), "fleet: following {key}");
        backoff.reset();
        loop {
            let from = cursor.unwrap_or_default();
            let r: redis::RedisResult<Value> =
                wire::xread_cmd(&key, from).query_async(&mut con).await;
            let v = match r {
                Ok(v) => v,
                Err(e) => {
                    tracing::warn!(error = %e, "fleet: XREAD failed; reconnecting");
                    stats.error(&e);
                    break;
                }
            };
            let mut bad = 0;
            let entries = wire::xread_entries(v, &mut bad);
            FleetStats::add(&stats.bad_entries, bad);
            let Some(last) = entries.last().map(|e| e.0) else {
                stats.lag_ms.store(0, Ordering::Relaxed);
                continue;
            };
            let full = entries.len() >= wire::XREAD_COUNT;
            let items = decode(entries, &cfg, &mut limiter, &stats);
            cursor = Some(last);
            if full {
                if let Ok(end) = last_id(&mut con, &key).await {
                    stats
                        .lag_ms
                        .store(end.ms.saturating_sub(last.ms), Ordering::Relaxed);
                }
            } else {
                stats.lag_ms.store(0, Ordering::Relaxed);
            }
            let b = Batch {
                items,
                cursor: last,
                snapshot: false,
            };
            if !to_engine(&engine, Msg::Fleet(b)).await {
                return;
            }
        }
        stats.sub_connected.store(false, Ordering::Relaxed);
        tokio::time::sleep(backoff.next_delay()).await;
    }
}
