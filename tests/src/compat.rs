//! Running the real client libraries' compatibility scripts.
//!
//! A script runs one scenario, does the detailed checking itself, and prints `PASS <scenario>`
//! or `FAIL <scenario>: <why>`. The interpreters come from `$NSQ_PYTHON` (else
//! `<workspace>/.venv/bin/python`, else `python3`) and `$NSQ_NODE` (else `node`), set up by
//! `scripts/setup-compat.sh`. A missing client fails the test, unless `NSQ_SKIP_COMPAT=1`.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::Nsqd;

/// The scripts time themselves out after 60 s; this is the backstop for a hung interpreter.
const HARD_LIMIT: Duration = Duration::from_secs(120);

/// How many nsqd log lines a failure report shows.
const LOG_TAIL: usize = 60;

/// The real client libraries the compatibility scripts drive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompatClient {
    /// pynsq 0.9.1 on tornado 6.0.4: `tests/compat/python/pynsq_compat.py`.
    Pynsq,
    /// nsqjs 0.13.0: `tests/compat/node/nsqjs_compat.js`.
    Nsqjs,
}

/// What the client must be able to load besides itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Needs {
    Plain,
    /// Its snappy library too (python-snappy, snappystream), for the stream-upgrade scenarios.
    Snappy,
}

/// A client found ready to run its compatibility script.
pub struct CompatScript {
    client: CompatClient,
    program: PathBuf,
    script: PathBuf,
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ lives in the workspace")
        .to_path_buf()
}

impl CompatClient {
    fn name(self) -> &'static str {
        match self {
            CompatClient::Pynsq => "pynsq",
            CompatClient::Nsqjs => "nsqjs",
        }
    }

    /// The client's script if its interpreter can load the client (and what `needs` asks
    /// for); None when it cannot and `NSQ_SKIP_COMPAT=1` allows skipping, else panics.
    pub fn locate(self, needs: Needs) -> Option<CompatScript> {
        let root = workspace_root();
        let snappy = needs == Needs::Snappy;
        let (program, script, env, probe_args) = match self {
            CompatClient::Pynsq => {
                let python = std::env::var_os("NSQ_PYTHON").map_or_else(
                    || {
                        let venv = root.join(".venv/bin/python");
                        if venv.exists() {
                            venv
                        } else {
                            PathBuf::from("python3")
                        }
                    },
                    PathBuf::from,
                );
                let import = if snappy {
                    "import nsq, snappy, tornado; print(nsq.__version__, tornado.version)"
                } else {
                    "import nsq, tornado; print(nsq.__version__, tornado.version)"
                };
                (
                    python,
                    root.join("tests/compat/python/pynsq_compat.py"),
                    "NSQ_PYTHON",
                    ["-c", import],
                )
            }
            CompatClient::Nsqjs => {
                let node = std::env::var_os("NSQ_NODE")
                    .map_or_else(|| PathBuf::from("node"), PathBuf::from);
                let require = if snappy {
                    "require('nsqjs'); require('snappystream')"
                } else {
                    "require('nsqjs')"
                };
                (
                    node,
                    root.join("tests/compat/node/nsqjs_compat.js"),
                    "NSQ_NODE",
                    ["-e", require],
                )
            }
        };
        let mut probe = Command::new(&program);
        probe.args(probe_args);
        if self == CompatClient::Nsqjs {
            // nsqjs is found in the script's node_modules, so probe from there.
            probe.current_dir(script.parent().expect("script directory"));
        }
        let probe = probe.output();
        let found = match &probe {
            Ok(out) if out.status.success() => {
                return Some(CompatScript {
                    client: self,
                    program,
                    script,
                })
            }
            Ok(out) => String::from_utf8_lossy(&out.stderr).into_owned(),
            Err(e) => e.to_string(),
        };
        let name = self.name();
        if std::env::var("NSQ_SKIP_COMPAT").is_ok_and(|v| v == "1") {
            eprintln!("skipping {name} compatibility test (NSQ_SKIP_COMPAT=1): {found}");
            return None;
        }
        panic!(
            "{name} is not available to {}: {found}\n\
             install it with ./scripts/setup-compat.sh (or set {env}, or NSQ_SKIP_COMPAT=1)",
            program.display()
        );
    }

    /// Runs `scenario` with `args`; Ok(stdout) when it printed `PASS <scenario> `, else
    /// Err(stdout and stderr). None when skipped.
    pub fn run(self, scenario: &str, args: &[String]) -> Option<Result<String, String>> {
        Some(self.locate(Needs::Plain)?.run(scenario, args))
    }
}

impl CompatScript {
    /// Runs `scenario` with `args` to completion (killing it after the hard limit); Ok(stdout)
    /// when it exited 0 and printed `PASS <scenario> `, else Err(stdout and stderr).
    pub fn run(&self, scenario: &str, args: &[String]) -> Result<String, String> {
        let mut child = Command::new(&self.program)
            .arg(&self.script)
            .arg(scenario)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", self.program.display()));
        let drain = |mut pipe: Box<dyn Read + Send>| {
            std::thread::spawn(move || {
                let mut text = String::new();
                let _ = pipe.read_to_string(&mut text);
                text
            })
        };
        let out = drain(Box::new(child.stdout.take().expect("stdout piped")));
        let err = drain(Box::new(child.stderr.take().expect("stderr piped")));
        let deadline = Instant::now() + HARD_LIMIT;
        let status = loop {
            if let Some(status) = child.try_wait().expect("try_wait") {
                break Some(status);
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let stdout = out.join().unwrap_or_default();
        let stderr = err.join().unwrap_or_default();
        let passed = status.is_some_and(|s| s.success())
            && stdout
                .lines()
                .any(|l| l.starts_with(&format!("PASS {scenario} ")));
        if passed {
            Ok(stdout)
        } else {
            let killed = match status {
                None => format!("\n(killed after {HARD_LIMIT:?})"),
                Some(_) => String::new(),
            };
            Err(format!(
                "--- stdout\n{stdout}\n--- stderr\n{stderr}{killed}"
            ))
        }
    }

    /// Runs `scenario` against `nsqd` (`--tcp <addr> --http <addr>`, then `extra_args`) and
    /// panics with the script's output and the tail of nsqd's log unless it passes.
    pub fn expect_pass(&self, scenario: &str, nsqd: &Nsqd, extra_args: &[String]) {
        let mut args = vec![
            "--tcp".to_string(),
            nsqd.tcp_addr.to_string(),
            "--http".to_string(),
            nsqd.http_addr.to_string(),
        ];
        args.extend_from_slice(extra_args);
        match self.run(scenario, &args) {
            Ok(stdout) => eprint!("{stdout}"),
            Err(output) => {
                let logs = nsqd.logs();
                let tail = &logs[logs.len().saturating_sub(LOG_TAIL)..];
                panic!(
                    "{} scenario {scenario} failed\n{output}\n--- nsqd log (tail)\n{}",
                    self.client.name(),
                    tail.join("\n")
                );
            }
        }
    }
}
