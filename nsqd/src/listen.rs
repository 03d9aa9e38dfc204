//! The sockets the TCP and HTTP listeners bind (P-006, BEH-170): an address that reads as
//! `host:port` (by Go's `net.SplitHostPort` rules) is TCP, anything else is a unix-socket path.
//! `--https-address` is always TCP and does not come through here.
//!
//! A socket file left behind by a crash is not removed: as in the reference, binding then fails
//! with "address already in use". A clean shutdown removes the files nsqd created (the
//! reference's unix listeners unlink their path when closed).

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use tokio::net::{TcpListener, UnixListener};

use crate::tcp::Socket;

/// A bound listener of either kind.
pub enum Listener {
    Tcp(TcpListener),
    Unix(UnixListener, PathBuf),
}

/// Where a listener is bound, as the `listening on` log lines show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LocalAddr {
    Tcp(SocketAddr),
    Unix(PathBuf),
}

impl LocalAddr {
    /// The port `/info` reports: −1 for a unix socket (H-021).
    pub fn info_port(&self) -> i64 {
        match self {
            LocalAddr::Tcp(a) => i64::from(a.port()),
            LocalAddr::Unix(_) => -1,
        }
    }

    /// Removes the socket file of a unix listener; nothing for TCP.
    pub fn remove_socket_file(&self) {
        if let LocalAddr::Unix(path) = self {
            let _ = std::fs::remove_file(path);
        }
    }
}

impl fmt::Display for LocalAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LocalAddr::Tcp(a) => write!(f, "{a}"),
            LocalAddr::Unix(p) => write!(f, "{}", p.display()),
        }
    }
}

/// A connected peer: its address text (`ip:port`, or `@` for an unnamed unix-socket client,
/// as Go prints it) and its IP (empty for unix sockets, BEH-151).
pub struct Peer {
    pub address: String,
    pub ip: String,
}

/// True when Go's `net.SplitHostPort` accepts `addr`, which is how the reference tells a TCP
/// address from a unix-socket path. The port is not checked here: `host:abc` is TCP and then
/// fails to bind.
pub fn is_host_port(addr: &str) -> bool {
    let Some(last_colon) = addr.rfind(':') else {
        return false;
    };
    let (host_start, host_end) = if addr.starts_with('[') {
        let Some(close) = addr.find(']') else {
            return false;
        };
        if close + 1 != last_colon {
            return false;
        }
        (1, close + 1)
    } else {
        if addr[..last_colon].contains(':') {
            return false;
        }
        (0, 0)
    };
    !addr[host_start..].contains('[') && !addr[host_end..].contains(']')
}

/// Binds `addr` as TCP or as a unix socket.
pub async fn bind(addr: &str) -> io::Result<Listener> {
    if is_host_port(addr) {
        Ok(Listener::Tcp(TcpListener::bind(addr).await?))
    } else {
        let path = PathBuf::from(addr);
        Ok(Listener::Unix(UnixListener::bind(&path)?, path))
    }
}

impl Listener {
    pub fn local_addr(&self) -> io::Result<LocalAddr> {
        match self {
            Listener::Tcp(l) => l.local_addr().map(LocalAddr::Tcp),
            Listener::Unix(_, path) => Ok(LocalAddr::Unix(path.clone())),
        }
    }

    /// The next client connection.
    pub async fn accept(&self) -> io::Result<(Socket, Peer)> {
        match self {
            Listener::Tcp(l) => {
                let (s, a) = l.accept().await?;
                let _ = s.set_nodelay(true);
                let peer = Peer {
                    address: a.to_string(),
                    ip: a.ip().to_string(),
                };
                Ok((Socket::Tcp(s), peer))
            }
            Listener::Unix(l, _) => {
                let (s, a) = l.accept().await?;
                let peer = Peer {
                    address: unix_peer_text(a.as_pathname()),
                    ip: String::new(),
                };
                Ok((Socket::Unix(s), peer))
            }
        }
    }
}

/// A unix-socket peer as Go prints it: its path if it bound one, else `@`.
pub fn unix_peer_text(path: Option<&Path>) -> String {
    match path {
        Some(p) if !p.as_os_str().is_empty() => p.display().to_string(),
        _ => "@".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_port_follows_go_split_host_port() {
        for tcp in [
            "0.0.0.0:4150",
            "127.0.0.1:0",
            "[::1]:4150",
            "localhost:abc",
            ":4150",
            "host:",
        ] {
            assert!(is_host_port(tcp), "{tcp}");
        }
        for unix in [
            "/tmp/nsqd.sock",
            "nsqd.sock",
            "",
            "::1:4150",
            "[::1]",
            "[::1]x:4150",
            "a]:4150",
            "[a:4150",
        ] {
            assert!(!is_host_port(unix), "{unix}");
        }
    }

    #[test]
    fn unix_ports_and_peers() {
        assert_eq!(LocalAddr::Unix("/x.sock".into()).info_port(), -1);
        assert_eq!(LocalAddr::Unix("/x.sock".into()).to_string(), "/x.sock");
        assert_eq!(
            LocalAddr::Tcp("127.0.0.1:5".parse().unwrap()).info_port(),
            5
        );
        assert_eq!(unix_peer_text(None), "@");
        assert_eq!(unix_peer_text(Some(Path::new(""))), "@");
        assert_eq!(unix_peer_text(Some(Path::new("/c.sock"))), "/c.sock");
    }

    #[tokio::test]
    async fn a_stale_socket_file_is_not_removed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sock");
        let addr = path.to_str().unwrap();
        let first = bind(addr).await.unwrap();
        assert_eq!(first.local_addr().unwrap(), LocalAddr::Unix(path.clone()));
        drop(first);
        let err = bind(addr)
            .await
            .err()
            .expect("stale file must block the bind");
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
        LocalAddr::Unix(path.clone()).remove_socket_file();
        assert!(bind(addr).await.is_ok());
    }
}

/// Whether a failed `accept` is worth retrying, as Go's `Temporary()` errors are: the process
/// or system ran out of descriptors or buffers, or the peer gave up before we took the
/// connection. Anything else means the listener is broken (BEH-104).
pub fn accept_error_is_transient(e: &io::Error) -> bool {
    use io::ErrorKind::*;
    if matches!(
        e.kind(),
        ConnectionAborted | ConnectionReset | Interrupted | WouldBlock | TimedOut
    ) {
        return true;
    }
    matches!(
        e.raw_os_error(),
        Some(
            libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM | libc::EPROTO | libc::EPERM
        )
    )
}

#[cfg(test)]
mod accept_error_tests {
    use super::*;

    #[test]
    fn running_out_of_descriptors_is_transient_a_bad_descriptor_is_not() {
        assert!(accept_error_is_transient(&io::Error::from_raw_os_error(
            libc::EMFILE
        )));
        assert!(accept_error_is_transient(&io::Error::from(
            io::ErrorKind::ConnectionAborted
        )));
        assert!(!accept_error_is_transient(&io::Error::from_raw_os_error(
            libc::EBADF
        )));
        assert!(!accept_error_is_transient(&io::Error::from_raw_os_error(
            libc::EINVAL
        )));
    }
}
