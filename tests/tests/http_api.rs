//! nsqd's HTTP API over raw HTTP (spec §2, H-001..H-062 and the debug routes H-070..H-072):
//! exact status codes, bodies, headers, check order, and the JSON/text shapes of /info, /stats
//! and /config.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use nsq_tests::{
    http, http_get, http_post, http_with_headers, mpub_body, stats_channel, stats_topic,
    wait_until, HttpResponse, Nsqd, RawConn,
};
use regex::Regex;
use serde_json::{json, Value};

const NSQ_HEADER: &str = "nsq; version=1.0";
const JSON_TYPE: &str = "application/json; charset=utf-8";
const TEXT_TYPE: &str = "text/plain; charset=utf-8";
const WAIT: Duration = Duration::from_secs(10);

/// nsqd with small limits, so the size checks need only small bodies.
fn small_nsqd() -> Nsqd {
    Nsqd::start_with(&["--max-msg-size=100", "--max-body-size=1000"])
}

/// A V1 error: the status, `{"message":"<TEXT>"}`, the JSON content type and the NSQ header.
#[track_caller]
fn assert_error(r: &HttpResponse, status: u16, message: &str) {
    let want = format!(r#"{{"message":"{message}"}}"#);
    assert_eq!(
        (r.status, r.text()),
        (status, want),
        "headers: {:?}",
        r.headers
    );
    assert_eq!(r.header("Content-Type"), Some(JSON_TYPE));
    assert_eq!(r.header("X-NSQ-Content-Type"), Some(NSQ_HEADER));
}

/// A V1 success with the string data `OK` (/pub, /mpub).
#[track_caller]
fn assert_ok(r: &HttpResponse) {
    assert_eq!(
        (r.status, r.text().as_str()),
        (200, "OK"),
        "headers: {:?}",
        r.headers
    );
    assert_eq!(r.header("X-NSQ-Content-Type"), Some(NSQ_HEADER));
    assert_eq!(r.header("Content-Type"), Some(TEXT_TYPE));
}

/// A V1 success with no data (topic and channel admin routes).
#[track_caller]
fn assert_empty_ok(r: &HttpResponse) {
    assert_eq!(
        (r.status, r.text().as_str()),
        (200, ""),
        "headers: {:?}",
        r.headers
    );
    assert_eq!(r.header("X-NSQ-Content-Type"), Some(NSQ_HEADER));
    assert_eq!(r.header("Content-Length"), Some("0"));
}

/// A V1 success with structured data; returns it parsed (keys in document order).
#[track_caller]
fn assert_json(r: &HttpResponse) -> Value {
    assert_eq!(r.status, 200, "body: {}", r.text());
    assert_eq!(r.header("Content-Type"), Some(JSON_TYPE));
    assert_eq!(r.header("X-NSQ-Content-Type"), Some(NSQ_HEADER));
    r.json()
}

/// The keys of a JSON object in document order (serde_json has `preserve_order` on).
#[track_caller]
fn keys(v: &Value) -> Vec<&str> {
    v.as_object()
        .unwrap_or_else(|| panic!("not a JSON object: {v}"))
        .keys()
        .map(String::as_str)
        .collect()
}

/// `GET /stats?format=json<query>` where `query` is empty or starts with `&`.
fn stats(n: &Nsqd, query: &str) -> Value {
    assert_json(&http_get(
        n.http_addr,
        &format!("/stats?format=json{query}"),
    ))
}

fn post(n: &Nsqd, path: &str, body: &[u8]) -> HttpResponse {
    http_post(n.http_addr, path, body)
}

/// `Transfer-Encoding: chunked` POST, so the server cannot rely on Content-Length.
fn post_chunked(n: &Nsqd, path: &str, body: &[u8]) -> HttpResponse {
    let mut chunked = format!("{:x}\r\n", body.len()).into_bytes();
    chunked.extend_from_slice(body);
    chunked.extend_from_slice(b"\r\n0\r\n\r\n");
    http_with_headers(
        n.http_addr,
        "POST",
        path,
        &[("Transfer-Encoding", "chunked")],
        &chunked,
    )
}

fn topic_count(n: &Nsqd, topic: &str) -> u64 {
    let s = stats(n, "");
    let t = stats_topic(&s, topic).unwrap_or_else(|| panic!("no topic {topic} in {s}"));
    t["message_count"].as_u64().unwrap()
}

fn topic_names(n: &Nsqd) -> Vec<String> {
    stats(n, "")["topics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["topic_name"].as_str().unwrap().to_string())
        .collect()
}

/// The `nsqd.dat` metadata document of `n`.
fn metadata(n: &Nsqd) -> Value {
    let path = n.data_dir.path().join("nsqd.dat");
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_slice(&bytes).unwrap()
}

fn metadata_topic(n: &Nsqd, topic: &str) -> Value {
    let md = metadata(n);
    md["topics"]
        .as_array()
        .and_then(|ts| ts.iter().find(|t| t["name"] == topic).cloned())
        .unwrap_or_else(|| panic!("no topic {topic} in nsqd.dat: {md}"))
}

fn os_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_string()
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A consumer that identified as `conshost` / `ua/1.0` and subscribed (RDY not sent).
fn identified_consumer(n: &Nsqd, topic: &str, channel: &str) -> RawConn {
    let mut c = n.conn();
    let (ft, _) = c.identify(
        r#"{"client_id":"cid","hostname":"conshost","user_agent":"ua/1.0","feature_negotiation":true}"#,
    );
    assert_eq!(ft, nsq_tests::FRAME_RESPONSE);
    c.sub(topic, channel);
    c
}

// ---- H-001..H-003, H-011: conventions, routing ------------------------------------------

#[test]
fn ping_answers_ok_as_plain_text() {
    let n = Nsqd::start();
    let r = http_get(n.http_addr, "/ping");
    assert_eq!((r.status, r.text().as_str()), (200, "OK"));
    assert_eq!(r.header("Content-Type"), Some(TEXT_TYPE));
    // /ping uses the PlainText decorator: no NSQ header.
    assert_eq!(r.header("X-NSQ-Content-Type"), None);
}

#[test]
fn unknown_path_is_404_not_found() {
    let n = Nsqd::start();
    assert_error(&http_get(n.http_addr, "/nope"), 404, "NOT_FOUND");
    assert_error(&http_get(n.http_addr, "/"), 404, "NOT_FOUND");
    assert_error(&post(&n, "/topic/nope?topic=t", b""), 404, "NOT_FOUND");
}

#[test]
fn removed_deprecated_aliases_are_404() {
    let n = Nsqd::start();
    for path in [
        "/put",
        "/mput",
        "/create_topic",
        "/delete_topic",
        "/empty_topic",
        "/pause_topic",
        "/unpause_topic",
        "/create_channel",
        "/delete_channel",
        "/empty_channel",
        "/pause_channel",
        "/unpause_channel",
    ] {
        let query = format!("{path}?topic=t&channel=c");
        assert_error(&http_get(n.http_addr, &query), 404, "NOT_FOUND");
        assert_error(&post(&n, &query, b"x"), 404, "NOT_FOUND");
    }
    assert_eq!(topic_names(&n), Vec::<String>::new());
}

#[test]
fn wrong_method_is_405_with_allow_header() {
    let n = Nsqd::start();
    for (method, path, allow) in [
        ("GET", "/pub?topic=t", "OPTIONS, POST"),
        ("GET", "/mpub?topic=t", "OPTIONS, POST"),
        ("POST", "/ping", "GET, OPTIONS"),
        ("POST", "/stats", "GET, OPTIONS"),
        ("GET", "/topic/create?topic=t", "OPTIONS, POST"),
        ("GET", "/channel/delete?topic=t&channel=c", "OPTIONS, POST"),
        ("DELETE", "/config/log_level", "GET, OPTIONS, PUT"),
    ] {
        let r = http(n.http_addr, method, path, b"");
        assert_error(&r, 405, "METHOD_NOT_ALLOWED");
        assert_eq!(r.header("Allow"), Some(allow), "{method} {path}");
    }
}

#[test]
fn options_lists_the_allowed_methods() {
    let n = Nsqd::start();
    for (path, allow) in [
        ("/pub", "OPTIONS, POST"),
        ("/ping", "GET, OPTIONS"),
        ("/config/msg_timeout", "GET, OPTIONS, PUT"),
    ] {
        let r = http(n.http_addr, "OPTIONS", path, b"");
        assert_eq!((r.status, r.text().as_str()), (200, ""), "OPTIONS {path}");
        assert_eq!(r.header("Allow"), Some(allow), "OPTIONS {path}");
    }
}

#[test]
fn trailing_slash_and_wrong_case_redirect() {
    let n = Nsqd::start();
    for (path, location) in [
        ("/ping/", "/ping"),
        ("/PING", "/ping"),
        ("/Info", "/info"),
        ("/stats/?format=json", "/stats?format=json"),
    ] {
        let r = http_get(n.http_addr, path);
        assert_eq!(r.status, 301, "GET {path}");
        assert_eq!(r.header("Location"), Some(location), "GET {path}");
    }
    // Other methods get 307 so the client repeats the same method (and body).
    let r = post(&n, "/pub/?topic=t", b"x");
    assert_eq!(r.status, 307);
    assert_eq!(r.header("Location"), Some("/pub?topic=t"));
    let r = post(&n, "/Topic/Create?topic=t", b"");
    assert_eq!(r.status, 307);
    assert_eq!(r.header("Location"), Some("/topic/create?topic=t"));
    // Redirected requests did nothing.
    assert_eq!(topic_names(&n), Vec::<String>::new());
}

// ---- H-021 /info ----------------------------------------------------------------------

#[test]
fn info_keys_in_order_with_real_ports() {
    let before = unix_now();
    let n = Nsqd::start();
    let info = assert_json(&http_get(n.http_addr, "/info"));
    let after = unix_now();
    assert_eq!(
        keys(&info),
        [
            "version",
            "broadcast_address",
            "hostname",
            "http_port",
            "tcp_port",
            "start_time",
            "max_heartbeat_interval",
            "max_output_buffer_size",
            "max_output_buffer_timeout",
            "max_deflate_level",
            "topology_zone",
            "topology_region",
        ]
    );
    let host = os_hostname();
    assert_eq!(info["version"], "1.3.0");
    assert_eq!(info["broadcast_address"], host.as_str());
    assert_eq!(info["hostname"], host.as_str());
    assert_eq!(info["http_port"], n.http_addr.port());
    assert_eq!(info["tcp_port"], n.tcp_addr.port());
    let start = info["start_time"].as_u64().unwrap();
    assert!(
        (before..=after).contains(&start),
        "start_time {start} not in [{before}, {after}]"
    );
    assert_eq!(info["max_heartbeat_interval"], 60_000_000_000u64);
    assert_eq!(info["max_output_buffer_size"], 65536);
    assert_eq!(info["max_output_buffer_timeout"], 30_000_000_000u64);
    assert_eq!(info["max_deflate_level"], 6);
    assert_eq!(info["topology_zone"], "");
    assert_eq!(info["topology_region"], "");
}

#[test]
fn info_reflects_flags() {
    let n = Nsqd::start_with(&[
        "--broadcast-address=bcast.example",
        "--max-heartbeat-interval=30s",
        "--max-output-buffer-size=1024",
        "--max-output-buffer-timeout=2s",
        "--max-deflate-level=9",
        "--topology-zone=z1",
        "--topology-region=r1",
    ]);
    let info = assert_json(&http_get(n.http_addr, "/info"));
    assert_eq!(info["broadcast_address"], "bcast.example");
    assert_eq!(info["hostname"], os_hostname().as_str());
    assert_eq!(info["max_heartbeat_interval"], 30_000_000_000u64);
    assert_eq!(info["max_output_buffer_size"], 1024);
    assert_eq!(info["max_output_buffer_timeout"], 2_000_000_000u64);
    assert_eq!(info["max_deflate_level"], 9);
    assert_eq!(info["topology_zone"], "z1");
    assert_eq!(info["topology_region"], "r1");
}

// ---- H-022 /pub -------------------------------------------------------------------------

#[test]
fn pub_publishes_one_message() {
    let n = small_nsqd();
    assert_ok(&post(&n, "/pub?topic=pt", b"hello"));
    let mut c = n.consumer("pt", "ch", 1);
    let m = c.read_message();
    assert_eq!((m.body.as_slice(), m.attempts), (&b"hello"[..], 1));
    let s = stats(&n, "");
    let t = stats_topic(&s, "pt").unwrap();
    assert_eq!(
        (t["message_count"].as_u64(), t["message_bytes"].as_u64()),
        (Some(1), Some(5))
    );
}

#[test]
fn pub_body_size_limits() {
    let n = small_nsqd();
    assert_ok(&post(&n, "/pub?topic=sizes", &[b'a'; 100]));
    assert_error(
        &post(&n, "/pub?topic=sizes", &[b'a'; 101]),
        413,
        "MSG_TOO_BIG",
    );
    // Without Content-Length the limit is found by reading max+1 bytes.
    assert_ok(&post_chunked(&n, "/pub?topic=sizes", &[b'b'; 100]));
    assert_error(
        &post_chunked(&n, "/pub?topic=sizes", &[b'b'; 101]),
        413,
        "MSG_TOO_BIG",
    );
    assert_error(&post(&n, "/pub?topic=sizes", b""), 400, "MSG_EMPTY");
    assert_eq!(topic_count(&n, "sizes"), 2);
}

#[test]
fn pub_checks_the_body_before_the_topic() {
    let n = small_nsqd();
    assert_error(&post(&n, "/pub", &[b'a'; 101]), 413, "MSG_TOO_BIG");
    assert_error(&post(&n, "/pub?topic=bad!", b""), 400, "MSG_EMPTY");
    assert_error(&post(&n, "/pub", b"x"), 400, "MISSING_ARG_TOPIC");
    assert_error(&post(&n, "/pub?channel=c", b"x"), 400, "MISSING_ARG_TOPIC");
    assert_error(&post(&n, "/pub?topic=bad!", b"x"), 400, "INVALID_TOPIC");
    assert_error(&post(&n, "/pub?topic=", b"x"), 400, "INVALID_TOPIC");
    let long = "t".repeat(65);
    assert_error(
        &post(&n, &format!("/pub?topic={long}"), b"x"),
        400,
        "INVALID_TOPIC",
    );
    assert_error(&post(&n, "/pub?topic=%zz", b"x"), 400, "INVALID_REQUEST");
    assert_eq!(topic_names(&n), Vec::<String>::new());
    // 64 bytes including the #ephemeral suffix is still a valid name.
    let eph = format!("{}%23ephemeral", "e".repeat(54));
    assert_ok(&post(&n, &format!("/pub?topic={eph}"), b"x"));
}

#[test]
fn pub_uses_the_first_of_repeated_parameters() {
    let n = Nsqd::start();
    assert_ok(&post(&n, "/pub?topic=first&topic=second", b"x"));
    assert_eq!(topic_names(&n), ["first"]);
}

#[test]
fn pub_defer_is_validated_after_the_topic_is_created() {
    let n = Nsqd::start();
    for bad in ["abc", "-1", "1.5", "", "3600001"] {
        let r = post(&n, &format!("/pub?topic=dq&defer={bad}"), b"x");
        assert_error(&r, 400, "INVALID_DEFER");
    }
    // QRK-03: the failed publishes left the (empty) topic behind.
    assert_eq!(topic_count(&n, "dq"), 0);
    assert_ok(&post(&n, "/pub?topic=dq&defer=3600000", b"x"));
    assert_ok(&post(&n, "/pub?topic=dq&defer=0", b"x"));
    assert_eq!(topic_count(&n, "dq"), 2);
}

#[test]
fn pub_defer_is_bounded_by_max_req_timeout() {
    let n = Nsqd::start_with(&["--max-req-timeout=10s"]);
    assert_ok(&post(&n, "/pub?topic=dq&defer=10000", b"x"));
    assert_error(
        &post(&n, "/pub?topic=dq&defer=10001", b"x"),
        400,
        "INVALID_DEFER",
    );
}

#[test]
fn pub_defer_holds_the_message_in_the_channel() {
    let n = Nsqd::start();
    assert_empty_ok(&post(&n, "/topic/create?topic=dt", b""));
    assert_empty_ok(&post(&n, "/channel/create?topic=dt&channel=ch", b""));
    assert_ok(&post(&n, "/pub?topic=dt&defer=600000", b"later"));
    assert!(wait_until(WAIT, || {
        let s = stats(&n, "");
        stats_channel(&s, "dt", "ch").unwrap()["deferred_count"] == 1
    }));
    let s = stats(&n, "");
    let ch = stats_channel(&s, "dt", "ch").unwrap();
    assert_eq!(
        (ch["depth"].as_u64(), ch["message_count"].as_u64()),
        (Some(0), Some(1))
    );
}

// ---- H-023 /mpub ------------------------------------------------------------------------

#[test]
fn mpub_text_mode_puts_one_message_per_line_in_order() {
    let n = small_nsqd();
    assert_ok(&post(&n, "/mpub?topic=mt", b"one\ntwo\n\nthree"));
    let mut c = n.consumer("mt", "ch", 10);
    let got: Vec<Vec<u8>> = (0..3).map(|_| c.read_message().body).collect();
    assert_eq!(got, [&b"one"[..], b"two", b"three"]);
    let s = stats(&n, "");
    let t = stats_topic(&s, "mt").unwrap();
    assert_eq!(
        (t["message_count"].as_u64(), t["message_bytes"].as_u64()),
        (Some(3), Some(11))
    );
}

#[test]
fn mpub_text_mode_empty_body_puts_nothing() {
    let n = small_nsqd();
    assert_ok(&post(&n, "/mpub?topic=me", b""));
    assert_ok(&post(&n, "/mpub?topic=me&binary=false", b"\n\n\n"));
    assert_eq!(topic_count(&n, "me"), 0);
}

#[test]
fn mpub_text_mode_size_limits() {
    let n = small_nsqd();
    let mut line_ok = vec![b'a'; 100];
    line_ok.push(b'\n');
    assert_ok(&post(&n, "/mpub?topic=ml", &line_ok));
    let mut too_long = vec![b'b'; 101];
    too_long.push(b'\n');
    assert_error(&post(&n, "/mpub?topic=ml", &too_long), 413, "MSG_TOO_BIG");

    // Exactly max-body-size: ten 99-byte lines and their newlines.
    let mut full = Vec::new();
    for _ in 0..10 {
        full.extend_from_slice(&[b'c'; 99]);
        full.push(b'\n');
    }
    assert_eq!(full.len(), 1000);
    assert_ok(&post(&n, "/mpub?topic=ml", &full));
    full.push(b'd');
    assert_error(&post(&n, "/mpub?topic=ml", &full), 413, "BODY_TOO_BIG");
    // The Content-Length check comes before the topic checks...
    assert_error(&post(&n, "/mpub", &full), 413, "BODY_TOO_BIG");
    // ...and without Content-Length the reader notices max+1 bytes.
    assert_error(
        &post_chunked(&n, "/mpub?topic=ml", &full),
        413,
        "BODY_TOO_BIG",
    );
    assert_eq!(topic_count(&n, "ml"), 11);
}

#[test]
fn mpub_topic_errors() {
    let n = small_nsqd();
    assert_error(&post(&n, "/mpub", b"a\nb"), 400, "MISSING_ARG_TOPIC");
    assert_error(&post(&n, "/mpub?topic=bad!", b"a\nb"), 400, "INVALID_TOPIC");
    assert_error(
        &post(&n, "/mpub?topic=%zz", b"a\nb"),
        400,
        "INVALID_REQUEST",
    );
    assert_eq!(topic_names(&n), Vec::<String>::new());
}

#[test]
fn mpub_binary_parameter_values() {
    let n = small_nsqd();
    let body = mpub_body(&[b"abc", b"de"]);
    // `true`, `1` and anything unrecognised (even empty) mean binary (QRK-08).
    for (query, binary) in [
        ("binary=true", true),
        ("binary=1", true),
        ("binary", true),
        ("binary=", true),
        ("binary=yes", true),
        ("binary=false", false),
        ("binary=0", false),
        ("x=1", false),
    ] {
        let topic = format!("b{}", query.replace(['=', '.'], "_"));
        assert_ok(&post(&n, &format!("/mpub?topic={topic}&{query}"), &body));
        // The binary body has no newline, so text mode takes it as one message.
        let want = if binary { 2 } else { 1 };
        assert_eq!(topic_count(&n, &topic), want, "{query}");
    }
    let mut c = n.consumer("bbinary_true", "ch", 5);
    assert_eq!(c.read_message().body, b"abc");
    assert_eq!(c.read_message().body, b"de");
}

#[test]
fn mpub_binary_mode_errors_are_413_with_the_tcp_code() {
    let n = small_nsqd();
    let count = |c: u32| c.to_be_bytes().to_vec();
    let frame = |size: u32, body: &[u8]| {
        let mut v = size.to_be_bytes().to_vec();
        v.extend_from_slice(body);
        v
    };
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"ab".to_vec(), "BAD_BODY"),
        (count(0), "BAD_BODY"),
        // More messages than (max_body_size - 4) / 5 = 199 could ever fit.
        ([count(200), frame(1, b"x")].concat(), "BAD_BODY"),
        ([count(1), frame(0, b"")].concat(), "BAD_MESSAGE"),
        ([count(1), frame(101, &[b'x'; 101])].concat(), "BAD_MESSAGE"),
        ([count(1), frame(10, b"short")].concat(), "BAD_MESSAGE"),
        ([count(2), frame(1, b"x")].concat(), "BAD_MESSAGE"),
        ([count(1), vec![0, 0]].concat(), "BAD_MESSAGE"),
    ];
    for (body, code) in &cases {
        let r = post(&n, "/mpub?topic=mb&binary=true", body);
        assert_error(&r, 413, code);
    }
    // QRK-03: the topic was created before the body was rejected; nothing was put.
    assert_eq!(topic_count(&n, "mb"), 0);
    assert_ok(&post(
        &n,
        "/mpub?topic=mb&binary=true",
        &mpub_body(&[&[b'y'; 100]]),
    ));
    assert_eq!(topic_count(&n, "mb"), 1);
}

// ---- H-024..H-027 topic routes ----------------------------------------------------------

#[test]
fn topic_create() {
    let n = Nsqd::start();
    assert_empty_ok(&post(&n, "/topic/create?topic=tc", b""));
    assert_empty_ok(&post(&n, "/topic/create?topic=tc", b""));
    let s = stats(&n, "");
    let t = stats_topic(&s, "tc").unwrap();
    assert_eq!(t["channels"], json!([]));
    assert_eq!(t["message_count"], 0);
    assert_error(&post(&n, "/topic/create", b""), 400, "MISSING_ARG_TOPIC");
    assert_error(
        &post(&n, "/topic/create?topic=bad!", b""),
        400,
        "INVALID_TOPIC",
    );
    assert_error(&post(&n, "/topic/create?topic=", b""), 400, "INVALID_TOPIC");
    assert_error(
        &post(&n, "/topic/create?topic=%zz", b""),
        400,
        "INVALID_REQUEST",
    );
    assert_eq!(topic_names(&n), ["tc"]);
}

#[test]
fn topic_delete() {
    let n = Nsqd::start();
    assert_empty_ok(&post(&n, "/topic/create?topic=td", b""));
    assert_error(&post(&n, "/topic/delete", b""), 400, "MISSING_ARG_TOPIC");
    assert_error(
        &post(&n, "/topic/delete?topic=%zz", b""),
        400,
        "INVALID_REQUEST",
    );
    // The name is not validated: unknown and invalid names alike are not found.
    assert_error(
        &post(&n, "/topic/delete?topic=nosuch", b""),
        404,
        "TOPIC_NOT_FOUND",
    );
    assert_error(
        &post(&n, "/topic/delete?topic=bad!", b""),
        404,
        "TOPIC_NOT_FOUND",
    );
    assert_empty_ok(&post(&n, "/topic/delete?topic=td", b""));
    assert_eq!(stats(&n, "&topic=td")["topics"], Value::Null);
    assert_error(
        &post(&n, "/topic/delete?topic=td", b""),
        404,
        "TOPIC_NOT_FOUND",
    );
}

#[test]
fn topic_empty() {
    let n = Nsqd::start();
    // No channels: the topic keeps its messages.
    assert_ok(&post(&n, "/mpub?topic=te", b"a\nb\nc"));
    assert_eq!(stats_topic(&stats(&n, ""), "te").unwrap()["depth"], 3);
    assert_error(&post(&n, "/topic/empty", b""), 400, "MISSING_ARG_TOPIC");
    assert_error(
        &post(&n, "/topic/empty?topic=bad!", b""),
        400,
        "INVALID_TOPIC",
    );
    assert_error(
        &post(&n, "/topic/empty?topic=nosuch", b""),
        404,
        "TOPIC_NOT_FOUND",
    );
    assert_error(
        &post(&n, "/topic/empty?topic=%zz", b""),
        400,
        "INVALID_REQUEST",
    );
    assert_empty_ok(&post(&n, "/topic/empty?topic=te", b""));
    let s = stats(&n, "");
    let t = stats_topic(&s, "te").unwrap();
    assert_eq!(
        (t["depth"].as_u64(), t["backend_depth"].as_u64()),
        (Some(0), Some(0))
    );
}

#[test]
fn topic_pause_and_unpause() {
    let n = Nsqd::start();
    assert_error(&post(&n, "/topic/pause", b""), 400, "MISSING_ARG_TOPIC");
    assert_error(
        &post(&n, "/topic/unpause?topic=%zz", b""),
        400,
        "INVALID_REQUEST",
    );
    assert_error(
        &post(&n, "/topic/pause?topic=nosuch", b""),
        404,
        "TOPIC_NOT_FOUND",
    );
    assert_error(
        &post(&n, "/topic/unpause?topic=bad!", b""),
        404,
        "TOPIC_NOT_FOUND",
    );

    assert_empty_ok(&post(&n, "/topic/create?topic=tp", b""));
    assert_empty_ok(&post(&n, "/channel/create?topic=tp&channel=ch", b""));
    assert_empty_ok(&post(&n, "/topic/pause?topic=tp", b""));
    // The handler writes nsqd.dat before answering.
    assert_eq!(metadata_topic(&n, "tp")["paused"], true);
    assert_ok(&post(&n, "/mpub?topic=tp", b"a\nb"));
    let s = stats(&n, "");
    let t = stats_topic(&s, "tp").unwrap();
    assert_eq!(
        (t["paused"].as_bool(), t["depth"].as_u64()),
        (Some(true), Some(2))
    );
    assert_eq!(stats_channel(&s, "tp", "ch").unwrap()["depth"], 0);

    assert_empty_ok(&post(&n, "/topic/unpause?topic=tp", b""));
    assert_eq!(metadata_topic(&n, "tp")["paused"], false);
    assert!(wait_until(WAIT, || {
        let s = stats(&n, "");
        stats_channel(&s, "tp", "ch").unwrap()["depth"] == 2
    }));
    let s = stats(&n, "");
    let t = stats_topic(&s, "tp").unwrap();
    assert_eq!(
        (t["paused"].as_bool(), t["depth"].as_u64()),
        (Some(false), Some(0))
    );
}

// ---- H-028 channel routes ---------------------------------------------------------------

#[test]
fn channel_routes_argument_errors_use_arg_spelling() {
    let n = Nsqd::start();
    assert_empty_ok(&post(&n, "/topic/create?topic=t", b""));
    for route in ["create", "delete", "empty", "pause", "unpause"] {
        let p = |q: &str| post(&n, &format!("/channel/{route}{q}"), b"");
        assert_error(&p(""), 400, "MISSING_ARG_TOPIC");
        assert_error(&p("?channel=c"), 400, "MISSING_ARG_TOPIC");
        assert_error(&p("?topic=bad!&channel=c"), 400, "INVALID_ARG_TOPIC");
        // Arguments are checked before the topic is looked up.
        assert_error(&p("?topic=nosuch"), 400, "MISSING_ARG_CHANNEL");
        assert_error(&p("?topic=t"), 400, "MISSING_ARG_CHANNEL");
        assert_error(&p("?topic=t&channel=bad!"), 400, "INVALID_ARG_CHANNEL");
        assert_error(&p("?topic=t&channel="), 400, "INVALID_ARG_CHANNEL");
        assert_error(&p("?topic=%zz&channel=c"), 400, "INVALID_REQUEST");
        assert_error(&p("?topic=nosuch&channel=c"), 404, "TOPIC_NOT_FOUND");
        if route != "create" {
            assert_error(&p("?topic=t&channel=nosuch"), 404, "CHANNEL_NOT_FOUND");
        }
    }
    // Nothing above created a topic or a channel.
    assert_eq!(topic_names(&n), ["t"]);
    assert_eq!(
        stats_topic(&stats(&n, ""), "t").unwrap()["channels"],
        json!([])
    );
}

#[test]
fn channel_create_and_delete() {
    let n = Nsqd::start();
    assert_empty_ok(&post(&n, "/topic/create?topic=t", b""));
    assert_empty_ok(&post(&n, "/channel/create?topic=t&channel=c1", b""));
    assert_empty_ok(&post(&n, "/channel/create?topic=t&channel=c1", b""));
    assert_empty_ok(&post(
        &n,
        "/channel/create?topic=t&channel=c0%23ephemeral",
        b"",
    ));
    let names = |s: &Value| -> Vec<String> {
        stats_topic(s, "t").unwrap()["channels"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["channel_name"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(names(&stats(&n, "")), ["c0#ephemeral", "c1"]);
    assert_empty_ok(&post(&n, "/channel/delete?topic=t&channel=c1", b""));
    assert_eq!(names(&stats(&n, "")), ["c0#ephemeral"]);
    assert_error(
        &post(&n, "/channel/delete?topic=t&channel=c1", b""),
        404,
        "CHANNEL_NOT_FOUND",
    );
}

#[test]
fn channel_delete_closes_its_consumers() {
    let n = Nsqd::start();
    let mut c = n.consumer("t", "ch", 1);
    assert_empty_ok(&post(&n, "/channel/delete?topic=t&channel=ch", b""));
    c.expect_closed(WAIT);
}

#[test]
fn channel_empty_drops_queued_and_in_flight_messages() {
    let n = Nsqd::start();
    let mut c = n.consumer("t", "ch", 1);
    assert_ok(&post(&n, "/mpub?topic=t", b"a\nb\nc"));
    c.read_message();
    assert!(wait_until(WAIT, || {
        let s = stats(&n, "");
        let ch = stats_channel(&s, "t", "ch").unwrap();
        ch["depth"] == 2 && ch["in_flight_count"] == 1
    }));
    assert_empty_ok(&post(&n, "/channel/empty?topic=t&channel=ch", b""));
    let s = stats(&n, "");
    let ch = stats_channel(&s, "t", "ch").unwrap();
    assert_eq!(
        (ch["depth"].as_u64(), ch["in_flight_count"].as_u64()),
        (Some(0), Some(0))
    );
    assert_eq!(ch["clients"][0]["in_flight_count"], 0);
}

#[test]
fn channel_pause_and_unpause() {
    let n = Nsqd::start();
    let mut c = n.consumer("t", "ch", 5);
    assert_empty_ok(&post(&n, "/channel/pause?topic=t&channel=ch", b""));
    let md = metadata_topic(&n, "t");
    assert_eq!(md["channels"], json!([{"name": "ch", "paused": true}]));
    assert_ok(&post(&n, "/mpub?topic=t", b"a\nb"));
    assert!(wait_until(WAIT, || {
        let s = stats(&n, "");
        stats_channel(&s, "t", "ch").unwrap()["depth"] == 2
    }));
    let s = stats(&n, "");
    let ch = stats_channel(&s, "t", "ch").unwrap();
    assert_eq!(
        (ch["paused"].as_bool(), ch["in_flight_count"].as_u64()),
        (Some(true), Some(0))
    );

    assert_empty_ok(&post(&n, "/channel/unpause?topic=t&channel=ch", b""));
    assert_eq!(metadata_topic(&n, "t")["channels"][0]["paused"], false);
    let mut got = vec![c.read_message().body, c.read_message().body];
    got.sort();
    assert_eq!(got, [b"a", b"b"]);
}

// ---- H-029, H-040..H-047 /stats JSON ------------------------------------------------------

const MEMORY_KEYS: [&str; 9] = [
    "heap_objects",
    "heap_idle_bytes",
    "heap_in_use_bytes",
    "heap_released_bytes",
    "gc_pause_usec_100",
    "gc_pause_usec_99",
    "gc_pause_usec_95",
    "next_gc_bytes",
    "gc_total_runs",
];

#[test]
fn stats_json_of_an_empty_nsqd() {
    let before = unix_now();
    let n = Nsqd::start();
    let s = stats(&n, "");
    assert_eq!(
        keys(&s),
        [
            "version",
            "health",
            "start_time",
            "topics",
            "memory",
            "producers"
        ]
    );
    assert_eq!(s["version"], "1.3.0");
    assert_eq!(s["health"], "OK");
    let start = s["start_time"].as_u64().unwrap();
    assert!((before..=unix_now()).contains(&start));
    assert_eq!(s["topics"], json!([]));
    assert_eq!(s["producers"], Value::Null);
    assert_eq!(keys(&s["memory"]), MEMORY_KEYS);
    for k in MEMORY_KEYS {
        assert!(s["memory"][k].is_u64(), "memory.{k} = {}", s["memory"][k]);
    }
    // H-008: the old Accept header changes nothing.
    let r = http_with_headers(
        n.http_addr,
        "GET",
        "/stats?format=json",
        &[("Accept", "application/vnd.nsq; version=1.0")],
        b"",
    );
    assert_eq!(keys(&assert_json(&r)), keys(&s));
}

#[test]
fn stats_include_mem_and_include_clients() {
    let n = Nsqd::start();
    let _consumer = n.consumer("t", "ch", 0);
    let mut producer = n.conn();
    producer.publish("t", b"x");

    for q in ["&include_mem=false", "&include_mem=0"] {
        assert_eq!(
            keys(&stats(&n, q)),
            ["version", "health", "start_time", "topics", "producers"]
        );
    }
    for q in ["&include_mem=true", "&include_mem=1", "&include_mem=bogus"] {
        assert_eq!(keys(&stats(&n, q))[4], "memory", "{q}");
    }
    for q in ["&include_clients=false", "&include_clients=0"] {
        let s = stats(&n, q);
        let ch = stats_channel(&s, "t", "ch").unwrap();
        assert_eq!(
            (&ch["clients"], ch["client_count"].as_u64()),
            (&Value::Null, Some(1)),
            "{q}"
        );
        assert_eq!(s["producers"], Value::Null, "{q}");
    }
    for q in [
        "&include_clients=true",
        "&include_clients=1",
        "&include_clients=bogus",
        "",
    ] {
        let s = stats(&n, q);
        assert_eq!(
            stats_channel(&s, "t", "ch").unwrap()["clients"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
        assert_eq!(s["producers"].as_array().unwrap().len(), 1, "{q}");
    }
}

#[test]
fn stats_topic_and_channel_filters_and_sorting() {
    let n = Nsqd::start();
    for t in ["tb", "ta", "tc"] {
        assert_empty_ok(&post(&n, &format!("/topic/create?topic={t}"), b""));
    }
    for c in ["c2", "c1", "c3"] {
        assert_empty_ok(&post(
            &n,
            &format!("/channel/create?topic=ta&channel={c}"),
            b"",
        ));
    }
    assert_eq!(topic_names(&n), ["ta", "tb", "tc"]);
    let channels = |s: &Value| -> Vec<String> {
        s["topics"][0]["channels"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["channel_name"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(channels(&stats(&n, "")), ["c1", "c2", "c3"]);

    assert_eq!(stats(&n, "&topic=nosuch")["topics"], Value::Null);
    let s = stats(&n, "&topic=tb");
    assert_eq!(s["topics"].as_array().unwrap().len(), 1);
    assert_eq!(s["topics"][0]["topic_name"], "tb");
    let s = stats(&n, "&topic=ta&channel=c2");
    assert_eq!(channels(&s), ["c2"]);
    // A channel filter that matches nothing skips the topic.
    assert_eq!(stats(&n, "&topic=ta&channel=nosuch")["topics"], json!([]));
    assert_eq!(
        stats(&n, "&channel=c3")["topics"].as_array().unwrap().len(),
        1
    );
}

const CLIENT_KEYS: [&str; 22] = [
    "client_id",
    "hostname",
    "version",
    "remote_address",
    "state",
    "ready_count",
    "in_flight_count",
    "message_count",
    "finish_count",
    "requeue_count",
    "connect_ts",
    "sample_rate",
    "deflate",
    "snappy",
    "user_agent",
    "topology_zone",
    "topology_region",
    "tls",
    "tls_cipher_suite",
    "tls_version",
    "tls_negotiated_protocol",
    "tls_negotiated_protocol_is_mutual",
];

#[test]
fn stats_json_object_keys_and_values() {
    let n = Nsqd::start();
    let consumer = identified_consumer(&n, "ko", "ch");
    let mut producer = n.conn();
    producer.publish("ko", b"abc");
    assert!(wait_until(WAIT, || {
        let s = stats(&n, "");
        stats_channel(&s, "ko", "ch").unwrap()["depth"] == 1
    }));
    let s = stats(&n, "");

    let t = stats_topic(&s, "ko").unwrap();
    assert_eq!(
        keys(t),
        [
            "topic_name",
            "channels",
            "depth",
            "backend_depth",
            "message_count",
            "message_bytes",
            "paused",
            "e2e_processing_latency",
        ]
    );
    assert_eq!(
        (
            t["depth"].as_u64(),
            t["message_count"].as_u64(),
            t["message_bytes"].as_u64()
        ),
        (Some(0), Some(1), Some(3))
    );
    assert_eq!(t["paused"], false);
    assert_eq!(
        t["e2e_processing_latency"],
        json!({"count": 0, "percentiles": null})
    );

    let ch = stats_channel(&s, "ko", "ch").unwrap();
    assert_eq!(
        keys(ch),
        [
            "channel_name",
            "depth",
            "backend_depth",
            "in_flight_count",
            "deferred_count",
            "message_count",
            "requeue_count",
            "timeout_count",
            "client_count",
            "clients",
            "paused",
            "e2e_processing_latency",
        ]
    );
    assert_eq!(ch["message_count"], 1);
    assert_eq!(ch["client_count"], 1);
    assert_eq!(
        ch["e2e_processing_latency"],
        json!({"count": 0, "percentiles": null})
    );

    let client = &ch["clients"][0];
    assert_eq!(keys(client), CLIENT_KEYS);
    let port = consumer.local_addr().port();
    assert_eq!(client["client_id"], "cid");
    assert_eq!(client["hostname"], "conshost");
    assert_eq!(client["version"], "V2");
    assert_eq!(client["remote_address"], format!("127.0.0.1:{port}"));
    assert_eq!(client["state"], 3);
    assert_eq!(client["ready_count"], 0);
    assert_eq!(client["user_agent"], "ua/1.0");
    assert_eq!(
        (client["deflate"].as_bool(), client["snappy"].as_bool()),
        (Some(false), Some(false))
    );
    assert_eq!(client["tls"], false);

    // A producer that never sent IDENTIFY: its id and hostname are its IP; pub_counts sits
    // between topology_region and tls.
    let producers = s["producers"].as_array().unwrap();
    assert_eq!(producers.len(), 1);
    let p = &producers[0];
    let mut want: Vec<&str> = CLIENT_KEYS.to_vec();
    want.insert(17, "pub_counts");
    assert_eq!(keys(p), want);
    assert_eq!(p["client_id"], "127.0.0.1");
    assert_eq!(p["hostname"], "127.0.0.1");
    assert_eq!(
        p["remote_address"],
        format!("127.0.0.1:{}", producer.local_addr().port())
    );
    assert_eq!(p["state"], 0);
    assert_eq!(p["pub_counts"], json!([{"topic": "ko", "count": 1}]));
}

/// BEH-183: `global_msg_count` counts messages taken from memory even with the topology
/// experiment off, so it shows up (between message_count and requeue_count) once non-zero.
#[test]
fn stats_channel_global_msg_count_appears_after_delivery() {
    let n = Nsqd::start();
    let mut c = n.consumer("g", "ch", 1);
    assert_ok(&post(&n, "/pub?topic=g", b"x"));
    c.read_message();
    let s = stats(&n, "");
    let ch = stats_channel(&s, "g", "ch").unwrap();
    assert_eq!(
        &keys(ch)[5..8],
        ["message_count", "global_msg_count", "requeue_count"]
    );
    assert_eq!(ch["global_msg_count"], 1);
    // The per-client counterpart is never incremented, so it stays out (QRK-10).
    assert_eq!(keys(&ch["clients"][0]), CLIENT_KEYS);
}

// ---- H-050..H-053 /stats text -------------------------------------------------------------

/// Checks the head of the text stats (version, start_time, uptime, health, memory) and
/// returns the remaining lines.
#[track_caller]
fn text_stats_tail(r: &HttpResponse, with_memory: bool) -> Vec<String> {
    assert_eq!(r.status, 200);
    assert_eq!(r.header("Content-Type"), Some(TEXT_TYPE));
    assert_eq!(r.header("X-NSQ-Content-Type"), Some(NSQ_HEADER));
    let text = r.text();
    let lines: Vec<String> = text.lines().map(str::to_string).collect();
    let version = Regex::new(r"^nsqd v1\.3\.0 \(built w/\S+\)$").unwrap();
    assert!(version.is_match(&lines[0]), "{:?}", lines[0]);
    let start =
        Regex::new(r"^start_time \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)$").unwrap();
    assert!(start.is_match(&lines[1]), "{:?}", lines[1]);
    let uptime = Regex::new(r"^uptime (\d+h)?(\d+m)?\d+(\.\d+)?(ns|µs|ms|s)$").unwrap();
    assert!(uptime.is_match(&lines[2]), "{:?}", lines[2]);
    assert_eq!(lines[3..5], ["", "Health: OK"]);
    let mut rest = lines[5..].to_vec();
    if with_memory {
        assert_eq!(rest[..2], ["", "Memory:"]);
        for (line, key) in rest[2..11].iter().zip(MEMORY_KEYS) {
            let prefix = format!("   {key:<25}\t");
            let value = line
                .strip_prefix(&prefix)
                .unwrap_or_else(|| panic!("{line:?}"));
            assert!(value.parse::<u64>().is_ok(), "{line:?}");
        }
        rest.drain(..11);
    }
    rest
}

#[test]
fn stats_text_of_an_empty_nsqd() {
    let n = Nsqd::start();
    for path in ["/stats", "/stats?format=text", "/stats?format=bogus"] {
        let rest = text_stats_tail(&http_get(n.http_addr, path), true);
        assert_eq!(rest, ["", "Topics: None", "", "Producers: None"], "{path}");
    }
    let rest = text_stats_tail(&http_get(n.http_addr, "/stats?include_mem=false"), false);
    assert_eq!(rest, ["", "Topics: None", "", "Producers: None"]);
}

#[test]
fn stats_text_topics_channels_consumers_and_producers() {
    let n = Nsqd::start();
    let mut producer = n.conn();
    producer.publish("textt", b"m1");
    producer.publish("textt", b"m2");
    let mut consumer = identified_consumer(&n, "textt", "ch");
    consumer.rdy(1);
    consumer.read_message();
    assert!(wait_until(WAIT, || {
        let s = stats(&n, "");
        let ch = stats_channel(&s, "textt", "ch").unwrap();
        ch["depth"] == 1 && ch["in_flight_count"] == 1
    }));
    assert_empty_ok(&post(&n, "/topic/create?topic=empty", b""));

    let rest = text_stats_tail(&http_get(n.http_addr, "/stats?include_mem=false"), false);
    let consumer_id = format!("conshost:{} ua/1.0", consumer.local_addr().port());
    let producer_id = format!("127.0.0.1:{} ", producer.local_addr().port());
    let want_fixed = [
        "".to_string(),
        "Topics:".to_string(),
        format!(
            "   [{:<15}] depth: {:<5} be-depth: {:<5} msgs: {:<8} e2e%: ",
            "empty", 0, 0, 0
        ),
        "".to_string(),
        format!(
            "   [{:<15}] depth: {:<5} be-depth: {:<5} msgs: {:<8} e2e%: ",
            "textt", 0, 0, 2
        ),
        format!(
            "      [{:<25}] depth: {:<5} be-depth: {:<5} inflt: {:<4} def: {:<4} re-q: {:<5} \
             timeout: {:<5} msgs: {:<8} e2e%: ",
            "ch", 1, 0, 1, 0, 0, 0, 2
        ),
    ];
    assert_eq!(rest[..6], want_fixed);
    let consumer_line = format!(
        "        [V2 {consumer_id:<21}] state: 3 inflt: {:<4} rdy: {:<4} fin: {:<8} re-q: {:<8} \
         msgs: {:<8} connected: ",
        1, 1, 0, 0, 1
    );
    let connected = Regex::new(r"^\d+s$").unwrap();
    let tail = rest[6]
        .strip_prefix(&consumer_line)
        .unwrap_or_else(|| panic!("{:?}", rest[6]));
    assert!(connected.is_match(tail), "{:?}", rest[6]);
    assert_eq!(rest[7..9], ["", "Producers:"]);
    let producer_line = format!(
        "   [V2 {producer_id:<21}] msgs: {:<8} topics: textt=2 connected: ",
        2
    );
    let tail = rest[9]
        .strip_prefix(&producer_line)
        .unwrap_or_else(|| panic!("{:?}", rest[9]));
    assert!(connected.is_match(tail), "{:?}", rest[9]);
    assert_eq!(rest.len(), 10, "{rest:#?}");

    // Paused topics and channels are marked `*P`.
    assert_empty_ok(&post(&n, "/topic/pause?topic=textt", b""));
    assert_empty_ok(&post(&n, "/channel/pause?topic=textt&channel=ch", b""));
    let rest = text_stats_tail(
        &http_get(
            n.http_addr,
            "/stats?include_mem=false&topic=textt&include_clients=false",
        ),
        false,
    );
    let topic_prefix = format!("*P [{:<15}] depth: ", "textt");
    let channel_prefix = format!("   *P [{:<25}] depth: ", "ch");
    assert!(rest[2].starts_with(&topic_prefix), "{:?}", rest[2]);
    assert!(rest[3].starts_with(&channel_prefix), "{:?}", rest[3]);
    assert_eq!(rest[4..], ["", "Producers: None"]);
}

// ---- H-060..H-062 /config -----------------------------------------------------------------

#[track_caller]
fn config_json(n: &Nsqd, opt: &str) -> String {
    let r = http_get(n.http_addr, &format!("/config/{opt}"));
    assert_json(&r);
    r.text()
}

#[track_caller]
fn config_raw(n: &Nsqd, opt: &str) -> String {
    let r = http_get(n.http_addr, &format!("/config/{opt}"));
    assert_eq!(r.status, 200, "{opt}: {}", r.text());
    assert_eq!(r.header("X-NSQ-Content-Type"), Some(NSQ_HEADER));
    assert_ne!(
        r.header("Content-Type"),
        Some(JSON_TYPE),
        "{opt} must not be JSON-quoted"
    );
    r.text()
}

#[test]
fn config_get_value_encodings() {
    let n = Nsqd::start_with(&[
        "--max-msg-size=100",
        "--broadcast-address=127.0.0.1",
        "--broadcast-http-port=4151",
        "--node-id=7",
        "--e2e-processing-latency-percentile=0.99,0.5",
    ]);
    // Numbers and durations (ns) are JSON numbers; log_level is its number (INFO = 2).
    assert_eq!(config_json(&n, "max_msg_size"), "100");
    assert_eq!(config_json(&n, "msg_timeout"), "60000000000");
    assert_eq!(config_json(&n, "max_req_timeout"), "3600000000000");
    assert_eq!(config_json(&n, "mem_queue_size"), "10000");
    assert_eq!(config_json(&n, "id"), "7");
    assert_eq!(config_json(&n, "log_level"), "2");
    assert_eq!(config_json(&n, "tls_min_version"), "769");
    // Bools and lists.
    assert_eq!(config_json(&n, "deflate"), "true");
    assert_eq!(config_json(&n, "statsd_exclude_ephemeral"), "false");
    assert_eq!(config_json(&n, "nsqlookupd_tcp_addresses"), "[]");
    assert_eq!(config_json(&n, "auth_http_addresses"), "[]");
    assert_eq!(config_json(&n, "enable_experiment"), "[]");
    assert_eq!(
        config_json(&n, "e2e_processing_latency_percentiles"),
        "[0.99,0.5]"
    );
    // Strings come back raw, not JSON-quoted.
    assert_eq!(config_raw(&n, "broadcast_address"), "127.0.0.1");
    assert_eq!(config_raw(&n, "log_prefix"), "[nsqd] ");
    assert_eq!(
        config_raw(&n, "data_path"),
        n.data_dir.path().display().to_string()
    );
    assert_eq!(config_raw(&n, "http_address"), "127.0.0.1:0");
    assert_eq!(config_raw(&n, "auth_http_request_method"), "get");
    // BEH-132: the prefix as computed from the broadcast address and HTTP port.
    assert_eq!(config_raw(&n, "statsd_prefix"), "nsq.127_0_0_1_4151.");
}

#[test]
fn config_get_unknown_option() {
    let n = Nsqd::start();
    for opt in [
        "nope",
        "config",
        "verbose",
        "version",
        "worker_id",
        "node_id",
        "max-msg-size",
        "queue_scan_interval",
        "client_timeout",
    ] {
        let r = http_get(n.http_addr, &format!("/config/{opt}"));
        assert_error(&r, 400, "INVALID_OPTION");
    }
}

#[test]
fn config_put_log_level() {
    let n = Nsqd::start();
    let put = |body: &[u8]| http(n.http_addr, "PUT", "/config/log_level", body);
    let r = put(b"debug");
    assert_eq!(assert_json(&r), json!(1));
    assert_eq!(config_json(&n, "log_level"), "1");
    assert_eq!(assert_json(&put(b"warn")), json!(3));
    assert_eq!(assert_json(&put(b"error")), json!(4));
    assert_error(&put(b"bogus"), 400, "INVALID_VALUE");
    assert_eq!(config_json(&n, "log_level"), "4");
}

#[test]
fn config_put_nsqlookupd_tcp_addresses() {
    let n = Nsqd::start();
    let put = |body: &[u8]| http(n.http_addr, "PUT", "/config/nsqlookupd_tcp_addresses", body);
    // Nothing listens on port 1: nsqd only tries (and fails) to connect on loopback.
    let r = put(br#"["127.0.0.1:1"]"#);
    assert_eq!(assert_json(&r), json!(["127.0.0.1:1"]));
    assert_eq!(
        config_json(&n, "nsqlookupd_tcp_addresses"),
        r#"["127.0.0.1:1"]"#
    );
    for bad in [&b"not json"[..], br#""127.0.0.1:1""#, b"[1]"] {
        assert_error(&put(bad), 400, "INVALID_VALUE");
    }
    assert_eq!(assert_json(&put(b"[]")), json!([]));
    assert_eq!(config_json(&n, "nsqlookupd_tcp_addresses"), "[]");
}

#[test]
fn config_put_errors_check_the_body_first() {
    let n = small_nsqd();
    let put = |opt: &str, body: &[u8]| http(n.http_addr, "PUT", &format!("/config/{opt}"), body);
    assert_error(&put("log_level", b""), 413, "INVALID_VALUE");
    assert_error(&put("log_level", &[b'a'; 101]), 413, "INVALID_VALUE");
    assert_error(&put("nope", b""), 413, "INVALID_VALUE");
    assert_error(&put("max_msg_size", b"5"), 400, "INVALID_OPTION");
    assert_error(&put("nope", b"x"), 400, "INVALID_OPTION");
    assert_eq!(config_json(&n, "max_msg_size"), "100");
}

// ---- H-070..H-072 debug routes (project decisions: adjust here if they change) ------------

#[test]
fn debug_pprof_redirects_to_its_index() {
    let n = Nsqd::start();
    let r = http_get(n.http_addr, "/debug/pprof");
    assert_eq!(r.status, 301);
    assert_eq!(r.header("Location"), Some("/debug/pprof/"));
}

#[test]
fn debug_pprof_profiles_are_not_served() {
    let n = Nsqd::start();
    for path in [
        "/debug/pprof/heap",
        "/debug/pprof/goroutine",
        "/debug/pprof/block",
        "/debug/pprof/threadcreate",
        "/debug/pprof/cmdline",
        "/debug/pprof/symbol",
        "/debug/pprof/profile",
    ] {
        assert_error(&http_get(n.http_addr, path), 404, "NOT_FOUND");
    }
}

#[test]
fn debug_setblockrate_rejects_a_non_integer_rate() {
    let n = Nsqd::start();
    let r = http(n.http_addr, "PUT", "/debug/setblockrate?rate=abc", b"");
    assert_eq!(r.status, 400);
    assert!(
        r.text().starts_with("invalid block rate : "),
        "{:?}",
        r.text()
    );
    assert_eq!(r.header("X-NSQ-Content-Type"), None);
}

/// QRK-01 as observed on the reference: a valid rate answers 500 INTERNAL_ERROR.
#[test]
fn debug_setblockrate_valid_rate_answers_internal_error() {
    let n = Nsqd::start();
    let r = http(n.http_addr, "PUT", "/debug/setblockrate?rate=1", b"");
    assert_error(&r, 500, "INTERNAL_ERROR");
}

/// H-072 as observed on the reference: 500 INTERNAL_ERROR after freeing memory.
#[test]
fn debug_freememory_answers_internal_error() {
    let n = Nsqd::start();
    assert_error(&post(&n, "/debug/freememory", b""), 500, "INTERNAL_ERROR");
}
