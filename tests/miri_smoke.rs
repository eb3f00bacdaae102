//! A small, fast tour of every path that reaches the crate's `unsafe` code, for Miri and
//! ThreadSanitizer (`scripts/miri.sh`, `scripts/tsan.sh`); it runs in the ordinary suite too.
//!
//! The unsafe code is in `src/thread/task.rs`: the closure slot (`UnsafeCell<Option<F>>`, touched
//! only by the winner of the CAS out of `PENDING`: a worker that runs it, a helper that runs it
//! inline, a canceller or a breaking pool that drops it), and the lifetime-erasing transmutes
//! that let scoped tasks borrow from the caller's stack and return borrowed results. Each test
//! below drives one of those paths with tiny counts, so that Miri (which runs ~1000× slower)
//! finishes in minutes; a bug shows up as Miri reporting undefined behaviour (a data race on the
//! slot, a use after free of borrowed data, a leak) or TSan reporting a race.
//!
//! Every blocking call has a generous timeout (Miri is slow), so a bug fails instead of hanging.

use std::future::Future as _;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::mpsc::channel;
use std::sync::Arc;
use std::time::Duration;

use concurrent_futures::{
    as_completed, wait, Future, FutureState, Promise, ReturnWhen, TaskError, ThreadPoolExecutor,
};

/// The timeout of every blocking call: generous, and more so under Miri.
const LIMIT: Duration = Duration::from_secs(if cfg!(miri) { 600 } else { 60 });

/// How many tasks the loops submit.
const N: usize = if cfg!(miri) { 4 } else { 64 };

fn pool(workers: usize) -> ThreadPoolExecutor {
    ThreadPoolExecutor::with_max_workers(workers).unwrap()
}

/// `result()` with the test's timeout.
fn get<T>(mut f: Future<T>) -> Result<T, TaskError> {
    f.result_timeout(LIMIT)
}

/// A value whose drop is counted (and which reads borrowed data when dropped).
struct Noisy<'a> {
    drops: &'a AtomicUsize,
    borrowed: &'a str,
}

impl Drop for Noisy<'_> {
    fn drop(&mut self) {
        assert!(!self.borrowed.is_empty());
        self.drops.fetch_add(1, SeqCst);
    }
}

/// A closure's captured guard, counting how often the closure is dropped.
struct DropCount(Arc<AtomicUsize>);

impl Drop for DropCount {
    fn drop(&mut self) {
        self.0.fetch_add(1, SeqCst);
    }
}

/// A worker's run path: the closure is taken from its slot, run, and its result moved out.
#[test]
fn submit_and_run() {
    let pool = pool(2);
    let futures: Vec<_> = (0..N)
        .map(|i| pool.submit(move || vec![i; 3]).unwrap())
        .collect();
    for (i, mut f) in futures.into_iter().enumerate() {
        assert_eq!(f.result_timeout(LIMIT), Ok(vec![i; 3]));
    }
    let f = pool
        .submit_fn(|s: String| s.len(), "four".to_string())
        .unwrap();
    assert_eq!(get(f), Ok(4));
}

/// The cancel path: a canceller wins the CAS and drops the closure; the worker that later pops
/// the job skips it. Closures are dropped exactly once either way.
#[test]
fn cancel_drops_the_closure_once() {
    let pool = pool(1);
    let drops = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = channel::<()>();
    let mut blocker = pool.submit(move || rx.recv_timeout(LIMIT).is_ok()).unwrap();
    let queued: Vec<_> = (0..N)
        .map(|_| {
            let guard = DropCount(drops.clone());
            pool.submit(move || {
                let _guard = guard;
                1
            })
            .unwrap()
        })
        .collect();
    let cancelled = queued.iter().filter(|f| f.cancel()).count();
    assert_eq!(
        cancelled, N,
        "every queued task is still pending behind the blocker"
    );
    assert_eq!(drops.load(SeqCst), N);
    tx.send(()).unwrap();
    assert_eq!(blocker.result_timeout(LIMIT), Ok(true));
    for f in queued {
        assert!(get(f).unwrap_err().is_cancelled());
    }
    drop(pool);
    assert_eq!(drops.load(SeqCst), N);
}

/// The race itself, on real threads: cancel right after submit, while a worker may be starting
/// the task. Each closure runs at most once and is dropped exactly once.
#[test]
fn cancel_races_run() {
    let pool = pool(2);
    let ran = Arc::new(AtomicUsize::new(0));
    let drops = Arc::new(AtomicUsize::new(0));
    let mut cancelled = 0;
    for _ in 0..N {
        let (r, guard) = (ran.clone(), DropCount(drops.clone()));
        let f = pool
            .submit(move || {
                let _guard = guard;
                r.fetch_add(1, SeqCst);
            })
            .unwrap();
        if f.cancel() {
            cancelled += 1;
        }
    }
    pool.shutdown(true, false);
    assert_eq!(ran.load(SeqCst), N - cancelled);
    assert_eq!(drops.load(SeqCst), N);
}

/// Shutdown with `cancel_futures`: the pool cancels queued jobs (`cancel_job`), dropping their
/// closures; the running one completes.
#[test]
fn shutdown_cancels_queued() {
    let pool = pool(1);
    let (tx, rx) = channel::<()>();
    let (started_tx, started_rx) = channel::<()>();
    let running = pool
        .submit(move || {
            started_tx.send(()).unwrap();
            rx.recv_timeout(LIMIT).is_ok()
        })
        .unwrap();
    started_rx.recv_timeout(LIMIT).unwrap();
    let queued: Vec<_> = (0..N).map(|i| pool.submit(move || i).unwrap()).collect();
    pool.shutdown(false, true);
    for f in &queued {
        assert_eq!(f.state(), FutureState::Cancelled);
    }
    tx.send(()).unwrap();
    assert_eq!(get(running), Ok(true));
    assert!(pool.submit(|| 0).unwrap_err().is_shutdown());
}

/// The breaking path: a panicking initializer breaks the pool, which fails queued tasks
/// (`fail`: the closure is dropped by the thread that won the CAS to `FINISHED`).
#[test]
fn broken_pool_fails_and_drops_tasks() {
    let pool = ThreadPoolExecutor::builder()
        .max_workers(1)
        .initializer(|| panic!("no resources"))
        .build()
        .unwrap();
    let drops = Arc::new(AtomicUsize::new(0));
    let guard = DropCount(drops.clone());
    match pool.submit(move || {
        let _guard = guard;
        1
    }) {
        Ok(mut f) => assert!(f.result_timeout(LIMIT).unwrap_err().is_broken()),
        Err(e) => assert!(e.is_broken()),
    }
    drop(pool);
    assert_eq!(drops.load(SeqCst), 1);
}

/// Panics become values; the worker survives and runs the next task.
#[test]
fn panics_are_contained() {
    let pool = pool(1);
    let f = pool.submit(|| -> u8 { panic!("boom") }).unwrap();
    let err = get(f).unwrap_err();
    assert_eq!(err.panic_message(), Some("boom"));
    assert_eq!(get(pool.submit(|| 1).unwrap()), Ok(1));
    assert_eq!(pool.thread_count(), 1);
}

/// Scoped tasks borrow from the stack (shared and mutable), return borrowed (non-`'static`)
/// results, and are joined at the end of the scope even when their futures are dropped.
#[test]
fn scoped_tasks_borrow() {
    let pool = pool(2);
    let words: Vec<String> = (0..N).map(|i| "w".repeat(i + 1)).collect();
    let mut data = vec![1u64; N];
    let total = pool.scope(|s| {
        for x in data.iter_mut() {
            let _ = s.submit(move || *x *= 10).unwrap();
        }
        let mut longest = s
            .submit(|| words.iter().max_by_key(|w| w.len()).unwrap().as_str())
            .unwrap();
        let lens: Vec<_> = words
            .iter()
            .map(|w| s.submit(|| w.len()).unwrap())
            .collect();
        assert_eq!(longest.result_timeout(LIMIT), Ok(words[N - 1].as_str()));
        lens.into_iter()
            .map(|mut f| f.result_timeout(LIMIT).unwrap())
            .sum::<usize>()
    });
    assert_eq!(total, N * (N + 1) / 2);
    assert_eq!(data, vec![10; N]);
}

/// A scoped task's result borrows a local and is never taken: it is dropped with the task's
/// allocation, which must happen before the scope returns (and so before the local dies).
#[test]
fn scoped_results_dropped_before_scope_ends() {
    let pool = pool(2);
    let drops = AtomicUsize::new(0);
    {
        let local = String::from("still alive");
        pool.scope(|s| {
            for _ in 0..N {
                let _ = s
                    .submit(|| Noisy {
                        drops: &drops,
                        borrowed: &local,
                    })
                    .unwrap();
            }
        });
        assert_eq!(drops.load(SeqCst), N);
    }
}

/// A panicking scoped task stays in its future; a panic of the scope body is resumed after the
/// tasks are joined.
#[test]
fn scoped_panics() {
    let pool = pool(2);
    let hits = AtomicUsize::new(0);
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        pool.scope(|s| {
            let mut f = s.submit(|| -> u8 { panic!("task") }).unwrap();
            assert!(f.result_timeout(LIMIT).unwrap_err().is_panic());
            let _ = s.submit(|| hits.fetch_add(1, SeqCst)).unwrap();
            panic!("body");
        })
    }));
    assert!(r.is_err());
    assert_eq!(
        hits.load(SeqCst),
        1,
        "the scope returned before its task ran"
    );
}

/// The helping path: a task on a one-worker pool waits on a subtask (result and `wait`),
/// which the worker runs inline.
#[test]
fn nested_wait_runs_inline() {
    let pool = Arc::new(pool(1));
    let p = pool.clone();
    let f = pool
        .submit(move || {
            let inner = p.submit(|| 20).unwrap();
            let subs: Vec<_> = (0..2).map(|i| p.submit(move || i).unwrap()).collect();
            let sets = wait(subs, Some(LIMIT), ReturnWhen::AllCompleted);
            assert!(sets.not_done.is_empty());
            get(inner).unwrap() + sets.done.len()
        })
        .unwrap();
    assert_eq!(get(f), Ok(22));
    let scoped = pool.scope(|s| {
        let p = &pool;
        s.submit(move || get(p.submit(|| 5).unwrap()).unwrap())
            .unwrap()
            .result_timeout(LIMIT)
    });
    assert_eq!(scoped, Ok(5));
}

/// Done-callbacks run once, before and after completion, and a panicking one is contained.
#[test]
fn callbacks() {
    let pool = pool(1);
    let calls = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = channel::<()>();
    let f = pool.submit(move || rx.recv_timeout(LIMIT).is_ok()).unwrap();
    let c = calls.clone();
    f.add_done_callback(move |f| {
        assert!(f.done());
        c.fetch_add(1, SeqCst);
    });
    f.add_done_callback(|_| panic!("a bad callback"));
    tx.send(()).unwrap();
    assert!(f.wait_timeout(LIMIT));
    let c = calls.clone();
    f.add_done_callback(move |f| {
        assert_eq!(f.with_result(|r| r.ok().copied()), Some(true));
        c.fetch_add(1, SeqCst);
    });
    drop(pool);
    assert_eq!(calls.load(SeqCst), 2);
}

/// Promises, `as_completed` and `map` over a small set.
#[test]
fn promises_as_completed_and_map() {
    let pool = pool(2);
    let (p, pf) = Promise::new();
    let (dropped, df) = Promise::<u32>::new();
    let t = std::thread::spawn(move || {
        p.set_result(100u32).unwrap();
        drop(dropped);
    });
    let mut futs: Vec<_> = (0..N as u32)
        .map(|i| pool.submit(move || i).unwrap())
        .collect();
    futs.push(pf);
    futs.push(df);
    let mut ok = 0;
    let mut broken = 0;
    for f in as_completed(futs) {
        match get(f) {
            Ok(_) => ok += 1,
            Err(TaskError::BrokenExecutor { .. }) => broken += 1,
            Err(e) => panic!("unexpected {e}"),
        }
    }
    t.join().unwrap();
    assert_eq!((ok, broken), (N + 1, 1));
    let squares: Vec<_> = pool
        .map(|x: usize| x * x, 0..N)
        .map(Result::unwrap)
        .collect();
    assert_eq!(squares, (0..N).map(|x| x * x).collect::<Vec<_>>());
}

/// `.await` on a future: the async waiter path.
#[test]
fn await_a_future() {
    struct Unpark(std::thread::Thread);
    impl std::task::Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let pool = pool(1);
    let (tx, rx) = channel::<()>();
    let mut fut = std::pin::pin!(pool
        .submit(move || rx.recv_timeout(LIMIT).map(|_| 9))
        .unwrap());
    let waker = std::task::Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = std::task::Context::from_waker(&waker);
    tx.send(()).unwrap();
    let deadline = std::time::Instant::now() + LIMIT;
    let out = loop {
        if let std::task::Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            break v;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the future never woke us"
        );
        std::thread::park_timeout(Duration::from_millis(100));
    };
    assert_eq!(out, Ok(Ok(9)));
}

/// Sequential submit → result reuses the one idle worker: a regression test for a race in which
/// the worker popped the job before the submitter claimed it idle, and the submitter spawned a
/// needless thread (found by the loom model `idle_worker_is_claimed_not_duplicated`).
#[test]
fn sequential_submits_reuse_one_thread() {
    let rounds = if cfg!(miri) { 2 } else { 50 };
    for _ in 0..rounds {
        let pool = pool(4);
        for i in 0..N {
            assert_eq!(get(pool.submit(move || i).unwrap()), Ok(i));
        }
        assert_eq!(pool.thread_count(), 1);
    }
}
