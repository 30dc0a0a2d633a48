use super::hello::tests::{client_hello_body, sni_ext};
use super::hello::{EXT_EC_POINT_FORMATS, EXT_GROUPS, EXT_SUPPORTED_VERSIONS};
use super::*;

const CERT: &[u8] = include_bytes!("testdata/cert.der");

fn record(ct: u8, ver: u16, body: &[u8]) -> Vec<u8> {
    let mut r = vec![ct];
    r.extend_from_slice(&ver.to_be_bytes());
    r.extend_from_slice(&(body.len() as u16).to_be_bytes());
    r.extend_from_slice(body);
    r
}

fn msg(ty: u8, body: &[u8]) -> Vec<u8> {
    let mut m = vec![ty];
    m.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    m.extend_from_slice(body);
    m
}

fn client_hello() -> Vec<u8> {
    let body = client_hello_body(
        0x0303,
        &[0x2a2a, 0xc02b, 0xc02f, 0x002f],
        &[
            (0x3a3a, vec![]),
            sni_ext("www.example.org"),
            (EXT_GROUPS, vec![0, 6, 0x4a, 0x4a, 0, 29, 0, 23]),
            (EXT_EC_POINT_FORMATS, vec![1, 0]),
            (0xff01, vec![0]),
        ],
    );
    record(CT_HANDSHAKE, 0x0301, &msg(1, &body))
}

fn server_hello_body(version: u16, sid: &[u8], exts: &[(u16, Vec<u8>)]) -> Vec<u8> {
    let mut b = version.to_be_bytes().to_vec();
    b.extend_from_slice(&[0x54; 32]);
    b.push(sid.len() as u8);
    b.extend_from_slice(sid);
    b.extend_from_slice(&0xc02fu16.to_be_bytes());
    b.push(0);
    let mut e = Vec::new();
    for (t, d) in exts {
        e.extend_from_slice(&t.to_be_bytes());
        e.extend_from_slice(&(d.len() as u16).to_be_bytes());
        e.extend_from_slice(d);
    }
    b.extend_from_slice(&(e.len() as u16).to_be_bytes());
    b.extend_from_slice(&e);
    b
}

fn certificate_msg(certs: &[&[u8]]) -> Vec<u8> {
    let mut list = Vec::new();
    for c in certs {
        list.extend_from_slice(&(c.len() as u32).to_be_bytes()[1..]);
        list.extend_from_slice(c);
    }
    let mut body = (list.len() as u32).to_be_bytes()[1..].to_vec();
    body.extend_from_slice(&list);
    msg(11, &body)
}

/// ServerHello, Certificate, ServerHelloDone in one record.
fn server_flight() -> Vec<u8> {
    let mut hs = msg(2, &server_hello_body(0x0303, &[], &[(0xff01, vec![0])]));
    hs.extend_from_slice(&certificate_msg(&[CERT, b"\x30\x00"]));
    hs.extend_from_slice(&msg(14, &[]));
    record(CT_HANDSHAKE, 0x0303, &hs)
}

fn check_full_handshake(t: &TlsState) {
    assert_eq!(t.client.sni.as_deref(), Some(&b"www.example.org"[..]));
    let ja3 = t.client.ja3.as_ref().unwrap();
    assert_eq!(ja3.string, "771,49195-49199-47,0-10-11-65281,29-23,0");
    assert_eq!(t.server.ja3.as_ref().unwrap().string, "771,49199,65281");
    assert_eq!(t.version(), version::TLS_12);
    assert_eq!(t.server.certs.len(), 2);
    let c = t.server.cert0.as_ref().unwrap();
    assert_eq!(c.subject, "C=FR, O=Meerkat Test, CN=tls.example");
    assert_eq!(c.issuer, c.subject);
    assert_eq!(c.serial, "00:A1:B2:C3");
    assert_eq!(c.sans, vec!["tls.example", "www.tls.example"]);
    assert_eq!(c.fingerprint, cert::fingerprint(CERT));
    assert_eq!(t.server.random, Some([0x54; 32]));
    assert_eq!(t.client.random, Some([0x11; 32]));
}

#[test]
fn probe_first_bytes() {
    assert_eq!(probe(b"\x16\x03\x01\x02\x00", false), Some(true));
    assert_eq!(probe(b"\x16\x03", false), None);
    assert_eq!(probe(b"\x16\x04\x01", false), Some(false));
    assert_eq!(probe(b"GET ", false), Some(false));
    assert_eq!(probe(b"\x17\x03\x03", true), Some(true));
    assert_eq!(probe(b"\x16\x03\x03", true), Some(true));
    assert_eq!(probe(b"SSH-2.0", true), Some(false));
    assert_eq!(probe(b"\x80\x2e\x01\x03\x01", false), Some(true));
    assert_eq!(probe(b"\x80\x2e\x01", false), None);
}

#[test]
fn whole_handshake_in_one_segment_per_side() {
    let mut t = TlsState::default();
    let up = t.feed(Direction::ToServer, &client_hello());
    assert!(!up.tx_complete && !up.parser_error);
    assert_eq!(t.client.progress, Progress::Hello);
    assert_eq!(t.marks, [true, false]);
    let up = t.feed(Direction::ToClient, &server_flight());
    assert!(up.tx_complete, "{up:?} {:?}", t.take_events());
    check_full_handshake(&t);
    assert!(!t.resumed_without_cert());
    // Encrypted records afterwards are skipped.
    let up = t.feed(
        Direction::ToClient,
        &record(CT_APPLICATION_DATA, 0x0303, &[9; 300]),
    );
    assert!(up.encrypted && !up.tx_complete && !up.parser_error);
    assert!(t.take_events().is_empty());
}

#[test]
fn any_segmentation_gives_the_same_result() {
    let c = client_hello();
    let mut s = server_flight();
    // Several records in one segment, the last one application data.
    s.extend_from_slice(&record(CT_CHANGE_CIPHER_SPEC, 0x0303, &[1]));
    s.extend_from_slice(&record(CT_HANDSHAKE, 0x0303, &[0xee; 40]));
    s.extend_from_slice(&record(CT_APPLICATION_DATA, 0x0303, &[7; 1000]));
    for step in [1usize, 2, 3, 5, 7, 64, 1000] {
        let mut t = TlsState::default();
        let mut done = 0;
        for ch in c.chunks(step) {
            done += usize::from(t.feed(Direction::ToServer, ch).tx_complete);
        }
        for ch in s.chunks(step) {
            let up = t.feed(Direction::ToClient, ch);
            assert!(!up.parser_error, "step {step}");
            done += usize::from(up.tx_complete);
        }
        assert_eq!(done, 1, "step {step}");
        check_full_handshake(&t);
        assert!(t.encrypted);
        assert!(t.take_events().is_empty(), "step {step}");
    }
}

#[test]
fn handshake_message_split_over_records() {
    let mut hs = msg(2, &server_hello_body(0x0303, &[], &[]));
    hs.extend_from_slice(&certificate_msg(&[CERT]));
    let mut stream = Vec::new();
    for part in hs.chunks(100) {
        stream.extend_from_slice(&record(CT_HANDSHAKE, 0x0303, part));
    }
    let mut t = TlsState::default();
    t.feed(Direction::ToServer, &client_hello());
    let up = t.feed(Direction::ToClient, &stream);
    assert!(up.tx_complete && !up.parser_error);
    assert_eq!(t.server.cert0.as_ref().unwrap().serial, "00:A1:B2:C3");
    // The same split at every byte.
    let mut t = TlsState::default();
    for b in stream.chunks(1) {
        t.feed(Direction::ToClient, b);
    }
    assert!(t.server.cert0.is_some());
}

#[test]
fn tls13_hello_retry_and_versions() {
    // TLS 1.3: supported_versions in both hellos, CCS then encrypted
    // records; the second ClientHello does not change JA3.
    let ch = |grp: u16| {
        let body = client_hello_body(
            0x0303,
            &[0x1301],
            &[
                (EXT_SUPPORTED_VERSIONS, vec![4, 0x0a, 0x0a, 3, 4]),
                (EXT_GROUPS, vec![0, 2, (grp >> 8) as u8, grp as u8]),
            ],
        );
        record(CT_HANDSHAKE, 0x0301, &msg(1, &body))
    };
    let mut t = TlsState::default();
    t.feed(Direction::ToServer, &ch(29));
    assert_eq!(t.client.version, version::TLS_13);
    let ja3 = t.client.ja3.clone().unwrap();
    assert_eq!(ja3.string, "771,4865,43-10,29,");
    let sh = server_hello_body(0x0303, &[], &[(EXT_SUPPORTED_VERSIONS, vec![3, 4])]);
    t.feed(
        Direction::ToClient,
        &record(CT_HANDSHAKE, 0x0303, &msg(2, &sh)),
    );
    t.feed(
        Direction::ToServer,
        &record(CT_CHANGE_CIPHER_SPEC, 0x0303, &[1]),
    );
    t.feed(Direction::ToServer, &ch(23));
    assert_eq!(t.client.ja3, Some(ja3));
    assert_eq!(t.version(), version::TLS_13);
    assert!(t.log_without_cert);
    let up = t.feed(
        Direction::ToClient,
        &record(CT_APPLICATION_DATA, 0x0303, &[1; 50]),
    );
    assert!(up.tx_complete && up.encrypted);
    assert_eq!(version::name(t.version()), "TLS 1.3");
}

#[test]
fn sslv2_client_hello() {
    // SSLv2-compatible ClientHello offering TLS 1.0.
    let mut body = vec![1, 3, 1, 0, 3, 0, 0, 0, 16];
    body.extend_from_slice(&[0x00, 0x00, 0x2f]);
    body.extend_from_slice(&[0x22; 16]);
    let mut rec = vec![0x80 | (body.len() >> 8) as u8, body.len() as u8];
    rec.extend_from_slice(&body);
    let mut t = TlsState::default();
    for b in rec.chunks(3) {
        assert!(!t.feed(Direction::ToServer, b).parser_error);
    }
    assert!(t.client_hello);
    assert_eq!(t.client.version, version::TLS_10);
    assert_eq!(t.client.progress, Progress::Hello);
    // The server answers in TLS records.
    let up = t.feed(Direction::ToClient, &server_flight());
    assert!(up.tx_complete);
    assert_eq!(version::name(t.version()), "TLS 1.2");
}

#[test]
fn malformed_input_is_counted_not_fatal() {
    let mut t = TlsState::default();
    let up = t.feed(Direction::ToServer, b"\x16\x03\x01\x00\x01\x01");
    assert!(up.parser_error);
    assert_eq!(t.take_events(), vec!["INVALID_SSL_RECORD"]);
    // The next input starts a new record.
    let up = t.feed(Direction::ToServer, &client_hello());
    assert!(!up.parser_error);
    assert!(t.client.sni.is_some());
    let up = t.feed(Direction::ToClient, b"\x05\x03\x03\x00\x00");
    assert!(up.parser_error);
    let up = t.feed(
        Direction::ToClient,
        &record(CT_HANDSHAKE, 0x0303, &msg(99, &[1, 2])),
    );
    assert!(!up.parser_error);
    assert_eq!(
        t.take_events(),
        vec!["INVALID_RECORD_TYPE", "INVALID_HANDSHAKE_MESSAGE"]
    );
    // A certificate that is not DER.
    let up = t.feed(
        Direction::ToClient,
        &record(CT_HANDSHAKE, 0x0303, &certificate_msg(&[b"junk"])),
    );
    assert!(!up.parser_error);
    assert_eq!(t.take_events(), vec!["CERTIFICATE_INVALID_DER"]);
    assert!(t.server.cert0.is_none() && t.server.certs.len() == 1);
    // Oversized record.
    let mut t = TlsState::default();
    assert!(
        t.feed(Direction::ToServer, b"\x16\x03\x01\xff\xff")
            .parser_error
    );
}

#[test]
fn fatal_alert_and_eof_complete() {
    let mut t = TlsState::default();
    t.feed(Direction::ToServer, &client_hello());
    let up = t.feed(Direction::ToClient, &record(CT_ALERT, 0x0301, &[2, 40]));
    assert!(up.tx_complete);
    assert_eq!(version::name(t.version()), "TLSv1");
    let mut t = TlsState::default();
    t.feed(Direction::ToServer, &client_hello());
    t.on_eof();
    assert!(t.take_unlogged());
    assert!(!t.take_unlogged());
}

#[test]
fn session_resumption() {
    let sid = [5u8; 32];
    let mut body = client_hello_body(0x0303, &[47], &[]);
    // Put the session id in: version(2) random(32) then sid.
    body.splice(34..35, std::iter::once(32u8).chain(sid));
    let mut t = TlsState::default();
    t.feed(
        Direction::ToServer,
        &record(CT_HANDSHAKE, 0x0301, &msg(1, &body)),
    );
    assert_eq!(t.client.session_id.as_deref(), Some(&sid[..]));
    t.feed(
        Direction::ToClient,
        &record(
            CT_HANDSHAKE,
            0x0303,
            &msg(2, &server_hello_body(0x0303, &sid, &[])),
        ),
    );
    t.feed(
        Direction::ToClient,
        &record(CT_CHANGE_CIPHER_SPEC, 0x0303, &[1]),
    );
    t.feed(
        Direction::ToServer,
        &record(CT_CHANGE_CIPHER_SPEC, 0x0303, &[1]),
    );
    let up = t.feed(
        Direction::ToClient,
        &record(CT_APPLICATION_DATA, 0x0303, &[0; 30]),
    );
    assert!(up.tx_complete);
    assert!(t.resumed_without_cert());
}
