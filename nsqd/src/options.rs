//! nsqd's options: NSQ's 57 command-line flags (plus `--metrics-per-client`, beyond NSQ), the
//! TOML config file, the startup checks that need no I/O, and the `/config/:opt` view
//! (H-060..H-062).

use std::io::Write as _;
use std::time::Duration;

use md5::{Digest, Md5};
use nsq_common::config::{ConfigError, ConfigFile, Resolver};
use nsq_common::goflag::{go_format_float, go_quote, parse_go_bool, sort_descending};
use nsq_common::goflag::{CustomKind, FlagSet};
use nsq_common::gofmt::json_f64;
use nsq_common::logging::LogLevel;
use nsq_protocol::json::push_json_string;
use thiserror::Error;

/// `--tls-required` (BEH-141); the numbers are what `/config/tls_required` reports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TlsRequired {
    #[default]
    No,
    /// TCP clients must upgrade to TLS; plain HTTP stays allowed.
    TcpHttps,
    Yes,
}

impl TlsRequired {
    /// `true`/`false` in any `ParseBool` spelling, or `tcp-https`; case-insensitive.
    pub fn parse(s: &str) -> Result<TlsRequired, String> {
        let lower = s.to_ascii_lowercase();
        if lower == "tcp-https" {
            return Ok(TlsRequired::TcpHttps);
        }
        match parse_go_bool(&lower) {
            Some(true) => Ok(TlsRequired::Yes),
            Some(false) => Ok(TlsRequired::No),
            None => Err(format!(
                "expected true, false or tcp-https, got {}",
                go_quote(s)
            )),
        }
    }

    pub fn as_int(self) -> i64 {
        match self {
            TlsRequired::No => 0,
            TlsRequired::TcpHttps => 1,
            TlsRequired::Yes => 2,
        }
    }

    fn flag_text(self) -> &'static str {
        match self {
            TlsRequired::No => "false",
            TlsRequired::TcpHttps => "tcp-https",
            TlsRequired::Yes => "true",
        }
    }
}

pub const TLS_VERSION_1_0: u16 = 0x0301;
pub const TLS_VERSION_1_3: u16 = 0x0304;

/// `tls1.0`..`tls1.3` (any case) to the protocol number; empty means "keep the default".
/// `ssl3.0` is refused, as in the reference.
pub fn parse_tls_min_version(s: &str) -> Result<Option<u16>, String> {
    Ok(Some(match s.to_ascii_lowercase().as_str() {
        "" => return Ok(None),
        "tls1.0" => 0x0301,
        "tls1.1" => 0x0302,
        "tls1.2" => 0x0303,
        "tls1.3" => 0x0304,
        _ => return Err(format!("unknown TLS version {}", go_quote(s))),
    }))
}

fn tls_version_text(v: u16) -> String {
    match v {
        0x0301..=0x0304 => format!("tls1.{}", v - 0x0301),
        other => other.to_string(),
    }
}

fn check_log_level(s: &str) -> Result<(), String> {
    LogLevel::parse(s).map(|_| ()).map_err(|e| e.to_string())
}

fn check_tls_required(s: &str) -> Result<(), String> {
    TlsRequired::parse(s).map(|_| ())
}

fn check_tls_min_version(s: &str) -> Result<(), String> {
    parse_tls_min_version(s).map(|_| ())
}

const LOG_LEVEL_KIND: CustomKind = CustomKind {
    is_bool: false,
    zero_text: "",
    check: check_log_level,
};

const TLS_REQUIRED_KIND: CustomKind = CustomKind {
    is_bool: true,
    zero_text: "false",
    check: check_tls_required,
};

const TLS_MIN_VERSION_KIND: CustomKind = CustomKind {
    is_bool: false,
    zero_text: "",
    check: check_tls_min_version,
};

/// Every nsqd setting. Field names are the config-file keys (§5.1), except `node_id` (key
/// `id`). The last four fields have no flag and cannot be configured (F-D-003).
#[derive(Clone, Debug, PartialEq)]
pub struct Options {
    pub auth_http_addresses: Vec<String>,
    pub auth_http_request_method: String,
    pub broadcast_address: String,
    pub broadcast_http_port: i64,
    pub broadcast_tcp_port: i64,
    pub data_path: String,
    pub deflate: bool,
    pub e2e_processing_latency_percentiles: Vec<f64>,
    pub e2e_processing_latency_window_time: Duration,
    pub enable_experiment: Vec<String>,
    pub http_address: String,
    pub http_client_connect_timeout: Duration,
    pub http_client_request_timeout: Duration,
    pub https_address: String,
    pub log_level: LogLevel,
    pub log_prefix: String,
    pub nsqlookupd_tcp_addresses: Vec<String>,
    pub max_body_size: i64,
    pub max_bytes_per_file: i64,
    pub max_channel_consumers: i64,
    pub max_deflate_level: i64,
    pub max_heartbeat_interval: Duration,
    pub max_msg_size: i64,
    pub max_msg_timeout: Duration,
    pub max_output_buffer_size: i64,
    pub max_output_buffer_timeout: Duration,
    pub max_rdy_count: i64,
    pub max_req_timeout: Duration,
    pub mem_queue_size: i64,
    /// Beyond NSQ: `/metrics` also shows one series per client (off by default).
    pub metrics_per_client: bool,
    pub min_output_buffer_timeout: Duration,
    pub msg_timeout: Duration,
    pub node_id: i64,
    pub output_buffer_timeout: Duration,
    pub queue_scan_selection_count: i64,
    pub queue_scan_worker_pool_max: i64,
    pub snappy: bool,
    pub statsd_address: String,
    pub statsd_exclude_ephemeral: bool,
    pub statsd_interval: Duration,
    pub statsd_mem_stats: bool,
    pub statsd_prefix: String,
    pub statsd_udp_packet_size: i64,
    pub sync_every: i64,
    pub sync_timeout: Duration,
    pub tcp_address: String,
    pub tls_cert: String,
    pub tls_client_auth_policy: String,
    pub tls_key: String,
    /// TLS protocol number, 769 (TLS 1.0) to 772 (TLS 1.3).
    pub tls_min_version: u16,
    pub tls_required: TlsRequired,
    pub tls_root_ca_file: String,
    pub topology_region: String,
    pub topology_zone: String,

    pub client_timeout: Duration,
    pub queue_scan_interval: Duration,
    pub queue_scan_refresh_interval: Duration,
    pub queue_scan_dirty_percent: f64,
}

impl Default for Options {
    fn default() -> Self {
        let hostname = os_hostname();
        Options {
            auth_http_addresses: Vec::new(),
            auth_http_request_method: "get".to_string(),
            broadcast_address: hostname.clone(),
            broadcast_http_port: 0,
            broadcast_tcp_port: 0,
            data_path: String::new(),
            deflate: true,
            e2e_processing_latency_percentiles: Vec::new(),
            e2e_processing_latency_window_time: Duration::from_secs(10 * 60),
            enable_experiment: Vec::new(),
            http_address: "0.0.0.0:4151".to_string(),
            http_client_connect_timeout: Duration::from_secs(2),
            http_client_request_timeout: Duration::from_secs(5),
            https_address: "0.0.0.0:4152".to_string(),
            log_level: LogLevel::Info,
            log_prefix: "[nsqd] ".to_string(),
            nsqlookupd_tcp_addresses: Vec::new(),
            max_body_size: 5 * 1024 * 1024,
            max_bytes_per_file: 100 * 1024 * 1024,
            max_channel_consumers: 0,
            max_deflate_level: 6,
            max_heartbeat_interval: Duration::from_secs(60),
            max_msg_size: 1024 * 1024,
            max_msg_timeout: Duration::from_secs(15 * 60),
            max_output_buffer_size: 64 * 1024,
            max_output_buffer_timeout: Duration::from_secs(30),
            max_rdy_count: 2500,
            max_req_timeout: Duration::from_secs(3600),
            mem_queue_size: 10000,
            metrics_per_client: false,
            min_output_buffer_timeout: Duration::from_millis(25),
            msg_timeout: Duration::from_secs(60),
            node_id: node_id_for_hostname(&hostname),
            output_buffer_timeout: Duration::from_millis(250),
            queue_scan_selection_count: 20,
            queue_scan_worker_pool_max: 4,
            snappy: true,
            statsd_address: String::new(),
            statsd_exclude_ephemeral: false,
            statsd_interval: Duration::from_secs(60),
            statsd_mem_stats: true,
            statsd_prefix: "nsq.%s".to_string(),
            statsd_udp_packet_size: 508,
            sync_every: 2500,
            sync_timeout: Duration::from_secs(2),
            tcp_address: "0.0.0.0:4150".to_string(),
            tls_cert: String::new(),
            tls_client_auth_policy: String::new(),
            tls_key: String::new(),
            tls_min_version: TLS_VERSION_1_0,
            tls_required: TlsRequired::No,
            tls_root_ca_file: String::new(),
            topology_region: String::new(),
            topology_zone: String::new(),

            client_timeout: Duration::from_secs(60),
            queue_scan_interval: Duration::from_millis(100),
            queue_scan_refresh_interval: Duration::from_secs(5),
            queue_scan_dirty_percent: 0.25,
        }
    }
}

/// The OS hostname (empty if the OS will not say).
pub fn os_hostname() -> String {
    nsq_common::host::os_hostname()
}

/// BEH-190: CRC-32 (IEEE) of the raw MD5 digest of the hostname, mod 1024.
pub fn node_id_for_hostname(hostname: &str) -> i64 {
    let digest = Md5::digest(hostname.as_bytes());
    i64::from(crc32fast::hash(&digest) % 1024)
}

/// The flag set, with defaults taken from `d` (so `-h` shows this host's name and node id).
fn flag_set(d: &Options) -> FlagSet {
    let mut fs = FlagSet::new("nsqd");
    fs.string_list(
        "auth-http-address",
        "auth server to query, as <addr>:<port> or a full URL (may be repeated)",
    )
    .string(
        "auth-http-request-method",
        &d.auth_http_request_method,
        "HTTP method for auth server requests: get or post",
    )
    .string(
        "broadcast-address",
        &d.broadcast_address,
        "address registered with nsqlookupd",
    )
    .int(
        "broadcast-http-port",
        d.broadcast_http_port,
        "HTTP port registered with nsqlookupd (0 means the port actually bound)",
    )
    .int(
        "broadcast-tcp-port",
        d.broadcast_tcp_port,
        "TCP port registered with nsqlookupd (0 means the port actually bound)",
    )
    .string("config", "", "TOML config file to read")
    .string(
        "data-path",
        &d.data_path,
        "directory for disk-backed queues and metadata (defaults to the working directory)",
    )
    .bool(
        "deflate",
        d.deflate,
        "let clients negotiate deflate compression",
    )
    .float_list(
        "e2e-processing-latency-percentile",
        "end-to-end latency percentile to track, in (0,1] (may be repeated or comma separated)",
    )
    .duration(
        "e2e-processing-latency-window-time",
        d.e2e_processing_latency_window_time,
        "time window covered by the end-to-end latency percentiles",
    )
    .string_list(
        "enable-experiment",
        "experimental feature to turn on: topology-aware-consumption (may be repeated)",
    )
    .string(
        "http-address",
        &d.http_address,
        "<addr>:<port> or unix socket path for HTTP clients (empty disables HTTP)",
    )
    .duration(
        "http-client-connect-timeout",
        d.http_client_connect_timeout,
        "connect timeout for outgoing HTTP requests",
    )
    .duration(
        "http-client-request-timeout",
        d.http_client_request_timeout,
        "total timeout for outgoing HTTP requests",
    )
    .string(
        "https-address",
        &d.https_address,
        "<addr>:<port> for HTTPS clients (used only when TLS is configured)",
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
        "lookupd-tcp-address",
        "nsqlookupd TCP address to register with (may be repeated)",
    )
    .int64(
        "max-body-size",
        d.max_body_size,
        "largest command body accepted, in bytes",
    )
    .int64(
        "max-bytes-per-file",
        d.max_bytes_per_file,
        "size a disk queue file may reach before a new one is started, in bytes",
    )
    .int(
        "max-channel-consumers",
        d.max_channel_consumers,
        "most consumers one channel may have (0 means no limit)",
    )
    .int(
        "max-deflate-level",
        d.max_deflate_level,
        "highest deflate level a client may ask for, 1 to 9 (higher costs more CPU)",
    )
    .duration(
        "max-heartbeat-interval",
        d.max_heartbeat_interval,
        "longest heartbeat interval a client may ask for",
    )
    .int64(
        "max-msg-size",
        d.max_msg_size,
        "largest message accepted, in bytes",
    )
    .duration(
        "max-msg-timeout",
        d.max_msg_timeout,
        "longest message timeout a client may ask for",
    )
    .int64(
        "max-output-buffer-size",
        d.max_output_buffer_size,
        "largest output buffer a client may ask for, in bytes",
    )
    .duration(
        "max-output-buffer-timeout",
        d.max_output_buffer_timeout,
        "longest output flush interval a client may ask for",
    )
    .int64(
        "max-rdy-count",
        d.max_rdy_count,
        "largest RDY count a client may send",
    )
    .duration(
        "max-req-timeout",
        d.max_req_timeout,
        "longest delay accepted for a requeue or a deferred publish",
    )
    .int64(
        "mem-queue-size",
        d.mem_queue_size,
        "messages kept in memory per topic and per channel before spilling to disk",
    )
    .bool(
        "metrics-per-client",
        d.metrics_per_client,
        "beyond NSQ: add per-client series (RDY, in-flight, finished, published) to /metrics",
    )
    .duration(
        "min-output-buffer-timeout",
        d.min_output_buffer_timeout,
        "shortest output flush interval a client may ask for",
    )
    .duration(
        "msg-timeout",
        d.msg_timeout,
        "time a client has to finish a message before it is requeued",
    )
    .int64(
        "node-id",
        d.node_id,
        "node number put in message IDs, in [0,1024); the default is a hash of the hostname",
    )
    .duration(
        "output-buffer-timeout",
        d.output_buffer_timeout,
        "default interval between output flushes to a client",
    )
    .int(
        "queue-scan-selection-count",
        d.queue_scan_selection_count,
        "channels checked per scan for timed-out in-flight and due deferred messages",
    )
    .int(
        "queue-scan-worker-pool-max",
        d.queue_scan_worker_pool_max,
        "most workers checking channels for timed-out and due messages",
    )
    .bool(
        "snappy",
        d.snappy,
        "let clients negotiate snappy compression",
    )
    .string(
        "statsd-address",
        &d.statsd_address,
        "UDP <addr>:<port> of a statsd server to push metrics to",
    )
    .bool(
        "statsd-exclude-ephemeral",
        d.statsd_exclude_ephemeral,
        "leave ephemeral topics and channels out of statsd metrics",
    )
    .duration(
        "statsd-interval",
        d.statsd_interval,
        "time between statsd pushes",
    )
    .bool(
        "statsd-mem-stats",
        d.statsd_mem_stats,
        "include memory statistics in statsd pushes",
    )
    .string(
        "statsd-prefix",
        &d.statsd_prefix,
        "prefix of statsd keys; every %s becomes this node's broadcast host and port",
    )
    .int(
        "statsd-udp-packet-size",
        d.statsd_udp_packet_size,
        "largest statsd UDP datagram, in bytes",
    )
    .int64(
        "sync-every",
        d.sync_every,
        "disk queue reads and writes between two fsyncs",
    )
    .duration(
        "sync-timeout",
        d.sync_timeout,
        "longest time between two disk queue fsyncs",
    )
    .string(
        "tcp-address",
        &d.tcp_address,
        "<addr>:<port> or unix socket path for TCP clients",
    )
    .string("tls-cert", &d.tls_cert, "TLS certificate file")
    .string(
        "tls-client-auth-policy",
        &d.tls_client_auth_policy,
        "client certificate policy: require or require-verify",
    )
    .string("tls-key", &d.tls_key, "TLS private key file")
    .custom(
        "tls-min-version",
        TLS_MIN_VERSION_KIND,
        &tls_version_text(d.tls_min_version),
        "oldest TLS version accepted: tls1.0, tls1.1, tls1.2 or tls1.3",
    )
    .custom(
        "tls-required",
        TLS_REQUIRED_KIND,
        d.tls_required.flag_text(),
        "require TLS from clients: true, false, or tcp-https (TCP only; plain HTTP stays open)",
    )
    .string(
        "tls-root-ca-file",
        &d.tls_root_ca_file,
        "CA certificate file used to verify client certificates",
    )
    .string(
        "topology-region",
        &d.topology_region,
        "region of this node, for topology-aware consumption",
    )
    .string(
        "topology-zone",
        &d.topology_zone,
        "zone of this node, for topology-aware consumption",
    )
    .bool("verbose", false, "deprecated and ignored; use -log-level")
    .bool("version", false, "print the version and exit")
    .bool("worker-id", false, "deprecated and ignored; use -node-id");
    fs
}

/// The `nsqd -h` text.
pub fn usage() -> String {
    flag_set(&Options::default()).usage()
}

/// What the command line asks for.
#[derive(Debug)]
pub enum ParseOutcome {
    Run(Box<Options>),
    /// Usage, an argument error or the version was printed; exit with this status.
    Exit(i32),
}

/// What parsing decided, before anything is printed.
#[derive(Debug)]
enum Step {
    Run(Box<Options>),
    Print {
        to_stdout: bool,
        text: String,
        code: i32,
    },
}

/// Parses the command line (without argv[0]) and the `-config` file. Usage, flag errors
/// and `-version` are printed here and come back as `Exit`. An error is a fatal config
/// problem (`failed to load config file ...`, `failed parsing <key> <value>`) that the
/// caller logs as FATAL before exiting with status 1.
pub fn parse_args(args: &[String]) -> Result<ParseOutcome, String> {
    match plan(args)? {
        Step::Run(opts) => Ok(ParseOutcome::Run(opts)),
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
            Ok(ParseOutcome::Exit(code))
        }
    }
}

fn plan(args: &[String]) -> Result<Step, String> {
    let defaults = Options::default();
    let fs = flag_set(&defaults);
    let parsed = match fs.parse(args) {
        Ok(p) => p,
        Err(e) => {
            return Ok(Step::Print {
                to_stdout: false,
                text: e.stderr_text(&fs),
                code: e.exit_code(),
            })
        }
    };
    if parsed.get_bool("version") == Some(true) {
        return Ok(Step::Print {
            to_stdout: true,
            text: format!("{}\n", nsq_protocol::version::version_string("nsqd")),
            code: 0,
        });
    }
    let cfg = match parsed.get_str("config") {
        Some(path) if !path.is_empty() => Some(ConfigFile::load(path).map_err(|e| e.to_string())?),
        _ => None,
    };
    let opts =
        resolve(defaults, &Resolver::new(&fs, &parsed, cfg.as_ref())).map_err(|e| e.to_string())?;
    Ok(Step::Run(Box::new(opts)))
}

/// Fills `o` from the command line, then the config file, then the flag defaults (F-C-002).
fn resolve(mut o: Options, r: &Resolver<'_>) -> Result<Options, ConfigError> {
    let bad = |key: &str, text: &str| ConfigError::Parse {
        key: key.to_string(),
        value: text.to_string(),
    };
    // The three options with special text forms are checked first, as the reference does.
    if r.is_given("tls-required", "tls_required") {
        let text = r.custom("tls-required", "tls_required")?;
        o.tls_required = TlsRequired::parse(&text).map_err(|_| bad("tls_required", &text))?;
    }
    if r.is_given("tls-min-version", "tls_min_version") {
        let text = r.custom("tls-min-version", "tls_min_version")?;
        if let Some(v) = parse_tls_min_version(&text).map_err(|_| bad("tls_min_version", &text))? {
            o.tls_min_version = v;
        }
    }
    if r.is_given("log-level", "log_level") {
        let text = r.custom("log-level", "log_level")?;
        o.log_level = LogLevel::parse(&text).map_err(|_| bad("log_level", &text))?;
    }

    o.auth_http_addresses = r.string_list("auth-http-address", "auth_http_addresses")?;
    o.auth_http_request_method =
        r.string("auth-http-request-method", "auth_http_request_method")?;
    o.broadcast_address = r.string("broadcast-address", "broadcast_address")?;
    o.broadcast_http_port = r.int("broadcast-http-port", "broadcast_http_port")?;
    o.broadcast_tcp_port = r.int("broadcast-tcp-port", "broadcast_tcp_port")?;
    o.data_path = r.string("data-path", "data_path")?;
    o.deflate = r.bool("deflate", "deflate")?;
    o.e2e_processing_latency_percentiles = r.float_list(
        "e2e-processing-latency-percentile",
        "e2e_processing_latency_percentiles",
    )?;
    o.e2e_processing_latency_window_time = r.duration(
        "e2e-processing-latency-window-time",
        "e2e_processing_latency_window_time",
    )?;
    o.enable_experiment = r.string_list("enable-experiment", "enable_experiment")?;
    o.http_address = r.string("http-address", "http_address")?;
    o.http_client_connect_timeout =
        r.duration("http-client-connect-timeout", "http_client_connect_timeout")?;
    o.http_client_request_timeout =
        r.duration("http-client-request-timeout", "http_client_request_timeout")?;
    o.https_address = r.string("https-address", "https_address")?;
    o.log_prefix = r.string("log-prefix", "log_prefix")?;
    o.nsqlookupd_tcp_addresses =
        r.string_list("lookupd-tcp-address", "nsqlookupd_tcp_addresses")?;
    o.max_body_size = r.int("max-body-size", "max_body_size")?;
    o.max_bytes_per_file = r.int("max-bytes-per-file", "max_bytes_per_file")?;
    o.max_channel_consumers = r.int("max-channel-consumers", "max_channel_consumers")?;
    o.max_deflate_level = r.int("max-deflate-level", "max_deflate_level")?;
    o.max_heartbeat_interval = r.duration("max-heartbeat-interval", "max_heartbeat_interval")?;
    o.max_msg_size = r.int("max-msg-size", "max_msg_size")?;
    o.max_msg_timeout = r.duration("max-msg-timeout", "max_msg_timeout")?;
    o.max_output_buffer_size = r.int("max-output-buffer-size", "max_output_buffer_size")?;
    o.max_output_buffer_timeout =
        r.duration("max-output-buffer-timeout", "max_output_buffer_timeout")?;
    o.max_rdy_count = r.int("max-rdy-count", "max_rdy_count")?;
    o.max_req_timeout = r.duration("max-req-timeout", "max_req_timeout")?;
    o.mem_queue_size = r.int("mem-queue-size", "mem_queue_size")?;
    o.metrics_per_client = r.bool("metrics-per-client", "metrics_per_client")?;
    o.min_output_buffer_timeout =
        r.duration("min-output-buffer-timeout", "min_output_buffer_timeout")?;
    o.msg_timeout = r.duration("msg-timeout", "msg_timeout")?;
    o.node_id = r.int("node-id", "id")?;
    o.output_buffer_timeout = r.duration("output-buffer-timeout", "output_buffer_timeout")?;
    o.queue_scan_selection_count =
        r.int("queue-scan-selection-count", "queue_scan_selection_count")?;
    o.queue_scan_worker_pool_max =
        r.int("queue-scan-worker-pool-max", "queue_scan_worker_pool_max")?;
    o.snappy = r.bool("snappy", "snappy")?;
    o.statsd_address = r.string("statsd-address", "statsd_address")?;
    o.statsd_exclude_ephemeral = r.bool("statsd-exclude-ephemeral", "statsd_exclude_ephemeral")?;
    o.statsd_interval = r.duration("statsd-interval", "statsd_interval")?;
    o.statsd_mem_stats = r.bool("statsd-mem-stats", "statsd_mem_stats")?;
    o.statsd_prefix = r.string("statsd-prefix", "statsd_prefix")?;
    o.statsd_udp_packet_size = r.int("statsd-udp-packet-size", "statsd_udp_packet_size")?;
    o.sync_every = r.int("sync-every", "sync_every")?;
    o.sync_timeout = r.duration("sync-timeout", "sync_timeout")?;
    o.tcp_address = r.string("tcp-address", "tcp_address")?;
    o.tls_cert = r.string("tls-cert", "tls_cert")?;
    o.tls_client_auth_policy = r.string("tls-client-auth-policy", "tls_client_auth_policy")?;
    o.tls_key = r.string("tls-key", "tls_key")?;
    o.tls_root_ca_file = r.string("tls-root-ca-file", "tls_root_ca_file")?;
    o.topology_region = r.string("topology-region", "topology_region")?;
    o.topology_zone = r.string("topology-zone", "topology_zone")?;
    Ok(o)
}

/// Why a `PUT /config/:opt` was refused (H-062).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum ConfigPutError {
    /// 400 `INVALID_OPTION`: unknown or read-only option.
    #[error("INVALID_OPTION")]
    InvalidOption,
    /// 400 `INVALID_VALUE`: the body does not parse for this option.
    #[error("INVALID_VALUE")]
    InvalidValue,
    /// 413 `INVALID_VALUE`: empty body, or one of more than `--max-msg-size` bytes.
    #[error("INVALID_VALUE")]
    BodySize,
}

impl ConfigPutError {
    pub fn status(self) -> u16 {
        match self {
            ConfigPutError::BodySize => 413,
            _ => 400,
        }
    }
}

fn json_string_list(items: &[String]) -> String {
    let mut out = String::from("[");
    for (i, s) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_json_string(&mut out, s);
    }
    out.push(']');
    out
}

fn json_float_list(items: &[f64]) -> String {
    let parts: Vec<String> = items.iter().map(|f| json_f64(*f)).collect();
    format!("[{}]", parts.join(","))
}

impl Options {
    /// Startup checks of BEH-220 that need no I/O, in the reference's order, plus its two
    /// adjustments: a client-auth policy turns `tls_required` from No to Yes (BEH-141), and
    /// the e2e percentiles end up sorted largest first (BEH-110).
    ///
    /// The reference builds the TLS config right after the node-id check; with only one of
    /// cert and key set, that build fails first ("failed to build TLS config - ..."). The
    /// "cannot require TLS" check here covers the case where neither is set.
    /// Every start-up check on the options alone, in the order of BEH-220. nsqd itself runs
    /// the three stages separately, because the TLS configurations are built between them.
    pub fn validate(&mut self) -> Result<(), String> {
        self.validate_before_tls()?;
        self.validate_tls_requirement()?;
        self.validate_after_tls()
    }

    /// BEH-220, before the server TLS configuration is built: the deflate level and node id.
    /// A client-auth policy also turns `--tls-required` on here.
    pub fn validate_before_tls(&mut self) -> Result<(), String> {
        if !(1..=9).contains(&self.max_deflate_level) {
            return Err("--max-deflate-level must be [1,9]".to_string());
        }
        if !(0..1024).contains(&self.node_id) {
            return Err("--node-id must be [0,1024)".to_string());
        }
        if !self.tls_client_auth_policy.is_empty() && self.tls_required == TlsRequired::No {
            self.tls_required = TlsRequired::Yes;
        }
        Ok(())
    }

    /// BEH-220, after the server TLS configuration: requiring TLS needs a key and cert.
    pub fn validate_tls_requirement(&self) -> Result<(), String> {
        if self.tls_cert.is_empty()
            && self.tls_key.is_empty()
            && self.tls_required != TlsRequired::No
        {
            return Err(
                "cannot require TLS client connections without TLS key and cert".to_string(),
            );
        }
        Ok(())
    }

    /// BEH-220, after the client TLS configuration: the auth method and the percentiles
    /// (which are then sorted).
    pub fn validate_after_tls(&mut self) -> Result<(), String> {
        if self.auth_http_request_method != "post" && self.auth_http_request_method != "get" {
            return Err("--auth-http-request-method must be post or get".to_string());
        }
        for &p in &self.e2e_processing_latency_percentiles {
            // Written as the reference writes it, so NaN passes as it does there.
            if p <= 0.0 || p > 1.0 {
                return Err(format!(
                    "invalid E2E processing latency percentile: {}",
                    go_format_float(p)
                ));
            }
        }
        sort_descending(&mut self.e2e_processing_latency_percentiles);
        Ok(())
    }

    /// True when `--enable-experiment` names `name`.
    pub fn experiment_enabled(&self, name: &str) -> bool {
        self.enable_experiment.iter().any(|e| e == name)
    }

    /// The statsd prefix with every `%s` replaced by `<broadcast_address>:<port>` (with `.`
    /// and `:` turned into `_`) and a trailing `.` added (BEH-132). IPv6 addresses keep
    /// their brackets (QRK-18). Empty stays empty. nsqd stores the result back into
    /// `statsd_prefix` once its HTTP port is known, which is what `/config` then shows.
    pub fn statsd_prefix_expanded(&self, broadcast_http_port: u16) -> String {
        if self.statsd_prefix.is_empty() {
            return String::new();
        }
        let host_port = if self.broadcast_address.contains(':') {
            format!("[{}]:{broadcast_http_port}", self.broadcast_address)
        } else {
            format!("{}:{broadcast_http_port}", self.broadcast_address)
        };
        let key = host_port.replace(['.', ':'], "_");
        let mut prefix = self.statsd_prefix.replace("%s", &key);
        if !prefix.ends_with('.') {
            prefix.push('.');
        }
        prefix
    }

    /// The body of `GET /config/<name>` (H-061), or None for a name that is not one of the
    /// 53 option flags (→ 400 `INVALID_OPTION`). Strings come back raw, numbers and
    /// durations (in ns) as JSON numbers, lists as JSON arrays.
    pub fn config_get(&self, name: &str) -> Option<String> {
        let s = |v: &String| Some(v.clone());
        let n = |v: i64| Some(v.to_string());
        let d = |v: Duration| Some(v.as_nanos().to_string());
        let b = |v: bool| Some(v.to_string());
        let list = |v: &[String]| Some(json_string_list(v));
        match name {
            "auth_http_addresses" => list(&self.auth_http_addresses),
            "auth_http_request_method" => s(&self.auth_http_request_method),
            "broadcast_address" => s(&self.broadcast_address),
            "broadcast_http_port" => n(self.broadcast_http_port),
            "broadcast_tcp_port" => n(self.broadcast_tcp_port),
            "data_path" => s(&self.data_path),
            "deflate" => b(self.deflate),
            "e2e_processing_latency_percentiles" => {
                Some(json_float_list(&self.e2e_processing_latency_percentiles))
            }
            "e2e_processing_latency_window_time" => d(self.e2e_processing_latency_window_time),
            "enable_experiment" => list(&self.enable_experiment),
            "http_address" => s(&self.http_address),
            "http_client_connect_timeout" => d(self.http_client_connect_timeout),
            "http_client_request_timeout" => d(self.http_client_request_timeout),
            "https_address" => s(&self.https_address),
            "log_level" => n(self.log_level.as_int()),
            "log_prefix" => s(&self.log_prefix),
            "nsqlookupd_tcp_addresses" => list(&self.nsqlookupd_tcp_addresses),
            "max_body_size" => n(self.max_body_size),
            "max_bytes_per_file" => n(self.max_bytes_per_file),
            "max_channel_consumers" => n(self.max_channel_consumers),
            "max_deflate_level" => n(self.max_deflate_level),
            "max_heartbeat_interval" => d(self.max_heartbeat_interval),
            "max_msg_size" => n(self.max_msg_size),
            "max_msg_timeout" => d(self.max_msg_timeout),
            "max_output_buffer_size" => n(self.max_output_buffer_size),
            "max_output_buffer_timeout" => d(self.max_output_buffer_timeout),
            "max_rdy_count" => n(self.max_rdy_count),
            "max_req_timeout" => d(self.max_req_timeout),
            "mem_queue_size" => n(self.mem_queue_size),
            "min_output_buffer_timeout" => d(self.min_output_buffer_timeout),
            "msg_timeout" => d(self.msg_timeout),
            "id" => n(self.node_id),
            "output_buffer_timeout" => d(self.output_buffer_timeout),
            "queue_scan_selection_count" => n(self.queue_scan_selection_count),
            "queue_scan_worker_pool_max" => n(self.queue_scan_worker_pool_max),
            "snappy" => b(self.snappy),
            "statsd_address" => s(&self.statsd_address),
            "statsd_exclude_ephemeral" => b(self.statsd_exclude_ephemeral),
            "statsd_interval" => d(self.statsd_interval),
            "statsd_mem_stats" => b(self.statsd_mem_stats),
            "statsd_prefix" => s(&self.statsd_prefix),
            "statsd_udp_packet_size" => n(self.statsd_udp_packet_size),
            "sync_every" => n(self.sync_every),
            "sync_timeout" => d(self.sync_timeout),
            "tcp_address" => s(&self.tcp_address),
            "tls_cert" => s(&self.tls_cert),
            "tls_client_auth_policy" => s(&self.tls_client_auth_policy),
            "tls_key" => s(&self.tls_key),
            "tls_min_version" => n(i64::from(self.tls_min_version)),
            "tls_required" => n(self.tls_required.as_int()),
            "tls_root_ca_file" => s(&self.tls_root_ca_file),
            "topology_region" => s(&self.topology_region),
            "topology_zone" => s(&self.topology_zone),
            _ => None,
        }
    }

    /// `PUT /config/<name>` (H-062). Only `nsqlookupd_tcp_addresses` (a JSON array of
    /// strings; `null` empties it) and `log_level` (a level name) can change. Returns the
    /// new value in GET form. The caller then applies the change: reconcile the lookupd
    /// peers, or call `nsq_common::logging::set_level`.
    pub fn config_put(&mut self, name: &str, body: &[u8]) -> Result<String, ConfigPutError> {
        // The reference reads at most max-msg-size + 1 bytes and refuses a body that long.
        if body.is_empty() || body.len() as u64 > self.max_msg_size.max(0) as u64 {
            return Err(ConfigPutError::BodySize);
        }
        match name {
            "nsqlookupd_tcp_addresses" => {
                let addrs: Option<Vec<String>> =
                    serde_json::from_slice(body).map_err(|_| ConfigPutError::InvalidValue)?;
                self.nsqlookupd_tcp_addresses = addrs.unwrap_or_default();
            }
            "log_level" => {
                let text = std::str::from_utf8(body).map_err(|_| ConfigPutError::InvalidValue)?;
                self.log_level = LogLevel::parse(text).map_err(|_| ConfigPutError::InvalidValue)?;
            }
            _ => return Err(ConfigPutError::InvalidOption),
        }
        self.config_get(name).ok_or(ConfigPutError::InvalidOption)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn run(list: &[&str]) -> Options {
        match plan(&args(list)).unwrap() {
            Step::Run(o) => *o,
            other => panic!("expected options, got {other:?}"),
        }
    }

    fn run_with_config(list: &[&str], toml: &str) -> Result<Options, String> {
        let defaults = Options::default();
        let fs = flag_set(&defaults);
        let parsed = fs.parse(&args(list)).unwrap();
        let cfg = ConfigFile::parse_str("nsqd.cfg", toml).map_err(|e| e.to_string())?;
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

    fn cfg_name(flag: &str) -> String {
        match flag {
            "node-id" => "id".to_string(),
            "lookupd-tcp-address" => "nsqlookupd_tcp_addresses".to_string(),
            "auth-http-address" => "auth_http_addresses".to_string(),
            "e2e-processing-latency-percentile" => "e2e_processing_latency_percentiles".to_string(),
            other => other.replace('-', "_"),
        }
    }

    #[test]
    fn defaults_match_the_flag_table() {
        let o = run(&[]);
        let d = Options::default();
        assert_eq!(o, d);
        assert_eq!(o.tcp_address, "0.0.0.0:4150");
        assert_eq!(o.http_address, "0.0.0.0:4151");
        assert_eq!(o.https_address, "0.0.0.0:4152");
        assert_eq!(o.max_body_size, 5_242_880);
        assert_eq!(o.max_bytes_per_file, 104_857_600);
        assert_eq!(o.max_msg_size, 1_048_576);
        assert_eq!(o.max_output_buffer_size, 65_536);
        assert_eq!(o.max_output_buffer_timeout, Duration::from_secs(30));
        assert_eq!(o.tls_min_version, 769);
        assert_eq!(o.log_prefix, "[nsqd] ");
        assert_eq!(o.broadcast_address, os_hostname());
        assert_eq!(o.node_id, node_id_for_hostname(&os_hostname()));
        assert_eq!(o.queue_scan_interval, Duration::from_millis(100));
        assert_eq!(o.queue_scan_refresh_interval, Duration::from_secs(5));
        assert_eq!(o.queue_scan_dirty_percent, 0.25);
        assert_eq!(o.client_timeout, Duration::from_secs(60));
    }

    #[test]
    fn fifty_seven_flags_fifty_three_options() {
        let fs = flag_set(&Options::default());
        let names: Vec<&str> = fs.names().collect();
        // NSQ's 57 plus the one beyond NSQ, which has no /config entry.
        assert_eq!(names.len(), 58);
        let o = Options::default();
        let mut readable = 0;
        for flag in names {
            let value = o.config_get(&cfg_name(flag));
            if [
                "config",
                "verbose",
                "version",
                "worker-id",
                "metrics-per-client",
            ]
            .contains(&flag)
            {
                assert!(value.is_none(), "{flag}");
            } else {
                assert!(value.is_some(), "{flag} has no /config entry");
                readable += 1;
            }
        }
        assert_eq!(readable, 53);
        for internal in [
            "client_timeout",
            "queue_scan_interval",
            "queue_scan_refresh_interval",
            "queue_scan_dirty_percent",
            "node_id",
            "config",
            "verbose",
            "nope",
        ] {
            assert_eq!(o.config_get(internal), None, "{internal}");
        }
    }

    #[test]
    fn go_flag_syntax_variants() {
        let o = run(&[
            "-tcp-address=127.0.0.1:0",
            "--http-address",
            "127.0.0.1:1",
            "--mem-queue-size=5",
            "-msg-timeout",
            "90s",
            "-deflate=false",
            "-snappy=0",
            "-statsd-mem-stats=F",
            "-statsd-exclude-ephemeral",
            "-node-id=0x10",
            "-log-level",
            "DEBUG",
            "-tls-min-version=TLS1.2",
            "-verbose",
            "-worker-id",
        ]);
        assert_eq!(o.tcp_address, "127.0.0.1:0");
        assert_eq!(o.http_address, "127.0.0.1:1");
        assert_eq!(o.mem_queue_size, 5);
        assert_eq!(o.msg_timeout, Duration::from_secs(90));
        assert!(!o.deflate && !o.snappy && !o.statsd_mem_stats);
        assert!(o.statsd_exclude_ephemeral);
        assert_eq!(o.node_id, 16);
        assert_eq!(o.log_level, LogLevel::Debug);
        assert_eq!(o.tls_min_version, 771);
    }

    #[test]
    fn tls_required_forms() {
        assert_eq!(run(&["-tls-required"]).tls_required, TlsRequired::Yes);
        assert_eq!(
            run(&["-tls-required=tcp-https"]).tls_required,
            TlsRequired::TcpHttps
        );
        assert_eq!(run(&["-tls-required=false"]).tls_required, TlsRequired::No);
        assert_eq!(run(&["-tls-required=T"]).tls_required, TlsRequired::Yes);
        let (_, text, code) = printed(&["-tls-required=maybe"]);
        assert_eq!(code, 2);
        assert!(text.starts_with(
            "invalid boolean value \"maybe\" for -tls-required: expected true, false or tcp-https, got \"maybe\"\nUsage of nsqd:\n"
        ), "{text}");
        // `-tls-required tcp-https` is a bare bool followed by a positional argument.
        assert_eq!(
            run(&["-tls-required", "tcp-https"]).tls_required,
            TlsRequired::Yes
        );
    }

    #[test]
    fn repeatable_flags() {
        let o = run(&[
            "-lookupd-tcp-address=a:4160",
            "--lookupd-tcp-address",
            "b:4160",
            "-auth-http-address=http://auth/x",
            "-enable-experiment=topology-aware-consumption",
        ]);
        assert_eq!(o.nsqlookupd_tcp_addresses, vec!["a:4160", "b:4160"]);
        assert_eq!(o.auth_http_addresses, vec!["http://auth/x"]);
        assert!(o.experiment_enabled("topology-aware-consumption"));
        assert!(!o.experiment_enabled("other"));
    }

    #[test]
    fn e2e_percentiles_split_sort_and_fail() {
        let o = run(&[
            "-e2e-processing-latency-percentile=0.5,1.0",
            "-e2e-processing-latency-percentile",
            "0.99",
        ]);
        assert_eq!(o.e2e_processing_latency_percentiles, vec![1.0, 0.99, 0.5]);
        assert_eq!(
            o.config_get("e2e_processing_latency_percentiles").unwrap(),
            "[1,0.99,0.5]"
        );
        let (to_stdout, text, code) = printed(&["-e2e-processing-latency-percentile=0.5,oops"]);
        assert!(!to_stdout);
        assert_eq!(code, 1);
        assert!(text.ends_with(" Could not parse: oops\n"), "{text}");
        assert!(!text.contains("Usage"));
    }

    #[test]
    fn help_unknown_bad_value_and_version() {
        for h in ["-h", "-help", "--help"] {
            let (to_stdout, text, code) = printed(&[h]);
            assert!(!to_stdout);
            assert_eq!(code, 0);
            assert_eq!(text, usage());
        }
        let (_, text, code) = printed(&["-nope"]);
        assert_eq!(code, 2);
        assert_eq!(
            text,
            format!("flag provided but not defined: -nope\n{}", usage())
        );
        let (_, text, code) = printed(&["-max-rdy-count=lots"]);
        assert_eq!(code, 2);
        assert!(text.starts_with("invalid value \"lots\" for flag -max-rdy-count: parse error\n"));
        let (_, text, code) = printed(&["-log-level=loud"]);
        assert_eq!(code, 2);
        assert!(text.starts_with(
            "invalid value \"loud\" for flag -log-level: invalid log level 'loud' (debug, info, warn, error, fatal)\n"
        ));
        let (_, text, code) = printed(&["-tls-min-version=ssl3.0"]);
        assert_eq!(code, 2);
        assert!(text.starts_with(
            "invalid value \"ssl3.0\" for flag -tls-min-version: unknown TLS version \"ssl3.0\"\n"
        ));
        let (to_stdout, text, code) = printed(&["-version"]);
        assert!(to_stdout);
        assert_eq!(code, 0);
        assert!(
            text.starts_with("nsqd v1.3.0 (built w/") && text.ends_with(")\n"),
            "{text}"
        );
    }

    #[test]
    fn usage_text_shape() {
        let text = usage();
        assert!(text.starts_with("Usage of nsqd:\n  -auth-http-address value\n    \t"));
        let host = os_hostname();
        let node_id = node_id_for_hostname(&host);
        for want in [
            "  -deflate\n    \tlet clients negotiate deflate compression (default true)\n",
            "  -tcp-address string\n    \t<addr>:<port> or unix socket path for TCP clients (default \"0.0.0.0:4150\")\n",
            "  -log-prefix string\n    \ttext put in front of every log line (default \"[nsqd] \")\n",
            "  -msg-timeout duration\n",
            "(default 1m0s)\n",
            "(default 10m0s)\n",
            "(default 25ms)\n",
            "(default INFO)\n",
            "(default tls1.0)\n",
            "  -tls-required\n    \trequire TLS from clients",
            "  -max-rdy-count int\n",
            "  -e2e-processing-latency-percentile value\n",
            "  -statsd-exclude-ephemeral\n    \tleave ephemeral topics and channels out of statsd metrics\n",
            "  -version\n    \tprint the version and exit\n",
        ] {
            assert!(text.contains(want), "missing {want:?}");
        }
        if node_id != 0 {
            assert!(text.contains(&format!("(default {node_id})\n")));
        }
        if !host.is_empty() {
            assert!(text.contains(&format!("(default {})\n", go_quote(&host))));
        }
        assert!(!text.contains("-tls-required value"));
        assert!(!text.contains("(default false)"));
        assert_eq!(text.matches("\n  -").count(), 58);
    }

    #[test]
    fn config_file_precedence_and_keys() {
        let toml = r#"
            tcp_address = "10.0.0.1:4150"
            http_address = "10.0.0.1:4151"
            id = 7
            nsqlookupd_tcp_addresses = ["l1:4160", "l2:4160"]
            auth_http_addresses = "a1:1,a2:2"
            e2e_processing_latency_percentiles = [0.5, 0.99]
            enable_experiment = ["topology-aware-consumption"]
            msg_timeout = 30000
            statsd_interval = "10s"
            mem_queue_size = "100"
            deflate = 0
            snappy = 1
            tls_required = "tcp-https"
            tls_min_version = "tls1.3"
            log_level = "error"
            unknown_key = "ignored"
        "#;
        let o = run_with_config(&["-http-address=127.0.0.1:9"], toml).unwrap();
        assert_eq!(o.tcp_address, "10.0.0.1:4150");
        assert_eq!(o.http_address, "127.0.0.1:9", "command line beats the file");
        assert_eq!(o.node_id, 7);
        assert_eq!(o.nsqlookupd_tcp_addresses, vec!["l1:4160", "l2:4160"]);
        assert_eq!(o.auth_http_addresses, vec!["a1:1", "a2:2"]);
        assert_eq!(o.e2e_processing_latency_percentiles, vec![0.5, 0.99]);
        assert_eq!(o.enable_experiment, vec!["topology-aware-consumption"]);
        assert_eq!(o.msg_timeout, Duration::from_secs(30));
        assert_eq!(o.statsd_interval, Duration::from_secs(10));
        assert_eq!(o.mem_queue_size, 100);
        assert!(o.deflate, "QRK-13: integer 0 means true");
        assert!(!o.snappy, "QRK-13: non-zero integer means false");
        assert_eq!(o.tls_required, TlsRequired::TcpHttps);
        assert_eq!(o.tls_min_version, 772);
        assert_eq!(o.log_level, LogLevel::Error);
        assert_eq!(o.sync_every, 2500, "absent keys keep the default");

        let o = run_with_config(
            &["-node-id=3", "-log-level=warn"],
            "id = 7\nlog_level='debug'",
        )
        .unwrap();
        assert_eq!((o.node_id, o.log_level), (3, LogLevel::Warn));
        let o = run_with_config(&[], "tls_required = true\ntls_min_version = ''").unwrap();
        assert_eq!(o.tls_required, TlsRequired::Yes);
        assert_eq!(
            o.tls_min_version, 769,
            "empty tls_min_version keeps the default"
        );
    }

    #[test]
    fn config_file_errors() {
        assert_eq!(
            run_with_config(&[], "tls_required = 'sometimes'").unwrap_err(),
            "failed parsing tls_required sometimes"
        );
        assert_eq!(
            run_with_config(&[], "tls_min_version = 'ssl3.0'").unwrap_err(),
            "failed parsing tls_min_version ssl3.0"
        );
        assert_eq!(
            run_with_config(&[], "log_level = 'loud'").unwrap_err(),
            "failed parsing log_level loud"
        );
        assert_eq!(
            run_with_config(&[], "msg_timeout = '60'").unwrap_err(),
            "failed parsing msg_timeout 60"
        );
        assert_eq!(
            run_with_config(&[], "max_rdy_count = true").unwrap_err(),
            "failed parsing max_rdy_count true"
        );
        assert!(run_with_config(&[], "x = ")
            .unwrap_err()
            .starts_with("failed to load config file nsqd.cfg - "));
        let err = plan(&args(&["-config=/nonexistent/nsqd.cfg"])).unwrap_err();
        assert!(
            err.starts_with("failed to load config file /nonexistent/nsqd.cfg - "),
            "{err}"
        );
    }

    #[test]
    fn config_file_from_disk() {
        let path = std::env::temp_dir().join(format!("nsqd-options-{}.cfg", std::process::id()));
        std::fs::write(&path, "max_rdy_count = 42\n").unwrap();
        let o = run(&[&format!("--config={}", path.display())]);
        let _ = std::fs::remove_file(&path);
        assert_eq!(o.max_rdy_count, 42);
    }

    #[test]
    fn validation_order_and_texts() {
        let mut o = Options {
            max_deflate_level: 0,
            node_id: 1024,
            ..Options::default()
        };
        assert_eq!(
            o.validate().unwrap_err(),
            "--max-deflate-level must be [1,9]"
        );
        o.max_deflate_level = 9;
        assert_eq!(o.validate().unwrap_err(), "--node-id must be [0,1024)");
        o.node_id = -1;
        assert_eq!(o.validate().unwrap_err(), "--node-id must be [0,1024)");
        o.node_id = 1023;
        o.tls_required = TlsRequired::TcpHttps;
        o.auth_http_request_method = "put".into();
        assert_eq!(
            o.validate().unwrap_err(),
            "cannot require TLS client connections without TLS key and cert"
        );
        o.tls_required = TlsRequired::No;
        assert_eq!(
            o.validate().unwrap_err(),
            "--auth-http-request-method must be post or get"
        );
        o.auth_http_request_method = "post".into();
        o.e2e_processing_latency_percentiles = vec![0.5, 1.5, 0.0];
        assert_eq!(
            o.validate().unwrap_err(),
            "invalid E2E processing latency percentile: 1.5"
        );
        o.e2e_processing_latency_percentiles = vec![0.5, 0.0];
        assert_eq!(
            o.validate().unwrap_err(),
            "invalid E2E processing latency percentile: 0"
        );
        o.e2e_processing_latency_percentiles = vec![0.5, 1.0, 0.99];
        o.validate().unwrap();
        assert_eq!(o.e2e_processing_latency_percentiles, vec![1.0, 0.99, 0.5]);
    }

    #[test]
    fn client_auth_policy_forces_tls_required() {
        let mut o = Options {
            tls_client_auth_policy: "require".into(),
            ..Options::default()
        };
        assert_eq!(
            o.validate().unwrap_err(),
            "cannot require TLS client connections without TLS key and cert"
        );
        assert_eq!(o.tls_required, TlsRequired::Yes);
        let mut o = Options {
            tls_client_auth_policy: "require-verify".into(),
            tls_required: TlsRequired::TcpHttps,
            tls_cert: "c.pem".into(),
            tls_key: "k.pem".into(),
            ..Options::default()
        };
        o.validate().unwrap();
        assert_eq!(o.tls_required, TlsRequired::TcpHttps, "only No is upgraded");
    }

    #[test]
    fn config_get_encodings() {
        let mut o = Options {
            broadcast_address: "127.0.0.1".into(),
            node_id: 42,
            ..Options::default()
        };
        o.statsd_prefix = o.statsd_prefix_expanded(4151);
        assert_eq!(
            o.config_get("statsd_prefix").unwrap(),
            "nsq.127_0_0_1_4151."
        );
        assert_eq!(o.config_get("tcp_address").unwrap(), "0.0.0.0:4150");
        assert_eq!(o.config_get("log_prefix").unwrap(), "[nsqd] ");
        assert_eq!(o.config_get("data_path").unwrap(), "");
        assert_eq!(o.config_get("id").unwrap(), "42");
        assert_eq!(o.config_get("max_msg_size").unwrap(), "1048576");
        assert_eq!(o.config_get("msg_timeout").unwrap(), "60000000000");
        assert_eq!(
            o.config_get("min_output_buffer_timeout").unwrap(),
            "25000000"
        );
        assert_eq!(o.config_get("log_level").unwrap(), "2");
        assert_eq!(o.config_get("tls_min_version").unwrap(), "769");
        assert_eq!(o.config_get("tls_required").unwrap(), "0");
        assert_eq!(o.config_get("deflate").unwrap(), "true");
        assert_eq!(o.config_get("statsd_exclude_ephemeral").unwrap(), "false");
        assert_eq!(o.config_get("nsqlookupd_tcp_addresses").unwrap(), "[]");
        assert_eq!(o.config_get("auth_http_addresses").unwrap(), "[]");
        assert_eq!(o.config_get("enable_experiment").unwrap(), "[]");
        assert_eq!(
            o.config_get("e2e_processing_latency_percentiles").unwrap(),
            "[]"
        );
        o.nsqlookupd_tcp_addresses = vec!["127.0.0.1:4160".into(), "a<b>&\"".into()];
        assert_eq!(
            o.config_get("nsqlookupd_tcp_addresses").unwrap(),
            r#"["127.0.0.1:4160","a\u003cb\u003e\u0026\""]"#
        );
        o.e2e_processing_latency_percentiles = vec![1.0, 0.99, 0.5];
        assert_eq!(
            o.config_get("e2e_processing_latency_percentiles").unwrap(),
            "[1,0.99,0.5]"
        );
        o.log_level = LogLevel::Fatal;
        o.tls_required = TlsRequired::TcpHttps;
        o.tls_min_version = 772;
        assert_eq!(o.config_get("log_level").unwrap(), "5");
        assert_eq!(o.config_get("tls_required").unwrap(), "1");
        assert_eq!(o.config_get("tls_min_version").unwrap(), "772");
    }

    #[test]
    fn statsd_prefix_expansion() {
        let o = Options {
            broadcast_address: "::1".into(),
            ..Options::default()
        };
        assert_eq!(o.statsd_prefix_expanded(4151), "nsq.[__1]_4151.");
        let o = Options {
            broadcast_address: "host.example".into(),
            statsd_prefix: "a.%s.b.%s.".into(),
            ..Options::default()
        };
        assert_eq!(
            o.statsd_prefix_expanded(80),
            "a.host_example_80.b.host_example_80."
        );
        let o = Options {
            statsd_prefix: String::new(),
            ..Options::default()
        };
        assert_eq!(o.statsd_prefix_expanded(80), "");
    }

    #[test]
    fn config_put_rules() {
        let mut o = Options::default();
        assert_eq!(
            o.config_put("nsqlookupd_tcp_addresses", br#"["a:4160","b:4160"]"#),
            Ok(r#"["a:4160","b:4160"]"#.to_string())
        );
        assert_eq!(o.nsqlookupd_tcp_addresses, vec!["a:4160", "b:4160"]);
        assert_eq!(
            o.config_put("nsqlookupd_tcp_addresses", b"not json"),
            Err(ConfigPutError::InvalidValue)
        );
        assert_eq!(
            o.config_put("nsqlookupd_tcp_addresses", br#"["a", 1]"#),
            Err(ConfigPutError::InvalidValue)
        );
        assert_eq!(
            o.nsqlookupd_tcp_addresses,
            vec!["a:4160", "b:4160"],
            "unchanged on error"
        );
        assert_eq!(
            o.config_put("nsqlookupd_tcp_addresses", b"[]"),
            Ok("[]".to_string())
        );
        assert_eq!(o.config_put("log_level", b"debug"), Ok("1".to_string()));
        assert_eq!(o.log_level, LogLevel::Debug);
        assert_eq!(o.config_put("log_level", b"WARN"), Ok("3".to_string()));
        assert_eq!(
            o.config_put("log_level", b"loud"),
            Err(ConfigPutError::InvalidValue)
        );
        assert_eq!(
            o.config_put("log_level", b"info\n"),
            Err(ConfigPutError::InvalidValue)
        );
        assert_eq!(
            o.config_put("msg_timeout", b"1s"),
            Err(ConfigPutError::InvalidOption)
        );
        assert_eq!(
            o.config_put("nope", b"1"),
            Err(ConfigPutError::InvalidOption)
        );
        assert_eq!(
            o.config_put("log_level", b""),
            Err(ConfigPutError::BodySize)
        );
        o.max_msg_size = 4;
        assert_eq!(o.config_put("log_level", b"warn"), Ok("3".to_string()));
        assert_eq!(
            o.config_put("log_level", b"debug"),
            Err(ConfigPutError::BodySize)
        );
        assert_eq!(ConfigPutError::BodySize.status(), 413);
        assert_eq!(ConfigPutError::InvalidValue.status(), 400);
        assert_eq!(ConfigPutError::InvalidOption.to_string(), "INVALID_OPTION");
    }

    #[test]
    fn node_id_from_hostname() {
        // Expected values computed independently: crc32(md5(h).digest()) % 1024.
        assert_eq!(node_id_for_hostname("localhost"), 16);
        assert_eq!(node_id_for_hostname("nsq-test-host"), 806);
        assert_eq!(node_id_for_hostname(""), 812);
        let id = node_id_for_hostname(&os_hostname());
        assert!((0..1024).contains(&id));
        assert_eq!(id, node_id_for_hostname(&os_hostname()));
    }
}
