//! The bounded queue (`max_queued`): `submit` waits for space, `try_submit` hands the task back,
//! and a worker submitting to its own full queue makes progress instead of blocking.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use concurrent_futures::{SubmitError, TaskError, ThreadPoolExecutor};

use crate::{outcome, value, Latch, Watchdog, LONG};

/// A one-worker pool with a queue of two, its worker held by the returned latch (and known to
/// be running the blocker, so the queue is empty).
fn held_bounded_pool(
    log: Option<Arc<Mutex<Vec<&'static str>>>>,
) -> (
    ThreadPoolExecutor,
    Latch,
    concurrent_futures::Future<&'static str>,
) {
    let pool = ThreadPoolExecutor::builder()
        .max_workers(1)
        .max_queued(2)
        .build()
        .unwrap();
    let latch = Latch::new();
    let (started_tx, started_rx) = mpsc::channel();
    let l = latch.handle();
    let blocker = pool
        .submit(move || {
            started_tx.send(()).unwrap();
            l.wait();
            if let Some(log) = log {
                log.lock().unwrap().push("blocker finished");
            }
            "blocker"
        })
        .unwrap();
    started_rx.recv_timeout(LONG).expect("the blocker started");
    assert_eq!(pool.queued(), 0);
    (pool, latch, blocker)
}

#[test]
fn try_submit_on_a_full_queue_hands_the_closure_back() {
    let _w = Watchdog::for_this_test();
    let (pool, latch, blocker) = held_bounded_pool(None);
    let a = pool.try_submit(|| "a").unwrap();
    let b = pool.submit(|| "b").unwrap();
    assert_eq!(pool.queued(), 2);
    let err = pool.try_submit(|| "refused").unwrap_err();
    assert!(err.is_full() && !err.is_shutdown(), "{err:?}");
    assert_eq!(
        err.to_string(),
        "cannot submit: the executor's queue is full"
    );
    assert!(matches!(err, SubmitError::Full(_)));
    assert_eq!(err.into_inner()(), "refused", "the very closure comes back");
    latch.open();
    assert_eq!(value(blocker), "blocker");
    assert_eq!(value(a), "a");
    assert_eq!(value(b), "b");
    // With space again, try_submit accepts.
    assert_eq!(value(pool.try_submit(|| "c").unwrap()), "c");
}

#[test]
fn submit_on_a_full_queue_waits_for_space() {
    let _w = Watchdog::for_this_test();
    let log: Arc<Mutex<Vec<&'static str>>> = Arc::default();
    let (pool, latch, blocker) = held_bounded_pool(Some(log.clone()));
    let queued: Vec<_> = (0..2).map(|i| pool.submit(move || i).unwrap()).collect();
    assert_eq!(pool.queued(), 2);

    let (calling_tx, calling_rx) = mpsc::channel();
    std::thread::scope(|s| {
        let submitter = s.spawn(|| {
            log.lock().unwrap().push("submit called");
            calling_tx.send(()).unwrap();
            let f = pool.submit(|| 99).unwrap();
            log.lock().unwrap().push("submit returned");
            f
        });
        calling_rx.recv_timeout(LONG).unwrap();
        // Space appears only once the blocker finishes and the worker takes the next task, so a
        // blocking submit returns after "blocker finished", whatever the scheduling.
        latch.open();
        let f = submitter.join().unwrap();
        assert_eq!(value(f), 99);
    });
    assert_eq!(
        *log.lock().unwrap(),
        ["submit called", "blocker finished", "submit returned"]
    );
    assert_eq!(value(blocker), "blocker");
    let got: Vec<_> = queued.into_iter().map(value).collect();
    assert_eq!(got, [0, 1]);
}

#[test]
fn shutdown_wakes_a_submitter_blocked_on_a_full_queue() {
    let _w = Watchdog::for_this_test();
    let (pool, latch, blocker) = held_bounded_pool(None);
    let queued: Vec<_> = (0..2).map(|i| pool.submit(move || i).unwrap()).collect();
    let (calling_tx, calling_rx) = mpsc::channel();
    let submitted = std::thread::scope(|s| {
        let submitter = s.spawn(|| {
            calling_tx.send(()).unwrap();
            pool.submit(|| 99)
        });
        calling_rx.recv_timeout(LONG).unwrap();
        // Cancelling the queued tasks frees their space, so a submitter blocked on it returns.
        pool.shutdown(false, true);
        submitter.join().unwrap()
    });
    for f in queued {
        assert!(f.cancelled());
    }
    latch.open();
    assert_eq!(value(blocker), "blocker");
    // The submitter got in before the gate closed (and its task was then cancelled or run), or
    // was refused with its closure: never stuck, never lost.
    match submitted {
        Ok(f) => match outcome(f) {
            Ok(99) | Err(TaskError::Cancelled) => {}
            other => panic!("unexpected outcome {other:?}"),
        },
        Err(e) => {
            assert!(e.is_shutdown(), "{e:?}");
            assert_eq!(e.into_inner()(), 99);
        }
    }
}

#[test]
fn a_worker_submitting_to_its_own_full_queue_makes_progress() {
    let _w = Watchdog::for_this_test();
    let pool = Arc::new(
        ThreadPoolExecutor::builder()
            .max_workers(1)
            .max_queued(1)
            .build()
            .unwrap(),
    );
    let p = pool.clone();
    let outer = pool
        .submit(move || {
            // Only this worker could empty the queue; it runs queued tasks instead of blocking.
            let inner: Vec<_> = (0..5).map(|i| p.submit(move || i * 10).unwrap()).collect();
            inner.into_iter().map(value).sum::<i32>()
        })
        .unwrap();
    assert_eq!(value(outer), 100);
}

#[test]
fn cancelling_a_queued_task_frees_its_slot_at_once() {
    let _w = Watchdog::for_this_test();
    let (pool, latch, blocker) = held_bounded_pool(None);
    let a = pool.try_submit(|| "a").unwrap();
    let b = pool.try_submit(|| "b").unwrap();
    assert!(pool.try_submit(|| "full").unwrap_err().is_full());
    // Cancelling gives the slots back while the worker is still held: no pop needed.
    assert!(a.cancel() && b.cancel());
    let c = pool.try_submit(|| "c").unwrap();
    let d = pool.try_submit(|| "d").unwrap();
    assert!(pool.try_submit(|| "full again").unwrap_err().is_full());
    latch.open();
    assert_eq!(value(blocker), "blocker");
    assert!(outcome(a).unwrap_err().is_cancelled());
    assert!(outcome(b).unwrap_err().is_cancelled());
    assert_eq!(value(c), "c");
    assert_eq!(value(d), "d");
}
