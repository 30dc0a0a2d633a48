//! Message bodies tracked as files, as Suricata does for HTTP: a request
//! body (uploads) or a response body is a file named after the
//! `Content-Disposition` filename or else the URI's path.

use super::headers::{self, Header};

/// The state Suricata writes in `fileinfo.state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FileState {
    /// Still receiving.
    #[default]
    Open,
    /// Complete.
    Closed,
    /// Cut: the flow ended before the body did.
    Truncated,
}

impl FileState {
    pub fn as_str(self) -> &'static str {
        match self {
            FileState::Open => "OPEN",
            FileState::Closed => "CLOSED",
            FileState::Truncated => "TRUNCATED",
        }
    }
}

/// One tracked file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileInfo {
    pub name: Vec<u8>,
    /// Bytes of the decoded body.
    pub size: u64,
    pub state: FileState,
    /// Data was missing (sequence gaps).
    pub gaps: bool,
    /// The `fileinfo` event was written.
    pub logged: bool,
}

/// `filename=` of a `Content-Disposition` value (quotes removed).
pub fn disposition_name(v: &[u8]) -> Option<Vec<u8>> {
    let lower: Vec<u8> = v.iter().map(u8::to_ascii_lowercase).collect();
    let pos = memchr::memmem::find(&lower, b"filename=")?;
    let rest = v.get(pos + 9..)?;
    let name = if let Some(q) = rest.strip_prefix(b"\"") {
        let end = memchr::memchr(b'"', q).unwrap_or(q.len());
        q.get(..end)?
    } else {
        let end = rest
            .iter()
            .position(|&b| b == b';' || b.is_ascii_whitespace())
            .unwrap_or(rest.len());
        rest.get(..end)?
    };
    (!name.is_empty()).then(|| name.to_vec())
}

/// The file name of a body: `Content-Disposition` of its headers, else the
/// URI's path (normalized, without the query).
pub fn name(headers: &[Header], uri_normalized: &[u8]) -> Vec<u8> {
    if let Some(n) = headers::get(headers, "content-disposition").and_then(disposition_name) {
        return n;
    }
    let end = memchr::memchr(b'?', uri_normalized).unwrap_or(uri_normalized.len());
    uri_normalized.get(..end).unwrap_or(&[]).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(
            disposition_name(b"attachment; filename=\"e.com\"").unwrap(),
            b"e.com"
        );
        assert_eq!(
            disposition_name(b"inline; FILENAME=a.txt; x").unwrap(),
            b"a.txt"
        );
        assert_eq!(name(&[], b"/x/eicar.com?y=1"), b"/x/eicar.com");
    }
}
