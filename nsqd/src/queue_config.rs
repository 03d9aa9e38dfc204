//! The settings every topic and channel queue needs, copied out of the options once.

use std::sync::Arc;
use std::time::Duration;

use crate::health::Health;

#[derive(Clone)]
pub struct QueueConfig {
    pub mem_queue_size: usize,
    pub e2e_percentiles: Vec<f64>,
    pub e2e_window: Duration,
    pub health: Arc<Health>,
}
