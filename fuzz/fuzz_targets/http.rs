//! The HTTP/1.x parser (`app::http`), fed a client stream and a server
//! stream once whole and once split at fuzzer-chosen points. Invariants:
//! no panic; segmentation never changes the transactions (request line,
//! URI raw and normalized, status, headers, bodies, progress); bodies
//! stay within `BODY_LIMIT`. One allowance: when a compressed body is
//! corrupt (`GZIP_DECOMPRESSION_FAILED`), what comes out depends on where
//! the input was cut: the decoder works in deflate blocks, so a cut can
//! let a few decoded bytes out before the error, or none, and a stream
//! that produced nothing is passed through as it is (as libhtp, whose
//! output there depends on the TCP segments too). Such bodies are only
//! checked for the limits.
//!
//! Input: byte 0 picks the split steps, byte 1 where the client stream
//! ends and the server stream begins, the rest is the two streams.
#![no_main]

use libfuzzer_sys::fuzz_target;
use meerkat_sensor::app::http::{probe, uri, HttpState, Progress, BODY_LIMIT};
use meerkat_sensor::packet::Direction;

fn feed_split(st: &mut HttpState, dir: Direction, data: &[u8], first_step: usize) {
    let mut rest = data;
    let mut step = first_step;
    while !rest.is_empty() {
        let n = step.min(rest.len());
        st.feed(dir, &rest[..n]);
        rest = &rest[n..];
        step = usize::from(rest.first().copied().unwrap_or(1) % 11) + 1;
    }
}

/// What a transaction looks like from outside, for comparing two runs
/// (borrowed: formatting every run made the target several times slower).
#[derive(Debug, PartialEq)]
struct Seen<'a> {
    tx_id: u64,
    request_line: &'a [u8],
    method: &'a [u8],
    uri_raw: &'a [u8],
    uri: &'a [u8],
    protocol: &'a [u8],
    req_headers_raw: &'a [u8],
    req_headers: usize,
    status: Option<u16>,
    resp_headers: usize,
    resp_headers_raw: &'a [u8],
    progress: (Progress, Progress),
}

fn summary(st: &HttpState) -> Vec<Seen<'_>> {
    st.txs
        .iter()
        .map(|t| Seen {
            tx_id: t.tx_id,
            request_line: &t.request_line,
            method: &t.method,
            uri_raw: &t.uri_raw,
            uri: &t.uri,
            protocol: &t.protocol,
            req_headers_raw: &t.req_headers_raw,
            req_headers: t.req_headers.len(),
            status: t.status,
            resp_headers: t.resp_headers.len(),
            resp_headers_raw: &t.resp_headers_raw,
            progress: (t.req_progress, t.resp_progress),
        })
        .collect()
}

/// The decoded bodies of every transaction, both directions.
fn bodies(st: &HttpState) -> Vec<(u64, &[u8])> {
    st.txs
        .iter()
        .flat_map(|t| [&t.req_body, &t.resp_body])
        .map(|b| (b.len, b.data.as_slice()))
        .collect()
}

/// A decoder failed (or so many anomalies came that one may be hidden).
fn corrupt(st: &HttpState) -> bool {
    st.anomalies.len() >= 16
        || st
            .anomalies
            .iter()
            .any(|(_, a)| *a == "GZIP_DECOMPRESSION_FAILED")
}

fuzz_target!(|input: &[u8]| {
    let [ctl, cut, data @ ..] = input else {
        return;
    };
    let cut = data.len() * usize::from(*cut) / 255;
    let (client, server) = data.split_at(cut);
    let _ = probe(client, false);
    let _ = probe(server, true);
    let _ = uri::normalize(client);

    let mut whole = HttpState::default();
    whole.feed(Direction::ToServer, client);
    whole.feed(Direction::ToClient, server);

    let mut split = HttpState::default();
    feed_split(
        &mut split,
        Direction::ToServer,
        client,
        usize::from(ctl & 15) + 1,
    );
    feed_split(
        &mut split,
        Direction::ToClient,
        server,
        usize::from(ctl >> 4) + 1,
    );

    assert_eq!(
        summary(&whole),
        summary(&split),
        "segmentation changed the transactions"
    );
    let (a, b) = (bodies(&whole), bodies(&split));
    if corrupt(&whole) || corrupt(&split) {
        assert_eq!(a.len(), b.len());
    } else {
        assert_eq!(a, b, "segmentation changed a body");
    }
    for st in [&mut whole, &mut split] {
        for t in &st.txs {
            assert!(t.req_body.data.len() <= BODY_LIMIT);
            assert!(t.resp_body.data.len() <= BODY_LIMIT);
        }
        st.on_close(Direction::ToServer);
        st.on_close(Direction::ToClient);
        while st.next_unlogged_at_end().is_some() {}
        while st.next_file_to_log().is_some() {}
        let _ = st.take_anomalies();
    }
});
