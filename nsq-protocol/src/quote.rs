//! Go's `%q` rendering of a byte string (strconv.Quote rules), used in error texts that show
//! a client-supplied topic or channel name.

use std::fmt::Write;

use unicode_properties::{GeneralCategoryGroup, UnicodeGeneralCategory};

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Quote `s` the way Go's `strconv.Quote` does: double quotes around, `"` and `\` escaped,
/// the C escapes for the usual control characters, `\xNN` for bytes that are not valid
/// UTF-8 and for other ASCII controls, `\uNNNN`/`\UNNNNNNNN` for non-printable runes, and
/// printable Unicode kept as is.
pub fn go_quote(s: &[u8]) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for chunk in s.utf8_chunks() {
        for c in chunk.valid().chars() {
            push_rune(&mut out, c);
        }
        // Go decodes an invalid sequence one byte at a time, escaping each.
        for &b in chunk.invalid() {
            push_hex_byte(&mut out, b);
        }
    }
    out.push('"');
    out
}

fn push_hex_byte(out: &mut String, b: u8) {
    out.push_str("\\x");
    out.push(HEX[usize::from(b >> 4)] as char);
    out.push(HEX[usize::from(b & 0xf)] as char);
}

fn push_rune(out: &mut String, c: char) {
    if c == '"' || c == '\\' {
        out.push('\\');
        out.push(c);
        return;
    }
    if is_go_printable(c) {
        out.push(c);
        return;
    }
    match c {
        '\u{7}' => out.push_str("\\a"),
        '\u{8}' => out.push_str("\\b"),
        '\u{c}' => out.push_str("\\f"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\u{b}' => out.push_str("\\v"),
        c if c < ' ' || c == '\u{7f}' => push_hex_byte(out, c as u8),
        c if (c as u32) < 0x10000 => {
            let _ = write!(out, "\\u{:04x}", c as u32);
        }
        c => {
            let _ = write!(out, "\\U{:08x}", c as u32);
        }
    }
}

/// Go's `unicode.IsPrint`: letters, marks, numbers, punctuation, symbols and the ASCII space.
/// Other spaces, controls, format characters, private-use and unassigned code points are not.
fn is_go_printable(c: char) -> bool {
    if c.is_ascii() {
        return (' '..='~').contains(&c);
    }
    matches!(
        c.general_category_group(),
        GeneralCategoryGroup::Letter
            | GeneralCategoryGroup::Mark
            | GeneralCategoryGroup::Number
            | GeneralCategoryGroup::Punctuation
            | GeneralCategoryGroup::Symbol
    )
}

#[cfg(test)]
mod tests {
    use super::go_quote;

    #[test]
    fn plain_and_empty() {
        assert_eq!(go_quote(b""), "\"\"");
        assert_eq!(go_quote(b"topic.name_1-x"), "\"topic.name_1-x\"");
        assert_eq!(go_quote(b"a b"), "\"a b\"");
    }

    #[test]
    fn quote_and_backslash() {
        assert_eq!(go_quote(b"a\"b\\c"), "\"a\\\"b\\\\c\"");
    }

    #[test]
    fn c_escapes() {
        assert_eq!(
            go_quote(b"\x07\x08\x0c\n\r\t\x0b"),
            "\"\\a\\b\\f\\n\\r\\t\\v\""
        );
    }

    #[test]
    fn other_controls_as_hex() {
        assert_eq!(go_quote(b"\x00\x01\x1f\x7f"), "\"\\x00\\x01\\x1f\\x7f\"");
    }

    #[test]
    fn invalid_utf8_bytes_one_by_one() {
        assert_eq!(go_quote(b"\xff"), "\"\\xff\"");
        assert_eq!(go_quote(b"a\xe2\x82z"), "\"a\\xe2\\x82z\"");
        // An encoded surrogate is invalid UTF-8 too.
        assert_eq!(go_quote(b"\xed\xa0\x80"), "\"\\xed\\xa0\\x80\"");
        assert_eq!(go_quote(b"\xc3"), "\"\\xc3\"");
    }

    #[test]
    fn printable_unicode_kept() {
        assert_eq!(go_quote("héllo".as_bytes()), "\"héllo\"");
        assert_eq!(go_quote("日本".as_bytes()), "\"日本\"");
        assert_eq!(go_quote("€😀".as_bytes()), "\"€😀\"");
        // A real U+FFFD is a printable symbol, unlike an invalid byte.
        assert_eq!(go_quote("\u{fffd}".as_bytes()), "\"\u{fffd}\"");
    }

    #[test]
    fn non_printable_runes_as_unicode_escapes() {
        // C1 control, no-break space, soft hyphen, zero-width space, line separator, BOM.
        assert_eq!(go_quote("\u{85}".as_bytes()), "\"\\u0085\"");
        assert_eq!(go_quote("\u{a0}".as_bytes()), "\"\\u00a0\"");
        assert_eq!(go_quote("\u{ad}".as_bytes()), "\"\\u00ad\"");
        assert_eq!(go_quote("\u{200b}".as_bytes()), "\"\\u200b\"");
        assert_eq!(go_quote("\u{2028}".as_bytes()), "\"\\u2028\"");
        assert_eq!(go_quote("\u{feff}".as_bytes()), "\"\\ufeff\"");
        // Private use, above the BMP.
        assert_eq!(go_quote("\u{f0000}".as_bytes()), "\"\\U000f0000\"");
        assert_eq!(go_quote("\u{e0001}".as_bytes()), "\"\\U000e0001\"");
    }
}
