//! The nsqlookupd binary: parse flags and config, set up logging, run until SIGINT/SIGTERM.

use nsq_common::cli::Outcome;
use nsqlookupd::options::parse_args;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let opts = match parse_args(&args) {
        Ok(Outcome::Run(opts)) => opts,
        Ok(Outcome::Exit(code)) => std::process::exit(code),
        Err(msg) => {
            nsq_common::logging::init("[nsqlookupd] ", nsq_common::logging::LogLevel::Info);
            nsq_common::fatal!("{}", msg);
            std::process::exit(1);
        }
    };
    nsq_common::logging::init(&opts.log_prefix, opts.log_level);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            nsq_common::fatal!("failed to start the runtime - {}", e);
            std::process::exit(1);
        }
    };
    if let Err(msg) = runtime.block_on(nsqlookupd::server::run(opts)) {
        nsq_common::fatal!("{}", msg);
        std::process::exit(1);
    }
}
