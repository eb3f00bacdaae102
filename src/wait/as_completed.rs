//! `as_completed`: yield each future once, as it finishes.

use std::time::{Duration, Instant};

use super::completion::Watched;
use super::AsFuture;
use crate::error::AsCompletedTimeout;
use crate::future::deadline_after;

/// Yields each distinct future (or `(future, key)` pair) once, as it finishes — already-finished
/// ones first. Blocks between items without using CPU; never times out (see
/// [`as_completed_timeout`]). Python's `as_completed(fs)`.
///
/// ```
/// use concurrent_futures::{as_completed, ThreadPoolExecutor};
/// let pool = ThreadPoolExecutor::new();
/// let futures: Vec<_> = (0..10).map(|i| pool.submit(move || i * 2).unwrap()).collect();
/// let mut total = 0;
/// for f in as_completed(futures) {
///     total += f.result().unwrap();
/// }
/// assert_eq!(total, 90);
/// ```
pub fn as_completed<F: AsFuture>(futures: impl IntoIterator<Item = F>) -> AsCompleted<F> {
    AsCompleted {
        watched: Watched::new(futures),
    }
}

/// Like [`as_completed`] with a total `timeout` counted from this call: yields `Ok(future)` for
/// each future that finishes in time, then one `Err` saying how many of how many were unfinished,
/// then ends. Python's `as_completed(fs, timeout)`.
///
/// ```
/// use std::time::Duration;
/// use concurrent_futures::{as_completed_timeout, ThreadPoolExecutor};
/// let pool = ThreadPoolExecutor::builder().max_workers(1).build().unwrap();
/// let (tx, rx) = std::sync::mpsc::channel::<()>();
/// let slow = pool.submit(move || rx.recv().ok()).unwrap();
/// let mut it = as_completed_timeout([&slow], Duration::from_millis(20));
/// let err = it.next().unwrap().unwrap_err();
/// assert_eq!(err.to_string(), "timed out: 1 (of 1) futures unfinished");
/// assert!(it.next().is_none());
/// tx.send(()).unwrap();
/// ```
pub fn as_completed_timeout<F: AsFuture>(
    futures: impl IntoIterator<Item = F>,
    timeout: Duration,
) -> AsCompletedWithin<F> {
    let deadline = deadline_after(timeout);
    AsCompletedWithin {
        inner: as_completed(futures),
        deadline,
        ended: false,
    }
}

/// The iterator returned by [`as_completed`].
///
/// ```
/// use concurrent_futures::{as_completed, Promise};
/// let (first, f1) = Promise::new();
/// let (second, f2) = Promise::new();
/// let mut it = as_completed([f1, f2]);
/// second.set_result("second").unwrap();
/// assert_eq!(it.next().unwrap().result(), Ok("second")); // whichever finishes first
/// first.set_result("first").unwrap();
/// assert_eq!(it.next().unwrap().result(), Ok("first"));
/// assert!(it.next().is_none());
/// ```
pub struct AsCompleted<F: AsFuture> {
    watched: Watched<F>,
}

impl<F: AsFuture> AsCompleted<F> {
    /// How many futures have not been yielded yet.
    ///
    /// ```
    /// use concurrent_futures::{as_completed, ThreadPoolExecutor};
    /// let pool = ThreadPoolExecutor::new();
    /// let futures: Vec<_> = (0..3).map(|i| pool.submit(move || i).unwrap()).collect();
    /// let mut it = as_completed(futures);
    /// assert_eq!(it.remaining(), 3);
    /// it.next();
    /// assert_eq!(it.remaining(), 2);
    /// ```
    pub fn remaining(&self) -> usize {
        self.watched.remaining
    }

    fn next_until(&mut self, deadline: Option<Instant>) -> Option<F> {
        let i = self.watched.next_done(deadline)?;
        self.watched.remaining -= 1;
        self.watched.items[i].take()
    }
}

impl<F: AsFuture> Iterator for AsCompleted<F> {
    type Item = F;
    fn next(&mut self) -> Option<F> {
        self.next_until(None)
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.watched.remaining, Some(self.watched.remaining))
    }
}

impl<F: AsFuture> ExactSizeIterator for AsCompleted<F> {}

/// As a `Stream` (the `futures` feature): the futures in completion order, for async code. The
/// stream is woken by completions (one waker, recorded where the completing futures push
/// their index), never by polling.
///
/// ```
/// # #[cfg(feature = "futures")] {
/// use concurrent_futures::{as_completed, ThreadPoolExecutor};
/// use futures_core::Stream;
/// fn is_stream<S: Stream>(_: &S) {}
/// let pool = ThreadPoolExecutor::new();
/// let futures: Vec<_> = (0..3).map(|i| pool.submit(move || i).unwrap()).collect();
/// is_stream(&as_completed(futures));
/// # }
/// ```
#[cfg(feature = "futures")]
impl<F: AsFuture + Unpin> futures_core::Stream for AsCompleted<F> {
    type Item = F;
    fn poll_next(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<F>> {
        let this = self.get_mut();
        if this.watched.remaining == 0 {
            return std::task::Poll::Ready(None);
        }
        this.watched.completion.poll_pop(cx).map(|i| {
            this.watched.remaining -= 1;
            this.watched.items[i].take()
        })
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.watched.remaining, Some(self.watched.remaining))
    }
}

/// The iterator returned by [`as_completed_timeout`].
///
/// ```
/// use std::time::Duration;
/// use concurrent_futures::{as_completed_timeout, ThreadPoolExecutor};
/// let pool = ThreadPoolExecutor::new();
/// let futures: Vec<_> = (1..=3u32).map(|i| pool.submit(move || i * 10).unwrap()).collect();
/// let mut total = 0;
/// for outcome in as_completed_timeout(futures, Duration::from_secs(30)) {
///     match outcome {
///         Ok(f) => total += f.result().unwrap(),
///         Err(timeout) => panic!("{timeout}"),
///     }
/// }
/// assert_eq!(total, 60);
/// ```
pub struct AsCompletedWithin<F: AsFuture> {
    inner: AsCompleted<F>,
    deadline: Instant,
    ended: bool,
}

impl<F: AsFuture> Iterator for AsCompletedWithin<F> {
    type Item = Result<F, AsCompletedTimeout>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.ended {
            return None;
        }
        if self.inner.remaining() == 0 {
            self.ended = true;
            return None;
        }
        match self.inner.next_until(Some(self.deadline)) {
            Some(f) => Some(Ok(f)),
            None => {
                self.ended = true;
                Some(Err(AsCompletedTimeout {
                    unfinished: self.inner.remaining(),
                    total: self.inner.watched.items.len(),
                }))
            }
        }
    }
}
