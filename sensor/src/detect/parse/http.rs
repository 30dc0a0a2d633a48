//! Rule options of HTTP transactions: sticky buffers, legacy content
//! modifiers, transforms, `urilen`, `bsize`, pcre buffer flags and the
//! file keywords (see [`crate::detect::http`]). A child of `parse`: it
//! extends the rule builder there.

use super::{bad, parse_num_test, unquote, Buf, Builder};
use crate::detect::content::{ContentList, ItemSpec};
use crate::detect::http::{FileTest, HttpBuf, HttpList, HttpRule, Transform};
use crate::detect::parse::ParseError;
use crate::detect::pcre::{self, PcreError};
use crate::detect::rule::NumTest;
use crate::packet::Direction;

/// One buffer's options while the rule is read.
#[derive(Debug)]
pub(super) struct ListSpec {
    buf: HttpBuf,
    transforms: Vec<Transform>,
    pub(super) items: Vec<ItemSpec>,
    bsize: Option<NumTest>,
}

/// The HTTP options of a rule being read.
#[derive(Debug, Default)]
pub(super) struct HttpSpecs {
    pub(super) lists: Vec<ListSpec>,
    urilen: Option<(NumTest, bool)>,
    files: Vec<FileTest>,
}

impl HttpSpecs {
    pub(super) fn is_empty(&self) -> bool {
        self.lists.is_empty() && self.urilen.is_none() && self.files.is_empty()
    }

    /// The list of `buf` without transforms (created if needed).
    fn plain_list(&mut self, buf: HttpBuf) -> usize {
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

    /// Builds the rule part.
    pub(super) fn build(self, flow_dir: Option<Direction>) -> Result<HttpRule, String> {
        let mut lists = Vec::with_capacity(self.lists.len());
        for l in self.lists {
            lists.push(HttpList {
                buf: l.buf,
                transforms: l.transforms,
                contents: ContentList::build_items(l.items)?,
                bsize: l.bsize,
            });
        }
        Ok(HttpRule::new(lists, self.urilen, self.files, flow_dir))
    }
}

/// `"/re/flags"` (optionally `!"..."`) split at the flags: the value with
/// the HTTP buffer flags removed, and the buffer they name.
fn pcre_http_flags(v: &str) -> Option<(String, HttpBuf)> {
    let t = v.trim();
    let end_quote = t.rfind('"')?;
    let inner = t.get(..end_quote)?;
    let slash = inner.rfind('/')?;
    let flags = inner.get(slash + 1..)?;
    let mut buf = None;
    let mut kept = String::new();
    for f in flags.chars() {
        match HttpBuf::from_pcre_flag(f) {
            Some(b) => buf = Some(b),
            None => kept.push(f),
        }
    }
    let buf = buf?;
    let out = format!("{}{}{}", inner.get(..slash + 1)?, kept, t.get(end_quote..)?);
    Some((out, buf))
}

impl Builder {
    /// Handles an HTTP option; `None` when `k` is not one.
    pub(super) fn http_option(
        &mut self,
        k: &str,
        v: Option<&str>,
    ) -> Option<Result<(), ParseError>> {
        if let Some((buf, legacy)) = HttpBuf::from_keyword(k) {
            return Some(self.http_buffer(k, buf, legacy));
        }
        if let Some(t) = Transform::from_keyword(k) {
            if let Buf::Http(i) = self.buf {
                if let Some(l) = self.http.lists.get_mut(i) {
                    l.transforms.push(t);
                }
            } else {
                self.unsupported(&format!("{k} outside an HTTP buffer"));
            }
            return Some(Ok(()));
        }
        let need = |v: Option<&str>| -> Result<String, ParseError> {
            v.map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .ok_or_else(|| bad(k, "", "value missing"))
        };
        match k {
            "urilen" => Some((|| {
                let s = need(v)?;
                let (num, raw) = match s.split_once(',') {
                    Some((n, m)) => (n.trim().to_string(), m.trim() == "raw"),
                    None => (s.clone(), false),
                };
                let t = parse_num_test(&num, u64::from(u32::MAX)).map_err(|why| bad(k, &s, why))?;
                self.http.urilen = Some((t, raw));
                Ok(())
            })()),
            "bsize" => Some((|| {
                let s = need(v)?;
                let t = parse_num_test(&s, u64::from(u32::MAX)).map_err(|why| bad(k, &s, why))?;
                match self.buf {
                    Buf::Http(i) => {
                        if let Some(l) = self.http.lists.get_mut(i) {
                            l.bsize = Some(t);
                        }
                    }
                    _ => self.unsupported("bsize outside an HTTP buffer"),
                }
                Ok(())
            })()),
            "fileext" | "filename" => Some((|| {
                let s = need(v)?;
                let (neg, s2) = match s.strip_prefix('!') {
                    Some(r) => (true, r.trim()),
                    None => (false, s.as_str()),
                };
                let val = unquote(s2).into_bytes();
                self.http.files.push(if k == "fileext" {
                    FileTest::Ext(val, neg)
                } else {
                    FileTest::Name(val, neg)
                });
                Ok(())
            })()),
            "filesize" => Some((|| {
                let s = need(v)?;
                let t = parse_num_test(&s, u64::MAX).map_err(|why| bad(k, &s, why))?;
                self.http.files.push(FileTest::Size(t));
                Ok(())
            })()),
            // Legacy `uricontent:"x"`: `content:"x"; http_uri;` (the
            // modifiers after it apply to it; no sticky buffer is set).
            "uricontent" => Some((|| {
                let s = need(v)?;
                let (pattern, negated) =
                    crate::detect::content::parse_pattern(&s).map_err(|why| bad(k, &s, why))?;
                let i = self.http.plain_list(HttpBuf::Uri);
                if let Some(l) = self.http.lists.get_mut(i) {
                    l.items
                        .push(ItemSpec::Content(crate::detect::content::ContentSpec {
                            pattern,
                            negated,
                            ..Default::default()
                        }));
                }
                self.last = Some(Buf::Http(i));
                Ok(())
            })()),
            // Storing is optional; the rule still matches.
            "filestore" => Some(Ok(())),
            "pcre" => {
                let (stripped, buf) = pcre_http_flags(v?)?;
                let sticky = match self.buf {
                    Buf::Http(i) => self.http.lists.get(i).map(|l| l.buf),
                    _ => None,
                };
                // `http.response_body` is Suricata's `file_data` list, which
                // /Q names.
                let same = |a: HttpBuf| {
                    a == buf
                        || matches!(
                            (a, buf),
                            (HttpBuf::ResponseBody, HttpBuf::FileData)
                                | (HttpBuf::FileData, HttpBuf::ResponseBody)
                        )
                };
                if sticky.is_some_and(|b| !same(b)) {
                    // Suricata: "Expression seen with a sticky buffer still
                    // enabled"; the rule is rejected.
                    return Some(Err(bad(
                        k,
                        v.unwrap_or(""),
                        "an HTTP buffer flag (/U, /P, /H, ...) for another buffer than the \
                         active sticky buffer: drop the flag or name the buffer with its \
                         sticky keyword",
                    )));
                }
                Some(match pcre::parse(&stripped) {
                    Ok(p) => {
                        let i = self.http.plain_list(buf);
                        if let Some(l) = self.http.lists.get_mut(i) {
                            l.items.push(ItemSpec::Pcre(Box::new(p)));
                        }
                        self.last = Some(Buf::Http(i));
                        Ok(())
                    }
                    Err(PcreError::Invalid(why)) => Err(bad(k, &stripped, why)),
                    Err(PcreError::Unsupported(what)) => {
                        self.unsupported(&what);
                        Ok(())
                    }
                })
            }
            _ => None,
        }
    }

    fn http_buffer(&mut self, k: &str, buf: HttpBuf, legacy: bool) -> Result<(), ParseError> {
        if !legacy {
            // A sticky buffer: contents that follow go to it.
            let i = self.http.plain_list(buf);
            // A buffer named again after transforms gets its own list.
            self.buf = Buf::Http(i);
            return Ok(());
        }
        // A legacy modifier: moves the previous content to the buffer.
        let Some(from) = self.last else {
            return Err(ParseError::ModifierWithoutContent(k.to_string()));
        };
        let item = match self.list(from).pop() {
            Some(ItemSpec::Content(c)) => ItemSpec::Content(c),
            Some(other) => {
                self.list(from).push(other);
                return Err(ParseError::ModifierWithoutContent(k.to_string()));
            }
            None => return Err(ParseError::ModifierWithoutContent(k.to_string())),
        };
        let i = self.http.plain_list(buf);
        if let Some(l) = self.http.lists.get_mut(i) {
            l.items.push(item);
        }
        self.last = Some(Buf::Http(i));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pcre_flags() {
        assert_eq!(
            pcre_http_flags(r#""/\/a\.php$/Ui""#).unwrap(),
            (r#""/\/a\.php$/i""#.to_string(), HttpBuf::Uri)
        );
        assert!(pcre_http_flags(r#""/x/i""#).is_none());
    }
}
