//! The HTTP API (§2): one axum fallback handler resolves every request against the route table
//! itself, because the reference's router behaviour (redirects, OPTIONS, 405 with `Allow`, the
//! 404/405/500 bodies and the request log) is part of what clients observe.
//!
//! - `routes`: the table and the httprouter rules.
//! - `api`: the handlers; `stats`: `/stats` and its renderings.
//! - `query`: Go-strict query parsing; `reply`: the V1 and PlainText response shapes.

mod api;
mod query;
mod reply;
mod routes;
mod stats;

use std::future::Future;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderValue, Response};
use tokio::net::TcpListener;

use self::api::ChannelAction;
use self::reply::Reply;
use self::routes::{Resolved, Route};
use crate::nsqd::Nsqd;
use crate::options::TlsRequired;

/// Serves the API on `listener` until nsqd shuts down.
pub async fn serve(nsqd: Arc<Nsqd>, listener: TcpListener) {
    let app = router(nsqd.clone()).into_make_service_with_connect_info::<SocketAddr>();
    let shutdown = nsqd.shutdown.clone();
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await;
    if let Err(e) = served {
        tracing::error!("HTTP: serve failed - {}", e);
    }
}

/// The whole API as a router, for serving or for in-process use (the remote address is then
/// unknown unless the caller adds `ConnectInfo`).
pub fn router(nsqd: Arc<Nsqd>) -> axum::Router {
    axum::Router::new().fallback(dispatch).with_state(nsqd)
}

async fn dispatch(State(nsqd): State<Arc<Nsqd>>, req: Request) -> Response<Body> {
    let remote = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.to_string())
        .unwrap_or_default();
    // H-005: a plain listener of a TLS-only nsqd refuses everything, before routing.
    let opts = nsqd.options();
    if opts.tls_required == TlsRequired::Yes {
        return tls_required(&opts.https_address);
    }
    let (parts, body) = req.into_parts();
    let method = parts.method.as_str().to_string();
    let request_uri = parts.uri.path_and_query().map_or_else(
        || parts.uri.path().to_string(),
        |pq| pq.as_str().to_string(),
    );
    let raw_query = parts.uri.query().unwrap_or("").to_string();
    let Some(path) = query::unescape_path(parts.uri.path()) else {
        // Go's server refuses a malformed path before any handler runs.
        return reply::plain(400, b"400 Bad Request".to_vec());
    };
    let log = RequestLog {
        method: &method,
        uri: &request_uri,
        remote: &remote,
        start: Instant::now(),
    };

    match routes::resolve(&method, &path) {
        Resolved::Route(route, opt) => {
            let req = ApiRequest {
                route,
                opt: opt.unwrap_or_default(),
                path,
                raw_query,
                headers: parts.headers,
                body,
            };
            let logged = !matches!(route, Route::Pub | Route::Mpub) && !is_pprof(route);
            match CatchPanic(Box::pin(handle(nsqd, req))).await {
                Ok(Reply::PlainNil) => {
                    // QRK-01 (replicated): the reference's PlainText decorator panics on the
                    // nil answer, after its log line reported 200.
                    log.write(200);
                    internal_error(&log, "unknown response type <nil>")
                }
                Ok(reply) => {
                    if logged {
                        log.write(reply.status());
                    }
                    reply.into_response()
                }
                Err(panic) => internal_error(&log, &panic),
            }
        }
        Resolved::Redirect(code, to) => redirect(&method, code, &to, &raw_query),
        Resolved::Options(allow) => with_allow(reply::plain(200, Vec::new()), &allow),
        Resolved::MethodNotAllowed(allow) => {
            log.write(405);
            with_allow(
                Reply::err(405, "METHOD_NOT_ALLOWED").into_response(),
                &allow,
            )
        }
        Resolved::NotFound => {
            log.write(404);
            Reply::err(404, "NOT_FOUND").into_response()
        }
    }
}

/// H-004: the panic is logged, then answered (and logged) as a V1 500.
fn internal_error(log: &RequestLog<'_>, panic: &str) -> Response<Body> {
    tracing::error!("panic in HTTP handler - {}", panic);
    log.write(500);
    Reply::err(500, "INTERNAL_ERROR").into_response()
}

/// The H-007 request line: `<status> <METHOD> <uri> (<remoteaddr>) <elapsed>`.
struct RequestLog<'a> {
    method: &'a str,
    uri: &'a str,
    remote: &'a str,
    start: Instant,
}

impl RequestLog<'_> {
    fn write(&self, status: u16) {
        tracing::info!(
            "{} {} {} ({}) {}",
            status,
            self.method,
            self.uri,
            self.remote,
            nsq_common::duration::format_go_duration(self.start.elapsed())
        );
    }
}

struct ApiRequest {
    route: Route,
    /// The `:opt` of `/config/:opt`.
    opt: String,
    /// Decoded path (the pause routes look for `unpause` in it).
    path: String,
    raw_query: String,
    headers: axum::http::HeaderMap,
    body: Body,
}

async fn handle(nsqd: Arc<Nsqd>, req: ApiRequest) -> Reply {
    let q = req.raw_query.as_str();
    match req.route {
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
        Route::ConfigGet => api::config_get(&nsqd, &req.opt),
        Route::ConfigPut => api::config_put(&nsqd, &req.opt, req.body).await,
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

fn with_allow(mut resp: Response<Body>, allow: &str) -> Response<Body> {
    if let Ok(v) = HeaderValue::from_str(allow) {
        resp.headers_mut().insert(header::ALLOW, v);
    }
    resp
}

/// H-003 redirects, written like Go's `http.Redirect`: `Location` keeps the query; a GET also
/// gets a small HTML body.
fn redirect(method: &str, code: u16, path: &str, raw_query: &str) -> Response<Body> {
    let mut location = escape_path(path);
    if !raw_query.is_empty() {
        location.push('?');
        location.push_str(raw_query);
    }
    let body = if method == "GET" {
        format!(
            "<a href=\"{}\">{}</a>.\n\n",
            html_escape(&location),
            if code == 301 {
                "Moved Permanently"
            } else {
                "Temporary Redirect"
            }
        )
    } else {
        String::new()
    };
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() =
        axum::http::StatusCode::from_u16(code).unwrap_or(axum::http::StatusCode::MOVED_PERMANENTLY);
    let headers = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&location) {
        headers.insert(header::LOCATION, v);
    }
    if method == "GET" || method == "HEAD" {
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
    }
    resp
}

/// Percent-escapes a decoded path the way Go writes `URL.Path` back (unreserved characters and
/// `/ $ & + , : ; = @` stay as they are).
fn escape_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for &b in path.as_bytes() {
        let keep = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'_'
                    | b'.'
                    | b'~'
                    | b'/'
                    | b'$'
                    | b'&'
                    | b'+'
                    | b','
                    | b':'
                    | b';'
                    | b'='
                    | b'@'
            );
        if keep {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// H-005: the 403 answer, with its spaces after the colons.
fn tls_required(https_address: &str) -> Response<Body> {
    let port = https_address
        .rsplit_once(':')
        .and_then(|(_, p)| p.parse::<u16>().ok())
        .unwrap_or(0);
    let body = format!("{{\"message\": \"TLS_REQUIRED\", \"https_port\": {port}}}");
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = axum::http::StatusCode::FORBIDDEN;
    let headers = resp.headers_mut();
    headers.insert(
        reply::NSQ_CONTENT_TYPE,
        HeaderValue::from_static(reply::NSQ_CONTENT_TYPE_V1),
    );
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    resp
}

/// Runs a handler future and turns a panic inside it into an error carrying the panic text.
struct CatchPanic<F>(Pin<Box<F>>);

impl<F: Future> Future for CatchPanic<F> {
    type Output = Result<F::Output, String>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let fut = self.get_mut().0.as_mut();
        match std::panic::catch_unwind(AssertUnwindSafe(|| fut.poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
            Err(payload) => {
                let text = payload
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown panic".to_string());
                Poll::Ready(Err(text))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_responses() {
        let r = redirect("GET", 301, "/stats", "format=json");
        assert_eq!(r.status(), 301);
        assert_eq!(r.headers()["location"], "/stats?format=json");
        assert_eq!(r.headers()["content-type"], "text/html; charset=utf-8");
        let r = redirect("POST", 307, "/pub", "topic=t");
        assert_eq!(r.status(), 307);
        assert_eq!(r.headers()["location"], "/pub?topic=t");
        assert!(r.headers().get("content-type").is_none());
        assert_eq!(escape_path("/config/a b"), "/config/a%20b");
        assert_eq!(html_escape("/a?b=1&c"), "/a?b=1&amp;c");
    }

    #[test]
    fn tls_required_body() {
        let r = tls_required("0.0.0.0:4152");
        assert_eq!(r.status(), 403);
        assert_eq!(r.headers()["x-nsq-content-type"], "nsq; version=1.0");
    }

    #[test]
    fn catch_panic_reports_the_message() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let out = rt.block_on(CatchPanic(Box::pin(async { panic!("boom {}", 1) })));
        assert_eq!(out, Err::<(), _>("boom 1".to_string()));
        let out = rt.block_on(CatchPanic(Box::pin(async { 7 })));
        assert_eq!(out, Ok(7));
    }
}
