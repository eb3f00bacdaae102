//! [`ThreadPoolBuilder`]: Python's keyword arguments, as a builder.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use super::pool::{Config, Pool};
use super::ThreadPoolExecutor;
use crate::error::BuildError;
use crate::sync::Arc;

/// Numbers pools for their default thread names (`ThreadPoolExecutor-N_i`).
static POOL_SEQ: AtomicUsize = AtomicUsize::new(0);
/// Identifies pools to their worker threads (0 means "not a worker").
static POOL_ID: AtomicUsize = AtomicUsize::new(1);

/// The default worker count: `min(32, available_parallelism + 4)`, as in Python.
pub fn default_max_workers() -> usize {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    (cpus + 4).min(32)
}

/// Configures a [`ThreadPoolExecutor`].
///
/// ```
/// use std::time::Duration;
/// use concurrent_futures::ThreadPoolExecutor;
/// let pool = ThreadPoolExecutor::builder()
///     .max_workers(4)
///     .thread_name_prefix("loader")
///     .initializer(|| println!("worker starting"))
///     .max_queued(1000)
///     .idle_timeout(Duration::from_secs(30))
///     .build()
///     .unwrap();
/// assert_eq!(pool.max_workers(), 4);
/// ```
#[derive(Default)]
#[must_use]
pub struct ThreadPoolBuilder {
    max_workers: Option<usize>,
    name_prefix: Option<String>,
    initializer: Option<super::pool::Initializer>,
    idle_timeout: Option<Duration>,
    max_queued: Option<usize>,
    stack_size: Option<usize>,
}

impl ThreadPoolBuilder {
    /// A builder with Python's defaults.
    pub fn new() -> Self {
        Self::default()
    }
    /// The most threads the pool runs (default `min(32, cpus + 4)`); 0 is a build error.
    pub fn max_workers(mut self, n: usize) -> Self {
        self.max_workers = Some(n);
        self
    }
    /// Names threads `{prefix}_{i}` (default `ThreadPoolExecutor-{pool number}`).
    pub fn thread_name_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.name_prefix = Some(prefix.into());
        self
    }
    /// Runs `f` once on each worker thread before it takes any task. If it panics, the pool is
    /// broken: every pending future fails with [`TaskError::BrokenExecutor`](crate::TaskError)
    /// naming the panic, and later submits are refused.
    pub fn initializer(mut self, f: impl Fn() + Send + Sync + 'static) -> Self {
        self.initializer = Some(std::sync::Arc::new(f));
        self
    }
    /// Bounds the number of queued (not yet started) tasks: `submit` blocks while the queue is
    /// full and `try_submit` hands the task back. 0 is a build error. Default: unbounded.
    pub fn max_queued(mut self, n: usize) -> Self {
        self.max_queued = Some(n);
        self
    }
    /// Lets a worker that has been idle this long exit (a new one is started on demand).
    /// Default: workers live until shutdown.
    pub fn idle_timeout(mut self, d: Duration) -> Self {
        self.idle_timeout = Some(d);
        self
    }
    /// The stack size of worker threads (default: Rust's).
    pub fn stack_size(mut self, bytes: usize) -> Self {
        self.stack_size = Some(bytes);
        self
    }

    /// Builds the pool. No thread starts until the first submit.
    pub fn build(self) -> Result<ThreadPoolExecutor, BuildError> {
        let max_workers = self.max_workers.unwrap_or_else(default_max_workers);
        if max_workers == 0 {
            return Err(BuildError::new("max_workers must be greater than 0"));
        }
        if self.max_queued == Some(0) {
            return Err(BuildError::new("max_queued must be greater than 0"));
        }
        let seq = POOL_SEQ.fetch_add(1, Ordering::Relaxed);
        let cfg = Config {
            max_workers,
            name_prefix: self
                .name_prefix
                .unwrap_or_else(|| format!("ThreadPoolExecutor-{seq}")),
            initializer: self.initializer,
            idle_timeout: self.idle_timeout,
            max_queued: self.max_queued,
            stack_size: self.stack_size,
        };
        let id = POOL_ID.fetch_add(1, Ordering::Relaxed);
        Ok(ThreadPoolExecutor {
            pool: Arc::new(Pool::new(id, cfg)),
        })
    }
}
