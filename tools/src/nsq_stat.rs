//! nsq_stat (spec §8.6): polls the `/stats` of every nsqd producing a topic and prints one
//! line of summed channel counters per interval.

use std::io::Write;
use std::time::Duration;

use nsq_common::goflag::{CustomKind, FlagSet, FlagValue, ParsedFlags};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde_json::Value;

use crate::common;

pub const TOOL: &str = "nsq_stat";

/// Header lines are repeated every this many iterations.
const HEADER_EVERY: u64 = 25;

/// Go's `url.QueryEscape` leaves these alone.
const QUERY: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// `--count` is a 32-bit decimal whose presence matters (unset means forever).
fn check_count(s: &str) -> Result<(), String> {
    match s.parse::<i32>() {
        Ok(_) => Ok(()),
        Err(e) => {
            let what = match e.kind() {
                std::num::IntErrorKind::PosOverflow | std::num::IntErrorKind::NegOverflow => {
                    "value out of range"
                }
                _ => "invalid syntax",
            };
            Err(format!(
                "strconv.ParseInt: parsing {}: {what}",
                nsq_common::goflag::go_quote(s)
            ))
        }
    }
}

const COUNT_KIND: CustomKind = CustomKind {
    is_bool: false,
    zero_text: "",
    check: check_count,
};

pub fn flag_set() -> FlagSet {
    let mut fs = FlagSet::new(TOOL);
    common::http_client_flags(&mut fs, Duration::from_secs(5));
    fs.string("channel", "", "channel to report on")
        .custom(
            "count",
            COUNT_KIND,
            "",
            "number of reports to print, then exit",
        )
        .duration(
            "interval",
            Duration::from_secs(2),
            "time between two polls (and report lines)",
        )
        .string_list(
            "lookupd-http-address",
            "nsqlookupd HTTP address to find the topic's nsqd with (may be given multiple times)",
        )
        .string_list(
            "nsqd-http-address",
            "nsqd HTTP address to poll (may be given multiple times)",
        )
        .string("topic", "", "topic to report on")
        .bool("version", false, "print the version and exit");
    fs
}

/// What the command line asks for, validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    pub topic: String,
    pub channel: String,
    pub interval: Duration,
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    /// Data lines to print before exiting; `None` means forever.
    pub count: Option<u64>,
    pub nsqd_http: Vec<String>,
    pub lookupd_http: Vec<String>,
}

impl Options {
    /// Checks the flags in nsq_stat's order, with its fatal messages (T-060).
    pub fn from_flags(p: &ParsedFlags) -> Result<Options, String> {
        let topic = p.get_str("topic").unwrap_or_default().to_string();
        let channel = p.get_str("channel").unwrap_or_default().to_string();
        if topic.is_empty() || channel.is_empty() {
            return Err("--topic and --channel are required".into());
        }
        let positive = |name: &str| common::positive_duration(p, name);
        let interval = positive("interval")?;
        let connect_timeout = positive("http-client-connect-timeout")?;
        let request_timeout = positive("http-client-request-timeout")?;
        let count = match p.value("count") {
            Some(FlagValue::Custom(text)) if p.is_set("count") => {
                let n: i64 = text.parse().unwrap_or(0);
                if n <= 0 {
                    return Err("--count should be positive".into());
                }
                Some(n as u64)
            }
            _ => None,
        };
        let nsqd_http = common::strings(p, "nsqd-http-address");
        let lookupd_http = common::strings(p, "lookupd-http-address");
        match (nsqd_http.is_empty(), lookupd_http.is_empty()) {
            (true, true) => {
                return Err("--nsqd-http-address or --lookupd-http-address required".into())
            }
            (false, false) => {
                return Err("use --nsqd-http-address or --lookupd-http-address not both".into())
            }
            _ => {}
        }
        for (flag, addrs) in [
            ("nsqd-http-address", &nsqd_http),
            ("lookupd-http-address", &lookupd_http),
        ] {
            if addrs.iter().any(|a| a.starts_with("http")) {
                return Err(format!(
                    "--{flag} error - address should not contain scheme"
                ));
            }
        }
        Ok(Options {
            topic,
            channel,
            interval,
            connect_timeout,
            request_timeout,
            count,
            nsqd_http,
            lookupd_http,
        })
    }
}

/// One channel's counters, summed over every nsqd.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ChannelTotals {
    pub depth: i64,
    pub memory_depth: i64,
    pub backend_depth: i64,
    pub in_flight: i64,
    pub deferred: i64,
    pub requeue: i64,
    pub timeout: i64,
    pub message_count: i64,
    pub client_count: i64,
}

impl ChannelTotals {
    /// Adds one nsqd's channel object from `/stats?format=json`. The memory depth is what the
    /// backend does not hold, as nsqadmin computes it.
    pub fn add(&mut self, channel: &Value) {
        let n = |key: &str| channel[key].as_i64().unwrap_or(0);
        self.depth += n("depth");
        self.backend_depth += n("backend_depth");
        self.memory_depth += n("depth") - n("backend_depth");
        self.in_flight += n("in_flight_count");
        self.deferred += n("deferred_count");
        self.requeue += n("requeue_count");
        self.timeout += n("timeout_count");
        self.message_count += n("message_count");
        self.client_count += n("client_count");
    }
}

/// The two header lines (T-062).
pub fn header() -> String {
    format!(
        "{}+{}+{}\n{:>7} {:>7} | {:>7} {:>7} {:>7} {:>5} {:>5} | {:>7} {:>7} {:>12} {:>7}\n",
        "------rate------",
        "----------------depth----------------",
        "--------------metadata---------------",
        "ingress",
        "egress",
        "total",
        "mem",
        "disk",
        "inflt",
        "def",
        "req",
        "t-o",
        "msgs",
        "clients"
    )
}

/// One data line: rates over the interval since `prev`, then `cur`'s counters (T-062).
pub fn data_line(prev: &ChannelTotals, cur: &ChannelTotals, interval: Duration) -> String {
    let secs = interval.as_secs_f64();
    let received = cur.message_count - prev.message_count;
    let ingress = (received as f64 / secs) as i64;
    let egress = ((received - (cur.depth - prev.depth)) as f64 / secs) as i64;
    format!(
        "{:>7} {:>7} | {:>7} {:>7} {:>7} {:>5} {:>5} | {:>7} {:>7} {:>12} {:>7}\n",
        ingress,
        egress,
        cur.depth,
        cur.memory_depth,
        cur.backend_depth,
        cur.in_flight,
        cur.deferred,
        cur.requeue,
        cur.timeout,
        cur.message_count,
        cur.client_count
    )
}

/// Polls the cluster over HTTP the way nsqadmin's cluster info does.
pub struct Poller {
    client: reqwest::Client,
    opts: Options,
}

impl Poller {
    pub fn new(opts: Options) -> Result<Poller, String> {
        let client = common::http_client(opts.connect_timeout, opts.request_timeout)?;
        Ok(Poller { client, opts })
    }

    /// GETs an NSQ V1 endpoint: non-200 is an error, and a body without the V1 content-type
    /// header is unwrapped from the old `{"data": ...}` envelope.
    async fn get_v1(&self, url: &str) -> Result<Value, String> {
        let resp = self
            .client
            .get(url)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = resp.status();
        let v1 = resp
            .headers()
            .get("X-NSQ-Content-Type")
            .is_some_and(|h| h.as_bytes() == b"nsq; version=1.0");
        let body = resp.bytes().await.map_err(|e| e.to_string())?;
        if status != reqwest::StatusCode::OK {
            return Err(format!(
                "got response {status} {}",
                nsq_common::goflag::go_quote(&String::from_utf8_lossy(&body))
            ));
        }
        let mut v: Value = serde_json::from_slice(&body).map_err(|e| e.to_string())?;
        if !v1 {
            v = v["data"].take();
        }
        Ok(v)
    }

    fn escaped_topic(&self) -> String {
        utf8_percent_encode(&self.opts.topic, QUERY).to_string()
    }

    /// The HTTP addresses of the nsqd producing the topic, through lookupd `/lookup`.
    async fn lookupd_producers(&self) -> Result<Vec<String>, String> {
        let mut producers: Vec<String> = Vec::new();
        let mut errs = Vec::new();
        for addr in &self.opts.lookupd_http {
            let url = format!("http://{addr}/lookup?topic={}", self.escaped_topic());
            match self.get_v1(&url).await {
                Ok(v) => {
                    for p in v["producers"].as_array().into_iter().flatten() {
                        let host = p["broadcast_address"].as_str().unwrap_or_default();
                        let port = p["http_port"].as_i64().unwrap_or(0);
                        let http = join_host_port(host, port);
                        if !producers.contains(&http) {
                            producers.push(http);
                        }
                    }
                }
                Err(e) => errs.push(e),
            }
        }
        finish_query("nsqlookupd", producers, errs, self.opts.lookupd_http.len())
    }

    /// The HTTP addresses of the given nsqd that have the topic (their `/info` broadcast
    /// address and port).
    async fn nsqd_producers(&self) -> Result<Vec<String>, String> {
        let mut producers = Vec::new();
        let mut errs = Vec::new();
        for addr in &self.opts.nsqd_http {
            match self.nsqd_producer(addr).await {
                Ok(Some(p)) => producers.push(p),
                Ok(None) => {}
                Err(e) => errs.push(e),
            }
        }
        finish_query("nsqd", producers, errs, self.opts.nsqd_http.len())
    }

    async fn nsqd_producer(&self, addr: &str) -> Result<Option<String>, String> {
        let stats = self
            .get_v1(&format!("http://{addr}/stats?format=json"))
            .await?;
        let has_topic = stats["topics"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|t| t["topic_name"] == self.opts.topic.as_str());
        if !has_topic {
            return Ok(None);
        }
        let info = self.get_v1(&format!("http://{addr}/info")).await?;
        let host = info["broadcast_address"].as_str().unwrap_or_default();
        if host.is_empty() {
            // An nsqd too old to say: the address it was reached at will do.
            return Ok(Some(addr.to_string()));
        }
        Ok(Some(join_host_port(
            host,
            info["http_port"].as_i64().unwrap_or(0),
        )))
    }

    /// Sums the channel over the producers; `None` when no producer has the channel.
    async fn channel_totals(&self, producers: &[String]) -> Result<Option<ChannelTotals>, String> {
        let mut totals: Option<ChannelTotals> = None;
        let mut errs = Vec::new();
        let channel_q = utf8_percent_encode(&self.opts.channel, QUERY).to_string();
        for addr in producers {
            let url = format!(
                "http://{addr}/stats?format=json&topic={}&channel={channel_q}&include_clients=false",
                self.escaped_topic()
            );
            let stats = match self.get_v1(&url).await {
                Ok(s) => s,
                Err(e) => {
                    errs.push(e);
                    continue;
                }
            };
            let topics = stats["topics"].as_array().into_iter().flatten();
            for t in topics.filter(|t| t["topic_name"] == self.opts.topic.as_str()) {
                let channels = t["channels"].as_array().into_iter().flatten();
                for c in channels.filter(|c| c["channel_name"] == self.opts.channel.as_str()) {
                    totals.get_or_insert_with(ChannelTotals::default).add(c);
                }
            }
        }
        finish_query("nsqd", totals, errs, producers.len())
    }

    /// One poll: find the producers, sum the channel. The error is the fatal message.
    pub async fn poll(&self) -> Result<ChannelTotals, String> {
        let producers = if self.opts.lookupd_http.is_empty() {
            self.nsqd_producers().await
        } else {
            self.lookupd_producers().await
        }
        .map_err(|e| format!("ERROR: failed to get topic producers - {e}"))?;
        let totals = self
            .channel_totals(&producers)
            .await
            .map_err(|e| format!("ERROR: failed to get nsqd stats - {e}"))?;
        totals.ok_or_else(|| {
            format!(
                "ERROR: failed to find channel({}) in stats metadata for topic({})",
                self.opts.channel, self.opts.topic
            )
        })
    }

    /// Polls and prints until `--count` data lines are out. The error is the fatal message.
    pub async fn run(&self, out: &mut impl Write) -> Result<(), String> {
        let mut prev: Option<ChannelTotals> = None;
        let mut i: u64 = 0;
        // Iteration 0 only sets the baseline, so `--count=N` makes N + 1 polls.
        let more = |i: u64| self.opts.count.map_or(true, |c| i <= c);
        while more(i) {
            let cur = self.poll().await?;
            let mut text = String::new();
            if i % HEADER_EVERY == 0 {
                text.push_str(&header());
            }
            if let Some(p) = &prev {
                text.push_str(&data_line(p, &cur, self.opts.interval));
            }
            out.write_all(text.as_bytes())
                .and_then(|()| out.flush())
                .map_err(|e| format!("ERROR: failed to write to stdout - {e}"))?;
            prev = Some(cur);
            i += 1;
            // No wait after the last line: there is nothing left to measure.
            if more(i) {
                tokio::time::sleep(self.opts.interval).await;
            }
        }
        Ok(())
    }
}

/// Go's `net.JoinHostPort`: IPv6 hosts get brackets.
fn join_host_port(host: &str, port: i64) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Cluster-info error rules: all queries failing is `Failed to query any <what>: <errors>`
/// (also when there was nothing to query); some failing is the list of errors.
fn finish_query<T>(what: &str, value: T, errs: Vec<String>, queried: usize) -> Result<T, String> {
    if errs.len() == queried {
        return Err(format!("Failed to query any {what}: {}", errs.join("\n")));
    }
    if !errs.is_empty() {
        return Err(errs.join("\n"));
    }
    Ok(value)
}

/// The nsq_stat program.
pub fn main() {
    common::run_main(TOOL, &flag_set(), Options::from_flags, |opts| async move {
        // SIGHUP ends the report too.
        let stopped = common::stop_signal(true);
        let poller = Poller::new(opts).unwrap_or_else(|e| common::fatal(&e));
        let mut stdout = std::io::stdout();
        tokio::select! {
            result = poller.run(&mut stdout) => {
                if let Err(e) = result {
                    common::fatal(&e);
                }
            }
            _ = stopped => {}
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
    fn header_is_exact() {
        assert_eq!(
            header(),
            "------rate------+----------------depth----------------+--------------metadata---------------\n\
             ingress  egress |   total     mem    disk inflt   def |     req     t-o         msgs clients\n"
        );
    }

    #[test]
    fn data_line_rates_and_columns() {
        let prev = ChannelTotals {
            depth: 10,
            message_count: 100,
            ..Default::default()
        };
        let cur = ChannelTotals {
            depth: 14,
            memory_depth: 4,
            backend_depth: 10,
            in_flight: 2,
            deferred: 1,
            requeue: 3,
            timeout: 5,
            message_count: 120,
            client_count: 1,
        };
        // 20 in over 2s = 10/s; 16 out (20 - 4 more waiting) = 8/s.
        assert_eq!(
            data_line(&prev, &cur, Duration::from_secs(2)),
            "     10       8 |      14       4      10     2     1 |       3       5          120       1\n"
        );
        // Go converts with int64(): toward zero.
        let neg = ChannelTotals {
            depth: 13,
            message_count: 100,
            ..Default::default()
        };
        assert!(data_line(&prev, &neg, Duration::from_secs(2)).starts_with("      0      -1 |"));
    }

    #[test]
    fn totals_add_up_over_nsqds() {
        let mut t = ChannelTotals::default();
        let c = serde_json::json!({"depth": 5, "backend_depth": 2, "in_flight_count": 1,
            "deferred_count": 0, "message_count": 9, "requeue_count": 1, "timeout_count": 2,
            "client_count": 1});
        t.add(&c);
        t.add(&c);
        assert_eq!(
            t,
            ChannelTotals {
                depth: 10,
                memory_depth: 6,
                backend_depth: 4,
                in_flight: 2,
                deferred: 0,
                requeue: 2,
                timeout: 4,
                message_count: 18,
                client_count: 2
            }
        );
    }

    #[test]
    fn validation_order_and_messages() {
        let base = ["--topic=t", "--channel=c"];
        let with = |extra: &[&str]| {
            let mut a = base.to_vec();
            a.extend_from_slice(extra);
            parse(&a)
        };
        assert_eq!(
            parse(&["--topic=t"]).unwrap_err(),
            "--topic and --channel are required"
        );
        assert_eq!(
            with(&["--interval=0s"]).unwrap_err(),
            "--interval should be positive"
        );
        assert_eq!(
            with(&["--http-client-connect-timeout=0"]).unwrap_err(),
            "--http-client-connect-timeout should be positive"
        );
        assert_eq!(
            with(&["--http-client-request-timeout=0s"]).unwrap_err(),
            "--http-client-request-timeout should be positive"
        );
        assert_eq!(
            with(&["--count=0"]).unwrap_err(),
            "--count should be positive"
        );
        assert_eq!(
            with(&[]).unwrap_err(),
            "--nsqd-http-address or --lookupd-http-address required"
        );
        assert_eq!(
            with(&["--nsqd-http-address=a:1", "--lookupd-http-address=b:2"]).unwrap_err(),
            "use --nsqd-http-address or --lookupd-http-address not both"
        );
        assert_eq!(
            with(&["--nsqd-http-address=http://a:1"]).unwrap_err(),
            "--nsqd-http-address error - address should not contain scheme"
        );
        assert_eq!(
            with(&["--lookupd-http-address=https://a:1"]).unwrap_err(),
            "--lookupd-http-address error - address should not contain scheme"
        );
        let o = with(&["--nsqd-http-address=a:1", "--count=3"]).unwrap();
        assert_eq!(o.count, Some(3));
        assert_eq!(with(&["--nsqd-http-address=a:1"]).unwrap().count, None);
    }

    #[test]
    fn count_flag_parses_like_go() {
        let err = flag_set().parse(&["--count=x".to_string()]).unwrap_err();
        assert_eq!(
            err,
            nsq_common::goflag::FlagError::Invalid(
                "invalid value \"x\" for flag -count: strconv.ParseInt: parsing \"x\": invalid syntax"
                    .into()
            )
        );
    }

    #[test]
    fn query_errors_follow_cluster_info() {
        assert_eq!(
            finish_query("nsqd", (), vec![], 0).unwrap_err(),
            "Failed to query any nsqd: "
        );
        assert_eq!(
            finish_query("nsqlookupd", (), vec!["a".into(), "b".into()], 2).unwrap_err(),
            "Failed to query any nsqlookupd: a\nb"
        );
        assert_eq!(
            finish_query("nsqd", (), vec!["a".into()], 2).unwrap_err(),
            "a"
        );
        assert_eq!(join_host_port("::1", 4151), "[::1]:4151");
    }
}
