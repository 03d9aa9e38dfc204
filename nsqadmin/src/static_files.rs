//! The embedded UI files behind `/static/:asset` and `/fonts/:asset`. The Vite build
//! of `nsqadmin-ui` writes them flat into `nsqadmin/static/`; `build.rs` embeds that folder.

use axum::body::Body;
use axum::http::{header, HeaderValue, Response, StatusCode};
use nsq_common::http::Reply;

include!(concat!(env!("OUT_DIR"), "/static_assets.rs"));

/// The embedded file called `name`, if any.
pub fn asset(name: &str) -> Option<&'static [u8]> {
    ASSETS.iter().find(|(n, _)| *n == name).map(|(_, b)| *b)
}

/// The Content-Type for a file name: Go's built-in MIME table, then the reference's
/// fallbacks for fonts and source maps.
pub fn content_type(name: &str) -> Option<&'static str> {
    let ext = name.rsplit_once('.').map(|(_, e)| e)?;
    Some(match ext.to_ascii_lowercase().as_str() {
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "html" | "htm" => "text/html; charset=utf-8",
        "json" | "map" => "application/json",
        "png" => "image/png",
        "gif" => "image/gif",
        "jpg" | "jpeg" => "image/jpeg",
        "webp" => "image/webp",
        "avif" => "image/avif",
        "ico" => "image/x-icon",
        "svg" => "image/svg+xml",
        "wasm" => "application/wasm",
        "xml" => "text/xml; charset=utf-8",
        "txt" => "text/plain; charset=utf-8",
        "woff" => "application/font-woff",
        "woff2" => "application/font-woff2",
        "ttf" => "application/font-sfnt",
        "eot" => "application/vnd.ms-fontobject",
        _ => return None,
    })
}

/// A file of `--dev-static-dir` (UI development without rebuilding nsqadmin). Only plain
/// file names are looked up, so nothing outside the directory can be read.
fn dev_asset(dir: &str, name: &str) -> Option<Vec<u8>> {
    if name.is_empty() || name.starts_with('.') || name.contains(['/', '\\']) {
        return None;
    }
    std::fs::read(std::path::Path::new(dir).join(name)).ok()
}

/// `GET /static/:asset` and `/fonts/:asset`: the file (from `dev_dir` when it is set, else
/// embedded), or a plain-text 404 `NOT_FOUND`.
pub fn serve(name: &str, dev_dir: &str) -> Reply {
    let body = if dev_dir.is_empty() {
        asset(name).map(Body::from)
    } else {
        dev_asset(dev_dir, name).map(Body::from)
    };
    let Some(body) = body else {
        return Reply::Plain(404, "NOT_FOUND".to_string());
    };
    let mut resp = Response::new(body);
    *resp.status_mut() = StatusCode::OK;
    if let Some(ct) = content_type(name) {
        resp.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
    }
    Reply::Raw(Box::new(resp))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_and_assets() {
        assert_eq!(
            content_type("main.js"),
            Some("text/javascript; charset=utf-8")
        );
        assert_eq!(content_type("main.css"), Some("text/css; charset=utf-8"));
        assert_eq!(content_type("x.woff2"), Some("application/font-woff2"));
        assert_eq!(content_type("x.map"), Some("application/json"));
        assert_eq!(content_type("noext"), None);
        // The UI build may be rewriting static/ while this builds, so only check the table.
        for (name, body) in ASSETS {
            assert_eq!(asset(name), Some(*body));
        }
        assert!(asset("nope.js").is_none());
        let dir = std::env::temp_dir().join(format!("nsqadmin-dev-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("a.js"), "x").unwrap();
        let d = dir.to_str().unwrap();
        assert_eq!(dev_asset(d, "a.js").as_deref(), Some(&b"x"[..]));
        assert!(dev_asset(d, "..").is_none());
        assert!(dev_asset(d, "b.js").is_none());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
