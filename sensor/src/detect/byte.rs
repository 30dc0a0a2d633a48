//! The byte keywords of the payload language: `byte_test`, `byte_jump`,
//! `byte_extract`, `byte_math` and `isdataat`, parsed and evaluated as
//! Suricata 7 does (its `detect-byte*.c`, `detect-isdataat.c`).
//!
//! They run inside a buffer's match list (see [`super::content`]) with the
//! list's *inspection offset*: where the last content, pcre, jump or
//! extraction ended. `byte_extract` and `byte_math` store a value in one
//! of the rule's variables ([`MAX_VARS`] at most), which later keywords of
//! any buffer of the same rule read by name.
//!
//! Every offset and length, from the rule or from the packet, is checked:
//! evaluation never indexes out of bounds and never panics, whatever the
//! buffer holds.

use super::threshold::OptError;

/// Variables (`byte_extract` / `byte_math` results) one rule may define.
pub const MAX_VARS: usize = 16;

/// A rule's variable values while it is evaluated.
pub type Vars = [u64; MAX_VARS];

/// A numeric argument: a literal, or a variable of the rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operand {
    Lit(i64),
    Var(u8),
}

impl Operand {
    fn get(self, vals: &Vars) -> u64 {
        match self {
            Operand::Lit(n) => n as u64,
            Operand::Var(i) => vals.get(i as usize).copied().unwrap_or(0),
        }
    }
}

/// How numbers are read from the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Binary, big endian (`little`: little endian).
    Binary { little: bool },
    /// ASCII digits in this base (0: as `strtoull` with base 0: `0x`
    /// hex, leading `0` octal, else decimal).
    String { base: u32 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestOp {
    Eq,
    Lt,
    Gt,
    Le,
    Ge,
    /// `&`: any common bit.
    And,
    /// `^`: any differing bit.
    Xor,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ByteTest {
    pub nbytes: Operand,
    pub op: TestOp,
    pub negated: bool,
    pub value: Operand,
    pub offset: Operand,
    pub relative: bool,
    pub format: Format,
    /// `bitmask`: mask, and the right shift (its trailing zero bits).
    pub bitmask: Option<(u32, u32)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JumpFrom {
    /// From the end of the bytes read (the default).
    Here,
    /// `from_beginning`.
    Begin,
    /// `from_end`.
    End,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ByteJump {
    pub nbytes: Operand,
    pub offset: Operand,
    pub relative: bool,
    pub format: Format,
    pub from: JumpFrom,
    pub align: bool,
    pub multiplier: u64,
    pub post_offset: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ByteExtract {
    pub nbytes: u8,
    pub offset: i64,
    pub var: u8,
    pub relative: bool,
    pub format: Format,
    pub multiplier: u64,
    /// `align 2|4` (0: none).
    pub align: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MathOp {
    Add,
    Sub,
    Mul,
    Div,
    Shl,
    Shr,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ByteMath {
    pub nbytes: Operand,
    pub offset: i64,
    pub op: MathOp,
    pub rvalue: Operand,
    pub var: u8,
    pub relative: bool,
    pub format: Format,
    pub bitmask: Option<(u32, u32)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IsDataAt {
    pub at: Operand,
    pub relative: bool,
    pub negated: bool,
}

/// One byte keyword of a match list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ByteOp {
    Test(ByteTest),
    Jump(ByteJump),
    Extract(ByteExtract),
    Math(ByteMath),
    IsDataAt(IsDataAt),
}

/// The outcome of one keyword on a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Matched; the inspection offset is now this.
    Match(usize),
    NoMatch,
}

impl ByteOp {
    /// True when the keyword works from the previous match's end.
    pub fn relative(&self) -> bool {
        match self {
            ByteOp::Test(t) => t.relative,
            ByteOp::Jump(j) => j.relative,
            ByteOp::Extract(e) => e.relative,
            ByteOp::Math(m) => m.relative,
            ByteOp::IsDataAt(i) => i.relative,
        }
    }

    /// Evaluates the keyword on `buf` with inspection offset `at`.
    pub fn eval(&self, buf: &[u8], at: usize, vals: &mut Vars) -> Step {
        match self {
            ByteOp::Test(t) => step(t.eval(buf, at, vals), at),
            ByteOp::Jump(j) => j.eval(buf, at, vals).map_or(Step::NoMatch, Step::Match),
            ByteOp::Extract(e) => e.eval(buf, at, vals).map_or(Step::NoMatch, Step::Match),
            ByteOp::Math(m) => m.eval(buf, at, vals).map_or(Step::NoMatch, Step::Match),
            ByteOp::IsDataAt(i) => i.eval(buf.len(), at, vals),
        }
    }
}

fn step(ok: bool, at: usize) -> Step {
    if ok {
        Step::Match(at)
    } else {
        Step::NoMatch
    }
}

/// Where the bytes to read start, as Suricata computes it: `(start,
/// remaining)` or None when the read cannot happen (`ptr < payload`,
/// nothing left after a relative base).
fn locate(len: usize, at: usize, offset: i64, relative: bool) -> Option<(usize, i64)> {
    let len = len as i64;
    let (ptr, left) = if relative {
        let ptr = at as i64 + offset;
        let left = len - ptr;
        if left <= 0 {
            return None;
        }
        (ptr, left)
    } else {
        (offset, len - offset)
    };
    if ptr < 0 {
        return None;
    }
    Some((ptr as usize, left))
}

/// Reads a number: `(value, bytes consumed)`. None as Suricata's
/// extraction failures.
fn extract(buf: &[u8], ptr: usize, nbytes: usize, format: Format) -> Option<(u64, usize)> {
    let rest = buf.get(ptr..)?;
    match format {
        Format::Binary { little } => {
            if nbytes > 8 {
                return None;
            }
            let bytes = rest.get(..nbytes)?;
            let mut v = 0u64;
            if little {
                for &b in bytes.iter().rev() {
                    v = v << 8 | u64::from(b);
                }
            } else {
                for &b in bytes {
                    v = v << 8 | u64::from(b);
                }
            }
            Some((v, nbytes))
        }
        Format::String { base } => {
            if nbytes > 23 {
                return None;
            }
            // nbytes 0: Suricata reads up to the terminating NUL.
            let s = if nbytes == 0 {
                rest
            } else {
                rest.get(..nbytes)?
            };
            let s = match s.iter().position(|&b| b == 0) {
                Some(n) => s.get(..n).unwrap_or(s),
                None => s,
            };
            strtoull(s, base)
        }
    }
}

/// C's `strtoull`: leading white space, a sign, a base prefix, digits.
/// None for no digits or overflow (ERANGE).
pub fn strtoull(s: &[u8], base: u32) -> Option<(u64, usize)> {
    let mut i = 0;
    while s
        .get(i)
        .is_some_and(|c| matches!(c, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r'))
    {
        i += 1;
    }
    let neg = match s.get(i) {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let hex_prefix = |i: usize| {
        s.get(i) == Some(&b'0')
            && matches!(s.get(i + 1), Some(b'x' | b'X'))
            && s.get(i + 2).is_some_and(u8::is_ascii_hexdigit)
    };
    let base = match base {
        0 if hex_prefix(i) => {
            i += 2;
            16
        }
        0 if s.get(i) == Some(&b'0') => 8,
        0 => 10,
        16 if hex_prefix(i) => {
            i += 2;
            16
        }
        b => b,
    };
    let start = i;
    let mut v: u64 = 0;
    let mut overflow = false;
    while let Some(d) = s.get(i).and_then(|&c| (c as char).to_digit(base)) {
        match v
            .checked_mul(u64::from(base))
            .and_then(|x| x.checked_add(u64::from(d)))
        {
            Some(n) => v = n,
            None => overflow = true,
        }
        i += 1;
    }
    if i == start || overflow {
        return None;
    }
    Some((if neg { v.wrapping_neg() } else { v }, i))
}

fn apply_bitmask(v: u64, bitmask: Option<(u32, u32)>) -> u64 {
    match bitmask {
        Some((mask, shift)) => {
            let v = v & u64::from(mask);
            if v != 0 && shift != 0 {
                v >> shift
            } else {
                v
            }
        }
        None => v,
    }
}

fn nbytes_ok(n: u64, format: Format) -> bool {
    match format {
        Format::String { .. } => n <= 23,
        Format::Binary { .. } => n <= 8,
    }
}

impl ByteTest {
    fn eval(&self, buf: &[u8], at: usize, vals: &Vars) -> bool {
        if buf.is_empty() {
            return false;
        }
        let nbytes = self.nbytes.get(vals);
        if !nbytes_ok(nbytes, self.format) {
            return false;
        }
        let offset = self.offset.get(vals) as i32 as i64;
        let Some((ptr, left)) = locate(buf.len(), at, offset, self.relative) else {
            return false;
        };
        if nbytes as i64 > left {
            return false;
        }
        let Some((v, _)) = extract(buf, ptr, nbytes as usize, self.format) else {
            return false;
        };
        let v = apply_bitmask(v, self.bitmask);
        let value = self.value.get(vals);
        let m = match self.op {
            TestOp::Eq => v == value,
            TestOp::Lt => v < value,
            TestOp::Gt => v > value,
            TestOp::Le => v <= value,
            TestOp::Ge => v >= value,
            TestOp::And => v & value != 0,
            TestOp::Xor => v ^ value != 0,
        };
        m != self.negated
    }
}

impl ByteJump {
    fn eval(&self, buf: &[u8], at: usize, vals: &Vars) -> Option<usize> {
        if buf.is_empty() {
            return None;
        }
        let nbytes = self.nbytes.get(vals);
        if !nbytes_ok(nbytes, self.format) {
            return None;
        }
        let len = buf.len() as i64;
        let mut ptr = self.offset.get(vals) as i32 as i64;
        let mut left = len - ptr;
        if self.relative {
            ptr += at as i64;
            left -= at as i64;
            if nbytes != 0 && left <= 0 {
                return None;
            }
        }
        if ptr < 0 || nbytes as i64 > left {
            return None;
        }
        let (v, used) = extract(buf, ptr as usize, nbytes as usize, self.format)?;
        let mut v = v.wrapping_mul(self.multiplier);
        if self.align && v % 4 != 0 {
            v = v.wrapping_add(4 - v % 4);
        }
        let v = (v as i64).wrapping_add(self.post_offset);
        let target = match self.from {
            JumpFrom::Begin => v,
            JumpFrom::End => len.wrapping_add(v),
            JumpFrom::Here => ptr.wrapping_add(v).wrapping_add(used as i64),
        };
        if target < 0 {
            Some(0)
        } else if target > len {
            None
        } else {
            Some(target as usize)
        }
    }
}

impl ByteExtract {
    fn eval(&self, buf: &[u8], at: usize, vals: &mut Vars) -> Option<usize> {
        if buf.is_empty() {
            return None;
        }
        let (ptr, left) = locate(buf.len(), at, self.offset, self.relative)?;
        if i64::from(self.nbytes) > left {
            return None;
        }
        let (v, used) = extract(buf, ptr, usize::from(self.nbytes), self.format)?;
        let mut v = v.wrapping_mul(self.multiplier);
        if self.align != 0 && v % self.align != 0 {
            v = v.wrapping_add(self.align - v % self.align);
        }
        *vals.get_mut(self.var as usize)? = v;
        Some(ptr + used)
    }
}

impl ByteMath {
    fn eval(&self, buf: &[u8], at: usize, vals: &mut Vars) -> Option<usize> {
        // Suricata passes the buffer length as a u16.
        if buf.is_empty() || buf.len() > usize::from(u16::MAX) {
            return None;
        }
        let nbytes = self.nbytes.get(vals) as u8 as u64;
        let ok = match self.format {
            Format::String { .. } => nbytes <= 10,
            Format::Binary { .. } => (1..=10).contains(&nbytes),
        };
        if !ok {
            return None;
        }
        let (ptr, left) = locate(buf.len(), at, self.offset, self.relative)?;
        if nbytes as i64 > left {
            return None;
        }
        let (v, used) = extract(buf, ptr, nbytes as usize, self.format)?;
        let r = self.rvalue.get(vals);
        let v = match self.op {
            MathOp::Add => v.wrapping_add(r),
            MathOp::Sub => v.wrapping_sub(r),
            MathOp::Mul => v.wrapping_mul(r),
            MathOp::Div => v.checked_div(r)?,
            MathOp::Shl => {
                if r < 64 {
                    v << r
                } else {
                    0
                }
            }
            MathOp::Shr => {
                if r < 64 {
                    v >> r
                } else {
                    0
                }
            }
        };
        *vals.get_mut(self.var as usize)? = apply_bitmask(v, self.bitmask);
        Some(ptr + used)
    }
}

impl IsDataAt {
    fn eval(&self, len: usize, at: usize, vals: &Vars) -> Step {
        let n = self.at.get(vals);
        if matches!(self.at, Operand::Var(_)) && n >= 100_000_000 {
            return if self.negated {
                Step::Match(at)
            } else {
                Step::NoMatch
            };
        }
        let (len, n) = (len as u64, n & 0xffff_ffff);
        let present = if self.relative {
            at as u64 + n <= len
        } else {
            n < len
        };
        step(present != self.negated, at)
    }
}

// ---------------------------------------------------------------------
// Parsing

/// Resolves a variable name to its index, or says why not.
pub trait VarScope {
    /// The index of an existing variable.
    fn lookup(&self, name: &str) -> Option<u8>;
    /// Defines (or redefines) a variable; None when there are too many.
    fn define(&mut self, name: &str) -> Option<u8>;
}

fn invalid(s: impl Into<String>) -> OptError {
    OptError::Invalid(s.into())
}

fn is_var_name(s: &str) -> bool {
    !s.starts_with('-') && s.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
}

/// A number or a known variable.
fn operand(
    s: &str,
    what: &str,
    scope: &dyn VarScope,
    num: impl Fn(&str) -> Option<i64>,
) -> Result<Operand, OptError> {
    let s = s.trim();
    if is_var_name(s) {
        return scope.lookup(s).map(Operand::Var).ok_or_else(|| {
            invalid(format!(
                "{what} `{s}` is not a byte_extract/byte_math variable defined earlier in the rule"
            ))
        });
    }
    num(s)
        .map(Operand::Lit)
        .ok_or_else(|| invalid(format!("bad {what} `{s}`")))
}

/// A C-style integer with base prefix (`0x..`, `0..`), as Suricata's
/// `ByteExtractString*(.., base 0, ..)`, the whole string consumed.
fn c_int(s: &str) -> Option<i64> {
    let (neg, digits) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let (v, used) = strtoull(digits.as_bytes(), 0)?;
    if used != digits.len() || digits.starts_with(['-', '+', ' ']) {
        return None;
    }
    let v = i64::try_from(v).ok()?;
    Some(if neg { -v } else { v })
}

fn dec_in(s: &str, lo: i64, hi: i64) -> Option<i64> {
    s.parse::<i64>().ok().filter(|n| (lo..=hi).contains(n))
}

/// Splits on commas, trims, drops empty pieces.
fn args(v: &str) -> Vec<&str> {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect()
}

fn base_of(s: &str) -> Option<u32> {
    match s.to_ascii_lowercase().as_str() {
        "dec" => Some(10),
        "hex" => Some(16),
        "oct" => Some(8),
        _ => None,
    }
}

fn bitmask(s: &str) -> Result<(u32, u32), OptError> {
    let m = c_int(s.trim())
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| invalid(format!("bad bitmask `{}`", s.trim())))?;
    Ok((m, if m == 0 { 0 } else { m.trailing_zeros() }))
}

/// `byte_test:nbytes, [!]op, value, offset [,relative] [,big|little]
/// [,string[,dec|hex|oct]] [,bitmask N]`.
pub fn parse_byte_test(v: &str, scope: &dyn VarScope) -> Result<ByteTest, OptError> {
    let a = args(v);
    let (Some(nb), Some(op), Some(value), Some(offset)) = (a.first(), a.get(1), a.get(2), a.get(3))
    else {
        return Err(invalid(
            "expected nbytes, operator, value, offset [, options]",
        ));
    };
    let (negated, op) = match op.strip_prefix('!') {
        Some(r) => (true, r.trim()),
        None => (false, *op),
    };
    let op = match op {
        "=" => TestOp::Eq,
        "" if negated => TestOp::Eq,
        "<" => TestOp::Lt,
        ">" => TestOp::Gt,
        "<=" => TestOp::Le,
        ">=" => TestOp::Ge,
        "&" => TestOp::And,
        "^" => TestOp::Xor,
        other => return Err(invalid(format!("unknown operator `{other}`"))),
    };
    let nbytes = operand(nb, "nbytes", scope, |s| dec_in(s, 0, u32::MAX as i64))?;
    let value = operand(value, "value", scope, c_int)?;
    let offset = operand(offset, "offset", scope, |s| {
        c_int(s).filter(|n| i32::try_from(*n).is_ok())
    })?;
    let mut t = ByteTest {
        nbytes,
        op,
        negated,
        value,
        offset,
        relative: false,
        format: Format::Binary { little: false },
        bitmask: None,
    };
    let (mut string, mut base, mut little) = (false, None, false);
    for o in a.iter().skip(4) {
        let lower = o.to_ascii_lowercase();
        match lower.as_str() {
            "relative" => t.relative = true,
            "string" => string = true,
            "big" => little = false,
            "little" => little = true,
            "dce" => return Err(OptError::Unsupported("byte_test dce".into())),
            b if base_of(b).is_some() => base = base_of(b),
            b if b.starts_with("bitmask") => t.bitmask = Some(bitmask(o.get(7..).unwrap_or(""))?),
            _ => return Err(invalid(format!("unknown option `{o}`"))),
        }
    }
    t.format = format(string, base, little)?;
    if let Operand::Lit(n) = t.nbytes {
        check_nbytes("byte_test", n, string)?;
    }
    Ok(t)
}

fn format(string: bool, base: Option<u32>, little: bool) -> Result<Format, OptError> {
    match (string, base) {
        (true, b) => Ok(Format::String {
            base: b.unwrap_or(0),
        }),
        (false, Some(_)) => Err(invalid("a base (dec, hex, oct) needs `string`")),
        (false, None) => Ok(Format::Binary { little }),
    }
}

fn check_nbytes(kw: &str, n: i64, string: bool) -> Result<(), OptError> {
    if string && n > 23 {
        return Err(invalid(format!(
            "{kw} cannot read more than 23 bytes with string"
        )));
    }
    if !string && n > 8 {
        return Err(invalid(format!(
            "{kw} cannot read more than 8 bytes without string"
        )));
    }
    Ok(())
}

/// `byte_jump:nbytes, offset [,relative] [,multiplier N] [,big|little]
/// [,string[,dec|hex|oct]] [,align] [,from_beginning|from_end]
/// [,post_offset N]`.
pub fn parse_byte_jump(v: &str, scope: &dyn VarScope) -> Result<ByteJump, OptError> {
    let a = args(v);
    let (Some(nb), Some(off)) = (a.first(), a.get(1)) else {
        return Err(invalid("expected nbytes, offset [, options]"));
    };
    let nbytes = operand(nb, "nbytes", scope, |s| dec_in(s, 0, u32::MAX as i64))?;
    let offset = operand(off, "offset", scope, |s| dec_in(s, -65535, 65535))?;
    let mut j = ByteJump {
        nbytes,
        offset,
        relative: false,
        format: Format::Binary { little: false },
        from: JumpFrom::Here,
        align: false,
        multiplier: 1,
        post_offset: 0,
    };
    let (mut string, mut base, mut little) = (false, None, false);
    for o in a.iter().skip(2) {
        let lower = o.to_ascii_lowercase();
        let mut words = lower.split_whitespace();
        let (w, arg) = (words.next().unwrap_or(""), words.next());
        match (w, arg) {
            ("relative", None) => j.relative = true,
            ("string", None) => string = true,
            ("big", None) => little = false,
            ("little", None) => little = true,
            ("align", None) => j.align = true,
            ("from_beginning", None) => j.from = set_from(j.from, JumpFrom::Begin)?,
            ("from_end", None) => j.from = set_from(j.from, JumpFrom::End)?,
            ("dce", None) => return Err(OptError::Unsupported("byte_jump dce".into())),
            ("multiplier", Some(n)) => {
                j.multiplier = dec_in(n, 1, 65535)
                    .ok_or_else(|| invalid(format!("bad multiplier `{n}` (1 to 65535)")))?
                    as u64
            }
            ("post_offset", Some(n)) => {
                j.post_offset = dec_in(n, -65535, 65535)
                    .ok_or_else(|| invalid(format!("bad post_offset `{n}` (-65535 to 65535)")))?
            }
            (b, None) if base_of(b).is_some() => base = base_of(b),
            _ => return Err(invalid(format!("unknown option `{o}`"))),
        }
    }
    j.format = format(string, base, little)?;
    if let Operand::Lit(n) = j.nbytes {
        check_nbytes("byte_jump", n, string)?;
    }
    Ok(j)
}

fn set_from(cur: JumpFrom, new: JumpFrom) -> Result<JumpFrom, OptError> {
    if cur != JumpFrom::Here && cur != new {
        return Err(invalid("from_beginning and from_end exclude each other"));
    }
    Ok(new)
}

/// `byte_extract:nbytes, offset, name [,relative] [,multiplier N]
/// [,big|little] [,string[,dec|hex|oct]] [,align 2|4]`.
pub fn parse_byte_extract(v: &str, scope: &mut dyn VarScope) -> Result<ByteExtract, OptError> {
    let a = args(v);
    let (Some(nb), Some(off), Some(name)) = (a.first(), a.get(1), a.get(2)) else {
        return Err(invalid("expected nbytes, offset, name [, options]"));
    };
    let nbytes: u8 = nb
        .parse()
        .map_err(|_| invalid(format!("bad nbytes `{nb}`")))?;
    let offset = dec_in(off, -65535, 65535)
        .ok_or_else(|| invalid(format!("bad offset `{off}` (-65535 to 65535)")))?;
    if !is_var_name(name)
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
    {
        return Err(invalid(format!("bad variable name `{name}`")));
    }
    let (mut string, mut base, mut endian) = (false, None, None);
    let mut e = ByteExtract {
        nbytes,
        offset,
        var: 0,
        relative: false,
        format: Format::Binary { little: false },
        multiplier: 1,
        align: 0,
    };
    for o in a.iter().skip(3) {
        let mut words = o.split_whitespace();
        let (w, arg) = (words.next().unwrap_or(""), words.next());
        match (w, arg) {
            ("relative", None) => e.relative = true,
            ("string", None) => string = true,
            ("big" | "little", None) => {
                if endian.is_some() {
                    return Err(invalid("endian given more than once"));
                }
                endian = Some(w == "little");
            }
            ("dce", None) => return Err(OptError::Unsupported("byte_extract dce".into())),
            ("multiplier", Some(n)) => {
                e.multiplier = dec_in(n, 1, 65535)
                    .ok_or_else(|| invalid(format!("bad multiplier `{n}` (1 to 65535)")))?
                    as u64
            }
            ("align", Some(n)) => {
                e.align = match n {
                    "2" => 2,
                    "4" => 4,
                    _ => return Err(invalid(format!("bad align `{n}` (2 or 4)"))),
                }
            }
            (b, None) if base_of(b).is_some() => {
                if !string {
                    return Err(invalid("a base (dec, hex, oct) must follow `string`"));
                }
                base = base_of(b);
            }
            _ => return Err(invalid(format!("unknown option `{o}`"))),
        }
    }
    if string {
        if endian.is_some() {
            return Err(invalid("big/little cannot be used with string"));
        }
        let base = base.unwrap_or(10);
        let max = match base {
            8 => 23,
            16 => 14,
            _ => 20,
        };
        if usize::from(nbytes) > max {
            return Err(invalid(format!(
                "cannot extract more than {max} bytes as a base-{base} string"
            )));
        }
        e.format = Format::String { base };
    } else {
        if nbytes > 8 {
            return Err(invalid("cannot extract more than 8 bytes without string"));
        }
        e.format = Format::Binary {
            little: endian == Some(true),
        };
    }
    e.var = scope
        .define(name)
        .ok_or_else(|| invalid(format!("more than {MAX_VARS} byte variables in one rule")))?;
    Ok(e)
}

/// `byte_math:bytes N, offset N, oper OP, rvalue N, result NAME
/// [,relative] [,endian big|little] [,string dec|hex|oct] [,bitmask N]`.
pub fn parse_byte_math(v: &str, scope: &mut dyn VarScope) -> Result<ByteMath, OptError> {
    let mut nbytes = None;
    let mut offset = None;
    let mut op = None;
    let mut rvalue = None;
    let mut result = None;
    let (mut relative, mut little, mut base, mut mask) = (false, false, None, None);
    for o in args(v) {
        let (name, val) = match o.split_once(char::is_whitespace) {
            Some((n, v)) => (n.trim(), v.trim()),
            None => (o, ""),
        };
        let dup = |set: bool| {
            if set {
                Err(invalid(format!("`{name}` given more than once")))
            } else {
                Ok(())
            }
        };
        match name {
            "bytes" => {
                dup(nbytes.is_some())?;
                let n = operand(val, "bytes", scope, |s| dec_in(s, 1, 10))?;
                nbytes = Some(n);
            }
            "offset" => {
                dup(offset.is_some())?;
                offset = Some(
                    dec_in(val, -65535, 65535)
                        .ok_or_else(|| invalid(format!("bad offset `{val}` (-65535 to 65535)")))?,
                );
            }
            "oper" => {
                dup(op.is_some())?;
                op = Some(match val {
                    "+" => MathOp::Add,
                    "-" => MathOp::Sub,
                    "*" => MathOp::Mul,
                    "/" => MathOp::Div,
                    "<<" => MathOp::Shl,
                    ">>" => MathOp::Shr,
                    _ => return Err(invalid(format!("unknown oper `{val}`"))),
                });
            }
            "rvalue" => {
                dup(rvalue.is_some())?;
                rvalue = Some(operand(val, "rvalue", scope, |s| {
                    s.parse::<u64>()
                        .ok()
                        .filter(|n| *n <= u64::from(u32::MAX))
                        .map(|n| n as i64)
                })?);
            }
            "result" => {
                dup(result.is_some())?;
                if !is_var_name(val) {
                    return Err(invalid(format!("bad result name `{val}`")));
                }
                result = Some(val.to_string());
            }
            "relative" => relative = true,
            "endian" => {
                little = match val {
                    "big" => false,
                    "little" => true,
                    "dce" => return Err(OptError::Unsupported("byte_math dce".into())),
                    _ => return Err(invalid(format!("bad endian `{val}`"))),
                }
            }
            "dce" => return Err(OptError::Unsupported("byte_math dce".into())),
            "string" => {
                base =
                    Some(base_of(val).ok_or_else(|| invalid(format!("bad string base `{val}`")))?)
            }
            "bitmask" => {
                let t = val
                    .strip_prefix("0x")
                    .or_else(|| val.strip_prefix("0X"))
                    .unwrap_or(val);
                let m = u32::from_str_radix(t, 16)
                    .map_err(|_| invalid(format!("bad bitmask `{val}`")))?;
                mask = Some((m, if m == 0 { 0 } else { m.trailing_zeros() }));
            }
            _ => return Err(invalid(format!("unknown byte_math option `{name}`"))),
        }
    }
    let (Some(nbytes), Some(offset), Some(op), Some(rvalue), Some(result)) =
        (nbytes, offset, op, rvalue, result)
    else {
        return Err(invalid(
            "bytes, offset, oper, rvalue and result are required",
        ));
    };
    if matches!(op, MathOp::Shl | MathOp::Shr) {
        if let Operand::Lit(n) = nbytes {
            if n > 4 {
                return Err(invalid("bytes must be 1 to 4 with << or >>"));
            }
        }
    }
    let var = scope
        .define(&result)
        .ok_or_else(|| invalid(format!("more than {MAX_VARS} byte variables in one rule")))?;
    Ok(ByteMath {
        nbytes,
        offset,
        op,
        rvalue,
        var,
        relative,
        format: match base {
            Some(base) => Format::String { base },
            None => Format::Binary { little },
        },
        bitmask: mask,
    })
}

/// `isdataat:[!]N[,relative][,rawbytes]`.
pub fn parse_isdataat(v: &str, scope: &dyn VarScope) -> Result<IsDataAt, OptError> {
    let a = args(v);
    let Some(first) = a.first() else {
        return Err(invalid("value missing"));
    };
    let (negated, n) = match first.strip_prefix('!') {
        Some(r) => (true, r.trim()),
        None => (false, *first),
    };
    let at = operand(n, "value", scope, |s| dec_in(s, 0, 65535))?;
    let mut relative = false;
    for o in a.iter().skip(1) {
        match *o {
            "relative" => relative = true,
            "rawbytes" => {}
            _ => return Err(invalid(format!("unknown option `{o}`"))),
        }
    }
    Ok(IsDataAt {
        at,
        relative,
        negated,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Scope(Vec<String>);

    impl VarScope for Scope {
        fn lookup(&self, name: &str) -> Option<u8> {
            self.0.iter().position(|n| n == name).map(|i| i as u8)
        }
        fn define(&mut self, name: &str) -> Option<u8> {
            if let Some(i) = self.lookup(name) {
                return Some(i);
            }
            if self.0.len() >= MAX_VARS {
                return None;
            }
            self.0.push(name.to_string());
            Some(self.0.len() as u8 - 1)
        }
    }

    fn bt(v: &str) -> ByteTest {
        parse_byte_test(v, &Scope::default()).unwrap()
    }

    fn run(op: &ByteOp, buf: &[u8], at: usize) -> Step {
        op.eval(buf, at, &mut [0; MAX_VARS])
    }

    #[test]
    fn strtoull_like_c() {
        assert_eq!(strtoull(b"  42x", 10), Some((42, 4)));
        assert_eq!(strtoull(b"0x1f", 0), Some((31, 4)));
        assert_eq!(strtoull(b"017", 0), Some((15, 3)));
        assert_eq!(strtoull(b"0x1f", 16), Some((31, 4)));
        assert_eq!(strtoull(b"-1", 10), Some((u64::MAX, 2)));
        assert_eq!(strtoull(b"x", 10), None);
        assert_eq!(strtoull(b"99999999999999999999999", 10), None);
        assert_eq!(c_int("0x10"), Some(16));
        assert_eq!(c_int("-5"), Some(-5));
        assert_eq!(c_int("5x"), None);
    }

    #[test]
    fn byte_test_bitmask_and_ops() {
        // 0x48 & 0xf8 = 0x48, >> 3 = 9.
        let t = ByteOp::Test(bt("1,=,0x9,0, bitmask 0xf8"));
        assert_eq!(run(&t, b"HTTP", 0), Step::Match(0));
        let t = ByteOp::Test(bt("1,!=,0x48,0, bitmask 0xf8"));
        assert_eq!(run(&t, b"HTTP", 0), Step::Match(0));
        let t = ByteOp::Test(bt("2,=,0x90a,0, bitmask 0xf8f8"));
        assert_eq!(run(&t, b"HTTP", 0), Step::Match(0));
        let t = ByteOp::Test(bt("1,<=,0,0,relative,string,dec"));
        assert_eq!(run(&t, b"HTTP/1.0", 7), Step::Match(7));
        assert_eq!(run(&t, b"HTTP/1.1", 7), Step::NoMatch);
        let t = ByteOp::Test(bt("2,>,256,0,little"));
        assert_eq!(run(&t, &[0x01, 0x02], 0), Step::Match(0));
        assert_eq!(run(&t, &[0x01], 0), Step::NoMatch);
        // Offset far outside the buffer: no match, no panic.
        let t = ByteOp::Test(bt("1,=,65,214748364"));
        assert_eq!(run(&t, b"A", 0), Step::NoMatch);
        let t = ByteOp::Test(bt("4,&,1,-3,relative"));
        assert_eq!(run(&t, &[0, 0, 0, 1], 1), Step::NoMatch);
        assert_eq!(run(&t, &[0, 0, 0, 1], 3), Step::Match(3));
    }

    #[test]
    fn byte_test_parse_errors() {
        let s = Scope::default();
        for bad in [
            "1,=,1",
            "9,=,1,0",
            "24,=,1,0,string",
            "1,~,1,0",
            "1,=,1,0,sideways",
            "1,=,nope,0",
            "1,=,1,0,hex",
        ] {
            assert!(
                matches!(parse_byte_test(bad, &s), Err(OptError::Invalid(_))),
                "{bad}"
            );
        }
        assert!(matches!(
            parse_byte_test("1,=,1,0,dce", &s),
            Err(OptError::Unsupported(_))
        ));
    }

    #[test]
    fn byte_jump_forms() {
        let s = Scope::default();
        // "0005" then jump 5 from the end of the number: offset 9.
        let j = ByteOp::Jump(parse_byte_jump("4,0,string,dec", &s).unwrap());
        assert_eq!(run(&j, b"0005abcdefgh", 0), Step::Match(9));
        let j = ByteOp::Jump(parse_byte_jump("1,0,relative,post_offset -8", &s).unwrap());
        // Before the start of the buffer: clamps to 0.
        assert_eq!(run(&j, &[0, 1, 2, 3, 0], 4), Step::Match(0));
        let j = ByteOp::Jump(parse_byte_jump("1,0", &s).unwrap());
        assert_eq!(run(&j, &[3, 1, 2, 3], 0), Step::Match(4));
        assert_eq!(run(&j, &[4, 1, 2, 3], 0), Step::NoMatch);
        let j = ByteOp::Jump(parse_byte_jump("0,0,relative,from_end,post_offset -3", &s).unwrap());
        assert_eq!(run(&j, b"abcdef", 1), Step::Match(3));
        let j = ByteOp::Jump(parse_byte_jump("1,0,align,multiplier 2,from_beginning", &s).unwrap());
        assert_eq!(run(&j, &[3, 0, 0, 0, 0, 0, 0, 0, 0], 0), Step::Match(8));
        assert!(parse_byte_jump("1,0,from_end,from_beginning", &s).is_err());
        assert!(parse_byte_jump("9,0", &s).is_err());
        assert!(parse_byte_jump("1,70000", &s).is_err());
    }

    #[test]
    fn extract_math_and_variables() {
        let mut s = Scope::default();
        let e = parse_byte_extract("1,0,len,relative", &mut s).unwrap();
        let m = parse_byte_math(
            "bytes 1, offset 0, oper +, rvalue len, result sum, relative",
            &mut s,
        )
        .unwrap();
        let t = parse_byte_test("1,=,sum,0,relative", &s).unwrap();
        let mut vals = [0u64; MAX_VARS];
        let buf = [5u8, 7, 12];
        let at = match ByteOp::Extract(e).eval(&buf, 0, &mut vals) {
            Step::Match(a) => a,
            other => panic!("{other:?}"),
        };
        assert_eq!((at, vals[0]), (1, 5));
        let at = match ByteOp::Math(m).eval(&buf, at, &mut vals) {
            Step::Match(a) => a,
            other => panic!("{other:?}"),
        };
        assert_eq!((at, vals[1]), (2, 12));
        assert_eq!(ByteOp::Test(t).eval(&buf, at, &mut vals), Step::Match(2));
        assert!(parse_byte_test("1,=,undefined,0", &s).is_err());
        assert!(parse_byte_extract("9,0,x", &mut s).is_err());
        assert!(parse_byte_extract("2,0,x,string,big", &mut s).is_err());
        assert!(parse_byte_extract("1,0,x,hex", &mut s).is_err());
        assert!(parse_byte_math("bytes 5, offset 0, oper <<, rvalue 1, result r", &mut s).is_err());
        assert!(parse_byte_math("bytes 1, offset 0, oper +, rvalue 1", &mut s).is_err());
        let d = parse_byte_math("bytes 1, offset 0, oper /, rvalue 0, result r", &mut s).unwrap();
        assert_eq!(ByteOp::Math(d).eval(&buf, 0, &mut vals), Step::NoMatch);
    }

    #[test]
    fn isdataat_absolute_relative_negated() {
        let s = Scope::default();
        let buf = [0u8; 32];
        let p = |v: &str| ByteOp::IsDataAt(parse_isdataat(v, &s).unwrap());
        assert_eq!(run(&p("31"), &buf, 0), Step::Match(0));
        assert_eq!(run(&p("32"), &buf, 0), Step::NoMatch);
        assert_eq!(run(&p("32,relative"), &buf, 0), Step::Match(0));
        assert_eq!(run(&p("33,relative"), &buf, 0), Step::NoMatch);
        assert_eq!(run(&p("31,relative"), &buf, 1), Step::Match(1));
        assert_eq!(run(&p("32,relative"), &buf, 1), Step::NoMatch);
        assert_eq!(run(&p("!1,relative"), &buf, 32), Step::Match(32));
        assert_eq!(run(&p("!1,relative"), &buf, 31), Step::NoMatch);
        assert_eq!(run(&p("!40"), &buf, 0), Step::Match(0));
        assert!(parse_isdataat("x", &s).is_err());
        assert!(parse_isdataat("1,sideways", &s).is_err());
    }
}
