//! to_nsq (spec §8.1): reads stdin, splits it on a delimiter byte and publishes every
//! non-empty segment to a topic on each given nsqd, with an optional rate limit.

use std::time::{Duration, Instant};

use bytes::Bytes;
use nsq_client::{Config, Producer};
use nsq_common::goflag::{FlagSet, ParsedFlags};
use tokio::io::{AsyncBufRead, AsyncBufReadExt};
use tokio::sync::mpsc;

use crate::common;

pub const TOOL: &str = "to_nsq";

/// Segments queued per nsqd ahead of its publishes; keeps reading and publishing overlapped
/// while bounding memory.
const QUEUE_DEPTH: usize = 1024;

/// The flag table (no `-version`: to_nsq never had one, T-012).
pub fn flag_set() -> FlagSet {
    let mut fs = FlagSet::new(TOOL);
    fs.string(
        "delimiter",
        "\n",
        "byte that ends each message read from stdin",
    )
    .string_list(
        "nsqd-tcp-address",
        "nsqd TCP address to publish to (may be given multiple times)",
    )
    .string_list(
        "producer-opt",
        "go-nsq producer option as name,value (may be given multiple times)",
    )
    .int(
        "rate",
        0,
        "publish at most this many messages per second (0: no limit)",
    )
    .string("topic", "", "topic to publish to");
    fs
}

/// What the command line asks for, validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    pub topic: String,
    pub delimiter: u8,
    pub nsqd_tcp: Vec<String>,
    pub producer_opts: Vec<String>,
    /// Messages per second; `None` when not throttled.
    pub rate: Option<u64>,
}

impl Options {
    /// Checks the flags in to_nsq's order, with its fatal messages (T-012).
    pub fn from_flags(p: &ParsedFlags) -> Result<Options, String> {
        let topic = p.get_str("topic").unwrap_or_default().to_string();
        if topic.is_empty() {
            return Err("--topic required".into());
        }
        let delimiter = match p.get_str("delimiter").unwrap_or_default().as_bytes() {
            [b] => *b,
            _ => return Err("--delimiter must be a single byte".into()),
        };
        let nsqd_tcp = common::strings(p, "nsqd-tcp-address");
        if nsqd_tcp.is_empty() {
            return Err("--nsqd-tcp-address required".into());
        }
        let rate = p.get_int("rate").unwrap_or(0);
        Ok(Options {
            topic,
            delimiter,
            nsqd_tcp,
            producer_opts: common::strings(p, "producer-opt"),
            rate: (rate >= 1).then_some(rate as u64),
        })
    }
}

/// Reads delimiter-ended segments, reusing one buffer. A segment's trailing delimiter is
/// stripped and empty segments are skipped; the last segment may lack the delimiter.
pub struct Segments<R> {
    reader: R,
    delimiter: u8,
    buf: Vec<u8>,
}

impl<R: AsyncBufRead + Unpin> Segments<R> {
    pub fn new(reader: R, delimiter: u8) -> Self {
        Segments {
            reader,
            delimiter,
            buf: Vec::with_capacity(4096),
        }
    }

    /// The next non-empty segment, or `None` at end of input.
    pub async fn next(&mut self) -> std::io::Result<Option<&[u8]>> {
        loop {
            self.buf.clear();
            let n = self
                .reader
                .read_until(self.delimiter, &mut self.buf)
                .await?;
            if n == 0 {
                return Ok(None);
            }
            if self.buf.last() == Some(&self.delimiter) {
                self.buf.pop();
            }
            if !self.buf.is_empty() {
                return Ok(Some(&self.buf));
            }
        }
    }
}

/// A token bucket: one token every `1s / rate`, holding at most `rate` tokens, starting with
/// one (T-011).
#[derive(Debug)]
pub struct Throttle {
    interval: Duration,
    capacity: u64,
    tokens: u64,
    /// When the next token is due.
    next_refill: Instant,
}

impl Throttle {
    pub fn new(rate: u64, now: Instant) -> Throttle {
        let interval = Duration::from_secs(1) / u32::try_from(rate).unwrap_or(u32::MAX).max(1);
        Throttle {
            interval,
            capacity: rate.max(1),
            tokens: 1,
            next_refill: now + interval,
        }
    }

    /// Credits the tokens due by `now`.
    fn refill(&mut self, now: Instant) {
        if now < self.next_refill {
            return;
        }
        let due = 1 + (now - self.next_refill).as_nanos() / self.interval.as_nanos().max(1);
        let due = u64::try_from(due).unwrap_or(u64::MAX);
        self.tokens = self.tokens.saturating_add(due).min(self.capacity);
        // Whole intervals only, so no fraction of a token is lost.
        self.next_refill += self.interval * u32::try_from(due).unwrap_or(u32::MAX);
    }

    /// Takes a token if one is available at `now`; otherwise says how long until one is.
    pub fn try_take(&mut self, now: Instant) -> Result<(), Duration> {
        self.refill(now);
        if self.tokens > 0 {
            self.tokens -= 1;
            Ok(())
        } else {
            Err(self.next_refill.saturating_duration_since(now))
        }
    }

    /// Waits for and takes a token.
    pub async fn take(&mut self) {
        while let Err(wait) = self.try_take(Instant::now()) {
            tokio::time::sleep(wait).await;
        }
    }
}

/// Publishes what it is sent, in order, one synchronous PUB at a time, to one nsqd.
async fn publish_loop(
    producer: Producer,
    topic: String,
    mut rx: mpsc::Receiver<Bytes>,
) -> Result<(), nsq_client::Error> {
    while let Some(body) = rx.recv().await {
        producer.publish(&topic, &body).await?;
    }
    Ok(())
}

/// Reads `input` to the end and publishes every segment to every nsqd. The error is the
/// fatal message to log.
pub async fn publish_input<R: AsyncBufRead + Unpin>(
    opts: &Options,
    config: Config,
    input: R,
) -> Result<(), String> {
    let mut senders = Vec::with_capacity(opts.nsqd_tcp.len());
    let mut tasks = Vec::with_capacity(opts.nsqd_tcp.len());
    let mut producers = Vec::with_capacity(opts.nsqd_tcp.len());
    for addr in &opts.nsqd_tcp {
        let producer = Producer::new(addr.as_str(), config.clone())
            .map_err(|e| format!("failed to create nsq.Producer - {e}"))?;
        let (tx, rx) = mpsc::channel(QUEUE_DEPTH);
        senders.push(tx);
        producers.push(producer.clone());
        tasks.push(tokio::spawn(publish_loop(producer, opts.topic.clone(), rx)));
    }

    let mut throttle = opts.rate.map(|rate| {
        common::log(&format!("Throttling messages rate to max:{rate}/second"));
        Throttle::new(rate, Instant::now())
    });
    let mut segments = Segments::new(input, opts.delimiter);
    let read_result: Result<(), String> = async {
        loop {
            if let Some(t) = throttle.as_mut() {
                t.take().await;
            }
            let Some(segment) = segments.next().await.map_err(|e| e.to_string())? else {
                return Ok(());
            };
            // One shared copy per segment, whatever the number of nsqds.
            let body = Bytes::copy_from_slice(segment);
            for tx in &senders {
                if tx.send(body.clone()).await.is_err() {
                    // That publisher stopped on an error; its result says which.
                    return Ok(());
                }
            }
        }
    }
    .await;
    drop(senders);

    let mut first_err = read_result.err();
    for task in tasks {
        let outcome = match task.await {
            Ok(Ok(())) => continue,
            Ok(Err(e)) => e.to_string(),
            Err(e) => e.to_string(),
        };
        first_err.get_or_insert(outcome);
    }
    for p in &producers {
        p.stop().await;
    }
    first_err.map_or(Ok(()), Err)
}

/// The to_nsq program.
pub fn main() {
    let (parsed, mut config) = common::parse_flags_and_opts(&flag_set(), "producer-opt");
    let opts = Options::from_flags(&parsed).unwrap_or_else(|e| common::fatal(&e));
    config.user_agent = common::user_agent(TOOL);

    common::block_on_current_thread(async {
        let stop = common::shutdown_signal();
        let stdin = tokio::io::BufReader::with_capacity(1 << 16, tokio::io::stdin());
        tokio::select! {
            result = publish_input(&opts, config, stdin) => {
                if let Err(e) = result {
                    common::fatal(&e);
                }
            }
            _ = stop => {
                // Dropping the runtime would wait for the blocked stdin read; the producers'
                // connections close with the process.
                std::process::exit(0);
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn collect(input: &[u8], delim: u8) -> Vec<Vec<u8>> {
        let mut s = Segments::new(input, delim);
        let mut out = Vec::new();
        while let Some(seg) = s.next().await.unwrap() {
            out.push(seg.to_vec());
        }
        out
    }

    #[tokio::test]
    async fn segments_strip_delimiter_and_skip_empty() {
        assert_eq!(
            collect(b"a\n\nbc\n\n", b'\n').await,
            vec![b"a".to_vec(), b"bc".to_vec()]
        );
        assert_eq!(
            collect(b"x,y,,z", b',').await,
            vec![b"x".to_vec(), b"y".to_vec(), b"z".to_vec()]
        );
        assert!(collect(b"", b'\n').await.is_empty());
        assert!(collect(b"\n\n", b'\n').await.is_empty());
    }

    fn parse(args: &[&str]) -> Result<Options, String> {
        Options::from_flags(&common::parse_test_args(&flag_set(), args))
    }

    #[test]
    fn validation_messages_and_order() {
        assert_eq!(parse(&[]).unwrap_err(), "--topic required");
        assert_eq!(
            parse(&["--topic=t", "--delimiter=ab"]).unwrap_err(),
            "--delimiter must be a single byte"
        );
        assert_eq!(
            parse(&["--topic=t", "--delimiter="]).unwrap_err(),
            "--delimiter must be a single byte"
        );
        assert_eq!(
            parse(&["--topic=t"]).unwrap_err(),
            "--nsqd-tcp-address required"
        );
        let o = parse(&[
            "--topic=t",
            "--nsqd-tcp-address=a:1",
            "--nsqd-tcp-address=b:2",
            "--delimiter=,",
            "--rate=5",
        ])
        .unwrap();
        assert_eq!(o.delimiter, b',');
        assert_eq!(o.nsqd_tcp, vec!["a:1", "b:2"]);
        assert_eq!(o.rate, Some(5));
        let o = parse(&["--topic=t", "--nsqd-tcp-address=a:1", "--rate=-3"]).unwrap();
        assert_eq!(o.rate, None);
        assert_eq!(o.delimiter, b'\n');
    }

    #[test]
    fn no_version_flag() {
        let err = flag_set().parse(&["--version".to_string()]).unwrap_err();
        assert_eq!(
            err,
            nsq_common::goflag::FlagError::Invalid(
                "flag provided but not defined: -version".into()
            )
        );
    }

    #[test]
    fn throttle_is_a_token_bucket() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut t = Throttle::new(10, t0);
        // One token to start with, then one per 100ms.
        assert_eq!(t.try_take(t0), Ok(()));
        assert_eq!(t.try_take(t0), Err(ms(100)));
        assert_eq!(t.try_take(t0 + ms(40)), Err(ms(60)));
        assert_eq!(t.try_take(t0 + ms(100)), Ok(()));
        // After a long pause the bucket holds at most `rate` tokens.
        let later = t0 + Duration::from_secs(10);
        for _ in 0..10 {
            assert_eq!(t.try_take(later), Ok(()));
        }
        assert!(t.try_take(later).is_err());
    }
}
