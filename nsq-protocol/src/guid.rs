//! Message ID generation (P-021..P-023): a snowflake-style 64-bit GUID shown as 16 hex bytes.

use crate::message::MessageId;

const NODE_ID_BITS: u32 = 10;
const SEQUENCE_BITS: u32 = 12;
const NODE_ID_SHIFT: u32 = SEQUENCE_BITS;
const TIMESTAMP_SHIFT: u32 = SEQUENCE_BITS + NODE_ID_BITS;
const SEQUENCE_MASK: i64 = (1 << SEQUENCE_BITS) - 1;
/// The epoch of the time part, in the same 2^20-ns units the generator counts in.
const EPOCH: i64 = 1_288_834_974_288;

/// Largest node ID that fits the 10 node bits.
pub const MAX_NODE_ID: i64 = (1 << NODE_ID_BITS) - 1;

#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum GuidError {
    #[error("time has gone backwards")]
    TimeBackwards,
    #[error("sequence expired")]
    SequenceExpired,
    #[error("ID went backward")]
    IdBackwards,
}

/// One generator per topic. Not thread-safe by itself: the owner serialises calls.
#[derive(Clone, Debug)]
pub struct GuidFactory {
    node_id: i64,
    sequence: i64,
    last_timestamp: i64,
    last_id: i64,
}

impl GuidFactory {
    /// `node_id` should be in 0..=1023 (the daemon validates `--node-id`).
    pub fn new(node_id: i64) -> Self {
        GuidFactory {
            node_id,
            sequence: 0,
            last_timestamp: 0,
            last_id: 0,
        }
    }

    pub fn node_id(&self) -> i64 {
        self.node_id
    }

    /// The next ID for the wall-clock time `now_unix_nanos`. On an error the caller waits
    /// (the reference sleeps 1 ms) and retries; the generator state stays usable.
    pub fn next_id(&mut self, now_unix_nanos: i64) -> Result<u64, GuidError> {
        // 2^20 ns units ("pseudo-milliseconds") keep the shift cheap.
        let ts = now_unix_nanos >> 20;
        if ts < self.last_timestamp {
            return Err(GuidError::TimeBackwards);
        }
        if ts == self.last_timestamp {
            self.sequence = (self.sequence + 1) & SEQUENCE_MASK;
            if self.sequence == 0 {
                return Err(GuidError::SequenceExpired);
            }
        } else {
            self.sequence = 0;
        }
        self.last_timestamp = ts;
        let id = (ts.wrapping_sub(EPOCH) << TIMESTAMP_SHIFT)
            | (self.node_id << NODE_ID_SHIFT)
            | self.sequence;
        // Signed comparison, as in the reference: IDs are int64 there.
        if id <= self.last_id {
            return Err(GuidError::IdBackwards);
        }
        self.last_id = id;
        Ok(id as u64)
    }
}

/// The 16 lowercase hex ASCII bytes of the big-endian GUID.
pub fn guid_to_message_id(guid: u64) -> MessageId {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut id = [0u8; 16];
    for (i, byte) in guid.to_be_bytes().iter().enumerate() {
        id[2 * i] = HEX[usize::from(byte >> 4)];
        id[2 * i + 1] = HEX[usize::from(byte & 0xf)];
    }
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A wall-clock time (ns) whose 2^20-ns unit is `unit`.
    fn at(unit: i64) -> i64 {
        unit << 20
    }

    #[test]
    fn layout() {
        let mut f = GuidFactory::new(5);
        let ts = EPOCH + 1000;
        let id = f.next_id(at(ts)).unwrap();
        assert_eq!(id, (1000u64 << 22) | (5 << 12));
        // Same unit: sequence 1.
        let id2 = f.next_id(at(ts) + 12345).unwrap();
        assert_eq!(id2, (1000u64 << 22) | (5 << 12) | 1);
        // Next unit: sequence restarts.
        let id3 = f.next_id(at(ts + 1)).unwrap();
        assert_eq!(id3, (1001u64 << 22) | (5 << 12));
    }

    #[test]
    fn node_id_limit() {
        assert_eq!(MAX_NODE_ID, 1023);
        let mut f = GuidFactory::new(MAX_NODE_ID);
        let id = f.next_id(at(EPOCH + 1)).unwrap();
        assert_eq!((id >> 12) & 0x3ff, 1023);
    }

    #[test]
    fn time_backwards() {
        let mut f = GuidFactory::new(1);
        f.next_id(at(EPOCH + 10)).unwrap();
        let err = f.next_id(at(EPOCH + 9)).unwrap_err();
        assert_eq!(err, GuidError::TimeBackwards);
        assert_eq!(err.to_string(), "time has gone backwards");
        // Still usable once time moves on.
        assert!(f.next_id(at(EPOCH + 11)).is_ok());
    }

    #[test]
    fn sequence_expired_then_recovers() {
        let mut f = GuidFactory::new(1);
        let t = at(EPOCH + 50);
        for seq in 0..=4095u64 {
            let id = f.next_id(t).unwrap();
            assert_eq!(id & 0xfff, seq);
        }
        let err = f.next_id(t).unwrap_err();
        assert_eq!(err, GuidError::SequenceExpired);
        assert_eq!(err.to_string(), "sequence expired");
        // Retrying in the same unit keeps failing (the wrapped sequence repeats old IDs).
        assert_eq!(f.next_id(t), Err(GuidError::IdBackwards));
        assert!(f.next_id(at(EPOCH + 51)).is_ok());
    }

    #[test]
    fn id_backwards() {
        // Before the epoch the ID is negative, hence not above the initial last ID of 0.
        let mut f = GuidFactory::new(0);
        let err = f.next_id(at(EPOCH - 1)).unwrap_err();
        assert_eq!(err, GuidError::IdBackwards);
        assert_eq!(err.to_string(), "ID went backward");
    }

    #[test]
    fn ids_strictly_increase() {
        let mut f = GuidFactory::new(7);
        let mut now = 1_700_000_000_000_000_000i64;
        let mut last = 0u64;
        for i in 0..20_000 {
            now += (i % 7) * 100_000;
            if let Ok(id) = f.next_id(now) {
                assert!(id > last);
                last = id;
            }
        }
    }

    #[test]
    fn message_id_hex() {
        assert_eq!(
            &guid_to_message_id(0x18a4_d2c5_2526_9000),
            b"18a4d2c525269000"
        );
        assert_eq!(&guid_to_message_id(0), b"0000000000000000");
        assert_eq!(&guid_to_message_id(u64::MAX), b"ffffffffffffffff");
    }
}
