//! SUB: joining a channel.

use std::sync::atomic::Ordering;

use bytes::{Buf, BytesMut};
use nsq_protocol::error as err;
use nsq_protocol::frame::OK;
use nsq_protocol::names::{is_valid_channel_name, is_valid_topic_name};

use super::{as_name, CmdResult};
use crate::client::{STATE_INIT, STATE_SUBSCRIBED};
use crate::tcp::connection::{Connection, Exec};

impl Connection {
    pub(super) fn sub(
        &mut self,
        params: &[&[u8]],
        rbuf: &mut BytesMut,
        line_len: usize,
    ) -> CmdResult {
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
}
