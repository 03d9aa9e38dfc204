//! Serving a route table: one axum fallback handler resolves every request against the table
//! itself, because the reference's router behaviour (redirects, OPTIONS, 405 with `Allow`, the
//! 404/405/500 bodies, panics turned into 500s, and the request log) is part of what clients
//! observe. The daemon only supplies its table and a handler per route.

use std::future::Future;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::body::{Body, HttpBody};
use axum::extract::{ConnectInfo, Request};
use axum::http::{header, HeaderMap, HeaderValue, Response, StatusCode};
use bytes::{Bytes, BytesMut};
use tokio::net::TcpListener;

use super::query;
use super::reply::{self, Reply};
use super::router::{Resolved, RouteTable};

/// Serves `router` on `listener` until `shutdown` completes. `name` labels the error log line
/// (`HTTP`, `HTTPS`).
pub async fn serve(
    name: &str,
    listener: TcpListener,
    router: axum::Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let app = router.into_make_service_with_connect_info::<SocketAddr>();
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await;
    if let Err(e) = served {
        tracing::error!("{}: serve failed - {}", name, e);
    }
}

/// Like [`serve`], on a unix socket. Request log lines show the peer as Go does: `@` for an
/// unnamed client socket.
#[cfg(unix)]
pub async fn serve_unix(
    name: &str,
    listener: tokio::net::UnixListener,
    router: axum::Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let app = router.into_make_service_with_connect_info::<UnixPeer>();
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await;
    if let Err(e) = served {
        tracing::error!("{}: serve failed - {}", name, e);
    }
}

/// The peer of a unix-socket request, as text: its path, or `@` when it bound none.
#[cfg(unix)]
#[derive(Clone, Debug)]
pub struct UnixPeer(pub String);

#[cfg(unix)]
impl
    axum::extract::connect_info::Connected<
        axum::serve::IncomingStream<'_, tokio::net::UnixListener>,
    > for UnixPeer
{
    fn connect_info(stream: axum::serve::IncomingStream<'_, tokio::net::UnixListener>) -> Self {
        let text = match stream.remote_addr().as_pathname() {
            Some(p) if !p.as_os_str().is_empty() => p.display().to_string(),
            _ => "@".to_string(),
        };
        UnixPeer(text)
    }
}

/// The remote address text for the request log.
fn remote_text(req: &Request) -> String {
    if let Some(c) = req.extensions().get::<ConnectInfo<SocketAddr>>() {
        return c.0.to_string();
    }
    #[cfg(unix)]
    if let Some(c) = req.extensions().get::<ConnectInfo<UnixPeer>>() {
        return c.0 .0.clone();
    }
    String::new()
}

/// A request that matched a route, as its handler sees it.
pub struct ApiRequest {
    /// The value of the route's `:param` segment, if its pattern has one.
    pub param: Option<String>,
    /// Decoded path (nsqd's pause routes look for `unpause` in it).
    pub path: String,
    /// The query, still escaped; parse it with [`query::Query::parse`].
    pub raw_query: String,
    pub headers: HeaderMap,
    pub body: Body,
}

/// Resolves `req` against `table` and answers it. `logged` says which routes get the H-007
/// request line (nsqd leaves out `/pub`, `/mpub` and the profiler); router answers (404,
/// 405, 500) are always logged.
pub async fn dispatch<R, F, Fut>(
    table: &RouteTable<R>,
    req: Request,
    logged: impl Fn(R) -> bool,
    handle: F,
) -> Response<Body>
where
    R: Copy,
    F: FnOnce(R, ApiRequest) -> Fut,
    Fut: Future<Output = Reply>,
{
    let remote = remote_text(&req);
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

    match table.resolve(&method, &path) {
        Resolved::Route(route, param) => {
            let req = ApiRequest {
                param,
                path,
                raw_query,
                headers: parts.headers,
                body,
            };
            match CatchPanic(Box::pin(handle(route, req))).await {
                Ok(Reply::PlainNil) => {
                    // QRK-01 (replicated): the reference's PlainText decorator panics on the
                    // nil answer, after its log line reported 200.
                    log.write(200);
                    internal_error(&log, "unknown response type <nil>")
                }
                Ok(reply) => {
                    if logged(route) {
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
            crate::duration::format_go_duration(self.start.elapsed())
        );
    }
}

/// Reads at most `limit` bytes of the body. A body error after some bytes still fails: the
/// reference treats any read error as such.
pub async fn read_body(mut body: Body, limit: usize) -> Result<Bytes, axum::Error> {
    let mut buf = BytesMut::new();
    while buf.len() < limit {
        let frame = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await;
        let Some(frame) = frame else { break };
        if let Ok(data) = frame?.into_data() {
            let take = data.len().min(limit - buf.len());
            buf.extend_from_slice(&data[..take]);
        }
    }
    Ok(buf.freeze())
}

/// `Content-Length` as Go's `req.ContentLength` sees it: -1 when unknown (chunked).
pub fn content_length(headers: &HeaderMap) -> i64 {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<i64>().ok())
        .unwrap_or(-1)
}

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
    *resp.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::MOVED_PERMANENTLY);
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
    fn catch_panic_reports_the_message() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let out = rt.block_on(CatchPanic(Box::pin(async { panic!("boom {}", 1) })));
        assert_eq!(out, Err::<(), _>("boom 1".to_string()));
        let out = rt.block_on(CatchPanic(Box::pin(async { 7 })));
        assert_eq!(out, Ok(7));
    }

    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    enum R {
        Ping,
        Boom,
        Nil,
    }

    static TABLE: RouteTable<R> = RouteTable::new(&[
        ("GET", "/ping", R::Ping),
        ("GET", "/boom", R::Boom),
        ("GET", "/nil", R::Nil),
    ]);

    async fn answer(uri: &str) -> Response<Body> {
        let req = Request::builder().uri(uri).body(Body::empty()).unwrap();
        dispatch(
            &TABLE,
            req,
            |_| true,
            |route, req| async move {
                match route {
                    R::Ping => Reply::Text(format!("pong {}", req.raw_query)),
                    R::Boom => panic!("handler failed"),
                    R::Nil => Reply::PlainNil,
                }
            },
        )
        .await
    }

    #[test]
    fn dispatch_answers_routes_and_router_cases() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let r = rt.block_on(answer("/ping?x=1"));
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["x-nsq-content-type"], "nsq; version=1.0");
        let r = rt.block_on(answer("/nope"));
        assert_eq!(r.status(), 404);
        let r = rt.block_on(answer("/PING"));
        assert_eq!(r.status(), 301);
        assert_eq!(r.headers()["location"], "/ping");
        let r = rt.block_on(answer("/boom"));
        assert_eq!(r.status(), 500);
        let r = rt.block_on(answer("/nil"));
        assert_eq!(r.status(), 500);
        let r = rt.block_on(answer("/bad%zz"));
        assert_eq!(r.status(), 400);
    }
}
