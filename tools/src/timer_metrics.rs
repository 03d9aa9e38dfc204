//! Request timing status lines (T-043), in the format of bitly's timer_metrics that
//! nsq_to_http and nsq_to_nsq log: after every `status_every` requests,
//! `<prefix> finished <n> - 99th: <ms>ms - 95th: <ms>ms - avg: <ms>ms`.
//!
//! The last `status_every` timings are kept in a ring. The line is printed when the ring wraps,
//! that is on request `status_every + 1`, `2 * status_every + 1`, and so on.

use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The figures of one status line.
#[derive(Clone, Debug, PartialEq)]
pub struct Stats {
    pub prefix: String,
    pub count: usize,
    pub avg: Duration,
    pub p95: Duration,
    pub p99: Duration,
}

impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        write!(
            f,
            "{} finished {} - 99th: {:.2}ms - 95th: {:.2}ms - avg: {:.2}ms",
            self.prefix,
            self.count,
            ms(self.p99),
            ms(self.p95),
            ms(self.avg)
        )
    }
}

struct Ring {
    timings: Vec<Duration>,
    /// 1-based slot of the latest timing.
    position: i64,
}

/// Collects request durations and logs a status line every `status_every` of them
/// (0 disables it).
pub struct TimerMetrics {
    prefix: String,
    status_every: i64,
    ring: Mutex<Ring>,
}

impl TimerMetrics {
    pub fn new(status_every: i64, prefix: &str) -> TimerMetrics {
        if status_every > 0 && status_every < 100 {
            crate::common::log(&format!(
                "Warning: use more than 100 status values for accurate percentiles (configured with {status_every})"
            ));
        }
        TimerMetrics {
            prefix: prefix.to_string(),
            status_every,
            ring: Mutex::new(Ring {
                timings: Vec::with_capacity(status_every.clamp(0, 10_000) as usize),
                position: 0,
            }),
        }
    }

    /// One per address, prefixed `[<addr>]:`; a single address gets a silent one, as the
    /// aggregate figures already say it all.
    pub fn per_address(addrs: &[String], status_every: i64) -> Vec<TimerMetrics> {
        if addrs.len() == 1 {
            return vec![TimerMetrics::new(0, "")];
        }
        addrs
            .iter()
            .map(|a| TimerMetrics::new(status_every, &format!("[{a}]:")))
            .collect()
    }

    /// Records the time since `start`, logging the status line when it is due.
    pub fn status(&self, start: Instant) {
        if let Some(stats) = self.record(start.elapsed()) {
            crate::common::log(&stats.to_string());
        }
    }

    /// Records one duration; answers the figures when a status line is due.
    pub fn record(&self, d: Duration) -> Option<Stats> {
        if self.status_every == 0 {
            return None;
        }
        let mut ring = self.ring.lock().unwrap_or_else(|e| e.into_inner());
        ring.position += 1;
        let wrapped = ring.position > self.status_every;
        if wrapped {
            ring.position = 1;
        }
        let slot = (ring.position - 1) as usize;
        if slot >= ring.timings.len() {
            ring.timings.push(d);
        } else {
            ring.timings[slot] = d;
        }
        wrapped.then(|| self.stats(&ring.timings))
    }

    fn stats(&self, timings: &[Duration]) -> Stats {
        let mut sorted = timings.to_vec();
        sorted.sort();
        let total: Duration = timings.iter().sum();
        let avg = match u32::try_from(timings.len()) {
            Ok(n) if n > 0 => total / n,
            _ => Duration::ZERO,
        };
        Stats {
            prefix: self.prefix.clone(),
            count: timings.len(),
            avg,
            p95: percentile(95.0, &sorted),
            p99: percentile(99.0, &sorted),
        }
    }
}

/// The timing at `perc` percent of the sorted list, rounding the rank half a place up (as the
/// Go library does, so small windows report their largest value).
fn percentile(perc: f64, sorted: &[Duration]) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((perc / 100.0) * sorted.len() as f64 + 0.5).ceil() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_when_the_window_wraps() {
        let m = TimerMetrics::new(5, "[aggregate]:");
        let secs = Duration::from_secs;
        let mut lines = Vec::new();
        for n in 1..=11 {
            if let Some(s) = m.record(secs(n)) {
                lines.push((n, s));
            }
        }
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].0, 6);
        assert_eq!(lines[1].0, 11);
        // The window holds 6..=10 then 11 over 6: 11, 7, 8, 9, 10.
        let last = &lines[1].1;
        assert_eq!(last.count, 5);
        assert_eq!(last.avg, secs(9));
        assert_eq!(last.p99, secs(11));
        assert_eq!(
            last.to_string(),
            "[aggregate]: finished 5 - 99th: 11000.00ms - 95th: 11000.00ms - avg: 9000.00ms"
        );
    }

    #[test]
    fn zero_disables() {
        let m = TimerMetrics::new(0, "");
        assert!((0..1000).all(|_| m.record(Duration::from_millis(1)).is_none()));
    }

    #[test]
    fn percentiles_round_up() {
        let ms = Duration::from_millis;
        let sorted: Vec<_> = (1..=100).map(ms).collect();
        assert_eq!(percentile(95.0, &sorted), ms(97));
        assert_eq!(percentile(99.0, &sorted), ms(100));
        assert_eq!(percentile(50.0, &[]), Duration::ZERO);
    }
}
