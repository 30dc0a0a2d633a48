//! `meerkat-dom`: parse arguments, then run the daemon, check the
//! configuration, or talk to a running daemon over its control socket.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use meerkat_dom::config::{Config, DEFAULT_CONFIG, DEFAULT_SOCKET};
use meerkat_dom::control::{self, Request, Response};
use serde_json::Value;

#[derive(Parser)]
#[command(
    name = "meerkat-dom",
    version,
    about = "Deny On Monitoring: bans SSH clients seen in EVE JSON into nftables sets or ipsets"
)]
struct Cli {
    /// Configuration file.
    #[arg(short = 'c', long = "config", global = true, default_value = DEFAULT_CONFIG)]
    config: PathBuf,
    /// Control socket (default: [control] socket of the configuration).
    #[arg(long, global = true)]
    socket: Option<PathBuf>,
    /// Validate the configuration and exit.
    #[arg(long)]
    check: bool,
    /// More logging (-v debug, -vv trace). RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    #[command(subcommand)]
    cmd: Option<Cmd>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the daemon (the default).
    Run,
    /// Counters and health of the running daemon.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Active bans.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Ban an address now.
    Ban {
        ip: String,
        /// Ban length, e.g. 30m, 2h, 7d (default 1h).
        #[arg(long = "for")]
        duration: Option<String>,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Lift a ban.
    Unban { ip: String },
    /// Remove all bans (the sets stay).
    Flush,
    /// Re-read the configuration (like SIGHUP).
    Reload,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(cli.verbose);
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("meerkat-dom: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn init_tracing(verbose: u8) {
    let level = match verbose {
        0 => "info",
        1 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(meerkat_dom::logbatch::Stderr)
        .try_init();
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    if cli.check {
        let cfg = Config::load(&cli.config)?;
        let input = match &cfg.input.redis {
            Some(r) => format!("redis stream {} at {}", r.key, r.target.url),
            None => format!("eve {}", cfg.input.eve.display()),
        };
        let fleet = match &cfg.fleet {
            Some(f) => format!(
                ", fleet {} as {:?} (prefix {:?}, publish {}, apply {})",
                f.target.url, f.name, f.prefix, f.publish, f.apply
            ),
            None => String::new(),
        };
        println!(
            "{}: OK: {} rules, {} backends, {input}{fleet}",
            cli.config.display(),
            cfg.rules.len(),
            cfg.backends.len(),
        );
        return Ok(ExitCode::SUCCESS);
    }
    let req = match cli.cmd {
        None | Some(Cmd::Run) => {
            let cfg = Config::load(&cli.config)?;
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .context("starting the async runtime")?;
            rt.block_on(meerkat_dom::daemon::run(cfg))?;
            return Ok(ExitCode::SUCCESS);
        }
        Some(Cmd::Status { json }) => (Request::Status, json),
        Some(Cmd::List { json }) => (Request::List, json),
        Some(Cmd::Ban {
            ip,
            duration,
            reason,
        }) => (
            Request::Ban {
                ip,
                duration,
                reason,
            },
            false,
        ),
        Some(Cmd::Unban { ip }) => (Request::Unban { ip }, false),
        Some(Cmd::Flush) => (Request::Flush, false),
        Some(Cmd::Reload) => (Request::Reload, false),
    };
    let socket = socket_path(cli.socket, &cli.config)?;
    let (req, json) = req;
    let is_list = req == Request::List;
    let resp = control::request(&socket, &req, Duration::from_secs(30))?;
    print_response(&resp, json, is_list);
    Ok(if resp.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn socket_path(explicit: Option<PathBuf>, config: &Path) -> anyhow::Result<PathBuf> {
    if let Some(s) = explicit {
        return Ok(s);
    }
    match Config::load(config) {
        Ok(c) => Ok(c.socket),
        Err(e) if config == Path::new(DEFAULT_CONFIG) && !config.exists() => {
            tracing::debug!("{e}; using {DEFAULT_SOCKET}");
            Ok(PathBuf::from(DEFAULT_SOCKET))
        }
        Err(e) => Err(e).context("finding the control socket (or give --socket)"),
    }
}

fn print_response(resp: &Response, json: bool, is_list: bool) {
    if !resp.ok {
        eprintln!(
            "meerkat-dom: {}",
            resp.error.as_deref().unwrap_or("request failed")
        );
        return;
    }
    let data = resp.data.clone().unwrap_or(Value::Null);
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&data).unwrap_or_default()
        );
        return;
    }
    if is_list {
        let rows = data.as_array().cloned().unwrap_or_default();
        println!(
            "{:<40} {:>10} {:<24} {:<24} {:>6}",
            "ADDRESS", "REMAINING", "RULE", "CLIENT", "COUNT"
        );
        for r in &rows {
            println!(
                "{:<40} {:>10} {:<24} {:<24} {:>6}",
                r["ip"].as_str().unwrap_or("?"),
                r["remaining"].as_str().unwrap_or("?"),
                r["rule"].as_str().unwrap_or("?"),
                r["client"].as_str().unwrap_or("-"),
                r["count"].as_u64().unwrap_or(0)
            );
        }
        println!("{} active bans", rows.len());
        return;
    }
    match data {
        Value::Object(m) => {
            for (k, v) in m {
                match v {
                    Value::String(s) => println!("{k}: {s}"),
                    other => println!("{k}: {other}"),
                }
            }
        }
        other => println!("{other}"),
    }
}
