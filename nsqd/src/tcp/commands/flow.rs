//! RDY, FIN, REQ, TOUCH and CLS: a subscribed client's flow control and message outcomes.

use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use nsq_protocol::command::parse_uint;
use nsq_protocol::error::{self as err, ProtocolError};
use nsq_protocol::frame::CLOSE_WAIT;
use nsq_protocol::message::MessageId;

use super::{message_id, write_error, CmdResult};
use crate::client::{STATE_CLOSING, STATE_SUBSCRIBED};
use crate::tcp::connection::{Connection, Exec};

impl Connection {
    pub(super) fn rdy(
        &mut self,
        params: &[&[u8]],
        rbuf: &mut BytesMut,
        line_len: usize,
    ) -> CmdResult {
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

    pub(super) fn set_rdy(&mut self, count: i64) {
        self.rdy = count;
        self.client.ready_count.store(count, Ordering::Relaxed);
    }

    pub(super) fn in_flight_checks(
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

    pub(super) fn fin(
        &mut self,
        params: &[&[u8]],
        rbuf: &mut BytesMut,
        line_len: usize,
    ) -> CmdResult {
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
    pub(super) fn non_fatal(&mut self, e: ProtocolError) -> CmdResult {
        debug_assert!(!e.is_fatal());
        tracing::warn!("[{}] - {}", self.client.remote_address, e);
        write_error(&mut self.wbuf, &e);
        self.flush_now = true;
        Ok(Exec::Done)
    }

    pub(super) fn req(
        &mut self,
        params: &[&[u8]],
        rbuf: &mut BytesMut,
        line_len: usize,
    ) -> CmdResult {
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

    pub(super) fn touch(
        &mut self,
        params: &[&[u8]],
        rbuf: &mut BytesMut,
        line_len: usize,
    ) -> CmdResult {
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

    pub(super) fn cls(&mut self, rbuf: &mut BytesMut, line_len: usize) -> CmdResult {
        if self.state() != STATE_SUBSCRIBED {
            return Err(err::cannot_in_state("CLS"));
        }
        self.set_rdy(0);
        self.client.state.store(STATE_CLOSING, Ordering::Relaxed);
        rbuf.advance(line_len);
        self.send_response(CLOSE_WAIT);
        Ok(Exec::Done)
    }
}
