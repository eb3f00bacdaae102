//! The worker loop, split into its busy half (pop and run until the queue is empty) and its
//! idle half (spin briefly, then sleep; exit on shutdown or after the idle timeout).

use std::cell::Cell;
use std::time::{Duration, Instant};

use super::pool::{JoinHandle, Pool};
use crate::error::{drop_quietly, panic_message};
use crate::stats::Counters;
use crate::sync::{backoff, Arc};

/// How long an idle worker keeps looking for work before it sleeps. Long enough that a
/// submit → result → submit loop finds the worker awake (no futex wake-up on the critical path),
/// short enough that an idle pool costs nothing measurable.
const IDLE_SPIN: Duration = Duration::from_micros(50);

/// While a burst of submits feeds the pool, how long an idle worker stays away from the queue
/// before it looks again. Each look pulls the queue's tail, which every submit writes, out of
/// the submitter's cache; staying away lets the submitter queue several tasks at full speed,
/// which the workers then take in one go. A task submitted in a burst waits this much longer
/// at most.
const LAZY_POLL: Duration = Duration::from_micros(5);

#[cfg(not(loom))]
std::thread_local! {
    static CURRENT_POOL: Cell<usize> = const { Cell::new(0) };
    static CURRENT_INDEX: Cell<usize> = const { Cell::new(0) };
    static CURRENT_STATS: std::cell::RefCell<Option<std::sync::Arc<Counters>>> =
        const { std::cell::RefCell::new(None) };
}
#[cfg(loom)]
loom::thread_local! {
    static CURRENT_POOL: Cell<usize> = Cell::new(0);
    static CURRENT_INDEX: Cell<usize> = Cell::new(0);
    static CURRENT_STATS: std::cell::RefCell<Option<std::sync::Arc<Counters>>> =
        std::cell::RefCell::new(None);
}

/// The counters of the pool this worker thread serves (none off the pool).
pub(crate) fn current_stats() -> Option<std::sync::Arc<Counters>> {
    CURRENT_STATS.with(|c| c.borrow().clone())
}

/// The id of the pool whose worker this thread is, or 0.
pub(crate) fn current_pool() -> usize {
    CURRENT_POOL.with(|c| c.get())
}

/// Whether this thread is a worker of some thread pool.
/// The index of this worker thread in its pool (its name's suffix).
pub(crate) fn current_index() -> usize {
    CURRENT_INDEX.with(|c| c.get())
}

pub(crate) fn on_worker_thread() -> bool {
    current_pool() != 0
}

pub(crate) fn spawn(
    pool: &Pool,
    index: usize,
    body: impl FnOnce() + Send + 'static,
) -> std::io::Result<JoinHandle> {
    #[cfg(not(loom))]
    {
        let mut b = std::thread::Builder::new().name(format!("{}_{index}", pool.cfg.name_prefix));
        if let Some(s) = pool.cfg.stack_size {
            b = b.stack_size(s);
        }
        b.spawn(body)
    }
    #[cfg(loom)]
    {
        let _ = (pool.cfg.stack_size, index);
        Ok(loom::thread::spawn(body))
    }
}

/// Accounts for this worker when its thread ends, and replaces it if it ends by unwinding (a
/// bug in the crate or a deliberately injected fault: task panics never get this far).
struct Exit {
    pool: Arc<Pool>,
    marked: Cell<bool>,
    counted: Cell<bool>,
}

impl Drop for Exit {
    fn drop(&mut self) {
        if self.marked.get() {
            self.pool.unmark_idle();
        }
        if self.counted.get() {
            self.pool.release_thread();
            #[cfg(not(loom))]
            let dying = std::thread::panicking();
            #[cfg(loom)]
            let dying = false;
            if dying {
                log::error!(
                    "a worker thread of pool {} died; replacing it",
                    self.pool.id
                );
                if !self.pool.should_exit() && self.pool.try_reserve_thread() {
                    self.pool.stats.replaced();
                    self.pool.spawn_worker();
                }
            }
        }
    }
}

pub(crate) fn run(pool: Arc<Pool>, index: usize) {
    CURRENT_POOL.with(|c| c.set(pool.id));
    CURRENT_INDEX.with(|c| c.set(index));
    CURRENT_STATS.with(|c| *c.borrow_mut() = Some(pool.stats.clone()));
    let exit = Exit {
        pool: pool.clone(),
        marked: Cell::new(false),
        counted: Cell::new(true),
    };
    if let Some(init) = pool.cfg.initializer.clone() {
        if let Err(p) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| init())) {
            let msg = panic_message(&*p);
            drop_quietly(p);
            pool.break_pool(format!("the initializer panicked: {msg}"));
            return;
        }
    }
    let mut marked = false;
    // When this worker last woke up to work (its busy time runs until it goes idle).
    let mut busy_since: Option<Instant> = None;
    loop {
        // Busy half: run jobs until the queue is empty.
        if let Some(job) = pool.pop() {
            if busy_since.is_none() && !cfg!(loom) {
                busy_since = Some(Instant::now());
            }
            if marked {
                pool.unmark_idle();
                marked = false;
                exit.marked.set(false);
            }
            if pool.is_broken() {
                if job.fail(pool.broken_error()) {
                    pool.stats.failed_unstarted();
                } else {
                    pool.stats.cancelled(); // cancelled while queued
                }
            } else if pool.cancelling() {
                job.cancel_job(); // now, or by its holder while queued
                pool.stats.cancelled();
            } else {
                // Say "available" before the future completes, so that a caller woken by this
                // result and submitting again reuses this worker instead of spawning one.
                // (Only when the queue is empty: otherwise this worker goes straight on to the
                // next job, and marking would cost two shared writes per task in a burst. And
                // only while the pool may still start threads: at `max_workers` a submit never
                // spawns, and reading the queue's tail, which every submit writes, would cost a
                // cache miss per task.)
                let ran = job.run(&pool.stats, &mut || {
                    if pool.thread_count() < pool.cfg.max_workers && pool.queue_is_empty() {
                        pool.mark_idle();
                        marked = true;
                    }
                });
                if ran.is_none() {
                    pool.stats.cancelled(); // cancelled while queued
                }
                exit.marked.set(marked);
            }
            // The last reference may drop the task's result; a panicking `Drop` is contained.
            drop_quietly(job);
            continue;
        }

        // Idle half.
        if let Some(t) = busy_since.take() {
            pool.stats.busy(t.elapsed());
        }
        if !marked {
            pool.mark_idle();
            marked = true;
            exit.marked.set(true);
        }
        if spin_for_work(&pool) {
            continue;
        }
        if pool.should_exit() {
            return; // `exit` gives back the idle mark and the thread slot
        }
        let woken = pool.sleep(pool.cfg.idle_timeout);
        if !woken && pool.cfg.idle_timeout.is_some() && pool.try_retire(&mut marked) {
            exit.marked.set(false);
            exit.counted.set(false);
            return;
        }
        exit.marked.set(marked);
    }
}

fn spin_for_work(pool: &Pool) -> bool {
    if cfg!(loom) {
        // Real time is not part of a loom model: go straight to sleeping.
        return !pool.queue_is_empty();
    }
    let start = Instant::now();
    if pool.in_burst() {
        // Lazy: leave the queue to the submitter for a while (every look at it takes the
        // submitter's cache line away from it), then take what gathered in one go.
        let until = start + LAZY_POLL;
        while Instant::now() < until {
            for _ in 0..8 {
                std::hint::spin_loop();
            }
        }
        if !pool.queue_is_empty() {
            return true;
        }
        // Nothing came for a whole lazy poll: the burst is over; watch closely again.
        pool.end_burst();
    }
    let mut step = 0;
    loop {
        if !pool.queue_is_empty() {
            return true;
        }
        if step >= 6 && start.elapsed() > IDLE_SPIN {
            return false;
        }
        backoff(step.min(10));
        step += 1;
    }
}

/// Test hook: a job that kills the worker thread running it by unwinding outside every
/// `catch_unwind` (to exercise worker replacement).
#[repr(C)]
pub(crate) struct KillWorker {
    // First: a pointer to it is a pointer to its header.
    core: crate::future::core::Core<()>,
    bound: Option<Arc<super::pool::Bound>>,
}

impl KillWorker {
    const VTABLE: crate::future::core::VTable = crate::future::core::VTable {
        drop: Self::drop_raw,
        cancel: |_| false,
        help: |_, _| false,
        spins_in_help: false,
        run: Self::run_raw,
        fail: |_, _| false,
        wait_final: |_| {},
    };

    /// The job, as a queue entry.
    pub(crate) fn job(bound: Option<Arc<super::pool::Bound>>) -> super::task::JobRef {
        let me = Box::new(KillWorker {
            core: crate::future::core::Core::new(&Self::VTABLE, 1, 0),
            bound,
        });
        let ptr = std::ptr::NonNull::from(Box::leak(me));
        // SAFETY: one reference was counted, the queue entry's; the header comes first.
        unsafe { super::task::JobRef::from_raw(ptr.cast()) }
    }

    unsafe fn drop_raw(h: std::ptr::NonNull<crate::future::core::Header>) {
        // SAFETY: the last reference is gone; the allocation was made by `job` as a `Box`.
        drop(unsafe { Box::from_raw(h.cast::<KillWorker>().as_ptr()) });
    }

    unsafe fn run_raw(
        h: std::ptr::NonNull<crate::future::core::Header>,
        stats: &Counters,
        _: &mut dyn FnMut(),
    ) -> Option<bool> {
        // SAFETY: the caller holds a reference.
        let me = unsafe { h.cast::<KillWorker>().as_ref() };
        stats.failed_unstarted();
        if let Some(b) = &me.bound {
            b.release();
        }
        std::panic::resume_unwind(Box::new("worker killed on purpose (test hook)"));
    }
}
