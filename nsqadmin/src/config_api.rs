//! `GET` and `PUT /config/:opt` (A-040): read any option by its config key, change the
//! lookupd list or the log level, only from clients inside `--allow-config-from-cidr`.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use nsq_common::http::Reply;
use nsq_common::logging::LogLevel;
use nsq_protocol::json::push_json_string;

use crate::options::Options;

/// The largest PUT body read; one more byte means "too big".
const MAX_BODY: usize = 1024 * 1024;

/// An IP network in CIDR notation, as Go's `net.ParseCIDR` reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    bits: u8,
}

impl Cidr {
    pub fn parse(s: &str) -> Result<Cidr, String> {
        let bad = || format!("invalid CIDR address: {s}");
        let (ip, bits) = s.split_once('/').ok_or_else(bad)?;
        let addr: IpAddr = ip.parse().map_err(|_| bad())?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        if bits.is_empty() || !bits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let bits: u8 = bits.parse().map_err(|_| bad())?;
        if bits > max {
            return Err(bad());
        }
        Ok(Cidr { addr, bits })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match (self.addr, ip) {
            (IpAddr::V4(_), IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => return false,
            },
            (_, ip) => ip,
        };
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => prefix_eq(&net.octets(), &ip.octets(), self.bits),
            (IpAddr::V6(net), IpAddr::V6(ip)) => prefix_eq(&net.octets(), &ip.octets(), self.bits),
            _ => false,
        }
    }
}

fn prefix_eq(a: &[u8], b: &[u8], bits: u8) -> bool {
    let full = usize::from(bits / 8);
    if a[..full] != b[..full] {
        return false;
    }
    let rest = bits % 8;
    if rest == 0 {
        return true;
    }
    let mask = 0xffu8 << (8 - rest);
    (a[full] & mask) == (b[full] & mask)
}

/// Checks the client against `--allow-config-from-cidr` (empty allows everyone).
pub fn check_remote(opts: &Options, remote: Option<SocketAddr>) -> Result<(), Reply> {
    if opts.allow_config_from_cidr.is_empty() {
        return Ok(());
    }
    let Some(remote) = remote else {
        return Err(Reply::err(400, "INVALID_REMOTE_ADDR"));
    };
    let allowed = Cidr::parse(&opts.allow_config_from_cidr)
        .map(|c| c.contains(remote.ip()))
        .unwrap_or(false);
    if allowed {
        Ok(())
    } else {
        Err(Reply::err(403, "FORBIDDEN"))
    }
}

fn json_list(items: &[String]) -> String {
    let mut out = String::from("[");
    for (i, s) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_json_string(&mut out, s);
    }
    out.push(']');
    out
}

/// One option's value as the V1 decorator writes it: strings raw, everything else JSON.
pub enum Value {
    Text(String),
    Json(String),
}

impl Value {
    pub fn into_reply(self) -> Reply {
        match self {
            Value::Text(t) => Reply::Text(t),
            Value::Json(j) => Reply::Json(j),
        }
    }
}

/// The value of the option whose config key is `name`, or None for an unknown key.
pub fn get(o: &Options, name: &str) -> Option<Value> {
    let s = |v: &String| Some(Value::Text(v.clone()));
    let d = |v: Duration| Some(Value::Json(v.as_nanos().to_string()));
    let b = |v: bool| Some(Value::Json(v.to_string()));
    let list = |v: &[String]| Some(Value::Json(json_list(v)));
    match name {
        "acl_http_header" => s(&o.acl_http_header),
        "admin_users" => list(&o.admin_users),
        "allow_config_from_cidr" => s(&o.allow_config_from_cidr),
        "base_path" => s(&o.base_path),
        "dev_static_dir" => s(&o.dev_static_dir),
        "graphite_url" => s(&o.graphite_url),
        "http_address" => s(&o.http_address),
        "http_client_connect_timeout" => d(o.http_client_connect_timeout),
        "http_client_request_timeout" => d(o.http_client_request_timeout),
        "http_client_tls_cert" => s(&o.http_client_tls_cert),
        "http_client_tls_insecure_skip_verify" => b(o.http_client_tls_insecure_skip_verify),
        "http_client_tls_key" => s(&o.http_client_tls_key),
        "http_client_tls_root_ca_file" => s(&o.http_client_tls_root_ca_file),
        "log_level" => Some(Value::Json(o.log_level.as_int().to_string())),
        "log_prefix" => s(&o.log_prefix),
        "nsqlookupd_http_addresses" => list(&o.nsqlookupd_http_addresses),
        "notification_http_endpoint" => s(&o.notification_http_endpoint),
        "nsqd_http_addresses" => list(&o.nsqd_http_addresses),
        "proxy_graphite" => b(o.proxy_graphite),
        "statsd_counter_format" => s(&o.statsd_counter_format),
        "statsd_gauge_format" => s(&o.statsd_gauge_format),
        "statsd_interval" => d(o.statsd_interval),
        "statsd_prefix" => s(&o.statsd_prefix),
        _ => None,
    }
}

/// Applies `PUT /config/<name>` with `body` to `o`. The body was read with a limit of
/// `MAX_BODY + 1` bytes, so a body that long is too big.
pub fn put(o: &mut Options, name: &str, body: &[u8]) -> Result<(), Reply> {
    if body.is_empty() || body.len() > MAX_BODY {
        return Err(Reply::err(413, "INVALID_VALUE"));
    }
    match name {
        "nsqlookupd_http_addresses" => {
            let list: Option<Vec<String>> =
                serde_json::from_slice(body).map_err(|_| Reply::err(400, "INVALID_VALUE"))?;
            o.nsqlookupd_http_addresses = list.unwrap_or_default();
        }
        "log_level" => {
            let text = std::str::from_utf8(body).map_err(|_| Reply::err(400, "INVALID_VALUE"))?;
            o.log_level = LogLevel::parse(text).map_err(|_| Reply::err(400, "INVALID_VALUE"))?;
        }
        _ => return Err(Reply::err(400, "INVALID_OPTION")),
    }
    Ok(())
}

/// The read limit for PUT bodies.
pub const READ_LIMIT: usize = MAX_BODY + 1;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs() {
        let c = Cidr::parse("127.0.0.1/8").unwrap();
        assert!(c.contains("127.1.2.3".parse().unwrap()));
        assert!(!c.contains("128.0.0.1".parse().unwrap()));
        assert!(c.contains("::ffff:127.0.0.1".parse().unwrap()));
        let c = Cidr::parse("10.1.2.0/23").unwrap();
        assert!(c.contains("10.1.3.9".parse().unwrap()));
        assert!(!c.contains("10.1.4.0".parse().unwrap()));
        assert!(Cidr::parse("::1/128")
            .unwrap()
            .contains("::1".parse().unwrap()));
        for bad in ["10.0.0.0", "10.0.0.0/33", "x/8", "10.0.0.0/", "10.0.0.0/+8"] {
            assert_eq!(
                Cidr::parse(bad).unwrap_err(),
                format!("invalid CIDR address: {bad}")
            );
        }
    }

    #[test]
    fn get_and_put() {
        let mut o = Options::default();
        assert!(matches!(get(&o, "base_path"), Some(Value::Text(t)) if t == "/"));
        assert!(matches!(get(&o, "nsqlookupd_http_addresses"), Some(Value::Json(j)) if j == "[]"));
        assert!(matches!(get(&o, "log_level"), Some(Value::Json(j)) if j == "2"));
        assert!(get(&o, "nope").is_none());
        put(&mut o, "nsqlookupd_http_addresses", br#"["a:1","b:2"]"#).unwrap();
        assert_eq!(o.nsqlookupd_http_addresses, vec!["a:1", "b:2"]);
        put(&mut o, "log_level", b"warn").unwrap();
        assert_eq!(o.log_level, LogLevel::Warn);
        assert_eq!(put(&mut o, "log_level", b"").unwrap_err().status(), 413);
        assert_eq!(put(&mut o, "log_level", b"loud").unwrap_err().status(), 400);
        assert_eq!(put(&mut o, "base_path", b"/x").unwrap_err().status(), 400);
    }
}
