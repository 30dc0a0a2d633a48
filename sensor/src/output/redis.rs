//! EVE to Redis: an additional sink beside `eve.json` (`[eve.redis]`).
//!
//! The EVE writer thread hands every line it wrote to the file to
//! [`RedisSink::offer`], which queues it (bounded, never blocks) for the
//! `eve-redis` thread. That thread owns one blocking `redis` connection (no
//! async runtime) and sends what is queued as one pipeline (up to `batch`
//! commands, gathered for at most 2 ms after the first line): `XADD <key> MAXLEN ~ <maxlen> * eve <json>` (Suricata
//! 8's `stream` mode), `LPUSH`, `RPUSH` or `PUBLISH` (Suricata 7's `list`,
//! `rpush` and `channel` modes).
//!
//! Redis never slows the packets nor the file: when the queue is full, or
//! Redis is down, lines are dropped and counted (`lost`, in the stats event
//! as `capture.eve.redis_lost`). A lost connection is reported once per
//! outage (a warning naming the URL and what to check); the thread then
//! reconnects with a backoff of 100 ms doubling up to 5 s, dropping and
//! counting what arrives meanwhile, and says how much was lost once it is
//! connected again. Lines of a pipeline that failed on the connection are
//! all counted as lost (some may in fact have reached Redis).

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, Receiver, Sender, TryRecvError, TrySendError};
use serde::Deserialize;

/// Time allowed to open a connection (TCP connect and handshake).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// Read and write timeout of an open connection: a Redis that hangs holds
/// the `eve-redis` thread (and so its queue) at most this long per pipeline.
const IO_TIMEOUT: Duration = Duration::from_secs(2);
/// First reconnect delay; doubles after each failed attempt.
const BACKOFF_MIN: Duration = Duration::from_millis(100);
/// Longest reconnect delay.
const BACKOFF_MAX: Duration = Duration::from_secs(5);
/// How long a pipeline waits for more lines once it has one: fewer, larger
/// pipelines (syscalls for the sensor and Redis) for at most this latency.
const LINGER: Duration = Duration::from_millis(2);
/// Minimum time between two warnings about commands Redis refused.
const REFUSED_WARN_INTERVAL: Duration = Duration::from_secs(10);

/// How events are written to Redis (`[eve.redis] mode`, Suricata's
/// `outputs.N.eve-log.redis.mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RedisMode {
    /// `XADD key [MAXLEN ~ N] * eve <json>` (Suricata 8 `stream`/`xadd`).
    #[default]
    #[serde(alias = "xadd")]
    Stream,
    /// `LPUSH key <json>` (Suricata 7 `list`/`lpush`, its default).
    #[serde(alias = "lpush")]
    List,
    /// `RPUSH key <json>`.
    Rpush,
    /// `PUBLISH key <json>` (Suricata's `channel`/`publish`).
    #[serde(alias = "publish")]
    Channel,
}

impl RedisMode {
    /// Suricata's spellings.
    pub fn parse(s: &str) -> Option<RedisMode> {
        match s.trim().to_ascii_lowercase().as_str() {
            "stream" | "xadd" => Some(RedisMode::Stream),
            "list" | "lpush" => Some(RedisMode::List),
            "rpush" => Some(RedisMode::Rpush),
            "channel" | "publish" => Some(RedisMode::Channel),
            _ => None,
        }
    }

    /// Meerkat's (and Suricata 8's) name.
    pub fn as_str(self) -> &'static str {
        match self {
            RedisMode::Stream => "stream",
            RedisMode::List => "list",
            RedisMode::Rpush => "rpush",
            RedisMode::Channel => "channel",
        }
    }
}

/// `[eve.redis]`: EVE events also sent to Redis.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct RedisConfig {
    /// `redis://[:password@]host[:port][/db]` or `unix:///path/redis.sock`.
    pub url: String,
    /// Stream, list or channel name.
    pub key: String,
    /// `stream` (default), `list`, `rpush` or `channel`.
    pub mode: RedisMode,
    /// Stream mode: trim the stream to about this many entries on each
    /// `XADD` (`MAXLEN ~`); 0 = never trim. Suricata's `stream-maxlen`.
    pub maxlen: u64,
    /// Stream mode: trim exactly (`MAXLEN =`, slower for Redis) instead of
    /// approximately. Suricata's `stream-trim-exact`.
    pub trim_exact: bool,
    /// Events queued for Redis before more are dropped and counted.
    pub queue_events: usize,
    /// Most commands sent in one pipeline.
    pub batch: usize,
}

impl Default for RedisConfig {
    fn default() -> Self {
        RedisConfig {
            url: "redis://127.0.0.1:6379".into(),
            key: "suricata".into(),
            mode: RedisMode::Stream,
            maxlen: 100_000,
            trim_exact: false,
            queue_events: 65_536,
            batch: 256,
        }
    }
}

impl RedisConfig {
    /// The URL with any password replaced by `***`, for messages.
    pub fn url_redacted(&self) -> String {
        redact(&self.url)
    }

    /// Checks the URL and key without connecting (also done by `-T`).
    ///
    /// # Errors
    ///
    /// A URL the `redis` crate does not accept, or `rediss://` (TLS, not
    /// in this build), or an empty key.
    pub fn check(&self) -> Result<::redis::Client, RedisError> {
        let url_err = |reason: String| RedisError::Url {
            url: redact(&self.url),
            reason,
        };
        let scheme = self.url.split("://").next().unwrap_or("");
        if !matches!(scheme, "redis" | "unix" | "redis+unix") || !self.url.contains("://") {
            return Err(url_err(
                "expected redis://host:port or unix:///path/to/redis.sock \
                 (TLS, rediss://, is not supported by the sensor: use a local Redis or a tunnel)"
                    .into(),
            ));
        }
        let client =
            ::redis::Client::open(self.url.as_str()).map_err(|e| url_err(e.to_string()))?;
        if self.key.is_empty() {
            return Err(RedisError::EmptyKey);
        }
        Ok(client)
    }
}

/// Errors starting the Redis sink (bad configuration).
#[derive(Debug, thiserror::Error)]
pub enum RedisError {
    #[error("eve.redis.url {url:?}: {reason}")]
    Url { url: String, reason: String },
    #[error("eve.redis.key must not be empty")]
    EmptyKey,
    #[error("cannot start the eve-redis thread: {0}")]
    Thread(#[source] std::io::Error),
}

/// Counters of the Redis sink, shared with the stats event.
#[derive(Debug, Default)]
pub struct RedisCounters {
    /// Events Redis accepted.
    pub sent: AtomicU64,
    /// Events dropped: queue full, Redis unreachable, connection lost
    /// during a pipeline, or refused by Redis.
    pub lost: AtomicU64,
    /// Of `lost`, commands Redis answered with an error (wrong key type,
    /// out of memory, ...).
    pub refused: AtomicU64,
    /// Times the connection was lost or could not be made after working
    /// (each is one warning in the log).
    pub outages: AtomicU64,
}

/// The sending side, owned by the EVE writer thread.
pub struct RedisSink {
    tx: Sender<Vec<u8>>,
    counters: Arc<RedisCounters>,
    thread: Option<JoinHandle<()>>,
}

impl RedisSink {
    /// Checks `cfg` and starts the `eve-redis` thread; it connects on its
    /// own (an unreachable Redis is not an error here, only a warning and
    /// lost events). Sent lines are returned to `pool` for reuse.
    ///
    /// # Errors
    ///
    /// A URL the `redis` crate does not accept (or `rediss://`, which this
    /// build does not support), an empty key, or no thread.
    pub fn start(cfg: &RedisConfig, pool: Sender<Vec<u8>>) -> Result<RedisSink, RedisError> {
        let client = cfg.check()?;
        let (tx, rx) = bounded(cfg.queue_events.max(1));
        let counters = Arc::new(RedisCounters::default());
        let worker = Worker {
            client,
            url: redact(&cfg.url),
            key: cfg.key.clone(),
            mode: cfg.mode,
            maxlen: cfg.maxlen,
            trim: if cfg.trim_exact { "=" } else { "~" },
            batch_max: cfg.batch.max(1),
            rx,
            pool,
            counters: counters.clone(),
            conn: None,
            retry_at: Instant::now(),
            backoff: BACKOFF_MIN,
            outage: None,
            ever_connected: false,
            last_refused_warn: None,
        };
        let thread = std::thread::Builder::new()
            .name("eve-redis".into())
            .spawn(move || worker.run())
            .map_err(RedisError::Thread)?;
        Ok(RedisSink {
            tx,
            counters,
            thread: Some(thread),
        })
    }

    /// Queues one line (ending in `\n`) without blocking. When the queue is
    /// full the line is counted as lost and given back for reuse.
    pub fn offer(&self, line: Vec<u8>) -> Result<(), Vec<u8>> {
        match self.tx.try_send(line) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(l)) | Err(TrySendError::Disconnected(l)) => {
                self.counters.lost.fetch_add(1, Relaxed);
                Err(l)
            }
        }
    }

    /// The sink's counters.
    pub fn counters(&self) -> Arc<RedisCounters> {
        self.counters.clone()
    }

    /// Sends what is queued (while Redis answers) and stops the thread.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        // Closing the channel ends the thread once it has taken every
        // queued line.
        let (dead, _) = bounded(0);
        self.tx = dead;
        if let Some(t) = self.thread.take() {
            if t.join().is_err() {
                tracing::error!("eve-redis thread panicked; queued events are lost");
            }
        }
    }
}

impl Drop for RedisSink {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The `eve-redis` thread.
struct Worker {
    client: ::redis::Client,
    /// The URL for messages (password hidden).
    url: String,
    key: String,
    mode: RedisMode,
    maxlen: u64,
    trim: &'static str,
    batch_max: usize,
    rx: Receiver<Vec<u8>>,
    pool: Sender<Vec<u8>>,
    counters: Arc<RedisCounters>,
    conn: Option<::redis::Connection>,
    /// No connection attempt before this.
    retry_at: Instant,
    backoff: Duration,
    /// Since when Redis is unreachable, and `lost` at that moment (for the
    /// "connected again" message); `None` while connected.
    outage: Option<(Instant, u64)>,
    ever_connected: bool,
    last_refused_warn: Option<Instant>,
}

impl Worker {
    fn run(mut self) {
        let mut batch: Vec<Vec<u8>> = Vec::with_capacity(self.batch_max);
        let mut pipe = ::redis::pipe();
        pipe.ignore_errors();
        // `recv` returns every queued line before reporting the closed
        // channel, so shutdown sends what was queued.
        while let Ok(first) = self.rx.recv() {
            batch.push(first);
            let deadline = Instant::now() + LINGER;
            while batch.len() < self.batch_max {
                let line = match self.rx.try_recv() {
                    Ok(l) => Ok(l),
                    Err(TryRecvError::Empty) => {
                        let left = deadline.saturating_duration_since(Instant::now());
                        if left.is_zero() {
                            break;
                        }
                        self.rx.recv_timeout(left).map_err(|_| ())
                    }
                    Err(TryRecvError::Disconnected) => break,
                };
                match line {
                    Ok(l) => batch.push(l),
                    Err(()) => break,
                }
            }
            self.send(&mut pipe, &batch);
            for buf in batch.drain(..) {
                if buf.capacity() <= super::POOL_MAX_BUF {
                    let _ = self.pool.try_send(buf);
                }
            }
        }
        if self.outage.is_some() {
            let lost = self.counters.lost.load(Relaxed);
            tracing::warn!(url = %self.url, lost_total = lost, "EVE to Redis stopped while Redis was unreachable");
        }
    }

    fn send(&mut self, pipe: &mut ::redis::Pipeline, batch: &[Vec<u8>]) {
        let n = batch.len() as u64;
        if self.conn.is_none() && Instant::now() >= self.retry_at {
            self.connect();
        }
        let Some(conn) = self.conn.as_mut() else {
            self.counters.lost.fetch_add(n, Relaxed);
            return;
        };
        pipe.clear();
        for line in batch {
            let json = line.strip_suffix(b"\n").unwrap_or(line);
            match self.mode {
                RedisMode::Stream => {
                    let c = pipe.cmd("XADD").arg(&self.key);
                    if self.maxlen > 0 {
                        c.arg("MAXLEN").arg(self.trim).arg(self.maxlen);
                    }
                    c.arg("*").arg("eve").arg(json);
                }
                RedisMode::List => {
                    pipe.cmd("LPUSH").arg(&self.key).arg(json);
                }
                RedisMode::Rpush => {
                    pipe.cmd("RPUSH").arg(&self.key).arg(json);
                }
                RedisMode::Channel => {
                    pipe.cmd("PUBLISH").arg(&self.key).arg(json);
                }
            }
        }
        match pipe.query::<Vec<::redis::RedisResult<::redis::Value>>>(conn) {
            Ok(replies) => {
                let refused: Vec<&::redis::RedisError> =
                    replies.iter().filter_map(|r| r.as_ref().err()).collect();
                let bad = refused.len() as u64;
                self.counters.sent.fetch_add(n.saturating_sub(bad), Relaxed);
                if let Some(e) = refused.first() {
                    self.counters.lost.fetch_add(bad, Relaxed);
                    self.counters.refused.fetch_add(bad, Relaxed);
                    self.warn_refused(e, bad);
                }
            }
            Err(e) => {
                // The connection is in an unknown state (a reply may still
                // be on its way): start over with a new one.
                self.conn = None;
                self.counters.lost.fetch_add(n, Relaxed);
                self.down("lost the connection while sending events", &e);
                // One immediate retry (Redis restarted), then the backoff.
                self.retry_at = Instant::now();
            }
        }
    }

    fn connect(&mut self) {
        let result = self
            .client
            .get_connection_with_timeout(CONNECT_TIMEOUT)
            .and_then(|c| {
                c.set_write_timeout(Some(IO_TIMEOUT))?;
                c.set_read_timeout(Some(IO_TIMEOUT))?;
                Ok(c)
            });
        match result {
            Ok(c) => {
                self.conn = Some(c);
                self.backoff = BACKOFF_MIN;
                if let Some((since, lost_before)) = self.outage.take() {
                    let lost = self.counters.lost.load(Relaxed).saturating_sub(lost_before);
                    tracing::warn!(
                        url = %self.url,
                        outage_secs = since.elapsed().as_secs(),
                        lost_during_outage = lost,
                        "EVE to Redis: connected again; events resume"
                    );
                } else {
                    tracing::info!(url = %self.url, key = %self.key, mode = self.mode.as_str(), "EVE to Redis: connected");
                }
                self.ever_connected = true;
            }
            Err(e) => {
                let what = if self.ever_connected {
                    "cannot reconnect"
                } else {
                    "cannot connect"
                };
                self.down(what, &e);
                self.retry_at = Instant::now() + self.backoff;
                self.backoff = (self.backoff * 2).min(BACKOFF_MAX);
            }
        }
    }

    /// Notes that Redis is unreachable; warns once per outage.
    fn down(&mut self, what: &str, e: &::redis::RedisError) {
        if self.outage.is_some() {
            tracing::debug!(url = %self.url, error = %e, "EVE to Redis: {what}");
            return;
        }
        self.outage = Some((Instant::now(), self.counters.lost.load(Relaxed)));
        self.counters.outages.fetch_add(1, Relaxed);
        tracing::warn!(
            url = %self.url,
            error = %e,
            "EVE to Redis: {what}; events for Redis are dropped and counted \
             (stats capture.eve.redis_lost) while the sensor retries every few seconds; \
             eve.json is not affected. Check that redis-server is running and reachable \
             at this URL (eve.redis.url)"
        );
    }

    fn warn_refused(&mut self, e: &::redis::RedisError, n: u64) {
        if self
            .last_refused_warn
            .is_some_and(|t| t.elapsed() < REFUSED_WARN_INTERVAL)
        {
            return;
        }
        self.last_refused_warn = Some(Instant::now());
        tracing::warn!(
            url = %self.url,
            key = %self.key,
            mode = self.mode.as_str(),
            refused = n,
            refused_total = self.counters.refused.load(Relaxed),
            error = %e,
            "EVE to Redis: Redis refused events (dropped and counted); \
             check the key's type for this mode and Redis' memory limit"
        );
    }
}

/// `redis://user:secret@host` → `redis://user:***@host`.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (auth, host) = match rest.rsplit_once('@') {
        Some(p) => p,
        None => return url.to_string(),
    };
    let user = auth.split_once(':').map(|(u, _)| u).unwrap_or("");
    format!("{scheme}://{user}:***@{host}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_defaults_and_modes() {
        let c: RedisConfig = toml::from_str("").unwrap();
        assert_eq!(c.mode, RedisMode::Stream);
        assert_eq!(c.key, "suricata");
        assert_eq!(c.maxlen, 100_000);
        for (s, m) in [
            ("stream", RedisMode::Stream),
            ("xadd", RedisMode::Stream),
            ("list", RedisMode::List),
            ("lpush", RedisMode::List),
            ("rpush", RedisMode::Rpush),
            ("channel", RedisMode::Channel),
            ("publish", RedisMode::Channel),
        ] {
            let c: RedisConfig = toml::from_str(&format!("mode = \"{s}\"")).unwrap();
            assert_eq!(c.mode, m);
            assert_eq!(RedisMode::parse(s), Some(m));
        }
        assert!(toml::from_str::<RedisConfig>("mode = \"queue\"").is_err());
        assert!(toml::from_str::<RedisConfig>("bogus = 1").is_err());
    }

    #[test]
    fn bad_urls_are_named() {
        let (pool, _) = bounded(1);
        for url in ["rediss://h:6380", "http://h", "nonsense"] {
            let cfg = RedisConfig {
                url: url.into(),
                ..RedisConfig::default()
            };
            let e = RedisSink::start(&cfg, pool.clone()).err().unwrap();
            assert!(e.to_string().contains("eve.redis.url"), "{e}");
            assert!(cfg.check().is_err());
        }
    }

    #[test]
    fn password_is_hidden() {
        assert_eq!(redact("redis://:s3cret@h:6379/0"), "redis://:***@h:6379/0");
        assert_eq!(redact("redis://u:s3cret@h"), "redis://u:***@h");
        assert_eq!(redact("unix:///run/r.sock"), "unix:///run/r.sock");
    }

    /// Nothing listens: events are dropped and counted, quickly, and
    /// shutdown does not hang.
    #[test]
    fn unreachable_redis_counts_lost_events() {
        let (pool, _keep) = bounded(16);
        let cfg = RedisConfig {
            // A unix socket that does not exist fails at once.
            url: "unix:///nonexistent-meerkat/redis.sock".into(),
            queue_events: 8,
            ..RedisConfig::default()
        };
        let sink = RedisSink::start(&cfg, pool).unwrap();
        let counters = sink.counters();
        let start = Instant::now();
        for _ in 0..1000 {
            let _ = sink.offer(b"{\"event_type\":\"alert\"}\n".to_vec());
        }
        sink.shutdown();
        assert!(start.elapsed() < Duration::from_secs(5));
        assert_eq!(counters.lost.load(Relaxed), 1000);
        assert_eq!(counters.sent.load(Relaxed), 0);
        assert_eq!(counters.outages.load(Relaxed), 1);
    }
}
