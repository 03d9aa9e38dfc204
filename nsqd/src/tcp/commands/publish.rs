//! PUB, MPUB and DPUB, and the durable acks that hold their `OK`s back until an fsync.

use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use nsq_protocol::command::{parse_mpub_payload, parse_uint};
use nsq_protocol::error::{self as err, ProtocolError};
use nsq_protocol::frame::OK;
use nsq_protocol::names::is_valid_topic_name;

use super::{as_name, body_size, take_body, CmdResult};
use crate::durable::SyncWait;
use crate::tcp::connection::{Connection, Exec};
use crate::topic::{PutError, Topic};

impl Connection {
    pub(super) fn topic_for_publish(&mut self, name: &str) -> Arc<Topic> {
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
    pub(super) fn message_body(
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

    pub(super) fn publish(
        &mut self,
        params: &[&[u8]],
        rbuf: &mut BytesMut,
        line_len: usize,
    ) -> CmdResult {
        if params.len() < 2 {
            return Err(err::insufficient_parameters("PUB"));
        }
        if !is_valid_topic_name(params[1]) {
            return Err(err::bad_topic("PUB", params[1]));
        }
        self.publish_one(
            "PUB",
            PubKind::Pub,
            params[1],
            rbuf,
            line_len,
            Duration::ZERO,
        )
    }

    pub(super) fn dpub(
        &mut self,
        params: &[&[u8]],
        rbuf: &mut BytesMut,
        line_len: usize,
    ) -> CmdResult {
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
        let defer = Duration::from_millis(ms);
        self.publish_one("DPUB", PubKind::Dpub, params[1], rbuf, line_len, defer)
    }

    /// The part PUB and DPUB share once their line is checked: the body (P-053/P-055), the
    /// auth check, the put and the `OK`.
    fn publish_one(
        &mut self,
        cmd: &str,
        kind: PubKind,
        topic_name: &[u8],
        rbuf: &mut BytesMut,
        line_len: usize,
        defer: Duration,
    ) -> CmdResult {
        let size = match self.message_body(cmd, rbuf, line_len)? {
            Ok(size) => size,
            Err(need) => return Ok(Exec::NeedMore(need)),
        };
        if let Some(wait) = self.check_auth(cmd, topic_name, b"")? {
            return Ok(wait);
        }
        let body = take_body(rbuf, line_len, size);
        let name = as_name(topic_name);
        let topic = self.topic_for_publish(name);
        self.put_publish(&topic, std::slice::from_ref(&body), defer, kind)?;
        self.client.count_publish(name, 1);
        self.send_response(OK);
        Ok(Exec::Done)
    }

    pub(super) fn mpub(
        &mut self,
        params: &[&[u8]],
        rbuf: &mut BytesMut,
        line_len: usize,
    ) -> CmdResult {
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
    pub(super) fn put_publish(
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
    pub(in crate::tcp) async fn settle_acks(&mut self) -> bool {
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
pub(in crate::tcp) struct PendingAcks {
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
pub(in crate::tcp) enum PubKind {
    Pub,
    Mpub,
    Dpub,
}

impl PubKind {
    pub(super) fn failed(self, e: PutError) -> ProtocolError {
        match self {
            PubKind::Pub => err::pub_failed(e),
            PubKind::Mpub => err::mpub_failed(e),
            PubKind::Dpub => err::dpub_failed(e),
        }
    }
}

/// Whether a command line is a publish, which may join a run of pending durable publishes.
pub(in crate::tcp) fn is_publish(cmd: &[u8]) -> bool {
    matches!(cmd, b"PUB" | b"MPUB" | b"DPUB")
}
