//! Questions to the cluster (A-010..A-015, A-020..A-024): every upstream is asked at the same
//! time, answers are merged, and failures are collected. A query that no upstream answered
//! fails as a whole (`failed to query any nsqd: …`, `failed to query any nsqlookupd: …`);
//! otherwise the failures come back next to the merged answer and become a `WARNING`.

use std::collections::BTreeMap;
use std::future::Future;

use serde::Deserialize;
use tokio::task::JoinSet;

use crate::types::{
    parse_version, stamp_node_stats, ChannelStats, LookupdPeer, NsqdInfo, NsqdStats, Producer,
    ProducerTopic, TopicStats,
};
use crate::upstream::Upstream;

/// A merged answer plus the failures of the upstreams that did not answer.
pub type Partial<T> = Result<(T, Vec<String>), String>;

#[derive(Clone)]
pub struct ClusterInfo {
    up: Upstream,
}

/// Runs `f` for every item at once and returns the results in the items' order.
async fn fan_out<I, T, F, Fut>(items: &[I], f: F) -> Vec<Result<T, String>>
where
    I: Clone,
    F: Fn(I) -> Fut,
    Fut: Future<Output = Result<T, String>> + Send + 'static,
    T: Send + 'static,
{
    let mut set = JoinSet::new();
    for (i, item) in items.iter().enumerate() {
        let fut = f(item.clone());
        set.spawn(async move { (i, fut.await) });
    }
    let mut out: Vec<Option<Result<T, String>>> = (0..items.len()).map(|_| None).collect();
    while let Some(joined) = set.join_next().await {
        if let Ok((i, r)) = joined {
            out[i] = Some(r);
        }
    }
    out.into_iter()
        .map(|r| r.unwrap_or_else(|| Err("upstream query task failed".to_string())))
        .collect()
}

/// Splits results into answers and errors; all failed (or nothing to ask) is an error
/// naming `what`.
fn gather<T>(results: Vec<Result<T, String>>, what: &str) -> Partial<Vec<T>> {
    let total = results.len();
    let mut ok = Vec::with_capacity(total);
    let mut errs = Vec::new();
    for r in results {
        match r {
            Ok(v) => ok.push(v),
            Err(e) => errs.push(e),
        }
    }
    if errs.len() == total {
        return Err(format!("failed to query any {what}: {}", errs.join("; ")));
    }
    Ok((ok, errs))
}

/// `http://<addr><path>?<query>` with the values escaped like Go's `url.QueryEscape`.
pub fn endpoint(addr: &str, path: &str, query: &[(&str, &str)]) -> String {
    let mut url = format!("http://{addr}{path}");
    if !query.is_empty() {
        url.push('?');
        let mut ser = reqwest::Url::parse("http://x/").ok();
        if let Some(u) = ser.as_mut() {
            u.query_pairs_mut().extend_pairs(query.iter());
            url.push_str(u.query().unwrap_or(""));
        }
    }
    url
}

fn sort_unique(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v.dedup();
    v
}

/// Marks every producer older than the newest one seen.
fn mark_out_of_date(producers: &mut [Producer]) {
    let newest = producers
        .iter()
        .map(|p| parse_version(&p.version))
        .max()
        .unwrap_or((0, 0, 0, true));
    for p in producers {
        p.out_of_date = parse_version(&p.version) < newest;
    }
}

fn producer_from_info(info: NsqdInfo, addr: &str, topics: Vec<String>) -> Producer {
    let mut p = Producer {
        remote_addresses: None,
        remote_address: String::new(),
        hostname: info.hostname,
        broadcast_address: info.broadcast_address,
        tcp_port: info.tcp_port,
        http_port: info.http_port,
        version: info.version,
        topology_zone: info.topology_zone,
        topology_region: info.topology_region,
        topics: None,
        out_of_date: false,
    };
    // An nsqd that does not report where it is reachable is named by the address asked.
    if p.broadcast_address.is_empty() {
        if let Some((host, port)) = addr.rsplit_once(':') {
            p.broadcast_address = host.to_string();
            p.http_port = port.parse().unwrap_or(0);
        }
    }
    if p.hostname.is_empty() {
        p.hostname = addr.rsplit_once(':').map_or(addr, |(h, _)| h).to_string();
    }
    let topics: Vec<ProducerTopic> = topics
        .into_iter()
        .map(|topic| ProducerTopic {
            topic,
            tombstoned: false,
        })
        .collect();
    p.topics = (!topics.is_empty()).then_some(topics);
    p
}

#[derive(Deserialize)]
struct TopicsResp {
    #[serde(default)]
    topics: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct ChannelsResp {
    #[serde(default)]
    channels: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct ProducersResp {
    #[serde(default)]
    producers: Option<Vec<LookupdPeer>>,
}

fn producer_peers(r: ProducersResp) -> Vec<LookupdPeer> {
    r.producers.unwrap_or_default()
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct StatsTopicNames {
    topics: Option<Vec<TopicName>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct TopicName {
    topic_name: String,
}

impl StatsTopicNames {
    fn names(self) -> Vec<String> {
        self.topics
            .unwrap_or_default()
            .into_iter()
            .map(|t| t.topic_name)
            .collect()
    }
}

impl ClusterInfo {
    pub fn new(up: Upstream) -> Self {
        ClusterInfo { up }
    }

    /// Asks every lookupd `path?query` at once; each answer is the lookupd's address and
    /// the list `extract` takes out of its JSON.
    async fn lookupd_lists<R, T>(
        &self,
        lookupds: &[String],
        path: &'static str,
        query: &[(&str, &str)],
        extract: fn(R) -> Vec<T>,
    ) -> Partial<Vec<(String, Vec<T>)>>
    where
        R: serde::de::DeserializeOwned + 'static,
        T: Send + 'static,
    {
        let up = self.up.clone();
        let results = fan_out(lookupds, |addr: String| {
            let up = up.clone();
            let url = endpoint(&addr, path, query);
            async move {
                let r: R = up.get_json(&url).await?;
                Ok((addr, extract(r)))
            }
        })
        .await;
        gather(results, "nsqlookupd")
    }

    /// Every topic any lookupd knows, sorted and unique.
    pub async fn lookupd_topics(&self, lookupds: &[String]) -> Partial<Vec<String>> {
        let (lists, errs) = self
            .lookupd_lists(lookupds, "/topics", &[], |r: TopicsResp| {
                r.topics.unwrap_or_default()
            })
            .await?;
        Ok((
            sort_unique(lists.into_iter().flat_map(|(_, l)| l).collect()),
            errs,
        ))
    }

    /// Every channel any lookupd knows for `topic`, sorted and unique.
    pub async fn lookupd_topic_channels(
        &self,
        topic: &str,
        lookupds: &[String],
    ) -> Partial<Vec<String>> {
        let (lists, errs) = self
            .lookupd_lists(
                lookupds,
                "/channels",
                &[("topic", topic)],
                |r: ChannelsResp| r.channels.unwrap_or_default(),
            )
            .await?;
        Ok((
            sort_unique(lists.into_iter().flat_map(|(_, l)| l).collect()),
            errs,
        ))
    }

    /// Of `topics`, those no lookupd lists a producer for, each with its channels
    /// (`/api/topics?inactive=true`). Lookup failures count as "no producers" and "no
    /// channels", as in the reference.
    pub async fn inactive_topics(
        &self,
        topics: &[String],
        lookupds: &[String],
    ) -> BTreeMap<String, Vec<String>> {
        let ci = self.clone();
        let lookupds = lookupds.to_vec();
        let results = fan_out(topics, |topic: String| {
            let ci = ci.clone();
            let lookupds = lookupds.clone();
            async move {
                let producers = ci
                    .lookupd_topic_producers(&topic, &lookupds)
                    .await
                    .map(|(p, _)| p)
                    .unwrap_or_default();
                if !producers.is_empty() {
                    return Ok(None);
                }
                let channels = ci
                    .lookupd_topic_channels(&topic, &lookupds)
                    .await
                    .map(|(c, _)| c)
                    .unwrap_or_default();
                Ok(Some((topic, channels)))
            }
        })
        .await;
        results
            .into_iter()
            .filter_map(|r| r.ok().flatten())
            .collect()
    }

    /// Every topic of the given nsqds, sorted and unique.
    pub async fn nsqd_topics(&self, nsqds: &[String]) -> Partial<Vec<String>> {
        let up = self.up.clone();
        let results = fan_out(nsqds, |addr: String| {
            let up = up.clone();
            async move {
                let url = endpoint(&addr, "/stats", &[("format", "json")]);
                let r: StatsTopicNames = up.get_json(&url).await?;
                Ok(r.names())
            }
        })
        .await;
        let (lists, errs) = gather(results, "nsqd")?;
        Ok((sort_unique(lists.concat()), errs))
    }

    /// The topics, from the lookupds if any are configured, else from the nsqds.
    pub async fn topics(&self, lookupds: &[String], nsqds: &[String]) -> Partial<Vec<String>> {
        if lookupds.is_empty() {
            self.nsqd_topics(nsqds).await
        } else {
            self.lookupd_topics(lookupds).await
        }
    }

    /// The producers of `topic` per lookupd `/lookup`, unioned by HTTP address.
    pub async fn lookupd_topic_producers(
        &self,
        topic: &str,
        lookupds: &[String],
    ) -> Partial<Vec<Producer>> {
        let (lists, errs) = self
            .lookupd_lists(lookupds, "/lookup", &[("topic", topic)], producer_peers)
            .await?;
        let mut producers: Vec<Producer> = Vec::new();
        for peer in lists.into_iter().flat_map(|(_, l)| l) {
            let p = Producer::from(peer);
            if !producers
                .iter()
                .any(|q| q.http_address() == p.http_address())
            {
                producers.push(p);
            }
        }
        Ok((producers, errs))
    }

    /// The nsqds (of the given ones) that have `topic`.
    pub async fn nsqd_topic_producers(
        &self,
        topic: &str,
        nsqds: &[String],
    ) -> Partial<Vec<Producer>> {
        let up = self.up.clone();
        let topic = topic.to_string();
        let results = fan_out(nsqds, |addr: String| {
            let up = up.clone();
            let topic = topic.clone();
            async move {
                let url = endpoint(
                    &addr,
                    "/stats",
                    &[
                        ("format", "json"),
                        ("topic", &topic),
                        ("include_clients", "false"),
                    ],
                );
                let names = up.get_json::<StatsTopicNames>(&url).await?.names();
                if !names.contains(&topic) {
                    return Ok(None);
                }
                let info: NsqdInfo = up.get_json(&endpoint(&addr, "/info", &[])).await?;
                Ok(Some(producer_from_info(info, &addr, names)))
            }
        })
        .await;
        let (found, errs) = gather(results, "nsqd")?;
        Ok((found.into_iter().flatten().collect(), errs))
    }

    /// The producers of `topic`, through the lookupds if any are configured.
    pub async fn topic_producers(
        &self,
        topic: &str,
        lookupds: &[String],
        nsqds: &[String],
    ) -> Partial<Vec<Producer>> {
        if lookupds.is_empty() {
            self.nsqd_topic_producers(topic, nsqds).await
        } else {
            self.lookupd_topic_producers(topic, lookupds).await
        }
    }

    /// Every nsqd any lookupd knows (`/nodes`), merged by TCP address, with the lookupds
    /// that know each one, sorted by hostname.
    pub async fn lookupd_producers(&self, lookupds: &[String]) -> Partial<Vec<Producer>> {
        let (answers, errs) = self
            .lookupd_lists(lookupds, "/nodes", &[], producer_peers)
            .await?;
        let mut producers: Vec<Producer> = Vec::new();
        for (lookupd, peers) in answers {
            for peer in peers {
                let p = Producer::from(peer);
                let seen = format!("{lookupd}/{}", p.address());
                let key = p.tcp_address();
                match producers.iter_mut().find(|q| q.tcp_address() == key) {
                    Some(q) => q.remote_addresses.get_or_insert_with(Vec::new).push(seen),
                    None => {
                        let mut p = p;
                        if let Some(t) = p.topics.as_mut() {
                            t.sort();
                        }
                        p.remote_addresses = Some(vec![seen]);
                        producers.push(p);
                    }
                }
            }
        }
        mark_out_of_date(&mut producers);
        producers.sort_by(|a, b| a.hostname.cmp(&b.hostname));
        Ok((producers, errs))
    }

    /// The given nsqds as producers, from their `/info` and `/stats`.
    pub async fn nsqd_producers(&self, nsqds: &[String]) -> Partial<Vec<Producer>> {
        let up = self.up.clone();
        let results = fan_out(nsqds, |addr: String| {
            let up = up.clone();
            async move {
                let info: NsqdInfo = up.get_json(&endpoint(&addr, "/info", &[])).await?;
                let url = endpoint(
                    &addr,
                    "/stats",
                    &[("format", "json"), ("include_clients", "false")],
                );
                let mut names = up.get_json::<StatsTopicNames>(&url).await?.names();
                names.sort();
                Ok(producer_from_info(info, &addr, names))
            }
        })
        .await;
        let (mut producers, errs) = gather(results, "nsqd")?;
        mark_out_of_date(&mut producers);
        producers.sort_by(|a, b| a.hostname.cmp(&b.hostname));
        Ok((producers, errs))
    }

    pub async fn producers(&self, lookupds: &[String], nsqds: &[String]) -> Partial<Vec<Producer>> {
        if lookupds.is_empty() {
            self.nsqd_producers(nsqds).await
        } else {
            self.lookupd_producers(lookupds).await
        }
    }

    /// Each producer's `/stats` (only `topic`, and in it only `channel`, when not empty):
    /// the per-node topics sorted by hostname, and the channel totals keyed by channel name
    /// (or `topic:channel` when no topic was selected).
    pub async fn nsqd_stats(
        &self,
        producers: &[Producer],
        topic: &str,
        channel: &str,
        include_clients: bool,
    ) -> Partial<(Vec<TopicStats>, BTreeMap<String, ChannelStats>)> {
        let up = self.up.clone();
        let topic = topic.to_string();
        let results = fan_out(producers, |p: Producer| {
            let up = up.clone();
            let addr = p.http_address();
            let mut query = vec![("format", "json")];
            if !topic.is_empty() {
                query.push(("topic", topic.as_str()));
                if !channel.is_empty() {
                    query.push(("channel", channel));
                }
            }
            if !include_clients {
                query.push(("include_clients", "false"));
            }
            let url = endpoint(&addr, "/stats", &query);
            async move {
                let stats: NsqdStats = up.get_json(&url).await?;
                Ok((p, stats.topics.unwrap_or_default()))
            }
        })
        .await;
        let (answers, errs) = gather(results, "nsqd")?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let mut topics: Vec<TopicStats> = Vec::new();
        let mut channels: BTreeMap<String, ChannelStats> = BTreeMap::new();
        for (p, mut node_topics) in answers {
            stamp_node_stats(&mut node_topics, &p, now);
            for t in node_topics {
                if !topic.is_empty() && t.topic_name != topic {
                    continue;
                }
                for c in t.channels.iter().flatten() {
                    let key = if topic.is_empty() {
                        format!("{}:{}", t.topic_name, c.channel_name)
                    } else {
                        c.channel_name.clone()
                    };
                    channels
                        .entry(key)
                        .or_insert_with(|| ChannelStats::aggregate(&t.topic_name, &c.channel_name))
                        .add(c);
                }
                topics.push(t);
            }
        }
        topics.sort_by(|a, b| a.hostname.cmp(&b.hostname).then(a.node.cmp(&b.node)));
        Ok(((topics, channels), errs))
    }

    /// POSTs to every URL at once; returns the failures.
    pub async fn post_all(&self, urls: Vec<String>) -> Vec<String> {
        let up = self.up.clone();
        fan_out(&urls, |url: String| {
            let up = up.clone();
            async move { up.post(&url).await }
        })
        .await
        .into_iter()
        .filter_map(Result::err)
        .collect()
    }

    /// creates the topic (and channel) on every lookupd, and the channel on every
    /// nsqd producing the topic.
    pub async fn create_topic_channel(
        &self,
        topic: &str,
        channel: &str,
        lookupds: &[String],
    ) -> Partial<()> {
        let mut errs = self
            .post_all(
                lookupds
                    .iter()
                    .map(|a| endpoint(a, "/topic/create", &[("topic", topic)]))
                    .collect(),
            )
            .await;
        if !channel.is_empty() {
            let q = [("topic", topic), ("channel", channel)];
            errs.extend(
                self.post_all(
                    lookupds
                        .iter()
                        .map(|a| endpoint(a, "/channel/create", &q))
                        .collect(),
                )
                .await,
            );
            if !lookupds.is_empty() {
                let (producers, more) = self.lookupd_topic_producers(topic, lookupds).await?;
                errs.extend(more);
                errs.extend(
                    self.post_all(
                        producers
                            .iter()
                            .map(|p| endpoint(&p.http_address(), "/channel/create", &q))
                            .collect(),
                    )
                    .await,
                );
            }
        }
        Ok(((), errs))
    }

    /// tombstones `node` for `topic` on every lookupd, then deletes the topic on it.
    pub async fn tombstone_node_for_topic(
        &self,
        topic: &str,
        node: &str,
        lookupds: &[String],
    ) -> Partial<()> {
        let mut errs = self
            .post_all(
                lookupds
                    .iter()
                    .map(|a| endpoint(a, "/topic/tombstone", &[("topic", topic), ("node", node)]))
                    .collect(),
            )
            .await;
        let (producers, more) = self.nsqd_producers(&[node.to_string()]).await?;
        errs.extend(more);
        errs.extend(
            self.post_all(
                producers
                    .iter()
                    .map(|p| endpoint(&p.http_address(), "/topic/delete", &[("topic", topic)]))
                    .collect(),
            )
            .await,
        );
        Ok(((), errs))
    }

    /// deletes the topic, or one channel of it, on every lookupd and every producer.
    pub async fn delete(
        &self,
        topic: &str,
        channel: &str,
        lookupds: &[String],
        nsqds: &[String],
    ) -> Partial<()> {
        let (producers, mut errs) = self.topic_producers(topic, lookupds, nsqds).await?;
        let (path, query): (&str, Vec<(&str, &str)>) = if channel.is_empty() {
            ("/topic/delete", vec![("topic", topic)])
        } else {
            (
                "/channel/delete",
                vec![("topic", topic), ("channel", channel)],
            )
        };
        errs.extend(
            self.post_all(lookupds.iter().map(|a| endpoint(a, path, &query)).collect())
                .await,
        );
        errs.extend(
            self.post_all(
                producers
                    .iter()
                    .map(|p| endpoint(&p.http_address(), path, &query))
                    .collect(),
            )
            .await,
        );
        Ok(((), errs))
    }

    /// pause, unpause or empty the topic (or one channel) on every producer.
    pub async fn producer_action(
        &self,
        action: &str,
        topic: &str,
        channel: &str,
        lookupds: &[String],
        nsqds: &[String],
    ) -> Partial<()> {
        let (producers, mut errs) = self.topic_producers(topic, lookupds, nsqds).await?;
        let (path, query): (String, Vec<(&str, &str)>) = if channel.is_empty() {
            (format!("/topic/{action}"), vec![("topic", topic)])
        } else {
            (
                format!("/channel/{action}"),
                vec![("topic", topic), ("channel", channel)],
            )
        };
        errs.extend(
            self.post_all(
                producers
                    .iter()
                    .map(|p| endpoint(&p.http_address(), &path, &query))
                    .collect(),
            )
            .await,
        );
        Ok(((), errs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_escape_like_go() {
        assert_eq!(endpoint("h:1", "/topics", &[]), "http://h:1/topics");
        assert_eq!(
            endpoint("h:1", "/lookup", &[("topic", "a b&c")]),
            "http://h:1/lookup?topic=a+b%26c"
        );
    }

    #[test]
    fn gather_rules() {
        let all_bad: Vec<Result<i32, String>> = vec![Err("x".into()), Err("y".into())];
        assert_eq!(
            gather(all_bad, "nsqd").unwrap_err(),
            "failed to query any nsqd: x; y"
        );
        let none: Vec<Result<i32, String>> = vec![];
        assert_eq!(
            gather(none, "nsqd").unwrap_err(),
            "failed to query any nsqd: "
        );
        let some = vec![Ok(1), Err("y".to_string())];
        assert_eq!(
            gather(some, "nsqd").unwrap(),
            (vec![1], vec!["y".to_string()])
        );
    }
}
