//! The HTTPS listener (BEH-143, H-010): TLS handshakes in front of the same HTTP API router.
//!
//! Handshakes run in their own tasks, so one slow client cannot hold up the others; finished
//! ones are handed to the HTTP server through a channel.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::serve::ListenerExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;

use crate::http::Via;
use crate::nsqd::Nsqd;

/// A client that has not finished its handshake by then is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Finished handshakes waiting for the HTTP server to pick them up.
const READY_BACKLOG: usize = 64;

/// Serves the API over TLS on `listener` until nsqd shuts down.
pub async fn serve(nsqd: Arc<Nsqd>, listener: TcpListener, config: Arc<rustls::ServerConfig>) {
    let local = match listener.local_addr() {
        Ok(a) => a,
        Err(e) => {
            tracing::error!("HTTPS: serve failed - {}", e);
            return;
        }
    };
    let (ready_tx, ready_rx) = mpsc::channel(READY_BACKLOG);
    tokio::spawn(accept_loop(
        nsqd.clone(),
        listener,
        TlsAcceptor::from(config),
        ready_tx,
    ));
    // `tap_io` gives the listener axum's `SocketAddr` connect info, used by the request log.
    let listener = TlsListener {
        ready: ready_rx,
        local,
    }
    .tap_io(|_| {});
    let app = crate::http::router_via(nsqd.clone(), Via::Https)
        .into_make_service_with_connect_info::<SocketAddr>();
    let shutdown = nsqd.shutdown.clone();
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await;
    if let Err(e) = served {
        tracing::error!("HTTPS: serve failed - {}", e);
    }
    tracing::info!("HTTPS: closing {}", local);
}

async fn accept_loop(
    nsqd: Arc<Nsqd>,
    listener: TcpListener,
    acceptor: TlsAcceptor,
    ready: mpsc::Sender<(TlsStream<TcpStream>, SocketAddr)>,
) {
    loop {
        let accepted = tokio::select! {
            _ = nsqd.shutdown.cancelled() => break,
            r = listener.accept() => r,
        };
        let (tcp, peer) = match accepted {
            Ok(a) => a,
            Err(e) if crate::listen::accept_error_is_transient(&e) => {
                tracing::warn!("HTTPS: temporary Accept() failure - {}", e);
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
            Err(e) => {
                nsqd.fail_listener(&format!("http.Serve() error - {e}"));
                break;
            }
        };
        let acceptor = acceptor.clone();
        let ready = ready.clone();
        tokio::spawn(async move {
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(tls)) => {
                    let _ = ready.send((tls, peer)).await;
                }
                Ok(Err(e)) => tracing::debug!("HTTPS: handshake with {} failed - {}", peer, e),
                Err(_) => tracing::debug!("HTTPS: handshake with {} timed out", peer),
            }
        });
    }
}

/// The finished handshakes, as axum's listener.
struct TlsListener {
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(conn) => conn,
            // The accept loop stopped at shutdown; the server is about to stop asking.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}
