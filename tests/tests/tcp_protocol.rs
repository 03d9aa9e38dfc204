//! nsqd TCP protocol V2 against the real binary (spec §1.1-§1.7, §1.9-§1.14).
//!
//! Every error string is compared byte for byte with the spec. Fatal errors must be followed by
//! the server closing the socket; non-fatal ones (FIN/REQ/TOUCH) must leave it usable.

use nsq_tests::*;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const CLOSE: Duration = Duration::from_secs(5);

/// The bytes of a command line.
fn line(l: &str) -> Vec<u8> {
    format!("{l}\n").into_bytes()
}

/// A command line followed by a size field and `body`.
fn with_body(l: &str, body: &[u8]) -> Vec<u8> {
    let mut v = line(l);
    v.extend_from_slice(&(body.len() as u32).to_be_bytes());
    v.extend_from_slice(body);
    v
}

/// A command line followed by a size field only. Used where the server rejects the size, so
/// that no unread bytes are left behind (closing a socket with unread input sends a reset,
/// which could swallow the error frame).
fn with_size(l: &str, size: i32) -> Vec<u8> {
    let mut v = line(l);
    v.extend_from_slice(&size.to_be_bytes());
    v
}

/// Sends `bytes` on a fresh connection, expects exactly the error `err` and then the
/// connection to close.
fn expect_fatal(nsqd: &Nsqd, bytes: &[u8], err: &str) {
    eprintln!("case: expecting {err:?}");
    let mut c = nsqd.conn();
    c.send(bytes);
    c.expect_error(err);
    c.expect_closed(CLOSE);
}

/// Like [`expect_fatal`] but on a connection that has already subscribed to t/c.
fn expect_fatal_subscribed(nsqd: &Nsqd, line: &str, err: &str) {
    let mut c = nsqd.conn();
    c.sub("t", "c");
    c.cmd(line);
    c.expect_error(err);
    c.expect_closed(CLOSE);
}

/// Proves the connection is still open and in sync: a PUB answers OK as the next frame.
fn assert_still_open(c: &mut RawConn) {
    c.publish("still_open", b"x");
}

fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as i64
}

// §1.1 connection start

#[test]
fn bad_magic_gets_framed_e_bad_protocol_then_close() {
    // P-002
    let nsqd = Nsqd::start();
    let mut c = RawConn::connect_no_magic(nsqd.tcp_addr);
    c.send(b"  V1");
    c.expect_error("E_BAD_PROTOCOL");
    c.expect_closed(CLOSE);
}

#[test]
fn good_magic_sends_nothing_and_nop_is_silent() {
    // P-004, P-061: the first frame after magic + NOP + PUB is the PUB's OK.
    let nsqd = Nsqd::start();
    let mut c = nsqd.conn();
    c.nop();
    c.cmd_body("PUB first", b"hello");
    let frame = c.read_frame();
    assert_eq!(frame, (FRAME_RESPONSE, b"OK".to_vec()));
}

// §1.2 framing

#[test]
fn response_frame_layout_is_size_type_data() {
    // P-010: check the raw bytes, not just the decoder.
    let nsqd = Nsqd::start();
    let mut c = nsqd.conn();
    c.cmd_body("PUB layout", b"x");
    let mut raw = [0u8; 10];
    use std::io::Read;
    let mut s = c.stream().try_clone().unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.read_exact(&mut raw).unwrap();
    assert_eq!(raw, [0, 0, 0, 6, 0, 0, 0, 0, b'O', b'K']);
}

// §1.4 command-line parsing

#[test]
fn unknown_and_lowercase_commands_are_fatal() {
    // P-032
    let nsqd = Nsqd::start();
    expect_fatal(&nsqd, &line("HELLO"), "E_INVALID invalid command HELLO");
    expect_fatal(&nsqd, &line("pub t"), "E_INVALID invalid command pub");
    expect_fatal(&nsqd, &line(""), "E_INVALID invalid command ");
}

#[test]
fn trailing_cr_is_stripped() {
    // P-030
    let nsqd = Nsqd::start();
    let mut c = nsqd.conn();
    let mut bytes = b"PUB crlf\r\n".to_vec();
    bytes.extend_from_slice(&3u32.to_be_bytes());
    bytes.extend_from_slice(b"abc");
    c.send(&bytes);
    c.expect_response(b"OK");
    c.send(b"NOP\r\n");
    assert_still_open(&mut c);
}

#[test]
fn double_space_gives_empty_topic() {
    // P-031
    let nsqd = Nsqd::start();
    expect_fatal(
        &nsqd,
        &line("PUB  t"),
        "E_BAD_TOPIC PUB topic name \"\" is not valid",
    );
}

#[test]
fn command_line_longer_than_16k_closes_without_error_frame() {
    // P-034: expect_closed fails on any non-heartbeat frame.
    let nsqd = Nsqd::start();
    let mut c = nsqd.conn();
    let _ = c.try_send(&vec![b'A'; 20 * 1024]);
    c.expect_closed(CLOSE);
}

// §1.5 / §1.6 IDENTIFY and §1.7

const DEFAULT_IDENTIFY: &str = r#"{"max_rdy_count":2500,"version":"1.3.0","max_msg_timeout":900000,"msg_timeout":60000,"tls_v1":false,"deflate":false,"deflate_level":6,"max_deflate_level":6,"snappy":false,"sample_rate":0,"auth_required":false,"output_buffer_size":16384,"output_buffer_timeout":250,"topology_region":"","topology_zone":""}"#;

#[test]
fn identify_response_is_byte_exact_for_defaults() {
    // P-070
    let nsqd = Nsqd::start();
    let mut c = nsqd.conn();
    let (ft, data) = c.identify(r#"{"feature_negotiation":true}"#);
    assert_eq!(ft, FRAME_RESPONSE);
    assert_eq!(String::from_utf8_lossy(&data), DEFAULT_IDENTIFY);
    assert_still_open(&mut c);
}

#[test]
fn identify_response_reflects_client_values() {
    // P-070 with client-chosen values; deflate_level stays 6 because deflate is off.
    let nsqd = Nsqd::start();
    let mut c = nsqd.conn();
    let (ft, data) = c.identify(
        r#"{"feature_negotiation":true,"client_id":"cid","hostname":"h","user_agent":"ua/1",
            "heartbeat_interval":1000,"msg_timeout":5000,"output_buffer_size":1024,
            "output_buffer_timeout":100,"sample_rate":10,"deflate_level":9,
            "short_id":"ignored","long_id":"ignored","unknown_field":[1,2]}"#,
    );
    assert_eq!(ft, FRAME_RESPONSE);
    assert_eq!(
        String::from_utf8_lossy(&data),
        r#"{"max_rdy_count":2500,"version":"1.3.0","max_msg_timeout":900000,"msg_timeout":5000,"tls_v1":false,"deflate":false,"deflate_level":6,"max_deflate_level":6,"snappy":false,"sample_rate":10,"auth_required":false,"output_buffer_size":1024,"output_buffer_timeout":100,"topology_region":"","topology_zone":""}"#
    );
}

#[test]
fn identify_output_buffer_disable_values() {
    // §1.7: output_buffer_size -1 → size 1 and timeout 0; output_buffer_timeout -1 → 0.
    let nsqd = Nsqd::start();
    let mut c = nsqd.conn();
    let (_, data) = c.identify(r#"{"feature_negotiation":true,"output_buffer_size":-1}"#);
    let v: serde_json::Value = serde_json::from_slice(&data).unwrap();
    assert_eq!(
        (
            v["output_buffer_size"].as_i64(),
            v["output_buffer_timeout"].as_i64()
        ),
        (Some(1), Some(0))
    );
    let mut c = nsqd.conn();
    let (_, data) = c.identify(r#"{"feature_negotiation":true,"output_buffer_timeout":-1}"#);
    let v: serde_json::Value = serde_json::from_slice(&data).unwrap();
    assert_eq!(
        (
            v["output_buffer_size"].as_i64(),
            v["output_buffer_timeout"].as_i64()
        ),
        (Some(16384), Some(0))
    );
}

#[test]
fn identify_response_reflects_server_flags() {
    // P-070: max_rdy_count, max_msg_timeout, msg_timeout default, deflate level clamp, topology.
    let nsqd = Nsqd::start_with(&[
        "--max-rdy-count=50",
        "--max-msg-timeout=30s",
        "--msg-timeout=2s",
        "--max-deflate-level=3",
        "--output-buffer-timeout=100ms",
        "--topology-zone=z1",
        "--topology-region=r1",
    ]);
    let mut c = nsqd.conn();
    let (_, data) = c.identify(r#"{"feature_negotiation":true}"#);
    assert_eq!(
        String::from_utf8_lossy(&data),
        r#"{"max_rdy_count":50,"version":"1.3.0","max_msg_timeout":30000,"msg_timeout":2000,"tls_v1":false,"deflate":false,"deflate_level":3,"max_deflate_level":3,"snappy":false,"sample_rate":0,"auth_required":false,"output_buffer_size":16384,"output_buffer_timeout":100,"topology_region":"r1","topology_zone":"z1"}"#
    );
}

#[test]
fn identify_without_feature_negotiation_answers_ok() {
    // P-050
    let nsqd = Nsqd::start();
    let mut c = nsqd.conn();
    assert_eq!(
        c.identify(r#"{"client_id":"x"}"#),
        (FRAME_RESPONSE, b"OK".to_vec())
    );
    assert_eq!(
        c.identify(r#"{"feature_negotiation":false}"#),
        (FRAME_RESPONSE, b"OK".to_vec())
    );
    assert_still_open(&mut c);
}

#[test]
fn identify_can_repeat_and_updates_fields() {
    // P-042
    let nsqd = Nsqd::start();
    let mut c = nsqd.conn();
    let msg_timeout = |data: &[u8]| {
        serde_json::from_slice::<serde_json::Value>(data).unwrap()["msg_timeout"].as_i64()
    };
    let (_, d1) = c.identify(r#"{"feature_negotiation":true,"msg_timeout":5000}"#);
    assert_eq!(msg_timeout(&d1), Some(5000));
    let (_, d2) = c.identify(r#"{"feature_negotiation":true,"msg_timeout":7000}"#);
    assert_eq!(msg_timeout(&d2), Some(7000));
    assert_eq!(c.identify("{}"), (FRAME_RESPONSE, b"OK".to_vec()));
    c.sub("t", "c");
}

#[test]
fn identify_after_sub_is_fatal() {
    // P-041, P-121
    let nsqd = Nsqd::start();
    let mut c = nsqd.conn();
    c.sub("t", "c");
    c.cmd("IDENTIFY");
    c.expect_error("E_INVALID cannot IDENTIFY in current state");
    c.expect_closed(CLOSE);
}

#[test]
fn identify_body_errors_are_fatal() {
    // P-050, P-121
    let nsqd = Nsqd::start_with(&["--max-body-size=100"]);
    let cases: &[(&[u8], &str)] = &[
        (b"", "E_BAD_BODY IDENTIFY invalid body size 0"),
        (b"{", "E_BAD_BODY IDENTIFY failed to decode JSON body"),
        (
            br#"{"heartbeat_interval":"x"}"#,
            "E_BAD_BODY IDENTIFY failed to decode JSON body",
        ),
        (
            br#"{"heartbeat_interval":500}"#,
            "E_BAD_BODY IDENTIFY heartbeat interval (500) is invalid",
        ),
        (
            br#"{"heartbeat_interval":-2}"#,
            "E_BAD_BODY IDENTIFY heartbeat interval (-2) is invalid",
        ),
        (
            br#"{"heartbeat_interval":60001}"#,
            "E_BAD_BODY IDENTIFY heartbeat interval (60001) is invalid",
        ),
        (
            br#"{"output_buffer_timeout":10}"#,
            "E_BAD_BODY IDENTIFY output buffer timeout (10) is invalid",
        ),
        (
            br#"{"output_buffer_size":10}"#,
            "E_BAD_BODY IDENTIFY output buffer size (10) is invalid",
        ),
        (
            br#"{"output_buffer_size":65537}"#,
            "E_BAD_BODY IDENTIFY output buffer size (65537) is invalid",
        ),
        (
            br#"{"sample_rate":100}"#,
            "E_BAD_BODY IDENTIFY sample rate (100) is invalid",
        ),
        (
            br#"{"sample_rate":-1}"#,
            "E_BAD_BODY IDENTIFY sample rate (-1) is invalid",
        ),
        (
            br#"{"msg_timeout":999}"#,
            "E_BAD_BODY IDENTIFY msg timeout (999) is invalid",
        ),
        (
            br#"{"msg_timeout":900001}"#,
            "E_BAD_BODY IDENTIFY msg timeout (900001) is invalid",
        ),
        // Heartbeat is checked before the output buffer (§1.7 order).
        (
            br#"{"heartbeat_interval":1,"output_buffer_size":1}"#,
            "E_BAD_BODY IDENTIFY heartbeat interval (1) is invalid",
        ),
    ];
    for (body, err) in cases {
        expect_fatal(&nsqd, &with_body("IDENTIFY", body), err);
    }
    expect_fatal(
        &nsqd,
        &with_size("IDENTIFY", 101),
        "E_BAD_BODY IDENTIFY body too big 101 > 100",
    );
    // A negative size is not "too big"; it is an invalid size.
    let mut c = nsqd.conn();
    let mut bytes = b"IDENTIFY\n".to_vec();
    bytes.extend_from_slice(&(-1i32).to_be_bytes());
    c.send(&bytes);
    c.expect_error("E_BAD_BODY IDENTIFY invalid body size -1");
    c.expect_closed(CLOSE);
}

#[test]
fn identify_deflate_and_snappy_together_is_fatal() {
    // P-072: both are enabled on the server by default.
    let nsqd = Nsqd::start();
    expect_fatal(
        &nsqd,
        &with_body(
            "IDENTIFY",
            br#"{"feature_negotiation":true,"deflate":true,"snappy":true}"#,
        ),
        "E_IDENTIFY_FAILED cannot enable both deflate and snappy compression",
    );
}

/// Sends `bytes`, half-closes, and expects the read-failure error `err` before the close.
fn expect_fatal_after_eof(nsqd: &Nsqd, bytes: &[u8], err: &str) {
    eprintln!("case: expecting {err:?}");
    let mut c = nsqd.conn();
    c.send(bytes);
    c.shutdown_write();
    c.expect_error(err);
    c.expect_closed(CLOSE);
}

#[test]
fn truncated_commands_answer_read_errors() {
    // P-121, P-122, P-128..P-130: the client half-closes in the middle of a command; the
    // reference still answers with the "failed to read ..." error frame before closing.
    let nsqd = Nsqd::start();
    let cases: &[(&[u8], &str)] = &[
        (
            b"IDENTIFY\n\0\0",
            "E_BAD_BODY IDENTIFY failed to read body size",
        ),
        (
            b"IDENTIFY\n\0\0\0\x0a{}",
            "E_BAD_BODY IDENTIFY failed to read body",
        ),
        (b"AUTH\n\0", "E_BAD_BODY AUTH failed to read body size"),
        (
            b"AUTH\n\0\0\0\x0asec",
            "E_BAD_BODY AUTH failed to read body",
        ),
        (
            b"PUB t\n\0\0",
            "E_BAD_MESSAGE PUB failed to read message body size",
        ),
        (
            b"PUB t\n\0\0\0\x05ab",
            "E_BAD_MESSAGE PUB failed to read message body",
        ),
        (
            b"DPUB t 10\n\0",
            "E_BAD_MESSAGE DPUB failed to read message body size",
        ),
        (
            b"DPUB t 10\n\0\0\0\x05ab",
            "E_BAD_MESSAGE DPUB failed to read message body",
        ),
        (b"MPUB t\n\0\0", "E_BAD_BODY MPUB failed to read body size"),
        // Body size 20, count 1, then only half of the first message size.
        (
            b"MPUB t\n\0\0\0\x14\0\0\0\x01\0\0",
            "E_BAD_MESSAGE MPUB failed to read message(0) body size",
        ),
    ];
    for (bytes, err) in cases {
        expect_fatal_after_eof(&nsqd, bytes, err);
    }
}

// AUTH without an auth server

#[test]
fn auth_errors_without_auth_server() {
    // P-051, P-122
    let nsqd = Nsqd::start();
    expect_fatal(
        &nsqd,
        &with_body("AUTH", b"secret"),
        "E_AUTH_DISABLED AUTH disabled",
    );
    expect_fatal(
        &nsqd,
        &line("AUTH x"),
        "E_INVALID AUTH invalid number of parameters",
    );
    expect_fatal(
        &nsqd,
        &with_body("AUTH", b""),
        "E_BAD_BODY AUTH invalid body size 0",
    );
    let mut c = nsqd.conn();
    c.sub("t", "c");
    c.cmd("AUTH");
    c.expect_error("E_INVALID cannot AUTH in current state");
    c.expect_closed(CLOSE);
}

// SUB

#[test]
fn sub_errors_are_fatal() {
    // P-052, P-124, P-140/141
    let nsqd = Nsqd::start();
    expect_fatal(
        &nsqd,
        &line("SUB t"),
        "E_INVALID SUB insufficient number of parameters",
    );
    expect_fatal(
        &nsqd,
        &line("SUB"),
        "E_INVALID SUB insufficient number of parameters",
    );
    expect_fatal(
        &nsqd,
        &line("SUB a*b c"),
        "E_BAD_TOPIC SUB topic name \"a*b\" is not valid",
    );
    expect_fatal(
        &nsqd,
        &line("SUB a\"b c"),
        "E_BAD_TOPIC SUB topic name \"a\\\"b\" is not valid",
    );
    expect_fatal(
        &nsqd,
        &line("SUB t c!"),
        "E_BAD_CHANNEL SUB channel name \"c!\" is not valid",
    );
    expect_fatal(
        &nsqd,
        &line("SUB t "),
        "E_BAD_CHANNEL SUB channel name \"\" is not valid",
    );
    expect_fatal(
        &nsqd,
        &line("SUB t a#ephemeral#ephemeral"),
        "E_BAD_CHANNEL SUB channel name \"a#ephemeral#ephemeral\" is not valid",
    );
    expect_fatal_subscribed(&nsqd, "SUB t c", "E_INVALID cannot SUB in current state");
}

#[test]
fn sub_with_heartbeats_disabled_is_refused() {
    // P-094
    let nsqd = Nsqd::start();
    let mut c = nsqd.conn();
    assert_eq!(
        c.identify(r#"{"heartbeat_interval":-1}"#),
        (FRAME_RESPONSE, b"OK".to_vec())
    );
    c.cmd("SUB t c");
    c.expect_error("E_INVALID cannot SUB with heartbeats disabled");
    c.expect_closed(CLOSE);
}

#[test]
fn name_length_limits() {
    // P-140: 64 bytes including the #ephemeral suffix.
    let nsqd = Nsqd::start();
    let n64 = "a".repeat(64);
    let n65 = "a".repeat(65);
    let e54 = format!("{}#ephemeral", "b".repeat(54));
    let e55 = format!("{}#ephemeral", "b".repeat(55));
    let mut c = nsqd.conn();
    c.publish(&n64, b"x");
    c.publish(&e54, b"x");
    c.publish("a.b_c-D9", b"x");
    expect_fatal(
        &nsqd,
        &line(&format!("PUB {n65}")),
        &format!("E_BAD_TOPIC PUB topic name \"{n65}\" is not valid"),
    );
    expect_fatal(
        &nsqd,
        &line(&format!("PUB {e55}")),
        &format!("E_BAD_TOPIC PUB topic name \"{e55}\" is not valid"),
    );
    let mut s = nsqd.conn();
    s.sub("t", &n64);
    let mut s = nsqd.conn();
    s.sub("t", &e54);
    expect_fatal(
        &nsqd,
        &line(&format!("SUB t {e55}")),
        &format!("E_BAD_CHANNEL SUB channel name \"{e55}\" is not valid"),
    );
}

// PUB

#[test]
fn pub_errors_are_fatal() {
    // P-053, P-128
    let nsqd = Nsqd::start_with(&["--max-msg-size=10"]);
    expect_fatal(
        &nsqd,
        &line("PUB"),
        "E_INVALID PUB insufficient number of parameters",
    );
    expect_fatal(
        &nsqd,
        &line("PUB a*"),
        "E_BAD_TOPIC PUB topic name \"a*\" is not valid",
    );
    expect_fatal(
        &nsqd,
        &with_body("PUB t", b""),
        "E_BAD_MESSAGE PUB invalid message body size 0",
    );
    expect_fatal(
        &nsqd,
        &with_size("PUB t", 11),
        "E_BAD_MESSAGE PUB message too big 11 > 10",
    );

    let mut c = nsqd.conn();
    c.publish("t", &[b'x'; 10]);

    // A negative size is reported as such (checked before "too big").
    let mut c = nsqd.conn();
    let mut bytes = b"PUB t\n".to_vec();
    bytes.extend_from_slice(&(-5i32).to_be_bytes());
    c.send(&bytes);
    c.expect_error("E_BAD_MESSAGE PUB invalid message body size -5");
    c.expect_closed(CLOSE);
}

// MPUB

/// `MPUB t\n[size][count]([len][bytes])*[tail]` with an honest size field, so that the error
/// strings are checked whether nsqd parses the body incrementally (as the reference does) or
/// reads it whole first.
fn mpub_raw(count: i32, msgs: &[&[u8]], tail: &[u8]) -> Vec<u8> {
    let mut body = count.to_be_bytes().to_vec();
    for m in msgs {
        body.extend_from_slice(&(m.len() as u32).to_be_bytes());
        body.extend_from_slice(m);
    }
    body.extend_from_slice(tail);
    with_body("MPUB t", &body)
}

#[test]
fn mpub_errors_are_fatal() {
    // P-054, P-129
    let nsqd = Nsqd::start_with(&["--max-msg-size=10", "--max-body-size=100"]);
    expect_fatal(
        &nsqd,
        &line("MPUB"),
        "E_INVALID MPUB insufficient number of parameters",
    );
    expect_fatal(
        &nsqd,
        &line("MPUB a*"),
        "E_BAD_TOPIC E_BAD_TOPIC MPUB topic name \"a*\" is not valid",
    );
    expect_fatal(
        &nsqd,
        &with_body("MPUB t", b""),
        "E_BAD_BODY MPUB invalid body size 0",
    );
    expect_fatal(
        &nsqd,
        &with_size("MPUB t", 101),
        "E_BAD_BODY MPUB body too big 101 > 100",
    );
    expect_fatal(
        &nsqd,
        &mpub_raw(0, &[], b""),
        "E_BAD_BODY MPUB invalid message count 0",
    );
    // (100 - 4) / 5 = 19 messages at most.
    expect_fatal(
        &nsqd,
        &mpub_raw(20, &[], &[b'x'; 96]),
        "E_BAD_BODY MPUB invalid message count 20",
    );
    expect_fatal(
        &nsqd,
        &mpub_raw(-1, &[], b""),
        "E_BAD_BODY MPUB invalid message count -1",
    );
    expect_fatal(
        &nsqd,
        &mpub_raw(2, &[b"ok"], &0u32.to_be_bytes()),
        "E_BAD_MESSAGE MPUB invalid message(1) body size 0",
    );
    expect_fatal(
        &nsqd,
        &mpub_raw(
            2,
            &[b"ok"],
            &[&11u32.to_be_bytes()[..], &[b'x'; 11]].concat(),
        ),
        "E_BAD_MESSAGE MPUB message too big 11 > 10",
    );
    let nineteen: Vec<&[u8]> = vec![b"x"; 19];
    let mut c = nsqd.conn();
    c.mpub("t", &nineteen);
}

#[test]
fn mpub_creates_topic_before_validating_body() {
    // P-054
    let nsqd = Nsqd::start();
    expect_fatal(
        &nsqd,
        &with_body("MPUB created_early", b""),
        "E_BAD_BODY MPUB invalid body size 0",
    );
    assert!(
        wait_until(CLOSE, || stats_topic(&nsqd.stats(), "created_early")
            .is_some()),
        "topic created_early missing from /stats"
    );
}

#[test]
fn mpub_delivers_every_message() {
    let nsqd = Nsqd::start();
    let mut c = nsqd.consumer("mp", "c", 10);
    let mut p = nsqd.conn();
    p.mpub("mp", &[b"one", b"two", b"three"]);
    let mut got: Vec<Vec<u8>> = (0..3).map(|_| c.read_message().body).collect();
    got.sort();
    assert_eq!(
        got,
        vec![b"one".to_vec(), b"three".to_vec(), b"two".to_vec()]
    );
}

// DPUB

#[test]
fn dpub_errors_are_fatal() {
    // P-055, P-130
    let nsqd = Nsqd::start_with(&["--max-msg-size=10"]);
    expect_fatal(
        &nsqd,
        &line("DPUB t"),
        "E_INVALID DPUB insufficient number of parameters",
    );
    expect_fatal(
        &nsqd,
        &line("DPUB  100"),
        "E_BAD_TOPIC DPUB topic name \"\" is not valid",
    );
    expect_fatal(
        &nsqd,
        &line("DPUB t abc"),
        "E_INVALID DPUB could not parse timeout abc",
    );
    expect_fatal(
        &nsqd,
        &line("DPUB t -1"),
        "E_INVALID DPUB could not parse timeout -1",
    );
    expect_fatal(
        &nsqd,
        &line("DPUB t 99999999"),
        "E_INVALID DPUB timeout 99999999 out of range 0-3600000",
    );
    expect_fatal(
        &nsqd,
        &with_body("DPUB t 100", b""),
        "E_BAD_MESSAGE DPUB invalid message body size 0",
    );
    expect_fatal(
        &nsqd,
        &with_size("DPUB t 100", 11),
        "E_BAD_MESSAGE DPUB message too big 11 > 10",
    );
    let mut c = nsqd.conn();
    c.dpub("t", 3_600_000, b"max");
    c.dpub("t", 0, b"zero");
}

#[test]
fn dpub_range_follows_max_req_timeout() {
    let nsqd = Nsqd::start_with(&["--max-req-timeout=10s"]);
    let mut c = nsqd.conn();
    c.dpub("t", 10_000, b"edge");
    expect_fatal(
        &nsqd,
        &line("DPUB t 10001"),
        "E_INVALID DPUB timeout 10001 out of range 0-10000",
    );
}

// RDY

#[test]
fn rdy_errors_are_fatal() {
    // P-056, P-125
    let nsqd = Nsqd::start_with(&["--max-rdy-count=10"]);
    expect_fatal(
        &nsqd,
        &line("RDY 1"),
        "E_INVALID cannot RDY in current state",
    );
    expect_fatal_subscribed(&nsqd, "RDY abc", "E_INVALID RDY could not parse count abc");
    expect_fatal_subscribed(&nsqd, "RDY -1", "E_INVALID RDY could not parse count -1");
    expect_fatal_subscribed(&nsqd, "RDY 11", "E_INVALID RDY count 11 out of range 0-10");
    let mut c = nsqd.conn();
    c.sub("t", "c");
    c.rdy(10);
    assert_still_open(&mut c);
}

#[test]
fn rdy_empty_means_zero_and_bare_rdy_means_one() {
    // P-036, P-056
    let nsqd = Nsqd::start();
    let mut p = nsqd.conn();

    // Bare RDY → 1: two messages queued, exactly one delivered until FIN.
    let mut c = nsqd.conn();
    c.sub("bare", "c");
    c.cmd("RDY");
    p.publish("bare", b"1");
    p.publish("bare", b"2");
    let m = c.read_message();
    assert!(
        c.try_read_message(Duration::from_millis(400)).is_none(),
        "RDY should mean 1"
    );
    c.fin(&m.id);
    c.read_message();

    // "RDY " → 0: nothing more is delivered.
    let mut c = nsqd.conn();
    c.sub("empty", "c");
    c.rdy(5);
    p.publish("empty", b"1");
    let m = c.read_message();
    c.cmd("RDY ");
    c.fin(&m.id);
    p.publish("empty", b"2");
    assert!(
        c.try_read_message(Duration::from_millis(400)).is_none(),
        "`RDY ` should mean 0"
    );
    c.rdy(1);
    assert_eq!(c.read_message().body, b"2");
}

// FIN / REQ / TOUCH

#[test]
fn fin_req_touch_fatal_errors() {
    // P-057..P-059, P-126
    let nsqd = Nsqd::start();
    let id = "0123456789abcdef";
    expect_fatal(
        &nsqd,
        &line(&format!("FIN {id}")),
        "E_INVALID cannot FIN in current state",
    );
    expect_fatal(
        &nsqd,
        &line(&format!("REQ {id} 0")),
        "E_INVALID cannot REQ in current state",
    );
    expect_fatal(
        &nsqd,
        &line(&format!("TOUCH {id}")),
        "E_INVALID cannot TOUCH in current state",
    );
    expect_fatal_subscribed(&nsqd, "FIN", "E_INVALID FIN insufficient number of params");
    expect_fatal_subscribed(
        &nsqd,
        &format!("REQ {id}"),
        "E_INVALID REQ insufficient number of params",
    );
    expect_fatal_subscribed(
        &nsqd,
        "TOUCH",
        "E_INVALID TOUCH insufficient number of params",
    );
    expect_fatal_subscribed(&nsqd, "FIN abc", "E_INVALID invalid message ID");
    expect_fatal_subscribed(&nsqd, "REQ abc 0", "E_INVALID invalid message ID");
    expect_fatal_subscribed(
        &nsqd,
        "TOUCH 0123456789abcdef0",
        "E_INVALID invalid message ID",
    );
    expect_fatal_subscribed(
        &nsqd,
        &format!("REQ {id} abc"),
        "E_INVALID REQ could not parse timeout abc",
    );
}

#[test]
fn fin_req_touch_unknown_id_are_not_fatal() {
    // P-110, P-126: the id content is not checked as hex.
    let nsqd = Nsqd::start();
    let mut c = nsqd.conn();
    c.sub("t", "c");
    for id in ["0000000000000000", "zzzzzzzzzzzzzzzz"] {
        c.fin(id);
        c.expect_error(&format!("E_FIN_FAILED FIN {id} failed ID not in flight"));
        c.req(id, 0);
        c.expect_error(&format!("E_REQ_FAILED REQ {id} failed ID not in flight"));
        c.touch(id);
        c.expect_error(&format!(
            "E_TOUCH_FAILED TOUCH {id} failed ID not in flight"
        ));
    }
    assert_still_open(&mut c);
}

#[test]
fn req_timeout_is_clamped_not_rejected() {
    // P-058
    let nsqd = Nsqd::start_with(&["--max-req-timeout=1s"]);
    let mut p = nsqd.conn();
    let mut c = nsqd.consumer("clamp", "c", 1);
    p.publish("clamp", b"x");
    let m = c.read_message();
    c.req(&m.id, 99_999_999);
    // No error; the clamped 1 s delay then redelivers the message.
    c.set_timeout(Duration::from_secs(15));
    let again = c.read_message();
    assert_eq!((again.id.as_str(), again.attempts), (m.id.as_str(), 2));
}

// CLS

#[test]
fn cls_answers_close_wait_and_second_cls_is_fatal() {
    // P-060, P-127
    let nsqd = Nsqd::start();
    expect_fatal(&nsqd, &line("CLS"), "E_INVALID cannot CLS in current state");
    let mut c = nsqd.conn();
    c.sub("t", "c");
    c.cmd("CLS");
    c.expect_response(b"CLOSE_WAIT");
    // RDY in the closing state is ignored without a response.
    c.rdy(5);
    assert_still_open(&mut c);
    c.cmd("CLS");
    c.expect_error("E_INVALID cannot CLS in current state");
    c.expect_closed(CLOSE);
}

// §1.9 heartbeats and deadlines

#[test]
fn heartbeat_arrives_and_idle_connection_is_closed() {
    // P-013, P-091, P-092
    let nsqd = Nsqd::start();
    let mut c = nsqd.conn();
    let (_, resp) = c.identify(r#"{"feature_negotiation":true,"heartbeat_interval":1000}"#);
    assert!(resp.starts_with(b"{"), "{resp:?}");
    let hb = c
        .try_read_frame(Duration::from_secs(5))
        .expect("no heartbeat within 5 s");
    assert_eq!(hb, (FRAME_RESPONSE, b"_heartbeat_".to_vec()));
    // Never answering: the 2 s read deadline must close the connection.
    c.expect_closed(Duration::from_secs(10));
}

#[test]
fn answering_heartbeats_with_nop_keeps_connection_open() {
    // P-061, P-092
    let nsqd = Nsqd::start();
    let mut c = nsqd.conn();
    assert_eq!(
        c.identify(r#"{"heartbeat_interval":1000}"#),
        (FRAME_RESPONSE, b"OK".to_vec())
    );
    let start = Instant::now();
    let mut beats = 0;
    while beats < 3 {
        let f = c
            .try_read_frame(Duration::from_secs(5))
            .expect("heartbeat expected");
        assert_eq!(f, (FRAME_RESPONSE, b"_heartbeat_".to_vec()));
        c.nop();
        beats += 1;
    }
    assert!(start.elapsed() < Duration::from_secs(15));
    assert_still_open(&mut c);
}

#[test]
fn producer_without_identify_gets_no_early_heartbeat_close() {
    // P-090: default heartbeat 30 s, so a fresh connection stays usable for a while.
    let nsqd = Nsqd::start();
    let mut c = nsqd.conn();
    assert!(
        !c.closed_within(Duration::from_millis(2500)),
        "closed before the 60 s default deadline"
    );
    assert_still_open(&mut c);
}

// §1.3 message frames

#[test]
fn message_frame_fields() {
    // P-020..P-022, P-025
    let nsqd = Nsqd::start_with(&["--node-id=5"]);
    let mut c = nsqd.consumer("fmt", "c", 1);
    let mut p = nsqd.conn();
    let before = now_ns();
    p.publish("fmt", b"hello");
    let after = now_ns();
    let (ft, data) = c.read_frame_skip_heartbeats();
    assert_eq!(ft, FRAME_MESSAGE);
    assert_eq!(data.len(), 26 + 5);
    let m = Msg::decode(&data);
    assert_eq!((m.attempts, m.body.as_slice()), (1, &b"hello"[..]));
    assert!(
        m.timestamp >= before && m.timestamp <= after,
        "timestamp {} not in [{before}, {after}]",
        m.timestamp
    );
    assert_eq!(m.id.len(), 16);
    assert!(
        m.id.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
        "id {:?}",
        m.id
    );
    // GUID layout: ((ts - epoch) << 22) | (node << 12) | seq with ts = unix ns >> 20.
    let guid = u64::from_str_radix(&m.id, 16).unwrap();
    assert_eq!((guid >> 12) & 0x3ff, 5, "node id bits of {}", m.id);
    let ts = ((guid >> 22) + 1_288_834_974_288) << 20;
    let slack = 1 << 21;
    assert!(
        ts as i64 >= (before >> 20 << 20) - slack && ts as i64 <= after + slack,
        "GUID time {ts} not near publish time"
    );
}

#[test]
fn attempts_count_each_delivery() {
    // P-025, BEH-036
    let nsqd = Nsqd::start();
    let mut c = nsqd.consumer("att", "c", 1);
    let mut p = nsqd.conn();
    p.publish("att", b"x");
    let first = c.read_message();
    assert_eq!(first.attempts, 1);
    let mut id = first.id.clone();
    for expected in 2..=6 {
        c.req(&id, 0);
        let m = c.read_message();
        assert_eq!((m.id.as_str(), m.attempts), (first.id.as_str(), expected));
        assert_eq!(
            (m.timestamp, m.body.as_slice()),
            (first.timestamp, &b"x"[..])
        );
        id = m.id;
    }
    c.fin(&id);
    assert_still_open(&mut c);
}

#[test]
fn ids_are_unique_per_topic() {
    let nsqd = Nsqd::start();
    let mut c = nsqd.consumer("uniq", "c", 50);
    let mut p = nsqd.conn();
    for i in 0..50 {
        p.publish("uniq", format!("{i}").as_bytes());
    }
    let mut ids: Vec<String> = (0..50).map(|_| c.read_message().id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 50);
}

#[test]
fn client_identity_and_state_in_stats() {
    // P-005, P-040, §1.7 (client_id/hostname stored unconditionally)
    let nsqd = Nsqd::start();
    let mut plain = nsqd.conn();
    plain.sub("who", "c");
    plain.rdy(3);
    let mut named = nsqd.conn();
    assert_eq!(
        named.identify(r#"{"user_agent":"ua/1.0"}"#),
        (FRAME_RESPONSE, b"OK".to_vec())
    );
    named.sub("who", "c");
    named.cmd("CLS");
    named.expect_response(b"CLOSE_WAIT");
    let port_of = |c: &RawConn| c.local_addr().to_string();
    let (plain_addr, named_addr) = (port_of(&plain), port_of(&named));
    let mut last = serde_json::Value::Null;
    let ok = wait_until(CLOSE, || {
        last = stats_channel(&nsqd.stats(), "who", "c")
            .cloned()
            .unwrap_or_default();
        last["clients"].as_array().is_some_and(|a| a.len() == 2)
            && last["clients"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["ready_count"] == 3)
    });
    assert!(ok, "two clients with RDY 3 expected: {last}");
    let clients = last["clients"].as_array().unwrap();
    let find = |addr: &str| {
        clients
            .iter()
            .find(|c| c["remote_address"] == addr)
            .unwrap_or_else(|| panic!("no client {addr} in {last}"))
    };
    let p = find(&plain_addr);
    assert_eq!(
        (&p["client_id"], &p["hostname"]),
        (&"127.0.0.1".into(), &"127.0.0.1".into())
    );
    assert_eq!((&p["state"], &p["version"]), (&3.into(), &"V2".into()));
    let n = find(&named_addr);
    assert_eq!((&n["client_id"], &n["hostname"]), (&"".into(), &"".into()));
    assert_eq!(
        (&n["user_agent"], &n["state"], &n["ready_count"]),
        (&"ua/1.0".into(), &4.into(), &0.into())
    );
}
