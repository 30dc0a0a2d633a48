//! meerkat-dom's TOML configuration (`--check -c FILE`) on arbitrary text.
//! Inputs with `include` are skipped: an include reads other files, which
//! would make the target depend on the file system.
//! Invariant: no panic; every error is displayable.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use meerkat_dom::config::Config;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if text.contains("include") {
        return;
    }
    match Config::parse(Path::new("/nonexistent/fuzz-dom.toml"), text) {
        Ok(cfg) => {
            for r in &cfg.rules {
                let _ = r.ban_duration(3);
            }
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
