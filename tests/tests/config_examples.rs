//! The example config files in contrib/: each names every key its daemon reads, and each is
//! loaded by the real daemon (`--config=<file>`, with the harness's port-0 flags winning).

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use nsq_tests::lookupd::{nsqlookupd_bin, Nsqlookupd};
use nsq_tests::{http_get, nsqd_bin, Nsqd};

fn example(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../contrib")
        .join(name)
}

/// The flag names listed by `<bin> -h`.
fn flags(bin: PathBuf) -> Vec<String> {
    let out = Command::new(bin).arg("-h").output().expect("run -h");
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter_map(|l| l.strip_prefix("  -"))
        .map(|l| l.split(' ').next().unwrap_or_default().to_string())
        .collect()
}

/// The config key behind a flag (the reference's option names), or None for the flags that
/// have no key.
fn key_of(flag: &str) -> Option<String> {
    Some(match flag {
        "config" | "verbose" | "version" | "worker-id" => return None,
        "node-id" => "id".to_string(),
        "lookupd-tcp-address" => "nsqlookupd_tcp_addresses".to_string(),
        "auth-http-address" => "auth_http_addresses".to_string(),
        "e2e-processing-latency-percentile" => "e2e_processing_latency_percentiles".to_string(),
        other => other.replace('-', "_"),
    })
}

/// Every key is in the file, set or commented out (`key = ...` or `# key = ...`).
#[track_caller]
fn assert_every_key(file: &str, flags: &[String]) {
    let text = std::fs::read_to_string(example(file)).unwrap();
    let mut missing = Vec::new();
    for key in flags.iter().filter_map(|f| key_of(f)) {
        let present = text.lines().any(|l| {
            let l = l.strip_prefix("# ").unwrap_or(l);
            l.strip_prefix(key.as_str())
                .is_some_and(|rest| rest.starts_with(" = "))
        });
        if !present {
            missing.push(key);
        }
    }
    assert!(missing.is_empty(), "{file} lacks {missing:?}");
}

#[test]
fn nsqd_example_names_every_key() {
    let flags = flags(nsqd_bin());
    assert!(flags.len() >= 57, "{flags:?}");
    assert_every_key("nsqd.cfg.example", &flags);
}

#[test]
fn nsqlookupd_example_names_every_key() {
    let flags = flags(nsqlookupd_bin());
    assert!(flags.len() >= 10, "{flags:?}");
    assert_every_key("nsqlookupd.cfg.example", &flags);
}

#[test]
fn nsqd_loads_its_example() {
    let config = format!("--config={}", example("nsqd.cfg.example").display());
    let nsqd = Nsqd::start_with(&[&config]);
    let get = |opt: &str| {
        let r = http_get(nsqd.http_addr, &format!("/config/{opt}"));
        assert_eq!(r.status, 200, "{opt}: {}", r.text());
        r.text()
    };
    // Values the file sets away from the defaults...
    assert_eq!(get("e2e_processing_latency_percentiles"), "[0.99,0.95,0.5]");
    assert_eq!(get("tls_min_version"), "771");
    // ...values it sets as durations and numbers...
    assert_eq!(get("msg_timeout"), "60000000000");
    assert_eq!(get("sync_timeout"), "2000000000");
    assert_eq!(get("mem_queue_size"), "10000");
    assert_eq!(get("statsd_udp_packet_size"), "508");
    assert_eq!(get("max_bytes_per_file"), "104857600");
    assert_eq!(get("nsqlookupd_tcp_addresses"), "[]");
    // ...and the harness's flags win over the file's addresses and data path.
    assert_eq!(get("data_path"), nsqd.data_dir.path().display().to_string());
    assert_eq!(get("http_address"), "127.0.0.1:0");
}

#[test]
fn nsqlookupd_loads_its_example() {
    let config = format!("--config={}", example("nsqlookupd.cfg.example").display());
    let l = Nsqlookupd::start_with(&[&config]);
    let r = l.get("/ping");
    assert_eq!((r.status, r.text().as_str()), (200, "OK"));
    assert!(l.wait_for_log("[nsqlookupd] ", Duration::from_secs(5)));
    assert!(l
        .logs()
        .iter()
        .all(|line| line.starts_with("[nsqlookupd] ")));
}
