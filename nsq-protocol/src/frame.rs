//! Server→client framing: `[4-byte BE size][4-byte BE frame type][data]` (P-010..P-015).

use bytes::{BufMut, BytesMut};

use crate::error::ProtocolError;

/// The three frame types (P-011).
#[repr(i32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameType {
    Response = 0,
    Error = 1,
    Message = 2,
}

impl FrameType {
    pub fn from_i32(value: i32) -> Option<FrameType> {
        match value {
            0 => Some(FrameType::Response),
            1 => Some(FrameType::Error),
            2 => Some(FrameType::Message),
            _ => None,
        }
    }
}

/// Response data of a heartbeat (P-013).
pub const HEARTBEAT: &[u8] = b"_heartbeat_";
/// Response data of a successful command (P-014).
pub const OK: &[u8] = b"OK";
/// Response data of CLS (P-014).
pub const CLOSE_WAIT: &[u8] = b"CLOSE_WAIT";

/// Bytes of the size and frame-type fields that precede the data.
pub const FRAME_HEADER_LEN: usize = 8;

/// A 32-bit size that spells `HTTP`: the peer is an HTTP server, not nsqd's TCP port.
const HTTP_SIZE: i32 = i32::from_be_bytes(*b"HTTP");

/// Append one frame to `dst`. The size field counts the frame type but not itself.
pub fn write_frame(dst: &mut BytesMut, frame_type: FrameType, data: &[u8]) {
    dst.reserve(FRAME_HEADER_LEN + data.len());
    dst.put_u32((data.len() + 4) as u32);
    dst.put_i32(frame_type as i32);
    dst.put_slice(data);
}

/// Append the error frame for `err` (data `<CODE> <desc>`) without building the text first.
pub fn write_error_frame(dst: &mut BytesMut, err: &ProtocolError) {
    let len = err.frame_data_len();
    dst.reserve(FRAME_HEADER_LEN + len);
    dst.put_u32((len + 4) as u32);
    dst.put_i32(FrameType::Error as i32);
    dst.put_slice(err.code.as_str().as_bytes());
    if !err.desc.is_empty() {
        dst.put_u8(b' ');
        dst.put_slice(err.desc.as_bytes());
    }
}

/// Why a frame header could not be accepted (client side).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The size field cannot even hold the frame type (negative or under 4).
    #[error("invalid frame size {0}")]
    BadSize(i32),
    /// The size field is above the caller's limit.
    #[error("frame size {size} exceeds max {max}")]
    TooBig { size: usize, max: usize },
    /// The size field spells `HTTP`.
    #[error("unexpected HTTP response, a nsqd TCP endpoint is required")]
    HttpResponse,
}

/// A decoded frame: `(frame_type, data, bytes consumed from the buffer)`.
pub type DecodedFrame<'a> = (i32, &'a [u8], usize);

/// Client side: decode one frame from the front of `buf` if it is complete.
///
/// Returns `(frame_type, data, consumed)`; `Ok(None)` means more bytes are needed. `max_size`
/// bounds the size field (frame type + data); 0 means no limit.
pub fn decode_frame(buf: &[u8], max_size: usize) -> Result<Option<DecodedFrame<'_>>, FrameError> {
    let Some(size_bytes) = buf.get(..4) else {
        return Ok(None);
    };
    let size = i32::from_be_bytes([size_bytes[0], size_bytes[1], size_bytes[2], size_bytes[3]]);
    if size == HTTP_SIZE {
        return Err(FrameError::HttpResponse);
    }
    if size < 4 {
        return Err(FrameError::BadSize(size));
    }
    let size = size as usize;
    if max_size > 0 && size > max_size {
        return Err(FrameError::TooBig {
            size,
            max: max_size,
        });
    }
    let total = 4 + size;
    let Some(frame) = buf.get(4..total) else {
        return Ok(None);
    };
    let frame_type = i32::from_be_bytes([frame[0], frame[1], frame[2], frame[3]]);
    Ok(Some((frame_type, &frame[4..], total)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{bad_protocol, invalid_message_id};

    fn frame(t: FrameType, data: &[u8]) -> Vec<u8> {
        let mut b = BytesMut::new();
        write_frame(&mut b, t, data);
        b.to_vec()
    }

    #[test]
    fn ok_frame_bytes() {
        assert_eq!(
            frame(FrameType::Response, OK),
            b"\x00\x00\x00\x06\x00\x00\x00\x00OK"
        );
    }

    #[test]
    fn heartbeat_and_close_wait_bytes() {
        assert_eq!(
            frame(FrameType::Response, HEARTBEAT),
            b"\x00\x00\x00\x0f\x00\x00\x00\x00_heartbeat_"
        );
        assert_eq!(
            frame(FrameType::Response, CLOSE_WAIT),
            b"\x00\x00\x00\x0e\x00\x00\x00\x00CLOSE_WAIT"
        );
    }

    #[test]
    fn error_frame_bytes() {
        assert_eq!(
            frame(FrameType::Error, b"E_BAD_PROTOCOL"),
            b"\x00\x00\x00\x12\x00\x00\x00\x01E_BAD_PROTOCOL"
        );
        let mut b = BytesMut::new();
        write_error_frame(&mut b, &bad_protocol());
        assert_eq!(&b[..], b"\x00\x00\x00\x12\x00\x00\x00\x01E_BAD_PROTOCOL");

        let mut b = BytesMut::new();
        write_error_frame(&mut b, &invalid_message_id());
        assert_eq!(
            &b[..],
            frame(FrameType::Error, b"E_INVALID invalid message ID").as_slice()
        );
    }

    #[test]
    fn empty_data_frame() {
        assert_eq!(
            frame(FrameType::Message, b""),
            b"\x00\x00\x00\x04\x00\x00\x00\x02"
        );
    }

    #[test]
    fn decode_roundtrip_and_partial() {
        let mut all = frame(FrameType::Response, OK);
        all.extend(frame(FrameType::Error, b"E_INVALID x"));
        let (t, data, used) = decode_frame(&all, 0).unwrap().unwrap();
        assert_eq!((t, data, used), (0, &b"OK"[..], 10));
        let (t, data, used2) = decode_frame(&all[used..], 1024).unwrap().unwrap();
        assert_eq!((t, data), (1, &b"E_INVALID x"[..]));
        assert_eq!(used + used2, all.len());
        for cut in 0..10 {
            assert_eq!(decode_frame(&all[..cut], 0), Ok(None), "cut {cut}");
        }
    }

    #[test]
    fn decode_rejects_bad_sizes() {
        assert_eq!(
            decode_frame(b"\xff\xff\xff\xff", 0),
            Err(FrameError::BadSize(-1))
        );
        assert_eq!(
            decode_frame(b"\x00\x00\x00\x03abc", 0),
            Err(FrameError::BadSize(3))
        );
        assert_eq!(
            decode_frame(b"\x00\x00\x01\x00", 100),
            Err(FrameError::TooBig {
                size: 256,
                max: 100
            })
        );
        assert_eq!(
            decode_frame(b"HTTP/1.1 400", 0),
            Err(FrameError::HttpResponse)
        );
    }

    #[test]
    fn frame_type_values() {
        assert_eq!(FrameType::Response as i32, 0);
        assert_eq!(FrameType::Error as i32, 1);
        assert_eq!(FrameType::Message as i32, 2);
        assert_eq!(FrameType::from_i32(2), Some(FrameType::Message));
        assert_eq!(FrameType::from_i32(3), None);
    }
}
