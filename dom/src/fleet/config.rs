//! `[fleet]` and `[input] redis`: raw TOML tables and their validation.
//!
//! Secrets are not read here: `password_file` is read when connecting, so
//! a rotated password is picked up on the next reconnect and never sits in
//! the parsed configuration (which is logged at debug level).

use std::ops::Range;
use std::path::PathBuf;
use std::time::Duration;

use meerkat_shared::duration::parse_duration;
use serde::Deserialize;
use toml::Spanned;

use crate::config::ConfigError;

/// Default key prefix.
pub const DEFAULT_PREFIX: &str = "mk";
/// Default stream key of `[input] redis` (Suricata's default `key`).
pub const DEFAULT_EVE_KEY: &str = "suricata";
/// Default `max_bans_per_minute_per_origin`.
pub const DEFAULT_RATE: u32 = 1000;
/// Default age after which stream entries are trimmed.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(86400);
/// Default bound of the outgoing queue while Redis is unreachable.
pub const DEFAULT_QUEUE: usize = 100_000;

/// Where and how to reach Redis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisTarget {
    /// `redis://`, `rediss://` (TLS, rustls) or `unix://`.
    pub url: String,
    pub username: Option<String>,
    pub password_file: Option<PathBuf>,
    /// PEM file of the CA that signed the server's certificate, for
    /// `rediss://` (default: the system's CA store).
    pub tls_ca_file: Option<PathBuf>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FleetConfig {
    pub target: RedisTarget,
    /// This gateway's name (`origin` of what it publishes).
    pub name: String,
    pub prefix: String,
    pub publish: bool,
    pub apply: bool,
    /// 0 = unlimited.
    pub max_bans_per_minute_per_origin: u32,
    /// Stream entries older than this are trimmed (`XADD ... MINID ~`).
    pub retention: Duration,
    /// Outgoing decisions held while Redis is unreachable.
    pub queue: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RedisInput {
    pub target: RedisTarget,
    pub key: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFleet {
    url: Spanned<String>,
    name: Option<Spanned<String>>,
    prefix: Option<Spanned<String>>,
    username: Option<String>,
    password_file: Option<String>,
    tls_ca_file: Option<Spanned<String>>,
    publish: Option<bool>,
    apply: Option<bool>,
    max_bans_per_minute_per_origin: Option<Spanned<i64>>,
    retention: Option<Spanned<String>>,
    queue: Option<Spanned<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRedisInput {
    url: Spanned<String>,
    key: Option<Spanned<String>>,
    username: Option<String>,
    password_file: Option<String>,
    tls_ca_file: Option<Spanned<String>>,
}

type ErrAt<'a> = &'a dyn Fn(Range<usize>, String) -> ConfigError;

fn url_ok(err: ErrAt, url: &Spanned<String>, what: &str) -> Result<String, ConfigError> {
    let u = url.get_ref().trim();
    let ok = ["redis://", "rediss://", "unix://", "redis+unix://"]
        .iter()
        .any(|s| u.starts_with(s) && u.len() > s.len());
    if !ok {
        return Err(err(
            url.span(),
            format!("{what}: `{u}` must start with redis://, rediss:// (TLS) or unix://"),
        ));
    }
    // Let the client library check the rest (host, port, path).
    if let Err(e) = redis::Client::open(u) {
        return Err(err(url.span(), format!("{what}: `{u}`: {e}")));
    }
    Ok(u.to_string())
}

fn target(
    err: ErrAt,
    url: String,
    username: &Option<String>,
    password_file: &Option<String>,
    ca: &Option<Spanned<String>>,
    what: &str,
) -> Result<RedisTarget, ConfigError> {
    if let Some(c) = ca {
        if !url.starts_with("rediss://") {
            return Err(err(
                c.span(),
                format!("{what}.tls_ca_file needs a rediss:// url"),
            ));
        }
    }
    Ok(RedisTarget {
        url,
        username: username.clone().filter(|s| !s.is_empty()),
        password_file: password_file.as_ref().map(PathBuf::from),
        tls_ca_file: ca.as_ref().map(|c| PathBuf::from(c.get_ref())),
    })
}

fn key_part_ok(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.:".contains(c))
}

/// This machine's host name (the default gateway name).
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "gateway".into())
}

impl RawFleet {
    pub(crate) fn validate(&self, err: ErrAt) -> Result<FleetConfig, ConfigError> {
        let url = url_ok(err, &self.url, "fleet.url")?;
        let name = match &self.name {
            None => host_name(),
            Some(n) => {
                let s = n.get_ref().trim();
                if !key_part_ok(s) {
                    return Err(err(
                        n.span(),
                        format!("fleet.name `{s}` must be 1-64 characters of A-Z a-z 0-9 _ - . :"),
                    ));
                }
                s.to_string()
            }
        };
        let prefix = match &self.prefix {
            None => DEFAULT_PREFIX.to_string(),
            Some(p) => {
                let s = p.get_ref().trim();
                if !key_part_ok(s) {
                    return Err(err(
                        p.span(),
                        format!(
                            "fleet.prefix `{s}` must be 1-64 characters of A-Z a-z 0-9 _ - . :"
                        ),
                    ));
                }
                s.to_string()
            }
        };
        let rate = match &self.max_bans_per_minute_per_origin {
            None => DEFAULT_RATE,
            Some(v) => u32::try_from(*v.get_ref())
                .ok()
                .filter(|n| *n <= 1_000_000)
                .ok_or_else(|| {
                    err(
                        v.span(),
                        format!(
                            "fleet.max_bans_per_minute_per_origin: {} must be from 0 (unlimited) to 1000000",
                            v.get_ref()
                        ),
                    )
                })?,
        };
        let retention = match &self.retention {
            None => DEFAULT_RETENTION,
            Some(v) => {
                let d = parse_duration(v.get_ref())
                    .map_err(|e| err(v.span(), format!("fleet.retention: {e}")))?;
                if d < Duration::from_secs(60) {
                    return Err(err(
                        v.span(),
                        "fleet.retention must be at least 1m".to_string(),
                    ));
                }
                d
            }
        };
        let queue = match &self.queue {
            None => DEFAULT_QUEUE,
            Some(v) => usize::try_from(*v.get_ref())
                .ok()
                .filter(|n| (1..=10_000_000).contains(n))
                .ok_or_else(|| {
                    err(
                        v.span(),
                        format!("fleet.queue: {} must be from 1 to 10000000", v.get_ref()),
                    )
                })?,
        };
        Ok(FleetConfig {
            target: target(
                err,
                url,
                &self.username,
                &self.password_file,
                &self.tls_ca_file,
                "fleet",
            )?,
            name,
            prefix,
            publish: self.publish.unwrap_or(true),
            apply: self.apply.unwrap_or(true),
            max_bans_per_minute_per_origin: rate,
            retention,
            queue,
        })
    }
}

impl RawRedisInput {
    pub(crate) fn validate(&self, err: ErrAt) -> Result<RedisInput, ConfigError> {
        let url = url_ok(err, &self.url, "input.redis.url")?;
        let key = match &self.key {
            None => DEFAULT_EVE_KEY.to_string(),
            Some(k) => {
                let s = k.get_ref().trim();
                if s.is_empty() || s.len() > 256 {
                    return Err(err(
                        k.span(),
                        "input.redis.key must be 1-256 characters".into(),
                    ));
                }
                s.to_string()
            }
        };
        Ok(RedisInput {
            target: target(
                err,
                url,
                &self.username,
                &self.password_file,
                &self.tls_ca_file,
                "input.redis",
            )?,
            key,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::config::Config;

    fn parse(extra: &str) -> Result<Config, String> {
        Config::parse(Path::new("dom.toml"), extra).map_err(|e| e.to_string())
    }

    #[test]
    fn fleet_defaults_and_errors_with_positions() {
        let c = parse("[fleet]\nurl = \"unix:///run/redis.sock\"\nname = \"gw1\"\n").unwrap();
        let f = c.fleet.unwrap();
        assert_eq!(f.prefix, "mk");
        assert!(f.publish && f.apply);
        assert_eq!(f.max_bans_per_minute_per_origin, 1000);
        assert_eq!(f.name, "gw1");
        let e = parse("[fleet]\nurl = \"http://x\"\n").unwrap_err();
        assert!(e.starts_with("dom.toml:2:7: fleet.url"), "{e}");
        let e = parse("[fleet]\nurl = \"redis://x\"\nname = \"a b\"\n").unwrap_err();
        assert!(e.starts_with("dom.toml:3:8: fleet.name"), "{e}");
        let e = parse("[fleet]\nurl = \"redis://x\"\nmax_bans_per_minute_per_origin = -1\n")
            .unwrap_err();
        assert!(e.contains("max_bans_per_minute_per_origin"), "{e}");
        let e = parse("[fleet]\nurl = \"redis://x\"\ntls_ca_file = \"/ca.pem\"\n").unwrap_err();
        assert!(e.contains("needs a rediss:// url"), "{e}");
        let e = parse("[fleet]\nurl = \"redis://x\"\nbogus = 1\n").unwrap_err();
        assert!(e.contains("bogus"), "{e}");
        let c = parse("[fleet]\nurl = \"rediss://r.example:6380\"\ntls_ca_file = \"/ca.pem\"\npublish = false\n")
            .unwrap();
        assert!(!c.fleet.unwrap().publish);
    }

    #[test]
    fn input_redis_instead_of_eve() {
        let c = parse("[input]\nredis = { url = \"redis://127.0.0.1:6379\" }\n").unwrap();
        assert_eq!(c.input.redis.unwrap().key, "suricata");
        let e = parse("[input]\neve = \"/x\"\nredis = { url = \"redis://h\" }\n").unwrap_err();
        assert!(e.contains("not both"), "{e}");
    }
}
