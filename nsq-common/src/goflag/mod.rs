//! Command-line parsing that behaves like Go's `flag` package.
//!
//! Every NSQ binary is driven by scripts written against the Go tools, so the accepted syntax
//! (`-name`, `--name`, `-name=value`, `-name value`, bare bools), the error texts, the exit
//! codes and the `-h` layout all follow the Go package. The parser never prints or exits by
//! itself: [`FlagSet::parse`] returns a [`FlagError`] that says what to print and which status
//! to exit with.

mod parse;
#[cfg(test)]
mod tests;
mod usage;
mod values;

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use crate::duration::format_go_duration;

pub use values::{
    go_format_float, go_quote, parse_go_bool, parse_go_float, parse_go_int, parse_go_uint,
    sort_descending, NumError,
};

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
