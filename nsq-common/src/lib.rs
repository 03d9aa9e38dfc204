//! Shared plumbing for the NSQ daemons.
pub mod cli;
pub mod config;
pub mod duration;
pub mod goflag;
pub mod gofmt;
pub mod host;
pub mod http;
pub mod logging;
pub mod memstats;
pub mod metrics;
pub mod quantile;

// Lets `fatal!` reach tracing from crates that do not depend on it directly.
#[doc(hidden)]
pub use tracing as __tracing;
pub mod diskqueue;
