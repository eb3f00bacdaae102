//! The [`Future`] handle: states, `cancel`, timed and non-blocking results, `exception`,
//! done-callbacks, `.await`, identity.

use std::collections::{HashMap, HashSet};
use std::sync::mpsc::{self, RecvTimeoutError, TryRecvError};
use std::time::Duration;

use concurrent_futures::{Executor, Future, FutureState, TaskError};

use super::util::{block_on, poll_once, Scratch, LONG};
use super::*;

const SHORT: Duration = Duration::from_millis(20);

pub fn state_moves_pending_running_finished<E: Executor>(make: impl Fn(usize) -> E) {
    let mut h = Held::new(make);
    let q = h.pool.submit_fn(square, 5).unwrap();
    assert_eq!(q.state(), FutureState::Pending);
    assert!(!q.running() && !q.done() && !q.cancelled());
    assert_eq!(h.blocker.state(), FutureState::Running);
    assert!(h.blocker.running() && !h.blocker.done());
    h.release();
    assert!(q.wait_timeout(LONG));
    assert_eq!(q.state(), FutureState::Finished);
    assert!(q.done() && !q.running() && !q.cancelled());
}

pub fn cancel_pending_future<E: Executor>(make: impl Fn(usize) -> E) {
    let mut h = Held::new(make);
    let q = h.pool.submit_fn(square, 5).unwrap();
    assert!(q.cancel());
    assert!(q.cancelled() && q.done() && !q.running());
    assert_eq!(q.state(), FutureState::Cancelled);
    assert!(q.cancel(), "cancel() is true again on a cancelled future");
    let err = q.exception().expect("a cancelled future has an error");
    assert_eq!(err, TaskError::Cancelled);
    assert_eq!(err.to_string(), "task was cancelled before it started");
    h.release();
    assert!(q.cancelled(), "a cancelled future stays cancelled");
    assert!(q.result().unwrap_err().is_cancelled());
}

pub fn cancel_running_future_is_refused<E: Executor>(make: impl Fn(usize) -> E) {
    let mut h = Held::new(make);
    assert!(!h.blocker.cancel());
    assert!(!h.blocker.cancelled());
    assert_eq!(h.blocker.state(), FutureState::Running);
    h.release(); // and it returns its value
}

pub fn cancel_finished_future_is_refused<E: Executor>(make: impl Fn(usize) -> E) {
    let pool = make(1);
    let ok = pool.submit_fn(square, 4).unwrap();
    let failed = pool
        .submit_fn(panic_with, "done badly".to_string())
        .unwrap();
    assert!(ok.wait_timeout(LONG) && failed.wait_timeout(LONG));
    assert!(!ok.cancel());
    assert!(!failed.cancel());
    assert_eq!(ok.state(), FutureState::Finished);
    assert_eq!(failed.state(), FutureState::Finished);
    assert_eq!(ok.result(), Ok(16));
    assert!(failed.result().unwrap_err().is_panic());
}

pub fn cancelled_task_never_runs<E: Executor>(make: impl Fn(usize) -> E) {
    let scratch = Scratch::new();
    let mut h = Held::new(make);
    let cancelled = h.pool.submit_fn(touch, scratch.file("cancelled")).unwrap();
    let kept = h.pool.submit_fn(touch, scratch.file("kept")).unwrap();
    assert!(cancelled.cancel());
    h.release();
    let mut kept = kept;
    assert_eq!(kept.result_timeout(LONG), Ok(1));
    h.pool.shutdown(true, false);
    assert_eq!(scratch.names(), ["kept"]);
}

pub fn result_timeout_leaves_future_usable<E: Executor>(make: impl Fn(usize) -> E) {
    let mut h = Held::new(make);
    let mut q = h.pool.submit_fn(square, 9).unwrap();
    match q.result_timeout(SHORT) {
        Err(TaskError::Timeout { waited }) => assert!(waited >= SHORT, "{waited:?}"),
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert_eq!(
        q.state(),
        FutureState::Pending,
        "a timed-out wait changes nothing"
    );
    let err = h.blocker.result_timeout(SHORT).unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    assert!(err.to_string().starts_with("timed out after"), "{err}");
    assert_eq!(h.blocker.state(), FutureState::Running);
    h.release();
    assert_eq!(q.result_timeout(LONG), Ok(81));
    assert_eq!(q.result_timeout(LONG), Err(TaskError::AlreadyTaken));
}

pub fn try_result_polls_without_blocking<E: Executor>(make: impl Fn(usize) -> E) {
    let mut h = Held::new(make);
    let mut q = h.pool.submit_fn(square, 3).unwrap();
    assert!(q.try_result().unwrap_err().is_timeout());
    assert!(h.blocker.try_result().unwrap_err().is_timeout());
    h.release();
    assert!(q.wait_timeout(LONG));
    assert_eq!(q.try_result(), Ok(9));
    let again = q.try_result().unwrap_err();
    assert_eq!(again, TaskError::AlreadyTaken);
    assert!(again.to_string().contains("already taken"), "{again}");

    // An error is not taken away: it can be read any number of times.
    let mut failed = h.pool.submit_fn(panic_with, "twice".to_string()).unwrap();
    assert!(failed.wait_timeout(LONG));
    for _ in 0..2 {
        assert_eq!(
            failed.try_result().unwrap_err().panic_message(),
            Some("twice")
        );
    }
}

pub fn exception_reports_without_consuming<E: Executor>(make: impl Fn(usize) -> E) {
    let pool = make(2);
    let ok = pool.submit_fn(square, 3).unwrap();
    let bad = pool.submit_fn(panic_with, "why".to_string()).unwrap();
    assert_eq!(ok.exception(), None);
    assert_eq!(bad.exception().unwrap().panic_message(), Some("why"));
    assert_eq!(bad.exception().unwrap().panic_message(), Some("why"));
    assert_eq!(ok.result(), Ok(9), "exception() does not take the value");
    assert!(bad.result().unwrap_err().is_panic());
}

pub fn exception_timeout_times_out<E: Executor>(make: impl Fn(usize) -> E) {
    let mut h = Held::new(make);
    let q = h.pool.submit_fn(square, 2).unwrap();
    assert!(q.exception_timeout(SHORT).unwrap_err().is_timeout());
    assert!(h.blocker.exception_timeout(SHORT).unwrap_err().is_timeout());
    h.release();
    assert_eq!(q.exception_timeout(LONG), Ok(None));
    let bad = h.pool.submit_fn(panic_with, "late".to_string()).unwrap();
    let err = bad.exception_timeout(LONG).unwrap().unwrap();
    assert_eq!(err.panic_message(), Some("late"));
}

pub fn wait_timeout_reports_done<E: Executor>(make: impl Fn(usize) -> E) {
    let mut h = Held::new(make);
    let q = h.pool.submit_fn(square, 2).unwrap();
    assert!(!q.wait_timeout(SHORT));
    assert!(!h.blocker.wait_timeout(Duration::ZERO));
    h.release();
    assert!(q.wait_timeout(LONG));
    q.wait(); // returns at once on a done future
    assert!(q.wait_timeout(Duration::ZERO));
}

pub fn with_result_reads_in_place<E: Executor>(make: impl Fn(usize) -> E) {
    let pool = make(2);
    let f = pool.submit_fn(shout, "abc".to_string()).unwrap();
    assert_eq!(f.with_result(|r| r.unwrap().len()), 4);
    assert_eq!(f.with_result(|r| r.unwrap().clone()), "ABC!");
    assert_eq!(f.result().unwrap(), "ABC!");
    let bad = pool.submit_fn(panic_if_odd, 1).unwrap();
    assert!(bad.with_result(|r| r.unwrap_err().is_panic()));
}

pub fn callbacks_run_once_in_registration_order<E: Executor>(make: impl Fn(usize) -> E) {
    let mut h = Held::new(make);
    let q = h.pool.submit_fn(square, 7).unwrap();
    let (tx, rx) = mpsc::channel();
    for i in 0..3 {
        let tx = tx.clone();
        q.add_done_callback(move |f: &Future<u64>| {
            tx.send((i, f.done(), f.with_result(|r| r.ok().copied())))
                .unwrap();
        });
    }
    drop(tx);
    assert_eq!(
        rx.try_recv(),
        Err(TryRecvError::Empty),
        "ran before completion"
    );
    h.release();
    let got: Vec<_> = (0..3).map(|_| rx.recv_timeout(LONG).unwrap()).collect();
    assert_eq!(
        got,
        [
            (0, true, Some(49)),
            (1, true, Some(49)),
            (2, true, Some(49))
        ]
    );
    // Every callback was consumed: all senders are gone, so no callback can run again.
    assert_eq!(rx.recv_timeout(LONG), Err(RecvTimeoutError::Disconnected));
    assert_eq!(q.result(), Ok(49), "callbacks do not take the value");
}

pub fn callback_added_after_completion_runs_at_once<E: Executor>(make: impl Fn(usize) -> E) {
    let mut h = Held::new(make);
    let (tx, rx) = mpsc::channel();
    let here = std::thread::current().id();

    let finished = h.pool.submit_fn(square, 2).unwrap();
    let cancelled = h.pool.submit_fn(square, 3).unwrap();
    assert!(cancelled.cancel());
    let tx2 = tx.clone();
    cancelled.add_done_callback(move |f: &Future<u64>| {
        tx2.send((std::thread::current().id(), f.state())).unwrap()
    });
    assert_eq!(rx.try_recv(), Ok((here, FutureState::Cancelled)));

    h.release();
    assert!(finished.wait_timeout(LONG));
    finished.add_done_callback(move |f: &Future<u64>| {
        tx.send((std::thread::current().id(), f.state())).unwrap()
    });
    assert_eq!(rx.try_recv(), Ok((here, FutureState::Finished)));
}

pub fn panicking_callback_does_not_affect_others<E: Executor>(make: impl Fn(usize) -> E) {
    let mut h = Held::new(make);
    let q = h.pool.submit_fn(square, 6).unwrap();
    let (tx, rx) = mpsc::channel();
    let tx0 = tx.clone();
    q.add_done_callback(move |_: &Future<u64>| tx0.send(0).unwrap());
    q.add_done_callback(|_: &Future<u64>| panic!("a failing callback"));
    let tx2 = tx.clone();
    q.add_done_callback(move |_: &Future<u64>| tx2.send(2).unwrap());
    drop(tx);
    h.release();
    assert_eq!(rx.recv_timeout(LONG), Ok(0));
    assert_eq!(rx.recv_timeout(LONG), Ok(2));
    assert_eq!(rx.recv_timeout(LONG), Err(RecvTimeoutError::Disconnected));
    assert!(q.wait_timeout(LONG));
    // Added after completion, it runs at once on this thread; its panic does not escape.
    q.add_done_callback(|_: &Future<u64>| panic!("another failing callback"));
    assert_eq!(q.result(), Ok(36));
    // The executor is unaffected.
    assert_eq!(h.pool.submit_fn(square, 2).unwrap().result(), Ok(4));
}

pub fn callback_runs_on_cancel<E: Executor>(make: impl Fn(usize) -> E) {
    let mut h = Held::new(make);
    let q = h.pool.submit_fn(square, 1).unwrap();
    let (tx, rx) = mpsc::channel();
    q.add_done_callback(move |f: &Future<u64>| {
        tx.send((std::thread::current().id(), f.cancelled(), f.exception()))
            .unwrap()
    });
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    assert!(q.cancel());
    // It ran during cancel(), on the cancelling thread.
    assert_eq!(
        rx.try_recv(),
        Ok((
            std::thread::current().id(),
            true,
            Some(TaskError::Cancelled)
        ))
    );
    assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
    h.release();
}

pub fn callback_sees_failure<E: Executor>(make: impl Fn(usize) -> E) {
    let pool = make(1);
    let (tx, rx) = mpsc::channel();
    let f = pool.submit_fn(panic_with, "seen".to_string()).unwrap();
    f.add_done_callback(move |f: &Future<u64>| {
        tx.send(
            f.exception()
                .and_then(|e| e.panic_message().map(str::to_owned)),
        )
        .unwrap()
    });
    assert_eq!(rx.recv_timeout(LONG), Ok(Some("seen".to_string())));
}

pub fn await_finished_future<E: Executor>(make: impl Fn(usize) -> E) {
    let pool = make(2);
    let f = pool.submit_fn(square, 8).unwrap();
    assert!(f.wait_timeout(LONG));
    assert_eq!(block_on(f, LONG), Ok(64));
    let a = pool.submit_fn(square, 2).unwrap();
    let b = pool.submit_fn(add, (40, 2)).unwrap();
    let sum = block_on(async { a.await.unwrap() as i64 + b.await.unwrap() }, LONG);
    assert_eq!(sum, 46);
}

pub fn await_wakes_on_completion<E: Executor>(make: impl Fn(usize) -> E) {
    let h = Held::new(make);
    let q = h.pool.submit_fn(square, 11).unwrap();
    let out = block_on(
        async {
            let mut q = q;
            assert!(poll_once(&mut q).is_pending());
            h.gate.open();
            // Only the completing thread's wake-up can get this past the first poll.
            q.await
        },
        LONG,
    );
    assert_eq!(out, Ok(121));
}

pub fn await_reports_panic_and_cancellation<E: Executor>(make: impl Fn(usize) -> E) {
    let mut h = Held::new(make);
    let q = h.pool.submit_fn(square, 1).unwrap();
    assert!(q.cancel());
    assert_eq!(block_on(q, LONG), Err(TaskError::Cancelled));
    h.release();
    let bad = h
        .pool
        .submit_fn(panic_with, "async boom".to_string())
        .unwrap();
    let err = block_on(bad, LONG).unwrap_err();
    assert_eq!(err.panic_message(), Some("async boom"));
}

pub fn futures_compare_by_identity<E: Executor>(make: impl Fn(usize) -> E) {
    let pool = make(2);
    let a = pool.submit_fn(square, 1).unwrap();
    let b = pool.submit_fn(square, 1).unwrap();
    let also_a: &Future<u64> = &a;
    assert!(*also_a == a, "a future equals itself");
    assert_ne!(a, b, "equal values, different futures");
    let set: HashSet<&Future<u64>> = [&a, &b, &a].into_iter().collect();
    assert_eq!(set.len(), 2);
    assert_ne!(
        format!("{a:?}"),
        format!("{b:?}"),
        "Debug shows the identity"
    );
    let mut keys = HashMap::new();
    keys.insert(a, "a");
    keys.insert(b, "b");
    assert_eq!(keys.len(), 2);
    let mut seen: Vec<_> = keys
        .into_iter()
        .map(|(f, k)| (k, f.result().unwrap()))
        .collect();
    seen.sort();
    assert_eq!(seen, [("a", 1), ("b", 1)]);
}
