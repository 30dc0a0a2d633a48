//! Human durations: `90s`, `10m`, `1h30m`, `7d`, `1w`, `250ms`, or a bare
//! number of seconds.

use std::time::Duration;

/// Why a duration did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{input}` is not a duration: {why} (examples: 30s, 10m, 1h30m, 7d)")]
pub struct DurationError {
    pub input: String,
    pub why: &'static str,
}

/// Parses a duration. Units: ms, s, m, h, d, w. Parts add up (`1h30m`).
pub fn parse_duration(s: &str) -> Result<Duration, DurationError> {
    let err = |why| DurationError {
        input: s.to_string(),
        why,
    };
    let t = s.trim();
    if t.is_empty() {
        return Err(err("it is empty"));
    }
    if let Ok(secs) = t.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    let bytes = t.as_bytes();
    let mut i = 0;
    let mut total_ms: u128 = 0;
    while i < bytes.len() {
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        if start == i {
            return Err(err("expected a number"));
        }
        let n: u128 = t[start..i].parse().map_err(|_| err("number too large"))?;
        let ustart = i;
        while i < bytes.len() && bytes[i].is_ascii_alphabetic() {
            i += 1;
        }
        let unit_ms: u128 = match &t[ustart..i] {
            "ms" => 1,
            "s" | "sec" => 1_000,
            "m" | "min" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "w" => 7 * 86_400_000,
            "" => return Err(err("a number needs a unit after it")),
            _ => return Err(err("unknown unit")),
        };
        total_ms = total_ms
            .checked_add(n.checked_mul(unit_ms).ok_or_else(|| err("too large"))?)
            .ok_or_else(|| err("too large"))?;
    }
    let ms = u64::try_from(total_ms).map_err(|_| err("too large"))?;
    Ok(Duration::from_millis(ms))
}

/// Formats a duration compactly (`1h30m`, `7d`, `250ms`, `0s`).
pub fn format_duration(d: Duration) -> String {
    let mut ms = d.as_millis();
    if ms == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    for (unit, size) in [
        ("d", 86_400_000u128),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
        ("ms", 1),
    ] {
        if ms >= size {
            out.push_str(&format!("{}{}", ms / size, unit));
            ms %= size;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_and_sums() {
        assert_eq!(parse_duration("90").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("10m").unwrap(), Duration::from_secs(600));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(
            parse_duration("7d").unwrap(),
            Duration::from_secs(7 * 86400)
        );
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(
            parse_duration("1w").unwrap(),
            Duration::from_secs(7 * 86400)
        );
    }

    #[test]
    fn rejects_garbage() {
        for bad in ["", "h", "10x", "1h30", "-5m", "99999999999999999999999d"] {
            assert!(parse_duration(bad).is_err(), "{bad} should fail");
        }
    }

    #[test]
    fn formats_round_trip() {
        for s in ["1h30m", "7d", "250ms", "10m", "1d2h3m4s"] {
            assert_eq!(format_duration(parse_duration(s).unwrap()), s);
        }
        assert_eq!(format_duration(Duration::ZERO), "0s");
    }
}
