//! Rule options of TLS transactions: sticky buffers, their transforms and
//! `bsize`, and the TLS keywords with values (see [`crate::detect::tls`]).
//! A child of `parse`: it extends the rule builder there.

use super::{bad, parse_num_test, unquote, Buf, Builder};
use crate::app::tls::version;
use crate::detect::content::{ContentList, ItemSpec};
use crate::detect::http::Transform;
use crate::detect::parse::ParseError;
use crate::detect::rule::NumTest;
use crate::detect::tls::{ssl_state, ssl_version_bit, DateTest, TlsBuf, TlsList, TlsRule, TlsTest};
use crate::packet::Direction;

/// One buffer's options while the rule is read.
#[derive(Debug)]
pub(super) struct ListSpec {
    buf: TlsBuf,
    transforms: Vec<Transform>,
    pub(super) items: Vec<ItemSpec>,
    bsize: Option<NumTest>,
}

/// The TLS options of a rule being read.
#[derive(Debug, Default)]
pub(super) struct TlsSpecs {
    pub(super) lists: Vec<ListSpec>,
    tests: Vec<TlsTest>,
    /// `tls.store`: a match asks the `tls-store` output to write the
    /// server's certificates (not a condition of the rule).
    pub(super) store: bool,
}

impl TlsSpecs {
    pub(super) fn is_empty(&self) -> bool {
        self.lists.is_empty() && self.tests.is_empty()
    }

    /// Builds the rule part.
    pub(super) fn build(self, flow_dir: Option<Direction>) -> Result<TlsRule, String> {
        let mut lists = Vec::with_capacity(self.lists.len());
        for l in self.lists {
            lists.push(TlsList {
                buf: l.buf,
                transforms: l.transforms,
                contents: ContentList::build_items(l.items)?,
                bsize: l.bsize,
            });
        }
        Ok(TlsRule::new(lists, self.tests, flow_dir))
    }
}

/// `tls.version` values: `1.0`..`1.3`, `3.0` (SSLv3), or a raw `0x....`.
fn parse_tls_version(v: &str) -> Option<TlsTest> {
    let v = unquote(v.trim());
    if let Some(hex) = v.strip_prefix("0x").or_else(|| v.strip_prefix("0X")) {
        let n = u16::from_str_radix(hex, 16).ok()?;
        return Some(TlsTest::Version {
            version: n,
            raw: true,
        });
    }
    let version = match v.as_str() {
        "1.0" => version::TLS_10,
        "1.1" => version::TLS_11,
        "1.2" => version::TLS_12,
        "1.3" => version::TLS_13,
        "3.0" => version::SSL_V3,
        _ => return None,
    };
    Some(TlsTest::Version {
        version,
        raw: false,
    })
}

fn parse_ssl_version(v: &str) -> Option<TlsTest> {
    let (mut any, mut negated) = (0u8, 0u8);
    for part in v.split(',') {
        let p = part.trim();
        let (neg, name) = match p.strip_prefix('!') {
            Some(n) => (true, n.trim()),
            None => (false, p),
        };
        let ver = match name.to_ascii_lowercase().as_str() {
            "sslv2" => version::SSL_V2,
            "sslv3" => version::SSL_V3,
            "tls1.0" => version::TLS_10,
            "tls1.1" => version::TLS_11,
            "tls1.2" => version::TLS_12,
            "tls1.3" => version::TLS_13,
            _ => return None,
        };
        let bit = ssl_version_bit(ver);
        any |= bit;
        if neg {
            negated |= bit;
        }
    }
    Some(TlsTest::SslVersion { any, negated })
}

fn parse_ssl_state(v: &str) -> Option<TlsTest> {
    let (mut set, mut unset) = (0u8, 0u8);
    for part in v.split('|') {
        let p = part.trim();
        let (neg, name) = match p.strip_prefix('!') {
            Some(n) => (true, n.trim()),
            None => (false, p),
        };
        let bit = match name {
            "client_hello" => ssl_state::CLIENT_HELLO,
            "server_hello" => ssl_state::SERVER_HELLO,
            "client_keyx" => ssl_state::CLIENT_KEYX,
            "server_keyx" => ssl_state::SERVER_KEYX,
            "unknown" => ssl_state::UNKNOWN,
            _ => return None,
        };
        if neg {
            unset |= bit;
        } else {
            set |= bit;
        }
    }
    Some(TlsTest::SslState { set, unset })
}

/// Seconds since the epoch of `YYYY[-MM[-DD[ HH:MM[:SS]]]]` (UTC) or a
/// plain epoch number.
fn parse_date(s: &str) -> Option<i64> {
    let s = s.trim();
    if s.len() > 4 && s.chars().all(|c| c.is_ascii_digit()) {
        return s.parse().ok();
    }
    let (date, time) = match s.split_once([' ', 'T']) {
        Some((d, t)) => (d, Some(t)),
        None => (s, None),
    };
    let mut d = date.split('-');
    let y: i64 = d.next()?.parse().ok()?;
    let m: i64 = d.next().map_or(Ok(1), str::parse).ok()?;
    let day: i64 = d.next().map_or(Ok(1), str::parse).ok()?;
    if !(1..=12).contains(&m) || !(1..=31).contains(&day) || d.next().is_some() {
        return None;
    }
    let mut secs = 0i64;
    if let Some(t) = time {
        let mut p = t.split(':');
        let h: i64 = p.next()?.parse().ok()?;
        let mi: i64 = p.next().map_or(Ok(0), str::parse).ok()?;
        let se: i64 = p.next().map_or(Ok(0), str::parse).ok()?;
        secs = h * 3600 + mi * 60 + se;
    }
    Some(days_from_civil(y, m, day) * 86_400 + secs)
}

/// Days since 1970-01-01 of a civil date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn parse_date_test(v: &str) -> Option<DateTest> {
    let v = unquote(v.trim());
    let v = v.trim();
    if let Some((a, b)) = v.split_once("<>") {
        return Some(DateTest::Between(parse_date(a)?, parse_date(b)?));
    }
    if let Some(r) = v.strip_prefix('<') {
        return Some(DateTest::Lt(parse_date(r)?));
    }
    if let Some(r) = v.strip_prefix('>') {
        return Some(DateTest::Gt(parse_date(r)?));
    }
    Some(DateTest::Eq(parse_date(v)?))
}

impl Builder {
    /// Handles a TLS option; `None` when `k` is not one.
    pub(super) fn tls_option(
        &mut self,
        k: &str,
        v: Option<&str>,
    ) -> Option<Result<(), ParseError>> {
        if let Some(buf) = TlsBuf::from_keyword(k) {
            self.buf = Buf::Tls(self.tls.list(buf));
            return Some(Ok(()));
        }
        if let Buf::Tls(i) = self.buf {
            if let Some(t) = Transform::from_keyword(k) {
                if let Some(l) = self.tls.lists.get_mut(i) {
                    l.transforms.push(t);
                }
                return Some(Ok(()));
            }
            if k == "bsize" {
                return Some((|| {
                    let s = v.map(str::trim).unwrap_or("");
                    let t = parse_num_test(s, u64::from(u32::MAX)).map_err(|why| bad(k, s, why))?;
                    if let Some(l) = self.tls.lists.get_mut(i) {
                        l.bsize = Some(t);
                    }
                    Ok(())
                })());
            }
        }
        let value = || -> Result<&str, ParseError> {
            v.map(str::trim)
                .filter(|s| !s.is_empty())
                .ok_or_else(|| bad(k, "", "value missing"))
        };
        let test = |r: Option<TlsTest>, why: &str| -> Result<TlsTest, ParseError> {
            r.ok_or_else(|| bad(k, v.unwrap_or(""), why))
        };
        let r = match k {
            "tls.version" => value().and_then(|s| test(parse_tls_version(s), "expected 1.0, 1.1, 1.2, 1.3, 3.0 or 0xNNNN")),
            "ssl_version" => value().and_then(|s| test(parse_ssl_version(s), "expected sslv2, sslv3, tls1.0, tls1.1, tls1.2 or tls1.3 (comma-separated, `!` to negate)")),
            "ssl_state" => value().and_then(|s| test(parse_ssl_state(s), "expected client_hello, server_hello, client_keyx, server_keyx or unknown (`|`-separated, `!` to negate)")),
            "tls.subject" | "tls.issuerdn" => value().map(|s| {
                let (neg, s) = match s.strip_prefix('!') {
                    Some(r) => (true, r.trim()),
                    None => (false, s),
                };
                let p = unquote(s).into_bytes();
                if k == "tls.subject" {
                    TlsTest::Subject(p, neg)
                } else {
                    TlsTest::IssuerDn(p, neg)
                }
            }),
            "tls.fingerprint" => value().map(|s| TlsTest::Fingerprint(unquote(s))),
            "tls.cert_chain_len" => value().and_then(|s| {
                parse_num_test(s, u64::from(u32::MAX))
                    .map(TlsTest::ChainLen)
                    .map_err(|why| bad(k, s, why))
            }),
            "tls_cert_notbefore" | "tls_cert_notafter" => value().and_then(|s| {
                let d = test(
                    parse_date_test(s).map(|d| {
                        if k == "tls_cert_notbefore" {
                            TlsTest::NotBefore(d)
                        } else {
                            TlsTest::NotAfter(d)
                        }
                    }),
                    "expected a date (YYYY[-MM[-DD[ HH:MM[:SS]]]]) with <, > or <>",
                )?;
                Ok(d)
            }),
            "tls_cert_expired" => Ok(TlsTest::Expired),
            "tls_cert_valid" => Ok(TlsTest::Valid),
            // Certificate storing: the rule's matches ask the `tls-store`
            // output for the flow's certificates (see RuleMeta::tls_store).
            "tls.store" | "tls_store" => {
                self.tls.store = true;
                return Some(Ok(()));
            }
            _ => return None,
        };
        Some(r.map(|t| self.tls.tests.push(t)))
    }
}

impl TlsSpecs {
    /// The list of `buf` without transforms (created if needed).
    fn list(&mut self, buf: TlsBuf) -> usize {
        if let Some(i) = self
            .lists
            .iter()
            .position(|l| l.buf == buf && l.transforms.is_empty())
        {
            return i;
        }
        self.lists.push(ListSpec {
            buf,
            transforms: Vec::new(),
            items: Vec::new(),
            bsize: None,
        });
        self.lists.len() - 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_versions() {
        assert_eq!(parse_date("2015-02-12 18:07:27"), Some(1_423_764_447));
        assert_eq!(parse_date("1970"), Some(0));
        assert_eq!(parse_date("1969-12-31"), Some(-86_400));
        assert_eq!(parse_date("2015-13"), None);
        assert_eq!(
            parse_date_test(">2015"),
            Some(DateTest::Gt(parse_date("2015-01-01").unwrap()))
        );
        assert_eq!(
            parse_tls_version("1.2"),
            Some(TlsTest::Version {
                version: version::TLS_12,
                raw: false
            })
        );
        assert!(parse_ssl_version("tls1.2,!sslv2").is_some());
        assert!(parse_ssl_version("tls9").is_none());
        assert_eq!(
            parse_ssl_state("client_hello|!server_hello"),
            Some(TlsTest::SslState {
                set: ssl_state::CLIENT_HELLO,
                unset: ssl_state::SERVER_HELLO
            })
        );
    }
}
