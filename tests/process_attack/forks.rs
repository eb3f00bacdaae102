//! Tasks that leave something behind the engine cannot wait for: a forked child that lingers
//! holding the worker's end of the channel (so end-of-stream never comes while it lives), and a
//! task that ignores `SIGTERM`. The engine must notice the worker's own end — by its exit, not
//! by its channel — and never wait on the grandchild.
//!
//! Every grandchild is recorded (returned by its task, or written to a file by a task that never
//! returns) and `SIGKILL`ed when the test ends, pass or fail ([`Lingering`]).

use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use concurrent_futures::{register, ProcessPoolExecutor};

use super::util::{eventually, Scratch, LONG};
use super::{alive, pool, proc_stat, result, serial, shutdown, square, watchdog, within, Pool};

// ----- task functions ------------------------------------------------------------------------

/// Forks a child that keeps everything the worker holds — its channel to the parent included —
/// for ten minutes, with its stdout and stderr on `/dev/null` (so that it holds no pipe of the
/// test harness). Returns the child's pid.
fn fork_lingering_child() -> i32 {
    // SAFETY: the worker is single-threaded, and the child only makes async-signal-safe calls
    // before `_exit`.
    unsafe {
        let child = libc::fork();
        if child == 0 {
            let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
            if null >= 0 {
                libc::dup2(null, 1);
                libc::dup2(null, 2);
            }
            libc::sleep(600);
            libc::_exit(0);
        }
        assert!(child > 0, "fork failed");
        child
    }
}

/// Writes `pid` to `path` at once (written aside, then renamed).
fn record(path: &str, pid: i32) {
    let tmp = format!("{path}.tmp");
    std::fs::write(&tmp, pid.to_string()).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// Never returns (until its worker is stopped).
fn spin() -> ! {
    loop {
        std::thread::park_timeout(Duration::from_secs(1));
    }
}

/// Forks a lingering child, records its pid at `path`, then never returns.
fn fork_then_spin(path: String) -> u32 {
    let child = fork_lingering_child();
    record(&path, child);
    spin()
}

/// Forks a lingering child and returns `(its pid, the worker's pid)`.
fn fork_then_return(_: ()) -> (i32, u32) {
    (fork_lingering_child(), std::process::id())
}

/// Ignores `SIGTERM`, records the worker's pid at `path`, then never returns.
fn ignore_sigterm_then_spin(path: String) -> u32 {
    // SAFETY: plain syscall.
    unsafe { libc::signal(libc::SIGTERM, libc::SIG_IGN) };
    record(&path, std::process::id() as i32);
    spin()
}

register!(fork_then_spin, fork_then_return, ignore_sigterm_then_spin);

// ----- the grandchildren ---------------------------------------------------------------------

/// The processes forked by this test's tasks: their pids come from files in a scratch directory
/// or are added directly, and all of them are `SIGKILL`ed on drop. Declare it after the pool, so
/// that it drops first: a pool that waits on a grandchild (the bug under test) then finishes.
struct Lingering {
    scratch: Scratch,
    pids: Mutex<Vec<i32>>,
}

impl Lingering {
    fn new() -> Self {
        Lingering {
            scratch: Scratch::new(),
            pids: Mutex::new(Vec::new()),
        }
    }

    /// A file for a task to record a pid in.
    fn file(&self, name: &str) -> String {
        self.scratch.file(name)
    }

    /// The pid recorded at `path`, if one was (and keeps it for the clean-up).
    fn read(&self, path: &str) -> Option<i32> {
        let pid = std::fs::read_to_string(path).ok()?.trim().parse().ok()?;
        self.add(pid);
        Some(pid)
    }

    /// Waits (bounded) for a pid to be recorded at `path`.
    fn wait_for(&self, path: &str) -> i32 {
        assert!(
            eventually(LONG, || Path::new(path).exists()),
            "nothing was recorded at {path} in {LONG:?}"
        );
        self.read(path).expect("a pid")
    }

    fn add(&self, pid: i32) {
        let mut pids = self.pids.lock().unwrap_or_else(|p| p.into_inner());
        if !pids.contains(&pid) {
            pids.push(pid);
        }
    }
}

impl Drop for Lingering {
    fn drop(&mut self) {
        for name in self.scratch.names() {
            if !name.ends_with(".tmp") {
                let _ = self.read(&self.scratch.file(&name));
            }
        }
        let me = std::process::id();
        let ours = std::fs::read_link("/proc/self/exe").ok();
        for &pid in self.pids.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            // Only a process running this program (a recycled pid would not).
            if std::fs::read_link(format!("/proc/{pid}/exe")).ok() != ours {
                continue;
            }
            // SAFETY: plain syscalls on a process this test's task forked.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                if proc_stat(pid as u32).is_some_and(|(_, ppid)| ppid == me) {
                    libc::waitpid(pid, std::ptr::null_mut(), 0);
                }
            }
        }
    }
}

// ----- C: a grandchild holds the worker's channel --------------------------------------------

/// A task time limit fires (`TaskTimedOut`) though the task's forked child holds the channel.
#[test]
fn a_task_timeout_fires_though_a_forked_child_holds_the_channel() {
    let _s = serial();
    let _w = watchdog();
    let pool = pool(1);
    let kids = Lingering::new();
    // The clock starts when the task is sent; on a loaded machine it may run out before the
    // task has forked. Try again until one attempt did fork.
    let mut grandchild = None;
    for attempt in 0..5 {
        let file = kids.file(&format!("attempt-{attempt}"));
        let f = pool
            .submit_fn_with_timeout(fork_then_spin, file.clone(), Duration::from_millis(300))
            .unwrap();
        let err = result(f).unwrap_err();
        assert!(err.is_task_timeout(), "attempt {attempt}: {err:?}");
        if let Some(pid) = kids.read(&file) {
            grandchild = Some(pid);
            break;
        }
    }
    let grandchild = grandchild.expect("no attempt forked before its time limit");
    assert!(
        alive(grandchild as u32),
        "the grandchild should still linger"
    );
    assert_eq!(result(pool.submit_fn(square, 5).unwrap()), Ok(25));
    shutdown(&pool);
}

/// `kill` ends a task (`WorkerDied`) though the task's forked child holds the channel.
#[test]
fn kill_stops_a_task_whose_forked_child_holds_the_channel() {
    let _s = serial();
    let _w = watchdog();
    let pool = pool(1);
    let kids = Lingering::new();
    let file = kids.file("grandchild");
    let f = pool.submit_fn(fork_then_spin, file.clone()).unwrap();
    let grandchild = kids.wait_for(&file);
    assert!(pool.kill(&f), "the task is running");
    let err = result(f).unwrap_err();
    assert!(err.is_worker_died(), "{err:?}");
    assert!(
        alive(grandchild as u32),
        "the grandchild should still linger"
    );
    assert_eq!(result(pool.submit_fn(square, 6).unwrap()), Ok(36));
    shutdown(&pool);
}

/// `terminate_workers` returns, the future done, though the task's forked child holds the channel.
#[test]
fn terminate_workers_returns_though_a_forked_child_holds_the_channel() {
    let _s = serial();
    let _w = watchdog();
    let pool = pool(1);
    let kids = Lingering::new();
    let file = kids.file("grandchild");
    let f = pool.submit_fn(fork_then_spin, file.clone()).unwrap();
    let grandchild = kids.wait_for(&file);
    let worker = pool.worker_pids()[0];
    let p = pool.arc();
    within("terminate_workers", move || p.terminate_workers());
    assert!(f.done(), "{f:?}");
    let err = result(f).unwrap_err();
    assert!(err.is_worker_died(), "{err:?}");
    assert!(
        proc_stat(worker).is_none(),
        "worker {worker} was not reaped"
    );
    assert!(pool.worker_pids().is_empty());
    assert!(
        alive(grandchild as u32),
        "the grandchild should still linger"
    );
}

/// A finished task's lingering forked child blocks neither its result nor `shutdown(wait)`.
#[test]
fn shutdown_returns_though_a_finished_task_left_a_child_holding_the_channel() {
    let _s = serial();
    let _w = watchdog();
    let pool = pool(1);
    let kids = Lingering::new();
    let (grandchild, worker) = result(pool.submit_fn(fork_then_return, ()).unwrap()).unwrap();
    kids.add(grandchild);
    assert_eq!(pool.worker_pids(), [worker]);
    // The worker still serves.
    assert_eq!(result(pool.submit_fn(square, 7).unwrap()), Ok(49));
    shutdown(&pool);
    assert!(pool.worker_pids().is_empty());
    assert!(
        proc_stat(worker).is_none(),
        "worker {worker} was not reaped"
    );
    assert!(
        alive(grandchild as u32),
        "the grandchild should still linger"
    );
}

// ----- D: a task that ignores SIGTERM --------------------------------------------------------

/// `terminate_workers` escalates to `SIGKILL` for a task ignoring `SIGTERM`: returns, none left.
#[test]
fn terminate_workers_kills_a_task_that_ignores_sigterm() {
    let _s = serial();
    let _w = watchdog();
    let pool = Pool::new(
        ProcessPoolExecutor::builder()
            .max_workers(1)
            .terminate_grace(Duration::from_millis(300))
            .build()
            .unwrap(),
    );
    let scratch = Scratch::new();
    let ready = scratch.file("ignoring");
    let f = pool
        .submit_fn(ignore_sigterm_then_spin, ready.clone())
        .unwrap();
    assert!(
        eventually(LONG, || Path::new(&ready).exists()),
        "the task never started ignoring SIGTERM"
    );
    let worker: u32 = std::fs::read_to_string(&ready)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(pool.worker_pids(), [worker]);
    let p = pool.arc();
    within("terminate_workers", move || p.terminate_workers());
    assert!(f.done(), "{f:?}");
    let err = result(f).unwrap_err();
    assert!(err.is_worker_died(), "{err:?}");
    assert!(
        err.to_string().contains("SIGKILL"),
        "SIGTERM was ignored, so SIGKILL ended it: {err}"
    );
    assert!(pool.worker_pids().is_empty());
    assert!(
        !Path::new(&format!("/proc/{worker}")).exists(),
        "worker {worker} remains"
    );
}
