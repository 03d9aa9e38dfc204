//! Query strings parsed as strictly as Go's `url.ParseQuery` (H-006): a malformed escape or a
//! `;` inside a pair makes the whole query invalid (400 `INVALID_REQUEST`), `+` is a space, and
//! a repeated parameter keeps its first value.
//!
//! Values are bytes, not `String`: a `%FF` escape is legal in a query and must reach the name
//! validation (which rejects it) rather than fail as a malformed request.

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    #[error("invalid URL escape {0:?}")]
    BadEscape(String),
    #[error("invalid semicolon separator in query")]
    Semicolon,
}

/// The parsed parameters, in order of appearance.
#[derive(Debug, Default, Clone)]
pub struct Query {
    pairs: Vec<(Vec<u8>, Vec<u8>)>,
}

impl Query {
    /// Parses the raw query (the part after `?`, still escaped). Like Go, every pair is checked
    /// and the first problem is reported.
    pub fn parse(raw: &str) -> Result<Query, QueryError> {
        let mut pairs = Vec::new();
        let mut first_err = None;
        for pair in raw.split('&') {
            if pair.contains(';') {
                first_err.get_or_insert(QueryError::Semicolon);
                continue;
            }
            if pair.is_empty() {
                continue;
            }
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            match (unescape(key), unescape(value)) {
                (Ok(k), Ok(v)) => pairs.push((k, v)),
                (Err(e), _) | (_, Err(e)) => {
                    first_err.get_or_insert(e);
                }
            }
        }
        match first_err {
            Some(e) => Err(e),
            None => Ok(Query { pairs }),
        }
    }

    /// The first value of `key`, if the key appears at all (an empty value counts).
    pub fn get(&self, key: &str) -> Option<&[u8]> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key.as_bytes())
            .map(|(_, v)| v.as_slice())
    }
}

/// Go's `QueryUnescape`: `%XX` needs two hex digits, `+` becomes a space.
fn unescape(s: &str) -> Result<Vec<u8>, QueryError> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hi = bytes.get(i + 1).and_then(|&b| hex_val(b));
                let lo = bytes.get(i + 2).and_then(|&b| hex_val(b));
                match (hi, lo) {
                    (Some(h), Some(l)) => out.push(h << 4 | l),
                    _ => {
                        // Go quotes the bad escape: the `%` and up to two following bytes.
                        let end = (i + 3).min(bytes.len());
                        let bad = String::from_utf8_lossy(&bytes[i..end]).into_owned();
                        return Err(QueryError::BadEscape(bad));
                    }
                }
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    Ok(out)
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Percent-decodes a request path the way Go fills `URL.Path` (no `+` rule in paths). None for a
/// malformed escape, which Go's server rejects before routing.
pub fn unescape_path(path: &str) -> Option<String> {
    if !path.contains('%') {
        return Some(path.to_string());
    }
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hi = bytes.get(i + 1).and_then(|&b| hex_val(b))?;
            let lo = bytes.get(i + 2).and_then(|&b| hex_val(b))?;
            out.push(hi << 4 | lo);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    // Go keeps arbitrary bytes in a path; no route contains non-UTF-8, so lossy is harmless.
    Some(String::from_utf8_lossy(&out).into_owned())
}

/// The bool parameters of `/stats` and `/mpub?binary`: `true`/`1` and `false`/`0`; anything
/// else is None and the caller picks the default.
pub fn parse_bool_param(v: &[u8]) -> Option<bool> {
    match v {
        b"true" | b"1" => Some(true),
        b"false" | b"0" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_value_wins_and_plus_is_space() {
        let q = Query::parse("topic=a+b&topic=c&x=%41%2b").unwrap();
        assert_eq!(q.get("topic"), Some(&b"a b"[..]));
        assert_eq!(q.get("x"), Some(&b"A+"[..]));
        assert_eq!(q.get("missing"), None);
    }

    #[test]
    fn keys_without_value_and_empty_pairs() {
        let q = Query::parse("&binary&defer=&=v&&").unwrap();
        assert_eq!(q.get("binary"), Some(&b""[..]));
        assert_eq!(q.get("defer"), Some(&b""[..]));
        assert_eq!(q.get(""), Some(&b"v"[..]));
        assert!(Query::parse("").unwrap().get("topic").is_none());
    }

    #[test]
    fn malformed_escapes_are_errors() {
        assert_eq!(
            Query::parse("topic=%zz").unwrap_err(),
            QueryError::BadEscape("%zz".into())
        );
        assert_eq!(
            Query::parse("topic=ok&b=%4").unwrap_err(),
            QueryError::BadEscape("%4".into())
        );
        assert_eq!(
            Query::parse("topic=%").unwrap_err(),
            QueryError::BadEscape("%".into())
        );
        assert_eq!(
            Query::parse("%g1=x").unwrap_err(),
            QueryError::BadEscape("%g1".into())
        );
    }

    #[test]
    fn semicolons_are_rejected() {
        assert_eq!(Query::parse("a=1;b=2").unwrap_err(), QueryError::Semicolon);
        assert_eq!(
            Query::parse("topic=t&x=%3B").unwrap().get("x"),
            Some(&b";"[..])
        );
    }

    #[test]
    fn non_utf8_values_survive_as_bytes() {
        let q = Query::parse("topic=%FF").unwrap();
        assert_eq!(q.get("topic"), Some(&[0xffu8][..]));
    }

    #[test]
    fn path_unescaping() {
        assert_eq!(unescape_path("/p%69ng").as_deref(), Some("/ping"));
        assert_eq!(unescape_path("/a+b").as_deref(), Some("/a+b"));
        assert_eq!(unescape_path("/bad%2"), None);
    }

    #[test]
    fn bool_params() {
        assert_eq!(parse_bool_param(b"1"), Some(true));
        assert_eq!(parse_bool_param(b"false"), Some(false));
        assert_eq!(parse_bool_param(b""), None);
        assert_eq!(parse_bool_param(b"TRUE"), None);
    }
}
