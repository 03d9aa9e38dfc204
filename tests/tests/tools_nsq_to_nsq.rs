//! nsq_to_nsq (spec §8.5, T-050..T-053) driven as a process between real nsqd instances.

use std::time::Duration;

use nsq_tests::lookupd::Nsqlookupd;
use nsq_tests::tools::{self, publish, topic_count, Tool, FAST_REQUEUE};
use nsq_tests::{stats_channel, wait_until, Nsqd};

const WAIT: Duration = Duration::from_secs(15);
const TOOL: &str = "nsq_to_nsq";

/// Waits until the source channel has seen `n` messages and finished all of them.
fn wait_drained(nsqd: &Nsqd, topic: &str, n: u64) -> serde_json::Value {
    tools::wait_drained(nsqd, topic, TOOL, n)
}

/// Reads `n` messages of `topic` from `nsqd` (FINing them) and answers the sorted bodies.
fn read_bodies(nsqd: &Nsqd, topic: &str, n: usize) -> Vec<String> {
    let mut out = tools::read_bodies(nsqd, topic, n);
    out.sort();
    out
}

fn start(src: &Nsqd, dst: &[&Nsqd], extra: &[&str]) -> Tool {
    let mut v = vec![format!("--nsqd-tcp-address={}", src.tcp_addr)];
    v.extend(
        dst.iter()
            .map(|d| format!("--destination-nsqd-tcp-address={}", d.tcp_addr)),
    );
    v.extend(extra.iter().map(|s| s.to_string()));
    Tool::start(TOOL, &v)
}

// ---- tests ------------------------------------------------------------------------------------

#[test]
fn copies_messages_to_the_destination_topic() {
    let (src, dst) = (Nsqd::start(), Nsqd::start());
    for i in 0..5 {
        publish(&src, "from", format!("msg-{i}"));
    }
    let mut tool = start(&src, &[&dst], &["--topic=from", "--destination-topic=to"]);
    assert!(
        wait_until(WAIT, || topic_count(&dst, "to") == 5),
        "{:?}",
        tool.logs()
    );
    wait_drained(&src, "from", 5);
    assert_eq!(topic_count(&dst, "from"), 0);
    assert_eq!(
        read_bodies(&dst, "to", 5),
        ["msg-0", "msg-1", "msg-2", "msg-3", "msg-4"]
    );
    tool.terminate();
}

#[test]
fn finds_the_source_through_nsqlookupd() {
    let lookupd = Nsqlookupd::start();
    let src = Nsqd::start_with(&[&lookupd.nsqd_arg(), "--broadcast-address=127.0.0.1"]);
    let dst = Nsqd::start();
    publish(&src, "found", b"via-lookupd");
    assert!(wait_until(WAIT, || lookupd
        .get("/lookup?topic=found")
        .status
        == 200));
    let _tool = Tool::start(
        TOOL,
        &[
            format!("--lookupd-http-address={}", lookupd.http_addr),
            format!("--destination-nsqd-tcp-address={}", dst.tcp_addr),
            "--topic=found".into(),
        ],
    );
    wait_drained(&src, "found", 1);
    assert_eq!(read_bodies(&dst, "found", 1), ["via-lookupd"]);
}

#[test]
fn each_topic_keeps_its_name_by_default() {
    let (src, dst) = (Nsqd::start(), Nsqd::start());
    publish(&src, "alpha", b"a1");
    publish(&src, "beta", b"b1");
    publish(&src, "beta", b"b2");
    let _tool = start(&src, &[&dst], &["--topic=alpha", "--topic=beta"]);
    assert!(wait_until(WAIT, || topic_count(&dst, "alpha") == 1
        && topic_count(&dst, "beta") == 2));
    assert_eq!(read_bodies(&dst, "alpha", 1), ["a1"]);
    assert_eq!(read_bodies(&dst, "beta", 2), ["b1", "b2"]);
}

#[test]
fn round_robin_alternates_between_destinations() {
    let (src, d1, d2) = (Nsqd::start(), Nsqd::start(), Nsqd::start());
    for i in 0..6 {
        publish(&src, "rr", format!("r{i}"));
    }
    let _tool = start(&src, &[&d1, &d2], &["--topic=rr", "--mode=round-robin"]);
    wait_drained(&src, "rr", 6);
    assert!(wait_until(WAIT, || topic_count(&d1, "rr")
        + topic_count(&d2, "rr")
        == 6));
    assert_eq!((topic_count(&d1, "rr"), topic_count(&d2, "rr")), (3, 3));
    let mut all = read_bodies(&d1, "rr", 3);
    all.extend(read_bodies(&d2, "rr", 3));
    all.sort();
    assert_eq!(all, ["r0", "r1", "r2", "r3", "r4", "r5"]);
}

#[test]
fn hostpool_routes_around_a_dead_destination() {
    let (src, live) = (Nsqd::start(), Nsqd::start());
    // A port nothing listens on: publishing there fails and the message is requeued.
    let dead = tools::unused_addr();
    for i in 0..4 {
        publish(&src, "hp", format!("h{i}"));
    }
    let tool = Tool::start(
        TOOL,
        &[
            format!("--nsqd-tcp-address={}", src.tcp_addr),
            format!("--destination-nsqd-tcp-address={dead}"),
            format!("--destination-nsqd-tcp-address={}", live.tcp_addr),
            "--topic=hp".into(),
            FAST_REQUEUE[0].into(),
            FAST_REQUEUE[1].into(),
        ],
    );
    let c = wait_drained(&src, "hp", 4);
    assert!(c["requeue_count"].as_u64().unwrap() >= 1, "{c}");
    assert_eq!(topic_count(&live, "hp"), 4, "{:?}", tool.logs());
    assert_eq!(read_bodies(&live, "hp", 4), ["h0", "h1", "h2", "h3"]);
}

#[test]
fn required_field_and_value_filter() {
    let (src, dst) = (Nsqd::start(), Nsqd::start());
    let bodies = [
        r#"{"kind":"keep","n":1}"#,
        r#"{"kind":"skip","n":2}"#,
        r#"{"kind":7}"#,
        "not json at all",
        r#"{"kind":"keep","n":3}"#,
    ];
    for b in bodies {
        publish(&src, "json", b.as_bytes());
    }
    let tool = start(
        &src,
        &[&dst],
        &[
            "--topic=json",
            "--require-json-field=kind",
            "--require-json-value=keep",
        ],
    );
    let c = wait_drained(&src, "json", 5);
    assert_eq!(c["requeue_count"], 0);
    assert!(wait_until(WAIT, || topic_count(&dst, "json") == 2));
    assert_eq!(
        read_bodies(&dst, "json", 2),
        [r#"{"kind":"keep","n":1}"#, r#"{"kind":"keep","n":3}"#]
    );
    assert!(tool.wait_for_log("ERROR: Unable to decode json: not json at all"));
}

#[test]
fn numeric_required_value_compares_as_a_number() {
    let (src, dst) = (Nsqd::start(), Nsqd::start());
    for b in [r#"{"v":5.0}"#, r#"{"v":6}"#, r#"{"v":"5"}"#] {
        publish(&src, "num", b.as_bytes());
    }
    let _tool = start(
        &src,
        &[&dst],
        &[
            "--topic=num",
            "--require-json-field=v",
            "--require-json-value=5",
        ],
    );
    wait_drained(&src, "num", 3);
    assert!(wait_until(WAIT, || topic_count(&dst, "num") == 2));
    assert_eq!(
        read_bodies(&dst, "num", 2),
        [r#"{"v":"5"}"#, r#"{"v":5.0}"#]
    );
}

#[test]
fn missing_required_field_is_requeued_with_backoff() {
    let (src, dst) = (Nsqd::start(), Nsqd::start());
    publish(&src, "missing", br#"{"other":1}"#);
    let tool = start(
        &src,
        &[&dst],
        &[
            "--topic=missing",
            "--require-json-field=kind",
            "--require-json-value=x",
            FAST_REQUEUE[0],
            FAST_REQUEUE[1],
        ],
    );
    assert!(tool.wait_for_log("ERROR: missing field to check required value"));
    assert!(wait_until(WAIT, || {
        let stats = src.stats();
        stats_channel(&stats, "missing", "nsq_to_nsq")
            .is_some_and(|c| c["requeue_count"].as_u64().unwrap() >= 1)
    }));
    assert_eq!(topic_count(&dst, "missing"), 0);
}

#[test]
fn whitelist_reencodes_only_the_listed_fields() {
    let (src, dst) = (Nsqd::start(), Nsqd::start());
    publish(
        &src,
        "wl",
        br#"{"secret":"x","n":2.0,"f":1.5,"a":"<b>&","nested":{"z":1,"y":[true,null]}}"#,
    );
    publish(&src, "wl", br#"{"secret":"only"}"#);
    publish(&src, "wl", b"[1,2,3]");
    let tool = start(
        &src,
        &[&dst],
        &[
            "--topic=wl",
            "--whitelist-json-field=n",
            "--whitelist-json-field=a",
            "--whitelist-json-field=f",
            "--whitelist-json-field=nested",
        ],
    );
    wait_drained(&src, "wl", 3);
    assert!(wait_until(WAIT, || topic_count(&dst, "wl") == 2));
    assert_eq!(
        read_bodies(&dst, "wl", 2),
        [
            r#"{"a":"\u003cb\u003e\u0026","f":1.5,"n":2,"nested":{"y":[true,null],"z":1}}"#,
            "{}",
        ]
    );
    assert!(tool.wait_for_log("ERROR: Unable to decode json: [1,2,3]"));
}

#[test]
fn version_and_validation_messages() {
    let (code, out, _) = tools::run_tool(TOOL, &["--version"]);
    assert_eq!((code, out.as_str()), (0, "nsq_to_nsq v1.3.0\n"));

    let fatal = |args: &[&str], msg: &str| tools::assert_fatal(TOOL, args, msg);
    let src = "--nsqd-tcp-address=127.0.0.1:1";
    let dst = "--destination-nsqd-tcp-address=127.0.0.1:2";
    fatal(&[src, dst], "--topic and --channel are required");
    fatal(
        &["--topic=a", "--topic=no/pe", src, dst],
        "--topic is invalid",
    );
    fatal(
        &["--topic=a", "--destination-topic=no pe", src, dst],
        "--destination-topic is invalid",
    );
    fatal(
        &["--topic=a", "--channel=c!", src, dst],
        "--channel is invalid",
    );
    fatal(
        &["--topic=a", dst],
        "--nsqd-tcp-address or --lookupd-http-address required",
    );
    fatal(
        &["--topic=a", src, "--lookupd-http-address=127.0.0.1:3", dst],
        "use --nsqd-tcp-address or --lookupd-http-address not both",
    );
    fatal(
        &["--topic=a", src],
        "--destination-nsqd-tcp-address required",
    );
}
