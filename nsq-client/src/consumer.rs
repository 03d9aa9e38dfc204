//! Consuming a topic/channel (C-004) from nsqd addresses given directly or found through
//! nsqlookupd, with go-nsq's RDY management, backoff and graceful stop.
//!
//! Messages are handed out by [`Consumer::recv`]; each must be answered with
//! [`Message::finish`] or [`Message::requeue`]. A message dropped unanswered is requeued as a
//! failure, so a panicking or forgetful handler does not leave it to the server's timeout.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use nsq_protocol::message::MessageId;
use rand::Rng;
use tokio::sync::{mpsc, watch, Notify};

use crate::command;
use crate::config::{BackoffStrategy, Config};
use crate::conn::{Conn, Frame};
use crate::error::Error;
use crate::lookup;

/// What a connection task is asked to send.
enum ConnCmd {
    Finish(MessageId),
    Requeue(MessageId, u64, bool),
    Touch(MessageId),
    Ready(i64),
    Close,
}

/// A message outcome, as it moves the backoff counter.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Success,
    Failure,
    Neutral,
}

/// The part of a connection other tasks see.
struct ConnShared {
    addr: String,
    tx: mpsc::UnboundedSender<ConnCmd>,
    /// The RDY count last sent.
    rdy: AtomicI64,
    /// nsqd's `max_rdy_count` (0 = unknown, no cap).
    max_rdy: i64,
    in_flight: AtomicI64,
    /// Milliseconds since the consumer started, at the last message received.
    last_msg_ms: AtomicU64,
    /// Requeue delay settings, for messages answered after the consumer is gone.
    default_requeue_delay: Duration,
    max_requeue_delay: Duration,
}

impl ConnShared {
    fn set_rdy(&self, n: i64) {
        let n = if self.max_rdy > 0 {
            n.min(self.max_rdy)
        } else {
            n
        };
        if self.rdy.swap(n, Ordering::SeqCst) != n {
            let _ = self.tx.send(ConnCmd::Ready(n));
        }
    }
}

/// A delivered message. Answer it with [`Message::finish`], [`Message::requeue`] or
/// [`Message::requeue_without_backoff`]; [`Message::touch`] extends its timeout.
pub struct Message {
    pub id: MessageId,
    pub body: Bytes,
    /// How many times nsqd has delivered it, this time included.
    pub attempts: u16,
    /// Publish time, nanoseconds since the Unix epoch.
    pub timestamp: i64,
    /// The nsqd it came from.
    pub nsqd_address: String,
    conn: Option<Arc<ConnShared>>,
}

impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Message")
            .field("id", &String::from_utf8_lossy(&self.id))
            .field("attempts", &self.attempts)
            .field("body_len", &self.body.len())
            .finish()
    }
}

impl Message {
    /// `FIN`: done with it.
    pub fn finish(mut self) {
        if let Some(c) = self.conn.take() {
            let _ = c.tx.send(ConnCmd::Finish(self.id));
        }
    }

    /// `REQ` with backoff: deliver again after `delay`, or, when `None`, after
    /// `default_requeue_delay * attempts` capped at `max_requeue_delay` (go-nsq's rule).
    pub fn requeue(mut self, delay: Option<Duration>) {
        self.send_requeue(delay, true);
    }

    /// `REQ` without counting as a failure for backoff.
    pub fn requeue_without_backoff(mut self, delay: Option<Duration>) {
        self.send_requeue(delay, false);
    }

    /// `TOUCH`: reset the server's timeout for this message.
    pub fn touch(&self) {
        if let Some(c) = &self.conn {
            let _ = c.tx.send(ConnCmd::Touch(self.id));
        }
    }

    fn send_requeue(&mut self, delay: Option<Duration>, backoff: bool) {
        if let Some(c) = self.conn.take() {
            let delay = delay.unwrap_or_else(|| {
                (c.default_requeue_delay * u32::from(self.attempts)).min(c.max_requeue_delay)
            });
            let _ =
                c.tx.send(ConnCmd::Requeue(self.id, delay.as_millis() as u64, backoff));
        }
    }
}

impl Drop for Message {
    fn drop(&mut self) {
        self.send_requeue(None, true);
    }
}

/// Counters since the consumer was created.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConsumerStats {
    pub messages_received: u64,
    pub messages_finished: u64,
    pub messages_requeued: u64,
    /// Finished unseen because they exceeded `max_attempts`.
    pub messages_given_up: u64,
    pub connections: usize,
}

#[derive(Default)]
struct Backoff {
    counter: u32,
    /// Between entering backoff and the test message: outcomes are ignored then.
    waiting: bool,
}

struct Inner {
    topic: String,
    channel: String,
    config: Config,
    start: Instant,
    msg_tx: Mutex<Option<mpsc::UnboundedSender<Message>>>,
    msg_rx: tokio::sync::Mutex<mpsc::UnboundedReceiver<Message>>,
    conns: Mutex<HashMap<String, Arc<ConnShared>>>,
    connecting: Mutex<HashSet<String>>,
    lookupds: Mutex<Vec<String>>,
    background_started: AtomicBool,
    stopping: AtomicBool,
    stop_notify: Notify,
    live: watch::Sender<usize>,
    backoff: Mutex<Backoff>,
    received: AtomicU64,
    finished: AtomicU64,
    requeued: AtomicU64,
    given_up: AtomicU64,
}

/// Subscribes to one topic/channel. Cheap to clone; clones share connections and messages.
#[derive(Clone)]
pub struct Consumer {
    inner: Arc<Inner>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic elsewhere while holding the lock leaves plain data behind; keep going.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Consumer {
    pub fn new(topic: &str, channel: &str, config: Config) -> Result<Consumer, Error> {
        config.validate()?;
        if !nsq_protocol::names::is_valid_topic_name(topic.as_bytes()) {
            return Err(Error::InvalidName {
                what: "topic",
                value: topic.to_string(),
            });
        }
        if !nsq_protocol::names::is_valid_channel_name(channel.as_bytes()) {
            return Err(Error::InvalidName {
                what: "channel",
                value: channel.to_string(),
            });
        }
        let (tx, rx) = mpsc::unbounded_channel();
        Ok(Consumer {
            inner: Arc::new(Inner {
                topic: topic.to_string(),
                channel: channel.to_string(),
                config,
                start: Instant::now(),
                msg_tx: Mutex::new(Some(tx)),
                msg_rx: tokio::sync::Mutex::new(rx),
                conns: Mutex::new(HashMap::new()),
                connecting: Mutex::new(HashSet::new()),
                lookupds: Mutex::new(Vec::new()),
                background_started: AtomicBool::new(false),
                stopping: AtomicBool::new(false),
                stop_notify: Notify::new(),
                live: watch::Sender::new(0),
                backoff: Mutex::new(Backoff::default()),
                received: AtomicU64::new(0),
                finished: AtomicU64::new(0),
                requeued: AtomicU64::new(0),
                given_up: AtomicU64::new(0),
            }),
        })
    }

    /// Connects to one nsqd (`host:port`) and subscribes. If the connection later drops, it
    /// is retried every `lookupd_poll_interval` until it succeeds or the consumer stops.
    pub async fn connect_to_nsqd(&self, addr: &str) -> Result<(), Error> {
        self.inner.start_background();
        Inner::connect(&self.inner, addr, true).await
    }

    /// Connects to each address in turn; stops at the first error.
    pub async fn connect_to_nsqds(&self, addrs: &[impl AsRef<str>]) -> Result<(), Error> {
        for a in addrs {
            self.connect_to_nsqd(a.as_ref()).await?;
        }
        Ok(())
    }

    /// Adds an nsqlookupd (HTTP address or URL) and queries it at once; later polls run every
    /// `lookupd_poll_interval` (with jitter), one lookupd per poll in turn.
    pub async fn connect_to_nsqlookupd(&self, addr: &str) -> Result<(), Error> {
        if self.inner.stopping.load(Ordering::SeqCst) {
            return Err(Error::Stopped);
        }
        let first = {
            let mut l = lock(&self.inner.lookupds);
            if l.iter().any(|a| a == addr) {
                return Ok(());
            }
            l.push(addr.to_string());
            l.len() == 1
        };
        self.inner.start_background();
        if first {
            let inner = self.inner.clone();
            tokio::spawn(async move { inner.lookupd_loop().await });
        }
        Inner::poll_lookupd(&self.inner, addr).await
    }

    /// The next message; `None` once the consumer has stopped and every connection has closed.
    pub async fn recv(&self) -> Option<Message> {
        let msg = self.inner.msg_rx.lock().await.recv().await;
        if msg.is_some() {
            self.inner.received.fetch_add(1, Ordering::Relaxed);
        }
        msg
    }

    /// Starts a graceful stop: no new connections, `CLS` on every connection; each closes
    /// once nsqd confirms and its in-flight messages are answered. [`Consumer::recv`] keeps
    /// handing out what was already delivered.
    pub fn stop(&self) {
        let inner = &self.inner;
        if inner.stopping.swap(true, Ordering::SeqCst) {
            return;
        }
        lock(&inner.msg_tx).take();
        for c in lock(&inner.conns).values() {
            let _ = c.tx.send(ConnCmd::Close);
        }
        inner.stop_notify.notify_waiters();
    }

    /// Waits until every connection has closed (after [`Consumer::stop`]).
    pub async fn stopped(&self) {
        let mut rx = self.inner.live.subscribe();
        let _ = rx.wait_for(|n| *n == 0).await;
    }

    /// The current connections with the RDY count sent on each.
    pub fn connections(&self) -> Vec<(String, i64)> {
        let mut v: Vec<_> = lock(&self.inner.conns)
            .values()
            .map(|c| (c.addr.clone(), c.rdy.load(Ordering::SeqCst)))
            .collect();
        v.sort();
        v
    }

    pub fn stats(&self) -> ConsumerStats {
        let i = &self.inner;
        ConsumerStats {
            messages_received: i.received.load(Ordering::Relaxed),
            messages_finished: i.finished.load(Ordering::Relaxed),
            messages_requeued: i.requeued.load(Ordering::Relaxed),
            messages_given_up: i.given_up.load(Ordering::Relaxed),
            connections: lock(&i.conns).len(),
        }
    }

    /// True while the consumer is holding back after failures (RDY 0, or RDY 1 on one
    /// connection to test the waters).
    pub fn in_backoff(&self) -> bool {
        lock(&self.inner.backoff).counter > 0
    }
}

impl Inner {
    fn elapsed_ms(&self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }

    fn stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    /// Sleeps for `d` unless the consumer stops first; answers whether it is still running.
    async fn sleep(&self, d: Duration) -> bool {
        let notified = self.stop_notify.notified();
        if self.stopping() {
            return false;
        }
        tokio::select! {
            _ = tokio::time::sleep(d) => {}
            _ = notified => {}
        }
        !self.stopping()
    }

    fn start_background(self: &Arc<Self>) {
        if self.background_started.swap(true, Ordering::SeqCst) {
            return;
        }
        let inner = self.clone();
        tokio::spawn(async move {
            while inner.sleep(inner.config.rdy_redistribute_interval).await {
                inner.redistribute();
            }
        });
    }

    async fn connect(self: &Arc<Self>, addr: &str, direct: bool) -> Result<(), Error> {
        if self.stopping() {
            return Err(Error::Stopped);
        }
        if lock(&self.conns).contains_key(addr) || !lock(&self.connecting).insert(addr.into()) {
            return Ok(());
        }
        let result = self.dial(addr, direct).await;
        lock(&self.connecting).remove(addr);
        result
    }

    async fn dial(self: &Arc<Self>, addr: &str, direct: bool) -> Result<(), Error> {
        let mut conn = Conn::connect(addr, &self.config).await?;
        conn.subscribe(&self.topic, &self.channel).await?;
        let Some(msg_tx) = lock(&self.msg_tx).clone() else {
            return Err(Error::Stopped);
        };
        let (tx, rx) = mpsc::unbounded_channel();
        let shared = Arc::new(ConnShared {
            addr: addr.to_string(),
            tx,
            rdy: AtomicI64::new(0),
            max_rdy: conn.identify.max_rdy_count,
            in_flight: AtomicI64::new(0),
            last_msg_ms: AtomicU64::new(self.elapsed_ms()),
            default_requeue_delay: self.config.default_requeue_delay,
            max_requeue_delay: self.config.max_requeue_delay,
        });
        lock(&self.conns).insert(addr.to_string(), shared.clone());
        self.live.send_modify(|n| *n += 1);
        tracing::info!(addr, topic = %self.topic, channel = %self.channel, "consumer connected");
        let inner = self.clone();
        tokio::spawn(async move {
            let end = inner.run_conn(conn, &shared, rx, msg_tx).await;
            inner.conn_closed(&shared, direct, end);
        });
        self.rebalance();
        Ok(())
    }

    fn conn_closed(self: &Arc<Self>, shared: &Arc<ConnShared>, direct: bool, end: Error) {
        {
            let mut conns = lock(&self.conns);
            if conns
                .get(&shared.addr)
                .is_some_and(|c| Arc::ptr_eq(c, shared))
            {
                conns.remove(&shared.addr);
            }
        }
        self.live.send_modify(|n| *n -= 1);
        if self.stopping() {
            return;
        }
        tracing::warn!(addr = %shared.addr, "consumer connection closed: {end}");
        self.rebalance();
        if direct {
            let inner = self.clone();
            let addr = shared.addr.clone();
            tokio::spawn(async move {
                while inner.sleep(inner.config.lookupd_poll_interval).await {
                    match Inner::connect(&inner, &addr, true).await {
                        Ok(()) => break,
                        Err(e) => tracing::warn!(addr, "reconnect failed: {e}"),
                    }
                }
            });
        }
    }

    /// The connection task: sends commands, hands messages out, answers heartbeats, and ends
    /// after `CLOSE_WAIT` once nothing is in flight (or on any error).
    async fn run_conn(
        self: &Arc<Self>,
        mut conn: Conn,
        shared: &Arc<ConnShared>,
        mut rx: mpsc::UnboundedReceiver<ConnCmd>,
        msg_tx: mpsc::UnboundedSender<Message>,
    ) -> Error {
        let read_timeout = self.config.read_timeout;
        let max_attempts = self.config.max_attempts;
        let mut close_wait = false;
        if self.stopping() {
            let _ = shared.tx.send(ConnCmd::Close);
        }
        loop {
            if close_wait && shared.in_flight.load(Ordering::SeqCst) <= 0 {
                return Error::Closed;
            }
            tokio::select! {
                biased;
                cmd = rx.recv() => {
                    let mut next = cmd;
                    while let Some(cmd) = next {
                        self.encode(&mut conn, shared, cmd);
                        next = rx.try_recv().ok();
                    }
                    if let Err(e) = conn.writer.flush().await {
                        return e;
                    }
                }
                frame = tokio::time::timeout(read_timeout, conn.reader.read_frame()) => {
                    let frame = match frame {
                        Ok(Ok(f)) => f,
                        Ok(Err(e)) => return e,
                        Err(_) => return Error::ReadTimeout(read_timeout),
                    };
                    match frame {
                        f if f.is_heartbeat() => {
                            command::nop(&mut conn.writer.buf);
                            if let Err(e) = conn.writer.flush().await {
                                return e;
                            }
                        }
                        f if f.is_close_wait() => close_wait = true,
                        Frame::Response(_) => {}
                        Frame::Error(e) => {
                            if e.is_fatal() {
                                return Error::Nsq(e);
                            }
                            tracing::warn!(addr = %shared.addr, "nsqd error: {e}");
                        }
                        Frame::Message(m) => {
                            shared.in_flight.fetch_add(1, Ordering::SeqCst);
                            shared.last_msg_ms.store(self.elapsed_ms(), Ordering::Relaxed);
                            if max_attempts > 0 && m.attempts > max_attempts {
                                tracing::warn!(
                                    addr = %shared.addr,
                                    "giving up on message {} after {} attempts",
                                    String::from_utf8_lossy(&m.id),
                                    m.attempts
                                );
                                self.given_up.fetch_add(1, Ordering::Relaxed);
                                let _ = shared.tx.send(ConnCmd::Finish(m.id));
                                continue;
                            }
                            let msg = Message {
                                id: m.id,
                                body: m.body,
                                attempts: m.attempts,
                                timestamp: m.timestamp,
                                nsqd_address: shared.addr.clone(),
                                conn: Some(shared.clone()),
                            };
                            // The receiver lives as long as the consumer; a failed send
                            // drops the message, which requeues it.
                            let _ = msg_tx.send(msg);
                        }
                    }
                }
            }
        }
    }

    fn encode(self: &Arc<Self>, conn: &mut Conn, shared: &ConnShared, cmd: ConnCmd) {
        let buf = &mut conn.writer.buf;
        match cmd {
            ConnCmd::Finish(id) => {
                command::finish(buf, &id);
                shared.in_flight.fetch_sub(1, Ordering::SeqCst);
                self.finished.fetch_add(1, Ordering::Relaxed);
                self.outcome(Outcome::Success);
            }
            ConnCmd::Requeue(id, ms, backoff) => {
                command::requeue(buf, &id, ms);
                shared.in_flight.fetch_sub(1, Ordering::SeqCst);
                self.requeued.fetch_add(1, Ordering::Relaxed);
                self.outcome(if backoff {
                    Outcome::Failure
                } else {
                    Outcome::Neutral
                });
            }
            ConnCmd::Touch(id) => command::touch(buf, &id),
            ConnCmd::Ready(n) => command::ready(buf, n),
            ConnCmd::Close => command::close(buf),
        }
    }

    fn snapshot(&self) -> Vec<Arc<ConnShared>> {
        lock(&self.conns).values().cloned().collect()
    }

    /// Sets RDY on every connection for normal running: `max_in_flight` split evenly (at least
    /// 1 each), or, when there are more connections than `max_in_flight`, RDY 1 on as many
    /// as allowed.
    fn rebalance(&self) {
        if self.stopping() || lock(&self.backoff).counter > 0 {
            return;
        }
        let conns = self.snapshot();
        if conns.is_empty() {
            return;
        }
        let max = self.config.max_in_flight;
        let n = conns.len() as i64;
        if max >= n {
            let per = (max / n).max(1);
            for c in &conns {
                c.set_rdy(per);
            }
            return;
        }
        self.fill_low_rdy(&conns);
    }

    /// Low-RDY mode: hands RDY 1 to random connections until `max_in_flight` have it.
    fn fill_low_rdy(&self, conns: &[Arc<ConnShared>]) {
        let max = self.config.max_in_flight;
        let mut active = conns
            .iter()
            .filter(|c| c.rdy.load(Ordering::SeqCst) > 0)
            .count() as i64;
        for c in conns {
            if active > max && c.rdy.load(Ordering::SeqCst) > 0 {
                c.set_rdy(0);
                active -= 1;
            }
        }
        let mut idle: Vec<_> = conns
            .iter()
            .filter(|c| c.rdy.load(Ordering::SeqCst) == 0)
            .collect();
        let mut rng = rand::thread_rng();
        while active < max && !idle.is_empty() {
            let c = idle.swap_remove(rng.gen_range(0..idle.len()));
            c.set_rdy(1);
            active += 1;
        }
    }

    /// Periodic: with more connections than `max_in_flight`, takes RDY back from connections
    /// idle for `low_rdy_idle_timeout` and gives it to others, so every nsqd gets a turn.
    fn redistribute(&self) {
        if lock(&self.backoff).counter > 0 {
            return;
        }
        let conns = self.snapshot();
        if (conns.len() as i64) <= self.config.max_in_flight {
            return;
        }
        let now = self.elapsed_ms();
        let idle_ms = self.config.low_rdy_idle_timeout.as_millis() as u64;
        for c in &conns {
            let last = c.last_msg_ms.load(Ordering::Relaxed);
            if c.rdy.load(Ordering::SeqCst) > 0 && now.saturating_sub(last) > idle_ms {
                c.set_rdy(0);
            }
        }
        self.fill_low_rdy(&conns);
    }

    fn backoff_duration(&self, counter: u32) -> Duration {
        let exp = self
            .config
            .backoff_multiplier
            .saturating_mul(1u32.checked_shl(counter).unwrap_or(u32::MAX))
            .min(self.config.max_backoff_duration);
        match self.config.backoff_strategy {
            BackoffStrategy::Exponential => exp,
            BackoffStrategy::FullJitter => {
                let ms = exp.as_millis() as u64;
                Duration::from_millis(if ms == 0 {
                    0
                } else {
                    rand::thread_rng().gen_range(0..ms)
                })
            }
        }
    }

    /// go-nsq's start/stop/continue backoff: failures raise the counter, successes lower it;
    /// while it is above 0 every connection gets RDY 0 for the backoff delay, then one
    /// connection gets RDY 1 to test the waters; back at 0, normal RDY resumes.
    fn outcome(self: &Arc<Self>, outcome: Outcome) {
        if self.config.max_backoff_duration.is_zero() || self.stopping() {
            return;
        }
        let (enter, counter) = {
            let mut b = lock(&self.backoff);
            if b.waiting {
                return;
            }
            let mut updated = false;
            match outcome {
                Outcome::Success if b.counter > 0 => {
                    b.counter -= 1;
                    updated = true;
                }
                Outcome::Failure => {
                    if self.backoff_duration(b.counter + 1) <= self.config.max_backoff_duration
                        && self.backoff_duration(b.counter) < self.config.max_backoff_duration
                    {
                        b.counter += 1;
                    }
                    updated = true;
                }
                _ => {}
            }
            if b.counter == 0 {
                if !updated {
                    return;
                }
                (false, 0)
            } else {
                b.waiting = true;
                (true, b.counter)
            }
        };
        if !enter {
            tracing::info!("backoff complete, resuming");
            self.rebalance();
            return;
        }
        for c in self.snapshot() {
            c.set_rdy(0);
        }
        let delay = self.backoff_duration(counter);
        tracing::info!("backing off for {delay:?} (level {counter})");
        let me = self.clone();
        tokio::spawn(async move {
            let running = me.sleep(delay).await;
            lock(&me.backoff).waiting = false;
            if !running {
                return;
            }
            let conns = me.snapshot();
            if conns.is_empty() {
                return;
            }
            let pick = rand::thread_rng().gen_range(0..conns.len());
            conns[pick].set_rdy(1);
        });
    }

    async fn lookupd_loop(self: Arc<Self>) {
        let interval = self.config.lookupd_poll_interval;
        let jitter = interval.mul_f64(self.config.lookupd_poll_jitter * rand::random::<f64>());
        if !self.sleep(jitter).await {
            return;
        }
        let mut next = 0usize;
        while self.sleep(interval).await {
            // One lookupd per poll, in turn; on an error try the next, three tries at most.
            for _ in 0..3 {
                let addr = {
                    let l = lock(&self.lookupds);
                    if l.is_empty() {
                        break;
                    }
                    next %= l.len();
                    l[next].clone()
                };
                next += 1;
                match Inner::poll_lookupd(&self, &addr).await {
                    Ok(()) => break,
                    Err(e) => tracing::warn!(lookupd = %addr, "lookup failed: {e}"),
                }
            }
        }
    }

    async fn poll_lookupd(self: &Arc<Self>, addr: &str) -> Result<(), Error> {
        let nsqds = lookup::query(addr, &self.topic, &self.config).await?;
        for nsqd in nsqds {
            if let Err(e) = Inner::connect(self, &nsqd, false).await {
                tracing::warn!(nsqd, "connect failed: {e}");
            }
        }
        Ok(())
    }
}
