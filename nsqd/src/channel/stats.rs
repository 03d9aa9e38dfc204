//! Counts and the `/stats` view of a channel.

use std::sync::atomic::Ordering;
use std::time::Instant;

use nsq_common::quantile::Quantile;

use super::{Channel, ChannelState};
use crate::stats::ChannelStats;

impl Channel {
    pub fn client_count(&self) -> usize {
        self.state.lock().clients.len()
    }

    pub fn depth(&self) -> u64 {
        let st = self.state.lock();
        Self::memory_depth(&st) + st.backend.depth()
    }

    /// The memory queue plus the messages handed to clients that have not taken them yet.
    pub(super) fn memory_depth(st: &ChannelState) -> u64 {
        let handed = st.handoffs.as_ref().map_or(0, |h| h.len);
        (st.memory.len() + handed) as u64
    }

    /// A copy of the e2e window, for the topic's merged figure.
    pub fn e2e_window(&self) -> Option<Quantile> {
        self.state.lock().e2e.clone()
    }

    pub fn stats(&self, include_clients: bool) -> ChannelStats {
        let now = Instant::now();
        let mut st = self.state.lock();
        let backend_depth = st.backend.depth();
        let e2e = st.e2e.as_mut().map(|q| q.result(now)).unwrap_or_default();
        ChannelStats {
            channel_name: self.name.clone(),
            depth: Self::memory_depth(&st) + backend_depth,
            backend_depth,
            in_flight_count: st.in_flight.len() as u64,
            deferred_count: st.deferred.len() as u64,
            message_count: self.message_count.load(Ordering::Relaxed),
            zone_local_msg_count: self.zone_local_msg_count.load(Ordering::Relaxed),
            region_local_msg_count: self.region_local_msg_count.load(Ordering::Relaxed),
            global_msg_count: self.global_msg_count.load(Ordering::Relaxed),
            requeue_count: self.requeue_count.load(Ordering::Relaxed),
            timeout_count: self.timeout_count.load(Ordering::Relaxed),
            client_count: st.clients.len() as u64,
            clients: include_clients.then(|| {
                st.clients
                    .iter()
                    .map(|c| crate::stats::client_stats(c))
                    .collect()
            }),
            paused: self.is_paused(),
            e2e_processing_latency: e2e,
        }
    }
}
