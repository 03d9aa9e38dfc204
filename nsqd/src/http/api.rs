//! The API handlers of §2.3 and §2.6, each checking its inputs in the reference's order (the
//! order decides which error a request with several problems gets).

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::HeaderMap;
use bytes::Bytes;
use nsq_common::http::{content_length, parse_bool_param, parse_query, read_body, Query, Reply};
use nsq_protocol::names::{is_valid_channel_name, is_valid_topic_name};

use crate::nsqd::Nsqd;
use crate::topic::Topic;

fn limit_plus_one(max: i64) -> usize {
    usize::try_from(max.max(0))
        .unwrap_or(usize::MAX)
        .saturating_add(1)
}

/// `/ping` (H-020), PlainText.
pub fn ping(nsqd: &Nsqd) -> Reply {
    let health = nsqd.health.status();
    let status = if nsqd.health.is_healthy() { 200 } else { 500 };
    Reply::Plain(status, health)
}

/// `/info` (H-021).
pub fn info(nsqd: &Nsqd) -> Reply {
    let opts = nsqd.options();
    // H-021: −1 for a unix socket, 0 for a disabled listener.
    let port = |unix: bool, a: Option<&std::net::SocketAddr>| {
        if unix {
            -1
        } else {
            a.map_or(0, |a| i64::from(a.port()))
        }
    };
    let mut out = String::with_capacity(320);
    out.push_str("{\"version\":");
    push_str(&mut out, nsq_protocol::version::VERSION);
    out.push_str(",\"broadcast_address\":");
    push_str(&mut out, &opts.broadcast_address);
    out.push_str(",\"hostname\":");
    push_str(&mut out, &crate::options::os_hostname());
    out.push_str(&format!(
        ",\"http_port\":{},\"tcp_port\":{},\"start_time\":{},\"max_heartbeat_interval\":{},\
         \"max_output_buffer_size\":{},\"max_output_buffer_timeout\":{},\"max_deflate_level\":{}",
        port(nsqd.http_unix.get().is_some(), nsqd.http_addr.get()),
        port(nsqd.tcp_unix.get().is_some(), nsqd.tcp_addr.get()),
        nsqd.start_time,
        opts.max_heartbeat_interval.as_nanos(),
        opts.max_output_buffer_size,
        opts.max_output_buffer_timeout.as_nanos(),
        opts.max_deflate_level,
    ));
    out.push_str(",\"topology_zone\":");
    push_str(&mut out, &opts.topology_zone);
    out.push_str(",\"topology_region\":");
    push_str(&mut out, &opts.topology_region);
    out.push('}');
    Reply::Json(out)
}

fn push_str(out: &mut String, s: &str) {
    nsq_protocol::json::push_json_string(out, s);
}

/// The topic of `/pub`, `/mpub` and `/topic/create`: parse, require, validate, then get or
/// create it (QRK-03: before any later check).
fn topic_from_query(nsqd: &Arc<Nsqd>, raw_query: &str) -> Result<(Query, Arc<Topic>), Reply> {
    let query = parse_query(raw_query)?;
    let name = query
        .get("topic")
        .ok_or_else(|| Reply::err(400, "MISSING_ARG_TOPIC"))?;
    if !is_valid_topic_name(name) {
        return Err(Reply::err(400, "INVALID_TOPIC"));
    }
    // A valid name is ASCII, so this cannot fail.
    let name = std::str::from_utf8(name).map_err(|_| Reply::err(400, "INVALID_TOPIC"))?;
    let topic = nsqd.get_or_create_topic(name);
    Ok((query, topic))
}

/// `POST /pub` (H-022).
pub async fn publish(nsqd: &Arc<Nsqd>, raw_query: &str, headers: &HeaderMap, body: Body) -> Reply {
    let opts = nsqd.options();
    if content_length(headers) > opts.max_msg_size {
        return Reply::err(413, "MSG_TOO_BIG");
    }
    let read_max = limit_plus_one(opts.max_msg_size);
    let Ok(data) = read_body(body, read_max).await else {
        return Reply::err(500, "INTERNAL_ERROR");
    };
    if data.len() == read_max {
        return Reply::err(413, "MSG_TOO_BIG");
    }
    if data.is_empty() {
        return Reply::err(400, "MSG_EMPTY");
    }
    let (query, topic) = match topic_from_query(nsqd, raw_query) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let mut defer = Duration::ZERO;
    if let Some(v) = query.get("defer") {
        let ms = std::str::from_utf8(v).ok().and_then(parse_go_int);
        match ms.and_then(|ms| u64::try_from(ms).ok()) {
            Some(ms) if Duration::from_millis(ms) <= opts.max_req_timeout => {
                defer = Duration::from_millis(ms);
            }
            _ => return Reply::err(400, "INVALID_DEFER"),
        }
    }
    match topic.put_synced(&[data], defer).await {
        Ok(()) => Reply::Text("OK".to_string()),
        Err(_) => Reply::err(503, "EXITING"),
    }
}

/// Go's `strconv.ParseInt(s, 10, 64)`: optional sign, decimal digits, no spaces.
fn parse_go_int(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// `POST /mpub` (H-023).
pub async fn mpub(nsqd: &Arc<Nsqd>, raw_query: &str, headers: &HeaderMap, body: Body) -> Reply {
    let opts = nsqd.options();
    if content_length(headers) > opts.max_body_size {
        return Reply::err(413, "BODY_TOO_BIG");
    }
    let (query, topic) = match topic_from_query(nsqd, raw_query) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let binary = match query.get("binary") {
        None => false,
        Some(v) => parse_bool_param(v).unwrap_or_else(|| {
            tracing::warn!(
                "deprecated value '{}' used for /mpub binary param",
                String::from_utf8_lossy(v)
            );
            true
        }),
    };
    let bodies = if binary {
        // The payload can hold at most max-body-size bytes of messages; a read error just
        // cuts it short, and the parser names where it ended.
        let limit = usize::try_from(opts.max_body_size.max(0)).unwrap_or(usize::MAX);
        let data = read_body(body, limit).await.unwrap_or_default();
        match nsq_protocol::command::parse_mpub_payload(
            &data,
            opts.max_msg_size,
            opts.max_body_size,
        ) {
            Ok(b) => b,
            Err(e) => {
                let code = e.code.as_str();
                return Reply::err(413, code.strip_prefix("E_").unwrap_or(code));
            }
        }
    } else {
        let read_max = limit_plus_one(opts.max_body_size);
        let Ok(data) = read_body(body, read_max).await else {
            return Reply::err(500, "INTERNAL_ERROR");
        };
        match split_lines(&data, read_max, opts.max_msg_size) {
            Ok(b) => b,
            Err(r) => return r,
        }
    };
    match topic.put_synced(&bodies, Duration::ZERO).await {
        Ok(()) => Reply::Text("OK".to_string()),
        Err(_) => Reply::err(503, "EXITING"),
    }
}

/// Text-mode `/mpub`: one message per `\n`-terminated line, empty lines skipped. Checks run
/// line by line as the reference's reader does, so a long line before the end of an
/// over-long body reports `MSG_TOO_BIG`.
fn split_lines(data: &Bytes, read_max: usize, max_msg_size: i64) -> Result<Vec<Bytes>, Reply> {
    let mut bodies = Vec::new();
    let mut total = 0;
    let mut start = 0;
    while start < data.len() {
        let end = memchr_newline(&data[start..]).map_or(data.len(), |i| start + i + 1);
        total += end - start;
        if total == read_max {
            return Err(Reply::err(413, "BODY_TOO_BIG"));
        }
        let line_end = if data[end - 1] == b'\n' { end - 1 } else { end };
        let line = data.slice(start..line_end);
        start = end;
        if line.is_empty() {
            continue;
        }
        if line.len() as u64 > max_msg_size.max(0) as u64 {
            return Err(Reply::err(413, "MSG_TOO_BIG"));
        }
        bodies.push(line);
    }
    Ok(bodies)
}

fn memchr_newline(s: &[u8]) -> Option<usize> {
    s.iter().position(|&b| b == b'\n')
}

/// `POST /topic/create` (H-024).
pub fn topic_create(nsqd: &Arc<Nsqd>, raw_query: &str) -> Reply {
    match topic_from_query(nsqd, raw_query) {
        Ok(_) => Reply::Empty,
        Err(r) => r,
    }
}

/// The `topic` parameter of delete/empty/pause, which only need it present.
fn topic_param(raw_query: &str) -> Result<Vec<u8>, Reply> {
    let query = parse_query(raw_query)?;
    query
        .get("topic")
        .map(<[u8]>::to_vec)
        .ok_or_else(|| Reply::err(400, "MISSING_ARG_TOPIC"))
}

fn existing_topic(nsqd: &Nsqd, name: &[u8]) -> Result<Arc<Topic>, Reply> {
    std::str::from_utf8(name)
        .ok()
        .and_then(|n| nsqd.get_topic(n))
        .ok_or_else(|| Reply::err(404, "TOPIC_NOT_FOUND"))
}

/// `POST /topic/delete` (H-025): the name is not validated.
pub fn topic_delete(nsqd: &Nsqd, raw_query: &str) -> Reply {
    let name = match topic_param(raw_query) {
        Ok(n) => n,
        Err(r) => return r,
    };
    let deleted = std::str::from_utf8(&name).is_ok_and(|n| nsqd.delete_topic(n));
    if deleted {
        Reply::Empty
    } else {
        Reply::err(404, "TOPIC_NOT_FOUND")
    }
}

/// `POST /topic/empty` (H-026).
pub fn topic_empty(nsqd: &Nsqd, raw_query: &str) -> Reply {
    let result = topic_param(raw_query).and_then(|name| {
        if !is_valid_topic_name(&name) {
            return Err(Reply::err(400, "INVALID_TOPIC"));
        }
        existing_topic(nsqd, &name)
    });
    match result {
        Ok(topic) => match topic.empty() {
            Ok(()) => Reply::Empty,
            Err(e) => {
                tracing::error!("TOPIC({}): failed to empty - {}", topic.name, e);
                Reply::err(500, "INTERNAL_ERROR")
            }
        },
        Err(r) => r,
    }
}

/// `POST /topic/pause` and `/topic/unpause` (H-027); the path decides which.
pub fn topic_pause(nsqd: &Nsqd, path: &str, raw_query: &str) -> Reply {
    let topic = match topic_param(raw_query).and_then(|name| existing_topic(nsqd, &name)) {
        Ok(t) => t,
        Err(r) => return r,
    };
    if path.contains("unpause") {
        topic.unpause();
    } else {
        topic.pause();
    }
    persist_now(nsqd);
    Reply::Empty
}

/// Pause state is written at once so a crash cannot flip it back (BEH-072).
fn persist_now(nsqd: &Nsqd) {
    if let Err(e) = crate::metadata::persist(nsqd) {
        tracing::error!("failed to persist metadata - {}", e);
    }
}

/// Topic and channel of the channel routes, with their `_ARG_` error spellings; the topic must
/// exist (H-028).
fn topic_and_channel(nsqd: &Nsqd, raw_query: &str) -> Result<(Arc<Topic>, String), Reply> {
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
    let topic = existing_topic(nsqd, topic)?;
    let channel = String::from_utf8_lossy(channel).into_owned();
    Ok((topic, channel))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChannelAction {
    Create,
    Delete,
    Empty,
    Pause,
}

/// `POST /channel/create|delete|empty|pause|unpause` (H-028).
pub fn channel_action(
    nsqd: &Arc<Nsqd>,
    action: ChannelAction,
    path: &str,
    raw_query: &str,
) -> Reply {
    let (topic, name) = match topic_and_channel(nsqd, raw_query) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let not_found = || Reply::err(404, "CHANNEL_NOT_FOUND");
    match action {
        ChannelAction::Create => {
            nsqd.get_or_create_channel(&topic, &name);
        }
        ChannelAction::Delete => {
            if !nsqd.delete_channel(&topic, &name) {
                return not_found();
            }
        }
        ChannelAction::Empty => {
            let Some(ch) = topic.get_channel(&name) else {
                return not_found();
            };
            if let Err(e) = ch.empty() {
                tracing::error!(
                    "CHANNEL({}:{}): failed to empty - {}",
                    topic.name,
                    name,
                    e.0
                );
                return Reply::err(500, "INTERNAL_ERROR");
            }
        }
        ChannelAction::Pause => {
            let Some(ch) = topic.get_channel(&name) else {
                return not_found();
            };
            if path.contains("unpause") {
                ch.unpause();
            } else {
                ch.pause();
            }
            persist_now(nsqd);
        }
    }
    Reply::Empty
}

/// The options whose `/config` value is a string, written raw; every other value is JSON.
const STRING_OPTIONS: &[&str] = &[
    "auth_http_request_method",
    "broadcast_address",
    "data_path",
    "http_address",
    "https_address",
    "log_prefix",
    "statsd_address",
    "statsd_prefix",
    "tcp_address",
    "tls_cert",
    "tls_client_auth_policy",
    "tls_key",
    "tls_root_ca_file",
    "topology_region",
    "topology_zone",
];

fn config_reply(opt: &str, value: String) -> Reply {
    if STRING_OPTIONS.contains(&opt) {
        Reply::Text(value)
    } else {
        Reply::Json(value)
    }
}

/// `GET /config/:opt` (H-060, H-061).
pub fn config_get(nsqd: &Nsqd, opt: &str) -> Reply {
    match nsqd.options().config_get(opt) {
        Some(v) => config_reply(opt, v),
        None => Reply::err(400, "INVALID_OPTION"),
    }
}

/// `PUT /config/:opt` (H-062).
pub async fn config_put(nsqd: &Nsqd, opt: &str, body: Body) -> Reply {
    let read_max = limit_plus_one(nsqd.options().max_msg_size);
    let Ok(data) = read_body(body, read_max).await else {
        return Reply::err(500, "INTERNAL_ERROR");
    };
    let mut result = None;
    nsqd.update_options(|o| result = Some(o.config_put(opt, &data)));
    match result {
        Some(Ok(value)) => {
            if opt == "log_level" {
                nsq_common::logging::set_level(nsqd.options().log_level);
            } else {
                // BEH-165: the lookup loop closes removed peers and connects new ones.
                nsqd.lookup.peers_changed();
            }
            config_reply(opt, value)
        }
        Some(Err(e)) => Reply::err(e.status(), e.to_string()),
        None => Reply::err(500, "INTERNAL_ERROR"),
    }
}

/// `PUT /debug/setblockrate` (H-071): the rate must be an integer, read like Go's
/// `FormValue` (the query, or a form body) and `strconv.Atoi`. There is no block profiler
/// here, so a valid rate changes nothing.
pub async fn set_block_rate(raw_query: &str, headers: &HeaderMap, body: Body) -> Result<(), Reply> {
    let mut rate = Query::parse(raw_query)
        .ok()
        .and_then(|q| q.get("rate").map(<[u8]>::to_vec));
    let is_form = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if is_form {
        // Go gives body form values precedence and caps the body at 10 MB.
        if let Ok(data) = read_body(body, 10 << 20).await {
            let form = std::str::from_utf8(&data)
                .ok()
                .and_then(|s| Query::parse(s).ok());
            if let Some(v) = form.as_ref().and_then(|f| f.get("rate")) {
                rate = Some(v.to_vec());
            }
        }
    }
    let text = String::from_utf8_lossy(rate.as_deref().unwrap_or_default()).into_owned();
    match atoi(&text) {
        Ok(_) => Ok(()),
        Err(e) => Err(Reply::Plain(400, format!("invalid block rate : {e}"))),
    }
}

/// Go's `strconv.Atoi`, with its error text.
fn atoi(s: &str) -> Result<i64, String> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "strconv.Atoi: parsing {}: invalid syntax",
            nsq_protocol::quote::go_quote(s.as_bytes())
        ));
    }
    s.parse().map_err(|_| {
        format!(
            "strconv.Atoi: parsing {}: value out of range",
            nsq_protocol::quote::go_quote(s.as_bytes())
        )
    })
}

/// `POST /debug/freememory` (H-072): hand free heap memory back to the OS, as Go's
/// `debug.FreeOSMemory` does.
pub fn free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim has no preconditions; it only releases free arena memory.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(body: &[u8], read_max: usize, max_msg: i64) -> Result<Vec<Vec<u8>>, u16> {
        split_lines(&Bytes::copy_from_slice(body), read_max, max_msg)
            .map(|v| v.into_iter().map(|b| b.to_vec()).collect())
            .map_err(|r| r.status())
    }

    #[test]
    fn text_mpub_lines() {
        assert_eq!(
            lines(b"one\ntwo\n\nthree", 101, 10).unwrap(),
            [&b"one"[..], b"two", b"three"]
        );
        assert!(lines(b"", 101, 10).unwrap().is_empty());
        assert!(lines(b"\n\n", 101, 10).unwrap().is_empty());
        // A line may be exactly max-msg-size.
        assert_eq!(lines(b"0123456789\n", 101, 10).unwrap().len(), 1);
    }

    #[test]
    fn text_mpub_limits() {
        assert!(matches!(lines(b"0123456789a\n", 101, 10), Err(413)));
        // Reaching max+1 bytes is BODY_TOO_BIG; a long line earlier wins.
        let mut body = vec![b'x'; 11];
        let r = split_lines(&Bytes::from(body.clone()), 11, 100).unwrap_err();
        assert!(matches!(r, Reply::Err(413, ref m) if m == "BODY_TOO_BIG"));
        body[5] = b'\n';
        let r = split_lines(&Bytes::from(body), 11, 3).unwrap_err();
        assert!(matches!(r, Reply::Err(413, ref m) if m == "MSG_TOO_BIG"));
    }

    #[test]
    fn go_ints() {
        assert_eq!(parse_go_int("0"), Some(0));
        assert_eq!(parse_go_int("+15"), Some(15));
        assert_eq!(parse_go_int("-1"), Some(-1));
        assert_eq!(parse_go_int(""), None);
        assert_eq!(parse_go_int("1.5"), None);
        assert_eq!(parse_go_int(" 1"), None);
        assert_eq!(parse_go_int("99999999999999999999"), None);
    }

    #[test]
    fn atoi_errors_read_like_go() {
        assert_eq!(atoi("12"), Ok(12));
        assert_eq!(
            atoi("abc").unwrap_err(),
            r#"strconv.Atoi: parsing "abc": invalid syntax"#
        );
        assert_eq!(
            atoi("").unwrap_err(),
            r#"strconv.Atoi: parsing "": invalid syntax"#
        );
        assert_eq!(
            atoi("99999999999999999999").unwrap_err(),
            r#"strconv.Atoi: parsing "99999999999999999999": value out of range"#
        );
    }

    #[test]
    fn ping_reports_health_as_plain_text() {
        let nsqd = Nsqd::new(crate::options::Options::default());
        assert!(matches!(ping(&nsqd), Reply::Plain(200, ref t) if t == "OK"));
        nsqd.health.record(Err("write failed"));
        assert!(matches!(ping(&nsqd), Reply::Plain(500, ref t) if t == "NOK - write failed"));
        nsqd.health.record(Ok(()));
        assert_eq!(ping(&nsqd).status(), 200);
    }

    #[test]
    fn info_key_order() {
        let nsqd = Nsqd::new(crate::options::Options::default());
        let Reply::Json(body) = info(&nsqd) else {
            panic!("info is JSON");
        };
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "version",
                "broadcast_address",
                "hostname",
                "http_port",
                "tcp_port",
                "start_time",
                "max_heartbeat_interval",
                "max_output_buffer_size",
                "max_output_buffer_timeout",
                "max_deflate_level",
                "topology_zone",
                "topology_region",
            ]
        );
        // No listener bound in this test: ports read 0.
        assert_eq!(
            (v["http_port"].as_i64(), v["tcp_port"].as_i64()),
            (Some(0), Some(0))
        );
    }

    #[test]
    fn config_values_are_raw_or_json_by_type() {
        assert!(matches!(
            config_reply("statsd_prefix", "x".into()),
            Reply::Text(_)
        ));
        assert!(matches!(
            config_reply("max_msg_size", "1".into()),
            Reply::Json(_)
        ));
        assert!(matches!(
            config_reply("nsqlookupd_tcp_addresses", "[]".into()),
            Reply::Json(_)
        ));
    }
}
