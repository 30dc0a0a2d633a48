//! TLS transaction detection: the TLS sticky buffers (`tls.sni`,
//! `tls.cert_*`, `tls.certs`, `ja3.*`, `ja3s.*`, `tls.random*`, ...) and
//! the TLS keywords with values (`tls.version`, `ssl_version`,
//! `ssl_state`, `tls.subject`/`tls.issuerdn`/`tls.fingerprint`,
//! `tls.cert_chain_len`, `tls_cert_notbefore`/`notafter`/`expired`/
//! `valid`), matched against a flow's [`TlsState`] in one direction.
//!
//! A rule with any of these is a transaction rule bound to app_proto tls.
//! It is inspected where the TLS parser marked new handshake data of a
//! direction ([`TlsState::marks`]), once the data it reads exists at that
//! stage (the hello for SNI/JA3/random, the Certificate message for the
//! certificate buffers, as Suricata's per-buffer progress), and fires at
//! most once per direction of the flow. Candidates come from one
//! multi-pattern scan per (buffer, transforms) over the rules' fast
//! patterns ([`TlsIndex`]); rules without one are always candidates.

use super::content::ContentList;
use super::http::Transform;
use super::prefilter::{PatternSet, ScanScratch};
use super::rule::NumTest;
use crate::app::tls::{version, TlsSide, TlsState};
use crate::packet::Direction;

/// One TLS buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TlsBuf {
    Sni,
    CertSubject,
    CertIssuer,
    CertSerial,
    CertFingerprint,
    /// `tls.certs`: each certificate of the chain (DER), one at a time.
    Certs,
    /// `tls.subjectaltname`: each SAN, one at a time.
    SubjectAltName,
    Ja3Hash,
    Ja3String,
    Ja3sHash,
    Ja3sString,
    Random,
    RandomTime,
    RandomBytes,
}

impl TlsBuf {
    /// The sticky-buffer keyword naming a buffer.
    pub fn from_keyword(k: &str) -> Option<TlsBuf> {
        use TlsBuf::*;
        Some(match k {
            "tls.sni" | "tls_sni" => Sni,
            "tls.cert_subject" | "tls_cert_subject" => CertSubject,
            "tls.cert_issuer" | "tls_cert_issuer" => CertIssuer,
            "tls.cert_serial" | "tls_cert_serial" => CertSerial,
            "tls.cert_fingerprint" | "tls_cert_fingerprint" => CertFingerprint,
            "tls.certs" => Certs,
            "tls.subjectaltname" => SubjectAltName,
            "ja3.hash" | "ja3_hash" => Ja3Hash,
            "ja3.string" => Ja3String,
            "ja3s.hash" => Ja3sHash,
            "ja3s.string" => Ja3sString,
            "tls.random" => Random,
            "tls.random_time" => RandomTime,
            "tls.random_bytes" => RandomBytes,
            _ => return None,
        })
    }

    /// The only direction the buffer exists in, if one-sided.
    pub fn side(self) -> Option<Direction> {
        use TlsBuf::*;
        match self {
            Sni | Ja3Hash | Ja3String => Some(Direction::ToServer),
            Ja3sHash | Ja3sString => Some(Direction::ToClient),
            _ => None,
        }
    }

    /// A JA3 buffer (JA3 fingerprints are then logged with `auto`).
    pub fn is_ja3(self) -> bool {
        use TlsBuf::*;
        matches!(self, Ja3Hash | Ja3String | Ja3sHash | Ja3sString)
    }

    fn is_cert(self) -> bool {
        use TlsBuf::*;
        matches!(
            self,
            CertSubject | CertIssuer | CertSerial | CertFingerprint | Certs | SubjectAltName
        )
    }

    /// The data of this buffer exists (or never will) at this side's
    /// stage.
    fn ready(self, s: &TlsSide) -> bool {
        if self.is_cert() {
            cert_ready(s)
        } else {
            s.hello
        }
    }

    /// Calls `f` with each value of the buffer in `s` (one for most
    /// buffers) until it returns true. None: the side has no such value.
    fn each(self, s: &TlsSide, mut f: impl FnMut(&[u8]) -> bool) -> Option<bool> {
        use TlsBuf::*;
        let c0 = s.cert0.as_ref();
        let one = |v: Option<&[u8]>, f: &mut dyn FnMut(&[u8]) -> bool| v.map(f);
        match self {
            Sni => one(s.sni.as_deref(), &mut f),
            CertSubject => one(c0.map(|c| c.subject.as_bytes()), &mut f),
            CertIssuer => one(c0.map(|c| c.issuer.as_bytes()), &mut f),
            CertSerial => one(c0.map(|c| c.serial.as_bytes()), &mut f),
            CertFingerprint => one(c0.map(|c| c.fingerprint.as_bytes()), &mut f),
            Ja3Hash => one(s.ja3.as_ref().map(|j| j.hash.as_bytes()), &mut f),
            Ja3String => one(s.ja3.as_ref().map(|j| j.string.as_bytes()), &mut f),
            Ja3sHash => one(s.ja3.as_ref().map(|j| j.hash.as_bytes()), &mut f),
            Ja3sString => one(s.ja3.as_ref().map(|j| j.string.as_bytes()), &mut f),
            Random => one(s.random.as_ref().map(|r| &r[..]), &mut f),
            RandomTime => one(s.random.as_ref().and_then(|r| r.get(..4)), &mut f),
            RandomBytes => one(s.random.as_ref().and_then(|r| r.get(4..)), &mut f),
            Certs => (!s.certs.is_empty()).then(|| s.certs.iter().any(|c| f(c))),
            SubjectAltName => {
                let sans = &c0?.sans;
                (!sans.is_empty()).then(|| sans.iter().any(|n| f(n.as_bytes())))
            }
        }
    }
}

/// The side's Certificate message was parsed (Suricata's `CERT_DONE`
/// progress; a side that never sends one is never inspected for it).
fn cert_ready(s: &TlsSide) -> bool {
    s.cert_msg
}

/// One buffer's tests in a rule.
#[derive(Debug)]
pub struct TlsList {
    pub buf: TlsBuf,
    pub transforms: Vec<Transform>,
    pub contents: ContentList,
    pub bsize: Option<NumTest>,
}

/// A comparison of a certificate date (`tls_cert_notbefore`/`notafter`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateTest {
    Eq(i64),
    Lt(i64),
    Gt(i64),
    Between(i64, i64),
}

impl DateTest {
    fn matches(self, t: i64) -> bool {
        match self {
            DateTest::Eq(a) => t == a,
            DateTest::Lt(a) => t < a,
            DateTest::Gt(a) => t > a,
            DateTest::Between(a, b) => t > a && t < b,
        }
    }
}

/// The `ssl_state` flags.
pub mod ssl_state {
    pub const CLIENT_HELLO: u8 = 1;
    pub const SERVER_HELLO: u8 = 2;
    pub const CLIENT_KEYX: u8 = 4;
    pub const SERVER_KEYX: u8 = 8;
    pub const UNKNOWN: u8 = 16;
}

/// A TLS keyword with a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsTest {
    /// `tls.version`: the direction's version (drafts count as 1.3 unless
    /// `raw`).
    Version {
        version: u16,
        raw: bool,
    },
    /// `ssl_version`: versions (bit per [`ssl_version_bit`]) and which are
    /// negated.
    SslVersion {
        any: u8,
        negated: u8,
    },
    /// `ssl_state`: the flags that must be set, and those that must not.
    SslState {
        set: u8,
        unset: u8,
    },
    /// `tls.subject` / `tls.issuerdn` (legacy): the server certificate's
    /// subject/issuer contains this (or not).
    Subject(Vec<u8>, bool),
    IssuerDn(Vec<u8>, bool),
    /// `tls.fingerprint` (legacy): equal, ignoring case.
    Fingerprint(String),
    ChainLen(NumTest),
    NotBefore(DateTest),
    NotAfter(DateTest),
    Expired,
    Valid,
}

/// The bit of a version in `ssl_version` masks.
pub fn ssl_version_bit(v: u16) -> u8 {
    match v {
        version::SSL_V2 => 1,
        version::SSL_V3 => 2,
        version::TLS_10 => 4,
        version::TLS_11 => 8,
        version::TLS_12 => 16,
        v if v == version::TLS_13 || version::is_13_draft(v) => 32,
        _ => 0,
    }
}

impl TlsTest {
    fn is_cert(&self) -> bool {
        !matches!(
            self,
            TlsTest::Version { .. } | TlsTest::SslVersion { .. } | TlsTest::SslState { .. }
        )
    }

    fn server_only(&self) -> bool {
        matches!(
            self,
            TlsTest::Subject(..) | TlsTest::IssuerDn(..) | TlsTest::Fingerprint(_)
        )
    }

    fn matches(&self, t: &TlsState, s: &TlsSide, now: i64) -> bool {
        let c0 = s.cert0.as_ref();
        match self {
            TlsTest::Version { version: v, raw } => {
                let mut have = s.version;
                if !raw && version::is_13_draft(have) {
                    have = version::TLS_13;
                }
                have == *v
            }
            TlsTest::SslVersion { any, negated } => {
                let bit = ssl_version_bit(s.version);
                if any & !negated != 0 {
                    bit & any & !negated != 0
                } else {
                    bit & negated == 0
                }
            }
            TlsTest::SslState { set, unset } => {
                let mut have = 0;
                for (on, b) in [
                    (t.client_hello, ssl_state::CLIENT_HELLO),
                    (t.server_hello, ssl_state::SERVER_HELLO),
                    (t.client_keyx, ssl_state::CLIENT_KEYX),
                    (t.server_keyx, ssl_state::SERVER_KEYX),
                ] {
                    if on {
                        have |= b;
                    }
                }
                if have == 0 {
                    have = ssl_state::UNKNOWN;
                }
                have & set == *set && have & unset == 0
            }
            TlsTest::Subject(p, neg) => c0
                .is_some_and(|c| (memchr::memmem::find(c.subject.as_bytes(), p).is_some()) != *neg),
            TlsTest::IssuerDn(p, neg) => {
                c0.is_some_and(|c| (memchr::memmem::find(c.issuer.as_bytes(), p).is_some()) != *neg)
            }
            TlsTest::Fingerprint(f) => c0.is_some_and(|c| c.fingerprint.eq_ignore_ascii_case(f)),
            TlsTest::ChainLen(n) => n.matches(s.certs.len() as u64),
            TlsTest::NotBefore(d) => c0.is_some_and(|c| d.matches(c.not_before)),
            TlsTest::NotAfter(d) => c0.is_some_and(|c| d.matches(c.not_after)),
            TlsTest::Expired => c0.is_some_and(|c| c.not_after < now),
            TlsTest::Valid => c0.is_some_and(|c| c.not_before <= now && c.not_after >= now),
        }
    }
}

/// The TLS part of a rule.
#[derive(Debug)]
pub struct TlsRule {
    pub lists: Vec<TlsList>,
    pub tests: Vec<TlsTest>,
    /// The direction the rule inspects (`None`: either).
    pub dir: Option<Direction>,
}

impl TlsRule {
    /// Decides the direction from the buffers used and the rule's `flow`
    /// direction.
    pub fn new(lists: Vec<TlsList>, tests: Vec<TlsTest>, flow_dir: Option<Direction>) -> TlsRule {
        let sided = lists.iter().find_map(|l| l.buf.side());
        let server_only = tests.iter().any(TlsTest::server_only);
        let dir = sided
            .or(server_only.then_some(Direction::ToClient))
            .or(flow_dir);
        TlsRule { lists, tests, dir }
    }

    /// Some buffer reads JA3.
    pub fn uses_ja3(&self) -> bool {
        self.lists.iter().any(|l| l.buf.is_ja3())
    }

    /// Everything the rule reads exists (or never will) in direction
    /// `dir`'s side.
    pub fn ready(&self, t: &TlsState, dir: Direction) -> bool {
        let s = t.side(dir);
        self.lists.iter().all(|l| l.buf.ready(s))
            && self
                .tests
                .iter()
                .all(|x| if x.is_cert() { cert_ready(s) } else { s.seen() })
    }

    /// The prefilter key of the rule: its first list with a fast pattern.
    fn fast(&self) -> Option<(usize, &[u8], bool)> {
        self.lists.iter().enumerate().find_map(|(i, l)| {
            let (p, nocase) = l.contents.fast_pattern()?;
            Some((i, p, nocase))
        })
    }
}

/// Scratch buffers, kept per thread.
#[derive(Debug, Default)]
pub struct Scratch {
    buf: Vec<u8>,
    lower: Vec<u8>,
    tmp: Vec<u8>,
    pub scan: ScanScratch,
    pub cand: Vec<u32>,
}

fn transformed<'s>(
    v: &[u8],
    ts: &[Transform],
    buf: &'s mut Vec<u8>,
    tmp: &mut Vec<u8>,
) -> &'s [u8] {
    buf.clear();
    buf.extend_from_slice(v);
    for t in ts {
        t.apply(buf, tmp);
    }
    buf
}

fn list_matches(l: &TlsList, v: &[u8], s: &mut Scratch) -> bool {
    let Scratch {
        buf, lower, tmp, ..
    } = s;
    let b = transformed(v, &l.transforms, buf, tmp);
    if let Some(n) = l.bsize {
        if !n.matches(b.len() as u64) {
            return false;
        }
    }
    if l.contents.is_empty() {
        return true;
    }
    lower.clear();
    let low: &[u8] = if l.contents.needs_lower() {
        lower.extend(b.iter().map(u8::to_ascii_lowercase));
        lower
    } else {
        b
    };
    l.contents.matches(b, low, 0)
}

/// The TLS part of `rule` matches the flow's TLS state in direction `dir`
/// (`now`: packet time, seconds, for `tls_cert_expired`/`valid`).
pub fn matches(rule: &TlsRule, t: &TlsState, dir: Direction, now: i64, s: &mut Scratch) -> bool {
    let side = t.side(dir);
    if !rule.tests.iter().all(|x| x.matches(t, side, now)) {
        return false;
    }
    for l in &rule.lists {
        match l.buf.each(side, |v| list_matches(l, v, s)) {
            Some(true) => {}
            _ => return false,
        }
    }
    true
}

/// The prefilter over the TLS rules: per (buffer, transforms), the fast
/// patterns of the rules that have one there.
#[derive(Debug, Default)]
pub struct TlsIndex {
    groups: Vec<(TlsBuf, Vec<Transform>, PatternSet)>,
    /// Rules without a fast pattern: always candidates.
    always: Vec<u32>,
}

impl TlsIndex {
    /// Builds the index of rules `(index, rule)`.
    pub fn build<'r>(rules: impl Iterator<Item = (u32, &'r TlsRule)>) -> TlsIndex {
        let mut keyed = Vec::new();
        let mut always = Vec::new();
        for (ri, r) in rules {
            let fast = r
                .fast()
                .and_then(|(li, pat, nocase)| Some((r.lists.get(li)?, pat, nocase)));
            match fast {
                Some((l, pat, nocase)) => {
                    keyed.push(((l.buf, l.transforms.clone()), ri, pat.to_vec(), nocase))
                }
                None => always.push(ri),
            }
        }
        let groups = PatternSet::keyed(keyed)
            .into_iter()
            .map(|((b, t), set)| (b, t, set))
            .collect();
        TlsIndex { groups, always }
    }

    /// Candidate rules for direction `dir`'s side, into `s.cand` (sorted,
    /// deduplicated).
    pub fn candidates(&self, t: &TlsState, dir: Direction, s: &mut Scratch) {
        s.cand.clear();
        s.cand.extend_from_slice(&self.always);
        let side = t.side(dir);
        let Scratch {
            buf,
            tmp,
            scan,
            cand,
            ..
        } = s;
        for (b, ts, set) in &self.groups {
            if b.side().is_some_and(|d| d != dir) || !b.ready(side) {
                continue;
            }
            b.each(side, |v| {
                let data = transformed(v, ts, buf, tmp);
                set.scan(data, scan, |r| cand.push(r));
                false
            });
        }
        cand.sort_unstable();
        cand.dedup();
    }
}
