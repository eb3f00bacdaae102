//! The tiny-task pitfall: when each task is a few nanoseconds of work, handing it to another
//! thread costs far more than doing it, and more workers only add more of that cost.
//!
//! ```python
//! data = list(range(100))
//! with ThreadPoolExecutor(max_workers=100) as executor:    # bad: overhead dominates
//!     results = list(executor.map(tiny_task, data))
//! with ThreadPoolExecutor(max_workers=4) as executor:      # better
//!     results = list(executor.map(tiny_task, data))
//! results = [tiny_task(n) for n in data]                   # best for trivial tasks
//! ```
//!
//! Threads here start lazily and an idle worker is reused before a new one is started, so
//! `max_workers = 100` does not mean 100 threads: the output says how many were started. The
//! timings include creating and shutting down the pool, as Python's `with` block does. They are
//! single runs; expect them to vary.
//!
//! Run: `cargo run --release --example tiny_tasks`

use std::error::Error;
use std::hint::black_box;
use std::time::Instant;

use concurrent_futures::ThreadPoolExecutor;

fn tiny_task(n: u64) -> u64 {
    n * 2
}

/// Maps `tiny_task` over `data` on a pool of `max_workers`; returns the results and how many
/// threads the pool started.
fn pooled(data: &[u64], max_workers: usize) -> Result<(Vec<u64>, usize), Box<dyn Error>> {
    let executor = ThreadPoolExecutor::with_max_workers(max_workers)?;
    let results = executor
        .map(tiny_task, data.iter().copied())
        .collect::<Result<Vec<_>, _>>()?;
    Ok((results, executor.thread_count()))
}

fn main() -> Result<(), Box<dyn Error>> {
    let data: Vec<u64> = (0..100).collect();

    let start = Instant::now();
    let (results, threads) = pooled(&data, 100)?;
    let elapsed = start.elapsed();
    black_box(results);
    println!("100 workers: {elapsed:.1?} ({threads} threads started)");

    let start = Instant::now();
    let (results, threads) = pooled(&data, 4)?;
    let elapsed = start.elapsed();
    black_box(results);
    println!("4 workers: {elapsed:.1?} ({threads} threads started)");

    let start = Instant::now();
    let results: Vec<u64> = black_box(&data).iter().map(|&n| tiny_task(n)).collect();
    let elapsed = start.elapsed();
    black_box(results);
    println!("Sequential: {elapsed:.1?}");
    Ok(())
}
