//! Start-up and shutdown: the A-001 checks, the listener, the notification worker, and
//! serving until SIGINT or SIGTERM.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::admin::Admin;
use crate::notify::Notifier;
use crate::options::{normalize_base_path, Options};
use crate::upstream::Upstream;

/// A running nsqadmin. Dropping it does not stop it; call [`Server::shutdown`].
pub struct Server {
    pub admin: Arc<Admin>,
    pub http_addr: SocketAddr,
    task: JoinHandle<()>,
}

/// Checks the options, binds the HTTP listener and starts serving. An error is the complete
/// FATAL log text.
pub async fn start(mut opts: Options) -> Result<Server, String> {
    let instantiate = |e: String| format!("failed to instantiate nsqadmin - {e}");
    opts.validate().map_err(instantiate)?;
    let upstream = Upstream::new(&opts).map_err(instantiate)?;
    opts.validate_addresses().map_err(instantiate)?;
    opts.base_path = normalize_base_path(&opts.base_path);
    tracing::info!("{}", nsq_protocol::version::version_string("nsqadmin"));
    let listener = TcpListener::bind(&opts.http_address)
        .await
        .map_err(|e| instantiate(format!("listen ({}) failed - {}", opts.http_address, e)))?;
    let http_addr = listener
        .local_addr()
        .map_err(|e| instantiate(e.to_string()))?;
    let shutdown = CancellationToken::new();
    let notifier = (!opts.notification_http_endpoint.is_empty()).then(|| {
        Notifier::start(
            upstream.raw().clone(),
            opts.notification_http_endpoint.clone(),
            shutdown.clone(),
        )
    });
    let admin = Arc::new(Admin::new(opts, upstream, notifier, http_addr, shutdown));
    tracing::info!("HTTP: listening on {}", http_addr);
    let task = tokio::spawn(crate::http::serve(admin.clone(), listener));
    Ok(Server {
        admin,
        http_addr,
        task,
    })
}

impl Server {
    pub async fn shutdown(self) {
        tracing::info!("HTTP: closing {}", self.http_addr);
        self.admin.shutdown.cancel();
        let _ = tokio::time::timeout(Duration::from_secs(5), self.task).await;
    }
}

/// Runs nsqadmin until SIGINT or SIGTERM, then shuts down.
pub async fn run(opts: Options) -> Result<(), String> {
    use tokio::signal::unix::{signal, SignalKind};
    // Handlers go in before the listener announces itself: a harness may signal as soon as
    // it reads the "listening on" line.
    let mut int = signal(SignalKind::interrupt()).map_err(|e| e.to_string())?;
    let mut term = signal(SignalKind::terminate()).map_err(|e| e.to_string())?;
    let server = start(opts).await?;
    tokio::select! {
        _ = int.recv() => {}
        _ = term.recv() => {}
    }
    server.shutdown().await;
    Ok(())
}
