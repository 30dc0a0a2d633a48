//! The rules parser and loader (Suricata syntax) on arbitrary text.
//! Invariants: no panic; every error carries a `file:line`; the engine
//! holds exactly the rules reported loaded.
//! Seeds: ET Open lines (scripts/fuzz.sh), dictionary fuzz/dict/rules.dict.
#![no_main]

use libfuzzer_sys::fuzz_target;
use meerkat_sensor::detect::{Engine, Vars};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (engine, report) = Engine::load_str(text, "fuzz.rules", &Vars::default());
    assert_eq!(engine.len(), report.loaded);
    for e in &report.errors {
        assert!(
            e.to_string().contains("fuzz.rules:"),
            "error without file:line: {e}"
        );
    }
    // Every loaded rule is reachable by index.
    for i in 0..engine.len() as u32 {
        assert!(engine.get(i).is_some());
    }
});
