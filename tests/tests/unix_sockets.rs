//! Unix-socket listeners (P-006, BEH-170, H-010, H-021): `--tcp-address` and `--http-address`
//! given as paths serve protocol V2 and the HTTP API over unix sockets.
#![cfg(unix)]

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nsq_tests::{Nsqd, FRAME_MESSAGE, FRAME_RESPONSE};

mod tls_support;

const TIMEOUT: Duration = Duration::from_secs(5);

fn connect(path: &Path) -> UnixStream {
    let s = UnixStream::connect(path).unwrap_or_else(|e| panic!("connect {path:?}: {e}"));
    s.set_read_timeout(Some(TIMEOUT)).unwrap();
    s.set_write_timeout(Some(TIMEOUT)).unwrap();
    s
}

/// Reads one V2 frame: `[4 size][4 type][data]`, skipping heartbeats.
fn read_frame(s: &mut impl Read) -> (i32, Vec<u8>) {
    loop {
        let mut head = [0u8; 8];
        s.read_exact(&mut head).expect("read frame header");
        let size = u32::from_be_bytes(head[0..4].try_into().unwrap()) as usize;
        let kind = i32::from_be_bytes(head[4..8].try_into().unwrap());
        let mut data = vec![0u8; size - 4];
        s.read_exact(&mut data).expect("read frame data");
        if kind == FRAME_RESPONSE && data == b"_heartbeat_" {
            continue;
        }
        return (kind, data);
    }
}

/// One HTTP/1.1 request over the unix socket; returns (status, body).
fn http_unix(path: &Path, method: &str, target: &str, body: &[u8]) -> (u16, String) {
    let mut s = connect(path);
    let head = format!(
        "{method} {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read HTTP response");
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").expect("HTTP head");
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_string()
    };
    (status, body)
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    loop {
        let (size, rest) = s.split_once("\r\n").unwrap();
        let size = usize::from_str_radix(size.trim(), 16).unwrap();
        if size == 0 {
            return out;
        }
        out.push_str(&rest[..size]);
        s = &rest[size + 2..];
    }
}

struct UnixNsqd {
    nsqd: Nsqd,
    tcp: PathBuf,
    http: PathBuf,
    _dir: tempfile::TempDir,
}

fn start_unix() -> UnixNsqd {
    let dir = tempfile::tempdir().unwrap();
    let tcp = dir.path().join("nsqd.sock");
    let http = dir.path().join("http.sock");
    let nsqd = Nsqd::start_with(&[
        &format!("--tcp-address={}", tcp.display()),
        &format!("--http-address={}", http.display()),
    ]);
    UnixNsqd {
        nsqd,
        tcp,
        http,
        _dir: dir,
    }
}

#[test]
fn listeners_log_their_paths() {
    let n = start_unix();
    assert_eq!(n.nsqd.tcp_listen, n.tcp.display().to_string());
    assert_eq!(n.nsqd.http_listen, n.http.display().to_string());
    let logs = n.nsqd.logs();
    for want in [
        format!("INFO: TCP: listening on {}", n.tcp.display()),
        format!("INFO: HTTP: listening on {}", n.http.display()),
    ] {
        assert!(
            logs.iter().any(|l| l.ends_with(&want)),
            "missing {want:?} in {logs:#?}"
        );
    }
}

#[test]
fn protocol_v2_over_a_unix_socket() {
    let n = start_unix();
    let mut s = connect(&n.tcp);
    s.write_all(b"  V2").unwrap();
    s.write_all(b"PUB t\n\0\0\0\x05hello").unwrap();
    assert_eq!(read_frame(&mut s), (FRAME_RESPONSE, b"OK".to_vec()));
    s.write_all(b"SUB t c\nRDY 1\n").unwrap();
    assert_eq!(read_frame(&mut s), (FRAME_RESPONSE, b"OK".to_vec()));
    let (kind, data) = read_frame(&mut s);
    assert_eq!(kind, FRAME_MESSAGE);
    assert_eq!(&data[26..], b"hello");
    let id = String::from_utf8(data[10..26].to_vec()).unwrap();
    s.write_all(format!("FIN {id}\nNOP\n").as_bytes()).unwrap();

    // Go prints an unnamed unix peer as "@", and its default client id and hostname (taken
    // from the host part of the address) are then empty.
    assert!(n.nsqd.wait_for_log("INFO: TCP: new client(@)", TIMEOUT));
    let (status, body) = http_unix(&n.http, "GET", "/stats?format=json", b"");
    assert_eq!(status, 200, "{body}");
    let stats: serde_json::Value = serde_json::from_str(&body).unwrap();
    let channel = nsq_tests::stats_channel(&stats, "t", "c").expect("channel t/c");
    assert_eq!(channel["message_count"], 1);
    let client = &channel["clients"][0];
    assert_eq!(client["remote_address"], "@");
    assert_eq!(client["hostname"], "");
    assert_eq!(client["client_id"], "");
    // The text form copes with a remote address that has no port.
    let (status, text) = http_unix(&n.http, "GET", "/stats", b"");
    assert_eq!(status, 200);
    assert!(text.contains("[V2 :"), "{text}");
}

#[test]
fn http_api_over_a_unix_socket_reports_port_minus_one() {
    let n = start_unix();
    let (status, body) = http_unix(&n.http, "GET", "/ping", b"");
    assert_eq!((status, body.as_str()), (200, "OK"));
    let (status, body) = http_unix(&n.http, "POST", "/pub?topic=u", b"msg");
    assert_eq!((status, body.as_str()), (200, "OK"));

    let (status, body) = http_unix(&n.http, "GET", "/info", b"");
    assert_eq!(status, 200, "{body}");
    let info: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(info["tcp_port"], -1);
    assert_eq!(info["http_port"], -1);
    // The broadcast ports stay 0 when not set (BEH-170).
    let (_, port) = http_unix(&n.http, "GET", "/config/broadcast_tcp_port", b"");
    assert_eq!(port, "0");
    let (_, port) = http_unix(&n.http, "GET", "/config/broadcast_http_port", b"");
    assert_eq!(port, "0");
    // H-007: the request log shows the unix peer as "@".
    assert!(n.nsqd.wait_for_log("INFO: 200 GET /info (@) ", TIMEOUT));
}

#[test]
fn a_tcp_listener_with_a_unix_http_listener_reports_each_port() {
    let dir = tempfile::tempdir().unwrap();
    let http = dir.path().join("h.sock");
    let n = Nsqd::start_with(&[&format!("--http-address={}", http.display())]);
    let (_, body) = http_unix(&http, "GET", "/info", b"");
    let info: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(info["tcp_port"], i64::from(n.tcp_addr.port()));
    assert_eq!(info["http_port"], -1);
}

#[test]
fn clean_shutdown_removes_the_socket_files() {
    let mut n = start_unix();
    assert!(n.tcp.exists() && n.http.exists());
    assert!(n.nsqd.terminate().success());
    assert!(!n.tcp.exists(), "{:?} left behind", n.tcp);
    assert!(!n.http.exists(), "{:?} left behind", n.http);
}

#[test]
fn a_stale_socket_file_fails_the_start_like_the_reference() {
    let dir = tempfile::tempdir().unwrap();
    let tcp = dir.path().join("stale.sock");
    // A listener that went away without removing its file (as after a crash).
    drop(std::os::unix::net::UnixListener::bind(&tcp).unwrap());
    assert!(tcp.exists());
    let data = tempfile::tempdir().unwrap();
    let out = Nsqd::spawn_raw(&[
        &format!("--tcp-address={}", tcp.display()),
        "--http-address=127.0.0.1:0",
        &format!("--data-path={}", data.path().display()),
    ])
    .wait_output(Duration::from_secs(10));
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let want = format!(
        "FATAL: failed to instantiate nsqd - listen ({}) failed - ",
        tcp.display()
    );
    assert!(stderr.contains(&want), "{stderr}");
    assert!(stderr.contains("in use"), "{stderr}");
}

/// A one-shot auth server: answers the first request with a grant and returns its request line.
fn auth_server_once() -> (std::net::SocketAddr, std::thread::JoinHandle<String>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let handle = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        conn.set_read_timeout(Some(TIMEOUT)).unwrap();
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            conn.read_exact(&mut byte).unwrap();
            head.push(byte[0]);
        }
        let body = r#"{"ttl":3600,"identity":"u","identity_url":"","authorizations":[{"topic":".*","channels":[".*"],"permissions":["publish","subscribe"]}]}"#;
        let reply = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        conn.write_all(reply.as_bytes()).unwrap();
        let head = String::from_utf8(head).unwrap();
        head.lines().next().unwrap().to_string()
    });
    (addr, handle)
}

#[test]
fn auth_requests_for_unix_socket_clients_have_an_empty_remote_ip() {
    let (auth_addr, auth) = auth_server_once();
    let dir = tempfile::tempdir().unwrap();
    let tcp = dir.path().join("nsqd.sock");
    let _nsqd = Nsqd::start_with(&[
        &format!("--tcp-address={}", tcp.display()),
        &format!("--auth-http-address={auth_addr}"),
    ]);
    let mut s = connect(&tcp);
    s.write_all(b"  V2AUTH\n\0\0\0\x01s").unwrap();
    assert_eq!(
        read_frame(&mut s),
        (
            FRAME_RESPONSE,
            br#"{"identity":"u","identity_url":"","permission_count":1}"#.to_vec()
        )
    );
    assert_eq!(
        auth.join().unwrap(),
        "GET /auth?common_name=&remote_ip=&secret=s&tls=false HTTP/1.1"
    );
}

#[test]
fn tls_upgrade_over_a_unix_socket() {
    let certs = tls_support::certs();
    let dir = tempfile::tempdir().unwrap();
    let tcp = dir.path().join("nsqd.sock");
    let mut args = certs.args();
    args.push(format!("--tcp-address={}", tcp.display()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let _nsqd = Nsqd::start_with(&args);

    let mut s = connect(&tcp);
    let body = br#"{"feature_negotiation":true,"tls_v1":true}"#;
    let mut cmd = b"  V2IDENTIFY\n".to_vec();
    cmd.extend_from_slice(&(body.len() as u32).to_be_bytes());
    cmd.extend_from_slice(body);
    s.write_all(&cmd).unwrap();
    let (kind, json) = read_frame(&mut s);
    assert_eq!(kind, FRAME_RESPONSE);
    let json: serde_json::Value = serde_json::from_slice(&json).unwrap();
    assert_eq!(json["tls_v1"], true);

    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let conn = rustls::ClientConnection::new(certs.client(None), name).unwrap();
    let mut tls = rustls::StreamOwned::new(conn, s);
    assert_eq!(read_frame(&mut tls), (FRAME_RESPONSE, b"OK".to_vec()));
    tls.write_all(b"PUB t\n\0\0\0\x01x").unwrap();
    assert_eq!(read_frame(&mut tls), (FRAME_RESPONSE, b"OK".to_vec()));
}
