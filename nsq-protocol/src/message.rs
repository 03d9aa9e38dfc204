//! Messages: the 26-byte header plus body, as sent in message frames and stored on disk
//! (P-020..P-025).

use bytes::{BufMut, Bytes, BytesMut};

use crate::frame::{FrameType, FRAME_HEADER_LEN};

/// A message ID: 16 ASCII hex bytes (P-021).
pub type MessageId = [u8; 16];

/// Length of a [`MessageId`].
pub const MESSAGE_ID_LEN: usize = 16;

/// `[8 timestamp][2 attempts][16 id]`, the part of a record before the body.
pub const MESSAGE_HEADER_LEN: usize = 26;

#[derive(Clone, Debug, PartialEq)]
pub struct Message {
    pub id: MessageId,
    /// Nanoseconds since the Unix epoch, set once at publish time (P-024).
    pub timestamp: i64,
    /// Delivery count; the server increments it before each send and lets it wrap (P-025).
    pub attempts: u16,
    pub body: Bytes,
}

/// A record too short to hold the message header.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("invalid message buffer size ({0})")]
    TooShort(usize),
}

impl Message {
    /// A fresh message, not yet delivered (attempts 0).
    pub fn new(id: MessageId, timestamp: i64, body: Bytes) -> Self {
        Message {
            id,
            timestamp,
            attempts: 0,
            body,
        }
    }

    /// Length of the record (header + body): the data of a message frame.
    pub fn record_len(&self) -> usize {
        MESSAGE_HEADER_LEN + self.body.len()
    }

    /// Append a complete message frame (`[size][type=2][ts][attempts][id][body]`) to `dst`.
    pub fn write_frame(&self, dst: &mut BytesMut) {
        let record_len = self.record_len();
        dst.reserve(FRAME_HEADER_LEN + record_len);
        dst.put_u32((record_len + 4) as u32);
        dst.put_i32(FrameType::Message as i32);
        self.put_record(dst);
    }

    /// Append the record `[8 ts][2 attempts][16 id][body]` used on disk and in frames.
    pub fn write_record(&self, dst: &mut BytesMut) {
        dst.reserve(self.record_len());
        self.put_record(dst);
    }

    fn put_record(&self, dst: &mut BytesMut) {
        dst.put_i64(self.timestamp);
        dst.put_u16(self.attempts);
        dst.put_slice(&self.id);
        dst.put_slice(&self.body);
    }

    /// Parse a record. The body shares `record`'s memory.
    pub fn decode_record(record: Bytes) -> Result<Message, DecodeError> {
        if record.len() < MESSAGE_HEADER_LEN {
            return Err(DecodeError::TooShort(record.len()));
        }
        let mut ts = [0u8; 8];
        ts.copy_from_slice(&record[0..8]);
        let mut id = [0u8; MESSAGE_ID_LEN];
        id.copy_from_slice(&record[10..MESSAGE_HEADER_LEN]);
        Ok(Message {
            id,
            timestamp: i64::from_be_bytes(ts),
            attempts: u16::from_be_bytes([record[8], record[9]]),
            body: record.slice(MESSAGE_HEADER_LEN..),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Message {
        Message {
            id: *b"18a4d2c525269000",
            timestamp: 0x0102_0304_0506_0708,
            attempts: 0x0a0b,
            body: Bytes::from_static(b"hello"),
        }
    }

    #[test]
    fn record_layout() {
        let mut b = BytesMut::new();
        sample().write_record(&mut b);
        let mut want = Vec::new();
        want.extend_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8]);
        want.extend_from_slice(&[0x0a, 0x0b]);
        want.extend_from_slice(b"18a4d2c525269000");
        want.extend_from_slice(b"hello");
        assert_eq!(&b[..], want.as_slice());
        assert_eq!(b.len(), MESSAGE_HEADER_LEN + 5);
    }

    #[test]
    fn frame_layout() {
        let mut b = BytesMut::from(&b"prefix"[..]);
        sample().write_frame(&mut b);
        let mut rec = BytesMut::new();
        sample().write_record(&mut rec);
        let mut want = b"prefix".to_vec();
        want.extend_from_slice(&(4 + 26 + 5u32).to_be_bytes());
        want.extend_from_slice(&2i32.to_be_bytes());
        want.extend_from_slice(&rec);
        assert_eq!(&b[..], want.as_slice());
    }

    #[test]
    fn decode_roundtrip_is_zero_copy() {
        let mut b = BytesMut::new();
        sample().write_record(&mut b);
        let record = b.freeze();
        let m = Message::decode_record(record.clone()).unwrap();
        assert_eq!(m, sample());
        assert_eq!(m.body.as_ptr(), record[26..].as_ptr());
    }

    #[test]
    fn decode_minimum_and_short() {
        let m = Message::decode_record(Bytes::from(vec![0u8; 26])).unwrap();
        assert!(m.body.is_empty());
        let err = Message::decode_record(Bytes::from(vec![0u8; 25])).unwrap_err();
        assert_eq!(err, DecodeError::TooShort(25));
        assert_eq!(err.to_string(), "invalid message buffer size (25)");
    }

    #[test]
    fn negative_timestamp_and_wrapped_attempts_roundtrip() {
        let mut m = sample();
        m.timestamp = -1;
        m.attempts = u16::MAX;
        let mut b = BytesMut::new();
        m.write_record(&mut b);
        assert_eq!(Message::decode_record(b.freeze()).unwrap(), m);
    }
}
