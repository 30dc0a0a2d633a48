//! Suricata's setting names (as in `suricata.yaml`, `--set` and
//! `--dump-config`) mapped onto Meerkat's configuration.
//!
//! [`Settings`] holds dotted keys with text values (from a YAML file, then
//! `--set`, later ones replacing earlier ones); [`Settings::apply`] writes
//! those Meerkat understands into a [`SensorConfig`] and returns the keys it
//! does not use, so the caller can list them once.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use super::{ChecksumMode, SensorConfig, SshEncryptionHandling};
use crate::output::redis::{RedisConfig, RedisMode};
use crate::stream::ExceptionPolicy;

/// Where a setting came from, for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A line of a YAML file.
    File { path: String, line: usize },
    /// A `--set` argument.
    Set,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::File { path, line } => write!(f, "{path}:{line}"),
            Origin::Set => f.write_str("--set"),
        }
    }
}

/// Suricata-named settings, key → (value, origin).
#[derive(Debug, Clone, Default)]
pub struct Settings {
    map: BTreeMap<String, (String, Origin)>,
}

/// What [`Settings::apply`] did not use.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Unused {
    /// Keys Meerkat has no setting for (sorted, grouped by their first two
    /// components, e.g. `app-layer.protocols.http`).
    pub keys: Vec<String>,
}

/// A known key with a value Meerkat cannot use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{origin}: {key} = {value:?}: {message}")]
pub struct SettingError {
    pub origin: String,
    pub key: String,
    pub value: String,
    pub message: String,
}

impl Settings {
    /// Adds or replaces one setting.
    pub fn insert(&mut self, key: &str, value: &str, origin: Origin) {
        self.map
            .insert(key.trim().to_string(), (value.trim().to_string(), origin));
    }

    /// Adds a `--set key=value` argument.
    pub fn insert_set_arg(&mut self, arg: &str) -> Result<(), SettingError> {
        match arg.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => {
                self.insert(k, v, Origin::Set);
                Ok(())
            }
            _ => Err(SettingError {
                origin: "--set".into(),
                key: arg.to_string(),
                value: String::new(),
                message: "expected KEY=VALUE, e.g. --set stream.midstream=true".into(),
            }),
        }
    }

    /// The value of `key`, if set.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.map.get(key).map(|(v, _)| v.as_str())
    }

    /// Every key and value, sorted by key.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.map.iter().map(|(k, (v, _))| (k.as_str(), v.as_str()))
    }

    /// Whether there is no setting at all.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Writes every setting Meerkat has into `cfg`. Errors are values that
    /// do not fit their key (a size that is not a size, ...).
    pub fn apply(&self, cfg: &mut SensorConfig) -> Result<Unused, Vec<SettingError>> {
        let mut ap = Applier {
            cfg,
            errors: Vec::new(),
            unused: Vec::new(),
        };
        let mut rule_files: Vec<(usize, String)> = Vec::new();
        let mut eve = EveOutputs::default();
        let mut action_order: Vec<(usize, String, Origin)> = Vec::new();
        for (key, (value, origin)) in &self.map {
            let parts: Vec<&str> = key.split('.').collect();
            let used = match parts.as_slice() {
                ["rule-files", n] => match n.parse::<usize>() {
                    Ok(i) => {
                        rule_files.push((i, value.clone()));
                        true
                    }
                    Err(_) => false,
                },
                ["action-order", n] => match n.parse::<usize>() {
                    Ok(i) => {
                        action_order.push((i, value.clone(), origin.clone()));
                        true
                    }
                    Err(_) => false,
                },
                ["outputs", ..] => eve.take(&parts, value),
                _ => ap.one(&parts, key, value, origin),
            };
            if !used {
                ap.unused.push(key.clone());
            }
        }
        if !rule_files.is_empty() {
            rule_files.sort();
            ap.cfg.detect.rule_files = rule_files.into_iter().map(|(_, f)| f).collect();
        }
        if let Some((_, _, origin)) = action_order.first() {
            let origin = origin.clone();
            action_order.sort_by_key(|(i, _, _)| *i);
            let names: Vec<&str> = action_order.iter().map(|(_, v, _)| v.as_str()).collect();
            match crate::action::ActionOrder::parse(&names) {
                Ok(o) => ap.cfg.detect.action_order = o,
                Err(e) => ap.error("action-order", &names.join(", "), &origin, e),
            }
        }
        eve.finish(&mut ap);
        if ap.errors.is_empty() {
            ap.unused.sort();
            ap.unused.dedup();
            Ok(Unused { keys: ap.unused })
        } else {
            Err(ap.errors)
        }
    }
}

struct Applier<'a> {
    cfg: &'a mut SensorConfig,
    errors: Vec<SettingError>,
    unused: Vec<String>,
}

impl Applier<'_> {
    fn error(&mut self, key: &str, value: &str, origin: &Origin, message: impl Into<String>) {
        self.errors.push(SettingError {
            origin: origin.to_string(),
            key: key.to_string(),
            value: value.to_string(),
            message: message.into(),
        });
    }

    /// Sets a typed value through `parse`; a value that does not parse is
    /// an error naming what was expected.
    fn set<T>(
        &mut self,
        key: &str,
        value: &str,
        origin: &Origin,
        parse: fn(&str) -> Option<T>,
        expected: &str,
        store: impl FnOnce(&mut SensorConfig, T),
    ) -> bool {
        match parse(value) {
            Some(v) => store(self.cfg, v),
            None => self.error(key, value, origin, format!("expected {expected}")),
        }
        true
    }

    /// One non-list key. Returns whether Meerkat uses it.
    fn one(&mut self, parts: &[&str], key: &str, value: &str, origin: &Origin) -> bool {
        const BOOL: &str = "yes/no or true/false";
        const SIZE: &str = "a size such as 1048576, 64kb, 1mb or 1gb";
        const SECS: &str = "a number of seconds";
        let path = |v: &str| Some(PathBuf::from(v));
        match parts {
            ["vars", "address-groups", name] => {
                self.cfg
                    .vars
                    .address
                    .insert(name.to_string(), value.to_string());
                true
            }
            ["vars", "port-groups", name] => {
                self.cfg
                    .vars
                    .port
                    .insert(name.to_string(), value.to_string());
                true
            }
            ["default-rule-path"] => {
                self.cfg.detect.rule_path = non_empty(value).map(PathBuf::from);
                true
            }
            ["classification-file"] => self.set(key, value, origin, path, "a file", |c, v| {
                c.detect.classification_file = Some(v)
            }),
            ["reference-config-file"] => self.set(key, value, origin, path, "a file", |c, v| {
                c.detect.reference_file = Some(v)
            }),
            ["threshold-file"] => self.set(key, value, origin, path, "a file", |c, v| {
                c.detect.threshold_file = Some(v)
            }),
            ["default-log-dir"] => self.set(key, value, origin, path, "a directory", |c, v| {
                c.log_dir = Some(v)
            }),
            ["sensor-name"] => {
                self.cfg.eve.sensor_name = non_empty(value).map(str::to_string);
                true
            }
            ["stream", "midstream"] => self.set(key, value, origin, parse_bool, BOOL, |c, v| {
                c.stream.midstream = v
            }),
            ["stream", "midstream-policy"] => self.set(
                key,
                value,
                origin,
                ExceptionPolicy::parse,
                "auto, drop-packet, drop-flow, pass-packet, pass-flow, bypass, reject or ignore",
                |c, v| c.stream.midstream_policy = v,
            ),
            ["stream", "inline"] => self.set(
                key,
                value,
                origin,
                |v| match v {
                    "auto" => Some(None),
                    _ => parse_bool(v).map(Some),
                },
                "auto, yes or no",
                |c, v| c.stream.inline = v,
            ),
            ["stream", "bypass"] => self.set(key, value, origin, parse_bool, BOOL, |c, v| {
                c.stream.bypass = v
            }),
            ["stream", "checksum-validation"] => {
                self.set(key, value, origin, parse_bool, BOOL, |c, v| {
                    c.stream.checksum_validation = v
                })
            }
            ["stream", "async-oneside"] => {
                self.set(key, value, origin, parse_bool, BOOL, |c, v| {
                    c.stream.async_oneside = v
                })
            }
            ["stream", "memcap"] | ["stream", "reassembly", "memcap"] => {
                self.set(key, value, origin, parse_size, SIZE, |c, v| {
                    c.stream.memcap = v
                })
            }
            ["stream", "reassembly", "depth"] => {
                self.set(key, value, origin, parse_size, SIZE, |c, v| {
                    c.stream.depth = v
                })
            }
            ["flow", "memcap"] => self.set(key, value, origin, parse_size, SIZE, |c, v| {
                c.flow.memcap_bytes = v
            }),
            ["flow-timeouts", proto, state] => {
                let field: Option<fn(&mut SensorConfig, Duration)> = match (*proto, *state) {
                    ("tcp" | "default", "new") => Some(|c, d| c.flow.timeout_new = d),
                    ("tcp" | "default", "established") => {
                        Some(|c, d| c.flow.timeout_established = d)
                    }
                    ("tcp", "closed") => Some(|c, d| c.flow.timeout_closed = d),
                    ("udp", "new" | "established") => Some(|c, d| c.flow.timeout_udp = d),
                    ("icmp", "new" | "established") => Some(|c, d| c.flow.timeout_icmp = d),
                    _ => None,
                };
                match field {
                    Some(store) => self.set(key, value, origin, parse_secs, SECS, store),
                    None => false,
                }
            }
            ["app-layer", "protocols", "ssh", "enabled"] => self.set(
                key,
                value,
                origin,
                |v| match v {
                    "detection-only" => Some(true),
                    _ => parse_bool(v),
                },
                "yes, no or detection-only",
                |c, v| c.app_layer.ssh.enabled = v,
            ),
            ["app-layer", "protocols", "dns", rest @ ..] => {
                let (tcp, udp) = match rest {
                    ["tcp", "detection-ports", "dp"] => (true, false),
                    ["udp", "detection-ports", "dp"] => (false, true),
                    ["detection-ports", "dp"] => (true, true),
                    _ => return false,
                };
                self.set(
                    key,
                    value,
                    origin,
                    crate::app::dns::DnsPorts::parse,
                    "a port or a list of up to 8 ports",
                    |c, v| {
                        if tcp {
                            c.app_layer.dns.tcp_ports = v.clone();
                        }
                        if udp {
                            c.app_layer.dns.udp_ports = v;
                        }
                    },
                )
            }
            ["app-layer", "protocols", "ssh", "hassh"] => {
                self.set(key, value, origin, parse_bool, BOOL, |c, v| {
                    c.app_layer.ssh.hassh = v
                })
            }
            ["app-layer", "protocols", "tls", "ja3-fingerprints"] => self.set(
                key,
                value,
                origin,
                |v| match v {
                    "auto" => Some(None),
                    _ => parse_bool(v).map(Some),
                },
                "yes, no or auto",
                |c, v| c.app_layer.tls.ja3_fingerprints = v,
            ),
            ["app-layer", "protocols", "tls", "encryption-handling" | "encrypt-handling"] => self
                .set(
                    key,
                    value,
                    origin,
                    SshEncryptionHandling::parse,
                    "default, track-only, bypass or full",
                    |c, v| c.app_layer.tls.encryption_handling = v,
                ),
            ["app-layer", "protocols", "ssh", "encryption-handling"] => self.set(
                key,
                value,
                origin,
                SshEncryptionHandling::parse,
                "default, track-only, bypass or full",
                |c, v| c.app_layer.ssh.encryption_handling = v,
            ),
            ["logging", "outputs", _n, "file", field] => match *field {
                "enabled" => self.set(key, value, origin, parse_bool, BOOL, |c, v| {
                    c.engine_log.enabled = v
                }),
                "filename" => {
                    self.cfg.engine_log.filename = value.to_string();
                    true
                }
                "type" => {
                    self.cfg.engine_log.json = value == "json";
                    true
                }
                "level" => {
                    self.cfg.engine_log.level = value.to_string();
                    true
                }
                _ => false,
            },
            ["pcap-file", "checksum-checks"] => self.set(
                key,
                value,
                origin,
                ChecksumMode::parse,
                "yes, no or auto",
                |c, v| c.pcap.checksum_checks = v,
            ),
            ["stats", "enabled"] => self.set(key, value, origin, parse_bool, BOOL, |c, v| {
                c.eve.types.stats = v
            }),
            ["stats", "interval"] => self.set(
                key,
                value,
                origin,
                |v| parse_secs(v).filter(|d| !d.is_zero()),
                "a number of seconds above 0",
                |c, v| c.eve.stats_interval = v,
            ),
            _ => false,
        }
    }
}

/// The `outputs.*` settings: Meerkat writes one EVE file (the first
/// `eve-log` output) and one fast.log.
#[derive(Debug, Default)]
struct EveOutputs {
    /// Output index → output kind (`outputs.N = eve-log`).
    kinds: BTreeMap<usize, String>,
    /// (output index, rest of the key after `outputs.N.KIND.`, value).
    values: Vec<(usize, Vec<String>, String)>,
}

impl EveOutputs {
    fn take(&mut self, parts: &[&str], value: &str) -> bool {
        let Some(idx) = parts.get(1).and_then(|n| n.parse::<usize>().ok()) else {
            return false;
        };
        match parts {
            [_, _] => {
                self.kinds.insert(idx, value.to_string());
                matches!(value, "eve-log" | "fast" | "tls-store")
            }
            [_, _, kind, rest @ ..] if matches!(*kind, "eve-log" | "fast" | "tls-store") => {
                self.values.push((
                    idx,
                    std::iter::once(kind.to_string())
                        .chain(rest.iter().map(|s| s.to_string()))
                        .collect(),
                    value.to_string(),
                ));
                true
            }
            _ => false,
        }
    }

    fn finish(mut self, ap: &mut Applier<'_>) {
        let origin = Origin::Set;
        let first_eve = self
            .kinds
            .iter()
            .find(|(_, k)| *k == "eve-log")
            .map(|(i, _)| *i);
        // Suricata allows one anomaly logger in all eve-log outputs.
        let anomaly_outputs: Vec<usize> = {
            let mut v: Vec<usize> = self
                .values
                .iter()
                .filter(|(_, rest, value)| {
                    let rest: Vec<&str> = rest.iter().map(String::as_str).collect();
                    match rest.as_slice() {
                        ["eve-log", "types", _n] => value == "anomaly",
                        ["eve-log", "types", _n, "anomaly", "enabled"] => {
                            parse_bool(value) != Some(false)
                        }
                        _ => false,
                    }
                })
                .map(|(i, _, _)| *i)
                .collect();
            v.sort_unstable();
            v.dedup();
            v
        };
        // Every further eve-log output: read like a first one into a
        // scratch configuration, then kept as an extra output.
        let extra_idx: Vec<usize> = self
            .kinds
            .iter()
            .filter(|(i, k)| *k == "eve-log" && Some(**i) != first_eve)
            .map(|(i, _)| *i)
            .collect();
        for idx in extra_idx {
            self.kinds.remove(&idx);
            let (mine, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut self.values)
                .into_iter()
                .partition(|(i, _, _)| *i == idx);
            self.values = rest;
            let disabled = mine.iter().any(|(_, rest, v)| {
                matches!(rest.as_slice(), [_, k] if k == "enabled") && parse_bool(v) == Some(false)
            });
            let mut scratch = SensorConfig::default();
            let mut sub = Applier {
                cfg: &mut scratch,
                errors: Vec::new(),
                unused: Vec::new(),
            };
            EveOutputs {
                kinds: BTreeMap::from([(idx, "eve-log".to_string())]),
                values: mine,
            }
            .finish(&mut sub);
            let (errors, unused) = (sub.errors, sub.unused);
            ap.errors.extend(errors);
            ap.unused.extend(unused);
            let e = scratch.eve;
            if e.redis.is_some() {
                ap.unused.push(format!(
                    "outputs.{idx}.eve-log.redis (only the first eve-log output sends to Redis)"
                ));
            }
            if !disabled {
                ap.cfg.eve.extra.push(crate::output::eve::ExtraEveConfig {
                    filename: e.filename,
                    types: e.types,
                    dns: e.dns,
                });
            }
        }
        let kind_of = |idx: usize, named: &str| {
            self.kinds
                .get(&idx)
                .map(|k| k == named)
                // A `--set outputs.N.eve-log.x` without a file: trust the key.
                .unwrap_or(true)
        };
        let eve_idx = self
            .kinds
            .iter()
            .find(|(_, k)| *k == "eve-log")
            .map(|(i, _)| *i);
        // A configuration that declares an eve-log output logs exactly the
        // types it lists, as Suricata does.
        let mut listed: Option<Vec<(String, bool)>> = eve_idx.map(|_| Vec::new());
        let mut eve_enabled = true;
        let mut redis = YamlRedis::default();
        for (idx, rest, value) in &self.values {
            let rest: Vec<&str> = rest.iter().map(String::as_str).collect();
            let key = format!("outputs.{idx}.{}", rest.join("."));
            match rest.as_slice() {
                ["fast", "enabled"] if kind_of(*idx, "fast") => match parse_bool(value) {
                    Some(v) => ap.cfg.fast.enabled = v,
                    None => ap.error(&key, value, &origin, "expected yes or no"),
                },
                ["fast", "filename"] => ap.cfg.fast.filename = value.clone(),
                ["tls-store", "enabled"] if kind_of(*idx, "tls-store") => match parse_bool(value) {
                    Some(v) => ap.cfg.tls_store.enabled = v,
                    None => ap.error(&key, value, &origin, "expected yes or no"),
                },
                ["tls-store", "certs-log-dir"] => ap.cfg.tls_store.certs_log_dir = value.clone(),
                ["fast", "append"] => {}
                ["eve-log", "enabled"] => match parse_bool(value) {
                    Some(v) => eve_enabled = v,
                    None => ap.error(&key, value, &origin, "expected yes or no"),
                },
                ["eve-log", "filename"] => ap.cfg.eve.filename = value.clone(),
                ["eve-log", "filetype"] if value == "regular" => {}
                // Suricata writes only to Redis then; Meerkat keeps eve.json
                // and sends to Redis as well.
                ["eve-log", "filetype"] if value == "redis" => redis.filetype = true,
                ["eve-log", "redis", field] => match redis.take(field, value) {
                    Ok(true) => redis.given.push(key),
                    Ok(false) => ap.unused.push(key),
                    Err(()) => ap.error(&key, value, &origin, YamlRedis::expected(field)),
                },
                ["eve-log", "redis", "pipelining", ..] => {}
                ["eve-log", "community-id"] => match parse_bool(value) {
                    Some(v) => ap.cfg.eve.community_id = v,
                    None => ap.error(&key, value, &origin, "expected yes or no"),
                },
                ["eve-log", "community-id-seed"] => match value.parse::<u16>() {
                    Ok(v) => ap.cfg.eve.community_id_seed = v,
                    Err(_) => ap.error(&key, value, &origin, "expected a number 0-65535"),
                },
                ["eve-log", "types", _n] => match listed.as_mut() {
                    Some(l) => l.push((value.clone(), true)),
                    None => set_type(ap, value, true, &key),
                },
                ["eve-log", "types", _n, ty, "enabled"] => match parse_bool(value) {
                    Some(v) => match listed.as_mut() {
                        Some(l) => l.push((ty.to_string(), v)),
                        None => set_type(ap, ty, v, &key),
                    },
                    None => ap.error(&key, value, &origin, "expected yes or no"),
                },
                ["eve-log", "types", _n, "drop", "flows"] => match value.as_str() {
                    "start" => ap.cfg.eve.types.drop_flows_all = false,
                    "all" => ap.cfg.eve.types.drop_flows_all = true,
                    _ => ap.error(&key, value, &origin, "expected start or all"),
                },
                ["eve-log", "types", _n, "anomaly", opt @ ..] if *opt != ["enabled"] => {
                    let a = &mut ap.cfg.eve.anomaly;
                    let field = match *opt {
                        ["types", "decode"] => Some(&mut a.decode),
                        ["types", "stream"] => Some(&mut a.stream),
                        ["types", "applayer"] => Some(&mut a.applayer),
                        ["packethdr"] => Some(&mut a.packethdr),
                        _ => None,
                    };
                    match (field, parse_bool(value)) {
                        (Some(f), Some(v)) => *f = v,
                        (Some(_), None) => ap.error(&key, value, &origin, "expected yes or no"),
                        (None, _) => ap.unused.push(key),
                    }
                }
                ["eve-log", "types", _n, "tls", "extended"] => match parse_bool(value) {
                    Some(v) => ap.cfg.eve.tls.extended = v,
                    None => ap.error(&key, value, &origin, "expected yes or no"),
                },
                ["eve-log", "types", _n, "tls", "custom", _m] => {
                    if crate::output::tls::field::by_name(value).is_some() {
                        ap.cfg.eve.tls.custom.push(value.clone());
                    } else {
                        ap.error(&key, value, &origin, "not a tls field");
                    }
                }
                // Suricata 7's `session-resumption` logs resumed sessions,
                // as here.
                ["eve-log", "types", _n, "tls", "session-resumption"] => {}
                ["eve-log", "types", _n, "dns", opt, ..] => {
                    if !crate::output::dns::config_key(&mut ap.cfg.eve.dns, opt, value) {
                        ap.unused.push(key);
                    }
                }
                ["eve-log", "types", _n, "alert", opt] => {
                    let a = &mut ap.cfg.eve.alert;
                    let field = match *opt {
                        "payload" => Some(&mut a.payload),
                        "payload-printable" => Some(&mut a.payload_printable),
                        "packet" => Some(&mut a.packet),
                        "payload-length" => Some(&mut a.payload_length),
                        "metadata" => Some(&mut a.metadata),
                        "tagged-packets" => Some(&mut a.tagged_packets),
                        _ => None,
                    };
                    match (field, parse_bool(value)) {
                        (Some(f), Some(v)) => *f = v,
                        (Some(_), None) => ap.error(&key, value, &origin, "expected yes or no"),
                        (None, _) => ap.unused.push(key),
                    }
                }
                _ => ap.unused.push(key),
            }
        }
        redis.finish(ap);
        if anomaly_outputs.len() > 1 {
            ap.error(
                &format!("outputs.{}.eve-log.types", anomaly_outputs[1]),
                "anomaly",
                &origin,
                "only one 'anomaly' logger can be enabled (it is in several eve-log outputs)",
            );
        }
        if let Some(list) = listed {
            let t = &mut ap.cfg.eve.types;
            t.ssh = false;
            t.tls = false;
            t.alert = false;
            t.drop = false;
            t.flow = false;
            t.anomaly = false;
            t.netflow = false;
            t.dns = false;
            // `stats` keeps what `stats.enabled` said: Suricata's EVE stats
            // need both the stats module and the eve type.
            let stats_module = t.stats;
            t.stats = false;
            let mut stats_listed = false;
            for (ty, on) in list {
                if ty == "stats" {
                    stats_listed = on;
                }
                set_type(
                    ap,
                    &ty,
                    on,
                    &format!("outputs.{}.eve-log.types", eve_idx.unwrap_or(0)),
                );
            }
            ap.cfg.eve.types.stats = stats_module && stats_listed;
        }
        if !eve_enabled {
            let t = &mut ap.cfg.eve.types;
            t.ssh = false;
            t.tls = false;
            t.alert = false;
            t.drop = false;
            t.flow = false;
            t.stats = false;
            t.anomaly = false;
            t.netflow = false;
            t.dns = false;
        }
    }
}

/// `outputs.N.eve-log.redis.*` of a Suricata YAML, used when the output's
/// `filetype` is `redis`.
#[derive(Debug, Default)]
struct YamlRedis {
    filetype: bool,
    server: Option<String>,
    port: Option<u16>,
    mode: Option<RedisMode>,
    key: Option<String>,
    maxlen: Option<u64>,
    trim_exact: Option<bool>,
    /// Keys given (reported as unused when `filetype` is not redis).
    given: Vec<String>,
}

impl YamlRedis {
    /// Takes `redis.<field>`: whether Meerkat knows the field, or `Err`
    /// when the value does not fit.
    fn take(&mut self, field: &str, value: &str) -> Result<bool, ()> {
        match field {
            "server" => self.server = non_empty(value).map(str::to_string),
            "port" => self.port = Some(value.trim().parse().map_err(|_| ())?),
            "mode" => self.mode = Some(RedisMode::parse(value).ok_or(())?),
            "key" => self.key = non_empty(value).map(str::to_string),
            "stream-maxlen" => self.maxlen = Some(value.trim().parse().map_err(|_| ())?),
            "stream-trim-exact" => self.trim_exact = Some(parse_bool(value).ok_or(())?),
            // Meerkat always pipelines from its own thread.
            "async" => {}
            _ => return Ok(false),
        }
        Ok(true)
    }

    fn expected(field: &str) -> &'static str {
        match field {
            "port" => "a port number",
            "mode" => "list, lpush, rpush, channel, publish, stream or xadd",
            "stream-maxlen" => "a number of entries",
            "stream-trim-exact" => "yes or no",
            _ => "a value",
        }
    }

    fn finish(self, ap: &mut Applier<'_>) {
        if !self.filetype {
            for k in self.given {
                ap.unused.push(format!("{k} (filetype is not redis)"));
            }
            return;
        }
        let d = RedisConfig::default();
        let server = self.server.unwrap_or_else(|| "127.0.0.1".into());
        let url = if server.starts_with('/') {
            format!("unix://{server}")
        } else if server.contains(':') {
            format!("redis://[{server}]:{}", self.port.unwrap_or(6379))
        } else {
            format!("redis://{server}:{}", self.port.unwrap_or(6379))
        };
        ap.cfg.eve.redis = Some(RedisConfig {
            url,
            key: self.key.unwrap_or(d.key),
            // Suricata's default mode is `list`.
            mode: self.mode.unwrap_or(RedisMode::List),
            maxlen: self.maxlen.unwrap_or(d.maxlen),
            trim_exact: self.trim_exact.unwrap_or(d.trim_exact),
            ..d
        });
    }
}

/// Turns one EVE event type on or off; types Meerkat does not write are
/// reported as unused.
fn set_type(ap: &mut Applier<'_>, ty: &str, on: bool, key: &str) {
    let t = &mut ap.cfg.eve.types;
    match ty {
        "ssh" => t.ssh = on,
        "tls" => t.tls = on,
        "alert" => t.alert = on,
        "drop" => t.drop = on,
        "flow" => t.flow = on,
        "stats" => t.stats = on,
        "anomaly" => t.anomaly = on,
        "netflow" => t.netflow = on,
        "dns" => t.dns = on,
        _ => ap.unused.push(format!("{key} {ty}")),
    }
}

fn non_empty(v: &str) -> Option<&str> {
    let v = v.trim();
    (!v.is_empty()).then_some(v)
}

/// Suricata's booleans (`ConfValIsTrue` / `ConfValIsFalse`).
pub fn parse_bool(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "yes" | "true" | "on" | "1" | "enable" | "enabled" => Some(true),
        "no" | "false" | "off" | "0" | "disable" | "disabled" => Some(false),
        _ => None,
    }
}

/// Suricata's sizes: a number with an optional `kb`/`mb`/`gb` suffix
/// (powers of 1024, any case).
pub fn parse_size(v: &str) -> Option<usize> {
    let t = v.trim().to_ascii_lowercase();
    let (num, mult) = [
        ("kib", 1usize << 10),
        ("mib", 1 << 20),
        ("gib", 1 << 30),
        ("kb", 1 << 10),
        ("mb", 1 << 20),
        ("gb", 1 << 30),
        ("k", 1 << 10),
        ("m", 1 << 20),
        ("g", 1 << 30),
        ("b", 1),
    ]
    .iter()
    .find_map(|(suf, m)| t.strip_suffix(suf).map(|n| (n.trim(), *m)))
    .unwrap_or((t.as_str(), 1));
    if let Ok(n) = num.parse::<usize>() {
        return n.checked_mul(mult);
    }
    let f = num
        .parse::<f64>()
        .ok()
        .filter(|f| f.is_finite() && *f >= 0.0)?;
    Some((f * mult as f64) as usize)
}

/// Seconds (Suricata's timeouts are plain numbers).
fn parse_secs(v: &str) -> Option<Duration> {
    let t = v.trim();
    match t.parse::<u64>() {
        Ok(s) => Some(Duration::from_secs(s)),
        Err(_) => meerkat_shared::duration::parse_duration(t).ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply(pairs: &[(&str, &str)]) -> (SensorConfig, Unused) {
        let mut s = Settings::default();
        for (k, v) in pairs {
            s.insert(k, v, Origin::Set);
        }
        let mut cfg = SensorConfig::default();
        let unused = s.apply(&mut cfg).unwrap();
        (cfg, unused)
    }

    #[test]
    fn values() {
        assert_eq!(parse_size("1mb"), Some(1 << 20));
        assert_eq!(parse_size("64KB"), Some(64 << 10));
        assert_eq!(parse_size("50"), Some(50));
        assert_eq!(parse_size("0"), Some(0));
        assert_eq!(parse_size("1.5mb"), Some(3 << 19));
        assert_eq!(parse_size("lots"), None);
        assert_eq!(parse_bool("Yes"), Some(true));
        assert_eq!(parse_bool("off"), Some(false));
        assert_eq!(parse_bool("maybe"), None);
    }

    #[test]
    fn stream_app_layer_vars() {
        let (cfg, unused) = apply(&[
            ("stream.midstream", "true"),
            ("stream.reassembly.depth", "50"),
            ("stream.inline", "auto"),
            ("stream.bypass", "yes"),
            ("stream.midstream-policy", "drop-flow"),
            ("app-layer.protocols.ssh.hassh", "no"),
            ("app-layer.protocols.http.enabled", "no"),
            ("vars.address-groups.HOME_NET", "[1.2.3.0/24]"),
            ("vars.port-groups.SSH_PORTS", "2222"),
            ("flow-timeouts.tcp.established", "60"),
            ("pcap-file.checksum-checks", "no"),
        ]);
        assert!(cfg.stream.midstream && cfg.stream.bypass);
        assert_eq!(cfg.stream.depth, 50);
        assert_eq!(cfg.stream.inline, None);
        assert_eq!(cfg.stream.midstream_policy, ExceptionPolicy::DropFlow);
        assert!(!cfg.app_layer.ssh.hassh);
        assert_eq!(cfg.vars.address["HOME_NET"], "[1.2.3.0/24]");
        assert_eq!(cfg.vars.port["SSH_PORTS"], "2222");
        assert_eq!(cfg.flow.timeout_established, Duration::from_secs(60));
        assert_eq!(cfg.pcap.checksum_checks, ChecksumMode::None);
        assert_eq!(unused.keys, vec!["app-layer.protocols.http.enabled"]);
    }

    #[test]
    fn bad_values_name_key_and_origin() {
        let mut s = Settings::default();
        s.insert(
            "stream.reassembly.depth",
            "deep",
            Origin::File {
                path: "s.yaml".into(),
                line: 7,
            },
        );
        s.insert("stream.midstream", "perhaps", Origin::Set);
        let errs = s.apply(&mut SensorConfig::default()).unwrap_err();
        assert_eq!(errs.len(), 2);
        let text: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
        assert!(text
            .iter()
            .any(|t| t.starts_with("s.yaml:7: stream.reassembly.depth")));
        assert!(text.iter().any(|t| t.contains("--set: stream.midstream")));
        assert!(s.insert_set_arg("nonsense").is_err());
    }

    #[test]
    fn eve_types_are_exactly_the_listed_ones() {
        let (cfg, unused) = apply(&[
            ("outputs.0", "fast"),
            ("outputs.0.fast.enabled", "yes"),
            ("outputs.1", "eve-log"),
            ("outputs.1.eve-log.enabled", "yes"),
            ("outputs.1.eve-log.filename", "eve.json"),
            ("outputs.1.eve-log.types.0", "alert"),
            ("outputs.1.eve-log.types.0.alert.payload", "yes"),
            ("outputs.1.eve-log.types.1", "http"),
            ("outputs.1.eve-log.types.2", "flow"),
            ("outputs.1.eve-log.types.2.flow.enabled", "no"),
            ("outputs.1.eve-log.types.3", "stats"),
        ]);
        let t = &cfg.eve.types;
        assert!(t.alert && t.stats && !t.flow && !t.ssh && !t.drop && !t.anomaly);
        assert!(cfg.eve.alert.payload);
        assert!(cfg.fast.enabled);
        assert_eq!(unused.keys, vec!["outputs.1.eve-log.types http"]);
    }

    /// Further eve-log outputs keep their own file, types and dns options
    /// (suricata-verify's dns-eve-type-filtering, output-multi-eve).
    #[test]
    fn several_eve_log_outputs() {
        let (cfg, unused) = apply(&[
            ("outputs.0", "eve-log"),
            ("outputs.0.eve-log.filename", "all.json"),
            ("outputs.0.eve-log.types.0", "dns"),
            ("outputs.1", "eve-log"),
            ("outputs.1.eve-log.enabled", "yes"),
            ("outputs.1.eve-log.filename", "mx.json"),
            ("outputs.1.eve-log.types.0", "dns"),
            ("outputs.1.eve-log.types.0.dns.requests", "no"),
            ("outputs.1.eve-log.types.0.dns.types.0", "mx"),
            ("outputs.2", "eve-log"),
            ("outputs.2.eve-log.filename", "off.json"),
            ("outputs.2.eve-log.enabled", "no"),
            ("outputs.2.eve-log.types.0", "flow"),
        ]);
        assert_eq!(cfg.eve.filename, "all.json");
        assert!(cfg.eve.types.dns && !cfg.eve.types.alert);
        assert!(cfg.eve.dns.requests);
        assert_eq!(cfg.eve.extra.len(), 1, "a disabled output is left out");
        let x = &cfg.eve.extra[0];
        assert_eq!(x.filename, "mx.json");
        assert!(x.types.dns && !x.types.flow && !x.types.alert);
        assert!(!x.dns.requests && x.dns.responses);
        assert_eq!(x.dns.types, Some(vec!["mx".to_string()]));
        assert!(unused.keys.is_empty(), "{:?}", unused.keys);
    }

    #[test]
    fn tls_store_output() {
        let (cfg, unused) = apply(&[
            ("outputs.0", "tls-store"),
            ("outputs.0.tls-store.enabled", "yes"),
            ("outputs.0.tls-store.certs-log-dir", "certs"),
        ]);
        assert!(cfg.tls_store.enabled);
        assert_eq!(cfg.tls_store.certs_log_dir, "certs");
        assert!(unused.keys.is_empty(), "{:?}", unused.keys);
        let (cfg, _) = apply(&[("outputs.0", "tls-store")]);
        assert!(!cfg.tls_store.enabled, "off unless enabled, as Suricata");
    }

    #[test]
    fn sensor_name_and_redis_output() {
        let (cfg, unused) = apply(&[
            ("sensor-name", "gw-7"),
            ("outputs.0", "eve-log"),
            ("outputs.0.eve-log.filetype", "redis"),
            ("outputs.0.eve-log.redis.server", "192.0.2.5"),
            ("outputs.0.eve-log.redis.port", "6380"),
            ("outputs.0.eve-log.redis.mode", "xadd"),
            ("outputs.0.eve-log.redis.key", "eve"),
            ("outputs.0.eve-log.redis.stream-maxlen", "5000"),
            ("outputs.0.eve-log.redis.async", "yes"),
            ("outputs.0.eve-log.redis.pipelining.enabled", "yes"),
            ("outputs.0.eve-log.redis.pipelining.batch-size", "10"),
        ]);
        assert_eq!(cfg.eve.sensor_name.as_deref(), Some("gw-7"));
        let r = cfg.eve.redis.unwrap();
        assert_eq!(r.url, "redis://192.0.2.5:6380");
        assert_eq!(r.mode, RedisMode::Stream);
        assert_eq!(r.key, "eve");
        assert_eq!(r.maxlen, 5000);
        assert!(unused.keys.is_empty(), "{unused:?}");
        // Suricata's defaults: 127.0.0.1:6379, list mode, key suricata.
        let (cfg, _) = apply(&[
            ("outputs.0", "eve-log"),
            ("outputs.0.eve-log.filetype", "redis"),
        ]);
        let r = cfg.eve.redis.unwrap();
        assert_eq!(r.url, "redis://127.0.0.1:6379");
        assert_eq!((r.mode, r.key.as_str()), (RedisMode::List, "suricata"));
        // Redis settings of a regular output are not used.
        let (cfg, unused) = apply(&[
            ("outputs.0", "eve-log"),
            ("outputs.0.eve-log.filetype", "regular"),
            ("outputs.0.eve-log.redis.server", "/run/redis.sock"),
        ]);
        assert!(cfg.eve.redis.is_none());
        assert_eq!(unused.keys.len(), 1, "{unused:?}");
        let mut s = Settings::default();
        s.insert("outputs.0.eve-log.redis.mode", "queue", Origin::Set);
        let errs = s.apply(&mut SensorConfig::default()).unwrap_err();
        assert!(errs[0].to_string().contains("redis.mode"), "{errs:?}");
    }

    #[test]
    fn one_anomaly_logger_only() {
        let mut s = Settings::default();
        for (k, v) in [
            ("outputs.0", "eve-log"),
            ("outputs.0.eve-log.types.0", "anomaly"),
            ("outputs.1", "eve-log"),
            ("outputs.1.eve-log.types.0", "anomaly"),
        ] {
            s.insert(k, v, Origin::Set);
        }
        let errs = s.apply(&mut SensorConfig::default()).unwrap_err();
        assert!(
            errs[0].to_string().contains("only one 'anomaly' logger"),
            "{errs:?}"
        );
    }

    #[test]
    fn rule_files_in_index_order() {
        let (cfg, _) = apply(&[
            ("default-rule-path", "/r"),
            ("rule-files.1", "b.rules"),
            ("rule-files.0", "a.rules"),
            ("rule-files.10", "c.rules"),
        ]);
        assert_eq!(cfg.detect.rule_path, Some(PathBuf::from("/r")));
        assert_eq!(cfg.detect.rule_files, vec!["a.rules", "b.rules", "c.rules"]);
    }
}
