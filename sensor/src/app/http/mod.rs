//! HTTP/1.0 and 1.1, incremental, one parser per direction, in the style
//! of libhtp (Suricata's HTTP parser).
//!
//! Each request/response pair is a transaction ([`HttpTx`], `tx_id` from
//! 0 in request order). Requests and responses are parsed across any
//! segmentation; pipelined requests queue transactions the responses then
//! fill in order; keep-alive, `CONNECT` (the flow becomes a tunnel after a
//! 2xx) and interim `1xx` responses (100-continue) are handled. Bodies are
//! framed by `Content-Length`, chunked coding or the connection's end;
//! response bodies are decoded (gzip, deflate, up to [`MAX_LAYERS`]
//! layers, [`DECOMPRESS_LIMIT`] bytes out) and kept for inspection up to
//! [`BODY_LIMIT`] bytes; each body is tracked as a file ([`files`]).
//!
//! Limits: the start line plus headers of a message [`MAX_HEAD`], one
//! header line [`MAX_LINE`], [`MAX_HEADERS`] headers, [`MAX_TXS`] queued
//! transactions. Anything over a limit is cut and reported as an anomaly
//! (Suricata's event names); nothing panics.
//!
//! Detection reads transactions when they reach an inspection point
//! ([`Mark`]): the end of a message's headers (header rules) and the end
//! of its body or the body limit (body rules).

pub mod body;
pub mod files;
pub mod headers;
pub mod request;
pub mod response;
pub mod uri;

use std::collections::VecDeque;

use crate::packet::Direction;
use body::{BodyReader, Chunk, Coding, Decompressor, Framing};
use files::{FileInfo, FileState};
use headers::Header;

/// Start line plus headers of one message.
pub const MAX_HEAD: usize = 64 * 1024;
/// One header or start line.
pub const MAX_LINE: usize = 16 * 1024;
/// Headers kept per message.
pub const MAX_HEADERS: usize = 256;
/// Body bytes kept for inspection (Suricata's `request-body-limit` /
/// `response-body-limit` are 100 KiB by default).
pub const BODY_LIMIT: usize = 100 * 1024;
/// Decoded bytes one body may produce (libhtp's decompression limit).
pub const DECOMPRESS_LIMIT: u64 = 4 * 1024 * 1024;
/// Content-coding layers decoded.
pub const MAX_LAYERS: usize = 3;
/// Transactions kept (logged ones are dropped first).
pub const MAX_TXS: usize = 64;
/// Anomalies kept between two drains.
const MAX_ANOMALIES: usize = 16;

/// How far one side of a transaction got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum Progress {
    #[default]
    None,
    /// Start line or headers under way.
    Head,
    /// Body under way.
    Body,
    Done,
}

/// A message body as kept for inspection.
#[derive(Debug, Clone, Default)]
pub struct Body {
    /// The first [`BODY_LIMIT`] decoded bytes.
    pub data: Vec<u8>,
    /// All decoded bytes seen.
    pub len: u64,
    /// Bytes were dropped at the limit.
    pub truncated: bool,
}

impl Body {
    fn push(&mut self, b: &[u8]) {
        self.len += b.len() as u64;
        let room = BODY_LIMIT.saturating_sub(self.data.len());
        if b.len() > room {
            self.truncated = true;
        }
        self.data
            .extend_from_slice(b.get(..room.min(b.len())).unwrap_or(&[]));
    }
}

/// One request/response pair.
#[derive(Debug, Clone, Default)]
pub struct HttpTx {
    pub tx_id: u64,
    pub request_line: Vec<u8>,
    pub method: Vec<u8>,
    /// The request target as sent.
    pub uri_raw: Vec<u8>,
    /// Normalized ([`uri::normalize`]).
    pub uri: Vec<u8>,
    pub protocol: Vec<u8>,
    pub req_headers: Vec<Header>,
    /// The header lines as received (after the request line, with line
    /// ends, without the blank line).
    pub req_headers_raw: Vec<u8>,
    pub req_body: Body,
    pub req_progress: Progress,
    pub response_line: Vec<u8>,
    pub resp_protocol: Vec<u8>,
    pub status_raw: Vec<u8>,
    pub status: Option<u16>,
    pub status_msg: Vec<u8>,
    pub resp_headers: Vec<Header>,
    pub resp_headers_raw: Vec<u8>,
    pub resp_body: Body,
    pub resp_progress: Progress,
    /// The request body as a file (uploads).
    pub req_file: Option<FileInfo>,
    /// The response body as a file.
    pub resp_file: Option<FileInfo>,
    logged: bool,
}

impl HttpTx {
    /// Both messages are complete.
    pub fn complete(&self) -> bool {
        self.req_progress == Progress::Done && self.resp_progress == Progress::Done
    }

    /// Header `name` of the request (`to_server`) or response.
    pub fn header(&self, dir: Direction, name: &str) -> Option<&[u8]> {
        headers::get(self.headers(dir), name)
    }

    pub fn headers(&self, dir: Direction) -> &[Header] {
        match dir {
            Direction::ToServer => &self.req_headers,
            Direction::ToClient => &self.resp_headers,
        }
    }

    /// The `Host` header's host part (port removed, lowercase), or the
    /// host of an absolute URI.
    pub fn hostname(&self) -> Option<Vec<u8>> {
        let from_uri = || {
            let u = &self.uri_raw;
            let rest = u
                .get(..7)
                .filter(|p| p.eq_ignore_ascii_case(b"http://"))
                .and_then(|_| u.get(7..))?;
            let end = rest
                .iter()
                .position(|&b| b == b'/' || b == b'?')
                .unwrap_or(rest.len());
            rest.get(..end).map(<[u8]>::to_vec)
        };
        let h =
            from_uri().or_else(|| self.header(Direction::ToServer, "host").map(<[u8]>::to_vec))?;
        let host = if h.first() == Some(&b'[') {
            let end = memchr::memchr(b']', &h).map_or(h.len(), |e| e + 1);
            h.get(..end).unwrap_or(&[]).to_vec()
        } else {
            let end = memchr::memchr(b':', &h).unwrap_or(h.len());
            h.get(..end).unwrap_or(&[]).to_vec()
        };
        Some(host.to_ascii_lowercase())
    }

    pub fn body(&self, dir: Direction) -> &Body {
        match dir {
            Direction::ToServer => &self.req_body,
            Direction::ToClient => &self.resp_body,
        }
    }

    pub fn file(&self, dir: Direction) -> Option<&FileInfo> {
        match dir {
            Direction::ToServer => self.req_file.as_ref(),
            Direction::ToClient => self.resp_file.as_ref(),
        }
    }
}

/// An inspection point reached by transaction `tx_id` in direction `dir`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mark {
    pub tx_id: u64,
    pub dir: Direction,
    /// The headers are complete: rules without body buffers run now.
    pub headers: bool,
    /// The body is complete (or hit its limit): body rules run now.
    pub body: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Phase {
    /// Between messages (blank lines skipped).
    #[default]
    Idle,
    /// Start line and headers.
    Head,
    Body,
    /// CONNECT tunnel or protocol upgrade: no more parsing.
    Tunnel,
}

/// One direction's parser.
#[derive(Debug, Default)]
struct Side {
    phase: Phase,
    /// Start line + headers so far (bounded by [`MAX_HEAD`]).
    head: Vec<u8>,
    /// End of the start line in `head` (0: not complete yet).
    line_end: usize,
    /// Bytes of the current line (without CR/LF).
    line_len: usize,
    /// CRs in the current line (`\r\r\n` is not a blank line).
    line_cr: usize,
    /// The head went over a limit (reported once per message).
    over: bool,
    body: BodyReader,
    dec: Vec<Decompressor>,
    /// The transaction this side is filling.
    tx: Option<u64>,
    /// The body was marked for inspection at the limit already.
    body_marked: bool,
}

/// HTTP state of a flow.
#[derive(Debug, Default)]
pub struct HttpState {
    pub txs: VecDeque<HttpTx>,
    next_id: u64,
    req: Side,
    resp: Side,
    /// Inspection points reached since [`HttpState::begin_packet`].
    pub marks: Vec<Mark>,
    /// Anomalies (Suricata's HTTP app-layer event names) since the last
    /// [`HttpState::take_anomalies`], with the direction they were seen in.
    pub anomalies: Vec<(Direction, &'static str)>,
}

/// What one feed call changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HttpUpdate {
    /// A transaction completed (its event can be written).
    pub tx_complete: bool,
    /// A transaction started.
    pub new_tx: bool,
}

impl HttpState {
    /// The transaction with id `id`, if still kept.
    pub fn tx(&self, id: u64) -> Option<&HttpTx> {
        let first = self.txs.front()?.tx_id;
        self.txs.get(id.checked_sub(first)? as usize)
    }

    fn tx_mut(&mut self, id: u64) -> Option<&mut HttpTx> {
        let first = self.txs.front()?.tx_id;
        self.txs.get_mut(id.checked_sub(first)? as usize)
    }

    /// Forgets the inspection points of the previous packet.
    pub fn begin_packet(&mut self) {
        self.marks.clear();
    }

    fn anomaly(&mut self, dir: Direction, name: &'static str) {
        if self.anomalies.len() < MAX_ANOMALIES {
            self.anomalies.push((dir, name));
        }
    }

    /// Anomalies seen since the last call.
    pub fn take_anomalies(&mut self) -> Vec<(Direction, &'static str)> {
        std::mem::take(&mut self.anomalies)
    }

    /// The next complete transaction not logged yet (marks it logged).
    pub fn next_complete_unlogged(&mut self) -> Option<u64> {
        let tx = self.txs.iter_mut().find(|t| !t.logged && t.complete())?;
        tx.logged = true;
        Some(tx.tx_id)
    }

    /// At flow end: the next transaction not logged yet that has a request
    /// (marks it logged, truncates its open files).
    pub fn next_unlogged_at_end(&mut self) -> Option<u64> {
        let tx = self
            .txs
            .iter_mut()
            .find(|t| !t.logged && t.req_progress >= Progress::Head)?;
        tx.logged = true;
        for f in [tx.req_file.as_mut(), tx.resp_file.as_mut()]
            .into_iter()
            .flatten()
        {
            if f.state == FileState::Open {
                f.state = FileState::Truncated;
            }
        }
        Some(tx.tx_id)
    }

    /// The next file (tx id, direction) that is closed (or truncated) and
    /// not logged yet; marks it logged.
    pub fn next_file_to_log(&mut self) -> Option<(u64, Direction)> {
        for tx in self.txs.iter_mut() {
            for (dir, f) in [
                (Direction::ToServer, tx.req_file.as_mut()),
                (Direction::ToClient, tx.resp_file.as_mut()),
            ] {
                if let Some(f) = f {
                    if !f.logged && f.state != FileState::Open {
                        f.logged = true;
                        return Some((tx.tx_id, dir));
                    }
                }
            }
        }
        None
    }

    /// The connection closed in direction `dir`: a body delimited by the
    /// close ends here; a body cut short is inspected as far as it came
    /// and its file is truncated.
    pub fn on_close(&mut self, dir: Direction) -> HttpUpdate {
        let mut up = HttpUpdate::default();
        let side = self.side(dir);
        if side.phase != Phase::Body {
            return up;
        }
        if side.body.framing == Framing::UntilClose {
            self.end_body(dir, &mut up);
            return up;
        }
        let Some(id) = side.tx else { return up };
        if !side.body_marked {
            side.body_marked = true;
            self.marks.push(Mark {
                tx_id: id,
                dir,
                headers: false,
                body: true,
            });
        }
        if let Some(tx) = self.tx_mut(id) {
            let f = match dir {
                Direction::ToServer => tx.req_file.as_mut(),
                Direction::ToClient => tx.resp_file.as_mut(),
            };
            if let Some(f) = f {
                f.state = FileState::Truncated;
            }
        }
        up
    }

    fn side(&mut self, dir: Direction) -> &mut Side {
        match dir {
            Direction::ToServer => &mut self.req,
            Direction::ToClient => &mut self.resp,
        }
    }

    /// Feeds the next in-order bytes of direction `dir`.
    pub fn feed(&mut self, dir: Direction, mut data: &[u8]) -> HttpUpdate {
        let mut up = HttpUpdate::default();
        // Bounded: each round consumes input or changes phase.
        let mut rounds = 0usize;
        while !data.is_empty() && rounds < 100_000 {
            rounds += 1;
            let phase = self.side(dir).phase;
            match phase {
                Phase::Tunnel => break,
                Phase::Idle => {
                    // Blank (or whitespace-only) lines between messages.
                    let skip = data
                        .iter()
                        .position(|&b| !matches!(b, b'\r' | b'\n' | b' ' | b'\t'))
                        .unwrap_or(data.len());
                    data = data.get(skip..).unwrap_or(&[]);
                    if data.is_empty() {
                        break;
                    }
                    if dir == Direction::ToClient && response::probe(data) == Some(false) {
                        self.unframed_response(&mut up);
                        continue;
                    }
                    let s = self.side(dir);
                    s.phase = Phase::Head;
                    s.head.clear();
                    s.line_end = 0;
                    s.line_len = 0;
                    s.over = false;
                }
                Phase::Head => {
                    // A response that began with a prefix of `HTTP/` (the
                    // probe was undecided) and now turns out not to be a
                    // status line: its bytes so far are body, as if they
                    // had come in one piece.
                    if dir == Direction::ToClient && self.resp.line_end == 0 {
                        let head = &self.resp.head;
                        if head.len() < 5 {
                            let mut start = head.clone();
                            start.extend_from_slice(data.get(..5 - head.len()).unwrap_or(data));
                            if response::probe(&start) == Some(false) {
                                let held = std::mem::take(&mut self.resp.head);
                                self.unframed_response(&mut up);
                                self.feed_body(dir, &held, &mut up);
                                continue;
                            }
                        }
                    }
                    let used = self.feed_head(dir, data, &mut up);
                    data = data.get(used..).unwrap_or(&[]);
                }
                Phase::Body => {
                    let used = self.feed_body(dir, data, &mut up);
                    data = data.get(used..).unwrap_or(&[]);
                }
            }
        }
        self.trim();
        up
    }

    /// A response that does not start with a status line: libhtp reads it
    /// as the body of an HTTP/0.9-style response, until close.
    fn unframed_response(&mut self, up: &mut HttpUpdate) {
        let id = self.resp_tx(up);
        self.anomaly(Direction::ToClient, "RESPONSE_INVALID_PROTOCOL");
        if let Some(tx) = self.tx_mut(id) {
            tx.resp_progress = Progress::Body;
        }
        let s = &mut self.resp;
        s.phase = Phase::Body;
        s.body = BodyReader::new(Framing::UntilClose);
        s.dec.clear();
        s.body_marked = false;
    }

    /// Drops logged, complete transactions beyond a few, and the oldest
    /// when too many are queued.
    fn trim(&mut self) {
        while self.txs.len() > 4 && self.txs.front().is_some_and(|t| t.logged && t.complete()) {
            self.txs.pop_front();
        }
        while self.txs.len() > MAX_TXS {
            self.txs.pop_front();
        }
    }

    /// The transaction a response goes to: the oldest without one, or a
    /// new one.
    fn resp_tx(&mut self, up: &mut HttpUpdate) -> u64 {
        if let Some(id) = self.resp.tx {
            return id;
        }
        let found = self
            .txs
            .iter()
            .find(|t| t.resp_progress == Progress::None && t.req_progress >= Progress::Head)
            .map(|t| t.tx_id);
        let id = match found {
            Some(id) => id,
            None => {
                self.anomaly(Direction::ToClient, "UNABLE_TO_MATCH_RESPONSE_TO_REQUEST");
                let id = self.new_tx(up);
                if let Some(tx) = self.tx_mut(id) {
                    // No request will come for it.
                    tx.req_progress = Progress::Done;
                }
                id
            }
        };
        self.resp.tx = Some(id);
        id
    }

    fn new_tx(&mut self, up: &mut HttpUpdate) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        self.txs.push_back(HttpTx {
            tx_id: id,
            ..HttpTx::default()
        });
        up.new_tx = true;
        id
    }

    /// Start line and headers; returns the bytes used.
    fn feed_head(&mut self, dir: Direction, data: &[u8], up: &mut HttpUpdate) -> usize {
        let (too_long, missing_colon, folding, invalid_hdr) = match dir {
            Direction::ToServer => (
                "REQUEST_FIELD_TOO_LONG",
                "REQUEST_FIELD_MISSING_COLON",
                "INVALID_REQUEST_FIELD_FOLDING",
                "REQUEST_HEADER_INVALID",
            ),
            Direction::ToClient => (
                "RESPONSE_FIELD_TOO_LONG",
                "RESPONSE_FIELD_MISSING_COLON",
                "INVALID_RESPONSE_FIELD_FOLDING",
                "RESPONSE_HEADER_INVALID",
            ),
        };
        let mut used = 0usize;
        while used < data.len() {
            let rest = data.get(used..).unwrap_or(&[]);
            let nl = memchr::memchr(b'\n', rest);
            let piece = match nl {
                Some(i) => rest.get(..=i).unwrap_or(&[]),
                None => rest,
            };
            used += piece.len();
            let s = self.side(dir);
            let content = piece.iter().filter(|&&b| b != b'\r' && b != b'\n').count();
            s.line_len += content;
            s.line_cr += piece.iter().filter(|&&b| b == b'\r').count();
            let room = MAX_HEAD.saturating_sub(s.head.len());
            let line_over = s.line_len > MAX_LINE;
            if (piece.len() > room || line_over) && !s.over {
                s.over = true;
                self.anomaly(dir, too_long);
            }
            let s = self.side(dir);
            if !line_over {
                s.head
                    .extend_from_slice(piece.get(..room.min(piece.len())).unwrap_or(&[]));
            } else if nl.is_some() && s.head.len() < MAX_HEAD {
                // Keep the line end of a cut line.
                s.head.push(b'\n');
            }
            if nl.is_none() {
                break;
            }
            let blank = s.line_len == 0 && s.line_cr <= 1;
            s.line_len = 0;
            s.line_cr = 0;
            if s.line_end == 0 {
                // The start line ended.
                s.line_end = s.head.len().max(1);
                let line_end = s.line_end;
                let line = s.head.get(..line_end).unwrap_or(&[]);
                let line = line.strip_suffix(b"\n").unwrap_or(line);
                let line = line.strip_suffix(b"\r").unwrap_or(line).to_vec();
                if self.start_line(dir, &line, up) {
                    return used;
                }
                continue;
            }
            if blank {
                self.end_head(dir, up, missing_colon, folding, invalid_hdr);
                return used;
            }
        }
        used
    }

    /// Handles a complete start line; true when the message ends with it
    /// (HTTP/0.9 request).
    fn start_line(&mut self, dir: Direction, line: &[u8], up: &mut HttpUpdate) -> bool {
        match dir {
            Direction::ToServer => {
                let id = self.new_tx(up);
                self.req.tx = Some(id);
                let r = request::parse(line);
                let inv = r.invalid;
                let missing = r.missing_protocol;
                if let Some(tx) = self.tx_mut(id) {
                    tx.request_line = line.to_vec();
                    tx.uri = uri::normalize(&r.uri);
                    tx.method = r.method;
                    tx.uri_raw = r.uri;
                    tx.protocol = r.protocol;
                    tx.req_progress = Progress::Head;
                }
                if inv {
                    self.anomaly(dir, "REQUEST_LINE_LEADING_WHITESPACE");
                }
                if missing {
                    // HTTP/0.9: no headers, no body.
                    self.anomaly(dir, "REQUEST_LINE_MISSING_PROTOCOL");
                    if let Some(tx) = self.tx_mut(id) {
                        tx.req_progress = Progress::Done;
                    }
                    self.marks.push(Mark {
                        tx_id: id,
                        dir,
                        headers: true,
                        body: true,
                    });
                    self.req.phase = Phase::Idle;
                    self.req.tx = None;
                    self.check_complete(id, up);
                    return true;
                }
                false
            }
            Direction::ToClient => {
                let id = self.resp_tx(up);
                let st = response::parse(line);
                if st.invalid_status {
                    self.anomaly(dir, "RESPONSE_INVALID_STATUS");
                }
                if let Some(tx) = self.tx_mut(id) {
                    tx.response_line = line.to_vec();
                    tx.resp_protocol = st.protocol;
                    tx.status_raw = st.code_raw;
                    tx.status = st.code;
                    tx.status_msg = st.msg;
                    tx.resp_headers.clear();
                    tx.resp_headers_raw.clear();
                    tx.resp_progress = Progress::Head;
                }
                false
            }
        }
    }

    fn end_head(
        &mut self,
        dir: Direction,
        up: &mut HttpUpdate,
        missing_colon: &'static str,
        folding: &'static str,
        invalid_hdr: &'static str,
    ) {
        let s = self.side(dir);
        let Some(id) = s.tx else {
            s.phase = Phase::Idle;
            return;
        };
        let line_end = s.line_end.min(s.head.len());
        let block = s.head.get(line_end..).unwrap_or(&[]);
        // Without the final blank line.
        let block = block.strip_suffix(b"\n").unwrap_or(block);
        let block = block.strip_suffix(b"\r").unwrap_or(block);
        let raw = block.to_vec();
        let mut hs = Vec::new();
        let issues = headers::parse(headers::lines(&raw), &mut hs, MAX_HEADERS);
        if issues.invalid {
            self.anomaly(dir, missing_colon);
        }
        if issues.folded {
            self.anomaly(dir, folding);
        }
        if issues.space_in_name {
            self.anomaly(dir, invalid_hdr);
        }
        let cl = headers::content_length(&hs);
        let chunked = headers::is_chunked(&hs);
        let te_other = headers::get(&hs, "transfer-encoding").is_some() && !chunked;
        let codings = headers::get(&hs, "content-encoding")
            .map(Coding::from_header)
            .unwrap_or_default();
        if matches!(cl, Some(Err(()))) {
            self.anomaly(
                dir,
                match dir {
                    Direction::ToServer => "INVALID_CONTENT_LENGTH_FIELD_IN_REQUEST",
                    Direction::ToClient => "INVALID_CONTENT_LENGTH_FIELD_IN_RESPONSE",
                },
            );
        }
        if te_other {
            self.anomaly(
                dir,
                match dir {
                    Direction::ToServer => "INVALID_TRANSFER_ENCODING_VALUE_IN_REQUEST",
                    Direction::ToClient => "INVALID_TRANSFER_ENCODING_VALUE_IN_RESPONSE",
                },
            );
        }
        let cl = cl.and_then(Result::ok);
        let (method, status) = match self.tx(id) {
            Some(t) => (t.method.clone(), t.status),
            None => (Vec::new(), None),
        };
        let framing = match dir {
            Direction::ToServer => {
                if chunked {
                    Framing::Chunked(Chunk::Size)
                } else {
                    match cl {
                        Some(n) if n > 0 => Framing::Length(n),
                        _ => Framing::None,
                    }
                }
            }
            Direction::ToClient => {
                let code = status.unwrap_or(200);
                if (100..200).contains(&code) {
                    // Interim response: the real one follows (101 switches
                    // protocols: stop parsing).
                    if let Some(tx) = self.tx_mut(id) {
                        tx.resp_headers = hs;
                        tx.resp_headers_raw = raw;
                    }
                    if code == 101 {
                        self.req.phase = Phase::Tunnel;
                        self.resp.phase = Phase::Tunnel;
                        self.finish_resp_tx(id, up);
                    } else {
                        self.resp.phase = Phase::Idle;
                    }
                    return;
                }
                if method.eq_ignore_ascii_case(b"CONNECT") && (200..300).contains(&code) {
                    self.req.phase = Phase::Tunnel;
                    self.resp.phase = Phase::Tunnel;
                    if let Some(tx) = self.tx_mut(id) {
                        tx.resp_headers = hs;
                        tx.resp_headers_raw = raw;
                    }
                    self.finish_resp_tx(id, up);
                    return;
                }
                let before_11 = self.tx(id).is_some_and(|t| {
                    let p = t.resp_protocol.to_ascii_uppercase();
                    p == b"HTTP/0.9"
                });
                if method.eq_ignore_ascii_case(b"HEAD") || code == 204 || code == 304 {
                    Framing::None
                } else if chunked && !(before_11 && cl.is_some()) {
                    Framing::Chunked(Chunk::Size)
                } else {
                    match cl {
                        Some(0) => Framing::None,
                        Some(n) => Framing::Length(n),
                        None => Framing::UntilClose,
                    }
                }
            }
        };
        let has_body = framing != Framing::None;
        let file_name = match self.tx(id) {
            Some(t) if has_body => Some(files::name(&hs, &t.uri)),
            _ => None,
        };
        if let Some(tx) = self.tx_mut(id) {
            let (h, r, p, f) = match dir {
                Direction::ToServer => (
                    &mut tx.req_headers,
                    &mut tx.req_headers_raw,
                    &mut tx.req_progress,
                    &mut tx.req_file,
                ),
                Direction::ToClient => (
                    &mut tx.resp_headers,
                    &mut tx.resp_headers_raw,
                    &mut tx.resp_progress,
                    &mut tx.resp_file,
                ),
            };
            *h = hs;
            *r = raw;
            *p = if has_body {
                Progress::Body
            } else {
                Progress::Done
            };
            if let Some(name) = file_name {
                *f = Some(FileInfo {
                    name,
                    ..FileInfo::default()
                });
            }
        }
        self.marks.push(Mark {
            tx_id: id,
            dir,
            headers: true,
            body: !has_body,
        });
        let s = self.side(dir);
        s.body = BodyReader::new(framing);
        s.dec.clear();
        s.body_marked = false;
        if dir == Direction::ToClient {
            for c in codings.iter().rev().take(MAX_LAYERS) {
                if let Some(d) = Decompressor::new(*c, DECOMPRESS_LIMIT) {
                    self.resp.dec.push(d);
                }
            }
            if codings.len() > MAX_LAYERS {
                self.anomaly(dir, "TOO_MANY_ENCODING_LAYERS");
            }
        }
        if has_body {
            self.side(dir).phase = Phase::Body;
        } else {
            let s = self.side(dir);
            s.phase = Phase::Idle;
            s.tx = None;
            self.check_complete(id, up);
        }
    }

    fn finish_resp_tx(&mut self, id: u64, up: &mut HttpUpdate) {
        if let Some(tx) = self.tx_mut(id) {
            tx.resp_progress = Progress::Done;
        }
        self.marks.push(Mark {
            tx_id: id,
            dir: Direction::ToClient,
            headers: true,
            body: true,
        });
        self.resp.tx = None;
        self.check_complete(id, up);
    }

    fn check_complete(&mut self, id: u64, up: &mut HttpUpdate) {
        if self.tx(id).is_some_and(HttpTx::complete) {
            up.tx_complete = true;
        }
    }

    /// Body bytes; returns the bytes used.
    fn feed_body(&mut self, dir: Direction, data: &[u8], up: &mut HttpUpdate) -> usize {
        let Some(id) = self.side(dir).tx else {
            self.side(dir).phase = Phase::Idle;
            return 0;
        };
        let mut raw: Vec<u8> = Vec::new();
        let side = match dir {
            Direction::ToServer => &mut self.req,
            Direction::ToClient => &mut self.resp,
        };
        let step = side.body.feed(data, &mut |b| raw.extend_from_slice(b));
        // Undo the content codings, outermost last.
        let mut failed = false;
        let decoded = if side.dec.is_empty() {
            raw
        } else {
            let mut cur = raw;
            for d in side.dec.iter_mut() {
                let mut out = Vec::new();
                let had_error = d.error;
                d.feed(&cur, &mut out);
                if d.error && !had_error {
                    failed = true;
                }
                cur = out;
            }
            cur
        };
        if failed {
            self.anomaly(dir, "GZIP_DECOMPRESSION_FAILED");
        }
        if step.issues.invalid_chunk_len {
            self.anomaly(
                dir,
                match dir {
                    Direction::ToServer => "INVALID_REQUEST_CHUNK_LEN",
                    Direction::ToClient => "INVALID_RESPONSE_CHUNK_LEN",
                },
            );
        }
        let mut hit_limit = false;
        if let Some(tx) = self.tx_mut(id) {
            let (b, f) = match dir {
                Direction::ToServer => (&mut tx.req_body, &mut tx.req_file),
                Direction::ToClient => (&mut tx.resp_body, &mut tx.resp_file),
            };
            b.push(&decoded);
            if let Some(f) = f {
                f.size = b.len;
            }
            hit_limit = b.truncated;
        }
        if step.done {
            self.end_body(dir, up);
        } else if hit_limit && !self.side(dir).body_marked {
            self.side(dir).body_marked = true;
            self.marks.push(Mark {
                tx_id: id,
                dir,
                headers: false,
                body: true,
            });
        }
        step.consumed
    }

    fn end_body(&mut self, dir: Direction, up: &mut HttpUpdate) {
        let s = self.side(dir);
        let Some(id) = s.tx.take() else { return };
        s.phase = Phase::Idle;
        let marked = s.body_marked;
        if let Some(tx) = self.tx_mut(id) {
            let (p, f) = match dir {
                Direction::ToServer => (&mut tx.req_progress, &mut tx.req_file),
                Direction::ToClient => (&mut tx.resp_progress, &mut tx.resp_file),
            };
            *p = Progress::Done;
            if let Some(f) = f {
                f.state = FileState::Closed;
            }
        }
        if !marked {
            self.marks.push(Mark {
                tx_id: id,
                dir,
                headers: false,
                body: true,
            });
        }
        self.check_complete(id, up);
    }
}

/// Early verdict on the first bytes of a direction: `Some(true)` for a
/// request method followed by a space (client) or `HTTP/` (server).
pub fn probe(first: &[u8], server: bool) -> Option<bool> {
    if server {
        response::probe(first)
    } else {
        request::probe(first)
    }
}

#[cfg(test)]
mod tests;
