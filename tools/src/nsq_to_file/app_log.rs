//! nsq_to_file's own log lines: `<prefix><date> <time>.<µs> <LEVEL>: <msg>` on stderr, filtered
//! by `--log-level` (NSQ's `lg` levels).

use std::fmt::Arguments;
use std::io::Write;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Debug = 1,
    Info,
    Warn,
    Error,
    Fatal,
}

impl Level {
    /// `debug`, `info`, `warn`, `error` or `fatal`, in any case.
    pub fn parse(s: &str) -> Option<Level> {
        Some(match s.to_ascii_lowercase().as_str() {
            "debug" => Level::Debug,
            "info" => Level::Info,
            "warn" => Level::Warn,
            "error" => Level::Error,
            "fatal" => Level::Fatal,
            _ => return None,
        })
    }

    fn label(self) -> &'static str {
        match self {
            Level::Debug => "DEBUG",
            Level::Info => "INFO",
            Level::Warn => "WARNING",
            Level::Error => "ERROR",
            Level::Fatal => "FATAL",
        }
    }
}

pub struct AppLog {
    prefix: String,
    level: Level,
}

impl AppLog {
    pub fn new(prefix: &str, level: Level) -> AppLog {
        AppLog {
            prefix: prefix.to_string(),
            level,
        }
    }

    pub fn enabled(&self, level: Level) -> bool {
        level >= self.level
    }

    pub fn log(&self, level: Level, msg: Arguments<'_>) {
        if !self.enabled(level) {
            return;
        }
        let now = chrono::Local::now().format("%Y/%m/%d %H:%M:%S%.6f");
        let line = format!("{}{now} {}: {msg}\n", self.prefix, level.label());
        // One write per line so lines from several topics do not interleave.
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }

    pub fn debug(&self, msg: Arguments<'_>) {
        self.log(Level::Debug, msg);
    }

    pub fn info(&self, msg: Arguments<'_>) {
        self.log(Level::Info, msg);
    }

    pub fn warn(&self, msg: Arguments<'_>) {
        self.log(Level::Warn, msg);
    }

    pub fn error(&self, msg: Arguments<'_>) {
        self.log(Level::Error, msg);
    }

    /// Logs at FATAL and exits with status 1, as the reference does on file errors.
    pub fn fatal(&self, msg: Arguments<'_>) -> ! {
        self.log(Level::Fatal, msg);
        std::process::exit(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_parse_case_insensitively_and_order() {
        assert_eq!(Level::parse("DEBUG"), Some(Level::Debug));
        assert_eq!(Level::parse("warn"), Some(Level::Warn));
        assert_eq!(Level::parse("warning"), None);
        let log = AppLog::new("", Level::Warn);
        assert!(!log.enabled(Level::Info));
        assert!(log.enabled(Level::Error));
    }
}
