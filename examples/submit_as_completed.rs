//! Submit and use as completed: submit every task, then take each result as soon as its task
//! finishes, whatever the submission order.
//!
//! ```python
//! with ThreadPoolExecutor(10) as executor:
//!     futures = [executor.submit(task, i) for i in range(10)]
//!     for future in as_completed(futures):
//!         print(future.result())
//!
//! with ThreadPoolExecutor(max_workers=4) as executor:  # with a total timeout
//!     futures = {executor.submit(variable_task, i): i for i in range(10)}
//!     for future in as_completed(futures, timeout=5):
//!         print(f"Task {futures[future]} completed with result {future.result()}")
//! ```
//!
//! Python raises `TimeoutError` out of the loop; here the iterator yields one `Err` that says how
//! many futures were unfinished, then ends.
//!
//! Run: `cargo run --example submit_as_completed`

use std::collections::HashMap;
use std::error::Error;
use std::thread::sleep;
use std::time::Duration;

use concurrent_futures::{as_completed, as_completed_timeout, ThreadPoolExecutor};
use rand::{random, Rng};

/// Sleeps for a random time under 0.3 s (Python's version: under a second), returns its input.
fn task(name: u32) -> u32 {
    sleep(Duration::from_secs_f64(random::<f64>() * 0.3));
    name
}

/// Sleeps 0.1 to 0.5 s, returns twice its input.
fn variable_task(n: u32) -> u32 {
    sleep(Duration::from_millis(
        rand::thread_rng().gen_range(100..500),
    ));
    n * 2
}

fn main() -> Result<(), Box<dyn Error>> {
    println!("-- results in completion order");
    {
        let executor = ThreadPoolExecutor::with_max_workers(10)?;
        let futures = (0..10)
            .map(|i| executor.submit(move || task(i)))
            .collect::<Result<Vec<_>, _>>()?;
        for future in as_completed(futures) {
            println!("{}", future.result()?);
        }
    }

    println!("-- future -> input map, with a total timeout of 0.5 s");
    {
        let executor = ThreadPoolExecutor::with_max_workers(4)?;
        let mut futures = HashMap::new();
        for i in 0..10 {
            futures.insert(executor.submit(move || variable_task(i))?, i);
        }
        for item in as_completed_timeout(futures, Duration::from_millis(500)) {
            match item {
                Ok((future, original_value)) => match future.result() {
                    Ok(result) => {
                        println!("Task {original_value} completed with result {result}")
                    }
                    Err(e) => println!("Task {original_value} failed: {e}"),
                },
                Err(timeout) => println!("{timeout}"),
            }
        }
        println!("(leaving the block waits for the unfinished tasks)");
    }
    Ok(())
}
