//! The HTTP conventions every NSQ daemon shares (§2.1, §6.3): the V1 and PlainText response
//! shapes, Go-strict query parsing, httprouter's routing rules, the request log, and a small
//! blocking client for the daemons' own V1 calls.
//!
//! - `reply`: what a handler answers and how it is written.
//! - `query`: query strings and paths decoded like Go's `net/url`.
//! - `router`: a daemon's route table and the redirect/OPTIONS/405/404 rules.
//! - `serve`: serving a table with axum, request logging, body reading.
//! - `client`: blocking `GET` with the V1 `Accept` header.

pub mod client;
pub mod query;
pub mod reply;
pub mod router;
pub mod serve;

pub use query::{parse_bool_param, Query, QueryError};
pub use reply::Reply;
pub use router::{Resolved, RouteTable};
pub use serve::{content_length, dispatch, read_body, serve, ApiRequest};
#[cfg(unix)]
pub use serve::{serve_unix, UnixPeer};

/// Parses a raw query for a V1 handler: a malformed one is logged and answered with 400
/// `INVALID_REQUEST` (H-006).
pub fn parse_query(raw: &str) -> Result<Query, Reply> {
    Query::parse(raw).map_err(|e| {
        tracing::error!("failed to parse request params - {}", e);
        Reply::err(400, "INVALID_REQUEST")
    })
}
