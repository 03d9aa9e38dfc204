//! The HTTP API (§2). The conventions every daemon shares (response shapes, query parsing,
//! httprouter's rules, the request log) are in `nsq_common::http`; this module holds what is
//! nsqd's own.
//!
//! - `routes`: the table.
//! - `api`: the handlers; `stats`: `/stats` and its renderings.
//! - `metrics`: `/metrics`, the Prometheus exposition (beyond NSQ).

mod api;
mod metrics;
mod routes;
mod stats;

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Response};
use nsq_common::http::reply::{self, NSQ_CONTENT_TYPE, NSQ_CONTENT_TYPE_V1};
use nsq_common::http::{ApiRequest, Reply};

use self::api::ChannelAction;
use self::routes::Route;
use crate::listen::Listener;
use crate::nsqd::Nsqd;
use crate::options::TlsRequired;

/// Serves the API on `listener` (TCP or unix socket) until nsqd shuts down.
pub async fn serve(nsqd: Arc<Nsqd>, listener: Listener) {
    serve_router(nsqd.clone(), listener, router(nsqd)).await;
}

async fn serve_router(nsqd: Arc<Nsqd>, listener: Listener, router: axum::Router) {
    let shutdown = nsqd.shutdown.clone();
    let shutdown = async move { shutdown.cancelled().await };
    match listener {
        Listener::Tcp(l) => nsq_common::http::serve("HTTP", l, router, shutdown).await,
        Listener::Unix(l, _) => nsq_common::http::serve_unix("HTTP", l, router, shutdown).await,
    }
}

/// The whole API as a router, for serving or for in-process use (the remote address is then
/// unknown unless the caller adds `ConnectInfo`).
pub fn router(nsqd: Arc<Nsqd>) -> axum::Router {
    axum::Router::new().fallback(dispatch).with_state(nsqd)
}

/// The listener a request came in on; H-005 treats the two differently.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Via {
    /// Plain HTTP; `https_port` is the HTTPS listener's bound port (0 without one).
    Http {
        https_port: u16,
    },
    Https,
}

/// [`router`] with every request marked as arriving via `via`.
pub fn router_via(nsqd: Arc<Nsqd>, via: Via) -> axum::Router {
    router(nsqd).layer(axum::Extension(via))
}

/// Like [`serve`], for the plain listener of an nsqd that may also serve HTTPS.
pub async fn serve_via(nsqd: Arc<Nsqd>, listener: Listener, via: Via) {
    serve_router(nsqd.clone(), listener, router_via(nsqd, via)).await;
}

async fn dispatch(State(nsqd): State<Arc<Nsqd>>, req: Request) -> Response<Body> {
    // H-005: a plain listener of a TLS-only nsqd refuses everything, before routing.
    let opts = nsqd.options();
    let via = req.extensions().get::<Via>().copied();
    if opts.tls_required == TlsRequired::Yes && via != Some(Via::Https) {
        let port = match via {
            Some(Via::Http { https_port }) => https_port,
            _ => configured_port(&opts.https_address),
        };
        return tls_required(port);
    }
    nsq_common::http::dispatch(
        &routes::TABLE,
        req,
        |route| !matches!(route, Route::Pub | Route::Mpub) && !is_pprof(route),
        |route, req| handle(nsqd, route, req),
    )
    .await
}

async fn handle(nsqd: Arc<Nsqd>, route: Route, req: ApiRequest) -> Reply {
    let q = req.raw_query.as_str();
    let opt = req.param.as_deref().unwrap_or_default();
    match route {
        Route::Ping => api::ping(&nsqd),
        Route::Info => api::info(&nsqd),
        Route::Pub => api::publish(&nsqd, q, &req.headers, req.body).await,
        Route::Mpub => api::mpub(&nsqd, q, &req.headers, req.body).await,
        Route::Stats => stats::handle(&nsqd, q),
        Route::TopicCreate => api::topic_create(&nsqd, q),
        Route::TopicDelete => api::topic_delete(&nsqd, q),
        Route::TopicEmpty => api::topic_empty(&nsqd, q),
        Route::TopicPause | Route::TopicUnpause => api::topic_pause(&nsqd, &req.path, q),
        Route::ChannelCreate => api::channel_action(&nsqd, ChannelAction::Create, &req.path, q),
        Route::ChannelDelete => api::channel_action(&nsqd, ChannelAction::Delete, &req.path, q),
        Route::ChannelEmpty => api::channel_action(&nsqd, ChannelAction::Empty, &req.path, q),
        Route::ChannelPause | Route::ChannelUnpause => {
            api::channel_action(&nsqd, ChannelAction::Pause, &req.path, q)
        }
        Route::ConfigGet => api::config_get(&nsqd, opt),
        Route::ConfigPut => api::config_put(&nsqd, opt, req.body).await,
        Route::PprofIndex => {
            Reply::Raw(Box::new(reply::plain(200, PPROF_INDEX.as_bytes().to_vec())))
        }
        // There is no Go runtime to profile; see docs/http-debug-endpoints.md.
        Route::PprofCmdline
        | Route::PprofSymbol
        | Route::PprofProfile
        | Route::PprofHeap
        | Route::PprofGoroutine
        | Route::PprofBlock
        | Route::PprofThreadcreate => Reply::err(404, "NOT_FOUND"),
        Route::SetBlockRate => match api::set_block_rate(q, &req.headers, req.body).await {
            Ok(()) => Reply::PlainNil,
            Err(r) => r,
        },
        Route::FreeMemory => {
            api::free_memory();
            Reply::PlainNil
        }
        Route::Metrics => Reply::Raw(Box::new(nsq_common::metrics::response(metrics::render(
            &nsqd,
        )))),
    }
}

fn is_pprof(route: Route) -> bool {
    matches!(
        route,
        Route::PprofIndex
            | Route::PprofCmdline
            | Route::PprofSymbol
            | Route::PprofProfile
            | Route::PprofHeap
            | Route::PprofGoroutine
            | Route::PprofBlock
            | Route::PprofThreadcreate
    )
}

const PPROF_INDEX: &str = "/debug/pprof/\n\n\
    This nsqd is written in Rust: the Go runtime profiles (heap, goroutine, block,\n\
    threadcreate, profile, symbol, cmdline) do not exist here and answer 404.\n\
    Profile the process with OS tools instead (for example perf or heaptrack).\n";

/// H-005: the 403 answer, with its spaces after the colons.
fn configured_port(address: &str) -> u16 {
    address
        .rsplit_once(':')
        .and_then(|(_, p)| p.parse::<u16>().ok())
        .unwrap_or(0)
}

fn tls_required(port: u16) -> Response<Body> {
    let body = format!("{{\"message\": \"TLS_REQUIRED\", \"https_port\": {port}}}");
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = axum::http::StatusCode::FORBIDDEN;
    let headers = resp.headers_mut();
    headers.insert(
        NSQ_CONTENT_TYPE,
        HeaderValue::from_static(NSQ_CONTENT_TYPE_V1),
    );
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_required_body() {
        let r = tls_required(configured_port("0.0.0.0:4152"));
        assert_eq!(r.status(), 403);
        assert_eq!(r.headers()["x-nsq-content-type"], "nsq; version=1.0");
    }
}
