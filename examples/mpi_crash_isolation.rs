//! A crash stays local on a cluster: one task kills its own worker process (a segfault, an
//! abort, a `SIGKILL`, an `exit(3)`) on a worker rank; only that task's future fails, naming
//! the host, the pid and the signal or status, every other result still arrives, and the MPI
//! job goes on. (mpi4py.futures loses the whole job, or waits forever, when a worker dies.)
//!
//! ```text
//! mpirun -n 3 --oversubscribe --mca btl tcp,self target/release/examples/mpi_crash_isolation
//! cargo run --release --features mpi --example mpi_crash_isolation   # spawned mode
//! ```

use concurrent_futures::{as_completed, register, MpiPoolExecutor};

#[derive(Clone, Copy, Debug, serde::Serialize, serde::Deserialize)]
enum Job {
    Square(u64),
    Segfault,
    Abort,
    Kill,
    Exit(i32),
}

fn run(job: Job) -> u64 {
    match job {
        Job::Square(n) => n * n,
        // SAFETY: none; this deliberately crashes the worker process.
        Job::Segfault => unsafe { libc::raise(libc::SIGSEGV) as u64 },
        Job::Abort => std::process::abort(),
        // SAFETY: a plain syscall: the worker kills itself.
        Job::Kill => unsafe { libc::kill(libc::getpid(), libc::SIGKILL) as u64 },
        Job::Exit(code) => std::process::exit(code),
    }
}
register!(run);

fn main() {
    let builder = MpiPoolExecutor::builder().workers_per_rank(1);
    // Under mpirun, or srun (which sets none of Open MPI's variables).
    let under_launcher = [
        "OMPI_COMM_WORLD_SIZE",
        "PMI_RANK",
        "PMIX_RANK",
        "SLURM_PROCID",
    ]
    .iter()
    .any(|v| std::env::var_os(v).is_some());
    let pool = if under_launcher {
        match builder.join_world().unwrap() {
            Some(pool) => pool,
            None => return, // a worker rank
        }
    } else {
        builder.max_workers(2).spawn().unwrap()
    };
    let jobs = [
        Job::Square(1),
        Job::Segfault,
        Job::Square(2),
        Job::Abort,
        Job::Square(3),
        Job::Kill,
        Job::Square(4),
        Job::Exit(3),
        Job::Square(5),
    ];
    let futures: Vec<_> = jobs
        .iter()
        .map(|&job| (pool.submit_fn(run, job).unwrap(), job))
        .collect();
    let mut ok = 0;
    for (future, job) in as_completed(futures) {
        match future.result() {
            Ok(v) => {
                ok += 1;
                println!("{job:?} -> {v}");
            }
            Err(e) => println!("{job:?} -> error: {e}"),
        }
    }
    println!("{ok} results arrived; the pool is still usable:");
    println!(
        "{:?}",
        pool.submit_fn(run, Job::Square(12)).unwrap().result()
    );
}
