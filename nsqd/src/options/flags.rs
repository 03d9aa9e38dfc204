//! The nsqd flag table: names, defaults and help texts, as `nsqd -h` prints them.

use nsq_common::cli::LOG_LEVEL_KIND;
use nsq_common::goflag::{CustomKind, FlagSet};

use super::{parse_tls_min_version, tls_version_text, Options, TlsRequired};

fn check_tls_required(s: &str) -> Result<(), String> {
    TlsRequired::parse(s).map(|_| ())
}

fn check_tls_min_version(s: &str) -> Result<(), String> {
    parse_tls_min_version(s).map(|_| ())
}

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

/// The flag set, with defaults taken from `d` (so `-h` shows this host's name and node id).
pub(super) fn flag_set(d: &Options) -> FlagSet {
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
