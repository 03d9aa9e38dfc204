//! The twelve V2 commands, each checking its arguments in the reference's order (§1.6) and
//! answering with the exact frames of §1.12. Handlers run synchronously against the read buffer:
//! when a body has not fully arrived they ask for more bytes and are run again from the start,
//! which is safe because nothing before the body has side effects beyond idempotent topic
//! creation.

mod auth;
mod flow;
mod identify;
mod publish;
mod sub;

use std::sync::atomic::Ordering;

use bytes::{Buf, Bytes, BytesMut};
use nsq_protocol::command::{parse_mpub_payload, read_i32};
use nsq_protocol::error::{self as err, ProtocolError};
use nsq_protocol::message::MessageId;

use super::connection::{Connection, Exec};

type CmdResult = Result<Exec, ProtocolError>;

pub(super) use auth::PendingAuth;
pub(super) use identify::identify_limits;
pub(super) use publish::{is_publish, PendingAcks};

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
