//! `GET /metrics` on nsqd and nsqlookupd (beyond NSQ): the exposition is parsed after a known
//! workload and its numbers checked against the workload and against `/stats`.

use std::collections::BTreeMap;
use std::time::Duration;

use nsq_tests::lookupd::Nsqlookupd;
use nsq_tests::{http_get, http_post, stats_channel, stats_topic, wait_until, HttpResponse, Nsqd};

const WAIT: Duration = Duration::from_secs(20);
const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A parsed exposition: sample values keyed by name and `k="v"` labels (as written), and
/// each family's type.
struct Exposition {
    samples: BTreeMap<(String, String), f64>,
    types: BTreeMap<String, String>,
}

impl Exposition {
    /// Parses the text, checking the format rules a Prometheus server relies on: HELP then
    /// TYPE before a family's samples, each family once, samples of one family together,
    /// valid names, counters named `_total`.
    fn parse(text: &str) -> Exposition {
        assert!(text.ends_with('\n'), "exposition must end with a newline");
        let valid_name = |n: &str| {
            !n.is_empty()
                && !n.starts_with(|c: char| c.is_ascii_digit())
                && n.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
        };
        let mut samples = BTreeMap::new();
        let mut types = BTreeMap::new();
        let mut helped = String::new();
        let mut current = String::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# HELP ") {
                let (name, help) = rest.split_once(' ').expect("HELP has text");
                assert!(!help.is_empty(), "{line}");
                helped = name.to_string();
            } else if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').expect("TYPE has a kind");
                assert_eq!(name, helped, "TYPE without HELP first: {line}");
                assert!(valid_name(name), "bad name {name}");
                assert!(["counter", "gauge"].contains(&kind), "{line}");
                assert_eq!(
                    kind == "counter",
                    name.ends_with("_total"),
                    "counters and only counters end in _total: {line}"
                );
                assert!(
                    types.insert(name.to_string(), kind.to_string()).is_none(),
                    "{name} announced twice"
                );
                current = name.to_string();
            } else {
                assert!(!line.starts_with('#'), "stray comment {line}");
                let (series, value) = line.rsplit_once(' ').expect("sample has a value");
                let (name, labels) = match series.split_once('{') {
                    Some((n, l)) => (n, l.strip_suffix('}').expect("labels close")),
                    None => (series, ""),
                };
                assert_eq!(name, current, "sample outside its family: {line}");
                let value: f64 = value.parse().unwrap_or_else(|_| panic!("value of {line}"));
                assert!(
                    samples
                        .insert((name.to_string(), labels.to_string()), value)
                        .is_none(),
                    "duplicate series {line}"
                );
            }
        }
        Exposition { samples, types }
    }

    #[track_caller]
    fn value(&self, name: &str, labels: &str) -> f64 {
        match self.samples.get(&(name.to_string(), labels.to_string())) {
            Some(v) => *v,
            None => panic!("no series {name}{{{labels}}}"),
        }
    }

    fn has_family(&self, prefix: &str) -> bool {
        self.types.keys().any(|n| n.starts_with(prefix))
    }
}

#[track_caller]
fn scrape_response(addr: std::net::SocketAddr) -> HttpResponse {
    let r = http_get(addr, "/metrics");
    assert_eq!(r.status, 200, "{}", r.text());
    r
}

fn scrape(addr: std::net::SocketAddr) -> Exposition {
    Exposition::parse(&scrape_response(addr).text())
}

#[test]
fn nsqd_metrics_after_a_known_workload() {
    let nsqd = Nsqd::start_with(&[
        "--mem-queue-size=2",
        "--e2e-processing-latency-percentile=0.99,0.5",
    ]);
    let addr = nsqd.http_addr;
    for path in [
        "/topic/create?topic=mt",
        "/channel/create?topic=mt&channel=ch",
    ] {
        assert_eq!(http_post(addr, path, b"").status, 200, "{path}");
    }
    for i in 0..5 {
        let body = format!("message-{i}");
        assert_eq!(
            http_post(addr, "/pub?topic=mt", body.as_bytes()).status,
            200
        );
    }
    // Wait for the topic to hand all five to its channel.
    assert!(wait_until(WAIT, || {
        stats_channel(&nsqd.stats(), "mt", "ch").is_some_and(|c| c["depth"] == 5)
    }));

    let r = scrape_response(addr);
    assert_eq!(r.header("Content-Type"), Some(CONTENT_TYPE));
    assert_eq!(r.header("X-NSQ-Content-Type"), None);
    let m = Exposition::parse(&r.text());
    let stats = nsqd.stats();
    let ch = stats_channel(&stats, "mt", "ch").unwrap();
    let topic = stats_topic(&stats, "mt").unwrap();
    let t = r#"topic="mt""#;
    let tc = r#"topic="mt",channel="ch""#;
    assert_eq!(m.types["nsq_topic_messages_total"], "counter");
    assert_eq!(m.types["nsq_channel_depth"], "gauge");
    assert_eq!(m.value("nsq_topic_messages_total", t), 5.0);
    assert_eq!(m.value("nsq_topic_message_bytes_total", t), 45.0);
    assert_eq!(
        m.value("nsq_topic_depth", t),
        topic["depth"].as_f64().unwrap()
    );
    assert_eq!(m.value("nsq_channel_messages_total", tc), 5.0);
    assert_eq!(m.value("nsq_channel_depth", tc), 5.0);
    // Past --mem-queue-size the channel spills to its disk queue.
    let backend = m.value("nsq_channel_backend_depth", tc);
    assert_eq!(backend, ch["backend_depth"].as_f64().unwrap());
    assert!(backend >= 3.0, "backend depth {backend}");
    assert_eq!(m.value("nsq_channel_in_flight", tc), 0.0);
    assert_eq!(m.value("nsq_channel_clients", tc), 0.0);
    assert_eq!(m.value("nsq_channel_paused", tc), 0.0);
    assert_eq!(m.value("nsq_nsqd_topics", ""), 1.0);
    assert_eq!(m.value("nsq_nsqd_channels", ""), 1.0);
    assert_eq!(m.value("nsq_nsqd_healthy", ""), 1.0);
    assert_eq!(m.value("nsq_nsqd_info", r#"version="1.3.0""#), 1.0);
    assert!(m.value("process_resident_memory_bytes", "") > 0.0);
    assert!(m.value("process_open_fds", "") > 0.0);
    assert_eq!(m.types["process_cpu_seconds_total"], "counter");

    // Consume two: finish one, requeue the other.
    let mut c = nsqd.consumer("mt", "ch", 2);
    let first = c.read_message();
    let second = c.read_message();
    c.rdy(0);
    c.fin(&first.id);
    c.req(&second.id, 0);
    assert!(wait_until(WAIT, || {
        let m = scrape(addr);
        m.value("nsq_channel_in_flight", tc) == 0.0
            && m.value("nsq_channel_requeued_total", tc) == 1.0
    }));
    let m = scrape(addr);
    assert_eq!(m.value("nsq_channel_clients", tc), 1.0);
    assert_eq!(m.value("nsq_nsqd_clients", ""), 1.0);
    assert_eq!(m.value("nsq_channel_depth", tc), 4.0);
    assert_eq!(m.value("nsq_channel_timed_out_total", tc), 0.0);
    // The finished message is the one e2e sample, so every quantile is its latency.
    assert_eq!(
        m.value("nsq_channel_e2e_processing_latency_samples", tc),
        1.0
    );
    let p99 = m.value(
        "nsq_channel_e2e_processing_latency_seconds",
        r#"topic="mt",channel="ch",quantile="0.99""#,
    );
    let p50 = m.value(
        "nsq_channel_e2e_processing_latency_seconds",
        r#"topic="mt",channel="ch",quantile="0.5""#,
    );
    assert!(p99 > 0.0 && p99 < 60.0, "p99 {p99}");
    assert_eq!(p99, p50);
    assert!(m.samples.contains_key(&(
        "nsq_topic_e2e_processing_latency_seconds".into(),
        r#"topic="mt",quantile="0.99""#.into()
    )));
    // Per-client series are off by default.
    assert!(!m.has_family("nsq_client_"));
}

#[test]
fn nsqd_without_e2e_percentiles_has_no_latency_families() {
    let nsqd = Nsqd::start();
    assert_eq!(
        http_post(nsqd.http_addr, "/topic/create?topic=t", b"").status,
        200
    );
    let m = scrape(nsqd.http_addr);
    assert!(!m.has_family("nsq_topic_e2e"));
    assert!(!m.has_family("nsq_channel_e2e"));
    assert_eq!(m.value("nsq_topic_depth", r#"topic="t""#), 0.0);
}

#[test]
fn per_client_series_behind_the_flag() {
    let nsqd = Nsqd::start_with(&["--metrics-per-client"]);
    let mut consumer = nsqd.consumer("pc", "ch", 10);
    let mut publisher = nsqd.conn();
    for _ in 0..3 {
        publisher.publish("pc", b"x");
    }
    for _ in 0..3 {
        let msg = consumer.read_message();
        consumer.fin(&msg.id);
    }
    let consumer_port = consumer.local_addr().port().to_string();
    let publisher_port = publisher.local_addr().port().to_string();
    let find = |m: &Exposition, name: &str, port: &str| -> Option<f64> {
        m.samples
            .iter()
            .find(|((n, labels), _)| {
                n == name
                    && labels.contains(&format!(":{port}\""))
                    && labels.contains("topic=\"pc\"")
            })
            .map(|(_, v)| *v)
    };
    assert!(wait_until(WAIT, || {
        find(
            &scrape(nsqd.http_addr),
            "nsq_client_finished_total",
            &consumer_port,
        ) == Some(3.0)
    }));
    let m = scrape(nsqd.http_addr);
    assert_eq!(m.types["nsq_client_finished_total"], "counter");
    assert_eq!(
        find(&m, "nsq_client_messages_total", &consumer_port),
        Some(3.0)
    );
    assert_eq!(find(&m, "nsq_client_ready", &consumer_port), Some(10.0));
    assert_eq!(find(&m, "nsq_client_in_flight", &consumer_port), Some(0.0));
    assert_eq!(
        find(&m, "nsq_client_published_total", &publisher_port),
        Some(3.0)
    );
    assert_eq!(m.value("nsq_nsqd_clients", ""), 2.0);
}

#[test]
fn metrics_route_follows_the_router_rules() {
    let nsqd = Nsqd::start();
    let r = http_post(nsqd.http_addr, "/metrics", b"");
    assert_eq!(r.status, 405);
    assert_eq!(r.header("Allow"), Some("GET, OPTIONS"));
    let r = http_get(nsqd.http_addr, "/metrics/");
    assert_eq!((r.status, r.header("Location")), (301, Some("/metrics")));
}

#[test]
fn nsqlookupd_metrics_count_the_registration_db() {
    let l = Nsqlookupd::start();
    let empty = scrape(l.http_addr);
    assert_eq!(empty.value("nsq_lookupd_producers", ""), 0.0);
    assert_eq!(empty.value("nsq_lookupd_topics", ""), 0.0);
    assert_eq!(empty.value("nsq_lookupd_info", r#"version="1.3.0""#), 1.0);

    let r = scrape_response(l.http_addr);
    assert_eq!(r.header("Content-Type"), Some(CONTENT_TYPE));

    let nsqd = Nsqd::start_with(&[&l.nsqd_arg(), "--broadcast-address=127.0.0.1"]);
    for path in [
        "/topic/create?topic=a",
        "/channel/create?topic=a&channel=c1",
        "/channel/create?topic=a&channel=c2",
        "/topic/create?topic=b",
    ] {
        assert_eq!(http_post(nsqd.http_addr, path, b"").status, 200);
    }
    assert!(wait_until(WAIT, || {
        let m = scrape(l.http_addr);
        m.value("nsq_lookupd_channels", "") == 2.0 && m.value("nsq_lookupd_topics", "") == 2.0
    }));
    let m = scrape(l.http_addr);
    assert_eq!(m.value("nsq_lookupd_producers", ""), 1.0);
    assert_eq!(m.value("nsq_lookupd_topic_producers", r#"topic="a""#), 1.0);
    assert_eq!(m.value("nsq_lookupd_topic_producers", r#"topic="b""#), 1.0);
    assert_eq!(
        m.value("nsq_lookupd_topic_tombstoned_producers", r#"topic="a""#),
        0.0
    );
    assert!(m.value("process_resident_memory_bytes", "") > 0.0);
}

#[test]
fn grafana_dashboard_uses_only_exported_names() {
    let l = Nsqlookupd::start();
    let nsqd = Nsqd::start_with(&["--e2e-processing-latency-percentile=0.99"]);
    let mut names: Vec<String> = scrape(nsqd.http_addr).types.into_keys().collect();
    names.extend(scrape(l.http_addr).types.into_keys());

    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../contrib/grafana/nsq-dashboard.json");
    let dashboard: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut exprs = Vec::new();
    collect_exprs(&dashboard, &mut exprs);
    assert!(exprs.len() > 10, "{exprs:?}");
    let name_re = regex::Regex::new(r"\b(nsq|process)_[a-z0-9_]+").unwrap();
    for expr in &exprs {
        for m in name_re.find_iter(expr) {
            assert!(
                names.iter().any(|n| n == m.as_str()),
                "dashboard uses {} which neither daemon exports ({expr})",
                m.as_str()
            );
        }
    }
}

/// Every PromQL expression and variable query in a dashboard document.
fn collect_exprs(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                match (k.as_str(), v) {
                    ("expr" | "definition", serde_json::Value::String(s)) => out.push(s.clone()),
                    _ => collect_exprs(v, out),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|i| collect_exprs(i, out)),
        _ => {}
    }
}
