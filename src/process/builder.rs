//! [`ProcessPoolBuilder`]: the settings of a process pool, checked when it is built.

use std::time::Duration;

use super::executor::ProcessPoolExecutor;
use super::marker::{FLAG_PRINT_PANICS, FLAG_STALL_START};
use super::pool::{Config, Init, Shared, START_TIMEOUT};
use crate::error::BuildError;
use crate::executor::{Payload, TaskFn};
use crate::remote::codec;
use crate::remote::front::Defaults;
use crate::remote::registry::{check_unique, lookup_fn, not_registered};
use crate::remote::wire::{self, INIT};

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
    terminate_grace: Duration,
    print_worker_panics: bool,
    retries: u32,
    start_timeout: Duration,
    stall_start: bool,
}

/// The default grace period between `SIGTERM` and `SIGKILL` in
/// [`terminate_workers`](ProcessPoolExecutor::terminate_workers).
pub const DEFAULT_TERMINATE_GRACE: Duration = Duration::from_secs(5);

impl Default for ProcessPoolBuilder {
    fn default() -> Self {
        ProcessPoolBuilder {
            max_workers: None,
            max_tasks_per_child: None,
            initializer: None,
            idle_timeout: None,
            task_timeout: None,
            frame_limit: wire::DEFAULT_FRAME_LIMIT,
            terminate_grace: DEFAULT_TERMINATE_GRACE,
            print_worker_panics: false,
            retries: 0,
            start_timeout: START_TIMEOUT,
            stall_start: false,
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
            None => Err(crate::error::not_registered_message(not_registered(&f))),
            Some(reg) => codec::encode(&arg)
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
    /// worker killed and fails with [`TaskError::TaskTimedOut`](crate::TaskError::TaskTimedOut).
    /// The limit counts from when the task is sent to a worker; the time it waits for one (a
    /// busy pool, a worker starting) is not counted: that wait is bounded by
    /// [`start_timeout`](Self::start_timeout) per worker that fails to start.
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
    /// How long a new worker process may take to start serving (default 60 s); 0 is a build
    /// error. A copy of the program that neither becomes a worker nor exits in that time (stuck
    /// in start-up, or running its own `main`) is killed and counts as a worker that could not
    /// start: a replacement takes its tasks, and when no worker of the pool has ever started, or
    /// three in a row could not, the pool breaks with a message that says why.
    ///
    /// [`task_timeout`](Self::task_timeout) counts from when a task is sent to a worker, so it
    /// does not cover this wait: tasks that wait for a worker wait at most this long per
    /// attempt to start one. To bound a caller's whole wait, use
    /// [`Future::result_timeout`](crate::Future::result_timeout).
    ///
    /// ```
    /// use std::time::Duration;
    /// use concurrent_futures::ProcessPoolExecutor;
    /// let pool = ProcessPoolExecutor::builder()
    ///     .start_timeout(Duration::from_secs(5))
    ///     .build()
    ///     .unwrap();
    /// # drop(pool);
    /// assert!(ProcessPoolExecutor::builder().start_timeout(Duration::ZERO).build().is_err());
    /// ```
    pub fn start_timeout(mut self, d: Duration) -> Self {
        self.start_timeout = d;
        self
    }

    /// Test hook: new workers stop themselves (`SIGSTOP`) before they start serving, as a
    /// worker stuck in start-up would.
    #[doc(hidden)]
    pub fn __stall_worker_start(mut self) -> Self {
        self.stall_start = true;
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

    /// How long [`terminate_workers`](ProcessPoolExecutor::terminate_workers) lets workers act
    /// on `SIGTERM` before it sends `SIGKILL` (default 5 s): a task that ignores `SIGTERM` can
    /// delay it by this much, never forever.
    ///
    /// ```
    /// use std::time::Duration;
    /// use concurrent_futures::{register, ProcessPoolExecutor};
    /// fn stubborn(_: ()) {
    ///     unsafe { libc::signal(libc::SIGTERM, libc::SIG_IGN) };
    ///     loop { std::thread::park() }
    /// }
    /// register!(stubborn);
    /// let pool = ProcessPoolExecutor::builder()
    ///     .max_workers(1)
    ///     .terminate_grace(Duration::from_millis(200))
    ///     .build()
    ///     .unwrap();
    /// let f = pool.submit_fn(stubborn, ()).unwrap();
    /// while !f.running() { std::thread::yield_now() }
    /// pool.terminate_workers(); // SIGTERM is ignored; SIGKILL follows after 200 ms
    /// assert!(f.done());
    /// ```
    pub fn terminate_grace(mut self, d: Duration) -> Self {
        self.terminate_grace = d;
        self
    }

    /// Re-run a task up to `n` more times when its worker dies while running it — a crash, the
    /// OOM killer, a signal from outside — (Dask's `retries=`, Ray's `max_retries`; default 0).
    /// A panic, a time limit, `kill` and `terminate_workers` are not retried. After the last
    /// attempt, the error ([`TaskError::WorkerDied`](crate::TaskError::WorkerDied)) lists how
    /// every attempt ended. Per task: [`SubmitOptions::retries`](crate::SubmitOptions::retries).
    ///
    /// ```
    /// use concurrent_futures::{register, ProcessPoolExecutor};
    /// fn crash(_: ()) { std::process::abort() }
    /// register!(crash);
    /// let pool = ProcessPoolExecutor::builder().max_workers(1).retries(2).build().unwrap();
    /// let err = pool.submit_fn(crash, ()).unwrap().result().unwrap_err();
    /// assert!(err.is_worker_died());
    /// assert!(err.to_string().contains("attempt 3 of 3"), "{err}");
    /// ```
    pub fn retries(mut self, n: u32) -> Self {
        self.retries = n;
        self
    }

    /// Also print the panics of tasks on the workers' stderr, as the default panic hook would
    /// (default: no — the message, location and backtrace travel in the task's
    /// [`TaskError::Panicked`](crate::TaskError::Panicked) instead).
    ///
    /// ```
    /// use concurrent_futures::ProcessPoolExecutor;
    /// let pool = ProcessPoolExecutor::builder().print_worker_panics(true).build().unwrap();
    /// # drop(pool);
    /// ```
    pub fn print_worker_panics(mut self, yes: bool) -> Self {
        self.print_worker_panics = yes;
        self
    }

    /// Builds the pool. No process starts until the first submit; the pool's own threads (for
    /// callbacks and time limits) start here, so a failure to start one is this error.
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
        if self.start_timeout.is_zero() {
            return Err(BuildError::new("start_timeout must be greater than 0"));
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
        if super::child::is_privileged() {
            return Err(BuildError::new(
                "the process engine is not available in a program running with elevated \
                 privileges (setuid, setgid or file capabilities): its workers would refuse to \
                 serve; use ThreadPoolExecutor",
            ));
        }
        check_unique().map_err(BuildError::new)?;
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
        let shared = Shared::new(Config {
            max_workers,
            max_tasks_per_child: self.max_tasks_per_child,
            initializer,
            idle_timeout: self.idle_timeout,
            tasks: Defaults {
                task_timeout: self.task_timeout,
                frame_limit: self.frame_limit,
                retries: self.retries,
            },
            terminate_grace: self.terminate_grace,
            start_timeout: self.start_timeout,
            worker_flags: if self.print_worker_panics {
                FLAG_PRINT_PANICS
            } else {
                0
            } | if self.stall_start {
                FLAG_STALL_START
            } else {
                0
            },
        })
        .map_err(|e| BuildError::new(format!("could not start the pool's threads: {e}")))?;
        Ok(ProcessPoolExecutor::from_shared(shared))
    }
}
