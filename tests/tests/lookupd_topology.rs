//! Discovery end to end with the real clients: pynsq and nsqjs Readers given only nsqlookupd
//! addresses find every nsqd that has the topic and drain each message exactly once; a
//! tombstoned producer is not offered until its tombstone expires; two lookupds give the
//! union of what each knows.
//!
//! Each nsqd `i` is published the bodies `n<i>-m<j>` (j < PER_NODE). The consumers' channels
//! are created in lookupd first, so every nsqd pre-creates them with its topic (BEH-002) and
//! each channel holds every message.

use std::time::Duration;

use nsq_tests::compat::CompatClient;
use nsq_tests::lookupd::Nsqlookupd;
use nsq_tests::{http_post, stats_channel, wait_until, Nsqd};

const PER_NODE: usize = 300;
const WAIT: Duration = Duration::from_secs(20);

fn start_nsqd(lookupds: &[&Nsqlookupd]) -> Nsqd {
    let mut args: Vec<String> = lookupds.iter().map(|l| l.nsqd_arg()).collect();
    args.push("--broadcast-address=127.0.0.1".into());
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let nsqd = Nsqd::start_with(&refs);
    for l in lookupds {
        assert!(
            nsqd.wait_for_log(&format!("LOOKUPD({}): peer info {{", l.tcp_addr), WAIT),
            "nsqd did not identify with {}",
            l.tcp_addr
        );
    }
    nsqd
}

/// Publishes node `node`'s bodies to `topic` on `nsqd` with one text-mode `/mpub`.
fn publish(nsqd: &Nsqd, topic: &str, node: usize) {
    let body: String = (0..PER_NODE).map(|j| format!("n{node}-m{j}\n")).collect();
    let r = http_post(
        nsqd.http_addr,
        &format!("/mpub?topic={topic}"),
        body.as_bytes(),
    );
    assert_eq!((r.status, r.text().as_str()), (200, "OK"));
}

/// Checks that every nsqd pre-created `channels` for `topic` and holds all its messages there.
fn assert_precreated(nsqds: &[&Nsqd], topic: &str, channels: &[&str]) {
    for nsqd in nsqds {
        let stats = nsqd.stats();
        for ch in channels {
            let c = stats_channel(&stats, topic, ch)
                .unwrap_or_else(|| panic!("{ch} not pre-created on {}", nsqd.http_addr));
            assert_eq!(c["depth"], PER_NODE, "{ch} on {}", nsqd.http_addr);
        }
    }
}

/// Runs the `lookupd` scenario of `client`, consuming `topic`/`channel` through `lookupds`
/// and expecting exactly the messages of `nodes`.
fn drain(
    client: CompatClient,
    lookupds: &[&Nsqlookupd],
    any_nsqd: &Nsqd,
    topic: &str,
    channel: &str,
    nodes: &[usize],
) {
    let list = |v: Vec<String>| v.join(",");
    let args = vec![
        "--tcp".to_string(),
        any_nsqd.tcp_addr.to_string(),
        "--http".to_string(),
        any_nsqd.http_addr.to_string(),
        "--lookupd".to_string(),
        list(lookupds.iter().map(|l| l.http_addr.to_string()).collect()),
        "--topic".to_string(),
        topic.to_string(),
        "--channel".to_string(),
        channel.to_string(),
        "--nodes".to_string(),
        list(nodes.iter().map(|n| n.to_string()).collect()),
        "--per-node".to_string(),
        PER_NODE.to_string(),
    ];
    match client.run("lookupd", &args) {
        None => {}
        Some(Ok(stdout)) => eprint!("{stdout}"),
        Some(Err(output)) => {
            let logs: Vec<String> = lookupds.iter().flat_map(|l| l.logs()).collect();
            let tail = &logs[logs.len().saturating_sub(40)..];
            panic!(
                "{client:?} lookupd scenario failed\n{output}\n--- nsqlookupd log (tail)\n{}",
                tail.join("\n")
            );
        }
    }
}

#[test]
fn readers_discover_three_nsqd_through_one_lookupd() {
    let l = Nsqlookupd::start();
    let topic = "spread";
    for ch in ["pynsq", "nsqjs"] {
        assert_eq!(
            l.post(&format!("/channel/create?topic={topic}&channel={ch}"))
                .status,
            200
        );
    }
    let nsqds: Vec<Nsqd> = (0..3).map(|_| start_nsqd(&[&l])).collect();
    for (i, nsqd) in nsqds.iter().enumerate() {
        publish(nsqd, topic, i);
    }
    let mut ports: Vec<u16> = nsqds.iter().map(|n| n.tcp_addr.port()).collect();
    ports.sort_unstable();
    assert!(wait_until(WAIT, || l.producer_ports(topic) == ports));
    let refs: Vec<&Nsqd> = nsqds.iter().collect();
    assert_precreated(&refs, topic, &["pynsq", "nsqjs"]);

    drain(
        CompatClient::Pynsq,
        &[&l],
        &nsqds[0],
        topic,
        "pynsq",
        &[0, 1, 2],
    );
    drain(
        CompatClient::Nsqjs,
        &[&l],
        &nsqds[0],
        topic,
        "nsqjs",
        &[0, 1, 2],
    );
}

#[test]
fn tombstoned_producer_is_not_offered_until_the_tombstone_expires() {
    let l = Nsqlookupd::start_with(&["--tombstone-lifetime=20s"]);
    let topic = "tombs";
    for ch in ["pynsq", "nsqjs"] {
        assert_eq!(
            l.post(&format!("/channel/create?topic={topic}&channel={ch}"))
                .status,
            200
        );
    }
    let nsqds: Vec<Nsqd> = (0..3).map(|_| start_nsqd(&[&l])).collect();
    for (i, nsqd) in nsqds.iter().enumerate() {
        publish(nsqd, topic, i);
    }
    let mut ports: Vec<u16> = nsqds.iter().map(|n| n.tcp_addr.port()).collect();
    ports.sort_unstable();
    assert!(wait_until(WAIT, || l.producer_ports(topic) == ports));

    // Tombstone node 0 for this topic: `node` is its broadcast address and HTTP port.
    let node0 = format!("127.0.0.1:{}", nsqds[0].http_addr.port());
    let r = l.post(&format!("/topic/tombstone?topic={topic}&node={node0}"));
    assert_eq!(r.status, 200);
    let mut others: Vec<u16> = nsqds[1..].iter().map(|n| n.tcp_addr.port()).collect();
    others.sort_unstable();
    assert_eq!(l.producer_ports(topic), others);
    // The consumers find, connect to and drain only the other two.
    drain(
        CompatClient::Pynsq,
        &[&l],
        &nsqds[1],
        topic,
        "pynsq",
        &[1, 2],
    );
    drain(
        CompatClient::Nsqjs,
        &[&l],
        &nsqds[1],
        topic,
        "nsqjs",
        &[1, 2],
    );
    let stats = nsqds[0].stats();
    assert_eq!(
        stats_channel(&stats, topic, "pynsq").unwrap()["depth"],
        PER_NODE,
        "nobody consumed from the tombstoned node"
    );

    // Once the tombstone expires, node 0 is offered again.
    assert!(wait_until(Duration::from_secs(60), || l
        .producer_ports(topic)
        == ports));
}

#[test]
fn readers_see_the_union_of_two_lookupds() {
    let l1 = Nsqlookupd::start();
    let l2 = Nsqlookupd::start();
    let topic = "union";
    for l in [&l1, &l2] {
        for ch in ["pynsq", "nsqjs"] {
            assert_eq!(
                l.post(&format!("/channel/create?topic={topic}&channel={ch}"))
                    .status,
                200
            );
        }
    }
    // Node 0 registers with l1 only, node 1 with l2 only, node 2 with both.
    let nsqds = [
        start_nsqd(&[&l1]),
        start_nsqd(&[&l2]),
        start_nsqd(&[&l1, &l2]),
    ];
    for (i, nsqd) in nsqds.iter().enumerate() {
        publish(nsqd, topic, i);
    }
    let port = |i: usize| nsqds[i].tcp_addr.port();
    let sorted = |mut v: Vec<u16>| {
        v.sort_unstable();
        v
    };
    assert!(wait_until(WAIT, || l1.producer_ports(topic)
        == sorted(vec![port(0), port(2)])));
    assert!(wait_until(WAIT, || l2.producer_ports(topic)
        == sorted(vec![port(1), port(2)])));
    let refs: Vec<&Nsqd> = nsqds.iter().collect();
    assert_precreated(&refs, topic, &["pynsq", "nsqjs"]);

    drain(
        CompatClient::Pynsq,
        &[&l1, &l2],
        &nsqds[0],
        topic,
        "pynsq",
        &[0, 1, 2],
    );
    drain(
        CompatClient::Nsqjs,
        &[&l1, &l2],
        &nsqds[0],
        topic,
        "nsqjs",
        &[0, 1, 2],
    );
}
