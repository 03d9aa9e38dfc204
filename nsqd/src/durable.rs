//! Acknowledged means durable, when asked (`--mem-queue-size=0 --sync-every=1`): a publish
//! collects one ticket per disk queue it wrote to, and its `OK` waits until each of those queues
//! has fsynced past the ticket. The fsyncs run on the queues' own threads; every publish waiting
//! on a queue at the same time is released by the same fsync (group commit), so throughput
//! grows with the number of concurrent publishers instead of being one fsync per message.
//! A TCP connection also gathers the tickets of its pipelined publishes into one wait, which
//! it awaits off the runtime's workers before answering any of them.

use std::sync::Arc;

use nsq_common::diskqueue::DiskQueue;

use crate::health::Health;

/// "Every record written to `queue` up to `seq`".
pub struct SyncTicket {
    pub(crate) queue: Arc<DiskQueue>,
    pub(crate) seq: u64,
}

/// The tickets of one publish. Empty (and free) when durable acks are off.
#[derive(Default)]
pub struct SyncWait {
    tickets: Vec<SyncTicket>,
    health: Option<Arc<Health>>,
}

impl SyncWait {
    pub fn new(health: Arc<Health>) -> SyncWait {
        SyncWait {
            tickets: Vec::new(),
            health: Some(health),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.tickets.is_empty()
    }

    /// Adds a ticket; a later one for the same queue replaces the earlier (it covers it).
    pub fn push(&mut self, ticket: SyncTicket) {
        match self
            .tickets
            .iter_mut()
            .find(|t| Arc::ptr_eq(&t.queue, &ticket.queue))
        {
            Some(t) => t.seq = t.seq.max(ticket.seq),
            None => self.tickets.push(ticket),
        }
    }

    /// Blocks the calling thread until every ticket is synced. A failed fsync makes nsqd
    /// unhealthy, like a failed write (BEH-013).
    pub fn wait_blocking(self) -> Result<(), String> {
        for t in &self.tickets {
            if let Err(e) = t.queue.wait_synced(t.seq) {
                let text = e.to_string();
                if let Some(h) = &self.health {
                    h.record(Err(&text));
                }
                return Err(text);
            }
        }
        Ok(())
    }

    /// Waits from async code (TCP connections, HTTP handlers) without holding up a runtime
    /// worker.
    pub async fn wait(self) -> Result<(), String> {
        if self.is_empty() {
            return Ok(());
        }
        match tokio::task::spawn_blocking(move || self.wait_blocking()).await {
            Ok(r) => r,
            Err(e) => Err(format!("sync wait failed - {e}")),
        }
    }
}

/// A write past `RLIMIT_FSIZE` should fail with EFBIG and be reported like any other failed
/// write (unhealthy, E_PUB_FAILED), not kill the daemon; Go programs do not die of it either.
pub fn ignore_file_size_signal() {
    #[cfg(unix)]
    // SAFETY: installs the SIG_IGN disposition; no handler code runs.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
}
