//! `wait`: block until a condition over a set of futures holds.

use std::time::Duration;

use super::completion::Watched;
use super::AsFuture;
use crate::future::deadline_after;

/// When [`wait`] returns. Python's `FIRST_COMPLETED`, `FIRST_EXCEPTION`, `ALL_COMPLETED`.
///
/// ```
/// use std::time::Duration;
/// use concurrent_futures::{wait, ReturnWhen, ThreadPoolExecutor};
/// let pool = ThreadPoolExecutor::with_max_workers(2).unwrap();
/// let (tx, rx) = std::sync::mpsc::channel::<()>();
/// let slow = pool.submit(move || rx.recv().is_ok()).unwrap();
/// let failing = pool.submit(|| -> bool { panic!("disk full") }).unwrap();
/// let timeout = Some(Duration::from_secs(30));
///
/// // Returns as soon as `failing` fails, without waiting for `slow`.
/// let sets = wait([&slow, &failing], timeout, ReturnWhen::FirstException);
/// assert_eq!(sets.done, [&failing]);
/// assert_eq!(sets.not_done, [&slow]);
///
/// tx.send(()).unwrap();
/// let sets = wait([&slow, &failing], timeout, ReturnWhen::AllCompleted);
/// assert_eq!(sets.done.len(), 2);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum ReturnWhen {
    /// As soon as any future is done (finished or cancelled).
    FirstCompleted,
    /// As soon as any future fails (a cancelled future is not a failure); with no failure this is
    /// [`AllCompleted`](ReturnWhen::AllCompleted).
    FirstException,
    /// When every future is done.
    #[default]
    AllCompleted,
}

/// The two sets [`wait`] returns, each in input order.
///
/// ```
/// use std::time::Duration;
/// use concurrent_futures::{wait, DoneAndNotDone, ReturnWhen, ThreadPoolExecutor};
/// let pool = ThreadPoolExecutor::with_max_workers(1).unwrap();
/// let (tx, rx) = std::sync::mpsc::channel::<()>();
/// let blocked = pool.submit(move || rx.recv().is_ok()).unwrap();
/// // A timeout is not an error: the sets say what finished.
/// let DoneAndNotDone { done, not_done } =
///     wait(vec![blocked], Some(Duration::from_millis(5)), ReturnWhen::AllCompleted);
/// assert!(done.is_empty());
/// tx.send(()).unwrap();
/// for f in not_done {
///     assert!(f.result().unwrap());
/// }
/// ```
#[derive(Debug)]
pub struct DoneAndNotDone<F> {
    /// The futures that were done.
    pub done: Vec<F>,
    /// The futures that were not.
    pub not_done: Vec<F>,
}

/// Waits until `return_when` holds for the distinct futures given, or `timeout` (if any) passes,
/// and returns the done and not-done sets. A timeout is not an error: the sets say what happened.
/// Conditions already satisfied return at once. Python's `wait(fs, timeout, return_when)`.
///
/// ```
/// use concurrent_futures::{wait, ReturnWhen, ThreadPoolExecutor};
/// let pool = ThreadPoolExecutor::new();
/// let futures: Vec<_> = (0..4).map(|i| pool.submit(move || i).unwrap()).collect();
/// let sets = wait(futures, None, ReturnWhen::AllCompleted);
/// assert_eq!(sets.done.len(), 4);
/// assert!(sets.not_done.is_empty());
/// ```
pub fn wait<F: AsFuture>(
    futures: impl IntoIterator<Item = F>,
    timeout: Option<Duration>,
    return_when: ReturnWhen,
) -> DoneAndNotDone<F> {
    let deadline = timeout.map(deadline_after);
    let mut watched = Watched::new(futures);
    let total = watched.items.len();
    let mut done = vec![false; total];
    let mut n_done = 0;
    let mut failed = false;
    let satisfied = |n_done: usize, failed: bool| match return_when {
        ReturnWhen::FirstCompleted => n_done >= 1 || total == 0,
        ReturnWhen::FirstException => failed || n_done == total,
        ReturnWhen::AllCompleted => n_done == total,
    };
    // Everything already final is queued by `Watched::new`; drain those first.
    while let Some(i) = watched.completion.try_pop() {
        done[i] = true;
        n_done += 1;
        failed |= return_when == ReturnWhen::FirstException && watched.failed(i);
    }
    watched.remaining = total - n_done;
    while !satisfied(n_done, failed) {
        match watched.next_done(deadline) {
            Some(i) => {
                done[i] = true;
                n_done += 1;
                watched.remaining -= 1;
                failed |= return_when == ReturnWhen::FirstException && watched.failed(i);
            }
            None => break,
        }
    }
    // Futures that finished while we were deciding count as done too.
    while let Some(i) = watched.completion.try_pop() {
        done[i] = true;
    }
    let mut out = DoneAndNotDone {
        done: Vec::with_capacity(n_done),
        not_done: Vec::with_capacity(total - n_done),
    };
    for (i, d) in done.into_iter().enumerate() {
        let f = watched.items[i].take().expect("each index is taken once");
        if d || f.as_future().done() {
            out.done.push(f);
        } else {
            // Deregister from the future before handing it back.
            watched.completion.unwatch(f.as_future().core());
            out.not_done.push(f);
        }
    }
    out
}
