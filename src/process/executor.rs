//! [`ProcessPoolExecutor`]: the public face of the process engine, and how a reply becomes a
//! typed value in a future.

use std::sync::Arc;
use std::time::Duration;

use super::builder::ProcessPoolBuilder;
use super::pool::Shared;
#[cfg(feature = "mpi")]
use super::pool::{Entry, Local};
use super::sys::Stop;
use crate::error::{BuildError, SubmitError};
use crate::executor::{Payload, SubmitOptions, TaskFn};
use crate::future::Future;
use crate::remote::complete::refusal;
#[cfg(feature = "mpi")]
use crate::remote::complete::Relay;
use crate::remote::front;

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

// The `Executor` trait and `Drop`, as every remote engine has them.
front::remote_executor!(ProcessPoolExecutor, shared);

front::remote_methods! {
    ProcessPoolExecutor, shared;
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
    submit_fn;
    /// Like [`submit_fn`](Self::submit_fn) with settings for this task: a time limit, and how
    /// many times to re-run it if its worker dies under it (default: the pool's
    /// [`retries`](ProcessPoolBuilder::retries)).
    ///
    /// ```
    /// use concurrent_futures::{register, ProcessPoolExecutor, SubmitOptions};
    /// // Crashes its worker the first time it runs (a flaky native library, say).
    /// fn flaky(marker: String) -> String {
    ///     if std::fs::create_dir(&marker).is_ok() { std::process::abort() }
    ///     "done".to_string()
    /// }
    /// register!(flaky);
    /// let pool = ProcessPoolExecutor::with_max_workers(1).unwrap();
    /// let marker = std::env::temp_dir().join(format!("flaky-{}", std::process::id()));
    /// let marker = marker.display().to_string();
    /// let f = pool.submit_fn_with(flaky, marker.clone(), SubmitOptions::new().retries(1)).unwrap();
    /// assert_eq!(f.result().unwrap(), "done"); // the second attempt, on a new worker
    /// std::fs::remove_dir(&marker).unwrap();
    /// ```
    submit_fn_with;
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
    map;
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
    map_with;
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
    map_unordered;
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
    ///
    /// # Panics
    ///
    /// If the pool cannot be built (the errors of [`ProcessPoolBuilder::build`]: the program
    /// runs with elevated privileges, a thread cannot be started); use
    /// [`builder()`](Self::builder)`.build()` to handle them.
    pub fn new() -> Self {
        ProcessPoolBuilder::default()
            .build()
            .unwrap_or_else(|e| panic!("ProcessPoolExecutor::new: {e}"))
    }

    pub(super) fn from_shared(shared: Arc<Shared>) -> Self {
        ProcessPoolExecutor { shared }
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

    /// Like [`submit_fn`](Self::submit_fn) with a time limit for this task: if it is still
    /// running after `timeout`, its worker is killed (and replaced) and the future fails with
    /// [`TaskError::TaskTimedOut`](crate::TaskError::TaskTimedOut).
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
        front::submit(&*self.shared, f, arg, SubmitOptions::new().timeout(timeout))
    }

    /// Runs a task frame built elsewhere (a cluster engine's worker rank relays the frames its
    /// manager sends) and hands the reply as it came — the `OK` body, or the task's error — to
    /// `reply`, on the thread that received it. `build` gets this pool's task id for the frame.
    /// A refused submit is relayed through `reply` too (as a broken-executor error).
    #[cfg(feature = "mpi")]
    pub(crate) fn submit_frame(
        &self,
        build: impl FnOnce(u64) -> Vec<u8>,
        options: SubmitOptions,
        reply: Box<dyn FnOnce(Result<Vec<u8>, crate::TaskError>) + Send>,
    ) -> Result<(), String> {
        let id = self.shared.next_id();
        let entry = Entry {
            id,
            frame: Arc::new(build(id)),
            timeout: options.timeout.or(self.shared.cfg.tasks.task_timeout),
            retries_left: options.retries.unwrap_or(self.shared.cfg.tasks.retries),
            attempts: Vec::new(),
            done: Box::new(Relay {
                send: reply,
                started: Default::default(),
            }),
            origin: crate::trace::Origin::capture(),
            running: None,
            engine: Local {
                future_id: usize::MAX - id as usize,
                batchable: false,
            },
        };
        self.shared.submit(entry).map_err(|(entry, cause)| {
            entry.done.finish(Err(crate::TaskError::BrokenExecutor {
                cause: cause
                    .clone()
                    .unwrap_or_else(|| "the pool was shut down".into()),
            }));
            cause.unwrap_or_else(|| "the pool was shut down".into())
        })
    }

    /// Test hook: sends `frame` verbatim to a worker as if it were a task's frame (use
    /// `__private::wire` to build well-formed ones, or any bytes to test how
    /// malformed input is handled). Its id is the next task id. Not part of the stable API.
    #[doc(hidden)]
    pub fn __submit_raw_frame<R: Payload>(
        &self,
        build: impl FnOnce(u64) -> Vec<u8>,
    ) -> Result<Future<R>, SubmitError<()>> {
        let id = self.shared.next_id();
        front::enqueue(
            &*self.shared,
            id,
            build(id),
            SubmitOptions::new(),
            false,
            |t| Box::new(t),
        )
        .map_err(refusal)
    }

    /// Stops a running task by killing its worker process (which is replaced). Returns `false`
    /// if the task is not running (use [`Future::cancel`] for one that has not started). The
    /// future fails with [`TaskError::WorkerDied`](crate::TaskError::WorkerDied).
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
    /// How each task ends depends only on whether it had started:
    /// - a task still waiting in the parent (its future not yet `running()`) is cancelled;
    /// - a task sent to a worker that had not begun it — wherever it waited: queued inside the
    ///   worker behind another (`map`), sent but not yet taken by the worker, or sent again after
    ///   its first worker died — fails with
    ///   [`TaskError::BrokenExecutor`](crate::TaskError::BrokenExecutor) ("the pool's workers
    ///   were terminated before the task started");
    /// - a task a worker was running fails with
    ///   [`TaskError::WorkerDied`](crate::TaskError::WorkerDied) ("terminated with the pool").
    ///
    /// A worker has begun a task once it has taken the task's whole message from its ring.
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
        self.shared.terminate(Stop::Ask);
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
        self.shared.terminate(Stop::Kill);
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

    /// The pool's counters ([`PoolStats`](crate::PoolStats)): tasks (a `map` chunk counts as
    /// one) submitted, queued, running, completed, failed and cancelled; worker processes alive
    /// and replaced after a death; the time workers spent on tasks.
    ///
    /// ```
    /// use concurrent_futures::{register, ProcessPoolExecutor};
    /// fn crash(_: ()) { std::process::exit(3) }
    /// fn one(_: ()) -> u8 { 1 }
    /// register!(crash, one);
    /// let pool = ProcessPoolExecutor::with_max_workers(1).unwrap();
    /// pool.submit_fn(crash, ()).unwrap().wait();
    /// pool.submit_fn(one, ()).unwrap().wait();
    /// let s = pool.stats();
    /// assert_eq!((s.submitted, s.completed, s.failed), (2, 1, 1));
    /// assert_eq!(s.workers_replaced, 1);
    /// ```
    pub fn stats(&self) -> crate::PoolStats {
        self.shared.snapshot()
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

impl std::fmt::Debug for ProcessPoolExecutor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProcessPoolExecutor")
            .field("max_workers", &self.max_workers())
            .field("workers", &self.worker_pids())
            .field("queued", &self.queued())
            .finish()
    }
}
