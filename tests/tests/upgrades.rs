//! Stream upgrades negotiated by IDENTIFY (P-070..P-072, P-080..P-082), the TLS-required
//! policy (P-071, H-005), the HTTPS listener (BEH-143, LOG-003), TLS start-up errors
//! (BEH-142, BEH-220) and the TLS fields of `/stats` (H-043, H-044).
//!
//! The client side uses independent implementations: rustls for TLS, the `snap` crate's
//! framing reader and writer for snappy, flate2 for raw DEFLATE. Certificates are made at test
//! time with rcgen.

use std::cell::RefCell;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use nsq_tests::{http_get, Nsqd, RawConn, FRAME_ERROR, FRAME_MESSAGE, FRAME_RESPONSE};
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, StreamOwned};

mod tls_support;
use tls_support::{certs, Certs};

const IO_TIMEOUT: Duration = Duration::from_secs(10);
const CLOSE: Duration = Duration::from_secs(5);
/// The `OK` response frame: size 6, type 0, data `OK`.
const OK_FRAME: &[u8] = b"\x00\x00\x00\x06\x00\x00\x00\x00OK";

fn start_tls_nsqd(certs: &Certs, extra: &[&str]) -> Nsqd {
    let mut args = certs.args();
    args.extend(extra.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Nsqd::start_with(&args)
}

// ---------------------------------------------------------------------------------------------
// A client whose layers change the way the server's do

trait Transport: Read + Write {}
impl<T: Read + Write> Transport for T {}

/// The current bottom layer (TCP or TLS), shared by the reading and writing halves.
#[derive(Clone)]
struct Shared(Rc<RefCell<Box<dyn Transport>>>);

impl Read for Shared {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.borrow_mut().read(buf)
    }
}

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.borrow_mut().write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.0.borrow_mut().flush()
    }
}

enum Reader {
    Plain(Shared),
    Snappy(Box<snap::read::FrameDecoder<Shared>>),
    Deflate(Box<Inflater>),
}

/// Raw DEFLATE reading that hands out what is already decoded before reading the socket
/// again (flate2's own reader waits for more input first, which a live stream may not send).
struct Inflater {
    src: Shared,
    raw: flate2::Decompress,
    out: Vec<u8>,
    pos: usize,
}

impl Read for Inflater {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.out.len() {
            self.out.clear();
            self.pos = 0;
            let mut input = [0u8; 16 * 1024];
            let n = self.src.read(&mut input)?;
            if n == 0 {
                return Ok(0);
            }
            let mut used = 0;
            while used < n {
                self.out.reserve(64 * 1024);
                let before = self.raw.total_in();
                self.raw
                    .decompress_vec(
                        &input[used..n],
                        &mut self.out,
                        flate2::FlushDecompress::Sync,
                    )
                    .map_err(io::Error::other)?;
                used += (self.raw.total_in() - before) as usize;
            }
            // Output the decompressor still holds once the input is used up.
            loop {
                self.out.reserve(64 * 1024);
                let before = self.out.len();
                self.raw
                    .decompress_vec(&[], &mut self.out, flate2::FlushDecompress::Sync)
                    .map_err(io::Error::other)?;
                if self.out.len() == before {
                    break;
                }
            }
        }
        let n = buf.len().min(self.out.len() - self.pos);
        buf[..n].copy_from_slice(&self.out[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

enum Writer {
    Plain(Shared),
    Snappy(Box<snap::write::FrameEncoder<Shared>>),
    Deflate(Box<flate2::write::DeflateEncoder<Shared>>),
}

struct Client {
    tcp: TcpStream,
    bottom: Shared,
    reader: Reader,
    writer: Writer,
}

impl Client {
    fn connect(addr: SocketAddr) -> Client {
        let tcp = TcpStream::connect_timeout(&addr, IO_TIMEOUT).unwrap();
        tcp.set_nodelay(true).unwrap();
        tcp.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        tcp.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
        let bottom = Shared(Rc::new(RefCell::new(Box::new(tcp.try_clone().unwrap()))));
        let mut c = Client {
            tcp,
            reader: Reader::Plain(bottom.clone()),
            writer: Writer::Plain(bottom.clone()),
            bottom,
        };
        c.send(b"  V2");
        c
    }

    fn send(&mut self, bytes: &[u8]) {
        let w: &mut dyn Write = match &mut self.writer {
            Writer::Plain(w) => w,
            Writer::Snappy(w) => w.as_mut(),
            Writer::Deflate(w) => w.as_mut(),
        };
        w.write_all(bytes).unwrap();
        w.flush().unwrap();
    }

    fn cmd(&mut self, line: &str) {
        self.send(format!("{line}\n").as_bytes());
    }

    fn cmd_body(&mut self, line: &str, body: &[u8]) {
        let mut v = format!("{line}\n").into_bytes();
        v.extend_from_slice(&(body.len() as u32).to_be_bytes());
        v.extend_from_slice(body);
        self.send(&v);
    }

    fn read_exact(&mut self, buf: &mut [u8]) -> io::Result<()> {
        match &mut self.reader {
            Reader::Plain(r) => r.read_exact(buf),
            Reader::Snappy(r) => r.read_exact(buf),
            Reader::Deflate(r) => r.read_exact(buf),
        }
    }

    fn read_frame(&mut self) -> (i32, Vec<u8>) {
        loop {
            let mut head = [0u8; 8];
            self.read_exact(&mut head).unwrap();
            let size = u32::from_be_bytes(head[..4].try_into().unwrap()) as usize;
            let ft = i32::from_be_bytes(head[4..].try_into().unwrap());
            let mut data = vec![0u8; size - 4];
            self.read_exact(&mut data).unwrap();
            if ft == FRAME_RESPONSE && data == b"_heartbeat_" {
                continue;
            }
            return (ft, data);
        }
    }

    fn expect_response(&mut self, want: &[u8]) {
        let (ft, data) = self.read_frame();
        assert_eq!(
            (ft, String::from_utf8_lossy(&data).into_owned()),
            (FRAME_RESPONSE, String::from_utf8_lossy(want).into_owned())
        );
    }

    /// IDENTIFY with `json`; returns the feature-negotiation answer.
    fn identify(&mut self, json: &str) -> serde_json::Value {
        self.cmd_body("IDENTIFY", json.as_bytes());
        let (ft, data) = self.read_frame();
        assert_eq!(ft, FRAME_RESPONSE, "{}", String::from_utf8_lossy(&data));
        serde_json::from_slice(&data).unwrap()
    }

    fn start_tls(&mut self, config: Arc<ClientConfig>) {
        let name = ServerName::try_from("localhost").unwrap();
        let conn = ClientConnection::new(config, name).unwrap();
        let tls = StreamOwned::new(conn, self.tcp.try_clone().unwrap());
        *self.bottom.0.borrow_mut() = Box::new(tls);
    }

    fn start_snappy(&mut self) {
        self.reader = Reader::Snappy(Box::new(snap::read::FrameDecoder::new(self.bottom.clone())));
        self.writer = Writer::Snappy(Box::new(snap::write::FrameEncoder::new(
            self.bottom.clone(),
        )));
    }

    fn start_deflate(&mut self, level: u32) {
        self.reader = Reader::Deflate(Box::new(Inflater {
            src: self.bottom.clone(),
            raw: flate2::Decompress::new(false),
            out: Vec::new(),
            pos: 0,
        }));
        self.writer = Writer::Deflate(Box::new(flate2::write::DeflateEncoder::new(
            self.bottom.clone(),
            flate2::Compression::new(level),
        )));
    }

    /// Bytes straight off the socket, under every layer.
    fn raw_read_exact(&mut self, n: usize) -> Vec<u8> {
        let mut v = vec![0u8; n];
        self.tcp.read_exact(&mut v).unwrap();
        v
    }

    /// Whether the server closed the connection (EOF or reset) before `timeout`.
    fn closed_within(&mut self, timeout: Duration) -> bool {
        self.tcp.set_read_timeout(Some(timeout)).unwrap();
        let mut buf = [0u8; 4096];
        loop {
            match self.tcp.read(&mut buf) {
                Ok(0) => return true,
                Ok(_) => continue,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    return false
                }
                Err(_) => return true,
            }
        }
    }

    fn publish(&mut self, topic: &str, body: &[u8]) {
        self.cmd_body(&format!("PUB {topic}"), body);
        self.expect_response(b"OK");
    }

    fn mpub(&mut self, topic: &str, bodies: &[Vec<u8>]) {
        let refs: Vec<&[u8]> = bodies.iter().map(Vec::as_slice).collect();
        self.cmd_body(&format!("MPUB {topic}"), &nsq_tests::mpub_body(&refs));
        self.expect_response(b"OK");
    }

    /// The body of the next message; FINs it.
    fn consume(&mut self) -> Vec<u8> {
        let (ft, data) = self.read_frame();
        assert_eq!(ft, FRAME_MESSAGE, "{}", String::from_utf8_lossy(&data));
        let id = String::from_utf8(data[10..26].to_vec()).unwrap();
        self.cmd(&format!("FIN {id}"));
        data[26..].to_vec()
    }
}

fn negotiate(features: &str) -> String {
    format!(
        r#"{{"feature_negotiation":true,"client_id":"upgrader","heartbeat_interval":30000,{features}}}"#
    )
}

/// Bodies of assorted sizes, including ones over a 64 KiB snappy block and compressible runs.
fn bodies() -> Vec<Vec<u8>> {
    let mut v: Vec<Vec<u8>> = (0..200)
        .map(|i| format!("message {i} {}", "x".repeat(i % 37)).into_bytes())
        .collect();
    v.push(vec![0u8; 150_000]);
    v.push(
        (0..100_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect(),
    );
    v
}

/// Publishes `bodies()` on `producer` and reads them all back on `consumer`, in order.
fn round_trip(producer: &mut Client, consumer: &mut Client, topic: &str) {
    consumer.cmd(&format!("SUB {topic} ch"));
    consumer.expect_response(b"OK");
    consumer.cmd("RDY 1000");
    let all = bodies();
    let (singles, batch) = all.split_at(100);
    for b in singles {
        producer.publish(topic, b);
    }
    producer.mpub(topic, batch);
    for want in &all {
        let got = consumer.consume();
        assert_eq!(got.len(), want.len());
        assert!(got == *want, "body of {} bytes differs", want.len());
    }
}

/// CRC-32C (Castagnoli), bit by bit: independent of the crates under test.
fn crc32c(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0x82f6_3b78
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn masked(crc: u32) -> u32 {
    crc.rotate_right(15).wrapping_add(0xa282_ead8)
}

// ---------------------------------------------------------------------------------------------
// Negotiation

#[test]
fn features_are_offered_only_when_enabled() {
    // P-070: without a certificate there is no TLS; snappy and deflate are on by default.
    let nsqd = Nsqd::start();
    let mut c = Client::connect(nsqd.tcp_addr);
    let r = c.identify(&negotiate(r#""tls_v1":true"#));
    assert_eq!(r["tls_v1"], false);
    assert_eq!(r["snappy"], false);
    assert_eq!(r["deflate"], false);
    // No upgrade happened: the connection goes on in the clear.
    c.publish("plain_after_identify", b"x");

    let nsqd = Nsqd::start_with(&["--snappy=false", "--deflate=false"]);
    let mut c = Client::connect(nsqd.tcp_addr);
    let r = c.identify(&negotiate(r#""snappy":true"#));
    assert_eq!(r["snappy"], false);
    c.publish("t", b"x");
    let mut c = Client::connect(nsqd.tcp_addr);
    let r = c.identify(&negotiate(r#""deflate":true,"snappy":true"#));
    assert_eq!(
        (r["snappy"].clone(), r["deflate"].clone()),
        (false.into(), false.into())
    );
    c.publish("t", b"x");
}

#[test]
fn snappy_and_deflate_together_are_refused() {
    // P-072, through our own client too: the error comes in the clear and the socket closes.
    let nsqd = Nsqd::start();
    let mut c = nsqd.conn();
    let body = br#"{"feature_negotiation":true,"snappy":true,"deflate":true}"#;
    c.cmd_body("IDENTIFY", body);
    c.expect_error("E_IDENTIFY_FAILED cannot enable both deflate and snappy compression");
    c.expect_closed(CLOSE);
}

#[test]
fn without_feature_negotiation_nothing_is_upgraded() {
    let certs = certs();
    let nsqd = start_tls_nsqd(&certs, &[]);
    let mut c = nsqd.conn();
    c.identify(r#"{"tls_v1":true,"snappy":true}"#);
    c.publish("t", b"still plain");
}

// ---------------------------------------------------------------------------------------------
// Snappy

#[test]
fn snappy_ok_frame_is_an_uncompressed_chunk_after_the_stream_identifier() {
    // P-080 step 2, byte for byte.
    let nsqd = Nsqd::start();
    let mut c = Client::connect(nsqd.tcp_addr);
    let r = c.identify(&negotiate(r#""snappy":true"#));
    assert_eq!(r["snappy"], true);
    assert_eq!(r["deflate"], false);
    let mut want = b"\xff\x06\x00\x00sNaPpY".to_vec();
    want.extend_from_slice(&[0x01, 14, 0, 0]);
    want.extend_from_slice(&masked(crc32c(OK_FRAME)).to_le_bytes());
    want.extend_from_slice(OK_FRAME);
    assert_eq!(c.raw_read_exact(want.len()), want);
}

#[test]
fn snappy_moves_messages_both_ways() {
    let nsqd = Nsqd::start();
    let mut p = Client::connect(nsqd.tcp_addr);
    p.identify(&negotiate(r#""snappy":true"#));
    p.start_snappy();
    p.expect_response(b"OK");
    let mut s = Client::connect(nsqd.tcp_addr);
    s.identify(&negotiate(r#""snappy":true,"output_buffer_timeout":25"#));
    s.start_snappy();
    s.expect_response(b"OK");
    round_trip(&mut p, &mut s, "snappy_topic");

    let stats = nsqd.stats();
    let client = &nsq_tests::stats_channel(&stats, "snappy_topic", "ch").unwrap()["clients"][0];
    assert_eq!(client["snappy"], true);
    assert_eq!(client["deflate"], false);
    assert_eq!(client["tls"], false);
    assert_eq!(client["tls_version"], "");
}

#[test]
fn corrupt_snappy_input_closes_the_connection() {
    let nsqd = Nsqd::start();
    let mut c = Client::connect(nsqd.tcp_addr);
    c.identify(&negotiate(r#""snappy":true"#));
    c.start_snappy();
    c.expect_response(b"OK");
    // A chunk before any stream identifier of ours: the server's decoder must refuse it.
    c.tcp
        .write_all(&[0x01, 0x08, 0x00, 0x00, 0, 0, 0, 0, b'N', b'O', b'P', b'\n'])
        .unwrap();
    assert!(c.closed_within(CLOSE));
    assert!(nsqd.wait_for_log("snappy: corrupt input", CLOSE));
}

// ---------------------------------------------------------------------------------------------
// Deflate

#[test]
fn deflate_ok_frame_is_sync_flushed_raw_deflate() {
    // P-080 step 3: raw DEFLATE (no zlib header), ending in a sync flush.
    let nsqd = Nsqd::start_with(&["--max-deflate-level=9"]);
    let mut c = Client::connect(nsqd.tcp_addr);
    let r = c.identify(&negotiate(r#""deflate":true,"deflate_level":9"#));
    assert_eq!(r["deflate"], true);
    assert_eq!(r["deflate_level"], 9);
    assert_eq!(r["max_deflate_level"], 9);
    let mut raw = Vec::new();
    while !raw.ends_with(&[0x00, 0x00, 0xff, 0xff]) {
        raw.extend(c.raw_read_exact(1));
        assert!(raw.len() < 64, "no sync flush after {raw:?}");
    }
    let mut d = flate2::Decompress::new(false);
    let mut out = vec![0u8; 64];
    d.decompress(&raw, &mut out, flate2::FlushDecompress::Sync)
        .unwrap();
    assert_eq!(&out[..d.total_out() as usize], OK_FRAME);
}

#[test]
fn deflate_level_is_clamped_to_the_server_maximum() {
    let nsqd = Nsqd::start_with(&["--max-deflate-level=3"]);
    let mut c = Client::connect(nsqd.tcp_addr);
    let r = c.identify(&negotiate(r#""deflate":true,"deflate_level":9"#));
    assert_eq!(
        (r["deflate_level"].clone(), r["max_deflate_level"].clone()),
        (3.into(), 3.into())
    );
    c.start_deflate(3);
    c.expect_response(b"OK");
    c.publish("t", b"x");
    assert!(nsqd.wait_for_log("upgrading connection to deflate (level 3)", CLOSE));
}

#[test]
fn deflate_moves_messages_both_ways() {
    let nsqd = Nsqd::start();
    let mut p = Client::connect(nsqd.tcp_addr);
    p.identify(&negotiate(r#""deflate":true"#));
    p.start_deflate(6);
    p.expect_response(b"OK");
    let mut s = Client::connect(nsqd.tcp_addr);
    s.identify(&negotiate(r#""deflate":true,"deflate_level":1"#));
    s.start_deflate(1);
    s.expect_response(b"OK");
    round_trip(&mut p, &mut s, "deflate_topic");
    let stats = nsqd.stats();
    let client = &nsq_tests::stats_channel(&stats, "deflate_topic", "ch").unwrap()["clients"][0];
    assert_eq!(client["deflate"], true);
    assert_eq!(client["snappy"], false);
}

// ---------------------------------------------------------------------------------------------
// TLS

#[test]
fn tls_ok_frame_comes_over_tls_then_everything_does() {
    let certs = certs();
    let nsqd = start_tls_nsqd(&certs, &[]);
    let mut p = Client::connect(nsqd.tcp_addr);
    let r = p.identify(&negotiate(r#""tls_v1":true"#));
    assert_eq!(r["tls_v1"], true);
    p.start_tls(certs.client(None));
    p.expect_response(b"OK");
    let mut s = Client::connect(nsqd.tcp_addr);
    s.identify(&negotiate(r#""tls_v1":true"#));
    s.start_tls(certs.client(None));
    s.expect_response(b"OK");
    round_trip(&mut p, &mut s, "tls_topic");

    // H-043/H-044 (QRK-16): a TLS 1.3 suite has no name.
    let stats = nsqd.stats();
    let client = &nsq_tests::stats_channel(&stats, "tls_topic", "ch").unwrap()["clients"][0];
    assert_eq!(client["tls"], true);
    assert_eq!(client["tls_version"], "TLS1.3");
    let suite = client["tls_cipher_suite"].as_str().unwrap();
    assert!(
        ["Unknown 4865", "Unknown 4866", "Unknown 4867"].contains(&suite),
        "{suite}"
    );
    assert_eq!(client["tls_negotiated_protocol"], "");
    assert_eq!(client["tls_negotiated_protocol_is_mutual"], true);
}

#[test]
fn closing_without_close_notify_is_a_clean_end() {
    // Clients rarely send a TLS close_notify; Go treats the bare EOF as the end of the stream.
    let certs = certs();
    let nsqd = start_tls_nsqd(&certs, &[]);
    let mut c = Client::connect(nsqd.tcp_addr);
    c.identify(&negotiate(r#""tls_v1":true"#));
    c.start_tls(certs.client(None));
    c.expect_response(b"OK");
    let local = c.tcp.local_addr().unwrap().to_string();
    drop(c);
    assert!(nsqd.wait_for_log(&format!("[{local}] exiting ioloop"), CLOSE));
    let errors: Vec<String> = nsqd
        .logs()
        .into_iter()
        .filter(|l| l.contains("ERROR") && l.contains(&local))
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
}

#[test]
fn tls12_session_shows_the_go_suite_name() {
    let certs = certs();
    let nsqd = start_tls_nsqd(&certs, &[]);
    let provider = rustls::crypto::CryptoProvider {
        cipher_suites: vec![
            rustls::crypto::ring::cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        ],
        ..rustls::crypto::ring::default_provider()
    };
    let mut c = Client::connect(nsqd.tcp_addr);
    c.identify(&negotiate(r#""tls_v1":true"#));
    c.start_tls(certs.client_with(provider, None, true));
    c.expect_response(b"OK");
    c.cmd("SUB tls12 ch");
    c.expect_response(b"OK");
    let stats = nsqd.stats();
    let client = &nsq_tests::stats_channel(&stats, "tls12", "ch").unwrap()["clients"][0];
    assert_eq!(client["tls_version"], "TLS1.2");
    assert_eq!(
        client["tls_cipher_suite"],
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"
    );
}

#[test]
fn tls_min_version_tls13_refuses_a_tls12_client() {
    let certs = certs();
    let nsqd = start_tls_nsqd(&certs, &["--tls-min-version=tls1.3"]);
    let mut c = Client::connect(nsqd.tcp_addr);
    c.identify(&negotiate(r#""tls_v1":true"#));
    c.start_tls(certs.client_with(rustls::crypto::ring::default_provider(), None, true));
    let mut buf = [0u8; 1];
    assert!(c.read_exact(&mut buf).is_err());
    assert!(nsqd.wait_for_log("E_IDENTIFY_FAILED IDENTIFY failed ", CLOSE));
}

#[test]
fn tls_then_snappy_each_confirmed_through_the_new_layer() {
    // C-002 order: TLS first, then the compression; each OK through the new layer.
    let certs = certs();
    let nsqd = start_tls_nsqd(&certs, &[]);
    let mut p = Client::connect(nsqd.tcp_addr);
    let r = p.identify(&negotiate(r#""tls_v1":true,"snappy":true"#));
    assert_eq!(
        (r["tls_v1"].clone(), r["snappy"].clone()),
        (true.into(), true.into())
    );
    p.start_tls(certs.client(None));
    p.expect_response(b"OK");
    p.start_snappy();
    p.expect_response(b"OK");
    let mut s = Client::connect(nsqd.tcp_addr);
    s.identify(&negotiate(r#""tls_v1":true,"snappy":true"#));
    s.start_tls(certs.client(None));
    s.expect_response(b"OK");
    s.start_snappy();
    s.expect_response(b"OK");
    round_trip(&mut p, &mut s, "tls_snappy");
    let stats = nsqd.stats();
    let client = &nsq_tests::stats_channel(&stats, "tls_snappy", "ch").unwrap()["clients"][0];
    assert_eq!(
        (client["tls"].clone(), client["snappy"].clone()),
        (true.into(), true.into())
    );
}

#[test]
fn tls_then_deflate_each_confirmed_through_the_new_layer() {
    let certs = certs();
    let nsqd = start_tls_nsqd(&certs, &[]);
    let mut p = Client::connect(nsqd.tcp_addr);
    p.identify(&negotiate(r#""tls_v1":true,"deflate":true"#));
    p.start_tls(certs.client(None));
    p.expect_response(b"OK");
    p.start_deflate(6);
    p.expect_response(b"OK");
    let mut s = Client::connect(nsqd.tcp_addr);
    s.identify(&negotiate(
        r#""tls_v1":true,"deflate":true,"deflate_level":2"#,
    ));
    s.start_tls(certs.client(None));
    s.expect_response(b"OK");
    s.start_deflate(2);
    s.expect_response(b"OK");
    round_trip(&mut p, &mut s, "tls_deflate");
}

#[test]
fn a_second_identify_does_not_upgrade_again() {
    let certs = certs();
    let nsqd = start_tls_nsqd(&certs, &[]);
    let mut c = Client::connect(nsqd.tcp_addr);
    c.identify(&negotiate(r#""tls_v1":true,"snappy":true"#));
    c.start_tls(certs.client(None));
    c.expect_response(b"OK");
    c.start_snappy();
    c.expect_response(b"OK");
    let r = c.identify(&negotiate(r#""tls_v1":true,"snappy":true"#));
    assert_eq!(
        (r["tls_v1"].clone(), r["snappy"].clone()),
        (false.into(), false.into())
    );
    // Still one TLS session with one snappy stream: the next command works as before.
    c.publish("twice", b"fine");
}

#[test]
fn a_failed_handshake_is_fatal_with_identify_failed() {
    // P-081: the error frame goes out in the clear (after whatever TLS alert the handshake
    // sent), then the connection closes.
    let certs = certs();
    let nsqd = start_tls_nsqd(&certs, &[]);
    let mut c = Client::connect(nsqd.tcp_addr);
    c.identify(&negotiate(r#""tls_v1":true"#));
    c.tcp
        .write_all(b"this is not a ClientHello\n\n\n\n\n\n\n\n")
        .unwrap();
    let mut rest = Vec::new();
    let _ = c.tcp.read_to_end(&mut rest);
    let text = b"E_IDENTIFY_FAILED IDENTIFY failed ";
    let at = rest
        .windows(text.len())
        .position(|w| w == text)
        .unwrap_or_else(|| panic!("no E_IDENTIFY_FAILED frame in {rest:?}"));
    assert!(at >= 8);
    let size = u32::from_be_bytes(rest[at - 8..at - 4].try_into().unwrap()) as usize;
    let frame_type = i32::from_be_bytes(rest[at - 4..at].try_into().unwrap());
    assert_eq!(frame_type, FRAME_ERROR);
    assert_eq!(
        at - 4 + size,
        rest.len(),
        "the error frame is the last thing sent"
    );
    assert!(nsqd.wait_for_log("E_IDENTIFY_FAILED IDENTIFY failed ", CLOSE));
}

#[test]
fn a_client_that_never_starts_tls_is_dropped() {
    // P-080: the handshake has a 5 s deadline.
    let certs = certs();
    let nsqd = start_tls_nsqd(&certs, &[]);
    let mut c = Client::connect(nsqd.tcp_addr);
    c.identify(&negotiate(r#""tls_v1":true"#));
    assert!(c.closed_within(Duration::from_secs(15)));
}

#[test]
fn client_certificate_policies() {
    // BEH-140: `require` wants any certificate; `require-verify` one the roots vouch for.
    let certs = certs();
    let handshake = |nsqd: &Nsqd, identity: Option<&(CertificateDer<'static>, Vec<u8>)>| {
        let mut c = Client::connect(nsqd.tcp_addr);
        c.identify(&negotiate(r#""tls_v1":true"#));
        c.start_tls(certs.client(identity));
        let mut head = [0u8; 10];
        c.read_exact(&mut head).is_ok() && head == OK_FRAME
    };

    let nsqd = start_tls_nsqd(&certs, &["--tls-client-auth-policy=require"]);
    assert!(!handshake(&nsqd, None));
    assert!(handshake(&nsqd, Some(&certs.rogue_client)));

    let ca = format!("--tls-root-ca-file={}", certs.ca_file.display());
    let nsqd = start_tls_nsqd(&certs, &["--tls-client-auth-policy=require-verify", &ca]);
    assert!(!handshake(&nsqd, None));
    assert!(!handshake(&nsqd, Some(&certs.rogue_client)));
    assert!(handshake(&nsqd, Some(&certs.client)));

    // Any other value asks for nothing (QRK-15).
    let nsqd = start_tls_nsqd(&certs, &["--tls-client-auth-policy=whatever"]);
    assert!(handshake(&nsqd, None));
}

// ---------------------------------------------------------------------------------------------
// TLS required

#[test]
fn tls_required_refuses_every_command_but_identify_until_upgraded() {
    // P-071, with the exact texts.
    let certs = certs();
    let nsqd = start_tls_nsqd(&certs, &["--tls-required=true"]);
    for (line, err) in [
        (
            "NOP",
            "E_INVALID cannot NOP in current state (TLS required)",
        ),
        ("", "E_INVALID cannot  in current state (TLS required)"),
        (
            "PUB t",
            "E_INVALID cannot PUB in current state (TLS required)",
        ),
        (
            "AUTH",
            "E_INVALID cannot AUTH in current state (TLS required)",
        ),
        (
            "SUB t c",
            "E_INVALID cannot SUB in current state (TLS required)",
        ),
    ] {
        let mut c = nsqd.conn();
        c.cmd(line);
        c.expect_error(err);
        c.expect_closed(CLOSE);
    }
    // IDENTIFY without TLS is answered, but the policy still holds afterwards.
    let mut c = nsqd.conn();
    c.identify(r#"{"client_id":"x"}"#);
    c.nop();
    c.expect_error("E_INVALID cannot NOP in current state (TLS required)");

    let mut c = Client::connect(nsqd.tcp_addr);
    c.identify(&negotiate(r#""tls_v1":true"#));
    c.start_tls(certs.client(None));
    c.expect_response(b"OK");
    c.publish("secure", b"only over TLS");
}

#[test]
fn tcp_https_also_requires_tls_on_tcp() {
    let certs = certs();
    let nsqd = start_tls_nsqd(&certs, &["--tls-required=tcp-https"]);
    let mut c = nsqd.conn();
    c.cmd("NOP");
    c.expect_error("E_INVALID cannot NOP in current state (TLS required)");
    // Plain HTTP stays open in this mode (H-005).
    assert_eq!(http_get(nsqd.http_addr, "/ping").status, 200);
}

#[test]
fn a_client_auth_policy_implies_tls_required() {
    // BEH-141.
    let certs = certs();
    let nsqd = start_tls_nsqd(&certs, &["--tls-client-auth-policy=require"]);
    let mut c = nsqd.conn();
    c.cmd("NOP");
    c.expect_error("E_INVALID cannot NOP in current state (TLS required)");
}

// ---------------------------------------------------------------------------------------------
// HTTPS

/// One GET over TLS; (status, body).
fn https_get(addr: SocketAddr, path: &str, config: Arc<ClientConfig>) -> (u16, String) {
    let tcp = TcpStream::connect_timeout(&addr, IO_TIMEOUT).unwrap();
    tcp.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    let conn = ClientConnection::new(config, ServerName::try_from("localhost").unwrap()).unwrap();
    let mut tls = StreamOwned::new(conn, tcp);
    write!(
        tls,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    // The server may close without close_notify; what arrived before counts.
    let _ = tls.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP status in {text:?}"));
    let body = text
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_string();
    (status, body)
}

#[test]
fn https_listener_serves_the_api() {
    // BEH-143, LOG-003.
    let certs = certs();
    let nsqd = start_tls_nsqd(&certs, &["--https-address=127.0.0.1:0"]);
    let https = nsqd
        .https_addr()
        .expect("HTTPS: listening on <addr> in the log");
    assert_ne!(https.port(), 0);
    let (status, body) = https_get(https, "/ping", certs.client(None));
    assert_eq!((status, body.as_str()), (200, "OK"));
    let (status, body) = https_get(https, "/info", certs.client(None));
    assert_eq!(status, 200);
    let info: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(info["http_port"], nsqd.http_addr.port());
    assert_eq!(info["tcp_port"], nsqd.tcp_addr.port());
    assert!(info.get("https_port").is_none());
}

#[test]
fn no_https_listener_without_a_certificate() {
    let nsqd = Nsqd::start_with(&["--https-address=127.0.0.1:0"]);
    assert!(nsqd.https_addr().is_none());
}

#[test]
fn tls_required_true_closes_plain_http_but_not_https() {
    // H-005: the 403 names the HTTPS listener's real port.
    let certs = certs();
    let nsqd = start_tls_nsqd(
        &certs,
        &["--tls-required=true", "--https-address=127.0.0.1:0"],
    );
    let https = nsqd.https_addr().unwrap();
    let r = http_get(nsqd.http_addr, "/stats");
    assert_eq!(r.status, 403);
    assert_eq!(
        r.text(),
        format!(
            "{{\"message\": \"TLS_REQUIRED\", \"https_port\": {}}}",
            https.port()
        )
    );
    let (status, _) = https_get(https, "/stats?format=json", certs.client(None));
    assert_eq!(status, 200);
}

// ---------------------------------------------------------------------------------------------
// Start-up errors

fn startup_error(args: &[&str]) -> String {
    let out = Nsqd::spawn_raw(args).wait_output(Duration::from_secs(10));
    assert_eq!(out.status.code(), Some(1), "nsqd should fail to start");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    stderr
        .lines()
        .find(|l| l.contains("FATAL: "))
        .unwrap_or_else(|| panic!("no FATAL line in {stderr}"))
        .to_string()
}

#[test]
fn tls_startup_errors() {
    // BEH-220, BEH-142.
    let certs = certs();
    let base = ["--tcp-address=127.0.0.1:0", "--http-address=127.0.0.1:0"];
    let with = |extra: &[&str]| {
        let mut v: Vec<String> = base.iter().map(|s| s.to_string()).collect();
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let run = |args: Vec<String>| {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        startup_error(&refs)
    };
    let line = run(with(&["--tls-required=true"]));
    assert!(
        line.ends_with("FATAL: failed to instantiate nsqd - cannot require TLS client connections without TLS key and cert"),
        "{line}"
    );
    let line = run(with(&["--tls-client-auth-policy=require"]));
    assert!(
        line.ends_with("cannot require TLS client connections without TLS key and cert"),
        "{line}"
    );

    let missing = certs.cert_file.with_file_name("missing.pem");
    let line = run(with(&[
        &format!("--tls-cert={}", missing.display()),
        &format!("--tls-key={}", certs.key_file.display()),
    ]));
    assert!(
        line.contains(&format!(
            "FATAL: failed to instantiate nsqd - failed to build TLS config - open {}: ",
            missing.display()
        )),
        "{line}"
    );
    // The key where the certificate should be.
    let line = run(with(&[
        &format!("--tls-cert={}", certs.key_file.display()),
        &format!("--tls-key={}", certs.key_file.display()),
    ]));
    assert!(
        line.ends_with(
            "failed to build TLS config - tls: failed to find any PEM data in certificate input"
        ),
        "{line}"
    );
    let mut args = certs.args();
    args.push(format!("--tls-root-ca-file={}", certs.key_file.display()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let line = run(with(&args));
    assert!(
        line.ends_with("failed to build TLS config - failed to append certificate to pool"),
        "{line}"
    );
}

#[test]
fn plain_connections_are_unaffected_by_a_configured_certificate() {
    let certs = certs();
    let nsqd = start_tls_nsqd(&certs, &[]);
    let mut c: RawConn = nsqd.conn();
    c.publish("plain", b"hello");
    let mut s = nsqd.consumer("plain", "ch", 1);
    assert_eq!(s.read_message().body, b"hello");
}
