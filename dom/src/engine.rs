//! The engine: one thread that owns the follower, the rules, the ban
//! store and the backends, so nothing is shared or locked.
//!
//! Each read cycle: read the available complete lines, judge them, apply
//! every resulting ban in ONE batch per backend, journal the bans together
//! with the read position (one unit: a crash rolls back an incomplete one,
//! so it never skips an event nor judges one twice), log them, and save
//! the read position for cycles without bans.
//! Wake-ups come from inotify (through [`Msg::Wake`]), from control
//! requests, and from a timeout that doubles as the polling fallback.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use meerkat_shared::duration::{format_duration, parse_duration};
use meerkat_shared::net::parse_ip;
use serde_json::value::RawValue;
use serde_json::{json, Value};
use tokio::sync::oneshot;

use crate::backend::{self, BanEntry};
use crate::config::{Config, StartAt};
use crate::control::{Request, Response};
use crate::enforce::Enforcer;
use crate::event;
use crate::fleet::wire::StreamId;
use crate::fleet::Fleet;
use crate::follow::{self, Follower, Position};
use crate::guard::Guard;
use crate::metrics::Counters;
use crate::redis_input::InputStats;
use crate::rules::{Rule, Thresholds};
use crate::state::{now_ms, BanRecord, BanStore};

/// Default duration of a manual `ban` without `--for`.
pub const MANUAL_BAN: Duration = Duration::from_secs(3600);
/// Counters per (rule, address) kept for thresholds.
const MAX_THRESHOLD_KEYS: usize = 200_000;

/// Messages to the engine thread.
pub enum Msg {
    /// The eve file (or its directory) changed.
    Wake,
    Control(Request, oneshot::Sender<Response>),
    /// A new, already validated configuration.
    Reload(Box<Config>, oneshot::Sender<Result<String, String>>),
    /// Decisions of other gateways, from the fleet stream.
    Fleet(crate::fleet::Batch),
    /// EVE lines from `[input] redis`.
    Lines(Box<crate::redis_input::Lines>),
    Shutdown,
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    State(#[from] crate::state::StateError),
    #[error("backend: {0}")]
    Backend(#[from] crate::backend::BackendError),
}

/// Handle given to notify's callback: sends at most one pending wake.
#[derive(Clone)]
pub struct Waker {
    tx: SyncSender<Msg>,
    pending: Arc<AtomicBool>,
}

impl Waker {
    pub fn wake(&self) {
        if !self.pending.swap(true, Ordering::AcqRel) {
            if let Err(TrySendError::Full(_)) = self.tx.try_send(Msg::Wake) {
                // The engine has messages queued and will read anyway.
                self.pending.store(false, Ordering::Release);
            }
        }
    }
}

struct Pending {
    record: BanRecord,
    duration: Duration,
    renewal: bool,
    /// The triggering event's JSON text, kept only when decisions are
    /// published.
    event: Option<Box<RawValue>>,
}

/// What the judging part needs; split from the follower so a read can
/// borrow both.
struct Judge {
    rules: Vec<Rule>,
    /// Event types some rule looks at; `None` = a rule looks at all.
    types: Option<Vec<String>>,
    guard: Guard,
    thresholds: Thresholds,
    counters: Counters,
    pending: Vec<Pending>,
    pending_idx: HashMap<IpAddr, usize>,
    /// Keep the triggering event with each decision (fleet publishing).
    keep_events: bool,
}

fn rule_types(rules: &[Rule]) -> Option<Vec<String>> {
    let mut v = Vec::new();
    for r in rules {
        match &r.event {
            None => return None,
            Some(t) => {
                if !v.contains(t) {
                    v.push(t.clone())
                }
            }
        }
    }
    Some(v)
}

impl Judge {
    fn line(&mut self, line: &[u8], store: &BanStore, now: u64, mono: Instant) {
        if line.iter().all(u8::is_ascii_whitespace) {
            self.counters.skipped_blank += 1;
            return;
        }
        let ev = match event::parse_line(line) {
            Ok(ev) => ev,
            Err(e) => {
                self.counters.skipped_invalid_json += 1;
                if self.counters.skipped_invalid_json <= 10 {
                    tracing::warn!(error = %e, "skipping a line that is not a JSON object");
                }
                return;
            }
        };
        self.counters.events += 1;
        let ty = event::event_type(&ev);
        if let Some(types) = &self.types {
            if !ty.is_some_and(|t| types.iter().any(|x| x == t)) {
                self.counters.skipped_unknown += 1;
                return;
            }
        }
        for (i, rule) in self.rules.iter().enumerate() {
            let Some(hit) = rule.evaluate(&ev, ty) else {
                continue;
            };
            self.counters.matches += 1;
            if let Err(why) = self.guard.check(hit.ip) {
                self.counters.refused += 1;
                tracing::debug!(ip = %hit.ip, rule = %rule.name, "not banning: {why}");
                return;
            }
            // The first matching rule decides, also when its threshold is
            // not reached yet (so a specific rule with a threshold is not
            // overridden by a later catch-all rule).
            if let Some(t) = rule.threshold {
                if !self.thresholds.hit(&rule.name, hit.ip, t, mono) {
                    self.counters.below_threshold += 1;
                    return;
                }
            }
            let reason = event::key_fields(&ev);
            // The line's own text, not a copy of the parsed tree: the
            // publisher embeds it as is.
            let raw = if self.keep_events {
                crate::fleet::wire::raw_event(line)
            } else {
                None
            };
            self.decide(i, hit.ip, hit.value, reason, raw, store, now);
            return;
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn decide(
        &mut self,
        rule_idx: usize,
        ip: IpAddr,
        client: String,
        reason: String,
        event: Option<Box<RawValue>>,
        store: &BanStore,
        now: u64,
    ) {
        let Some(rule) = self.rules.get(rule_idx) else {
            return;
        };
        if let Some(&i) = self.pending_idx.get(&ip) {
            if let Some(p) = self.pending.get_mut(i) {
                p.record.count += 1;
                p.record.last_seen = now;
            }
            return;
        }
        let (record, duration, renewal) = match store.get(ip) {
            Some(existing) => {
                let dur = rule.ban_duration(existing.offence.saturating_sub(1));
                let expires = now.saturating_add(ms(dur));
                let mut r = existing.clone();
                r.count += 1;
                r.last_seen = now;
                if expires <= existing.expires.saturating_add(1000) {
                    // Already banned at least as long: nothing to refresh.
                    return;
                }
                r.expires = expires;
                (r, dur, true)
            }
            None => {
                let prev = store.previous_bans(ip, now);
                let dur = rule.ban_duration(prev);
                let r = BanRecord {
                    ip,
                    rule: rule.name.clone(),
                    reason,
                    client: Some(client),
                    first_seen: now,
                    last_seen: now,
                    count: 1,
                    offence: prev.saturating_add(1),
                    expires: now.saturating_add(ms(dur)),
                };
                (r, dur, false)
            }
        };
        self.pending_idx.insert(ip, self.pending.len());
        self.pending.push(Pending {
            record,
            duration,
            renewal,
            event,
        });
    }
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// The engine. Build with [`Engine::new`], run with [`Engine::run`].
pub struct Engine {
    cfg: Config,
    /// `None` when the input is a Redis stream.
    follower: Option<Follower>,
    judge: Judge,
    store: BanStore,
    enforcer: Enforcer,
    waker: Waker,
    watcher: Option<notify::RecommendedWatcher>,
    /// (device, inode) of the directory `watcher` watches.
    watch_dir: Option<(u64, u64)>,
    saved: Option<Position>,
    /// Number of the last saved read position ([`Position::seq`]).
    seq: u64,
    last_reconcile: Instant,
    started: Instant,
    heartbeat: Arc<AtomicU64>,
    fleet: Option<Fleet>,
    input_stats: Option<Arc<InputStats>>,
    input_cursor: Option<StreamId>,
}

impl Engine {
    /// Loads state, builds and checks backends, restores active bans in
    /// one batch, opens the eve file and starts watching it.
    pub fn new(
        cfg: Config,
        tx: SyncSender<Msg>,
        heartbeat: Arc<AtomicU64>,
    ) -> Result<Engine, EngineError> {
        let now = now_ms();
        let mut store = BanStore::open(&cfg.state_dir, cfg.daemon.remember, now)?;
        let mut enforcer = Enforcer::build(&cfg.backends, backend::build)?;
        if enforcer.is_empty() {
            tracing::warn!(
                "no [[backend]] configured: decisions are logged and kept in state only"
            );
        }
        enforcer.ensure_all();
        let guard = Guard::from_config(&cfg);
        // Restore: filter again by the guard, one batch per backend.
        let refused: Vec<(IpAddr, String)> = store
            .ips()
            .filter_map(|ip| guard.check(ip).err().map(|why| (ip, why.to_string())))
            .collect();
        for (ip, why) in refused {
            tracing::warn!(%ip, "dropping a saved ban: {why}");
            if let Err(e) = store.remove(ip) {
                tracing::error!(error = %e, "journal write failed");
            }
        }
        let entries: Vec<BanEntry> = store
            .remaining(now)
            .into_iter()
            .map(|(ip, timeout)| BanEntry { ip, timeout })
            .collect();
        if !entries.is_empty() {
            let ok = enforcer.add(&entries);
            tracing::info!(
                bans = entries.len(),
                backends = ok,
                "restored active bans with their remaining time"
            );
        }
        store.sync(now)?;
        // The read position is saved in position.json after every cycle and
        // in the journal with the bans of a cycle; a kill between the two
        // leaves the journal's newer.
        let from_file = follow::load_position(&cfg.state_dir);
        let from_journal = store
            .last_read()
            .and_then(|m| m.pos.clone().map(|p| Position { seq: m.seq, ..p }));
        let seq = from_file
            .as_ref()
            .map_or(0, |p| p.seq)
            .max(store.last_read().map_or(0, |m| m.seq));
        let saved = match (from_file, from_journal) {
            (Some(f), Some(j)) if j.seq > f.seq => {
                tracing::info!(
                    offset = j.offset,
                    saved = f.offset,
                    "the ban journal holds a newer read position than position.json (stopped between the two); resuming there"
                );
                Some(j)
            }
            (f, j) => f.or(j),
        };
        let follower = cfg.input.redis.is_none().then(|| {
            Follower::start(
                &cfg.input.eve,
                cfg.input.max_line,
                cfg.input.start_at,
                saved.clone(),
            )
        });
        let waker = Waker {
            tx,
            pending: Arc::new(AtomicBool::new(false)),
        };
        let mut e = Engine {
            judge: Judge {
                types: rule_types(&cfg.rules),
                rules: cfg.rules.clone(),
                guard,
                thresholds: Thresholds::new(MAX_THRESHOLD_KEYS),
                counters: Counters::default(),
                pending: Vec::new(),
                pending_idx: HashMap::new(),
                keep_events: false,
            },
            cfg,
            follower,
            store,
            enforcer,
            waker,
            watcher: None,
            watch_dir: None,
            saved: saved.map(|p| Position { seq: 0, ..p }),
            seq,
            last_reconcile: Instant::now(),
            started: Instant::now(),
            heartbeat,
            fleet: None,
            input_stats: None,
            input_cursor: None,
        };
        e.start_watch();
        Ok(e)
    }

    /// Connects the engine to the fleet tasks (see [`crate::fleet::start`]).
    pub fn attach_fleet(&mut self, fleet: Fleet) {
        self.judge.keep_events = fleet.outbox.is_some();
        self.fleet = Some(fleet);
    }

    /// Connects the engine to the `[input] redis` task.
    pub fn attach_input(&mut self, stats: Arc<InputStats>) {
        self.input_stats = Some(stats);
    }

    fn start_watch(&mut self) {
        self.watcher = None;
        if self.follower.is_none() {
            self.watch_dir = None;
            return;
        }
        self.watch_dir = follow::dir_identity(&self.cfg.input.eve);
        if self.watch_dir.is_none() {
            tracing::warn!(path = %self.cfg.input.eve.display(), poll = %format_duration(self.cfg.input.poll_interval), "the eve file's directory does not exist yet; polling, and watching it once it appears");
            return;
        }
        let w = self.waker.clone();
        self.watcher = match follow::watch(&self.cfg.input.eve, move || w.wake()) {
            Ok(w) => Some(w),
            Err(e) => {
                tracing::warn!(error = %e, poll = %format_duration(self.cfg.input.poll_interval), "inotify unavailable; polling only");
                None
            }
        };
    }

    /// Re-arms inotify when the eve file's directory appeared after
    /// start-up or was replaced (removed and created again).
    fn rearm_watch(&mut self) {
        if self.follower.is_none() {
            return;
        }
        let now = follow::dir_identity(&self.cfg.input.eve);
        if now.is_some() && now != self.watch_dir {
            tracing::info!(path = %self.cfg.input.eve.display(), "the eve file's directory appeared or was replaced; watching it");
            self.start_watch();
            self.pump();
        }
    }

    /// Runs until [`Msg::Shutdown`] (or every sender is gone).
    pub fn run(mut self, rx: Receiver<Msg>) {
        self.pump();
        loop {
            self.heartbeat.store(now_ms(), Ordering::Relaxed);
            let timeout = self.next_timeout();
            match rx.recv_timeout(timeout) {
                Ok(Msg::Wake) | Err(RecvTimeoutError::Timeout) => {}
                Ok(Msg::Control(req, reply)) => {
                    self.pump();
                    let resp = self.control(req);
                    let _ = reply.send(resp);
                }
                Ok(Msg::Reload(cfg, reply)) => {
                    let r = self.reload(*cfg);
                    let _ = reply.send(r);
                }
                Ok(Msg::Fleet(batch)) => self.apply_fleet(batch),
                Ok(Msg::Lines(lines)) => self.stream_lines(*lines),
                Ok(Msg::Shutdown) | Err(RecvTimeoutError::Disconnected) => break,
            }
            self.pump();
            self.rearm_watch();
            self.expire();
            if self.last_reconcile.elapsed() >= self.cfg.daemon.reconcile_interval {
                self.reconcile();
            }
        }
        self.pump();
        if let Err(e) = self.store.sync(now_ms()) {
            tracing::error!(error = %e, "saving bans at shutdown failed");
        }
        tracing::info!(
            active = self.store.len(),
            "engine stopped; bans stay in the kernel with their timeouts"
        );
    }

    fn next_timeout(&self) -> Duration {
        let mut t = self.cfg.input.poll_interval;
        if self.follower.as_ref().is_some_and(Follower::draining_old) {
            t = t.min(Duration::from_millis(200));
        }
        let rec = self
            .cfg
            .daemon
            .reconcile_interval
            .saturating_sub(self.last_reconcile.elapsed());
        t = t.min(rec);
        if let Some(exp) = self.store.next_expiry() {
            t = t.min(Duration::from_millis(exp.saturating_sub(now_ms())));
        }
        t.max(Duration::from_millis(1))
    }

    /// Reads everything available, batch by batch.
    fn pump(&mut self) {
        loop {
            self.waker.pending.store(false, Ordering::Release);
            let now = now_ms();
            let mono = Instant::now();
            let max = self.cfg.daemon.batch_max;
            let judge = &mut self.judge;
            let store = &self.store;
            let Some(follower) = self.follower.as_mut() else {
                return;
            };
            let n = follower.read(max, &mut |line| judge.line(line, store, now, mono));
            let pos = follower.position();
            let journaled = self.apply_pending(now, pos.clone());
            if pos != self.saved {
                if let Some(p) = &pos {
                    let seq = journaled.unwrap_or_else(|| {
                        self.seq += 1;
                        self.seq
                    });
                    let p = Position { seq, ..p.clone() };
                    if let Err(e) = follow::save_position(&self.cfg.state_dir, &p) {
                        self.judge.counters.state_errors += 1;
                        tracing::error!(error = %e, "position not saved");
                    }
                }
                self.saved = pos;
            }
            if n < max {
                break;
            }
        }
    }

    /// Applies the bans decided in this read cycle, whose events end at
    /// `pos`: one batch per backend, then the journal (the bans and `pos`
    /// as one unit), then the log lines. Returns the number the position
    /// got in the journal, if there were bans.
    fn apply_pending(&mut self, now: u64, pos: Option<Position>) -> Option<u64> {
        if self.judge.pending.is_empty() {
            return None;
        }
        let mut pending = std::mem::take(&mut self.judge.pending);
        self.judge.pending_idx.clear();
        // A burst grew the index to the batch size; do not keep that.
        self.judge.pending_idx.shrink_to(256);
        let entries: Vec<BanEntry> = pending
            .iter()
            .map(|p| BanEntry {
                ip: p.record.ip,
                timeout: p.duration,
            })
            .collect();
        let ok = self.enforcer.add(&entries);
        if ok == 0 && !self.enforcer.is_empty() {
            self.judge.counters.ban_failures += pending.len() as u64;
        }
        // To the fleet right after the kernel has them, all together: not
        // one by one between the log lines below (which trickled a burst
        // out as many small MULTIs, behind the formatting of every line).
        if let Some(out) = self.fleet.as_mut().and_then(|f| f.outbox.as_mut()) {
            for p in &mut pending {
                out.ban(&p.record, p.event.take());
            }
        }
        // The lines are written once the batch is journaled: killed before
        // that, the batch is rolled back and its events judged again after
        // the restart, and lines written already would appear twice.
        let held = crate::logbatch::Hold::start();
        self.seq += 1;
        let seq = self.seq;
        if let Err(e) = self.store.begin_batch(seq) {
            self.judge.counters.state_errors += 1;
            tracing::error!(error = %e, "ban journal not written");
        }
        for p in pending {
            let r = &p.record;
            if p.renewal {
                self.judge.counters.renewals += 1;
                tracing::debug!(
                    "renew {} for {} rule={:?} client={:?} backends={}",
                    r.ip,
                    format_duration(p.duration),
                    r.rule,
                    r.client.as_deref().unwrap_or(""),
                    ok
                );
            } else {
                self.judge.counters.bans += 1;
                tracing::info!(
                    "ban {} for {} rule={:?} client={:?} backends={}",
                    r.ip,
                    format_duration(p.duration),
                    r.rule,
                    r.client.as_deref().unwrap_or(""),
                    ok
                );
            }
            if let Err(e) = self.store.put(p.record) {
                self.judge.counters.state_errors += 1;
                tracing::error!(error = %e, "ban not journaled");
            }
        }
        let pos = pos.map(|p| Position { seq, ..p });
        let committed = self.store.commit_batch(seq, pos);
        if let Err(e) = &committed {
            self.judge.counters.state_errors += 1;
            tracing::error!(error = %e, "ban journal not written");
        }
        drop(held);
        if committed.is_ok() {
            if let Err(e) = self.store.logged(seq, now) {
                self.judge.counters.state_errors += 1;
                tracing::error!(error = %e, "ban journal not written");
            }
        }
        Some(seq)
    }

    fn expire(&mut self) {
        let now = now_ms();
        for r in self.store.expire(now) {
            self.judge.counters.expired += 1;
            self.judge.counters.unbans += 1;
            tracing::info!(
                "unban {} expired rule={:?} client={:?}",
                r.ip,
                r.rule,
                r.client.as_deref().unwrap_or("")
            );
        }
    }

    fn active_list(&self, now: u64) -> Vec<(IpAddr, Duration)> {
        self.store.remaining(now)
    }

    /// The next pass is due `reconcile_interval` after this one ENDS: with
    /// 100,000 bans a pass (a full dump of the sets) can take longer than
    /// the interval on a loaded machine, and counting from its start would
    /// leave the engine reconciling between every two messages (a fleet
    /// catch-up of 100,000 bans took 47 s instead of a few).
    fn reconcile(&mut self) {
        self.enforcer.reconcile(&mut self.store, now_ms());
        self.last_reconcile = Instant::now();
    }

    fn control(&mut self, req: Request) -> Response {
        let now = now_ms();
        match req {
            Request::Status => Response::ok(self.status()),
            Request::List => {
                let list: Vec<Value> = self
                    .store
                    .records()
                    .into_iter()
                    .map(|r| {
                        let mut o = serde_json::to_value(&r).unwrap_or(Value::Null);
                        if let Some(m) = o.as_object_mut() {
                            let rem = r.remaining(now);
                            m.insert("remaining_secs".into(), json!(rem.as_secs()));
                            m.insert(
                                "remaining".into(),
                                json!(format_duration(Duration::from_secs(rem.as_secs()))),
                            );
                        }
                        o
                    })
                    .collect();
                Response::ok(Value::Array(list))
            }
            Request::Ban {
                ip,
                duration,
                reason,
            } => self.manual_ban(&ip, duration.as_deref(), reason, now),
            Request::Unban { ip } => {
                let ip = match parse_ip(&ip) {
                    Ok(ip) => ip,
                    Err(e) => return Response::err(e.to_string()),
                };
                self.enforcer.remove(&[ip]);
                if let Some(out) = self.fleet.as_mut().and_then(|f| f.outbox.as_mut()) {
                    out.unban(ip);
                }
                match self.store.remove(ip) {
                    Ok(Some(r)) => {
                        self.judge.counters.unbans += 1;
                        tracing::info!(
                            "unban {} manual rule={:?} client={:?}",
                            ip,
                            r.rule,
                            r.client.as_deref().unwrap_or("")
                        );
                        let _ = self.store.sync(now);
                        Response::ok(json!({"unbanned": ip.to_string()}))
                    }
                    Ok(None) => {
                        Response::err(format!("{ip} is not banned (removed from the sets anyway)"))
                    }
                    Err(e) => Response::err(e.to_string()),
                }
            }
            Request::Flush => {
                let ok = self.enforcer.flush();
                match self.store.clear() {
                    Ok(n) => {
                        self.judge.counters.unbans += n as u64;
                        let _ = self.store.sync(now);
                        tracing::info!(bans = n, backends = ok, "flush: all bans removed");
                        Response::ok(json!({"removed": n, "backends": ok}))
                    }
                    Err(e) => Response::err(e.to_string()),
                }
            }
            Request::Reload => Response::err("reload is handled by the daemon, not the engine"),
        }
    }

    fn manual_ban(
        &mut self,
        ip: &str,
        dur: Option<&str>,
        reason: Option<String>,
        now: u64,
    ) -> Response {
        let ip = match parse_ip(ip) {
            Ok(ip) => ip,
            Err(e) => return Response::err(e.to_string()),
        };
        if let Err(why) = self.judge.guard.check(ip) {
            return Response::err(format!("refusing to ban {ip}: {why}"));
        }
        let d = match dur.map(parse_duration).transpose() {
            Ok(d) => d.unwrap_or(MANUAL_BAN),
            Err(e) => return Response::err(e.to_string()),
        };
        if d.is_zero() {
            return Response::err("ban duration must be longer than 0");
        }
        let prev = self.store.get(ip);
        let rec = BanRecord {
            ip,
            rule: "manual".into(),
            reason: reason.unwrap_or_else(|| "manual ban".into()),
            client: None,
            first_seen: prev.as_ref().map(|p| p.first_seen).unwrap_or(now),
            last_seen: now,
            count: prev.as_ref().map(|p| p.count + 1).unwrap_or(1),
            offence: prev
                .as_ref()
                .map(|p| p.offence)
                .unwrap_or_else(|| self.store.previous_bans(ip, now).saturating_add(1)),
            expires: now.saturating_add(ms(d)),
        };
        let ok = self.enforcer.add(&[BanEntry { ip, timeout: d }]);
        self.judge.counters.bans += 1;
        tracing::info!(
            "ban {} for {} rule=\"manual\" client=\"\" backends={} reason={:?}",
            ip,
            format_duration(d),
            ok,
            rec.reason
        );
        if let Some(out) = self.fleet.as_mut().and_then(|f| f.outbox.as_mut()) {
            out.ban(&rec, None);
        }
        if let Err(e) = self.store.put(rec).and_then(|_| self.store.sync(now)) {
            return Response::err(e.to_string());
        }
        Response::ok(json!({"banned": ip.to_string(), "for": format_duration(d), "backends": ok}))
    }

    fn status(&mut self) -> Value {
        let fs = self
            .follower
            .as_ref()
            .map(|f| f.stats().clone())
            .unwrap_or_default();
        let c = &self.judge.counters;
        let pos = self.follower.as_ref().and_then(Follower::position);
        let eve = match &self.cfg.input.redis {
            Some(r) => format!("redis {} key {}", r.target.url, r.key),
            None => self.cfg.input.eve.display().to_string(),
        };
        let mut v = json!({
            "version": env!("CARGO_PKG_VERSION"),
            "config": self.cfg.path.display().to_string(),
            "uptime_secs": self.started.elapsed().as_secs(),
            "eve": eve,
            "position": pos.map(|p| p.offset),
            "lines": fs.lines,
            "bytes": fs.bytes,
            "events": c.events,
            "skipped_invalid_json": c.skipped_invalid_json,
            "skipped_long": fs.skipped_long,
            "skipped_unknown": c.skipped_unknown,
            "skipped_blank": c.skipped_blank,
            "rotations": fs.rotations,
            "truncations": fs.truncations,
            "matches": c.matches,
            "refused": c.refused,
            "below_threshold": c.below_threshold,
            "bans": c.bans,
            "renewals": c.renewals,
            "unbans": c.unbans,
            "expired": c.expired,
            "ban_failures": c.ban_failures,
            "state_errors": c.state_errors,
            "reloads": c.reloads,
            "active_bans": self.store.len(),
            "rules": self.judge.rules.iter().map(|r| r.name.clone()).collect::<Vec<_>>(),
            "backends": self.enforcer.names(),
            "backend_errors": self.enforcer.errors,
            "backend_readded": self.enforcer.readded,
            "backend_recreated": self.enforcer.recreated,
            "own_addresses": self.judge.guard.own_count(),
            "inotify": self.watcher.is_some(),
        });
        if let Some(m) = v.as_object_mut() {
            if let Some(f) = &self.fleet {
                f.status(m);
            }
            if let Some(st) = &self.input_stats {
                m.insert(
                    "input_connected".into(),
                    json!(st.connected.load(Ordering::Relaxed)),
                );
                m.insert(
                    "input_entries".into(),
                    json!(st.entries.load(Ordering::Relaxed)),
                );
                m.insert(
                    "input_bad_entries".into(),
                    json!(st.bad_entries.load(Ordering::Relaxed)),
                );
                m.insert(
                    "input_cursor".into(),
                    json!(self.input_cursor.map(|c| c.to_string())),
                );
            }
        }
        v
    }

    /// Applies other gateways' decisions: one batch per backend, then the
    /// journal, then the cursor (a crash re-applies, never skips).
    fn apply_fleet(&mut self, batch: crate::fleet::Batch) {
        let Some(fleet) = &self.fleet else { return };
        let stats = fleet.stats.clone();
        let key = crate::fleet::wire::bans_key(&fleet.cfg.prefix);
        let now = now_ms();
        let plan = crate::fleet::apply::plan(&batch, &self.store, &self.judge.guard, &stats, now);
        if !plan.removes.is_empty() {
            self.enforcer.remove(&plan.removes);
            for ip in &plan.removes {
                if let Ok(Some(r)) = self.store.remove(*ip) {
                    self.judge.counters.unbans += 1;
                    crate::fleet::FleetStats::add(&stats.unbans_applied, 1);
                    tracing::info!("unban {} fleet rule={:?} reason={:?}", ip, r.rule, r.reason);
                }
            }
        }
        if !plan.adds.is_empty() {
            let entries: Vec<BanEntry> = plan
                .adds
                .iter()
                .map(|r| BanEntry {
                    ip: r.ip,
                    timeout: Duration::from_millis(r.expires.saturating_sub(now)),
                })
                .collect();
            let ok = self.enforcer.add(&entries);
            if ok == 0 && !self.enforcer.is_empty() {
                self.judge.counters.ban_failures += entries.len() as u64;
            }
            let n = plan.adds.len();
            for r in plan.adds {
                tracing::debug!(
                    "ban {} until {} {} rule={:?} backends={}",
                    r.ip,
                    r.expires,
                    r.reason,
                    r.rule,
                    ok
                );
                if let Err(e) = self.store.put(r) {
                    self.judge.counters.state_errors += 1;
                    tracing::error!(error = %e, "fleet ban not journaled");
                }
            }
            crate::fleet::FleetStats::add(&stats.applied, n as u64);
            tracing::info!(
                bans = n,
                snapshot = batch.snapshot,
                backends = ok,
                "applied fleet decisions"
            );
        }
        if let Err(e) = self.store.sync(now) {
            self.judge.counters.state_errors += 1;
            tracing::error!(error = %e, "ban journal not written");
        }
        let dir = self.cfg.state_dir.clone();
        if let Err(e) =
            crate::fleet::cursor::save(&dir, crate::fleet::cursor::FLEET, &key, batch.cursor)
        {
            self.judge.counters.state_errors += 1;
            tracing::error!(error = %e, "fleet cursor not saved");
        }
        if let Ok(mut g) = stats.cursor.lock() {
            *g = batch.cursor.to_string();
        };
    }

    /// Judges EVE lines read from a Redis stream, applies their bans, then
    /// saves the stream cursor.
    fn stream_lines(&mut self, batch: crate::redis_input::Lines) {
        let now = now_ms();
        let mono = Instant::now();
        for l in &batch.lines {
            if l.len() > self.cfg.input.max_line {
                self.judge.counters.skipped_invalid_json += 1;
                continue;
            }
            self.judge.line(l, &self.store, now, mono);
        }
        self.apply_pending(now, None);
        if let Some(r) = &self.cfg.input.redis {
            if let Err(e) = crate::fleet::cursor::save(
                &self.cfg.state_dir,
                crate::fleet::cursor::INPUT,
                &r.key,
                batch.cursor,
            ) {
                self.judge.counters.state_errors += 1;
                tracing::error!(error = %e, "input cursor not saved");
            }
        }
        self.input_cursor = Some(batch.cursor);
    }

    fn reload(&mut self, new: Config) -> Result<String, String> {
        if new.backends != self.enforcer.configs() {
            let mut e = Enforcer::build(&new.backends, backend::build)
                .map_err(|e| format!("keeping the running configuration: {e}"))?;
            e.ensure_all();
            let active: Vec<BanEntry> = self
                .active_list(now_ms())
                .into_iter()
                .map(|(ip, timeout)| BanEntry { ip, timeout })
                .collect();
            e.add(&active);
            self.enforcer = e;
            tracing::info!(backends = ?self.enforcer.names(), "backends replaced");
        }
        if new.state_dir != self.cfg.state_dir {
            tracing::warn!("state.dir changed: takes effect after a restart");
        }
        if new.socket != self.cfg.socket {
            tracing::warn!("control.socket changed: takes effect after a restart");
        }
        let guard = Guard::from_config(&new);
        let now_refused: Vec<IpAddr> = self
            .store
            .ips()
            .filter(|ip| guard.check(*ip).is_err())
            .collect();
        if !now_refused.is_empty() {
            self.enforcer.remove(&now_refused);
            for ip in &now_refused {
                if let Ok(Some(r)) = self.store.remove(*ip) {
                    self.judge.counters.unbans += 1;
                    tracing::info!(
                        "unban {} now-protected rule={:?} client={:?}",
                        ip,
                        r.rule,
                        r.client.as_deref().unwrap_or("")
                    );
                }
            }
            let _ = self.store.sync(now_ms());
        }
        let names: Vec<&str> = new.rules.iter().map(|r| r.name.as_str()).collect();
        self.judge.thresholds.retain_rules(&names);
        self.judge.rules = new.rules.clone();
        self.judge.types = rule_types(&new.rules);
        self.judge.guard = guard;
        let input_changed =
            new.input.eve != self.cfg.input.eve || new.input.max_line != self.cfg.input.max_line;
        let old_path = self.cfg.input.eve.clone();
        self.judge.counters.reloads += 1;
        let summary = format!(
            "reloaded {}: {} rules, {} backends",
            new.path.display(),
            new.rules.len(),
            new.backends.len()
        );
        self.cfg = new;
        if new_fleet_or_stream_changed(&self.cfg, &self.fleet) {
            tracing::warn!("[fleet] or [input] redis changed: takes effect after a restart");
        }
        if input_changed && self.follower.is_some() {
            self.pump();
            let saved = self.follower.as_ref().and_then(Follower::position);
            let start = if self.cfg.input.eve == old_path {
                StartAt::Saved
            } else {
                self.cfg.input.start_at
            };
            self.follower = Some(Follower::start(
                &self.cfg.input.eve,
                self.cfg.input.max_line,
                start,
                saved,
            ));
            self.start_watch();
        }
        tracing::info!("{summary}");
        Ok(summary)
    }
}

/// Did the reload change what the fleet or stream tasks were started with?
fn new_fleet_or_stream_changed(cfg: &Config, fleet: &Option<Fleet>) -> bool {
    cfg.fleet.as_ref() != fleet.as_ref().map(|f| &f.cfg)
}
