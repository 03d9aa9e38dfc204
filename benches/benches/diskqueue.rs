//! Disk queue throughput with 200-byte records (a small nsqd message).

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use nsq_common::diskqueue::{DiskQueue, DiskQueueConfig};

const RECORD: usize = 200;
const BATCH: usize = 100;

fn open(dir: &std::path::Path) -> DiskQueue {
    // nsqd's defaults, so the numbers include the periodic fsync.
    DiskQueue::open(DiskQueueConfig::new("bench", dir)).expect("open disk queue")
}

fn bench_diskqueue(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let dq = open(dir.path());
    let record = vec![0x5a_u8; RECORD];
    let batch: Vec<&[u8]> = vec![record.as_slice(); BATCH];

    let mut group = c.benchmark_group("diskqueue");
    group.throughput(Throughput::Elements(1));
    group.bench_function("put_200b", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                dq.put(black_box(&record)).expect("put");
            }
            let elapsed = start.elapsed();
            // Keep the disk footprint bounded between samples.
            dq.empty().expect("empty");
            elapsed
        })
    });

    group.bench_function("read_200b", |b| {
        b.iter_custom(|iters| {
            let mut left = iters as usize;
            while left > 0 {
                let n = left.min(BATCH);
                dq.put_batch(&batch[..n]).expect("put_batch");
                left -= n;
            }
            let start = Instant::now();
            for _ in 0..iters {
                black_box(dq.try_read().expect("record"));
            }
            start.elapsed()
        })
    });

    group.throughput(Throughput::Elements(BATCH as u64));
    group.bench_function("put_batch_100x200b", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                dq.put_batch(black_box(&batch)).expect("put_batch");
            }
            let elapsed = start.elapsed();
            dq.empty().expect("empty");
            elapsed
        })
    });
    group.finish();

    dq.close().expect("close");
}

fn config() -> Criterion {
    Criterion::default()
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1))
}

criterion_group! {
    name = benches;
    config = config();
    targets = bench_diskqueue
}
criterion_main!(benches);
