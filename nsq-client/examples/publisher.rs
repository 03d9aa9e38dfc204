//! Publishes a few messages to one nsqd.
//!
//! ```text
//! cargo run -p nsq-client --example publisher -- [nsqd-tcp-address] [topic]
//! ```

use std::time::Duration;

use nsq_client::{Config, Producer};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:4150".into());
    let topic = args.next().unwrap_or_else(|| "example".into());

    let producer = Producer::new(addr, Config::default())?;
    producer.publish(&topic, "hello").await?;
    producer
        .multi_publish(&topic, &["one", "two", "three"])
        .await?;
    producer
        .deferred_publish(&topic, Duration::from_secs(1), "a second later")
        .await?;
    // nsqd's refusals come back with their NSQ error code.
    if let Err(e) = producer.publish("not a valid/topic", "x").await {
        eprintln!("refused as expected: {e} (code {:?})", e.nsq_code());
    }
    producer.stop().await;
    println!("published 5 messages to {topic}");
    Ok(())
}
