//! nsq_stat (spec §8).

fn main() {}
