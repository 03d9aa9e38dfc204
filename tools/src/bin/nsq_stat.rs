//! nsq_stat (spec §8): see the library module.

fn main() {
    nsq_tools::nsq_stat::main();
}
