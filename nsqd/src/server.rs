//! Start-up and shutdown: the order of checks, listeners and log lines of §3.10, §3.22 and
//! LOG-003/LOG-004.

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::dirlock::DirLock;
use crate::listen::{self, LocalAddr};
use crate::metadata;
use crate::nsqd::Nsqd;
use crate::options::Options;

/// A running nsqd. Dropping it does not stop it; call [`Server::shutdown`].
pub struct Server {
    pub nsqd: Arc<Nsqd>,
    pub tcp_addr: LocalAddr,
    pub http_addr: Option<LocalAddr>,
    tasks: Vec<JoinHandle<()>>,
    _lock: DirLock,
}

/// Validates the options, takes the data-path lock, restores metadata and binds the listeners.
/// Errors are the complete FATAL log text (BEH-220, BEH-092).
pub async fn start(opts: Options) -> Result<Server, String> {
    let instantiate = |e: String| format!("failed to instantiate nsqd - {e}");
    let lock = DirLock::acquire(&opts.data_path)
        .map_err(|e| instantiate(format!("failed to lock data-path: {e}")))?;
    let mut opts = opts;
    // BEH-220: the option checks and the TLS configurations interleave.
    opts.validate_before_tls().map_err(instantiate)?;
    let tls_config = crate::tls::server_config(&opts)
        .map_err(|e| instantiate(format!("failed to build TLS config - {e}")))?;
    opts.validate_tls_requirement().map_err(instantiate)?;
    // Only a root CA file can make the client side fail; the system roots load when needed.
    if !opts.tls_root_ca_file.is_empty() {
        crate::tls::client_config(&opts)
            .map_err(|e| instantiate(format!("failed to build client TLS config - {e}")))?;
    }
    opts.validate_after_tls().map_err(instantiate)?;

    tracing::info!("{}", nsq_protocol::version::version_string("nsqd"));
    tracing::info!("ID: {}", opts.node_id);

    // BEH-170: TCP and HTTP may be unix sockets; HTTPS is always TCP.
    let tcp_listener = listen::bind(&opts.tcp_address)
        .await
        .map_err(|e| instantiate(format!("listen ({}) failed - {}", opts.tcp_address, e)))?;
    let http_listener =
        if opts.http_address.is_empty() {
            None
        } else {
            Some(listen::bind(&opts.http_address).await.map_err(|e| {
                instantiate(format!("listen ({}) failed - {}", opts.http_address, e))
            })?)
        };
    // BEH-143: HTTPS only with a certificate, and always on TCP.
    let https_listener = match &tls_config {
        Some(config) if !opts.https_address.is_empty() => {
            let l = TcpListener::bind(&opts.https_address).await.map_err(|e| {
                instantiate(format!("listen ({}) failed - {}", opts.https_address, e))
            })?;
            Some((l, config.clone()))
        }
        _ => None,
    };
    let https_port = match &https_listener {
        Some((l, _)) => l.local_addr().map_err(|e| e.to_string())?.port(),
        None => 0,
    };

    crate::durable::ignore_file_size_signal();
    let nsqd = Nsqd::new(opts);
    let meta_path = metadata::path(&nsqd.options().data_path);
    metadata::load(&nsqd).map_err(|e| format!("failed to load metadata - {e}"))?;
    tracing::info!(
        "NSQ: persisting topic/channel metadata to {}",
        meta_path.display()
    );
    metadata::persist(&nsqd).map_err(|e| format!("failed to persist metadata - {e}"))?;

    let tcp_addr = tcp_listener.local_addr().map_err(|e| e.to_string())?;
    match &tcp_addr {
        LocalAddr::Tcp(a) => {
            let _ = nsqd.tcp_addr.set(*a);
        }
        LocalAddr::Unix(p) => {
            let _ = nsqd.tcp_unix.set(p.clone());
        }
    }
    let mut tasks = Vec::new();
    tracing::info!("TCP: listening on {}", tcp_addr);
    tasks.push(tokio::spawn(crate::tcp::serve(
        nsqd.clone(),
        tcp_listener,
        tls_config,
    )));

    let http_addr = match http_listener {
        Some(l) => {
            let addr = l.local_addr().map_err(|e| e.to_string())?;
            // A unix socket has no port: the broadcast port stays as set (BEH-170).
            let port = match &addr {
                LocalAddr::Tcp(a) => {
                    let _ = nsqd.http_addr.set(*a);
                    a.port()
                }
                LocalAddr::Unix(p) => {
                    let _ = nsqd.http_unix.set(p.clone());
                    0
                }
            };
            // BEH-132: `/config/statsd_prefix` shows the prefix with `%s` expanded.
            nsqd.update_options(|o| {
                let port = match o.broadcast_http_port {
                    0 => port,
                    p => p as u16,
                };
                o.statsd_prefix = o.statsd_prefix_expanded(port);
            });
            tracing::info!("HTTP: listening on {}", addr);
            let via = crate::http::Via::Http { https_port };
            tasks.push(tokio::spawn(crate::http::serve_via(nsqd.clone(), l, via)));
            Some(addr)
        }
        None => None,
    };
    if let Some((l, config)) = https_listener {
        let addr = l.local_addr().map_err(|e| e.to_string())?;
        tracing::info!("HTTPS: listening on {}", addr);
        tasks.push(tokio::spawn(crate::https::serve(nsqd.clone(), l, config)));
    }

    tasks.push(tokio::spawn(queue_scan_loop(nsqd.clone())));
    tasks.push(tokio::spawn(crate::lookup::run(nsqd.clone())));
    if !nsqd.options().statsd_address.is_empty() {
        tasks.push(tokio::spawn(crate::statsd::statsd_loop(nsqd.clone())));
    }

    Ok(Server {
        nsqd,
        tcp_addr,
        http_addr,
        tasks,
        _lock: lock,
    })
}

/// Wakes every `QueueScanInterval` to time out in-flight messages and release deferred ones.
async fn queue_scan_loop(nsqd: Arc<Nsqd>) {
    let interval = nsqd
        .options()
        .queue_scan_interval
        .max(Duration::from_millis(1));
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = nsqd.shutdown.cancelled() => break,
            _ = tick.tick() => nsqd.scan_queues(std::time::Instant::now()),
        }
    }
}

impl Server {
    /// The clean shutdown of BEH-100, with the log lines of LOG-004.
    pub async fn shutdown(self) {
        let nsqd = self.nsqd;
        tracing::info!("TCP: closing {}", self.tcp_addr);
        if let Some(a) = &self.http_addr {
            tracing::info!("HTTP: closing {}", a);
        }
        nsqd.shutdown.cancel();
        for t in self.tasks {
            let _ = tokio::time::timeout(Duration::from_secs(5), t).await;
        }
        // As the reference's unix listeners do when closed (see `listen`).
        self.tcp_addr.remove_socket_file();
        if let Some(a) = &self.http_addr {
            a.remove_socket_file();
        }
        let meta_path = metadata::path(&nsqd.options().data_path);
        tracing::info!(
            "NSQ: persisting topic/channel metadata to {}",
            meta_path.display()
        );
        if let Err(e) = metadata::persist(&nsqd) {
            tracing::error!("failed to persist metadata - {}", e);
        }
        tracing::info!("NSQ: closing topics");
        let mut lost = 0;
        for t in nsqd.topics() {
            lost += t.close();
        }
        if lost > 0 {
            tracing::error!(
                "NSQ: {} messages could not be written to disk and are lost",
                lost
            );
        }
        tracing::info!("NSQ: stopping subsystems");
        tracing::info!("LOOKUP: closing");
        tracing::info!("QUEUESCAN: closing");
        tracing::info!("NSQ: bye");
    }
}

/// Runs nsqd until SIGINT or SIGTERM, then shuts down cleanly.
pub async fn run(opts: Options) -> Result<(), String> {
    // Handlers go in before the listeners announce themselves: a test harness may signal as
    // soon as it reads the "listening on" lines.
    let signals = Signals::install();
    let server = start(opts).await?;
    let failed = server.nsqd.listener_failed.clone();
    tokio::select! {
        _ = signals.wait() => {}
        _ = failed.cancelled() => {}
    }
    server.shutdown().await;
    if failed.is_cancelled() {
        // The FATAL line was logged when the listener failed (BEH-104).
        return Err(String::new());
    }
    Ok(())
}

/// SIGINT and SIGTERM start the clean shutdown; every other signal keeps its default action
/// (BEH-103).
struct Signals {
    #[cfg(unix)]
    streams: Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>,
}

impl Signals {
    fn install() -> Self {
        #[cfg(unix)]
        {
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
        #[cfg(not(unix))]
        Signals {}
    }

    async fn wait(self) {
        #[cfg(unix)]
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

#[cfg(test)]
mod tests {
    use super::*;

    async fn start_error(f: impl FnOnce(&mut Options)) -> String {
        let dir = tempfile::tempdir().unwrap();
        let mut opts = Options {
            data_path: dir.path().display().to_string(),
            tcp_address: "127.0.0.1:0".into(),
            http_address: String::new(),
            ..Options::default()
        };
        f(&mut opts);
        match start(opts).await {
            Ok(_) => panic!("start succeeded"),
            Err(e) => e,
        }
    }

    #[tokio::test]
    async fn tls_errors_come_in_the_order_of_beh_220() {
        let missing = "/nonexistent/nsqd-test.pem".to_string();
        let e = start_error(|o| {
            o.node_id = 5000;
            o.tls_cert = missing.clone();
            o.tls_key = missing.clone();
        })
        .await;
        assert_eq!(e, "failed to instantiate nsqd - --node-id must be [0,1024)");

        // The server TLS configuration is built before the remaining option checks.
        for bad in [
            (|o: &mut Options| o.auth_http_request_method = "put".into()) as fn(&mut Options),
            |o| o.e2e_processing_latency_percentiles = vec![2.0],
        ] {
            let e = start_error(|o| {
                o.tls_cert = missing.clone();
                o.tls_key = missing.clone();
                bad(o);
            })
            .await;
            assert!(
                e.starts_with("failed to instantiate nsqd - failed to build TLS config - "),
                "{e}"
            );
        }

        let e = start_error(|o| {
            o.tls_required = crate::options::TlsRequired::Yes;
            o.tls_root_ca_file = missing.clone();
        })
        .await;
        assert_eq!(
            e,
            "failed to instantiate nsqd - cannot require TLS client connections without TLS key \
             and cert"
        );

        let e = start_error(|o| {
            o.tls_root_ca_file = missing.clone();
            o.auth_http_request_method = "put".into();
        })
        .await;
        assert!(
            e.starts_with("failed to instantiate nsqd - failed to build client TLS config - "),
            "{e}"
        );

        let e = start_error(|o| o.auth_http_request_method = "put".into()).await;
        assert_eq!(
            e,
            "failed to instantiate nsqd - --auth-http-request-method must be post or get"
        );
    }
}
