//! nsqadmin: the cluster's web UI and its `/api/*` (spec §7).
//!
//! - `options`: the 26 flags and the config file; `server`: start-up and shutdown;
//!   `admin`: the shared state.
//! - `http`: routes, base path and router rules; `compress`: gzip/deflate answers.
//! - `upstream`: the HTTP client for nsqd and nsqlookupd; `cluster_info`: the questions
//!   asked of them; `types`: their JSON and how per-node stats add up.
//! - `api`: the read API; `actions`: the admin actions; `notify`: action notifications;
//!   `graphite`: rates and the `/render` proxy; `config_api`: `/config/:opt`.
//! - `static_files`: the embedded UI build; `shell`: the HTML page that loads it.

pub mod actions;
pub mod admin;
pub mod api;
pub mod cluster_info;
pub mod compress;
pub mod config_api;
pub mod graphite;
pub mod http;
pub mod notify;
pub mod options;
pub mod server;
pub mod shell;
pub mod static_files;
pub mod types;
pub mod upstream;

pub use crate::options::Options;
