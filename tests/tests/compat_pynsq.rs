//! Compatibility with the official Python client, pynsq 0.9.1 (on tornado 6.0.4).
//!
//! Each test starts an nsqd and runs one scenario of `tests/compat/python/pynsq_compat.py`,
//! which does the detailed checking (exact bodies and counts, attempts, /stats counters) and
//! prints `PASS <scenario>` or `FAIL <scenario>: <why>`.
//!
//! The client comes from `$NSQ_PYTHON`, else `<workspace>/.venv/bin/python` (installed by
//! `scripts/setup-compat.sh`). When it is missing the tests fail, unless `NSQ_SKIP_COMPAT=1`.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nsq_tests::Nsqd;

/// The scripts time themselves out after 60 s; this is the backstop for a hung interpreter.
const HARD_LIMIT: Duration = Duration::from_secs(120);

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ lives in the workspace")
        .to_path_buf()
}

fn skip_compat() -> bool {
    std::env::var("NSQ_SKIP_COMPAT").is_ok_and(|v| v == "1")
}

/// The Python that has pynsq, or `None` when it is missing and compat tests may be skipped.
fn python() -> Option<PathBuf> {
    let python = match std::env::var_os("NSQ_PYTHON") {
        Some(p) => PathBuf::from(p),
        None => {
            let venv = workspace_root().join(".venv/bin/python");
            if venv.exists() {
                venv
            } else {
                PathBuf::from("python3")
            }
        }
    };
    let probe = Command::new(&python)
        .args([
            "-c",
            "import nsq, tornado; print(nsq.__version__, tornado.version)",
        ])
        .output();
    let found = match &probe {
        Ok(out) if out.status.success() => return Some(python),
        Ok(out) => String::from_utf8_lossy(&out.stderr).into_owned(),
        Err(e) => e.to_string(),
    };
    if skip_compat() {
        eprintln!("skipping pynsq compatibility test (NSQ_SKIP_COMPAT=1): {found}");
        return None;
    }
    panic!(
        "pynsq is not available to {}: {found}\n\
         install it with ./scripts/setup-compat.sh (or set NSQ_PYTHON, or NSQ_SKIP_COMPAT=1)",
        python.display()
    );
}

struct ClientRun {
    success: bool,
    stdout: String,
    stderr: String,
}

/// Runs `program args` to completion (killing it after `HARD_LIMIT`), capturing its output.
fn run_client(program: &Path, args: &[String]) -> ClientRun {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {}: {e}", program.display()));
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        })
    };
    let out = drain(Box::new(child.stdout.take().unwrap()));
    let err = drain(Box::new(child.stderr.take().unwrap()));
    let deadline = Instant::now() + HARD_LIMIT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    ClientRun {
        success: status.is_some_and(|s| s.success()),
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap()
            + &status.map_or(format!("\n(killed after {HARD_LIMIT:?})"), |_| {
                String::new()
            }),
    }
}

/// Starts nsqd with `nsqd_args` and runs pynsq scenario `scenario` against it.
fn scenario(scenario: &str, nsqd_args: &[&str]) {
    let Some(python) = python() else { return };
    let nsqd = Nsqd::start_with(nsqd_args);
    let script = workspace_root().join("tests/compat/python/pynsq_compat.py");
    let args = vec![
        script.display().to_string(),
        scenario.to_string(),
        "--tcp".into(),
        nsqd.tcp_addr.to_string(),
        "--http".into(),
        nsqd.http_addr.to_string(),
    ];
    let run = run_client(&python, &args);
    let passed = run.success
        && run
            .stdout
            .lines()
            .any(|l| l.starts_with(&format!("PASS {scenario} ")));
    if !passed {
        let logs = nsqd.logs();
        let tail = &logs[logs.len().saturating_sub(60)..];
        panic!(
            "pynsq scenario {scenario} failed\n--- stdout\n{}\n--- stderr\n{}\n--- nsqd log (tail)\n{}",
            run.stdout,
            run.stderr,
            tail.join("\n")
        );
    }
    eprint!("{}", run.stdout);
}

/// Writer.pub, Writer.mpub and Writer.dpub publish thousands of messages; a Reader with
/// max_in_flight 200 FINs every one exactly once with attempts 1.
#[test]
fn pynsq_publish_and_consume_everything() {
    scenario("pubsub", &[]);
}

/// Each message REQ'd once (delay 0) comes back with attempts == 2.
#[test]
fn pynsq_requeue_redelivers_with_attempts_two() {
    scenario("requeue", &[]);
}

/// nsqd's --msg-timeout=1s: un-FINed messages time out and are redelivered (attempts 2).
#[test]
fn pynsq_unfinished_message_times_out_server_default() {
    scenario("timeout", &["--msg-timeout=1s"]);
}

/// The client's IDENTIFY msg_timeout (1000 ms) overrides the 60 s server default.
#[test]
fn pynsq_unfinished_message_times_out_client_msg_timeout() {
    scenario("timeout-client", &[]);
}

/// With heartbeat_interval 1000 ms an idle consumer stays connected for 3 s and still works.
#[test]
fn pynsq_idle_consumer_survives_on_heartbeats() {
    scenario("heartbeat", &[]);
}
