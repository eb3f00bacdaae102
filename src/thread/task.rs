//! A task of the thread engine: its future's [`Core`], its closure and what its pool needs, in
//! one allocation (24 bytes for an empty closure returning `()` in a pool without a queue bound).
//!
//! The allocation is seen two ways, each owning one reference: as a [`JobRef`] in the pool's
//! queue (a thin pointer: eight bytes per queued task) and as the caller's [`Future`]. The
//! header's vtable knows the concrete `Task<F, T, X>`.
//!
//! # Who may touch the closure
//!
//! `func` is written once, at creation, and read (moved out) or dropped once: by the thread
//! that won the compare-and-swap out of `PENDING` on `core` (to `RUNNING`: it runs the closure;
//! to `CANCELLED` or `FINISHED`-with-error: it drops it), right after winning; or, if nobody ever
//! won it, by the allocation's drop. That CAS succeeds once per task, so there is never more than
//! one accessor, and "the life is still `PENDING`" says exactly whether the closure is there.
//!
//! # What the pool needs
//!
//! `X` is [`Extra`]: nothing for a plain pool, the queue bound's slot for a bounded one (given
//! back when the task leaves `PENDING`), and the scope's live count for a scoped task (given back
//! when the allocation is freed). The pool's identity, for the nested-wait rule, is the
//! header's 24-bit tag.

use std::cell::UnsafeCell;
use std::mem::MaybeUninit;
use std::ptr::NonNull;

use crate::error::{drop_quietly, TaskError};
use crate::future::core::{Core, Header, VTable, Wakeups, MAX_TAG, PENDING};
use crate::future::Future;
use crate::stats::Counters;
use crate::sync::Arc;

/// What a task carries for its pool besides the closure and the future.
pub(crate) trait Extra: Send + Sync {
    /// Called once, by the winner of the CAS out of `PENDING`.
    fn left_pending(&self);
}

impl Extra for () {
    fn left_pending(&self) {}
}

/// A bounded pool's task: its queue slot.
impl Extra for Arc<super::pool::Bound> {
    fn left_pending(&self) {
        self.release();
    }
}

/// A scoped task: the queue slot (bounded pools) and the scope's count of live allocations.
pub(crate) struct Scoped {
    pub(crate) bound: Option<Arc<super::pool::Bound>>,
    /// Held for its `Drop`, when the allocation is freed.
    pub(crate) _live: super::scope::LiveTask,
}

impl Extra for Scoped {
    fn left_pending(&self) {
        if let Some(b) = &self.bound {
            b.release();
        }
    }
}

/// The header's tag for pool `id`: never 0, which no worker thread's pool has.
pub(crate) fn pool_tag(id: usize) -> u32 {
    (id.wrapping_sub(1) % MAX_TAG as usize) as u32 + 1
}

#[repr(C)]
pub(crate) struct Task<F, T, X> {
    // First: a pointer to the task is a pointer to its header.
    core: Core<T>,
    func: UnsafeCell<MaybeUninit<F>>,
    extra: X,
    /// The submitter's span (`tracing`; empty without the feature).
    origin: crate::trace::Origin,
}

// SAFETY: `func` is only accessed by the single winner of the CAS out of PENDING (module docs),
// so sharing `&Task` never gives two threads access to it; `F: Send` lets the winner, on any
// thread, take and run or drop it. The cell's contents are guarded by the core's lock.
unsafe impl<F: Send, T: Send, X: Extra> Sync for Task<F, T, X> {}

/// A queued task: one reference to a task allocation, as a thin pointer.
pub(crate) struct JobRef(NonNull<Header>);

// SAFETY: every task allocation is `Sync` and its vtable's functions may run on any thread.
unsafe impl Send for JobRef {}

impl JobRef {
    /// Takes over one reference.
    ///
    /// # Safety
    /// `h` points to a live allocation with a thread-task vtable, and the caller gives up one of
    /// its references.
    pub(crate) unsafe fn from_raw(h: NonNull<Header>) -> Self {
        JobRef(h)
    }

    fn vtable(&self) -> &'static VTable {
        // SAFETY: this reference keeps the allocation live.
        unsafe { self.0.as_ref() }.vtable()
    }

    /// Runs the task if it is still pending: `Some(true)` if it returned a value,
    /// `Some(false)` if it panicked, `None` if it had been cancelled (or failed) before.
    /// `before_complete` runs after the closure returned and before the future completes.
    pub(crate) fn run(&self, stats: &Counters, before_complete: &mut dyn FnMut()) -> Option<bool> {
        // SAFETY: this reference keeps the allocation live.
        unsafe { (self.vtable().run)(self.0, stats, before_complete) }
    }

    /// Cancels the task if it is still pending (shutdown with `cancel_futures`); true if it was.
    pub(crate) fn cancel_job(&self) -> bool {
        // SAFETY: as above.
        unsafe { (self.vtable().cancel)(self.0) }
    }

    /// Fails the task if it is still pending (broken executor); true if it was.
    pub(crate) fn fail(&self, err: TaskError) -> bool {
        // SAFETY: as above.
        unsafe { (self.vtable().fail)(self.0, err) }
    }

    /// Blocks until the task is final (scoped tasks, at the end of the scope).
    pub(crate) fn wait_final(&self) {
        // SAFETY: as above.
        unsafe { (self.vtable().wait_final)(self.0) }
    }
}

impl Clone for JobRef {
    fn clone(&self) -> Self {
        // SAFETY: this reference keeps the allocation live.
        unsafe { self.0.as_ref() }.acquire();
        JobRef(self.0)
    }
}

impl Drop for JobRef {
    fn drop(&mut self) {
        // SAFETY: this owns one reference and does not use it again.
        unsafe { Header::release(self.0) }
    }
}

impl<F, T, X> Task<F, T, X>
where
    F: FnOnce() -> T + Send,
    T: Send,
    X: Extra,
{
    const VTABLE: VTable = VTable {
        drop: Self::drop_raw,
        cancel: Self::cancel_raw,
        help: Self::help_raw,
        spins_in_help: false,
        run: Self::run_raw,
        fail: Self::fail_raw,
        wait_final: Self::wait_final_raw,
    };

    /// A new task of pool `pool_id`, as its future and its queue entry.
    ///
    /// # Safety
    /// The allocation must not be used after `F`'s and `T`'s lifetimes end. For `'static` tasks
    /// this is trivial; for scoped tasks the scope does not return before the allocation is
    /// freed (`scope.rs`), which the `Scoped` extra's live count tells it.
    pub(crate) unsafe fn spawn(func: F, pool_id: usize, extra: X) -> (Future<T>, JobRef) {
        let task = Box::new(Task {
            core: Core::<T>::new(&Self::VTABLE, 2, pool_tag(pool_id)),
            func: UnsafeCell::new(MaybeUninit::new(func)),
            extra,
            origin: crate::trace::Origin::capture(),
        });
        let ptr = NonNull::from(Box::leak(task));
        // SAFETY: two references were counted, one for each handle; `Task` starts with its
        // `Core<T>`, which starts with the header (`repr(C)`).
        unsafe { (Future::from_raw(ptr.cast()), JobRef::from_raw(ptr.cast())) }
    }

    /// # Safety (every `*_raw` function)
    /// `h` points to a live `Task<F, T, X>` and the caller holds a reference to it.
    unsafe fn get<'a>(h: NonNull<Header>) -> &'a Self {
        // SAFETY: see above.
        unsafe { h.cast::<Self>().as_ref() }
    }

    /// A [`Future`] view of the task at `h` (for callbacks and waits). Made from the
    /// allocation's own pointer, never from a reference to a field, so that the view may do
    /// anything a handle does, freeing the allocation included.
    fn view(&self, h: NonNull<Header>) -> Future<T> {
        self.core.header().acquire();
        // SAFETY: the reference just counted is the view's; `h` is this task's pointer.
        unsafe { Future::from_raw(h.cast()) }
    }

    unsafe fn drop_raw(h: NonNull<Header>) {
        // SAFETY: the last reference is gone; the allocation was made by `spawn` as a `Box`.
        drop(unsafe { Box::from_raw(h.cast::<Self>().as_ptr()) });
    }

    unsafe fn cancel_raw(h: NonNull<Header>) -> bool {
        // SAFETY: see `get`.
        let task = unsafe { Self::get(h) };
        let left = task.core.cancel();
        task.settle_unstarted(h, left)
    }

    unsafe fn fail_raw(h: NonNull<Header>, err: TaskError) -> bool {
        // SAFETY: see `get`.
        let task = unsafe { Self::get(h) };
        let left = task.core.fail_pending(err);
        task.settle_unstarted(h, left)
    }

    unsafe fn run_raw(
        h: NonNull<Header>,
        stats: &Counters,
        before_complete: &mut dyn FnMut(),
    ) -> Option<bool> {
        // SAFETY: see `get`.
        let task = unsafe { Self::get(h) };
        task.core
            .try_start()
            .then(|| task.run_started(h, stats, before_complete))
    }

    /// The nested-wait rule: a worker of this task's pool that waits on it while it is still
    /// queued runs it itself. See `thread/mod.rs`.
    unsafe fn help_raw(h: NonNull<Header>, _: Option<std::time::Instant>) -> bool {
        // SAFETY: see `get`.
        let task = unsafe { Self::get(h) };
        let pool = super::worker::current_pool();
        if pool != 0 && pool_tag(pool) == task.core.header().tag() && task.core.try_start() {
            let stats = super::worker::current_stats().unwrap_or_default();
            task.run_started(h, &stats, &mut || {});
            return true;
        }
        false
    }

    unsafe fn wait_final_raw(h: NonNull<Header>) {
        // SAFETY: see `get`.
        unsafe { Self::get(h) }.view(h).wait();
    }

    /// Runs the task on this thread once it has left `PENDING` for `RUNNING` here: counts it,
    /// runs it in its span, and returns whether it gave a value.
    fn run_started(
        &self,
        h: NonNull<Header>,
        stats: &Counters,
        before_complete: &mut dyn FnMut(),
    ) -> bool {
        // Taken first: whatever happens next (a tracing subscriber that panics), the closure
        // is then owned by this frame and dropped if it unwinds.
        let f = self.take_func();
        stats.started();
        self.extra.left_pending();
        let span = self.span();
        let ok = span.in_scope(|| {
            self.execute(h, f, &mut |ok| {
                stats.finished(ok);
                before_complete();
            })
        });
        span.finish(if ok { "ok" } else { "panicked" });
        ok
    }

    /// After the task left `PENDING` without running (cancelled or failed), or did not:
    /// gives back its slot, drops the closure and wakes the waiters; true if it left.
    fn settle_unstarted<E>(&self, h: NonNull<Header>, left: Result<Wakeups<T>, E>) -> bool {
        match left {
            Ok(w) => {
                let f = self.take_func();
                self.extra.left_pending();
                drop_quietly(f);
                w.wake(|| self.view(h));
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

    /// Moves the closure out. Caller must have just won the CAS out of PENDING.
    fn take_func(&self) -> F {
        debug_assert_ne!(self.core.state(), PENDING);
        // SAFETY: the caller won the one CAS out of PENDING, so no other thread accesses `func`
        // now or later, and it has not been moved out before (module docs).
        unsafe { (*self.func.get()).assume_init_read() }
    }

    /// Runs the closure (the caller won PENDING → RUNNING) and completes the future;
    /// `before_complete(ok)` runs before the future completes (so that what it records is
    /// visible to whoever the completion wakes).
    fn execute(&self, h: NonNull<Header>, f: F, before_complete: &mut dyn FnMut(bool)) -> bool {
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
            .map_err(TaskError::from_panic);
        let ok = outcome.is_ok();
        before_complete(ok);
        let wakeups = self.core.complete(outcome);
        wakeups.wake(|| self.view(h));
        ok
    }
}

impl<F, T, X> Drop for Task<F, T, X> {
    fn drop(&mut self) {
        // Nobody left PENDING: the closure is still here (a queue dropped with its pool).
        if self.core.state() == PENDING {
            // SAFETY: no CAS out of PENDING was won, so the closure was never moved out, and
            // `&mut self` excludes every other access.
            unsafe { self.func.get_mut().assume_init_drop() }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The memory figure the README quotes rests on this layout: an empty task of a pool without
    /// a queue bound is 24 bytes (a 32-byte heap chunk), plus the submitter's span with the
    /// `tracing` feature; its queue entry and its future are 8 bytes each.
    #[test]
    fn an_empty_task_is_24_bytes_and_its_handles_are_thin() {
        fn task_size<F: FnOnce() + Send>(_: &F) -> usize {
            std::mem::size_of::<Task<F, (), ()>>()
        }
        let span = std::mem::size_of::<crate::trace::Origin>();
        assert_eq!(task_size(&|| ()), 24 + span);
        assert_eq!(std::mem::size_of::<JobRef>(), 8);
        assert_eq!(std::mem::size_of::<Future<()>>(), 8);
        assert_eq!(std::mem::size_of::<Option<Future<()>>>(), 8);
    }
}
