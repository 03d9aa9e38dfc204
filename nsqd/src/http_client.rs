//! A minimal HTTP/1.1 client for nsqd's few outgoing requests (the auth server, BEH-150).
//!
//! One request per connection (`Connection: close`), over `http://` or `https://`. Responses
//! may carry a Content-Length, a chunked body, or a body that runs to end of stream. The connect
//! timeout covers resolving and dialing; the request timeout covers the whole exchange,
//! TLS handshake included.

use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

/// Bodies larger than this are refused rather than buffered.
const MAX_RESPONSE: usize = 16 << 20;
/// Status line plus headers.
const MAX_HEAD: usize = 64 << 10;

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("invalid URL {0:?}")]
    InvalidUrl(String),
    #[error("failed to build client TLS config - {0}")]
    TlsConfig(String),
    #[error("dial tcp {addr}: {source}")]
    Connect {
        addr: String,
        source: std::io::Error,
    },
    #[error("dial tcp {0}: i/o timeout")]
    ConnectTimeout(String),
    #[error("request timed out after {0:?}")]
    Timeout(Duration),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("malformed HTTP response: {0}")]
    Malformed(&'static str),
    #[error("response body too large")]
    TooLarge,
}

/// A parsed `http://` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    pub scheme: String,
    /// Host as written, without brackets for IPv6 literals.
    pub host: String,
    pub port: u16,
    /// Path plus query, always starting with `/`.
    pub target: String,
}

impl Url {
    pub fn parse(s: &str) -> Result<Url, HttpError> {
        let bad = || HttpError::InvalidUrl(s.to_string());
        let (scheme, rest) = s.split_once("://").ok_or_else(bad)?;
        let scheme = scheme.to_ascii_lowercase();
        let default_port = match scheme.as_str() {
            "http" => 80,
            "https" => 443,
            _ => return Err(bad()),
        };
        let split = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, target) = rest.split_at(split);
        let target = match target.chars().next() {
            None => "/".to_string(),
            Some('?') => format!("/{target}"),
            Some(_) => target.to_string(),
        };
        // Credentials in the URL are not supported; drop them rather than send them as a host.
        let authority = authority.rsplit('@').next().unwrap_or(authority);
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (host, after) = v6.split_once(']').ok_or_else(bad)?;
            match after.strip_prefix(':') {
                Some(p) => (host, p.parse().map_err(|_| bad())?),
                None if after.is_empty() => (host, default_port),
                None => return Err(bad()),
            }
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h, p.parse().map_err(|_| bad())?),
                None => (authority, default_port),
            }
        };
        if host.is_empty() {
            return Err(bad());
        }
        Ok(Url {
            scheme,
            host: host.to_string(),
            port,
            target,
        })
    }

    /// `host:port` as used in the Host header and in dial errors.
    pub fn host_port(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    /// The status line after the protocol version, e.g. `404 Not Found` (Go's `resp.Status`).
    pub status_text: String,
    pub body: Vec<u8>,
}

/// How requests are made (BEH-144): the two timeouts, and the client TLS config for
/// `https://` URLs (or why there is none).
#[derive(Clone)]
pub struct Settings {
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    pub tls_config: Result<Arc<rustls::ClientConfig>, String>,
}

/// Sends one request and reads the whole response.
pub async fn send(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
    settings: &Settings,
) -> Result<Response, HttpError> {
    let url = Url::parse(url)?;
    let tls = if url.scheme == "https" {
        let name = ServerName::try_from(url.host.clone())
            .map_err(|_| HttpError::InvalidUrl(url.host.clone()))?;
        let config = settings.tls_config.clone().map_err(HttpError::TlsConfig)?;
        Some((config, name))
    } else {
        None
    };
    let exchange = async {
        let addr = url.host_port();
        let stream = tokio::time::timeout(
            settings.connect_timeout,
            TcpStream::connect((url.host.as_str(), url.port)),
        )
        .await
        .map_err(|_| HttpError::ConnectTimeout(addr.clone()))?
        .map_err(|source| HttpError::Connect { addr, source })?;
        let _ = stream.set_nodelay(true);
        match tls {
            None => exchange(stream, method, &url, headers, body).await,
            Some((config, name)) => {
                let stream = tokio_rustls::TlsConnector::from(config)
                    .connect(name, stream)
                    .await?;
                exchange(stream, method, &url, headers, body).await
            }
        }
    };
    tokio::time::timeout(settings.request_timeout, exchange)
        .await
        .map_err(|_| HttpError::Timeout(settings.request_timeout))?
}

async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    method: &str,
    url: &Url,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Result<Response, HttpError> {
    let mut req = format!(
        "{method} {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: nsqd/{}\r\nConnection: close\r\n",
        url.target,
        url.host_port(),
        nsq_protocol::version::VERSION
    );
    for (name, value) in headers {
        req.push_str(name);
        req.push_str(": ");
        req.push_str(value);
        req.push_str("\r\n");
    }
    if let Some(b) = body {
        req.push_str(&format!("Content-Length: {}\r\n", b.len()));
    }
    req.push_str("\r\n");
    let mut out = req.into_bytes();
    if let Some(b) = body {
        out.extend_from_slice(b);
    }
    stream.write_all(&out).await?;
    stream.flush().await?;
    read_response(&mut stream, method == "HEAD").await
}

/// Reads a response, skipping any interim 1xx responses.
async fn read_response<S: AsyncRead + Unpin>(
    stream: &mut S,
    head_only: bool,
) -> Result<Response, HttpError> {
    let mut buf: Vec<u8> = Vec::with_capacity(4096);
    loop {
        let head_end = loop {
            if let Some(i) = find(&buf, b"\r\n\r\n") {
                break i + 4;
            }
            if buf.len() > MAX_HEAD {
                return Err(HttpError::Malformed("header section too large"));
            }
            if read_more(stream, &mut buf).await? == 0 {
                return Err(HttpError::Malformed(
                    "connection closed before the headers ended",
                ));
            }
        };
        let head = Head::parse(&buf[..head_end])?;
        buf.drain(..head_end);
        if (100..200).contains(&head.status) {
            continue;
        }
        let no_body = head_only || head.status == 204 || head.status == 304;
        let body = if no_body {
            Vec::new()
        } else if head.chunked {
            read_chunked(stream, buf).await?
        } else if let Some(len) = head.content_length {
            if len > MAX_RESPONSE {
                return Err(HttpError::TooLarge);
            }
            while buf.len() < len {
                if read_more(stream, &mut buf).await? == 0 {
                    return Err(HttpError::Malformed("body shorter than its Content-Length"));
                }
            }
            buf.truncate(len);
            buf
        } else {
            while read_more(stream, &mut buf).await? > 0 {
                if buf.len() > MAX_RESPONSE {
                    return Err(HttpError::TooLarge);
                }
            }
            buf
        };
        return Ok(Response {
            status: head.status,
            status_text: head.status_text,
            body,
        });
    }
}

async fn read_more<S: AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut Vec<u8>,
) -> Result<usize, HttpError> {
    let mut chunk = [0u8; 8192];
    let n = stream.read(&mut chunk).await?;
    buf.extend_from_slice(&chunk[..n]);
    Ok(n)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

struct Head {
    status: u16,
    status_text: String,
    content_length: Option<usize>,
    chunked: bool,
}

impl Head {
    fn parse(head: &[u8]) -> Result<Head, HttpError> {
        let text =
            std::str::from_utf8(head).map_err(|_| HttpError::Malformed("non-UTF-8 header"))?;
        let mut lines = text.split("\r\n");
        let status_line = lines.next().unwrap_or("");
        let (version, rest) = status_line
            .split_once(' ')
            .ok_or(HttpError::Malformed("bad status line"))?;
        if !version.starts_with("HTTP/1.") {
            return Err(HttpError::Malformed("bad status line"));
        }
        let status_text = rest.trim_start().to_string();
        let code = status_text.get(..3).unwrap_or("");
        let status = code
            .parse::<u16>()
            .ok()
            .filter(|_| code.bytes().all(|b| b.is_ascii_digit()))
            .ok_or(HttpError::Malformed("bad status code"))?;
        let mut content_length = None;
        let mut chunked = false;
        for line in lines.filter(|l| !l.is_empty()) {
            let Some((name, value)) = line.split_once(':') else {
                return Err(HttpError::Malformed("bad header line"));
            };
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                content_length = Some(
                    value
                        .parse()
                        .map_err(|_| HttpError::Malformed("bad Content-Length"))?,
                );
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = value
                    .rsplit(',')
                    .next()
                    .is_some_and(|v| v.trim().eq_ignore_ascii_case("chunked"));
            }
        }
        Ok(Head {
            status,
            status_text,
            content_length,
            chunked,
        })
    }
}

/// Decodes a chunked body; `buf` holds whatever followed the headers.
async fn read_chunked<S: AsyncRead + Unpin>(
    stream: &mut S,
    mut buf: Vec<u8>,
) -> Result<Vec<u8>, HttpError> {
    let mut body = Vec::new();
    loop {
        let line_end = loop {
            if let Some(i) = find(&buf, b"\r\n") {
                break i;
            }
            if buf.len() > MAX_HEAD {
                return Err(HttpError::Malformed("chunk size line too long"));
            }
            if read_more(stream, &mut buf).await? == 0 {
                return Err(HttpError::Malformed("unexpected end of chunked body"));
            }
        };
        let line = std::str::from_utf8(&buf[..line_end])
            .map_err(|_| HttpError::Malformed("bad chunk size"))?;
        let size_text = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| HttpError::Malformed("bad chunk size"))?;
        buf.drain(..line_end + 2);
        if size == 0 {
            // Trailers, if any, are read up to the blank line and ignored.
            loop {
                if buf.starts_with(b"\r\n") || find(&buf, b"\r\n\r\n").is_some() {
                    return Ok(body);
                }
                if read_more(stream, &mut buf).await? == 0 {
                    return Ok(body);
                }
            }
        }
        if body.len() + size > MAX_RESPONSE {
            return Err(HttpError::TooLarge);
        }
        while buf.len() < size + 2 {
            if read_more(stream, &mut buf).await? == 0 {
                return Err(HttpError::Malformed("unexpected end of chunked body"));
            }
        }
        body.extend_from_slice(&buf[..size]);
        if &buf[size..size + 2] != b"\r\n" {
            return Err(HttpError::Malformed("chunk not followed by CRLF"));
        }
        buf.drain(..size + 2);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_urls() {
        let u = Url::parse("http://127.0.0.1:4181/auth?x=1").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.target.as_str()),
            ("127.0.0.1", 4181, "/auth?x=1")
        );
        let u = Url::parse("http://[::1]:80").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.target.as_str()),
            ("::1", 80, "/")
        );
        assert_eq!(u.host_port(), "[::1]:80");
        let u = Url::parse("HTTPS://auth.example?a=b").unwrap();
        assert_eq!(
            (u.scheme.as_str(), u.port, u.target.as_str()),
            ("https", 443, "/?a=b")
        );
        assert!(Url::parse("127.0.0.1:4181").is_err());
        assert!(Url::parse("ftp://x/").is_err());
        assert!(Url::parse("http://:80/").is_err());
        assert!(Url::parse("http://h:port/").is_err());
    }

    async fn parse(raw: &[u8]) -> Result<Response, HttpError> {
        let mut r = raw;
        read_response(&mut r, false).await
    }

    #[tokio::test]
    async fn content_length_body() {
        let r = parse(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloEXTRA")
            .await
            .unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(r.status_text, "200 OK");
        assert_eq!(r.body, b"hello");
    }

    #[tokio::test]
    async fn chunked_body_with_trailer() {
        let raw = b"HTTP/1.1 500 Internal Server Error\r\nTransfer-Encoding: chunked\r\n\r\n\
                    4\r\nboom\r\n3;ext=1\r\n!!!\r\n0\r\nX-T: 1\r\n\r\n";
        let r = parse(raw).await.unwrap();
        assert_eq!(r.status_text, "500 Internal Server Error");
        assert_eq!(r.body, b"boom!!!");
    }

    #[tokio::test]
    async fn body_to_eof_and_interim_response() {
        let raw = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.0 403 Forbidden\r\n\r\n{\"https_port\":1}";
        let r = parse(raw).await.unwrap();
        assert_eq!(r.status, 403);
        assert_eq!(r.body, b"{\"https_port\":1}");
    }

    #[tokio::test]
    async fn malformed_responses() {
        assert!(parse(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nshort")
            .await
            .is_err());
        assert!(parse(b"SSH-2.0-x\r\n\r\n").await.is_err());
        assert!(parse(b"HTTP/1.1 2xx OK\r\n\r\n").await.is_err());
        assert!(
            parse(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")
                .await
                .is_err()
        );
    }
}
