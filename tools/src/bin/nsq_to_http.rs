//! nsq_to_http (spec §8).

fn main() {}
