//! How the process engine finds a registered function: by the function item's own type, so a
//! tiny function (which the optimiser may copy into every codegen unit that uses it, each copy at
//! its own address) is found wherever it is submitted from; plain `fn` pointers by address; and
//! anything unregistered is refused at submit with a message saying how to register it.

#![cfg(all(any(unix, windows), feature = "process"))]

use std::time::Duration;

use concurrent_futures::{Executor, Future, ProcessPoolExecutor, TaskError};

mod defs {
    // Deliberately tiny and not `#[inline(never)]`: the kind of function that gets copied.
    pub fn add_one(x: u64) -> u64 {
        x + 1
    }
    pub fn double(x: u64) -> u64 {
        x * 2
    }
    concurrent_futures::register!(add_one, double);
}

mod elsewhere {
    use super::*;

    pub fn submit_from_another_module(pool: &ProcessPoolExecutor) -> Future<u64> {
        pool.submit_fn(defs::add_one, 41).unwrap()
    }

    pub fn through_the_trait(pool: &impl Executor) -> Vec<u64> {
        pool.map(defs::double, 1..=5).map(Result::unwrap).collect()
    }
}

fn value<T>(mut f: Future<T>) -> Result<T, TaskError> {
    f.result_timeout(Duration::from_secs(60))
}

#[test]
fn registered_functions_are_found_from_any_module() {
    let pool = ProcessPoolExecutor::with_max_workers(1).unwrap();
    assert_eq!(value(elsewhere::submit_from_another_module(&pool)), Ok(42));
    assert_eq!(value(pool.submit_fn(defs::add_one, 1).unwrap()), Ok(2));
    assert_eq!(elsewhere::through_the_trait(&pool), [2, 4, 6, 8, 10]);
}

#[test]
fn a_plain_fn_pointer_is_found_by_address_or_refused_clearly() {
    let pool = ProcessPoolExecutor::with_max_workers(1).unwrap();
    let p: fn(u64) -> u64 = defs::double;
    match pool.submit_fn(p, 21) {
        Ok(f) => assert_eq!(value(f), Ok(42)),
        Err(e) => {
            assert!(e.is_not_registered(), "{e}");
            assert!(e.to_string().contains("pass the function itself"), "{e}");
            assert_eq!(e.into_inner(), 21);
        }
    }
}

#[test]
fn unregistered_functions_and_closures_are_refused_at_submit() {
    fn not_registered(x: u64) -> u64 {
        x
    }
    let pool = ProcessPoolExecutor::with_max_workers(1).unwrap();
    let err = pool.submit_fn(not_registered, 5).unwrap_err();
    assert!(
        err.is_not_registered(),
        "its own kind, not a serialization failure"
    );
    assert!(
        err.to_string().contains(
            "unregistered_functions_and_closures_are_refused_at_submit::not_registered` is not \
             registered for worker processes: add `concurrent_futures::register!(not_registered);`"
        ),
        "{err}"
    );
    assert_eq!(err.into_inner(), 5, "the argument comes back");
    let err = pool.submit_fn(|x: u64| x + 1, 6).unwrap_err();
    assert!(err.is_not_registered(), "{err}");
    assert!(err.to_string().contains("a closure"), "{err}");
    assert!(err.to_string().contains("pass a named function"), "{err}");
    assert_eq!(err.into_inner(), 6);
}
