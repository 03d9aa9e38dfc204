//! Compatibility of the stream upgrades (P-080, C-002) with the Node client, nsqjs 0.13.0
//! (with its optional snappystream dependency).
//!
//! Each test starts an nsqd with a certificate made at test time and runs one upgrade scenario
//! of `tests/compat/node/nsqjs_compat.js`: a Writer and a Reader that both negotiate the layers
//! move a few thousand messages, and `/stats` must show the layers on both connections.
//! Skipped like the other compat tests when nsqjs is missing and `NSQ_SKIP_COMPAT=1`.

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

fn compat_dir() -> PathBuf {
    workspace_root().join("tests/compat/node")
}

/// The node that can load nsqjs, or `None` when it is missing and compat tests may be skipped.
fn node() -> Option<PathBuf> {
    let node = std::env::var_os("NSQ_NODE").map_or_else(|| PathBuf::from("node"), PathBuf::from);
    let probe = Command::new(&node)
        .args(["-e", "require('nsqjs'); require('snappystream')"])
        .current_dir(compat_dir())
        .output();
    let found = match &probe {
        Ok(out) if out.status.success() => return Some(node),
        Ok(out) => String::from_utf8_lossy(&out.stderr).into_owned(),
        Err(e) => e.to_string(),
    };
    if skip_compat() {
        eprintln!("skipping nsqjs compatibility test (NSQ_SKIP_COMPAT=1): {found}");
        return None;
    }
    panic!(
        "nsqjs is not available to {}: {found}\n\
         install it with ./scripts/setup-compat.sh (or set NSQ_NODE, or NSQ_SKIP_COMPAT=1)",
        node.display()
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

/// Starts a TLS-capable nsqd and runs nsqjs scenario `scenario` against it.
fn scenario(scenario: &str) {
    let Some(node) = node() else { return };
    let certs = tls_support::certs();
    let args = certs.args();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let nsqd = Nsqd::start_with(&args);
    let script = compat_dir().join("nsqjs_compat.js");
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
    let run = run_client(&node, &args);
    let passed = run.success
        && run
            .stdout
            .lines()
            .any(|l| l.starts_with(&format!("PASS {scenario} ")));
    if !passed {
        let logs = nsqd.logs();
        let tail = &logs[logs.len().saturating_sub(60)..];
        panic!(
            "nsqjs scenario {scenario} failed\n--- stdout\n{}\n--- stderr\n{}\n--- nsqd log (tail)\n{}",
            run.stdout,
            run.stderr,
            tail.join("\n")
        );
    }
    eprint!("{}", run.stdout);
}

#[test]
fn nsqjs_snappy() {
    scenario("snappy");
}

#[test]
fn nsqjs_deflate() {
    scenario("deflate");
}

/// TLS, verifying nsqd's certificate against the test CA.
#[test]
fn nsqjs_tls() {
    scenario("tls");
}

#[test]
fn nsqjs_tls_snappy() {
    scenario("tls-snappy");
}

#[test]
fn nsqjs_tls_deflate() {
    scenario("tls-deflate");
}
