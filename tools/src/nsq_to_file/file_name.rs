//! Output file names (T-031): the per-topic template built once from `--filename-format`, and
//! the `<DATETIME>` / `<REV>` parts filled in each time a file is opened.

/// The placeholder bumped when a name is taken or a file is rotated.
pub const REV: &str = "<REV>";
/// The placeholder replaced by `strftime(--datetime-format, now)`.
pub const DATETIME: &str = "<DATETIME>";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FileNameError {
    #[error("missing <REV> in --filename-format when gzip, rotation, or work dir enabled")]
    MissingRev,
}

/// What the per-topic template depends on besides the topic.
pub struct NameSettings<'a> {
    pub filename_format: &'a str,
    pub host_identifier: &'a str,
    pub hostname: &'a str,
    pub pid: u32,
    pub gzip: bool,
    /// gzip, rotation or a separate work dir: every file needs its own revision then.
    pub rev_required: bool,
}

/// The template for one topic: `<TOPIC>`, `<HOST>` and `<PID>` filled in, `<REV>` kept (or
/// dropped when no revisions are needed), `<DATETIME>` kept, `.gz` added for gzip.
pub fn topic_template(s: &NameSettings<'_>, topic: &str) -> Result<String, FileNameError> {
    let short_host = s.hostname.split('.').next().unwrap_or_default();
    let host = if s.host_identifier.is_empty() {
        short_host.to_string()
    } else {
        s.host_identifier
            .replace("<SHORT_HOST>", short_host)
            .replace("<HOSTNAME>", s.hostname)
    };
    let mut name = if s.rev_required {
        if !s.filename_format.contains(REV) {
            return Err(FileNameError::MissingRev);
        }
        s.filename_format.to_string()
    } else {
        s.filename_format.replace(REV, "")
    };
    name = name
        .replace("<TOPIC>", topic)
        .replace("<HOST>", &host)
        .replace("<PID>", &s.pid.to_string());
    if s.gzip && !name.ends_with(".gz") {
        name.push_str(".gz");
    }
    Ok(name)
}

/// The name for the current time: `<DATETIME>` filled in, `<REV>` still open.
pub fn with_datetime(template: &str, datetime: &str) -> String {
    template.replace(DATETIME, datetime)
}

/// `<REV>` becomes `-000042`.
pub fn with_rev(name: &str, rev: u32) -> String {
    name.replace(REV, &format!("-{rev:06}"))
}

/// A broken-down local time, with what `%Z` and `%z` need.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalTime {
    pub year: i32,
    /// 1..=12
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    /// 0 = Sunday
    pub weekday: u32,
    /// The zone abbreviation (`UTC`, `CET`); may be empty.
    pub zone: String,
    /// Seconds east of UTC.
    pub offset: i32,
}

impl LocalTime {
    /// Now, in the process's time zone (`TZ`, else `/etc/localtime`), like Go's `time.Now()`.
    pub fn now() -> LocalTime {
        // SAFETY: time(NULL) has no preconditions; localtime_r only writes the tm we own.
        let mut tm: libc::tm = unsafe { std::mem::zeroed() };
        let ok = unsafe {
            let t = libc::time(std::ptr::null_mut());
            !libc::localtime_r(&t, &mut tm).is_null()
        };
        if !ok {
            return LocalTime::epoch();
        }
        let zone = if tm.tm_zone.is_null() {
            String::new()
        } else {
            // SAFETY: tm_zone points at a NUL-terminated static string owned by libc.
            unsafe { std::ffi::CStr::from_ptr(tm.tm_zone) }
                .to_string_lossy()
                .into_owned()
        };
        LocalTime {
            year: tm.tm_year + 1900,
            month: (tm.tm_mon + 1) as u32,
            day: tm.tm_mday as u32,
            hour: tm.tm_hour as u32,
            minute: tm.tm_min as u32,
            second: tm.tm_sec as u32,
            weekday: tm.tm_wday as u32,
            zone,
            offset: tm.tm_gmtoff as i32,
        }
    }

    fn epoch() -> LocalTime {
        LocalTime {
            year: 1970,
            month: 1,
            day: 1,
            hour: 0,
            minute: 0,
            second: 0,
            weekday: 4,
            zone: "UTC".into(),
            offset: 0,
        }
    }
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const WEEKDAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

/// The strftime subset of T-031: `%B %b %m %A %a %d %H %I %M %S %Y %y %p %Z %z %%`, numbers
/// zero-padded; any other `%x` (and a trailing `%`) is copied as it is.
pub fn strftime(format: &str, t: &LocalTime) -> String {
    use std::fmt::Write;
    let month = MONTHS[(t.month.clamp(1, 12) - 1) as usize];
    let weekday = WEEKDAYS[(t.weekday % 7) as usize];
    let mut out = String::with_capacity(format.len() + 16);
    let mut chars = format.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let rest = chars.clone();
        let Some(d) = chars.next() else {
            out.push('%');
            break;
        };
        // Writing to a String cannot fail.
        let _ = match d {
            'B' => write!(out, "{month}"),
            'b' => write!(out, "{}", &month[..3]),
            'm' => write!(out, "{:02}", t.month),
            'A' => write!(out, "{weekday}"),
            'a' => write!(out, "{}", &weekday[..3]),
            'd' => write!(out, "{:02}", t.day),
            'H' => write!(out, "{:02}", t.hour),
            'I' => write!(
                out,
                "{:02}",
                if t.hour % 12 == 0 { 12 } else { t.hour % 12 }
            ),
            'M' => write!(out, "{:02}", t.minute),
            'S' => write!(out, "{:02}", t.second),
            'Y' => write!(out, "{:04}", t.year),
            'y' => write!(out, "{:02}", t.year.rem_euclid(100)),
            'p' => write!(out, "{}", if t.hour < 12 { "AM" } else { "PM" }),
            'Z' if !t.zone.is_empty() => write!(out, "{}", t.zone),
            'Z' | 'z' => {
                let sign = if t.offset < 0 { '-' } else { '+' };
                let m = t.offset.unsigned_abs() / 60;
                write!(out, "{sign}{:02}{:02}", m / 60, m % 60)
            }
            '%' => write!(out, "%"),
            _ => {
                // Unknown directive: keep the `%` and read the next character normally.
                out.push('%');
                chars = rest;
                Ok(())
            }
        };
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t() -> LocalTime {
        LocalTime {
            year: 2026,
            month: 11,
            day: 3,
            hour: 22,
            minute: 5,
            second: 9,
            weekday: 2,
            zone: "CET".into(),
            offset: 3600,
        }
    }

    #[test]
    fn strftime_directives() {
        assert_eq!(strftime("%Y-%m-%d_%H", &t()), "2026-11-03_22");
        assert_eq!(
            strftime("%B %b %A %a %I %M %S %y %p %Z %z %%", &t()),
            "November Nov Tuesday Tue 10 05 09 26 PM CET +0100 %"
        );
        let mut morning = t();
        morning.hour = 0;
        morning.offset = -(7 * 3600 + 30 * 60);
        morning.zone.clear();
        assert_eq!(strftime("%I%p %z %Z", &morning), "12AM -0730 -0730");
    }

    #[test]
    fn strftime_copies_unknown_directives_and_trailing_percent() {
        assert_eq!(strftime("a%qb%", &t()), "a%qb%");
        assert_eq!(strftime("%%Y", &t()), "%Y");
        assert_eq!(strftime("%é%Y", &t()), "%é2026");
        assert_eq!(strftime("plain", &t()), "plain");
    }

    fn settings(format: &str) -> NameSettings<'_> {
        NameSettings {
            filename_format: format,
            host_identifier: "",
            hostname: "vm.example.com",
            pid: 4242,
            gzip: false,
            rev_required: false,
        }
    }

    #[test]
    fn template_without_rev_drops_the_placeholder() {
        let s = settings("<TOPIC>.<HOST><REV>.<DATETIME>.log");
        let tpl = topic_template(&s, "h1").unwrap();
        assert_eq!(tpl, "h1.vm.<DATETIME>.log");
        assert_eq!(
            with_datetime(&tpl, "2026-11-22_22"),
            "h1.vm.2026-11-22_22.log"
        );
    }

    #[test]
    fn template_with_gzip_keeps_rev_and_adds_gz() {
        let mut s = settings("<TOPIC>.<HOST><REV>.<DATETIME>.log");
        s.gzip = true;
        s.rev_required = true;
        let tpl = topic_template(&s, "t1").unwrap();
        assert_eq!(tpl, "t1.vm<REV>.<DATETIME>.log.gz");
        let name = with_rev(&with_datetime(&tpl, "2026-11-22_22"), 0);
        assert_eq!(name, "t1.vm-000000.2026-11-22_22.log.gz");
        assert_eq!(with_rev("a<REV>", 1234567), "a-1234567");
        let mut s = settings("<TOPIC><REV>.gz");
        s.gzip = true;
        s.rev_required = true;
        assert_eq!(topic_template(&s, "t").unwrap(), "t<REV>.gz");
    }

    #[test]
    fn template_requires_rev_when_revisions_are_needed() {
        let mut s = settings("<TOPIC>.log");
        s.rev_required = true;
        let err = topic_template(&s, "t").unwrap_err();
        assert_eq!(
            err.to_string(),
            "missing <REV> in --filename-format when gzip, rotation, or work dir enabled"
        );
    }

    #[test]
    fn host_identifier_and_pid() {
        let mut s = settings("<HOST>|<PID>|<TOPIC>");
        assert_eq!(topic_template(&s, "t").unwrap(), "vm|4242|t");
        s.host_identifier = "<SHORT_HOST>+<HOSTNAME>";
        assert_eq!(topic_template(&s, "t").unwrap(), "vm+vm.example.com|4242|t");
        s.host_identifier = "fixed";
        assert_eq!(topic_template(&s, "t").unwrap(), "fixed|4242|t");
    }

    #[test]
    fn now_is_a_sane_local_time() {
        let now = LocalTime::now();
        assert!(now.year >= 2024);
        assert!((1..=12).contains(&now.month));
        assert!((1..=31).contains(&now.day));
        assert!(now.weekday < 7);
    }
}
