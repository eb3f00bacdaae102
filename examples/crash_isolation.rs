//! A crash stays local: one task kills its own worker process (a segfault, an abort, a
//! `SIGKILL`, an `exit(3)`); only that task's future fails, naming the pid and the signal or
//! status, and every other result still arrives. (Python's ProcessPoolExecutor fails *every*
//! pending task with `BrokenProcessPool` in this situation.)
//!
//! Run: `cargo run --example crash_isolation`

#[cfg(unix)]
use concurrent_futures::{as_completed, register, ProcessPoolExecutor};

#[cfg(unix)]
#[derive(Clone, Copy, Debug, serde::Serialize, serde::Deserialize)]
enum Job {
    Square(u64),
    Segfault,
    Abort,
    Kill,
    Exit(i32),
}

#[cfg(unix)]
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
#[cfg(unix)]
register!(run);

#[cfg(not(unix))]
fn main() {
    eprintln!("this example needs the process engine, which is Unix-only for now");
}

#[cfg(unix)]
fn main() {
    let pool = ProcessPoolExecutor::with_max_workers(2).unwrap();
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
