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
mod tests;
