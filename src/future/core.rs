#![doc = include_str!("core.md")]

use std::cell::UnsafeCell;
use std::mem::ManuallyDrop;
use std::ptr::NonNull;
use std::task::Waker;

use crate::error::TaskError;
use crate::stats::Counters;
use crate::sync::{backoff, fence, AtomicU32, Ordering, Thread};

pub(crate) const PENDING: u8 = 0;
pub(crate) const RUNNING: u8 = 1;
pub(crate) const FINISHED: u8 = 2;
pub(crate) const CANCELLED: u8 = 3;

const LIFE: u32 = 0b11;
const LOCKED: u32 = 1 << 2;
const STAGE: u32 = 0b111 << 3;
/// The cell holds nothing (a pending future nobody waits on, or a cancelled one).
const NONE: u32 = 0;
const WAITERS: u32 = 1 << 3;
const VALUE: u32 = 2 << 3;
const ERROR: u32 = 3 << 3;
const TAKEN: u32 = 4 << 3;
const TAG_SHIFT: u32 = 8;
/// The largest tag an engine may give a future (24 bits).
pub(crate) const MAX_TAG: u32 = (1 << (32 - TAG_SHIFT)) - 1;

/// The error a cancelled future reports (its cell holds nothing: the life says it).
static CANCELLED_ERROR: TaskError = TaskError::Cancelled;

/// Something that waits on several futures at once (`wait`, `as_completed`, `map_unordered`).
/// `notify(token)` is called exactly once per registration, when that future reaches a final
/// state; it must not block.
pub(crate) trait Notify: Send + Sync {
    fn notify(&self, token: usize);
}

/// A done-callback, run once with a view of the finished future.
pub(crate) type Callback<T> = Box<dyn FnOnce(&crate::Future<T>) + Send>;

/// One registration in a future's waiter list.
pub(crate) enum Waiter<T> {
    /// A thread parked in `result()`/`wait()`.
    Thread(Thread),
    /// An async task that polled the future.
    Async(Waker),
    /// A multi-future waiter with the token it gave for this future.
    Set(crate::sync::Arc<dyn Notify>, usize),
    /// A done-callback; run after the lock is released, in registration order.
    Callback(Callback<T>),
}

/// What an allocation holding a [`Core`] can do, whatever its concrete type. Each function is
/// called with a pointer to the allocation's [`Header`], which the caller holds a reference to.
pub(crate) struct VTable {
    /// Frees the allocation: its last reference is gone.
    pub(crate) drop: unsafe fn(NonNull<Header>),
    /// PENDING → CANCELLED, dropping the work; whether this call cancelled it.
    pub(crate) cancel: unsafe fn(NonNull<Header>) -> bool,
    /// What a thread about to wait for the future may do first, until the deadline at most:
    /// run the task if it is still pending and this thread may run it (a worker of the same
    /// pool), or take its worker's replies itself (a process pool); whether the future is now
    /// final.
    pub(crate) help: unsafe fn(NonNull<Header>, Option<std::time::Instant>) -> bool,
    /// `help` already spun as long as it was worth it: the waiting thread parks next.
    pub(crate) spins_in_help: bool,
    /// A queued thread-pool task: runs it if it is still pending (`Some(true)`: it returned,
    /// `Some(false)`: it panicked, `None`: it had left `PENDING` before). `before_complete`
    /// runs after the closure returned and before the future completes. Counts it in `stats`.
    pub(crate) run: RunFn,
    /// Fails the task if it is still pending (a broken executor); true if it was.
    pub(crate) fail: unsafe fn(NonNull<Header>, TaskError) -> bool,
    /// Blocks until the future is final.
    pub(crate) wait_final: unsafe fn(NonNull<Header>),
}

/// [`VTable::run`].
pub(crate) type RunFn = unsafe fn(NonNull<Header>, &Counters, &mut dyn FnMut()) -> Option<bool>;

/// The part of every future's allocation that does not depend on its types: first in it, so
/// that a pointer to the allocation is a pointer to this.
#[repr(C)]
pub(crate) struct Header {
    vtable: &'static VTable,
    refs: AtomicU32,
    state: AtomicU32,
}

impl Header {
    #[inline]
    pub(crate) fn vtable(&self) -> &'static VTable {
        self.vtable
    }

    /// The life (`PENDING`, `RUNNING`, `FINISHED`, `CANCELLED`).
    #[inline]
    pub(crate) fn life(&self) -> u8 {
        (self.state.load(Ordering::Acquire) & LIFE) as u8
    }

    /// The tag given at creation.
    #[inline]
    pub(crate) fn tag(&self) -> u32 {
        self.state.load(Ordering::Relaxed) >> TAG_SHIFT
    }

    /// One more reference to the allocation.
    #[inline]
    pub(crate) fn acquire(&self) {
        let old = self.refs.fetch_add(1, Ordering::Relaxed);
        if old > i32::MAX as u32 {
            // As `Arc` does: a count this high means references are being leaked in a loop.
            std::process::abort();
        }
    }

    /// Gives back one reference; the last one frees the allocation.
    ///
    /// # Safety
    /// `this` points to a live allocation and the caller owns one of its references, which it
    /// does not use again.
    #[inline]
    pub(crate) unsafe fn release(this: NonNull<Header>) {
        // SAFETY: the caller owns a reference, so the allocation is live.
        let h = unsafe { this.as_ref() };
        // The only reference left (the common end of a task: the worker let go first) needs no
        // read-modify-write: nobody else can count up or down. Reading 1 with `Acquire`
        // synchronises with every earlier decrement, as the fence below does.
        if h.refs.load(Ordering::Acquire) == 1 {
            // SAFETY: this was the last reference.
            return unsafe { (h.vtable.drop)(this) };
        }
        if h.refs.fetch_sub(1, Ordering::Release) == 1 {
            // Every other owner's last use happened before its decrement (Release); this
            // fence makes them all happen before the free.
            fence(Ordering::Acquire);
            // SAFETY: this was the last reference.
            unsafe { (h.vtable.drop)(this) }
        }
    }
}

/// The shared state of one future: the header, then the cell (waiters, then the outcome).
#[repr(C)]
pub(crate) struct Core<T> {
    header: Header,
    cell: UnsafeCell<Cell<T>>,
}

/// What the cell holds is in the state word's stage bits.
union Cell<T> {
    none: (),
    waiters: *mut Vec<Waiter<T>>,
    error: *mut TaskError,
    value: ManuallyDrop<T>,
}

/// The outcome of a final future, borrowed under the lock.
pub(crate) enum Outcome<'a, T> {
    Value(&'a T),
    Error(&'a TaskError),
    Taken,
    /// Not final yet.
    Pending,
}

/// What a completing thread must do after it released the lock.
pub(crate) struct Wakeups<T> {
    waiters: Option<Vec<Waiter<T>>>,
}

impl<T> Core<T> {
    /// A pending future's state, with `refs` references to it and the engine's `tag`.
    pub(crate) fn new(vtable: &'static VTable, refs: u32, tag: u32) -> Self {
        debug_assert!(tag <= MAX_TAG);
        Core {
            header: Header {
                vtable,
                refs: AtomicU32::new(refs),
                state: AtomicU32::new((tag << TAG_SHIFT) | PENDING as u32),
            },
            cell: UnsafeCell::new(Cell { none: () }),
        }
    }

    #[inline]
    pub(crate) fn header(&self) -> &Header {
        &self.header
    }

    #[inline]
    pub(crate) fn state(&self) -> u8 {
        self.header.life()
    }

    #[inline]
    pub(crate) fn is_final(&self) -> bool {
        self.state() >= FINISHED
    }

    /// PENDING → RUNNING. The winner owns the work. Does not wait for the lock: it changes only
    /// the life, which a lock holder keeps as it finds it.
    #[inline]
    pub(crate) fn try_start(&self) -> bool {
        let state = &self.header.state;
        let mut s = state.load(Ordering::Relaxed);
        loop {
            if s & LIFE != PENDING as u32 {
                return false;
            }
            match state.compare_exchange_weak(
                s,
                (s & !LIFE) | RUNNING as u32,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(cur) => s = cur,
            }
        }
    }

    /// Takes the lock: spins (then yields) while another thread holds it. Every retry reads
    /// the word by a failed compare-and-swap, which always sees the latest value (a plain load
    /// may see an older one for a while, and under loom, for ever).
    pub(crate) fn lock(&self) -> Guard<'_, T> {
        let state = &self.header.state;
        let mut s = state.load(Ordering::Relaxed) & !LOCKED;
        let mut step = 0;
        loop {
            match state.compare_exchange_weak(s, s | LOCKED, Ordering::Acquire, Ordering::Relaxed) {
                Ok(_) => {
                    return Guard {
                        core: self,
                        stage: s & STAGE,
                    }
                }
                Err(cur) => {
                    if cur & LOCKED != 0 {
                        backoff(step.min(10));
                        step += 1;
                    }
                    s = cur & !LOCKED;
                }
            }
        }
    }

    /// `from` → `to` (a final life) and the lock, in one CAS; the old word, or the life that
    /// refused. Retries read the word as `lock` does.
    fn finalize(&self, from: u8, to: u8) -> Result<u32, u8> {
        let state = &self.header.state;
        let mut s = state.load(Ordering::Relaxed) & !LOCKED;
        let mut step = 0;
        loop {
            if s & LIFE != from as u32 {
                return Err((s & LIFE) as u8);
            }
            match state.compare_exchange_weak(
                s,
                (s & !LIFE) | to as u32 | LOCKED,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Ok(s),
                Err(cur) => {
                    if cur & LOCKED != 0 {
                        backoff(step.min(10));
                        step += 1;
                    }
                    s = cur & !LOCKED;
                }
            }
        }
    }

    /// After [`finalize`](Self::finalize) won with old word `old`: moves the waiters out, puts
    /// `stage`'s content in (written by `put`), and releases the lock with the final word.
    fn settle(&self, old: u32, to: u8, stage: u32, put: impl FnOnce(&mut Cell<T>)) -> Wakeups<T> {
        // SAFETY: this thread holds the lock (won by `finalize`), so it alone touches the cell.
        let cell = unsafe { &mut *self.cell.get() };
        let waiters = if old & STAGE == WAITERS {
            // SAFETY: the stage says the cell holds the waiters' box.
            Some(*unsafe { Box::from_raw(cell.waiters) })
        } else {
            None
        };
        put(cell);
        // Nothing else writes a word whose life is final while it is locked: a plain store.
        self.header.state.store(
            (old & !(LIFE | LOCKED | STAGE)) | to as u32 | stage,
            Ordering::Release,
        );
        Wakeups { waiters }
    }

    /// RUNNING → FINISHED with an outcome. Returns the waiters to wake.
    pub(crate) fn complete(&self, outcome: Result<T, TaskError>) -> Wakeups<T> {
        let old = match self.finalize(RUNNING, FINISHED) {
            Ok(old) => old,
            Err(life) => unreachable!("complete() on a future that is not running ({life})"),
        };
        match outcome {
            Ok(v) => self.settle(old, FINISHED, VALUE, |c| c.value = ManuallyDrop::new(v)),
            Err(e) => self.settle(old, FINISHED, ERROR, |c| {
                c.error = Box::into_raw(Box::new(e))
            }),
        }
    }

    /// PENDING → CANCELLED. `Ok(wakeups)` if this call cancelled it, `Err(life)` otherwise.
    pub(crate) fn cancel(&self) -> Result<Wakeups<T>, u8> {
        let old = self.finalize(PENDING, CANCELLED)?;
        Ok(self.settle(old, CANCELLED, NONE, |c| c.none = ()))
    }

    /// PENDING → FINISHED with an error (the executor broke, or the work was lost).
    pub(crate) fn fail_pending(&self, err: TaskError) -> Result<Wakeups<T>, u8> {
        let old = self.finalize(PENDING, FINISHED)?;
        Ok(self.settle(old, FINISHED, ERROR, |c| {
            c.error = Box::into_raw(Box::new(err))
        }))
    }

    /// Moves the outcome out of a final future held through its only reference, without the
    /// lock: nobody else can touch the cell. `None` when other references exist (then lock).
    #[inline]
    pub(crate) fn take_unique(&self) -> Option<Result<T, TaskError>> {
        if self.header.refs.load(Ordering::Acquire) != 1 {
            return None;
        }
        let state = &self.header.state;
        let s = state.load(Ordering::Acquire);
        if s & (LOCKED | STAGE) != VALUE {
            return None; // errors and the rest: the general path
        }
        state.store((s & !STAGE) | TAKEN, Ordering::Relaxed);
        // SAFETY: the only reference is the caller's, so no other thread accesses the cell; the
        // stage said it holds the value and now says it was taken, so this is its only read.
        Some(Ok(unsafe {
            ManuallyDrop::take(&mut (*self.cell.get()).value)
        }))
    }

    /// Adds a waiter unless the future is already final (then the waiter is handed back).
    pub(crate) fn register(&self, w: Waiter<T>) -> Result<(), Waiter<T>> {
        let mut g = self.lock();
        match g.waiters() {
            Some(list) => {
                list.push(w);
                Ok(())
            }
            None => Err(w),
        }
    }

    /// Removes the waiters `pred` selects (a timed-out thread, a dropped `as_completed`).
    pub(crate) fn deregister(&self, pred: impl Fn(&Waiter<T>) -> bool) {
        self.lock().retain_waiters(|w| !pred(w));
    }
}

impl<T> Drop for Core<T> {
    fn drop(&mut self) {
        let s = self.header.state.load(Ordering::Relaxed);
        let cell = self.cell.get_mut();
        // SAFETY: the stage says which field the cell holds; this is its last use.
        unsafe {
            match s & STAGE {
                WAITERS => drop(Box::from_raw(cell.waiters)),
                VALUE => ManuallyDrop::drop(&mut cell.value),
                ERROR => drop(Box::from_raw(cell.error)),
                _ => {}
            }
        }
    }
}

/// The lock on a future's cell; released on drop with the stage it leaves.
pub(crate) struct Guard<'a, T> {
    core: &'a Core<T>,
    stage: u32,
}

impl<T> Guard<'_, T> {
    fn cell(&self) -> &Cell<T> {
        // SAFETY: the guard holds the lock.
        unsafe { &*self.core.cell.get() }
    }

    #[allow(clippy::mut_from_ref)]
    fn cell_mut(&mut self) -> &mut Cell<T> {
        // SAFETY: the guard holds the lock, and `&mut self` makes this the only borrow.
        unsafe { &mut *self.core.cell.get() }
    }

    /// The outcome, borrowed (`Pending` while the future is not final).
    pub(crate) fn outcome(&self) -> Outcome<'_, T> {
        // SAFETY (each arm): the stage says which field the cell holds.
        match self.stage {
            VALUE => Outcome::Value(unsafe { &self.cell().value }),
            ERROR => Outcome::Error(unsafe { &*self.cell().error }),
            TAKEN => Outcome::Taken,
            _ if self.core.state() == CANCELLED => Outcome::Error(&CANCELLED_ERROR),
            _ => Outcome::Pending,
        }
    }

    /// Moves the value out (an error stays, cloned out); `None` while not final.
    pub(crate) fn take(&mut self) -> Option<Result<T, TaskError>> {
        match self.stage {
            VALUE => {
                self.stage = TAKEN;
                // SAFETY: the stage said the cell holds the value; it now says it was taken,
                // so this is the value's only read.
                Some(Ok(unsafe {
                    ManuallyDrop::take(&mut self.cell_mut().value)
                }))
            }
            ERROR => Some(Err(unsafe { (*self.cell().error).clone() })),
            TAKEN => Some(Err(TaskError::AlreadyTaken)),
            _ if self.core.state() == CANCELLED => Some(Err(TaskError::Cancelled)),
            _ => None,
        }
    }

    /// The waiter list, created on first use; `None` once the future is final.
    pub(crate) fn waiters(&mut self) -> Option<&mut Vec<Waiter<T>>> {
        if self.core.is_final() {
            return None;
        }
        if self.stage != WAITERS {
            self.stage = WAITERS;
            self.cell_mut().waiters = Box::into_raw(Box::default());
        }
        // SAFETY: the stage says the cell holds the waiters' box.
        Some(unsafe { &mut *self.cell_mut().waiters })
    }

    /// Keeps the waiters `keep` selects; an emptied list is freed.
    pub(crate) fn retain_waiters(&mut self, keep: impl FnMut(&Waiter<T>) -> bool) {
        if self.stage != WAITERS {
            return;
        }
        // SAFETY: the stage says the cell holds the waiters' box.
        let list = unsafe { &mut *self.cell_mut().waiters };
        list.retain(keep);
        if list.is_empty() {
            // SAFETY: as above; the stage is set to match right after.
            drop(unsafe { Box::from_raw(self.cell_mut().waiters) });
            self.cell_mut().none = ();
            self.stage = NONE;
        }
    }
}

impl<T> Drop for Guard<'_, T> {
    fn drop(&mut self) {
        // The life may have gone PENDING → RUNNING meanwhile (`try_start` does not wait for the
        // lock): keep whatever it is now.
        let state = &self.core.header.state;
        let mut s = state.load(Ordering::Relaxed);
        loop {
            let new = (s & !(LOCKED | STAGE)) | self.stage;
            match state.compare_exchange_weak(s, new, Ordering::Release, Ordering::Relaxed) {
                Ok(_) => return,
                Err(cur) => s = cur,
            }
        }
    }
}

impl<T> Wakeups<T> {
    fn drain(self) -> Vec<Callback<T>> {
        let mut callbacks = Vec::new();
        for w in self.waiters.into_iter().flatten() {
            match w {
                Waiter::Thread(t) => t.unpark(),
                Waiter::Async(waker) => waker.wake(),
                Waiter::Set(n, token) => n.notify(token),
                Waiter::Callback(cb) => callbacks.push(cb),
            }
        }
        callbacks
    }

    /// Wakes every waiter, then runs the callbacks in registration order with `view`.
    /// A panicking callback is caught and logged; the others still run.
    pub(crate) fn wake(self, view: impl FnOnce() -> crate::Future<T>) {
        if self.waiters.is_none() {
            return;
        }
        let callbacks = self.drain();
        if !callbacks.is_empty() {
            let fut = view();
            for cb in callbacks {
                run_callback(cb, &fut);
            }
        }
    }
}

#[cfg(all(any(unix, windows), feature = "process"))]
impl<T: Send + 'static> Wakeups<T> {
    /// Wakes every waiter now, and returns the callbacks (if any) as one job for another thread
    /// to run with a view of the future: an engine whose completing thread must not run user
    /// code (a process pool's reader) hands them on.
    pub(crate) fn wake_deferring(
        self,
        view: impl FnOnce() -> crate::Future<T>,
    ) -> Option<Deferred> {
        let callbacks = self.drain();
        if callbacks.is_empty() {
            return None;
        }
        let fut = view();
        Some(Box::new(move || {
            for cb in callbacks {
                run_callback(cb, &fut);
            }
            crate::error::drop_quietly(fut);
        }))
    }
}

/// Callbacks to run elsewhere (see `Wakeups::wake_deferring`).
#[cfg(all(any(unix, windows), feature = "process"))]
pub(crate) type Deferred = Box<dyn FnOnce() + Send>;

/// Runs one done-callback, containing any panic it raises.
pub(crate) fn run_callback<T>(cb: Callback<T>, fut: &crate::Future<T>) {
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| cb(fut)));
    if let Err(payload) = r {
        let msg = crate::error::panic_message(&*payload);
        log::error!("a done-callback panicked (ignored): {msg}");
        // Dropping the payload could itself panic; contain that too.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(payload)));
    }
}

/// The vtable entries of an allocation that is never queued on a thread pool.
pub(crate) mod not_queued {
    use super::*;

    pub(crate) unsafe fn help(_: NonNull<Header>, _: Option<std::time::Instant>) -> bool {
        false
    }
    pub(crate) unsafe fn run(
        _: NonNull<Header>,
        _: &Counters,
        _: &mut dyn FnMut(),
    ) -> Option<bool> {
        None
    }
    pub(crate) unsafe fn fail(_: NonNull<Header>, _: TaskError) -> bool {
        false
    }
    pub(crate) unsafe fn wait_final(_: NonNull<Header>) {}
}
