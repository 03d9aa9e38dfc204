//! The lookup protocol V1 commands (§6.1): what each command does to the registration DB and
//! what it answers. The socket side (magic, line reading, the IDENTIFY body, writing) is in
//! `tcp`; this module never touches a socket, so every rule is unit-tested directly.

use std::sync::Arc;

use nsq_protocol::names::{is_ephemeral, is_valid_channel_name, is_valid_topic_name};

use crate::lookupd::Lookupd;
use crate::registration_db::{now_nanos, Category, PeerInfo, Registration};

/// The protocol magic a client sends first.
pub const MAGIC_V1: &[u8; 4] = b"  V1";

/// Largest IDENTIFY body accepted. The reference reads any size (QRK-20, not replicated); this
/// is nsqd's default `--max-body-size`, far above any real IDENTIFY.
pub const MAX_IDENTIFY_BODY: i32 = 5 * 1024 * 1024;

/// Every lookup protocol error closes the connection after it is sent (L-003).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FatalError {
    pub code: &'static str,
    pub desc: Vec<u8>,
}

impl FatalError {
    fn new(code: &'static str, desc: impl Into<Vec<u8>>) -> FatalError {
        FatalError {
            code,
            desc: desc.into(),
        }
    }

    /// The response data: `<CODE> <desc>`.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.code.len() + 1 + self.desc.len());
        out.extend_from_slice(self.code.as_bytes());
        out.push(b' ');
        out.extend_from_slice(&self.desc);
        out
    }
}

/// A command line, trimmed and split (L-003).
#[derive(Debug, PartialEq, Eq)]
pub enum Command<'a> {
    Ping,
    /// The body follows on the stream.
    Identify,
    Register(Vec<&'a [u8]>),
    Unregister(Vec<&'a [u8]>),
    Unknown(&'a [u8]),
}

/// Trims surrounding whitespace (Go's `TrimSpace`: Unicode spaces for text, ASCII ones
/// otherwise) and splits on single spaces.
pub fn parse_line(line: &[u8]) -> Command<'_> {
    let line = trim_space(line);
    let mut params: Vec<&[u8]> = line.split(|&b| b == b' ').collect();
    let name = params.remove(0);
    match name {
        b"PING" => Command::Ping,
        b"IDENTIFY" => Command::Identify,
        b"REGISTER" => Command::Register(params),
        b"UNREGISTER" => Command::Unregister(params),
        other => Command::Unknown(other),
    }
}

fn trim_space(line: &[u8]) -> &[u8] {
    if let Ok(text) = std::str::from_utf8(line) {
        return text.trim().as_bytes();
    }
    let is_space = |b: &u8| matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c);
    let start = line.iter().position(|b| !is_space(b)).unwrap_or(line.len());
    let end = line
        .iter()
        .rposition(|b| !is_space(b))
        .map_or(start, |i| i + 1);
    &line[start..end]
}

/// One client connection's protocol state.
pub struct Client {
    /// The remote `ip:port`, which is also the peer id.
    pub remote: String,
    pub peer: Option<Arc<PeerInfo>>,
}

impl Client {
    pub fn new(remote: String) -> Client {
        Client { remote, peer: None }
    }
}

/// How reading the IDENTIFY body went.
#[derive(Debug)]
pub enum IdentifyBody {
    Read(Vec<u8>),
    /// The 4-byte size could not be read.
    NoSize,
    /// A negative size, or one above [`MAX_IDENTIFY_BODY`].
    BadSize(i32),
    /// The body ended early.
    Short,
}

/// `PING` (L-004): refreshes an identified client's last update.
pub fn ping(client: &Client) -> &'static [u8] {
    if let Some(peer) = &client.peer {
        let now = now_nanos();
        let since = now.saturating_sub(peer.last_update()).max(0);
        tracing::info!(
            "CLIENT({}): pinged (last ping {})",
            peer.id,
            nsq_common::duration::format_go_duration(std::time::Duration::from_nanos(since as u64))
        );
        peer.touch(now);
    }
    b"OK"
}

/// `IDENTIFY` before its body is read: refused if the client already identified.
pub fn check_identify(client: &Client) -> Result<(), FatalError> {
    if client.peer.is_some() {
        return Err(FatalError::new("E_INVALID", "cannot IDENTIFY again"));
    }
    Ok(())
}

/// `IDENTIFY` with its body (L-005): registers the peer under `client::` and answers with
/// lookupd's own details.
pub fn identify(
    lookupd: &Lookupd,
    client: &mut Client,
    body: IdentifyBody,
) -> Result<Vec<u8>, FatalError> {
    check_identify(client)?;
    let body = match body {
        IdentifyBody::Read(b) => b,
        IdentifyBody::NoSize => {
            return Err(FatalError::new(
                "E_BAD_BODY",
                "IDENTIFY failed to read body size",
            ))
        }
        IdentifyBody::BadSize(n) => {
            return Err(FatalError::new(
                "E_BAD_BODY",
                format!("IDENTIFY invalid body size {n}"),
            ))
        }
        IdentifyBody::Short => {
            return Err(FatalError::new(
                "E_BAD_BODY",
                "IDENTIFY failed to read body",
            ))
        }
    };
    let fields = decode_identify(&body)
        .ok_or_else(|| FatalError::new("E_BAD_BODY", "IDENTIFY failed to decode JSON body"))?;
    if fields.broadcast_address.is_empty()
        || fields.tcp_port == 0
        || fields.http_port == 0
        || fields.version.is_empty()
    {
        return Err(FatalError::new("E_BAD_BODY", "IDENTIFY missing fields"));
    }
    let peer = Arc::new(PeerInfo::new(
        client.remote.clone(),
        fields.hostname,
        fields.broadcast_address,
        fields.tcp_port,
        fields.http_port,
        fields.version,
        fields.topology_zone,
        fields.topology_region,
        now_nanos(),
    ));
    tracing::info!(
        "CLIENT({}): IDENTIFY Address:{} TCP:{} HTTP:{} Version:{}",
        client.remote,
        peer.broadcast_address,
        peer.tcp_port,
        peer.http_port,
        peer.version
    );
    client.peer = Some(peer.clone());
    if lookupd
        .db
        .write()
        .add_producer(Registration::client(), &peer)
    {
        tracing::info!(
            "DB: client({}) REGISTER category:client key: subkey:",
            client.remote
        );
    }
    Ok(identify_response(lookupd))
}

/// `{"broadcast_address","hostname","http_port","tcp_port","version"}`, keys sorted as Go's
/// map encoding writes them.
fn identify_response(lookupd: &Lookupd) -> Vec<u8> {
    use nsq_protocol::json::push_json_string;
    let mut out = String::with_capacity(128);
    out.push_str("{\"broadcast_address\":");
    push_json_string(&mut out, &lookupd.opts.broadcast_address);
    out.push_str(",\"hostname\":");
    push_json_string(&mut out, &lookupd.hostname);
    out.push_str(&format!(
        ",\"http_port\":{},\"tcp_port\":{},\"version\":",
        lookupd.http_addr.port(),
        lookupd.tcp_addr.port()
    ));
    push_json_string(&mut out, nsq_protocol::version::VERSION);
    out.push('}');
    out.into_bytes()
}

#[derive(Default)]
struct IdentifyFields {
    hostname: String,
    broadcast_address: String,
    tcp_port: i64,
    http_port: i64,
    version: String,
    topology_zone: String,
    topology_region: String,
}

/// Decodes the IDENTIFY JSON as Go's `json.Unmarshal` into the peer struct would: unknown keys
/// are ignored, `null` leaves a field empty, a value of the wrong type fails.
fn decode_identify(body: &[u8]) -> Option<IdentifyFields> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let mut f = IdentifyFields::default();
    let obj = match value {
        serde_json::Value::Object(o) => o,
        serde_json::Value::Null => return Some(f),
        _ => return None,
    };
    for (key, v) in &obj {
        let text = |v: &serde_json::Value| match v {
            serde_json::Value::Null => Some(String::new()),
            serde_json::Value::String(s) => Some(s.clone()),
            _ => None,
        };
        let int = |v: &serde_json::Value| match v {
            serde_json::Value::Null => Some(0),
            other => other.as_i64(),
        };
        match key.as_str() {
            "hostname" => f.hostname = text(v)?,
            "broadcast_address" => f.broadcast_address = text(v)?,
            "tcp_port" => f.tcp_port = int(v)?,
            "http_port" => f.http_port = int(v)?,
            "version" => f.version = text(v)?,
            "topology_zone" => f.topology_zone = text(v)?,
            "topology_region" => f.topology_region = text(v)?,
            // The server sets the remote address itself, but the key must still decode.
            "remote_address" => {
                text(v)?;
            }
            _ => {}
        }
    }
    Some(f)
}

/// The topic and optional channel of REGISTER and UNREGISTER, validated.
fn topic_channel<'a>(
    command: &str,
    params: &[&'a [u8]],
) -> Result<(&'a str, Option<&'a str>), FatalError> {
    let Some(&topic) = params.first() else {
        return Err(FatalError::new(
            "E_INVALID",
            format!("{command} insufficient number of params"),
        ));
    };
    let channel = params.get(1).copied().filter(|c| !c.is_empty());
    let quoted = |what: &str, name: &[u8]| {
        let mut desc = format!("{command} {what} name '").into_bytes();
        desc.extend_from_slice(name);
        desc.extend_from_slice(b"' is not valid");
        desc
    };
    if !is_valid_topic_name(topic) {
        return Err(FatalError::new("E_BAD_TOPIC", quoted("topic", topic)));
    }
    if let Some(c) = channel {
        if !is_valid_channel_name(c) {
            return Err(FatalError::new("E_BAD_CHANNEL", quoted("channel", c)));
        }
    }
    // Valid names are ASCII.
    let as_str = |b: &'a [u8]| std::str::from_utf8(b).unwrap_or_default();
    Ok((as_str(topic), channel.map(as_str)))
}

fn identified(client: &Client) -> Result<&Arc<PeerInfo>, FatalError> {
    client
        .peer
        .as_ref()
        .ok_or_else(|| FatalError::new("E_INVALID", "client must IDENTIFY"))
}

/// `REGISTER <topic> [channel]` (L-006).
pub fn register(
    lookupd: &Lookupd,
    client: &Client,
    params: &[&[u8]],
) -> Result<&'static [u8], FatalError> {
    let peer = identified(client)?;
    let (topic, channel) = topic_channel("REGISTER", params)?;
    let mut db = lookupd.db.write();
    if let Some(channel) = channel {
        if db.add_producer(Registration::channel(topic, channel), peer) {
            tracing::info!(
                "DB: client({}) REGISTER category:channel key:{} subkey:{}",
                client.remote,
                topic,
                channel
            );
        }
    }
    if db.add_producer(Registration::topic(topic), peer) {
        tracing::info!(
            "DB: client({}) REGISTER category:topic key:{} subkey:",
            client.remote,
            topic
        );
    }
    Ok(b"OK")
}

/// `UNREGISTER <topic> [channel]` (L-007).
pub fn unregister(
    lookupd: &Lookupd,
    client: &Client,
    params: &[&[u8]],
) -> Result<&'static [u8], FatalError> {
    let peer = identified(client)?;
    let (topic, channel) = topic_channel("UNREGISTER", params)?;
    let mut db = lookupd.db.write();
    match channel {
        Some(channel) => {
            let key = Registration::channel(topic, channel);
            let (removed, left) = db.remove_producer(&key, &peer.id);
            if removed {
                tracing::info!(
                    "DB: client({}) UNREGISTER category:channel key:{} subkey:{}",
                    client.remote,
                    topic,
                    channel
                );
            }
            // An ephemeral channel nobody has any more is gone for good.
            if left == 0 && is_ephemeral(channel) {
                db.remove_registration(&key);
            }
        }
        None => {
            // nsqd unregisters a topic's channels before the topic, so anything still
            // registered here is unexpected.
            for r in db.find_registrations(Category::Channel, topic, "*") {
                if db.remove_producer(&r, &peer.id).0 {
                    tracing::warn!(
                        "client({}) unexpected UNREGISTER category:channel key:{} subkey:{}",
                        client.remote,
                        topic,
                        r.subkey
                    );
                }
            }
            let key = Registration::topic(topic);
            let (removed, left) = db.remove_producer(&key, &peer.id);
            if removed {
                tracing::info!(
                    "DB: client({}) UNREGISTER category:topic key:{} subkey:",
                    client.remote,
                    topic
                );
            }
            if left == 0 && is_ephemeral(topic) {
                db.remove_registration(&key);
            }
        }
    }
    Ok(b"OK")
}

/// A closed connection's peer leaves every registration; the registrations stay (L-009).
pub fn disconnect(lookupd: &Lookupd, client: &Client) {
    let Some(peer) = &client.peer else { return };
    let mut db = lookupd.db.write();
    for r in db.lookup_registrations(&peer.id) {
        if db.remove_producer(&r, &peer.id).0 {
            tracing::info!(
                "DB: client({}) UNREGISTER category:{} key:{} subkey:{}",
                client.remote,
                r.category.as_str(),
                r.key,
                r.subkey
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::Options;

    fn lookupd() -> Lookupd {
        let opts = Options {
            broadcast_address: "lookup.example".into(),
            ..Options::default()
        };
        Lookupd::new(
            opts,
            "127.0.0.1:4160".parse().unwrap(),
            "127.0.0.1:4161".parse().unwrap(),
        )
    }

    const BODY: &[u8] = br#"{"broadcast_address":"n1","hostname":"h1","http_port":4151,"tcp_port":4150,"version":"1.3.0","topology_zone":"z","topology_region":"r"}"#;

    fn identified(l: &Lookupd, remote: &str) -> Client {
        let mut c = Client::new(remote.into());
        identify(l, &mut c, IdentifyBody::Read(BODY.to_vec())).unwrap();
        c
    }

    fn err_text(e: FatalError) -> String {
        String::from_utf8(e.to_bytes()).unwrap()
    }

    #[test]
    fn lines_are_trimmed_and_split_on_single_spaces() {
        assert_eq!(parse_line(b"PING\n"), Command::Ping);
        assert_eq!(parse_line(b"  PING \r\n"), Command::Ping);
        assert_eq!(parse_line(b"IDENTIFY\n"), Command::Identify);
        assert_eq!(
            parse_line(b"REGISTER t c\n"),
            Command::Register(vec![&b"t"[..], b"c"])
        );
        assert_eq!(
            parse_line(b"UNREGISTER  t\n"),
            Command::Unregister(vec![&b""[..], b"t"])
        );
        assert_eq!(parse_line(b"REGISTER\n"), Command::Register(vec![]));
        assert_eq!(parse_line(b"ping\n"), Command::Unknown(b"ping"));
        assert_eq!(parse_line(b"\n"), Command::Unknown(b""));
        assert_eq!(parse_line(b"\xff X\x0b\n"), Command::Unknown(b"\xff"));
    }

    #[test]
    fn identify_answers_with_lookupd_details() {
        let l = lookupd();
        let mut c = Client::new("10.0.0.1:5000".into());
        let resp = identify(&l, &mut c, IdentifyBody::Read(BODY.to_vec())).unwrap();
        let host = nsq_common::host::os_hostname();
        assert_eq!(
            String::from_utf8(resp).unwrap(),
            format!(
                "{{\"broadcast_address\":\"lookup.example\",\"hostname\":\"{host}\",\
                 \"http_port\":4161,\"tcp_port\":4160,\"version\":\"1.3.0\"}}"
            )
        );
        let peer = c.peer.as_ref().unwrap();
        assert_eq!(peer.id, "10.0.0.1:5000");
        assert_eq!(peer.remote_address, "10.0.0.1:5000");
        assert_eq!(
            (peer.topology_zone.as_str(), peer.topology_region.as_str()),
            ("z", "r")
        );
        assert_eq!(
            l.db.read().find_producers(Category::Client, "", "").len(),
            1
        );
        assert_eq!(
            err_text(identify(&l, &mut c, IdentifyBody::Read(BODY.to_vec())).unwrap_err()),
            "E_INVALID cannot IDENTIFY again"
        );
    }

    #[test]
    fn identify_errors() {
        let l = lookupd();
        let fail = |body: IdentifyBody| {
            let mut c = Client::new("10.0.0.1:1".into());
            err_text(identify(&l, &mut c, body).unwrap_err())
        };
        assert_eq!(
            fail(IdentifyBody::NoSize),
            "E_BAD_BODY IDENTIFY failed to read body size"
        );
        assert_eq!(
            fail(IdentifyBody::Short),
            "E_BAD_BODY IDENTIFY failed to read body"
        );
        assert_eq!(
            fail(IdentifyBody::BadSize(-1)),
            "E_BAD_BODY IDENTIFY invalid body size -1"
        );
        let read = |s: &str| IdentifyBody::Read(s.as_bytes().to_vec());
        assert_eq!(
            fail(read("{nope")),
            "E_BAD_BODY IDENTIFY failed to decode JSON body"
        );
        assert_eq!(
            fail(read(r#"{"tcp_port":"4150"}"#)),
            "E_BAD_BODY IDENTIFY failed to decode JSON body"
        );
        assert_eq!(
            fail(read("[]")),
            "E_BAD_BODY IDENTIFY failed to decode JSON body"
        );
        assert_eq!(fail(read("null")), "E_BAD_BODY IDENTIFY missing fields");
        for missing in ["broadcast_address", "tcp_port", "http_port", "version"] {
            let mut v: serde_json::Value = serde_json::from_slice(BODY).unwrap();
            v.as_object_mut().unwrap().remove(missing);
            assert_eq!(
                fail(read(&v.to_string())),
                "E_BAD_BODY IDENTIFY missing fields",
                "{missing}"
            );
        }
        assert!(l
            .db
            .read()
            .find_producers(Category::Client, "", "")
            .is_empty());
    }

    #[test]
    fn register_and_unregister() {
        let l = lookupd();
        let c = identified(&l, "10.0.0.1:1");
        let anon = Client::new("10.0.0.1:2".into());
        assert_eq!(
            err_text(register(&l, &anon, &[b"t"]).unwrap_err()),
            "E_INVALID client must IDENTIFY"
        );
        assert_eq!(
            err_text(register(&l, &c, &[]).unwrap_err()),
            "E_INVALID REGISTER insufficient number of params"
        );
        assert_eq!(
            err_text(register(&l, &c, &[b"bad!"]).unwrap_err()),
            "E_BAD_TOPIC REGISTER topic name 'bad!' is not valid"
        );
        assert_eq!(
            err_text(register(&l, &c, &[b"t", b"bad!"]).unwrap_err()),
            "E_BAD_CHANNEL REGISTER channel name 'bad!' is not valid"
        );
        assert_eq!(
            unregister(&l, &c, &[b"t", b"b\xffd"])
                .unwrap_err()
                .to_bytes(),
            b"E_BAD_CHANNEL UNREGISTER channel name 'b\xffd' is not valid".to_vec()
        );
        assert_eq!(register(&l, &c, &[b"t", b"c"]).unwrap(), b"OK");
        assert_eq!(register(&l, &c, &[b"t", b"e#ephemeral"]).unwrap(), b"OK");
        {
            let db = l.db.read();
            assert!(db.has(&Registration::topic("t")));
            assert!(db.has(&Registration::channel("t", "c")));
        }
        assert_eq!(unregister(&l, &c, &[b"t", b"e#ephemeral"]).unwrap(), b"OK");
        assert_eq!(unregister(&l, &c, &[b"t", b"c"]).unwrap(), b"OK");
        {
            let db = l.db.read();
            assert!(
                !db.has(&Registration::channel("t", "e#ephemeral")),
                "an ephemeral channel left without producers goes"
            );
            assert!(db.has(&Registration::channel("t", "c")), "others stay");
        }
        // A topic unregistration also leaves every channel of the topic.
        register(&l, &c, &[b"t", b"c"]).unwrap();
        unregister(&l, &c, &[b"t"]).unwrap();
        let db = l.db.read();
        assert!(db.find_producers(Category::Channel, "t", "*").is_empty());
        assert!(db.find_producers(Category::Topic, "t", "").is_empty());
        assert!(db.has(&Registration::topic("t")));
    }

    #[test]
    fn ephemeral_topic_goes_with_its_last_producer() {
        let l = lookupd();
        let a = identified(&l, "10.0.0.1:1");
        let b = identified(&l, "10.0.0.1:2");
        register(&l, &a, &[b"t#ephemeral"]).unwrap();
        register(&l, &b, &[b"t#ephemeral"]).unwrap();
        unregister(&l, &a, &[b"t#ephemeral"]).unwrap();
        assert!(l.db.read().has(&Registration::topic("t#ephemeral")));
        unregister(&l, &b, &[b"t#ephemeral"]).unwrap();
        assert!(!l.db.read().has(&Registration::topic("t#ephemeral")));
    }

    #[test]
    fn disconnect_removes_the_peer_but_keeps_registrations() {
        let l = lookupd();
        let c = identified(&l, "10.0.0.1:1");
        register(&l, &c, &[b"t", b"c"]).unwrap();
        disconnect(&l, &c);
        let db = l.db.read();
        assert!(db.lookup_registrations("10.0.0.1:1").is_empty());
        assert!(db.has(&Registration::topic("t")));
        assert!(db.has(&Registration::channel("t", "c")));
        assert!(db.has(&Registration::client()));
    }

    #[test]
    fn ping_refreshes_last_update() {
        let l = lookupd();
        assert_eq!(ping(&Client::new("x:1".into())), b"OK");
        let c = identified(&l, "10.0.0.1:1");
        let peer = c.peer.clone().unwrap();
        peer.touch(0);
        assert_eq!(ping(&c), b"OK");
        assert!(peer.last_update() > 0);
    }
}
