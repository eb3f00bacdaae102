//! The Future as a handle: `done()`, `result` with a timeout, a task's failure as a value,
//! done-callbacks that handle failures, and `cancel()`.
//!
//! ```python
//! future = executor.submit(task, "Completed")      # the task sleeps first
//! print(future.done())                             # False
//! sleep(...); print(future.done())                 # True
//! print(future.result())                           # Completed
//!
//! def slow_operation(n):
//!     time.sleep(n)
//!     if n == 3:
//!         raise ValueError(f"Number {n} is unlucky!")
//!     return n * 2
//!
//! with ThreadPoolExecutor(max_workers=3) as executor:
//!     futures = [executor.submit(slow_operation, i) for i in [1, 2, 3, 4]]
//!     ...
//!     try:
//!         result = future.result(timeout=2)
//!     except ValueError as e: ...
//!     except TimeoutError: ...
//!
//! future.add_done_callback(process_result)         # prints "Processed: .." or "Error: .."
//! ```
//!
//! A Python exception raised in a task corresponds to a panic here: it is caught on the worker
//! and kept in the future as `TaskError::Panicked`, and the worker carries on.
//!
//! Run: `cargo run --example future_api`

use std::error::Error;
use std::sync::mpsc;
use std::thread::sleep;
use std::time::Duration;

use concurrent_futures::{Future, TaskError, ThreadPoolExecutor};

fn task(message: &'static str) -> &'static str {
    sleep(Duration::from_millis(200));
    message
}

/// Sleeps `n × 0.15 s`; 3 is unlucky.
fn slow_operation(n: u64) -> u64 {
    sleep(Duration::from_millis(150 * n));
    if n == 3 {
        panic!("Number {n} is unlucky!");
    }
    n * 2
}

fn process_result(future: &Future<u64>) {
    future.with_result(|r| match r {
        Ok(result) => println!("Processed: {result}"),
        Err(e) => println!("Error: {e}"),
    });
}

fn main() -> Result<(), Box<dyn Error>> {
    // The default panic hook would also print each task's panic on stderr; the future carries
    // the panic anyway, so keep this demo's output to what the program prints.
    std::panic::set_hook(Box::new(|_| {}));

    println!("-- done()");
    {
        let executor = ThreadPoolExecutor::with_max_workers(5)?;
        let future = executor.submit(|| task("Completed"))?;
        println!("{}", future.done());
        sleep(Duration::from_millis(400));
        println!("{}", future.done());
        println!("{}", future.result()?);
    }

    println!("-- result_timeout, and a failure as a value");
    {
        let executor = ThreadPoolExecutor::with_max_workers(3)?;
        let mut futures = [1, 2, 3, 4]
            .into_iter()
            .map(|i| executor.submit(move || slow_operation(i)))
            .collect::<Result<Vec<_>, _>>()?;
        for (i, future) in futures.iter().enumerate() {
            println!("Future {i} done: {}", future.done());
        }
        sleep(Duration::from_millis(350));
        for (i, future) in futures.iter_mut().enumerate() {
            match future.result_timeout(Duration::from_millis(200)) {
                Ok(result) => println!("Future {i} result: {result}"),
                Err(TaskError::Panicked { message, .. }) => {
                    println!("Future {i} raised: {message}")
                }
                Err(e) if e.is_timeout() => println!("Future {i} timed out"),
                Err(e) => println!("Future {i} failed: {e}"),
            }
        }
        // A timed-out future is unchanged and can be waited on again.
        let last = futures.pop().expect("four futures");
        println!("Future 3, waited for without a timeout: {}", last.result()?);
        // `exception()` reports a failure without taking anything out of the future.
        if let Some(e) = futures[2].exception() {
            println!("Future 2 exception(): {e}");
        }
    }

    println!("-- done-callbacks that handle failures");
    {
        let executor = ThreadPoolExecutor::with_max_workers(2)?;
        for i in 0..5 {
            let future = executor.submit(move || slow_operation(i))?;
            future.add_done_callback(process_result);
        }
    }

    println!("-- cancel()");
    {
        let executor = ThreadPoolExecutor::with_max_workers(1)?;
        let (started_tx, started) = mpsc::channel();
        let (release, gate) = mpsc::channel::<()>();
        let running = executor.submit(move || {
            started_tx.send(()).ok();
            gate.recv().is_ok()
        })?;
        let queued = executor.submit(|| "never runs")?;
        started.recv()?; // the first task holds the only worker from now on
        println!("cancel() on the running task: {}", running.cancel());
        println!("cancel() on the queued task: {}", queued.cancel());
        println!(
            "queued: cancelled() = {}, done() = {}",
            queued.cancelled(),
            queued.done()
        );
        println!("queued: result() = {:?}", queued.result());
        release.send(())?;
        println!("running: result() = {:?}", running.result());
    }
    Ok(())
}
