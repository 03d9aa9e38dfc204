//! Error codes and the exact error texts a V2 client can receive (spec §1.11, §1.12).
//!
//! Every text with a variable part has a constructor here, so the daemon never formats an
//! error string itself. Raw client bytes (`%s` in the reference) are rendered as lossy UTF-8;
//! names shown with `%q` go through [`go_quote`].

use std::fmt;

use crate::quote::go_quote;

/// The `E_*` codes that open every error frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    BadProtocol,
    Invalid,
    BadBody,
    BadTopic,
    BadChannel,
    BadMessage,
    PubFailed,
    MpubFailed,
    DpubFailed,
    FinFailed,
    ReqFailed,
    TouchFailed,
    SubFailed,
    IdentifyFailed,
    AuthFailed,
    AuthDisabled,
    Unauthorized,
    AuthFirst,
    AuthError,
}

impl ErrorCode {
    /// The code as it appears on the wire, e.g. `E_INVALID`.
    pub fn as_str(&self) -> &'static str {
        match self {
            ErrorCode::BadProtocol => "E_BAD_PROTOCOL",
            ErrorCode::Invalid => "E_INVALID",
            ErrorCode::BadBody => "E_BAD_BODY",
            ErrorCode::BadTopic => "E_BAD_TOPIC",
            ErrorCode::BadChannel => "E_BAD_CHANNEL",
            ErrorCode::BadMessage => "E_BAD_MESSAGE",
            ErrorCode::PubFailed => "E_PUB_FAILED",
            ErrorCode::MpubFailed => "E_MPUB_FAILED",
            ErrorCode::DpubFailed => "E_DPUB_FAILED",
            ErrorCode::FinFailed => "E_FIN_FAILED",
            ErrorCode::ReqFailed => "E_REQ_FAILED",
            ErrorCode::TouchFailed => "E_TOUCH_FAILED",
            ErrorCode::SubFailed => "E_SUB_FAILED",
            ErrorCode::IdentifyFailed => "E_IDENTIFY_FAILED",
            ErrorCode::AuthFailed => "E_AUTH_FAILED",
            ErrorCode::AuthDisabled => "E_AUTH_DISABLED",
            ErrorCode::Unauthorized => "E_UNAUTHORIZED",
            ErrorCode::AuthFirst => "E_AUTH_FIRST",
            ErrorCode::AuthError => "E_AUTH_ERROR",
        }
    }

    /// Fatal errors close the connection after the error frame (P-110). Only the three
    /// per-message failures leave it open, so a consumer survives a late FIN/REQ/TOUCH.
    pub fn is_fatal(&self) -> bool {
        !matches!(
            self,
            ErrorCode::FinFailed | ErrorCode::ReqFailed | ErrorCode::TouchFailed
        )
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error answered to a client. `Display` is the exact error-frame data `<CODE> <desc>`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}", FrameText::new(.code, .desc))]
pub struct ProtocolError {
    pub code: ErrorCode,
    pub desc: String,
}

/// Renders `<CODE> <desc>`, or the bare code when there is no description (E_BAD_PROTOCOL).
struct FrameText<'a> {
    code: ErrorCode,
    desc: &'a str,
}

impl<'a> FrameText<'a> {
    fn new(code: &ErrorCode, desc: &'a str) -> Self {
        FrameText { code: *code, desc }
    }
}

impl fmt::Display for FrameText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code.as_str())?;
        if !self.desc.is_empty() {
            f.write_str(" ")?;
            f.write_str(self.desc)?;
        }
        Ok(())
    }
}

impl ProtocolError {
    pub fn new(code: ErrorCode, desc: impl Into<String>) -> Self {
        ProtocolError {
            code,
            desc: desc.into(),
        }
    }

    pub fn is_fatal(&self) -> bool {
        self.code.is_fatal()
    }

    /// The data of the error frame, e.g. `E_INVALID invalid command FOO`.
    pub fn frame_data(&self) -> String {
        self.to_string()
    }

    /// Length in bytes of [`Self::frame_data`], without building it.
    pub fn frame_data_len(&self) -> usize {
        let code = self.code.as_str().len();
        if self.desc.is_empty() {
            code
        } else {
            code + 1 + self.desc.len()
        }
    }
}

fn lossy(bytes: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(bytes)
}

fn invalid(desc: impl Into<String>) -> ProtocolError {
    ProtocolError::new(ErrorCode::Invalid, desc)
}

// ---- common (P-002, P-120) ----

/// The only error sent for a wrong protocol magic: the bare code, no description.
pub fn bad_protocol() -> ProtocolError {
    ProtocolError::new(ErrorCode::BadProtocol, "")
}

/// `E_INVALID invalid command <name>` for an unknown command name (raw bytes).
pub fn invalid_command(name: &[u8]) -> ProtocolError {
    invalid(format!("invalid command {}", lossy(name)))
}

/// `E_INVALID cannot <CMD> in current state (TLS required)`; `cmd` is the raw first token,
/// which may be empty for an empty line.
pub fn tls_required(cmd: &[u8]) -> ProtocolError {
    invalid(format!(
        "cannot {} in current state (TLS required)",
        lossy(cmd)
    ))
}

/// `E_INVALID invalid message ID` (FIN/REQ/TOUCH id not exactly 16 bytes).
pub fn invalid_message_id() -> ProtocolError {
    invalid("invalid message ID")
}

/// `E_INVALID cannot <CMD> in current state` (IDENTIFY, AUTH, SUB, RDY, FIN, REQ, TOUCH, CLS).
pub fn cannot_in_state(cmd: &str) -> ProtocolError {
    invalid(format!("cannot {cmd} in current state"))
}

/// `E_INVALID <CMD> insufficient number of parameters` (SUB, PUB, MPUB, DPUB).
pub fn insufficient_parameters(cmd: &str) -> ProtocolError {
    invalid(format!("{cmd} insufficient number of parameters"))
}

/// `E_INVALID <CMD> insufficient number of params` (FIN, REQ, TOUCH say "params").
pub fn insufficient_params(cmd: &str) -> ProtocolError {
    invalid(format!("{cmd} insufficient number of params"))
}

// ---- body framing shared by IDENTIFY, AUTH and MPUB (E_BAD_BODY) ----

/// `E_BAD_BODY <CMD> failed to read body size`.
pub fn body_size_read_failed(cmd: &str) -> ProtocolError {
    ProtocolError::new(
        ErrorCode::BadBody,
        format!("{cmd} failed to read body size"),
    )
}

/// `E_BAD_BODY <CMD> body too big <n> > <max>`.
pub fn body_too_big(cmd: &str, size: i64, max: i64) -> ProtocolError {
    ProtocolError::new(
        ErrorCode::BadBody,
        format!("{cmd} body too big {size} > {max}"),
    )
}

/// `E_BAD_BODY <CMD> invalid body size <n>`.
pub fn invalid_body_size(cmd: &str, size: i64) -> ProtocolError {
    ProtocolError::new(
        ErrorCode::BadBody,
        format!("{cmd} invalid body size {size}"),
    )
}

/// `E_BAD_BODY <CMD> failed to read body` (IDENTIFY, AUTH).
pub fn body_read_failed(cmd: &str) -> ProtocolError {
    ProtocolError::new(ErrorCode::BadBody, format!("{cmd} failed to read body"))
}

// ---- IDENTIFY (P-121) ----

/// `E_BAD_BODY IDENTIFY failed to decode JSON body`.
pub fn identify_decode_failed() -> ProtocolError {
    ProtocolError::new(ErrorCode::BadBody, "IDENTIFY failed to decode JSON body")
}

/// `E_BAD_BODY IDENTIFY heartbeat interval (<n>) is invalid`.
pub fn identify_heartbeat_invalid(ms: i64) -> ProtocolError {
    identify_field_invalid("heartbeat interval", ms)
}

/// `E_BAD_BODY IDENTIFY output buffer timeout (<n>) is invalid`.
pub fn identify_output_buffer_timeout_invalid(ms: i64) -> ProtocolError {
    identify_field_invalid("output buffer timeout", ms)
}

/// `E_BAD_BODY IDENTIFY output buffer size (<n>) is invalid`.
pub fn identify_output_buffer_size_invalid(size: i64) -> ProtocolError {
    identify_field_invalid("output buffer size", size)
}

/// `E_BAD_BODY IDENTIFY sample rate (<n>) is invalid`.
pub fn identify_sample_rate_invalid(rate: i64) -> ProtocolError {
    identify_field_invalid("sample rate", rate)
}

/// `E_BAD_BODY IDENTIFY msg timeout (<n>) is invalid`.
pub fn identify_msg_timeout_invalid(ms: i64) -> ProtocolError {
    identify_field_invalid("msg timeout", ms)
}

fn identify_field_invalid(what: &str, value: i64) -> ProtocolError {
    ProtocolError::new(
        ErrorCode::BadBody,
        format!("IDENTIFY {what} ({value}) is invalid"),
    )
}

/// `E_IDENTIFY_FAILED cannot enable both deflate and snappy compression` (P-072).
pub fn identify_both_compressions() -> ProtocolError {
    ProtocolError::new(
        ErrorCode::IdentifyFailed,
        "cannot enable both deflate and snappy compression",
    )
}

/// `E_IDENTIFY_FAILED IDENTIFY failed <err>` (send or upgrade failure, P-081).
pub fn identify_failed(err: impl fmt::Display) -> ProtocolError {
    ProtocolError::new(ErrorCode::IdentifyFailed, format!("IDENTIFY failed {err}"))
}

// ---- AUTH (P-122, P-123) ----

/// `E_INVALID AUTH invalid number of parameters`.
pub fn auth_invalid_parameters() -> ProtocolError {
    invalid("AUTH invalid number of parameters")
}

/// `E_INVALID AUTH already set`.
pub fn auth_already_set() -> ProtocolError {
    invalid("AUTH already set")
}

/// `E_AUTH_DISABLED AUTH disabled`.
pub fn auth_disabled() -> ProtocolError {
    ProtocolError::new(ErrorCode::AuthDisabled, "AUTH disabled")
}

/// `E_AUTH_FAILED AUTH failed` (the auth server's own error never reaches the client).
pub fn auth_failed() -> ProtocolError {
    ProtocolError::new(ErrorCode::AuthFailed, "AUTH failed")
}

/// `E_UNAUTHORIZED AUTH no authorizations found`.
pub fn auth_no_authorizations() -> ProtocolError {
    ProtocolError::new(ErrorCode::Unauthorized, "AUTH no authorizations found")
}

/// `E_AUTH_ERROR AUTH error <err>`.
pub fn auth_error(err: impl fmt::Display) -> ProtocolError {
    ProtocolError::new(ErrorCode::AuthError, format!("AUTH error {err}"))
}

/// `E_AUTH_FIRST AUTH required before <CMD>` (SUB, PUB, MPUB, DPUB).
pub fn auth_first(cmd: &str) -> ProtocolError {
    ProtocolError::new(ErrorCode::AuthFirst, format!("AUTH required before {cmd}"))
}

/// `E_UNAUTHORIZED AUTH failed for <CMD> on "<topic>" "<channel>"`; channel is empty for
/// publishes.
pub fn unauthorized(cmd: &str, topic: &[u8], channel: &[u8]) -> ProtocolError {
    ProtocolError::new(
        ErrorCode::Unauthorized,
        format!(
            "AUTH failed for {cmd} on {} {}",
            go_quote(topic),
            go_quote(channel)
        ),
    )
}

// ---- SUB (P-124) ----

/// `E_INVALID cannot SUB with heartbeats disabled`.
pub fn sub_heartbeats_disabled() -> ProtocolError {
    invalid("cannot SUB with heartbeats disabled")
}

/// `E_BAD_TOPIC <CMD> topic name "<name>" is not valid`.
///
/// For MPUB the reference doubles the code inside the description (QRK-02, replicated), so
/// the frame reads `E_BAD_TOPIC E_BAD_TOPIC MPUB topic name ...`.
pub fn bad_topic(cmd: &str, name: &[u8]) -> ProtocolError {
    let prefix = if cmd == "MPUB" { "E_BAD_TOPIC " } else { "" };
    ProtocolError::new(
        ErrorCode::BadTopic,
        format!("{prefix}{cmd} topic name {} is not valid", go_quote(name)),
    )
}

/// `E_BAD_CHANNEL <CMD> channel name "<name>" is not valid`.
pub fn bad_channel(cmd: &str, name: &[u8]) -> ProtocolError {
    ProtocolError::new(
        ErrorCode::BadChannel,
        format!("{cmd} channel name {} is not valid", go_quote(name)),
    )
}

/// `E_SUB_FAILED SUB failed <err>`; `err` is e.g. `exiting` or [`consumers_limit_reason`].
pub fn sub_failed(err: impl fmt::Display) -> ProtocolError {
    ProtocolError::new(ErrorCode::SubFailed, format!("SUB failed {err}"))
}

/// `E_SUB_FAILED SUB failed to deleted topic/channel` (sic), after the ephemeral retry.
pub fn sub_failed_deleted() -> ProtocolError {
    ProtocolError::new(ErrorCode::SubFailed, "SUB failed to deleted topic/channel")
}

/// The reason text when `--max-channel-consumers` is reached, for [`sub_failed`].
pub fn consumers_limit_reason(topic: &str, channel: &str, limit: i64) -> String {
    format!("consumers for {topic}:{channel} exceeds limit of {limit}")
}

// ---- RDY (P-125) ----

/// `E_INVALID RDY could not parse count <raw>`.
pub fn rdy_parse_failed(count: &[u8]) -> ProtocolError {
    invalid(format!("RDY could not parse count {}", lossy(count)))
}

/// `E_INVALID RDY count <n> out of range 0-<max>`.
pub fn rdy_out_of_range(count: i64, max: i64) -> ProtocolError {
    invalid(format!("RDY count {count} out of range 0-{max}"))
}

// ---- FIN / REQ / TOUCH (P-126) ----

/// `E_INVALID REQ could not parse timeout <raw>`.
pub fn req_parse_failed(timeout: &[u8]) -> ProtocolError {
    invalid(format!("REQ could not parse timeout {}", lossy(timeout)))
}

/// Reasons carried by FIN/REQ/TOUCH failures.
pub const REASON_NOT_IN_FLIGHT: &str = "ID not in flight";
pub const REASON_NOT_OWNER: &str = "client does not own message";
pub const REASON_EXITING: &str = "exiting";
pub const REASON_ALREADY_DEFERRED: &str = "ID already deferred";

/// `E_FIN_FAILED FIN <id> failed <reason>` (non-fatal).
pub fn fin_failed(id: &[u8], reason: impl fmt::Display) -> ProtocolError {
    ProtocolError::new(
        ErrorCode::FinFailed,
        format!("FIN {} failed {reason}", lossy(id)),
    )
}

/// `E_REQ_FAILED REQ <id> failed <reason>` (non-fatal).
pub fn req_failed(id: &[u8], reason: impl fmt::Display) -> ProtocolError {
    ProtocolError::new(
        ErrorCode::ReqFailed,
        format!("REQ {} failed {reason}", lossy(id)),
    )
}

/// `E_TOUCH_FAILED TOUCH <id> failed <reason>` (non-fatal).
pub fn touch_failed(id: &[u8], reason: impl fmt::Display) -> ProtocolError {
    ProtocolError::new(
        ErrorCode::TouchFailed,
        format!("TOUCH {} failed {reason}", lossy(id)),
    )
}

// ---- PUB / DPUB / MPUB message bodies (P-128..P-130, E_BAD_MESSAGE) ----

/// `E_BAD_MESSAGE <CMD> failed to read message body size` (PUB, DPUB).
pub fn message_size_read_failed(cmd: &str) -> ProtocolError {
    ProtocolError::new(
        ErrorCode::BadMessage,
        format!("{cmd} failed to read message body size"),
    )
}

/// `E_BAD_MESSAGE <CMD> invalid message body size <n>` (PUB, DPUB).
pub fn invalid_message_size(cmd: &str, size: i64) -> ProtocolError {
    ProtocolError::new(
        ErrorCode::BadMessage,
        format!("{cmd} invalid message body size {size}"),
    )
}

/// `E_BAD_MESSAGE <CMD> message too big <n> > <max>` (PUB, DPUB, each MPUB message).
pub fn message_too_big(cmd: &str, size: i64, max: i64) -> ProtocolError {
    ProtocolError::new(
        ErrorCode::BadMessage,
        format!("{cmd} message too big {size} > {max}"),
    )
}

/// `E_BAD_MESSAGE <CMD> failed to read message body` (PUB, DPUB, MPUB).
pub fn message_body_read_failed(cmd: &str) -> ProtocolError {
    ProtocolError::new(
        ErrorCode::BadMessage,
        format!("{cmd} failed to read message body"),
    )
}

/// `E_BAD_BODY MPUB failed to read message count`.
pub fn mpub_count_read_failed() -> ProtocolError {
    ProtocolError::new(ErrorCode::BadBody, "MPUB failed to read message count")
}

/// `E_BAD_BODY MPUB invalid message count <n>`.
pub fn mpub_invalid_count(count: i64) -> ProtocolError {
    ProtocolError::new(
        ErrorCode::BadBody,
        format!("MPUB invalid message count {count}"),
    )
}

/// `E_BAD_MESSAGE MPUB failed to read message(<i>) body size` (0-based index).
pub fn mpub_message_size_read_failed(index: i64) -> ProtocolError {
    ProtocolError::new(
        ErrorCode::BadMessage,
        format!("MPUB failed to read message({index}) body size"),
    )
}

/// `E_BAD_MESSAGE MPUB invalid message(<i>) body size <n>` (0-based index).
pub fn mpub_invalid_message_size(index: i64, size: i64) -> ProtocolError {
    ProtocolError::new(
        ErrorCode::BadMessage,
        format!("MPUB invalid message({index}) body size {size}"),
    )
}

/// `E_PUB_FAILED PUB failed <err>`.
pub fn pub_failed(err: impl fmt::Display) -> ProtocolError {
    ProtocolError::new(ErrorCode::PubFailed, format!("PUB failed {err}"))
}

/// `E_MPUB_FAILED MPUB failed <err>`.
pub fn mpub_failed(err: impl fmt::Display) -> ProtocolError {
    ProtocolError::new(ErrorCode::MpubFailed, format!("MPUB failed {err}"))
}

/// `E_DPUB_FAILED DPUB failed <err>`.
pub fn dpub_failed(err: impl fmt::Display) -> ProtocolError {
    ProtocolError::new(ErrorCode::DpubFailed, format!("DPUB failed {err}"))
}

/// `E_INVALID DPUB could not parse timeout <raw>`.
pub fn dpub_parse_failed(timeout: &[u8]) -> ProtocolError {
    invalid(format!("DPUB could not parse timeout {}", lossy(timeout)))
}

/// `E_INVALID DPUB timeout <ms> out of range 0-<max_ms>`.
pub fn dpub_timeout_out_of_range(ms: i64, max_ms: i64) -> ProtocolError {
    invalid(format!("DPUB timeout {ms} out of range 0-{max_ms}"))
}

#[cfg(test)]
mod tests;
