//! nsqd's route table (§2.2). The router rules clients observe (H-002, H-003) live in
//! `nsq_common::http::router`, shared with nsqlookupd.

use nsq_common::http::RouteTable;

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
    /// Beyond NSQ: the Prometheus exposition (the Go nsqd answers 404 here).
    Metrics,
}

/// The 28 method+path pairs of the Go nsqd, plus `GET /metrics`. `:opt` matches one non-empty
/// path segment.
pub static TABLE: RouteTable<Route> = RouteTable::new(&[
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
    ("GET", "/metrics", Route::Metrics),
]);

#[cfg(test)]
mod tests {
    use super::*;
    use nsq_common::http::Resolved;

    fn resolve(method: &str, path: &str) -> Resolved<Route> {
        TABLE.resolve(method, path)
    }

    fn redirect(code: u16, to: &str) -> Resolved<Route> {
        Resolved::Redirect(code, to.to_string())
    }

    #[test]
    fn twenty_eight_routes_plus_metrics() {
        assert_eq!(TABLE.len(), 29);
        assert_eq!(
            resolve("GET", "/metrics"),
            Resolved::Route(Route::Metrics, None)
        );
        assert_eq!(resolve("GET", "/Metrics/"), redirect(301, "/metrics"));
        assert_eq!(
            resolve("POST", "/metrics"),
            Resolved::MethodNotAllowed("GET, OPTIONS".into())
        );
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
}
