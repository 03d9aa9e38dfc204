//! Compatibility of the stream upgrades (P-080, C-002) with the official Python client, pynsq
//! 0.9.1 (tornado 6.0.4, python-snappy for snappy).
//!
//! Each test starts an nsqd with a certificate made at test time and runs one upgrade scenario
//! of `tests/compat/python/pynsq_compat.py`: a Writer and a Reader that both negotiate the
//! layers move a few thousand messages, and `/stats` must show the layers on both connections.
//! Skipped like the other compat tests when pynsq is missing and `NSQ_SKIP_COMPAT=1`.

use nsq_tests::compat::{CompatClient, Needs};
use nsq_tests::Nsqd;

mod tls_support;

/// Starts a TLS-capable nsqd and runs pynsq scenario `scenario` against it.
fn scenario(scenario: &str) {
    let Some(client) = CompatClient::Pynsq.locate(Needs::Snappy) else {
        return;
    };
    let certs = tls_support::certs();
    let args = certs.args();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let nsqd = Nsqd::start_with(&args);
    let ca = vec!["--ca".to_string(), certs.ca_file.display().to_string()];
    client.expect_pass(scenario, &nsqd, &ca);
}

/// snappy alone (pynsq starts a new snappy stream for every write it sends).
#[test]
fn pynsq_snappy() {
    scenario("snappy");
}

/// deflate alone, level 6.
#[test]
fn pynsq_deflate() {
    scenario("deflate");
}

/// TLS 1.2 (pynsq pins it), verifying nsqd's certificate against the test CA.
#[test]
fn pynsq_tls() {
    scenario("tls");
}

/// TLS, then snappy on top of it.
#[test]
fn pynsq_tls_snappy() {
    scenario("tls-snappy");
}

/// TLS, then deflate on top of it.
#[test]
fn pynsq_tls_deflate() {
    scenario("tls-deflate");
}
