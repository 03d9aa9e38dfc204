//! Reading records back: read-ahead, moving through data files, corruption.

use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::sync::atomic::Ordering;

use bytes::{Bytes, BytesMut};
use tracing::{error, info, warn};

use super::{lock, ReadState, Shared, READ_CHUNK, RECORD_HEADER};

impl Shared {
    pub(super) fn next_record(&self, r: &mut ReadState) -> Option<Bytes> {
        loop {
            if !behind(r.file_num, r.pos, r.writer) {
                self.refresh_writer(r);
                if !behind(r.file_num, r.pos, r.writer) {
                    if self.depth.load(Ordering::Acquire) != 0 {
                        // Metadata from an unclean stop can leave a depth
                        // no record backs; don't report phantom records.
                        self.check_tail(r);
                    }
                    if r.buf.is_empty() {
                        // Idle: let go of the read-ahead allocation.
                        r.buf = BytesMut::new();
                    }
                    return None;
                }
            }
            if r.file.is_none() {
                if let Err(e) = self.open_read_file(r) {
                    self.handle_read_error(r, e);
                    continue;
                }
            }
            let complete = r.file_num < r.writer.0;
            let bound = if complete {
                match self.complete_file_end(r) {
                    Ok(end) => end,
                    Err(e) => {
                        self.handle_read_error(r, e);
                        continue;
                    }
                }
            } else {
                r.writer.1
            };

            let need = if r.buf.len() >= RECORD_HEADER {
                let len = i32::from_be_bytes([r.buf[0], r.buf[1], r.buf[2], r.buf[3]]);
                if len < self.min_msg_size || len > self.max_msg_size {
                    let e = invalid_data(format!("invalid message read size ({len})"));
                    self.handle_read_error(r, e);
                    continue;
                }
                let total = RECORD_HEADER + len as usize;
                if r.buf.len() >= total {
                    return Some(self.consume(r, total));
                }
                total - r.buf.len()
            } else {
                RECORD_HEADER - r.buf.len()
            };

            let end = r.pos + r.buf.len() as i64;
            if end + need as i64 > bound {
                if !complete {
                    let seen = r.writer;
                    self.refresh_writer(r);
                    if r.writer != seen {
                        continue;
                    }
                    // The writer only ever publishes whole records.
                    let e = invalid_data("record runs past the write position".to_string());
                    self.handle_read_error(r, e);
                } else if r.buf.is_empty() && end == bound {
                    // Reached while the file was still the write file (the
                    // writer rolled after our last record); Go 1.1.0 would
                    // call this EOF corruption, but nothing is missing.
                    self.advance_read_file(r);
                } else {
                    let e = io::Error::new(io::ErrorKind::UnexpectedEof, "unexpected EOF");
                    self.handle_read_error(r, e);
                }
                continue;
            }
            let available = (bound - end) as usize;
            let want = need.max(READ_CHUNK).min(available);
            if let Err(e) = fill(r, need, want) {
                self.handle_read_error(r, e);
            }
        }
    }

    pub(super) fn open_read_file(&self, r: &mut ReadState) -> io::Result<()> {
        let path = self.data_file(r.file_num);
        let mut file = File::open(&path)?;
        info!(
            "DISKQUEUE({}): readOne() opened {}",
            self.name,
            path.display()
        );
        if r.pos > 0 {
            file.seek(SeekFrom::Start(r.pos as u64))?;
        }
        r.file = Some(file);
        r.buf.clear();
        r.file_end = None;
        Ok(())
    }

    pub(super) fn complete_file_end(&self, r: &mut ReadState) -> io::Result<i64> {
        if let Some(end) = r.file_end {
            return Ok(end);
        }
        let Some(file) = r.file.as_ref() else {
            return Err(io::Error::other("read file not open"));
        };
        let end = i64::try_from(file.metadata()?.len()).unwrap_or(i64::MAX);
        r.file_end = Some(end);
        Ok(end)
    }

    /// Hands over the first `total` buffered bytes as a record.
    pub(super) fn consume(&self, r: &mut ReadState, total: usize) -> Bytes {
        let record = r.buf.split_to(total).freeze().slice(RECORD_HEADER..);
        r.pos += total as i64;
        self.depth.fetch_sub(1, Ordering::AcqRel);
        self.ops_since_sync.fetch_add(1, Ordering::AcqRel);
        let finished_file = r.file_num < r.writer.0 && r.file_end.is_some_and(|end| r.pos >= end);
        if finished_file {
            self.advance_read_file(r);
        } else {
            self.check_tail(r);
        }
        record
    }

    /// The read file is fully consumed: delete it and move on (DQ-007).
    pub(super) fn advance_read_file(&self, r: &mut ReadState) {
        r.file = None;
        r.buf.clear();
        r.file_end = None;
        let path = self.data_file(r.file_num);
        if let Err(e) = fs::remove_file(&path) {
            error!(
                "DISKQUEUE({}) failed to Remove({}) - {}",
                self.name,
                path.display(),
                e
            );
        }
        r.file_num += 1;
        r.pos = 0;
        self.need_sync.store(true, Ordering::Release);
        self.check_tail(r);
    }

    pub(super) fn refresh_writer(&self, r: &mut ReadState) {
        let w = lock(&self.write);
        r.writer = (w.file_num, w.pos);
    }

    /// DQ-010: set the unreadable file aside as `.bad` and go on with the
    /// next one. Depth cannot know what was lost; `check_tail` fixes it once
    /// the reader catches up.
    pub(super) fn handle_read_error(&self, r: &mut ReadState, err: io::Error) {
        let path = self.data_file(r.file_num);
        error!(
            "DISKQUEUE({}) reading at {} of {} - {}",
            self.name,
            r.pos,
            path.display(),
            err
        );
        r.file = None;
        r.buf.clear();
        r.file_end = None;
        {
            let mut w = lock(&self.write);
            if w.file_num == r.file_num {
                // The write file is damaged too; don't append to it.
                w.file = None;
                w.torn = false;
                w.file_num += 1;
                w.pos = 0;
            }
            r.writer = (w.file_num, w.pos);
        }
        let mut bad = path.clone().into_os_string();
        bad.push(".bad");
        let bad = PathBuf::from(bad);
        warn!(
            "DISKQUEUE({}) jump to next file and saving bad file as {}",
            self.name,
            bad.display()
        );
        if let Err(e) = fs::rename(&path, &bad) {
            error!(
                "DISKQUEUE({}) failed to rename bad diskqueue file {} to {} - {}",
                self.name,
                path.display(),
                bad.display(),
                e
            );
        }
        r.file_num += 1;
        r.pos = 0;
        self.need_sync.store(true, Ordering::Release);
        self.check_tail(r);
    }

    /// DQ-011: once the reader has caught up, depth must be 0 and the
    /// positions must match.
    pub(super) fn check_tail(&self, r: &mut ReadState) {
        if behind(r.file_num, r.pos, r.writer) {
            return;
        }
        let mut w = lock(&self.write);
        r.writer = (w.file_num, w.pos);
        if behind(r.file_num, r.pos, r.writer) {
            return;
        }
        let depth = self.depth.load(Ordering::Acquire);
        if depth != 0 {
            if depth < 0 {
                error!(
                    "DISKQUEUE({}) negative depth at tail ({}), metadata corruption, resetting 0...",
                    self.name, depth
                );
            } else {
                error!(
                    "DISKQUEUE({}) positive depth at tail ({}), data loss, resetting 0...",
                    self.name, depth
                );
            }
            self.depth.store(0, Ordering::Release);
            self.need_sync.store(true, Ordering::Release);
        }
        if (r.file_num, r.pos) != (w.file_num, w.pos) {
            if r.file_num > w.file_num {
                error!(
                    "DISKQUEUE({}) readFileNum > writeFileNum ({} > {}), corruption, skipping to next writeFileNum and resetting 0...",
                    self.name, r.file_num, w.file_num
                );
            }
            if r.pos > w.pos {
                error!(
                    "DISKQUEUE({}) readPos > writePos ({} > {}), corruption, skipping to next writeFileNum and resetting 0...",
                    self.name, r.pos, w.pos
                );
            }
            // Failures are logged inside; the positions move on regardless.
            let _ = self.skip_to_next_rw_file(r, &mut w);
            self.need_sync.store(true, Ordering::Release);
        }
    }
}

/// Whether the reader at (`file_num`, `pos`) has data before `writer`.
pub(super) fn behind(file_num: i64, pos: i64, writer: (i64, i64)) -> bool {
    (file_num, pos) < writer
}

/// Reads at least `need` and at most `want` more bytes into the read-ahead buffer.
pub(super) fn fill(r: &mut ReadState, need: usize, want: usize) -> io::Result<()> {
    let ReadState { file, buf, .. } = r;
    let Some(file) = file.as_mut() else {
        return Err(io::Error::other("read file not open"));
    };
    let start = buf.len();
    buf.resize(start + want, 0);
    let mut got = 0;
    let result = loop {
        if got >= need {
            break Ok(());
        }
        match file.read(&mut buf[start + got..]) {
            Ok(0) => {
                break Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "unexpected EOF",
                ));
            }
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => break Err(e),
        }
    };
    buf.truncate(start + got);
    result
}

pub(super) fn invalid_data(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}
