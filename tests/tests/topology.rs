//! Topology-aware consumption (BEH-180..183, QRK-12, H-042): with the experiment on, a publish
//! goes first to a waiting zone-local consumer, then to a region-local one, then to anyone; the
//! channel counts messages taken from memory by the taker's locality.

use nsq_tests::{http_post, stats_channel, Nsqd, RawConn, FRAME_RESPONSE};

const EXPERIMENT: &str = "--enable-experiment=topology-aware-consumption";

/// A subscribed consumer that identified with `zone`/`region` and is waiting for messages:
/// the error answer to a bogus FIN comes back only after the RDY that precedes it made the
/// connection look for messages (and, finding none, wait for them).
fn waiting_consumer(nsqd: &Nsqd, zone: &str, region: &str, rdy: u32) -> RawConn {
    let mut c = nsqd.conn();
    let json = format!(
        r#"{{"client_id":"{zone}-{region}","topology_zone":"{zone}","topology_region":"{region}"}}"#
    );
    assert_eq!(c.identify(&json), (FRAME_RESPONSE, b"OK".to_vec()));
    c.sub("t", "c");
    c.rdy(rdy);
    c.fin("0000000000000000");
    c.expect_error("E_FIN_FAILED FIN 0000000000000000 failed ID not in flight");
    c
}

fn publish(nsqd: &Nsqd, body: &str) {
    let r = http_post(nsqd.http_addr, "/pub?topic=t", body.as_bytes());
    assert_eq!((r.status, r.text().as_str()), (200, "OK"));
}

fn channel_stats(nsqd: &Nsqd) -> serde_json::Value {
    stats_channel(&nsqd.stats(), "t", "c")
        .expect("channel t/c in /stats")
        .clone()
}

fn client_messages(channel: &serde_json::Value, client_id: &str) -> u64 {
    channel["clients"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["client_id"] == client_id)
        .unwrap_or_else(|| panic!("client {client_id} in {channel}"))["message_count"]
        .as_u64()
        .unwrap()
}

#[test]
fn waiting_zone_then_region_consumers_get_messages_first() {
    let nsqd = Nsqd::start_with(&[EXPERIMENT, "--topology-zone=z1", "--topology-region=r1"]);
    // The far consumer waits first, so without the experiment it would be served first.
    let mut far = waiting_consumer(&nsqd, "z2", "r2", 10);
    let mut region = waiting_consumer(&nsqd, "z9", "r1", 1);
    let mut zone = waiting_consumer(&nsqd, "z1", "r1", 2);

    // The zone-local consumer takes everything it has room for ...
    publish(&nsqd, "m1");
    assert_eq!(zone.read_message().body, b"m1");
    publish(&nsqd, "m2");
    assert_eq!(zone.read_message().body, b"m2");
    // ... then the region-local one ...
    publish(&nsqd, "m3");
    assert_eq!(region.read_message().body, b"m3");
    // ... and only then anyone.
    publish(&nsqd, "m4");
    assert_eq!(far.read_message().body, b"m4");

    let ch = channel_stats(&nsqd);
    assert_eq!(ch["zone_local_msg_count"], 2, "{ch}");
    assert_eq!(ch["region_local_msg_count"], 1, "{ch}");
    assert_eq!(ch["global_msg_count"], 1, "{ch}");
    assert_eq!(ch["message_count"], 4);
    assert_eq!(ch["depth"], 0);
    assert_eq!(client_messages(&ch, "z1-r1"), 2);
    assert_eq!(client_messages(&ch, "z9-r1"), 1);
    assert_eq!(client_messages(&ch, "z2-r2"), 1);
}

#[test]
fn empty_zones_match_when_none_is_configured() {
    // QRK-12: "" equals "", so a consumer that sent no zone counts as zone-local.
    let nsqd = Nsqd::start_with(&[EXPERIMENT]);
    let mut c = waiting_consumer(&nsqd, "", "", 5);
    publish(&nsqd, "m1");
    assert_eq!(c.read_message().body, b"m1");
    let ch = channel_stats(&nsqd);
    assert_eq!(ch["zone_local_msg_count"], 1, "{ch}");
    assert!(ch.get("region_local_msg_count").is_none(), "{ch}");
    assert!(ch.get("global_msg_count").is_none(), "{ch}");
}

#[test]
fn without_the_experiment_every_message_counts_as_global() {
    let nsqd = Nsqd::start_with(&["--topology-zone=z1", "--topology-region=r1"]);
    let mut zone = waiting_consumer(&nsqd, "z1", "r1", 5);
    publish(&nsqd, "m1");
    assert_eq!(zone.read_message().body, b"m1");
    let ch = channel_stats(&nsqd);
    assert_eq!(ch["global_msg_count"], 1, "{ch}");
    assert!(ch.get("zone_local_msg_count").is_none(), "{ch}");
    assert!(ch.get("region_local_msg_count").is_none(), "{ch}");
}
