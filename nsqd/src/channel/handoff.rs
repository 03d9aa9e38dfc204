//! The topology-aware hand-off (BEH-182): a put gives messages straight to waiting zone-local,
//! then region-local clients, which keep them apart until they pull.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;

use nsq_protocol::message::Message;

use super::{Channel, ChannelState};
use crate::topology::{REGION_LOCAL, ZONE_LOCAL};

/// Messages a put handed to one waiting zone- or region-local client (BEH-182), kept per
/// client until it pulls them. They count as in memory.
#[derive(Default)]
pub(super) struct Handoffs {
    by_client: Vec<(u64, VecDeque<Message>)>,
    pub(super) len: usize,
}

impl Handoffs {
    pub(super) fn push(&mut self, client_id: u64, messages: &[Message]) {
        let at = match self.by_client.iter().position(|(id, _)| *id == client_id) {
            Some(i) => i,
            None => {
                self.by_client.push((client_id, VecDeque::new()));
                self.by_client.len() - 1
            }
        };
        self.by_client[at].1.extend(messages.iter().cloned());
        self.len += messages.len();
    }

    pub(super) fn take(&mut self, client_id: u64) -> Option<VecDeque<Message>> {
        let i = self.by_client.iter().position(|(id, _)| *id == client_id)?;
        let (_, q) = self.by_client.swap_remove(i);
        self.len -= q.len();
        Some(q)
    }

    pub(super) fn drain_all(&mut self) -> Vec<Message> {
        self.len = 0;
        let mut all: Vec<Message> = self.by_client.drain(..).flat_map(|(_, q)| q).collect();
        // Back in publish order (ids grow with publish time).
        all.sort_unstable_by_key(|m| m.id);
        all
    }
}

impl Channel {
    /// BEH-182: with the topology experiment, messages go first to waiting zone-local clients,
    /// then to waiting zone- or region-local ones, each taking at most what it has room for.
    /// Returns the messages left for the memory queue and the backend.
    pub(super) fn hand_to_local_waiters<'m>(
        &self,
        st: &mut ChannelState,
        mut messages: &'m [Message],
    ) -> &'m [Message] {
        if st.handoffs.is_none() || self.is_paused() {
            return messages;
        }
        for wanted in [ZONE_LOCAL, ZONE_LOCAL | REGION_LOCAL] {
            while !messages.is_empty() {
                let found = st.waiting.iter().position(|c| {
                    c.locality.load(Ordering::Relaxed) & wanted != 0
                        && c.wait_capacity.load(Ordering::Relaxed) > 0
                });
                let Some(client) = found.and_then(|i| st.waiting.remove(i)) else {
                    break;
                };
                client.waiting.store(false, Ordering::Release);
                let n = client
                    .wait_capacity
                    .load(Ordering::Relaxed)
                    .min(messages.len());
                let (handed, rest) = messages.split_at(n);
                if let Some(h) = st.handoffs.as_mut() {
                    h.push(client.id, handed);
                }
                messages = rest;
                client.wake.notify_one();
            }
        }
        messages
    }

    /// A client that was handed messages and will not take them: they go back to the front of
    /// the memory queue for any consumer (the limit does not apply to messages already held).
    pub(super) fn return_handoffs(&self, st: &mut ChannelState, client_id: u64) {
        let Some(q) = st.handoffs.as_mut().and_then(|h| h.take(client_id)) else {
            return;
        };
        for m in q.into_iter().rev() {
            st.memory.push_front(m);
        }
        self.wake_waiters(st);
    }
}
