//! Version strings (§9, LOG-005).

/// The NSQ release this implementation is compatible with; reported in every JSON `version`.
pub const VERSION: &str = "1.3.0";

/// The toolchain that built this crate, e.g. `rustc1.95.0` (no spaces: clients match it as
/// one token).
pub const BUILT_WITH: &str = env!("NSQ_BUILT_WITH");

/// The daemon banner and `--version` output: `<app> v1.3.0 (built w/rustc1.95.0)`.
pub fn version_string(app: &str) -> String {
    format!("{app} v{VERSION} (built w/{BUILT_WITH})")
}

/// What the tools print for their version flag: `<tool> v1.3.0` (V-002).
pub fn tool_version_string(tool: &str) -> String {
    format!("{tool} v{VERSION}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn daemon_version_shape() {
        let s = version_string("nsqd");
        let prefix = "nsqd v1.3.0 (built w/";
        assert!(s.starts_with(prefix), "{s}");
        assert!(s.ends_with(')'), "{s}");
        let toolchain = &s[prefix.len()..s.len() - 1];
        assert!(toolchain.starts_with("rustc"), "{s}");
        assert!(!toolchain.is_empty() && !toolchain.contains(char::is_whitespace));
        assert_eq!(toolchain, BUILT_WITH);
    }

    #[test]
    fn tool_version_shape() {
        assert_eq!(tool_version_string("nsq_tail"), "nsq_tail v1.3.0");
    }
}
