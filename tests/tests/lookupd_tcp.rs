//! nsqlookupd's TCP protocol V1 (§6.1), byte for byte: the magic, size-prefixed responses,
//! every command and every error (each fatal), and what the commands do to the registrations
//! the HTTP API shows.

use std::time::Duration;

use nsq_tests::lookupd::{LookupConn, Nsqlookupd};
use nsq_tests::wait_until;

fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the pointer and length describe `buf`.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    assert_eq!(rc, 0);
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

fn text(b: Vec<u8>) -> String {
    String::from_utf8(b).unwrap()
}

/// Sends `line` and expects the error `expected` followed by the connection closing (L-003).
fn expect_fatal(c: &mut LookupConn, line: &str, expected: &str) {
    assert_eq!(text(c.cmd(line)), expected, "answer to {line:?}");
    assert!(c.is_closed(), "connection still open after {expected}");
}

const NSQD_JSON: &str = r#"{"broadcast_address":"127.0.0.1","hostname":"nsqd-host","tcp_port":4150,"http_port":4151,"version":"1.3.0","topology_zone":"z1","topology_region":"r1"}"#;

#[test]
fn bad_magic_gets_unframed_error_then_close() {
    let l = Nsqlookupd::start();
    let mut c = LookupConn::connect_no_magic(l.tcp_addr);
    c.send(b"  V2");
    assert_eq!(c.read_raw_response(), b"\x00\x00\x00\x0eE_BAD_PROTOCOL");
    assert!(c.is_closed());
    assert!(l.wait_for_log("bad protocol magic '  V2'", Duration::from_secs(5)));
}

#[test]
fn ping_answers_ok_with_or_without_identify() {
    let l = Nsqlookupd::start();
    let mut c = LookupConn::connect(l.tcp_addr);
    c.send(b"PING\n");
    assert_eq!(c.read_raw_response(), b"\x00\x00\x00\x02OK");
    // Surrounding whitespace, \r included, is trimmed; pipelined lines each get an answer.
    c.send(b"  PING \r\nPING\n");
    assert_eq!(c.read_response(), b"OK");
    assert_eq!(c.read_response(), b"OK");
    c.identify(NSQD_JSON);
    assert_eq!(c.cmd("PING"), b"OK");
    assert!(l.wait_for_log("): pinged (last ping ", Duration::from_secs(5)));
}

#[test]
fn identify_answers_with_lookupd_details() {
    let l = Nsqlookupd::start();
    let mut c = LookupConn::connect(l.tcp_addr);
    let resp = c.identify(NSQD_JSON);
    assert_eq!(
        text(resp),
        format!(
            "{{\"broadcast_address\":\"127.0.0.1\",\"hostname\":\"{}\",\"http_port\":{},\
             \"tcp_port\":{},\"version\":\"1.3.0\"}}",
            hostname(),
            l.http_addr.port(),
            l.tcp_addr.port()
        )
    );
    let me = c.local_addr().to_string();
    assert!(l.wait_for_log(
        &format!("CLIENT({me}): IDENTIFY Address:127.0.0.1 TCP:4150 HTTP:4151 Version:1.3.0"),
        Duration::from_secs(5)
    ));
    assert!(l.wait_for_log(
        &format!("DB: client({me}) REGISTER category:client key: subkey:"),
        Duration::from_secs(5)
    ));
    // The node is listed, with the remote address lookupd saw.
    let nodes = l.get("/nodes").json();
    assert_eq!(nodes["producers"][0]["remote_address"], me.as_str());
    assert_eq!(nodes["producers"][0]["hostname"], "nsqd-host");
    assert_eq!(nodes["producers"][0]["topology_zone"], "z1");
    assert_eq!(nodes["producers"][0]["topology_region"], "r1");
    expect_fatal(&mut c, "IDENTIFY", "E_INVALID cannot IDENTIFY again");
}

#[test]
fn identify_body_errors() {
    let l = Nsqlookupd::start();
    let fatal_identify = |body: &str, expected: &str| {
        let mut c = LookupConn::connect(l.tcp_addr);
        assert_eq!(text(c.identify(body)), expected, "body {body:?}");
        assert!(c.is_closed());
    };
    fatal_identify("{", "E_BAD_BODY IDENTIFY failed to decode JSON body");
    fatal_identify(
        r#"{"broadcast_address":"a","tcp_port":"1","http_port":2,"version":"v"}"#,
        "E_BAD_BODY IDENTIFY failed to decode JSON body",
    );
    for missing in [
        r#"{"tcp_port":1,"http_port":2,"version":"v"}"#,
        r#"{"broadcast_address":"a","http_port":2,"version":"v"}"#,
        r#"{"broadcast_address":"a","tcp_port":1,"version":"v"}"#,
        r#"{"broadcast_address":"a","tcp_port":1,"http_port":2}"#,
        r#"{"broadcast_address":"a","tcp_port":0,"http_port":2,"version":"v"}"#,
        "{}",
    ] {
        fatal_identify(missing, "E_BAD_BODY IDENTIFY missing fields");
    }

    // QRK-20 (fixed): negative and huge sizes are refused instead of crashing or allocating.
    let mut c = LookupConn::connect(l.tcp_addr);
    c.send(b"IDENTIFY\n\xff\xff\xff\xff");
    assert_eq!(
        text(c.read_response()),
        "E_BAD_BODY IDENTIFY invalid body size -1"
    );
    assert!(c.is_closed());
    let mut c = LookupConn::connect(l.tcp_addr);
    c.send(b"IDENTIFY\n\x7f\x00\x00\x00");
    assert_eq!(
        text(c.read_response()),
        "E_BAD_BODY IDENTIFY invalid body size 2130706432"
    );
    assert!(c.is_closed());

    // A body cut short by EOF, and a size cut short by EOF.
    let mut c = LookupConn::connect(l.tcp_addr);
    c.send(b"IDENTIFY\n\x00\x00\x00\x64{\"a\":");
    c.shutdown_write();
    assert_eq!(
        text(c.read_response()),
        "E_BAD_BODY IDENTIFY failed to read body"
    );
    assert!(c.is_closed());
    let mut c = LookupConn::connect(l.tcp_addr);
    c.send(b"IDENTIFY\n\x00\x00");
    c.shutdown_write();
    assert_eq!(
        text(c.read_response()),
        "E_BAD_BODY IDENTIFY failed to read body size"
    );
    assert!(c.is_closed());

    assert_eq!(
        l.get("/nodes").text(),
        r#"{"producers":[]}"#,
        "failed IDENTIFYs register nothing"
    );
}

#[test]
fn register_needs_identify_and_valid_names() {
    let l = Nsqlookupd::start();
    let mut c = LookupConn::connect(l.tcp_addr);
    expect_fatal(&mut c, "REGISTER t", "E_INVALID client must IDENTIFY");
    let mut c = LookupConn::connect(l.tcp_addr);
    expect_fatal(&mut c, "UNREGISTER t", "E_INVALID client must IDENTIFY");

    let identified = || {
        let mut c = LookupConn::connect(l.tcp_addr);
        c.identify(NSQD_JSON);
        c
    };
    expect_fatal(
        &mut identified(),
        "REGISTER",
        "E_INVALID REGISTER insufficient number of params",
    );
    expect_fatal(
        &mut identified(),
        "UNREGISTER ",
        "E_INVALID UNREGISTER insufficient number of params",
    );
    expect_fatal(
        &mut identified(),
        "REGISTER a!b",
        "E_BAD_TOPIC REGISTER topic name 'a!b' is not valid",
    );
    expect_fatal(
        &mut identified(),
        "REGISTER  t",
        "E_BAD_TOPIC REGISTER topic name '' is not valid",
    );
    expect_fatal(
        &mut identified(),
        "REGISTER t c*",
        "E_BAD_CHANNEL REGISTER channel name 'c*' is not valid",
    );
    expect_fatal(
        &mut identified(),
        "UNREGISTER t c#ephemeral#ephemeral",
        "E_BAD_CHANNEL UNREGISTER channel name 'c#ephemeral#ephemeral' is not valid",
    );
    expect_fatal(
        &mut identified(),
        &format!("REGISTER {}", "x".repeat(65)),
        &format!(
            "E_BAD_TOPIC REGISTER topic name '{}' is not valid",
            "x".repeat(65)
        ),
    );
    assert_eq!(l.get("/topics").text(), r#"{"topics":[]}"#);
}

#[test]
fn unknown_commands_are_fatal() {
    let l = Nsqlookupd::start();
    expect_fatal(
        &mut LookupConn::connect(l.tcp_addr),
        "NOP",
        "E_INVALID invalid command NOP",
    );
    expect_fatal(
        &mut LookupConn::connect(l.tcp_addr),
        "ping",
        "E_INVALID invalid command ping",
    );
    expect_fatal(
        &mut LookupConn::connect(l.tcp_addr),
        "",
        "E_INVALID invalid command ",
    );
}

#[test]
fn register_and_unregister_show_in_the_http_api() {
    let l = Nsqlookupd::start();
    let mut c = LookupConn::connect(l.tcp_addr);
    c.identify(NSQD_JSON);
    let me = c.local_addr().to_string();
    assert_eq!(c.cmd("REGISTER t"), b"OK");
    assert_eq!(c.cmd("REGISTER t c1"), b"OK");
    assert_eq!(c.cmd("REGISTER t c1"), b"OK", "registering twice is fine");
    assert_eq!(c.cmd("REGISTER t c2#ephemeral"), b"OK");
    assert_eq!(
        l.get("/lookup?topic=t").text(),
        format!(
            "{{\"channels\":[\"c1\",\"c2#ephemeral\"],\"producers\":[{{\"remote_address\":\"{me}\",\
             \"hostname\":\"nsqd-host\",\"broadcast_address\":\"127.0.0.1\",\"tcp_port\":4150,\
             \"http_port\":4151,\"version\":\"1.3.0\",\"topology_zone\":\"z1\",\
             \"topology_region\":\"r1\"}}]}}"
        )
    );
    assert!(l.wait_for_log(
        &format!("DB: client({me}) REGISTER category:channel key:t subkey:c1"),
        Duration::from_secs(5)
    ));

    // An ephemeral channel goes with its last producer; a normal one stays.
    assert_eq!(c.cmd("UNREGISTER t c2#ephemeral"), b"OK");
    assert_eq!(c.cmd("UNREGISTER t c1"), b"OK");
    assert_eq!(l.channels("t"), ["c1"]);
    assert_eq!(l.producer_ports("t"), [4150]);

    // A topic UNREGISTER also leaves the topic's channels (with a warning if it had any).
    assert_eq!(c.cmd("REGISTER t c1"), b"OK");
    assert_eq!(c.cmd("UNREGISTER t"), b"OK");
    assert!(l.wait_for_log(
        &format!("WARNING: client({me}) unexpected UNREGISTER category:channel key:t subkey:c1"),
        Duration::from_secs(5)
    ));
    assert_eq!(l.producer_ports("t"), Vec::<u16>::new());
    assert_eq!(l.channels("t"), ["c1"], "registrations outlive producers");
    let debug = l.get("/debug").json();
    assert!(
        debug.get("topic:t:").is_none(),
        "no producers, no /debug entry"
    );

    // An ephemeral topic goes with its last producer.
    assert_eq!(c.cmd("REGISTER e#ephemeral"), b"OK");
    assert!(l.lookup("e#ephemeral").is_some());
    assert_eq!(c.cmd("UNREGISTER e#ephemeral"), b"OK");
    assert!(l.lookup("e#ephemeral").is_none());
}

#[test]
fn disconnect_removes_the_producer_but_not_the_registrations() {
    let l = Nsqlookupd::start();
    let mut c = LookupConn::connect(l.tcp_addr);
    c.identify(NSQD_JSON);
    let me = c.local_addr().to_string();
    c.cmd("REGISTER t c");
    assert_eq!(l.producer_ports("t"), [4150]);
    drop(c);
    assert!(wait_until(Duration::from_secs(5), || l
        .producer_ports("t")
        .is_empty()));
    assert_eq!(l.channels("t"), ["c"]);
    assert_eq!(l.get("/topics").json()["topics"], serde_json::json!(["t"]));
    assert_eq!(l.get("/nodes").text(), r#"{"producers":[]}"#);
    assert!(l.wait_for_log(
        &format!("DB: client({me}) UNREGISTER category:topic key:t subkey:"),
        Duration::from_secs(5)
    ));
}

#[test]
fn a_partial_line_at_eof_is_ignored() {
    let l = Nsqlookupd::start();
    let mut c = LookupConn::connect(l.tcp_addr);
    c.identify(NSQD_JSON);
    c.send(b"REGISTER t");
    c.shutdown_write();
    assert!(c.is_closed());
    assert_eq!(l.get("/topics").text(), r#"{"topics":[]}"#);
}

#[test]
fn peers_inactive_longer_than_the_timeout_are_not_offered() {
    let l = Nsqlookupd::start_with(&["--inactive-producer-timeout=3s"]);
    let mut c = LookupConn::connect(l.tcp_addr);
    c.identify_as(5150);
    c.cmd("REGISTER t");
    assert_eq!(l.producer_ports("t"), [5150]);
    // No PING: the producer drops out of /lookup and /nodes while its connection stays open.
    assert!(wait_until(Duration::from_secs(30), || l
        .producer_ports("t")
        .is_empty()));
    assert_eq!(l.get("/nodes").text(), r#"{"producers":[]}"#);
    assert!(
        l.get("/debug").json().get("topic:t:").is_some(),
        "/debug is not filtered"
    );
    // A PING makes it active again.
    assert_eq!(c.cmd("PING"), b"OK");
    assert_eq!(l.producer_ports("t"), [5150]);
}
