//! One nsqlookupd peer (BEH-160..BEH-164): a task that owns the TCP connection, connects on
//! demand, identifies, registers every topic and channel after each (re)connect, and sends the
//! commands the lookup loop queues for it, each answered by a size-prefixed response.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::{BufMut, BytesMut};
use nsq_protocol::json::push_json_string;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use crate::nsqd::Nsqd;

/// Dial timeout, and the deadline for each write and each read (BEH-160).
const IO_TIMEOUT: Duration = Duration::from_secs(1);

/// A command for one lookupd.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerCommand {
    Register {
        topic: String,
        channel: Option<String>,
    },
    Unregister {
        topic: String,
        channel: Option<String>,
    },
    Ping,
}

impl PeerCommand {
    pub fn register(topic: &str, channel: Option<&str>) -> PeerCommand {
        PeerCommand::Register {
            topic: topic.to_string(),
            channel: channel.map(str::to_string),
        }
    }

    pub fn unregister(topic: &str, channel: Option<&str>) -> PeerCommand {
        PeerCommand::Unregister {
            topic: topic.to_string(),
            channel: channel.map(str::to_string),
        }
    }

    fn branch(&self) -> &'static str {
        match self {
            PeerCommand::Register { channel: None, .. }
            | PeerCommand::Unregister { channel: None, .. } => "topic",
            PeerCommand::Register { .. } | PeerCommand::Unregister { .. } => "channel",
            PeerCommand::Ping => "ping",
        }
    }
}

/// The command line as sent, without the newline (also its log form).
impl fmt::Display for PeerCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (name, topic, channel) = match self {
            PeerCommand::Register { topic, channel } => ("REGISTER", topic, channel),
            PeerCommand::Unregister { topic, channel } => ("UNREGISTER", topic, channel),
            PeerCommand::Ping => return f.write_str("PING"),
        };
        write!(f, "{name} {topic}")?;
        if let Some(c) = channel {
            write!(f, " {c}")?;
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("i/o timeout")]
    Timeout,
    #[error("response body size ({0}) is greater than limit ({1})")]
    TooBig(i32, i64),
    #[error("invalid response body size ({0})")]
    BadSize(i32),
    #[error("lookupd answered {0}")]
    Refused(String),
    #[error("parsing IDENTIFY response {0:?}")]
    BadIdentify(String),
}

/// What lookupd says about itself in its IDENTIFY answer.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct PeerInfo {
    #[serde(default)]
    pub tcp_port: i64,
    #[serde(default)]
    pub http_port: i64,
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub broadcast_address: String,
}

impl PeerInfo {
    /// `broadcast_address:http_port`, bracketing an IPv6 address.
    pub fn http_addr(&self) -> Option<String> {
        if self.broadcast_address.is_empty() {
            return None;
        }
        Some(if self.broadcast_address.contains(':') {
            format!("[{}]:{}", self.broadcast_address, self.http_port)
        } else {
            format!("{}:{}", self.broadcast_address, self.http_port)
        })
    }
}

/// Serves one peer until its queue closes (peer removed, or nsqd shutting down).
pub async fn run(nsqd: Arc<Nsqd>, addr: String, mut rx: mpsc::UnboundedReceiver<PeerCommand>) {
    let mut peer = LookupPeer {
        addr,
        conn: None,
        max_body_size: nsqd.options().max_body_size,
    };
    // Connect (and register everything) right away rather than at the first ping.
    if let Err(e) = peer.connect(&nsqd).await {
        tracing::error!("LOOKUPD({}): connect failed - {}", peer.addr, e);
    }
    while let Some(cmd) = rx.recv().await {
        if cmd == PeerCommand::Ping {
            tracing::debug!("LOOKUPD({}): sending heartbeat", peer.addr);
        } else {
            tracing::info!("LOOKUPD({}): {} {}", peer.addr, cmd.branch(), cmd);
        }
        if let Err(e) = peer.command(&nsqd, &cmd).await {
            tracing::error!("LOOKUPD({}): {} - {}", peer.addr, cmd, e);
        }
    }
}

struct LookupPeer {
    addr: String,
    conn: Option<TcpStream>,
    max_body_size: i64,
}

impl LookupPeer {
    /// Sends `cmd`, connecting first if needed. A connection that turns out to be dead is
    /// replaced once at once: the reconnect registers everything again, so nothing waits for
    /// the next ping to be registered.
    async fn command(&mut self, nsqd: &Nsqd, cmd: &PeerCommand) -> Result<Vec<u8>, PeerError> {
        let reused = self.conn.is_some();
        match self.command_once(nsqd, cmd).await {
            Err(e) if reused => {
                tracing::warn!(
                    "LOOKUPD({}): connection lost ({}), reconnecting",
                    self.addr,
                    e
                );
                self.command_once(nsqd, cmd).await
            }
            other => other,
        }
    }

    async fn command_once(&mut self, nsqd: &Nsqd, cmd: &PeerCommand) -> Result<Vec<u8>, PeerError> {
        if self.conn.is_none() {
            self.connect(nsqd).await?;
        }
        let mut line = cmd.to_string().into_bytes();
        line.push(b'\n');
        self.exchange(&line).await
    }

    /// Dials, sends the magic, identifies and registers every topic and channel.
    async fn connect(&mut self, nsqd: &Nsqd) -> Result<(), PeerError> {
        tracing::info!("LOOKUP connecting to {}", self.addr);
        let stream = with_timeout(TcpStream::connect(&self.addr)).await?;
        let _ = stream.set_nodelay(true);
        self.conn = Some(stream);
        let result = self.handshake(nsqd).await;
        if result.is_err() {
            self.close();
        }
        result
    }

    async fn handshake(&mut self, nsqd: &Nsqd) -> Result<(), PeerError> {
        self.write(b"  V1").await?;
        let body = identify_body(nsqd);
        let mut cmd = BytesMut::with_capacity(13 + body.len());
        cmd.put_slice(b"IDENTIFY\n");
        cmd.put_u32(body.len() as u32);
        cmd.put_slice(body.as_bytes());
        let resp = self.exchange(&cmd).await.inspect_err(|e| {
            tracing::error!("LOOKUPD({}): IDENTIFY - {}", self.addr, e);
        })?;
        let text = String::from_utf8_lossy(&resp).into_owned();
        if resp.starts_with(b"E_") {
            tracing::info!("LOOKUPD({}): lookupd returned {}", self.addr, text);
            return Err(PeerError::Refused(text));
        }
        let info: PeerInfo = serde_json::from_slice(&resp).map_err(|_| {
            tracing::error!("LOOKUPD({}): parsing response - {}", self.addr, text);
            PeerError::BadIdentify(text.clone())
        })?;
        // Stored before the log line, so whoever sees the line can rely on it (BEH-002).
        let http_addr = info.http_addr();
        if http_addr.is_some() {
            nsqd.lookup.set_http_addr(&self.addr, http_addr);
        }
        tracing::info!(
            "LOOKUPD({}): peer info {{TCPPort:{} HTTPPort:{} Version:{} BroadcastAddress:{}}}",
            self.addr,
            info.tcp_port,
            info.http_port,
            info.version,
            info.broadcast_address
        );
        if info.broadcast_address.is_empty() {
            tracing::error!("LOOKUPD({}): no broadcast address", self.addr);
        }

        // Snapshot first, then talk: no nsqd lock is held across the network.
        let mut commands = Vec::new();
        for topic in nsqd.topics() {
            let channels = topic.channels();
            if channels.is_empty() {
                commands.push(PeerCommand::register(&topic.name, None));
            }
            for ch in channels {
                commands.push(PeerCommand::register(&topic.name, Some(&ch.name)));
            }
        }
        for cmd in commands {
            tracing::info!("LOOKUPD({}): {}", self.addr, cmd);
            let mut line = cmd.to_string().into_bytes();
            line.push(b'\n');
            self.exchange(&line).await.inspect_err(|e| {
                tracing::error!("LOOKUPD({}): {} - {}", self.addr, cmd, e);
            })?;
        }
        Ok(())
    }

    /// Writes `data` and reads one response; any failure closes the connection. An error
    /// response (`E_...`) counts as a failure, since lookupd closes after sending one.
    async fn exchange(&mut self, data: &[u8]) -> Result<Vec<u8>, PeerError> {
        let result = async {
            self.write(data).await?;
            let resp = self.read_response().await?;
            if resp.starts_with(b"E_") {
                return Err(PeerError::Refused(
                    String::from_utf8_lossy(&resp).into_owned(),
                ));
            }
            Ok(resp)
        }
        .await;
        if result.is_err() {
            self.close();
        }
        result
    }

    async fn write(&mut self, data: &[u8]) -> Result<(), PeerError> {
        let conn = self.conn.as_mut().ok_or(PeerError::Timeout)?;
        with_timeout(conn.write_all(data)).await
    }

    /// `[4-byte BE size][data]`, the size bounded by `--max-body-size` (BEH-164).
    async fn read_response(&mut self) -> Result<Vec<u8>, PeerError> {
        let limit = self.max_body_size;
        let conn = self.conn.as_mut().ok_or(PeerError::Timeout)?;
        let size = with_timeout(conn.read_i32()).await?;
        if size < 0 {
            return Err(PeerError::BadSize(size));
        }
        if i64::from(size) > limit {
            return Err(PeerError::TooBig(size, limit));
        }
        let mut buf = vec![0u8; size as usize];
        with_timeout(conn.read_exact(&mut buf)).await?;
        Ok(buf)
    }

    fn close(&mut self) {
        self.conn = None;
    }
}

async fn with_timeout<T>(
    fut: impl std::future::Future<Output = std::io::Result<T>>,
) -> Result<T, PeerError> {
    match tokio::time::timeout(IO_TIMEOUT, fut).await {
        Ok(r) => Ok(r?),
        Err(_) => Err(PeerError::Timeout),
    }
}

/// The IDENTIFY JSON, keys in alphabetical order (BEH-160). Ports are the broadcast ports,
/// which default to the ports actually bound.
fn identify_body(nsqd: &Nsqd) -> String {
    let opts = nsqd.options();
    let port = |configured: i64, bound: Option<&std::net::SocketAddr>| match configured {
        0 => bound.map_or(0, |a| i64::from(a.port())),
        p => p,
    };
    let mut out = String::with_capacity(256);
    out.push_str("{\"broadcast_address\":");
    push_json_string(&mut out, &opts.broadcast_address);
    out.push_str(",\"hostname\":");
    push_json_string(&mut out, &nsq_common::host::os_hostname());
    out.push_str(&format!(
        ",\"http_port\":{},\"tcp_port\":{},\"topology_region\":",
        port(opts.broadcast_http_port, nsqd.http_addr.get()),
        port(opts.broadcast_tcp_port, nsqd.tcp_addr.get())
    ));
    push_json_string(&mut out, &opts.topology_region);
    out.push_str(",\"topology_zone\":");
    push_json_string(&mut out, &opts.topology_zone);
    out.push_str(",\"version\":");
    push_json_string(&mut out, nsq_protocol::version::VERSION);
    out.push('}');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_lines() {
        assert_eq!(PeerCommand::register("t", None).to_string(), "REGISTER t");
        assert_eq!(
            PeerCommand::register("t", Some("c")).to_string(),
            "REGISTER t c"
        );
        assert_eq!(
            PeerCommand::unregister("t", Some("c#ephemeral")).to_string(),
            "UNREGISTER t c#ephemeral"
        );
        assert_eq!(PeerCommand::Ping.to_string(), "PING");
        assert_eq!(PeerCommand::register("t", None).branch(), "topic");
        assert_eq!(PeerCommand::unregister("t", Some("c")).branch(), "channel");
    }

    #[test]
    fn identify_body_keys_and_ports() {
        let opts = crate::options::Options {
            broadcast_address: "node1".into(),
            broadcast_tcp_port: 5150,
            topology_zone: "z".into(),
            ..Default::default()
        };
        let nsqd = Nsqd::new(opts);
        let _ = nsqd.http_addr.set("127.0.0.1:4999".parse().unwrap());
        let body = identify_body(&nsqd);
        let host = nsq_common::host::os_hostname();
        assert_eq!(
            body,
            format!(
                "{{\"broadcast_address\":\"node1\",\"hostname\":\"{host}\",\"http_port\":4999,\
                 \"tcp_port\":5150,\"topology_region\":\"\",\"topology_zone\":\"z\",\
                 \"version\":\"1.3.0\"}}"
            )
        );
    }

    #[test]
    fn peer_http_addr() {
        let info = PeerInfo {
            broadcast_address: "::1".into(),
            http_port: 4161,
            ..Default::default()
        };
        assert_eq!(info.http_addr().as_deref(), Some("[::1]:4161"));
        assert_eq!(PeerInfo::default().http_addr(), None);
    }
}
