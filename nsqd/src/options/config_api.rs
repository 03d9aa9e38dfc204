//! The `/config/:opt` view of the options (H-060..H-062).

use std::time::Duration;

use nsq_common::gofmt::json_f64;
use nsq_common::logging::LogLevel;
use nsq_protocol::json::push_json_string;
use thiserror::Error;

use super::Options;

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
