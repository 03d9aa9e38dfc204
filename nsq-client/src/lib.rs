//! Async NSQ client library (go-nsq semantics).
//!
//! - [`Producer`]: publishes to one nsqd (PUB, MPUB, DPUB) over a lazily opened connection
//!   that is reused and reopened after failures; nsqd's error frames come back as
//!   [`Error::Nsq`] with their NSQ code.
//! - [`Consumer`]: subscribes to a topic/channel on nsqd addresses given directly or found by
//!   polling nsqlookupd, spreads `max_in_flight` over its connections, backs off on failures,
//!   and stops gracefully.
//! - [`conn::Conn`]: the raw connection layer (handshake, TLS, snappy, deflate, AUTH, frames)
//!   for tools that drive the protocol themselves, like the bench tool.

pub mod command;
pub mod config;
pub mod conn;
pub mod consumer;
pub mod error;
mod lookup;
pub mod producer;
mod tls;

pub use config::{BackoffStrategy, Config};
pub use conn::{Conn, Frame};
pub use consumer::{Consumer, Message};
pub use error::{Error, NsqError};
pub use producer::Producer;
