//! Command line, with Suricata's flags so operators feel at home.

use std::path::PathBuf;

use clap::{ArgAction, Parser};

/// meerkat-sensor: mixed-mode IPS/IDS sensor.
///
/// Packets from NFQUEUE queues are inline (IPS: drop and reject work);
/// packets from NFLOG groups and pcap files are copies (IDS: alerts only,
/// reject still sends resets). Give both -q and --nflog for mixed mode.
#[derive(Debug, Parser)]
#[command(name = "meerkat-sensor", version, about, long_about = None)]
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

    /// Read packets from a pcap or pcapng file (IDS) and exit at its end.
    #[arg(short = 'r', value_name = "FILE", conflicts_with_all = ["queues", "nflog"])]
    pub pcap: Option<PathBuf>,

    /// Rules file (Suricata syntax). Repeatable.
    #[arg(short = 'S', value_name = "FILE", action = ArgAction::Append)]
    pub rules: Vec<PathBuf>,

    /// Log directory; eve.json is written here.
    #[arg(short = 'l', value_name = "DIR", default_value = "/var/log/meerkat")]
    pub log_dir: PathBuf,

    /// TOML configuration file. Optional: every setting has a built-in
    /// default.
    #[arg(short = 'c', value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Check the configuration and rules, print a summary and exit (non-zero
    /// with file:line errors on failure).
    #[arg(short = 'T')]
    pub test: bool,

    /// More log output (-v debug, -vv trace). RUST_LOG overrides.
    #[arg(short = 'v', action = ArgAction::Count)]
    pub verbose: u8,
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
    fn pcap_excludes_live_capture() {
        assert!(Cli::try_parse_from(["m", "-r", "f.pcap", "-q", "0"]).is_err());
        assert!(Cli::try_parse_from(["m", "-r", "f.pcap"]).is_ok());
    }
}
