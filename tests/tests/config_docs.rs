//! docs/configuration.md is generated from the daemons' `-h` output by
//! scripts/gen-config-docs.sh; this fails when the two disagree, so the doc cannot drift.

use std::path::PathBuf;
use std::process::Command;

use nsq_tests::lookupd::nsqlookupd_bin;
use nsq_tests::nsqd_bin;

#[test]
fn configuration_doc_matches_the_binaries() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = Command::new("bash")
        .arg(root.join("scripts/gen-config-docs.sh"))
        .arg("--check")
        .env("NSQD", nsqd_bin())
        .env("NSQLOOKUPD", nsqlookupd_bin())
        .output()
        .expect("run scripts/gen-config-docs.sh");
    assert!(
        out.status.success(),
        "docs/configuration.md is out of date; run scripts/gen-config-docs.sh\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn configuration_doc_lists_every_flag() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let doc = std::fs::read_to_string(root.join("docs/configuration.md")).unwrap();
    for (bin, section) in [
        (nsqd_bin(), "## nsqd\n"),
        (nsqlookupd_bin(), "## nsqlookupd\n"),
    ] {
        let help = Command::new(bin).arg("-h").output().unwrap();
        let start = doc
            .find(section)
            .unwrap_or_else(|| panic!("no {section:?}"));
        let rest = &doc[start + section.len()..];
        let body = &rest[..rest.find("\n## ").unwrap_or(rest.len())];
        let flags: Vec<String> = String::from_utf8_lossy(&help.stderr)
            .lines()
            .filter_map(|l| l.strip_prefix("  -"))
            .map(|l| l.split(' ').next().unwrap_or_default().to_string())
            .collect();
        assert!(!flags.is_empty());
        let rows = body.lines().filter(|l| l.starts_with("| `--")).count();
        assert_eq!(rows, flags.len(), "{section}");
        for f in flags {
            assert!(
                body.contains(&format!("| `--{f}` |")),
                "{section} lacks --{f}"
            );
        }
    }
}
