//! Request lines: `METHOD SP target SP HTTP/x.y`, tolerant like libhtp
//! (runs of spaces or tabs, HTTP/0.9 without a protocol).

/// Methods that identify HTTP at the start of a client stream.
pub const METHODS: &[&[u8]] = &[
    b"GET",
    b"POST",
    b"HEAD",
    b"PUT",
    b"DELETE",
    b"OPTIONS",
    b"CONNECT",
    b"TRACE",
    b"PATCH",
    b"PROPFIND",
    b"PROPPATCH",
    b"MKCOL",
    b"COPY",
    b"MOVE",
    b"LOCK",
    b"UNLOCK",
    b"SEARCH",
    b"CHECKOUT",
    b"REPORT",
    b"MKACTIVITY",
    b"MERGE",
    b"SUBSCRIBE",
    b"NOTIFY",
];

/// A parsed request line.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RequestLine {
    pub method: Vec<u8>,
    pub uri: Vec<u8>,
    /// Empty for HTTP/0.9.
    pub protocol: Vec<u8>,
    /// Anomalies: leading whitespace, missing protocol, odd delimiters.
    pub invalid: bool,
    pub missing_protocol: bool,
}

fn is_sep(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Splits a request line (line end removed).
pub fn parse(line: &[u8]) -> RequestLine {
    let mut r = RequestLine::default();
    let start = line.iter().position(|&b| !is_sep(b)).unwrap_or(line.len());
    if start > 0 {
        r.invalid = true;
    }
    let mut rest = line.get(start..).unwrap_or(&[]);
    let end = rest.iter().position(|&b| is_sep(b)).unwrap_or(rest.len());
    r.method = rest.get(..end).unwrap_or(&[]).to_vec();
    let after = rest.get(end..).unwrap_or(&[]);
    let skip = after
        .iter()
        .position(|&b| !is_sep(b))
        .unwrap_or(after.len());
    rest = after.get(skip..).unwrap_or(&[]);
    // The protocol is the last word; the URI is everything between (it
    // may hold spaces in broken requests).
    let trimmed_end = rest.iter().rposition(|&b| !is_sep(b)).map_or(0, |e| e + 1);
    let rest = rest.get(..trimmed_end).unwrap_or(&[]);
    match rest.iter().rposition(|&b| is_sep(b)) {
        Some(sp)
            if rest.get(sp + 1..).is_some_and(|p| {
                p.len() >= 5 && p.get(..5).is_some_and(|h| h.eq_ignore_ascii_case(b"HTTP/"))
            }) =>
        {
            let uri = rest.get(..sp).unwrap_or(&[]);
            let uend = uri.iter().rposition(|&b| !is_sep(b)).map_or(0, |e| e + 1);
            r.uri = uri.get(..uend).unwrap_or(&[]).to_vec();
            r.protocol = rest.get(sp + 1..).unwrap_or(&[]).to_vec();
        }
        _ => {
            r.uri = rest.to_vec();
            r.missing_protocol = true;
        }
    }
    r
}

/// Early verdict on the first bytes of a client stream.
pub fn probe(first: &[u8]) -> Option<bool> {
    let mut undecided = false;
    for m in METHODS {
        let n = first.len().min(m.len() + 1);
        let head = first.get(..n).unwrap_or(&[]);
        if n == m.len() + 1 {
            if head.get(..m.len()) == Some(*m) && head.last().is_some_and(|&b| is_sep(b)) {
                return Some(true);
            }
        } else if m.get(..n) == Some(head) {
            undecided = true;
        }
    }
    if undecided {
        None
    } else {
        Some(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines() {
        let r = parse(b"GET /a b HTTP/1.1");
        assert_eq!(
            (r.method.as_slice(), r.uri.as_slice(), r.protocol.as_slice()),
            (&b"GET"[..], &b"/a b"[..], &b"HTTP/1.1"[..])
        );
        let r = parse(b"GET /");
        assert!(r.missing_protocol);
        assert_eq!(r.uri, b"/");
        assert_eq!(probe(b"GE"), None);
        assert_eq!(probe(b"GET "), Some(true));
        assert_eq!(probe(b"GETX"), Some(false));
        assert_eq!(probe(b"SSH-"), Some(false));
    }
}
