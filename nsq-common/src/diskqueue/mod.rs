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
//! Syncs (fsync + metadata) run on the queue's timer thread when it has one,
//! so a put never waits for the disk; callers that must know their records
//! are on stable storage take the [`written`](DiskQueue::written) count after
//! a put and [`wait_synced`](DiskQueue::wait_synced) for it, and every put
//! waiting at the same time shares one fsync (group commit).
//! Lock order, whenever more than one is held: sync → holds → read → write;
//! the sync outcome lock is taken alone.

mod meta;
#[cfg(test)]
mod tests;

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, RwLock, TryLockError, Weak};
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
    /// An fsync covering the records waited for failed; they may not be on
    /// stable storage.
    #[error("{0}")]
    SyncFailed(String),
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
    /// Live [`SyncHold`]s; a sync waits for them to go.
    holds: Mutex<usize>,
    holds_gone: Condvar,
    /// Records written since open; the sequence numbers sync waiters use.
    written: AtomicU64,
    /// What the syncs so far achieved, for [`DiskQueue::wait_synced`].
    synced: Mutex<SyncOutcome>,
    synced_changed: Condvar,
    /// The timer thread, which also runs the syncs puts and reads make due.
    ticker_ctl: OnceLock<Arc<TickerCtl>>,

    depth: AtomicI64,
    /// Reads plus writes since the last sync; changed only under the read or
    /// write lock so a sync's reset cannot swallow an unsynced operation.
    ops_since_sync: AtomicI64,
    need_sync: AtomicBool,
    /// A sync waiter wants the data fsynced (the metadata can wait).
    data_sync_wanted: AtomicBool,
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

/// How far fsyncs got, in `written` sequence numbers.
#[derive(Default)]
struct SyncOutcome {
    /// Every record up to this one was fsynced.
    ok_through: u64,
    /// A failed fsync covered records up to this one.
    failed_through: u64,
    error: Option<String>,
    /// Closed or deleted: no sync will come any more.
    finished: bool,
}

impl SyncOutcome {
    /// The answer for a waiter on record `seq`, once there is one. A failure
    /// wins over a later success: Linux may drop the pages a failed fsync
    /// could not write and report success the next time.
    fn for_record(&self, seq: u64) -> Option<Result<(), DiskQueueError>> {
        if seq > 0 && self.failed_through >= seq {
            let e = self.error.clone().unwrap_or_else(|| "sync failed".into());
            return Some(Err(DiskQueueError::SyncFailed(e)));
        }
        if self.ok_through >= seq {
            return Some(Ok(()));
        }
        self.finished.then_some(Err(DiskQueueError::Exiting))
    }
}

/// Keeps a queue from syncing while it lives (see [`DiskQueue::hold_sync`]).
pub struct SyncHold {
    shared: Arc<Shared>,
}

impl Drop for SyncHold {
    fn drop(&mut self) {
        {
            let mut holds = lock(&self.shared.holds);
            *holds = holds.saturating_sub(1);
            if *holds > 0 {
                return;
            }
            self.shared.holds_gone.notify_all();
        }
        self.shared.maybe_sync();
    }
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

        recover_unsynced_writes(&cfg, &mut m);

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
            holds: Mutex::new(0),
            holds_gone: Condvar::new(),
            written: AtomicU64::new(0),
            synced: Mutex::new(SyncOutcome::default()),
            synced_changed: Condvar::new(),
            ticker_ctl: OnceLock::new(),
            depth: AtomicI64::new(m.depth),
            ops_since_sync: AtomicI64::new(0),
            need_sync: AtomicBool::new(false),
            data_sync_wanted: AtomicBool::new(false),
            exiting: AtomicBool::new(false),
            notify: RwLock::new(None),
        });

        let ticker = if cfg.sync_timeout.is_zero() {
            None
        } else {
            let t = Ticker::start(&shared, cfg.sync_timeout)?;
            let _ = shared.ticker_ctl.set(Arc::clone(&t.ctl));
            Some(t)
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
        sh.finish_syncs();
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
        sh.finish_syncs();
        result
    }

    /// fsyncs the write file and persists the metadata now.
    pub fn sync(&self) -> Result<(), DiskQueueError> {
        if self.shared.exiting.load(Ordering::Acquire) {
            return Err(DiskQueueError::Exiting);
        }
        self.shared.sync_now(SyncWhen::Always)
    }

    /// How many records were written since the queue was opened. Read right
    /// after a put, it is a sequence number covering that put's records, for
    /// [`wait_synced`](DiskQueue::wait_synced).
    pub fn written(&self) -> u64 {
        self.shared.written.load(Ordering::Acquire)
    }

    /// Blocks until the records up to sequence number `seq` are fsynced,
    /// asking for an fsync if none is under way. Every waiter whose records a
    /// sync covers is released by it. Only the data is fsynced for waiters;
    /// the metadata keeps its own schedule (`sync_every`, the tick), since a
    /// restart finds records past a stale write position. Fails if that
    /// fsync failed, or if the queue was deleted first; closing syncs, so
    /// waiters on a closed queue succeed.
    pub fn wait_synced(&self, seq: u64) -> Result<(), DiskQueueError> {
        let sh = &self.shared;
        if let Some(answer) = lock(&sh.synced).for_record(seq) {
            return answer;
        }
        sh.data_sync_wanted.store(true, Ordering::Release);
        match sh.ticker_ctl.get() {
            Some(ctl) => ctl.kick(),
            None => {
                if let Err(e) = sh.sync_data() {
                    // The outcome below carries the error for this waiter.
                    error!("DISKQUEUE({}) failed to sync - {}", sh.name, e);
                }
            }
        }
        let mut outcome = lock(&sh.synced);
        loop {
            if let Some(answer) = outcome.for_record(seq) {
                return answer;
            }
            outcome = sh
                .synced_changed
                .wait(outcome)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
        }
    }

    /// Keeps the queue from syncing (fsync and metadata) until the returned
    /// guard is dropped, waiting first for a sync under way. A caller that
    /// moves records read from this queue into other queues holds it until
    /// the copies are synced, so the read position cannot reach the disk
    /// before them and a crash in between loses nothing. Syncs that fall due
    /// meanwhile run when the guard goes.
    pub fn hold_sync(&self) -> SyncHold {
        let sh = &self.shared;
        let _serial = lock(&sh.sync_lock);
        *lock(&sh.holds) += 1;
        SyncHold {
            shared: Arc::clone(sh),
        }
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

    /// Releases sync waiters for good (closed or deleted).
    fn finish_syncs(&self) {
        lock(&self.synced).finished = true;
        self.synced_changed.notify_all();
    }

    fn report_sync(&self, seq: u64, result: Result<(), &io::Error>) {
        let mut outcome = lock(&self.synced);
        match result {
            Ok(()) => outcome.ok_through = outcome.ok_through.max(seq),
            Err(e) => {
                outcome.failed_through = outcome.failed_through.max(seq);
                outcome.error = Some(format!("sync: {e}"));
            }
        }
        self.synced_changed.notify_all();
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

    /// Runs a sync if one is due (DQ-008 a, c, d, e): on the timer thread if
    /// there is one, so the put or read that made it due does not wait for
    /// the disk; else here, unless a sync or a hold is under way (the due
    /// sync then waits for the next operation). Errors are logged because
    /// the operation that triggered the sync already succeeded.
    fn maybe_sync(&self) {
        if !self.sync_due() || self.exiting.load(Ordering::Acquire) {
            return;
        }
        if let Some(ctl) = self.ticker_ctl.get() {
            ctl.kick();
            return;
        }
        let serial = match self.sync_lock.try_lock() {
            Ok(guard) => guard,
            Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            Err(TryLockError::WouldBlock) => return,
        };
        if *lock(&self.holds) > 0 {
            return;
        }
        if let Err(e) = self.sync_serialised(SyncWhen::Due, &serial) {
            error!("DISKQUEUE({}) failed to sync - {}", self.name, e);
        }
    }

    /// A sync that fell due, on the timer thread.
    fn run_due_sync(&self) {
        if self.exiting.load(Ordering::Acquire) {
            return;
        }
        // Cleared first: a waiter arriving after this kicks another round.
        let data_wanted = self.data_sync_wanted.swap(false, Ordering::AcqRel);
        let result = if self.sync_due() {
            self.sync_now(SyncWhen::Due)
        } else if data_wanted {
            self.sync_data()
        } else {
            Ok(())
        };
        if let Err(e) = result {
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

    /// Waits for holds to go, then syncs. The sync lock is not held while
    /// waiting, so data-only syncs for waiters go on meanwhile.
    fn sync_now(&self, when: SyncWhen) -> Result<(), DiskQueueError> {
        let serial = loop {
            {
                let mut holds = lock(&self.holds);
                while *holds > 0 {
                    holds = self
                        .holds_gone
                        .wait(holds)
                        .unwrap_or_else(|poisoned| poisoned.into_inner());
                }
            }
            let serial = lock(&self.sync_lock);
            // New holds need the sync lock, so none can appear from here on.
            if *lock(&self.holds) == 0 {
                break serial;
            }
        };
        self.sync_serialised(when, &serial)
    }

    /// fsyncs the data written so far, for sync waiters, without touching
    /// the metadata or the schedule of full syncs.
    fn sync_data(&self) -> Result<(), DiskQueueError> {
        let _serial = lock(&self.sync_lock);
        let (files, seq) = {
            let mut w = lock(&self.write);
            let mut files = std::mem::take(&mut w.retired);
            if let Some(file) = w.file.as_ref() {
                match file.try_clone() {
                    Ok(dup) => files.push((w.file_num, dup)),
                    Err(source) => {
                        // Put the retired files back for the next sync.
                        w.retired = files;
                        self.data_sync_wanted.store(true, Ordering::Release);
                        return Err(DiskQueueError::Io {
                            op: "sync",
                            path: self.data_file(w.file_num),
                            source,
                        });
                    }
                }
            }
            (files, self.written.load(Ordering::Acquire))
        };
        for (num, file) in &files {
            if let Err(source) = file.sync_all() {
                self.need_sync.store(true, Ordering::Release);
                self.report_sync(seq, Err(&source));
                return Err(DiskQueueError::Io {
                    op: "sync",
                    path: self.data_file(*num),
                    source,
                });
            }
        }
        self.report_sync(seq, Ok(()));
        Ok(())
    }

    /// Snapshots the positions under the locks, then fsyncs and writes the
    /// metadata outside them. The snapshot never runs ahead of the data
    /// fsynced afterwards, which is all a restart relies on. Sync waiters
    /// are released as soon as the data is fsynced, before the metadata
    /// write: a restart finds records past a stale write position (DQ-009).
    /// `_serial` is the held `sync_lock`.
    fn sync_serialised(
        &self,
        when: SyncWhen,
        _serial: &MutexGuard<'_, ()>,
    ) -> Result<(), DiskQueueError> {
        let (files, meta, seq) = {
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
            (files, meta, self.written.load(Ordering::Acquire))
        };
        for (num, file) in &files {
            if let Err(source) = file.sync_all() {
                self.need_sync.store(true, Ordering::Release);
                self.report_sync(seq, Err(&source));
                return Err(DiskQueueError::Io {
                    op: "sync",
                    path: self.data_file(*num),
                    source,
                });
            }
        }
        self.report_sync(seq, Ok(()));
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

/// DQ-009 and beyond: records put after the last sync sit past the
/// metadata's write position, in the write file and possibly in files after
/// it (a rollover whose sync never ran). Appending there would overwrite
/// them, so writing resumes in the first file number after all of them,
/// the reader works through them as complete files, and depth counts them.
fn recover_unsynced_writes(cfg: &DiskQueueConfig, m: &mut Meta) {
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
fn count_records(cfg: &DiskQueueConfig, num: i64, from: u64) -> i64 {
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

/// The background thread of one queue: the `--sync-timeout` tick, and the
/// syncs that puts and reads make due.
struct Ticker {
    ctl: Arc<TickerCtl>,
    handle: JoinHandle<()>,
}

struct TickerCtl {
    flags: Mutex<TickerFlags>,
    wake: Condvar,
}

#[derive(Default)]
struct TickerFlags {
    stopped: bool,
    /// A sync fell due; run it now rather than at the next tick.
    kicked: bool,
}

impl TickerCtl {
    fn kick(&self) {
        let mut flags = lock(&self.flags);
        if !flags.kicked {
            flags.kicked = true;
            self.wake.notify_all();
        }
    }
}

impl Ticker {
    fn start(shared: &Arc<Shared>, every: Duration) -> Result<Ticker, DiskQueueError> {
        let ctl = Arc::new(TickerCtl {
            flags: Mutex::new(TickerFlags::default()),
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
        lock(&self.ctl.flags).stopped = true;
        self.ctl.wake.notify_all();
        if self.handle.join().is_err() {
            error!("DISKQUEUE sync thread panicked");
        }
    }
}

fn run_ticker(queue: Weak<Shared>, ctl: Arc<TickerCtl>, every: Duration) {
    let mut deadline = Instant::now() + every;
    let mut flags = lock(&ctl.flags);
    loop {
        if flags.stopped {
            return;
        }
        let now = Instant::now();
        let kicked = std::mem::take(&mut flags.kicked);
        let ticked = now >= deadline;
        if !kicked && !ticked {
            flags = match ctl.wake.wait_timeout(flags, deadline - now) {
                Ok((guard, _)) => guard,
                Err(poisoned) => poisoned.into_inner().0,
            };
            continue;
        }
        if ticked {
            deadline = now + every;
        }
        drop(flags);
        let Some(shared) = queue.upgrade() else {
            return;
        };
        if kicked {
            shared.run_due_sync();
        }
        if ticked {
            shared.tick();
        }
        drop(shared);
        flags = lock(&ctl.flags);
    }
}
