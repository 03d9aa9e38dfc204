//! Publishing to one nsqd (C-005): the connection opens on first use, is shared by concurrent
//! publishers (requests are pipelined and answers matched in order, as nsqd answers in order),
//! and is reopened on the next publish after it fails.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use tokio::sync::{mpsc, oneshot, Mutex};

use crate::command;
use crate::config::Config;
use crate::conn::{Conn, Frame};
use crate::error::Error;

type Reply = oneshot::Sender<Result<(), Error>>;

struct Request {
    cmd: BytesMut,
    /// `None` for commands nsqd does not answer (NOP).
    reply: Option<Reply>,
}

/// Publishes messages to one nsqd. Cheap to clone; clones share the connection.
#[derive(Clone)]
pub struct Producer {
    inner: Arc<Inner>,
}

struct Inner {
    addr: String,
    config: Config,
    conn: Mutex<Option<mpsc::Sender<Request>>>,
    stopped: std::sync::atomic::AtomicBool,
}

impl Producer {
    /// A producer for the nsqd at `addr` (`host:port`); nothing is dialed yet.
    pub fn new(addr: impl Into<String>, config: Config) -> Result<Producer, Error> {
        config.validate()?;
        Ok(Producer {
            inner: Arc::new(Inner {
                addr: addr.into(),
                config,
                conn: Mutex::new(None),
                stopped: Default::default(),
            }),
        })
    }

    pub fn addr(&self) -> &str {
        &self.inner.addr
    }

    /// `PUB`: one message, answered when nsqd has accepted it.
    pub async fn publish(&self, topic: &str, body: impl AsRef<[u8]>) -> Result<(), Error> {
        check_topic(topic)?;
        let mut cmd = BytesMut::new();
        command::publish(&mut cmd, topic, body.as_ref());
        self.send(cmd).await
    }

    /// `MPUB`: several messages, accepted or refused together.
    pub async fn multi_publish<B: AsRef<[u8]>>(
        &self,
        topic: &str,
        bodies: &[B],
    ) -> Result<(), Error> {
        check_topic(topic)?;
        let mut cmd = BytesMut::new();
        command::multi_publish(&mut cmd, topic, bodies);
        self.send(cmd).await
    }

    /// `DPUB`: one message, delivered after `delay` (millisecond resolution).
    pub async fn deferred_publish(
        &self,
        topic: &str,
        delay: Duration,
        body: impl AsRef<[u8]>,
    ) -> Result<(), Error> {
        check_topic(topic)?;
        let mut cmd = BytesMut::new();
        command::deferred_publish(&mut cmd, topic, delay.as_millis() as u64, body.as_ref());
        self.send(cmd).await
    }

    /// `NOP`: opens the connection if needed and checks it is alive (nsqd does not answer
    /// NOP, so this only proves the write went through).
    pub async fn ping(&self) -> Result<(), Error> {
        let tx = self.connection().await?;
        let mut cmd = BytesMut::new();
        command::nop(&mut cmd);
        tx.send(Request { cmd, reply: None })
            .await
            .map_err(|_| Error::Closed)
    }

    /// Closes the connection; later publishes fail with [`Error::Stopped`].
    pub async fn stop(&self) {
        self.inner
            .stopped
            .store(true, std::sync::atomic::Ordering::SeqCst);
        self.inner.conn.lock().await.take();
    }

    async fn send(&self, cmd: BytesMut) -> Result<(), Error> {
        let tx = self.connection().await?;
        let (reply, rx) = oneshot::channel();
        tx.send(Request {
            cmd,
            reply: Some(reply),
        })
        .await
        .map_err(|_| Error::Closed)?;
        rx.await.unwrap_or(Err(Error::Closed))
    }

    async fn connection(&self) -> Result<mpsc::Sender<Request>, Error> {
        if self.inner.stopped.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(Error::Stopped);
        }
        let mut slot = self.inner.conn.lock().await;
        if let Some(tx) = slot.as_ref() {
            if !tx.is_closed() {
                return Ok(tx.clone());
            }
        }
        let conn = Conn::connect(&self.inner.addr, &self.inner.config).await?;
        let (tx, rx) = mpsc::channel(1024);
        tokio::spawn(run(conn, rx, self.inner.config.read_timeout));
        *slot = Some(tx.clone());
        Ok(tx)
    }
}

fn check_topic(topic: &str) -> Result<(), Error> {
    if nsq_protocol::names::is_valid_topic_name(topic.as_bytes()) {
        return Ok(());
    }
    // nsqd refuses it too; checking first would hide its error code, so only the empty name
    // (which nsqd reads as a missing parameter) is caught here.
    if topic.is_empty() {
        return Err(Error::InvalidName {
            what: "topic",
            value: topic.to_string(),
        });
    }
    Ok(())
}

/// The connection task: writes requests in order, matches answers in order, answers
/// heartbeats, and fails every waiting request when the connection ends.
async fn run(mut conn: Conn, mut rx: mpsc::Receiver<Request>, read_timeout: Duration) {
    let mut waiting: VecDeque<Reply> = VecDeque::new();
    let end = loop {
        tokio::select! {
            req = rx.recv() => {
                let Some(req) = req else { break Error::Stopped };
                let mut next = Some(req);
                // Batch whatever else is queued into the same write.
                while let Some(r) = next {
                    conn.writer.buf.extend_from_slice(&r.cmd);
                    if let Some(reply) = r.reply {
                        waiting.push_back(reply);
                    }
                    next = rx.try_recv().ok();
                }
                if let Err(e) = conn.writer.flush().await {
                    break e;
                }
            }
            frame = tokio::time::timeout(read_timeout, conn.reader.read_frame()) => {
                let frame = match frame {
                    Ok(Ok(f)) => f,
                    Ok(Err(e)) => break e,
                    Err(_) => break Error::ReadTimeout(read_timeout),
                };
                match frame {
                    f if f.is_heartbeat() => {
                        command::nop(&mut conn.writer.buf);
                        if let Err(e) = conn.writer.flush().await {
                            break e;
                        }
                    }
                    Frame::Response(_) => {
                        if let Some(r) = waiting.pop_front() {
                            let _ = r.send(Ok(()));
                        }
                    }
                    Frame::Error(e) => {
                        let fatal = e.is_fatal();
                        if fatal {
                            // nsqd closes the connection after this: make the next publish
                            // dial a new one rather than queue here.
                            rx.close();
                        }
                        if let Some(r) = waiting.pop_front() {
                            let _ = r.send(Err(Error::Nsq(e)));
                        }
                        if fatal {
                            break Error::Closed;
                        }
                    }
                    Frame::Message(_) => {}
                }
            }
        }
    };
    tracing::debug!(addr = %conn.addr, "producer connection ended: {end}");
    rx.close();
    for r in waiting {
        let _ = r.send(Err(Error::Closed));
    }
    while let Ok(r) = rx.try_recv() {
        if let Some(reply) = r.reply {
            let _ = reply.send(Err(Error::Closed));
        }
    }
}
