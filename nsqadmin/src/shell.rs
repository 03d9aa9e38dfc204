//! The HTML page behind every UI route: an empty root element, the settings the UI
//! reads as globals, and the embedded stylesheet and script. The page is generated here so the
//! globals always match this process's options and the requesting user.

use crate::options::Options;

/// A JSON value that is also safe inside an HTML `<script>` element.
fn js<T: serde::Serialize + ?Sized>(v: &T) -> String {
    serde_json::to_string(v)
        .unwrap_or_else(|_| "null".to_string())
        .replace("</", "<\\/")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}

/// Escapes text for a double-quoted HTML attribute.
fn attr(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('"', "&#34;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The page for `opts` (whose base path is already normalised) and a user who is or is not
/// an admin.
pub fn render(opts: &Options, is_admin: bool) -> String {
    let version = nsq_protocol::version::VERSION;
    // With the proxy the UI asks this server's own /render.
    let graphite_url = if opts.proxy_graphite {
        ""
    } else {
        opts.graphite_url.as_str()
    };
    let base = &opts.base_path;
    let assets = if base.ends_with('/') {
        format!("{base}static/")
    } else {
        format!("{base}/static/")
    };
    let assets = attr(&assets);
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
<title>nsqadmin</title>\n\
<script>\n\
var USER_AGENT = {ua};\n\
var VERSION = {version};\n\
var GRAPHITE_URL = {graphite_url};\n\
var GRAPH_ENABLED = {graph_enabled};\n\
var STATSD_COUNTER_FORMAT = {counter};\n\
var STATSD_GAUGE_FORMAT = {gauge};\n\
var STATSD_INTERVAL = {interval};\n\
var STATSD_PREFIX = {prefix};\n\
var NSQLOOKUPD = {lookupd};\n\
var IS_ADMIN = {is_admin};\n\
var BASE_PATH = {base};\n\
</script>\n\
<link rel=\"stylesheet\" href=\"{assets}main.css\">\n\
<link rel=\"icon\" href=\"{assets}favicon.png\">\n\
<script type=\"module\" src=\"{assets}main.js\"></script>\n\
</head>\n<body>\n<div id=\"root\"></div>\n</body>\n</html>\n",
        ua = js(&format!("nsqadmin/v{version}")),
        version = js(version),
        graphite_url = js(graphite_url),
        graph_enabled = !opts.graphite_url.is_empty(),
        counter = js(&opts.statsd_counter_format),
        gauge = js(&opts.statsd_gauge_format),
        interval = opts.statsd_interval.as_secs(),
        prefix = js(&opts.statsd_prefix),
        lookupd = js(&opts.nsqlookupd_http_addresses),
        is_admin = is_admin,
        base = js(base),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globals_and_assets() {
        let mut o = Options {
            nsqlookupd_http_addresses: vec!["127.0.0.1:4161".into()],
            graphite_url: "http://g</script>".into(),
            ..Options::default()
        };
        let page = render(&o, true);
        assert!(page.starts_with("<!DOCTYPE html>"));
        assert!(page.contains("<div id=\"root\"></div>"));
        assert!(page.contains("var USER_AGENT = \"nsqadmin/v1.3.0\";\n"));
        assert!(page.contains("var VERSION = \"1.3.0\";\n"));
        assert!(page.contains("var GRAPHITE_URL = \"http://g<\\/script>\";\n"));
        assert!(page.contains("var GRAPH_ENABLED = true;\n"));
        assert!(page.contains("var STATSD_INTERVAL = 60;\n"));
        assert!(page.contains("var NSQLOOKUPD = [\"127.0.0.1:4161\"];\n"));
        assert!(page.contains("var IS_ADMIN = true;\n"));
        assert!(page.contains("var BASE_PATH = \"/\";\n"));
        assert!(page.contains("<link rel=\"stylesheet\" href=\"/static/main.css\">"));
        assert!(page.contains("<script type=\"module\" src=\"/static/main.js\"></script>"));
        o.base_path = "/admin".into();
        o.proxy_graphite = true;
        let page = render(&o, false);
        assert!(page.contains("var BASE_PATH = \"/admin\";\n"));
        assert!(page.contains("var GRAPHITE_URL = \"\";\n"));
        assert!(page.contains("var IS_ADMIN = false;\n"));
        assert!(page.contains("<link rel=\"icon\" href=\"/admin/static/favicon.png\">"));
    }
}
