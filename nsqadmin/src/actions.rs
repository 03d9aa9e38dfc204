//! The write API (A-019..A-024): create, pause, unpause, empty, delete and tombstone, each
//! done on every lookupd and nsqd concerned, then notified.

use axum::body::Body;
use nsq_common::http::{read_body, Reply};
use nsq_protocol::names::{is_valid_channel_name, is_valid_topic_name};
use serde::Deserialize;

use crate::admin::Admin;
use crate::api::{take, warn_msg};
use crate::notify::RequestInfo;

/// Admin bodies are small JSON objects; anything past this is not read.
const BODY_LIMIT: usize = 1024 * 1024;

fn message_reply(messages: &[String]) -> Reply {
    let mut out = String::from("{\"message\":");
    nsq_protocol::json::push_json_string(&mut out, &warn_msg(messages));
    out.push('}');
    Reply::Json(out)
}

/// Reads and decodes a JSON body; the error is the decoder's text.
async fn json_body<T: for<'de> Deserialize<'de>>(body: Body) -> Result<T, String> {
    let data = read_body(body, BODY_LIMIT)
        .await
        .map_err(|e| e.to_string())?;
    if data.iter().all(u8::is_ascii_whitespace) {
        return Err("EOF".to_string());
    }
    // Go's decoder reads one value and ignores what follows; serde's stream reader does too.
    let mut stream = serde_json::Deserializer::from_slice(&data).into_iter::<T>();
    match stream.next() {
        Some(Ok(v)) => Ok(v),
        Some(Err(e)) => Err(e.to_string()),
        None => Err("EOF".to_string()),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct CreateBody {
    topic: String,
    channel: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ActionBody {
    action: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct TombstoneBody {
    topic: String,
}

/// `POST /api/topics`.
pub async fn create(admin: &Admin, body: Body, req: &RequestInfo) -> Result<Reply, Reply> {
    let b: CreateBody = json_body(body).await.map_err(|e| Reply::err(400, e))?;
    if !is_valid_topic_name(b.topic.as_bytes()) {
        return Err(Reply::err(400, "INVALID_TOPIC"));
    }
    if !b.channel.is_empty() && !is_valid_channel_name(b.channel.as_bytes()) {
        return Err(Reply::err(400, "INVALID_CHANNEL"));
    }
    let opts = admin.opts();
    let mut messages = Vec::new();
    take(
        admin
            .ci
            .create_topic_channel(&b.topic, &b.channel, &opts.nsqlookupd_http_addresses)
            .await,
        "create topic/channel",
        &mut messages,
    )?;
    admin.notify("create_topic", &b.topic, "", "", req);
    if !b.channel.is_empty() {
        admin.notify("create_channel", &b.topic, &b.channel, "", req);
    }
    Ok(message_reply(&messages))
}

/// `POST /api/topics/:topic[/:channel]`.
pub async fn topic_channel_action(
    admin: &Admin,
    topic: &str,
    channel: &str,
    body: Body,
    req: &RequestInfo,
) -> Result<Reply, Reply> {
    let b: ActionBody = json_body(body).await.map_err(|e| Reply::err(400, e))?;
    let action = b.action.as_str();
    if !matches!(action, "pause" | "unpause" | "empty") {
        return Err(Reply::err(400, "INVALID_ACTION"));
    }
    let opts = admin.opts();
    let result = admin
        .ci
        .producer_action(
            action,
            topic,
            channel,
            &opts.nsqlookupd_http_addresses,
            &opts.nsqd_http_addresses,
        )
        .await;
    let (name, on) = if channel.is_empty() {
        (format!("{action}_topic"), "")
    } else {
        (format!("{action}_channel"), channel)
    };
    admin.notify(&name, topic, on, "", req);
    let mut messages = Vec::new();
    take(result, &format!("{action} topic/channel"), &mut messages)?;
    Ok(message_reply(&messages))
}

/// `DELETE /api/nodes/:node`.
pub async fn tombstone(
    admin: &Admin,
    node: &str,
    body: Body,
    req: &RequestInfo,
) -> Result<Reply, Reply> {
    let b: TombstoneBody = json_body(body)
        .await
        .map_err(|_| Reply::err(400, "INVALID_BODY"))?;
    if !is_valid_topic_name(b.topic.as_bytes()) {
        return Err(Reply::err(400, "INVALID_TOPIC"));
    }
    let opts = admin.opts();
    let mut messages = Vec::new();
    take(
        admin
            .ci
            .tombstone_node_for_topic(&b.topic, node, &opts.nsqlookupd_http_addresses)
            .await,
        "tombstone node for topic",
        &mut messages,
    )?;
    admin.notify("tombstone_topic_producer", &b.topic, "", node, req);
    Ok(message_reply(&messages))
}

/// `DELETE /api/topics/:topic[/:channel]`.
pub async fn delete(
    admin: &Admin,
    topic: &str,
    channel: &str,
    req: &RequestInfo,
) -> Result<Reply, Reply> {
    let opts = admin.opts();
    let mut messages = Vec::new();
    let what = if channel.is_empty() {
        "delete topic"
    } else {
        "delete channel"
    };
    take(
        admin
            .ci
            .delete(
                topic,
                channel,
                &opts.nsqlookupd_http_addresses,
                &opts.nsqd_http_addresses,
            )
            .await,
        what,
        &mut messages,
    )?;
    if channel.is_empty() {
        admin.notify("delete_topic", topic, "", "", req);
    } else {
        admin.notify("delete_channel", topic, channel, "", req);
    }
    Ok(message_reply(&messages))
}
