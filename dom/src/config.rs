//! Configuration: raw TOML (with spans) -> validated [`Config`].
//!
//! Every error names the file, the line and column, the rule when there is
//! one, and what is wrong with which value, e.g.
//! `dom.toml:31:9: rule "Go ssh library": bad regex "(": unclosed group`.

use std::collections::HashSet;
use std::net::IpAddr;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use meerkat_shared::duration::parse_duration;
use meerkat_shared::net::{parse_ip, IpNet, NetList};
use regex::RegexBuilder;
use serde::Deserialize;
use toml::Spanned;

use crate::backend::{BackendConfig, BackendKind};
use crate::event::FieldPath;
use crate::fleet::config::{FleetConfig, RawFleet, RawRedisInput, RedisInput};
use crate::rules::{Escalate, Matcher, Rule, Threshold};

/// Default location of the configuration file.
pub const DEFAULT_CONFIG: &str = "/etc/meerkat/dom.toml";
pub const DEFAULT_EVE: &str = "/var/log/meerkat/eve.json";
pub const DEFAULT_STATE_DIR: &str = "/var/lib/meerkat/dom";
pub const DEFAULT_SOCKET: &str = "/run/meerkat/dom.sock";

/// Why a configuration was rejected.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: cannot read the configuration: {source} (check the path given with -c)")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}:{col}: {msg}")]
    At {
        path: PathBuf,
        line: usize,
        col: usize,
        msg: String,
    },
    #[error("{path}: {msg}")]
    File { path: PathBuf, msg: String },
}

/// Where to start reading eve.json when the daemon starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartAt {
    /// Resume at the saved position (no replay, nothing skipped); with no
    /// saved position, start at the end.
    Saved,
    End,
    Beginning,
}

#[derive(Debug, Clone, PartialEq)]
pub struct InputConfig {
    pub eve: PathBuf,
    pub start_at: StartAt,
    /// Longer lines are skipped and counted.
    pub max_line: usize,
    /// Polling fallback interval (inotify is primary).
    pub poll_interval: Duration,
    /// Read EVE from a Redis stream instead of `eve`.
    pub redis: Option<RedisInput>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DaemonConfig {
    /// Addresses of this gateway that must never be banned.
    pub gateway_addresses: Vec<IpAddr>,
    /// Also never ban the addresses found on local interfaces.
    pub detect_own: bool,
    /// Override: allow banning the gateway's own addresses.
    pub allow_own: bool,
    pub reconcile_interval: Duration,
    /// Most lines handled before bans are applied and the position saved.
    pub batch_max: usize,
    /// How long a past offender is remembered for escalation.
    pub remember: Duration,
}

/// A validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub path: PathBuf,
    pub allow: NetList,
    pub home_net: NetList,
    pub input: InputConfig,
    pub state_dir: PathBuf,
    pub socket: PathBuf,
    pub daemon: DaemonConfig,
    pub backends: Vec<BackendConfig>,
    pub rules: Vec<Rule>,
    /// Sharing decisions with other gateways through Redis.
    pub fleet: Option<FleetConfig>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    allow: Vec<Spanned<String>>,
    #[serde(default)]
    home_net: Vec<Spanned<String>>,
    /// Rule packs (files with `[[rule]]` tables), relative to this file.
    #[serde(default)]
    include: Vec<Spanned<String>>,
    #[serde(default)]
    input: RawInput,
    #[serde(default)]
    state: RawState,
    #[serde(default)]
    control: RawControl,
    #[serde(default)]
    daemon: RawDaemon,
    #[serde(default)]
    backend: Vec<Spanned<BackendConfig>>,
    #[serde(default)]
    rule: Vec<Spanned<RawRule>>,
    fleet: Option<RawFleet>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPack {
    #[serde(default)]
    rule: Vec<Spanned<RawRule>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawInput {
    eve: Option<Spanned<String>>,
    redis: Option<Spanned<RawRedisInput>>,
    start_at: Option<Spanned<String>>,
    max_line: Option<Spanned<i64>>,
    poll_interval: Option<Spanned<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawState {
    dir: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawControl {
    socket: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawDaemon {
    #[serde(default)]
    gateway_addresses: Vec<Spanned<String>>,
    detect_own: Option<bool>,
    #[serde(default)]
    allow_own: bool,
    reconcile_interval: Option<Spanned<String>>,
    batch_max: Option<Spanned<i64>>,
    remember: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    name: Spanned<String>,
    event: Option<String>,
    field: Spanned<String>,
    #[serde(default)]
    exact: Vec<String>,
    #[serde(default)]
    prefix: Vec<String>,
    #[serde(default)]
    contains: Vec<String>,
    regex: Option<Spanned<String>>,
    #[serde(default)]
    nocase: bool,
    #[serde(default)]
    invert: bool,
    ip: Option<Spanned<String>>,
    ban: Spanned<String>,
    threshold: Option<Spanned<RawThreshold>>,
    escalate: Option<Spanned<RawEscalate>>,
    enabled: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawThreshold {
    count: i64,
    within: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEscalate {
    factor: f64,
    max: String,
}

/// One TOML source: its path and text, for error positions.
struct Src<'a> {
    path: &'a Path,
    text: &'a str,
}

impl Src<'_> {
    fn err(&self, span: Range<usize>, msg: String) -> ConfigError {
        let (line, col) = meerkat_shared::text::line_col(self.text, span.start);
        ConfigError::At {
            path: self.path.to_path_buf(),
            line,
            col,
            msg,
        }
    }

    fn toml_err(&self, e: toml::de::Error) -> ConfigError {
        let msg = e.message().trim().to_string();
        match e.span() {
            Some(span) => self.err(span, msg),
            None => ConfigError::File {
                path: self.path.to_path_buf(),
                msg,
            },
        }
    }
}

fn duration_at(src: &Src, v: &Spanned<String>, what: &str) -> Result<Duration, ConfigError> {
    parse_duration(v.get_ref()).map_err(|e| src.err(v.span(), format!("{what}: {e}")))
}

impl Config {
    /// Reads and validates a configuration file (and its includes).
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Config::parse(path, &text)
    }

    /// Validates configuration text; `path` names it in errors and anchors
    /// relative includes.
    pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigError> {
        let src = Src { path, text };
        let raw: RawConfig = toml::from_str(text).map_err(|e| src.toml_err(e))?;

        let nets = |items: &[Spanned<String>], key: &str| -> Result<NetList, ConfigError> {
            let mut out = Vec::with_capacity(items.len());
            for it in items {
                let n: IpNet = it.get_ref().parse().map_err(|e| {
                    src.err(
                        it.span(),
                        format!("{key}: {e} (write a CIDR such as 192.0.2.0/24)"),
                    )
                })?;
                out.push(n);
            }
            Ok(NetList(out))
        };
        let allow = nets(&raw.allow, "allow")?;
        let home_net = nets(&raw.home_net, "home_net")?;

        let start_at = match &raw.input.start_at {
            None => StartAt::Saved,
            Some(s) => match s.get_ref().as_str() {
                "saved" => StartAt::Saved,
                "end" => StartAt::End,
                "beginning" => StartAt::Beginning,
                other => {
                    return Err(src.err(
                        s.span(),
                        format!(
                        "input.start_at: `{other}` is not one of \"saved\", \"end\", \"beginning\""
                    ),
                    ))
                }
            },
        };
        let max_line = match &raw.input.max_line {
            None => 65536,
            Some(v) => match usize::try_from(*v.get_ref()) {
                Ok(n) if (256..=64 << 20).contains(&n) => n,
                _ => {
                    return Err(src.err(
                        v.span(),
                        format!(
                            "input.max_line: {} must be from 256 to 67108864 bytes",
                            v.get_ref()
                        ),
                    ))
                }
            },
        };
        let poll_interval = match &raw.input.poll_interval {
            None => Duration::from_secs(1),
            Some(v) => positive(&src, v, "input.poll_interval")?,
        };
        let err_at = |span: Range<usize>, msg: String| src.err(span, msg);
        let redis = match &raw.input.redis {
            None => None,
            Some(r) => {
                if let Some(e) = &raw.input.eve {
                    return Err(src.err(
                        e.span(),
                        "input: give either `eve` (a file) or `redis` (a stream), not both".into(),
                    ));
                }
                Some(r.get_ref().validate(&err_at)?)
            }
        };
        let input = InputConfig {
            eve: PathBuf::from(
                raw.input
                    .eve
                    .as_ref()
                    .map(|s| s.get_ref().as_str())
                    .unwrap_or(DEFAULT_EVE),
            ),
            start_at,
            max_line,
            poll_interval,
            redis,
        };
        let fleet = match &raw.fleet {
            None => None,
            Some(f) => Some(f.validate(&err_at)?),
        };

        let mut gateway_addresses = Vec::new();
        for g in &raw.daemon.gateway_addresses {
            let ip = parse_ip(g.get_ref())
                .map_err(|e| src.err(g.span(), format!("daemon.gateway_addresses: {e}")))?;
            gateway_addresses.push(ip);
        }
        let reconcile_interval = match &raw.daemon.reconcile_interval {
            None => Duration::from_secs(2),
            Some(v) => positive(&src, v, "daemon.reconcile_interval")?,
        };
        let batch_max = match &raw.daemon.batch_max {
            None => 4096,
            Some(v) => match usize::try_from(*v.get_ref()) {
                Ok(n) if (1..=1_000_000).contains(&n) => n,
                _ => {
                    return Err(src.err(
                        v.span(),
                        format!(
                            "daemon.batch_max: {} must be from 1 to 1000000",
                            v.get_ref()
                        ),
                    ))
                }
            },
        };
        let remember = match &raw.daemon.remember {
            None => Duration::from_secs(30 * 86400),
            Some(v) => duration_at(&src, v, "daemon.remember")?,
        };
        let daemon = DaemonConfig {
            gateway_addresses,
            detect_own: raw.daemon.detect_own.unwrap_or(true),
            allow_own: raw.daemon.allow_own,
            reconcile_interval,
            batch_max,
            remember,
        };

        let mut backends = Vec::with_capacity(raw.backend.len());
        for b in &raw.backend {
            validate_backend(&src, b)?;
            backends.push(b.get_ref().clone());
        }

        let mut rules = Vec::new();
        let mut names: HashSet<String> = HashSet::new();
        for r in &raw.rule {
            if let Some(rule) = compile_rule(&src, r, &mut names)? {
                rules.push(rule);
            }
        }
        for inc in &raw.include {
            let base = path.parent().unwrap_or(Path::new("."));
            let inc_path = base.join(inc.get_ref());
            let inc_text = std::fs::read_to_string(&inc_path).map_err(|e| {
                src.err(inc.span(), format!("include `{}`: {e}", inc_path.display()))
            })?;
            let isrc = Src {
                path: &inc_path,
                text: &inc_text,
            };
            let pack: RawPack = toml::from_str(&inc_text).map_err(|e| isrc.toml_err(e))?;
            for r in &pack.rule {
                if let Some(rule) = compile_rule(&isrc, r, &mut names)? {
                    rules.push(rule);
                }
            }
        }

        Ok(Config {
            path: path.to_path_buf(),
            allow,
            home_net,
            input,
            state_dir: PathBuf::from(raw.state.dir.as_deref().unwrap_or(DEFAULT_STATE_DIR)),
            socket: PathBuf::from(raw.control.socket.as_deref().unwrap_or(DEFAULT_SOCKET)),
            daemon,
            backends,
            rules,
            fleet,
        })
    }
}

fn positive(src: &Src, v: &Spanned<String>, what: &str) -> Result<Duration, ConfigError> {
    let d = duration_at(src, v, what)?;
    if d.is_zero() {
        return Err(src.err(v.span(), format!("{what}: must be longer than 0")));
    }
    Ok(d)
}

fn validate_backend(src: &Src, b: &Spanned<BackendConfig>) -> Result<(), ConfigError> {
    let c = b.get_ref();
    let bad = |msg: String| Err(src.err(b.span(), format!("backend {:?}: {msg}", c.kind)));
    let name_ok = |s: &str| {
        !s.is_empty()
            && s.len() <= 31
            && s.chars()
                .all(|ch| ch.is_ascii_alphanumeric() || "_-.".contains(ch))
    };
    if c.kind == BackendKind::Nftables {
        if !["inet", "ip", "ip6"].contains(&c.family.as_str()) {
            return bad(format!("family `{}` must be inet, ip or ip6", c.family));
        }
        if !name_ok(&c.table) {
            return bad(format!(
                "table `{}` must be 1-31 characters of A-Z a-z 0-9 _ - .",
                c.table
            ));
        }
    }
    for s in [&c.set_v4, &c.set_v6] {
        if !name_ok(s) {
            return bad(format!(
                "set name `{s}` must be 1-31 characters of A-Z a-z 0-9 _ - ."
            ));
        }
    }
    if c.set_v4 == c.set_v6 {
        return bad(format!(
            "set_v4 and set_v6 are both `{}`; they must differ",
            c.set_v4
        ));
    }
    Ok(())
}

fn compile_rule(
    src: &Src,
    r: &Spanned<RawRule>,
    names: &mut HashSet<String>,
) -> Result<Option<Rule>, ConfigError> {
    let raw = r.get_ref();
    let name = raw.name.get_ref().trim().to_string();
    if name.is_empty() {
        return Err(src.err(raw.name.span(), "rule name is empty".into()));
    }
    let rerr = |span: Range<usize>, msg: String| src.err(span, format!("rule {name:?}: {msg}"));
    if !names.insert(name.clone()) {
        return Err(rerr(
            raw.name.span(),
            "a rule with this name already exists; names must be unique".into(),
        ));
    }
    let field = FieldPath::parse(raw.field.get_ref()).ok_or_else(|| {
        rerr(
            raw.field.span(),
            format!(
                "field `{}` is not a dotted path such as ssh.client.software_version",
                raw.field.get_ref()
            ),
        )
    })?;
    let ip_field = match &raw.ip {
        None => FieldPath::parse("src_ip")
            .ok_or_else(|| rerr(r.span(), "internal: src_ip path".into()))?,
        Some(p) => FieldPath::parse(p.get_ref()).ok_or_else(|| {
            rerr(
                p.span(),
                format!("ip `{}` is not a dotted path such as src_ip", p.get_ref()),
            )
        })?,
    };
    let regex = match &raw.regex {
        None => None,
        Some(re) => Some(
            RegexBuilder::new(re.get_ref())
                .case_insensitive(raw.nocase)
                .size_limit(1 << 20)
                .build()
                .map_err(|e| rerr(re.span(), format!("bad regex {:?}: {e}", re.get_ref())))?,
        ),
    };
    let fold = |v: &Vec<String>| -> Vec<String> {
        if raw.nocase {
            v.iter().map(|s| s.to_lowercase()).collect()
        } else {
            v.clone()
        }
    };
    let matcher = Matcher {
        exact: fold(&raw.exact),
        prefix: fold(&raw.prefix),
        contains: fold(&raw.contains),
        regex,
        nocase: raw.nocase,
    };
    if matcher.is_empty() {
        return Err(rerr(
            r.span(),
            "needs at least one of exact, prefix, contains or regex".into(),
        ));
    }
    let ban = positive(src, &raw.ban, &format!("rule {name:?}: ban"))?;
    let threshold = match &raw.threshold {
        None => None,
        Some(t) => {
            let tr = t.get_ref();
            let count = u32::try_from(tr.count)
                .ok()
                .filter(|c| (1..=100_000).contains(c))
                .ok_or_else(|| {
                    rerr(
                        t.span(),
                        format!("threshold.count {} must be from 1 to 100000", tr.count),
                    )
                })?;
            let within = parse_duration(&tr.within)
                .map_err(|e| rerr(t.span(), format!("threshold.within: {e}")))?;
            if within.is_zero() && count > 1 {
                return Err(rerr(
                    t.span(),
                    "threshold.within must be longer than 0".into(),
                ));
            }
            Some(Threshold { count, within })
        }
    };
    let escalate = match &raw.escalate {
        None => None,
        Some(e) => {
            let er = e.get_ref();
            if !(er.factor.is_finite() && er.factor >= 1.0 && er.factor <= 1000.0) {
                return Err(rerr(
                    e.span(),
                    format!("escalate.factor {} must be from 1 to 1000", er.factor),
                ));
            }
            let max = parse_duration(&er.max)
                .map_err(|x| rerr(e.span(), format!("escalate.max: {x}")))?;
            if max < ban {
                return Err(rerr(
                    e.span(),
                    format!(
                        "escalate.max {} is shorter than ban {}",
                        er.max,
                        raw.ban.get_ref()
                    ),
                ));
            }
            Some(Escalate {
                factor: er.factor,
                max,
            })
        }
    };
    if raw.enabled == Some(false) {
        return Ok(None);
    }
    Ok(Some(Rule {
        name,
        event: raw.event.clone().filter(|s| !s.is_empty()),
        field,
        ip_field,
        matcher,
        invert: raw.invert,
        ban,
        threshold,
        escalate,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ISSUE_EXAMPLE: &str = r#"
allow = ["127.0.0.0/8", "::1/128"]
home_net = ["203.0.113.0/24"]
[input]
eve = "/var/log/meerkat/eve.json"
start_at = "saved"
[state]
dir = "/var/lib/meerkat/dom"
[control]
socket = "/run/meerkat/dom.sock"
[[backend]]
kind = "nftables"
family = "inet"
table = "filter"
set_v4 = "suspectedip"
set_v6 = "suspectedip6"
manage = false
[[rule]]
name = "libssh clients"
event = "ssh"
field = "ssh.client.software_version"
prefix = ["libssh_", "libssh2_"]
ban = "1h"
[[rule]]
name = "Go ssh library"
event = "ssh"
field = "ssh.client.software_version"
exact = ["Go"]
threshold = { count = 3, within = "10m" }
ban = "30m"
escalate = { factor = 2, max = "7d" }
[[rule]]
name = "anything but OpenSSH"
event = "ssh"
field = "ssh.client.software_version"
regex = "^OpenSSH_"
invert = true
ban = "10m"
"#;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(Path::new("dom.toml"), text)
    }

    #[test]
    fn issue_example_parses() {
        let c = parse(ISSUE_EXAMPLE).unwrap();
        assert_eq!(c.rules.len(), 3);
        assert_eq!(c.rules[1].threshold.unwrap().count, 3);
        assert_eq!(
            c.rules[1].escalate.unwrap().max,
            Duration::from_secs(7 * 86400)
        );
        assert!(c.rules[2].invert);
        assert_eq!(c.backends.len(), 1);
        assert_eq!(c.backends[0].kind, BackendKind::Nftables);
        assert!(c.home_net.contains("203.0.113.9".parse().unwrap()));
        assert_eq!(c.input.start_at, StartAt::Saved);
        assert_eq!(c.input.max_line, 65536);
        assert_eq!(c.socket, PathBuf::from("/run/meerkat/dom.sock"));
    }

    #[test]
    fn bad_regex_names_rule_line_and_error() {
        let text = ISSUE_EXAMPLE.replace("regex = \"^OpenSSH_\"", "regex = \"^(OpenSSH_\"");
        let e = parse(&text).unwrap_err().to_string();
        assert!(
            e.starts_with("dom.toml:36:9: rule \"anything but OpenSSH\": bad regex"),
            "{e}"
        );
        assert!(e.contains("unclosed group"), "{e}");
    }

    #[test]
    fn errors_have_positions() {
        let e = parse("[[rule]]\nname = \"x\"\nfield = \"a\"\nprefix = [\"p\"]\nban = \"1q\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("dom.toml:5:7: rule \"x\": ban"), "{e}");
        let e = parse("allow = [\"10.0.0.0/33\"]").unwrap_err().to_string();
        assert!(e.starts_with("dom.toml:1:10: allow"), "{e}");
        let e = parse("[input]\nstart_at = \"middle\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("dom.toml:2:12:"), "{e}");
        let e = parse("[input]\nbogus = 1\n").unwrap_err().to_string();
        assert!(e.starts_with("dom.toml:2:1:") && e.contains("bogus"), "{e}");
        let e = parse("[[rule]]\nname = \"m\"\nfield = \"a\"\nban = \"1h\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("rule \"m\": needs at least one of"), "{e}");
        let e = parse("[[backend]]\nkind = \"nftables\"\nfamily = \"arp\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("family `arp`"), "{e}");
        let dup =
            "[[rule]]\nname = \"d\"\nfield = \"a\"\nexact = [\"x\"]\nban = \"1h\"\n".repeat(2);
        assert!(parse(&dup)
            .unwrap_err()
            .to_string()
            .contains("already exists"));
    }

    #[test]
    fn nocase_folds_patterns() {
        let c = parse("[[rule]]\nname = \"p\"\nfield = \"a\"\ncontains = [\"PuTTY\"]\nnocase = true\nban = \"1h\"\n").unwrap();
        assert!(c.rules[0].matcher.matches("xputtyx"));
        assert!(c.rules[0].matcher.matches("PUTTY"));
    }

    #[test]
    fn defaults_and_disabled_rules() {
        let c = parse("[[rule]]\nname = \"off\"\nfield = \"a\"\nexact = [\"x\"]\nban = \"1h\"\nenabled = false\n").unwrap();
        assert!(c.rules.is_empty());
        assert_eq!(c.input.eve, PathBuf::from(DEFAULT_EVE));
        assert_eq!(c.daemon.reconcile_interval, Duration::from_secs(2));
        assert!(c.backends.is_empty());
    }
}
