//! meerkat-dom's EVE line parser and judge: each input line is parsed as
//! the follower hands it over, then judged by the example rule pack
//! (matchers, invert, thresholds, escalation, allow/home_net guard).
//! Invariant: no panic on any line.
#![no_main]

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use meerkat_dom::config::Config;
use meerkat_dom::event::{event_type, key_fields, parse_line};
use meerkat_dom::guard::Guard;
use meerkat_dom::rules::Thresholds;

#[path = "common_dom.rs"]
mod common_dom;

fn config() -> &'static Config {
    static CFG: OnceLock<Config> = OnceLock::new();
    CFG.get_or_init(|| common_dom::example_config(&common_dom::scratch("eve")))
}

fuzz_target!(|data: &[u8]| {
    let cfg = config();
    let guard = Guard::from_config(cfg);
    let mut thresholds = Thresholds::new(64);
    let now = Instant::now();
    for (i, line) in data.split(|&b| b == b'\n').enumerate() {
        let Ok(ev) = parse_line(line) else { continue };
        let ty = event_type(&ev);
        let _ = key_fields(&ev);
        for rule in &cfg.rules {
            let Some(hit) = rule.evaluate(&ev, ty) else {
                continue;
            };
            let _ = guard.check(hit.ip);
            let at = now + Duration::from_millis(i as u64);
            if let Some(t) = rule.threshold {
                let _ = thresholds.hit(&rule.name, hit.ip, t, at);
            }
            let d = rule.ban_duration((i % 40) as u32);
            assert!(d >= rule.ban, "escalation shortened a ban");
            break;
        }
    }
});
