//! The client library's Consumer against our nsqd (and nsqlookupd): delivery, FIN, REQ,
//! max attempts, backoff, max_in_flight spread over two nsqd, lookupd discovery, reconnect
//! after an nsqd restart, graceful stop, TLS + snappy.

use std::time::Duration;

use nsq_client::{Config, Consumer, Message, Producer};
use nsq_tests::lookupd::Nsqlookupd;
use nsq_tests::{stats_channel, wait_until, Nsqd};

mod tls_support;

const WAIT: Duration = Duration::from_secs(10);

/// Settings that keep tests quick: short polls and no backoff unless a test asks for it.
fn config(max_in_flight: i64) -> Config {
    Config {
        max_in_flight,
        lookupd_poll_interval: Duration::from_millis(50),
        max_backoff_duration: Duration::ZERO,
        ..Config::default()
    }
}

async fn recv(consumer: &Consumer) -> Message {
    tokio::time::timeout(WAIT, consumer.recv())
        .await
        .expect("a message within the guard time")
        .expect("consumer still running")
}

fn channel_field(nsqd: &Nsqd, topic: &str, channel: &str, field: &str) -> i64 {
    stats_channel(&nsqd.stats(), topic, channel)
        .and_then(|c| c[field].as_i64())
        .unwrap_or(-1)
}

fn ready_counts(nsqd: &Nsqd, topic: &str, channel: &str) -> Vec<i64> {
    stats_channel(&nsqd.stats(), topic, channel)
        .and_then(|c| c["clients"].as_array().cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(|c| c["ready_count"].as_i64())
        .collect()
}

async fn publish(nsqd: &Nsqd, topic: &str, bodies: &[&str]) {
    let p = Producer::new(nsqd.tcp_addr.to_string(), Config::default()).unwrap();
    p.multi_publish(topic, bodies).await.unwrap();
    p.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receives_and_finishes() {
    let nsqd = Nsqd::start();
    publish(&nsqd, "ct", &["m0", "m1", "m2", "m3", "m4"]).await;
    let consumer = Consumer::new("ct", "ch", config(3)).unwrap();
    consumer
        .connect_to_nsqd(&nsqd.tcp_addr.to_string())
        .await
        .unwrap();
    let mut bodies = Vec::new();
    for _ in 0..5 {
        let m = recv(&consumer).await;
        assert_eq!(m.attempts, 1);
        assert_eq!(m.nsqd_address, nsqd.tcp_addr.to_string());
        bodies.push(String::from_utf8(m.body.to_vec()).unwrap());
        m.finish();
    }
    bodies.sort();
    assert_eq!(bodies, ["m0", "m1", "m2", "m3", "m4"]);
    assert!(wait_until(WAIT, || {
        channel_field(&nsqd, "ct", "ch", "depth") == 0
            && channel_field(&nsqd, "ct", "ch", "in_flight_count") == 0
    }));
    assert_eq!(ready_counts(&nsqd, "ct", "ch"), [3]);
    consumer.stop();
    consumer.stopped().await;
    assert!(consumer.recv().await.is_none());
    assert_eq!(consumer.stats().messages_finished, 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requeues_until_max_attempts_then_gives_up() {
    let nsqd = Nsqd::start();
    publish(&nsqd, "ra", &["again"]).await;
    let consumer = Consumer::new(
        "ra",
        "ch",
        Config {
            max_attempts: 2,
            ..config(1)
        },
    )
    .unwrap();
    consumer
        .connect_to_nsqd(&nsqd.tcp_addr.to_string())
        .await
        .unwrap();
    let first = recv(&consumer).await;
    assert_eq!(first.attempts, 1);
    first.requeue(Some(Duration::ZERO));
    let second = recv(&consumer).await;
    assert_eq!(second.attempts, 2);
    assert_eq!(&second.body[..], b"again");
    second.requeue_without_backoff(Some(Duration::ZERO));
    // The third delivery exceeds max_attempts: finished by the library, never handed out.
    assert!(wait_until(WAIT, || consumer.stats().messages_given_up == 1));
    assert!(wait_until(WAIT, || {
        channel_field(&nsqd, "ra", "ch", "requeue_count") == 2
            && channel_field(&nsqd, "ra", "ch", "in_flight_count") == 0
            && channel_field(&nsqd, "ra", "ch", "depth") == 0
    }));
    assert_eq!(consumer.stats().messages_received, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backs_off_after_a_failure_and_recovers() {
    let nsqd = Nsqd::start();
    publish(&nsqd, "bo", &["a", "b"]).await;
    let consumer = Consumer::new(
        "bo",
        "ch",
        Config {
            backoff_multiplier: Duration::from_millis(20),
            max_backoff_duration: Duration::from_millis(500),
            ..config(4)
        },
    )
    .unwrap();
    consumer
        .connect_to_nsqd(&nsqd.tcp_addr.to_string())
        .await
        .unwrap();
    let failed = recv(&consumer).await;
    recv(&consumer).await.finish();
    failed.requeue(Some(Duration::ZERO));
    assert!(wait_until(WAIT, || consumer.in_backoff()));
    // After the delay one message is let through (RDY 1); its success ends the backoff.
    let again = recv(&consumer).await;
    assert_eq!(again.attempts, 2);
    again.finish();
    assert!(wait_until(WAIT, || !consumer.in_backoff()));
    assert!(wait_until(WAIT, || ready_counts(&nsqd, "bo", "ch") == [4]));
    assert!(wait_until(WAIT, || channel_field(
        &nsqd, "bo", "ch", "depth"
    ) == 0
        && channel_field(&nsqd, "bo", "ch", "in_flight_count") == 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_in_flight_is_spread_over_two_nsqd() {
    let a = Nsqd::start();
    let b = Nsqd::start();
    publish(&a, "sp", &["from-a"]).await;
    publish(&b, "sp", &["from-b"]).await;
    let consumer = Consumer::new("sp", "ch", config(10)).unwrap();
    consumer
        .connect_to_nsqds(&[a.tcp_addr.to_string(), b.tcp_addr.to_string()])
        .await
        .unwrap();
    assert!(wait_until(WAIT, || ready_counts(&a, "sp", "ch") == [5]
        && ready_counts(&b, "sp", "ch") == [5]));
    let mut got = vec![recv(&consumer).await, recv(&consumer).await];
    got.sort_by(|x, y| x.body.cmp(&y.body));
    assert_eq!(&got[0].body[..], b"from-a");
    assert_eq!(&got[1].body[..], b"from-b");
    for m in got {
        m.finish();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fewer_in_flight_than_connections_gives_rdy_1_to_some() {
    let a = Nsqd::start();
    let b = Nsqd::start();
    publish(&a, "lr", &["x"]).await;
    publish(&b, "lr", &["y"]).await;
    let consumer = Consumer::new("lr", "ch", config(1)).unwrap();
    consumer
        .connect_to_nsqds(&[a.tcp_addr.to_string(), b.tcp_addr.to_string()])
        .await
        .unwrap();
    let total: i64 = consumer.connections().iter().map(|(_, r)| r).sum();
    assert_eq!(total, 1);
    // Whichever connection holds RDY 1 delivers; the other stays at RDY 0.
    let m = recv(&consumer).await;
    m.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovers_nsqd_through_lookupd() {
    let lookupd = Nsqlookupd::start();
    let nsqd = Nsqd::start_with(&[&lookupd.nsqd_arg(), "--broadcast-address=127.0.0.1"]);
    publish(&nsqd, "lk", &["found"]).await;
    assert!(wait_until(WAIT, || !lookupd
        .producer_ports("lk")
        .is_empty()));
    let consumer = Consumer::new("lk", "ch", config(1)).unwrap();
    consumer
        .connect_to_nsqlookupd(&lookupd.http_addr.to_string())
        .await
        .unwrap();
    let m = recv(&consumer).await;
    assert_eq!(&m.body[..], b"found");
    assert_eq!(m.nsqd_address, nsqd.tcp_addr.to_string());
    m.finish();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnects_after_nsqd_restart() {
    let mut nsqd = Nsqd::start();
    let addr = nsqd.tcp_addr.to_string();
    let consumer = Consumer::new("rc", "ch", config(2)).unwrap();
    consumer.connect_to_nsqd(&addr).await.unwrap();
    publish(&nsqd, "rc", &["before"]).await;
    recv(&consumer).await.finish();
    let http = nsqd.http_addr.to_string();
    nsqd.restart_with(&[
        &format!("--tcp-address={addr}"),
        &format!("--http-address={http}"),
    ]);
    assert_eq!(nsqd.tcp_addr.to_string(), addr);
    publish(&nsqd, "rc", &["after"]).await;
    let m = recv(&consumer).await;
    assert_eq!(&m.body[..], b"after");
    m.finish();
    assert_eq!(consumer.stats().connections, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_stop_lets_in_flight_messages_finish() {
    let nsqd = Nsqd::start();
    publish(&nsqd, "gs", &["held"]).await;
    let consumer = Consumer::new("gs", "ch", config(1)).unwrap();
    consumer
        .connect_to_nsqd(&nsqd.tcp_addr.to_string())
        .await
        .unwrap();
    let m = recv(&consumer).await;
    consumer.stop();
    // The connection stays open for the in-flight message: its FIN reaches nsqd.
    m.finish();
    consumer.stopped().await;
    assert!(consumer.recv().await.is_none());
    assert!(wait_until(WAIT, || {
        channel_field(&nsqd, "gs", "ch", "in_flight_count") == 0
            && channel_field(&nsqd, "gs", "ch", "requeue_count") == 0
            && channel_field(&nsqd, "gs", "ch", "timeout_count") == 0
            && channel_field(&nsqd, "gs", "ch", "depth") == 0
    }));
    assert!(consumer
        .connect_to_nsqd(&nsqd.tcp_addr.to_string())
        .await
        .is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumes_over_tls_and_snappy() {
    let certs = tls_support::certs();
    let args = certs.args();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let nsqd = Nsqd::start_with(&args);
    publish(&nsqd, "ts", &["secret"]).await;
    let consumer = Consumer::new(
        "ts",
        "ch",
        Config {
            tls_v1: true,
            tls_root_ca_file: Some(certs.ca_file.clone()),
            snappy: true,
            ..config(1)
        },
    )
    .unwrap();
    consumer
        .connect_to_nsqd(&nsqd.tcp_addr.to_string())
        .await
        .unwrap();
    let m = recv(&consumer).await;
    assert_eq!(&m.body[..], b"secret");
    m.finish();
    let stats = nsqd.stats();
    let client = &stats_channel(&stats, "ts", "ch").unwrap()["clients"][0];
    assert_eq!(client["tls"], true);
    assert_eq!(client["snappy"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_trips_with_deflate() {
    let nsqd = Nsqd::start();
    let config = Config {
        deflate: true,
        deflate_level: 3,
        ..config(2)
    };
    let producer = Producer::new(nsqd.tcp_addr.to_string(), config.clone()).unwrap();
    let big = "d".repeat(100_000);
    producer
        .multi_publish("df", &[big.as_str(), "small"])
        .await
        .unwrap();
    let consumer = Consumer::new("df", "ch", config).unwrap();
    consumer
        .connect_to_nsqd(&nsqd.tcp_addr.to_string())
        .await
        .unwrap();
    let mut lens = vec![recv(&consumer).await, recv(&consumer).await]
        .into_iter()
        .map(|m| {
            let n = m.body.len();
            m.finish();
            n
        })
        .collect::<Vec<_>>();
    lens.sort();
    assert_eq!(lens, [5, 100_000]);
    let stats = nsqd.stats();
    let client = &stats_channel(&stats, "df", "ch").unwrap()["clients"][0];
    assert_eq!(client["deflate"], true);
}
