//! What the rest of nsqd knows about one TCP connection: its identity, counters for `/stats`, and
//! the two signals a channel sends it (wake up: messages or capacity are there; close: your
//! channel was deleted). The connection task owns everything else.

use std::sync::atomic::{
    AtomicBool, AtomicI32, AtomicI64, AtomicU64, AtomicU8, AtomicUsize, Ordering,
};

use parking_lot::Mutex;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// Client states as `/stats` reports them (P-040).
pub const STATE_INIT: i32 = 0;
pub const STATE_SUBSCRIBED: i32 = 3;
pub const STATE_CLOSING: i32 = 4;

/// Fields set by IDENTIFY (and AUTH later); read by `/stats`.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    pub client_id: String,
    pub hostname: String,
    pub user_agent: String,
    pub sample_rate: i32,
    pub deflate: bool,
    pub snappy: bool,
    pub tls: bool,
    /// The TLS session as `/stats` names it (H-044), and the client certificate's subject
    /// common name (for auth requests, BEH-151); empty without TLS.
    pub tls_version: String,
    pub tls_cipher_suite: String,
    pub tls_common_name: String,
    pub topology_zone: String,
    pub topology_region: String,
    /// Set by a successful AUTH (the answer had authorizations).
    pub authed: bool,
    pub auth_identity: String,
    pub auth_identity_url: String,
}

pub struct ClientShared {
    pub id: u64,
    /// `ip:port` of the peer.
    pub remote_address: String,
    /// Unix seconds.
    pub connect_ts: i64,
    pub info: Mutex<ClientInfo>,
    pub state: AtomicI32,
    pub ready_count: AtomicI64,
    pub in_flight_count: AtomicI64,
    pub message_count: AtomicU64,
    pub finish_count: AtomicU64,
    pub requeue_count: AtomicU64,
    /// Per-topic publish counts, in first-publish order.
    pub pub_counts: Mutex<Vec<(String, u64)>>,
    /// Set when the channel should wake this client (new messages, freed capacity, unpause).
    pub wake: Notify,
    /// Cancelled when nsqd wants the connection closed (its channel was deleted).
    pub close: CancellationToken,
    /// True while the client sits in its channel's list of clients waiting for messages.
    pub waiting: AtomicBool,
    /// How many messages the client could take when it last started waiting; a topology-aware
    /// put hands it at most that many (BEH-182).
    pub wait_capacity: AtomicUsize,
    /// `topology::ZONE_LOCAL` / `REGION_LOCAL` bits from the first IDENTIFY (BEH-181).
    pub locality: AtomicU8,
}

impl ClientShared {
    pub fn new(id: u64, remote_address: String, remote_ip: String, connect_ts: i64) -> Self {
        ClientShared {
            id,
            remote_address,
            connect_ts,
            info: Mutex::new(ClientInfo {
                client_id: remote_ip.clone(),
                hostname: remote_ip,
                ..ClientInfo::default()
            }),
            state: AtomicI32::new(STATE_INIT),
            ready_count: AtomicI64::new(0),
            in_flight_count: AtomicI64::new(0),
            message_count: AtomicU64::new(0),
            finish_count: AtomicU64::new(0),
            requeue_count: AtomicU64::new(0),
            pub_counts: Mutex::new(Vec::new()),
            wake: Notify::new(),
            close: CancellationToken::new(),
            waiting: AtomicBool::new(false),
            wait_capacity: AtomicUsize::new(0),
            locality: AtomicU8::new(0),
        }
    }

    pub fn count_publish(&self, topic: &str, n: u64) {
        let mut counts = self.pub_counts.lock();
        match counts.iter_mut().find(|(t, _)| t == topic) {
            Some((_, c)) => *c += n,
            None => counts.push((topic.to_string(), n)),
        }
    }

    /// A message this client had in flight left it (FIN, REQ, timeout).
    pub fn in_flight_done(&self) {
        self.in_flight_count.fetch_sub(1, Ordering::Relaxed);
    }
}
