//! Walking the arguments and setting flag values, with Go's syntax and error texts.

use std::collections::HashSet;
use std::io::Write as _;

use super::{
    go_quote, parse_go_bool, parse_go_float, parse_go_int, parse_go_uint, sort_descending,
    FlagError, FlagKind, FlagSet, FlagValue, NumError, ParsedFlags, SetError,
};
use crate::duration::parse_go_duration;

impl FlagSet {
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
