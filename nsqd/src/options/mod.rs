//! nsqd's options: NSQ's 57 command-line flags (plus `--metrics-per-client`, beyond NSQ), the
//! TOML config file, the startup checks that need no I/O, and the `/config/:opt` view
//! (H-060..H-062).

mod config_api;
mod flags;
mod resolve;
#[cfg(test)]
mod tests;
mod validate;

use std::time::Duration;

use md5::{Digest, Md5};
use nsq_common::goflag::{go_quote, parse_go_bool};
use nsq_common::logging::LogLevel;

pub use config_api::ConfigPutError;
pub use flags::usage;
pub use resolve::{parse_args, ParseOutcome};

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

impl Options {
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
}
