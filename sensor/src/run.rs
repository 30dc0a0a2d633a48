//! Start-up, the capture threads, and the supervisor loop (signals, stats,
//! systemd notifications, orderly shutdown).
//!
//! Order matters: configuration and rules are checked first, then the EVE
//! file and every capture source are opened (so a failure is reported
//! before any traffic is touched), and only then do the capture threads
//! start. On SIGINT/SIGTERM each thread finishes what is queued, gives
//! every packet its verdict, ends its flows, and the last stats event is
//! written before the EVE file is closed.

use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use meerkat_shared::notify;

use crate::capture::{self, NfQueue, Nflog, PacketHandler};
use crate::cli::Cli;
use crate::config::SensorConfig;
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

/// Runs the sensor as the command line says.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let cfg = match &cli.config {
        Some(path) => SensorConfig::load(path)?,
        None => SensorConfig::parse("", "built-in defaults")?,
    };
    let vars = Vars {
        address: cfg.vars.address.clone().into_iter().collect(),
        port: cfg.vars.port.clone().into_iter().collect(),
    };
    let started = Timestamp::now();
    let (engine, report) = Engine::load_files(&cli.rules, &vars);
    if cli.test {
        return Ok(check_only(&cli, &report));
    }
    log_report(&report);
    if let Some(f) = report.fatal_files().next() {
        bail!(
            "rules file {} has {} error(s) and no valid rule (see the errors above); fix it or check with -T",
            f.path,
            f.failed
        );
    }
    if cli.rules.is_empty() {
        tracing::warn!(
            "no rules file given (-S): the sensor will log ssh, flow and stats events only"
        );
    }

    let queues = cli.queue_numbers();
    let groups = cli.nflog_groups();
    if cli.pcap.is_none() && queues.is_empty() && groups.is_empty() {
        bail!("nothing to capture: give -q QUEUE (NFQUEUE, IPS), --nflog GROUP (NFLOG, IDS), or -r FILE (pcap)");
    }
    if !cli.log_dir.is_dir() {
        bail!(
            "log directory {} does not exist; create it or pass -l DIR",
            cli.log_dir.display()
        );
    }
    let eve_path = cli.log_dir.join("eve.json");
    let eve = EveWriter::open(&eve_path, &cfg.eve)
        .with_context(|| format!("cannot open EVE log {}", eve_path.display()))?;

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
    let shared = Arc::new(Shared {
        engine: Arc::new(engine),
        eve: eve.sender(),
        types: cfg.eve.types.clone(),
        build: cfg.eve.build_opts(),
        responder,
        ips: cfg.ips.clone(),
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
        let tc = thread_counters(Source::Pcap);
        let mut worker = new_worker(Source::Pcap, &tc);
        let result = capture::read_pcap(pcap, &mut worker, &tc.source_counters);
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
    let ev = stats_event(uptime, &sources, &pipelines, detect, now);
    shared.eve.send(&ev);
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
fn check_only(cli: &Cli, report: &RuleLoadReport) -> ExitCode {
    for f in &report.files {
        println!(
            "{}: {} loaded, {} skipped (unsupported), {} failed",
            f.path, f.loaded, f.skipped, f.failed
        );
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
    if report.failed > 0 {
        eprintln!(
            "meerkat-sensor: configuration {cfg_name} OK, but {} rule(s) have errors",
            report.failed
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
