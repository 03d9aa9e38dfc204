//! The TCP listener and one task per connection: the `"  V1"` magic, then command lines and
//! size-prefixed responses (L-001..L-003). What the commands do is in `protocol`.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

use crate::lookupd::Lookupd;
use crate::protocol::{self, Client, Command, IdentifyBody, MAGIC_V1, MAX_IDENTIFY_BODY};

/// A command line longer than this ends the connection: nsqd's lines are a few dozen bytes,
/// and an endless line must not grow the buffer without bound.
const MAX_LINE: u64 = 64 * 1024;

/// Accepts connections until shutdown, then waits for every connection task to finish (each
/// one stops on the same signal).
pub async fn serve(lookupd: Arc<Lookupd>, listener: TcpListener) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            _ = lookupd.shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, remote)) => {
                    conns.spawn(handle(lookupd.clone(), stream, remote));
                }
                Err(e) => {
                    tracing::error!("TCP: accept failed - {}", e);
                    // Out of file descriptors and the like: give the system a moment.
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    drop(listener);
    while conns.join_next().await.is_some() {}
}

async fn handle(lookupd: Arc<Lookupd>, stream: TcpStream, remote: SocketAddr) {
    tracing::info!("TCP: new client({})", remote);
    let mut client = Client::new(remote.to_string());
    let shutdown = lookupd.shutdown.clone();
    let spoke_v1 = tokio::select! {
        _ = shutdown.cancelled() => true,
        speaks_v1 = run(&lookupd, &mut client, stream) => speaks_v1,
    };
    if spoke_v1 {
        tracing::info!("PROTOCOL(V1): [{}] exiting ioloop", remote);
    }
    protocol::disconnect(&lookupd, &client);
}

/// Serves one connection; false when it did not speak protocol V1.
async fn run(lookupd: &Lookupd, client: &mut Client, stream: TcpStream) -> bool {
    let _ = stream.set_nodelay(true);
    let (rd, mut wr) = stream.into_split();
    let mut reader = BufReader::new(rd);

    let mut magic = [0u8; 4];
    if let Err(e) = reader.read_exact(&mut magic).await {
        tracing::error!("failed to read protocol version - {}", e);
        return false;
    }
    let magic_text = String::from_utf8_lossy(&magic).into_owned();
    tracing::info!(
        "CLIENT({}): desired protocol magic '{}'",
        client.remote,
        magic_text
    );
    if &magic != MAGIC_V1 {
        let _ = send(&mut wr, b"E_BAD_PROTOCOL").await;
        tracing::error!(
            "client({}) bad protocol magic '{}'",
            client.remote,
            magic_text
        );
        return false;
    }
    if let Err(e) = io_loop(lookupd, client, &mut reader, &mut wr).await {
        tracing::error!("client({}) - {}", client.remote, e);
    }
    true
}

/// Reads and answers commands until EOF, an I/O error, or a fatal protocol error (which is sent
/// first). Returns the I/O error, if any, for the log.
async fn io_loop<R, W>(
    lookupd: &Lookupd,
    client: &mut Client,
    reader: &mut BufReader<R>,
    wr: &mut W,
) -> std::io::Result<()>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut line = Vec::with_capacity(128);
    loop {
        line.clear();
        let n = (&mut *reader)
            .take(MAX_LINE)
            .read_until(b'\n', &mut line)
            .await?;
        if n == 0 || line.last() != Some(&b'\n') {
            if n as u64 == MAX_LINE {
                return Err(std::io::Error::other("command line too long"));
            }
            // EOF, possibly after a partial line: the reference ignores the partial line.
            return Ok(());
        }
        let result = match protocol::parse_line(&line) {
            Command::Ping => Ok(protocol::ping(client).to_vec()),
            Command::Identify => match protocol::check_identify(client) {
                Ok(()) => {
                    let body = read_identify_body(reader).await;
                    protocol::identify(lookupd, client, body)
                }
                Err(e) => Err(e),
            },
            Command::Register(params) => {
                protocol::register(lookupd, client, &params).map(<[u8]>::to_vec)
            }
            Command::Unregister(params) => {
                protocol::unregister(lookupd, client, &params).map(<[u8]>::to_vec)
            }
            Command::Unknown(name) => {
                let mut desc = b"invalid command ".to_vec();
                desc.extend_from_slice(name);
                Err(protocol::FatalError {
                    code: "E_INVALID",
                    desc,
                })
            }
        };
        match result {
            Ok(resp) => send(wr, &resp).await?,
            Err(e) => {
                let data = e.to_bytes();
                tracing::error!("[{}] - {}", client.remote, String::from_utf8_lossy(&data));
                send(wr, &data).await?;
                return Ok(());
            }
        }
    }
}

async fn read_identify_body<R: AsyncRead + Unpin>(reader: &mut BufReader<R>) -> IdentifyBody {
    let Ok(size) = reader.read_i32().await else {
        return IdentifyBody::NoSize;
    };
    if !(0..=MAX_IDENTIFY_BODY).contains(&size) {
        return IdentifyBody::BadSize(size);
    }
    let mut body = vec![0u8; size as usize];
    match reader.read_exact(&mut body).await {
        Ok(_) => IdentifyBody::Read(body),
        Err(_) => IdentifyBody::Short,
    }
}

/// Writes one response: `[4-byte BE size][data]` (L-002).
async fn send<W: AsyncWrite + Unpin>(wr: &mut W, data: &[u8]) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(4 + data.len());
    buf.extend_from_slice(&(data.len() as u32).to_be_bytes());
    buf.extend_from_slice(data);
    wr.write_all(&buf).await?;
    wr.flush().await
}
