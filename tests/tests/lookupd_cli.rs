//! nsqlookupd's command line, config file, start-up and shutdown (§6.4, L-040, L-041, LOG-001,
//! LOG-003).

use std::io::Write;
use std::net::TcpListener;
use std::time::Duration;

use nsq_tests::lookupd::{LookupConn, Nsqlookupd};
use regex::Regex;

fn stderr_text(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn version_flag() {
    let re = Regex::new(r"^nsqlookupd v1\.3\.0 \(built w/\S+\)\n$").unwrap();
    for flag in ["-version", "--version"] {
        let out = Nsqlookupd::run_raw(&[flag]);
        assert_eq!(out.status.code(), Some(0));
        let stdout = String::from_utf8(out.stdout).unwrap();
        assert!(re.is_match(&stdout), "{stdout:?}");
    }
}

#[test]
fn help_and_flag_errors() {
    let out = Nsqlookupd::run_raw(&["-h"]);
    assert_eq!(out.status.code(), Some(0));
    let usage = stderr_text(&out);
    assert!(usage.starts_with("Usage of nsqlookupd:\n"), "{usage}");
    let flags: Vec<&str> = usage
        .lines()
        .filter(|l| l.starts_with("  -"))
        .map(|l| l.trim_start_matches("  -").split(' ').next().unwrap())
        .collect();
    assert_eq!(
        flags,
        [
            "broadcast-address",
            "config",
            "http-address",
            "inactive-producer-timeout",
            "log-level",
            "log-prefix",
            "tcp-address",
            "tombstone-lifetime",
            "verbose",
            "version"
        ]
    );
    assert!(usage.contains("  -tombstone-lifetime duration\n"));
    assert!(usage.contains("(default 45s)\n"));
    assert!(usage.contains("(default 5m0s)\n"));
    assert!(usage.contains("(default \"0.0.0.0:4160\")\n"));
    assert!(usage.contains("(default \"0.0.0.0:4161\")\n"));

    let out = Nsqlookupd::run_raw(&["--max-body-size=1"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr_text(&out)
        .starts_with("flag provided but not defined: -max-body-size\nUsage of nsqlookupd:\n"));
    let out = Nsqlookupd::run_raw(&["-inactive-producer-timeout=300"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr_text(&out)
        .starts_with("invalid value \"300\" for flag -inactive-producer-timeout: parse error\n"));
}

#[test]
fn config_file_sets_options_and_errors_are_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("nsqlookupd.cfg");
    let mut f = std::fs::File::create(&cfg).unwrap();
    writeln!(
        f,
        "tcp_address = \"127.0.0.1:0\"\nhttp_address = \"127.0.0.1:0\"\n\
         log_prefix = \"[lookup-test] \"\nbroadcast_address = \"from-config\""
    )
    .unwrap();
    drop(f);
    let l = Nsqlookupd::start_with(&[&format!("--config={}", cfg.display())]);
    assert!(l.logs()[0].starts_with("[lookup-test] "), "{:?}", l.logs());
    // The command line beats the file: the harness passes --broadcast-address=127.0.0.1.
    let mut c = LookupConn::connect(l.tcp_addr);
    let resp = String::from_utf8(c.identify_as(4150)).unwrap();
    assert!(
        resp.starts_with("{\"broadcast_address\":\"127.0.0.1\""),
        "{resp}"
    );

    std::fs::write(&cfg, "log_level = \"loud\"\n").unwrap();
    let out = Nsqlookupd::run_raw(&[&format!("--config={}", cfg.display())]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr_text(&out);
    assert!(
        Regex::new(r"^\[nsqlookupd\] \d{4}/\d\d/\d\d \d\d:\d\d:\d\d\.\d{6} FATAL: failed parsing log_level loud\n$")
            .unwrap()
            .is_match(&err),
        "{err:?}"
    );
    std::fs::write(&cfg, "tcp_address = \n").unwrap();
    let out = Nsqlookupd::run_raw(&[&format!("--config={}", cfg.display())]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr_text(&out).contains(&format!(
        "FATAL: failed to load config file {} - ",
        cfg.display()
    )));
}

#[test]
fn listen_failure_is_fatal() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    for (flag, other) in [
        ("--tcp-address", "--http-address"),
        ("--http-address", "--tcp-address"),
    ] {
        let out =
            Nsqlookupd::run_raw(&[&format!("{flag}={addr}"), &format!("{other}=127.0.0.1:0")]);
        assert_eq!(out.status.code(), Some(1));
        let err = stderr_text(&out);
        assert!(
            err.contains(&format!(
                "FATAL: failed to instantiate nsqlookupd - listen ({addr}) failed - "
            )),
            "{err}"
        );
    }
}

#[test]
fn startup_lines_report_the_bound_addresses() {
    let mut l = Nsqlookupd::start();
    let logs = l.logs();
    let line =
        Regex::new(r"^\[nsqlookupd\] \d{4}/\d\d/\d\d \d\d:\d\d:\d\d\.\d{6} INFO: (.*)$").unwrap();
    let msgs: Vec<String> = logs
        .iter()
        .map(|l| {
            line.captures(l)
                .unwrap_or_else(|| panic!("not an NSQ log line: {l:?}"))[1]
                .to_string()
        })
        .collect();
    assert!(
        Regex::new(r"^nsqlookupd v1\.3\.0 \(built w/\S+\)$")
            .unwrap()
            .is_match(&msgs[0]),
        "{msgs:?}"
    );
    assert_eq!(msgs[1], format!("HTTP: listening on {}", l.http_addr));
    assert_eq!(msgs[2], format!("TCP: listening on {}", l.tcp_addr));
    assert_ne!(l.tcp_addr.port(), 0);
    assert_ne!(l.http_addr.port(), 0);

    // SIGTERM closes the listeners and every client connection, then exits 0 (L-041).
    let mut c = LookupConn::connect(l.tcp_addr);
    assert_eq!(c.cmd("PING"), b"OK");
    let status = l.terminate();
    assert!(status.success(), "{status}");
    assert!(c.is_closed(), "client connection left open at shutdown");
    let logs = l.logs().join("\n");
    assert!(
        logs.contains(&format!("INFO: TCP: closing {}", l.tcp_addr)),
        "{logs}"
    );
    assert!(
        logs.contains(&format!("INFO: HTTP: closing {}", l.http_addr)),
        "{logs}"
    );
    assert!(std::net::TcpStream::connect(l.tcp_addr).is_err());
}

#[test]
fn sigint_also_stops_it() {
    let mut l = Nsqlookupd::start();
    l.signal(libc::SIGINT);
    let status = l
        .wait_exit(Duration::from_secs(10))
        .expect("exit after SIGINT");
    assert!(status.success(), "{status}");
    assert!(l.logs().iter().any(|line| line.contains("HTTP: closing")));
}
