use super::*;

const P070_EXAMPLE: &str = "{\"max_rdy_count\":2500,\"version\":\"1.3.0\",\"max_msg_timeout\":900000,\"msg_timeout\":60000,\"tls_v1\":false,\"deflate\":false,\"deflate_level\":6,\"max_deflate_level\":6,\"snappy\":false,\"sample_rate\":0,\"auth_required\":false,\"output_buffer_size\":16384,\"output_buffer_timeout\":250,\"topology_region\":\"\",\"topology_zone\":\"\"}";

fn req(json: &str) -> IdentifyRequest {
    parse_identify_body(json.as_bytes()).unwrap()
}

fn neg(json: &str) -> Result<Negotiated, String> {
    negotiate(&req(json), &ServerLimits::default()).map_err(|e| e.frame_data())
}

#[test]
fn p070_example_byte_exact() {
    let limits = ServerLimits::default();
    let n = negotiate(&req("{\"feature_negotiation\":true}"), &limits).unwrap();
    assert!(n.feature_negotiation);
    assert_eq!(response_json(&n, &limits), P070_EXAMPLE);
}

#[test]
fn go_nsq_identify_body() {
    // What go-nsq sends by default (C-001).
    let body = r#"{"client_id":"host","deflate":false,"deflate_level":6,"feature_negotiation":true,"heartbeat_interval":30000,"hostname":"host.local","long_id":"host.local","msg_timeout":0,"output_buffer_size":16384,"output_buffer_timeout":250,"sample_rate":0,"short_id":"host","snappy":false,"tls_v1":false,"user_agent":"go-nsq/1.1.0","topology_region":"","topology_zone":""}"#;
    let r = req(body);
    assert_eq!(r.client_id.as_deref(), Some("host"));
    assert_eq!(r.hostname.as_deref(), Some("host.local"));
    assert_eq!(r.user_agent.as_deref(), Some("go-nsq/1.1.0"));
    assert_eq!(r.heartbeat_interval, 30000);
    let limits = ServerLimits::default();
    let n = negotiate(&r, &limits).unwrap();
    assert_eq!(response_json(&n, &limits), P070_EXAMPLE);
}

#[test]
fn defaults_without_negotiation() {
    let n = neg("{}").unwrap();
    assert_eq!(
        n,
        Negotiated {
            heartbeat_interval_ms: 30_000,
            output_buffer_size: 16_384,
            output_buffer_timeout_ms: 250,
            sample_rate: 0,
            msg_timeout_ms: 60_000,
            feature_negotiation: false,
            tls_v1: false,
            snappy: false,
            deflate: false,
            deflate_level: 6,
        }
    );
    // Without negotiation nothing is upgraded and deflate+snappy is not refused.
    let n = neg(r#"{"tls_v1":true,"snappy":true,"deflate":true}"#).unwrap();
    assert!(!n.snappy && !n.deflate && !n.tls_v1);
}

#[test]
fn heartbeat_rules() {
    assert_eq!(
        neg(r#"{"heartbeat_interval":-1}"#)
            .unwrap()
            .heartbeat_interval_ms,
        -1
    );
    assert_eq!(
        neg(r#"{"heartbeat_interval":0}"#)
            .unwrap()
            .heartbeat_interval_ms,
        30_000
    );
    assert_eq!(
        neg(r#"{"heartbeat_interval":1000}"#)
            .unwrap()
            .heartbeat_interval_ms,
        1000
    );
    assert_eq!(
        neg(r#"{"heartbeat_interval":60000}"#)
            .unwrap()
            .heartbeat_interval_ms,
        60_000
    );
    assert_eq!(
        neg(r#"{"heartbeat_interval":999}"#).unwrap_err(),
        "E_BAD_BODY IDENTIFY heartbeat interval (999) is invalid"
    );
    assert_eq!(
        neg(r#"{"heartbeat_interval":60001}"#).unwrap_err(),
        "E_BAD_BODY IDENTIFY heartbeat interval (60001) is invalid"
    );
    assert_eq!(
        neg(r#"{"heartbeat_interval":-2}"#).unwrap_err(),
        "E_BAD_BODY IDENTIFY heartbeat interval (-2) is invalid"
    );
}

#[test]
fn output_buffer_rules() {
    let n = neg(r#"{"output_buffer_timeout":-1}"#).unwrap();
    assert_eq!(n.output_buffer_timeout_ms, 0);
    let n = neg(r#"{"output_buffer_timeout":25,"output_buffer_size":64}"#).unwrap();
    assert_eq!((n.output_buffer_timeout_ms, n.output_buffer_size), (25, 64));
    let n = neg(r#"{"output_buffer_timeout":30000,"output_buffer_size":65536}"#).unwrap();
    assert_eq!(
        (n.output_buffer_timeout_ms, n.output_buffer_size),
        (30_000, 65_536)
    );
    // Size -1: unbuffered and no flush timer, whatever the timeout said.
    let n = neg(r#"{"output_buffer_timeout":100,"output_buffer_size":-1}"#).unwrap();
    assert_eq!((n.output_buffer_timeout_ms, n.output_buffer_size), (0, 1));
    assert_eq!(
        neg(r#"{"output_buffer_timeout":24}"#).unwrap_err(),
        "E_BAD_BODY IDENTIFY output buffer timeout (24) is invalid"
    );
    assert_eq!(
        neg(r#"{"output_buffer_size":63}"#).unwrap_err(),
        "E_BAD_BODY IDENTIFY output buffer size (63) is invalid"
    );
    assert_eq!(
        neg(r#"{"output_buffer_size":65537}"#).unwrap_err(),
        "E_BAD_BODY IDENTIFY output buffer size (65537) is invalid"
    );
}

#[test]
fn sample_rate_and_msg_timeout_rules() {
    assert_eq!(neg(r#"{"sample_rate":99}"#).unwrap().sample_rate, 99);
    assert_eq!(
        neg(r#"{"sample_rate":100}"#).unwrap_err(),
        "E_BAD_BODY IDENTIFY sample rate (100) is invalid"
    );
    assert_eq!(
        neg(r#"{"sample_rate":-1}"#).unwrap_err(),
        "E_BAD_BODY IDENTIFY sample rate (-1) is invalid"
    );
    assert_eq!(neg(r#"{"msg_timeout":1000}"#).unwrap().msg_timeout_ms, 1000);
    assert_eq!(
        neg(r#"{"msg_timeout":900000}"#).unwrap().msg_timeout_ms,
        900_000
    );
    assert_eq!(
        neg(r#"{"msg_timeout":999}"#).unwrap_err(),
        "E_BAD_BODY IDENTIFY msg timeout (999) is invalid"
    );
    assert_eq!(
        neg(r#"{"msg_timeout":900001}"#).unwrap_err(),
        "E_BAD_BODY IDENTIFY msg timeout (900001) is invalid"
    );
}

#[test]
fn checks_run_in_reference_order() {
    let all_bad = r#"{"heartbeat_interval":5,"output_buffer_timeout":5,"output_buffer_size":5,"sample_rate":500,"msg_timeout":5}"#;
    assert!(neg(all_bad).unwrap_err().contains("heartbeat interval (5)"));
    let r =
        r#"{"output_buffer_timeout":5,"output_buffer_size":5,"sample_rate":500,"msg_timeout":5}"#;
    assert!(neg(r).unwrap_err().contains("output buffer timeout (5)"));
    let r =
        r#"{"output_buffer_timeout":-1,"output_buffer_size":5,"sample_rate":500,"msg_timeout":5}"#;
    assert!(neg(r).unwrap_err().contains("output buffer size (5)"));
    let r = r#"{"sample_rate":500,"msg_timeout":5}"#;
    assert!(neg(r).unwrap_err().contains("sample rate (500)"));
}

#[test]
fn compression_negotiation() {
    let n = neg(r#"{"feature_negotiation":true,"deflate":true,"deflate_level":3}"#).unwrap();
    assert!(n.deflate && !n.snappy);
    assert_eq!(n.deflate_level, 3);
    // Clamped to max_deflate_level, no error.
    let n = neg(r#"{"feature_negotiation":true,"deflate":true,"deflate_level":9}"#).unwrap();
    assert_eq!(n.deflate_level, 6);
    let n = neg(r#"{"feature_negotiation":true,"deflate":true,"deflate_level":0}"#).unwrap();
    assert_eq!(n.deflate_level, 6);
    // The level is ignored when deflate is not on.
    let n = neg(r#"{"feature_negotiation":true,"deflate_level":2}"#).unwrap();
    assert_eq!(n.deflate_level, 6);
    assert!(
        neg(r#"{"feature_negotiation":true,"snappy":true}"#)
            .unwrap()
            .snappy
    );
    assert_eq!(
        neg(r#"{"feature_negotiation":true,"snappy":true,"deflate":true}"#).unwrap_err(),
        "E_IDENTIFY_FAILED cannot enable both deflate and snappy compression"
    );
    // Allowed only if the server enables it.
    let limits = ServerLimits {
        snappy_enabled: false,
        max_deflate_level: 4,
        ..ServerLimits::default()
    };
    let r = req(r#"{"feature_negotiation":true,"snappy":true,"deflate":true}"#);
    let n = negotiate(&r, &limits).unwrap();
    assert!(n.deflate && !n.snappy);
    assert_eq!(n.deflate_level, 4);
    let json = response_json(&n, &limits);
    assert!(json
        .contains("\"deflate\":true,\"deflate_level\":4,\"max_deflate_level\":4,\"snappy\":false"));
}

#[test]
fn tls_needs_a_certificate() {
    let r = req(r#"{"feature_negotiation":true,"tls_v1":true}"#);
    assert!(!negotiate(&r, &ServerLimits::default()).unwrap().tls_v1);
    let limits = ServerLimits {
        tls_available: true,
        ..ServerLimits::default()
    };
    assert!(negotiate(&r, &limits).unwrap().tls_v1);
}

#[test]
fn response_reflects_client_and_server_values() {
    let limits = ServerLimits {
        auth_enabled: true,
        max_rdy_count: 100,
        topology_region: "eu".into(),
        topology_zone: "eu-1<a>".into(),
        ..ServerLimits::default()
    };
    let r = req(
        r#"{"feature_negotiation":true,"msg_timeout":5000,"sample_rate":10,"output_buffer_size":-1}"#,
    );
    let n = negotiate(&r, &limits).unwrap();
    assert_eq!(
            response_json(&n, &limits),
            "{\"max_rdy_count\":100,\"version\":\"1.3.0\",\"max_msg_timeout\":900000,\"msg_timeout\":5000,\"tls_v1\":false,\"deflate\":false,\"deflate_level\":6,\"max_deflate_level\":6,\"snappy\":false,\"sample_rate\":10,\"auth_required\":true,\"output_buffer_size\":1,\"output_buffer_timeout\":0,\"topology_region\":\"eu\",\"topology_zone\":\"eu-1\\u003ca\\u003e\"}"
        );
}

#[test]
fn repeated_identify_keeps_earlier_values_for_zero() {
    let limits = ServerLimits::default();
    let first = negotiate(
            &req(r#"{"heartbeat_interval":5000,"msg_timeout":2000,"output_buffer_timeout":100,"output_buffer_size":128,"sample_rate":5}"#),
            &limits,
        )
        .unwrap();
    let second = negotiate_from(&req("{}"), &limits, &first).unwrap();
    assert_eq!(second.heartbeat_interval_ms, 5000);
    assert_eq!(second.msg_timeout_ms, 2000);
    assert_eq!(second.output_buffer_timeout_ms, 100);
    assert_eq!(second.output_buffer_size, 128);
    // The sample rate is always replaced.
    assert_eq!(second.sample_rate, 0);
}

#[test]
fn decoding_follows_go() {
    // Unknown and deprecated keys are ignored, including nested values.
    let r = req(r#"{"short_id":"a","long_id":"b","extra":{"x":[1,2,{"y":null}]},"client_id":"c"}"#);
    assert_eq!(r.client_id.as_deref(), Some("c"));
    // Keys match case-insensitively; the last duplicate wins.
    let r = req(r#"{"Client_ID":"x","HEARTBEAT_INTERVAL":2000,"client_id":"y"}"#);
    assert_eq!(r.client_id.as_deref(), Some("y"));
    assert_eq!(r.heartbeat_interval, 2000);
    // null leaves the zero value.
    let r =
        req(r#"{"client_id":null,"heartbeat_interval":null,"tls_v1":null,"topology_zone":null}"#);
    assert_eq!(r, IdentifyRequest::default());
    // Top-level null is accepted.
    assert_eq!(req(" null "), IdentifyRequest::default());
    // Invalid UTF-8 inside a string becomes U+FFFD.
    let r = parse_identify_body(b"{\"hostname\":\"h\xffx\"}").unwrap();
    assert_eq!(r.hostname.as_deref(), Some("h\u{fffd}x"));
    // Negative values are fine for decoding (validated later).
    assert_eq!(req(r#"{"msg_timeout":-5}"#).msg_timeout, -5);
}

#[test]
fn decode_failures() {
    let bad: &[&[u8]] = &[
        b"",
        b"   ",
        b"{",
        b"[]",
        b"\"str\"",
        b"42",
        b"{} x",
        b"{\"heartbeat_interval\":\"1000\"}",
        b"{\"heartbeat_interval\":1000.0}",
        b"{\"heartbeat_interval\":1e3}",
        b"{\"heartbeat_interval\":true}",
        b"{\"heartbeat_interval\":99999999999999999999}",
        b"{\"sample_rate\":2147483648}",
        b"{\"feature_negotiation\":1}",
        b"{\"feature_negotiation\":\"true\"}",
        b"{\"client_id\":5}",
        b"{\"topology_zone\":[]}",
        b"{'a':1}",
    ];
    for body in bad {
        let err = parse_identify_body(body).unwrap_err();
        assert_eq!(
            err.frame_data(),
            "E_BAD_BODY IDENTIFY failed to decode JSON body",
            "{:?}",
            String::from_utf8_lossy(body)
        );
    }
}

#[test]
fn fuzz_identify_never_panics() {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let alphabet = br#"{}[]":,0123456789-.etruflnas_ ibdphgvmoz\"#;
    for _ in 0..20_000 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let len = (state % 48) as usize;
        let mut body = Vec::with_capacity(len);
        let mut s = state;
        for _ in 0..len {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            body.push(alphabet[(s >> 33) as usize % alphabet.len()]);
        }
        if let Ok(r) = parse_identify_body(&body) {
            let _ = negotiate(&r, &ServerLimits::default());
        }
    }
}
