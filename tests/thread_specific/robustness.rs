//! User code that misbehaves — a value whose `Drop` panics, a panic payload that is not a
//! string — never takes a worker down; and the static and `Debug` promises of the types.

use std::sync::mpsc;

use concurrent_futures::{
    AsCompletedTimeout, BuildError, Future, Promise, SubmitError, TaskError, ThreadPoolExecutor,
};

use crate::{outcome, value, Latch, Watchdog, LONG};

/// Panics when dropped.
struct Bomb;

impl Drop for Bomb {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            panic!("Bomb dropped");
        }
    }
}

fn worker_id(pool: &ThreadPoolExecutor) -> std::thread::ThreadId {
    value(pool.submit(|| std::thread::current().id()).unwrap())
}

#[test]
fn a_result_whose_drop_panics_does_not_kill_the_worker() {
    let _w = Watchdog::for_this_test();
    let pool = ThreadPoolExecutor::with_max_workers(1).unwrap();
    let worker = worker_id(&pool);
    let latch = Latch::new();
    let l = latch.handle();
    let f = pool
        .submit(move || {
            l.wait();
            Bomb
        })
        .unwrap();
    // Nobody will read the result: the worker holds the last reference and drops it.
    drop(f);
    latch.open();
    assert_eq!(worker_id(&pool), worker, "the same worker lives on");
    assert_eq!(pool.thread_count(), 1);
}

#[test]
fn a_cancelled_closure_whose_drop_panics_is_contained() {
    let _w = Watchdog::for_this_test();
    let pool = ThreadPoolExecutor::with_max_workers(1).unwrap();
    let latch = Latch::new();
    let (tx, rx) = mpsc::channel();
    let l = latch.handle();
    let _blocker = pool
        .submit(move || {
            tx.send(()).unwrap();
            l.wait();
        })
        .unwrap();
    rx.recv_timeout(LONG).unwrap();
    let bomb = Bomb;
    let f = pool
        .submit(move || {
            let _b = &bomb;
        })
        .unwrap();
    // Cancelling drops the closure (and its Bomb) here; the panic does not reach the caller.
    assert!(f.cancel());
    assert!(f.cancelled());
    latch.open();
    let worker = worker_id(&pool);
    assert_eq!(worker_id(&pool), worker);
}

#[test]
fn a_panic_payload_whose_drop_panics_is_contained() {
    let _w = Watchdog::for_this_test();
    let pool = ThreadPoolExecutor::with_max_workers(1).unwrap();
    let worker = worker_id(&pool);
    let f = pool
        .submit(|| -> u8 { std::panic::panic_any(Bomb) })
        .unwrap();
    let err = outcome(f).unwrap_err();
    assert!(err.is_panic());
    assert_eq!(worker_id(&pool), worker);
}

#[test]
fn panic_payloads_of_every_kind_are_described() {
    let _w = Watchdog::for_this_test();
    let pool = ThreadPoolExecutor::with_max_workers(2).unwrap();
    let literal = pool.submit(|| -> u8 { panic!("a literal") }).unwrap();
    let formatted = pool
        .submit(|| -> u8 {
            let n = 3;
            panic!("formatted {n}")
        })
        .unwrap();
    let number = pool
        .submit(|| -> u8 { std::panic::panic_any(42_i32) })
        .unwrap();
    let unit = pool.submit(|| -> u8 { std::panic::panic_any(()) }).unwrap();
    assert_eq!(
        outcome(literal).unwrap_err().panic_message(),
        Some("a literal")
    );
    assert_eq!(
        outcome(formatted).unwrap_err().panic_message(),
        Some("formatted 3")
    );
    for f in [number, unit] {
        let err = outcome(f).unwrap_err();
        assert!(err.is_panic());
        let msg = err.panic_message().unwrap();
        assert!(msg.contains("non-string panic payload"), "{msg}");
    }
}

fn assert_send_sync<T: Send + Sync>() {}
fn assert_send<T: Send>() {}
fn assert_error<T: std::error::Error + Send + Sync + 'static>() {}

#[test]
fn futures_and_executors_are_send_and_sync() {
    assert_send_sync::<Future<u32>>();
    assert_send_sync::<Future<String>>();
    assert_send_sync::<Future<Vec<Box<dyn std::any::Any + Send>>>>();
    assert_send_sync::<ThreadPoolExecutor>();
    assert_send::<Promise<String>>();
    assert_send_sync::<TaskError>();
    assert_error::<TaskError>();
    assert_error::<BuildError>();
    assert_error::<AsCompletedTimeout>();
    assert_error::<SubmitError<fn() -> u8>>();
}

#[test]
fn debug_shows_the_state_of_a_future() {
    let _w = Watchdog::for_this_test();
    let pool = ThreadPoolExecutor::with_max_workers(1).unwrap();
    let latch = Latch::new();
    let (tx, rx) = mpsc::channel();
    let l = latch.handle();
    let running = pool
        .submit(move || {
            tx.send(()).unwrap();
            l.wait();
            1
        })
        .unwrap();
    rx.recv_timeout(LONG).unwrap();
    let pending = pool.submit(|| 2).unwrap();
    let cancelled = pool.submit(|| 3).unwrap();
    assert!(cancelled.cancel());

    let debug = |f: &Future<i32>| format!("{f:?}");
    assert!(debug(&pending).contains("state: pending"), "{pending:?}");
    assert!(debug(&running).contains("state: running"), "{running:?}");
    assert!(
        debug(&cancelled).contains("state: cancelled"),
        "{cancelled:?}"
    );
    assert!(
        debug(&pending).starts_with("Future { id: 0x"),
        "{pending:?}"
    );

    latch.open();
    let mut finished = running;
    assert!(finished.wait_timeout(LONG));
    assert!(
        debug(&finished).contains("state: finished returned i32 }"),
        "{finished:?}"
    );
    assert_eq!(finished.try_result(), Ok(1));
    assert!(
        debug(&finished).contains("state: finished returned i32 (value taken)"),
        "{finished:?}"
    );
    let failed = pool.submit(|| -> i32 { panic!("x") }).unwrap();
    assert!(failed.wait_timeout(LONG));
    assert!(
        debug(&failed).contains("state: finished raised Panicked: task panicked: x"),
        "{failed:?}"
    );

    let pool_debug = format!("{pool:?}");
    assert!(
        pool_debug.starts_with("ThreadPoolExecutor {"),
        "{pool_debug}"
    );
    assert!(pool_debug.contains("max_workers: 1"), "{pool_debug}");
    let err = pool.try_submit(|| 0).map(|_| ());
    assert!(err.is_ok());
    pool.shutdown(true, false);
    let refused = pool.submit(|| 0).unwrap_err();
    assert_eq!(format!("{refused:?}"), "Shutdown(..)");
    let _ = value(pending);
}
