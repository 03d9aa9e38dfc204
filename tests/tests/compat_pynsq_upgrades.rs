//! Compatibility of the stream upgrades (P-080, C-002) with the official Python client, pynsq
//! 0.9.1 (tornado 6.0.4, python-snappy for snappy).
//!
//! Each test starts an nsqd with a certificate made at test time and runs one upgrade scenario
//! of `tests/compat/python/pynsq_compat.py`: a Writer and a Reader that both negotiate the
//! layers move a few thousand messages, and `/stats` must show the layers on both connections.
//! Skipped like the other compat tests when pynsq is missing and `NSQ_SKIP_COMPAT=1`.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nsq_tests::Nsqd;

mod tls_support;

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
            "import nsq, snappy, tornado; print(nsq.__version__, tornado.version)",
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

/// Starts a TLS-capable nsqd and runs pynsq scenario `scenario` against it.
fn scenario(scenario: &str) {
    let Some(python) = python() else { return };
    let certs = tls_support::certs();
    let args = certs.args();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let nsqd = Nsqd::start_with(&args);
    let script = workspace_root().join("tests/compat/python/pynsq_compat.py");
    let args = vec![
        script.display().to_string(),
        scenario.to_string(),
        "--tcp".into(),
        nsqd.tcp_addr.to_string(),
        "--http".into(),
        nsqd.http_addr.to_string(),
        "--ca".into(),
        certs.ca_file.display().to_string(),
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

/// snappy alone (pynsq starts a new snappy stream for every write it sends).
#[test]
fn pynsq_snappy() {
    scenario("snappy");
}

/// deflate alone, level 6.
#[test]
fn pynsq_deflate() {
    scenario("deflate");
}

/// TLS 1.2 (pynsq pins it), verifying nsqd's certificate against the test CA.
#[test]
fn pynsq_tls() {
    scenario("tls");
}

/// TLS, then snappy on top of it.
#[test]
fn pynsq_tls_snappy() {
    scenario("tls-snappy");
}

/// TLS, then deflate on top of it.
#[test]
fn pynsq_tls_deflate() {
    scenario("tls-deflate");
}
