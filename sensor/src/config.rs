//! Sensor configuration (TOML). Every setting has a built-in default, so
//! `-c` is optional. Unknown keys are errors, reported with file:line.

use std::collections::BTreeMap;
use std::path::Path;

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
}

impl SensorConfig {
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
    fn unknown_key_names_line() {
        let err = SensorConfig::parse("[ips]\ndrop_truncated = true\nbogus = 1\n", "s.toml")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("s.toml:3:"), "{err}");
        assert!(err.contains("bogus"), "{err}");
    }
}
