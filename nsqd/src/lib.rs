//! nsqd as a library: the daemon's pieces, so tests can run it in-process and the binary stays a
//! thin `main.rs`.

pub mod backend;
pub mod channel;
pub mod client;
pub mod clock;
pub mod dirlock;
pub mod health;
pub mod http;
pub mod inflight;
pub mod metadata;
pub mod nsqd;
pub mod options;
pub mod queue_config;
pub mod server;
pub mod stats;
pub mod tcp;
pub mod topic;

pub use crate::nsqd::Nsqd;
pub use crate::options::Options;
