//! Seed 002's prime counting across the ranks of an MPI job, with the cluster engine's figures:
//! start-up to the first result, sequential round trip, `map` throughput (chunksize 1 and 100),
//! the CPU an idle pool uses in one second, and the prime-counting speed-up.
//!
//! Static mode (every cluster): every rank runs this program; rank 0 gets the pool.
//!
//! ```text
//! mpirun -n 3 --oversubscribe --mca btl tcp,self target/release/examples/mpi_primes
//! srun -N 4 --ntasks-per-node=1 target/release/examples/mpi_primes
//! ```
//!
//! Spawned mode: started alone, it spawns 2 worker ranks (`MPI_Comm_spawn`).
//!
//! ```text
//! cargo run --release --features mpi --example mpi_primes
//! ```
//!
//! `--workers-per-rank K` sets each worker rank's local worker processes (default: 1 here, so
//! that 3 ranks on a 2-core machine make 2 workers).

use std::time::{Duration, Instant};

use concurrent_futures::{register, Executor, MapOptions, MpiPoolExecutor};

fn is_prime(n: u64) -> bool {
    n >= 2 && (2..).take_while(|d| d * d <= n).all(|d| n % d != 0)
}
fn count_primes((start, end): (u64, u64)) -> usize {
    (start..end).filter(|&n| is_prime(n)).count()
}
fn noop(x: u64) -> u64 {
    x
}
register!(count_primes, noop);

/// Written once, for any engine.
fn total_primes(pool: &impl Executor, ranges: &[(u64, u64)]) -> usize {
    pool.map(count_primes, ranges.iter().copied())
        .map(|r| r.expect("count_primes does not fail"))
        .sum()
}

/// User + system CPU time of a process, from `/proc/PID/stat`.
fn cpu_of(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split(' ').collect();
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    // SAFETY: a plain libc query.
    let hz = unsafe { libc_sysconf(2) } as u64; // _SC_CLK_TCK
    Some(Duration::from_nanos(ticks * 1_000_000_000 / hz.max(1)))
}
extern "C" {
    #[link_name = "sysconf"]
    fn libc_sysconf(name: i32) -> i64;
}

fn main() {
    let start = Instant::now();
    let per: usize = std::env::args()
        .skip_while(|a| a != "--workers-per-rank")
        .nth(1)
        .map_or(1, |v| v.parse().expect("a number"));
    let builder = MpiPoolExecutor::builder().workers_per_rank(per);
    let under_launcher = std::env::var_os("OMPI_COMM_WORLD_SIZE").is_some()
        || std::env::var_os("PMI_RANK").is_some()
        || std::env::var_os("SLURM_PROCID").is_some();
    let pool = if under_launcher {
        match builder.join_world().expect("join the job") {
            Some(pool) => pool,
            None => return, // a worker rank: served until rank 0 was done
        }
    } else {
        builder.max_workers(2).spawn().expect("spawn worker ranks")
    };
    let mode = if under_launcher { "static" } else { "spawned" };
    assert_eq!(pool.submit_fn(noop, 1).unwrap().result(), Ok(1));
    let startup = start.elapsed();
    println!(
        "{mode} mode: {} worker ranks, {} workers: {:?}",
        pool.ranks().len(),
        pool.max_workers(),
        pool.ranks()
    );
    println!(
        "start-up to the first result: {:.0} ms",
        startup.as_secs_f64() * 1e3
    );

    // Sequential round trip.
    let mut rtt: Vec<Duration> = (0..3000)
        .map(|i| {
            let t = Instant::now();
            pool.submit_fn(noop, i).unwrap().result().unwrap();
            t.elapsed()
        })
        .skip(500)
        .collect();
    rtt.sort();
    println!(
        "round trip: median {:.1} µs, p90 {:.1} µs",
        rtt[rtt.len() / 2].as_secs_f64() * 1e6,
        rtt[rtt.len() * 9 / 10].as_secs_f64() * 1e6
    );

    // map throughput.
    for (chunk, n) in [(1usize, 50_000u64), (100, 2_000_000)] {
        let t = Instant::now();
        let sum: u64 = pool
            .map_with(noop, 0..n, MapOptions::new().chunksize(chunk))
            .map(Result::unwrap)
            .sum();
        let secs = t.elapsed().as_secs_f64();
        assert_eq!(sum, n * (n - 1) / 2);
        println!("map, chunksize {chunk}: {:.0} items/s", n as f64 / secs);
    }

    // Idle: the CPU the manager and the worker ranks on this host use in one second.
    let mut pids = vec![std::process::id()];
    pids.extend(pool.ranks().iter().map(|r| r.2));
    let before: Vec<_> = pids.iter().map(|&p| cpu_of(p)).collect();
    std::thread::sleep(Duration::from_secs(1));
    let after: Vec<_> = pids.iter().map(|&p| cpu_of(p)).collect();
    let used: Vec<String> = before
        .iter()
        .zip(&after)
        .map(|(b, a)| match (b, a) {
            (Some(b), Some(a)) => format!("{:.1} ms", (*a - *b).as_secs_f64() * 1e3),
            _ => "n/a (another host)".into(),
        })
        .collect();
    println!(
        "idle for 1 s, CPU used (manager, ranks…): {}",
        used.join(", ")
    );

    // Prime counting: sequential here, then on the pool.
    let ranges: Vec<(u64, u64)> = (0..2_000_000)
        .step_by(10_000)
        .map(|i| (i, i + 10_000))
        .collect();
    let t = Instant::now();
    let seq: usize = ranges.iter().copied().map(count_primes).sum();
    let seq_t = t.elapsed();
    let t = Instant::now();
    let par = total_primes(&pool, &ranges);
    let par_t = t.elapsed();
    assert_eq!(seq, par);
    println!(
        "primes below 2,000,000: {par}; sequential {:.2} s, pool {:.2} s: {:.2}× on {} workers",
        seq_t.as_secs_f64(),
        par_t.as_secs_f64(),
        seq_t.as_secs_f64() / par_t.as_secs_f64(),
        pool.max_workers()
    );
}
