//! Command line, with Suricata's flags so operators feel at home.

use std::path::PathBuf;

use clap::{ArgAction, Parser};

pub use crate::config::ChecksumMode;

/// meerkat-sensor: mixed-mode IPS/IDS sensor.
///
/// Packets from NFQUEUE queues are inline (IPS: drop and reject work);
/// packets from NFLOG groups and pcap files are copies (IDS: alerts only,
/// reject still sends resets). Give both -q and --nflog for mixed mode.
/// Suricata's own flags are accepted (see README): those Meerkat has no use
/// for are noted and ignored.
#[derive(Debug, Parser)]
#[command(name = "meerkat-sensor", about, long_about = None, disable_version_flag = true,
          args_override_self = true)]
pub struct Cli {
    /// NFQUEUE queue to take packets from inline (IPS). Repeatable; `A:B`
    /// takes the range A..=B (one thread per queue; pair with the firewall's
    /// `--queue-balance A:B --queue-bypass`).
    #[arg(short = 'q', long = "queue", value_name = "N|A:B", action = ArgAction::Append,
          value_parser = parse_queue_spec)]
    pub queues: Vec<QueueSpec>,

    /// NFLOG group to take packet copies from (IDS). Repeatable.
    #[arg(long = "nflog", value_name = "GROUP", action = ArgAction::Append)]
    pub nflog: Vec<u16>,

    /// Read packets from a pcap or pcapng file (IDS unless --simulate-ips)
    /// and exit at its end.
    #[arg(short = 'r', long = "pcap-file", value_name = "FILE", conflicts_with_all = ["queues", "nflog"])]
    pub pcap: Option<PathBuf>,

    /// Rules file (Suricata syntax), exclusive: the configuration's rule
    /// files are not loaded. Repeatable.
    #[arg(short = 'S', value_name = "FILE", action = ArgAction::Append)]
    pub rules: Vec<PathBuf>,

    /// Rules file loaded in addition to the configuration's rule files
    /// (Suricata's `-s`). Repeatable.
    #[arg(short = 's', value_name = "FILE", action = ArgAction::Append)]
    pub extra_rules: Vec<PathBuf>,

    /// Log directory; eve.json is written here (default: the config's
    /// `default-log-dir` / `log_dir`, else /var/log/meerkat).
    #[arg(short = 'l', value_name = "DIR")]
    pub log_dir: Option<PathBuf>,

    /// Configuration file: Meerkat's TOML or a Suricata YAML
    /// (`suricata.yaml`; told apart by content). Optional: every setting
    /// has a built-in default.
    #[arg(short = 'c', value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Override a setting by its Suricata name, e.g.
    /// `--set stream.midstream=true`, `--set vars.address-groups.HOME_NET=[10.0.0.0/8]`.
    /// Repeatable; applied after the configuration file. Unknown keys are
    /// accepted with a warning.
    #[arg(long = "set", value_name = "KEY=VALUE", action = ArgAction::Append)]
    pub set: Vec<String>,

    /// Check the configuration and rules, print a summary and exit (non-zero
    /// with file:line errors on failure).
    #[arg(short = 'T')]
    pub test: bool,

    /// Print the version (a Suricata-style version line) and exit.
    #[arg(short = 'V', long = "version")]
    pub version: bool,

    /// Print the build information in Suricata's format (the features
    /// Meerkat has) and exit.
    #[arg(long = "build-info")]
    pub build_info: bool,

    /// Print the effective configuration as Suricata's `key = value`
    /// lines and exit.
    #[arg(long = "dump-config")]
    pub dump_config: bool,

    /// Checksum validation: `all` (validate), `none` (don't), `auto`.
    /// Overrides the configuration.
    #[arg(short = 'k', value_name = "all|none|auto", value_parser = parse_checksum_mode)]
    pub checksum: Option<ChecksumMode>,

    /// Treat pcap packets as IPS packets: drops apply and alerts say
    /// "blocked" (Suricata's `--simulate-ips`).
    #[arg(long = "simulate-ips")]
    pub simulate_ips: bool,

    /// Any error while loading rules or the configuration is fatal (exit 1).
    #[arg(long = "init-errors-fatal")]
    pub init_errors_fatal: bool,

    /// Run without detection: no rules are loaded.
    #[arg(long = "disable-detection")]
    pub disable_detection: bool,

    /// Suricata's runmode (`single`, `autofp`, `workers`). Accepted; Meerkat
    /// always runs one thread per capture source.
    #[arg(long = "runmode", value_name = "MODE")]
    pub runmode: Option<String>,

    /// Suricata's continuous pcap-directory mode. Accepted; Meerkat reads
    /// the one file given with -r.
    #[arg(long = "pcap-file-continuous")]
    pub pcap_file_continuous: bool,

    /// More log output (-v debug, -vv trace). RUST_LOG overrides.
    #[arg(short = 'v', action = ArgAction::Count)]
    pub verbose: u8,

    /// A BPF filter expression (Suricata takes the words that are not
    /// options, anywhere on the line). Accepted and NOT applied, with a
    /// warning: filter in the firewall.
    #[arg(value_name = "BPF", hide = true)]
    pub bpf: Vec<String>,

    /// Suricata flags without meaning for Meerkat, accepted so that
    /// Suricata command lines work; each is noted once at start-up.
    #[command(flatten)]
    pub ignored: IgnoredFlags,
}

/// Suricata options Meerkat accepts and ignores (with a note).
#[derive(Debug, Default, clap::Args)]
pub struct IgnoredFlags {
    /// Suricata's data directory (datasets). Ignored.
    #[arg(long = "data-dir", value_name = "DIR", hide = true)]
    pub data_dir: Option<String>,
    /// Suricata's deterministic-hashing switch. Ignored.
    #[arg(long = "no-random", hide = true)]
    pub no_random: bool,
    /// Suricata's pid file. Ignored.
    #[arg(long = "pidfile", value_name = "FILE", hide = true)]
    pub pidfile: Option<String>,
    /// Daemonize. Ignored (use systemd).
    #[arg(short = 'D', hide = true)]
    pub daemon: bool,
    /// Run as user. Ignored (use systemd's User=).
    #[arg(long = "user", value_name = "USER", hide = true)]
    pub user: Option<String>,
    /// Run as group. Ignored.
    #[arg(long = "group", value_name = "GROUP", hide = true)]
    pub group: Option<String>,
    /// Unix control socket. Ignored (Meerkat has none).
    #[arg(long = "unix-socket", value_name = "FILE", num_args = 0..=1,
          require_equals = true, default_missing_value = "", hide = true)]
    pub unix_socket: Option<String>,
    /// Suricata's pcap-file delete mode. Ignored.
    #[arg(long = "pcap-file-delete", hide = true)]
    pub pcap_file_delete: bool,
    /// Suricata's pcap-file recursive mode. Ignored.
    #[arg(long = "pcap-file-recursive", hide = true)]
    pub pcap_file_recursive: bool,
    /// Suricata's strict rule keyword mode. Ignored.
    #[arg(long = "strict-rule-keywords", value_name = "KEYWORDS", num_args = 0..=1,
          require_equals = true, default_missing_value = "all", hide = true)]
    pub strict_rule_keywords: Option<String>,
    /// BPF filter file. Ignored (filter in the firewall).
    #[arg(short = 'F', value_name = "FILE", hide = true)]
    pub bpf_file: Option<String>,
}

impl IgnoredFlags {
    /// Human-readable names of the ignored flags that were given.
    pub fn given(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        let mut add = |on: bool, name: &'static str| {
            if on {
                v.push(name)
            }
        };
        add(self.data_dir.is_some(), "--data-dir");
        add(self.no_random, "--no-random");
        add(self.pidfile.is_some(), "--pidfile");
        add(self.daemon, "-D");
        add(self.user.is_some(), "--user");
        add(self.group.is_some(), "--group");
        add(self.unix_socket.is_some(), "--unix-socket");
        add(self.pcap_file_delete, "--pcap-file-delete");
        add(self.pcap_file_recursive, "--pcap-file-recursive");
        add(
            self.strict_rule_keywords.is_some(),
            "--strict-rule-keywords",
        );
        add(self.bpf_file.is_some(), "-F");
        v
    }
}

fn parse_checksum_mode(s: &str) -> Result<ChecksumMode, String> {
    match s {
        "yes" | "no" => Err(format!("`{s}` is not a -k mode: use all, none or auto")),
        _ => ChecksumMode::parse(s)
            .ok_or_else(|| format!("`{s}` is not a -k mode: use all, none or auto")),
    }
}

/// One `-q` argument: a single queue or an inclusive range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueSpec {
    pub first: u16,
    pub last: u16,
}

fn parse_queue_spec(s: &str) -> Result<QueueSpec, String> {
    let num = |t: &str| {
        t.trim()
            .parse::<u16>()
            .map_err(|_| format!("`{t}` is not a queue number (0-65535)"))
    };
    match s.split_once(':') {
        None => {
            let n = num(s)?;
            Ok(QueueSpec { first: n, last: n })
        }
        Some((a, b)) => {
            let (first, last) = (num(a)?, num(b)?);
            if first > last {
                return Err(format!("queue range `{s}` is empty: {first} > {last}"));
            }
            if last - first >= 256 {
                return Err(format!(
                    "queue range `{s}` is too large (at most 256 queues)"
                ));
            }
            Ok(QueueSpec { first, last })
        }
    }
}

impl Cli {
    /// All NFQUEUE queue numbers, ranges expanded, duplicates removed.
    pub fn queue_numbers(&self) -> Vec<u16> {
        let mut v: Vec<u16> = self.queues.iter().flat_map(|q| q.first..=q.last).collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    /// NFLOG groups, duplicates removed.
    pub fn nflog_groups(&self) -> Vec<u16> {
        let mut v = self.nflog.clone();
        v.sort_unstable();
        v.dedup();
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_mixed_mode_flags() {
        let cli = Cli::try_parse_from([
            "meerkat-sensor",
            "-q",
            "0",
            "-q",
            "2:3",
            "--nflog",
            "10",
            "-S",
            "a.rules",
            "-l",
            "/tmp/x",
        ])
        .unwrap();
        assert_eq!(cli.queue_numbers(), vec![0, 2, 3]);
        assert_eq!(cli.nflog_groups(), vec![10]);
        assert_eq!(cli.rules, vec![PathBuf::from("a.rules")]);
    }

    #[test]
    fn rejects_bad_queue_specs() {
        assert!(Cli::try_parse_from(["m", "-q", "5:1"]).is_err());
        assert!(Cli::try_parse_from(["m", "-q", "x"]).is_err());
        assert!(Cli::try_parse_from(["m", "-q", "70000"]).is_err());
    }

    #[test]
    fn accepts_suricata_verify_command_line() {
        let cli = Cli::try_parse_from([
            "suricata",
            "-k",
            "none",
            "--set",
            "stream.midstream=true",
            "--set",
            "classification-file=/x/classification.config",
            "--runmode=single",
            "--data-dir",
            "/tmp",
            "--no-random",
            "--init-errors-fatal",
            "-l",
            "/tmp/out",
            "--simulate-ips",
            "-c",
            "suricata.yaml",
            "-r",
            "/t/in.pcap",
            "--disable-detection",
            "-vvv",
        ])
        .unwrap();
        assert_eq!(cli.checksum, Some(ChecksumMode::None));
        assert_eq!(cli.set.len(), 2);
        assert_eq!(cli.runmode.as_deref(), Some("single"));
        assert!(cli.simulate_ips && cli.init_errors_fatal && cli.disable_detection);
        assert_eq!(cli.verbose, 3);
        assert_eq!(cli.ignored.given(), vec!["--data-dir", "--no-random"]);
        assert!(Cli::try_parse_from(["m", "-k", "maybe"]).is_err());
        // run.py adds --simulate-ips for "ips" tests that pass it too.
        let c = Cli::try_parse_from([
            "m",
            "--simulate-ips",
            "--simulate-ips",
            "-k",
            "none",
            "port",
            "22",
            "-l",
            "/tmp/o",
            "-r",
            "in.pcap",
        ])
        .unwrap();
        assert!(c.simulate_ips);
        assert_eq!(c.bpf, vec!["port", "22"]);
        assert_eq!(c.pcap, Some(PathBuf::from("in.pcap")));
    }

    #[test]
    fn version_and_info_flags() {
        assert!(Cli::try_parse_from(["m", "-V"]).unwrap().version);
        assert!(
            Cli::try_parse_from(["m", "--build-info"])
                .unwrap()
                .build_info
        );
        let c = Cli::try_parse_from(["m", "-c", "s.yaml", "--dump-config"]).unwrap();
        assert!(c.dump_config);
    }

    #[test]
    fn pcap_excludes_live_capture() {
        assert!(Cli::try_parse_from(["m", "-r", "f.pcap", "-q", "0"]).is_err());
        assert!(Cli::try_parse_from(["m", "-r", "f.pcap"]).is_ok());
    }
}
