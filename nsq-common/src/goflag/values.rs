//! Go's `strconv` number and bool parsing, and Go's float and quoted-string text.

/// Largest first; NaN compares equal to everything, as it effectively does in Go's sort.
pub fn sort_descending(list: &mut [f64]) {
    list.sort_by(|a, b| b.partial_cmp(a).unwrap_or(std::cmp::Ordering::Equal));
}

/// Go's `strconv.ParseBool`.
pub fn parse_go_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NumError {
    Syntax,
    Range,
}

/// Go's `strconv.ParseInt(s, base, 64)` for base 0 (prefixes `0x`, `0o`, `0b`, leading `0`
/// for octal, `_` separators) or base 10.
pub fn parse_go_int(s: &str, base: u32) -> Result<i64, NumError> {
    let (neg, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let magnitude = parse_go_uint(digits, base)?;
    if neg {
        if magnitude > 1u64 << 63 {
            return Err(NumError::Range);
        }
        Ok((magnitude as i64).wrapping_neg())
    } else {
        i64::try_from(magnitude).map_err(|_| NumError::Range)
    }
}

/// Go's `strconv.ParseUint(s, base, 64)` for base 0 or base 10.
pub fn parse_go_uint(s: &str, base: u32) -> Result<u64, NumError> {
    if s.is_empty() {
        return Err(NumError::Syntax);
    }
    let base0 = base == 0;
    let lower = s.to_ascii_lowercase();
    let (radix, digits) = if base0 {
        if let Some(rest) = lower.strip_prefix("0x").filter(|r| !r.is_empty()) {
            (16, rest)
        } else if let Some(rest) = lower.strip_prefix("0o").filter(|r| !r.is_empty()) {
            (8, rest)
        } else if let Some(rest) = lower.strip_prefix("0b").filter(|r| !r.is_empty()) {
            (2, rest)
        } else if lower.starts_with('0') {
            (8, &lower[..])
        } else {
            (10, &lower[..])
        }
    } else {
        (base, &lower[..])
    };
    let has_underscores = digits.contains('_');
    if has_underscores && !(base0 && underscore_ok(s)) {
        return Err(NumError::Syntax);
    }
    let mut value: u64 = 0;
    let mut any = false;
    for c in digits.chars() {
        if c == '_' {
            continue;
        }
        let d = c.to_digit(radix).ok_or(NumError::Syntax)?;
        any = true;
        value = value
            .checked_mul(u64::from(radix))
            .and_then(|v| v.checked_add(u64::from(d)))
            .ok_or(NumError::Range)?;
    }
    if !any {
        return Err(NumError::Syntax);
    }
    Ok(value)
}

/// Go's rule for `_` in base-0 literals: only between digits, or right after a base prefix.
fn underscore_ok(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if matches!(b.first(), Some(b'+' | b'-')) {
        i = 1;
    }
    // '^' start, '0' digit or prefix, '_' underscore, '!' anything else
    let mut saw = b'^';
    let mut hex = false;
    if b.len() - i >= 2 && b[i] == b'0' && matches!(b[i + 1] | 0x20, b'b' | b'o' | b'x') {
        hex = b[i + 1] | 0x20 == b'x';
        i += 2;
        saw = b'0';
    }
    for &c in &b[i..] {
        if c.is_ascii_digit() || (hex && c.is_ascii_hexdigit()) {
            saw = b'0';
        } else if c == b'_' {
            if saw != b'0' {
                return false;
            }
            saw = b'_';
        } else {
            if saw == b'_' {
                return false;
            }
            saw = b'!';
        }
    }
    saw != b'_'
}

/// Go's `strconv.ParseFloat(s, 64)` for decimal text and `inf`/`infinity`/`nan`.
pub fn parse_go_float(s: &str) -> Option<f64> {
    // Rust also accepts these spellings, but Go is stricter about what surrounds them.
    if s.is_empty() || s.contains('_') {
        return None;
    }
    s.parse::<f64>().ok()
}

/// Go's `%v` (and `strconv.FormatFloat(f, 'g', -1, 64)`) text for a float: shortest digits,
/// exponent form when the decimal exponent is below -4 or at least 6.
pub fn go_format_float(f: f64) -> String {
    if f.is_nan() {
        return "NaN".to_string();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+Inf" } else { "-Inf" }.to_string();
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0" } else { "0" }.to_string();
    }
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if !(-4..6).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exp.abs())
    } else {
        format!("{f}")
    }
}

/// Go's `%q`: double-quoted with backslash escapes (one implementation, in nsq-protocol).
pub fn go_quote(s: &str) -> String {
    nsq_protocol::quote::go_quote(s.as_bytes())
}
