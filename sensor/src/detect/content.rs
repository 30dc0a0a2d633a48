//! `content` patterns and their modifiers, and the matcher that tests a
//! list of them against one buffer (with Suricata's relative matching and
//! backtracking).

use memchr::memmem;

use super::pcre::Pcre;

/// A `content` option while its modifiers are still being read.
#[derive(Debug, Clone, Default)]
pub struct ContentSpec {
    pub pattern: Vec<u8>,
    pub negated: bool,
    pub nocase: bool,
    pub offset: Option<u32>,
    pub depth: Option<u32>,
    pub distance: Option<i32>,
    pub within: Option<u32>,
    pub startswith: bool,
    pub endswith: bool,
    pub fast_pattern: bool,
}

/// A compiled content: pattern (lowercased when `nocase`) and its finder.
#[derive(Debug, Clone)]
pub struct Content {
    pub spec: ContentSpec,
    finder: memmem::Finder<'static>,
}

impl Content {
    fn relative(&self) -> bool {
        self.spec.distance.is_some() || self.spec.within.is_some()
    }

    fn len(&self) -> usize {
        self.spec.pattern.len()
    }
}

/// One entry of a buffer's match list as parsed.
#[derive(Debug, Clone)]
pub enum ItemSpec {
    Content(ContentSpec),
    Pcre(Box<Pcre>),
}

// Contents are the common, hot case: keep them inline in the Vec.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
enum Item {
    Content(Content),
    Pcre(Box<Pcre>),
}

impl Item {
    fn content(&self) -> Option<&Content> {
        match self {
            Item::Content(c) => Some(c),
            Item::Pcre(_) => None,
        }
    }
}

/// The contents (and pcres) that apply to one buffer, in rule order.
#[derive(Debug, Clone, Default)]
pub struct ContentList {
    items: Vec<Item>,
    /// Index of the content checked first over the whole buffer.
    fast: Option<usize>,
    needs_lower: bool,
}

/// Upper bound on search steps for one rule on one buffer (Suricata has a
/// similar recursion limit), so crafted payloads cannot make a rule slow.
const MATCH_BUDGET: u32 = 1024;

impl ContentList {
    /// Compiles specs. Errors name the content and the conflict.
    pub fn build(specs: Vec<ContentSpec>) -> Result<ContentList, String> {
        ContentList::build_items(specs.into_iter().map(ItemSpec::Content).collect())
    }

    /// Compiles contents and pcres in rule order.
    pub fn build_items(specs: Vec<ItemSpec>) -> Result<ContentList, String> {
        let mut items = Vec::with_capacity(specs.len());
        for spec in specs {
            let mut s = match spec {
                ItemSpec::Content(s) => s,
                ItemSpec::Pcre(p) => {
                    items.push(Item::Pcre(p));
                    continue;
                }
            };
            let name = String::from_utf8_lossy(&s.pattern).into_owned();
            let rel = s.distance.is_some() || s.within.is_some();
            if rel && (s.offset.is_some() || s.depth.is_some() || s.startswith) {
                return Err(format!(
                    "content \"{name}\" mixes relative (distance/within) and absolute (offset/depth/startswith) modifiers"
                ));
            }
            if s.depth.is_some_and(|d| (d as usize) < s.pattern.len()) {
                return Err(format!(
                    "content \"{name}\": depth is shorter than the pattern"
                ));
            }
            if s.within.is_some_and(|w| (w as usize) < s.pattern.len()) {
                return Err(format!(
                    "content \"{name}\": within is shorter than the pattern"
                ));
            }
            if s.nocase {
                s.pattern.make_ascii_lowercase();
            }
            let finder = memmem::Finder::new(&s.pattern).into_owned();
            items.push(Item::Content(Content { spec: s, finder }));
        }
        fn positive(i: &Item) -> Option<&Content> {
            i.content().filter(|c| !c.spec.negated)
        }
        let fast = items
            .iter()
            .position(|i| positive(i).is_some_and(|c| c.spec.fast_pattern))
            .or_else(|| {
                items
                    .iter()
                    .enumerate()
                    .filter_map(|(i, it)| positive(it).map(|c| (i, c)))
                    .max_by_key(|(i, c)| (c.len(), usize::MAX - i))
                    .map(|(i, _)| i)
            });
        let needs_lower = items
            .iter()
            .any(|i| i.content().is_some_and(|c| c.spec.nocase));
        Ok(ContentList {
            items,
            fast,
            needs_lower,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// A lowercase copy of the buffer is needed (some content is `nocase`).
    pub fn needs_lower(&self) -> bool {
        self.needs_lower
    }

    /// The contents (not the pcres), in rule order.
    pub fn items(&self) -> impl Iterator<Item = &ContentSpec> {
        self.items
            .iter()
            .filter_map(|i| i.content().map(|c| &c.spec))
    }

    /// The fast pattern (lowercase when nocase) and whether it is nocase:
    /// a match of the list needs it somewhere in the buffer. None when the
    /// list has no positive content.
    pub fn fast_pattern(&self) -> Option<(&[u8], bool)> {
        let c = self.fast.and_then(|i| self.items.get(i))?.content()?;
        Some((&c.spec.pattern, c.spec.nocase))
    }

    /// Quick necessary condition: the fast pattern occurs somewhere in
    /// the buffer (true when the list has no positive content).
    pub fn prefilter(&self, raw: &[u8], lower: &[u8]) -> bool {
        match self
            .fast
            .and_then(|i| self.items.get(i))
            .and_then(Item::content)
        {
            Some(f) => {
                let hay = if f.spec.nocase { lower } else { raw };
                f.finder.find(hay).is_some()
            }
            None => true,
        }
    }

    /// Tests the list against `raw` (and its lowercase copy `lower`, same
    /// length, required when [`Self::needs_lower`]). A match counts only
    /// when its furthest positive content ends at or after `min_end` (for
    /// stream windows: the start of the new data).
    pub fn matches(&self, raw: &[u8], lower: &[u8], min_end: usize) -> bool {
        if self.items.is_empty() {
            return true;
        }
        if !self.prefilter(raw, lower) {
            return false;
        }
        self.matches_prefiltered(raw, lower, min_end)
    }

    /// [`Self::matches`] for a caller that already knows the fast pattern
    /// occurs in the buffer.
    pub fn matches_prefiltered(&self, raw: &[u8], lower: &[u8], min_end: usize) -> bool {
        if self.items.is_empty() {
            return true;
        }
        let mut budget = MATCH_BUDGET;
        let bufs = Bufs { raw, lower };
        self.match_from(0, &bufs, 0, 0, min_end, &mut budget)
    }

    fn match_from(
        &self,
        i: usize,
        b: &Bufs,
        prev_end: usize,
        max_end: usize,
        min_end: usize,
        budget: &mut u32,
    ) -> bool {
        let Some(item) = self.items.get(i) else {
            return max_end >= min_end;
        };
        if *budget == 0 {
            return false;
        }
        *budget -= 1;
        let c = match item {
            Item::Content(c) => c,
            Item::Pcre(p) => return self.match_pcre(p, i, b, prev_end, max_end, min_end, budget),
        };
        let len = b.raw.len();
        let (mut start, mut end) = window(c, prev_end, len);
        if c.spec.endswith {
            start = start.max(end.saturating_sub(c.len()));
            if end != len {
                // endswith anchors at the end of the buffer.
                return c.spec.negated
                    && self.match_from(i + 1, b, prev_end, max_end, min_end, budget);
            }
        }
        if c.spec.negated {
            if b.find(c, start, end).is_some() {
                return false;
            }
            return self.match_from(i + 1, b, prev_end, max_end, min_end, budget);
        }
        while let Some(p) = b.find(c, start, end) {
            let e = p + c.len();
            if self.match_from(i + 1, b, e, max_end.max(e), min_end, budget) {
                return true;
            }
            if *budget == 0 {
                return false;
            }
            *budget -= 1;
            start = p + 1;
            end = end.max(start);
        }
        false
    }
}

impl ContentList {
    /// A pcre at position `i`: like a content, its match end is where the
    /// next relative item starts; later matches are tried on failure.
    #[allow(clippy::too_many_arguments)]
    fn match_pcre(
        &self,
        p: &Pcre,
        i: usize,
        b: &Bufs,
        prev_end: usize,
        max_end: usize,
        min_end: usize,
        budget: &mut u32,
    ) -> bool {
        let base = if p.relative {
            prev_end.min(b.raw.len())
        } else {
            0
        };
        let hay = b.raw.get(base..).unwrap_or_default();
        if p.negated {
            if p.re.is_match(hay) {
                return false;
            }
            return self.match_from(i + 1, b, prev_end, max_end, min_end, budget);
        }
        let mut pos = 0;
        while pos <= hay.len() {
            let Some(m) = p.re.find_at(hay, pos) else {
                return false;
            };
            let e = base + m.end();
            if self.match_from(i + 1, b, e, max_end.max(e), min_end, budget) {
                return true;
            }
            if *budget == 0 {
                return false;
            }
            *budget -= 1;
            pos = m.start() + 1;
        }
        false
    }
}

/// The byte range `[start, end)` a content may occupy.
fn window(c: &Content, prev_end: usize, len: usize) -> (usize, usize) {
    let s = &c.spec;
    if c.relative() {
        let base = prev_end as i64 + s.distance.unwrap_or(0) as i64;
        let start = base.max(0) as usize;
        let end = match s.within {
            Some(w) => (base + w as i64).max(0) as usize,
            None => len,
        };
        (start.min(len), end.min(len))
    } else if s.startswith {
        (0, c.len().min(len))
    } else {
        let off = s.offset.unwrap_or(0) as usize;
        let end = match s.depth {
            Some(d) => off.saturating_add(d as usize),
            None => len,
        };
        (off.min(len), end.min(len))
    }
}

struct Bufs<'a> {
    raw: &'a [u8],
    lower: &'a [u8],
}

impl Bufs<'_> {
    fn find(&self, c: &Content, start: usize, end: usize) -> Option<usize> {
        let buf = if c.spec.nocase { self.lower } else { self.raw };
        let hay = buf.get(start..end)?;
        if hay.len() < c.len() {
            return None;
        }
        c.finder.find(hay).map(|p| p + start)
    }
}

/// Parses a `content` value: optional `!`, then a quoted string with
/// `|hex|` blocks and `\"`, `\;`, `\\`, `\:` escapes. Returns the bytes
/// and whether it is negated.
pub fn parse_pattern(v: &str) -> Result<(Vec<u8>, bool), String> {
    let v = v.trim();
    let (negated, v) = match v.strip_prefix('!') {
        Some(rest) => (true, rest.trim_start()),
        None => (false, v),
    };
    let inner = if let Some(rest) = v.strip_prefix('"') {
        match rest.strip_suffix('"') {
            Some(i) if !i.ends_with('\\') || i.ends_with("\\\\") => i,
            _ => return Err(format!("unterminated quote in {v}")),
        }
    } else {
        v
    };
    let bytes = inner.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    let mut hex = false;
    let mut nibble: Option<u8> = None;
    while let Some(&ch) = bytes.get(i) {
        i += 1;
        if hex {
            match ch {
                b'|' => {
                    if nibble.is_some() {
                        return Err(format!("odd number of hex digits in {v}"));
                    }
                    hex = false;
                }
                b' ' | b'\t' => {
                    if nibble.is_some() {
                        return Err(format!("hex byte split by a space in {v}"));
                    }
                }
                _ => {
                    let d = (ch as char)
                        .to_digit(16)
                        .ok_or_else(|| format!("`{}` is not a hex digit in {v}", ch as char))?
                        as u8;
                    match nibble.take() {
                        Some(hi) => out.push(hi << 4 | d),
                        None => nibble = Some(d),
                    }
                }
            }
            continue;
        }
        match ch {
            b'|' => hex = true,
            b'\\' => match bytes.get(i) {
                Some(&e @ (b'"' | b';' | b'\\' | b':' | b'|')) => {
                    out.push(e);
                    i += 1;
                }
                Some(&e) => return Err(format!("invalid escape `\\{}` in {v}", e as char)),
                None => return Err(format!("trailing backslash in {v}")),
            },
            b'"' => return Err(format!("unescaped quote in {v}")),
            b';' => return Err(format!("unescaped `;` in {v}")),
            _ => out.push(ch),
        }
    }
    if hex {
        return Err(format!("unterminated |hex| block in {v}"));
    }
    if out.is_empty() {
        return Err("empty content".into());
    }
    Ok((out, negated))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(p: &str) -> ContentSpec {
        let (pattern, negated) = parse_pattern(p).unwrap();
        ContentSpec {
            pattern,
            negated,
            ..Default::default()
        }
    }

    fn run(list: Vec<ContentSpec>, buf: &[u8]) -> bool {
        run_min(list, buf, 0)
    }

    fn run_min(list: Vec<ContentSpec>, buf: &[u8], min_end: usize) -> bool {
        let l = ContentList::build(list).unwrap();
        let lower = buf.to_ascii_lowercase();
        l.matches(buf, &lower, min_end)
    }

    #[test]
    fn pattern_hex_and_escapes() {
        assert_eq!(
            parse_pattern("\"abc|0d 0a|def\"").unwrap(),
            (b"abc\r\ndef".to_vec(), false)
        );
        assert_eq!(
            parse_pattern("!\"a\\;b\\\"c\\\\\"").unwrap(),
            (b"a;b\"c\\".to_vec(), true)
        );
        assert_eq!(parse_pattern("\"|00 FF|\"").unwrap().0, vec![0, 255]);
        assert_eq!(parse_pattern("\"|0001|\"").unwrap().0, vec![0, 1]);
        for bad in [
            "\"|0g|\"",
            "\"|0|\"",
            "\"|00\"",
            "\"abc",
            "\"a\"b\"",
            "\"\"",
            "\"a\\qb\"",
            "\"a;b\"",
        ] {
            assert!(parse_pattern(bad).is_err(), "{bad} should fail");
        }
    }

    #[test]
    fn nocase_depth_offset() {
        let mut s = spec("\"ABC\"");
        assert!(!run(vec![s.clone()], b"xxabc"));
        s.nocase = true;
        assert!(run(vec![s.clone()], b"xxabc"));
        s.depth = Some(4);
        assert!(!run(vec![s.clone()], b"xxabc"));
        s.depth = Some(5);
        assert!(run(vec![s.clone()], b"xxabc"));
        s.offset = Some(3);
        assert!(!run(vec![s.clone()], b"xxabcxx"));
        s.offset = Some(2);
        s.depth = Some(3);
        assert!(run(vec![s], b"xxabcxx"));
    }

    #[test]
    fn distance_within_with_backtracking() {
        let a = spec("\"a\"");
        let mut b = spec("\"b\"");
        b.within = Some(1);
        // The first "a" is not followed by "b"; the second is.
        assert!(run(vec![a.clone(), b.clone()], b"a-ab"));
        assert!(!run(vec![a.clone(), b.clone()], b"a-a-b"));
        let mut b2 = spec("\"b\"");
        b2.distance = Some(2);
        assert!(run(vec![a.clone(), b2.clone()], b"a--b"));
        assert!(!run(vec![a.clone(), b2.clone()], b"a-b"));
        b2.within = Some(1);
        // within counts from distance: b exactly 2 bytes after the end of a.
        assert!(run(vec![a.clone(), b2.clone()], b"a--b"));
        assert!(!run(vec![a.clone(), b2.clone()], b"a---b"));
        let mut back = spec("\"x\"");
        back.distance = Some(-3);
        back.within = Some(2);
        assert!(run(vec![a.clone(), back], b"xya"));
    }

    #[test]
    fn negation() {
        assert!(run(vec![spec("!\"evil\"")], b"good"));
        assert!(!run(vec![spec("!\"evil\"")], b"so evil"));
        let mut n = spec("!\"b\"");
        n.within = Some(1);
        // "a" not directly followed by "b": the second a qualifies.
        assert!(run(vec![spec("\"a\""), n.clone()], b"abac"));
        assert!(!run(vec![spec("\"a\""), n], b"ab"));
    }

    #[test]
    fn startswith_endswith() {
        let mut s = spec("\"SSH-\"");
        s.startswith = true;
        assert!(run(vec![s.clone()], b"SSH-2.0"));
        assert!(!run(vec![s], b" SSH-2.0"));
        let mut e = spec("\"|0d 0a|\"");
        e.endswith = true;
        assert!(run(vec![e.clone()], b"abc\r\n"));
        assert!(!run(vec![e], b"abc\r\nx"));
    }

    #[test]
    fn min_end_limits_stream_matches() {
        let buf = b"hello world";
        assert!(run_min(vec![spec("\"world\"")], buf, 8));
        assert!(!run_min(vec![spec("\"hello\"")], buf, 8));
        // A later occurrence is found when the first ends too early.
        assert!(run_min(vec![spec("\"o\"")], buf, 8));
    }

    #[test]
    fn modifier_conflicts_are_errors() {
        let mut s = spec("\"abc\"");
        s.distance = Some(1);
        s.depth = Some(5);
        assert!(ContentList::build(vec![s]).is_err());
        let mut s = spec("\"abc\"");
        s.depth = Some(2);
        assert!(ContentList::build(vec![s]).is_err());
    }
}
