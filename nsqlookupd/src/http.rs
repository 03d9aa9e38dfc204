//! The HTTP API (§6.3): 12 API routes and the 9 Go profiler paths. The response shapes,
//! query parsing and router rules are shared with nsqd (`nsq_common::http`).

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::Response;
use nsq_common::http::reply::plain;
use nsq_common::http::{parse_query, ApiRequest, Query, Reply, RouteTable};
use nsq_protocol::json::push_json_string;
use nsq_protocol::names::{is_valid_channel_name, is_valid_topic_name};
use tokio::net::TcpListener;

use crate::lookupd::Lookupd;
use crate::registration_db::{now_nanos, Category, Producer, Registration};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    Ping,
    Info,
    Debug,
    Lookup,
    Topics,
    Channels,
    Nodes,
    TopicCreate,
    TopicDelete,
    ChannelCreate,
    ChannelDelete,
    TopicTombstone,
    PprofIndex,
    Pprof,
    /// Beyond NSQ: the Prometheus exposition (the Go nsqlookupd answers 404 here).
    Metrics,
}

/// The 21 method+path pairs of the Go nsqlookupd, plus `GET /metrics`. Unlike nsqd, the
/// profiler index has no trailing slash.
pub static TABLE: RouteTable<Route> = RouteTable::new(&[
    ("GET", "/ping", Route::Ping),
    ("GET", "/info", Route::Info),
    ("GET", "/debug", Route::Debug),
    ("GET", "/lookup", Route::Lookup),
    ("GET", "/topics", Route::Topics),
    ("GET", "/channels", Route::Channels),
    ("GET", "/nodes", Route::Nodes),
    ("POST", "/topic/create", Route::TopicCreate),
    ("POST", "/topic/delete", Route::TopicDelete),
    ("POST", "/channel/create", Route::ChannelCreate),
    ("POST", "/channel/delete", Route::ChannelDelete),
    ("POST", "/topic/tombstone", Route::TopicTombstone),
    ("GET", "/debug/pprof", Route::PprofIndex),
    ("GET", "/debug/pprof/cmdline", Route::Pprof),
    ("GET", "/debug/pprof/symbol", Route::Pprof),
    ("POST", "/debug/pprof/symbol", Route::Pprof),
    ("GET", "/debug/pprof/profile", Route::Pprof),
    ("GET", "/debug/pprof/heap", Route::Pprof),
    ("GET", "/debug/pprof/goroutine", Route::Pprof),
    ("GET", "/debug/pprof/block", Route::Pprof),
    ("GET", "/debug/pprof/threadcreate", Route::Pprof),
    ("GET", "/metrics", Route::Metrics),
]);

/// Go's zero `time.Time` as Unix nanoseconds: what `/debug` reports for a producer that was
/// never tombstoned (QRK-21, replicated).
pub const GO_ZERO_TIME_NANOS: i64 = -6795364578871345152;

const PPROF_INDEX: &str = "/debug/pprof\n\n\
    This nsqlookupd is written in Rust: the Go runtime profiles (heap, goroutine, block,\n\
    threadcreate, profile, symbol, cmdline) do not exist here and answer 404.\n\
    Profile the process with OS tools instead (for example perf or heaptrack).\n";

/// Serves the API on `listener` until shutdown.
pub async fn serve(lookupd: Arc<Lookupd>, listener: TcpListener) {
    let shutdown = lookupd.shutdown.clone();
    nsq_common::http::serve("HTTP", listener, router(lookupd), async move {
        shutdown.cancelled().await
    })
    .await;
}

pub fn router(lookupd: Arc<Lookupd>) -> axum::Router {
    axum::Router::new().fallback(dispatch).with_state(lookupd)
}

async fn dispatch(State(lookupd): State<Arc<Lookupd>>, req: Request) -> Response<Body> {
    nsq_common::http::dispatch(
        &TABLE,
        req,
        |route| !matches!(route, Route::PprofIndex | Route::Pprof),
        |route, req| async move { handle(&lookupd, route, &req) },
    )
    .await
}

fn handle(lookupd: &Lookupd, route: Route, req: &ApiRequest) -> Reply {
    let q = req.raw_query.as_str();
    let result = match route {
        Route::Ping => Ok(Reply::Plain(200, "OK".to_string())),
        Route::Info => Ok(Reply::Json(format!(
            "{{\"version\":\"{}\"}}",
            nsq_protocol::version::VERSION
        ))),
        Route::Debug => Ok(debug(lookupd)),
        Route::Lookup => lookup(lookupd, q),
        Route::Topics => Ok(topics(lookupd)),
        Route::Channels => channels(lookupd, q),
        Route::Nodes => Ok(nodes(lookupd)),
        Route::TopicCreate => topic_create(lookupd, q),
        Route::TopicDelete => topic_delete(lookupd, q),
        Route::ChannelCreate => channel_create(lookupd, q),
        Route::ChannelDelete => channel_delete(lookupd, q),
        Route::TopicTombstone => tombstone(lookupd, q),
        Route::PprofIndex => Ok(Reply::Raw(Box::new(plain(
            200,
            PPROF_INDEX.as_bytes().to_vec(),
        )))),
        // There is no Go runtime to profile.
        Route::Pprof => Ok(Reply::err(404, "NOT_FOUND")),
        Route::Metrics => Ok(Reply::Raw(Box::new(nsq_common::metrics::response(
            crate::metrics::render(lookupd),
        )))),
    };
    result.unwrap_or_else(|r| r)
}

/// A required parameter, as text. Names that are not UTF-8 cannot be registered, so a lossy
/// conversion only affects lookups that find nothing anyway.
fn param(query: &Query, key: &str, missing: &'static str) -> Result<String, Reply> {
    query
        .get(key)
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .ok_or_else(|| Reply::err(400, missing))
}

fn topic_param(raw_query: &str) -> Result<(Query, String), Reply> {
    let query = parse_query(raw_query)?;
    let topic = param(&query, "topic", "MISSING_ARG_TOPIC")?;
    Ok((query, topic))
}

/// `topic` and `channel`, both validated, with the `_ARG_` error names.
fn topic_channel_params(raw_query: &str) -> Result<(String, String), Reply> {
    let query = parse_query(raw_query)?;
    let topic = query
        .get("topic")
        .ok_or_else(|| Reply::err(400, "MISSING_ARG_TOPIC"))?;
    if !is_valid_topic_name(topic) {
        return Err(Reply::err(400, "INVALID_ARG_TOPIC"));
    }
    let channel = query
        .get("channel")
        .ok_or_else(|| Reply::err(400, "MISSING_ARG_CHANNEL"))?;
    if !is_valid_channel_name(channel) {
        return Err(Reply::err(400, "INVALID_ARG_CHANNEL"));
    }
    // Valid names are ASCII.
    Ok((
        String::from_utf8_lossy(topic).into_owned(),
        String::from_utf8_lossy(channel).into_owned(),
    ))
}

fn push_string_array<'a>(out: &mut String, items: impl IntoIterator<Item = &'a str>) {
    out.push('[');
    for (i, s) in items.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_json_string(out, s);
    }
    out.push(']');
}

/// The peer keys of `/lookup` and `/nodes`, in Go's struct order, without the closing brace.
fn push_peer(out: &mut String, p: &Producer) {
    let peer = &p.peer;
    out.push_str("{\"remote_address\":");
    push_json_string(out, &peer.remote_address);
    out.push_str(",\"hostname\":");
    push_json_string(out, &peer.hostname);
    out.push_str(",\"broadcast_address\":");
    push_json_string(out, &peer.broadcast_address);
    out.push_str(&format!(
        ",\"tcp_port\":{},\"http_port\":{},\"version\":",
        peer.tcp_port, peer.http_port
    ));
    push_json_string(out, &peer.version);
    out.push_str(",\"topology_zone\":");
    push_json_string(out, &peer.topology_zone);
    out.push_str(",\"topology_region\":");
    push_json_string(out, &peer.topology_region);
}

/// `GET /lookup?topic=` (L-031).
fn lookup(lookupd: &Lookupd, raw_query: &str) -> Result<Reply, Reply> {
    let (_, topic) = topic_param(raw_query)?;
    let opts = &lookupd.opts;
    let db = lookupd.db.read();
    if db
        .find_registrations(Category::Topic, &topic, "")
        .is_empty()
    {
        return Err(Reply::err(404, "TOPIC_NOT_FOUND"));
    }
    let channels = db.find_registrations(Category::Channel, &topic, "*");
    let now = now_nanos();
    let producers: Vec<Producer> = db
        .find_producers(Category::Topic, &topic, "")
        .into_iter()
        .filter(|p| p.is_active(opts.inactive_producer_timeout, opts.tombstone_lifetime, now))
        .collect();
    drop(db);
    let mut out = String::with_capacity(64 + 256 * producers.len());
    out.push_str("{\"channels\":");
    push_string_array(&mut out, channels.iter().map(|r| r.subkey.as_str()));
    out.push_str(",\"producers\":[");
    for (i, p) in producers.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_peer(&mut out, p);
        out.push('}');
    }
    out.push_str("]}");
    Ok(Reply::Json(out))
}

/// `GET /topics` (L-032).
fn topics(lookupd: &Lookupd) -> Reply {
    let regs = lookupd
        .db
        .read()
        .find_registrations(Category::Topic, "*", "");
    let mut out = String::from("{\"topics\":");
    push_string_array(&mut out, regs.iter().map(|r| r.key.as_str()));
    out.push('}');
    Reply::Json(out)
}

/// `GET /channels?topic=` (L-033). The topic is not validated.
fn channels(lookupd: &Lookupd, raw_query: &str) -> Result<Reply, Reply> {
    let (_, topic) = topic_param(raw_query)?;
    let regs = lookupd
        .db
        .read()
        .find_registrations(Category::Channel, &topic, "*");
    let mut out = String::from("{\"channels\":");
    push_string_array(&mut out, regs.iter().map(|r| r.subkey.as_str()));
    out.push('}');
    Ok(Reply::Json(out))
}

/// `GET /nodes` (L-034): identified nodes heard from lately, tombstoned or not, with their
/// topics and whether each is tombstoned.
fn nodes(lookupd: &Lookupd) -> Reply {
    let opts = &lookupd.opts;
    let now = now_nanos();
    let db = lookupd.db.read();
    let producers: Vec<Producer> = db
        .find_producers(Category::Client, "", "")
        .into_iter()
        .filter(|p| {
            p.is_active(
                opts.inactive_producer_timeout,
                std::time::Duration::ZERO,
                now,
            )
        })
        .collect();
    let mut out = String::from("{\"producers\":[");
    for (i, p) in producers.iter().enumerate() {
        let topics: Vec<Registration> = db
            .lookup_registrations(&p.peer.id)
            .into_iter()
            .filter(|r| r.category == Category::Topic)
            .collect();
        let tombstones: Vec<bool> = topics
            .iter()
            .map(|r| {
                db.find_producers(Category::Topic, &r.key, "")
                    .iter()
                    .any(|tp| {
                        tp.peer.id == p.peer.id && tp.is_tombstoned(opts.tombstone_lifetime, now)
                    })
            })
            .collect();
        if i > 0 {
            out.push(',');
        }
        push_peer(&mut out, p);
        out.push_str(",\"tombstones\":[");
        let flags: Vec<&str> = tombstones
            .iter()
            .map(|&t| if t { "true" } else { "false" })
            .collect();
        out.push_str(&flags.join(","));
        out.push_str("],\"topics\":");
        push_string_array(&mut out, topics.iter().map(|r| r.key.as_str()));
        out.push('}');
    }
    out.push_str("]}");
    Reply::Json(out)
}

/// `POST /topic/create?topic=` (L-035).
fn topic_create(lookupd: &Lookupd, raw_query: &str) -> Result<Reply, Reply> {
    let query = parse_query(raw_query)?;
    let topic = query
        .get("topic")
        .ok_or_else(|| Reply::err(400, "MISSING_ARG_TOPIC"))?;
    if !is_valid_topic_name(topic) {
        return Err(Reply::err(400, "INVALID_ARG_TOPIC"));
    }
    let topic = String::from_utf8_lossy(topic);
    tracing::info!("DB: adding topic({})", topic);
    lookupd
        .db
        .write()
        .add_registration(Registration::topic(&topic));
    Ok(Reply::Empty)
}

/// `POST /topic/delete?topic=` (L-035): always 200.
fn topic_delete(lookupd: &Lookupd, raw_query: &str) -> Result<Reply, Reply> {
    let (_, topic) = topic_param(raw_query)?;
    let mut db = lookupd.db.write();
    for r in db.find_registrations(Category::Channel, &topic, "*") {
        tracing::info!("DB: removing channel({}) from topic({})", r.subkey, topic);
        db.remove_registration(&r);
    }
    for r in db.find_registrations(Category::Topic, &topic, "") {
        tracing::info!("DB: removing topic({})", topic);
        db.remove_registration(&r);
    }
    Ok(Reply::Empty)
}

/// `POST /channel/create?topic=&channel=` (L-035).
fn channel_create(lookupd: &Lookupd, raw_query: &str) -> Result<Reply, Reply> {
    let (topic, channel) = topic_channel_params(raw_query)?;
    let mut db = lookupd.db.write();
    tracing::info!("DB: adding channel({}) in topic({})", channel, topic);
    db.add_registration(Registration::channel(&topic, &channel));
    tracing::info!("DB: adding topic({})", topic);
    db.add_registration(Registration::topic(&topic));
    Ok(Reply::Empty)
}

/// `POST /channel/delete?topic=&channel=` (L-035).
fn channel_delete(lookupd: &Lookupd, raw_query: &str) -> Result<Reply, Reply> {
    let (topic, channel) = topic_channel_params(raw_query)?;
    let mut db = lookupd.db.write();
    let regs = db.find_registrations(Category::Channel, &topic, &channel);
    if regs.is_empty() {
        return Err(Reply::err(404, "CHANNEL_NOT_FOUND"));
    }
    tracing::info!("DB: removing channel({}) from topic({})", channel, topic);
    for r in regs {
        db.remove_registration(&r);
    }
    Ok(Reply::Empty)
}

/// `POST /topic/tombstone?topic=&node=` (L-036): 200 even when nothing matches.
fn tombstone(lookupd: &Lookupd, raw_query: &str) -> Result<Reply, Reply> {
    let (query, topic) = topic_param(raw_query)?;
    let node = param(&query, "node", "MISSING_ARG_NODE")?;
    tracing::info!(
        "DB: setting tombstone for producer@{} of topic({})",
        node,
        topic
    );
    lookupd.db.write().tombstone(&topic, &node, now_nanos());
    Ok(Reply::Empty)
}

/// `GET /debug` (L-037): every registration that has producers, keyed
/// `category:key:subkey`, with each producer's keys sorted as Go's map encoding sorts them.
fn debug(lookupd: &Lookupd) -> Reply {
    let db = lookupd.db.read();
    let mut entries: Vec<(String, String)> = Vec::new();
    for (r, producers) in db.iter() {
        let mut items = Vec::new();
        for p in producers {
            let peer = &p.peer;
            let mut o = String::with_capacity(320);
            o.push_str("{\"broadcast_address\":");
            push_json_string(&mut o, &peer.broadcast_address);
            o.push_str(",\"hostname\":");
            push_json_string(&mut o, &peer.hostname);
            o.push_str(&format!(",\"http_port\":{},\"id\":", peer.http_port));
            push_json_string(&mut o, &peer.id);
            o.push_str(&format!(
                ",\"last_update\":{},\"tcp_port\":{},\"tombstoned\":{},\"tombstoned_at\":{}",
                peer.last_update(),
                peer.tcp_port,
                p.tombstoned_at.is_some(),
                p.tombstoned_at.unwrap_or(GO_ZERO_TIME_NANOS)
            ));
            o.push_str(",\"topology_region\":");
            push_json_string(&mut o, &peer.topology_region);
            o.push_str(",\"topology_zone\":");
            push_json_string(&mut o, &peer.topology_zone);
            o.push_str(",\"version\":");
            push_json_string(&mut o, &peer.version);
            o.push('}');
            items.push(o);
        }
        if !items.is_empty() {
            let key = format!("{}:{}:{}", r.category.as_str(), r.key, r.subkey);
            entries.push((key, format!("[{}]", items.join(","))));
        }
    }
    drop(db);
    entries.sort();
    let mut out = String::from("{");
    for (i, (k, v)) in entries.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_json_string(&mut out, k);
        out.push(':');
        out.push_str(v);
    }
    out.push('}');
    Reply::Json(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use nsq_common::http::Resolved;

    #[test]
    fn twenty_one_routes() {
        // Go's 21 plus /metrics.
        assert_eq!(TABLE.len(), 22);
        assert_eq!(
            TABLE.resolve("GET", "/debug/pprof/"),
            Resolved::Redirect(301, "/debug/pprof".into())
        );
        assert_eq!(
            TABLE.resolve("GET", "/lookup"),
            Resolved::Route(Route::Lookup, None)
        );
        assert_eq!(
            TABLE.resolve("GET", "/topic/create"),
            Resolved::MethodNotAllowed("OPTIONS, POST".into())
        );
        assert_eq!(TABLE.resolve("GET", "/delete_topic"), Resolved::NotFound);
    }
}
