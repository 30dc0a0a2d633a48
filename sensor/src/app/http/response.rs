//! Status lines: `HTTP/x.y SP code SP reason`.

/// A parsed status line.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StatusLine {
    pub protocol: Vec<u8>,
    /// The status code as written.
    pub code_raw: Vec<u8>,
    pub code: Option<u16>,
    pub msg: Vec<u8>,
    /// Not `HTTP/` (libhtp: `RESPONSE_INVALID_PROTOCOL`).
    pub invalid_protocol: bool,
    /// Not three digits (`RESPONSE_INVALID_STATUS`).
    pub invalid_status: bool,
}

/// Splits a status line (line end removed).
pub fn parse(line: &[u8]) -> StatusLine {
    let mut s = StatusLine::default();
    let start = line
        .iter()
        .position(|&b| !b.is_ascii_whitespace())
        .unwrap_or(line.len());
    let line = line.get(start..).unwrap_or(&[]);
    let (proto, rest) = split_word(line);
    s.protocol = proto.to_vec();
    s.invalid_protocol = !proto
        .get(..5)
        .is_some_and(|p| p.eq_ignore_ascii_case(b"HTTP/"));
    let (code, msg) = split_word(rest);
    s.code_raw = code.to_vec();
    s.code = (code.len() == 3 && code.iter().all(u8::is_ascii_digit))
        .then(|| std::str::from_utf8(code).ok()?.parse().ok())
        .flatten();
    s.invalid_status = s.code.is_none();
    s.msg = msg.to_vec();
    s
}

fn split_word(b: &[u8]) -> (&[u8], &[u8]) {
    let end = b
        .iter()
        .position(|&c| c == b' ' || c == b'\t')
        .unwrap_or(b.len());
    let after = b.get(end..).unwrap_or(&[]);
    let skip = after
        .iter()
        .position(|&c| c != b' ' && c != b'\t')
        .unwrap_or(after.len());
    (
        b.get(..end).unwrap_or(&[]),
        after.get(skip..).unwrap_or(&[]),
    )
}

/// Early verdict on the first bytes of a server stream.
pub fn probe(first: &[u8]) -> Option<bool> {
    let n = first.len().min(5);
    let head = first.get(..n).unwrap_or(&[]);
    if !b"HTTP/"
        .get(..n)
        .is_some_and(|p| p.eq_ignore_ascii_case(head))
    {
        return Some(false);
    }
    if n == 5 {
        Some(true)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines() {
        let s = parse(b"HTTP/1.1 200 OK fine");
        assert_eq!(s.code, Some(200));
        assert_eq!(s.msg, b"OK fine");
        let s = parse(b"HTTP/1.0 2x0");
        assert!(s.invalid_status);
        assert_eq!(probe(b"HTT"), None);
        assert_eq!(probe(b"HTTP/1.1"), Some(true));
        assert_eq!(probe(b"SSH-2"), Some(false));
    }
}
