//! [`PoolStats`]: what a pool has done and is doing, from counters every engine keeps (always
//! on: one atomic add where a task changes state, and one clock read where a worker goes from
//! busy to idle). The anchor is tokio's `RuntimeMetrics`.
//!
//! A task's counters rise in the order of its states (submitted, started, then completed or
//! failed), each add a release and each read an acquire, and a snapshot reads them in the
//! opposite order: whoever sees a task's later count also sees its earlier ones, so a task is
//! never counted finished without being counted started.

use std::sync::atomic::{
    AtomicU64,
    Ordering::{Acquire, Release},
};
use std::time::Duration;

use crossbeam_utils::CachePadded;

/// A snapshot of a pool's counters, from [`Executor::stats`](crate::Executor::stats).
///
/// The counters are read one after another while the pool runs, so a snapshot of a busy pool
/// is approximate (each figure is exact when read; `queued` and `running` are derived and
/// never negative); a snapshot of an idle pool is exact.
///
/// ```
/// use concurrent_futures::{Executor, ThreadPoolExecutor};
/// let pool = ThreadPoolExecutor::with_max_workers(2).unwrap();
/// let ok = pool.submit(|| 1).unwrap();
/// let bad = pool.submit(|| -> u32 { panic!("no") }).unwrap();
/// ok.wait();
/// bad.wait();
/// let s = pool.stats();
/// assert_eq!((s.submitted, s.completed, s.failed), (2, 1, 1));
/// assert_eq!((s.queued, s.running), (0, 0));
/// assert!(s.workers_alive >= 1);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PoolStats {
    /// Tasks accepted (a `map` chunk on the process and cluster engines counts as one).
    pub submitted: u64,
    /// Accepted, not started, not cancelled.
    pub queued: u64,
    /// Started, not finished.
    pub running: u64,
    /// Finished with a value.
    pub completed: u64,
    /// Finished with an error: a panic, a dead worker, a time limit, a broken executor, a
    /// value that would not encode.
    pub failed: u64,
    /// Cancelled before they started (counted when the pool discards them: on the thread
    /// engine, when a worker reaches one in the queue).
    pub cancelled: u64,
    /// Worker threads or processes alive now (on the cluster engine: the local workers of
    /// the ranks that are serving).
    pub workers_alive: usize,
    /// Workers that died and were replaced (a crashed worker process; a thread killed by a
    /// panic that escaped a task). The cluster engine counts the tasks that came back from a
    /// dead worker, each of which its rank replaced.
    pub workers_replaced: u64,
    /// Time workers spent running tasks, summed over workers (the thread engine measures a
    /// worker from waking to going idle, as tokio's busy duration does; the process and cluster
    /// engines from sending a task to its reply).
    pub busy: Duration,
}

impl PoolStats {
    /// Tasks finished, cancelled or not (completed + failed + cancelled).
    ///
    /// ```
    /// use concurrent_futures::{Executor, ThreadPoolExecutor};
    /// let pool = ThreadPoolExecutor::new();
    /// pool.submit(|| ()).unwrap().wait();
    /// assert_eq!(pool.stats().done(), 1);
    /// ```
    pub fn done(&self) -> u64 {
        self.completed + self.failed + self.cancelled
    }
}

/// How many ways the counters that every worker bumps are split (each thread adds to one
/// shard, chosen once per thread), so that two workers finishing tasks at once do not pass one
/// cache line back and forth.
const SHARDS: usize = 8;

/// One counter split into per-thread shards, each on its own cache line; read as their sum.
#[derive(Default)]
struct Sharded([CachePadded<AtomicU64>; SHARDS]);

impl Sharded {
    #[inline]
    fn add(&self, n: u64) {
        self.0[shard()].fetch_add(n, Release);
    }
    fn sum(&self) -> u64 {
        self.0.iter().map(|c| c.load(Acquire)).sum()
    }
}

/// This thread's shard.
#[inline]
fn shard() -> usize {
    use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    std::thread_local! {
        static MINE: usize = NEXT.fetch_add(1, Relaxed) % SHARDS;
    }
    MINE.try_with(|s| *s).unwrap_or(0)
}

/// The counters behind [`PoolStats`], each on its own cache line; those that workers bump for
/// every task are sharded.
#[derive(Default)]
pub(crate) struct Counters {
    submitted: CachePadded<AtomicU64>,
    started: Sharded,
    completed: Sharded,
    failed: Sharded,
    cancelled: CachePadded<AtomicU64>,
    replaced: CachePadded<AtomicU64>,
    busy_ns: CachePadded<AtomicU64>,
}

impl Counters {
    pub(crate) fn submitted(&self) {
        self.submitted.fetch_add(1, Release);
    }
    pub(crate) fn started(&self) {
        self.started.add(1);
    }
    /// A started task finished: with a value or not.
    pub(crate) fn finished(&self, ok: bool) {
        if ok {
            self.completed.add(1);
        } else {
            self.failed.add(1);
        }
    }
    /// A task that failed without starting (a broken executor fails what is queued).
    pub(crate) fn failed_unstarted(&self) {
        self.started();
        self.finished(false);
    }
    pub(crate) fn cancelled(&self) {
        self.cancelled.fetch_add(1, Release);
    }
    pub(crate) fn replaced(&self) {
        self.replaced.fetch_add(1, Release);
    }
    pub(crate) fn busy(&self, d: Duration) {
        self.busy_ns
            .fetch_add(d.as_nanos().min(u64::MAX as u128) as u64, Release);
    }

    pub(crate) fn snapshot(&self, workers_alive: usize) -> PoolStats {
        // Read the later states first, so that no task is seen in two states at once
        // (a task moving on between two reads is at worst missed, never counted twice).
        let completed = self.completed.sum();
        let failed = self.failed.sum();
        let cancelled = self.cancelled.load(Acquire);
        let started = self.started.sum();
        let submitted = self.submitted.load(Acquire);
        PoolStats {
            submitted,
            queued: submitted.saturating_sub(started + cancelled),
            running: started.saturating_sub(completed + failed),
            completed,
            failed,
            cancelled,
            workers_alive,
            workers_replaced: self.replaced.load(Acquire),
            busy: Duration::from_nanos(self.busy_ns.load(Acquire)),
        }
    }
}
