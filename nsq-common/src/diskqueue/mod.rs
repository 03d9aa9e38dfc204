//! A file-backed FIFO queue that reads and writes go-diskqueue v1.1.0's
//! on-disk format (spec §4), so a data directory can move between the Go
//! nsqd and this one.
//!
//! Records are `[4-byte BE length][bytes]`, appended to
//! `<name>.diskqueue.%06d.dat` files; positions live in the text file
//! `<name>.diskqueue.meta.dat`.
//!
//! Unlike the Go version there is no I/O goroutine: `put` writes in the
//! calling thread and `try_read` reads ahead in the calling thread. Writers
//! and the reader take separate locks so a chunk refill never stalls a put.
//! Lock order, whenever more than one is held: sync → read → write.

mod meta;
#[cfg(test)]
mod tests;

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, RwLock, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use tracing::{error, info, warn};

use meta::Meta;

/// How much the reader asks the OS for at once when there is a backlog.
const READ_CHUNK: usize = 128 * 1024;
/// Bytes gathered before one write call during a large batch; also the
/// largest write buffer kept between puts.
const WRITE_CHUNK: usize = 1024 * 1024;
const RECORD_HEADER: usize = 4;

/// Settings fixed for the queue's lifetime (nsqd's `--max-bytes-per-file`,
/// message size limits, `--sync-every` and `--sync-timeout`).
#[derive(Debug, Clone)]
pub struct DiskQueueConfig {
    pub name: String,
    pub data_path: PathBuf,
    pub max_bytes_per_file: i64,
    pub min_msg_size: i32,
    pub max_msg_size: i32,
    /// Reads plus writes between fsyncs; values below 1 act as 1.
    pub sync_every: i64,
    /// Period of the background sync tick; zero disables the tick.
    pub sync_timeout: Duration,
}

impl DiskQueueConfig {
    /// nsqd's defaults: 100 MiB files, records of 26 bytes up to a 1 MiB
    /// body, sync every 2500 operations or 2 s.
    pub fn new(name: impl Into<String>, data_path: impl Into<PathBuf>) -> DiskQueueConfig {
        DiskQueueConfig {
            name: name.into(),
            data_path: data_path.into(),
            max_bytes_per_file: 100 * 1024 * 1024,
            min_msg_size: 26,
            max_msg_size: 1024 * 1024 + 26,
            sync_every: 2500,
            sync_timeout: Duration::from_secs(2),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DiskQueueError {
    #[error("invalid message write size ({size}) minMsgSize={min} maxMsgSize={max}")]
    InvalidWriteSize { size: i64, min: i32, max: i32 },
    /// The queue was closed or deleted.
    #[error("exiting")]
    Exiting,
    #[error("{op} {}: {source}", path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

type NotifyFn = Arc<dyn Fn() + Send + Sync>;

/// A disk queue. All methods take `&self`; share it behind an `Arc`.
///
/// Dropping it without [`close`](DiskQueue::close) behaves like a process
/// crash: whatever was put is in the files, but the metadata is only as
/// fresh as the last sync.
pub struct DiskQueue {
    shared: Arc<Shared>,
    ticker: Mutex<Option<Ticker>>,
}

struct Shared {
    name: String,
    data_path: PathBuf,
    max_bytes_per_file: i64,
    min_msg_size: i32,
    max_msg_size: i32,
    sync_every: i64,

    read: Mutex<ReadState>,
    write: Mutex<WriteState>,
    /// Serialises syncs so metadata snapshots reach the disk in order.
    sync_lock: Mutex<()>,

    depth: AtomicI64,
    /// Reads plus writes since the last sync; changed only under the read or
    /// write lock so a sync's reset cannot swallow an unsynced operation.
    ops_since_sync: AtomicI64,
    need_sync: AtomicBool,
    exiting: AtomicBool,
    notify: RwLock<Option<NotifyFn>>,
}

struct WriteState {
    file_num: i64,
    pos: i64,
    file: Option<File>,
    /// A write failed part-way: bytes past `pos` in the current file are junk.
    torn: bool,
    buf: Vec<u8>,
    /// Files left by rollover, fsynced by the next sync.
    retired: Vec<(i64, File)>,
}

struct ReadState {
    file_num: i64,
    /// Offset of the first record not yet handed over; `buf` starts here.
    pos: i64,
    file: Option<File>,
    /// Bytes read ahead from `file`, starting at `pos`.
    buf: BytesMut,
    /// Size of the read file, once it is known to be complete.
    file_end: Option<i64>,
    /// The writer's (file, position) when last looked at. Writers only move
    /// forward without the read lock, so this is a lower bound.
    writer: (i64, i64),
}

#[derive(Clone, Copy)]
enum SyncWhen {
    Always,
    /// `--sync-every` reached or a sync was scheduled.
    Due,
    /// Anything happened since the last sync (the timer tick).
    Activity,
}

impl DiskQueue {
    /// Opens (or creates on first write) the queue `cfg.name` in
    /// `cfg.data_path`, resuming from its metadata file (DQ-005, DQ-009).
    pub fn open(cfg: DiskQueueConfig) -> Result<DiskQueue, DiskQueueError> {
        let meta_path = meta_file_name(&cfg.data_path, &cfg.name);
        let mut m = Meta::default();
        match fs::read(&meta_path) {
            Ok(raw) => match std::str::from_utf8(&raw).ok().and_then(Meta::parse) {
                Some(parsed) => m = parsed,
                None => error!(
                    "DISKQUEUE({}) failed to retrieveMetaData - unparsable {}",
                    cfg.name,
                    meta_path.display()
                ),
            },
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(source) => {
                return Err(DiskQueueError::Io {
                    op: "open",
                    path: meta_path,
                    source,
                })
            }
        }

        // Data put after the last sync makes the write file longer than the
        // metadata says; appending at writePos would overwrite it, so start
        // a new file and let the reader salvage the old one to its end.
        let write_path = data_file_name(&cfg.data_path, &cfg.name, m.write_file_num);
        match fs::metadata(&write_path) {
            Ok(md) if md.len() > u64::try_from(m.write_pos).unwrap_or(0) => {
                warn!(
                    "DISKQUEUE({}) {} metadata writePos {} < file size of {}, skipping to new file",
                    cfg.name,
                    write_path.display(),
                    m.write_pos,
                    md.len()
                );
                m.write_file_num += 1;
                m.write_pos = 0;
            }
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => error!(
                "DISKQUEUE({}) failed to stat {} - {}",
                cfg.name,
                write_path.display(),
                e
            ),
        }

        let shared = Arc::new(Shared {
            name: cfg.name,
            data_path: cfg.data_path,
            max_bytes_per_file: cfg.max_bytes_per_file,
            min_msg_size: cfg.min_msg_size,
            max_msg_size: cfg.max_msg_size,
            sync_every: cfg.sync_every.max(1),
            read: Mutex::new(ReadState {
                file_num: m.read_file_num,
                pos: m.read_pos,
                file: None,
                buf: BytesMut::new(),
                file_end: None,
                writer: (m.write_file_num, m.write_pos),
            }),
            write: Mutex::new(WriteState {
                file_num: m.write_file_num,
                pos: m.write_pos,
                file: None,
                torn: false,
                buf: Vec::new(),
                retired: Vec::new(),
            }),
            sync_lock: Mutex::new(()),
            depth: AtomicI64::new(m.depth),
            ops_since_sync: AtomicI64::new(0),
            need_sync: AtomicBool::new(false),
            exiting: AtomicBool::new(false),
            notify: RwLock::new(None),
        });

        let ticker = if cfg.sync_timeout.is_zero() {
            None
        } else {
            Some(Ticker::start(&shared, cfg.sync_timeout)?)
        };
        Ok(DiskQueue {
            shared,
            ticker: Mutex::new(ticker),
        })
    }

    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// Appends one record. The bytes reach the OS before this returns, so a
    /// process crash loses nothing already put.
    pub fn put(&self, record: &[u8]) -> Result<(), DiskQueueError> {
        self.put_batch(std::slice::from_ref(&record))
    }

    /// Appends records in order under one lock with as few write calls as
    /// possible. Sizes are checked first, so a bad size writes nothing; an
    /// I/O error can leave a prefix of the batch written.
    pub fn put_batch(&self, records: &[&[u8]]) -> Result<(), DiskQueueError> {
        let sh = &self.shared;
        for record in records {
            sh.check_size(record.len())?;
        }
        if records.is_empty() {
            return Ok(());
        }
        let (written, result) = sh.write_records(records);
        sh.maybe_sync();
        if written > 0 {
            sh.notify();
        }
        result
    }

    /// The next record if one is on disk now, without blocking on a writer.
    /// Handing it over consumes it (depth − 1, DQ-007); records read ahead
    /// but not yet returned are read again after a restart.
    ///
    /// The bytes are a slice of a shared read-ahead chunk (up to 128 KiB),
    /// which stays allocated while any record cut from it is alive.
    pub fn try_read(&self) -> Option<Bytes> {
        let sh = &self.shared;
        let record = {
            let mut r = lock(&sh.read);
            if sh.exiting.load(Ordering::Acquire) {
                return None;
            }
            sh.next_record(&mut r)
        };
        sh.maybe_sync();
        record
    }

    /// Records stored and not yet handed over (DQ-015).
    pub fn depth(&self) -> i64 {
        self.shared.depth.load(Ordering::Acquire)
    }

    /// Drops every stored record and the metadata file (DQ-012). File
    /// numbering continues from the old write file + 1.
    pub fn empty(&self) -> Result<(), DiskQueueError> {
        let sh = &self.shared;
        let mut r = lock(&sh.read);
        let mut w = lock(&sh.write);
        if sh.exiting.load(Ordering::Acquire) {
            return Err(DiskQueueError::Exiting);
        }
        info!("DISKQUEUE({}): emptying", sh.name);
        sh.delete_all_files(&mut r, &mut w)
    }

    /// Empties the queue and shuts it down without writing metadata, so no
    /// files remain (DQ-013).
    pub fn delete(&self) -> Result<(), DiskQueueError> {
        let sh = &self.shared;
        if !sh.begin_exit() {
            return Err(DiskQueueError::Exiting);
        }
        info!("DISKQUEUE({}): deleting", sh.name);
        self.stop_ticker();
        let result = {
            let mut r = lock(&sh.read);
            let mut w = lock(&sh.write);
            sh.delete_all_files(&mut r, &mut w)
        };
        sh.release_files();
        result
    }

    /// Shuts the queue down: fsync, write the metadata, close the files
    /// (DQ-014). Later calls on this queue fail with `exiting` or read nothing.
    pub fn close(&self) -> Result<(), DiskQueueError> {
        let sh = &self.shared;
        if !sh.begin_exit() {
            return Err(DiskQueueError::Exiting);
        }
        info!("DISKQUEUE({}): closing", sh.name);
        self.stop_ticker();
        let result = sh.sync_now(SyncWhen::Always);
        sh.release_files();
        result
    }

    /// fsyncs the write file and persists the metadata now.
    pub fn sync(&self) -> Result<(), DiskQueueError> {
        if self.shared.exiting.load(Ordering::Acquire) {
            return Err(DiskQueueError::Exiting);
        }
        self.shared.sync_now(SyncWhen::Always)
    }

    /// Registers `f` to be called (outside any queue lock) after every put
    /// that stored at least one record. A consumer that gets `None` from
    /// [`try_read`](DiskQueue::try_read) can wait for this signal; register
    /// it before the first `try_read` so no wake-up is missed.
    pub fn set_notify(&self, f: Box<dyn Fn() + Send + Sync>) {
        let mut slot = self
            .shared
            .notify
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *slot = Some(Arc::from(f));
    }

    fn stop_ticker(&self) {
        if let Some(ticker) = lock(&self.ticker).take() {
            ticker.stop();
        }
    }
}

impl Drop for DiskQueue {
    fn drop(&mut self) {
        self.stop_ticker();
    }
}

impl fmt::Debug for DiskQueue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DiskQueue")
            .field("name", &self.shared.name)
            .field("depth", &self.depth())
            .finish_non_exhaustive()
    }
}

impl Shared {
    fn data_file(&self, num: i64) -> PathBuf {
        data_file_name(&self.data_path, &self.name, num)
    }

    fn meta_file(&self) -> PathBuf {
        meta_file_name(&self.data_path, &self.name)
    }

    fn check_size(&self, len: usize) -> Result<(), DiskQueueError> {
        let size = i64::try_from(len).unwrap_or(i64::MAX);
        if size < i64::from(self.min_msg_size) || size > i64::from(self.max_msg_size) {
            return Err(DiskQueueError::InvalidWriteSize {
                size,
                min: self.min_msg_size,
                max: self.max_msg_size,
            });
        }
        Ok(())
    }

    /// Sets the exit flag under both locks, so no put or read is half done.
    /// Returns false if the queue was already shutting down.
    fn begin_exit(&self) -> bool {
        let _r = lock(&self.read);
        let _w = lock(&self.write);
        !self.exiting.swap(true, Ordering::AcqRel)
    }

    fn release_files(&self) {
        let mut r = lock(&self.read);
        let mut w = lock(&self.write);
        r.file = None;
        r.buf = BytesMut::new();
        w.file = None;
        w.retired.clear();
        w.buf = Vec::new();
    }

    fn notify(&self) {
        let f = self
            .notify
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone();
        if let Some(f) = f {
            f();
        }
    }

    // ---- writing ----

    /// Returns how many records were stored, and the first error.
    fn write_records(&self, records: &[&[u8]]) -> (usize, Result<(), DiskQueueError>) {
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
    fn flush_records(&self, w: &mut WriteState, records: usize) -> Result<(), DiskQueueError> {
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
                Ok(())
            }
            Err(source) => {
                // The file is closed here; the next put reopens it and
                // writes again from `pos`, as Go does.
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

    fn open_write_file(&self, w: &mut WriteState) -> Result<File, DiskQueueError> {
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

    // ---- reading ----

    fn next_record(&self, r: &mut ReadState) -> Option<Bytes> {
        loop {
            if !behind(r.file_num, r.pos, r.writer) {
                self.refresh_writer(r);
                if !behind(r.file_num, r.pos, r.writer) {
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

    fn open_read_file(&self, r: &mut ReadState) -> io::Result<()> {
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

    fn complete_file_end(&self, r: &mut ReadState) -> io::Result<i64> {
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
    fn consume(&self, r: &mut ReadState, total: usize) -> Bytes {
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
    fn advance_read_file(&self, r: &mut ReadState) {
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

    fn refresh_writer(&self, r: &mut ReadState) {
        let w = lock(&self.write);
        r.writer = (w.file_num, w.pos);
    }

    /// DQ-010: set the unreadable file aside as `.bad` and go on with the
    /// next one. Depth cannot know what was lost; `check_tail` fixes it once
    /// the reader catches up.
    fn handle_read_error(&self, r: &mut ReadState, err: io::Error) {
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
    fn check_tail(&self, r: &mut ReadState) {
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

    // ---- emptying ----

    fn delete_all_files(
        &self,
        r: &mut ReadState,
        w: &mut WriteState,
    ) -> Result<(), DiskQueueError> {
        let result = self.skip_to_next_rw_file(r, w);
        self.ops_since_sync.store(0, Ordering::Release);
        let path = self.meta_file();
        match fs::remove_file(&path) {
            Ok(()) => result,
            Err(e) if e.kind() == io::ErrorKind::NotFound => result,
            Err(source) => {
                error!(
                    "DISKQUEUE({}) failed to remove metadata file - {}",
                    self.name, source
                );
                Err(DiskQueueError::Io {
                    op: "remove",
                    path,
                    source,
                })
            }
        }
    }

    /// Removes the data files from the read file to the write file and
    /// restarts both positions at the start of the next file number.
    fn skip_to_next_rw_file(
        &self,
        r: &mut ReadState,
        w: &mut WriteState,
    ) -> Result<(), DiskQueueError> {
        r.file = None;
        r.buf = BytesMut::new();
        r.file_end = None;
        w.file = None;
        w.torn = false;
        w.retired.clear();
        let mut result = Ok(());
        for num in r.file_num..=w.file_num {
            let path = self.data_file(num);
            match fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(source) => {
                    error!(
                        "DISKQUEUE({}) failed to remove data file - {}",
                        self.name, source
                    );
                    result = Err(DiskQueueError::Io {
                        op: "remove",
                        path,
                        source,
                    });
                }
            }
        }
        w.file_num += 1;
        w.pos = 0;
        r.file_num = w.file_num;
        r.pos = 0;
        r.writer = (w.file_num, w.pos);
        self.depth.store(0, Ordering::Release);
        result
    }

    // ---- syncing ----

    fn sync_due(&self) -> bool {
        self.need_sync.load(Ordering::Acquire)
            || self.ops_since_sync.load(Ordering::Acquire) >= self.sync_every
    }

    /// Runs a sync if one is due (DQ-008 a, c, d, e); errors are logged
    /// because the operation that triggered it already succeeded.
    fn maybe_sync(&self) {
        if !self.sync_due() || self.exiting.load(Ordering::Acquire) {
            return;
        }
        if let Err(e) = self.sync_now(SyncWhen::Due) {
            error!("DISKQUEUE({}) failed to sync - {}", self.name, e);
        }
    }

    /// The `--sync-timeout` tick (DQ-008 b).
    fn tick(&self) {
        if self.exiting.load(Ordering::Acquire) {
            return;
        }
        if let Err(e) = self.sync_now(SyncWhen::Activity) {
            error!("DISKQUEUE({}) failed to sync - {}", self.name, e);
        }
    }

    /// Snapshots the positions under the locks, then fsyncs and writes the
    /// metadata outside them. The snapshot never runs ahead of the data
    /// fsynced afterwards, which is all a restart relies on.
    fn sync_now(&self, when: SyncWhen) -> Result<(), DiskQueueError> {
        let _serial = lock(&self.sync_lock);
        let (files, meta) = {
            let r = lock(&self.read);
            let mut w = lock(&self.write);
            let wanted = match when {
                SyncWhen::Always => true,
                SyncWhen::Due => self.sync_due(),
                SyncWhen::Activity => {
                    self.need_sync.load(Ordering::Acquire)
                        || self.ops_since_sync.load(Ordering::Acquire) > 0
                }
            };
            if !wanted {
                return Ok(());
            }
            let mut files = std::mem::take(&mut w.retired);
            if let Some(file) = w.file.as_ref() {
                match file.try_clone() {
                    Ok(dup) => files.push((w.file_num, dup)),
                    Err(source) => {
                        self.need_sync.store(true, Ordering::Release);
                        return Err(DiskQueueError::Io {
                            op: "sync",
                            path: self.data_file(w.file_num),
                            source,
                        });
                    }
                }
            }
            self.ops_since_sync.store(0, Ordering::Release);
            self.need_sync.store(false, Ordering::Release);
            let meta = Meta {
                depth: self.depth.load(Ordering::Acquire),
                read_file_num: r.file_num,
                read_pos: r.pos,
                write_file_num: w.file_num,
                write_pos: w.pos,
            };
            (files, meta)
        };
        for (num, file) in &files {
            if let Err(source) = file.sync_all() {
                self.need_sync.store(true, Ordering::Release);
                return Err(DiskQueueError::Io {
                    op: "sync",
                    path: self.data_file(*num),
                    source,
                });
            }
        }
        let path = self.meta_file();
        meta::persist(&path, &meta).map_err(|source| {
            self.need_sync.store(true, Ordering::Release);
            DiskQueueError::Io {
                op: "write",
                path,
                source,
            }
        })
    }
}

/// Whether the reader at (`file_num`, `pos`) has data before `writer`.
fn behind(file_num: i64, pos: i64, writer: (i64, i64)) -> bool {
    (file_num, pos) < writer
}

/// Reads at least `need` and at most `want` more bytes into the read-ahead buffer.
fn fill(r: &mut ReadState, need: usize, want: usize) -> io::Result<()> {
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

fn invalid_data(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

fn data_file_name(dir: &Path, name: &str, num: i64) -> PathBuf {
    dir.join(format!("{name}.diskqueue.{num:06}.dat"))
}

fn meta_file_name(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.diskqueue.meta.dat"))
}

/// Locks, carrying on after a panic elsewhere: the state is plain positions
/// and file handles that stay usable.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The background `--sync-timeout` timer of one queue.
struct Ticker {
    ctl: Arc<TickerCtl>,
    handle: JoinHandle<()>,
}

struct TickerCtl {
    stopped: Mutex<bool>,
    wake: Condvar,
}

impl Ticker {
    fn start(shared: &Arc<Shared>, every: Duration) -> Result<Ticker, DiskQueueError> {
        let ctl = Arc::new(TickerCtl {
            stopped: Mutex::new(false),
            wake: Condvar::new(),
        });
        let weak = Arc::downgrade(shared);
        let thread_ctl = Arc::clone(&ctl);
        let handle = std::thread::Builder::new()
            .name("nsq-diskqueue".to_string())
            .stack_size(256 * 1024)
            .spawn(move || run_ticker(weak, thread_ctl, every))
            .map_err(|source| DiskQueueError::Io {
                op: "spawn sync thread for",
                path: shared.meta_file(),
                source,
            })?;
        Ok(Ticker { ctl, handle })
    }

    fn stop(self) {
        *lock(&self.ctl.stopped) = true;
        self.ctl.wake.notify_all();
        if self.handle.join().is_err() {
            error!("DISKQUEUE sync thread panicked");
        }
    }
}

fn run_ticker(queue: Weak<Shared>, ctl: Arc<TickerCtl>, every: Duration) {
    let mut deadline = Instant::now() + every;
    let mut stopped = lock(&ctl.stopped);
    loop {
        if *stopped {
            return;
        }
        let now = Instant::now();
        if now < deadline {
            stopped = match ctl.wake.wait_timeout(stopped, deadline - now) {
                Ok((guard, _)) => guard,
                Err(poisoned) => poisoned.into_inner().0,
            };
            continue;
        }
        deadline = now + every;
        drop(stopped);
        match queue.upgrade() {
            Some(shared) => shared.tick(),
            None => return,
        }
        stopped = lock(&ctl.stopped);
    }
}
