//! [`ThreadPoolExecutor`]: the public face of the thread engine.

use std::sync::Arc as StdArc;

use super::builder::ThreadPoolBuilder;
use super::pool::Pool;
use super::scope::Scope;
use super::task::Task;
use crate::error::{BuildError, SubmitError};
use crate::executor::{Executor, Payload, TaskFn};
use crate::future::Future;
use crate::map::{Map, MapOptions, MapUnordered, SubmitOne};
use crate::sync::Arc;

/// A pool of threads that runs submitted closures and hands back [`Future`]s. Python's
/// `ThreadPoolExecutor`.
///
/// Threads start lazily (an idle worker is reused before a new one is spawned, never more than
/// `max_workers`). A panicking task never kills its worker: the panic goes into its future.
/// Dropping the executor is `shutdown(wait = true)` — the seeds' `with` block.
///
/// ```
/// use concurrent_futures::ThreadPoolExecutor;
///
/// let pool = ThreadPoolExecutor::new();
/// let future = pool.submit(|| 2 + 2).unwrap();
/// assert_eq!(future.result(), Ok(4));
///
/// let squares: Vec<_> = pool.map(|x: u32| x * x, 1..=4).map(Result::unwrap).collect();
/// assert_eq!(squares, [1, 4, 9, 16]);
/// ```
///
/// To let tasks submit to their own pool, share it with an [`Arc`](std::sync::Arc): a task may
/// even wait on a task it submitted while every worker is busy (see the crate docs, "nested
/// waits").
pub struct ThreadPoolExecutor {
    pub(crate) pool: Arc<Pool>,
}

impl Default for ThreadPoolExecutor {
    fn default() -> Self {
        Self::new()
    }
}

impl ThreadPoolExecutor {
    /// A pool with the defaults: `max_workers = min(32, cpus + 4)`, unbounded queue.
    ///
    /// ```
    /// use concurrent_futures::{default_max_workers, ThreadPoolExecutor};
    /// let pool = ThreadPoolExecutor::new();
    /// assert_eq!(pool.max_workers(), default_max_workers());
    /// assert_eq!(pool.submit(|| 1 + 1).unwrap().result(), Ok(2));
    /// ```
    pub fn new() -> Self {
        ThreadPoolBuilder::new()
            .build()
            .expect("the default configuration is valid")
    }

    /// A pool of at most `n` threads; `n == 0` is an error. Python's `ThreadPoolExecutor(n)`.
    ///
    /// ```
    /// use concurrent_futures::ThreadPoolExecutor;
    /// assert!(ThreadPoolExecutor::with_max_workers(0).is_err());
    /// assert_eq!(ThreadPoolExecutor::with_max_workers(10).unwrap().max_workers(), 10);
    /// ```
    pub fn with_max_workers(n: usize) -> Result<Self, BuildError> {
        ThreadPoolBuilder::new().max_workers(n).build()
    }

    /// A builder for the other settings.
    ///
    /// ```
    /// use concurrent_futures::ThreadPoolExecutor;
    /// let pool = ThreadPoolExecutor::builder().max_workers(2).thread_name_prefix("io").build().unwrap();
    /// assert_eq!(pool.max_workers(), 2);
    /// ```
    pub fn builder() -> ThreadPoolBuilder {
        ThreadPoolBuilder::new()
    }

    /// Submits a closure; its future holds the return value (or the panic). After shutdown the
    /// closure is handed back in the error. With a bounded queue, blocks while the queue is full.
    ///
    /// ```
    /// use concurrent_futures::ThreadPoolExecutor;
    /// let pool = ThreadPoolExecutor::new();
    /// let f = pool.submit(|| "hello".len()).unwrap();
    /// assert_eq!(f.result(), Ok(5));
    /// ```
    pub fn submit<F, T>(&self, f: F) -> Result<Future<T>, SubmitError<F>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.submit_inner(f, true)
    }

    /// Like [`submit`](Self::submit), but never blocks: with a full bounded queue the closure is
    /// handed back in [`SubmitError::Full`].
    ///
    /// ```
    /// use concurrent_futures::ThreadPoolExecutor;
    /// let pool = ThreadPoolExecutor::builder().max_workers(1).max_queued(1).build().unwrap();
    /// let (tx, rx) = std::sync::mpsc::channel::<()>();
    /// let _running = pool.submit(move || rx.recv().ok()).unwrap();
    /// // Fill the queue until it refuses; the refused closure comes back.
    /// let mut refused = None;
    /// for _ in 0..3 {
    ///     if let Err(e) = pool.try_submit(|| ()) {
    ///         refused = Some(e);
    ///         break;
    ///     }
    /// }
    /// assert!(refused.unwrap().is_full());
    /// tx.send(()).unwrap();
    /// ```
    pub fn try_submit<F, T>(&self, f: F) -> Result<Future<T>, SubmitError<F>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.submit_inner(f, false)
    }

    /// Makes an admitted closure a task and queues it.
    fn spawn<F, T>(&self, f: F) -> Future<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        // SAFETY (both): `F` and `T` are `'static`.
        let (fut, job) = match &self.pool.bound {
            None => unsafe { Task::spawn(f, self.pool.id, ()) },
            Some(b) => unsafe { Task::spawn(f, self.pool.id, b.clone()) },
        };
        self.pool.push(job);
        fut
    }

    fn submit_inner<F, T>(&self, f: F, blocking: bool) -> Result<Future<T>, SubmitError<F>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let (f, admission) = self.pool.admit(f, blocking)?;
        let fut = self.spawn(f);
        drop(admission);
        Ok(fut)
    }

    /// Submits `f(arg)`: Python's `submit(fn, arg)`. Accepts plain functions and closures; the
    /// argument is handed back if the pool refuses.
    ///
    /// ```
    /// use concurrent_futures::ThreadPoolExecutor;
    /// fn double(x: u32) -> u32 { x * 2 }
    /// let pool = ThreadPoolExecutor::new();
    /// assert_eq!(pool.submit_fn(double, 21).unwrap().result(), Ok(42));
    /// ```
    pub fn submit_fn<A, R, F>(&self, f: F, arg: A) -> Result<Future<R>, SubmitError<A>>
    where
        F: FnOnce(A) -> R + Send + 'static,
        A: Send + 'static,
        R: Send + 'static,
    {
        let ((f, arg), admission) = self
            .pool
            .admit((f, arg), true)
            .map_err(|e| e.map(|(_, a)| a))?;
        let fut = self.spawn(move || f(arg));
        drop(admission);
        Ok(fut)
    }

    /// `f` over `items`, results in input order, lazily: at most a buffer of
    /// `4 × max_workers` tasks is in flight, and the input is read as results are consumed
    /// (an infinite input works). Dropping the iterator cancels what has not started. For
    /// several inputs, zip them: `pool.map(|(a, b)| f(a, b), xs.into_iter().zip(ys))`.
    ///
    /// ```
    /// use concurrent_futures::ThreadPoolExecutor;
    /// let pool = ThreadPoolExecutor::new();
    /// let pairs = pool.map(|(a, b): (u8, char)| format!("{a}{b}"), [1, 2].into_iter().zip(['x', 'y']));
    /// assert_eq!(pairs.map(Result::unwrap).collect::<Vec<_>>(), ["1x", "2y"]);
    /// ```
    pub fn map<A, R, F, I>(&self, f: F, items: I) -> Map<'_, R, I::IntoIter>
    where
        F: Fn(A) -> R + Send + Sync + 'static,
        A: Send + 'static,
        R: Send + 'static,
        I: IntoIterator<Item = A>,
    {
        self.map_with(f, items, MapOptions::default())
    }

    /// [`map`](Self::map) with a buffer size and a total timeout ([`MapOptions`]).
    ///
    /// ```
    /// use std::time::Duration;
    /// use concurrent_futures::{MapOptions, ThreadPoolExecutor};
    /// let pool = ThreadPoolExecutor::new();
    /// let opts = MapOptions::new().buffer_size(2).timeout(Duration::from_secs(30));
    /// let out: Vec<_> = pool.map_with(|x: i32| -x, 0..5, opts).map(Result::unwrap).collect();
    /// assert_eq!(out, [0, -1, -2, -3, -4]);
    /// ```
    pub fn map_with<A, R, F, I>(
        &self,
        f: F,
        items: I,
        options: MapOptions,
    ) -> Map<'_, R, I::IntoIter>
    where
        F: Fn(A) -> R + Send + Sync + 'static,
        A: Send + 'static,
        R: Send + 'static,
        I: IntoIterator<Item = A>,
    {
        Map::new(
            self.submit_each(f),
            items.into_iter(),
            options,
            self.max_workers(),
        )
    }

    /// `f` over `items`, results in completion order, with the same bounded buffer.
    ///
    /// ```
    /// use concurrent_futures::ThreadPoolExecutor;
    /// let pool = ThreadPoolExecutor::new();
    /// let total: u64 = pool.map_unordered(|x: u64| x * 10, 1..=3).map(Result::unwrap).sum();
    /// assert_eq!(total, 60);
    /// ```
    pub fn map_unordered<A, R, F, I>(&self, f: F, items: I) -> MapUnordered<'_, R, I::IntoIter>
    where
        F: Fn(A) -> R + Send + Sync + 'static,
        A: Send + 'static,
        R: Send + 'static,
        I: IntoIterator<Item = A>,
    {
        self.map_unordered_with(f, items, MapOptions::default())
    }

    /// [`map_unordered`](Self::map_unordered) with options.
    ///
    /// ```
    /// use concurrent_futures::{MapOptions, ThreadPoolExecutor};
    /// let pool = ThreadPoolExecutor::new();
    /// let n = pool.map_unordered_with(|x: u8| x, 0..10, MapOptions::new().buffer_size(3)).count();
    /// assert_eq!(n, 10);
    /// ```
    pub fn map_unordered_with<A, R, F, I>(
        &self,
        f: F,
        items: I,
        options: MapOptions,
    ) -> MapUnordered<'_, R, I::IntoIter>
    where
        F: Fn(A) -> R + Send + Sync + 'static,
        A: Send + 'static,
        R: Send + 'static,
        I: IntoIterator<Item = A>,
    {
        MapUnordered::new(
            self.submit_each(f),
            items.into_iter(),
            options,
            self.max_workers(),
        )
    }

    /// How `map` and `map_unordered` submit one item: `f` shared by every task.
    fn submit_each<A, R, F>(&self, f: F) -> SubmitOne<'_, A, R>
    where
        F: Fn(A) -> R + Send + Sync + 'static,
        A: Send + 'static,
        R: Send + 'static,
    {
        let f = StdArc::new(f);
        Box::new(move |a| {
            let f = f.clone();
            self.submit(move || f(a)).map_err(|e| e.map(|_| ()))
        })
    }

    /// Runs `f` with a [`Scope`] whose tasks may borrow from the caller's stack; returns after
    /// every task submitted in the scope has finished (like `std::thread::scope`). Task panics
    /// stay in their futures; a panic of `f` itself is resumed after the tasks are joined.
    ///
    /// ```
    /// use concurrent_futures::ThreadPoolExecutor;
    /// let pool = ThreadPoolExecutor::new();
    /// let mut data = vec![1, 2, 3];
    /// pool.scope(|s| {
    ///     for x in data.iter_mut() {
    ///         s.submit(move || *x *= 10).unwrap();
    ///     }
    /// });
    /// assert_eq!(data, [10, 20, 30]);
    /// ```
    pub fn scope<'env, F, R>(&'env self, f: F) -> R
    where
        F: for<'scope> FnOnce(&'scope Scope<'scope, 'env>) -> R,
    {
        let scope = Scope::new(&self.pool);
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&scope)));
        scope.join();
        match r {
            Ok(v) => v,
            Err(p) => std::panic::resume_unwind(p),
        }
    }

    /// Shuts the pool down; idempotent. New submits are refused from now on.
    /// - `wait`: block until every queued and running task has finished (called from one of
    ///   this pool's own tasks, waits for the other workers only). With `wait = false` it returns
    ///   at once and queued work still completes in the background.
    /// - `cancel_futures`: cancel every task that has not started (their futures are done at
    ///   once, as cancelled).
    ///
    /// ```
    /// use concurrent_futures::ThreadPoolExecutor;
    /// let pool = ThreadPoolExecutor::new();
    /// let f = pool.submit(|| 1).unwrap();
    /// pool.shutdown(true, false);
    /// assert!(f.done());
    /// assert!(pool.submit(|| 2).unwrap_err().is_shutdown());
    /// ```
    pub fn shutdown(&self, wait: bool, cancel_futures: bool) {
        self.pool.shutdown(wait, cancel_futures);
    }

    /// The most threads this pool runs.
    ///
    /// ```
    /// use concurrent_futures::ThreadPoolExecutor;
    /// let pool = ThreadPoolExecutor::with_max_workers(3).unwrap();
    /// assert_eq!(pool.max_workers(), 3);
    /// ```
    pub fn max_workers(&self) -> usize {
        self.pool.cfg.max_workers
    }

    /// How many worker threads are alive now.
    ///
    /// ```
    /// use concurrent_futures::ThreadPoolExecutor;
    /// let pool = ThreadPoolExecutor::new();
    /// assert_eq!(pool.thread_count(), 0); // threads start lazily
    /// ```
    pub fn thread_count(&self) -> usize {
        self.pool.thread_count()
    }

    /// The pool's counters: tasks submitted, queued, running, completed, failed, cancelled,
    /// worker threads alive and replaced, and the time workers were busy.
    ///
    /// ```
    /// use concurrent_futures::ThreadPoolExecutor;
    /// let pool = ThreadPoolExecutor::with_max_workers(2).unwrap();
    /// let futures: Vec<_> = (0..10).map(|i| pool.submit(move || i * 2).unwrap()).collect();
    /// futures.iter().for_each(|f| f.wait());
    /// let stats = pool.stats();
    /// assert_eq!((stats.submitted, stats.completed, stats.done()), (10, 10, 10));
    /// ```
    pub fn stats(&self) -> crate::PoolStats {
        self.pool.stats.snapshot(self.pool.thread_count())
    }

    /// How many tasks are queued and not yet taken by a worker.
    ///
    /// ```
    /// use std::time::Duration;
    /// use concurrent_futures::ThreadPoolExecutor;
    /// let pool = ThreadPoolExecutor::with_max_workers(1).unwrap();
    /// let (started_tx, started_rx) = std::sync::mpsc::channel::<()>();
    /// let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
    /// pool.submit(move || {
    ///     started_tx.send(()).unwrap();
    ///     go_rx.recv().ok();
    /// })
    /// .unwrap();
    /// started_rx.recv_timeout(Duration::from_secs(30)).unwrap(); // the only worker is busy
    /// let _a = pool.submit(|| ()).unwrap();
    /// let _b = pool.submit(|| ()).unwrap();
    /// assert_eq!(pool.queued(), 2);
    /// go_tx.send(()).unwrap();
    /// pool.shutdown(true, false);
    /// assert_eq!(pool.queued(), 0);
    /// ```
    pub fn queued(&self) -> usize {
        self.pool.queue_len()
    }

    /// Whether [`shutdown`](Self::shutdown) was called (or the pool broke).
    ///
    /// ```
    /// use concurrent_futures::ThreadPoolExecutor;
    /// let pool = ThreadPoolExecutor::new();
    /// assert!(!pool.is_shutdown());
    /// pool.shutdown(false, false);
    /// assert!(pool.is_shutdown());
    /// ```
    pub fn is_shutdown(&self) -> bool {
        self.pool.is_shutdown()
    }

    /// Why the pool is broken, if it is.
    ///
    /// ```
    /// use concurrent_futures::ThreadPoolExecutor;
    /// let pool = ThreadPoolExecutor::builder().initializer(|| panic!("missing API key")).build().unwrap();
    /// assert_eq!(pool.broken_cause(), None);
    /// let _ = pool.submit(|| ()).unwrap().result(); // the initializer runs and panics
    /// assert!(pool.broken_cause().unwrap().contains("missing API key"));
    /// ```
    pub fn broken_cause(&self) -> Option<String> {
        self.pool.broken_cause()
    }

    /// Test hook: kills one worker thread by unwinding outside the task machinery, to exercise
    /// worker replacement. Not part of the stable API.
    #[doc(hidden)]
    pub fn __kill_one_worker(&self) -> Result<(), SubmitError<()>> {
        let ((), admission) = self.pool.admit((), true)?;
        self.pool
            .push(super::worker::KillWorker::job(self.pool.bound.clone()));
        drop(admission);
        Ok(())
    }
}

impl Drop for ThreadPoolExecutor {
    fn drop(&mut self) {
        self.pool.shutdown(true, false);
    }
}

impl std::fmt::Debug for ThreadPoolExecutor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ThreadPoolExecutor")
            .field("name", &self.pool.cfg.name_prefix)
            .field("max_workers", &self.pool.cfg.max_workers)
            .field("threads", &self.pool.thread_count())
            .field("queued", &self.pool.queue_len())
            .field("shutdown", &self.pool.is_shutdown())
            .finish()
    }
}

impl Executor for ThreadPoolExecutor {
    fn submit_fn<A: Payload, R: Payload>(
        &self,
        f: impl TaskFn<A, R>,
        arg: A,
    ) -> Result<Future<R>, SubmitError<A>> {
        ThreadPoolExecutor::submit_fn(self, f, arg)
    }

    fn stats(&self) -> crate::PoolStats {
        ThreadPoolExecutor::stats(self)
    }
    fn shutdown_async(&self, cancel_futures: bool) -> Future<()> {
        // Closed to new work now, as `shutdown` is; the wait happens on another thread.
        self.pool.shutdown(false, cancel_futures);
        let inner = self.pool.clone();
        crate::future::in_background(move || inner.shutdown(true, cancel_futures))
    }
    fn shutdown(&self, wait: bool, cancel_futures: bool) {
        ThreadPoolExecutor::shutdown(self, wait, cancel_futures)
    }

    fn max_workers(&self) -> usize {
        ThreadPoolExecutor::max_workers(self)
    }
}
