//! nsqd command line, config file, start-up/shut-down logs and start-up failures
//! (spec §5, §3.9 BEH-093, §3.21-§3.22, §15).

use nsq_tests::*;
use regex::Regex;
use std::net::TcpListener;
use std::process::Output;
use std::time::Duration;

const EXIT_WAIT: Duration = Duration::from_secs(10);

/// Flags this nsqd has beyond NSQ's (docs/configuration.md). `-h` lists them among the others.
const BEYOND_NSQ_FLAGS: [&str; 1] = ["metrics-per-client"];

/// The 57 flags of `nsqd -h` (§5.1), in the alphabetical order Go prints them.
const FLAGS: [&str; 57] = [
    "auth-http-address",
    "auth-http-request-method",
    "broadcast-address",
    "broadcast-http-port",
    "broadcast-tcp-port",
    "config",
    "data-path",
    "deflate",
    "e2e-processing-latency-percentile",
    "e2e-processing-latency-window-time",
    "enable-experiment",
    "http-address",
    "http-client-connect-timeout",
    "http-client-request-timeout",
    "https-address",
    "log-level",
    "log-prefix",
    "lookupd-tcp-address",
    "max-body-size",
    "max-bytes-per-file",
    "max-channel-consumers",
    "max-deflate-level",
    "max-heartbeat-interval",
    "max-msg-size",
    "max-msg-timeout",
    "max-output-buffer-size",
    "max-output-buffer-timeout",
    "max-rdy-count",
    "max-req-timeout",
    "mem-queue-size",
    "min-output-buffer-timeout",
    "msg-timeout",
    "node-id",
    "output-buffer-timeout",
    "queue-scan-selection-count",
    "queue-scan-worker-pool-max",
    "snappy",
    "statsd-address",
    "statsd-exclude-ephemeral",
    "statsd-interval",
    "statsd-mem-stats",
    "statsd-prefix",
    "statsd-udp-packet-size",
    "sync-every",
    "sync-timeout",
    "tcp-address",
    "tls-cert",
    "tls-client-auth-policy",
    "tls-key",
    "tls-min-version",
    "tls-required",
    "tls-root-ca-file",
    "topology-region",
    "topology-zone",
    "verbose",
    "version",
    "worker-id",
];

fn run(args: &[&str]) -> Output {
    Nsqd::spawn_raw(args).wait_output(EXIT_WAIT)
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// `^<prefix><date> <time.micro> <LEVEL>: <msg>$` (LOG-001) for the default prefix.
fn log_line(level: &str, msg: &str) -> Regex {
    Regex::new(&format!(
        r"^\[nsqd\] \d{{4}}/\d\d/\d\d \d\d:\d\d:\d\d\.\d{{6}} {level}: {msg}$"
    ))
    .unwrap()
}

/// Index of the first line (at or after `from`) matching `re`; panics with the log otherwise.
fn find_line(lines: &[String], from: usize, re: &Regex) -> usize {
    lines[from..]
        .iter()
        .position(|l| re.is_match(l))
        .map(|i| i + from)
        .unwrap_or_else(|| {
            panic!(
                "no line matching {re} after line {from}; log:\n{}",
                lines.join("\n")
            )
        })
}

fn config_value(nsqd: &Nsqd, opt: &str) -> String {
    let r = http_get(nsqd.http_addr, &format!("/config/{opt}"));
    assert_eq!(r.status, 200, "GET /config/{opt}: {}", r.text());
    r.text()
}

fn data_path_arg(dir: &tempfile::TempDir) -> String {
    format!("--data-path={}", dir.path().display())
}

// Version and help

#[test]
fn version_flag_prints_version_and_exits_zero() {
    // §9, LOG-005
    let re = Regex::new(r"^nsqd v1\.3\.0 \(built w/\S+\)\n$").unwrap();
    for flag in ["--version", "-version"] {
        let o = run(&[flag]);
        assert_eq!(o.status.code(), Some(0), "{flag}: {}", stderr(&o));
        assert!(re.is_match(&stdout(&o)), "{flag} printed {:?}", stdout(&o));
    }
}

#[test]
fn help_lists_all_57_flags_and_exits_zero() {
    // F-D-001, F-D-002
    let flag_line = Regex::new(r"^  -([a-z0-9-]+)( \S+)?$").unwrap();
    for flag in ["-h", "--help", "-help"] {
        let o = run(&[flag]);
        assert_eq!(o.status.code(), Some(0), "{flag} exit status");
        let text = stderr(&o);
        assert!(
            text.starts_with("Usage of nsqd:\n"),
            "{flag} output starts {:?}",
            &text[..text.len().min(80)]
        );
        let (beyond, listed): (Vec<String>, Vec<String>) = text
            .lines()
            .filter_map(|l| flag_line.captures(l).map(|c| c[1].to_string()))
            .partition(|f| BEYOND_NSQ_FLAGS.contains(&f.as_str()));
        assert_eq!(listed, FLAGS, "{flag}: flags listed (in order)");
        assert_eq!(beyond, BEYOND_NSQ_FLAGS, "{flag}: flags beyond NSQ");
    }
}

#[test]
fn help_shows_value_types_and_bool_flags_bare() {
    // F-D-002: bools have no type; a few typed examples.
    let text = stderr(&run(&["-h"]));
    for line in ["  -deflate", "  -verbose", "  -worker-id", "  -snappy"] {
        assert!(
            text.lines().any(|l| l == line),
            "missing bare bool line {line:?}"
        );
    }
    for line in [
        "  -msg-timeout duration",
        "  -max-rdy-count int",
        "  -tcp-address string",
    ] {
        assert!(text.lines().any(|l| l == line), "missing line {line:?}");
    }
}

#[test]
fn unknown_flag_exits_two() {
    // F-D-001
    let o = run(&["-x"]);
    assert_eq!(o.status.code(), Some(2));
    let text = stderr(&o);
    assert!(
        text.contains("flag provided but not defined: -x\n"),
        "{text}"
    );
    assert!(text.contains("Usage of nsqd:"), "{text}");
    let o = run(&["--no-such-flag=1"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("flag provided but not defined: -no-such-flag"),
        "{}",
        stderr(&o)
    );
}

// Flag syntax and config file

#[test]
fn single_double_dash_and_separate_values_all_work() {
    // F-G-001
    let nsqd = Nsqd::start_with(&[
        "-tcp-address",
        "127.0.0.1:0",
        "--msg-timeout",
        "2s",
        "-max-rdy-count=33",
        "--max-msg-size=77",
        "--deflate=false",
    ]);
    let mut c = nsqd.conn();
    let (_, data) = c.identify(r#"{"feature_negotiation":true,"deflate":true}"#);
    let v: serde_json::Value = serde_json::from_slice(&data).unwrap();
    assert_eq!(v["max_rdy_count"], 33);
    assert_eq!(v["msg_timeout"], 2000);
    assert_eq!(v["deflate"], false, "--deflate=false must refuse deflate");
    assert_eq!(config_value(&nsqd, "max_msg_size"), "77");
    assert_eq!(config_value(&nsqd, "msg_timeout"), "2000000000");
}

#[test]
fn config_file_sets_options_and_flags_override_it() {
    // F-C-001..F-C-003
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("nsqd.cfg");
    std::fs::write(
        &cfg,
        "max_rdy_count = 42\n\
         msg_timeout = \"3s\"\n\
         max_req_timeout = 5000\n\
         max_msg_size = 12345\n\
         id = 77\n\
         log_prefix = \"[cfg] \"\n\
         unknown_key_is_ignored = true\n",
    )
    .unwrap();
    let cfg_arg = format!("--config={}", cfg.display());
    let nsqd = Nsqd::start_with(&[&cfg_arg, "--max-msg-size=999"]);
    assert_eq!(config_value(&nsqd, "max_rdy_count"), "42");
    assert_eq!(config_value(&nsqd, "msg_timeout"), "3000000000");
    // An integer duration in a config file counts milliseconds.
    assert_eq!(config_value(&nsqd, "max_req_timeout"), "5000000000");
    assert_eq!(
        config_value(&nsqd, "max_msg_size"),
        "999",
        "the flag wins over the file"
    );
    assert_eq!(config_value(&nsqd, "id"), "77");
    assert_eq!(config_value(&nsqd, "log_prefix"), "[cfg] ");
    let logs = nsqd.logs();
    assert!(
        logs.iter()
            .any(|l| l.starts_with("[cfg] ") && l.ends_with("INFO: ID: 77")),
        "{logs:?}"
    );
    let mut c = nsqd.conn();
    let (_, data) = c.identify(r#"{"feature_negotiation":true}"#);
    let v: serde_json::Value = serde_json::from_slice(&data).unwrap();
    assert_eq!(
        (v["max_rdy_count"].as_i64(), v["msg_timeout"].as_i64()),
        (Some(42), Some(3000))
    );
}

#[test]
fn bad_or_missing_config_file_is_fatal() {
    // F-C-001
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.cfg");
    std::fs::write(&bad, "this is = = not toml [\n").unwrap();
    let missing = dir.path().join("missing.cfg");
    for path in [&bad, &missing] {
        let o = run(&[
            &format!("--config={}", path.display()),
            &data_path_arg(&dir),
        ]);
        assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
        let want = format!("failed to load config file {} - ", path.display());
        assert!(
            stderr(&o).contains(&want),
            "want {want:?} in {}",
            stderr(&o)
        );
    }
}

#[test]
fn bad_log_level_is_rejected() {
    // LOG-002
    let dir = tempfile::tempdir().unwrap();
    let o = run(&["--log-level=bogus", &data_path_arg(&dir)]);
    assert_ne!(o.status.code(), Some(0));
    assert!(
        stderr(&o).contains("invalid log level 'bogus' (debug, info, warn, error, fatal)"),
        "{}",
        stderr(&o)
    );
}

// Logs

#[test]
fn startup_lines_in_order_with_real_addresses() {
    // LOG-001, LOG-003, BEH-210
    let nsqd = Nsqd::start_with(&["--node-id=123"]);
    let lines = nsqd.logs();
    let esc = |s: &str| regex::escape(s);
    let dat = format!("{}/nsqd.dat", nsqd.data_dir.path().display());
    let version = find_line(
        &lines,
        0,
        &log_line("INFO", r"nsqd v1\.3\.0 \(built w/\S+\)"),
    );
    let id = find_line(&lines, version, &log_line("INFO", "ID: 123"));
    let meta = find_line(
        &lines,
        id,
        &log_line(
            "INFO",
            &format!("NSQ: persisting topic/channel metadata to {}", esc(&dat)),
        ),
    );
    let tcp = find_line(
        &lines,
        meta,
        &log_line(
            "INFO",
            &format!("TCP: listening on {}", esc(&nsqd.tcp_addr.to_string())),
        ),
    );
    find_line(
        &lines,
        tcp,
        &log_line(
            "INFO",
            &format!("HTTP: listening on {}", esc(&nsqd.http_addr.to_string())),
        ),
    );
    assert_ne!(nsqd.tcp_addr.port(), 0);
    assert_ne!(nsqd.http_addr.port(), 0);
    // Every line so far has the standard layout.
    let any = Regex::new(
        r"^\[nsqd\] \d{4}/\d\d/\d\d \d\d:\d\d:\d\d\.\d{6} (DEBUG|INFO|WARNING|ERROR|FATAL): ",
    )
    .unwrap();
    for l in &lines {
        assert!(any.is_match(l), "badly formatted log line {l:?}");
    }
}

#[test]
fn log_prefix_flag_changes_the_prefix() {
    // LOG-001
    let nsqd = Nsqd::start_with(&["--log-prefix=[custom] "]);
    let re =
        Regex::new(r"^\[custom\] \d{4}/\d\d/\d\d \d\d:\d\d:\d\d\.\d{6} INFO: TCP: listening on ")
            .unwrap();
    assert!(
        nsqd.logs().iter().any(|l| re.is_match(l)),
        "{:?}",
        nsqd.logs()
    );
    let nsqd = Nsqd::start_with(&["-log-prefix="]);
    let re =
        Regex::new(r"^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d\.\d{6} INFO: HTTP: listening on ").unwrap();
    assert!(
        nsqd.logs().iter().any(|l| re.is_match(l)),
        "{:?}",
        nsqd.logs()
    );
}

#[test]
fn sigterm_shuts_down_cleanly_with_log_lines_in_order() {
    // LOG-004, BEH-100
    let mut nsqd = Nsqd::start();
    let mut c = nsqd.consumer("bye", "c", 1);
    let (tcp, http) = (nsqd.tcp_addr, nsqd.http_addr);
    let dat = format!("{}/nsqd.dat", nsqd.data_dir.path().display());
    let status = nsqd.terminate();
    assert_eq!(status.code(), Some(0), "exit status after SIGTERM");
    c.expect_closed(Duration::from_secs(5));
    let lines = nsqd.logs();
    let mut at = find_line(
        &lines,
        0,
        &log_line(
            "INFO",
            &format!("TCP: closing {}", regex::escape(&tcp.to_string())),
        ),
    );
    for msg in [
        format!("HTTP: closing {}", regex::escape(&http.to_string())),
        format!(
            "NSQ: persisting topic/channel metadata to {}",
            regex::escape(&dat)
        ),
        "NSQ: closing topics".to_string(),
        "NSQ: stopping subsystems".to_string(),
        "LOOKUP: closing".to_string(),
        "QUEUESCAN: closing".to_string(),
        "NSQ: bye".to_string(),
    ] {
        at = find_line(&lines, at + 1, &log_line("INFO", &msg));
    }
    // The metadata file now lists the topic and channel.
    let saved = std::fs::read_to_string(nsqd.data_dir.path().join("nsqd.dat")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&saved).unwrap();
    assert_eq!(v["version"], "1.3.0");
    assert_eq!(v["topics"][0]["name"], "bye");
    assert_eq!(v["topics"][0]["channels"][0]["name"], "c");
}

#[test]
fn sigint_also_shuts_down_cleanly() {
    // BEH-103
    let mut nsqd = Nsqd::start();
    nsqd.signal(libc::SIGINT);
    let status = nsqd
        .wait_exit(EXIT_WAIT)
        .expect("nsqd did not exit after SIGINT");
    assert_eq!(status.code(), Some(0));
    assert!(
        nsqd.logs().iter().any(|l| l.ends_with("INFO: NSQ: bye")),
        "{:?}",
        nsqd.logs()
    );
}

// Start-up failures (BEH-220)

#[test]
fn invalid_options_fail_startup_with_exact_messages() {
    let dir = tempfile::tempdir().unwrap();
    let dp = data_path_arg(&dir);
    let cases: &[(&str, &str)] = &[
        ("--node-id=5000", "--node-id must be [0,1024)"),
        ("--node-id=1024", "--node-id must be [0,1024)"),
        (
            "--max-deflate-level=10",
            "--max-deflate-level must be [1,9]",
        ),
        ("--max-deflate-level=0", "--max-deflate-level must be [1,9]"),
        (
            "--tls-required=true",
            "cannot require TLS client connections without TLS key and cert",
        ),
        (
            "--auth-http-request-method=put",
            "--auth-http-request-method must be post or get",
        ),
        (
            "--e2e-processing-latency-percentile=1.5",
            "invalid E2E processing latency percentile: 1.5",
        ),
    ];
    for (flag, msg) in cases {
        let o = run(&[
            flag,
            &dp,
            "--tcp-address=127.0.0.1:0",
            "--http-address=127.0.0.1:0",
        ]);
        assert_eq!(o.status.code(), Some(1), "{flag}: {}", stderr(&o));
        let re = log_line(
            "FATAL",
            &format!("failed to instantiate nsqd - {}", regex::escape(msg)),
        );
        assert!(
            stderr(&o).lines().any(|l| re.is_match(l)),
            "{flag}: want {re} in {}",
            stderr(&o)
        );
    }
}

#[test]
fn busy_listen_port_fails_startup() {
    // BEH-220: listen (<addr>) failed - <err>
    let dir = tempfile::tempdir().unwrap();
    let busy = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = busy.local_addr().unwrap();
    for (tcp, http) in [
        (addr.to_string(), "127.0.0.1:0".to_string()),
        ("127.0.0.1:0".to_string(), addr.to_string()),
    ] {
        let o = run(&[
            &format!("--tcp-address={tcp}"),
            &format!("--http-address={http}"),
            &data_path_arg(&dir),
        ]);
        assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
        let want = format!("FATAL: failed to instantiate nsqd - listen ({addr}) failed - ");
        assert!(
            stderr(&o).contains(&want),
            "want {want:?} in {}",
            stderr(&o)
        );
    }
}

#[test]
fn second_instance_on_same_data_path_fails_on_flock() {
    // BEH-093, and the lock goes away with a killed process.
    let mut first = Nsqd::start();
    let dir = first.data_dir.path().display().to_string();
    let o = run(&[
        "--tcp-address=127.0.0.1:0",
        "--http-address=127.0.0.1:0",
        &format!("--data-path={dir}"),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let text = stderr(&o);
    let want = format!("FATAL: failed to instantiate nsqd - failed to lock data-path: cannot flock directory {dir} - ");
    assert!(text.contains(&want), "want {want:?} in {text}");
    assert!(
        text.contains("(possibly in use by another instance of nsqd)"),
        "{text}"
    );

    first.kill();
    first.restart_with(&[]);
    first.conn().publish("after_kill", b"x");
}
