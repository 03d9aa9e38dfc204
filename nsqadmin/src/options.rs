//! nsqadmin's options: the 26 command-line flags and the TOML config file (§7.1), and the
//! start-up checks of A-001 that need no I/O beyond name resolution.

use std::time::Duration;

use nsq_common::cli::{self, Outcome, Step, LOG_LEVEL_KIND};
use nsq_common::config::{ConfigError, Resolver};
use nsq_common::goflag::FlagSet;
use nsq_common::logging::LogLevel;

/// Every nsqadmin setting. Field names are the config-file keys.
#[derive(Clone, Debug, PartialEq)]
pub struct Options {
    pub acl_http_header: String,
    pub admin_users: Vec<String>,
    pub allow_config_from_cidr: String,
    pub base_path: String,
    pub dev_static_dir: String,
    pub graphite_url: String,
    pub http_address: String,
    pub http_client_connect_timeout: Duration,
    pub http_client_request_timeout: Duration,
    pub http_client_tls_cert: String,
    pub http_client_tls_insecure_skip_verify: bool,
    pub http_client_tls_key: String,
    pub http_client_tls_root_ca_file: String,
    pub log_level: LogLevel,
    pub log_prefix: String,
    pub nsqlookupd_http_addresses: Vec<String>,
    pub notification_http_endpoint: String,
    pub nsqd_http_addresses: Vec<String>,
    pub proxy_graphite: bool,
    pub statsd_counter_format: String,
    pub statsd_gauge_format: String,
    pub statsd_interval: Duration,
    pub statsd_prefix: String,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            acl_http_header: "X-Forwarded-User".to_string(),
            admin_users: Vec::new(),
            allow_config_from_cidr: "127.0.0.1/8".to_string(),
            base_path: "/".to_string(),
            dev_static_dir: String::new(),
            graphite_url: String::new(),
            http_address: "0.0.0.0:4171".to_string(),
            http_client_connect_timeout: Duration::from_secs(2),
            http_client_request_timeout: Duration::from_secs(5),
            http_client_tls_cert: String::new(),
            http_client_tls_insecure_skip_verify: false,
            http_client_tls_key: String::new(),
            http_client_tls_root_ca_file: String::new(),
            log_level: LogLevel::Info,
            log_prefix: "[nsqadmin] ".to_string(),
            nsqlookupd_http_addresses: Vec::new(),
            notification_http_endpoint: String::new(),
            nsqd_http_addresses: Vec::new(),
            proxy_graphite: false,
            statsd_counter_format: "stats.counters.%s.count".to_string(),
            statsd_gauge_format: "stats.gauges.%s".to_string(),
            statsd_interval: Duration::from_secs(60),
            statsd_prefix: "nsq.%s".to_string(),
        }
    }
}

fn flag_set(d: &Options) -> FlagSet {
    let mut fs = FlagSet::new("nsqadmin");
    fs.string(
        "acl-http-header",
        &d.acl_http_header,
        "request header whose value names the user for the admin check",
    )
    .string_list(
        "admin-user",
        "user allowed to run admin actions (may be given multiple times; none means everyone)",
    )
    .string(
        "allow-config-from-cidr",
        &d.allow_config_from_cidr,
        "client addresses allowed to use /config (empty allows every address)",
    )
    .string(
        "base-path",
        &d.base_path,
        "URL path every page and API route is served under",
    )
    .string("config", "", "TOML config file to read")
    .string(
        "dev-static-dir",
        "",
        "(development) serve the UI files from this directory instead of the embedded ones",
    )
    .string(
        "graphite-url",
        "",
        "graphite HTTP address used for the rate column and the graphs",
    )
    .string(
        "http-address",
        &d.http_address,
        "<addr>:<port> to serve the UI and API on",
    )
    .duration(
        "http-client-connect-timeout",
        d.http_client_connect_timeout,
        "timeout for connecting to nsqd and nsqlookupd",
    )
    .duration(
        "http-client-request-timeout",
        d.http_client_request_timeout,
        "timeout for a whole request to nsqd or nsqlookupd",
    )
    .string(
        "http-client-tls-cert",
        "",
        "client certificate file presented to HTTPS upstreams",
    )
    .bool(
        "http-client-tls-insecure-skip-verify",
        false,
        "do not verify the certificates of HTTPS upstreams",
    )
    .string(
        "http-client-tls-key",
        "",
        "private key file of the client certificate",
    )
    .string(
        "http-client-tls-root-ca-file",
        "",
        "CA file used to verify HTTPS upstreams",
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
    .string_list(
        "lookupd-http-address",
        "nsqlookupd HTTP address to query (may be given multiple times)",
    )
    .string(
        "notification-http-endpoint",
        "",
        "HTTP endpoint that receives a POST for every admin action",
    )
    .string_list(
        "nsqd-http-address",
        "nsqd HTTP address to query (may be given multiple times)",
    )
    .bool(
        "proxy-graphite",
        false,
        "proxy graphite requests through nsqadmin's /render",
    )
    .string(
        "statsd-counter-format",
        &d.statsd_counter_format,
        "graphite name template of statsd counters",
    )
    .string(
        "statsd-gauge-format",
        &d.statsd_gauge_format,
        "graphite name template of statsd gauges",
    )
    .duration(
        "statsd-interval",
        d.statsd_interval,
        "statsd flush interval the graphs and rates are based on",
    )
    .string(
        "statsd-prefix",
        &d.statsd_prefix,
        "prefix of nsqd's statsd metrics (%s is the host)",
    )
    .bool("verbose", false, "deprecated and ignored; use -log-level")
    .bool("version", false, "print the version and exit");
    fs
}

/// The `nsqadmin -h` text.
pub fn usage() -> String {
    flag_set(&Options::default()).usage()
}

/// Parses the command line (without argv[0]) and the `-config` file. Usage, flag errors and
/// `-version` are printed here and come back as `Exit`. An error is a fatal config problem.
pub fn parse_args(args: &[String]) -> Result<Outcome<Options>, String> {
    plan(args).map(cli::perform)
}

fn plan(args: &[String]) -> Result<Step<Options>, String> {
    cli::plan_daemon("nsqadmin", args, Options::default(), flag_set, resolve)
}

/// Fills `o` from the command line, then the config file, then the flag defaults.
fn resolve(mut o: Options, r: &Resolver<'_>) -> Result<Options, ConfigError> {
    if let Some(level) = cli::resolve_log_level(r)? {
        o.log_level = level;
    }
    o.acl_http_header = r.string("acl-http-header", "acl_http_header")?;
    o.admin_users = r.string_list("admin-user", "admin_users")?;
    o.allow_config_from_cidr = r.string("allow-config-from-cidr", "allow_config_from_cidr")?;
    o.base_path = r.string("base-path", "base_path")?;
    o.dev_static_dir = r.string("dev-static-dir", "dev_static_dir")?;
    o.graphite_url = r.string("graphite-url", "graphite_url")?;
    o.http_address = r.string("http-address", "http_address")?;
    o.http_client_connect_timeout =
        r.duration("http-client-connect-timeout", "http_client_connect_timeout")?;
    o.http_client_request_timeout =
        r.duration("http-client-request-timeout", "http_client_request_timeout")?;
    o.http_client_tls_cert = r.string("http-client-tls-cert", "http_client_tls_cert")?;
    o.http_client_tls_insecure_skip_verify = r.bool(
        "http-client-tls-insecure-skip-verify",
        "http_client_tls_insecure_skip_verify",
    )?;
    o.http_client_tls_key = r.string("http-client-tls-key", "http_client_tls_key")?;
    o.http_client_tls_root_ca_file = r.string(
        "http-client-tls-root-ca-file",
        "http_client_tls_root_ca_file",
    )?;
    o.log_prefix = r.string("log-prefix", "log_prefix")?;
    o.nsqlookupd_http_addresses =
        non_empty(r.string_list("lookupd-http-address", "nsqlookupd_http_addresses")?);
    o.notification_http_endpoint =
        r.string("notification-http-endpoint", "notification_http_endpoint")?;
    o.nsqd_http_addresses = non_empty(r.string_list("nsqd-http-address", "nsqd_http_addresses")?);
    o.proxy_graphite = r.bool("proxy-graphite", "proxy_graphite")?;
    o.statsd_counter_format = r.string("statsd-counter-format", "statsd_counter_format")?;
    o.statsd_gauge_format = r.string("statsd-gauge-format", "statsd_gauge_format")?;
    o.statsd_interval = r.duration("statsd-interval", "statsd_interval")?;
    o.statsd_prefix = r.string("statsd-prefix", "statsd_prefix")?;
    o.admin_users = non_empty(std::mem::take(&mut o.admin_users));
    Ok(o)
}

/// A list option given as `""` (for example `-admin-user=`) names nothing.
fn non_empty(list: Vec<String>) -> Vec<String> {
    list.into_iter().filter(|s| !s.is_empty()).collect()
}

/// A-002: empty → `/`; a leading `/` is added; then the path is cleaned like Go's
/// `path.Clean` (no trailing slash except for the root).
pub fn normalize_base_path(p: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for seg in p.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            s => parts.push(s),
        }
    }
    if parts.is_empty() {
        return "/".to_string();
    }
    let mut out = String::with_capacity(p.len() + 1);
    for s in parts {
        out.push('/');
        out.push_str(s);
    }
    out
}

impl Options {
    /// The first A-001 checks (upstream choice, TLS file pairing), in the reference's order.
    /// The error is the text after `failed to instantiate nsqadmin - `.
    pub fn validate(&self) -> Result<(), String> {
        if self.nsqd_http_addresses.is_empty() && self.nsqlookupd_http_addresses.is_empty() {
            return Err("--nsqd-http-address or --lookupd-http-address required".to_string());
        }
        if !self.nsqd_http_addresses.is_empty() && !self.nsqlookupd_http_addresses.is_empty() {
            return Err("use --nsqd-http-address or --lookupd-http-address not both".to_string());
        }
        if !self.http_client_tls_cert.is_empty() && self.http_client_tls_key.is_empty() {
            return Err(
                "--http-client-tls-key must be specified with --http-client-tls-cert".to_string(),
            );
        }
        if !self.http_client_tls_key.is_empty() && self.http_client_tls_cert.is_empty() {
            return Err(
                "--http-client-tls-cert must be specified with --http-client-tls-key".to_string(),
            );
        }
        Ok(())
    }

    /// The A-001 checks that come after the HTTP client's TLS files are loaded.
    pub fn validate_addresses(&self) -> Result<(), String> {
        for a in &self.nsqlookupd_http_addresses {
            resolve_tcp(a)
                .map_err(|e| format!("failed to resolve --lookupd-http-address ({a}) - {e}"))?;
        }
        for a in &self.nsqd_http_addresses {
            resolve_tcp(a)
                .map_err(|e| format!("failed to resolve --nsqd-http-address ({a}) - {e}"))?;
        }
        if self.proxy_graphite && !self.graphite_url.is_empty() {
            reqwest::Url::parse(&self.graphite_url).map_err(|e| {
                format!(
                    "failed to parse --graphite-url ({}) - {}",
                    self.graphite_url, e
                )
            })?;
        }
        if !self.allow_config_from_cidr.is_empty() {
            crate::config_api::Cidr::parse(&self.allow_config_from_cidr).map_err(|e| {
                format!(
                    "failed to parse --allow-config-from-cidr ({}) - {}",
                    self.allow_config_from_cidr, e
                )
            })?;
        }
        Ok(())
    }
}

/// Like Go's `net.ResolveTCPAddr("tcp", addr)`: `host:port` with a numeric or resolvable
/// host (empty means any) and a port.
fn resolve_tcp(addr: &str) -> Result<(), String> {
    use std::net::ToSocketAddrs;
    let Some((host, port)) = addr.rsplit_once(':') else {
        return Err(format!("address {addr}: missing port in address"));
    };
    if port.parse::<u16>().is_err() {
        return Err(format!("address {addr}: invalid port"));
    }
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Ok(());
    }
    let found = (host, 0u16)
        .to_socket_addrs()
        .map_err(|e| format!("lookup {host}: {e}"))?;
    if found.count() == 0 {
        return Err(format!("lookup {host}: no such host"));
    }
    Ok(())
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
        let cfg = ConfigFile::parse_str("nsqadmin.cfg", toml).map_err(|e| e.to_string())?;
        resolve(defaults, &Resolver::new(&fs, &parsed, Some(&cfg))).map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_and_26_flags() {
        assert_eq!(run(&[]), Options::default());
        let text = usage();
        assert_eq!(text.matches("\n  -").count(), 26, "{text}");
        assert!(text.contains("(default \"0.0.0.0:4171\")"));
        assert!(text.contains("(default \"[nsqadmin] \")"));
        assert!(text.contains("(default 1m0s)"));
        assert!(text.contains("(default \"X-Forwarded-User\")"));
    }

    #[test]
    fn go_flag_syntax_and_lists() {
        let o = run(&[
            "--lookupd-http-address=127.0.0.1:4161",
            "-lookupd-http-address",
            "127.0.0.1:4162",
            "-admin-user=alice",
            "--proxy-graphite",
            "-statsd-interval=10s",
            "-base-path=admin",
        ]);
        assert_eq!(
            o.nsqlookupd_http_addresses,
            vec!["127.0.0.1:4161", "127.0.0.1:4162"]
        );
        assert_eq!(o.admin_users, vec!["alice"]);
        assert!(o.proxy_graphite);
        assert_eq!(o.statsd_interval, Duration::from_secs(10));
        assert_eq!(o.base_path, "admin");
    }

    #[test]
    fn config_file_keys() {
        let o = run_with_config(
            &[],
            r#"
            admin_users = ["bob", "carol"]
            nsqlookupd_http_addresses = ["127.0.0.1:4161"]
            nsqd_http_addresses = ["127.0.0.1:4151"]
            statsd_interval = "30s"
            log_level = "debug"
            "#,
        )
        .unwrap();
        assert_eq!(o.admin_users, vec!["bob", "carol"]);
        assert_eq!(o.nsqlookupd_http_addresses, vec!["127.0.0.1:4161"]);
        assert_eq!(o.nsqd_http_addresses, vec!["127.0.0.1:4151"]);
        assert_eq!(o.statsd_interval, Duration::from_secs(30));
        assert_eq!(o.log_level, LogLevel::Debug);
    }

    #[test]
    fn base_paths() {
        assert_eq!(normalize_base_path(""), "/");
        assert_eq!(normalize_base_path("/"), "/");
        assert_eq!(normalize_base_path("admin"), "/admin");
        assert_eq!(normalize_base_path("/admin/"), "/admin");
        assert_eq!(normalize_base_path("//a/./b/../c"), "/a/c");
    }

    #[test]
    fn validation_messages() {
        let mut o = Options::default();
        assert_eq!(
            o.validate().unwrap_err(),
            "--nsqd-http-address or --lookupd-http-address required"
        );
        o.nsqd_http_addresses = vec!["127.0.0.1:4151".into()];
        o.nsqlookupd_http_addresses = vec!["127.0.0.1:4161".into()];
        assert_eq!(
            o.validate().unwrap_err(),
            "use --nsqd-http-address or --lookupd-http-address not both"
        );
        o.nsqlookupd_http_addresses.clear();
        assert_eq!(o.validate(), Ok(()));
        o.http_client_tls_cert = "c.pem".into();
        assert_eq!(
            o.validate().unwrap_err(),
            "--http-client-tls-key must be specified with --http-client-tls-cert"
        );
        o.http_client_tls_cert.clear();
        o.http_client_tls_key = "k.pem".into();
        assert_eq!(
            o.validate().unwrap_err(),
            "--http-client-tls-cert must be specified with --http-client-tls-key"
        );
        o.http_client_tls_key.clear();
        o.nsqd_http_addresses = vec!["nope".into()];
        assert!(o
            .validate_addresses()
            .unwrap_err()
            .starts_with("failed to resolve --nsqd-http-address (nope) - "));
        o.nsqd_http_addresses = vec!["127.0.0.1:4151".into()];
        o.allow_config_from_cidr = "10.0.0.0".into();
        assert!(o
            .validate_addresses()
            .unwrap_err()
            .starts_with("failed to parse --allow-config-from-cidr (10.0.0.0) - "));
    }
}
