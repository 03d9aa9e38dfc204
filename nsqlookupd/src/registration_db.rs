//! The registration DB (§6.2): which nsqd nodes (producers) have which topics and channels.
//!
//! A registration is `(category, key, subkey)`: `client::` holds every identified nsqd,
//! `topic:<t>:` the nodes that have topic `t`, `channel:<t>:<c>` those that have channel `c`.
//! Each maps to producers keyed by peer id (the connection's remote `ip:port`). A producer
//! shares its peer's info (and so its last-update time) with the peer's other registrations,
//! but its tombstone belongs to that one registration (L-022).
//!
//! Registrations outlive their producers (L-009); only the HTTP delete routes and ephemeral
//! unregistration remove them. Everything is in memory (L-023).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Category {
    Client,
    Topic,
    Channel,
}

impl Category {
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Client => "client",
            Category::Topic => "topic",
            Category::Channel => "channel",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Registration {
    pub category: Category,
    pub key: String,
    pub subkey: String,
}

impl Registration {
    pub fn client() -> Registration {
        Registration {
            category: Category::Client,
            key: String::new(),
            subkey: String::new(),
        }
    }

    pub fn topic(topic: &str) -> Registration {
        Registration {
            category: Category::Topic,
            key: topic.to_string(),
            subkey: String::new(),
        }
    }

    pub fn channel(topic: &str, channel: &str) -> Registration {
        Registration {
            category: Category::Channel,
            key: topic.to_string(),
            subkey: channel.to_string(),
        }
    }
}

/// What an nsqd told us in IDENTIFY, plus when we last heard from it.
#[derive(Debug)]
pub struct PeerInfo {
    /// The connection's remote `ip:port`; unique per connection.
    pub id: String,
    pub remote_address: String,
    pub hostname: String,
    pub broadcast_address: String,
    pub tcp_port: i64,
    pub http_port: i64,
    pub version: String,
    pub topology_zone: String,
    pub topology_region: String,
    /// Unix nanoseconds of the last IDENTIFY or PING.
    last_update: AtomicI64,
}

impl PeerInfo {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        id: String,
        hostname: String,
        broadcast_address: String,
        tcp_port: i64,
        http_port: i64,
        version: String,
        topology_zone: String,
        topology_region: String,
        now: i64,
    ) -> PeerInfo {
        PeerInfo {
            remote_address: id.clone(),
            id,
            hostname,
            broadcast_address,
            tcp_port,
            http_port,
            version,
            topology_zone,
            topology_region,
            last_update: AtomicI64::new(now),
        }
    }

    pub fn last_update(&self) -> i64 {
        self.last_update.load(Ordering::Relaxed)
    }

    pub fn touch(&self, now: i64) {
        self.last_update.store(now, Ordering::Relaxed);
    }

    /// `broadcast_address:http_port`, the node name `/topic/tombstone` matches (L-036).
    pub fn http_node(&self) -> String {
        format!("{}:{}", self.broadcast_address, self.http_port)
    }
}

/// One peer in one registration.
#[derive(Clone, Debug)]
pub struct Producer {
    pub peer: Arc<PeerInfo>,
    /// Unix nanoseconds when tombstoned; None if never.
    pub tombstoned_at: Option<i64>,
}

impl Producer {
    fn new(peer: Arc<PeerInfo>) -> Producer {
        Producer {
            peer,
            tombstoned_at: None,
        }
    }

    pub fn is_tombstoned(&self, lifetime: Duration, now: i64) -> bool {
        self.tombstoned_at
            .is_some_and(|at| now.saturating_sub(at) < nanos(lifetime))
    }

    /// The L-021 filter: heard from within `inactive`, and not tombstoned within `lifetime`.
    pub fn is_active(&self, inactive: Duration, lifetime: Duration, now: i64) -> bool {
        now.saturating_sub(self.peer.last_update()) <= nanos(inactive)
            && !self.is_tombstoned(lifetime, now)
    }
}

fn nanos(d: Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

/// Unix nanoseconds now.
pub fn now_nanos() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, nanos)
}

type ProducerMap = BTreeMap<String, Producer>;

/// The DB itself. Callers hold it behind a lock; every method is a plain map operation.
#[derive(Debug, Default)]
pub struct RegistrationDb {
    map: BTreeMap<Registration, ProducerMap>,
}

impl RegistrationDb {
    /// Adds an empty registration if it is not there yet.
    pub fn add_registration(&mut self, r: Registration) {
        self.map.entry(r).or_default();
    }

    /// Adds `peer` to `r` (creating `r`); false if it was already there, in which case its
    /// producer, tombstone included, is left as it was.
    pub fn add_producer(&mut self, r: Registration, peer: &Arc<PeerInfo>) -> bool {
        let producers = self.map.entry(r).or_default();
        if producers.contains_key(&peer.id) {
            return false;
        }
        producers.insert(peer.id.clone(), Producer::new(peer.clone()));
        true
    }

    /// Removes peer `id` from `r`: whether it was there, and how many producers are left.
    pub fn remove_producer(&mut self, r: &Registration, id: &str) -> (bool, usize) {
        match self.map.get_mut(r) {
            Some(producers) => {
                let removed = producers.remove(id).is_some();
                (removed, producers.len())
            }
            None => (false, 0),
        }
    }

    pub fn remove_registration(&mut self, r: &Registration) {
        self.map.remove(r);
    }

    pub fn has(&self, r: &Registration) -> bool {
        self.map.contains_key(r)
    }

    /// The registrations of `category` whose key and subkey match; `*` matches anything.
    pub fn find_registrations(
        &self,
        category: Category,
        key: &str,
        subkey: &str,
    ) -> Vec<Registration> {
        self.map
            .keys()
            .filter(|r| is_match(r, category, key, subkey))
            .cloned()
            .collect()
    }

    /// The producers of the matching registrations, each peer once.
    pub fn find_producers(&self, category: Category, key: &str, subkey: &str) -> Vec<Producer> {
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::new();
        for (r, producers) in &self.map {
            if !is_match(r, category, key, subkey) {
                continue;
            }
            for p in producers.values() {
                if seen.insert(p.peer.id.clone()) {
                    out.push(p.clone());
                }
            }
        }
        out
    }

    /// Every registration peer `id` appears in.
    pub fn lookup_registrations(&self, id: &str) -> Vec<Registration> {
        self.map
            .iter()
            .filter(|(_, producers)| producers.contains_key(id))
            .map(|(r, _)| r.clone())
            .collect()
    }

    /// Tombstones, in topic `topic`'s registration, every producer whose
    /// `broadcast_address:http_port` is `node`.
    pub fn tombstone(&mut self, topic: &str, node: &str, now: i64) {
        if let Some(producers) = self.map.get_mut(&Registration::topic(topic)) {
            for p in producers.values_mut() {
                if p.peer.http_node() == node {
                    p.tombstoned_at = Some(now);
                }
            }
        }
    }

    /// Every registration with its producers, for `/debug`.
    pub fn iter(&self) -> impl Iterator<Item = (&Registration, impl Iterator<Item = &Producer>)> {
        self.map.iter().map(|(r, p)| (r, p.values()))
    }
}

fn is_match(r: &Registration, category: Category, key: &str, subkey: &str) -> bool {
    r.category == category && (key == "*" || r.key == key) && (subkey == "*" || r.subkey == subkey)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(id: &str, addr: &str, http_port: i64, now: i64) -> Arc<PeerInfo> {
        Arc::new(PeerInfo::new(
            id.into(),
            "host".into(),
            addr.into(),
            4150,
            http_port,
            "1.3.0".into(),
            String::new(),
            String::new(),
            now,
        ))
    }

    #[test]
    fn add_and_remove_producers() {
        let mut db = RegistrationDb::default();
        let a = peer("1.1.1.1:1", "a", 4151, 0);
        let b = peer("1.1.1.1:2", "b", 4151, 0);
        assert!(db.add_producer(Registration::topic("t"), &a));
        assert!(!db.add_producer(Registration::topic("t"), &a), "added once");
        assert!(db.add_producer(Registration::topic("t"), &b));
        assert!(db.add_producer(Registration::channel("t", "c"), &a));
        assert_eq!(db.find_producers(Category::Topic, "t", "").len(), 2);
        assert_eq!(
            db.find_producers(Category::Channel, "*", "*").len(),
            1,
            "each peer once"
        );
        assert_eq!(
            db.lookup_registrations(&a.id),
            [Registration::topic("t"), Registration::channel("t", "c")]
        );
        assert_eq!(
            db.remove_producer(&Registration::topic("t"), &a.id),
            (true, 1)
        );
        assert_eq!(
            db.remove_producer(&Registration::topic("t"), &a.id),
            (false, 1)
        );
        assert_eq!(
            db.remove_producer(&Registration::topic("x"), &a.id),
            (false, 0)
        );
        assert!(db.has(&Registration::topic("t")));
    }

    #[test]
    fn wildcard_matching() {
        let mut db = RegistrationDb::default();
        db.add_registration(Registration::topic("a"));
        db.add_registration(Registration::topic("b"));
        db.add_registration(Registration::channel("a", "x"));
        db.add_registration(Registration::channel("a", "y"));
        db.add_registration(Registration::channel("b", "z"));
        let keys = |v: Vec<Registration>| v.into_iter().map(|r| r.subkey).collect::<Vec<_>>();
        assert_eq!(
            keys(db.find_registrations(Category::Channel, "a", "*")),
            ["x", "y"]
        );
        assert_eq!(db.find_registrations(Category::Topic, "*", "").len(), 2);
        assert_eq!(db.find_registrations(Category::Topic, "c", "").len(), 0);
        assert_eq!(db.find_registrations(Category::Channel, "*", "*").len(), 3);
    }

    #[test]
    fn activity_and_tombstones() {
        let sec = 1_000_000_000;
        let now = 1_000 * sec;
        let fresh = peer("1.1.1.1:1", "a", 4151, now - 10 * sec);
        let stale = peer("1.1.1.1:2", "b", 4151, now - 400 * sec);
        let mut db = RegistrationDb::default();
        db.add_producer(Registration::topic("t"), &fresh);
        db.add_producer(Registration::topic("t"), &stale);
        db.add_producer(Registration::topic("u"), &fresh);
        let inactive = Duration::from_secs(300);
        let lifetime = Duration::from_secs(45);
        let active = |db: &RegistrationDb, topic: &str, at: i64| {
            db.find_producers(Category::Topic, topic, "")
                .into_iter()
                .filter(|p| p.is_active(inactive, lifetime, at))
                .map(|p| p.peer.id.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(active(&db, "t", now), ["1.1.1.1:1"]);

        db.tombstone("t", "a:4151", now);
        db.tombstone("t", "a:9999", now);
        assert!(active(&db, "t", now).is_empty());
        assert_eq!(active(&db, "u", now), ["1.1.1.1:1"], "only that topic");
        assert!(active(&db, "t", now + 44 * sec).is_empty());
        // The tombstone ages out; `fresh` must still be active then.
        fresh.touch(now + 45 * sec);
        assert_eq!(active(&db, "t", now + 45 * sec), ["1.1.1.1:1"]);
        // Re-registering does not clear it.
        db.tombstone("t", "a:4151", now);
        assert!(!db.add_producer(Registration::topic("t"), &fresh));
        assert!(active(&db, "t", now).is_empty());
    }
}
