//! The cluster's JSON shapes as nsqadmin reads them from nsqd and nsqlookupd and writes them
//! in `/api` answers (A-011..A-015), and how per-node stats add up into cluster totals.
//! Field order is the wire order; every struct reads leniently (missing keys are zero).

use std::cmp::Ordering;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize, Serializer};

fn is_zero(v: &i64) -> bool {
    *v == 0
}

/// A float written the way Go's encoding/json writes it for the values seen here: whole
/// numbers without a fraction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Deserialize)]
#[serde(transparent)]
pub struct GoFloat(pub f64);

impl Serialize for GoFloat {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let v = self.0;
        if v.is_finite() && v.fract() == 0.0 && v.abs() < 1e15 {
            s.serialize_i64(v as i64)
        } else {
            s.serialize_f64(v)
        }
    }
}

/// One percentile entry: Go keeps these as maps, so the keys come out sorted.
pub type Percentile = BTreeMap<String, GoFloat>;

/// `e2e_processing_latency` of a node, or the merge over nodes.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct E2eLatency {
    pub count: i64,
    pub percentiles: Option<Vec<Percentile>>,
    pub topic: String,
    pub channel: String,
    pub host: String,
}

impl E2eLatency {
    /// What an nsqd reports (`quantile` and `value`) extended with the merge fields: one
    /// node's value is its own minimum, maximum and average.
    fn with_merge_fields(mut self) -> Self {
        if let Some(ps) = self.percentiles.as_mut() {
            for p in ps {
                let value = p.get("value").copied().unwrap_or_default();
                p.insert("min".into(), value);
                p.insert("max".into(), value);
                p.insert("average".into(), value);
                p.insert("count".into(), GoFloat(self.count as f64));
            }
        }
        self
    }

    fn empty_aggregate(topic: &str, channel: &str) -> Self {
        E2eLatency {
            count: 0,
            percentiles: None,
            topic: topic.to_string(),
            channel: channel.to_string(),
            host: "*".to_string(),
        }
    }

    /// Merges a node's latency: counts add up, min and max widen, and the averages are
    /// weighted by the count.
    fn add(&mut self, other: &E2eLatency) {
        self.host = "*".to_string();
        self.count += other.count;
        let Some(theirs) = other.percentiles.as_ref() else {
            return;
        };
        let mine = self.percentiles.get_or_insert_with(Vec::new);
        for value in theirs {
            let q = value.get("quantile").copied().unwrap_or_default();
            let get = |m: &Percentile, k: &str| m.get(k).copied().unwrap_or_default().0;
            let idx = match mine.iter().position(|p| get(p, "quantile") == q.0) {
                Some(i) => i,
                None => {
                    let mut fresh = Percentile::new();
                    fresh.insert("quantile".into(), q);
                    fresh.insert("min".into(), GoFloat(get(value, "min")));
                    mine.push(fresh);
                    mine.len() - 1
                }
            };
            let p = &mut mine[idx];
            let max = get(value, "max").max(get(p, "max"));
            let min = get(value, "min").min(get(p, "min"));
            let count = get(p, "count") + get(value, "count");
            let avg = get(p, "average");
            let new_avg = if count > 0.0 {
                avg + (get(value, "average") - avg) * get(value, "count") / count
            } else {
                avg
            };
            p.insert("max".into(), GoFloat(max));
            p.insert("min".into(), GoFloat(min));
            p.insert("count".into(), GoFloat(count));
            p.insert("average".into(), GoFloat(new_avg));
        }
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ClientStats {
    pub node: String,
    pub remote_address: String,
    pub version: String,
    pub client_id: String,
    pub hostname: String,
    pub user_agent: String,
    pub connect_ts: i64,
    /// Nanoseconds since `connect_ts` (computed here, not read).
    pub connected: i64,
    pub in_flight_count: i64,
    pub ready_count: i64,
    pub finish_count: i64,
    pub requeue_count: i64,
    pub message_count: i64,
    pub sample_rate: i64,
    pub deflate: bool,
    pub snappy: bool,
    pub authed: bool,
    pub auth_identity: String,
    pub auth_identity_url: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub node_topology_region: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub node_topology_zone: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub topology_region: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub topology_zone: String,
    pub tls: bool,
    pub tls_cipher_suite: String,
    pub tls_version: String,
    pub tls_negotiated_protocol: String,
    pub tls_negotiated_protocol_is_mutual: bool,
}

/// Clients of one node first by node, then those closest to the node (same region and
/// zone, then same region), then by region and zone.
pub fn client_order(a: &ClientStats, b: &ClientStats) -> Ordering {
    if a.node != b.node {
        return a.node.cmp(&b.node);
    }
    let (region, zone) = (&a.node_topology_region, &a.node_topology_zone);
    let exact = |c: &ClientStats| &c.topology_region == region && &c.topology_zone == zone;
    let same_region = |c: &ClientStats| &c.topology_region == region;
    exact(b)
        .cmp(&exact(a))
        .then_with(|| same_region(b).cmp(&same_region(a)))
        .then_with(|| a.topology_region.cmp(&b.topology_region))
        .then_with(|| a.topology_zone.cmp(&b.topology_zone))
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ChannelStats {
    pub node: String,
    pub hostname: String,
    pub topic_name: String,
    pub channel_name: String,
    pub depth: i64,
    pub memory_depth: i64,
    pub backend_depth: i64,
    pub in_flight_count: i64,
    pub deferred_count: i64,
    pub requeue_count: i64,
    pub timeout_count: i64,
    pub message_count: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub delivery_msg_count: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub zone_local_msg_count: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub region_local_msg_count: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub global_msg_count: i64,
    pub client_count: i64,
    pub nodes: Option<Vec<ChannelStats>>,
    pub clients: Option<Vec<ClientStats>>,
    pub paused: bool,
    pub e2e_processing_latency: Option<E2eLatency>,
}

impl ChannelStats {
    /// An empty cluster-wide total for `topic`/`channel`.
    pub fn aggregate(topic: &str, channel: &str) -> Self {
        ChannelStats {
            node: "*".to_string(),
            topic_name: topic.to_string(),
            channel_name: channel.to_string(),
            e2e_processing_latency: Some(E2eLatency::empty_aggregate(topic, channel)),
            ..Default::default()
        }
    }

    /// Adds one node's channel into this total.
    pub fn add(&mut self, a: &ChannelStats) {
        self.node = "*".to_string();
        self.depth += a.depth;
        self.memory_depth += a.memory_depth;
        self.backend_depth += a.backend_depth;
        self.in_flight_count += a.in_flight_count;
        self.deferred_count += a.deferred_count;
        self.requeue_count += a.requeue_count;
        self.timeout_count += a.timeout_count;
        self.message_count += a.message_count;
        self.delivery_msg_count += a.delivery_msg_count;
        self.zone_local_msg_count += a.zone_local_msg_count;
        self.region_local_msg_count += a.region_local_msg_count;
        self.global_msg_count += a.global_msg_count;
        self.client_count += a.client_count;
        self.paused |= a.paused;
        let nodes = self.nodes.get_or_insert_with(Vec::new);
        nodes.push(a.clone());
        nodes.sort_by(|x, y| x.hostname.cmp(&y.hostname).then(x.node.cmp(&y.node)));
        if let (Some(mine), Some(theirs)) = (
            self.e2e_processing_latency.as_mut(),
            a.e2e_processing_latency.as_ref(),
        ) {
            mine.add(theirs);
        }
        if let Some(cs) = a.clients.as_ref().filter(|c| !c.is_empty()) {
            let all = self.clients.get_or_insert_with(Vec::new);
            all.extend(cs.iter().cloned());
            all.sort_by(client_order);
        }
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct TopicStats {
    pub node: String,
    pub hostname: String,
    pub topic_name: String,
    pub depth: i64,
    pub memory_depth: i64,
    pub backend_depth: i64,
    pub message_count: i64,
    pub delivery_msg_count: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub zone_local_msg_count: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub region_local_msg_count: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub global_msg_count: i64,
    pub nodes: Option<Vec<TopicStats>>,
    pub channels: Option<Vec<ChannelStats>>,
    pub paused: bool,
    pub e2e_processing_latency: Option<E2eLatency>,
}

impl TopicStats {
    pub fn aggregate(topic: &str) -> Self {
        TopicStats {
            node: "*".to_string(),
            topic_name: topic.to_string(),
            e2e_processing_latency: Some(E2eLatency::empty_aggregate(topic, "")),
            ..Default::default()
        }
    }

    /// Adds one node's topic into this total; channels are merged by name.
    pub fn add(&mut self, a: &TopicStats) {
        self.node = "*".to_string();
        self.depth += a.depth;
        self.memory_depth += a.memory_depth;
        self.backend_depth += a.backend_depth;
        self.message_count += a.message_count;
        self.delivery_msg_count += a.delivery_msg_count;
        self.zone_local_msg_count += a.zone_local_msg_count;
        self.region_local_msg_count += a.region_local_msg_count;
        self.global_msg_count += a.global_msg_count;
        self.paused |= a.paused;
        for c in a.channels.iter().flatten() {
            let all = self.channels.get_or_insert_with(Vec::new);
            match all.iter_mut().find(|x| x.channel_name == c.channel_name) {
                Some(total) => total.add(c),
                None => {
                    let mut total = ChannelStats::aggregate(&self.topic_name, &c.channel_name);
                    total.add(c);
                    all.push(total);
                }
            }
        }
        let nodes = self.nodes.get_or_insert_with(Vec::new);
        nodes.push(a.clone());
        nodes.sort_by(|x, y| x.hostname.cmp(&y.hostname).then(x.node.cmp(&y.node)));
        if let (Some(mine), Some(theirs)) = (
            self.e2e_processing_latency.as_mut(),
            a.e2e_processing_latency.as_ref(),
        ) {
            mine.add(theirs);
        }
    }
}

/// The part of an nsqd `/stats?format=json` answer nsqadmin uses.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct NsqdStats {
    pub topics: Option<Vec<TopicStats>>,
}

/// Prepares the topics of one nsqd's `/stats`: node names, memory depth, delivery totals,
/// client ages and the node's topology on every client.
pub fn stamp_node_stats(topics: &mut [TopicStats], p: &Producer, now_unix: i64) {
    let node = p.http_address();
    for t in topics {
        t.node = node.clone();
        t.hostname = p.hostname.clone();
        t.memory_depth = t.depth - t.backend_depth;
        t.delivery_msg_count =
            t.zone_local_msg_count + t.region_local_msg_count + t.global_msg_count;
        t.nodes = None;
        t.e2e_processing_latency = t
            .e2e_processing_latency
            .take()
            .map(E2eLatency::with_merge_fields);
        for c in t.channels.iter_mut().flatten() {
            c.node = node.clone();
            c.hostname = p.hostname.clone();
            c.topic_name = t.topic_name.clone();
            c.memory_depth = c.depth - c.backend_depth;
            c.delivery_msg_count =
                c.zone_local_msg_count + c.region_local_msg_count + c.global_msg_count;
            c.nodes = None;
            c.e2e_processing_latency = c
                .e2e_processing_latency
                .take()
                .map(E2eLatency::with_merge_fields);
            for cl in c.clients.iter_mut().flatten() {
                cl.node = node.clone();
                cl.node_topology_region = p.topology_region.clone();
                cl.node_topology_zone = p.topology_zone.clone();
                cl.connected = (now_unix - cl.connect_ts).saturating_mul(1_000_000_000);
            }
        }
    }
}

#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct ProducerTopic {
    pub topic: String,
    pub tombstoned: bool,
}

/// An nsqd as nsqadmin lists it (A-013).
#[derive(Clone, Debug, Default, Serialize)]
pub struct Producer {
    pub remote_addresses: Option<Vec<String>>,
    pub remote_address: String,
    pub hostname: String,
    pub broadcast_address: String,
    pub tcp_port: i64,
    pub http_port: i64,
    pub version: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub topology_zone: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub topology_region: String,
    pub topics: Option<Vec<ProducerTopic>>,
    pub out_of_date: bool,
}

/// A producer as nsqlookupd's `/lookup` and `/nodes` give it.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct LookupdPeer {
    pub remote_address: String,
    pub hostname: String,
    pub broadcast_address: String,
    pub tcp_port: i64,
    pub http_port: i64,
    pub version: String,
    pub topology_zone: String,
    pub topology_region: String,
    pub topics: Vec<String>,
    pub tombstones: Vec<bool>,
}

impl From<LookupdPeer> for Producer {
    fn from(r: LookupdPeer) -> Producer {
        let topics: Vec<ProducerTopic> = r
            .topics
            .iter()
            .enumerate()
            .map(|(i, t)| ProducerTopic {
                topic: t.clone(),
                tombstoned: r.tombstones.get(i).copied().unwrap_or(false),
            })
            .collect();
        Producer {
            remote_addresses: None,
            remote_address: r.remote_address,
            hostname: r.hostname,
            broadcast_address: r.broadcast_address,
            tcp_port: r.tcp_port,
            http_port: r.http_port,
            version: r.version,
            topology_zone: r.topology_zone,
            topology_region: r.topology_region,
            topics: (!topics.is_empty()).then_some(topics),
            out_of_date: false,
        }
    }
}

fn join_host_port(host: &str, port: i64) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

impl Producer {
    /// `broadcast_address:http_port`: how nsqadmin names and reaches a node.
    pub fn http_address(&self) -> String {
        join_host_port(&self.broadcast_address, self.http_port)
    }

    pub fn tcp_address(&self) -> String {
        join_host_port(&self.broadcast_address, self.tcp_port)
    }

    /// The remote address, or `N/A` when the lookupd gave none.
    pub fn address(&self) -> &str {
        if self.remote_address.is_empty() {
            "N/A"
        } else {
            &self.remote_address
        }
    }
}

/// A semantic version as a sortable triple plus pre-release; one that does not parse counts
/// as 0.0.0 (V-003).
pub fn parse_version(v: &str) -> (u64, u64, u64, bool) {
    let core = v.split(['+']).next().unwrap_or("");
    let (core, pre) = match core.split_once('-') {
        Some((c, _)) => (c, true),
        None => (core, false),
    };
    let parts: Vec<Option<u64>> = core.split('.').map(|p| p.parse().ok()).collect();
    match parts.as_slice() {
        [Some(a), Some(b), Some(c)] => (*a, *b, *c, !pre),
        _ => (0, 0, 0, true),
    }
}

/// The nsqd `/info` fields nsqadmin uses.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct NsqdInfo {
    pub version: String,
    pub broadcast_address: String,
    pub hostname: String,
    pub http_port: i64,
    pub tcp_port: i64,
    pub topology_zone: String,
    pub topology_region: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn latency(json: &str) -> E2eLatency {
        serde_json::from_str::<E2eLatency>(json)
            .unwrap()
            .with_merge_fields()
    }

    #[test]
    fn latency_merge() {
        let a = latency(r#"{"count":2,"percentiles":[{"quantile":0.99,"value":100}]}"#);
        let b = latency(r#"{"count":6,"percentiles":[{"quantile":0.99,"value":300}]}"#);
        assert_eq!(
            serde_json::to_string(&a).unwrap(),
            r#"{"count":2,"percentiles":[{"average":100,"count":2,"max":100,"min":100,"quantile":0.99,"value":100}],"topic":"","channel":"","host":""}"#
        );
        let mut total = E2eLatency::empty_aggregate("t", "c");
        total.add(&a);
        total.add(&b);
        assert_eq!(
            serde_json::to_string(&total).unwrap(),
            r#"{"count":8,"percentiles":[{"average":250,"count":8,"max":300,"min":100,"quantile":0.99}],"topic":"t","channel":"c","host":"*"}"#
        );
    }

    #[test]
    fn versions() {
        assert!(parse_version("1.3.0") > parse_version("1.2.1"));
        assert!(parse_version("1.3.0") > parse_version("1.3.0-alpha"));
        assert_eq!(parse_version("junk"), (0, 0, 0, true));
    }

    #[test]
    fn client_ordering_prefers_topology() {
        let mk = |node: &str, r: &str, z: &str| ClientStats {
            node: node.into(),
            node_topology_region: "r1".into(),
            node_topology_zone: "z1".into(),
            topology_region: r.into(),
            topology_zone: z.into(),
            ..Default::default()
        };
        let mut list = [
            mk("b:1", "r1", "z1"),
            mk("a:1", "r2", "z9"),
            mk("a:1", "r1", "z2"),
            mk("a:1", "r1", "z1"),
        ];
        list.sort_by(client_order);
        let got: Vec<(&str, &str)> = list
            .iter()
            .map(|c| (c.node.as_str(), c.topology_zone.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![("a:1", "z1"), ("a:1", "z2"), ("a:1", "z9"), ("b:1", "z1")]
        );
    }
}
