//! nsqd registering with nsqlookupd (§3.16, BEH-002): IDENTIFY and REGISTER of everything on
//! connect, REGISTER/UNREGISTER as topics and channels come and go, peers reconciled from
//! `/config/nsqlookupd_tcp_addresses`, re-registration after a lookupd restart, channel
//! pre-creation, and producers leaving when nsqd dies or goes quiet.

use std::time::Duration;

use nsq_tests::lookupd::Nsqlookupd;
use nsq_tests::{http, http_post, stats_channel, wait_until, Nsqd};

const WAIT: Duration = Duration::from_secs(20);

fn start_nsqd(lookupds: &[&Nsqlookupd], extra: &[&str]) -> Nsqd {
    let mut args: Vec<String> = lookupds.iter().map(|l| l.nsqd_arg()).collect();
    args.push("--broadcast-address=127.0.0.1".into());
    args.extend(extra.iter().map(|s| s.to_string()));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    Nsqd::start_with(&refs)
}

/// Waits until nsqd has IDENTIFYed with `l` and stored its answer.
fn wait_identified(nsqd: &Nsqd, l: &Nsqlookupd) {
    assert!(
        nsqd.wait_for_log(&format!("LOOKUPD({}): peer info {{", l.tcp_addr), WAIT),
        "nsqd did not identify with {}; log:\n{}",
        l.tcp_addr,
        nsqd.logs().join("\n")
    );
}

fn debug_has(l: &Nsqlookupd, key: &str) -> bool {
    l.get("/debug").json().get(key).is_some()
}

#[test]
fn nsqd_identifies_and_registers_as_topics_and_channels_change() {
    let l = Nsqlookupd::start();
    let nsqd = start_nsqd(&[&l], &[]);
    wait_identified(&nsqd, &l);
    let port = nsqd.tcp_addr.port();
    assert!(nsqd.wait_for_log(&format!("LOOKUP({}): adding peer", l.tcp_addr), WAIT));

    // IDENTIFY carried the broadcast address, the bound ports, the hostname and the version.
    let nodes = l.get("/nodes").json();
    let node = &nodes["producers"][0];
    assert_eq!(node["broadcast_address"], "127.0.0.1");
    assert_eq!(node["tcp_port"], port);
    assert_eq!(node["http_port"], nsqd.http_addr.port());
    assert_eq!(node["version"], "1.3.0");
    assert!(!node["hostname"].as_str().unwrap().is_empty());
    assert_eq!(node["topics"], serde_json::json!([]));

    // A new topic, then a channel, are registered.
    assert_eq!(
        http_post(nsqd.http_addr, "/topic/create?topic=t", b"").status,
        200
    );
    assert!(wait_until(WAIT, || l.producer_ports("t") == [port]));
    assert_eq!(
        http_post(nsqd.http_addr, "/channel/create?topic=t&channel=c", b"").status,
        200
    );
    assert!(wait_until(WAIT, || debug_has(&l, "channel:t:c")));
    assert_eq!(l.channels("t"), ["c"]);
    assert!(nsqd.wait_for_log(
        &format!("LOOKUPD({}): channel REGISTER t c", l.tcp_addr),
        WAIT
    ));

    // An ephemeral channel comes with its subscriber and goes when it leaves.
    let mut sub = nsqd.conn();
    sub.sub("t", "e#ephemeral");
    assert!(wait_until(WAIT, || l.channels("t") == ["c", "e#ephemeral"]));
    drop(sub);
    assert!(wait_until(WAIT, || l.channels("t") == ["c"]));

    // Deleting the channel unregisters nsqd from it; deleting the topic from the topic.
    assert_eq!(
        http_post(nsqd.http_addr, "/channel/delete?topic=t&channel=c", b"").status,
        200
    );
    assert!(wait_until(WAIT, || !debug_has(&l, "channel:t:c")));
    assert_eq!(l.producer_ports("t"), [port]);
    http_post(nsqd.http_addr, "/channel/create?topic=t&channel=c2", b"");
    assert!(wait_until(WAIT, || debug_has(&l, "channel:t:c2")));
    assert_eq!(
        http_post(nsqd.http_addr, "/topic/delete?topic=t", b"").status,
        200
    );
    assert!(wait_until(WAIT, || l.producer_ports("t").is_empty()));
    assert!(
        !debug_has(&l, "channel:t:c2"),
        "channels are unregistered with the topic"
    );
    assert!(
        !l.logs()
            .iter()
            .any(|line| line.contains("unexpected UNREGISTER")),
        "channels go before their topic"
    );
}

#[test]
fn peers_follow_config_changes_and_register_existing_topics() {
    let l1 = Nsqlookupd::start();
    let l2 = Nsqlookupd::start();
    let nsqd = start_nsqd(&[], &[]);
    let port = nsqd.tcp_addr.port();
    http_post(nsqd.http_addr, "/topic/create?topic=a", b"");
    http_post(nsqd.http_addr, "/topic/create?topic=b", b"");
    http_post(nsqd.http_addr, "/channel/create?topic=b&channel=x", b"");

    let put = |body: &str| {
        http(
            nsqd.http_addr,
            "PUT",
            "/config/nsqlookupd_tcp_addresses",
            body.as_bytes(),
        )
    };
    let r = put(&format!("[\"{}\",\"{}\"]", l1.tcp_addr, l2.tcp_addr));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.json(),
        serde_json::json!([l1.tcp_addr.to_string(), l2.tcp_addr.to_string()])
    );
    // Every existing topic and channel is registered on connect, with both lookupds.
    for l in [&l1, &l2] {
        assert!(
            wait_until(WAIT, || l.producer_ports("a") == [port]
                && l.producer_ports("b") == [port]
                && l.channels("b") == ["x"]),
            "{:?} {:?} {:?}; nsqd log:\n{}",
            l.lookup("a"),
            l.lookup("b"),
            l.channels("b"),
            nsqd.logs().join("\n")
        );
    }

    // Removing a peer closes its connection; lookupd drops the node at once.
    let r = put(&format!("[\"{}\"]", l2.tcp_addr));
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(wait_until(WAIT, || l1.producer_ports("a").is_empty()));
    assert_eq!(l2.producer_ports("a"), [port]);
    assert!(nsqd.wait_for_log(&format!("LOOKUP({}): removing peer", l1.tcp_addr), WAIT));
    let r = http(
        nsqd.http_addr,
        "GET",
        "/config/nsqlookupd_tcp_addresses",
        b"",
    );
    assert_eq!(r.json(), serde_json::json!([l2.tcp_addr.to_string()]));

    let r = put("[]");
    assert_eq!((r.status, r.text().as_str()), (200, "[]"));
    assert!(wait_until(WAIT, || l2.producer_ports("a").is_empty()));
}

#[test]
fn nsqd_registers_again_after_lookupd_restarts() {
    let mut l = Nsqlookupd::start();
    let nsqd = start_nsqd(&[&l], &[]);
    let port = nsqd.tcp_addr.port();
    http_post(nsqd.http_addr, "/topic/create?topic=t", b"");
    http_post(nsqd.http_addr, "/channel/create?topic=t&channel=c", b"");
    assert!(wait_until(WAIT, || l.producer_ports("t") == [port]));

    // A restarted lookupd knows nothing (L-023). nsqd notices the dead connection at its
    // next command, reconnects at once and registers everything again.
    l.restart_same_ports();
    assert!(l.lookup("t").is_none());
    http_post(nsqd.http_addr, "/topic/create?topic=t2", b"");
    assert!(
        wait_until(WAIT, || l.producer_ports("t") == [port]
            && l.producer_ports("t2") == [port]
            && l.channels("t") == ["c"]),
        "nsqd log:\n{}",
        nsqd.logs().join("\n")
    );

    // With nothing to say, its 15 s PING finds the dead connection and reconnects.
    l.restart_same_ports();
    assert!(wait_until(Duration::from_secs(40), || l
        .producer_ports("t")
        == [port]));
}

#[test]
fn channels_are_precreated_from_lookupd() {
    let l = Nsqlookupd::start();
    assert_eq!(l.post("/channel/create?topic=t&channel=c1").status, 200);
    assert_eq!(
        l.post("/channel/create?topic=t&channel=c2%23ephemeral")
            .status,
        200
    );
    let nsqd = start_nsqd(&[&l], &[]);
    wait_identified(&nsqd, &l);
    assert_eq!(
        http_post(nsqd.http_addr, "/pub?topic=t", b"first").status,
        200
    );
    // The topic asked lookupd for its channels before taking the message: c1 has it.
    let stats = nsqd.stats();
    let c1 = stats_channel(&stats, "t", "c1").expect("c1 pre-created");
    assert_eq!(c1["depth"], 1);
    assert!(
        stats_channel(&stats, "t", "c2#ephemeral").is_none(),
        "ephemeral channels are not pre-created"
    );
}

#[test]
fn no_answering_lookupd_means_no_precreation() {
    // A port nothing listens on.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = dead.local_addr().unwrap();
    drop(dead);
    let nsqd = start_nsqd(&[], &[&format!("--lookupd-tcp-address={addr}")]);
    assert_eq!(http_post(nsqd.http_addr, "/pub?topic=t", b"x").status, 200);
    assert!(nsqd.wait_for_log(
        "ERROR: no available nsqlookupd to query for channels to pre-create for topic t",
        WAIT
    ));
}

#[test]
fn killed_nsqd_disappears_and_returns_when_restarted() {
    let l = Nsqlookupd::start();
    let mut nsqd = start_nsqd(&[&l], &[]);
    http_post(nsqd.http_addr, "/topic/create?topic=t", b"");
    let first_port = nsqd.tcp_addr.port();
    assert!(wait_until(WAIT, || l.producer_ports("t") == [first_port]));

    // SIGKILL: the connection closes with the process, and lookupd drops the node.
    nsqd.kill();
    assert!(wait_until(WAIT, || l.producer_ports("t").is_empty()));
    assert_eq!(l.get("/nodes").text(), r#"{"producers":[]}"#);

    // Restarted on the same data path, it registers its topic again from its metadata.
    let args = [l.nsqd_arg(), "--broadcast-address=127.0.0.1".to_string()];
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    nsqd.restart_with(&refs);
    let port = nsqd.tcp_addr.port();
    assert!(wait_until(WAIT, || l.producer_ports("t") == [port]));
}

/// A node that stops pinging (SIGSTOP keeps its connection open) leaves `/lookup` after
/// `--inactive-producer-timeout`, and comes back with its next PING.
#[test]
fn silent_nsqd_goes_inactive_then_returns() {
    // Longer than nsqd's 15 s ping interval, so a healthy node is always listed.
    let l = Nsqlookupd::start_with(&["--inactive-producer-timeout=18s"]);
    let mut nsqd = start_nsqd(&[&l], &[]);
    http_post(nsqd.http_addr, "/topic/create?topic=t", b"");
    let port = nsqd.tcp_addr.port();
    assert!(wait_until(WAIT, || l.producer_ports("t") == [port]));

    nsqd.signal(libc::SIGSTOP);
    let gone = wait_until(Duration::from_secs(60), || l.producer_ports("t").is_empty());
    let nodes = l.get("/nodes").text();
    nsqd.signal(libc::SIGCONT);
    assert!(gone, "a silent node stayed listed");
    assert_eq!(nodes, r#"{"producers":[]}"#);
    assert!(
        debug_has(&l, "topic:t:"),
        "still registered, only filtered out"
    );
    assert!(wait_until(Duration::from_secs(40), || l
        .producer_ports("t")
        == [port]));
}

#[test]
fn nsqd_registers_with_every_lookupd() {
    let l1 = Nsqlookupd::start();
    let l2 = Nsqlookupd::start();
    let nsqd = start_nsqd(&[&l1, &l2], &[]);
    http_post(nsqd.http_addr, "/topic/create?topic=t", b"");
    let port = nsqd.tcp_addr.port();
    assert!(wait_until(WAIT, || l1.producer_ports("t") == [port]
        && l2.producer_ports("t") == [port]));
}

#[test]
fn broadcast_address_and_ports_are_what_lookupd_offers() {
    let l = Nsqlookupd::start();
    let nsqd = start_nsqd(
        &[&l],
        &[
            "--broadcast-address=nsqd-1.example",
            "--broadcast-tcp-port=5150",
            "--broadcast-http-port=5151",
        ],
    );
    http_post(nsqd.http_addr, "/topic/create?topic=t", b"");
    assert!(wait_until(WAIT, || l.producer_ports("t") == [5150]));
    let found = l.lookup("t").unwrap();
    let p = &found["producers"][0];
    assert_eq!(p["broadcast_address"], "nsqd-1.example");
    assert_eq!(p["http_port"], 5151);
    // Tombstoning names the node by its broadcast address and HTTP port.
    assert_eq!(
        l.post("/topic/tombstone?topic=t&node=nsqd-1.example:5151")
            .status,
        200
    );
    assert_eq!(l.producer_ports("t"), Vec::<u16>::new());
}
