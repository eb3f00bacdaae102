//! Resource use: a thread blocked on a future, and the workers of an idle pool, sleep instead of
//! spinning. Measured per thread (`/proc/self/task/<tid>/stat`), so that tests running in
//! parallel in the same process do not count. The bound is deliberately loose (half the wall
//! time): it catches a busy-wait, which burns about all of it, without depending on how loaded
//! the machine is.

#![cfg(target_os = "linux")]

use std::time::{Duration, Instant};

use concurrent_futures::{as_completed_timeout, wait, ReturnWhen, ThreadPoolExecutor};

use crate::util::{current_thread_cpu_time, thread_cpu_time, threads_named};
use crate::{start_held, value, Latch, Watchdog, LONG};

const WINDOW: Duration = Duration::from_millis(250);

#[test]
fn a_blocked_waiter_uses_no_cpu() {
    let _w = Watchdog::for_this_test();
    let pool = ThreadPoolExecutor::with_max_workers(1).unwrap();
    let latch = Latch::new();
    let l = latch.handle();
    let mut f = pool.submit(move || l.wait()).unwrap();

    let cpu_before = current_thread_cpu_time();
    let wall = Instant::now();
    assert!(f.result_timeout(WINDOW).unwrap_err().is_timeout());
    assert!(!f.wait_timeout(WINDOW));
    let sets = wait([&f], Some(WINDOW), ReturnWhen::AllCompleted);
    assert_eq!(sets.not_done.len(), 1);
    let mut it = as_completed_timeout([&f], WINDOW);
    assert!(it.next().unwrap().is_err());
    let wall = wall.elapsed();
    let cpu = current_thread_cpu_time().saturating_sub(cpu_before);
    assert!(
        cpu < wall / 2,
        "a blocked waiter used {cpu:?} of CPU in {wall:?} of waiting"
    );
    latch.open();
    assert!(f.wait_timeout(LONG));
}

#[test]
fn an_idle_pool_uses_no_cpu() {
    let _w = Watchdog::for_this_test();
    let prefix = "idlecpu";
    let pool = ThreadPoolExecutor::builder()
        .max_workers(4)
        .thread_name_prefix(prefix)
        .build()
        .unwrap();
    // Start all four workers (each running a held task), then let them go idle.
    let latch = Latch::new();
    let futures = start_held(&pool, &latch, 4, || ());
    latch.open();
    futures.into_iter().for_each(value);
    assert_eq!(pool.thread_count(), 4);

    let tids = threads_named(prefix);
    assert_eq!(tids.len(), 4, "worker threads named {prefix}_*: {tids:?}");
    let total = |tids: &[String]| tids.iter().map(|t| thread_cpu_time(t)).sum::<Duration>();
    let cpu_before = total(&tids);
    let wall = Instant::now();
    std::thread::sleep(WINDOW); // the observation window, not a wait for an event
    let wall = wall.elapsed();
    let cpu = total(&tids).saturating_sub(cpu_before);
    assert!(
        cpu < wall / 2,
        "four idle workers used {cpu:?} of CPU in {wall:?}"
    );
    // And they still work.
    assert_eq!(value(pool.submit(|| 7).unwrap()), 7);
}
