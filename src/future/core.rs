#![doc = include_str!("core.md")]

use std::task::Waker;

use crate::error::TaskError;
use crate::sync::{lock, AtomicU8, Mutex, MutexGuard, Ordering, Thread};

pub(crate) const PENDING: u8 = 0;
pub(crate) const RUNNING: u8 = 1;
pub(crate) const FINISHED: u8 = 2;
pub(crate) const CANCELLED: u8 = 3;

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

/// Where the outcome lives once the future is final.
pub(crate) enum Slot<T> {
    Empty,
    Value(T),
    /// Boxed: failures are rare, and this keeps every task's allocation small.
    Error(Box<TaskError>),
    Taken,
}

pub(crate) struct Inner<T> {
    pub(crate) slot: Slot<T>,
    pub(crate) waiters: Vec<Waiter<T>>,
}

pub(crate) struct Core<T> {
    state: AtomicU8,
    inner: Mutex<Inner<T>>,
}

/// What a completing thread must do after it released the lock.
pub(crate) struct Wakeups<T> {
    waiters: Vec<Waiter<T>>,
}

impl<T> Core<T> {
    pub(crate) fn new() -> Self {
        Core {
            state: AtomicU8::new(PENDING),
            inner: Mutex::new(Inner {
                slot: Slot::Empty,
                waiters: Vec::new(),
            }),
        }
    }

    #[inline]
    pub(crate) fn state(&self) -> u8 {
        self.state.load(Ordering::Acquire)
    }

    #[inline]
    pub(crate) fn is_final(&self) -> bool {
        self.state() >= FINISHED
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner<T>> {
        lock(&self.inner)
    }

    /// PENDING → RUNNING. The winner owns the work.
    #[inline]
    pub(crate) fn try_start(&self) -> bool {
        self.state
            .compare_exchange(PENDING, RUNNING, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// RUNNING → FINISHED with an outcome. Returns the waiters to wake.
    pub(crate) fn complete(&self, outcome: Result<T, TaskError>) -> Wakeups<T> {
        let mut inner = self.lock();
        debug_assert_eq!(self.state.load(Ordering::Relaxed), RUNNING);
        inner.slot = match outcome {
            Ok(v) => Slot::Value(v),
            Err(e) => Slot::Error(Box::new(e)),
        };
        self.state.store(FINISHED, Ordering::Release);
        Wakeups {
            waiters: std::mem::take(&mut inner.waiters),
        }
    }

    /// PENDING → CANCELLED. `Ok(wakeups)` if this call cancelled it, `Err(state)` otherwise.
    pub(crate) fn cancel(&self) -> Result<Wakeups<T>, u8> {
        self.leave_pending(CANCELLED, Slot::Error(Box::new(TaskError::Cancelled)))
    }

    /// PENDING → FINISHED with an error (the executor broke, or the work was lost).
    pub(crate) fn fail_pending(&self, err: TaskError) -> Result<Wakeups<T>, u8> {
        self.leave_pending(FINISHED, Slot::Error(Box::new(err)))
    }

    fn leave_pending(&self, to: u8, slot: Slot<T>) -> Result<Wakeups<T>, u8> {
        let mut inner = self.lock();
        self.state
            .compare_exchange(PENDING, to, Ordering::AcqRel, Ordering::Acquire)?;
        inner.slot = slot;
        Ok(Wakeups {
            waiters: std::mem::take(&mut inner.waiters),
        })
    }

    /// Adds a waiter unless the future is already final (then the waiter is handed back).
    pub(crate) fn register(&self, w: Waiter<T>) -> Result<(), Waiter<T>> {
        let mut inner = self.lock();
        if self.is_final() {
            return Err(w);
        }
        inner.waiters.push(w);
        Ok(())
    }

    /// Removes the waiters `pred` selects (a timed-out thread, a dropped `as_completed`).
    pub(crate) fn deregister(&self, pred: impl Fn(&Waiter<T>) -> bool) {
        let mut inner = self.lock();
        inner.waiters.retain(|w| !pred(w));
    }
}

impl<T> Wakeups<T> {
    /// Wakes every waiter, then runs the callbacks in registration order with `view`.
    /// A panicking callback is caught and logged; the others still run.
    pub(crate) fn wake(self, view: impl FnOnce() -> crate::Future<T>) {
        if self.waiters.is_empty() {
            return;
        }
        let mut callbacks = Vec::new();
        for w in self.waiters {
            match w {
                Waiter::Thread(t) => t.unpark(),
                Waiter::Async(waker) => waker.wake(),
                Waiter::Set(n, token) => n.notify(token),
                Waiter::Callback(cb) => callbacks.push(cb),
            }
        }
        if !callbacks.is_empty() {
            let fut = view();
            for cb in callbacks {
                run_callback(cb, &fut);
            }
        }
    }
}

#[cfg(feature = "process")]
impl<T: Send + 'static> Wakeups<T> {
    /// Wakes every waiter now, and returns the callbacks (if any) as one job for another thread
    /// to run with a view of the future: an engine whose completing thread must not run user
    /// code (a process pool's reader) hands them on.
    pub(crate) fn wake_deferring(
        self,
        view: impl FnOnce() -> crate::Future<T>,
    ) -> Option<Deferred> {
        let mut callbacks = Vec::new();
        for w in self.waiters {
            match w {
                Waiter::Thread(t) => t.unpark(),
                Waiter::Async(waker) => waker.wake(),
                Waiter::Set(n, token) => n.notify(token),
                Waiter::Callback(cb) => callbacks.push(cb),
            }
        }
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
#[cfg(feature = "process")]
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
