//! TOML config files and option resolution, the way NSQ's daemons resolve them.
//!
//! Precedence for every option: a flag given on the command line, then the config file's
//! value, then the flag's default. Config values are coerced from TOML into the flag's kind
//! with the same leniency as NSQ's option resolver (durations as integer milliseconds, ints
//! from numeric strings, bools from `ParseBool` strings, lists from comma-separated strings).

use std::time::Duration;

use thiserror::Error;

use crate::duration::parse_go_duration;
use crate::goflag::{
    go_format_float, parse_go_bool, parse_go_float, parse_go_int, parse_go_uint, FlagKind, FlagSet,
    FlagValue, ParsedFlags,
};

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ConfigError {
    #[error("failed to load config file {path} - {reason}")]
    Load { path: String, reason: String },
    /// `value` is the config value as Go's `%v` prints it.
    #[error("failed parsing {key} {value}")]
    Parse { key: String, value: String },
    /// A programming error: the option asks for a flag that was never declared, or for a
    /// different kind than the flag has.
    #[error("option {0} has no matching flag")]
    NoSuchFlag(String),
}

/// A parsed config file: its top-level keys. Keys no option uses are ignored.
#[derive(Debug, Clone, Default)]
pub struct ConfigFile {
    table: toml::Table,
}

impl ConfigFile {
    pub fn load(path: &str) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Load {
            path: path.to_string(),
            reason: e.to_string(),
        })?;
        Self::parse_str(path, &text)
    }

    /// Parses TOML text; `path` only names the file in the error.
    pub fn parse_str(path: &str, text: &str) -> Result<Self, ConfigError> {
        let table = text.parse::<toml::Table>().map_err(|e| ConfigError::Load {
            path: path.to_string(),
            reason: toml_error_line(text, &e),
        })?;
        Ok(ConfigFile { table })
    }

    pub fn get(&self, key: &str) -> Option<&toml::Value> {
        self.table.get(key)
    }
}

/// One-line description of a TOML syntax error (the toml crate's own text spans several
/// lines with a source excerpt, which does not fit a log line).
fn toml_error_line(text: &str, e: &toml::de::Error) -> String {
    let message = e.message().trim().replace('\n', "; ");
    match e.span() {
        Some(span) => {
            let before = text.get(..span.start).unwrap_or(text);
            let line = before.matches('\n').count() + 1;
            let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
            format!("toml: line {line}, column {column}: {message}")
        }
        None => format!("toml: {message}"),
    }
}

/// Go's `%v` text of a TOML value, as used in `failed parsing <key> <value>`.
pub fn go_value_text(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        toml::Value::Integer(i) => i.to_string(),
        toml::Value::Float(f) => go_format_float(*f),
        toml::Value::Boolean(b) => b.to_string(),
        toml::Value::Datetime(d) => d.to_string(),
        toml::Value::Array(items) => {
            let parts: Vec<String> = items.iter().map(go_value_text).collect();
            format!("[{}]", parts.join(" "))
        }
        toml::Value::Table(t) => {
            // Go prints maps with sorted keys.
            let mut keys: Vec<&String> = t.keys().collect();
            keys.sort();
            let parts: Vec<String> = keys
                .iter()
                .map(|k| format!("{k}:{}", go_value_text(&t[k.as_str()])))
                .collect();
            format!("map[{}]", parts.join(" "))
        }
    }
}

/// Coerces a config-file value into the flag kind's value.
///
/// Deviations from the Go resolver, all for inputs it mishandles: non-string values for a
/// string option, non-string array items for a string list, and non-list values for a list
/// are errors here (Go prints `%!s(...)`, panics, or silently yields an empty list); integer
/// items are accepted in a float-list array (Go panics).
pub fn coerce(key: &str, value: &toml::Value, kind: &FlagKind) -> Result<FlagValue, ConfigError> {
    let fail = || ConfigError::Parse {
        key: key.to_string(),
        value: go_value_text(value),
    };
    use toml::Value as V;
    Ok(match kind {
        FlagKind::Bool => FlagValue::Bool(match value {
            V::Boolean(b) => *b,
            V::String(s) => parse_go_bool(s).ok_or_else(fail)?,
            // QRK-13, replicated: the Go resolver maps integer 0 to true and any other
            // integer to false. Existing config files may depend on it.
            V::Integer(i) => *i == 0,
            _ => return Err(fail()),
        }),
        FlagKind::String => match value {
            V::String(s) => FlagValue::Str(s.clone()),
            _ => return Err(fail()),
        },
        FlagKind::Int | FlagKind::Int64 => FlagValue::Int(match value {
            V::Integer(i) => *i,
            V::String(s) => parse_go_int(s, 10).map_err(|_| fail())?,
            _ => return Err(fail()),
        }),
        FlagKind::Uint => FlagValue::Uint(match value {
            V::Integer(i) => u64::try_from(*i).map_err(|_| fail())?,
            V::String(s) => parse_go_uint(s, 10).map_err(|_| fail())?,
            _ => return Err(fail()),
        }),
        FlagKind::Float => FlagValue::Float(match value {
            V::Float(f) => *f,
            V::Integer(i) => *i as f64,
            V::String(s) => parse_go_float(s).ok_or_else(fail)?,
            _ => return Err(fail()),
        }),
        FlagKind::Duration => FlagValue::Duration(match value {
            // An all-digit string would need a unit hint the options no longer carry, so
            // the Go resolver rejects it; only an integer means milliseconds.
            V::String(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
                return Err(fail())
            }
            V::String(s) => parse_go_duration(s).map_err(|_| fail())?,
            V::Integer(ms) => Duration::from_millis(u64::try_from(*ms).map_err(|_| fail())?),
            _ => return Err(fail()),
        }),
        FlagKind::StringList => FlagValue::StringList(match value {
            V::String(s) => s.split(',').map(str::to_string).collect(),
            V::Array(items) => items
                .iter()
                .map(|item| item.as_str().map(str::to_string).ok_or_else(fail))
                .collect::<Result<_, _>>()?,
            _ => return Err(fail()),
        }),
        FlagKind::FloatList => FlagValue::FloatList(match value {
            V::String(s) => s
                .split(',')
                .map(|part| parse_go_float(part.trim()).ok_or_else(fail))
                .collect::<Result<_, _>>()?,
            V::Array(items) => items
                .iter()
                .map(|item| match item {
                    V::Float(f) => Ok(*f),
                    V::Integer(i) => Ok(*i as f64),
                    _ => Err(fail()),
                })
                .collect::<Result<_, _>>()?,
            _ => return Err(fail()),
        }),
        FlagKind::Custom(c) => {
            // Custom options are validated on their text form, as NSQ does for tls_required,
            // tls_min_version and log_level.
            let text = go_value_text(value);
            (c.check)(&text).map_err(|_| fail())?;
            FlagValue::Custom(text)
        }
    })
}

/// Resolves option values from the command line, a config file and the flag defaults.
pub struct Resolver<'a> {
    flags: &'a FlagSet,
    parsed: &'a ParsedFlags,
    cfg: Option<&'a ConfigFile>,
}

impl<'a> Resolver<'a> {
    pub fn new(flags: &'a FlagSet, parsed: &'a ParsedFlags, cfg: Option<&'a ConfigFile>) -> Self {
        Resolver { flags, parsed, cfg }
    }

    /// True when the command line or the config file gives the option a value.
    pub fn is_given(&self, flag: &str, key: &str) -> bool {
        self.parsed.is_set(flag) || self.cfg.is_some_and(|c| c.get(key).is_some())
    }

    /// The value of the option behind `flag`, whose config-file key is `key`.
    pub fn value(&self, flag: &str, key: &str) -> Result<FlagValue, ConfigError> {
        let kind = self
            .flags
            .kind(flag)
            .ok_or_else(|| ConfigError::NoSuchFlag(flag.to_string()))?;
        let current = self
            .parsed
            .value(flag)
            .ok_or_else(|| ConfigError::NoSuchFlag(flag.to_string()))?;
        if self.parsed.is_set(flag) {
            return Ok(through_flag_text(current));
        }
        match self.cfg.and_then(|c| c.get(key)) {
            Some(v) => coerce(key, v, &kind),
            None => Ok(current.clone()),
        }
    }

    pub fn string(&self, flag: &str, key: &str) -> Result<String, ConfigError> {
        match self.value(flag, key)? {
            FlagValue::Str(s) | FlagValue::Custom(s) => Ok(s),
            _ => Err(ConfigError::NoSuchFlag(flag.to_string())),
        }
    }

    /// The text of a custom flag, already accepted by its check.
    pub fn custom(&self, flag: &str, key: &str) -> Result<String, ConfigError> {
        self.string(flag, key)
    }

    pub fn bool(&self, flag: &str, key: &str) -> Result<bool, ConfigError> {
        match self.value(flag, key)? {
            FlagValue::Bool(b) => Ok(b),
            _ => Err(ConfigError::NoSuchFlag(flag.to_string())),
        }
    }

    pub fn int(&self, flag: &str, key: &str) -> Result<i64, ConfigError> {
        match self.value(flag, key)? {
            FlagValue::Int(i) => Ok(i),
            _ => Err(ConfigError::NoSuchFlag(flag.to_string())),
        }
    }

    pub fn uint(&self, flag: &str, key: &str) -> Result<u64, ConfigError> {
        match self.value(flag, key)? {
            FlagValue::Uint(i) => Ok(i),
            _ => Err(ConfigError::NoSuchFlag(flag.to_string())),
        }
    }

    pub fn float(&self, flag: &str, key: &str) -> Result<f64, ConfigError> {
        match self.value(flag, key)? {
            FlagValue::Float(f) => Ok(f),
            _ => Err(ConfigError::NoSuchFlag(flag.to_string())),
        }
    }

    pub fn duration(&self, flag: &str, key: &str) -> Result<Duration, ConfigError> {
        match self.value(flag, key)? {
            FlagValue::Duration(d) => Ok(d),
            _ => Err(ConfigError::NoSuchFlag(flag.to_string())),
        }
    }

    pub fn string_list(&self, flag: &str, key: &str) -> Result<Vec<String>, ConfigError> {
        match self.value(flag, key)? {
            FlagValue::StringList(v) => Ok(v),
            _ => Err(ConfigError::NoSuchFlag(flag.to_string())),
        }
    }

    pub fn float_list(&self, flag: &str, key: &str) -> Result<Vec<f64>, ConfigError> {
        match self.value(flag, key)? {
            FlagValue::FloatList(v) => Ok(v),
            _ => Err(ConfigError::NoSuchFlag(flag.to_string())),
        }
    }
}

/// The Go resolver reads a command-line value back through the flag's text form, which is
/// observable for lists: string-list items are joined with commas and split again (so
/// `-x=a,b` yields two items), and float-list items are printed with six decimals.
fn through_flag_text(v: &FlagValue) -> FlagValue {
    match v {
        FlagValue::StringList(items) => {
            FlagValue::StringList(items.join(",").split(',').map(str::to_string).collect())
        }
        FlagValue::FloatList(items) => FlagValue::FloatList(
            items
                .iter()
                .map(|f| format!("{f:.6}").parse::<f64>().unwrap_or(*f))
                .collect(),
        ),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::goflag::CustomKind;

    fn check_tls_required(s: &str) -> Result<(), String> {
        let s = s.to_ascii_lowercase();
        if s == "tcp-https" || parse_go_bool(&s).is_some() {
            Ok(())
        } else {
            Err(format!("bad value {s}"))
        }
    }

    const TLS_REQUIRED: CustomKind = CustomKind {
        is_bool: true,
        zero_text: "false",
        check: check_tls_required,
    };

    fn flags() -> FlagSet {
        let mut fs = FlagSet::new("t");
        fs.string("tcp-address", "0.0.0.0:4150", "")
            .string("data-path", "", "")
            .bool("deflate", true, "")
            .bool("snappy", true, "")
            .int64("mem-queue-size", 10000, "")
            .int("max-deflate-level", 6, "")
            .duration("msg-timeout", Duration::from_secs(60), "")
            .duration("sync-timeout", Duration::from_secs(2), "")
            .string_list("lookupd-tcp-address", "")
            .float_list("e2e", "")
            .custom("tls-required", TLS_REQUIRED, "false", "");
        fs
    }

    fn cfg(text: &str) -> ConfigFile {
        ConfigFile::parse_str("test.cfg", text).unwrap()
    }

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn precedence_flag_over_file_over_default() {
        let fs = flags();
        let parsed = fs
            .parse(&args(&["-tcp-address=1.1.1.1:1", "-deflate=true"]))
            .unwrap();
        let file = cfg("tcp_address = '2.2.2.2:2'\ndata_path = '/data'\ndeflate = false\n");
        let r = Resolver::new(&fs, &parsed, Some(&file));
        assert_eq!(r.string("tcp-address", "tcp_address").unwrap(), "1.1.1.1:1");
        assert_eq!(r.string("data-path", "data_path").unwrap(), "/data");
        assert!(
            r.bool("deflate", "deflate").unwrap(),
            "flag set to its default still wins"
        );
        assert_eq!(r.int("mem-queue-size", "mem_queue_size").unwrap(), 10000);
        let r = Resolver::new(&fs, &parsed, None);
        assert_eq!(r.string("data-path", "data_path").unwrap(), "");
    }

    #[test]
    fn duration_coercion() {
        let fs = flags();
        let parsed = fs.parse(&[]).unwrap();
        let file = cfg("msg_timeout = 5000\nsync_timeout = '1m30s'\n");
        let r = Resolver::new(&fs, &parsed, Some(&file));
        assert_eq!(
            r.duration("msg-timeout", "msg_timeout").unwrap(),
            Duration::from_secs(5)
        );
        assert_eq!(
            r.duration("sync-timeout", "sync_timeout").unwrap(),
            Duration::from_secs(90)
        );
        for bad in [
            "msg_timeout = '5000'",
            "msg_timeout = 'soon'",
            "msg_timeout = -1",
        ] {
            let file = cfg(bad);
            let r = Resolver::new(&fs, &parsed, Some(&file));
            let err = r.duration("msg-timeout", "msg_timeout").unwrap_err();
            assert!(
                err.to_string().starts_with("failed parsing msg_timeout "),
                "{err}"
            );
        }
        let file = cfg("msg_timeout = 'soon'");
        let r = Resolver::new(&fs, &parsed, Some(&file));
        assert_eq!(
            r.duration("msg-timeout", "msg_timeout")
                .unwrap_err()
                .to_string(),
            "failed parsing msg_timeout soon"
        );
    }

    #[test]
    fn int_and_bool_coercion() {
        let fs = flags();
        let parsed = fs.parse(&[]).unwrap();
        let file = cfg("mem_queue_size = '123'\nmax_deflate_level = 9\ndeflate = 'F'\n");
        let r = Resolver::new(&fs, &parsed, Some(&file));
        assert_eq!(r.int("mem-queue-size", "mem_queue_size").unwrap(), 123);
        assert_eq!(r.int("max-deflate-level", "max_deflate_level").unwrap(), 9);
        assert!(!r.bool("deflate", "deflate").unwrap());
        let file = cfg("mem_queue_size = 1.5");
        let r = Resolver::new(&fs, &parsed, Some(&file));
        assert_eq!(
            r.int("mem-queue-size", "mem_queue_size")
                .unwrap_err()
                .to_string(),
            "failed parsing mem_queue_size 1.5"
        );
        let file = cfg("mem_queue_size = '0x10'");
        let r = Resolver::new(&fs, &parsed, Some(&file));
        assert!(
            r.int("mem-queue-size", "mem_queue_size").is_err(),
            "config ints are base 10"
        );
        let file = cfg("deflate = 'yes'");
        let r = Resolver::new(&fs, &parsed, Some(&file));
        assert_eq!(
            r.bool("deflate", "deflate").unwrap_err().to_string(),
            "failed parsing deflate yes"
        );
    }

    #[test]
    fn integer_bools_are_inverted_qrk_13() {
        let fs = flags();
        let parsed = fs.parse(&[]).unwrap();
        let file = cfg("deflate = 0\nsnappy = 1\n");
        let r = Resolver::new(&fs, &parsed, Some(&file));
        assert!(r.bool("deflate", "deflate").unwrap());
        assert!(!r.bool("snappy", "snappy").unwrap());
    }

    #[test]
    fn list_coercion() {
        let fs = flags();
        let parsed = fs.parse(&[]).unwrap();
        let file = cfg("nsqlookupd_tcp_addresses = ['a:1', 'b:2']\ne2e = [1.0, 0.99, 1]\n");
        let r = Resolver::new(&fs, &parsed, Some(&file));
        assert_eq!(
            r.string_list("lookupd-tcp-address", "nsqlookupd_tcp_addresses")
                .unwrap(),
            vec!["a:1", "b:2"]
        );
        assert_eq!(r.float_list("e2e", "e2e").unwrap(), vec![1.0, 0.99, 1.0]);
        let file = cfg("nsqlookupd_tcp_addresses = 'a:1,b:2'\ne2e = '0.5, 0.99'\n");
        let r = Resolver::new(&fs, &parsed, Some(&file));
        assert_eq!(
            r.string_list("lookupd-tcp-address", "nsqlookupd_tcp_addresses")
                .unwrap(),
            vec!["a:1", "b:2"]
        );
        assert_eq!(r.float_list("e2e", "e2e").unwrap(), vec![0.5, 0.99]);
        let file = cfg("e2e = '0.5,x'");
        let r = Resolver::new(&fs, &parsed, Some(&file));
        assert_eq!(
            r.float_list("e2e", "e2e").unwrap_err().to_string(),
            "failed parsing e2e 0.5,x"
        );
        let file = cfg("nsqlookupd_tcp_addresses = ['a', 1]");
        let r = Resolver::new(&fs, &parsed, Some(&file));
        assert_eq!(
            r.string_list("lookupd-tcp-address", "nsqlookupd_tcp_addresses")
                .unwrap_err()
                .to_string(),
            "failed parsing nsqlookupd_tcp_addresses [a 1]"
        );
    }

    #[test]
    fn command_line_lists_go_through_their_text_form() {
        let fs = flags();
        let parsed = fs
            .parse(&args(&[
                "-lookupd-tcp-address=a:1,b:2",
                "-e2e=0.1234567,0.5",
            ]))
            .unwrap();
        let file = cfg("nsqlookupd_tcp_addresses = ['ignored']");
        let r = Resolver::new(&fs, &parsed, Some(&file));
        assert_eq!(
            r.string_list("lookupd-tcp-address", "nsqlookupd_tcp_addresses")
                .unwrap(),
            vec!["a:1", "b:2"]
        );
        assert_eq!(r.float_list("e2e", "e2e").unwrap(), vec![0.5, 0.123457]);
    }

    #[test]
    fn custom_values_are_checked_on_their_text() {
        let fs = flags();
        let parsed = fs.parse(&[]).unwrap();
        for (text, want) in [("true", "true"), ("'TCP-HTTPS'", "TCP-HTTPS"), ("1", "1")] {
            let file = cfg(&format!("tls_required = {text}"));
            let r = Resolver::new(&fs, &parsed, Some(&file));
            assert_eq!(r.custom("tls-required", "tls_required").unwrap(), want);
        }
        let file = cfg("tls_required = 5");
        let r = Resolver::new(&fs, &parsed, Some(&file));
        assert_eq!(
            r.custom("tls-required", "tls_required")
                .unwrap_err()
                .to_string(),
            "failed parsing tls_required 5"
        );
        let r = Resolver::new(&fs, &parsed, None);
        assert_eq!(r.custom("tls-required", "tls_required").unwrap(), "false");
    }

    #[test]
    fn unknown_keys_are_ignored_and_bad_files_fail() {
        let fs = flags();
        let parsed = fs.parse(&[]).unwrap();
        let file = cfg("whatever = 1\n[section]\nx = 2\n");
        let r = Resolver::new(&fs, &parsed, Some(&file));
        assert_eq!(r.int("mem-queue-size", "mem_queue_size").unwrap(), 10000);
        let err = ConfigFile::parse_str("/etc/nsqd.cfg", "a = \n")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("failed to load config file /etc/nsqd.cfg - toml: line 1, column 5: "),
            "{err}"
        );
        assert!(!err.contains('\n'), "{err}");
        let err = ConfigFile::load("/nonexistent/nsqd.cfg")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("failed to load config file /nonexistent/nsqd.cfg - "),
            "{err}"
        );
        assert!(matches!(
            r.int("nope", "nope"),
            Err(ConfigError::NoSuchFlag(_))
        ));
    }
}
