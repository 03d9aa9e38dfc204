//! The HTTP client for nsqd and nsqlookupd (A-005, A-024): V1 `Accept` header, the
//! `--http-client-*` timeouts and TLS settings, the HTTPS retry for TLS-only nsqd, and error
//! texts worded like Go's.

use reqwest::header::{HeaderMap, HeaderValue, ACCEPT};
use serde::de::DeserializeOwned;

use crate::options::Options;

const ACCEPT_V1: &str = "application/vnd.nsq; version=1.0";

#[derive(Clone)]
pub struct Upstream {
    client: reqwest::Client,
}

/// A failed upstream call, as the text that ends up in `message`.
pub type UpstreamError = String;

impl Upstream {
    /// Builds the client; an error is a fatal start-up problem (unreadable TLS files).
    pub fn new(o: &Options) -> Result<Upstream, String> {
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_static(ACCEPT_V1));
        let mut b = reqwest::Client::builder()
            .default_headers(headers)
            .connect_timeout(o.http_client_connect_timeout)
            .timeout(o.http_client_request_timeout)
            .danger_accept_invalid_certs(o.http_client_tls_insecure_skip_verify);
        if !o.http_client_tls_cert.is_empty() {
            let mut pem = std::fs::read(&o.http_client_tls_cert).map_err(|e| {
                format!(
                    "failed to LoadX509KeyPair {}, {} - {}",
                    o.http_client_tls_cert, o.http_client_tls_key, e
                )
            })?;
            let key = std::fs::read(&o.http_client_tls_key).map_err(|e| {
                format!(
                    "failed to LoadX509KeyPair {}, {} - {}",
                    o.http_client_tls_cert, o.http_client_tls_key, e
                )
            })?;
            pem.push(b'\n');
            pem.extend_from_slice(&key);
            let id = reqwest::Identity::from_pem(&pem).map_err(|e| {
                format!(
                    "failed to LoadX509KeyPair {}, {} - {}",
                    o.http_client_tls_cert, o.http_client_tls_key, e
                )
            })?;
            b = b.identity(id);
        }
        if !o.http_client_tls_root_ca_file.is_empty() {
            let path = &o.http_client_tls_root_ca_file;
            let pem = std::fs::read(path)
                .map_err(|e| format!("failed to read TLS root CA file {path} - {e}"))?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|_| format!("failed to AppendCertsFromPEM {path}"))?;
            if certs.is_empty() {
                return Err(format!("failed to AppendCertsFromPEM {path}"));
            }
            for c in certs {
                b = b.add_root_certificate(c);
            }
        }
        let client = b.build().map_err(|e| e.to_string())?;
        Ok(Upstream { client })
    }

    /// The underlying client, for calls that are not V1 (notifications, graphite).
    pub fn raw(&self) -> &reqwest::Client {
        &self.client
    }

    /// GETs `url` and decodes the JSON body. Like POSTs, a plain-HTTP upstream answering
    /// 403 with an `https_port` is asked again over HTTPS.
    pub async fn get_json<T: DeserializeOwned>(&self, url: &str) -> Result<T, UpstreamError> {
        tracing::debug!("CI: querying {}", url);
        let (mut status, mut body) = self.get_once(url).await?;
        if status == 403 && url.starts_with("http://") {
            if let Some(https) = https_url(url, &body) {
                (status, body) = self.get_once(&https).await?;
            }
        }
        if status != 200 {
            return Err(status_error(status, &body));
        }
        serde_json::from_slice(&body).map_err(|e| format!("GET {url}: invalid JSON - {e}"))
    }

    async fn get_once(&self, url: &str) -> Result<(u16, bytes::Bytes), UpstreamError> {
        let resp = self
            .client
            .get(url)
            .send()
            .await
            .map_err(|e| transport_error("GET", url, &e))?;
        let status = resp.status().as_u16();
        let body = resp
            .bytes()
            .await
            .map_err(|e| transport_error("GET", url, &e))?;
        Ok((status, body))
    }

    /// POSTs to `url` with no body (A-024). A plain-HTTP upstream answering 403 with an
    /// `https_port` is asked again over HTTPS.
    pub async fn post(&self, url: &str) -> Result<(), UpstreamError> {
        tracing::debug!("CI: POST {}", url);
        let (status, body) = self.post_once(url).await?;
        if status == 403 && url.starts_with("http://") {
            if let Some(https) = https_url(url, &body) {
                let (status, body) = self.post_once(&https).await?;
                return check_status(status, &body);
            }
        }
        check_status(status, &body)
    }

    async fn post_once(&self, url: &str) -> Result<(u16, bytes::Bytes), UpstreamError> {
        let resp = self
            .client
            .post(url)
            .send()
            .await
            .map_err(|e| transport_error("POST", url, &e))?;
        let status = resp.status().as_u16();
        let body = resp
            .bytes()
            .await
            .map_err(|e| transport_error("POST", url, &e))?;
        Ok((status, body))
    }
}

fn check_status(status: u16, body: &[u8]) -> Result<(), UpstreamError> {
    if status == 200 {
        Ok(())
    } else {
        Err(status_error(status, body))
    }
}

/// `got response <status> "<body>"`, with the body quoted like Go's `%q`.
fn status_error(status: u16, body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    format!(
        "got response {} {}",
        status,
        nsq_common::goflag::go_quote(&text)
    )
}

/// A transport failure worded like Go's `url.Error`: `Get "<url>": <cause>`, where a
/// failed connection reads `dial tcp <addr>: connect: <reason>`.
fn transport_error(method: &str, url: &str, e: &reqwest::Error) -> String {
    let op = match method {
        "GET" => "Get",
        "POST" => "Post",
        other => other,
    };
    // The innermost cause is the OS error, when there is one.
    let mut root: &dyn std::error::Error = e;
    while let Some(s) = root.source() {
        root = s;
    }
    let io = root.downcast_ref::<std::io::Error>();
    let cause = if e.is_timeout() {
        "context deadline exceeded (Client.Timeout exceeded while awaiting headers)".to_string()
    } else if e.is_connect() {
        let addr = reqwest::Url::parse(url)
            .ok()
            .and_then(|u| {
                let host = u.host_str()?.to_string();
                Some(format!("{host}:{}", u.port_or_known_default()?))
            })
            .unwrap_or_default();
        let reason = match io.map(std::io::Error::kind) {
            Some(std::io::ErrorKind::ConnectionRefused) => Some("connection refused"),
            Some(std::io::ErrorKind::ConnectionReset) => Some("connection reset by peer"),
            Some(std::io::ErrorKind::TimedOut) => Some("i/o timeout"),
            _ => None,
        };
        match reason {
            Some(r) => format!("dial tcp {addr}: connect: {r}"),
            // TLS handshake failures and the like: the cause speaks for itself.
            None => root.to_string(),
        }
    } else {
        root.to_string()
    };
    format!("{op} \"{url}\": {cause}")
}

/// The same URL over HTTPS on the port an nsqd with `--tls-required` reports.
fn https_url(url: &str, body: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Refusal {
        https_port: u16,
    }
    let port = serde_json::from_slice::<Refusal>(body).ok()?.https_port;
    let mut u = reqwest::Url::parse(url).ok()?;
    u.set_scheme("https").ok()?;
    u.set_port(Some(port)).ok()?;
    Some(u.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_texts() {
        assert_eq!(
            status_error(500, b"{\"message\":\"x\"}"),
            "got response 500 \"{\\\"message\\\":\\\"x\\\"}\""
        );
        assert_eq!(
            https_url(
                "http://127.0.0.1:4151/topic/pause?topic=t",
                br#"{"https_port":4152}"#
            )
            .as_deref(),
            Some("https://127.0.0.1:4152/topic/pause?topic=t")
        );
        assert_eq!(https_url("http://a:1/x", b"FORBIDDEN"), None);
    }
}
