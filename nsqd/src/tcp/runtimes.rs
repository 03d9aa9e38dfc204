//! The threads that run client connections: one single-worker runtime per CPU, each owning the
//! connections handed to it. A client's request is then read, handled and answered on the
//! thread that epoll woke for it, with no hand-off to another worker; on small machines that
//! hand-off (a second wake-up per request) dominated the round trip of a single PUB
//! (docs/benchmarks.md). They are multi-thread runtimes of one worker rather than
//! current-thread ones so that `block_in_place` (a topic's first lookupd query) still moves
//! the other connections of that thread out of the way.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::runtime::{Builder, Handle};

pub struct ConnRuntimes {
    handles: Vec<Handle>,
    next: AtomicUsize,
}

impl ConnRuntimes {
    /// Starts `n` (at least one) runtimes; they live as long as the process.
    pub fn start(n: usize) -> std::io::Result<ConnRuntimes> {
        let mut handles = Vec::new();
        for i in 0..n.max(1) {
            let runtime = Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name(format!("nsqd-conn-{i}"))
                .enable_all()
                .build()?;
            handles.push(runtime.handle().clone());
            // Never dropped: a runtime cannot be dropped from async code, and these serve
            // connections until the process exits.
            std::mem::forget(runtime);
        }
        Ok(ConnRuntimes {
            handles,
            next: AtomicUsize::new(0),
        })
    }

    /// Runs a connection's task on the next runtime, round robin.
    pub fn spawn<F>(&self, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.handles.len();
        self.handles[i].spawn(task);
    }
}
