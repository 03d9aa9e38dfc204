//! nsqlookupd discovery (C-006): `GET /lookup?topic=` on one lookupd per poll.
//!
//! The request is made here rather than with nsq-common's HTTP client because go-nsq adds an
//! `Authorization` header when an auth secret is set (T-001), which that client cannot send;
//! the answer is still decoded by that client's `parse_response`.

use nsq_common::http::client::{parse_response, ACCEPT_V1};
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use serde::Deserialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::config::Config;
use crate::error::Error;

/// Lookup answers larger than this are refused rather than buffered.
const MAX_RESPONSE: u64 = 16 << 20;

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

/// The `Authorization` header value for lookup queries: go-nsq sends the auth secret as a
/// bearer token while `skip_lookupd_authorization` is true (its default, despite the name).
pub(crate) fn authorization(config: &Config) -> Option<String> {
    match &config.auth_secret {
        Some(secret) if !secret.is_empty() && config.skip_lookupd_authorization => {
            Some(format!("Bearer {secret}"))
        }
        _ => None,
    }
}

/// The nsqd TCP addresses (`broadcast_address:tcp_port`) lookupd lists for `topic`.
pub(crate) async fn query(addr: &str, topic: &str, config: &Config) -> Result<Vec<String>, Error> {
    let url = lookup_url(addr, topic);
    let request = build_request(&url, &config.user_agent, authorization(config).as_deref())?;
    let timeout = config.lookupd_poll_timeout;
    let body = tokio::time::timeout(timeout, get(&request))
        .await
        .map_err(|_| Error::Lookupd(format!("GET {url}: timed out after {timeout:?}")))??;
    parse(&body)
}

/// A prepared `GET`: where to connect and the request bytes.
struct Request {
    host: String,
    head: String,
}

/// Only `http://` URLs (or bare `host:port/...`) are spoken, as by go-nsq's default transport
/// without TLS settings for lookupd.
fn build_request(
    url: &str,
    user_agent: &str,
    authorization: Option<&str>,
) -> Result<Request, Error> {
    let rest = url.strip_prefix("http://").unwrap_or(url);
    if rest.contains("://") {
        return Err(Error::Lookupd(format!("unsupported URL {url:?}")));
    }
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    if host.is_empty() {
        return Err(Error::Lookupd(format!("invalid URL {url:?}")));
    }
    let path = if path.is_empty() { "/" } else { path };
    let mut head = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {user_agent}\r\nAccept: {ACCEPT_V1}\r\n"
    );
    if let Some(value) = authorization {
        head.push_str("Authorization: ");
        head.push_str(value);
        head.push_str("\r\n");
    }
    // With `Connection: close` the body ends at Content-Length, the last chunk, or EOF.
    head.push_str("Connection: close\r\n\r\n");
    Ok(Request {
        host: host.to_string(),
        head,
    })
}

/// Sends `request` and answers the body of a 200 response.
async fn get(request: &Request) -> Result<Vec<u8>, Error> {
    let io = |e: std::io::Error| Error::Lookupd(format!("{}: {e}", request.host));
    let mut stream = tokio::net::TcpStream::connect(request.host.as_str())
        .await
        .map_err(io)?;
    stream
        .write_all(request.head.as_bytes())
        .await
        .map_err(io)?;
    let mut raw = Vec::new();
    stream
        .take(MAX_RESPONSE)
        .read_to_end(&mut raw)
        .await
        .map_err(io)?;
    let (status, body) = parse_response(&raw).map_err(|e| Error::Lookupd(e.to_string()))?;
    if status != 200 {
        return Err(Error::Lookupd(format!(
            "got response {status} {:?}",
            String::from_utf8_lossy(&body)
        )));
    }
    Ok(body)
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
    use std::io::{Read, Write};
    use std::net::TcpListener;

    /// Answers one request with a V1 lookup body and hands back the request's head.
    fn one_shot_lookupd() -> (String, std::thread::JoinHandle<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let server = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut req = Vec::new();
            let mut buf = [0u8; 512];
            while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = s.read(&mut buf).unwrap();
                assert!(n > 0, "request ended early");
                req.extend_from_slice(&buf[..n]);
            }
            let body = br#"{"channels":["c"],"producers":[{"broadcast_address":"127.0.0.1","tcp_port":4150}]}"#;
            write!(
                s,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                body.len()
            )
            .unwrap();
            s.write_all(body).unwrap();
            String::from_utf8(req).unwrap()
        });
        (addr, server)
    }

    async fn lookup_request(config: &Config) -> String {
        let (addr, server) = one_shot_lookupd();
        let nsqds = query(&addr, "top ic", config).await.unwrap();
        assert_eq!(nsqds, vec!["127.0.0.1:4150"]);
        server.join().unwrap()
    }

    #[tokio::test]
    async fn secret_is_sent_to_lookupd_as_bearer_token() {
        let config = Config {
            auth_secret: Some("s3cret".into()),
            ..Config::default()
        };
        let req = lookup_request(&config).await;
        assert!(
            req.starts_with("GET /lookup?topic=top%20ic HTTP/1.1\r\n"),
            "{req}"
        );
        assert!(
            req.contains("\r\nAuthorization: Bearer s3cret\r\n"),
            "{req}"
        );
        assert!(req.contains("\r\nAccept: application/vnd.nsq; version=1.0\r\n"));
        assert!(req.contains("\r\nUser-Agent: go-nsq/1.1.0\r\n"), "{req}");
    }

    #[tokio::test]
    async fn no_authorization_without_secret_or_when_disabled() {
        let req = lookup_request(&Config::default()).await;
        assert!(!req.to_ascii_lowercase().contains("authorization"), "{req}");

        let mut config = Config::default();
        config.set("auth_secret", "s3cret").unwrap();
        config.set("skip_lookupd_authorization", "false").unwrap();
        let req = lookup_request(&config).await;
        assert!(!req.to_ascii_lowercase().contains("authorization"), "{req}");
    }

    #[test]
    fn only_plain_http_is_spoken() {
        assert!(build_request("https://h:1/lookup", "ua", None).is_err());
        assert!(build_request("http:///lookup", "ua", None).is_err());
        let r = build_request("h:1", "ua", None).unwrap();
        assert_eq!(r.host, "h:1");
        assert!(
            r.head.starts_with("GET / HTTP/1.1\r\nHost: h:1\r\n"),
            "{}",
            r.head
        );
    }

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
