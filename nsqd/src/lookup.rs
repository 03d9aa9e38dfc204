//! Registration with nsqlookupd (§3.16) and channel pre-creation from it (BEH-002).
//!
//! Topic and channel changes arrive as [`Notice`]s on an unbounded queue (so the code that
//! creates or deletes them never waits on the network). The lookup loop fans each one out as a
//! REGISTER or UNREGISTER to every peer, pings the peers every 15 s (BEH-162), and reconciles
//! the peer set when `/config/nsqlookupd_tcp_addresses` changes (BEH-165). Each peer is its own
//! task (`lookup_peer`), so a slow or dead nsqlookupd does not hold up the others.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::{Mutex, RwLock};
use tokio::sync::mpsc;

use crate::lookup_peer::{self, PeerCommand};
use crate::nsqd::Nsqd;
use crate::topic::Topic;

/// How often every peer is pinged (BEH-162).
const PING_INTERVAL: Duration = Duration::from_secs(15);

/// A change the lookup loop acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// Send this to every peer.
    Command(PeerCommand),
    /// `nsqlookupd_tcp_addresses` changed: add and remove peers to match.
    PeersChanged,
}

/// nsqd's side of lookupd registration: the notice queue and what the peers told us.
pub struct Lookup {
    tx: mpsc::UnboundedSender<Notice>,
    rx: Mutex<Option<mpsc::UnboundedReceiver<Notice>>>,
    /// Until the loop runs, notices are dropped: a peer registers everything when it connects.
    running: AtomicBool,
    /// Each peer's HTTP address (`broadcast_address:http_port` from its IDENTIFY answer),
    /// keyed by its TCP address. Kept after a disconnect, as the reference does.
    http_addrs: RwLock<BTreeMap<String, String>>,
}

impl Default for Lookup {
    fn default() -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        Lookup {
            tx,
            rx: Mutex::new(Some(rx)),
            running: AtomicBool::new(false),
            http_addrs: RwLock::new(BTreeMap::new()),
        }
    }
}

impl Lookup {
    fn notify(&self, notice: Notice) {
        if self.running.load(Ordering::Acquire) {
            let _ = self.tx.send(notice);
        }
    }

    /// A topic was created (BEH-163).
    pub fn topic_created(&self, topic: &str) {
        self.notify(Notice::Command(PeerCommand::register(topic, None)));
    }

    /// A channel was created (BEH-163).
    pub fn channel_created(&self, topic: &str, channel: &str) {
        self.notify(Notice::Command(PeerCommand::register(topic, Some(channel))));
    }

    /// A channel was deleted (BEH-163).
    pub fn channel_deleted(&self, topic: &str, channel: &str) {
        self.notify(Notice::Command(PeerCommand::unregister(
            topic,
            Some(channel),
        )));
    }

    /// A topic was deleted, taking its channels with it. The channels go first, so lookupd
    /// never sees a topic unregistered while it still lists the topic's channels.
    pub fn topic_deleted(&self, topic: &Topic) {
        for ch in topic.channels() {
            self.channel_deleted(&topic.name, &ch.name);
        }
        self.notify(Notice::Command(PeerCommand::unregister(&topic.name, None)));
    }

    /// The lookupd TCP addresses changed (BEH-165).
    pub fn peers_changed(&self) {
        self.notify(Notice::PeersChanged);
    }

    /// The HTTP addresses of the peers that have answered IDENTIFY.
    pub fn lookupd_http_addrs(&self) -> Vec<String> {
        self.http_addrs.read().values().cloned().collect()
    }

    pub(crate) fn set_http_addr(&self, peer: &str, http_addr: Option<String>) {
        let mut addrs = self.http_addrs.write();
        match http_addr {
            Some(a) => addrs.insert(peer.to_string(), a),
            None => addrs.remove(peer),
        };
    }
}

/// A running peer task and the queue feeding it.
struct Peer {
    addr: String,
    tx: mpsc::UnboundedSender<PeerCommand>,
    task: tokio::task::JoinHandle<()>,
}

/// The lookup loop: runs until nsqd shuts down.
pub async fn run(nsqd: Arc<Nsqd>) {
    let Some(mut rx) = nsqd.lookup.rx.lock().take() else {
        return;
    };
    nsqd.lookup.running.store(true, Ordering::Release);
    let mut peers: Vec<Peer> = Vec::new();
    reconcile(&nsqd, &mut peers);
    let mut ping =
        tokio::time::interval_at(tokio::time::Instant::now() + PING_INTERVAL, PING_INTERVAL);
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = nsqd.shutdown.cancelled() => break,
            _ = ping.tick() => {
                for p in &peers {
                    let _ = p.tx.send(PeerCommand::Ping);
                }
            }
            notice = rx.recv() => match notice {
                Some(Notice::Command(cmd)) => {
                    for p in &peers {
                        let _ = p.tx.send(cmd.clone());
                    }
                }
                Some(Notice::PeersChanged) => reconcile(&nsqd, &mut peers),
                None => break,
            }
        }
    }
    nsqd.lookup.running.store(false, Ordering::Release);
    // Closing the queues ends the peer tasks, which drop their connections; lookupd then
    // forgets this node at once instead of after the inactivity timeout.
    let tasks: Vec<_> = peers.into_iter().map(|p| p.task).collect();
    for t in tasks {
        let _ = tokio::time::timeout(Duration::from_secs(2), t).await;
    }
}

/// Makes the peer set match `nsqlookupd_tcp_addresses`: removed peers are closed, new ones
/// start connecting at once.
fn reconcile(nsqd: &Arc<Nsqd>, peers: &mut Vec<Peer>) {
    let wanted = nsqd.options().nsqlookupd_tcp_addresses.clone();
    peers.retain(|p| {
        if wanted.contains(&p.addr) {
            return true;
        }
        tracing::info!("LOOKUP({}): removing peer", p.addr);
        nsqd.lookup.set_http_addr(&p.addr, None);
        // Dropping the sender ends the task and closes its connection.
        false
    });
    for addr in wanted {
        if peers.iter().any(|p| p.addr == addr) {
            continue;
        }
        tracing::info!("LOOKUP({}): adding peer", addr);
        let (tx, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(lookup_peer::run(nsqd.clone(), addr.clone(), rx));
        peers.push(Peer { addr, tx, task });
    }
}

/// BEH-002: before a topic created at runtime starts, ask every lookupd which channels it
/// has, and create them (except ephemeral ones), so no consumer misses what is published
/// before it reconnects. Blocking, as in the reference; on a multi-thread runtime the worker
/// hands its other tasks away first.
pub fn precreate_channels(nsqd: &Arc<Nsqd>, topic: &Arc<Topic>) {
    let addrs = nsqd.lookup.lookupd_http_addrs();
    if addrs.is_empty() {
        if !nsqd.options().nsqlookupd_tcp_addresses.is_empty() {
            tracing::error!(
                "no available nsqlookupd to query for channels to pre-create for topic {}",
                topic.name
            );
        }
        return;
    }
    let query = || query_channels(nsqd, &topic.name, &addrs);
    let on_multi_thread = tokio::runtime::Handle::try_current()
        .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
    let channels = if on_multi_thread {
        tokio::task::block_in_place(query)
    } else {
        query()
    };
    for name in channels {
        if nsq_protocol::names::is_ephemeral(&name) {
            continue;
        }
        nsqd.get_or_create_channel(topic, &name);
    }
}

/// The union of `/channels?topic=` over every lookupd, sorted. Failures are logged; the
/// channels of the lookupds that answered are still used.
fn query_channels(nsqd: &Nsqd, topic: &str, addrs: &[String]) -> Vec<String> {
    let opts = nsqd.options();
    let client = nsq_common::http::client::Client {
        connect_timeout: opts.http_client_connect_timeout,
        request_timeout: opts.http_client_request_timeout,
        user_agent: format!("nsqd/{}", nsq_protocol::version::VERSION),
    };
    let escaped = percent_encoding::utf8_percent_encode(topic, percent_encoding::NON_ALPHANUMERIC);
    let mut channels = Vec::new();
    let mut errors = Vec::new();
    for addr in addrs {
        let url = format!("http://{addr}/channels?topic={escaped}");
        match client.get_v1(&url).map(|body| parse_channels(&body)) {
            Ok(Some(list)) => channels.extend(list),
            Ok(None) => errors.push(format!("{url}: malformed response")),
            Err(e) => errors.push(format!("{url}: {e}")),
        }
    }
    if !errors.is_empty() {
        tracing::warn!(
            "failed to query nsqlookupd for channels to pre-create for topic {} - {}",
            topic,
            errors.join("; ")
        );
    }
    channels.sort();
    channels.dedup();
    channels
}

/// `{"channels":[...]}` from lookupd; None if it is not that.
fn parse_channels(body: &[u8]) -> Option<Vec<String>> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let list = v.get("channels")?;
    if list.is_null() {
        return Some(Vec::new());
    }
    list.as_array()?
        .iter()
        .map(|c| c.as_str().map(str::to_string))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_answer() {
        assert_eq!(
            parse_channels(br#"{"channels":["b","a"]}"#),
            Some(vec!["b".to_string(), "a".to_string()])
        );
        assert_eq!(parse_channels(br#"{"channels":null}"#), Some(vec![]));
        assert_eq!(parse_channels(br#"{"channels":[1]}"#), None);
        assert_eq!(parse_channels(b"nope"), None);
    }

    #[test]
    fn notices_wait_for_the_loop() {
        let lookup = Lookup::default();
        lookup.topic_created("t");
        let mut rx = lookup.rx.lock().take().unwrap();
        assert!(rx.try_recv().is_err(), "dropped before the loop runs");
        lookup.running.store(true, Ordering::Release);
        lookup.channel_created("t", "c");
        lookup.peers_changed();
        assert_eq!(
            rx.try_recv().unwrap(),
            Notice::Command(PeerCommand::register("t", Some("c")))
        );
        assert_eq!(rx.try_recv().unwrap(), Notice::PeersChanged);
    }

    #[test]
    fn http_addrs_follow_the_peers() {
        let lookup = Lookup::default();
        lookup.set_http_addr("l1:4160", Some("h1:4161".into()));
        lookup.set_http_addr("l2:4160", Some("h2:4161".into()));
        lookup.set_http_addr("l1:4160", None);
        assert_eq!(lookup.lookupd_http_addrs(), ["h2:4161"]);
    }
}
