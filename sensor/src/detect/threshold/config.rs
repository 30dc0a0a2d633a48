//! Suricata's `threshold.config`: one directive per line (a trailing `\`
//! continues it; `#` starts a comment line):
//!
//! ```text
//! threshold gen_id G, sig_id S, type limit|threshold|both, track by_src|by_dst|by_rule|by_both, count N, seconds T
//! event_filter ...                      (the same as threshold)
//! rate_filter gen_id G, sig_id S, track ..., count N, seconds T, new_action alert|drop|pass|reject|log|sdrop, timeout T
//! suppress gen_id G, sig_id S
//! suppress gen_id G, sig_id S, track by_src|by_dst|by_either, ip ADDRESSES
//! ```
//!
//! `sig_id 0` applies to every rule (of `gen_id`, or of all when that is
//! 0 too). A bad line is an error with `file:line`, skipped; the others
//! still apply, as in Suricata. How lines attach to rules (see
//! [`Directive`]) follows `util-threshold-config.c`.

use std::path::Path;

use super::address::{self, AddrExpr};
use super::{NewAction, RateFilter, Suppress, SuppressTrack, Threshold, ThresholdType, Track};
use crate::detect::{Engine, Vars};

/// Which rules a line is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// `gen_id 0, sig_id 0`.
    All,
    /// `gen_id G, sig_id 0`.
    Gid(u32),
    /// One rule.
    Rule { gid: u32, sid: u32 },
}

impl Scope {
    /// True for a rule `gid:sid` this scope covers.
    pub fn covers(self, gid: u32, sid: u32) -> bool {
        match self {
            Scope::All => true,
            Scope::Gid(g) => g == gid,
            Scope::Rule { gid: g, sid: s } => g == gid && s == sid,
        }
    }
}

/// What a line does to the rules of its scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Directive {
    /// `threshold`/`event_filter`/`rate_filter`. For one rule, a
    /// threshold replaces the rule's last filter, and a rate_filter is
    /// ignored when the rule has a filter; for many rules, rules with a
    /// filter are left alone.
    Filter(Threshold),
    /// `suppress` with addresses: matches of these addresses do not
    /// alert.
    Suppress(Suppress),
    /// `suppress` without addresses: the rules never alert (their action
    /// still applies).
    SuppressAll,
}

/// One valid line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// `file:line`.
    pub origin: String,
    pub scope: Scope,
    pub directive: Directive,
}

/// One invalid line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{origin}: {message}")]
pub struct LineError {
    /// `file:line` (line 0: the file itself).
    pub origin: String,
    pub message: String,
}

/// A parsed threshold.config.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ThresholdConfig {
    pub entries: Vec<Entry>,
    pub errors: Vec<LineError>,
}

/// Where Suricata looks when `threshold-file` is not set.
pub const DEFAULT_PATH: &str = "/etc/suricata/threshold.config";

/// Reads `path` (the configured `threshold-file`, else [`DEFAULT_PATH`]
/// when it exists) and attaches its entries to `engine`'s rules. Problems
/// are logged, never fatal (as Suricata outside `-T`); returns the bad
/// lines.
pub fn install(engine: &mut Engine, path: Option<&Path>, vars: &Vars) -> Vec<LineError> {
    let (path, configured) = match path {
        Some(p) => (p, true),
        None => (Path::new(DEFAULT_PATH), false),
    };
    let text = match std::fs::read(path) {
        Ok(b) => String::from_utf8_lossy(&b).into_owned(),
        Err(e) if configured => {
            tracing::warn!(file = %path.display(), "cannot read the threshold file: {e}");
            return vec![LineError {
                origin: format!("{}:0", path.display()),
                message: e.to_string(),
            }];
        }
        Err(_) => return Vec::new(),
    };
    let lookup = |n: &str| vars.address(n);
    let cfg = parse(&text, &path.display().to_string(), &lookup);
    for e in &cfg.errors {
        tracing::error!(origin = %e.origin, "threshold.config line skipped: {}", e.message);
    }
    let done = engine.apply_thresholds(&cfg.entries);
    for (origin, gid, sid) in &done.unknown {
        tracing::warn!(%origin, gid, sid, "threshold.config: no such rule");
    }
    for (origin, sid) in &done.overridden {
        tracing::warn!(%origin, sid, "threshold.config: the rule's own threshold is kept");
    }
    tracing::info!(
        file = %path.display(),
        entries = cfg.entries.len(),
        errors = cfg.errors.len(),
        "threshold config parsed"
    );
    cfg.errors
}

/// Parses a threshold.config text; `file` names it in origins and
/// `lookup` resolves address variables (`$HOME_NET`) of suppress lists.
pub fn parse(text: &str, file: &str, lookup: &dyn Fn(&str) -> Option<String>) -> ThresholdConfig {
    let mut out = ThresholdConfig::default();
    let mut pending = String::new();
    let mut start = 0;
    for (i, raw) in text.lines().enumerate() {
        if pending.is_empty() {
            start = i + 1;
            let t = raw.trim_start();
            if t.is_empty() || t.starts_with('#') {
                continue;
            }
        }
        // A trailing backslash continues the directive on the next line.
        match raw.trim_end().strip_suffix('\\') {
            Some(head) => {
                pending.push_str(head);
                continue;
            }
            None => pending.push_str(raw),
        }
        let line = std::mem::take(&mut pending);
        let origin = format!("{file}:{start}");
        match parse_line(&line, lookup) {
            Ok((scope, directive)) => out.entries.push(Entry {
                origin,
                scope,
                directive,
            }),
            Err(message) => out.errors.push(LineError { origin, message }),
        }
    }
    if !pending.is_empty() {
        out.errors.push(LineError {
            origin: format!("{file}:{start}"),
            message: "the file ends inside a continued (`\\`) line".into(),
        });
    }
    out
}

/// A rule as threshold.config entries see it.
pub struct Target<'a> {
    pub gid: u32,
    pub sid: u32,
    pub limits: &'a mut super::Limits,
    /// The rule gives no alert record (its action still applies).
    pub noalert: &'a mut bool,
}

/// What applying a configuration did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Applied {
    /// Entries applied to at least one rule.
    pub applied: usize,
    /// Entries for a rule that is not loaded (`file:line`, gid, sid).
    pub unknown: Vec<(String, u32, u32)>,
    /// Entries a rule's own threshold or an earlier entry took
    /// precedence over (`file:line`, sid).
    pub overridden: Vec<(String, u32)>,
}

/// Attaches the entries, in file order, to the rules they are for.
pub fn apply(entries: &[Entry], rules: &mut [Target<'_>]) -> Applied {
    let mut out = Applied::default();
    for e in entries {
        let mut hit = false;
        for r in rules.iter_mut().filter(|r| e.scope.covers(r.gid, r.sid)) {
            hit = true;
            let filters = &mut r.limits.filters;
            match &e.directive {
                Directive::SuppressAll => *r.noalert = true,
                Directive::Suppress(s) => r.limits.suppress.push(s.clone()),
                // Many rules: those with a filter keep theirs.
                Directive::Filter(t) if !matches!(e.scope, Scope::Rule { .. }) => {
                    if filters.is_empty() {
                        filters.push(*t);
                    } else {
                        out.overridden.push((e.origin.clone(), r.sid));
                    }
                }
                // One rule: a rate_filter yields to a filter already there;
                // a threshold replaces the last one.
                Directive::Filter(t) if matches!(t.kind, ThresholdType::Rate(_)) => {
                    if filters.is_empty() {
                        filters.push(*t);
                    } else {
                        out.overridden.push((e.origin.clone(), r.sid));
                    }
                }
                Directive::Filter(t) => {
                    filters.pop();
                    filters.push(*t);
                }
            }
        }
        match (hit, e.scope) {
            (false, Scope::Rule { gid, sid }) => out.unknown.push((e.origin.clone(), gid, sid)),
            (true, _) => out.applied += 1,
            (false, _) => {}
        }
    }
    out
}

/// Parses one directive.
fn parse_line(
    line: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<(Scope, Directive), String> {
    let line = line.trim();
    let (kind, rest) = ["event_filter", "threshold", "rate_filter", "suppress"]
        .iter()
        .find_map(|k| line.strip_prefix(k).map(|r| (*k, r)))
        .ok_or_else(|| {
            "not a directive (threshold, event_filter, rate_filter, suppress)".to_string()
        })?;
    let rest = rest.trim_start();
    let (gid, rest) = number_after(rest, "gen_id")?;
    let rest = rest
        .trim_start()
        .strip_prefix(',')
        .ok_or("`,` expected after gen_id")?;
    let (sid, rest) = number_after(rest.trim_start(), "sig_id")?;
    let scope = match (gid, sid) {
        (0, 0) => Scope::All,
        (g, 0) => Scope::Gid(g),
        (0, _) => return Err("sig_id above 0 needs a gen_id above 0".into()),
        (gid, sid) => Scope::Rule { gid, sid },
    };
    let rest = rest.trim();
    if kind == "suppress" {
        if rest.is_empty() {
            return Ok((scope, Directive::SuppressAll));
        }
        let fields = options(rest, 2)?;
        let track = match value(&fields, 0, "track")? {
            "by_src" => SuppressTrack::BySrc,
            "by_dst" => SuppressTrack::ByDst,
            "by_either" => SuppressTrack::ByEither,
            v => return Err(format!("suppress track `{v}` (by_src, by_dst, by_either)")),
        };
        let ip = value(&fields, 1, "ip")?;
        let addrs: AddrExpr =
            address::parse(ip, lookup).map_err(|e| format!("suppress ip `{ip}`: {e}"))?;
        return Ok((scope, Directive::Suppress(Suppress { track, addrs })));
    }
    let rate = kind == "rate_filter";
    let fields = options(rest, if rate { 5 } else { 4 })?;
    let at = |i: usize| if rate { i } else { i + 1 };
    let kind = if rate {
        let new_action = value(&fields, 3, "new_action")?;
        let new_action = NewAction::parse(new_action).ok_or_else(|| {
            format!("new_action `{new_action}` (alert, drop, pass, reject, log, sdrop)")
        })?;
        let timeout = number(value(&fields, 4, "timeout")?, "timeout")?;
        ThresholdType::Rate(RateFilter {
            new_action,
            timeout,
        })
    } else {
        match value(&fields, 0, "type")? {
            "limit" => ThresholdType::Limit,
            "both" => ThresholdType::Both,
            "threshold" => ThresholdType::Threshold,
            v => return Err(format!("type `{v}` (limit, both, threshold)")),
        }
    };
    let track = value(&fields, at(0), "track")?;
    let track = Track::parse(track)
        .ok_or_else(|| format!("track `{track}` (by_src, by_dst, by_rule, by_both)"))?;
    let count = number(value(&fields, at(1), "count")?, "count")?;
    if count == 0 {
        return Err("count must be above 0".into());
    }
    let seconds = number(value(&fields, at(2), "seconds")?, "seconds")?;
    Ok((
        scope,
        Directive::Filter(Threshold {
            kind,
            track,
            count,
            seconds,
        }),
    ))
}

/// `name N` at the start of `s`: N and what follows.
fn number_after<'a>(s: &'a str, name: &str) -> Result<(u32, &'a str), String> {
    let s = s
        .strip_prefix(name)
        .ok_or_else(|| format!("`{name}` expected"))?
        .trim_start();
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, rest) = s.split_at(end);
    Ok((number(digits, name)?, rest))
}

fn number(s: &str, name: &str) -> Result<u32, String> {
    s.parse()
        .map_err(|_| format!("{name} `{s}` is not a number (0 to 4294967295)"))
}

/// The `, name value` options after the sid: exactly `n`, the last one
/// taking the rest of the line (an address list has commas).
fn options(rest: &str, n: usize) -> Result<Vec<&str>, String> {
    let rest = rest.strip_prefix(',').ok_or("`,` expected after sig_id")?;
    let fields: Vec<&str> = rest.splitn(n, ',').map(str::trim).collect();
    if fields.len() != n {
        return Err(format!("{n} options expected, found {}", fields.len()));
    }
    Ok(fields)
}

/// The value of option `i`, which must be called `name`.
fn value<'a>(fields: &[&'a str], i: usize, name: &str) -> Result<&'a str, String> {
    let f = fields.get(i).copied().unwrap_or_default();
    let v = f
        .strip_prefix(name)
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| format!("option {} must be `{name} VALUE`, found `{f}`", i + 1))?;
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(n: &str) -> Option<String> {
        (n == "SUPPRESS").then(|| "[10.0.0.0/8,145.0.0.0/8]".to_string())
    }

    fn one(line: &str) -> Result<(Scope, Directive), String> {
        let c = parse(line, "t.config", &vars);
        match (c.entries.first(), c.errors.first()) {
            (Some(e), None) => Ok((e.scope, e.directive.clone())),
            (None, Some(e)) => Err(e.to_string()),
            _ => panic!("{line}: {c:?}"),
        }
    }

    fn filter(line: &str) -> Threshold {
        match one(line) {
            Ok((_, Directive::Filter(t))) => t,
            other => panic!("{line}: {other:?}"),
        }
    }

    #[test]
    fn threshold_and_event_filter() {
        let t = filter(
            "threshold gen_id 1, sig_id 1000001, type limit, track by_rule, count 3, seconds 1000",
        );
        assert_eq!(
            t,
            Threshold {
                kind: ThresholdType::Limit,
                track: Track::ByRule,
                count: 3,
                seconds: 1000
            }
        );
        let t =
            filter("event_filter gen_id 1, sig_id 2, type both, track by_both, count 1, seconds 0");
        assert_eq!(
            (t.kind, t.track, t.seconds),
            (ThresholdType::Both, Track::ByBoth, 0)
        );
    }

    #[test]
    fn rate_filter() {
        let t = filter(
            "rate_filter gen_id 1, sig_id 1000001, track by_dst, count 1, seconds 60, new_action drop, timeout 1000",
        );
        assert_eq!(
            t.kind,
            ThresholdType::Rate(RateFilter {
                new_action: NewAction::Drop,
                timeout: 1000
            })
        );
        assert_eq!((t.track, t.count, t.seconds), (Track::ByDst, 1, 60));
    }

    #[test]
    fn suppress_forms_and_scopes() {
        let (scope, d) = one("suppress gen_id 1, sig_id 7").unwrap();
        assert_eq!(
            (scope, d),
            (Scope::Rule { gid: 1, sid: 7 }, Directive::SuppressAll)
        );
        let (scope, d) = one("suppress gen_id 0, sig_id 0, track by_either, ip $SUPPRESS").unwrap();
        assert_eq!(scope, Scope::All);
        let Directive::Suppress(s) = d else {
            panic!("{d:?}")
        };
        assert_eq!(s.track, SuppressTrack::ByEither);
        assert!(s.hides(
            "145.254.160.237".parse().unwrap(),
            "8.8.8.8".parse().unwrap()
        ));
        let (_, d) =
            one("suppress gen_id 1, sig_id 7, track by_src, ip [192.0.2.0/24, 2001:db8::/32]")
                .unwrap();
        assert!(matches!(d, Directive::Suppress(_)));
        assert_eq!(one("suppress gen_id 3, sig_id 0").unwrap().0, Scope::Gid(3));
    }

    #[test]
    fn continuation_comments_and_origins() {
        let text = "# comment\n\n  # indented comment\nthreshold gen_id 1, sig_id 1, \\\n   type limit, track by_src, count 1, seconds 60\nbogus line\n";
        let c = parse(text, "t.config", &vars);
        assert_eq!(c.entries.len(), 1);
        assert_eq!(c.entries[0].origin, "t.config:4");
        assert_eq!(c.errors.len(), 1);
        assert_eq!(c.errors[0].origin, "t.config:6");
    }

    /// Applies `text` to rules `gid:sid` with the given own filters;
    /// returns each rule's filters and noalert, and the report.
    fn applied(
        text: &str,
        rules: &[(u32, u32, Option<Threshold>)],
    ) -> (Vec<(Vec<Threshold>, usize, bool)>, Applied) {
        let c = parse(text, "t.config", &vars);
        assert!(c.errors.is_empty(), "{:?}", c.errors);
        let mut limits: Vec<super::super::Limits> = rules
            .iter()
            .map(|(_, _, t)| super::super::Limits {
                suppress: Vec::new(),
                filters: t.iter().copied().collect(),
            })
            .collect();
        let mut noalert = vec![false; rules.len()];
        let mut targets: Vec<Target<'_>> = rules
            .iter()
            .zip(limits.iter_mut().zip(noalert.iter_mut()))
            .map(|((gid, sid, _), (limits, noalert))| Target {
                gid: *gid,
                sid: *sid,
                limits,
                noalert,
            })
            .collect();
        let report = apply(&c.entries, &mut targets);
        let out = limits
            .into_iter()
            .zip(noalert)
            .map(|(l, n)| (l.filters, l.suppress.len(), n))
            .collect();
        (out, report)
    }

    fn kinds(f: &[Threshold]) -> Vec<ThresholdType> {
        f.iter().map(|t| t.kind).collect()
    }

    #[test]
    fn precedence_over_rule_keywords() {
        let own = Some(Threshold {
            kind: ThresholdType::DetectionFilter,
            track: Track::BySrc,
            count: 5,
            seconds: 60,
        });
        let rules = [(1, 10, own), (1, 11, None), (3, 12, None)];
        // One rule: a threshold replaces the rule's own filter.
        let (r, _) = applied(
            "threshold gen_id 1, sig_id 10, type limit, track by_src, count 1, seconds 60",
            &rules,
        );
        assert_eq!(kinds(&r[0].0), vec![ThresholdType::Limit]);
        // One rule: a rate_filter yields to the rule's own filter.
        let rate = "rate_filter gen_id 1, sig_id 10, track by_rule, count 1, seconds 60, new_action drop, timeout 10";
        let (r, rep) = applied(rate, &rules);
        assert_eq!(kinds(&r[0].0), vec![ThresholdType::DetectionFilter]);
        assert_eq!(rep.overridden.len(), 1);
        // All rules: rules with a filter keep theirs.
        let (r, rep) = applied(
            "event_filter gen_id 0, sig_id 0, type both, track by_dst, count 2, seconds 5",
            &rules,
        );
        assert_eq!(kinds(&r[0].0), vec![ThresholdType::DetectionFilter]);
        assert_eq!(kinds(&r[1].0), vec![ThresholdType::Both]);
        assert_eq!(kinds(&r[2].0), vec![ThresholdType::Both]);
        assert_eq!(rep.applied, 1);
        // A gen_id scope.
        let (r, _) = applied(
            "threshold gen_id 3, sig_id 0, type limit, track by_src, count 1, seconds 5",
            &rules,
        );
        assert!(r[1].0.is_empty());
        assert_eq!(kinds(&r[2].0), vec![ThresholdType::Limit]);
    }

    #[test]
    fn suppress_and_unknown_rules() {
        let rules = [(1, 10, None), (1, 11, None)];
        let text = concat!(
            "suppress gen_id 1, sig_id 10\n",
            "suppress gen_id 1, sig_id 11, track by_src, ip 192.0.2.1\n",
            "suppress gen_id 1, sig_id 99\n"
        );
        let (r, rep) = applied(text, &rules);
        assert_eq!((r[0].1, r[0].2), (0, true));
        assert_eq!((r[1].1, r[1].2), (1, false));
        assert_eq!(rep.unknown, vec![("t.config:3".to_string(), 1, 99)]);
        assert_eq!(rep.applied, 2);
    }

    #[test]
    fn bad_lines_are_errors() {
        for bad in [
            "threshold gen_id 1, sig_id 1, type limit, track by_src, count 0, seconds 60",
            "threshold gen_id 1, sig_id 1, track by_src, type limit, count 1, seconds 60",
            "threshold gen_id 1, sig_id 1, type limit, track by_flow, count 1, seconds 60",
            "threshold gen_id 0, sig_id 5, type limit, track by_src, count 1, seconds 60",
            "threshold gen_id 1, sig_id 1, type limit, track by_src, count 1",
            "threshold gen_id x, sig_id 1, type limit, track by_src, count 1, seconds 1",
            "rate_filter gen_id 1, sig_id 1, track by_src, count 1, seconds 60, new_action block, timeout 5",
            "rate_filter gen_id 1, sig_id 1, track by_src, count 1, seconds 60, new_action drop",
            "suppress gen_id 1, sig_id 1, track by_rule, ip 192.0.2.1",
            "suppress gen_id 1, sig_id 1, track by_src, ip 192.0.2.300",
            "suppress gen_id 1, sig_id 1, track by_src, ip $NOPE",
            "suppress gen_id 1, sig_id 1, track by_src",
            "limit gen_id 1, sig_id 1",
            "threshold gen_id 1, sig_id 99999999999, type limit, track by_src, count 1, seconds 1",
        ] {
            assert!(one(bad).is_err(), "{bad}");
        }
        let c = parse("threshold gen_id 1, sig_id 1, \\", "t.config", &vars);
        assert_eq!(c.errors.len(), 1);
    }
}
