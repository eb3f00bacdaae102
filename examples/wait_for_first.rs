//! Submit and wait for the first: keep the first result to arrive, from whichever task, then shut
//! the pool down without waiting and cancel what has not started.
//!
//! ```python
//! executor = ThreadPoolExecutor(10)
//! futures = [executor.submit(task, i) for i in range(10)]
//! done, not_done = wait(futures, return_when=FIRST_COMPLETED)
//! print(done.pop().result())
//! executor.shutdown(wait=False, cancel_futures=True)
//! ```
//!
//! This version submits 20 tasks to 10 workers, so that `cancel_futures` has queued tasks to
//! cancel. As in Python, the tasks already running finish in the background; dropping the
//! executor at the end of `main` waits for them.
//!
//! Run: `cargo run --example wait_for_first`

use std::error::Error;
use std::thread::sleep;
use std::time::Duration;

use concurrent_futures::{wait, ReturnWhen, ThreadPoolExecutor};
use rand::random;

/// Sleeps for a random time under 0.3 s (Python's version: under a second), returns its input.
fn task(name: u32) -> u32 {
    sleep(Duration::from_secs_f64(random::<f64>() * 0.3));
    name
}

fn main() -> Result<(), Box<dyn Error>> {
    let executor = ThreadPoolExecutor::with_max_workers(10)?;
    let futures = (0..20)
        .map(|i| executor.submit(move || task(i)))
        .collect::<Result<Vec<_>, _>>()?;

    let mut sets = wait(futures, None, ReturnWhen::FirstCompleted);
    let first = sets
        .done
        .pop()
        .expect("FirstCompleted returns with one done future");
    println!("{}", first.result()?);

    executor.shutdown(false, true);
    let cancelled = sets.not_done.iter().filter(|f| f.cancelled()).count();
    let running = sets.not_done.len() - cancelled;
    println!("shut down without waiting: {cancelled} queued tasks cancelled");
    println!("{running} had already started: they finish in the background");
    Ok(())
}
