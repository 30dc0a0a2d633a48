//! Ban records persisted in the state directory.
//!
//! `bans.jsonl` is an append-only journal: one JSON object per line
//! (`{"op":"ban",...}` upserts a record, `{"op":"unban","ip":...}`,
//! `{"op":"flush"}`, `{"op":"offence",...}` remembers a past offender for
//! escalation). It is compacted (rewritten through a temporary file and a
//! rename) at start-up and when it grows much larger than the live set, so
//! a burst of bans costs one buffered append each, not a full rewrite.
//!
//! The bans decided from one read batch are one unit: `{"op":"batch"}`,
//! the bans, then `{"op":"read"}` with the read position their events came
//! from. A batch without its `read` line (the daemon was killed while
//! writing it) is rolled back at load: its events are read again, from the
//! position saved before it, and decided as if for the first time. A batch
//! with its `read` line is complete, and its position is where reading
//! resumes even when `position.json` was not saved after it, so no event
//! is judged twice. `{"op":"logged"}` follows once the batch's `ban` lines
//! are written to the log; a complete batch without it (killed while
//! writing the log) has its `ban` lines written again at load, marked as
//! such, so a ban is never missing from the log.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::follow::Position;

const JOURNAL: &str = "bans.jsonl";

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// One active ban.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BanRecord {
    pub ip: IpAddr,
    pub rule: String,
    /// The event's key fields (matched field and value, destination, sid,
    /// flow id, timestamp) or the operator's reason.
    pub reason: String,
    /// The matched field's text (client software version for ssh rules).
    #[serde(default)]
    pub client: Option<String>,
    /// Unix milliseconds.
    pub first_seen: u64,
    pub last_seen: u64,
    /// Matching events seen for this ban (renewals included).
    pub count: u64,
    /// Which ban of this address this is (1 = first offence).
    pub offence: u32,
    /// Unix milliseconds when the ban ends.
    pub expires: u64,
}

impl BanRecord {
    pub fn remaining(&self, now: u64) -> Duration {
        Duration::from_millis(self.expires.saturating_sub(now))
    }
}

/// Index into [`Names`]; `NO_NAME` = absent.
type NameId = u32;
const NO_NAME: NameId = NameId::MAX;

/// Interned texts (rule names, client versions, reason prefixes): each
/// distinct text is stored once; bans hold 4-byte indices.
#[derive(Default)]
struct Names {
    texts: Vec<Arc<str>>,
    index: HashMap<Arc<str>, NameId>,
}

impl Names {
    fn intern(&mut self, s: &str) -> NameId {
        if let Some(&i) = self.index.get(s) {
            return i;
        }
        let Ok(i) = NameId::try_from(self.texts.len()) else {
            return NO_NAME;
        };
        if i == NO_NAME {
            return NO_NAME;
        }
        let a: Arc<str> = Arc::from(s);
        self.texts.push(a.clone());
        self.index.insert(a, i);
        i
    }

    fn get(&self, i: NameId) -> Option<&str> {
        self.texts.get(i as usize).map(|a| &**a)
    }

    fn len(&self) -> usize {
        self.texts.len()
    }
}

const HAS_SID: u8 = 1;
const HAS_FLOW: u8 = 2;
/// Reconciliation: the kernel reported this address in the pass running now.
const MARK: u8 = 4;

/// The in-memory form of a ban: 48 bytes, no heap allocation of its own.
/// Times are whole Unix seconds (expiry rounded up); texts are interned;
/// the reason is split into an interned prefix (`dest=192.0.2.1:22`) and
/// the per-event numbers (`sid=`, `flow_id=`) kept as integers.
#[derive(Debug, Clone, Copy)]
struct Ban {
    expires: u32,
    first_seen: u32,
    last_seen: u32,
    count: u32,
    offence: u32,
    rule: NameId,
    client: NameId,
    reason: NameId,
    sid: u32,
    flow_lo: u32,
    flow_hi: u32,
    flags: u8,
}

/// Whole seconds of a Unix millisecond time (saturating at 2106).
fn secs_floor(ms: u64) -> u32 {
    u32::try_from(ms / 1000).unwrap_or(u32::MAX)
}

fn secs_ceil(ms: u64) -> u32 {
    u32::try_from(ms.div_ceil(1000)).unwrap_or(u32::MAX)
}

fn ms_of(s: u32) -> u64 {
    u64::from(s) * 1000
}

/// A trailing `key=<number>` word of `s` (at the start or after a space):
/// the text before it (without the space) and the number.
fn take_number<'a, T: std::str::FromStr>(s: &'a str, key: &str) -> (&'a str, Option<T>) {
    let Some(pos) = s.rfind(key) else {
        return (s, None);
    };
    let before = s.get(..pos).unwrap_or("");
    let prefix = match before.strip_suffix(' ') {
        Some(p) => p,
        None if before.is_empty() => "",
        None => return (s, None),
    };
    match s.get(pos + key.len()..).and_then(|n| n.parse::<T>().ok()) {
        Some(n) => (prefix, Some(n)),
        None => (s, None),
    }
}

fn render_reason(prefix: &str, sid: Option<u32>, flow: Option<u64>) -> String {
    let mut out = String::with_capacity(prefix.len() + 32);
    out.push_str(prefix);
    for (key, v) in [("sid=", sid.map(u64::from)), ("flow_id=", flow)] {
        if let Some(v) = v {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(key);
            out.push_str(&v.to_string());
        }
    }
    out
}

/// Splits `dest=… sid=N flow_id=M` into the shared prefix and the
/// numbers; any text that would not render back identically is kept whole.
fn split_reason(s: &str) -> (&str, Option<u32>, Option<u64>) {
    let (rest, flow) = take_number::<u64>(s, "flow_id=");
    let (rest, sid) = take_number::<u32>(rest, "sid=");
    if (sid.is_some() || flow.is_some()) && render_reason(rest, sid, flow) == s {
        (rest, sid, flow)
    } else {
        (s, None, None)
    }
}

impl Ban {
    fn record(&self, ip: IpAddr, names: &Names) -> BanRecord {
        let sid = (self.flags & HAS_SID != 0).then_some(self.sid);
        let flow = (self.flags & HAS_FLOW != 0)
            .then_some(u64::from(self.flow_hi) << 32 | u64::from(self.flow_lo));
        BanRecord {
            ip,
            rule: names.get(self.rule).unwrap_or("").to_string(),
            reason: render_reason(names.get(self.reason).unwrap_or(""), sid, flow),
            client: names.get(self.client).map(str::to_string),
            first_seen: ms_of(self.first_seen),
            last_seen: ms_of(self.last_seen),
            count: u64::from(self.count),
            offence: self.offence,
            expires: ms_of(self.expires),
        }
    }

    fn expires_ms(&self) -> u64 {
        ms_of(self.expires)
    }
}

/// Past offender in memory: ban count and last ban in Unix seconds.
#[derive(Debug, Clone, Copy)]
struct Offender {
    bans: u32,
    last: u32,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase")]
enum Op {
    Ban(BanRecord),
    Unban {
        ip: IpAddr,
    },
    Flush,
    Offence {
        ip: IpAddr,
        bans: u32,
        last: u64,
    },
    /// The start of one read batch's bans.
    Batch {
        seq: u64,
    },
    /// The end of a batch: it is complete; reading resumes at `pos`.
    Read {
        seq: u64,
        #[serde(default)]
        pos: Option<Position>,
    },
    /// The `ban` lines of batch `seq` are written to the log.
    Logged {
        seq: u64,
    },
}

/// The last complete batch of the journal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadMark {
    /// The batch's number (see [`Position::seq`]).
    pub seq: u64,
    /// Where its events ended (`None`: they came from a Redis stream).
    pub pos: Option<Position>,
}

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error(
        "state directory {path}: {source} (create it or fix its permissions; see [state] dir)"
    )]
    Dir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("ban journal {path}: {source}")]
    Journal {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Active bans plus offence history.
///
/// Memory: one 68-byte hash map slot per active ban (address + [`Ban`]),
/// no per-ban heap allocation and no second index: the earliest expiry is
/// cached and expiry scans the map (at most once per second of expiries).
pub struct BanStore {
    dir: PathBuf,
    active: HashMap<IpAddr, Ban>,
    /// A lower bound of the earliest expiry (Unix seconds) of `active`.
    min_expiry: Option<u32>,
    /// Past offenders that are not banned now.
    offences: HashMap<IpAddr, Offender>,
    names: Names,
    journal: Option<BufWriter<File>>,
    journal_lines: usize,
    remember: Duration,
    /// The last complete batch (kept across compaction).
    last_read: Option<ReadMark>,
    /// Damaged journal lines skipped at load.
    pub damaged_lines: u64,
    /// Bans of an incomplete last batch dropped at load (read again).
    pub rolled_back: u64,
}

impl BanStore {
    /// Loads the journal from `dir` (creating the directory), drops expired
    /// bans (keeping them as offences for `remember`), and compacts.
    pub fn open(dir: &Path, remember: Duration, now: u64) -> Result<BanStore, StateError> {
        std::fs::create_dir_all(dir).map_err(|source| StateError::Dir {
            path: dir.to_path_buf(),
            source,
        })?;
        let mut s = BanStore {
            dir: dir.to_path_buf(),
            active: HashMap::new(),
            min_expiry: None,
            offences: HashMap::new(),
            names: Names::default(),
            journal: None,
            journal_lines: 0,
            remember,
            last_read: None,
            damaged_lines: 0,
            rolled_back: 0,
        };
        let path = dir.join(JOURNAL);
        match File::open(&path) {
            Ok(f) => {
                // The ops of a batch whose `read` line has not come yet, and
                // the damaged lines among them.
                let mut open: Option<(Vec<Op>, u64)> = None;
                // The last complete batch while its `logged` line is
                // missing, with the addresses it newly banned.
                let mut unlogged: Option<(u64, Vec<IpAddr>)> = None;
                for line in BufReader::new(f).split(b'\n') {
                    let line = line.map_err(|source| StateError::Journal {
                        path: path.clone(),
                        source,
                    })?;
                    if line.is_empty() {
                        continue;
                    }
                    match (serde_json::from_slice::<Op>(&line), open.as_mut()) {
                        (Ok(Op::Batch { .. }), _) => {
                            if let Some((ops, bad)) = open.replace((Vec::new(), 0)) {
                                // A batch never ended, and the daemon went on:
                                // not a crash's torn tail, keep what it has.
                                s.damaged_lines += bad;
                                ops.into_iter().for_each(|op| s.apply(op));
                            }
                        }
                        (Ok(Op::Read { seq, pos }), _) => {
                            if let Some((ops, bad)) = open.take() {
                                s.damaged_lines += bad;
                                let mut new = Vec::new();
                                for op in ops {
                                    if let Op::Ban(r) = &op {
                                        if !s.active.contains_key(&r.ip) {
                                            new.push(r.ip);
                                        }
                                    }
                                    s.apply(op);
                                }
                                unlogged = Some((seq, new));
                            }
                            s.last_read = Some(ReadMark { seq, pos });
                        }
                        (Ok(Op::Logged { seq }), _) => {
                            if unlogged.as_ref().is_some_and(|u| u.0 == seq) {
                                unlogged = None;
                            }
                        }
                        (Ok(op), Some((ops, _))) => ops.push(op),
                        (Ok(op), None) => s.apply(op),
                        (Err(_), Some((_, bad))) => *bad += 1,
                        (Err(_), None) => s.damaged_lines += 1,
                    }
                }
                if let Some((ops, _)) = open {
                    s.rolled_back = ops.len() as u64;
                    tracing::warn!(file = %path.display(), bans = s.rolled_back, "the last batch of bans was not completely written (the daemon was killed); its events are read again");
                }
                if let Some((_, ips)) = unlogged {
                    s.log_again(&ips);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(StateError::Journal { path, source }),
        }
        if s.damaged_lines > 0 {
            // Compaction rewrites the journal: keep the damaged original aside.
            let aside = dir.join(format!("{JOURNAL}.damaged-{now}"));
            let kept = std::fs::copy(&path, &aside).is_ok();
            tracing::warn!(file = %path.display(), lines = s.damaged_lines, copy = %aside.display(), kept, "skipped damaged lines in the ban journal (the original is kept as the copy)");
        }
        s.expire(now);
        s.compact(now)?;
        Ok(s)
    }

    fn apply(&mut self, op: Op) {
        match op {
            Op::Ban(r) => self.insert(&r),
            Op::Unban { ip } => {
                self.remove_mem(ip);
            }
            Op::Flush => {
                self.clear_mem();
            }
            Op::Offence { ip, bans, last } => {
                self.offences.insert(
                    ip,
                    Offender {
                        bans,
                        last: secs_floor(last),
                    },
                );
            }
            Op::Batch { .. } | Op::Read { .. } | Op::Logged { .. } => {}
        }
    }

    /// Writes the `ban` lines of a batch whose log write may have been cut
    /// short by a kill, marked as written again (before compaction drops
    /// the batch's `logged` state).
    fn log_again(&self, ips: &[IpAddr]) {
        for ip in ips {
            if let Some(r) = self.get(*ip) {
                let dur = Duration::from_secs(r.expires.saturating_sub(r.first_seen) / 1000);
                tracing::info!(
                    "ban {} for {} rule={:?} client={:?} (logged again at start-up: the daemon was stopped while writing the ban lines of its last batch)",
                    ip,
                    meerkat_shared::duration::format_duration(dur),
                    r.rule,
                    r.client.as_deref().unwrap_or("")
                );
            }
        }
    }

    fn compact_ban(&mut self, r: &BanRecord, prior: u32) -> Ban {
        let (prefix, sid, flow) = split_reason(&r.reason);
        let mut flags = 0;
        if sid.is_some() {
            flags |= HAS_SID;
        }
        if flow.is_some() {
            flags |= HAS_FLOW;
        }
        let flow = flow.unwrap_or(0);
        Ban {
            expires: secs_ceil(r.expires),
            first_seen: secs_floor(r.first_seen),
            last_seen: secs_floor(r.last_seen),
            count: u32::try_from(r.count).unwrap_or(u32::MAX),
            offence: r.offence.max(prior),
            rule: self.names.intern(&r.rule),
            client: r
                .client
                .as_deref()
                .map_or(NO_NAME, |c| self.names.intern(c)),
            reason: self.names.intern(prefix),
            sid: sid.unwrap_or(0),
            flow_lo: flow as u32,
            flow_hi: (flow >> 32) as u32,
            flags,
        }
    }

    fn insert(&mut self, r: &BanRecord) {
        let prior = self.offences.remove(&r.ip).map(|o| o.bans).unwrap_or(0);
        let ban = self.compact_ban(r, prior);
        self.min_expiry = Some(self.min_expiry.map_or(ban.expires, |m| m.min(ban.expires)));
        self.active.insert(r.ip, ban);
    }

    /// Forgets an active ban, remembering the address as an offender.
    fn remove_mem(&mut self, ip: IpAddr) -> Option<BanRecord> {
        let b = self.active.remove(&ip)?;
        self.offences.insert(
            ip,
            Offender {
                bans: b.offence,
                last: b.first_seen,
            },
        );
        let r = b.record(ip, &self.names);
        self.shrink();
        Some(r)
    }

    fn clear_mem(&mut self) {
        for (ip, b) in self.active.drain() {
            self.offences.insert(
                ip,
                Offender {
                    bans: b.offence,
                    last: b.first_seen,
                },
            );
        }
        self.min_expiry = None;
        self.shrink();
    }

    /// Gives memory back after a burst of bans has expired or was lifted.
    fn shrink(&mut self) {
        if self.active.capacity() > 1024 && self.active.capacity() > 4 * self.active.len() {
            self.active.shrink_to_fit();
        }
        if self.offences.capacity() > 1024 && self.offences.capacity() > 4 * self.offences.len() {
            self.offences.shrink_to_fit();
        }
    }

    fn append(&mut self, op: &Op) -> Result<(), StateError> {
        let path = self.dir.join(JOURNAL);
        let res = (|| -> std::io::Result<()> {
            if self.journal.is_none() {
                let f = OpenOptions::new().create(true).append(true).open(&path)?;
                self.journal = Some(BufWriter::with_capacity(64 * 1024, f));
            }
            if let Some(j) = self.journal.as_mut() {
                serde_json::to_writer(&mut *j, op).map_err(std::io::Error::other)?;
                j.write_all(b"\n")?;
            }
            Ok(())
        })();
        self.journal_lines += 1;
        res.map_err(|source| StateError::Journal { path, source })
    }

    /// Records a new or renewed ban (journaled; call [`BanStore::sync`]).
    pub fn put(&mut self, r: BanRecord) -> Result<(), StateError> {
        let op = Op::Ban(r);
        let res = self.append(&op);
        if let Op::Ban(r) = &op {
            self.insert(r);
        }
        res
    }

    pub fn remove(&mut self, ip: IpAddr) -> Result<Option<BanRecord>, StateError> {
        let r = self.remove_mem(ip);
        if r.is_some() {
            self.append(&Op::Unban { ip })?;
        }
        Ok(r)
    }

    /// Starts the bans of read batch `seq`: [`BanStore::put`] them, then
    /// [`BanStore::commit_batch`].
    pub fn begin_batch(&mut self, seq: u64) -> Result<(), StateError> {
        self.append(&Op::Batch { seq })
    }

    /// Ends batch `seq` (its events ended at `pos`) and writes the journal
    /// out: from now on the batch survives a crash as a whole. Write its
    /// log lines next, then call [`BanStore::logged`].
    pub fn commit_batch(&mut self, seq: u64, pos: Option<Position>) -> Result<(), StateError> {
        let mark = ReadMark { seq, pos };
        let res = self.append(&Op::Read {
            seq,
            pos: mark.pos.clone(),
        });
        self.last_read = Some(mark);
        res.and_then(|()| self.flush())
    }

    /// The log lines of batch `seq` are written (see [`BanStore::commit_batch`]).
    pub fn logged(&mut self, seq: u64, now: u64) -> Result<(), StateError> {
        self.append(&Op::Logged { seq })?;
        self.sync(now)
    }

    fn flush(&mut self) -> Result<(), StateError> {
        if let Some(j) = self.journal.as_mut() {
            j.flush().map_err(|source| StateError::Journal {
                path: self.dir.join(JOURNAL),
                source,
            })?;
        }
        Ok(())
    }

    /// The last complete batch: where its events ended.
    pub fn last_read(&self) -> Option<&ReadMark> {
        self.last_read.as_ref()
    }

    pub fn clear(&mut self) -> Result<usize, StateError> {
        let n = self.active.len();
        self.clear_mem();
        self.append(&Op::Flush)?;
        Ok(n)
    }

    /// Removes and returns bans whose expiry is at or before `now`, soonest
    /// first. Scans the bans only when the cached earliest expiry is due.
    pub fn expire(&mut self, now: u64) -> Vec<BanRecord> {
        let due = match self.min_expiry {
            Some(m) => ms_of(m) <= now,
            None => false,
        };
        if !due {
            return Vec::new();
        }
        let mut gone: Vec<(IpAddr, Ban)> = Vec::new();
        let mut min: Option<u32> = None;
        let offences = &mut self.offences;
        self.active.retain(|ip, b| {
            if b.expires_ms() <= now {
                offences.insert(
                    *ip,
                    Offender {
                        bans: b.offence,
                        last: b.first_seen,
                    },
                );
                gone.push((*ip, *b));
                false
            } else {
                min = Some(min.map_or(b.expires, |m| m.min(b.expires)));
                true
            }
        });
        self.min_expiry = min;
        gone.sort_by_key(|(ip, b)| (b.expires, *ip));
        let out = gone
            .iter()
            .map(|(ip, b)| b.record(*ip, &self.names))
            .collect();
        self.shrink();
        out
    }

    /// Unix ms of the next expiry (may be early after a ban was lifted by
    /// hand; [`BanStore::expire`] then refreshes it).
    pub fn next_expiry(&self) -> Option<u64> {
        self.min_expiry.map(ms_of)
    }

    pub fn get(&self, ip: IpAddr) -> Option<BanRecord> {
        self.active.get(&ip).map(|b| b.record(ip, &self.names))
    }

    /// How many times `ip` was banned before (for escalation), forgetting
    /// offences older than `remember`.
    pub fn previous_bans(&self, ip: IpAddr, now: u64) -> u32 {
        if let Some(b) = self.active.get(&ip) {
            return b.offence;
        }
        match self.offences.get(&ip) {
            Some(o) if now.saturating_sub(ms_of(o.last)) <= duration_ms(self.remember) => o.bans,
            _ => 0,
        }
    }

    /// Addresses banned now.
    pub fn ips(&self) -> impl Iterator<Item = IpAddr> + '_ {
        self.active.keys().copied()
    }

    /// Every active ban with its remaining time.
    pub fn remaining(&self, now: u64) -> Vec<(IpAddr, Duration)> {
        self.active
            .iter()
            .map(|(ip, b)| (*ip, remaining_of(b, now)))
            .collect()
    }

    /// Full records of the active bans, soonest expiry first.
    pub fn records(&self) -> Vec<BanRecord> {
        let mut v: Vec<(IpAddr, Ban)> = self.active.iter().map(|(ip, b)| (*ip, *b)).collect();
        v.sort_by_key(|(ip, b)| (b.expires, *ip));
        v.iter().map(|(ip, b)| b.record(*ip, &self.names)).collect()
    }

    pub fn len(&self) -> usize {
        self.active.len()
    }

    pub fn is_empty(&self) -> bool {
        self.active.is_empty()
    }

    /// Flushes buffered journal lines to the file; compacts when the
    /// journal is much longer than the live state.
    pub fn sync(&mut self, now: u64) -> Result<(), StateError> {
        if self.journal_lines > 10_000
            && self.journal_lines > 4 * (self.active.len() + self.offences.len())
        {
            return self.compact(now);
        }
        self.flush()
    }

    /// Rebuilds the interned texts from the live bans, so client versions
    /// of long-gone bans do not accumulate.
    fn collect_names(&mut self) {
        if self.names.len() <= 64 {
            return;
        }
        let old = std::mem::take(&mut self.names);
        let names = &mut self.names;
        let mut remap = |i: NameId| match old.get(i) {
            Some(t) => names.intern(t),
            None => NO_NAME,
        };
        for b in self.active.values_mut() {
            b.rule = remap(b.rule);
            b.client = remap(b.client);
            b.reason = remap(b.reason);
        }
    }

    /// Rewrites the journal with only live records (tmp file + rename).
    pub fn compact(&mut self, now: u64) -> Result<(), StateError> {
        let path = self.dir.join(JOURNAL);
        let tmp = self.dir.join(".bans.jsonl.tmp");
        let keep = duration_ms(self.remember);
        self.offences
            .retain(|_, o| now.saturating_sub(ms_of(o.last)) <= keep);
        self.shrink();
        self.collect_names();
        let res = (|| -> std::io::Result<usize> {
            let mut w = BufWriter::new(File::create(&tmp)?);
            let mut n = 0;
            for (ip, o) in &self.offences {
                serde_json::to_writer(
                    &mut w,
                    &Op::Offence {
                        ip: *ip,
                        bans: o.bans,
                        last: ms_of(o.last),
                    },
                )
                .map_err(std::io::Error::other)?;
                w.write_all(b"\n")?;
                n += 1;
            }
            for (ip, b) in &self.active {
                serde_json::to_writer(&mut w, &Op::Ban(b.record(*ip, &self.names)))
                    .map_err(std::io::Error::other)?;
                w.write_all(b"\n")?;
                n += 1;
            }
            if let Some(m) = &self.last_read {
                let op = Op::Read {
                    seq: m.seq,
                    pos: m.pos.clone(),
                };
                serde_json::to_writer(&mut w, &op).map_err(std::io::Error::other)?;
                w.write_all(b"\n")?;
                n += 1;
            }
            w.flush()?;
            w.get_ref().sync_data()?;
            std::fs::rename(&tmp, &path)?;
            Ok(n)
        })();
        self.journal = None;
        let n = res.map_err(|source| StateError::Journal { path, source })?;
        self.journal_lines = n;
        Ok(())
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

fn remaining_of(b: &Ban, now: u64) -> Duration {
    Duration::from_millis(b.expires_ms().saturating_sub(now))
}

/// Reconciliation walks the kernel's elements without building a copy of
/// them: every address the kernel reports is marked here, then the
/// unmarked bans are the missing ones.
impl crate::enforce::ActiveBans for BanStore {
    fn clear_marks(&mut self) {
        for b in self.active.values_mut() {
            b.flags &= !MARK;
        }
    }

    fn mark(&mut self, ip: IpAddr) {
        if let Some(b) = self.active.get_mut(&ip) {
            b.flags |= MARK;
        }
    }

    fn for_each_unmarked(&self, now: u64, f: &mut dyn FnMut(IpAddr, Duration)) {
        for (ip, b) in &self.active {
            if b.flags & MARK == 0 {
                f(*ip, remaining_of(b, now));
            }
        }
    }
}

fn duration_ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(tag: &str) -> PathBuf {
        let p = std::env::temp_dir().join(format!("meerkat-state-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        p
    }

    fn rec(ip: &str, now: u64, secs: u64, offence: u32) -> BanRecord {
        BanRecord {
            ip: ip.parse().unwrap(),
            rule: "r".into(),
            reason: "why".into(),
            client: Some("libssh_0.9.6".into()),
            first_seen: now,
            last_seen: now,
            count: 1,
            offence,
            expires: now + secs * 1000,
        }
    }

    #[test]
    fn persists_and_drops_expired() {
        let d = tmp("persist");
        let now = 1_000_000_000;
        {
            let mut s = BanStore::open(&d, Duration::from_secs(86400), now).unwrap();
            s.put(rec("198.51.100.1", now, 3600, 1)).unwrap();
            s.put(rec("198.51.100.2", now, 10, 1)).unwrap();
            s.put(rec("2001:db8::3", now, 3600, 2)).unwrap();
            s.remove("2001:db8::3".parse().unwrap()).unwrap();
            s.sync(now).unwrap();
        }
        // Restart 20 s later: the 10 s ban is gone, the other keeps its expiry.
        let later = now + 20_000;
        let s = BanStore::open(&d, Duration::from_secs(86400), later).unwrap();
        assert_eq!(s.len(), 1);
        let r = s.get("198.51.100.1".parse().unwrap()).unwrap();
        assert_eq!(r.remaining(later), Duration::from_secs(3580));
        assert_eq!(r.client.as_deref(), Some("libssh_0.9.6"));
        // Offences survive expiry and unban, for escalation.
        assert_eq!(s.previous_bans("198.51.100.2".parse().unwrap(), later), 1);
        assert_eq!(s.previous_bans("2001:db8::3".parse().unwrap(), later), 2);
        assert_eq!(
            s.previous_bans("2001:db8::3".parse().unwrap(), later + 2 * 86_400_000),
            0
        );
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn expiry_order_and_flush() {
        let d = tmp("expiry");
        let now = 5_000_000;
        let mut s = BanStore::open(&d, Duration::from_secs(60), now).unwrap();
        s.put(rec("198.51.100.1", now, 30, 1)).unwrap();
        s.put(rec("198.51.100.2", now, 10, 1)).unwrap();
        // Renewal moves the expiry.
        s.put(rec("198.51.100.2", now, 50, 1)).unwrap();
        // The cached bound may be early after a renewal; a scan fixes it.
        assert!(s.next_expiry() <= Some(now + 30_000));
        assert!(s.expire(now + 20_000).is_empty());
        assert_eq!(s.next_expiry(), Some(now + 30_000));
        let gone = s.expire(now + 40_000);
        assert_eq!(gone.len(), 1);
        assert_eq!(gone[0].ip, "198.51.100.1".parse::<IpAddr>().unwrap());
        assert_eq!(s.clear().unwrap(), 1);
        s.sync(now).unwrap();
        drop(s);
        let s = BanStore::open(&d, Duration::from_secs(60), now).unwrap();
        assert!(s.is_empty());
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn reasons_split_into_prefix_and_numbers_and_render_back() {
        for text in [
            "dest=203.0.113.5:22 sid=2006546 flow_id=7",
            "dest=[2001:db8::1]:22 flow_id=18446744073709551615",
            "sid=1",
            "flow_id=0",
            "manual ban",
            "",
            "dest=x sid=007",
            "flow_id=12x",
            "nosid=5",
        ] {
            let (p, sid, flow) = split_reason(text);
            assert_eq!(render_reason(p, sid, flow), text, "{text}");
        }
        assert_eq!(
            split_reason("dest=203.0.113.5:22 sid=2006546 flow_id=7"),
            ("dest=203.0.113.5:22", Some(2006546), Some(7))
        );
        assert_eq!(split_reason("nosid=5"), ("nosid=5", None, None));
        assert_eq!(
            split_reason("dest=x sid=007"),
            ("dest=x sid=007", None, None)
        );
    }

    #[test]
    fn compact_form_round_trips_records() {
        let d = tmp("compact");
        let now = 1_700_000_000_000;
        let mut s = BanStore::open(&d, Duration::from_secs(60), now).unwrap();
        let mut r = rec("2001:db8::7", now, 600, 3);
        r.reason = "dest=[2001:db8::1]:22 sid=2006546 flow_id=1234567890123".into();
        r.count = 9;
        s.put(r.clone()).unwrap();
        assert_eq!(s.get(r.ip).unwrap(), r);
        let mut manual = rec("192.0.2.9", now, 60, 1);
        manual.client = None;
        manual.reason = "seen in the web log".into();
        s.put(manual.clone()).unwrap();
        assert_eq!(s.get(manual.ip).unwrap(), manual);
        // Sub-second parts are dropped, expiry rounded up.
        let mut odd = rec("192.0.2.10", now + 250, 10, 1);
        odd.expires = now + 10_250;
        s.put(odd.clone()).unwrap();
        let got = s.get(odd.ip).unwrap();
        assert_eq!((got.first_seen, got.expires), (now, now + 11_000));
        // One small fixed-size slot per ban, no heap of its own.
        assert!(std::mem::size_of::<Ban>() <= 48);
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn expiry_scan_refreshes_its_bound_after_manual_removal() {
        let d = tmp("scan");
        let now = 9_000_000;
        let mut s = BanStore::open(&d, Duration::from_secs(60), now).unwrap();
        s.put(rec("198.51.100.1", now, 10, 1)).unwrap();
        s.put(rec("198.51.100.2", now, 20, 1)).unwrap();
        s.put(rec("198.51.100.3", now, 5, 1)).unwrap();
        s.remove("198.51.100.3".parse().unwrap()).unwrap();
        // The bound is still the removed ban's; a scan finds nothing due.
        assert_eq!(s.next_expiry(), Some(now + 5_000));
        assert!(s.expire(now + 6_000).is_empty());
        assert_eq!(s.next_expiry(), Some(now + 10_000));
        let gone = s.expire(now + 30_000);
        let ips: Vec<String> = gone.iter().map(|r| r.ip.to_string()).collect();
        assert_eq!(ips, vec!["198.51.100.1", "198.51.100.2"]);
        assert_eq!(s.next_expiry(), None);
        assert!(s.is_empty());
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn reconcile_marks_find_the_missing_bans() {
        use crate::enforce::ActiveBans;
        let d = tmp("marks");
        let now = 9_000_000;
        let mut s = BanStore::open(&d, Duration::from_secs(60), now).unwrap();
        s.put(rec("198.51.100.1", now, 10, 1)).unwrap();
        s.put(rec("198.51.100.2", now, 20, 1)).unwrap();
        s.clear_marks();
        s.mark("198.51.100.1".parse().unwrap());
        s.mark("203.0.113.99".parse().unwrap());
        let mut missing = Vec::new();
        s.for_each_unmarked(now, &mut |ip, rem| missing.push((ip, rem)));
        assert_eq!(
            missing,
            vec![("198.51.100.2".parse().unwrap(), Duration::from_secs(20))]
        );
        s.clear_marks();
        let mut n = 0;
        s.for_each_unmarked(now, &mut |_, _| n += 1);
        assert_eq!(n, 2);
        let _ = std::fs::remove_dir_all(&d);
    }

    fn pos(offset: u64, seq: u64) -> Position {
        Position {
            path: "/var/log/suricata/eve.json".into(),
            dev: 1,
            ino: 2,
            offset,
            head: String::new(),
            seq,
        }
    }

    #[test]
    fn a_batch_counts_only_when_complete() {
        let d = tmp("batch");
        let now = 1_000_000_000;
        let mut s = BanStore::open(&d, Duration::from_secs(60), now).unwrap();
        s.begin_batch(1).unwrap();
        s.put(rec("198.51.100.1", now, 3600, 1)).unwrap();
        s.commit_batch(1, Some(pos(100, 1))).unwrap();
        s.logged(1, now).unwrap();
        // Killed while writing batch 2: only part of it reached the file.
        s.begin_batch(2).unwrap();
        s.put(rec("198.51.100.2", now, 3600, 1)).unwrap();
        s.put(rec("198.51.100.3", now, 3600, 1)).unwrap();
        s.flush().unwrap();
        drop(s);
        let path = d.join(JOURNAL);
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, &text[..text.len() - 20]).unwrap();
        let s = BanStore::open(&d, Duration::from_secs(60), now).unwrap();
        assert_eq!(s.len(), 1, "the incomplete batch is rolled back");
        assert_eq!((s.rolled_back, s.damaged_lines), (1, 0));
        assert_eq!(
            s.last_read().unwrap(),
            &ReadMark {
                seq: 1,
                pos: Some(pos(100, 1))
            }
        );
        drop(s);
        // The read mark survives the compaction done at open.
        let mut s = BanStore::open(&d, Duration::from_secs(60), now).unwrap();
        assert_eq!(s.last_read().unwrap().seq, 1);
        // Complete but not logged: kept (its lines are written again).
        s.begin_batch(2).unwrap();
        s.put(rec("198.51.100.2", now, 3600, 1)).unwrap();
        s.commit_batch(2, Some(pos(300, 2))).unwrap();
        drop(s);
        let s = BanStore::open(&d, Duration::from_secs(60), now).unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s.last_read().unwrap().pos, Some(pos(300, 2)));
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn damaged_lines_are_skipped() {
        let d = tmp("damaged");
        std::fs::create_dir_all(&d).unwrap();
        let good = serde_json::to_string(&Op::Ban(rec("198.51.100.9", 1000, 3600, 1))).unwrap();
        std::fs::write(
            d.join(JOURNAL),
            format!("garbage\n{good}\n{{\"op\":\"ban\",\"ip\":"),
        )
        .unwrap();
        let s = BanStore::open(&d, Duration::from_secs(60), 2000).unwrap();
        assert_eq!(s.len(), 1);
        assert_eq!(s.damaged_lines, 2);
        let _ = std::fs::remove_dir_all(&d);
    }
}
