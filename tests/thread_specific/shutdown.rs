//! `shutdown`, cancellation and `map` with closures, where what ran (and what was dropped) can be
//! counted exactly.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use concurrent_futures::{FutureState, MapOptions, ThreadPoolExecutor};

use crate::{outcome, value, Latch, Watchdog, LONG};

/// Counts its drops.
struct DropCounter(Arc<AtomicUsize>);

impl Drop for DropCounter {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// A one-worker pool whose worker is running a task held by the latch.
fn held_pool() -> (
    ThreadPoolExecutor,
    Latch,
    concurrent_futures::Future<&'static str>,
) {
    let pool = ThreadPoolExecutor::with_max_workers(1).unwrap();
    let latch = Latch::new();
    let (tx, rx) = mpsc::channel();
    let l = latch.handle();
    let blocker = pool
        .submit(move || {
            tx.send(()).unwrap();
            l.wait();
            "blocker"
        })
        .unwrap();
    rx.recv_timeout(LONG).expect("the blocker started");
    (pool, latch, blocker)
}

#[test]
fn shutdown_without_wait_returns_and_queued_work_still_completes() {
    let _w = Watchdog::for_this_test();
    let (pool, latch, blocker) = held_pool();
    let order: Arc<Mutex<Vec<i32>>> = Arc::default();
    let queued: Vec<_> = (0..5)
        .map(|i| {
            let order = order.clone();
            pool.submit(move || {
                order.lock().unwrap().push(i);
                i
            })
            .unwrap()
        })
        .collect();
    pool.shutdown(false, false);
    assert!(pool.is_shutdown());
    // The latch is closed, so nothing can have finished: shutdown did not wait.
    assert!(queued.iter().all(|f| f.state() == FutureState::Pending));
    assert!(pool.submit(|| 9).unwrap_err().is_shutdown());
    latch.open();
    assert_eq!(value(blocker), "blocker");
    let got: Vec<_> = queued.into_iter().map(value).collect();
    assert_eq!(got, [0, 1, 2, 3, 4]);
    assert_eq!(
        *order.lock().unwrap(),
        [0, 1, 2, 3, 4],
        "queued tasks ran in order"
    );
    pool.shutdown(true, false);
    assert_eq!(pool.thread_count(), 0, "every worker exited");
}

#[test]
fn cancel_futures_cancels_only_unstarted_tasks_and_drops_them() {
    let _w = Watchdog::for_this_test();
    let (pool, latch, blocker) = held_pool();
    let ran = Arc::new(AtomicUsize::new(0));
    let dropped = Arc::new(AtomicUsize::new(0));
    let queued: Vec<_> = (0..5)
        .map(|_| {
            let guard = DropCounter(dropped.clone());
            let ran = ran.clone();
            pool.submit(move || {
                let _guard = guard;
                ran.fetch_add(1, Ordering::SeqCst);
            })
            .unwrap()
        })
        .collect();
    pool.shutdown(false, true);
    for f in &queued {
        assert_eq!(f.state(), FutureState::Cancelled);
    }
    assert_eq!(
        dropped.load(Ordering::SeqCst),
        5,
        "cancelled closures are dropped at once"
    );
    assert_eq!(
        blocker.state(),
        FutureState::Running,
        "a running task is not cancelled"
    );
    latch.open();
    assert_eq!(value(blocker), "blocker");
    pool.shutdown(true, false);
    assert_eq!(ran.load(Ordering::SeqCst), 0);
    for f in queued {
        assert!(outcome(f).unwrap_err().is_cancelled());
    }
}

#[test]
fn cancel_drops_the_closure_at_once() {
    let _w = Watchdog::for_this_test();
    let (pool, latch, _blocker) = held_pool();
    let dropped = Arc::new(AtomicUsize::new(0));
    let guard = DropCounter(dropped.clone());
    let f = pool
        .submit(move || {
            let _guard = guard;
        })
        .unwrap();
    assert_eq!(dropped.load(Ordering::SeqCst), 0);
    assert!(f.cancel());
    assert_eq!(dropped.load(Ordering::SeqCst), 1);
    assert!(f.cancel());
    assert_eq!(dropped.load(Ordering::SeqCst), 1);
    latch.open();
}

#[test]
fn dropping_a_map_cancels_its_unstarted_closures() {
    let _w = Watchdog::for_this_test();
    let pool = ThreadPoolExecutor::with_max_workers(1).unwrap();
    let latch = Latch::new();
    let ran = Arc::new(AtomicUsize::new(0));
    let (started_tx, started_rx) = mpsc::channel();
    let (l, r) = (latch.handle(), ran.clone());
    let it = pool.map_with(
        move |i: u32| {
            if i == 0 {
                started_tx.send(()).unwrap();
                l.wait();
            }
            r.fetch_add(1, Ordering::SeqCst);
            i
        },
        0..100,
        MapOptions::new().buffer_size(10),
    );
    started_rx.recv_timeout(LONG).expect("item 0 started");
    assert_eq!(pool.queued(), 9, "only the buffer was submitted");
    drop(it);
    latch.open();
    pool.shutdown(true, false);
    assert_eq!(ran.load(Ordering::SeqCst), 1, "only the started item ran");
}

#[test]
fn map_with_closures_keeps_order_and_reports_each_failure() {
    let _w = Watchdog::for_this_test();
    let pool = ThreadPoolExecutor::with_max_workers(3).unwrap();
    let offset = 1000;
    let got: Vec<_> = pool
        .map(
            move |x: u32| {
                assert!(x != 4, "four is not allowed");
                x + offset
            },
            0..8,
        )
        .collect();
    assert_eq!(got.len(), 8);
    for (i, r) in got.into_iter().enumerate() {
        match r {
            Ok(v) => assert_eq!(v, i as u32 + 1000),
            Err(e) => {
                assert_eq!(i, 4);
                assert_eq!(e.panic_message(), Some("four is not allowed"));
            }
        }
    }
    let mut unordered: Vec<_> = pool
        .map_unordered_with(
            |s: &str| s.len(),
            ["a", "bb", "ccc"],
            MapOptions::new().buffer_size(1),
        )
        .map(Result::unwrap)
        .collect();
    unordered.sort();
    assert_eq!(unordered, [1, 2, 3]);
}

#[test]
fn dropping_the_pool_waits_for_running_and_queued_tasks() {
    let _w = Watchdog::for_this_test();
    let pool = ThreadPoolExecutor::with_max_workers(2).unwrap();
    let finished = Arc::new(AtomicUsize::new(0));
    let futures: Vec<_> = (0..10)
        .map(|i| {
            let finished = finished.clone();
            pool.submit(move || {
                std::thread::sleep(std::time::Duration::from_millis(i % 4)); // keeps busy
                finished.fetch_add(1, Ordering::SeqCst);
            })
            .unwrap()
        })
        .collect();
    drop(pool);
    assert_eq!(finished.load(Ordering::SeqCst), 10);
    assert!(futures.iter().all(|f| f.done()));
}

/// Two threads call `shutdown(wait = true)` while a task is still held: neither returns before
/// the task has finished, whichever of them took the worker handles. (The check that neither
/// returned early can only pass spuriously on a slow machine, never fail spuriously.)
#[test]
fn concurrent_waiting_shutdowns_both_wait_for_the_task() {
    let _w = Watchdog::for_this_test();
    let pool = Arc::new(ThreadPoolExecutor::with_max_workers(1).unwrap());
    let latch = Latch::new();
    let (started_tx, started_rx) = mpsc::channel();
    let l = latch.handle();
    let task = Arc::new(
        pool.submit(move || {
            started_tx.send(()).unwrap();
            l.wait();
            7
        })
        .unwrap(),
    );
    started_rx.recv_timeout(LONG).expect("the task started");
    let (done_tx, done_rx) = mpsc::channel();
    let callers: Vec<_> = (0..2)
        .map(|_| {
            let (pool, task, done_tx) = (pool.clone(), task.clone(), done_tx.clone());
            std::thread::spawn(move || {
                pool.shutdown(true, false);
                done_tx.send(task.state()).unwrap();
            })
        })
        .collect();
    assert!(
        done_rx
            .recv_timeout(std::time::Duration::from_millis(300))
            .is_err(),
        "a shutdown(wait = true) returned while the task was still running"
    );
    latch.open();
    for _ in 0..2 {
        assert_eq!(done_rx.recv_timeout(LONG).unwrap(), FutureState::Finished);
    }
    for c in callers {
        c.join().unwrap();
    }
}
