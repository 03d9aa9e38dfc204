//! A minimal blocking HTTP/1.1 client (one request per connection, `Connection: close`).

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

const HTTP_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone)]
pub struct HttpResponse {
    pub status: u16,
    /// Header names as sent by the server, in order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// The first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body parsed as JSON; panics with the body text if it is not JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "response body is not JSON ({e}), status {}: {:?}",
                self.status,
                self.text()
            )
        })
    }
}

pub fn http(addr: SocketAddr, method: &str, path_and_query: &str, body: &[u8]) -> HttpResponse {
    http_with_headers(addr, method, path_and_query, &[], body)
}

pub fn http_get(addr: SocketAddr, path_and_query: &str) -> HttpResponse {
    http(addr, "GET", path_and_query, b"")
}

pub fn http_post(addr: SocketAddr, path_and_query: &str, body: &[u8]) -> HttpResponse {
    http(addr, "POST", path_and_query, body)
}

/// Sends one request with extra `headers` and reads the whole response. `Host` and
/// `Connection: close` are always sent; `Content-Length` is added when the body is non-empty or
/// the method is POST/PUT, unless the caller supplied it.
pub fn http_with_headers(
    addr: SocketAddr,
    method: &str,
    path_and_query: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> HttpResponse {
    let mut stream = TcpStream::connect_timeout(&addr, HTTP_TIMEOUT)
        .unwrap_or_else(|e| panic!("HTTP connect to {addr}: {e}"));
    stream.set_write_timeout(Some(HTTP_TIMEOUT)).unwrap();

    let mut req = format!("{method} {path_and_query} HTTP/1.1\r\nHost: {addr}\r\n");
    let has = |n: &str| headers.iter().any(|(k, _)| k.eq_ignore_ascii_case(n));
    if !has("connection") {
        req.push_str("Connection: close\r\n");
    }
    if !has("content-length")
        && !has("transfer-encoding")
        && (!body.is_empty() || method == "POST" || method == "PUT")
    {
        req.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    let mut bytes = req.into_bytes();
    bytes.extend_from_slice(body);
    // The server may answer and close before reading a large body; that is fine.
    let _ = stream.write_all(&bytes);

    let deadline = Instant::now() + HTTP_TIMEOUT;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        if let Some(resp) = parse_response(&buf, false, method == "HEAD") {
            return resp;
        }
        let now = Instant::now();
        assert!(
            now < deadline,
            "HTTP {method} {path_and_query}: no complete response within {HTTP_TIMEOUT:?}; got {:?}",
            String::from_utf8_lossy(&buf)
        );
        stream.set_read_timeout(Some(deadline - now)).unwrap();
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            // A reset after the full response was sent still leaves a usable response.
            Err(_) => break,
        }
    }
    parse_response(&buf, true, method == "HEAD").unwrap_or_else(|| {
        panic!(
            "HTTP {method} {path_and_query}: incomplete response {:?}",
            String::from_utf8_lossy(&buf)
        )
    })
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Parses a complete response from `buf`, or answers `None` when more bytes are needed.
/// With `eof`, a body without length runs to the end of the data.
fn parse_response(buf: &[u8], eof: bool, head: bool) -> Option<HttpResponse> {
    let head_end = find(buf, b"\r\n\r\n")?;
    let head_text = String::from_utf8_lossy(&buf[..head_end]);
    let mut lines = head_text.split("\r\n");
    let status_line = lines.next()?;
    let status: u16 = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad HTTP status line {status_line:?}"));
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| {
            let (k, v) = l.split_once(':')?;
            Some((k.trim().to_string(), v.trim().to_string()))
        })
        .collect();
    let rest = &buf[head_end + 4..];
    let get = |n: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(n))
            .map(|(_, v)| v)
    };
    let no_body = head || status == 204 || status == 304 || (100..200).contains(&status);

    let body = if no_body {
        Vec::new()
    } else if get("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        decode_chunked(rest)?
    } else if let Some(len) = get("content-length") {
        let len: usize = len
            .parse()
            .unwrap_or_else(|_| panic!("bad Content-Length {len:?}"));
        if rest.len() < len {
            return None;
        }
        rest[..len].to_vec()
    } else if eof {
        rest.to_vec()
    } else {
        return None;
    };
    Some(HttpResponse {
        status,
        headers,
        body,
    })
}

/// Decodes a complete chunked body, or `None` if the final chunk has not arrived yet.
fn decode_chunked(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = find(data, b"\r\n")?;
        let size_text = String::from_utf8_lossy(&data[..line_end]);
        let size_hex = size_text.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_hex, 16)
            .unwrap_or_else(|_| panic!("bad chunk size line {size_text:?}"));
        data = &data[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        if data.len() < size + 2 {
            return None;
        }
        out.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn parses_content_length_and_chunked() {
        let r = parse_response(
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-A: b\r\n\r\nOK",
            false,
            false,
        )
        .unwrap();
        assert_eq!(
            (r.status, r.body.as_slice(), r.header("x-a")),
            (200, &b"OK"[..], Some("b"))
        );
        let chunked =
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n1\r\nc\r\n0\r\n\r\n";
        assert_eq!(parse_response(chunked, false, false).unwrap().body, b"abc");
        assert!(parse_response(&chunked[..chunked.len() - 7], false, false).is_none());
        let eof = b"HTTP/1.1 404 Not Found\r\n\r\nnope";
        assert!(parse_response(eof, false, false).is_none());
        assert_eq!(parse_response(eof, true, false).unwrap().body, b"nope");
    }
}
