//! The daemon's shared state: options, the registration DB, the bound addresses and the
//! shutdown signal. The TCP connections and the HTTP handlers all hold an `Arc<Lookupd>`.

use std::net::SocketAddr;

use parking_lot::RwLock;
use tokio_util::sync::CancellationToken;

use crate::options::Options;
use crate::registration_db::RegistrationDb;

pub struct Lookupd {
    pub opts: Options,
    pub db: RwLock<RegistrationDb>,
    /// The actual bound addresses (IDENTIFY answers with their ports).
    pub tcp_addr: SocketAddr,
    pub http_addr: SocketAddr,
    /// The OS hostname, sent in IDENTIFY answers.
    pub hostname: String,
    /// Cancelled to close the listeners and every client connection (L-041).
    pub shutdown: CancellationToken,
}

impl Lookupd {
    pub fn new(opts: Options, tcp_addr: SocketAddr, http_addr: SocketAddr) -> Lookupd {
        Lookupd {
            opts,
            db: RwLock::new(RegistrationDb::default()),
            tcp_addr,
            http_addr,
            hostname: nsq_common::host::os_hostname(),
            shutdown: CancellationToken::new(),
        }
    }
}
