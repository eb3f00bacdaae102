//! [`ProcessPoolExecutor`]: the public face of the process engine.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;

use super::pool::{Complete, Config, Entry, Init, Shared};
use super::registry::{lookup_fn, not_registered};
use super::wire::{self, CALL, FLAG_BATCH, INIT};
use crate::error::{BuildError, SubmitError, TaskError};
use crate::executor::{Executor, MapOptions, Payload};
use crate::future::{deadline_after, Future, Promise};
use crate::map::{default_buffer, Map, MapUnordered};

/// A pool of worker processes running registered functions: Python's `ProcessPoolExecutor`,
/// without its limits. A worker that crashes fails only its own task; a running task can be
/// stopped ([`kill`](Self::kill)) or given a deadline; workers never outlive the program.
///
/// Functions are made runnable with one line, [`register!`](crate::register); workers are
/// copies of the program started before its `main` runs, so there is no other ceremony.
///
/// ```
/// use concurrent_futures::{register, ProcessPoolExecutor};
///
/// fn count_primes((lo, hi): (u64, u64)) -> usize {
///     (lo..hi).filter(|&n| n > 1 && (2..).take_while(|d| d * d <= n).all(|d| n % d != 0)).count()
/// }
/// register!(count_primes);
///
/// let pool = ProcessPoolExecutor::new();
/// let ranges = (0..10).map(|i| (i * 1000, (i + 1) * 1000));
/// let total: usize = pool.map(count_primes, ranges).map(Result::unwrap).sum();
/// assert_eq!(total, 1229);
/// ```
pub struct ProcessPoolExecutor {
    shared: Arc<Shared>,
}

/// Configures a [`ProcessPoolExecutor`].
///
/// ```
/// use std::time::Duration;
/// use concurrent_futures::{register, ProcessPoolExecutor};
/// fn setup(_: ()) {}
/// register!(setup);
/// let pool = ProcessPoolExecutor::builder()
///     .max_workers(2)
///     .max_tasks_per_child(1000)
///     .initializer(setup, ())
///     .idle_timeout(Duration::from_secs(60))
///     .task_timeout(Duration::from_secs(30))
///     .max_frame_bytes(64 << 20)
///     .build()
///     .unwrap();
/// assert_eq!(pool.max_workers(), 2);
/// ```
#[must_use]
pub struct ProcessPoolBuilder {
    max_workers: Option<usize>,
    max_tasks_per_child: Option<usize>,
    initializer: Option<Result<(&'static str, Vec<u8>), String>>,
    idle_timeout: Option<Duration>,
    task_timeout: Option<Duration>,
    frame_limit: usize,
}

impl Default for ProcessPoolBuilder {
    fn default() -> Self {
        ProcessPoolBuilder {
            max_workers: None,
            max_tasks_per_child: None,
            initializer: None,
            idle_timeout: None,
            task_timeout: None,
            frame_limit: wire::DEFAULT_FRAME_LIMIT,
        }
    }
}

impl ProcessPoolBuilder {
    /// The most worker processes (default: the number of CPUs); 0 is a build error.
    pub fn max_workers(mut self, n: usize) -> Self {
        self.max_workers = Some(n);
        self
    }
    /// Replaces a worker after it has run `n` tasks; 0 is a build error.
    pub fn max_tasks_per_child(mut self, n: usize) -> Self {
        self.max_tasks_per_child = Some(n);
        self
    }
    /// Runs the registered `f(arg)` once in each new worker before any task. If it fails (or
    /// is not registered), the pool is broken with that cause.
    pub fn initializer<A: Payload>(mut self, f: fn(A), arg: A) -> Self {
        self.initializer = Some(match lookup_fn(f) {
            None => Err(not_registered::<A, ()>()),
            Some(reg) => bincode::serialize(&arg)
                .map(|b| (reg.name, b))
                .map_err(|e| format!("the initializer's argument does not encode: {e}")),
        });
        self
    }
    /// Lets a worker idle this long exit (a new one starts on demand).
    pub fn idle_timeout(mut self, d: Duration) -> Self {
        self.idle_timeout = Some(d);
        self
    }
    /// The default time limit of every task: a task still running at its deadline has its
    /// worker killed and fails with [`TaskError::TaskTimedOut`].
    pub fn task_timeout(mut self, d: Duration) -> Self {
        self.task_timeout = Some(d);
        self
    }
    /// The largest frame (encoded arguments or result plus 13 bytes of header) that may cross
    /// between the processes (default 1 GiB). Larger arguments are refused at submit, larger
    /// results fail their future.
    pub fn max_frame_bytes(mut self, n: usize) -> Self {
        self.frame_limit = n;
        self
    }

    /// Builds the pool. No process starts until the first submit.
    pub fn build(self) -> Result<ProcessPoolExecutor, BuildError> {
        let max_workers = self
            .max_workers
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
        if max_workers == 0 {
            return Err(BuildError::new("max_workers must be greater than 0"));
        }
        if self.max_tasks_per_child == Some(0) {
            return Err(BuildError::new(
                "max_tasks_per_child must be greater than 0",
            ));
        }
        if self.frame_limit < 64 {
            return Err(BuildError::new("max_frame_bytes must be at least 64"));
        }
        let initializer = match self.initializer {
            None => None,
            Some(Err(e)) => return Err(BuildError::new(e)),
            Some(Ok((name, arg))) => {
                let mut frame = wire::begin(INIT, 0, Some((name, 0)));
                frame.extend_from_slice(&arg);
                wire::finish(&mut frame, self.frame_limit)
                    .map_err(|e| BuildError::new(format!("initializer argument: {e}")))?;
                Some(Init { frame })
            }
        };
        Ok(ProcessPoolExecutor {
            shared: Shared::new(Config {
                max_workers,
                max_tasks_per_child: self.max_tasks_per_child,
                initializer,
                idle_timeout: self.idle_timeout,
                task_timeout: self.task_timeout,
                frame_limit: self.frame_limit,
            }),
        })
    }
}

/// Completes a `Future<R>` from a reply body.
struct Typed<R: Send + 'static> {
    promise: Promise<R>,
    view: Future<R>,
}

impl<R: DeserializeOwned + Send + 'static> Complete for Typed<R> {
    fn start(&self) -> bool {
        self.promise.set_running_or_notify_cancel()
    }
    fn finish(self: Box<Self>, reply: Result<Vec<u8>, TaskError>) {
        let Typed { promise, view } = *self;
        drop(view);
        match reply.and_then(|b| {
            bincode::deserialize::<R>(&b).map_err(|e| TaskError::Serialization {
                message: format!("the result could not be decoded: {e}"),
            })
        }) {
            Ok(v) => promise.set_result(v),
            Err(e) => promise.set_exception(e),
        }
    }
    fn cancel(self: Box<Self>) {
        self.view.cancel();
    }
    fn is_cancelled(&self) -> bool {
        self.promise.is_cancelled()
    }
}

/// One chunk of a chunked map: per-item results.
type Chunk<R> = Vec<Result<R, TaskError>>;

/// Completes a chunk's future from a batch reply.
struct Batch<R: Send + 'static>(Typed<Chunk<R>>);

impl<R: DeserializeOwned + Send + 'static> Complete for Batch<R> {
    fn start(&self) -> bool {
        self.0.promise.set_running_or_notify_cancel()
    }
    fn finish(self: Box<Self>, reply: Result<Vec<u8>, TaskError>) {
        let Typed { promise, view } = self.0;
        drop(view);
        let decoded = reply.and_then(|b| {
            bincode::deserialize::<Vec<Result<R, super::registry::RemoteError>>>(&b).map_err(|e| {
                TaskError::Serialization {
                    message: format!("the result could not be decoded: {e}"),
                }
            })
        });
        match decoded {
            Ok(items) => promise.set_result(
                items
                    .into_iter()
                    .map(|r| r.map_err(TaskError::from))
                    .collect(),
            ),
            Err(e) => promise.set_exception(e),
        }
    }
    fn cancel(self: Box<Self>) {
        self.0.view.cancel();
    }
    fn is_cancelled(&self) -> bool {
        self.0.promise.is_cancelled()
    }
}

impl ProcessPoolExecutor {
    /// A pool with `max_workers` = the number of CPUs.
    pub fn new() -> Self {
        ProcessPoolBuilder::default()
            .build()
            .expect("the default configuration is valid")
    }

    /// A pool of at most `n` worker processes; `n == 0` is an error.
    ///
    /// ```
    /// use concurrent_futures::ProcessPoolExecutor;
    /// assert!(ProcessPoolExecutor::with_max_workers(0).is_err());
    /// ```
    pub fn with_max_workers(n: usize) -> Result<Self, BuildError> {
        ProcessPoolBuilder::default().max_workers(n).build()
    }

    /// A builder for the other settings.
    pub fn builder() -> ProcessPoolBuilder {
        ProcessPoolBuilder::default()
    }

    /// Submits `f(arg)` to a worker process. `f` must be [registered](crate::register). The
    /// argument is handed back if it cannot be sent (unregistered function, encoding failure,
    /// over the frame limit) or the pool was shut down.
    ///
    /// ```
    /// use concurrent_futures::{register, ProcessPoolExecutor};
    /// fn add((a, b): (i32, i32)) -> i32 { a + b }
    /// register!(add);
    /// let pool = ProcessPoolExecutor::new();
    /// assert_eq!(pool.submit_fn(add, (2, 3)).unwrap().result(), Ok(5));
    /// ```
    pub fn submit_fn<A: Payload, R: Payload>(
        &self,
        f: fn(A) -> R,
        arg: A,
    ) -> Result<Future<R>, SubmitError<A>> {
        self.submit_inner(f, arg, self.shared.cfg.task_timeout)
    }

    /// Like [`submit_fn`](Self::submit_fn) with a time limit for this task: if it is still
    /// running after `timeout`, its worker is killed (and replaced) and the future fails with
    /// [`TaskError::TaskTimedOut`].
    pub fn submit_fn_with_timeout<A: Payload, R: Payload>(
        &self,
        f: fn(A) -> R,
        arg: A,
        timeout: Duration,
    ) -> Result<Future<R>, SubmitError<A>> {
        self.submit_inner(f, arg, Some(timeout))
    }

    fn submit_inner<A: Payload, R: Payload>(
        &self,
        f: fn(A) -> R,
        arg: A,
        timeout: Option<Duration>,
    ) -> Result<Future<R>, SubmitError<A>> {
        let Some(reg) = lookup_fn(f) else {
            return Err(SubmitError::Invalid(arg, not_registered::<A, R>()));
        };
        let id = self.shared.next_id();
        let mut frame = wire::begin(CALL, id, Some((reg.name, 0)));
        if let Err(e) = bincode::serialize_into(&mut frame, &arg) {
            return Err(SubmitError::Invalid(
                arg,
                format!("the argument could not be encoded: {e}"),
            ));
        }
        if let Err(e) = wire::finish(&mut frame, self.shared.cfg.frame_limit) {
            return Err(SubmitError::Invalid(
                arg,
                format!("the argument is too large: {e}"),
            ));
        }
        let (promise, fut) = Promise::new();
        let view = Future::from_shared(fut.shared.clone());
        let entry = Entry {
            id,
            future_id: fut.id(),
            frame,
            timeout,
            done: Box::new(Typed { promise, view }),
        };
        match self.shared.submit(entry) {
            Ok(()) => Ok(fut),
            Err((entry, cause)) => {
                drop(entry); // its promise is dropped unstarted; nobody holds the future
                Err(match cause {
                    Some(c) => SubmitError::Broken(arg, c),
                    None => SubmitError::Shutdown(arg),
                })
            }
        }
    }

    /// Test hook: sends `frame` verbatim to a worker as if it were a task's frame (use
    /// [`wire`](crate::process::wire) to build well-formed ones, or any bytes to test how
    /// malformed input is handled). Its id is the next task id. Not part of the stable API.
    #[doc(hidden)]
    pub fn __submit_raw_frame<R: Payload>(
        &self,
        build: impl FnOnce(u64) -> Vec<u8>,
    ) -> Result<Future<R>, SubmitError<()>> {
        let id = self.shared.next_id();
        let (promise, fut) = Promise::new();
        let view = Future::from_shared(fut.shared.clone());
        let entry = Entry {
            id,
            future_id: fut.id(),
            frame: build(id),
            timeout: self.shared.cfg.task_timeout,
            done: Box::new(Typed { promise, view }),
        };
        match self.shared.submit(entry) {
            Ok(()) => Ok(fut),
            Err((_, Some(c))) => Err(SubmitError::Broken((), c)),
            Err((_, None)) => Err(SubmitError::Shutdown(())),
        }
    }

    /// Submits a batch `f(items[0]), f(items[1]), …` as one message; the future holds the
    /// per-item results.
    fn submit_batch<A: Payload, R: Payload>(
        &self,
        f: fn(A) -> R,
        items: Vec<A>,
    ) -> Result<Future<Chunk<R>>, SubmitError<()>> {
        let Some(reg) = lookup_fn(f) else {
            return Err(SubmitError::Invalid((), not_registered::<A, R>()));
        };
        let id = self.shared.next_id();
        let mut frame = wire::begin(CALL, id, Some((reg.name, FLAG_BATCH)));
        if let Err(e) = bincode::serialize_into(&mut frame, &items) {
            return Err(SubmitError::Invalid(
                (),
                format!("arguments could not be encoded: {e}"),
            ));
        }
        if let Err(e) = wire::finish(&mut frame, self.shared.cfg.frame_limit) {
            return Err(SubmitError::Invalid(
                (),
                format!("the chunk is too large: {e}"),
            ));
        }
        let (promise, fut) = Promise::new();
        let view = Future::from_shared(fut.shared.clone());
        let entry = Entry {
            id,
            future_id: fut.id(),
            frame,
            timeout: self.shared.cfg.task_timeout,
            done: Box::new(Batch(Typed { promise, view })),
        };
        match self.shared.submit(entry) {
            Ok(()) => Ok(fut),
            Err((_, Some(c))) => Err(SubmitError::Broken((), c)),
            Err((_, None)) => Err(SubmitError::Shutdown(())),
        }
    }

    /// `f` over `items`, results in input order, lazily with a bounded buffer.
    pub fn map<A: Payload, R: Payload, I: IntoIterator<Item = A>>(
        &self,
        f: fn(A) -> R,
        items: I,
    ) -> ChunkedMap<'_, R, I::IntoIter> {
        self.map_with(f, items, MapOptions::default())
    }

    /// [`map`](Self::map) with options; `chunksize` sends that many items per message (results
    /// stay per item).
    ///
    /// ```
    /// use concurrent_futures::{register, MapOptions, ProcessPoolExecutor};
    /// fn inc(x: u32) -> u32 { x + 1 }
    /// register!(inc);
    /// let pool = ProcessPoolExecutor::new();
    /// let out: Vec<u32> = pool
    ///     .map_with(inc, 0..1000, MapOptions::new().chunksize(100))
    ///     .map(Result::unwrap)
    ///     .collect();
    /// assert_eq!(out, (1..=1000).collect::<Vec<_>>());
    /// ```
    pub fn map_with<A: Payload, R: Payload, I: IntoIterator<Item = A>>(
        &self,
        f: fn(A) -> R,
        items: I,
        options: MapOptions,
    ) -> ChunkedMap<'_, R, I::IntoIter> {
        ChunkedMap::new(self, f, items.into_iter(), options)
    }

    /// `f` over `items`, results in completion order.
    pub fn map_unordered<A: Payload, R: Payload, I: IntoIterator<Item = A>>(
        &self,
        f: fn(A) -> R,
        items: I,
    ) -> MapUnordered<'_, R, I::IntoIter> {
        MapUnordered::new(
            Box::new(move |a| self.submit_fn(f, a).map_err(|e| e.map(|_| ()))),
            items.into_iter(),
            MapOptions::default(),
            self.max_workers(),
        )
    }

    /// Stops a running task by killing its worker process (which is replaced). Returns `false`
    /// if the task is not running (use [`Future::cancel`] for one that has not started). The
    /// future fails with [`TaskError::WorkerDied`].
    pub fn kill<T>(&self, future: &Future<T>) -> bool {
        self.shared.kill(future.id())
    }

    /// Shuts down (cancelling what has not started), sends `SIGTERM` to every worker and waits
    /// for them: afterwards no future of this pool is pending. Python 3.14's
    /// `terminate_workers()`.
    pub fn terminate_workers(&self) {
        self.shared.terminate(libc::SIGTERM);
    }

    /// Like [`terminate_workers`](Self::terminate_workers) with `SIGKILL`.
    pub fn kill_workers(&self) {
        self.shared.terminate(libc::SIGKILL);
    }

    /// Shuts the pool down; idempotent. See [`ThreadPoolExecutor::shutdown`](crate::ThreadPoolExecutor::shutdown).
    pub fn shutdown(&self, wait: bool, cancel_futures: bool) {
        self.shared.shutdown(wait, cancel_futures);
    }

    /// The most worker processes.
    pub fn max_workers(&self) -> usize {
        self.shared.cfg.max_workers
    }

    /// The pids of the live workers.
    pub fn worker_pids(&self) -> Vec<u32> {
        self.shared.worker_pids()
    }

    /// How many tasks wait for a worker.
    pub fn queued(&self) -> usize {
        self.shared.pending_len()
    }

    /// Whether the pool was shut down (or broke).
    pub fn is_shutdown(&self) -> bool {
        self.shared.is_shutdown()
    }

    /// Why the pool is broken, if it is.
    pub fn broken_cause(&self) -> Option<String> {
        self.shared.broken_cause()
    }
}

impl Default for ProcessPoolExecutor {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for ProcessPoolExecutor {
    fn drop(&mut self) {
        self.shared.shutdown(true, false);
    }
}

impl std::fmt::Debug for ProcessPoolExecutor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProcessPoolExecutor")
            .field("max_workers", &self.max_workers())
            .field("workers", &self.worker_pids())
            .field("queued", &self.queued())
            .finish()
    }
}

impl Executor for ProcessPoolExecutor {
    fn submit_fn<A: Payload, R: Payload>(
        &self,
        f: fn(A) -> R,
        arg: A,
    ) -> Result<Future<R>, SubmitError<A>> {
        ProcessPoolExecutor::submit_fn(self, f, arg)
    }
    fn shutdown(&self, wait: bool, cancel_futures: bool) {
        ProcessPoolExecutor::shutdown(self, wait, cancel_futures)
    }
    fn max_workers(&self) -> usize {
        ProcessPoolExecutor::max_workers(self)
    }
    fn map_with<A: Payload, R: Payload, I: IntoIterator<Item = A>>(
        &self,
        f: fn(A) -> R,
        items: I,
        options: MapOptions,
    ) -> Map<'_, R, I::IntoIter> {
        // Through the trait, items travel one per message; use the inherent `map_with` for
        // chunks.
        Map::new(
            Box::new(move |a| {
                ProcessPoolExecutor::submit_fn(self, f, a).map_err(|e| e.map(|_| ()))
            }),
            items.into_iter(),
            options,
            self.max_workers(),
        )
    }
}

/// The iterator returned by [`ProcessPoolExecutor::map`]: results in input order, items sent
/// `chunksize` per message (results stay per item), at most `buffer_size` messages in flight.
/// Dropping it cancels what has not started.
#[must_use = "map is lazy: dropping the iterator cancels the tasks that have not started"]
pub struct ChunkedMap<'a, R: Payload, I: Iterator> {
    submit: SubmitChunk<'a, I::Item, R>,
    input: Option<I>,
    chunksize: usize,
    in_flight: VecDeque<(ChunkFuture<R>, usize)>,
    ready: std::vec::IntoIter<Result<R, TaskError>>,
    buffer_size: usize,
    deadline: Option<Instant>,
    ended: bool,
}

/// A submitted chunk, or why it could not be submitted.
type ChunkFuture<R> = Result<Future<Chunk<R>>, TaskError>;

type SubmitChunk<'a, A, R> =
    Box<dyn FnMut(Vec<A>) -> Result<Future<Chunk<R>>, SubmitError<()>> + 'a>;

impl<'a, R: Payload, I: Iterator> ChunkedMap<'a, R, I>
where
    I::Item: Payload,
{
    fn new(
        pool: &'a ProcessPoolExecutor,
        f: fn(I::Item) -> R,
        input: I,
        options: MapOptions,
    ) -> Self {
        let mut m = ChunkedMap {
            submit: Box::new(move |items| pool.submit_batch(f, items)),
            input: Some(input),
            chunksize: options.chunksize.unwrap_or(1),
            in_flight: VecDeque::new(),
            ready: Vec::new().into_iter(),
            buffer_size: options
                .buffer_size
                .unwrap_or_else(|| default_buffer(pool.max_workers())),
            deadline: options.timeout.map(deadline_after),
            ended: false,
        };
        m.fill();
        m
    }
}

impl<R: Payload, I: Iterator> ChunkedMap<'_, R, I> {
    fn fill(&mut self) {
        while self.in_flight.len() < self.buffer_size {
            let Some(input) = self.input.as_mut() else {
                return;
            };
            let items: Vec<I::Item> = input.by_ref().take(self.chunksize).collect();
            if items.is_empty() {
                self.input = None;
                return;
            }
            let n = items.len();
            match (self.submit)(items) {
                Ok(f) => self.in_flight.push_back((Ok(f), n)),
                Err(e) => {
                    let err = match e {
                        SubmitError::Broken(_, cause) => TaskError::BrokenExecutor { cause },
                        SubmitError::Invalid(_, message) => TaskError::Serialization { message },
                        other => TaskError::BrokenExecutor {
                            cause: other.to_string(),
                        },
                    };
                    self.in_flight.push_back((Err(err), n));
                    self.input = None;
                }
            }
        }
    }

    fn cancel_rest(&mut self) {
        self.input = None;
        for (f, _) in self.in_flight.drain(..) {
            if let Ok(f) = f {
                f.cancel();
            }
        }
    }
}

impl<R: Payload, I: Iterator> Iterator for ChunkedMap<'_, R, I> {
    type Item = Result<R, TaskError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(r) = self.ready.next() {
                return Some(r);
            }
            if self.ended {
                return None;
            }
            let Some((front, n)) = self.in_flight.pop_front() else {
                self.ended = true;
                return None;
            };
            let outcome = match front {
                Err(e) => Err(e),
                Ok(mut f) => match self.deadline {
                    None => f.result(),
                    Some(d) => {
                        let r = f.result_timeout(d.saturating_duration_since(Instant::now()));
                        if let Err(e @ TaskError::Timeout { .. }) = r {
                            f.cancel();
                            self.cancel_rest();
                            self.ended = true;
                            return Some(Err(e));
                        }
                        r
                    }
                },
            };
            self.ready = match outcome {
                Ok(items) => items.into_iter(),
                Err(e) => (0..n)
                    .map(|_| Err(e.clone()))
                    .collect::<Vec<_>>()
                    .into_iter(),
            };
            self.fill();
        }
    }
}

impl<R: Payload, I: Iterator> Drop for ChunkedMap<'_, R, I> {
    fn drop(&mut self) {
        self.cancel_rest();
    }
}
