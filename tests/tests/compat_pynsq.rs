//! Compatibility with the official Python client, pynsq 0.9.1 (on tornado 6.0.4).
//!
//! Each test starts an nsqd and runs one scenario of `tests/compat/python/pynsq_compat.py`,
//! which does the detailed checking (exact bodies and counts, attempts, /stats counters) and
//! prints `PASS <scenario>` or `FAIL <scenario>: <why>`.
//!
//! The client comes from `$NSQ_PYTHON`, else `<workspace>/.venv/bin/python` (installed by
//! `scripts/setup-compat.sh`). When it is missing the tests fail, unless `NSQ_SKIP_COMPAT=1`.

use nsq_tests::compat::{CompatClient, Needs};
use nsq_tests::Nsqd;

/// Starts nsqd with `nsqd_args` and runs pynsq scenario `scenario` against it.
fn scenario(scenario: &str, nsqd_args: &[&str]) {
    let Some(client) = CompatClient::Pynsq.locate(Needs::Plain) else {
        return;
    };
    let nsqd = Nsqd::start_with(nsqd_args);
    client.expect_pass(scenario, &nsqd, &[]);
}

/// Writer.pub, Writer.mpub and Writer.dpub publish thousands of messages; a Reader with
/// max_in_flight 200 FINs every one exactly once with attempts 1.
#[test]
fn pynsq_publish_and_consume_everything() {
    scenario("pubsub", &[]);
}

/// Each message REQ'd once (delay 0) comes back with attempts == 2.
#[test]
fn pynsq_requeue_redelivers_with_attempts_two() {
    scenario("requeue", &[]);
}

/// nsqd's --msg-timeout=1s: un-FINed messages time out and are redelivered (attempts 2).
#[test]
fn pynsq_unfinished_message_times_out_server_default() {
    scenario("timeout", &["--msg-timeout=1s"]);
}

/// The client's IDENTIFY msg_timeout (1000 ms) overrides the 60 s server default.
#[test]
fn pynsq_unfinished_message_times_out_client_msg_timeout() {
    scenario("timeout-client", &[]);
}

/// With heartbeat_interval 1000 ms an idle consumer stays connected for 3 s and still works.
#[test]
fn pynsq_idle_consumer_survives_on_heartbeats() {
    scenario("heartbeat", &[]);
}
