//! One client connection: reads and runs commands, delivers messages, sends heartbeats.
//!
//! A single task owns the socket. It parses every complete command in the read buffer before
//! writing (so pipelined PUBs and bursts of FINs cost one flush), pulls messages from its channel
//! in batches while it has RDY capacity, and flushes when it is no longer ready, when its channel
//! has nothing more right now, or when the output buffer is full.

use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use nsq_protocol::command::{read_line, split_params, Line};
use nsq_protocol::error::ProtocolError;
use nsq_protocol::frame::{write_frame, FrameType, HEARTBEAT};
use nsq_protocol::message::Message;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{sleep_until, Instant, Sleep};

use crate::channel::Channel;
use crate::client::{ClientShared, STATE_SUBSCRIBED};
use crate::nsqd::Nsqd;
use crate::topic::Topic;

/// Most messages taken from the channel per lock.
const PULL_BATCH: i64 = 256;

/// What a command handler asks of the read loop.
pub(super) enum Exec {
    /// The command ran; its line and body were consumed from the read buffer.
    Done,
    /// The command needs this many bytes in the read buffer (counted from the start of the
    /// buffer) before it can run; nothing was consumed.
    NeedMore(usize),
}

/// Limits copied from the options when the connection starts.
pub(super) struct Limits {
    pub max_msg_size: i64,
    pub max_body_size: i64,
    pub max_rdy_count: i64,
    pub max_req_timeout: Duration,
    pub max_msg_timeout: Duration,
    pub max_channel_consumers: usize,
    pub identify: nsq_protocol::identify::ServerLimits,
}

pub struct Connection {
    pub(super) nsqd: Arc<Nsqd>,
    pub(super) client: Arc<ClientShared>,
    stream: TcpStream,
    rbuf: BytesMut,
    pub(super) wbuf: BytesMut,
    line: Vec<u8>,
    pub(super) limits: Limits,
    // Settings negotiated by the first IDENTIFY (P-042).
    pub(super) identified: bool,
    pub(super) negotiated: nsq_protocol::identify::Negotiated,
    pub(super) heartbeat: Option<Duration>,
    pub(super) output_buffer_size: usize,
    pub(super) output_buffer_timeout: Option<Duration>,
    pub(super) msg_timeout: Duration,
    pub(super) sample_rate: i32,
    pub(super) rdy: i64,
    pub(super) sub: Option<(Arc<Topic>, Arc<Channel>)>,
    /// The last topic published to, to skip the topic map lookup on the next PUB.
    pub(super) last_pub_topic: Option<Arc<Topic>>,
    /// A response or error was written: flush before waiting again (P-012).
    pub(super) flush_now: bool,
    /// A heartbeat-interval change from IDENTIFY that the timer must pick up.
    pub(super) heartbeat_changed: bool,
    scratch: Vec<Message>,
}

enum Wake {
    Continue,
    Close,
}

impl Connection {
    pub fn new(nsqd: Arc<Nsqd>, client: Arc<ClientShared>, stream: TcpStream) -> Self {
        let opts = nsqd.options();
        let heartbeat = opts.client_timeout / 2;
        let limits = Limits {
            max_msg_size: opts.max_msg_size,
            max_body_size: opts.max_body_size,
            max_rdy_count: opts.max_rdy_count,
            max_req_timeout: opts.max_req_timeout,
            max_msg_timeout: opts.max_msg_timeout,
            max_channel_consumers: opts.max_channel_consumers.max(0) as usize,
            identify: super::commands::identify_limits(&opts),
        };
        let negotiated = nsq_protocol::identify::Negotiated::initial(&limits.identify);
        Connection {
            nsqd,
            client,
            stream,
            rbuf: BytesMut::with_capacity(16 * 1024),
            wbuf: BytesMut::with_capacity(16 * 1024),
            line: Vec::with_capacity(128),
            limits,
            identified: false,
            negotiated,
            heartbeat: Some(heartbeat),
            output_buffer_size: 16 * 1024,
            output_buffer_timeout: Some(opts.output_buffer_timeout).filter(|d| !d.is_zero()),
            msg_timeout: opts.msg_timeout,
            sample_rate: 0,
            rdy: 0,
            sub: None,
            last_pub_topic: None,
            flush_now: false,
            heartbeat_changed: false,
            scratch: Vec::with_capacity(PULL_BATCH as usize),
        }
    }

    pub async fn run(mut self) {
        let peer = self.client.remote_address.clone();
        if let Err(reason) = self.io_loop().await {
            if !reason.is_empty() {
                tracing::error!("client({}) - {}", peer, reason);
            }
        }
        tracing::info!("PROTOCOL(V2): [{}] exiting ioloop", peer);
        let _ = self.stream.shutdown().await;
        if let Some((topic, channel)) = self.sub.take() {
            self.nsqd
                .client_left_channel(&topic, &channel, self.client.id);
        }
    }

    fn far_future() -> Instant {
        Instant::now() + Duration::from_secs(86400 * 365)
    }

    /// Runs until the peer goes away, a fatal error, or shutdown. Err carries a log reason.
    async fn io_loop(&mut self) -> Result<(), String> {
        let mut heartbeat: Pin<Box<Sleep>> = Box::pin(sleep_until(self.next_heartbeat()));
        let mut read_deadline: Pin<Box<Sleep>> = Box::pin(sleep_until(self.next_read_deadline()));
        let mut flush_timer: Pin<Box<Sleep>> = Box::pin(sleep_until(Self::far_future()));
        let mut flush_armed = false;
        let nsqd = self.nsqd.clone();
        let client = self.client.clone();
        loop {
            let more = self.deliver();
            let full = self.wbuf.len() >= self.output_buffer_size;
            if !self.wbuf.is_empty() && (self.flush_now || full || !more) {
                self.flush().await?;
                flush_armed = false;
            } else if !self.wbuf.is_empty() && !flush_armed {
                if let Some(t) = self.output_buffer_timeout {
                    flush_timer.as_mut().reset(Instant::now() + t);
                    flush_armed = true;
                }
            }
            if self.heartbeat_changed {
                self.heartbeat_changed = false;
                heartbeat.as_mut().reset(self.next_heartbeat());
                read_deadline.as_mut().reset(self.next_read_deadline());
            }
            let subscribed = self.sub.is_some();
            tokio::select! {
                biased;
                _ = nsqd.shutdown.cancelled() => return Ok(()),
                _ = client.close.cancelled() => return Ok(()),
                r = self.stream.read_buf(&mut self.rbuf) => {
                    match r {
                        Ok(0) => {
                            // A command cut short by the peer closing gets its read error.
                            if let Some(e) = self.truncated_command() {
                                self.send_error(&e);
                                let _ = self.flush().await;
                            }
                            return Ok(());
                        }
                        Ok(_) => {}
                        Err(e) => return Err(format!("failed to read command - {e}")),
                    }
                    let (wake, ran) = self.process_commands();
                    if ran {
                        read_deadline.as_mut().reset(self.next_read_deadline());
                    }
                    if let Wake::Close = wake {
                        // Fatal error frames are flushed before closing (P-110).
                        let _ = self.flush().await;
                        return Ok(());
                    }
                }
                _ = std::future::ready(()), if more => {}
                _ = client.wake.notified(), if subscribed => {
                    if !self.is_ready() {
                        if let Some((_, ch)) = &self.sub {
                            ch.pass_wake(&client);
                        }
                    }
                }
                _ = heartbeat.as_mut() => {
                    write_frame(&mut self.wbuf, FrameType::Response, HEARTBEAT);
                    self.flush_now = true;
                    heartbeat.as_mut().reset(self.next_heartbeat());
                }
                _ = flush_timer.as_mut(), if flush_armed => {
                    flush_armed = false;
                    self.flush_now = true;
                }
                _ = read_deadline.as_mut() => {
                    return Err("failed to read command - i/o timeout".to_string());
                }
            }
        }
    }

    fn next_heartbeat(&self) -> Instant {
        match self.heartbeat {
            Some(hb) => Instant::now() + hb,
            None => Self::far_future(),
        }
    }

    fn next_read_deadline(&self) -> Instant {
        match self.heartbeat {
            Some(hb) => Instant::now() + hb * 2,
            None => Self::far_future(),
        }
    }

    async fn flush(&mut self) -> Result<(), String> {
        self.flush_now = false;
        if self.wbuf.is_empty() {
            return Ok(());
        }
        let write = self.stream.write_all(&self.wbuf);
        let result = match self.heartbeat {
            // P-093: a client that stops reading is dropped after one heartbeat interval.
            Some(hb) => tokio::time::timeout(hb, write)
                .await
                .unwrap_or_else(|_| Err(std::io::ErrorKind::TimedOut.into())),
            None => write.await,
        };
        self.wbuf.clear();
        result.map_err(|e| format!("failed to write - {e}"))
    }

    pub(super) fn is_ready(&self) -> bool {
        match &self.sub {
            Some((_, ch)) => {
                self.client.state.load(Ordering::Relaxed) == STATE_SUBSCRIBED
                    && !ch.is_paused()
                    && self.rdy > self.client.in_flight_count.load(Ordering::Relaxed)
            }
            None => false,
        }
    }

    /// Moves a batch of messages from the channel into the output buffer. Returns whether the
    /// client could take more right away (still ready, and the channel has more).
    fn deliver(&mut self) -> bool {
        if !self.is_ready() {
            return false;
        }
        let Some((_, ch)) = &self.sub else {
            return false;
        };
        let capacity = self.rdy - self.client.in_flight_count.load(Ordering::Relaxed);
        let max = capacity.min(PULL_BATCH) as usize;
        self.scratch.clear();
        let more = ch.pull(
            &self.client,
            max,
            self.msg_timeout,
            self.sample_rate,
            &mut self.scratch,
        );
        let n = self.scratch.len();
        for m in &self.scratch {
            m.write_frame(&mut self.wbuf);
        }
        self.scratch.clear();
        if n > 0 {
            self.client
                .in_flight_count
                .fetch_add(n as i64, Ordering::Relaxed);
            self.client
                .message_count
                .fetch_add(n as u64, Ordering::Relaxed);
        }
        more && (capacity - n as i64) > 0
    }

    /// Runs every complete command in the read buffer.
    /// Returns whether to keep going, and whether any command ran.
    fn process_commands(&mut self) -> (Wake, bool) {
        let mut rbuf = std::mem::take(&mut self.rbuf);
        let mut line = std::mem::take(&mut self.line);
        let mut ran = false;
        let wake = loop {
            let consumed = match read_line(&rbuf) {
                Line::Complete { line: l, consumed } => {
                    line.clear();
                    line.extend_from_slice(l);
                    consumed
                }
                Line::Incomplete => break Wake::Continue,
                Line::TooLong => {
                    // P-034: no error frame, just close.
                    tracing::error!(
                        "client({}) - failed to read command - line too long",
                        self.client.remote_address
                    );
                    break Wake::Close;
                }
            };
            let params = split_params(&line);
            match self.exec(&params, &mut rbuf, consumed) {
                Ok(Exec::Done) => ran = true,
                Ok(Exec::NeedMore(total)) => {
                    rbuf.reserve(total.saturating_sub(rbuf.len()));
                    break Wake::Continue;
                }
                Err(e) => {
                    ran = true;
                    self.send_error(&e);
                    if e.is_fatal() {
                        break Wake::Close;
                    }
                    rbuf.advance(consumed);
                }
            }
        };
        self.rbuf = rbuf;
        self.line = line;
        (wake, ran)
    }

    /// The error a command left incomplete at end of stream earns (P-121, P-128..P-130).
    fn truncated_command(&self) -> Option<ProtocolError> {
        let Line::Complete { line, consumed } = read_line(&self.rbuf) else {
            return None;
        };
        let cmd = split_params(line).first().copied().unwrap_or(b"");
        Some(super::commands::truncation_error(
            cmd,
            &self.rbuf,
            consumed,
            &self.limits,
        ))
    }

    pub(super) fn send_response(&mut self, data: &[u8]) {
        write_frame(&mut self.wbuf, FrameType::Response, data);
        self.flush_now = true;
    }

    fn send_error(&mut self, e: &ProtocolError) {
        let level_error = e.is_fatal();
        if level_error {
            tracing::error!("[{}] - {}", self.client.remote_address, e);
        } else {
            tracing::warn!("[{}] - {}", self.client.remote_address, e);
        }
        write_frame(&mut self.wbuf, FrameType::Error, e.frame_data().as_bytes());
        self.flush_now = true;
    }
}
