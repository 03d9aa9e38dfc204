//! The daemon's shared state: options, the topic map, connected clients and health. Listeners,
//! connections, HTTP handlers and the queue scanner all hold an `Arc<Nsqd>`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use parking_lot::{Mutex, RwLock};
use tokio_util::sync::CancellationToken;

use crate::channel::Channel;
use crate::client::ClientShared;
use crate::health::Health;
use crate::options::Options;
use crate::queue_config::QueueConfig;
use crate::stats::{client_stats, ClientStats, TopicStats};
use crate::topic::Topic;

pub struct Nsqd {
    opts: RwLock<Arc<Options>>,
    topics: RwLock<BTreeMap<String, Arc<Topic>>>,
    clients: Mutex<BTreeMap<u64, Arc<ClientShared>>>,
    next_client_id: AtomicU64,
    pub health: Arc<Health>,
    /// Unix seconds.
    pub start_time: i64,
    pub started_at: Instant,
    /// Cancelled to start the clean shutdown.
    pub shutdown: CancellationToken,
    /// Cancelled when a listener fails for good (BEH-104): nsqd then shuts down and exits 1.
    pub listener_failed: CancellationToken,
    /// The bound TCP addresses; unset for a unix-socket or disabled listener.
    pub tcp_addr: OnceLock<SocketAddr>,
    pub http_addr: OnceLock<SocketAddr>,
    /// Set when the listener is a unix socket (`/info` then reports port −1).
    pub tcp_unix: OnceLock<std::path::PathBuf>,
    pub http_unix: OnceLock<std::path::PathBuf>,
    /// Registration with nsqlookupd (§3.16).
    pub lookup: crate::lookup::Lookup,
    queue_cfg: QueueConfig,
    /// Metadata writes are skipped while topics are being restored at start-up.
    loading: std::sync::atomic::AtomicBool,
}

impl Nsqd {
    pub fn new(opts: Options) -> Arc<Self> {
        let health = Arc::new(Health::default());
        let queue_cfg = QueueConfig::from_options(&opts, health.clone());
        Arc::new(Nsqd {
            opts: RwLock::new(Arc::new(opts)),
            topics: RwLock::new(BTreeMap::new()),
            clients: Mutex::new(BTreeMap::new()),
            next_client_id: AtomicU64::new(0),
            health,
            start_time: crate::clock::unix_secs(),
            started_at: Instant::now(),
            shutdown: CancellationToken::new(),
            listener_failed: CancellationToken::new(),
            tcp_addr: OnceLock::new(),
            http_addr: OnceLock::new(),
            tcp_unix: OnceLock::new(),
            http_unix: OnceLock::new(),
            lookup: Default::default(),
            queue_cfg,
            loading: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// A listener cannot accept any more (BEH-104): logs the FATAL line once and asks `run`
    /// for the clean shutdown and exit status 1.
    pub fn fail_listener(&self, err: &str) {
        if !self.listener_failed.is_cancelled() {
            nsq_common::fatal!("{}", err);
            self.listener_failed.cancel();
        }
    }

    pub fn options(&self) -> Arc<Options> {
        self.opts.read().clone()
    }

    /// Applies a change to the options (the two runtime-writable `/config` options).
    pub fn update_options(&self, f: impl FnOnce(&mut Options)) {
        let mut guard = self.opts.write();
        let mut next = (**guard).clone();
        f(&mut next);
        *guard = Arc::new(next);
    }

    pub fn set_loading(&self, loading: bool) {
        self.loading.store(loading, Ordering::Release);
    }

    pub fn is_loading(&self) -> bool {
        self.loading.load(Ordering::Acquire)
    }

    // ---- clients ----

    /// Registers a new client connection; `remote_ip` is empty for a unix socket.
    pub fn add_client(&self, remote_address: String, remote_ip: String) -> Arc<ClientShared> {
        let id = self.next_client_id.fetch_add(1, Ordering::Relaxed) + 1;
        let client = Arc::new(ClientShared::new(
            id,
            remote_address,
            remote_ip,
            crate::clock::unix_secs(),
        ));
        self.clients.lock().insert(id, client.clone());
        client
    }

    pub fn remove_client(&self, id: u64) {
        self.clients.lock().remove(&id);
    }

    // ---- topics ----

    pub fn get_topic(&self, name: &str) -> Option<Arc<Topic>> {
        self.topics.read().get(name).cloned()
    }

    /// Gets a topic, creating and starting it on first use (BEH-001).
    pub fn get_or_create_topic(self: &Arc<Self>, name: &str) -> Arc<Topic> {
        if let Some(t) = self.get_topic(name) {
            return t;
        }
        let (topic, created) = {
            let mut topics = self.topics.write();
            if let Some(t) = topics.get(name) {
                (t.clone(), false)
            } else {
                let node_id = self.options().node_id;
                let t = Topic::new(name, node_id, self.queue_cfg.clone());
                topics.insert(name.to_string(), t.clone());
                (t, true)
            }
        };
        if created {
            tracing::info!("TOPIC({}): created", name);
            self.lookup.topic_created(name);
            if !self.is_loading() {
                crate::lookup::precreate_channels(self, &topic);
                topic.start();
                self.persist_metadata_if(!topic.ephemeral);
            }
        }
        topic
    }

    pub fn get_or_create_channel(self: &Arc<Self>, topic: &Arc<Topic>, name: &str) -> Arc<Channel> {
        let (ch, created) = topic.get_or_create_channel(name);
        if created {
            tracing::info!("TOPIC({}): new channel({})", topic.name, name);
            self.lookup.channel_created(&topic.name, name);
            self.persist_metadata_if(!ch.ephemeral);
        }
        ch
    }

    pub fn topics(&self) -> Vec<Arc<Topic>> {
        self.topics.read().values().cloned().collect()
    }

    /// Deletes a topic (BEH-080); false if it does not exist.
    pub fn delete_topic(&self, name: &str) -> bool {
        let Some(topic) = self.topics.write().remove(name) else {
            return false;
        };
        tracing::info!("TOPIC({}): deleting", name);
        self.lookup.topic_deleted(&topic);
        topic.delete();
        self.persist_metadata_if(!topic.ephemeral);
        true
    }

    /// Deletes a channel (BEH-081), and an ephemeral topic left without channels.
    pub fn delete_channel(&self, topic: &Arc<Topic>, name: &str) -> bool {
        let Some(topic_now_empty) = topic.delete_channel(name) else {
            return false;
        };
        tracing::info!("CHANNEL({}:{}): deleting", topic.name, name);
        self.lookup.channel_deleted(&topic.name, name);
        if topic_now_empty {
            self.delete_topic_if_same(topic);
        }
        self.persist_metadata_if(!nsq_protocol::names::is_ephemeral(name));
        true
    }

    fn delete_topic_if_same(&self, topic: &Arc<Topic>) {
        let removed = {
            let mut topics = self.topics.write();
            match topics.get(&topic.name) {
                Some(t) if Arc::ptr_eq(t, topic) && !t.has_channels() => topics.remove(&topic.name),
                _ => None,
            }
        };
        if let Some(t) = removed {
            tracing::info!("TOPIC({}): deleting", t.name);
            self.lookup.topic_deleted(&t);
            t.delete();
        }
    }

    /// A subscriber left: an ephemeral channel without clients goes away (BEH-060), and an
    /// ephemeral topic without channels after it (BEH-061).
    pub fn client_left_channel(&self, topic: &Arc<Topic>, channel: &Arc<Channel>, client_id: u64) {
        if !channel.remove_client(client_id) {
            return;
        }
        if topic.remove_channel_if_same(channel) {
            tracing::info!("CHANNEL({}:{}): deleting", topic.name, channel.name);
            self.lookup.channel_deleted(&topic.name, &channel.name);
            channel.delete();
            if topic.ephemeral && !topic.has_channels() {
                self.delete_topic_if_same(topic);
            }
        }
    }

    fn persist_metadata_if(&self, needed: bool) {
        if needed && !self.is_loading() {
            if let Err(e) = crate::metadata::persist(self) {
                tracing::error!("failed to persist metadata - {}", e);
            }
        }
    }

    // ---- stats ----

    /// Topic snapshots for `/stats`. None when a topic filter matched nothing (H-040).
    pub fn stats(
        &self,
        topic_filter: Option<&str>,
        channel_filter: Option<&str>,
        include_clients: bool,
    ) -> Option<Vec<TopicStats>> {
        let topics: Vec<Arc<Topic>> = match topic_filter {
            Some(name) => self.get_topic(name).into_iter().collect(),
            None => self.topics(),
        };
        if topic_filter.is_some() && topics.is_empty() {
            return None;
        }
        let mut out = Vec::with_capacity(topics.len());
        for t in topics {
            if let Some(c) = channel_filter {
                if t.get_channel(c).is_none() {
                    continue;
                }
            }
            out.push(t.stats(channel_filter, include_clients));
        }
        Some(out)
    }

    /// A snapshot of every connected TCP client, with all its publish counts (for `/metrics`).
    pub fn client_stats_all(&self) -> Vec<ClientStats> {
        let clients: Vec<Arc<ClientShared>> = self.clients.lock().values().cloned().collect();
        clients.iter().map(|c| client_stats(c)).collect()
    }

    /// Every TCP client that has published (H-047), with pub_counts reduced per QRK-11.
    pub fn producer_stats(&self, topic_filter: Option<&str>) -> Vec<ClientStats> {
        let clients: Vec<Arc<ClientShared>> = self.clients.lock().values().cloned().collect();
        let mut out = Vec::new();
        for c in clients {
            let mut s = client_stats(&c);
            if s.pub_counts.is_empty() {
                continue;
            }
            match topic_filter {
                Some(t) => {
                    s.pub_counts.retain(|(name, _)| name == t);
                    if s.pub_counts.is_empty() {
                        continue;
                    }
                }
                // QRK-11 (replicated): the reference lists only one topic here.
                None => s.pub_counts.truncate(1),
            }
            out.push(s);
        }
        out
    }

    /// One pass of the queue scanner over every channel: expired in-flight messages and due
    /// deferred messages go back to their queues.
    pub fn scan_queues(&self, now: Instant) {
        for topic in self.topics() {
            for ch in topic.channels() {
                ch.process_in_flight(now);
                ch.process_deferred(now);
            }
        }
    }
}
