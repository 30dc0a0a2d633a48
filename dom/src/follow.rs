//! Following eve.json: complete lines only, across rotation and truncation,
//! with a saved position so a restart neither replays nor skips.
//!
//! * Identity of a file = (device, inode) plus a fingerprint: its first
//!   [`HEAD_LEN`] bytes (an EVE line starts with its microsecond timestamp,
//!   so two files practically never share them). When the path names a
//!   different file than the one open (rename-and-create rotation), the old
//!   file is read to its end (and kept a few seconds for late writes), then
//!   the new one is read from offset 0.
//! * When the open file is shorter than the read offset, or its first bytes
//!   changed (copytruncate followed by more writes than we had read, or a
//!   file replaced in place with a reused inode), reading restarts at 0. At
//!   start-up a saved position whose fingerprint no longer matches is not
//!   trusted either.
//! * When neither the file nor its directory exists yet, the path is polled
//!   (the caller re-arms inotify once the directory appears). If the file
//!   was created and rotated away before we could open it, the newest
//!   rotated sibling written since we started waiting (`eve.json.1`,
//!   `eve.json-20250314`, not compressed ones) is read first.
//! * Inherent limit of copytruncate (for every tail-based reader, fail2ban
//!   included): lines written after the reader's last read and before the
//!   copy is truncated exist only in the copy; the reader only sees the
//!   original shrink and cannot tell which bytes of the copy it missed, so
//!   those lines are lost. Prefer rename-and-create rotation (Suricata
//!   reopens its files on SIGHUP) for eve.json.
//! * A line without its newline waits for it. Lines longer than `max_line`
//!   are skipped (to their newline) and counted.
//! * Wake-ups come from inotify on the file's directory (so renames and
//!   creations are seen) and from a polling fallback driven by the caller.

use std::fs::File;
use std::io::{ErrorKind, Read, Seek, SeekFrom};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use serde::{Deserialize, Serialize};

use crate::config::StartAt;

/// How long a rotated-away file is still read for late writes.
const OLD_FILE_GRACE: Duration = Duration::from_secs(5);
const CHUNK: usize = 64 * 1024;
/// Bytes at the start of a file kept as its fingerprint.
pub const HEAD_LEN: usize = 64;
const POSITION_FILE: &str = "position.json";

/// The saved read position: which file (path and identity) and how far.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    pub path: PathBuf,
    pub dev: u64,
    pub ino: u64,
    pub offset: u64,
    /// Hex of the file's first bytes (up to [`HEAD_LEN`]) when saved.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub head: String,
    /// Which save this is (counts up over the daemon's lives): the position
    /// is kept in `position.json` and, with the bans of its batch, in the
    /// ban journal; at start-up the higher `seq` is the newer one.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub seq: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// The first bytes of `file` (fewer when it is shorter).
fn read_head(file: &File) -> Vec<u8> {
    let mut buf = [0u8; HEAD_LEN];
    let mut got = 0;
    while got < HEAD_LEN {
        match file.read_at(buf.get_mut(got..).unwrap_or(&mut []), got as u64) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(_) => break,
        }
    }
    buf.get(..got).unwrap_or(&[]).to_vec()
}

/// Does a file whose first bytes are now `now` still look like the one
/// fingerprinted as `then`? (A file only grows at its end.)
fn same_head(then: &[u8], now: &[u8]) -> bool {
    now.starts_with(then)
}

/// Counters kept by the follower.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FollowStats {
    pub lines: u64,
    pub bytes: u64,
    pub skipped_long: u64,
    pub rotations: u64,
    pub truncations: u64,
    /// Incomplete last lines of rotated files that never got their newline.
    pub discarded_partial: u64,
    pub read_errors: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum FollowError {
    #[error("cannot save the read position to {path}: {source} (check that the state directory is writable)")]
    Save {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot watch directory {path}: {source} (falling back to polling)")]
    Watch {
        path: PathBuf,
        source: notify::Error,
    },
}

struct OpenFile {
    file: File,
    dev: u64,
    ino: u64,
    /// Offset of the next byte to read.
    pos: u64,
    /// Bytes of the current incomplete line.
    partial: Vec<u8>,
    /// Inside an over-long line: drop bytes until its newline.
    skipping: bool,
    /// Fingerprint: the first bytes seen (grows until [`HEAD_LEN`]).
    head: Vec<u8>,
}

impl OpenFile {
    fn open(path: &Path, offset: u64) -> std::io::Result<OpenFile> {
        let mut file = File::open(path)?;
        let md = file.metadata()?;
        let pos = offset.min(md.len());
        file.seek(SeekFrom::Start(pos))?;
        let head = read_head(&file);
        Ok(OpenFile {
            file,
            dev: md.dev(),
            ino: md.ino(),
            pos,
            partial: Vec::new(),
            skipping: false,
            head,
        })
    }

    /// Re-reads the first bytes: `false` when they are no longer those of
    /// the fingerprint (the file was truncated and rewritten, or replaced).
    fn check_head(&mut self) -> bool {
        let now = read_head(&self.file);
        if !same_head(&self.head, &now) {
            return false;
        }
        if now.len() > self.head.len() {
            self.head = now;
        }
        true
    }

    fn restart(&mut self) {
        if self.file.seek(SeekFrom::Start(0)).is_ok() {
            self.pos = 0;
        }
        self.partial = Vec::new();
        self.skipping = false;
        self.head = read_head(&self.file);
    }

    /// Offset just after the last complete line handed out.
    fn committed(&self) -> u64 {
        if self.skipping {
            self.pos
        } else {
            self.pos.saturating_sub(self.partial.len() as u64)
        }
    }
}

/// Follows one path. Not thread-safe; owned by the engine thread.
pub struct Follower {
    path: PathBuf,
    max_line: usize,
    cur: Option<OpenFile>,
    old: Option<(OpenFile, Instant)>,
    chunk: Vec<u8>,
    stats: FollowStats,
    /// Since when the file has been missing (never opened yet).
    missing_since: Option<SystemTime>,
}

impl Follower {
    /// Opens `path` according to `start_at` and a saved position.
    pub fn start(
        path: &Path,
        max_line: usize,
        start_at: StartAt,
        saved: Option<Position>,
    ) -> Follower {
        let mut f = Follower {
            path: path.to_path_buf(),
            max_line,
            cur: None,
            old: None,
            chunk: vec![0u8; CHUNK],
            stats: FollowStats::default(),
            missing_since: None,
        };
        let md = std::fs::metadata(path).ok();
        match start_at {
            StartAt::Beginning => f.cur = OpenFile::open(path, 0).ok(),
            StartAt::End => f.cur = OpenFile::open(path, u64::MAX).ok(),
            StartAt::Saved => match saved.filter(|p| p.path == f.path) {
                None => f.cur = OpenFile::open(path, u64::MAX).ok(),
                Some(p) => {
                    let mut same = md
                        .as_ref()
                        .is_some_and(|m| m.dev() == p.dev && m.ino() == p.ino);
                    if same && !p.head.is_empty() {
                        let now = File::open(path).map(|f| read_head(&f)).unwrap_or_default();
                        if !unhex(&p.head).is_some_and(|then| same_head(&then, &now)) {
                            tracing::warn!(path = %path.display(), "eve file was replaced while stopped (same inode, different first bytes); reading it from its start");
                            same = false;
                        }
                    }
                    if same {
                        let len = md.as_ref().map(|m| m.len()).unwrap_or(0);
                        let at = if len >= p.offset {
                            p.offset
                        } else {
                            tracing::warn!(path = %path.display(), saved = p.offset, len, "eve file is shorter than the saved position (truncated while stopped); reading from 0");
                            f.stats.truncations += 1;
                            0
                        };
                        tracing::info!(path = %path.display(), offset = at, "resuming the eve file at the saved position");
                        f.cur = OpenFile::open(path, at).ok();
                    } else {
                        // Rotated while we were stopped: finish the old file
                        // if it is still in the directory, then the new one
                        // from its start.
                        if let Some(old_path) =
                            find_by_identity(path, p.dev, p.ino).filter(|o| o != path)
                        {
                            if let Ok(o) = OpenFile::open(&old_path, p.offset) {
                                tracing::info!(old = %old_path.display(), offset = p.offset, "resuming the rotated eve file before the new one");
                                f.old = Some((o, Instant::now()));
                            }
                        } else {
                            tracing::warn!(path = %path.display(), "the saved eve file is gone (rotated and removed while stopped); events written to it after the saved position are lost");
                        }
                        f.stats.rotations += 1;
                        f.cur = OpenFile::open(path, 0).ok();
                    }
                }
            },
        }
        if f.cur.is_none() {
            f.missing_since = Some(SystemTime::now());
            let dir_exists = path
                .parent()
                .is_none_or(|d| d.as_os_str().is_empty() || d.is_dir());
            if dir_exists {
                tracing::warn!(path = %path.display(), "eve file does not exist yet; it will be read from its start once created");
            } else {
                tracing::warn!(path = %path.display(), "neither the eve file nor its directory exists yet; polling until they appear, then reading the file from its start");
            }
        }
        f
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn stats(&self) -> &FollowStats {
        &self.stats
    }

    /// The position to save: the current file and the end of its last
    /// complete line.
    pub fn position(&self) -> Option<Position> {
        self.cur.as_ref().map(|c| Position {
            path: self.path.clone(),
            dev: c.dev,
            ino: c.ino,
            offset: c.committed(),
            head: hex(&c.head),
            seq: 0,
        })
    }

    /// Hands up to about `max` complete lines (without newline) to `f`.
    /// Returns how many were handed out; fewer than `max` means everything
    /// available was read.
    pub fn read(&mut self, max: usize, f: &mut dyn FnMut(&[u8])) -> usize {
        let mut n = 0;
        let max_line = self.max_line;
        if let Some((old, deadline)) = &mut self.old {
            let (got, _eof) = read_lines(old, max, max_line, &mut self.chunk, &mut self.stats, f);
            n += got;
            if n >= max {
                return n;
            }
            if Instant::now() >= *deadline {
                if !old.partial.is_empty() && !old.skipping {
                    self.stats.discarded_partial += 1;
                }
                self.old = None;
            }
        }
        for _ in 0..4 {
            if self.cur.is_none() {
                match OpenFile::open(&self.path, 0) {
                    Ok(o) => {
                        tracing::info!(path = %self.path.display(), "eve file appeared; reading from its start");
                        let since = self.missing_since.take();
                        if let Some(prev) =
                            since.and_then(|t| find_rotated_since(&self.path, t, o.dev, o.ino))
                        {
                            if let Ok(mut old) = OpenFile::open(&prev, 0) {
                                tracing::info!(old = %prev.display(), "the eve file was rotated before it could be opened; reading the rotated file first");
                                self.stats.rotations += 1;
                                let (got, _) = read_lines(
                                    &mut old,
                                    max - n,
                                    max_line,
                                    &mut self.chunk,
                                    &mut self.stats,
                                    f,
                                );
                                n += got;
                                self.old = Some((old, Instant::now() + OLD_FILE_GRACE));
                            }
                        }
                        self.cur = Some(o);
                        if n >= max {
                            return n;
                        }
                    }
                    Err(_) => return n,
                }
            }
            let Some(cur) = self.cur.as_mut() else {
                return n;
            };
            if let Ok(md) = cur.file.metadata() {
                if md.len() < cur.pos {
                    tracing::info!(path = %self.path.display(), was = cur.pos, now = md.len(), "eve file truncated (copytruncate?); reading from 0");
                    self.stats.truncations += 1;
                    cur.restart();
                } else if !cur.check_head() {
                    tracing::info!(path = %self.path.display(), was = cur.pos, now = md.len(), "eve file's first bytes changed (truncated and rewritten, or replaced in place); reading from 0");
                    self.stats.truncations += 1;
                    cur.restart();
                }
            }
            let (got, eof) =
                read_lines(cur, max - n, max_line, &mut self.chunk, &mut self.stats, f);
            n += got;
            if !eof || n >= max {
                return n;
            }
            // At the end of the open file: has the path moved on?
            match std::fs::metadata(&self.path) {
                Ok(md) if md.dev() == cur.dev && md.ino() == cur.ino => return n,
                Ok(_) => match OpenFile::open(&self.path, 0) {
                    Ok(newf) => {
                        tracing::info!(path = %self.path.display(), "eve file rotated; finishing the old file, reading the new one from 0");
                        self.stats.rotations += 1;
                        if let Some(prev) = self.cur.replace(newf) {
                            if let Some((o, _)) = self.old.take() {
                                if !o.partial.is_empty() && !o.skipping {
                                    self.stats.discarded_partial += 1;
                                }
                            }
                            self.old = Some((prev, Instant::now() + OLD_FILE_GRACE));
                        }
                    }
                    Err(_) => return n,
                },
                // Renamed away and not yet re-created: keep the old fd.
                Err(_) => return n,
            }
        }
        n
    }

    /// True while a rotated-away file is still being watched for late
    /// writes (the caller should poll until it is dropped).
    pub fn draining_old(&self) -> bool {
        self.old.is_some()
    }
}

/// Reads chunks until EOF or until `max` lines were handed out.
/// Returns (lines, reached EOF).
fn read_lines(
    o: &mut OpenFile,
    max: usize,
    max_line: usize,
    chunk: &mut [u8],
    stats: &mut FollowStats,
    f: &mut dyn FnMut(&[u8]),
) -> (usize, bool) {
    let mut n = 0;
    loop {
        let got = match o.file.read(chunk) {
            Ok(0) => return (n, true),
            Ok(g) => g,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => {
                stats.read_errors += 1;
                tracing::warn!(error = %e, "reading the eve file failed; will retry");
                return (n, true);
            }
        };
        o.pos += got as u64;
        stats.bytes += got as u64;
        let mut rest = chunk.get(..got).unwrap_or(&[]);
        while !rest.is_empty() {
            match rest.iter().position(|b| *b == b'\n') {
                Some(i) => {
                    let (seg, after) = rest.split_at(i);
                    rest = after.get(1..).unwrap_or(&[]);
                    if o.skipping {
                        o.skipping = false;
                        continue;
                    }
                    if o.partial.len() + seg.len() > max_line {
                        stats.skipped_long += 1;
                        o.partial.clear();
                        continue;
                    }
                    stats.lines += 1;
                    n += 1;
                    if o.partial.is_empty() {
                        f(seg);
                    } else {
                        o.partial.extend_from_slice(seg);
                        f(&o.partial);
                        o.partial.clear();
                        if o.partial.capacity() > CHUNK {
                            // One long line must not pin its buffer.
                            o.partial = Vec::new();
                        }
                    }
                }
                None => {
                    if !o.skipping {
                        if o.partial.len() + rest.len() > max_line {
                            stats.skipped_long += 1;
                            o.partial.clear();
                            o.skipping = true;
                        } else {
                            o.partial.extend_from_slice(rest);
                        }
                    }
                    rest = &[];
                }
            }
        }
        if n >= max {
            return (n, false);
        }
    }
}

/// A file in `path`'s directory with the given identity (a rotated eve
/// file such as `eve.json.1`).
fn find_by_identity(path: &Path, dev: u64, ino: u64) -> Option<PathBuf> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.dev() == dev && m.ino() == ino)
        })
}

/// Tolerance between file modification times and the wall clock.
const MTIME_SLACK: std::time::Duration = std::time::Duration::from_secs(1);

/// The newest rotated sibling of `path` (`eve.json.1`, `eve.json-2025…`;
/// compressed ones excluded) modified at or after `since` and not the file
/// `(dev, ino)` now at `path`.
fn find_rotated_since(path: &Path, since: SystemTime, dev: u64, ino: u64) -> Option<PathBuf> {
    let name = path.file_name()?.to_str()?.to_string();
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut best: Option<(SystemTime, PathBuf)> = None;
    for e in std::fs::read_dir(dir).ok()?.flatten() {
        let fname = e.file_name();
        let Some(f) = fname.to_str() else { continue };
        let Some(rest) = f.strip_prefix(name.as_str()) else {
            continue;
        };
        if !(rest.starts_with('.') || rest.starts_with('-')) {
            continue;
        }
        if [".gz", ".xz", ".bz2", ".zst", ".lz4"]
            .iter()
            .any(|x| rest.ends_with(x))
        {
            continue;
        }
        let Ok(md) = e.metadata() else { continue };
        if !md.is_file() || (md.dev() == dev && md.ino() == ino) {
            continue;
        }
        let Ok(mtime) = md.modified() else { continue };
        // File times come from the kernel's coarse clock, which can lag the
        // `SystemTime::now()` taken when we started waiting by a few
        // milliseconds: allow for that.
        if mtime + MTIME_SLACK < since {
            continue;
        }
        if best.as_ref().is_none_or(|(t, _)| mtime > *t) {
            best = Some((mtime, e.path()));
        }
    }
    best.map(|(_, p)| p)
}

/// Loads the saved position; a missing or unreadable file gives `None`
/// (with a warning when it exists but is damaged).
pub fn load_position(state_dir: &Path) -> Option<Position> {
    let p = state_dir.join(POSITION_FILE);
    let text = std::fs::read_to_string(&p).ok()?;
    match serde_json::from_str(&text) {
        Ok(pos) => Some(pos),
        Err(e) => {
            tracing::warn!(file = %p.display(), error = %e, "saved read position is damaged; ignoring it");
            None
        }
    }
}

/// Saves the position atomically (write a temporary file, then rename).
pub fn save_position(state_dir: &Path, pos: &Position) -> Result<(), FollowError> {
    let path = state_dir.join(POSITION_FILE);
    let tmp = state_dir.join(".position.json.tmp");
    let body = serde_json::to_vec(pos).unwrap_or_default();
    std::fs::write(&tmp, body)
        .and_then(|_| std::fs::rename(&tmp, &path))
        .map_err(|source| FollowError::Save { path, source })
}

/// (device, inode) of the directory holding `path`, if it exists.
pub fn dir_identity(path: &Path) -> Option<(u64, u64)> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::metadata(dir)
        .ok()
        .filter(|m| m.is_dir())
        .map(|m| (m.dev(), m.ino()))
}

/// Watches the eve file's directory; `wake` is called (from notify's
/// thread) for every event concerning the file, or when events were lost.
pub fn watch(
    path: &Path,
    wake: impl Fn() + Send + 'static,
) -> Result<notify::RecommendedWatcher, FollowError> {
    use notify::Watcher;
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_path_buf();
    let name = path.file_name().map(|n| n.to_os_string());
    let mut w = notify::recommended_watcher(move |res: notify::Result<notify::Event>| match res {
        Ok(ev) => {
            let ours = ev.paths.is_empty()
                || ev
                    .paths
                    .iter()
                    .any(|p| p.file_name().map(|n| n.to_os_string()) == name);
            if ours {
                wake();
            }
        }
        Err(_) => wake(),
    })
    .map_err(|source| FollowError::Watch {
        path: dir.clone(),
        source,
    })?;
    w.watch(&dir, notify::RecursiveMode::NonRecursive)
        .map_err(|source| FollowError::Watch { path: dir, source })?;
    Ok(w)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::unix::fs::FileExt;

    struct TmpDir(PathBuf);
    impl TmpDir {
        fn new(tag: &str) -> TmpDir {
            let p =
                std::env::temp_dir().join(format!("meerkat-follow-{tag}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&p);
            std::fs::create_dir_all(&p).unwrap();
            TmpDir(p)
        }
    }
    impl Drop for TmpDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn append(p: &Path, s: &str) {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(p)
            .unwrap();
        f.write_all(s.as_bytes()).unwrap();
    }

    fn read_all(f: &mut Follower) -> Vec<String> {
        let mut out = Vec::new();
        f.read(usize::MAX, &mut |l| {
            out.push(String::from_utf8_lossy(l).into_owned())
        });
        out
    }

    #[test]
    fn partial_lines_wait_for_their_end() {
        let d = TmpDir::new("partial");
        let p = d.0.join("eve.json");
        append(&p, "");
        let mut f = Follower::start(&p, 1024, StartAt::Saved, None);
        append(&p, "a\nb");
        assert_eq!(read_all(&mut f), vec!["a"]);
        assert_eq!(f.position().unwrap().offset, 2);
        append(&p, "c\n");
        assert_eq!(read_all(&mut f), vec!["bc"]);
        assert_eq!(f.position().unwrap().offset, 5);
    }

    #[test]
    fn long_lines_are_skipped_and_counted() {
        let d = TmpDir::new("long");
        let p = d.0.join("eve.json");
        append(&p, "");
        let mut f = Follower::start(&p, 8, StartAt::Beginning, None);
        append(&p, "ok\n0123456789abc");
        assert_eq!(read_all(&mut f), vec!["ok"]);
        append(&p, "def\n12345678\n123456789\nz\n");
        assert_eq!(read_all(&mut f), vec!["12345678", "z"]);
        assert_eq!(f.stats().skipped_long, 2);
    }

    #[test]
    fn rename_rotation_drains_old_then_new() {
        let d = TmpDir::new("rename");
        let p = d.0.join("eve.json");
        append(&p, "old0\n");
        let mut f = Follower::start(&p, 1024, StartAt::End, None);
        append(&p, "old1\n");
        std::fs::rename(&p, d.0.join("eve.json.1")).unwrap();
        // Late write to the renamed file before the writer reopens.
        append(&d.0.join("eve.json.1"), "old2\n");
        append(&p, "new1\n");
        assert_eq!(read_all(&mut f), vec!["old1", "old2", "new1"]);
        append(&d.0.join("eve.json.1"), "old3\n");
        append(&p, "new2\n");
        assert_eq!(read_all(&mut f), vec!["old3", "new2"]);
        assert_eq!(f.stats().rotations, 1);
    }

    #[test]
    fn copytruncate_restarts_at_zero() {
        let d = TmpDir::new("trunc");
        let p = d.0.join("eve.json");
        append(&p, "one\ntwo\n");
        let mut f = Follower::start(&p, 1024, StartAt::Beginning, None);
        assert_eq!(read_all(&mut f), vec!["one", "two"]);
        std::fs::OpenOptions::new()
            .write(true)
            .open(&p)
            .unwrap()
            .set_len(0)
            .unwrap();
        append(&p, "x\n");
        assert_eq!(read_all(&mut f), vec!["x"]);
        assert_eq!(f.stats().truncations, 1);
    }

    #[test]
    fn resume_from_saved_position_and_rotated_file() {
        let d = TmpDir::new("resume");
        let p = d.0.join("eve.json");
        append(&p, "a\nb\n");
        let mut f = Follower::start(&p, 1024, StartAt::Beginning, None);
        assert_eq!(read_all(&mut f), vec!["a", "b"]);
        let pos = f.position().unwrap();
        save_position(&d.0, &pos).unwrap();
        drop(f);
        append(&p, "c\n");
        let saved = load_position(&d.0);
        assert_eq!(saved.as_ref(), Some(&pos));
        let mut f = Follower::start(&p, 1024, StartAt::Saved, saved.clone());
        assert_eq!(read_all(&mut f), vec!["c"]);
        drop(f);
        // Rotated while stopped: the rest of the old file, then the new.
        append(&p, "d\n");
        std::fs::rename(&p, d.0.join("eve.json.1")).unwrap();
        append(&p, "e\n");
        let mut f = Follower::start(&p, 1024, StartAt::Saved, saved);
        assert_eq!(read_all(&mut f), vec!["c", "d", "e"]);
        // "end" ignores the saved position.
        let mut g = Follower::start(&p, 1024, StartAt::End, None);
        assert!(read_all(&mut g).is_empty());
    }

    #[test]
    fn file_created_later_is_read_from_start() {
        let d = TmpDir::new("later");
        let p = d.0.join("eve.json");
        let mut f = Follower::start(&p, 1024, StartAt::End, None);
        assert!(read_all(&mut f).is_empty());
        append(&p, "first\n");
        assert_eq!(read_all(&mut f), vec!["first"]);
    }

    #[test]
    fn missing_directory_is_polled_until_it_appears() {
        let d = TmpDir::new("nodir");
        let p = d.0.join("later").join("eve.json");
        let mut f = Follower::start(&p, 1024, StartAt::Saved, None);
        assert!(read_all(&mut f).is_empty());
        assert!(dir_identity(&p).is_none());
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        assert!(dir_identity(&p).is_some());
        append(&p, "one\n");
        assert_eq!(read_all(&mut f), vec!["one"]);
    }

    #[test]
    fn rewritten_past_the_offset_is_seen_by_fingerprint() {
        let d = TmpDir::new("fp");
        let p = d.0.join("eve.json");
        append(&p, "{\"timestamp\":\"1\"}\n");
        let mut f = Follower::start(&p, 1024, StartAt::Beginning, None);
        assert_eq!(read_all(&mut f).len(), 1);
        // Truncated and rewritten with more bytes than were read.
        std::fs::OpenOptions::new()
            .write(true)
            .open(&p)
            .unwrap()
            .set_len(0)
            .unwrap();
        append(&p, "{\"timestamp\":\"2\"}\n{\"timestamp\":\"3\"}\n");
        assert_eq!(
            read_all(&mut f),
            vec!["{\"timestamp\":\"2\"}", "{\"timestamp\":\"3\"}"]
        );
        assert_eq!(f.stats().truncations, 1);
        // A saved position whose first bytes no longer match (file
        // replaced in place, same inode) is not trusted.
        let pos = f.position().unwrap();
        assert_eq!(
            unhex(&pos.head).unwrap(),
            b"{\"timestamp\":\"2\"}\n{\"timestamp\":\"3\"}\n"
        );
        drop(f);
        let f2 = std::fs::OpenOptions::new().write(true).open(&p).unwrap();
        f2.write_all_at(b"{\"timestamp\":\"4\"}\n", 0).unwrap();
        let mut g = Follower::start(&p, 1024, StartAt::Saved, Some(pos.clone()));
        assert_eq!(read_all(&mut g)[0], "{\"timestamp\":\"4\"}");
        // Unchanged file: resumes at the saved offset.
        let mut h = Follower::start(&p, 1024, StartAt::Saved, g.position());
        assert!(read_all(&mut h).is_empty());
    }

    #[test]
    fn created_and_rotated_before_first_open() {
        let d = TmpDir::new("early-rot");
        let p = d.0.join("eve.json");
        let mut f = Follower::start(&p, 1024, StartAt::Saved, None);
        assert!(read_all(&mut f).is_empty());
        append(&p, "a\nb\n");
        std::fs::rename(&p, d.0.join("eve.json.1")).unwrap();
        append(&d.0.join("eve.json.2.gz"), "zz\n");
        append(&p, "c\n");
        assert_eq!(read_all(&mut f), vec!["a", "b", "c"]);
        assert_eq!(f.stats().rotations, 1);
    }

    #[test]
    fn max_limits_a_read() {
        let d = TmpDir::new("max");
        let p = d.0.join("eve.json");
        append(&p, "1\n2\n3\n");
        let mut f = Follower::start(&p, 1024, StartAt::Beginning, None);
        let mut v = Vec::new();
        // One chunk holds all three lines; the limit stops further chunks.
        let n = f.read(1, &mut |l| v.push(l.to_vec()));
        assert!(n >= 1);
        assert_eq!(f.position().unwrap().offset, 2 * n as u64);
    }
}
