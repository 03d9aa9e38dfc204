//! The daemon's shared state: the current options (PUT /config can change some), the upstream
//! client, the notification queue, and the shutdown signal.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::http::HeaderMap;
use parking_lot::RwLock;
use tokio_util::sync::CancellationToken;

use crate::cluster_info::ClusterInfo;
use crate::notify::{AdminAction, Notifier, RequestInfo};
use crate::options::Options;
use crate::upstream::Upstream;

pub struct Admin {
    opts: RwLock<Arc<Options>>,
    pub upstream: Upstream,
    pub ci: ClusterInfo,
    pub notifier: Option<Notifier>,
    /// The OS hostname, sent as `via` in notifications.
    pub hostname: String,
    pub http_addr: SocketAddr,
    pub shutdown: CancellationToken,
}

impl Admin {
    pub fn new(
        opts: Options,
        upstream: Upstream,
        notifier: Option<Notifier>,
        http_addr: SocketAddr,
        shutdown: CancellationToken,
    ) -> Admin {
        Admin {
            opts: RwLock::new(Arc::new(opts)),
            ci: ClusterInfo::new(upstream.clone()),
            upstream,
            notifier,
            hostname: nsq_common::host::os_hostname(),
            http_addr,
            shutdown,
        }
    }

    /// A snapshot of the current options.
    pub fn opts(&self) -> Arc<Options> {
        self.opts.read().clone()
    }

    /// Replaces the options with `f` applied to a copy; `f`'s error leaves them unchanged.
    pub fn update_opts<E>(&self, f: impl FnOnce(&mut Options) -> Result<(), E>) -> Result<(), E> {
        let mut guard = self.opts.write();
        let mut next = (**guard).clone();
        f(&mut next)?;
        *guard = Arc::new(next);
        Ok(())
    }

    /// with no `--admin-user`, everyone is an admin; otherwise the ACL header must
    /// name one of them.
    pub fn is_admin(&self, headers: &HeaderMap) -> bool {
        let opts = self.opts();
        if opts.admin_users.is_empty() {
            return true;
        }
        let user = headers
            .get(opts.acl_http_header.as_str())
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        opts.admin_users.iter().any(|u| u == user)
    }

    /// Queues a notification for an admin action, when an endpoint is configured.
    pub fn notify(&self, action: &str, topic: &str, channel: &str, node: &str, req: &RequestInfo) {
        if let Some(n) = &self.notifier {
            n.send(AdminAction::new(
                action,
                topic,
                channel,
                node,
                req,
                &self.hostname,
            ));
        }
    }
}
