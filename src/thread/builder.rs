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
///
/// ```
/// use concurrent_futures::{default_max_workers, ThreadPoolExecutor};
/// assert!((5..=32).contains(&default_max_workers()));
/// assert_eq!(ThreadPoolExecutor::new().max_workers(), default_max_workers());
/// ```
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
    ///
    /// ```
    /// use concurrent_futures::{default_max_workers, ThreadPoolBuilder};
    /// let pool = ThreadPoolBuilder::new().build().unwrap();
    /// assert_eq!(pool.max_workers(), default_max_workers());
    /// ```
    pub fn new() -> Self {
        Self::default()
    }
    /// The most threads the pool runs (default `min(32, cpus + 4)`); 0 is a build error.
    ///
    /// ```
    /// use concurrent_futures::ThreadPoolBuilder;
    /// assert_eq!(ThreadPoolBuilder::new().max_workers(2).build().unwrap().max_workers(), 2);
    /// assert!(ThreadPoolBuilder::new().max_workers(0).build().is_err());
    /// ```
    pub fn max_workers(mut self, n: usize) -> Self {
        self.max_workers = Some(n);
        self
    }
    /// Names threads `{prefix}_{i}` (default `ThreadPoolExecutor-{pool number}`).
    ///
    /// ```
    /// use concurrent_futures::ThreadPoolBuilder;
    /// let pool = ThreadPoolBuilder::new().thread_name_prefix("downloader").build().unwrap();
    /// let name = pool.submit(|| std::thread::current().name().map(String::from)).unwrap();
    /// assert!(name.result().unwrap().unwrap().starts_with("downloader_"));
    /// ```
    pub fn thread_name_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.name_prefix = Some(prefix.into());
        self
    }
    /// Runs `f` once on each worker thread before it takes any task. If it panics, the pool is
    /// broken: every pending future fails with [`TaskError::BrokenExecutor`](crate::TaskError)
    /// naming the panic, and later submits are refused.
    ///
    /// ```
    /// use std::cell::RefCell;
    /// use concurrent_futures::ThreadPoolBuilder;
    ///
    /// thread_local! {
    ///     // One connection per worker thread, opened by the initializer.
    ///     static CONNECTION: RefCell<Option<String>> = const { RefCell::new(None) };
    /// }
    ///
    /// let pool = ThreadPoolBuilder::new()
    ///     .max_workers(2)
    ///     .initializer(|| CONNECTION.with(|c| *c.borrow_mut() = Some("db://local".into())))
    ///     .build()
    ///     .unwrap();
    /// let url = pool.submit(|| CONNECTION.with(|c| c.borrow().clone())).unwrap();
    /// assert_eq!(url.result().unwrap().as_deref(), Some("db://local"));
    /// ```
    pub fn initializer(mut self, f: impl Fn() + Send + Sync + 'static) -> Self {
        self.initializer = Some(std::sync::Arc::new(f));
        self
    }
    /// Bounds the number of queued (not yet started) tasks: `submit` blocks while the queue is
    /// full and `try_submit` hands the task back. 0 is a build error. Default: unbounded.
    ///
    /// ```
    /// use concurrent_futures::ThreadPoolBuilder;
    /// let pool = ThreadPoolBuilder::new().max_workers(2).max_queued(4).build().unwrap();
    /// // A fast producer is slowed down to the workers' pace instead of queuing everything.
    /// let futures: Vec<_> = (0..100u64)
    ///     .map(|i| {
    ///         let f = pool.submit(move || i * i).unwrap();
    ///         assert!(pool.queued() <= 4);
    ///         f
    ///     })
    ///     .collect();
    /// let total: u64 = futures.into_iter().map(|f| f.result().unwrap()).sum();
    /// assert_eq!(total, 328_350);
    /// ```
    pub fn max_queued(mut self, n: usize) -> Self {
        self.max_queued = Some(n);
        self
    }
    /// Lets a worker that has been idle this long exit (a new one is started on demand).
    /// Default: workers live until shutdown.
    ///
    /// ```
    /// use std::time::Duration;
    /// use concurrent_futures::ThreadPoolBuilder;
    /// // A pool for occasional bursts: its threads go away between them.
    /// let pool = ThreadPoolBuilder::new().idle_timeout(Duration::from_secs(60)).build().unwrap();
    /// assert_eq!(pool.submit(|| "burst").unwrap().result(), Ok("burst"));
    /// ```
    pub fn idle_timeout(mut self, d: Duration) -> Self {
        self.idle_timeout = Some(d);
        self
    }
    /// The stack size of worker threads (default: Rust's).
    ///
    /// ```
    /// use concurrent_futures::ThreadPoolBuilder;
    /// fn depth(n: u32) -> u32 { if n == 0 { 0 } else { 1 + depth(n - 1) } }
    /// let pool = ThreadPoolBuilder::new().stack_size(16 << 20).build().unwrap();
    /// assert_eq!(pool.submit(|| depth(10_000)).unwrap().result(), Ok(10_000));
    /// ```
    pub fn stack_size(mut self, bytes: usize) -> Self {
        self.stack_size = Some(bytes);
        self
    }

    /// Builds the pool. No thread starts until the first submit.
    ///
    /// ```
    /// use concurrent_futures::ThreadPoolBuilder;
    /// let pool = ThreadPoolBuilder::new().max_workers(4).build().unwrap();
    /// assert_eq!(pool.thread_count(), 0);
    /// let err = ThreadPoolBuilder::new().max_queued(0).build().unwrap_err();
    /// assert!(err.to_string().contains("max_queued"));
    /// ```
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
