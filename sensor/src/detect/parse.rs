//! Rule text → [`Rule`] + [`RuleMeta`]: splitting a file into rules
//! (comments, blank lines, trailing-backslash continuations), the header,
//! and the option list.

use std::collections::BTreeMap;

use super::address;
use super::byte::{self, ByteOp, VarScope};
use super::classification;
use super::content::{self, ContentList, ContentSpec, ItemSpec};
use super::expr::ExprError;
use super::flowbits::{self, Flowbit};
use super::header::{self, HdrBuf, HeaderTest};
use super::pcre::{self, PcreError};
use super::port;
use super::rule::*;
use super::threshold::{self, OptError, Threshold};
use super::Vars;
use crate::packet::Direction;

/// Why a rule is invalid. Each names the offending input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("unknown action `{0}` (expected alert, pass, drop, reject, rejectsrc, rejectdst or rejectboth)")]
    UnknownAction(String),
    #[error("unknown protocol `{0}`")]
    UnknownProtocol(String),
    #[error("rule header needs 7 fields (action proto src sport dir dst dport), found {0}")]
    BadHeader(usize),
    #[error("bad {field} address `{value}`: {source}")]
    BadAddress {
        field: &'static str,
        value: String,
        source: ExprError,
    },
    #[error("bad {field} port `{value}`: {source}")]
    BadPort {
        field: &'static str,
        value: String,
        source: ExprError,
    },
    #[error("bad direction `{0}` (expected -> or <>)")]
    BadDirection(String),
    #[error("rule has no option list `( ... )`")]
    MissingOptions,
    #[error("option list is not closed by `)` at the end of the rule")]
    UnterminatedOptions,
    #[error("unbalanced quotes in option `{0}`")]
    UnbalancedQuotes(String),
    #[error("bad value for `{keyword}`: `{value}`: {reason}")]
    BadOption {
        keyword: String,
        value: String,
        reason: String,
    },
    #[error("`{0}` needs a preceding content")]
    ModifierWithoutContent(String),
    #[error("rule has no sid")]
    MissingSid,
    #[error("duplicate signature gid {gid} sid {sid} (first at {first}); this one is ignored")]
    DuplicateSid { gid: u32, sid: u32, first: String },
    #[error("cannot read rule file: {0}")]
    Io(String),
}

/// What parsing one rule gave.
#[derive(Debug)]
pub enum Parsed {
    Ok(Box<Rule>, Box<RuleMeta>),
    /// Valid syntax, but a keyword or protocol this engine does not
    /// support.
    Unsupported {
        sid: Option<u32>,
        keyword: String,
    },
    Error {
        sid: Option<u32>,
        error: ParseError,
    },
}

/// One rule's text and the line it starts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleText {
    pub line: usize,
    pub text: String,
}

/// Splits a rule file into rules: skips blank lines and `#` comments,
/// joins lines ending in `\`.
pub fn split_rules(text: &str) -> Vec<RuleText> {
    let mut out = Vec::new();
    let mut cur: Option<RuleText> = None;
    for (i, raw) in text.split('\n').enumerate() {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        let t = line.trim();
        if cur.is_none() && (t.is_empty() || t.starts_with('#')) {
            continue;
        }
        let (piece, cont) = match t.strip_suffix('\\') {
            Some(p) => (p, true),
            None => (t, false),
        };
        let r = cur.get_or_insert_with(|| RuleText {
            line: i + 1,
            text: String::new(),
        });
        r.text.push_str(piece);
        if !cont {
            if let Some(done) = cur.take() {
                out.push(done);
            }
        }
    }
    if let Some(done) = cur.take() {
        if !done.text.trim().is_empty() {
            out.push(done);
        }
    }
    out
}

/// App-layer and other protocols Suricata knows but this engine does not
/// inspect: rules on them are skipped, not errors.
const KNOWN_UNSUPPORTED_PROTOS: &[&str] = &[
    "http",
    "http1",
    "http2",
    "tls",
    "smb",
    "ftp",
    "ftp-data",
    "smtp",
    "imap",
    "pop3",
    "dcerpc",
    "dhcp",
    "nfs",
    "ntp",
    "krb5",
    "ikev2",
    "ike",
    "tftp",
    "snmp",
    "sip",
    "rfb",
    "mqtt",
    "rdp",
    "modbus",
    "dnp3",
    "enip",
    "pgsql",
    "telnet",
    "quic",
    "bittorrent-dht",
    "websocket",
    "ldap",
    "sctp",
    "pkthdr",
    "ipv4",
    "ipv6",
    "ip4",
    "ip6",
    "udp-pkt",
    "msn",
    "jabber",
    "irc",
    "cip",
    "template",
    "doh2",
    "mdns",
    "ssl",
    "tcp-stream-only",
];

/// Splits the header into fields; brackets may contain spaces.
fn header_fields(h: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut start: Option<usize> = None;
    for (i, c) in h.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            _ => {}
        }
        if c.is_whitespace() && depth <= 0 {
            if let Some(s) = start.take() {
                out.extend(h.get(s..i));
            }
        } else if start.is_none() {
            start = Some(i);
        }
    }
    if let Some(s) = start {
        out.extend(h.get(s..));
    }
    out
}

/// Splits options on `;` not preceded by a backslash escape.
fn split_options(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        if c == b'\\' {
            i += 2;
            continue;
        }
        if c == b';' {
            out.extend(s.get(start..i));
            start = i + 1;
        }
        i += 1;
    }
    if let Some(rest) = s.get(start..) {
        if !rest.trim().is_empty() {
            out.push(rest);
        }
    }
    out
}

/// Counts quotes that are not escaped.
fn quotes_balanced(s: &str) -> bool {
    let b = s.as_bytes();
    let mut n = 0;
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        if c == b'\\' {
            i += 2;
            continue;
        }
        if c == b'"' {
            n += 1;
        }
        i += 1;
    }
    n % 2 == 0
}

/// Unquotes and unescapes a string value (`msg`).
/// True when a quoted value has an unescaped `"` inside its quotes, as in
/// `msg:"a" content:"b"` (a forgotten `;`).
fn has_stray_quote(v: &str) -> bool {
    let v = v.trim();
    let Some(inner) = v.strip_prefix('"').and_then(|x| x.strip_suffix('"')) else {
        return false;
    };
    let mut escaped = false;
    for c in inner.chars() {
        match c {
            '\\' if !escaped => escaped = true,
            '"' if !escaped => return true,
            _ => escaped = false,
        }
    }
    false
}

fn unquote(v: &str) -> String {
    let v = v.trim();
    let inner = v
        .strip_prefix('"')
        .and_then(|x| x.strip_suffix('"'))
        .unwrap_or(v);
    let mut out = String::with_capacity(inner.len());
    let mut it = inner.chars();
    while let Some(c) = it.next() {
        if c == '\\' {
            if let Some(n) = it.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn parse_action(s: &str) -> Option<Action> {
    Some(match s {
        "alert" => Action::Alert,
        "pass" => Action::Pass,
        "drop" => Action::Drop,
        "reject" | "rejectsrc" => Action::Reject(RejectTarget::Src),
        "rejectdst" => Action::Reject(RejectTarget::Dst),
        "rejectboth" => Action::Reject(RejectTarget::Both),
        _ => return None,
    })
}

fn parse_proto(s: &str) -> Result<RuleProto, Parsed> {
    let lower = s.to_ascii_lowercase();
    Ok(match lower.as_str() {
        "ip" => RuleProto::Ip,
        "tcp" => RuleProto::Tcp,
        "tcp-pkt" => RuleProto::TcpPkt,
        "tcp-stream" => RuleProto::TcpStream,
        "udp" => RuleProto::Udp,
        "icmp" => RuleProto::Icmp,
        "icmpv4" => RuleProto::Icmpv4,
        "icmpv6" => RuleProto::Icmpv6,
        "ssh" => RuleProto::Ssh,
        "http" | "http1" => RuleProto::Http,
        "tls" | "ssl" => RuleProto::Tls,
        "dns" => RuleProto::Dns,
        "pkthdr" => RuleProto::Pkthdr,
        "sctp" => RuleProto::Sctp,
        "ipv4" | "ip4" => RuleProto::Ipv4,
        "ipv6" | "ip6" => RuleProto::Ipv6,
        p if KNOWN_UNSUPPORTED_PROTOS.contains(&p) => {
            return Err(Parsed::Unsupported {
                sid: None,
                keyword: format!("protocol {p}"),
            })
        }
        _ => {
            return Err(Parsed::Error {
                sid: None,
                error: ParseError::UnknownProtocol(s.to_string()),
            })
        }
    })
}

/// Parses `N`, `=N`, `!N`, `<N`, `<=N`, `>N`, `>=N`, `A<>B`, `A-B`.
pub fn parse_num_test(v: &str, max: u64) -> Result<NumTest, String> {
    let v = v.trim();
    let num = |s: &str| -> Result<u64, String> {
        let n: u64 = s
            .trim()
            .parse()
            .map_err(|_| format!("`{}` is not a number", s.trim()))?;
        if n > max {
            return Err(format!("{n} is larger than {max}"));
        }
        Ok(n)
    };
    let t = if let Some((a, b)) = v.split_once("<>").or_else(|| v.split_once('-')) {
        let (a, b) = (num(a)?, num(b)?);
        if a >= b {
            return Err("range minimum must be below its maximum".into());
        }
        NumTest::Between(a, b)
    } else if let Some(r) = v.strip_prefix("<=") {
        NumTest::Le(num(r)?)
    } else if let Some(r) = v.strip_prefix(">=") {
        NumTest::Ge(num(r)?)
    } else if let Some(r) = v.strip_prefix('<') {
        NumTest::Lt(num(r)?)
    } else if let Some(r) = v.strip_prefix('>') {
        NumTest::Gt(num(r)?)
    } else if let Some(r) = v.strip_prefix("!=").or_else(|| v.strip_prefix('!')) {
        NumTest::Ne(num(r)?)
    } else if let Some(r) = v.strip_prefix('=') {
        NumTest::Eq(num(r)?)
    } else {
        NumTest::Eq(num(v)?)
    };
    Ok(t)
}

/// Parses the `flags` value: `[modifier]FLAGS[,IGNORED]`.
pub fn parse_flags(v: &str) -> Result<FlagsTest, String> {
    let (main, ignore) = match v.split_once(',') {
        Some((a, b)) => (a.trim(), Some(b.trim())),
        None => (v.trim(), None),
    };
    fn bits(s: &str) -> Result<u8, String> {
        let mut b = 0u8;
        for c in s.chars() {
            b |= match c.to_ascii_uppercase() {
                'F' => 0x01,
                'S' => 0x02,
                'R' => 0x04,
                'P' => 0x08,
                'A' => 0x10,
                'U' => 0x20,
                'E' | '2' => 0x40,
                'C' | '1' => 0x80,
                '0' => 0,
                other => return Err(format!("unknown TCP flag `{other}`")),
            };
        }
        Ok(b)
    }
    let (mode, rest) = match main.chars().next() {
        Some('+') => (FlagsMode::All, main.get(1..).unwrap_or("")),
        Some('*') => (FlagsMode::Any, main.get(1..).unwrap_or("")),
        Some('!') => (FlagsMode::Not, main.get(1..).unwrap_or("")),
        _ => (FlagsMode::Exact, main),
    };
    let (mode, rest) = match rest.strip_suffix(['+', '*', '!']) {
        Some(r) if mode == FlagsMode::Exact => {
            let m = match rest.chars().last() {
                Some('+') => FlagsMode::All,
                Some('*') => FlagsMode::Any,
                _ => FlagsMode::Not,
            };
            (m, r)
        }
        _ => (mode, rest),
    };
    if rest.is_empty() {
        return Err("no flags given".into());
    }
    Ok(FlagsTest {
        bits: bits(rest)?,
        ignore: match ignore {
            Some(i) => bits(i)?,
            None => 0,
        },
        mode,
    })
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Buf {
    Payload,
    Hdr(HdrBuf),
    Ssh(SshBuf),
    /// An HTTP buffer's list (index into [`http::HttpSpecs::lists`]).
    Http(usize),
    /// A TLS buffer's list (index into [`tls::TlsSpecs::lists`]).
    Tls(usize),
    /// A `dns.query` list (index into [`dns::DnsSpecs::lists`]).
    Dns(usize),
}

/// HTTP options (see `parse/http.rs`).
mod http;
/// TLS options (see `parse/tls.rs`).
mod tls;

/// DNS options (see `parse/dns.rs`).
mod dns;

/// Parses one rule. `origin` is `file:line`.
pub fn parse_rule(text: &str, origin: &str, vars: &Vars) -> Parsed {
    let t = text.trim();
    let Some(open) = t.find('(') else {
        // A line without options: report the action first if that is wrong.
        let first = t.split_whitespace().next().unwrap_or("");
        if parse_action(first).is_none() {
            return err(None, ParseError::UnknownAction(trunc(first)));
        }
        return err(None, ParseError::MissingOptions);
    };
    let header = t.get(..open).unwrap_or("");
    let Some(opts) = t
        .get(open + 1..)
        .and_then(|r| r.trim_end().strip_suffix(')'))
    else {
        let first = header.split_whitespace().next().unwrap_or("");
        if parse_action(first).is_none() {
            return err(None, ParseError::UnknownAction(trunc(first)));
        }
        return err(None, ParseError::UnterminatedOptions);
    };
    let f = header_fields(header);
    let action_s = f.first().copied().unwrap_or("");
    let Some(action) = parse_action(action_s) else {
        return err(None, ParseError::UnknownAction(trunc(action_s)));
    };
    if f.len() != 7 {
        return err(None, ParseError::BadHeader(f.len()));
    }
    let field = |i: usize| f.get(i).copied().unwrap_or("");
    let proto = match parse_proto(field(1)) {
        Ok(p) => Some(p),
        Err(Parsed::Error { error, .. }) => return err(None, error),
        Err(_) => None, // unsupported protocol: keep checking syntax
    };
    let unsupported_proto = proto.is_none().then(|| format!("protocol {}", field(1)));
    let alookup = |n: &str| vars.address(n);
    let plookup = |n: &str| vars.port(n);
    let addr = |i: usize, name: &'static str| {
        address::parse(field(i), &alookup).map_err(|e| ParseError::BadAddress {
            field: name,
            value: trunc(field(i)),
            source: e,
        })
    };
    let portp = |i: usize, name: &'static str| {
        port::parse(field(i), &plookup).map_err(|e| ParseError::BadPort {
            field: name,
            value: trunc(field(i)),
            source: e,
        })
    };
    let header_parts = (|| -> Result<_, ParseError> {
        let src = addr(2, "source")?;
        let sp = portp(3, "source")?;
        let dir = match field(4) {
            "->" => RuleDir::Forward,
            "<>" => RuleDir::Both,
            other => return Err(ParseError::BadDirection(trunc(other))),
        };
        let dst = addr(5, "destination")?;
        let dp = portp(6, "destination")?;
        Ok((src, sp, dir, dst, dp))
    })();
    let (src, src_ports, dir, dst, dst_ports) = match header_parts {
        Ok(h) => h,
        Err(e) => return err(None, e),
    };

    let mut b = Builder::new(action, origin);
    b.unsupported = unsupported_proto;
    for opt in split_options(opts) {
        let opt = opt.trim();
        if opt.is_empty() {
            continue;
        }
        let (name, value) = match opt.split_once(':') {
            Some((n, v)) => (n.trim(), Some(v.trim())),
            None => (opt, None),
        };
        // Quoted string options must close their quotes (other values,
        // such as a pcre, may hold quote characters).
        if matches!(name, "msg" | "content") && !quotes_balanced(opt) {
            return err(b.sid, ParseError::UnbalancedQuotes(trunc(opt)));
        }
        if let Err(e) = b.option(name, value) {
            // Keep looking for the sid so the error can name it.
            let sid = b.sid.or_else(|| find_sid(opts));
            return err(sid, e);
        }
    }
    let Some(sid) = b.sid else {
        return err(None, ParseError::MissingSid);
    };
    if let Some(keyword) = b.unsupported.take() {
        return Parsed::Unsupported {
            sid: Some(sid),
            keyword,
        };
    }
    let Some(proto) = proto else {
        return Parsed::Unsupported {
            sid: Some(sid),
            keyword: format!("protocol {}", field(1)),
        };
    };
    b.finish(proto, (src, src_ports, dir, dst, dst_ports), sid, text)
}

fn find_sid(opts: &str) -> Option<u32> {
    split_options(opts).into_iter().find_map(|o| {
        let (n, v) = o.split_once(':')?;
        (n.trim() == "sid").then(|| v.trim().parse().ok())?
    })
}

fn err(sid: Option<u32>, error: ParseError) -> Parsed {
    Parsed::Error { sid, error }
}

/// Shortens user text quoted in errors (garbage lines can be huge).
fn trunc(s: &str) -> String {
    const MAX: usize = 80;
    if s.len() <= MAX {
        return s.to_string();
    }
    let mut end = MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", s.get(..end).unwrap_or(""))
}

struct Builder {
    action: Action,
    origin: String,
    sid: Option<u32>,
    gid: u32,
    rev: u32,
    msg: String,
    category: String,
    class_priority: Option<u8>,
    priority: Option<u8>,
    metadata: BTreeMap<String, Vec<String>>,
    references: Vec<String>,
    target: Option<String>,
    flow: FlowOpts,
    dsize: Option<NumTest>,
    decode_events: super::decode_event::DecodeEvents,
    itype: Option<NumTest>,
    icode: Option<NumTest>,
    flags: Option<FlagsTest>,
    buf: Buf,
    payload: Vec<ItemSpec>,
    ssh: [Vec<ItemSpec>; SshBuf::ALL.len()],
    last: Option<Buf>,
    ssh_legacy: Vec<SshLegacy>,
    threshold: Option<Threshold>,
    flowbits: Vec<Flowbit>,
    noalert: bool,
    pass_alert: bool,
    /// Content/byte keywords of the header sticky buffers.
    hdr: [Vec<ItemSpec>; HdrBuf::ALL.len()],
    /// Header keywords (`ttl`, `ipopts`, ...).
    headers: Vec<HeaderTest>,
    /// byte_extract / byte_math variable names, by index.
    byte_vars: Vec<String>,
    hostbits: Vec<super::hostbits::Hostbit>,
    /// `tag` options.
    tags: Vec<super::tag::TagSpec>,
    /// First unsupported keyword seen.
    unsupported: Option<String>,
    /// HTTP buffers, urilen, file keywords.
    http: http::HttpSpecs,
    /// TLS buffers and keywords.
    tls: tls::TlsSpecs,
    /// DNS buffers and keywords.
    dns: dns::DnsSpecs,
}

impl VarScope for Builder {
    fn lookup(&self, name: &str) -> Option<u8> {
        self.byte_vars
            .iter()
            .position(|n| n == name)
            .map(|i| i as u8)
    }

    fn define(&mut self, name: &str) -> Option<u8> {
        if let Some(i) = self.lookup(name) {
            return Some(i);
        }
        if self.byte_vars.len() >= byte::MAX_VARS {
            return None;
        }
        self.byte_vars.push(name.to_string());
        Some(self.byte_vars.len() as u8 - 1)
    }
}

/// Suricata's check that a rule's contents fit its `dsize`
/// (`SigParseMaxRequiredDsize`): the required length, when it exceeds the
/// largest payload `dsize` allows.
fn dsize_conflict(dsize: NumTest, payload: &[ItemSpec]) -> Option<(u64, u64)> {
    let max = match dsize {
        NumTest::Lt(n) | NumTest::Eq(n) | NumTest::Ne(n) => n as i64,
        NumTest::Between(_, b) => b as i64,
        _ => return None,
    };
    let (mut total, mut max_offset, mut first) = (0i64, 0i64, true);
    for c in payload.iter().filter_map(|i| match i {
        ItemSpec::Content(c) => Some(c),
        _ => None,
    }) {
        let distance = i64::from(c.distance.unwrap_or(0));
        if !first {
            if !c.relative() {
                continue;
            }
            if c.negated {
                let check = total + distance + i64::from(c.within.unwrap_or(0));
                if max < check {
                    return Some((check as u64, max as u64));
                }
                continue;
            }
        }
        total += c.pattern.len() as i64 + distance;
        max_offset = max_offset.max(i64::from(c.offset.unwrap_or(0)));
        first = false;
    }
    if total > max {
        return Some((total as u64, max as u64));
    }
    if total + max_offset > max {
        return Some(((total + max_offset) as u64, max as u64));
    }
    None
}

fn bad(keyword: &str, value: &str, reason: impl Into<String>) -> ParseError {
    ParseError::BadOption {
        keyword: keyword.to_string(),
        value: trunc(value),
        reason: reason.into(),
    }
}

impl Builder {
    fn new(action: Action, origin: &str) -> Builder {
        Builder {
            action,
            origin: origin.to_string(),
            sid: None,
            gid: 1,
            rev: 0,
            msg: String::new(),
            category: String::new(),
            class_priority: None,
            priority: None,
            metadata: BTreeMap::new(),
            references: Vec::new(),
            target: None,
            flow: FlowOpts::default(),
            dsize: None,
            decode_events: Vec::new(),
            itype: None,
            icode: None,
            flags: None,
            buf: Buf::Payload,
            payload: Vec::new(),
            ssh: Default::default(),
            last: None,
            ssh_legacy: Vec::new(),
            threshold: None,
            flowbits: Vec::new(),
            noalert: false,
            pass_alert: false,
            hdr: Default::default(),
            headers: Vec::new(),
            byte_vars: Vec::new(),
            hostbits: Vec::new(),
            tags: Vec::new(),
            unsupported: None,
            http: http::HttpSpecs::default(),
            tls: tls::TlsSpecs::default(),
            dns: dns::DnsSpecs::default(),
        }
    }

    fn unsupported(&mut self, keyword: &str) {
        if self.unsupported.is_none() {
            self.unsupported = Some(keyword.to_string());
        }
    }

    fn list(&mut self, b: Buf) -> &mut Vec<ItemSpec> {
        match b {
            Buf::Payload => &mut self.payload,
            Buf::Hdr(h) => &mut self.hdr[h.index()],
            Buf::Ssh(b) => &mut self.ssh[b.index()],
            Buf::Http(i) => match self.http.lists.get_mut(i) {
                Some(l) => &mut l.items,
                None => &mut self.payload,
            },
            Buf::Tls(i) => match self.tls.lists.get_mut(i) {
                Some(l) => &mut l.items,
                None => &mut self.payload,
            },
            Buf::Dns(i) => match self.dns.lists.get_mut(i) {
                Some(l) => &mut l.items,
                None => &mut self.payload,
            },
        }
    }

    fn last_content(&mut self, keyword: &str) -> Result<&mut ContentSpec, ParseError> {
        let b = self
            .last
            .ok_or_else(|| ParseError::ModifierWithoutContent(keyword.to_string()))?;
        // As Suricata: the last content of the list, also when a byte
        // keyword or pcre came after it (`content; isdataat; nocase`).
        self.list(b)
            .iter_mut()
            .rev()
            .find_map(|i| match i {
                ItemSpec::Content(c) => Some(c),
                _ => None,
            })
            .ok_or_else(|| ParseError::ModifierWithoutContent(keyword.to_string()))
    }

    /// A modifier's number, or the index of the byte_extract/byte_math
    /// variable it names.
    fn modifier_num<T: std::str::FromStr>(
        &mut self,
        k: &str,
        v: &str,
    ) -> Result<Result<T, u8>, ParseError> {
        match v.parse::<T>() {
            Ok(n) => Ok(Ok(n)),
            Err(_)
                if !v.is_empty()
                    && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                    && v.chars().next().is_some_and(|c| c.is_ascii_alphabetic()) =>
            {
                self.lookup(v).map(Err).ok_or_else(|| {
                    bad(
                        k,
                        v,
                        "not a number nor a byte_extract/byte_math variable defined earlier",
                    )
                })
            }
            Err(_) => Err(bad(k, v, "expected a number")),
        }
    }

    /// Adds a byte keyword to the current buffer's list.
    fn byte_op(&mut self, k: &str, s: &str, r: Result<ByteOp, OptError>) -> Result<(), ParseError> {
        match r {
            Ok(op) => {
                let b = self.buf;
                self.list(b).push(ItemSpec::Byte(op));
                self.last = Some(b);
            }
            Err(OptError::Invalid(why)) => return Err(bad(k, s, why)),
            Err(OptError::Unsupported(what)) => self.unsupported(&what),
        }
        Ok(())
    }

    fn option(&mut self, k: &str, v: Option<&str>) -> Result<(), ParseError> {
        fn need<'s>(k: &str, v: Option<&'s str>) -> Result<&'s str, ParseError> {
            v.filter(|s| !s.is_empty())
                .ok_or_else(|| bad(k, "", "value missing"))
        }
        if let Some(r) = self.tls_option(k, v) {
            return r;
        }
        if let Some(r) = self.dns_option(k, v) {
            return r;
        }
        if let Some(r) = self.http_option(k, v) {
            return r;
        }
        match k {
            "msg" => {
                let raw = need(k, v)?;
                if has_stray_quote(raw) {
                    return Err(bad(
                        k,
                        raw,
                        "text after the closing quote (a missing `;` before the next option?)",
                    ));
                }
                self.msg = unquote(raw);
            }
            "sid" => {
                let s = need(k, v)?;
                let n: u32 = s
                    .parse()
                    .map_err(|_| bad(k, s, "expected a number from 1 to 4294967295"))?;
                if n == 0 {
                    return Err(bad(k, s, "sid 0 is not allowed"));
                }
                self.sid = Some(n);
            }
            "rev" => {
                let s = need(k, v)?;
                self.rev = s.parse().map_err(|_| bad(k, s, "expected a number"))?;
            }
            "gid" => {
                let s = need(k, v)?;
                self.gid = s.parse().map_err(|_| bad(k, s, "expected a number"))?;
            }
            "classtype" => {
                let s = need(k, v)?;
                let c = classification::lookup(s).ok_or_else(|| {
                    bad(
                        k,
                        s,
                        "unknown classtype (not in the built-in classification table)",
                    )
                })?;
                self.category = c.description.to_string();
                self.class_priority = Some(c.priority);
            }
            "priority" => {
                let s = need(k, v)?;
                let p: u8 = s
                    .parse()
                    .ok()
                    .filter(|p| *p >= 1)
                    .ok_or_else(|| bad(k, s, "expected a number from 1 to 255"))?;
                self.priority = Some(p);
            }
            "metadata" => {
                for item in need(k, v)?.split(',') {
                    let item = item.trim();
                    if let Some((key, val)) = item.split_once(char::is_whitespace) {
                        self.metadata
                            .entry(key.to_string())
                            .or_default()
                            .push(val.trim().to_string());
                    }
                }
            }
            "reference" => self.references.push(need(k, v)?.to_string()),
            "tag" => {
                let s = need(k, v)?;
                let t = super::tag::parse(s).map_err(|why| bad(k, s, why))?;
                self.tags.push(t);
            }
            "target" => {
                let s = need(k, v)?;
                if s != "src_ip" && s != "dest_ip" {
                    return Err(bad(k, s, "expected src_ip or dest_ip"));
                }
                self.target = Some(s.to_string());
            }
            "content" => {
                let s = need(k, v)?;
                let (pattern, negated) = content::parse_pattern(s).map_err(|why| bad(k, s, why))?;
                let b = self.buf;
                self.list(b).push(ItemSpec::Content(ContentSpec {
                    pattern,
                    negated,
                    ..Default::default()
                }));
                self.last = Some(b);
            }
            "pcre" => {
                let s = need(k, v)?;
                match pcre::parse(s) {
                    Ok(p) => {
                        let b = self.buf;
                        self.list(b).push(ItemSpec::Pcre(Box::new(p)));
                        self.last = Some(b);
                    }
                    Err(PcreError::Invalid(why)) => return Err(bad(k, s, why)),
                    Err(PcreError::Unsupported(what)) => self.unsupported(&what),
                }
            }
            "threshold" | "detection_filter" => {
                let s = need(k, v)?;
                if self.threshold.is_some() {
                    return Err(bad(
                        k,
                        s,
                        "a rule takes one threshold or detection_filter, not several",
                    ));
                }
                match threshold::parse(s, k == "detection_filter") {
                    Ok(t) => self.threshold = Some(t),
                    Err(OptError::Invalid(why)) => return Err(bad(k, s, why)),
                    Err(OptError::Unsupported(what)) => self.unsupported(&what),
                }
            }
            "flowbits" => {
                let s = need(k, v)?;
                match flowbits::parse(s) {
                    Ok(flowbits::Parsed::Op(f)) => self.flowbits.push(f),
                    Ok(flowbits::Parsed::NoAlert) => self.noalert = true,
                    Err(OptError::Invalid(why)) => return Err(bad(k, s, why)),
                    Err(OptError::Unsupported(what)) => self.unsupported(&what),
                }
            }
            "nocase" => self.last_content(k)?.nocase = true,
            "rawbytes" => {
                self.last_content(k)?;
            }
            "fast_pattern" => self.last_content(k)?.fast_pattern = true,
            "startswith" => self.last_content(k)?.startswith = true,
            "endswith" => self.last_content(k)?.endswith = true,
            "depth" | "offset" | "within" => {
                let s = need(k, v)?;
                self.last_content(k)?;
                let n = self.modifier_num::<u32>(k, s)?;
                let c = self.last_content(k)?;
                let (num, var) = match k {
                    "depth" => (&mut c.depth, &mut c.depth_var),
                    "offset" => (&mut c.offset, &mut c.offset_var),
                    _ => (&mut c.within, &mut c.within_var),
                };
                match n {
                    Ok(n) => *num = Some(n),
                    Err(i) => *var = Some(i),
                }
            }
            "distance" => {
                let s = need(k, v)?;
                self.last_content(k)?;
                match self.modifier_num::<i32>(k, s)? {
                    Ok(n) => self.last_content(k)?.distance = Some(n),
                    Err(i) => self.last_content(k)?.distance_var = Some(i),
                }
            }
            "flow" => {
                for part in need(k, v)?.split(',') {
                    let p = part.trim();
                    match p {
                        "established" => self.flow.established = Some(true),
                        "not_established" => self.flow.established = Some(false),
                        "stateless" => {}
                        "to_server" | "from_client" => self.flow.dir = Some(Direction::ToServer),
                        "to_client" | "from_server" => self.flow.dir = Some(Direction::ToClient),
                        "only_stream" => self.flow.only_stream = true,
                        "no_stream" => self.flow.no_stream = true,
                        "only_frag" | "no_frag" => self.unsupported(&format!("flow:{p}")),
                        _ => return Err(bad(k, p, "unknown flow option")),
                    }
                    if p != "stateless" {
                        self.flow.needs_flow = true;
                    }
                }
            }
            "alert" if v.is_none() => self.pass_alert = true,
            "pkt_data" => self.buf = Buf::Payload,
            "ipv4.hdr" | "ipv6.hdr" | "tcp.hdr" | "udp.hdr" | "icmpv4.hdr" | "icmpv6.hdr" => {
                if let Some(h) = HdrBuf::from_keyword(k) {
                    self.buf = Buf::Hdr(h);
                }
            }
            "byte_test" => {
                let s = need(k, v)?;
                let r = byte::parse_byte_test(s, self).map(ByteOp::Test);
                self.byte_op(k, s, r)?;
            }
            "byte_jump" => {
                let s = need(k, v)?;
                let r = byte::parse_byte_jump(s, self).map(ByteOp::Jump);
                self.byte_op(k, s, r)?;
            }
            "byte_extract" => {
                let s = need(k, v)?;
                let r = byte::parse_byte_extract(s, self).map(ByteOp::Extract);
                self.byte_op(k, s, r)?;
            }
            "byte_math" => {
                let s = need(k, v)?;
                let r = byte::parse_byte_math(s, self).map(ByteOp::Math);
                self.byte_op(k, s, r)?;
            }
            "isdataat" => {
                let s = need(k, v)?;
                let r = byte::parse_isdataat(s, self).map(ByteOp::IsDataAt);
                self.byte_op(k, s, r)?;
            }
            // Prefilter engine selection: no effect on what matches.
            "prefilter" => {}
            // Suricata 7's standalone `noalert`, as `flowbits:noalert`.
            "noalert" if v.is_none() => self.noalert = true,
            "hostbits" | "xbits" => {
                let s = need(k, v)?;
                let r = if k == "xbits" {
                    super::hostbits::parse_xbits(s)
                } else {
                    super::hostbits::parse(s)
                };
                match r {
                    Ok(super::hostbits::Parsed::Op(h)) => self.hostbits.push(h),
                    Ok(super::hostbits::Parsed::NoAlert) => self.noalert = true,
                    Err(OptError::Invalid(why)) => return Err(bad(k, s, why)),
                    Err(OptError::Unsupported(what)) => self.unsupported(&what),
                }
            }
            "ssh.proto" | "ssh_proto" => self.buf = Buf::Ssh(SshBuf::Proto),
            "ssh.software" | "ssh_software" => self.buf = Buf::Ssh(SshBuf::Software),
            "ssh.hassh" => self.buf = Buf::Ssh(SshBuf::Hassh),
            "ssh.hassh.string" => self.buf = Buf::Ssh(SshBuf::HasshString),
            "ssh.hassh.server" => self.buf = Buf::Ssh(SshBuf::HasshServer),
            "ssh.hassh.server.string" => self.buf = Buf::Ssh(SshBuf::HasshServerString),
            "ssh.protoversion" => {
                let s = unquote(need(k, v)?);
                self.ssh_legacy.push(if s == "2_compat" {
                    SshLegacy::ProtoCompat2
                } else {
                    SshLegacy::ProtoEq(s)
                });
            }
            "ssh.softwareversion" => {
                let s = unquote(need(k, v)?);
                self.ssh_legacy.push(SshLegacy::SoftwarePrefix(s));
            }
            "decode-event" => {
                let s = need(k, v)?;
                let e = super::decode_event::parse(s).map_err(|why| bad(k, s, why))?;
                self.decode_events.push(e);
            }
            "dsize" => {
                let s = need(k, v)?;
                self.dsize = Some(parse_num_test(s, 65535).map_err(|why| bad(k, s, why))?);
            }
            "itype" => {
                let s = need(k, v)?;
                self.itype = Some(parse_num_test(s, 255).map_err(|why| bad(k, s, why))?);
            }
            "icode" => {
                let s = need(k, v)?;
                self.icode = Some(parse_num_test(s, 255).map_err(|why| bad(k, s, why))?);
            }
            _ if header::parse(k, v).is_some() => match header::parse(k, v) {
                Some(Ok(t)) => self.headers.push(t),
                Some(Err(OptError::Invalid(why))) => return Err(bad(k, v.unwrap_or(""), why)),
                Some(Err(OptError::Unsupported(what))) => self.unsupported(&what),
                None => {}
            },
            "flags" => {
                let s = need(k, v)?;
                self.flags = Some(parse_flags(s).map_err(|why| bad(k, s, why))?);
            }
            other => {
                // Anything else is a keyword we do not implement. Names are
                // identifiers; anything else is garbage.
                let ok = !other.is_empty()
                    && other
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
                if !ok {
                    return Err(bad(&trunc(other), v.unwrap_or(""), "not a rule keyword"));
                }
                self.unsupported(other);
            }
        }
        Ok(())
    }

    fn finish(
        mut self,
        proto: RuleProto,
        header: (
            address::AddrExpr,
            port::PortExpr,
            RuleDir,
            address::AddrExpr,
            port::PortExpr,
        ),
        sid: u32,
        text: &str,
    ) -> Parsed {
        let (src, src_ports, dir, dst, dst_ports) = header;
        let fail = |e: String| err(Some(sid), bad("content", "", e));
        let has_ssh = self.ssh.iter().any(|l| !l.is_empty()) || !self.ssh_legacy.is_empty();
        let has_hdr_lists = self.hdr.iter().any(|l| !l.is_empty());
        let has_header_tests = self.dsize.is_some()
            || self.itype.is_some()
            || self.icode.is_some()
            || self.flags.is_some()
            || !self.headers.is_empty()
            || has_hdr_lists;
        if let Some((need, max)) = self.dsize.and_then(|d| dsize_conflict(d, &self.payload)) {
            return err(
                Some(sid),
                bad(
                    "dsize",
                    "",
                    format!("signature can't match as required content length {need} exceeds dsize value {max}"),
                ),
            );
        }
        // Suricata's signature mask: payload content, and dsize values that
        // exclude 0, need a packet with payload (or stream data); dsize:0
        // needs one without.
        let require_payload = match self.dsize {
            Some(NumTest::Eq(0)) => Some(false),
            Some(NumTest::Eq(_))
            | Some(NumTest::Ne(_))
            | Some(NumTest::Gt(_))
            | Some(NumTest::Ge(_))
            | Some(NumTest::Between(..)) => Some(true),
            _ => None,
        }
        .or((!self.payload.is_empty()).then_some(true));
        if has_ssh && !self.payload.is_empty() {
            return Parsed::Unsupported {
                sid: Some(sid),
                keyword: "payload content mixed with ssh.* buffers".into(),
            };
        }
        let has_http = !self.http.is_empty();
        let has_dns = !self.dns.is_empty();
        if has_dns && (has_http || has_ssh || !self.payload.is_empty() || has_header_tests) {
            return Parsed::Unsupported {
                sid: Some(sid),
                keyword: "payload, header, ssh or http tests mixed with dns keywords".into(),
            };
        }
        if has_dns
            && !matches!(
                proto,
                RuleProto::Dns | RuleProto::Udp | RuleProto::Tcp | RuleProto::Ip
            )
        {
            return Parsed::Unsupported {
                sid: Some(sid),
                keyword: "dns keywords on a non-dns protocol".into(),
            };
        }
        let dns_rule = if has_dns {
            match std::mem::take(&mut self.dns).build(self.flow.dir) {
                Ok(d) => Some(Box::new(d)),
                Err(e) => return fail(e),
            }
        } else {
            None
        };
        if has_http && (has_ssh || !self.payload.is_empty() || has_header_tests) {
            return Parsed::Unsupported {
                sid: Some(sid),
                keyword: "payload, header or ssh tests mixed with http buffers".into(),
            };
        }
        let has_tls = !self.tls.is_empty();
        let tls_store = self.tls.store;
        if has_tls && (has_ssh || has_http || !self.payload.is_empty() || has_header_tests) {
            return Parsed::Unsupported {
                sid: Some(sid),
                keyword: "payload, header, ssh or http tests mixed with tls buffers".into(),
            };
        }
        let tls_rule = if has_tls {
            match std::mem::take(&mut self.tls).build(self.flow.dir) {
                Ok(t) => Some(Box::new(t)),
                Err(e) => return fail(e),
            }
        } else {
            None
        };
        // An `http` rule with nothing to inspect in HTTP is a packet rule
        // for HTTP flows: as Suricata, it matches every packet of the flow
        // once the protocol is known.
        let http_tx = has_http;
        let http_rule = if http_tx {
            match std::mem::take(&mut self.http).build(self.flow.dir) {
                Ok(h) => Some(Box::new(h)),
                Err(e) => return fail(e),
            }
        } else {
            None
        };
        let kind = if http_tx || has_tls || has_dns {
            Kind::Tx
        } else if has_ssh || (proto == RuleProto::Ssh && self.payload.is_empty()) {
            if has_header_tests {
                return Parsed::Unsupported {
                    sid: Some(sid),
                    keyword: "dsize/itype/icode/flags on an SSH transaction rule".into(),
                };
            }
            Kind::Tx
        } else if self.payload.is_empty()
            || proto == RuleProto::TcpPkt
            || self.dsize.is_some()
            || self.flow.no_stream
        {
            Kind::Packet
        } else {
            Kind::Payload
        };
        let payload = match ContentList::build_items(std::mem::take(&mut self.payload)) {
            Ok(l) => l,
            Err(e) => return fail(e),
        };
        let mut hdr = Vec::new();
        for h in HdrBuf::ALL {
            let items = std::mem::take(&mut self.hdr[h.index()]);
            if items.is_empty() {
                continue;
            }
            match ContentList::build_items(items) {
                Ok(l) => hdr.push((h, l)),
                Err(e) => return fail(e),
            }
        }
        let mut ssh: [ContentList; SshBuf::ALL.len()] = Default::default();
        for (out, items) in ssh.iter_mut().zip(self.ssh.iter_mut()) {
            match ContentList::build_items(std::mem::take(items)) {
                Ok(l) => *out = l,
                Err(e) => return fail(e),
            }
        }
        // Suricata's IP-only and "like IP-only" rules: nothing but
        // addresses and ports on ip/tcp/udp/icmp; decided once per flow
        // direction, and their action applies to the flow.
        let ip_only = matches!(
            proto,
            RuleProto::Ip
                | RuleProto::Tcp
                | RuleProto::Udp
                | RuleProto::Icmp
                | RuleProto::Icmpv4
                | RuleProto::Icmpv6
        ) && kind == Kind::Packet
            && payload.is_empty()
            && !has_header_tests
            && self.flowbits.is_empty()
            && self.hostbits.is_empty()
            && self.flow == FlowOpts::default();
        let tcp_capable = matches!(
            proto,
            RuleProto::Ip
                | RuleProto::Tcp
                | RuleProto::TcpStream
                | RuleProto::Ssh
                | RuleProto::Http
                | RuleProto::Tls
                | RuleProto::Dns
        );
        // Suricata's "app-layer" rules (`alert http` and nothing else):
        // every packet of a flow of the protocol, action on the flow.
        let app_only = matches!(proto, RuleProto::Http | RuleProto::Tls | RuleProto::Dns)
            && kind == Kind::Packet
            && payload.is_empty()
            && !has_header_tests
            && self.flowbits.is_empty()
            && self.hostbits.is_empty()
            && self.flow == FlowOpts::default();
        let flow_scope = match kind {
            Kind::Tx => true,
            Kind::Payload => tcp_capable,
            Kind::Packet => ip_only || app_only,
        };
        for vals in self.metadata.values_mut() {
            vals.sort();
        }
        let meta = RuleMeta {
            sid,
            gid: self.gid,
            rev: self.rev,
            msg: self.msg,
            action: self.action,
            category: self.category,
            severity: self.priority.or(self.class_priority).unwrap_or(3),
            metadata: super::rule::Metadata::new(self.metadata),
            references: self.references,
            target: self.target,
            origin: self.origin,
            flow_scope,
            raw: text.trim().to_string(),
            tags: self.tags,
            tls_store,
        };
        let rule = Rule {
            proto,
            src,
            src_ports,
            dir,
            dst,
            dst_ports,
            flow: self.flow,
            dsize: self.dsize,
            itype: self.itype,
            icode: self.icode,
            flags: self.flags,
            payload,
            ssh,
            ssh_legacy: self.ssh_legacy,
            kind,
            ip_only,
            limits: threshold::Limits {
                suppress: Vec::new(),
                filters: self.threshold.into_iter().collect(),
            },
            flowbits: self.flowbits,
            noalert: self.noalert,
            pass_alert: self.pass_alert,
            hdr,
            headers: self.headers,
            require_payload,
            hostbits: self.hostbits,
            decode_events: self.decode_events,
            http: http_rule,
            tls: tls_rule,
            dns: dns_rule,
        };
        Parsed::Ok(Box::new(rule), Box::new(meta))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn stray_quote_in_msg_is_a_missing_semicolon() {
        assert!(super::has_stray_quote(r#""y" content:"|zz|""#));
        assert!(!super::has_stray_quote(r#""say \"hi\"""#));
        assert!(!super::has_stray_quote("\"plain\""));
    }

    use super::*;

    fn p(text: &str) -> Parsed {
        parse_rule(text, "t.rules:1", &Vars::default())
    }

    fn ok(text: &str) -> (Rule, RuleMeta) {
        match p(text) {
            Parsed::Ok(r, m) => (*r, *m),
            other => panic!("expected a rule from {text}: {other:?}"),
        }
    }

    fn error(text: &str) -> ParseError {
        match p(text) {
            Parsed::Error { error, .. } => error,
            other => panic!("expected an error from {text}: {other:?}"),
        }
    }

    /// `tls.store` (and `tls_store`) is no condition: it marks the rule
    /// for the `tls-store` output and leaves the TLS tests as they are.
    #[test]
    fn tls_store_marks_the_rule() {
        for kw in ["tls.store", "tls_store"] {
            let (_, m) = ok(&format!(
                "alert tls any any -> any any (tls_cert_issuer; content:\"O=Stamus\"; {kw}; sid:1;)"
            ));
            assert!(m.tls_store, "{kw}");
        }
        let (_, m) =
            ok("alert tls any any -> any any (tls_cert_issuer; content:\"O=Stamus\"; sid:1;)");
        assert!(!m.tls_store);
    }

    /// Legacy `uricontent` is `content` in the URI buffer; the modifiers
    /// after it apply to it, and it sets no sticky buffer.
    /// As Suricata: a pcre with an HTTP buffer flag for another buffer than
    /// the active sticky one is an error ("Expression seen with a sticky
    /// buffer still enabled"); after a legacy modifier it is fine.
    #[test]
    fn pcre_http_flag_with_sticky_buffer_is_an_error() {
        assert!(matches!(
            error("alert http any any -> any any (http.uri; content:\".php\"; pcre:\"/^a/P\"; sid:1;)"),
            ParseError::BadOption { .. }
        ));
        ok("alert http any any -> any any (content:\".php\"; http_uri; pcre:\"/^a/U\"; sid:2;)");
        // The flag of the active sticky buffer itself is accepted.
        ok("alert http any any -> any any (http.request_body; content:\"a\"; pcre:\"/^a/P\"; sid:4;)");
        ok("alert http any any -> any any (http.uri; content:\".php\"; pcre:\"/^a/\"; sid:3;)");
    }

    #[test]
    fn uricontent_is_content_on_the_uri() {
        let (r, _) = ok(
            "alert tcp any any -> any any (uricontent: \"/a/Drk.syn?\"; nocase; \
                         uricontent:\"adcontext\"; nocase; sid:1;)",
        );
        let http = r.http.expect("an HTTP rule");
        assert_eq!(http.lists.len(), 1);
        assert_eq!(http.lists[0].buf, crate::detect::http::HttpBuf::Uri);
        assert_eq!(http.lists[0].contents.len(), 2);
        assert!(matches!(
            error("alert tcp any any -> any any (uricontent:; sid:2;)"),
            ParseError::BadOption { .. }
        ));
    }

    #[test]
    fn split_handles_comments_blank_and_continuations() {
        let text = "# comment\n\nalert ip any any -> any any (sid:1;)\r\n#alert ip any any -> any any (sid:9;)\nalert tcp any any -> any any \\\n  (msg:\"x\"; \\\n sid:2;)\n";
        let r = split_rules(text);
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].line, 3);
        assert_eq!(r[1].line, 5);
        assert!(r[1].text.contains("sid:2;"));
    }

    #[test]
    fn meta_options() {
        let (_, m) = ok("drop tcp any any -> any 22 (msg:\"a \\\"q\\\" \\; b\"; sid:7; rev:3; gid:2; classtype:attempted-admin; metadata:created_at 2010_07_30, updated_at 2019, created_at 2001; reference:cve,2018-1;)");
        assert_eq!(m.msg, "a \"q\" ; b");
        assert_eq!((m.sid, m.rev, m.gid), (7, 3, 2));
        assert_eq!(m.category, "Attempted Administrator Privilege Gain");
        assert_eq!(m.severity, 1);
        assert_eq!(
            m.metadata.get("created_at").collect::<Vec<_>>(),
            vec!["2001", "2010_07_30"]
        );
        assert_eq!(m.references, vec!["cve,2018-1"]);
        assert_eq!(m.action, Action::Drop);
        let (_, m) =
            ok("alert ip any any -> any any (sid:1; classtype:misc-activity; priority:1;)");
        assert_eq!(m.severity, 1);
        let (_, m) = ok("alert ip any any -> any any (sid:1;)");
        assert_eq!(
            (m.severity, m.category.as_str(), m.rev, m.gid),
            (3, "", 0, 1)
        );
    }

    #[test]
    fn actions_and_protocols() {
        for (a, want) in [
            ("reject", Action::Reject(RejectTarget::Src)),
            ("rejectsrc", Action::Reject(RejectTarget::Src)),
            ("rejectdst", Action::Reject(RejectTarget::Dst)),
            ("rejectboth", Action::Reject(RejectTarget::Both)),
            ("pass", Action::Pass),
        ] {
            assert_eq!(
                ok(&format!("{a} tcp any any -> any any (sid:1;)")).1.action,
                want
            );
        }
        assert_eq!(
            ok("alert tcp-pkt any any -> any any (content:\"x\"; sid:1;)")
                .0
                .proto,
            RuleProto::TcpPkt
        );
        assert!(matches!(
            error("block tcp any any -> any any (sid:1;)"),
            ParseError::UnknownAction(_)
        ));
        assert!(matches!(
            error("alert tcpx any any -> any any (sid:1;)"),
            ParseError::UnknownProtocol(_)
        ));
        assert!(matches!(
            p("alert smtp any any -> any any (content:\"x\"; sid:5;)"),
            Parsed::Unsupported { sid: Some(5), .. }
        ));
    }

    #[test]
    fn syntax_errors() {
        assert_eq!(
            error("alert tcp any any -> any any (msg:\"x\";)"),
            ParseError::MissingSid
        );
        assert_eq!(
            error("alert tcp any any -> any any (sid:1;"),
            ParseError::UnterminatedOptions
        );
        assert_eq!(
            error("alert tcp any any -> any any"),
            ParseError::MissingOptions
        );
        assert!(matches!(
            error("alert tcp any any -> any any (msg:\"x; sid:1;)"),
            ParseError::UnbalancedQuotes(_)
        ));
        assert!(matches!(
            error("alert tcp any any => any any (sid:1;)"),
            ParseError::BadDirection(_)
        ));
        assert!(matches!(
            error("alert tcp any any any -> any any (sid:1;)"),
            ParseError::BadHeader(8)
        ));
        assert!(matches!(
            error("alert tcp 1.2.3.400 any -> any any (sid:1;)"),
            ParseError::BadAddress { .. }
        ));
        assert!(matches!(
            error("alert tcp $NOPE any -> any any (sid:1;)"),
            ParseError::BadAddress {
                source: ExprError::UndefinedVar(_),
                ..
            }
        ));
        assert!(matches!(
            error("alert tcp any 70000 -> any any (sid:1;)"),
            ParseError::BadPort { .. }
        ));
        assert!(matches!(
            error("alert tcp any any -> any any (content:\"|zz|\"; sid:1;)"),
            ParseError::BadOption { .. }
        ));
        assert!(matches!(
            error("alert tcp any any -> any any (nocase; sid:1;)"),
            ParseError::ModifierWithoutContent(_)
        ));
        assert!(matches!(
            error("alert tcp any any -> any any (classtype:nope; sid:1;)"),
            ParseError::BadOption { .. }
        ));
        assert!(matches!(
            error("alert tcp any any -> any any (flow:sideways; sid:1;)"),
            ParseError::BadOption { .. }
        ));
        match p("alert tcp any any -> any any (depth:4; sid:42;)") {
            Parsed::Error { sid, .. } => assert_eq!(sid, Some(42)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn byte_keywords_header_buffers_and_late_modifiers() {
        // A modifier after a byte keyword applies to the last content.
        let (r, _) = ok("alert tcp any any -> any any (content:\"/x\"; depth:5; isdataat:30,relative; fast_pattern; nocase; sid:1;)");
        let c = r.payload.items().next().unwrap();
        assert!(c.fast_pattern && c.nocase);
        let (r, _) = ok("alert tcp any any -> any any (ipv4.hdr; byte_extract:1,0,v,relative; tcp.hdr; byte_test:1,=,v,1; ttl:<64; sid:2;)");
        assert_eq!((r.hdr.len(), r.headers.len(), r.kind), (2, 1, Kind::Packet));
        assert!(matches!(
            p("alert tcp any any -> any any (byte_test:1,=,x,0; sid:3;)"),
            Parsed::Error { .. }
        ));
        assert!(matches!(
            p("alert tcp any any -> any any (ttl:300; sid:4;)"),
            Parsed::Error { .. }
        ));
        let (r, _) = ok("alert ip any any -> any any (hostbits:set,a,dst; sid:5;)");
        assert_eq!(r.hostbits.len(), 1);
        assert_eq!(
            ok("alert tcp any any -> any any (dsize:!9; sid:6;)")
                .0
                .require_payload,
            Some(true)
        );
        assert_eq!(
            ok("alert tcp any any -> any any (dsize:0; sid:7;)")
                .0
                .require_payload,
            Some(false)
        );
    }

    #[test]
    fn unsupported_keyword_skips() {
        match p("alert tcp any any -> any any (content:\"x\"; pcre:\"/a\\;b/U\"; sid:9;)") {
            Parsed::Unsupported { sid, keyword } => {
                assert_eq!(sid, Some(9));
                // `/U` reads the HTTP URI buffer; mixed with packet content
                // that is not supported yet.
                assert!(keyword.contains("http"), "{keyword}");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            p("alert tcp any any -> any any (content:\"x\"; byte_extract:2,0,len; content:\"y\"; distance:len; sid:9;)"),
            Parsed::Ok(..)
        ));
        assert!(matches!(
            p("alert tcp any any -> any any (content:\"y\"; distance:nolen; sid:9;)"),
            Parsed::Error { .. }
        ));
        assert!(matches!(
            p("alert tcp any any -> any any (byte_test:1,=,1,0,dce; sid:9;)"),
            Parsed::Unsupported { .. }
        ));
        // Contents that cannot fit the dsize: an error, as Suricata.
        assert!(matches!(
            p("alert udp any any -> any any (dsize:6; content:\"boom\"; content:\"loom\"; distance:2; sid:3;)"),
            Parsed::Error { .. }
        ));
        assert!(matches!(
            p("alert udp any any -> any any (dsize:10; content:\"boom\"; content:\"loom\"; distance:-10; sid:4;)"),
            Parsed::Ok(..)
        ));
    }

    #[test]
    fn flow_dsize_itype_icode_flags() {
        let (r, _) = ok("alert tcp any any -> any any (flow:established,from_server; dsize:>150; flags:S,12; sid:1;)");
        assert_eq!(r.flow.dir, Some(Direction::ToClient));
        assert_eq!(r.flow.established, Some(true));
        assert_eq!(r.dsize, Some(NumTest::Gt(150)));
        let f = r.flags.unwrap();
        assert!(f.matches(0x02) && f.matches(0x02 | 0xc0) && !f.matches(0x12));
        let (r, _) = ok("alert icmp any any -> any any (itype:10<>20; icode:<5; sid:1;)");
        assert_eq!(r.itype, Some(NumTest::Between(10, 20)));
        assert_eq!(r.icode, Some(NumTest::Lt(5)));
        assert!(parse_num_test("5<>3", 255).is_err());
        assert!(parse_num_test("300", 255).is_err());
        assert_eq!(parse_num_test("!4", 255), Ok(NumTest::Ne(4)));
        assert_eq!(parse_num_test("!= 0", 255), Ok(NumTest::Ne(0)));
        assert_eq!(parse_num_test(">=4", 255), Ok(NumTest::Ge(4)));
        let f = parse_flags("+SA").unwrap();
        assert!(f.matches(0x12 | 0x08) && !f.matches(0x02));
        let f = parse_flags("!R").unwrap();
        assert!(f.matches(0x02) && !f.matches(0x04));
        let f = parse_flags("*FR").unwrap();
        assert!(f.matches(0x04) && !f.matches(0x02));
        assert!(parse_flags("SX").is_err());
    }

    #[test]
    fn kinds_and_scope() {
        let (r, m) =
            ok("alert ssh any any -> any any (ssh.software; content:\"libssh\"; nocase; sid:1;)");
        assert_eq!(r.kind, Kind::Tx);
        assert!(m.flow_scope);
        assert_eq!(r.ssh[SshBuf::Software.index()].len(), 1);
        let (r, _) = ok("alert ssh any any -> any any (ssh_proto; content:\"PUTTY\"; sid:1;)");
        assert_eq!((r.kind, r.ssh[SshBuf::Proto.index()].len()), (Kind::Tx, 1));
        let (r, _) = ok("alert ssh any any -> any any (ssh.protoversion:2_compat; ssh.softwareversion:OpenSSH; sid:1;)");
        assert_eq!(
            r.ssh_legacy,
            vec![
                SshLegacy::ProtoCompat2,
                SshLegacy::SoftwarePrefix("OpenSSH".into())
            ]
        );
        let (r, m) = ok("alert tcp any any -> any any (content:\"x\"; sid:1;)");
        assert_eq!(r.kind, Kind::Payload);
        assert!(m.flow_scope);
        let (r, m) = ok("alert tcp any any -> any any (dsize:12; content:\"x\"; sid:1;)");
        assert_eq!(r.kind, Kind::Packet);
        assert!(!m.flow_scope);
        let (r, m) = ok("pass ip 192.0.2.1 any -> any any (sid:1;)");
        assert_eq!(r.kind, Kind::Packet);
        assert!(m.flow_scope);
        assert!(matches!(
            p("alert ssh any any -> any any (content:\"a\"; ssh.software; content:\"b\"; sid:1;)"),
            Parsed::Unsupported { .. }
        ));
    }
}
