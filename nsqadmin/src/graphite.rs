//! Graphite (A-030, §7.2 `/render`): the rate lookup behind `/api/graphite`, and the
//! same-origin `/render` proxy used with `--proxy-graphite`.

use axum::body::Body;
use axum::http::{header, HeaderValue, Response, StatusCode};
use nsq_common::http::{Query, Reply};
use serde::Deserialize;

use crate::admin::Admin;

#[derive(Deserialize)]
struct Series {
    #[serde(default)]
    datapoints: Vec<Vec<Option<f64>>>,
}

/// `GET /api/graphite?metric=rate&target=…`: the last complete interval's rate per second.
pub async fn rate(admin: &Admin, raw_query: &str) -> Reply {
    let Ok(query) = Query::parse(raw_query) else {
        return Reply::err(400, "INVALID_REQUEST");
    };
    if query.get("metric") != Some(b"rate".as_slice()) {
        return Reply::err(400, "INVALID_ARG_METRIC");
    }
    let Some(target) = query.get("target") else {
        return Reply::err(400, "INVALID_ARG_TARGET");
    };
    let target = String::from_utf8_lossy(target).into_owned();
    let opts = admin.opts();
    let interval = opts.statsd_interval.as_secs();
    let from = format!("-{}sec", interval * 2);
    let until = format!("-{interval}sec");
    // Go's url.Values.Encode sorts the keys.
    let mut url = format!("{}/render?", opts.graphite_url);
    if let Ok(mut u) = reqwest::Url::parse("http://x/") {
        u.query_pairs_mut()
            .append_pair("format", "json")
            .append_pair("from", &from)
            .append_pair("target", &target)
            .append_pair("until", &until);
        url.push_str(u.query().unwrap_or(""));
    }
    tracing::info!("GRAPHITE: {}", url);
    let series: Vec<Series> = match admin.upstream.get_json(&url).await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("graphite request failed - {}", e);
            return Reply::err(500, "INTERNAL_ERROR");
        }
    };
    let first = series
        .first()
        .and_then(|s| s.datapoints.first())
        .and_then(|p| p.first().copied().flatten());
    let Some(value) = first else {
        tracing::error!("graphite request failed - no datapoint in the answer");
        return Reply::err(500, "INTERNAL_ERROR");
    };
    let rate = if value < 0.0 {
        "N/A".to_string()
    } else {
        format!("{:.2}", value / interval.max(1) as f64)
    };
    let mut body = String::from("{\"rate\":");
    nsq_protocol::json::push_json_string(&mut body, &rate);
    body.push('}');
    Reply::Json(body)
}

/// `GET /render`: the same request sent to the graphite server, with the basic-auth
/// credentials of `--graphite-url`.
pub async fn proxy(admin: &Admin, path: &str, raw_query: &str) -> Reply {
    let opts = admin.opts();
    let Ok(base) = reqwest::Url::parse(&opts.graphite_url) else {
        return Reply::Plain(502, "Bad Gateway".to_string());
    };
    let mut url = base.clone();
    url.set_path(path);
    url.set_query((!raw_query.is_empty()).then_some(raw_query));
    let _ = url.set_username("");
    let _ = url.set_password(None);
    let mut req = admin.upstream.raw().get(url);
    if !base.username().is_empty() {
        req = req.basic_auth(base.username(), base.password());
    }
    let resp = match req.send().await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!("graphite proxy error - {}", e);
            return Reply::Plain(502, String::new());
        }
    };
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = match resp.bytes().await {
        Ok(b) => b,
        Err(e) => {
            tracing::error!("graphite proxy error - {}", e);
            return Reply::Plain(502, String::new());
        }
    };
    let mut out = Response::new(Body::from(body));
    *out.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
    // The answer's own headers, except those about the connection and the body's framing.
    for (name, value) in &headers {
        let skip = matches!(
            name.as_str(),
            "connection" | "keep-alive" | "transfer-encoding" | "content-length" | "upgrade"
        );
        if skip {
            continue;
        }
        if let (Ok(n), Ok(v)) = (
            header::HeaderName::from_bytes(name.as_str().as_bytes()),
            HeaderValue::from_bytes(value.as_bytes()),
        ) {
            out.headers_mut().append(n, v);
        }
    }
    Reply::Raw(Box::new(out))
}
