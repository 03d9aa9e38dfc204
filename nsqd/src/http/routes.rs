//! The route table (§2.2) and the router rules clients can observe (H-002, H-003): exact
//! matches, then the 301/307 redirects for a trailing slash or a case-insensitive path, then
//! OPTIONS and 405 with an `Allow` list, else 404. These follow httprouter v1.3, which the
//! reference uses, so the same requests get the same answers.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    Ping,
    Info,
    Pub,
    Mpub,
    Stats,
    TopicCreate,
    TopicDelete,
    TopicEmpty,
    TopicPause,
    TopicUnpause,
    ChannelCreate,
    ChannelDelete,
    ChannelEmpty,
    ChannelPause,
    ChannelUnpause,
    ConfigGet,
    ConfigPut,
    PprofIndex,
    PprofCmdline,
    PprofSymbol,
    PprofProfile,
    PprofHeap,
    PprofGoroutine,
    PprofBlock,
    PprofThreadcreate,
    SetBlockRate,
    FreeMemory,
}

/// The 28 method+path pairs. `:opt` matches one non-empty path segment.
const TABLE: &[(&str, &str, Route)] = &[
    ("GET", "/ping", Route::Ping),
    ("GET", "/info", Route::Info),
    ("POST", "/pub", Route::Pub),
    ("POST", "/mpub", Route::Mpub),
    ("GET", "/stats", Route::Stats),
    ("POST", "/topic/create", Route::TopicCreate),
    ("POST", "/topic/delete", Route::TopicDelete),
    ("POST", "/topic/empty", Route::TopicEmpty),
    ("POST", "/topic/pause", Route::TopicPause),
    ("POST", "/topic/unpause", Route::TopicUnpause),
    ("POST", "/channel/create", Route::ChannelCreate),
    ("POST", "/channel/delete", Route::ChannelDelete),
    ("POST", "/channel/empty", Route::ChannelEmpty),
    ("POST", "/channel/pause", Route::ChannelPause),
    ("POST", "/channel/unpause", Route::ChannelUnpause),
    ("GET", "/config/:opt", Route::ConfigGet),
    ("PUT", "/config/:opt", Route::ConfigPut),
    ("GET", "/debug/pprof/", Route::PprofIndex),
    ("GET", "/debug/pprof/cmdline", Route::PprofCmdline),
    ("GET", "/debug/pprof/symbol", Route::PprofSymbol),
    ("POST", "/debug/pprof/symbol", Route::PprofSymbol),
    ("GET", "/debug/pprof/profile", Route::PprofProfile),
    ("GET", "/debug/pprof/heap", Route::PprofHeap),
    ("GET", "/debug/pprof/goroutine", Route::PprofGoroutine),
    ("GET", "/debug/pprof/block", Route::PprofBlock),
    ("GET", "/debug/pprof/threadcreate", Route::PprofThreadcreate),
    ("PUT", "/debug/setblockrate", Route::SetBlockRate),
    ("POST", "/debug/freememory", Route::FreeMemory),
];

#[derive(Debug, PartialEq, Eq)]
pub enum Resolved {
    /// A route, with the `:opt` value when the pattern has one.
    Route(Route, Option<String>),
    /// Status (301 for GET, 307 otherwise) and the corrected path.
    Redirect(u16, String),
    /// OPTIONS on a known path: the `Allow` value.
    Options(String),
    /// A known path with another method: the `Allow` value.
    MethodNotAllowed(String),
    NotFound,
}

pub fn resolve(method: &str, path: &str) -> Resolved {
    let method_known = TABLE.iter().any(|(m, _, _)| *m == method);
    if method_known {
        if let Some((route, opt)) = lookup(method, path) {
            return Resolved::Route(route, opt);
        }
        if method != "CONNECT" && path != "/" {
            let code = if method == "GET" { 301 } else { 307 };
            if let Some(p) = trailing_slash_fix(method, path) {
                return Resolved::Redirect(code, p);
            }
            if let Some(p) = case_insensitive_fix(method, &clean_path(path)) {
                return Resolved::Redirect(code, p);
            }
        }
    }
    let allow = allowed(method, path);
    if allow.is_empty() {
        Resolved::NotFound
    } else if method == "OPTIONS" {
        Resolved::Options(allow)
    } else {
        Resolved::MethodNotAllowed(allow)
    }
}

/// Matches `path` against `pattern` segment by segment; `eq` compares static segments.
/// Returns the path rebuilt from the pattern (the corrected spelling) and the `:opt` value.
fn match_pattern(
    pattern: &str,
    path: &str,
    eq: impl Fn(&str, &str) -> bool,
) -> Option<(String, Option<String>)> {
    let mut pat = pattern.split('/');
    let mut segs = path.split('/');
    let mut rebuilt = Vec::new();
    let mut opt = None;
    loop {
        match (pat.next(), segs.next()) {
            (None, None) => break,
            (Some(p), Some(s)) => {
                if p.starts_with(':') {
                    if s.is_empty() {
                        return None;
                    }
                    opt = Some(s.to_string());
                    rebuilt.push(s);
                } else if eq(p, s) {
                    rebuilt.push(p);
                } else {
                    return None;
                }
            }
            _ => return None,
        }
    }
    Some((rebuilt.join("/"), opt))
}

fn lookup(method: &str, path: &str) -> Option<(Route, Option<String>)> {
    TABLE
        .iter()
        .filter(|(m, _, _)| *m == method)
        .find_map(|(_, pattern, route)| {
            match_pattern(pattern, path, |a, b| a == b).map(|(_, opt)| (*route, opt))
        })
}

/// The same path with the trailing slash removed or added, if that is a route.
fn trailing_slash_fix(method: &str, path: &str) -> Option<String> {
    let other = match path.strip_suffix('/') {
        Some(p) if !p.is_empty() => p.to_string(),
        Some(_) => return None,
        None => format!("{path}/"),
    };
    lookup(method, &other).map(|_| other)
}

/// A route matching `path` ignoring ASCII case (and a trailing slash), spelled as the route.
fn case_insensitive_fix(method: &str, path: &str) -> Option<String> {
    let with_fixed_slash = match path.strip_suffix('/') {
        Some(p) if !p.is_empty() => p.to_string(),
        _ => format!("{path}/"),
    };
    let routes = || TABLE.iter().filter(|(m, _, _)| *m == method);
    for candidate in [path, with_fixed_slash.as_str()] {
        let found = routes().find_map(|(_, pattern, _)| {
            match_pattern(pattern, candidate, |a, b| a.eq_ignore_ascii_case(b)).map(|(p, _)| p)
        });
        if found.is_some() {
            return found;
        }
    }
    None
}

/// The methods that have `path`, other than `method`, plus OPTIONS, sorted and joined like
/// httprouter's `Allow` header; empty when no other method has it.
fn allowed(method: &str, path: &str) -> String {
    let mut methods: Vec<&str> = Vec::new();
    for (m, _, _) in TABLE {
        if methods.contains(m) {
            continue;
        }
        // `*` asks about the server as a whole: every method it has.
        let wanted = if path == "*" {
            true
        } else {
            *m != method && lookup(m, path).is_some()
        };
        if wanted {
            methods.push(m);
        }
    }
    if methods.is_empty() {
        return String::new();
    }
    methods.push("OPTIONS");
    methods.sort_unstable();
    methods.join(", ")
}

/// Lexical path clean-up (`.`/`..` elements, repeated slashes), always rooted and keeping a
/// trailing slash, as httprouter's `CleanPath`.
pub fn clean_path(path: &str) -> String {
    let trailing = path.len() > 1 && path.ends_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for seg in path.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            s => parts.push(s),
        }
    }
    let mut out = String::with_capacity(path.len() + 1);
    for p in &parts {
        out.push('/');
        out.push_str(p);
    }
    if out.is_empty() || trailing {
        out.push('/');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redirect(code: u16, to: &str) -> Resolved {
        Resolved::Redirect(code, to.to_string())
    }

    #[test]
    fn twenty_eight_routes() {
        assert_eq!(TABLE.len(), 28);
    }

    #[test]
    fn exact_routes_and_params() {
        assert_eq!(resolve("GET", "/ping"), Resolved::Route(Route::Ping, None));
        assert_eq!(
            resolve("PUT", "/config/log_level"),
            Resolved::Route(Route::ConfigPut, Some("log_level".into()))
        );
        assert_eq!(
            resolve("POST", "/debug/pprof/symbol"),
            Resolved::Route(Route::PprofSymbol, None)
        );
        assert_eq!(
            resolve("GET", "/debug/pprof/"),
            Resolved::Route(Route::PprofIndex, None)
        );
    }

    #[test]
    fn not_found_and_method_not_allowed() {
        assert_eq!(resolve("GET", "/nope"), Resolved::NotFound);
        assert_eq!(resolve("GET", "/"), Resolved::NotFound);
        assert_eq!(resolve("GET", "/put"), Resolved::NotFound);
        assert_eq!(resolve("POST", "/ping/"), Resolved::NotFound);
        assert_eq!(resolve("GET", "/config/"), Resolved::NotFound);
        assert_eq!(resolve("GET", "/debug/pprof/allocs"), Resolved::NotFound);
        assert_eq!(
            resolve("GET", "/pub"),
            Resolved::MethodNotAllowed("OPTIONS, POST".into())
        );
        assert_eq!(
            resolve("DELETE", "/config/x"),
            Resolved::MethodNotAllowed("GET, OPTIONS, PUT".into())
        );
        assert_eq!(
            resolve("POST", "/config/x"),
            Resolved::MethodNotAllowed("GET, OPTIONS, PUT".into())
        );
        assert_eq!(
            resolve("HEAD", "/ping"),
            Resolved::MethodNotAllowed("GET, OPTIONS".into())
        );
    }

    #[test]
    fn options_lists_methods() {
        assert_eq!(
            resolve("OPTIONS", "/pub"),
            Resolved::Options("OPTIONS, POST".into())
        );
        assert_eq!(
            resolve("OPTIONS", "/config/msg_timeout"),
            Resolved::Options("GET, OPTIONS, PUT".into())
        );
        assert_eq!(
            resolve("OPTIONS", "/debug/pprof/symbol"),
            Resolved::Options("GET, OPTIONS, POST".into())
        );
        assert_eq!(resolve("OPTIONS", "/nope"), Resolved::NotFound);
        assert_eq!(
            resolve("OPTIONS", "*"),
            Resolved::Options("GET, OPTIONS, POST, PUT".into())
        );
    }

    #[test]
    fn redirects() {
        assert_eq!(resolve("GET", "/ping/"), redirect(301, "/ping"));
        assert_eq!(resolve("GET", "/PING"), redirect(301, "/ping"));
        assert_eq!(resolve("GET", "/Info"), redirect(301, "/info"));
        assert_eq!(resolve("GET", "/stats/"), redirect(301, "/stats"));
        assert_eq!(
            resolve("GET", "/debug/pprof"),
            redirect(301, "/debug/pprof/")
        );
        assert_eq!(
            resolve("GET", "/Debug/PProf"),
            redirect(301, "/debug/pprof/")
        );
        assert_eq!(resolve("GET", "//ping"), redirect(301, "/ping"));
        assert_eq!(resolve("GET", "/x/../ping"), redirect(301, "/ping"));
        assert_eq!(resolve("GET", "/STATS/"), redirect(301, "/stats"));
        assert_eq!(resolve("POST", "/pub/"), redirect(307, "/pub"));
        assert_eq!(
            resolve("POST", "/Topic/Create"),
            redirect(307, "/topic/create")
        );
        // A parameter keeps its spelling.
        assert_eq!(
            resolve("GET", "/CONFIG/Log_Level"),
            redirect(301, "/config/Log_Level")
        );
        assert_eq!(resolve("PUT", "/config/x/"), redirect(307, "/config/x"));
        // No tree for the method, no redirect.
        assert_eq!(resolve("DELETE", "/PING"), Resolved::NotFound);
    }

    #[test]
    fn clean_paths() {
        assert_eq!(clean_path("/"), "/");
        assert_eq!(clean_path(""), "/");
        assert_eq!(clean_path("a/b"), "/a/b");
        assert_eq!(clean_path("/a//b/./c/.."), "/a/b");
        assert_eq!(clean_path("/a/b/"), "/a/b/");
        assert_eq!(clean_path("/../a"), "/a");
    }
}
