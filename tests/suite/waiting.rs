//! Waiting on many futures: `as_completed`, `as_completed_timeout` and `wait` with every
//! `ReturnWhen`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use concurrent_futures::{
    as_completed, as_completed_timeout, wait, AsCompletedTimeout, Executor, Future, ReturnWhen,
};

use super::util::{Gate, LONG};
use super::*;

const SHORT: Duration = Duration::from_millis(30);

/// Two workers, one of them held by `gate`; a future held, and one already finished (its
/// value is 9). The gate drops (opens) before the executor.
struct HeldAndFinished<E: Executor> {
    gate: Gate,
    pool: E,
    held: Future<u64>,
    finished: Future<u64>,
}

fn held_and_finished<E: Executor>(make: impl Fn(usize) -> E) -> HeldAndFinished<E> {
    let pool = make(2);
    let gate = Gate::closed();
    let finished = pool.submit_fn(square, 3).unwrap();
    assert!(finished.wait_timeout(LONG));
    let held = pool.submit_fn(hold, gate.path()).unwrap();
    HeldAndFinished {
        gate,
        pool,
        held,
        finished,
    }
}

pub fn as_completed_yields_finished_first<E: Executor>(make: impl Fn(usize) -> E) {
    let t = held_and_finished(make);
    let mut it = as_completed(vec![t.held, t.finished]);
    assert_eq!(it.len(), 2);
    // `held` cannot finish before the gate opens, so this only returns if finished ones come first.
    assert_eq!(it.next().unwrap().result(), Ok(9));
    t.gate.open();
    assert_eq!(it.next().unwrap().result(), Ok(HELD));
    assert!(it.next().is_none());
}

pub fn as_completed_deduplicates<E: Executor>(make: impl Fn(usize) -> E) {
    let t = held_and_finished(make);
    let (held, finished) = (&t.held, &t.finished);
    let other = t.pool.submit_fn(square, 4).unwrap();
    assert!(other.wait_timeout(LONG));
    assert_eq!(
        as_completed([finished, finished, &other, finished]).count(),
        2
    );

    let mut it = as_completed_timeout([finished, held, finished, held], SHORT);
    assert_eq!(it.next().unwrap().unwrap(), finished);
    let err = it.next().unwrap().unwrap_err();
    assert_eq!(
        err,
        AsCompletedTimeout {
            unfinished: 1,
            total: 2
        }
    );
    assert!(it.next().is_none());
    t.gate.open();
}

pub fn as_completed_timeout_counts_unfinished<E: Executor>(make: impl Fn(usize) -> E) {
    let pool = make(2);
    let gate = Gate::closed();
    let finished = pool.submit_fn(square, 5).unwrap();
    assert!(finished.wait_timeout(LONG));
    let held1 = pool.submit_fn(hold, gate.path()).unwrap();
    let held2 = pool.submit_fn(hold, gate.path()).unwrap();
    let started = Instant::now();
    let mut it = as_completed_timeout([&held1, &finished, &held2], SHORT);
    assert_eq!(*it.next().unwrap().unwrap(), finished);
    let err = it.next().unwrap().unwrap_err();
    assert!(started.elapsed() >= SHORT);
    assert_eq!((err.unfinished, err.total), (2, 3));
    assert_eq!(err.to_string(), "timed out: 2 (of 3) futures unfinished");
    assert!(it.next().is_none(), "the iteration ends after the timeout");
    assert!(it.next().is_none());
    gate.open();
    assert!(held1.wait_timeout(LONG) && held2.wait_timeout(LONG));
}

pub fn as_completed_with_key_map<E: Executor>(make: impl Fn(usize) -> E) {
    let pool = make(3);
    // Python's `future_to_url = {executor.submit(load, url): url for url in urls}`.
    let future_to_n: HashMap<Future<u64>, u64> = (1..=8)
        .map(|n| (pool.submit_fn(square, n).unwrap(), n))
        .collect();
    let mut seen = Vec::new();
    for (future, n) in as_completed(future_to_n) {
        assert_eq!(future.result(), Ok(n * n));
        seen.push(n);
    }
    seen.sort();
    assert_eq!(seen, (1..=8).collect::<Vec<_>>());
}

pub fn as_completed_with_pairs_and_references<E: Executor>(make: impl Fn(usize) -> E) {
    let pool = make(2);
    let pairs: Vec<(Future<String>, &str)> = ["a", "b", "c"]
        .into_iter()
        .map(|s| (pool.submit_fn(shout, s.to_string()).unwrap(), s))
        .collect();
    let mut got: Vec<_> = as_completed(pairs)
        .map(|(f, s)| (s, f.result().unwrap()))
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            ("a", "A!".into()),
            ("b", "B!".into()),
            ("c", "C!".to_string())
        ]
    );

    let futures: Vec<_> = (0..4).map(|i| pool.submit_fn(square, i).unwrap()).collect();
    let mut total = 0;
    for f in as_completed(&futures) {
        total += f.with_result(|r| *r.unwrap());
    }
    assert_eq!(total, 1 + 4 + 9);
    // The futures were only borrowed.
    assert_eq!(
        futures
            .into_iter()
            .map(|f| f.result().unwrap())
            .sum::<u64>(),
        14
    );
}

pub fn as_completed_empty<E: Executor>(make: impl Fn(usize) -> E) {
    let _pool = make(1);
    let mut it = as_completed(Vec::<Future<u64>>::new());
    assert_eq!(it.len(), 0);
    assert!(it.next().is_none());
    assert!(as_completed_timeout(Vec::<Future<u64>>::new(), SHORT)
        .next()
        .is_none());
}

pub fn as_completed_cancelled_counts_at_once<E: Executor>(make: impl Fn(usize) -> E) {
    let mut h = Held::new(make);
    let q = h.pool.submit_fn(square, 1).unwrap();
    assert!(q.cancel());
    // The executor has not reached `q` (its worker is held), yet it is done for waiters.
    let mut it = as_completed_timeout([&q], LONG);
    assert_eq!(*it.next().unwrap().unwrap(), q);
    assert!(it.next().is_none());
    h.release();
}

pub fn as_completed_sees_cancel_after_registration<E: Executor>(make: impl Fn(usize) -> E) {
    let mut h = Held::new(make);
    let q1 = h.pool.submit_fn(square, 1).unwrap();
    let q2 = h.pool.submit_fn(square, 2).unwrap();
    let mut it = as_completed_timeout([&q1, &q2], LONG);
    // Registered on both; now cancel one: only the cancel can have finished it.
    assert!(q2.cancel());
    assert_eq!(*it.next().unwrap().unwrap(), q2);
    assert!(q1.cancel());
    assert_eq!(*it.next().unwrap().unwrap(), q1);
    assert!(it.next().is_none());
    h.release();
}

pub fn wait_all_completed<E: Executor>(make: impl Fn(usize) -> E) {
    let pool = make(3);
    let futures: Vec<_> = (0..10)
        .map(|i| pool.submit_fn(sleep_ms, i).unwrap())
        .collect();
    let sets = wait(futures, Some(LONG), ReturnWhen::AllCompleted);
    assert!(sets.not_done.is_empty());
    // The sets keep the input order.
    let got: Vec<_> = sets.done.into_iter().map(|f| f.result().unwrap()).collect();
    assert_eq!(got, (0..10).collect::<Vec<_>>());

    let futures: Vec<_> = (0..5).map(|i| pool.submit_fn(square, i).unwrap()).collect();
    let sets = wait(futures, None, ReturnWhen::default());
    assert_eq!((sets.done.len(), sets.not_done.len()), (5, 0));
}

pub fn wait_first_completed<E: Executor>(make: impl Fn(usize) -> E) {
    let pool = make(2);
    let gate = Gate::closed();
    let held = pool.submit_fn(hold, gate.path()).unwrap();
    let fast = pool.submit_fn(square, 4).unwrap();
    let sets = wait(vec![held, fast], Some(LONG), ReturnWhen::FirstCompleted);
    assert_eq!(sets.done.len(), 1);
    assert_eq!(sets.not_done.len(), 1);
    let [held]: [Future<u64>; 1] = sets.not_done.try_into().unwrap();
    assert!(held.running());
    for f in sets.done {
        assert_eq!(f.result(), Ok(16));
    }
    gate.open();
    assert_eq!(held.result(), Ok(HELD));
}

pub fn wait_first_exception<E: Executor>(make: impl Fn(usize) -> E) {
    let pool = make(3);
    let gate = Gate::closed();
    let held = pool.submit_fn(hold, gate.path()).unwrap();
    let ok = pool.submit_fn(square, 2).unwrap();
    let bad = pool
        .submit_fn(panic_with, "first failure".to_string())
        .unwrap();
    let sets = wait([&held, &ok, &bad], Some(LONG), ReturnWhen::FirstException);
    assert!(sets.done.contains(&&bad), "{:?}", sets.done);
    assert_eq!(sets.not_done, [&held]);
    assert_eq!(
        bad.exception().unwrap().panic_message(),
        Some("first failure")
    );
    gate.open();
}

pub fn wait_first_exception_without_failure_is_all_completed<E: Executor>(
    make: impl Fn(usize) -> E,
) {
    let pool = make(2);
    let futures: Vec<_> = [10, 1, 20, 0]
        .map(|ms| pool.submit_fn(sleep_ms, ms).unwrap())
        .into();
    let sets = wait(&futures, Some(LONG), ReturnWhen::FirstException);
    assert_eq!(sets.done.len(), 4);
    assert!(sets.not_done.is_empty());
}

pub fn wait_first_exception_ignores_cancellation<E: Executor>(make: impl Fn(usize) -> E) {
    let mut h = Held::new(make);
    let cancelled = h.pool.submit_fn(square, 1).unwrap();
    let pending = h.pool.submit_fn(square, 2).unwrap();
    assert!(cancelled.cancel());
    let started = Instant::now();
    let sets = wait(
        [&cancelled, &pending],
        Some(SHORT),
        ReturnWhen::FirstException,
    );
    // A cancellation is not a failure: the wait ran until its timeout.
    assert!(started.elapsed() >= SHORT);
    assert_eq!(sets.done, [&cancelled]);
    assert_eq!(sets.not_done, [&pending]);
    h.release();
}

pub fn wait_timeout_returns_sets<E: Executor>(make: impl Fn(usize) -> E) {
    let t = held_and_finished(make);
    let (held, finished) = (&t.held, &t.finished);
    for when in [ReturnWhen::AllCompleted, ReturnWhen::FirstException] {
        let started = Instant::now();
        let sets = wait([held, finished], Some(SHORT), when);
        assert!(
            started.elapsed() >= SHORT,
            "{when:?} returned before its timeout"
        );
        assert_eq!(sets.done, [finished]);
        assert_eq!(sets.not_done, [held]);
    }
    let sets = wait([held], Some(SHORT), ReturnWhen::FirstCompleted);
    assert!(sets.done.is_empty());
    assert_eq!(sets.not_done, [held]);
    let sets = wait([held], Some(Duration::ZERO), ReturnWhen::AllCompleted);
    assert_eq!(sets.not_done, [held]);
    t.gate.open();
    assert!(held.wait_timeout(LONG));
}

pub fn wait_cancelled_counts_as_done_at_once<E: Executor>(make: impl Fn(usize) -> E) {
    let mut h = Held::new(make);
    let cancelled = h.pool.submit_fn(square, 1).unwrap();
    let pending = h.pool.submit_fn(square, 2).unwrap();
    assert!(cancelled.cancel());
    // With the worker held, only cancellation can make these conditions hold before LONG.
    let sets = wait([&cancelled], Some(LONG), ReturnWhen::AllCompleted);
    assert_eq!((sets.done.len(), sets.not_done.len()), (1, 0));
    let sets = wait(
        [&pending, &cancelled],
        Some(LONG),
        ReturnWhen::FirstCompleted,
    );
    assert_eq!(sets.done, [&cancelled]);
    assert_eq!(sets.not_done, [&pending]);
    h.release();
}

pub fn wait_empty<E: Executor>(make: impl Fn(usize) -> E) {
    let _pool = make(1);
    for when in [
        ReturnWhen::FirstCompleted,
        ReturnWhen::FirstException,
        ReturnWhen::AllCompleted,
    ] {
        let sets = wait(Vec::<Future<u64>>::new(), None, when);
        assert!(sets.done.is_empty() && sets.not_done.is_empty());
    }
}

pub fn wait_by_reference_and_with_keys<E: Executor>(make: impl Fn(usize) -> E) {
    let pool = make(2);
    let futures: Vec<_> = (0..6).map(|i| pool.submit_fn(square, i).unwrap()).collect();
    let sets = wait(&futures, Some(LONG), ReturnWhen::AllCompleted);
    assert_eq!(sets.done.len(), 6);
    assert_eq!(
        futures
            .into_iter()
            .map(|f| f.result().unwrap())
            .collect::<Vec<_>>(),
        [0, 1, 4, 9, 16, 25]
    );

    let keyed: Vec<_> = ["x", "y"]
        .into_iter()
        .map(|k| (pool.submit_fn(shout, k.to_string()).unwrap(), k))
        .collect();
    let sets = wait(keyed, Some(LONG), ReturnWhen::AllCompleted);
    let got: Vec<_> = sets
        .done
        .into_iter()
        .map(|(f, k)| (k, f.result().unwrap()))
        .collect();
    assert_eq!(got, [("x", "X!".to_string()), ("y", "Y!".to_string())]);
}

pub fn wait_already_satisfied_returns_at_once<E: Executor>(make: impl Fn(usize) -> E) {
    let t = held_and_finished(make);
    let (held, finished) = (&t.held, &t.finished);
    // No timeout: these return only because the condition already holds.
    let sets = wait([held, finished], None, ReturnWhen::FirstCompleted);
    assert_eq!(sets.done, [finished]);
    assert_eq!(sets.not_done, [held]);
    let sets = wait([finished], None, ReturnWhen::AllCompleted);
    assert_eq!(sets.done, [finished]);
    t.gate.open();
}
