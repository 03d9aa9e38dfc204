//! Admin-action notifications (A-025..A-027): every action is queued and one worker POSTs
//! them, one at a time, to `--notification-http-endpoint`. A failed POST is logged and the
//! worker carries on (the reference crashes there, QRK-32).

use std::net::SocketAddr;

use axum::http::HeaderMap;
use serde::Serialize;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// The JSON body of one notification, keys in wire order.
#[derive(Clone, Debug, Serialize)]
pub struct AdminAction {
    pub action: String,
    pub topic: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub channel: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub node: String,
    pub timestamp: i64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub user: String,
    pub remote_ip: String,
    pub user_agent: String,
    pub url: String,
    pub via: String,
}

/// What a notification needs to know about the admin request that caused it.
#[derive(Clone, Debug, Default)]
pub struct RequestInfo {
    pub remote: Option<SocketAddr>,
    pub headers: HeaderMap,
    /// The request's path and query as received (with the base path).
    pub uri: String,
}

impl AdminAction {
    pub fn new(
        action: &str,
        topic: &str,
        channel: &str,
        node: &str,
        req: &RequestInfo,
        via: &str,
    ) -> AdminAction {
        let header = |name: &str| {
            req.headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string()
        };
        let scheme = if header("x-scheme") == "https" {
            "https"
        } else {
            "http"
        };
        AdminAction {
            action: action.to_string(),
            topic: topic.to_string(),
            channel: channel.to_string(),
            node: node.to_string(),
            timestamp: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64),
            user: basic_auth_user(&header("authorization")).unwrap_or_default(),
            remote_ip: req.remote.map(|a| a.to_string()).unwrap_or_default(),
            user_agent: header("user-agent"),
            url: format!("{scheme}://{}{}", header("host"), req.uri),
            via: via.to_string(),
        }
    }
}

/// The user name of an HTTP Basic `Authorization` header.
fn basic_auth_user(value: &str) -> Option<String> {
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64_decode(encoded.trim())?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, _) = text.split_once(':')?;
    Some(user.to_string())
}

/// Standard base64 with padding, as HTTP Basic auth uses it.
fn base64_decode(s: &str) -> Option<Vec<u8>> {
    fn val(c: u8) -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => u32::from(c - b'A'),
            b'a'..=b'z' => u32::from(c - b'a') + 26,
            b'0'..=b'9' => u32::from(c - b'0') + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        })
    }
    let bytes = s.trim_end_matches('=').as_bytes();
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        let mut acc = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            acc |= val(c)? << (18 - 6 * i);
        }
        let n = match chunk.len() {
            4 => 3,
            3 => 2,
            2 => 1,
            _ => return None,
        };
        for i in 0..n {
            out.push((acc >> (16 - 8 * i)) as u8);
        }
    }
    Some(out)
}

/// The queue in front of the notification worker.
#[derive(Clone)]
pub struct Notifier {
    tx: mpsc::UnboundedSender<AdminAction>,
}

impl Notifier {
    /// Starts the worker that POSTs to `endpoint` until `shutdown`.
    pub fn start(
        client: reqwest::Client,
        endpoint: String,
        shutdown: CancellationToken,
    ) -> Notifier {
        let (tx, mut rx) = mpsc::unbounded_channel::<AdminAction>();
        tokio::spawn(async move {
            loop {
                let action = tokio::select! {
                    _ = shutdown.cancelled() => return,
                    a = rx.recv() => match a {
                        Some(a) => a,
                        None => return,
                    },
                };
                post(&client, &endpoint, &action).await;
            }
        });
        Notifier { tx }
    }

    pub fn send(&self, action: AdminAction) {
        // The worker is gone only at shutdown; a notification then is dropped.
        let _ = self.tx.send(action);
    }
}

async fn post(client: &reqwest::Client, endpoint: &str, action: &AdminAction) {
    let body = match serde_json::to_vec(action) {
        Ok(b) => b,
        Err(e) => {
            tracing::error!("failed to serialize admin action - {}", e);
            return;
        }
    };
    tracing::info!("POSTing notification to {}", endpoint);
    let sent = client
        .post(endpoint)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body)
        .send()
        .await;
    match sent {
        Ok(resp) => {
            // Drain the answer so the connection can be reused.
            let _ = resp.bytes().await;
        }
        Err(e) => tracing::error!("failed to POST notification - {}", e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_auth() {
        // "alice:secret"
        assert_eq!(
            basic_auth_user("Basic YWxpY2U6c2VjcmV0").as_deref(),
            Some("alice")
        );
        assert_eq!(basic_auth_user("Bearer x"), None);
        assert_eq!(base64_decode("YQ==").unwrap(), b"a");
    }

    #[test]
    fn body_keys_in_order() {
        let mut headers = HeaderMap::new();
        headers.insert("host", "admin:4171".parse().unwrap());
        headers.insert("user-agent", "ua".parse().unwrap());
        headers.insert("x-scheme", "https".parse().unwrap());
        let req = RequestInfo {
            remote: Some("127.0.0.1:5000".parse().unwrap()),
            headers,
            uri: "/api/topics/t".into(),
        };
        let mut a = AdminAction::new("pause_topic", "t", "", "", &req, "box");
        a.timestamp = 7;
        assert_eq!(
            serde_json::to_string(&a).unwrap(),
            r#"{"action":"pause_topic","topic":"t","timestamp":7,"remote_ip":"127.0.0.1:5000","user_agent":"ua","url":"https://admin:4171/api/topics/t","via":"box"}"#
        );
    }
}
