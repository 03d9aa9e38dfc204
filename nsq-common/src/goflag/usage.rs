//! The `-h` text, laid out as Go's `flag.PrintDefaults` lays it out.

use std::fmt::Write as _;

use super::{go_quote, FlagKind, FlagSet};

impl FlagSet {
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
