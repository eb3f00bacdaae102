//! A task of the thread engine: the closure and its future's [`Core`] in one allocation.
//!
//! The same `Arc<Task<F, T>>` is seen three ways: as a [`Job`] in the pool's queue, as the
//! `Shared<T>` behind the caller's [`Future`], and (for scoped tasks) as a live allocation the
//! scope waits for.
//!
//! # Who may touch the closure
//!
//! `func` is an `UnsafeCell<Option<F>>`. It is only accessed by the thread that won the
//! compare-and-swap out of `PENDING` on `core` (to `RUNNING`: it runs the closure; to `CANCELLED`
//! or `FINISHED`-with-error: it drops the closure), or by `Drop` (which has `&mut self`). That CAS
//! succeeds once per task, so there is never more than one accessor.

use std::cell::UnsafeCell;

use crate::error::{drop_quietly, TaskError};
use crate::future::core::{Core, Wakeups};
use crate::future::{Future, Shared};
use crate::stats::Counters;
use crate::sync::Arc;

/// A unit of work in a pool's queue.
pub(crate) trait Job: Send + Sync {
    /// Runs the task if it is still pending; `before_complete` is called after the closure
    /// returned and before the future is completed (the worker uses it to say it is available).
    /// Runs the task if it is still pending: `Some(true)` if it returned a value, `Some(false)`
    /// if it panicked, `None` if it had been cancelled (or failed) before.
    /// Counts it in `stats` when it starts and when it finishes.
    fn run(self: Arc<Self>, stats: &Counters, before_complete: &mut dyn FnMut()) -> Option<bool>;
    /// Cancels the task if it is still pending (shutdown with `cancel_futures`); true if it was.
    fn cancel_job(self: Arc<Self>) -> bool;
    /// Fails the task if it is still pending (broken executor); true if it was.
    fn fail(self: Arc<Self>, err: TaskError) -> bool;
    /// Blocks until the task is final (scoped tasks, at the end of the scope).
    fn wait_final(self: Arc<Self>);
}

pub(crate) struct Task<F, T> {
    func: UnsafeCell<Option<F>>,
    pool_id: usize,
    /// The bounded queue's slot this task holds while `PENDING` (bounded pools only).
    bound: Option<Arc<super::pool::Bound>>,
    core: Core<T>,
    /// The submitter's span (`tracing`; empty without the feature).
    origin: crate::trace::Origin,
    // Declared last: dropped after `func` and `core` (closure and result), which is what lets a
    // scope return once every guard is gone.
    _scope: Option<super::scope::LiveTask>,
}

// SAFETY: `func` is only accessed by the single winner of the CAS out of PENDING (see the module
// docs), so sharing `&Task` between threads never gives two threads access to it; `F: Send`
// lets the winner, on any thread, take and run or drop it. `core` is `Sync` for `T: Send`.
unsafe impl<F: Send, T: Send> Sync for Task<F, T> {}

impl<F, T> Task<F, T>
where
    F: FnOnce() -> T + Send,
    T: Send,
{
    pub(crate) fn new(
        func: F,
        pool_id: usize,
        bound: Option<Arc<super::pool::Bound>>,
        scope: Option<super::scope::LiveTask>,
    ) -> Self {
        Task {
            func: UnsafeCell::new(Some(func)),
            pool_id,
            bound,
            core: Core::new(),
            origin: crate::trace::Origin::capture(),
            _scope: scope,
        }
    }

    /// Runs the task on this thread once it has left `PENDING` for `RUNNING` here: counts it,
    /// runs it in its span, and returns whether it gave a value.
    fn run_started(self: Arc<Self>, stats: &Counters, before_complete: &mut dyn FnMut()) -> bool {
        stats.started();
        self.left_pending();
        let span = self.span();
        let ok = span.in_scope(|| {
            self.execute(&mut |ok| {
                stats.finished(ok);
                before_complete();
            })
        });
        span.finish(if ok { "ok" } else { "panicked" });
        ok
    }

    /// After the task left `PENDING` without running (cancelled or failed), or did not:
    /// gives back its slot, drops the closure and wakes the waiters; true if it left.
    fn settle_unstarted<E>(self: Arc<Self>, left: Result<Wakeups<T>, E>) -> bool {
        match left {
            Ok(w) => {
                self.left_pending();
                drop_quietly(self.take_func());
                w.wake(|| view(self));
                true
            }
            Err(_) => false,
        }
    }

    /// The task's span, opened as it starts on this worker thread.
    fn span(&self) -> crate::trace::Running {
        let index = super::worker::current_index() as u64;
        self.origin
            .start("threads", std::any::type_name::<F>(), index)
    }

    /// Gives back the bounded-queue slot. Called once, by the winner of the CAS out of PENDING.
    fn left_pending(&self) {
        if let Some(b) = &self.bound {
            b.release();
        }
    }

    /// Takes the closure. Caller must have won the CAS out of PENDING.
    fn take_func(&self) -> Option<F> {
        debug_assert_ne!(self.core.state(), crate::future::core::PENDING);
        // SAFETY: the caller won the one CAS out of PENDING, so no other thread accesses `func`
        // now or later (module docs).
        unsafe { (*self.func.get()).take() }
    }
}

/// Type-erases a task into the `Shared<T>` behind a [`Future`].
///
/// # Safety
/// The allocation must not be used after `'a` ends. For `'static` tasks this is trivial; for
/// scoped tasks the scope does not return before the allocation is freed (`scope.rs`), and every
/// erased handle is a clone of that same `Arc`, so none outlives it.
pub(crate) unsafe fn erase_shared<'a, F, T>(task: Arc<Task<F, T>>) -> Arc<dyn Shared<T>>
where
    F: FnOnce() -> T + Send + 'a,
    T: Send + 'a,
{
    let task: Arc<dyn Shared<T> + 'a> = task;
    // SAFETY: only the lifetime bound of the trait object changes; see the function's contract.
    unsafe { std::mem::transmute::<Arc<dyn Shared<T> + 'a>, Arc<dyn Shared<T> + 'static>>(task) }
}

/// Type-erases a task into a queue [`Job`].
///
/// # Safety
/// As for [`erase_shared`].
pub(crate) unsafe fn erase_job<'a, F, T>(task: Arc<Task<F, T>>) -> Arc<dyn Job>
where
    F: FnOnce() -> T + Send + 'a,
    T: Send + 'a,
{
    let task: Arc<dyn Job + 'a> = task;
    // SAFETY: only the lifetime bound of the trait object changes; see the function's contract.
    unsafe { std::mem::transmute::<Arc<dyn Job + 'a>, Arc<dyn Job + 'static>>(task) }
}

/// A [`Future`] view of `task` (for callbacks and waits).
fn view<F, T>(task: Arc<Task<F, T>>) -> Future<T>
where
    F: FnOnce() -> T + Send,
    T: Send,
{
    // SAFETY: `task` is an allocation that already exists as a submitted task, so it obeys the
    // contract of `erase_shared` (it was built by `submit` or by a scope).
    Future::from_shared(unsafe { erase_shared(task) })
}

impl<F, T> Task<F, T>
where
    F: FnOnce() -> T + Send,
    T: Send,
{
    /// Runs the closure (the caller won PENDING → RUNNING) and completes the future.
    /// Runs the closure; `before_complete(ok)` runs before the future completes (so that what
    /// it records is visible to whoever the completion wakes).
    fn execute(self: Arc<Self>, before_complete: &mut dyn FnMut(bool)) -> bool {
        let outcome = match self.take_func() {
            Some(f) => std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
                .map_err(TaskError::from_panic),
            None => Err(TaskError::BrokenExecutor {
                cause: "task closure missing (internal error)".into(),
            }),
        };
        let ok = outcome.is_ok();
        before_complete(ok);
        let wakeups = self.core.complete(outcome);
        wakeups.wake(|| view(self));
        ok
    }
}

impl<F, T> Job for Task<F, T>
where
    F: FnOnce() -> T + Send,
    T: Send,
{
    fn run(self: Arc<Self>, stats: &Counters, before_complete: &mut dyn FnMut()) -> Option<bool> {
        self.core
            .try_start()
            .then(|| self.run_started(stats, before_complete))
    }

    fn cancel_job(self: Arc<Self>) -> bool {
        Shared::cancel(self)
    }

    fn fail(self: Arc<Self>, err: TaskError) -> bool {
        let left = self.core.fail_pending(err);
        self.settle_unstarted(left)
    }

    fn wait_final(self: Arc<Self>) {
        view(self).wait();
    }
}

impl<F, T> Shared<T> for Task<F, T>
where
    F: FnOnce() -> T + Send,
    T: Send,
{
    fn core(&self) -> &Core<T> {
        &self.core
    }

    fn cancel(self: Arc<Self>) -> bool {
        let left = self.core.cancel();
        self.settle_unstarted(left)
    }

    /// The nested-wait rule: a worker of this task's pool that waits on it while it is still
    /// queued runs it itself. See `thread/mod.rs`.
    fn help(self: Arc<Self>) -> bool {
        if super::worker::current_pool() == self.pool_id && self.core.try_start() {
            let stats = super::worker::current_stats().unwrap_or_default();
            self.run_started(&stats, &mut || {});
            return true;
        }
        false
    }
}
