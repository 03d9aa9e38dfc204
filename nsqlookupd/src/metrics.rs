//! `GET /metrics`: the registration DB's sizes as a Prometheus exposition. Beyond NSQ (the
//! Go nsqlookupd answers 404 here); see docs/metrics.md.

use nsq_common::metrics::{Exposition, Kind};

use crate::lookupd::Lookupd;
use crate::registration_db::{now_nanos, Category, RegistrationDb};

/// Per-topic producer counts as `/lookup` would see them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicCounts {
    pub topic: String,
    /// Producers heard from recently and not tombstoned (the ones `/lookup` returns).
    pub active: usize,
    pub tombstoned: usize,
}

/// One scrape's numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsDoc {
    /// Identified nsqd connections.
    pub producers: usize,
    pub topics: Vec<TopicCounts>,
    pub channels: usize,
}

pub fn gather(lookupd: &Lookupd) -> MetricsDoc {
    let now = now_nanos();
    let inactive = lookupd.opts.inactive_producer_timeout;
    let lifetime = lookupd.opts.tombstone_lifetime;
    let db: &RegistrationDb = &lookupd.db.read();
    let mut doc = MetricsDoc {
        producers: db.find_producers(Category::Client, "", "").len(),
        topics: Vec::new(),
        channels: db.find_registrations(Category::Channel, "*", "*").len(),
    };
    for (reg, producers) in db.iter() {
        if reg.category != Category::Topic {
            continue;
        }
        let mut counts = TopicCounts {
            topic: reg.key.clone(),
            active: 0,
            tombstoned: 0,
        };
        for p in producers {
            if p.is_tombstoned(lifetime, now) {
                counts.tombstoned += 1;
            } else if p.is_active(inactive, lifetime, now) {
                counts.active += 1;
            }
        }
        doc.topics.push(counts);
    }
    doc
}

pub fn render(lookupd: &Lookupd) -> String {
    let mut e = Exposition::new();
    write_doc(&mut e, &gather(lookupd));
    e.process_metrics();
    e.finish()
}

pub fn write_doc(e: &mut Exposition, doc: &MetricsDoc) {
    e.family(
        "nsq_lookupd_info",
        Kind::Gauge,
        "Always 1; the labels tell the version.",
    )
    .sample(
        "nsq_lookupd_info",
        &[("version", nsq_protocol::version::VERSION)],
        1.0,
    );
    e.single(
        "nsq_lookupd_producers",
        Kind::Gauge,
        "nsqd nodes connected and identified.",
        doc.producers as f64,
    );
    e.single(
        "nsq_lookupd_topics",
        Kind::Gauge,
        "Topics registered.",
        doc.topics.len() as f64,
    );
    e.single(
        "nsq_lookupd_channels",
        Kind::Gauge,
        "Channels registered, across all topics.",
        doc.channels as f64,
    );
    let name = "nsq_lookupd_topic_producers";
    e.family(
        name,
        Kind::Gauge,
        "Producers of the topic that /lookup returns (active, not tombstoned).",
    );
    for t in &doc.topics {
        e.sample(name, &[("topic", &t.topic)], t.active as f64);
    }
    let name = "nsq_lookupd_topic_tombstoned_producers";
    e.family(
        name,
        Kind::Gauge,
        "Producers of the topic currently tombstoned.",
    );
    for t in &doc.topics {
        e.sample(name, &[("topic", &t.topic)], t.tombstoned as f64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counts() {
        let doc = MetricsDoc {
            producers: 2,
            topics: vec![TopicCounts {
                topic: "t".into(),
                active: 1,
                tombstoned: 1,
            }],
            channels: 3,
        };
        let mut e = Exposition::new();
        write_doc(&mut e, &doc);
        let text = e.finish();
        for line in [
            "# TYPE nsq_lookupd_producers gauge\nnsq_lookupd_producers 2\n",
            "nsq_lookupd_topics 1\n",
            "nsq_lookupd_channels 3\n",
            "nsq_lookupd_topic_producers{topic=\"t\"} 1\n",
            "nsq_lookupd_topic_tombstoned_producers{topic=\"t\"} 1\n",
        ] {
            assert!(text.contains(line), "missing {line:?} in\n{text}");
        }
    }
}
