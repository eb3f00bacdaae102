//! Tasks that use their own pool: waiting on tasks they submitted (even with a single worker),
//! `as_completed` and `wait` inside a task, shutting the pool down, dropping its last handle.

use std::sync::mpsc;
use std::sync::Arc;

use concurrent_futures::{as_completed, wait, ReturnWhen, ThreadPoolExecutor};

use crate::{value, Latch, Watchdog, LONG};

fn one_worker() -> Arc<ThreadPoolExecutor> {
    Arc::new(ThreadPoolExecutor::with_max_workers(1).unwrap())
}

#[test]
fn a_task_waits_on_a_task_it_submitted_with_one_worker() {
    let _w = Watchdog::for_this_test();
    let pool = one_worker();
    let p = pool.clone();
    let outer = pool
        .submit(move || {
            // The only worker is busy running this task; Python deadlocks here.
            let inner = p.submit(|| 21).unwrap();
            value(inner) * 2
        })
        .unwrap();
    assert_eq!(value(outer), 42);
    assert_eq!(pool.thread_count(), 1);
}

fn depth(pool: Arc<ThreadPoolExecutor>, n: u32) -> u32 {
    if n == 0 {
        return 0;
    }
    let p = pool.clone();
    value(pool.submit(move || depth(p, n - 1)).unwrap()) + 1
}

#[test]
fn nested_waits_many_levels_deep() {
    let _w = Watchdog::for_this_test();
    let pool = one_worker();
    let p = pool.clone();
    assert_eq!(value(pool.submit(move || depth(p, 8)).unwrap()), 8);
    // With several workers too.
    let pool = Arc::new(ThreadPoolExecutor::with_max_workers(2).unwrap());
    let p = pool.clone();
    assert_eq!(value(pool.submit(move || depth(p, 8)).unwrap()), 8);
}

#[test]
fn as_completed_and_wait_inside_a_task() {
    let _w = Watchdog::for_this_test();
    let pool = one_worker();
    let p = pool.clone();
    let outer = pool
        .submit(move || {
            let futures: Vec<_> = (1..=5u64)
                .map(|i| p.submit(move || i * i).unwrap())
                .collect();
            let via_as_completed: u64 = as_completed(futures).map(value).sum();

            let futures: Vec<_> = (1..=5u64).map(|i| p.submit(move || i).unwrap()).collect();
            let first = wait(&futures, Some(LONG), ReturnWhen::FirstCompleted);
            assert!(!first.done.is_empty());
            drop(first);
            let all = wait(&futures, Some(LONG), ReturnWhen::AllCompleted);
            assert!(all.not_done.is_empty());
            drop(all);
            let via_wait: u64 = futures.into_iter().map(value).sum();
            (via_as_completed, via_wait)
        })
        .unwrap();
    assert_eq!(value(outer), (55, 15));
}

#[test]
fn a_task_shuts_down_its_own_pool() {
    let _w = Watchdog::for_this_test();
    let pool = Arc::new(ThreadPoolExecutor::with_max_workers(2).unwrap());
    let queued_before: Vec<_> = (0..4).map(|i| pool.submit(move || i).unwrap()).collect();
    let p = pool.clone();
    let task = pool
        .submit(move || {
            // Waits for the other workers, not for itself.
            p.shutdown(true, false);
            p.is_shutdown()
        })
        .unwrap();
    assert!(value(task));
    assert!(pool.submit(|| 0).unwrap_err().is_shutdown());
    let got: Vec<_> = queued_before.into_iter().map(value).collect();
    assert_eq!(got, [0, 1, 2, 3]);
}

#[test]
fn a_callback_drops_the_last_handle_of_the_pool() {
    let _w = Watchdog::for_this_test();
    let pool = Arc::new(ThreadPoolExecutor::with_max_workers(2).unwrap());
    let latch = Latch::new();
    let l = latch.handle();
    let f = pool
        .submit(move || {
            l.wait();
            5
        })
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let last = pool.clone();
    f.add_done_callback(move |_| {
        // Runs on the worker that completed `f`: dropping the pool there shuts it down
        // (waiting for the other workers, not for this one).
        drop(last);
        tx.send("pool dropped").unwrap();
    });
    drop(pool);
    latch.open();
    assert_eq!(rx.recv_timeout(LONG), Ok("pool dropped"));
    assert_eq!(value(f), 5);
}

#[test]
fn a_task_drops_the_last_handle_of_the_pool() {
    let _w = Watchdog::for_this_test();
    let pool = Arc::new(ThreadPoolExecutor::with_max_workers(1).unwrap());
    let latch = Latch::new();
    let l = latch.handle();
    let p = pool.clone();
    let f = pool
        .submit(move || {
            l.wait();
            drop(p); // the last handle, once the test dropped its own
            "dropped"
        })
        .unwrap();
    drop(pool);
    latch.open();
    assert_eq!(value(f), "dropped");
}
