//! Seed 002, "threads for I/O vs processes for CPU": count the primes below 100,000 in ten
//! ranges, sequentially, on a thread pool and on a process pool.
//!
//! ```python
//! def count_primes(start, end): ...
//! ranges = [(i, i + 10000) for i in range(0, 100000, 10000)]
//! with ThreadPoolExecutor(max_workers=4) as executor:
//!     results = list(executor.map(lambda r: count_primes(*r), ranges))
//! with ProcessPoolExecutor(max_workers=4) as executor:
//!     results = list(executor.map(lambda r: count_primes(*r), ranges))
//! ```
//!
//! In Python only the process pool speeds this up (the GIL serialises the threads). In Rust both
//! do; the process pool pays a few microseconds per task to cross the process boundary. The
//! function is written once, against the `Executor` trait: switching engines is one line.
//!
//! Run: `cargo run --release --example process_primes`

#[cfg(unix)]
use std::time::Instant;

#[cfg(unix)]
use concurrent_futures::{register, Executor, ProcessPoolExecutor, ThreadPoolExecutor};

#[cfg(unix)]
fn is_prime(n: u64) -> bool {
    if n < 2 {
        return false;
    }
    let mut i = 2;
    while i * i <= n {
        if n % i == 0 {
            return false;
        }
        i += 1;
    }
    true
}

#[cfg(unix)]
fn count_primes((start, end): (u64, u64)) -> usize {
    (start..end).filter(|&n| is_prime(n)).count()
}
#[cfg(unix)]
register!(count_primes);

/// Written once, for any engine.
#[cfg(unix)]
fn total_primes(pool: &impl Executor, ranges: &[(u64, u64)]) -> usize {
    pool.map(count_primes, ranges.iter().copied())
        .map(|r| r.expect("count_primes does not fail"))
        .sum()
}

#[cfg(not(unix))]
fn main() {
    eprintln!("this example needs the process engine, which is Unix-only for now");
}

#[cfg(unix)]
fn main() {
    let limit = 2_000_000;
    let ranges: Vec<(u64, u64)> = (0..limit)
        .step_by(10_000)
        .map(|i| (i, i + 10_000))
        .collect();
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());

    let t = Instant::now();
    let total: usize = ranges.iter().copied().map(count_primes).sum();
    let seq = t.elapsed();
    println!(
        "Sequential: {:.2}s, Total primes: {total}",
        seq.as_secs_f64()
    );

    let t = Instant::now();
    let threads = ThreadPoolExecutor::with_max_workers(workers).unwrap();
    let total = total_primes(&threads, &ranges);
    let thr = t.elapsed();
    println!(
        "Threads:    {:.2}s, Total primes: {total} ({:.2}x)",
        thr.as_secs_f64(),
        seq.as_secs_f64() / thr.as_secs_f64()
    );

    let t = Instant::now();
    let processes = ProcessPoolExecutor::with_max_workers(workers).unwrap(); // the one line that changes
    let total = total_primes(&processes, &ranges);
    let pro = t.elapsed();
    println!(
        "Processes:  {:.2}s, Total primes: {total} ({:.2}x)",
        pro.as_secs_f64(),
        seq.as_secs_f64() / pro.as_secs_f64()
    );
}
