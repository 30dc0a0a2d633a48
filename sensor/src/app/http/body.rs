//! Message bodies: framing (`Content-Length`, chunked, until close) and
//! content decoding (gzip, deflate) with a decompression limit. Both are
//! incremental: any split of the input gives the same output.

use std::io::Write;

/// Longest chunk-size or trailer line kept.
pub const MAX_CHUNK_LINE: usize = 1024;

/// How the body's end is found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Framing {
    /// No body.
    #[default]
    None,
    /// `Content-Length` bytes left.
    Length(u64),
    /// Chunked transfer coding.
    Chunked(Chunk),
    /// Until the connection closes (responses without a length).
    UntilClose,
}

/// Where a chunked body stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chunk {
    /// Reading a chunk-size line.
    Size,
    /// Data bytes left in this chunk.
    Data(u64),
    /// The CRLF after a chunk's data.
    DataEnd,
    /// Trailer lines after the last chunk.
    Trailer,
}

/// Anomalies of the framing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BodyIssues {
    /// A chunk-size line that is not hex (libhtp: `INVALID_CHUNK_LEN`).
    pub invalid_chunk_len: bool,
    /// A chunk-size or trailer line over [`MAX_CHUNK_LINE`].
    pub long_line: bool,
}

/// One direction's body framing state.
#[derive(Debug, Clone, Default)]
pub struct BodyReader {
    pub framing: Framing,
    line: Vec<u8>,
}

/// What [`BodyReader::feed`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BodyStep {
    /// Input bytes used.
    pub consumed: usize,
    /// The body ended.
    pub done: bool,
    pub issues: BodyIssues,
}

/// Whitespace as libhtp skips it around chunk sizes (with VT).
fn is_space(b: u8) -> bool {
    b.is_ascii_whitespace() || b == 0x0b
}

fn parse_chunk_len(line: &[u8]) -> Option<u64> {
    let t: &[u8] = {
        let s = line
            .iter()
            .position(|&b| !is_space(b))
            .unwrap_or(line.len());
        line.get(s..).unwrap_or(&[])
    };
    let end = t
        .iter()
        .position(|b| !b.is_ascii_hexdigit())
        .unwrap_or(t.len());
    let hex = t.get(..end).unwrap_or(&[]);
    if hex.is_empty() || hex.len() > 15 {
        return None;
    }
    // Anything after the hex digits (extensions, junk) is ignored, as
    // libhtp does.
    u64::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()
}

impl BodyReader {
    pub fn new(framing: Framing) -> BodyReader {
        BodyReader {
            framing,
            line: Vec::new(),
        }
    }

    /// Takes the body bytes at the start of `data`, handing the payload
    /// (without chunk framing) to `sink`.
    pub fn feed(&mut self, data: &[u8], sink: &mut dyn FnMut(&[u8])) -> BodyStep {
        let mut st = BodyStep::default();
        let mut i = 0usize;
        loop {
            let rest = data.get(i..).unwrap_or(&[]);
            match self.framing {
                Framing::None => {
                    st.done = true;
                    break;
                }
                Framing::UntilClose => {
                    if !rest.is_empty() {
                        sink(rest);
                    }
                    i = data.len();
                    break;
                }
                Framing::Length(left) => {
                    let n = (left.min(rest.len() as u64)) as usize;
                    if n > 0 {
                        sink(rest.get(..n).unwrap_or(&[]));
                    }
                    i += n;
                    let left = left - n as u64;
                    if left == 0 {
                        self.framing = Framing::None;
                        st.done = true;
                    } else {
                        self.framing = Framing::Length(left);
                    }
                    break;
                }
                Framing::Chunked(Chunk::Data(left)) => {
                    if rest.is_empty() {
                        break;
                    }
                    let n = (left.min(rest.len() as u64)) as usize;
                    sink(rest.get(..n).unwrap_or(&[]));
                    i += n;
                    let left = left - n as u64;
                    self.framing = Framing::Chunked(if left == 0 {
                        Chunk::DataEnd
                    } else {
                        Chunk::Data(left)
                    });
                }
                Framing::Chunked(c) => {
                    // Line-based states.
                    if rest.is_empty() {
                        break;
                    }
                    let Some(nl) = memchr::memchr(b'\n', rest) else {
                        let room = MAX_CHUNK_LINE.saturating_sub(self.line.len());
                        if rest.len() > room {
                            st.issues.long_line = true;
                        }
                        self.line
                            .extend_from_slice(rest.get(..room.min(rest.len())).unwrap_or(&[]));
                        i = data.len();
                        // A size line that cannot be hex: not chunked after
                        // all, the rest is data (without waiting for a line
                        // end that may never come).
                        let first = self.line.iter().copied().find(|&b| !is_space(b));
                        if c == Chunk::Size && first.is_some_and(|b| !b.is_ascii_hexdigit()) {
                            st.issues.invalid_chunk_len = true;
                            self.framing = Framing::UntilClose;
                            let line = std::mem::take(&mut self.line);
                            sink(&line);
                        }
                        break;
                    };
                    let part = rest.get(..nl).unwrap_or(&[]);
                    i += nl + 1;
                    let room = MAX_CHUNK_LINE.saturating_sub(self.line.len());
                    self.line
                        .extend_from_slice(part.get(..room.min(part.len())).unwrap_or(&[]));
                    let raw = std::mem::take(&mut self.line);
                    let line = raw.strip_suffix(b"\r").unwrap_or(&raw);
                    match c {
                        Chunk::DataEnd => {
                            // Expect an empty line; tolerate anything.
                            self.framing = Framing::Chunked(Chunk::Size);
                            if !line.is_empty() {
                                // The size line came without the CRLF: read
                                // it as the next size.
                                self.chunk_size(line, &mut st);
                            }
                        }
                        Chunk::Size => {
                            self.chunk_size(line, &mut st);
                            if self.framing == Framing::UntilClose {
                                // Not chunked after all: the line is data,
                                // as it came (with or without its CR).
                                sink(&raw);
                                sink(b"\n");
                            }
                        }
                        Chunk::Trailer => {
                            if line.is_empty() {
                                self.framing = Framing::None;
                                st.done = true;
                                break;
                            }
                        }
                        Chunk::Data(_) => {}
                    }
                    if st.done {
                        break;
                    }
                }
            }
        }
        st.consumed = i.min(data.len());
        st
    }

    fn chunk_size(&mut self, line: &[u8], st: &mut BodyStep) {
        if line.iter().all(|b| b.is_ascii_whitespace()) {
            // Blank lines between chunks: skip.
            return;
        }
        match parse_chunk_len(line) {
            Some(0) => self.framing = Framing::Chunked(Chunk::Trailer),
            Some(n) => self.framing = Framing::Chunked(Chunk::Data(n)),
            None => {
                // libhtp treats the rest as data until close.
                st.issues.invalid_chunk_len = true;
                self.framing = Framing::UntilClose;
            }
        }
    }
}

/// Content coding of a body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Coding {
    #[default]
    Identity,
    Gzip,
    Deflate,
}

impl Coding {
    /// From a `Content-Encoding` value (the last coding is undone;
    /// layered codings beyond one are decoded as far as possible).
    pub fn from_header(v: &[u8]) -> Vec<Coding> {
        v.split(|&b| b == b',')
            .filter_map(|c| {
                let c: Vec<u8> = c
                    .iter()
                    .filter(|b| !b.is_ascii_whitespace())
                    .map(u8::to_ascii_lowercase)
                    .collect();
                // As libhtp: a token containing the name (case and NUL
                // bytes ignored).
                let c: Vec<u8> = c.into_iter().filter(|&b| b != 0).collect();
                let has = |n: &[u8]| c.windows(n.len()).any(|w| w == n);
                if has(b"gzip") {
                    Some(Coding::Gzip)
                } else if has(b"deflate") {
                    Some(Coding::Deflate)
                } else {
                    None
                }
            })
            .collect()
    }
}

enum Dec {
    Zlib(flate2::write::ZlibDecoder<Vec<u8>>),
    Raw(flate2::write::DeflateDecoder<Vec<u8>>),
    /// Deflate, zlib or raw not known yet.
    Pending,
    /// A gzip header being read (its flags are not checked, as libhtp).
    GzHeader(Vec<u8>),
    /// Stopped (error or limit): pass nothing more.
    Broken,
}

impl std::fmt::Debug for Dec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Dec::Zlib(_) => "zlib",
            Dec::Raw(_) => "raw",
            Dec::Pending => "pending",
            Dec::GzHeader(_) => "gzip header",
            Dec::Broken => "broken",
        })
    }
}

/// The length of the gzip header at the start of `h`: `None` while
/// incomplete, `Err` when it is not gzip.
fn gzip_header_len(h: &[u8]) -> Option<Result<usize, ()>> {
    if h.len() >= 2 && (h.first() != Some(&0x1f) || h.get(1) != Some(&0x8b)) {
        return Some(Err(()));
    }
    let flags = *h.get(3)?;
    let mut i = 10usize;
    if h.len() < i {
        return None;
    }
    if flags & 0x04 != 0 {
        let n = usize::from(*h.get(i)?) | usize::from(*h.get(i + 1)?) << 8;
        i += 2 + n;
        if h.len() < i {
            return None;
        }
    }
    for bit in [0x08u8, 0x10] {
        if flags & bit != 0 {
            let z = memchr::memchr(0, h.get(i..)?)?;
            i += z + 1;
        }
    }
    if flags & 0x02 != 0 {
        i += 2;
        if h.len() < i {
            return None;
        }
    }
    Some(Ok(i))
}

/// Input is handed to the decoder in pieces this small, so one piece can
/// never blow up past ~1 MiB of output (deflate's ratio is at most ~1032:1).
const PIECE: usize = 1024;

/// One content-coding layer, incremental, with an output limit.
#[derive(Debug)]
pub struct Decompressor {
    dec: Dec,
    /// Output bytes still allowed.
    left: u64,
    /// The stream was corrupt.
    pub error: bool,
    /// The output limit was hit.
    pub limited: bool,
    /// Output so far (a stream that fails before any output is passed
    /// through as it is, as libhtp does).
    produced: u64,
    passthrough: bool,
    /// Input kept while nothing has been produced yet (up to
    /// [`HOLD_LIMIT`]), so that a stream found not to be compressed is
    /// passed through whole, however its input was cut.
    held: Vec<u8>,
    held_over: bool,
}

/// Input kept for pass-through before the first decoded byte.
const HOLD_LIMIT: usize = 64 * 1024;

impl Decompressor {
    pub fn new(coding: Coding, limit: u64) -> Option<Decompressor> {
        let dec = match coding {
            Coding::Identity => return None,
            Coding::Gzip => Dec::GzHeader(Vec::new()),
            Coding::Deflate => Dec::Pending,
        };
        Some(Decompressor {
            dec,
            left: limit,
            error: false,
            limited: false,
            produced: 0,
            passthrough: false,
            held: Vec::new(),
            held_over: false,
        })
    }

    /// Decodes `data`, appending the output to `out`.
    pub fn feed(&mut self, data: &[u8], out: &mut Vec<u8>) {
        if self.passthrough {
            let n = (data.len() as u64).min(self.left) as usize;
            out.extend_from_slice(data.get(..n).unwrap_or(&[]));
            self.left -= n as u64;
            return;
        }
        if self.produced == 0 && !self.held_over {
            if self.held.len() + data.len() <= HOLD_LIMIT {
                self.held.extend_from_slice(data);
            } else {
                self.held_over = true;
                self.held = Vec::new();
            }
        }
        let mut data = data;
        if let Dec::GzHeader(h) = &mut self.dec {
            let before = h.len();
            let room = 4096usize.saturating_sub(before);
            h.extend_from_slice(data.get(..room.min(data.len())).unwrap_or(&[]));
            match gzip_header_len(h) {
                Some(Ok(n)) => {
                    let skip = n.saturating_sub(before).min(data.len());
                    data = data.get(skip..).unwrap_or(&[]);
                    self.dec = Dec::Raw(flate2::write::DeflateDecoder::new(Vec::new()));
                }
                Some(Err(())) => {
                    self.error = true;
                    self.dec = Dec::Broken;
                    self.pass_held(out);
                    return;
                }
                None => return,
            }
        }
        if let Dec::Pending = self.dec {
            let Some(&first) = data.first() else { return };
            // zlib header: CM=8 and a valid check; else raw deflate.
            self.dec = if first & 0x0f == 8 {
                Dec::Zlib(flate2::write::ZlibDecoder::new(Vec::new()))
            } else {
                Dec::Raw(flate2::write::DeflateDecoder::new(Vec::new()))
            };
        }
        for piece in data.chunks(PIECE) {
            let (r, buf) = match &mut self.dec {
                Dec::Zlib(d) => (d.write_all(piece).and_then(|()| d.flush()), d.get_mut()),
                Dec::Raw(d) => (d.write_all(piece).and_then(|()| d.flush()), d.get_mut()),
                Dec::Pending | Dec::GzHeader(_) | Dec::Broken => return,
            };
            let n = (buf.len() as u64).min(self.left) as usize;
            out.extend_from_slice(buf.get(..n).unwrap_or(&[]));
            self.left -= n as u64;
            let over = buf.len() > n;
            buf.clear();
            self.produced += n as u64;
            if self.produced > 0 && !self.held.is_empty() {
                self.held = Vec::new();
            }
            if over || (self.left == 0 && n > 0) {
                self.limited = true;
                self.dec = Dec::Broken;
                return;
            }
            if r.is_err() {
                self.error = true;
                self.dec = Dec::Broken;
                if self.produced == 0 {
                    // Not compressed at all: pass it through.
                    self.pass_held(out);
                }
                return;
            }
        }
    }

    /// The stream is not what its coding says: from now on input passes
    /// through as it is, starting with all input so far (when it was kept;
    /// libhtp passes through only the current piece, which depends on how
    /// TCP cut the body).
    fn pass_held(&mut self, out: &mut Vec<u8>) {
        if self.held_over {
            return;
        }
        self.passthrough = true;
        let held = std::mem::take(&mut self.held);
        self.feed(&held, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(framing: Framing, input: &[u8], step: usize) -> (Vec<u8>, bool, usize) {
        let mut r = BodyReader::new(framing);
        let mut out = Vec::new();
        let mut used = 0;
        let mut done = false;
        for piece in input.chunks(step) {
            let s = r.feed(piece, &mut |b| out.extend_from_slice(b));
            used += s.consumed;
            if s.done {
                done = true;
                break;
            }
        }
        (out, done, used)
    }

    #[test]
    fn chunked_any_split() {
        let body = b"4\r\nWiki\r\n5;ext=1\r\npedia\r\n0\r\nX-T: 1\r\n\r\nGET";
        for step in [1, 2, 3, 7, 100] {
            let (out, done, used) = run(Framing::Chunked(Chunk::Size), body, step);
            assert_eq!(out, b"Wikipedia", "step {step}");
            assert!(done);
            if step == 1 {
                assert_eq!(used, body.len() - 3);
            }
        }
    }

    /// Found by the `http` fuzz target: an invalid chunk-size line turns
    /// the body into data as it came, whether or not the line arrived whole
    /// (a CR was added when it did, and not when it was split).
    #[test]
    fn invalid_chunk_line_is_data_at_any_split() {
        for body in [&b"\xff5\r\xffK:\nrest"[..], b"zz\r\nrest", b"  q\n"] {
            for step in [1, 2, 3, 100] {
                let (out, done, _) = run(Framing::Chunked(Chunk::Size), body, step);
                assert_eq!(out, body, "step {step}");
                assert!(!done);
            }
        }
    }

    /// A body that says gzip but is not is passed through whole, however
    /// it was cut.
    #[test]
    fn not_compressed_passes_through_at_any_split() {
        let body = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03this is not deflate at all";
        for step in [1, 3, 11, 1000] {
            let mut d = Decompressor::new(Coding::Gzip, 1 << 20).unwrap();
            let mut out = Vec::new();
            for piece in body.chunks(step) {
                d.feed(piece, &mut out);
            }
            assert!(d.error, "step {step}");
            assert_eq!(out, body, "step {step}");
        }
    }

    #[test]
    fn length_body() {
        let (out, done, used) = run(Framing::Length(3), b"abcdef", 100);
        assert_eq!((out.as_slice(), done, used), (&b"abc"[..], true, 3));
    }

    #[test]
    fn gzip_split_and_limit() {
        use flate2::write::GzEncoder;
        let mut e = GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(&[b'a'; 10000]).unwrap();
        let z = e.finish().unwrap();
        let mut d = Decompressor::new(Coding::Gzip, 1 << 20).unwrap();
        let mut out = Vec::new();
        for b in z.chunks(1) {
            d.feed(b, &mut out);
        }
        assert_eq!(out.len(), 10000);
        let mut d = Decompressor::new(Coding::Gzip, 100).unwrap();
        let mut out = Vec::new();
        d.feed(&z, &mut out);
        assert_eq!(out.len(), 100);
        assert!(d.limited);
    }

    #[test]
    fn deflate_zlib_and_raw() {
        for zlib in [true, false] {
            let z = if zlib {
                let mut e =
                    flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
                e.write_all(b"hello").unwrap();
                e.finish().unwrap()
            } else {
                let mut e =
                    flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
                e.write_all(b"hello").unwrap();
                e.finish().unwrap()
            };
            let mut d = Decompressor::new(Coding::Deflate, 1000).unwrap();
            let mut out = Vec::new();
            d.feed(&z, &mut out);
            assert_eq!(out, b"hello");
        }
    }
}
