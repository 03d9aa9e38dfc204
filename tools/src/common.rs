//! Shared by every tool (spec §8.0): Go-style log lines and fatal exits, the go-nsq option
//! plumbing behind `--consumer-opt` / `--producer-opt`, the one-source rule, user agents and
//! stopping on SIGINT/SIGTERM.

use std::time::Duration;

use nsq_client::{Config, Consumer};
use nsq_common::goflag::{FlagSet, ParsedFlags};

/// The NSQ release the tools report (V-002).
pub const VERSION: &str = "1.3.0";

/// `<tool> v1.3.0`, what `--version` prints (V-002).
pub fn version_line(tool: &str) -> String {
    format!("{tool} v{VERSION}")
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

/// Applies `--consumer-opt` / `--producer-opt` values (`name,value`; a bare `name` means
/// `true`; `-` and `_` are the same in names) to a go-nsq config, then checks the ranges
/// (T-000).
pub fn apply_opts(config: &mut Config, opts: &[String]) -> Result<(), String> {
    for opt in opts {
        let (name, value) = match opt.split_once(',') {
            Some((n, v)) => (n, v),
            None => (opt.as_str(), "true"),
        };
        let name = name.replace('-', "_");
        config
            .set(&name, value)
            .map_err(|_| format!("invalid option {name}"))?;
    }
    config.validate().map_err(|e| e.to_string())
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
/// lookupd.
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
        consumer
            .connect_to_nsqlookupd(addr)
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Resolves when the process gets SIGINT or SIGTERM (T-004).
pub async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        // Without handlers the default action (exit) still applies; never resolve.
        return std::future::pending().await;
    };
    tokio::select! {
        _ = int.recv() => {}
        _ = term.recv() => {}
    }
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
