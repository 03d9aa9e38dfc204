//! A topic: the named stream publishers write to. Every message is handed to every channel
//! (fan-out shares the body: each channel holds a cheap `Bytes` clone). Until a topic is started,
//! while it is paused, or while it has no channels, messages are held at the topic (memory up to
//! `--mem-queue-size`, then the backend) and handed over once delivery is possible (BEH-003/004).
//!
//! Publishes go straight to the channels when they can, so with `--mem-queue-size=0` a message
//! is written once per channel, not once at the topic and again per channel. Messages that did
//! go to the topic's disk queue (or were there at start-up) are moved to the channels by a pump
//! thread, started whenever delivery becomes possible with a backlog on disk.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use bytes::Bytes;
use nsq_protocol::guid::{guid_to_message_id, GuidFactory};
use nsq_protocol::message::Message;
use parking_lot::Mutex;

use crate::backend::{self, Backend, BackendError};
use crate::channel::{Channel, OnFailure};
use crate::durable::SyncWait;
use crate::queue_config::QueueConfig;
use crate::stats::TopicStats;

#[derive(Debug, Clone, thiserror::Error)]
pub enum PutError {
    #[error("exiting")]
    Exiting,
    #[error("{0}")]
    Backend(String),
}

struct TopicState {
    channels: BTreeMap<String, Arc<Channel>>,
    /// Messages waiting for delivery, with their defer (lost if they overflow to the backend,
    /// BEH-014).
    held: VecDeque<(Message, Duration)>,
    backend: Box<dyn Backend>,
    started: bool,
    /// A pump thread is moving the backend's messages to the channels.
    pumping: bool,
}

/// Messages the pump moves per lock.
const PUMP_BATCH: usize = 256;
/// With durable acks, messages the pump moves per fsync of the channels.
const PUMP_SYNC_ROUND: usize = 16 * PUMP_BATCH;

pub struct Topic {
    pub name: String,
    pub ephemeral: bool,
    /// Lets `&self` methods hand the pump thread an `Arc` of this topic.
    me: Weak<Topic>,
    state: Mutex<TopicState>,
    cfg: QueueConfig,
    guid: Mutex<GuidFactory>,
    paused: AtomicBool,
    exiting: AtomicBool,
    message_count: AtomicU64,
    message_bytes: AtomicU64,
}

impl Topic {
    pub fn new(name: &str, node_id: i64, cfg: QueueConfig) -> Arc<Self> {
        let ephemeral = nsq_protocol::names::is_ephemeral(name);
        let backend = backend::for_queue(name, ephemeral, &cfg.disk);
        Arc::new_cyclic(|me| Topic {
            name: name.to_string(),
            ephemeral,
            me: me.clone(),
            state: Mutex::new(TopicState {
                channels: BTreeMap::new(),
                held: VecDeque::new(),
                backend,
                started: false,
                pumping: false,
            }),
            cfg,
            guid: Mutex::new(GuidFactory::new(node_id)),
            paused: AtomicBool::new(false),
            exiting: AtomicBool::new(false),
            message_count: AtomicU64::new(0),
            message_bytes: AtomicU64::new(0),
        })
    }

    pub fn is_paused(&self) -> bool {
        self.paused.load(Ordering::Acquire)
    }

    pub fn is_exiting(&self) -> bool {
        self.exiting.load(Ordering::Acquire)
    }

    /// Starts delivery to channels (after channels were restored or pre-created).
    pub fn start(&self) {
        let mut st = self.state.lock();
        st.started = true;
        self.release_held(&mut st);
    }

    fn next_id(&self) -> [u8; 16] {
        let mut guid = self.guid.lock();
        loop {
            // The generator only fails within the same ~1 ms tick (sequence exhausted or the
            // clock stepped back); waiting for the clock is what NSQ does too (P-023).
            match guid.next_id(crate::clock::unix_nanos()) {
                Ok(id) => return guid_to_message_id(id),
                Err(_) => std::thread::yield_now(),
            }
        }
    }

    /// Publishes bodies as new messages, in order. `defer` applies to each (DPUB, `/pub?defer`).
    pub fn put(&self, bodies: &[Bytes], defer: Duration) -> Result<(), PutError> {
        self.put_tracked(bodies, defer, None)
    }

    /// [`put`](Topic::put) for a TCP publish. With durable acks on, it also adds to `wait` what
    /// the publish's `OK` must wait for; the connection awaits one wait for a whole run of
    /// pipelined publishes (see [`SyncWait`]). Without durable acks `wait` is left untouched.
    pub fn put_pending(
        &self,
        bodies: &[Bytes],
        defer: Duration,
        wait: &mut SyncWait,
    ) -> Result<(), PutError> {
        if !self.durable_acks() {
            return self.put(bodies, defer);
        }
        self.put_tracked(bodies, defer, Some(wait))
    }

    /// [`put`](Topic::put), then with durable acks on, waits until the messages are fsynced
    /// (for async callers such as the HTTP handlers).
    pub async fn put_synced(&self, bodies: &[Bytes], defer: Duration) -> Result<(), PutError> {
        if !self.durable_acks() {
            return self.put(bodies, defer);
        }
        let mut wait = SyncWait::new(self.cfg.health.clone());
        self.put_tracked(bodies, defer, Some(&mut wait))?;
        wait.wait().await.map_err(PutError::Backend)
    }

    fn durable_acks(&self) -> bool {
        self.cfg.disk.durable_acks && !self.ephemeral
    }

    fn put_tracked(
        &self,
        bodies: &[Bytes],
        defer: Duration,
        mut tickets: Option<&mut SyncWait>,
    ) -> Result<(), PutError> {
        if self.is_exiting() {
            return Err(PutError::Exiting);
        }
        let timestamp = crate::clock::unix_nanos();
        let messages: Vec<Message> = bodies
            .iter()
            .map(|body| Message {
                id: self.next_id(),
                timestamp,
                attempts: 0,
                body: body.clone(),
            })
            .collect();
        let bytes: usize = bodies.iter().map(|b| b.len()).sum();

        let mut st = self.state.lock();
        if self.is_exiting() {
            return Err(PutError::Exiting);
        }
        let result = if self.can_deliver(&st) {
            let mut result = Ok(());
            for ch in st.channels.values() {
                let put = ch.put_batch(&messages, defer, OnFailure::Reject, tickets.as_deref_mut());
                if let Err(e) = put {
                    tracing::error!(
                        "TOPIC({}) ERROR: failed to put msg(s) to channel({}) - {}",
                        self.name,
                        ch.name,
                        e
                    );
                    result = Err(PutError::Backend(e.0));
                }
            }
            result
        } else {
            self.hold(&mut st, messages, defer, tickets)
        };
        drop(st);
        if result.is_ok() {
            self.message_count
                .fetch_add(bodies.len() as u64, Ordering::Relaxed);
            self.message_bytes
                .fetch_add(bytes as u64, Ordering::Relaxed);
        }
        result
    }

    fn can_deliver(&self, st: &TopicState) -> bool {
        st.started && !self.is_paused() && !st.channels.is_empty()
    }

    /// Keeps messages at the topic: memory first, then the backend, where a defer is lost
    /// (BEH-014).
    fn hold(
        &self,
        st: &mut TopicState,
        mut messages: Vec<Message>,
        defer: Duration,
        tickets: Option<&mut SyncWait>,
    ) -> Result<(), PutError> {
        let room = self
            .cfg
            .mem_queue_size
            .saturating_sub(st.held.len())
            .min(messages.len());
        let overflow = messages.split_off(room);
        st.held.extend(messages.into_iter().map(|m| (m, defer)));
        if overflow.is_empty() {
            return Ok(());
        }
        let put = st.backend.put_batch(&overflow);
        let result = put.as_ref().map(|_| ()).map_err(|p| p.error.clone());
        self.record_write(result.as_ref().map(|_| ()));
        if let (Some(wait), Some(ticket)) = (tickets, st.backend.sync_ticket()) {
            wait.push(ticket);
        }
        result.map_err(|e| PutError::Backend(e.0))
    }

    fn record_write(&self, result: Result<(), &BackendError>) {
        if let Err(e) = result {
            tracing::error!(
                "TOPIC({}) ERROR: failed to write message to backend - {}",
                self.name,
                e
            );
        }
        self.cfg.health.record(result.map_err(|e| e.0.as_str()));
    }

    /// Hands held messages to the channels once delivery is possible, and starts the pump for
    /// the backend's.
    fn release_held(&self, st: &mut TopicState) {
        if !self.can_deliver(st) {
            return;
        }
        let mut batch: Vec<Message> = Vec::new();
        let mut batch_defer = Duration::ZERO;
        let flush = |batch: &mut Vec<Message>,
                     defer: Duration,
                     channels: &BTreeMap<String, Arc<Channel>>| {
            for ch in channels.values() {
                let _ = ch.put_batch(batch, defer, OnFailure::Keep, None);
            }
            batch.clear();
        };
        while let Some((m, defer)) = st.held.pop_front() {
            if defer != batch_defer && !batch.is_empty() {
                flush(&mut batch, batch_defer, &st.channels);
            }
            batch_defer = defer;
            batch.push(m);
            if batch.len() >= 1024 {
                flush(&mut batch, batch_defer, &st.channels);
            }
        }
        flush(&mut batch, batch_defer, &st.channels);
        self.start_pump(st);
    }

    /// Starts the pump thread if the backend holds messages and none is running. Reading the
    /// disk and writing every channel's queue can take long; it must not run on a runtime worker
    /// or hold up the publish that made delivery possible.
    fn start_pump(&self, st: &mut TopicState) {
        if st.pumping || st.backend.depth() == 0 || self.is_exiting() {
            return;
        }
        let Some(me) = self.me.upgrade() else {
            return;
        };
        st.pumping = true;
        let spawned = std::thread::Builder::new()
            .name("nsqd-topic-pump".to_string())
            .spawn(move || me.pump());
        if let Err(e) = spawned {
            st.pumping = false;
            tracing::error!("TOPIC({}): failed to start its pump - {}", self.name, e);
        }
    }

    /// Moves the backend's messages to the channels, a batch per lock, until the backend is
    /// empty or delivery stops (pause, last channel gone, exit). Each batch is read and put
    /// under the topic lock, so a message is never between the two queues when the lock is
    /// free. With durable acks, the topic queue's read position is kept off the disk until the
    /// channels' copies are fsynced: a crash in between then delivers twice, never zero times.
    /// One fsync round then covers several batches.
    fn pump(&self) {
        let durable = self.durable_acks();
        let per_round = if durable { PUMP_SYNC_ROUND } else { PUMP_BATCH };
        let mut batch = Vec::with_capacity(PUMP_BATCH);
        loop {
            let mut wait = SyncWait::new(self.cfg.health.clone());
            let mut hold = None;
            let mut moved = 0;
            let mut done = false;
            while moved < per_round {
                let mut st = self.state.lock();
                if self.is_exiting() || !self.can_deliver(&st) {
                    st.pumping = false;
                    done = true;
                    break;
                }
                if durable && hold.is_none() {
                    hold = st.backend.hold_sync();
                }
                while batch.len() < PUMP_BATCH {
                    match st.backend.get() {
                        Some(m) => batch.push(m),
                        None => break,
                    }
                }
                if batch.is_empty() {
                    st.pumping = false;
                    done = true;
                    break;
                }
                for ch in st.channels.values() {
                    let tickets = if durable { Some(&mut wait) } else { None };
                    let _ = ch.put_batch(&batch, Duration::ZERO, OnFailure::Keep, tickets);
                }
                moved += batch.len();
                batch.clear();
            }
            if let Err(e) = wait.wait_blocking() {
                tracing::error!("TOPIC({}): failed to sync channels - {}", self.name, e);
            }
            drop(hold);
            if done {
                return;
            }
        }
    }

    /// Returns the channel and whether it was created by this call.
    pub fn get_or_create_channel(&self, name: &str) -> (Arc<Channel>, bool) {
        let mut st = self.state.lock();
        if let Some(ch) = st.channels.get(name) {
            return (ch.clone(), false);
        }
        let ch = Arc::new(Channel::new(&self.name, name, self.cfg.clone()));
        st.channels.insert(name.to_string(), ch.clone());
        self.release_held(&mut st);
        (ch, true)
    }

    pub fn get_channel(&self, name: &str) -> Option<Arc<Channel>> {
        self.state.lock().channels.get(name).cloned()
    }

    pub fn channels(&self) -> Vec<Arc<Channel>> {
        self.state.lock().channels.values().cloned().collect()
    }

    /// Removes and deletes a channel (BEH-081). Returns None if it does not exist, else whether
    /// an ephemeral topic is left without channels and should go too.
    pub fn delete_channel(&self, name: &str) -> Option<bool> {
        let ch = self.state.lock().channels.remove(name)?;
        ch.delete();
        Some(self.ephemeral && self.state.lock().channels.is_empty())
    }

    /// Removes `ch` only if it is still the channel registered under its name.
    pub fn remove_channel_if_same(&self, ch: &Arc<Channel>) -> bool {
        let mut st = self.state.lock();
        match st.channels.get(&ch.name) {
            Some(c) if Arc::ptr_eq(c, ch) => {
                st.channels.remove(&ch.name);
                true
            }
            _ => false,
        }
    }

    pub fn has_channels(&self) -> bool {
        !self.state.lock().channels.is_empty()
    }

    pub fn pause(&self) {
        self.paused.store(true, Ordering::Release);
    }

    pub fn unpause(&self) {
        self.paused.store(false, Ordering::Release);
        let mut st = self.state.lock();
        self.release_held(&mut st);
    }

    /// Drops the messages held at the topic; channels are untouched (BEH-082).
    pub fn empty(&self) -> Result<(), String> {
        let mut st = self.state.lock();
        st.held.clear();
        st.backend.empty().map_err(|e| e.0)
    }

    /// Deletion (BEH-080): refuse new puts, delete every channel, drop held messages and remove
    /// the disk files.
    pub fn delete(&self) {
        self.exiting.store(true, Ordering::Release);
        let channels = std::mem::take(&mut self.state.lock().channels);
        for ch in channels.values() {
            ch.delete();
        }
        let _ = self.empty();
        if let Err(e) = self.state.lock().backend.delete() {
            tracing::error!("TOPIC({}): failed to delete backend - {}", self.name, e);
        }
    }

    /// Shutdown (BEH-100 step 4): refuse new puts, close every channel (which persists its
    /// messages), write the topic's memory queue to its backend and close the backend. Returns
    /// how many messages could not be written (disk errors; ephemeral queues drop theirs by
    /// design and do not count).
    pub fn close(&self) -> usize {
        self.exiting.store(true, Ordering::Release);
        let mut st = self.state.lock();
        tracing::info!("TOPIC({}): closing", self.name);
        let mut lost = 0;
        for ch in st.channels.values() {
            lost += ch.close();
        }
        let held: Vec<Message> = st.held.drain(..).map(|(m, _)| m).collect();
        if !held.is_empty() {
            tracing::info!(
                "TOPIC({}): flushing {} memory messages to backend",
                self.name,
                held.len()
            );
            let put = st.backend.put_batch(&held);
            self.record_write(put.as_ref().map(|_| ()).map_err(|p| &p.error));
            if let Err(p) = put {
                lost += held.len() - p.written;
            }
        }
        if let Err(e) = st.backend.close() {
            tracing::error!("TOPIC({}): failed to close backend - {}", self.name, e);
        }
        lost
    }

    pub fn depth(&self) -> u64 {
        let st = self.state.lock();
        st.held.len() as u64 + st.backend.depth()
    }

    pub fn stats(&self, channel_filter: Option<&str>, include_clients: bool) -> TopicStats {
        let now = Instant::now();
        let channels = self.channels();
        let mut merged: Option<nsq_common::quantile::Quantile> = None;
        for ch in &channels {
            if let Some(w) = ch.e2e_window() {
                match merged.as_mut() {
                    None => merged = Some(w),
                    Some(m) => m.merge(&w, now),
                }
            }
        }
        let (depth, backend_depth) = {
            let st = self.state.lock();
            let be = st.backend.depth();
            (st.held.len() as u64 + be, be)
        };
        TopicStats {
            topic_name: self.name.clone(),
            channels: channels
                .iter()
                .filter(|c| channel_filter.map_or(true, |f| f == c.name))
                .map(|c| c.stats(include_clients))
                .collect(),
            depth,
            backend_depth,
            message_count: self.message_count.load(Ordering::Relaxed),
            message_bytes: self.message_bytes.load(Ordering::Relaxed),
            paused: self.is_paused(),
            e2e_processing_latency: merged.map(|mut q| q.result(now)).unwrap_or_default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::health::Health;
    use crate::options::Options;

    fn config(dir: &std::path::Path, mem_queue_size: i64) -> QueueConfig {
        let opts = Options {
            data_path: dir.display().to_string(),
            mem_queue_size,
            ..Options::default()
        };
        QueueConfig::from_options(&opts, Arc::new(Health::default()))
    }

    fn wait_for(mut cond: impl FnMut() -> bool) -> bool {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if cond() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        cond()
    }

    #[test]
    fn a_disk_backlog_is_pumped_to_channels_once_delivery_is_possible() {
        let dir = tempfile::tempdir().unwrap();
        let topic = Topic::new("t", 1, config(dir.path(), 2));
        topic.start();
        let bodies: Vec<Bytes> = (0..1000).map(|i| Bytes::from(format!("m{i}"))).collect();
        topic.put(&bodies, Duration::ZERO).unwrap();
        assert_eq!(
            (topic.depth(), topic.stats(None, false).backend_depth),
            (1000, 998)
        );
        topic.pause();
        let (a, _) = topic.get_or_create_channel("a");
        let (b, _) = topic.get_or_create_channel("b");
        // Paused: everything stays at the topic.
        assert_eq!((topic.depth(), a.depth()), (1000, 0));
        topic.unpause();
        assert!(wait_for(|| a.depth() == 1000 && b.depth() == 1000));
        assert_eq!(topic.depth(), 0);
        assert!(!topic.state.lock().pumping || wait_for(|| !topic.state.lock().pumping));
    }

    #[test]
    fn a_failed_topic_write_fails_the_publish() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = config(&dir.path().join("missing"), 0);
        let health = cfg.health.clone();
        let topic = Topic::new("t", 1, cfg);
        topic.start();
        let err = topic
            .put(&[Bytes::from_static(b"x")], Duration::ZERO)
            .unwrap_err();
        assert!(
            matches!(err, PutError::Backend(ref e) if e.starts_with("open ")),
            "{err}"
        );
        assert!(!health.is_healthy());
        assert_eq!(topic.stats(None, false).message_count, 0);
    }
}
