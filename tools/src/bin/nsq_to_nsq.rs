//! nsq_to_nsq: copy topics from one set of nsqd to another (spec §8.5).

fn main() {
    nsq_tools::nsq_to_nsq::main();
}
