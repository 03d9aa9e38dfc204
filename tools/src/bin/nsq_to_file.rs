//! nsq_to_file (spec §8.3): archive NSQ topics to files.

fn main() {
    nsq_tools::nsq_to_file::main();
}
