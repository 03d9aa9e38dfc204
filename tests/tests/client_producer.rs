//! The client library's Producer against our nsqd: PUB, MPUB, DPUB, connection reuse,
//! error frames surfaced with their NSQ codes, reopening after a fatal error, TLS + snappy.

use std::time::Duration;

use nsq_client::{Config, Error, Producer};
use nsq_tests::{stats_topic, wait_until, Nsqd};

mod tls_support;

const WAIT: Duration = Duration::from_secs(10);

fn topic_count(nsqd: &Nsqd, topic: &str) -> u64 {
    stats_topic(&nsqd.stats(), topic)
        .and_then(|t| t["message_count"].as_u64())
        .unwrap_or(0)
}

fn producer_clients(nsqd: &Nsqd) -> usize {
    nsqd.stats()["producers"].as_array().map_or(0, |p| p.len())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishes_pub_mpub_dpub_over_one_connection() {
    let nsqd = Nsqd::start();
    let producer = Producer::new(nsqd.tcp_addr.to_string(), Config::default()).unwrap();
    producer.publish("client_t", b"one").await.unwrap();
    producer
        .multi_publish("client_t", &[b"a".as_slice(), b"b", b"c"])
        .await
        .unwrap();
    producer
        .deferred_publish("client_t", Duration::from_millis(100), b"later")
        .await
        .unwrap();
    producer.ping().await.unwrap();
    // Concurrent publishes share the connection; answers are matched in order.
    let mut tasks = Vec::new();
    for i in 0..50 {
        let p = producer.clone();
        tasks.push(tokio::spawn(async move {
            p.publish("client_t", format!("m{i}")).await
        }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert!(wait_until(WAIT, || topic_count(&nsqd, "client_t") == 55));
    assert_eq!(producer_clients(&nsqd), 1, "one reused connection");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_frames_carry_their_nsq_code_and_the_producer_reconnects() {
    let nsqd = Nsqd::start();
    let producer = Producer::new(nsqd.tcp_addr.to_string(), Config::default()).unwrap();
    let err = producer.publish("bad/topic", b"x").await.unwrap_err();
    assert_eq!(err.nsq_code(), Some("E_BAD_TOPIC"), "{err}");
    match &err {
        Error::Nsq(e) => assert_eq!(e.desc, "PUB topic name \"bad/topic\" is not valid"),
        other => panic!("unexpected {other:?}"),
    }
    let err = producer
        .multi_publish("ok_topic", &Vec::<Vec<u8>>::new())
        .await
        .unwrap_err();
    assert_eq!(err.nsq_code(), Some("E_BAD_BODY"), "{err}");
    // Both errors were fatal for the connection; the next publish dials again.
    producer.publish("ok_topic", b"after").await.unwrap();
    assert!(wait_until(WAIT, || topic_count(&nsqd, "ok_topic") == 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopped_producer_refuses_to_publish() {
    let nsqd = Nsqd::start();
    let producer = Producer::new(nsqd.tcp_addr.to_string(), Config::default()).unwrap();
    producer.publish("s", b"x").await.unwrap();
    producer.stop().await;
    assert!(matches!(
        producer.publish("s", b"y").await,
        Err(Error::Stopped)
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishes_over_tls_and_snappy() {
    let certs = tls_support::certs();
    let args = certs.args();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let nsqd = Nsqd::start_with(&args);
    let config = Config {
        tls_v1: true,
        tls_root_ca_file: Some(certs.ca_file.clone()),
        snappy: true,
        ..Config::default()
    };
    let producer = Producer::new(nsqd.tcp_addr.to_string(), config).unwrap();
    let big = vec![b'z'; 200_000];
    producer.publish("tls_t", &big).await.unwrap();
    producer
        .multi_publish("tls_t", &[b"x".as_slice(), b"y"])
        .await
        .unwrap();
    assert!(wait_until(WAIT, || topic_count(&nsqd, "tls_t") == 3));
    let stats = nsqd.stats();
    let client = &stats["producers"][0];
    assert_eq!(client["tls"], true);
    assert_eq!(client["snappy"], true);
}

/// A tiny auth server granting everything to any secret; answers every request the same.
fn grant_all_auth_server() -> std::net::SocketAddr {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { return };
            let mut buf = [0u8; 4096];
            let mut req = Vec::new();
            while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                match conn.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => req.extend_from_slice(&buf[..n]),
                }
            }
            let body = r#"{"ttl":3600,"identity":"bob","identity_url":"","authorizations":[{"topic":".*","channels":[".*"],"permissions":["subscribe","publish"]}]}"#;
            let reply = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = conn.write_all(reply.as_bytes());
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authenticates_when_nsqd_requires_it() {
    let auth = grant_all_auth_server();
    let nsqd = Nsqd::start_with(&[&format!("--auth-http-address={auth}")]);
    let anonymous = Producer::new(nsqd.tcp_addr.to_string(), Config::default()).unwrap();
    assert!(matches!(
        anonymous.publish("au", b"x").await,
        Err(Error::AuthRequired)
    ));
    let config = Config {
        auth_secret: Some("s3cret".into()),
        ..Config::default()
    };
    let producer = Producer::new(nsqd.tcp_addr.to_string(), config).unwrap();
    producer.publish("au", b"x").await.unwrap();
    assert!(wait_until(WAIT, || topic_count(&nsqd, "au") == 1));
    let stats = nsqd.stats();
    assert_eq!(stats["producers"][0]["auth_identity"], "bob");
}
