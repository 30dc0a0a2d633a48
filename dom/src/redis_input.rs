//! `[input] redis`: EVE events from a Redis stream instead of a file, so
//! one meerkat-dom can judge the events of many sensors.
//!
//! The layout is Suricata 8's (and meerkat-sensor's) stream output:
//! `XADD <key> MAXLEN ~ N * eve <json>`. Entries are read with
//! `XREAD BLOCK` from a cursor of their own (`input-cursor.json`), handed
//! to the engine as lines, and the cursor is saved after the bans they
//! caused were applied, like the file position. An entry without an `eve`
//! field is counted and skipped; bad JSON in it is counted by the engine
//! like a bad line in eve.json.
//!
//! With no saved cursor, `start_at = "beginning"` reads the whole stream,
//! otherwise reading starts at its end. A cursor older than the stream's
//! oldest entry (trimmed by MAXLEN while this daemon was away) just
//! continues from the oldest one: those events are gone, the gap is
//! logged.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::SyncSender;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use redis::Value;

use crate::config::StartAt;
use crate::engine::Msg;
use crate::fleet::config::RedisInput;
use crate::fleet::conn::{self, Backoff};
use crate::fleet::subscribe::to_engine;
use crate::fleet::wire::{self, StreamId};

/// The entry's field holding the event.
pub const EVE_FIELD: &str = "eve";

/// Lines read from the stream, for the engine.
#[derive(Debug)]
pub struct Lines {
    pub lines: Vec<Vec<u8>>,
    pub cursor: StreamId,
}

#[derive(Debug, Default)]
pub struct InputStats {
    pub connected: AtomicBool,
    pub entries: AtomicU64,
    pub bad_entries: AtomicU64,
    pub last_error: Mutex<String>,
}

async fn first_or_last(
    con: &mut redis::aio::MultiplexedConnection,
    key: &str,
    cmd: &str,
) -> redis::RedisResult<Option<StreamId>> {
    let (a, b) = if cmd == "XRANGE" {
        ("-", "+")
    } else {
        ("+", "-")
    };
    let v: Value = redis::cmd(cmd)
        .arg(key)
        .arg(a)
        .arg(b)
        .arg("COUNT")
        .arg(1)
        .query_async(con)
        .await?;
    let mut bad = 0;
    Ok(wire::entries(v, &mut bad).first().map(|e| e.0))
}

/// Runs until the engine is gone.
pub async fn run(
    cfg: RedisInput,
    start_at: StartAt,
    mut cursor: Option<StreamId>,
    engine: SyncSender<Msg>,
    stats: Arc<InputStats>,
) {
    let mut backoff = Backoff::default();
    let timeout = Duration::from_millis(wire::XREAD_BLOCK_MS) + conn::RESPONSE_TIMEOUT;
    loop {
        let mut con = match conn::connect(&cfg.target, timeout).await {
            Ok(c) => c,
            Err(e) => {
                stats.connected.store(false, Ordering::Relaxed);
                if let Ok(mut g) = stats.last_error.lock() {
                    *g = e.clone();
                }
                tracing::debug!(error = %e, "input: cannot reach Redis");
                tokio::time::sleep(backoff.next_delay()).await;
                continue;
            }
        };
        if cursor.is_none() {
            cursor = Some(if start_at == StartAt::Beginning {
                StreamId::ZERO
            } else {
                match first_or_last(&mut con, &cfg.key, "XREVRANGE").await {
                    Ok(l) => l.unwrap_or(StreamId::ZERO),
                    Err(e) => {
                        tracing::warn!(error = %e, "input: reading the stream's end failed");
                        tokio::time::sleep(backoff.next_delay()).await;
                        continue;
                    }
                }
            });
        } else if let (Some(c), Ok(Some(first))) =
            (cursor, first_or_last(&mut con, &cfg.key, "XRANGE").await)
        {
            if first > c && c != StreamId::ZERO {
                tracing::warn!(cursor = %c, oldest = %first, "input: the stream was trimmed past the saved cursor; events in between are lost");
            }
        }
        // Connected = the start position is known (what is added from now
        // on will be read).
        stats.connected.store(true, Ordering::Relaxed);
        tracing::info!(key = %cfg.key, from = %cursor.unwrap_or_default(), "input: reading EVE from Redis");
        backoff.reset();
        loop {
            let from = cursor.unwrap_or_default();
            let r: redis::RedisResult<Value> =
                wire::xread_cmd(&cfg.key, from).query_async(&mut con).await;
            let v = match r {
                Ok(v) => v,
                Err(e) => {
                    tracing::warn!(error = %e, "input: XREAD failed; reconnecting");
                    if let Ok(mut g) = stats.last_error.lock() {
                        *g = e.to_string();
                    }
                    break;
                }
            };
            let mut bad = 0;
            let entries = wire::xread_entries(v, &mut bad);
            let Some(last) = entries.last().map(|e| e.0) else {
                stats.bad_entries.fetch_add(bad, Ordering::Relaxed);
                continue;
            };
            stats
                .entries
                .fetch_add(entries.len() as u64, Ordering::Relaxed);
            let mut lines = Vec::with_capacity(entries.len());
            for (id, fields) in entries {
                match wire::field(&fields, EVE_FIELD) {
                    Some(l) => lines.push(l.to_vec()),
                    None => {
                        bad += 1;
                        tracing::debug!(%id, "input: entry without an `eve` field");
                    }
                }
            }
            stats.bad_entries.fetch_add(bad, Ordering::Relaxed);
            cursor = Some(last);
            let msg = Msg::Lines(Box::new(Lines {
                lines,
                cursor: last,
            }));
            if !to_engine(&engine, msg).await {
                return;
            }
        }
        stats.connected.store(false, Ordering::Relaxed);
        tokio::time::sleep(backoff.next_delay()).await;
    }
}
