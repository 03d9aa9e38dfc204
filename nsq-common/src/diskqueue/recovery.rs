//! Opening after a crash: records written after the last metadata sync.

use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom};

use tracing::{error, warn};

use super::meta::Meta;
use super::{data_file_name, DiskQueueConfig, RECORD_HEADER};

/// DQ-009 and beyond: records put after the last sync sit past the
/// metadata's write position, in the write file and possibly in files after
/// it (a rollover whose sync never ran). Appending there would overwrite
/// them, so writing resumes in the first file number after all of them,
/// the reader works through them as complete files, and depth counts them.
pub(super) fn recover_unsynced_writes(cfg: &DiskQueueConfig, m: &mut Meta) {
    let size_of = |num: i64| -> Option<u64> {
        let path = data_file_name(&cfg.data_path, &cfg.name, num);
        match fs::metadata(&path) {
            Ok(md) => Some(md.len()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => {
                error!(
                    "DISKQUEUE({}) failed to stat {} - {}",
                    cfg.name,
                    path.display(),
                    e
                );
                None
            }
        }
    };
    let mut last = m.write_file_num;
    let mut from = u64::try_from(m.write_pos).unwrap_or(0);
    let mut moved = false;
    let mut extra = 0;
    loop {
        if let Some(size) = size_of(last) {
            if size > from {
                if last == m.write_file_num {
                    warn!(
                        "DISKQUEUE({}) {} metadata writePos {} < file size of {}, skipping to new file",
                        cfg.name,
                        data_file_name(&cfg.data_path, &cfg.name, last).display(),
                        m.write_pos,
                        size
                    );
                }
                extra += count_records(cfg, last, from);
                moved = true;
            }
        }
        if size_of(last + 1).is_none() {
            break;
        }
        warn!(
            "DISKQUEUE({}) found {} past the metadata's write file, reading it as written",
            cfg.name,
            data_file_name(&cfg.data_path, &cfg.name, last + 1).display()
        );
        last += 1;
        from = 0;
        moved = true;
    }
    if moved {
        m.write_file_num = last + 1;
        m.write_pos = 0;
        m.depth += extra;
    }
}

/// Whole records from `from` to the end of data file `num` (a torn last
/// record is not counted; the reader sets it aside as corruption).
pub(super) fn count_records(cfg: &DiskQueueConfig, num: i64, from: u64) -> i64 {
    let path = data_file_name(&cfg.data_path, &cfg.name, num);
    let Ok(file) = File::open(&path) else {
        return 0;
    };
    let Ok(size) = file.metadata().map(|md| md.len()) else {
        return 0;
    };
    let mut reader = io::BufReader::with_capacity(64 * 1024, file);
    if reader.seek(SeekFrom::Start(from)).is_err() {
        return 0;
    }
    let mut pos = from;
    let mut count = 0;
    let mut header = [0u8; RECORD_HEADER];
    while pos + RECORD_HEADER as u64 <= size {
        if reader.read_exact(&mut header).is_err() {
            break;
        }
        let len = i32::from_be_bytes(header);
        if len < cfg.min_msg_size || len > cfg.max_msg_size {
            break;
        }
        let end = pos + (RECORD_HEADER as u64) + len as u64;
        if end > size || reader.seek_relative(i64::from(len)).is_err() {
            break;
        }
        pos = end;
        count += 1;
    }
    count
}
