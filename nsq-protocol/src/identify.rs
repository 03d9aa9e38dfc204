//! IDENTIFY: the request body, the negotiation of per-client settings, and the
//! feature-negotiation response (§1.7, P-050, P-070, P-072).

use std::fmt::{self, Write};

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;

use crate::error::{self, ProtocolError};
use crate::json::push_json_string;
use crate::version::VERSION;

/// Output buffer size when the client leaves it at 0 (not a flag in the reference).
pub const DEFAULT_OUTPUT_BUFFER_SIZE: i64 = 16 * 1024;
/// Smallest accepted explicit output buffer size.
pub const MIN_OUTPUT_BUFFER_SIZE: i64 = 64;
/// Smallest accepted explicit heartbeat interval.
pub const MIN_HEARTBEAT_INTERVAL_MS: i64 = 1000;
/// Smallest accepted explicit msg timeout.
pub const MIN_MSG_TIMEOUT_MS: i64 = 1000;
/// Highest accepted sample rate.
pub const MAX_SAMPLE_RATE: i32 = 99;
/// Deflate level used when the client asks for none (then clamped to the server maximum).
pub const DEFAULT_DEFLATE_LEVEL: i64 = 6;
/// ClientTimeout, fixed in the reference (P-090).
pub const CLIENT_TIMEOUT_MS: i64 = 60_000;

/// The IDENTIFY JSON body.
///
/// Decoding follows Go's `encoding/json` into the reference's struct: unknown keys are
/// ignored, keys match case-insensitively, `null` leaves a field at its zero value, a
/// repeated key's last value wins, and a wrong JSON type (or a number that is not an
/// integer of the field's width) is an error. Absent or null strings are `None`; the
/// reference stores `client_id` and `hostname` as "" then (QRK-06).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IdentifyRequest {
    pub client_id: Option<String>,
    pub hostname: Option<String>,
    pub user_agent: Option<String>,
    pub feature_negotiation: bool,
    pub heartbeat_interval: i64,
    pub output_buffer_size: i64,
    pub output_buffer_timeout: i64,
    pub tls_v1: bool,
    pub snappy: bool,
    pub deflate: bool,
    pub deflate_level: i64,
    pub sample_rate: i32,
    pub msg_timeout: i64,
    pub topology_region: String,
    pub topology_zone: String,
}

/// The server settings negotiation depends on, all durations in milliseconds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerLimits {
    pub client_timeout_ms: i64,
    pub max_heartbeat_interval_ms: i64,
    /// `--output-buffer-timeout`, the default for clients that send 0.
    pub output_buffer_timeout_ms: i64,
    pub min_output_buffer_timeout_ms: i64,
    pub max_output_buffer_timeout_ms: i64,
    pub max_output_buffer_size: i64,
    /// `--msg-timeout`, the default for clients that send 0.
    pub msg_timeout_ms: i64,
    pub max_msg_timeout_ms: i64,
    pub max_rdy_count: i64,
    pub max_deflate_level: i64,
    /// A TLS certificate is configured.
    pub tls_available: bool,
    pub snappy_enabled: bool,
    pub deflate_enabled: bool,
    pub auth_enabled: bool,
    pub topology_region: String,
    pub topology_zone: String,
}

impl Default for ServerLimits {
    /// nsqd's defaults (§1.14).
    fn default() -> Self {
        ServerLimits {
            client_timeout_ms: CLIENT_TIMEOUT_MS,
            max_heartbeat_interval_ms: 60_000,
            output_buffer_timeout_ms: 250,
            min_output_buffer_timeout_ms: 25,
            max_output_buffer_timeout_ms: 30_000,
            max_output_buffer_size: 65_536,
            msg_timeout_ms: 60_000,
            max_msg_timeout_ms: 900_000,
            max_rdy_count: 2500,
            max_deflate_level: 6,
            tls_available: false,
            snappy_enabled: true,
            deflate_enabled: true,
            auth_enabled: false,
            topology_region: String::new(),
            topology_zone: String::new(),
        }
    }
}

/// A client's effective settings after IDENTIFY.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Negotiated {
    /// -1 = heartbeats (and read/write deadlines) disabled.
    pub heartbeat_interval_ms: i64,
    pub output_buffer_size: i64,
    /// 0 = no flush timer.
    pub output_buffer_timeout_ms: i64,
    /// 0 = no sampling.
    pub sample_rate: i32,
    pub msg_timeout_ms: i64,
    /// The client sent `feature_negotiation: true`: answer with [`response_json`] (then run
    /// the upgrades) instead of `OK`.
    pub feature_negotiation: bool,
    /// Upgrades to perform: each is true only when negotiating, asked for and allowed.
    pub tls_v1: bool,
    pub snappy: bool,
    pub deflate: bool,
    /// Reported even when deflate is off (normally 6).
    pub deflate_level: i64,
}

impl Negotiated {
    /// The settings of a connection that has not sent IDENTIFY yet.
    pub fn initial(limits: &ServerLimits) -> Self {
        Negotiated {
            heartbeat_interval_ms: limits.client_timeout_ms / 2,
            output_buffer_size: DEFAULT_OUTPUT_BUFFER_SIZE,
            output_buffer_timeout_ms: limits.output_buffer_timeout_ms,
            sample_rate: 0,
            msg_timeout_ms: limits.msg_timeout_ms,
            feature_negotiation: false,
            tls_v1: false,
            snappy: false,
            deflate: false,
            deflate_level: DEFAULT_DEFLATE_LEVEL.min(limits.max_deflate_level),
        }
    }
}

/// Negotiate a first IDENTIFY against the server defaults. See [`negotiate_from`].
pub fn negotiate(
    req: &IdentifyRequest,
    limits: &ServerLimits,
) -> Result<Negotiated, ProtocolError> {
    negotiate_from(req, limits, &Negotiated::initial(limits))
}

/// Negotiate an IDENTIFY on top of `current` (a repeated IDENTIFY keeps earlier values
/// where it sends 0, P-042).
///
/// Checks run in the reference's order (heartbeat, output buffer timeout, output buffer
/// size, sample rate, msg timeout) and fail with the exact E_BAD_BODY texts of P-121; then,
/// when negotiating, deflate together with snappy is refused (P-072).
pub fn negotiate_from(
    req: &IdentifyRequest,
    limits: &ServerLimits,
    current: &Negotiated,
) -> Result<Negotiated, ProtocolError> {
    let mut n = current.clone();

    n.heartbeat_interval_ms = match req.heartbeat_interval {
        -1 => -1,
        0 => current.heartbeat_interval_ms,
        ms if (MIN_HEARTBEAT_INTERVAL_MS..=limits.max_heartbeat_interval_ms).contains(&ms) => ms,
        ms => return Err(error::identify_heartbeat_invalid(ms)),
    };

    n.output_buffer_timeout_ms = match req.output_buffer_timeout {
        -1 => 0,
        0 => current.output_buffer_timeout_ms,
        ms if (limits.min_output_buffer_timeout_ms..=limits.max_output_buffer_timeout_ms)
            .contains(&ms) =>
        {
            ms
        }
        ms => return Err(error::identify_output_buffer_timeout_invalid(ms)),
    };

    match req.output_buffer_size {
        // Unbuffered: every write goes straight out, so a flush timer is pointless.
        -1 => {
            n.output_buffer_size = 1;
            n.output_buffer_timeout_ms = 0;
        }
        0 => {}
        size if (MIN_OUTPUT_BUFFER_SIZE..=limits.max_output_buffer_size).contains(&size) => {
            n.output_buffer_size = size;
        }
        size => return Err(error::identify_output_buffer_size_invalid(size)),
    }

    if !(0..=MAX_SAMPLE_RATE).contains(&req.sample_rate) {
        return Err(error::identify_sample_rate_invalid(i64::from(
            req.sample_rate,
        )));
    }
    n.sample_rate = req.sample_rate;

    n.msg_timeout_ms = match req.msg_timeout {
        0 => current.msg_timeout_ms,
        ms if (MIN_MSG_TIMEOUT_MS..=limits.max_msg_timeout_ms).contains(&ms) => ms,
        ms => return Err(error::identify_msg_timeout_invalid(ms)),
    };

    n.feature_negotiation = req.feature_negotiation;
    let negotiating = req.feature_negotiation;
    n.tls_v1 = negotiating && req.tls_v1 && limits.tls_available;
    n.deflate = negotiating && req.deflate && limits.deflate_enabled;
    n.snappy = negotiating && req.snappy && limits.snappy_enabled;
    // The client's level counts only when deflate is on; either way the server max caps it.
    let level = if n.deflate && req.deflate_level > 0 {
        req.deflate_level
    } else {
        DEFAULT_DEFLATE_LEVEL
    };
    n.deflate_level = level.min(limits.max_deflate_level);

    if n.deflate && n.snappy {
        return Err(error::identify_both_compressions());
    }
    Ok(n)
}

/// The feature-negotiation response, compact, keys in the order of P-070.
pub fn response_json(n: &Negotiated, limits: &ServerLimits) -> String {
    let mut out = String::with_capacity(384);
    let _ = write!(
        out,
        "{{\"max_rdy_count\":{},\"version\":\"{}\",\"max_msg_timeout\":{},\"msg_timeout\":{},\
         \"tls_v1\":{},\"deflate\":{},\"deflate_level\":{},\"max_deflate_level\":{},\
         \"snappy\":{},\"sample_rate\":{},\"auth_required\":{},\"output_buffer_size\":{},\
         \"output_buffer_timeout\":{},\"topology_region\":",
        limits.max_rdy_count,
        VERSION,
        limits.max_msg_timeout_ms,
        n.msg_timeout_ms,
        n.tls_v1,
        n.deflate,
        n.deflate_level,
        limits.max_deflate_level,
        n.snappy,
        n.sample_rate,
        limits.auth_enabled,
        n.output_buffer_size,
        n.output_buffer_timeout_ms,
    );
    push_json_string(&mut out, &limits.topology_region);
    out.push_str(",\"topology_zone\":");
    push_json_string(&mut out, &limits.topology_zone);
    out.push('}');
    out
}

/// Decode the IDENTIFY body; any failure is `E_BAD_BODY IDENTIFY failed to decode JSON body`.
pub fn parse_identify_body(body: &[u8]) -> Result<IdentifyRequest, ProtocolError> {
    // Go replaces invalid UTF-8 inside strings with U+FFFD instead of failing.
    let text = String::from_utf8_lossy(body);
    serde_json::from_str(&text).map_err(|_| error::identify_decode_failed())
}

/// The request keys the reference knows.
#[derive(Clone, Copy)]
enum Field {
    ClientId,
    Hostname,
    UserAgent,
    FeatureNegotiation,
    HeartbeatInterval,
    OutputBufferSize,
    OutputBufferTimeout,
    TlsV1,
    Snappy,
    Deflate,
    DeflateLevel,
    SampleRate,
    MsgTimeout,
    TopologyRegion,
    TopologyZone,
    Unknown,
}

const FIELDS: [(&str, Field); 15] = [
    ("client_id", Field::ClientId),
    ("hostname", Field::Hostname),
    ("user_agent", Field::UserAgent),
    ("feature_negotiation", Field::FeatureNegotiation),
    ("heartbeat_interval", Field::HeartbeatInterval),
    ("output_buffer_size", Field::OutputBufferSize),
    ("output_buffer_timeout", Field::OutputBufferTimeout),
    ("tls_v1", Field::TlsV1),
    ("snappy", Field::Snappy),
    ("deflate", Field::Deflate),
    ("deflate_level", Field::DeflateLevel),
    ("sample_rate", Field::SampleRate),
    ("msg_timeout", Field::MsgTimeout),
    ("topology_region", Field::TopologyRegion),
    ("topology_zone", Field::TopologyZone),
];

impl<'de> Deserialize<'de> for Field {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = Field;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object key")
            }
            fn visit_str<E: de::Error>(self, key: &str) -> Result<Field, E> {
                // Go matches keys to fields case-insensitively.
                Ok(FIELDS
                    .iter()
                    .find(|(name, _)| name.eq_ignore_ascii_case(key))
                    .map_or(Field::Unknown, |&(_, field)| field))
            }
        }
        deserializer.deserialize_identifier(KeyVisitor)
    }
}

impl<'de> Deserialize<'de> for IdentifyRequest {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(RequestVisitor)
    }
}

struct RequestVisitor;

/// Assign the next value to `slot` unless it is JSON null (which Go skips).
fn take<'de, A, T>(map: &mut A, slot: &mut T) -> Result<(), A::Error>
where
    A: MapAccess<'de>,
    T: Deserialize<'de>,
{
    if let Some(value) = map.next_value::<Option<T>>()? {
        *slot = value;
    }
    Ok(())
}

fn take_string<'de, A: MapAccess<'de>>(
    map: &mut A,
    slot: &mut Option<String>,
) -> Result<(), A::Error> {
    if let Some(value) = map.next_value::<Option<String>>()? {
        *slot = Some(value);
    }
    Ok(())
}

impl<'de> Visitor<'de> for RequestVisitor {
    type Value = IdentifyRequest;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an IDENTIFY JSON object")
    }

    /// A top-level `null` decodes to all zero values, as in Go.
    fn visit_unit<E: de::Error>(self) -> Result<IdentifyRequest, E> {
        Ok(IdentifyRequest::default())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<IdentifyRequest, A::Error> {
        let mut r = IdentifyRequest::default();
        while let Some(field) = map.next_key::<Field>()? {
            match field {
                Field::ClientId => take_string(&mut map, &mut r.client_id)?,
                Field::Hostname => take_string(&mut map, &mut r.hostname)?,
                Field::UserAgent => take_string(&mut map, &mut r.user_agent)?,
                Field::FeatureNegotiation => take(&mut map, &mut r.feature_negotiation)?,
                Field::HeartbeatInterval => take(&mut map, &mut r.heartbeat_interval)?,
                Field::OutputBufferSize => take(&mut map, &mut r.output_buffer_size)?,
                Field::OutputBufferTimeout => take(&mut map, &mut r.output_buffer_timeout)?,
                Field::TlsV1 => take(&mut map, &mut r.tls_v1)?,
                Field::Snappy => take(&mut map, &mut r.snappy)?,
                Field::Deflate => take(&mut map, &mut r.deflate)?,
                Field::DeflateLevel => take(&mut map, &mut r.deflate_level)?,
                Field::SampleRate => take(&mut map, &mut r.sample_rate)?,
                Field::MsgTimeout => take(&mut map, &mut r.msg_timeout)?,
                Field::TopologyRegion => take(&mut map, &mut r.topology_region)?,
                Field::TopologyZone => take(&mut map, &mut r.topology_zone)?,
                Field::Unknown => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
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
        let r = r#"{"output_buffer_timeout":5,"output_buffer_size":5,"sample_rate":500,"msg_timeout":5}"#;
        assert!(neg(r).unwrap_err().contains("output buffer timeout (5)"));
        let r = r#"{"output_buffer_timeout":-1,"output_buffer_size":5,"sample_rate":500,"msg_timeout":5}"#;
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
        assert!(json.contains(
            "\"deflate\":true,\"deflate_level\":4,\"max_deflate_level\":4,\"snappy\":false"
        ));
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
        let r =
            req(r#"{"short_id":"a","long_id":"b","extra":{"x":[1,2,{"y":null}]},"client_id":"c"}"#);
        assert_eq!(r.client_id.as_deref(), Some("c"));
        // Keys match case-insensitively; the last duplicate wins.
        let r = req(r#"{"Client_ID":"x","HEARTBEAT_INTERVAL":2000,"client_id":"y"}"#);
        assert_eq!(r.client_id.as_deref(), Some("y"));
        assert_eq!(r.heartbeat_interval, 2000);
        // null leaves the zero value.
        let r = req(
            r#"{"client_id":null,"heartbeat_interval":null,"tls_v1":null,"topology_zone":null}"#,
        );
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
}
