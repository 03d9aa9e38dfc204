//! JSON text written the way Go's `encoding/json` writes it, for response bodies that clients
//! compare byte for byte.

use std::fmt::Write;

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Append `s` as a JSON string literal with Go's escaping: `"` and `\`, `\n` `\r` `\t`,
/// other control characters as `\u00XX`, and the HTML-sensitive `<` `>` `&` plus U+2028 and
/// U+2029 as `\uXXXX` (Go escapes those by default).
pub fn push_json_string(out: &mut String, s: &str) {
    out.push('"');
    let mut plain_from = 0;
    for (i, c) in s.char_indices() {
        let escape: Option<&str> = match c {
            '"' => Some("\\\""),
            '\\' => Some("\\\\"),
            '\n' => Some("\\n"),
            '\r' => Some("\\r"),
            '\t' => Some("\\t"),
            _ => None,
        };
        let needs_hex =
            escape.is_none() && (c < ' ' || matches!(c, '<' | '>' | '&' | '\u{2028}' | '\u{2029}'));
        if escape.is_none() && !needs_hex {
            continue;
        }
        out.push_str(&s[plain_from..i]);
        plain_from = i + c.len_utf8();
        match escape {
            Some(e) => out.push_str(e),
            None => {
                let v = c as u32;
                out.push_str("\\u");
                for shift in [12, 8, 4, 0] {
                    out.push(HEX[((v >> shift) & 0xf) as usize] as char);
                }
            }
        }
    }
    out.push_str(&s[plain_from..]);
    out.push('"');
}

/// The AUTH success response (P-051): `{"identity":…,"identity_url":…,"permission_count":N}`.
pub fn auth_response(identity: &str, identity_url: &str, permission_count: i64) -> String {
    let mut out = String::with_capacity(64 + identity.len() + identity_url.len());
    out.push_str("{\"identity\":");
    push_json_string(&mut out, identity);
    out.push_str(",\"identity_url\":");
    push_json_string(&mut out, identity_url);
    let _ = write!(out, ",\"permission_count\":{permission_count}}}");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quoted(s: &str) -> String {
        let mut out = String::new();
        push_json_string(&mut out, s);
        out
    }

    #[test]
    fn plain_strings() {
        assert_eq!(quoted(""), "\"\"");
        assert_eq!(quoted("us-east-1a"), "\"us-east-1a\"");
        assert_eq!(quoted("日本"), "\"日本\"");
    }

    #[test]
    fn go_escapes() {
        assert_eq!(quoted("a\"b\\c"), "\"a\\\"b\\\\c\"");
        assert_eq!(quoted("\n\r\t"), "\"\\n\\r\\t\"");
        assert_eq!(
            quoted("\u{0}\u{8}\u{c}\u{1f}"),
            "\"\\u0000\\u0008\\u000c\\u001f\""
        );
        assert_eq!(quoted("<a&b>"), "\"\\u003ca\\u0026b\\u003e\"");
        assert_eq!(quoted("x\u{2028}y\u{2029}"), "\"x\\u2028y\\u2029\"");
        assert_eq!(quoted("\u{7f}"), "\"\u{7f}\"");
    }

    #[test]
    fn auth_response_shape() {
        assert_eq!(
            auth_response("user", "http://x/u?a=1&b=2", 2),
            "{\"identity\":\"user\",\"identity_url\":\"http://x/u?a=1\\u0026b=2\",\"permission_count\":2}"
        );
    }
}
