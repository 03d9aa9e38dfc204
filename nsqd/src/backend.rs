//! Where a topic's or channel's messages go once its memory queue is full (BEH-010).
//!
//! Non-ephemeral queues write to a disk queue in go-diskqueue's format (§4), named after the
//! topic, or `<topic>:<channel>` for a channel (DQ-001), holding message records (BEH-014).
//! Ephemeral queues drop overflow, as NSQ does (BEH-012).

use std::sync::Arc;

use bytes::BytesMut;
use nsq_common::diskqueue::{DiskQueue, DiskQueueConfig, SyncHold};
use nsq_protocol::message::{Message, MESSAGE_HEADER_LEN};

use crate::durable::SyncTicket;
use crate::queue_config::DiskSettings;

#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct BackendError(pub String);

/// A batch put that failed part-way: the first `written` messages are stored.
#[derive(Debug, Clone)]
pub struct PartialPut {
    pub written: usize,
    pub error: BackendError,
}

pub trait Backend: Send {
    fn put(&mut self, message: &Message) -> Result<(), BackendError>;
    /// Stores messages in order; on failure, says how many were stored.
    fn put_batch(&mut self, messages: &[Message]) -> Result<(), PartialPut>;
    fn get(&mut self) -> Option<Message>;
    fn depth(&self) -> u64;
    fn empty(&mut self) -> Result<(), BackendError>;
    /// Shutdown: sync and write the queue's metadata.
    fn close(&mut self) -> Result<(), BackendError>;
    /// Deletion: remove every file of the queue.
    fn delete(&mut self) -> Result<(), BackendError>;
    /// A ticket covering everything written so far (durable acks); None if nothing is on disk.
    fn sync_ticket(&self) -> Option<SyncTicket>;
    /// Keeps the queue's read position from reaching the disk while the guard lives.
    fn hold_sync(&self) -> Option<SyncHold>;
}

/// Ephemeral topics and channels: overflow is accepted and dropped (BEH-012).
#[derive(Default)]
pub struct DropOverflow;

impl Backend for DropOverflow {
    fn put(&mut self, _message: &Message) -> Result<(), BackendError> {
        Ok(())
    }

    fn put_batch(&mut self, _messages: &[Message]) -> Result<(), PartialPut> {
        Ok(())
    }

    fn get(&mut self) -> Option<Message> {
        None
    }

    fn depth(&self) -> u64 {
        0
    }

    fn empty(&mut self) -> Result<(), BackendError> {
        Ok(())
    }

    fn close(&mut self) -> Result<(), BackendError> {
        Ok(())
    }

    fn delete(&mut self) -> Result<(), BackendError> {
        Ok(())
    }

    fn sync_ticket(&self) -> Option<SyncTicket> {
        None
    }

    fn hold_sync(&self) -> Option<SyncHold> {
        None
    }
}

/// Operations between metadata writes with durable acks (`--sync-every`'s default).
const DURABLE_METADATA_EVERY: i64 = 2500;

/// A disk queue holding message records.
pub struct DiskBackend {
    cfg: DiskQueueConfig,
    /// None while the queue could not be opened; every put tries again.
    queue: Option<Arc<DiskQueue>>,
    open_error: String,
    /// Records are encoded here before the queue frames and writes them.
    scratch: BytesMut,
    ends: Vec<usize>,
}

impl DiskBackend {
    pub fn open(name: &str, disk: &DiskSettings) -> DiskBackend {
        let header = MESSAGE_HEADER_LEN as i64;
        let cfg = DiskQueueConfig {
            name: name.to_string(),
            data_path: disk.data_path.clone(),
            max_bytes_per_file: disk.max_bytes_per_file,
            min_msg_size: MESSAGE_HEADER_LEN as i32,
            max_msg_size: (disk.max_msg_size + header).clamp(header, i32::MAX as i64) as i32,
            // Durable acks fsync the data for every publish (group commit); the metadata, which
            // only bounds redelivery after a crash, keeps nsqd's default cadence rather than
            // costing a second fsync per write.
            sync_every: if disk.durable_acks {
                DURABLE_METADATA_EVERY
            } else {
                disk.sync_every
            },
            sync_timeout: disk.sync_timeout,
        };
        let mut backend = DiskBackend {
            cfg,
            queue: None,
            open_error: String::new(),
            scratch: BytesMut::new(),
            ends: Vec::new(),
        };
        backend.try_open();
        backend
    }

    fn try_open(&mut self) -> Option<&Arc<DiskQueue>> {
        if self.queue.is_none() {
            match DiskQueue::open(self.cfg.clone()) {
                Ok(q) => self.queue = Some(Arc::new(q)),
                Err(e) => {
                    tracing::error!("DISKQUEUE({}) failed to open - {}", self.cfg.name, e);
                    self.open_error = e.to_string();
                }
            }
        }
        self.queue.as_ref()
    }

    fn queue_for_write(&mut self) -> Result<Arc<DiskQueue>, BackendError> {
        match self.try_open() {
            Some(q) => Ok(q.clone()),
            None => Err(BackendError(self.open_error.clone())),
        }
    }
}

impl Backend for DiskBackend {
    fn put(&mut self, message: &Message) -> Result<(), BackendError> {
        let queue = self.queue_for_write()?;
        self.scratch.clear();
        message.write_record(&mut self.scratch);
        queue
            .put(&self.scratch)
            .map_err(|e| BackendError(e.to_string()))
    }

    fn put_batch(&mut self, messages: &[Message]) -> Result<(), PartialPut> {
        if let [one] = messages {
            return self
                .put(one)
                .map_err(|error| PartialPut { written: 0, error });
        }
        let queue = self
            .queue_for_write()
            .map_err(|error| PartialPut { written: 0, error })?;
        self.scratch.clear();
        self.ends.clear();
        for m in messages {
            m.write_record(&mut self.scratch);
            self.ends.push(self.scratch.len());
        }
        let mut records: Vec<&[u8]> = Vec::with_capacity(messages.len());
        let mut start = 0;
        for &end in &self.ends {
            records.push(&self.scratch[start..end]);
            start = end;
        }
        // Only this backend's owner writes to the queue, so the count moves by our records.
        let before = queue.written();
        queue.put_batch(&records).map_err(|e| PartialPut {
            written: (queue.written() - before) as usize,
            error: BackendError(e.to_string()),
        })
    }

    fn get(&mut self) -> Option<Message> {
        let queue = self.queue.as_ref()?;
        loop {
            let record = queue.try_read()?;
            match Message::decode_record(record) {
                Ok(m) => return Some(m),
                // Unreachable with the queue's 26-byte minimum; skip rather than stall.
                Err(e) => tracing::error!("DISKQUEUE({}) bad record - {}", self.cfg.name, e),
            }
        }
    }

    fn depth(&self) -> u64 {
        self.queue.as_ref().map_or(0, |q| q.depth().max(0) as u64)
    }

    fn empty(&mut self) -> Result<(), BackendError> {
        match &self.queue {
            Some(q) => q.empty().map_err(|e| BackendError(e.to_string())),
            None => Ok(()),
        }
    }

    fn close(&mut self) -> Result<(), BackendError> {
        match &self.queue {
            Some(q) => q.close().map_err(|e| BackendError(e.to_string())),
            None => Ok(()),
        }
    }

    fn delete(&mut self) -> Result<(), BackendError> {
        match &self.queue {
            Some(q) => q.delete().map_err(|e| BackendError(e.to_string())),
            None => Ok(()),
        }
    }

    fn sync_ticket(&self) -> Option<SyncTicket> {
        let queue = self.queue.as_ref()?;
        Some(SyncTicket {
            queue: queue.clone(),
            seq: queue.written(),
        })
    }

    fn hold_sync(&self) -> Option<SyncHold> {
        self.queue.as_ref().map(|q| q.hold_sync())
    }
}

/// The backend for a topic (`name` = topic) or channel (`name` = `<topic>:<channel>`).
pub fn for_queue(name: &str, ephemeral: bool, disk: &DiskSettings) -> Box<dyn Backend> {
    if ephemeral {
        Box::new(DropOverflow)
    } else {
        Box::new(DiskBackend::open(name, disk))
    }
}

/// DQ-001: a channel's queue name.
pub fn channel_queue_name(topic: &str, channel: &str) -> String {
    format!("{topic}:{channel}")
}
