//! The future as a receipt, `map` with a partially applied function, and one executor reused
//! across calls and shut down by hand.
//!
//! ```python
//! with PoolExecutor() as executor:
//!     future = executor.submit(do_work, sleep_secs=5.0)   # does not block
//!     result = future.result()                            # blocks until done
//!
//! with PoolExecutor() as executor:
//!     results_gen = executor.map(partial(do_work, 10.0), range(1, 10))   # does not block
//!     print("map results:", list(results_gen))
//!
//! executor = PoolExecutor()             # reused: created once, shut down by hand
//! do_some_concurrent_work(executor)     # executor.map(partial(do_work, 3.0), range(1, 10))
//! do_more_concurrent_work(executor)     # executor.map(partial(do_work, 1.0), range(10, 20))
//! executor.shutdown()
//! ```
//!
//! `functools.partial` becomes a closure that captures the fixed argument.
//!
//! Run: `cargo run --example reusable_executor`

use std::error::Error;
use std::thread::sleep;
use std::time::{Duration, Instant};

use concurrent_futures::ThreadPoolExecutor;

fn do_work(sleep_secs: f64, i: u32) -> String {
    sleep(Duration::from_secs_f64(sleep_secs));
    format!("foo-{i}")
}

fn wait_for_future(start: Instant) -> Result<(), Box<dyn Error>> {
    let t = || start.elapsed().as_secs_f64();
    println!("-------- Wait for future --------");
    let executor = ThreadPoolExecutor::new();
    let future = executor.submit(|| do_work(0.3, 0))?;
    println!("future created | {:.3}", t());
    println!("waiting for future... | {:.3}", t());
    let result = future.result()?;
    println!("future result: {result} | {:.3}", t());
    Ok(())
}

fn map_with_partial(start: Instant) -> Result<(), Box<dyn Error>> {
    let t = || start.elapsed().as_secs_f64();
    println!("-------- Using map --------");
    let executor = ThreadPoolExecutor::new();
    let results_gen = executor.map(|i| do_work(0.2, i), 1..10);
    println!("map iterator created | {:.3}", t());
    println!("waiting for map results... | {:.3}", t());
    let results = results_gen.collect::<Result<Vec<_>, _>>()?;
    println!("map results: {results:?} | {:.3}", t());
    Ok(())
}

fn do_some_concurrent_work(executor: &ThreadPoolExecutor) -> Result<(), Box<dyn Error>> {
    let results_gen = executor.map(|i| do_work(0.3, i), 1..10);
    println!(
        "some map results: {:?}",
        results_gen.collect::<Result<Vec<_>, _>>()?
    );
    Ok(())
}

fn do_more_concurrent_work(executor: &ThreadPoolExecutor) -> Result<(), Box<dyn Error>> {
    let results_gen = executor.map(|i| do_work(0.1, i), 10..20);
    println!(
        "more map results: {:?}",
        results_gen.collect::<Result<Vec<_>, _>>()?
    );
    Ok(())
}

fn main() -> Result<(), Box<dyn Error>> {
    let start = Instant::now();
    wait_for_future(start)?;

    let start = Instant::now();
    map_with_partial(start)?;

    println!("-------- Reusable executor --------");
    let executor = ThreadPoolExecutor::new();
    do_some_concurrent_work(&executor)?;
    do_more_concurrent_work(&executor)?;
    println!(
        "both batches ran on the same {} worker threads (max_workers = {})",
        executor.thread_count(),
        executor.max_workers()
    );
    executor.shutdown(true, false);
    Ok(())
}
