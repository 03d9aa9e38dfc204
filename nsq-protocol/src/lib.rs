//! NSQ wire protocol (TCP protocol V2): pure, no I/O.
//!
//! The daemon feeds bytes in and gets parsed commands, exact error texts and encoded frames
//! out; nothing here touches a socket or a clock.

pub mod command;
pub mod deflate;
pub mod error;
pub mod frame;
pub mod guid;
pub mod identify;
pub mod json;
pub mod message;
pub mod names;
pub mod quote;
pub mod snappy;
pub mod version;

/// The 4 bytes a V2 client sends first (P-001).
pub const MAGIC_V2: &[u8; 4] = b"  V2";

#[cfg(test)]
mod tests {
    #[test]
    fn magic_bytes() {
        assert_eq!(super::MAGIC_V2, &[0x20, 0x20, 0x56, 0x32]);
    }
}
