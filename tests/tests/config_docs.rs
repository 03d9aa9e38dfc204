//! docs/configuration.md is generated from the binaries' `-h` output by
//! scripts/gen-config-docs.sh; this fails when the two disagree, so the doc cannot drift.

use std::path::PathBuf;
use std::process::Command;

use nsq_tests::lookupd::nsqlookupd_bin;
use nsq_tests::{bin_path, nsqd_bin};

/// Every binary the doc covers, and whether it reads a config file (its table then has a
/// config-key column).
const BINARIES: [(&str, bool); 9] = [
    ("nsqd", true),
    ("nsqlookupd", true),
    ("nsqadmin", true),
    ("to_nsq", false),
    ("nsq_tail", false),
    ("nsq_to_file", false),
    ("nsq_to_http", false),
    ("nsq_to_nsq", false),
    ("nsq_stat", false),
];

/// The binary under test (the daemons honour the harness's `NSQD_BIN` / `NSQLOOKUPD_BIN`).
fn bin(name: &str) -> PathBuf {
    match name {
        "nsqd" => nsqd_bin(),
        "nsqlookupd" => nsqlookupd_bin(),
        _ => bin_path(name),
    }
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The text of the doc's `## <name>` section, up to the next section.
fn section<'a>(doc: &'a str, name: &str) -> &'a str {
    let heading = format!("\n## {name}\n");
    let start = doc
        .find(&heading)
        .unwrap_or_else(|| panic!("no {heading:?}"));
    let rest = &doc[start + heading.len()..];
    &rest[..rest.find("\n## ").unwrap_or(rest.len())]
}

#[test]
fn configuration_doc_matches_the_binaries() {
    let mut cmd = Command::new("bash");
    cmd.arg(root().join("scripts/gen-config-docs.sh"))
        .arg("--check");
    // The script reads each binary from the variable named like it in upper case; point
    // them all at the binaries these tests run.
    for (name, _) in BINARIES {
        cmd.env(name.to_uppercase(), bin(name));
    }
    let out = cmd.output().expect("run scripts/gen-config-docs.sh");
    assert!(
        out.status.success(),
        "docs/configuration.md is out of date; run scripts/gen-config-docs.sh\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn configuration_doc_lists_every_flag() {
    let doc = std::fs::read_to_string(root().join("docs/configuration.md")).unwrap();
    for (name, has_config) in BINARIES {
        let body = section(&doc, name);
        let header = if has_config {
            "| Flag | Type | Config key | Default | Description |"
        } else {
            "| Flag | Type | Default | Description |"
        };
        assert!(body.contains(header), "{name}: no {header:?}");
        let help = Command::new(bin(name)).arg("-h").output().unwrap();
        let flags: Vec<String> = String::from_utf8_lossy(&help.stderr)
            .lines()
            .filter_map(|l| l.strip_prefix("  -"))
            .map(|l| l.split(' ').next().unwrap_or_default().to_string())
            .collect();
        assert!(!flags.is_empty(), "{name} -h lists no flags");
        let rows = body.lines().filter(|l| l.starts_with("| `--")).count();
        assert_eq!(rows, flags.len(), "{name}");
        for f in flags {
            assert!(
                body.contains(&format!("| `--{f}` |")),
                "{name} section lacks --{f}"
            );
        }
    }
}

/// nsqadmin's flags that take another key than the flag name (§7.1), and those with none.
#[test]
fn configuration_doc_names_nsqadmin_keys() {
    let doc = std::fs::read_to_string(root().join("docs/configuration.md")).unwrap();
    let body = section(&doc, "nsqadmin");
    for row in [
        "| `--admin-user` | value | `admin_users` |",
        "| `--lookupd-http-address` | value | `nsqlookupd_http_addresses` |",
        "| `--nsqd-http-address` | value | `nsqd_http_addresses` |",
        "| `--config` | string |  |",
        "| `--verbose` | bool |  |",
        "| `--version` | bool |  |",
    ] {
        assert!(body.contains(row), "nsqadmin section lacks {row:?}");
    }
}
