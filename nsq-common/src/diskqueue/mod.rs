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
mod reader;
mod recovery;
mod sync;
#[cfg(test)]
mod tests;
mod writer;

use std::fmt;
use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, RwLock};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tracing::{error, info};

use meta::Meta;
use recovery::recover_unsynced_writes;
use sync::{SyncOutcome, SyncWhen, Ticker, TickerCtl};

pub use sync::SyncHold;

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
