#![cfg(all(target_os = "linux", feature = "process"))]
//! Attacks on the process engine's containment: user code that panics where the engine runs it
//! (decoding, encoding, dropping values, on either side of the channel), tasks that fork
//! children which keep the worker's channel open, tasks that ignore `SIGTERM` or write to a
//! closed pipe, panic messages larger than a frame, done-callbacks that wait on their own pool,
//! two functions of one name, and the lifetime of workers (the spawner thread, the parent's
//! death).
//!
//! Each test names the guarantee it checks in its doc comment and must fail on an engine that
//! does not keep it: the failure then shows as a wrong outcome, a worker pid that changed, or a
//! bounded wait that ran out — never as a hang (every blocking call is bounded: `result` below,
//! [`within`] for `shutdown` and `terminate_workers`, and a watchdog per test).
//!
//! The tests of this file run one at a time (`serial`): some count this process's threads, and
//! the fork tests leave processes that must be cleaned up before the next test.
//!
//! - `panics.rs`: panics outside the task's function, parent side (A) and worker side (B, G);
//! - `forks.rs`: lingering grandchildren (C) and a task that ignores `SIGTERM` (D);
//! - `engine.rs`: callbacks (E), `SIGPIPE` (F), homonymous functions (H), the spawner thread
//!   and the workers' own threads (I);
//! - here: workers of a `SIGKILL`ed parent (J).

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use concurrent_futures::{register, Future, ProcessPoolExecutor, TaskError};

#[path = "suite/util.rs"]
mod util;

#[path = "process_attack/engine.rs"]
mod engine;
#[path = "process_attack/forks.rs"]
mod forks;
#[path = "process_attack/panics.rs"]
mod panics;

use util::{eventually, Watchdog, LONG};

// ----- task functions shared by the modules --------------------------------------------------

/// The pid of the process that runs it.
/// Threads of an idle worker: its main thread, and on the portable Unix path the thread that
/// waits on the parent's lifeline (Linux asks the kernel instead: `PR_SET_PDEATHSIG`).
pub const WORKER_THREADS: usize = if cfg!(concurrent_futures_portable_unix) {
    2
} else {
    1
};

fn pid(_: ()) -> u32 {
    std::process::id()
}

fn square(x: u64) -> u64 {
    x * x
}

/// Keeps a worker busy until the gate at `gate` opens; returns the pid of the process.
fn hold(gate: String) -> u32 {
    util::hold_until_open(&gate);
    std::process::id()
}

/// Never returns: keeps its worker busy (not reading its channel) until something stops it.
fn busy(_: ()) -> u32 {
    loop {
        std::thread::park_timeout(Duration::from_secs(1));
    }
}

register!(pid, square, hold, busy);

// ----- helpers -------------------------------------------------------------------------------

/// One test of this file at a time.
fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

/// A watchdog named after the calling test (taken after `serial`, so that waiting for the
/// lock does not count).
fn watchdog() -> Watchdog {
    Watchdog::for_this_test()
}

/// A process pool owned by a test. Dropped while the test fails, it is dropped on a thread of
/// its own instead: the drop waits for the workers (`shutdown(true, false)`), and a pool that
/// never winds down — the bug a test may have found — must make the test fail, not hang.
struct Pool(Option<Arc<ProcessPoolExecutor>>);

impl Pool {
    fn new(pool: ProcessPoolExecutor) -> Self {
        Pool(Some(Arc::new(pool)))
    }

    /// Another handle, for a callback or a thread.
    fn arc(&self) -> Arc<ProcessPoolExecutor> {
        self.0.clone().expect("the pool is there until dropped")
    }
}

impl std::ops::Deref for Pool {
    type Target = ProcessPoolExecutor;
    fn deref(&self) -> &ProcessPoolExecutor {
        self.0.as_ref().expect("the pool is there until dropped")
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        if let Some(pool) = self.0.take() {
            if std::thread::panicking() {
                std::thread::spawn(move || drop(pool));
            }
        }
    }
}

fn pool(workers: usize) -> Pool {
    Pool::new(ProcessPoolExecutor::with_max_workers(workers).unwrap())
}

/// The future's outcome, waited for at most [`LONG`]; running out fails the test.
fn result<T>(mut f: Future<T>) -> Result<T, TaskError> {
    let r = f.result_timeout(LONG);
    assert!(
        !matches!(r, Err(TaskError::Timeout { .. })),
        "no result in {LONG:?}"
    );
    r
}

/// Runs `f` on a thread of its own and waits at most `LONG` for it: `shutdown(wait)` and
/// `terminate_workers` have no timeout of their own, and a test must fail, not hang, when one
/// of them never returns.
fn within<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .name(format!("within: {what}"))
        .spawn(move || {
            let _ = tx.send(f());
        })
        .expect("spawn a thread");
    match rx.recv_timeout(LONG) {
        Ok(v) => v,
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("{what} did not return in {LONG:?}"),
        Err(mpsc::RecvTimeoutError::Disconnected) => panic!("{what} panicked"),
    }
}

/// `pool.shutdown(true, false)`, bounded.
fn shutdown(pool: &Pool) {
    let p = pool.arc();
    within("shutdown(true, false)", move || p.shutdown(true, false));
}

/// Runs `pid` on the pool and checks that the pid is one the pool lists.
fn worker_pid(pool: &ProcessPoolExecutor) -> u32 {
    let p = result(pool.submit_fn(pid, ()).unwrap()).unwrap();
    assert!(
        pool.worker_pids().contains(&p),
        "task pid {p} not among the workers {:?}",
        pool.worker_pids()
    );
    p
}

/// `(state, ppid)` of process `pid`, from `/proc/<pid>/stat`; `None` if it does not exist.
fn proc_stat(pid: u32) -> Option<(char, u32)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may contain spaces: the fields after it follow the last ')'.
    let rest = stat.rsplit_once(')')?.1;
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    Some((state, ppid))
}

/// Running (not a zombie, not gone).
fn alive(pid: u32) -> bool {
    proc_stat(pid).is_some_and(|(state, _)| state != 'Z' && state != 'X')
}

/// The `Threads:` line of `/proc/<pid>/status`.
fn thread_count(pid: u32) -> Option<usize> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|n| n.trim().parse().ok())
}

// ----- J: workers of a parent killed with SIGKILL ---------------------------------------------

/// Selects what `helper` does when this binary runs as a child process.
const HELPER_ENV: &str = "PROCESS_ATTACK_HELPER";

/// Not a test of its own: what this binary does when a test runs it as a child "parent"
/// process. It starts a worker on a task that never ends (so the worker does not read its
/// channel, and would not notice it closing), reports the worker's pid, then blocks until its
/// stdin closes (the test kills it long before).
#[test]
#[ignore = "run by `workers_of_a_sigkilled_parent_die_without_a_watchdog_thread`"]
fn helper() {
    if std::env::var(HELPER_ENV).as_deref() != Ok("parent") {
        return;
    }
    let pool = ProcessPoolExecutor::with_max_workers(1).unwrap();
    let worker = result(pool.submit_fn(pid, ()).unwrap()).unwrap();
    let f = pool.submit_fn(busy, ()).unwrap();
    assert!(eventually(LONG, || f.running()));
    println!("WORKER {worker}");
    std::io::Write::flush(&mut std::io::stdout()).unwrap();
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
    pool.kill_workers();
}

/// Workers of a `SIGKILL`ed parent die though no thread of theirs watches the parent.
#[test]
fn workers_of_a_sigkilled_parent_die_without_a_watchdog_thread() {
    let _s = serial();
    let _w = watchdog();
    // `/proc/self/exe`: the test binary's path may have been replaced by a rebuild meanwhile.
    let mut parent = Command::new("/proc/self/exe")
        .args([
            "helper",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(HELPER_ENV, "parent")
        .env("RUST_BACKTRACE", "0")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run this test binary as a child");
    let (tx, rx) = mpsc::channel();
    let stdout = parent.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            // The harness may have printed "test helper ... " on the same line.
            if let Some((_, rest)) = line.split_once("WORKER ") {
                let _ = tx.send(rest.trim().parse::<u32>().ok());
            }
        }
    });
    let mut stderr = parent.stderr.take().unwrap();
    let (etx, erx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        let _ = etx.send(s);
    });
    let worker = match rx.recv_timeout(LONG) {
        Ok(Some(p)) => p,
        _ => {
            let _ = parent.kill();
            let _ = parent.wait();
            let err = erx.recv_timeout(LONG).unwrap_or_default();
            panic!("the helper never reported its worker; its stderr:\n{err}");
        }
    };
    assert_eq!(
        proc_stat(worker).map(|(_, ppid)| ppid),
        Some(parent.id()),
        "worker {worker} is not the helper's child"
    );
    // Busy with its task, the worker has one thread (Linux: the kernel watches the parent), or
    // two on the portable Unix path (one waits on the parent's lifeline).
    assert_eq!(
        thread_count(worker),
        Some(WORKER_THREADS),
        "threads of worker {worker}"
    );
    parent.kill().unwrap(); // SIGKILL: no destructor, no shutdown
    parent.wait().unwrap();
    // Gone, or a zombie waiting for whoever adopted it.
    let ended = |p: u32| match proc_stat(p) {
        None => true,
        Some((state, _)) => state == 'Z' || state == 'X',
    };
    let gone = eventually(Duration::from_secs(30), || ended(worker));
    if !gone {
        // SAFETY: plain syscall; the orphaned worker of our own child, cleaned up before failing.
        unsafe { libc::kill(worker as i32, libc::SIGKILL) };
    }
    assert!(
        gone,
        "worker {worker} still running 30 s after its parent was killed"
    );
}

/// `helper` is inert when run without its variable (as `cargo test -- --ignored` does).
#[test]
fn helper_does_nothing_without_its_variable() {
    // `cargo test -- --ignored` runs `helper` in the test process itself: it must return.
    assert!(std::env::var_os(HELPER_ENV).is_none());
    helper();
    assert!(Path::new("/proc/self").exists());
}
