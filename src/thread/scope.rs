#![doc = include_str!("scope.md")]

use std::marker::PhantomData;
use std::ops::Deref;
use std::time::Duration;

use super::pool::Pool;
use super::task::{JobRef, Scoped, Task};
use crate::error::{SubmitError, TaskError};
use crate::future::Future;
use crate::sync::{lock, thread, Arc, AtomicUsize, Mutex, Ordering, Thread};

pub(crate) struct ScopeState {
    live: AtomicUsize,
    waiter: Mutex<Option<Thread>>,
}

/// One live task allocation of a scope.
pub(crate) struct LiveTask(Arc<ScopeState>);

impl LiveTask {
    fn new(state: &Arc<ScopeState>) -> Self {
        state.live.fetch_add(1, Ordering::AcqRel);
        LiveTask(state.clone())
    }
}

impl Drop for LiveTask {
    fn drop(&mut self) {
        if self.0.live.fetch_sub(1, Ordering::AcqRel) == 1 {
            if let Some(t) = lock(&self.0.waiter).take() {
                t.unpark();
            }
        }
    }
}

/// A scope for tasks that borrow from the caller; see [`ThreadPoolExecutor::scope`](crate::ThreadPoolExecutor::scope).
///
/// ```
/// use concurrent_futures::ThreadPoolExecutor;
/// let pool = ThreadPoolExecutor::with_max_workers(2).unwrap();
/// let readings = vec![3.0, 4.0, 5.0, 6.0, 7.0, 8.0];
/// let (sum, max) = pool.scope(|s| {
///     // Both tasks borrow `readings`; no clone, no Arc.
///     let sum = s.submit(|| readings.iter().sum::<f64>()).unwrap();
///     let max = s.submit(|| readings.iter().cloned().fold(f64::MIN, f64::max)).unwrap();
///     (sum.result().unwrap(), max.result().unwrap())
/// });
/// assert_eq!((sum, max), (33.0, 8.0));
/// ```
pub struct Scope<'scope, 'env: 'scope> {
    pool: &'scope Arc<Pool>,
    state: Arc<ScopeState>,
    jobs: Mutex<Vec<JobRef>>,
    _scope: PhantomData<&'scope mut &'scope ()>,
    _env: PhantomData<&'env mut &'env ()>,
}

impl<'scope, 'env> Scope<'scope, 'env> {
    pub(crate) fn new(pool: &'scope Arc<Pool>) -> Self {
        Scope {
            pool,
            state: Arc::new(ScopeState {
                live: AtomicUsize::new(0),
                waiter: Mutex::new(None),
            }),
            jobs: Mutex::new(Vec::new()),
            _scope: PhantomData,
            _env: PhantomData,
        }
    }

    /// Submits a task that may borrow anything that outlives the scope. It is joined when the
    /// scope ends, whether or not its future was consulted.
    ///
    /// ```
    /// use concurrent_futures::ThreadPoolExecutor;
    /// let pool = ThreadPoolExecutor::new();
    /// let words = vec!["a".to_string(), "bb".to_string()];
    /// let total = pool.scope(|s| {
    ///     let futs: Vec<_> = words.iter().map(|w| s.submit(|| w.len()).unwrap()).collect();
    ///     futs.into_iter().map(|f| f.result().unwrap()).sum::<usize>()
    /// });
    /// assert_eq!(total, 3);
    /// ```
    pub fn submit<F, T>(&'scope self, f: F) -> Result<ScopedFuture<'scope, T>, SubmitError<F>>
    where
        F: FnOnce() -> T + Send + 'scope,
        T: Send + 'scope,
    {
        let (f, admission) = self.pool.admit(f, true)?;
        let extra = Scoped {
            bound: self.pool.bound.clone(),
            _live: LiveTask::new(&self.state),
        };
        // SAFETY: the scope does not end before this allocation is freed (module docs): the
        // `Scoped` extra keeps the scope's live count up until then.
        let (fut, job) = unsafe { Task::spawn(f, self.pool.id, extra) };
        lock(&self.jobs).push(job.clone());
        self.pool.push(job);
        drop(admission);
        Ok(ScopedFuture {
            fut,
            _scope: PhantomData,
        })
    }

    /// Waits until every task of the scope is final and every task allocation is freed.
    pub(crate) fn join(&self) {
        let jobs = std::mem::take(&mut *lock(&self.jobs));
        for j in jobs {
            j.wait_final();
        }
        loop {
            if self.state.live.load(Ordering::Acquire) == 0 {
                return;
            }
            *lock(&self.state.waiter) = Some(thread::current());
            if self.state.live.load(Ordering::Acquire) == 0 {
                return;
            }
            thread::park();
        }
    }
}

/// The future of a scoped task. Dereferences to [`Future`] for inspection, waiting and
/// callbacks; the value is taken with [`result`](ScopedFuture::result).
///
/// ```
/// use concurrent_futures::ThreadPoolExecutor;
/// let pool = ThreadPoolExecutor::new();
/// let name = String::from("scoped");
/// pool.scope(|s| {
///     let f = s.submit(|| name.len()).unwrap();
///     f.wait(); // a `Future` method, through `Deref`
///     assert!(f.done());
///     assert_eq!(f.result(), Ok(6));
/// });
/// ```
pub struct ScopedFuture<'scope, T> {
    fut: Future<T>,
    _scope: PhantomData<&'scope ()>,
}

impl<T> ScopedFuture<'_, T> {
    /// Blocks until done and returns the value or the error.
    ///
    /// ```
    /// use concurrent_futures::ThreadPoolExecutor;
    /// let pool = ThreadPoolExecutor::new();
    /// let text = "a b c";
    /// let words = pool.scope(|s| s.submit(|| text.split(' ').count()).unwrap().result());
    /// assert_eq!(words, Ok(3));
    /// ```
    pub fn result(self) -> Result<T, TaskError> {
        self.fut.result()
    }
    /// Waits at most `timeout`; see [`Future::result_timeout`].
    ///
    /// ```
    /// use std::sync::mpsc;
    /// use std::time::Duration;
    /// use concurrent_futures::ThreadPoolExecutor;
    /// let pool = ThreadPoolExecutor::new();
    /// let (tx, rx) = mpsc::channel::<u32>();
    /// pool.scope(|s| {
    ///     let mut f = s.submit(move || rx.recv().unwrap()).unwrap();
    ///     assert!(f.result_timeout(Duration::from_millis(5)).unwrap_err().is_timeout());
    ///     tx.send(9).unwrap();
    ///     assert_eq!(f.result_timeout(Duration::from_secs(30)), Ok(9));
    /// });
    /// ```
    pub fn result_timeout(&mut self, timeout: Duration) -> Result<T, TaskError> {
        self.fut.result_timeout(timeout)
    }
    /// A non-blocking poll; see [`Future::try_result`].
    ///
    /// ```
    /// use std::time::Duration;
    /// use concurrent_futures::ThreadPoolExecutor;
    /// let pool = ThreadPoolExecutor::new();
    /// let data = [1, 2, 3];
    /// pool.scope(|s| {
    ///     let mut f = s.submit(|| data.iter().sum::<i32>()).unwrap();
    ///     assert!(f.wait_timeout(Duration::from_secs(30)));
    ///     assert_eq!(f.try_result(), Ok(6));
    /// });
    /// ```
    pub fn try_result(&mut self) -> Result<T, TaskError> {
        self.fut.try_result()
    }
}

impl<T> Deref for ScopedFuture<'_, T> {
    type Target = Future<T>;
    fn deref(&self) -> &Future<T> {
        &self.fut
    }
}

impl<T> std::fmt::Debug for ScopedFuture<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.fut.fmt(f)
    }
}
