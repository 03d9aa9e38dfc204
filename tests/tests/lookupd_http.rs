//! nsqlookupd's HTTP API (§6.3): all 21 routes, their exact bodies, status codes and headers,
//! and the router behaviour it shares with nsqd (404/405/OPTIONS/redirects).

use std::time::Duration;

use nsq_tests::lookupd::{LookupConn, Nsqlookupd};
use nsq_tests::{http, http_with_headers, HttpResponse};

const JSON: &str = "application/json; charset=utf-8";
const NSQ_V1: &str = "nsq; version=1.0";

fn assert_v1(r: &HttpResponse, status: u16, body: &str) {
    assert_eq!((r.status, r.text().as_str()), (status, body));
    assert_eq!(r.header("X-NSQ-Content-Type"), Some(NSQ_V1));
}

fn assert_err(r: &HttpResponse, status: u16, message: &str) {
    assert_v1(r, status, &format!("{{\"message\":\"{message}\"}}"));
    assert_eq!(r.header("Content-Type"), Some(JSON));
}

fn assert_empty_ok(r: &HttpResponse) {
    assert_v1(r, 200, "");
}

#[test]
fn ping_and_info() {
    let l = Nsqlookupd::start();
    let r = l.get("/ping");
    assert_eq!((r.status, r.text().as_str()), (200, "OK"));
    assert_eq!(r.header("X-NSQ-Content-Type"), None, "/ping is PlainText");
    assert_eq!(r.header("Content-Type"), Some("text/plain; charset=utf-8"));
    let r = l.get("/info");
    assert_v1(&r, 200, r#"{"version":"1.3.0"}"#);
    assert_eq!(r.header("Content-Type"), Some(JSON));
    // The V1 Accept header that clients send changes nothing (H-008).
    let r = http_with_headers(
        l.http_addr,
        "GET",
        "/info",
        &[("Accept", "application/vnd.nsq; version=1.0")],
        b"",
    );
    assert_v1(&r, 200, r#"{"version":"1.3.0"}"#);
}

#[test]
fn empty_registry_answers() {
    let l = Nsqlookupd::start();
    assert_v1(&l.get("/topics"), 200, r#"{"topics":[]}"#);
    assert_v1(&l.get("/nodes"), 200, r#"{"producers":[]}"#);
    assert_v1(&l.get("/channels?topic=nope"), 200, r#"{"channels":[]}"#);
    assert_v1(&l.get("/debug"), 200, "{}");
    assert_err(&l.get("/lookup?topic=nope"), 404, "TOPIC_NOT_FOUND");
    assert_err(&l.get("/lookup?topic="), 404, "TOPIC_NOT_FOUND");
}

#[test]
fn parameter_errors() {
    let l = Nsqlookupd::start();
    assert_err(&l.get("/lookup"), 400, "MISSING_ARG_TOPIC");
    assert_err(&l.get("/lookup?topic=%zz"), 400, "INVALID_REQUEST");
    assert_err(&l.get("/channels"), 400, "MISSING_ARG_TOPIC");
    assert_err(&l.post("/topic/create"), 400, "MISSING_ARG_TOPIC");
    assert_err(&l.post("/topic/create?topic=a!"), 400, "INVALID_ARG_TOPIC");
    assert_err(&l.post("/topic/delete"), 400, "MISSING_ARG_TOPIC");
    assert_err(
        &l.post("/channel/create?channel=c"),
        400,
        "MISSING_ARG_TOPIC",
    );
    assert_err(
        &l.post("/channel/create?topic=a!&channel=c"),
        400,
        "INVALID_ARG_TOPIC",
    );
    assert_err(
        &l.post("/channel/create?topic=t"),
        400,
        "MISSING_ARG_CHANNEL",
    );
    assert_err(
        &l.post("/channel/create?topic=t&channel=c!"),
        400,
        "INVALID_ARG_CHANNEL",
    );
    assert_err(
        &l.post("/channel/delete?topic=t"),
        400,
        "MISSING_ARG_CHANNEL",
    );
    assert_err(
        &l.post("/topic/tombstone?node=n:1"),
        400,
        "MISSING_ARG_TOPIC",
    );
    assert_err(&l.post("/topic/tombstone?topic=t"), 400, "MISSING_ARG_NODE");
    assert_err(
        &l.post("/topic/tombstone?topic=t;x"),
        400,
        "INVALID_REQUEST",
    );
    assert_v1(&l.get("/topics"), 200, r#"{"topics":[]}"#);
}

#[test]
fn create_and_delete_touch_only_lookupd() {
    let l = Nsqlookupd::start();
    assert_empty_ok(&l.post("/topic/create?topic=t1"));
    assert_v1(&l.get("/topics"), 200, r#"{"topics":["t1"]}"#);
    assert_v1(
        &l.get("/lookup?topic=t1"),
        200,
        r#"{"channels":[],"producers":[]}"#,
    );

    assert_empty_ok(&l.post("/channel/create?topic=t2&channel=c1"));
    assert_empty_ok(&l.post("/channel/create?topic=t2&channel=c2"));
    assert_v1(
        &l.get("/channels?topic=t2"),
        200,
        r#"{"channels":["c1","c2"]}"#,
    );
    assert_v1(&l.get("/topics"), 200, r#"{"topics":["t1","t2"]}"#);
    assert_v1(
        &l.get("/lookup?topic=t2"),
        200,
        r#"{"channels":["c1","c2"],"producers":[]}"#,
    );

    assert_err(
        &l.post("/channel/delete?topic=t2&channel=nope"),
        404,
        "CHANNEL_NOT_FOUND",
    );
    assert_empty_ok(&l.post("/channel/delete?topic=t2&channel=c1"));
    assert_v1(&l.get("/channels?topic=t2"), 200, r#"{"channels":["c2"]}"#);

    assert_empty_ok(&l.post("/topic/delete?topic=t2"));
    assert_v1(&l.get("/channels?topic=t2"), 200, r#"{"channels":[]}"#);
    assert_v1(&l.get("/topics"), 200, r#"{"topics":["t1"]}"#);
    assert_empty_ok(&l.post("/topic/delete?topic=never-existed"));
    assert!(l.wait_for_log(
        "DB: removing channel(c2) from topic(t2)",
        Duration::from_secs(5)
    ));
    assert!(l.wait_for_log("DB: removing topic(t2)", Duration::from_secs(5)));
    assert!(l.wait_for_log(
        "DB: adding channel(c1) in topic(t2)",
        Duration::from_secs(5)
    ));
}

/// Two fake nsqd nodes over TCP; one is tombstoned for one topic.
#[test]
fn lookup_nodes_tombstone_and_debug() {
    let l = Nsqlookupd::start_with(&["--tombstone-lifetime=1h"]);
    let mut a = LookupConn::connect(l.tcp_addr);
    a.identify_as(5150);
    a.cmd("REGISTER t c");
    a.cmd("REGISTER u");
    let mut b = LookupConn::connect(l.tcp_addr);
    b.identify_as(6150);
    b.cmd("REGISTER t");
    assert_eq!(l.producer_ports("t"), [5150, 6150]);

    // Nothing matches: still 200.
    assert_empty_ok(&l.post("/topic/tombstone?topic=t&node=127.0.0.1:9999"));
    assert_eq!(l.producer_ports("t"), [5150, 6150]);
    // `node` is broadcast_address:http_port.
    assert_empty_ok(&l.post("/topic/tombstone?topic=t&node=127.0.0.1:5151"));
    assert!(l.wait_for_log(
        "DB: setting tombstone for producer@127.0.0.1:5151 of topic(t)",
        Duration::from_secs(5)
    ));
    assert_eq!(l.producer_ports("t"), [6150], "tombstoned for t");
    assert_eq!(l.producer_ports("u"), [5150], "not for u");
    // Re-registering does not clear a tombstone.
    a.cmd("REGISTER t");
    assert_eq!(l.producer_ports("t"), [6150]);

    // /nodes lists both, with a tombstone flag per topic.
    let nodes = l.get("/nodes").json();
    let nodes = nodes["producers"].as_array().unwrap();
    assert_eq!(nodes.len(), 2);
    let a_node = nodes.iter().find(|n| n["tcp_port"] == 5150).unwrap();
    let keys: Vec<&str> = a_node
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "remote_address",
            "hostname",
            "broadcast_address",
            "tcp_port",
            "http_port",
            "version",
            "topology_zone",
            "topology_region",
            "tombstones",
            "topics"
        ]
    );
    assert_eq!(a_node["topics"], serde_json::json!(["t", "u"]));
    assert_eq!(a_node["tombstones"], serde_json::json!([true, false]));
    assert_eq!(
        a_node["remote_address"],
        a.local_addr().to_string().as_str()
    );
    let b_node = nodes.iter().find(|n| n["tcp_port"] == 6150).unwrap();
    assert_eq!(b_node["tombstones"], serde_json::json!([false]));

    // /debug: every registration with producers, keys sorted as Go sorts map keys.
    let raw = l.get("/debug");
    assert_eq!(raw.status, 200);
    assert_eq!(raw.header("X-NSQ-Content-Type"), Some(NSQ_V1));
    let debug = raw.json();
    let regs: Vec<&str> = debug
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(regs, ["channel:t:c", "client::", "topic:t:", "topic:u:"]);
    assert_eq!(debug["client::"].as_array().unwrap().len(), 2);
    let in_t = debug["topic:t:"].as_array().unwrap();
    let a_in_t = in_t.iter().find(|p| p["tcp_port"] == 5150).unwrap();
    let b_in_t = in_t.iter().find(|p| p["tcp_port"] == 6150).unwrap();
    let keys: Vec<&str> = a_in_t
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "broadcast_address",
            "hostname",
            "http_port",
            "id",
            "last_update",
            "tcp_port",
            "tombstoned",
            "tombstoned_at",
            "topology_region",
            "topology_zone",
            "version"
        ]
    );
    assert_eq!(a_in_t["id"], a.local_addr().to_string().as_str());
    assert_eq!(a_in_t["tombstoned"], true);
    assert!(a_in_t["tombstoned_at"].as_i64().unwrap() > 1_600_000_000_000_000_000);
    assert_eq!(b_in_t["tombstoned"], false);
    // QRK-21: Go's zero time in nanoseconds.
    assert_eq!(b_in_t["tombstoned_at"], -6795364578871345152i64);
    assert!(b_in_t["last_update"].as_i64().unwrap() > 1_600_000_000_000_000_000);
    assert!(
        raw.text()
            .contains("\"tombstoned_at\":-6795364578871345152"),
        "written as an integer: {}",
        raw.text()
    );
}

#[test]
fn tombstones_expire_after_their_lifetime() {
    let l = Nsqlookupd::start_with(&["--tombstone-lifetime=2s"]);
    let mut a = LookupConn::connect(l.tcp_addr);
    a.identify_as(5150);
    a.cmd("REGISTER t");
    assert_empty_ok(&l.post("/topic/tombstone?topic=t&node=127.0.0.1:5151"));
    assert_eq!(l.producer_ports("t"), Vec::<u16>::new());
    // Keep the producer active while the tombstone ages out.
    assert!(nsq_tests::wait_until(Duration::from_secs(20), || {
        a.cmd("PING");
        l.producer_ports("t") == [5150]
    }));
    let nodes = l.get("/nodes").json();
    assert_eq!(
        nodes["producers"][0]["tombstones"],
        serde_json::json!([false])
    );
}

#[test]
fn router_behaviour_matches_nsqd() {
    let l = Nsqlookupd::start();
    assert_err(&l.get("/nope"), 404, "NOT_FOUND");
    // The 1.0 names are gone (DOC-07).
    for old in [
        "/delete_topic",
        "/delete_channel",
        "/tombstone_topic_producer",
        "/create_topic",
    ] {
        assert_err(&l.get(old), 404, "NOT_FOUND");
        assert_err(&l.post(old), 404, "NOT_FOUND");
    }
    let r = l.get("/topic/create");
    assert_err(&r, 405, "METHOD_NOT_ALLOWED");
    assert_eq!(r.header("Allow"), Some("OPTIONS, POST"));
    let r = l.post("/lookup");
    assert_err(&r, 405, "METHOD_NOT_ALLOWED");
    assert_eq!(r.header("Allow"), Some("GET, OPTIONS"));
    let r = http(l.http_addr, "OPTIONS", "/debug/pprof/symbol", b"");
    assert_eq!((r.status, r.text().as_str()), (200, ""));
    assert_eq!(r.header("Allow"), Some("GET, OPTIONS, POST"));

    let r = l.get("/ping/");
    assert_eq!(r.status, 301);
    assert_eq!(r.header("Location"), Some("/ping"));
    let r = l.get("/LOOKUP?topic=t");
    assert_eq!(r.status, 301);
    assert_eq!(r.header("Location"), Some("/lookup?topic=t"));
    let r = l.post("/Topic/Create?topic=t");
    assert_eq!(r.status, 307);
    assert_eq!(r.header("Location"), Some("/topic/create?topic=t"));
    // The profiler index has no trailing slash here (unlike nsqd).
    let r = l.get("/debug/pprof/");
    assert_eq!(r.status, 301);
    assert_eq!(r.header("Location"), Some("/debug/pprof"));
    let r = l.get("/debug/pprof");
    assert_eq!(r.status, 200);
    assert!(r.text().starts_with("/debug/pprof\n"));
    for p in [
        "/debug/pprof/cmdline",
        "/debug/pprof/symbol",
        "/debug/pprof/profile",
        "/debug/pprof/heap",
        "/debug/pprof/goroutine",
        "/debug/pprof/block",
        "/debug/pprof/threadcreate",
    ] {
        assert_err(&l.get(p), 404, "NOT_FOUND");
    }
    assert_err(&l.post("/debug/pprof/symbol"), 404, "NOT_FOUND");
}

#[test]
fn requests_are_logged() {
    let l = Nsqlookupd::start();
    l.get("/topics");
    l.get("/nope");
    assert!(l.wait_for_log("INFO: 200 GET /topics (127.0.0.1:", Duration::from_secs(5)));
    assert!(l.wait_for_log("INFO: 404 GET /nope (127.0.0.1:", Duration::from_secs(5)));
}
