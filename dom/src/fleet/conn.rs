//! Connecting to Redis and backing off when it is away.
//!
//! The URL decides the transport: `redis://host:port`, `rediss://` (TLS
//! through rustls, certificates from the system store, or from one CA in
//! `tls_ca_file`), `unix:///path`.
//! `username` and the first line of `password_file` are given to `AUTH`
//! (Redis 6+ ACL users); the password is read at every connection so a
//! rotated one is picked up, and it never appears in a log line.

use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, IntoConnectionInfo};

use crate::fleet::config::RedisTarget;
use crate::state::now_ms;

/// Time allowed to establish a connection (TCP, TLS, AUTH).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Time allowed for an ordinary reply.
pub const RESPONSE_TIMEOUT: Duration = Duration::from_secs(10);

/// rustls needs one process-wide crypto provider: ring (no OpenSSL, no
/// cmake), installed once before the first TLS connection.
fn tls_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// Opens a multiplexed connection; `response_timeout` must exceed any
/// `BLOCK` the connection is used for.
pub async fn connect(
    t: &RedisTarget,
    response_timeout: Duration,
) -> Result<MultiplexedConnection, String> {
    tls_provider();
    let info = t
        .url
        .as_str()
        .into_connection_info()
        .map_err(|e| format!("{}: {e}", t.url))?;
    let mut rs = info.redis_settings().clone();
    if let Some(u) = &t.username {
        rs = rs.set_username(u);
    }
    if let Some(p) = &t.password_file {
        let text = std::fs::read_to_string(p)
            .map_err(|e| format!("password_file {}: {e}", p.display()))?;
        let pw = text.lines().next().unwrap_or("").trim_end();
        rs = rs.set_password(pw);
    }
    let info = info.set_redis_settings(rs);
    let client = match &t.tls_ca_file {
        Some(ca) => {
            let pem =
                std::fs::read(ca).map_err(|e| format!("tls_ca_file {}: {e}", ca.display()))?;
            redis::Client::build_with_tls(
                info,
                redis::TlsCertificates {
                    client_tls: None,
                    root_cert: Some(pem),
                },
            )
        }
        None => redis::Client::open(info),
    }
    .map_err(|e| format!("{}: {e}", t.url))?;
    let cfg = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(CONNECT_TIMEOUT))
        .set_response_timeout(Some(response_timeout));
    client
        .get_multiplexed_async_connection_with_config(&cfg)
        .await
        .map_err(|e| format!("{}: {e}", t.url))
}

/// Does this error mean the connection is gone (reconnect and retry),
/// rather than a refusal of this command (which a retry would repeat)?
pub fn is_transport(e: &redis::RedisError) -> bool {
    e.is_io_error() || e.is_connection_dropped() || e.is_timeout() || e.is_connection_refusal()
}

/// Exponential backoff, 100 ms doubling to 5 s, with a little jitter so a
/// fleet does not reconnect in lockstep after a Redis restart.
#[derive(Debug)]
pub struct Backoff {
    cur: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            cur: Duration::from_millis(100),
        }
    }
}

impl Backoff {
    pub const MAX: Duration = Duration::from_secs(5);

    pub fn reset(&mut self) {
        self.cur = Duration::from_millis(100);
    }

    pub fn next_delay(&mut self) -> Duration {
        let d = self.cur + Duration::from_millis(now_ms() % 50);
        self.cur = (self.cur * 2).min(Self::MAX);
        d
    }
}
