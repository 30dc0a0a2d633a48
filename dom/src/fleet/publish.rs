//! The outgoing task: local decisions -> `<prefix>:bans` and
//! `<prefix>:active`, in one MULTI per batch, several batches in flight.
//!
//! Per decision: `XADD <prefix>:bans MINID ~ <now - retention> * d <json>`
//! (trimmed by age, so the stream never grows without bound) and
//! `ZADD <prefix>:active GT <until_ms> <ip>` (an expiry is only ever
//! raised) or `ZREM` for an unban; then `ZREMRANGEBYSCORE` drops expired
//! addresses from the snapshot. A MULTI keeps each entry atomic with its
//! `active` update.
//!
//! Pipelining: up to [`IN_FLIGHT`] MULTIs of up to [`BATCH`] decisions are
//! sent without waiting for the previous replies (a burst of 10,000 is not
//! 20 round trips, each waiting for Redis and for the CPU), on the one
//! multiplexed connection, which writes them in the order they were
//! submitted; each is polled once right after it is built, so it is queued
//! on the connection before the next one is built. Replies are taken in
//! the same order. Only full batches join others in flight; a partial one
//! waits until nothing is (a lone ban is sent at once). Independently of that, a batch never holds an address
//! that an unacknowledged batch holds: the batch is closed there (so
//! `unban` after `ban` of one address cannot land in the wrong order even
//! if the connection reordered).
//!
//! While Redis is unreachable the engine's decisions wait in the bounded
//! channel (the engine counts what does not fit); the batches sent but not
//! acknowledged are kept, in order, and sent again after reconnecting, with
//! backoff. Before that, the stream after the last acknowledged entry is
//! read back: a batch whose reply was lost with the connection may have
//! been applied, and its decisions (known by their `id`) are not sent a
//! second time. A command Redis refuses (an ACL without a needed command, a
//! key of the wrong type) would be refused again: that batch is dropped,
//! counted and logged instead of blocking everything behind it.

use std::collections::{HashSet, VecDeque};
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::Poll;

use redis::aio::MultiplexedConnection;
use tokio::sync::mpsc::Receiver;

use crate::fleet::config::FleetConfig;
use crate::fleet::conn::{self, Backoff};
use crate::fleet::wire::{self, Decision, Op, StreamId};
use crate::fleet::FleetStats;
use crate::state::now_ms;

/// Decisions per MULTI.
const BATCH: usize = 512;
/// MULTIs sent and not yet answered, at most.
const IN_FLIGHT: usize = 4;
/// Entries per `XRANGE` page when reading back after a lost connection.
const PAGE: usize = 1000;

type Reply = Pin<Box<dyn Future<Output = redis::RedisResult<Vec<String>>> + Send>>;

/// The MULTI of one batch. Every reply is ignored but the last `XADD`'s:
/// the id of the batch's last entry.
fn multi(cfg: &FleetConfig, batch: &[Decision]) -> redis::Pipeline {
    let bans = wire::bans_key(&cfg.prefix);
    let active = wire::active_key(&cfg.prefix);
    let now = now_ms();
    let retention = u64::try_from(cfg.retention.as_millis()).unwrap_or(u64::MAX);
    let minid = now.saturating_sub(retention);
    let mut p = redis::pipe();
    p.atomic();
    for (i, d) in batch.iter().enumerate() {
        p.cmd("XADD")
            .arg(&bans)
            .arg("MINID")
            .arg("~")
            .arg(minid)
            .arg("*")
            .arg(wire::FIELD)
            .arg(d.encode());
        if i + 1 < batch.len() {
            p.ignore();
        }
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
    p
}

/// One batch on its way: sent (queued on the connection), reply pending.
struct Sent {
    batch: Vec<Decision>,
    reply: Reply,
    /// The reply, when it came during the first poll.
    early: Option<redis::RedisResult<Vec<String>>>,
}

impl Sent {
    /// Builds the batch's MULTI and polls it once, which queues it on the
    /// connection before anything built after it.
    async fn submit(con: &MultiplexedConnection, cfg: &FleetConfig, batch: Vec<Decision>) -> Sent {
        let p = multi(cfg, &batch);
        let mut c = con.clone();
        let mut reply: Reply = Box::pin(async move { p.query_async::<Vec<String>>(&mut c).await });
        let early = std::future::poll_fn(|cx| match reply.as_mut().poll(cx) {
            Poll::Ready(r) => Poll::Ready(Some(r)),
            Poll::Pending => Poll::Ready(None),
        })
        .await;
        Sent {
            batch,
            reply,
            early,
        }
    }

    /// The reply (cancel-safe: a reply not yet there stays pending).
    async fn wait(&mut self) -> redis::RedisResult<Vec<String>> {
        if let Some(r) = self.early.take() {
            return r;
        }
        (&mut self.reply).await
    }
}

/// Decisions taken from the queue and not yet acknowledged, in order.
#[derive(Default)]
struct Outgoing {
    /// Sent on the current connection.
    sent: VecDeque<Sent>,
    /// To send (again) before anything new: batches of a lost connection.
    retry: VecDeque<Vec<Decision>>,
    /// The batch being filled, and its addresses.
    open: Vec<Decision>,
    open_ips: HashSet<IpAddr>,
    /// Taken from the queue, waiting for an address's earlier decision to
    /// be acknowledged (or to be in a batch of its own).
    carry: Option<Decision>,
    /// Addresses in `sent`, with how many of its decisions hold each.
    addrs: std::collections::HashMap<IpAddr, u32>,
}

impl Outgoing {
    fn count(&self) -> u64 {
        let n: usize = self.sent.iter().map(|s| s.batch.len()).sum::<usize>()
            + self.retry.iter().map(Vec::len).sum::<usize>()
            + self.open.len()
            + usize::from(self.carry.is_some());
        n as u64
    }

    fn hold(&mut self, batch: &[Decision]) {
        for d in batch {
            *self.addrs.entry(d.ip).or_default() += 1;
        }
    }

    fn release(&mut self, batch: &[Decision]) {
        for d in batch {
            if let Some(n) = self.addrs.get_mut(&d.ip) {
                *n -= 1;
                if *n == 0 {
                    self.addrs.remove(&d.ip);
                }
            }
        }
    }

    /// Everything sent goes back to the front of `retry`, in order.
    fn requeue(&mut self) {
        while let Some(s) = self.sent.pop_back() {
            self.retry.push_front(s.batch);
        }
        self.addrs.clear();
    }

    /// The next batch to send: a retried one, else new decisions from the
    /// queue (without waiting), closed at [`BATCH`] or before an address
    /// already on its way or already in it. A batch that is not full is
    /// sent only when nothing is in flight (`alone`): pipelining is for a
    /// backlog, and a few decisions arriving one by one while the engine
    /// hands over a burst would otherwise fill the window with MULTIs of
    /// one. Empty when there is nothing to send now.
    fn next_batch(&mut self, rx: &mut Receiver<Decision>, alone: bool) -> Vec<Decision> {
        if let Some(b) = self.retry.pop_front() {
            return b;
        }
        let mut blocked = false;
        while self.open.len() < BATCH {
            let d = match self.carry.take() {
                Some(d) => d,
                None => match rx.try_recv() {
                    Ok(d) => d,
                    Err(_) => break,
                },
            };
            if self.addrs.contains_key(&d.ip) || !self.open_ips.insert(d.ip) {
                self.carry = Some(d);
                blocked = true;
                break;
            }
            self.open.push(d);
        }
        if self.open.len() >= BATCH || blocked || alone {
            self.open_ips.clear();
            std::mem::take(&mut self.open)
        } else {
            Vec::new()
        }
    }
}

/// After a lost connection: drops from `retry` the decisions already in
/// the stream after `floor` (their MULTI was applied, its reply lost).
/// Returns how many.
async fn drop_published(
    con: &mut MultiplexedConnection,
    cfg: &FleetConfig,
    retry: &mut VecDeque<Vec<Decision>>,
    floor: StreamId,
) -> redis::RedisResult<u64> {
    let mut ids: HashSet<String> = retry.iter().flatten().map(|d| d.id.clone()).collect();
    if ids.is_empty() {
        return Ok(0);
    }
    let key = wire::bans_key(&cfg.prefix);
    let mut found = HashSet::new();
    let mut from = floor;
    loop {
        let v: redis::Value = redis::cmd("XRANGE")
            .arg(&key)
            .arg(format!("({from}"))
            .arg("+")
            .arg("COUNT")
            .arg(PAGE)
            .query_async(con)
            .await?;
        let mut bad = 0;
        let page = wire::entries(v, &mut bad);
        let n = page.len();
        for (id, fields) in page {
            from = id;
            let Some(raw) = wire::field(&fields, wire::FIELD) else {
                continue;
            };
            if wire::origin_of(raw).is_some_and(|o| o == cfg.name.as_str()) {
                if let Ok(d) = Decision::decode(raw) {
                    if let Some(x) = ids.take(&d.id) {
                        found.insert(x);
                    }
                }
            }
        }
        if n < PAGE || ids.is_empty() {
            break;
        }
    }
    if found.is_empty() {
        return Ok(0);
    }
    for b in retry.iter_mut() {
        b.retain(|d| !found.contains(&d.id));
    }
    retry.retain(|b| !b.is_empty());
    Ok(found.len() as u64)
}

/// Runs until the engine drops its [`crate::fleet::Outbox`].
pub async fn run(cfg: FleetConfig, mut rx: Receiver<Decision>, stats: Arc<FleetStats>) {
    let key = wire::bans_key(&cfg.prefix);
    let mut out = Outgoing::default();
    // Every entry this task published and did not see acknowledged is
    // after this id: the last acknowledged one, or the stream's end when
    // the first connection was made.
    let mut floor: Option<StreamId> = None;
    let mut closed = false;
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
        let ready = async {
            match floor {
                None => floor = Some(crate::fleet::subscribe::last_id(&mut con, &key).await?),
                Some(f) if !out.retry.is_empty() => {
                    let n = drop_published(&mut con, &cfg, &mut out.retry, f).await?;
                    if n > 0 {
                        FleetStats::add(&stats.published, n);
                        tracing::info!(
                            decisions = n,
                            "fleet: decisions whose reply was lost are in the stream already; not sent again"
                        );
                    }
                }
                Some(_) => {}
            }
            redis::RedisResult::Ok(())
        };
        if let Err(e) = ready.await {
            tracing::warn!(error = %e, "fleet: reading the stream back after reconnecting failed; will retry");
            stats.error(&e);
            stats.pub_connected.store(false, Ordering::Relaxed);
            tokio::time::sleep(backoff.next_delay()).await;
            continue;
        }
        stats.pub_connected.store(true, Ordering::Relaxed);
        tracing::info!(url = %cfg.target.url, "fleet: publishing to Redis");
        was_up = true;
        backoff.reset();
        loop {
            // Fill the window.
            while out.sent.len() < IN_FLIGHT {
                let alone = out.sent.is_empty();
                let batch = out.next_batch(&mut rx, alone);
                if batch.is_empty() {
                    break;
                }
                out.hold(&batch);
                out.sent.push_back(Sent::submit(&con, &cfg, batch).await);
            }
            stats.in_flight.store(out.count(), Ordering::Relaxed);
            // The oldest reply; with room in the window, new decisions too.
            let room = out.sent.len() < IN_FLIGHT && out.carry.is_none() && !closed;
            let Some(head) = out.sent.front_mut() else {
                if closed {
                    return;
                }
                match rx.recv().await {
                    Some(d) => out.carry = Some(d),
                    None => closed = true,
                }
                continue;
            };
            let r = if room {
                tokio::select! {
                    biased;
                    r = head.wait() => r,
                    d = rx.recv() => {
                        match d {
                            Some(d) => out.carry = Some(d),
                            None => closed = true,
                        }
                        continue;
                    }
                }
            } else {
                head.wait().await
            };
            let Some(done) = out.sent.pop_front() else {
                continue;
            };
            out.release(&done.batch);
            match r {
                Ok(ids) => {
                    if let Some(id) = ids.last().and_then(|s| s.parse::<StreamId>().ok()) {
                        floor = Some(floor.map_or(id, |f| f.max(id)));
                    }
                    FleetStats::add(&stats.published, done.batch.len() as u64);
                    tracing::debug!(
                        n = done.batch.len(),
                        in_flight = out.sent.len(),
                        "fleet: published"
                    );
                }
                Err(e) if conn::is_transport(&e) => {
                    out.sent.push_front(done);
                    out.requeue();
                    FleetStats::add(&stats.publish_errors, 1);
                    tracing::warn!(error = %e, queued = out.count(), "fleet: Redis connection lost while publishing; will retry");
                    stats.error(&e);
                    break;
                }
                Err(e) => {
                    FleetStats::add(&stats.publish_errors, 1);
                    FleetStats::add(&stats.dropped_batches, 1);
                    tracing::error!(error = %e, dropped = done.batch.len(), "fleet: Redis refused a publish (check the ACL user's commands and keys); batch dropped");
                    stats.error(&e);
                }
            }
            stats.in_flight.store(out.count(), Ordering::Relaxed);
        }
        stats.in_flight.store(out.count(), Ordering::Relaxed);
        stats.pub_connected.store(false, Ordering::Relaxed);
        tokio::time::sleep(backoff.next_delay()).await;
    }
}
