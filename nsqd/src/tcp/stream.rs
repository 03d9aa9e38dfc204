//! The byte layers under a connection (P-080): the socket (TCP or unix, P-006), plain or TLS,
//! and the optional
//! snappy or deflate compression, applied to whole buffers so the command parser keeps working
//! on plain bytes in place.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes, BytesMut};
use nsq_protocol::deflate::{DeflateDecoder, DeflateEncoder};
use nsq_protocol::snappy::{SnappyDecoder, SnappyEncoder};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpStream, UnixStream};
use tokio_rustls::server::TlsStream;

/// The accepted socket, before any TLS layer.
pub enum Socket {
    Tcp(TcpStream),
    Unix(UnixStream),
}

/// A socket between runtimes: taken off the accepting runtime's reactor, not yet registered
/// with the one that will serve it.
pub enum DetachedSocket {
    Tcp(std::net::TcpStream),
    Unix(std::os::unix::net::UnixStream),
}

impl Socket {
    pub fn detach(self) -> io::Result<DetachedSocket> {
        Ok(match self {
            Socket::Tcp(s) => DetachedSocket::Tcp(s.into_std()?),
            Socket::Unix(s) => DetachedSocket::Unix(s.into_std()?),
        })
    }

    /// Registers a detached socket with the current runtime.
    pub fn attach(s: DetachedSocket) -> io::Result<Socket> {
        Ok(match s {
            DetachedSocket::Tcp(s) => Socket::Tcp(TcpStream::from_std(s)?),
            DetachedSocket::Unix(s) => Socket::Unix(UnixStream::from_std(s)?),
        })
    }
}

impl AsyncRead for Socket {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Socket::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            Socket::Unix(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Socket {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Socket::Tcp(s) => Pin::new(s).poll_write(cx, buf),
            Socket::Unix(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Socket::Tcp(s) => Pin::new(s).poll_flush(cx),
            Socket::Unix(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Socket::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            Socket::Unix(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}

/// The client's socket.
pub enum Stream {
    Plain(Socket),
    Tls(Box<TlsStream<Rewind>>),
    /// Only while the socket is handed to a TLS handshake that failed or timed out.
    Gone,
}

fn gone() -> io::Error {
    io::Error::new(io::ErrorKind::NotConnected, "connection closed")
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => match Pin::new(s.as_mut()).poll_read(cx, buf) {
                // Clients often close without a TLS close_notify; as in Go that is simply the
                // end of the stream, not an error to log.
                Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::UnexpectedEof => {
                    Poll::Ready(Ok(()))
                }
                other => other,
            },
            Stream::Gone => Poll::Ready(Err(gone())),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
            Stream::Gone => Poll::Ready(Err(gone())),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
            Stream::Gone => Poll::Ready(Ok(())),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
            Stream::Gone => Poll::Ready(Ok(())),
        }
    }
}

/// A socket that first gives back bytes already read from it: what a client sent after its
/// IDENTIFY without waiting for the answer belongs to the TLS handshake.
pub struct Rewind {
    prefix: Bytes,
    inner: Socket,
}

impl Rewind {
    pub fn new(prefix: Bytes, inner: Socket) -> Self {
        Rewind { prefix, inner }
    }

    pub fn into_inner(self) -> Socket {
        self.inner
    }
}

impl AsyncRead for Rewind {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.prefix.is_empty() {
            let n = this.prefix.len().min(buf.remaining());
            buf.put_slice(&this.prefix[..n]);
            this.prefix.advance(n);
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Rewind {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// The compression a client negotiated; both directions use it.
pub enum Compression {
    Snappy(Box<SnappyEncoder>, SnappyDecoder),
    Deflate(DeflateEncoder, DeflateDecoder),
}

impl Compression {
    pub fn snappy() -> Self {
        Compression::Snappy(Box::new(SnappyEncoder::new()), SnappyDecoder::new())
    }

    pub fn deflate(level: i64) -> Self {
        Compression::Deflate(DeflateEncoder::new(level), DeflateDecoder::new())
    }

    /// Appends the compressed form of `data` to `out`, complete up to a point the client can
    /// decode without waiting for more.
    pub fn encode(&mut self, data: &[u8], out: &mut Vec<u8>) -> io::Result<()> {
        match self {
            Compression::Snappy(e, _) => {
                e.encode(data, out);
                Ok(())
            }
            Compression::Deflate(e, _) => e.encode(data, out).map_err(io::Error::other),
        }
    }

    /// Moves decodable bytes from `input` into `out` (see the decoders for `limit`).
    pub fn decode(
        &mut self,
        input: &mut BytesMut,
        out: &mut BytesMut,
        limit: usize,
    ) -> io::Result<()> {
        match self {
            Compression::Snappy(_, d) => d
                .decode(input, out, limit)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e)),
            Compression::Deflate(_, d) => d
                .decode(input, out, limit)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e)),
        }
    }

    /// The client ended its compressed stream: treat it like the end of the connection.
    pub fn finished(&self) -> bool {
        match self {
            Compression::Snappy(..) => false,
            Compression::Deflate(_, d) => d.is_finished(),
        }
    }
}
