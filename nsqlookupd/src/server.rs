//! Start-up and shutdown (L-040, L-041, LOG-003): bind both listeners, log the real bound
//! addresses, serve until SIGINT or SIGTERM, then close the listeners and every connection.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::lookupd::Lookupd;
use crate::options::Options;

/// A running nsqlookupd. Dropping it does not stop it; call [`Server::shutdown`].
pub struct Server {
    pub lookupd: Arc<Lookupd>,
    pub tcp_addr: SocketAddr,
    pub http_addr: SocketAddr,
    tasks: Vec<JoinHandle<()>>,
}

/// Binds the TCP then the HTTP listener and starts serving. An error is the complete FATAL
/// log text.
pub async fn start(opts: Options) -> Result<Server, String> {
    let instantiate = |e: String| format!("failed to instantiate nsqlookupd - {e}");
    tracing::info!("{}", nsq_protocol::version::version_string("nsqlookupd"));
    let tcp = TcpListener::bind(&opts.tcp_address)
        .await
        .map_err(|e| instantiate(format!("listen ({}) failed - {}", opts.tcp_address, e)))?;
    let http = TcpListener::bind(&opts.http_address)
        .await
        .map_err(|e| instantiate(format!("listen ({}) failed - {}", opts.http_address, e)))?;
    let tcp_addr = tcp.local_addr().map_err(|e| instantiate(e.to_string()))?;
    let http_addr = http.local_addr().map_err(|e| instantiate(e.to_string()))?;
    let lookupd = Arc::new(Lookupd::new(opts, tcp_addr, http_addr));

    tracing::info!("HTTP: listening on {}", http_addr);
    let mut tasks = vec![tokio::spawn(crate::http::serve(lookupd.clone(), http))];
    tracing::info!("TCP: listening on {}", tcp_addr);
    tasks.push(tokio::spawn(crate::tcp::serve(lookupd.clone(), tcp)));
    Ok(Server {
        lookupd,
        tcp_addr,
        http_addr,
        tasks,
    })
}

impl Server {
    /// Closes both listeners and every client connection (L-041).
    pub async fn shutdown(self) {
        tracing::info!("TCP: closing {}", self.tcp_addr);
        tracing::info!("HTTP: closing {}", self.http_addr);
        self.lookupd.shutdown.cancel();
        for t in self.tasks {
            let _ = tokio::time::timeout(Duration::from_secs(5), t).await;
        }
    }
}

/// Runs nsqlookupd until SIGINT or SIGTERM, then shuts down.
pub async fn run(opts: Options) -> Result<(), String> {
    // Handlers go in before the listeners announce themselves: a test harness may signal as
    // soon as it reads the "listening on" lines.
    let signals = Signals::install();
    let server = start(opts).await?;
    signals.wait().await;
    server.shutdown().await;
    Ok(())
}

/// SIGINT and SIGTERM stop the daemon; every other signal keeps its default action.
struct Signals {
    streams: Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>,
}

impl Signals {
    fn install() -> Self {
        use tokio::signal::unix::{signal, SignalKind};
        let streams = match (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) {
            (Ok(i), Ok(t)) => Some((i, t)),
            _ => None,
        };
        Signals { streams }
    }

    async fn wait(self) {
        if let Some((mut int, mut term)) = self.streams {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
            return;
        }
        let _ = tokio::signal::ctrl_c().await;
    }
}
