//! AUTH, and the auth-server checks that SUB and the publishes make (BEH-150..).

use std::future::Future;
use std::pin::Pin;

use bytes::BytesMut;
use nsq_protocol::error::{self as err, ProtocolError};

use super::{as_name, body_size, take_body, CmdResult};
use crate::auth::{AuthError, AuthState, Check};
use crate::client::STATE_INIT;
use crate::tcp::connection::{Connection, Exec};

/// Why a command waits for the auth server.
pub(in crate::tcp) enum AuthWaitKind {
    /// AUTH itself, with the secret it sent.
    Auth(Vec<u8>),
    /// A SUB/PUB/MPUB/DPUB whose cached answer expired; it runs again once answered.
    Refresh,
}

/// An auth-server query the connection awaits before it runs any further command, so that
/// commands stay strictly in order.
pub(in crate::tcp) struct PendingAuth {
    pub kind: AuthWaitKind,
    pub query: Pin<Box<dyn Future<Output = Result<AuthState, AuthError>> + Send>>,
}

impl Connection {
    pub(super) fn auth(
        &mut self,
        params: &[&[u8]],
        rbuf: &mut BytesMut,
        line_len: usize,
    ) -> CmdResult {
        if self.state() != STATE_INIT {
            return Err(err::cannot_in_state("AUTH"));
        }
        if params.len() != 1 {
            return Err(err::auth_invalid_parameters());
        }
        let Some(size) = body_size(rbuf, line_len) else {
            return Ok(Exec::NeedMore(line_len + 4));
        };
        if size > self.limits.max_body_size {
            return Err(err::body_too_big("AUTH", size, self.limits.max_body_size));
        }
        if size <= 0 {
            return Err(err::invalid_body_size("AUTH", size));
        }
        let total = line_len + 4 + size as usize;
        if rbuf.len() < total {
            return Ok(Exec::NeedMore(total));
        }
        let secret = take_body(rbuf, line_len, size as usize);
        if self.auth.has_authorizations() {
            return Err(err::auth_already_set());
        }
        if !self.limits.identify.auth_enabled {
            return Err(err::auth_disabled());
        }
        let secret = secret.to_vec();
        let query = self.auth_query(secret.clone());
        Ok(Exec::Auth(PendingAuth {
            kind: AuthWaitKind::Auth(secret),
            query,
        }))
    }

    /// Starts an auth-server query for this client with `secret` (BEH-151).
    pub(super) fn auth_query(
        &self,
        secret: Vec<u8>,
    ) -> Pin<Box<dyn Future<Output = Result<AuthState, AuthError>> + Send>> {
        let opts = self.nsqd.options();
        let remote_ip = self
            .client
            .remote_address
            .parse::<std::net::SocketAddr>()
            .map(|a| a.ip().to_string())
            .unwrap_or_default();
        let (tls, common_name) = {
            let info = self.client.info.lock();
            (info.tls, info.tls_common_name.clone())
        };
        let params = crate::auth::QueryParams {
            remote_ip,
            tls,
            secret,
            common_name,
        };
        Box::pin(async move { crate::auth::query_any(&opts, &params).await })
    }

    /// Applies the auth server's answer to the command that waited for it. Errors are fatal.
    pub(in crate::tcp) fn auth_answered(
        &mut self,
        kind: AuthWaitKind,
        result: Result<AuthState, AuthError>,
    ) -> Result<(), ProtocolError> {
        let state = result.map_err(|e| {
            // The auth server's own error stays in the log (P-122).
            tracing::warn!(
                "PROTOCOL(V2): [{}] AUTH failed {}",
                self.client.remote_address,
                e
            );
            err::auth_failed()
        })?;
        {
            let mut info = self.client.info.lock();
            info.authed = state.has_authorizations();
            info.auth_identity = state.identity.clone();
            info.auth_identity_url = state.identity_url.clone();
        }
        match kind {
            AuthWaitKind::Auth(secret) => {
                let json = nsq_protocol::json::auth_response(
                    &state.identity,
                    &state.identity_url,
                    state.permission_count() as i64,
                );
                let any = state.has_authorizations();
                self.auth.authenticated(secret, state);
                if !any {
                    return Err(err::auth_no_authorizations());
                }
                self.send_response(json.as_bytes());
            }
            AuthWaitKind::Refresh => self.auth.refreshed(state),
        }
        Ok(())
    }

    /// The auth check of SUB, PUB, MPUB and DPUB (P-123). `Some` when the cached answer has
    /// expired: the command must wait for a fresh one and then run again from the start, so
    /// callers check before consuming anything from the read buffer.
    pub(super) fn check_auth(
        &mut self,
        cmd: &str,
        topic: &[u8],
        channel: &[u8],
    ) -> Result<Option<Exec>, ProtocolError> {
        if !self.limits.identify.auth_enabled {
            return Ok(None);
        }
        let now = std::time::Instant::now();
        match self.auth.check(as_name(topic), as_name(channel), now) {
            Check::Allowed => Ok(None),
            Check::Denied => Err(err::unauthorized(cmd, topic, channel)),
            Check::AuthFirst => Err(err::auth_first(cmd)),
            Check::Refresh => Ok(Some(Exec::Auth(PendingAuth {
                kind: AuthWaitKind::Refresh,
                query: self.auth_query(self.auth.secret().to_vec()),
            }))),
        }
    }
}
