//! Map and wait: `executor.map` as a concurrent `for` loop. Tasks run concurrently; results come
//! back in input order.
//!
//! ```python
//! with ThreadPoolExecutor(10) as executor:
//!     for result in executor.map(task, range(10)):
//!         print(result)
//!
//! with ThreadPoolExecutor() as executor:                # two inputs, like built-in map
//!     for result in executor.map(task, ['1', '2', '3'], ['a', 'b', 'c']):
//!         print(result)
//! ```
//!
//! Each item is a `Result`, so one failed task hides nothing. Unlike Python's, this `map` is lazy:
//! it keeps a bounded number of tasks in flight and reads the input as results are consumed, so an
//! endless input works. Dropping the iterator early cancels the tasks that have not started.
//!
//! Run: `cargo run --example map_and_wait`

use std::error::Error;
use std::thread::sleep;
use std::time::Duration;

use concurrent_futures::ThreadPoolExecutor;
use rand::random;

/// Sleeps for a random time under 0.3 s (Python's version: under a second), returns its input.
fn task(name: u32) -> u32 {
    sleep(Duration::from_secs_f64(random::<f64>() * 0.3));
    name
}

/// The two-argument task.
fn task2(value1: &'static str, value2: &'static str) -> (&'static str, &'static str) {
    sleep(Duration::from_secs_f64(random::<f64>() * 0.3));
    (value1, value2)
}

fn main() -> Result<(), Box<dyn Error>> {
    println!("-- map over one input: results in input order");
    {
        let executor = ThreadPoolExecutor::with_max_workers(10)?;
        for result in executor.map(task, 0..10) {
            println!("{}", result?);
        }
    } // leaving the block shuts the pool down, waiting: Python's `with`

    println!("-- map over two inputs: zip them, the task takes a pair");
    {
        let executor = ThreadPoolExecutor::new();
        let pairs = ["1", "2", "3"].into_iter().zip(["a", "b", "c"]);
        for result in executor.map(|(a, b)| task2(a, b), pairs) {
            println!("{:?}", result?);
        }
    }

    println!("-- map over an endless input: only a bounded buffer is ever in flight");
    {
        let executor = ThreadPoolExecutor::with_max_workers(3)?;
        let squares = executor.map(|n: u64| n * n, 2..).take(4);
        for square in squares {
            println!("{}", square?);
        }
    }
    Ok(())
}
