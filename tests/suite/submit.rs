//! `submit_fn` and its payloads, panics, `shutdown` and what a shut-down executor refuses.

use concurrent_futures::{Executor, Future, MapOptions, TaskError};

use super::util::LONG;
use super::*;

pub fn submit_fn_returns_value<E: Executor>(make: impl Fn(usize) -> E) {
    let pool = make(2);
    let f = pool.submit_fn(square, 12).unwrap();
    assert_eq!(f.result(), Ok(144));
}

pub fn submit_fn_carries_serde_payloads<E: Executor>(make: impl Fn(usize) -> E) {
    let pool = make(2);
    let sum = pool.submit_fn(add, (-7, 50)).unwrap();
    let loud = pool.submit_fn(shout, "héllo wörld".to_string()).unwrap();
    let record = Record {
        name: "r1".into(),
        values: vec![1, 2, 3, 4],
        tags: vec!["a".into(), String::new(), "b".into()],
    };
    let summary = pool.submit_fn(summarize, record).unwrap();
    let some = pool.submit_fn(checked_div, (9, 3)).unwrap();
    let none = pool.submit_fn(checked_div, (9, 0)).unwrap();
    let parsed = pool.submit_fn(parse_number, " 77 ".to_string()).unwrap();
    let not_parsed = pool.submit_fn(parse_number, "x".to_string()).unwrap();
    let unit = pool.submit_fn(noop, ()).unwrap();

    assert_eq!(sum.result(), Ok(43));
    assert_eq!(loud.result().unwrap(), "HÉLLO WÖRLD!");
    assert_eq!(
        summary.result().unwrap(),
        Summary {
            name: "r1".into(),
            count: 4,
            total: 10,
            tags: vec!["a".into(), "b".into()],
        }
    );
    assert_eq!(some.result(), Ok(Some(3)));
    assert_eq!(none.result(), Ok(None));
    assert_eq!(parsed.result(), Ok(Ok(77)));
    // A failure the task returns is a value of its result, not a task error.
    let err = not_parsed.result().unwrap().unwrap_err();
    assert!(err.contains("invalid digit"), "{err}");
    assert_eq!(unit.result(), Ok(()));
}

pub fn many_submits_all_correct<E: Executor>(make: impl Fn(usize) -> E) {
    let pool = make(4);
    let futures: Vec<Future<u64>> = (0..500)
        .map(|i| pool.submit_fn(square, i).unwrap())
        .collect();
    for (i, f) in futures.into_iter().enumerate() {
        let i = i as u64;
        assert_eq!(f.result(), Ok(i * i));
    }
}

pub fn submits_from_several_threads<E: Executor + Sync>(make: impl Fn(usize) -> E) {
    let pool = make(3);
    std::thread::scope(|s| {
        for t in 0..4u64 {
            let pool = &pool;
            s.spawn(move || {
                let futures: Vec<_> = (0..100)
                    .map(|i| (t * 1000 + i, pool.submit_fn(square, t * 1000 + i).unwrap()))
                    .collect();
                for (x, mut f) in futures {
                    assert_eq!(f.result_timeout(LONG), Ok(x * x));
                }
            });
        }
    });
}

pub fn panic_becomes_task_error<E: Executor>(make: impl Fn(usize) -> E) {
    let pool = make(1);
    let err = pool
        .submit_fn(panic_with, "boom".to_string())
        .unwrap()
        .result()
        .unwrap_err();
    assert!(
        matches!(&err, TaskError::Panicked { message, .. } if message == "boom"),
        "{err:?}"
    );
    assert!(err.is_panic());
    assert!(!err.is_cancelled() && !err.is_broken() && !err.is_timeout());
    assert_eq!(err.panic_message(), Some("boom"));
    // Where it panicked, when the engine knows (the process engine does).
    match err.panic_location() {
        Some(at) => {
            assert!(at.contains("suite/mod.rs:"), "{at}");
            assert_eq!(err.to_string(), format!("task panicked at {at}: boom"));
        }
        None => assert_eq!(err.to_string(), "task panicked: boom"),
    }
    // The executor (and its only worker) survives the panic.
    assert_eq!(pool.submit_fn(square, 3).unwrap().result(), Ok(9));
}

pub fn formatted_panic_message_is_kept<E: Executor>(make: impl Fn(usize) -> E) {
    let pool = make(2);
    let err = pool
        .submit_fn(panic_if_odd, 7)
        .unwrap()
        .result()
        .unwrap_err();
    assert_eq!(err.panic_message(), Some("odd input 7"));
    assert_eq!(pool.submit_fn(panic_if_odd, 8).unwrap().result(), Ok(8));
}

pub fn max_workers_reports_configuration<E: Executor>(make: impl Fn(usize) -> E) {
    for n in [1, 3] {
        let pool = make(n);
        assert_eq!(pool.max_workers(), n);
    }
}

pub fn shutdown_wait_waits_for_every_task<E: Executor>(make: impl Fn(usize) -> E) {
    let pool = make(2);
    let futures: Vec<_> = (0..6)
        .map(|_| pool.submit_fn(sleep_ms, 20).unwrap())
        .collect();
    pool.shutdown(true, false);
    // No waiting here: shutdown(wait = true) already did.
    for f in &futures {
        assert!(f.done(), "{f:?} not done after shutdown(wait = true)");
    }
    for mut f in futures {
        assert_eq!(f.try_result(), Ok(20));
    }
}

pub fn shutdown_is_idempotent<E: Executor>(make: impl Fn(usize) -> E) {
    let pool = make(2);
    let f = pool.submit_fn(square, 5).unwrap();
    assert!(f.wait_timeout(LONG));
    pool.shutdown(false, false);
    pool.shutdown(false, true);
    pool.shutdown(true, false);
    pool.shutdown(true, true);
    assert_eq!(f.result(), Ok(25));
    assert!(pool.submit_fn(square, 1).unwrap_err().is_shutdown());
    drop(pool); // Drop shuts down once more

    // A later call may still cancel what an earlier one left queued.
    let mut h = Held::new(make);
    let queued = h.pool.submit_fn(square, 2).unwrap();
    h.pool.shutdown(false, false);
    assert!(!queued.done());
    h.pool.shutdown(false, true);
    assert!(queued.cancelled());
    h.release();
    h.pool.shutdown(true, false);
}

pub fn submit_after_shutdown_gives_argument_back<E: Executor>(make: impl Fn(usize) -> E) {
    let pool = make(1);
    pool.shutdown(true, false);
    let err = pool.submit_fn(square, 7).unwrap_err();
    assert!(err.is_shutdown(), "{err:?}");
    assert!(!err.is_full() && !err.is_broken());
    assert_eq!(err.to_string(), "cannot submit: the executor was shut down");
    assert_eq!(err.into_inner(), 7);
    // A non-Copy argument comes back whole.
    let err = pool.submit_fn(shout, "keep me".to_string()).unwrap_err();
    assert_eq!(err.into_inner(), "keep me");
    let record = Record {
        name: "n".into(),
        values: vec![9; 3],
        tags: vec![],
    };
    let err = pool.submit_fn(summarize, record.clone()).unwrap_err();
    assert_eq!(err.into_inner(), record);
}

pub fn map_after_shutdown_reports_refusal_once<E: Executor>(make: impl Fn(usize) -> E) {
    let pool = make(2);
    pool.shutdown(false, false);
    let mut it = pool.map(square, 0..10);
    let err = it.next().expect("one item for the refusal").unwrap_err();
    assert!(err.is_shutdown(), "the same kind as submit's: {err:?}");
    assert!(!err.is_broken(), "{err:?}");
    assert!(err.to_string().contains("shut down"), "{err}");
    assert!(it.next().is_none(), "the iteration ends after a refusal");
    drop(it);
    let mut it = pool.map_unordered(square, 0..10);
    let err = it.next().expect("one item for the refusal").unwrap_err();
    assert!(err.is_shutdown(), "map_unordered too: {err:?}");
    assert!(it.next().is_none(), "the iteration ends after a refusal");
    drop(it);
    let mut it = pool.map_with(square, 0..10, MapOptions::new().chunksize(3));
    let err = it.next().expect("one item for the refusal").unwrap_err();
    assert!(err.is_shutdown(), "a chunked map too: {err:?}");
    assert!(pool.submit_fn(square, 1).unwrap_err().is_shutdown());
}

pub fn shutdown_without_wait_returns_while_task_runs<E: Executor>(make: impl Fn(usize) -> E) {
    let mut h = Held::new(make);
    let queued = h.pool.submit_fn(square, 3).unwrap();
    h.pool.shutdown(false, false);
    // The gate is closed, so the blocker cannot have finished: shutdown did not wait for it.
    assert!(!h.blocker.done());
    assert!(h.pool.submit_fn(square, 1).unwrap_err().is_shutdown());
    h.release();
    let mut queued = queued;
    assert_eq!(
        queued.result_timeout(LONG),
        Ok(9),
        "queued work still completes"
    );
    for mut f in h.fillers.drain(..) {
        assert!(f.result_timeout(LONG).is_ok());
    }
}

pub fn shutdown_cancel_futures_cancels_only_unstarted<E: Executor>(make: impl Fn(usize) -> E) {
    let mut h = Held::new(make);
    let queued: Vec<_> = (0..4)
        .map(|i| h.pool.submit_fn(square, i).unwrap())
        .collect();
    h.pool.shutdown(false, true);
    for f in &queued {
        assert!(f.cancelled(), "{f:?} should be cancelled by shutdown");
        assert!(f.done());
    }
    assert!(!h.blocker.cancelled());
    assert!(h.blocker.running());
    h.release();
    for f in queued {
        assert!(f.result().unwrap_err().is_cancelled());
    }
    h.pool.shutdown(true, false);
}

pub fn drop_waits_for_every_task<E: Executor>(make: impl Fn(usize) -> E) {
    let pool = make(2);
    let futures: Vec<_> = (0..5)
        .map(|i| pool.submit_fn(sleep_ms, 10 + i).unwrap())
        .collect();
    drop(pool);
    for (i, mut f) in futures.into_iter().enumerate() {
        assert!(f.done(), "{f:?} not done after the executor was dropped");
        assert_eq!(f.try_result(), Ok(10 + i as u64));
    }
}

pub fn futures_outlive_their_executor<E: Executor>(make: impl Fn(usize) -> E) {
    let (values, failure) = {
        let pool = make(2);
        let values: Vec<_> = (0..4).map(|i| pool.submit_fn(square, i).unwrap()).collect();
        let failure = pool.submit_fn(panic_with, "late".to_string()).unwrap();
        (values, failure)
    };
    // The executor is gone; its futures still hold their outcomes.
    for (i, f) in values.into_iter().enumerate() {
        assert_eq!(f.result(), Ok((i * i) as u64));
    }
    assert_eq!(failure.exception().unwrap().panic_message(), Some("late"));
}

/// `stats()` counts each outcome once: values, a panic, a cancelled task; and after shutdown
/// nothing is queued or running.
pub fn stats_count_every_outcome<E: Executor>(make: impl Fn(usize) -> E) {
    let mut h = Held::new(make);
    let running = h.pool.stats();
    assert!(running.running >= 1, "the blocker runs: {running:?}");
    assert!(running.workers_alive >= 1, "{running:?}");
    let cancelled = h.pool.submit_fn(square, 2).unwrap();
    assert!(cancelled.cancel());
    let ok: Vec<_> = (0..3)
        .map(|i| h.pool.submit_fn(square, i).unwrap())
        .collect();
    let bad = h.pool.submit_fn(panic_with, "counted".to_string()).unwrap();
    let queued = h.pool.stats();
    assert!(
        queued.queued >= 4,
        "three values and a panic wait: {queued:?}"
    );
    h.release();
    for mut f in ok {
        assert!(f.result_timeout(LONG).is_ok());
    }
    let mut bad = bad;
    assert!(bad.result_timeout(LONG).unwrap_err().is_panic());
    let fillers = h.fillers.len() as u64;
    let before = h.pool.stats();
    h.pool.shutdown(true, false);
    let s = h.pool.stats();
    // The blocker and the fillers completed with values too.
    assert_eq!(
        s.submitted,
        1 + fillers + 1 + 3 + 1,
        "{s:?} (before shutdown: {before:?})"
    );
    assert_eq!(s.failed, 1, "{s:?}");
    assert_eq!(s.cancelled, 1, "{s:?}");
    assert_eq!(s.completed, 1 + fillers + 3, "{s:?}");
    assert_eq!((s.queued, s.running), (0, 0), "{s:?}");
    assert_eq!(s.done(), s.submitted, "{s:?}");
    assert!(
        s.busy > std::time::Duration::ZERO,
        "the blocker kept a worker busy: {s:?}"
    );
}

/// `shutdown_async` closes the pool at once and returns a future that completes only when the
/// running task has finished, without blocking the caller meanwhile.
pub fn shutdown_async_completes_when_the_work_is_done<E: Executor>(make: impl Fn(usize) -> E) {
    let mut h = Held::new(make);
    let mut done = h.pool.shutdown_async(false);
    assert!(
        h.pool.submit_fn(square, 1).unwrap_err().is_shutdown(),
        "closed at once"
    );
    assert!(
        !done.done(),
        "the blocker still runs: the shutdown is not done"
    );
    h.release();
    assert!(done.wait_timeout(LONG), "done once the work is");
    assert_eq!(done.try_result(), Ok(()));
    assert!(h.blocker.done());
}
