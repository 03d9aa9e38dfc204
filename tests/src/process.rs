//! Spawning nsqd and following its log output.

use std::io::Read;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::daemon::{find_listen_addr, Daemon, HTTP_LISTENING, TCP_LISTENING};

/// The nsqd binary under test: `$NSQD_BIN`, else `nsqd` next to the `deps/` directory that
/// holds the running test executable (that is, `target/<profile>/nsqd`).
pub fn nsqd_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("NSQD_BIN") {
        let p = PathBuf::from(p);
        assert!(p.is_file(), "NSQD_BIN={} does not exist", p.display());
        return p;
    }
    bin_path("nsqd")
}

/// A workspace binary (a daemon or a tool) of the profile the tests run under:
/// `target/<profile>/<name>`, found next to the `deps/` directory of the running test.
pub fn bin_path(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let deps = exe.parent().expect("test exe has a directory");
    let profile_dir = if deps.ends_with("deps") {
        deps.parent().unwrap_or(deps)
    } else {
        deps
    };
    let bin = profile_dir.join(name);
    assert!(
        bin.is_file(),
        "{name} binary not found at {} -- build it first: cargo build --workspace --bins",
        bin.display()
    );
    bin
}

fn parse_addr(text: &str) -> SocketAddr {
    // Unix-socket listeners have no SocketAddr; the raw text stays available in *_listen.
    text.parse()
        .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)))
}

/// A running nsqd process started on loopback port 0 with its own temporary data path.
pub struct Nsqd {
    pub tcp_addr: SocketAddr,
    pub http_addr: SocketAddr,
    /// The address text exactly as logged in `TCP: listening on <addr>`.
    pub tcp_listen: String,
    /// The address text exactly as logged in `HTTP: listening on <addr>`.
    pub http_listen: String,
    pub data_dir: tempfile::TempDir,
    daemon: Daemon,
}

impl Nsqd {
    pub fn start() -> Nsqd {
        Nsqd::start_with(&[])
    }

    /// Starts nsqd with loopback port-0 listeners and a fresh data path; `extra_args` come
    /// after the defaults so they can override them.
    pub fn start_with(extra_args: &[&str]) -> Nsqd {
        let data_dir = tempfile::tempdir().expect("create temp data dir");
        Nsqd::start_in(data_dir, extra_args)
    }

    /// Like [`Nsqd::start_with`] but on an existing data directory (restart tests).
    pub fn start_in(data_dir: tempfile::TempDir, extra_args: &[&str]) -> Nsqd {
        let daemon = launch(data_dir.path(), extra_args);
        let mut nsqd = Nsqd {
            tcp_addr: parse_addr(""),
            http_addr: parse_addr(""),
            tcp_listen: String::new(),
            http_listen: String::new(),
            data_dir,
            daemon,
        };
        nsqd.read_listeners();
        nsqd
    }

    /// Stops this nsqd (SIGTERM, as a clean shutdown) and starts a new one on the same data
    /// directory. Addresses and logs then refer to the new process.
    pub fn restart_with(&mut self, extra_args: &[&str]) {
        if !self.daemon.exited() {
            let status = self.terminate();
            assert!(
                status.success(),
                "nsqd exited with {status} on SIGTERM before restart"
            );
        }
        self.daemon = launch(self.data_dir.path(), extra_args);
        self.read_listeners();
    }

    fn read_listeners(&mut self) {
        self.tcp_listen = self.daemon.listen_addr(TCP_LISTENING).unwrap_or_default();
        self.http_listen = self.daemon.listen_addr(HTTP_LISTENING).unwrap_or_default();
        self.tcp_addr = parse_addr(&self.tcp_listen);
        self.http_addr = parse_addr(&self.http_listen);
    }

    /// Starts nsqd with exactly `args` (nothing added) in a fresh temporary working directory,
    /// with stdout and stderr captured; for runs that are expected to exit on their own.
    pub fn spawn_raw(args: &[&str]) -> RawNsqd {
        let cwd = tempfile::tempdir().expect("create temp cwd");
        let child = Command::new(nsqd_bin())
            .args(args)
            .current_dir(cwd.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn nsqd");
        RawNsqd { child, cwd }
    }

    /// `GET /stats?format=json` as JSON.
    pub fn stats(&self) -> serde_json::Value {
        let r = crate::http_get(self.http_addr, "/stats?format=json");
        assert_eq!(r.status, 200, "GET /stats failed: {}", r.text());
        r.json()
    }

    /// A new raw TCP connection (magic already sent).
    pub fn conn(&self) -> crate::RawConn {
        crate::RawConn::connect(self.tcp_addr)
    }

    /// A new connection subscribed to `topic`/`channel` with `RDY rdy` already sent.
    pub fn consumer(&self, topic: &str, channel: &str, rdy: u32) -> crate::RawConn {
        let mut c = self.conn();
        c.sub(topic, channel);
        c.rdy(rdy);
        c
    }

    pub fn pid(&self) -> u32 {
        self.daemon.pid()
    }

    /// Every log line printed so far (stderr, newline stripped).
    pub fn logs(&self) -> Vec<String> {
        self.daemon.logs()
    }

    /// Waits until some log line contains `needle`.
    pub fn wait_for_log(&self, needle: &str, timeout: Duration) -> bool {
        self.daemon.wait_for_log(needle, timeout)
    }

    /// The HTTPS listener address, if nsqd logs `HTTPS: listening on` within 2 s.
    pub fn https_addr(&self) -> Option<SocketAddr> {
        let marker = "HTTPS: listening on ";
        self.daemon.wait_logs(Duration::from_secs(2), |l| {
            find_listen_addr(l, marker).is_some()
        });
        self.daemon.listen_addr(marker).map(|a| parse_addr(&a))
    }

    /// Sends SIGTERM and waits (10 s deadline) for the exit status; the log reader is drained
    /// first so [`Nsqd::logs`] then holds the shutdown lines.
    pub fn terminate(&mut self) -> ExitStatus {
        self.daemon.terminate()
    }

    /// Sends `sig` to the process (if it is still running).
    pub fn signal(&mut self, sig: libc::c_int) {
        self.daemon.signal(sig)
    }

    /// Waits up to `timeout` for the process to exit on its own.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        self.daemon.wait_exit(timeout)
    }

    /// SIGKILL, then reap.
    pub fn kill(&mut self) {
        self.daemon.kill()
    }
}

impl Drop for Nsqd {
    // The process must be gone before `data_dir` is removed.
    fn drop(&mut self) {
        self.daemon.kill();
    }
}

fn launch(data_dir: &Path, extra_args: &[&str]) -> Daemon {
    let mut args = vec![
        "--tcp-address=127.0.0.1:0".to_string(),
        "--http-address=127.0.0.1:0".to_string(),
        // Only used with a TLS cert, but then tests running side by side must not share 4152.
        "--https-address=127.0.0.1:0".to_string(),
        format!("--data-path={}", data_dir.display()),
    ];
    args.extend(extra_args.iter().map(|s| s.to_string()));
    let mut cmd = Command::new(nsqd_bin());
    cmd.args(&args).current_dir(data_dir);
    Daemon::start("nsqd", cmd)
}

/// An nsqd started by [`Nsqd::spawn_raw`]: no defaults added, output captured.
pub struct RawNsqd {
    pub child: Child,
    /// The working directory nsqd runs in (its default data path).
    pub cwd: tempfile::TempDir,
}

impl RawNsqd {
    /// Waits for the process to exit (killing it and panicking after `timeout`) and returns its
    /// status and captured output.
    pub fn wait_output(mut self, timeout: Duration) -> Output {
        let out = self.child.stdout.take().map(read_all_thread);
        let err = self.child.stderr.take().map(read_all_thread);
        let deadline = Instant::now() + timeout;
        let status = loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                break status;
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                let stderr = err
                    .map(|h| h.join().unwrap_or_default())
                    .unwrap_or_default();
                panic!(
                    "nsqd did not exit within {timeout:?}; stderr:\n{}",
                    String::from_utf8_lossy(&stderr)
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        Output {
            status,
            stdout: out
                .map(|h| h.join().unwrap_or_default())
                .unwrap_or_default(),
            stderr: err
                .map(|h| h.join().unwrap_or_default())
                .unwrap_or_default(),
        }
    }
}

impl Drop for RawNsqd {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn read_all_thread(mut r: impl Read + Send + 'static) -> JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = r.read_to_end(&mut v);
        v
    })
}
