//! Compatibility with a real third-party Rust client, tokio-nsq 0.14 (crates.io), written
//! independently of this workspace: its producer publishes (PUB, MPUB, DPUB) and its consumer
//! receives, FINs and REQs against our nsqd, found directly or through our nsqlookupd, in
//! plain TCP, snappy, deflate and TLS. Counts are checked against nsqd's `/stats`.
//!
//! tokio-nsq's producer acknowledges each published command with one `NSQEvent::Ok()`, and its
//! connections report `NSQEvent::Healthy()` once IDENTIFY (and any stream upgrade) and SUB have
//! succeeded; a failed handshake shows up as `NSQEvent::Unhealthy()`.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::Arc;
use std::time::Duration;

use nsq_tests::lookupd::Nsqlookupd;
use nsq_tests::{stats_channel, stats_topic, wait_until, Nsqd};
use tokio_nsq::{
    NSQChannel, NSQConfigShared, NSQConfigSharedCompression, NSQConfigSharedTLS, NSQConsumer,
    NSQConsumerConfig, NSQConsumerConfigSources, NSQConsumerLookupConfig, NSQDeflateLevel,
    NSQEvent, NSQMessage, NSQProducer, NSQProducerConfig, NSQRequeueDelay, NSQTopic,
};

mod tls_support;

/// Guard time for one step; only reached when something is broken.
const WAIT: Duration = Duration::from_secs(15);

/// tokio-nsq's default user agent, `tokio_nsq/<crate version>`.
const USER_AGENT_PREFIX: &str = "tokio_nsq/";

fn topic(name: &str) -> Arc<NSQTopic> {
    NSQTopic::new(name).unwrap()
}

/// Shared connection settings: a short flush interval keeps the tests quick.
fn shared() -> NSQConfigShared {
    NSQConfigShared::new().set_flush_interval(Duration::from_millis(10))
}

/// A producer for `nsqd` whose connection has completed its handshake.
async fn producer(nsqd: &Nsqd, shared: NSQConfigShared) -> NSQProducer {
    let mut p = NSQProducerConfig::new(nsqd.tcp_addr.to_string())
        .set_shared(shared)
        .build();
    match next_event(&mut p).await {
        NSQEvent::Healthy() => p,
        other => panic!("producer handshake: expected Healthy, got {other:?}"),
    }
}

async fn next_event(p: &mut NSQProducer) -> NSQEvent {
    tokio::time::timeout(WAIT, p.consume())
        .await
        .expect("a producer event within the guard time")
        .expect("producer still running")
}

/// Waits for `n` publish acknowledgements (nsqd's `OK` for each PUB, MPUB or DPUB).
async fn expect_acks(p: &mut NSQProducer, n: usize) {
    for i in 0..n {
        match next_event(p).await {
            NSQEvent::Ok() => {}
            other => panic!("ack {i} of {n}: expected Ok, got {other:?}"),
        }
    }
}

/// Publishes `singles` bodies one PUB each, `batches` MPUBs of `batch_len` bodies, and
/// `deferred` DPUBs (50 ms); answers every body published, in publish order.
async fn publish_mix(
    p: &mut NSQProducer,
    t: &Arc<NSQTopic>,
    singles: usize,
    batches: usize,
    batch_len: usize,
    deferred: usize,
) -> Vec<Vec<u8>> {
    let mut all = Vec::new();
    for i in 0..singles {
        let body = format!("pub-{i}").into_bytes();
        p.publish(t, body.clone()).await.unwrap();
        all.push(body);
    }
    for b in 0..batches {
        let batch: Vec<Vec<u8>> = (0..batch_len)
            .map(|i| format!("mpub-{b}-{i}").into_bytes())
            .collect();
        p.publish_multiple(t, batch.clone()).await.unwrap();
        all.extend(batch);
    }
    for i in 0..deferred {
        let body = format!("dpub-{i}").into_bytes();
        p.publish_deferred(t, body.clone(), 50).await.unwrap();
        all.push(body);
    }
    expect_acks(p, singles + batches + deferred).await;
    all
}

fn direct_consumer(
    nsqd: &Nsqd,
    t: &str,
    ch: &str,
    max_in_flight: u32,
    shared: NSQConfigShared,
) -> NSQConsumer {
    NSQConsumerConfig::new(topic(t), NSQChannel::new(ch).unwrap())
        .set_max_in_flight(max_in_flight)
        .set_sources(NSQConsumerConfigSources::Daemons(vec![nsqd
            .tcp_addr
            .to_string()]))
        .set_shared(shared)
        .build()
}

/// The next message; connection status events are skipped, but a connection that fails its
/// handshake (Unhealthy) fails the test rather than being retried silently.
async fn next_message(c: &mut NSQConsumer) -> NSQMessage {
    loop {
        let event = tokio::time::timeout(WAIT, c.consume())
            .await
            .expect("a consumer event within the guard time")
            .expect("consumer still running");
        match event {
            NSQEvent::Message(m) => return m,
            NSQEvent::Healthy() => {}
            other => panic!("consumer: unexpected event {other:?}"),
        }
    }
}

/// Receives `n` messages, FINs each, and answers body -> attempts.
async fn consume_and_finish(c: &mut NSQConsumer, n: usize) -> BTreeMap<Vec<u8>, u16> {
    let mut seen = BTreeMap::new();
    for _ in 0..n {
        let m = next_message(c).await;
        let body = m.body.clone();
        let attempt = m.attempt;
        m.finish().await;
        assert!(
            seen.insert(body.clone(), attempt).is_none(),
            "delivered twice: {:?}",
            String::from_utf8_lossy(&body)
        );
    }
    seen
}

/// FINs counted by nsqd for the channel's connected clients (channels keep no total).
fn finished(channel: &serde_json::Value) -> i64 {
    channel["clients"].as_array().map_or(0, |cs| {
        cs.iter().filter_map(|c| c["finish_count"].as_i64()).sum()
    })
}

/// Waits until nsqd's channel shows every message finished (none in flight, queued or
/// deferred), then checks the channel's counters.
fn assert_channel_drained(nsqd: &Nsqd, t: &str, ch: &str, messages: i64, requeues: i64) {
    let done = wait_until(WAIT, || {
        let s = nsqd.stats();
        stats_channel(&s, t, ch).is_some_and(|c| {
            finished(c) == messages
                && c["in_flight_count"] == 0
                && c["depth"] == 0
                && c["deferred_count"] == 0
        })
    });
    let s = nsqd.stats();
    let c = stats_channel(&s, t, ch).expect("channel in /stats");
    assert!(done, "channel {t}/{ch} not drained: {c}");
    assert_eq!(c["message_count"], messages, "{c}");
    assert_eq!(c["requeue_count"], requeues, "{c}");
    assert_eq!(c["timeout_count"], 0, "{c}");
    assert_eq!(stats_topic(&s, t).unwrap()["message_count"], messages);
}

/// The consumer's client entry in the channel's `/stats` (exactly one connected client).
fn only_client(nsqd: &Nsqd, t: &str, ch: &str) -> serde_json::Value {
    let s = nsqd.stats();
    let clients = stats_channel(&s, t, ch).expect("channel in /stats")["clients"].clone();
    let clients = clients.as_array().expect("clients array");
    assert_eq!(clients.len(), 1, "{clients:?}");
    clients[0].clone()
}

fn assert_all_first_attempt(seen: &BTreeMap<Vec<u8>, u16>, published: &[Vec<u8>]) {
    let expected: BTreeSet<&Vec<u8>> = published.iter().collect();
    let got: BTreeSet<&Vec<u8>> = seen.keys().collect();
    assert_eq!(got, expected);
    assert!(seen.values().all(|&a| a == 1), "attempts: {seen:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokio_nsq_publishes_and_consumes_directly() {
    let nsqd = Nsqd::start();
    let t = topic("tn_direct");
    let mut p = producer(&nsqd, shared()).await;
    let published = publish_mix(&mut p, &t, 300, 4, 50, 10).await;
    assert_eq!(published.len(), 510);
    assert_eq!(
        stats_topic(&nsqd.stats(), "tn_direct").unwrap()["message_count"],
        510
    );

    let mut c = direct_consumer(&nsqd, "tn_direct", "ch", 50, shared());
    let seen = consume_and_finish(&mut c, published.len()).await;
    assert_all_first_attempt(&seen, &published);
    assert_channel_drained(&nsqd, "tn_direct", "ch", 510, 0);

    let client = only_client(&nsqd, "tn_direct", "ch");
    let ua = client["user_agent"].as_str().unwrap_or_default();
    assert!(ua.starts_with(USER_AGENT_PREFIX), "{client}");
    assert_eq!(client["finish_count"], 510, "{client}");
    assert_eq!(client["message_count"], 510, "{client}");
    assert_eq!(client["tls"], false);
    assert_eq!(client["snappy"], false);
    assert_eq!(client["deflate"], false);
}

/// Every message is REQ'd twice (at once, then with a 50 ms delay) and FINed on the third
/// delivery; tokio-nsq reports attempts 1, 2 and 3.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokio_nsq_requeue_redelivers_with_attempts() {
    let nsqd = Nsqd::start();
    let t = topic("tn_req");
    let mut p = producer(&nsqd, shared()).await;
    let published = publish_mix(&mut p, &t, 0, 1, 20, 0).await;

    let mut c = direct_consumer(&nsqd, "tn_req", "ch", 10, shared());
    let mut attempts: BTreeMap<Vec<u8>, Vec<u16>> = BTreeMap::new();
    for _ in 0..published.len() * 3 {
        let m = next_message(&mut c).await;
        let seen = attempts.entry(m.body.clone()).or_default();
        seen.push(m.attempt);
        match seen.len() {
            1 => m.requeue(NSQRequeueDelay::NoDelay).await,
            2 => {
                m.requeue(NSQRequeueDelay::CustomDelay(Duration::from_millis(50)))
                    .await
            }
            _ => m.finish().await,
        }
    }
    let expected: BTreeSet<&Vec<u8>> = published.iter().collect();
    assert_eq!(attempts.keys().collect::<BTreeSet<_>>(), expected);
    for (body, a) in &attempts {
        assert_eq!(a, &[1, 2, 3], "{:?}", String::from_utf8_lossy(body));
    }
    assert_channel_drained(&nsqd, "tn_req", "ch", 20, 40);
}

/// The consumer is given only nsqlookupd's HTTP address and finds nsqd through `/lookup`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokio_nsq_consumes_through_lookupd_discovery() {
    let lookupd = Nsqlookupd::start();
    let nsqd = Nsqd::start_with(&[&lookupd.nsqd_arg(), "--broadcast-address=127.0.0.1"]);
    let t = topic("tn_lookup");
    let mut p = producer(&nsqd, shared()).await;
    let published = publish_mix(&mut p, &t, 100, 2, 50, 5).await;
    assert!(
        wait_until(WAIT, || lookupd.producer_ports("tn_lookup")
            == vec![nsqd.tcp_addr.port()]),
        "lookupd never listed nsqd for the topic: {:?}",
        lookupd.lookup("tn_lookup")
    );

    let mut addresses = HashSet::new();
    addresses.insert(format!("http://{}", lookupd.http_addr));
    let mut c = NSQConsumerConfig::new(t.clone(), NSQChannel::new("ch").unwrap())
        .set_max_in_flight(25)
        .set_sources(NSQConsumerConfigSources::Lookup(
            NSQConsumerLookupConfig::new().set_addresses(addresses),
        ))
        .set_shared(shared())
        .build();
    let seen = consume_and_finish(&mut c, published.len()).await;
    assert_all_first_attempt(&seen, &published);
    assert_channel_drained(&nsqd, "tn_lookup", "ch", 205, 0);
    // nsqd registered the channel with lookupd once the consumer subscribed.
    assert!(wait_until(WAIT, || lookupd.channels("tn_lookup") == ["ch"]));
}

/// Large bodies, compressible and not, that cross several compression blocks, then a small
/// one right behind them.
fn large_bodies() -> Vec<Vec<u8>> {
    let big = "nsq".repeat(100_000).into_bytes();
    let noise: Vec<u8> = (0..200_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    vec![big, noise, b"tail".to_vec()]
}

/// Both producer and consumer negotiate the upgrades in `shared` and move a mix of PUB, MPUB
/// and DPUB messages through them, plus [`large_bodies`] when `large` is set.
async fn round_trip_upgraded(
    nsqd: &Nsqd,
    t: &str,
    shared: NSQConfigShared,
    large: bool,
) -> serde_json::Value {
    let tt = topic(t);
    let mut p = producer(nsqd, shared.clone()).await;
    let mut published = publish_mix(&mut p, &tt, 100, 2, 25, 3).await;
    if large {
        let mut bodies = large_bodies();
        let tail = bodies.split_off(1);
        p.publish(&tt, bodies[0].clone()).await.unwrap();
        p.publish_multiple(&tt, tail.clone()).await.unwrap();
        expect_acks(&mut p, 2).await;
        published.extend(bodies);
        published.extend(tail);
    }

    let mut c = direct_consumer(nsqd, t, "ch", 20, shared);
    let seen = consume_and_finish(&mut c, published.len()).await;
    assert_all_first_attempt(&seen, &published);
    let n = published.len() as i64;
    assert_channel_drained(nsqd, t, "ch", n, 0);
    only_client(nsqd, t, "ch")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokio_nsq_round_trips_with_snappy() {
    let nsqd = Nsqd::start();
    let shared = shared().set_compression(NSQConfigSharedCompression::Snappy);
    let client = round_trip_upgraded(&nsqd, "tn_snappy", shared, true).await;
    assert_eq!(client["snappy"], true, "{client}");
    assert_eq!(client["deflate"], false, "{client}");
}

fn deflate_shared() -> NSQConfigShared {
    let level = NSQDeflateLevel::new(6).unwrap();
    shared().set_compression(NSQConfigSharedCompression::Deflate(level))
}

/// Small messages only: see [`tokio_nsq_deflate_with_large_messages`] for why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokio_nsq_round_trips_with_deflate() {
    let nsqd = Nsqd::start();
    let client = round_trip_upgraded(&nsqd, "tn_deflate", deflate_shared(), false).await;
    assert_eq!(client["deflate"], true, "{client}");
    assert_eq!(client["snappy"], false, "{client}");
}

/// With large messages tokio-nsq's deflate consumer stalls: the last few messages nsqd has
/// sent stay undelivered until nsqd sends anything more (a later message or heartbeat). The
/// cause is client-side: its inflating reader (async-compression 0.3, `bufread::Decoder`)
/// always waits for new socket input before asking the decompressor again, so output the
/// decompressor still holds after filling the caller's buffer is not handed out. nsqd's side
/// of the same stream is checked by `nsqd_deflate_stream_is_complete_after_large_messages`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "tokio-nsq 0.14 deflate reader holds back decoded output (client bug, see doc)"]
async fn tokio_nsq_deflate_with_large_messages() {
    let nsqd = Nsqd::start();
    round_trip_upgraded(&nsqd, "tn_deflate_large", deflate_shared(), true).await;
}

/// The same large-message deflate scenario read with flate2 by a blocking consumer that asks
/// the decompressor for pending output before reading the socket: every message arrives with
/// no further traffic from nsqd.
#[test]
fn nsqd_deflate_stream_is_complete_after_large_messages() {
    let nsqd = Nsqd::start();
    let mut published: Vec<Vec<u8>> = (0..50).map(|i| format!("small-{i}").into_bytes()).collect();
    published.extend(large_bodies());
    for body in &published {
        let r = nsq_tests::http_post(nsqd.http_addr, "/pub?topic=raw_deflate", body);
        assert_eq!((r.status, r.text()), (200, "OK".to_string()));
    }
    let mut c = raw_deflate::Consumer::subscribe(nsqd.tcp_addr, "raw_deflate", "ch");
    let received: Vec<Vec<u8>> = (0..published.len()).map(|_| c.next_body()).collect();
    assert_eq!(received, published);
}

/// tokio-nsq's TLS (rustls 0.19; without a client config of its own it does not verify the
/// server certificate) against nsqd's `--tls-cert`/`--tls-key`, alone and with snappy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokio_nsq_round_trips_over_tls() {
    let certs = tls_support::certs();
    let args = certs.args();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let nsqd = Nsqd::start_with(&args);

    let tls = || NSQConfigSharedTLS::new("localhost");
    let client = round_trip_upgraded(&nsqd, "tn_tls", shared().set_tls(tls()), true).await;
    assert_eq!(client["tls"], true, "{client}");
    assert_eq!(client["snappy"], false, "{client}");

    let shared = shared()
        .set_tls(tls())
        .set_compression(NSQConfigSharedCompression::Snappy);
    let client = round_trip_upgraded(&nsqd, "tn_tls_snappy", shared, true).await;
    assert_eq!(client["tls"], true, "{client}");
    assert_eq!(client["snappy"], true, "{client}");
}

/// A blocking consumer that negotiates deflate and decodes nsqd's stream with flate2.
mod raw_deflate {
    use std::io::{Read, Write};
    use std::net::{SocketAddr, TcpStream};

    use flate2::{Decompress, FlushDecompress};

    use super::WAIT;

    const FRAME_RESPONSE: i32 = 0;
    const FRAME_MESSAGE: i32 = 2;

    pub struct Consumer {
        tcp: TcpStream,
        writer: flate2::write::DeflateEncoder<TcpStream>,
        inflate: Decompress,
        /// Compressed bytes read but not yet decompressed.
        input: Vec<u8>,
        /// Decompressed bytes not yet parsed into frames.
        plain: Vec<u8>,
    }

    impl Consumer {
        /// Connects, negotiates deflate, subscribes and sends RDY 1000.
        pub fn subscribe(addr: SocketAddr, topic: &str, channel: &str) -> Consumer {
            let mut tcp = TcpStream::connect(addr).unwrap();
            tcp.set_read_timeout(Some(WAIT)).unwrap();
            let body = br#"{"feature_negotiation":true,"deflate":true,"deflate_level":6}"#;
            let mut hello = b"  V2IDENTIFY\n".to_vec();
            hello.extend_from_slice(&(body.len() as u32).to_be_bytes());
            hello.extend_from_slice(body);
            tcp.write_all(&hello).unwrap();
            // The negotiation answer is the last uncompressed frame; read exactly it.
            let mut size = [0u8; 4];
            tcp.read_exact(&mut size).unwrap();
            let mut frame = vec![0u8; u32::from_be_bytes(size) as usize];
            tcp.read_exact(&mut frame).unwrap();
            let negotiated: serde_json::Value = serde_json::from_slice(&frame[4..]).unwrap();
            assert_eq!(negotiated["deflate"], true, "{negotiated}");
            let writer = flate2::write::DeflateEncoder::new(
                tcp.try_clone().unwrap(),
                flate2::Compression::new(6),
            );
            let mut c = Consumer {
                tcp,
                writer,
                inflate: Decompress::new(false),
                input: Vec::new(),
                plain: Vec::new(),
            };
            assert_eq!(c.frame(), (FRAME_RESPONSE, b"OK".to_vec()));
            c.send(format!("SUB {topic} {channel}\n").as_bytes());
            assert_eq!(c.frame(), (FRAME_RESPONSE, b"OK".to_vec()));
            c.send(b"RDY 1000\n");
            c
        }

        fn send(&mut self, bytes: &[u8]) {
            self.writer.write_all(bytes).unwrap();
            // flate2's flush ends with a sync flush, so nsqd can decode it at once.
            self.writer.flush().unwrap();
        }

        /// The body of the next message (not FINed).
        pub fn next_body(&mut self) -> Vec<u8> {
            loop {
                let (kind, data) = self.frame();
                if kind == FRAME_RESPONSE && data == b"_heartbeat_" {
                    self.send(b"NOP\n");
                    continue;
                }
                assert_eq!(kind, FRAME_MESSAGE, "{}", String::from_utf8_lossy(&data));
                return data[26..].to_vec();
            }
        }

        fn frame(&mut self) -> (i32, Vec<u8>) {
            self.fill(4);
            let size = u32::from_be_bytes(self.plain[..4].try_into().unwrap()) as usize;
            self.fill(4 + size);
            let kind = i32::from_be_bytes(self.plain[4..8].try_into().unwrap());
            let data = self.plain[8..4 + size].to_vec();
            self.plain.drain(..4 + size);
            (kind, data)
        }

        /// Decompresses until `n` plain bytes are buffered, draining the decompressor's pending
        /// output before reading more from the socket.
        fn fill(&mut self, n: usize) {
            let mut chunk = vec![0u8; 64 * 1024];
            while self.plain.len() < n {
                let (before_in, before_out) = (self.inflate.total_in(), self.inflate.total_out());
                self.inflate
                    .decompress(&self.input, &mut chunk, FlushDecompress::None)
                    .unwrap();
                let used = (self.inflate.total_in() - before_in) as usize;
                let produced = (self.inflate.total_out() - before_out) as usize;
                self.input.drain(..used);
                self.plain.extend_from_slice(&chunk[..produced]);
                if used == 0 && produced == 0 {
                    let mut buf = [0u8; 16 * 1024];
                    let got = self.tcp.read(&mut buf).unwrap();
                    assert!(got > 0, "nsqd closed the connection");
                    self.input.extend_from_slice(&buf[..got]);
                }
            }
        }
    }
}
