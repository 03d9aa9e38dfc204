//! nsq_tail (spec §8).

fn main() {}
