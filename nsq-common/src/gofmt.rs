//! Number formatting that has to match what the Go daemons print, byte for
//! byte, because clients and tests compare `/stats` output textually.
//!
//! Go-style durations live in `crate::duration`; this module only covers
//! floats as `encoding/json` writes them and nsqd's nanosecond-to-human rule.

/// Formats a float64 the way Go's `encoding/json` does.
///
/// Go picks the shortest decimal that round-trips, printed without an
/// exponent, except for magnitudes below 1e-6 or at/above 1e21 where it
/// switches to exponent form with the sign always written and no zero
/// padding on small negative exponents (`1e-7`, `1.5e+21`). Integral values
/// carry no fraction (`1234567`).
///
/// Go refuses to encode NaN and infinities; they never occur in nsqd's stats,
/// so they are written as `null` rather than failing the whole document.
pub fn json_f64(v: f64) -> String {
    if !v.is_finite() {
        return "null".to_string();
    }
    let abs = v.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        exponent_form(v)
    } else {
        // Rust's Display is the shortest round-trip repr and never uses an
        // exponent, which is exactly Go's 'f' format with precision -1.
        format!("{v}")
    }
}

/// Go's 'e' format with shortest precision, after encoding/json's clean-up
/// of two-digit negative exponents: mantissa, `e`, explicit sign, exponent.
fn exponent_form(v: f64) -> String {
    // Rust's LowerExp is shortest round-trip too, but writes `1e21`/`1e-7`.
    let raw = format!("{v:e}");
    match raw.split_once('e') {
        Some((mantissa, exp)) if exp.starts_with('-') => format!("{mantissa}e{exp}"),
        Some((mantissa, exp)) => format!("{mantissa}e+{exp}"),
        None => raw,
    }
}

/// nsqd's NanoSecondToHuman rule (H-051): one decimal place and the largest
/// unit the value strictly exceeds (`s` above 1e9, `ms` above 1e6, `us`
/// above 1e3, else `ns`).
pub fn nanos_to_human(ns: f64) -> String {
    let (value, suffix) = if ns > 1e9 {
        (ns / 1e9, "s")
    } else if ns > 1e6 {
        (ns / 1e6, "ms")
    } else if ns > 1e3 {
        (ns / 1e3, "us")
    } else {
        (ns, "ns")
    };
    format!("{}{suffix}", go_fixed1(value))
}

/// Go's `%0.1f`. Rust's `{:.1}` rounds the exact binary value half-to-even
/// like Go; only the spelling of the non-finite values differs.
fn go_fixed1(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_string()
    } else if v == f64::INFINITY {
        "+Inf".to_string()
    } else if v == f64::NEG_INFINITY {
        "-Inf".to_string()
    } else {
        format!("{v:.1}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_plain_numbers() {
        assert_eq!(json_f64(0.0), "0");
        assert_eq!(json_f64(-0.0), "-0");
        assert_eq!(json_f64(1.0), "1");
        assert_eq!(json_f64(1234567.0), "1234567");
        assert_eq!(json_f64(0.99), "0.99");
        assert_eq!(json_f64(0.5), "0.5");
        assert_eq!(json_f64(-2.25), "-2.25");
        assert_eq!(json_f64(0.1 + 0.2), "0.30000000000000004");
        assert_eq!(json_f64(1e-6), "0.000001");
        assert_eq!(json_f64(1.5e20), "150000000000000000000");
        assert_eq!(json_f64(9.223372036854776e18), "9223372036854776000");
        assert_eq!(json_f64(123456789012345678.0), "123456789012345680");
        assert_eq!(json_f64(0.000123), "0.000123");
    }

    #[test]
    fn json_exponent_numbers() {
        assert_eq!(json_f64(1e-7), "1e-7");
        assert_eq!(json_f64(1.5e-7), "1.5e-7");
        assert_eq!(json_f64(-2e-10), "-2e-10");
        assert_eq!(json_f64(5e-324), "5e-324");
        assert_eq!(json_f64(1e21), "1e+21");
        assert_eq!(json_f64(1.2345e22), "1.2345e+22");
        assert_eq!(json_f64(-1e100), "-1e+100");
        assert_eq!(json_f64(f64::MAX), "1.7976931348623157e+308");
    }

    #[test]
    fn json_non_finite_is_null() {
        assert_eq!(json_f64(f64::NAN), "null");
        assert_eq!(json_f64(f64::INFINITY), "null");
    }

    #[test]
    fn human_units_and_thresholds() {
        assert_eq!(nanos_to_human(0.0), "0.0ns");
        assert_eq!(nanos_to_human(999.0), "999.0ns");
        assert_eq!(nanos_to_human(1000.0), "1000.0ns");
        assert_eq!(nanos_to_human(1001.0), "1.0us");
        assert_eq!(nanos_to_human(1_000_000.0), "1000.0us");
        assert_eq!(nanos_to_human(1_500_000.0), "1.5ms");
        assert_eq!(nanos_to_human(1_000_000_000.0), "1000.0ms");
        assert_eq!(nanos_to_human(2_340_000_000.0), "2.3s");
        assert_eq!(nanos_to_human(3_600e9), "3600.0s");
    }

    #[test]
    fn human_rounds_like_go() {
        // Exact binary ties round to even, as Go's strconv does.
        assert_eq!(nanos_to_human(0.25), "0.2ns");
        assert_eq!(nanos_to_human(0.75), "0.8ns");
        // 0.35 is really 0.34999..., so it rounds down in both languages.
        assert_eq!(nanos_to_human(0.35), "0.3ns");
        assert_eq!(nanos_to_human(1250.0), "1.2us");
        assert_eq!(nanos_to_human(999.95), "1000.0ns");
        assert_eq!(nanos_to_human(12_345_678.9), "12.3ms");
        assert_eq!(nanos_to_human(-5.0), "-5.0ns");
        assert_eq!(nanos_to_human(f64::INFINITY), "+Infs");
        assert_eq!(nanos_to_human(f64::NAN), "NaNns");
    }
}
