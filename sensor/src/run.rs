//! Start-up, the capture threads, and the supervisor loop (signals, stats,
//! systemd notifications, orderly shutdown).
//!
//! Order matters: configuration and rules are checked first, then the EVE
//! file and every capture source are opened (so a failure is reported
//! before any traffic is touched), and only then do the capture threads
//! start. On SIGINT/SIGTERM each thread finishes what is queued, gives
//! every packet its verdict, ends its flows, and the last stats event is
//! written before the EVE file is closed.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use meerkat_shared::notify;

use crate::capture::{self, NfQueue, Nflog, PacketHandler};
use crate::cli::Cli;
use crate::config::{ChecksumMode, Loaded, SensorConfig};
use crate::counters::{PipelineCounters, SourceCounters};
use crate::detect::{Engine, RuleLoadReport, Vars};
use crate::flow::FlowTable;
use crate::output::eve::EveWriter;
use crate::output::stats::{stats_event, DetectStats};
use crate::packet::{Source, Timestamp};
use crate::respond::Responder;
use crate::stream::StreamContext;
use crate::worker::{Shared, Worker};

/// A capture source opened and configured, not yet running.
enum Opened {
    Nfq(NfQueue),
    Nflog(Nflog),
}

/// Counters of one capture thread, kept by the supervisor for stats.
struct ThreadCounters {
    source: Source,
    source_counters: Arc<SourceCounters>,
    pipeline: Arc<PipelineCounters>,
}

/// The Suricata release whose behaviour, rule language and EVE format
/// Meerkat follows; `-V` reports it so that Suricata's test suite selects
/// tests as for that release.
pub const SURICATA_COMPAT_VERSION: &str = "7.0.10";

/// `-V`: one line that Suricata's tooling parses (it looks for
/// "Suricata version X.Y.Z").
pub fn version_line() -> String {
    format!(
        "This is Meerkat version {} (Suricata version {} compatible)",
        env!("CARGO_PKG_VERSION"),
        SURICATA_COMPAT_VERSION
    )
}

/// `--build-info`, in Suricata's layout (suricata-verify reads the
/// `Features:` line and the `... support: yes` lines for `requires:
/// features`). Only what Meerkat really has is listed as present.
pub fn build_info() -> String {
    let yes_no = |b: bool| if b { "yes" } else { "no" };
    let mut s = format!("{}\n", version_line());
    s.push_str("Features: NFQ NFLOG PCAP_FILE RUST HAVE_JA3\n");
    s.push_str(&format!(
        "{}-bits, {}-endian architecture\n",
        usize::BITS,
        if cfg!(target_endian = "little") {
            "Little"
        } else {
            "Big"
        }
    ));
    s.push_str("\nSuricata Configuration:\n");
    let rows: &[(&str, bool)] = &[
        ("AF_PACKET support", false),
        ("AF_XDP support", false),
        ("DPDK support", false),
        ("eBPF support", false),
        ("XDP support", false),
        ("PF_RING support", false),
        ("NFQueue support", true),
        ("NFLOG support", true),
        ("IPFW support", false),
        ("Netmap support", false),
        ("Unix socket enabled", false),
        ("Detection enabled", true),
        ("Libmagic support", false),
        ("libjansson support", false),
        ("hiredis support", false),
        ("PCRE jit", false),
        ("LUA support", false),
        ("GeoIP2 support", false),
        ("JA3 support", true),
        ("JA4 support", false),
        ("Hyperscan support", false),
        ("Libnet support", false),
        ("liblz4 support", false),
        ("Rust support", true),
        ("Python support", false),
        ("Profiling enabled", false),
        ("Plugin support (experimental)", false),
    ];
    for (name, on) in rows {
        s.push_str(&format!("  {:<41}{}\n", format!("{name}:"), yes_no(*on)));
    }
    s.push_str(
        "\nMeerkat: NFQUEUE (IPS) and NFLOG (IDS) in one process, pcap/pcapng files, \
         raw-socket reject; application layer: SSH, HTTP/1.x, TLS.\n",
    );
    s
}

/// Runs the sensor as the command line says.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    if cli.version {
        println!("{}", version_line());
        return Ok(ExitCode::SUCCESS);
    }
    if cli.build_info {
        print!("{}", build_info());
        return Ok(ExitCode::SUCCESS);
    }
    if cli.dump_config {
        print!(
            "{}",
            SensorConfig::dump_config(cli.config.as_deref(), &cli.set)?
        );
        return Ok(ExitCode::SUCCESS);
    }
    let loaded = SensorConfig::load_with_sets(cli.config.as_deref(), &cli.set)?;
    let mut cfg = loaded.config.clone();
    let log_dir = cli
        .log_dir
        .clone()
        .or_else(|| cfg.log_dir.clone())
        .unwrap_or_else(|| PathBuf::from(DEFAULT_LOG_DIR));
    if cfg.engine_log.enabled && log_dir.is_dir() {
        let p = log_dir.join(&cfg.engine_log.filename);
        if let Err(e) = crate::logging::open(&p, cfg.engine_log.json, &cfg.engine_log.level) {
            tracing::warn!(file = %p.display(), "cannot open the engine log: {e}");
        }
    }
    note_compat(&cli, &loaded);
    let ips = cli.simulate_ips || !cli.queues.is_empty();
    if let Err(e) = cfg.validate(ips) {
        bail!("{e}");
    }
    if let Some(k) = cli.checksum {
        cfg.pcap.checksum_checks = k;
        cfg.stream.checksum_validation = k != ChecksumMode::None;
    }
    let vars = Vars {
        address: cfg.vars.address.clone().into_iter().collect(),
        port: cfg.vars.port.clone().into_iter().collect(),
    };
    let rule_files = rule_files(&cli, &cfg);
    let started = Timestamp::now();
    let (mut engine, report) =
        Engine::load_files_ordered(&rule_files, &vars, cfg.detect.action_order);
    let threshold_errors = if cli.disable_detection {
        Vec::new()
    } else {
        let threshold_file = cfg.detect.threshold_file.as_deref();
        crate::detect::threshold::config::install(&mut engine, threshold_file, &vars)
    };
    if cli.test {
        return Ok(check_only(&cli, &report, &threshold_errors));
    }
    log_report(&report);
    if let Some(f) = report.fatal_files().next() {
        bail!(
            "rules file {} has {} error(s) and no valid rule (see the errors above); fix it or check with -T",
            f.path,
            f.failed
        );
    }
    if cli.init_errors_fatal && report.failed > 0 {
        bail!(
            "{} rule(s) failed to load and --init-errors-fatal is given (see the errors above)",
            report.failed
        );
    }
    if rule_files.is_empty() && !cli.disable_detection {
        tracing::warn!(
            "no rules file given (-S): the sensor will log ssh, flow and stats events only"
        );
    }

    let queues = cli.queue_numbers();
    let groups = cli.nflog_groups();
    if cli.pcap.is_none() && queues.is_empty() && groups.is_empty() {
        bail!("nothing to capture: give -q QUEUE (NFQUEUE, IPS), --nflog GROUP (NFLOG, IDS), or -r FILE (pcap)");
    }
    if !log_dir.is_dir() {
        bail!(
            "log directory {} does not exist; create it or pass -l DIR",
            log_dir.display()
        );
    }
    let eve_path = log_dir.join(&cfg.eve.filename);
    let eve = EveWriter::open(&eve_path, &cfg.eve)
        .with_context(|| format!("cannot open EVE log {}", eve_path.display()))?;
    let fast = if cfg.fast.enabled {
        let path = log_dir.join(&cfg.fast.filename);
        let w = EveWriter::open_file(&path, &cfg.eve)
            .with_context(|| format!("cannot open fast.log {}", path.display()))?;
        Some(w)
    } else {
        None
    };
    // Further eve-log outputs of a Suricata YAML: the first output's
    // settings with their own file, types and dns options, no Redis.
    let mut extra_eve = Vec::with_capacity(cfg.eve.extra.len());
    for x in &cfg.eve.extra {
        let mut c = cfg.eve.clone();
        c.filename = x.filename.clone();
        c.types = x.types.clone();
        c.dns = x.dns.clone();
        c.redis = None;
        c.extra = Vec::new();
        let path = log_dir.join(&c.filename);
        let w = EveWriter::open(&path, &c)
            .with_context(|| format!("cannot open EVE log {}", path.display()))?;
        extra_eve.push((w, x.types.enabled("dns"), x.dns.mask()));
    }
    let tls_store = if cfg.tls_store.enabled {
        let dir = log_dir.join(&cfg.tls_store.certs_log_dir);
        let s = crate::output::tls_store::TlsStore::start(&dir)
            .with_context(|| format!("cannot start the tls-store output in {}", dir.display()))?;
        Some(s)
    } else {
        None
    };

    let responder = match Responder::new() {
        Ok(r) => Some(Arc::new(r)),
        Err(e) => {
            tracing::warn!(error = %e, "raw sockets unavailable (needs CAP_NET_RAW): reject rules will not send resets");
            None
        }
    };
    let detect_stats = DetectStats {
        rules_loaded: report.loaded as u64,
        rules_failed: report.failed as u64,
        rules_skipped: report.skipped as u64,
        last_reload: started,
    };
    let ssh_hassh = cfg.app_layer.ssh.hassh || engine.uses_hassh();
    let mut build = cfg.eve.build_opts();
    // `ja3-fingerprints: auto` (the default): logged when a rule uses JA3.
    build.tls.ja3 = cfg
        .app_layer
        .tls
        .ja3_fingerprints
        .unwrap_or_else(|| engine.uses_ja3());
    let shared = Arc::new(Shared {
        engine: Arc::new(engine),
        eve: eve.sender(),
        fast: fast.as_ref().map(EveWriter::sender),
        tls_store: tls_store.as_ref().map(|s| s.sender()),
        extra_eve: extra_eve.iter().map(|(w, _, _)| w.sender()).collect(),
        extra_dns: extra_eve.iter().map(|(_, on, m)| (*on, *m)).collect(),
        // What any output writes is built; each output keeps its types.
        types: cfg
            .eve
            .extra
            .iter()
            .fold(cfg.eve.types.clone(), |mut t, x| {
                t.union(&x.types);
                t
            }),
        build,
        responder,
        ips: cfg.ips.clone(),
        app: crate::app::AppConfig {
            ssh_hassh,
            ssh_encryption: match cfg.app_layer.ssh.encryption_handling {
                crate::config::SshEncryptionHandling::TrackOnly => {
                    crate::app::EncryptionHandling::TrackOnly
                }
                crate::config::SshEncryptionHandling::Bypass => {
                    crate::app::EncryptionHandling::Bypass
                }
                crate::config::SshEncryptionHandling::Full => crate::app::EncryptionHandling::Full,
            },
            tls_encryption: match cfg.app_layer.tls.encryption_handling {
                crate::config::SshEncryptionHandling::TrackOnly => {
                    crate::app::EncryptionHandling::TrackOnly
                }
                crate::config::SshEncryptionHandling::Bypass => {
                    crate::app::EncryptionHandling::Bypass
                }
                crate::config::SshEncryptionHandling::Full => crate::app::EncryptionHandling::Full,
            },
            dns_tcp_ports: crate::app::dns::DnsPorts::from_list(&cfg.app_layer.dns.tcp_ports),
            dns_udp_ports: crate::app::dns::DnsPorts::from_list(&cfg.app_layer.dns.udp_ports),
        },
    });
    // One memory budget for TCP reassembly across all threads.
    let stream = StreamContext::new(cfg.stream);
    let new_worker = |source: Source, tc: &ThreadCounters| {
        Worker::new(
            source,
            shared.clone(),
            FlowTable::new(cfg.flow),
            stream.clone(),
            tc.pipeline.clone(),
            tc.source_counters.clone(),
        )
    };

    if let Some(pcap) = &cli.pcap {
        // `--simulate-ips`: the source, and so every packet, is IPS.
        let source = if cli.simulate_ips {
            Source::PcapIps
        } else {
            Source::Pcap
        };
        let tc = thread_counters(source);
        let mut worker = new_worker(source, &tc);
        let result = capture::read_pcap_as(pcap, source, &mut worker, &tc.source_counters);
        worker.finish();
        let summary = result?;
        tracing::info!(
            file = %pcap.display(),
            packets = summary.packets,
            skipped = summary.skipped,
            "pcap read"
        );
        write_stats(&shared, &[tc], &detect_stats, started);
        drop(shared);
        eve.shutdown();
        if let Some(f) = fast {
            f.shutdown();
        }
        if let Some(s) = tls_store {
            s.shutdown();
        }
        for (w, _, _) in extra_eve {
            w.shutdown();
        }
        return Ok(ExitCode::SUCCESS);
    }

    // Open every source before any thread starts.
    let mut opened = Vec::new();
    for &q in &queues {
        let src = NfQueue::open(q, &cfg.nfqueue)?;
        tracing::info!(queue = q, "NFQUEUE bound (IPS)");
        opened.push((Source::Nfq(q), Opened::Nfq(src)));
    }
    for &g in &groups {
        let src = Nflog::open(g, &cfg.nflog)?;
        tracing::info!(group = g, "NFLOG bound (IDS)");
        opened.push((Source::Nflog(g), Opened::Nflog(src)));
    }

    let stop = Arc::new(AtomicBool::new(false));
    let hup = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, stop.clone()).context("cannot install signal handler")?;
    }
    signal_hook::flag::register(signal_hook::consts::SIGHUP, hup.clone())
        .context("cannot install SIGHUP handler")?;

    let mut threads: Vec<(Source, JoinHandle<Result<(), capture::CaptureError>>)> = Vec::new();
    let mut all_counters = Vec::new();
    for (source, src) in opened {
        let tc = thread_counters(source);
        let mut worker = new_worker(source, &tc);
        let counters = tc.source_counters.clone();
        let stop = stop.clone();
        let handle = std::thread::Builder::new()
            .name(source.to_string())
            .spawn(move || {
                let result = match src {
                    Opened::Nfq(mut q) => q.run(&mut worker, &stop, &counters),
                    Opened::Nflog(mut l) => l.run(&mut worker, &stop, &counters),
                };
                worker.tick(Timestamp::now());
                worker.finish();
                result
            })
            .context("cannot start capture thread")?;
        threads.push((source, handle));
        all_counters.push(tc);
    }

    let labels: Vec<String> = all_counters.iter().map(|t| t.source.to_string()).collect();
    tracing::info!(sources = %labels.join(","), eve = %eve_path.display(), "meerkat-sensor running");
    notify::ready();
    notify::status(&format!("capturing from {}", labels.join(", ")));

    let code = supervise(
        &stop,
        &hup,
        &eve,
        &shared,
        &all_counters,
        &detect_stats,
        &cfg,
        started,
        &threads,
    );
    stop.store(true, Ordering::SeqCst);
    notify::stopping();
    let mut failed = code != ExitCode::SUCCESS;
    for (source, handle) in threads {
        match handle.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                failed = true;
                tracing::error!(source = %source, "capture failed: {e:#}");
            }
            Err(_) => {
                failed = true;
                tracing::error!(source = %source, "capture thread panicked");
            }
        }
    }
    write_stats(&shared, &all_counters, &detect_stats, started);
    drop(shared);
    eve.shutdown();
    if let Some(f) = fast {
        f.shutdown();
    }
    if let Some(s) = tls_store {
        s.shutdown();
    }
    for (w, _, _) in extra_eve {
        w.shutdown();
    }
    tracing::info!("meerkat-sensor stopped");
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// The main thread's loop: signals, periodic stats, watchdog. Returns when
/// asked to stop or when a capture thread ended on its own (an error).
#[allow(clippy::too_many_arguments)]
fn supervise(
    stop: &AtomicBool,
    hup: &AtomicBool,
    eve: &EveWriter,
    shared: &Arc<Shared>,
    counters: &[ThreadCounters],
    detect_stats: &DetectStats,
    cfg: &SensorConfig,
    started: Timestamp,
    threads: &[(Source, JoinHandle<Result<(), capture::CaptureError>>)],
) -> ExitCode {
    let watchdog = notify::watchdog_interval();
    let mut last_pet = Instant::now();
    let mut last_stats = Instant::now();
    let interval = cfg.eve.stats_interval;
    loop {
        std::thread::sleep(Duration::from_millis(50));
        if stop.load(Ordering::SeqCst) {
            tracing::info!("stopping: finishing queued packets");
            return ExitCode::SUCCESS;
        }
        if hup.swap(false, Ordering::SeqCst) {
            tracing::info!("SIGHUP: reopening eve.json");
            eve.reopen();
        }
        if let Some((source, _)) = threads.iter().find(|(_, h)| h.is_finished()) {
            tracing::error!(source = %source, "a capture thread ended unexpectedly; stopping");
            return ExitCode::from(1);
        }
        if shared.types.stats && last_stats.elapsed() >= interval {
            last_stats = Instant::now();
            write_stats(shared, counters, detect_stats, started);
        }
        if let Some(w) = watchdog {
            if last_pet.elapsed() >= w {
                last_pet = Instant::now();
                notify::watchdog();
            }
        }
    }
}

/// The default log directory when neither `-l` nor the configuration
/// names one.
pub const DEFAULT_LOG_DIR: &str = "/var/log/meerkat";

/// The rule files to load: none with `--disable-detection`; `-S` files
/// (exclusive) or else the configuration's `rule_files`; plus `-s` files.
fn rule_files(cli: &Cli, cfg: &SensorConfig) -> Vec<PathBuf> {
    if cli.disable_detection {
        return Vec::new();
    }
    let mut v = if cli.rules.is_empty() {
        // As Suricata: a configured rule file that does not exist is a
        // warning (an error with --init-errors-fatal, from the loader).
        let (found, missing): (Vec<PathBuf>, Vec<PathBuf>) = cfg
            .detect
            .rule_paths()
            .into_iter()
            .partition(|p| p.exists());
        for m in &missing {
            tracing::warn!(file = %m.display(), "configured rule file not found; skipped");
        }
        if cli.init_errors_fatal {
            found.into_iter().chain(missing).collect()
        } else {
            found
        }
    } else {
        cli.rules.clone()
    };
    v.extend(cli.extra_rules.iter().cloned());
    v
}

/// Start-up notes for Suricata compatibility: the YAML keys Meerkat has no
/// use for (one line), each unknown `--set` key (a warning, as Suricata),
/// and the Suricata flags accepted without effect.
fn note_compat(cli: &Cli, loaded: &Loaded) {
    if !loaded.ignored.is_empty() {
        tracing::info!(
            "{} setting(s) of {} have no meaning for Meerkat and are ignored: {}",
            loaded.ignored.len(),
            cli.config
                .as_deref()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            summarize_keys(&loaded.ignored)
        );
    }
    for k in &loaded.unknown_set {
        tracing::warn!("--set {k}: Meerkat has no such setting; ignored");
    }
    let mut flags: Vec<String> = cli.ignored.given().into_iter().map(String::from).collect();
    if let Some(m) = &cli.runmode {
        flags.push(format!("--runmode {m} (one thread per capture source)"));
    }
    if cli.pcap_file_continuous {
        flags.push("--pcap-file-continuous (the file is read once)".into());
    }
    if cli.simulate_ips && cli.pcap.is_none() {
        flags.push("--simulate-ips (only applies to -r)".into());
    }
    if !cli.bpf.is_empty() {
        tracing::warn!(
            "BPF filter `{}` is NOT applied (Meerkat has no BPF filtering; filter in the firewall)",
            cli.bpf.join(" ")
        );
    }
    if !flags.is_empty() {
        tracing::info!(
            "Suricata option(s) accepted without effect: {}",
            flags.join(", ")
        );
    }
}

/// Ignored keys, shortened to their section with counts
/// (`app-layer.protocols.http (12)`, `af-packet (5)`), so the line stays
/// readable.
fn summarize_keys(keys: &[String]) -> String {
    let mut groups: Vec<(String, usize)> = Vec::new();
    for k in keys {
        let c: Vec<&str> = k.split('.').collect();
        let depth = match c.as_slice() {
            ["app-layer", "protocols", ..] => 3,
            ["outputs", _, ..] => 3,
            [_, n, ..] if n.parse::<usize>().is_ok() => 1,
            _ => 2,
        };
        let g = c[..depth.min(c.len())].join(".");
        match groups.last_mut() {
            Some((last, n)) if *last == g => *n += 1,
            _ => groups.push((g, 1)),
        }
    }
    groups
        .into_iter()
        .map(|(g, n)| if n > 1 { format!("{g} ({n})") } else { g })
        .collect::<Vec<_>>()
        .join(", ")
}

fn thread_counters(source: Source) -> ThreadCounters {
    ThreadCounters {
        source,
        source_counters: Arc::new(SourceCounters::default()),
        pipeline: Arc::new(PipelineCounters::default()),
    }
}

fn write_stats(
    shared: &Shared,
    counters: &[ThreadCounters],
    detect: &DetectStats,
    started: Timestamp,
) {
    if !shared.types.stats {
        return;
    }
    for tc in counters {
        if let Source::Nfq(q) = tc.source {
            if let Some((dropped, user_dropped)) = capture::kernel_queue_stats(q) {
                tc.source_counters
                    .kernel_lost
                    .fetch_max(dropped + user_dropped, Ordering::Relaxed);
            }
        }
    }
    let now = Timestamp::now();
    let sources: Vec<(Source, &SourceCounters)> = counters
        .iter()
        .map(|t| (t.source, &*t.source_counters))
        .collect();
    let pipelines: Vec<&PipelineCounters> = counters.iter().map(|t| &*t.pipeline).collect();
    let uptime = (now.secs - started.secs).max(0) as u64;
    let mut ev = stats_event(uptime, &sources, &pipelines, detect, now);
    // Writer failures (a full disk), reported once lines are written
    // again, and the Redis sink's counters.
    let eve = ev
        .stats
        .as_mut()
        .and_then(|s| s.pointer_mut("/capture/eve"));
    if let Some(e) = eve.and_then(|v| v.as_object_mut()) {
        shared.eve.add_stats(e);
    }
    shared.eve.send(&ev);
    for extra in &shared.extra_eve {
        extra.send(&ev);
    }
}

fn log_report(report: &RuleLoadReport) {
    for e in &report.errors {
        tracing::error!("{e}");
    }
    tracing::info!(
        loaded = report.loaded,
        skipped = report.skipped,
        failed = report.failed,
        "rules loaded"
    );
}

/// `-T`: prints what was checked; non-zero when any rule has a syntax
/// error.
fn check_only(
    cli: &Cli,
    report: &RuleLoadReport,
    threshold_errors: &[crate::detect::threshold::config::LineError],
) -> ExitCode {
    for f in &report.files {
        println!(
            "{}: {} loaded, {} skipped (unsupported), {} failed",
            f.path, f.loaded, f.skipped, f.failed
        );
    }
    // What is skipped, one line per keyword (each rule also has its
    // warning above).
    for (k, n) in report.skipped_keywords() {
        println!("skipped: {n} rule(s): {k}");
    }
    for e in &report.errors {
        eprintln!("{e}");
    }
    let cfg_name = cli
        .config
        .as_deref()
        .map(Path::display)
        .map(|d| d.to_string())
        .unwrap_or_else(|| "built-in defaults".into());
    // As Suricata's -T: a bad threshold.config line fails the test.
    for e in threshold_errors {
        eprintln!("Error loading threshold configuration: {e}");
    }
    if report.failed > 0 || !threshold_errors.is_empty() {
        eprintln!(
            "meerkat-sensor: configuration {cfg_name} OK, but {} rule(s) and {} threshold.config line(s) have errors",
            report.failed,
            threshold_errors.len()
        );
        ExitCode::from(1)
    } else {
        println!(
            "meerkat-sensor: configuration {cfg_name} and {} rule(s) OK ({} skipped)",
            report.loaded, report.skipped
        );
        ExitCode::SUCCESS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// suricata-verify's run.py reads the version with
    /// `(?:Suricata version |^)(\d+)\.?(\d+)?\.?(\d+)?` over `str(bytes)`,
    /// so the line must contain "Suricata version 7.0.10".
    #[test]
    fn version_line_reads_as_suricata_7_0_10() {
        let re = regex::Regex::new(r"Suricata version (\d+)\.(\d+)\.(\d+)").unwrap();
        let line = version_line();
        let c = re.captures(&line).expect(&line);
        assert_eq!((&c[1], &c[2], &c[3]), ("7", "0", "10"));
        assert!(line.starts_with("This is Meerkat version "));
    }

    /// run.py takes `Features:` words and `NAME support: yes` lines as
    /// features; only what Meerkat has may appear.
    #[test]
    fn build_info_features_as_run_py_reads_them() {
        let info = build_info();
        let mut features: Vec<String> = Vec::new();
        let mut in_config = false;
        for line in info.lines() {
            if let Some(rest) = line.strip_prefix("Features:") {
                features.extend(rest.split_whitespace().map(String::from));
            }
            if line.contains("Suricata Configuration") {
                in_config = true;
            }
            if in_config {
                if let Some((k, v)) = line.split_once(" support:") {
                    if v.trim().starts_with("yes") {
                        features.push(k.trim().to_string());
                    }
                }
            }
        }
        for f in ["NFQ", "NFLOG", "RUST", "NFQueue", "HAVE_JA3", "JA3"] {
            assert!(features.iter().any(|x| x == f), "{f} missing: {features:?}");
        }
        for f in ["MAGIC", "HAVE_JA4", "LIBNET1.1", "GeoIP2", "liblz4", "LUA"] {
            assert!(
                !features.iter().any(|x| x == f),
                "{f} claimed: {features:?}"
            );
        }
    }
}
