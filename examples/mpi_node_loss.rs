//! A lost node on a cluster: a stream of tasks runs on the worker ranks of other hosts while one
//! of those hosts is lost (its processes killed, or its link cut). With fault tolerance (Open
//! MPI 5 under `mpirun --with-ft ulfm`), the lost rank is found within the rank timeout (or
//! sooner, when the library reports it), its tasks run again on the others, every result
//! arrives and the pool shuts down; without, the job ends with a message naming the host.
//! `scripts/cluster/node-loss.sh` runs it across simulated hosts and loses one of them.
//!
//! ```text
//! mpirun --with-ft ulfm -n 3 target/debug/examples/mpi_node_loss [TASKS] [TASK_MS] [TIMEOUT_MS] [RETRIES]
//! mpirun --with-ft ulfm -n 1 target/debug/examples/mpi_node_loss   # spawned mode: 2 ranks
//! ```
//!
//! Rank 0 prints `started at T` once its pool serves, then a line per event, on the boot-time
//! clock (`/proc/uptime`, the clock `lose-host.sh` prints), and a last `node-loss:` summary.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use concurrent_futures::{as_completed, register, MpiPoolExecutor};

/// Sleeps `ms`, then says where it ran.
fn work((i, ms): (u64, u64)) -> (u64, String) {
    std::thread::sleep(Duration::from_millis(ms));
    (i, hostname())
}
register!(work);

fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length.
    unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// Seconds on the boot-time clock.
fn now() -> f64 {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a plain clock read into a valid struct.
    unsafe { libc::clock_gettime(libc::CLOCK_BOOTTIME, &mut t) };
    t.tv_sec as f64 + t.tv_nsec as f64 * 1e-9
}

fn arg(i: usize, default: u64) -> u64 {
    std::env::args()
        .nth(i)
        .and_then(|a| a.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let (tasks, ms, timeout) = (arg(1, 300), arg(2, 100), arg(3, 3000));
    let builder = MpiPoolExecutor::builder()
        .workers_per_rank(2)
        .retries(arg(4, 3) as u32)
        .rank_timeout(Duration::from_millis(timeout));
    // Under `mpirun -n 1` (or started alone): spawned mode, two worker ranks.
    let alone = std::env::var("OMPI_COMM_WORLD_SIZE").map_or(true, |n| n == "1");
    let built = if alone {
        builder.max_workers(4).spawn().map(Some)
    } else {
        builder.join_world()
    };
    let pool = match built {
        Ok(Some(pool)) => pool,
        Ok(None) => return, // a worker rank, released by the manager
        Err(e) => {
            println!("worker rank on {} at {:.3}: {e}", hostname(), now());
            std::process::exit(1);
        }
    };
    let before = pool.max_workers();
    println!("fault tolerance: {:?}", pool.fault_tolerance());
    println!("ranks: {:?}", pool.ranks());
    println!("started at {:.3}", now());
    let pool = Arc::new(pool);
    let done = Arc::new(AtomicBool::new(false));
    let watcher = {
        let (pool, done) = (pool.clone(), done.clone());
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                if pool.max_workers() < before {
                    let t = now();
                    println!(
                        "lost at {t:.3}: max_workers {before} -> {}",
                        pool.max_workers()
                    );
                    println!("ranks now: {:?}", pool.ranks());
                    return Some(t);
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            None
        })
    };
    let futures: Vec<_> = (0..tasks)
        .map(|i| pool.submit_fn(work, (i, ms)).expect("submit"))
        .collect();
    let mut completions = Vec::new();
    let mut failed = Vec::new();
    for f in as_completed(futures) {
        match f.result() {
            Ok((i, host)) => completions.push((now(), i, host)),
            Err(e) => failed.push(e.to_string()),
        }
    }
    done.store(true, Ordering::Relaxed);
    let lost_at = watcher.join().expect("watcher");
    pool.shutdown(true, false);
    println!("shutdown returned at {:.3}", now());
    for e in &failed {
        println!("failed: {e}");
    }
    let mut seen: Vec<u64> = completions.iter().map(|c| c.1).collect();
    seen.sort_unstable();
    seen.dedup();
    let first_after = lost_at.and_then(|t| completions.iter().find(|c| c.0 > t).map(|c| c.0));
    let stats = pool.stats();
    println!(
        "node-loss: {tasks} tasks of {ms} ms, {} results ({} distinct), {} failed, lost {}; \
         max_workers {before} -> {}; workers alive {}; lost detected at {}; first result \
         after it at {}",
        completions.len(),
        seen.len(),
        failed.len(),
        tasks as usize - seen.len() - failed.len(),
        pool.max_workers(),
        stats.workers_alive,
        lost_at.map_or("-".into(), |t| format!("{t:.3}")),
        first_after.map_or("-".into(), |t| format!("{t:.3}")),
    );
}
