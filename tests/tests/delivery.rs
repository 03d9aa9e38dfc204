//! Message delivery behaviour of the real nsqd (spec §1.10, §3.1, §3.3-§3.8, §3.12).
//!
//! Assertions are order-independent where the spec gives no ordering, and waits are deadlines
//! (`wait_until`, read timeouts), never sleeps. "Nothing arrives" checks use a short bounded
//! read window; they can only pass wrongly, never fail wrongly, on a slow machine.

use nsq_tests::*;
use serde_json::Value;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(5);
/// Timeouts may be noticed up to ~5 s late by the reference scan loop (BEH-051).
const TIMEOUT_WAIT: Duration = Duration::from_secs(15);
/// Window used to check that nothing is delivered.
const QUIET: Duration = Duration::from_millis(400);

fn channel_field(nsqd: &Nsqd, topic: &str, channel: &str, field: &str) -> Option<Value> {
    stats_channel(&nsqd.stats(), topic, channel).map(|c| c[field].clone())
}

fn wait_channel_field(nsqd: &Nsqd, topic: &str, channel: &str, field: &str, want: Value) {
    let mut last = None;
    let ok = wait_until(WAIT, || {
        last = channel_field(nsqd, topic, channel, field);
        last.as_ref() == Some(&want)
    });
    assert!(
        ok,
        "{topic}/{channel} {field}: want {want}, last seen {last:?}"
    );
}

fn wait_topic_field(nsqd: &Nsqd, topic: &str, field: &str, want: Value) {
    let mut last = None;
    let ok = wait_until(WAIT, || {
        last = stats_topic(&nsqd.stats(), topic).map(|t| t[field].clone());
        last.as_ref() == Some(&want)
    });
    assert!(ok, "{topic} {field}: want {want}, last seen {last:?}");
}

fn post_ok(nsqd: &Nsqd, path: &str) {
    let r = http_post(nsqd.http_addr, path, b"");
    assert_eq!(r.status, 200, "POST {path}: {}", r.text());
}

fn bodies(msgs: &[Msg]) -> BTreeSet<Vec<u8>> {
    msgs.iter().map(|m| m.body.clone()).collect()
}

// §3.1 topics, channels, fan-out

#[test]
fn topics_and_channels_are_created_on_use() {
    // BEH-001
    let nsqd = Nsqd::start();
    let mut p = nsqd.conn();
    p.publish("by_pub", b"x");
    let _c = nsqd.consumer("by_sub", "ch", 0);
    let stats = nsqd.stats();
    let t = stats_topic(&stats, "by_pub").expect("PUB creates the topic");
    assert_eq!(t["channels"], serde_json::json!([]));
    assert!(
        stats_channel(&stats, "by_sub", "ch").is_some(),
        "SUB creates topic and channel"
    );
}

#[test]
fn fan_out_copies_to_every_channel() {
    // BEH-004
    let nsqd = Nsqd::start();
    let mut c1 = nsqd.consumer("fan", "ch1", 1);
    let mut c2 = nsqd.consumer("fan", "ch2", 1);
    let mut p = nsqd.conn();
    p.publish("fan", b"payload");
    let m1 = c1.read_message();
    let m2 = c2.read_message();
    assert_eq!(
        (&m1.id, &m1.body, m1.timestamp),
        (&m2.id, &m2.body, m2.timestamp)
    );
    assert_eq!((m1.attempts, m2.attempts), (1, 1));
    assert_eq!(m1.body, b"payload");
}

#[test]
fn topic_holds_messages_until_a_channel_exists() {
    // BEH-004
    let nsqd = Nsqd::start();
    let mut p = nsqd.conn();
    for b in [b"a", b"b", b"c"] {
        p.publish("held", b);
    }
    wait_topic_field(&nsqd, "held", "depth", 3.into());
    let mut c = nsqd.consumer("held", "late", 10);
    let got: Vec<Msg> = (0..3).map(|_| c.read_message()).collect();
    assert_eq!(
        bodies(&got),
        BTreeSet::from([b"a".to_vec(), b"b".to_vec(), b"c".to_vec()])
    );
}

#[test]
fn channel_clients_share_the_messages() {
    // BEH-005: every message goes to exactly one client of the channel.
    let nsqd = Nsqd::start();
    let mut a = nsqd.consumer("share", "c", 20);
    let mut b = nsqd.consumer("share", "c", 20);
    let mut p = nsqd.conn();
    for i in 0..20 {
        p.publish("share", format!("m{i}").as_bytes());
    }
    let mut got = Vec::new();
    let deadline = Instant::now() + WAIT;
    while got.len() < 20 && Instant::now() < deadline {
        got.extend(a.try_read_message(Duration::from_millis(50)));
        got.extend(b.try_read_message(Duration::from_millis(50)));
    }
    let ids: BTreeSet<_> = got.iter().map(|m| m.id.clone()).collect();
    assert_eq!(
        (got.len(), ids.len()),
        (20, 20),
        "each message exactly once"
    );
    assert!(a.try_read_message(QUIET).is_none() && b.try_read_message(QUIET).is_none());
}

#[test]
fn message_and_byte_counters() {
    // BEH-006
    let nsqd = Nsqd::start();
    let _c1 = nsqd.consumer("count", "c1", 0);
    let _c2 = nsqd.consumer("count", "c2", 0);
    let mut p = nsqd.conn();
    p.publish("count", b"a");
    p.publish("count", b"bb");
    p.mpub("count", &[b"ccc"]);
    wait_topic_field(&nsqd, "count", "message_count", 3.into());
    wait_topic_field(&nsqd, "count", "message_bytes", 6.into());
    wait_channel_field(&nsqd, "count", "c1", "message_count", 3.into());
    wait_channel_field(&nsqd, "count", "c2", "message_count", 3.into());
    wait_channel_field(&nsqd, "count", "c1", "depth", 3.into());
}

// §1.10 and §3.3 flow control, in-flight, requeue, timeouts

#[test]
fn rdy_is_a_window_not_a_counter() {
    // BEH-030, P-100, P-104
    let nsqd = Nsqd::start();
    let mut p = nsqd.conn();
    for i in 0..5 {
        p.publish("win", format!("{i}").as_bytes());
    }
    let mut c = nsqd.consumer("win", "c", 2);
    let first = c.read_message();
    let second = c.read_message();
    assert!(
        c.try_read_message(QUIET).is_none(),
        "RDY 2 allows only 2 in flight"
    );
    wait_channel_field(&nsqd, "win", "c", "in_flight_count", 2.into());
    c.fin(&first.id);
    let third = c.read_message();
    assert!(
        c.try_read_message(QUIET).is_none(),
        "still only 2 in flight"
    );
    c.fin(&second.id);
    c.fin(&third.id);
    let mut rest = vec![c.read_message(), c.read_message()];
    for m in &rest {
        c.fin(&m.id);
    }
    rest.extend([first, second, third]);
    assert_eq!(bodies(&rest).len(), 5);
    wait_channel_field(&nsqd, "win", "c", "in_flight_count", 0.into());
    wait_channel_field(&nsqd, "win", "c", "depth", 0.into());
}

#[test]
fn req_zero_redelivers_with_attempts_two() {
    // BEH-032, P-025
    let nsqd = Nsqd::start();
    let mut c = nsqd.consumer("req0", "c", 1);
    let mut p = nsqd.conn();
    p.publish("req0", b"again");
    let m = c.read_message();
    c.req(&m.id, 0);
    let again = c.read_message();
    assert_eq!(
        (again.id.as_str(), again.attempts, again.timestamp),
        (m.id.as_str(), 2, m.timestamp)
    );
    assert_eq!(again.body, b"again");
    wait_channel_field(&nsqd, "req0", "c", "requeue_count", 1.into());
    let clients = channel_field(&nsqd, "req0", "c", "clients").unwrap();
    assert_eq!(clients[0]["requeue_count"], 1);
    assert_eq!(
        channel_field(&nsqd, "req0", "c", "timeout_count").unwrap(),
        0
    );
}

#[test]
fn req_with_delay_arrives_no_earlier_than_the_delay() {
    // BEH-032, BEH-041
    let nsqd = Nsqd::start();
    let mut c = nsqd.consumer("reqd", "c", 1);
    let mut p = nsqd.conn();
    p.publish("reqd", b"later");
    let m = c.read_message();
    let sent = Instant::now();
    c.req(&m.id, 1000);
    // REQ has no reply: a PUB on the same connection proves the REQ was processed.
    c.publish("sync", b"x");
    let deferred = channel_field(&nsqd, "reqd", "c", "deferred_count");
    // Only meaningful if the stats were read well before the delay ran out.
    let stats_in_time = sent.elapsed() < Duration::from_millis(800);
    let again = c.read_message();
    assert!(
        sent.elapsed() >= Duration::from_millis(990),
        "redelivered after {:?}",
        sent.elapsed()
    );
    assert_eq!((again.id.as_str(), again.attempts), (m.id.as_str(), 2));
    if stats_in_time {
        assert_eq!(
            deferred,
            Some(1.into()),
            "deferred_count right after REQ with delay"
        );
    }
}

#[test]
fn dpub_is_delivered_after_the_delay() {
    // BEH-040, BEH-041, P-055
    let nsqd = Nsqd::start();
    let mut c = nsqd.consumer("dpub", "c", 1);
    let mut p = nsqd.conn();
    let sent = Instant::now();
    p.dpub("dpub", 500, b"deferred");
    let m = c.read_message();
    assert!(
        sent.elapsed() >= Duration::from_millis(490),
        "delivered after {:?}",
        sent.elapsed()
    );
    assert_eq!((m.attempts, m.body.as_slice()), (1, &b"deferred"[..]));
    wait_channel_field(&nsqd, "dpub", "c", "message_count", 1.into());
}

#[test]
fn in_flight_timeout_redelivers_and_counts() {
    // BEH-031, P-025
    let nsqd = Nsqd::start_with(&["--msg-timeout=1s"]);
    let mut c = nsqd.consumer("tmo", "c", 1);
    let mut p = nsqd.conn();
    p.publish("tmo", b"slow");
    let m = c.read_message();
    c.set_timeout(TIMEOUT_WAIT);
    let again = c.read_message();
    assert_eq!(
        (again.id.as_str(), again.attempts, again.timestamp),
        (m.id.as_str(), 2, m.timestamp)
    );
    // FIN first so that a slow poll cannot see a second timeout.
    c.fin(&again.id);
    wait_channel_field(&nsqd, "tmo", "c", "timeout_count", 1.into());
    assert_eq!(
        channel_field(&nsqd, "tmo", "c", "requeue_count"),
        Some(0.into())
    );
}

#[test]
fn touch_extends_the_deadline() {
    // BEH-033, P-059
    let nsqd = Nsqd::start_with(&["--msg-timeout=1s"]);
    let mut c = nsqd.consumer("touch", "c", 1);
    let mut p = nsqd.conn();
    p.publish("touch", b"x");
    let m = c.read_message();
    let start = Instant::now();
    // Keep touching for three msg-timeouts: the message must stay with us.
    while start.elapsed() < Duration::from_secs(3) {
        c.touch(&m.id);
        assert!(
            c.try_read_message(Duration::from_millis(250)).is_none(),
            "message redelivered despite TOUCH"
        );
    }
    assert_eq!(
        channel_field(&nsqd, "touch", "c", "timeout_count"),
        Some(0.into())
    );
    // Once we stop touching it times out as usual.
    c.set_timeout(TIMEOUT_WAIT);
    let again = c.read_message();
    assert_eq!((again.id.as_str(), again.attempts), (m.id.as_str(), 2));
}

#[test]
fn only_the_owner_may_fin_req_touch() {
    // BEH-034, P-057..P-059, P-110
    let nsqd = Nsqd::start();
    let mut owner = nsqd.consumer("own", "c", 1);
    let mut other = nsqd.consumer("own", "c", 0);
    let mut p = nsqd.conn();
    p.publish("own", b"mine");
    let m = owner.read_message();
    let id = &m.id;
    other.fin(id);
    other.expect_error(&format!(
        "E_FIN_FAILED FIN {id} failed client does not own message"
    ));
    other.req(id, 0);
    other.expect_error(&format!(
        "E_REQ_FAILED REQ {id} failed client does not own message"
    ));
    other.touch(id);
    other.expect_error(&format!(
        "E_TOUCH_FAILED TOUCH {id} failed client does not own message"
    ));
    other.publish("own_other", b"still open");
    owner.fin(id);
    owner.publish("own_other", b"fin ok");
    wait_channel_field(&nsqd, "own", "c", "in_flight_count", 0.into());
}

#[test]
fn disconnect_leaves_messages_in_flight_until_timeout() {
    // BEH-035, P-111
    let nsqd = Nsqd::start_with(&["--msg-timeout=1s"]);
    let mut p = nsqd.conn();
    let mut first = nsqd.consumer("disc", "c", 1);
    p.publish("disc", b"x");
    let m = first.read_message();
    drop(first);
    let mut second = nsqd.consumer("disc", "c", 1);
    second.set_timeout(TIMEOUT_WAIT);
    let again = second.read_message();
    assert_eq!((again.id.as_str(), again.attempts), (m.id.as_str(), 2));
    second.fin(&again.id);
    assert_eq!(
        channel_field(&nsqd, "disc", "c", "requeue_count"),
        Some(0.into())
    );
    wait_channel_field(&nsqd, "disc", "c", "timeout_count", 1.into());
}

#[test]
fn no_server_side_attempt_limit() {
    // BEH-036
    let nsqd = Nsqd::start();
    let mut c = nsqd.consumer("many", "c", 1);
    let mut p = nsqd.conn();
    p.publish("many", b"x");
    let mut m = c.read_message();
    for _ in 0..9 {
        c.req(&m.id, 0);
        m = c.read_message();
    }
    assert_eq!(m.attempts, 10);
}

#[test]
fn cls_stops_delivery_but_in_flight_can_still_be_finished() {
    // P-060, P-041
    let nsqd = Nsqd::start();
    let mut c = nsqd.consumer("cls", "c", 5);
    let mut p = nsqd.conn();
    p.publish("cls", b"one");
    let m = c.read_message();
    c.cmd("CLS");
    c.expect_response(b"CLOSE_WAIT");
    c.fin(&m.id);
    // A failed FIN would put an error frame before this OK.
    c.publish("cls_sync", b"x");
    p.publish("cls", b"two");
    assert!(c.try_read_message(QUIET).is_none(), "no delivery after CLS");
    wait_channel_field(&nsqd, "cls", "c", "in_flight_count", 0.into());
    wait_channel_field(&nsqd, "cls", "c", "depth", 1.into());
}

// §3.6 ephemeral

#[test]
fn ephemeral_channel_goes_when_last_client_leaves() {
    // BEH-060
    let nsqd = Nsqd::start();
    let c1 = nsqd.consumer("eph", "c#ephemeral", 0);
    let c2 = nsqd.consumer("eph", "c#ephemeral", 0);
    assert!(stats_channel(&nsqd.stats(), "eph", "c#ephemeral").is_some());
    drop(c1);
    wait_channel_field(&nsqd, "eph", "c#ephemeral", "client_count", 1.into());
    drop(c2);
    assert!(
        wait_until(WAIT, || stats_channel(&nsqd.stats(), "eph", "c#ephemeral")
            .is_none()),
        "ephemeral channel still listed after its last client left"
    );
    assert!(
        stats_topic(&nsqd.stats(), "eph").is_some(),
        "a normal topic stays"
    );
}

#[test]
fn ephemeral_topic_goes_with_its_last_channel() {
    // BEH-061
    let nsqd = Nsqd::start();
    let c = nsqd.consumer("et#ephemeral", "c#ephemeral", 0);
    assert!(stats_topic(&nsqd.stats(), "et#ephemeral").is_some());
    drop(c);
    assert!(
        wait_until(WAIT, || stats_topic(&nsqd.stats(), "et#ephemeral")
            .is_none()),
        "ephemeral topic still listed after its last channel went"
    );
}

// §3.7 pause

#[test]
fn paused_channel_holds_messages_until_unpaused() {
    // BEH-071
    let nsqd = Nsqd::start();
    let mut c = nsqd.consumer("pc", "c", 5);
    let mut p = nsqd.conn();
    p.publish("pc", b"before");
    let inflight = c.read_message();
    post_ok(&nsqd, "/channel/pause?topic=pc&channel=c");
    wait_channel_field(&nsqd, "pc", "c", "paused", true.into());
    p.publish("pc", b"during");
    assert!(
        c.try_read_message(QUIET).is_none(),
        "paused channel delivered"
    );
    wait_channel_field(&nsqd, "pc", "c", "depth", 1.into());
    // In-flight messages can still be finished while paused.
    c.fin(&inflight.id);
    c.publish("pc_sync", b"x");
    post_ok(&nsqd, "/channel/unpause?topic=pc&channel=c");
    assert_eq!(c.read_message().body, b"during");
}

#[test]
fn paused_topic_holds_messages_until_unpaused() {
    // BEH-070
    let nsqd = Nsqd::start();
    let mut c = nsqd.consumer("pt", "c", 5);
    post_ok(&nsqd, "/topic/pause?topic=pt");
    let mut p = nsqd.conn();
    p.publish("pt", b"1");
    p.publish("pt", b"2");
    wait_topic_field(&nsqd, "pt", "depth", 2.into());
    wait_topic_field(&nsqd, "pt", "paused", true.into());
    assert!(
        c.try_read_message(QUIET).is_none(),
        "paused topic delivered"
    );
    assert_eq!(channel_field(&nsqd, "pt", "c", "depth"), Some(0.into()));
    post_ok(&nsqd, "/topic/unpause?topic=pt");
    let got = vec![c.read_message(), c.read_message()];
    assert_eq!(bodies(&got), BTreeSet::from([b"1".to_vec(), b"2".to_vec()]));
}

// Limits

#[test]
fn max_channel_consumers_rejects_extra_subscriber() {
    // P-155, P-124
    let nsqd = Nsqd::start_with(&["--max-channel-consumers=1"]);
    let _first = nsqd.consumer("t", "c", 0);
    let mut second = nsqd.conn();
    second.cmd("SUB t c");
    second.expect_error("E_SUB_FAILED SUB failed consumers for t:c exceeds limit of 1");
    second.expect_closed(WAIT);
    // The limit is per channel.
    let _other = nsqd.consumer("t", "other", 0);
}

// §3.8 empty and delete

#[test]
fn deleting_a_channel_closes_its_clients() {
    // BEH-081
    let nsqd = Nsqd::start();
    let mut c = nsqd.consumer("del", "c", 1);
    let mut keep = nsqd.consumer("del", "keep", 1);
    post_ok(&nsqd, "/channel/delete?topic=del&channel=c");
    c.expect_closed(WAIT);
    assert!(stats_channel(&nsqd.stats(), "del", "c").is_none());
    keep.publish("del", b"x");
    assert_eq!(keep.read_message().body, b"x");
}

#[test]
fn deleting_a_topic_closes_its_clients() {
    // BEH-080
    let nsqd = Nsqd::start();
    let mut c = nsqd.consumer("tdel", "c", 1);
    post_ok(&nsqd, "/topic/delete?topic=tdel");
    c.expect_closed(WAIT);
    assert!(stats_topic(&nsqd.stats(), "tdel").is_none());
}

#[test]
fn emptying_a_channel_drops_queued_and_in_flight() {
    // BEH-082, P-104
    let nsqd = Nsqd::start();
    let mut c = nsqd.consumer("emp", "c", 1);
    let mut p = nsqd.conn();
    for b in [b"1", b"2", b"3"] {
        p.publish("emp", b);
    }
    let m = c.read_message();
    wait_channel_field(&nsqd, "emp", "c", "depth", 2.into());
    post_ok(&nsqd, "/channel/empty?topic=emp&channel=c");
    wait_channel_field(&nsqd, "emp", "c", "depth", 0.into());
    wait_channel_field(&nsqd, "emp", "c", "in_flight_count", 0.into());
    let clients = channel_field(&nsqd, "emp", "c", "clients").unwrap();
    assert_eq!(clients[0]["in_flight_count"], 0);
    c.fin(&m.id);
    c.expect_error(&format!(
        "E_FIN_FAILED FIN {} failed ID not in flight",
        m.id
    ));
}

#[test]
fn emptying_a_topic_leaves_channels_alone() {
    // BEH-082
    let nsqd = Nsqd::start();
    let _c = nsqd.consumer("temp", "c", 0);
    let mut p = nsqd.conn();
    p.publish("temp", b"in channel");
    wait_channel_field(&nsqd, "temp", "c", "depth", 1.into());
    p.publish("nochan", b"1");
    p.publish("nochan", b"2");
    wait_topic_field(&nsqd, "nochan", "depth", 2.into());
    post_ok(&nsqd, "/topic/empty?topic=nochan");
    wait_topic_field(&nsqd, "nochan", "depth", 0.into());
    post_ok(&nsqd, "/topic/empty?topic=temp");
    assert_eq!(channel_field(&nsqd, "temp", "c", "depth"), Some(1.into()));
}

// §3.12 sample rate

#[test]
fn sample_rate_drops_unsampled_messages_for_the_channel() {
    // BEH-120: with S=1 each message is delivered with probability 2%.
    let nsqd = Nsqd::start();
    let mut c = nsqd.conn();
    let (_, resp) = c.identify(r#"{"feature_negotiation":true,"sample_rate":1}"#);
    let v: Value = serde_json::from_slice(&resp).unwrap();
    assert_eq!(v["sample_rate"], 1);
    c.sub("samp", "c");
    c.rdy(200);
    let mut p = nsqd.conn();
    let msgs: Vec<Vec<u8>> = (0..100).map(|i| format!("{i}").into_bytes()).collect();
    let refs: Vec<&[u8]> = msgs.iter().map(|m| m.as_slice()).collect();
    p.mpub("samp", &refs);
    wait_channel_field(&nsqd, "samp", "c", "message_count", 100.into());
    wait_channel_field(&nsqd, "samp", "c", "depth", 0.into());
    let mut got = 0;
    while c.try_read_message(QUIET).is_some() {
        got += 1;
    }
    assert!(got < 50, "sample_rate 1 delivered {got} of 100");
    // Skipped messages are gone: not in flight, not requeued, not queued.
    wait_channel_field(&nsqd, "samp", "c", "in_flight_count", got.into());
    assert_eq!(
        channel_field(&nsqd, "samp", "c", "requeue_count"),
        Some(0.into())
    );
    assert_eq!(channel_field(&nsqd, "samp", "c", "depth"), Some(0.into()));
}

// §3.11 end-to-end processing latency

#[test]
fn e2e_latency_percentiles_are_recorded_on_fin() {
    // BEH-110..112, H-045: percentiles sorted descending, counted per FIN, merged for the topic.
    let nsqd = Nsqd::start_with(&["--e2e-processing-latency-percentile=0.5,0.99"]);
    let mut c = nsqd.consumer("e2e", "c", 10);
    let mut p = nsqd.conn();
    for i in 0..5 {
        p.publish("e2e", format!("m{i}").as_bytes());
    }
    for _ in 0..5 {
        let m = c.read_message();
        c.fin(&m.id);
    }
    let ok = wait_until(WAIT, || {
        channel_field(&nsqd, "e2e", "c", "e2e_processing_latency").is_some_and(|v| v["count"] == 5)
    });
    assert!(ok, "channel e2e count never reached 5: {}", nsqd.stats());
    let stats = nsqd.stats();
    for e2e in [
        &stats_channel(&stats, "e2e", "c").unwrap()["e2e_processing_latency"],
        &stats_topic(&stats, "e2e").unwrap()["e2e_processing_latency"],
    ] {
        assert_eq!(e2e["count"], 5, "{e2e}");
        let p = e2e["percentiles"].as_array().expect("percentiles");
        let qs: Vec<f64> = p.iter().map(|x| x["quantile"].as_f64().unwrap()).collect();
        assert_eq!(qs, vec![0.99, 0.5], "{e2e}");
        for x in p {
            assert!(x["value"].as_f64().unwrap() > 0.0, "{e2e}");
        }
    }
    // Without the flag there is no window at all.
    let plain = Nsqd::start();
    let _c = plain.consumer("e2e", "c", 1);
    let ok = wait_until(WAIT, || {
        channel_field(&plain, "e2e", "c", "e2e_processing_latency")
            == Some(serde_json::json!({"count": 0, "percentiles": null}))
    });
    assert!(ok, "{}", plain.stats());
}
