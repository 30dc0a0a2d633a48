//! Start-up and supervision: the engine thread, the control socket,
//! signals (SIGINT/SIGTERM stop, SIGHUP reloads), systemd notifications.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use meerkat_shared::notify;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::oneshot;

use crate::config::Config;
use crate::control::{self, Request, Response};
use crate::engine::{Engine, Msg};
use crate::state::now_ms;

/// Bound of the engine's message queue.
const QUEUE: usize = 1024;

/// Runs the daemon until SIGINT or SIGTERM.
pub async fn run(cfg: Config) -> anyhow::Result<()> {
    let (tx, rx) = sync_channel::<Msg>(QUEUE);
    let heartbeat = Arc::new(AtomicU64::new(now_ms()));
    let socket = cfg.socket.clone();
    let config_path = cfg.path.clone();
    let listener = control::bind(&socket).context("starting the control socket")?;
    let fleet_cfg = cfg.fleet.clone();
    let stream_cfg = cfg.input.redis.clone();
    let start_at = cfg.input.start_at;
    let state_dir = cfg.state_dir.clone();
    let mut engine = {
        let tx = tx.clone();
        let hb = heartbeat.clone();
        tokio::task::spawn_blocking(move || Engine::new(cfg, tx, hb))
            .await
            .context("engine start-up panicked")?
            .context("starting the engine")?
    };
    // The Redis tasks start after the engine restored its bans, so the
    // first received batch lands on the restored state.
    if let Some(f) = &fleet_cfg {
        engine.attach_fleet(crate::fleet::start(f, &state_dir, tx.clone()));
    }
    if let Some(r) = stream_cfg {
        let stats = Arc::new(crate::redis_input::InputStats::default());
        let saved = crate::fleet::cursor::load(&state_dir, crate::fleet::cursor::INPUT, &r.key);
        tokio::spawn(crate::redis_input::run(
            r,
            start_at,
            saved,
            tx.clone(),
            stats.clone(),
        ));
        engine.attach_input(stats);
    }
    let engine_thread = std::thread::Builder::new()
        .name("dom-engine".into())
        .spawn(move || engine.run(rx))
        .context("spawning the engine thread")?;

    let ctl_tx = tx.clone();
    let ctl_path = config_path.clone();
    let server = tokio::spawn(async move {
        loop {
            match listener.accept().await {
                Ok((stream, _)) => {
                    let tx = ctl_tx.clone();
                    let path = ctl_path.clone();
                    tokio::spawn(async move {
                        control::serve_conn(stream, move |req| {
                            let tx = tx.clone();
                            let path = path.clone();
                            async move { handle(req, &tx, &path).await }
                        })
                        .await;
                    });
                }
                Err(e) => {
                    tracing::warn!(error = %e, "control socket accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    });

    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    let mut hup = signal(SignalKind::hangup()).context("installing the SIGHUP handler")?;
    let wd = notify::watchdog_interval();
    let mut wd_tick = tokio::time::interval(wd.unwrap_or(Duration::from_secs(3600)));
    notify::ready();
    tracing::info!(socket = %socket.display(), "meerkat-dom running");
    loop {
        tokio::select! {
            _ = term.recv() => { tracing::info!("SIGTERM: stopping"); break; }
            _ = int.recv() => { tracing::info!("SIGINT: stopping"); break; }
            _ = hup.recv() => {
                tracing::info!("SIGHUP: reloading {}", config_path.display());
                let _ = reload(&tx, &config_path).await;
            }
            _ = wd_tick.tick(), if wd.is_some() => {
                // Pet the watchdog only while the engine loop is alive.
                let age = now_ms().saturating_sub(heartbeat.load(Ordering::Relaxed));
                if age < 30_000 {
                    notify::watchdog();
                } else {
                    tracing::error!(stalled_ms = age, "engine thread stalled; not petting the watchdog");
                }
            }
        }
    }
    notify::stopping();
    server.abort();
    let _ = tx.send(Msg::Shutdown);
    let _ = tokio::task::spawn_blocking(move || engine_thread.join()).await;
    let _ = std::fs::remove_file(&socket);
    Ok(())
}

async fn handle(req: Request, tx: &SyncSender<Msg>, config_path: &Path) -> Response {
    if req == Request::Reload {
        return match reload(tx, config_path).await {
            Ok(s) => Response::ok(serde_json::json!({ "reloaded": s })),
            Err(e) => Response::err(e),
        };
    }
    let (rtx, rrx) = oneshot::channel();
    if tx.try_send(Msg::Control(req, rtx)).is_err() {
        return Response::err("daemon busy or stopping; retry");
    }
    rrx.await
        .unwrap_or_else(|_| Response::err("engine stopped before answering"))
}

/// Validates the configuration file first; a bad file keeps the running
/// configuration and says why.
async fn reload(tx: &SyncSender<Msg>, path: &Path) -> Result<String, String> {
    notify::reloading();
    let p = path.to_path_buf();
    let loaded = tokio::task::spawn_blocking(move || Config::load(&p)).await;
    let result = match loaded {
        Ok(Ok(cfg)) => {
            let (rtx, rrx) = oneshot::channel();
            match tx.try_send(Msg::Reload(Box::new(cfg), rtx)) {
                Ok(()) => rrx.await.unwrap_or_else(|_| Err("engine stopped".into())),
                Err(_) => Err("daemon busy; retry the reload".into()),
            }
        }
        Ok(Err(e)) => Err(format!(
            "new configuration rejected, keeping the running one: {e}"
        )),
        Err(e) => Err(format!("reload task failed: {e}")),
    };
    if let Err(e) = &result {
        tracing::error!("reload failed: {e}");
    }
    notify::reloaded();
    result
}
