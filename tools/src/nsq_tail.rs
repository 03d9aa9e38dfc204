//! nsq_tail (spec §8.2): prints the messages of one or more topics to stdout, one consumer per
//! topic on a shared (by default random, ephemeral) channel.

use std::io::Write;

use nsq_client::{Config, Consumer};
use nsq_common::goflag::{FlagSet, ParsedFlags};
use rand::Rng;

use crate::common;

pub const TOOL: &str = "nsq_tail";

pub fn flag_set() -> FlagSet {
    let mut fs = FlagSet::new(TOOL);
    common::consumer_flags(&mut fs);
    fs.string(
        "channel",
        "",
        "channel to read from (default: a random ephemeral one)",
    )
    .int("n", 0, "exit after showing this many messages (0: never)")
    .bool(
        "print-topic",
        false,
        "prefix each message with its topic name",
    )
    .string_list("topic", "topic to read (may be given multiple times)")
    .bool("version", false, "print the version and exit");
    fs
}

/// What the command line asks for, validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    pub topics: Vec<String>,
    pub channel: String,
    pub nsqd_tcp: Vec<String>,
    pub lookupd_http: Vec<String>,
    /// Already lowered to `n` when `n` is smaller.
    pub max_in_flight: i64,
    /// Messages to show per topic before exiting; 0 means forever.
    pub n: i64,
    pub print_topic: bool,
}

/// `tail<6 digits>#ephemeral`, the number in 0..=999998 (T-020).
pub fn random_channel(rng: &mut impl Rng) -> String {
    format!("tail{:06}#ephemeral", rng.gen_range(0..999_999))
}

impl Options {
    /// Checks the flags in nsq_tail's order (the source rule, then the topic).
    pub fn from_flags(p: &ParsedFlags) -> Result<Options, String> {
        let mut channel = p.get_str("channel").unwrap_or_default().to_string();
        if channel.is_empty() {
            channel = random_channel(&mut rand::thread_rng());
        }
        let (nsqd_tcp, lookupd_http) = common::consumer_sources(p, false)?;
        let topics = common::strings(p, "topic");
        if topics.is_empty() {
            return Err("--topic required".into());
        }
        let n = p.get_int("n").unwrap_or(0);
        let mut max_in_flight = p.get_int("max-in-flight").unwrap_or(200);
        // No point asking for more than will be shown.
        if n > 0 && n < max_in_flight {
            max_in_flight = n;
        }
        Ok(Options {
            topics,
            channel,
            nsqd_tcp,
            lookupd_http,
            max_in_flight,
            n,
            print_topic: p.get_bool("print-topic").unwrap_or(false),
        })
    }
}

/// Appends the stdout line for one message: `[<topic> | ]<body>\n`.
pub fn format_line(out: &mut Vec<u8>, topic: Option<&str>, body: &[u8]) {
    if let Some(t) = topic {
        out.extend_from_slice(t.as_bytes());
        out.extend_from_slice(b" | ");
    }
    out.extend_from_slice(body);
    out.push(b'\n');
}

/// Prints one topic's messages; exits the process once `n` of them have been shown.
async fn print_messages(consumer: Consumer, topic: String, n: i64, print_topic: bool) {
    let prefix = print_topic.then_some(topic.as_str());
    let mut line = Vec::new();
    let mut shown: i64 = 0;
    while let Some(msg) = consumer.recv().await {
        shown += 1;
        line.clear();
        format_line(&mut line, prefix, &msg.body);
        {
            let mut stdout = std::io::stdout().lock();
            if let Err(e) = stdout.write_all(&line).and_then(|()| stdout.flush()) {
                common::fatal(&format!("ERROR: failed to write to os.Stdout - {e}"));
            }
        }
        if n > 0 && shown >= n {
            std::process::exit(0);
        }
        msg.finish();
    }
}

/// Starts the consumers and prints until a signal stops them (or `-n` is reached).
pub async fn run(opts: Options, config: Config) -> Result<(), String> {
    let stop = common::shutdown_signal();
    let mut consumers = Vec::with_capacity(opts.topics.len());
    for topic in &opts.topics {
        common::log(&format!("Adding consumer for topic: {topic}"));
        let consumer =
            Consumer::new(topic, &opts.channel, config.clone()).map_err(|e| e.to_string())?;
        tokio::spawn(print_messages(
            consumer.clone(),
            topic.clone(),
            opts.n,
            opts.print_topic,
        ));
        common::connect_consumer(&consumer, &opts.nsqd_tcp, &opts.lookupd_http).await?;
        consumers.push(consumer);
    }
    stop.await;
    // The printer tasks end by themselves once their consumers stop.
    common::stop_consumers(&consumers, Vec::new()).await;
    Ok(())
}

/// The nsq_tail program.
pub fn main() {
    let (parsed, mut config) = common::parse_flags_and_opts(&flag_set(), "consumer-opt");
    if parsed.get_bool("version").unwrap_or(false) {
        common::print_version(TOOL);
        return;
    }
    let opts = Options::from_flags(&parsed).unwrap_or_else(|e| common::fatal(&e));
    config.user_agent = common::user_agent(TOOL);
    config.max_in_flight = opts.max_in_flight;
    if let Err(e) = common::validate_config(&config) {
        common::fatal(&e);
    }
    common::block_on(async {
        if let Err(e) = run(opts, config).await {
            common::fatal(&e);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Options, String> {
        Options::from_flags(&common::parse_test_args(&flag_set(), args))
    }

    #[test]
    fn lines_with_and_without_topic() {
        let mut out = Vec::new();
        format_line(&mut out, None, b"hello");
        format_line(&mut out, Some("t1"), b"world");
        assert_eq!(out, b"hello\nt1 | world\n");
    }

    #[test]
    fn random_channel_shape() {
        let re = regex::Regex::new(r"^tail\d{6}#ephemeral$").unwrap();
        let mut rng = rand::thread_rng();
        for _ in 0..100 {
            let c = random_channel(&mut rng);
            assert!(re.is_match(&c), "{c}");
            assert!(nsq_protocol::names::is_valid_channel_name(c.as_bytes()));
        }
    }

    #[test]
    fn validation_order_and_messages() {
        assert_eq!(
            parse(&[]).unwrap_err(),
            "--nsqd-tcp-address or --lookupd-http-address required"
        );
        assert_eq!(
            parse(&["--nsqd-tcp-address=a:1", "--lookupd-http-address=b:2"]).unwrap_err(),
            "use --nsqd-tcp-address or --lookupd-http-address not both"
        );
        assert_eq!(
            parse(&["--nsqd-tcp-address=a:1"]).unwrap_err(),
            "--topic required"
        );
    }

    #[test]
    fn n_lowers_max_in_flight() {
        let o = parse(&["--nsqd-tcp-address=a:1", "--topic=t", "-n", "3"]).unwrap();
        assert_eq!((o.n, o.max_in_flight), (3, 3));
        assert!(o.channel.starts_with("tail"));
        let o = parse(&[
            "--nsqd-tcp-address=a:1",
            "--topic=t",
            "--topic=u",
            "-n=500",
            "--channel=c",
            "--print-topic",
        ])
        .unwrap();
        assert_eq!((o.n, o.max_in_flight), (500, 200));
        assert_eq!(o.topics, vec!["t", "u"]);
        assert_eq!(o.channel, "c");
        assert!(o.print_topic);
    }
}
