//! A raw, blocking nsqd TCP V2 client that shows the tests every frame.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

pub const FRAME_RESPONSE: i32 = 0;
pub const FRAME_ERROR: i32 = 1;
pub const FRAME_MESSAGE: i32 = 2;

const HEARTBEAT: &[u8] = b"_heartbeat_";
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// One decoded message frame (frame type 2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Msg {
    pub timestamp: i64,
    pub attempts: u16,
    /// The 16-byte message id as text.
    pub id: String,
    pub body: Vec<u8>,
}

impl Msg {
    /// Decodes the data of a message frame: `[8 ts][2 attempts][16 id][body]`.
    pub fn decode(data: &[u8]) -> Msg {
        assert!(
            data.len() >= 26,
            "message frame data too short ({} bytes): {data:?}",
            data.len()
        );
        Msg {
            timestamp: i64::from_be_bytes(data[0..8].try_into().unwrap()),
            attempts: u16::from_be_bytes(data[8..10].try_into().unwrap()),
            id: String::from_utf8_lossy(&data[10..26]).into_owned(),
            body: data[26..].to_vec(),
        }
    }
}

/// What one attempt to read a frame ended with.
enum Read1 {
    Frame(i32, Vec<u8>),
    TimedOut,
    Closed(String),
}

pub struct RawConn {
    stream: TcpStream,
    buf: Vec<u8>,
    timeout: Duration,
}

fn show(data: &[u8]) -> String {
    String::from_utf8_lossy(data).into_owned()
}

impl RawConn {
    /// Connects and sends the `"  V2"` magic.
    pub fn connect(addr: SocketAddr) -> RawConn {
        let mut c = RawConn::connect_no_magic(addr);
        c.send(b"  V2");
        c
    }

    /// Connects without sending anything.
    pub fn connect_no_magic(addr: SocketAddr) -> RawConn {
        let stream = TcpStream::connect_timeout(&addr, DEFAULT_TIMEOUT)
            .unwrap_or_else(|e| panic!("connect to nsqd at {addr}: {e}"));
        stream.set_nodelay(true).unwrap();
        stream.set_write_timeout(Some(DEFAULT_TIMEOUT)).unwrap();
        RawConn {
            stream,
            buf: Vec::new(),
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// Changes the timeout used by [`RawConn::read_frame`] and friends (default 5 s).
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    pub fn stream(&self) -> &TcpStream {
        &self.stream
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.stream.local_addr().unwrap()
    }

    /// Half-closes the write side (the server then sees EOF).
    pub fn shutdown_write(&mut self) {
        let _ = self.stream.shutdown(Shutdown::Write);
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.stream
            .write_all(bytes)
            .unwrap_or_else(|e| panic!("write to nsqd failed: {e}"));
    }

    /// Like [`RawConn::send`] but reports failure instead of panicking (the server may already
    /// have closed the connection).
    pub fn try_send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes)
    }

    /// Sends `line` followed by `\n`.
    pub fn cmd(&mut self, line: &str) {
        let mut v = Vec::with_capacity(line.len() + 1);
        v.extend_from_slice(line.as_bytes());
        v.push(b'\n');
        self.send(&v);
    }

    /// Sends `line\n[4-byte BE size][body]`.
    pub fn cmd_body(&mut self, line: &str, body: &[u8]) {
        let mut v = Vec::with_capacity(line.len() + 5 + body.len());
        v.extend_from_slice(line.as_bytes());
        v.push(b'\n');
        v.extend_from_slice(&(body.len() as u32).to_be_bytes());
        v.extend_from_slice(body);
        self.send(&v);
    }

    /// Sends IDENTIFY with `json` as its body and returns the reply frame.
    pub fn identify(&mut self, json: &str) -> (i32, Vec<u8>) {
        self.cmd_body("IDENTIFY", json.as_bytes());
        self.read_frame_skip_heartbeats()
    }

    /// One step of the reader: decodes a buffered frame or reads more until `deadline`.
    fn read_one(&mut self, deadline: Instant) -> Read1 {
        loop {
            if self.buf.len() >= 4 {
                let size = u32::from_be_bytes(self.buf[0..4].try_into().unwrap()) as usize;
                assert!(
                    size >= 4,
                    "frame size {size} is below 4 (it must count the type)"
                );
                if self.buf.len() >= 4 + size {
                    let ft = i32::from_be_bytes(self.buf[4..8].try_into().unwrap());
                    let data = self.buf[8..4 + size].to_vec();
                    self.buf.drain(..4 + size);
                    return Read1::Frame(ft, data);
                }
            }
            let now = Instant::now();
            if now >= deadline {
                return Read1::TimedOut;
            }
            let wait = (deadline - now).max(Duration::from_millis(1));
            self.stream.set_read_timeout(Some(wait)).unwrap();
            let mut chunk = [0u8; 64 * 1024];
            match self.stream.read(&mut chunk) {
                Ok(0) => return Read1::Closed("EOF".into()),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Read1::Closed(e.to_string()),
            }
        }
    }

    /// The next frame; panics on timeout or on a closed connection.
    pub fn read_frame(&mut self) -> (i32, Vec<u8>) {
        let deadline = Instant::now() + self.timeout;
        match self.read_one(deadline) {
            Read1::Frame(ft, data) => (ft, data),
            Read1::TimedOut => panic!("no frame from nsqd within {:?}", self.timeout),
            Read1::Closed(why) => panic!(
                "nsqd closed the connection ({why}) while a frame was expected \
                 ({} unparsed bytes buffered)",
                self.buf.len()
            ),
        }
    }

    /// The next frame if one arrives within `timeout`; `None` on timeout. Panics if the
    /// connection closes.
    pub fn try_read_frame(&mut self, timeout: Duration) -> Option<(i32, Vec<u8>)> {
        match self.read_one(Instant::now() + timeout) {
            Read1::Frame(ft, data) => Some((ft, data)),
            Read1::TimedOut => None,
            Read1::Closed(why) => panic!("nsqd closed the connection ({why})"),
        }
    }

    /// The next frame that is not a `_heartbeat_` response.
    pub fn read_frame_skip_heartbeats(&mut self) -> (i32, Vec<u8>) {
        loop {
            let (ft, data) = self.read_frame();
            if !(ft == FRAME_RESPONSE && data == HEARTBEAT) {
                return (ft, data);
            }
        }
    }

    /// Like [`RawConn::try_read_frame`] but heartbeats do not count as frames.
    pub fn try_read_frame_skip_heartbeats(&mut self, timeout: Duration) -> Option<(i32, Vec<u8>)> {
        let deadline = Instant::now() + timeout;
        loop {
            match self.read_one(deadline) {
                Read1::Frame(FRAME_RESPONSE, data) if data == HEARTBEAT => continue,
                Read1::Frame(ft, data) => return Some((ft, data)),
                Read1::TimedOut => return None,
                Read1::Closed(why) => panic!("nsqd closed the connection ({why})"),
            }
        }
    }

    /// Asserts that the next non-heartbeat frame is a response frame with exactly `data`.
    pub fn expect_response(&mut self, data: &[u8]) {
        let (ft, got) = self.read_frame_skip_heartbeats();
        assert!(
            ft == FRAME_RESPONSE && got == data,
            "expected response frame {:?}, got frame type {ft} {:?}",
            show(data),
            show(&got)
        );
    }

    /// Asserts that the next non-heartbeat frame is an error frame with exactly `data`.
    pub fn expect_error(&mut self, data: &str) {
        let (ft, got) = self.read_frame_skip_heartbeats();
        assert!(
            ft == FRAME_ERROR && got == data.as_bytes(),
            "expected error frame {data:?}, got frame type {ft} {:?}",
            show(&got)
        );
    }

    /// The next message frame (heartbeats are skipped and not answered).
    pub fn read_message(&mut self) -> Msg {
        let (ft, data) = self.read_frame_skip_heartbeats();
        assert!(
            ft == FRAME_MESSAGE,
            "expected a message frame, got type {ft} {:?}",
            show(&data)
        );
        Msg::decode(&data)
    }

    /// The next message if one arrives within `timeout`.
    pub fn try_read_message(&mut self, timeout: Duration) -> Option<Msg> {
        let (ft, data) = self.try_read_frame_skip_heartbeats(timeout)?;
        assert!(
            ft == FRAME_MESSAGE,
            "expected a message frame, got type {ft} {:?}",
            show(&data)
        );
        Some(Msg::decode(&data))
    }

    /// Asserts the server closes the connection (EOF or reset) within `timeout`. Heartbeats
    /// may arrive first; any other frame fails the test.
    pub fn expect_closed(&mut self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            match self.read_one(deadline) {
                Read1::Frame(FRAME_RESPONSE, data) if data == HEARTBEAT => continue,
                Read1::Frame(ft, data) => {
                    panic!(
                        "expected the connection to close, got frame type {ft} {:?}",
                        show(&data)
                    )
                }
                Read1::TimedOut => panic!("nsqd did not close the connection within {timeout:?}"),
                Read1::Closed(_) => return,
            }
        }
    }

    /// Whether the server closed the connection within `timeout` (frames read meanwhile are
    /// discarded).
    pub fn closed_within(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            match self.read_one(deadline) {
                Read1::Frame(..) => continue,
                Read1::TimedOut => return false,
                Read1::Closed(_) => return true,
            }
        }
    }

    /// `SUB topic channel`, expecting `OK`.
    pub fn sub(&mut self, topic: &str, channel: &str) {
        self.cmd(&format!("SUB {topic} {channel}"));
        self.expect_response(b"OK");
    }

    /// `PUB topic` with `body`, expecting `OK`.
    pub fn publish(&mut self, topic: &str, body: &[u8]) {
        self.cmd_body(&format!("PUB {topic}"), body);
        self.expect_response(b"OK");
    }

    /// `DPUB topic defer_ms` with `body`, expecting `OK`.
    pub fn dpub(&mut self, topic: &str, defer_ms: u64, body: &[u8]) {
        self.cmd_body(&format!("DPUB {topic} {defer_ms}"), body);
        self.expect_response(b"OK");
    }

    /// `MPUB topic` with the given messages, expecting `OK`.
    pub fn mpub(&mut self, topic: &str, bodies: &[&[u8]]) {
        self.cmd_body(&format!("MPUB {topic}"), &mpub_body(bodies));
        self.expect_response(b"OK");
    }

    pub fn rdy(&mut self, count: u32) {
        self.cmd(&format!("RDY {count}"));
    }

    pub fn fin(&mut self, id: &str) {
        self.cmd(&format!("FIN {id}"));
    }

    pub fn req(&mut self, id: &str, timeout_ms: u64) {
        self.cmd(&format!("REQ {id} {timeout_ms}"));
    }

    pub fn touch(&mut self, id: &str) {
        self.cmd(&format!("TOUCH {id}"));
    }

    pub fn nop(&mut self) {
        self.cmd("NOP");
    }
}

/// The MPUB body after its size field: `[4-byte count]([4-byte size][bytes])*`.
pub fn mpub_body(bodies: &[&[u8]]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&(bodies.len() as u32).to_be_bytes());
    for b in bodies {
        v.extend_from_slice(&(b.len() as u32).to_be_bytes());
        v.extend_from_slice(b);
    }
    v
}
