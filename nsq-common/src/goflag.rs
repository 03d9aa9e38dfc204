//! Command-line parsing that behaves like Go's `flag` package.
//!
//! Every NSQ binary is driven by scripts written against the Go tools, so the accepted syntax
//! (`-name`, `--name`, `-name=value`, `-name value`, bare bools), the error texts, the exit
//! codes and the `-h` layout all follow the Go package. The parser never prints or exits by
//! itself: [`FlagSet::parse`] returns a [`FlagError`] that says what to print and which status
//! to exit with.

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;
use std::io::Write as _;
use std::time::Duration;

use crate::duration::{format_go_duration, parse_go_duration};

/// A flag whose value is checked by the caller (log levels, TLS settings, ...). Shown as
/// `value` in the usage, like Go's `flag.Var`.
#[derive(Clone, Copy)]
pub struct CustomKind {
    /// Go's `IsBoolFlag`: a bare `-name` means `-name=true` and a separate value is not taken.
    pub is_bool: bool,
    /// The text of the type's zero value; the usage shows `(default X)` only when the
    /// default text differs from it.
    pub zero_text: &'static str,
    /// Accepts or rejects a value; the error text ends up in `invalid value ...: <err>`.
    pub check: fn(&str) -> Result<(), String>,
}

impl std::fmt::Debug for CustomKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CustomKind")
            .field("is_bool", &self.is_bool)
            .field("zero_text", &self.zero_text)
            .finish_non_exhaustive()
    }
}

#[derive(Clone, Copy, Debug)]
pub enum FlagKind {
    Bool,
    String,
    /// Go `int` (64-bit on every platform NSQ targets).
    Int,
    Int64,
    Uint,
    Float,
    Duration,
    /// Repeatable; every occurrence is split on commas and appended, then the whole list is
    /// kept in descending order (NSQ's `FloatArray`). A bad number is fatal, not a usage error.
    FloatList,
    /// Repeatable; every occurrence appends one value.
    StringList,
    Custom(CustomKind),
}

impl FlagKind {
    fn is_bool(&self) -> bool {
        match self {
            FlagKind::Bool => true,
            FlagKind::Custom(c) => c.is_bool,
            _ => false,
        }
    }

    /// Type word in the usage line; empty for bools.
    fn type_name(&self) -> &'static str {
        match self {
            FlagKind::Bool => "",
            FlagKind::String => "string",
            FlagKind::Int | FlagKind::Int64 => "int",
            FlagKind::Uint => "uint",
            FlagKind::Float => "float",
            FlagKind::Duration => "duration",
            FlagKind::FloatList | FlagKind::StringList => "value",
            FlagKind::Custom(c) if c.is_bool => "",
            FlagKind::Custom(_) => "value",
        }
    }

    fn zero_text(&self) -> &'static str {
        match self {
            FlagKind::Bool => "false",
            FlagKind::String | FlagKind::FloatList | FlagKind::StringList => "",
            FlagKind::Int | FlagKind::Int64 | FlagKind::Uint | FlagKind::Float => "0",
            FlagKind::Duration => "0s",
            FlagKind::Custom(c) => c.zero_text,
        }
    }
}

/// The current value of a flag: its default until the command line sets it.
#[derive(Clone, Debug, PartialEq)]
pub enum FlagValue {
    Bool(bool),
    Str(String),
    Int(i64),
    Uint(u64),
    Float(f64),
    Duration(Duration),
    FloatList(Vec<f64>),
    StringList(Vec<String>),
    /// The last accepted text of a custom flag.
    Custom(String),
}

struct FlagDef {
    kind: FlagKind,
    help: String,
    default: FlagValue,
    default_text: String,
}

/// Outcome of a failed parse. `Help` and `Invalid` are followed by the usage text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FlagError {
    /// `-h`, `-help` or `--help`: usage on stderr, exit 0.
    Help,
    /// Syntax error, unknown flag or bad value: message and usage on stderr, exit 2.
    Invalid(String),
    /// A value Go rejects through `log.Fatalf` (the float list): timestamped message, exit 1.
    Fatal(String),
}

impl FlagError {
    pub fn exit_code(&self) -> i32 {
        match self {
            FlagError::Help => 0,
            FlagError::Invalid(_) => 2,
            FlagError::Fatal(_) => 1,
        }
    }

    /// Everything Go would write to stderr for this error.
    pub fn stderr_text(&self, set: &FlagSet) -> String {
        match self {
            FlagError::Help => set.usage(),
            FlagError::Invalid(msg) => format!("{msg}\n{}", set.usage()),
            FlagError::Fatal(msg) => {
                // Go's standard logger layout: date and time, no prefix, no level.
                let now = chrono::Local::now().format("%Y/%m/%d %H:%M:%S");
                format!("{now} {msg}\n")
            }
        }
    }
}

enum SetError {
    Invalid(String),
    Fatal(String),
}

/// A declared set of flags for one program.
pub struct FlagSet {
    prog: String,
    flags: BTreeMap<String, FlagDef>,
}

impl FlagSet {
    pub fn new(prog: impl Into<String>) -> Self {
        FlagSet {
            prog: prog.into(),
            flags: BTreeMap::new(),
        }
    }

    pub fn prog(&self) -> &str {
        &self.prog
    }

    fn add(&mut self, name: &str, kind: FlagKind, default: FlagValue, text: String, help: &str) {
        self.flags.insert(
            name.to_string(),
            FlagDef {
                kind,
                help: help.to_string(),
                default,
                default_text: text,
            },
        );
    }

    pub fn bool(&mut self, name: &str, default: bool, help: &str) -> &mut Self {
        let text = default.to_string();
        self.add(name, FlagKind::Bool, FlagValue::Bool(default), text, help);
        self
    }

    pub fn string(&mut self, name: &str, default: &str, help: &str) -> &mut Self {
        let value = FlagValue::Str(default.to_string());
        self.add(name, FlagKind::String, value, default.to_string(), help);
        self
    }

    pub fn int(&mut self, name: &str, default: i64, help: &str) -> &mut Self {
        let text = default.to_string();
        self.add(name, FlagKind::Int, FlagValue::Int(default), text, help);
        self
    }

    pub fn int64(&mut self, name: &str, default: i64, help: &str) -> &mut Self {
        let text = default.to_string();
        self.add(name, FlagKind::Int64, FlagValue::Int(default), text, help);
        self
    }

    pub fn uint(&mut self, name: &str, default: u64, help: &str) -> &mut Self {
        let text = default.to_string();
        self.add(name, FlagKind::Uint, FlagValue::Uint(default), text, help);
        self
    }

    pub fn float(&mut self, name: &str, default: f64, help: &str) -> &mut Self {
        let text = go_format_float(default);
        self.add(name, FlagKind::Float, FlagValue::Float(default), text, help);
        self
    }

    pub fn duration(&mut self, name: &str, default: Duration, help: &str) -> &mut Self {
        let text = format_go_duration(default);
        let value = FlagValue::Duration(default);
        self.add(name, FlagKind::Duration, value, text, help);
        self
    }

    pub fn float_list(&mut self, name: &str, help: &str) -> &mut Self {
        let value = FlagValue::FloatList(Vec::new());
        self.add(name, FlagKind::FloatList, value, String::new(), help);
        self
    }

    pub fn string_list(&mut self, name: &str, help: &str) -> &mut Self {
        let value = FlagValue::StringList(Vec::new());
        self.add(name, FlagKind::StringList, value, String::new(), help);
        self
    }

    /// A flag whose text is validated by `kind.check`; `default_text` is its initial value.
    pub fn custom(
        &mut self,
        name: &str,
        kind: CustomKind,
        default_text: &str,
        help: &str,
    ) -> &mut Self {
        let value = FlagValue::Custom(default_text.to_string());
        self.add(
            name,
            FlagKind::Custom(kind),
            value,
            default_text.to_string(),
            help,
        );
        self
    }

    pub fn kind(&self, name: &str) -> Option<FlagKind> {
        self.flags.get(name).map(|d| d.kind)
    }

    /// The flag names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.flags.keys().map(String::as_str)
    }

    /// Go's default usage: `Usage of <prog>:` and the flags sorted by name.
    pub fn usage(&self) -> String {
        let mut out = format!("Usage of {}:\n", self.prog);
        for (name, def) in &self.flags {
            let (type_name, help) = unquote_usage(&def.kind, &def.help);
            let mut line = format!("  -{name}");
            if !type_name.is_empty() {
                line.push(' ');
                line.push_str(&type_name);
            }
            // Go keeps one-letter bool flags on a single line.
            if line.len() <= 4 {
                line.push('\t');
            } else {
                line.push_str("\n    \t");
            }
            line.push_str(&help.replace('\n', "\n    \t"));
            if def.default_text != def.kind.zero_text() {
                if matches!(def.kind, FlagKind::String) {
                    let _ = write!(line, " (default {})", go_quote(&def.default_text));
                } else {
                    let _ = write!(line, " (default {})", def.default_text);
                }
            }
            out.push_str(&line);
            out.push('\n');
        }
        out
    }

    /// Parses arguments (without the program name). Parsing stops at the first non-flag
    /// argument or after `--`; what is left is in [`ParsedFlags::args`].
    pub fn parse(&self, args: &[String]) -> Result<ParsedFlags, FlagError> {
        let mut parsed = ParsedFlags {
            values: self
                .flags
                .iter()
                .map(|(name, def)| (name.clone(), def.default.clone()))
                .collect(),
            set: HashSet::new(),
            args: Vec::new(),
        };
        let mut i = 0;
        while i < args.len() {
            let s = args[i].as_str();
            if s.len() < 2 || !s.starts_with('-') {
                break;
            }
            let mut minuses = 1;
            if s.as_bytes()[1] == b'-' {
                minuses = 2;
                if s.len() == 2 {
                    i += 1;
                    break;
                }
            }
            let body = &s[minuses..];
            if body.is_empty() || body.starts_with('-') || body.starts_with('=') {
                return Err(FlagError::Invalid(format!("bad flag syntax: {s}")));
            }
            i += 1;
            let (name, inline) = match body.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (body, None),
            };
            let Some(def) = self.flags.get(name) else {
                if name == "help" || name == "h" {
                    return Err(FlagError::Help);
                }
                return Err(FlagError::Invalid(format!(
                    "flag provided but not defined: -{name}"
                )));
            };
            let Some(slot) = parsed.values.get_mut(name) else {
                continue;
            };
            if def.kind.is_bool() {
                let value = inline.unwrap_or("true");
                if let Err(e) = set_value(&def.kind, slot, value) {
                    return Err(match (e, inline) {
                        (SetError::Fatal(m), _) => FlagError::Fatal(m),
                        (SetError::Invalid(m), Some(v)) => FlagError::Invalid(format!(
                            "invalid boolean value {} for -{name}: {m}",
                            go_quote(v)
                        )),
                        (SetError::Invalid(m), None) => {
                            FlagError::Invalid(format!("invalid boolean flag {name}: {m}"))
                        }
                    });
                }
            } else {
                let value = match inline {
                    Some(v) => v,
                    None if i < args.len() => {
                        i += 1;
                        args[i - 1].as_str()
                    }
                    None => {
                        return Err(FlagError::Invalid(format!(
                            "flag needs an argument: -{name}"
                        )))
                    }
                };
                if let Err(e) = set_value(&def.kind, slot, value) {
                    return Err(match e {
                        SetError::Fatal(m) => FlagError::Fatal(m),
                        SetError::Invalid(m) => FlagError::Invalid(format!(
                            "invalid value {} for flag -{name}: {m}",
                            go_quote(value)
                        )),
                    });
                }
            }
            parsed.set.insert(name.to_string());
        }
        parsed.args = args[i..].to_vec();
        Ok(parsed)
    }

    /// Parses, and on failure writes what Go would write to stderr and returns the exit
    /// status the program should end with.
    pub fn parse_or_report(&self, args: &[String]) -> Result<ParsedFlags, i32> {
        self.parse(args).map_err(|e| {
            let _ = std::io::stderr()
                .lock()
                .write_all(e.stderr_text(self).as_bytes());
            e.exit_code()
        })
    }
}

fn set_value(kind: &FlagKind, slot: &mut FlagValue, text: &str) -> Result<(), SetError> {
    // The flag package maps every numeric parse failure to these two texts.
    const PARSE: &str = "parse error";
    const RANGE: &str = "value out of range";
    let num_err = |e: NumError| {
        SetError::Invalid(
            match e {
                NumError::Syntax => PARSE,
                NumError::Range => RANGE,
            }
            .to_string(),
        )
    };
    match kind {
        FlagKind::Bool => {
            let v = parse_go_bool(text).ok_or_else(|| SetError::Invalid(PARSE.to_string()))?;
            *slot = FlagValue::Bool(v);
        }
        FlagKind::String => *slot = FlagValue::Str(text.to_string()),
        FlagKind::Int | FlagKind::Int64 => {
            *slot = FlagValue::Int(parse_go_int(text, 0).map_err(num_err)?);
        }
        FlagKind::Uint => *slot = FlagValue::Uint(parse_go_uint(text, 0).map_err(num_err)?),
        FlagKind::Float => {
            let v = parse_go_float(text).ok_or_else(|| SetError::Invalid(PARSE.to_string()))?;
            *slot = FlagValue::Float(v);
        }
        FlagKind::Duration => {
            let v = parse_go_duration(text).map_err(|_| SetError::Invalid(PARSE.to_string()))?;
            *slot = FlagValue::Duration(v);
        }
        FlagKind::FloatList => {
            let FlagValue::FloatList(list) = slot else {
                return Err(SetError::Invalid(
                    "flag holds the wrong kind of value".into(),
                ));
            };
            for part in text.split(',') {
                let v = parse_go_float(part)
                    .ok_or_else(|| SetError::Fatal(format!("Could not parse: {part}")))?;
                list.push(v);
            }
            sort_descending(list);
        }
        FlagKind::StringList => {
            let FlagValue::StringList(list) = slot else {
                return Err(SetError::Invalid(
                    "flag holds the wrong kind of value".into(),
                ));
            };
            list.push(text.to_string());
        }
        FlagKind::Custom(c) => {
            (c.check)(text).map_err(SetError::Invalid)?;
            *slot = FlagValue::Custom(text.to_string());
        }
    }
    Ok(())
}

/// Largest first; NaN compares equal to everything, as it effectively does in Go's sort.
pub fn sort_descending(list: &mut [f64]) {
    list.sort_by(|a, b| b.partial_cmp(a).unwrap_or(std::cmp::Ordering::Equal));
}

/// Go's `UnquoteUsage`: a back-quoted word in the help names the value type.
fn unquote_usage(kind: &FlagKind, help: &str) -> (String, String) {
    if let Some(start) = help.find('`') {
        if let Some(len) = help[start + 1..].find('`') {
            let name = &help[start + 1..start + 1 + len];
            let unquoted = format!("{}{}{}", &help[..start], name, &help[start + 2 + len..]);
            return (name.to_string(), unquoted);
        }
    }
    (kind.type_name().to_string(), help.to_string())
}

/// The result of a successful parse: every flag's value and which ones the command line set.
#[derive(Clone, Debug)]
pub struct ParsedFlags {
    values: BTreeMap<String, FlagValue>,
    set: HashSet<String>,
    args: Vec<String>,
}

impl ParsedFlags {
    /// True when the flag appeared on the command line (needed for config-file precedence).
    pub fn is_set(&self, name: &str) -> bool {
        self.set.contains(name)
    }

    /// The arguments left after the flags.
    pub fn args(&self) -> &[String] {
        &self.args
    }

    pub fn value(&self, name: &str) -> Option<&FlagValue> {
        self.values.get(name)
    }

    pub fn get_bool(&self, name: &str) -> Option<bool> {
        match self.value(name)? {
            FlagValue::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub fn get_str(&self, name: &str) -> Option<&str> {
        match self.value(name)? {
            FlagValue::Str(s) | FlagValue::Custom(s) => Some(s),
            _ => None,
        }
    }

    pub fn get_int(&self, name: &str) -> Option<i64> {
        match self.value(name)? {
            FlagValue::Int(v) => Some(*v),
            _ => None,
        }
    }

    pub fn get_uint(&self, name: &str) -> Option<u64> {
        match self.value(name)? {
            FlagValue::Uint(v) => Some(*v),
            _ => None,
        }
    }

    pub fn get_float(&self, name: &str) -> Option<f64> {
        match self.value(name)? {
            FlagValue::Float(v) => Some(*v),
            _ => None,
        }
    }

    pub fn get_duration(&self, name: &str) -> Option<Duration> {
        match self.value(name)? {
            FlagValue::Duration(v) => Some(*v),
            _ => None,
        }
    }

    pub fn get_float_list(&self, name: &str) -> Option<&[f64]> {
        match self.value(name)? {
            FlagValue::FloatList(v) => Some(v),
            _ => None,
        }
    }

    pub fn get_string_list(&self, name: &str) -> Option<&[String]> {
        match self.value(name)? {
            FlagValue::StringList(v) => Some(v),
            _ => None,
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn check_level(s: &str) -> Result<(), String> {
        match s {
            "debug" | "info" => Ok(()),
            _ => Err(format!("bad level {s}")),
        }
    }

    fn check_tls(s: &str) -> Result<(), String> {
        if s == "tcp-https" || parse_go_bool(s).is_some() {
            Ok(())
        } else {
            Err("not a bool".to_string())
        }
    }

    fn sample() -> FlagSet {
        let mut fs = FlagSet::new("demo");
        fs.bool("deflate", true, "use deflate")
            .bool("verbose", false, "say more")
            .string("tcp-address", "0.0.0.0:4150", "where to listen")
            .string("data-path", "", "where to store")
            .int("max-deflate-level", 6, "deflate level")
            .int64("mem-queue-size", 10000, "queue size")
            .int("zero", 0, "zero by default")
            .uint("count", 0, "a count")
            .float("sample", 1.0, "sample rate")
            .duration("msg-timeout", Duration::from_secs(60), "message timeout")
            .duration("rotate", Duration::ZERO, "rotation")
            .float_list("pct", "percentiles")
            .string_list("lookupd", "lookupd address")
            .custom(
                "log-level",
                CustomKind {
                    is_bool: false,
                    zero_text: "",
                    check: check_level,
                },
                "info",
                "log `level` to use",
            )
            .custom(
                "tls-required",
                CustomKind {
                    is_bool: true,
                    zero_text: "false",
                    check: check_tls,
                },
                "false",
                "require tls",
            );
        fs
    }

    #[test]
    fn all_value_syntaxes() {
        let fs = sample();
        let p = fs
            .parse(&args(&[
                "-tcp-address=1.2.3.4:5",
                "--data-path",
                "/tmp/x",
                "--max-deflate-level=9",
                "-mem-queue-size",
                "0x10",
                "-msg-timeout=1.5s",
                "-sample",
                "0.25",
                "-count=0b101",
            ]))
            .unwrap();
        assert_eq!(p.get_str("tcp-address"), Some("1.2.3.4:5"));
        assert_eq!(p.get_str("data-path"), Some("/tmp/x"));
        assert_eq!(p.get_int("max-deflate-level"), Some(9));
        assert_eq!(p.get_int("mem-queue-size"), Some(16));
        assert_eq!(
            p.get_duration("msg-timeout"),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(p.get_float("sample"), Some(0.25));
        assert_eq!(p.get_uint("count"), Some(5));
        assert!(p.is_set("tcp-address") && p.is_set("data-path") && p.is_set("count"));
        assert!(!p.is_set("deflate"));
        assert_eq!(
            p.get_bool("deflate"),
            Some(true),
            "unset flags keep their default"
        );
        assert!(p.args().is_empty());
    }

    #[test]
    fn bools_need_equals() {
        let fs = sample();
        let p = fs.parse(&args(&["-verbose", "-deflate=false"])).unwrap();
        assert_eq!(p.get_bool("verbose"), Some(true));
        assert_eq!(p.get_bool("deflate"), Some(false));
        // `-deflate false`: the bare flag means true and "false" ends the flags.
        let p = fs.parse(&args(&["-deflate", "false", "-verbose"])).unwrap();
        assert_eq!(p.get_bool("deflate"), Some(true));
        assert_eq!(p.get_bool("verbose"), Some(false));
        assert_eq!(p.args(), &args(&["false", "-verbose"])[..]);
        for v in ["1", "t", "T", "TRUE", "true", "True"] {
            let p = fs.parse(&args(&[&format!("-verbose={v}")])).unwrap();
            assert_eq!(p.get_bool("verbose"), Some(true), "{v}");
        }
        assert_eq!(
            fs.parse(&args(&["-verbose=yes"])).unwrap_err(),
            FlagError::Invalid(r#"invalid boolean value "yes" for -verbose: parse error"#.into())
        );
    }

    #[test]
    fn custom_bool_flag() {
        let fs = sample();
        let p = fs.parse(&args(&["-tls-required"])).unwrap();
        assert_eq!(p.get_str("tls-required"), Some("true"));
        let p = fs.parse(&args(&["--tls-required=tcp-https"])).unwrap();
        assert_eq!(p.get_str("tls-required"), Some("tcp-https"));
        assert_eq!(
            fs.parse(&args(&["-tls-required=maybe"])).unwrap_err(),
            FlagError::Invalid(
                r#"invalid boolean value "maybe" for -tls-required: not a bool"#.into()
            )
        );
    }

    #[test]
    fn stops_at_first_non_flag_and_after_double_dash() {
        let fs = sample();
        let p = fs
            .parse(&args(&["-verbose", "rest", "-deflate=false"]))
            .unwrap();
        assert_eq!(p.args(), &args(&["rest", "-deflate=false"])[..]);
        assert_eq!(p.get_bool("deflate"), Some(true));
        let p = fs.parse(&args(&["--", "-verbose"])).unwrap();
        assert_eq!(p.args(), &args(&["-verbose"])[..]);
        let p = fs.parse(&args(&["-", "x"])).unwrap();
        assert_eq!(p.args(), &args(&["-", "x"])[..]);
    }

    #[test]
    fn value_may_look_like_a_flag() {
        let fs = sample();
        let p = fs.parse(&args(&["-data-path", "-verbose"])).unwrap();
        assert_eq!(p.get_str("data-path"), Some("-verbose"));
        assert_eq!(p.get_bool("verbose"), Some(false));
    }

    #[test]
    fn repeatable_lists() {
        let fs = sample();
        let p = fs
            .parse(&args(&[
                "-lookupd=a:1",
                "-lookupd",
                "b:2",
                "-pct=0.5,1.0",
                "-pct",
                "0.99",
            ]))
            .unwrap();
        assert_eq!(p.get_string_list("lookupd").unwrap(), &["a:1", "b:2"]);
        assert_eq!(p.get_float_list("pct").unwrap(), &[1.0, 0.99, 0.5]);
        let p = fs.parse(&[]).unwrap();
        assert!(p.get_string_list("lookupd").unwrap().is_empty());
    }

    #[test]
    fn bad_float_in_list_is_fatal() {
        let fs = sample();
        let err = fs.parse(&args(&["-pct=0.5,abc"])).unwrap_err();
        assert_eq!(err, FlagError::Fatal("Could not parse: abc".into()));
        assert_eq!(err.exit_code(), 1);
        let text = err.stderr_text(&fs);
        assert!(text.ends_with(" Could not parse: abc\n"), "{text}");
        // "YYYY/MM/DD HH:MM:SS " prefix
        assert_eq!(
            text.len(),
            "2026/01/02 03:04:05 Could not parse: abc\n".len()
        );
        assert_eq!(&text[4..5], "/");
    }

    #[test]
    fn help_and_errors() {
        let fs = sample();
        for h in ["-h", "-help", "--help", "--h", "-help=1"] {
            let err = fs.parse(&args(&[h])).unwrap_err();
            assert_eq!(err, FlagError::Help, "{h}");
            assert_eq!(err.exit_code(), 0);
            assert_eq!(err.stderr_text(&fs), fs.usage());
        }
        let err = fs.parse(&args(&["-x"])).unwrap_err();
        assert_eq!(
            err,
            FlagError::Invalid("flag provided but not defined: -x".into())
        );
        assert_eq!(err.exit_code(), 2);
        assert_eq!(
            err.stderr_text(&fs),
            format!("flag provided but not defined: -x\n{}", fs.usage())
        );
        assert_eq!(
            fs.parse(&args(&["--nope=1"])).unwrap_err(),
            FlagError::Invalid("flag provided but not defined: -nope".into())
        );
        assert_eq!(
            fs.parse(&args(&["-max-deflate-level=abc"])).unwrap_err(),
            FlagError::Invalid(
                r#"invalid value "abc" for flag -max-deflate-level: parse error"#.into()
            )
        );
        assert_eq!(
            fs.parse(&args(&["-max-deflate-level=99999999999999999999"])).unwrap_err(),
            FlagError::Invalid(
                r#"invalid value "99999999999999999999" for flag -max-deflate-level: value out of range"#
                    .into()
            )
        );
        assert_eq!(
            fs.parse(&args(&["-msg-timeout", "60"])).unwrap_err(),
            FlagError::Invalid(r#"invalid value "60" for flag -msg-timeout: parse error"#.into())
        );
        assert_eq!(
            fs.parse(&args(&["-log-level=loud"])).unwrap_err(),
            FlagError::Invalid(
                r#"invalid value "loud" for flag -log-level: bad level loud"#.into()
            )
        );
        assert_eq!(
            fs.parse(&args(&["-data-path"])).unwrap_err(),
            FlagError::Invalid("flag needs an argument: -data-path".into())
        );
        for bad in ["---x", "-=x", "--=x"] {
            assert_eq!(
                fs.parse(&args(&[bad])).unwrap_err(),
                FlagError::Invalid(format!("bad flag syntax: {bad}"))
            );
        }
    }

    #[test]
    fn usage_layout() {
        let want = "Usage of demo:
  -count uint
    \ta count
  -data-path string
    \twhere to store
  -deflate
    \tuse deflate (default true)
  -log-level level
    \tlog level to use (default info)
  -lookupd value
    \tlookupd address
  -max-deflate-level int
    \tdeflate level (default 6)
  -mem-queue-size int
    \tqueue size (default 10000)
  -msg-timeout duration
    \tmessage timeout (default 1m0s)
  -pct value
    \tpercentiles
  -rotate duration
    \trotation
  -sample float
    \tsample rate (default 1)
  -tcp-address string
    \twhere to listen (default \"0.0.0.0:4150\")
  -tls-required
    \trequire tls
  -verbose
    \tsay more
  -zero int
    \tzero by default
";
        assert_eq!(sample().usage(), want);
    }

    #[test]
    fn one_letter_bool_stays_on_one_line() {
        let mut fs = FlagSet::new("t");
        fs.bool("v", false, "verbose").int("n", 3, "count");
        assert_eq!(
            fs.usage(),
            "Usage of t:\n  -n int\n    \tcount (default 3)\n  -v\tverbose\n"
        );
    }

    #[test]
    fn go_int_parsing() {
        assert_eq!(parse_go_int("42", 0), Ok(42));
        assert_eq!(parse_go_int("-42", 0), Ok(-42));
        assert_eq!(parse_go_int("+7", 0), Ok(7));
        assert_eq!(parse_go_int("0x1F", 0), Ok(31));
        assert_eq!(parse_go_int("0o17", 0), Ok(15));
        assert_eq!(parse_go_int("017", 0), Ok(15));
        assert_eq!(parse_go_int("0", 0), Ok(0));
        assert_eq!(parse_go_int("1_000", 0), Ok(1000));
        assert_eq!(parse_go_int("0x_1f", 0), Ok(31));
        assert_eq!(parse_go_int("08", 0), Err(NumError::Syntax));
        assert_eq!(parse_go_int("1__0", 0), Err(NumError::Syntax));
        assert_eq!(parse_go_int("_1", 0), Err(NumError::Syntax));
        assert_eq!(parse_go_int("1_", 0), Err(NumError::Syntax));
        assert_eq!(parse_go_int("1_000", 10), Err(NumError::Syntax));
        assert_eq!(parse_go_int("0x10", 10), Err(NumError::Syntax));
        assert_eq!(parse_go_int("", 0), Err(NumError::Syntax));
        assert_eq!(parse_go_int("-", 0), Err(NumError::Syntax));
        assert_eq!(parse_go_int("0x", 0), Err(NumError::Syntax));
        assert_eq!(parse_go_int("9223372036854775807", 10), Ok(i64::MAX));
        assert_eq!(parse_go_int("-9223372036854775808", 10), Ok(i64::MIN));
        assert_eq!(
            parse_go_int("9223372036854775808", 10),
            Err(NumError::Range)
        );
        assert_eq!(parse_go_uint("-1", 0), Err(NumError::Syntax));
    }

    #[test]
    fn go_float_text() {
        assert_eq!(go_format_float(1.0), "1");
        assert_eq!(go_format_float(0.99), "0.99");
        assert_eq!(go_format_float(-1.5), "-1.5");
        assert_eq!(go_format_float(123456.0), "123456");
        assert_eq!(go_format_float(999999.5), "999999.5");
        assert_eq!(go_format_float(1e6), "1e+06");
        assert_eq!(go_format_float(1234567.0), "1.234567e+06");
        assert_eq!(go_format_float(1e21), "1e+21");
        assert_eq!(go_format_float(0.0001), "0.0001");
        assert_eq!(go_format_float(0.00001), "1e-05");
        assert_eq!(go_format_float(1.5e-7), "1.5e-07");
        assert_eq!(go_format_float(0.0), "0");
        assert_eq!(go_format_float(f64::NAN), "NaN");
        assert_eq!(go_format_float(f64::INFINITY), "+Inf");
    }

    #[test]
    fn go_quoting() {
        assert_eq!(go_quote("[nsqd] "), r#""[nsqd] ""#);
        assert_eq!(go_quote("a\"b\\c\n\t\u{1}"), r#""a\"b\\c\n\t\x01""#);
        assert_eq!(go_quote("µs"), "\"µs\"");
    }
}
