//! One HTTP delivery of a message body (T-042): a POST with the body, or a GET with the
//! query-escaped body put into the address.

use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE, USER_AGENT};

#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error("{0}")]
    Http(#[from] reqwest::Error),
    #[error("got status code {0}")]
    Status(u16),
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HeaderError {
    #[error("invalid header {0:?}")]
    Format(String),
    #[error("invalid header name or value in {0:?}")]
    Invalid(String),
}

/// Parses `--header` values: `Key: Value`, split at the first colon, both sides trimmed and
/// non-empty. A later value for the same key replaces the earlier one.
pub fn parse_headers(values: &[String]) -> Result<Vec<(String, String)>, HeaderError> {
    let mut out: Vec<(String, String)> = Vec::new();
    for v in values {
        let Some((key, value)) = v.split_once(':') else {
            return Err(HeaderError::Format(v.clone()));
        };
        let (key, value) = (key.trim(), value.trim());
        if key.is_empty() || value.is_empty() {
            return Err(HeaderError::Format(v.clone()));
        }
        out.retain(|(k, _)| !k.eq_ignore_ascii_case(key));
        out.push((key.to_string(), value.to_string()));
    }
    Ok(out)
}

/// Go's `url.QueryEscape`: unreserved bytes stay, a space becomes `+`, anything else `%XX`.
pub fn query_escape(body: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(body.len() * 3);
    for &b in body {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => {
                out.push('%');
                out.push(HEX[usize::from(b >> 4)] as char);
                out.push(HEX[usize::from(b & 0xf)] as char);
            }
        }
    }
    out
}

/// The GET URL for a body: the address is a printf pattern whose one `%s` takes the escaped
/// body; `%%` stands for `%`. Other `%` sequences are left as written.
pub fn get_url(pattern: &str, body: &[u8]) -> String {
    let mut out = String::with_capacity(pattern.len() + body.len() * 3);
    let mut rest = pattern;
    let mut filled = false;
    while let Some(i) = rest.find('%') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(tail) = after.strip_prefix('%') {
            out.push('%');
            rest = tail;
        } else if let Some(tail) = after.strip_prefix('s').filter(|_| !filled) {
            out.push_str(&query_escape(body));
            filled = true;
            rest = tail;
        } else {
            out.push('%');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// Whether a GET address has exactly one `%s` (T-040).
pub fn is_get_pattern(addr: &str) -> bool {
    addr.matches("%s").count() == 1
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
}

/// Sends the requests through one shared HTTP client that adds the headers every request
/// carries.
pub struct Sender {
    client: reqwest::Client,
    method: Method,
}

impl Sender {
    /// `headers` are the parsed `--header` values; they are applied after the user agent and
    /// content type, so they may replace them.
    pub fn new(
        method: Method,
        content_type: &str,
        headers: &[(String, String)],
        connect_timeout: Duration,
        request_timeout: Duration,
    ) -> Result<Sender, String> {
        let mut map = HeaderMap::new();
        let agent = crate::common::version_line("nsq_to_http");
        map.insert(USER_AGENT, header_value(&agent)?);
        if method == Method::Post {
            map.insert(CONTENT_TYPE, header_value(content_type)?);
        }
        for (k, v) in headers {
            let name = HeaderName::from_bytes(k.as_bytes())
                .map_err(|_| HeaderError::Invalid(format!("{k}: {v}")).to_string())?;
            map.insert(name, header_value(v)?);
        }
        let client = reqwest::Client::builder()
            .connect_timeout(connect_timeout)
            .timeout(request_timeout)
            .default_headers(map)
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Sender { client, method })
    }

    /// Delivers `body` to `addr`. Success is any 2xx for POST and exactly 200 for GET.
    pub async fn deliver(&self, addr: &str, body: &Bytes) -> Result<(), DeliveryError> {
        let request = match self.method {
            Method::Post => self.client.post(addr).body(body.clone()),
            Method::Get => self.client.get(get_url(addr, body)),
        };
        let response = request.send().await?;
        let status = response.status().as_u16();
        // Read the answer to the end so the connection can be reused.
        let _ = response.bytes().await;
        let ok = match self.method {
            Method::Post => (200..300).contains(&status),
            Method::Get => status == 200,
        };
        if ok {
            Ok(())
        } else {
            Err(DeliveryError::Status(status))
        }
    }
}

fn header_value(v: &str) -> Result<HeaderValue, String> {
    HeaderValue::from_str(v).map_err(|_| format!("invalid header value {v:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn headers_split_at_the_first_colon_and_trim() {
        let got = parse_headers(&strings(&[
            "X-One: 1",
            " Authorization :Bearer a:b ",
            "x-one:2",
        ]))
        .unwrap();
        assert_eq!(
            got,
            vec![
                ("Authorization".to_string(), "Bearer a:b".to_string()),
                ("x-one".to_string(), "2".to_string()),
            ]
        );
    }

    #[test]
    fn headers_need_both_sides() {
        for bad in ["X-One=1", "X-One:", ": v", "  :  ", "plain"] {
            assert!(parse_headers(&strings(&[bad])).is_err(), "{bad}");
        }
    }

    #[test]
    fn query_escape_matches_go() {
        assert_eq!(query_escape(b"a b&c=d/e?f"), "a+b%26c%3Dd%2Fe%3Ff");
        assert_eq!(query_escape(b"AZaz09-_.~"), "AZaz09-_.~");
        assert_eq!(query_escape("é\n".as_bytes()), "%C3%A9%0A");
        assert_eq!(query_escape(&[0xff, b'+']), "%FF%2B");
    }

    #[test]
    fn get_url_fills_the_one_placeholder() {
        assert_eq!(
            get_url("http://h:1/x?m=%s&p=100%%", b"hi there"),
            "http://h:1/x?m=hi+there&p=100%"
        );
        assert_eq!(get_url("http://h/%s/%d", b"a/b"), "http://h/a%2Fb/%d");
        assert!(is_get_pattern("http://h/?m=%s"));
        assert!(!is_get_pattern("http://h/"));
        assert!(!is_get_pattern("http://h/%s/%s"));
    }
}
