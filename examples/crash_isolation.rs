//! A crash stays local: one task kills its own worker process (a segfault, an abort, a
//! `SIGKILL`, an `exit(3)`); only that task's future fails, naming the pid and the signal or
//! status (on Windows, the `NTSTATUS`), and every other result still arrives. (Python's ProcessPoolExecutor fails *every*
//! pending task with `BrokenProcessPool` in this situation.)
//!
//! Run: `cargo run --example crash_isolation`

#[cfg(any(unix, windows))]
use concurrent_futures::{as_completed, register, ProcessPoolExecutor};

#[cfg(any(unix, windows))]
#[derive(Clone, Copy, Debug, serde::Serialize, serde::Deserialize)]
enum Job {
    Square(u64),
    Segfault,
    Abort,
    Kill,
    Exit(i32),
}

#[cfg(any(unix, windows))]
fn run(job: Job) -> u64 {
    match job {
        Job::Square(n) => n * n,
        Job::Segfault => {
            // SAFETY: none; a store to the never-mapped first page deliberately crashes the
            // worker process (SIGSEGV; on Windows an access violation, 0xC0000005).
            unsafe { std::ptr::write_volatile(0x10 as *mut u64, 1) };
            0
        }
        Job::Abort => std::process::abort(),
        Job::Kill => kill_self(),
        Job::Exit(code) => std::process::exit(code),
    }
}
/// Ends this worker at once: `SIGKILL` (as the OOM killer does), or on Windows
/// `TerminateProcess` (as Task Manager's End task does).
#[cfg(any(unix, windows))]
fn kill_self() -> u64 {
    #[cfg(unix)]
    // SAFETY: a plain syscall: the worker kills itself.
    unsafe {
        libc::kill(libc::getpid(), libc::SIGKILL)
    };
    #[cfg(windows)]
    {
        #[link(name = "kernel32")]
        extern "system" {
            fn GetCurrentProcess() -> *mut std::ffi::c_void;
            fn TerminateProcess(h: *mut std::ffi::c_void, code: u32) -> i32;
        }
        // SAFETY: ends this process.
        unsafe { TerminateProcess(GetCurrentProcess(), 1) };
    }
    0
}

#[cfg(any(unix, windows))]
register!(run);

#[cfg(not(any(unix, windows)))]
fn main() {
    eprintln!("this example needs the process engine, which runs on Unix and Windows");
}

#[cfg(any(unix, windows))]
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
