//! `content` patterns and their modifiers, and the matcher that tests a
//! list of them against one buffer (with Suricata's relative matching and
//! backtracking).

use memchr::memmem;

use super::byte::{ByteOp, Step, Vars, MAX_VARS};
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
    /// `offset`/`depth`/`distance`/`within` given as a byte_extract or
    /// byte_math variable (its index); the number field is then unset.
    pub offset_var: Option<u8>,
    pub depth_var: Option<u8>,
    pub distance_var: Option<u8>,
    pub within_var: Option<u8>,
    pub startswith: bool,
    pub endswith: bool,
    pub fast_pattern: bool,
}

impl ContentSpec {
    /// Positioned relative to the previous match (`distance`/`within`).
    pub fn relative(&self) -> bool {
        self.distance.is_some()
            || self.within.is_some()
            || self.distance_var.is_some()
            || self.within_var.is_some()
    }

    fn has_within(&self) -> bool {
        self.within.is_some() || self.within_var.is_some()
    }
}

/// A compiled content: pattern (lowercased when `nocase`) and its finder.
#[derive(Debug, Clone)]
pub struct Content {
    pub spec: ContentSpec,
    finder: memmem::Finder<'static>,
    /// The next item is a content with `within` (Suricata's
    /// `DETECT_CONTENT_WITHIN_NEXT`): a later occurrence of this one may
    /// still let it match.
    within_next: bool,
}

impl Content {
    fn len(&self) -> usize {
        self.spec.pattern.len()
    }
}

/// One entry of a buffer's match list as parsed.
#[derive(Debug, Clone)]
pub enum ItemSpec {
    Content(ContentSpec),
    Pcre(Box<Pcre>),
    Byte(ByteOp),
}

impl ItemSpec {
    /// Works from the previous match's end.
    pub fn relative(&self) -> bool {
        match self {
            ItemSpec::Content(c) => c.relative(),
            ItemSpec::Pcre(p) => p.relative,
            ItemSpec::Byte(b) => b.relative(),
        }
    }
}

// Contents are the common, hot case: keep them inline in the Vec.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
enum Item {
    Content(Content),
    /// A pcre and whether the next item is relative to it.
    Pcre(Box<Pcre>, bool),
    Byte(ByteOp),
}

impl Item {
    fn content(&self) -> Option<&Content> {
        match self {
            Item::Content(c) => Some(c),
            _ => None,
        }
    }
}

/// The contents, pcres and byte keywords that apply to one buffer, in rule
/// order.
#[derive(Debug, Clone, Default)]
pub struct ContentList {
    items: Vec<Item>,
    /// Index of the content checked first over the whole buffer.
    fast: Option<usize>,
    needs_lower: bool,
    /// Some item reads or writes a byte variable.
    uses_vars: bool,
}

/// Suricata's `inspection_recursion_limit` (default 3000): steps for one
/// rule on one buffer, so crafted payloads cannot make a rule slow.
const RECURSION_LIMIT: u32 = 3000;

impl ContentList {
    /// Compiles specs. Errors name the content and the conflict.
    pub fn build(specs: Vec<ContentSpec>) -> Result<ContentList, String> {
        ContentList::build_items(specs.into_iter().map(ItemSpec::Content).collect())
    }

    /// Compiles contents, pcres and byte keywords in rule order.
    pub fn build_items(specs: Vec<ItemSpec>) -> Result<ContentList, String> {
        let next_within: Vec<bool> = specs
            .iter()
            .skip(1)
            .map(|s| matches!(s, ItemSpec::Content(c) if c.has_within()))
            .chain(std::iter::once(false))
            .collect();
        let next_relative: Vec<bool> = specs
            .iter()
            .skip(1)
            .map(ItemSpec::relative)
            .chain(std::iter::once(false))
            .collect();
        let mut items = Vec::with_capacity(specs.len());
        let mut uses_vars = false;
        for (i, spec) in specs.into_iter().enumerate() {
            let mut s = match spec {
                ItemSpec::Content(s) => s,
                ItemSpec::Pcre(p) => {
                    items.push(Item::Pcre(
                        p,
                        next_relative.get(i).copied().unwrap_or(false),
                    ));
                    continue;
                }
                ItemSpec::Byte(b) => {
                    uses_vars = true;
                    items.push(Item::Byte(b));
                    continue;
                }
            };
            let name = String::from_utf8_lossy(&s.pattern).into_owned();
            let rel = s.relative();
            let abs = s.offset.is_some()
                || s.depth.is_some()
                || s.offset_var.is_some()
                || s.depth_var.is_some()
                || s.startswith;
            if rel && abs {
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
            if s.startswith && s.endswith && s.pattern.is_empty() {
                return Err(format!("content \"{name}\": empty"));
            }
            uses_vars |= s.offset_var.is_some()
                || s.depth_var.is_some()
                || s.distance_var.is_some()
                || s.within_var.is_some();
            if s.nocase {
                s.pattern.make_ascii_lowercase();
            }
            let finder = memmem::Finder::new(&s.pattern).into_owned();
            items.push(Item::Content(Content {
                spec: s,
                finder,
                within_next: next_within.get(i).copied().unwrap_or(false),
            }));
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
            uses_vars,
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

    /// Some item uses byte_extract/byte_math variables.
    pub fn uses_vars(&self) -> bool {
        self.uses_vars
    }

    /// The contents (not the pcres), in rule order.
    pub fn items(&self) -> impl Iterator<Item = &ContentSpec> {
        self.items
            .iter()
            .filter_map(|i| i.content().map(|c| &c.spec))
    }

    /// The last content, if the list ends with one (dsize checks).
    pub fn contents(&self) -> impl Iterator<Item = &ContentSpec> {
        self.items()
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
        let mut vals = [0u64; MAX_VARS];
        self.matches_vars(raw, lower, min_end, &mut vals)
    }

    /// [`Self::matches_prefiltered`] with the rule's byte variables, which
    /// byte_extract/byte_math of this list set and later lists read.
    pub fn matches_vars(&self, raw: &[u8], lower: &[u8], min_end: usize, vals: &mut Vars) -> bool {
        if self.items.is_empty() {
            return true;
        }
        let lower = if lower.len() == raw.len() { lower } else { raw };
        let mut st = Insp {
            raw,
            lower,
            min_end,
            vals,
            discontinue: false,
            calls: 0,
            pcre_start: 0,
            late: false,
        };
        self.inspect(0, 0, 0, &mut st)
    }
}

/// Suricata's per-buffer inspection state (`det_ctx->buffer_offset` is
/// passed along the recursion as `at`).
struct Insp<'a, 'v> {
    raw: &'a [u8],
    lower: &'a [u8],
    min_end: usize,
    vals: &'v mut Vars,
    discontinue: bool,
    calls: u32,
    pcre_start: usize,
    /// The end of the list was reached but the match ended before
    /// `min_end`: a later occurrence may still do.
    late: bool,
}

impl ContentList {
    /// Inspects items from `i` on with inspection offset `at`; `max_end`
    /// is the furthest end of a positive match so far. As Suricata's
    /// `DetectEngineContentInspection`.
    fn inspect(&self, i: usize, at: usize, max_end: usize, st: &mut Insp) -> bool {
        let Some(item) = self.items.get(i) else {
            if max_end >= st.min_end {
                return true;
            }
            st.late = true;
            return false;
        };
        st.calls += 1;
        if st.calls >= RECURSION_LIMIT {
            st.discontinue = true;
            return false;
        }
        match item {
            Item::Content(c) => self.inspect_content(c, i, at, max_end, st),
            Item::Pcre(p, relative_next) => {
                self.inspect_pcre(p, *relative_next, i, at, max_end, st)
            }
            Item::Byte(b) => match b.eval(st.raw, at, st.vals) {
                Step::Match(next) => self.inspect(i + 1, next, max_end, st),
                Step::NoMatch => false,
            },
        }
    }

    fn inspect_content(
        &self,
        c: &Content,
        i: usize,
        at: usize,
        max_end: usize,
        st: &mut Insp,
    ) -> bool {
        let s = &c.spec;
        let len = st.raw.len() as u32;
        let vals: &Vars = st.vals;
        let var = |v: Option<u8>| v.and_then(|i| vals.get(i as usize)).copied();
        let (distance_v, within_v, depth_v, offset_v) = (
            var(s.distance_var),
            var(s.within_var),
            var(s.depth_var),
            var(s.offset_var),
        );
        let prev = at as u32;
        let mut prev_offset = 0u32;
        loop {
            let (mut offset, mut depth);
            if s.relative() {
                offset = prev;
                depth = len;
                let mut distance = s.distance.unwrap_or(0);
                if let Some(v) = distance_v {
                    distance = v as i32;
                }
                if s.distance.is_some() || s.distance_var.is_some() {
                    if distance < 0 && distance.unsigned_abs() > offset {
                        offset = 0;
                    } else {
                        offset = offset.wrapping_add(distance as u32);
                    }
                }
                let within = match within_v {
                    Some(v) => Some(v as u32),
                    None => s.within,
                };
                if let Some(w) = within {
                    let lim = prev.wrapping_add(w).wrapping_add(distance as u32);
                    if (depth as i32) > (lim as i32) {
                        depth = lim;
                    }
                }
            } else {
                depth = match (depth_v, s.depth, s.startswith) {
                    (Some(v), _, _) => v as u32,
                    (None, _, true) => s.pattern.len() as u32,
                    (None, Some(d), _) => s.offset.unwrap_or(0).saturating_add(d),
                    (None, None, _) => len,
                };
                offset = match offset_v {
                    Some(v) => v as u32,
                    None => s.offset.unwrap_or(0),
                };
                if s.offset_var.is_some() || s.depth_var.is_some() {
                    if s.depth_var.is_none() && s.depth.is_some() {
                        // A literal depth counts from the variable offset.
                        depth = s.depth.unwrap_or(0);
                    }
                    depth = if s.depth.is_none() && s.depth_var.is_none() {
                        len
                    } else {
                        depth.wrapping_add(offset)
                    };
                }
            }
            if prev_offset != 0 {
                offset = prev_offset;
            }
            if depth > len {
                depth = len;
            }
            if offset > depth || depth == 0 {
                return s.negated && self.inspect(i + 1, at, max_end, st);
            }
            let found = if s.endswith && depth < len {
                None
            } else {
                let hay = if s.nocase { st.lower } else { st.raw };
                hay.get(offset as usize..depth as usize)
                    .filter(|h| h.len() >= c.len())
                    .and_then(|h| c.finder.find(h))
                    .map(|p| p as u32 + offset)
            };
            let Some(found) = found else {
                if s.negated {
                    return self.inspect(i + 1, at, max_end, st);
                }
                if !s.relative() {
                    st.discontinue = true;
                }
                return false;
            };
            let end = found + c.len() as u32;
            if s.negated {
                if s.endswith && depth - offset != end {
                    return self.inspect(i + 1, at, max_end, st);
                }
                let single = !(s.relative()
                    || s.depth.is_some()
                    || s.offset.is_some()
                    || s.startswith
                    || self.next_relative(i));
                if single {
                    st.discontinue = true;
                }
                return false;
            }
            if !s.endswith || end == len {
                st.late = false;
                let e = end as usize;
                if self.inspect(i + 1, e, max_end.max(e), st) {
                    return true;
                }
                if st.discontinue {
                    return false;
                }
                if !c.within_next && !st.late {
                    st.discontinue = true;
                    return false;
                }
            }
            prev_offset = found + 1;
        }
    }

    fn next_relative(&self, i: usize) -> bool {
        match self.items.get(i + 1) {
            Some(Item::Content(c)) => c.spec.relative(),
            Some(Item::Pcre(p, _)) => p.relative,
            Some(Item::Byte(b)) => b.relative(),
            None => false,
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn inspect_pcre(
        &self,
        p: &Pcre,
        relative_next: bool,
        i: usize,
        at: usize,
        max_end: usize,
        st: &mut Insp,
    ) -> bool {
        st.pcre_start = 0;
        loop {
            let base = if p.relative { at.min(st.raw.len()) } else { 0 };
            let hay = st.raw.get(base..).unwrap_or_default();
            let start = if st.pcre_start != 0 {
                st.pcre_start.saturating_sub(base)
            } else {
                0
            };
            let found = if start > hay.len() {
                None
            } else {
                p.find_at(hay, start)
            };
            let (next_at, next_max) = match (found, p.negated) {
                (None, false) | (Some(_), true) => return false,
                (None, true) => (at, max_end),
                (Some((s, e)), false) => {
                    st.pcre_start = base + s + 1;
                    (base + e, max_end.max(base + e))
                }
            };
            if !relative_next {
                return self.inspect(i + 1, next_at, next_max, st);
            }
            let prev_start = st.pcre_start;
            st.late = false;
            if self.inspect(i + 1, next_at, next_max, st) {
                return true;
            }
            if st.discontinue || p.negated || prev_start == 0 {
                return false;
            }
            st.pcre_start = prev_start;
        }
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

    /// Random buffers against lists mixing every item kind, with offsets
    /// and variables at the edges: no panic, and matching stays bounded.
    #[test]
    fn random_buffers_never_panic() {
        use super::super::byte::{self, VarScope};
        #[derive(Default)]
        struct Scope(Vec<String>);
        impl VarScope for Scope {
            fn lookup(&self, n: &str) -> Option<u8> {
                self.0.iter().position(|x| x == n).map(|i| i as u8)
            }
            fn define(&mut self, n: &str) -> Option<u8> {
                if let Some(i) = self.lookup(n) {
                    return Some(i);
                }
                self.0.push(n.to_string());
                Some(self.0.len() as u8 - 1)
            }
        }
        let mut sc = Scope::default();
        let ex = byte::parse_byte_extract("2,-1,v,relative,little", &mut sc).unwrap();
        let mut a = spec("\"a\"");
        a.nocase = true;
        let mut rel = spec("\"b\"");
        rel.distance_var = Some(0);
        rel.within = Some(3);
        let mut neg = spec("!\"zz\"");
        neg.endswith = true;
        let mut off = spec("\"c\"");
        off.offset_var = Some(0);
        off.depth_var = Some(0);
        let items = vec![
            ItemSpec::Content(a),
            ItemSpec::Byte(ByteOp::Extract(ex)),
            ItemSpec::Byte(ByteOp::Jump(
                byte::parse_byte_jump("v,-3,relative,from_end,post_offset -70000", &sc)
                    .unwrap_or_else(|_| byte::parse_byte_jump("1,-3,relative", &sc).unwrap()),
            )),
            ItemSpec::Content(rel),
            ItemSpec::Byte(ByteOp::Test(
                byte::parse_byte_test("v,&,v,v,relative,string", &sc).unwrap(),
            )),
            ItemSpec::Byte(ByteOp::IsDataAt(
                byte::parse_isdataat("!v,relative", &sc).unwrap(),
            )),
            ItemSpec::Content(neg),
            ItemSpec::Content(off),
        ];
        let list = ContentList::build_items(items).unwrap();
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for round in 0..3000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let len = (seed % 64) as usize;
            let buf: Vec<u8> = (0..len)
                .map(|i| b"abcz0129 \xff"[((seed >> (i % 50)) as usize + i) % 10])
                .collect();
            let lower = buf.to_ascii_lowercase();
            let _ = list.matches(&buf, &lower, round % 5);
        }
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
