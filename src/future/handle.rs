//! [`Future<T>`]: the caller's handle on a result that may not exist yet.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use std::ptr::NonNull;

use super::core::{
    run_callback, Core, Header, Outcome, Waiter, CANCELLED, FINISHED, PENDING, RUNNING,
};
use crate::error::TaskError;
use crate::sync::{backoff, thread};

/// How long a waiter spins (then yields) before parking: long enough that a result arriving
/// "right away" — a tiny task on a thread, a round trip to a worker process — costs no
/// sleep/wake-up pair, short enough that a long wait costs no measurable CPU.
const SPIN: Duration = Duration::from_micros(if cfg!(loom) { 0 } else { 20 });

/// The observable state of a [`Future`].
///
/// ```
/// use std::time::Duration;
/// use concurrent_futures::{FutureState, ThreadPoolExecutor};
/// let pool = ThreadPoolExecutor::with_max_workers(1).unwrap();
/// let (started_tx, started_rx) = std::sync::mpsc::channel::<()>();
/// let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
/// let running = pool
///     .submit(move || {
///         started_tx.send(()).unwrap();
///         go_rx.recv().ok();
///     })
///     .unwrap();
/// let queued = pool.submit(|| ()).unwrap();
/// started_rx.recv_timeout(Duration::from_secs(30)).unwrap();
/// assert_eq!(running.state(), FutureState::Running);
/// assert_eq!(queued.state(), FutureState::Pending); // the only worker is busy
/// queued.cancel();
/// assert_eq!(queued.state(), FutureState::Cancelled);
/// go_tx.send(()).unwrap();
/// assert!(running.wait_timeout(Duration::from_secs(30)));
/// assert_eq!(running.state(), FutureState::Finished);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FutureState {
    /// Queued, not started; can still be cancelled.
    Pending,
    /// Its task is running.
    Running,
    /// Its task returned or failed.
    Finished,
    /// It was cancelled before it started.
    Cancelled,
}

/// A handle to the result of a task that may not have finished yet.
///
/// The Python → Rust mapping:
///
/// | Python                       | Rust                                           |
/// |------------------------------|------------------------------------------------|
/// | `f.result()`                 | [`f.result()`](Future::result) (consumes `f`)  |
/// | `f.result(timeout=t)`        | [`f.result_timeout(t)`](Future::result_timeout) (keeps `f` on timeout) |
/// | `f.result(timeout=0)`        | [`f.try_result()`](Future::try_result)         |
/// | `f.exception()`              | [`f.exception()`](Future::exception)           |
/// | `f.done()` / `running()` / `cancelled()` | the same names                     |
/// | `f.cancel()`                 | [`f.cancel()`](Future::cancel)                 |
/// | `f.add_done_callback(fn)`    | [`f.add_done_callback(\|f\| ..)`](Future::add_done_callback) |
/// | `await asyncio.wrap_future(f)` | `f.await`                                    |
///
/// A `Future` is the single owner of its value (`T` need not be `Clone`): the state can be
/// inspected any number of times through `&self`, and the value is moved out by
/// [`result`](Future::result) or [`result_timeout`](Future::result_timeout). Errors stay
/// inspectable after they have been returned.
///
/// Futures compare and hash by identity, so they can be keys of a map — the
/// `future_to_url` idiom of Python works as is:
///
/// ```
/// use std::collections::HashMap;
/// use concurrent_futures::{as_completed, ThreadPoolExecutor};
///
/// let pool = ThreadPoolExecutor::new();
/// let future_to_n: HashMap<_, _> =
///     (1..=3u64).map(|n| (pool.submit(move || n * n).unwrap(), n)).collect();
/// let mut seen = Vec::new();
/// for (future, n) in as_completed(future_to_n) {
///     seen.push((n, future.result().unwrap()));
/// }
/// seen.sort();
/// assert_eq!(seen, [(1, 1), (2, 4), (3, 9)]);
/// ```
#[must_use = "a Future does nothing by itself; its task runs anyway, but its result or error is only seen through the Future"]
pub struct Future<T> {
    /// One reference to the allocation that holds the state (a thread-pool task, a promise).
    ptr: NonNull<Core<T>>,
}

// SAFETY: a `Future` hands its `T` to whichever thread takes it (`T: Send`); through `&Future`
// the value is only borrowed under the cell's lock, one thread at a time, as `Mutex<T>` is
// `Sync` for `T: Send`. The allocation itself is shared by reference counting.
unsafe impl<T: Send> Send for Future<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Sync for Future<T> {}

impl<T> Future<T> {
    /// A handle that owns one (already counted) reference to `ptr`'s allocation.
    ///
    /// # Safety
    /// `ptr` points to a live allocation whose header is first, and the caller gives up one of
    /// its references to the new handle.
    pub(crate) unsafe fn from_raw(ptr: NonNull<Core<T>>) -> Self {
        Future { ptr }
    }

    /// Another handle to the same future (a view for a callback or a wait).
    #[cfg(all(any(unix, windows), feature = "process"))]
    pub(crate) fn view(&self) -> Future<T> {
        self.core().header().acquire();
        Future { ptr: self.ptr }
    }

    #[inline]
    pub(crate) fn core(&self) -> &Core<T> {
        // SAFETY: this handle owns a reference, so the allocation is live.
        unsafe { self.ptr.as_ref() }
    }

    /// What this thread may do for the future before it waits, until `deadline` at most: run
    /// the task if it is still pending and this thread may run it (a worker of the same pool),
    /// or read its worker's replies (a process pool). Returns whether the future is now final.
    pub(crate) fn help(&self, deadline: Option<Instant>) -> bool {
        // SAFETY: this handle owns a reference to the allocation the header describes.
        unsafe { (self.core().header().vtable().help)(self.header_ptr(), deadline) }
    }

    #[inline]
    fn header_ptr(&self) -> NonNull<Header> {
        self.ptr.cast()
    }

    /// The current state.
    ///
    /// ```
    /// use concurrent_futures::{FutureState, ThreadPoolExecutor};
    /// let pool = ThreadPoolExecutor::new();
    /// let f = pool.submit(|| 1).unwrap();
    /// f.wait();
    /// assert_eq!(f.state(), FutureState::Finished);
    /// ```
    pub fn state(&self) -> FutureState {
        match self.core().state() {
            PENDING => FutureState::Pending,
            RUNNING => FutureState::Running,
            FINISHED => FutureState::Finished,
            _ => FutureState::Cancelled,
        }
    }

    /// True once the task finished, failed or was cancelled.
    ///
    /// ```
    /// use concurrent_futures::ThreadPoolExecutor;
    /// let pool = ThreadPoolExecutor::new();
    /// let f = pool.submit(|| 1).unwrap();
    /// f.wait();
    /// assert!(f.done());
    /// ```
    #[inline]
    pub fn done(&self) -> bool {
        self.core().is_final()
    }

    /// True while the task is running.
    ///
    /// ```
    /// use concurrent_futures::ThreadPoolExecutor;
    /// let pool = ThreadPoolExecutor::new();
    /// let f = pool.submit(|| 1).unwrap();
    /// f.wait();
    /// assert!(!f.running());
    /// ```
    pub fn running(&self) -> bool {
        self.core().state() == RUNNING
    }

    /// True if the future was cancelled.
    ///
    /// ```
    /// use concurrent_futures::ThreadPoolExecutor;
    /// let pool = ThreadPoolExecutor::new();
    /// let f = pool.submit(|| 1).unwrap();
    /// f.wait();
    /// assert!(!f.cancelled());
    /// ```
    pub fn cancelled(&self) -> bool {
        self.core().state() == CANCELLED
    }

    /// Cancels the task if it has not started. Returns whether the future is (now) cancelled:
    /// `false` if the task is running or finished, `true` again on an already-cancelled future.
    /// A cancelled future counts as done for every waiter at once.
    ///
    /// ```
    /// use concurrent_futures::ThreadPoolExecutor;
    /// let pool = ThreadPoolExecutor::builder().max_workers(1).build().unwrap();
    /// let (tx, rx) = std::sync::mpsc::channel::<()>();
    /// let blocker = pool.submit(move || rx.recv().ok()).unwrap();
    /// let queued = pool.submit(|| 2).unwrap();
    /// assert!(queued.cancel());
    /// assert!(queued.result().unwrap_err().is_cancelled());
    /// tx.send(()).unwrap();
    /// assert!(!blocker.cancel() || blocker.cancelled());
    /// ```
    pub fn cancel(&self) -> bool {
        match self.core().state() {
            CANCELLED => true,
            PENDING => {
                // SAFETY: this handle owns a reference to the allocation the header describes.
                let cancelled =
                    unsafe { (self.core().header().vtable().cancel)(self.header_ptr()) };
                cancelled || self.cancelled()
            }
            _ => false,
        }
    }

    /// Blocks until the future is done (finished or cancelled).
    ///
    /// ```
    /// use concurrent_futures::ThreadPoolExecutor;
    /// let pool = ThreadPoolExecutor::new();
    /// let f = pool.submit(|| 1).unwrap();
    /// f.wait();
    /// assert!(f.done());
    /// ```
    pub fn wait(&self) {
        self.wait_until(None);
    }

    /// Blocks until the future is done or `timeout` passes; returns whether it is done.
    ///
    /// ```
    /// use std::time::Duration;
    /// use concurrent_futures::ThreadPoolExecutor;
    /// let pool = ThreadPoolExecutor::new();
    /// let f = pool.submit(|| 1).unwrap();
    /// assert!(f.wait_timeout(Duration::from_secs(10)));
    /// ```
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        self.wait_until(Some(deadline_after(timeout)))
    }

    /// The blocking wait: help, spin briefly, then park. Returns whether the future is final.
    pub(crate) fn wait_until(&self, deadline: Option<Instant>) -> bool {
        crate::thread::note_wait();
        if self.done() {
            return true;
        }
        if self.help(deadline) {
            return true;
        }
        if !SPIN.is_zero() && !self.core().header().vtable().spins_in_help {
            let start = Instant::now();
            let spin_until = deadline.map_or(start + SPIN, |d| d.min(start + SPIN));
            let mut step = 0;
            while !self.done() {
                if step >= 6 && Instant::now() >= spin_until {
                    break;
                }
                backoff(step.min(7));
                step += 1;
            }
            if self.done() {
                return true;
            }
        }
        let me = thread::current();
        if self.core().register(Waiter::Thread(me.clone())).is_err() {
            return true;
        }
        loop {
            match deadline {
                None => thread::park(),
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        let id = me.id();
                        self.core()
                            .deregister(|w| matches!(w, Waiter::Thread(t) if t.id() == id));
                        return self.done();
                    }
                    park_timeout(d - now);
                }
            }
            if self.done() {
                return true;
            }
        }
    }

    /// Blocks until done and returns the value, or the error that says why there is none.
    ///
    /// ```
    /// use concurrent_futures::ThreadPoolExecutor;
    /// let pool = ThreadPoolExecutor::new();
    /// assert_eq!(pool.submit(|| 6 * 7).unwrap().result(), Ok(42));
    /// ```
    pub fn result(mut self) -> Result<T, TaskError> {
        self.wait();
        self.take()
    }

    /// Waits at most `timeout` for the value. On [`TaskError::Timeout`] the future is left as it
    /// was and can be waited on again. A zero timeout is a poll that still returns a finished
    /// value.
    ///
    /// ```
    /// use std::time::Duration;
    /// use concurrent_futures::ThreadPoolExecutor;
    /// let pool = ThreadPoolExecutor::new();
    /// let (tx, rx) = std::sync::mpsc::channel::<u32>();
    /// let mut f = pool.submit(move || rx.recv().unwrap()).unwrap();
    /// assert!(f.result_timeout(Duration::from_millis(10)).unwrap_err().is_timeout());
    /// tx.send(7).unwrap();
    /// assert_eq!(f.result_timeout(Duration::from_secs(10)), Ok(7));
    /// ```
    pub fn result_timeout(&mut self, timeout: Duration) -> Result<T, TaskError> {
        let start = Instant::now();
        if self.wait_until(Some(deadline_after(timeout))) {
            self.take()
        } else {
            Err(TaskError::Timeout {
                waited: start.elapsed(),
            })
        }
    }

    /// A non-blocking poll: the value if finished, else the error ([`TaskError::Timeout`] with a
    /// zero wait while the task is still pending or running).
    ///
    /// ```
    /// use concurrent_futures::ThreadPoolExecutor;
    /// let pool = ThreadPoolExecutor::new();
    /// let mut f = pool.submit(|| 5).unwrap();
    /// f.wait();
    /// assert_eq!(f.try_result(), Ok(5));
    /// assert!(f.try_result().unwrap_err().to_string().contains("already taken"));
    /// ```
    pub fn try_result(&mut self) -> Result<T, TaskError> {
        self.result_timeout(Duration::ZERO)
    }

    /// Moves the outcome out of a final future.
    fn take(&mut self) -> Result<T, TaskError> {
        if let Some(outcome) = self.core().take_unique() {
            return outcome;
        }
        match self.core().lock().take() {
            Some(outcome) => outcome,
            None => unreachable!("take() is only called on a final future"),
        }
    }

    /// Blocks until done and returns the failure, if any, without consuming the future
    /// (Python's `exception()`): `None` when the task returned a value.
    ///
    /// ```
    /// use concurrent_futures::ThreadPoolExecutor;
    /// let pool = ThreadPoolExecutor::new();
    /// let f = pool.submit(|| -> u8 { panic!("bad input") }).unwrap();
    /// assert_eq!(f.exception().unwrap().panic_message(), Some("bad input"));
    /// ```
    pub fn exception(&self) -> Option<TaskError> {
        self.wait();
        self.peek_error()
    }

    /// Like [`exception`](Future::exception), waiting at most `timeout`; a wait that times out
    /// is `Err(TaskError::Timeout)`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use concurrent_futures::ThreadPoolExecutor;
    /// let pool = ThreadPoolExecutor::new();
    /// let f = pool.submit(|| 1).unwrap();
    /// assert_eq!(f.exception_timeout(Duration::from_secs(10)), Ok(None));
    /// ```
    pub fn exception_timeout(&self, timeout: Duration) -> Result<Option<TaskError>, TaskError> {
        let start = Instant::now();
        if self.wait_until(Some(deadline_after(timeout))) {
            Ok(self.peek_error())
        } else {
            Err(TaskError::Timeout {
                waited: start.elapsed(),
            })
        }
    }

    fn peek_error(&self) -> Option<TaskError> {
        match self.core().lock().outcome() {
            Outcome::Error(e) => Some(e.clone()),
            _ => None,
        }
    }

    /// Blocks until done, then calls `f` with a reference to the outcome, without moving it:
    /// the way to read a non-`Clone` value from a done-callback. `Err(AlreadyTaken)` once the
    /// value has been moved out. `f` must not call other methods of this future (the outcome is
    /// locked while `f` runs).
    ///
    /// ```
    /// use concurrent_futures::ThreadPoolExecutor;
    /// let pool = ThreadPoolExecutor::new();
    /// let f = pool.submit(|| vec![1, 2, 3]).unwrap();
    /// assert_eq!(f.with_result(|r| r.map(|v| v.len()).ok()), Some(3));
    /// ```
    pub fn with_result<R>(&self, f: impl FnOnce(Result<&T, &TaskError>) -> R) -> R {
        self.wait();
        let guard = self.core().lock();
        match guard.outcome() {
            Outcome::Value(v) => f(Ok(v)),
            Outcome::Error(e) => f(Err(e)),
            Outcome::Taken => f(Err(&TaskError::AlreadyTaken)),
            Outcome::Pending => unreachable!("a final future has an outcome"),
        }
    }

    /// Registers `callback` to run once when the future finishes or is cancelled, with a view of
    /// the future. Callbacks run in registration order, on the thread that completed the future
    /// (a worker, or the canceller); added after completion, it runs at once on this thread.
    /// A panicking callback is caught and logged (`log::error!`); nothing else is affected.
    ///
    /// ```
    /// use std::sync::mpsc::channel;
    /// use concurrent_futures::ThreadPoolExecutor;
    /// let pool = ThreadPoolExecutor::new();
    /// let (tx, rx) = channel();
    /// let f = pool.submit(|| 21 * 2).unwrap();
    /// f.add_done_callback(move |f| tx.send(f.with_result(|r| *r.unwrap())).unwrap());
    /// assert_eq!(rx.recv().unwrap(), 42);
    /// ```
    pub fn add_done_callback(&self, callback: impl FnOnce(&Future<T>) + Send + 'static) {
        if let Err(Waiter::Callback(cb)) =
            self.core().register(Waiter::Callback(Box::new(callback)))
        {
            run_callback(cb, self);
        }
    }

    /// An opaque identity, equal for handles to the same future.
    pub(crate) fn id(&self) -> usize {
        self.ptr.as_ptr() as usize
    }
}

/// `now + timeout`, saturating far in the future instead of overflowing.
pub(crate) fn deadline_after(timeout: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(timeout)
        .unwrap_or_else(|| now + Duration::from_secs(60 * 60 * 24 * 365 * 100))
}

/// `f`'s result, waiting at most until `deadline` (none: for good). A wait that runs out
/// cancels `f` and gives [`TaskError::Timeout`].
pub(crate) fn result_by<T>(mut f: Future<T>, deadline: Option<Instant>) -> Result<T, TaskError> {
    let Some(d) = deadline else {
        return f.result();
    };
    let r = f.result_timeout(d.saturating_duration_since(Instant::now()));
    if matches!(r, Err(TaskError::Timeout { .. })) {
        f.cancel();
    }
    r
}

#[cfg(not(loom))]
fn park_timeout(d: Duration) {
    std::thread::park_timeout(d)
}

#[cfg(loom)]
fn park_timeout(_d: Duration) {
    loom::thread::yield_now()
}

impl<T> std::future::Future for Future<T> {
    type Output = Result<T, TaskError>;

    /// Awaiting never blocks the runtime's thread: the waker is registered with the future and
    /// woken by whichever thread completes it.
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        crate::thread::note_wait();
        if this.done() {
            return Poll::Ready(this.take());
        }
        {
            let mut guard = this.core().lock();
            if let Some(waiters) = guard.waiters() {
                waiters.retain(|w| !matches!(w, Waiter::Async(_)));
                waiters.push(Waiter::Async(cx.waker().clone()));
                return Poll::Pending;
            }
        }
        Poll::Ready(this.take())
    }
}

impl<T> Drop for Future<T> {
    fn drop(&mut self) {
        // SAFETY: this handle owns one reference and is not used again.
        unsafe { Header::release(self.header_ptr()) }
    }
}

impl<T> PartialEq for Future<T> {
    fn eq(&self, other: &Self) -> bool {
        self.id() == other.id()
    }
}
impl<T> Eq for Future<T> {}
impl<T> Hash for Future<T> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.id().hash(state)
    }
}

/// As Python's `repr` of a future: the state, and once finished what it returned (the value's
/// type, so `T` need not be `Debug`) or raised (the error's kind and message).
///
/// ```
/// use concurrent_futures::ThreadPoolExecutor;
/// let pool = ThreadPoolExecutor::new();
/// let ok = pool.submit(|| 7u32).unwrap();
/// ok.wait();
/// assert!(format!("{ok:?}").contains("state: finished returned u32"));
/// let failed = pool.submit(|| -> u32 { panic!("boom") }).unwrap();
/// failed.wait();
/// assert!(format!("{failed:?}").contains("state: finished raised Panicked: task panicked: boom"));
/// ```
impl<T> fmt::Debug for Future<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ty = std::any::type_name::<T>();
        let state = match self.state() {
            FutureState::Pending => "pending".to_string(),
            FutureState::Running => "running".to_string(),
            FutureState::Cancelled => "cancelled".to_string(),
            FutureState::Finished => match self.core().lock().outcome() {
                Outcome::Value(_) => format!("finished returned {ty}"),
                Outcome::Taken => format!("finished returned {ty} (value taken)"),
                Outcome::Error(e) => format!("finished raised {}: {e}", e.kind_name()),
                Outcome::Pending => "finished".to_string(),
            },
        };
        f.debug_struct("Future")
            .field("id", &format_args!("{:#x}", self.id()))
            .field("state", &format_args!("{state}"))
            .finish()
    }
}
