//! The settings every topic and channel queue needs, copied out of the options once.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::health::Health;
use crate::options::Options;

#[derive(Clone)]
pub struct QueueConfig {
    pub mem_queue_size: usize,
    pub e2e_percentiles: Vec<f64>,
    pub e2e_window: Duration,
    pub health: Arc<Health>,
    pub disk: Arc<DiskSettings>,
    /// The topology-aware consumption experiment is on (BEH-180).
    pub topology_aware: bool,
}

/// How the disk queues behind topics and channels are set up (§4, F- flags).
#[derive(Debug, Clone)]
pub struct DiskSettings {
    pub data_path: PathBuf,
    pub max_bytes_per_file: i64,
    pub max_msg_size: i64,
    pub sync_every: i64,
    pub sync_timeout: Duration,
    /// `--mem-queue-size=0 --sync-every=1`: every publish goes to disk and is answered only
    /// once its records are fsynced (docs/durability.md).
    pub durable_acks: bool,
}

impl QueueConfig {
    pub fn from_options(opts: &Options, health: Arc<Health>) -> QueueConfig {
        QueueConfig {
            mem_queue_size: opts.mem_queue_size.max(0) as usize,
            e2e_percentiles: opts.e2e_processing_latency_percentiles.clone(),
            e2e_window: opts.e2e_processing_latency_window_time,
            health,
            disk: Arc::new(DiskSettings::from_options(opts)),
            topology_aware: opts.experiment_enabled(crate::topology::EXPERIMENT),
        }
    }
}

impl DiskSettings {
    pub fn from_options(opts: &Options) -> DiskSettings {
        // Go nsqd uses the working directory when --data-path is empty.
        let data_path = if opts.data_path.is_empty() {
            std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."))
        } else {
            PathBuf::from(&opts.data_path)
        };
        DiskSettings {
            data_path,
            max_bytes_per_file: opts.max_bytes_per_file,
            max_msg_size: opts.max_msg_size,
            sync_every: opts.sync_every,
            sync_timeout: opts.sync_timeout,
            durable_acks: opts.mem_queue_size == 0 && opts.sync_every == 1,
        }
    }
}
