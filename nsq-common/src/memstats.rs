//! Go-runtime-style memory figures for nsqd's `/stats` `memory` object and
//! the statsd `mem.*` gauges (OPEN-02).
//!
//! A Rust process has no garbage-collected heap, so these are mapped from
//! the C allocator's own accounting. On Linux with glibc they come from
//! `mallinfo2()`, which sums over every malloc arena:
//!
//! | field                 | source                                          |
//! |-----------------------|-------------------------------------------------|
//! | `heap_in_use_bytes`   | `uordblks + hblkhd`: bytes in allocated arena chunks plus bytes in mmap()ed large blocks |
//! | `heap_idle_bytes`     | `fordblks`: free bytes held in the arenas (bins and fastbins), i.e. obtained from the OS but not in use |
//! | `heap_released_bytes` | always 0: glibc does not report how much of its free memory it has handed back with madvise/trim |
//! | `heap_objects`        | always 0: glibc keeps no count of live allocations |
//! | `next_gc_bytes`       | always 0: there is no collector |
//! | `gc_total_runs`       | always 0 |
//! | `gc_pause_usec_100/99/95` | always 0 |
//!
//! On any other target (musl, macOS, ...) every field is 0.
//!
//! `read()` takes each arena's lock briefly and walks its free lists, so it
//! is meant for periodic stats, not hot paths.

/// A snapshot of the process's allocator statistics, named after the Go
/// runtime fields nsqd reports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemStats {
    pub heap_objects: u64,
    pub heap_idle_bytes: u64,
    pub heap_in_use_bytes: u64,
    pub heap_released_bytes: u64,
    pub gc_pause_usec_100: u64,
    pub gc_pause_usec_99: u64,
    pub gc_pause_usec_95: u64,
    pub next_gc_bytes: u64,
    pub gc_total_runs: u64,
}

/// Reads the current allocator statistics (see the module docs for the
/// mapping).
pub fn read() -> MemStats {
    imp::read()
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
mod imp {
    use super::MemStats;

    pub fn read() -> MemStats {
        // SAFETY: mallinfo2 takes no arguments, has no preconditions and
        // returns a plain struct by value.
        let info = unsafe { libc::mallinfo2() };
        MemStats {
            heap_in_use_bytes: (info.uordblks as u64).saturating_add(info.hblkhd as u64),
            heap_idle_bytes: info.fordblks as u64,
            ..MemStats::default()
        }
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
mod imp {
    use super::MemStats;

    pub fn read() -> MemStats {
        MemStats::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gc_fields_are_zero() {
        let stats = read();
        assert_eq!(stats.heap_objects, 0);
        assert_eq!(stats.heap_released_bytes, 0);
        assert_eq!(stats.gc_pause_usec_100, 0);
        assert_eq!(stats.gc_pause_usec_99, 0);
        assert_eq!(stats.gc_pause_usec_95, 0);
        assert_eq!(stats.next_gc_bytes, 0);
        assert_eq!(stats.gc_total_runs, 0);
    }

    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[test]
    fn in_use_tracks_a_live_allocation() {
        // A block this large is served by mmap, so it shows up in hblkhd
        // regardless of what other test threads do in the arenas meanwhile.
        let block = vec![1u8; 64 << 20];
        let with_block = read();
        assert!(with_block.heap_in_use_bytes >= 64 << 20);
        drop(block);
        let without = read();
        assert!(without.heap_in_use_bytes + (32 << 20) < with_block.heap_in_use_bytes);
    }
}
