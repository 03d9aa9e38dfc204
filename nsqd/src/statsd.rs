//! Pushing metrics to statsd over UDP (§3.13): every `--statsd-interval` a fresh socket, one
//! line per metric, packed into datagrams that never split a line, sent spread over the
//! interval minus one second.

use std::collections::HashMap;
use std::fmt::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use nsq_common::memstats::{self, MemStats};
use nsq_common::quantile::QuantileResult;
use nsq_protocol::names::is_ephemeral;
use tokio::net::UdpSocket;
use tokio::time::{Instant, MissedTickBehavior};

use crate::nsqd::Nsqd;
use crate::stats::TopicStats;

/// Go's bufio default, used when `--statsd-udp-packet-size` is not positive.
const DEFAULT_PACKET_SIZE: usize = 4096;
const DIAL_TIMEOUT: Duration = Duration::from_secs(1);

/// Runs until shutdown; started only when `--statsd-address` is set (BEH-130).
pub async fn statsd_loop(nsqd: Arc<Nsqd>) {
    let interval = nsqd.options().statsd_interval.max(Duration::from_millis(1));
    let mut tick = tokio::time::interval_at(Instant::now() + interval, interval);
    tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut last = Previous::default();
    loop {
        tokio::select! {
            _ = nsqd.shutdown.cancelled() => break,
            _ = tick.tick() => {}
        }
        let opts = nsqd.options();
        let addr = opts.statsd_address.clone();
        let socket = match dial(&addr).await {
            Ok(s) => s,
            Err(e) => {
                // The reference's text, which leaves the cause out; it goes to debug.
                tracing::error!("failed to create UDP socket to statsd({})", addr);
                tracing::debug!("statsd({}) - {}", addr, e);
                continue;
            }
        };
        tracing::info!("STATSD: pushing stats to {}", addr);

        let port = match opts.broadcast_http_port {
            0 => nsqd.http_addr.get().map_or(0, |a| a.port()),
            p => p as u16,
        };
        // Already expanded at start-up when there is an HTTP listener; expanding is idempotent.
        let prefix = opts.statsd_prefix_expanded(port);
        let stats = nsqd.stats(None, None, false).unwrap_or_default();
        let mem = opts.statsd_mem_stats.then(memstats::read);
        let lines = metric_lines(&Metrics {
            prefix: &prefix,
            topics: &stats,
            mem,
            exclude_ephemeral: opts.statsd_exclude_ephemeral,
            previous: &last,
        });
        last = Previous::from(&stats, mem.or(last.mem));

        let size = usize::try_from(opts.statsd_udp_packet_size)
            .ok()
            .filter(|&s| s > 0)
            .unwrap_or(DEFAULT_PACKET_SIZE);
        let packets = pack(&lines, size);
        let spread = interval.saturating_sub(Duration::from_secs(1));
        send_spread(&nsqd, &socket, &packets, spread).await;
    }
    tracing::info!("STATSD: closing");
}

/// A connected UDP socket to `addr`, resolved and bound within the dial timeout.
async fn dial(addr: &str) -> std::io::Result<UdpSocket> {
    let connect = async {
        let target = tokio::net::lookup_host(addr).await?.next().ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::NotFound, "no addresses found")
        })?;
        let local: SocketAddr = if target.is_ipv6() {
            (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
        } else {
            (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
        };
        let socket = UdpSocket::bind(local).await?;
        socket.connect(target).await?;
        Ok(socket)
    };
    tokio::time::timeout(DIAL_TIMEOUT, connect)
        .await
        .unwrap_or_else(|_| Err(std::io::ErrorKind::TimedOut.into()))
}

/// Sends the datagrams with equal gaps filling `spread`; on shutdown the rest go at once.
/// Send errors are ignored: statsd is best effort.
async fn send_spread(nsqd: &Nsqd, socket: &UdpSocket, packets: &[Vec<u8>], spread: Duration) {
    let gap = match u32::try_from(packets.len()) {
        Ok(n) if n > 0 => spread / n,
        _ => Duration::ZERO,
    };
    let mut hurry = gap.is_zero();
    for (i, p) in packets.iter().enumerate() {
        let _ = socket.send(p).await;
        if hurry || i + 1 == packets.len() {
            continue;
        }
        tokio::select! {
            _ = nsqd.shutdown.cancelled() => hurry = true,
            _ = tokio::time::sleep(gap) => {}
        }
    }
}

/// Totals from the previous push, for the counters' deltas (BEH-136).
#[derive(Debug, Default)]
pub struct Previous {
    /// topic → (message_count, message_bytes)
    topics: HashMap<String, (u64, u64)>,
    /// (topic, channel) → (message_count, requeue_count, timeout_count)
    channels: HashMap<(String, String), (u64, u64, u64)>,
    mem: Option<MemStats>,
}

impl Previous {
    pub fn from(stats: &[TopicStats], mem: Option<MemStats>) -> Previous {
        let mut prev = Previous {
            mem,
            ..Previous::default()
        };
        for t in stats {
            prev.topics
                .insert(t.topic_name.clone(), (t.message_count, t.message_bytes));
            for c in &t.channels {
                prev.channels.insert(
                    (t.topic_name.clone(), c.channel_name.clone()),
                    (c.message_count, c.requeue_count, c.timeout_count),
                );
            }
        }
        prev
    }
}

/// Everything one push reports.
pub struct Metrics<'a> {
    /// Expanded, ending in `.` (or empty).
    pub prefix: &'a str,
    /// In name order, channels too.
    pub topics: &'a [TopicStats],
    /// None when `--statsd-mem-stats=false`.
    pub mem: Option<MemStats>,
    pub exclude_ephemeral: bool,
    pub previous: &'a Previous,
}

/// The lines of one push, each `<prefix><name>:<value>|<c|g>\n` (BEH-131..BEH-135).
pub fn metric_lines(m: &Metrics) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = |name: std::fmt::Arguments, value: i64, kind: char| {
        let mut s = String::with_capacity(m.prefix.len() + 64);
        s.push_str(m.prefix);
        let _ = writeln!(s, "{name}:{value}|{kind}");
        lines.push(s);
    };
    // Counters go as deltas; a total that went down (topic re-created) goes negative, as the
    // reference's unsigned subtraction cast to a signed value does.
    let delta = |now: u64, before: u64| now.wrapping_sub(before) as i64;
    for t in m.topics {
        let tn = &t.topic_name;
        if m.exclude_ephemeral && is_ephemeral(tn) {
            continue;
        }
        let (count0, bytes0) = m.previous.topics.get(tn).copied().unwrap_or_default();
        line(
            format_args!("topic.{tn}.message_count"),
            delta(t.message_count, count0),
            'c',
        );
        line(
            format_args!("topic.{tn}.message_bytes"),
            delta(t.message_bytes, bytes0),
            'c',
        );
        line(format_args!("topic.{tn}.depth"), t.depth as i64, 'g');
        line(
            format_args!("topic.{tn}.backend_depth"),
            t.backend_depth as i64,
            'g',
        );
        for (suffix, value) in percentiles(&t.e2e_processing_latency) {
            line(
                format_args!("topic.{tn}.e2e_processing_latency_{suffix}"),
                value,
                'g',
            );
        }
        for c in &t.channels {
            let cn = &c.channel_name;
            if m.exclude_ephemeral && is_ephemeral(cn) {
                continue;
            }
            let (count0, requeue0, timeout0) = m
                .previous
                .channels
                .get(&(tn.clone(), cn.clone()))
                .copied()
                .unwrap_or_default();
            let base = format!("topic.{tn}.channel.{cn}");
            line(
                format_args!("{base}.message_count"),
                delta(c.message_count, count0),
                'c',
            );
            line(format_args!("{base}.depth"), c.depth as i64, 'g');
            line(
                format_args!("{base}.backend_depth"),
                c.backend_depth as i64,
                'g',
            );
            line(
                format_args!("{base}.in_flight_count"),
                c.in_flight_count as i64,
                'g',
            );
            line(
                format_args!("{base}.deferred_count"),
                c.deferred_count as i64,
                'g',
            );
            line(
                format_args!("{base}.requeue_count"),
                delta(c.requeue_count, requeue0),
                'c',
            );
            line(
                format_args!("{base}.timeout_count"),
                delta(c.timeout_count, timeout0),
                'c',
            );
            line(format_args!("{base}.clients"), c.client_count as i64, 'g');
            for (suffix, value) in percentiles(&c.e2e_processing_latency) {
                line(
                    format_args!("{base}.e2e_processing_latency_{suffix}"),
                    value,
                    'g',
                );
            }
        }
    }
    if let Some(ms) = m.mem {
        let runs0 = m.previous.mem.map_or(0, |p| p.gc_total_runs);
        let gauges = [
            ("heap_objects", ms.heap_objects),
            ("heap_idle_bytes", ms.heap_idle_bytes),
            ("heap_in_use_bytes", ms.heap_in_use_bytes),
            ("heap_released_bytes", ms.heap_released_bytes),
            ("gc_pause_usec_100", ms.gc_pause_usec_100),
            ("gc_pause_usec_99", ms.gc_pause_usec_99),
            ("gc_pause_usec_95", ms.gc_pause_usec_95),
            ("next_gc_bytes", ms.next_gc_bytes),
        ];
        for (name, v) in gauges {
            line(format_args!("mem.{name}"), v as i64, 'g');
        }
        line(
            format_args!("mem.gc_runs"),
            delta(ms.gc_total_runs, runs0),
            'c',
        );
    }
    lines
}

/// `(suffix, value)` per percentile: the suffix is q×100 printed with no decimals (so 0.999
/// and 1.0 both give `100`, QRK-17) and the value is truncated to whole nanoseconds.
fn percentiles(q: &QuantileResult) -> impl Iterator<Item = (String, i64)> + '_ {
    q.percentiles
        .iter()
        .map(|&(quantile, value)| (format!("{:.0}", quantile * 100.0), value as i64))
}

/// Packs lines into datagrams of at most `size` bytes without splitting a line; a line longer
/// than `size` goes alone in its own datagram.
pub fn pack(lines: &[String], size: usize) -> Vec<Vec<u8>> {
    let mut packets = Vec::new();
    let mut current: Vec<u8> = Vec::with_capacity(size);
    for l in lines {
        let l = l.as_bytes();
        if current.len() + l.len() > size && !current.is_empty() {
            packets.push(std::mem::replace(&mut current, Vec::with_capacity(size)));
        }
        if l.len() > size {
            packets.push(l.to_vec());
        } else {
            current.extend_from_slice(l);
        }
    }
    if !current.is_empty() {
        packets.push(current);
    }
    packets
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::ChannelStats;

    fn channel(name: &str, count: u64) -> ChannelStats {
        ChannelStats {
            channel_name: name.into(),
            depth: 3,
            backend_depth: 1,
            in_flight_count: 2,
            deferred_count: 4,
            message_count: count,
            zone_local_msg_count: 0,
            region_local_msg_count: 0,
            global_msg_count: 0,
            requeue_count: 5,
            timeout_count: 6,
            client_count: 7,
            clients: None,
            paused: false,
            e2e_processing_latency: QuantileResult::default(),
        }
    }

    fn topic(name: &str, count: u64, channels: Vec<ChannelStats>) -> TopicStats {
        TopicStats {
            topic_name: name.into(),
            channels,
            depth: 10,
            backend_depth: 8,
            message_count: count,
            message_bytes: count * 100,
            paused: false,
            e2e_processing_latency: QuantileResult::default(),
        }
    }

    #[test]
    fn lines_for_topic_channel_and_memory() {
        let mut ch = channel("c", 9);
        ch.e2e_processing_latency = QuantileResult {
            count: 3,
            percentiles: vec![(0.999, 1234.9), (0.5, 10.0)],
        };
        let mut t = topic("t", 9, vec![ch]);
        t.e2e_processing_latency = QuantileResult {
            count: 3,
            percentiles: vec![(1.0, 2000.0)],
        };
        let mem = MemStats {
            heap_idle_bytes: 11,
            heap_in_use_bytes: 22,
            gc_total_runs: 4,
            ..MemStats::default()
        };
        let prev = Previous::default();
        let lines = metric_lines(&Metrics {
            prefix: "nsq.h_1.",
            topics: &[t],
            mem: Some(mem),
            exclude_ephemeral: false,
            previous: &prev,
        });
        let expected = "\
nsq.h_1.topic.t.message_count:9|c
nsq.h_1.topic.t.message_bytes:900|c
nsq.h_1.topic.t.depth:10|g
nsq.h_1.topic.t.backend_depth:8|g
nsq.h_1.topic.t.e2e_processing_latency_100:2000|g
nsq.h_1.topic.t.channel.c.message_count:9|c
nsq.h_1.topic.t.channel.c.depth:3|g
nsq.h_1.topic.t.channel.c.backend_depth:1|g
nsq.h_1.topic.t.channel.c.in_flight_count:2|g
nsq.h_1.topic.t.channel.c.deferred_count:4|g
nsq.h_1.topic.t.channel.c.requeue_count:5|c
nsq.h_1.topic.t.channel.c.timeout_count:6|c
nsq.h_1.topic.t.channel.c.clients:7|g
nsq.h_1.topic.t.channel.c.e2e_processing_latency_100:1234|g
nsq.h_1.topic.t.channel.c.e2e_processing_latency_50:10|g
nsq.h_1.mem.heap_objects:0|g
nsq.h_1.mem.heap_idle_bytes:11|g
nsq.h_1.mem.heap_in_use_bytes:22|g
nsq.h_1.mem.heap_released_bytes:0|g
nsq.h_1.mem.gc_pause_usec_100:0|g
nsq.h_1.mem.gc_pause_usec_99:0|g
nsq.h_1.mem.gc_pause_usec_95:0|g
nsq.h_1.mem.next_gc_bytes:0|g
nsq.h_1.mem.gc_runs:4|c
";
        assert_eq!(lines.concat(), expected);
    }

    #[test]
    fn counters_are_deltas_and_ephemeral_can_be_excluded() {
        let before = vec![topic("t", 5, vec![channel("c", 5)])];
        let prev = Previous::from(
            &before,
            Some(MemStats {
                gc_total_runs: 3,
                ..MemStats::default()
            }),
        );
        let now = vec![
            topic("e#ephemeral", 1, vec![]),
            topic("t", 8, vec![channel("c", 7), channel("x#ephemeral", 1)]),
        ];
        let lines = metric_lines(&Metrics {
            prefix: "",
            topics: &now,
            mem: Some(MemStats {
                gc_total_runs: 3,
                ..MemStats::default()
            }),
            exclude_ephemeral: true,
            previous: &prev,
        });
        assert!(lines.iter().all(|l| !l.contains("ephemeral")));
        assert!(lines.contains(&"topic.t.message_count:3|c\n".to_string()));
        assert!(lines.contains(&"topic.t.message_bytes:300|c\n".to_string()));
        assert!(lines.contains(&"topic.t.channel.c.message_count:2|c\n".to_string()));
        assert!(lines.contains(&"topic.t.channel.c.requeue_count:0|c\n".to_string()));
        assert_eq!(lines.last().unwrap(), "mem.gc_runs:0|c\n");

        // A topic whose totals went down (deleted and re-created) reports a negative delta.
        let prev = Previous::from(&now, None);
        let again = vec![topic("t", 2, vec![])];
        let lines = metric_lines(&Metrics {
            prefix: "",
            topics: &again,
            mem: None,
            exclude_ephemeral: false,
            previous: &prev,
        });
        assert_eq!(lines[0], "topic.t.message_count:-6|c\n");
        assert_eq!(lines.len(), 4);
    }

    #[test]
    fn packing_never_splits_lines() {
        let lines: Vec<String> = ["aaaa\n", "bbbbb\n", "cc\n", "0123456789ABCDEF\n", "d\n"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let packets = pack(&lines, 11);
        let as_text: Vec<&str> = packets
            .iter()
            .map(|p| std::str::from_utf8(p).unwrap())
            .collect();
        assert_eq!(
            as_text,
            ["aaaa\nbbbbb\n", "cc\n", "0123456789ABCDEF\n", "d\n"]
        );
        assert!(pack(&[], 508).is_empty());
    }
}
