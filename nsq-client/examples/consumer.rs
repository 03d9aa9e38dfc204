//! Consumes a topic until Ctrl-C, then stops gracefully (in-flight messages are finished).
//!
//! ```text
//! cargo run -p nsq-client --example consumer -- [nsqd-tcp-address | http://lookupd] [topic] [channel]
//! ```
//! An address starting with `http://` is treated as an nsqlookupd to poll.

use nsq_client::{Config, Consumer};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:4150".into());
    let topic = args.next().unwrap_or_else(|| "example".into());
    let channel = args.next().unwrap_or_else(|| "example".into());

    let config = Config {
        max_in_flight: 10,
        ..Config::default()
    };
    let consumer = Consumer::new(&topic, &channel, config)?;
    if addr.starts_with("http://") {
        consumer.connect_to_nsqlookupd(&addr).await?;
    } else {
        consumer.connect_to_nsqd(&addr).await?;
    }

    let stopper = consumer.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            stopper.stop();
        }
    });

    // recv() ends once the consumer has stopped and every delivered message is answered.
    while let Some(msg) = consumer.recv().await {
        match std::str::from_utf8(&msg.body) {
            Ok(text) => {
                println!("{text}");
                msg.finish();
            }
            // Not text: give it back with a delay and count it as a failure (backoff).
            Err(_) => msg.requeue(None),
        }
    }
    consumer.stopped().await;
    Ok(())
}
