//! A command-line program whose engine is a flag (or the environment): the work is written
//! once against the `Executor` trait, and `AnyExecutor` runs it on threads, processes or the
//! cluster (with `--features mpi`).
//!
//! ```text
//! cargo run --release --example engine_cli -- --engine threads --workers 4 2000000
//! cargo run --release --example engine_cli -- --engine processes 2000000
//! CONCURRENT_FUTURES_ENGINE=processes cargo run --release --example engine_cli
//! ```

use std::error::Error;
use std::time::Instant;

use concurrent_futures::{register, AnyExecutor, Executor, MapOptions};

/// Primes in `lo..hi`, by trial division.
fn count_primes((lo, hi): (u64, u64)) -> usize {
    (lo..hi)
        .filter(|&n| n >= 2 && (2..).take_while(|d| d * d <= n).all(|d| n % d != 0))
        .count()
}
register!(count_primes);

/// The work, written once for every engine.
fn primes_below(pool: &impl Executor, limit: u64) -> usize {
    let step = 10_000;
    let ranges = (0..limit.div_ceil(step)).map(|i| (i * step, ((i + 1) * step).min(limit)));
    pool.map_with(count_primes, ranges, MapOptions::new().chunksize(4))
        .map(|r| r.expect("count_primes does not fail"))
        .sum()
}

fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let (mut engine, mut workers, mut limit) = (None, None, 1_000_000u64);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--engine" => engine = Some(args.next().ok_or("--engine needs a value")?),
            "--workers" => workers = Some(args.next().ok_or("--workers needs a number")?.parse()?),
            "--help" | "-h" => {
                println!(
                    "usage: engine_cli [--engine threads|processes|cluster] [--workers N] [LIMIT]"
                );
                return Ok(());
            }
            n => limit = n.parse().map_err(|_| format!("not a limit: {n}"))?,
        }
    }
    // A flag wins; without one, CONCURRENT_FUTURES_ENGINE and _MAX_WORKERS decide.
    let pool = match engine {
        Some(e) => AnyExecutor::new(e.parse()?, workers)?,
        None if workers.is_some() => AnyExecutor::new("threads".parse()?, workers)?,
        None => AnyExecutor::from_env()?,
    };
    let t = Instant::now();
    let n = primes_below(&pool, limit);
    println!(
        "{n} primes below {limit} on {} ({} workers) in {:.2?}",
        pool.engine(),
        pool.max_workers(),
        t.elapsed()
    );
    Ok(())
}
