//! nsq_to_nsq (spec §8.5): consumes topics from one set of nsqd and publishes every message to
//! another, optionally filtering JSON bodies.

mod json_filter;

pub use json_filter::{JsonFilter, Verdict};

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use nsq_client::{Config, Consumer, Message, Producer};
use nsq_common::goflag::{FlagSet, ParsedFlags};
use nsq_protocol::names::{is_valid_channel_name, is_valid_topic_name};

use crate::common::{self, fatal};
use crate::host_pool::HostPool;
use crate::timer_metrics::TimerMetrics;

const TOOL: &str = "nsq_to_nsq";

fn flags() -> FlagSet {
    let mut f = FlagSet::new(TOOL);
    common::consumer_flags(&mut f);
    f.string("channel", "nsq_to_nsq", "channel to consume")
        .string_list(
            "destination-nsqd-tcp-address",
            "nsqd TCP address to publish to (repeatable)",
        )
        .string(
            "destination-topic",
            "",
            "topic to publish everything to (default: the topic it came from)",
        )
        .string(
            "mode",
            "hostpool",
            "how to pick destinations: round-robin, hostpool or epsilon-greedy",
        )
        .string_list(
            "producer-opt",
            "a go-nsq producer option as name,value (repeatable)",
        )
        .string(
            "require-json-field",
            "",
            "JSON messages: forward only those that have this field",
        )
        .string(
            "require-json-value",
            "",
            "JSON messages: forward only those whose required field has this value",
        )
        .int(
            "status-every",
            250,
            "log timing figures every this many publishes (0 disables)",
        )
        .string_list("topic", "topic to consume (repeatable)")
        .bool("version", false, "print the version and exit")
        .string_list(
            "whitelist-json-field",
            "JSON messages: forward only this field (repeatable)",
        );
    f
}

/// Validated settings.
struct Options {
    topics: Vec<String>,
    channel: String,
    destination_topic: String,
    destinations: Vec<String>,
    mode: String,
    status_every: i64,
    nsqd_tcp: Vec<String>,
    lookupd_http: Vec<String>,
    consumer_config: Config,
    producer_config: Config,
    filter: JsonFilter,
}

/// Checks the command line in the order of T-050; an `Err` is the fatal message.
fn options(p: &ParsedFlags) -> Result<Options, String> {
    let s = |name: &str| p.get_str(name).unwrap_or_default().to_string();
    let topics = common::strings(p, "topic");
    let channel = s("channel");
    if topics.is_empty() || channel.is_empty() {
        return Err("--topic and --channel are required".into());
    }
    if !topics.iter().all(|t| is_valid_topic_name(t.as_bytes())) {
        return Err("--topic is invalid".into());
    }
    let destination_topic = s("destination-topic");
    if !destination_topic.is_empty() && !is_valid_topic_name(destination_topic.as_bytes()) {
        return Err("--destination-topic is invalid".into());
    }
    if !is_valid_channel_name(channel.as_bytes()) {
        return Err("--channel is invalid".into());
    }
    let (nsqd_tcp, lookupd_http) = common::consumer_sources(p, false)?;
    let destinations = common::strings(p, "destination-nsqd-tcp-address");
    if destinations.is_empty() {
        return Err("--destination-nsqd-tcp-address required".into());
    }

    // --max-in-flight overrides what the options say.
    let mut consumer_config = common::tool_config(TOOL, &common::strings(p, "consumer-opt"))?;
    consumer_config.max_in_flight = p.get_int("max-in-flight").unwrap_or(200);
    let producer_config = common::tool_config(TOOL, &common::strings(p, "producer-opt"))?;

    Ok(Options {
        topics,
        channel,
        destination_topic,
        destinations,
        mode: s("mode"),
        status_every: p.get_int("status-every").unwrap_or(250),
        nsqd_tcp,
        lookupd_http,
        consumer_config,
        producer_config,
        filter: JsonFilter::new(
            &s("require-json-field"),
            &s("require-json-value"),
            common::strings(p, "whitelist-json-field"),
        ),
    })
}

/// Picks destinations and publishes; shared by every topic's handlers.
struct Publisher {
    producers: Vec<Producer>,
    /// `None` means round-robin (any mode other than the two pool modes, T-051).
    pool: Option<HostPool>,
    counter: AtomicU64,
    filter: JsonFilter,
    per_address: Vec<TimerMetrics>,
    aggregate: TimerMetrics,
}

impl Publisher {
    /// Filters one message, then publishes it in the background; the message is finished
    /// or requeued when nsqd answers (T-052).
    fn handle(self: &Arc<Self>, msg: Message, topic: &Arc<str>) {
        let body = if self.filter.is_active() {
            match self.filter.apply(&msg.body) {
                Verdict::Forward(b) => bytes::Bytes::from(b),
                Verdict::NotJson => {
                    common::log(&format!(
                        "ERROR: Unable to decode json: {}",
                        String::from_utf8_lossy(&msg.body)
                    ));
                    msg.finish();
                    return;
                }
                Verdict::Drop => {
                    msg.finish();
                    return;
                }
                Verdict::MissingField => {
                    common::log("ERROR: missing field to check required value");
                    msg.requeue(None);
                    return;
                }
            }
        } else {
            msg.body.clone()
        };

        let start = Instant::now();
        let (index, pick) = match &self.pool {
            Some(pool) => {
                let pick = pool.get();
                (pick.index, Some(pick))
            }
            None => {
                // Bumped before use, so the first message goes to the second destination.
                let n = self.counter.fetch_add(1, Ordering::Relaxed).wrapping_add(1);
                ((n % self.producers.len() as u64) as usize, None)
            }
        };
        let this = self.clone();
        let topic = topic.clone();
        tokio::spawn(async move {
            let result = this.producers[index].publish(&topic, &body).await;
            if let (Some(pool), Some(pick)) = (&this.pool, pick) {
                pool.mark(&pick, result.is_ok());
            }
            match result {
                Ok(()) => msg.finish(),
                Err(e) => {
                    common::log(&format!(
                        "ERROR: publish to {} failed: {e}",
                        this.producers[index].addr()
                    ));
                    msg.requeue(None);
                }
            }
            this.per_address[index].status(start);
            this.aggregate.status(start);
        });
    }
}

/// The whole tool: parse, validate, copy until SIGINT/SIGTERM.
pub fn main() {
    common::run_main(TOOL, &flags(), options, run);
}

async fn run(opts: Options) {
    let stop = common::shutdown_signal();
    let producers: Vec<Producer> = opts
        .destinations
        .iter()
        .map(|a| {
            Producer::new(a.as_str(), opts.producer_config.clone())
                .unwrap_or_else(|e| fatal(&format!("failed creating producer {e}")))
        })
        .collect();
    let per_address = TimerMetrics::per_address(&opts.destinations, opts.status_every);
    let publisher = Arc::new(Publisher {
        producers,
        pool: HostPool::for_mode(&opts.mode, &opts.destinations),
        counter: AtomicU64::new(0),
        filter: opts.filter.clone(),
        per_address,
        aggregate: TimerMetrics::new(opts.status_every, "[aggregate]:"),
    });

    let mut consumers = Vec::new();
    let mut handlers = Vec::new();
    for topic in &opts.topics {
        let consumer = Consumer::new(topic, &opts.channel, opts.consumer_config.clone())
            .unwrap_or_else(|e| fatal(&e.to_string()));
        let destination: Arc<str> = if opts.destination_topic.is_empty() {
            topic.as_str().into()
        } else {
            opts.destination_topic.as_str().into()
        };
        // As many handlers as destinations; publishing itself runs in the background.
        for _ in 0..opts.destinations.len() {
            let consumer = consumer.clone();
            let publisher = publisher.clone();
            let destination = destination.clone();
            handlers.push(tokio::spawn(async move {
                while let Some(msg) = consumer.recv().await {
                    publisher.handle(msg, &destination);
                }
            }));
        }
        consumers.push(consumer);
    }
    for consumer in &consumers {
        if let Err(e) = common::connect_consumer(consumer, &opts.nsqd_tcp, &[]).await {
            fatal(&e);
        }
    }
    for consumer in &consumers {
        if let Err(e) = common::connect_consumer(consumer, &[], &opts.lookupd_http).await {
            fatal(&e);
        }
    }

    stop.await;
    common::stop_consumers(&consumers, handlers).await;
    for p in &publisher.producers {
        p.stop().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Options, String> {
        options(&common::parse_test_args(&flags(), args))
    }

    fn err(args: &[&str]) -> String {
        parse(args)
            .err()
            .unwrap_or_else(|| panic!("accepted {args:?}"))
    }

    const SRC: &str = "--nsqd-tcp-address=127.0.0.1:4150";
    const DST: &str = "--destination-nsqd-tcp-address=127.0.0.1:4151";

    #[test]
    fn validation_messages_in_order() {
        assert_eq!(err(&[SRC, DST]), "--topic and --channel are required");
        assert_eq!(
            err(&["--topic=t", "--channel=", SRC, DST]),
            "--topic and --channel are required"
        );
        assert_eq!(
            err(&["--topic=t", "--topic=b@d", SRC, DST]),
            "--topic is invalid"
        );
        assert_eq!(
            err(&["--topic=t", "--destination-topic=b@d", SRC, DST]),
            "--destination-topic is invalid"
        );
        assert_eq!(
            err(&["--topic=t", "--channel=b@d", SRC, DST]),
            "--channel is invalid"
        );
        assert_eq!(
            err(&["--topic=t", DST]),
            "--nsqd-tcp-address or --lookupd-http-address required"
        );
        assert_eq!(
            err(&["--topic=t", SRC, "--lookupd-http-address=h:1", DST]),
            "use --nsqd-tcp-address or --lookupd-http-address not both"
        );
        assert_eq!(
            err(&["--topic=t", SRC]),
            "--destination-nsqd-tcp-address required"
        );
        assert_eq!(
            err(&["--topic=t", SRC, DST, "--producer-opt=bogus"]),
            "invalid option bogus"
        );
    }

    #[test]
    fn accepted_command_line() {
        let o = parse(&["--topic=a", "--topic=b", SRC, DST, "--max-in-flight=9"]).unwrap();
        assert_eq!(o.topics, ["a", "b"]);
        assert_eq!(o.channel, "nsq_to_nsq");
        assert_eq!(o.mode, "hostpool");
        assert_eq!(o.consumer_config.max_in_flight, 9);
        assert_eq!(
            o.consumer_config.user_agent,
            "nsq_to_nsq/1.3.0 go-nsq/1.1.0"
        );
        assert_eq!(
            o.producer_config.user_agent,
            "nsq_to_nsq/1.3.0 go-nsq/1.1.0"
        );
        assert!(!o.filter.is_active());
    }
}
