//! Where a topic's or channel's messages go once its memory queue is full.
//!
//! This is the seam the disk queue plugs into. Until it lands, non-ephemeral queues overflow into
//! an unbounded in-memory queue: slower to drain than a bounded one but nothing is dropped, which
//! is the promise (`OK` means the message is kept). Ephemeral queues drop overflow, as NSQ does
//! (BEH-012).

use std::collections::VecDeque;

use nsq_protocol::message::Message;

#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct BackendError(pub String);

pub trait Backend: Send {
    fn put(&mut self, message: Message) -> Result<(), BackendError>;
    fn get(&mut self) -> Option<Message>;
    fn depth(&self) -> u64;
    fn empty(&mut self) -> Result<(), BackendError>;
}

/// Keeps overflow in memory (stand-in for the disk queue).
#[derive(Default)]
pub struct OverflowQueue {
    queue: VecDeque<Message>,
}

impl Backend for OverflowQueue {
    fn put(&mut self, message: Message) -> Result<(), BackendError> {
        self.queue.push_back(message);
        Ok(())
    }

    fn get(&mut self) -> Option<Message> {
        self.queue.pop_front()
    }

    fn depth(&self) -> u64 {
        self.queue.len() as u64
    }

    fn empty(&mut self) -> Result<(), BackendError> {
        self.queue.clear();
        Ok(())
    }
}

/// Ephemeral topics and channels: overflow is accepted and dropped (BEH-012).
#[derive(Default)]
pub struct DropOverflow;

impl Backend for DropOverflow {
    fn put(&mut self, _message: Message) -> Result<(), BackendError> {
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
}

pub fn for_queue(ephemeral: bool) -> Box<dyn Backend> {
    if ephemeral {
        Box::new(DropOverflow)
    } else {
        Box::new(OverflowQueue::default())
    }
}
