//! Submit and wait for all: the tasks report their own results; the caller only needs to know
//! when every one of them is done. Two ways: `wait` on the futures, or shut the pool down.
//!
//! ```python
//! with ThreadPoolExecutor(10) as executor:
//!     futures = [executor.submit(task, i) for i in range(10)]
//!     wait(futures)                      # return_when=ALL_COMPLETED
//!     print('All tasks are done!')
//!
//! with ThreadPoolExecutor(10) as executor:
//!     futures = [executor.submit(task, i) for i in range(10)]
//! print('All tasks are done!')           # leaving `with` waits
//!
//! executor = ThreadPoolExecutor(10)
//! futures = [executor.submit(task, i) for i in range(10)]
//! executor.shutdown()                    # wait=True, cancel_futures=False
//! print('All tasks are done!')
//! ```
//!
//! Run: `cargo run --example wait_for_all`

use std::error::Error;
use std::thread::sleep;
use std::time::Duration;

use concurrent_futures::{wait, ReturnWhen, ThreadPoolExecutor};
use rand::random;

/// Sleeps for a random time under 0.3 s (Python's version: under a second), prints its input.
fn task(name: u32) {
    sleep(Duration::from_secs_f64(random::<f64>() * 0.3));
    println!("{name}");
}

fn main() -> Result<(), Box<dyn Error>> {
    println!("-- wait(futures, None, ReturnWhen::AllCompleted)");
    {
        let executor = ThreadPoolExecutor::with_max_workers(10)?;
        let futures = (0..10)
            .map(|i| executor.submit(move || task(i)))
            .collect::<Result<Vec<_>, _>>()?;
        wait(&futures, None, ReturnWhen::AllCompleted);
        println!("All tasks are done!");
    }

    println!("-- dropping the pool (Python's `with` block)");
    {
        let executor = ThreadPoolExecutor::with_max_workers(10)?;
        let _futures = (0..10)
            .map(|i| executor.submit(move || task(i)))
            .collect::<Result<Vec<_>, _>>()?;
    } // dropping the executor is shutdown(wait = true, cancel_futures = false)
    println!("All tasks are done!");

    println!("-- explicit shutdown(wait = true, cancel_futures = false)");
    let executor = ThreadPoolExecutor::with_max_workers(10)?;
    let _futures = (0..10)
        .map(|i| executor.submit(move || task(i)))
        .collect::<Result<Vec<_>, _>>()?;
    executor.shutdown(true, false);
    println!("All tasks are done!");
    Ok(())
}
