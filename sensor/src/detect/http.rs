//! HTTP transaction detection: the HTTP sticky buffers (and the legacy
//! content modifiers that name them), their transforms, `urilen`,
//! `bsize`, and the file keywords, matched against one
//! [`crate::app::http::HttpTx`] in one direction.
//!
//! A rule with any of these is a transaction rule ([`super::rule::Kind::
//! Tx`]) bound to app_proto http. It runs once per transaction and
//! direction: at the end of the message's headers, or, when it reads a
//! body, at the end of the body (or when the body reaches the inspection
//! limit). See [`crate::app::http::Mark`].

use md5::{Digest, Md5};

use super::content::ContentList;
use super::rule::NumTest;
use crate::app::http::{headers::Header, HttpTx};
use crate::packet::Direction;

/// One HTTP buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpBuf {
    Uri,
    UriRaw,
    Method,
    RequestLine,
    Protocol,
    Host,
    HostRaw,
    UserAgent,
    Header,
    HeaderRaw,
    HeaderNames,
    Cookie,
    Referer,
    Accept,
    AcceptEnc,
    AcceptLang,
    Connection,
    ContentType,
    ContentLen,
    Start,
    RequestBody,
    ResponseLine,
    StatCode,
    StatMsg,
    Server,
    Location,
    /// `file_data` / `http.response_body`: the body of the rule's
    /// direction (response for to_client).
    FileData,
    ResponseBody,
    FileName,
}

/// Which message a buffer lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Request,
    Response,
    /// The message of the rule's direction.
    Either,
}

impl HttpBuf {
    /// The sticky-buffer keyword or legacy modifier naming a buffer, and
    /// whether it is a legacy content modifier.
    pub fn from_keyword(k: &str) -> Option<(HttpBuf, bool)> {
        use HttpBuf::*;
        Some(match k {
            "http.uri" | "http.uri.normalized" => (Uri, false),
            "http_uri" => (Uri, true),
            "http.uri.raw" => (UriRaw, false),
            "http_raw_uri" => (UriRaw, true),
            "http.method" => (Method, false),
            "http_method" => (Method, true),
            "http.request_line" | "http_request_line" => (RequestLine, false),
            "http.protocol" => (Protocol, false),
            "http.host" => (Host, false),
            "http_host" => (Host, true),
            "http.host.raw" => (HostRaw, false),
            "http_raw_host" => (HostRaw, true),
            "http.user_agent" => (UserAgent, false),
            "http_user_agent" => (UserAgent, true),
            "http.header" => (Header, false),
            "http_header" => (Header, true),
            "http.header.raw" => (HeaderRaw, false),
            "http_raw_header" => (HeaderRaw, true),
            "http.header_names" => (HeaderNames, false),
            "http.cookie" => (Cookie, false),
            "http_cookie" => (Cookie, true),
            "http.referer" => (Referer, false),
            "http.accept" => (Accept, false),
            "http.accept_enc" => (AcceptEnc, false),
            "http.accept_lang" => (AcceptLang, false),
            "http.connection" => (Connection, false),
            "http.content_type" => (ContentType, false),
            "http.content_len" => (ContentLen, false),
            "http.start" => (Start, false),
            "http.request_body" | "http.client_body" => (RequestBody, false),
            "http_client_body" => (RequestBody, true),
            "http.response_line" | "http_response_line" => (ResponseLine, false),
            "http.stat_code" => (StatCode, false),
            "http_stat_code" => (StatCode, true),
            "http.stat_msg" => (StatMsg, false),
            "http_stat_msg" => (StatMsg, true),
            "http.server" => (Server, false),
            "http.location" => (Location, false),
            "file_data" | "file.data" => (FileData, false),
            "http.response_body" => (ResponseBody, false),
            "http_server_body" => (ResponseBody, true),
            "file.name" => (FileName, false),
            _ => return None,
        })
    }

    /// The pcre flag letter naming a buffer (Suricata's `/U`, `/H`, ...).
    pub fn from_pcre_flag(f: char) -> Option<HttpBuf> {
        use HttpBuf::*;
        Some(match f {
            'U' => Uri,
            'I' => UriRaw,
            'M' => Method,
            'H' => Header,
            'D' => HeaderRaw,
            'C' => Cookie,
            'P' => RequestBody,
            'Q' => FileData,
            'S' => StatCode,
            'Y' => StatMsg,
            'V' => UserAgent,
            'W' => Host,
            'Z' => HostRaw,
            _ => return None,
        })
    }

    pub fn side(self) -> Side {
        use HttpBuf::*;
        match self {
            Uri | UriRaw | Method | RequestLine | Host | HostRaw | UserAgent | Referer | Accept
            | AcceptEnc | AcceptLang | RequestBody => Side::Request,
            ResponseLine | StatCode | StatMsg | Server | Location | ResponseBody => Side::Response,
            Protocol | Header | HeaderRaw | HeaderNames | Cookie | Connection | ContentType
            | ContentLen | Start | FileData | FileName => Side::Either,
        }
    }

    /// Read at the end of the body rather than the headers.
    pub fn is_body(self) -> bool {
        matches!(
            self,
            HttpBuf::RequestBody | HttpBuf::FileData | HttpBuf::ResponseBody
        )
    }
}

/// A transform on a sticky buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transform {
    DotPrefix,
    StripWhitespace,
    CompressWhitespace,
    ToLowercase,
    ToUppercase,
    UrlDecode,
    ToMd5,
    /// No effect on HTTP/1 buffers (`header_lowercase`,
    /// `strip_pseudo_headers`).
    Nop,
}

impl Transform {
    pub fn from_keyword(k: &str) -> Option<Transform> {
        Some(match k {
            "dotprefix" => Transform::DotPrefix,
            "strip_whitespace" => Transform::StripWhitespace,
            "compress_whitespace" => Transform::CompressWhitespace,
            "to_lowercase" => Transform::ToLowercase,
            "to_uppercase" => Transform::ToUppercase,
            "url_decode" => Transform::UrlDecode,
            "to_md5" => Transform::ToMd5,
            "header_lowercase" | "strip_pseudo_headers" => Transform::Nop,
            _ => return None,
        })
    }

    /// Applies the transform to `buf` (using `tmp`).
    pub fn apply(self, buf: &mut Vec<u8>, tmp: &mut Vec<u8>) {
        tmp.clear();
        match self {
            Transform::DotPrefix => {
                tmp.push(b'.');
                tmp.extend_from_slice(buf);
            }
            Transform::StripWhitespace => {
                tmp.extend(buf.iter().copied().filter(|b| !b.is_ascii_whitespace()))
            }
            Transform::CompressWhitespace => {
                let mut prev_ws = false;
                for &b in buf.iter() {
                    let ws = b.is_ascii_whitespace();
                    if !(ws && prev_ws) {
                        tmp.push(if ws { b' ' } else { b });
                    }
                    prev_ws = ws;
                }
            }
            Transform::ToLowercase => tmp.extend(buf.iter().map(u8::to_ascii_lowercase)),
            Transform::ToUppercase => tmp.extend(buf.iter().map(u8::to_ascii_uppercase)),
            Transform::UrlDecode => {
                let mut i = 0;
                while let Some(&b) = buf.get(i) {
                    let hex = |c: Option<&u8>| c.and_then(|c| (*c as char).to_digit(16));
                    if b == b'%' {
                        if let (Some(h), Some(l)) = (hex(buf.get(i + 1)), hex(buf.get(i + 2))) {
                            tmp.push((h * 16 + l) as u8);
                            i += 3;
                            continue;
                        }
                    }
                    tmp.push(if b == b'+' { b' ' } else { b });
                    i += 1;
                }
            }
            Transform::ToMd5 => {
                let d = Md5::digest(&buf[..]);
                tmp.extend_from_slice(&d);
            }
            Transform::Nop => return,
        }
        std::mem::swap(buf, tmp);
    }
}

/// One buffer's tests in a rule.
#[derive(Debug)]
pub struct HttpList {
    pub buf: HttpBuf,
    pub transforms: Vec<Transform>,
    pub contents: ContentList,
    /// `bsize` on this buffer.
    pub bsize: Option<NumTest>,
}

/// A file test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileTest {
    /// `fileext`: the name ends with `.ext` (case-insensitive).
    Ext(Vec<u8>, bool),
    /// `filename` (legacy keyword): the name contains this
    /// (case-insensitive), or not.
    Name(Vec<u8>, bool),
    Size(NumTest),
}

/// The HTTP part of a rule.
#[derive(Debug)]
pub struct HttpRule {
    pub lists: Vec<HttpList>,
    /// `urilen` on the normalized (false) or raw (true) URI.
    pub urilen: Option<(NumTest, bool)>,
    pub files: Vec<FileTest>,
    /// The direction the rule inspects (`None`: both, for rules whose
    /// buffers exist on both sides and that name no direction).
    pub dir: Option<Direction>,
    /// Runs at the end of the body instead of the headers.
    pub needs_body: bool,
}

impl HttpRule {
    /// Decides the direction and stage from the buffers used and the
    /// rule's `flow` direction.
    pub fn new(
        lists: Vec<HttpList>,
        urilen: Option<(NumTest, bool)>,
        files: Vec<FileTest>,
        flow_dir: Option<Direction>,
    ) -> HttpRule {
        let resp = lists.iter().any(|l| l.buf.side() == Side::Response);
        let req = lists.iter().any(|l| l.buf.side() == Side::Request) || urilen.is_some();
        let dir = if resp {
            Some(Direction::ToClient)
        } else if req {
            Some(Direction::ToServer)
        } else {
            flow_dir
        };
        let needs_body = lists.iter().any(|l| l.buf.is_body()) || !files.is_empty();
        HttpRule {
            lists,
            urilen,
            files,
            dir,
            needs_body,
        }
    }
}

fn push_headers(out: &mut Vec<u8>, hs: &[Header]) {
    for h in hs {
        out.extend_from_slice(&h.name);
        out.extend_from_slice(b": ");
        out.extend_from_slice(&h.value);
        out.extend_from_slice(b"\r\n");
    }
}

/// Fills `out` with buffer `buf` of `tx` as seen in direction `dir`;
/// false when the transaction does not have it.
pub fn fill(buf: HttpBuf, tx: &HttpTx, dir: Direction, out: &mut Vec<u8>) -> bool {
    use HttpBuf::*;
    out.clear();
    let req = Direction::ToServer;
    let resp = Direction::ToClient;
    let header = |d: Direction, name: &str, out: &mut Vec<u8>| match tx.header(d, name) {
        Some(v) => {
            out.extend_from_slice(v);
            true
        }
        None => false,
    };
    match buf {
        Uri => {
            out.extend_from_slice(&tx.uri);
            !tx.request_line.is_empty()
        }
        UriRaw => {
            out.extend_from_slice(&tx.uri_raw);
            !tx.request_line.is_empty()
        }
        Method => {
            out.extend_from_slice(&tx.method);
            !tx.method.is_empty()
        }
        RequestLine => {
            out.extend_from_slice(&tx.request_line);
            !tx.request_line.is_empty()
        }
        Protocol => {
            let p = if dir == resp {
                &tx.resp_protocol
            } else {
                &tx.protocol
            };
            out.extend_from_slice(p);
            !p.is_empty()
        }
        Host => match tx.hostname() {
            Some(h) => {
                out.extend_from_slice(&h);
                true
            }
            None => false,
        },
        HostRaw => header(req, "host", out),
        UserAgent => header(req, "user-agent", out),
        Referer => header(req, "referer", out),
        Accept => header(req, "accept", out),
        AcceptEnc => header(req, "accept-encoding", out),
        AcceptLang => header(req, "accept-language", out),
        Connection => header(dir, "connection", out),
        ContentType => header(dir, "content-type", out),
        ContentLen => header(dir, "content-length", out),
        Server => header(resp, "server", out),
        Location => header(resp, "location", out),
        Cookie => {
            if dir == resp {
                header(resp, "set-cookie", out)
            } else {
                header(req, "cookie", out)
            }
        }
        Header => {
            let hs = tx.headers(dir);
            push_headers(out, hs);
            !hs.is_empty()
        }
        HeaderRaw => {
            let raw = if dir == resp {
                &tx.resp_headers_raw
            } else {
                &tx.req_headers_raw
            };
            out.extend_from_slice(raw);
            if !raw.is_empty() {
                out.extend_from_slice(b"\r\n\r\n");
            }
            !raw.is_empty()
        }
        HeaderNames => {
            let hs = tx.headers(dir);
            out.extend_from_slice(b"\r\n");
            for h in hs {
                out.extend_from_slice(&h.name);
                out.extend_from_slice(b"\r\n");
            }
            out.extend_from_slice(b"\r\n");
            !hs.is_empty()
        }
        Start => {
            let (line, hs) = if dir == resp {
                (&tx.response_line, &tx.resp_headers)
            } else {
                (&tx.request_line, &tx.req_headers)
            };
            out.extend_from_slice(line);
            out.extend_from_slice(b"\r\n");
            push_headers(out, hs);
            out.extend_from_slice(b"\r\n");
            !line.is_empty()
        }
        RequestBody => {
            out.extend_from_slice(&tx.req_body.data);
            !tx.req_body.data.is_empty()
        }
        ResponseBody => {
            out.extend_from_slice(&tx.resp_body.data);
            !tx.resp_body.data.is_empty()
        }
        FileData => {
            let b = tx.body(dir);
            out.extend_from_slice(&b.data);
            !b.data.is_empty()
        }
        ResponseLine => {
            out.extend_from_slice(&tx.response_line);
            !tx.response_line.is_empty()
        }
        StatCode => {
            out.extend_from_slice(&tx.status_raw);
            !tx.status_raw.is_empty()
        }
        StatMsg => {
            out.extend_from_slice(&tx.status_msg);
            !tx.status_msg.is_empty()
        }
        FileName => match tx.file(dir) {
            Some(f) => {
                out.extend_from_slice(&f.name);
                true
            }
            None => false,
        },
    }
}

/// Scratch buffers for [`matches`], kept per thread.
#[derive(Debug, Default)]
pub struct Scratch {
    buf: Vec<u8>,
    lower: Vec<u8>,
    tmp: Vec<u8>,
}

/// The HTTP part of `rule` matches transaction `tx` in direction `dir`.
pub fn matches(rule: &HttpRule, tx: &HttpTx, dir: Direction, s: &mut Scratch) -> bool {
    if let Some((t, raw)) = rule.urilen {
        let u = if raw { &tx.uri_raw } else { &tx.uri };
        if tx.request_line.is_empty() || !t.matches(u.len() as u64) {
            return false;
        }
    }
    for f in &rule.files {
        let Some(file) = tx.file(dir) else {
            return false;
        };
        let ok = match f {
            FileTest::Ext(ext, neg) => {
                let n = &file.name;
                let hit = n.len() > ext.len()
                    && n.get(n.len() - ext.len() - 1) == Some(&b'.')
                    && n.get(n.len() - ext.len()..)
                        .is_some_and(|e| e.eq_ignore_ascii_case(ext));
                hit != *neg
            }
            FileTest::Name(p, neg) => {
                let lower = file.name.to_ascii_lowercase();
                let hit = memchr::memmem::find(&lower, &p.to_ascii_lowercase()).is_some();
                hit != *neg
            }
            FileTest::Size(t) => t.matches(file.size),
        };
        if !ok {
            return false;
        }
    }
    for l in &rule.lists {
        if !fill(l.buf, tx, dir, &mut s.buf) {
            // An absent buffer matches only lists of negated contents.
            if l.contents.items().all(|c| c.negated) && l.bsize.is_none() && !l.contents.is_empty()
            {
                continue;
            }
            return false;
        }
        for t in &l.transforms {
            t.apply(&mut s.buf, &mut s.tmp);
        }
        if let Some(b) = l.bsize {
            if !b.matches(s.buf.len() as u64) {
                return false;
            }
        }
        if l.contents.is_empty() {
            continue;
        }
        s.lower.clear();
        if l.contents.needs_lower() {
            s.lower.extend(s.buf.iter().map(u8::to_ascii_lowercase));
        }
        let lower = if l.contents.needs_lower() {
            &s.lower[..]
        } else {
            &s.buf[..]
        };
        if !l.contents.matches(&s.buf, lower, 0) {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transforms() {
        let mut b = b"Foo  Bar%41+x".to_vec();
        let mut t = Vec::new();
        Transform::CompressWhitespace.apply(&mut b, &mut t);
        assert_eq!(b, b"Foo Bar%41+x");
        Transform::UrlDecode.apply(&mut b, &mut t);
        assert_eq!(b, b"Foo BarA x");
        Transform::StripWhitespace.apply(&mut b, &mut t);
        Transform::ToLowercase.apply(&mut b, &mut t);
        Transform::DotPrefix.apply(&mut b, &mut t);
        assert_eq!(b, b".foobarax");
        Transform::ToMd5.apply(&mut b, &mut t);
        assert_eq!(b.len(), 16);
    }
}
