//! URI normalization as Suricata (libhtp) does it for `http.uri`:
//! percent-decoding of the path (`%2F` stays decoded, invalid escapes kept
//! as written), `/./` and `/../` removed, `//` compressed; the query is
//! percent-decoded but not otherwise changed. The raw URI is kept beside.

/// Value of one hex digit.
fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Percent-decodes `s` into `out` (invalid escapes are kept as they are;
/// `+` is kept: it only means space in forms).
pub fn percent_decode(s: &[u8], out: &mut Vec<u8>) {
    let mut i = 0;
    while let Some(&b) = s.get(i) {
        if b == b'%' {
            if let (Some(h), Some(l)) = (
                s.get(i + 1).and_then(|&c| hex(c)),
                s.get(i + 2).and_then(|&c| hex(c)),
            ) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(b);
        i += 1;
    }
}

/// Removes `.` and `..` segments and compresses `//` (RFC 3986 §5.2.4
/// with Suricata's `//` compression). `path` starts with `/` or not.
pub fn normalize_path(path: &[u8]) -> Vec<u8> {
    let mut segs: Vec<&[u8]> = Vec::new();
    let absolute = path.first() == Some(&b'/');
    let trailing = path.len() > 1 && path.last() == Some(&b'/')
        || path.ends_with(b"/.")
        || path.ends_with(b"/..");
    for seg in path.split(|&b| b == b'/') {
        match seg {
            b"" | b"." => {}
            b".." => {
                segs.pop();
            }
            s => segs.push(s),
        }
    }
    let mut out = Vec::with_capacity(path.len());
    if absolute {
        out.push(b'/');
    }
    for (i, s) in segs.iter().enumerate() {
        if i > 0 {
            out.push(b'/');
        }
        out.extend_from_slice(s);
    }
    if trailing && !segs.is_empty() {
        out.push(b'/');
    }
    out
}

/// The normalized form of a request target: for an absolute URI
/// (`http://host/path`), its path part; the path percent-decoded and
/// normalized, the query percent-decoded.
pub fn normalize(raw: &[u8]) -> Vec<u8> {
    let mut target = raw;
    // Absolute form: keep only the path (as libhtp's normalized uri).
    for scheme in [&b"http://"[..], b"https://"] {
        if target.len() >= scheme.len()
            && target
                .get(..scheme.len())
                .is_some_and(|p| p.eq_ignore_ascii_case(scheme))
        {
            let rest = target.get(scheme.len()..).unwrap_or(&[]);
            target = match memchr::memchr(b'/', rest) {
                Some(i) => rest.get(i..).unwrap_or(&[]),
                None => b"/",
            };
            break;
        }
    }
    let (path, query) = match memchr::memchr(b'?', target) {
        Some(i) => (target.get(..i).unwrap_or(&[]), target.get(i..)),
        None => (target, None),
    };
    let mut dec = Vec::with_capacity(path.len());
    percent_decode(path, &mut dec);
    // Backslashes are path separators for IIS-style servers (libhtp's
    // default `path-convert-backslash-separators` is off: keep them).
    let mut out = if dec.first() == Some(&b'/') {
        normalize_path(&dec)
    } else {
        dec
    };
    if let Some(q) = query {
        percent_decode(q, &mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_like_suricata() {
        assert_eq!(normalize(b"/a/./b/../c//d"), b"/a/c/d");
        assert_eq!(normalize(b"/%61dmin/x%2ey?q=%41%zz"), b"/admin/x.y?q=A%zz");
        assert_eq!(normalize(b"/../../etc/passwd"), b"/etc/passwd");
        assert_eq!(normalize(b"/dir/"), b"/dir/");
        assert_eq!(normalize(b"/"), b"/");
        assert_eq!(normalize(b"http://h.example/x/../y"), b"/y");
        assert_eq!(normalize(b"*"), b"*");
        assert_eq!(normalize(b""), b"");
    }
}
