//! The two timed tables a channel keeps: messages in flight (waiting for FIN/REQ/TOUCH or their
//! timeout) and deferred messages (waiting for their due time).
//!
//! Both are plain data structures fed an explicit `now`, so every timing rule is tested on a
//! virtual clock. The earliest deadline is found through a binary heap with lazy deletion: an
//! entry is only trusted if the map still holds the same message with the same deadline.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::time::{Duration, Instant};

use foldhash::fast::FixedState;
use nsq_protocol::message::{Message, MessageId};

type IdMap<V> = HashMap<MessageId, V, FixedState>;

/// A message handed to a client and not yet finished.
#[derive(Debug, Clone)]
pub struct InFlight {
    pub message: Message,
    pub client_id: u64,
    pub delivered_at: Instant,
    pub deadline: Instant,
}

/// Why FIN, REQ or TOUCH could not act on an id; the text is the tail of the error frame (P-126).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InFlightError {
    NotInFlight,
    NotOwner,
}

impl InFlightError {
    pub fn as_str(self) -> &'static str {
        match self {
            InFlightError::NotInFlight => "ID not in flight",
            InFlightError::NotOwner => "client does not own message",
        }
    }
}

#[derive(Default)]
pub struct InFlightTable {
    map: IdMap<InFlight>,
    by_deadline: BinaryHeap<Reverse<(Instant, MessageId)>>,
}

impl InFlightTable {
    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Records a delivery. A message id is unique per channel, so a duplicate replaces the old
    /// entry (that only happens if a client library resends an id we already gave out).
    pub fn push(&mut self, message: Message, client_id: u64, now: Instant, timeout: Duration) {
        let deadline = now + timeout;
        self.by_deadline.push(Reverse((deadline, message.id)));
        self.map.insert(
            message.id,
            InFlight {
                message,
                client_id,
                delivered_at: now,
                deadline,
            },
        );
    }

    /// Removes a message owned by `client_id` (FIN and REQ).
    pub fn remove(&mut self, id: &MessageId, client_id: u64) -> Result<InFlight, InFlightError> {
        match self.map.get(id) {
            None => Err(InFlightError::NotInFlight),
            Some(entry) if entry.client_id != client_id => Err(InFlightError::NotOwner),
            Some(_) => self.map.remove(id).ok_or(InFlightError::NotInFlight),
        }
    }

    /// TOUCH: a new deadline of now + timeout, never later than delivery + max_timeout (BEH-033).
    pub fn touch(
        &mut self,
        id: &MessageId,
        client_id: u64,
        now: Instant,
        timeout: Duration,
        max_timeout: Duration,
    ) -> Result<(), InFlightError> {
        let entry = self.map.get_mut(id).ok_or(InFlightError::NotInFlight)?;
        if entry.client_id != client_id {
            return Err(InFlightError::NotOwner);
        }
        let deadline = (now + timeout).min(entry.delivered_at + max_timeout);
        entry.deadline = deadline;
        self.by_deadline.push(Reverse((deadline, *id)));
        Ok(())
    }

    /// The next message whose deadline has passed, if any.
    pub fn pop_expired(&mut self, now: Instant) -> Option<InFlight> {
        while let Some(Reverse((deadline, id))) = self.by_deadline.peek().copied() {
            if deadline > now {
                return None;
            }
            self.by_deadline.pop();
            let live = matches!(self.map.get(&id), Some(e) if e.deadline == deadline);
            if live {
                return self.map.remove(&id);
            }
        }
        None
    }

    /// Drops everything (channel empty), returning the owners' ids with their counts removed.
    pub fn clear(&mut self) {
        self.map.clear();
        self.by_deadline.clear();
    }

    /// Takes every message out (used at shutdown to persist them).
    pub fn drain(&mut self) -> impl Iterator<Item = InFlight> + '_ {
        self.by_deadline.clear();
        self.map.drain().map(|(_, v)| v)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlreadyDeferred;

/// Messages waiting for a due time (DPUB, `/pub?defer=`, REQ with a delay).
#[derive(Default)]
pub struct DeferredQueue {
    map: IdMap<(Message, Instant)>,
    by_due: BinaryHeap<Reverse<(Instant, MessageId)>>,
}

impl DeferredQueue {
    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub fn push(&mut self, message: Message, due: Instant) -> Result<(), AlreadyDeferred> {
        if self.map.contains_key(&message.id) {
            return Err(AlreadyDeferred);
        }
        self.by_due.push(Reverse((due, message.id)));
        self.map.insert(message.id, (message, due));
        Ok(())
    }

    pub fn pop_due(&mut self, now: Instant) -> Option<Message> {
        while let Some(Reverse((due, id))) = self.by_due.peek().copied() {
            if due > now {
                return None;
            }
            self.by_due.pop();
            if matches!(self.map.get(&id), Some((_, d)) if *d == due) {
                return self.map.remove(&id).map(|(m, _)| m);
            }
        }
        None
    }

    /// The earliest due time, for callers that want to sleep until it.
    pub fn next_due(&self) -> Option<Instant> {
        self.by_due.peek().map(|Reverse((due, _))| *due)
    }

    pub fn clear(&mut self) {
        self.map.clear();
        self.by_due.clear();
    }

    /// Takes every message out with its due time (used at shutdown).
    pub fn drain(&mut self) -> impl Iterator<Item = (Message, Instant)> + '_ {
        self.by_due.clear();
        self.map.drain().map(|(_, v)| v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn msg(n: u8) -> Message {
        let mut id = [b'0'; 16];
        id[15] = b'a' + n;
        Message {
            id,
            timestamp: 0,
            attempts: 1,
            body: Bytes::from_static(b"x"),
        }
    }

    const SEC: Duration = Duration::from_secs(1);

    #[test]
    fn expiry_follows_deadlines_in_order() {
        let t0 = Instant::now();
        let mut t = InFlightTable::default();
        t.push(msg(1), 7, t0, 3 * SEC);
        t.push(msg(2), 7, t0, SEC);
        assert!(t.pop_expired(t0).is_none());
        assert_eq!(
            t.pop_expired(t0 + SEC).map(|e| e.message.id),
            Some(msg(2).id)
        );
        assert!(t.pop_expired(t0 + 2 * SEC).is_none());
        assert_eq!(
            t.pop_expired(t0 + 3 * SEC).map(|e| e.message.id),
            Some(msg(1).id)
        );
        assert!(t.is_empty());
    }

    #[test]
    fn ownership_is_checked() {
        let t0 = Instant::now();
        let mut t = InFlightTable::default();
        t.push(msg(1), 7, t0, SEC);
        assert_eq!(t.remove(&msg(1).id, 8).err(), Some(InFlightError::NotOwner));
        assert_eq!(
            t.remove(&msg(2).id, 7).err(),
            Some(InFlightError::NotInFlight)
        );
        assert!(t.remove(&msg(1).id, 7).is_ok());
        assert_eq!(
            t.remove(&msg(1).id, 7).err(),
            Some(InFlightError::NotInFlight)
        );
        // a finished message never expires later
        assert!(t.pop_expired(t0 + 10 * SEC).is_none());
    }

    #[test]
    fn touch_extends_but_is_capped_by_max_timeout() {
        let t0 = Instant::now();
        let mut t = InFlightTable::default();
        t.push(msg(1), 7, t0, 2 * SEC);
        t.touch(&msg(1).id, 7, t0 + SEC, 2 * SEC, 10 * SEC).unwrap();
        assert!(
            t.pop_expired(t0 + 2 * SEC).is_none(),
            "old deadline is stale"
        );
        assert!(t.pop_expired(t0 + 3 * SEC).is_some());

        t.push(msg(2), 7, t0, 2 * SEC);
        t.touch(&msg(2).id, 7, t0 + 4 * SEC, 5 * SEC, 5 * SEC)
            .unwrap();
        assert!(
            t.pop_expired(t0 + 5 * SEC).is_some(),
            "capped at delivery + max"
        );
        assert_eq!(
            t.touch(&msg(3).id, 7, t0, SEC, SEC),
            Err(InFlightError::NotInFlight)
        );
    }

    #[test]
    fn deferred_pops_when_due_and_refuses_duplicates() {
        let t0 = Instant::now();
        let mut d = DeferredQueue::default();
        d.push(msg(1), t0 + 2 * SEC).unwrap();
        d.push(msg(2), t0 + SEC).unwrap();
        assert_eq!(d.push(msg(2), t0), Err(AlreadyDeferred));
        assert_eq!(d.next_due(), Some(t0 + SEC));
        assert!(d.pop_due(t0).is_none());
        assert_eq!(d.pop_due(t0 + SEC).map(|m| m.id), Some(msg(2).id));
        assert!(d.pop_due(t0 + SEC).is_none());
        assert_eq!(d.pop_due(t0 + 2 * SEC).map(|m| m.id), Some(msg(1).id));
        assert!(d.is_empty());
    }
}
