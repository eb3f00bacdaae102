//! A progress bar with an ETA over a process-pool `map`, as tqdm users write
//! `process_map(f, xs)`: `map` knows how many results are still to come (`ExactSizeIterator`),
//! so `indicatif`'s `.progress()` wraps it unchanged. (The bar draws on a terminal only.)
//!
//! Run: `cargo run --release --example progress`

#[cfg(any(unix, windows))]
use std::error::Error;

#[cfg(any(unix, windows))]
use concurrent_futures::{register, MapOptions, ProcessPoolExecutor};
#[cfg(any(unix, windows))]
use indicatif::{ProgressBar, ProgressIterator, ProgressStyle};

/// Primes in `lo..hi`, by trial division.
#[cfg(any(unix, windows))]
fn count_primes((lo, hi): (u64, u64)) -> usize {
    (lo..hi)
        .filter(|&n| n >= 2 && (2..).take_while(|d| d * d <= n).all(|d| n % d != 0))
        .count()
}
#[cfg(any(unix, windows))]
register!(count_primes);

#[cfg(not(any(unix, windows)))]
fn main() {
    eprintln!("this example needs the process engine, which runs on Unix and Windows");
}

#[cfg(any(unix, windows))]
fn main() -> Result<(), Box<dyn Error>> {
    let pool = ProcessPoolExecutor::with_max_workers(2)?;
    let ranges: Vec<(u64, u64)> = (0..400u64).map(|i| (i * 5_000, (i + 1) * 5_000)).collect();
    let results = pool.map_with(count_primes, ranges, MapOptions::new().chunksize(4));
    let bar = ProgressBar::new(results.len() as u64).with_style(ProgressStyle::with_template(
        "{bar:40} {pos}/{len} ranges, {per_sec}, ETA {eta}",
    )?);
    let total: usize = results
        .progress_with(bar)
        .map(|r| r.expect("count_primes does not fail"))
        .sum();
    println!("primes below 2,000,000: {total}");
    Ok(())
}
