//! A small end-to-end throughput check until the real bench tool lands (issue 6): publishes
//! 200-byte messages with MPUB batches over N connections for a fixed time, then drains them with
//! N consumers (RDY 2500, one FIN per message), and prints msgs/s for each phase.
//!
//! Usage: quickbench [--addr 127.0.0.1:4150] [--topic t] [--runfor 10] [--size 200]
//!                   [--batch 200] [--writers 2] [--readers 2]
//!                   [--tls] [--snappy | --deflate [--deflate-level 6]]
//!
//! `--tls`, `--snappy` and `--deflate` negotiate those stream upgrades with IDENTIFY on every
//! connection, to measure what they cost. `--tls` does not verify nsqd's certificate: this is a
//! load generator for a server you run yourself, not a client to trust.

use std::cell::RefCell;
use std::io::{BufReader, Read, Write};
use std::net::TcpStream;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Clone)]
struct Args {
    addr: String,
    topic: String,
    runfor: u64,
    size: usize,
    batch: usize,
    writers: usize,
    readers: usize,
    tls: bool,
    snappy: bool,
    deflate: bool,
    deflate_level: u32,
}

fn parse_args() -> Args {
    let mut a = Args {
        addr: "127.0.0.1:4150".into(),
        topic: format!("bench{}", std::process::id()),
        runfor: 10,
        size: 200,
        batch: 200,
        writers: 2,
        readers: 2,
        tls: false,
        snappy: false,
        deflate: false,
        deflate_level: 6,
    };
    let mut argv = std::env::args().skip(1);
    while let Some(flag) = argv.next() {
        let name = flag.trim_start_matches('-').to_string();
        match name.as_str() {
            "tls" => a.tls = true,
            "snappy" => a.snappy = true,
            "deflate" => a.deflate = true,
            _ => {
                let v = argv
                    .next()
                    .unwrap_or_else(|| panic!("{flag} needs a value"));
                match name.as_str() {
                    "addr" => a.addr = v,
                    "topic" => a.topic = v,
                    "runfor" => a.runfor = v.parse().unwrap_or(a.runfor),
                    "size" => a.size = v.parse().unwrap_or(a.size),
                    "batch" => a.batch = v.parse().unwrap_or(a.batch),
                    "writers" => a.writers = v.parse().unwrap_or(a.writers),
                    "readers" => a.readers = v.parse().unwrap_or(a.readers),
                    "deflate-level" => a.deflate_level = v.parse().unwrap_or(a.deflate_level),
                    other => panic!("unknown flag {other}"),
                }
            }
        }
    }
    assert!(
        !(a.snappy && a.deflate),
        "--snappy and --deflate exclude each other"
    );
    a
}

fn read_frame(r: &mut impl Read, buf: &mut Vec<u8>) -> std::io::Result<i32> {
    let mut head = [0u8; 8];
    r.read_exact(&mut head)?;
    let size = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as usize;
    let ft = i32::from_be_bytes([head[4], head[5], head[6], head[7]]);
    buf.resize(size - 4, 0);
    r.read_exact(buf)?;
    Ok(ft)
}

trait Transport: Read + Write {}
impl<T: Read + Write> Transport for T {}

/// The socket (plain or TLS) under a connection, shared by its reading and writing halves;
/// every connection lives on one thread.
#[derive(Clone)]
struct Shared(Rc<RefCell<Box<dyn Transport>>>);

impl Read for Shared {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().read(buf)
    }
}

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.borrow_mut().flush()
    }
}

/// Raw DEFLATE reading that hands out what is decoded before reading the socket again
/// (flate2's reader waits for more input first, which a live stream may not send).
struct Inflater {
    src: Shared,
    raw: flate2::Decompress,
    input: Vec<u8>,
    out: Vec<u8>,
    pos: usize,
}

impl Read for Inflater {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.pos == self.out.len() {
            self.out.clear();
            self.pos = 0;
            self.input.resize(256 * 1024, 0);
            let n = self.src.read(&mut self.input)?;
            if n == 0 {
                return Ok(0);
            }
            let mut used = 0;
            loop {
                self.out.reserve(256 * 1024);
                let before = self.raw.total_in();
                self.raw
                    .decompress_vec(
                        &self.input[used..n],
                        &mut self.out,
                        flate2::FlushDecompress::Sync,
                    )
                    .map_err(std::io::Error::other)?;
                used += (self.raw.total_in() - before) as usize;
                if used == n && self.out.len() < self.out.capacity() {
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

/// Accepts any server certificate (see the module doc).
#[derive(Debug)]
struct NoVerify(rustls::crypto::WebPkiSupportedAlgorithms);

impl rustls::client::danger::ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.supported_schemes()
    }
}

fn tls_config() -> Arc<rustls::ClientConfig> {
    let provider = rustls::crypto::ring::default_provider();
    let verifier = NoVerify(provider.signature_verification_algorithms);
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(provider))
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    Arc::new(config)
}

/// A connected client: buffered frames in, commands out, through whatever layers `a` asks for.
struct Conn {
    reader: BufReader<Box<dyn Read>>,
    writer: Box<dyn Write>,
}

impl Conn {
    fn send(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).expect("write");
        self.writer.flush().expect("flush");
    }

    fn expect_ok(&mut self, what: &str) {
        let mut buf = Vec::new();
        let ft = read_frame(&mut self.reader, &mut buf).expect("read");
        assert_eq!((ft, buf.as_slice()), (0, &b"OK"[..]), "{what} failed");
    }
}

fn connect(a: &Args) -> Conn {
    let mut s = TcpStream::connect(&a.addr).expect("connect");
    s.set_nodelay(true).ok();
    s.write_all(b"  V2").expect("magic");
    if !(a.tls || a.snappy || a.deflate) {
        // The plain path stays as lean as before: the socket itself, no sharing.
        let r: Box<dyn Read> = Box::new(s.try_clone().expect("clone"));
        return Conn {
            reader: BufReader::with_capacity(256 * 1024, r),
            writer: Box::new(s),
        };
    }
    let shared = Shared(Rc::new(RefCell::new(Box::new(
        s.try_clone().expect("clone"),
    ))));
    let mut conn = Conn {
        // Unbuffered until the upgrades are done: nothing may be read ahead of a layer change.
        reader: BufReader::with_capacity(1, Box::new(shared.clone())),
        writer: Box::new(shared.clone()),
    };
    let identify = format!(
        r#"{{"feature_negotiation":true,"tls_v1":{},"snappy":{},"deflate":{},"deflate_level":{}}}"#,
        a.tls, a.snappy, a.deflate, a.deflate_level
    );
    let mut cmd = b"IDENTIFY\n".to_vec();
    cmd.extend_from_slice(&(identify.len() as u32).to_be_bytes());
    cmd.extend_from_slice(identify.as_bytes());
    conn.send(&cmd);
    let mut buf = Vec::new();
    let ft = read_frame(&mut conn.reader, &mut buf).expect("IDENTIFY answer");
    assert_eq!(ft, 0, "IDENTIFY failed: {}", String::from_utf8_lossy(&buf));
    let answer = String::from_utf8_lossy(&buf).into_owned();
    for (wanted, key) in [
        (a.tls, "tls_v1"),
        (a.snappy, "snappy"),
        (a.deflate, "deflate"),
    ] {
        if wanted {
            assert!(
                answer.contains(&format!("\"{key}\":true")),
                "nsqd did not agree to {key}: {answer}"
            );
        }
    }
    if a.tls {
        let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
        let tls = rustls::ClientConnection::new(tls_config(), name).expect("TLS client");
        *shared.0.borrow_mut() = Box::new(rustls::StreamOwned::new(tls, s));
        conn.expect_ok("TLS upgrade");
    }
    if a.snappy {
        conn.reader = BufReader::with_capacity(
            256 * 1024,
            Box::new(snap::read::FrameDecoder::new(shared.clone())),
        );
        conn.writer = Box::new(snap::write::FrameEncoder::new(shared.clone()));
        conn.expect_ok("snappy upgrade");
    } else if a.deflate {
        conn.reader = BufReader::with_capacity(
            256 * 1024,
            Box::new(Inflater {
                src: shared.clone(),
                raw: flate2::Decompress::new(false),
                input: Vec::new(),
                out: Vec::new(),
                pos: 0,
            }),
        );
        conn.writer = Box::new(flate2::write::DeflateEncoder::new(
            shared.clone(),
            flate2::Compression::new(a.deflate_level),
        ));
        conn.expect_ok("deflate upgrade");
    } else {
        conn.reader = BufReader::with_capacity(256 * 1024, Box::new(shared));
    }
    conn
}

fn writer(a: Args, stop: Arc<AtomicBool>, sent: Arc<AtomicU64>) {
    let mut c = connect(&a);
    let msg = vec![b'a'; a.size];
    let mut body = Vec::new();
    body.extend_from_slice(&(a.batch as u32).to_be_bytes());
    for _ in 0..a.batch {
        body.extend_from_slice(&(a.size as u32).to_be_bytes());
        body.extend_from_slice(&msg);
    }
    let mut cmd = format!("MPUB {}\n", a.topic).into_bytes();
    cmd.extend_from_slice(&(body.len() as u32).to_be_bytes());
    cmd.extend_from_slice(&body);
    while !stop.load(Ordering::Relaxed) {
        c.send(&cmd);
        c.expect_ok("MPUB");
        sent.fetch_add(a.batch as u64, Ordering::Relaxed);
    }
}

fn reader(a: Args, target: u64, got: Arc<AtomicU64>) {
    let mut c = connect(&a);
    c.send(format!("SUB {} ch\nRDY 2500\n", a.topic).as_bytes());
    let mut buf = Vec::new();
    let mut fins: Vec<u8> = Vec::with_capacity(64 * 1024);
    loop {
        if c.reader.buffer().is_empty() && !fins.is_empty() {
            c.send(&fins);
            fins.clear();
        }
        if got.load(Ordering::Relaxed) >= target {
            return;
        }
        match read_frame(&mut c.reader, &mut buf) {
            Ok(2) => {
                fins.extend_from_slice(b"FIN ");
                fins.extend_from_slice(&buf[10..26]);
                fins.push(b'\n');
                got.fetch_add(1, Ordering::Relaxed);
            }
            Ok(0) if buf == b"_heartbeat_" => c.send(b"NOP\n"),
            Ok(_) => {}
            Err(_) => return,
        }
    }
}

fn layers(a: &Args) -> String {
    let mut v = Vec::new();
    if a.tls {
        v.push("tls".to_string());
    }
    if a.snappy {
        v.push("snappy".to_string());
    }
    if a.deflate {
        v.push(format!("deflate level {}", a.deflate_level));
    }
    if v.is_empty() {
        "plain".to_string()
    } else {
        v.join("+")
    }
}

fn main() {
    let a = parse_args();
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let ws: Vec<_> = (0..a.writers)
        .map(|_| {
            let (a, stop, sent) = (a.clone(), stop.clone(), sent.clone());
            std::thread::spawn(move || writer(a, stop, sent))
        })
        .collect();
    std::thread::sleep(Duration::from_secs(a.runfor));
    stop.store(true, Ordering::Relaxed);
    for w in ws {
        w.join().expect("writer");
    }
    let elapsed = start.elapsed().as_secs_f64();
    let n = sent.load(Ordering::Relaxed);
    let mib = n as f64 * a.size as f64 / 1024.0 / 1024.0;
    println!(
        "PUB: {:.2}s, {} msgs, {:.0} msgs/s, {:.2} MiB/s ({} writers, MPUB batch {}, {}-byte bodies, {})",
        elapsed,
        n,
        n as f64 / elapsed,
        mib / elapsed,
        a.writers,
        a.batch,
        a.size,
        layers(&a)
    );

    let got = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let rs: Vec<_> = (0..a.readers)
        .map(|_| {
            let (a, got) = (a.clone(), got.clone());
            std::thread::spawn(move || reader(a, n, got))
        })
        .collect();
    while got.load(Ordering::Relaxed) < n {
        std::thread::sleep(Duration::from_millis(5));
    }
    let elapsed = start.elapsed().as_secs_f64();
    println!(
        "SUB: {:.2}s, {} msgs, {:.0} msgs/s, {:.2} MiB/s ({} readers, RDY 2500, FIN each, {})",
        elapsed,
        n,
        n as f64 / elapsed,
        mib / elapsed,
        a.readers,
        layers(&a)
    );
    drop(rs);
    std::process::exit(0);
}
