//! Compatibility of the stream upgrades (P-080, C-002) with the Node client, nsqjs 0.13.0
//! (with its optional snappystream dependency).
//!
//! Each test starts an nsqd with a certificate made at test time and runs one upgrade scenario
//! of `tests/compat/node/nsqjs_compat.js`: a Writer and a Reader that both negotiate the layers
//! move a few thousand messages, and `/stats` must show the layers on both connections.
//! Skipped like the other compat tests when nsqjs is missing and `NSQ_SKIP_COMPAT=1`.

use nsq_tests::compat::{CompatClient, Needs};
use nsq_tests::Nsqd;

mod tls_support;

/// Starts a TLS-capable nsqd and runs nsqjs scenario `scenario` against it.
fn scenario(scenario: &str) {
    let Some(client) = CompatClient::Nsqjs.locate(Needs::Snappy) else {
        return;
    };
    let certs = tls_support::certs();
    let args = certs.args();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let nsqd = Nsqd::start_with(&args);
    let ca = vec!["--ca".to_string(), certs.ca_file.display().to_string()];
    client.expect_pass(scenario, &nsqd, &ca);
}

#[test]
fn nsqjs_snappy() {
    scenario("snappy");
}

#[test]
fn nsqjs_deflate() {
    scenario("deflate");
}

/// TLS, verifying nsqd's certificate against the test CA.
#[test]
fn nsqjs_tls() {
    scenario("tls");
}

#[test]
fn nsqjs_tls_snappy() {
    scenario("tls-snappy");
}

#[test]
fn nsqjs_tls_deflate() {
    scenario("tls-deflate");
}
