//! The TLS app layer, fed a two-direction byte stream once per direction
//! whole and once split at fuzzer-chosen points. Invariants: no panic;
//! splitting never changes what was parsed (SNI, versions, JA3/JA3S,
//! certificate chain, progress); the TLS keywords' probe and the X.509
//! decoder take any bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use meerkat_sensor::app::tls::{cert, hello, probe, TlsState};
use meerkat_sensor::packet::Direction;

/// Feeds `data` as alternating client/server runs (a 2-byte header per
/// run: direction bit and length), each run cut into pieces of `step`
/// bytes (`step` 0: whole).
fn run(data: &[u8], step: usize) -> TlsState {
    let mut t = TlsState::default();
    let mut rest = data;
    while let [hdr, len, tail @ ..] = rest {
        let dir = if hdr & 1 == 0 {
            Direction::ToServer
        } else {
            Direction::ToClient
        };
        let n = usize::from(*len).max(1) * 8;
        let n = n.min(tail.len());
        let (chunk, next) = tail.split_at(n);
        if step == 0 {
            t.feed(dir, chunk);
        } else {
            for piece in chunk.chunks(step) {
                t.feed(dir, piece);
            }
        }
        rest = next;
    }
    t.on_eof();
    t
}

fn summary(t: &TlsState) -> impl PartialEq + std::fmt::Debug {
    (
        t.client.sni.clone(),
        t.client.version,
        t.server.version,
        t.client.ja3.clone(),
        t.server.ja3.clone(),
        t.server.certs.clone(),
        t.server.cert0.clone(),
        t.client.progress,
        t.server.progress,
        t.session_resumed,
    )
}

fuzz_target!(|input: &[u8]| {
    let Some((&ctl, data)) = input.split_first() else {
        return;
    };
    let _ = probe(data, ctl & 1 != 0);
    let _ = hello::parse(data, ctl & 2 != 0, ctl & 4 != 0);
    let _ = cert::decode(data);

    let whole = run(data, 0);
    // Errors drop the rest of the input they occur in, so only an
    // error-free stream must parse the same when split.
    if whole.errors == 0 {
        let split = run(data, usize::from(ctl >> 3) + 1);
        if split.errors == 0 {
            assert_eq!(summary(&whole), summary(&split));
        }
    }
});
