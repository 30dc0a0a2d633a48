//! The sensor's TOML configuration (`-c FILE`) on arbitrary text.
//! Invariant: no panic; errors name the file.
#![no_main]

use libfuzzer_sys::fuzz_target;
use meerkat_sensor::config::SensorConfig;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(e) = SensorConfig::parse(text, "fuzz.toml") {
        let _ = e.to_string();
    }
});
