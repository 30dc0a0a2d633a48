//! The `pcre` keyword, mapped onto the `regex` crate (byte regexes, no
//! Unicode), which covers the common PCRE subset. Patterns that need a
//! backtracking engine (backreferences, look-around, atomic groups,
//! possessive quantifiers) use `fancy-regex` on a Latin-1 view of the
//! buffer (one char per byte), with a bounded backtrack budget. Syntax
//! neither accepts makes the rule unsupported (skipped with a warning)
//! rather than invalid.
//!
//! Memory: a compiled program costs tens of KiB (ET Open has 7,000 pcre
//! options: about 200 MiB compiled), and most of them are never run,
//! because their rule's fast pattern never occurs. So loading compiles
//! each pattern to check it and keeps only the recipe; the program is
//! compiled again, once, the first time the rule is evaluated
//! ([`Pcre::re`]), and then shared by every thread.

use std::cell::RefCell;
use std::sync::OnceLock;

use regex::bytes::{Regex, RegexBuilder};

/// Compiled program size limit per pcre (the `regex` crate's own limit is
/// 10 MiB; ET rules need far less).
const SIZE_LIMIT: usize = 2 << 20;

/// Backtracking steps one fancy-regex search may take (PCRE's
/// `match-limit` is similar); past it the search counts as no match.
const BACKTRACK_LIMIT: usize = 100_000;

/// The compiled program.
#[derive(Debug, Clone)]
pub enum Re {
    Fast(Regex),
    /// Needs backtracking; runs on the buffer as Latin-1 text.
    Fancy(Box<fancy_regex::Regex>),
    /// Compiled at load but not the second time (cannot happen: the
    /// compilation is deterministic); matches nothing, logged once.
    Unavailable,
}

thread_local! {
    /// The Latin-1 text of the buffer a fancy regex last ran on.
    static LATIN1: RefCell<String> = const { RefCell::new(String::new()) };
}

impl Re {
    /// The first match at or after byte `start` of `hay`: `(start, end)`.
    pub fn find_at(&self, hay: &[u8], start: usize) -> Option<(usize, usize)> {
        match self {
            Re::Fast(r) => r.find_at(hay, start).map(|m| (m.start(), m.end())),
            Re::Fancy(r) => LATIN1.with(|t| {
                let mut t = t.borrow_mut();
                t.clear();
                t.extend(hay.iter().map(|&b| char::from(b)));
                // Byte index in `hay` -> index in the UTF-8 text.
                let to_text = |i: usize| {
                    i + hay
                        .get(..i)
                        .map_or(0, |h| h.iter().filter(|&&b| b >= 0x80).count())
                };
                let to_bytes = |i: usize| t.get(..i).map_or(0, |s| s.chars().count());
                let m = r.find_from_pos(&t, to_text(start)).ok()??;
                Some((to_bytes(m.start()), to_bytes(m.end())))
            }),
            Re::Unavailable => None,
        }
    }

    pub fn is_match(&self, hay: &[u8]) -> bool {
        self.find_at(hay, 0).is_some()
    }
}

/// How to compile a checked pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Recipe {
    /// The pattern as given to the engine.
    pattern: String,
    flags: String,
    /// `fancy-regex` instead of `regex`.
    fancy: bool,
}

impl Recipe {
    fn compile(&self) -> Result<Re, String> {
        if self.fancy {
            fancy(&self.pattern, &self.flags)
        } else {
            fast(&self.pattern, &self.flags)
                .map(Re::Fast)
                .map_err(|e| e.to_string())
        }
    }
}

/// A checked `pcre` option; its program is compiled on first use.
#[derive(Debug, Clone)]
pub struct Pcre {
    recipe: Recipe,
    re: OnceLock<Re>,
    pub negated: bool,
    /// `R`: matching starts where the previous content/pcre match ended.
    pub relative: bool,
    /// The option value as written, for messages.
    pub source: String,
}

impl Pcre {
    /// The compiled program (compiled now if this is its first use).
    pub fn re(&self) -> &Re {
        self.re.get_or_init(|| match self.recipe.compile() {
            Ok(re) => re,
            Err(e) => {
                tracing::error!(pcre = %self.source, error = %e, "pcre compiled at load but not now; it matches nothing");
                Re::Unavailable
            }
        })
    }

    /// The first match at or after byte `start` of `hay`: `(start, end)`.
    pub fn find_at(&self, hay: &[u8], start: usize) -> Option<(usize, usize)> {
        self.re().find_at(hay, start)
    }
}

/// Why a `pcre` value was not compiled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PcreError {
    /// Not of the form `"/regex/flags"`.
    Invalid(String),
    /// Valid, but uses a flag or syntax this engine does not support.
    Unsupported(String),
}

/// Parses a `pcre` value: optional `!`, then `"/regex/flags"`.
pub fn parse(v: &str) -> Result<Pcre, PcreError> {
    let t = v.trim();
    let (negated, t) = match t.strip_prefix('!') {
        Some(r) => (true, r.trim_start()),
        None => (false, t),
    };
    let inner = t
        .strip_prefix('"')
        .and_then(|r| r.strip_suffix('"'))
        .ok_or_else(|| PcreError::Invalid("expected a quoted \"/regex/flags\"".into()))?;
    let body = inner
        .strip_prefix('/')
        .ok_or_else(|| PcreError::Invalid("the regex must start with `/`".into()))?;
    let last = body
        .rfind('/')
        .ok_or_else(|| PcreError::Invalid("the regex must end with `/` before its flags".into()))?;
    let (pattern, flags) = (
        body.get(..last).unwrap_or(""),
        body.get(last + 1..).unwrap_or(""),
    );
    // Rule-level escapes of the option syntax.
    let pattern = pattern.replace("\\;", ";").replace("\\\"", "\"");
    let mut relative = false;
    let mut anchored = false;
    for f in flags.chars() {
        match f {
            'i' | 's' | 'm' | 'x' | 'G' => {}
            'R' => relative = true,
            'A' => anchored = true,
            // rawbytes, dollar-end-only (the regex crate's `$` already
            // matches only at the end), match-limit override: no effect.
            'B' | 'E' | 'O' => {}
            other => {
                return Err(PcreError::Unsupported(format!(
                    "pcre flag `{other}` (buffer or option not supported)"
                )))
            }
        }
    }
    // `A` anchors at the start of the inspected data, also in multi-line
    // mode.
    let pattern = if anchored {
        format!("\\A(?:{pattern})")
    } else {
        pattern
    };
    // Compiled here to check it; only the recipe is kept (module docs).
    let recipe = match fast(&pattern, flags) {
        Ok(_) => Recipe {
            pattern,
            flags: flags.to_string(),
            fancy: false,
        },
        Err(e) => {
            // PCRE spellings the Rust engines read differently.
            let compat = pcre_compat(&pattern);
            match compat.as_deref().map(|c| fast(c, flags)) {
                Some(Ok(_)) => Recipe {
                    pattern: compat.unwrap_or_default(),
                    flags: flags.to_string(),
                    fancy: false,
                },
                _ => {
                    let p = compat.unwrap_or(pattern);
                    if let Err(fe) = fancy(&p, flags) {
                        return Err(PcreError::Unsupported(format!(
                            "pcre syntax not supported: {} ({})",
                            first_line(&e.to_string()),
                            first_line(&fe)
                        )));
                    }
                    Recipe {
                        pattern: p,
                        flags: flags.to_string(),
                        fancy: true,
                    }
                }
            }
        }
    };
    Ok(Pcre {
        recipe,
        re: OnceLock::new(),
        negated,
        relative,
        source: v.trim().to_string(),
    })
}

/// Rewrites PCRE spellings the Rust engines parse differently, keeping
/// the meaning: a literal `[` inside a class (`[[a-z]` is `[` or a-z in
/// PCRE), `\xH` with one hex digit, `\g{N}`/`\gN` backreferences and
/// `(?P=name)`. None when nothing changed.
fn pcre_compat(p: &str) -> Option<String> {
    let b = p.as_bytes();
    let mut out = String::with_capacity(p.len() + 8);
    let (mut i, mut in_class, mut changed) = (0, false, false);
    let hex = |i: usize| b.get(i).is_some_and(u8::is_ascii_hexdigit);
    while let Some(&c) = b.get(i) {
        match c {
            b'\\' => {
                let n = b.get(i + 1).copied();
                if n == Some(b'x') && hex(i + 2) && !hex(i + 3) {
                    out.push_str("\\x0");
                    out.push(char::from(*b.get(i + 2)?));
                    changed = true;
                    i += 3;
                    continue;
                }
                if n == Some(b'g') && !in_class {
                    let rest = p.get(i + 2..)?;
                    let (digits, used) = match rest.strip_prefix('{') {
                        Some(r) => {
                            let d: String = r.chars().take_while(char::is_ascii_digit).collect();
                            let ok = r.get(d.len()..).is_some_and(|t| t.starts_with('}'));
                            (if ok { d.clone() } else { String::new() }, d.len() + 2)
                        }
                        None => {
                            let d: String = rest.chars().take_while(char::is_ascii_digit).collect();
                            (d.clone(), d.len())
                        }
                    };
                    if !digits.is_empty() {
                        out.push('\\');
                        out.push_str(&digits);
                        changed = true;
                        i += 2 + used;
                        continue;
                    }
                }
                out.push('\\');
                if let Some(n) = n {
                    // Multi-byte UTF-8 characters are copied whole below.
                    if n.is_ascii() {
                        out.push(char::from(n));
                        i += 2;
                        continue;
                    }
                }
                i += 1;
            }
            b'[' if in_class => {
                if b.get(i + 1) == Some(&b':') {
                    // A POSIX class `[:alpha:]`: copy it whole.
                    let end = p.get(i..).and_then(|r| r.find(":]"))?;
                    out.push_str(p.get(i..i + end + 2)?);
                    i += end + 2;
                } else {
                    out.push_str("\\[");
                    changed = true;
                    i += 1;
                }
            }
            b'[' => {
                in_class = true;
                out.push('[');
                i += 1;
                if b.get(i) == Some(&b'^') {
                    out.push('^');
                    i += 1;
                }
                if b.get(i) == Some(&b']') {
                    out.push_str("\\]");
                    changed = true;
                    i += 1;
                }
            }
            b']' if in_class => {
                in_class = false;
                out.push(']');
                i += 1;
            }
            b'(' if !in_class && p.get(i..).is_some_and(|r| r.starts_with("(?P=")) => {
                let r = p.get(i + 4..)?;
                let end = r.find(')')?;
                out.push_str("\\k<");
                out.push_str(r.get(..end)?);
                out.push('>');
                changed = true;
                i += 4 + end + 1;
            }
            _ => {
                let ch = p.get(i..)?.chars().next()?;
                out.push(ch);
                i += ch.len_utf8();
            }
        }
    }
    changed.then_some(out)
}

/// Compiles a pattern with the `regex` crate (bytes, no Unicode).
fn fast(pattern: &str, flags: &str) -> Result<Regex, regex::Error> {
    RegexBuilder::new(pattern)
        .unicode(false)
        .size_limit(SIZE_LIMIT)
        .case_insensitive(flags.contains('i'))
        .dot_matches_new_line(flags.contains('s'))
        .multi_line(flags.contains('m'))
        .ignore_whitespace(flags.contains('x'))
        .swap_greed(flags.contains('G'))
        .build()
}

/// Compiles a pattern the `regex` crate rejected with `fancy-regex`.
fn fancy(pattern: &str, flags: &str) -> Result<Re, String> {
    let mut inline = String::new();
    for (f, c) in [('i', 'i'), ('s', 's'), ('m', 'm'), ('x', 'x')] {
        if flags.contains(f) {
            inline.push(c);
        }
    }
    let full = if inline.is_empty() {
        pattern.to_string()
    } else {
        format!("(?{inline}){pattern}")
    };
    let re = fancy_regex::RegexBuilder::new(&full)
        .backtrack_limit(BACKTRACK_LIMIT)
        // The delegated parts run with Unicode classes (`\w{0,254}` is
        // large as an NFA): allow more than the byte engine's limit.
        .delegate_size_limit(8 * SIZE_LIMIT)
        .build()
        .map_err(|e| e.to_string())?;
    Ok(Re::Fancy(Box::new(re)))
}

fn first_line(s: &str) -> String {
    let l: Vec<&str> = s.lines().filter(|l| !l.trim().is_empty()).collect();
    l.last().copied().unwrap_or(s).trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_and_negation() {
        let p = parse("\"/^[67]\\.[01235]/R\"").unwrap();
        assert!(p.relative && !p.negated);
        assert!(p.re().is_match(b"6.1") && !p.re().is_match(b"x6.1"));
        let p = parse("!\"/abc/i\"").unwrap();
        assert!(p.negated && p.re().is_match(b"xABCx"));
        let p = parse("\"/a.b/s\"").unwrap();
        assert!(p.re().is_match(b"a\nb"));
        let p = parse("\"/a.b/\"").unwrap();
        assert!(!p.re().is_match(b"a\nb"));
        let p = parse("\"/^x/m\"").unwrap();
        assert!(p.re().is_match(b"a\nx"));
        let p = parse("\"/x/A\"").unwrap();
        assert!(p.re().is_match(b"xy") && !p.re().is_match(b"yx"));
        let p = parse("\"/a b # c\n/x\"").unwrap();
        assert!(p.re().is_match(b"ab"));
        // Bytes, not UTF-8: \xff matches one raw byte.
        let p = parse("\"/\\xff\\x00\\/\\;/\"").unwrap();
        assert!(p.re().is_match(b"\xff\x00/;"));
    }

    #[test]
    fn backtracking_patterns() {
        let p = parse("\"/(a.)\\1/\"").unwrap();
        assert!(matches!(p.re(), Re::Fancy(_)));
        assert_eq!(p.re().find_at(b"xxabab", 0), Some((2, 6)));
        assert_eq!(p.re().find_at(b"xxabac", 0), None);
        let p = parse("\"/a(?=b)/i\"").unwrap();
        assert_eq!(p.re().find_at(b"\xffaAB", 0), Some((2, 3)));
        assert_eq!(p.re().find_at(b"\xffaAB", 3), None);
        let p = parse("\"/(?<!x)\\xff/\"").unwrap();
        assert_eq!(p.re().find_at(b"x\xff\xe9\xff", 0), Some((3, 4)));
    }

    #[test]
    fn pcre_spellings() {
        assert_eq!(pcre_compat("a[[b]").as_deref(), Some("a[\\[b]"));
        assert_eq!(pcre_compat("[[:alpha:]x]"), None);
        assert_eq!(pcre_compat("[\\x22\\x2]").as_deref(), Some("[\\x22\\x02]"));
        assert_eq!(pcre_compat("(a)\\g{1}\\g1").as_deref(), Some("(a)\\1\\1"));
        assert_eq!(
            pcre_compat("(?P<v>a)(?P=v)").as_deref(),
            Some("(?P<v>a)\\k<v>")
        );
        assert_eq!(pcre_compat("[]a]").as_deref(), Some("[\\]a]"));
        assert_eq!(pcre_compat("plain\\x41é"), None);
        let p = parse("\"/^(ab)\\g{1}[\\x2]/\"").unwrap();
        assert!(p.re().is_match(b"abab\x02"));
        let p = parse("\"/(?P<v>[a-z]{2})-(?P=v)/i\"").unwrap();
        assert!(p.re().is_match(b"xab-ab") && !p.re().is_match(b"ab-cd"));
        let p = parse("\"/x[[y]/\"").unwrap();
        assert!(p.re().is_match(b"x[") && p.re().is_match(b"xy"));
    }

    #[test]
    fn unsupported_and_invalid() {
        for v in ["\"/abc/U\"", "\"/abc/H\"", "\"/(?<=a+)b/\""] {
            assert!(matches!(parse(v), Err(PcreError::Unsupported(_))), "{v}");
        }
        for v in ["abc", "\"abc\"", "\"/abc\""] {
            assert!(matches!(parse(v), Err(PcreError::Invalid(_))), "{v}");
        }
    }
}
