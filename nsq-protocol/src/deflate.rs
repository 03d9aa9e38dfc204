//! Raw DEFLATE (RFC 1951, no zlib or gzip wrapper), as negotiated by IDENTIFY `deflate`
//! (P-080 step 3).
//!
//! The encoder ends every call with a sync flush (an empty stored block), so whatever the
//! server has written so far can be decoded by the client straight away; the decoder takes
//! whatever bytes have arrived and keeps its place between calls.

use bytes::{Buf, BytesMut};
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

/// Output grown per step while compressing or decompressing.
const STEP: usize = 32 * 1024;

/// Why a deflate stream could not be processed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DeflateError {
    /// The peer's bytes are not a valid DEFLATE stream.
    #[error("flate: corrupt input")]
    Corrupt,
    /// The compressor refused its input (not expected with a healthy stream).
    #[error("flate: compression failed")]
    Compress,
}

/// Compresses outgoing bytes.
pub struct DeflateEncoder {
    raw: Compress,
}

impl DeflateEncoder {
    /// `level` is 1 (fastest) to 9 (smallest); values outside that range are clamped.
    pub fn new(level: i64) -> Self {
        let level = level.clamp(1, 9) as u32;
        DeflateEncoder {
            raw: Compress::new(Compression::new(level), false),
        }
    }

    /// Appends the compressed form of `data` to `out`, ending with a sync flush.
    pub fn encode(&mut self, data: &[u8], out: &mut Vec<u8>) -> Result<(), DeflateError> {
        let mut consumed = 0;
        loop {
            if out.capacity() - out.len() < 64 {
                out.reserve(STEP.max((data.len() - consumed) / 2));
            }
            let before = self.raw.total_in();
            self.raw
                .compress_vec(&data[consumed..], out, FlushCompress::Sync)
                .map_err(|_| DeflateError::Compress)?;
            consumed += (self.raw.total_in() - before) as usize;
            // The flush is complete once all input is in and the output did not fill up.
            if consumed == data.len() && out.len() < out.capacity() {
                return Ok(());
            }
        }
    }
}

/// Decompresses incoming bytes.
pub struct DeflateDecoder {
    raw: Decompress,
    finished: bool,
    /// The last step filled its output: the decompressor may hold more without new input.
    output_pending: bool,
}

impl Default for DeflateDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl DeflateDecoder {
    pub fn new() -> Self {
        DeflateDecoder {
            raw: Decompress::new(false),
            finished: false,
            output_pending: false,
        }
    }

    /// True once the peer has sent the final block: nothing more will come from this stream.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// True when a call to [`DeflateDecoder::decode`] could produce more output even without
    /// new input (an earlier call stopped at its limit).
    pub fn has_pending_output(&self) -> bool {
        self.output_pending && !self.finished
    }

    /// Decodes bytes from the front of `input` into `out`, removing what it used, until
    /// `input` is used up and nothing more is pending, the stream has ended, or `out` has
    /// reached `limit` bytes (it may end up to 32 KiB past `limit`). After an error the stream
    /// is unusable.
    pub fn decode(
        &mut self,
        input: &mut BytesMut,
        out: &mut BytesMut,
        limit: usize,
    ) -> Result<(), DeflateError> {
        while (!input.is_empty() || self.output_pending) && !self.finished && out.len() < limit {
            // Small inputs need little room; size the step so a short read stays cheap.
            let room = if self.output_pending {
                STEP
            } else {
                input.len().saturating_mul(4).clamp(1024, STEP)
            };
            let start = out.len();
            out.resize(start + room, 0);
            let (in_before, out_before) = (self.raw.total_in(), self.raw.total_out());
            let status = self
                .raw
                .decompress(input, &mut out[start..], FlushDecompress::None);
            let consumed = (self.raw.total_in() - in_before) as usize;
            let produced = (self.raw.total_out() - out_before) as usize;
            out.truncate(start + produced);
            input.advance(consumed);
            self.output_pending = produced == room;
            match status {
                Ok(Status::StreamEnd) => self.finished = true,
                Ok(_) if consumed == 0 && produced == 0 => return Ok(()),
                Ok(_) => {}
                Err(_) => return Err(DeflateError::Corrupt),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    fn sample(len: usize, seed: u32) -> Vec<u8> {
        let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
        (0..len)
            .map(|i| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                if (i / 700) % 2 == 0 {
                    b"PUB topic\n"[i % 10]
                } else {
                    x as u8
                }
            })
            .collect()
    }

    fn decode_all(stream: &[u8]) -> Result<Vec<u8>, DeflateError> {
        let mut d = DeflateDecoder::new();
        let mut input = BytesMut::from(stream);
        let mut out = BytesMut::new();
        d.decode(&mut input, &mut out, usize::MAX)?;
        Ok(out.to_vec())
    }

    #[test]
    fn every_encode_ends_with_a_sync_flush_marker() {
        let mut e = DeflateEncoder::new(6);
        let mut out = Vec::new();
        e.encode(b"\x00\x00\x00\x06\x00\x00\x00\x00OK", &mut out)
            .unwrap();
        assert_eq!(&out[out.len() - 4..], &[0x00, 0x00, 0xff, 0xff]);
        // Decodable on its own, before any more data is written.
        assert_eq!(
            decode_all(&out).unwrap(),
            b"\x00\x00\x00\x06\x00\x00\x00\x00OK"
        );
    }

    #[test]
    fn round_trips_at_every_level() {
        for level in 1..=9 {
            let data = sample(100_000, level as u32);
            let mut e = DeflateEncoder::new(level);
            let mut out = Vec::new();
            e.encode(&data[..60_000], &mut out).unwrap();
            e.encode(&data[60_000..], &mut out).unwrap();
            e.encode(b"", &mut out).unwrap();
            assert_eq!(decode_all(&out).unwrap(), data, "level {level}");
        }
    }

    #[test]
    fn output_is_raw_deflate_readable_by_another_implementation() {
        let data = sample(50_000, 3);
        let mut e = DeflateEncoder::new(6);
        let mut out = Vec::new();
        e.encode(&data, &mut out).unwrap();
        let mut back = Vec::new();
        let mut r = flate2::read::DeflateDecoder::new(&out[..]);
        // The stream has no final block, so the reader stops with an unexpected EOF.
        let _ = r.read_to_end(&mut back);
        assert_eq!(back, data);
    }

    #[test]
    fn reads_raw_deflate_from_another_implementation_split_at_every_byte() {
        let data = sample(4000, 4);
        let mut w = flate2::write::DeflateEncoder::new(Vec::new(), Compression::new(9));
        w.write_all(&data[..2000]).unwrap();
        w.flush().unwrap();
        w.write_all(&data[2000..]).unwrap();
        let stream = w.finish().unwrap();
        for cut in 0..=stream.len() {
            let mut d = DeflateDecoder::new();
            let mut out = BytesMut::new();
            let mut input = BytesMut::from(&stream[..cut]);
            d.decode(&mut input, &mut out, usize::MAX).unwrap();
            input.extend_from_slice(&stream[cut..]);
            d.decode(&mut input, &mut out, usize::MAX).unwrap();
            assert_eq!(&out[..], &data[..], "cut at {cut}");
            assert!(d.is_finished());
        }
    }

    #[test]
    fn limit_bounds_each_call_and_the_rest_follows() {
        // 1 MB of zeros compresses to about a kilobyte.
        let data = vec![0u8; 1 << 20];
        let mut e = DeflateEncoder::new(9);
        let mut out = Vec::new();
        e.encode(&data, &mut out).unwrap();
        let mut d = DeflateDecoder::new();
        let mut input = BytesMut::from(&out[..]);
        let mut got = BytesMut::new();
        d.decode(&mut input, &mut got, 64 * 1024).unwrap();
        assert!(got.len() >= 64 * 1024 && got.len() <= 64 * 1024 + STEP);
        assert!(!input.is_empty());
        while !input.is_empty() || d.has_pending_output() {
            let limit = got.len() + 64 * 1024;
            d.decode(&mut input, &mut got, limit).unwrap();
        }
        assert_eq!(got.len(), data.len());
    }

    #[test]
    fn garbage_is_an_error_and_never_a_panic() {
        // Block type 3 is reserved.
        assert_eq!(decode_all(&[0xff, 0xff, 0xff]), Err(DeflateError::Corrupt));
        let mut e = DeflateEncoder::new(6);
        let mut good = Vec::new();
        e.encode(&sample(20_000, 5), &mut good).unwrap();
        let mut x: u32 = 99;
        for round in 0..2000 {
            let mut s = good.clone();
            for _ in 0..(1 + round % 3) {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                let at = (x as usize) % s.len();
                s[at] ^= (x >> 8) as u8 | 1;
            }
            let _ = decode_all(&s);
        }
    }
}
