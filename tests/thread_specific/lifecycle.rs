//! A worker's life: lazy creation and reuse, `max_workers`, thread names, the initializer (and
//! the pool it breaks by panicking), retirement after the idle timeout, survival of task panics,
//! and replacement of a worker that dies.

use std::collections::HashSet;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::{self, ThreadId};
use std::time::Duration;

use concurrent_futures::{default_max_workers, TaskError, ThreadPoolExecutor};

use crate::util::eventually;
use crate::{outcome, start_held, value, Latch, Watchdog, LONG};

fn thread_name() -> String {
    thread::current().name().unwrap_or("<unnamed>").to_owned()
}

#[test]
fn threads_start_lazily_and_are_reused() {
    let _w = Watchdog::for_this_test();
    let pool = ThreadPoolExecutor::with_max_workers(8).unwrap();
    assert_eq!(pool.thread_count(), 0, "no thread before the first submit");
    let mut ids = HashSet::new();
    for _ in 0..3 {
        ids.insert(value(pool.submit(|| thread::current().id()).unwrap()));
    }
    // Each submit found the previous task's worker available: one thread did everything.
    assert_eq!(pool.thread_count(), 1);
    assert_eq!(ids.len(), 1);
}

#[test]
fn blocked_tasks_never_start_more_than_max_workers() {
    let _w = Watchdog::for_this_test();
    let pool = ThreadPoolExecutor::with_max_workers(4).unwrap();
    let latch = Latch::new();
    // Four tasks occupy the four workers; the other 56 wait in the queue.
    let mut futures = start_held(&pool, &latch, 4, || thread::current().id());
    for _ in 4..60 {
        let l = latch.handle();
        futures.push(
            pool.submit(move || {
                l.wait();
                thread::current().id()
            })
            .unwrap(),
        );
    }
    assert_eq!(pool.thread_count(), 4);
    latch.open();
    let threads: HashSet<_> = futures.into_iter().map(value).collect();
    assert_eq!(threads.len(), 4);
    assert_eq!(pool.thread_count(), 4);
}

#[test]
fn zero_workers_or_zero_queue_is_a_build_error() {
    let _w = Watchdog::for_this_test();
    let err = ThreadPoolExecutor::with_max_workers(0).unwrap_err();
    assert!(err.to_string().contains("max_workers"), "{err}");
    let err = ThreadPoolExecutor::builder()
        .max_workers(0)
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("max_workers"), "{err}");
    let err = ThreadPoolExecutor::builder()
        .max_queued(0)
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("max_queued"), "{err}");
    assert!(ThreadPoolExecutor::with_max_workers(1).is_ok());
}

#[test]
fn default_max_workers_is_pythons() {
    let _w = Watchdog::for_this_test();
    let cpus = thread::available_parallelism().map_or(1, |n| n.get());
    let expected = (cpus + 4).min(32);
    assert_eq!(default_max_workers(), expected);
    assert_eq!(ThreadPoolExecutor::new().max_workers(), expected);
    assert_eq!(ThreadPoolExecutor::default().max_workers(), expected);
    assert_eq!(
        ThreadPoolExecutor::builder().build().unwrap().max_workers(),
        expected
    );
}

/// `ThreadPoolExecutor-N_i` → `(N, i)`.
fn parse_default_name(name: &str) -> (usize, usize) {
    let rest = name
        .strip_prefix("ThreadPoolExecutor-")
        .unwrap_or_else(|| panic!("unexpected thread name {name:?}"));
    let (n, i) = rest.split_once('_').expect("N_i");
    (
        n.parse().expect("pool number"),
        i.parse().expect("worker index"),
    )
}

#[test]
fn default_thread_names_number_pools_and_workers() {
    let _w = Watchdog::for_this_test();
    let a = ThreadPoolExecutor::new();
    let b = ThreadPoolExecutor::new();
    let (na, ia) = parse_default_name(&value(a.submit(thread_name).unwrap()));
    let (nb, ib) = parse_default_name(&value(b.submit(thread_name).unwrap()));
    assert_ne!(na, nb, "each pool has its own number");
    assert_eq!((ia, ib), (0, 0), "the first worker of a pool is _0");
}

#[test]
fn custom_thread_name_prefix() {
    let _w = Watchdog::for_this_test();
    let pool = ThreadPoolExecutor::builder()
        .max_workers(2)
        .thread_name_prefix("loader")
        .build()
        .unwrap();
    let latch = Latch::new();
    let futures = start_held(&pool, &latch, 2, thread_name);
    latch.open();
    let mut names: Vec<_> = futures.into_iter().map(value).collect();
    names.sort();
    assert_eq!(names, ["loader_0", "loader_1"]);
}

thread_local! {
    static INITIALISED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

#[test]
fn initializer_runs_once_per_worker_thread_before_its_tasks() {
    let _w = Watchdog::for_this_test();
    let inits: Arc<Mutex<Vec<ThreadId>>> = Arc::default();
    let recorded = inits.clone();
    let pool = ThreadPoolExecutor::builder()
        .max_workers(3)
        .initializer(move || {
            recorded.lock().unwrap().push(thread::current().id());
            INITIALISED.with(|c| c.set(true));
        })
        .build()
        .unwrap();
    let latch = Latch::new();
    let task = || (thread::current().id(), INITIALISED.with(|c| c.get()));
    // Three held tasks force three threads; more tasks reuse them.
    let mut futures = start_held(&pool, &latch, 3, task);
    latch.open();
    futures.extend((0..30).map(|_| pool.submit(task).unwrap()));
    let ran: Vec<_> = futures.into_iter().map(value).collect();
    pool.shutdown(true, false);

    let inits = inits.lock().unwrap().clone();
    let distinct: HashSet<_> = inits.iter().copied().collect();
    assert_eq!(inits.len(), 3, "one initializer call per thread: {inits:?}");
    assert_eq!(distinct.len(), 3);
    for (id, initialised) in ran {
        assert!(initialised, "a task ran before its thread's initializer");
        assert!(distinct.contains(&id));
    }
}

#[test]
fn initializer_panic_breaks_the_pool() {
    let _w = Watchdog::for_this_test();
    let pool = ThreadPoolExecutor::builder()
        .max_workers(2)
        .initializer(|| panic!("no database"))
        .build()
        .unwrap();
    // The first submit is always accepted (no worker has run the initializer yet); later ones
    // may already be refused. Either way, nothing runs.
    let first = pool.submit(|| 1).unwrap();
    let mut accepted = vec![first];
    for i in 2..6 {
        match pool.submit(move || i) {
            Ok(f) => accepted.push(f),
            Err(e) => assert!(e.is_broken(), "{e:?}"),
        }
    }
    for f in accepted {
        match outcome(f) {
            Err(TaskError::BrokenExecutor { cause }) => {
                assert!(cause.contains("initializer panicked"), "{cause}");
                assert!(cause.contains("no database"), "{cause}");
            }
            other => panic!("expected a broken executor, got {other:?}"),
        }
    }
    let cause = pool.broken_cause().expect("the pool is broken");
    assert!(cause.contains("no database"), "{cause}");
    assert!(pool.is_shutdown());

    let err = pool.submit(|| 7).unwrap_err();
    assert!(err.is_broken() && !err.is_shutdown(), "{err:?}");
    assert!(
        err.to_string()
            .starts_with("cannot submit: broken executor:"),
        "{err}"
    );
    assert!(
        matches!(&err, concurrent_futures::SubmitError::Broken(_, c) if c.contains("no database"))
    );
    assert_eq!(err.into_inner()(), 7, "the closure comes back");
    assert!(pool.try_submit(|| 8).unwrap_err().is_broken());
    assert_eq!(
        pool.submit_fn(|s: String| s.len(), "arg".to_string())
            .unwrap_err()
            .into_inner(),
        "arg"
    );
    assert!(pool
        .map(|x: u8| x, 0..3)
        .next()
        .unwrap()
        .unwrap_err()
        .is_broken());
}

#[test]
fn idle_workers_retire_and_are_recreated_on_demand() {
    let _w = Watchdog::for_this_test();
    let pool = ThreadPoolExecutor::builder()
        .max_workers(3)
        .thread_name_prefix("retiring")
        .idle_timeout(Duration::from_millis(30))
        .build()
        .unwrap();
    let latch = Latch::new();
    let futures = start_held(&pool, &latch, 3, thread_name);
    assert_eq!(pool.thread_count(), 3);
    latch.open();
    let first: HashSet<String> = futures.into_iter().map(value).collect();
    assert_eq!(first.len(), 3);
    assert!(
        eventually(LONG, || pool.thread_count() == 0),
        "idle workers did not retire: {} left",
        pool.thread_count()
    );
    // A new worker is started for the next task.
    let name = value(pool.submit(thread_name).unwrap());
    assert!(!first.contains(&name), "{name} should be a new thread");
    assert!(name.starts_with("retiring_"), "{name}");
    assert!(pool.thread_count() >= 1);
    assert_eq!(value(pool.submit(|| 5).unwrap()), 5);
}

#[test]
fn a_panicking_task_does_not_kill_its_worker() {
    let _w = Watchdog::for_this_test();
    let pool = ThreadPoolExecutor::with_max_workers(1).unwrap();
    let (tx, rx) = mpsc::channel();
    let failed = pool
        .submit(move || -> u8 {
            tx.send(thread::current().id()).unwrap();
            panic!("task failure")
        })
        .unwrap();
    assert_eq!(
        outcome(failed).unwrap_err().panic_message(),
        Some("task failure")
    );
    let panicked_on = rx.recv_timeout(LONG).unwrap();
    let next_on = value(pool.submit(|| thread::current().id()).unwrap());
    assert_eq!(panicked_on, next_on, "the same worker serves the next task");
    assert_eq!(pool.thread_count(), 1);
}

#[test]
fn a_killed_worker_is_replaced() {
    let _w = Watchdog::for_this_test();
    let pool = ThreadPoolExecutor::with_max_workers(1).unwrap();
    let before = value(pool.submit(|| thread::current().id()).unwrap());
    pool.__kill_one_worker().unwrap();
    let after = value(pool.submit(|| thread::current().id()).unwrap());
    assert_ne!(before, after, "the task ran on a replacement thread");
    assert_eq!(pool.thread_count(), 1);
    let results: Vec<_> = (0..20)
        .map(|i| pool.submit(move || i * 2).unwrap())
        .map(value)
        .collect();
    assert_eq!(results, (0..20).map(|i| i * 2).collect::<Vec<_>>());

    // Killing the worker of a pool that has none yet: the killed one is replaced too.
    let fresh = ThreadPoolExecutor::with_max_workers(2).unwrap();
    fresh.__kill_one_worker().unwrap();
    assert_eq!(value(fresh.submit(|| 3).unwrap()), 3);
    assert!(fresh.thread_count() <= 2);

    // After shutdown the hook is refused like any submit.
    fresh.shutdown(true, false);
    assert!(fresh.__kill_one_worker().unwrap_err().is_shutdown());
}
