//! nsq_to_file's flags (spec §8.3) and their validation (T-030), in the reference's order.

use std::time::Duration;

use nsq_common::goflag::{FlagSet, ParsedFlags};

use super::app_log::Level;
use crate::common;

pub struct Options {
    pub topics: Vec<String>,
    pub topic_pattern: String,
    pub topic_refresh: Duration,
    pub channel: String,
    pub nsqd_tcp_addrs: Vec<String>,
    pub lookupd_http_addrs: Vec<String>,
    pub consumer_opts: Vec<String>,
    pub max_in_flight: i64,
    pub http_connect_timeout: Duration,
    pub http_request_timeout: Duration,
    pub log_prefix: String,
    pub log_level: Level,
    pub output_dir: String,
    /// Already defaulted to `output_dir` when not given.
    pub work_dir: String,
    pub datetime_format: String,
    pub filename_format: String,
    pub host_identifier: String,
    pub gzip_level: u32,
    pub gzip: bool,
    pub skip_empty_files: bool,
    pub rotate_size: i64,
    pub rotate_interval: Duration,
    pub sync_interval: Duration,
}

impl Options {
    /// Files get revisions (and `<REV>` is required) with gzip, rotation or a work dir.
    pub fn rev_required(&self) -> bool {
        self.gzip
            || self.rotate_size > 0
            || !self.rotate_interval.is_zero()
            || self.work_dir != self.output_dir
    }
}

/// What the command line asks for.
pub enum Command {
    Run(Box<Options>),
    Version,
}

/// The flag set. The program name is `nsqd`, so `-h` prints `Usage of nsqd:` like the
/// reference (QRK-34).
pub fn flag_set() -> FlagSet {
    let mut fs = FlagSet::new("nsqd");
    common::consumer_flags(&mut fs);
    common::http_client_flags(&mut fs, Duration::from_secs(5));
    fs.bool("version", false, "print the version and exit")
        .string(
            "log-level",
            "info",
            "log verbosity: debug, info, warn, error or fatal",
        )
        .string("log-prefix", "[nsq_to_file] ", "prefix of every log line")
        .string("channel", "nsq_to_file", "channel to consume")
        .string(
            "output-dir",
            "/tmp",
            "directory the finished files end up in",
        )
        .string(
            "work-dir",
            "",
            "directory for files being written, moved to --output-dir when closed",
        )
        .string(
            "datetime-format",
            "%Y-%m-%d_%H",
            "strftime format of <DATETIME> in the file name",
        )
        .string(
            "filename-format",
            "<TOPIC>.<HOST><REV>.<DATETIME>.log",
            "file name template; <TOPIC>, <HOST>, <PID>, <DATETIME> and <REV> are filled in \
             (<REV> goes up when a name is already taken)",
        )
        .string(
            "host-identifier",
            "",
            "text for <HOST> instead of the short host name; may contain <SHORT_HOST> and \
             <HOSTNAME>",
        )
        .int("gzip-level", 6, "gzip level, 1 (fastest) to 9 (smallest)")
        .bool("gzip", false, "compress the files with gzip")
        .bool(
            "skip-empty-files",
            false,
            "do not create files that would stay empty",
        )
        .duration(
            "topic-refresh",
            Duration::from_secs(60),
            "how often to ask nsqlookupd for new topics",
        )
        .string(
            "topic-pattern",
            "",
            "archive only the topics matching this regular expression",
        )
        .int64(
            "rotate-size",
            0,
            "start a new file once the current one is bigger than `rotate-size` bytes",
        )
        .duration(
            "rotate-interval",
            Duration::ZERO,
            "start a new file this often",
        )
        .duration(
            "sync-interval",
            Duration::from_secs(30),
            "how often to flush and fsync the files",
        )
        .string_list("topic", "topic to archive (repeatable)");
    fs
}

/// Checks the parsed flags in the reference's order; the error is the fatal message.
pub fn resolve(parsed: &ParsedFlags) -> Result<Command, String> {
    let args = parsed.args();
    if !args.is_empty() {
        return Err(format!("unknown arguments: [{}]", args.join(" ")));
    }
    let str_of = |name: &str| parsed.get_str(name).unwrap_or_default().to_string();
    let dur_of = |name: &str| parsed.get_duration(name).unwrap_or_default();
    let log_level = Level::parse(&str_of("log-level")).ok_or("--log-level is invalid")?;
    if parsed.get_bool("version").unwrap_or(false) {
        return Ok(Command::Version);
    }
    let channel = str_of("channel");
    if channel.is_empty() {
        return Err("--channel is required".into());
    }
    let http_connect_timeout = common::positive_duration(parsed, "http-client-connect-timeout")?;
    let http_request_timeout = common::positive_duration(parsed, "http-client-request-timeout")?;
    let (nsqd_tcp_addrs, lookupd_http_addrs) = common::consumer_sources(parsed, true)?;
    let gzip_level = parsed.get_int("gzip-level").unwrap_or(6);
    if !(1..=9).contains(&gzip_level) {
        return Err(format!(
            "invalid --gzip-level value ({gzip_level}), should be 1-9"
        ));
    }
    let topics = common::strings(parsed, "topic");
    let topic_pattern = str_of("topic-pattern");
    if topics.is_empty() && topic_pattern.is_empty() {
        return Err("--topic or --topic-pattern required".into());
    }
    if topics.is_empty() && lookupd_http_addrs.is_empty() {
        return Err("--lookupd-http-address must be specified when no --topic specified".into());
    }
    let sync_interval = dur_of("sync-interval");
    if sync_interval.is_zero() {
        // The reference panics creating its ticker; say why instead.
        return Err("--sync-interval should be positive".into());
    }
    let output_dir = str_of("output-dir");
    let mut work_dir = str_of("work-dir");
    if work_dir.is_empty() {
        work_dir = output_dir.clone();
    }
    Ok(Command::Run(Box::new(Options {
        topics,
        topic_pattern,
        topic_refresh: dur_of("topic-refresh"),
        channel,
        nsqd_tcp_addrs,
        lookupd_http_addrs,
        consumer_opts: common::strings(parsed, "consumer-opt"),
        max_in_flight: parsed.get_int("max-in-flight").unwrap_or(200),
        http_connect_timeout,
        http_request_timeout,
        log_prefix: str_of("log-prefix"),
        log_level,
        output_dir,
        work_dir,
        datetime_format: str_of("datetime-format"),
        filename_format: str_of("filename-format"),
        host_identifier: str_of("host-identifier"),
        gzip_level: gzip_level as u32,
        gzip: parsed.get_bool("gzip").unwrap_or(false),
        skip_empty_files: parsed.get_bool("skip-empty-files").unwrap_or(false),
        rotate_size: parsed.get_int("rotate-size").unwrap_or(0),
        rotate_interval: dur_of("rotate-interval"),
        sync_interval,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Result<Command, String> {
        resolve(&common::parse_test_args(&flag_set(), args))
    }

    fn err(args: &[&str]) -> String {
        run(args)
            .err()
            .unwrap_or_else(|| panic!("{args:?} was accepted"))
    }

    #[test]
    fn validation_messages_in_order() {
        assert_eq!(err(&["--topic=t", "x", "y"]), "unknown arguments: [x y]");
        assert_eq!(
            err(&["--log-level=loud", "--version"]),
            "--log-level is invalid"
        );
        assert!(matches!(run(&["--version"]), Ok(Command::Version)));
        assert_eq!(err(&["--channel="]), "--channel is required");
        assert_eq!(
            err(&["--http-client-connect-timeout=0"]),
            "--http-client-connect-timeout should be positive"
        );
        assert_eq!(
            err(&["--http-client-request-timeout=0"]),
            "--http-client-request-timeout should be positive"
        );
        assert_eq!(
            err(&["--topic=t"]),
            "--nsqd-tcp-address or --lookupd-http-address required."
        );
        assert_eq!(
            err(&["--nsqd-tcp-address=a:1", "--lookupd-http-address=b:2"]),
            "use --nsqd-tcp-address or --lookupd-http-address not both"
        );
        assert_eq!(
            err(&["--nsqd-tcp-address=a:1", "--gzip-level=10"]),
            "invalid --gzip-level value (10), should be 1-9"
        );
        assert_eq!(
            err(&["--nsqd-tcp-address=a:1"]),
            "--topic or --topic-pattern required"
        );
        assert_eq!(
            err(&["--nsqd-tcp-address=a:1", "--topic-pattern=x"]),
            "--lookupd-http-address must be specified when no --topic specified"
        );
    }

    #[test]
    fn defaults_and_work_dir() {
        let Ok(Command::Run(o)) = run(&["--nsqd-tcp-address=a:1", "--topic=t"]) else {
            panic!("not accepted");
        };
        assert_eq!(o.channel, "nsq_to_file");
        assert_eq!(o.work_dir, "/tmp");
        assert_eq!(o.output_dir, "/tmp");
        assert_eq!(o.filename_format, "<TOPIC>.<HOST><REV>.<DATETIME>.log");
        assert_eq!(o.log_prefix, "[nsq_to_file] ");
        assert_eq!(o.sync_interval, Duration::from_secs(30));
        assert_eq!(o.max_in_flight, 200);
        assert!(!o.rev_required());
        let Ok(Command::Run(o)) = run(&["--nsqd-tcp-address=a:1", "--topic=t", "--work-dir=/w"])
        else {
            panic!("not accepted");
        };
        assert!(o.rev_required());
    }
}
