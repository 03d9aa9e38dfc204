//! nsq_to_http (spec §8.4, T-040..T-043, V-004) driven as a process against a real nsqd and
//! small recording HTTP servers.

use std::time::Duration;

use nsq_tests::tools::{
    self, publish, publish_all, wait_drained, RecordedRequest, RecordingServer as Server, Tool,
    FAST_REQUEUE,
};
use nsq_tests::{wait_until, Nsqd};

const WAIT: Duration = Duration::from_secs(15);
const TOOL: &str = "nsq_to_http";

fn start(nsqd: &Nsqd, topic: &str, extra: &[String]) -> Tool {
    let mut args = vec![
        format!("--topic={topic}"),
        format!("--nsqd-tcp-address={}", nsqd.tcp_addr),
    ];
    args.extend_from_slice(extra);
    Tool::start(TOOL, &args)
}

/// `extra` with [`FAST_REQUEUE`] added.
fn fast_requeue(extra: &[String]) -> Vec<String> {
    let mut v = extra.to_vec();
    v.extend(FAST_REQUEUE.iter().map(|s| s.to_string()));
    v
}

fn bodies(reqs: &[RecordedRequest]) -> Vec<String> {
    let mut b: Vec<String> = reqs
        .iter()
        .map(|r| String::from_utf8(r.body.clone()).unwrap())
        .collect();
    b.sort();
    b
}

// ---- tests ------------------------------------------------------------------------------------

#[test]
fn post_sends_body_content_type_headers_and_user_agent() {
    let nsqd = Nsqd::start();
    let server = Server::start();
    publish_all(&nsqd, "posts", &["one", "two", "three"]);
    let mut tool = start(
        &nsqd,
        "posts",
        &[
            format!("--post={}", server.url("/hook")),
            "--content-type=text/plain; charset=utf-8".into(),
            "--header=X-Custom:  abc ".into(),
            "--header=Authorization: Bearer t:1".into(),
        ],
    );
    assert!(
        wait_until(WAIT, || server.count() == 3),
        "{:?}",
        tool.logs()
    );
    wait_drained(&nsqd, "posts", "nsq_to_http", 3);
    let reqs = server.requests();
    for r in &reqs {
        assert_eq!(r.method, "POST");
        assert_eq!(r.target, "/hook");
        assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
        assert_eq!(r.header("user-agent"), Some("nsq_to_http v1.3.0"));
        assert_eq!(r.header("x-custom"), Some("abc"));
        assert_eq!(r.header("authorization"), Some("Bearer t:1"));
    }
    assert_eq!(bodies(&reqs), ["one", "three", "two"]);
    tool.terminate();
}

#[test]
fn post_defaults_to_octet_stream() {
    let nsqd = Nsqd::start();
    let server = Server::start();
    publish(&nsqd, "octets", b"\x00\x01binary");
    let _tool = start(&nsqd, "octets", &[format!("--post={}", server.url("/"))]);
    assert!(wait_until(WAIT, || server.count() == 1));
    let r = &server.requests()[0];
    assert_eq!(r.header("content-type"), Some("application/octet-stream"));
    assert_eq!(r.body, b"\x00\x01binary");
}

#[test]
fn get_puts_the_escaped_body_in_the_url_and_wants_exactly_200() {
    let nsqd = Nsqd::start();
    // The first answer is a 201: for GET only 200 counts, so the message comes back.
    let server = Server::with_statuses(&[201]);
    publish(&nsqd, "gets", b"hello world&x=1/\xc3\xa9");
    let tool = start(
        &nsqd,
        "gets",
        &fast_requeue(&[
            format!("--get={}", server.url("/in?msg=%s&p=100%%")),
            "--header=X-Custom: g".into(),
        ]),
    );
    assert!(
        wait_until(WAIT, || server.count() == 2),
        "{:?}",
        tool.logs()
    );
    let c = wait_drained(&nsqd, "gets", "nsq_to_http", 1);
    assert_eq!(c["requeue_count"], 1);
    for r in server.requests() {
        assert_eq!(r.method, "GET");
        assert_eq!(r.target, "/in?msg=hello+world%26x%3D1%2F%C3%A9&p=100%");
        assert_eq!(r.header("user-agent"), Some("nsq_to_http v1.3.0"));
        assert_eq!(r.header("x-custom"), Some("g"));
        assert_eq!(r.header("content-type"), None);
        assert!(r.body.is_empty());
    }
    assert!(tool.wait_for_log("Handler returned error (got status code 201)"));
}

#[test]
fn a_failed_post_is_requeued_and_delivered_again() {
    let nsqd = Nsqd::start();
    let server = Server::with_statuses(&[500]);
    publish(&nsqd, "retry", b"again");
    let tool = start(
        &nsqd,
        "retry",
        &fast_requeue(&[format!("--post={}", server.url("/"))]),
    );
    assert!(
        wait_until(WAIT, || server.count() == 2),
        "{:?}",
        tool.logs()
    );
    let c = wait_drained(&nsqd, "retry", "nsq_to_http", 1);
    assert_eq!(c["requeue_count"], 1);
    assert_eq!(bodies(&server.requests()), ["again", "again"]);
    assert!(tool.wait_for_log("Handler returned error (got status code 500)"));
}

#[test]
fn round_robin_alternates_between_addresses() {
    let nsqd = Nsqd::start();
    let (a, b) = (Server::start(), Server::start());
    for i in 0..6 {
        publish(&nsqd, "rr", format!("m{i}"));
    }
    let _tool = start(
        &nsqd,
        "rr",
        &[
            format!("--post={}", a.url("/a")),
            format!("--post={}", b.url("/b")),
            "--mode=round-robin".into(),
        ],
    );
    wait_drained(&nsqd, "rr", "nsq_to_http", 6);
    assert_eq!((a.count(), b.count()), (3, 3));
    let mut all = a.requests();
    all.extend(b.requests());
    assert_eq!(bodies(&all), ["m0", "m1", "m2", "m3", "m4", "m5"]);
}

#[test]
fn any_other_mode_sends_every_message_to_every_address() {
    let nsqd = Nsqd::start();
    let (a, b) = (Server::start(), Server::start());
    publish_all(&nsqd, "fan", &["x", "y", "z"]);
    let _tool = start(
        &nsqd,
        "fan",
        &[
            format!("--post={}", a.url("/")),
            format!("--post={}", b.url("/")),
            "--mode=multicast".into(),
        ],
    );
    wait_drained(&nsqd, "fan", "nsq_to_http", 3);
    assert_eq!(bodies(&a.requests()), ["x", "y", "z"]);
    assert_eq!(bodies(&b.requests()), ["x", "y", "z"]);
}

#[test]
fn hostpool_steers_away_from_a_failing_address() {
    let nsqd = Nsqd::start();
    let bad = Server::with_statuses(&[500; 100]);
    let good = Server::start();
    for i in 0..6 {
        publish(&nsqd, "pool", format!("p{i}"));
    }
    let _tool = start(
        &nsqd,
        "pool",
        &fast_requeue(&[
            format!("--post={}", bad.url("/")),
            format!("--post={}", good.url("/")),
            "--n=1".into(),
        ]),
    );
    wait_drained(&nsqd, "pool", "nsq_to_http", 6);
    assert_eq!(
        bodies(&good.requests()),
        ["p0", "p1", "p2", "p3", "p4", "p5"]
    );
    // The failing address was tried once, then avoided for its retry delay.
    assert_eq!(bad.count(), 1);
}

#[test]
fn sample_zero_finishes_without_requests() {
    let nsqd = Nsqd::start();
    let server = Server::start();
    publish_all(&nsqd, "sampled", &["a", "b", "c"]);
    let _tool = start(
        &nsqd,
        "sampled",
        &[format!("--post={}", server.url("/")), "--sample=0".into()],
    );
    let c = wait_drained(&nsqd, "sampled", "nsq_to_http", 3);
    assert_eq!(c["requeue_count"], 0);
    assert_eq!(server.count(), 0);
}

#[test]
fn status_lines_every_n_requests() {
    let nsqd = Nsqd::start();
    let server = Server::start();
    publish_all(&nsqd, "status", &["1", "2", "3"]);
    let tool = start(
        &nsqd,
        "status",
        &[
            format!("--post={}", server.url("/")),
            "--status-every=2".into(),
        ],
    );
    wait_drained(&nsqd, "status", "nsq_to_http", 3);
    let line = regex::Regex::new(
        r"^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d \[aggregate\]: finished 2 - 99th: \d+\.\d\dms - 95th: \d+\.\d\dms - avg: \d+\.\d\dms$",
    )
    .unwrap();
    assert!(
        wait_until(WAIT, || tool.logs().iter().any(|l| line.is_match(l))),
        "{:?}",
        tool.logs()
    );
    let logs = tool.logs();
    // One address: only the aggregate figures, so only its warning.
    let warnings = logs
        .iter()
        .filter(|l| {
            l.ends_with(
                "Warning: use more than 100 status values for accurate percentiles (configured with 2)",
            )
        })
        .count();
    assert_eq!(warnings, 1, "{logs:?}");
}

#[test]
fn version_and_validation_messages() {
    let (code, out, _) = tools::run_tool(TOOL, &["--version"]);
    assert_eq!((code, out.as_str()), (0, "nsq_to_http v1.3.0\n"));

    let fatal = |args: &[&str], msg: &str| tools::assert_fatal(TOOL, args, msg);
    let src = "--nsqd-tcp-address=127.0.0.1:1";
    fatal(
        &["--topic=t", src, "--post=http://h/", "--header=X-A=b"],
        "--header value format should be 'key=value'",
    );
    fatal(
        &[src, "--post=http://h/"],
        "--topic and --channel are required",
    );
    fatal(
        &[
            "--topic=t",
            src,
            "--get=http://h/%s",
            "--content-type=text/plain",
        ],
        "--content-type only used with --post",
    );
    fatal(
        &["--topic=t", src, "--post=http://h/", "--content-type="],
        "--content-type requires a value when used",
    );
    fatal(
        &["--topic=t", "--post=http://h/"],
        "--nsqd-tcp-address or --lookupd-http-address required",
    );
    fatal(
        &[
            "--topic=t",
            src,
            "--lookupd-http-address=127.0.0.1:1",
            "--post=http://h/",
        ],
        "use --nsqd-tcp-address or --lookupd-http-address not both",
    );
    fatal(&["--topic=t", src], "--get or --post required");
    fatal(
        &["--topic=t", src, "--get=http://h/%s", "--post=http://h/"],
        "use --get or --post not both",
    );
    fatal(
        &["--topic=t", src, "--get=http://h/"],
        "invalid GET address - must be a printf string",
    );
    fatal(
        &["--topic=t", src, "--post=http://h/", "--sample=-0.1"],
        "ERROR: --sample must be between 0.0 and 1.0",
    );
}
