//! A daemon child process (nsqd or nsqlookupd) whose stderr log is followed line by line.

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStderr, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long a daemon gets to print both "listening on" lines.
const STARTUP_DEADLINE: Duration = Duration::from_secs(10);
/// How long a daemon gets to exit after SIGTERM.
const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(10);

pub(crate) const TCP_LISTENING: &str = "TCP: listening on ";
pub(crate) const HTTP_LISTENING: &str = "HTTP: listening on ";

/// Log lines shared between the reader thread and the test.
#[derive(Default)]
struct LogBook {
    lines: Mutex<Vec<String>>,
    grew: Condvar,
}

impl LogBook {
    fn push(&self, line: String) {
        self.lines.lock().unwrap().push(line);
        self.grew.notify_all();
    }

    fn snapshot(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    /// Waits until `pred` holds on the lines seen so far (or the deadline passes).
    fn wait(&self, timeout: Duration, mut pred: impl FnMut(&[String]) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        let mut lines = self.lines.lock().unwrap();
        loop {
            if pred(&lines) {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            // Wake up periodically too, so a child that died is noticed by the caller.
            let step = (deadline - now).min(Duration::from_millis(50));
            lines = self.grew.wait_timeout(lines, step).unwrap().0;
        }
    }
}

fn spawn_log_reader(stderr: ChildStderr, book: Arc<LogBook>) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stderr);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match reader.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    while buf.last() == Some(&b'\n') || buf.last() == Some(&b'\r') {
                        buf.pop();
                    }
                    book.push(String::from_utf8_lossy(&buf).into_owned());
                }
            }
        }
    })
}

/// Returns the text after `marker` in the first line containing it (the address printed).
pub(crate) fn find_listen_addr(lines: &[String], marker: &str) -> Option<String> {
    lines.iter().find_map(|l| {
        let at = l.find(marker)?;
        // "HTTP: listening on" must not be taken for "HTTPS: listening on" and vice versa;
        // the markers are distinct, but "TCP:" needs a word boundary before it.
        if at > 0 && l.as_bytes()[at - 1].is_ascii_alphanumeric() {
            return None;
        }
        Some(l[at + marker.len()..].trim().to_string())
    })
}

/// A running daemon: its child process, the log reader thread and, once known, its exit status.
pub(crate) struct Daemon {
    /// "nsqd" or "nsqlookupd", for failure messages.
    name: &'static str,
    child: Child,
    logs: Arc<LogBook>,
    reader: Option<JoinHandle<()>>,
    status: Option<ExitStatus>,
}

impl Daemon {
    /// Spawns `cmd` (stdin and stdout closed, stderr followed) and waits until it has logged
    /// both `TCP: listening on` and `HTTP: listening on`; panics with the log if it exits first
    /// or takes longer than the start-up deadline.
    pub(crate) fn start(name: &'static str, mut cmd: Command) -> Daemon {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {name}: {e}"));
        let logs = Arc::new(LogBook::default());
        let stderr = child.stderr.take().expect("stderr piped");
        let reader = spawn_log_reader(stderr, logs.clone());
        let mut daemon = Daemon {
            name,
            child,
            logs,
            reader: Some(reader),
            status: None,
        };
        daemon.await_listeners();
        daemon
    }

    fn await_listeners(&mut self) {
        let name = self.name;
        let deadline = Instant::now() + STARTUP_DEADLINE;
        loop {
            let found = self.logs.wait(Duration::from_millis(100), |lines| {
                find_listen_addr(lines, TCP_LISTENING).is_some()
                    && find_listen_addr(lines, HTTP_LISTENING).is_some()
            });
            if found {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                self.status = Some(status);
                self.join_reader();
                panic!(
                    "{name} exited with {status} before listening; log:\n{}",
                    self.logs().join("\n")
                );
            }
            if Instant::now() >= deadline {
                panic!(
                    "{name} did not log both `TCP: listening on` and `HTTP: listening on` within \
                     {STARTUP_DEADLINE:?}; log so far:\n{}",
                    self.logs().join("\n")
                );
            }
        }
    }

    /// The address text logged after `marker`, if it has been logged.
    pub(crate) fn listen_addr(&self, marker: &str) -> Option<String> {
        find_listen_addr(&self.logs(), marker)
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Every log line printed so far (stderr, newline stripped).
    pub(crate) fn logs(&self) -> Vec<String> {
        self.logs.snapshot()
    }

    /// Waits until `pred` holds on the log lines (or `timeout` passes).
    pub(crate) fn wait_logs(&self, timeout: Duration, pred: impl FnMut(&[String]) -> bool) -> bool {
        self.logs.wait(timeout, pred)
    }

    /// Waits until some log line contains `needle`.
    pub(crate) fn wait_for_log(&self, needle: &str, timeout: Duration) -> bool {
        self.wait_logs(timeout, |lines| lines.iter().any(|l| l.contains(needle)))
    }

    /// Sends `sig` to the process (if it is still running).
    pub(crate) fn signal(&mut self, sig: libc::c_int) {
        if self.status.is_none() {
            let pid = self.child.id() as libc::pid_t;
            // SAFETY: plain kill(2) on the pid of our own unreaped child.
            unsafe {
                libc::kill(pid, sig);
            }
        }
    }

    /// Sends SIGTERM and waits (10 s deadline) for the exit status; the log reader is drained
    /// first so [`Daemon::logs`] then holds the shutdown lines.
    pub(crate) fn terminate(&mut self) -> ExitStatus {
        self.signal(libc::SIGTERM);
        match self.wait_exit(SHUTDOWN_DEADLINE) {
            Some(status) => status,
            None => {
                self.kill();
                panic!(
                    "{} did not exit within {SHUTDOWN_DEADLINE:?} of SIGTERM; log:\n{}",
                    self.name,
                    self.logs().join("\n")
                );
            }
        }
    }

    /// Whether the process has been seen to exit.
    pub(crate) fn exited(&self) -> bool {
        self.status.is_some()
    }

    /// Waits up to `timeout` for the process to exit on its own.
    pub(crate) fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        if let Some(s) = self.status {
            return Some(s);
        }
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                self.status = Some(status);
                self.join_reader();
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// SIGKILL, then reap.
    pub(crate) fn kill(&mut self) {
        if self.status.is_none() {
            let _ = self.child.kill();
            if let Ok(status) = self.child.wait() {
                self.status = Some(status);
            }
            self.join_reader();
        }
    }

    fn join_reader(&mut self) {
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill();
    }
}
