//! What the tests of the CLI tools (to_nsq, nsq_tail, nsq_stat, nsq_to_file, nsq_to_http,
//! nsq_to_nsq) share: a tool as a child process, runs to completion, Go log and usage lines,
//! publishing to and reading back from nsqd, and an HTTP server that records its requests.

use std::collections::VecDeque;
use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::{bin_path, http_post, stats_channel, stats_topic, wait_until, Nsqd};

/// How long a tool may take to log or exit before a test gives up. Generous, as only a failing
/// test waits that long: to_nsq publishing 20,000 lines from a debug build takes a while.
pub const TOOL_WAIT: Duration = Duration::from_secs(60);

/// Consumer options that make a requeued message come back within milliseconds, so tests of
/// failed deliveries do not wait out go-nsq's default delay and backoff.
pub const FAST_REQUEUE: [&str; 2] = [
    "--consumer-opt=default_requeue_delay,10",
    "--consumer-opt=backoff_multiplier,10",
];

/// A running tool with its stdout and stderr collected as they arrive (so a chatty tool never
/// blocks on a full pipe). Dropping it kills the tool if it is still running.
pub struct Tool {
    name: String,
    child: Child,
    stdin: Option<ChildStdin>,
    out: Arc<Mutex<Vec<u8>>>,
    err: Arc<Mutex<Vec<u8>>>,
    readers: Vec<JoinHandle<()>>,
}

impl Tool {
    /// Starts the workspace binary `name` with stdin at EOF.
    pub fn start<S: AsRef<OsStr>>(name: &str, args: &[S]) -> Tool {
        Tool::spawn(name, args, Stdio::null())
    }

    /// Starts `name` with a pipe on stdin: see [`Tool::stdin`] and [`Tool::close_stdin`].
    pub fn start_with_stdin<S: AsRef<OsStr>>(name: &str, args: &[S]) -> Tool {
        Tool::spawn(name, args, Stdio::piped())
    }

    fn spawn<S: AsRef<OsStr>>(name: &str, args: &[S], stdin: Stdio) -> Tool {
        let mut child = Command::new(bin_path(name))
            .args(args)
            .stdin(stdin)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {name}: {e}"));
        let out = Arc::new(Mutex::new(Vec::new()));
        let err = Arc::new(Mutex::new(Vec::new()));
        let readers = vec![
            collect(child.stdout.take().unwrap(), out.clone()),
            collect(child.stderr.take().unwrap(), err.clone()),
        ];
        Tool {
            name: name.to_string(),
            stdin: child.stdin.take(),
            child,
            out,
            err,
            readers,
        }
    }

    /// The tool's stdin; only for a tool made with [`Tool::start_with_stdin`].
    pub fn stdin(&mut self) -> &mut ChildStdin {
        self.stdin.as_mut().expect("started without a stdin pipe")
    }

    /// Closes stdin: the tool reads EOF.
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.out.lock().unwrap()).into_owned()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.err.lock().unwrap()).into_owned()
    }

    /// The stderr lines written so far; a line still being written is left out.
    pub fn logs(&self) -> Vec<String> {
        let err = self.stderr();
        match err.rfind('\n') {
            Some(end) => err[..end].split('\n').map(str::to_string).collect(),
            None => Vec::new(),
        }
    }

    pub fn has_log(&self, needle: &str) -> bool {
        self.logs().iter().any(|l| l.contains(needle))
    }

    /// Waits (up to [`TOOL_WAIT`]) for a stderr line containing `needle`.
    pub fn wait_for_log(&self, needle: &str) -> bool {
        wait_until(TOOL_WAIT, || self.has_log(needle))
    }

    pub fn signal(&self, sig: libc::c_int) {
        // SAFETY: kill(2) on our own child's pid, which stays reserved until we reap it.
        unsafe { libc::kill(self.child.id() as libc::pid_t, sig) };
    }

    /// Waits for the exit, then for the last of its output; panics after [`TOOL_WAIT`].
    pub fn wait_exit(&mut self) -> ExitStatus {
        let mut status = None;
        let exited = wait_until(TOOL_WAIT, || {
            status = self.child.try_wait().unwrap();
            status.is_some()
        });
        assert!(
            exited,
            "{} did not exit; stderr: {}",
            self.name,
            self.stderr()
        );
        for r in self.readers.drain(..) {
            r.join().unwrap();
        }
        status.unwrap()
    }

    /// SIGTERM, then the exit status (T-004).
    pub fn stop(&mut self) -> ExitStatus {
        self.signal(libc::SIGTERM);
        self.wait_exit()
    }

    /// SIGTERM and the clean exit (status 0) it must lead to.
    pub fn terminate(&mut self) {
        let status = self.stop();
        assert!(
            status.success(),
            "{} exit {status}; stderr: {}",
            self.name,
            self.stderr()
        );
    }

    /// Waits for the exit; answers (exit code, or -1 for a signal; stdout; stderr).
    pub fn finish(mut self) -> (i32, String, String) {
        let status = self.wait_exit();
        (status.code().unwrap_or(-1), self.stdout(), self.stderr())
    }
}

impl Drop for Tool {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn collect(mut from: impl Read + Send + 'static, into: Arc<Mutex<Vec<u8>>>) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        loop {
            match from.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => into.lock().unwrap().extend_from_slice(&buf[..n]),
            }
        }
    })
}

/// Runs a tool to completion with stdin at EOF; answers (exit code, stdout, stderr).
pub fn run_tool<S: AsRef<OsStr>>(name: &str, args: &[S]) -> (i32, String, String) {
    Tool::start(name, args).finish()
}

/// Like [`run_tool`], with `input` on stdin.
pub fn run_tool_with_input(name: &str, args: &[&str], input: &[u8]) -> (i32, String, String) {
    let mut tool = Tool::start_with_stdin(name, args);
    let mut stdin = tool.stdin.take().unwrap();
    let input = input.to_vec();
    // A separate writer, so a tool that exits early cannot block the test on a full pipe.
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let result = tool.finish();
    writer.join().unwrap();
    result
}

/// Whether `text` is exactly one line of Go's standard logger: `YYYY/MM/DD HH:MM:SS <msg>\n`.
pub fn is_go_log_line(text: &str, msg: &str) -> bool {
    const STAMP: &[u8] = b"0000/00/00 00:00:00 ";
    let Some(line) = text.strip_suffix('\n') else {
        return false;
    };
    let stamp_ok = line.len() >= STAMP.len()
        && line.as_bytes()[..STAMP.len()]
            .iter()
            .zip(STAMP)
            .all(|(c, shape)| match shape {
                b'0' => c.is_ascii_digit(),
                _ => c == shape,
            });
    stamp_ok && line[STAMP.len()..] == *msg
}

/// Runs the tool, which must fail the way Go's `log.Fatal` does: exit status 1, nothing on
/// stdout, and `msg` as the one log line on stderr (T-003).
pub fn assert_fatal(name: &str, args: &[&str], msg: &str) {
    let (code, out, err) = run_tool(name, args);
    assert_eq!((code, out.as_str()), (1, ""), "{name} {args:?}: {err}");
    assert!(is_go_log_line(&err, msg), "{name} {args:?}: {err:?}");
}

/// Runs `<tool> -h` and checks Go's flag usage: exit 0, nothing on stdout, `Usage of <tool>:`
/// first, then exactly `flags` (each `name type`, as printed) as the flag lines. Answers the
/// whole usage text.
pub fn assert_usage(name: &str, flags: &[&str]) -> String {
    let (code, out, text) = run_tool(name, &["-h"]);
    assert_eq!((code, out.as_str()), (0, ""), "{text}");
    assert!(text.starts_with(&format!("Usage of {name}:\n")), "{text}");
    let printed: Vec<&str> = text.lines().filter_map(|l| l.strip_prefix("  -")).collect();
    assert_eq!(printed, flags, "{text}");
    text
}

/// A TCP address nothing listens on (the port was bound for a moment, then released).
pub fn unused_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// `POST /pub?topic=<topic>`, which must answer 200.
pub fn publish(nsqd: &Nsqd, topic: &str, body: impl AsRef<[u8]>) {
    let r = http_post(
        nsqd.http_addr,
        &format!("/pub?topic={topic}"),
        body.as_ref(),
    );
    assert_eq!(r.status, 200, "publish to {topic}: {}", r.text());
}

/// [`publish`] for each body in turn.
pub fn publish_all<B: AsRef<[u8]>>(nsqd: &Nsqd, topic: &str, bodies: &[B]) {
    for body in bodies {
        publish(nsqd, topic, body);
    }
}

/// The topic's `message_count`, 0 while it does not exist.
pub fn topic_count(nsqd: &Nsqd, topic: &str) -> u64 {
    let stats = nsqd.stats();
    stats_topic(&stats, topic).map_or(0, |t| t["message_count"].as_u64().unwrap())
}

/// Reads `n` messages of `topic` on channel `check` (FINing them); the bodies in delivery order.
pub fn read_bodies(nsqd: &Nsqd, topic: &str, n: usize) -> Vec<String> {
    let mut c = nsqd.consumer(topic, "check", n as u32);
    (0..n)
        .map(|_| {
            let m = c.read_message();
            c.fin(&m.id);
            String::from_utf8(m.body).unwrap()
        })
        .collect()
}

/// Waits until the channel has seen `n` messages and finished all of them (none in flight or
/// waiting after a requeue); answers its stats.
pub fn wait_drained(nsqd: &Nsqd, topic: &str, channel: &str, n: u64) -> serde_json::Value {
    let mut last = serde_json::Value::Null;
    let drained = wait_until(TOOL_WAIT, || {
        let stats = nsqd.stats();
        let Some(c) = stats_channel(&stats, topic, channel) else {
            return false;
        };
        last = c.clone();
        c["message_count"] == n
            && c["depth"] == 0
            && c["in_flight_count"] == 0
            && c["deferred_count"] == 0
    });
    assert!(drained, "channel {topic}/{channel} not drained: {last}");
    last
}

/// One request as [`RecordingServer`] received it.
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    pub method: String,
    /// The request target: path and query as sent.
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RecordedRequest {
    /// The first header called `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// An HTTP/1.1 server on a port of its own that answers every request with the next scripted
/// status (200 once the script is used up) and records what it got.
pub struct RecordingServer {
    addr: SocketAddr,
    requests: Arc<Mutex<Vec<RecordedRequest>>>,
}

impl RecordingServer {
    pub fn start() -> RecordingServer {
        RecordingServer::with_statuses(&[])
    }

    pub fn with_statuses(statuses: &[u16]) -> RecordingServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(Mutex::new(
            statuses.iter().copied().collect::<VecDeque<_>>(),
        ));
        let r = requests.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { return };
                let (r, s) = (r.clone(), script.clone());
                std::thread::spawn(move || serve(conn, &r, &s));
            }
        });
        RecordingServer { addr, requests }
    }

    /// `http://<addr><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.requests.lock().unwrap().clone()
    }

    pub fn count(&self) -> usize {
        self.requests.lock().unwrap().len()
    }
}

/// Serves one keep-alive connection until the client closes it.
fn serve(conn: TcpStream, requests: &Mutex<Vec<RecordedRequest>>, script: &Mutex<VecDeque<u16>>) {
    let mut writer = conn.try_clone().unwrap();
    let mut reader = BufReader::new(conn);
    while let Some(request) = read_request(&mut reader) {
        let status = script.lock().unwrap().pop_front().unwrap_or(200);
        requests.lock().unwrap().push(request);
        let answer = format!("HTTP/1.1 {status} Scripted\r\nContent-Length: 2\r\n\r\nok");
        if writer.write_all(answer.as_bytes()).is_err() {
            return;
        }
    }
}

/// The next request on the connection; `None` once it is closed.
fn read_request(reader: &mut impl BufRead) -> Option<RecordedRequest> {
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return None;
    }
    let mut parts = line.trim_end().splitn(3, ' ');
    let method = parts.next().unwrap_or_default().to_string();
    let target = parts.next().unwrap_or_default().to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 {
            return None;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    let mut request = RecordedRequest {
        method,
        target,
        headers,
        body: Vec::new(),
    };
    let len: usize = request
        .header("content-length")
        .map_or(0, |v| v.parse().unwrap());
    request.body = vec![0; len];
    reader.read_exact(&mut request.body).unwrap();
    Some(request)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_log_lines() {
        assert!(is_go_log_line("2024/01/02 03:04:05 boom\n", "boom"));
        assert!(!is_go_log_line("2024/01/02 03:04:05 boom", "boom"));
        assert!(!is_go_log_line("2024/01/02 03:04:05 boom\nmore\n", "boom"));
        assert!(!is_go_log_line("2024-01-02 03:04:05 boom\n", "boom"));
        assert!(!is_go_log_line("boom\n", "boom"));
    }
}
