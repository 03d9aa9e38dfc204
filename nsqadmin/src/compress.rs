//! Response compression for the whole server (A-003): gzip or raw deflate, whichever the
//! client's `Accept-Encoding` lists first.

use std::io::Write as _;

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, Response};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    Gzip,
    Deflate,
}

/// The first of `gzip` or `deflate` in `Accept-Encoding`, if any.
pub fn choose(headers: &HeaderMap) -> Option<Encoding> {
    for value in headers.get_all(header::ACCEPT_ENCODING) {
        let Ok(text) = value.to_str() else { continue };
        for item in text.split(',') {
            let name = item.split(';').next().unwrap_or("").trim();
            if name.eq_ignore_ascii_case("gzip") {
                return Some(Encoding::Gzip);
            }
            if name.eq_ignore_ascii_case("deflate") {
                return Some(Encoding::Deflate);
            }
        }
    }
    None
}

fn encode(enc: Encoding, data: &[u8]) -> std::io::Result<Vec<u8>> {
    match enc {
        Encoding::Gzip => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            e.write_all(data)?;
            e.finish()
        }
        Encoding::Deflate => {
            let mut e =
                flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
            e.write_all(data)?;
            e.finish()
        }
    }
}

/// Compresses `resp` with `enc` (when given and the body is not encoded already).
pub async fn apply(resp: Response<Body>, enc: Option<Encoding>) -> Response<Body> {
    let Some(enc) = enc else { return resp };
    if resp.headers().contains_key(header::CONTENT_ENCODING) {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    let data = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(d) => d,
        Err(e) => {
            tracing::error!("HTTP: failed to read response for compression - {}", e);
            return Response::from_parts(parts, Body::empty());
        }
    };
    let Ok(packed) = encode(enc, &data) else {
        return Response::from_parts(parts, Body::from(data));
    };
    let name = match enc {
        Encoding::Gzip => "gzip",
        Encoding::Deflate => "deflate",
    };
    parts.headers.remove(header::CONTENT_LENGTH);
    parts
        .headers
        .insert(header::CONTENT_ENCODING, HeaderValue::from_static(name));
    parts
        .headers
        .append(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    Response::from_parts(parts, Body::from(packed))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT_ENCODING, v.parse().unwrap());
        h
    }

    #[test]
    fn first_known_encoding_wins() {
        assert_eq!(
            choose(&headers("br, deflate, gzip")),
            Some(Encoding::Deflate)
        );
        assert_eq!(
            choose(&headers("gzip;q=0.5, deflate")),
            Some(Encoding::Gzip)
        );
        assert_eq!(choose(&headers("br")), None);
        assert_eq!(choose(&HeaderMap::new()), None);
    }

    #[test]
    fn round_trip() {
        use std::io::Read as _;
        let packed = encode(Encoding::Gzip, b"hello").unwrap();
        let mut out = String::new();
        flate2::read::GzDecoder::new(&packed[..])
            .read_to_string(&mut out)
            .unwrap();
        assert_eq!(out, "hello");
        let packed = encode(Encoding::Deflate, b"hello").unwrap();
        let mut out = String::new();
        flate2::read::DeflateDecoder::new(&packed[..])
            .read_to_string(&mut out)
            .unwrap();
        assert_eq!(out, "hello");
    }
}
