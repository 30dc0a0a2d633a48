//! The `pcre` keyword, mapped onto the `regex` crate (byte regexes, no
//! Unicode), which covers the common PCRE subset. Backreferences,
//! lookaround, atomic groups, possessive quantifiers and other syntax the
//! `regex` crate rejects make the rule unsupported (skipped with a warning)
//! rather than invalid.

use regex::bytes::{Regex, RegexBuilder};

/// Compiled program size limit per pcre (the `regex` crate's own limit is
/// 10 MiB; ET rules need far less).
const SIZE_LIMIT: usize = 2 << 20;

/// A compiled `pcre` option.
#[derive(Debug, Clone)]
pub struct Pcre {
    pub re: Regex,
    pub negated: bool,
    /// `R`: matching starts where the previous content/pcre match ended.
    pub relative: bool,
    /// The option value as written, for messages.
    pub source: String,
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
    let mut b = RegexBuilder::new(&pattern);
    b.unicode(false)
        .size_limit(SIZE_LIMIT)
        .case_insensitive(flags.contains('i'))
        .dot_matches_new_line(flags.contains('s'))
        .multi_line(flags.contains('m'))
        .ignore_whitespace(flags.contains('x'))
        .swap_greed(flags.contains('G'));
    let re = b.build().map_err(|e| {
        PcreError::Unsupported(format!(
            "pcre syntax not supported: {}",
            first_line(&e.to_string())
        ))
    })?;
    Ok(Pcre {
        re,
        negated,
        relative,
        source: v.trim().to_string(),
    })
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
        assert!(p.re.is_match(b"6.1") && !p.re.is_match(b"x6.1"));
        let p = parse("!\"/abc/i\"").unwrap();
        assert!(p.negated && p.re.is_match(b"xABCx"));
        let p = parse("\"/a.b/s\"").unwrap();
        assert!(p.re.is_match(b"a\nb"));
        let p = parse("\"/a.b/\"").unwrap();
        assert!(!p.re.is_match(b"a\nb"));
        let p = parse("\"/^x/m\"").unwrap();
        assert!(p.re.is_match(b"a\nx"));
        let p = parse("\"/x/A\"").unwrap();
        assert!(p.re.is_match(b"xy") && !p.re.is_match(b"yx"));
        let p = parse("\"/a b # c\n/x\"").unwrap();
        assert!(p.re.is_match(b"ab"));
        // Bytes, not UTF-8: \xff matches one raw byte.
        let p = parse("\"/\\xff\\x00\\/\\;/\"").unwrap();
        assert!(p.re.is_match(b"\xff\x00/;"));
    }

    #[test]
    fn unsupported_and_invalid() {
        for v in ["\"/(a)\\1/\"", "\"/a(?=b)/\"", "\"/abc/U\"", "\"/abc/H\""] {
            assert!(matches!(parse(v), Err(PcreError::Unsupported(_))), "{v}");
        }
        for v in ["abc", "\"abc\"", "\"/abc\""] {
            assert!(matches!(parse(v), Err(PcreError::Invalid(_))), "{v}");
        }
    }
}
