//! nsqlookupd's options: the 10 command-line flags and the TOML config file (§6.4, L-040).

use std::time::Duration;

use nsq_common::cli::{self, Outcome, Step, LOG_LEVEL_KIND};
use nsq_common::config::{ConfigError, Resolver};
use nsq_common::goflag::FlagSet;
use nsq_common::logging::LogLevel;

/// Every nsqlookupd setting. Field names are the config-file keys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    pub broadcast_address: String,
    pub http_address: String,
    /// A producer not heard from (IDENTIFY or PING) for longer is left out of `/lookup` and
    /// `/nodes` (L-021).
    pub inactive_producer_timeout: Duration,
    pub log_level: LogLevel,
    pub log_prefix: String,
    pub tcp_address: String,
    /// How long a tombstoned producer stays out of `/lookup` (L-022).
    pub tombstone_lifetime: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            broadcast_address: nsq_common::host::os_hostname(),
            http_address: "0.0.0.0:4161".to_string(),
            inactive_producer_timeout: Duration::from_secs(300),
            log_level: LogLevel::Info,
            log_prefix: "[nsqlookupd] ".to_string(),
            tcp_address: "0.0.0.0:4160".to_string(),
            tombstone_lifetime: Duration::from_secs(45),
        }
    }
}

/// The flag set, with defaults taken from `d` (so `-h` shows this host's name).
fn flag_set(d: &Options) -> FlagSet {
    let mut fs = FlagSet::new("nsqlookupd");
    fs.string(
        "broadcast-address",
        &d.broadcast_address,
        "address nsqd nodes are told to reach this nsqlookupd at",
    )
    .string("config", "", "TOML config file to read")
    .string(
        "http-address",
        &d.http_address,
        "<addr>:<port> for the HTTP API",
    )
    .duration(
        "inactive-producer-timeout",
        d.inactive_producer_timeout,
        "how long a producer stays listed after its last ping",
    )
    .custom(
        "log-level",
        LOG_LEVEL_KIND,
        d.log_level.label(),
        "least important messages to log: debug, info, warn, error or fatal",
    )
    .string(
        "log-prefix",
        &d.log_prefix,
        "text put in front of every log line",
    )
    .string(
        "tcp-address",
        &d.tcp_address,
        "<addr>:<port> for nsqd nodes to register on",
    )
    .duration(
        "tombstone-lifetime",
        d.tombstone_lifetime,
        "how long a tombstoned producer is left out of lookups",
    )
    .bool("verbose", false, "deprecated and ignored; use -log-level")
    .bool("version", false, "print the version and exit");
    fs
}

/// The `nsqlookupd -h` text.
pub fn usage() -> String {
    flag_set(&Options::default()).usage()
}

/// Parses the command line (without argv[0]) and the `-config` file. Usage, flag errors and
/// `-version` are printed here and come back as `Exit`. An error is a fatal config problem
/// that the caller logs as FATAL before exiting with status 1.
pub fn parse_args(args: &[String]) -> Result<Outcome<Options>, String> {
    plan(args).map(cli::perform)
}

fn plan(args: &[String]) -> Result<Step<Options>, String> {
    cli::plan_daemon("nsqlookupd", args, Options::default(), flag_set, resolve)
}

/// Fills `o` from the command line, then the config file, then the flag defaults (F-C-002).
fn resolve(mut o: Options, r: &Resolver<'_>) -> Result<Options, ConfigError> {
    if let Some(level) = cli::resolve_log_level(r)? {
        o.log_level = level;
    }
    o.broadcast_address = r.string("broadcast-address", "broadcast_address")?;
    o.http_address = r.string("http-address", "http_address")?;
    o.inactive_producer_timeout =
        r.duration("inactive-producer-timeout", "inactive_producer_timeout")?;
    o.log_prefix = r.string("log-prefix", "log_prefix")?;
    o.tcp_address = r.string("tcp-address", "tcp_address")?;
    o.tombstone_lifetime = r.duration("tombstone-lifetime", "tombstone_lifetime")?;
    Ok(o)
}

#[cfg(test)]
mod tests {
    use super::*;
    use nsq_common::config::ConfigFile;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn run(list: &[&str]) -> Options {
        match plan(&args(list)).unwrap() {
            Step::Run(o) => o,
            other => panic!("expected options, got {other:?}"),
        }
    }

    fn run_with_config(list: &[&str], toml: &str) -> Result<Options, String> {
        let defaults = Options::default();
        let fs = flag_set(&defaults);
        let parsed = fs.parse(&args(list)).unwrap();
        let cfg = ConfigFile::parse_str("nsqlookupd.cfg", toml).map_err(|e| e.to_string())?;
        resolve(defaults, &Resolver::new(&fs, &parsed, Some(&cfg))).map_err(|e| e.to_string())
    }

    fn printed(list: &[&str]) -> (bool, String, i32) {
        match plan(&args(list)).unwrap() {
            Step::Print {
                to_stdout,
                text,
                code,
            } => (to_stdout, text, code),
            other => panic!("expected output, got {other:?}"),
        }
    }

    #[test]
    fn defaults() {
        let o = run(&[]);
        assert_eq!(o, Options::default());
        assert_eq!(o.tcp_address, "0.0.0.0:4160");
        assert_eq!(o.http_address, "0.0.0.0:4161");
        assert_eq!(o.inactive_producer_timeout, Duration::from_secs(300));
        assert_eq!(o.tombstone_lifetime, Duration::from_secs(45));
        assert_eq!(o.log_prefix, "[nsqlookupd] ");
        assert_eq!(o.log_level, LogLevel::Info);
        assert_eq!(o.broadcast_address, nsq_common::host::os_hostname());
    }

    #[test]
    fn ten_flags_in_go_usage_layout() {
        let text = usage();
        assert_eq!(text.matches("\n  -").count(), 10);
        assert!(text.starts_with("Usage of nsqlookupd:\n  -broadcast-address string\n    \t"));
        for want in [
            "  -config string\n",
            "  -http-address string\n    \t<addr>:<port> for the HTTP API (default \"0.0.0.0:4161\")\n",
            "  -inactive-producer-timeout duration\n",
            "(default 5m0s)\n",
            "  -log-level value\n",
            "(default INFO)\n",
            "  -log-prefix string\n    \ttext put in front of every log line (default \"[nsqlookupd] \")\n",
            "  -tcp-address string\n",
            "(default \"0.0.0.0:4160\")\n",
            "  -tombstone-lifetime duration\n",
            "(default 45s)\n",
            "  -verbose\n",
            "  -version\n    \tprint the version and exit\n",
        ] {
            assert!(text.contains(want), "missing {want:?} in\n{text}");
        }
    }

    #[test]
    fn go_flag_syntax() {
        let o = run(&[
            "-tcp-address=127.0.0.1:0",
            "--http-address",
            "127.0.0.1:1",
            "-inactive-producer-timeout=1m30s",
            "--tombstone-lifetime",
            "500ms",
            "-log-level=debug",
            "-verbose",
            "-broadcast-address=lookupd.example",
        ]);
        assert_eq!(o.tcp_address, "127.0.0.1:0");
        assert_eq!(o.http_address, "127.0.0.1:1");
        assert_eq!(o.inactive_producer_timeout, Duration::from_secs(90));
        assert_eq!(o.tombstone_lifetime, Duration::from_millis(500));
        assert_eq!(o.log_level, LogLevel::Debug);
        assert_eq!(o.broadcast_address, "lookupd.example");
    }

    #[test]
    fn help_unknown_bad_values_and_version() {
        let (to_stdout, text, code) = printed(&["-h"]);
        assert!(!to_stdout);
        assert_eq!(code, 0);
        assert!(text.starts_with("Usage of nsqlookupd:\n"));
        let (_, text, code) = printed(&["-nope"]);
        assert_eq!(code, 2);
        assert!(text.starts_with("flag provided but not defined: -nope\nUsage of nsqlookupd:\n"));
        let (_, text, code) = printed(&["-tombstone-lifetime=soon"]);
        assert_eq!(code, 2);
        assert!(
            text.starts_with("invalid value \"soon\" for flag -tombstone-lifetime: parse error\n")
        );
        let (_, text, code) = printed(&["-log-level=loud"]);
        assert_eq!(code, 2);
        assert!(text.starts_with("invalid value \"loud\" for flag -log-level: "));
        let (to_stdout, text, code) = printed(&["--version"]);
        assert!(to_stdout);
        assert_eq!(code, 0);
        assert!(text.starts_with("nsqlookupd v1.3.0 (built w/") && text.ends_with(")\n"));
    }

    #[test]
    fn config_file() {
        let toml = r#"
            tcp_address = "10.0.0.1:4160"
            http_address = "10.0.0.1:4161"
            inactive_producer_timeout = 60000
            tombstone_lifetime = "10s"
            log_level = "warn"
            log_prefix = "[lookup] "
            broadcast_address = "lookup.example"
            unknown = 1
        "#;
        let o = run_with_config(&["-http-address=127.0.0.1:9"], toml).unwrap();
        assert_eq!(o.tcp_address, "10.0.0.1:4160");
        assert_eq!(o.http_address, "127.0.0.1:9", "command line beats the file");
        assert_eq!(o.inactive_producer_timeout, Duration::from_secs(60));
        assert_eq!(o.tombstone_lifetime, Duration::from_secs(10));
        assert_eq!(o.log_level, LogLevel::Warn);
        assert_eq!(o.log_prefix, "[lookup] ");
        assert_eq!(o.broadcast_address, "lookup.example");
        assert_eq!(
            run_with_config(&[], "log_level = 'loud'").unwrap_err(),
            "failed parsing log_level loud"
        );
        assert_eq!(
            run_with_config(&[], "tombstone_lifetime = '45'").unwrap_err(),
            "failed parsing tombstone_lifetime 45"
        );
        assert!(run_with_config(&[], "x = ")
            .unwrap_err()
            .starts_with("failed to load config file nsqlookupd.cfg - "));
    }
}
