//! SSH identification-string ("banner") parsing, one side at a time.
//!
//! Two layers, in the style of Suricata's SSH parser:
//! - pure functions: [`find_line`] (bytes in → complete line /
//!   incomplete) and [`parse_banner`] (one line → [`Banner`] or error);
//! - [`SideState`], the per-direction state machine that accumulates a
//!   line split over any number of segments (bounded to
//!   [`MAX_BANNER_LEN`] bytes), skips pre-banner text lines from the
//!   server (RFC 4253 §4.2, at most [`MAX_PRE_BANNER_LINES`]), and stops
//!   after the banner: the encrypted rest of the stream costs nothing.
//!
//! Lines end at `\n`, `\r\n` or a lone `\r`.

/// Longest banner kept, without the line end (RFC 4253: 255 including
/// CRLF; we keep 255 bytes of text, like Suricata's 256-byte limit).
pub const MAX_BANNER_LEN: usize = 255;

/// Text lines a server may send before its banner.
pub const MAX_PRE_BANNER_LINES: u8 = 32;

/// A parsed `SSH-protoversion-softwareversion [comment]` line.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Banner {
    /// Between `SSH-` and the next `-` (`2.0`, `1.99`).
    pub proto_version: String,
    /// After that `-`, up to the first space, CR or LF.
    pub software_version: String,
    /// After the first space, if any.
    pub comment: Option<String>,
}

/// Why a line is not a banner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BannerError {
    #[error("line does not start with `SSH-`")]
    NoPrefix,
    #[error("no `-` after the protocol version")]
    NoSoftwareVersion,
}

/// Parses one banner line (line end already removed, or not: a CR/LF
/// ends the software version).
///
/// # Errors
/// [`BannerError`] when the line is not `SSH-<proto>-<software>...`.
pub fn parse_banner(line: &[u8]) -> Result<Banner, BannerError> {
    let rest = line.strip_prefix(b"SSH-").ok_or(BannerError::NoPrefix)?;
    let dash = rest
        .iter()
        .position(|&b| b == b'-')
        .ok_or(BannerError::NoSoftwareVersion)?;
    let proto = rest.get(..dash).unwrap_or(&[]);
    let after = rest.get(dash + 1..).unwrap_or(&[]);
    let sw_end = after
        .iter()
        .position(|&b| b == b' ' || b == b'\r' || b == b'\n')
        .unwrap_or(after.len());
    let software = after.get(..sw_end).unwrap_or(&[]);
    let comment = match after.get(sw_end) {
        Some(b' ') => {
            let c = after.get(sw_end + 1..).unwrap_or(&[]);
            let end = c
                .iter()
                .position(|&b| b == b'\r' || b == b'\n')
                .unwrap_or(c.len());
            Some(String::from_utf8_lossy(c.get(..end).unwrap_or(&[])).into_owned())
        }
        _ => None,
    };
    Ok(Banner {
        proto_version: String::from_utf8_lossy(proto).into_owned(),
        software_version: String::from_utf8_lossy(software).into_owned(),
        comment,
    })
}

/// Result of looking for a line end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Line {
    /// `data[..len]` is the line; `consumed` includes the line end. A
    /// line ended by a lone `\r` at the very end of `data` reports
    /// `cr_at_end` so the caller can skip an `\n` that may follow.
    Complete {
        len: usize,
        consumed: usize,
        cr_at_end: bool,
    },
    /// No line end yet.
    Incomplete,
}

/// Finds the end of the first line in `data`.
pub fn find_line(data: &[u8]) -> Line {
    match memchr::memchr2(b'\n', b'\r', data) {
        None => Line::Incomplete,
        Some(i) => {
            let is_cr = data.get(i) == Some(&b'\r');
            let crlf = is_cr && data.get(i + 1) == Some(&b'\n');
            Line::Complete {
                len: i,
                consumed: i + 1 + usize::from(crlf),
                cr_at_end: is_cr && i + 1 == data.len(),
            }
        }
    }
}

/// Where one side stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Progress {
    /// Nothing seen yet.
    #[default]
    Start,
    /// Some bytes of the first line (or of pre-banner lines) seen.
    InBanner,
    /// Banner parsed (possibly cut at [`MAX_BANNER_LEN`]).
    Done,
    /// Not a banner: garbage, or too many pre-banner lines.
    Invalid,
}

/// What one [`SideState::feed`] call changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FeedResult {
    /// The banner was completed by this call.
    pub banner_done: bool,
    /// The side became [`Progress::Invalid`] in this call.
    pub invalid: bool,
    /// The banner was longer than [`MAX_BANNER_LEN`] (cut).
    pub long_banner: bool,
    /// Bytes of the input used; the rest (after a completed banner) belongs
    /// to the binary packets that follow.
    pub consumed: usize,
}

/// One direction's banner parser.
#[derive(Debug, Clone, Default)]
pub struct SideState {
    pub progress: Progress,
    pub banner: Option<Banner>,
    /// The banner was cut at [`MAX_BANNER_LEN`].
    pub long_banner: bool,
    /// Pre-banner lines skipped (server only).
    pub pre_banner_lines: u8,
    /// The partial line, only while a line spans segments (allocated on
    /// demand, dropped when done).
    buf: Vec<u8>,
    /// The last line ended with `\r` at a segment end: skip a leading `\n`.
    skip_lf: bool,
}

impl SideState {
    /// Banner parsing is over for this side (done or invalid).
    pub fn finished(&self) -> bool {
        matches!(self.progress, Progress::Done | Progress::Invalid)
    }

    /// `data` without the `\n` of a banner's `\r\n` that was split after
    /// the `\r` (the banner ended at a segment end).
    pub fn strip_pending_lf<'a>(&mut self, data: &'a [u8]) -> &'a [u8] {
        if !self.skip_lf || data.is_empty() {
            return data;
        }
        self.skip_lf = false;
        data.strip_prefix(b"\n").unwrap_or(data)
    }

    /// Feeds the next in-order bytes of this side. `server` allows
    /// pre-banner text lines. Cheap no-op once [`SideState::finished`].
    pub fn feed(&mut self, mut data: &[u8], server: bool) -> FeedResult {
        let mut r = FeedResult::default();
        let total = data.len();
        while !self.finished() && !data.is_empty() {
            if self.skip_lf {
                self.skip_lf = false;
                if let Some(rest) = data.strip_prefix(b"\n") {
                    data = rest;
                    continue;
                }
            }
            if self.progress == Progress::Start {
                self.progress = Progress::InBanner;
            }
            match find_line(data) {
                Line::Complete {
                    len,
                    consumed,
                    cr_at_end,
                } => {
                    let part = data.get(..len).unwrap_or(&[]);
                    data = data.get(consumed..).unwrap_or(&[]);
                    self.skip_lf = cr_at_end;
                    if self.buf.is_empty() {
                        self.line(part, server, &mut r);
                    } else {
                        let mut line = std::mem::take(&mut self.buf);
                        let room = (MAX_BANNER_LEN + 1).saturating_sub(line.len());
                        line.extend_from_slice(part.get(..room.min(part.len())).unwrap_or(&[]));
                        self.line(&line, server, &mut r);
                    }
                }
                Line::Incomplete => {
                    let room = (MAX_BANNER_LEN + 1).saturating_sub(self.buf.len());
                    let take = room.min(data.len());
                    if self.buf.capacity() == 0 {
                        self.buf.reserve(MAX_BANNER_LEN + 1);
                    }
                    self.buf.extend_from_slice(data.get(..take).unwrap_or(&[]));
                    data = &[];
                    if self.buf.len() > MAX_BANNER_LEN {
                        // No line end within the limit: decide now.
                        let line = std::mem::take(&mut self.buf);
                        self.line(&line, server, &mut r);
                    } else if !could_be_banner_or_text(&self.buf, server) {
                        let line = std::mem::take(&mut self.buf);
                        self.line(&line, server, &mut r);
                    }
                }
            }
        }
        if self.finished() {
            self.buf = Vec::new();
        }
        r.consumed = total - data.len();
        r
    }

    /// The stream of this side ended (flow end): a partial line that is
    /// an `SSH-` banner is taken as complete, as Suricata does with the
    /// data it has at end of stream.
    pub fn finish(&mut self, server: bool) -> FeedResult {
        let mut r = FeedResult::default();
        if self.finished() || !self.buf.starts_with(b"SSH-") {
            return r;
        }
        let line = std::mem::take(&mut self.buf);
        self.line(&line, server, &mut r);
        if self.finished() {
            self.buf = Vec::new();
        }
        r
    }

    /// Handles one complete line (or an over-long/garbage prefix).
    fn line(&mut self, line: &[u8], server: bool, r: &mut FeedResult) {
        if line.starts_with(b"SSH-") {
            let long = line.len() > MAX_BANNER_LEN;
            let text = line.get(..MAX_BANNER_LEN.min(line.len())).unwrap_or(&[]);
            match parse_banner(text) {
                Ok(b) => {
                    self.banner = Some(b);
                    self.progress = Progress::Done;
                    self.long_banner = long;
                    r.banner_done = true;
                    r.long_banner = long;
                }
                Err(_) => {
                    self.progress = Progress::Invalid;
                    r.invalid = true;
                }
            }
            return;
        }
        if server
            && self.pre_banner_lines < MAX_PRE_BANNER_LINES
            && line.len() <= MAX_BANNER_LEN
            && is_text(line)
        {
            self.pre_banner_lines += 1;
            return;
        }
        self.progress = Progress::Invalid;
        r.invalid = true;
    }
}

/// Printable text (UTF-8 allowed), as a pre-banner line must be.
fn is_text(b: &[u8]) -> bool {
    b.iter().all(|&c| c >= 0x20 || c == b'\t')
}

/// True while a partial first line may still become a banner (a prefix of
/// `SSH-`) or, from the server, a pre-banner text line.
fn could_be_banner_or_text(partial: &[u8], server: bool) -> bool {
    let n = partial.len().min(4);
    let prefix_ok = partial.get(..n) == b"SSH-".get(..n);
    prefix_ok || (server && is_text(partial))
}

/// Early verdict on the first bytes of a direction: `Some(true)` when they
/// start with `SSH-`, `Some(false)` when they cannot be SSH (client: not a
/// prefix of `SSH-`; server: not text either), `None` when undecided.
pub fn probe(first: &[u8], server: bool) -> Option<bool> {
    let n = first.len().min(4);
    if n == 0 {
        return None;
    }
    if first.get(..n) == b"SSH-".get(..n) {
        return if n == 4 { Some(true) } else { None };
    }
    if server {
        // A pre-banner text line: undecided until a line is complete.
        let line_end = memchr::memchr2(b'\r', b'\n', first).unwrap_or(first.len());
        if is_text(first.get(..line_end).unwrap_or(&[])) {
            return None;
        }
    }
    Some(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed_all(chunks: &[&[u8]], server: bool) -> (SideState, FeedResult) {
        let mut s = SideState::default();
        let mut acc = FeedResult::default();
        for c in chunks {
            let r = s.feed(c, server);
            acc.banner_done |= r.banner_done;
            acc.invalid |= r.invalid;
            acc.long_banner |= r.long_banner;
        }
        (s, acc)
    }

    #[test]
    fn parse_banner_fields() {
        let b = parse_banner(b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3").unwrap();
        assert_eq!(b.proto_version, "2.0");
        assert_eq!(b.software_version, "OpenSSH_9.2p1");
        assert_eq!(b.comment.as_deref(), Some("Debian-2+deb12u3"));
        let b = parse_banner(b"SSH-1.99-paramiko_3.4.0").unwrap();
        assert_eq!(
            (b.proto_version.as_str(), b.software_version.as_str()),
            ("1.99", "paramiko_3.4.0")
        );
        assert_eq!(b.comment, None);
        let b = parse_banner(b"SSH-2.0-").unwrap();
        assert_eq!(b.software_version, "");
        assert_eq!(
            parse_banner(b"SSH-2.0"),
            Err(BannerError::NoSoftwareVersion)
        );
        assert_eq!(parse_banner(b"HTTP/1.1"), Err(BannerError::NoPrefix));
    }

    #[test]
    fn crlf_lf_and_lone_cr() {
        for line in [&b"SSH-2.0-Go\r\n"[..], b"SSH-2.0-Go\n", b"SSH-2.0-Go\r"] {
            let (s, r) = feed_all(&[line], false);
            assert!(r.banner_done, "{line:?}");
            assert_eq!(s.banner.unwrap().software_version, "Go");
        }
    }

    #[test]
    fn byte_at_a_time_at_every_split() {
        let text = b"SSH-2.0-libssh_0.9.6 some comment\r\n\x00\x00\x01\x14";
        // One byte at a time.
        let chunks: Vec<&[u8]> = text.chunks(1).collect();
        let (s, r) = feed_all(&chunks, false);
        assert!(r.banner_done && !r.invalid);
        let b = s.banner.unwrap();
        assert_eq!(b.software_version, "libssh_0.9.6");
        assert_eq!(b.comment.as_deref(), Some("some comment"));
        // Every two-way split.
        for cut in 0..=text.len() {
            let (s, r) = feed_all(&[&text[..cut], &text[cut..]], false);
            assert!(r.banner_done, "cut {cut}");
            assert_eq!(s.banner.unwrap().software_version, "libssh_0.9.6");
        }
    }

    #[test]
    fn cr_lf_split_between_segments() {
        let mut s = SideState::default();
        s.feed(b"Welcome\r", true);
        assert_eq!(s.pre_banner_lines, 1);
        let r = s.feed(b"\nSSH-2.0-x\r\n", true);
        assert!(r.banner_done);
        assert_eq!(s.pre_banner_lines, 1, "the LF is not an empty line");
    }

    #[test]
    fn long_banner_is_cut_and_flagged() {
        let mut long = b"SSH-2.0-".to_vec();
        long.extend_from_slice(&[b'A'; 400]);
        // No line end at all, in pieces.
        let chunks: Vec<&[u8]> = long.chunks(100).collect();
        let (s, r) = feed_all(&chunks, false);
        assert!(r.banner_done && r.long_banner);
        assert!(s.long_banner);
        assert_eq!(s.banner.unwrap().software_version.len(), MAX_BANNER_LEN - 8);
        // With a line end, in one piece.
        long.extend_from_slice(b"\r\n");
        let (s, r) = feed_all(&[&long], false);
        assert!(r.long_banner && s.finished());
    }

    #[test]
    fn garbage_from_client_is_invalid_immediately() {
        let (s, r) = feed_all(&[b"GET / HTTP/1.1\r\n"], false);
        assert!(r.invalid);
        assert_eq!(s.progress, Progress::Invalid);
        // Even before a line end, a non-`SSH-` prefix decides.
        let (s, r) = feed_all(&[b"\x16\x03"], false);
        assert!(r.invalid && s.finished());
    }

    #[test]
    fn pre_banner_lines_from_server_only() {
        let (s, r) = feed_all(&[b"Hello there\r\nsecond line\nSSH-2.0-srv\r\n"], true);
        assert!(r.banner_done && !r.invalid);
        assert_eq!(s.pre_banner_lines, 2);
        let (_, r) = feed_all(&[b"Hello there\r\nSSH-2.0-cli\r\n"], false);
        assert!(r.invalid && !r.banner_done);
        // Binary garbage from the server is not a pre-banner line.
        let (s, r) = feed_all(&[b"\x00\x01\x02\r\n"], true);
        assert!(r.invalid && s.finished());
        // Bounded number of pre-banner lines.
        let many = "x\n".repeat(usize::from(MAX_PRE_BANNER_LINES) + 1);
        let (_, r) = feed_all(&[many.as_bytes()], true);
        assert!(r.invalid);
    }

    #[test]
    fn nothing_after_done() {
        let mut s = SideState::default();
        s.feed(b"SSH-2.0-a\r\n", false);
        let r = s.feed(b"\x00\x00\x00\x0cgarbage\n", false);
        assert_eq!(r, FeedResult::default());
        assert_eq!(s.progress, Progress::Done);
    }

    #[test]
    fn probe_decides_early() {
        assert_eq!(probe(b"SS", false), None);
        assert_eq!(probe(b"SSH-2.0", false), Some(true));
        assert_eq!(probe(b"GET", false), Some(false));
        assert_eq!(probe(b"220 smtp ready", true), None);
        assert_eq!(probe(b"\x16\x03\x01", true), Some(false));
    }

    #[test]
    fn random_input_never_panics() {
        let mut x: u64 = 42;
        for _ in 0..20_000 {
            let mut s = SideState::default();
            for _ in 0..4 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let len = (x % 300) as usize;
                let bytes: Vec<u8> = (0..len)
                    .map(|i| b"SSH-2.0\r\n -ab"[(x as usize + i * 7) % 13])
                    .collect();
                s.feed(&bytes, x & 1 == 0);
            }
        }
    }
}
