//! The TCP listener (protocol V2, on a TCP or unix socket): accepts connections, checks the
//! magic, and runs one connection task per client.

mod commands;
mod connection;
mod runtimes;
mod stream;

use std::sync::Arc;

use nsq_protocol::error::bad_protocol;
use nsq_protocol::frame::{write_frame, FrameType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::listen::{Listener, Peer};
use crate::nsqd::Nsqd;

pub use connection::Connection;
pub use stream::Socket;

/// Accepts clients until shutdown. `tls` is the server side of TLS when a certificate is
/// configured: clients may then upgrade with IDENTIFY (P-080).
pub async fn serve(nsqd: Arc<Nsqd>, listener: Listener, tls: Option<Arc<rustls::ServerConfig>>) {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let runtimes = match runtimes::ConnRuntimes::start(cpus) {
        Ok(r) => r,
        Err(e) => {
            nsqd.fail_listener(&format!("failed to start the connection threads - {e}"));
            return;
        }
    };
    loop {
        let accepted = tokio::select! {
            _ = nsqd.shutdown.cancelled() => break,
            r = listener.accept() => r,
        };
        match accepted {
            Ok((stream, peer)) => {
                tracing::info!("TCP: new client({})", peer.address);
                let stream = match stream.detach() {
                    Ok(s) => s,
                    Err(e) => {
                        tracing::error!("TCP: client({}) lost - {}", peer.address, e);
                        continue;
                    }
                };
                let (nsqd, tls) = (nsqd.clone(), tls.clone());
                runtimes.spawn(async move {
                    match Socket::attach(stream) {
                        Ok(stream) => handle(nsqd, stream, peer, tls).await,
                        Err(e) => tracing::error!("TCP: client({}) lost - {}", peer.address, e),
                    }
                });
            }
            Err(e) if crate::listen::accept_error_is_transient(&e) => {
                // Running out of file descriptors and the like passes; back off briefly.
                tracing::warn!("temporary Accept() failure - {}", e);
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            Err(e) => {
                nsqd.fail_listener(&format!("listener.Accept() error - {e}"));
                break;
            }
        }
    }
}

async fn handle(
    nsqd: Arc<Nsqd>,
    mut stream: Socket,
    peer: Peer,
    tls: Option<Arc<rustls::ServerConfig>>,
) {
    let mut magic = [0u8; 4];
    let read = tokio::select! {
        _ = nsqd.shutdown.cancelled() => return,
        r = stream.read_exact(&mut magic) => r,
    };
    if read.is_err() {
        // P-003: closed before the magic arrived; nothing to say.
        return;
    }
    if &magic != nsq_protocol::MAGIC_V2 {
        tracing::error!(
            "client({}) bad protocol magic '{}'",
            peer.address,
            String::from_utf8_lossy(&magic)
        );
        let mut buf = bytes::BytesMut::new();
        write_frame(
            &mut buf,
            FrameType::Error,
            bad_protocol().frame_data().as_bytes(),
        );
        let _ = stream.write_all(&buf).await;
        return;
    }
    let client = nsqd.add_client(peer.address, peer.ip);
    let id = client.id;
    Connection::new(nsqd.clone(), client, stream, tls)
        .run()
        .await;
    nsqd.remove_client(id);
}
