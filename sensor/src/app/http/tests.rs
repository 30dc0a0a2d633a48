use super::*;
use std::io::Write;

fn feed_split(st: &mut HttpState, dir: Direction, data: &[u8], step: usize) -> usize {
    let mut complete = 0;
    for piece in data.chunks(step.max(1)) {
        if st.feed(dir, piece).tx_complete {
            complete += 1;
        }
    }
    complete
}

const REQ: &[u8] =
    b"GET /a/./b/../c?x=%41 HTTP/1.1\r\nHost: Www.Example.com:8080\r\nUser-Agent: curl/8\r\n\r\n";
const RESP: &[u8] =
    b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello";

#[test]
fn request_response_any_split() {
    for step in [1, 2, 3, 5, 13, 1000] {
        let mut st = HttpState::default();
        feed_split(&mut st, Direction::ToServer, REQ, step);
        let n = feed_split(&mut st, Direction::ToClient, RESP, step);
        assert_eq!(n, 1, "step {step}");
        let tx = st.tx(0).unwrap();
        assert_eq!(tx.method, b"GET");
        assert_eq!(tx.uri_raw, b"/a/./b/../c?x=%41");
        assert_eq!(tx.uri, b"/a/c?x=A");
        assert_eq!(tx.protocol, b"HTTP/1.1");
        assert_eq!(tx.hostname().unwrap(), b"www.example.com");
        assert_eq!(
            tx.header(Direction::ToServer, "user-agent").unwrap(),
            b"curl/8"
        );
        assert_eq!(tx.status, Some(200));
        assert_eq!(tx.resp_body.data, b"hello");
        assert!(tx.complete());
        let f = tx.resp_file.as_ref().unwrap();
        assert_eq!(
            (f.name.as_slice(), f.size, f.state),
            (&b"/a/c"[..], 5, FileState::Closed)
        );
        assert_eq!(st.next_complete_unlogged(), Some(0));
        assert_eq!(st.next_complete_unlogged(), None);
        assert_eq!(st.next_file_to_log(), Some((0, Direction::ToClient)));
        assert!(st.anomalies.is_empty(), "{:?}", st.anomalies);
    }
}

#[test]
fn pipelined_keepalive_chunked_gzip() {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(b"X5O!P%@AP EICAR").unwrap();
    let z = gz.finish().unwrap();
    let mut resp2 =
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Encoding: gzip\r\n\r\n".to_vec();
    for c in z.chunks(7) {
        resp2.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
        resp2.extend_from_slice(c);
        resp2.extend_from_slice(b"\r\n");
    }
    resp2.extend_from_slice(b"0\r\n\r\n");
    let reqs = b"GET /1 HTTP/1.1\r\nHost: a\r\n\r\nPOST /2 HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabcHEAD /3 HTTP/1.1\r\n\r\n";
    let mut resps = RESP.to_vec();
    resps.extend_from_slice(&resp2);
    resps.extend_from_slice(b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n");
    for step in [1, 4, 1000] {
        let mut st = HttpState::default();
        feed_split(&mut st, Direction::ToServer, reqs, step);
        assert_eq!(st.txs.len(), 3);
        assert_eq!(st.tx(1).unwrap().req_body.data, b"abc");
        assert!(feed_split(&mut st, Direction::ToClient, &resps, step) >= 1);
        let mut n = 0;
        while st.next_complete_unlogged().is_some() {
            n += 1;
        }
        assert_eq!(n, 3, "step {step}");
        assert_eq!(st.tx(1).unwrap().resp_body.data, b"X5O!P%@AP EICAR");
        assert!(st.tx(2).unwrap().complete());
        assert_eq!(st.tx(2).unwrap().resp_body.len, 0);
    }
}

#[test]
fn continue_connect_and_close() {
    let mut st = HttpState::default();
    st.feed(
        Direction::ToServer,
        b"POST /u HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n",
    );
    st.feed(Direction::ToClient, b"HTTP/1.1 100 Continue\r\n\r\n");
    st.feed(Direction::ToServer, b"ok");
    let up = st.feed(
        Direction::ToClient,
        b"HTTP/1.0 200 OK\r\n\r\nbody until close",
    );
    assert!(!up.tx_complete);
    let up = st.on_close(Direction::ToClient);
    assert!(up.tx_complete);
    let tx = st.tx(0).unwrap();
    assert_eq!(tx.status, Some(200));
    assert_eq!(tx.resp_body.data, b"body until close");

    let mut st = HttpState::default();
    st.feed(Direction::ToServer, b"CONNECT h:443 HTTP/1.1\r\n\r\n");
    let up = st.feed(
        Direction::ToClient,
        b"HTTP/1.1 200 Connection established\r\n\r\n\x16\x03\x01",
    );
    assert!(up.tx_complete);
    st.feed(
        Direction::ToServer,
        b"\x16\x03\x01\x00\x00GET / HTTP/1.1\r\n\r\n",
    );
    assert_eq!(st.txs.len(), 1);
}

#[test]
fn long_lines_and_garbage_are_bounded() {
    let mut st = HttpState::default();
    let mut req = b"GET / HTTP/1.1\r\nX: ".to_vec();
    req.extend(std::iter::repeat_n(b'a', 200_000));
    req.extend_from_slice(b"\r\nMissing colon\r\n\r\n");
    feed_split(&mut st, Direction::ToServer, &req, 4096);
    let names: Vec<_> = st.take_anomalies().into_iter().map(|a| a.1).collect();
    assert!(names.contains(&"REQUEST_FIELD_TOO_LONG"), "{names:?}");
    assert!(names.contains(&"REQUEST_FIELD_MISSING_COLON"), "{names:?}");
    assert!(st.tx(0).unwrap().req_headers_raw.len() <= MAX_HEAD);
    assert_eq!(st.tx(0).unwrap().req_progress, Progress::Done);
    // Bytes of every value, split anywhere: no panic.
    let mut st = HttpState::default();
    let junk: Vec<u8> = (0..=255u8).cycle().take(5000).collect();
    feed_split(&mut st, Direction::ToServer, &junk, 3);
    feed_split(&mut st, Direction::ToClient, &junk, 5);
    let mut bad =
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Encoding: gzip\r\n\r\nzz\r\n"
            .to_vec();
    bad.extend_from_slice(&junk);
    feed_split(&mut st, Direction::ToClient, &bad, 1);
}

/// Found by the `http` fuzz target: a response starting with a prefix of
/// `HTTP/` split before the probe could decide was parsed as a status line
/// when split and as an unframed (HTTP/0.9-style) body when whole.
#[test]
fn unframed_response_is_the_same_at_any_split() {
    let resp: &[u8] = b"HTxx not a status line\r\nmore body\r\n";
    let mut lens = Vec::new();
    for step in [1, 2, 3, 4, 1000] {
        let mut st = HttpState::default();
        feed_split(
            &mut st,
            Direction::ToServer,
            b"GET / HTTP/1.1\r\n\r\n",
            1000,
        );
        feed_split(&mut st, Direction::ToClient, resp, step);
        let tx = st.tx(0).unwrap();
        assert_eq!(tx.status, None, "step {step}");
        assert_eq!(tx.resp_body.data, resp, "step {step}");
        lens.push(tx.resp_body.len);
    }
    assert!(lens.iter().all(|&l| l == resp.len() as u64));
}
