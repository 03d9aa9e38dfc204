//! NSQ's log line format as a `tracing` layer.
//!
//! Every line is `<prefix><YYYY/MM/DD HH:MM:SS.ffffff> <LEVEL>: <message>` on stderr, in
//! local time. Operators grep these lines and client test suites parse the listening
//! addresses out of them, so only the event's `message` is printed; other fields are
//! dropped. Levels print as DEBUG, INFO, WARNING, ERROR and FATAL; FATAL is an ERROR event
//! carrying `fatal = true`, which [`fatal!`](crate::fatal) adds.

use std::fmt::Write as _;
use std::io::Write as _;
use std::str::FromStr;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, OnceLock, RwLock};

use thiserror::Error;
use tracing::field::{Field, Visit};
use tracing::level_filters::LevelFilter;
use tracing::subscriber::Interest;
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::prelude::*;

/// NSQ's log levels; the numbers are what `/config/log_level` reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LogLevel {
    Debug = 1,
    Info = 2,
    Warn = 3,
    Error = 4,
    Fatal = 5,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("invalid log level '{0}' (debug, info, warn, error, fatal)")]
pub struct LogLevelError(pub String);

impl LogLevel {
    /// Accepts `debug`, `info`, `warn`, `error`, `fatal` in any letter case, like NSQ.
    /// (`warning` is not accepted there either.)
    pub fn parse(s: &str) -> Result<LogLevel, LogLevelError> {
        match s.to_ascii_lowercase().as_str() {
            "debug" => Ok(LogLevel::Debug),
            "info" => Ok(LogLevel::Info),
            "warn" => Ok(LogLevel::Warn),
            "error" => Ok(LogLevel::Error),
            "fatal" => Ok(LogLevel::Fatal),
            _ => Err(LogLevelError(s.to_string())),
        }
    }

    pub fn as_int(self) -> i64 {
        self as i64
    }

    /// The word printed in log lines (and as the flag default, `INFO`).
    pub fn label(self) -> &'static str {
        match self {
            LogLevel::Debug => "DEBUG",
            LogLevel::Info => "INFO",
            LogLevel::Warn => "WARNING",
            LogLevel::Error => "ERROR",
            LogLevel::Fatal => "FATAL",
        }
    }

    fn from_u8(v: u8) -> LogLevel {
        match v {
            1 => LogLevel::Debug,
            2 => LogLevel::Info,
            3 => LogLevel::Warn,
            4 => LogLevel::Error,
            _ => LogLevel::Fatal,
        }
    }

    fn filter(self) -> LevelFilter {
        match self {
            LogLevel::Debug => LevelFilter::TRACE,
            LogLevel::Info => LevelFilter::INFO,
            LogLevel::Warn => LevelFilter::WARN,
            LogLevel::Error | LogLevel::Fatal => LevelFilter::ERROR,
        }
    }
}

impl std::fmt::Display for LogLevel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

impl FromStr for LogLevel {
    type Err = LogLevelError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        LogLevel::parse(s)
    }
}

/// Logs at ERROR with the fatal marker, so the line reads `FATAL: ...`. It does not exit:
/// the caller decides how to stop.
#[macro_export]
macro_rules! fatal {
    ($($arg:tt)+) => {
        $crate::__tracing::error!(fatal = true, $($arg)+)
    };
}

/// Level and prefix shared between a layer and whoever changes them at runtime.
struct LogState {
    level: AtomicU8,
    prefix: RwLock<String>,
}

impl LogState {
    fn new(prefix: &str, level: LogLevel) -> Self {
        LogState {
            level: AtomicU8::new(level as u8),
            prefix: RwLock::new(prefix.to_string()),
        }
    }

    fn level(&self) -> LogLevel {
        LogLevel::from_u8(self.level.load(Ordering::Relaxed))
    }
}

type Sink = Box<dyn Fn(&[u8]) + Send + Sync>;

/// The layer that prints NSQ log lines.
pub struct NsqLayer {
    state: Arc<LogState>,
    sink: Sink,
}

impl NsqLayer {
    /// A layer with its own level and prefix, writing each line through `sink` (one call per
    /// line). Mostly for tests; daemons use [`init`].
    pub fn new(
        prefix: &str,
        level: LogLevel,
        sink: impl Fn(&[u8]) + Send + Sync + 'static,
    ) -> Self {
        NsqLayer {
            state: Arc::new(LogState::new(prefix, level)),
            sink: Box::new(sink),
        }
    }

    pub fn set_level(&self, level: LogLevel) {
        self.state.level.store(level as u8, Ordering::Relaxed);
        tracing::callsite::rebuild_interest_cache();
    }
}

fn event_level(level: &Level) -> LogLevel {
    match *level {
        Level::TRACE | Level::DEBUG => LogLevel::Debug,
        Level::INFO => LogLevel::Info,
        Level::WARN => LogLevel::Warn,
        Level::ERROR => LogLevel::Error,
    }
}

#[derive(Default)]
struct MessageVisitor {
    message: String,
    fatal: bool,
}

impl Visit for MessageVisitor {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        }
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        if field.name() == "fatal" {
            self.fatal = value;
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        }
    }
}

impl<S: Subscriber> Layer<S> for NsqLayer {
    fn register_callsite(&self, metadata: &'static Metadata<'static>) -> Interest {
        if metadata.is_event() {
            // The level can change at runtime, so never let tracing cache a yes or no.
            Interest::sometimes()
        } else {
            Interest::never()
        }
    }

    fn enabled(&self, metadata: &Metadata<'_>, _ctx: Context<'_, S>) -> bool {
        // FATAL filtering needs the event's fields, so ERROR passes here and on_event decides.
        metadata.is_event()
            && event_level(metadata.level()).min(LogLevel::Error)
                >= self.state.level().min(LogLevel::Error)
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(self.state.level().filter())
    }

    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let mut visitor = MessageVisitor::default();
        event.record(&mut visitor);
        let level = if visitor.fatal {
            LogLevel::Fatal
        } else {
            event_level(event.metadata().level())
        };
        if level < self.state.level() {
            return;
        }
        let prefix = self
            .state
            .prefix
            .read()
            .map(|p| p.clone())
            .unwrap_or_default();
        let line = format_line(&prefix, chrono::Local::now(), level, &visitor.message);
        (self.sink)(line.as_bytes());
    }
}

/// One complete log line, newline included (Go's logger adds one only when missing).
fn format_line<Tz: chrono::TimeZone>(
    prefix: &str,
    now: chrono::DateTime<Tz>,
    level: LogLevel,
    message: &str,
) -> String
where
    Tz::Offset: std::fmt::Display,
{
    let mut line = String::with_capacity(prefix.len() + message.len() + 40);
    line.push_str(prefix);
    let _ = write!(
        line,
        "{} {}: {}",
        now.format("%Y/%m/%d %H:%M:%S%.6f"),
        level.label(),
        message
    );
    if !line.ends_with('\n') {
        line.push('\n');
    }
    line
}

fn write_stderr(line: &[u8]) {
    // Stderr is unbuffered and locked, so a line is written whole and never interleaved
    // with another thread's line.
    let _ = std::io::stderr().lock().write_all(line);
}

static GLOBAL: OnceLock<Arc<LogState>> = OnceLock::new();

/// Installs the NSQ log layer as the process-wide subscriber. Calling it again only updates
/// the prefix and level (the subscriber can be installed once per process).
pub fn init(prefix: &str, level: LogLevel) {
    let mut first = false;
    let state = GLOBAL.get_or_init(|| {
        first = true;
        Arc::new(LogState::new(prefix, level))
    });
    if let Ok(mut p) = state.prefix.write() {
        p.clear();
        p.push_str(prefix);
    }
    state.level.store(level as u8, Ordering::Relaxed);
    if first {
        let layer = NsqLayer {
            state: Arc::clone(state),
            sink: Box::new(write_stderr),
        };
        // Fails only if something else installed a global subscriber first; then that one
        // keeps logging and there is nothing better to do.
        let _ = tracing::subscriber::set_global_default(tracing_subscriber::registry().with(layer));
    }
    tracing::callsite::rebuild_interest_cache();
}

/// Changes the level of the process-wide logger (e.g. after `PUT /config/log_level`).
pub fn set_level(level: LogLevel) {
    if let Some(state) = GLOBAL.get() {
        state.level.store(level as u8, Ordering::Relaxed);
        tracing::callsite::rebuild_interest_cache();
    }
}

/// The current level of the process-wide logger (INFO before [`init`]).
pub fn level() -> LogLevel {
    GLOBAL.get().map_or(LogLevel::Info, |s| s.level())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    fn capture(prefix: &str, level: LogLevel) -> (NsqLayer, Arc<Mutex<Vec<String>>>) {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink_lines = Arc::clone(&lines);
        let layer = NsqLayer::new(prefix, level, move |b: &[u8]| {
            sink_lines
                .lock()
                .unwrap()
                .push(String::from_utf8(b.to_vec()).unwrap());
        });
        (layer, lines)
    }

    /// Strips the 26-character timestamp and its space after the prefix, checking its shape.
    fn without_time(line: &str, prefix: &str) -> String {
        let rest = line.strip_prefix(prefix).unwrap();
        let (stamp, tail) = rest.split_at(26);
        let tail = tail.strip_prefix(' ').unwrap();
        let b = stamp.as_bytes();
        assert_eq!(
            (b[4], b[7], b[10], b[13], b[16], b[19]),
            (b'/', b'/', b' ', b':', b':', b'.'),
            "{line}"
        );
        assert!(
            stamp.chars().filter(|c| c.is_ascii_digit()).count() == 20,
            "{line}"
        );
        format!("{prefix}{tail}")
    }

    #[test]
    fn parses_levels_like_nsq() {
        assert_eq!(LogLevel::parse("debug"), Ok(LogLevel::Debug));
        assert_eq!(LogLevel::parse("INFO"), Ok(LogLevel::Info));
        assert_eq!(LogLevel::parse("Warn"), Ok(LogLevel::Warn));
        assert_eq!(LogLevel::parse("error"), Ok(LogLevel::Error));
        assert_eq!(LogLevel::parse("fatal"), Ok(LogLevel::Fatal));
        assert_eq!(
            LogLevel::parse("warning").unwrap_err().to_string(),
            "invalid log level 'warning' (debug, info, warn, error, fatal)"
        );
        assert!(LogLevel::parse("info\n").is_err());
        let ints: Vec<i64> = [
            LogLevel::Debug,
            LogLevel::Info,
            LogLevel::Warn,
            LogLevel::Error,
            LogLevel::Fatal,
        ]
        .iter()
        .map(|l| l.as_int())
        .collect();
        assert_eq!(ints, vec![1, 2, 3, 4, 5]);
        assert_eq!(LogLevel::Info.to_string(), "INFO");
        assert_eq!(LogLevel::Warn.to_string(), "WARNING");
    }

    #[test]
    fn line_layout() {
        use chrono::TimeZone;
        let t = chrono::Utc
            .with_ymd_and_hms(2026, 11, 22, 22, 44, 29)
            .unwrap()
            + chrono::Duration::microseconds(642_552);
        assert_eq!(
            format_line(
                "[nsqd] ",
                t,
                LogLevel::Info,
                "TCP: listening on 127.0.0.1:33525"
            ),
            "[nsqd] 2026/11/22 22:44:29.642552 INFO: TCP: listening on 127.0.0.1:33525\n"
        );
        assert_eq!(
            format_line("", t, LogLevel::Warn, "x\n"),
            "2026/11/22 22:44:29.642552 WARNING: x\n"
        );
    }

    #[test]
    fn prints_only_the_message_with_nsq_labels() {
        let (layer, lines) = capture("[nsqd] ", LogLevel::Debug);
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(subscriber, || {
            tracing::debug!("d {}", 1);
            tracing::info!(client = "x", "TCP: listening on {}", "127.0.0.1:4150");
            tracing::warn!("w");
            tracing::error!("e");
            crate::fatal!("failed to instantiate nsqd - {}", "boom");
        });
        let got: Vec<String> = lines
            .lock()
            .unwrap()
            .iter()
            .map(|l| without_time(l, "[nsqd] "))
            .collect();
        assert_eq!(
            got,
            vec![
                "[nsqd] DEBUG: d 1\n",
                "[nsqd] INFO: TCP: listening on 127.0.0.1:4150\n",
                "[nsqd] WARNING: w\n",
                "[nsqd] ERROR: e\n",
                "[nsqd] FATAL: failed to instantiate nsqd - boom\n",
            ]
        );
    }

    #[test]
    fn level_filters_and_changes_at_runtime() {
        let (layer, lines) = capture("", LogLevel::Warn);
        let state = Arc::clone(&layer.state);
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!("hidden");
            tracing::warn!("shown");
            state.level.store(LogLevel::Debug as u8, Ordering::Relaxed);
            tracing::callsite::rebuild_interest_cache();
            tracing::debug!("now shown");
            state.level.store(LogLevel::Fatal as u8, Ordering::Relaxed);
            tracing::callsite::rebuild_interest_cache();
            tracing::error!("hidden error");
            crate::fatal!("shown fatal");
        });
        let got: Vec<String> = lines
            .lock()
            .unwrap()
            .iter()
            .map(|l| without_time(l, ""))
            .collect();
        assert_eq!(
            got,
            vec![
                "WARNING: shown\n",
                "DEBUG: now shown\n",
                "FATAL: shown fatal\n"
            ]
        );
    }

    #[test]
    fn init_twice_does_not_panic() {
        init("[a] ", LogLevel::Info);
        init("[b] ", LogLevel::Debug);
        assert_eq!(level(), LogLevel::Debug);
        set_level(LogLevel::Error);
        assert_eq!(level(), LogLevel::Error);
    }
}
