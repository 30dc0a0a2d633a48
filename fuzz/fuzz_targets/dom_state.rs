//! meerkat-dom's state file (`bans.jsonl`): arbitrary bytes as the journal,
//! loaded (damaged lines skipped and counted), compacted, then loaded
//! again. Invariants: no panic; loading what was compacted gives the same
//! bans (nothing lost or invented by a compaction).
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use meerkat_dom::state::{BanRecord, BanStore};

#[path = "common_dom.rs"]
mod common_dom;

fn dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| common_dom::scratch("state"))
}

fn sorted(mut v: Vec<BanRecord>) -> Vec<BanRecord> {
    v.sort_by_key(|r| r.ip);
    v
}

/// A fixed "now" so that expiry is reproducible: 2025-01-01.
const NOW: u64 = 1_735_689_600_000;

fuzz_target!(|data: &[u8]| {
    let d = dir();
    let _ = std::fs::remove_dir_all(d);
    std::fs::create_dir_all(d).expect("state dir");
    std::fs::write(d.join("bans.jsonl"), data).expect("write journal");
    let remember = Duration::from_secs(86_400);
    let Ok(first) = BanStore::open(d, remember, NOW) else {
        return;
    };
    let a = sorted(first.records());
    drop(first);
    let second = BanStore::open(d, remember, NOW).expect("reopening a compacted journal");
    assert_eq!(second.damaged_lines, 0, "compaction wrote damaged lines");
    let b = sorted(second.records());
    assert_eq!(a.len(), b.len(), "compaction changed the number of bans");
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x.ip, y.ip);
        assert_eq!(x.rule, y.rule);
        assert_eq!(x.expires, y.expires);
        assert_eq!(x.offence, y.offence);
    }
});
