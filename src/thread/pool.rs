//! The state a thread pool's workers and submitters share, and the protocols over it:
//! admission (the gate), waking and spawning, the bounded queue, breaking, shutdown.
//! The worker loop itself is in `worker.rs`; the design notes are in `mod.rs`.

use std::time::Duration;

use super::queue::Queue;
use super::task::JobRef;
use crate::error::{SubmitError, TaskError};
use crate::sync::{fence, lock, AtomicBool, AtomicUsize, Condvar, Mutex, Ordering::*};

/// The gate word: `(submitters in flight) * ONE | SHUTDOWN`.
const SHUTDOWN: usize = 1;
const ONE: usize = 2;

/// A thread that submits this many tasks to one pool without waiting for any future in
/// between is feeding it a burst (see `worker::spin_for_work`).
#[cfg(not(loom))]
const BURST: u32 = 32;

#[cfg(not(loom))]
std::thread_local! {
    /// The calling thread's run of submits without a wait: (pool id, count).
    static STREAK: std::cell::Cell<(usize, u32)> = const { std::cell::Cell::new((0, 0)) };
}

/// The calling thread is about to wait for a future: its run of submits, if any, ends.
#[inline]
pub(crate) fn note_wait() {
    #[cfg(not(loom))]
    STREAK.with(|s| {
        if s.get().1 != 0 {
            s.set((0, 0));
        }
    });
}

/// A worker's initializer.
pub(crate) type Initializer = std::sync::Arc<dyn Fn() + Send + Sync>;

#[derive(Clone)]
pub(crate) struct Config {
    pub(crate) max_workers: usize,
    pub(crate) name_prefix: String,
    pub(crate) initializer: Option<Initializer>,
    pub(crate) idle_timeout: Option<Duration>,
    pub(crate) max_queued: Option<usize>,
    pub(crate) stack_size: Option<usize>,
}

#[cfg(not(loom))]
pub(crate) type JoinHandle = std::thread::JoinHandle<()>;
#[cfg(loom)]
pub(crate) type JoinHandle = loom::thread::JoinHandle<()>;

pub(crate) struct Pool {
    pub(crate) id: usize,
    pub(crate) cfg: Config,
    queue: Queue,
    /// On its own cache line: every submit writes it twice.
    gate: crossbeam_utils::CachePadded<AtomicUsize>,
    /// Workers in their idle half that no submitter has claimed yet.
    idle: crossbeam_utils::CachePadded<AtomicUsize>,
    /// Set by a thread that submits a long run of tasks without waiting for any (a burst);
    /// cleared by that thread's first submit after a wait, or by an idle worker that finds the
    /// queue still empty after a lazy poll. Written only on change, read by idle workers: see
    /// `worker::spin_for_work`.
    burst: crossbeam_utils::CachePadded<AtomicBool>,
    /// Live worker threads (reserved before spawning).
    threads: AtomicUsize,
    /// Workers blocked (or about to block) on `wake` that no submitter has notified yet.
    /// Changed only under `sleep_lock`; read without it on the submit path.
    sleeping: AtomicUsize,
    /// Guards the sleep protocol; holds the number of notifications sent to sleepers that have
    /// not woken up yet (see `sleep`).
    sleep_lock: Mutex<usize>,
    wake: Condvar,
    cancelling: AtomicBool,
    broken: AtomicBool,
    cause: Mutex<Option<String>>,
    handles: Mutex<Vec<JoinHandle>>,
    next_index: AtomicUsize,
    /// The bounded queue, when `max_queued` is set.
    pub(crate) bound: Option<crate::sync::Arc<Bound>>,
    /// Workers of this pool blocked in `shutdown(wait = true)` (from their own tasks).
    waiting_workers: AtomicUsize,
    /// Signalled (under `sleep_lock`) whenever a worker thread exits.
    exited: Condvar,
    /// What `stats()` reports (worker threads hold a reference too, for nested waits).
    pub(crate) stats: std::sync::Arc<crate::stats::Counters>,
}

/// The bounded queue's accounting: how many admitted tasks have not left `PENDING` yet.
///
/// A slot is reserved at admission and released exactly once, when the task leaves `PENDING` —
/// it starts, is cancelled, or fails — by whichever thread wins that transition (`task.rs`). So
/// a cancelled task frees its slot at once, not when a worker later pops it.
pub(crate) struct Bound {
    max: usize,
    queued: AtomicUsize,
    blocked: AtomicUsize,
    lock: Mutex<()>,
    space: Condvar,
}

impl Bound {
    fn new(max: usize) -> Self {
        Bound {
            max,
            queued: AtomicUsize::new(0),
            blocked: AtomicUsize::new(0),
            lock: Mutex::new(()),
            space: Condvar::new(),
        }
    }

    fn try_reserve(&self) -> bool {
        let mut q = self.queued.load(SeqCst);
        while q < self.max {
            match self.queued.compare_exchange(q, q + 1, SeqCst, SeqCst) {
                Ok(_) => return true,
                Err(cur) => q = cur,
            }
        }
        false
    }

    /// Gives a slot back and wakes one blocked submitter.
    ///
    /// The releaser decrements, fences, then reads `blocked`; a blocked submitter increments
    /// `blocked`, fences, then re-reads `queued` before waiting (under `lock`, which the releaser
    /// takes to notify): one of the two sees the other.
    pub(crate) fn release(&self) {
        self.queued.fetch_sub(1, SeqCst);
        fence(SeqCst);
        if self.blocked.load(SeqCst) > 0 {
            let _g = lock(&self.lock);
            self.space.notify_one();
        }
    }

    /// Waits until a slot may be free (the caller retries `try_reserve`).
    fn wait_for_space(&self) {
        let g = lock(&self.lock);
        self.blocked.fetch_add(1, SeqCst);
        fence(SeqCst);
        if self.queued.load(SeqCst) < self.max {
            self.blocked.fetch_sub(1, SeqCst);
            return;
        }
        drop(self.space.wait(g));
        self.blocked.fetch_sub(1, SeqCst);
    }
}

/// Proof of admission: while it lives, workers do not exit for shutdown.
pub(crate) struct Admission<'a> {
    pool: &'a Pool,
}

impl Drop for Admission<'_> {
    fn drop(&mut self) {
        self.pool.leave();
    }
}

impl Pool {
    pub(crate) fn new(id: usize, cfg: Config) -> Self {
        let cfg_bound = cfg.max_queued.map(|m| crate::sync::Arc::new(Bound::new(m)));
        Pool {
            id,
            cfg,
            queue: Queue::new(),
            gate: crossbeam_utils::CachePadded::new(AtomicUsize::new(0)),
            idle: crossbeam_utils::CachePadded::new(AtomicUsize::new(0)),
            burst: crossbeam_utils::CachePadded::new(AtomicBool::new(false)),
            threads: AtomicUsize::new(0),
            stats: Default::default(),
            sleeping: AtomicUsize::new(0),
            sleep_lock: Mutex::new(0),
            wake: Condvar::new(),
            cancelling: AtomicBool::new(false),
            broken: AtomicBool::new(false),
            cause: Mutex::new(None),
            handles: Mutex::new(Vec::new()),
            next_index: AtomicUsize::new(0),
            bound: cfg_bound,
            waiting_workers: AtomicUsize::new(0),
            exited: Condvar::new(),
        }
    }

    // ----- admission -------------------------------------------------------------------------

    /// Admits one submission of `payload`, reserving queue space if the queue is bounded
    /// (blocking for it, or refusing with `Full`, as `blocking` says).
    pub(crate) fn admit<P>(
        &self,
        payload: P,
        blocking: bool,
    ) -> Result<(P, Admission<'_>), SubmitError<P>> {
        let s = self.gate.fetch_add(ONE, SeqCst);
        let admission = Admission { pool: self };
        if s & SHUTDOWN != 0 {
            drop(admission);
            return Err(self.refusal(payload));
        }
        if let Some(bound) = &self.bound {
            if let Err(()) = self.reserve_space(bound, blocking) {
                drop(admission);
                return Err(if self.gate.load(SeqCst) & SHUTDOWN != 0 {
                    self.refusal(payload)
                } else {
                    SubmitError::Full(payload)
                });
            }
        }
        Ok((payload, admission))
    }

    fn refusal<P>(&self, payload: P) -> SubmitError<P> {
        match self.broken_cause() {
            Some(cause) => SubmitError::Broken(payload, cause),
            None => SubmitError::Shutdown(payload),
        }
    }

    fn leave(&self) {
        let s = self.gate.fetch_sub(ONE, SeqCst);
        if s == ONE | SHUTDOWN {
            // The last submitter left a closed gate: workers may now exit, and a broken pool
            // must fail whatever that submitter queued.
            if self.is_broken() {
                self.drain_failing();
            }
            self.wake_all();
        }
    }

    pub(crate) fn is_shutdown(&self) -> bool {
        self.gate.load(SeqCst) & SHUTDOWN != 0
    }

    /// True when no submission can add work any more (closed gate, none in flight).
    fn closed_and_quiet(&self) -> bool {
        self.gate.load(SeqCst) == SHUTDOWN
    }

    // ----- bounded queue ---------------------------------------------------------------------

    fn reserve_space(&self, bound: &Bound, blocking: bool) -> Result<(), ()> {
        loop {
            if bound.try_reserve() {
                return Ok(());
            }
            if !blocking {
                return Err(());
            }
            // A worker of this pool must not block on its own full queue: it runs a queued job
            // instead, which frees a slot.
            if super::worker::current_pool() == self.id {
                if let Some(job) = self.pop() {
                    if job.run(&self.stats, &mut || {}).is_none() {
                        self.stats.cancelled();
                    }
                }
                continue;
            }
            bound.wait_for_space();
        }
    }

    // ----- queue, waking and spawning --------------------------------------------------------

    /// Queues an admitted job and makes sure a worker will take it: an idle worker if one can be
    /// claimed (woken if asleep), else a new thread if below `max_workers`, else a busy worker
    /// when it finishes.
    pub(crate) fn push(self: &crate::sync::Arc<Self>, job: JobRef) {
        // Claim an idle worker *before* pushing: once the job is visible, that worker may pop it
        // and take back its own idle mark, and a claim attempted after the push would then fail
        // and spawn a thread the job did not need. Reserving a new thread stays *after* the push
        // (see `try_retire`).
        let claimed = self.try_claim_idle();
        self.note_submit();
        self.stats.submitted();
        self.queue.push(job);
        fence(SeqCst);
        if !claimed && self.try_reserve_thread() {
            self.spawn_worker();
        }
        if self.sleeping.load(SeqCst) > 0 {
            let mut pending_wakes = lock(&self.sleep_lock);
            // Each sleeper is notified at most once: a burst of submits costs one wake-up per
            // sleeping worker, not one futex call per submit.
            if self.sleeping.load(SeqCst) > 0 {
                self.sleeping.fetch_sub(1, SeqCst);
                *pending_wakes += 1;
                self.wake.notify_one();
            }
        }
    }

    pub(crate) fn pop(&self) -> Option<JobRef> {
        self.queue.pop()
    }

    // ----- the burst hint --------------------------------------------------------------------

    /// Counts this submit in the calling thread's run of submits to this pool without a wait
    /// in between; every `BURST`th one marks the pool as fed by a burst, and the first one
    /// after a wait marks the burst over.
    #[inline]
    fn note_submit(&self) {
        #[cfg(not(loom))]
        {
            let n = STREAK.with(|s| {
                let (pool, n) = s.get();
                let n = if pool == self.id {
                    n.wrapping_add(1)
                } else {
                    1
                };
                s.set((self.id, n));
                n
            });
            if n == 1 {
                // The first submit after a wait: whatever burst this thread fed is over (an
                // idle worker would otherwise keep polling lazily for a submit → wait loop).
                self.end_burst();
            } else if n % BURST == 0 && !self.burst.load(Relaxed) {
                self.burst.store(true, Relaxed);
            }
        }
    }

    /// Whether a burst of submits is feeding the queue (a hint: it may be stale either way).
    #[inline]
    pub(crate) fn in_burst(&self) -> bool {
        self.burst.load(Relaxed)
    }

    /// The burst is over: an idle worker found no work after a lazy poll, or a submitter
    /// waited.
    pub(crate) fn end_burst(&self) {
        if self.burst.load(Relaxed) {
            self.burst.store(false, Relaxed);
        }
    }

    pub(crate) fn queue_is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    pub(crate) fn queue_len(&self) -> usize {
        self.queue.len()
    }

    fn try_claim_idle(&self) -> bool {
        let mut n = self.idle.load(SeqCst);
        while n > 0 {
            match self.idle.compare_exchange_weak(n, n - 1, SeqCst, SeqCst) {
                Ok(_) => return true,
                Err(cur) => n = cur,
            }
        }
        false
    }

    /// A worker enters its idle half.
    pub(crate) fn mark_idle(&self) {
        self.idle.fetch_add(1, SeqCst);
    }

    /// A worker leaves its idle half; if a submitter already claimed it, the claim is spent.
    pub(crate) fn unmark_idle(&self) -> bool {
        self.try_claim_idle()
    }

    pub(crate) fn try_reserve_thread(&self) -> bool {
        let max = self.cfg.max_workers;
        let mut n = self.threads.load(SeqCst);
        while n < max {
            match self.threads.compare_exchange_weak(n, n + 1, SeqCst, SeqCst) {
                Ok(_) => return true,
                Err(cur) => n = cur,
            }
        }
        false
    }

    pub(crate) fn release_thread(&self) {
        self.threads.fetch_sub(1, SeqCst);
        let _g = lock(&self.sleep_lock);
        self.exited.notify_all();
    }

    pub(crate) fn thread_count(&self) -> usize {
        self.threads.load(SeqCst)
    }

    /// Starts a worker for a reserved thread slot.
    pub(crate) fn spawn_worker(self: &crate::sync::Arc<Self>) {
        let index = self.next_index.fetch_add(1, SeqCst);
        let pool = self.clone();
        match super::worker::spawn(self, index, move || super::worker::run(pool, index)) {
            Ok(h) => {
                let mut hs = lock(&self.handles);
                #[cfg(not(loom))]
                hs.retain(|h| !h.is_finished());
                hs.push(h);
            }
            Err(e) => {
                self.release_thread();
                log::error!("could not start a worker thread: {e}");
                if self.thread_count() == 0 {
                    self.break_pool(format!("could not start a worker thread: {e}"));
                }
            }
        }
    }

    // ----- sleeping ---------------------------------------------------------------------------

    /// Blocks until woken, or `timeout`; returns `false` on timeout.
    ///
    /// No lost wake-up: the sleeper increments `sleeping` and re-checks for work under
    /// `sleep_lock`; a submitter pushes, then reads `sleeping` (both sides `SeqCst`, with a
    /// fence): either the submitter sees the sleeper and notifies under the lock (after the
    /// sleeper is waiting, since the check and the wait are one critical section), or the sleeper
    /// sees the job.
    ///
    /// No double count: a notifier moves one sleeper from `sleeping` to the pending-wakes count
    /// (both under the lock), so `sleeping + pending_wakes` is the number of threads in `wait`.
    /// Every thread leaving `wait` — notified, timed out or woken spuriously — takes one back:
    /// a pending wake if there is one, else its own `sleeping` entry. The sum is at least one
    /// for it, so neither count underflows, and `sleeping` counts only sleepers nobody has
    /// notified yet.
    pub(crate) fn sleep(&self, timeout: Option<Duration>) -> bool {
        let g = lock(&self.sleep_lock);
        self.sleeping.fetch_add(1, SeqCst);
        fence(SeqCst);
        if !self.queue.is_empty() || self.closed_and_quiet() {
            self.sleeping.fetch_sub(1, SeqCst);
            return true;
        }
        let (mut pending_wakes, woken) = match timeout {
            None => (self.wait(g), true),
            Some(t) => match self.wake.wait_timeout(g, t) {
                Ok((g, r)) => (g, !r.timed_out()),
                Err(p) => {
                    let (g, r) = p.into_inner();
                    (g, !r.timed_out())
                }
            },
        };
        if *pending_wakes > 0 {
            *pending_wakes -= 1;
            true
        } else {
            self.sleeping.fetch_sub(1, SeqCst);
            woken
        }
    }

    fn wait<'a>(
        &self,
        g: crate::sync::MutexGuard<'a, usize>,
    ) -> crate::sync::MutexGuard<'a, usize> {
        match self.wake.wait(g) {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    fn wake_all(&self) {
        let mut pending_wakes = lock(&self.sleep_lock);
        let n = self.sleeping.swap(0, SeqCst);
        *pending_wakes += n;
        self.wake.notify_all();
    }

    /// Whether a worker in its idle half should exit because the pool is shut down.
    pub(crate) fn should_exit(&self) -> bool {
        self.closed_and_quiet() && self.queue.is_empty()
    }

    /// An idle worker whose idle timeout passed asks to retire. It gives up its idle mark (unless
    /// a submitter claimed it) and its thread slot, then re-checks the queue: a job pushed by a
    /// submitter that still counted this thread is not stranded, because that submitter pushed
    /// before reading `threads`, and this thread decremented `threads` before re-reading the
    /// queue.
    pub(crate) fn try_retire(&self, marked: &mut bool) -> bool {
        if !self.queue.is_empty() {
            return false;
        }
        if *marked {
            if !self.try_claim_idle() {
                return false;
            }
            *marked = false;
        }
        self.release_thread();
        fence(SeqCst);
        if !self.queue.is_empty() && !self.should_exit() && self.try_reserve_thread() {
            return false;
        }
        true
    }

    // ----- cancelling, breaking, shutting down -----------------------------------------------

    pub(crate) fn cancelling(&self) -> bool {
        self.cancelling.load(Acquire)
    }

    pub(crate) fn is_broken(&self) -> bool {
        self.broken.load(Acquire)
    }

    pub(crate) fn broken_cause(&self) -> Option<String> {
        if !self.is_broken() {
            return None;
        }
        lock(&self.cause).clone()
    }

    /// Marks the pool broken (first cause wins), closes the gate and fails every queued task.
    pub(crate) fn break_pool(&self, cause: String) {
        {
            let mut c = lock(&self.cause);
            if c.is_none() {
                // Once, with the cause (Python logs a failed initializer at CRITICAL).
                log::error!("thread pool broken: {cause}");
                *c = Some(cause);
            }
        }
        self.broken.store(true, Release);
        self.gate.fetch_or(SHUTDOWN, SeqCst);
        self.drain_failing();
        self.wake_all();
    }

    pub(crate) fn broken_error(&self) -> TaskError {
        TaskError::BrokenExecutor {
            cause: self
                .broken_cause()
                .unwrap_or_else(|| "the executor is broken".into()),
        }
    }

    fn drain_failing(&self) {
        let err = self.broken_error();
        while let Some(job) = self.pop() {
            // Not pending any more: it was cancelled while queued.
            if job.fail(err.clone()) {
                self.stats.failed_unstarted();
            } else {
                self.stats.cancelled();
            }
        }
    }

    /// Closes the gate; optionally cancels what has not started; optionally waits for workers.
    pub(crate) fn shutdown(&self, wait: bool, cancel_futures: bool) {
        self.gate.fetch_or(SHUTDOWN, SeqCst);
        if cancel_futures {
            self.cancelling.store(true, Release);
            while let Some(job) = self.pop() {
                // Cancelled now, or by its holder while queued: either way, never started.
                job.cancel_job();
                self.stats.cancelled();
            }
        }
        self.wake_all();
        if wait {
            self.join_all();
        }
    }

    /// Waits until every worker thread has exited — except the calling one and any other worker
    /// of this pool that is itself waiting here (tasks may shut down their own pool). Waiting is
    /// on the live-thread count, signalled by each exiting worker, so it does not matter which
    /// caller took the join handles: two concurrent `shutdown(wait = true)` calls both wait.
    /// A caller that is not a worker also joins the handles it finds, to reclaim the threads.
    fn join_all(&self) {
        let on_worker = super::worker::current_pool() == self.id;
        if on_worker {
            self.waiting_workers.fetch_add(1, SeqCst);
            let _g = lock(&self.sleep_lock);
            self.exited.notify_all();
        } else {
            loop {
                // Read the gate *before* taking the handles: a submitter records the handle of a
                // worker it spawned before it leaves the gate, so once the gate was seen quiet
                // every such handle is in the list taken next.
                let quiet = self.closed_and_quiet();
                let hs = std::mem::take(&mut *lock(&self.handles));
                if hs.is_empty() {
                    if quiet {
                        break;
                    }
                    crate::sync::thread::yield_now();
                    continue;
                }
                for h in hs {
                    let _ = h.join();
                }
            }
        }
        let mut g = lock(&self.sleep_lock);
        while self.threads.load(SeqCst) > self.waiting_workers.load(SeqCst) {
            g = match self.exited.wait(g) {
                Ok(g) => g,
                Err(p) => p.into_inner(),
            };
        }
        drop(g);
        if on_worker {
            self.waiting_workers.fetch_sub(1, SeqCst);
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use std::time::{Duration, Instant};

    use crate::ThreadPoolExecutor;

    /// `BURST` submits without a wait mark a burst; the first submit after a wait ends it, so a
    /// submit → result loop that follows a burst finds its worker watching closely again.
    #[test]
    fn a_run_of_submits_marks_a_burst_and_a_wait_ends_it() {
        // A future of another pool, to wait for without involving this pool's worker.
        let other = ThreadPoolExecutor::with_max_workers(1).unwrap();
        let elsewhere = other.submit(|| ()).unwrap();
        let pool = ThreadPoolExecutor::with_max_workers(1).unwrap();
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        // The only worker is held busy throughout, so no idle worker can end the burst.
        let held = pool.submit(move || rx.recv().ok()).unwrap();
        let mut futures = Vec::new();
        for _ in 1..super::BURST - 1 {
            futures.push(pool.submit(|| ()).unwrap());
        }
        assert!(
            !pool.pool.in_burst(),
            "marked before {} submits",
            super::BURST
        );
        futures.push(pool.submit(|| ()).unwrap());
        assert!(
            pool.pool.in_burst(),
            "{} submits without a wait",
            super::BURST
        );
        elsewhere.result().unwrap();
        assert!(pool.pool.in_burst(), "a wait alone changes no shared state");
        futures.push(pool.submit(|| ()).unwrap());
        assert!(!pool.pool.in_burst(), "the first submit after a wait");
        tx.send(()).unwrap();
        held.result().unwrap();
        for f in futures {
            f.result().unwrap();
        }
    }

    /// An idle worker that finds nothing after a lazy poll ends the burst: a submitter that
    /// stops submitting without waiting does not leave the workers polling lazily.
    #[test]
    fn an_idle_worker_that_finds_no_work_ends_the_burst() {
        let pool = ThreadPoolExecutor::with_max_workers(1).unwrap();
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        // The worker is held until the burst is marked, so that it cannot end it first.
        let mut futures = vec![pool.submit(move || rx.recv().ok()).unwrap()];
        futures.extend((1..super::BURST).map(|_| pool.submit(|| Some(())).unwrap()));
        assert!(pool.pool.in_burst());
        tx.send(()).unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while pool.pool.in_burst() {
            assert!(Instant::now() < deadline, "the burst was never ended");
            std::thread::yield_now();
        }
        for f in futures {
            f.result().unwrap();
        }
    }
}
