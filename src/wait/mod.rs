//! Waiting on many futures: [`as_completed`], [`as_completed_timeout`] and [`wait`].
//!
//! Both install one waiter on every future (`completion.rs`) instead of polling, so a wait over
//! `n` futures does O(n) work in total and a blocked caller uses no CPU. A cancelled future is
//! final, so it counts as done for these waiters at once (unlike CPython, where a future
//! cancelled with `cancel()` is only noticed by `wait`/`as_completed` once the executor gets to
//! it).

mod as_completed;
pub(crate) mod completion;
mod wait_set;

pub use self::as_completed::{as_completed, as_completed_timeout, AsCompleted, AsCompletedWithin};
pub use self::wait_set::{wait, DoneAndNotDone, ReturnWhen};

use crate::future::Future;

/// Anything that holds a [`Future`] and can be waited on: a `Future<T>`, a `&Future<T>`, or a
/// pair `(future, key)` — so a `HashMap<Future<T>, K>` (Python's `future_to_url`) and a
/// `Vec<(Future<T>, K)>` can be passed to [`as_completed`] and [`wait`] directly, and come
/// back with their keys.
///
/// ```
/// use concurrent_futures::{as_completed, ThreadPoolExecutor};
/// let pool = ThreadPoolExecutor::new();
/// let jobs: Vec<_> = ["a", "bb"].into_iter().map(|s| (pool.submit(move || s.len()).unwrap(), s)).collect();
/// let mut out: Vec<_> = as_completed(jobs).map(|(f, s)| (s, f.result().unwrap())).collect();
/// out.sort();
/// assert_eq!(out, [("a", 1), ("bb", 2)]);
/// ```
pub trait AsFuture {
    /// The future's value type.
    type Output;
    /// The future inside.
    ///
    /// ```
    /// use concurrent_futures::{AsFuture, ThreadPoolExecutor};
    /// let pool = ThreadPoolExecutor::new();
    /// let job = (pool.submit(|| 4).unwrap(), "job-1");
    /// job.as_future().wait();
    /// assert!(job.as_future().done());
    /// ```
    fn as_future(&self) -> &Future<Self::Output>;
}

impl<T> AsFuture for Future<T> {
    type Output = T;
    fn as_future(&self) -> &Future<T> {
        self
    }
}

impl<T> AsFuture for &Future<T> {
    type Output = T;
    fn as_future(&self) -> &Future<T> {
        self
    }
}

impl<T> AsFuture for &mut Future<T> {
    type Output = T;
    fn as_future(&self) -> &Future<T> {
        self
    }
}

impl<F: AsFuture, K> AsFuture for (F, K) {
    type Output = F::Output;
    fn as_future(&self) -> &Future<F::Output> {
        self.0.as_future()
    }
}
