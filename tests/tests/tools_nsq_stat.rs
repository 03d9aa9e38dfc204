//! nsq_stat (spec §8.6, T-060..T-062) driven as a process against real nsqd and nsqlookupd.

use std::time::Duration;

use nsq_tests::lookupd::Nsqlookupd;
use nsq_tests::tools::{self, is_go_log_line, publish};
use nsq_tests::{http_post, wait_until, Nsqd};

const WAIT: Duration = Duration::from_secs(30);
const TOOL: &str = "nsq_stat";

const HEADER: &str = "------rate------+----------------depth----------------+--------------metadata---------------\n\
                      ingress  egress |   total     mem    disk inflt   def |     req     t-o         msgs clients\n";

fn run(args: &[&str]) -> (i32, String, String) {
    tools::run_tool(TOOL, args)
}

fn post(nsqd: &Nsqd, path: &str, body: &[u8]) {
    let r = http_post(nsqd.http_addr, path, body);
    assert_eq!(r.status, 200, "{path}: {}", r.text());
}

/// A topic with channel `c` created first, then `n` messages published (so the channel holds
/// them all, in memory, with no client).
fn workload(nsqd: &Nsqd, topic: &str, n: usize) {
    post(nsqd, &format!("/topic/create?topic={topic}"), b"");
    post(
        nsqd,
        &format!("/channel/create?topic={topic}&channel=c"),
        b"",
    );
    for i in 0..n {
        publish(nsqd, topic, format!("m{i}"));
    }
}

#[test]
fn count_prints_the_header_then_that_many_lines() {
    let nsqd = Nsqd::start_with(&["--broadcast-address=127.0.0.1"]);
    workload(&nsqd, "stat_a", 10);
    let (code, out, err) = run(&[
        &format!("--nsqd-http-address={}", nsqd.http_addr),
        "--topic=stat_a",
        "--channel=c",
        "--count=2",
        "--interval=50ms",
    ]);
    assert_eq!((code, err.as_str()), (0, ""));
    // Nothing moves between polls: zero rates; 10 waiting in memory, 10 seen, no clients.
    let line = "      0       0 |      10      10       0     0     0 |       0       0           10       0\n";
    assert_eq!(out, format!("{HEADER}{line}{line}"));
}

#[test]
fn sums_every_nsqd_found_through_lookupd() {
    let lookupd = Nsqlookupd::start();
    let args = [
        lookupd.nsqd_arg(),
        "--broadcast-address=127.0.0.1".to_string(),
    ];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (a, b) = (Nsqd::start_with(&args), Nsqd::start_with(&args));
    workload(&a, "stat_l", 3);
    workload(&b, "stat_l", 4);
    assert!(wait_until(WAIT, || lookupd.producer_ports("stat_l").len() == 2));
    let (code, out, err) = run(&[
        &format!("--lookupd-http-address={}", lookupd.http_addr),
        "--topic=stat_l",
        "--channel=c",
        "--count=1",
        "--interval=10ms",
    ]);
    assert_eq!((code, err.as_str()), (0, ""));
    let line = "      0       0 |       7       7       0     0     0 |       0       0            7       0\n";
    assert_eq!(out, format!("{HEADER}{line}"));
}

#[test]
fn missing_channel_is_fatal() {
    let nsqd = Nsqd::start_with(&["--broadcast-address=127.0.0.1"]);
    workload(&nsqd, "stat_m", 1);
    let (code, out, err) = run(&[
        &format!("--nsqd-http-address={}", nsqd.http_addr),
        "--topic=stat_m",
        "--channel=nope",
        "--count=1",
    ]);
    assert_eq!((code, out.as_str()), (1, ""));
    assert!(
        is_go_log_line(
            &err,
            "ERROR: failed to find channel(nope) in stats metadata for topic(stat_m)"
        ),
        "{err:?}"
    );
}

#[test]
fn version_and_validation() {
    let (code, out, _) = run(&["--version"]);
    assert_eq!((code, out.as_str()), (0, "nsq_stat v1.3.0\n"));

    let tc = ["--topic=t", "--channel=c"];
    let fatal = |extra: &[&str], msg: &str| {
        let mut args = tc.to_vec();
        args.extend_from_slice(extra);
        tools::assert_fatal(TOOL, &args, msg);
    };
    tools::assert_fatal(TOOL, &["--topic=t"], "--topic and --channel are required");
    fatal(&["--interval=0"], "--interval should be positive");
    fatal(
        &["--http-client-connect-timeout=0s"],
        "--http-client-connect-timeout should be positive",
    );
    fatal(
        &["--http-client-request-timeout=0s"],
        "--http-client-request-timeout should be positive",
    );
    fatal(&["--count=0"], "--count should be positive");
    fatal(
        &[],
        "--nsqd-http-address or --lookupd-http-address required",
    );
    fatal(
        &["--nsqd-http-address=a:1", "--lookupd-http-address=b:2"],
        "use --nsqd-http-address or --lookupd-http-address not both",
    );
    fatal(
        &["--nsqd-http-address=http://127.0.0.1:4151"],
        "--nsqd-http-address error - address should not contain scheme",
    );
    fatal(
        &["--lookupd-http-address=http://127.0.0.1:4161"],
        "--lookupd-http-address error - address should not contain scheme",
    );

    let (code, _, err) = run(&["--count=x"]);
    assert_eq!(code, 2);
    assert!(
        err.starts_with(
            "invalid value \"x\" for flag -count: strconv.ParseInt: parsing \"x\": invalid syntax\n"
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
            "count value",
            "http-client-connect-timeout duration",
            "http-client-request-timeout duration",
            "interval duration",
            "lookupd-http-address value",
            "nsqd-http-address value",
            "topic string",
            "version",
        ],
    );
    assert!(text.contains("(default 2s)\n"), "{text}");
    assert!(text.contains("(default 5s)\n"), "{text}");
}
