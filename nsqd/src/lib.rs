//! nsqd as a library: the daemon's pieces, so tests can run it in-process and the binary stays a
//! thin `main.rs`.

pub mod auth;
pub mod backend;
pub mod channel;
pub mod client;
pub mod clock;
pub mod deferred_store;
pub mod dirlock;
pub mod durable;
pub mod health;
pub mod http;
pub mod http_client;
pub mod https;
pub mod inflight;
pub mod listen;
pub mod lookup;
pub mod lookup_peer;
pub mod metadata;
pub mod nsqd;
pub mod options;
pub mod queue_config;
pub mod server;
pub mod stats;
pub mod statsd;
pub mod tcp;
pub mod tls;
pub mod topic;
pub mod topology;

pub use crate::nsqd::Nsqd;
pub use crate::options::Options;
