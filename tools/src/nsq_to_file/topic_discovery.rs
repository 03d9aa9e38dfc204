//! Which topics are archived (T-037) and the signals (T-036): the `--topic` list, or every
//! topic nsqlookupd knows that matches `--topic-pattern`, re-read every `--topic-refresh`.
//! Each topic gets its own consumer and [`FileLogger`] task.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use nsq_client::{Config, Consumer};
use regex::Regex;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::app_log::AppLog;
use super::file_logger::{Control, FileLogger};
use super::file_name::{self, NameSettings};
use super::options::Options;
use crate::common::{self, Received, Signals};

struct Running {
    control: mpsc::UnboundedSender<Control>,
    task: JoinHandle<()>,
}

/// Which topic names `--topic-pattern` lets through.
enum TopicFilter {
    All,
    Matching(Regex),
    /// An invalid pattern matches nothing, as in the reference.
    Nothing,
}

impl TopicFilter {
    fn new(pattern: &str) -> TopicFilter {
        if pattern.is_empty() {
            return TopicFilter::All;
        }
        match Regex::new(pattern) {
            Ok(re) => TopicFilter::Matching(re),
            Err(_) => TopicFilter::Nothing,
        }
    }

    fn allows(&self, topic: &str) -> bool {
        match self {
            TopicFilter::All => true,
            TopicFilter::Matching(re) => re.is_match(topic),
            TopicFilter::Nothing => false,
        }
    }
}

struct Discoverer {
    opts: Arc<Options>,
    log: Arc<AppLog>,
    config: Config,
    filter: TopicFilter,
    hostname: String,
    loggers: HashMap<String, Running>,
}

impl Discoverer {
    /// Starts a logger for every topic not seen before that the pattern allows.
    async fn update_topics(&mut self, topics: &[String]) {
        for topic in topics {
            if self.loggers.contains_key(topic) {
                continue;
            }
            if !self.filter.allows(topic) {
                self.log.debug(format_args!(
                    "skipping topic {topic} (doesn't match pattern {})",
                    self.opts.topic_pattern
                ));
                continue;
            }
            match self.start_logger(topic).await {
                Ok(running) => {
                    self.loggers.insert(topic.clone(), running);
                }
                Err(e) => self.log.error(format_args!(
                    "couldn't create logger for new topic {topic}: {e}"
                )),
            }
        }
    }

    async fn start_logger(&self, topic: &str) -> Result<Running, String> {
        let settings = NameSettings {
            filename_format: &self.opts.filename_format,
            host_identifier: &self.opts.host_identifier,
            hostname: &self.hostname,
            pid: std::process::id(),
            gzip: self.opts.gzip,
            rev_required: self.opts.rev_required(),
        };
        let template = file_name::topic_template(&settings, topic).map_err(|e| e.to_string())?;
        let consumer = Consumer::new(topic, &self.opts.channel, self.config.clone())
            .map_err(|e| e.to_string())?;
        if let Err(e) = common::connect_consumer(
            &consumer,
            &self.opts.nsqd_tcp_addrs,
            &self.opts.lookupd_http_addrs,
        )
        .await
        {
            consumer.stop();
            return Err(e);
        }
        let (control, rx) = mpsc::unbounded_channel();
        let logger = FileLogger::new(topic, template, self.opts.clone(), self.log.clone());
        let task = tokio::spawn(logger.run(consumer, rx));
        Ok(Running { control, task })
    }

    fn tell_all(&self, ctl: Control) {
        for running in self.loggers.values() {
            let _ = running.control.send(ctl);
        }
    }
}

/// Runs until SIGINT or SIGTERM, then stops every logger and waits for them to finish.
pub async fn run(opts: Arc<Options>, log: Arc<AppLog>, config: Config) {
    // Handlers first, so a signal during start-up is not the default (fatal) action.
    let Ok(mut signals) = Signals::install(true) else {
        common::fatal("unable to install signal handlers");
    };
    let http = match common::http_client(opts.http_connect_timeout, opts.http_request_timeout) {
        Ok(c) => c,
        Err(e) => common::fatal(&e),
    };
    let mut d = Discoverer {
        filter: TopicFilter::new(&opts.topic_pattern),
        hostname: nsq_common::host::os_hostname(),
        opts: opts.clone(),
        log: log.clone(),
        config,
        loggers: HashMap::new(),
    };
    d.update_topics(&opts.topics).await;

    // A fixed --topic list is never refreshed; a zero refresh never ticks (Go's time.Tick).
    let refresh = opts.topic_refresh;
    let polling = opts.topics.is_empty() && !refresh.is_zero();
    let period = if polling {
        refresh
    } else {
        std::time::Duration::from_secs(3600)
    };
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticker.tick(), if polling => {
                match lookupd_topics(&http, &opts.lookupd_http_addrs).await {
                    Ok(topics) => d.update_topics(&topics).await,
                    Err(e) => log.error(format_args!("could not retrieve topic list: {e}")),
                }
            }
            received = signals.recv() => match received {
                Received::Hangup => d.tell_all(Control::Hup),
                Received::Stop => break,
            },
        }
    }
    d.tell_all(Control::Term);
    for (_, running) in d.loggers.drain() {
        let _ = running.task.await;
    }
}

/// The union of every lookupd's `/topics`, sorted. Any failing lookupd makes the whole answer
/// an error, so a partial list never looks like the full one.
async fn lookupd_topics(http: &reqwest::Client, addrs: &[String]) -> Result<Vec<String>, String> {
    let mut topics = BTreeSet::new();
    let mut errors = Vec::new();
    for addr in addrs {
        match lookupd_topics_one(http, addr).await {
            Ok(list) => topics.extend(list),
            Err(e) => errors.push(e),
        }
    }
    if errors.len() == addrs.len() && !addrs.is_empty() {
        return Err(format!(
            "failed to query any nsqlookupd: {}",
            errors.join("; ")
        ));
    }
    if !errors.is_empty() {
        return Err(errors.join("; "));
    }
    Ok(topics.into_iter().collect())
}

async fn lookupd_topics_one(http: &reqwest::Client, addr: &str) -> Result<Vec<String>, String> {
    let base = if addr.starts_with("http://") || addr.starts_with("https://") {
        addr.trim_end_matches('/').to_string()
    } else {
        format!("http://{addr}")
    };
    let url = format!("{base}/topics");
    let resp = http.get(&url).send().await.map_err(|e| e.to_string())?;
    let status = resp.status();
    let body: serde_json::Value = resp.json().await.map_err(|e| e.to_string())?;
    if !status.is_success() {
        return Err(format!("GET {url} returned {status}"));
    }
    // V1 answers `{"topics": [...]}`; older lookupds wrap it in `data`.
    let list = body
        .get("topics")
        .or_else(|| body.get("data").and_then(|d| d.get("topics")))
        .and_then(|t| t.as_array())
        .ok_or_else(|| format!("GET {url}: no topics in the answer"))?;
    Ok(list
        .iter()
        .filter_map(|t| t.as_str().map(str::to_string))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pattern_is_an_unanchored_regexp() {
        assert!(TopicFilter::new("").allows("anything"));
        let f = TopicFilter::new("^match");
        assert!(f.allows("match_a"));
        assert!(!f.allows("other_b"));
        assert!(TopicFilter::new("b").allows("abc"));
        assert!(!TopicFilter::new("(").allows("("));
    }
}
