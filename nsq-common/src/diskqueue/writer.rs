//! Appending records: batching, rollover to the next data file, torn writes.

use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::sync::atomic::Ordering;

use tracing::info;

use super::{lock, DiskQueueError, Shared, WriteState, RECORD_HEADER, WRITE_CHUNK};

impl Shared {
    /// Returns how many records were stored, and the first error.
    pub(super) fn write_records(&self, records: &[&[u8]]) -> (usize, Result<(), DiskQueueError>) {
        let mut guard = lock(&self.write);
        if self.exiting.load(Ordering::Acquire) {
            return (0, Err(DiskQueueError::Exiting));
        }
        let w = &mut *guard;
        w.buf.clear();
        let mut written = 0;
        let mut pending = 0;
        let mut result = Ok(());
        for record in records {
            let total = (RECORD_HEADER + record.len()) as i64;
            let end = w.pos + w.buf.len() as i64;
            // DQ-006: never split a record; one larger than a file goes alone
            // into a fresh file.
            let roll = end > 0 && end + total > self.max_bytes_per_file;
            if roll || w.buf.len() >= WRITE_CHUNK {
                if let Err(e) = self.flush_records(w, pending) {
                    result = Err(e);
                    pending = 0;
                    break;
                }
                written += pending;
                pending = 0;
            }
            if roll {
                if let Some(file) = w.file.take() {
                    w.retired.push((w.file_num, file));
                }
                w.file_num += 1;
                w.pos = 0;
                w.torn = false;
                self.need_sync.store(true, Ordering::Release);
            }
            // Sizes were checked against max_msg_size (an i32) by the caller.
            w.buf
                .extend_from_slice(&(record.len() as u32).to_be_bytes());
            w.buf.extend_from_slice(record);
            pending += 1;
        }
        if pending > 0 {
            match self.flush_records(w, pending) {
                Ok(()) => written += pending,
                Err(e) => result = Err(e),
            }
        }
        if w.buf.capacity() > WRITE_CHUNK {
            w.buf = Vec::new();
        }
        (written, result)
    }

    /// Writes `w.buf` (holding `records` whole records) at the write position.
    pub(super) fn flush_records(
        &self,
        w: &mut WriteState,
        records: usize,
    ) -> Result<(), DiskQueueError> {
        if w.buf.is_empty() {
            return Ok(());
        }
        let len = w.buf.len() as i64;
        let mut file = match w.file.take() {
            Some(file) => file,
            None => self.open_write_file(w)?,
        };
        match file.write_all(&w.buf) {
            Ok(()) => {
                w.file = Some(file);
                w.buf.clear();
                w.pos += len;
                self.depth.fetch_add(records as i64, Ordering::AcqRel);
                self.ops_since_sync
                    .fetch_add(records as i64, Ordering::AcqRel);
                self.written.fetch_add(records as u64, Ordering::AcqRel);
                Ok(())
            }
            Err(source) => {
                // The next put reopens the file and writes again from `pos`,
                // as Go does. This handle waits for the next sync: records
                // it wrote before the failure are not yet on stable storage.
                w.retired.push((w.file_num, file));
                w.buf.clear();
                w.torn = true;
                Err(DiskQueueError::Io {
                    op: "write",
                    path: self.data_file(w.file_num),
                    source,
                })
            }
        }
    }

    pub(super) fn open_write_file(&self, w: &mut WriteState) -> Result<File, DiskQueueError> {
        let path = self.data_file(w.file_num);
        let io_err = |op, source| DiskQueueError::Io {
            op,
            path: path.clone(),
            source,
        };
        let mut options = OpenOptions::new();
        options.read(true).write(true).create(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(&path).map_err(|e| io_err("open", e))?;
        info!(
            "DISKQUEUE({}): writeOne() opened {}",
            self.name,
            path.display()
        );
        if w.torn {
            // Drop a partial record left by the failed write so the reader
            // never meets it once this file is complete.
            file.set_len(w.pos as u64)
                .map_err(|e| io_err("truncate", e))?;
            w.torn = false;
        }
        if w.pos > 0 {
            file.seek(SeekFrom::Start(w.pos as u64))
                .map_err(|e| io_err("seek", e))?;
        }
        Ok(file)
    }
}
