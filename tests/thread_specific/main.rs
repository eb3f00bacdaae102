//! Behaviour of the thread engine that the engine-generic suite (`tests/suite/`) cannot reach:
//! closures, thread identity and names, the initializer, the bounded queue, idle retirement,
//! worker replacement, nested waits, scoped tasks, robustness against panicking user code, and
//! resource use.
//!
//! | file            | what                                                                  |
//! |-----------------|-----------------------------------------------------------------------|
//! | `lifecycle.rs`  | lazy threads, `max_workers`, names, initializer, idle timeout, replacement |
//! | `queue.rs`      | the bounded queue: blocking `submit`, `try_submit`                    |
//! | `nesting.rs`    | tasks that wait on, shut down or drop their own pool                  |
//! | `scope.rs`      | scoped tasks that borrow from the stack                               |
//! | `shutdown.rs`   | `shutdown` and cancellation with closures; `map` with closures        |
//! | `robustness.rs` | panicking `Drop`s, odd panic payloads, `Send`/`Sync`, `Debug`         |
//! | `resources.rs`  | a blocked waiter and an idle pool use no CPU                          |
//!
//! Tasks are held busy by a [`Latch`] the test opens; that a task has started is learned from a
//! channel it sends on. Every blocking call has a timeout, and each test runs under a watchdog.

#[path = "../suite/util.rs"]
mod util;

mod lifecycle;
mod nesting;
mod queue;
mod resources;
mod robustness;
mod scope;
mod shutdown;

use std::sync::{Arc, Condvar, Mutex};
use std::time::Instant;

use concurrent_futures::{Future, TaskError, ThreadPoolExecutor};

pub use util::{Watchdog, LONG};

/// A gate for closures: tasks block in [`LatchHandle::wait`] until the test opens the latch.
/// Dropping the latch opens it, so a failing test does not leave workers blocked (declare it
/// after the pool, so that it drops first).
pub struct Latch {
    handle: LatchHandle,
}

/// What a task holds to wait on a [`Latch`].
#[derive(Clone)]
pub struct LatchHandle {
    state: Arc<(Mutex<bool>, Condvar)>,
}

impl Latch {
    pub fn new() -> Self {
        Latch {
            handle: LatchHandle {
                state: Arc::new((Mutex::new(false), Condvar::new())),
            },
        }
    }

    pub fn handle(&self) -> LatchHandle {
        self.handle.clone()
    }

    pub fn open(&self) {
        let (open, cv) = &*self.handle.state;
        *open.lock().unwrap() = true;
        cv.notify_all();
    }
}

impl Default for Latch {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for Latch {
    fn drop(&mut self) {
        self.open();
    }
}

impl LatchHandle {
    /// Blocks until the latch opens; panics (failing the task) if it never does.
    pub fn wait(&self) {
        let (open, cv) = &*self.state;
        let deadline = Instant::now() + util::HOLD_LIMIT;
        let mut g = open.lock().unwrap();
        while !*g {
            let now = Instant::now();
            assert!(now < deadline, "latch never opened");
            g = cv.wait_timeout(g, deadline - now).unwrap().0;
        }
    }
}

/// Submits `n` tasks that each wait on `latch` and then return `body()`, and returns once all
/// `n` have started (so `n` workers are busy with them).
pub fn start_held<T: Send + 'static>(
    pool: &ThreadPoolExecutor,
    latch: &Latch,
    n: usize,
    body: impl Fn() -> T + Send + Clone + 'static,
) -> Vec<Future<T>> {
    let (started_tx, started_rx) = std::sync::mpsc::channel();
    let futures = (0..n)
        .map(|_| {
            let (l, tx, body) = (latch.handle(), started_tx.clone(), body.clone());
            pool.submit(move || {
                tx.send(()).unwrap();
                l.wait();
                body()
            })
            .unwrap()
        })
        .collect();
    for i in 0..n {
        started_rx
            .recv_timeout(LONG)
            .unwrap_or_else(|e| panic!("only {i} of {n} held tasks started: {e}"));
    }
    futures
}

/// The outcome of `f`, waiting at most [`LONG`].
pub fn outcome<T>(mut f: Future<T>) -> Result<T, TaskError> {
    let r = f.result_timeout(LONG);
    assert!(
        !matches!(r, Err(TaskError::Timeout { .. })),
        "no result within {LONG:?}"
    );
    r
}

/// The value of `f`, waiting at most [`LONG`].
pub fn value<T>(f: Future<T>) -> T {
    match outcome(f) {
        Ok(v) => v,
        Err(e) => panic!("task failed: {e}"),
    }
}
