//! nsq_to_http (spec §8.4): consumes a topic/channel and delivers every message as an HTTP
//! request to one, some or all of the given addresses.

mod request;

pub use request::{get_url, is_get_pattern, parse_headers, query_escape, Method, Sender};

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nsq_client::{Config, Consumer, Message};
use nsq_common::goflag::{FlagSet, ParsedFlags};
use rand::Rng;

use crate::common::{self, fatal};
use crate::host_pool::HostPool;
use crate::timer_metrics::TimerMetrics;

const TOOL: &str = "nsq_to_http";
const DEFAULT_CONTENT_TYPE: &str = "application/octet-stream";

fn flags() -> FlagSet {
    let mut f = FlagSet::new(TOOL);
    common::consumer_flags(&mut f);
    common::http_client_flags(&mut f, Duration::from_secs(20));
    f.string("channel", "nsq_to_http", "channel to consume")
        .string(
            "content-type",
            DEFAULT_CONTENT_TYPE,
            "Content-Type of the POST requests",
        )
        .string_list(
            "get",
            "address to GET; its one '%s' receives the query-escaped message (repeatable)",
        )
        .string_list(
            "header",
            "extra request header as 'Key: Value' (repeatable)",
        )
        .string(
            "mode",
            "hostpool",
            "how to pick addresses: round-robin, hostpool, epsilon-greedy, or anything else to send to all",
        )
        .int("n", 100, "concurrent deliveries")
        .string_list(
            "post",
            "address to POST the message body to (repeatable)",
        )
        .float("sample", 1.0, "share of messages to deliver, 0.0 to 1.0")
        .int(
            "status-every",
            250,
            "log timing figures every this many requests (0 disables)",
        )
        .string("topic", "", "topic to consume")
        .bool("version", false, "print the version and exit");
    f
}

/// How messages are spread over the addresses (T-041).
enum Mode {
    RoundRobin(AtomicU64),
    Pool(HostPool),
    /// Every address, in order; all must succeed.
    All,
}

/// Validated settings.
struct Options {
    topic: String,
    channel: String,
    method: Method,
    addresses: Vec<String>,
    headers: Vec<(String, String)>,
    content_type: String,
    mode: String,
    sample: f64,
    handlers: i64,
    status_every: i64,
    connect_timeout: Duration,
    request_timeout: Duration,
    nsqd_tcp: Vec<String>,
    lookupd_http: Vec<String>,
    config: Config,
}

/// Checks the command line in the order of T-040; an `Err` is the fatal message.
fn options(p: &ParsedFlags) -> Result<Options, String> {
    let s = |name: &str| p.get_str(name).unwrap_or_default().to_string();
    let headers = parse_headers(&common::strings(p, "header"))
        .map_err(|_| "--header value format should be 'key=value'".to_string())?;
    let (topic, channel) = (s("topic"), s("channel"));
    if topic.is_empty() || channel.is_empty() {
        return Err("--topic and --channel are required".into());
    }
    let content_type = s("content-type");
    let posts = common::strings(p, "post");
    let gets = common::strings(p, "get");
    if content_type != DEFAULT_CONTENT_TYPE {
        if posts.is_empty() {
            return Err("--content-type only used with --post".into());
        }
        if content_type.is_empty() {
            return Err("--content-type requires a value when used".into());
        }
    }
    let (nsqd_tcp, lookupd_http) = common::consumer_sources(p, false)?;
    let (method, addresses) = match (gets.is_empty(), posts.is_empty()) {
        (true, true) => return Err("--get or --post required".into()),
        (false, false) => return Err("use --get or --post not both".into()),
        (true, false) => (Method::Post, posts),
        (false, true) => (Method::Get, gets),
    };
    if method == Method::Get && !addresses.iter().all(|a| is_get_pattern(a)) {
        return Err("invalid GET address - must be a printf string".into());
    }
    let sample = p.get_float("sample").unwrap_or(1.0);
    if !(0.0..=1.0).contains(&sample) {
        return Err("ERROR: --sample must be between 0.0 and 1.0".into());
    }
    let mut config = common::tool_config(TOOL, &common::strings(p, "consumer-opt"))?;
    config.max_in_flight = p.get_int("max-in-flight").unwrap_or(200);
    Ok(Options {
        topic,
        channel,
        method,
        addresses,
        headers,
        content_type,
        mode: s("mode"),
        sample,
        handlers: p.get_int("n").unwrap_or(100),
        status_every: p.get_int("status-every").unwrap_or(250),
        connect_timeout: p
            .get_duration("http-client-connect-timeout")
            .unwrap_or(Duration::from_secs(2)),
        request_timeout: p
            .get_duration("http-client-request-timeout")
            .unwrap_or(Duration::from_secs(20)),
        nsqd_tcp,
        lookupd_http,
        config,
    })
}

/// Delivers messages by the chosen mode and keeps the timing figures.
struct Deliverer {
    sender: Sender,
    addresses: Vec<String>,
    mode: Mode,
    sample: f64,
    per_address: Vec<TimerMetrics>,
    aggregate: TimerMetrics,
    /// Names the consumer in handler error lines, as go-nsq's log does.
    log_prefix: String,
}

impl Deliverer {
    async fn handle(&self, msg: Message) {
        if self.sample < 1.0 && rand::thread_rng().gen::<f64>() > self.sample {
            msg.finish();
            return;
        }
        match self.deliver(&msg).await {
            Ok(()) => msg.finish(),
            Err(e) => {
                common::log(&format!(
                    "ERR    1 {} Handler returned error ({e}) for msg {}",
                    self.log_prefix,
                    String::from_utf8_lossy(&msg.id)
                ));
                msg.requeue(None);
            }
        }
    }

    async fn deliver(&self, msg: &Message) -> Result<(), request::DeliveryError> {
        let start = Instant::now();
        match &self.mode {
            Mode::All => {
                for (i, addr) in self.addresses.iter().enumerate() {
                    let st = Instant::now();
                    self.sender.deliver(addr, &msg.body).await?;
                    self.per_address[i].status(st);
                }
            }
            Mode::RoundRobin(counter) => {
                // The counter is bumped before use, so the first message goes to the second
                // address, as in the Go tool.
                let n = counter.fetch_add(1, Ordering::Relaxed).wrapping_add(1);
                let i = (n % self.addresses.len() as u64) as usize;
                self.sender.deliver(&self.addresses[i], &msg.body).await?;
                self.per_address[i].status(start);
            }
            Mode::Pool(pool) => {
                let pick = pool.get();
                let result = self.sender.deliver(pool.addr(&pick), &msg.body).await;
                pool.mark(&pick, result.is_ok());
                result?;
                self.per_address[pick.index].status(start);
            }
        }
        self.aggregate.status(start);
        Ok(())
    }
}

/// The whole tool: parse, validate, consume until SIGINT/SIGTERM.
pub fn main() {
    common::run_main(TOOL, &flags(), options, run);
}

async fn run(opts: Options) {
    let stop = common::shutdown_signal();
    let sender = Sender::new(
        opts.method,
        &opts.content_type,
        &opts.headers,
        opts.connect_timeout,
        opts.request_timeout,
    )
    .unwrap_or_else(|e| fatal(&e));
    let consumer = Consumer::new(&opts.topic, &opts.channel, opts.config.clone())
        .unwrap_or_else(|e| fatal(&e.to_string()));

    // One address needs no per-address figures: the aggregate says it all.
    let per_address = TimerMetrics::per_address(&opts.addresses, opts.status_every);
    let mode = match HostPool::for_mode(&opts.mode, &opts.addresses) {
        Some(pool) => Mode::Pool(pool),
        None if opts.mode == "round-robin" => Mode::RoundRobin(AtomicU64::new(0)),
        None => Mode::All,
    };
    let deliverer = Arc::new(Deliverer {
        sender,
        addresses: opts.addresses.clone(),
        mode,
        sample: opts.sample,
        per_address,
        aggregate: TimerMetrics::new(opts.status_every, "[aggregate]:"),
        log_prefix: format!("[{}/{}]", opts.topic, opts.channel),
    });

    let mut handlers = Vec::new();
    for _ in 0..opts.handlers.max(1) {
        let consumer = consumer.clone();
        let deliverer = deliverer.clone();
        handlers.push(tokio::spawn(async move {
            while let Some(msg) = consumer.recv().await {
                deliverer.handle(msg).await;
            }
        }));
    }

    if let Err(e) = common::connect_consumer(&consumer, &opts.nsqd_tcp, &opts.lookupd_http).await {
        fatal(&e);
    }
    stop.await;
    common::stop_consumers(std::slice::from_ref(&consumer), handlers).await;
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

    #[test]
    fn validation_messages_in_order() {
        assert_eq!(
            err(&["--header=X-A=1", "--topic=t"]),
            "--header value format should be 'key=value'"
        );
        assert_eq!(err(&[SRC]), "--topic and --channel are required");
        assert_eq!(
            err(&["--topic=t", "--channel=", SRC]),
            "--topic and --channel are required"
        );
        assert_eq!(
            err(&[
                "--topic=t",
                "--content-type=text/plain",
                "--get=http://h/%s",
                SRC
            ]),
            "--content-type only used with --post"
        );
        assert_eq!(
            err(&["--topic=t", "--content-type=", "--post=http://h/", SRC]),
            "--content-type requires a value when used"
        );
        assert_eq!(
            err(&["--topic=t", "--post=http://h/"]),
            "--nsqd-tcp-address or --lookupd-http-address required"
        );
        assert_eq!(
            err(&[
                "--topic=t",
                "--post=http://h/",
                SRC,
                "--lookupd-http-address=h:1"
            ]),
            "use --nsqd-tcp-address or --lookupd-http-address not both"
        );
        assert_eq!(err(&["--topic=t", SRC]), "--get or --post required");
        assert_eq!(
            err(&["--topic=t", SRC, "--get=http://h/%s", "--post=http://h/"]),
            "use --get or --post not both"
        );
        assert_eq!(
            err(&["--topic=t", SRC, "--get=http://h/%s", "--get=http://h/"]),
            "invalid GET address - must be a printf string"
        );
        assert_eq!(
            err(&["--topic=t", SRC, "--post=http://h/", "--sample=1.5"]),
            "ERROR: --sample must be between 0.0 and 1.0"
        );
        assert_eq!(
            err(&[
                "--topic=t",
                SRC,
                "--post=http://h/",
                "--consumer-opt=bogus,1"
            ]),
            "invalid option bogus"
        );
    }

    #[test]
    fn accepted_command_line() {
        let o = parse(&[
            "--topic=t",
            SRC,
            "--post=http://a/",
            "--post=http://b/",
            "--header=X-A: 1",
            "--max-in-flight=7",
            "--consumer-opt=max_in_flight,99",
        ])
        .unwrap();
        assert_eq!(o.channel, "nsq_to_http");
        assert_eq!(o.method, Method::Post);
        assert_eq!(o.addresses, ["http://a/", "http://b/"]);
        assert_eq!(o.headers, [("X-A".to_string(), "1".to_string())]);
        assert_eq!(o.mode, "hostpool");
        assert_eq!(o.request_timeout, Duration::from_secs(20));
        // --max-in-flight wins over the consumer option, as in the Go tool.
        assert_eq!(o.config.max_in_flight, 7);
        assert_eq!(o.config.user_agent, "nsq_to_http/1.3.0 go-nsq/1.1.0");
    }
}
