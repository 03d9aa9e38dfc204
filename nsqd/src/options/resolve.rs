//! From the command line and the `-config` file to `Options` (F-C-002).

use nsq_common::cli::{self, Outcome};
// The options tests match on the plan's steps.
pub(super) use nsq_common::cli::Step;
use nsq_common::config::{ConfigError, Resolver};

use super::flags::flag_set;
use super::{parse_tls_min_version, Options, TlsRequired};

/// What the command line asks for.
pub type ParseOutcome = Outcome<Box<Options>>;

/// Parses the command line (without argv[0]) and the `-config` file. Usage, flag errors
/// and `-version` are printed here and come back as `Exit`. An error is a fatal config
/// problem (`failed to load config file ...`, `failed parsing <key> <value>`) that the
/// caller logs as FATAL before exiting with status 1.
pub fn parse_args(args: &[String]) -> Result<ParseOutcome, String> {
    plan(args).map(cli::perform)
}

pub(super) fn plan(args: &[String]) -> Result<Step<Box<Options>>, String> {
    cli::plan_daemon("nsqd", args, Options::default(), flag_set, |o, r| {
        resolve(o, r).map(Box::new)
    })
}

/// Fills `o` from the command line, then the config file, then the flag defaults (F-C-002).
pub(super) fn resolve(mut o: Options, r: &Resolver<'_>) -> Result<Options, ConfigError> {
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
    if let Some(level) = cli::resolve_log_level(r)? {
        o.log_level = level;
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
