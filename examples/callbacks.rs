//! Submit and use a callback: let the pool call a function on each result as its task finishes.
//! Several callbacks on one future run in the order they were added.
//!
//! ```python
//! def custom_callback(fut):
//!     print(fut.result())
//!
//! with ThreadPoolExecutor(10) as executor:
//!     futures = [executor.submit(task, i) for i in range(10)]
//!     for future in futures:
//!         future.add_done_callback(custom_callback)
//!         # or two: add_done_callback(custom_callback1); add_done_callback(custom_callback2)
//! ```
//!
//! A callback runs on the thread that finished the task (or at once, on the caller's thread, if
//! the task had already finished). It gets `&Future`, so it reads the value in place with
//! `with_result` and the caller can still take it later with `result()`.
//!
//! Run: `cargo run --example callbacks`

use std::error::Error;
use std::thread::sleep;
use std::time::Duration;

use concurrent_futures::{Future, ThreadPoolExecutor};
use rand::random;

/// Sleeps for a random time under 0.3 s (Python's version: under a second), returns its input.
fn task(name: u32) -> u32 {
    sleep(Duration::from_secs_f64(random::<f64>() * 0.3));
    name
}

fn custom_callback(fut: &Future<u32>) {
    fut.with_result(|r| match r {
        Ok(value) => println!("{value}"),
        Err(e) => println!("failed: {e}"),
    });
}

fn custom_callback1(fut: &Future<u32>) {
    fut.with_result(|r| println!("Callback 1: {}", r.unwrap()));
}

fn custom_callback2(fut: &Future<u32>) {
    fut.with_result(|r| println!("Callback 2: {}", r.unwrap()));
}

fn main() -> Result<(), Box<dyn Error>> {
    println!("-- one callback per future");
    {
        let executor = ThreadPoolExecutor::with_max_workers(10)?;
        let futures = (0..10)
            .map(|i| executor.submit(move || task(i)))
            .collect::<Result<Vec<_>, _>>()?;
        for future in &futures {
            future.add_done_callback(custom_callback);
        }
    } // wait for tasks to complete...

    println!("-- two callbacks per future, run in the order they were added");
    {
        let executor = ThreadPoolExecutor::with_max_workers(10)?;
        let futures = (0..10)
            .map(|i| executor.submit(move || task(i)))
            .collect::<Result<Vec<_>, _>>()?;
        for future in &futures {
            future.add_done_callback(custom_callback1);
            future.add_done_callback(custom_callback2);
        }
    }
    Ok(())
}
