//! Snapshots of topics, channels and clients, as `/stats` reports them (H-040..H-047). The
//! HTTP layer renders these as JSON or text; nothing here knows about formats.

use std::sync::atomic::Ordering;

use nsq_common::quantile::QuantileResult;

use crate::client::ClientShared;

#[derive(Debug, Clone)]
pub struct TopicStats {
    pub topic_name: String,
    pub channels: Vec<ChannelStats>,
    pub depth: u64,
    pub backend_depth: u64,
    pub message_count: u64,
    pub message_bytes: u64,
    pub paused: bool,
    pub e2e_processing_latency: QuantileResult,
}

#[derive(Debug, Clone)]
pub struct ChannelStats {
    pub channel_name: String,
    pub depth: u64,
    pub backend_depth: u64,
    pub in_flight_count: u64,
    pub deferred_count: u64,
    pub message_count: u64,
    pub zone_local_msg_count: u64,
    pub region_local_msg_count: u64,
    pub global_msg_count: u64,
    pub requeue_count: u64,
    pub timeout_count: u64,
    pub client_count: u64,
    /// None when clients were not asked for (`include_clients=false`).
    pub clients: Option<Vec<ClientStats>>,
    pub paused: bool,
    pub e2e_processing_latency: QuantileResult,
}

#[derive(Debug, Clone)]
pub struct ClientStats {
    pub client_id: String,
    pub hostname: String,
    pub remote_address: String,
    pub state: i32,
    pub ready_count: i64,
    pub in_flight_count: i64,
    pub message_count: u64,
    pub finish_count: u64,
    pub requeue_count: u64,
    pub connect_ts: i64,
    pub sample_rate: i32,
    pub deflate: bool,
    pub snappy: bool,
    pub user_agent: String,
    pub authed: bool,
    pub auth_identity: String,
    pub auth_identity_url: String,
    pub topology_zone: String,
    pub topology_region: String,
    /// (topic, count) pairs; see QRK-11 for how many are shown.
    pub pub_counts: Vec<(String, u64)>,
    pub tls: bool,
    pub tls_cipher_suite: String,
    pub tls_version: String,
    pub tls_negotiated_protocol: String,
    pub tls_negotiated_protocol_is_mutual: bool,
}

pub fn client_stats(c: &ClientShared) -> ClientStats {
    let info = c.info.lock().clone();
    ClientStats {
        client_id: info.client_id,
        hostname: info.hostname,
        remote_address: c.remote_address.clone(),
        state: c.state.load(Ordering::Relaxed),
        ready_count: c.ready_count.load(Ordering::Relaxed),
        in_flight_count: c.in_flight_count.load(Ordering::Relaxed),
        message_count: c.message_count.load(Ordering::Relaxed),
        finish_count: c.finish_count.load(Ordering::Relaxed),
        requeue_count: c.requeue_count.load(Ordering::Relaxed),
        connect_ts: c.connect_ts,
        sample_rate: info.sample_rate,
        deflate: info.deflate,
        snappy: info.snappy,
        user_agent: info.user_agent,
        authed: info.authed,
        auth_identity: info.auth_identity,
        auth_identity_url: info.auth_identity_url,
        topology_zone: info.topology_zone,
        topology_region: info.topology_region,
        pub_counts: c.pub_counts.lock().clone(),
        tls: info.tls,
        tls_cipher_suite: info.tls_cipher_suite,
        tls_version: info.tls_version,
        // No ALPN is offered; the reference's Go reports "mutual" as always true on TLS.
        tls_negotiated_protocol: String::new(),
        tls_negotiated_protocol_is_mutual: info.tls,
    }
}
