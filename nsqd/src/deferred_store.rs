//! The deferred side file: what go-diskqueue's records cannot hold (a deferred message's due
//! time), kept next to a channel's disk queue so a clean restart keeps deferred messages on
//! their schedule (nsqio/nsq#1107) instead of delivering them at once (BEH-042).
//!
//! `<data-path>/<topic>:<channel>.deferred.dat` is text:
//!
//! ```text
//! nsqd-deferred 1
//! <16-byte message id> <due time, unix ns>
//! ```
//!
//! At shutdown a channel writes its deferred messages to its disk queue as NSQ does (BEH-101)
//! and their due times here. At start-up, a record read from the disk queue whose id is listed
//! with a due time still ahead goes to the deferred queue instead of a client. Go nsqd never
//! opens this file, so it reads the same directory and just delivers those messages at once.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use foldhash::fast::FixedState;
use nsq_protocol::message::MessageId;

const HEADER: &str = "nsqd-deferred 1";

/// Message id → due time (unix ns).
pub type DueTimes = HashMap<MessageId, i64, FixedState>;

pub fn path(data_path: &Path, queue_name: &str) -> PathBuf {
    data_path.join(format!("{queue_name}.deferred.dat"))
}

/// Reads a side file; a missing file is an empty table. Lines that do not parse are skipped
/// with a warning (the messages are then delivered without their delay, as NSQ would).
pub fn load(file: &Path) -> DueTimes {
    let mut due = DueTimes::default();
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return due,
        Err(e) => {
            tracing::warn!("failed to read {} - {}", file.display(), e);
            return due;
        }
    };
    let mut lines = text.lines();
    if lines.next() != Some(HEADER) {
        tracing::warn!("ignoring {}: unknown format", file.display());
        return due;
    }
    for line in lines {
        match parse_line(line) {
            Some((id, at)) => {
                due.insert(id, at);
            }
            None => tracing::warn!("skipping bad line in {}: {:?}", file.display(), line),
        }
    }
    due
}

fn parse_line(line: &str) -> Option<(MessageId, i64)> {
    let (id, at) = line.split_once(' ')?;
    let id: MessageId = id.as_bytes().try_into().ok()?;
    Some((id, at.parse().ok()?))
}

/// Replaces the side file with `entries` (atomically: temp file, fsync, rename), or removes it
/// when there are none.
pub fn store(file: &Path, entries: &[(MessageId, i64)]) -> std::io::Result<()> {
    if entries.is_empty() {
        return match std::fs::remove_file(file) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        };
    }
    let mut text = String::with_capacity(HEADER.len() + 1 + entries.len() * 38);
    text.push_str(HEADER);
    text.push('\n');
    for (id, at) in entries {
        text.push_str(&String::from_utf8_lossy(id));
        text.push(' ');
        text.push_str(&at.to_string());
        text.push('\n');
    }
    let mut tmp = file.as_os_str().to_owned();
    tmp.push(format!(".{}.tmp", rand::random::<u32>()));
    let tmp = PathBuf::from(tmp);
    let written = write_synced(&tmp, text.as_bytes()).and_then(|()| std::fs::rename(&tmp, file));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

pub fn remove(file: &Path) {
    if let Err(e) = std::fs::remove_file(file) {
        if e.kind() != std::io::ErrorKind::NotFound {
            tracing::warn!("failed to remove {} - {}", file.display(), e);
        }
    }
}

fn write_synced(p: &Path, data: &[u8]) -> std::io::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(p)?;
    f.write_all(data)?;
    f.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_exact_text() {
        let dir = tempfile::tempdir().unwrap();
        let file = path(dir.path(), "t:c");
        assert_eq!(file, dir.path().join("t:c.deferred.dat"));
        assert!(load(&file).is_empty());
        store(
            &file,
            &[
                (*b"0a1b2c3d4e5f6789", 1_700_000_000_123_456_789),
                (*b"0a1b2c3d4e5f678a", 5),
            ],
        )
        .unwrap();
        assert_eq!(
            std::fs::read_to_string(&file).unwrap(),
            "nsqd-deferred 1\n0a1b2c3d4e5f6789 1700000000123456789\n0a1b2c3d4e5f678a 5\n"
        );
        let due = load(&file);
        assert_eq!(due.len(), 2);
        assert_eq!(due[b"0a1b2c3d4e5f6789"], 1_700_000_000_123_456_789);
        store(&file, &[]).unwrap();
        assert!(!file.exists());
        store(&file, &[]).unwrap();
    }

    #[test]
    fn bad_lines_and_unknown_formats_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let file = path(dir.path(), "t:c");
        std::fs::write(
            &file,
            "nsqd-deferred 1\nshort 5\n0a1b2c3d4e5f6789 x\n0a1b2c3d4e5f6789 7\n",
        )
        .unwrap();
        let due = load(&file);
        assert_eq!(due.len(), 1);
        assert_eq!(due[b"0a1b2c3d4e5f6789"], 7);
        std::fs::write(&file, "something else\n0a1b2c3d4e5f6789 7\n").unwrap();
        assert!(load(&file).is_empty());
    }
}
