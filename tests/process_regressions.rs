//! Process-engine races found by the chaos runner (`examples/chaos.rs`), one test each:
//!
//! - frames pipelined to one worker by two threads at once must reach it in the order the
//!   dispatcher assigned them (else the reply names an unexpected task and the worker is killed
//!   as a protocol error, failing an innocent task);
//! - `shutdown(cancel_futures = true)` must not drop a task that was already marked running and
//!   queued again because the worker it was pipelined to died (its future ended as
//!   `BrokenExecutor: the promise was dropped without a result`);
//! - a pool dropped on one of its own reader threads (by a done-callback) must not leave its
//!   timer thread behind;
//! - a `map` whose frames are larger than the ring, pipelined to a busy worker, must not
//!   deadlock: the reader thread sending the next task into a full ring while the worker waits
//!   for room to write its reply;
//! - a reply that comes after a waiting thread stopped reading the worker's ring itself (its
//!   `result_timeout` ran out) must still reach the future: the thread asked the worker not to
//!   ring the reader while it read, and must ask again as it leaves.
//!
//! The tests of this file run one at a time (`serial`): the last one counts the pool's threads.

#![cfg(all(any(unix, windows), feature = "process"))]

#[cfg(unix)]
use std::sync::Arc;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use concurrent_futures::{register, Future, ProcessPoolExecutor, TaskError};

#[path = "suite/util.rs"]
mod util;

#[cfg(unix)]
use util::eventually;
use util::{Watchdog, LONG};

fn square(x: u64) -> u64 {
    x * x
}

fn kill_self(_: ()) -> u64 {
    util::kill_self();
    loop {
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Keeps a new worker busy initializing, so a re-queued task waits in the parent meanwhile
/// (only to stay busy; nothing is synchronised by it).
fn slow_init(_: ()) {
    std::thread::sleep(Duration::from_secs(1));
}

fn sleep_ms(ms: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(ms));
    ms
}

fn double(v: Vec<u8>) -> Vec<u8> {
    let mut w = v.clone();
    w.extend_from_slice(&v);
    w
}

register!(square, kill_self, slow_init, sleep_ms, double);

fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

fn result<T>(mut f: Future<T>) -> Result<T, TaskError> {
    let r = f.result_timeout(LONG);
    assert!(
        !matches!(r, Err(TaskError::Timeout { .. })),
        "no result in {LONG:?}"
    );
    r
}

#[test]
fn frames_pipelined_by_concurrent_submitters_arrive_in_order() {
    let _serial = serial();
    let _watchdog = Watchdog::for_this_test();
    // One worker, four submitters: their dispatches interleave on the one worker's pipeline.
    let pool = ProcessPoolExecutor::with_max_workers(1).unwrap();
    let n = if cfg!(debug_assertions) {
        2_000
    } else {
        10_000
    };
    std::thread::scope(|s| {
        for t in 0..4u64 {
            let pool = &pool;
            s.spawn(move || {
                for i in 0..n {
                    let x = t * 1_000_000 + i;
                    let f = pool.submit_fn(square, x).unwrap();
                    assert_eq!(result(f), Ok(x * x), "task {x}");
                }
            });
        }
    });
}

#[test]
fn large_frames_pipelined_to_a_busy_worker_do_not_deadlock() {
    let _serial = serial();
    let _watchdog = Watchdog::for_this_test();
    // A buffer larger than the worker's pipeline leaves tasks waiting in the parent, so the
    // reader thread sends the next one as each reply comes, into a ring already holding the
    // tasks queued behind the running one. Arguments of 200 kB and replies of 400 kB: neither
    // fits in the ring's free space beside the others.
    let pool = ProcessPoolExecutor::with_max_workers(1).unwrap();
    let items = (0..48u8).map(|i| vec![i; 200_000]);
    let opts = concurrent_futures::MapOptions::new().buffer_size(48);
    for (i, r) in pool.map_with(double, items, opts).enumerate() {
        let v = r.unwrap();
        assert_eq!(v.len(), 400_000);
        assert!(v.iter().all(|&b| b == i as u8), "item {i}");
    }
}

#[test]
fn a_reply_after_the_waiting_thread_gave_up_still_arrives() {
    let _serial = serial();
    let _watchdog = Watchdog::for_this_test();
    let pool = ProcessPoolExecutor::with_max_workers(1).unwrap();
    for _ in 0..3 {
        let mut f = pool.submit_fn(sleep_ms, 30).unwrap();
        // The task sleeps 30 ms: this wait, which reads the ring itself meanwhile, times out.
        assert!(matches!(
            f.result_timeout(Duration::from_millis(1)),
            Err(TaskError::Timeout { .. })
        ));
        // From here only the reader thread reads the ring, woken by the worker's doorbell.
        let (tx, rx) = std::sync::mpsc::channel();
        f.add_done_callback(move |f| {
            let _ = tx.send(f.done());
        });
        assert_eq!(rx.recv_timeout(LONG), Ok(true), "the reply never arrived");
    }
}

#[test]
fn cancel_futures_cancels_a_task_requeued_by_a_dead_worker() {
    let _serial = serial();
    let _watchdog = Watchdog::for_this_test();
    let pool = ProcessPoolExecutor::builder()
        .max_workers(1)
        .initializer(slow_init, ())
        .build()
        .unwrap();
    // `queued` waits in the parent behind `crash` (tasks from `submit` are never queued inside
    // a busy worker).
    let crash = pool.submit_fn(kill_self, ()).unwrap();
    let queued = pool.submit_fn(square, 7).unwrap();
    assert!(result(crash).unwrap_err().is_worker_died());
    // The worker died; `queued` has not started, so cancel_futures cancels it.
    assert!(!queued.running());
    pool.shutdown(false, true);
    assert!(result(queued).unwrap_err().is_cancelled());
}

/// (Counts threads by name in Linux's /proc.)
#[cfg(unix)]
#[test]
fn a_pool_dropped_on_its_own_reader_thread_leaves_no_thread() {
    let _serial = serial();
    let _watchdog = Watchdog::for_this_test();
    let pool_threads = || {
        std::fs::read_dir("/proc/self/task")
            .unwrap()
            .filter_map(Result::ok)
            .filter(|t| {
                std::fs::read_to_string(t.path().join("comm"))
                    .is_ok_and(|c| c.starts_with("ProcessPoolExec"))
            })
            .count()
    };
    assert!(
        eventually(LONG, || pool_threads() == 0),
        "earlier pools ended"
    );
    for _ in 0..5 {
        // The idle timeout starts the timer thread.
        let pool = Arc::new(
            ProcessPoolExecutor::builder()
                .max_workers(1)
                .idle_timeout(Duration::from_secs(60))
                .build()
                .unwrap(),
        );
        let f = pool.submit_fn(sleep_ms, 50).unwrap();
        let last = Mutex::new(Some(pool.clone()));
        // Whichever of the callback and this thread drops its handle last runs the pool's Drop;
        // when it is the callback, that is on the pool's reader thread.
        f.add_done_callback(move |_| drop(last.lock().unwrap().take()));
        drop(pool);
        assert_eq!(result(f), Ok(50));
    }
    assert!(
        eventually(LONG, || pool_threads() == 0),
        "{} process-pool threads left",
        pool_threads()
    );
}
