//! What a handler answers, and how each kind is written on the wire (H-001).
//!
//! The Go daemons share two response decorators. V1 (every API route) always adds
//! `X-NSQ-Content-Type: nsq; version=1.0`, writes text raw, JSON compact with a JSON content
//! type, and errors as `{"message":"TEXT"}`. PlainText (`/ping`, and nsqd's two `/debug` actions)
//! writes the text with no NSQ header, success or error alike. nsqd and nsqlookupd answer the same
//! way, so both use these shapes.

use axum::body::Body;
use axum::http::{header, HeaderValue, Response, StatusCode};

pub const NSQ_CONTENT_TYPE: &str = "X-NSQ-Content-Type";
pub const NSQ_CONTENT_TYPE_V1: &str = "nsq; version=1.0";
const JSON_TYPE: &str = "application/json; charset=utf-8";
/// What Go's content sniffing answers for the text nsqd writes.
const TEXT_TYPE: &str = "text/plain; charset=utf-8";

#[derive(Debug)]
pub enum Reply {
    /// V1 success with no data: 200 and an empty body.
    Empty,
    /// V1 success with text data, written raw.
    Text(String),
    /// V1 success with structured data, already rendered as compact JSON.
    Json(String),
    /// V1 error: the status and `{"message":"TEXT"}`.
    Err(u16, String),
    /// PlainText decorator: the status and the text as the body.
    Plain(u16, String),
    /// PlainText decorator given no data. The reference panics there (QRK-01); the
    /// dispatcher replicates the 500 it ends in.
    PlainNil,
    /// A response built elsewhere (redirects, OPTIONS, debug pages).
    Raw(Box<Response<Body>>),
}

impl Reply {
    pub fn err(status: u16, text: impl Into<String>) -> Reply {
        Reply::Err(status, text.into())
    }

    /// The status the request log reports.
    pub fn status(&self) -> u16 {
        match self {
            Reply::Empty | Reply::Text(_) | Reply::Json(_) | Reply::PlainNil => 200,
            Reply::Err(s, _) | Reply::Plain(s, _) => *s,
            Reply::Raw(r) => r.status().as_u16(),
        }
    }

    pub fn into_response(self) -> Response<Body> {
        match self {
            Reply::Empty => v1(200, None, Vec::new()),
            Reply::Text(t) => v1(200, None, t.into_bytes()),
            Reply::Json(j) => v1(200, Some(JSON_TYPE), j.into_bytes()),
            Reply::Err(status, text) => v1(status, Some(JSON_TYPE), error_body(&text).into_bytes()),
            Reply::Plain(status, text) => plain(status, text.into_bytes()),
            Reply::PlainNil => v1(
                500,
                Some(JSON_TYPE),
                error_body("INTERNAL_ERROR").into_bytes(),
            ),
            Reply::Raw(r) => *r,
        }
    }
}

/// `{"message":"TEXT"}` with Go's string escaping.
pub fn error_body(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 14);
    out.push_str("{\"message\":");
    nsq_protocol::json::push_json_string(&mut out, text);
    out.push('}');
    out
}

fn status_code(status: u16) -> StatusCode {
    StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// A text body gets the sniffed text type; an empty one gets none, as in Go.
fn text_type(body: &[u8]) -> Option<&'static str> {
    (!body.is_empty()).then_some(TEXT_TYPE)
}

fn v1(status: u16, content_type: Option<&'static str>, body: Vec<u8>) -> Response<Body> {
    let content_type = content_type.or_else(|| text_type(&body));
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status_code(status);
    let headers = resp.headers_mut();
    if let Some(ct) = content_type {
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
    }
    headers.insert(
        NSQ_CONTENT_TYPE,
        HeaderValue::from_static(NSQ_CONTENT_TYPE_V1),
    );
    resp
}

pub fn plain(status: u16, body: Vec<u8>) -> Response<Body> {
    let content_type = text_type(&body);
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status_code(status);
    if let Some(ct) = content_type {
        resp.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header<'a>(r: &'a Response<Body>, name: &str) -> Option<&'a str> {
        r.headers().get(name).and_then(|v| v.to_str().ok())
    }

    #[test]
    fn error_body_uses_go_escaping() {
        assert_eq!(error_body("NOT_FOUND"), r#"{"message":"NOT_FOUND"}"#);
        assert_eq!(
            error_body("a<b>&\"c\""),
            r#"{"message":"a\u003cb\u003e\u0026\"c\""}"#
        );
    }

    #[test]
    fn v1_headers() {
        let ok = Reply::Text("OK".into()).into_response();
        assert_eq!(ok.status(), 200);
        assert_eq!(header(&ok, "x-nsq-content-type"), Some("nsq; version=1.0"));
        assert_eq!(
            header(&ok, "content-type"),
            Some("text/plain; charset=utf-8")
        );

        let empty = Reply::Empty.into_response();
        assert_eq!(
            header(&empty, "x-nsq-content-type"),
            Some("nsq; version=1.0")
        );
        assert_eq!(header(&empty, "content-type"), None);

        let err = Reply::err(404, "NOT_FOUND").into_response();
        assert_eq!(err.status(), 404);
        assert_eq!(
            header(&err, "content-type"),
            Some("application/json; charset=utf-8")
        );
        assert_eq!(header(&err, "x-nsq-content-type"), Some("nsq; version=1.0"));
    }

    #[test]
    fn plain_text_has_no_nsq_header() {
        let r = Reply::Plain(500, "NOK - disk full".into()).into_response();
        assert_eq!(r.status(), 500);
        assert_eq!(header(&r, "x-nsq-content-type"), None);
        assert_eq!(
            header(&r, "content-type"),
            Some("text/plain; charset=utf-8")
        );
        assert_eq!(Reply::Plain(500, String::new()).status(), 500);
    }
}
