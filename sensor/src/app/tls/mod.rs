//! TLS (and SSLv2/SSLv3) app layer: the record layer over the reassembled
//! TCP stream, handshake messages reassembled across records, and what
//! EVE and the TLS keywords read (SNI, versions, JA3/JA3S, randoms, the
//! certificate chain and its first certificate's fields).
//!
//! One [`TlsState`] per flow with one [`TlsSide`] per direction. Input may
//! be cut anywhere: a record header or body split over segments is
//! buffered (at most [`MAX_RECORD`] bytes; application data is skipped,
//! never buffered), several records in one segment are all read, and a
//! handshake message split over records is reassembled (at most
//! [`MAX_HANDSHAKE`] bytes). Nothing here panics on any input; anomalies
//! are named as Suricata's tls app-layer events ([`TlsState::take_events`])
//! and a record the parser cannot follow is a parser error: the rest of
//! that input is dropped and the next input starts a new record, as
//! Suricata resets its parser.
//!
//! The flow has one transaction (`tx_id` 0), as in Suricata. Its progress
//! per direction follows Suricata's TLS states ([`Progress`]): the
//! transaction is complete (its `tls` event is written) once both sides
//! finished the handshake: the server's first certificate was decoded
//! (client's when a certificate was requested), or each side sent
//! encrypted application data or a ChangeCipherSpec (client), or a fatal
//! alert, or the flow ended.
//!
//! Encryption: once application data is seen, [`TlsState::encrypted`] is
//! set and (Suricata's default `encryption-handling: track-only`) content
//! rules no longer inspect the flow's payload; the record layer keeps
//! skipping records cheaply. With `bypass` the flow is bypassed; with
//! `full` the payload stays inspected.

pub mod cert;
pub mod hello;
pub mod ja3;
pub mod reader;
pub mod version;

use crate::packet::Direction;
pub use cert::CertInfo;
pub use ja3::Ja3;

/// Record content types.
pub const CT_CHANGE_CIPHER_SPEC: u8 = 20;
pub const CT_ALERT: u8 = 21;
pub const CT_HANDSHAKE: u8 = 22;
pub const CT_APPLICATION_DATA: u8 = 23;
pub const CT_HEARTBEAT: u8 = 24;

/// SSLv3/TLS record header length.
const HDR_LEN: usize = 5;
/// Longest record body accepted (2^14 plus the expansion TLS allows).
pub const MAX_RECORD: usize = 16384 + 2048;
/// Longest handshake message reassembled; longer ones are skipped.
pub const MAX_HANDSHAKE: usize = 256 * 1024;
/// Certificates kept of one chain.
pub const MAX_CERTS: usize = 32;
/// Anomalies kept for the worker between two drains.
const MAX_PENDING_EVENTS: usize = 32;

/// Handshake message types.
mod hs {
    pub const HELLO_REQUEST: u8 = 0;
    pub const CLIENT_HELLO: u8 = 1;
    pub const SERVER_HELLO: u8 = 2;
    pub const NEW_SESSION_TICKET: u8 = 4;
    pub const CERTIFICATE: u8 = 11;
    pub const SERVER_KEY_EXCHANGE: u8 = 12;
    pub const CERTIFICATE_REQUEST: u8 = 13;
    pub const SERVER_HELLO_DONE: u8 = 14;
    pub const CERTIFICATE_VERIFY: u8 = 15;
    pub const CLIENT_KEY_EXCHANGE: u8 = 16;
    pub const FINISHED: u8 = 20;
    pub const CERTIFICATE_URL: u8 = 21;
    pub const CERTIFICATE_STATUS: u8 = 22;
}

/// Where one side of the handshake stands (Suricata's `TLS_STATE_*`;
/// `ServerHelloDone` only for the server).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum Progress {
    #[default]
    InProgress,
    /// ClientHello / ServerHello parsed.
    Hello,
    /// Certificate message parsed.
    CertDone,
    ServerHelloDone,
    HandshakeDone,
    Finished,
}

/// What a side's first bytes say (see [`probe`]).
///
/// `Some(true)`: TLS or SSL; `Some(false)`: not; `None`: too few bytes.
pub fn probe(data: &[u8], server: bool) -> Option<bool> {
    let b0 = *data.first()?;
    if server {
        if !(CT_ALERT..=CT_APPLICATION_DATA).contains(&b0) {
            return Some(false);
        }
    } else if b0 & 0x80 != 0 {
        // SSLv2-compatible ClientHello: 2-byte length, type 1, version.
        let (Some(&t), Some(&maj), Some(&min)) = (data.get(2), data.get(3), data.get(4)) else {
            return None;
        };
        return Some(t == 1 && ((maj == 3 && min <= 3) || (maj == 0 && min == 2)));
    } else if b0 != CT_HANDSHAKE {
        return Some(false);
    }
    let maj = *data.get(1)?;
    if maj != 3 {
        return Some(false);
    }
    let min = *data.get(2)?;
    Some(min <= 3)
}

/// One direction's handshake data and record-layer position.
#[derive(Debug, Clone, Default)]
pub struct TlsSide {
    /// Suricata's per-side version: the record version until a hello is
    /// parsed, then the hello's (or `supported_versions`') version.
    pub version: u16,
    pub progress: Progress,
    /// The hello of this side was parsed (ClientHello for the client).
    pub hello: bool,
    pub random: Option<[u8; 32]>,
    pub session_id: Option<Vec<u8>>,
    /// ClientHello server_name.
    pub sni: Option<Vec<u8>>,
    /// JA3 (client) or JA3S (server) of the first hello.
    pub ja3: Option<Ja3>,
    pub alpns: Vec<Vec<u8>>,
    /// The certificate chain as DER (at most [`MAX_CERTS`]).
    pub certs: Vec<Vec<u8>>,
    /// The first certificate's fields, when it decoded.
    pub cert0: Option<CertInfo>,
    /// A ChangeCipherSpec was seen from this side.
    pub ccs: bool,
    /// A Certificate message was parsed from this side.
    pub cert_msg: bool,
    /// The partial record (header and body), while a record spans inputs.
    rec: Vec<u8>,
    /// Application-data bytes still to skip.
    skip: usize,
    /// The partial handshake message (header and body).
    hs: Vec<u8>,
    /// Bytes of an over-long handshake message still to skip.
    hs_skip: usize,
}

impl TlsSide {
    /// Something of this side was parsed.
    pub fn seen(&self) -> bool {
        self.version != 0 || self.hello
    }
}

/// What one [`TlsState::feed`] call changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TlsUpdate {
    /// The transaction completed in this call (write its event now).
    pub tx_complete: bool,
    /// Application data was seen for the first time in this call.
    pub encrypted: bool,
    /// The parser gave up on a record (Suricata's
    /// `app_layer.error.tls.parser`).
    pub parser_error: bool,
    /// Anomalies are waiting in [`TlsState::take_events`].
    pub events: bool,
}

/// The TLS state of a flow.
#[derive(Debug, Clone, Default)]
pub struct TlsState {
    /// The client (to_server) side.
    pub client: TlsSide,
    /// The server (to_client) side.
    pub server: TlsSide,
    /// A ClientHello / ServerHello was seen (Suricata's `ssl_state`
    /// flags); key exchanges too.
    pub client_hello: bool,
    pub server_hello: bool,
    pub client_keyx: bool,
    pub server_keyx: bool,
    /// The session looks resumed (same session id, or a session ticket
    /// offered); only logged when no certificate followed.
    pub session_resumed: bool,
    /// The server asked for a client certificate.
    pub need_client_cert: bool,
    /// The ClientHello had `supported_versions`.
    ch_version_ext: bool,
    /// TLS 1.3: no certificate will be seen in clear (Suricata's
    /// `LOG_WITHOUT_CERT`).
    pub log_without_cert: bool,
    /// The client offered 0-RTT early data.
    early_data: bool,
    /// A ChangeCipherSpec was seen from either side.
    ccs_any: bool,
    /// Application data was seen: the rest is encrypted.
    pub encrypted: bool,
    /// The transaction was handed to the output.
    logged: bool,
    /// A `tls.store` rule matched: the `tls-store` output writes the
    /// server chain once it is in (then this is cleared).
    pub store_pending: bool,
    /// Directions (index 0: to_server) with new handshake data in the
    /// current packet: TLS rules are inspected there.
    pub marks: [bool; 2],
    /// Anomalies not yet taken by the worker.
    events: Vec<&'static str>,
    /// Parser errors so far.
    pub errors: u32,
}

impl TlsState {
    /// The transaction's id (one per flow).
    pub const TX_ID: u64 = 0;

    pub fn side(&self, dir: Direction) -> &TlsSide {
        match dir {
            Direction::ToServer => &self.client,
            Direction::ToClient => &self.server,
        }
    }

    fn side_mut(&mut self, server: bool) -> &mut TlsSide {
        if server {
            &mut self.server
        } else {
            &mut self.client
        }
    }

    /// The version EVE writes: the server's, else the client's.
    pub fn version(&self) -> u16 {
        if self.server.version != 0 {
            self.server.version
        } else {
            self.client.version
        }
    }

    /// Call before a packet's chunks: forgets the previous packet's
    /// inspection points.
    pub fn begin_packet(&mut self) {
        self.marks = [false; 2];
    }

    /// Anomalies since the last call, oldest first.
    pub fn take_events(&mut self) -> Vec<&'static str> {
        std::mem::take(&mut self.events)
    }

    /// The session resumed without a certificate (EVE `session_resumed`).
    pub fn resumed_without_cert(&self) -> bool {
        self.session_resumed
            && self.server.cert0.is_none()
            && self.server_hello
            && !self.log_without_cert
    }

    fn event(&mut self, name: &'static str) {
        tracing::trace!(event = name, "tls anomaly");
        if self.events.len() < MAX_PENDING_EVENTS {
            self.events.push(name);
        }
    }

    fn progress(&mut self, server: bool, p: Progress) {
        let s = self.side_mut(server);
        if p > s.progress {
            s.progress = p;
        }
    }

    fn complete(&self) -> bool {
        self.client.progress >= Progress::HandshakeDone
            && self.server.progress >= Progress::HandshakeDone
    }

    /// At flow end: true when the transaction has something to log and
    /// was not logged yet (marks it logged).
    pub fn take_unlogged(&mut self) -> bool {
        if self.logged || !(self.client.seen() || self.server.seen()) {
            return false;
        }
        self.logged = true;
        true
    }

    /// Both directions' streams ended: the transaction is finished (the
    /// caller logs it with [`TlsState::take_unlogged`]).
    pub fn on_eof(&mut self) {
        self.progress(false, Progress::Finished);
        self.progress(true, Progress::Finished);
    }

    /// Feeds the next in-order bytes of direction `dir`.
    pub fn feed(&mut self, dir: Direction, data: &[u8]) -> TlsUpdate {
        let server = dir == Direction::ToClient;
        let was_encrypted = self.encrypted;
        let mut up = TlsUpdate::default();
        if let Err(e) = self.feed_records(server, data) {
            tracing::debug!(error = e, server, "tls parser error");
            self.event(e);
            self.errors = self.errors.saturating_add(1);
            up.parser_error = true;
            let s = self.side_mut(server);
            s.rec = Vec::new();
            s.hs = Vec::new();
            s.skip = 0;
            s.hs_skip = 0;
        }
        // A decoded certificate ends the handshake (the client's when the
        // server asked for one), as in Suricata.
        let done = if self.need_client_cert {
            self.client.cert0.is_some()
        } else {
            self.server.cert0.is_some()
        };
        if done {
            self.progress(false, Progress::HandshakeDone);
            self.progress(true, Progress::HandshakeDone);
        }
        up.encrypted = self.encrypted && !was_encrypted;
        self.finish_update(up)
    }

    fn finish_update(&mut self, mut up: TlsUpdate) -> TlsUpdate {
        if !self.logged && self.complete() && (self.client.seen() || self.server.seen()) {
            self.logged = true;
            up.tx_complete = true;
        }
        up.events = !self.events.is_empty();
        up
    }

    /// The record loop. `Err`: a parser error (its anomaly name).
    fn feed_records(&mut self, server: bool, mut data: &[u8]) -> Result<(), &'static str> {
        while !data.is_empty() {
            let side = self.side_mut(server);
            if side.skip > 0 {
                let n = side.skip.min(data.len());
                side.skip -= n;
                data = data.get(n..).unwrap_or(&[]);
                continue;
            }
            if side.rec.is_empty() {
                // Whole records straight from the input.
                match record_len(data)? {
                    Some(n) if n <= data.len() => {
                        let (rec, rest) = data.split_at(n);
                        self.record(server, rec)?;
                        data = rest;
                        continue;
                    }
                    Some(n) if is_app_data(data) => {
                        // Skip the body, never buffer it.
                        self.record(server, data.get(..HDR_LEN).unwrap_or(&[]))?;
                        self.side_mut(server).skip = n.saturating_sub(data.len());
                        return Ok(());
                    }
                    _ => {}
                }
            }
            // Buffer a partial record.
            let side = self.side_mut(server);
            let need = match record_len(&side.rec)? {
                Some(n) => n.saturating_sub(side.rec.len()),
                // Header bytes one at a time until the length is known.
                None => 1,
            };
            let take = need.min(data.len());
            side.rec.extend_from_slice(data.get(..take).unwrap_or(&[]));
            data = data.get(take..).unwrap_or(&[]);
            let rec = std::mem::take(&mut side.rec);
            match record_len(&rec)? {
                Some(n) if n <= rec.len() => {
                    self.record(server, &rec)?;
                }
                Some(n) if is_app_data(&rec) && rec.len() >= HDR_LEN => {
                    self.record(server, rec.get(..HDR_LEN).unwrap_or(&[]))?;
                    self.side_mut(server).skip = n.saturating_sub(rec.len());
                }
                _ => {
                    self.side_mut(server).rec = rec;
                }
            }
        }
        Ok(())
    }

    /// One record: `rec` is the whole record, or only its header for
    /// application data.
    fn record(&mut self, server: bool, rec: &[u8]) -> Result<(), &'static str> {
        let Some(&b0) = rec.first() else {
            return Ok(());
        };
        if b0 & 0xc0 != 0 {
            return self.sslv2_record(server, rec);
        }
        let (ct, ver, body) = match rec {
            [ct, maj, min, _, _, body @ ..] => (*ct, u16::from_be_bytes([*maj, *min]), body),
            _ => return Ok(()),
        };
        let hello_seen = if server {
            self.server_hello
        } else {
            self.client_hello
        };
        {
            let s = self.side_mut(server);
            if s.version == version::SSL_V2 {
                s.version = 0;
            }
            if !(hello_seen && s.version != 0) {
                s.version = ver;
            }
        }
        self.marks[usize::from(server)] |= ct != CT_APPLICATION_DATA || !self.encrypted;
        match ct {
            CT_CHANGE_CIPHER_SPEC => {
                self.ccs_any = true;
                self.side_mut(server).ccs = true;
                if !server {
                    self.progress(false, Progress::HandshakeDone);
                }
            }
            CT_ALERT => {
                if body.len() < 2 {
                    return Err("INVALID_ALERT");
                }
                // A fatal alert in clear ends the transaction.
                if body.len() == 2 && body.first() == Some(&2) {
                    self.progress(false, Progress::Finished);
                    self.progress(true, Progress::Finished);
                }
            }
            CT_APPLICATION_DATA => {
                // 0-RTT data before the ServerHello does not end the
                // handshake.
                if !self.early_data || self.server_hello {
                    self.progress(server, Progress::HandshakeDone);
                    self.encrypted = true;
                }
            }
            CT_HANDSHAKE => {
                if self.ccs_any {
                    // Encrypted handshake messages, except TLS 1.3's
                    // middlebox-compatibility ChangeCipherSpec sent by
                    // the client before the ServerHello.
                    let compat = self.client_hello
                        && self.client.version > version::TLS_12
                        && !self.server_hello;
                    if !compat {
                        return Ok(());
                    }
                }
                let s = self.side_mut(server);
                if body.len() < 4 && s.hs.is_empty() && s.hs_skip == 0 {
                    return Err("INVALID_SSL_RECORD");
                }
                self.handshake_bytes(server, body)?;
            }
            CT_HEARTBEAT => {}
            _ => return Err("INVALID_RECORD_TYPE"),
        }
        Ok(())
    }

    /// An SSLv2 record (2- or 3-byte header).
    fn sslv2_record(&mut self, server: bool, rec: &[u8]) -> Result<(), &'static str> {
        let hdr = if rec.first().is_some_and(|b| b & 0x80 != 0) {
            2
        } else {
            3
        };
        let body = rec.get(hdr..).unwrap_or(&[]);
        let Some(&mt) = body.first() else {
            return Err("INVALID_SSLV2_HEADER");
        };
        self.side_mut(server).version = version::SSL_V2;
        self.marks[usize::from(server)] = true;
        match mt {
            0 => self.event("ERROR_MSG_ENCOUNTERED"),
            1 => {
                // CLIENT-HELLO: its version is what the client offers.
                let (Some(&maj), Some(&min)) = (body.get(1), body.get(2)) else {
                    return Err("INVALID_SSL_RECORD");
                };
                let s = self.side_mut(server);
                s.version = u16::from_be_bytes([maj, min]);
                s.hello = true;
                self.client_hello = true;
                self.progress(server, Progress::Hello);
            }
            4 => {
                self.server_hello = true;
                self.side_mut(server).hello = true;
                self.progress(server, Progress::Hello);
            }
            _ => {}
        }
        Ok(())
    }

    /// Handshake-record body bytes: reassembles and dispatches messages.
    fn handshake_bytes(&mut self, server: bool, mut data: &[u8]) -> Result<(), &'static str> {
        while !data.is_empty() {
            let s = self.side_mut(server);
            if s.hs_skip > 0 {
                let n = s.hs_skip.min(data.len());
                s.hs_skip -= n;
                data = data.get(n..).unwrap_or(&[]);
                continue;
            }
            if s.hs.is_empty() {
                if let Some((ty, len)) = hs_header(data) {
                    let body = data.get(4..).unwrap_or(&[]);
                    if !supported(ty) {
                        if !s.ccs {
                            self.event("INVALID_HANDSHAKE_MESSAGE");
                        }
                        let s = self.side_mut(server);
                        let n = len.min(body.len());
                        s.hs_skip = len - n;
                        data = body.get(n..).unwrap_or(&[]);
                        continue;
                    }
                    if len <= body.len() {
                        let (msg, rest) = body.split_at(len);
                        self.message(server, ty, msg)?;
                        data = rest;
                        continue;
                    }
                    if len > MAX_HANDSHAKE {
                        self.event("HANDSHAKE_INVALID_LENGTH");
                        let s = self.side_mut(server);
                        s.hs_skip = len - body.len();
                        return Ok(());
                    }
                } else if data.len() >= 4 {
                    return Err("INVALID_HANDSHAKE_MESSAGE");
                }
            }
            // Buffer a message split over records.
            let s = self.side_mut(server);
            let need = match hs_header(&s.hs) {
                Some((_, len)) => (len + 4).saturating_sub(s.hs.len()),
                None => 4usize.saturating_sub(s.hs.len()),
            };
            let take = need.min(data.len());
            s.hs.extend_from_slice(data.get(..take).unwrap_or(&[]));
            data = data.get(take..).unwrap_or(&[]);
            let Some((ty, len)) = hs_header(&s.hs) else {
                continue;
            };
            if !supported(ty) || len > MAX_HANDSHAKE {
                if !supported(ty) && !s.ccs {
                    self.event("INVALID_HANDSHAKE_MESSAGE");
                } else if supported(ty) {
                    self.event("HANDSHAKE_INVALID_LENGTH");
                }
                let s = self.side_mut(server);
                s.hs_skip = (len + 4).saturating_sub(s.hs.len());
                s.hs = Vec::new();
                continue;
            }
            if s.hs.len() >= len + 4 {
                let msg = std::mem::take(&mut s.hs);
                self.message(server, ty, msg.get(4..).unwrap_or(&[]))?;
            }
        }
        Ok(())
    }

    /// One complete handshake message.
    fn message(&mut self, server: bool, ty: u8, body: &[u8]) -> Result<(), &'static str> {
        self.marks[usize::from(server)] = true;
        match ty {
            hs::CLIENT_HELLO | hs::SERVER_HELLO => self.hello(server, ty == hs::SERVER_HELLO, body),
            hs::CERTIFICATE => self.certificate(server, body),
            hs::SERVER_KEY_EXCHANGE => self.server_keyx = true,
            hs::CLIENT_KEY_EXCHANGE => self.client_keyx = true,
            hs::CERTIFICATE_REQUEST if server => self.need_client_cert = true,
            hs::SERVER_HELLO_DONE if server => self.progress(true, Progress::ServerHelloDone),
            _ => {}
        }
        Ok(())
    }

    /// A ClientHello or ServerHello of the side sending in this direction.
    fn hello(&mut self, server_dir: bool, server_hello: bool, body: &[u8]) {
        let h = hello::parse(body, server_hello, server_hello && self.log_without_cert);
        if server_hello && hello::server_version_is_13(h.version) {
            self.log_without_cert = true;
        }
        if server_hello {
            self.server_hello = true;
        } else {
            self.client_hello = true;
        }
        for e in &h.events {
            self.event(e);
        }
        let mut sni_again = false;
        let mut resumed = false;
        let log_without_cert_before = self.log_without_cert;
        let mut log_without_cert = false;
        let ch_version_ext = self.ch_version_ext;
        let client_sid = self.client.session_id.clone();
        let s = self.side_mut(server_dir);
        s.hello = true;
        if h.version != 0 {
            s.version = match h.version {
                version::TLS_13 | 0x7f02..=0x7f0f => version::TLS_13_PRE_DRAFT16,
                v => v,
            };
        }
        if let Some(r) = h.random {
            s.random = Some(r);
        }
        if let Some(sid) = h.session_id.filter(|s| !s.is_empty()) {
            if s.session_id.is_none() {
                s.session_id = Some(sid.to_vec());
                if server_hello && client_sid.as_deref() == Some(sid) {
                    resumed = true;
                }
            }
        }
        if let Some(name) = h.sni {
            if s.sni.is_some() {
                sni_again = true;
            } else {
                s.sni = Some(name.to_vec());
            }
        }
        if let Some(v) = h.supported_version {
            s.version = v;
            if server_hello && ch_version_ext && v > version::TLS_12 {
                log_without_cert = true;
            }
        }
        if s.alpns.is_empty() {
            s.alpns = h.alpns.iter().map(|a| a.to_vec()).collect();
        }
        if h.ok && s.ja3.is_none() {
            s.ja3 = Some(if server_hello {
                Ja3::server(h.version, h.ciphers.first().copied(), &h.extensions)
            } else {
                Ja3::client(
                    h.version,
                    &h.ciphers,
                    &h.extensions,
                    &h.groups,
                    &h.point_formats,
                )
            });
        }
        if sni_again {
            self.event("MULTIPLE_SNI_EXTENSIONS");
        }
        if !server_hello && h.has_supported_versions {
            self.ch_version_ext = true;
        }
        self.log_without_cert = log_without_cert_before || log_without_cert;
        if resumed || (!server_hello && h.session_ticket) {
            self.session_resumed = true;
        }
        if !server_hello && h.early_data {
            self.early_data = true;
        }
        if h.ok {
            self.progress(server_dir, Progress::Hello);
        }
    }

    /// A Certificate message (TLS <= 1.2 layout).
    fn certificate(&mut self, server: bool, body: &[u8]) {
        let mut r = reader::Reader::new(body);
        self.side_mut(server).cert_msg = true;
        let Some(list) = r.vec24() else {
            self.event("CERTIFICATE_INVALID_LENGTH");
            self.progress(server, Progress::CertDone);
            return;
        };
        let mut certs = Vec::new();
        let mut l = reader::Reader::new(list);
        let mut bad_len = false;
        while !l.is_empty() {
            match l.vec24() {
                Some(c) if certs.len() < MAX_CERTS => certs.push(c.to_vec()),
                Some(_) => {}
                None => {
                    bad_len = true;
                    break;
                }
            }
        }
        if bad_len {
            self.event("CERTIFICATE_INVALID_LENGTH");
        }
        let s = self.side_mut(server);
        s.cert_msg = true;
        if s.certs.is_empty() && !certs.is_empty() {
            let cert0 = certs.first().map(|c| cert::decode(c));
            s.certs = certs;
            match cert0 {
                Some(Ok(info)) => s.cert0 = Some(info),
                Some(Err(e)) => self.event(e.event()),
                None => {}
            }
        }
        self.progress(server, Progress::CertDone);
    }
}

fn supported(ty: u8) -> bool {
    matches!(
        ty,
        hs::HELLO_REQUEST
            | hs::CLIENT_HELLO
            | hs::SERVER_HELLO
            | hs::NEW_SESSION_TICKET
            | hs::CERTIFICATE
            | hs::SERVER_KEY_EXCHANGE
            | hs::CERTIFICATE_REQUEST
            | hs::SERVER_HELLO_DONE
            | hs::CERTIFICATE_VERIFY
            | hs::CLIENT_KEY_EXCHANGE
            | hs::FINISHED
            | hs::CERTIFICATE_URL
            | hs::CERTIFICATE_STATUS
    )
}

/// A handshake message header: type and body length.
fn hs_header(b: &[u8]) -> Option<(u8, usize)> {
    match b {
        [t, a, m, l, ..] => Some((
            *t,
            usize::from(*a) << 16 | usize::from(*m) << 8 | usize::from(*l),
        )),
        _ => None,
    }
}

fn is_app_data(rec: &[u8]) -> bool {
    rec.first() == Some(&CT_APPLICATION_DATA)
}

/// The total length (header included) of the record starting `b`, once
/// its header is complete. `Err`: not a record we can follow.
fn record_len(b: &[u8]) -> Result<Option<usize>, &'static str> {
    let Some(&b0) = b.first() else {
        return Ok(None);
    };
    if b0 & 0x80 != 0 {
        let Some(&b1) = b.get(1) else {
            return Ok(None);
        };
        let len = usize::from(b0 & 0x7f) << 8 | usize::from(b1);
        if len == 0 {
            return Err("INVALID_SSLV2_HEADER");
        }
        return Ok(Some(len + 2));
    }
    if b0 & 0x40 != 0 {
        let Some(&b1) = b.get(1) else {
            return Ok(None);
        };
        let len = usize::from(b0 & 0x3f) << 8 | usize::from(b1);
        if len == 0 {
            return Err("INVALID_SSLV2_HEADER");
        }
        return Ok(Some(len + 3));
    }
    if !(CT_CHANGE_CIPHER_SPEC..=CT_HEARTBEAT).contains(&b0) {
        return Err("INVALID_RECORD_TYPE");
    }
    if let Some(&maj) = b.get(1) {
        if maj != 3 {
            return Err("INVALID_RECORD_VERSION");
        }
    }
    let (Some(&h), Some(&l)) = (b.get(3), b.get(4)) else {
        return Ok(None);
    };
    let len = usize::from(h) << 8 | usize::from(l);
    if len > MAX_RECORD {
        return Err("INVALID_RECORD_LENGTH");
    }
    Ok(Some(len + HDR_LEN))
}

#[cfg(test)]
mod tests;
