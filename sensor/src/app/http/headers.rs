//! Header blocks: split into lines (CRLF or bare LF), folded continuation
//! lines joined, `name: value` pairs with the value trimmed.

/// One header as received (name case kept).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Header {
    pub name: Vec<u8>,
    pub value: Vec<u8>,
}

/// Anomalies found while parsing a header block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HeaderIssues {
    /// A line without `:` (Suricata's `MISSING_COLON`... libhtp:
    /// `INVALID_HEADER_NAME`/`REQUEST_HEADER_INVALID`).
    pub invalid: bool,
    /// A folded (continuation) line.
    pub folded: bool,
    /// Space between the name and the colon.
    pub space_in_name: bool,
}

/// Lines of a block (without their line ends); `block` has no final blank
/// line.
pub fn lines(block: &[u8]) -> impl Iterator<Item = &[u8]> {
    // A bare CR also ends a line (as libhtp reads headers).
    block
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .flat_map(|l| l.split(|&b| b == b'\r'))
}

fn trim(v: &[u8]) -> &[u8] {
    let start = v
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(v.len());
    let end = v
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    v.get(start..end.max(start)).unwrap_or(&[])
}

/// Parses header lines (after the start line) into `out`, at most
/// `max_headers` headers.
pub fn parse<'a>(
    block_lines: impl Iterator<Item = &'a [u8]>,
    out: &mut Vec<Header>,
    max_headers: usize,
) -> HeaderIssues {
    let mut issues = HeaderIssues::default();
    // Logical lines: folded continuation lines joined to the line before.
    let mut logical: Vec<Vec<u8>> = Vec::new();
    for line in block_lines {
        if line.is_empty() {
            continue;
        }
        if matches!(line.first(), Some(b' ' | b'\t')) {
            issues.folded = true;
            if let Some(prev) = logical.last_mut() {
                while prev.last().is_some_and(u8::is_ascii_whitespace) {
                    prev.pop();
                }
                let t = trim(line);
                if !t.is_empty() {
                    prev.push(b' ');
                    prev.extend_from_slice(t);
                }
                continue;
            }
        }
        if logical.len() < max_headers * 2 {
            logical.push(line.to_vec());
        }
    }
    for line in &logical {
        let line = line.as_slice();
        let Some(colon) = memchr::memchr(b':', line) else {
            issues.invalid = true;
            continue;
        };
        let raw_name = line.get(..colon).unwrap_or(&[]);
        let name = trim(raw_name);
        if name.len() != raw_name.len() {
            issues.space_in_name = true;
        }
        if name.is_empty() {
            issues.invalid = true;
            continue;
        }
        let value = trim(line.get(colon + 1..).unwrap_or(&[]));
        // A repeated header is folded into the first, comma-separated (as
        // libhtp keeps them).
        if let Some(h) = out.iter_mut().find(|h| name_eq(&h.name, name)) {
            h.value.extend_from_slice(b", ");
            h.value.extend_from_slice(value);
            continue;
        }
        if out.len() >= max_headers {
            continue;
        }
        out.push(Header {
            name: name.to_vec(),
            value: trim(line.get(colon + 1..).unwrap_or(&[])).to_vec(),
        });
    }
    issues
}

/// Header names compared as libhtp does: ASCII case-insensitive, NUL
/// bytes ignored.
pub fn name_eq(a: &[u8], b: &[u8]) -> bool {
    let mut x = a.iter().filter(|&&c| c != 0);
    let mut y = b.iter().filter(|&&c| c != 0);
    loop {
        match (x.next(), y.next()) {
            (None, None) => return true,
            (Some(p), Some(q)) if p.eq_ignore_ascii_case(q) => {}
            _ => return false,
        }
    }
}

/// The first header called `name` (see [`name_eq`]).
pub fn get<'h>(headers: &'h [Header], name: &str) -> Option<&'h [u8]> {
    headers
        .iter()
        .find(|h| name_eq(&h.name, name.as_bytes()))
        .map(|h| h.value.as_slice())
}

/// `Content-Length` as libhtp reads it: digits after optional spaces;
/// `None` when absent, `Err` when invalid.
pub fn content_length(headers: &[Header]) -> Option<Result<u64, ()>> {
    let v = get(headers, "content-length")?;
    let t = trim(v);
    if t.is_empty() || !t.iter().all(u8::is_ascii_digit) {
        return Some(Err(()));
    }
    Some(
        std::str::from_utf8(t)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or(()),
    )
}

/// `Transfer-Encoding` contains `chunked`.
pub fn is_chunked(headers: &[Header]) -> bool {
    get(headers, "transfer-encoding")
        .is_some_and(|v| v.windows(7).any(|w| w.eq_ignore_ascii_case(b"chunked")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_folded_and_invalid() {
        let block = b"Host: a.example\r\nX-A:  1 \r\n\tcont\r\nbogus\r\nContent-Length: 12";
        let mut h = Vec::new();
        let i = parse(lines(block), &mut h, 64);
        assert!(i.folded && i.invalid);
        assert_eq!(get(&h, "x-a"), Some(&b"1 cont"[..]));
        assert_eq!(content_length(&h), Some(Ok(12)));
    }
}
