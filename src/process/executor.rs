//! [`ProcessPoolExecutor`]: the public face of the process engine.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;

use super::pool::{Complete, Config, Entry, Init, Shared};
use super::registry::{lookup_fn, not_registered};
use super::wire::{self, CALL, FLAG_BATCH, INIT};
use crate::error::{BuildError, SubmitError, TaskError};
use crate::executor::{Executor, MapOptions, Payload, TaskFn};
use crate::future::{deadline_after, Future, Promise};
use crate::map::{default_buffer, refused, Map, MapUnordered};

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
    ///
    /// ```
    /// use concurrent_futures::ProcessPoolExecutor;
    /// let pool = ProcessPoolExecutor::builder().max_workers(2).build().unwrap();
    /// assert_eq!(pool.max_workers(), 2);
    /// assert!(ProcessPoolExecutor::builder().max_workers(0).build().is_err());
    /// ```
    pub fn max_workers(mut self, n: usize) -> Self {
        self.max_workers = Some(n);
        self
    }
    /// Replaces a worker after it has run `n` tasks; 0 is a build error.
    ///
    /// ```
    /// use concurrent_futures::{register, ProcessPoolExecutor};
    /// fn worker_pid(_: ()) -> u32 { std::process::id() }
    /// register!(worker_pid);
    /// // A fresh process for every task (for example, for code that leaks).
    /// let pool = ProcessPoolExecutor::builder().max_workers(1).max_tasks_per_child(1).build().unwrap();
    /// let first = pool.submit_fn(worker_pid, ()).unwrap().result().unwrap();
    /// let second = pool.submit_fn(worker_pid, ()).unwrap().result().unwrap();
    /// assert_ne!(first, second);
    /// ```
    pub fn max_tasks_per_child(mut self, n: usize) -> Self {
        self.max_tasks_per_child = Some(n);
        self
    }
    /// Runs the registered `f(arg)` once in each new worker before any task. If it fails (or
    /// is not registered), the pool is broken with that cause.
    ///
    /// ```
    /// use std::sync::OnceLock;
    /// use concurrent_futures::{register, ProcessPoolExecutor};
    ///
    /// static REGION: OnceLock<String> = OnceLock::new(); // set in each worker
    /// fn init(region: String) { REGION.set(region).unwrap() }
    /// fn label(id: u32) -> String { format!("{}-{id}", REGION.get().unwrap()) }
    /// register!(init, label);
    ///
    /// let pool = ProcessPoolExecutor::builder()
    ///     .max_workers(2)
    ///     .initializer(init, "eu-west".to_string())
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(pool.submit_fn(label, 7).unwrap().result().unwrap(), "eu-west-7");
    /// ```
    pub fn initializer<A: Payload>(mut self, f: impl TaskFn<A, ()>, arg: A) -> Self {
        self.initializer = Some(match lookup_fn(&f) {
            None => Err(not_registered::<A, ()>()),
            Some(reg) => bincode::serialize(&arg)
                .map(|b| (reg.name, b))
                .map_err(|e| format!("the initializer's argument does not encode: {e}")),
        });
        self
    }
    /// Lets a worker idle this long exit (a new one starts on demand).
    ///
    /// ```
    /// use std::time::Duration;
    /// use concurrent_futures::{register, ProcessPoolExecutor};
    /// fn checksum(data: Vec<u8>) -> u32 { data.iter().map(|&b| b as u32).sum() }
    /// register!(checksum);
    /// // A pool for occasional batches: no processes stay around between them.
    /// let pool = ProcessPoolExecutor::builder()
    ///     .max_workers(2)
    ///     .idle_timeout(Duration::from_secs(60))
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(pool.submit_fn(checksum, vec![1, 2, 3]).unwrap().result(), Ok(6));
    /// ```
    pub fn idle_timeout(mut self, d: Duration) -> Self {
        self.idle_timeout = Some(d);
        self
    }
    /// The default time limit of every task: a task still running at its deadline has its
    /// worker killed and fails with [`TaskError::TaskTimedOut`].
    ///
    /// ```
    /// use std::time::Duration;
    /// use concurrent_futures::{register, ProcessPoolExecutor};
    /// fn solve(n: u64) -> u64 {
    ///     if n == 0 { loop { std::thread::park() } } // a bad input never finishes
    ///     n * 2
    /// }
    /// register!(solve);
    /// let pool = ProcessPoolExecutor::builder()
    ///     .max_workers(1)
    ///     .task_timeout(Duration::from_millis(100))
    ///     .build()
    ///     .unwrap();
    /// assert!(pool.submit_fn(solve, 0).unwrap().result().unwrap_err().is_task_timeout());
    /// // The killed worker is replaced; a task may be given its own limit instead of the default.
    /// let f = pool.submit_fn_with_timeout(solve, 21, Duration::from_secs(30)).unwrap();
    /// assert_eq!(f.result(), Ok(42));
    /// ```
    pub fn task_timeout(mut self, d: Duration) -> Self {
        self.task_timeout = Some(d);
        self
    }
    /// The largest frame (encoded arguments or result plus 13 bytes of header) that may cross
    /// between the processes (default 1 GiB). Larger arguments are refused at submit, larger
    /// results fail their future.
    ///
    /// ```
    /// use concurrent_futures::{register, ProcessPoolExecutor};
    /// fn size(data: Vec<u8>) -> usize { data.len() }
    /// register!(size);
    /// let pool = ProcessPoolExecutor::builder().max_workers(1).max_frame_bytes(1 << 10).build().unwrap();
    /// assert_eq!(pool.submit_fn(size, vec![0; 100]).unwrap().result(), Ok(100));
    /// let err = pool.submit_fn(size, vec![0; 4096]).unwrap_err();
    /// assert!(err.is_invalid());
    /// assert_eq!(err.into_inner().len(), 4096); // the argument comes back
    /// ```
    pub fn max_frame_bytes(mut self, n: usize) -> Self {
        self.frame_limit = n;
        self
    }

    /// Builds the pool. No process starts until the first submit.
    ///
    /// ```
    /// use concurrent_futures::ProcessPoolExecutor;
    /// let pool = ProcessPoolExecutor::builder().max_workers(2).build().unwrap();
    /// assert!(pool.worker_pids().is_empty());
    /// let err = ProcessPoolExecutor::builder().max_tasks_per_child(0).build().unwrap_err();
    /// assert!(err.to_string().contains("max_tasks_per_child"));
    /// ```
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
        if self.frame_limit > u32::MAX as usize {
            // The length field of a frame is 32 bits.
            return Err(BuildError::new(format!(
                "max_frame_bytes must be at most {} (4 GiB - 1)",
                u32::MAX
            )));
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
    fn is_running(&self) -> bool {
        self.view.running()
    }
}

/// Why a submit without an argument to give back was refused.
fn refusal(cause: Option<String>) -> SubmitError<()> {
    match cause {
        Some(c) => SubmitError::Broken((), c),
        None => SubmitError::Shutdown(()),
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
    fn is_running(&self) -> bool {
        self.0.view.running()
    }
}

impl ProcessPoolExecutor {
    /// A pool with `max_workers` = the number of CPUs.
    ///
    /// ```
    /// use concurrent_futures::ProcessPoolExecutor;
    /// let pool = ProcessPoolExecutor::new();
    /// let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    /// assert_eq!(pool.max_workers(), cpus);
    /// ```
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
    ///
    /// ```
    /// use concurrent_futures::ProcessPoolExecutor;
    /// let pool = ProcessPoolExecutor::builder().max_workers(2).max_tasks_per_child(100).build().unwrap();
    /// assert_eq!(pool.max_workers(), 2);
    /// ```
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
        f: impl TaskFn<A, R>,
        arg: A,
    ) -> Result<Future<R>, SubmitError<A>> {
        self.submit_inner(f, arg, self.shared.cfg.task_timeout, false)
    }

    /// Like [`submit_fn`](Self::submit_fn) with a time limit for this task: if it is still
    /// running after `timeout`, its worker is killed (and replaced) and the future fails with
    /// [`TaskError::TaskTimedOut`].
    ///
    /// ```
    /// use std::time::Duration;
    /// use concurrent_futures::{register, ProcessPoolExecutor};
    /// fn search(depth: u32) -> u32 {
    ///     if depth > 10 { loop { std::thread::park() } } // too deep: never returns
    ///     depth
    /// }
    /// register!(search);
    /// let pool = ProcessPoolExecutor::with_max_workers(1).unwrap();
    /// let deep = pool.submit_fn_with_timeout(search, 99, Duration::from_millis(100)).unwrap();
    /// assert!(deep.result().unwrap_err().is_task_timeout());
    /// let shallow = pool.submit_fn_with_timeout(search, 3, Duration::from_secs(30)).unwrap();
    /// assert_eq!(shallow.result(), Ok(3));
    /// ```
    pub fn submit_fn_with_timeout<A: Payload, R: Payload>(
        &self,
        f: impl TaskFn<A, R>,
        arg: A,
        timeout: Duration,
    ) -> Result<Future<R>, SubmitError<A>> {
        self.submit_inner(f, arg, Some(timeout), false)
    }

    fn submit_inner<A: Payload, R: Payload>(
        &self,
        f: impl TaskFn<A, R>,
        arg: A,
        timeout: Option<Duration>,
        batchable: bool,
    ) -> Result<Future<R>, SubmitError<A>> {
        let Some(reg) = lookup_fn(&f) else {
            return Err(SubmitError::Invalid(arg, not_registered::<A, R>()));
        };
        let (id, frame) = match self.encode_call(reg.name, 0, &arg, "the argument") {
            Ok(x) => x,
            Err(why) => return Err(SubmitError::Invalid(arg, why)),
        };
        self.enqueue(id, frame, timeout, batchable, |t| Box::new(t))
            .map_err(|cause| match cause {
                Some(c) => SubmitError::Broken(arg, c),
                None => SubmitError::Shutdown(arg),
            })
    }

    /// Builds a `CALL` frame for `value` under a fresh task id.
    fn encode_call<T: serde::Serialize>(
        &self,
        name: &str,
        flags: u8,
        value: &T,
        what: &str,
    ) -> Result<(u64, Vec<u8>), String> {
        let id = self.shared.next_id();
        let mut frame = wire::begin(CALL, id, Some((name, flags)));
        bincode::serialize_into(&mut frame, value)
            .map_err(|e| format!("{what} could not be encoded: {e}"))?;
        wire::finish(&mut frame, self.shared.cfg.frame_limit)
            .map_err(|e| format!("{what} is too large: {e}"))?;
        Ok((id, frame))
    }

    /// Queues a frame with a new future; `done` wraps the future's completer. `Err` carries
    /// the broken pool's cause, or `None` after shutdown.
    fn enqueue<R: Send + 'static>(
        &self,
        id: u64,
        frame: Vec<u8>,
        timeout: Option<Duration>,
        batchable: bool,
        done: impl FnOnce(Typed<R>) -> Box<dyn Complete>,
    ) -> Result<Future<R>, Option<String>> {
        let (promise, fut) = Promise::new();
        let view = Future::from_shared(fut.shared.clone());
        let entry = Entry {
            id,
            future_id: fut.id(),
            frame: Arc::new(frame),
            timeout,
            batchable,
            done: done(Typed { promise, view }),
        };
        // A refused entry is dropped unstarted; nobody holds its future.
        self.shared
            .submit(entry)
            .map(|()| fut)
            .map_err(|(_, cause)| cause)
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
        let timeout = self.shared.cfg.task_timeout;
        self.enqueue(id, build(id), timeout, false, |t| Box::new(t))
            .map_err(refusal)
    }

    /// Submits a batch `f(items[0]), f(items[1]), …` as one message; the future holds the
    /// per-item results.
    fn submit_batch<A: Payload, R: Payload>(
        &self,
        f: impl TaskFn<A, R>,
        items: Vec<A>,
    ) -> Result<Future<Chunk<R>>, SubmitError<()>> {
        let Some(reg) = lookup_fn(&f) else {
            return Err(SubmitError::Invalid((), not_registered::<A, R>()));
        };
        let (id, frame) = self
            .encode_call(reg.name, FLAG_BATCH, &items, "the chunk")
            .map_err(|why| SubmitError::Invalid((), why))?;
        let timeout = self.shared.cfg.task_timeout;
        self.enqueue(id, frame, timeout, true, |t| Box::new(Batch(t)))
            .map_err(refusal)
    }

    /// `f` over `items`, results in input order, lazily with a bounded buffer.
    ///
    /// ```
    /// use concurrent_futures::{register, ProcessPoolExecutor};
    /// fn parse(s: String) -> u16 { s.parse().expect("a port number") }
    /// register!(parse);
    /// let pool = ProcessPoolExecutor::with_max_workers(2).unwrap();
    /// let input = ["80", "443", "http"].map(String::from);
    /// let ports: Vec<_> = pool.map(parse, input).collect();
    /// assert_eq!(ports[..2], [Ok(80), Ok(443)]);
    /// assert!(ports[2].as_ref().unwrap_err().is_panic()); // one failure hides nothing else
    /// ```
    pub fn map<A: Payload, R: Payload, I: IntoIterator<Item = A>>(
        &self,
        f: impl TaskFn<A, R>,
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
        f: impl TaskFn<A, R>,
        items: I,
        options: MapOptions,
    ) -> ChunkedMap<'_, R, I::IntoIter> {
        ChunkedMap::new(self, f, items.into_iter(), options)
    }

    /// `f` over `items`, results in completion order.
    ///
    /// ```
    /// use concurrent_futures::{register, ProcessPoolExecutor};
    /// fn collatz_steps(mut n: u64) -> u32 {
    ///     let mut steps = 0;
    ///     while n != 1 { n = if n % 2 == 0 { n / 2 } else { 3 * n + 1 }; steps += 1; }
    ///     steps
    /// }
    /// register!(collatz_steps);
    /// let pool = ProcessPoolExecutor::with_max_workers(2).unwrap();
    /// let longest = pool.map_unordered(collatz_steps, 1..1000).map(Result::unwrap).max();
    /// assert_eq!(longest, Some(178));
    /// ```
    pub fn map_unordered<A: Payload, R: Payload, I: IntoIterator<Item = A>>(
        &self,
        f: impl TaskFn<A, R>,
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
    ///
    /// ```
    /// use concurrent_futures::{register, ProcessPoolExecutor};
    /// fn ping(_: ()) {}
    /// fn stuck(_: ()) { loop { std::thread::park() } }
    /// register!(ping, stuck);
    /// let pool = ProcessPoolExecutor::with_max_workers(1).unwrap();
    /// pool.submit_fn(ping, ()).unwrap().result().unwrap(); // a worker is up and idle
    /// let f = pool.submit_fn(stuck, ()).unwrap();
    /// assert!(f.running()); // the idle worker took it at once
    /// assert!(pool.kill(&f));
    /// assert!(f.result().unwrap_err().is_worker_died());
    /// assert_eq!(pool.submit_fn(ping, ()).unwrap().result(), Ok(())); // a new worker
    /// ```
    pub fn kill<T>(&self, future: &Future<T>) -> bool {
        self.shared.kill(future.id())
    }

    /// Shuts down (cancelling what has not started), sends `SIGTERM` to every worker and waits
    /// for them: afterwards no future of this pool is pending. Python 3.14's
    /// `terminate_workers()`.
    ///
    /// ```
    /// use concurrent_futures::{register, ProcessPoolExecutor};
    /// fn stuck(_: ()) { loop { std::thread::park() } }
    /// register!(stuck);
    /// let pool = ProcessPoolExecutor::with_max_workers(1).unwrap();
    /// let f = pool.submit_fn(stuck, ()).unwrap();
    /// pool.terminate_workers();
    /// assert!(f.done()); // failed if it was running, cancelled if it was not
    /// assert!(pool.is_shutdown());
    /// ```
    pub fn terminate_workers(&self) {
        self.shared.terminate(libc::SIGTERM);
    }

    /// Like [`terminate_workers`](Self::terminate_workers) with `SIGKILL`.
    ///
    /// ```
    /// use concurrent_futures::{register, ProcessPoolExecutor};
    /// fn stuck(_: ()) { loop { std::thread::park() } }
    /// register!(stuck);
    /// let pool = ProcessPoolExecutor::with_max_workers(1).unwrap();
    /// let f = pool.submit_fn(stuck, ()).unwrap();
    /// pool.kill_workers();
    /// assert!(f.done());
    /// assert!(pool.worker_pids().is_empty());
    /// ```
    pub fn kill_workers(&self) {
        self.shared.terminate(libc::SIGKILL);
    }

    /// Shuts the pool down; idempotent. See [`ThreadPoolExecutor::shutdown`](crate::ThreadPoolExecutor::shutdown).
    ///
    /// ```
    /// use concurrent_futures::{register, ProcessPoolExecutor};
    /// fn square(x: u64) -> u64 { x * x }
    /// register!(square);
    /// let pool = ProcessPoolExecutor::with_max_workers(2).unwrap();
    /// let futures: Vec<_> = (0..4).map(|x| pool.submit_fn(square, x).unwrap()).collect();
    /// pool.shutdown(true, false); // waits for the four tasks
    /// assert!(futures.iter().all(|f| f.done()));
    /// assert!(pool.worker_pids().is_empty());
    /// assert!(pool.submit_fn(square, 5).unwrap_err().is_shutdown());
    /// ```
    pub fn shutdown(&self, wait: bool, cancel_futures: bool) {
        self.shared.shutdown(wait, cancel_futures);
    }

    /// The most worker processes.
    ///
    /// ```
    /// use concurrent_futures::ProcessPoolExecutor;
    /// assert_eq!(ProcessPoolExecutor::with_max_workers(3).unwrap().max_workers(), 3);
    /// ```
    pub fn max_workers(&self) -> usize {
        self.shared.cfg.max_workers
    }

    /// The pids of the live workers.
    ///
    /// ```
    /// use concurrent_futures::{register, ProcessPoolExecutor};
    /// fn worker_pid(_: ()) -> u32 { std::process::id() }
    /// register!(worker_pid);
    /// let pool = ProcessPoolExecutor::with_max_workers(1).unwrap();
    /// assert!(pool.worker_pids().is_empty()); // workers start on demand
    /// let pid = pool.submit_fn(worker_pid, ()).unwrap().result().unwrap();
    /// assert_eq!(pool.worker_pids(), [pid]);
    /// assert_ne!(pid, std::process::id());
    /// ```
    pub fn worker_pids(&self) -> Vec<u32> {
        self.shared.worker_pids()
    }

    /// How many tasks wait for a worker.
    ///
    /// ```
    /// use concurrent_futures::{register, ProcessPoolExecutor};
    /// fn double(x: u32) -> u32 { x * 2 }
    /// register!(double);
    /// let pool = ProcessPoolExecutor::with_max_workers(1).unwrap();
    /// let _futures: Vec<_> = (0..4).map(|x| pool.submit_fn(double, x).unwrap()).collect();
    /// assert!(pool.queued() <= 4); // some may already be on their way to the worker
    /// pool.shutdown(true, false);
    /// assert_eq!(pool.queued(), 0);
    /// ```
    pub fn queued(&self) -> usize {
        self.shared.pending_len()
    }

    /// Whether the pool was shut down (or broke).
    ///
    /// ```
    /// use concurrent_futures::ProcessPoolExecutor;
    /// let pool = ProcessPoolExecutor::with_max_workers(1).unwrap();
    /// assert!(!pool.is_shutdown());
    /// pool.shutdown(true, false);
    /// assert!(pool.is_shutdown());
    /// ```
    pub fn is_shutdown(&self) -> bool {
        self.shared.is_shutdown()
    }

    /// Why the pool is broken, if it is.
    ///
    /// ```
    /// use concurrent_futures::{register, ProcessPoolExecutor};
    /// fn load_model(path: String) { panic!("cannot read {path}") }
    /// fn predict(x: f64) -> f64 { x }
    /// register!(load_model, predict);
    /// let pool = ProcessPoolExecutor::builder()
    ///     .max_workers(1)
    ///     .initializer(load_model, "model.bin".to_string())
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(pool.broken_cause(), None);
    /// let err = pool.submit_fn(predict, 1.0).unwrap().result().unwrap_err();
    /// assert!(err.is_broken());
    /// assert!(pool.broken_cause().unwrap().contains("cannot read model.bin"));
    /// assert!(pool.is_shutdown());
    /// ```
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
        f: impl TaskFn<A, R>,
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
        f: impl TaskFn<A, R>,
        items: I,
        options: MapOptions,
    ) -> Map<'_, R, I::IntoIter> {
        // Through the trait, items travel one per message; use the inherent `map_with` for
        // chunks.
        Map::new(
            Box::new(move |a| {
                self.submit_inner(f, a, self.shared.cfg.task_timeout, true)
                    .map_err(|e| e.map(|_| ()))
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
///
/// ```
/// use concurrent_futures::{register, MapOptions, ProcessPoolExecutor};
/// fn reciprocal(x: i32) -> i32 { 1000 / x }
/// register!(reciprocal);
/// let pool = ProcessPoolExecutor::with_max_workers(2).unwrap();
/// // Ten items per message; a failure stays with its own item, not its chunk.
/// let results: Vec<_> = pool.map_with(reciprocal, -50..50, MapOptions::new().chunksize(10)).collect();
/// assert_eq!(results.len(), 100);
/// assert_eq!(results[49], Ok(-1000));
/// assert!(results[50].as_ref().unwrap_err().is_panic()); // 1000 / 0
/// assert_eq!(results[51], Ok(1000));
/// ```
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
        f: impl TaskFn<I::Item, R>,
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
                    self.in_flight.push_back((Err(refused(e)), n));
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
