//! to_nsq (spec §8).

fn main() {}
