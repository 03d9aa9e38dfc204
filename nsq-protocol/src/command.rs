//! Client→server command parsing (P-030..P-036) and the MPUB body layout (P-054).

use bytes::Bytes;

use crate::error::{self, ProtocolError};
use crate::message::{MessageId, MESSAGE_ID_LEN};

/// The reference reads commands through a 16 KiB buffer: a line, `\n` included, must fit.
pub const MAX_LINE: usize = 16 * 1024;

/// The twelve V2 commands (§1.6). Names are exact, case-sensitive byte matches (P-032).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Command {
    Identify,
    Auth,
    Sub,
    Pub,
    Mpub,
    Dpub,
    Rdy,
    Fin,
    Req,
    Touch,
    Cls,
    Nop,
}

impl Command {
    pub fn parse(name: &[u8]) -> Option<Command> {
        Some(match name {
            b"FIN" => Command::Fin,
            b"RDY" => Command::Rdy,
            b"REQ" => Command::Req,
            b"PUB" => Command::Pub,
            b"MPUB" => Command::Mpub,
            b"DPUB" => Command::Dpub,
            b"NOP" => Command::Nop,
            b"TOUCH" => Command::Touch,
            b"SUB" => Command::Sub,
            b"CLS" => Command::Cls,
            b"AUTH" => Command::Auth,
            b"IDENTIFY" => Command::Identify,
            _ => return None,
        })
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Command::Identify => "IDENTIFY",
            Command::Auth => "AUTH",
            Command::Sub => "SUB",
            Command::Pub => "PUB",
            Command::Mpub => "MPUB",
            Command::Dpub => "DPUB",
            Command::Rdy => "RDY",
            Command::Fin => "FIN",
            Command::Req => "REQ",
            Command::Touch => "TOUCH",
            Command::Cls => "CLS",
            Command::Nop => "NOP",
        }
    }

    /// Commands followed by `[4-byte size][body]` after their line (P-033).
    pub fn has_body(&self) -> bool {
        matches!(
            self,
            Command::Identify | Command::Auth | Command::Pub | Command::Mpub | Command::Dpub
        )
    }
}

/// Result of looking for a command line at the front of a read buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Line<'a> {
    /// `line` has the `\n` and one trailing `\r` removed; `consumed` includes the `\n`.
    Complete { line: &'a [u8], consumed: usize },
    /// No `\n` yet and the buffer is still under the limit: read more.
    Incomplete,
    /// No `\n` within [`MAX_LINE`] bytes: the reference fails the read and closes silently.
    TooLong,
}

/// Find the next command line at the front of `buf` (P-030, P-034).
pub fn read_line(buf: &[u8]) -> Line<'_> {
    let window = &buf[..buf.len().min(MAX_LINE)];
    match memchr::memchr(b'\n', window) {
        Some(end) => {
            let mut line = &buf[..end];
            if let Some(stripped) = line.strip_suffix(b"\r") {
                line = stripped;
            }
            Line::Complete {
                line,
                consumed: end + 1,
            }
        }
        None if buf.len() >= MAX_LINE => Line::TooLong,
        None => Line::Incomplete,
    }
}

/// Split a line on every single space, without collapsing runs (P-031): `PUB  t` gives
/// `["PUB", "", "t"]` and an empty line gives `[""]`.
pub fn split_params(line: &[u8]) -> Vec<&[u8]> {
    let mut params = Vec::with_capacity(4);
    params.extend(line.split(|&b| b == b' '));
    params
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParseIntError {
    #[error("failed to convert to Base10")]
    InvalidDigit,
    #[error("number out of range")]
    Overflow,
}

/// Unsigned decimal, digits only; `""` is 0 (P-036, QRK-09). Overflow is an error here,
/// where the reference silently wraps (see [`parse_uint_wrapping`]).
pub fn parse_uint(s: &[u8]) -> Result<u64, ParseIntError> {
    let mut n: u64 = 0;
    for &b in s {
        if !b.is_ascii_digit() {
            return Err(ParseIntError::InvalidDigit);
        }
        n = n
            .checked_mul(10)
            .and_then(|n| n.checked_add(u64::from(b - b'0')))
            .ok_or(ParseIntError::Overflow)?;
    }
    Ok(n)
}

/// The reference's exact integer parse: digits only, `""` is 0, overflow wraps modulo 2^64.
pub fn parse_uint_wrapping(s: &[u8]) -> Result<u64, ParseIntError> {
    let mut n: u64 = 0;
    for &b in s {
        if !b.is_ascii_digit() {
            return Err(ParseIntError::InvalidDigit);
        }
        n = n.wrapping_mul(10).wrapping_add(u64::from(b - b'0'));
    }
    Ok(n)
}

/// A 4-byte big-endian i32 at `buf[offset..]`, or `None` when not enough bytes are there yet.
pub fn read_i32(buf: &[u8], offset: usize) -> Option<i32> {
    let end = offset.checked_add(4)?;
    let b = buf.get(offset..end)?;
    Some(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

/// A FIN/REQ/TOUCH id parameter: exactly 16 bytes, content not checked (P-057).
pub fn parse_message_id(param: &[u8]) -> Result<MessageId, ProtocolError> {
    if param.len() != MESSAGE_ID_LEN {
        return Err(error::invalid_message_id());
    }
    let mut id = [0u8; MESSAGE_ID_LEN];
    id.copy_from_slice(param);
    Ok(id)
}

/// Where an MPUB payload ran out of bytes.
enum Short {
    Count,
    Size(i64),
    Body,
}

/// What [`walk_mpub`] reports as it goes.
enum MpubItem {
    /// The validated message count.
    Count(usize),
    /// One message body's byte range.
    Body(usize, usize),
}

/// Walk `[4 num]([4 size][bytes])×num`, validating in the reference's order.
/// `Ok(Ok(consumed))` when complete, `Ok(Err(_))` when the bytes ran out first.
fn walk_mpub(
    buf: &[u8],
    max_msg_size: i64,
    max_body_size: i64,
    mut each: impl FnMut(MpubItem),
) -> Result<Result<usize, Short>, ProtocolError> {
    let Some(count) = read_i32(buf, 0) else {
        return Ok(Err(Short::Count));
    };
    // Each message takes at least 5 bytes (size + 1 body byte) after the 4-byte count.
    let max_messages = (max_body_size - 4) / 5;
    if count <= 0 || i64::from(count) > max_messages {
        return Err(error::mpub_invalid_count(i64::from(count)));
    }
    each(MpubItem::Count(count as usize));
    let mut pos = 4usize;
    for index in 0..i64::from(count) {
        let Some(size) = read_i32(buf, pos) else {
            return Ok(Err(Short::Size(index)));
        };
        if size <= 0 {
            return Err(error::mpub_invalid_message_size(index, i64::from(size)));
        }
        if i64::from(size) > max_msg_size {
            return Err(error::message_too_big(
                "MPUB",
                i64::from(size),
                max_msg_size,
            ));
        }
        let start = pos + 4;
        let end = start + size as usize;
        if end > buf.len() {
            return Ok(Err(Short::Body));
        }
        each(MpubItem::Body(start, end));
        pos = end;
    }
    Ok(Ok(pos))
}

/// Parse an MPUB payload: everything after the 4-byte body-size field, i.e.
/// `[4 num]([4 size][bytes])×num`. Also the body of HTTP `/mpub?binary=true`.
///
/// Returns the bodies as zero-copy slices of `payload`, or the exact E_BAD_BODY /
/// E_BAD_MESSAGE error (P-129). Bytes after the last message are ignored. A payload cut
/// short yields the reference's "failed to read ..." error for the point where it ends, so
/// this also names the error when the connection hits EOF mid-body.
pub fn parse_mpub_payload(
    payload: &Bytes,
    max_msg_size: i64,
    max_body_size: i64,
) -> Result<Vec<Bytes>, ProtocolError> {
    let mut bodies = Vec::new();
    let walked = walk_mpub(payload, max_msg_size, max_body_size, |item| match item {
        // Never trust the count for the allocation: bound it by what the bytes can hold.
        MpubItem::Count(count) => bodies.reserve_exact(count.min(payload.len() / 5)),
        MpubItem::Body(start, end) => bodies.push(payload.slice(start..end)),
    })?;
    match walked {
        Ok(_) => Ok(bodies),
        Err(Short::Count) => Err(error::mpub_count_read_failed()),
        Err(Short::Size(index)) => Err(error::mpub_message_size_read_failed(index)),
        Err(Short::Body) => Err(error::message_body_read_failed("MPUB")),
    }
}

/// Stream-exact MPUB framing for the TCP reader: how many bytes after the body-size field
/// the MPUB occupies, found by walking count and messages as the reference does (the
/// body-size field itself is only bounds-checked, QRK-04).
///
/// `Ok(None)`: not all of it has arrived yet. Validation errors are reported as soon as the
/// offending field is visible, in the same order as [`parse_mpub_payload`].
pub fn scan_mpub(
    buf: &[u8],
    max_msg_size: i64,
    max_body_size: i64,
) -> Result<Option<usize>, ProtocolError> {
    match walk_mpub(buf, max_msg_size, max_body_size, |_| {})? {
        Ok(consumed) => Ok(Some(consumed)),
        Err(_) => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX_MSG: i64 = 1_048_576;
    const MAX_BODY: i64 = 5_242_880;

    fn complete(buf: &[u8]) -> (&[u8], usize) {
        match read_line(buf) {
            Line::Complete { line, consumed } => (line, consumed),
            other => panic!("expected a complete line, got {other:?}"),
        }
    }

    #[test]
    fn lines_strip_newline_and_one_cr() {
        assert_eq!(complete(b"NOP\n"), (&b"NOP"[..], 4));
        assert_eq!(complete(b"NOP\r\nFIN"), (&b"NOP"[..], 5));
        assert_eq!(complete(b"NOP\r\r\n"), (&b"NOP\r"[..], 6));
        assert_eq!(complete(b"\n"), (&b""[..], 1));
        assert_eq!(complete(b"\r\n"), (&b""[..], 2));
        assert_eq!(read_line(b""), Line::Incomplete);
        assert_eq!(read_line(b"RDY 1"), Line::Incomplete);
    }

    #[test]
    fn line_length_limit() {
        let mut buf = vec![b'a'; MAX_LINE - 1];
        buf.push(b'\n');
        assert_eq!(complete(&buf).1, MAX_LINE);
        let buf = vec![b'a'; MAX_LINE - 1];
        assert_eq!(read_line(&buf), Line::Incomplete);
        let mut buf = vec![b'a'; MAX_LINE];
        assert_eq!(read_line(&buf), Line::TooLong);
        buf.push(b'\n');
        assert_eq!(read_line(&buf), Line::TooLong);
    }

    #[test]
    fn split_every_space() {
        assert_eq!(split_params(b"PUB  t"), vec![&b"PUB"[..], b"", b"t"]);
        assert_eq!(split_params(b"RDY "), vec![&b"RDY"[..], b""]);
        assert_eq!(split_params(b""), vec![&b""[..]]);
        assert_eq!(split_params(b" "), vec![&b""[..], b""]);
        assert_eq!(
            split_params(b"SUB topic ch"),
            vec![&b"SUB"[..], b"topic", b"ch"]
        );
        assert_eq!(split_params(b"NOP"), vec![&b"NOP"[..]]);
    }

    #[test]
    fn uint_parsing() {
        assert_eq!(parse_uint(b""), Ok(0));
        assert_eq!(parse_uint(b"0"), Ok(0));
        assert_eq!(parse_uint(b"2500"), Ok(2500));
        assert_eq!(parse_uint(b"007"), Ok(7));
        assert_eq!(parse_uint(b"18446744073709551615"), Ok(u64::MAX));
        assert_eq!(
            parse_uint(b"18446744073709551616"),
            Err(ParseIntError::Overflow)
        );
        for bad in [
            &b"-1"[..],
            b"+1",
            b"1.5",
            b" 1",
            b"1 ",
            b"a",
            b"1e3",
            b"\xff",
        ] {
            assert_eq!(parse_uint(bad), Err(ParseIntError::InvalidDigit), "{bad:?}");
        }
        assert_eq!(parse_uint_wrapping(b"18446744073709551616"), Ok(0));
        assert_eq!(parse_uint_wrapping(b""), Ok(0));
        assert_eq!(parse_uint_wrapping(b"x"), Err(ParseIntError::InvalidDigit));
    }

    #[test]
    fn rdy_with_trailing_space_is_zero() {
        let params = split_params(b"RDY ");
        assert_eq!(parse_uint(params[1]), Ok(0));
    }

    #[test]
    fn i32_reads() {
        assert_eq!(read_i32(b"\x00\x00\x01\x00", 0), Some(256));
        assert_eq!(read_i32(b"xx\xff\xff\xff\xff", 2), Some(-1));
        assert_eq!(read_i32(b"\x00\x00\x01", 0), None);
        assert_eq!(read_i32(b"\x00\x00\x00\x01", 1), None);
        assert_eq!(read_i32(b"", usize::MAX), None);
    }

    #[test]
    fn command_names() {
        for name in [
            "IDENTIFY", "AUTH", "SUB", "PUB", "MPUB", "DPUB", "RDY", "FIN", "REQ", "TOUCH", "CLS",
            "NOP",
        ] {
            let cmd = Command::parse(name.as_bytes()).unwrap();
            assert_eq!(cmd.as_str(), name);
        }
        assert_eq!(Command::parse(b"nop"), None);
        assert_eq!(Command::parse(b"NOP "), None);
        assert_eq!(Command::parse(b""), None);
        assert!(Command::Pub.has_body() && Command::Auth.has_body());
        assert!(!Command::Fin.has_body() && !Command::Nop.has_body());
    }

    #[test]
    fn message_id_param() {
        assert_eq!(
            parse_message_id(b"0123456789abcdeF"),
            Ok(*b"0123456789abcdeF")
        );
        // Content is not checked as hex.
        assert!(parse_message_id(b"zzzzzzzzzzzzzzzz").is_ok());
        let err = parse_message_id(b"0123456789abcde").unwrap_err();
        assert_eq!(err.frame_data(), "E_INVALID invalid message ID");
        assert!(parse_message_id(b"0123456789abcdef0").is_err());
    }

    fn mpub(bodies: &[&[u8]]) -> Vec<u8> {
        let mut v = (bodies.len() as i32).to_be_bytes().to_vec();
        for b in bodies {
            v.extend_from_slice(&(b.len() as i32).to_be_bytes());
            v.extend_from_slice(b);
        }
        v
    }

    fn mpub_err(payload: Vec<u8>) -> String {
        parse_mpub_payload(&Bytes::from(payload), MAX_MSG, MAX_BODY)
            .unwrap_err()
            .frame_data()
    }

    #[test]
    fn mpub_parse_ok_zero_copy() {
        let payload = Bytes::from(mpub(&[b"one", b"two!", b"3"]));
        let bodies = parse_mpub_payload(&payload, MAX_MSG, MAX_BODY).unwrap();
        assert_eq!(bodies, vec![&b"one"[..], b"two!", b"3"]);
        assert_eq!(bodies[0].as_ptr(), payload[8..].as_ptr());
        assert_eq!(
            scan_mpub(&payload, MAX_MSG, MAX_BODY),
            Ok(Some(payload.len()))
        );
    }

    #[test]
    fn mpub_trailing_bytes_ignored() {
        let mut raw = mpub(&[b"a"]);
        let used = raw.len();
        raw.extend_from_slice(b"NOP\n");
        let bodies = parse_mpub_payload(&Bytes::from(raw.clone()), MAX_MSG, MAX_BODY).unwrap();
        assert_eq!(bodies, vec![&b"a"[..]]);
        assert_eq!(scan_mpub(&raw, MAX_MSG, MAX_BODY), Ok(Some(used)));
    }

    #[test]
    fn mpub_count_errors() {
        assert_eq!(
            mpub_err(vec![0, 0, 0]),
            "E_BAD_BODY MPUB failed to read message count"
        );
        assert_eq!(
            mpub_err(0i32.to_be_bytes().to_vec()),
            "E_BAD_BODY MPUB invalid message count 0"
        );
        assert_eq!(
            mpub_err((-3i32).to_be_bytes().to_vec()),
            "E_BAD_BODY MPUB invalid message count -3"
        );
        // (5242880 - 4) / 5 = 1048575 is the largest count allowed.
        assert_eq!(
            mpub_err(1_048_576i32.to_be_bytes().to_vec()),
            "E_BAD_BODY MPUB invalid message count 1048576"
        );
        assert_eq!(
            mpub_err(1_048_575i32.to_be_bytes().to_vec()),
            "E_BAD_MESSAGE MPUB failed to read message(0) body size"
        );
    }

    #[test]
    fn mpub_message_errors() {
        let mut raw = mpub(&[b"ok"]);
        raw[3] = 2; // claim two messages
        assert_eq!(
            mpub_err(raw.clone()),
            "E_BAD_MESSAGE MPUB failed to read message(1) body size"
        );
        raw.extend_from_slice(&0i32.to_be_bytes());
        assert_eq!(
            mpub_err(raw.clone()),
            "E_BAD_MESSAGE MPUB invalid message(1) body size 0"
        );
        let mut raw = mpub(&[b"ok"]);
        raw[4..8].copy_from_slice(&(-7i32).to_be_bytes());
        assert_eq!(
            mpub_err(raw),
            "E_BAD_MESSAGE MPUB invalid message(0) body size -7"
        );
        let mut raw = mpub(&[b"ok"]);
        raw[4..8].copy_from_slice(&1_048_577i32.to_be_bytes());
        assert_eq!(
            mpub_err(raw),
            "E_BAD_MESSAGE MPUB message too big 1048577 > 1048576"
        );
        let mut raw = mpub(&[b"okay"]);
        raw.pop();
        assert_eq!(
            mpub_err(raw),
            "E_BAD_MESSAGE MPUB failed to read message body"
        );
    }

    #[test]
    fn mpub_limits_follow_arguments() {
        // max_body_size 24 allows (24 - 4) / 5 = 4 messages.
        let five = mpub(&[b"a", b"b", b"c", b"d", b"e"]);
        let err = parse_mpub_payload(&Bytes::from(five), 10, 24).unwrap_err();
        assert_eq!(err.frame_data(), "E_BAD_BODY MPUB invalid message count 5");
        let big = mpub(&[b"0123456789A"]);
        let err = parse_mpub_payload(&Bytes::from(big), 10, 1000).unwrap_err();
        assert_eq!(
            err.frame_data(),
            "E_BAD_MESSAGE MPUB message too big 11 > 10"
        );
    }

    #[test]
    fn scan_waits_for_more_and_reports_errors_early() {
        let raw = mpub(&[b"hello", b"world"]);
        for cut in 0..raw.len() {
            assert_eq!(
                scan_mpub(&raw[..cut], MAX_MSG, MAX_BODY),
                Ok(None),
                "cut {cut}"
            );
        }
        // The bad second size is reported before its body arrives.
        let mut raw = mpub(&[b"hello"]);
        raw[3] = 2;
        raw.extend_from_slice(&0i32.to_be_bytes());
        assert_eq!(
            scan_mpub(&raw, MAX_MSG, MAX_BODY).unwrap_err().frame_data(),
            "E_BAD_MESSAGE MPUB invalid message(1) body size 0"
        );
    }

    /// Deterministic xorshift, so the fuzz-ish loops below are reproducible.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn bytes(&mut self, max_len: usize) -> Vec<u8> {
            let len = (self.next() % (max_len as u64 + 1)) as usize;
            (0..len)
                .map(|_| match self.next() % 4 {
                    // Bias toward small numbers so sizes and counts are often plausible.
                    0 => 0,
                    1 => (self.next() % 4) as u8,
                    2 => b'\n',
                    _ => self.next() as u8,
                })
                .collect()
        }
    }

    #[test]
    fn fuzz_mpub_parse_and_scan_agree() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for _ in 0..20_000 {
            let raw = rng.bytes(64);
            let parsed = parse_mpub_payload(&Bytes::from(raw.clone()), 16, 200);
            let scanned = scan_mpub(&raw, 16, 200);
            match (&parsed, &scanned) {
                (Ok(bodies), Ok(Some(used))) => {
                    let total: usize = 4 + bodies.iter().map(|b| 4 + b.len()).sum::<usize>();
                    assert_eq!(total, *used);
                    assert!(bodies.iter().all(|b| !b.is_empty() && b.len() <= 16));
                }
                (Err(p), Err(s)) => assert_eq!(p, s),
                (Err(p), Ok(None)) => assert!(p.desc.contains("failed to read"), "{p}"),
                _ => panic!("disagree on {raw:?}: {parsed:?} vs {scanned:?}"),
            }
        }
    }

    #[test]
    fn fuzz_lines_and_params() {
        let mut rng = Rng(42);
        for _ in 0..20_000 {
            let raw = rng.bytes(40);
            match read_line(&raw) {
                Line::Complete { line, consumed } => {
                    assert_eq!(raw[consumed - 1], b'\n');
                    assert!(!raw[..consumed - 1].contains(&b'\n'));
                    assert!(line.len() + 1 == consumed || line.len() + 2 == consumed);
                    let params = split_params(line);
                    assert_eq!(
                        params.len(),
                        line.iter().filter(|&&b| b == b' ').count() + 1
                    );
                    assert_eq!(params.join(&b' '), line);
                }
                Line::Incomplete => assert!(!raw.contains(&b'\n')),
                Line::TooLong => unreachable!("short input"),
            }
        }
    }
}
