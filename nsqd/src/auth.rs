//! Authorization against external auth servers (§3.15): the query, the validated answer with
//! its compiled regexes, and a connection's cached state with its TTL.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::Rng;
use regex::Regex;
use serde::Deserialize;

use crate::http_client::{self, HttpError, Settings};
use crate::options::Options;

const ACCEPT_V1: &str = "application/vnd.nsq; version=1.0";

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("{0}")]
    Http(#[from] HttpError),
    /// `status` is the status line after the version; `body` is already Go-quoted.
    #[error("got response {status} {body}")]
    Status { status: String, body: String },
    #[error("{0}")]
    Json(#[from] serde_json::Error),
    #[error("unknown permission {0}")]
    UnknownPermission(String),
    #[error("unable to compile topic {pattern} {reason}")]
    TopicRegex { pattern: String, reason: String },
    #[error("unable to compile channel {pattern} {reason}")]
    ChannelRegex { pattern: String, reason: String },
    #[error("invalid TTL {0} (must be >0)")]
    InvalidTtl(i64),
    /// Every server failed: `failed to auth against <addr> - <err>; …` (BEH-153).
    #[error("{0}")]
    AllFailed(String),
}

/// What nsqd tells the auth server about a client (BEH-151).
#[derive(Debug, Clone, Default)]
pub struct QueryParams {
    /// Empty for clients on unix sockets.
    pub remote_ip: String,
    pub tls: bool,
    pub secret: Vec<u8>,
    /// The CN of the client certificate, when there is one.
    pub common_name: String,
}

impl QueryParams {
    /// `url.Values.Encode()` order and escaping: keys sorted, `+` for space, `%XX` otherwise.
    pub fn query_string(&self) -> String {
        let mut out = String::with_capacity(64 + self.secret.len() * 3);
        for (i, (key, value)) in self.pairs().iter().enumerate() {
            if i > 0 {
                out.push('&');
            }
            out.push_str(key);
            out.push('=');
            query_escape(&mut out, value);
        }
        out
    }

    /// The POST body: each name mapped to a one-element array, keys sorted, as Go marshals
    /// `url.Values` (invalid UTF-8 in the secret becomes U+FFFD, as in Go).
    pub fn json_body(&self) -> String {
        let mut out = String::with_capacity(96 + self.secret.len());
        out.push('{');
        for (i, (key, value)) in self.pairs().iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push('"');
            out.push_str(key);
            out.push_str("\":[");
            nsq_protocol::json::push_json_string(&mut out, &String::from_utf8_lossy(value));
            out.push(']');
        }
        out.push('}');
        out
    }

    fn pairs(&self) -> [(&'static str, &[u8]); 4] {
        [
            ("common_name", self.common_name.as_bytes()),
            ("remote_ip", self.remote_ip.as_bytes()),
            ("secret", &self.secret),
            ("tls", if self.tls { b"true" } else { b"false" }),
        ]
    }
}

fn query_escape(out: &mut String, value: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in value {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => {
                out.push('%');
                out.push(HEX[usize::from(b >> 4)] as char);
                out.push(HEX[usize::from(b & 0xf)] as char);
            }
        }
    }
}

/// The auth server's answer as sent (BEH-152). Missing fields take their zero values.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawState {
    ttl: i64,
    authorizations: Option<Vec<RawAuthorization>>,
    identity: Option<String>,
    identity_url: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawAuthorization {
    topic: Option<String>,
    channels: Option<Vec<String>>,
    permissions: Option<Vec<String>>,
}

/// One grant: which topics and channels, for subscribing and/or publishing.
#[derive(Debug, Clone)]
pub struct Authorization {
    topic: Regex,
    channels: Vec<Regex>,
    subscribe: bool,
    publish: bool,
}

impl Authorization {
    /// BEH-154: SUB needs `subscribe`, publishes (channel "") need `publish`; the topic regex
    /// and one channel regex must match, unanchored.
    fn is_allowed(&self, topic: &str, channel: &str) -> bool {
        let permitted = if channel.is_empty() {
            self.publish
        } else {
            self.subscribe
        };
        permitted && self.topic.is_match(topic) && self.channels.iter().any(|c| c.is_match(channel))
    }
}

/// A validated answer from the auth server.
#[derive(Debug, Clone)]
pub struct AuthState {
    pub identity: String,
    pub identity_url: String,
    authorizations: Vec<Authorization>,
    expires: Instant,
}

impl AuthState {
    /// Validates and compiles an answer received at `now` (BEH-152). The checks run in the
    /// reference's order: permissions and regexes per authorization, then the TTL.
    pub fn from_json(body: &[u8], now: Instant) -> Result<AuthState, AuthError> {
        let raw: RawState = serde_json::from_slice(body)?;
        let mut authorizations = Vec::new();
        for a in raw.authorizations.unwrap_or_default() {
            let (mut subscribe, mut publish) = (false, false);
            for p in a.permissions.unwrap_or_default() {
                match p.as_str() {
                    "subscribe" => subscribe = true,
                    "publish" => publish = true,
                    _ => return Err(AuthError::UnknownPermission(p)),
                }
            }
            let pattern = a.topic.unwrap_or_default();
            let topic = Regex::new(&pattern).map_err(|e| AuthError::TopicRegex {
                pattern: quote(&pattern),
                reason: one_line(&e),
            })?;
            let mut channels = Vec::new();
            for pattern in a.channels.unwrap_or_default() {
                channels.push(Regex::new(&pattern).map_err(|e| AuthError::ChannelRegex {
                    pattern: quote(&pattern),
                    reason: one_line(&e),
                })?);
            }
            authorizations.push(Authorization {
                topic,
                channels,
                subscribe,
                publish,
            });
        }
        if raw.ttl <= 0 {
            return Err(AuthError::InvalidTtl(raw.ttl));
        }
        Ok(AuthState {
            identity: raw.identity.unwrap_or_default(),
            identity_url: raw.identity_url.unwrap_or_default(),
            authorizations,
            expires: now + Duration::from_secs(raw.ttl as u64),
        })
    }

    pub fn permission_count(&self) -> usize {
        self.authorizations.len()
    }

    pub fn has_authorizations(&self) -> bool {
        !self.authorizations.is_empty()
    }

    pub fn is_expired(&self, now: Instant) -> bool {
        self.expires < now
    }

    pub fn is_allowed(&self, topic: &str, channel: &str) -> bool {
        self.authorizations
            .iter()
            .any(|a| a.is_allowed(topic, channel))
    }
}

fn quote(s: &str) -> String {
    nsq_protocol::quote::go_quote(s.as_bytes())
}

/// The regex crate's errors span several lines; a log line wants one.
fn one_line(e: &regex::Error) -> String {
    e.to_string()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The outcome of a permission check against the cached state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    Allowed,
    Denied,
    /// No successful AUTH yet: `E_AUTH_FIRST`.
    AuthFirst,
    /// The cached state's TTL ran out: ask the auth server again, then check once more.
    Refresh,
}

/// A connection's authorization: the secret it sent and the last answer for it.
#[derive(Debug, Default)]
pub struct Session {
    secret: Vec<u8>,
    state: Option<AuthState>,
    /// The state was just refreshed for the command being checked: use it even if the auth
    /// server took longer than the TTL to answer.
    refreshed: bool,
}

impl Session {
    pub fn secret(&self) -> &[u8] {
        &self.secret
    }

    pub fn state(&self) -> Option<&AuthState> {
        self.state.as_ref()
    }

    /// `AUTH already set` applies once an answer with authorizations is held.
    pub fn has_authorizations(&self) -> bool {
        self.state
            .as_ref()
            .is_some_and(AuthState::has_authorizations)
    }

    /// Records the answer to an AUTH command.
    pub fn authenticated(&mut self, secret: Vec<u8>, state: AuthState) {
        self.secret = secret;
        self.state = Some(state);
        self.refreshed = false;
    }

    /// Records the answer to a re-query after the TTL ran out.
    pub fn refreshed(&mut self, state: AuthState) {
        self.state = Some(state);
        self.refreshed = true;
    }

    pub fn check(&mut self, topic: &str, channel: &str, now: Instant) -> Check {
        let Some(state) = &self.state else {
            return Check::AuthFirst;
        };
        if !std::mem::take(&mut self.refreshed) {
            if !state.has_authorizations() {
                return Check::AuthFirst;
            }
            if state.is_expired(now) {
                return Check::Refresh;
            }
        }
        if state.is_allowed(topic, channel) {
            Check::Allowed
        } else {
            Check::Denied
        }
    }
}

/// Asks the configured auth servers in turn, from a random one, until one gives a valid
/// answer (BEH-153).
pub async fn query_any(opts: &Options, params: &QueryParams) -> Result<AuthState, AuthError> {
    let servers = &opts.auth_http_addresses;
    let n = servers.len();
    if n == 0 {
        return Err(AuthError::AllFailed("no auth servers configured".into()));
    }
    let settings = Settings {
        connect_timeout: opts.http_client_connect_timeout,
        request_timeout: opts.http_client_request_timeout,
        tls_config: client_tls_config(opts),
    };
    let post = opts.auth_http_request_method == "post";
    let start = rand::thread_rng().gen_range(0..n);
    let mut combined = String::new();
    for i in 0..n {
        let server = &servers[(start + i) % n];
        match query_one(server, params, post, &settings).await {
            Ok(state) => return Ok(state),
            Err(e) => {
                if !combined.is_empty() {
                    combined.push_str("; ");
                }
                combined.push_str(&format!("failed to auth against {server} - {e}"));
            }
        }
    }
    Err(AuthError::AllFailed(combined))
}

/// The client TLS config for https auth servers (BEH-144), built on first use and kept while
/// the options it depends on stay the same: loading the system roots is slow.
fn client_tls_config(opts: &Options) -> Result<Arc<rustls::ClientConfig>, String> {
    type Key = (u16, String);
    type Cached = Option<(Key, Result<Arc<rustls::ClientConfig>, String>)>;
    static CACHE: Mutex<Cached> = Mutex::new(None);
    let key = (opts.tls_min_version, opts.tls_root_ca_file.clone());
    let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    match cache.as_ref() {
        Some((k, config)) if *k == key => config.clone(),
        _ => {
            let config = crate::tls::client_config(opts).map_err(|e| e.to_string());
            *cache = Some((key, config.clone()));
            config
        }
    }
}

/// The endpoint for a `--auth-http-address` value (BEH-150).
pub fn endpoint(server: &str) -> String {
    if server.contains("://") {
        server.to_string()
    } else {
        format!("http://{server}/auth")
    }
}

/// One auth server: GET with the parameters in the query string, or POST with a JSON body.
pub async fn query_one(
    server: &str,
    params: &QueryParams,
    post: bool,
    settings: &Settings,
) -> Result<AuthState, AuthError> {
    let (mut url, body) = if post {
        (endpoint(server), Some(params.json_body()))
    } else {
        (
            format!("{}?{}", endpoint(server), params.query_string()),
            None,
        )
    };
    let (method, headers): (&str, &[(&str, &str)]) = if post {
        (
            "POST",
            &[("Accept", ACCEPT_V1), ("Content-Type", "application/json")],
        )
    } else {
        ("GET", &[("Accept", ACCEPT_V1)])
    };
    let mut retried = false;
    loop {
        let resp = http_client::send(
            method,
            &url,
            headers,
            body.as_deref().map(str::as_bytes),
            settings,
        )
        .await?;
        if resp.status == 200 {
            return AuthState::from_json(&resp.body, Instant::now());
        }
        // A plain-http endpoint that answers 403 may name its https port (BEH-152).
        if resp.status == 403 && !retried && !url.starts_with("https") {
            retried = true;
            url = https_endpoint(&url, &resp.body)?;
            continue;
        }
        return Err(AuthError::Status {
            status: resp.status_text,
            body: nsq_protocol::quote::go_quote(&resp.body),
        });
    }
}

fn https_endpoint(url: &str, body: &[u8]) -> Result<String, AuthError> {
    #[derive(Deserialize)]
    struct Forbidden {
        #[serde(default)]
        https_port: u16,
    }
    let f: Forbidden = serde_json::from_slice(body)?;
    let u = http_client::Url::parse(url)?;
    let host = if u.host.contains(':') {
        format!("[{}]", u.host)
    } else {
        u.host
    };
    Ok(format!("https://{host}:{}{}", f.https_port, u.target))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(json: &str) -> Result<AuthState, AuthError> {
        AuthState::from_json(json.as_bytes(), Instant::now())
    }

    #[test]
    fn query_string_matches_go_encoding() {
        let p = QueryParams {
            remote_ip: "127.0.0.1".into(),
            tls: true,
            secret: b"a b&c=d/\xff~".to_vec(),
            common_name: String::new(),
        };
        assert_eq!(
            p.query_string(),
            "common_name=&remote_ip=127.0.0.1&secret=a+b%26c%3Dd%2F%FF~&tls=true"
        );
    }

    #[test]
    fn json_body_shape() {
        let p = QueryParams {
            remote_ip: "::1".into(),
            tls: false,
            secret: b"s\"<".to_vec(),
            common_name: "cn".into(),
        };
        assert_eq!(
            p.json_body(),
            r#"{"common_name":["cn"],"remote_ip":["::1"],"secret":["s\"\u003c"],"tls":["false"]}"#
        );
    }

    #[test]
    fn endpoints() {
        assert_eq!(endpoint("127.0.0.1:4181"), "http://127.0.0.1:4181/auth");
        assert_eq!(endpoint("http://a:1/x"), "http://a:1/x");
        assert_eq!(
            https_endpoint("http://a:1/auth?x=1", br#"{"https_port":4443}"#).unwrap(),
            "https://a:4443/auth?x=1"
        );
    }

    #[test]
    fn validation_errors() {
        let e = |j: &str| state(j).unwrap_err().to_string();
        assert_eq!(e(r#"{"ttl":0}"#), "invalid TTL 0 (must be >0)");
        assert_eq!(e(r#"{"ttl":-5}"#), "invalid TTL -5 (must be >0)");
        assert_eq!(
            e(r#"{"ttl":1,"authorizations":[{"topic":"t","channels":[],"permissions":["read"]}]}"#),
            "unknown permission read"
        );
        // Permissions and regexes are checked before the TTL.
        assert_eq!(
            e(r#"{"ttl":0,"authorizations":[{"topic":"t","permissions":["x"]}]}"#),
            "unknown permission x"
        );
        assert!(
            e(r#"{"ttl":1,"authorizations":[{"topic":"(","permissions":[]}]}"#)
                .starts_with("unable to compile topic \"(\" ")
        );
        assert!(
            e(r#"{"ttl":1,"authorizations":[{"topic":"t","channels":["[z-a]"]}]}"#)
                .starts_with("unable to compile channel \"[z-a]\" ")
        );
        assert!(state("not json").is_err());
    }

    #[test]
    fn permission_check() {
        let s = state(
            r#"{"ttl":60,"identity":"me","identity_url":"http://me","authorizations":[
                {"topic":"^pub","channels":[".*"],"permissions":["publish"]},
                {"topic":"sub","channels":["ch"],"permissions":["subscribe"]}]}"#,
        )
        .unwrap();
        assert_eq!(s.identity, "me");
        assert_eq!(s.permission_count(), 2);
        assert!(s.is_allowed("pubtopic", ""));
        assert!(!s.is_allowed("other", ""));
        // Publishing needs the publish permission even where subscribe regexes match.
        assert!(!s.is_allowed("sub", ""));
        // Unanchored: "sub" and "ch" match anywhere.
        assert!(s.is_allowed("my_sub_t", "a_ch_b"));
        assert!(!s.is_allowed("pubtopic", "ch"));
        assert!(!s.is_allowed("sub", "other"));
    }

    /// A one-shot server on loopback: reads a request, writes `reply`, and hands back the
    /// request's head. With `tls`, it speaks https with that server config.
    async fn one_shot(
        reply: String,
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> (u16, tokio::task::JoinHandle<String>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let task = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut stream: Box<dyn Io> = match tls {
                Some(cfg) => Box::new(
                    tokio_rustls::TlsAcceptor::from(cfg)
                        .accept(tcp)
                        .await
                        .unwrap(),
                ),
                None => Box::new(tcp),
            };
            let mut head = Vec::new();
            let mut b = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = stream.read(&mut b).await.unwrap();
                assert!(n > 0);
                head.extend_from_slice(&b[..n]);
            }
            stream.write_all(reply.as_bytes()).await.unwrap();
            stream.shutdown().await.unwrap();
            String::from_utf8(head).unwrap()
        });
        (port, task)
    }

    trait Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}
    impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> Io for T {}

    /// A self-signed certificate for 127.0.0.1: the server's config and a client config that
    /// trusts it.
    fn test_tls() -> (Arc<rustls::ServerConfig>, Arc<rustls::ClientConfig>) {
        let ck = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
        let cert = ck.cert.der().clone();
        let key = rustls::pki_types::PrivateKeyDer::Pkcs8(ck.signing_key.serialize_der().into());
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let server = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![cert.clone()], key)
            .unwrap();
        let mut roots = rustls::RootCertStore::empty();
        roots.add(cert).unwrap();
        let client = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        (Arc::new(server), Arc::new(client))
    }

    fn settings(tls: Result<Arc<rustls::ClientConfig>, String>) -> Settings {
        Settings {
            connect_timeout: Duration::from_secs(2),
            request_timeout: Duration::from_secs(5),
            tls_config: tls,
        }
    }

    const GRANT: &str = r#"{"ttl":9,"identity":"i","authorizations":[{"topic":".*","channels":[".*"],"permissions":["publish"]}]}"#;

    fn ok_reply(body: &str) -> String {
        format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
    }

    #[tokio::test]
    async fn https_auth_server() {
        let (server_tls, client_tls) = test_tls();
        let (port, task) = one_shot(ok_reply(GRANT), Some(server_tls)).await;
        let params = QueryParams {
            secret: b"s".to_vec(),
            ..QueryParams::default()
        };
        let url = format!("https://127.0.0.1:{port}/check");
        let state = query_one(&url, &params, false, &settings(Ok(client_tls)))
            .await
            .unwrap();
        assert_eq!(state.identity, "i");
        let head = task.await.unwrap();
        assert!(
            head.starts_with("GET /check?common_name=&remote_ip=&secret=s&tls=false HTTP/1.1\r\n"),
            "{head}"
        );
    }

    #[tokio::test]
    async fn forbidden_plain_http_retries_over_https() {
        let (server_tls, client_tls) = test_tls();
        let (https_port, https_task) = one_shot(ok_reply(GRANT), Some(server_tls)).await;
        let body = format!("{{\"https_port\":{https_port}}}");
        let forbidden = format!(
            "HTTP/1.1 403 Forbidden\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        let (http_port, http_task) = one_shot(forbidden, None).await;
        let state = query_one(
            &format!("127.0.0.1:{http_port}"),
            &QueryParams::default(),
            true,
            &settings(Ok(client_tls)),
        )
        .await
        .unwrap();
        assert_eq!(state.permission_count(), 1);
        assert!(http_task
            .await
            .unwrap()
            .starts_with("POST /auth HTTP/1.1\r\n"));
        assert!(https_task
            .await
            .unwrap()
            .starts_with("POST /auth HTTP/1.1\r\n"));
    }

    #[tokio::test]
    async fn https_without_client_config_fails() {
        let e = query_one(
            "https://127.0.0.1:1/auth",
            &QueryParams::default(),
            false,
            &settings(Err("no roots".into())),
        )
        .await
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "failed to build client TLS config - no roots"
        );
    }

    #[tokio::test]
    async fn other_statuses_are_errors_with_the_quoted_body() {
        let reply = "HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\n\r\nno\n!".to_string();
        let (port, _task) = one_shot(reply, None).await;
        let e = query_one(
            &format!("127.0.0.1:{port}"),
            &QueryParams::default(),
            false,
            &settings(Err(String::new())),
        )
        .await
        .unwrap_err();
        assert_eq!(e.to_string(), "got response 404 Not Found \"no\\n!\"");
    }

    #[test]
    fn session_checks_and_refresh() {
        let now = Instant::now();
        let mut sess = Session::default();
        assert_eq!(sess.check("t", "", now), Check::AuthFirst);
        let s = AuthState::from_json(
            br#"{"ttl":1,"authorizations":[{"topic":"t","channels":[".*"],"permissions":["publish"]}]}"#,
            now,
        )
        .unwrap();
        sess.authenticated(b"secret".to_vec(), s.clone());
        assert!(sess.has_authorizations());
        assert_eq!(sess.check("t", "", now), Check::Allowed);
        assert_eq!(sess.check("x", "", now), Check::Denied);
        let later = now + Duration::from_secs(2);
        assert_eq!(sess.check("t", "", later), Check::Refresh);
        // After a refresh the answer is used once even if already stale.
        sess.refreshed(s);
        assert_eq!(sess.check("t", "", later), Check::Allowed);
        assert_eq!(sess.check("t", "", later), Check::Refresh);
        // A refresh that returns no authorizations denies (not AUTH_FIRST) for that command.
        let empty = AuthState::from_json(br#"{"ttl":5}"#, later).unwrap();
        sess.refreshed(empty);
        assert_eq!(sess.check("t", "", later), Check::Denied);
        assert_eq!(sess.secret(), b"secret");
    }
}
