//! Prometheus text exposition (format 0.0.4), written by hand, and the process metrics every
//! daemon reports. This is beyond NSQ: the Go daemons have no `/metrics` route.
//!
//! A family is announced once with its `# HELP` and `# TYPE` lines and its samples must follow
//! it directly, so callers write family by family, looping over topics inside each family.

use std::fmt::Write as _;

use axum::body::Body;
use axum::http::{header, HeaderValue, Response};

/// The content type Prometheus expects for the text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
        }
    }
}

/// An exposition being written.
#[derive(Debug, Default)]
pub struct Exposition {
    out: String,
}

impl Exposition {
    pub fn new() -> Self {
        Exposition {
            out: String::with_capacity(4096),
        }
    }

    /// Announces a family. Counter names should end in `_total`.
    pub fn family(&mut self, name: &str, kind: Kind, help: &str) -> &mut Self {
        self.out.push_str("# HELP ");
        self.out.push_str(name);
        self.out.push(' ');
        for ch in help.chars() {
            match ch {
                '\\' => self.out.push_str("\\\\"),
                '\n' => self.out.push_str("\\n"),
                c => self.out.push(c),
            }
        }
        self.out.push_str("\n# TYPE ");
        self.out.push_str(name);
        self.out.push(' ');
        self.out.push_str(kind.as_str());
        self.out.push('\n');
        self
    }

    /// One sample of the family just announced.
    pub fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) -> &mut Self {
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (key, val)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                self.out.push_str(key);
                self.out.push_str("=\"");
                push_label_value(&mut self.out, val);
                self.out.push('"');
            }
            self.out.push('}');
        }
        self.out.push(' ');
        push_value(&mut self.out, value);
        self.out.push('\n');
        self
    }

    /// A family with a single unlabelled sample.
    pub fn single(&mut self, name: &str, kind: Kind, help: &str, value: f64) -> &mut Self {
        self.family(name, kind, help).sample(name, &[], value)
    }

    /// Adds the `process_*` families the Prometheus client libraries export, read from
    /// `/proc/self`. Those that cannot be read are left out rather than reported as zero.
    pub fn process_metrics(&mut self) -> &mut Self {
        let p = ProcessStats::read();
        if let Some(v) = p.cpu_seconds {
            self.single(
                "process_cpu_seconds_total",
                Kind::Counter,
                "User and system CPU time spent, in seconds.",
                v,
            );
        }
        if let Some(v) = p.resident_bytes {
            self.single(
                "process_resident_memory_bytes",
                Kind::Gauge,
                "Resident memory size in bytes.",
                v as f64,
            );
        }
        if let Some(v) = p.virtual_bytes {
            self.single(
                "process_virtual_memory_bytes",
                Kind::Gauge,
                "Virtual memory size in bytes.",
                v as f64,
            );
        }
        if let Some(v) = p.open_fds {
            self.single(
                "process_open_fds",
                Kind::Gauge,
                "Number of open file descriptors.",
                v as f64,
            );
        }
        if let Some(v) = p.max_fds {
            self.single(
                "process_max_fds",
                Kind::Gauge,
                "Limit on open file descriptors.",
                v as f64,
            );
        }
        if let Some(v) = p.start_time_seconds {
            self.single(
                "process_start_time_seconds",
                Kind::Gauge,
                "Start time of the process since the Unix epoch, in seconds.",
                v,
            );
        }
        self
    }

    pub fn finish(self) -> String {
        self.out
    }
}

/// Label values escape backslash, double quote and newline.
fn push_label_value(out: &mut String, value: &str) {
    for ch in value.chars() {
        match ch {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// Whole numbers without a fraction (counters read naturally), the rest as Rust's shortest
/// round-tripping form, and the special values spelled as Prometheus spells them.
fn push_value(out: &mut String, v: f64) {
    if v.is_nan() {
        out.push_str("NaN");
    } else if v.is_infinite() {
        out.push_str(if v > 0.0 { "+Inf" } else { "-Inf" });
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        let _ = write!(out, "{}", v as i64);
    } else {
        let _ = write!(out, "{v}");
    }
}

/// A 200 answer carrying an exposition.
pub fn response(body: String) -> Response<Body> {
    let mut resp = Response::new(Body::from(body));
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    resp
}

/// What `/proc/self` tells about this process; None where it could not be read.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ProcessStats {
    pub cpu_seconds: Option<f64>,
    pub resident_bytes: Option<u64>,
    pub virtual_bytes: Option<u64>,
    pub open_fds: Option<u64>,
    pub max_fds: Option<u64>,
    pub start_time_seconds: Option<f64>,
}

impl ProcessStats {
    pub fn read() -> ProcessStats {
        let mut p = ProcessStats::default();
        let ticks = sysconf(libc::_SC_CLK_TCK);
        let page = sysconf(libc::_SC_PAGESIZE);
        if let Ok(stat) = std::fs::read_to_string("/proc/self/stat") {
            if let Some(f) = parse_stat(&stat) {
                if let Some(t) = ticks.filter(|t| *t > 0) {
                    p.cpu_seconds = Some((f.utime + f.stime) as f64 / t as f64);
                    if let Some(boot) = boot_time() {
                        p.start_time_seconds = Some(boot as f64 + f.start_ticks as f64 / t as f64);
                    }
                }
                p.virtual_bytes = Some(f.vsize);
                p.resident_bytes = page.map(|pg| f.rss_pages.saturating_mul(pg));
            }
        }
        p.open_fds = std::fs::read_dir("/proc/self/fd")
            .ok()
            .map(|d| d.count() as u64);
        p.max_fds = max_fds();
        p
    }
}

/// The `/proc/<pid>/stat` fields used here.
#[derive(Debug, PartialEq, Eq)]
struct StatFields {
    utime: u64,
    stime: u64,
    start_ticks: u64,
    vsize: u64,
    rss_pages: u64,
}

/// The command name (field 2) may hold spaces and parentheses, so fields are counted from the
/// last `)`.
fn parse_stat(text: &str) -> Option<StatFields> {
    let rest = &text[text.rfind(')')? + 1..];
    // After the name, the first field is the state (field 3 of the man page).
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |n: usize| fields.get(n - 3).and_then(|s| s.parse::<u64>().ok());
    Some(StatFields {
        utime: field(14)?,
        stime: field(15)?,
        start_ticks: field(22)?,
        vsize: field(23)?,
        rss_pages: field(24)?,
    })
}

fn boot_time() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    stat.lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse().ok())
}

fn sysconf(name: libc::c_int) -> Option<u64> {
    // SAFETY: sysconf only reads a configuration value; any name is allowed.
    let v = unsafe { libc::sysconf(name) };
    u64::try_from(v).ok()
}

fn max_fds() -> Option<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we own and pass by pointer.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) };
    // rlim_t is not 64 bits on every target.
    #[allow(clippy::unnecessary_cast)]
    let current = lim.rlim_cur as u64;
    (rc == 0).then_some(current)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_samples_and_escaping() {
        let mut e = Exposition::new();
        e.family("nsq_topic_depth", Kind::Gauge, "Back\\slash\nnewline")
            .sample("nsq_topic_depth", &[("topic", "a\"b\\c\nd")], 3.0)
            .sample("nsq_topic_depth", &[("topic", "x"), ("channel", "y")], 0.25);
        e.single("nsq_x_total", Kind::Counter, "h", 1e20);
        e.family("nsq_v", Kind::Gauge, "v")
            .sample("nsq_v", &[], f64::NAN)
            .sample("nsq_v", &[], f64::INFINITY)
            .sample("nsq_v", &[], f64::NEG_INFINITY)
            .sample("nsq_v", &[], -2.0);
        assert_eq!(
            e.finish(),
            "# HELP nsq_topic_depth Back\\\\slash\\nnewline\n\
             # TYPE nsq_topic_depth gauge\n\
             nsq_topic_depth{topic=\"a\\\"b\\\\c\\nd\"} 3\n\
             nsq_topic_depth{topic=\"x\",channel=\"y\"} 0.25\n\
             # HELP nsq_x_total h\n\
             # TYPE nsq_x_total counter\n\
             nsq_x_total 100000000000000000000\n\
             # HELP nsq_v v\n\
             # TYPE nsq_v gauge\n\
             nsq_v NaN\n\
             nsq_v +Inf\n\
             nsq_v -Inf\n\
             nsq_v -2\n"
        );
    }

    #[test]
    fn stat_fields_after_a_tricky_name() {
        let line = "42 (a) b) (c) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 3 0 \
                    12345 1000000 200 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0";
        assert_eq!(
            parse_stat(line),
            Some(StatFields {
                utime: 250,
                stime: 50,
                start_ticks: 12345,
                vsize: 1_000_000,
                rss_pages: 200,
            })
        );
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn this_process_is_readable() {
        let p = ProcessStats::read();
        assert!(p.resident_bytes.unwrap() > 0);
        assert!(p.open_fds.unwrap() > 0);
        assert!(p.cpu_seconds.is_some());
        assert!(p.start_time_seconds.unwrap() > 1_000_000_000.0);
        let text = {
            let mut e = Exposition::new();
            e.process_metrics();
            e.finish()
        };
        assert!(text.contains("# TYPE process_cpu_seconds_total counter\n"));
        assert!(text.contains("\nprocess_open_fds "));
    }
}
