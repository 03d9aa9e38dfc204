//! nsq_to_file (spec §8).

fn main() {}
