//! nsqlookupd discovery (C-006): `GET /lookup?topic=` on one lookupd per poll.

use std::time::Duration;

use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use serde::Deserialize;

use crate::error::Error;

#[derive(Deserialize, Default)]
#[serde(default)]
struct Producer {
    broadcast_address: String,
    tcp_port: u16,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Lookup {
    producers: Vec<Producer>,
}

/// Older lookupds wrap the answer in `{"status_code","status_txt","data"}`.
#[derive(Deserialize, Default)]
#[serde(default)]
struct Wrapped {
    data: Lookup,
}

/// The lookup URL for `addr`: a bare `host:port` or a URL; `/lookup` is added when it has no
/// path.
pub(crate) fn lookup_url(addr: &str, topic: &str) -> String {
    let base = if addr.contains("://") {
        addr.to_string()
    } else {
        format!("http://{addr}")
    };
    let after_scheme = base.find("://").map_or(0, |i| i + 3);
    let has_path = base[after_scheme..].contains('/');
    let base = if has_path {
        base
    } else {
        format!("{base}/lookup")
    };
    let sep = if base.contains('?') { '&' } else { '?' };
    format!(
        "{base}{sep}topic={}",
        utf8_percent_encode(topic, NON_ALPHANUMERIC)
    )
}

/// The nsqd TCP addresses (`broadcast_address:tcp_port`) lookupd lists for `topic`.
pub(crate) async fn query(
    addr: &str,
    topic: &str,
    timeout: Duration,
    user_agent: &str,
) -> Result<Vec<String>, Error> {
    let url = lookup_url(addr, topic);
    let client = nsq_common::http::client::Client {
        connect_timeout: timeout,
        request_timeout: timeout,
        user_agent: user_agent.to_string(),
    };
    let body = tokio::task::spawn_blocking(move || client.get_v1(&url))
        .await
        .map_err(|e| Error::Lookupd(e.to_string()))?
        .map_err(|e| Error::Lookupd(e.to_string()))?;
    parse(&body)
}

fn parse(body: &[u8]) -> Result<Vec<String>, Error> {
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| Error::Lookupd(e.to_string()))?;
    let lookup: Lookup = if value.get("data").is_some() && value.get("producers").is_none() {
        serde_json::from_value::<Wrapped>(value)
            .map_err(|e| Error::Lookupd(e.to_string()))?
            .data
    } else {
        serde_json::from_value(value).map_err(|e| Error::Lookupd(e.to_string()))?
    };
    Ok(lookup
        .producers
        .into_iter()
        .map(|p| {
            if p.broadcast_address.contains(':') {
                format!("[{}]:{}", p.broadcast_address, p.tcp_port)
            } else {
                format!("{}:{}", p.broadcast_address, p.tcp_port)
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(
            lookup_url("127.0.0.1:4161", "a b"),
            "http://127.0.0.1:4161/lookup?topic=a%20b"
        );
        assert_eq!(
            lookup_url("http://h:1/custom", "t"),
            "http://h:1/custom?topic=t"
        );
    }

    #[test]
    fn both_formats() {
        let v1 = br#"{"channels":[],"producers":[{"broadcast_address":"h","tcp_port":4150}]}"#;
        assert_eq!(parse(v1).unwrap(), vec!["h:4150"]);
        let old = br#"{"status_code":200,"status_txt":"OK","data":{"producers":[{"broadcast_address":"::1","tcp_port":1}]}}"#;
        assert_eq!(parse(old).unwrap(), vec!["[::1]:1"]);
    }
}
