//! nsq_to_nsq's JSON filters (T-053): pass only messages whose JSON has a required field
//! (optionally with a required value), and forward only whitelisted fields.
//!
//! The body is decoded the way Go decodes into a `map[string]interface{}`: an object (or
//! `null`, which counts as an empty object), every number a float64. A whitelisted body is
//! re-encoded the way Go's `encoding/json` writes such a map, so downstream consumers see the
//! same bytes as with the Go tool: keys sorted, `<`, `>` and `&` escaped, whole top-level
//! numbers written as integers.

use serde_json::{Map, Value};

/// What to do with one message.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Publish this body.
    Forward(Vec<u8>),
    /// Not JSON: log it and finish the message.
    NotJson,
    /// Failed the filter: finish the message without forwarding.
    Drop,
    /// The required field is missing while a value is required: requeue with backoff.
    MissingField,
}

#[derive(Clone, Debug, Default)]
pub struct JsonFilter {
    require_field: String,
    require_value: String,
    /// `require_value` as a number, when it reads as one.
    require_number: Option<f64>,
    whitelist: Vec<String>,
}

impl JsonFilter {
    pub fn new(require_field: &str, require_value: &str, whitelist: Vec<String>) -> JsonFilter {
        JsonFilter {
            require_field: require_field.to_string(),
            require_value: require_value.to_string(),
            require_number: nsq_common::goflag::parse_go_float(require_value),
            whitelist,
        }
    }

    /// The filters only run when a required field or a whitelist is given.
    pub fn is_active(&self) -> bool {
        !self.require_field.is_empty() || !self.whitelist.is_empty()
    }

    /// Judges one body. Call only when [`JsonFilter::is_active`].
    pub fn apply(&self, body: &[u8]) -> Verdict {
        let map = match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(m)) => m,
            Ok(Value::Null) => Map::new(),
            _ => return Verdict::NotJson,
        };
        if let Some(v) = self.should_drop(&map) {
            return v;
        }
        if self.whitelist.is_empty() {
            return Verdict::Forward(body.to_vec());
        }
        let mut kept: Vec<(&str, &Value)> = self
            .whitelist
            .iter()
            .filter_map(|k| map.get_key_value(k.as_str()))
            .map(|(k, v)| (k.as_str(), v))
            .collect();
        kept.sort_by(|a, b| a.0.cmp(b.0));
        kept.dedup_by(|a, b| a.0 == b.0);
        let mut out = Vec::with_capacity(body.len());
        out.push(b'{');
        for (i, (k, v)) in kept.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_string(&mut out, k);
            out.push(b':');
            match v {
                Value::Number(n) => write_top_level_number(&mut out, n.as_f64().unwrap_or(0.0)),
                _ => write_value(&mut out, v),
            }
        }
        out.push(b'}');
        Verdict::Forward(out)
    }

    /// `Some(verdict)` when the required-field rules reject the message.
    fn should_drop(&self, map: &Map<String, Value>) -> Option<Verdict> {
        if self.require_field.is_empty() {
            return None;
        }
        let Some(v) = map.get(&self.require_field) else {
            return Some(if self.require_value.is_empty() {
                Verdict::Drop
            } else {
                Verdict::MissingField
            });
        };
        if self.require_value.is_empty() {
            return None;
        }
        let pass = match (v, self.require_number) {
            (Value::String(s), _) => *s == self.require_value,
            (Value::Number(n), Some(want)) => n.as_f64() == Some(want),
            // Booleans, null, arrays and objects never match.
            _ => false,
        };
        (!pass).then_some(Verdict::Drop)
    }
}

/// A whitelisted top-level number: an integer when the float holds a whole int64, as the Go
/// tool converts them.
fn write_top_level_number(out: &mut Vec<u8>, f: f64) {
    let i = f as i64;
    if i as f64 == f {
        out.extend_from_slice(i.to_string().as_bytes());
    } else {
        write_float(out, f);
    }
}

/// Go's `encoding/json` float64 text: plain decimal between 1e-6 and 1e21, exponent form
/// outside (`1e+21`, `1e-7`), shortest digits that read back the same.
fn write_float(out: &mut Vec<u8>, f: f64) {
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let text = format!("{f:e}");
        let (mantissa, exp) = text.split_once('e').unwrap_or((&text, "0"));
        out.extend_from_slice(mantissa.as_bytes());
        out.push(b'e');
        match exp.strip_prefix('-') {
            Some(digits) => {
                out.push(b'-');
                out.extend_from_slice(digits.as_bytes());
            }
            None => {
                out.push(b'+');
                if exp.len() < 2 {
                    out.push(b'0');
                }
                out.extend_from_slice(exp.as_bytes());
            }
        }
    } else {
        out.extend_from_slice(format!("{f}").as_bytes());
    }
}

fn write_value(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Number(n) => write_float(out, n.as_f64().unwrap_or(0.0)),
        Value::String(s) => write_string(out, s),
        Value::Array(items) => write_seq(out, b'[', b']', items, write_value),
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            write_seq(out, b'{', b'}', keys, |out, k| {
                write_string(out, k);
                out.push(b':');
                write_value(out, &m[k]);
            });
        }
    }
}

/// `open`, the items separated by commas, `close`.
fn write_seq<T>(
    out: &mut Vec<u8>,
    open: u8,
    close: u8,
    items: impl IntoIterator<Item = T>,
    mut write_item: impl FnMut(&mut Vec<u8>, T),
) {
    out.push(open);
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_item(out, item);
    }
    out.push(close);
}

/// A JSON string as Go writes it (HTML-safe, Go 1.21 escapes).
fn write_string(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    for c in s.chars() {
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\r' => out.extend_from_slice(b"\\r"),
            '\t' => out.extend_from_slice(b"\\t"),
            '\u{2028}' => out.extend_from_slice(b"\\u2028"),
            '\u{2029}' => out.extend_from_slice(b"\\u2029"),
            c if (c as u32) < 0x20 || matches!(c, '<' | '>' | '&') => {
                let b = c as u8;
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(b >> 4)]);
                out.push(HEX[usize::from(b & 0xf)]);
            }
            c => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forward(f: &JsonFilter, body: &str) -> String {
        match f.apply(body.as_bytes()) {
            Verdict::Forward(b) => String::from_utf8(b).unwrap(),
            v => panic!("{body}: {v:?}"),
        }
    }

    #[test]
    fn inactive_without_field_or_whitelist() {
        assert!(!JsonFilter::new("", "x", vec![]).is_active());
        assert!(JsonFilter::new("a", "", vec![]).is_active());
        assert!(JsonFilter::new("", "", vec!["a".into()]).is_active());
    }

    #[test]
    fn non_objects_are_not_json() {
        let f = JsonFilter::new("a", "", vec![]);
        for body in ["not json", "[1,2]", "\"s\"", "12", "{\"a\":1} x", ""] {
            assert_eq!(f.apply(body.as_bytes()), Verdict::NotJson, "{body}");
        }
        // Go decodes null into a nil map: an object without fields.
        assert_eq!(f.apply(b"null"), Verdict::Drop);
    }

    #[test]
    fn required_field_and_value() {
        let f = JsonFilter::new("a", "", vec![]);
        assert_eq!(forward(&f, r#"{"a":null}"#), r#"{"a":null}"#);
        assert_eq!(f.apply(br#"{"b":1}"#), Verdict::Drop);

        let f = JsonFilter::new("a", "x", vec![]);
        assert_eq!(forward(&f, r#"{"a":"x","b":2}"#), r#"{"a":"x","b":2}"#);
        assert_eq!(f.apply(br#"{"a":"y"}"#), Verdict::Drop);
        assert_eq!(f.apply(br#"{"a":true}"#), Verdict::Drop);
        assert_eq!(f.apply(br#"{"b":"x"}"#), Verdict::MissingField);

        let f = JsonFilter::new("n", "5", vec![]);
        assert_eq!(forward(&f, r#"{"n":5.0}"#), r#"{"n":5.0}"#);
        assert_eq!(forward(&f, r#"{"n":"5"}"#), r#"{"n":"5"}"#);
        assert_eq!(f.apply(br#"{"n":"5.0"}"#), Verdict::Drop);
        assert_eq!(f.apply(br#"{"n":6}"#), Verdict::Drop);

        // A value that is no number only matches strings.
        let f = JsonFilter::new("n", "five", vec![]);
        assert_eq!(f.apply(br#"{"n":5}"#), Verdict::Drop);
    }

    #[test]
    fn whitelist_reencodes_like_go() {
        let f = JsonFilter::new(
            "",
            "",
            vec!["z".into(), "a".into(), "n".into(), "gone".into()],
        );
        assert_eq!(
            forward(
                &f,
                r#"{"n":3.0,"x":1,"z":"<&>","a":{"y":1e21,"b":[0.5,1e-7,true]}}"#
            ),
            r#"{"a":{"b":[0.5,1e-7,true],"y":1e+21},"n":3,"z":"\u003c\u0026\u003e"}"#
        );
        let f = JsonFilter::new("", "", vec!["big".into(), "f".into(), "neg".into()]);
        assert_eq!(
            forward(&f, r#"{"big":1e300,"f":2.5,"neg":-0.0}"#),
            r#"{"big":1e+300,"f":2.5,"neg":0}"#
        );
        assert_eq!(forward(&f, "{}"), "{}");
    }

    #[test]
    fn strings_escape_like_go() {
        let mut out = Vec::new();
        write_string(&mut out, "q\"\\\n\t\u{1}\u{2028}é");
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#""q\"\\\n\t\u0001\u2028é""#
        );
    }
}
