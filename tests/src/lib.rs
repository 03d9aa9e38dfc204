//! Test harness: start the real binaries on port 0 and talk to them.
//!
//! Everything here speaks the wire formats with its own small decoders (no nsq-protocol code),
//! so that the integration tests check the server independently of the crates they test.
//!
//! - [`Nsqd`]: a running nsqd child process with its log lines and bound addresses.
//! - [`RawConn`]: a blocking TCP V2 client that reads raw frames.
//! - [`http`]: a minimal HTTP/1.1 client.
//! - [`compat`]: runs the real clients' compatibility scripts.

pub mod compat;
mod conn;
mod daemon;
mod http;
pub mod lookupd;
pub mod nsqadmin;
mod process;
pub mod tools;

pub use conn::{mpub_body, Msg, RawConn, FRAME_ERROR, FRAME_MESSAGE, FRAME_RESPONSE};
pub use http::{http, http_get, http_post, http_with_headers, HttpResponse};
pub use process::{bin_path, nsqd_bin, Nsqd, RawNsqd};

use std::time::{Duration, Instant};

/// Polls `cond` every 10 ms until it is true or `timeout` has passed; answers whether it became
/// true. The condition is checked once more at the deadline so a slow last step still counts.
pub fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return cond();
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Finds the topic object called `topic` in a `/stats?format=json` document.
pub fn stats_topic<'a>(stats: &'a serde_json::Value, topic: &str) -> Option<&'a serde_json::Value> {
    stats["topics"]
        .as_array()?
        .iter()
        .find(|t| t["topic_name"] == topic)
}

/// Finds the channel object `topic`/`channel` in a `/stats?format=json` document.
pub fn stats_channel<'a>(
    stats: &'a serde_json::Value,
    topic: &str,
    channel: &str,
) -> Option<&'a serde_json::Value> {
    stats_topic(stats, topic)?["channels"]
        .as_array()?
        .iter()
        .find(|c| c["channel_name"] == channel)
}
