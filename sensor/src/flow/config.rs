//! `[flow]` configuration.

use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// Flow table limits and timeouts. Durations accept `"30s"`, `"1h30m"` or
/// a number of seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FlowConfig {
    /// Most flows per table (per capture thread).
    pub max_flows: usize,
    /// Most bytes of flow state per table (estimated, see
    /// `FlowTable::memuse`).
    pub memcap_bytes: usize,
    /// TCP flows before the handshake completes.
    #[serde(deserialize_with = "de_duration")]
    pub timeout_new: Duration,
    /// Established TCP flows.
    #[serde(deserialize_with = "de_duration")]
    pub timeout_established: Duration,
    /// TCP flows after FIN/FIN or RST.
    #[serde(deserialize_with = "de_duration")]
    pub timeout_closed: Duration,
    /// UDP and other non-TCP, non-ICMP flows.
    #[serde(deserialize_with = "de_duration")]
    pub timeout_udp: Duration,
    /// ICMP and ICMPv6 flows.
    #[serde(deserialize_with = "de_duration")]
    pub timeout_icmp: Duration,
}

impl Default for FlowConfig {
    fn default() -> Self {
        FlowConfig {
            max_flows: 65_536,
            memcap_bytes: 128 * 1024 * 1024,
            timeout_new: Duration::from_secs(30),
            timeout_established: Duration::from_secs(3600),
            timeout_closed: Duration::from_secs(10),
            timeout_udp: Duration::from_secs(30),
            timeout_icmp: Duration::from_secs(30),
        }
    }
}

fn de_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Secs(u64),
        Text(String),
    }
    match Raw::deserialize(d)? {
        Raw::Secs(s) => Ok(Duration::from_secs(s)),
        Raw::Text(t) => {
            meerkat_shared::duration::parse_duration(&t).map_err(serde::de::Error::custom)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_durations_and_defaults() {
        let c: FlowConfig =
            toml::from_str("max_flows = 10\ntimeout_new = \"1m\"\ntimeout_udp = 5").unwrap();
        assert_eq!(c.max_flows, 10);
        assert_eq!(c.timeout_new, Duration::from_secs(60));
        assert_eq!(c.timeout_udp, Duration::from_secs(5));
        assert_eq!(c.timeout_established, Duration::from_secs(3600));
    }

    #[test]
    fn rejects_bad_values_with_context() {
        let e = toml::from_str::<FlowConfig>("timeout_new = \"soon\"").unwrap_err();
        assert!(e.to_string().contains("soon"), "{e}");
        assert!(toml::from_str::<FlowConfig>("timeout = 1").is_err());
    }
}
