use nsq_common::config::{ConfigFile, Resolver};

use super::flags::flag_set;
use super::resolve::{plan, resolve, Step};
use super::*;

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn run(list: &[&str]) -> Options {
    match plan(&args(list)).unwrap() {
        Step::Run(o) => *o,
        other => panic!("expected options, got {other:?}"),
    }
}

fn run_with_config(list: &[&str], toml: &str) -> Result<Options, String> {
    let defaults = Options::default();
    let fs = flag_set(&defaults);
    let parsed = fs.parse(&args(list)).unwrap();
    let cfg = ConfigFile::parse_str("nsqd.cfg", toml).map_err(|e| e.to_string())?;
    resolve(defaults, &Resolver::new(&fs, &parsed, Some(&cfg))).map_err(|e| e.to_string())
}

fn printed(list: &[&str]) -> (bool, String, i32) {
    match plan(&args(list)).unwrap() {
        Step::Print {
            to_stdout,
            text,
            code,
        } => (to_stdout, text, code),
        other => panic!("expected output, got {other:?}"),
    }
}

fn cfg_name(flag: &str) -> String {
    match flag {
        "node-id" => "id".to_string(),
        "lookupd-tcp-address" => "nsqlookupd_tcp_addresses".to_string(),
        "auth-http-address" => "auth_http_addresses".to_string(),
        "e2e-processing-latency-percentile" => "e2e_processing_latency_percentiles".to_string(),
        other => other.replace('-', "_"),
    }
}

#[test]
fn defaults_match_the_flag_table() {
    let o = run(&[]);
    let d = Options::default();
    assert_eq!(o, d);
    assert_eq!(o.tcp_address, "0.0.0.0:4150");
    assert_eq!(o.http_address, "0.0.0.0:4151");
    assert_eq!(o.https_address, "0.0.0.0:4152");
    assert_eq!(o.max_body_size, 5_242_880);
    assert_eq!(o.max_bytes_per_file, 104_857_600);
    assert_eq!(o.max_msg_size, 1_048_576);
    assert_eq!(o.max_output_buffer_size, 65_536);
    assert_eq!(o.max_output_buffer_timeout, Duration::from_secs(30));
    assert_eq!(o.tls_min_version, 769);
    assert_eq!(o.log_prefix, "[nsqd] ");
    assert_eq!(o.broadcast_address, os_hostname());
    assert_eq!(o.node_id, node_id_for_hostname(&os_hostname()));
    assert_eq!(o.queue_scan_interval, Duration::from_millis(100));
    assert_eq!(o.queue_scan_refresh_interval, Duration::from_secs(5));
    assert_eq!(o.queue_scan_dirty_percent, 0.25);
    assert_eq!(o.client_timeout, Duration::from_secs(60));
}

#[test]
fn fifty_seven_flags_fifty_three_options() {
    let fs = flag_set(&Options::default());
    let names: Vec<&str> = fs.names().collect();
    // NSQ's 57 plus the one beyond NSQ, which has no /config entry.
    assert_eq!(names.len(), 58);
    let o = Options::default();
    let mut readable = 0;
    for flag in names {
        let value = o.config_get(&cfg_name(flag));
        if [
            "config",
            "verbose",
            "version",
            "worker-id",
            "metrics-per-client",
        ]
        .contains(&flag)
        {
            assert!(value.is_none(), "{flag}");
        } else {
            assert!(value.is_some(), "{flag} has no /config entry");
            readable += 1;
        }
    }
    assert_eq!(readable, 53);
    for internal in [
        "client_timeout",
        "queue_scan_interval",
        "queue_scan_refresh_interval",
        "queue_scan_dirty_percent",
        "node_id",
        "config",
        "verbose",
        "nope",
    ] {
        assert_eq!(o.config_get(internal), None, "{internal}");
    }
}

#[test]
fn go_flag_syntax_variants() {
    let o = run(&[
        "-tcp-address=127.0.0.1:0",
        "--http-address",
        "127.0.0.1:1",
        "--mem-queue-size=5",
        "-msg-timeout",
        "90s",
        "-deflate=false",
        "-snappy=0",
        "-statsd-mem-stats=F",
        "-statsd-exclude-ephemeral",
        "-node-id=0x10",
        "-log-level",
        "DEBUG",
        "-tls-min-version=TLS1.2",
        "-verbose",
        "-worker-id",
    ]);
    assert_eq!(o.tcp_address, "127.0.0.1:0");
    assert_eq!(o.http_address, "127.0.0.1:1");
    assert_eq!(o.mem_queue_size, 5);
    assert_eq!(o.msg_timeout, Duration::from_secs(90));
    assert!(!o.deflate && !o.snappy && !o.statsd_mem_stats);
    assert!(o.statsd_exclude_ephemeral);
    assert_eq!(o.node_id, 16);
    assert_eq!(o.log_level, LogLevel::Debug);
    assert_eq!(o.tls_min_version, 771);
}

#[test]
fn tls_required_forms() {
    assert_eq!(run(&["-tls-required"]).tls_required, TlsRequired::Yes);
    assert_eq!(
        run(&["-tls-required=tcp-https"]).tls_required,
        TlsRequired::TcpHttps
    );
    assert_eq!(run(&["-tls-required=false"]).tls_required, TlsRequired::No);
    assert_eq!(run(&["-tls-required=T"]).tls_required, TlsRequired::Yes);
    let (_, text, code) = printed(&["-tls-required=maybe"]);
    assert_eq!(code, 2);
    assert!(text.starts_with(
            "invalid boolean value \"maybe\" for -tls-required: expected true, false or tcp-https, got \"maybe\"\nUsage of nsqd:\n"
        ), "{text}");
    // `-tls-required tcp-https` is a bare bool followed by a positional argument.
    assert_eq!(
        run(&["-tls-required", "tcp-https"]).tls_required,
        TlsRequired::Yes
    );
}

#[test]
fn repeatable_flags() {
    let o = run(&[
        "-lookupd-tcp-address=a:4160",
        "--lookupd-tcp-address",
        "b:4160",
        "-auth-http-address=http://auth/x",
        "-enable-experiment=topology-aware-consumption",
    ]);
    assert_eq!(o.nsqlookupd_tcp_addresses, vec!["a:4160", "b:4160"]);
    assert_eq!(o.auth_http_addresses, vec!["http://auth/x"]);
    assert!(o.experiment_enabled("topology-aware-consumption"));
    assert!(!o.experiment_enabled("other"));
}

#[test]
fn e2e_percentiles_split_sort_and_fail() {
    let o = run(&[
        "-e2e-processing-latency-percentile=0.5,1.0",
        "-e2e-processing-latency-percentile",
        "0.99",
    ]);
    assert_eq!(o.e2e_processing_latency_percentiles, vec![1.0, 0.99, 0.5]);
    assert_eq!(
        o.config_get("e2e_processing_latency_percentiles").unwrap(),
        "[1,0.99,0.5]"
    );
    let (to_stdout, text, code) = printed(&["-e2e-processing-latency-percentile=0.5,oops"]);
    assert!(!to_stdout);
    assert_eq!(code, 1);
    assert!(text.ends_with(" Could not parse: oops\n"), "{text}");
    assert!(!text.contains("Usage"));
}

#[test]
fn help_unknown_bad_value_and_version() {
    for h in ["-h", "-help", "--help"] {
        let (to_stdout, text, code) = printed(&[h]);
        assert!(!to_stdout);
        assert_eq!(code, 0);
        assert_eq!(text, usage());
    }
    let (_, text, code) = printed(&["-nope"]);
    assert_eq!(code, 2);
    assert_eq!(
        text,
        format!("flag provided but not defined: -nope\n{}", usage())
    );
    let (_, text, code) = printed(&["-max-rdy-count=lots"]);
    assert_eq!(code, 2);
    assert!(text.starts_with("invalid value \"lots\" for flag -max-rdy-count: parse error\n"));
    let (_, text, code) = printed(&["-log-level=loud"]);
    assert_eq!(code, 2);
    assert!(text.starts_with(
            "invalid value \"loud\" for flag -log-level: invalid log level 'loud' (debug, info, warn, error, fatal)\n"
        ));
    let (_, text, code) = printed(&["-tls-min-version=ssl3.0"]);
    assert_eq!(code, 2);
    assert!(text.starts_with(
        "invalid value \"ssl3.0\" for flag -tls-min-version: unknown TLS version \"ssl3.0\"\n"
    ));
    let (to_stdout, text, code) = printed(&["-version"]);
    assert!(to_stdout);
    assert_eq!(code, 0);
    assert!(
        text.starts_with("nsqd v1.3.0 (built w/") && text.ends_with(")\n"),
        "{text}"
    );
}

#[test]
fn usage_text_shape() {
    let text = usage();
    assert!(text.starts_with("Usage of nsqd:\n  -auth-http-address value\n    \t"));
    let host = os_hostname();
    let node_id = node_id_for_hostname(&host);
    for want in [
            "  -deflate\n    \tlet clients negotiate deflate compression (default true)\n",
            "  -tcp-address string\n    \t<addr>:<port> or unix socket path for TCP clients (default \"0.0.0.0:4150\")\n",
            "  -log-prefix string\n    \ttext put in front of every log line (default \"[nsqd] \")\n",
            "  -msg-timeout duration\n",
            "(default 1m0s)\n",
            "(default 10m0s)\n",
            "(default 25ms)\n",
            "(default INFO)\n",
            "(default tls1.0)\n",
            "  -tls-required\n    \trequire TLS from clients",
            "  -max-rdy-count int\n",
            "  -e2e-processing-latency-percentile value\n",
            "  -statsd-exclude-ephemeral\n    \tleave ephemeral topics and channels out of statsd metrics\n",
            "  -version\n    \tprint the version and exit\n",
        ] {
            assert!(text.contains(want), "missing {want:?}");
        }
    if node_id != 0 {
        assert!(text.contains(&format!("(default {node_id})\n")));
    }
    if !host.is_empty() {
        assert!(text.contains(&format!("(default {})\n", go_quote(&host))));
    }
    assert!(!text.contains("-tls-required value"));
    assert!(!text.contains("(default false)"));
    assert_eq!(text.matches("\n  -").count(), 58);
}

#[test]
fn config_file_precedence_and_keys() {
    let toml = r#"
            tcp_address = "10.0.0.1:4150"
            http_address = "10.0.0.1:4151"
            id = 7
            nsqlookupd_tcp_addresses = ["l1:4160", "l2:4160"]
            auth_http_addresses = "a1:1,a2:2"
            e2e_processing_latency_percentiles = [0.5, 0.99]
            enable_experiment = ["topology-aware-consumption"]
            msg_timeout = 30000
            statsd_interval = "10s"
            mem_queue_size = "100"
            deflate = 0
            snappy = 1
            tls_required = "tcp-https"
            tls_min_version = "tls1.3"
            log_level = "error"
            unknown_key = "ignored"
        "#;
    let o = run_with_config(&["-http-address=127.0.0.1:9"], toml).unwrap();
    assert_eq!(o.tcp_address, "10.0.0.1:4150");
    assert_eq!(o.http_address, "127.0.0.1:9", "command line beats the file");
    assert_eq!(o.node_id, 7);
    assert_eq!(o.nsqlookupd_tcp_addresses, vec!["l1:4160", "l2:4160"]);
    assert_eq!(o.auth_http_addresses, vec!["a1:1", "a2:2"]);
    assert_eq!(o.e2e_processing_latency_percentiles, vec![0.5, 0.99]);
    assert_eq!(o.enable_experiment, vec!["topology-aware-consumption"]);
    assert_eq!(o.msg_timeout, Duration::from_secs(30));
    assert_eq!(o.statsd_interval, Duration::from_secs(10));
    assert_eq!(o.mem_queue_size, 100);
    assert!(o.deflate, "QRK-13: integer 0 means true");
    assert!(!o.snappy, "QRK-13: non-zero integer means false");
    assert_eq!(o.tls_required, TlsRequired::TcpHttps);
    assert_eq!(o.tls_min_version, 772);
    assert_eq!(o.log_level, LogLevel::Error);
    assert_eq!(o.sync_every, 2500, "absent keys keep the default");

    let o = run_with_config(
        &["-node-id=3", "-log-level=warn"],
        "id = 7\nlog_level='debug'",
    )
    .unwrap();
    assert_eq!((o.node_id, o.log_level), (3, LogLevel::Warn));
    let o = run_with_config(&[], "tls_required = true\ntls_min_version = ''").unwrap();
    assert_eq!(o.tls_required, TlsRequired::Yes);
    assert_eq!(
        o.tls_min_version, 769,
        "empty tls_min_version keeps the default"
    );
}

#[test]
fn config_file_errors() {
    assert_eq!(
        run_with_config(&[], "tls_required = 'sometimes'").unwrap_err(),
        "failed parsing tls_required sometimes"
    );
    assert_eq!(
        run_with_config(&[], "tls_min_version = 'ssl3.0'").unwrap_err(),
        "failed parsing tls_min_version ssl3.0"
    );
    assert_eq!(
        run_with_config(&[], "log_level = 'loud'").unwrap_err(),
        "failed parsing log_level loud"
    );
    assert_eq!(
        run_with_config(&[], "msg_timeout = '60'").unwrap_err(),
        "failed parsing msg_timeout 60"
    );
    assert_eq!(
        run_with_config(&[], "max_rdy_count = true").unwrap_err(),
        "failed parsing max_rdy_count true"
    );
    assert!(run_with_config(&[], "x = ")
        .unwrap_err()
        .starts_with("failed to load config file nsqd.cfg - "));
    let err = plan(&args(&["-config=/nonexistent/nsqd.cfg"])).unwrap_err();
    assert!(
        err.starts_with("failed to load config file /nonexistent/nsqd.cfg - "),
        "{err}"
    );
}

#[test]
fn config_file_from_disk() {
    let path = std::env::temp_dir().join(format!("nsqd-options-{}.cfg", std::process::id()));
    std::fs::write(&path, "max_rdy_count = 42\n").unwrap();
    let o = run(&[&format!("--config={}", path.display())]);
    let _ = std::fs::remove_file(&path);
    assert_eq!(o.max_rdy_count, 42);
}

#[test]
fn validation_order_and_texts() {
    let mut o = Options {
        max_deflate_level: 0,
        node_id: 1024,
        ..Options::default()
    };
    assert_eq!(
        o.validate().unwrap_err(),
        "--max-deflate-level must be [1,9]"
    );
    o.max_deflate_level = 9;
    assert_eq!(o.validate().unwrap_err(), "--node-id must be [0,1024)");
    o.node_id = -1;
    assert_eq!(o.validate().unwrap_err(), "--node-id must be [0,1024)");
    o.node_id = 1023;
    o.tls_required = TlsRequired::TcpHttps;
    o.auth_http_request_method = "put".into();
    assert_eq!(
        o.validate().unwrap_err(),
        "cannot require TLS client connections without TLS key and cert"
    );
    o.tls_required = TlsRequired::No;
    assert_eq!(
        o.validate().unwrap_err(),
        "--auth-http-request-method must be post or get"
    );
    o.auth_http_request_method = "post".into();
    o.e2e_processing_latency_percentiles = vec![0.5, 1.5, 0.0];
    assert_eq!(
        o.validate().unwrap_err(),
        "invalid E2E processing latency percentile: 1.5"
    );
    o.e2e_processing_latency_percentiles = vec![0.5, 0.0];
    assert_eq!(
        o.validate().unwrap_err(),
        "invalid E2E processing latency percentile: 0"
    );
    o.e2e_processing_latency_percentiles = vec![0.5, 1.0, 0.99];
    o.validate().unwrap();
    assert_eq!(o.e2e_processing_latency_percentiles, vec![1.0, 0.99, 0.5]);
}

#[test]
fn client_auth_policy_forces_tls_required() {
    let mut o = Options {
        tls_client_auth_policy: "require".into(),
        ..Options::default()
    };
    assert_eq!(
        o.validate().unwrap_err(),
        "cannot require TLS client connections without TLS key and cert"
    );
    assert_eq!(o.tls_required, TlsRequired::Yes);
    let mut o = Options {
        tls_client_auth_policy: "require-verify".into(),
        tls_required: TlsRequired::TcpHttps,
        tls_cert: "c.pem".into(),
        tls_key: "k.pem".into(),
        ..Options::default()
    };
    o.validate().unwrap();
    assert_eq!(o.tls_required, TlsRequired::TcpHttps, "only No is upgraded");
}

#[test]
fn config_get_encodings() {
    let mut o = Options {
        broadcast_address: "127.0.0.1".into(),
        node_id: 42,
        ..Options::default()
    };
    o.statsd_prefix = o.statsd_prefix_expanded(4151);
    assert_eq!(
        o.config_get("statsd_prefix").unwrap(),
        "nsq.127_0_0_1_4151."
    );
    assert_eq!(o.config_get("tcp_address").unwrap(), "0.0.0.0:4150");
    assert_eq!(o.config_get("log_prefix").unwrap(), "[nsqd] ");
    assert_eq!(o.config_get("data_path").unwrap(), "");
    assert_eq!(o.config_get("id").unwrap(), "42");
    assert_eq!(o.config_get("max_msg_size").unwrap(), "1048576");
    assert_eq!(o.config_get("msg_timeout").unwrap(), "60000000000");
    assert_eq!(
        o.config_get("min_output_buffer_timeout").unwrap(),
        "25000000"
    );
    assert_eq!(o.config_get("log_level").unwrap(), "2");
    assert_eq!(o.config_get("tls_min_version").unwrap(), "769");
    assert_eq!(o.config_get("tls_required").unwrap(), "0");
    assert_eq!(o.config_get("deflate").unwrap(), "true");
    assert_eq!(o.config_get("statsd_exclude_ephemeral").unwrap(), "false");
    assert_eq!(o.config_get("nsqlookupd_tcp_addresses").unwrap(), "[]");
    assert_eq!(o.config_get("auth_http_addresses").unwrap(), "[]");
    assert_eq!(o.config_get("enable_experiment").unwrap(), "[]");
    assert_eq!(
        o.config_get("e2e_processing_latency_percentiles").unwrap(),
        "[]"
    );
    o.nsqlookupd_tcp_addresses = vec!["127.0.0.1:4160".into(), "a<b>&\"".into()];
    assert_eq!(
        o.config_get("nsqlookupd_tcp_addresses").unwrap(),
        r#"["127.0.0.1:4160","a\u003cb\u003e\u0026\""]"#
    );
    o.e2e_processing_latency_percentiles = vec![1.0, 0.99, 0.5];
    assert_eq!(
        o.config_get("e2e_processing_latency_percentiles").unwrap(),
        "[1,0.99,0.5]"
    );
    o.log_level = LogLevel::Fatal;
    o.tls_required = TlsRequired::TcpHttps;
    o.tls_min_version = 772;
    assert_eq!(o.config_get("log_level").unwrap(), "5");
    assert_eq!(o.config_get("tls_required").unwrap(), "1");
    assert_eq!(o.config_get("tls_min_version").unwrap(), "772");
}

#[test]
fn statsd_prefix_expansion() {
    let o = Options {
        broadcast_address: "::1".into(),
        ..Options::default()
    };
    assert_eq!(o.statsd_prefix_expanded(4151), "nsq.[__1]_4151.");
    let o = Options {
        broadcast_address: "host.example".into(),
        statsd_prefix: "a.%s.b.%s.".into(),
        ..Options::default()
    };
    assert_eq!(
        o.statsd_prefix_expanded(80),
        "a.host_example_80.b.host_example_80."
    );
    let o = Options {
        statsd_prefix: String::new(),
        ..Options::default()
    };
    assert_eq!(o.statsd_prefix_expanded(80), "");
}

#[test]
fn config_put_rules() {
    let mut o = Options::default();
    assert_eq!(
        o.config_put("nsqlookupd_tcp_addresses", br#"["a:4160","b:4160"]"#),
        Ok(r#"["a:4160","b:4160"]"#.to_string())
    );
    assert_eq!(o.nsqlookupd_tcp_addresses, vec!["a:4160", "b:4160"]);
    assert_eq!(
        o.config_put("nsqlookupd_tcp_addresses", b"not json"),
        Err(ConfigPutError::InvalidValue)
    );
    assert_eq!(
        o.config_put("nsqlookupd_tcp_addresses", br#"["a", 1]"#),
        Err(ConfigPutError::InvalidValue)
    );
    assert_eq!(
        o.nsqlookupd_tcp_addresses,
        vec!["a:4160", "b:4160"],
        "unchanged on error"
    );
    assert_eq!(
        o.config_put("nsqlookupd_tcp_addresses", b"[]"),
        Ok("[]".to_string())
    );
    assert_eq!(o.config_put("log_level", b"debug"), Ok("1".to_string()));
    assert_eq!(o.log_level, LogLevel::Debug);
    assert_eq!(o.config_put("log_level", b"WARN"), Ok("3".to_string()));
    assert_eq!(
        o.config_put("log_level", b"loud"),
        Err(ConfigPutError::InvalidValue)
    );
    assert_eq!(
        o.config_put("log_level", b"info\n"),
        Err(ConfigPutError::InvalidValue)
    );
    assert_eq!(
        o.config_put("msg_timeout", b"1s"),
        Err(ConfigPutError::InvalidOption)
    );
    assert_eq!(
        o.config_put("nope", b"1"),
        Err(ConfigPutError::InvalidOption)
    );
    assert_eq!(
        o.config_put("log_level", b""),
        Err(ConfigPutError::BodySize)
    );
    o.max_msg_size = 4;
    assert_eq!(o.config_put("log_level", b"warn"), Ok("3".to_string()));
    assert_eq!(
        o.config_put("log_level", b"debug"),
        Err(ConfigPutError::BodySize)
    );
    assert_eq!(ConfigPutError::BodySize.status(), 413);
    assert_eq!(ConfigPutError::InvalidValue.status(), 400);
    assert_eq!(ConfigPutError::InvalidOption.to_string(), "INVALID_OPTION");
}

#[test]
fn node_id_from_hostname() {
    // Expected values computed independently: crc32(md5(h).digest()) % 1024.
    assert_eq!(node_id_for_hostname("localhost"), 16);
    assert_eq!(node_id_for_hostname("nsq-test-host"), 806);
    assert_eq!(node_id_for_hostname(""), 812);
    let id = node_id_for_hostname(&os_hostname());
    assert!((0..1024).contains(&id));
    assert_eq!(id, node_id_for_hostname(&os_hostname()));
}
