//! Suricata's EVE timestamp: `2025-03-14T09:26:50.713482+0000` (microseconds,
//! UTC offset without a colon). Meerkat writes UTC (`+0000`).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Formats a time as an EVE timestamp in UTC.
pub fn eve_timestamp(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    eve_timestamp_parts(d.as_secs() as i64, d.subsec_micros())
}

/// Formats seconds since the epoch plus microseconds as an EVE timestamp.
pub fn eve_timestamp_parts(secs: i64, micros: u32) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}+0000",
        y,
        m,
        d,
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60,
        micros.min(999_999)
    )
}

/// Parses an EVE timestamp (any offset) to seconds since the epoch with
/// microseconds. Returns `None` on anything else.
pub fn parse_eve_timestamp(s: &str) -> Option<(i64, u32)> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let rest = &s[19..];
    let (frac, off) = match rest.strip_prefix('.') {
        Some(r) => {
            let end = r.find(['+', '-', 'Z']).unwrap_or(r.len());
            (&r[..end], &r[end..])
        }
        None => ("", rest),
    };
    let mut micros: u32 = 0;
    for (i, c) in frac.chars().take(6).enumerate() {
        micros += c.to_digit(10)? * 10u32.pow(5 - i as u32);
    }
    let off_secs = match off {
        "" | "Z" => 0,
        o => {
            let sign = if o.starts_with('-') { -1 } else { 1 };
            let digits: String = o[1..].chars().filter(|c| c.is_ascii_digit()).collect();
            if digits.len() != 4 {
                return None;
            }
            let hh: i64 = digits[0..2].parse().ok()?;
            let mm: i64 = digits[2..4].parse().ok()?;
            sign * (hh * 3600 + mm * 60)
        }
    };
    let days = days_from_civil(y, mo as u32, d as u32);
    Some((days * 86_400 + h * 3600 + mi * 60 + se - off_secs, micros))
}

// Howard Hinnant's civil-from-days algorithms.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_suricata() {
        assert_eq!(eve_timestamp_parts(0, 0), "1970-01-01T00:00:00.000000+0000");
        assert_eq!(
            eve_timestamp_parts(1_741_944_410, 713_482),
            "2025-03-14T09:26:50.713482+0000"
        );
    }

    #[test]
    fn parses_round_trip_and_offsets() {
        let s = "2025-03-14T09:26:50.713482+0000";
        assert_eq!(parse_eve_timestamp(s), Some((1_741_944_410, 713_482)));
        assert_eq!(
            parse_eve_timestamp("2025-03-14T10:26:50.5+0100"),
            Some((1_741_944_410, 500_000))
        );
        assert_eq!(parse_eve_timestamp("garbage"), None);
    }
}
