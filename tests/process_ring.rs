//! The task ring (parent → worker) when it is full, and when its worker lies about it: no
//! future is left pending, and no caller waits on a worker's ring.
//!
//! - a worker that dies while the parent has more for it than its ring holds fails only its own
//!   task; `kill_workers` ends it too;
//! - a task that finished has its future completed even while the parent cannot yet write the
//!   next frames into that worker's full ring;
//! - a worker that scribbles the task ring's `head` (ahead of `tail`, or back so that the ring
//!   looks full forever) is killed with a protocol error, failing only its own task;
//! - a task sent to a worker that never took it from its ring has not started: if the worker is
//!   terminated it ends as the tasks queued behind it do, and if the worker dies it runs on
//!   another.
//!
//! Frames of 200 kB: a few of them are more than the 256 KiB ring holds. Each test has its own
//! pool; they run one at a time (`serial`) so that their workers do not crowd two cores.

#![cfg(all(unix, feature = "process"))]

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use concurrent_futures::{register, Future, MapOptions, ProcessPoolExecutor, TaskError};

#[path = "suite/util.rs"]
mod util;

use util::{eventually, hold_until_open, Gate, Scratch, Watchdog, LONG};

const BLOB: usize = 200_000;

/// What a task does with its blob.
#[derive(serde::Serialize, serde::Deserialize, Clone)]
enum Act {
    Return,
    Abort,
    /// Writes the file (the task has started), then holds until the gate opens.
    Hold {
        started: String,
        gate: String,
    },
    /// Runs a moment, so that its reply is handled by the worker's reader thread rather than by
    /// a thread spinning on the ring for it (either must be correct; this is the harder case).
    Moment,
}

fn act((act, blob): (Act, Vec<u8>)) -> usize {
    match act {
        Act::Return => {}
        Act::Abort => std::process::abort(),
        Act::Hold { started, gate } => {
            std::fs::write(started, b"started").unwrap();
            hold_until_open(&gate);
        }
        Act::Moment => std::thread::sleep(Duration::from_millis(100)),
    }
    blob.len()
}

fn pid_of(_: ()) -> u32 {
    std::process::id()
}

/// Writes the worker's own task ring's `head` (the index the worker owns, read by the parent):
/// `ahead` puts it past `tail`; otherwise it goes back a whole ring, so that the ring looks
/// full forever.
fn scribble_task_head(ahead: bool) -> u32 {
    use std::sync::atomic::{AtomicU64, Ordering};
    const CAPACITY: u64 = 256 << 10;
    let start = util::ring_mapping();
    // SAFETY: the worker's own live mapping; the first ring (parent → worker) starts with
    // `tail` at offset 0 and `head` at 64, both 64-aligned u64s.
    let (tail, head) = unsafe {
        (
            &*(start as *const AtomicU64),
            &*((start + 64) as *const AtomicU64),
        )
    };
    let t = tail.load(Ordering::Acquire);
    let new = if ahead { t + 1000 } else { t - CAPACITY };
    head.store(new, Ordering::Release);
    std::process::id()
}

register!(act, pid_of, scribble_task_head);

fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

fn result<T>(mut f: Future<T>) -> Result<T, TaskError> {
    let r = f.result_timeout(LONG);
    assert!(
        !matches!(r, Err(TaskError::Timeout { .. })),
        "no result in {LONG:?}"
    );
    r
}

fn one_worker() -> (ProcessPoolExecutor, u32) {
    let pool = ProcessPoolExecutor::with_max_workers(1).unwrap();
    let pid = result(pool.submit_fn(pid_of, ()).unwrap()).unwrap();
    (pool, pid)
}

fn blob(act: Act) -> (Act, Vec<u8>) {
    (act, vec![7; BLOB])
}

/// The items of a `map` that leaves the worker's ring full behind its second task: two small
/// tasks, then frames of 100 kB. The first four tasks (a worker's pipeline) fit in the ring at
/// once, so the map's thread queues them all without waiting; when the first one answers, the
/// parent has the fifth to write, and the ring, holding the third and fourth, has no room for
/// it until the worker reads on.
fn behind(second: Act) -> Vec<(Act, Vec<u8>)> {
    let mut items = vec![(Act::Moment, vec![1]), (second, vec![2])];
    items.extend((0..6).map(|_| (Act::Return, vec![7; BLOB / 2])));
    items
}

/// A `map` of `items`, every item queued to the one worker at once, run to the end on its own
/// thread; its results within `LONG`, and whatever `meanwhile` returns.
fn map_all<T>(
    pool: &ProcessPoolExecutor,
    items: Vec<(Act, Vec<u8>)>,
    meanwhile: impl FnOnce() -> T,
) -> (Vec<Result<usize, TaskError>>, T) {
    let n = items.len();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::scope(|s| {
        s.spawn(move || {
            let opts = MapOptions::new().buffer_size(n);
            let _ = tx.send(pool.map_with(act, items, opts).collect::<Vec<_>>());
        });
        let t = meanwhile();
        (rx.recv_timeout(LONG).expect("the map ended"), t)
    })
}

fn assert_died(r: &Result<usize, TaskError>, pid: u32, words: &[&str]) {
    match r {
        Err(TaskError::WorkerDied { pid: p, how, .. }) => {
            assert_eq!(*p, pid, "{how}");
            for w in words {
                assert!(how.contains(w), "{how:?} does not mention {w:?}");
            }
        }
        other => panic!("expected WorkerDied from {pid}, got {other:?}"),
    }
}

#[test]
fn a_worker_that_dies_behind_a_full_ring_fails_only_its_task() {
    let _serial = serial();
    let _watchdog = Watchdog::for_this_test();
    let (pool, pid) = one_worker();
    // The second task aborts: nobody will ever make room in the ring.
    let (results, ()) = map_all(&pool, behind(Act::Abort), || ());
    assert_eq!(results[0], Ok(1));
    assert_died(&results[1], pid, &["SIGABRT"]);
    assert!(
        results[2..].iter().all(|r| *r == Ok(BLOB / 2)),
        "{results:?}"
    );
}

#[test]
fn kill_workers_ends_a_worker_behind_a_full_ring() {
    let _serial = serial();
    let _watchdog = Watchdog::for_this_test();
    let (pool, pid) = one_worker();
    let scratch = Scratch::new();
    let gate = Gate::closed();
    let started = scratch.file("started");
    let hold = Act::Hold {
        started: started.clone(),
        gate: gate.path(),
    };
    let (results, ()) = map_all(&pool, behind(hold), || {
        assert!(eventually(LONG, || std::path::Path::new(&started).exists()));
        pool.kill_workers();
    });
    assert_eq!(results[0], Ok(1));
    assert_died(&results[1], pid, &["terminated with the pool"]);
    for r in &results[2..] {
        let e = r.as_ref().unwrap_err();
        assert!(e.is_broken() || e.is_cancelled(), "{e:?}");
    }
}

#[test]
fn a_finished_task_completes_while_its_worker_ring_is_full() {
    let _serial = serial();
    let _watchdog = Watchdog::for_this_test();
    let (pool, _) = one_worker();
    let scratch = Scratch::new();
    let gate = Gate::closed();
    let hold = Act::Hold {
        started: scratch.file("started"),
        gate: gate.path(),
    };
    let mut acts = vec![Act::Moment, hold];
    acts.extend(std::iter::repeat(Act::Return).take(6));
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::scope(|s| {
        let pool = &pool;
        s.spawn(move || {
            let items = acts.into_iter().map(blob);
            let opts = MapOptions::new().buffer_size(8);
            for r in pool.map_with(act, items, opts) {
                let _ = tx.send(r);
            }
        });
        // The first task is done while the second holds its worker with a full ring behind it.
        assert_eq!(rx.recv_timeout(LONG), Ok(Ok(BLOB)), "the first reply");
        gate.open();
        for i in 1..8 {
            assert_eq!(rx.recv_timeout(LONG), Ok(Ok(BLOB)), "item {i}");
        }
    });
}

fn scribbled_head_kills_the_worker(ahead: bool, why: &str) {
    let (pool, pid) = one_worker();
    // More than a ring's worth through it first, so that a head a whole ring back is a number.
    let items = (0..2).map(|_| blob(Act::Return));
    assert!(pool.map(act, items).all(|r| r == Ok(BLOB)));
    let err = result(pool.submit_fn(scribble_task_head, ahead).unwrap()).unwrap_err();
    match &err {
        TaskError::WorkerDied { pid: p, how, .. } => {
            assert_eq!(*p, pid);
            assert!(how.contains("protocol error") && how.contains(why), "{how}");
        }
        other => panic!("expected WorkerDied, got {other:?}"),
    }
    // Only its task: the next ones run on a new worker.
    let next = pool.submit_fn(pid_of, ()).unwrap();
    assert_ne!(result(next), Ok(pid));
    let items = (0..4).map(|_| blob(Act::Return));
    assert!(pool.map(act, items).all(|r| r == Ok(BLOB)));
}

#[test]
fn a_task_ring_head_ahead_of_its_tail_kills_the_worker() {
    let _serial = serial();
    let _watchdog = Watchdog::for_this_test();
    scribbled_head_kills_the_worker(true, "the reader is ahead of the writer");
}

#[test]
fn a_task_ring_held_full_kills_the_worker() {
    let _serial = serial();
    let _watchdog = Watchdog::for_this_test();
    scribbled_head_kills_the_worker(false, "the reader moved back");
}

/// Stops the worker (`SIGSTOP`), so that a task sent to it stays in its ring, untaken.
fn stop(pid: u32) {
    // SAFETY: a plain syscall on our own worker.
    assert_eq!(unsafe { libc::kill(pid as i32, libc::SIGSTOP) }, 0);
}

#[test]
fn a_terminated_task_the_worker_never_took_ends_as_not_started() {
    let _serial = serial();
    let _watchdog = Watchdog::for_this_test();
    let (pool, pid) = one_worker();
    stop(pid);
    // Sent (running, to the parent) but never taken; a map item queued behind it likewise.
    let first = pool.submit_fn(pid_of, ()).unwrap();
    assert!(first.running());
    pool.kill_workers();
    let err = result(first).unwrap_err();
    assert!(
        err.is_broken() && err.to_string().contains("before the task started"),
        "{err:?}"
    );
}

#[test]
fn a_task_whose_worker_died_before_taking_it_runs_on_another() {
    let _serial = serial();
    let _watchdog = Watchdog::for_this_test();
    let (pool, pid) = one_worker();
    stop(pid);
    let first = pool.submit_fn(pid_of, ()).unwrap();
    assert!(first.running());
    // From outside: as the OOM killer would.
    // SAFETY: a plain syscall on our own worker.
    assert_eq!(unsafe { libc::kill(pid as i32, libc::SIGKILL) }, 0);
    let other = result(first).expect("it ran on a new worker");
    assert_ne!(other, pid);
}
