//! statsd output (spec §3.13, BEH-130..BEH-136, QRK-17) received on a UDP socket of the test.

use nsq_tests::*;
use std::net::UdpSocket;
use std::time::{Duration, Instant};

const DEADLINE: Duration = Duration::from_secs(15);

/// One received line, split into its parts.
#[derive(Debug, Clone, PartialEq)]
struct Metric {
    /// The name after the prefix.
    name: String,
    value: i64,
    kind: char,
}

struct Receiver {
    sock: UdpSocket,
    datagrams: Vec<Vec<u8>>,
}

impl Receiver {
    fn bind() -> Receiver {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        Receiver {
            sock,
            datagrams: Vec::new(),
        }
    }

    fn arg(&self) -> String {
        format!("--statsd-address={}", self.sock.local_addr().unwrap())
    }

    /// Receives datagrams until `done` holds on the complete pushes so far.
    fn until(
        &mut self,
        prefix: &str,
        mut done: impl FnMut(&[Vec<Metric>]) -> bool,
    ) -> Vec<Vec<Metric>> {
        let deadline = Instant::now() + DEADLINE;
        let mut buf = [0u8; 65536];
        loop {
            let pushes = self.pushes(prefix);
            if done(&pushes) {
                return pushes;
            }
            assert!(
                Instant::now() < deadline,
                "statsd pushes did not arrive as expected; got {pushes:#?}"
            );
            if let Ok(n) = self.sock.recv(&mut buf) {
                self.datagrams.push(buf[..n].to_vec());
            }
        }
    }

    /// Every complete push (ending with `mem.gc_runs`) received so far, checking the line
    /// format on the way.
    fn pushes(&self, prefix: &str) -> Vec<Vec<Metric>> {
        let mut pushes = Vec::new();
        let mut current = Vec::new();
        for d in &self.datagrams {
            let text = std::str::from_utf8(d).expect("UTF-8 datagram");
            assert!(text.ends_with('\n'), "datagram ends mid-line: {text:?}");
            for line in text.lines() {
                let m = parse_line(prefix, line);
                let last = m.name == "mem.gc_runs";
                current.push(m);
                if last {
                    pushes.push(std::mem::take(&mut current));
                }
            }
        }
        pushes
    }
}

fn parse_line(prefix: &str, line: &str) -> Metric {
    let rest = line
        .strip_prefix(prefix)
        .unwrap_or_else(|| panic!("line {line:?} lacks the prefix {prefix:?}"));
    let (name, value_kind) = rest.rsplit_once(':').expect("name:value|kind");
    let (value, kind) = value_kind.split_once('|').expect("value|kind");
    assert!(kind == "c" || kind == "g", "bad type in {line:?}");
    Metric {
        name: name.to_string(),
        value: value
            .parse()
            .unwrap_or_else(|_| panic!("bad value in {line:?}")),
        kind: kind.chars().next().unwrap(),
    }
}

fn prefix_of(nsqd: &Nsqd) -> String {
    format!("nsq.127_0_0_1_{}.", nsqd.http_addr.port())
}

fn names(push: &[Metric]) -> Vec<String> {
    push.iter()
        .map(|m| format!("{}|{}", m.name, m.kind))
        .collect()
}

fn sum(pushes: &[Vec<Metric>], name: &str) -> i64 {
    pushes
        .iter()
        .flatten()
        .filter(|m| m.name == name)
        .map(|m| m.value)
        .sum()
}

fn last_value(pushes: &[Vec<Metric>], name: &str) -> Option<i64> {
    pushes
        .last()?
        .iter()
        .find(|m| m.name == name)
        .map(|m| m.value)
}

const MEM: [&str; 9] = [
    "mem.heap_objects|g",
    "mem.heap_idle_bytes|g",
    "mem.heap_in_use_bytes|g",
    "mem.heap_released_bytes|g",
    "mem.gc_pause_usec_100|g",
    "mem.gc_pause_usec_99|g",
    "mem.gc_pause_usec_95|g",
    "mem.next_gc_bytes|g",
    "mem.gc_runs|c",
];

#[test]
fn topic_channel_and_memory_lines() {
    let mut rx = Receiver::bind();
    let nsqd = Nsqd::start_with(&[
        &rx.arg(),
        "--statsd-interval=1s",
        "--broadcast-address=127.0.0.1",
    ]);
    let prefix = prefix_of(&nsqd);
    // The computed prefix is also what /config shows (BEH-132).
    assert_eq!(
        http_get(nsqd.http_addr, "/config/statsd_prefix").text(),
        prefix
    );
    for path in ["/topic/create?topic=t", "/channel/create?topic=t&channel=c"] {
        assert_eq!(http_post(nsqd.http_addr, path, b"").status, 200, "{path}");
    }
    let mut p = nsqd.conn();
    p.publish("t", b"hello");
    p.mpub("t", &[b"ab", b"cde"]);

    let pushes = rx.until(&prefix, |pushes| {
        sum(pushes, "topic.t.message_count") == 3
            && last_value(pushes, "topic.t.channel.c.depth") == Some(3)
    });
    // Counters are deltas: their sum over the pushes is the total (BEH-136).
    assert_eq!(sum(&pushes, "topic.t.message_bytes"), 10);
    assert_eq!(sum(&pushes, "topic.t.channel.c.message_count"), 3);
    assert_eq!(last_value(&pushes, "topic.t.channel.c.clients"), Some(0));

    let expected: Vec<String> = [
        "topic.t.message_count|c",
        "topic.t.message_bytes|c",
        "topic.t.depth|g",
        "topic.t.backend_depth|g",
        "topic.t.channel.c.message_count|c",
        "topic.t.channel.c.depth|g",
        "topic.t.channel.c.backend_depth|g",
        "topic.t.channel.c.in_flight_count|g",
        "topic.t.channel.c.deferred_count|g",
        "topic.t.channel.c.requeue_count|c",
        "topic.t.channel.c.timeout_count|c",
        "topic.t.channel.c.clients|g",
    ]
    .iter()
    .chain(MEM.iter())
    .map(|s| s.to_string())
    .collect();
    assert_eq!(names(pushes.last().unwrap()), expected);

    // A push after nothing happened reports zero deltas.
    let seen = pushes.len();
    let pushes = rx.until(&prefix, |p| p.len() > seen);
    let last = pushes.last().unwrap();
    for m in last
        .iter()
        .filter(|m| m.kind == 'c' && m.name.starts_with("topic."))
    {
        assert_eq!(m.value, 0, "{m:?}");
    }

    // Default packet size: every datagram within 508 bytes.
    assert!(rx.datagrams.iter().all(|d| d.len() <= 508));
}

#[test]
fn e2e_percentile_suffixes_and_ephemeral_exclusion() {
    let mut rx = Receiver::bind();
    let nsqd = Nsqd::start_with(&[
        &rx.arg(),
        "--statsd-interval=1s",
        "--broadcast-address=127.0.0.1",
        "--statsd-exclude-ephemeral",
        "--e2e-processing-latency-percentile=0.999,0.5",
    ]);
    let prefix = prefix_of(&nsqd);
    let mut c = nsqd.consumer("t", "c", 1);
    let mut eph = nsqd.consumer("t", "e#ephemeral", 1);
    let mut p = nsqd.conn();
    p.publish("t", b"x");
    p.publish("gone#ephemeral", b"x");
    let m = c.read_message();
    c.fin(&m.id);
    let m = eph.read_message();
    eph.fin(&m.id);

    let pushes = rx.until(&prefix, |pushes| {
        sum(pushes, "topic.t.message_count") == 1
            && pushes.last().is_some_and(|p| {
                p.iter()
                    .any(|m| m.name == "topic.t.e2e_processing_latency_50")
            })
    });
    let got = names(pushes.last().unwrap());
    // QRK-17: 0.999 prints as 100. Topic percentiles follow backend_depth; channel ones close
    // the channel's block. Nothing ephemeral appears.
    let tail: Vec<String> = got
        .iter()
        .filter(|n| n.contains("e2e_processing_latency"))
        .cloned()
        .collect();
    assert_eq!(
        tail,
        [
            "topic.t.e2e_processing_latency_100|g",
            "topic.t.e2e_processing_latency_50|g",
            "topic.t.channel.c.e2e_processing_latency_100|g",
            "topic.t.channel.c.e2e_processing_latency_50|g",
        ]
    );
    assert!(got.iter().all(|n| !n.contains("ephemeral")), "{got:?}");
    assert_eq!(got[4], "topic.t.e2e_processing_latency_100|g");
    assert_eq!(got[15], "topic.t.channel.c.e2e_processing_latency_50|g");
}

#[test]
fn datagrams_respect_the_packet_size() {
    let mut rx = Receiver::bind();
    let nsqd = Nsqd::start_with(&[
        &rx.arg(),
        "--statsd-interval=1s",
        "--broadcast-address=127.0.0.1",
        "--statsd-udp-packet-size=100",
    ]);
    let prefix = prefix_of(&nsqd);
    let long = "x".repeat(64);
    let mut p = nsqd.conn();
    p.publish("a", b"1");
    p.publish("b", b"1");
    p.publish(&long, b"1");
    let pushes = rx.until(&prefix, |pushes| {
        pushes.last().is_some_and(|p| {
            p.iter()
                .any(|m| m.name == format!("topic.{long}.message_count"))
                && p.iter().any(|m| m.name == "topic.a.message_count")
        })
    });
    assert!(!pushes.is_empty());
    let mut packed = false;
    for d in &rx.datagrams {
        let text = std::str::from_utf8(d).unwrap();
        let lines = text.lines().count();
        // Lines are never split; only a line longer than the limit may exceed it, alone.
        assert!(text.ends_with('\n'));
        assert!(
            d.len() <= 100 || lines == 1,
            "datagram of {} bytes with {lines} lines",
            d.len()
        );
        packed |= lines > 1;
    }
    assert!(packed, "short lines should share datagrams");
    assert!(rx.datagrams.iter().any(|d| d.len() > 100));
}
