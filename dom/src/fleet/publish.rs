//! The outgoing task: local decisions -> `<prefix>:bans` and
//! `<prefix>:active`, in one MULTI per batch.
//!
//! Per decision: `XADD <prefix>:bans MINID ~ <now - retention> * d <json>`
//! (trimmed by age, so the stream never grows without bound) and
//! `ZADD <prefix>:active GT <until_ms> <ip>` (an expiry is only ever
//! raised) or `ZREM` for an unban; then `ZREMRANGEBYSCORE` drops expired
//! addresses from the snapshot. While Redis is unreachable the engine's
//! decisions wait in the bounded channel (the engine counts what does not
//! fit) and the batch in hand is kept and sent again after reconnecting,
//! with backoff. A command Redis refuses (an ACL without a needed command,
//! a key of the wrong type) would be refused again: that batch is dropped,
//! counted and logged instead of blocking everything behind it.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use redis::aio::MultiplexedConnection;
use tokio::sync::mpsc::Receiver;

use crate::fleet::config::FleetConfig;
use crate::fleet::conn::{self, Backoff};
use crate::fleet::wire::{self, Decision, Op};
use crate::fleet::FleetStats;
use crate::state::now_ms;

/// Decisions per MULTI.
const BATCH: usize = 512;

async fn send(
    con: &mut MultiplexedConnection,
    cfg: &FleetConfig,
    batch: &[Decision],
) -> redis::RedisResult<()> {
    let bans = wire::bans_key(&cfg.prefix);
    let active = wire::active_key(&cfg.prefix);
    let now = now_ms();
    let retention = u64::try_from(cfg.retention.as_millis()).unwrap_or(u64::MAX);
    let minid = now.saturating_sub(retention);
    let mut p = redis::pipe();
    p.atomic();
    for d in batch {
        p.cmd("XADD")
            .arg(&bans)
            .arg("MINID")
            .arg("~")
            .arg(minid)
            .arg("*")
            .arg(wire::FIELD)
            .arg(d.encode())
            .ignore();
        match d.op {
            Op::Ban => p
                .cmd("ZADD")
                .arg(&active)
                .arg("GT")
                .arg(d.until_ms)
                .arg(d.ip.to_string())
                .ignore(),
            Op::Unban => p.cmd("ZREM").arg(&active).arg(d.ip.to_string()).ignore(),
        };
    }
    p.cmd("ZREMRANGEBYSCORE")
        .arg(&active)
        .arg("-inf")
        .arg(format!("({now}"))
        .ignore();
    p.query_async::<()>(con).await
}

/// Runs until the engine drops its [`crate::fleet::Outbox`].
pub async fn run(cfg: FleetConfig, mut rx: Receiver<Decision>, stats: Arc<FleetStats>) {
    let mut batch: Vec<Decision> = Vec::new();
    let mut backoff = Backoff::default();
    let mut was_up = false;
    loop {
        let mut con = match conn::connect(&cfg.target, conn::RESPONSE_TIMEOUT).await {
            Ok(c) => c,
            Err(e) => {
                if was_up || stats.reconnects.load(Ordering::Relaxed) == 0 {
                    tracing::warn!(error = %e, "fleet: cannot reach Redis to publish; local bans go on, decisions are queued");
                }
                was_up = false;
                stats.pub_connected.store(false, Ordering::Relaxed);
                stats.error(&e);
                FleetStats::add(&stats.reconnects, 1);
                tokio::time::sleep(backoff.next_delay()).await;
                continue;
            }
        };
        stats.pub_connected.store(true, Ordering::Relaxed);
        tracing::info!(url = %cfg.target.url, "fleet: publishing to Redis");
        was_up = true;
        backoff.reset();
        loop {
            if batch.is_empty() {
                match rx.recv().await {
                    Some(d) => batch.push(d),
                    None => return,
                }
                while batch.len() < BATCH {
                    match rx.try_recv() {
                        Ok(d) => batch.push(d),
                        Err(_) => break,
                    }
                }
            }
            stats.in_flight.store(batch.len() as u64, Ordering::Relaxed);
            match send(&mut con, &cfg, &batch).await {
                Ok(()) => {
                    FleetStats::add(&stats.published, batch.len() as u64);
                    tracing::debug!(n = batch.len(), "fleet: published");
                    batch.clear();
                    stats.in_flight.store(0, Ordering::Relaxed);
                }
                Err(e) if conn::is_transport(&e) => {
                    FleetStats::add(&stats.publish_errors, 1);
                    tracing::warn!(error = %e, queued = batch.len(), "fleet: Redis connection lost while publishing; will retry");
                    stats.error(&e);
                    break;
                }
                Err(e) => {
                    FleetStats::add(&stats.publish_errors, 1);
                    FleetStats::add(&stats.dropped_batches, 1);
                    tracing::error!(error = %e, dropped = batch.len(), "fleet: Redis refused a publish (check the ACL user's commands and keys); batch dropped");
                    stats.error(&e);
                    batch.clear();
                    stats.in_flight.store(0, Ordering::Relaxed);
                }
            }
        }
        stats.pub_connected.store(false, Ordering::Relaxed);
        tokio::time::sleep(backoff.next_delay()).await;
    }
}
