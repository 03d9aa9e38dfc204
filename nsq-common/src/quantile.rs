//! End-to-end processing latency windows (BEH-110..112, H-045, H-051).
//!
//! nsqd summarises FIN latencies with a targeted-quantile stream (the CKMS
//! algorithm from "Effective Computation of Biased Quantiles over Data
//! Streams", epsilon 0.01) and keeps two of them so old data ages out: each
//! covers half of the window, and when a half-window elapses the older one is
//! wiped and becomes the one receiving inserts. A query merges both.
//!
//! The numbers reported must look like Go nsqd's, so this reproduces the
//! exact rank arithmetic of the Go stream nsqd links (perks, late 2014),
//! including its quirks: a merged summary recomputes each inserted sample's
//! delta from the target invariant, and a query's rank walk lags by one
//! sample (p50 of 1..=10 reports 7).
//!
//! Nothing here reads the clock: callers pass `now`, which keeps rotation
//! testable and lets one `Instant::now()` serve a whole stats pass.

use std::time::{Duration, Instant};

use crate::gofmt::{json_f64, nanos_to_human};

/// Allowed rank error of every target quantile, as a fraction of the count.
const EPSILON: f64 = 0.01;

/// Inserts are buffered and folded into the summary in sorted batches of
/// this size, which is far cheaper than one summary walk per insert.
const BUFFER_LEN: usize = 500;

/// One summary entry: `width` observations folded into `value`, whose rank
/// is uncertain by up to `delta`.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Sample {
    value: f64,
    width: f64,
    delta: f64,
}

impl Sample {
    fn single(value: f64) -> Self {
        Sample {
            value,
            width: 1.0,
            delta: 0.0,
        }
    }
}

/// The largest rank uncertainty allowed at rank `r` of `n` observations so
/// that every target quantile stays within EPSILON.
fn allowed_error(targets: &[f64], n: f64, r: f64) -> f64 {
    let mut min = f64::MAX;
    for &q in targets {
        let f = if q * n <= r {
            2.0 * EPSILON * r / q
        } else {
            2.0 * EPSILON * (n - r) / (1.0 - q)
        };
        if f < min {
            min = f;
        }
    }
    min
}

fn sort_by_value(samples: &mut [Sample]) {
    samples.sort_unstable_by(|a, b| a.value.total_cmp(&b.value));
}

/// A targeted-quantile stream. The targets are not stored here: the owning
/// `Quantile` passes its percentile list in, so both halves share one copy.
#[derive(Clone, Debug, Default)]
struct Stream {
    /// Observations folded into `summary` (a sum of widths).
    n: f64,
    /// Sorted by value. Empty until the first batch is folded in, and while
    /// it is empty queries read the raw buffer instead.
    summary: Vec<Sample>,
    /// Raw observations not yet folded in.
    buffer: Vec<f64>,
    /// Whether `buffer` is currently sorted.
    sorted: bool,
    /// Spare vector reused by `merge_sorted` to avoid an allocation per batch.
    scratch: Vec<Sample>,
}

impl Stream {
    fn insert(&mut self, value: f64, targets: &[f64]) {
        self.buffer.push(value);
        self.sorted = false;
        if self.buffer.len() >= BUFFER_LEN {
            self.flush(targets);
            self.compress(targets);
        }
    }

    fn count(&self) -> u64 {
        self.buffer.len() as u64 + self.n as u64
    }

    fn reset(&mut self) {
        self.n = 0.0;
        self.summary.clear();
        self.buffer.clear();
        self.sorted = true;
    }

    fn sort_buffer(&mut self) {
        if !self.sorted {
            self.buffer.sort_unstable_by(f64::total_cmp);
            self.sorted = true;
        }
    }

    fn flush(&mut self, targets: &[f64]) {
        if self.buffer.is_empty() {
            return;
        }
        self.sort_buffer();
        let batch = std::mem::take(&mut self.buffer);
        self.merge_sorted(batch.iter().map(|&v| Sample::single(v)), targets);
        self.buffer = batch;
        self.buffer.clear();
    }

    /// Folds samples (already in value order) into the summary. A sample
    /// landing before an existing entry gets the widest uncertainty the
    /// invariant allows at that rank, minus one; one landing past the end is
    /// exact. Only pre-existing entries count towards the running rank.
    fn merge_sorted(&mut self, incoming: impl Iterator<Item = Sample>, targets: &[f64]) {
        let old = std::mem::take(&mut self.summary);
        let mut out = std::mem::take(&mut self.scratch);
        out.clear();
        let mut rank = 0.0;
        let mut i = 0;
        for sample in incoming {
            while i < old.len() && old[i].value <= sample.value {
                rank += old[i].width;
                out.push(old[i]);
                i += 1;
            }
            let delta = if i < old.len() {
                allowed_error(targets, self.n, rank).floor() - 1.0
            } else {
                0.0
            };
            out.push(Sample { delta, ..sample });
            self.n += sample.width;
        }
        out.extend_from_slice(&old[i..]);
        self.summary = out;
        self.scratch = old;
    }

    /// Merges neighbours, walking from the top, wherever the combined entry
    /// still satisfies the invariant. Compacts in place in one pass.
    fn compress(&mut self, targets: &[f64]) {
        let n = self.n;
        let list = &mut self.summary;
        if list.len() < 2 {
            return;
        }
        // `write` is where the entry absorbing its lower neighbours (`x`)
        // will end up; everything above it is final. It always stays above
        // `i`, so the slot it overwrites has already been read.
        let mut write = list.len() - 1;
        let mut x = list[write];
        let mut rank = n - 1.0 - x.width;
        for i in (0..list.len() - 1).rev() {
            let c = list[i];
            if c.width + x.width + x.delta <= allowed_error(targets, n, rank) {
                x.width += c.width;
            } else {
                list[write] = x;
                write -= 1;
                x = c;
            }
            rank -= c.width;
        }
        list[write] = x;
        list.drain(..write);
    }

    /// The stream's content as summary entries, folding the buffer in first
    /// when a summary exists; before the first fold it is the raw buffer.
    fn samples(&mut self, targets: &[f64]) -> Vec<Sample> {
        if self.summary.is_empty() {
            return self.buffer.iter().map(|&v| Sample::single(v)).collect();
        }
        self.flush(targets);
        self.compress(targets);
        self.summary.clone()
    }

    /// Folds in another stream's samples, in any order.
    fn merge(&mut self, mut samples: Vec<Sample>, targets: &[f64]) {
        sort_by_value(&mut samples);
        self.merge_sorted(samples.into_iter(), targets);
    }

    fn query(&mut self, q: f64, targets: &[f64]) -> f64 {
        if self.summary.is_empty() {
            // Too little data for a summary yet: read the raw observations.
            if self.buffer.is_empty() {
                return 0.0;
            }
            self.sort_buffer();
            let mut i = (self.buffer.len() as f64 * q) as usize;
            i = i.saturating_sub(1).min(self.buffer.len() - 1);
            return self.buffer[i];
        }
        self.flush(targets);
        self.query_summary(q, targets)
    }

    fn query_summary(&self, q: f64, targets: &[f64]) -> f64 {
        let n = self.n;
        let mut t = (q * n).ceil();
        t += (allowed_error(targets, n, t) / 2.0).ceil();
        let mut prev = self.summary[0];
        let mut rank = 0.0;
        for c in &self.summary[1..] {
            if rank + c.width + c.delta > t {
                return prev.value;
            }
            rank += prev.width;
            prev = *c;
        }
        prev.value
    }
}

/// One channel's (or, merged, one topic's) latency window.
#[derive(Clone, Debug)]
pub struct Quantile {
    streams: [Stream; 2],
    /// Index of the stream receiving inserts; the other holds the previous
    /// half-window.
    current: usize,
    /// When the current half-window started.
    last_move: Instant,
    half_window: Duration,
    percentiles: Vec<f64>,
}

impl Quantile {
    /// A window of `window_time` reporting `percentiles` in the given order
    /// (nsqd sorts them descending before it gets here).
    pub fn new(window_time: Duration, percentiles: &[f64], now: Instant) -> Self {
        Quantile {
            streams: [Stream::default(), Stream::default()],
            current: 0,
            last_move: now,
            half_window: window_time / 2,
            percentiles: percentiles.to_vec(),
        }
    }

    /// Records one FIN latency in nanoseconds.
    pub fn insert(&mut self, latency_ns: i64, now: Instant) {
        self.rotate(now);
        let Quantile {
            streams,
            current,
            percentiles,
            ..
        } = self;
        streams[*current].insert(latency_ns as f64, percentiles);
    }

    /// The window's count and percentile values at `now`.
    pub fn result(&mut self, now: Instant) -> QuantileResult {
        self.rotate(now);
        let targets = &self.percentiles;
        let mut merged = Stream::default();
        for stream in &mut self.streams {
            let samples = stream.samples(targets);
            merged.merge(samples, targets);
        }
        QuantileResult {
            count: merged.count(),
            percentiles: targets
                .iter()
                .map(|&q| (q, merged.query(q, targets)))
                .collect(),
        }
    }

    /// Folds another window into this one, for a topic's aggregate figure.
    /// `other` is taken as it would be at `now`: halves it would already
    /// have expired contribute nothing, and its current half lands in our
    /// current half.
    pub fn merge(&mut self, other: &Quantile, now: Instant) {
        self.rotate(now);
        let due = other.rotations_due(now);
        let their_current = &other.streams[other.current];
        let their_previous = &other.streams[other.current ^ 1];
        // After `due` rotations their current half would be fresh and the
        // old current would have become their previous one.
        let (into_current, into_previous) = match due {
            0 => (Some(their_current), Some(their_previous)),
            1 => (None, Some(their_current)),
            _ => (None, None),
        };
        let current = self.current;
        for (index, source) in [(current, into_current), (current ^ 1, into_previous)] {
            if let Some(stream) = source {
                // Snapshot so `other` stays untouched (it may be shared).
                let samples = stream.clone().samples(&other.percentiles);
                self.streams[index].merge(samples, &self.percentiles);
            }
        }
        let their_last_move = other.advanced_last_move(due);
        if their_last_move > self.last_move {
            self.last_move = their_last_move;
        }
    }

    /// How many half-windows have fully elapsed since the current one began
    /// (a half-window ending exactly at `now` has not yet elapsed).
    fn rotations_due(&self, now: Instant) -> u128 {
        let elapsed = now.saturating_duration_since(self.last_move).as_nanos();
        let half = self.half_window.as_nanos();
        if elapsed == 0 {
            return 0;
        }
        if half == 0 {
            // Go would spin forever here; treat it as "everything expired".
            return u128::MAX;
        }
        elapsed.div_ceil(half) - 1
    }

    fn advanced_last_move(&self, due: u128) -> Instant {
        let nanos = self.half_window.as_nanos().saturating_mul(due);
        let secs = u64::try_from(nanos / 1_000_000_000).unwrap_or(u64::MAX);
        let step = Duration::new(secs, (nanos % 1_000_000_000) as u32);
        self.last_move.checked_add(step).unwrap_or(self.last_move)
    }

    fn rotate(&mut self, now: Instant) {
        let due = self.rotations_due(now);
        if due == 0 {
            return;
        }
        // Two rotations already wipe both halves; more only flip the parity.
        let flips = if due <= 2 { due } else { 2 + due % 2 };
        for _ in 0..flips {
            self.current ^= 1;
            self.streams[self.current].reset();
        }
        self.last_move = if self.half_window.is_zero() {
            now
        } else {
            self.advanced_last_move(due)
        };
    }
}

/// A window's figures as shown by `/stats`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct QuantileResult {
    pub count: u64,
    /// `(quantile, value in ns)` in configured order.
    pub percentiles: Vec<(f64, f64)>,
}

impl QuantileResult {
    /// The H-045 JSON object. No percentiles (no window at all) gives
    /// `{"count":0,"percentiles":null}` like Go's nil slice.
    pub fn to_json(&self) -> String {
        if self.percentiles.is_empty() {
            return format!("{{\"count\":{},\"percentiles\":null}}", self.count);
        }
        let mut out = format!("{{\"count\":{},\"percentiles\":[", self.count);
        for (i, &(q, v)) in self.percentiles.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str("{\"quantile\":");
            out.push_str(&json_f64(q));
            out.push_str(",\"value\":");
            out.push_str(&json_f64(v));
            out.push('}');
        }
        out.push_str("]}");
        out
    }

    /// The H-051 text form: each value humanised, joined by `", "`.
    pub fn to_text(&self) -> String {
        let parts: Vec<String> = self
            .percentiles
            .iter()
            .map(|&(_, v)| nanos_to_human(v))
            .collect();
        parts.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WINDOW: Duration = Duration::from_secs(600);
    const HALF: Duration = Duration::from_secs(300);

    fn value_of(result: &QuantileResult, q: f64) -> f64 {
        result
            .percentiles
            .iter()
            .find(|(p, _)| *p == q)
            .map(|(_, v)| *v)
            .unwrap()
    }

    /// 1..=n in a scrambled but fixed order (7919 is coprime with 10000).
    fn scrambled(n: i64) -> impl Iterator<Item = i64> {
        (0..n).map(move |i| (i * 7919) % n + 1)
    }

    #[test]
    fn uniform_sample_is_near_true_quantiles() {
        let t0 = Instant::now();
        let mut q = Quantile::new(WINDOW, &[0.99, 0.5], t0);
        for v in scrambled(10_000) {
            q.insert(v, t0);
        }
        let result = q.result(t0);
        assert_eq!(result.count, 10_000);
        assert_eq!(result.percentiles[0].0, 0.99);
        assert_eq!(result.percentiles[1].0, 0.5);
        // p99 is within the epsilon rank error (0.01 * 10000 ranks).
        let p99 = value_of(&result, 0.99);
        assert!((p99 - 9_900.0).abs() <= 100.0, "p99 {p99}");
        // The median overshoots by more than epsilon, exactly as in Go (see
        // matches_go_output_exactly): the query aims half an error above the
        // target rank and its walk lags one summary entry, and entries near
        // the median are up to 2% of the count wide. Here it reports 5274.
        let p50 = value_of(&result, 0.5);
        assert!((5_000.0..=5_300.0).contains(&p50), "p50 {p50}");
    }

    /// Fills a window the way the Go cross-check did: `n` values into the
    /// current half and `n / 3` into the other (or `n/2` and `n/5`).
    fn lcg_window(seed: &mut u64, current: usize, previous: usize, now: Instant) -> Quantile {
        let mut next = || {
            *seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((*seed >> 33) % 50_000_000) as f64
        };
        let mut q = Quantile::new(WINDOW, &GOLDEN_PERCENTILES, now);
        for _ in 0..current {
            q.streams[0].insert(next(), &GOLDEN_PERCENTILES);
        }
        for _ in 0..previous {
            q.streams[1].insert(next(), &GOLDEN_PERCENTILES);
        }
        q
    }

    const GOLDEN_PERCENTILES: [f64; 4] = [1.0, 0.99, 0.95, 0.5];

    /// Expected output produced by Go nsqd's quantile code (perks stream plus
    /// nsq's two-half wrapper and encoding/json) on the same inputs.
    #[test]
    fn matches_go_output_exactly() {
        let golden = [
            (
                10,
                r#"{"count":13,"percentiles":[{"quantile":1,"value":49287380},{"quantile":0.99,"value":49287380},{"quantile":0.95,"value":49287380},{"quantile":0.5,"value":35318264}]}"#,
                r#"{"count":20,"percentiles":[{"quantile":1,"value":49287380},{"quantile":0.99,"value":49287380},{"quantile":0.95,"value":49287380},{"quantile":0.5,"value":25998359}]}"#,
            ),
            (
                501,
                r#"{"count":668,"percentiles":[{"quantile":1,"value":49707229},{"quantile":0.99,"value":48900642},{"quantile":0.95,"value":46331714},{"quantile":0.5,"value":25256231}]}"#,
                r#"{"count":1018,"percentiles":[{"quantile":1,"value":49987125},{"quantile":0.99,"value":49987125},{"quantile":0.95,"value":46573848},{"quantile":0.5,"value":25325707}]}"#,
            ),
            (
                10_000,
                r#"{"count":13333,"percentiles":[{"quantile":1,"value":49316698},{"quantile":0.99,"value":48835445},{"quantile":0.95,"value":46968428},{"quantile":0.5,"value":25010104}]}"#,
                r#"{"count":20333,"percentiles":[{"quantile":1,"value":49996720},{"quantile":0.99,"value":49251850},{"quantile":0.95,"value":47514792},{"quantile":0.5,"value":25061163}]}"#,
            ),
        ];
        for (n, channel_json, topic_json) in golden {
            let now = Instant::now();
            let mut seed = 12345;
            let mut a = lcg_window(&mut seed, n, n / 3, now);
            assert_eq!(a.result(now).to_json(), channel_json, "channel, n={n}");
            let b = lcg_window(&mut seed, n / 2, n / 5, now);
            let mut topic = Quantile::new(WINDOW, &GOLDEN_PERCENTILES, now);
            topic.merge(&a, now);
            topic.merge(&b, now);
            assert_eq!(topic.result(now).to_json(), topic_json, "topic, n={n}");
            // Reading a window again does not change its figures.
            assert_eq!(a.result(now).to_json(), channel_json, "again, n={n}");
        }
    }

    #[test]
    fn summary_stays_small() {
        let t0 = Instant::now();
        let mut q = Quantile::new(WINDOW, &[0.99, 0.5], t0);
        for v in scrambled(100_000) {
            q.insert(v, t0);
        }
        let kept = q.streams[q.current].summary.len();
        assert!(kept < 2_000, "summary kept {kept} entries");
        assert_eq!(q.result(t0).count, 100_000);
    }

    #[test]
    fn small_sample_matches_go_rank_walk() {
        let t0 = Instant::now();
        let mut q = Quantile::new(WINDOW, &[1.0, 0.99, 0.5], t0);
        for v in [5, 3, 9, 1, 7, 2, 10, 4, 8, 6] {
            q.insert(v, t0);
        }
        let result = q.result(t0);
        assert_eq!(result.count, 10);
        // Go nsqd reports 7 for p50 of 1..=10: the query aims at rank
        // ceil(0.5*10) plus half the allowed error, and its walk lags by one.
        assert_eq!(value_of(&result, 0.5), 7.0);
        assert_eq!(value_of(&result, 0.99), 10.0);
        assert_eq!(value_of(&result, 1.0), 10.0);
    }

    #[test]
    fn raw_buffer_fast_path() {
        let mut s = Stream::default();
        let targets = [0.5];
        for v in [4.0, 1.0, 3.0, 2.0] {
            s.insert(v, &targets);
        }
        // index int(4 * 0.5) - 1 of the sorted buffer
        assert_eq!(s.query(0.5, &targets), 2.0);
        assert_eq!(Stream::default().query(0.5, &targets), 0.0);
    }

    #[test]
    fn empty_window_reports_zeros() {
        let t0 = Instant::now();
        let mut q = Quantile::new(WINDOW, &[0.99, 0.5], t0);
        let result = q.result(t0);
        assert_eq!(result.count, 0);
        assert_eq!(result.percentiles, vec![(0.99, 0.0), (0.5, 0.0)]);
        assert_eq!(
            result.to_json(),
            r#"{"count":0,"percentiles":[{"quantile":0.99,"value":0},{"quantile":0.5,"value":0}]}"#
        );
        assert_eq!(result.to_text(), "0.0ns, 0.0ns");
    }

    #[test]
    fn rotation_ages_out_old_halves() {
        let t0 = Instant::now();
        let mut q = Quantile::new(WINDOW, &[0.5], t0);
        q.insert(100, t0);
        // Exactly one half-window later nothing has rotated yet.
        q.insert(200, t0 + HALF);
        assert_eq!(q.result(t0 + HALF).count, 2);
        assert_eq!(q.current, 0);

        // Just past it: the other half becomes current; both values survive.
        let t1 = t0 + HALF + Duration::from_nanos(1);
        q.insert(300, t1);
        assert_eq!(q.current, 1);
        assert_eq!(q.result(t1).count, 3);

        // Past the second half-window the first half (100, 200) is wiped.
        let t2 = t0 + 2 * HALF + Duration::from_nanos(1);
        let result = q.result(t2);
        assert_eq!(result.count, 1);
        assert_eq!(value_of(&result, 0.5), 300.0);

        // Idle for a long time: everything is gone and the clock catches up
        // in half-window steps.
        let t3 = t0 + 50 * HALF + Duration::from_secs(1);
        assert_eq!(q.result(t3).count, 0);
        assert_eq!(q.last_move, t0 + 50 * HALF);
    }

    #[test]
    fn merge_folds_channels_into_topic() {
        let t0 = Instant::now();
        let mut a = Quantile::new(WINDOW, &[0.99, 0.5], t0);
        let mut b = Quantile::new(WINDOW, &[0.99, 0.5], t0);
        for v in 1..=5 {
            a.insert(v, t0);
        }
        for v in 6..=10 {
            b.insert(v, t0);
        }
        let mut topic = Quantile::new(WINDOW, &[0.99, 0.5], t0);
        topic.merge(&a, t0);
        topic.merge(&b, t0);
        let merged = topic.result(t0);
        assert_eq!(merged.count, 10);
        assert_eq!(value_of(&merged, 0.99), 10.0);
        // The channels themselves are unchanged.
        assert_eq!(a.result(t0).count, 5);
        assert_eq!(b.result(t0).count, 5);
    }

    #[test]
    fn merge_skips_halves_other_would_have_expired() {
        let t0 = Instant::now();
        let mut chan = Quantile::new(WINDOW, &[0.5], t0);
        chan.insert(1, t0);
        let t1 = t0 + HALF + Duration::from_secs(1);
        chan.insert(2, t1);
        chan.insert(3, t1);

        // One more half-window on: the half holding `1` would be wiped.
        let t2 = t0 + 2 * HALF + Duration::from_secs(2);
        let mut topic = Quantile::new(WINDOW, &[0.5], t2);
        topic.merge(&chan, t2);
        assert_eq!(topic.result(t2).count, 2);
        // Their latest half went into our previous half, so it expires at
        // our next rotation.
        assert_eq!(topic.result(t2 + HALF + Duration::from_secs(1)).count, 0);

        let t3 = t0 + 3 * HALF + Duration::from_secs(2);
        let mut late = Quantile::new(WINDOW, &[0.5], t3);
        late.merge(&chan, t3);
        assert_eq!(late.result(t3).count, 0);
    }

    #[test]
    fn merge_keeps_latest_move_time() {
        let t0 = Instant::now();
        let mut topic = Quantile::new(WINDOW, &[0.5], t0);
        let chan = Quantile::new(WINDOW, &[0.5], t0 + Duration::from_secs(3));
        topic.merge(&chan, t0 + Duration::from_secs(4));
        assert_eq!(topic.last_move, t0 + Duration::from_secs(3));
        // A channel that is behind us does not move our clock back.
        let older = Quantile::new(WINDOW, &[0.5], t0);
        topic.merge(&older, t0 + Duration::from_secs(4));
        assert_eq!(topic.last_move, t0 + Duration::from_secs(3));
    }

    #[test]
    fn json_and_text_shapes() {
        let none = QuantileResult::default();
        assert_eq!(none.to_json(), r#"{"count":0,"percentiles":null}"#);
        assert_eq!(none.to_text(), "");

        let r = QuantileResult {
            count: 42,
            percentiles: vec![(1.0, 2_500_000_000.0), (0.99, 1_234_567.0), (0.5, 1500.0)],
        };
        assert_eq!(
            r.to_json(),
            concat!(
                r#"{"count":42,"percentiles":["#,
                r#"{"quantile":1,"value":2500000000},"#,
                r#"{"quantile":0.99,"value":1234567},"#,
                r#"{"quantile":0.5,"value":1500}]}"#
            )
        );
        assert_eq!(r.to_text(), "2.5s, 1.2ms, 1.5us");
    }
}
