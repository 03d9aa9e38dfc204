//! nsq_tail (spec §8.2, T-020, T-002..T-004) driven as a process against real nsqd and
//! nsqlookupd.

use std::time::Duration;

use nsq_tests::lookupd::Nsqlookupd;
use nsq_tests::tools::{self, is_go_log_line, publish, publish_all, Tool};
use nsq_tests::{stats_topic, wait_until, Nsqd};
use regex::Regex;

const WAIT: Duration = Duration::from_secs(30);
const TOOL: &str = "nsq_tail";

fn run(args: &[&str]) -> (i32, String, String) {
    tools::run_tool(TOOL, args)
}

#[test]
fn n_prints_exactly_that_many_bodies_then_exits_0() {
    let nsqd = Nsqd::start();
    publish_all(&nsqd, "tail_n", &["one", "two", "three", "four", "five"]);
    let (code, out, err) = run(&[
        &format!("--nsqd-tcp-address={}", nsqd.tcp_addr),
        "--topic=tail_n",
        "-n",
        "3",
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "one\ntwo\nthree\n");
    assert!(
        is_go_log_line(&err, "Adding consumer for topic: tail_n"),
        "{err:?}"
    );
}

#[test]
fn two_topics_with_print_topic_on_a_random_ephemeral_channel() {
    let nsqd = Nsqd::start();
    publish(&nsqd, "tail_a", "a1");
    publish(&nsqd, "tail_b", "b1");
    let tail = Tool::start(
        TOOL,
        &[
            &format!("--nsqd-tcp-address={}", nsqd.tcp_addr),
            "--topic=tail_a",
            "--topic=tail_b",
            "--print-topic",
        ],
    );
    assert!(
        wait_until(WAIT, || tail.stdout().lines().count() == 2),
        "stdout: {:?} stderr: {}",
        tail.stdout(),
        tail.stderr()
    );
    publish(&nsqd, "tail_a", "a2");
    assert!(wait_until(WAIT, || tail.stdout().lines().count() == 3));
    let out = tail.stdout();
    let mut lines: Vec<&str> = out.lines().collect();
    lines.sort();
    assert_eq!(lines, ["tail_a | a1", "tail_a | a2", "tail_b | b1"]);

    // Both consumers share one channel named tail<6 digits>#ephemeral, and identify as
    // nsq_tail (T-002).
    let stats = nsq_tests::http_get(nsqd.http_addr, "/stats?format=json").json();
    let channel_re = Regex::new(r"^tail\d{6}#ephemeral$").unwrap();
    let mut names = Vec::new();
    for topic in ["tail_a", "tail_b"] {
        let t = stats_topic(&stats, topic).unwrap();
        let channels = t["channels"].as_array().unwrap();
        assert_eq!(channels.len(), 1, "{t}");
        let name = channels[0]["channel_name"].as_str().unwrap().to_string();
        assert!(channel_re.is_match(&name), "{name}");
        let agents: Vec<&str> = channels[0]["clients"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["user_agent"].as_str().unwrap())
            .collect();
        assert_eq!(agents, ["nsq_tail/1.3.0 go-nsq/1.1.0"]);
        names.push(name);
    }
    assert_eq!(names[0], names[1]);

    // SIGTERM stops the consumers and exits 0 (T-004).
    tail.signal(libc::SIGTERM);
    let (code, _, err) = tail.finish();
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("Adding consumer for topic: tail_a\n"), "{err}");
    assert!(err.contains("Adding consumer for topic: tail_b\n"), "{err}");
}

#[test]
fn discovers_nsqd_through_lookupd() {
    let lookupd = Nsqlookupd::start();
    let nsqd = Nsqd::start_with(&[&lookupd.nsqd_arg(), "--broadcast-address=127.0.0.1"]);
    publish(&nsqd, "tail_l", "hello");
    publish(&nsqd, "tail_l", "world");
    assert!(wait_until(WAIT, || !lookupd
        .producer_ports("tail_l")
        .is_empty()));
    let (code, out, err) = run(&[
        &format!("--lookupd-http-address={}", lookupd.http_addr),
        "--topic=tail_l",
        "--channel=fixed",
        "-n=2",
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "hello\nworld\n");
    let stats = nsqd.stats();
    let t = stats_topic(&stats, "tail_l").unwrap();
    assert_eq!(t["channels"][0]["channel_name"], "fixed");
}

#[test]
fn version_and_validation() {
    for flag in ["-version", "--version"] {
        let (code, out, _) = run(&[flag]);
        assert_eq!((code, out.as_str()), (0, "nsq_tail v1.3.0\n"));
    }
    let fatal = |args: &[&str], msg: &str| tools::assert_fatal(TOOL, args, msg);
    fatal(
        &["--topic=t"],
        "--nsqd-tcp-address or --lookupd-http-address required",
    );
    fatal(
        &[
            "--topic=t",
            "--nsqd-tcp-address=127.0.0.1:4150",
            "--lookupd-http-address=127.0.0.1:4161",
        ],
        "use --nsqd-tcp-address or --lookupd-http-address not both",
    );
    fatal(&["--nsqd-tcp-address=127.0.0.1:4150"], "--topic required");

    // An nsqd that cannot be reached is fatal.
    let dead = tools::unused_addr();
    let (code, out, err) = run(&["--topic=t", &format!("--nsqd-tcp-address={dead}")]);
    assert_eq!((code, out.as_str()), (1, ""), "{err}");

    let (code, _, err) = run(&[
        "--topic=t",
        "--nsqd-tcp-address=127.0.0.1:4150",
        "--consumer-opt=max_in_flight,-1",
    ]);
    assert_eq!(code, 2);
    assert!(
        err.starts_with(
            "invalid value \"max_in_flight,-1\" for flag -consumer-opt: invalid max_in_flight ! -1 < 0\n"
        ),
        "{err}"
    );
}

#[test]
fn help_lists_the_spec_flags() {
    let text = tools::assert_usage(
        TOOL,
        &[
            "channel string",
            "consumer-opt value",
            "lookupd-http-address value",
            "max-in-flight int",
            "n int",
            "nsqd-tcp-address value",
            "print-topic",
            "topic value",
            "version",
        ],
    );
    assert!(text.contains("(default 200)\n"), "{text}");
}
