//! meerkat-dom's control-socket commands: each input line is decoded as
//! the socket server does (length limit, JSON request) and handed to a
//! real engine (dry-run backend, state in a scratch directory) running on
//! its own thread, exactly as the daemon does. Invariants: no panic, every
//! request gets a response, and the engine stays up.
#![no_main]

use std::sync::atomic::AtomicU64;
use std::sync::mpsc::{sync_channel, SyncSender};
use std::sync::{Arc, Mutex, OnceLock};

use libfuzzer_sys::fuzz_target;
use meerkat_dom::control::{Request, Response, MAX_REQUEST};
use meerkat_dom::engine::{Engine, Msg};

#[path = "common_dom.rs"]
mod common_dom;

fn engine() -> &'static Mutex<SyncSender<Msg>> {
    static TX: OnceLock<Mutex<SyncSender<Msg>>> = OnceLock::new();
    TX.get_or_init(|| {
        let cfg = common_dom::example_config(&common_dom::scratch("control"));
        let (tx, rx) = sync_channel(16);
        let e = Engine::new(cfg, tx.clone(), Arc::new(AtomicU64::new(0))).expect("engine");
        std::thread::spawn(move || e.run(rx));
        Mutex::new(tx)
    })
}

fuzz_target!(|data: &[u8]| {
    let tx = engine().lock().expect("engine sender");
    for line in data.split(|&b| b == b'\n') {
        if line.len() > MAX_REQUEST {
            continue; // answered with an error before any parsing
        }
        let Ok(req) = serde_json::from_slice::<Request>(line) else {
            continue;
        };
        if req == Request::Reload {
            continue; // handled by the daemon (re-reads the config file), not the engine
        }
        let (rtx, rrx) = tokio::sync::oneshot::channel::<Response>();
        tx.send(Msg::Control(req, rtx)).expect("engine thread gone");
        let resp = rrx.blocking_recv().expect("engine dropped a request");
        assert!(
            resp.ok || resp.error.is_some(),
            "error response without a reason"
        );
        serde_json::to_vec(&resp).expect("response serializes");
    }
});
