//! Sensor configuration: Meerkat's TOML or a Suricata YAML file (told apart
//! by content), then `--set` overrides under Suricata's names. Every
//! setting has a built-in default, so `-c` is optional. In TOML, unknown
//! keys are errors with file:line:col; in YAML, the keys Meerkat has no use
//! for are listed once as ignored (an operator's suricata.yaml has many).

pub mod keys;
pub mod yaml;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::capture::{NflogConfig, NfqConfig};
use crate::flow::FlowConfig;
use crate::output::eve::EveConfig;
use crate::stream::StreamConfig;

/// The whole configuration file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SensorConfig {
    /// Address and port variables for rules (`$HOME_NET`, `$SSH_PORTS`).
    pub vars: VarsConfig,
    /// NFQUEUE (IPS) options.
    pub nfqueue: NfqConfig,
    /// NFLOG (IDS) options.
    pub nflog: NflogConfig,
    /// Flow table: size and timeouts.
    pub flow: FlowConfig,
    /// TCP reassembly.
    pub stream: StreamConfig,
    /// EVE output.
    pub eve: EveConfig,
    /// What the IPS path does in situations the rules don't decide.
    pub ips: IpsConfig,
    /// Rule files and the detection engine's side files.
    pub detect: DetectConfig,
    /// Application-layer parsers.
    pub app_layer: AppLayerConfig,
    /// Offline (pcap file) reading.
    pub pcap: PcapConfig,
    /// The one-line-per-alert `fast.log`.
    pub fast: FastConfig,
    /// Certificates of TLS flows that matched a `tls.store` rule.
    pub tls_store: TlsStoreConfig,
    /// The engine's own log file (Suricata's `logging.outputs.N.file`).
    pub engine_log: EngineLogConfig,
    /// Log directory (Suricata's `default-log-dir`); `-l` overrides it.
    /// Default `/var/log/meerkat`.
    pub log_dir: Option<PathBuf>,
}

/// `[engine_log]`: the sensor's messages also written to a file in the log
/// directory (Suricata's `logging.outputs.N.file`). Off by default (the
/// messages go to stderr / the journal).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct EngineLogConfig {
    pub enabled: bool,
    /// File name inside the log directory.
    pub filename: String,
    /// JSON lines in Suricata's `engine` event format instead of text.
    pub json: bool,
    /// Suricata's level threshold: error, warning, notice, info, debug.
    pub level: String,
}

impl Default for EngineLogConfig {
    fn default() -> Self {
        EngineLogConfig {
            enabled: false,
            filename: "meerkat.log".into(),
            json: false,
            level: "notice".into(),
        }
    }
}

/// `[detect]`: where rules come from (Suricata's `default-rule-path`,
/// `rule-files`, `classification-file`, `reference-config-file`,
/// `threshold-file`). `-S` on the command line replaces `rule_files`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct DetectConfig {
    /// Directory that relative `rule_files` are taken from (relative to
    /// the working directory when itself relative).
    pub rule_path: Option<PathBuf>,
    /// Rule files loaded when no `-S` is given.
    pub rule_files: Vec<String>,
    /// Suricata `classification.config` for `classtype:`. Default: the
    /// built-in table of Suricata's classtypes. NOT YET READ by the
    /// detection engine (it uses the built-in table).
    pub classification_file: Option<PathBuf>,
    /// Suricata `reference.config` (`reference:` prefixes). NOT YET READ.
    pub reference_file: Option<PathBuf>,
    /// Suricata `threshold.config` (threshold/event_filter, suppress,
    /// rate_filter; see `detect::threshold::config`). Default: Suricata's
    /// `/etc/suricata/threshold.config` when it exists.
    pub threshold_file: Option<PathBuf>,
    /// Suricata's `action-order`: in which order matching rules of each
    /// action apply (default `["pass", "drop", "reject", "alert"]`).
    pub action_order: crate::action::ActionOrder,
}

impl DetectConfig {
    /// The rule files of the configuration, relative ones joined to
    /// `rule_path`.
    pub fn rule_paths(&self) -> Vec<PathBuf> {
        self.rule_files
            .iter()
            .map(|f| match &self.rule_path {
                Some(dir) if Path::new(f).is_relative() => dir.join(f),
                _ => PathBuf::from(f),
            })
            .collect()
    }
}

/// `[app_layer]`: application-layer protocols (Suricata's
/// `app-layer.protocols.*`). Meerkat parses SSH only.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct AppLayerConfig {
    pub ssh: SshAppConfig,
    pub dns: crate::app::dns::DnsAppConfig,
    pub tls: TlsAppConfig,
}

/// `[app_layer.tls]`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct TlsAppConfig {
    /// JA3/JA3S in EVE (`app-layer.protocols.tls.ja3-fingerprints`):
    /// `Some(true)`/`Some(false)`, or `None` for Suricata's `auto` (on
    /// when a rule uses a JA3 keyword). Always computed for rules.
    pub ja3_fingerprints: Option<bool>,
    /// What happens once application data is seen
    /// (`app-layer.protocols.tls.encryption-handling`; Suricata 7 also
    /// reads the older `encrypt-handling`).
    pub encryption_handling: SshEncryptionHandling,
}

impl Default for TlsAppConfig {
    fn default() -> Self {
        TlsAppConfig {
            ja3_fingerprints: None,
            encryption_handling: SshEncryptionHandling::TrackOnly,
        }
    }
}

/// `[app_layer.ssh]`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct SshAppConfig {
    /// Parse SSH (`app-layer.protocols.ssh.enabled`). NOT YET WIRED: the
    /// app layer always parses SSH.
    pub enabled: bool,
    /// Compute HASSH and add `hassh` objects to `ssh` events
    /// (`app-layer.protocols.ssh.hassh`). On by default, unlike Suricata 7.
    pub hassh: bool,
    /// What happens once the session is encrypted
    /// (`app-layer.protocols.ssh.encryption-handling`).
    pub encryption_handling: SshEncryptionHandling,
}

impl Default for SshAppConfig {
    fn default() -> Self {
        SshAppConfig {
            enabled: true,
            hassh: true,
            encryption_handling: SshEncryptionHandling::TrackOnly,
        }
    }
}

/// Suricata's SSH `encryption-handling`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SshEncryptionHandling {
    /// Keep tracking the flow, don't inspect the encrypted part with SSH
    /// keywords (Suricata's default).
    TrackOnly,
    /// Bypass the flow once encrypted (`flow.state: bypassed`).
    Bypass,
    /// Keep inspecting the encrypted data with content rules.
    Full,
}

impl SshEncryptionHandling {
    /// Suricata's spelling (`default` = `track-only`).
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "default" | "track-only" => Some(SshEncryptionHandling::TrackOnly),
            "bypass" => Some(SshEncryptionHandling::Bypass),
            "full" => Some(SshEncryptionHandling::Full),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SshEncryptionHandling::TrackOnly => "track-only",
            SshEncryptionHandling::Bypass => "bypass",
            SshEncryptionHandling::Full => "full",
        }
    }
}

/// `[pcap]`: offline reading (Suricata's `pcap-file`).
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct PcapConfig {
    /// Checksum validation of pcap packets (`pcap-file.checksum-checks`,
    /// `-k`). NOT YET WIRED into decode/stream.
    pub checksum_checks: ChecksumMode,
}

/// Checksum validation, as Suricata's `-k` and `checksum-checks`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChecksumMode {
    /// Validate: packets with a bad checksum are invalid (not reassembled,
    /// not matched by stream rules).
    All,
    /// Don't validate.
    None,
    /// Validate unless checksums look offloaded (Suricata's default for
    /// pcap files); Meerkat treats checksums the kernel marks as not yet
    /// filled in as unknown.
    #[default]
    Auto,
}

impl ChecksumMode {
    /// `-k` and `checksum-checks` spellings.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "all" | "yes" => Some(ChecksumMode::All),
            "none" | "no" => Some(ChecksumMode::None),
            "auto" => Some(ChecksumMode::Auto),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ChecksumMode::All => "yes",
            ChecksumMode::None => "no",
            ChecksumMode::Auto => "auto",
        }
    }
}

/// `[fast]`: Suricata's `fast.log` (`outputs.N.fast`), one line per alert
/// (see `output::fast`). Off by default in Meerkat's TOML; a Suricata YAML
/// turns it on as Suricata's does.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct FastConfig {
    pub enabled: bool,
    /// File name inside the log directory.
    pub filename: String,
}

impl Default for FastConfig {
    fn default() -> Self {
        FastConfig {
            enabled: false,
            filename: "fast.log".into(),
        }
    }
}

/// `[tls_store]`: Suricata's `tls-store` output (`outputs.N.tls-store`):
/// the server certificates of a TLS flow on which a `tls.store` rule
/// matched, as `<secs>.<usecs>-<n>.pem` plus a `.meta` file (see
/// `output::tls_store`). Off by default, as in Suricata.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct TlsStoreConfig {
    pub enabled: bool,
    /// `certs-log-dir`: relative to the log directory; empty = the log
    /// directory itself.
    pub certs_log_dir: String,
}

/// `[vars.address]` and `[vars.port]`. Entries given here replace the
/// built-in defaults of the same name; the rest stay.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VarsConfig {
    pub address: BTreeMap<String, String>,
    pub port: BTreeMap<String, String>,
}

impl Default for VarsConfig {
    /// Suricata's default address and port groups.
    fn default() -> Self {
        let d = crate::detect::Vars::default();
        VarsConfig {
            address: d.address.into_iter().collect(),
            port: d.port.into_iter().collect(),
        }
    }
}

/// `[ips]`: policies for IPS packets.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IpsConfig {
    /// Drop IPS packets whose copy is shorter than the original (the kernel
    /// would forward bytes the sensor never saw; happens with BIG TCP, see
    /// README). `false` inspects what was copied and accepts.
    pub drop_truncated: bool,
    /// Accept (true) or drop (false) IPS packets when the flow table is
    /// full and nothing can be evicted.
    pub accept_on_flow_memcap: bool,
}

impl Default for IpsConfig {
    fn default() -> Self {
        IpsConfig {
            drop_truncated: true,
            accept_on_flow_memcap: true,
        }
    }
}

/// A configuration error with the file and line it came from.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}:{line}:{col}: {message}")]
    Parse {
        path: String,
        line: usize,
        col: usize,
        message: String,
    },
    #[error("{}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n"))]
    Settings(Vec<keys::SettingError>),
}

/// The file format of a configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Toml,
    SuricataYaml,
}

/// A configuration as loaded: the settings, and what of the file Meerkat
/// did not use (YAML keys without a Meerkat setting, `--set` keys).
#[derive(Debug, Clone)]
pub struct Loaded {
    pub config: SensorConfig,
    pub format: Format,
    /// YAML keys Meerkat has no setting for (listed once at start-up).
    pub ignored: Vec<String>,
    /// `--set` keys Meerkat has no setting for (a warning each).
    pub unknown_set: Vec<String>,
}

impl SensorConfig {
    /// Loads a TOML or Suricata YAML file (`None`: the built-in defaults),
    /// then applies `--set KEY=VALUE` arguments under Suricata's names.
    pub fn load_with_sets(path: Option<&Path>, sets: &[String]) -> Result<Loaded, ConfigError> {
        let (text, origin) = match path {
            Some(p) => (
                std::fs::read_to_string(p).map_err(|source| ConfigError::Read {
                    path: p.display().to_string(),
                    source,
                })?,
                p.display().to_string(),
            ),
            None => (String::new(), "built-in defaults".to_string()),
        };
        let mut settings = keys::Settings::default();
        let format = if yaml::looks_like_yaml(&text) {
            Format::SuricataYaml
        } else {
            Format::Toml
        };
        let mut cfg = match format {
            Format::Toml => SensorConfig::parse(&text, &origin)?,
            Format::SuricataYaml => {
                let base = path
                    .and_then(Path::parent)
                    .map(Path::to_path_buf)
                    .unwrap_or_default();
                let entries = flatten_yaml(&text, &origin, &base)?;
                for f in entries {
                    let o = keys::Origin::File {
                        path: f.file,
                        line: f.entry.line,
                    };
                    settings.insert(&f.entry.key, &f.entry.value, o);
                }
                SensorConfig::parse("", &origin)?
            }
        };
        let ignored = settings
            .apply(&mut cfg)
            .map_err(ConfigError::Settings)?
            .keys;
        let mut set = keys::Settings::default();
        let mut errors = Vec::new();
        for arg in sets {
            if let Err(e) = set.insert_set_arg(arg) {
                errors.push(e);
            }
        }
        let unknown_set = match set.apply(&mut cfg) {
            Ok(u) => u.keys,
            Err(e) => {
                errors.extend(e);
                Vec::new()
            }
        };
        if !errors.is_empty() {
            return Err(ConfigError::Settings(errors));
        }
        Ok(Loaded {
            config: cfg,
            format,
            ignored,
            unknown_set,
        })
    }

    /// `--dump-config`: for a Suricata YAML file, its settings as Suricata
    /// prints them (every key of the file and its includes, then `--set`,
    /// whether Meerkat uses it or not, and without judging values: the
    /// test suite reads this for every test); for TOML or no file, the
    /// effective configuration under Suricata's names ([`Self::dump`]).
    pub fn dump_config(path: Option<&Path>, sets: &[String]) -> Result<String, ConfigError> {
        let yaml_text = match path {
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|source| ConfigError::Read {
                    path: p.display().to_string(),
                    source,
                })?;
                yaml::looks_like_yaml(&text).then_some((p, text))
            }
            None => None,
        };
        let Some((p, text)) = yaml_text else {
            return Ok(SensorConfig::load_with_sets(path, sets)?.config.dump());
        };
        let origin = p.display().to_string();
        let base = p.parent().map(Path::to_path_buf).unwrap_or_default();
        let entries = flatten_yaml(&text, &origin, &base)?;
        let mut settings = keys::Settings::default();
        for f in entries {
            settings.insert(&f.entry.key, &f.entry.value, keys::Origin::Set);
        }
        for arg in sets {
            settings
                .insert_set_arg(arg)
                .map_err(|e| ConfigError::Settings(vec![e]))?;
        }
        let mut out = String::new();
        for (k, v) in settings.iter() {
            out.push_str(k);
            out.push_str(" = ");
            out.push_str(v);
            out.push('\n');
        }
        Ok(out)
    }

    /// The effective configuration under Suricata's names, one
    /// `key = value` per line (`--dump-config` of a TOML configuration).
    pub fn dump(&self) -> String {
        let mut out = Vec::<(String, String)>::new();
        let mut put = |k: &str, v: String| out.push((k.to_string(), v));
        let yn = |b: bool| if b { "yes" } else { "no" }.to_string();
        for (k, v) in &self.vars.address {
            put(&format!("vars.address-groups.{k}"), v.clone());
        }
        for (k, v) in &self.vars.port {
            put(&format!("vars.port-groups.{k}"), v.clone());
        }
        if let Some(d) = &self.log_dir {
            put("default-log-dir", d.display().to_string());
        }
        if let Some(n) = &self.eve.sensor_name {
            put("sensor-name", n.clone());
        }
        if let Some(p) = &self.detect.rule_path {
            put("default-rule-path", p.display().to_string());
        }
        for (i, f) in self.detect.rule_files.iter().enumerate() {
            put(&format!("rule-files.{i}"), f.clone());
        }
        for (i, a) in self.detect.action_order.names().iter().enumerate() {
            put(&format!("action-order.{i}"), a.to_string());
        }
        for (k, v) in [
            ("classification-file", &self.detect.classification_file),
            ("reference-config-file", &self.detect.reference_file),
            ("threshold-file", &self.detect.threshold_file),
        ] {
            if let Some(v) = v {
                put(k, v.display().to_string());
            }
        }
        let st = &self.stream;
        put("stream.memcap", st.memcap.to_string());
        put("stream.midstream", st.midstream.to_string());
        put(
            "stream.midstream-policy",
            st.midstream_policy.as_str().into(),
        );
        put(
            "stream.inline",
            match st.inline {
                None => "auto".into(),
                Some(b) => yn(b),
            },
        );
        put("stream.bypass", yn(st.bypass));
        put("stream.checksum-validation", yn(st.checksum_validation));
        put("stream.async-oneside", st.async_oneside.to_string());
        put("stream.reassembly.depth", st.depth.to_string());
        let fl = &self.flow;
        put("flow.memcap", fl.memcap_bytes.to_string());
        put(
            "flow-timeouts.tcp.new",
            fl.timeout_new.as_secs().to_string(),
        );
        put(
            "flow-timeouts.tcp.established",
            fl.timeout_established.as_secs().to_string(),
        );
        put(
            "flow-timeouts.tcp.closed",
            fl.timeout_closed.as_secs().to_string(),
        );
        put(
            "flow-timeouts.udp.established",
            fl.timeout_udp.as_secs().to_string(),
        );
        put(
            "flow-timeouts.icmp.established",
            fl.timeout_icmp.as_secs().to_string(),
        );
        let ssh = &self.app_layer.ssh;
        put("app-layer.protocols.ssh.enabled", yn(ssh.enabled));
        put("app-layer.protocols.ssh.hassh", yn(ssh.hassh));
        let tls = &self.app_layer.tls;
        put(
            "app-layer.protocols.tls.ja3-fingerprints",
            match tls.ja3_fingerprints {
                Some(on) => yn(on),
                None => "auto".into(),
            },
        );
        put(
            "app-layer.protocols.tls.encryption-handling",
            tls.encryption_handling.as_str().into(),
        );
        put(
            "app-layer.protocols.ssh.encryption-handling",
            ssh.encryption_handling.as_str().into(),
        );
        put(
            "pcap-file.checksum-checks",
            self.pcap.checksum_checks.as_str().into(),
        );
        put("stats.enabled", yn(self.eve.types.stats));
        put(
            "stats.interval",
            self.eve.stats_interval.as_secs().to_string(),
        );
        put("outputs.0", "fast".into());
        put("outputs.0.fast.enabled", yn(self.fast.enabled));
        put("outputs.0.fast.filename", self.fast.filename.clone());
        put("outputs.2", "tls-store".into());
        put("outputs.2.tls-store.enabled", yn(self.tls_store.enabled));
        put(
            "outputs.2.tls-store.certs-log-dir",
            self.tls_store.certs_log_dir.clone(),
        );
        put("outputs.1", "eve-log".into());
        put("outputs.1.eve-log.enabled", "yes".into());
        put("outputs.1.eve-log.filename", self.eve.filename.clone());
        put("outputs.1.eve-log.community-id", yn(self.eve.community_id));
        if let Some(r) = &self.eve.redis {
            // Meerkat sends to Redis in addition to the file; the URL is
            // Meerkat's way of giving server and port.
            put("outputs.1.eve-log.filetype", "redis".into());
            put("outputs.1.eve-log.redis.server", r.url_redacted());
            put("outputs.1.eve-log.redis.mode", r.mode.as_str().into());
            put("outputs.1.eve-log.redis.key", r.key.clone());
            put(
                "outputs.1.eve-log.redis.stream-maxlen",
                r.maxlen.to_string(),
            );
            put(
                "outputs.1.eve-log.redis.stream-trim-exact",
                yn(r.trim_exact),
            );
        }
        let t = &self.eve.types;
        let types = [
            ("alert", t.alert),
            ("anomaly", t.anomaly),
            ("drop", t.drop),
            ("ssh", t.ssh),
            ("flow", t.flow),
            ("stats", t.stats),
            ("netflow", t.netflow),
        ];
        for (i, (name, _)) in types.iter().filter(|(_, on)| *on).enumerate() {
            put(&format!("outputs.1.eve-log.types.{i}"), name.to_string());
            if *name == "alert" {
                let a = &self.eve.alert;
                let p = format!("outputs.1.eve-log.types.{i}.alert");
                put(&format!("{p}.payload"), yn(a.payload));
                put(&format!("{p}.payload-printable"), yn(a.payload_printable));
                put(&format!("{p}.packet"), yn(a.packet));
                put(&format!("{p}.metadata"), yn(a.metadata));
            }
        }
        let mut s = String::new();
        for (k, v) in out {
            s.push_str(&k);
            s.push_str(" = ");
            s.push_str(&v);
            s.push('\n');
        }
        s
    }

    /// Checks combinations of settings Suricata refuses at start-up, given
    /// whether any packet source is IPS (NFQUEUE, `--simulate-ips`).
    /// Messages are Suricata's.
    pub fn validate(&self, ips: bool) -> Result<(), String> {
        use crate::stream::ExceptionPolicy as P;
        if let Some(r) = &self.eve.redis {
            r.check().map_err(|e| e.to_string())?;
        }
        let p = self.stream.midstream_policy;
        let bad = |why: &str| Err(format!("stream.midstream-policy: \"{}\" {why}", p.as_str()));
        if self.stream.midstream {
            if !matches!(p, P::Auto | P::PassFlow | P::Ignore) {
                return bad("is not a valid exception policy when midstream is enabled; valid are pass-flow and ignore");
            }
        } else {
            match p {
                P::DropPacket | P::PassPacket => {
                    return bad("is not valid for this exception policy (a midstream session is a flow, not a packet)")
                }
                P::DropFlow if !ips => {
                    return bad("is not a valid exception policy in IDS mode")
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Loads and validates a config file.
    pub fn load(path: &Path) -> Result<SensorConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        SensorConfig::parse(&text, &path.display().to_string())
    }

    /// Parses config text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<SensorConfig, ConfigError> {
        let mut cfg: SensorConfig = toml::from_str(text).map_err(|e| {
            let (line, col) = e
                .span()
                .map(|s| meerkat_shared::text::line_col(text, s.start))
                .unwrap_or((1, 1));
            ConfigError::Parse {
                path: origin.to_string(),
                line,
                col,
                message: e.message().to_string(),
            }
        })?;
        // Variables given in the file are merged over the defaults.
        let defaults = VarsConfig::default();
        for (k, v) in defaults.address {
            cfg.vars.address.entry(k).or_insert(v);
        }
        for (k, v) in defaults.port {
            cfg.vars.port.entry(k).or_insert(v);
        }
        Ok(cfg)
    }
}

/// A Suricata YAML file and its includes as flat entries; a syntax error
/// names the file, line and column.
fn flatten_yaml(
    text: &str,
    origin: &str,
    base: &Path,
) -> Result<Vec<yaml::FileEntry>, ConfigError> {
    yaml::flatten_with_includes(text, origin, base).map_err(|(file, e)| ConfigError::Parse {
        path: file,
        line: e.line,
        col: e.col,
        message: format!("not valid YAML: {}", e.message),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_config_has_defaults() {
        let cfg = SensorConfig::parse("", "t").unwrap();
        assert_eq!(
            cfg.vars.port.get("SSH_PORTS").map(String::as_str),
            Some("22")
        );
        assert!(cfg.ips.drop_truncated);
    }

    #[test]
    fn file_vars_override_defaults() {
        let cfg =
            SensorConfig::parse("[vars.address]\nHOME_NET = \"[203.0.113.0/24]\"\n", "t").unwrap();
        assert_eq!(cfg.vars.address["HOME_NET"], "[203.0.113.0/24]");
        assert_eq!(cfg.vars.address["EXTERNAL_NET"], "!$HOME_NET");
    }

    #[test]
    fn suricata_yaml_is_read_and_rest_listed() {
        let dir = std::env::temp_dir().join(format!("meerkat-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("suricata.yaml");
        std::fs::write(
            &p,
            "%YAML 1.1\n---\nvars:\n  address-groups:\n    HOME_NET: \"[10.1.0.0/16]\"\n\
             default-rule-path: /etc/r\nrule-files:\n  - a.rules\n\
             outputs:\n  - eve-log:\n      enabled: yes\n      types:\n        - alert\n        - dns\n\
             app-layer:\n  protocols:\n    ssh:\n      enabled: yes\n    tls:\n      enabled: yes\n\
             stream:\n  reassembly:\n    depth: 1mb\n",
        )
        .unwrap();
        let sets = vec![
            "stream.midstream=true".to_string(),
            "no.such.key=1".to_string(),
        ];
        let l = SensorConfig::load_with_sets(Some(&p), &sets).unwrap();
        assert_eq!(l.format, Format::SuricataYaml);
        let c = &l.config;
        assert_eq!(c.vars.address["HOME_NET"], "[10.1.0.0/16]");
        assert_eq!(c.vars.address["EXTERNAL_NET"], "!$HOME_NET");
        assert_eq!(c.detect.rule_paths(), vec![PathBuf::from("/etc/r/a.rules")]);
        assert!(c.eve.types.alert && !c.eve.types.flow);
        assert_eq!(c.stream.depth, 1 << 20);
        assert!(c.stream.midstream);
        assert!(c.eve.types.dns);
        assert_eq!(
            l.ignored,
            vec!["app-layer.protocols.tls.enabled".to_string()]
        );
        assert_eq!(l.unknown_set, vec!["no.such.key".to_string()]);
        let dump = c.dump();
        assert!(dump.contains("stream.midstream = true\n"), "{dump}");
        let raw = SensorConfig::dump_config(Some(&p), &sets).unwrap();
        assert!(
            raw.contains("app-layer.protocols.tls.enabled = yes\n"),
            "{raw}"
        );
        assert!(raw.contains("no.such.key = 1\n"), "{raw}");
        assert!(dump.contains("vars.address-groups.HOME_NET = [10.1.0.0/16]\n"));
        std::fs::write(
            &p,
            "%YAML 1.1\n---\nstream:\n  reassembly:\n    depth: deep\n",
        )
        .unwrap();
        let err = SensorConfig::load_with_sets(Some(&p), &[])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("suricata.yaml:5: stream.reassembly.depth"),
            "{err}"
        );
        std::fs::write(&p, "%YAML 1.1\n---\nstream: [\n").unwrap();
        let err = SensorConfig::load_with_sets(Some(&p), &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("not valid YAML"), "{err}");
        let err = SensorConfig::load_with_sets(None, &["x".into()])
            .unwrap_err()
            .to_string();
        assert!(err.contains("expected KEY=VALUE"), "{err}");
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn midstream_policy_combinations_as_suricata() {
        use crate::stream::ExceptionPolicy as P;
        let cfg = |midstream, policy| {
            let mut c = SensorConfig::default();
            c.stream.midstream = midstream;
            c.stream.midstream_policy = policy;
            c
        };
        assert!(cfg(true, P::Ignore).validate(false).is_ok());
        assert!(cfg(true, P::PassFlow).validate(true).is_ok());
        assert!(cfg(true, P::Bypass).validate(false).is_err());
        assert!(cfg(true, P::DropFlow).validate(true).is_err());
        assert!(cfg(false, P::DropFlow).validate(false).is_err());
        assert!(cfg(false, P::DropFlow).validate(true).is_ok());
        assert!(cfg(false, P::DropPacket).validate(true).is_err());
        assert!(cfg(false, P::Bypass).validate(false).is_ok());
    }

    #[test]
    fn redis_url_is_checked_with_the_config() {
        let c = SensorConfig::parse("[eve.redis]\nurl = \"rediss://h:6380\"\n", "t").unwrap();
        let err = c.validate(true).unwrap_err();
        assert!(err.contains("eve.redis.url"), "{err}");
        let c = SensorConfig::parse(
            "[eve]\nsensor_name = \"gw-1\"\n[eve.redis]\nurl = \"unix:///run/redis.sock\"\n",
            "t",
        )
        .unwrap();
        assert!(c.validate(true).is_ok());
        assert_eq!(c.eve.sensor_name.as_deref(), Some("gw-1"));
    }

    /// Real Suricata configurations (the suite's base files and the
    /// installed suricata.yaml, when present on this machine) load without
    /// errors and leave most of their keys as ignored.
    #[test]
    fn real_suricata_yaml_files_load() {
        let suite = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../shared/reference/suricata-verify/etc");
        let mut files: Vec<PathBuf> = std::fs::read_dir(&suite)
            .map(|d| {
                d.filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
                    .collect()
            })
            .unwrap_or_default();
        let installed = Path::new("/etc/suricata/suricata.yaml");
        if installed.exists() {
            files.push(installed.to_path_buf());
        }
        if files.is_empty() {
            eprintln!("note: no Suricata YAML on this machine; nothing to check");
        }
        for f in files {
            let l = SensorConfig::load_with_sets(Some(&f), &[])
                .unwrap_or_else(|e| panic!("{}: {e}", f.display()));
            assert_eq!(l.format, Format::SuricataYaml, "{}", f.display());
            assert!(l.ignored.len() > 10, "{}: {:?}", f.display(), l.ignored);
            assert!(l.config.eve.types.alert, "{}", f.display());
            assert!(l.config.validate(false).is_ok(), "{}", f.display());
        }
    }

    #[test]
    fn default_home_net_is_suricatas() {
        let cfg = SensorConfig::parse("", "t").unwrap();
        assert_eq!(
            cfg.vars.address["HOME_NET"],
            "[192.168.0.0/16,10.0.0.0/8,172.16.0.0/12]"
        );
    }

    #[test]
    fn unknown_key_names_line() {
        let err = SensorConfig::parse("[ips]\ndrop_truncated = true\nbogus = 1\n", "s.toml")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("s.toml:3:"), "{err}");
        assert!(err.contains("bogus"), "{err}");
    }
}
