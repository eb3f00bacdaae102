//! [`Promise<T>`]: the producer's half of a future that no executor runs — for custom engines,
//! adapters and tests (Python's `Future()` plus `set_result`/`set_exception`).

use std::fmt;
#[cfg(not(loom))]
use std::sync::Mutex;

use std::ptr::NonNull;

use super::core::{not_queued, Core, Header, VTable, PENDING};
use super::handle::{Future, FutureState};
use crate::error::TaskError;

/// A promise's allocation is a bare [`Core`]; this is what it can do.
fn vtable<T: Send + 'static>() -> &'static VTable {
    &VTable {
        drop: drop_promise::<T>,
        cancel: cancel_promise::<T>,
        help: not_queued::help,
        spins_in_help: false,
        run: not_queued::run,
        fail: not_queued::fail,
        wait_final: not_queued::wait_final,
    }
}

/// # Safety
/// `h` is a promise's allocation (a `Box<Core<T>>`) whose last reference is gone.
unsafe fn drop_promise<T>(h: NonNull<Header>) {
    // SAFETY: see the contract; the allocation was made by `Promise::new` as a `Box<Core<T>>`.
    drop(unsafe { Box::from_raw(h.cast::<Core<T>>().as_ptr()) })
}

/// What a thread about to wait for a future may do meanwhile, for an engine whose results
/// arrive on a thread of its own: a process pool lets the waiting thread read its worker's
/// replies, instead of waiting for its reader thread to do it and wake it (`process/port.md`).
#[cfg(all(any(unix, windows), feature = "process"))]
pub(crate) trait Help: Send + Sync {
    /// Works towards the future `key` on this thread until `done()` or `deadline`, for a short
    /// while at most (the waiting thread does not spin after it); whether `done()`.
    fn help(&self, key: u64, done: &dyn Fn() -> bool, deadline: Option<std::time::Instant>)
        -> bool;
}

/// A promise's allocation with a helper (`Promise::helped`).
#[cfg(all(any(unix, windows), feature = "process"))]
#[repr(C)]
struct Helped<T> {
    // First: a pointer to it is a pointer to the core, and to its header.
    core: Core<T>,
    /// Weak: a future kept after its pool is gone does not keep the pool.
    helper: std::sync::Weak<dyn Help>,
    key: u64,
}

#[cfg(all(any(unix, windows), feature = "process"))]
fn helped_vtable<T: Send + 'static>() -> &'static VTable {
    &VTable {
        drop: drop_helped::<T>,
        cancel: cancel_promise::<T>,
        help: help_helped::<T>,
        spins_in_help: true,
        run: not_queued::run,
        fail: not_queued::fail,
        wait_final: not_queued::wait_final,
    }
}

/// # Safety
/// `h` is a helped promise's allocation (a `Box<Helped<T>>`) whose last reference is gone.
#[cfg(all(any(unix, windows), feature = "process"))]
unsafe fn drop_helped<T>(h: NonNull<Header>) {
    // SAFETY: see the contract; made by `Promise::helped`.
    drop(unsafe { Box::from_raw(h.cast::<Helped<T>>().as_ptr()) })
}

/// # Safety
/// `h` is a live helped promise's allocation and the caller holds a reference to it.
#[cfg(all(any(unix, windows), feature = "process"))]
unsafe fn help_helped<T>(h: NonNull<Header>, deadline: Option<std::time::Instant>) -> bool {
    // SAFETY: see the contract.
    let cell = unsafe { h.cast::<Helped<T>>().as_ref() };
    let Some(helper) = cell.helper.upgrade() else {
        return cell.core.is_final();
    };
    helper.help(cell.key, &|| cell.core.is_final(), deadline)
}

/// # Safety
/// `h` is a live promise's allocation and the caller holds a reference to it.
unsafe fn cancel_promise<T: Send + 'static>(h: NonNull<Header>) -> bool {
    // SAFETY: see the contract.
    let core = unsafe { h.cast::<Core<T>>().as_ref() };
    match core.cancel() {
        Ok(w) => {
            w.wake(|| {
                core.header().acquire();
                // SAFETY: the reference just counted is the view's.
                unsafe { Future::from_raw(h.cast()) }
            });
            true
        }
        Err(_) => false,
    }
}

/// The write side of a [`Future`]. Dropping a `Promise` that was never completed fails its
/// future with [`TaskError::BrokenExecutor`], so no future is left pending forever.
///
/// ```
/// use concurrent_futures::Promise;
/// let (promise, future) = Promise::new();
/// std::thread::spawn(move || {
///     if promise.set_running_or_notify_cancel() == Ok(true) {
///         promise.set_result("hello").expect("not cancelled");
///     }
/// });
/// assert_eq!(future.result(), Ok("hello"));
/// ```
pub struct Promise<T: Send + 'static> {
    /// The promise's own reference to the future's state (a handle it never gives out).
    shared: Option<Future<T>>,
}

impl<T: Send + 'static> Promise<T> {
    /// A new pending future and the promise that completes it.
    ///
    /// ```
    /// use concurrent_futures::{FutureState, Promise};
    /// let (promise, future) = Promise::<String>::new();
    /// assert_eq!(future.state(), FutureState::Pending);
    /// promise.set_result("ready".to_string()).unwrap();
    /// assert_eq!(future.result().unwrap(), "ready");
    /// ```
    pub fn new() -> (Promise<T>, Future<T>) {
        let core = Box::new(Core::<T>::new(vtable::<T>(), 2, 0));
        let ptr = NonNull::from(Box::leak(core));
        // SAFETY: two references were counted, one for each handle; the allocation is a
        // `Box<Core<T>>`, as `vtable` says.
        unsafe { Promise::pair(ptr) }
    }

    /// A promise whose future, when a thread waits for it, first lets `helper` work towards
    /// it on that thread (`Help`); `key` says which future it is to the helper.
    #[cfg(all(any(unix, windows), feature = "process"))]
    pub(crate) fn helped(helper: std::sync::Weak<dyn Help>, key: u64) -> (Promise<T>, Future<T>) {
        let cell = Box::new(Helped {
            core: Core::<T>::new(helped_vtable::<T>(), 2, 0),
            helper,
            key,
        });
        let ptr = NonNull::from(Box::leak(cell)).cast::<Core<T>>();
        // SAFETY: two references were counted; the allocation is a `Box<Helped<T>>`, whose
        // first field (`repr(C)`) is the core, as `helped_vtable` says.
        unsafe { Promise::pair(ptr) }
    }

    /// The promise and the future of a fresh allocation.
    ///
    /// # Safety
    /// `ptr` is a new allocation with two references counted, one for each handle.
    unsafe fn pair(ptr: NonNull<Core<T>>) -> (Promise<T>, Future<T>) {
        // SAFETY: see the contract.
        let (shared, fut) = unsafe { (Future::from_raw(ptr), Future::from_raw(ptr)) };
        (
            Promise {
                shared: Some(shared),
            },
            fut,
        )
    }

    /// Marks the future running: `Ok(true)` if it was pending (now running: do the work),
    /// `Ok(false)` if it was cancelled (skip the work). Called again, or after the future
    /// finished, it is an error, as Python raises `RuntimeError`. Python's
    /// `set_running_or_notify_cancel`.
    ///
    /// ```
    /// use concurrent_futures::{FutureState, Promise};
    /// let (p, f) = Promise::<u8>::new();
    /// assert_eq!(p.set_running_or_notify_cancel(), Ok(true));
    /// let twice = p.set_running_or_notify_cancel().unwrap_err();
    /// assert_eq!(twice.state(), FutureState::Running);
    ///
    /// let (p, f) = Promise::<u8>::new();
    /// assert!(f.cancel());
    /// assert_eq!(p.set_running_or_notify_cancel(), Ok(false));
    /// ```
    pub fn set_running_or_notify_cancel(&self) -> Result<bool, InvalidState> {
        let s = self.shared.as_ref().expect("promise is live");
        if s.core().try_start() {
            return Ok(true);
        }
        match s.core().state() {
            super::core::CANCELLED => Ok(false),
            super::core::RUNNING => Err(InvalidState::new((), FutureState::Running)),
            _ => Err(InvalidState::new((), FutureState::Finished)),
        }
    }

    /// For engines: marks the future running; false if it was cancelled. Running already (a
    /// retried task) counts as started.
    #[cfg(all(any(unix, windows), feature = "process"))]
    pub(crate) fn start(&self) -> bool {
        let s = self.shared.as_ref().expect("promise is live");
        s.core().try_start() || s.core().state() == super::core::RUNNING
    }

    /// True once the future was cancelled by its holder.
    ///
    /// ```
    /// use concurrent_futures::Promise;
    /// let (promise, future) = Promise::<u32>::new();
    /// assert!(!promise.is_cancelled());
    /// future.cancel();
    /// assert!(promise.is_cancelled()); // no need to compute the value
    /// ```
    pub fn is_cancelled(&self) -> bool {
        self.shared
            .as_ref()
            .is_some_and(|s| s.core().state() == super::core::CANCELLED)
    }

    /// Completes the future with a value. If the future was cancelled, nothing reads it: the
    /// error hands the value back (Python raises `InvalidStateError`).
    ///
    /// ```
    /// use concurrent_futures::{FutureState, Promise};
    /// let (p, f) = Promise::new();
    /// p.set_result(3).unwrap();
    /// assert_eq!(f.result(), Ok(3));
    ///
    /// let (p, f) = Promise::new();
    /// f.cancel();
    /// let refused = p.set_result(String::from("late")).unwrap_err();
    /// assert_eq!(refused.state(), FutureState::Cancelled);
    /// assert_eq!(refused.into_inner(), "late");
    /// ```
    pub fn set_result(mut self, value: T) -> Result<(), InvalidState<T>> {
        match self.complete(Ok(value)) {
            Ok(()) => Ok(()),
            Err((Ok(value), state)) => Err(InvalidState::new(value, state)),
            Err((Err(_), _)) => unreachable!("a value comes back as a value"),
        }
    }

    /// Completes the future with an error; if the future was cancelled, the error hands it
    /// back, as [`set_result`](Self::set_result) does.
    ///
    /// ```
    /// use concurrent_futures::{Promise, TaskError};
    /// let (p, f) = Promise::<()>::new();
    /// p.set_exception(TaskError::Cancelled).unwrap();
    /// assert!(f.result().unwrap_err().is_cancelled());
    /// ```
    pub fn set_exception(mut self, err: TaskError) -> Result<(), InvalidState<TaskError>> {
        match self.complete(Err(err)) {
            Ok(()) => Ok(()),
            Err((Err(err), state)) => Err(InvalidState::new(err, state)),
            Err((Ok(_), _)) => unreachable!("an error comes back as an error"),
        }
    }

    /// Completes with `outcome`, or hands it back with the state that refused it.
    #[allow(clippy::type_complexity)]
    fn complete(
        &mut self,
        outcome: Result<T, TaskError>,
    ) -> Result<(), (Result<T, TaskError>, FutureState)> {
        let Some(s) = self.shared.take() else {
            return Err((outcome, FutureState::Finished));
        };
        if s.core().state() == PENDING && !s.core().try_start() {
            return Err((outcome, state_of(s.core())));
        }
        if s.core().is_final() {
            return Err((outcome, state_of(s.core())));
        }
        let w = s.core().complete(outcome);
        w.wake(|| s);
        Ok(())
    }

    #[cfg(all(any(unix, windows), feature = "process"))]
    /// Completes with `outcome`, waking waiters now and returning the callbacks to run
    /// elsewhere (see [`Wakeups::wake_deferring`](super::core::Wakeups::wake_deferring)).
    pub(crate) fn finish_deferring(
        &mut self,
        outcome: Result<T, TaskError>,
    ) -> Option<super::core::Deferred> {
        let s = self.shared.take()?;
        if s.core().state() == PENDING && !s.core().try_start() {
            return None;
        }
        if s.core().is_final() {
            return None;
        }
        let w = s.core().complete(outcome);
        w.wake_deferring(|| s)
    }
}

/// Under loom, `in_background` runs `f` at once (a model has no real threads to spare).
#[cfg(loom)]
pub(crate) fn in_background(f: impl FnOnce() + Send + 'static) -> Future<()> {
    f();
    let (promise, future) = Promise::new();
    let _ = promise.set_result(());
    future
}

/// Runs `f` (a blocking wait) on a thread of its own and returns a future that completes when
/// it returns: how an async caller waits for a shutdown without blocking its runtime. Where no
/// thread can be started, `f` runs here and the future is complete on return.
#[cfg(not(loom))]
pub(crate) fn in_background(f: impl FnOnce() + Send + 'static) -> Future<()> {
    type Job = Box<dyn FnOnce() + Send>;
    fn run(slot: &Mutex<Option<(Job, Promise<()>)>>) {
        let taken = slot.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some((f, promise)) = taken {
            match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
                Ok(()) => drop(promise.set_result(())),
                Err(p) => drop(promise.set_exception(TaskError::from_panic(p))),
            }
        }
    }
    let (promise, future) = Promise::new();
    let slot = std::sync::Arc::new(Mutex::new(Some((Box::new(f) as Job, promise))));
    let theirs = slot.clone();
    let spawned = std::thread::Builder::new()
        .name("concurrent-futures-shutdown".into())
        .spawn(move || run(&theirs));
    if spawned.is_err() {
        run(&slot); // no thread: the job is still in the slot; do it here
    }
    future
}

fn state_of<T>(core: &Core<T>) -> FutureState {
    match core.state() {
        super::core::CANCELLED => FutureState::Cancelled,
        super::core::RUNNING => FutureState::Running,
        PENDING => FutureState::Pending,
        _ => FutureState::Finished,
    }
}

/// A [`Promise`] call the future's state does not allow: completing a cancelled future, or
/// marking it running twice. Hands back what was given ([`into_inner`](Self::into_inner)).
///
/// ```
/// use concurrent_futures::Promise;
/// let (p, f) = Promise::<Vec<u8>>::new();
/// f.cancel();
/// let err = p.set_result(vec![1, 2, 3]).unwrap_err();
/// assert_eq!(err.to_string(), "the future was cancelled: nothing will read this value (into_inner gives it back)");
/// assert_eq!(err.into_inner(), [1, 2, 3]);
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct InvalidState<V = ()> {
    value: V,
    state: FutureState,
}

impl<V> InvalidState<V> {
    fn new(value: V, state: FutureState) -> Self {
        InvalidState { value, state }
    }
    /// The state the future was in.
    ///
    /// ```
    /// use concurrent_futures::{FutureState, Promise};
    /// let (p, _f) = Promise::<u8>::new();
    /// p.set_running_or_notify_cancel().unwrap();
    /// assert_eq!(p.set_running_or_notify_cancel().unwrap_err().state(), FutureState::Running);
    /// ```
    pub fn state(&self) -> FutureState {
        self.state
    }
    /// What was given back.
    ///
    /// ```
    /// use concurrent_futures::Promise;
    /// let (p, f) = Promise::new();
    /// f.cancel();
    /// assert_eq!(p.set_result(5).unwrap_err().into_inner(), 5);
    /// ```
    pub fn into_inner(self) -> V {
        self.value
    }
}

impl<V> fmt::Debug for InvalidState<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InvalidState")
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl<V> fmt::Display for InvalidState<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.state {
            FutureState::Cancelled => f.write_str(
                "the future was cancelled: nothing will read this value (into_inner gives it back)",
            ),
            FutureState::Running => {
                f.write_str("the future is already running: call set_running_or_notify_cancel once")
            }
            FutureState::Finished => {
                f.write_str("the future has finished: it can be completed only once")
            }
            FutureState::Pending => f.write_str("the future is still pending"),
        }
    }
}

impl<V> std::error::Error for InvalidState<V> {}

impl<T: Send + 'static> Drop for Promise<T> {
    fn drop(&mut self) {
        if let Some(s) = self.shared.take() {
            let err = TaskError::BrokenExecutor {
                cause: "the promise was dropped without a result".into(),
            };
            if s.core().state() == PENDING {
                if let Ok(w) = s.core().fail_pending(err.clone()) {
                    w.wake(|| s);
                    return;
                }
            }
            if s.core().state() == super::core::RUNNING {
                let w = s.core().complete(Err(err));
                w.wake(|| s);
            }
        }
    }
}
