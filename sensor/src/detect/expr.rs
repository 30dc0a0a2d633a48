//! Suricata's list syntax, shared by addresses and ports: `any`, a value,
//! a `$VARIABLE`, a list `[a,b,[c,d]]`, and negation `!x` / `![...]`.
//!
//! Semantics of a list: it matches when at least one of its positive
//! entries matches (or it has none) and none of its negated entries does,
//! so `[10.0.0.0/8,!10.1.0.0/16]` is "10/8 except 10.1/16".

/// A parsed list expression over leaf values `T`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr<T> {
    Any,
    Leaf(T),
    List(Vec<Expr<T>>),
    Not(Box<Expr<T>>),
}

/// Why an address or port expression did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExprError {
    #[error("empty value")]
    Empty,
    #[error("unbalanced brackets in `{0}`")]
    Unbalanced(String),
    #[error("undefined variable `${0}`: define it in the rule variables of the configuration")]
    UndefinedVar(String),
    #[error("variables nest too deeply (a variable refers to itself?) at `${0}`")]
    TooDeep(String),
    #[error("`{0}`: {1}")]
    BadValue(String, String),
    #[error("unexpected `{0}` after the end of the expression")]
    Trailing(String),
}

/// Variables nested deeper than this are taken as a cycle.
const MAX_DEPTH: u8 = 16;

impl<T> Expr<T> {
    /// True when the expression accepts a value, given how one leaf tests it.
    pub fn matches(&self, leaf: &impl Fn(&T) -> bool) -> bool {
        match self {
            Expr::Any => true,
            Expr::Leaf(t) => leaf(t),
            Expr::Not(e) => !e.matches(leaf),
            Expr::List(items) => {
                let mut has_pos = false;
                let mut pos_hit = false;
                for it in items {
                    match it {
                        Expr::Not(inner) => {
                            if inner.matches(leaf) {
                                return false;
                            }
                        }
                        _ => {
                            has_pos = true;
                            if !pos_hit && it.matches(leaf) {
                                pos_hit = true;
                            }
                        }
                    }
                }
                !has_pos || pos_hit
            }
        }
    }

    /// True for `any` (also a list holding only `any`).
    pub fn is_any(&self) -> bool {
        match self {
            Expr::Any => true,
            Expr::List(items) => items.len() == 1 && items.first().is_some_and(|e| e.is_any()),
            _ => false,
        }
    }

    /// The leaves of a purely positive expression (no negation, no `any`),
    /// flattened; `None` otherwise.
    pub fn positive_leaves(&self) -> Option<Vec<&T>> {
        let mut out = Vec::new();
        fn walk<'a, T>(e: &'a Expr<T>, out: &mut Vec<&'a T>) -> bool {
            match e {
                Expr::Leaf(t) => {
                    out.push(t);
                    true
                }
                Expr::List(items) => items.iter().all(|i| walk(i, out)),
                Expr::Any | Expr::Not(_) => false,
            }
        }
        walk(self, &mut out).then_some(out)
    }
}

/// Parses an expression. `leaf` parses one value; `lookup` resolves a
/// variable name (without `$`) to its text.
pub fn parse<T>(
    s: &str,
    leaf: &dyn Fn(&str) -> Result<T, String>,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Expr<T>, ExprError> {
    parse_depth(s, leaf, lookup, 0)
}

fn parse_depth<T>(
    s: &str,
    leaf: &dyn Fn(&str) -> Result<T, String>,
    lookup: &dyn Fn(&str) -> Option<String>,
    depth: u8,
) -> Result<Expr<T>, ExprError> {
    let mut p = Parser {
        s: s.as_bytes(),
        text: s,
        pos: 0,
        leaf,
        lookup,
        depth,
    };
    p.skip_ws();
    if p.pos >= p.s.len() {
        return Err(ExprError::Empty);
    }
    let e = p.one()?;
    p.skip_ws();
    if p.pos < p.s.len() {
        let rest = p.text.get(p.pos..).unwrap_or("").to_string();
        if rest.starts_with(']') {
            return Err(ExprError::Unbalanced(s.to_string()));
        }
        return Err(ExprError::Trailing(rest));
    }
    Ok(e)
}

struct Parser<'a, T> {
    s: &'a [u8],
    text: &'a str,
    pos: usize,
    leaf: &'a dyn Fn(&str) -> Result<T, String>,
    lookup: &'a dyn Fn(&str) -> Option<String>,
    depth: u8,
}

impl<T> Parser<'_, T> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(|c| c.is_ascii_whitespace()) {
            self.pos += 1;
        }
    }

    fn one(&mut self) -> Result<Expr<T>, ExprError> {
        self.skip_ws();
        match self.peek() {
            None => Err(ExprError::Empty),
            Some(b'!') => {
                self.pos += 1;
                Ok(Expr::Not(Box::new(self.one()?)))
            }
            Some(b'[') => {
                self.pos += 1;
                let mut items = Vec::new();
                loop {
                    self.skip_ws();
                    if self.peek() == Some(b']') && items.is_empty() {
                        return Err(ExprError::Empty);
                    }
                    // A nested positive list merges into this one, so its
                    // negations exclude from the whole list (as Suricata).
                    match self.one()? {
                        Expr::List(inner) => items.extend(inner),
                        other => items.push(other),
                    }
                    self.skip_ws();
                    match self.peek() {
                        Some(b',') => self.pos += 1,
                        Some(b']') => {
                            self.pos += 1;
                            return Ok(Expr::List(items));
                        }
                        _ => return Err(ExprError::Unbalanced(self.text.to_string())),
                    }
                }
            }
            Some(b'$') => {
                self.pos += 1;
                let start = self.pos;
                while self
                    .peek()
                    .is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-')
                {
                    self.pos += 1;
                }
                let name = self.text.get(start..self.pos).unwrap_or("");
                if name.is_empty() {
                    return Err(ExprError::BadValue(
                        "$".into(),
                        "variable name missing".into(),
                    ));
                }
                if self.depth >= MAX_DEPTH {
                    return Err(ExprError::TooDeep(name.to_string()));
                }
                let value =
                    (self.lookup)(name).ok_or_else(|| ExprError::UndefinedVar(name.to_string()))?;
                parse_depth(&value, self.leaf, self.lookup, self.depth + 1).map_err(|e| match e {
                    ExprError::TooDeep(_) | ExprError::UndefinedVar(_) => e,
                    other => ExprError::BadValue(format!("${name}"), other.to_string()),
                })
            }
            Some(b',') | Some(b']') => Err(ExprError::Unbalanced(self.text.to_string())),
            Some(_) => {
                let start = self.pos;
                while self.peek().is_some_and(|c| {
                    c != b',' && c != b']' && c != b'[' && !c.is_ascii_whitespace()
                }) {
                    self.pos += 1;
                }
                let tok = self.text.get(start..self.pos).unwrap_or("");
                if tok.eq_ignore_ascii_case("any") {
                    return Ok(Expr::Any);
                }
                (self.leaf)(tok)
                    .map(Expr::Leaf)
                    .map_err(|why| ExprError::BadValue(tok.to_string(), why))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn num(s: &str) -> Result<u32, String> {
        s.parse().map_err(|_| "not a number".to_string())
    }

    fn vars(name: &str) -> Option<String> {
        match name {
            "A" => Some("[1,2]".into()),
            "NOTA" => Some("!$A".into()),
            "LOOP" => Some("$LOOP".into()),
            _ => None,
        }
    }

    fn m(e: &Expr<u32>, v: u32) -> bool {
        e.matches(&|x: &u32| *x == v)
    }

    #[test]
    fn lists_negation_and_variables() {
        let e = parse("[1,2,[3,!2]]", &num, &vars).unwrap();
        assert!(m(&e, 1) && m(&e, 3));
        assert!(!m(&e, 4));
        // Negated entries exclude even when listed positively.
        assert!(!m(&e, 2));
        let e = parse("$NOTA", &num, &vars).unwrap();
        assert!(!m(&e, 1) && m(&e, 7));
        let e = parse("![1, 2]", &num, &vars).unwrap();
        assert!(!m(&e, 2) && m(&e, 5));
        let e = parse("[!1]", &num, &vars).unwrap();
        assert!(!m(&e, 1) && m(&e, 5));
        assert!(parse("any", &num, &vars).unwrap().is_any());
    }

    #[test]
    fn errors_name_the_problem() {
        assert_eq!(
            parse("$NOPE", &num, &vars),
            Err(ExprError::UndefinedVar("NOPE".into()))
        );
        assert!(matches!(
            parse("$LOOP", &num, &vars),
            Err(ExprError::TooDeep(_))
        ));
        assert!(matches!(
            parse("[1,2", &num, &vars),
            Err(ExprError::Unbalanced(_))
        ));
        assert!(matches!(
            parse("1]", &num, &vars),
            Err(ExprError::Unbalanced(_))
        ));
        assert!(matches!(
            parse("x", &num, &vars),
            Err(ExprError::BadValue(..))
        ));
        assert!(matches!(parse("[]", &num, &vars), Err(ExprError::Empty)));
        assert!(matches!(parse("", &num, &vars), Err(ExprError::Empty)));
    }

    #[test]
    fn positive_leaves_only_for_plain_lists() {
        let e = parse("[1,[2,3]]", &num, &vars).unwrap();
        assert_eq!(e.positive_leaves().unwrap(), vec![&1, &2, &3]);
        assert!(parse("[1,!2]", &num, &vars)
            .unwrap()
            .positive_leaves()
            .is_none());
    }
}
