//! Picking a destination among several addresses while steering around the ones that failed
//! recently: the `hostpool` and `epsilon-greedy` modes of nsq_to_http and nsq_to_nsq (T-041,
//! T-051).
//!
//! This is our own small pool, not a port of bitly's go-hostpool; only its promise is kept:
//!
//! - A host whose request failed is set aside for a retry delay (30 s at first, doubled on each
//!   further failure up to 15 min). Once the delay has passed it is offered again; one success
//!   clears its record.
//! - `Standard` hands out the available hosts in turn.
//! - `EpsilonGreedy` mostly picks the available host with the lowest average response time
//!   (an exponentially weighted mean), and one time in ten a random available host, so that a
//!   slow host gets a chance to show it has recovered. Hosts never measured count as fastest,
//!   so each is tried early on.
//! - When every host is set aside, all are offered again rather than refusing to pick: the
//!   caller always gets a host, and its failure simply counts again.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use rand::Rng;

/// First retry delay of a failed host.
const INITIAL_RETRY_DELAY: Duration = Duration::from_secs(30);
/// Longest retry delay.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(900);
/// Share of epsilon-greedy picks that explore a random host.
const EPSILON: f64 = 0.1;
/// Weight of the newest response time in the epsilon-greedy mean.
const EWMA_WEIGHT: f64 = 0.3;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PoolKind {
    Standard,
    EpsilonGreedy,
}

#[derive(Clone, Debug)]
struct HostState {
    /// Set aside until then; `None` when the last request succeeded (or none was made).
    retry_at: Option<Instant>,
    /// The delay the next failure sets aside for.
    retry_delay: Duration,
    /// Mean response time in milliseconds; `None` until the first success.
    mean_ms: Option<f64>,
}

struct State {
    hosts: Vec<HostState>,
    /// Where the next `Standard` turn starts looking.
    next: usize,
}

/// A set of addresses to spread requests over. Shared by all handlers.
pub struct HostPool {
    addrs: Vec<String>,
    kind: PoolKind,
    state: Mutex<State>,
}

/// One pick: which host to use, and when it was handed out (for response times).
#[derive(Clone, Copy, Debug)]
pub struct Pick {
    pub index: usize,
    started: Instant,
}

impl HostPool {
    /// A pool over `addrs`, which must not be empty.
    pub fn new(addrs: Vec<String>, kind: PoolKind) -> HostPool {
        let hosts = vec![
            HostState {
                retry_at: None,
                retry_delay: INITIAL_RETRY_DELAY,
                mean_ms: None,
            };
            addrs.len()
        ];
        HostPool {
            addrs,
            kind,
            state: Mutex::new(State { hosts, next: 0 }),
        }
    }

    /// The pool a tool's `--mode` asks for: `hostpool` or `epsilon-greedy`; `None` for any
    /// other mode, which each tool handles itself.
    pub fn for_mode(mode: &str, addrs: &[String]) -> Option<HostPool> {
        let kind = match mode {
            "hostpool" => PoolKind::Standard,
            "epsilon-greedy" => PoolKind::EpsilonGreedy,
            _ => return None,
        };
        Some(HostPool::new(addrs.to_vec(), kind))
    }

    /// The address of a pick.
    pub fn addr(&self, pick: &Pick) -> &str {
        &self.addrs[pick.index]
    }

    /// Chooses a host for one request.
    pub fn get(&self) -> Pick {
        let roll = rand::thread_rng().gen::<f64>();
        let explore = rand::thread_rng().gen_range(0..self.addrs.len().max(1));
        self.get_at(Instant::now(), roll, explore)
    }

    /// Records how a pick's request went.
    pub fn mark(&self, pick: &Pick, ok: bool) {
        self.mark_at(pick, ok, Instant::now());
    }

    /// `get` with the clock and the dice given: `roll` in [0,1) decides whether an
    /// epsilon-greedy pick explores, `explore` which available host it then takes.
    fn get_at(&self, now: Instant, roll: f64, explore: usize) -> Pick {
        let mut state = self.lock();
        let n = state.hosts.len();
        let available = |h: &HostState| h.retry_at.map_or(true, |t| t <= now);
        if !state.hosts.iter().any(available) {
            for h in &mut state.hosts {
                h.retry_at = None;
            }
        }
        let candidates: Vec<usize> = (0..n).filter(|&i| available(&state.hosts[i])).collect();
        let index = match self.kind {
            PoolKind::Standard => {
                let start = state.next;
                let index = (0..n)
                    .map(|k| (start + k) % n)
                    .find(|i| candidates.contains(i))
                    .unwrap_or(0);
                state.next = (index + 1) % n.max(1);
                index
            }
            PoolKind::EpsilonGreedy if roll < EPSILON => {
                candidates[explore % candidates.len().max(1)]
            }
            PoolKind::EpsilonGreedy => candidates
                .iter()
                .copied()
                .min_by(|&a, &b| {
                    let ma = state.hosts[a].mean_ms.unwrap_or(0.0);
                    let mb = state.hosts[b].mean_ms.unwrap_or(0.0);
                    ma.total_cmp(&mb)
                })
                .unwrap_or(0),
        };
        Pick {
            index,
            started: now,
        }
    }

    fn mark_at(&self, pick: &Pick, ok: bool, now: Instant) {
        let mut state = self.lock();
        let Some(h) = state.hosts.get_mut(pick.index) else {
            return;
        };
        if ok {
            h.retry_at = None;
            h.retry_delay = INITIAL_RETRY_DELAY;
            let ms = now.saturating_duration_since(pick.started).as_secs_f64() * 1000.0;
            h.mean_ms = Some(match h.mean_ms {
                Some(m) => m + EWMA_WEIGHT * (ms - m),
                None => ms,
            });
        } else {
            h.retry_at = Some(now + h.retry_delay);
            h.retry_delay = (h.retry_delay * 2).min(MAX_RETRY_DELAY);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // The state is plain data; a panic elsewhere cannot leave it half-updated in a way
        // that matters more than losing the pool.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(kind: PoolKind) -> HostPool {
        HostPool::new(vec!["a".into(), "b".into(), "c".into()], kind)
    }

    fn picks(p: &HostPool, now: Instant, n: usize) -> Vec<String> {
        (0..n)
            .map(|_| p.addr(&p.get_at(now, 0.5, 0)).to_string())
            .collect()
    }

    /// Reports how a request to host `index`, handed out at `started`, went at `at`.
    fn mark(p: &HostPool, index: usize, ok: bool, started: Instant, at: Instant) {
        p.mark_at(&Pick { index, started }, ok, at);
    }

    #[test]
    fn standard_takes_turns() {
        let p = pool(PoolKind::Standard);
        assert_eq!(picks(&p, Instant::now(), 4), ["a", "b", "c", "a"]);
    }

    #[test]
    fn failed_host_is_avoided_until_its_retry_delay_passes() {
        let p = pool(PoolKind::Standard);
        let t0 = Instant::now();
        mark(&p, 1, false, t0, t0);
        assert_eq!(picks(&p, t0, 4), ["a", "c", "a", "c"]);
        // After the first delay it is offered again.
        let later = t0 + INITIAL_RETRY_DELAY;
        assert!(picks(&p, later, 3).contains(&"b".to_string()));
    }

    #[test]
    fn repeated_failures_double_the_delay_and_success_resets_it() {
        let p = pool(PoolKind::Standard);
        let t0 = Instant::now();
        let a = Pick {
            index: 0,
            started: t0,
        };
        p.mark_at(&a, false, t0);
        let t1 = t0 + INITIAL_RETRY_DELAY;
        p.mark_at(&a, false, t1);
        // Set aside for 60 s now: still avoided 30 s later.
        assert!(!picks(&p, t1 + INITIAL_RETRY_DELAY, 4).contains(&"a".to_string()));
        let t2 = t1 + INITIAL_RETRY_DELAY * 2;
        assert!(picks(&p, t2, 3).contains(&"a".to_string()));
        p.mark_at(&a, true, t2);
        p.mark_at(&a, false, t2);
        assert!(picks(&p, t2 + INITIAL_RETRY_DELAY, 3).contains(&"a".to_string()));
    }

    #[test]
    fn all_failed_means_all_offered_again() {
        let p = pool(PoolKind::Standard);
        let t0 = Instant::now();
        for index in 0..3 {
            mark(&p, index, false, t0, t0);
        }
        assert_eq!(picks(&p, t0, 3), ["a", "b", "c"]);
    }

    #[test]
    fn epsilon_greedy_prefers_the_fastest_available_host() {
        let p = pool(PoolKind::EpsilonGreedy);
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        mark(&p, 0, true, t0, t0 + ms(50));
        mark(&p, 1, true, t0, t0 + ms(5));
        mark(&p, 2, true, t0, t0 + ms(20));
        assert_eq!(p.addr(&p.get_at(t0, 0.5, 0)), "b");
        // Exploring takes the host the dice name.
        assert_eq!(p.addr(&p.get_at(t0, 0.05, 2)), "c");
        // The fastest host failing sends traffic to the next fastest.
        mark(&p, 1, false, t0, t0);
        assert_eq!(p.addr(&p.get_at(t0, 0.5, 0)), "c");
    }
}
