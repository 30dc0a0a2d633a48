//! The EVE file writer.
//!
//! Events are serialised on the caller's thread into pooled line buffers and
//! handed to one writer thread through a bounded channel. The packet path
//! never waits for the disk: when the channel is full the line is dropped
//! and counted (`eve_dropped`), with a rate-limited warning. The writer
//! thread appends to `eve.json` through a `BufWriter`, flushes at least every
//! 100 ms and whenever it goes idle, reopens the file on request (logrotate:
//! rename, then SIGHUP) and drains every queued line on [`EveWriter::shutdown`].
//!
//! With `[eve.redis]`, the writer thread also hands each line it wrote to
//! the Redis sink ([`super::redis`]), which has its own bounded queue and
//! thread: a slow or absent Redis costs lines for Redis (counted), never
//! lines of the file nor packets. `[eve] sensor_name` adds Suricata's
//! top-level `host` field (last, as Suricata writes it) to every event.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, Receiver, RecvTimeoutError, Sender, TrySendError};
use meerkat_shared::eve::Event;
use serde::{Deserialize, Deserializer};

use super::build::{AnomalyOpts, BuildOpts};
use super::payload::PayloadOpts;
use super::redis::{RedisConfig, RedisCounters, RedisError, RedisSink};

/// How often buffered lines reach the file at the latest.
const FLUSH_INTERVAL: Duration = Duration::from_millis(100);
/// Line buffers kept for reuse.
const POOL_SIZE: usize = 4096;
/// Minimum seconds between two "EVE queue full" warnings.
const WARN_INTERVAL_SECS: u64 = 10;

/// Errors of the EVE output.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error(
        "EVE log directory {dir} does not exist: create it (mode 0750) or set another EVE path"
    )]
    LogDirMissing { dir: PathBuf },
    #[error("cannot open EVE log {path} for appending: {source}")]
    Open {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot start the EVE writer thread: {0}")]
    Thread(#[source] std::io::Error),
    #[error(transparent)]
    Redis(#[from] RedisError),
}

/// Which event types are written. All on by default.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct EveTypes {
    pub ssh: bool,
    /// `tls` events (Suricata's `types: - tls`).
    pub tls: bool,
    pub alert: bool,
    pub drop: bool,
    pub flow: bool,
    pub stats: bool,
    pub anomaly: bool,
    /// `netflow` events: one per direction of an ended flow (off by
    /// default, as in Suricata's configuration).
    pub netflow: bool,
    /// `dns` events.
    pub dns: bool,
    /// A `drop` event for every dropped packet of a dropped flow
    /// (Suricata's `drop: {flows: all}`); default: the first one per
    /// direction (`flows: start`).
    pub drop_flows_all: bool,
}

impl Default for EveTypes {
    fn default() -> Self {
        EveTypes {
            ssh: true,
            tls: true,
            alert: true,
            drop: true,
            flow: true,
            stats: true,
            anomaly: true,
            netflow: false,
            dns: true,
            drop_flows_all: false,
        }
    }
}

impl EveTypes {
    /// Adds the types `other` writes (the events to build when several
    /// outputs each filter by their own types).
    pub fn union(&mut self, other: &EveTypes) {
        self.ssh |= other.ssh;
        self.tls |= other.tls;
        self.alert |= other.alert;
        self.drop |= other.drop;
        self.flow |= other.flow;
        self.stats |= other.stats;
        self.anomaly |= other.anomaly;
        self.netflow |= other.netflow;
        self.dns |= other.dns;
    }

    /// Whether events of `event_type` are written. Types this writer does
    /// not know are written.
    pub fn enabled(&self, event_type: &str) -> bool {
        match event_type {
            "ssh" => self.ssh,
            "tls" => self.tls,
            "alert" => self.alert,
            "drop" => self.drop,
            "flow" => self.flow,
            "stats" => self.stats,
            "anomaly" => self.anomaly,
            "netflow" => self.netflow,
            "dns" => self.dns,
            _ => true,
        }
    }
}

/// `[eve]` configuration.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct EveConfig {
    /// Event types to write (`[eve.types]`).
    pub types: EveTypes,
    /// Add Suricata's `community_id` field to packet, flow and ssh events.
    pub community_id: bool,
    /// Seed of the Community ID hash.
    pub community_id_seed: u16,
    /// Add `"capture":{"mode":"ips","source":"nfq:0"}` to every event with
    /// an `in_iface`. NOT part of Suricata's schema: its top level is closed,
    /// so lines with this key fail schema validation (check-eve,
    /// suricata-verify). `in_iface` already carries the source label.
    pub capture_object: bool,
    /// Add Suricata's `verdict` object to alert and drop events.
    pub verdict: bool,
    /// Interval of `stats` events, e.g. `"8s"`, `"1m"`.
    #[serde(deserialize_with = "de_duration")]
    pub stats_interval: Duration,
    /// Lines the writer queue holds before events are dropped.
    pub queue_lines: usize,
    /// File name inside the log directory (Suricata's
    /// `outputs.N.eve-log.filename`).
    pub filename: String,
    /// Options of `alert` events (Suricata's `types: - alert: {...}`).
    pub alert: EveAlertConfig,
    /// Suricata's `sensor-name`: written as the top-level `host` field of
    /// every event. None (default): no `host` field, as Suricata.
    pub sensor_name: Option<String>,
    /// `[eve.redis]`: also send every event to Redis. None: file only.
    pub redis: Option<RedisConfig>,
    /// `[eve.dns]`: options of `dns` events.
    pub dns: super::dns::DnsLogConfig,
    /// `[eve.anomaly]`: which anomalies `anomaly` events report.
    pub anomaly: AnomalyOpts,
    /// Options of the `tls` object (`[eve.tls]`).
    pub tls: EveTlsConfig,
    /// The further `eve-log` outputs of a Suricata YAML (not settable in
    /// Meerkat's TOML).
    #[serde(skip)]
    pub extra: Vec<ExtraEveConfig>,
}

/// A further `eve-log` output of a Suricata YAML (`outputs.N.eve-log` after
/// the first): its own file, event types and `dns` options. Everything
/// else (alert payload, `tls` fields, Community ID, Redis) is the first
/// output's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtraEveConfig {
    /// File name inside the log directory.
    pub filename: String,
    pub types: EveTypes,
    pub dns: super::dns::DnsLogConfig,
}

/// `[eve.tls]`: the fields of the `tls` object (Suricata's
/// `outputs.N.eve-log.types.M.tls.*`).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct EveTlsConfig {
    /// `extended`: serial, fingerprint, SNI, version, validity, JA3,
    /// client certificate besides subject and issuer. On by default, as in
    /// Suricata's shipped configuration.
    pub extended: bool,
    /// `custom`: exactly these fields (Suricata's names: `subject`,
    /// `issuer`, `serial`, `fingerprint`, `sni`, `version`, `not_before`,
    /// `not_after`, `certificate`, `chain`, `session_resumed`, `ja3`,
    /// `ja3s`, `client`, `client_certificate`, `client_chain`).
    pub custom: Vec<String>,
}

impl Default for EveTlsConfig {
    fn default() -> Self {
        EveTlsConfig {
            extended: true,
            custom: Vec::new(),
        }
    }
}

impl EveTlsConfig {
    /// The field bits of the `tls` object (JA3 still needs
    /// `ja3-fingerprints`).
    pub fn fields(&self) -> u32 {
        use super::tls::field;
        if !self.custom.is_empty() {
            return self
                .custom
                .iter()
                .filter_map(|n| field::by_name(n))
                .fold(0, |a, b| a | b);
        }
        if self.extended {
            field::EXTENDED
        } else {
            field::BASIC
        }
    }
}

/// `[eve.alert]`: what alert events carry besides the rule (Suricata's
/// `outputs.N.eve-log.types.M.alert.*`, with Suricata 7's defaults).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct EveAlertConfig {
    /// `payload`: the packet payload in base64 (with `stream: 0`; stream
    /// and transaction matches do not yet carry the reassembled data).
    pub payload: bool,
    /// `payload-printable`: the payload as printable text.
    pub payload_printable: bool,
    /// `packet`: the captured frame in base64, with `packet_info.linktype`.
    pub packet: bool,
    /// `payload-length`: length of the payload.
    pub payload_length: bool,
    /// `metadata`: the rule's metadata (Suricata default yes).
    pub metadata: bool,
    /// `tagged-packets`: write `packet` events for packets tagged by `tag`
    /// rules (see `detect::tag`).
    pub tagged_packets: bool,
}

impl Default for EveAlertConfig {
    fn default() -> Self {
        EveAlertConfig {
            payload: false,
            payload_printable: false,
            packet: false,
            payload_length: false,
            metadata: true,
            tagged_packets: false,
        }
    }
}

impl Default for EveConfig {
    fn default() -> Self {
        EveConfig {
            types: EveTypes::default(),
            community_id: false,
            community_id_seed: 0,
            capture_object: false,
            verdict: false,
            stats_interval: Duration::from_secs(30),
            queue_lines: 65_536,
            filename: "eve.json".into(),
            alert: EveAlertConfig::default(),
            sensor_name: None,
            redis: None,
            anomaly: AnomalyOpts::default(),
            tls: EveTlsConfig::default(),
            dns: Default::default(),
            extra: Vec::new(),
        }
    }
}

impl EveConfig {
    /// Options for the event builders.
    pub fn build_opts(&self) -> BuildOpts {
        BuildOpts {
            community_id: self.community_id.then_some(self.community_id_seed),
            verdict: self.verdict,
            alert: PayloadOpts {
                payload: self.alert.payload,
                payload_printable: self.alert.payload_printable,
                payload_length: self.alert.payload_length,
                packet: self.alert.packet,
            },
            tagged_packets: self.alert.tagged_packets,
            anomaly: self.anomaly,
            tls: super::tls::TlsLogOpts {
                fields: self.tls.fields(),
                ja3: false,
            },
            dns: self.dns.mask(),
        }
    }
}

fn de_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let s = String::deserialize(d)?;
    let dur = meerkat_shared::duration::parse_duration(&s)
        .map_err(|e| serde::de::Error::custom(format!("invalid duration {s:?}: {e}")))?;
    if dur.is_zero() {
        return Err(serde::de::Error::custom(format!(
            "invalid duration {s:?}: must be greater than zero"
        )));
    }
    Ok(dur)
}

enum Msg {
    Line(Vec<u8>),
    Shutdown,
}

/// Counters shared by the writer and all senders.
#[derive(Debug, Default)]
pub struct EveCounters {
    /// Lines queued for writing.
    pub queued: AtomicU64,
    /// Lines written to the file.
    pub written: AtomicU64,
    /// Lines dropped because the queue was full or the writer was gone.
    pub dropped: AtomicU64,
    /// Write, flush or reopen errors.
    pub errors: AtomicU64,
    /// Unix seconds of the last "queue full" warning.
    last_warn: AtomicU64,
}

/// The EVE writer: owns the writer thread.
pub struct EveWriter {
    sender: EveSender,
    reopen: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// Cheap, cloneable handle that queues events for the writer.
#[derive(Clone)]
pub struct EveSender {
    tx: Sender<Msg>,
    pool: Receiver<Vec<u8>>,
    types: EveTypes,
    capture_object: bool,
    counters: Arc<EveCounters>,
    /// `,"host":"<sensor_name>"`, appended to every event without a host.
    host: Option<Arc<[u8]>>,
    /// The Redis sink's counters, when there is one.
    redis: Option<Arc<RedisCounters>>,
}

impl EveWriter {
    /// Opens (creates, mode 0640) `path` for appending and starts the
    /// writer thread, and the Redis sink when `opts.redis` is set. Events
    /// get a `host` field when `opts.sensor_name` is set. The directory
    /// must exist.
    pub fn open(path: &Path, opts: &EveConfig) -> Result<EveWriter, OutputError> {
        Self::start(path, opts, true)
    }

    /// A plain line file (fast.log): like [`EveWriter::open`] but without
    /// the Redis sink and the `host` field.
    pub fn open_file(path: &Path, opts: &EveConfig) -> Result<EveWriter, OutputError> {
        Self::start(path, opts, false)
    }

    fn start(path: &Path, opts: &EveConfig, eve: bool) -> Result<EveWriter, OutputError> {
        let file = open_log(path)?;
        let (tx, rx) = bounded::<Msg>(opts.queue_lines.max(1));
        let (pool_tx, pool_rx) = bounded::<Vec<u8>>(POOL_SIZE);
        let reopen = Arc::new(AtomicBool::new(false));
        let counters = Arc::new(EveCounters::default());
        let redis = match opts.redis.as_ref().filter(|_| eve) {
            Some(cfg) => Some(RedisSink::start(cfg, pool_tx.clone())?),
            None => None,
        };
        let redis_counters = redis.as_ref().map(RedisSink::counters);
        let host = opts.sensor_name.as_deref().filter(|_| eve).map(|name| {
            let mut frag = b",\"host\":".to_vec();
            // Writing a &str into a Vec cannot fail.
            let _ = serde_json::to_writer(&mut frag, name);
            Arc::from(frag)
        });
        let state = WriterThread {
            redis,
            path: path.to_path_buf(),
            out: BufWriter::with_capacity(64 * 1024, file),
            rx,
            pool: pool_tx,
            reopen: reopen.clone(),
            counters: counters.clone(),
            dirty: false,
            last_flush: Instant::now(),
            checked: Instant::now(),
        };
        let thread = std::thread::Builder::new()
            .name("eve-writer".into())
            .spawn(move || state.run())
            .map_err(OutputError::Thread)?;
        Ok(EveWriter {
            sender: EveSender {
                tx,
                pool: pool_rx,
                types: opts.types.clone(),
                capture_object: opts.capture_object,
                counters,
                host,
                redis: redis_counters,
            },
            reopen,
            thread: Some(thread),
        })
    }

    /// A handle for worker threads.
    pub fn sender(&self) -> EveSender {
        self.sender.clone()
    }

    /// Flag that makes the writer reopen its file (set it from SIGHUP).
    pub fn reopen_handle(&self) -> Arc<AtomicBool> {
        self.reopen.clone()
    }

    /// Requests a reopen of the file (after logrotate renamed it).
    pub fn reopen(&self) {
        self.reopen.store(true, Ordering::Release);
    }

    /// Queued/written/dropped counters.
    pub fn counters(&self) -> Arc<EveCounters> {
        self.sender.counters.clone()
    }

    /// Writes every line queued so far, flushes and stops the thread. Lines
    /// sent after this are dropped and counted.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        if let Some(thread) = self.thread.take() {
            // A blocking send: it lands behind every queued line.
            let _ = self.sender.tx.send(Msg::Shutdown);
            if thread.join().is_err() {
                tracing::error!("EVE writer thread panicked; some events may be lost");
            }
        }
    }
}

impl Drop for EveWriter {
    fn drop(&mut self) {
        self.stop();
    }
}

impl EveSender {
    /// Serialises `ev` and queues it. Never blocks: returns false (and
    /// counts the line as dropped) when the queue is full. Events of
    /// disabled types are skipped and return true.
    pub fn send(&self, ev: &Event) -> bool {
        if !self.types.enabled(&ev.event_type) {
            return true;
        }
        let mut buf = self
            .pool
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(1024));
        buf.clear();
        if let Err(e) = serde_json::to_writer(&mut buf, ev) {
            tracing::error!(error = %e, event_type = %ev.event_type, "cannot serialise EVE event");
            self.counters.errors.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        if self.capture_object {
            if let Some(iface) = ev.in_iface.as_deref() {
                add_capture_object(&mut buf, iface);
            }
        }
        if let Some(host) = self.host.as_deref().filter(|_| ev.host.is_none()) {
            if buf.last() == Some(&b'}') {
                buf.pop();
                buf.extend_from_slice(host);
                buf.push(b'}');
            }
        }
        buf.push(b'\n');
        self.send_line(buf)
    }

    /// Queues one already serialised line (must end with `\n`).
    pub fn send_line(&self, buf: Vec<u8>) -> bool {
        match self.tx.try_send(Msg::Line(buf)) {
            Ok(()) => {
                self.counters.queued.fetch_add(1, Ordering::Relaxed);
                true
            }
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                let n = self.counters.dropped.fetch_add(1, Ordering::Relaxed) + 1;
                self.warn_dropped(n);
                false
            }
        }
    }

    /// Lines dropped so far (queue full or writer stopped).
    pub fn dropped(&self) -> u64 {
        self.counters.dropped.load(Ordering::Relaxed)
    }

    /// Write, flush and reopen failures of the writer so far (a full disk).
    pub fn write_errors(&self) -> u64 {
        self.counters.errors.load(Ordering::Relaxed)
    }

    /// Adds the writer's own counters to the stats event's `capture.eve`
    /// object: `write_errors`, and with a Redis sink `redis_sent`,
    /// `redis_lost` (queue full, Redis unreachable or refusing),
    /// `redis_refused` (of those, commands Redis answered with an error)
    /// and `redis_outages` (connections lost or not made).
    pub fn add_stats(&self, eve: &mut serde_json::Map<String, serde_json::Value>) {
        eve.insert("write_errors".into(), self.write_errors().into());
        if let Some(r) = &self.redis {
            let n = |c: &AtomicU64| serde_json::Value::from(c.load(Ordering::Relaxed));
            eve.insert("redis_sent".into(), n(&r.sent));
            eve.insert("redis_lost".into(), n(&r.lost));
            eve.insert("redis_refused".into(), n(&r.refused));
            eve.insert("redis_outages".into(), n(&r.outages));
        }
    }

    fn warn_dropped(&self, total: u64) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let last = self.counters.last_warn.load(Ordering::Relaxed);
        if now >= last + WARN_INTERVAL_SECS
            && self
                .counters
                .last_warn
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            tracing::warn!(
                dropped_total = total,
                "EVE queue full or writer stopped: events dropped (disk too slow?)"
            );
        }
    }
}

/// Inserts `,"capture":{"mode":..,"source":..}` before the closing brace.
fn add_capture_object(buf: &mut Vec<u8>, iface: &str) {
    if buf.last() != Some(&b'}') {
        return;
    }
    buf.pop();
    let mode = if iface.starts_with("nfq:") {
        "ips"
    } else {
        "ids"
    };
    buf.extend_from_slice(b",\"capture\":{\"mode\":\"");
    buf.extend_from_slice(mode.as_bytes());
    buf.extend_from_slice(b"\",\"source\":");
    // serde_json escapes the label; writing a &str into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *buf, iface);
    buf.extend_from_slice(b"}}");
}

fn open_log(path: &Path) -> Result<File, OutputError> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if !dir.is_dir() {
        return Err(OutputError::LogDirMissing {
            dir: dir.to_path_buf(),
        });
    }
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o640)
        .open(path)
        .map_err(|source| OutputError::Open {
            path: path.to_path_buf(),
            source,
        })
}

struct WriterThread {
    /// Where lines go after the file, when `[eve.redis]` is set.
    redis: Option<RedisSink>,
    path: PathBuf,
    out: BufWriter<File>,
    rx: Receiver<Msg>,
    pool: Sender<Vec<u8>>,
    reopen: Arc<AtomicBool>,
    counters: Arc<EveCounters>,
    dirty: bool,
    last_flush: Instant,
    /// Last check that `path` is still the open file (see `file_replaced`).
    checked: Instant,
}

impl WriterThread {
    fn run(mut self) {
        loop {
            match self.rx.recv_timeout(FLUSH_INTERVAL) {
                Ok(Msg::Line(buf)) => {
                    self.write(buf);
                    // Flush as soon as the queue is empty, so readers such
                    // as meerkat-dom see an event within microseconds; under
                    // load the queue is rarely empty and lines are batched,
                    // with a flush at least every FLUSH_INTERVAL.
                    if self.rx.is_empty() || self.last_flush.elapsed() >= FLUSH_INTERVAL {
                        self.flush();
                    }
                }
                Ok(Msg::Shutdown) | Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) => self.flush(),
            }
            if self.reopen.swap(false, Ordering::AcqRel) || self.file_replaced() {
                self.do_reopen();
            }
        }
        // Drain what is still queued (lines sent before the shutdown).
        while let Ok(msg) = self.rx.try_recv() {
            if let Msg::Line(buf) = msg {
                self.write(buf);
            }
        }
        self.flush();
        // Then what is queued for Redis (bounded by its I/O timeouts).
        if let Some(r) = self.redis.take() {
            r.shutdown();
        }
    }

    fn write(&mut self, buf: Vec<u8>) {
        match self.out.write_all(&buf) {
            Ok(()) => {
                self.counters.written.fetch_add(1, Ordering::Relaxed);
                self.dirty = true;
            }
            Err(e) => {
                self.counters.errors.fetch_add(1, Ordering::Relaxed);
                tracing::error!(path = %self.path.display(), error = %e, "cannot write EVE line");
            }
        }
        let buf = match &self.redis {
            Some(r) => match r.offer(buf) {
                Ok(()) => return,
                Err(buf) => buf,
            },
            None => buf,
        };
        if buf.capacity() <= super::POOL_MAX_BUF {
            let _ = self.pool.try_send(buf);
        }
    }

    fn flush(&mut self) {
        if !self.dirty {
            self.last_flush = Instant::now();
            return;
        }
        if let Err(e) = self.out.flush() {
            self.counters.errors.fetch_add(1, Ordering::Relaxed);
            tracing::error!(path = %self.path.display(), error = %e, "cannot flush EVE log");
        }
        self.dirty = false;
        self.last_flush = Instant::now();
    }

    /// Once a second: the file was deleted or its directory removed and
    /// created again (the open file is gone), and the directory exists.
    fn file_replaced(&mut self) -> bool {
        use std::os::unix::fs::MetadataExt;
        if self.checked.elapsed() < Duration::from_secs(1) {
            return false;
        }
        self.checked = Instant::now();
        let id = |m: std::fs::Metadata| (m.dev(), m.ino());
        let open = self.out.get_ref().metadata().map(id).ok();
        open != std::fs::metadata(&self.path).map(id).ok()
            && self.path.parent().is_some_and(Path::is_dir)
    }

    fn do_reopen(&mut self) {
        self.dirty = true;
        self.flush();
        match open_log(&self.path) {
            Ok(file) => {
                self.out = BufWriter::with_capacity(64 * 1024, file);
                tracing::info!(path = %self.path.display(), "EVE log reopened");
            }
            Err(e) => {
                // Keep writing to the old (renamed) file: nothing is lost.
                self.counters.errors.fetch_add(1, Ordering::Relaxed);
                tracing::error!(error = %e, "EVE log reopen failed; still writing to the old file");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmpdir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("meerkat-eve-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn ev(kind: &str, n: u64) -> Event {
        Event {
            timestamp: "2025-03-14T09:26:50.713482+0000".into(),
            flow_id: Some(n),
            in_iface: Some("nfq:0".into()),
            event_type: kind.into(),
            ..Default::default()
        }
    }

    fn lines(p: &Path) -> Vec<String> {
        std::fs::read_to_string(p)
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn missing_dir_is_named() {
        let p = Path::new("/nonexistent-meerkat-dir/eve.json");
        let err = EveWriter::open(p, &EveConfig::default()).err().unwrap();
        assert!(
            err.to_string().contains("/nonexistent-meerkat-dir"),
            "{err}"
        );
    }

    #[test]
    fn writes_all_lines_on_shutdown_with_mode_0640() {
        let d = tmpdir("shutdown");
        let p = d.join("eve.json");
        let w = EveWriter::open(&p, &EveConfig::default()).unwrap();
        let s = w.sender();
        for i in 0..10_000 {
            assert!(s.send(&ev("alert", i)));
        }
        w.shutdown();
        let l = lines(&p);
        assert_eq!(l.len(), 10_000);
        let last: Event = serde_json::from_str(&l[9_999]).unwrap();
        assert_eq!(last.flow_id, Some(9_999));
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode & !0o640, 0, "mode {mode:o}");
        // Sending after shutdown is counted, not blocked.
        assert!(!s.send(&ev("alert", 1)));
        assert_eq!(s.dropped(), 1);
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn flushes_when_idle() {
        let d = tmpdir("idle");
        let p = d.join("eve.json");
        let w = EveWriter::open(&p, &EveConfig::default()).unwrap();
        w.sender().send(&ev("ssh", 7));
        std::thread::sleep(Duration::from_millis(400));
        assert_eq!(lines(&p).len(), 1);
        w.shutdown();
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn reopen_after_rename_loses_nothing() {
        let d = tmpdir("rotate");
        let p = d.join("eve.json");
        let rotated = d.join("eve.json.1");
        let w = EveWriter::open(&p, &EveConfig::default()).unwrap();
        let s = w.sender();
        for i in 0..500 {
            s.send(&ev("flow", i));
        }
        // Like logrotate, rotate once these lines are on disk (the writer
        // flushes when its queue runs empty).
        let t0 = std::time::Instant::now();
        while lines(&p).len() < 500 && t0.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(10));
        }
        std::fs::rename(&p, &rotated).unwrap();
        for i in 500..1000 {
            s.send(&ev("flow", i));
        }
        w.reopen_handle().store(true, Ordering::Release);
        std::thread::sleep(Duration::from_millis(300));
        for i in 1000..1500 {
            s.send(&ev("flow", i));
        }
        w.shutdown();
        let old = lines(&rotated);
        let new = lines(&p);
        assert_eq!(old.len() + new.len(), 1500);
        assert!(old.len() >= 500 && !new.is_empty());
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn full_queue_drops_without_blocking() {
        let d = tmpdir("full");
        let p = d.join("eve.json");
        let cfg = EveConfig {
            queue_lines: 1,
            ..EveConfig::default()
        };
        let w = EveWriter::open(&p, &cfg).unwrap();
        let s = w.sender();
        let start = Instant::now();
        let mut ok = 0;
        for i in 0..100_000 {
            if s.send(&ev("alert", i)) {
                ok += 1;
            }
        }
        assert!(start.elapsed() < Duration::from_secs(10));
        w.shutdown();
        assert_eq!(lines(&p).len(), ok);
        assert_eq!(s.dropped() as usize + ok, 100_000);
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn disabled_types_and_capture_object() {
        let d = tmpdir("types");
        let p = d.join("eve.json");
        let cfg: EveConfig = toml::from_str(
            "capture_object = true\nstats_interval = \"8s\"\n[types]\nflow = false\n",
        )
        .unwrap();
        assert_eq!(cfg.stats_interval, Duration::from_secs(8));
        let w = EveWriter::open(&p, &cfg).unwrap();
        let s = w.sender();
        s.send(&ev("flow", 1));
        s.send(&ev("alert", 2));
        w.shutdown();
        let l = lines(&p);
        assert_eq!(l.len(), 1);
        let v: serde_json::Value = serde_json::from_str(&l[0]).unwrap();
        assert_eq!(v["capture"]["mode"], "ips");
        assert_eq!(v["capture"]["source"], "nfq:0");
        assert_eq!(v["flow_id"], 2);
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn sensor_name_is_the_last_field_host() {
        let d = tmpdir("host");
        let p = d.join("eve.json");
        let cfg: EveConfig =
            toml::from_str("capture_object = true\nsensor_name = \"gw \\\"7\\\"\"\n").unwrap();
        let w = EveWriter::open(&p, &cfg).unwrap();
        w.sender().send(&ev("alert", 1));
        let mut own = ev("alert", 2);
        own.host = Some("other".into());
        w.sender().send(&own);
        w.shutdown();
        let l = lines(&p);
        assert!(l[0].ends_with(r#","host":"gw \"7\""}"#), "{}", l[0]);
        let v: serde_json::Value = serde_json::from_str(&l[0]).unwrap();
        assert_eq!(v["capture"]["mode"], "ips");
        let v: serde_json::Value = serde_json::from_str(&l[1]).unwrap();
        assert_eq!(v["host"], "other");
        assert_eq!(l[1].matches("\"host\"").count(), 1);
        // Default: no host field; a plain line file never gets one.
        let w = EveWriter::open(&p, &EveConfig::default()).unwrap();
        w.sender().send(&ev("flow", 3));
        w.shutdown();
        let f = d.join("fast.log");
        let w = EveWriter::open_file(&f, &cfg).unwrap();
        w.sender().send(&ev("flow", 4));
        w.shutdown();
        assert!(!lines(&p)[2].contains("host"));
        assert!(!lines(&f)[0].contains("host"));
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn config_rejects_unknown_and_bad_duration() {
        assert!(toml::from_str::<EveConfig>("bogus = 1").is_err());
        assert!(toml::from_str::<EveConfig>("stats_interval = \"fast\"").is_err());
        assert!(toml::from_str::<EveConfig>("stats_interval = \"0s\"").is_err());
        assert_eq!(
            toml::from_str::<EveConfig>("").unwrap().stats_interval,
            Duration::from_secs(30)
        );
    }
}
