//! The nsqd binary: parse flags and config, set up logging, run until SIGINT/SIGTERM.

use nsq_common::cli::{exit_fatal_at_start, run_daemon};
use nsqd::options::{parse_args, ParseOutcome};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let opts = match parse_args(&args) {
        Ok(ParseOutcome::Run(opts)) => *opts,
        Ok(ParseOutcome::Exit(code)) => std::process::exit(code),
        Err(msg) => exit_fatal_at_start("[nsqd] ", &msg),
    };
    let (prefix, level) = (opts.log_prefix.clone(), opts.log_level);
    run_daemon(&prefix, level, nsqd::server::run(opts));
}
