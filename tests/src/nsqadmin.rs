//! Spawning nsqadmin, a small nsqlookupd + nsqd cluster for it to watch, and a stub HTTP
//! server that records what nsqadmin sends it (notifications, graphite queries).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::lookupd::Nsqlookupd;
use crate::{bin_path, http_post, http_with_headers, wait_until, HttpResponse, Nsqd};

const STARTUP: Duration = Duration::from_secs(10);

/// A running nsqadmin on loopback port 0, with its stderr log lines.
pub struct Nsqadmin {
    pub http_addr: SocketAddr,
    child: Child,
    logs: Arc<Mutex<Vec<String>>>,
}

impl Nsqadmin {
    /// Starts nsqadmin with `--http-address=127.0.0.1:0` then `args`, and waits for its
    /// `HTTP: listening on` line.
    pub fn start(args: &[&str]) -> Nsqadmin {
        let mut child = Command::new(bin_path("nsqadmin"))
            .arg("--http-address=127.0.0.1:0")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn nsqadmin");
        let logs = Arc::new(Mutex::new(Vec::new()));
        let stderr = child.stderr.take().expect("stderr piped");
        let sink = logs.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                sink.lock().unwrap().push(line);
            }
        });
        let marker = "HTTP: listening on ";
        let find = |logs: &Arc<Mutex<Vec<String>>>| {
            logs.lock().unwrap().iter().find_map(|l| {
                let at = l.find(marker)?;
                l[at + marker.len()..].trim().parse::<SocketAddr>().ok()
            })
        };
        let ok = wait_until(STARTUP, || {
            find(&logs).is_some() || child.try_wait().ok().flatten().is_some()
        });
        let Some(http_addr) = find(&logs).filter(|_| ok) else {
            let _ = child.kill();
            panic!(
                "nsqadmin did not start; log:\n{}",
                logs.lock().unwrap().join("\n")
            );
        };
        Nsqadmin {
            http_addr,
            child,
            logs,
        }
    }

    /// nsqadmin watching `lookupd` (lookupd mode), with `extra` flags.
    pub fn for_lookupd(lookupd: &Nsqlookupd, extra: &[&str]) -> Nsqadmin {
        let flag = format!("--lookupd-http-address={}", lookupd.http_addr);
        let mut args = vec![flag.as_str()];
        args.extend_from_slice(extra);
        Nsqadmin::start(&args)
    }

    pub fn logs(&self) -> Vec<String> {
        self.logs.lock().unwrap().clone()
    }

    pub fn get(&self, path: &str) -> HttpResponse {
        crate::http_get(self.http_addr, path)
    }

    /// `method path` with a JSON `body`.
    pub fn send(&self, method: &str, path: &str, body: &str) -> HttpResponse {
        http_with_headers(self.http_addr, method, path, &[], body.as_bytes())
    }

    pub fn send_with(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> HttpResponse {
        http_with_headers(self.http_addr, method, path, headers, body.as_bytes())
    }

    /// SIGTERM, then the exit status (10 s deadline).
    pub fn terminate(&mut self) -> Option<std::process::ExitStatus> {
        // SAFETY: plain kill(2) on the pid of our own unreaped child.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM);
        }
        let mut status = None;
        wait_until(Duration::from_secs(10), || {
            status = self.child.try_wait().ok().flatten();
            status.is_some()
        });
        status
    }
}

impl Drop for Nsqadmin {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs nsqadmin with exactly `args` and collects its output (for runs that exit).
pub fn run_raw(args: &[&str]) -> Output {
    let mut child = Command::new(bin_path("nsqadmin"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn nsqadmin");
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let out_t = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        v
    });
    let err_t = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err.read_to_end(&mut v);
        v
    });
    let mut status = None;
    if !wait_until(Duration::from_secs(10), || {
        status = child.try_wait().ok().flatten();
        status.is_some()
    }) {
        let _ = child.kill();
        panic!("nsqadmin {args:?} did not exit");
    }
    Output {
        status: status.expect("exited"),
        stdout: out_t.join().unwrap_or_default(),
        stderr: err_t.join().unwrap_or_default(),
    }
}

/// A loopback address nothing listens on.
pub fn dead_addr() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr")
}

/// One nsqlookupd and `n` nsqd registered with it (`--broadcast-address=127.0.0.1`).
pub struct Cluster {
    pub lookupd: Nsqlookupd,
    pub nsqds: Vec<Nsqd>,
}

impl Cluster {
    pub fn start(n: usize) -> Cluster {
        let lookupd = Nsqlookupd::start();
        let arg = lookupd.nsqd_arg();
        let nsqds = (0..n)
            .map(|_| Nsqd::start_with(&[&arg, "--broadcast-address=127.0.0.1"]))
            .collect();
        Cluster { lookupd, nsqds }
    }

    /// `host:port` of nsqd `i` as nsqadmin names it.
    pub fn node(&self, i: usize) -> String {
        self.nsqds[i].http_addr.to_string()
    }

    /// Creates `topic` (and `channel`, if not empty) on nsqd `i` and waits until the lookupd
    /// lists nsqd `i` as a producer (and the channel).
    pub fn create(&self, i: usize, topic: &str, channel: &str) {
        let nsqd = &self.nsqds[i];
        let r = http_post(nsqd.http_addr, &format!("/topic/create?topic={topic}"), b"");
        assert_eq!(r.status, 200, "{}", r.text());
        if !channel.is_empty() {
            let r = http_post(
                nsqd.http_addr,
                &format!("/channel/create?topic={topic}&channel={channel}"),
                b"",
            );
            assert_eq!(r.status, 200, "{}", r.text());
        }
        let port = nsqd.tcp_addr.port();
        let registered = wait_until(Duration::from_secs(10), || {
            self.lookupd.producer_ports(topic).contains(&port)
                && (channel.is_empty() || self.lookupd.channels(topic).iter().any(|c| c == channel))
        });
        assert!(registered, "nsqd {i} did not register {topic}/{channel}");
    }

    /// Publishes `n` messages to `topic` on nsqd `i`.
    pub fn publish(&self, i: usize, topic: &str, n: usize) {
        for k in 0..n {
            let r = http_post(
                self.nsqds[i].http_addr,
                &format!("/pub?topic={topic}"),
                format!("m{k}").as_bytes(),
            );
            assert_eq!(r.status, 200, "{}", r.text());
        }
    }
}

/// A request the stub server received.
#[derive(Clone, Debug)]
pub struct StubRequest {
    pub method: String,
    pub target: String,
    /// Header names lowercased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl StubRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }
}

/// A tiny HTTP server answering every request with one fixed response and recording it.
pub struct Stub {
    pub addr: SocketAddr,
    requests: Arc<Mutex<Vec<StubRequest>>>,
}

impl Stub {
    pub fn start(status: u16, content_type: &str, body: &str) -> Stub {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind stub");
        let addr = listener.local_addr().expect("stub addr");
        let requests = Arc::new(Mutex::new(Vec::new()));
        let log = requests.clone();
        let response = format!(
            "HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
             Connection: close\r\n\r\n{body}",
            body.len()
        );
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { break };
                if let Some(req) = read_request(&stream) {
                    log.lock().unwrap().push(req);
                }
                let mut stream = stream;
                let _ = stream.write_all(response.as_bytes());
            }
        });
        Stub { addr, requests }
    }

    pub fn requests(&self) -> Vec<StubRequest> {
        self.requests.lock().unwrap().clone()
    }

    /// Waits until `n` requests have arrived and returns them.
    pub fn wait_requests(&self, n: usize) -> Vec<StubRequest> {
        let ok = wait_until(Duration::from_secs(10), || self.requests().len() >= n);
        assert!(ok, "stub got {:?}, wanted {n} requests", self.requests());
        self.requests()
    }
}

fn read_request(stream: &TcpStream) -> Option<StubRequest> {
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let target = parts.next()?.to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    let len: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    reader.read_exact(&mut body).ok()?;
    Some(StubRequest {
        method,
        target,
        headers,
        body,
    })
}
