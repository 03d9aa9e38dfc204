//! Route tables and the router rules clients can observe (H-002, H-003): exact matches, then
//! the 301/307 redirects for a trailing slash or a case-insensitive path, then OPTIONS and 405
//! with an `Allow` list, else 404. The Go daemons use httprouter v1.3, so these follow its
//! rules and the same requests get the same answers from every daemon.
//!
//! A daemon describes its API as a static table of `(method, pattern, route)`; a pattern
//! segment starting with `:` matches one non-empty path segment (the route's parameter).

/// One daemon's method+path table. `R` names the handler, usually a small `Copy` enum.
pub struct RouteTable<R: 'static> {
    entries: &'static [(&'static str, &'static str, R)],
}

#[derive(Debug, PartialEq, Eq)]
pub enum Resolved<R> {
    /// A route, with the `:param` value when the pattern has one.
    Route(R, Option<String>),
    /// Status (301 for GET, 307 otherwise) and the corrected path.
    Redirect(u16, String),
    /// OPTIONS on a known path: the `Allow` value.
    Options(String),
    /// A known path with another method: the `Allow` value.
    MethodNotAllowed(String),
    NotFound,
}

impl<R: Copy> RouteTable<R> {
    pub const fn new(entries: &'static [(&'static str, &'static str, R)]) -> Self {
        RouteTable { entries }
    }

    /// The number of method+path pairs.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn resolve(&self, method: &str, path: &str) -> Resolved<R> {
        let method_known = self.entries.iter().any(|(m, _, _)| *m == method);
        if method_known {
            if let Some((route, param)) = self.lookup(method, path) {
                return Resolved::Route(route, param);
            }
            if method != "CONNECT" && path != "/" {
                let code = if method == "GET" { 301 } else { 307 };
                if let Some(p) = self.trailing_slash_fix(method, path) {
                    return Resolved::Redirect(code, p);
                }
                if let Some(p) = self.case_insensitive_fix(method, &clean_path(path)) {
                    return Resolved::Redirect(code, p);
                }
            }
        }
        let allow = self.allowed(method, path);
        if allow.is_empty() {
            Resolved::NotFound
        } else if method == "OPTIONS" {
            Resolved::Options(allow)
        } else {
            Resolved::MethodNotAllowed(allow)
        }
    }

    fn lookup(&self, method: &str, path: &str) -> Option<(R, Option<String>)> {
        self.entries
            .iter()
            .filter(|(m, _, _)| *m == method)
            .find_map(|(_, pattern, route)| {
                match_pattern(pattern, path, |a, b| a == b).map(|(_, param)| (*route, param))
            })
    }

    /// The same path with the trailing slash removed or added, if that is a route.
    fn trailing_slash_fix(&self, method: &str, path: &str) -> Option<String> {
        let other = match path.strip_suffix('/') {
            Some(p) if !p.is_empty() => p.to_string(),
            Some(_) => return None,
            None => format!("{path}/"),
        };
        self.lookup(method, &other).map(|_| other)
    }

    /// A route matching `path` ignoring ASCII case (and a trailing slash), spelled as the route.
    fn case_insensitive_fix(&self, method: &str, path: &str) -> Option<String> {
        let with_fixed_slash = match path.strip_suffix('/') {
            Some(p) if !p.is_empty() => p.to_string(),
            _ => format!("{path}/"),
        };
        for candidate in [path, with_fixed_slash.as_str()] {
            let found = self
                .entries
                .iter()
                .filter(|(m, _, _)| *m == method)
                .find_map(|(_, pattern, _)| {
                    match_pattern(pattern, candidate, |a, b| a.eq_ignore_ascii_case(b))
                        .map(|(p, _)| p)
                });
            if found.is_some() {
                return found;
            }
        }
        None
    }

    /// The methods that have `path`, other than `method`, plus OPTIONS, sorted and joined like
    /// httprouter's `Allow` header; empty when no other method has it.
    fn allowed(&self, method: &str, path: &str) -> String {
        let mut methods: Vec<&str> = Vec::new();
        for (m, _, _) in self.entries {
            if methods.contains(m) {
                continue;
            }
            // `*` asks about the server as a whole: every method it has.
            let wanted = if path == "*" {
                true
            } else {
                *m != method && self.lookup(m, path).is_some()
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
}

/// Matches `path` against `pattern` segment by segment; `eq` compares static segments.
/// Returns the path rebuilt from the pattern (the corrected spelling) and the `:param` value.
fn match_pattern(
    pattern: &str,
    path: &str,
    eq: impl Fn(&str, &str) -> bool,
) -> Option<(String, Option<String>)> {
    let mut pat = pattern.split('/');
    let mut segs = path.split('/');
    let mut rebuilt = Vec::new();
    let mut param = None;
    loop {
        match (pat.next(), segs.next()) {
            (None, None) => break,
            (Some(p), Some(s)) => {
                if p.starts_with(':') {
                    if s.is_empty() {
                        return None;
                    }
                    param = Some(s.to_string());
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
    Some((rebuilt.join("/"), param))
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

    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    enum R {
        Ping,
        Pub,
        Get,
        Put,
        Pprof,
        Debug,
    }

    static TABLE: RouteTable<R> = RouteTable::new(&[
        ("GET", "/ping", R::Ping),
        ("POST", "/pub", R::Pub),
        ("GET", "/config/:opt", R::Get),
        ("PUT", "/config/:opt", R::Put),
        ("GET", "/debug", R::Debug),
        ("GET", "/debug/pprof", R::Pprof),
    ]);

    fn redirect(code: u16, to: &str) -> Resolved<R> {
        Resolved::Redirect(code, to.to_string())
    }

    #[test]
    fn exact_routes_and_params() {
        assert_eq!(TABLE.len(), 6);
        assert_eq!(
            TABLE.resolve("GET", "/ping"),
            Resolved::Route(R::Ping, None)
        );
        assert_eq!(
            TABLE.resolve("PUT", "/config/log_level"),
            Resolved::Route(R::Put, Some("log_level".into()))
        );
        assert_eq!(
            TABLE.resolve("GET", "/debug"),
            Resolved::Route(R::Debug, None)
        );
    }

    #[test]
    fn not_found_and_method_not_allowed() {
        assert_eq!(TABLE.resolve("GET", "/nope"), Resolved::NotFound);
        assert_eq!(TABLE.resolve("GET", "/config/"), Resolved::NotFound);
        assert_eq!(
            TABLE.resolve("GET", "/pub"),
            Resolved::MethodNotAllowed("OPTIONS, POST".into())
        );
        assert_eq!(
            TABLE.resolve("DELETE", "/config/x"),
            Resolved::MethodNotAllowed("GET, OPTIONS, PUT".into())
        );
        assert_eq!(
            TABLE.resolve("OPTIONS", "/pub"),
            Resolved::Options("OPTIONS, POST".into())
        );
        assert_eq!(
            TABLE.resolve("OPTIONS", "*"),
            Resolved::Options("GET, OPTIONS, POST, PUT".into())
        );
    }

    #[test]
    fn redirects() {
        assert_eq!(TABLE.resolve("GET", "/ping/"), redirect(301, "/ping"));
        assert_eq!(TABLE.resolve("GET", "/PING"), redirect(301, "/ping"));
        // A route registered without a trailing slash redirects the slashed form to itself.
        assert_eq!(
            TABLE.resolve("GET", "/debug/pprof/"),
            redirect(301, "/debug/pprof")
        );
        assert_eq!(TABLE.resolve("POST", "/pub/"), redirect(307, "/pub"));
        assert_eq!(
            TABLE.resolve("GET", "/CONFIG/Log_Level"),
            redirect(301, "/config/Log_Level")
        );
        assert_eq!(TABLE.resolve("DELETE", "/PING"), Resolved::NotFound);
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
