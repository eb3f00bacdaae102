//! [`Promise<T>`]: the producer's half of a future that no executor runs — for custom engines,
//! adapters and tests (Python's `Future()` plus `set_result`/`set_exception`).

use super::core::{Core, PENDING};
use super::handle::{Future, Shared};
use crate::error::TaskError;
use crate::sync::Arc;

struct PromiseShared<T> {
    core: Core<T>,
}

impl<T: Send + 'static> Shared<T> for PromiseShared<T> {
    fn core(&self) -> &Core<T> {
        &self.core
    }
    fn cancel(self: Arc<Self>) -> bool {
        match self.core.cancel() {
            Ok(w) => {
                w.wake(|| Future::from_shared(self));
                true
            }
            Err(_) => false,
        }
    }
}

/// The write side of a [`Future`]. Dropping a `Promise` that was never completed fails its
/// future with [`TaskError::BrokenExecutor`], so no future is left pending forever.
///
/// ```
/// use concurrent_futures::Promise;
/// let (promise, future) = Promise::new();
/// std::thread::spawn(move || {
///     if promise.set_running_or_notify_cancel() {
///         promise.set_result("hello");
///     }
/// });
/// assert_eq!(future.result(), Ok("hello"));
/// ```
pub struct Promise<T: Send + 'static> {
    shared: Option<Arc<PromiseShared<T>>>,
}

impl<T: Send + 'static> Promise<T> {
    /// A new pending future and the promise that completes it.
    ///
    /// ```
    /// use concurrent_futures::{FutureState, Promise};
    /// let (promise, future) = Promise::<String>::new();
    /// assert_eq!(future.state(), FutureState::Pending);
    /// promise.set_result("ready".to_string());
    /// assert_eq!(future.result().unwrap(), "ready");
    /// ```
    pub fn new() -> (Promise<T>, Future<T>) {
        let shared = Arc::new(PromiseShared { core: Core::new() });
        let fut = Future::from_shared(shared.clone());
        (
            Promise {
                shared: Some(shared),
            },
            fut,
        )
    }

    /// Marks the future running; returns `false` if it was cancelled (then the work should be
    /// skipped). Python's `set_running_or_notify_cancel`.
    ///
    /// ```
    /// use concurrent_futures::Promise;
    /// let (p, f) = Promise::<u8>::new();
    /// assert!(f.cancel());
    /// assert!(!p.set_running_or_notify_cancel());
    /// ```
    pub fn set_running_or_notify_cancel(&self) -> bool {
        let s = self.shared.as_ref().expect("promise is live");
        s.core.try_start() || s.core.state() == super::core::RUNNING
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
            .is_some_and(|s| s.core.state() == super::core::CANCELLED)
    }

    /// Completes the future with a value (ignored if it was cancelled).
    ///
    /// ```
    /// use concurrent_futures::Promise;
    /// let (p, f) = Promise::new();
    /// p.set_result(3);
    /// assert_eq!(f.result(), Ok(3));
    /// ```
    pub fn set_result(mut self, value: T) {
        self.finish(Ok(value));
    }

    /// Completes the future with an error (ignored if it was cancelled).
    ///
    /// ```
    /// use concurrent_futures::{Promise, TaskError};
    /// let (p, f) = Promise::<()>::new();
    /// p.set_exception(TaskError::Cancelled);
    /// assert!(f.result().unwrap_err().is_cancelled());
    /// ```
    pub fn set_exception(mut self, err: TaskError) {
        self.finish(Err(err));
    }

    #[cfg(feature = "process")]
    /// Completes with `outcome`, waking waiters now and returning the callbacks to run
    /// elsewhere (see [`Wakeups::wake_deferring`](super::core::Wakeups::wake_deferring)).
    pub(crate) fn finish_deferring(
        &mut self,
        outcome: Result<T, TaskError>,
    ) -> Option<super::core::Deferred> {
        let s = self.shared.take()?;
        if s.core.state() == PENDING && !s.core.try_start() {
            return None;
        }
        if s.core.is_final() {
            return None;
        }
        let w = s.core.complete(outcome);
        w.wake_deferring(|| Future::from_shared(s))
    }

    /// Completes with `outcome` (used by engines).
    pub(crate) fn finish(&mut self, outcome: Result<T, TaskError>) {
        let Some(s) = self.shared.take() else { return };
        if s.core.state() == PENDING && !s.core.try_start() {
            // Cancelled (or failed) meanwhile: the outcome has no reader.
            return;
        }
        if s.core.is_final() {
            return;
        }
        let w = s.core.complete(outcome);
        w.wake(|| Future::from_shared(s));
    }
}

impl<T: Send + 'static> Drop for Promise<T> {
    fn drop(&mut self) {
        if let Some(s) = self.shared.take() {
            let err = TaskError::BrokenExecutor {
                cause: "the promise was dropped without a result".into(),
            };
            if s.core.state() == PENDING {
                if let Ok(w) = s.core.fail_pending(err.clone()) {
                    w.wake(|| Future::from_shared(s));
                    return;
                }
            }
            if s.core.state() == super::core::RUNNING {
                let w = s.core.complete(Err(err));
                w.wake(|| Future::from_shared(s));
            }
        }
    }
}
