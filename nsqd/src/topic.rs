//! A topic: the named stream publishers write to. Every message is handed to every channel
//! (fan-out shares the body: each channel holds a cheap `Bytes` clone). Until a topic is started,
//! while it is paused, or while it has no channels, messages are held at the topic (memory up to
//! `--mem-queue-size`, then the backend) and handed over once delivery is possible (BEH-003/004).

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use nsq_protocol::guid::{guid_to_message_id, GuidFactory};
use nsq_protocol::message::Message;
use parking_lot::Mutex;

use crate::backend::{self, Backend};
use crate::channel::Channel;
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
}

pub struct Topic {
    pub name: String,
    pub ephemeral: bool,
    state: Mutex<TopicState>,
    cfg: QueueConfig,
    guid: Mutex<GuidFactory>,
    paused: AtomicBool,
    exiting: AtomicBool,
    message_count: AtomicU64,
    message_bytes: AtomicU64,
}

impl Topic {
    pub fn new(name: &str, node_id: i64, cfg: QueueConfig) -> Self {
        let ephemeral = nsq_protocol::names::is_ephemeral(name);
        Topic {
            name: name.to_string(),
            ephemeral,
            state: Mutex::new(TopicState {
                channels: BTreeMap::new(),
                held: VecDeque::new(),
                backend: backend::for_queue(ephemeral),
                started: false,
            }),
            cfg,
            guid: Mutex::new(GuidFactory::new(node_id)),
            paused: AtomicBool::new(false),
            exiting: AtomicBool::new(false),
            message_count: AtomicU64::new(0),
            message_bytes: AtomicU64::new(0),
        }
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
            for ch in st.channels.values() {
                // A channel backend failure is recorded in health; the topic put succeeded.
                let _ = ch.put_batch(&messages, defer);
            }
            Ok(())
        } else {
            self.hold(&mut st, messages, defer)
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

    fn hold(
        &self,
        st: &mut TopicState,
        messages: Vec<Message>,
        defer: Duration,
    ) -> Result<(), PutError> {
        for m in messages {
            if st.held.len() < self.cfg.mem_queue_size {
                st.held.push_back((m, defer));
                continue;
            }
            let r = st.backend.put(m);
            self.cfg
                .health
                .record(r.as_ref().map(|_| ()).map_err(|e| e.0.as_str()));
            r.map_err(|e| PutError::Backend(e.0))?;
        }
        Ok(())
    }

    /// Hands held messages to the channels once delivery is possible.
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
                let _ = ch.put_batch(batch, defer);
            }
            batch.clear();
        };
        while let Some(m) = st.backend.get() {
            batch.push(m);
            if batch.len() >= 1024 {
                flush(&mut batch, Duration::ZERO, &st.channels);
            }
        }
        flush(&mut batch, Duration::ZERO, &st.channels);
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

    /// Deletion (BEH-080): refuse new puts, delete every channel, drop held messages.
    pub fn delete(&self) {
        self.exiting.store(true, Ordering::Release);
        let channels = std::mem::take(&mut self.state.lock().channels);
        for ch in channels.values() {
            ch.delete();
        }
        let _ = self.empty();
    }

    /// Shutdown: refuse new puts and close the channels. Returns how many messages were only in
    /// memory and could not be kept (there is no disk queue behind them yet).
    pub fn close(&self) -> usize {
        self.exiting.store(true, Ordering::Release);
        let st = self.state.lock();
        let mut lost = st.held.len() + st.backend.depth() as usize;
        for ch in st.channels.values() {
            lost += ch.close().len();
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
