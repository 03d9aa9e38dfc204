//! The HTTP server's routes (§7.2): the UI pages, the embedded assets, `/api/*`, `/config`,
//! and `/render` with `--proxy-graphite`. Every route sits under the base path and
//! every answer may be compressed. Router rules (301/307, 405, 404) are the shared
//! httprouter ones of nsqd and nsqlookupd.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderValue, Response, Uri};
use nsq_common::http::{read_body, ApiRequest, Reply, RouteTable};
use tokio::net::TcpListener;

use crate::admin::Admin;
use crate::notify::RequestInfo;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    Index,
    Ping,
    Static,
    Render,
    ApiTopics,
    ApiTopic,
    ApiChannel,
    ApiNodes,
    ApiNode,
    CreateTopicChannel,
    TopicAction,
    ChannelAction,
    TombstoneNode,
    DeleteTopic,
    DeleteChannel,
    ApiCounter,
    ApiGraphite,
    ConfigGet,
    ConfigPut,
}

macro_rules! routes {
    ($($extra:expr),*) => {
        &[
            ("GET", "/ping", Route::Ping),
            ("GET", "/", Route::Index),
            ("GET", "/topics", Route::Index),
            ("GET", "/topics/:topic", Route::Index),
            ("GET", "/topics/:topic/:channel", Route::Index),
            ("GET", "/nodes", Route::Index),
            ("GET", "/nodes/:node", Route::Index),
            ("GET", "/counter", Route::Index),
            ("GET", "/lookup", Route::Index),
            ("GET", "/static/:asset", Route::Static),
            ("GET", "/fonts/:asset", Route::Static),
            $($extra,)*
            ("GET", "/api/topics", Route::ApiTopics),
            ("GET", "/api/topics/:topic", Route::ApiTopic),
            ("GET", "/api/topics/:topic/:channel", Route::ApiChannel),
            ("GET", "/api/nodes", Route::ApiNodes),
            ("GET", "/api/nodes/:node", Route::ApiNode),
            ("POST", "/api/topics", Route::CreateTopicChannel),
            ("POST", "/api/topics/:topic", Route::TopicAction),
            ("POST", "/api/topics/:topic/:channel", Route::ChannelAction),
            ("DELETE", "/api/nodes/:node", Route::TombstoneNode),
            ("DELETE", "/api/topics/:topic", Route::DeleteTopic),
            ("DELETE", "/api/topics/:topic/:channel", Route::DeleteChannel),
            ("GET", "/api/counter", Route::ApiCounter),
            ("GET", "/api/graphite", Route::ApiGraphite),
            ("GET", "/config/:opt", Route::ConfigGet),
            ("PUT", "/config/:opt", Route::ConfigPut),
        ]
    };
}

/// The 26 method+path pairs.
pub static TABLE: RouteTable<Route> = RouteTable::new(routes!());
/// The same plus `GET /render` (with `--proxy-graphite`).
pub static TABLE_WITH_RENDER: RouteTable<Route> =
    RouteTable::new(routes!(("GET", "/render", Route::Render)));

/// Serves the UI and API on `listener` until shutdown.
pub async fn serve(admin: Arc<Admin>, listener: TcpListener) {
    let shutdown = admin.shutdown.clone();
    nsq_common::http::serve("HTTP", listener, router(admin), async move {
        shutdown.cancelled().await
    })
    .await;
}

pub fn router(admin: Arc<Admin>) -> axum::Router {
    axum::Router::new().fallback(entry).with_state(admin)
}

/// The request's path with the base path taken off, or None when it is outside it.
fn strip_base<'a>(path: &'a str, base: &str) -> Option<&'a str> {
    if base == "/" {
        return Some(path);
    }
    if path == base {
        return Some("/");
    }
    path.strip_prefix(base).filter(|rest| rest.starts_with('/'))
}

async fn entry(State(admin): State<Arc<Admin>>, req: Request) -> Response<Body> {
    let encoding = crate::compress::choose(req.headers());
    let remote = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    let opts = admin.opts();
    let base = opts.base_path.clone();
    let original = req.uri().path_and_query().map_or_else(
        || req.uri().path().to_string(),
        |pq| pq.as_str().to_string(),
    );

    let (mut parts, body) = req.into_parts();
    let Some(inner) = strip_base(parts.uri.path(), &base) else {
        tracing::info!("404 {} {} ({:?})", parts.method, original, remote);
        let resp = Reply::err(404, "NOT_FOUND").into_response();
        return crate::compress::apply(resp, encoding).await;
    };
    let inner = match parts.uri.query() {
        Some(q) => format!("{inner}?{q}"),
        None => inner.to_string(),
    };
    if let Ok(uri) = inner.parse::<Uri>() {
        parts.uri = uri;
    }
    let req = Request::from_parts(parts, body);
    let info = RequestInfo {
        remote,
        headers: req.headers().clone(),
        uri: original,
    };
    let table = if opts.proxy_graphite {
        &TABLE_WITH_RENDER
    } else {
        &TABLE
    };
    let mut resp = nsq_common::http::dispatch(
        table,
        req,
        |_| true,
        |route, api| async move { handle(&admin, route, api, &info).await },
    )
    .await;
    if base != "/" && matches!(resp.status().as_u16(), 301 | 307) {
        prefix_location(&mut resp, &base);
    }
    crate::compress::apply(resp, encoding).await
}

/// Router redirects are computed inside the base path; put it back in front.
fn prefix_location(resp: &mut Response<Body>, base: &str) {
    let Some(loc) = resp
        .headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
    else {
        return;
    };
    if let Ok(v) = HeaderValue::from_str(&format!("{base}{loc}")) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
}

/// The `n`th segment of the (decoded) path, e.g. the channel of `/api/topics/t/c`.
fn segment(path: &str, n: usize) -> String {
    path.split('/').nth(n).unwrap_or("").to_string()
}

async fn handle(admin: &Admin, route: Route, req: ApiRequest, info: &RequestInfo) -> Reply {
    let writes = matches!(
        route,
        Route::CreateTopicChannel
            | Route::TopicAction
            | Route::ChannelAction
            | Route::TombstoneNode
            | Route::DeleteTopic
            | Route::DeleteChannel
    );
    if writes && !admin.is_admin(&req.headers) {
        return Reply::err(403, "FORBIDDEN");
    }
    let path = req.path.as_str();
    let q = req.raw_query.as_str();
    let result = match route {
        Route::Ping => Ok(Reply::Plain(200, "OK".to_string())),
        Route::Index => Ok(index(admin, &req)),
        Route::Static => Ok(crate::static_files::serve(
            &segment(path, 2),
            &admin.opts().dev_static_dir,
        )),
        Route::Render => Ok(crate::graphite::proxy(admin, path, q).await),
        Route::ApiTopics => crate::api::topics(admin, q).await,
        Route::ApiTopic => crate::api::topic(admin, &segment(path, 3)).await,
        Route::ApiChannel => crate::api::channel(admin, &segment(path, 3), &segment(path, 4)).await,
        Route::ApiNodes => crate::api::nodes(admin).await,
        Route::ApiNode => crate::api::node(admin, &segment(path, 3)).await,
        Route::ApiCounter => crate::api::counter(admin).await,
        Route::ApiGraphite => Ok(crate::graphite::rate(admin, q).await),
        Route::CreateTopicChannel => crate::actions::create(admin, req.body, info).await,
        Route::TopicAction => {
            crate::actions::topic_channel_action(admin, &segment(path, 3), "", req.body, info).await
        }
        Route::ChannelAction => {
            let (t, c) = (segment(path, 3), segment(path, 4));
            crate::actions::topic_channel_action(admin, &t, &c, req.body, info).await
        }
        Route::TombstoneNode => {
            crate::actions::tombstone(admin, &segment(path, 3), req.body, info).await
        }
        Route::DeleteTopic => crate::actions::delete(admin, &segment(path, 3), "", info).await,
        Route::DeleteChannel => {
            let (t, c) = (segment(path, 3), segment(path, 4));
            crate::actions::delete(admin, &t, &c, info).await
        }
        Route::ConfigGet | Route::ConfigPut => config(admin, route, req, info).await,
    };
    result.unwrap_or_else(|r| r)
}

/// The UI page, as `text/html` without the NSQ header.
fn index(admin: &Admin, req: &ApiRequest) -> Reply {
    let page = crate::shell::render(&admin.opts(), admin.is_admin(&req.headers));
    let mut resp = Response::new(Body::from(page));
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
    Reply::Raw(Box::new(resp))
}

/// `GET` and `PUT /config/:opt`.
async fn config(
    admin: &Admin,
    route: Route,
    req: ApiRequest,
    info: &RequestInfo,
) -> Result<Reply, Reply> {
    crate::config_api::check_remote(&admin.opts(), info.remote)?;
    let opt = segment(&req.path, 2);
    if route == Route::ConfigPut {
        let Ok(body) = read_body(req.body, crate::config_api::READ_LIMIT).await else {
            return Err(Reply::err(500, "INTERNAL_ERROR"));
        };
        admin.update_opts(|o| crate::config_api::put(o, &opt, &body))?;
        if opt == "log_level" {
            nsq_common::logging::set_level(admin.opts().log_level);
        }
    }
    match crate::config_api::get(&admin.opts(), &opt) {
        Some(v) => Ok(v.into_reply()),
        None => Err(Reply::err(400, "INVALID_OPTION")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nsq_common::http::Resolved;

    #[test]
    fn route_tables() {
        assert_eq!(TABLE.len(), 26);
        assert_eq!(TABLE_WITH_RENDER.len(), 27);
        assert_eq!(TABLE.resolve("GET", "/render"), Resolved::NotFound);
        assert!(matches!(
            TABLE_WITH_RENDER.resolve("GET", "/render"),
            Resolved::Route(Route::Render, None)
        ));
        assert!(matches!(
            TABLE.resolve("GET", "/api/topics/t/c"),
            Resolved::Route(Route::ApiChannel, _)
        ));
        assert!(matches!(
            TABLE.resolve("GET", "/"),
            Resolved::Route(Route::Index, None)
        ));
        assert_eq!(
            TABLE.resolve("PATCH", "/api/topics"),
            Resolved::MethodNotAllowed("GET, OPTIONS, POST".into())
        );
        assert_eq!(
            TABLE.resolve("GET", "/api/nodes/"),
            Resolved::Redirect(301, "/api/nodes".into())
        );
    }

    #[test]
    fn base_path_stripping() {
        assert_eq!(strip_base("/x", "/"), Some("/x"));
        assert_eq!(strip_base("/admin", "/admin"), Some("/"));
        assert_eq!(strip_base("/admin/api/nodes", "/admin"), Some("/api/nodes"));
        assert_eq!(strip_base("/adminx", "/admin"), None);
        assert_eq!(strip_base("/api/nodes", "/admin"), None);
        assert_eq!(segment("/api/topics/t/c", 3), "t");
        assert_eq!(segment("/api/topics/t/c", 4), "c");
    }
}
