//! Topic and channel name rules (P-140, P-141).

/// Suffix marking an ephemeral topic or channel.
pub const EPHEMERAL_SUFFIX: &str = "#ephemeral";

/// Longest valid name in bytes, suffix included.
pub const MAX_NAME_LEN: usize = 64;

/// A name is 1..=64 bytes of `[.a-zA-Z0-9_-]`, optionally followed by one `#ephemeral`
/// (the suffix counts toward the 64).
pub fn is_valid_name(name: &[u8]) -> bool {
    if name.is_empty() || name.len() > MAX_NAME_LEN {
        return false;
    }
    let base = name
        .strip_suffix(EPHEMERAL_SUFFIX.as_bytes())
        .unwrap_or(name);
    !base.is_empty()
        && base
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// Topics and channels share one rule.
pub fn is_valid_topic_name(name: &[u8]) -> bool {
    is_valid_name(name)
}

/// Topics and channels share one rule.
pub fn is_valid_channel_name(name: &[u8]) -> bool {
    is_valid_name(name)
}

/// True for names ending in `#ephemeral` (BEH-060).
pub fn is_ephemeral(name: &str) -> bool {
    name.ends_with(EPHEMERAL_SUFFIX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simple_names() {
        assert!(is_valid_topic_name(b"test"));
        assert!(is_valid_topic_name(b"a"));
        assert!(is_valid_topic_name(b"A.b_c-D9"));
        assert!(is_valid_channel_name(b"...---___"));
        assert!(!is_valid_topic_name(b""));
        assert!(!is_valid_topic_name(b"a b"));
        assert!(!is_valid_topic_name(b"a:b"));
        assert!(!is_valid_topic_name(b"a/b"));
        assert!(!is_valid_topic_name(b"abc\n"));
        assert!(!is_valid_topic_name("é".as_bytes()));
        assert!(!is_valid_topic_name(b"a#b"));
    }

    #[test]
    fn length_limit() {
        assert!(is_valid_topic_name(&[b'a'; 64]));
        assert!(!is_valid_topic_name(&[b'a'; 65]));
    }

    #[test]
    fn ephemeral_suffix_counts_toward_limit() {
        let ok = format!("{}#ephemeral", "a".repeat(54));
        assert_eq!(ok.len(), 64);
        assert!(is_valid_topic_name(ok.as_bytes()));
        let too_long = format!("{}#ephemeral", "a".repeat(55));
        assert!(!is_valid_channel_name(too_long.as_bytes()));
    }

    #[test]
    fn ephemeral_forms() {
        assert!(is_valid_channel_name(b"ch#ephemeral"));
        assert!(!is_valid_channel_name(b"#ephemeral"));
        assert!(!is_valid_channel_name(b"a#ephemeral#ephemeral"));
        assert!(!is_valid_channel_name(b"a#EPHEMERAL"));
        assert!(!is_valid_channel_name(b"a#ephemeral "));
        assert!(is_ephemeral("ch#ephemeral"));
        assert!(!is_ephemeral("ch"));
        assert!(!is_ephemeral("ch#ephemeralx"));
    }
}
