//! The example config files in contrib/: each names every key its daemon reads, and each is
//! loaded by the real daemon (`--config=<file>`, with the harness's port-0 flags winning).

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use nsq_tests::lookupd::{nsqlookupd_bin, Nsqlookupd};
use nsq_tests::nsqadmin::Nsqadmin;
use nsq_tests::{bin_path, http_get, nsqd_bin, Nsqd};

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
        "lookupd-http-address" => "nsqlookupd_http_addresses".to_string(),
        "nsqd-http-address" => "nsqd_http_addresses".to_string(),
        "admin-user" => "admin_users".to_string(),
        "auth-http-address" => "auth_http_addresses".to_string(),
        "e2e-processing-latency-percentile" => "e2e_processing_latency_percentiles".to_string(),
        other => other.replace('-', "_"),
    })
}

/// The keys a file sets or shows commented out (`key = ...` or `# key = ...`; prose lines
/// start with `##`).
fn file_keys(text: &str) -> Vec<&str> {
    text.lines()
        .filter_map(|l| {
            let l = l.strip_prefix("# ").unwrap_or(l);
            let (key, _) = l.split_once(" = ")?;
            let is_key = !key.is_empty()
                && key
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
            is_key.then_some(key)
        })
        .collect()
}

/// Every key of the daemon is in the file, set or commented out, and every key in the file
/// is one the daemon reads (so a misspelt key cannot hide in an example).
#[track_caller]
fn assert_every_key(file: &str, flags: &[String]) {
    let text = std::fs::read_to_string(example(file)).unwrap();
    let in_file = file_keys(&text);
    let known: Vec<String> = flags.iter().filter_map(|f| key_of(f)).collect();
    let missing: Vec<&String> = known
        .iter()
        .filter(|k| !in_file.contains(&k.as_str()))
        .collect();
    assert!(missing.is_empty(), "{file} lacks {missing:?}");
    let unknown: Vec<&&str> = in_file
        .iter()
        .filter(|k| !known.iter().any(|known| known == *k))
        .collect();
    assert!(unknown.is_empty(), "{file} has unknown keys {unknown:?}");
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
fn nsqadmin_example_names_every_key() {
    let flags = flags(bin_path("nsqadmin"));
    assert_eq!(flags.len(), 26, "{flags:?}");
    assert_every_key("nsqadmin.cfg.example", &flags);
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

/// `GET /config/<opt>` of a running nsqadmin.
fn admin_config(admin: &Nsqadmin, opt: &str) -> String {
    let r = admin.get(&format!("/config/{opt}"));
    assert_eq!(r.status, 200, "{opt}: {}", r.text());
    r.text()
}

#[test]
fn nsqadmin_loads_its_example() {
    let lookupd = Nsqlookupd::start();
    assert_eq!(lookupd.post("/topic/create?topic=from_example").status, 200);
    let config = format!("--config={}", example("nsqadmin.cfg.example").display());
    let lookupd_flag = format!("--lookupd-http-address={}", lookupd.http_addr);
    let admin = Nsqadmin::start(&[&config, &lookupd_flag]);
    let get = |opt: &str| admin_config(&admin, opt);
    // The file's values...
    assert_eq!(get("base_path"), "/");
    assert_eq!(get("allow_config_from_cidr"), "127.0.0.1/8");
    assert_eq!(get("admin_users"), "[]");
    assert_eq!(get("acl_http_header"), "X-Forwarded-User");
    assert_eq!(get("http_client_connect_timeout"), "2000000000");
    assert_eq!(get("http_client_request_timeout"), "5000000000");
    assert_eq!(get("http_client_tls_insecure_skip_verify"), "false");
    assert_eq!(get("proxy_graphite"), "false");
    assert_eq!(get("statsd_prefix"), "nsq.%s");
    assert_eq!(get("statsd_counter_format"), "stats.counters.%s.count");
    assert_eq!(get("statsd_gauge_format"), "stats.gauges.%s");
    assert_eq!(get("statsd_interval"), "60000000000");
    assert_eq!(get("log_level"), "2");
    assert_eq!(get("log_prefix"), "[nsqadmin] ");
    assert_eq!(get("nsqd_http_addresses"), "[]");
    // ...while the harness's flags win over its addresses...
    assert_eq!(get("http_address"), "127.0.0.1:0");
    assert_eq!(
        get("nsqlookupd_http_addresses"),
        format!("[\"{}\"]", lookupd.http_addr)
    );
    // ...and nsqadmin answers from the real nsqlookupd.
    let r = admin.get("/api/topics");
    assert_eq!(
        (r.status, r.text().as_str()),
        (200, r#"{"topics":["from_example"],"message":""}"#)
    );
}

/// Without a lookupd or nsqd address nsqadmin refuses to start (A-001), so starting with
/// the file alone shows that the file's lookupd list was read.
#[test]
fn nsqadmin_example_alone_points_at_a_local_lookupd() {
    let config = format!("--config={}", example("nsqadmin.cfg.example").display());
    let admin = Nsqadmin::start(&[&config]);
    assert_eq!(
        admin_config(&admin, "nsqlookupd_http_addresses"),
        r#"["127.0.0.1:4161"]"#
    );
}
