//! Retries: a task whose worker dies under it runs again, up to the pool's `retries` or its own
//! `SubmitOptions::retries`, and the last error lists every attempt. What the parent itself
//! stopped (a time limit, `kill`) and panics are not retried.

#![cfg(all(any(unix, windows), feature = "process"))]

use std::path::PathBuf;
use std::time::Duration;

use concurrent_futures::{register, Future, ProcessPoolExecutor, SubmitOptions, TaskError};

#[path = "suite/util.rs"]
mod util;

const LIMIT: Duration = Duration::from_secs(60);

fn result<T>(mut f: Future<T>) -> Result<T, TaskError> {
    f.result_timeout(LIMIT)
}

/// A fresh directory for one test's attempt counter.
fn counter(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cf-retries-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn attempts(dir: &PathBuf) -> usize {
    std::fs::read_dir(dir).map_or(0, |d| d.count())
}

/// Records an attempt in `dir`, then kills its own worker while it has made fewer than
/// `crashes` attempts; returns the attempt number.
fn crash_first((dir, crashes): (String, usize)) -> usize {
    let n = std::fs::read_dir(&dir).unwrap().count() + 1;
    std::fs::write(format!("{dir}/{n}"), b"").unwrap();
    if n <= crashes {
        // The worker dies at once, as if the OOM killer took it.
        util::kill_self();
    }
    n
}

fn panics(_: ()) -> u32 {
    panic!("not a crash")
}

fn stuck(dir: String) {
    let n = std::fs::read_dir(&dir).unwrap().count() + 1;
    std::fs::write(format!("{dir}/{n}"), b"").unwrap();
    loop {
        std::thread::park();
    }
}

register!(crash_first, panics, stuck);

/// The pool's `retries(2)`: a task that crashes twice succeeds on its third attempt.
#[test]
fn a_task_whose_worker_died_runs_again() {
    let dir = counter("again");
    let pool = ProcessPoolExecutor::builder()
        .max_workers(1)
        .retries(2)
        .build()
        .unwrap();
    let arg = (dir.display().to_string(), 2);
    assert_eq!(result(pool.submit_fn(crash_first, arg).unwrap()), Ok(3));
    assert_eq!(attempts(&dir), 3);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Out of retries: the error is the last death, and lists how every attempt ended.
#[test]
fn the_last_error_lists_every_attempt() {
    let dir = counter("exhausted");
    let pool = ProcessPoolExecutor::builder()
        .max_workers(2)
        .retries(2)
        .build()
        .unwrap();
    let arg = (dir.display().to_string(), 10);
    let err = result(pool.submit_fn(crash_first, arg).unwrap()).unwrap_err();
    assert!(err.is_worker_died(), "{err}");
    let shown = err.to_string();
    assert!(shown.contains("attempt 3 of 3"), "{shown}");
    assert_eq!(shown.matches(util::KILLED).count(), 3, "{shown}");
    assert_eq!(attempts(&dir), 3);
    let _ = std::fs::remove_dir_all(&dir);
}

/// `SubmitOptions::retries` overrides the pool's default, both ways.
#[test]
fn per_task_retries_override_the_pool() {
    let dir = counter("override");
    let none = ProcessPoolExecutor::with_max_workers(1).unwrap();
    let arg = (dir.display().to_string(), 1);
    let f = none
        .submit_fn_with(crash_first, arg.clone(), SubmitOptions::new().retries(1))
        .unwrap();
    assert_eq!(result(f), Ok(2));
    let _ = std::fs::remove_dir_all(&dir);
    let dir = counter("override-off");
    let some = ProcessPoolExecutor::builder()
        .max_workers(1)
        .retries(5)
        .build()
        .unwrap();
    let arg = (dir.display().to_string(), 1);
    let f = some
        .submit_fn_with(crash_first, arg, SubmitOptions::new().retries(0))
        .unwrap();
    assert!(result(f).unwrap_err().is_worker_died());
    assert_eq!(attempts(&dir), 1);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Panics, time limits and `kill` are not retried: only a worker's death from outside is.
#[test]
fn panics_timeouts_and_kills_are_not_retried() {
    let pool = ProcessPoolExecutor::builder()
        .max_workers(1)
        .retries(3)
        .build()
        .unwrap();
    assert!(result(pool.submit_fn(panics, ()).unwrap())
        .unwrap_err()
        .is_panic());
    let dir = counter("timeout");
    let opts = SubmitOptions::new().timeout(Duration::from_millis(200));
    let f = pool
        .submit_fn_with(stuck, dir.display().to_string(), opts)
        .unwrap();
    assert!(result(f).unwrap_err().is_task_timeout());
    assert_eq!(attempts(&dir), 1);
    let _ = std::fs::remove_dir_all(&dir);
    let dir = counter("kill");
    let f = pool.submit_fn(stuck, dir.display().to_string()).unwrap();
    // Bounded: the task marks its start in `dir`.
    let deadline = std::time::Instant::now() + LIMIT;
    while attempts(&dir) == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the task never started"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(pool.kill(&f));
    assert!(result(f).unwrap_err().is_worker_died());
    assert_eq!(attempts(&dir), 1);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A chunk of `map` whose worker died is retried as a whole; every item gets its value.
#[test]
fn a_chunk_whose_worker_died_runs_again() {
    let dir = counter("chunk");
    let pool = ProcessPoolExecutor::builder()
        .max_workers(1)
        .retries(1)
        .build()
        .unwrap();
    let d = dir.display().to_string();
    let items = vec![(d.clone(), 1), (d.clone(), 0), (d, 0)];
    let out: Vec<_> = pool
        .map_with(
            crash_first,
            items,
            concurrent_futures::MapOptions::new().chunksize(3),
        )
        .collect();
    // The first attempt died at its first item; the second ran all three.
    assert_eq!(out, [Ok(2), Ok(3), Ok(4)]);
    let _ = std::fs::remove_dir_all(&dir);
}
