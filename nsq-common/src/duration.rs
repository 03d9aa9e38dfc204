//! Go `time.Duration` text form, in both directions.
//!
//! Flags, config files and log lines all use Go's spelling (`300ms`, `1h2m`, `1m0s`), so the
//! parser accepts exactly what `time.ParseDuration` accepts and the formatter prints exactly
//! what `Duration.String` prints.

use std::fmt::Write as _;
use std::time::Duration;

use thiserror::Error;

/// Why a duration string was rejected. The texts follow Go's `time` package; the input is
/// shown quoted the way Go quotes it.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DurationError {
    #[error("time: invalid duration {0}")]
    Invalid(String),
    #[error("time: missing unit in duration {0}")]
    MissingUnit(String),
    #[error("time: unknown unit {unit} in duration {input}")]
    UnknownUnit { unit: String, input: String },
    /// Go accepts negative durations, but no NSQ setting means anything with one.
    #[error("negative duration {0} is not allowed")]
    Negative(String),
}

const NANOS_PER_SEC: u128 = 1_000_000_000;
const LIMIT: u64 = 1 << 63;

/// Parses a Go duration into a `std::time::Duration`. Negative values are rejected.
pub fn parse_go_duration(s: &str) -> Result<Duration, DurationError> {
    let nanos = parse_go_duration_nanos(s)?;
    if nanos < 0 {
        return Err(DurationError::Negative(go_time_quote(s)));
    }
    Ok(Duration::from_nanos(nanos as u64))
}

/// Parses a Go duration into signed nanoseconds, exactly as `time.ParseDuration` does.
pub fn parse_go_duration_nanos(input: &str) -> Result<i64, DurationError> {
    let invalid = || DurationError::Invalid(go_time_quote(input));
    let mut s = input.as_bytes();
    let mut neg = false;
    if let Some(&c) = s.first() {
        if c == b'-' || c == b'+' {
            neg = c == b'-';
            s = &s[1..];
        }
    }
    // A bare zero is the only number allowed without a unit.
    if s == b"0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err(invalid());
    }
    let mut total: u64 = 0;
    while !s.is_empty() {
        if !(s[0] == b'.' || s[0].is_ascii_digit()) {
            return Err(invalid());
        }
        let before = s.len();
        let (whole, rest) = leading_int(s).ok_or_else(invalid)?;
        s = rest;
        let has_whole = before != s.len();

        let mut frac: u64 = 0;
        let mut scale: f64 = 1.0;
        let mut has_frac = false;
        if s.first() == Some(&b'.') {
            s = &s[1..];
            let before = s.len();
            let (f, sc, rest) = leading_fraction(s);
            frac = f;
            scale = sc;
            s = rest;
            has_frac = before != s.len();
        }
        if !has_whole && !has_frac {
            return Err(invalid());
        }

        let unit_len = s
            .iter()
            .position(|&c| c == b'.' || c.is_ascii_digit())
            .unwrap_or(s.len());
        if unit_len == 0 {
            return Err(DurationError::MissingUnit(go_time_quote(input)));
        }
        let (unit_bytes, rest) = s.split_at(unit_len);
        s = rest;
        let unit = unit_nanos(unit_bytes).ok_or_else(|| DurationError::UnknownUnit {
            unit: go_time_quote(&String::from_utf8_lossy(unit_bytes)),
            input: go_time_quote(input),
        })?;

        if whole > LIMIT / unit {
            return Err(invalid());
        }
        let mut v = whole * unit;
        if frac > 0 {
            // Same float step as Go, so rounding of long fractions matches.
            v += (frac as f64 * (unit as f64 / scale)) as u64;
            if v > LIMIT {
                return Err(invalid());
            }
        }
        total += v;
        if total > LIMIT {
            return Err(invalid());
        }
    }
    if neg {
        return Ok((total as i64).wrapping_neg());
    }
    if total > LIMIT - 1 {
        return Err(invalid());
    }
    Ok(total as i64)
}

fn unit_nanos(unit: &[u8]) -> Option<u64> {
    Some(match unit {
        b"ns" => 1,
        // "us", micro sign (U+00B5) + s, Greek mu (U+03BC) + s
        b"us" | b"\xc2\xb5s" | b"\xce\xbcs" => 1_000,
        b"ms" => 1_000_000,
        b"s" => 1_000_000_000,
        b"m" => 60 * 1_000_000_000,
        b"h" => 3600 * 1_000_000_000,
        _ => return None,
    })
}

/// Leading decimal integer; None on overflow past 2^63.
fn leading_int(s: &[u8]) -> Option<(u64, &[u8])> {
    let mut x: u64 = 0;
    let mut i = 0;
    while i < s.len() && s[i].is_ascii_digit() {
        if x > LIMIT / 10 {
            return None;
        }
        x = x * 10 + u64::from(s[i] - b'0');
        if x > LIMIT {
            return None;
        }
        i += 1;
    }
    Some((x, &s[i..]))
}

/// Leading fraction digits; digits past what fits are consumed but ignored.
fn leading_fraction(s: &[u8]) -> (u64, f64, &[u8]) {
    let mut x: u64 = 0;
    let mut scale = 1.0;
    let mut overflow = false;
    let mut i = 0;
    while i < s.len() && s[i].is_ascii_digit() {
        if !overflow {
            if x > (LIMIT - 1) / 10 {
                overflow = true;
            } else {
                let y = x * 10 + u64::from(s[i] - b'0');
                if y > LIMIT {
                    overflow = true;
                } else {
                    x = y;
                    scale *= 10.0;
                }
            }
        }
        i += 1;
    }
    (x, scale, &s[i..])
}

/// Go's `time` package quoting for error messages: ASCII kept, everything else as `\xNN`.
fn go_time_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for ch in s.chars() {
        if ch.is_ascii() && ch >= ' ' {
            if ch == '"' || ch == '\\' {
                out.push('\\');
            }
            out.push(ch);
        } else {
            let mut buf = [0u8; 4];
            for b in ch.encode_utf8(&mut buf).bytes() {
                let _ = write!(out, "\\x{b:02x}");
            }
        }
    }
    out.push('"');
    out
}

/// Formats like Go's `Duration.String`: `0s`, `250ms`, `2µs`, `1.5s`, `1m0s`, `1h0m0s`.
pub fn format_go_duration(d: Duration) -> String {
    let mut nanos = d.as_nanos();
    if nanos == 0 {
        return "0s".to_string();
    }
    let mut out = String::new();
    if nanos < NANOS_PER_SEC {
        // Below one second the largest unit that keeps the integer part non-zero is used.
        let (unit, digits) = if nanos < 1_000 {
            ("ns", 0)
        } else if nanos < 1_000_000 {
            ("µs", 3)
        } else {
            ("ms", 6)
        };
        let frac = take_fraction(&mut nanos, digits);
        let _ = write!(out, "{nanos}{frac}{unit}");
        return out;
    }
    let frac = take_fraction(&mut nanos, 9);
    let secs = nanos % 60;
    let minutes = nanos / 60;
    if minutes > 0 {
        let hours = minutes / 60;
        if hours > 0 {
            let _ = write!(out, "{hours}h");
        }
        let _ = write!(out, "{}m", minutes % 60);
    }
    let _ = write!(out, "{secs}{frac}s");
    out
}

/// Splits off `digits` decimal places: returns them as `.ddd` without trailing zeros (empty
/// when all zero) and leaves the integer part in `v`.
fn take_fraction(v: &mut u128, digits: u32) -> String {
    if digits == 0 {
        return String::new();
    }
    let pow = 10u128.pow(digits);
    let frac = *v % pow;
    *v /= pow;
    if frac == 0 {
        return String::new();
    }
    let text = format!(".{frac:0width$}", width = digits as usize);
    text.trim_end_matches('0').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ns(s: &str) -> i64 {
        parse_go_duration_nanos(s).unwrap()
    }

    #[test]
    fn parses_go_examples() {
        let ms = 1_000_000i64;
        let sec = 1_000 * ms;
        let cases: &[(&str, i64)] = &[
            ("0", 0),
            ("+0", 0),
            ("-0", 0),
            ("5s", 5 * sec),
            ("30s", 30 * sec),
            ("1478s", 1478 * sec),
            ("-5s", -5 * sec),
            ("+5s", 5 * sec),
            ("-0s", 0),
            ("+0s", 0),
            ("5.0s", 5 * sec),
            ("5.6s", 5 * sec + 600 * ms),
            ("5.s", 5 * sec),
            (".5s", sec / 2),
            ("1.0s", sec),
            ("1.00s", sec),
            ("1.004s", sec + 4 * ms),
            ("1.0040s", sec + 4 * ms),
            ("100.00100s", 100 * sec + ms),
            ("10ns", 10),
            ("11us", 11_000),
            ("12µs", 12_000),
            ("12μs", 12_000),
            ("13ms", 13 * ms),
            ("14s", 14 * sec),
            ("15m", 15 * 60 * sec),
            ("16h", 16 * 3600 * sec),
            ("3h30m", (3 * 3600 + 30 * 60) * sec),
            ("10.5s4m", 4 * 60 * sec + 10 * sec + 500 * ms),
            ("-2m3.4s", -(2 * 60 * sec + 3 * sec + 400 * ms)),
            (
                "1h2m3s4ms5us6ns",
                3600 * sec + 120 * sec + 3 * sec + 4 * ms + 5_000 + 6,
            ),
            ("39h9m14.425s", (39 * 3600 + 9 * 60 + 14) * sec + 425 * ms),
            ("52763797000ns", 52_763_797_000),
            ("0.3333333333333333333h", 20 * 60 * sec),
            ("9007199254740993ns", 9_007_199_254_740_993),
            ("9223372036854775807ns", i64::MAX),
            ("9223372036.854775807s", i64::MAX),
            ("-9223372036854775808ns", i64::MIN),
            ("0.100000000000000000000h", 6 * 60 * sec),
            (
                "0.830103483285477580700h",
                49 * 60 * sec + 48 * sec + 372_539_827,
            ),
            ("300ms", 300 * ms),
            ("1h2m", 3720 * sec),
            ("1.5s", 1500 * ms),
        ];
        for (input, want) in cases {
            assert_eq!(ns(input), *want, "input {input}");
        }
    }

    #[test]
    fn rejects_like_go() {
        let invalid = [
            "",
            "3",
            "-",
            "s",
            ".",
            "-.",
            ".s",
            "+.s",
            "1d",
            "9223372036854775808ns",
            "9223372036854775.808us",
            "9223372036854ms775us808ns",
            "-9223372036854775809ns",
        ];
        for input in invalid {
            assert!(parse_go_duration_nanos(input).is_err(), "input {input:?}");
        }
        assert_eq!(
            parse_go_duration_nanos("").unwrap_err().to_string(),
            r#"time: invalid duration """#
        );
        assert_eq!(
            parse_go_duration_nanos("3").unwrap_err().to_string(),
            r#"time: missing unit in duration "3""#
        );
        assert_eq!(
            parse_go_duration_nanos("1d").unwrap_err().to_string(),
            r#"time: unknown unit "d" in duration "1d""#
        );
        assert_eq!(
            parse_go_duration_nanos("3µ").unwrap_err().to_string(),
            r#"time: unknown unit "\xc2\xb5" in duration "3\xc2\xb5""#
        );
    }

    #[test]
    fn std_duration_rejects_negative() {
        assert!(matches!(
            parse_go_duration("-1s"),
            Err(DurationError::Negative(_))
        ));
        assert_eq!(parse_go_duration("-0s").unwrap(), Duration::ZERO);
        assert_eq!(parse_go_duration("1m").unwrap(), Duration::from_secs(60));
    }

    #[test]
    fn formats_like_go() {
        let cases: &[(u64, &str)] = &[
            (0, "0s"),
            (1, "1ns"),
            (1_100, "1.1µs"),
            (2_000, "2µs"),
            (2_200_000, "2.2ms"),
            (250_000_000, "250ms"),
            (804_949_691, "804.949691ms"),
            (1_500_000_000, "1.5s"),
            (3_300_000_000, "3.3s"),
            (60_000_000_000, "1m0s"),
            (61_000_000_000, "1m1s"),
            (4 * 60_000_000_000 + 5_001_000_000, "4m5.001s"),
            (3_600_000_000_000, "1h0m0s"),
            (
                5 * 3_600_000_000_000 + 6 * 60_000_000_000 + 7_001_000_000,
                "5h6m7.001s",
            ),
            (8 * 3_600_000_000_000 + 1, "8h0m0.000000001s"),
            (i64::MAX as u64, "2562047h47m16.854775807s"),
            (600_000_000_000, "10m0s"),
            (900_000_000_000, "15m0s"),
            (25_000_000, "25ms"),
            (2_000_000_000, "2s"),
        ];
        for (n, want) in cases {
            assert_eq!(
                format_go_duration(Duration::from_nanos(*n)),
                *want,
                "nanos {n}"
            );
        }
    }

    #[test]
    fn round_trips() {
        for n in [
            1u64,
            999,
            1_000,
            123_456_789,
            59_999_999_999,
            86_400_000_000_123,
        ] {
            let d = Duration::from_nanos(n);
            assert_eq!(parse_go_duration(&format_go_duration(d)).unwrap(), d);
        }
    }
}
