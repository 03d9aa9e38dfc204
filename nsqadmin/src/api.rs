//! The read API (A-005, A-010..A-015): cluster views as V1 JSON, each with `message`.

use std::collections::BTreeMap;

use nsq_common::http::{Query, Reply};
use serde_json::{json, Map, Value};

use crate::admin::Admin;
use crate::cluster_info::Partial;
use crate::types::{Producer, TopicStats};

/// `""`, or `WARNING: ` and the upstream failures joined with `; `.
pub fn warn_msg(msgs: &[String]) -> String {
    if msgs.is_empty() {
        String::new()
    } else {
        format!("WARNING: {}", msgs.join("; "))
    }
}

/// Takes a partial answer: the value, with its failures added to `messages` (and logged as
/// a warning); a total failure is the 502 `UPSTREAM_ERROR` reply.
pub fn take<T>(r: Partial<T>, what: &str, messages: &mut Vec<String>) -> Result<T, Reply> {
    match r {
        Ok((v, errs)) => {
            if !errs.is_empty() {
                let text = errs.join("; ");
                tracing::warn!("{}", text);
                messages.push(text);
            }
            Ok(v)
        }
        Err(e) => {
            tracing::error!("failed to {} - {}", what, e);
            Err(Reply::err(502, format!("UPSTREAM_ERROR: {e}")))
        }
    }
}

fn to_value<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// `v` (an object, or nothing) with `message` appended.
fn with_message(v: Option<Value>, messages: &[String]) -> Reply {
    let mut map = match v {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    };
    map.insert("message".into(), Value::String(warn_msg(messages)));
    Reply::Json(Value::Object(map).to_string())
}

/// The producers of `topic` per the configured lookupds (or nsqds).
async fn topic_producers(
    admin: &Admin,
    topic: &str,
    messages: &mut Vec<String>,
) -> Result<Vec<Producer>, Reply> {
    let opts = admin.opts();
    let r = admin
        .ci
        .topic_producers(
            topic,
            &opts.nsqlookupd_http_addresses,
            &opts.nsqd_http_addresses,
        )
        .await;
    take(r, "get topic producers", messages)
}

/// Every producer per the configured lookupds (or nsqds); `what` names the query in the log.
async fn producers(
    admin: &Admin,
    what: &str,
    messages: &mut Vec<String>,
) -> Result<Vec<Producer>, Reply> {
    let opts = admin.opts();
    let r = admin
        .ci
        .producers(&opts.nsqlookupd_http_addresses, &opts.nsqd_http_addresses)
        .await;
    take(r, what, messages)
}

/// `GET /api/topics[?inactive=true]`.
pub async fn topics(admin: &Admin, raw_query: &str) -> Result<Reply, Reply> {
    let Ok(query) = Query::parse(raw_query) else {
        return Err(Reply::err(400, "INVALID_REQUEST"));
    };
    let opts = admin.opts();
    let lookupds = &opts.nsqlookupd_http_addresses;
    let mut messages = Vec::new();
    let topics = take(
        admin.ci.topics(lookupds, &opts.nsqd_http_addresses).await,
        "get topics",
        &mut messages,
    )?;
    if query.get("inactive") == Some(b"true".as_slice()) {
        let inactive = if lookupds.is_empty() {
            BTreeMap::new()
        } else {
            admin.ci.inactive_topics(&topics, lookupds).await
        };
        let body = json!({"topics": inactive, "message": warn_msg(&messages)});
        return Ok(Reply::Json(body.to_string()));
    }
    let body = json!({"topics": topics, "message": warn_msg(&messages)});
    Ok(Reply::Json(body.to_string()))
}

/// `GET /api/topics/:topic`.
pub async fn topic(admin: &Admin, topic: &str) -> Result<Reply, Reply> {
    let mut messages = Vec::new();
    let producers = topic_producers(admin, topic, &mut messages).await?;
    let (nodes, _) = take(
        admin.ci.nsqd_stats(&producers, topic, "", false).await,
        "get topic metadata",
        &mut messages,
    )?;
    let mut total = TopicStats::aggregate(topic);
    for t in &nodes {
        total.add(t);
    }
    Ok(with_message(Some(to_value(&total)), &messages))
}

/// `GET /api/topics/:topic/:channel`.
pub async fn channel(admin: &Admin, topic: &str, channel: &str) -> Result<Reply, Reply> {
    let mut messages = Vec::new();
    let producers = topic_producers(admin, topic, &mut messages).await?;
    let (_, channels) = take(
        admin.ci.nsqd_stats(&producers, topic, channel, true).await,
        "get channel metadata",
        &mut messages,
    )?;
    let stats = channels.get(channel).map(to_value);
    Ok(with_message(stats, &messages))
}

/// `GET /api/nodes`.
pub async fn nodes(admin: &Admin) -> Result<Reply, Reply> {
    let mut messages = Vec::new();
    let producers = producers(admin, "get nodes", &mut messages).await?;
    let body = json!({"nodes": producers, "message": warn_msg(&messages)});
    Ok(Reply::Json(body.to_string()))
}

/// `GET /api/nodes/:node`.
pub async fn node(admin: &Admin, node: &str) -> Result<Reply, Reply> {
    let mut messages = Vec::new();
    let producers = producers(admin, "get producers", &mut messages).await?;
    let Some(producer) = producers.into_iter().find(|p| p.http_address() == node) else {
        return Err(Reply::err(404, "NODE_NOT_FOUND"));
    };
    let (topics, _) = match admin.ci.nsqd_stats(&[producer], "", "", true).await {
        Ok((v, _)) => v,
        Err(e) => {
            tracing::error!("failed to get nsqd stats - {}", e);
            return Err(Reply::err(502, format!("UPSTREAM_ERROR: {e}")));
        }
    };
    let total_clients: usize = topics
        .iter()
        .flat_map(|t| t.channels.iter().flatten())
        .map(|c| c.clients.as_ref().map_or(0, Vec::len))
        .sum();
    let total_messages: i64 = topics.iter().map(|t| t.message_count).sum();
    let body = json!({
        "node": node,
        "topics": topics,
        "total_messages": total_messages,
        "total_clients": total_clients,
        "message": warn_msg(&messages),
    });
    Ok(Reply::Json(body.to_string()))
}

/// `GET /api/counter`: every channel's message count per node.
pub async fn counter(admin: &Admin) -> Result<Reply, Reply> {
    let mut messages = Vec::new();
    let producers = producers(admin, "get counter producer list", &mut messages).await?;
    let (_, channels) = take(
        admin.ci.nsqd_stats(&producers, "", "", false).await,
        "get nsqd stats",
        &mut messages,
    )?;
    let mut stats: BTreeMap<String, Value> = BTreeMap::new();
    for total in channels.values() {
        for node in total.nodes.iter().flatten() {
            let key = format!("{}:{}:{}", total.topic_name, total.channel_name, node.node);
            let entry = stats.entry(key).or_insert_with(|| {
                json!({
                    "node": node.node,
                    "topic_name": total.topic_name,
                    "channel_name": total.channel_name,
                    "message_count": 0,
                })
            });
            let count = entry["message_count"].as_i64().unwrap_or(0) + node.message_count;
            entry["message_count"] = json!(count);
        }
    }
    let body = json!({"stats": stats, "message": warn_msg(&messages)});
    Ok(Reply::Json(body.to_string()))
}
