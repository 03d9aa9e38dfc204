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
use nsq_protocol::error::{self as err, ProtocolError};
use nsq_protocol::frame::{write_frame, FrameType, HEARTBEAT, OK};
use nsq_protocol::message::Message;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::{sleep_until, Instant, Sleep};

use super::commands::is_publish;
use super::stream::{Compression, Rewind, Socket, Stream};

use crate::channel::Channel;
use crate::client::{ClientShared, STATE_SUBSCRIBED};
use crate::nsqd::Nsqd;
use crate::topic::Topic;

/// Most messages taken from the channel per lock.
const PULL_BATCH: i64 = 256;
/// P-080: how long a client gets to complete its TLS handshake.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);
/// Decompressed bytes one read may add to the read buffer beyond what a pending command
/// needs, so a small compressed input cannot balloon into a huge buffer at once.
const DECODE_STEP: usize = 64 * 1024;

/// What a command handler asks of the read loop.
pub(super) enum Exec {
    /// The command ran; its line and body were consumed from the read buffer.
    Done,
    /// The command needs this many bytes in the read buffer (counted from the start of the
    /// buffer) before it can run; nothing was consumed.
    NeedMore(usize),
    /// The command waits for the auth server; no later command runs until it has answered.
    Auth(super::commands::PendingAuth),
    /// IDENTIFY negotiated stream upgrades: run them before reading anything else.
    Upgrade(Upgrade),
}

/// The stream upgrades one IDENTIFY negotiated (P-080).
pub(super) struct Upgrade {
    pub tls: bool,
    pub snappy: bool,
    pub deflate: bool,
    pub deflate_level: i64,
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
    /// `--tls-required` is not false: every command but IDENTIFY needs TLS first (P-071).
    pub tls_required: bool,
}

pub struct Connection {
    pub(super) nsqd: Arc<Nsqd>,
    pub(super) client: Arc<ClientShared>,
    stream: Stream,
    /// The server side of TLS when a certificate is configured.
    tls_config: Option<Arc<rustls::ServerConfig>>,
    /// Snappy or deflate once negotiated; `raw_in` then holds compressed bytes not yet decoded
    /// and `raw_out` the compressed form of `wbuf` being written.
    compression: Option<Compression>,
    raw_in: BytesMut,
    raw_out: Vec<u8>,
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
    pub(super) auth: crate::auth::Session,
    /// Durable publishes whose `OK`s wait for an fsync (see `commands::PendingAcks`).
    pub(super) acks: super::commands::PendingAcks,
    scratch: Vec<Message>,
}

enum Wake {
    Continue,
    Close,
    Auth(super::commands::PendingAuth),
    Upgrade(Upgrade),
    /// A command other than a publish came after pending durable publishes: it runs once
    /// their fsync is over.
    Settle,
}

impl Connection {
    pub fn new(
        nsqd: Arc<Nsqd>,
        client: Arc<ClientShared>,
        stream: Socket,
        tls_config: Option<Arc<rustls::ServerConfig>>,
    ) -> Self {
        let opts = nsqd.options();
        let heartbeat = opts.client_timeout / 2;
        let mut limits = Limits {
            max_msg_size: opts.max_msg_size,
            max_body_size: opts.max_body_size,
            max_rdy_count: opts.max_rdy_count,
            max_req_timeout: opts.max_req_timeout,
            max_msg_timeout: opts.max_msg_timeout,
            max_channel_consumers: opts.max_channel_consumers.max(0) as usize,
            identify: super::commands::identify_limits(&opts),
            tls_required: opts.tls_required != crate::options::TlsRequired::No,
        };
        limits.identify.tls_available = tls_config.is_some();
        let negotiated = nsq_protocol::identify::Negotiated::initial(&limits.identify);
        let acks = super::commands::PendingAcks::new(nsqd.health.clone());
        Connection {
            nsqd,
            client,
            stream: Stream::Plain(stream),
            tls_config,
            compression: None,
            raw_in: BytesMut::new(),
            raw_out: Vec::new(),
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
            auth: crate::auth::Session::default(),
            acks,
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
        let mut last_command = Instant::now();
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
                r = self.fill_rbuf() => {
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
                    let (mut next, mut ran) = self.process_commands();
                    let mut wake = loop {
                        // Durable publishes are answered, and anything after them runs, only
                        // once their fsync is over.
                        if self.acks.is_pending() {
                            let synced = tokio::select! {
                                _ = nsqd.shutdown.cancelled() => return Ok(()),
                                _ = client.close.cancelled() => return Ok(()),
                                ok = self.settle_acks() => ok,
                            };
                            if !synced {
                                next = Wake::Close;
                            }
                        }
                        next = match next {
                            Wake::Settle => self.process_commands().0,
                            Wake::Auth(pending) => {
                                let answer = tokio::select! {
                                    _ = nsqd.shutdown.cancelled() => return Ok(()),
                                    _ = client.close.cancelled() => return Ok(()),
                                    r = pending.query => r,
                                };
                                ran = true;
                                match self.auth_answered(pending.kind, answer) {
                                    Ok(()) => self.process_commands().0,
                                    Err(e) => {
                                        self.send_error(&e);
                                        Wake::Close
                                    }
                                }
                            }
                            other => break other,
                        };
                    };
                    if let Wake::Upgrade(plan) = wake {
                        wake = if self.upgrade(plan).await {
                            Wake::Continue
                        } else {
                            Wake::Close
                        };
                    }
                    if ran {
                        // The deadline timer is moved only when it fires (below): re-arming
                        // a timer on every command costs a timer-wheel update per request.
                        last_command = Instant::now();
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
                    let due = self.read_deadline_after(last_command);
                    if due > Instant::now() {
                        read_deadline.as_mut().reset(due);
                    } else {
                        return Err("failed to read command - i/o timeout".to_string());
                    }
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
        self.read_deadline_after(Instant::now())
    }

    /// P-092: a connection must send a command within 2 × heartbeat of the last one.
    fn read_deadline_after(&self, last_command: Instant) -> Instant {
        match self.heartbeat {
            Some(hb) => last_command + hb * 2,
            None => Self::far_future(),
        }
    }

    async fn flush(&mut self) -> Result<(), String> {
        self.flush_now = false;
        if self.wbuf.is_empty() {
            return Ok(());
        }
        let out: &[u8] = match self.compression.as_mut() {
            None => &self.wbuf,
            Some(c) => {
                self.raw_out.clear();
                c.encode(&self.wbuf, &mut self.raw_out)
                    .map_err(|e| format!("failed to write - {e}"))?;
                &self.raw_out
            }
        };
        let write = write_out(&mut self.stream, out);
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

    /// Reads more command bytes into `rbuf`: straight from the socket, or through the
    /// compression layer. Ok(0) is the end of the client's stream.
    async fn fill_rbuf(&mut self) -> std::io::Result<usize> {
        let Some(compression) = self.compression.as_mut() else {
            return self.stream.read_buf(&mut self.rbuf).await;
        };
        loop {
            // Bytes already received (or left over by the last step) are decoded before the
            // socket is read again.
            let before = self.rbuf.len();
            let limit = before + DECODE_STEP.max(self.rbuf.capacity() - before);
            compression.decode(&mut self.raw_in, &mut self.rbuf, limit)?;
            if self.rbuf.len() > before {
                return Ok(self.rbuf.len() - before);
            }
            if compression.finished() {
                return Ok(0);
            }
            if self.stream.read_buf(&mut self.raw_in).await? == 0 {
                return Ok(0);
            }
        }
    }

    /// True once the connection runs over TLS.
    pub(super) fn is_tls(&self) -> bool {
        matches!(self.stream, Stream::Tls(_))
    }

    /// True once snappy or deflate is on.
    pub(super) fn is_compressed(&self) -> bool {
        self.compression.is_some()
    }

    /// Runs the upgrades IDENTIFY negotiated, in the order of P-080, each confirmed by an `OK`
    /// through the new layer. False when the connection must close (any error frame is sent).
    async fn upgrade(&mut self, plan: Upgrade) -> bool {
        let peer = self.client.remote_address.clone();
        // The IDENTIFY answer goes out through the old layers.
        if let Err(e) = self.flush().await {
            return self.identify_failed(e).await;
        }
        // Whatever the client sent after its IDENTIFY belongs to the first new layer.
        let early = self.rbuf.split().freeze();
        if plan.tls {
            tracing::info!("PROTOCOL(V2): [{}] upgrading connection to TLS", peer);
            if let Err(e) = self.upgrade_tls(early).await {
                return self.identify_failed(e).await;
            }
            if let Err(e) = self.send_ok().await {
                return self.identify_failed(e).await;
            }
        } else {
            self.raw_in.extend_from_slice(&early);
        }
        if plan.snappy {
            tracing::info!("PROTOCOL(V2): [{}] upgrading connection to snappy", peer);
            self.compression = Some(Compression::snappy());
            self.client.info.lock().snappy = true;
            if let Err(e) = self.send_ok().await {
                return self.identify_failed(e).await;
            }
        }
        if plan.deflate {
            tracing::info!(
                "PROTOCOL(V2): [{}] upgrading connection to deflate (level {})",
                peer,
                plan.deflate_level
            );
            self.compression = Some(Compression::deflate(plan.deflate_level));
            self.client.info.lock().deflate = true;
            if let Err(e) = self.send_ok().await {
                return self.identify_failed(e).await;
            }
        }
        true
    }

    async fn send_ok(&mut self) -> Result<(), String> {
        self.send_response(OK);
        self.flush().await
    }

    /// P-081: the fatal answer to a failed upgrade, written through whatever layers still work.
    async fn identify_failed(&mut self, e: String) -> bool {
        self.send_error(&err::identify_failed(e));
        let _ = self.flush().await;
        false
    }

    /// The server side of the TLS handshake, on the raw socket, within 5 s.
    async fn upgrade_tls(&mut self, early: bytes::Bytes) -> Result<(), String> {
        let Some(config) = self.tls_config.clone() else {
            return Err("TLS is not configured".to_string());
        };
        let tcp = match std::mem::replace(&mut self.stream, Stream::Gone) {
            Stream::Plain(tcp) => tcp,
            other => {
                self.stream = other;
                return Err("connection is already TLS".to_string());
            }
        };
        let accept = tokio_rustls::TlsAcceptor::from(config)
            .accept(Rewind::new(early, tcp))
            .into_fallible();
        match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, accept).await {
            // The socket went with the abandoned handshake; the connection just closes.
            Err(_) => Err("i/o timeout".to_string()),
            Ok(Err((e, io))) => {
                // As in the reference, the error frame then goes out in the clear.
                self.stream = Stream::Plain(io.into_inner());
                Err(e.to_string())
            }
            Ok(Ok(tls)) => {
                let (_, session) = tls.get_ref();
                let names = crate::tls::SessionInfo::of(session);
                let common_name = crate::tls::peer_common_name(session);
                {
                    let mut info = self.client.info.lock();
                    info.tls = true;
                    info.tls_version = names.version;
                    info.tls_cipher_suite = names.cipher_suite;
                    info.tls_common_name = common_name;
                }
                self.stream = Stream::Tls(Box::new(tls));
                Ok(())
            }
        }
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
            if self.acks.is_pending() && !is_publish(params.first().copied().unwrap_or(b"")) {
                break Wake::Settle;
            }
            match self.exec(&params, &mut rbuf, consumed) {
                Ok(Exec::Done) => ran = true,
                Ok(Exec::NeedMore(total)) => {
                    rbuf.reserve(total.saturating_sub(rbuf.len()));
                    break Wake::Continue;
                }
                Ok(Exec::Auth(pending)) => {
                    ran = true;
                    break Wake::Auth(pending);
                }
                Ok(Exec::Upgrade(plan)) => {
                    ran = true;
                    break Wake::Upgrade(plan);
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

    pub(super) fn send_error(&mut self, e: &ProtocolError) {
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

/// Writes `data` and pushes it through every layer (TLS buffers records until flushed).
async fn write_out(stream: &mut Stream, data: &[u8]) -> std::io::Result<()> {
    stream.write_all(data).await?;
    stream.flush().await
}
