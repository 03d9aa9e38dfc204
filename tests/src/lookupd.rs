//! Spawning nsqlookupd and speaking its TCP protocol V1 byte by byte.
//!
//! - [`Nsqlookupd`]: a running nsqlookupd child process on loopback port 0, its log lines and
//!   bound addresses, plus helpers for its HTTP API.
//! - [`LookupConn`]: a blocking V1 client that reads raw size-prefixed responses.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use crate::daemon::{Daemon, HTTP_LISTENING, TCP_LISTENING};
use crate::{http_get, http_post, HttpResponse};
const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// The binary under test: `$NSQLOOKUPD_BIN`, else `nsqlookupd` next to the `deps/` directory
/// that holds the running test executable.
pub fn nsqlookupd_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("NSQLOOKUPD_BIN") {
        let p = PathBuf::from(p);
        assert!(p.is_file(), "NSQLOOKUPD_BIN={} does not exist", p.display());
        return p;
    }
    let exe = std::env::current_exe().expect("current_exe");
    let deps = exe.parent().expect("test exe has a directory");
    let profile_dir = if deps.ends_with("deps") {
        deps.parent().unwrap_or(deps)
    } else {
        deps
    };
    let bin = profile_dir.join("nsqlookupd");
    assert!(
        bin.is_file(),
        "nsqlookupd binary not found at {} -- build it first: cargo build --bins \
         (or set NSQLOOKUPD_BIN)",
        bin.display()
    );
    bin
}

/// A running nsqlookupd started on loopback port 0.
pub struct Nsqlookupd {
    pub tcp_addr: SocketAddr,
    pub http_addr: SocketAddr,
    args: Vec<String>,
    daemon: Daemon,
}

impl Nsqlookupd {
    pub fn start() -> Nsqlookupd {
        Nsqlookupd::start_with(&[])
    }

    /// Starts nsqlookupd with loopback port-0 listeners, `--broadcast-address=127.0.0.1`, and
    /// `extra_args` after those (so they can override them).
    pub fn start_with(extra_args: &[&str]) -> Nsqlookupd {
        let mut args = vec![
            "--tcp-address=127.0.0.1:0".to_string(),
            "--http-address=127.0.0.1:0".to_string(),
            "--broadcast-address=127.0.0.1".to_string(),
        ];
        args.extend(extra_args.iter().map(|s| s.to_string()));
        let daemon = launch(&args);
        let mut l = Nsqlookupd {
            tcp_addr: SocketAddr::from(([0, 0, 0, 0], 0)),
            http_addr: SocketAddr::from(([0, 0, 0, 0], 0)),
            args,
            daemon,
        };
        l.read_listeners();
        l
    }

    /// Stops this nsqlookupd (SIGTERM) and starts a new one on the same ports, with the same
    /// arguments; it starts with an empty registration DB, as any restart does.
    pub fn restart_same_ports(&mut self) {
        if !self.daemon.exited() {
            let status = self.terminate();
            assert!(status.success(), "nsqlookupd exited with {status}");
        }
        let mut args = self.args.clone();
        args.push(format!("--tcp-address={}", self.tcp_addr));
        args.push(format!("--http-address={}", self.http_addr));
        self.daemon = launch(&args);
        self.read_listeners();
    }

    fn read_listeners(&mut self) {
        let addr = |marker| self.daemon.listen_addr(marker).and_then(|a| a.parse().ok());
        self.tcp_addr = addr(TCP_LISTENING).unwrap_or(self.tcp_addr);
        self.http_addr = addr(HTTP_LISTENING).unwrap_or(self.http_addr);
    }

    /// Starts nsqlookupd with exactly `args`, output captured; for runs that exit on their own.
    pub fn spawn_raw(args: &[&str]) -> Child {
        Command::new(nsqlookupd_bin())
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn nsqlookupd")
    }

    /// Runs nsqlookupd with `args` to completion (killed after 10 s) and returns its output.
    pub fn run_raw(args: &[&str]) -> Output {
        let mut child = Nsqlookupd::spawn_raw(args);
        let drain = |mut pipe: Box<dyn Read + Send>| {
            std::thread::spawn(move || {
                let mut v = Vec::new();
                let _ = pipe.read_to_end(&mut v);
                v
            })
        };
        let out = drain(Box::new(child.stdout.take().expect("stdout piped")));
        let err = drain(Box::new(child.stderr.take().expect("stderr piped")));
        let deadline = Instant::now() + Duration::from_secs(10);
        let status = loop {
            if let Some(status) = child.try_wait().expect("try_wait") {
                break status;
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("nsqlookupd {args:?} did not exit within 10 s");
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        Output {
            status,
            stdout: out.join().unwrap_or_default(),
            stderr: err.join().unwrap_or_default(),
        }
    }

    /// `--lookupd-tcp-address=<tcp>` for an nsqd registering here.
    pub fn nsqd_arg(&self) -> String {
        format!("--lookupd-tcp-address={}", self.tcp_addr)
    }

    pub fn get(&self, path: &str) -> HttpResponse {
        http_get(self.http_addr, path)
    }

    pub fn post(&self, path: &str) -> HttpResponse {
        http_post(self.http_addr, path, b"")
    }

    /// `GET /lookup?topic=<topic>` as JSON; None on 404.
    pub fn lookup(&self, topic: &str) -> Option<serde_json::Value> {
        let r = self.get(&format!("/lookup?topic={}", topic.replace('#', "%23")));
        if r.status == 404 {
            return None;
        }
        assert_eq!(r.status, 200, "GET /lookup: {}", r.text());
        Some(r.json())
    }

    /// The `tcp_port`s of the producers `/lookup` offers for `topic`, sorted.
    pub fn producer_ports(&self, topic: &str) -> Vec<u16> {
        let mut ports: Vec<u16> = self
            .lookup(topic)
            .and_then(|v| v["producers"].as_array().cloned())
            .unwrap_or_default()
            .iter()
            .filter_map(|p| p["tcp_port"].as_u64())
            .map(|p| p as u16)
            .collect();
        ports.sort_unstable();
        ports
    }

    /// The channels `/lookup` lists for `topic`, sorted.
    pub fn channels(&self, topic: &str) -> Vec<String> {
        let mut v: Vec<String> = self
            .lookup(topic)
            .and_then(|v| v["channels"].as_array().cloned())
            .unwrap_or_default()
            .iter()
            .filter_map(|c| c.as_str().map(str::to_string))
            .collect();
        v.sort();
        v
    }

    pub fn logs(&self) -> Vec<String> {
        self.daemon.logs()
    }

    pub fn wait_for_log(&self, needle: &str, timeout: Duration) -> bool {
        self.daemon.wait_for_log(needle, timeout)
    }

    pub fn pid(&self) -> u32 {
        self.daemon.pid()
    }

    pub fn signal(&mut self, sig: libc::c_int) {
        self.daemon.signal(sig)
    }

    /// SIGTERM, then the exit status (10 s deadline); the log then holds the shutdown lines.
    pub fn terminate(&mut self) -> ExitStatus {
        self.daemon.terminate()
    }

    /// Waits up to `timeout` for the process to exit on its own; the log reader is drained
    /// first so [`Nsqlookupd::logs`] then holds every line.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        self.daemon.wait_exit(timeout)
    }

    pub fn kill(&mut self) {
        self.daemon.kill()
    }
}

fn launch(args: &[String]) -> Daemon {
    let mut cmd = Command::new(nsqlookupd_bin());
    cmd.args(args);
    Daemon::start("nsqlookupd", cmd)
}

/// A blocking lookup protocol V1 client reading raw `[size][data]` responses.
pub struct LookupConn {
    stream: TcpStream,
}

impl LookupConn {
    /// Connects and sends the `"  V1"` magic.
    pub fn connect(addr: SocketAddr) -> LookupConn {
        let mut c = LookupConn::connect_no_magic(addr);
        c.send(b"  V1");
        c
    }

    pub fn connect_no_magic(addr: SocketAddr) -> LookupConn {
        let stream = TcpStream::connect_timeout(&addr, IO_TIMEOUT)
            .unwrap_or_else(|e| panic!("connect to nsqlookupd at {addr}: {e}"));
        stream.set_nodelay(true).unwrap();
        stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        stream.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
        LookupConn { stream }
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.stream.local_addr().unwrap()
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.stream
            .write_all(bytes)
            .unwrap_or_else(|e| panic!("write to nsqlookupd failed: {e}"));
    }

    /// Half-closes the write side (the server then sees EOF).
    pub fn shutdown_write(&mut self) {
        let _ = self.stream.shutdown(std::net::Shutdown::Write);
    }

    /// Sends `line\n` and reads the response.
    pub fn cmd(&mut self, line: &str) -> Vec<u8> {
        self.send(format!("{line}\n").as_bytes());
        self.read_response()
    }

    /// Sends `IDENTIFY\n[size][json]` and reads the response.
    pub fn identify(&mut self, json: &str) -> Vec<u8> {
        let mut v = b"IDENTIFY\n".to_vec();
        v.extend_from_slice(&(json.len() as u32).to_be_bytes());
        v.extend_from_slice(json.as_bytes());
        self.send(&v);
        self.read_response()
    }

    /// IDENTIFY as an nsqd at `127.0.0.1:<tcp_port>` (HTTP port `tcp_port + 1`).
    pub fn identify_as(&mut self, tcp_port: u16) -> Vec<u8> {
        self.identify(&format!(
            "{{\"broadcast_address\":\"127.0.0.1\",\"hostname\":\"fake\",\"tcp_port\":{},\
             \"http_port\":{},\"version\":\"1.3.0\"}}",
            tcp_port,
            tcp_port + 1
        ))
    }

    /// Reads one `[4-byte BE size][data]` response; panics on timeout or close.
    pub fn read_response(&mut self) -> Vec<u8> {
        let mut size = [0u8; 4];
        self.stream
            .read_exact(&mut size)
            .unwrap_or_else(|e| panic!("reading response size: {e}"));
        let mut data = vec![0u8; u32::from_be_bytes(size) as usize];
        self.stream
            .read_exact(&mut data)
            .unwrap_or_else(|e| panic!("reading response data: {e}"));
        data
    }

    /// The raw bytes of one response, size prefix included.
    pub fn read_raw_response(&mut self) -> Vec<u8> {
        let data = self.read_response();
        let mut raw = (data.len() as u32).to_be_bytes().to_vec();
        raw.extend_from_slice(&data);
        raw
    }

    /// True if the server closes the connection (EOF or reset) within the I/O timeout, with
    /// no more data.
    pub fn is_closed(&mut self) -> bool {
        let mut buf = [0u8; 64];
        match self.stream.read(&mut buf) {
            Ok(0) => true,
            Ok(n) => panic!(
                "expected close, got {:?}",
                String::from_utf8_lossy(&buf[..n])
            ),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => true,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => false,
            Err(e) => panic!("read failed: {e}"),
        }
    }
}
