//! A channel: one consumer group's copy of a topic's stream.
//!
//! It holds the memory queue (bounded by `--mem-queue-size`), the overflow backend, the in-flight
//! table and the deferred queue, all behind one short-held lock. Clients pull batches of messages
//! when they have RDY capacity; a client that finds nothing registers as waiting and is woken by
//! the next put, so an idle consumer costs no wake-ups and a busy one takes many messages per lock.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nsq_common::quantile::Quantile;
use nsq_protocol::message::{Message, MessageId};
use parking_lot::Mutex;

use crate::backend::{self, Backend, BackendError};
use crate::client::ClientShared;
use crate::inflight::{DeferredQueue, InFlight, InFlightError, InFlightTable};
use crate::queue_config::QueueConfig;
use crate::stats::ChannelStats;

/// Why a REQ failed; the text ends the `E_REQ_FAILED` frame (P-126).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequeueError {
    InFlight(InFlightError),
    Exiting,
    AlreadyDeferred,
}

impl RequeueError {
    pub fn as_str(self) -> &'static str {
        match self {
            RequeueError::InFlight(e) => e.as_str(),
            RequeueError::Exiting => "exiting",
            RequeueError::AlreadyDeferred => "ID already deferred",
        }
    }
}

struct ChannelState {
    memory: VecDeque<Message>,
    backend: Box<dyn Backend>,
    in_flight: InFlightTable,
    deferred: DeferredQueue,
    clients: Vec<Arc<ClientShared>>,
    waiting: VecDeque<Arc<ClientShared>>,
    e2e: Option<Quantile>,
    /// Alternates memory and backend reads when both hold messages, so neither starves.
    take_backend_next: bool,
}

pub struct Channel {
    pub topic_name: String,
    pub name: String,
    pub ephemeral: bool,
    state: Mutex<ChannelState>,
    cfg: QueueConfig,
    paused: AtomicBool,
    exiting: AtomicBool,
    message_count: AtomicU64,
    requeue_count: AtomicU64,
    timeout_count: AtomicU64,
    global_msg_count: AtomicU64,
}

impl Channel {
    pub fn new(topic_name: &str, name: &str, cfg: QueueConfig) -> Self {
        let ephemeral = nsq_protocol::names::is_ephemeral(name);
        let e2e = (!cfg.e2e_percentiles.is_empty())
            .then(|| Quantile::new(cfg.e2e_window, &cfg.e2e_percentiles, Instant::now()));
        Channel {
            topic_name: topic_name.to_string(),
            name: name.to_string(),
            ephemeral,
            state: Mutex::new(ChannelState {
                memory: VecDeque::new(),
                backend: backend::for_queue(ephemeral),
                in_flight: InFlightTable::default(),
                deferred: DeferredQueue::default(),
                clients: Vec::new(),
                waiting: VecDeque::new(),
                e2e,
                take_backend_next: false,
            }),
            cfg,
            paused: AtomicBool::new(false),
            exiting: AtomicBool::new(false),
            message_count: AtomicU64::new(0),
            requeue_count: AtomicU64::new(0),
            timeout_count: AtomicU64::new(0),
            global_msg_count: AtomicU64::new(0),
        }
    }

    pub fn is_exiting(&self) -> bool {
        self.exiting.load(Ordering::Acquire)
    }

    pub fn is_paused(&self) -> bool {
        self.paused.load(Ordering::Acquire)
    }

    /// Puts messages from the topic: each goes to the deferred queue when `defer` is set, else
    /// to memory or, past `--mem-queue-size`, to the backend.
    pub fn put_batch(&self, messages: &[Message], defer: Duration) -> Result<(), BackendError> {
        let now = Instant::now();
        let mut st = self.state.lock();
        let mut result = Ok(());
        for m in messages {
            if defer.is_zero() {
                if let Err(e) = self.enqueue(&mut st, m.clone()) {
                    result = Err(e);
                    break;
                }
            } else {
                // A duplicate id cannot happen for fresh publishes: ids are unique per topic.
                let _ = st.deferred.push(m.clone(), now + defer);
            }
            self.message_count.fetch_add(1, Ordering::Relaxed);
        }
        self.wake_waiters(&mut st);
        result
    }

    fn enqueue(&self, st: &mut ChannelState, message: Message) -> Result<(), BackendError> {
        if st.memory.len() < self.cfg.mem_queue_size {
            st.memory.push_back(message);
            return Ok(());
        }
        let result = st.backend.put(message);
        self.cfg
            .health
            .record(result.as_ref().map(|_| ()).map_err(|e| e.0.as_str()));
        result
    }

    fn next_message(&self, st: &mut ChannelState) -> Option<Message> {
        let from_backend = st.take_backend_next || st.memory.is_empty();
        st.take_backend_next = !st.take_backend_next;
        if from_backend {
            if let Some(m) = st.backend.get() {
                return Some(m);
            }
        }
        match st.memory.pop_front() {
            Some(m) => {
                self.global_msg_count.fetch_add(1, Ordering::Relaxed);
                Some(m)
            }
            None => st.backend.get(),
        }
    }

    /// Hands up to `max` messages to `client`, moving them in flight. When the channel has
    /// nothing (or is paused), the client is registered to be woken by the next put.
    /// Returns whether messages remain queued after this batch.
    pub fn pull(
        &self,
        client: &Arc<ClientShared>,
        max: usize,
        msg_timeout: Duration,
        sample_rate: i32,
        out: &mut Vec<Message>,
    ) -> bool {
        let now = Instant::now();
        let mut st = self.state.lock();
        if self.is_paused() || self.is_exiting() {
            Self::register_waiting(&mut st, client);
            return false;
        }
        while out.len() < max {
            let Some(mut m) = self.next_message(&mut st) else {
                break;
            };
            // BEH-120: a sampled-out message is dropped for the whole channel.
            if sample_rate > 0 && rand::random::<u32>() % 100 > sample_rate as u32 {
                continue;
            }
            m.attempts = m.attempts.wrapping_add(1);
            st.in_flight.push(m.clone(), client.id, now, msg_timeout);
            out.push(m);
        }
        let more = !st.memory.is_empty() || st.backend.depth() > 0;
        if !more && out.len() < max {
            // Still has capacity and nothing to take: wait for the next put.
            Self::register_waiting(&mut st, client);
        } else if more && out.len() >= max {
            // This client is full; let another waiting consumer take the rest.
            self.wake_waiters(&mut st);
        }
        more
    }

    /// A woken client that cannot take messages (RDY dropped, closing) passes its wake-up on,
    /// so a put is never left unnoticed by the consumers that could take it.
    pub fn pass_wake(&self, client: &Arc<ClientShared>) {
        let mut st = self.state.lock();
        if client.waiting.swap(false, Ordering::AcqRel) {
            st.waiting.retain(|c| c.id != client.id);
        }
        self.wake_waiters(&mut st);
    }

    fn register_waiting(st: &mut ChannelState, client: &Arc<ClientShared>) {
        if !client.waiting.swap(true, Ordering::AcqRel) {
            st.waiting.push_back(client.clone());
        }
    }

    fn wake_waiters(&self, st: &mut ChannelState) {
        if st.memory.is_empty() && st.backend.depth() == 0 {
            return;
        }
        if let Some(c) = st.waiting.pop_front() {
            c.waiting.store(false, Ordering::Release);
            c.wake.notify_one();
        }
    }

    fn wake_all(st: &mut ChannelState) {
        for c in st.waiting.drain(..) {
            c.waiting.store(false, Ordering::Release);
            c.wake.notify_one();
        }
    }

    /// FIN: the message is done; its latency feeds the e2e window.
    pub fn finish(&self, client_id: u64, id: &MessageId) -> Result<(), InFlightError> {
        let mut st = self.state.lock();
        let entry = st.in_flight.remove(id, client_id)?;
        if let Some(q) = st.e2e.as_mut() {
            let now_ns = crate::clock::unix_nanos();
            q.insert(now_ns - entry.message.timestamp, Instant::now());
        }
        Ok(())
    }

    /// REQ: back to the queue at once, or into the deferred queue after `delay`.
    pub fn requeue(
        &self,
        client_id: u64,
        id: &MessageId,
        delay: Duration,
    ) -> Result<(), RequeueError> {
        let mut st = self.state.lock();
        if self.is_exiting() {
            return Err(RequeueError::Exiting);
        }
        let entry = st
            .in_flight
            .remove(id, client_id)
            .map_err(RequeueError::InFlight)?;
        self.requeue_count.fetch_add(1, Ordering::Relaxed);
        if delay.is_zero() {
            // A backend failure is already recorded in health; the message stays counted.
            let _ = self.enqueue(&mut st, entry.message);
            self.wake_waiters(&mut st);
            Ok(())
        } else {
            st.deferred
                .push(entry.message, Instant::now() + delay)
                .map_err(|_| RequeueError::AlreadyDeferred)
        }
    }

    pub fn touch(
        &self,
        client_id: u64,
        id: &MessageId,
        msg_timeout: Duration,
        max_msg_timeout: Duration,
    ) -> Result<(), InFlightError> {
        self.state.lock().in_flight.touch(
            id,
            client_id,
            Instant::now(),
            msg_timeout,
            max_msg_timeout,
        )
    }

    /// Adds a subscriber; the error text ends `E_SUB_FAILED SUB failed <err>` (P-124).
    pub fn add_client(
        &self,
        client: Arc<ClientShared>,
        max_consumers: usize,
    ) -> Result<(), String> {
        let mut st = self.state.lock();
        if self.is_exiting() {
            return Err("exiting".to_string());
        }
        if st.clients.iter().any(|c| c.id == client.id) {
            return Ok(());
        }
        if max_consumers != 0 && st.clients.len() >= max_consumers {
            return Err(format!(
                "consumers for {}:{} exceeds limit of {}",
                self.topic_name, self.name, max_consumers
            ));
        }
        st.clients.push(client);
        Ok(())
    }

    /// Removes a subscriber; returns true if an ephemeral channel just lost its last client and
    /// should be deleted (BEH-060). In-flight messages stay until they time out (P-111).
    pub fn remove_client(&self, client_id: u64) -> bool {
        let mut st = self.state.lock();
        let before = st.clients.len();
        st.clients.retain(|c| c.id != client_id);
        st.waiting.retain(|c| c.id != client_id);
        before != st.clients.len() && st.clients.is_empty() && self.ephemeral
    }

    pub fn pause(&self) {
        self.paused.store(true, Ordering::Release);
    }

    pub fn unpause(&self) {
        self.paused.store(false, Ordering::Release);
        let mut st = self.state.lock();
        for c in &st.clients {
            c.wake.notify_one();
        }
        Self::wake_all(&mut st);
    }

    /// Drops every queued, in-flight and deferred message (BEH-082).
    pub fn empty(&self) -> Result<(), BackendError> {
        let mut st = self.state.lock();
        st.in_flight.clear();
        st.deferred.clear();
        st.memory.clear();
        for c in &st.clients {
            c.in_flight_count.store(0, Ordering::Relaxed);
            c.wake.notify_one();
        }
        st.backend.empty()
    }

    /// Deletion (BEH-081): no more puts or subscribers, every client connection is closed and the
    /// messages are dropped.
    pub fn delete(&self) {
        self.exiting.store(true, Ordering::Release);
        let clients = std::mem::take(&mut self.state.lock().clients);
        for c in clients {
            c.close.cancel();
        }
        let _ = self.empty();
    }

    /// Marks the channel exiting and returns everything it held (memory, backend, in flight,
    /// deferred) in that order, for the shutdown flush (BEH-101).
    pub fn close(&self) -> Vec<Message> {
        self.exiting.store(true, Ordering::Release);
        let mut st = self.state.lock();
        let mut all: Vec<Message> = st.memory.drain(..).collect();
        while let Some(m) = st.backend.get() {
            all.push(m);
        }
        all.extend(st.in_flight.drain().map(|e| e.message));
        all.extend(st.deferred.drain().map(|(m, _)| m));
        all
    }

    /// Puts back every in-flight message whose deadline passed (BEH-031). Returns whether any did.
    pub fn process_in_flight(&self, now: Instant) -> bool {
        let mut st = self.state.lock();
        let mut dirty = false;
        while let Some(InFlight {
            message, client_id, ..
        }) = st.in_flight.pop_expired(now)
        {
            dirty = true;
            self.timeout_count.fetch_add(1, Ordering::Relaxed);
            if let Some(c) = st.clients.iter().find(|c| c.id == client_id) {
                c.in_flight_done();
                c.wake.notify_one();
            }
            let _ = self.enqueue(&mut st, message);
        }
        if dirty {
            self.wake_waiters(&mut st);
        }
        dirty
    }

    /// Moves due deferred messages to the queue (BEH-041). Returns whether any moved.
    pub fn process_deferred(&self, now: Instant) -> bool {
        let mut st = self.state.lock();
        let mut dirty = false;
        while let Some(m) = st.deferred.pop_due(now) {
            dirty = true;
            let _ = self.enqueue(&mut st, m);
        }
        if dirty {
            self.wake_waiters(&mut st);
        }
        dirty
    }

    pub fn client_count(&self) -> usize {
        self.state.lock().clients.len()
    }

    pub fn depth(&self) -> u64 {
        let st = self.state.lock();
        st.memory.len() as u64 + st.backend.depth()
    }

    /// A copy of the e2e window, for the topic's merged figure.
    pub fn e2e_window(&self) -> Option<Quantile> {
        self.state.lock().e2e.clone()
    }

    pub fn stats(&self, include_clients: bool) -> ChannelStats {
        let now = Instant::now();
        let mut st = self.state.lock();
        let backend_depth = st.backend.depth();
        let e2e = st.e2e.as_mut().map(|q| q.result(now)).unwrap_or_default();
        ChannelStats {
            channel_name: self.name.clone(),
            depth: st.memory.len() as u64 + backend_depth,
            backend_depth,
            in_flight_count: st.in_flight.len() as u64,
            deferred_count: st.deferred.len() as u64,
            message_count: self.message_count.load(Ordering::Relaxed),
            zone_local_msg_count: 0,
            region_local_msg_count: 0,
            global_msg_count: self.global_msg_count.load(Ordering::Relaxed),
            requeue_count: self.requeue_count.load(Ordering::Relaxed),
            timeout_count: self.timeout_count.load(Ordering::Relaxed),
            client_count: st.clients.len() as u64,
            clients: include_clients.then(|| {
                st.clients
                    .iter()
                    .map(|c| crate::stats::client_stats(c))
                    .collect()
            }),
            paused: self.is_paused(),
            e2e_processing_latency: e2e,
        }
    }
}
