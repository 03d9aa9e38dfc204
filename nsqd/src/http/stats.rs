//! `GET /stats` (H-029) and its two renderings: JSON with Go's key order and omission rules
//! (H-040..H-047) and the operator text format with Go's printf widths (H-050..H-053).

use std::fmt::Write as _;
use std::time::Duration;

use nsq_common::duration::format_go_duration;
use nsq_common::http::{parse_bool_param, Query, Reply};
use nsq_common::memstats::MemStats;
use nsq_protocol::json::push_json_string;

use crate::nsqd::Nsqd;
use crate::stats::{ChannelStats, ClientStats, TopicStats};

/// Everything one `/stats` answer shows, gathered once so both renderings (and tests) work on a
/// fixed snapshot.
#[derive(Debug, Clone)]
pub struct StatsDoc {
    pub health: String,
    /// Unix seconds.
    pub start_time: i64,
    /// `start_time` as RFC 3339 in local time, for the text format.
    pub start_time_text: String,
    pub uptime: Duration,
    /// Wall clock used for the clients' `connected:` durations.
    pub now_unix_nanos: i64,
    /// None when a topic filter matched nothing (`"topics":null`).
    pub topics: Option<Vec<TopicStats>>,
    /// None when `include_mem=false` (the key is then left out).
    pub memory: Option<MemStats>,
    /// Empty renders as `null`, as Go's nil slice does.
    pub producers: Vec<ClientStats>,
}

pub fn handle(nsqd: &Nsqd, raw_query: &str) -> Reply {
    let query = match Query::parse(raw_query) {
        Ok(q) => q,
        Err(e) => {
            tracing::error!("failed to parse request params - {}", e);
            return Reply::err(400, "INVALID_REQUEST");
        }
    };
    // An empty filter is no filter, as in Go.
    let filter = |key: &str| {
        query
            .get(key)
            .filter(|v| !v.is_empty())
            .map(|v| String::from_utf8_lossy(v).into_owned())
    };
    let json = query.get("format") == Some(&b"json"[..]);
    let topic_filter = filter("topic");
    let channel_filter = filter("channel");
    let flag = |key: &str| query.get(key).and_then(parse_bool_param).unwrap_or(true);
    let include_clients = flag("include_clients");
    let include_mem = flag("include_mem");

    let doc = gather(
        nsqd,
        topic_filter.as_deref(),
        channel_filter.as_deref(),
        include_clients,
        include_mem,
    );
    if json {
        Reply::Json(doc.to_json())
    } else {
        Reply::Text(doc.to_text())
    }
}

fn gather(
    nsqd: &Nsqd,
    topic_filter: Option<&str>,
    channel_filter: Option<&str>,
    include_clients: bool,
    include_mem: bool,
) -> StatsDoc {
    let mut topics = nsqd.stats(topic_filter, channel_filter, include_clients);
    // The reference lists each client's publish counts the same way under channels as under
    // producers: only the filtered topic, else a single one (QRK-11).
    for t in topics.iter_mut().flatten() {
        for c in &mut t.channels {
            for client in c.clients.iter_mut().flatten() {
                reduce_pub_counts(client, topic_filter);
            }
        }
    }
    // Go returns before collecting producers when the topic filter matches nothing.
    let producers = if include_clients && topics.is_some() {
        nsqd.producer_stats(topic_filter)
    } else {
        Vec::new()
    };
    let start_time_text = chrono::DateTime::from_timestamp(nsqd.start_time, 0)
        .map(|t| {
            t.with_timezone(&chrono::Local)
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        })
        .unwrap_or_default();
    StatsDoc {
        health: nsqd.health.status(),
        start_time: nsqd.start_time,
        start_time_text,
        uptime: nsqd.started_at.elapsed(),
        now_unix_nanos: crate::clock::unix_nanos(),
        topics,
        memory: include_mem.then(nsq_common::memstats::read),
        producers,
    }
}

fn reduce_pub_counts(client: &mut ClientStats, topic_filter: Option<&str>) {
    if let Some(t) = topic_filter {
        client.pub_counts.retain(|(name, _)| name == t);
    }
    client.pub_counts.truncate(1);
}

/// Appends `{"k":v,...}` members with the commas in the right places.
struct JsonObject<'a> {
    out: &'a mut String,
    first: bool,
}

impl<'a> JsonObject<'a> {
    fn open(out: &'a mut String) -> Self {
        out.push('{');
        JsonObject { out, first: true }
    }

    fn key(&mut self, key: &str) -> &mut String {
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
        self.out.push('"');
        self.out.push_str(key);
        self.out.push_str("\":");
        self.out
    }

    fn str(&mut self, key: &str, value: &str) {
        push_json_string(self.key(key), value);
    }

    fn num(&mut self, key: &str, value: impl std::fmt::Display) {
        let _ = write!(self.key(key), "{value}");
    }

    fn bool(&mut self, key: &str, value: bool) {
        self.key(key).push_str(if value { "true" } else { "false" });
    }

    fn raw(&mut self, key: &str, json: &str) {
        self.key(key).push_str(json);
    }

    fn close(self) {
        self.out.push('}');
    }
}

fn push_array<T>(out: &mut String, items: &[T], mut each: impl FnMut(&mut String, &T)) {
    out.push('[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        each(out, item);
    }
    out.push(']');
}

impl StatsDoc {
    /// The H-040 document.
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(1024);
        let mut o = JsonObject::open(&mut out);
        o.str("version", nsq_protocol::version::VERSION);
        o.str("health", &self.health);
        o.num("start_time", self.start_time);
        match &self.topics {
            None => o.raw("topics", "null"),
            Some(topics) => push_array(o.key("topics"), topics, push_topic_json),
        }
        if let Some(m) = &self.memory {
            push_memory_json(o.key("memory"), m);
        }
        if self.producers.is_empty() {
            o.raw("producers", "null");
        } else {
            push_array(o.key("producers"), &self.producers, push_client_json);
        }
        o.close();
        out
    }

    /// The H-050 text page.
    pub fn to_text(&self) -> String {
        let mut w = String::with_capacity(1024);
        let _ = writeln!(w, "{}", nsq_protocol::version::version_string("nsqd"));
        let _ = writeln!(w, "start_time {}", self.start_time_text);
        let _ = writeln!(w, "uptime {}", format_go_duration(self.uptime));
        let _ = writeln!(w, "\nHealth: {}", self.health);
        if let Some(m) = &self.memory {
            w.push_str("\nMemory:\n");
            for (name, value) in memory_fields(m) {
                let _ = writeln!(w, "   {name:<25}\t{value}");
            }
        }
        let topics = self.topics.as_deref().unwrap_or_default();
        // Go writes "\nTopics:" without a newline; each topic line starts with one, so the
        // first topic follows directly and later ones after a blank line.
        w.push_str(if topics.is_empty() {
            "\nTopics: None\n"
        } else {
            "\nTopics:"
        });
        for t in topics {
            let _ = writeln!(
                w,
                "\n{}[{:<15}] depth: {:<5} be-depth: {:<5} msgs: {:<8} e2e%: {}",
                if t.paused { "*P " } else { "   " },
                t.topic_name,
                t.depth,
                t.backend_depth,
                t.message_count,
                t.e2e_processing_latency.to_text(),
            );
            for c in &t.channels {
                push_channel_text(&mut w, c, self.now_unix_nanos);
            }
        }
        if self.producers.is_empty() {
            w.push_str("\nProducers: None\n");
        } else {
            w.push_str("\nProducers:\n");
            for p in &self.producers {
                let _ = writeln!(w, "   {}", client_text(p, self.now_unix_nanos));
            }
        }
        w
    }
}

fn memory_fields(m: &MemStats) -> [(&'static str, u64); 9] {
    [
        ("heap_objects", m.heap_objects),
        ("heap_idle_bytes", m.heap_idle_bytes),
        ("heap_in_use_bytes", m.heap_in_use_bytes),
        ("heap_released_bytes", m.heap_released_bytes),
        ("gc_pause_usec_100", m.gc_pause_usec_100),
        ("gc_pause_usec_99", m.gc_pause_usec_99),
        ("gc_pause_usec_95", m.gc_pause_usec_95),
        ("next_gc_bytes", m.next_gc_bytes),
        ("gc_total_runs", m.gc_total_runs),
    ]
}

fn push_memory_json(out: &mut String, m: &MemStats) {
    let mut o = JsonObject::open(out);
    for (name, value) in memory_fields(m) {
        o.num(name, value);
    }
    o.close();
}

fn push_topic_json(out: &mut String, t: &TopicStats) {
    let mut o = JsonObject::open(out);
    o.str("topic_name", &t.topic_name);
    push_array(o.key("channels"), &t.channels, push_channel_json);
    o.num("depth", t.depth);
    o.num("backend_depth", t.backend_depth);
    o.num("message_count", t.message_count);
    o.num("message_bytes", t.message_bytes);
    o.bool("paused", t.paused);
    o.raw(
        "e2e_processing_latency",
        &t.e2e_processing_latency.to_json(),
    );
    o.close();
}

fn push_channel_json(out: &mut String, c: &ChannelStats) {
    let mut o = JsonObject::open(out);
    o.str("channel_name", &c.channel_name);
    o.num("depth", c.depth);
    o.num("backend_depth", c.backend_depth);
    o.num("in_flight_count", c.in_flight_count);
    o.num("deferred_count", c.deferred_count);
    o.num("message_count", c.message_count);
    for (key, value) in [
        ("zone_local_msg_count", c.zone_local_msg_count),
        ("region_local_msg_count", c.region_local_msg_count),
        ("global_msg_count", c.global_msg_count),
    ] {
        if value != 0 {
            o.num(key, value);
        }
    }
    o.num("requeue_count", c.requeue_count);
    o.num("timeout_count", c.timeout_count);
    o.num("client_count", c.client_count);
    match &c.clients {
        None => o.raw("clients", "null"),
        Some(clients) => push_array(o.key("clients"), clients, push_client_json),
    }
    o.bool("paused", c.paused);
    o.raw(
        "e2e_processing_latency",
        &c.e2e_processing_latency.to_json(),
    );
    o.close();
}

fn push_client_json(out: &mut String, c: &ClientStats) {
    let mut o = JsonObject::open(out);
    o.str("client_id", &c.client_id);
    o.str("hostname", &c.hostname);
    o.str("version", "V2");
    o.str("remote_address", &c.remote_address);
    o.num("state", c.state);
    o.num("ready_count", c.ready_count);
    o.num("in_flight_count", c.in_flight_count);
    o.num("message_count", c.message_count);
    // The per-client zone/region/global counters are never incremented upstream, so they are
    // always omitted (QRK-10).
    o.num("finish_count", c.finish_count);
    o.num("requeue_count", c.requeue_count);
    o.num("connect_ts", c.connect_ts);
    o.num("sample_rate", c.sample_rate);
    o.bool("deflate", c.deflate);
    o.bool("snappy", c.snappy);
    o.str("user_agent", &c.user_agent);
    if c.authed {
        o.bool("authed", true);
    }
    if !c.auth_identity.is_empty() {
        o.str("auth_identity", &c.auth_identity);
    }
    if !c.auth_identity_url.is_empty() {
        o.str("auth_identity_url", &c.auth_identity_url);
    }
    o.str("topology_zone", &c.topology_zone);
    o.str("topology_region", &c.topology_region);
    if !c.pub_counts.is_empty() {
        push_array(o.key("pub_counts"), &c.pub_counts, |out, (topic, count)| {
            let mut p = JsonObject::open(out);
            p.str("topic", topic);
            p.num("count", count);
            p.close();
        });
    }
    o.bool("tls", c.tls);
    o.str("tls_cipher_suite", &c.tls_cipher_suite);
    o.str("tls_version", &c.tls_version);
    o.str("tls_negotiated_protocol", &c.tls_negotiated_protocol);
    o.bool(
        "tls_negotiated_protocol_is_mutual",
        c.tls_negotiated_protocol_is_mutual,
    );
    o.close();
}

fn push_channel_text(w: &mut String, c: &ChannelStats, now_unix_nanos: i64) {
    let _ = writeln!(
        w,
        "{}[{:<25}] depth: {:<5} be-depth: {:<5} inflt: {:<4} def: {:<4} re-q: {:<5} timeout: {:<5} msgs: {:<8} e2e%: {}",
        if c.paused { "   *P " } else { "      " },
        c.channel_name,
        c.depth,
        c.backend_depth,
        c.in_flight_count,
        c.deferred_count,
        c.requeue_count,
        c.timeout_count,
        c.message_count,
        c.e2e_processing_latency.to_text(),
    );
    for client in c.clients.iter().flatten() {
        let _ = writeln!(w, "        {}", client_text(client, now_unix_nanos));
    }
}

/// One client as the text page shows it (H-053): the producer form when it has published,
/// else the consumer form.
fn client_text(c: &ClientStats, now_unix_nanos: i64) -> String {
    let connected_secs = (now_unix_nanos.div_euclid(1_000_000_000) - c.connect_ts).max(0);
    let connected = format_go_duration(Duration::from_secs(connected_secs as u64));
    let port = remote_port(&c.remote_address);
    let id = format!("{}:{} {}", c.hostname, port, c.user_agent);
    if !c.pub_counts.is_empty() {
        let total: u64 = c.pub_counts.iter().map(|(_, n)| n).sum();
        let topics: Vec<String> = c
            .pub_counts
            .iter()
            .map(|(t, n)| format!("{t}={n}"))
            .collect();
        return format!(
            "[V2 {id:<21}] msgs: {total:<8} topics: {} connected: {connected}",
            topics.join(",")
        );
    }
    format!(
        "[V2 {id:<21}] state: {} inflt: {:<4} rdy: {:<4} fin: {:<8} re-q: {:<8} msgs: {:<8} connected: {connected}",
        c.state, c.in_flight_count, c.ready_count, c.finish_count, c.requeue_count, c.message_count,
    )
}

/// The port of `host:port` or `[v6]:port`; empty when there is none (Go's SplitHostPort
/// failing).
fn remote_port(addr: &str) -> &str {
    match addr.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() => port,
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nsq_common::quantile::QuantileResult;

    const NOW: i64 = 1_700_000_100 * 1_000_000_000;

    fn client(pub_counts: Vec<(String, u64)>) -> ClientStats {
        ClientStats {
            client_id: "cid".into(),
            hostname: "conshost".into(),
            remote_address: "127.0.0.1:34136".into(),
            state: 3,
            ready_count: 3,
            in_flight_count: 0,
            message_count: 1,
            finish_count: 1,
            requeue_count: 0,
            connect_ts: 1_700_000_099,
            sample_rate: 0,
            deflate: false,
            snappy: false,
            user_agent: "py/1.0".into(),
            authed: false,
            auth_identity: String::new(),
            auth_identity_url: String::new(),
            topology_zone: String::new(),
            topology_region: String::new(),
            pub_counts,
            tls: false,
            tls_cipher_suite: String::new(),
            tls_version: String::new(),
            tls_negotiated_protocol: String::new(),
            tls_negotiated_protocol_is_mutual: false,
        }
    }

    fn channel(name: &str, clients: Option<Vec<ClientStats>>) -> ChannelStats {
        ChannelStats {
            channel_name: name.into(),
            depth: 2,
            backend_depth: 0,
            in_flight_count: 1,
            deferred_count: 0,
            message_count: 3,
            zone_local_msg_count: 0,
            region_local_msg_count: 4,
            global_msg_count: 0,
            requeue_count: 1,
            timeout_count: 0,
            client_count: clients.as_ref().map_or(0, Vec::len) as u64,
            clients,
            paused: true,
            e2e_processing_latency: QuantileResult {
                count: 2,
                percentiles: vec![(0.99, 1_500_000.0), (0.5, 900.0)],
            },
        }
    }

    fn doc() -> StatsDoc {
        StatsDoc {
            health: "OK".into(),
            start_time: 1_700_000_000,
            start_time_text: "2023-11-14T22:13:20Z".into(),
            uptime: Duration::from_millis(100_250),
            now_unix_nanos: NOW,
            topics: Some(vec![
                TopicStats {
                    topic_name: "t<1>".into(),
                    channels: vec![channel("c", Some(vec![client(Vec::new())]))],
                    depth: 5,
                    backend_depth: 1,
                    message_count: 7,
                    message_bytes: 70,
                    paused: false,
                    e2e_processing_latency: QuantileResult::default(),
                },
                TopicStats {
                    topic_name: "u".into(),
                    channels: Vec::new(),
                    depth: 0,
                    backend_depth: 0,
                    message_count: 0,
                    message_bytes: 0,
                    paused: true,
                    e2e_processing_latency: QuantileResult::default(),
                },
            ]),
            memory: Some(MemStats {
                heap_in_use_bytes: 1024,
                ..MemStats::default()
            }),
            producers: vec![client(vec![("t<1>".into(), 5)])],
        }
    }

    #[test]
    fn json_layout() {
        let want = concat!(
            r#"{"version":"1.3.0","health":"OK","start_time":1700000000,"topics":["#,
            r#"{"topic_name":"t\u003c1\u003e","channels":[{"channel_name":"c","depth":2,"#,
            r#""backend_depth":0,"in_flight_count":1,"deferred_count":0,"message_count":3,"#,
            r#""region_local_msg_count":4,"requeue_count":1,"timeout_count":0,"client_count":1,"#,
            r#""clients":[{"client_id":"cid","hostname":"conshost","version":"V2","#,
            r#""remote_address":"127.0.0.1:34136","state":3,"ready_count":3,"in_flight_count":0,"#,
            r#""message_count":1,"finish_count":1,"requeue_count":0,"connect_ts":1700000099,"#,
            r#""sample_rate":0,"deflate":false,"snappy":false,"user_agent":"py/1.0","#,
            r#""topology_zone":"","topology_region":"","tls":false,"tls_cipher_suite":"","#,
            r#""tls_version":"","tls_negotiated_protocol":"","#,
            r#""tls_negotiated_protocol_is_mutual":false}],"paused":true,"#,
            r#""e2e_processing_latency":{"count":2,"percentiles":[{"quantile":0.99,"value":1500000},"#,
            r#"{"quantile":0.5,"value":900}]}}],"depth":5,"backend_depth":1,"message_count":7,"#,
            r#""message_bytes":70,"paused":false,"#,
            r#""e2e_processing_latency":{"count":0,"percentiles":null}},"#,
            r#"{"topic_name":"u","channels":[],"depth":0,"backend_depth":0,"message_count":0,"#,
            r#""message_bytes":0,"paused":true,"e2e_processing_latency":{"count":0,"percentiles":null}}],"#,
            r#""memory":{"heap_objects":0,"heap_idle_bytes":0,"heap_in_use_bytes":1024,"#,
            r#""heap_released_bytes":0,"gc_pause_usec_100":0,"gc_pause_usec_99":0,"#,
            r#""gc_pause_usec_95":0,"next_gc_bytes":0,"gc_total_runs":0},"#,
            r#""producers":[{"client_id":"cid","hostname":"conshost","version":"V2","#,
            r#""remote_address":"127.0.0.1:34136","state":3,"ready_count":3,"in_flight_count":0,"#,
            r#""message_count":1,"finish_count":1,"requeue_count":0,"connect_ts":1700000099,"#,
            r#""sample_rate":0,"deflate":false,"snappy":false,"user_agent":"py/1.0","#,
            r#""topology_zone":"","topology_region":"","pub_counts":[{"topic":"t\u003c1\u003e","count":5}],"#,
            r#""tls":false,"tls_cipher_suite":"","tls_version":"","tls_negotiated_protocol":"","#,
            r#""tls_negotiated_protocol_is_mutual":false}]}"#,
        );
        let got = doc().to_json();
        assert_eq!(got, want);
        // And it is valid JSON.
        serde_json::from_str::<serde_json::Value>(&got).unwrap();
    }

    #[test]
    fn json_nulls_and_omissions() {
        let mut d = doc();
        d.topics = None;
        d.memory = None;
        d.producers.clear();
        assert_eq!(
            d.to_json(),
            r#"{"version":"1.3.0","health":"OK","start_time":1700000000,"topics":null,"producers":null}"#
        );
        d.topics = Some(Vec::new());
        assert!(d.to_json().contains(r#""topics":[],"producers":null}"#));

        let mut c = channel("c", None);
        c.region_local_msg_count = 0;
        let mut out = String::new();
        push_channel_json(&mut out, &c);
        assert!(
            out.contains(r#""client_count":0,"clients":null,"paused":true"#),
            "{out}"
        );
        assert!(!out.contains("local_msg_count"));

        let mut cl = client(Vec::new());
        cl.authed = true;
        cl.auth_identity = "me".into();
        let mut out = String::new();
        push_client_json(&mut out, &cl);
        assert!(out.contains(
            r#""user_agent":"py/1.0","authed":true,"auth_identity":"me","topology_zone""#
        ));
    }

    #[test]
    fn text_layout() {
        let version = nsq_protocol::version::version_string("nsqd");
        let want = format!(
            "{version}\n\
             start_time 2023-11-14T22:13:20Z\n\
             uptime 1m40.25s\n\
             \n\
             Health: OK\n\
             \n\
             Memory:\n\
             \x20  heap_objects             \t0\n\
             \x20  heap_idle_bytes          \t0\n\
             \x20  heap_in_use_bytes        \t1024\n\
             \x20  heap_released_bytes      \t0\n\
             \x20  gc_pause_usec_100        \t0\n\
             \x20  gc_pause_usec_99         \t0\n\
             \x20  gc_pause_usec_95         \t0\n\
             \x20  next_gc_bytes            \t0\n\
             \x20  gc_total_runs            \t0\n\
             \n\
             Topics:\n\
             \x20  [t<1>           ] depth: 5     be-depth: 1     msgs: 7        e2e%: \n\
             \x20  *P [c                        ] depth: 2     be-depth: 0     inflt: 1    def: 0    re-q: 1     timeout: 0     msgs: 3        e2e%: 1.5ms, 900.0ns\n\
             \x20       [V2 conshost:34136 py/1.0] state: 3 inflt: 0    rdy: 3    fin: 1        re-q: 0        msgs: 1        connected: 1s\n\
             \n\
             *P [u              ] depth: 0     be-depth: 0     msgs: 0        e2e%: \n\
             \n\
             Producers:\n\
             \x20  [V2 conshost:34136 py/1.0] msgs: 5        topics: t<1>=5 connected: 1s\n"
        );
        assert_eq!(doc().to_text(), want);
    }

    #[test]
    fn text_without_topics_memory_or_producers() {
        let mut d = doc();
        d.topics = None;
        d.memory = None;
        d.producers.clear();
        let text = d.to_text();
        assert!(
            text.ends_with("\nHealth: OK\n\nTopics: None\n\nProducers: None\n"),
            "{text}"
        );
    }

    #[test]
    fn client_id_pads_to_21() {
        let mut c = client(Vec::new());
        c.hostname = "h".into();
        c.user_agent = String::new();
        c.remote_address = "[::1]:5".into();
        c.connect_ts = NOW / 1_000_000_000 - 3725;
        let line = client_text(&c, NOW);
        // The empty user agent still leaves its separating space inside the padding.
        let want = format!("[V2 {:<21}] state: 3 ", "h:5 ");
        assert!(line.starts_with(&want), "{line}");
        assert!(line.ends_with("connected: 1h2m5s"), "{line}");
    }

    #[test]
    fn pub_counts_reduction() {
        let mut c = client(vec![("a".into(), 1), ("b".into(), 2)]);
        reduce_pub_counts(&mut c, Some("b"));
        assert_eq!(c.pub_counts, vec![("b".to_string(), 2)]);
        let mut c = client(vec![("a".into(), 1), ("b".into(), 2)]);
        reduce_pub_counts(&mut c, None);
        assert_eq!(c.pub_counts, vec![("a".to_string(), 1)]);
        let mut c = client(vec![("a".into(), 1)]);
        reduce_pub_counts(&mut c, Some("z"));
        assert!(c.pub_counts.is_empty());
    }
}
