//! [`MapOptions`]: how many tasks a `map` keeps in flight, its total time limit, and how many
//! items the process and cluster engines send per message.

use std::time::Duration;

#[cfg(doc)]
use crate::Executor;

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
    /// The defaults: the engine's [`default_buffer_size`](Executor::default_buffer_size) of
    /// tasks in flight (`4 × max_workers` on threads and processes), no timeout, chunks of 1.
    ///
    /// ```
    /// use concurrent_futures::MapOptions;
    /// let opts = MapOptions::new();
    /// assert_eq!((opts.get_buffer_size(), opts.get_chunksize()), (None, None));
    /// ```
    pub fn new() -> Self {
        Self::default()
    }
    /// How many tasks may be submitted ahead of the consumer (Python 3.14's `buffersize`).
    ///
    /// # Panics
    ///
    /// If `n` is 0 (no task could ever be in flight), as Python raises `ValueError` and
    /// [`Iterator::step_by`] panics on 0; the message names the fix.
    ///
    /// ```
    /// use concurrent_futures::{MapOptions, ThreadPoolExecutor};
    /// let pool = ThreadPoolExecutor::new();
    /// // At most 8 lines are being parsed (or waiting to be consumed) at any time.
    /// let lines = (0..1000).map(|i| format!("{i},{}", i * 2));
    /// let parsed = pool.map_with(
    ///     |line: String| line.split(',').map(|x| x.parse::<u64>().unwrap()).sum::<u64>(),
    ///     lines,
    ///     MapOptions::new().buffer_size(8),
    /// );
    /// assert_eq!(parsed.map(Result::unwrap).sum::<u64>(), 3 * 999 * 1000 / 2);
    /// let zero = std::panic::catch_unwind(|| MapOptions::new().buffer_size(0));
    /// assert!(zero.is_err());
    /// ```
    #[track_caller]
    pub fn buffer_size(mut self, n: usize) -> Self {
        assert!(
            n > 0,
            "MapOptions::buffer_size(0): a map needs room for at least 1 task in flight; \
             pass 1 or more (or leave it unset for the engine's default)"
        );
        self.buffer_size = Some(n);
        self
    }
    /// A total timeout counted from the `map` call; when it passes, the next item is
    /// `Err(TaskError::Timeout)` and the iteration ends, cancelling what has not started.
    ///
    /// ```
    /// use std::time::Duration;
    /// use concurrent_futures::{MapOptions, ThreadPoolExecutor};
    /// let pool = ThreadPoolExecutor::with_max_workers(1).unwrap();
    /// let (tx, rx) = std::sync::mpsc::channel::<()>();
    /// let rx = std::sync::Mutex::new(rx);
    /// let opts = MapOptions::new().timeout(Duration::from_millis(10));
    /// // The first item waits for a message that only comes after the timeout.
    /// let wait_for_go = move |i: u32| {
    ///     if i == 0 {
    ///         rx.lock().unwrap().recv().ok();
    ///     }
    ///     i
    /// };
    /// let mut results = pool.map_with(wait_for_go, 0..3, opts);
    /// assert!(results.next().unwrap().unwrap_err().is_timeout());
    /// assert!(results.next().is_none()); // the iteration has ended
    /// tx.send(()).unwrap();
    /// ```
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = Some(t);
        self
    }
    /// How many items travel per message (process engine; the thread engine ignores it).
    ///
    /// # Panics
    ///
    /// If `n` is 0 (a message of no items), as Python raises `ValueError` and
    /// [`slice::chunks`] panics on 0; the message names the fix.
    ///
    /// ```
    /// use concurrent_futures::{register, MapOptions, ProcessPoolExecutor};
    /// fn cube(x: u64) -> u64 { x * x * x }
    /// register!(cube);
    /// let pool = ProcessPoolExecutor::with_max_workers(2).unwrap();
    /// // 10 000 small items in 100 messages instead of 10 000.
    /// let opts = MapOptions::new().chunksize(100);
    /// let sum: u64 = pool.map_with(cube, 0..10_000, opts).map(Result::unwrap).sum();
    /// assert_eq!(sum, (0..10_000u64).map(cube).sum());
    /// assert!(std::panic::catch_unwind(|| MapOptions::new().chunksize(0)).is_err());
    /// ```
    #[track_caller]
    pub fn chunksize(mut self, n: usize) -> Self {
        assert!(
            n > 0,
            "MapOptions::chunksize(0): a chunk holds at least 1 item; pass 1 or more \
             (1 sends each item on its own)"
        );
        self.chunksize = Some(n);
        self
    }
    /// The configured buffer size, if set.
    ///
    /// ```
    /// use concurrent_futures::MapOptions;
    /// assert_eq!(MapOptions::new().get_buffer_size(), None);
    /// assert_eq!(MapOptions::new().buffer_size(16).get_buffer_size(), Some(16));
    /// ```
    pub fn get_buffer_size(&self) -> Option<usize> {
        self.buffer_size
    }
    /// The configured chunk size, if set.
    ///
    /// ```
    /// use concurrent_futures::MapOptions;
    /// assert_eq!(MapOptions::new().get_chunksize(), None);
    /// assert_eq!(MapOptions::new().chunksize(50).get_chunksize(), Some(50));
    /// ```
    pub fn get_chunksize(&self) -> Option<usize> {
        self.chunksize
    }
}
