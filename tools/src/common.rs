//! Shared by every tool (spec §8.0): Go-style log lines and fatal exits, the flags the tools
//! have in common, the go-nsq option plumbing behind `--consumer-opt` / `--producer-opt`, the
//! one-source rule, user agents, the usual `main`, and the signal handling (T-004).

use std::time::Duration;

use nsq_client::{Config, Consumer};
use nsq_common::goflag::{FlagSet, ParsedFlags};
use tokio::signal::unix::{signal, Signal, SignalKind};

/// The NSQ release the tools report (V-002).
pub const VERSION: &str = "1.3.0";

/// `<tool> v1.3.0`, what `--version` prints (V-002).
pub fn version_line(tool: &str) -> String {
    format!("{tool} v{VERSION}")
}

/// Writes [`version_line`] to stdout, for `--version`.
pub fn print_version(tool: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stdout(), "{}", version_line(tool));
}

/// The IDENTIFY user agent of a tool's go-nsq connections (T-002).
pub fn user_agent(tool: &str) -> String {
    format!("{tool}/{VERSION} go-nsq/1.1.0")
}

/// One line through Go's standard logger: `YYYY/MM/DD HH:MM:SS <msg>` on stderr.
pub fn log(msg: &str) {
    let now = chrono::Local::now().format("%Y/%m/%d %H:%M:%S");
    eprintln!("{now} {msg}");
}

/// Go's `log.Fatal`: the log line, then exit status 1 (T-003).
pub fn fatal(msg: &str) -> ! {
    log(msg);
    std::process::exit(1)
}

/// Parses the command line, exiting as Go's flag package does on `-h` (status 0) or a bad flag
/// (status 2, the error and usage already on stderr).
pub fn parse_flags(set: &FlagSet) -> ParsedFlags {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match set.parse_or_report(&args) {
        Ok(parsed) => parsed,
        Err(code) => std::process::exit(code),
    }
}

/// A repeatable string flag's values (empty when the flag was not given).
pub fn strings(parsed: &ParsedFlags, name: &str) -> Vec<String> {
    parsed.get_string_list(name).unwrap_or_default().to_vec()
}

/// The flags every consuming tool has: its sources, `--consumer-opt` and `--max-in-flight`.
pub fn consumer_flags(fs: &mut FlagSet) -> &mut FlagSet {
    fs.string_list(
        "consumer-opt",
        "go-nsq consumer option as name,value (may be given multiple times)",
    )
    .string_list(
        "lookupd-http-address",
        "nsqlookupd HTTP address to discover nsqd from (may be given multiple times)",
    )
    .int(
        "max-in-flight",
        200,
        "most messages to have in flight at once",
    )
    .string_list(
        "nsqd-tcp-address",
        "nsqd TCP address to consume from (may be given multiple times)",
    )
}

/// `--http-client-connect-timeout` (2s) and `--http-client-request-timeout`, whose default
/// differs between the tools.
pub fn http_client_flags(fs: &mut FlagSet, request_timeout: Duration) -> &mut FlagSet {
    fs.duration(
        "http-client-connect-timeout",
        Duration::from_secs(2),
        "timeout for connecting to an HTTP server",
    )
    .duration(
        "http-client-request-timeout",
        request_timeout,
        "timeout for a whole HTTP request",
    )
}

/// A duration flag that must not be zero: `--<name> should be positive` otherwise.
pub fn positive_duration(p: &ParsedFlags, name: &str) -> Result<Duration, String> {
    let d = p.get_duration(name).unwrap_or_default();
    if d.is_zero() {
        Err(format!("--{name} should be positive"))
    } else {
        Ok(d)
    }
}

/// The nsqd TCP and lookupd HTTP addresses of [`consumer_flags`], checked with
/// [`check_source`].
pub fn consumer_sources(
    p: &ParsedFlags,
    period: bool,
) -> Result<(Vec<String>, Vec<String>), String> {
    let nsqd_tcp = strings(p, "nsqd-tcp-address");
    let lookupd_http = strings(p, "lookupd-http-address");
    check_source(&nsqd_tcp, &lookupd_http, period)?;
    Ok((nsqd_tcp, lookupd_http))
}

/// A go-nsq config from `--consumer-opt` / `--producer-opt` values, then the tool's user
/// agent, which no option overrides (T-002).
pub fn tool_config(tool: &str, opts: &[String]) -> Result<Config, String> {
    let mut config = Config::default();
    apply_opts(&mut config, opts)?;
    config.user_agent = user_agent(tool);
    Ok(config)
}

/// The usual `main`: parse the flags, answer `--version`, check the options (an error is
/// fatal), then run on a multi-threaded runtime.
pub fn run_main<O, F>(
    tool: &str,
    set: &FlagSet,
    options: impl FnOnce(&ParsedFlags) -> Result<O, String>,
    run: impl FnOnce(O) -> F,
) where
    F: std::future::Future<Output = ()>,
{
    let parsed = parse_flags(set);
    if parsed.get_bool("version").unwrap_or(false) {
        print_version(tool);
        return;
    }
    let opts = options(&parsed).unwrap_or_else(|e| fatal(&e));
    block_on(run(opts));
}

/// Applies `--consumer-opt` / `--producer-opt` values (`name,value`; a bare `name` means
/// `true`; `-` and `_` are the same in names) to a go-nsq config, then checks the ranges
/// (T-000).
pub fn apply_opts(config: &mut Config, opts: &[String]) -> Result<(), String> {
    for opt in opts {
        apply_opt(config, opt)?;
    }
    config.validate().map_err(|e| e.to_string())
}

/// Applies one `--*-opt` value the way go-nsq's `Config.Set` does: the name is normalised,
/// the value parsed, and the option's range checked at once, with go-nsq's error texts
/// (`invalid option <name>`, `invalid <name> ! <v> < <min>`).
pub fn apply_opt(config: &mut Config, opt: &str) -> Result<(), String> {
    let (name, value) = opt.split_once(',').unwrap_or((opt, "true"));
    let name = name.replace('-', "_");
    match name.as_str() {
        // Options go-nsq knows that this client has no use for: accepted, checked, ignored.
        "local_addr" => return Ok(()),
        "tls_min_version" => {
            return match value {
                "ssl3.0" | "tls1.0" | "tls1.1" | "tls1.2" => Ok(()),
                _ => Err(format!("unknown tls_min_version {value}")),
            }
        }
        _ => {}
    }
    if !KNOWN_OPTS.contains(&name.as_str()) {
        return Err(format!("invalid option {name}"));
    }
    config.set(&name, value).map_err(|e| {
        let detail = match &e {
            nsq_client::Error::Config(m) => m
                .strip_prefix(&format!("{name}={value}: "))
                .unwrap_or(m)
                .to_string(),
            other => other.to_string(),
        };
        format!("failed to coerce option {name} ({value}) - {detail}")
    })?;
    check_opt_range(config, &name)
}

/// Like [`apply_opts`] but failing as Go's flag package does when `nsq.ConfigFlag` rejects a
/// value: `invalid value "<opt>" for flag -<flag>: <err>`, the usage, exit status 2. go-nsq
/// applies the options while the flags are parsed, so this is what a Go tool prints.
pub fn apply_opts_or_exit(set: &FlagSet, flag: &str, config: &mut Config, opts: &[String]) {
    for opt in opts {
        if let Err(e) = apply_opt(config, opt) {
            let quoted = nsq_common::goflag::go_quote(opt);
            eprint!(
                "invalid value {quoted} for flag -{flag}: {e}\n{}",
                set.usage()
            );
            std::process::exit(2);
        }
    }
}

/// [`parse_flags`], then the go-nsq options of the repeatable `opt_flag` applied to a fresh
/// config with [`apply_opts_or_exit`], as a Go tool does while it parses.
pub fn parse_flags_and_opts(set: &FlagSet, opt_flag: &str) -> (ParsedFlags, Config) {
    let parsed = parse_flags(set);
    let mut config = Config::default();
    apply_opts_or_exit(set, opt_flag, &mut config, &strings(&parsed, opt_flag));
    (parsed, config)
}

/// go-nsq's `Config.Validate`: every option's range (with the texts of [`apply_opt`]), then
/// the combinations. For values a tool sets itself after the options (`--max-in-flight`).
pub fn validate_config(config: &Config) -> Result<(), String> {
    for name in KNOWN_OPTS {
        check_opt_range(config, name)?;
    }
    config.validate().map_err(|e| e.to_string())
}

/// Runs a tool's async main on a multi-threaded runtime; a runtime that cannot start is fatal.
pub fn block_on<F: std::future::Future>(fut: F) -> F::Output {
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt.block_on(fut),
        Err(e) => fatal(&format!("failed to start the async runtime - {e}")),
    }
}

/// Like [`block_on`] on a single-threaded runtime: for request/response loops, where handing
/// every reply from one worker thread to another costs more than the work itself.
pub fn block_on_current_thread<F: std::future::Future>(fut: F) -> F::Output {
    match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt.block_on(fut),
        Err(e) => fatal(&format!("failed to start the async runtime - {e}")),
    }
}

/// The option names [`Config::set`] takes.
const KNOWN_OPTS: &[&str] = &[
    "dial_timeout",
    "read_timeout",
    "write_timeout",
    "lookupd_poll_interval",
    "lookupd_poll_jitter",
    "lookupd_poll_timeout",
    "max_requeue_delay",
    "default_requeue_delay",
    "backoff_strategy",
    "max_backoff_duration",
    "backoff_multiplier",
    "max_attempts",
    "low_rdy_idle_timeout",
    "low_rdy_timeout",
    "rdy_redistribute_interval",
    "client_id",
    "hostname",
    "user_agent",
    "topology_region",
    "topology_zone",
    "heartbeat_interval",
    "sample_rate",
    "tls_v1",
    "tls_root_ca_file",
    "tls_insecure_skip_verify",
    "tls_cert",
    "tls_key",
    "deflate",
    "deflate_level",
    "snappy",
    "output_buffer_size",
    "output_buffer_timeout",
    "max_in_flight",
    "msg_timeout",
    "max_msg_size",
    "auth_secret",
];

/// go-nsq's `min`/`max` for an option (T-001), checked right after it is set. Values print as
/// Go's `%v` does (`100ms`, `5m0s`, `0.5`).
fn check_opt_range(c: &Config, name: &str) -> Result<(), String> {
    let ms = Duration::from_millis;
    let s = Duration::from_secs;
    let dur = |v: Duration, min: Duration, max: Option<Duration>| {
        range_error(name, v, min, max, nsq_common::duration::format_go_duration)
    };
    let int =
        |v: i64, min: i64, max: Option<i64>| range_error(name, v, min, max, |v| v.to_string());
    match name {
        "read_timeout" => dur(c.read_timeout, ms(100), Some(s(300))),
        "write_timeout" => dur(c.write_timeout, ms(100), Some(s(300))),
        "lookupd_poll_interval" => dur(c.lookupd_poll_interval, ms(10), Some(s(300))),
        "max_requeue_delay" => dur(c.max_requeue_delay, s(0), Some(s(3600))),
        "default_requeue_delay" => dur(c.default_requeue_delay, s(0), Some(s(3600))),
        "max_backoff_duration" => dur(c.max_backoff_duration, s(0), Some(s(3600))),
        "backoff_multiplier" => dur(c.backoff_multiplier, s(0), Some(s(3600))),
        "low_rdy_idle_timeout" => dur(c.low_rdy_idle_timeout, s(1), Some(s(300))),
        "low_rdy_timeout" => dur(c.low_rdy_timeout, s(1), Some(s(300))),
        "rdy_redistribute_interval" => dur(c.rdy_redistribute_interval, ms(1), Some(s(5))),
        "max_attempts" => int(i64::from(c.max_attempts), 0, Some(65535)),
        "sample_rate" => int(i64::from(c.sample_rate), 0, Some(99)),
        "deflate_level" => int(c.deflate_level, 1, Some(9)),
        "max_in_flight" => int(c.max_in_flight, 0, None),
        "lookupd_poll_jitter" => range_error(
            name,
            c.lookupd_poll_jitter,
            0.0,
            Some(1.0),
            nsq_common::goflag::go_format_float,
        ),
        _ => Ok(()),
    }
}

fn range_error<T: PartialOrd + Copy>(
    name: &str,
    v: T,
    min: T,
    max: Option<T>,
    show: impl Fn(T) -> String,
) -> Result<(), String> {
    if v < min {
        return Err(format!("invalid {name} ! {} < {}", show(v), show(min)));
    }
    match max {
        Some(max) if v > max => Err(format!("invalid {name} ! {} > {}", show(v), show(max))),
        _ => Ok(()),
    }
}

/// The consumer tools' one-source rule (T-003): exactly one of the two address kinds.
/// `period` adds the trailing `.` that nsq_to_file's "required" message has.
pub fn check_source(
    nsqd_tcp: &[String],
    lookupd_http: &[String],
    period: bool,
) -> Result<(), String> {
    match (nsqd_tcp.is_empty(), lookupd_http.is_empty()) {
        (true, true) => Err(format!(
            "--nsqd-tcp-address or --lookupd-http-address required{}",
            if period { "." } else { "" }
        )),
        (false, false) => Err("use --nsqd-tcp-address or --lookupd-http-address not both".into()),
        _ => Ok(()),
    }
}

/// Connects a consumer to its source: the nsqd addresses directly, or discovery through every
/// lookupd. A nsqd that cannot be reached is an error; a lookupd query that fails is logged
/// and retried on the next poll, as go-nsq does.
pub async fn connect_consumer(
    consumer: &Consumer,
    nsqd_tcp: &[String],
    lookupd_http: &[String],
) -> Result<(), String> {
    if !nsqd_tcp.is_empty() {
        consumer
            .connect_to_nsqds(nsqd_tcp)
            .await
            .map_err(|e| e.to_string())?;
    }
    for addr in lookupd_http {
        match consumer.connect_to_nsqlookupd(addr).await {
            Ok(()) => {}
            Err(e @ nsq_client::Error::Stopped) => return Err(e.to_string()),
            // go-nsq only logs a failed query: the address stays in the poll list and the
            // topic may show up later.
            Err(e) => log(&format!("error querying nsqlookupd ({addr}) - {e}")),
        }
    }
    Ok(())
}

/// The clean stop (T-004): the consumers take no more messages, the handler tasks finish what
/// they hold, then the connections close.
pub async fn stop_consumers(consumers: &[Consumer], handlers: Vec<tokio::task::JoinHandle<()>>) {
    for consumer in consumers {
        consumer.stop();
    }
    for handler in handlers {
        let _ = handler.await;
    }
    for consumer in consumers {
        consumer.stopped().await;
    }
}

/// What [`Signals::recv`] saw.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Received {
    /// SIGINT or SIGTERM.
    Stop,
    Hangup,
}

/// The tool's signal handlers, installed when this is made. From then on SIGINT and SIGTERM
/// (and SIGHUP when asked for) are only reported, so one that arrives while the tool is still
/// connecting leads to the clean shutdown instead of the default action (T-004). Made inside
/// the runtime, first thing.
pub struct Signals {
    int: Signal,
    term: Signal,
    hup: Option<Signal>,
}

impl Signals {
    /// SIGINT and SIGTERM, plus SIGHUP when `hangup` is set.
    pub fn install(hangup: bool) -> std::io::Result<Signals> {
        Ok(Signals {
            int: signal(SignalKind::interrupt())?,
            term: signal(SignalKind::terminate())?,
            hup: if hangup {
                Some(signal(SignalKind::hangup())?)
            } else {
                None
            },
        })
    }

    /// The next signal; cancel-safe, for `select!` loops.
    pub async fn recv(&mut self) -> Received {
        let hup = &mut self.hup;
        let hup = async move {
            match hup {
                Some(hup) => hup.recv().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = self.int.recv() => Received::Stop,
            _ = self.term.recv() => Received::Stop,
            _ = hup => Received::Hangup,
        }
    }
}

/// Installs the handlers now and answers a future that resolves at the first SIGINT or SIGTERM
/// (or SIGHUP, when `hangup` is set): call it at start-up, await it once the tool runs.
pub fn stop_signal(hangup: bool) -> impl std::future::Future<Output = ()> {
    let signals = Signals::install(hangup);
    async move {
        match signals {
            Ok(mut signals) => {
                signals.recv().await;
            }
            // Without handlers the default action (exit) still applies; never resolve.
            Err(_) => std::future::pending().await,
        }
    }
}

/// [`stop_signal`] for SIGINT and SIGTERM, what stops most tools (T-004).
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    stop_signal(false)
}

/// The HTTP client the tools share: the given timeouts, NSQ's V1 `Accept` header.
pub fn http_client(
    connect_timeout: Duration,
    request_timeout: Duration,
) -> Result<reqwest::Client, String> {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::ACCEPT,
        reqwest::header::HeaderValue::from_static("application/vnd.nsq; version=1.0"),
    );
    reqwest::Client::builder()
        .connect_timeout(connect_timeout)
        .timeout(request_timeout)
        .default_headers(headers)
        .build()
        .map_err(|e| e.to_string())
}

/// Parses a test's command line with `set`; a flag error fails the test.
#[cfg(test)]
pub(crate) fn parse_test_args(set: &FlagSet, args: &[&str]) -> ParsedFlags {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    match set.parse(&args) {
        Ok(parsed) => parsed,
        Err(e) => panic!("{args:?}: {e:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opts_take_name_comma_value_and_bare_names() {
        let mut c = Config::default();
        apply_opts(&mut c, &["max-in-flight,50".into(), "snappy".into()]).unwrap();
        assert_eq!(c.max_in_flight, 50);
        assert!(c.snappy);
        let err = apply_opts(&mut c, &["no_such_thing,1".into()]).unwrap_err();
        assert_eq!(err, "invalid option no_such_thing");
    }

    #[test]
    fn opt_ranges_use_go_nsq_texts() {
        let mut c = Config::default();
        let err = |c: &mut Config, o: &str| apply_opt(c, o).unwrap_err();
        assert_eq!(
            err(&mut c, "read_timeout,10"),
            "invalid read_timeout ! 10ms < 100ms"
        );
        assert_eq!(
            err(&mut c, "read-timeout,6m"),
            "invalid read_timeout ! 6m0s > 5m0s"
        );
        assert_eq!(
            err(&mut c, "deflate_level,10"),
            "invalid deflate_level ! 10 > 9"
        );
        assert_eq!(
            err(&mut c, "lookupd_poll_jitter,1.5"),
            "invalid lookupd_poll_jitter ! 1.5 > 1"
        );
        assert_eq!(
            err(&mut c, "sample_rate,100"),
            "invalid sample_rate ! 100 > 99"
        );
        assert_eq!(err(&mut c, "bogus-thing,1"), "invalid option bogus_thing");
        assert_eq!(
            err(&mut c, "tls_v1,maybe"),
            "failed to coerce option tls_v1 (maybe) - invalid bool \"maybe\""
        );
        apply_opt(&mut c, "rdy_redistribute_interval,5s").unwrap();
        apply_opt(&mut c, "local_addr,127.0.0.1:0").unwrap();
        assert_eq!(c.rdy_redistribute_interval, Duration::from_secs(5));
    }

    /// One test for all signals: they go to the whole process, so two tests raising them
    /// could see each other's.
    #[tokio::test]
    async fn signals_are_caught_from_the_moment_they_are_installed() {
        // Not polled yet: the handler must already be there, or SIGTERM would end the test.
        let stop = shutdown_signal();
        // SAFETY: raise(3) only sends a signal to this process.
        unsafe { libc::raise(libc::SIGTERM) };
        stop.await;

        let mut signals = Signals::install(true).unwrap();
        unsafe { libc::raise(libc::SIGHUP) };
        assert_eq!(signals.recv().await, Received::Hangup);
        unsafe { libc::raise(libc::SIGINT) };
        assert_eq!(signals.recv().await, Received::Stop);
    }

    #[test]
    fn exactly_one_source() {
        let some = vec!["127.0.0.1:4150".to_string()];
        assert_eq!(
            check_source(&[], &[], false).unwrap_err(),
            "--nsqd-tcp-address or --lookupd-http-address required"
        );
        assert_eq!(
            check_source(&[], &[], true).unwrap_err(),
            "--nsqd-tcp-address or --lookupd-http-address required."
        );
        assert_eq!(
            check_source(&some, &some, false).unwrap_err(),
            "use --nsqd-tcp-address or --lookupd-http-address not both"
        );
        assert!(check_source(&some, &[], false).is_ok());
    }
}
