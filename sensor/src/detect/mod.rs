//! Detection: a first subset of Suricata's rule language (see
//! [`parse`]) and the engine that matches loaded rules against packets,
//! reassembled stream data and SSH banners (see [`engine`]).
//!
//! Load once with [`Engine::load_files`] or [`Engine::load_str`]; the
//! [`Engine`] is immutable, `Send + Sync`, and shared by all capture
//! threads through an `Arc`. Each thread keeps one [`Matches`] and reuses
//! it for every packet.
//!
//! Rules that use a keyword or protocol this engine does not support are
//! skipped (one `warn!` each, counted in [`RuleLoadReport::skipped`]);
//! invalid rules are errors with `file:line` ([`RuleLoadReport::errors`]).

pub mod address;
pub mod byte;
pub mod classification;
pub mod content;
pub mod decode_event;
pub mod dns;
pub mod engine;
pub mod expr;
pub mod flowbits;
pub mod header;
pub mod hostbits;
pub mod http;
pub mod mpm;
pub mod parse;
pub mod pcre;
pub mod port;
pub mod prefilter;
pub mod rule;
pub mod tag;
pub mod threshold;
pub mod tls;

use std::collections::HashMap;

pub use engine::{Engine, FinalAction, Hit, Matches};
pub use flowbits::FLOWBIT_TAG;
pub use parse::ParseError;
pub use rule::{Action, RejectTarget, RuleMeta};
pub use threshold::ThresholdState;

use crate::packet::{Direction, Mode};

/// Rule variables (`$HOME_NET`, `$SSH_PORTS`, ...), names without `$`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vars {
    pub address: HashMap<String, String>,
    pub port: HashMap<String, String>,
}

impl Default for Vars {
    /// Suricata's default `address-groups` and `port-groups`.
    fn default() -> Vars {
        let home = "[192.168.0.0/16,10.0.0.0/8,172.16.0.0/12]";
        let address = [
            ("HOME_NET", home),
            ("EXTERNAL_NET", "!$HOME_NET"),
            ("HTTP_SERVERS", "$HOME_NET"),
            ("SMTP_SERVERS", "$HOME_NET"),
            ("SQL_SERVERS", "$HOME_NET"),
            ("DNS_SERVERS", "$HOME_NET"),
            ("TELNET_SERVERS", "$HOME_NET"),
            ("AIM_SERVERS", "$EXTERNAL_NET"),
            ("DC_SERVERS", "$HOME_NET"),
            ("DNP3_SERVER", "$HOME_NET"),
            ("DNP3_CLIENT", "$HOME_NET"),
            ("MODBUS_CLIENT", "$HOME_NET"),
            ("MODBUS_SERVER", "$HOME_NET"),
            ("ENIP_CLIENT", "$HOME_NET"),
            ("ENIP_SERVER", "$HOME_NET"),
        ];
        let port = [
            ("HTTP_PORTS", "80"),
            ("SHELLCODE_PORTS", "!80"),
            ("ORACLE_PORTS", "1521"),
            ("SSH_PORTS", "22"),
            ("DNP3_PORTS", "20000"),
            ("MODBUS_PORTS", "502"),
            ("FILE_DATA_PORTS", "[$HTTP_PORTS,110,143]"),
            ("FTP_PORTS", "21"),
            ("GENEVE_PORTS", "6081"),
            ("VXLAN_PORTS", "4789"),
            ("TEREDO_PORTS", "3544"),
        ];
        let own = |v: &[(&str, &str)]| {
            v.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        Vars {
            address: own(&address),
            port: own(&port),
        }
    }
}

impl Vars {
    /// An address variable's text (`name` with or without `$`).
    pub fn address(&self, name: &str) -> Option<String> {
        let n = name.strip_prefix('$').unwrap_or(name);
        self.address.get(n).cloned()
    }

    /// A port variable's text (`name` with or without `$`).
    pub fn port(&self, name: &str) -> Option<String> {
        let n = name.strip_prefix('$').unwrap_or(name);
        self.port.get(n).cloned()
    }
}

/// What detection sees of one packet. The worker fills it.
pub struct DetectInput<'a> {
    pub mode: Mode,
    pub pkt: &'a crate::decode::Packet<'a>,
    /// Direction of the packet within its flow (None: no flow).
    pub dir: Option<Direction>,
    pub established: bool,
    /// Reassembled stream data that became inspectable with this packet
    /// (0..=2 chunks; more are ignored).
    pub stream: &'a [StreamChunk<'a>],
    /// SSH banners known so far on this flow (None until parsed).
    pub ssh_client: Option<SshBannerRef<'a>>,
    pub ssh_server: Option<SshBannerRef<'a>>,
    pub app_is_ssh: bool,
    /// The flow's HTTP state when the flow is HTTP: its transactions that
    /// reached an inspection point with this packet are inspected.
    pub http: Option<&'a crate::app::HttpState>,
    /// The flow's TLS state when the flow is TLS: its directions with new
    /// handshake data in this packet are inspected by TLS rules.
    pub tls: Option<&'a crate::app::TlsState>,
    /// The flow's DNS state when the flow is DNS: its transactions created
    /// with this packet are inspected.
    pub dns: Option<&'a crate::app::dns::DnsState>,
    /// A flow-end pseudo packet (Suricata's "stream (flow timeout)"): it
    /// carries the flow's last stream data and transactions, and packet
    /// rules do not run on it.
    pub pseudo: bool,
    /// Packet time (thresholds count in it).
    pub ts: crate::packet::Timestamp,
    /// Bytes each side of the flow's TCP session sent in order so far
    /// (to_server, to_client), for `stream_size` (None: no TCP session);
    /// see [`header::stream_sizes`].
    pub stream_size: Option<[u64; 2]>,
}

/// Reassembled data of one direction, as the stream stage hands it over.
/// Only matches that end at or after `new_from` count, so old data does not
/// alert again.
pub use crate::stream::Chunk as StreamChunk;

/// The parts of an SSH banner the `ssh.*` keywords read.
#[derive(Debug, Clone, Copy)]
pub struct SshBannerRef<'a> {
    pub proto_version: &'a str,
    pub software_version: &'a str,
    /// This side's HASSH, once its `KEXINIT` is parsed (and HASSH is on).
    pub hassh: Option<&'a str>,
    pub hassh_string: Option<&'a str>,
}

/// One invalid rule (or unreadable file).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{origin}: {}{error}", sid.map(|s| format!("sid {s}: ")).unwrap_or_default())]
pub struct RuleError {
    /// `file:line` (line 0: the file itself).
    pub origin: String,
    pub sid: Option<u32>,
    pub error: ParseError,
}

/// Counts for one rule file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FileReport {
    pub path: String,
    pub loaded: usize,
    pub skipped: usize,
    pub failed: usize,
}

/// The outcome of loading rules.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RuleLoadReport {
    pub loaded: usize,
    /// Valid rules using a keyword or protocol this engine lacks.
    pub skipped: usize,
    /// Invalid rules (each also in `errors`).
    pub failed: usize,
    pub errors: Vec<RuleError>,
    pub files: Vec<FileReport>,
    /// Skipped rules by the keyword (or protocol) that made them
    /// unsupported, as the warning names it.
    pub skipped_by_keyword: std::collections::BTreeMap<String, usize>,
}

impl RuleLoadReport {
    /// `(keyword, rules skipped)`, most rules first.
    pub fn skipped_keywords(&self) -> Vec<(&str, usize)> {
        let mut v: Vec<(&str, usize)> = self
            .skipped_by_keyword
            .iter()
            .map(|(k, n)| (k.as_str(), *n))
            .collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        v
    }

    /// Files that gave no valid rule and had errors: fatal at start-up.
    pub fn fatal_files(&self) -> impl Iterator<Item = &FileReport> {
        self.files.iter().filter(|f| f.loaded == 0 && f.failed > 0)
    }
}

#[cfg(test)]
mod engine_tests;
