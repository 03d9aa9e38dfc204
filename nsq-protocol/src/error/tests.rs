use super::*;

const ALL: [ErrorCode; 19] = [
    ErrorCode::BadProtocol,
    ErrorCode::Invalid,
    ErrorCode::BadBody,
    ErrorCode::BadTopic,
    ErrorCode::BadChannel,
    ErrorCode::BadMessage,
    ErrorCode::PubFailed,
    ErrorCode::MpubFailed,
    ErrorCode::DpubFailed,
    ErrorCode::FinFailed,
    ErrorCode::ReqFailed,
    ErrorCode::TouchFailed,
    ErrorCode::SubFailed,
    ErrorCode::IdentifyFailed,
    ErrorCode::AuthFailed,
    ErrorCode::AuthDisabled,
    ErrorCode::Unauthorized,
    ErrorCode::AuthFirst,
    ErrorCode::AuthError,
];

#[test]
fn nineteen_codes_three_non_fatal() {
    let names: Vec<&str> = ALL.iter().map(|c| c.as_str()).collect();
    assert_eq!(
        names,
        [
            "E_BAD_PROTOCOL",
            "E_INVALID",
            "E_BAD_BODY",
            "E_BAD_TOPIC",
            "E_BAD_CHANNEL",
            "E_BAD_MESSAGE",
            "E_PUB_FAILED",
            "E_MPUB_FAILED",
            "E_DPUB_FAILED",
            "E_FIN_FAILED",
            "E_REQ_FAILED",
            "E_TOUCH_FAILED",
            "E_SUB_FAILED",
            "E_IDENTIFY_FAILED",
            "E_AUTH_FAILED",
            "E_AUTH_DISABLED",
            "E_UNAUTHORIZED",
            "E_AUTH_FIRST",
            "E_AUTH_ERROR",
        ]
    );
    let non_fatal: Vec<&str> = ALL
        .iter()
        .filter(|c| !c.is_fatal())
        .map(|c| c.as_str())
        .collect();
    assert_eq!(
        non_fatal,
        ["E_FIN_FAILED", "E_REQ_FAILED", "E_TOUCH_FAILED"]
    );
}

#[test]
fn display_is_frame_data() {
    let e = ProtocolError::new(ErrorCode::Invalid, "invalid message ID");
    assert_eq!(e.to_string(), "E_INVALID invalid message ID");
    assert_eq!(e.frame_data(), "E_INVALID invalid message ID");
    assert_eq!(e.frame_data_len(), e.frame_data().len());
    assert!(e.is_fatal());
    assert_eq!(bad_protocol().frame_data(), "E_BAD_PROTOCOL");
    assert_eq!(bad_protocol().frame_data_len(), 14);
}

fn text(e: ProtocolError) -> String {
    e.frame_data()
}

#[test]
fn common_texts() {
    assert_eq!(
        text(invalid_command(b"FOO")),
        "E_INVALID invalid command FOO"
    );
    assert_eq!(text(invalid_command(b"")), "E_INVALID invalid command ");
    assert_eq!(
        text(invalid_command(b"X\xff")),
        "E_INVALID invalid command X\u{fffd}"
    );
    assert_eq!(
        text(tls_required(b"NOP")),
        "E_INVALID cannot NOP in current state (TLS required)"
    );
    assert_eq!(
        text(tls_required(b"")),
        "E_INVALID cannot  in current state (TLS required)"
    );
    assert_eq!(text(invalid_message_id()), "E_INVALID invalid message ID");
    assert_eq!(
        text(cannot_in_state("CLS")),
        "E_INVALID cannot CLS in current state"
    );
    assert_eq!(
        text(insufficient_parameters("SUB")),
        "E_INVALID SUB insufficient number of parameters"
    );
    assert_eq!(
        text(insufficient_params("TOUCH")),
        "E_INVALID TOUCH insufficient number of params"
    );
}

#[test]
fn identify_and_auth_texts() {
    assert_eq!(
        text(body_size_read_failed("IDENTIFY")),
        "E_BAD_BODY IDENTIFY failed to read body size"
    );
    assert_eq!(
        text(body_too_big("AUTH", 5242881, 5242880)),
        "E_BAD_BODY AUTH body too big 5242881 > 5242880"
    );
    assert_eq!(
        text(invalid_body_size("IDENTIFY", -1)),
        "E_BAD_BODY IDENTIFY invalid body size -1"
    );
    assert_eq!(
        text(body_read_failed("AUTH")),
        "E_BAD_BODY AUTH failed to read body"
    );
    assert_eq!(
        text(identify_decode_failed()),
        "E_BAD_BODY IDENTIFY failed to decode JSON body"
    );
    assert_eq!(
        text(identify_heartbeat_invalid(999)),
        "E_BAD_BODY IDENTIFY heartbeat interval (999) is invalid"
    );
    assert_eq!(
        text(identify_output_buffer_timeout_invalid(1)),
        "E_BAD_BODY IDENTIFY output buffer timeout (1) is invalid"
    );
    assert_eq!(
        text(identify_output_buffer_size_invalid(63)),
        "E_BAD_BODY IDENTIFY output buffer size (63) is invalid"
    );
    assert_eq!(
        text(identify_sample_rate_invalid(100)),
        "E_BAD_BODY IDENTIFY sample rate (100) is invalid"
    );
    assert_eq!(
        text(identify_msg_timeout_invalid(999)),
        "E_BAD_BODY IDENTIFY msg timeout (999) is invalid"
    );
    assert_eq!(
        text(identify_both_compressions()),
        "E_IDENTIFY_FAILED cannot enable both deflate and snappy compression"
    );
    assert_eq!(
        text(identify_failed("tls: bad record")),
        "E_IDENTIFY_FAILED IDENTIFY failed tls: bad record"
    );
    assert_eq!(
        text(auth_invalid_parameters()),
        "E_INVALID AUTH invalid number of parameters"
    );
    assert_eq!(text(auth_already_set()), "E_INVALID AUTH already set");
    assert_eq!(text(auth_disabled()), "E_AUTH_DISABLED AUTH disabled");
    assert_eq!(text(auth_failed()), "E_AUTH_FAILED AUTH failed");
    assert_eq!(
        text(auth_no_authorizations()),
        "E_UNAUTHORIZED AUTH no authorizations found"
    );
    assert_eq!(text(auth_error("boom")), "E_AUTH_ERROR AUTH error boom");
    assert_eq!(
        text(auth_first("DPUB")),
        "E_AUTH_FIRST AUTH required before DPUB"
    );
    assert_eq!(
        text(unauthorized("PUB", b"other", b"")),
        "E_UNAUTHORIZED AUTH failed for PUB on \"other\" \"\""
    );
}

#[test]
fn sub_rdy_fin_texts() {
    assert_eq!(
        text(sub_heartbeats_disabled()),
        "E_INVALID cannot SUB with heartbeats disabled"
    );
    assert_eq!(
        text(bad_topic("SUB", b"a b")),
        "E_BAD_TOPIC SUB topic name \"a b\" is not valid"
    );
    assert_eq!(
        text(bad_topic("PUB", b"")),
        "E_BAD_TOPIC PUB topic name \"\" is not valid"
    );
    // QRK-02: replicated doubling.
    assert_eq!(
        text(bad_topic("MPUB", b"x!")),
        "E_BAD_TOPIC E_BAD_TOPIC MPUB topic name \"x!\" is not valid"
    );
    assert_eq!(
        text(bad_channel("SUB", b"c\n")),
        "E_BAD_CHANNEL SUB channel name \"c\\n\" is not valid"
    );
    assert_eq!(
        text(sub_failed(consumers_limit_reason("t", "c", 2))),
        "E_SUB_FAILED SUB failed consumers for t:c exceeds limit of 2"
    );
    assert_eq!(
        text(sub_failed("exiting")),
        "E_SUB_FAILED SUB failed exiting"
    );
    assert_eq!(
        text(sub_failed_deleted()),
        "E_SUB_FAILED SUB failed to deleted topic/channel"
    );
    assert_eq!(
        text(rdy_parse_failed(b"1x")),
        "E_INVALID RDY could not parse count 1x"
    );
    assert_eq!(
        text(rdy_out_of_range(2501, 2500)),
        "E_INVALID RDY count 2501 out of range 0-2500"
    );
    assert_eq!(
        text(req_parse_failed(b"-5")),
        "E_INVALID REQ could not parse timeout -5"
    );
    let id = b"0123456789abcdef";
    let e = fin_failed(id, REASON_NOT_IN_FLIGHT);
    assert!(!e.is_fatal());
    assert_eq!(
        text(e),
        "E_FIN_FAILED FIN 0123456789abcdef failed ID not in flight"
    );
    assert_eq!(
        text(req_failed(id, REASON_ALREADY_DEFERRED)),
        "E_REQ_FAILED REQ 0123456789abcdef failed ID already deferred"
    );
    assert_eq!(
        text(touch_failed(id, REASON_NOT_OWNER)),
        "E_TOUCH_FAILED TOUCH 0123456789abcdef failed client does not own message"
    );
    assert_eq!(
        text(req_failed(id, REASON_EXITING)),
        "E_REQ_FAILED REQ 0123456789abcdef failed exiting"
    );
}

#[test]
fn publish_texts() {
    assert_eq!(
        text(message_size_read_failed("PUB")),
        "E_BAD_MESSAGE PUB failed to read message body size"
    );
    assert_eq!(
        text(invalid_message_size("DPUB", 0)),
        "E_BAD_MESSAGE DPUB invalid message body size 0"
    );
    assert_eq!(
        text(message_too_big("PUB", 1048577, 1048576)),
        "E_BAD_MESSAGE PUB message too big 1048577 > 1048576"
    );
    assert_eq!(
        text(message_body_read_failed("MPUB")),
        "E_BAD_MESSAGE MPUB failed to read message body"
    );
    assert_eq!(
        text(mpub_count_read_failed()),
        "E_BAD_BODY MPUB failed to read message count"
    );
    assert_eq!(
        text(mpub_invalid_count(0)),
        "E_BAD_BODY MPUB invalid message count 0"
    );
    assert_eq!(
        text(mpub_message_size_read_failed(3)),
        "E_BAD_MESSAGE MPUB failed to read message(3) body size"
    );
    assert_eq!(
        text(mpub_invalid_message_size(0, -4)),
        "E_BAD_MESSAGE MPUB invalid message(0) body size -4"
    );
    assert_eq!(
        text(pub_failed("exiting")),
        "E_PUB_FAILED PUB failed exiting"
    );
    assert_eq!(
        text(mpub_failed("exiting")),
        "E_MPUB_FAILED MPUB failed exiting"
    );
    assert_eq!(
        text(dpub_failed("exiting")),
        "E_DPUB_FAILED DPUB failed exiting"
    );
    assert_eq!(
        text(dpub_parse_failed(b"1.5")),
        "E_INVALID DPUB could not parse timeout 1.5"
    );
    assert_eq!(
        text(dpub_timeout_out_of_range(99999999, 3600000)),
        "E_INVALID DPUB timeout 99999999 out of range 0-3600000"
    );
}
