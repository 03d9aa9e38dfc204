//! nsq_to_http: deliver a topic's messages as HTTP requests (spec §8.4).

fn main() {
    nsq_tools::nsq_to_http::main();
}
