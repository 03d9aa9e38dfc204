//! The twelve V2 commands, each checking its arguments in the reference's order (§1.6) and
//! answering with the exact frames of §1.12. Handlers run synchronously against the read buffer:
//! when a body has not fully arrived they ask for more bytes and are run again from the start,
//! which is safe because nothing before the body has side effects beyond idempotent topic
//! creation.

use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use nsq_protocol::command::{parse_mpub_payload, parse_uint, read_i32};
use nsq_protocol::error::{self as err, ProtocolError};
use nsq_protocol::frame::{CLOSE_WAIT, OK};
use nsq_protocol::identify::{negotiate_from, parse_identify_body, response_json, ServerLimits};
use nsq_protocol::message::MessageId;
use nsq_protocol::names::{is_valid_channel_name, is_valid_topic_name};

use super::connection::{Connection, Exec, Upgrade};
use crate::auth::{self, AuthError, AuthState, Check};
use crate::client::{STATE_CLOSING, STATE_INIT, STATE_SUBSCRIBED};
use crate::durable::SyncWait;
use crate::options::Options;
use crate::topic::{PutError, Topic};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

type CmdResult = Result<Exec, ProtocolError>;

pub(super) fn identify_limits(opts: &Options) -> ServerLimits {
    let ms = |d: Duration| d.as_millis() as i64;
    ServerLimits {
        client_timeout_ms: ms(opts.client_timeout),
        max_heartbeat_interval_ms: ms(opts.max_heartbeat_interval),
        output_buffer_timeout_ms: ms(opts.output_buffer_timeout),
        min_output_buffer_timeout_ms: ms(opts.min_output_buffer_timeout),
        max_output_buffer_timeout_ms: ms(opts.max_output_buffer_timeout),
        max_output_buffer_size: opts.max_output_buffer_size,
        msg_timeout_ms: ms(opts.msg_timeout),
        max_msg_timeout_ms: ms(opts.max_msg_timeout),
        max_rdy_count: opts.max_rdy_count,
        max_deflate_level: opts.max_deflate_level,
        // The connection confirms TLS against the configuration it was given.
        tls_available: !opts.tls_cert.is_empty() || !opts.tls_key.is_empty(),
        snappy_enabled: opts.snappy,
        deflate_enabled: opts.deflate,
        auth_enabled: !opts.auth_http_addresses.is_empty(),
        topology_region: opts.topology_region.clone(),
        topology_zone: opts.topology_zone.clone(),
    }
}

/// A body of `[4-byte size][size bytes]` right after the command line: the size if it is
/// readable yet.
fn body_size(rbuf: &BytesMut, line_len: usize) -> Option<i64> {
    read_i32(rbuf, line_len).map(i64::from)
}

fn take_body(rbuf: &mut BytesMut, line_len: usize, size: usize) -> Bytes {
    rbuf.advance(line_len + 4);
    rbuf.split_to(size).freeze()
}

fn as_name(b: &[u8]) -> &str {
    // Only called on validated names, which are ASCII.
    std::str::from_utf8(b).unwrap_or("")
}

fn message_id(b: &[u8]) -> Result<MessageId, ProtocolError> {
    b.try_into().map_err(|_| err::invalid_message_id())
}

/// Why a command waits for the auth server.
pub(super) enum AuthWaitKind {
    /// AUTH itself, with the secret it sent.
    Auth(Vec<u8>),
    /// A SUB/PUB/MPUB/DPUB whose cached answer expired; it runs again once answered.
    Refresh,
}

/// An auth-server query the connection awaits before it runs any further command, so that
/// commands stay strictly in order.
pub(super) struct PendingAuth {
    pub kind: AuthWaitKind,
    pub query: Pin<Box<dyn Future<Output = Result<AuthState, AuthError>> + Send>>,
}

impl Connection {
    pub(super) fn exec(
        &mut self,
        params: &[&[u8]],
        rbuf: &mut BytesMut,
        line_len: usize,
    ) -> CmdResult {
        let cmd = params.first().copied().unwrap_or(b"");
        // P-071: until the upgrade, IDENTIFY is the only command a TLS-only nsqd takes.
        if self.limits.tls_required && cmd != b"IDENTIFY" && !self.is_tls() {
            return Err(err::tls_required(cmd));
        }
        match cmd {
            b"FIN" => self.fin(params, rbuf, line_len),
            b"RDY" => self.rdy(params, rbuf, line_len),
            b"REQ" => self.req(params, rbuf, line_len),
            b"PUB" => self.publish(params, rbuf, line_len),
            b"MPUB" => self.mpub(params, rbuf, line_len),
            b"DPUB" => self.dpub(params, rbuf, line_len),
            b"NOP" => {
                rbuf.advance(line_len);
                Ok(Exec::Done)
            }
            b"TOUCH" => self.touch(params, rbuf, line_len),
            b"SUB" => self.sub(params, rbuf, line_len),
            b"CLS" => self.cls(rbuf, line_len),
            b"IDENTIFY" => self.identify(rbuf, line_len),
            b"AUTH" => self.auth(params, rbuf, line_len),
            other => Err(err::invalid_command(other)),
        }
    }

    fn state(&self) -> i32 {
        self.client.state.load(Ordering::Relaxed)
    }

    fn identify(&mut self, rbuf: &mut BytesMut, line_len: usize) -> CmdResult {
        if self.state() != STATE_INIT {
            return Err(err::cannot_in_state("IDENTIFY"));
        }
        let Some(size) = body_size(rbuf, line_len) else {
            return Ok(Exec::NeedMore(line_len + 4));
        };
        if size > self.limits.max_body_size {
            return Err(err::body_too_big(
                "IDENTIFY",
                size,
                self.limits.max_body_size,
            ));
        }
        if size <= 0 {
            return Err(err::invalid_body_size("IDENTIFY", size));
        }
        let total = line_len + 4 + size as usize;
        if rbuf.len() < total {
            return Ok(Exec::NeedMore(total));
        }
        let body = take_body(rbuf, line_len, size as usize);
        let req = parse_identify_body(&body)?;
        let mut negotiated = negotiate_from(&req, &self.limits.identify, &self.negotiated)?;
        // A repeated IDENTIFY never stacks a second TLS or compression layer on the first.
        if self.is_tls() {
            negotiated.tls_v1 = false;
        }
        if self.is_compressed() {
            negotiated.snappy = false;
            negotiated.deflate = false;
        }
        self.negotiated = negotiated.clone();
        {
            // QRK-06 (replicated): absent ids replace the remote-IP default with "".
            let mut info = self.client.info.lock();
            info.client_id = req.client_id.clone().unwrap_or_default();
            info.hostname = req.hostname.clone().unwrap_or_default();
            info.user_agent = req.user_agent.clone().unwrap_or_default();
            info.sample_rate = negotiated.sample_rate;
            info.topology_zone = req.topology_zone.clone();
            info.topology_region = req.topology_region.clone();
        }
        // QRK-05 (replicated): only the first IDENTIFY reaches the delivery loop.
        if !self.identified {
            self.identified = true;
            let locality = crate::topology::locality(
                &self.nsqd.options(),
                &req.topology_zone,
                &req.topology_region,
            );
            self.client.locality.store(locality, Ordering::Relaxed);
            self.heartbeat = (negotiated.heartbeat_interval_ms > 0)
                .then(|| Duration::from_millis(negotiated.heartbeat_interval_ms as u64));
            self.output_buffer_size = negotiated.output_buffer_size.max(1) as usize;
            self.output_buffer_timeout = (negotiated.output_buffer_timeout_ms > 0)
                .then(|| Duration::from_millis(negotiated.output_buffer_timeout_ms as u64));
            self.sample_rate = negotiated.sample_rate;
            self.msg_timeout = Duration::from_millis(negotiated.msg_timeout_ms as u64);
            self.heartbeat_changed = true;
        }
        if !req.feature_negotiation {
            self.send_response(OK);
            return Ok(Exec::Done);
        }
        let json = response_json(&negotiated, &self.limits.identify);
        self.send_response(json.as_bytes());
        if negotiated.tls_v1 || negotiated.snappy || negotiated.deflate {
            // P-080: the JSON goes out as it is, then the layers change before the next read.
            return Ok(Exec::Upgrade(Upgrade {
                tls: negotiated.tls_v1,
                snappy: negotiated.snappy,
                deflate: negotiated.deflate,
                deflate_level: negotiated.deflate_level,
            }));
        }
        Ok(Exec::Done)
    }

    fn auth(&mut self, params: &[&[u8]], rbuf: &mut BytesMut, line_len: usize) -> CmdResult {
        if self.state() != STATE_INIT {
            return Err(err::cannot_in_state("AUTH"));
        }
        if params.len() != 1 {
            return Err(err::auth_invalid_parameters());
        }
        let Some(size) = body_size(rbuf, line_len) else {
            return Ok(Exec::NeedMore(line_len + 4));
        };
        if size > self.limits.max_body_size {
            return Err(err::body_too_big("AUTH", size, self.limits.max_body_size));
        }
        if size <= 0 {
            return Err(err::invalid_body_size("AUTH", size));
        }
        let total = line_len + 4 + size as usize;
        if rbuf.len() < total {
            return Ok(Exec::NeedMore(total));
        }
        let secret = take_body(rbuf, line_len, size as usize);
        if self.auth.has_authorizations() {
            return Err(err::auth_already_set());
        }
        if !self.limits.identify.auth_enabled {
            return Err(err::auth_disabled());
        }
        let secret = secret.to_vec();
        let query = self.auth_query(secret.clone());
        Ok(Exec::Auth(PendingAuth {
            kind: AuthWaitKind::Auth(secret),
            query,
        }))
    }

    /// Starts an auth-server query for this client with `secret` (BEH-151).
    fn auth_query(
        &self,
        secret: Vec<u8>,
    ) -> Pin<Box<dyn Future<Output = Result<AuthState, AuthError>> + Send>> {
        let opts = self.nsqd.options();
        let remote_ip = self
            .client
            .remote_address
            .parse::<std::net::SocketAddr>()
            .map(|a| a.ip().to_string())
            .unwrap_or_default();
        let (tls, common_name) = {
            let info = self.client.info.lock();
            (info.tls, info.tls_common_name.clone())
        };
        let params = auth::QueryParams {
            remote_ip,
            tls,
            secret,
            common_name,
        };
        Box::pin(async move { auth::query_any(&opts, &params).await })
    }

    /// Applies the auth server's answer to the command that waited for it. Errors are fatal.
    pub(super) fn auth_answered(
        &mut self,
        kind: AuthWaitKind,
        result: Result<AuthState, AuthError>,
    ) -> Result<(), ProtocolError> {
        let state = result.map_err(|e| {
            // The auth server's own error stays in the log (P-122).
            tracing::warn!(
                "PROTOCOL(V2): [{}] AUTH failed {}",
                self.client.remote_address,
                e
            );
            err::auth_failed()
        })?;
        {
            let mut info = self.client.info.lock();
            info.authed = state.has_authorizations();
            info.auth_identity = state.identity.clone();
            info.auth_identity_url = state.identity_url.clone();
        }
        match kind {
            AuthWaitKind::Auth(secret) => {
                let json = nsq_protocol::json::auth_response(
                    &state.identity,
                    &state.identity_url,
                    state.permission_count() as i64,
                );
                let any = state.has_authorizations();
                self.auth.authenticated(secret, state);
                if !any {
                    return Err(err::auth_no_authorizations());
                }
                self.send_response(json.as_bytes());
            }
            AuthWaitKind::Refresh => self.auth.refreshed(state),
        }
        Ok(())
    }

    /// The auth check of SUB, PUB, MPUB and DPUB (P-123). `Some` when the cached answer has
    /// expired: the command must wait for a fresh one and then run again from the start, so
    /// callers check before consuming anything from the read buffer.
    fn check_auth(
        &mut self,
        cmd: &str,
        topic: &[u8],
        channel: &[u8],
    ) -> Result<Option<Exec>, ProtocolError> {
        if !self.limits.identify.auth_enabled {
            return Ok(None);
        }
        let now = std::time::Instant::now();
        match self.auth.check(as_name(topic), as_name(channel), now) {
            Check::Allowed => Ok(None),
            Check::Denied => Err(err::unauthorized(cmd, topic, channel)),
            Check::AuthFirst => Err(err::auth_first(cmd)),
            Check::Refresh => Ok(Some(Exec::Auth(PendingAuth {
                kind: AuthWaitKind::Refresh,
                query: self.auth_query(self.auth.secret().to_vec()),
            }))),
        }
    }

    fn sub(&mut self, params: &[&[u8]], rbuf: &mut BytesMut, line_len: usize) -> CmdResult {
        if self.state() != STATE_INIT {
            return Err(err::cannot_in_state("SUB"));
        }
        if self.heartbeat.is_none() {
            return Err(err::sub_heartbeats_disabled());
        }
        if params.len() < 3 {
            return Err(err::insufficient_parameters("SUB"));
        }
        if !is_valid_topic_name(params[1]) {
            return Err(err::bad_topic("SUB", params[1]));
        }
        if !is_valid_channel_name(params[2]) {
            return Err(err::bad_channel("SUB", params[2]));
        }
        if let Some(wait) = self.check_auth("SUB", params[1], params[2])? {
            return Ok(wait);
        }
        let (topic_name, channel_name) = (as_name(params[1]), as_name(params[2]));
        let mut attempt = 0;
        let (topic, channel) = loop {
            attempt += 1;
            let topic = self.nsqd.get_or_create_topic(topic_name);
            let channel = self.nsqd.get_or_create_channel(&topic, channel_name);
            channel
                .add_client(self.client.clone(), self.limits.max_channel_consumers)
                .map_err(err::sub_failed)?;
            let gone = (channel.ephemeral && channel.is_exiting())
                || (topic.ephemeral && topic.is_exiting());
            if !gone {
                break (topic, channel);
            }
            // Raced with the deletion of an ephemeral topic/channel: try once more.
            channel.remove_client(self.client.id);
            if attempt >= 2 {
                return Err(err::sub_failed_deleted());
            }
        };
        self.client.state.store(STATE_SUBSCRIBED, Ordering::Relaxed);
        self.sub = Some((topic, channel));
        rbuf.advance(line_len);
        self.send_response(OK);
        Ok(Exec::Done)
    }

    fn rdy(&mut self, params: &[&[u8]], rbuf: &mut BytesMut, line_len: usize) -> CmdResult {
        let state = self.state();
        if state == STATE_CLOSING {
            // P-056: ignored while closing.
            rbuf.advance(line_len);
            return Ok(Exec::Done);
        }
        if state != STATE_SUBSCRIBED {
            return Err(err::cannot_in_state("RDY"));
        }
        let count = match params.get(1) {
            None => 1,
            Some(p) => parse_uint(p).map_err(|_| err::rdy_parse_failed(p))? as i64,
        };
        if count < 0 || count > self.limits.max_rdy_count {
            return Err(err::rdy_out_of_range(count, self.limits.max_rdy_count));
        }
        self.set_rdy(count);
        rbuf.advance(line_len);
        Ok(Exec::Done)
    }

    fn set_rdy(&mut self, count: i64) {
        self.rdy = count;
        self.client.ready_count.store(count, Ordering::Relaxed);
    }

    fn in_flight_checks(
        &self,
        cmd: &str,
        params: &[&[u8]],
        min: usize,
    ) -> Result<MessageId, ProtocolError> {
        let state = self.state();
        if state != STATE_SUBSCRIBED && state != STATE_CLOSING {
            return Err(err::cannot_in_state(cmd));
        }
        if params.len() < min {
            return Err(err::insufficient_params(cmd));
        }
        message_id(params[1])
    }

    fn fin(&mut self, params: &[&[u8]], rbuf: &mut BytesMut, line_len: usize) -> CmdResult {
        let id = self.in_flight_checks("FIN", params, 2)?;
        rbuf.advance(line_len);
        let Some((_, ch)) = &self.sub else {
            return self.non_fatal(err::fin_failed(&id, err::REASON_NOT_IN_FLIGHT));
        };
        match ch.finish(self.client.id, &id) {
            Ok(()) => {
                self.client.in_flight_done();
                self.client.finish_count.fetch_add(1, Ordering::Relaxed);
                Ok(Exec::Done)
            }
            Err(e) => self.non_fatal(err::fin_failed(&id, e.as_str())),
        }
    }

    /// Non-fatal errors have already consumed their line; report and carry on.
    fn non_fatal(&mut self, e: ProtocolError) -> CmdResult {
        debug_assert!(!e.is_fatal());
        tracing::warn!("[{}] - {}", self.client.remote_address, e);
        write_error(&mut self.wbuf, &e);
        self.flush_now = true;
        Ok(Exec::Done)
    }

    fn req(&mut self, params: &[&[u8]], rbuf: &mut BytesMut, line_len: usize) -> CmdResult {
        let id = self.in_flight_checks("REQ", params, 3)?;
        let ms = parse_uint(params[2]).map_err(|_| err::req_parse_failed(params[2]))?;
        let max = self.limits.max_req_timeout;
        let mut delay = Duration::from_millis(ms);
        if delay > max {
            // P-058: clamped, with a log line only.
            tracing::info!(
                "PROTOCOL(V2): [{}] REQ timeout {} out of range 0-{}. Setting to {}",
                self.client.remote_address,
                ms,
                max.as_millis(),
                max.as_millis()
            );
            delay = max;
        }
        rbuf.advance(line_len);
        let Some((_, ch)) = &self.sub else {
            return self.non_fatal(err::req_failed(&id, err::REASON_NOT_IN_FLIGHT));
        };
        match ch.requeue(self.client.id, &id, delay) {
            Ok(()) => {
                self.client.in_flight_done();
                self.client.requeue_count.fetch_add(1, Ordering::Relaxed);
                Ok(Exec::Done)
            }
            Err(e) => self.non_fatal(err::req_failed(&id, e.as_str())),
        }
    }

    fn touch(&mut self, params: &[&[u8]], rbuf: &mut BytesMut, line_len: usize) -> CmdResult {
        let id = self.in_flight_checks("TOUCH", params, 2)?;
        rbuf.advance(line_len);
        let Some((_, ch)) = &self.sub else {
            return self.non_fatal(err::touch_failed(&id, err::REASON_NOT_IN_FLIGHT));
        };
        match ch.touch(
            self.client.id,
            &id,
            self.msg_timeout,
            self.limits.max_msg_timeout,
        ) {
            Ok(()) => Ok(Exec::Done),
            Err(e) => self.non_fatal(err::touch_failed(&id, e.as_str())),
        }
    }

    fn cls(&mut self, rbuf: &mut BytesMut, line_len: usize) -> CmdResult {
        if self.state() != STATE_SUBSCRIBED {
            return Err(err::cannot_in_state("CLS"));
        }
        self.set_rdy(0);
        self.client.state.store(STATE_CLOSING, Ordering::Relaxed);
        rbuf.advance(line_len);
        self.send_response(CLOSE_WAIT);
        Ok(Exec::Done)
    }

    fn topic_for_publish(&mut self, name: &str) -> Arc<Topic> {
        if let Some(t) = &self.last_pub_topic {
            if t.name == name && !t.is_exiting() {
                return t.clone();
            }
        }
        let t = self.nsqd.get_or_create_topic(name);
        self.last_pub_topic = Some(t.clone());
        t
    }

    /// The `[size][body]` of PUB and DPUB, with the E_BAD_MESSAGE checks of P-053/P-055: the
    /// body's size once it has fully arrived (nothing consumed yet), else the bytes needed.
    fn message_body(
        &self,
        cmd: &str,
        rbuf: &BytesMut,
        line_len: usize,
    ) -> Result<Result<usize, usize>, ProtocolError> {
        let Some(size) = body_size(rbuf, line_len) else {
            return Ok(Err(line_len + 4));
        };
        if size <= 0 {
            return Err(err::invalid_message_size(cmd, size));
        }
        if size > self.limits.max_msg_size {
            return Err(err::message_too_big(cmd, size, self.limits.max_msg_size));
        }
        let total = line_len + 4 + size as usize;
        if rbuf.len() < total {
            return Ok(Err(total));
        }
        Ok(Ok(size as usize))
    }

    fn publish(&mut self, params: &[&[u8]], rbuf: &mut BytesMut, line_len: usize) -> CmdResult {
        if params.len() < 2 {
            return Err(err::insufficient_parameters("PUB"));
        }
        if !is_valid_topic_name(params[1]) {
            return Err(err::bad_topic("PUB", params[1]));
        }
        let size = match self.message_body("PUB", rbuf, line_len)? {
            Ok(size) => size,
            Err(need) => return Ok(Exec::NeedMore(need)),
        };
        if let Some(wait) = self.check_auth("PUB", params[1], b"")? {
            return Ok(wait);
        }
        let body = take_body(rbuf, line_len, size);
        let name = as_name(params[1]);
        let topic = self.topic_for_publish(name);
        self.put_publish(
            &topic,
            std::slice::from_ref(&body),
            Duration::ZERO,
            PubKind::Pub,
        )?;
        self.client.count_publish(name, 1);
        self.send_response(OK);
        Ok(Exec::Done)
    }

    fn dpub(&mut self, params: &[&[u8]], rbuf: &mut BytesMut, line_len: usize) -> CmdResult {
        if params.len() < 3 {
            return Err(err::insufficient_parameters("DPUB"));
        }
        if !is_valid_topic_name(params[1]) {
            return Err(err::bad_topic("DPUB", params[1]));
        }
        let ms = parse_uint(params[2]).map_err(|_| err::dpub_parse_failed(params[2]))?;
        let max_ms = self.limits.max_req_timeout.as_millis() as i64;
        let ms_signed = ms as i64;
        if ms_signed < 0 || ms_signed > max_ms {
            return Err(err::dpub_timeout_out_of_range(ms_signed, max_ms));
        }
        let size = match self.message_body("DPUB", rbuf, line_len)? {
            Ok(size) => size,
            Err(need) => return Ok(Exec::NeedMore(need)),
        };
        if let Some(wait) = self.check_auth("DPUB", params[1], b"")? {
            return Ok(wait);
        }
        let body = take_body(rbuf, line_len, size);
        let name = as_name(params[1]);
        let topic = self.topic_for_publish(name);
        let defer = Duration::from_millis(ms);
        self.put_publish(&topic, std::slice::from_ref(&body), defer, PubKind::Dpub)?;
        self.client.count_publish(name, 1);
        self.send_response(OK);
        Ok(Exec::Done)
    }

    fn mpub(&mut self, params: &[&[u8]], rbuf: &mut BytesMut, line_len: usize) -> CmdResult {
        if params.len() < 2 {
            return Err(err::insufficient_parameters("MPUB"));
        }
        if !is_valid_topic_name(params[1]) {
            return Err(err::bad_topic("MPUB", params[1]));
        }
        // QRK-03 (replicated): auth is checked, and the topic created, before the body is
        // read or validated.
        if let Some(wait) = self.check_auth("MPUB", params[1], b"")? {
            return Ok(wait);
        }
        let name = as_name(params[1]);
        let topic = self.topic_for_publish(name);
        let Some(size) = body_size(rbuf, line_len) else {
            return Ok(Exec::NeedMore(line_len + 4));
        };
        if size <= 0 {
            return Err(err::invalid_body_size("MPUB", size));
        }
        if size > self.limits.max_body_size {
            return Err(err::body_too_big("MPUB", size, self.limits.max_body_size));
        }
        let total = line_len + 4 + size as usize;
        if rbuf.len() < total {
            return Ok(Exec::NeedMore(total));
        }
        let payload = take_body(rbuf, line_len, size as usize);
        let bodies = parse_mpub_payload(
            &payload,
            self.limits.max_msg_size,
            self.limits.max_body_size,
        )?;
        self.put_publish(&topic, &bodies, Duration::ZERO, PubKind::Mpub)?;
        self.client.count_publish(name, bodies.len() as u64);
        self.send_response(OK);
        Ok(Exec::Done)
    }
}

impl Connection {
    /// Puts a publish's messages. With durable acks its `OK`, written next, is only flushed
    /// once the connection has awaited [`settle_acks`](Connection::settle_acks).
    fn put_publish(
        &mut self,
        topic: &Topic,
        bodies: &[Bytes],
        defer: Duration,
        kind: PubKind,
    ) -> Result<(), ProtocolError> {
        let put = topic.put_pending(bodies, defer, &mut self.acks.wait);
        if self.acks.first.is_none() && !self.acks.wait.is_empty() {
            self.acks.first = Some((self.wbuf.len(), kind));
        }
        put.map_err(|e| kind.failed(e))
    }

    /// Waits for the fsync every pending durable publish needs. On failure the answers from
    /// the first of them on are replaced by that publish's error frame, as if it had failed
    /// on its own, and false says the connection must close (the error is fatal).
    pub(super) async fn settle_acks(&mut self) -> bool {
        let Some((mark, kind)) = self.acks.first.take() else {
            return true;
        };
        let fresh = SyncWait::new(self.nsqd.health.clone());
        let wait = std::mem::replace(&mut self.acks.wait, fresh);
        match wait.wait().await {
            Ok(()) => true,
            Err(text) => {
                self.wbuf.truncate(mark);
                self.send_error(&kind.failed(PutError::Backend(text)));
                false
            }
        }
    }
}

/// Durable publishes run but not yet answered: everything their `OK`s wait for, and where in
/// the output buffer the first of those answers starts. A run of pipelined publishes shares
/// one wait (one fsync per queue), and nothing is flushed or run after them until it is over,
/// so answers stay in command order.
pub(super) struct PendingAcks {
    pub wait: SyncWait,
    pub first: Option<(usize, PubKind)>,
}

impl PendingAcks {
    pub fn new(health: Arc<crate::health::Health>) -> PendingAcks {
        PendingAcks {
            wait: SyncWait::new(health),
            first: None,
        }
    }

    pub fn is_pending(&self) -> bool {
        self.first.is_some()
    }
}

/// The publish command a failed put answers for.
#[derive(Clone, Copy)]
pub(super) enum PubKind {
    Pub,
    Mpub,
    Dpub,
}

impl PubKind {
    fn failed(self, e: PutError) -> ProtocolError {
        match self {
            PubKind::Pub => err::pub_failed(e),
            PubKind::Mpub => err::mpub_failed(e),
            PubKind::Dpub => err::dpub_failed(e),
        }
    }
}

/// Whether a command line is a publish, which may join a run of pending durable publishes.
pub(super) fn is_publish(cmd: &[u8]) -> bool {
    matches!(cmd, b"PUB" | b"MPUB" | b"DPUB")
}

/// What a command whose bytes stopped short reports; only called when the handler asked for
/// more bytes and the stream had ended.
pub(super) fn truncation_error(
    cmd: &[u8],
    rbuf: &[u8],
    line_len: usize,
    limits: &super::connection::Limits,
) -> ProtocolError {
    let have_size = rbuf.len() >= line_len + 4;
    match cmd {
        b"IDENTIFY" | b"AUTH" => {
            let name = if cmd == b"AUTH" { "AUTH" } else { "IDENTIFY" };
            if have_size {
                err::body_read_failed(name)
            } else {
                err::body_size_read_failed(name)
            }
        }
        b"MPUB" if have_size => {
            let payload = Bytes::copy_from_slice(&rbuf[line_len + 4..]);
            parse_mpub_payload(&payload, limits.max_msg_size, limits.max_body_size)
                .err()
                .unwrap_or_else(|| err::message_body_read_failed("MPUB"))
        }
        b"MPUB" => err::body_size_read_failed("MPUB"),
        _ => {
            let name = if cmd == b"DPUB" { "DPUB" } else { "PUB" };
            if have_size {
                err::message_body_read_failed(name)
            } else {
                err::message_size_read_failed(name)
            }
        }
    }
}

fn write_error(wbuf: &mut BytesMut, e: &ProtocolError) {
    nsq_protocol::frame::write_frame(
        wbuf,
        nsq_protocol::frame::FrameType::Error,
        e.frame_data().as_bytes(),
    );
}
