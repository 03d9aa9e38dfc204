//! `GET /metrics`: the `/stats` numbers as a Prometheus exposition. Beyond NSQ (the Go nsqd
//! answers 404 here); see docs/metrics.md for the families.
//!
//! Per-client series are off unless `--metrics-per-client` is set: client labels change with
//! every connection, and a busy nsqd would flood the time-series database with them.

use nsq_common::metrics::{Exposition, Kind};

use crate::nsqd::Nsqd;
use crate::stats::{ChannelStats, ClientStats, TopicStats};

/// One scrape's worth of numbers, gathered before rendering so the rendering can be tested
/// on fixed data.
#[derive(Debug, Clone)]
pub struct MetricsDoc {
    pub healthy: bool,
    /// Connected TCP clients (publishers and consumers).
    pub clients: Vec<ClientStats>,
    pub topics: Vec<TopicStats>,
    pub per_client: bool,
    /// Whether e2e percentiles are configured (else those families are left out).
    pub e2e: bool,
}

pub fn gather(nsqd: &Nsqd) -> MetricsDoc {
    let opts = nsqd.options();
    let per_client = opts.metrics_per_client;
    MetricsDoc {
        healthy: nsqd.health.is_healthy(),
        clients: nsqd.client_stats_all(),
        topics: nsqd.stats(None, None, per_client).unwrap_or_default(),
        per_client,
        e2e: !opts.e2e_processing_latency_percentiles.is_empty(),
    }
}

/// The whole exposition, process metrics included.
pub fn render(nsqd: &Nsqd) -> String {
    let mut e = Exposition::new();
    write_doc(&mut e, &gather(nsqd));
    e.process_metrics();
    e.finish()
}

fn bool_value(b: bool) -> f64 {
    if b {
        1.0
    } else {
        0.0
    }
}

type TopicValue = fn(&TopicStats) -> f64;
type ChannelValue = fn(&ChannelStats) -> f64;
type ClientValue = fn(&ClientStats) -> f64;

const TOPIC_FAMILIES: [(&str, Kind, &str, TopicValue); 5] = [
    (
        "nsq_topic_depth",
        Kind::Gauge,
        "Messages queued in the topic (memory and disk), not yet copied to channels.",
        |t| t.depth as f64,
    ),
    (
        "nsq_topic_backend_depth",
        Kind::Gauge,
        "Messages of the topic queued on disk.",
        |t| t.backend_depth as f64,
    ),
    (
        "nsq_topic_messages_total",
        Kind::Counter,
        "Messages published to the topic.",
        |t| t.message_count as f64,
    ),
    (
        "nsq_topic_message_bytes_total",
        Kind::Counter,
        "Bytes of message bodies published to the topic.",
        |t| t.message_bytes as f64,
    ),
    (
        "nsq_topic_paused",
        Kind::Gauge,
        "1 when the topic is paused.",
        |t| bool_value(t.paused),
    ),
];

const CHANNEL_FAMILIES: [(&str, Kind, &str, ChannelValue); 12] = [
    (
        "nsq_channel_depth",
        Kind::Gauge,
        "Messages queued in the channel (memory and disk), waiting for a consumer.",
        |c| c.depth as f64,
    ),
    (
        "nsq_channel_backend_depth",
        Kind::Gauge,
        "Messages of the channel queued on disk.",
        |c| c.backend_depth as f64,
    ),
    (
        "nsq_channel_in_flight",
        Kind::Gauge,
        "Messages sent to consumers and not yet finished, requeued or timed out.",
        |c| c.in_flight_count as f64,
    ),
    (
        "nsq_channel_deferred",
        Kind::Gauge,
        "Messages held back until their defer time.",
        |c| c.deferred_count as f64,
    ),
    (
        "nsq_channel_messages_total",
        Kind::Counter,
        "Messages the channel received from its topic.",
        |c| c.message_count as f64,
    ),
    (
        "nsq_channel_requeued_total",
        Kind::Counter,
        "Messages requeued by consumers.",
        |c| c.requeue_count as f64,
    ),
    (
        "nsq_channel_timed_out_total",
        Kind::Counter,
        "In-flight messages requeued because the consumer did not answer in time.",
        |c| c.timeout_count as f64,
    ),
    (
        "nsq_channel_zone_local_messages_total",
        Kind::Counter,
        "Messages delivered to a consumer in this node's zone (topology-aware consumption).",
        |c| c.zone_local_msg_count as f64,
    ),
    (
        "nsq_channel_region_local_messages_total",
        Kind::Counter,
        "Messages delivered to a consumer in this node's region (topology-aware consumption).",
        |c| c.region_local_msg_count as f64,
    ),
    (
        "nsq_channel_global_messages_total",
        Kind::Counter,
        "Messages delivered to a consumer outside this node's region (topology-aware consumption).",
        |c| c.global_msg_count as f64,
    ),
    (
        "nsq_channel_clients",
        Kind::Gauge,
        "Consumers subscribed to the channel.",
        |c| c.client_count as f64,
    ),
    (
        "nsq_channel_paused",
        Kind::Gauge,
        "1 when the channel is paused.",
        |c| bool_value(c.paused),
    ),
];

const CLIENT_FAMILIES: [(&str, Kind, &str, ClientValue); 5] = [
    (
        "nsq_client_ready",
        Kind::Gauge,
        "The consumer's RDY count.",
        |c| c.ready_count as f64,
    ),
    (
        "nsq_client_in_flight",
        Kind::Gauge,
        "Messages in flight to the consumer.",
        |c| c.in_flight_count as f64,
    ),
    (
        "nsq_client_messages_total",
        Kind::Counter,
        "Messages sent to the consumer.",
        |c| c.message_count as f64,
    ),
    (
        "nsq_client_finished_total",
        Kind::Counter,
        "Messages the consumer finished.",
        |c| c.finish_count as f64,
    ),
    (
        "nsq_client_requeued_total",
        Kind::Counter,
        "Messages the consumer requeued.",
        |c| c.requeue_count as f64,
    ),
];

/// Writes every nsqd family of `doc` (not the process ones).
pub fn write_doc(e: &mut Exposition, doc: &MetricsDoc) {
    e.family(
        "nsq_nsqd_info",
        Kind::Gauge,
        "Always 1; the labels tell the version.",
    )
    .sample(
        "nsq_nsqd_info",
        &[("version", nsq_protocol::version::VERSION)],
        1.0,
    );
    e.single(
        "nsq_nsqd_healthy",
        Kind::Gauge,
        "1 while nsqd is healthy (disk writes succeed), else 0.",
        bool_value(doc.healthy),
    );
    e.single(
        "nsq_nsqd_clients",
        Kind::Gauge,
        "Connected TCP clients, publishers and consumers.",
        doc.clients.len() as f64,
    );
    e.single(
        "nsq_nsqd_topics",
        Kind::Gauge,
        "Topics on this node.",
        doc.topics.len() as f64,
    );
    let channels: usize = doc.topics.iter().map(|t| t.channels.len()).sum();
    e.single(
        "nsq_nsqd_channels",
        Kind::Gauge,
        "Channels on this node.",
        channels as f64,
    );

    for (name, kind, help, value) in TOPIC_FAMILIES {
        e.family(name, kind, help);
        for t in &doc.topics {
            e.sample(name, &[("topic", &t.topic_name)], value(t));
        }
    }
    for (name, kind, help, value) in CHANNEL_FAMILIES {
        e.family(name, kind, help);
        for t in &doc.topics {
            for c in &t.channels {
                let labels = [
                    ("topic", t.topic_name.as_str()),
                    ("channel", &c.channel_name),
                ];
                e.sample(name, &labels, value(c));
            }
        }
    }
    if doc.e2e {
        write_e2e(e, doc);
    }
    if doc.per_client {
        write_clients(e, doc);
    }
}

/// The e2e percentiles are a sliding window, so they are gauges with a `quantile` label
/// (in seconds) rather than a summary, whose count would have to only grow.
fn write_e2e(e: &mut Exposition, doc: &MetricsDoc) {
    let name = "nsq_topic_e2e_processing_latency_seconds";
    e.family(
        name,
        Kind::Gauge,
        "End-to-end latency (publish to finish) percentiles over the configured window, across the topic's channels.",
    );
    for t in &doc.topics {
        for (q, ns) in &t.e2e_processing_latency.percentiles {
            let q = q.to_string();
            e.sample(
                name,
                &[("topic", &t.topic_name), ("quantile", &q)],
                ns / 1e9,
            );
        }
    }
    let name = "nsq_channel_e2e_processing_latency_seconds";
    e.family(
        name,
        Kind::Gauge,
        "End-to-end latency (publish to finish) percentiles over the configured window.",
    );
    for t in &doc.topics {
        for c in &t.channels {
            for (q, ns) in &c.e2e_processing_latency.percentiles {
                let q = q.to_string();
                let labels = [
                    ("topic", t.topic_name.as_str()),
                    ("channel", &c.channel_name),
                    ("quantile", &q),
                ];
                e.sample(name, &labels, ns / 1e9);
            }
        }
    }
    let name = "nsq_channel_e2e_processing_latency_samples";
    e.family(
        name,
        Kind::Gauge,
        "Finished messages in the current e2e latency window.",
    );
    for t in &doc.topics {
        for c in &t.channels {
            let labels = [
                ("topic", t.topic_name.as_str()),
                ("channel", &c.channel_name),
            ];
            e.sample(name, &labels, c.e2e_processing_latency.count as f64);
        }
    }
}

fn write_clients(e: &mut Exposition, doc: &MetricsDoc) {
    for (name, kind, help, value) in CLIENT_FAMILIES {
        e.family(name, kind, help);
        for t in &doc.topics {
            for ch in &t.channels {
                for c in ch.clients.iter().flatten() {
                    let labels = [
                        ("topic", t.topic_name.as_str()),
                        ("channel", &ch.channel_name),
                        ("client_id", &c.client_id),
                        ("hostname", &c.hostname),
                        ("remote_address", &c.remote_address),
                    ];
                    e.sample(name, &labels, value(c));
                }
            }
        }
    }
    let name = "nsq_client_published_total";
    e.family(
        name,
        Kind::Counter,
        "Messages the client published, by topic.",
    );
    for c in &doc.clients {
        for (topic, count) in &c.pub_counts {
            let labels = [
                ("topic", topic.as_str()),
                ("client_id", &c.client_id),
                ("hostname", &c.hostname),
                ("remote_address", &c.remote_address),
            ];
            e.sample(name, &labels, *count as f64);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nsq_common::quantile::QuantileResult;

    fn client(pub_counts: Vec<(String, u64)>) -> ClientStats {
        ClientStats {
            client_id: "c1".into(),
            hostname: "h".into(),
            remote_address: "127.0.0.1:5000".into(),
            state: 3,
            ready_count: 10,
            in_flight_count: 2,
            message_count: 7,
            finish_count: 5,
            requeue_count: 1,
            connect_ts: 0,
            sample_rate: 0,
            deflate: false,
            snappy: false,
            user_agent: String::new(),
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

    fn doc(per_client: bool, e2e: bool) -> MetricsDoc {
        let channel = ChannelStats {
            channel_name: "ch".into(),
            depth: 4,
            backend_depth: 1,
            in_flight_count: 2,
            deferred_count: 0,
            message_count: 9,
            zone_local_msg_count: 0,
            region_local_msg_count: 0,
            global_msg_count: 0,
            requeue_count: 1,
            timeout_count: 3,
            client_count: 1,
            clients: per_client.then(|| vec![client(Vec::new())]),
            paused: true,
            e2e_processing_latency: QuantileResult {
                count: 6,
                percentiles: vec![(0.99, 2_000_000.0), (0.5, 500_000.0)],
            },
        };
        MetricsDoc {
            healthy: true,
            clients: vec![client(vec![("t".into(), 9)])],
            topics: vec![TopicStats {
                topic_name: "t".into(),
                channels: vec![channel],
                depth: 0,
                backend_depth: 0,
                message_count: 9,
                message_bytes: 90,
                paused: false,
                e2e_processing_latency: QuantileResult::default(),
            }],
            per_client,
            e2e,
        }
    }

    fn render_doc(d: &MetricsDoc) -> String {
        let mut e = Exposition::new();
        write_doc(&mut e, d);
        e.finish()
    }

    #[test]
    fn topic_and_channel_series() {
        let text = render_doc(&doc(false, false));
        for line in [
            "# TYPE nsq_topic_messages_total counter\nnsq_topic_messages_total{topic=\"t\"} 9\n",
            "nsq_topic_message_bytes_total{topic=\"t\"} 90\n",
            "# TYPE nsq_channel_depth gauge\nnsq_channel_depth{topic=\"t\",channel=\"ch\"} 4\n",
            "nsq_channel_timed_out_total{topic=\"t\",channel=\"ch\"} 3\n",
            "nsq_channel_paused{topic=\"t\",channel=\"ch\"} 1\n",
            "nsq_nsqd_clients 1\n",
            "nsq_nsqd_healthy 1\n",
            "nsq_nsqd_info{version=\"1.3.0\"} 1\n",
        ] {
            assert!(text.contains(line), "missing {line:?} in\n{text}");
        }
        assert!(!text.contains("nsq_client_"));
        assert!(!text.contains("e2e"));
    }

    #[test]
    fn e2e_quantiles_in_seconds() {
        let text = render_doc(&doc(false, true));
        assert!(text.contains(
            "nsq_channel_e2e_processing_latency_seconds{topic=\"t\",channel=\"ch\",quantile=\"0.99\"} 0.002\n"
        ));
        assert!(text.contains(
            "nsq_channel_e2e_processing_latency_seconds{topic=\"t\",channel=\"ch\",quantile=\"0.5\"} 0.0005\n"
        ));
        assert!(text.contains(
            "nsq_channel_e2e_processing_latency_samples{topic=\"t\",channel=\"ch\"} 6\n"
        ));
    }

    #[test]
    fn per_client_series_only_when_asked() {
        let text = render_doc(&doc(true, false));
        let labels = "topic=\"t\",channel=\"ch\",client_id=\"c1\",hostname=\"h\",remote_address=\"127.0.0.1:5000\"";
        assert!(text.contains(&format!("nsq_client_ready{{{labels}}} 10\n")));
        assert!(text.contains(&format!("nsq_client_finished_total{{{labels}}} 5\n")));
        assert!(text.contains(
            "nsq_client_published_total{topic=\"t\",client_id=\"c1\",hostname=\"h\",remote_address=\"127.0.0.1:5000\"} 9\n"
        ));
    }

    #[test]
    fn every_family_is_announced_once_before_its_samples() {
        let text = render_doc(&doc(true, true));
        let mut seen = std::collections::HashSet::new();
        let mut current = String::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let name = rest.split(' ').next().unwrap().to_string();
                assert!(seen.insert(name.clone()), "{name} announced twice");
                current = name;
            } else if !line.starts_with('#') {
                let name = line.split(['{', ' ']).next().unwrap();
                assert_eq!(name, current, "{line}");
            }
        }
    }
}
