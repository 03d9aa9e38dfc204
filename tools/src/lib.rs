//! The command-line tools' shared pieces (spec §8.0) and one module per tool.

pub mod common;
pub mod host_pool;
pub mod nsq_stat;
pub mod nsq_tail;
pub mod nsq_to_file;
pub mod nsq_to_http;
pub mod nsq_to_nsq;
pub mod timer_metrics;
pub mod to_nsq;
