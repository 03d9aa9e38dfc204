//! to_nsq (spec §8): see the library module.

fn main() {
    nsq_tools::to_nsq::main();
}
