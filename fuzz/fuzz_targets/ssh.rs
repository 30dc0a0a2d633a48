//! The SSH banner parser, fed the same bytes once whole and once split at
//! fuzzer-chosen points. Invariants: no panic; splitting never changes the
//! outcome (progress, banner, cut flag); a banner is at most 255 bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use meerkat_sensor::app::ssh::{find_line, parse_banner, probe, SideState, MAX_BANNER_LEN};

fuzz_target!(|input: &[u8]| {
    let Some((&ctl, data)) = input.split_first() else {
        return;
    };
    let server = ctl & 1 != 0;
    let _ = parse_banner(data);
    let _ = find_line(data);
    let _ = probe(data, server);

    let mut whole = SideState::default();
    whole.feed(data, server);

    // Split points from the control byte's upper bits and the data itself.
    let mut split = SideState::default();
    let mut rest = data;
    let mut step = usize::from(ctl >> 1) + 1;
    while !rest.is_empty() {
        let n = step.min(rest.len());
        split.feed(&rest[..n], server);
        rest = &rest[n..];
        step = usize::from(rest.first().copied().unwrap_or(1) % 7) + 1;
    }
    assert_eq!(
        whole.progress, split.progress,
        "progress depends on segmentation"
    );
    assert_eq!(whole.banner, split.banner, "banner depends on segmentation");
    assert_eq!(whole.long_banner, split.long_banner);
    if let Some(b) = &whole.banner {
        // Lossy UTF-8 turns one bad byte into one (3-byte) character:
        // count characters, which are at most the input bytes kept.
        assert!(
            b.software_version.chars().count() <= MAX_BANNER_LEN,
            "banner longer than {MAX_BANNER_LEN}"
        );
    }
});
