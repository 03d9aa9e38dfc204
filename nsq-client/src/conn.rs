//! One V2 connection to nsqd: dial, IDENTIFY with feature negotiation, the TLS / deflate /
//! snappy upgrades and AUTH (C-001..C-003), then framed reading and command writing through
//! whatever layers were negotiated. Producer, Consumer and the bench tool all build on this.

use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use nsq_protocol::deflate::{DeflateDecoder, DeflateEncoder};
use nsq_protocol::frame::{decode_frame, FrameType, CLOSE_WAIT, HEARTBEAT, OK};
use nsq_protocol::message::Message;
use nsq_protocol::snappy::{SnappyDecoder, SnappyEncoder};
use serde::Deserialize;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::net::TcpStream;

use crate::command;
use crate::config::Config;
use crate::error::{Error, NsqError};
use crate::tls;

/// A frame from nsqd.
#[derive(Clone, Debug)]
pub enum Frame {
    Response(Bytes),
    Error(NsqError),
    Message(Message),
}

impl Frame {
    pub fn is_heartbeat(&self) -> bool {
        matches!(self, Frame::Response(d) if &d[..] == HEARTBEAT)
    }

    pub fn is_ok(&self) -> bool {
        matches!(self, Frame::Response(d) if &d[..] == OK)
    }

    pub fn is_close_wait(&self) -> bool {
        matches!(self, Frame::Response(d) if &d[..] == CLOSE_WAIT)
    }
}

/// nsqd's answer to IDENTIFY with feature negotiation; zero values when the server did not
/// negotiate (it answered a bare `OK`).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct IdentifyResponse {
    pub max_rdy_count: i64,
    pub version: String,
    pub max_msg_timeout: i64,
    pub msg_timeout: i64,
    pub tls_v1: bool,
    pub deflate: bool,
    pub deflate_level: i64,
    pub max_deflate_level: i64,
    pub snappy: bool,
    pub sample_rate: i32,
    pub auth_required: bool,
    pub output_buffer_size: i64,
    pub output_buffer_timeout: i64,
}

/// What AUTH answered.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct AuthResponse {
    pub identity: String,
    pub identity_url: String,
    pub permission_count: i64,
}

pub(crate) trait Stream: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Stream for T {}
type BoxStream = Box<dyn Stream>;

/// Decoded bytes beyond this are left compressed until frames are taken out.
const DECODE_STEP: usize = 256 * 1024;

enum Decoder {
    Plain,
    Snappy(SnappyDecoder),
    Deflate(DeflateDecoder),
}

/// Read-side buffers, kept apart from the stream so a read can be cancelled (in `select!`)
/// without losing bytes: the only await point is `read_buf` into `raw`.
struct ReadState {
    raw: BytesMut,
    plain: BytesMut,
    decoder: Decoder,
    max_size: usize,
}

impl ReadState {
    fn new(max_size: usize) -> Self {
        ReadState {
            raw: BytesMut::with_capacity(64 * 1024),
            plain: BytesMut::new(),
            decoder: Decoder::Plain,
            max_size,
        }
    }

    fn take_frame(buf: &mut BytesMut, max: usize) -> Result<Option<Frame>, Error> {
        let (frame_type, consumed) = match decode_frame(buf, max)? {
            None => return Ok(None),
            Some((t, _, consumed)) => (t, consumed),
        };
        let mut data = buf.split_to(consumed).freeze();
        data.advance(8);
        Ok(Some(match frame_type {
            t if t == FrameType::Response as i32 => Frame::Response(data),
            t if t == FrameType::Error as i32 => Frame::Error(NsqError::from_frame(&data)),
            t if t == FrameType::Message as i32 => Frame::Message(Message::decode_record(data)?),
            t => return Err(Error::UnknownFrameType(t)),
        }))
    }

    fn next_frame(&mut self) -> Result<Option<Frame>, Error> {
        let max = self.max_size;
        loop {
            match &mut self.decoder {
                Decoder::Plain => return Self::take_frame(&mut self.raw, max),
                Decoder::Snappy(_) | Decoder::Deflate(_) => {
                    if let Some(f) = Self::take_frame(&mut self.plain, max)? {
                        return Ok(Some(f));
                    }
                }
            }
            let before = self.plain.len();
            let limit = before + DECODE_STEP;
            match &mut self.decoder {
                Decoder::Plain => unreachable!("handled above"),
                Decoder::Snappy(d) => d.decode(&mut self.raw, &mut self.plain, limit)?,
                Decoder::Deflate(d) => d.decode(&mut self.raw, &mut self.plain, limit)?,
            }
            if self.plain.len() == before {
                return Ok(None);
            }
        }
    }

    async fn read_frame<R: AsyncRead + Unpin + ?Sized>(
        &mut self,
        rd: &mut R,
    ) -> Result<Frame, Error> {
        loop {
            if let Some(f) = self.next_frame()? {
                return Ok(f);
            }
            if self.raw.capacity() - self.raw.len() < 4096 {
                self.raw.reserve(64 * 1024);
            }
            if rd.read_buf(&mut self.raw).await? == 0 {
                return Err(Error::Closed);
            }
        }
    }
}

enum Encoder {
    Plain,
    Snappy(Box<SnappyEncoder>, Vec<u8>),
    Deflate(DeflateEncoder, Vec<u8>),
}

async fn write_through<W: AsyncWrite + Unpin + ?Sized>(
    wr: &mut W,
    enc: &mut Encoder,
    data: &[u8],
) -> Result<(), Error> {
    match enc {
        Encoder::Plain => wr.write_all(data).await?,
        Encoder::Snappy(e, out) => {
            out.clear();
            e.encode(data, out);
            wr.write_all(out).await?;
        }
        Encoder::Deflate(e, out) => {
            out.clear();
            e.encode(data, out)?;
            wr.write_all(out).await?;
        }
    }
    wr.flush().await?;
    Ok(())
}

/// The receiving half of a connection.
pub struct ConnReader {
    rd: ReadHalf<BoxStream>,
    state: ReadState,
}

impl ConnReader {
    /// The next frame; [`Error::Closed`] once nsqd has closed the connection. Cancel-safe.
    pub async fn read_frame(&mut self) -> Result<Frame, Error> {
        self.state.read_frame(&mut self.rd).await
    }

    /// A frame already received and buffered, without waiting for the network.
    pub fn try_frame(&mut self) -> Result<Option<Frame>, Error> {
        self.state.next_frame()
    }
}

/// The sending half: commands are appended to [`ConnWriter::buf`] and sent by `flush`.
pub struct ConnWriter {
    wr: WriteHalf<BoxStream>,
    encoder: Encoder,
    /// Commands not yet sent; the `command` module appends here.
    pub buf: BytesMut,
    write_timeout: Duration,
}

impl ConnWriter {
    /// Sends everything in `buf` through the negotiated layers.
    pub async fn flush(&mut self) -> Result<(), Error> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let fut = write_through(&mut self.wr, &mut self.encoder, &self.buf);
        match tokio::time::timeout(self.write_timeout, fut).await {
            Ok(r) => r?,
            Err(_) => {
                return Err(Error::Io(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "write timed out",
                )))
            }
        }
        self.buf.clear();
        Ok(())
    }

    /// Sends `buf` (if anything is pending) and then `data`, without copying `data` into
    /// `buf`: for large prebuilt commands sent over and over.
    pub async fn write_raw(&mut self, data: &[u8]) -> Result<(), Error> {
        self.flush().await?;
        let fut = write_through(&mut self.wr, &mut self.encoder, data);
        match tokio::time::timeout(self.write_timeout, fut).await {
            Ok(r) => r,
            Err(_) => Err(Error::Io(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "write timed out",
            ))),
        }
    }

    /// Closes the sending direction (nsqd then sees EOF).
    pub async fn shutdown(&mut self) -> Result<(), Error> {
        self.wr.shutdown().await?;
        Ok(())
    }
}

/// A connected, identified (and possibly upgraded and authenticated) connection.
pub struct Conn {
    pub reader: ConnReader,
    pub writer: ConnWriter,
    pub identify: IdentifyResponse,
    pub auth: Option<AuthResponse>,
    pub addr: String,
}

impl Conn {
    /// Dials `addr` (`host:port`) and runs the handshake go-nsq runs.
    pub async fn connect(addr: &str, config: &Config) -> Result<Conn, Error> {
        Self::connect_with_identify(addr, config, &config.identify_json()).await
    }

    /// Like [`Conn::connect`] with a caller-built IDENTIFY body (the bench tool sends the same
    /// fields as NSQ's bench tools). Upgrades still follow `config`.
    pub async fn connect_with_identify(
        addr: &str,
        config: &Config,
        identify_body: &[u8],
    ) -> Result<Conn, Error> {
        let tcp = match tokio::time::timeout(config.dial_timeout, TcpStream::connect(addr)).await {
            Ok(r) => r?,
            Err(_) => {
                return Err(Error::DialTimeout {
                    addr: addr.to_string(),
                })
            }
        };
        tcp.set_nodelay(true)?;
        Self::handshake(tcp, addr, config, identify_body).await
    }

    async fn handshake(
        mut tcp: TcpStream,
        addr: &str,
        config: &Config,
        identify_body: &[u8],
    ) -> Result<Conn, Error> {
        let mut state = ReadState::new(config.max_msg_size);
        let mut out = BytesMut::new();
        out.extend_from_slice(nsq_protocol::MAGIC_V2);
        command::identify(&mut out, identify_body);
        tcp.write_all(&out).await?;

        let identify = match state.read_frame(&mut tcp).await? {
            Frame::Response(d) if d.first() == Some(&b'{') => {
                serde_json::from_slice::<IdentifyResponse>(&d)
                    .map_err(|e| Error::Handshake(format!("bad IDENTIFY response: {e}")))?
            }
            Frame::Response(_) => IdentifyResponse::default(),
            Frame::Error(e) => return Err(Error::Nsq(e)),
            Frame::Message(_) => return Err(Error::Handshake("message before IDENTIFY".into())),
        };

        let mut stream: BoxStream = if identify.tls_v1 {
            let connector = tls::connector(config)?;
            let name = tls::server_name(config, addr)?;
            let tls = connector
                .connect(name, tcp)
                .await
                .map_err(|e| Error::Tls(e.to_string()))?;
            Box::new(tls)
        } else {
            Box::new(tcp)
        };
        if identify.tls_v1 {
            expect_ok(&mut state, &mut stream, "TLS").await?;
        }
        let mut encoder = Encoder::Plain;
        if identify.deflate {
            let level = if identify.deflate_level > 0 {
                identify.deflate_level
            } else {
                config.deflate_level
            };
            encoder = Encoder::Deflate(DeflateEncoder::new(level), Vec::new());
            state.decoder = Decoder::Deflate(DeflateDecoder::new());
            // Bytes already read belong to the new layer.
            state.plain.clear();
            expect_ok(&mut state, &mut stream, "Deflate").await?;
        }
        if identify.snappy {
            encoder = Encoder::Snappy(Box::new(SnappyEncoder::new()), Vec::new());
            state.decoder = Decoder::Snappy(SnappyDecoder::new());
            state.plain.clear();
            expect_ok(&mut state, &mut stream, "Snappy").await?;
        }

        let mut auth = None;
        if identify.auth_required {
            let Some(secret) = &config.auth_secret else {
                return Err(Error::AuthRequired);
            };
            let mut out = BytesMut::new();
            command::auth(&mut out, secret.as_bytes());
            write_through(&mut stream, &mut encoder, &out).await?;
            match state.read_frame(&mut stream).await? {
                Frame::Response(d) => {
                    auth = Some(serde_json::from_slice(&d).unwrap_or_default());
                }
                Frame::Error(e) => return Err(Error::Auth(e.to_string())),
                Frame::Message(_) => return Err(Error::Handshake("message before AUTH".into())),
            }
        }

        let (rd, wr) = tokio::io::split(stream);
        Ok(Conn {
            reader: ConnReader { rd, state },
            writer: ConnWriter {
                wr,
                encoder,
                buf: BytesMut::with_capacity(16 * 1024),
                write_timeout: config.write_timeout,
            },
            identify,
            auth,
            addr: addr.to_string(),
        })
    }

    /// Sends `SUB` and waits for its `OK`.
    pub async fn subscribe(&mut self, topic: &str, channel: &str) -> Result<(), Error> {
        command::subscribe(&mut self.writer.buf, topic, channel);
        self.writer.flush().await?;
        self.expect_ok().await
    }

    /// Reads until a non-heartbeat frame, answering heartbeats; it must be `OK`.
    pub async fn expect_ok(&mut self) -> Result<(), Error> {
        loop {
            match self.reader.read_frame().await? {
                f if f.is_heartbeat() => {
                    command::nop(&mut self.writer.buf);
                    self.writer.flush().await?;
                }
                f if f.is_ok() => return Ok(()),
                Frame::Error(e) => return Err(Error::Nsq(e)),
                other => return Err(Error::Handshake(format!("expected OK, got {other:?}"))),
            }
        }
    }
}

async fn expect_ok(state: &mut ReadState, stream: &mut BoxStream, what: &str) -> Result<(), Error> {
    match state.read_frame(stream).await? {
        f if f.is_ok() => Ok(()),
        _ => Err(Error::Handshake(format!(
            "invalid response from {what} upgrade"
        ))),
    }
}
