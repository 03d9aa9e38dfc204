//! nsq_tail (spec §8): see the library module.

fn main() {
    nsq_tools::nsq_tail::main();
}
