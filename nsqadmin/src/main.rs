//! The nsqadmin binary: parse flags and config, set up logging, serve until SIGINT/SIGTERM.

use nsq_common::cli::{exit_fatal_at_start, run_daemon, Outcome};
use nsqadmin::options::parse_args;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let opts = match parse_args(&args) {
        Ok(Outcome::Run(opts)) => opts,
        Ok(Outcome::Exit(code)) => std::process::exit(code),
        Err(msg) => exit_fatal_at_start("[nsqadmin] ", &msg),
    };
    let (prefix, level) = (opts.log_prefix.clone(), opts.log_level);
    run_daemon(&prefix, level, nsqadmin::server::run(opts));
}
