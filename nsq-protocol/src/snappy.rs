//! The snappy framing format, as negotiated by IDENTIFY `snappy` (P-080 step 2).
//!
//! A stream is a sequence of chunks `[1-byte type][3-byte LE length][data]`. It starts with the
//! stream identifier chunk (`0xff`, `sNaPpY`); data travels in compressed (`0x00`) or
//! uncompressed (`0x01`) chunks of at most 64 KiB of payload, each led by the masked CRC-32C
//! of its uncompressed bytes. Padding and the other skippable types (`0x80..=0xfe`) are ignored;
//! the reserved unskippable types (`0x02..=0x7f`) are an error.
//!
//! Both halves work on byte buffers so the connection can keep parsing commands in place: the
//! encoder appends whole chunks to an output buffer, and the decoder takes every complete chunk
//! off the front of its input and leaves a partial one for the next call.

use bytes::{Buf, BytesMut};

/// The most uncompressed bytes one chunk may carry.
pub const MAX_BLOCK_SIZE: usize = 65536;

const CHUNK_COMPRESSED: u8 = 0x00;
const CHUNK_UNCOMPRESSED: u8 = 0x01;
const CHUNK_STREAM_ID: u8 = 0xff;
const STREAM_ID: &[u8; 10] = b"\xff\x06\x00\x00sNaPpY";
const HEADER_LEN: usize = 4;
const CHECKSUM_LEN: usize = 4;

/// Why a snappy stream could not be decoded; the texts are those of Go's snappy package.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SnappyError {
    /// Bad framing, bad compressed data, or a checksum mismatch.
    #[error("snappy: corrupt input")]
    Corrupt,
    /// A reserved unskippable chunk type, or a chunk longer than any valid one.
    #[error("snappy: unsupported input")]
    Unsupported,
}

/// The CRC-32C of `data`, masked as the framing format requires (so that a CRC of data that
/// itself contains CRCs does not degenerate).
pub fn masked_crc(data: &[u8]) -> u32 {
    let crc = crc32c::crc32c(data);
    crc.rotate_right(15).wrapping_add(0xa282_ead8)
}

fn max_chunk_len() -> usize {
    CHECKSUM_LEN + snap::raw::max_compress_len(MAX_BLOCK_SIZE)
}

fn push_header(out: &mut Vec<u8>, chunk_type: u8, len: usize) {
    let len = len as u32;
    out.push(chunk_type);
    out.extend_from_slice(&len.to_le_bytes()[..3]);
}

/// Turns plain bytes into snappy-framed chunks.
pub struct SnappyEncoder {
    wrote_stream_id: bool,
    raw: snap::raw::Encoder,
    scratch: Vec<u8>,
}

impl Default for SnappyEncoder {
    fn default() -> Self {
        Self::new()
    }
}

impl SnappyEncoder {
    pub fn new() -> Self {
        SnappyEncoder {
            wrote_stream_id: false,
            raw: snap::raw::Encoder::new(),
            scratch: Vec::new(),
        }
    }

    /// Appends the framed form of `data` to `out`, led by the stream identifier the first time.
    /// Every call ends on a chunk boundary, so the peer can decode all of it at once.
    pub fn encode(&mut self, data: &[u8], out: &mut Vec<u8>) {
        if !self.wrote_stream_id {
            out.extend_from_slice(STREAM_ID);
            self.wrote_stream_id = true;
        }
        if self.scratch.len() < snap::raw::max_compress_len(MAX_BLOCK_SIZE) {
            self.scratch
                .resize(snap::raw::max_compress_len(MAX_BLOCK_SIZE), 0);
        }
        for block in data.chunks(MAX_BLOCK_SIZE) {
            let crc = masked_crc(block);
            // Data that does not shrink by at least 1/8 is cheaper to send as it is.
            let compressed = match self.raw.compress(block, &mut self.scratch) {
                Ok(n) if n < block.len() - block.len() / 8 => Some(n),
                _ => None,
            };
            match compressed {
                Some(n) => {
                    out.reserve(HEADER_LEN + CHECKSUM_LEN + n);
                    push_header(out, CHUNK_COMPRESSED, CHECKSUM_LEN + n);
                    out.extend_from_slice(&crc.to_le_bytes());
                    out.extend_from_slice(&self.scratch[..n]);
                }
                None => {
                    out.reserve(HEADER_LEN + CHECKSUM_LEN + block.len());
                    push_header(out, CHUNK_UNCOMPRESSED, CHECKSUM_LEN + block.len());
                    out.extend_from_slice(&crc.to_le_bytes());
                    out.extend_from_slice(block);
                }
            }
        }
    }
}

/// Turns snappy-framed chunks back into plain bytes.
pub struct SnappyDecoder {
    seen_stream_id: bool,
    /// Bytes still to drop of a skippable chunk longer than what had arrived.
    skip: usize,
    raw: snap::raw::Decoder,
}

impl Default for SnappyDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl SnappyDecoder {
    pub fn new() -> Self {
        SnappyDecoder {
            seen_stream_id: false,
            skip: 0,
            raw: snap::raw::Decoder::new(),
        }
    }

    /// Decodes complete chunks from the front of `input` into `out`, removing them from
    /// `input`, until `input` holds no complete chunk or `out` has reached `limit` bytes (a
    /// chunk adds at most [`MAX_BLOCK_SIZE`], so `out` may end up that much past `limit`). An
    /// incomplete chunk stays in `input` for the next call. After an error the stream is
    /// unusable.
    pub fn decode(
        &mut self,
        input: &mut BytesMut,
        out: &mut BytesMut,
        limit: usize,
    ) -> Result<(), SnappyError> {
        loop {
            if self.skip > 0 {
                let n = self.skip.min(input.len());
                input.advance(n);
                self.skip -= n;
                if self.skip > 0 {
                    return Ok(());
                }
            }
            if out.len() >= limit || input.len() < HEADER_LEN {
                return Ok(());
            }
            let chunk_type = input[0];
            let len = u32::from_le_bytes([input[1], input[2], input[3], 0]) as usize;
            if !self.seen_stream_id && chunk_type != CHUNK_STREAM_ID {
                return Err(SnappyError::Corrupt);
            }
            match chunk_type {
                CHUNK_STREAM_ID => {
                    if len != STREAM_ID.len() - HEADER_LEN {
                        return Err(SnappyError::Corrupt);
                    }
                    if input.len() < STREAM_ID.len() {
                        return Ok(());
                    }
                    if &input[..STREAM_ID.len()] != STREAM_ID {
                        return Err(SnappyError::Corrupt);
                    }
                    self.seen_stream_id = true;
                    input.advance(STREAM_ID.len());
                }
                CHUNK_COMPRESSED | CHUNK_UNCOMPRESSED => {
                    if len < CHECKSUM_LEN {
                        return Err(SnappyError::Corrupt);
                    }
                    if len > max_chunk_len() {
                        return Err(SnappyError::Unsupported);
                    }
                    if input.len() < HEADER_LEN + len {
                        return Ok(());
                    }
                    let chunk = &input[HEADER_LEN..HEADER_LEN + len];
                    let (crc, payload) = chunk.split_at(CHECKSUM_LEN);
                    let crc = u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]);
                    let start = out.len();
                    if chunk_type == CHUNK_COMPRESSED {
                        self.decompress_into(payload, out)?;
                    } else {
                        if payload.len() > MAX_BLOCK_SIZE {
                            return Err(SnappyError::Corrupt);
                        }
                        out.extend_from_slice(payload);
                    }
                    if masked_crc(&out[start..]) != crc {
                        out.truncate(start);
                        return Err(SnappyError::Corrupt);
                    }
                    input.advance(HEADER_LEN + len);
                }
                0x02..=0x7f => return Err(SnappyError::Unsupported),
                _ => {
                    // Padding and skippable chunks: drop them, even if not all here yet.
                    let have = input.len() - HEADER_LEN;
                    let n = len.min(have);
                    input.advance(HEADER_LEN + n);
                    self.skip = len - n;
                }
            }
        }
    }

    fn decompress_into(&mut self, payload: &[u8], out: &mut BytesMut) -> Result<(), SnappyError> {
        let n = snap::raw::decompress_len(payload).map_err(|_| SnappyError::Corrupt)?;
        if n > MAX_BLOCK_SIZE {
            return Err(SnappyError::Corrupt);
        }
        let start = out.len();
        out.resize(start + n, 0);
        match self.raw.decompress(payload, &mut out[start..]) {
            Ok(written) if written == n => Ok(()),
            _ => {
                out.truncate(start);
                Err(SnappyError::Corrupt)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic mixed data: compressible runs and pseudo-random stretches.
    fn sample(len: usize, seed: u32) -> Vec<u8> {
        let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
        (0..len)
            .map(|i| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                if (i / 512) % 2 == 0 {
                    b'a' + (i % 7) as u8
                } else {
                    x as u8
                }
            })
            .collect()
    }

    fn encode(data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        SnappyEncoder::new().encode(data, &mut out);
        out
    }

    fn decode_all(stream: &[u8]) -> Result<Vec<u8>, SnappyError> {
        let mut d = SnappyDecoder::new();
        let mut input = BytesMut::from(stream);
        let mut out = BytesMut::new();
        d.decode(&mut input, &mut out, usize::MAX)?;
        assert!(input.is_empty(), "{} bytes left undecoded", input.len());
        Ok(out.to_vec())
    }

    #[test]
    fn stream_starts_with_the_identifier_chunk() {
        let out = encode(b"OK");
        assert_eq!(&out[..10], b"\xff\x06\x00\x00sNaPpY");
        // A 2-byte payload does not compress: an uncompressed chunk of 4 + 2 bytes.
        assert_eq!(&out[10..14], &[0x01, 0x06, 0x00, 0x00]);
        assert_eq!(&out[14..18], &masked_crc(b"OK").to_le_bytes());
        assert_eq!(&out[18..], b"OK");
    }

    #[test]
    fn masked_crc_matches_the_format_definition() {
        // CRC-32C("123456789") is 0xe3069283 (the standard check value).
        let crc: u32 = 0xe306_9283;
        // Spelled out as the format describes it, not as the code computes it.
        #[allow(clippy::manual_rotate)]
        let masked = ((crc >> 15) | (crc << 17)).wrapping_add(0xa282_ead8);
        assert_eq!(masked_crc(b"123456789"), masked);
    }

    #[test]
    fn round_trips_small_large_and_empty_inputs() {
        for (len, seed) in [
            (0, 1),
            (1, 2),
            (100, 3),
            (65536, 4),
            (65537, 5),
            (300_000, 6),
        ] {
            let data = sample(len, seed);
            assert_eq!(decode_all(&encode(&data)).unwrap(), data, "len {len}");
        }
    }

    #[test]
    fn compressible_data_uses_compressed_chunks() {
        let data = vec![b'x'; 10_000];
        let out = encode(&data);
        assert_eq!(out[10], CHUNK_COMPRESSED);
        assert!(out.len() < 1000);
        assert_eq!(decode_all(&out).unwrap(), data);
    }

    #[test]
    fn one_encoder_writes_the_identifier_once() {
        let mut e = SnappyEncoder::new();
        let mut out = Vec::new();
        e.encode(b"first", &mut out);
        e.encode(b"second", &mut out);
        assert_eq!(out.windows(6).filter(|w| w == b"sNaPpY").count(), 1);
        assert_eq!(decode_all(&out).unwrap(), b"firstsecond");
    }

    #[test]
    fn repeated_identifier_chunks_are_accepted() {
        // Some clients (pynsq) start a fresh stream for every write.
        let mut stream = encode(b"one");
        stream.extend_from_slice(&encode(b"two"));
        assert_eq!(decode_all(&stream).unwrap(), b"onetwo");
    }

    #[test]
    fn input_split_at_every_byte_boundary_decodes_the_same() {
        let mut stream = Vec::new();
        let mut e = SnappyEncoder::new();
        e.encode(&sample(3000, 7), &mut stream);
        e.encode(b"tail", &mut stream);
        let want = [sample(3000, 7), b"tail".to_vec()].concat();
        for cut in 0..=stream.len() {
            let mut d = SnappyDecoder::new();
            let mut input = BytesMut::from(&stream[..cut]);
            let mut out = BytesMut::new();
            d.decode(&mut input, &mut out, usize::MAX).unwrap();
            input.extend_from_slice(&stream[cut..]);
            d.decode(&mut input, &mut out, usize::MAX).unwrap();
            assert!(input.is_empty());
            assert_eq!(&out[..], &want[..], "cut at {cut}");
        }
    }

    #[test]
    fn byte_by_byte_feeding_decodes_the_same() {
        let data = sample(70_000, 8);
        let stream = encode(&data);
        let mut d = SnappyDecoder::new();
        let mut input = BytesMut::new();
        let mut out = BytesMut::new();
        for &b in &stream {
            input.extend_from_slice(&[b]);
            d.decode(&mut input, &mut out, usize::MAX).unwrap();
        }
        assert!(input.is_empty());
        assert_eq!(&out[..], &data[..]);
    }

    #[test]
    fn limit_stops_between_chunks_and_resumes() {
        let data = sample(200_000, 9);
        let stream = encode(&data);
        let mut d = SnappyDecoder::new();
        let mut input = BytesMut::from(&stream[..]);
        let mut out = BytesMut::new();
        d.decode(&mut input, &mut out, 1).unwrap();
        assert_eq!(out.len(), MAX_BLOCK_SIZE, "one chunk, then stop");
        assert!(!input.is_empty());
        d.decode(&mut input, &mut out, usize::MAX).unwrap();
        assert_eq!(&out[..], &data[..]);
    }

    #[test]
    fn padding_and_skippable_chunks_are_ignored_even_when_split() {
        let mut stream = encode(b"a");
        stream.extend_from_slice(&[0xfe, 0x03, 0x00, 0x00, 0, 0, 0]);
        stream.extend_from_slice(&[0x80, 0x05, 0x00, 0x00, 1, 2, 3, 4, 5]);
        let mut e = SnappyEncoder::new();
        e.wrote_stream_id = true;
        e.encode(b"b", &mut stream);
        assert_eq!(decode_all(&stream).unwrap(), b"ab");
        for cut in 0..=stream.len() {
            let mut d = SnappyDecoder::new();
            let mut out = BytesMut::new();
            let mut input = BytesMut::from(&stream[..cut]);
            d.decode(&mut input, &mut out, usize::MAX).unwrap();
            input.extend_from_slice(&stream[cut..]);
            d.decode(&mut input, &mut out, usize::MAX).unwrap();
            assert_eq!(&out[..], b"ab", "cut at {cut}");
        }
    }

    #[test]
    fn a_stream_must_start_with_the_identifier() {
        let stream = encode(b"data");
        assert_eq!(decode_all(&stream[10..]), Err(SnappyError::Corrupt));
        assert_eq!(
            decode_all(b"\xff\x06\x00\x00sNaPpX"),
            Err(SnappyError::Corrupt)
        );
        assert_eq!(
            decode_all(b"\xff\x05\x00\x00sNaPp"),
            Err(SnappyError::Corrupt)
        );
    }

    #[test]
    fn corrupt_input_is_an_error() {
        let data = sample(5000, 10);
        let good = encode(&data);
        // A flipped bit in the checksum or in the data.
        let mut bad = good.clone();
        bad[15] ^= 0x01;
        assert_eq!(decode_all(&bad), Err(SnappyError::Corrupt));
        let mut bad = good.clone();
        let last = bad.len() - 1;
        bad[last] ^= 0x40;
        assert!(decode_all(&bad).is_err());
        // Reserved unskippable chunk type.
        let mut bad = encode(b"");
        bad.extend_from_slice(&[0x02, 0x01, 0x00, 0x00, 0]);
        assert_eq!(decode_all(&bad), Err(SnappyError::Unsupported));
        // Data chunks too short to hold a checksum, or too long to be valid.
        let mut bad = encode(b"");
        bad.extend_from_slice(&[0x01, 0x03, 0x00, 0x00, 0, 0, 0]);
        assert_eq!(decode_all(&bad), Err(SnappyError::Corrupt));
        let mut bad = encode(b"");
        bad.extend_from_slice(&[0x00, 0xff, 0xff, 0xff]);
        assert_eq!(decode_all(&bad), Err(SnappyError::Unsupported));
        // An uncompressed chunk over 64 KiB.
        let mut bad = encode(b"");
        let payload = vec![0u8; MAX_BLOCK_SIZE + 1];
        push_header(&mut bad, CHUNK_UNCOMPRESSED, CHECKSUM_LEN + payload.len());
        bad.extend_from_slice(&masked_crc(&payload).to_le_bytes());
        bad.extend_from_slice(&payload);
        assert_eq!(decode_all(&bad), Err(SnappyError::Corrupt));
    }

    #[test]
    fn mangled_streams_never_panic() {
        let good = encode(&sample(20_000, 11));
        let mut x: u32 = 12345;
        for round in 0..2000 {
            let mut s = good.clone();
            for _ in 0..(1 + round % 4) {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                let at = (x as usize) % s.len();
                s[at] = (x >> 8) as u8;
            }
            let cut = (x as usize >> 3) % (s.len() + 1);
            let mut d = SnappyDecoder::new();
            let mut input = BytesMut::from(&s[..cut]);
            let mut out = BytesMut::new();
            if d.decode(&mut input, &mut out, usize::MAX).is_ok() {
                input.extend_from_slice(&s[cut..]);
                let _ = d.decode(&mut input, &mut out, usize::MAX);
            }
        }
    }
}
