#![cfg(all(any(unix, windows), feature = "process"))]
//! Two different functions registered under one name must be refused: a pool built on such a
//! registry could run the wrong one. `register!` names a function by its module, its name and
//! the line and column of the `register!` — which, inside a `macro_rules!` macro, are those of
//! the macro's invocation, so one invocation that registers two functions of the same name
//! (in two function bodies of one module) gives both the same name.
//!
//! The collision is in this test binary's registry, so every process pool of this binary fails
//! to build: this file holds nothing else.

use std::time::Duration;

use concurrent_futures::{register, ProcessPoolExecutor, ThreadPoolExecutor};

/// Defines `plus_one_step` and `times_ten_step`, each returning its own function `step`,
/// registered from this one macro invocation.
macro_rules! two_steps_from_one_site {
    () => {
        fn plus_one_step() -> fn(u64) -> u64 {
            fn step(x: u64) -> u64 {
                x + 1
            }
            register!(step);
            step
        }

        fn times_ten_step() -> fn(u64) -> u64 {
            fn step(x: u64) -> u64 {
                x * 10
            }
            register!(step);
            step
        }
    };
}

two_steps_from_one_site!();

/// Two functions registered under one name (one macro invocation) make every pool build fail.
#[test]
fn two_functions_under_one_registered_name_refuse_to_build_a_process_pool() {
    let err = ProcessPoolExecutor::builder()
        .max_workers(1)
        .build()
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("two different functions are registered under one name"),
        "{err}"
    );
    assert!(err.contains("::step@"), "the name is given: {err}");
    // Every way of building one fails the same way.
    let err2 = ProcessPoolExecutor::with_max_workers(2)
        .unwrap_err()
        .to_string();
    assert_eq!(err2, err);
    // The functions themselves are fine, and distinct.
    let pool = ThreadPoolExecutor::with_max_workers(1).unwrap();
    let limit = Duration::from_secs(30);
    let mut a = pool.submit_fn(plus_one_step(), 4).unwrap();
    let mut b = pool.submit_fn(times_ten_step(), 4).unwrap();
    assert_eq!(a.result_timeout(limit), Ok(5));
    assert_eq!(b.result_timeout(limit), Ok(40));
}
