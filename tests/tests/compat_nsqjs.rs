//! Compatibility with the Node client, nsqjs 0.13.0.
//!
//! Each test starts an nsqd and runs one scenario of `tests/compat/node/nsqjs_compat.js`, which
//! does the detailed checking (exact bodies and counts, attempts, /stats counters) and prints
//! `PASS <scenario>` or `FAIL <scenario>: <why>`.
//!
//! Node comes from `$NSQ_NODE`, else `node`; nsqjs from `tests/compat/node/node_modules`
//! (installed by `scripts/setup-compat.sh`). When either is missing the tests fail, unless
//! `NSQ_SKIP_COMPAT=1`.

use nsq_tests::compat::{CompatClient, Needs};
use nsq_tests::Nsqd;

/// Starts nsqd with `nsqd_args` and runs nsqjs scenario `scenario` against it.
fn scenario(scenario: &str, nsqd_args: &[&str]) {
    let Some(client) = CompatClient::Nsqjs.locate(Needs::Plain) else {
        return;
    };
    let nsqd = Nsqd::start_with(nsqd_args);
    client.expect_pass(scenario, &nsqd, &[]);
}

/// Writer.publish with single messages (PUB) and arrays (MPUB), Writer.deferPublish (DPUB);
/// a Reader with maxInFlight 200 finishes every message exactly once. Topic and channel are
/// created over HTTP first, as nsqjs users do.
#[test]
fn nsqjs_publish_and_consume_everything() {
    scenario("pubsub", &[]);
}

/// message.requeue(200 ms, no backoff): each message comes back, no sooner, with attempts 2.
#[test]
fn nsqjs_requeue_with_delay_redelivers() {
    scenario("requeue", &[]);
}

/// With --msg-timeout=1s a message touched every 300 ms is held 2.5 s without timing out.
#[test]
fn nsqjs_touch_extends_the_timeout() {
    scenario("touch", &["--msg-timeout=1s"]);
}
