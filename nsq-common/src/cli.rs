//! The start of every daemon's `main`: Go-style flags, `-version`, the `-config` TOML file,
//! then option resolution (F-G-001, F-C-001, F-C-002). Deciding is kept apart from printing so
//! the decisions can be tested without capturing stdout.

use std::io::Write as _;

use crate::config::{ConfigError, ConfigFile, Resolver};
use crate::goflag::{CustomKind, FlagSet};
use crate::logging::LogLevel;

fn check_log_level(s: &str) -> Result<(), String> {
    LogLevel::parse(s).map(|_| ()).map_err(|e| e.to_string())
}

/// The kind of every daemon's `-log-level` flag: a level name, checked as the flag is parsed.
pub const LOG_LEVEL_KIND: CustomKind = CustomKind {
    is_bool: false,
    zero_text: "",
    check: check_log_level,
};

/// The level from `-log-level` or the config file's `log_level`, if either gives one. A bad
/// level is `failed parsing log_level <value>`.
pub fn resolve_log_level(r: &Resolver<'_>) -> Result<Option<LogLevel>, ConfigError> {
    if !r.is_given("log-level", "log_level") {
        return Ok(None);
    }
    let text = r.custom("log-level", "log_level")?;
    match LogLevel::parse(&text) {
        Ok(level) => Ok(Some(level)),
        Err(_) => Err(ConfigError::Parse {
            key: "log_level".to_string(),
            value: text,
        }),
    }
}

/// What the command line asks for, before anything is printed.
#[derive(Debug)]
pub enum Step<T> {
    Run(T),
    /// Usage, a flag error or the version: print `text`, then exit with `code`.
    Print {
        to_stdout: bool,
        text: String,
        code: i32,
    },
}

/// What the command line asks for, after printing.
#[derive(Debug)]
pub enum Outcome<T> {
    Run(T),
    Exit(i32),
}

/// Parses `args` (without argv[0]) with `fs`, which must declare the bool flag `version` and
/// the string flag `config`. `-version` prints `version` to stdout. An error is a fatal config
/// problem (`failed to load config file ...`, `failed parsing <key> <value>`) that the caller
/// logs as FATAL before exiting with status 1.
pub fn plan<T>(
    fs: &FlagSet,
    args: &[String],
    version: &str,
    resolve: impl FnOnce(&Resolver<'_>) -> Result<T, ConfigError>,
) -> Result<Step<T>, String> {
    let parsed = match fs.parse(args) {
        Ok(p) => p,
        Err(e) => {
            return Ok(Step::Print {
                to_stdout: false,
                text: e.stderr_text(fs),
                code: e.exit_code(),
            })
        }
    };
    if parsed.get_bool("version") == Some(true) {
        return Ok(Step::Print {
            to_stdout: true,
            text: format!("{version}\n"),
            code: 0,
        });
    }
    let cfg = match parsed.get_str("config") {
        Some(path) if !path.is_empty() => Some(ConfigFile::load(path).map_err(|e| e.to_string())?),
        _ => None,
    };
    let opts = resolve(&Resolver::new(fs, &parsed, cfg.as_ref())).map_err(|e| e.to_string())?;
    Ok(Step::Run(opts))
}

/// [`plan`] for the daemon `name`: its flags are declared by `flag_set` with `defaults`
/// shown, and `resolve` fills those defaults from the command line and the config file.
pub fn plan_daemon<T, U>(
    name: &str,
    args: &[String],
    defaults: T,
    flag_set: impl FnOnce(&T) -> FlagSet,
    resolve: impl FnOnce(T, &Resolver<'_>) -> Result<U, ConfigError>,
) -> Result<Step<U>, String> {
    let fs = flag_set(&defaults);
    let version = nsq_protocol::version::version_string(name);
    plan(&fs, args, &version, |r| resolve(defaults, r))
}

/// Carries out a [`Step`]: prints what it says to print.
pub fn perform<T>(step: Step<T>) -> Outcome<T> {
    match step {
        Step::Run(t) => Outcome::Run(t),
        Step::Print {
            to_stdout,
            text,
            code,
        } => {
            let _ = if to_stdout {
                std::io::stdout().lock().write_all(text.as_bytes())
            } else {
                std::io::stderr().lock().write_all(text.as_bytes())
            };
            Outcome::Exit(code)
        }
    }
}

/// The rest of every daemon's `main`: NSQ-format logging with the resolved prefix and level, a
/// multi-thread runtime, and the daemon run to completion. A failure is logged as `FATAL:`
/// (unless its message is empty: already logged) and the process exits with status 1.
pub fn run_daemon<F>(log_prefix: &str, log_level: crate::logging::LogLevel, daemon: F)
where
    F: std::future::Future<Output = Result<(), String>>,
{
    crate::logging::init(log_prefix, log_level);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => exit_fatal(&format!("failed to start the runtime - {e}")),
    };
    match runtime.block_on(daemon) {
        Ok(()) => {}
        // An empty message: the daemon logged its FATAL line itself, before shutting down.
        Err(msg) if msg.is_empty() => std::process::exit(1),
        Err(msg) => exit_fatal(&msg),
    }
}

/// A fatal error before the options are known: logged with the daemon's default prefix.
pub fn exit_fatal_at_start(default_prefix: &str, msg: &str) -> ! {
    crate::logging::init(default_prefix, crate::logging::LogLevel::Info);
    exit_fatal(msg)
}

/// Logs `msg` as a FATAL line and exits with status 1.
fn exit_fatal(msg: &str) -> ! {
    crate::fatal!("{}", msg);
    std::process::exit(1);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags() -> FlagSet {
        let mut fs = FlagSet::new("app");
        fs.string("config", "", "config file")
            .bool("version", false, "print the version")
            .int("n", 1, "a number");
        fs
    }

    fn run(args: &[&str]) -> Result<Step<i64>, String> {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        plan(&flags(), &args, "app v1", |r| r.int("n", "n"))
    }

    #[test]
    fn version_help_errors_and_values() {
        assert!(matches!(
            run(&["-version"]),
            Ok(Step::Print { to_stdout: true, ref text, code: 0 }) if text == "app v1\n"
        ));
        assert!(matches!(
            run(&["-h"]),
            Ok(Step::Print {
                to_stdout: false,
                code: 0,
                ..
            })
        ));
        assert!(matches!(
            run(&["-x"]),
            Ok(Step::Print { to_stdout: false, ref text, code: 2 })
                if text.starts_with("flag provided but not defined: -x\nUsage of app:\n")
        ));
        assert!(matches!(run(&["-n=5"]), Ok(Step::Run(5))));
        let err = run(&["-config=/nonexistent/app.cfg"]).unwrap_err();
        assert!(err.starts_with("failed to load config file /nonexistent/app.cfg - "));
    }

    #[test]
    fn config_file_values() {
        let path = std::env::temp_dir().join(format!("nsq-cli-{}.cfg", std::process::id()));
        std::fs::write(&path, "n = 7\n").unwrap();
        let cfg = format!("-config={}", path.display());
        let from_file = run(&[&cfg]);
        let flag_wins = run(&[&cfg, "-n=9"]);
        let _ = std::fs::remove_file(&path);
        assert!(matches!(from_file, Ok(Step::Run(7))));
        assert!(matches!(flag_wins, Ok(Step::Run(9))));
    }
}
