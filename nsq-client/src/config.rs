//! Client settings, mirroring go-nsq's `Config` (T-001): same option names, defaults and ranges.

use std::path::PathBuf;
use std::time::Duration;

use crate::error::Error;

/// How the backoff delay grows with consecutive failures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackoffStrategy {
    /// `backoff_multiplier * 2^(n-1)`, capped at `max_backoff_duration`.
    Exponential,
    /// A random delay between 0 and the exponential value.
    FullJitter,
}

/// The user agent go-nsq sends when none is configured (V-004).
pub const DEFAULT_USER_AGENT: &str = "go-nsq/1.1.0";

#[derive(Clone, Debug)]
pub struct Config {
    pub dial_timeout: Duration,
    /// nsqd is expected to send something (a heartbeat at least) this often.
    pub read_timeout: Duration,
    pub write_timeout: Duration,

    pub lookupd_poll_interval: Duration,
    /// Fraction of the poll interval used as random spread, so that many consumers started
    /// together do not query lookupd in step.
    pub lookupd_poll_jitter: f64,
    pub lookupd_poll_timeout: Duration,

    pub max_requeue_delay: Duration,
    pub default_requeue_delay: Duration,
    pub backoff_strategy: BackoffStrategy,
    /// 0 disables backoff.
    pub max_backoff_duration: Duration,
    pub backoff_multiplier: Duration,
    /// Messages delivered more often than this are finished without being handed out; 0 = no
    /// limit.
    pub max_attempts: u16,

    pub low_rdy_idle_timeout: Duration,
    pub low_rdy_timeout: Duration,
    pub rdy_redistribute_interval: Duration,

    pub client_id: String,
    pub hostname: String,
    pub user_agent: String,
    pub topology_region: String,
    pub topology_zone: String,

    /// `None` disables heartbeats (sent as -1).
    pub heartbeat_interval: Option<Duration>,
    pub sample_rate: i32,
    pub tls_v1: bool,
    pub tls_root_ca_file: Option<PathBuf>,
    pub tls_insecure_skip_verify: bool,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// The server name checked against nsqd's certificate; defaults to the dialed host.
    pub tls_server_name: Option<String>,
    pub deflate: bool,
    pub deflate_level: i64,
    pub snappy: bool,
    pub output_buffer_size: i64,
    /// `None` asks nsqd not to buffer (sent as -1).
    pub output_buffer_timeout: Option<Duration>,

    pub max_in_flight: i64,
    /// 0 = nsqd's default.
    pub msg_timeout: Duration,
    /// Largest frame accepted from nsqd; 0 = no limit.
    pub max_msg_size: usize,

    pub auth_secret: Option<String>,
    /// Despite its go-nsq name, true means the auth secret IS sent to nsqlookupd as
    /// `Authorization: Bearer <secret>`; false keeps it from lookupd.
    pub skip_lookupd_authorization: bool,
}

impl Default for Config {
    fn default() -> Self {
        let host = nsq_common::host::os_hostname();
        let short = host.split('.').next().unwrap_or("").to_string();
        Config {
            dial_timeout: Duration::from_secs(1),
            read_timeout: Duration::from_secs(60),
            write_timeout: Duration::from_secs(1),
            lookupd_poll_interval: Duration::from_secs(60),
            lookupd_poll_jitter: 0.3,
            lookupd_poll_timeout: Duration::from_secs(60),
            max_requeue_delay: Duration::from_secs(15 * 60),
            default_requeue_delay: Duration::from_secs(90),
            backoff_strategy: BackoffStrategy::Exponential,
            max_backoff_duration: Duration::from_secs(120),
            backoff_multiplier: Duration::from_secs(1),
            max_attempts: 5,
            low_rdy_idle_timeout: Duration::from_secs(10),
            low_rdy_timeout: Duration::from_secs(30),
            rdy_redistribute_interval: Duration::from_secs(5),
            client_id: short,
            hostname: host,
            user_agent: DEFAULT_USER_AGENT.to_string(),
            topology_region: String::new(),
            topology_zone: String::new(),
            heartbeat_interval: Some(Duration::from_secs(30)),
            sample_rate: 0,
            tls_v1: false,
            tls_root_ca_file: None,
            tls_insecure_skip_verify: false,
            tls_cert: None,
            tls_key: None,
            tls_server_name: None,
            deflate: false,
            deflate_level: 6,
            snappy: false,
            output_buffer_size: 16384,
            output_buffer_timeout: Some(Duration::from_millis(250)),
            max_in_flight: 1,
            msg_timeout: Duration::ZERO,
            max_msg_size: 0,
            auth_secret: None,
            skip_lookupd_authorization: true,
        }
    }
}

fn check_range(name: &str, v: Duration, min: Duration, max: Duration) -> Result<(), Error> {
    if v < min || v > max {
        return Err(Error::Config(format!(
            "{name} {v:?} out of range [{min:?}, {max:?}]"
        )));
    }
    Ok(())
}

impl Config {
    /// Checks the ranges go-nsq enforces.
    pub fn validate(&self) -> Result<(), Error> {
        let ms = Duration::from_millis;
        let s = Duration::from_secs;
        check_range("read_timeout", self.read_timeout, ms(100), s(300))?;
        check_range("write_timeout", self.write_timeout, ms(100), s(300))?;
        check_range(
            "lookupd_poll_interval",
            self.lookupd_poll_interval,
            ms(10),
            s(300),
        )?;
        check_range("max_requeue_delay", self.max_requeue_delay, s(0), s(3600))?;
        check_range(
            "default_requeue_delay",
            self.default_requeue_delay,
            s(0),
            s(3600),
        )?;
        check_range(
            "max_backoff_duration",
            self.max_backoff_duration,
            s(0),
            s(3600),
        )?;
        check_range("backoff_multiplier", self.backoff_multiplier, s(0), s(3600))?;
        check_range(
            "low_rdy_idle_timeout",
            self.low_rdy_idle_timeout,
            s(1),
            s(300),
        )?;
        check_range("low_rdy_timeout", self.low_rdy_timeout, s(1), s(300))?;
        check_range(
            "rdy_redistribute_interval",
            self.rdy_redistribute_interval,
            ms(1),
            s(5),
        )?;
        if !(0.0..=1.0).contains(&self.lookupd_poll_jitter) {
            return Err(Error::Config(
                "lookupd_poll_jitter must be in [0, 1]".into(),
            ));
        }
        if !(0..=99).contains(&self.sample_rate) {
            return Err(Error::Config("sample_rate must be in [0, 99]".into()));
        }
        if !(1..=9).contains(&self.deflate_level) {
            return Err(Error::Config("deflate_level must be in [1, 9]".into()));
        }
        if self.max_in_flight < 0 {
            return Err(Error::Config("max_in_flight must be >= 0".into()));
        }
        if self.deflate && self.snappy {
            return Err(Error::Config(
                "cannot enable both deflate and snappy".into(),
            ));
        }
        Ok(())
    }

    /// The IDENTIFY body go-nsq sends (C-001).
    pub fn identify_json(&self) -> Vec<u8> {
        let ms = |d: Option<Duration>| d.map_or(-1, |d| d.as_millis() as i64);
        let body = serde_json::json!({
            "client_id": self.client_id,
            "hostname": self.hostname,
            "user_agent": self.user_agent,
            "short_id": self.client_id,
            "long_id": self.hostname,
            "tls_v1": self.tls_v1,
            "deflate": self.deflate,
            "deflate_level": self.deflate_level,
            "snappy": self.snappy,
            "feature_negotiation": true,
            "heartbeat_interval": ms(self.heartbeat_interval),
            "sample_rate": self.sample_rate,
            "output_buffer_size": self.output_buffer_size,
            "output_buffer_timeout": ms(self.output_buffer_timeout),
            "msg_timeout": self.msg_timeout.as_millis() as i64,
            "topology_region": self.topology_region,
            "topology_zone": self.topology_zone,
        });
        body.to_string().into_bytes()
    }
}

/// A duration option: a Go duration (`1.5s`) or an integer counted in milliseconds (T-001).
fn parse_duration(v: &str) -> Result<Duration, String> {
    if let Ok(ms) = v.parse::<u64>() {
        return Ok(Duration::from_millis(ms));
    }
    nsq_common::duration::parse_go_duration(v).map_err(|e| e.to_string())
}

/// Go's `strconv.ParseBool`.
fn parse_bool(v: &str) -> Result<bool, String> {
    match v {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        _ => Err(format!("invalid bool {v:?}")),
    }
}

fn parse_num<T: std::str::FromStr>(v: &str) -> Result<T, String> {
    v.parse().map_err(|_| format!("invalid number {v:?}"))
}

/// A heartbeat or buffer timeout: a negative value turns it off.
fn parse_optional_duration(v: &str) -> Result<Option<Duration>, String> {
    if v.starts_with('-') {
        return Ok(None);
    }
    parse_duration(v).map(Some)
}

impl Config {
    /// Sets one option by its go-nsq name, as the tools' `--consumer-opt` / `--producer-opt`
    /// give them (`name,value`). Ranges are checked by [`Config::validate`].
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), Error> {
        let v = value;
        let r: Result<(), String> = (|| {
            match name {
                "dial_timeout" => self.dial_timeout = parse_duration(v)?,
                "read_timeout" => self.read_timeout = parse_duration(v)?,
                "write_timeout" => self.write_timeout = parse_duration(v)?,
                "lookupd_poll_interval" => self.lookupd_poll_interval = parse_duration(v)?,
                "lookupd_poll_jitter" => self.lookupd_poll_jitter = parse_num(v)?,
                "lookupd_poll_timeout" => self.lookupd_poll_timeout = parse_duration(v)?,
                "max_requeue_delay" => self.max_requeue_delay = parse_duration(v)?,
                "default_requeue_delay" => self.default_requeue_delay = parse_duration(v)?,
                "backoff_strategy" => {
                    self.backoff_strategy = match v {
                        "exponential" => BackoffStrategy::Exponential,
                        "full_jitter" => BackoffStrategy::FullJitter,
                        _ => return Err(format!("unknown backoff strategy {v:?}")),
                    }
                }
                "max_backoff_duration" => self.max_backoff_duration = parse_duration(v)?,
                "backoff_multiplier" => self.backoff_multiplier = parse_duration(v)?,
                "max_attempts" => self.max_attempts = parse_num(v)?,
                "low_rdy_idle_timeout" => self.low_rdy_idle_timeout = parse_duration(v)?,
                "low_rdy_timeout" => self.low_rdy_timeout = parse_duration(v)?,
                "rdy_redistribute_interval" => self.rdy_redistribute_interval = parse_duration(v)?,
                "client_id" => self.client_id = v.to_string(),
                "hostname" => self.hostname = v.to_string(),
                "user_agent" => self.user_agent = v.to_string(),
                "topology_region" => self.topology_region = v.to_string(),
                "topology_zone" => self.topology_zone = v.to_string(),
                "heartbeat_interval" => self.heartbeat_interval = parse_optional_duration(v)?,
                "sample_rate" => self.sample_rate = parse_num(v)?,
                "tls_v1" => self.tls_v1 = parse_bool(v)?,
                "tls_root_ca_file" => self.tls_root_ca_file = Some(v.into()),
                "tls_insecure_skip_verify" => self.tls_insecure_skip_verify = parse_bool(v)?,
                "tls_cert" => self.tls_cert = Some(v.into()),
                "tls_key" => self.tls_key = Some(v.into()),
                "deflate" => self.deflate = parse_bool(v)?,
                "deflate_level" => self.deflate_level = parse_num(v)?,
                "snappy" => self.snappy = parse_bool(v)?,
                "output_buffer_size" => self.output_buffer_size = parse_num(v)?,
                "output_buffer_timeout" => self.output_buffer_timeout = parse_optional_duration(v)?,
                "max_in_flight" => self.max_in_flight = parse_num(v)?,
                "msg_timeout" => self.msg_timeout = parse_duration(v)?,
                "max_msg_size" => self.max_msg_size = parse_num(v)?,
                "auth_secret" => self.auth_secret = Some(v.to_string()),
                "skip_lookupd_authorization" => self.skip_lookupd_authorization = parse_bool(v)?,
                _ => return Err("unknown option".to_string()),
            }
            Ok(())
        })();
        r.map_err(|e| Error::Config(format!("{name}={value}: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_go_nsq() {
        let c = Config::default();
        assert_eq!(c.max_in_flight, 1);
        assert_eq!(c.max_attempts, 5);
        assert_eq!(c.lookupd_poll_interval, Duration::from_secs(60));
        assert_eq!(c.user_agent, "go-nsq/1.1.0");
        assert!(c.skip_lookupd_authorization);
        c.validate().unwrap();
    }

    #[test]
    fn set_parses_go_forms() {
        let mut c = Config::default();
        c.set("max_in_flight", "200").unwrap();
        c.set("read_timeout", "1500").unwrap();
        c.set("lookupd_poll_interval", "2s").unwrap();
        c.set("snappy", "1").unwrap();
        c.set("heartbeat_interval", "-1").unwrap();
        c.set("backoff_strategy", "full_jitter").unwrap();
        assert_eq!(c.max_in_flight, 200);
        assert_eq!(c.read_timeout, Duration::from_millis(1500));
        assert_eq!(c.lookupd_poll_interval, Duration::from_secs(2));
        assert!(c.snappy);
        assert_eq!(c.heartbeat_interval, None);
        assert_eq!(c.backoff_strategy, BackoffStrategy::FullJitter);
        c.set("skip_lookupd_authorization", "false").unwrap();
        assert!(!c.skip_lookupd_authorization);
        assert!(c.set("nope", "1").is_err());
        assert!(c.set("tls_v1", "yes").is_err());
    }

    #[test]
    fn identify_body_has_go_nsq_fields() {
        let c = Config::default();
        let v: serde_json::Value = serde_json::from_slice(&c.identify_json()).unwrap();
        assert_eq!(v["feature_negotiation"], true);
        assert_eq!(v["heartbeat_interval"], 30000);
        assert_eq!(v["output_buffer_timeout"], 250);
        assert_eq!(v["short_id"], v["client_id"]);
        assert_eq!(v["long_id"], v["hostname"]);
    }
}
