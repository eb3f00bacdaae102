//! The [`Executor`] trait: the surface every engine shares, so that code written against a plain
//! `fn(A) -> R` switches engines by changing the line that builds the executor.
//!
//! The bounds on `A` and `R` ([`Payload`]) are those of the most demanding engine (a worker
//! process must be able to decode the argument and encode the result), so generic code compiles
//! against every engine. The thread engine's own inherent methods take closures and any `Send`
//! types.

use std::time::Duration;

use serde::{de::DeserializeOwned, Serialize};

use crate::error::SubmitError;
use crate::future::Future;
use crate::map::{Map, MapUnordered};

/// A value that can travel to any engine's worker: `Serialize + DeserializeOwned + Send + 'static`.
/// Implemented for every such type.
pub trait Payload: Serialize + DeserializeOwned + Send + 'static {}
impl<T: Serialize + DeserializeOwned + Send + 'static> Payload for T {}

/// Options for [`Executor::map_with`] and the engines' `map_with`.
///
/// ```
/// use std::time::Duration;
/// use concurrent_futures::MapOptions;
/// let opts = MapOptions::new().buffer_size(64).timeout(Duration::from_secs(5)).chunksize(10);
/// assert_eq!(opts.get_buffer_size(), Some(64));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MapOptions {
    pub(crate) buffer_size: Option<usize>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) chunksize: Option<usize>,
}

impl MapOptions {
    /// The defaults: a buffer of `4 × max_workers` tasks in flight, no timeout, chunks of 1.
    pub fn new() -> Self {
        Self::default()
    }
    /// How many tasks may be submitted ahead of the consumer (Python 3.14's `buffersize`).
    /// At least 1.
    pub fn buffer_size(mut self, n: usize) -> Self {
        self.buffer_size = Some(n.max(1));
        self
    }
    /// A total timeout counted from the `map` call; when it passes, the next item is
    /// `Err(TaskError::Timeout)` and the iteration ends, cancelling what has not started.
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = Some(t);
        self
    }
    /// How many items travel per message (process engine; the thread engine ignores it).
    pub fn chunksize(mut self, n: usize) -> Self {
        self.chunksize = Some(n.max(1));
        self
    }
    /// The configured buffer size, if set.
    pub fn get_buffer_size(&self) -> Option<usize> {
        self.buffer_size
    }
    /// The configured chunk size, if set.
    pub fn get_chunksize(&self) -> Option<usize> {
        self.chunksize
    }
}

/// The surface every engine shares. Write against it (or just call the same method names on a
/// concrete engine) and switching engines is a one-line change:
///
/// ```
/// use concurrent_futures::{register, Executor, ProcessPoolExecutor, ThreadPoolExecutor};
///
/// fn count_primes((lo, hi): (u64, u64)) -> usize {
///     (lo..hi).filter(|&n| n > 1 && (2..).take_while(|d| d * d <= n).all(|d| n % d != 0)).count()
/// }
/// register!(count_primes); // makes it runnable in worker processes
///
/// fn total(pool: &impl Executor) -> usize {
///     let ranges = (0..10).map(|i| (i * 1000, (i + 1) * 1000));
///     pool.map(count_primes, ranges).map(Result::unwrap).sum()
/// }
///
/// assert_eq!(total(&ThreadPoolExecutor::new()), 1229);
/// assert_eq!(total(&ProcessPoolExecutor::new()), 1229); // the one line that changes
/// ```
pub trait Executor {
    /// Submits `f(arg)`; the future holds its result. Python's `submit(fn, arg)`.
    fn submit_fn<A: Payload, R: Payload>(
        &self,
        f: fn(A) -> R,
        arg: A,
    ) -> Result<Future<R>, SubmitError<A>>;

    /// Shuts the executor down (idempotent). With `wait`, blocks until every submitted task has
    /// finished; with `cancel_futures`, cancels every task that has not started.
    fn shutdown(&self, wait: bool, cancel_futures: bool);

    /// The most workers this executor runs at once.
    fn max_workers(&self) -> usize;

    /// `f` over `items`, results in input order, lazily with a bounded buffer
    /// (see [`MapOptions`]). Each item is a `Result`, so one failure hides nothing.
    fn map<A: Payload, R: Payload, I: IntoIterator<Item = A>>(
        &self,
        f: fn(A) -> R,
        items: I,
    ) -> Map<'_, R, I::IntoIter>
    where
        Self: Sized,
    {
        self.map_with(f, items, MapOptions::default())
    }

    /// [`map`](Executor::map) with options.
    fn map_with<A: Payload, R: Payload, I: IntoIterator<Item = A>>(
        &self,
        f: fn(A) -> R,
        items: I,
        options: MapOptions,
    ) -> Map<'_, R, I::IntoIter>
    where
        Self: Sized,
    {
        Map::new(
            Box::new(move |a| self.submit_fn(f, a).map_err(|e| e.map(|_| ()))),
            items.into_iter(),
            options,
            self.max_workers(),
        )
    }

    /// `f` over `items`, results in completion order, with the same bounded buffer.
    fn map_unordered<A: Payload, R: Payload, I: IntoIterator<Item = A>>(
        &self,
        f: fn(A) -> R,
        items: I,
    ) -> MapUnordered<'_, R, I::IntoIter>
    where
        Self: Sized,
    {
        MapUnordered::new(
            Box::new(move |a| self.submit_fn(f, a).map_err(|e| e.map(|_| ()))),
            items.into_iter(),
            MapOptions::default(),
            self.max_workers(),
        )
    }
}
