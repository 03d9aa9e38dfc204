//! AUTH against an external auth server (spec P-051, P-122, P-123, §3.15, H-043 auth fields).
//!
//! Each test runs its own tiny HTTP auth server on a std TcpListener thread. It records every
//! request and answers with whatever reply the test has set.

use nsq_tests::*;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

mod tls_support;

const CLOSE: Duration = Duration::from_secs(5);

#[derive(Debug, Clone)]
struct Request {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Clone)]
struct Reply {
    status: u16,
    body: String,
    chunked: bool,
}

struct AuthServer {
    addr: SocketAddr,
    requests: Arc<Mutex<Vec<Request>>>,
    reply: Arc<Mutex<Reply>>,
}

impl AuthServer {
    fn start(status: u16, body: &str) -> AuthServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let reply = Arc::new(Mutex::new(Reply {
            status,
            body: body.to_string(),
            chunked: false,
        }));
        let (reqs, rep) = (requests.clone(), reply.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let reply = rep.lock().unwrap().clone();
                if let Some(req) = serve_one(conn, &reply) {
                    reqs.lock().unwrap().push(req);
                }
            }
        });
        AuthServer {
            addr,
            requests,
            reply,
        }
    }

    fn set_reply(&self, status: u16, body: &str) {
        let mut r = self.reply.lock().unwrap();
        r.status = status;
        r.body = body.to_string();
    }

    fn set_chunked(&self, chunked: bool) {
        self.reply.lock().unwrap().chunked = chunked;
    }

    fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }

    fn count(&self) -> usize {
        self.requests.lock().unwrap().len()
    }

    fn arg(&self) -> String {
        format!("--auth-http-address={}", self.addr)
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        403 => "Forbidden",
        500 => "Internal Server Error",
        _ => "Other",
    }
}

/// Reads one request (headers plus a Content-Length body) and writes the reply.
fn serve_one(mut conn: TcpStream, reply: &Reply) -> Option<Request> {
    conn.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = conn.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let method = first.next()?.to_string();
    let target = first.next()?.to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    let len: usize = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[head_end..].to_vec();
    while body.len() < len {
        let n = conn.read(&mut chunk).ok()?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    let out = if reply.chunked {
        // Split the body into two chunks to exercise chunked decoding.
        let (a, b) = reply.body.split_at(reply.body.len() / 2);
        format!(
            "HTTP/1.1 {} {}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n\
             {:x}\r\n{a}\r\n{:x}\r\n{b}\r\n0\r\n\r\n",
            reply.status,
            reason(reply.status),
            a.len(),
            b.len()
        )
    } else {
        format!(
            "HTTP/1.1 {} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
             Connection: close\r\n\r\n{}",
            reply.status,
            reason(reply.status),
            reply.body.len(),
            reply.body
        )
    };
    let _ = conn.write_all(out.as_bytes());
    Some(Request {
        method,
        target,
        headers,
        body,
    })
}

/// An auth answer granting publish and subscribe on topics matching `topic_re` and channels
/// matching `.*`.
fn grant(ttl: i64, topic_re: &str, permissions: &str) -> String {
    format!(
        r#"{{"ttl":{ttl},"identity":"user1","identity_url":"http://id.example/u?a=1&b=2","authorizations":[{{"topic":"{topic_re}","channels":[".*"],"permissions":[{permissions}]}}]}}"#
    )
}

const AUTH_OK: &str = r#"{"identity":"user1","identity_url":"http://id.example/u?a=1\u0026b=2","permission_count":1}"#;

fn auth(c: &mut RawConn, secret: &str) {
    c.cmd_body("AUTH", secret.as_bytes());
}

/// A closed port on loopback.
fn dead_addr() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

#[test]
fn auth_allows_and_reports_identity() {
    let server = AuthServer::start(200, &grant(3600, "^allowed", r#""publish","subscribe""#));
    let nsqd = Nsqd::start_with(&[&server.arg()]);

    let mut c = nsqd.conn();
    let (ft, data) = c.identify(r#"{"feature_negotiation":true,"client_id":"cid"}"#);
    assert_eq!(ft, FRAME_RESPONSE);
    let text = String::from_utf8(data).unwrap();
    assert!(text.contains(r#""auth_required":true"#), "{text}");

    auth(&mut c, "secret1");
    c.expect_response(AUTH_OK.as_bytes());
    c.publish("allowed_t", b"hello");
    c.mpub("allowed_t", &[b"a", b"b"]);
    c.dpub("allowed_t", 10, b"later");

    // GET with the parameters in Go's sorted query encoding (BEH-151).
    assert!(wait_until(CLOSE, || server.count() >= 1));
    let reqs = server.requests();
    assert_eq!(reqs.len(), 1, "the answer is cached for its TTL");
    assert_eq!(reqs[0].method, "GET");
    assert_eq!(
        reqs[0].target,
        "/auth?common_name=&remote_ip=127.0.0.1&secret=secret1&tls=false"
    );
    assert_eq!(
        reqs[0].header("Accept"),
        Some("application/vnd.nsq; version=1.0")
    );

    // The subscriber's /stats entry carries the auth fields (H-043).
    let mut s = nsqd.conn();
    auth(&mut s, "secret2");
    s.expect_response(AUTH_OK.as_bytes());
    s.sub("allowed_t", "ch");
    let stats = nsqd.stats();
    let ch = stats_channel(&stats, "allowed_t", "ch").expect("channel in /stats");
    let client = &ch["clients"][0];
    assert_eq!(client["authed"], true);
    assert_eq!(client["auth_identity"], "user1");
    assert_eq!(client["auth_identity_url"], "http://id.example/u?a=1&b=2");
    let raw = http_get(nsqd.http_addr, "/stats?format=json").text();
    assert!(raw.contains(r#""authed":true,"auth_identity":"user1","auth_identity_url":"http://id.example/u?a=1\u0026b=2""#), "{raw}");
}

#[test]
fn commands_after_auth_wait_for_the_answer() {
    let server = AuthServer::start(200, &grant(3600, ".*", r#""publish""#));
    server.set_chunked(true);
    let nsqd = Nsqd::start_with(&[&server.arg()]);
    let mut c = nsqd.conn();
    // AUTH and two PUBs in one write: the PUBs must be answered after AUTH, in order.
    let mut bytes = Vec::new();
    for (line, body) in [
        ("AUTH", &b"pipelined"[..]),
        ("PUB t", b"1"),
        ("PUB t", b"2"),
    ] {
        bytes.extend_from_slice(line.as_bytes());
        bytes.push(b'\n');
        bytes.extend_from_slice(&(body.len() as u32).to_be_bytes());
        bytes.extend_from_slice(body);
    }
    c.send(&bytes);
    c.expect_response(AUTH_OK.as_bytes());
    c.expect_response(b"OK");
    c.expect_response(b"OK");
    let stats = nsqd.stats();
    assert_eq!(stats_topic(&stats, "t").unwrap()["message_count"], 2);
}

#[test]
fn denied_publish_and_subscribe() {
    let server = AuthServer::start(200, &grant(3600, "^allowed$", r#""publish""#));
    let nsqd = Nsqd::start_with(&[&server.arg()]);

    let mut c = nsqd.conn();
    auth(&mut c, "s");
    c.expect_response(AUTH_OK.as_bytes());
    c.cmd_body("PUB other", b"x");
    c.expect_error(r#"E_UNAUTHORIZED AUTH failed for PUB on "other" """#);
    c.expect_closed(CLOSE);

    // Publish permission does not allow SUB.
    let mut c = nsqd.conn();
    auth(&mut c, "s");
    c.expect_response(AUTH_OK.as_bytes());
    c.cmd("SUB allowed ch");
    c.expect_error(r#"E_UNAUTHORIZED AUTH failed for SUB on "allowed" "ch""#);
    c.expect_closed(CLOSE);

    // MPUB is checked before the topic is created (QRK-03).
    let mut c = nsqd.conn();
    auth(&mut c, "s");
    c.expect_response(AUTH_OK.as_bytes());
    c.cmd_body("MPUB nope", &mpub_body(&[b"a"]));
    c.expect_error(r#"E_UNAUTHORIZED AUTH failed for MPUB on "nope" """#);
    c.expect_closed(CLOSE);

    let mut c = nsqd.conn();
    auth(&mut c, "s");
    c.expect_response(AUTH_OK.as_bytes());
    c.cmd_body("DPUB nope 10", b"x");
    c.expect_error(r#"E_UNAUTHORIZED AUTH failed for DPUB on "nope" """#);
    c.expect_closed(CLOSE);

    let stats = nsqd.stats();
    assert!(stats_topic(&stats, "nope").is_none());
    assert!(stats_topic(&stats, "other").is_none());
}

#[test]
fn auth_first_and_already_set() {
    let server = AuthServer::start(200, &grant(3600, ".*", r#""publish","subscribe""#));
    let nsqd = Nsqd::start_with(&[&server.arg()]);

    let cases: [(&[u8], &str); 4] = [
        (b"SUB t c\n", "E_AUTH_FIRST AUTH required before SUB"),
        (
            b"PUB t\n\0\0\0\x01x",
            "E_AUTH_FIRST AUTH required before PUB",
        ),
        (b"MPUB t\n", "E_AUTH_FIRST AUTH required before MPUB"),
        (
            b"DPUB t 5\n\0\0\0\x01x",
            "E_AUTH_FIRST AUTH required before DPUB",
        ),
    ];
    for (bytes, err) in cases {
        let mut c = nsqd.conn();
        c.send(bytes);
        c.expect_error(err);
        c.expect_closed(CLOSE);
    }
    assert_eq!(server.count(), 0);

    let mut c = nsqd.conn();
    auth(&mut c, "s");
    c.expect_response(AUTH_OK.as_bytes());
    auth(&mut c, "s");
    c.expect_error("E_INVALID AUTH already set");
    c.expect_closed(CLOSE);
    assert!(wait_until(CLOSE, || server.count() == 1));
}

#[test]
fn no_authorizations_found() {
    let server = AuthServer::start(200, r#"{"ttl":60,"identity":"x","authorizations":[]}"#);
    let nsqd = Nsqd::start_with(&[&server.arg()]);
    let mut c = nsqd.conn();
    auth(&mut c, "s");
    c.expect_error("E_UNAUTHORIZED AUTH no authorizations found");
    c.expect_closed(CLOSE);
}

#[test]
fn auth_server_errors_stay_in_the_log() {
    let server = AuthServer::start(500, "boom");
    let nsqd = Nsqd::start_with(&[&server.arg()]);
    let mut c = nsqd.conn();
    auth(&mut c, "s");
    c.expect_error("E_AUTH_FAILED AUTH failed");
    c.expect_closed(CLOSE);
    let want = format!(
        "AUTH failed failed to auth against {} - got response 500 Internal Server Error \"boom\"",
        server.addr
    );
    assert!(nsqd.wait_for_log(&want, CLOSE), "{:?}", nsqd.logs());

    // Invalid answers are failures too (BEH-152).
    for (body, why) in [
        (
            r#"{"ttl":0,"authorizations":[]}"#,
            "invalid TTL 0 (must be >0)",
        ),
        (
            r#"{"ttl":5,"authorizations":[{"topic":"t","channels":[".*"],"permissions":["admin"]}]}"#,
            "unknown permission admin",
        ),
        (
            r#"{"ttl":5,"authorizations":[{"topic":"(","channels":[],"permissions":[]}]}"#,
            "unable to compile topic \"(\"",
        ),
    ] {
        server.set_reply(200, body);
        let mut c = nsqd.conn();
        auth(&mut c, "s");
        c.expect_error("E_AUTH_FAILED AUTH failed");
        c.expect_closed(CLOSE);
        assert!(nsqd.wait_for_log(why, CLOSE), "{why}: {:?}", nsqd.logs());
    }
}

#[test]
fn several_servers_are_tried_in_turn() {
    let server = AuthServer::start(200, &grant(3600, ".*", r#""publish""#));
    let dead = dead_addr();
    let nsqd = Nsqd::start_with(&[
        &format!("--auth-http-address={dead}"),
        &format!("--auth-http-address=http://{}/auth", server.addr),
    ]);
    // Whichever is tried first, the working one answers.
    for _ in 0..4 {
        let mut c = nsqd.conn();
        auth(&mut c, "s");
        c.expect_response(AUTH_OK.as_bytes());
    }

    let dead2 = dead_addr();
    let nsqd = Nsqd::start_with(&[
        &format!("--auth-http-address={dead}"),
        &format!("--auth-http-address={dead2}"),
    ]);
    let mut c = nsqd.conn();
    auth(&mut c, "s");
    c.expect_error("E_AUTH_FAILED AUTH failed");
    c.expect_closed(CLOSE);
    assert!(nsqd.wait_for_log("AUTH failed failed to auth against", CLOSE));
    let line = nsqd
        .logs()
        .into_iter()
        .find(|l| l.contains("AUTH failed failed to auth against"))
        .unwrap();
    assert!(
        line.contains(&format!("failed to auth against {dead} - ")),
        "{line}"
    );
    assert!(
        line.contains(&format!("failed to auth against {dead2} - ")),
        "{line}"
    );
    assert!(line.contains("; failed to auth against "), "{line}");
}

#[test]
fn post_mode_sends_a_json_body() {
    let server = AuthServer::start(200, &grant(3600, ".*", r#""publish""#));
    let nsqd = Nsqd::start_with(&[&server.arg(), "--auth-http-request-method=post"]);
    let mut c = nsqd.conn();
    auth(&mut c, "s3cret&<x>");
    c.expect_response(AUTH_OK.as_bytes());
    assert!(wait_until(CLOSE, || server.count() == 1));
    let reqs = server.requests();
    let r = &reqs[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.target, "/auth");
    assert_eq!(r.header("Content-Type"), Some("application/json"));
    assert_eq!(r.header("Accept"), Some("application/vnd.nsq; version=1.0"));
    assert_eq!(
        String::from_utf8(r.body.clone()).unwrap(),
        r#"{"common_name":[""],"remote_ip":["127.0.0.1"],"secret":["s3cret\u0026\u003cx\u003e"],"tls":["false"]}"#
    );
}

/// Sends one PUB and returns the reply frame.
fn try_publish(c: &mut RawConn, topic: &str) -> (i32, Vec<u8>) {
    c.cmd_body(&format!("PUB {topic}"), b"x");
    c.read_frame_skip_heartbeats()
}

#[test]
fn expired_ttl_queries_again() {
    let server = AuthServer::start(200, &grant(1, ".*", r#""publish""#));
    let nsqd = Nsqd::start_with(&[&server.arg()]);
    let mut c = nsqd.conn();
    auth(&mut c, "again");
    c.expect_response(AUTH_OK.as_bytes());

    // Publish until the TTL has run out and a PUB made nsqd ask again.
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.count() < 2 {
        assert!(Instant::now() < deadline, "no re-query after the TTL");
        assert_eq!(try_publish(&mut c, "t"), (FRAME_RESPONSE, b"OK".to_vec()));
        std::thread::sleep(Duration::from_millis(50));
    }
    let reqs = server.requests();
    assert_eq!(reqs[1].target, reqs[0].target, "same secret and parameters");

    // Once the server fails, the next check after expiry is a fatal E_AUTH_FAILED.
    server.set_reply(500, "down");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        assert!(Instant::now() < deadline, "no failed re-query");
        let (ft, data) = try_publish(&mut c, "t");
        if ft == FRAME_ERROR {
            assert_eq!(String::from_utf8_lossy(&data), "E_AUTH_FAILED AUTH failed");
            break;
        }
        assert_eq!((ft, data), (FRAME_RESPONSE, b"OK".to_vec()));
        std::thread::sleep(Duration::from_millis(50));
    }
    c.expect_closed(CLOSE);
}

#[test]
fn expired_ttl_with_narrower_grant_denies() {
    let server = AuthServer::start(200, &grant(1, ".*", r#""publish""#));
    let nsqd = Nsqd::start_with(&[&server.arg()]);
    let mut c = nsqd.conn();
    auth(&mut c, "s");
    c.expect_response(AUTH_OK.as_bytes());
    c.publish("wide", b"x");
    server.set_reply(200, &grant(60, "^narrow$", r#""publish""#));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        assert!(Instant::now() < deadline, "no re-query");
        let (ft, data) = try_publish(&mut c, "wide");
        if ft == FRAME_ERROR {
            assert_eq!(
                String::from_utf8_lossy(&data),
                r#"E_UNAUTHORIZED AUTH failed for PUB on "wide" """#
            );
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    c.expect_closed(CLOSE);
    assert!(wait_until(CLOSE, || server.count() == 2));
}

/// Reads one `[size][type][data]` frame.
fn read_frame(r: &mut impl Read) -> (i32, Vec<u8>) {
    let mut size = [0u8; 4];
    r.read_exact(&mut size).unwrap();
    let mut rest = vec![0u8; u32::from_be_bytes(size) as usize];
    r.read_exact(&mut rest).unwrap();
    let ft = i32::from_be_bytes(rest[..4].try_into().unwrap());
    (ft, rest[4..].to_vec())
}

fn command(line: &str, body: &[u8]) -> Vec<u8> {
    let mut v = format!("{line}\n").into_bytes();
    v.extend_from_slice(&(body.len() as u32).to_be_bytes());
    v.extend_from_slice(body);
    v
}

#[test]
fn tls_clients_send_tls_true_and_their_certificate_cn() {
    let certs = tls_support::certs();
    let server = AuthServer::start(200, &grant(3600, ".*", r#""publish""#));
    let mut args = certs.args();
    args.push(server.arg());
    args.push("--tls-client-auth-policy=require".to_string());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let nsqd = Nsqd::start_with(&args);

    let mut tcp = TcpStream::connect(nsqd.tcp_addr).unwrap();
    tcp.set_read_timeout(Some(CLOSE)).unwrap();
    tcp.write_all(b"  V2").unwrap();
    tcp.write_all(&command(
        "IDENTIFY",
        br#"{"tls_v1":true,"feature_negotiation":true}"#,
    ))
    .unwrap();
    let (ft, data) = read_frame(&mut tcp);
    assert_eq!(ft, FRAME_RESPONSE, "{}", String::from_utf8_lossy(&data));
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let conn = rustls::ClientConnection::new(certs.client(Some(&certs.client)), name).unwrap();
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    assert_eq!(read_frame(&mut tls), (FRAME_RESPONSE, b"OK".to_vec()));

    tls.write_all(&command("AUTH", b"tls-secret")).unwrap();
    assert_eq!(
        read_frame(&mut tls),
        (FRAME_RESPONSE, AUTH_OK.as_bytes().to_vec())
    );
    assert!(wait_until(CLOSE, || server.count() == 1));
    assert_eq!(
        server.requests()[0].target,
        "/auth?common_name=consumer&remote_ip=127.0.0.1&secret=tls-secret&tls=true"
    );
}
