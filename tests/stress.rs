//! Stress tests of the thread engine: many tiny tasks from several submitters, `cancel` racing
//! the workers that start tasks, and submits racing `shutdown`. Each checks every single
//! outcome, not just a total.

#[path = "suite/util.rs"]
mod util;

use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Instant;

use concurrent_futures::{Future, FutureState, TaskError, ThreadPoolExecutor};
use util::{Watchdog, LONG};

fn mix(x: u64) -> u64 {
    x.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(17) ^ x
}

/// One million tasks, submitted by four threads at once to one pool; every result is checked.
/// Each submitter keeps a bounded window of futures in flight.
#[test]
fn a_million_tiny_tasks_from_four_threads() {
    let _w = Watchdog::new(
        "a_million_tiny_tasks_from_four_threads",
        util::TEST_LIMIT * 3,
    );
    const TOTAL: u64 = 1_000_000;
    const SUBMITTERS: u64 = 4;
    const WINDOW: usize = 1024;
    let pool = ThreadPoolExecutor::new();
    let started = Instant::now();
    std::thread::scope(|s| {
        for t in 0..SUBMITTERS {
            let pool = &pool;
            s.spawn(move || {
                let mut window: Vec<(u64, Future<u64>)> = Vec::with_capacity(WINDOW);
                let check = |window: &mut Vec<(u64, Future<u64>)>| {
                    for (x, mut f) in window.drain(..) {
                        assert_eq!(f.result_timeout(LONG), Ok(mix(x)), "task {x}");
                    }
                };
                for i in 0..TOTAL / SUBMITTERS {
                    let x = t * (TOTAL / SUBMITTERS) + i;
                    window.push((x, pool.submit(move || mix(x)).unwrap()));
                    if window.len() == WINDOW {
                        check(&mut window);
                    }
                }
                check(&mut window);
            });
        }
    });
    eprintln!(
        "{TOTAL} tasks from {SUBMITTERS} threads in {:?} ({} workers)",
        started.elapsed(),
        pool.max_workers()
    );
}

/// `cancel()` races the workers that start tasks, from the submitting thread right after each
/// submit and from a second thread a little later. Every future must end in exactly one final
/// state, consistent with everything observed: cancelled ⇔ some `cancel()` returned true ⇔ the
/// task never ran; finished ⇔ the task ran exactly once and its value is there. Each future's
/// done-callback runs exactly once.
#[test]
fn cancel_races_workers_starting_tasks() {
    let _w = Watchdog::new("cancel_races_workers_starting_tasks", util::TEST_LIMIT * 2);
    const N: usize = 50_000;
    let pool = ThreadPoolExecutor::with_max_workers(3).unwrap();
    let runs: Arc<Vec<AtomicU8>> = Arc::new((0..N).map(|_| AtomicU8::new(0)).collect());
    let callbacks: Arc<Vec<AtomicU8>> = Arc::new((0..N).map(|_| AtomicU8::new(0)).collect());
    let cancelled_by_call: Vec<AtomicBool> = (0..N).map(|_| AtomicBool::new(false)).collect();

    let futures: Vec<Future<usize>> = std::thread::scope(|s| {
        let (tx, rx) = mpsc::channel::<(usize, Arc<Future<usize>>)>();
        let cancelled_by_call = &cancelled_by_call;
        let canceller = s.spawn(move || {
            for (i, f) in rx {
                if i % 3 == 0 && f.cancel() {
                    cancelled_by_call[i].store(true, Ordering::SeqCst);
                }
            }
        });
        let mut futures = Vec::with_capacity(N);
        for i in 0..N {
            let r = runs.clone();
            let f = pool
                .submit(move || {
                    r[i].fetch_add(1, Ordering::SeqCst);
                    i
                })
                .unwrap();
            let c = callbacks.clone();
            f.add_done_callback(move |_| {
                c[i].fetch_add(1, Ordering::SeqCst);
            });
            if i % 2 == 0 && f.cancel() {
                cancelled_by_call[i].store(true, Ordering::SeqCst);
            }
            let f = Arc::new(f);
            tx.send((i, f.clone())).unwrap();
            futures.push(f);
        }
        drop(tx);
        canceller.join().unwrap();
        futures
            .into_iter()
            .map(|f| Arc::try_unwrap(f).expect("the canceller let go"))
            .collect()
    });
    pool.shutdown(true, false);

    let (mut n_cancelled, mut n_finished) = (0, 0);
    for (i, f) in futures.into_iter().enumerate() {
        let state = f.state();
        let ran = runs[i].load(Ordering::SeqCst);
        assert_eq!(callbacks[i].load(Ordering::SeqCst), 1, "callbacks of {i}");
        match state {
            FutureState::Cancelled => {
                n_cancelled += 1;
                assert!(cancelled_by_call[i].load(Ordering::SeqCst), "{i}");
                assert_eq!(ran, 0, "cancelled task {i} ran");
                assert!(f.cancel(), "cancel() is true again once cancelled");
                assert_eq!(f.result(), Err(TaskError::Cancelled));
            }
            FutureState::Finished => {
                n_finished += 1;
                assert!(!cancelled_by_call[i].load(Ordering::SeqCst), "{i}");
                assert_eq!(ran, 1, "finished task {i} ran {ran} times");
                assert!(!f.cancel());
                assert_eq!(f.result(), Ok(i));
            }
            other => panic!("future {i} is {other:?} after shutdown(wait = true)"),
        }
    }
    assert_eq!(n_cancelled + n_finished, N);
    // Futures no cancel() was called on always finish.
    assert!(n_finished >= N / 3, "finished {n_finished}");
    eprintln!("{n_cancelled} cancelled, {n_finished} finished");
}

/// Four threads submit as fast as they can while the main thread shuts the pool down. Every
/// submit is either accepted — and then its task has run by the time `shutdown(wait = true)`
/// returns — or refused with `Shutdown`, handing the closure back intact.
#[test]
fn submits_race_shutdown() {
    let _w = Watchdog::for_this_test();
    for round in 0..20 {
        let pool = ThreadPoolExecutor::with_max_workers(2).unwrap();
        let ran = Arc::new(AtomicUsize::new(0));
        let (first_tx, first_rx) = mpsc::channel();
        let results = std::thread::scope(|s| {
            let handles: Vec<_> = (0..4)
                .map(|t| {
                    let (pool, ran, first_tx) = (&pool, ran.clone(), first_tx.clone());
                    s.spawn(move || {
                        let mut accepted = Vec::new();
                        let mut refused = 0usize;
                        for i in 0..100_000usize {
                            let r = ran.clone();
                            let task = move || {
                                r.fetch_add(1, Ordering::SeqCst);
                                t * 1_000_000 + i
                            };
                            match pool.submit(task) {
                                Ok(f) => accepted.push((t * 1_000_000 + i, f)),
                                Err(e) => {
                                    assert!(e.is_shutdown(), "{e:?}");
                                    // The closure comes back and still works.
                                    let task = e.into_inner();
                                    assert_eq!(task(), t * 1_000_000 + i);
                                    refused += 1;
                                    break;
                                }
                            }
                            if i == 100 {
                                let _ = first_tx.send(());
                            }
                        }
                        (accepted, refused)
                    })
                })
                .collect();
            // Shut down once every submitter is well under way.
            for _ in 0..4 {
                first_rx.recv_timeout(LONG).unwrap();
            }
            pool.shutdown(true, false);
            handles
                .into_iter()
                .map(|h| h.join().unwrap())
                .collect::<Vec<_>>()
        });
        let (mut accepted, mut refused) = (0, 0);
        for (futures, r) in results {
            refused += r;
            for (x, mut f) in futures {
                assert!(
                    f.done(),
                    "round {round}: {f:?} admitted but not run by shutdown"
                );
                assert_eq!(f.try_result(), Ok(x));
                accepted += 1;
            }
        }
        // Each accepted task ran once, and so did each refused closure (called above).
        assert_eq!(ran.load(Ordering::SeqCst), accepted + refused);
    }
}
