//! Scoped tasks: closures that borrow from the caller's stack, all joined before `scope`
//! returns — also when tasks panic, when their futures are dropped, and when the scope's own body
//! panics.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use concurrent_futures::ThreadPoolExecutor;

use crate::{Watchdog, LONG};

#[test]
fn scoped_tasks_borrow_from_the_stack() {
    let _w = Watchdog::for_this_test();
    let pool = ThreadPoolExecutor::with_max_workers(3).unwrap();
    let mut data = vec![1u64, 2, 3, 4, 5, 6];
    let words = ["alpha".to_string(), "be".to_string(), "gamma".to_string()];
    let total = pool.scope(|s| {
        for x in data.iter_mut() {
            s.submit(move || *x *= 10).unwrap();
        }
        let lengths: Vec<_> = words
            .iter()
            .map(|w| s.submit(|| w.len()).unwrap())
            .collect();
        lengths
            .into_iter()
            .map(|mut f| f.result_timeout(LONG).unwrap())
            .sum::<usize>()
    });
    assert_eq!(total, 12);
    assert_eq!(data, [10, 20, 30, 40, 50, 60]);
}

#[test]
fn scope_joins_tasks_whose_futures_were_dropped() {
    let _w = Watchdog::for_this_test();
    let pool = ThreadPoolExecutor::with_max_workers(2).unwrap();
    let finished = AtomicUsize::new(0);
    pool.scope(|s| {
        for i in 0..8 {
            let finished = &finished;
            // The future is dropped at once; the scope still waits for the task.
            let _ = s.submit(move || {
                std::thread::sleep(Duration::from_millis(i % 3)); // keeps the worker busy
                finished.fetch_add(1, Ordering::SeqCst);
            });
        }
    });
    assert_eq!(finished.load(Ordering::SeqCst), 8);
}

#[test]
fn scope_joins_every_task_even_when_some_panic() {
    let _w = Watchdog::for_this_test();
    let pool = ThreadPoolExecutor::with_max_workers(2).unwrap();
    let finished = AtomicUsize::new(0);
    let failures = pool.scope(|s| {
        let futures: Vec<_> = (0..10)
            .map(|i| {
                let finished = &finished;
                s.submit(move || {
                    if i % 3 == 0 {
                        panic!("scoped task {i} failed");
                    }
                    finished.fetch_add(1, Ordering::SeqCst);
                })
                .unwrap()
            })
            .collect();
        futures
            .into_iter()
            .filter_map(|mut f| f.result_timeout(LONG).err())
            .map(|e| e.panic_message().unwrap().to_owned())
            .collect::<Vec<_>>()
    });
    assert_eq!(
        failures,
        [
            "scoped task 0 failed",
            "scoped task 3 failed",
            "scoped task 6 failed",
            "scoped task 9 failed"
        ]
    );
    assert_eq!(finished.load(Ordering::SeqCst), 6);
}

#[test]
fn a_panicking_scope_body_is_resumed_after_its_tasks_are_joined() {
    let _w = Watchdog::for_this_test();
    let pool = ThreadPoolExecutor::with_max_workers(2).unwrap();
    let finished = AtomicUsize::new(0);
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        pool.scope(|s| {
            for _ in 0..4 {
                let finished = &finished;
                s.submit(move || {
                    std::thread::sleep(Duration::from_millis(5)); // keeps the worker busy
                    finished.fetch_add(1, Ordering::SeqCst);
                })
                .unwrap();
            }
            panic!("scope body failed");
        })
    }));
    let payload = r.expect_err("the body's panic is resumed");
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"scope body failed"));
    // Every task finished before the panic left `scope`.
    assert_eq!(finished.load(Ordering::SeqCst), 4);
    // The pool is unaffected.
    let mut f = pool.submit(|| 1).unwrap();
    assert_eq!(f.result_timeout(LONG), Ok(1));
}

#[test]
fn scoped_tasks_on_one_worker_and_nested_scoped_waits() {
    let _w = Watchdog::for_this_test();
    let pool = ThreadPoolExecutor::with_max_workers(1).unwrap();
    let input: Vec<u32> = (1..=20).collect();
    let sum = pool.scope(|s| {
        let halves: Vec<_> = input
            .chunks(10)
            .map(|chunk| s.submit(move || chunk.iter().sum::<u32>()).unwrap())
            .collect();
        halves
            .into_iter()
            .map(|mut f| f.result_timeout(LONG).unwrap())
            .sum::<u32>()
    });
    assert_eq!(sum, 210);
    // A scope whose future is inspected through Deref, then read.
    let text = String::from("borrowed");
    pool.scope(|s| {
        let mut f = s.submit(|| text.len()).unwrap();
        assert!(f.wait_timeout(LONG));
        assert!(f.done());
        assert_eq!(f.try_result(), Ok(8));
    });
}
