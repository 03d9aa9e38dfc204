//! Wall-clock helpers (message timestamps and `/stats` times are wall-clock; deadlines use
//! `Instant`).

use std::time::{SystemTime, UNIX_EPOCH};

pub fn unix_nanos() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

pub fn unix_secs() -> i64 {
    unix_nanos() / 1_000_000_000
}
