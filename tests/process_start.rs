//! A worker stuck in start-up (stopped before it said `HELLO`) holds the tasks waiting for it
//! no longer than the pool's `start_timeout`: it is killed, and a pool none of whose workers
//! ever started breaks with a message that says so. A task's own time limit counts only from
//! when it is sent, so it does not cover this wait.

#![cfg(all(any(unix, windows), feature = "process"))]

use std::time::Duration;

use concurrent_futures::{register, ProcessPoolExecutor, TaskError};

#[path = "suite/util.rs"]
mod util;

use util::{Watchdog, LONG};

fn double(x: u64) -> u64 {
    x * 2
}
register!(double);

#[test]
fn a_worker_stuck_in_start_up_is_given_up_after_the_start_timeout() {
    let _watchdog = Watchdog::for_this_test();
    let pool = ProcessPoolExecutor::builder()
        .max_workers(1)
        .task_timeout(Duration::from_secs(5))
        .start_timeout(Duration::from_millis(300))
        .__stall_worker_start()
        .build()
        .unwrap();
    let mut f = pool.submit_fn(double, 21).unwrap();
    // Not `Timeout`: the pool gave the worker up long before this wait ends.
    match f.result_timeout(LONG) {
        Err(TaskError::BrokenExecutor { cause }) => {
            assert!(
                cause.contains("did not start serving within 300ms"),
                "{cause}"
            );
        }
        other => panic!("expected BrokenExecutor, got {other:?}"),
    }
    assert!(pool.worker_pids().is_empty());
}
