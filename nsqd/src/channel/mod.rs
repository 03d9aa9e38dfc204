//! A channel: one consumer group's copy of a topic's stream.
//!
//! It holds the memory queue (bounded by `--mem-queue-size`), the overflow backend, the in-flight
//! table and the deferred queue, all behind one short-held lock. Clients pull batches of messages
//! when they have RDY capacity; a client that finds nothing registers as waiting and is woken by
//! the next put, so an idle consumer costs no wake-ups and a busy one takes many messages per lock.
//!
//! With the topology-aware consumption experiment (docs/topology.md), a put first hands
//! messages straight to waiting zone-local, then region-local clients, as the reference's
//! unbuffered zone and region queues do.
//!
//! A message this channel already holds is never dropped because the disk failed: a requeue,
//! timeout or due deferred message that cannot be written stays in memory past the limit. Only a
//! new message from a publish is refused, so the publisher hears of the failure (BEH-013).

mod handoff;
mod stats;
#[cfg(test)]
mod tests;

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nsq_common::quantile::Quantile;
use nsq_protocol::message::{Message, MessageId};
use parking_lot::Mutex;

use crate::backend::{self, Backend, BackendError, PartialPut};
use crate::client::ClientShared;
use crate::deferred_store::{self, DueTimes};
use crate::durable::SyncWait;
use crate::inflight::{AlreadyDeferred, DeferredQueue, InFlight, InFlightError, InFlightTable};
use crate::queue_config::QueueConfig;
use crate::topology::{REGION_LOCAL, ZONE_LOCAL};

use handoff::Handoffs;

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

/// What a put does with messages its backend could not write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnFailure {
    /// A publish: report the error; the publisher will try again.
    Reject,
    /// Messages nsqd already answered OK for: keep them in memory.
    Keep,
}

struct ChannelState {
    memory: VecDeque<Message>,
    backend: Box<dyn Backend>,
    /// Due times (unix ns) from the deferred side file, for records still in the backend.
    restored_due: DueTimes,
    in_flight: InFlightTable,
    deferred: DeferredQueue,
    clients: Vec<Arc<ClientShared>>,
    waiting: VecDeque<Arc<ClientShared>>,
    e2e: Option<Quantile>,
    /// Alternates memory and backend reads when both hold messages, so neither starves.
    take_backend_next: bool,
    /// Only with the topology experiment (None keeps the default path as it is).
    handoffs: Option<Handoffs>,
}

pub struct Channel {
    pub topic_name: String,
    pub name: String,
    pub ephemeral: bool,
    state: Mutex<ChannelState>,
    /// The deferred side file (None for ephemeral channels).
    due_file: Option<PathBuf>,
    cfg: QueueConfig,
    paused: AtomicBool,
    exiting: AtomicBool,
    message_count: AtomicU64,
    requeue_count: AtomicU64,
    timeout_count: AtomicU64,
    zone_local_msg_count: AtomicU64,
    region_local_msg_count: AtomicU64,
    global_msg_count: AtomicU64,
}

impl Channel {
    pub fn new(topic_name: &str, name: &str, cfg: QueueConfig) -> Self {
        let ephemeral = nsq_protocol::names::is_ephemeral(name);
        let e2e = (!cfg.e2e_percentiles.is_empty())
            .then(|| Quantile::new(cfg.e2e_window, &cfg.e2e_percentiles, Instant::now()));
        let queue_name = backend::channel_queue_name(topic_name, name);
        let due_file = (!ephemeral).then(|| deferred_store::path(&cfg.disk.data_path, &queue_name));
        // The side file stays until the next clean shutdown rewrites it, so a crash before the
        // listed records are read again keeps their schedule too.
        let restored_due = due_file
            .as_deref()
            .map(deferred_store::load)
            .unwrap_or_default();
        Channel {
            topic_name: topic_name.to_string(),
            name: name.to_string(),
            ephemeral,
            due_file,
            state: Mutex::new(ChannelState {
                memory: VecDeque::new(),
                backend: backend::for_queue(&queue_name, ephemeral, &cfg.disk),
                restored_due,
                in_flight: InFlightTable::default(),
                deferred: DeferredQueue::default(),
                clients: Vec::new(),
                waiting: VecDeque::new(),
                e2e,
                take_backend_next: false,
                handoffs: cfg.topology_aware.then(Handoffs::default),
            }),
            cfg,
            paused: AtomicBool::new(false),
            exiting: AtomicBool::new(false),
            message_count: AtomicU64::new(0),
            requeue_count: AtomicU64::new(0),
            timeout_count: AtomicU64::new(0),
            zone_local_msg_count: AtomicU64::new(0),
            region_local_msg_count: AtomicU64::new(0),
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
    /// to memory or, past `--mem-queue-size`, to the backend. With `tickets` (durable acks), a
    /// ticket for the disk writes is added. On a backend failure the error is returned and
    /// `on_failure` decides the fate of the unwritten messages.
    pub fn put_batch(
        &self,
        messages: &[Message],
        defer: Duration,
        on_failure: OnFailure,
        tickets: Option<&mut SyncWait>,
    ) -> Result<(), BackendError> {
        let mut st = self.state.lock();
        let mut result = Ok(());
        let mut stored = messages.len();
        if !defer.is_zero() {
            let due = Instant::now() + defer;
            for m in messages {
                // A duplicate id cannot happen for fresh publishes: ids are unique per topic.
                let _ = st.deferred.push(m.clone(), due);
            }
        } else {
            let messages = self.hand_to_local_waiters(&mut st, messages);
            let room = self.memory_room(&st).min(messages.len());
            let (to_memory, to_backend) = messages.split_at(room);
            st.memory.extend(to_memory.iter().cloned());
            if !to_backend.is_empty() {
                let put = st.backend.put_batch(to_backend);
                self.record_write(put.as_ref().map(|_| ()).map_err(|p| &p.error));
                if let Err(PartialPut { written, error }) = put {
                    let unwritten = &to_backend[written..];
                    match on_failure {
                        OnFailure::Keep => st.memory.extend(unwritten.iter().cloned()),
                        OnFailure::Reject => stored -= unwritten.len(),
                    }
                    result = Err(error);
                }
                if let (Some(wait), Some(ticket)) = (tickets, st.backend.sync_ticket()) {
                    wait.push(ticket);
                }
            }
        }
        self.message_count
            .fetch_add(stored as u64, Ordering::Relaxed);
        self.wake_waiters(&mut st);
        result
    }

    /// How many more messages the memory queue takes. With `--mem-queue-size=0` an ephemeral
    /// channel hands a message over only to a client waiting for one (BEH-011).
    fn memory_room(&self, st: &ChannelState) -> usize {
        let cap = if self.ephemeral && self.cfg.mem_queue_size == 0 {
            st.waiting.len()
        } else {
            self.cfg.mem_queue_size
        };
        cap.saturating_sub(st.memory.len())
    }

    fn record_write(&self, result: Result<(), &BackendError>) {
        if let Err(e) = result {
            tracing::error!(
                "CHANNEL({}): failed to write message to backend - {}",
                self.name,
                e
            );
        }
        self.cfg.health.record(result.map_err(|e| e.0.as_str()));
    }

    /// Queues a message this channel already held (requeue, timeout, due deferred).
    fn enqueue(&self, st: &mut ChannelState, message: Message) {
        if st.handoffs.is_some()
            && self
                .hand_to_local_waiters(st, std::slice::from_ref(&message))
                .is_empty()
        {
            return;
        }
        if self.memory_room(st) > 0 {
            st.memory.push_back(message);
            return;
        }
        let result = st.backend.put(&message);
        self.record_write(result.as_ref().map(|_| ()));
        if result.is_err() {
            st.memory.push_back(message);
        }
    }

    /// The next queued message; one from memory adds to `from_memory` (BEH-183 counts only
    /// those).
    fn next_message(&self, st: &mut ChannelState, from_memory: &mut u64) -> Option<Message> {
        let from_backend = st.take_backend_next || st.memory.is_empty();
        st.take_backend_next = !st.take_backend_next;
        if from_backend {
            if let Some(m) = self.backend_message(st) {
                return Some(m);
            }
        }
        match st.memory.pop_front() {
            Some(m) => {
                *from_memory += 1;
                Some(m)
            }
            None => self.backend_message(st),
        }
    }

    /// The next backend record to deliver. Records the side file lists with a due time still
    /// ahead go back to the deferred queue instead (#1107).
    fn backend_message(&self, st: &mut ChannelState) -> Option<Message> {
        loop {
            let Some(m) = st.backend.get() else {
                // Every record present at start-up has been read: the table is done.
                if !st.restored_due.is_empty() {
                    st.restored_due = DueTimes::default();
                }
                return None;
            };
            if st.restored_due.is_empty() {
                return Some(m);
            }
            let Some(due_ns) = st.restored_due.remove(&m.id) else {
                return Some(m);
            };
            let wait_ns = due_ns.saturating_sub(crate::clock::unix_nanos());
            if wait_ns <= 0 {
                return Some(m);
            }
            let due = Instant::now() + Duration::from_nanos(wait_ns as u64);
            if let Err(AlreadyDeferred) = st.deferred.push(m.clone(), due) {
                return Some(m);
            }
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
            client.wait_capacity.store(0, Ordering::Relaxed);
            Self::register_waiting(&mut st, client);
            return false;
        }
        let mut from_memory = 0;
        let mut handed = match st.handoffs.as_mut() {
            Some(h) => h.take(client.id),
            None => None,
        };
        while out.len() < max {
            let m = match handed.as_mut().and_then(|q| q.pop_front()) {
                Some(m) => {
                    from_memory += 1;
                    Some(m)
                }
                None => self.next_message(&mut st, &mut from_memory),
            };
            let Some(mut m) = m else {
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
        if let Some(left) = handed.filter(|q| !q.is_empty()) {
            // The client's room shrank since it was handed these (a lower RDY).
            for m in left.into_iter().rev() {
                st.memory.push_front(m);
            }
        }
        if from_memory > 0 {
            self.taken_count(client)
                .fetch_add(from_memory, Ordering::Relaxed);
        }
        let more = !st.memory.is_empty() || st.backend.depth() > 0;
        if !more && out.len() < max {
            // Still has capacity and nothing to take: wait for the next put.
            if st.handoffs.is_some() {
                client
                    .wait_capacity
                    .store(max - out.len(), Ordering::Relaxed);
            }
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
        self.return_handoffs(&mut st, client.id);
        self.wake_waiters(&mut st);
    }

    /// The BEH-183 counter for messages `client` takes from memory: by the client's locality.
    fn taken_count(&self, client: &ClientShared) -> &AtomicU64 {
        let locality = client.locality.load(Ordering::Relaxed);
        if locality & ZONE_LOCAL != 0 {
            &self.zone_local_msg_count
        } else if locality & REGION_LOCAL != 0 {
            &self.region_local_msg_count
        } else {
            &self.global_msg_count
        }
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
            self.enqueue(&mut st, entry.message);
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
        self.return_handoffs(&mut st, client_id);
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
        if let Some(h) = st.handoffs.as_mut() {
            h.drain_all();
        }
        st.restored_due = DueTimes::default();
        for c in &st.clients {
            c.in_flight_count.store(0, Ordering::Relaxed);
            c.wake.notify_one();
        }
        st.backend.empty()
    }

    /// Deletion (BEH-081): no more puts or subscribers, every client connection is closed, the
    /// messages are dropped and the disk files removed.
    pub fn delete(&self) {
        self.exiting.store(true, Ordering::Release);
        let clients = std::mem::take(&mut self.state.lock().clients);
        for c in clients {
            c.close.cancel();
        }
        let _ = self.empty();
        let mut st = self.state.lock();
        if let Err(e) = st.backend.delete() {
            tracing::error!("CHANNEL({}): failed to delete backend - {}", self.name, e);
        }
        if let Some(f) = &self.due_file {
            deferred_store::remove(f);
        }
    }

    /// Shutdown (BEH-101): writes the memory queue, then the in-flight messages, then the
    /// deferred ones to the backend, the deferred due times to the side file, and closes the
    /// backend (fsync and metadata). Returns how many messages could not be written.
    pub fn close(&self) -> usize {
        self.exiting.store(true, Ordering::Release);
        let mut st = self.state.lock();
        tracing::info!("CHANNEL({}): closing", self.name);
        // The messages handed to clients that did not take them yet go first, as the
        // reference flushes its topology queues with the memory queue.
        let mut memory: Vec<Message> = match st.handoffs.as_mut() {
            Some(h) => h.drain_all(),
            None => Vec::new(),
        };
        memory.extend(st.memory.drain(..));
        let mut in_flight: Vec<Message> = st.in_flight.drain().map(|e| e.message).collect();
        let mut deferred: Vec<(Message, Instant)> = st.deferred.drain().collect();
        // Ids grow with publish time, so this restores publish order; deferred go by due time.
        in_flight.sort_unstable_by_key(|m| m.id);
        deferred.sort_unstable_by_key(|(m, due)| (*due, m.id));
        if !memory.is_empty() || !in_flight.is_empty() || !deferred.is_empty() {
            tracing::info!(
                "CHANNEL({}): flushing {} memory {} in-flight {} deferred messages to backend",
                self.name,
                memory.len(),
                in_flight.len(),
                deferred.len()
            );
        }
        let deferred_messages: Vec<Message> = deferred.iter().map(|(m, _)| m.clone()).collect();
        let mut lost = 0;
        for batch in [&memory, &in_flight, &deferred_messages] {
            if batch.is_empty() {
                continue;
            }
            let put = st.backend.put_batch(batch);
            self.record_write(put.as_ref().map(|_| ()).map_err(|p| &p.error));
            if let Err(p) = put {
                lost += batch.len() - p.written;
            }
        }
        if let Some(file) = &self.due_file {
            self.store_due_times(&st, file, &deferred);
        }
        if let Err(e) = st.backend.close() {
            tracing::error!("CHANNEL({}): failed to close backend - {}", self.name, e);
        }
        lost
    }

    /// Writes the side file: the deferred messages just flushed, and those restored at start-up
    /// whose records were not read again yet.
    fn store_due_times(
        &self,
        st: &ChannelState,
        file: &std::path::Path,
        deferred: &[(Message, Instant)],
    ) {
        let now = Instant::now();
        let now_ns = crate::clock::unix_nanos();
        let mut entries: Vec<(MessageId, i64)> = deferred
            .iter()
            .filter(|(_, due)| *due > now)
            .map(|(m, due)| {
                let wait = due.saturating_duration_since(now).as_nanos();
                (
                    m.id,
                    now_ns.saturating_add(i64::try_from(wait).unwrap_or(i64::MAX)),
                )
            })
            .collect();
        entries.extend(
            st.restored_due
                .iter()
                .filter(|(_, due)| **due > now_ns)
                .map(|(id, due)| (*id, *due)),
        );
        if let Err(e) = deferred_store::store(file, &entries) {
            tracing::error!(
                "CHANNEL({}): failed to write deferred times to {} - {}",
                self.name,
                file.display(),
                e
            );
        }
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
            self.enqueue(&mut st, message);
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
            self.enqueue(&mut st, m);
        }
        if dirty {
            self.wake_waiters(&mut st);
        }
        dirty
    }
}
