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
use crate::map::{Map, MapOptions, MapUnordered};

/// A value that can travel to any engine's worker: `Serialize + DeserializeOwned + Send + 'static`.
/// Implemented for every such type.
///
/// Derive `serde`'s traits to send your own types:
///
/// ```
/// use serde::{Deserialize, Serialize};
/// use concurrent_futures::{register, Executor, Payload, ProcessPoolExecutor, TaskFn};
///
/// #[derive(Serialize, Deserialize)]
/// struct Order { id: u32, lines: Vec<u32> }
///
/// fn total(order: Order) -> (u32, u32) { (order.id, order.lines.iter().sum()) }
/// register!(total);
///
/// fn run<A: Payload, R: Payload>(pool: &impl Executor, f: impl TaskFn<A, R>, arg: A) -> R {
///     pool.submit_fn(f, arg).unwrap().result().unwrap()
/// }
///
/// let pool = ProcessPoolExecutor::with_max_workers(1).unwrap();
/// assert_eq!(run(&pool, total, Order { id: 7, lines: vec![3, 4] }), (7, 7));
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a task's argument or result on worker processes: it must be serde's `Serialize + Deserialize`, `Send` and `'static`",
    label = "not a `Payload`",
    note = "for your own type: `#[derive(concurrent_futures::serde::Serialize, concurrent_futures::serde::Deserialize)]` with `#[serde(crate = \"concurrent_futures::serde\")]`",
    note = "for a result such as `std::io::Result<T>`: return `Result<T, String>` (`.map_err(|e| e.to_string())`)"
)]
pub trait Payload: Serialize + DeserializeOwned + Send + 'static {}
#[diagnostic::do_not_recommend]
impl<T: Serialize + DeserializeOwned + Send + 'static> Payload for T {}

/// A task function every engine can run: a plain function (or a non-capturing closure) taking
/// one argument. Implemented for every `Fn(A) -> R + Copy + Send + Sync + 'static`, which every
/// `fn` item is.
///
/// The process engine identifies a [registered](crate::register) function by the function item's
/// own type, so pass the function itself (`pool.submit_fn(square, 3)`), as you would in Python.
///
/// ```
/// use concurrent_futures::TaskFn;
/// fn square(x: u64) -> u64 { x * x }
/// fn takes<F: TaskFn<u64, u64>>(f: F) -> u64 { f(7) }
/// assert_eq!(takes(square), 49);
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a task on every engine: pass a plain `fn` item (registered with `register!`), not a closure that captures",
    label = "captures its environment (or is not `Fn({A}) -> {R}`)",
    note = "move what the closure captures into the argument: `pool.submit_fn(f, (captured, arg))`, or use `ThreadPoolExecutor::submit(move || ..)`, which takes any closure"
)]
pub trait TaskFn<A, R>: Fn(A) -> R + Copy + Send + Sync + 'static {}
#[diagnostic::do_not_recommend]
impl<A, R, F: Fn(A) -> R + Copy + Send + Sync + 'static> TaskFn<A, R> for F {}

/// Per-task settings for the engines whose workers are processes
/// (`ProcessPoolExecutor::submit_fn_with`, `MpiPoolExecutor::submit_fn_with`): a time
/// limit, and how many times to re-run the task if its worker dies under it.
///
/// ```
/// use std::time::Duration;
/// use concurrent_futures::SubmitOptions;
/// let opts = SubmitOptions::new().timeout(Duration::from_secs(30)).retries(2);
/// assert_eq!(opts.get_timeout(), Some(Duration::from_secs(30)));
/// assert_eq!(opts.get_retries(), Some(2));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SubmitOptions {
    pub(crate) timeout: Option<Duration>,
    pub(crate) retries: Option<u32>,
}

impl SubmitOptions {
    /// The pool's defaults (its `task_timeout` and `retries`).
    ///
    /// ```
    /// use concurrent_futures::SubmitOptions;
    /// assert_eq!(SubmitOptions::new().get_retries(), None);
    /// ```
    pub fn new() -> Self {
        Self::default()
    }
    /// A time limit for this task: a task still running after `d` has its worker killed and
    /// fails with [`TaskError::TaskTimedOut`](crate::TaskError::TaskTimedOut) (not retried).
    ///
    /// ```
    /// use std::time::Duration;
    /// use concurrent_futures::SubmitOptions;
    /// assert_eq!(SubmitOptions::new().timeout(Duration::from_secs(1)).get_timeout(), Some(Duration::from_secs(1)));
    /// ```
    pub fn timeout(mut self, d: Duration) -> Self {
        self.timeout = Some(d);
        self
    }
    /// Re-run this task up to `n` more times if its worker dies while running it (a crash, the
    /// OOM killer, a signal from outside); a panic, a time limit or a `kill` is not retried.
    /// After the last attempt the error lists every attempt.
    ///
    /// ```
    /// use concurrent_futures::SubmitOptions;
    /// assert_eq!(SubmitOptions::new().retries(3).get_retries(), Some(3));
    /// ```
    pub fn retries(mut self, n: u32) -> Self {
        self.retries = Some(n);
        self
    }
    /// The time limit, if set.
    ///
    /// ```
    /// use concurrent_futures::SubmitOptions;
    /// assert_eq!(SubmitOptions::new().get_timeout(), None);
    /// ```
    pub fn get_timeout(&self) -> Option<Duration> {
        self.timeout
    }
    /// The number of retries, if set.
    ///
    /// ```
    /// use concurrent_futures::SubmitOptions;
    /// assert_eq!(SubmitOptions::new().retries(1).get_retries(), Some(1));
    /// ```
    pub fn get_retries(&self) -> Option<u32> {
        self.retries
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
    ///
    /// ```
    /// use concurrent_futures::{register, Executor, ProcessPoolExecutor, ThreadPoolExecutor};
    /// fn word_count(text: String) -> usize { text.split_whitespace().count() }
    /// register!(word_count);
    ///
    /// fn count(pool: &impl Executor) -> usize {
    ///     let f = pool.submit_fn(word_count, "to be or not to be".to_string()).unwrap();
    ///     f.result().unwrap()
    /// }
    /// assert_eq!(count(&ThreadPoolExecutor::with_max_workers(2).unwrap()), 6);
    /// assert_eq!(count(&ProcessPoolExecutor::with_max_workers(1).unwrap()), 6);
    /// ```
    fn submit_fn<A: Payload, R: Payload>(
        &self,
        f: impl TaskFn<A, R>,
        arg: A,
    ) -> Result<Future<R>, SubmitError<A>>;

    /// Shuts the executor down (idempotent). With `wait`, blocks until every submitted task has
    /// finished; with `cancel_futures`, cancels every task that has not started.
    ///
    /// ```
    /// use concurrent_futures::{Executor, ThreadPoolExecutor};
    /// fn double(x: u32) -> u32 { x * 2 }
    ///
    /// fn drain(pool: &impl Executor) -> Vec<u32> {
    ///     let futures: Vec<_> = (0..4).map(|i| pool.submit_fn(double, i).unwrap()).collect();
    ///     pool.shutdown(true, false); // waits for the four tasks
    ///     assert!(futures.iter().all(|f| f.done()));
    ///     futures.into_iter().map(|f| f.result().unwrap()).collect()
    /// }
    /// assert_eq!(drain(&ThreadPoolExecutor::new()), [0, 2, 4, 6]);
    /// ```
    fn shutdown(&self, wait: bool, cancel_futures: bool);

    /// Shuts down like `shutdown(true, cancel_futures)`, but returns at once: the returned
    /// future completes when every task has finished, so async code `.await`s it without
    /// blocking its runtime's thread (the waiting happens on a thread of its own).
    ///
    /// ```
    /// use concurrent_futures::{Executor, ThreadPoolExecutor};
    /// let pool = ThreadPoolExecutor::new();
    /// let f = pool.submit(|| 1).unwrap();
    /// let done = Executor::shutdown_async(&pool, false); // `.await` it in async code
    /// done.wait();
    /// assert!(f.done());
    /// assert!(pool.submit(|| 2).unwrap_err().is_shutdown());
    /// ```
    fn shutdown_async(&self, cancel_futures: bool) -> Future<()>;

    /// The most workers this executor runs at once.
    ///
    /// ```
    /// use concurrent_futures::{Executor, ProcessPoolExecutor, ThreadPoolExecutor};
    /// fn workers(pool: &impl Executor) -> usize { pool.max_workers() }
    /// assert_eq!(workers(&ThreadPoolExecutor::with_max_workers(3).unwrap()), 3);
    /// assert_eq!(workers(&ProcessPoolExecutor::with_max_workers(2).unwrap()), 2);
    /// ```
    fn max_workers(&self) -> usize;

    /// How many tasks (or chunks) a `map` keeps in flight when [`MapOptions::buffer_size`] is
    /// not set: `4 × max_workers` on threads and processes; the cluster engine keeps more (a
    /// round trip across ranks is long next to a short task, and each rank needs a deep queue
    /// to stay busy).
    ///
    /// ```
    /// use concurrent_futures::{Executor, ThreadPoolExecutor};
    /// let pool = ThreadPoolExecutor::with_max_workers(3).unwrap();
    /// assert_eq!(pool.default_buffer_size(), 12);
    /// ```
    fn default_buffer_size(&self) -> usize {
        crate::map::default_buffer(self.max_workers())
    }

    /// The executor's counters ([`PoolStats`](crate::PoolStats)): tasks submitted, queued,
    /// running, completed, failed and cancelled, workers alive and replaced, busy time. Cheap
    /// enough to call as often as a progress display wants.
    ///
    /// ```
    /// use concurrent_futures::{register, Executor, ProcessPoolExecutor};
    /// fn double(x: u32) -> u32 { x * 2 }
    /// register!(double);
    /// fn report(pool: &impl Executor) -> String {
    ///     let s = pool.stats();
    ///     format!("{} done of {}, {} workers", s.done(), s.submitted, s.workers_alive)
    /// }
    /// let pool = ProcessPoolExecutor::with_max_workers(1).unwrap();
    /// pool.submit_fn(double, 21).unwrap().wait();
    /// assert_eq!(report(&pool), "1 done of 1, 1 workers");
    /// ```
    fn stats(&self) -> crate::PoolStats;

    /// `f` over `items`, results in input order, lazily with a bounded buffer
    /// (see [`MapOptions`]). Each item is a `Result`, so one failure hides nothing.
    ///
    /// ```
    /// use concurrent_futures::{Executor, ThreadPoolExecutor};
    /// fn parse(s: String) -> i64 { s.trim().parse().expect("a number") }
    ///
    /// fn parse_all(pool: &impl Executor, input: &[&str]) -> Vec<Option<i64>> {
    ///     let items = input.iter().map(|s| s.to_string());
    ///     pool.map(parse, items).map(Result::ok).collect()
    /// }
    /// let pool = ThreadPoolExecutor::with_max_workers(2).unwrap();
    /// assert_eq!(parse_all(&pool, &["1", " 2", "x"]), [Some(1), Some(2), None]);
    /// ```
    fn map<'a, A: Payload, R: Payload, I: IntoIterator<Item = A>>(
        &'a self,
        f: impl TaskFn<A, R>,
        items: I,
    ) -> Map<'a, R, I::IntoIter>
    where
        Self: Sized,
        I::IntoIter: 'a,
    {
        self.map_with(f, items, MapOptions::default())
    }

    /// [`map`](Executor::map) with options.
    ///
    /// ```
    /// use concurrent_futures::{Executor, MapOptions, ThreadPoolExecutor};
    /// fn square(x: u64) -> u64 { x * x }
    ///
    /// fn sum_of_squares(pool: &impl Executor, n: u64) -> u64 {
    ///     let opts = MapOptions::new().buffer_size(4);
    ///     pool.map_with(square, 1..=n, opts).map(Result::unwrap).sum()
    /// }
    /// assert_eq!(sum_of_squares(&ThreadPoolExecutor::new(), 10), 385);
    /// ```
    fn map_with<'a, A: Payload, R: Payload, I: IntoIterator<Item = A>>(
        &'a self,
        f: impl TaskFn<A, R>,
        items: I,
        options: MapOptions,
    ) -> Map<'a, R, I::IntoIter>
    where
        Self: Sized,
        I::IntoIter: 'a,
    {
        Map::new(
            Box::new(move |a| self.submit_fn(f, a).map_err(|e| e.map(|_| ()))),
            items.into_iter(),
            options,
            self.max_workers(),
        )
    }

    /// `f` over `items`, results in completion order, with the same bounded buffer.
    ///
    /// ```
    /// use concurrent_futures::{Executor, ThreadPoolExecutor};
    /// fn len(s: String) -> usize { s.len() }
    ///
    /// fn longest(pool: &impl Executor, words: Vec<String>) -> usize {
    ///     pool.map_unordered(len, words).map(Result::unwrap).max().unwrap_or(0)
    /// }
    /// let words = ["pool", "future", "executor"].map(String::from).to_vec();
    /// assert_eq!(longest(&ThreadPoolExecutor::new(), words), 8);
    /// ```
    fn map_unordered<A: Payload, R: Payload, I: IntoIterator<Item = A>>(
        &self,
        f: impl TaskFn<A, R>,
        items: I,
    ) -> MapUnordered<'_, R, I::IntoIter>
    where
        Self: Sized,
    {
        MapUnordered::new(
            Box::new(move |a| self.submit_fn(f, a).map_err(|e| e.map(|_| ()))),
            items.into_iter(),
            MapOptions::new().buffer_size(self.default_buffer_size()),
            self.max_workers(),
        )
    }
}
