//! A small blocking HTTP/1.1 client for the daemons' own V1 API calls (nsqd asking nsqlookupd
//! for a topic's channels). Blocking on purpose: the reference makes these calls inline, and
//! callers that run on an async runtime wrap it in `block_in_place`.
//!
//! Only plain `http://` is spoken; every request asks for `Connection: close`, so the body
//! ends at `Content-Length`, at the end of a chunked body, or at EOF.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use thiserror::Error;

/// The `Accept` value the NSQ tools send; V1 servers ignore it (H-008).
pub const ACCEPT_V1: &str = "application/vnd.nsq; version=1.0";

/// Responses larger than this are refused rather than buffered.
const MAX_RESPONSE: usize = 64 << 20;

#[derive(Debug, Error)]
pub enum ClientError {
    #[error("invalid URL {0:?}")]
    BadUrl(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("malformed HTTP response: {0}")]
    Malformed(&'static str),
    #[error("got response {status} {body:?}")]
    Status { status: u16, body: String },
}

/// Timeouts as in the daemons' `--http-client-connect-timeout` and
/// `--http-client-request-timeout`.
#[derive(Clone, Debug)]
pub struct Client {
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    pub user_agent: String,
}

impl Client {
    /// `GET <url>` with the V1 `Accept` header; the body of a 200 answer, else an error.
    /// `url` is `http://host:port/path?query` or `host:port/path?query`.
    pub fn get_v1(&self, url: &str) -> Result<Vec<u8>, ClientError> {
        let (host, path) = split_url(url)?;
        let deadline = Instant::now() + self.request_timeout;
        let mut stream = self.connect(host)?;
        let left = deadline.saturating_duration_since(Instant::now());
        let left = left.max(Duration::from_millis(1));
        stream.set_read_timeout(Some(left))?;
        stream.set_write_timeout(Some(left))?;
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {}\r\nAccept: {ACCEPT_V1}\r\n\
             Connection: close\r\n\r\n",
            self.user_agent
        );
        stream.write_all(request.as_bytes())?;
        let mut raw = Vec::new();
        stream.take(MAX_RESPONSE as u64).read_to_end(&mut raw)?;
        let (status, body) = parse_response(&raw)?;
        if status != 200 {
            return Err(ClientError::Status {
                status,
                body: String::from_utf8_lossy(&body).into_owned(),
            });
        }
        Ok(body)
    }

    fn connect(&self, host: &str) -> Result<TcpStream, ClientError> {
        let addrs: Vec<SocketAddr> = host.to_socket_addrs()?.collect();
        let mut last = None;
        for a in addrs {
            match TcpStream::connect_timeout(&a, self.connect_timeout) {
                Ok(s) => return Ok(s),
                Err(e) => last = Some(e),
            }
        }
        Err(last.map_or_else(|| ClientError::BadUrl(host.to_string()), ClientError::Io))
    }
}

/// `http://host:port/p?q` → (`host:port`, `/p?q`). A missing path is `/`.
fn split_url(url: &str) -> Result<(&str, String), ClientError> {
    let rest = url.strip_prefix("http://").unwrap_or(url);
    if rest.contains("://") {
        return Err(ClientError::BadUrl(url.to_string()));
    }
    let (host, path) = match rest.find('/') {
        Some(i) => (&rest[..i], rest[i..].to_string()),
        None => (rest, "/".to_string()),
    };
    if host.is_empty() {
        return Err(ClientError::BadUrl(url.to_string()));
    }
    Ok((host, path))
}

/// Status code and decoded body of a complete response to a `Connection: close` request (the
/// bytes up to EOF): the body ends at `Content-Length` or the last chunk, else at EOF. Public
/// for the client library's lookupd queries, which need their own request headers.
pub fn parse_response(raw: &[u8]) -> Result<(u16, Vec<u8>), ClientError> {
    let head_end = find(raw, b"\r\n\r\n").ok_or(ClientError::Malformed("no end of headers"))?;
    let head = std::str::from_utf8(&raw[..head_end])
        .map_err(|_| ClientError::Malformed("headers are not text"))?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or(ClientError::Malformed("bad status line"))?;
    let mut content_length = None;
    let mut chunked = false;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            content_length = value.parse::<usize>().ok();
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.eq_ignore_ascii_case("chunked");
        }
    }
    let rest = &raw[head_end + 4..];
    let body = if chunked {
        dechunk(rest)?
    } else if let Some(n) = content_length {
        rest.get(..n)
            .ok_or(ClientError::Malformed("body shorter than Content-Length"))?
            .to_vec()
    } else {
        rest.to_vec()
    };
    Ok((status, body))
}

fn dechunk(mut data: &[u8]) -> Result<Vec<u8>, ClientError> {
    let mut out = Vec::new();
    loop {
        let line_end = find(data, b"\r\n").ok_or(ClientError::Malformed("bad chunk size"))?;
        let size_text = std::str::from_utf8(&data[..line_end])
            .ok()
            .map(|s| s.split(';').next().unwrap_or_default().trim());
        let size = size_text
            .and_then(|s| usize::from_str_radix(s, 16).ok())
            .ok_or(ClientError::Malformed("bad chunk size"))?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Ok(out);
        }
        let chunk = data
            .get(..size)
            .ok_or(ClientError::Malformed("short chunk"))?;
        out.extend_from_slice(chunk);
        data = data.get(size + 2..).unwrap_or_default();
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn urls() {
        assert_eq!(
            split_url("http://127.0.0.1:4161/channels?topic=t").unwrap(),
            ("127.0.0.1:4161", "/channels?topic=t".to_string())
        );
        assert_eq!(split_url("host:1").unwrap(), ("host:1", "/".to_string()));
        assert!(split_url("https://host:1/").is_err());
        assert!(split_url("http:///x").is_err());
    }

    #[test]
    fn responses() {
        let (s, b) =
            parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA").unwrap();
        assert_eq!((s, b.as_slice()), (200, &b"ok"[..]));
        let (s, b) = parse_response(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=1\r\nde\r\n0\r\n\r\n",
        )
        .unwrap();
        assert_eq!((s, b.as_slice()), (200, &b"abcde"[..]));
        let (s, b) = parse_response(b"HTTP/1.0 404 Not Found\r\n\r\nnope").unwrap();
        assert_eq!((s, b.as_slice()), (404, &b"nope"[..]));
        assert!(parse_response(b"HTTP/1.1 200 OK\r\n").is_err());
    }

    #[test]
    fn get_against_a_local_server() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut req = Vec::new();
            let mut buf = [0u8; 512];
            while find(&req, b"\r\n\r\n").is_none() {
                let n = s.read(&mut buf).unwrap();
                req.extend_from_slice(&buf[..n]);
            }
            s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 15\r\n\r\n{\"channels\":[]}")
                .unwrap();
            String::from_utf8(req).unwrap()
        });
        let client = Client {
            connect_timeout: Duration::from_secs(2),
            request_timeout: Duration::from_secs(5),
            user_agent: "test/1".into(),
        };
        let body = client
            .get_v1(&format!("http://{addr}/channels?topic=t"))
            .unwrap();
        assert_eq!(body, b"{\"channels\":[]}");
        let req = server.join().unwrap();
        assert!(
            req.starts_with("GET /channels?topic=t HTTP/1.1\r\n"),
            "{req}"
        );
        assert!(req.contains("\r\nAccept: application/vnd.nsq; version=1.0\r\n"));
    }
}
