//! nsq_to_file (spec §8.3): archives topics to files, FINing each message only once it is on
//! disk.
//!
//! - [`options`]: flags and their validation.
//! - [`topic_discovery`]: which topics run, signals.
//! - [`file_logger`]: one topic's files (write, sync, rotate, close, move).
//! - [`file_name`]: name templates and the strftime subset.
//! - [`app_log`]: the tool's own prefixed, levelled log lines.

pub mod app_log;
pub mod file_logger;
pub mod file_name;
pub mod options;
pub mod topic_discovery;

use std::sync::Arc;

use nsq_client::Config;

use crate::common;
use app_log::AppLog;
use options::{Command, Options};

const TOOL: &str = "nsq_to_file";

/// The program: parse and check the flags, then archive until SIGINT/SIGTERM.
pub fn main() {
    let set = options::flag_set();
    let parsed = common::parse_flags(&set);
    let opts = match options::resolve(&parsed) {
        Ok(Command::Run(opts)) => opts,
        Ok(Command::Version) => {
            println!("{}", common::version_line(TOOL));
            return;
        }
        Err(msg) => common::fatal(&msg),
    };
    let log = Arc::new(AppLog::new(&opts.log_prefix, opts.log_level));
    let config = consumer_config(&opts);
    common::block_on(topic_discovery::run(Arc::from(opts), log, config));
}

/// The go-nsq settings: each `--consumer-opt` applied on its own and silently dropped when
/// bad (QRK-40), then the tool's user agent and `--max-in-flight`.
pub fn consumer_config(opts: &Options) -> Config {
    let mut config = Config::default();
    for opt in &opts.consumer_opts {
        let mut trial = config.clone();
        if common::apply_opts(&mut trial, std::slice::from_ref(opt)).is_ok() {
            config = trial;
        }
    }
    config.user_agent = common::user_agent(TOOL);
    config.max_in_flight = opts.max_in_flight;
    config
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_consumer_opts_are_dropped_and_good_ones_kept() {
        let parsed = common::parse_test_args(
            &options::flag_set(),
            &[
                "--nsqd-tcp-address=a:1",
                "--topic=t",
                "--consumer-opt=no_such_option,1",
                "--consumer-opt=max_attempts,99999999",
                "--consumer-opt=snappy",
                "--consumer-opt=max-attempts,7",
                "--max-in-flight=3",
            ],
        );
        let Ok(Command::Run(opts)) = options::resolve(&parsed) else {
            panic!("not accepted");
        };
        let c = consumer_config(&opts);
        assert!(c.snappy);
        assert_eq!(c.max_attempts, 7);
        assert_eq!(c.max_in_flight, 3);
        assert_eq!(c.user_agent, "nsq_to_file/1.3.0 go-nsq/1.1.0");
    }
}
