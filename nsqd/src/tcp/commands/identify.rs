//! IDENTIFY: feature negotiation (P-080).

use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::BytesMut;
use nsq_protocol::error as err;
use nsq_protocol::frame::OK;
use nsq_protocol::identify::{negotiate_from, parse_identify_body, response_json, ServerLimits};

use super::{body_size, take_body, CmdResult};
use crate::client::STATE_INIT;
use crate::options::Options;
use crate::tcp::connection::{Connection, Exec, Upgrade};

pub(in crate::tcp) fn identify_limits(opts: &Options) -> ServerLimits {
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

impl Connection {
    pub(super) fn identify(&mut self, rbuf: &mut BytesMut, line_len: usize) -> CmdResult {
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
}
