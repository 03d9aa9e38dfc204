//! Errors of the client library.

use std::fmt;

/// An error frame from nsqd, split into its NSQ code (`E_BAD_TOPIC`, ...) and description.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NsqError {
    pub code: String,
    pub desc: String,
}

impl NsqError {
    /// Splits the data of an error frame at its first space.
    pub fn from_frame(data: &[u8]) -> NsqError {
        let text = String::from_utf8_lossy(data);
        match text.split_once(' ') {
            Some((code, desc)) => NsqError {
                code: code.to_string(),
                desc: desc.to_string(),
            },
            None => NsqError {
                code: text.into_owned(),
                desc: String::new(),
            },
        }
    }

    /// nsqd closes the connection after these (P- fatal errors); the others leave it usable.
    pub fn is_fatal(&self) -> bool {
        !matches!(
            self.code.as_str(),
            "E_FIN_FAILED" | "E_REQ_FAILED" | "E_TOUCH_FAILED"
        )
    }
}

impl fmt::Display for NsqError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.desc.is_empty() {
            f.write_str(&self.code)
        } else {
            write!(f, "{} {}", self.code, self.desc)
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// nsqd answered with an error frame.
    #[error("{0}")]
    Nsq(NsqError),
    #[error("{0}")]
    Frame(#[from] nsq_protocol::frame::FrameError),
    #[error("invalid message: {0}")]
    Message(#[from] nsq_protocol::message::DecodeError),
    #[error("snappy: {0}")]
    Snappy(#[from] nsq_protocol::snappy::SnappyError),
    #[error("deflate: {0}")]
    Deflate(#[from] nsq_protocol::deflate::DeflateError),
    #[error("tls: {0}")]
    Tls(String),
    #[error("dial {addr} timed out")]
    DialTimeout { addr: String },
    #[error("no data from nsqd for {0:?}")]
    ReadTimeout(std::time::Duration),
    #[error("unknown frame type {0}")]
    UnknownFrameType(i32),
    /// The server's answer to a handshake step was not what the protocol prescribes.
    #[error("{0}")]
    Handshake(String),
    #[error("Auth Required")]
    AuthRequired,
    #[error("Error authenticating {0}")]
    Auth(String),
    #[error("connection closed")]
    Closed,
    #[error("producer stopped")]
    Stopped,
    #[error("invalid {what}: {value:?}")]
    InvalidName { what: &'static str, value: String },
    #[error("invalid config: {0}")]
    Config(String),
    #[error("lookupd: {0}")]
    Lookupd(String),
}

impl Error {
    /// The NSQ error code when nsqd answered with an error frame.
    pub fn nsq_code(&self) -> Option<&str> {
        match self {
            Error::Nsq(e) => Some(&e.code),
            _ => None,
        }
    }
}
