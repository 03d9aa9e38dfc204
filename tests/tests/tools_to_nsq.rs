//! to_nsq (spec §8.1, T-010..T-012, T-000, T-002) driven as a process against real nsqd.

use std::io::Write;
use std::time::Duration;

use nsq_tests::tools::{self, is_go_log_line, read_bodies, topic_count, Tool};
use nsq_tests::{wait_until, Nsqd};
use regex::Regex;

const WAIT: Duration = Duration::from_secs(60);
const TOOL: &str = "to_nsq";

/// Runs to_nsq with `input` on stdin; answers (code, stdout, stderr).
fn run_with_input(args: &[&str], input: &[u8]) -> (i32, String, String) {
    tools::run_tool_with_input(TOOL, args, input)
}

#[test]
fn every_line_goes_to_every_nsqd() {
    let (a, b) = (Nsqd::start(), Nsqd::start());
    const N: usize = 20_000;
    let mut input = Vec::new();
    for i in 0..N {
        writeln!(input, "line-{i}").unwrap();
    }
    let (ta, tb) = (a.tcp_addr.to_string(), b.tcp_addr.to_string());
    let (code, out, err) = run_with_input(
        &[
            "--topic=big",
            &format!("--nsqd-tcp-address={ta}"),
            &format!("--nsqd-tcp-address={tb}"),
        ],
        &input,
    );
    assert_eq!((code, out.as_str(), err.as_str()), (0, "", ""));
    assert_eq!(topic_count(&a, "big"), N as u64);
    assert_eq!(topic_count(&b, "big"), N as u64);
    // Bodies and order are checked by the delimiter test: past the memory queue nsqd hands
    // out memory and disk messages interleaved.
}

#[test]
fn delimiter_splits_and_empty_segments_are_skipped() {
    let nsqd = Nsqd::start();
    let addr = format!("--nsqd-tcp-address={}", nsqd.tcp_addr);
    let (code, _, err) = run_with_input(
        &["--topic=comma", "--delimiter=,", &addr],
        b"a b,,c\nd,,,e,",
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(topic_count(&nsqd, "comma"), 3);
    assert_eq!(read_bodies(&nsqd, "comma", 3), ["a b", "c\nd", "e"]);

    // Blank lines publish nothing; a last line without its newline is still published.
    let (code, _, err) = run_with_input(&["--topic=lines", &addr], b"\n\none\n\ntwo");
    assert_eq!(code, 0, "{err}");
    assert_eq!(topic_count(&nsqd, "lines"), 2);
    assert_eq!(read_bodies(&nsqd, "lines", 2), ["one", "two"]);
}

#[test]
fn rate_flag_logs_the_throttle() {
    let nsqd = Nsqd::start();
    let (code, out, err) = run_with_input(
        &[
            "--topic=slow",
            "--rate=1000",
            &format!("--nsqd-tcp-address={}", nsqd.tcp_addr),
        ],
        b"1\n2\n3\n4\n5\n",
    );
    assert_eq!((code, out.as_str()), (0, ""));
    assert!(
        is_go_log_line(&err, "Throttling messages rate to max:1000/second"),
        "{err:?}"
    );
    assert_eq!(topic_count(&nsqd, "slow"), 5);
}

#[test]
fn identifies_with_its_user_agent_and_stops_at_eof() {
    let nsqd = Nsqd::start();
    let mut tool = Tool::start_with_stdin(
        TOOL,
        &[
            "--topic=ua",
            &format!("--nsqd-tcp-address={}", nsqd.tcp_addr),
        ],
    );
    tool.stdin().write_all(b"first\n").unwrap();
    tool.stdin().flush().unwrap();
    assert!(wait_until(WAIT, || topic_count(&nsqd, "ua") == 1));
    let r = nsq_tests::http_get(nsqd.http_addr, "/stats?format=json&include_clients=true");
    let producers = r.json()["producers"].clone();
    let agents: Vec<&str> = producers
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["user_agent"].as_str())
        .collect();
    assert_eq!(agents, ["to_nsq/1.3.0 go-nsq/1.1.0"], "{producers}");
    tool.close_stdin();
    let (code, _, err) = tool.finish();
    assert_eq!(code, 0, "{err}");
}

#[test]
fn sigterm_exits_cleanly() {
    let nsqd = Nsqd::start();
    let mut tool = Tool::start_with_stdin(
        TOOL,
        &[
            "--topic=term",
            &format!("--nsqd-tcp-address={}", nsqd.tcp_addr),
        ],
    );
    tool.stdin().write_all(b"x\n").unwrap();
    tool.stdin().flush().unwrap();
    assert!(wait_until(WAIT, || topic_count(&nsqd, "term") == 1));
    // stdin stays open: the signal, not EOF, ends the tool.
    tool.signal(libc::SIGTERM);
    let (code, _, err) = tool.finish();
    assert_eq!(code, 0, "{err}");
}

#[test]
fn validation_errors() {
    let nsqd = Nsqd::start();
    let addr = format!("--nsqd-tcp-address={}", nsqd.tcp_addr);
    let fatal = |args: &[&str], msg: &str| tools::assert_fatal(TOOL, args, msg);
    fatal(&[&addr], "--topic required");
    fatal(
        &["--topic=t", "--delimiter=ab", &addr],
        "--delimiter must be a single byte",
    );
    fatal(&["--topic=t"], "--nsqd-tcp-address required");

    // Go's flag package rejects what is not defined, --version included (T-012).
    let (code, _, err) = run_with_input(&["--version"], b"");
    assert_eq!(code, 2);
    assert!(
        err.starts_with("flag provided but not defined: -version\nUsage of to_nsq:\n"),
        "{err}"
    );

    // go-nsq checks --producer-opt while the flags are parsed (T-000).
    let (code, _, err) =
        run_with_input(&["--topic=t", &addr, "--producer-opt=read_timeout,10"], b"");
    assert_eq!(code, 2);
    assert!(
        err.starts_with(
            "invalid value \"read_timeout,10\" for flag -producer-opt: invalid read_timeout ! 10ms < 100ms\n"
        ),
        "{err}"
    );
    let (code, _, err) = run_with_input(&["--topic=t", &addr, "--producer-opt=no-such,1"], b"");
    assert_eq!(code, 2);
    assert!(
        err.starts_with(
            "invalid value \"no-such,1\" for flag -producer-opt: invalid option no_such\n"
        ),
        "{err}"
    );
}

#[test]
fn publish_errors_are_fatal() {
    let nsqd = Nsqd::start();
    let (code, _, err) = run_with_input(
        &[
            "--topic=bad!topic",
            &format!("--nsqd-tcp-address={}", nsqd.tcp_addr),
        ],
        b"x\n",
    );
    assert_eq!(code, 1);
    assert!(
        Regex::new(r"^\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2} E_BAD_TOPIC ")
            .unwrap()
            .is_match(&err),
        "{err}"
    );

    // Nothing listening.
    let dead = tools::unused_addr();
    let (code, _, err) = run_with_input(
        &["--topic=t", &format!("--nsqd-tcp-address={dead}")],
        b"x\n",
    );
    assert_eq!(code, 1, "{err}");
}

#[test]
fn help_lists_the_spec_flags() {
    let text = tools::assert_usage(
        TOOL,
        &[
            "delimiter string",
            "nsqd-tcp-address value",
            "producer-opt value",
            "rate int",
            "topic string",
        ],
    );
    assert!(text.contains("(default \"\\n\")\n"), "{text}");
}
