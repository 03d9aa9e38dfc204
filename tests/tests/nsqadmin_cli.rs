//! nsqadmin's command line (§7.1, A-001, V-001, LOG-001): version, usage, flag errors, the
//! start-up checks with their exact FATAL messages, and the start-up and shutdown lines.

use nsq_tests::nsqadmin::{run_raw, Nsqadmin};

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn version_and_usage() {
    let o = run_raw(&["--version"]);
    assert_eq!(o.status.code(), Some(0));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.starts_with("nsqadmin v1.3.0 (built w/rustc"), "{out}");
    assert!(out.ends_with(")\n"), "{out}");

    let o = run_raw(&["-h"]);
    assert_eq!(o.status.code(), Some(0));
    let usage = stderr(&o);
    assert!(usage.starts_with("Usage of nsqadmin:\n"), "{usage}");
    assert_eq!(usage.matches("\n  -").count(), 26, "{usage}");
    for flag in [
        "-acl-http-header string",
        "-admin-user value",
        "-allow-config-from-cidr string",
        "-base-path string",
        "-http-client-connect-timeout duration",
        "-lookupd-http-address value",
        "-nsqd-http-address value",
        "-proxy-graphite",
        "-statsd-interval duration",
    ] {
        assert!(usage.contains(flag), "missing {flag} in\n{usage}");
    }

    let o = run_raw(&["-nope"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).starts_with("flag provided but not defined: -nope\nUsage of nsqadmin:\n"));
    let o = run_raw(&["--statsd-interval=soon"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).starts_with("invalid value \"soon\" for flag -statsd-interval: "));
}

/// Runs nsqadmin with `args`, expects exit status 1 and one FATAL line ending in `msg`.
fn fatal(args: &[&str], msg: &str) {
    let o = run_raw(args);
    assert_eq!(o.status.code(), Some(1), "{args:?}: {}", stderr(&o));
    let err = stderr(&o);
    let line = err
        .lines()
        .find(|l| l.contains("FATAL: "))
        .unwrap_or_else(|| panic!("no FATAL line for {args:?}: {err}"));
    assert!(line.starts_with("[nsqadmin] "), "{line}");
    let text = &line[line.find("FATAL: ").unwrap() + 7..];
    assert!(
        text.starts_with(msg),
        "{args:?}: got {text:?}, want {msg:?}"
    );
}

#[test]
fn startup_validation_messages() {
    let p = "failed to instantiate nsqadmin - ";
    fatal(
        &[],
        &format!("{p}--nsqd-http-address or --lookupd-http-address required"),
    );
    fatal(
        &[
            "--nsqd-http-address=127.0.0.1:4151",
            "--lookupd-http-address=127.0.0.1:4161",
        ],
        &format!("{p}use --nsqd-http-address or --lookupd-http-address not both"),
    );
    fatal(
        &[
            "--nsqd-http-address=127.0.0.1:4151",
            "--http-client-tls-cert=c.pem",
        ],
        &format!("{p}--http-client-tls-key must be specified with --http-client-tls-cert"),
    );
    fatal(
        &[
            "--nsqd-http-address=127.0.0.1:4151",
            "--http-client-tls-key=k.pem",
        ],
        &format!("{p}--http-client-tls-cert must be specified with --http-client-tls-key"),
    );
    fatal(
        &[
            "--nsqd-http-address=nohostport",
            "--http-client-tls-root-ca-file=/nonexistent/ca.pem",
        ],
        &format!("{p}failed to read TLS root CA file /nonexistent/ca.pem - "),
    );
    fatal(
        &[
            "--nsqd-http-address=127.0.0.1:4151",
            "--http-client-tls-cert=/nonexistent/c.pem",
            "--http-client-tls-key=/nonexistent/k.pem",
        ],
        &format!("{p}failed to LoadX509KeyPair /nonexistent/c.pem, /nonexistent/k.pem - "),
    );
    fatal(
        &["--nsqd-http-address=nohostport"],
        &format!("{p}failed to resolve --nsqd-http-address (nohostport) - "),
    );
    fatal(
        &["--lookupd-http-address=127.0.0.1:x"],
        &format!("{p}failed to resolve --lookupd-http-address (127.0.0.1:x) - "),
    );
    fatal(
        &["--nsqd-http-address=127.0.0.1:4151", "--allow-config-from-cidr=10.0.0.1"],
        &format!(
            "{p}failed to parse --allow-config-from-cidr (10.0.0.1) - invalid CIDR address: 10.0.0.1"
        ),
    );
    fatal(
        &[
            "--nsqd-http-address=127.0.0.1:4151",
            "--proxy-graphite",
            "--graphite-url=::nope",
        ],
        &format!("{p}failed to parse --graphite-url (::nope) - "),
    );
    fatal(
        &[
            "--nsqd-http-address=127.0.0.1:4151",
            "--http-address=127.0.0.1:x",
        ],
        &format!("{p}listen (127.0.0.1:x) failed - "),
    );
}

#[test]
fn config_file_keys() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nsqadmin.cfg");
    std::fs::write(
        &path,
        "nsqd_http_addresses = [\"127.0.0.1:4151\"]\nadmin_users = [\"alice\"]\nbase_path = \"/ops\"\n",
    )
    .unwrap();
    let cfg = format!("--config={}", path.display());
    let admin = Nsqadmin::start(&[&cfg]);
    assert_eq!(
        admin.get("/ops/config/nsqd_http_addresses").text(),
        r#"["127.0.0.1:4151"]"#
    );
    assert_eq!(admin.get("/ops/config/admin_users").text(), r#"["alice"]"#);

    std::fs::write(
        &path,
        "nsqlookupd_http_addresses = [\"127.0.0.1:4161\"]\nnsqd_http_addresses = [\"127.0.0.1:4151\"]\n",
    )
    .unwrap();
    fatal(
        &[&cfg],
        "failed to instantiate nsqadmin - use --nsqd-http-address or --lookupd-http-address not both",
    );
}

#[test]
fn startup_and_shutdown_lines() {
    let mut admin = Nsqadmin::start(&["--nsqd-http-address=127.0.0.1:4151"]);
    let logs = admin.logs();
    assert!(
        logs[0].starts_with("[nsqadmin] ") && logs[0].contains(" INFO: nsqadmin v1.3.0 (built w/"),
        "{logs:?}"
    );
    let listening = format!("INFO: HTTP: listening on {}", admin.http_addr);
    assert!(logs.iter().any(|l| l.ends_with(&listening)), "{logs:?}");
    let status = admin.terminate().expect("exits on SIGTERM");
    assert!(status.success(), "{status}");
}
