//! Syncing: fsync plus metadata, group commit for waiters, the timer thread.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, TryLockError, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tracing::error;

use super::meta::{self, Meta};
use super::{lock, DiskQueueError, Shared};

/// How far fsyncs got, in `written` sequence numbers.
#[derive(Default)]
pub(super) struct SyncOutcome {
    /// Every record up to this one was fsynced.
    pub(super) ok_through: u64,
    /// A failed fsync covered records up to this one.
    pub(super) failed_through: u64,
    pub(super) error: Option<String>,
    /// Closed or deleted: no sync will come any more.
    pub(super) finished: bool,
}

impl SyncOutcome {
    /// The answer for a waiter on record `seq`, once there is one. A failure
    /// wins over a later success: Linux may drop the pages a failed fsync
    /// could not write and report success the next time.
    pub(super) fn for_record(&self, seq: u64) -> Option<Result<(), DiskQueueError>> {
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
    pub(super) shared: Arc<Shared>,
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
pub(super) enum SyncWhen {
    Always,
    /// `--sync-every` reached or a sync was scheduled.
    Due,
    /// Anything happened since the last sync (the timer tick).
    Activity,
}

impl Shared {
    pub(super) fn sync_due(&self) -> bool {
        self.need_sync.load(Ordering::Acquire)
            || self.ops_since_sync.load(Ordering::Acquire) >= self.sync_every
    }

    /// Runs a sync if one is due (DQ-008 a, c, d, e): on the timer thread if
    /// there is one, so the put or read that made it due does not wait for
    /// the disk; else here, unless a sync or a hold is under way (the due
    /// sync then waits for the next operation). Errors are logged because
    /// the operation that triggered the sync already succeeded.
    pub(super) fn maybe_sync(&self) {
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
    pub(super) fn run_due_sync(&self) {
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
    pub(super) fn tick(&self) {
        if self.exiting.load(Ordering::Acquire) {
            return;
        }
        if let Err(e) = self.sync_now(SyncWhen::Activity) {
            error!("DISKQUEUE({}) failed to sync - {}", self.name, e);
        }
    }

    /// Waits for holds to go, then syncs. The sync lock is not held while
    /// waiting, so data-only syncs for waiters go on meanwhile.
    pub(super) fn sync_now(&self, when: SyncWhen) -> Result<(), DiskQueueError> {
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
    pub(super) fn sync_data(&self) -> Result<(), DiskQueueError> {
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
    pub(super) fn sync_serialised(
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

/// The background thread of one queue: the `--sync-timeout` tick, and the
/// syncs that puts and reads make due.
pub(super) struct Ticker {
    pub(super) ctl: Arc<TickerCtl>,
    pub(super) handle: JoinHandle<()>,
}

pub(super) struct TickerCtl {
    pub(super) flags: Mutex<TickerFlags>,
    pub(super) wake: Condvar,
}

#[derive(Default)]
pub(super) struct TickerFlags {
    pub(super) stopped: bool,
    /// A sync fell due; run it now rather than at the next tick.
    pub(super) kicked: bool,
}

impl TickerCtl {
    pub(super) fn kick(&self) {
        let mut flags = lock(&self.flags);
        if !flags.kicked {
            flags.kicked = true;
            self.wake.notify_all();
        }
    }
}

impl Ticker {
    pub(super) fn start(shared: &Arc<Shared>, every: Duration) -> Result<Ticker, DiskQueueError> {
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

    pub(super) fn stop(self) {
        lock(&self.ctl.flags).stopped = true;
        self.ctl.wake.notify_all();
        if self.handle.join().is_err() {
            error!("DISKQUEUE sync thread panicked");
        }
    }
}

pub(super) fn run_ticker(queue: Weak<Shared>, ctl: Arc<TickerCtl>, every: Duration) {
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
