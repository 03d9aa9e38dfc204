//! nsqlookupd as a library: the discovery daemon's pieces, so tests can run it in-process and
//! the binary stays a thin `main.rs`.
//!
//! - `options`: flags and config file; `server`: start-up, signals, shutdown.
//! - `registration_db`: who has which topic and channel; `lookupd`: the shared state.
//! - `protocol`: the TCP V1 commands; `tcp`: their connections; `http`: the HTTP API.
//! - `metrics`: `/metrics`, the Prometheus exposition (beyond NSQ).

pub mod http;
pub mod lookupd;
pub mod metrics;
pub mod options;
pub mod protocol;
pub mod registration_db;
pub mod server;
pub mod tcp;

pub use crate::lookupd::Lookupd;
pub use crate::options::Options;
