//! How the engine runs user code around tasks, and what its processes and threads look like:
//! done-callbacks that wait on their own pool, `SIGPIPE`, two registered functions of one name,
//! the thread workers are started from, and the threads of a worker and of a new pool.

use std::collections::HashSet;
use std::path::Path;
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::ThreadId;
use std::time::Duration;

use concurrent_futures::__private::registered_name;
use concurrent_futures::{register, Executor, ProcessPoolExecutor, TaskError, ThreadPoolExecutor};

use super::util::{eventually, Gate, LONG};
use super::{
    alive, hold, pid, pool, result, serial, shutdown, square, thread_count, watchdog, worker_pid,
    Pool,
};

/// The kernel id of the calling thread.
fn gettid() -> i64 {
    // SAFETY: plain syscall.
    unsafe { libc::syscall(libc::SYS_gettid) }
}

// ----- E: done-callbacks ---------------------------------------------------------------------

/// What a done-callback saw: the outcome of the task it waited on, and where it ran.
type Seen = (Result<u64, TaskError>, Option<String>, ThreadId);

/// On a one-worker pool, a done-callback submits a task to the same pool and waits for it; the
/// callback must get the result, and the pool must go on. The callback is added while its task
/// runs (held by a gate), so that the engine, not this thread, runs it.
fn callback_waits_on_its_own_pool<E: Executor + Send + Sync + 'static>(pool: Arc<E>) {
    let gate = Gate::closed();
    let f1 = pool.submit_fn(hold, gate.path()).unwrap();
    assert!(eventually(LONG, || f1.running()), "{f1:?}");
    let (tx, rx) = mpsc::channel::<Seen>();
    let pool2 = pool.clone();
    f1.add_done_callback(move |_| {
        let here = std::thread::current();
        let r = pool2
            .submit_fn(square, 3)
            .unwrap()
            .result_timeout(Duration::from_secs(60));
        let _ = tx.send((r, here.name().map(str::to_owned), here.id()));
    });
    gate.open();
    let (r, name, id) = rx
        .recv_timeout(Duration::from_secs(90))
        .expect("the callback never reported");
    assert_eq!(
        r,
        Ok(9),
        "the callback's own task (callback ran on {name:?})"
    );
    assert_ne!(
        id,
        std::thread::current().id(),
        "the engine ran the callback"
    );
    let name = name.unwrap_or_default();
    assert!(
        !name.starts_with("ProcessPoolExecutor-reader"),
        "the callback ran on a reader thread: {name}"
    );
    assert!(result(f1).is_ok());
    for x in 0..4 {
        assert_eq!(result(pool.submit_fn(square, x).unwrap()), Ok(x * x));
    }
    let p = pool.clone();
    super::within("shutdown(true, false)", move || p.shutdown(true, false));
}

/// Process engine: a done-callback may wait on a task of its own one-worker pool.
#[test]
fn a_callback_waits_on_its_own_process_pool() {
    let _s = serial();
    let _w = watchdog();
    let pool = pool(1);
    callback_waits_on_its_own_pool(pool.arc());
}

/// Thread engine: a done-callback may wait on a task of its own one-worker pool.
#[test]
fn a_callback_waits_on_its_own_thread_pool() {
    let _s = serial();
    let _w = watchdog();
    callback_waits_on_its_own_pool(Arc::new(ThreadPoolExecutor::with_max_workers(1).unwrap()));
}

/// Done-callbacks of a process pool never run on a reader thread.
#[test]
fn process_pool_callbacks_never_run_on_a_reader_thread() {
    let _s = serial();
    let _w = watchdog();
    let pool = pool(2);
    let gate = Gate::closed();
    let futures: Vec<_> = (0..6)
        .map(|_| pool.submit_fn(hold, gate.path()).unwrap())
        .collect();
    let (tx, rx) = mpsc::channel::<String>();
    for f in &futures {
        let tx = tx.clone();
        // Not done yet (the gate is closed): the engine runs each callback when the task ends.
        assert!(!f.done());
        f.add_done_callback(move |_| {
            let name = std::thread::current().name().unwrap_or_default().to_owned();
            let _ = tx.send(name);
        });
    }
    drop(tx);
    gate.open();
    let names: Vec<String> = (0..futures.len())
        .map(|i| {
            rx.recv_timeout(LONG)
                .unwrap_or_else(|_| panic!("callback {i}"))
        })
        .collect();
    for name in &names {
        assert!(
            !name.starts_with("ProcessPoolExecutor-reader"),
            "a callback ran on a reader thread: {names:?}"
        );
    }
    for f in futures {
        assert!(result(f).is_ok());
    }
    shutdown(&pool);
}

// ----- F: SIGPIPE ----------------------------------------------------------------------------

/// Writes to a pipe whose read end is closed; returns `(errno, pid)` (errno 0 if it wrote).
fn write_to_closed_pipe(_: ()) -> (i32, u32) {
    let mut fds = [0; 2];
    // SAFETY: plain syscalls on descriptors this function owns.
    let errno = unsafe {
        assert_eq!(libc::pipe(fds.as_mut_ptr()), 0, "pipe");
        libc::close(fds[0]);
        let n = libc::write(fds[1], b"x".as_ptr().cast(), 1);
        let errno = if n < 0 {
            std::io::Error::last_os_error().raw_os_error().unwrap_or(-1)
        } else {
            0
        };
        libc::close(fds[1]);
        errno
    };
    (errno, std::process::id())
}

register!(write_to_closed_pipe);

/// Process engine: writing to a closed pipe is `EPIPE`, not a `SIGPIPE` death of the worker.
#[test]
fn a_closed_pipe_is_epipe_in_a_worker() {
    let _s = serial();
    let _w = watchdog();
    let pool = pool(1);
    let before = worker_pid(&pool);
    let got = result(pool.submit_fn(write_to_closed_pipe, ()).unwrap());
    assert_eq!(got, Ok((libc::EPIPE, before)));
    assert_eq!(libc::EPIPE, 32);
    assert_eq!(worker_pid(&pool), before, "the worker died");
    shutdown(&pool);
}

/// Thread engine: the same task gets `EPIPE` too.
#[test]
fn a_closed_pipe_is_epipe_on_the_thread_engine() {
    let _s = serial();
    let _w = watchdog();
    let pool = ThreadPoolExecutor::with_max_workers(1).unwrap();
    let mut f = Executor::submit_fn(&pool, write_to_closed_pipe, ()).unwrap();
    assert_eq!(
        f.result_timeout(LONG),
        Ok((libc::EPIPE, std::process::id()))
    );
}

// ----- H: two functions named `step` ---------------------------------------------------------

/// Runs this function's own `step` (x + 1) on `pool`; also returns the name it travels under.
fn plus_one<E: Executor>(pool: &E, x: u64) -> (Result<u64, TaskError>, Option<&'static str>) {
    fn step(x: u64) -> u64 {
        x + 1
    }
    register!(step);
    (
        result(pool.submit_fn(step, x).unwrap()),
        registered_name(step),
    )
}

/// Runs this function's own `step` (x × 10) on `pool`; also returns the name it travels under.
fn times_ten<E: Executor>(pool: &E, x: u64) -> (Result<u64, TaskError>, Option<&'static str>) {
    fn step(x: u64) -> u64 {
        x * 10
    }
    register!(step);
    (
        result(pool.submit_fn(step, x).unwrap()),
        registered_name(step),
    )
}

/// Process engine: two `step`s registered in two function bodies each run themselves.
#[test]
fn homonymous_functions_each_run_themselves_on_the_process_pool() {
    let _s = serial();
    let _w = watchdog();
    let pool = pool(1);
    let (a, name_a) = plus_one(&*pool, 4);
    let (b, name_b) = times_ten(&*pool, 4);
    assert_eq!((a, b), (Ok(5), Ok(40)));
    let (name_a, name_b) = (name_a.unwrap(), name_b.unwrap());
    assert_ne!(name_a, name_b);
    assert!(name_a.contains("::step@"), "{name_a}");
    assert!(name_b.contains("::step@"), "{name_b}");
    shutdown(&pool);
}

/// Thread engine: the same two `step`s each run themselves.
#[test]
fn homonymous_functions_each_run_themselves_on_the_thread_pool() {
    let _s = serial();
    let _w = watchdog();
    let pool = ThreadPoolExecutor::with_max_workers(1).unwrap();
    assert_eq!(plus_one(&pool, 4).0, Ok(5));
    assert_eq!(times_ten(&pool, 4).0, Ok(40));
}

// ----- I: where workers are started from, and the threads there are --------------------------

/// The kernel ids of this process's threads named by a process pool. The kernel keeps 15 bytes
/// of a name, so `ProcessPoolExecutor-timers`, `-callbacks` and `-reader-<pid>` all read
/// `ProcessPoolExec`.
fn pool_threads() -> HashSet<String> {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|e| {
            let tid = e.ok()?.file_name().to_str()?.to_owned();
            let comm = std::fs::read_to_string(format!("/proc/self/task/{tid}/comm")).ok()?;
            comm.starts_with("ProcessPoolExec").then_some(tid)
        })
        .collect()
}

/// A worker started for a short-lived thread's submit outlives that thread and serves on.
#[test]
fn a_worker_outlives_the_short_lived_thread_that_submitted_first() {
    let _s = serial();
    let _w = watchdog();
    // `PR_SET_PDEATHSIG` fires when the *thread* that spawned the worker exits: workers must be
    // spawned from a thread that lives as long as the program, not from the submitter.
    let pool = pool(1);
    assert!(pool.worker_pids().is_empty());
    let p = pool.arc();
    let (first, tid) = std::thread::spawn(move || {
        let first = result(p.submit_fn(pid, ()).unwrap()).unwrap();
        (first, gettid())
    })
    .join()
    .unwrap();
    // The kernel is done with the thread (its children were sent their death signal, if any)
    // once it is gone from the task list, which is after `join` may return.
    assert!(
        eventually(LONG, || !Path::new(&format!("/proc/self/task/{tid}"))
            .exists()),
        "thread {tid} never went"
    );
    assert_eq!(result(pool.submit_fn(pid, ()).unwrap()), Ok(first));
    assert_eq!(result(pool.submit_fn(square, 8).unwrap()), Ok(64));
    assert!(alive(first), "worker {first} died");
    assert_eq!(pool.worker_pids(), [first]);
    shutdown(&pool);
}

/// An idle worker has exactly one thread on Linux (no thread of its own watches for the
/// parent's death), two on the portable Unix path (`WORKER_THREADS`).
#[test]
fn an_idle_worker_has_one_thread() {
    let _s = serial();
    let _w = watchdog();
    let pool = pool(2);
    for _ in 0..3 {
        let w = worker_pid(&pool);
        assert_eq!(
            thread_count(w),
            Some(super::WORKER_THREADS),
            "threads of worker {w}"
        );
    }
    shutdown(&pool);
}

/// A pool built with a task timeout has its timer thread running from `build()`, before any task.
#[test]
fn the_timer_thread_runs_from_build() {
    let _s = serial();
    let _w = watchdog();
    let before = pool_threads();
    let pool = Pool::new(
        ProcessPoolExecutor::builder()
            .max_workers(1)
            .task_timeout(Duration::from_secs(60))
            .build()
            .unwrap(),
    );
    let new = || -> HashSet<String> { pool_threads().difference(&before).cloned().collect() };
    // No worker and no reader yet: the callback thread and the timer thread. (A new thread
    // shows its creator's name until it has set its own.)
    assert!(
        eventually(LONG, || new().len() == 2),
        "the pool's threads after build: {:?}",
        new()
    );
    let at_build = new();
    assert!(pool.worker_pids().is_empty());
    // Tell the callback thread from the timer thread: a callback says where it runs.
    let gate = Gate::closed();
    let f = pool.submit_fn(hold, gate.path()).unwrap();
    assert!(eventually(LONG, || f.running()), "{f:?}");
    let (tx, rx) = mpsc::channel();
    f.add_done_callback(move |_| {
        let _ = tx.send(gettid().to_string());
    });
    gate.open();
    let callbacks = rx.recv_timeout(LONG).expect("the callback ran");
    assert!(at_build.contains(&callbacks), "{callbacks} {at_build:?}");
    let timer: Vec<_> = at_build.iter().filter(|t| **t != callbacks).collect();
    assert_eq!(timer.len(), 1, "{at_build:?}");
    assert!(
        Path::new(&format!("/proc/self/task/{}", timer[0])).exists(),
        "the timer thread ended"
    );
    assert!(result(f).is_ok());
    shutdown(&pool);
}
