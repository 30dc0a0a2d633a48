//! Ban records persisted in the state directory.
//!
//! `bans.jsonl` is an append-only journal: one JSON object per line
//! (`{"op":"ban",...}` upserts a record, `{"op":"unban","ip":...}`,
//! `{"op":"flush"}`, `{"op":"offence",...}` remembers a past offender for
//! escalation). It is compacted (rewritten through a temporary file and a
//! rename) at start-up and when it grows much larger than the live set, so
//! a burst of bans costs one buffered append each, not a full rewrite.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

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

/// The in-memory form of a ban: names shared through an interner, so
/// 100,000 bans by a few rules and client versions stay small.
#[derive(Debug, Clone)]
struct Ban {
    rule: Arc<str>,
    client: Option<Arc<str>>,
    reason: Box<str>,
    first_seen: u64,
    last_seen: u64,
    expires: u64,
    count: u64,
    offence: u32,
}

impl Ban {
    fn record(&self, ip: IpAddr) -> BanRecord {
        BanRecord {
            ip,
            rule: self.rule.to_string(),
            reason: self.reason.to_string(),
            client: self.client.as_deref().map(str::to_string),
            first_seen: self.first_seen,
            last_seen: self.last_seen,
            count: self.count,
            offence: self.offence,
            expires: self.expires,
        }
    }
}

/// A past offender, remembered for escalation after its ban expired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Offence {
    pub bans: u32,
    /// Unix milliseconds of the last ban.
    pub last: u64,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase")]
enum Op {
    Ban(BanRecord),
    Unban { ip: IpAddr },
    Flush,
    Offence { ip: IpAddr, bans: u32, last: u64 },
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

/// Active bans (by address and by expiry) plus offence history.
pub struct BanStore {
    dir: PathBuf,
    active: HashMap<IpAddr, Ban>,
    by_expiry: BTreeSet<(u64, IpAddr)>,
    /// Past offenders that are not banned now.
    offences: HashMap<IpAddr, Offence>,
    names: HashSet<Arc<str>>,
    journal: Option<BufWriter<File>>,
    journal_lines: usize,
    remember: Duration,
    /// Damaged journal lines skipped at load.
    pub damaged_lines: u64,
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
            by_expiry: BTreeSet::new(),
            offences: HashMap::new(),
            names: HashSet::new(),
            journal: None,
            journal_lines: 0,
            remember,
            damaged_lines: 0,
        };
        let path = dir.join(JOURNAL);
        match File::open(&path) {
            Ok(f) => {
                for line in BufReader::new(f).split(b'\n') {
                    let line = line.map_err(|source| StateError::Journal {
                        path: path.clone(),
                        source,
                    })?;
                    if line.is_empty() {
                        continue;
                    }
                    match serde_json::from_slice::<Op>(&line) {
                        Ok(op) => s.apply(op),
                        Err(_) => s.damaged_lines += 1,
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(StateError::Journal { path, source }),
        }
        if s.damaged_lines > 0 {
            tracing::warn!(file = %path.display(), lines = s.damaged_lines, "skipped damaged lines in the ban journal");
        }
        s.expire(now);
        s.compact(now)?;
        Ok(s)
    }

    fn apply(&mut self, op: Op) {
        match op {
            Op::Ban(r) => self.insert(r),
            Op::Unban { ip } => {
                self.remove_mem(ip);
            }
            Op::Flush => {
                self.clear_mem();
            }
            Op::Offence { ip, bans, last } => {
                self.offences.insert(ip, Offence { bans, last });
            }
        }
    }

    fn intern(&mut self, s: &str) -> Arc<str> {
        if let Some(a) = self.names.get(s) {
            return a.clone();
        }
        let a: Arc<str> = Arc::from(s);
        self.names.insert(a.clone());
        a
    }

    fn insert(&mut self, r: BanRecord) {
        let prior = self.offences.remove(&r.ip).map(|o| o.bans).unwrap_or(0);
        let ban = Ban {
            rule: self.intern(&r.rule),
            client: r.client.as_deref().map(|c| self.intern(c)),
            reason: r.reason.into_boxed_str(),
            first_seen: r.first_seen,
            last_seen: r.last_seen,
            expires: r.expires,
            count: r.count,
            offence: r.offence.max(prior),
        };
        if let Some(prev) = self.active.get(&r.ip) {
            self.by_expiry.remove(&(prev.expires, r.ip));
        }
        self.by_expiry.insert((ban.expires, r.ip));
        self.active.insert(r.ip, ban);
    }

    /// Forgets an active ban, remembering the address as an offender.
    fn remove_mem(&mut self, ip: IpAddr) -> Option<BanRecord> {
        let b = self.active.remove(&ip)?;
        self.by_expiry.remove(&(b.expires, ip));
        self.offences.insert(
            ip,
            Offence {
                bans: b.offence,
                last: b.first_seen,
            },
        );
        Some(b.record(ip))
    }

    fn clear_mem(&mut self) {
        for (ip, b) in self.active.drain() {
            self.offences.insert(
                ip,
                Offence {
                    bans: b.offence,
                    last: b.first_seen,
                },
            );
        }
        self.by_expiry.clear();
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
        let res = self.append(&Op::Ban(r.clone()));
        self.insert(r);
        res
    }

    pub fn remove(&mut self, ip: IpAddr) -> Result<Option<BanRecord>, StateError> {
        let r = self.remove_mem(ip);
        if r.is_some() {
            self.append(&Op::Unban { ip })?;
        }
        Ok(r)
    }

    pub fn clear(&mut self) -> Result<usize, StateError> {
        let n = self.active.len();
        self.clear_mem();
        self.append(&Op::Flush)?;
        Ok(n)
    }

    /// Removes and returns bans whose expiry is at or before `now`.
    pub fn expire(&mut self, now: u64) -> Vec<BanRecord> {
        let mut out = Vec::new();
        while let Some(&(exp, ip)) = self.by_expiry.first() {
            if exp > now {
                break;
            }
            if let Some(r) = self.remove_mem(ip) {
                out.push(r);
            } else {
                self.by_expiry.remove(&(exp, ip));
            }
        }
        out
    }

    /// Unix ms of the next expiry.
    pub fn next_expiry(&self) -> Option<u64> {
        self.by_expiry.first().map(|(e, _)| *e)
    }

    pub fn get(&self, ip: IpAddr) -> Option<BanRecord> {
        self.active.get(&ip).map(|b| b.record(ip))
    }

    /// How many times `ip` was banned before (for escalation), forgetting
    /// offences older than `remember`.
    pub fn previous_bans(&self, ip: IpAddr, now: u64) -> u32 {
        if let Some(b) = self.active.get(&ip) {
            return b.offence;
        }
        match self.offences.get(&ip) {
            Some(o) if now.saturating_sub(o.last) <= duration_ms(self.remember) => o.bans,
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
            .map(|(ip, b)| (*ip, Duration::from_millis(b.expires.saturating_sub(now))))
            .collect()
    }

    /// Full records of the active bans, soonest expiry first.
    pub fn records(&self) -> Vec<BanRecord> {
        self.by_expiry
            .iter()
            .filter_map(|(_, ip)| self.active.get(ip).map(|b| b.record(*ip)))
            .collect()
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
        if let Some(j) = self.journal.as_mut() {
            j.flush().map_err(|source| StateError::Journal {
                path: self.dir.join(JOURNAL),
                source,
            })?;
        }
        Ok(())
    }

    /// Rewrites the journal with only live records (tmp file + rename).
    pub fn compact(&mut self, now: u64) -> Result<(), StateError> {
        let path = self.dir.join(JOURNAL);
        let tmp = self.dir.join(".bans.jsonl.tmp");
        let keep = duration_ms(self.remember);
        self.offences
            .retain(|_, o| now.saturating_sub(o.last) <= keep);
        let res = (|| -> std::io::Result<usize> {
            let mut w = BufWriter::new(File::create(&tmp)?);
            let mut n = 0;
            for (ip, o) in &self.offences {
                serde_json::to_writer(
                    &mut w,
                    &Op::Offence {
                        ip: *ip,
                        bans: o.bans,
                        last: o.last,
                    },
                )
                .map_err(std::io::Error::other)?;
                w.write_all(b"\n")?;
                n += 1;
            }
            for (ip, b) in &self.active {
                serde_json::to_writer(&mut w, &Op::Ban(b.record(*ip)))
                    .map_err(std::io::Error::other)?;
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
