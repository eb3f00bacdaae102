//! The executor suite (`tests/suite/`) run against [`ProcessPoolExecutor`], then the process
//! engine's own behaviour: chunked `map`, scheduling across workers, idle workers, and what a
//! task sees of its worker process (stdin, environment, nested pools, callbacks).

#![cfg(all(any(unix, windows), feature = "process"))]

mod suite;

use std::time::Duration;

use concurrent_futures::{register, MapOptions, ProcessPoolExecutor, TaskError};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use suite::util::{eventually, Gate, Watchdog, LONG, TEST_LIMIT};

suite::executor_suite!(|workers| ProcessPoolExecutor::with_max_workers(workers).unwrap());

// ----- task functions ------------------------------------------------------------------------

fn pid_of(_: ()) -> u32 {
    std::process::id()
}

fn cube(x: u64) -> u64 {
    x * x * x
}

/// `x`, or a panic for multiples of 10, or the worker's death for 999.
fn picky(x: u64) -> u64 {
    if x == 999 {
        std::process::exit(7);
    }
    if x % 10 == 0 {
        panic!("multiple of ten: {x}");
    }
    x
}

/// Keeps a worker busy until the gate at `gate` opens; returns the worker's pid.
fn hold(gate: String) -> u32 {
    suite::util::hold_until_open(&gate);
    std::process::id()
}

/// What the worker's standard input yields (the channel must not be reachable through it).
fn read_stdin(_: ()) -> Vec<u8> {
    use std::io::Read;
    let mut buf = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut buf);
    buf
}

/// Whether the worker's marker variable is visible to the task (and so to its children).
fn worker_env_visible(_: ()) -> bool {
    std::env::vars_os().any(|(k, _)| k.to_string_lossy().starts_with("CONCURRENT_FUTURES"))
}

/// Runs `cube(x)` in a pool of its own, from inside a worker.
fn nested_cube(x: u64) -> (u32, Result<u64, String>) {
    let pool = ProcessPoolExecutor::with_max_workers(1).unwrap();
    let mut f = pool.submit_fn(cube, x).map_err(|e| e.to_string()).unwrap();
    let r = f.result_timeout(LONG).map_err(|e| e.to_string());
    let inner_pid = pool.worker_pids().first().copied().unwrap_or(0);
    (inner_pid, r)
}

/// `n` bytes.
fn bytes(n: usize) -> Vec<u8> {
    vec![7; n]
}

/// A handle that cannot cross processes: its `Serialize` fails with a message of its own.
#[derive(Debug, PartialEq)]
struct DbHandle(u32);

impl Serialize for DbHandle {
    fn serialize<S: Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        Err(serde::ser::Error::custom(
            "the database handle cannot be sent",
        ))
    }
}

impl<'de> Deserialize<'de> for DbHandle {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        u32::deserialize(d).map(DbHandle)
    }
}

/// An even number: encodes any `u32`, and its `Deserialize` refuses an odd one, saying which.
#[derive(Debug, PartialEq)]
struct Even(u32);

impl Serialize for Even {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Even {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match u32::deserialize(d)? {
            n if n % 2 == 0 => Ok(Even(n)),
            n => Err(serde::de::Error::custom(format_args!("{n} is odd"))),
        }
    }
}

fn takes_handle(h: Vec<Option<DbHandle>>) -> usize {
    h.len()
}

fn opens_handle(x: u32) -> DbHandle {
    DbHandle(x)
}

fn takes_even(e: Even) -> u32 {
    e.0
}

fn makes_even(x: u32) -> Even {
    Even(x)
}

register!(
    pid_of,
    cube,
    picky,
    hold,
    read_stdin,
    worker_env_visible,
    nested_cube,
    bytes,
    takes_handle,
    opens_handle,
    takes_even,
    makes_even
);

fn watchdog(test: &'static str) -> Watchdog {
    Watchdog::new(test, TEST_LIMIT)
}

fn pool(workers: usize) -> ProcessPoolExecutor {
    ProcessPoolExecutor::with_max_workers(workers).unwrap()
}

fn result<T>(mut f: concurrent_futures::Future<T>) -> Result<T, TaskError> {
    let r = f.result_timeout(LONG);
    assert!(
        !matches!(r, Err(TaskError::Timeout { .. })),
        "no result in {LONG:?}"
    );
    r
}

// ----- a type's own serde error --------------------------------------------------------------
// The text a type's `Serialize` or `Deserialize` gives `Error::custom` reaches the caller, both
// ways, in the parent and in the worker.

#[test]
fn an_argument_that_does_not_encode_says_why() {
    let _w = watchdog("an_argument_that_does_not_encode_says_why");
    let pool = pool(1);
    let arg = vec![None, Some(DbHandle(3))];
    let err = pool.submit_fn(takes_handle, arg).unwrap_err();
    let shown = err.to_string();
    let why = "returned an error: the database handle cannot be sent";
    assert!(shown.contains(why), "{shown}");
    assert_eq!(err.into_inner(), vec![None, Some(DbHandle(3))]);
}

#[test]
fn a_result_that_does_not_encode_in_the_worker_says_why() {
    let _w = watchdog("a_result_that_does_not_encode_in_the_worker_says_why");
    let pool = pool(1);
    let err = result(pool.submit_fn(opens_handle, 3).unwrap()).unwrap_err();
    assert!(err.is_serialization(), "{err:?}");
    let shown = err.to_string();
    assert!(shown.contains("could not encode the result"), "{shown}");
    let why = "DbHandle` returned an error: the database handle cannot be sent";
    assert!(shown.contains(why), "{shown}");
}

#[test]
fn an_argument_that_does_not_decode_in_the_worker_says_why() {
    let _w = watchdog("an_argument_that_does_not_decode_in_the_worker_says_why");
    let pool = pool(1);
    let err = result(pool.submit_fn(takes_even, Even(7)).unwrap()).unwrap_err();
    assert!(err.is_serialization(), "{err:?}");
    let shown = err.to_string();
    assert!(shown.contains("could not decode the argument"), "{shown}");
    assert!(
        shown.contains("Even` returned an error: 7 is odd"),
        "{shown}"
    );
    assert_eq!(result(pool.submit_fn(takes_even, Even(8)).unwrap()), Ok(8));
}

#[test]
fn a_result_that_does_not_decode_in_the_parent_says_why() {
    let _w = watchdog("a_result_that_does_not_decode_in_the_parent_says_why");
    let pool = pool(1);
    let err = result(pool.submit_fn(makes_even, 5).unwrap()).unwrap_err();
    assert!(err.is_serialization(), "{err:?}");
    let shown = err.to_string();
    assert!(shown.contains("could not be decoded"), "{shown}");
    assert!(
        shown.contains("Even` returned an error: 5 is odd"),
        "{shown}"
    );
    // Chunked: each item's own message.
    let opts = MapOptions::new().chunksize(4);
    for (x, r) in (0..8u32).zip(pool.map_with(makes_even, 0..8u32, opts)) {
        match r {
            Ok(e) => assert_eq!(e, Even(x)),
            Err(e) => assert!(e.to_string().contains(&format!("{x} is odd")), "{x}: {e}"),
        }
    }
}

// ----- workers -------------------------------------------------------------------------------

#[test]
fn workers_start_on_demand_and_are_reused() {
    let _w = watchdog("workers_start_on_demand_and_are_reused");
    let pool = pool(1);
    assert!(
        pool.worker_pids().is_empty(),
        "no worker before the first task"
    );
    let pids: Vec<u32> = (0..20)
        .map(|_| result(pool.submit_fn(pid_of, ()).unwrap()).unwrap())
        .collect();
    assert!(pids.iter().all(|&p| p == pids[0]), "{pids:?}");
    assert_ne!(pids[0], std::process::id());
    assert_eq!(pool.worker_pids(), vec![pids[0]]);
}

#[test]
fn never_more_workers_than_max_workers() {
    let _w = watchdog("never_more_workers_than_max_workers");
    let pool = pool(2);
    let futures: Vec<_> = (0..200)
        .map(|_| pool.submit_fn(pid_of, ()).unwrap())
        .collect();
    let mut seen = std::collections::HashSet::new();
    for f in futures {
        assert!(pool.worker_pids().len() <= 2);
        seen.insert(result(f).unwrap());
    }
    assert!(!seen.is_empty() && seen.len() <= 2, "{seen:?}");
}

/// A worker is free: a short task must not wait behind a long one on the other worker.
#[test]
fn short_task_does_not_wait_behind_a_long_one_while_a_worker_is_free() {
    let _w = watchdog("short_task_does_not_wait_behind_a_long_one_while_a_worker_is_free");
    let gate = Gate::closed();
    let pool = pool(2);
    let long = pool.submit_fn(hold, gate.path()).unwrap();
    assert!(eventually(LONG, || long.running()));
    let mut short = pool.submit_fn(cube, 3).unwrap();
    let r = short.result_timeout(LONG);
    gate.open();
    assert_eq!(
        r,
        Ok(27),
        "the short task waited behind the held one although max_workers = 2"
    );
    assert!(result(long).is_ok());
}

/// The same with both workers busy: when one frees up, the next task runs there, not behind
/// the task still held on the other.
#[test]
fn next_task_runs_on_whichever_worker_frees_up_first() {
    let _w = watchdog("next_task_runs_on_whichever_worker_frees_up_first");
    let long_gate = Gate::closed();
    let short_gate = Gate::closed();
    let pool = pool(2);
    let long = pool
        .submit_fn_with_timeout(hold, long_gate.path(), Duration::from_secs(600))
        .unwrap();
    let short = pool
        .submit_fn_with_timeout(hold, short_gate.path(), Duration::from_secs(600))
        .unwrap();
    assert!(eventually(LONG, || long.running() && short.running()));
    let queued = pool.submit_fn(cube, 4).unwrap();
    short_gate.open();
    assert!(result(short).is_ok());
    let mut queued = queued;
    let r = queued.result_timeout(LONG);
    long_gate.open();
    assert_eq!(r, Ok(64), "the queued task waited behind the held one");
    assert!(result(long).is_ok());
}

/// Both workers busy with tasks without a time limit, a third task queued: whichever worker
/// frees up first runs it. Checked both ways round, so that a task handed early to either busy
/// worker is caught.
#[test]
fn queued_task_runs_on_whichever_worker_frees_up_first() {
    let _w = watchdog("queued_task_runs_on_whichever_worker_frees_up_first");
    for release_first in 0..2 {
        let pool = pool(2);
        let gates = [Gate::closed(), Gate::closed()];
        let first = pool.submit_fn(hold, gates[0].path()).unwrap();
        assert!(eventually(LONG, || first.running()));
        let second = pool.submit_fn(hold, gates[1].path()).unwrap();
        assert!(eventually(LONG, || second.running() && pool.worker_pids().len() == 2));
        let mut queued = pool.submit_fn(cube, 4).unwrap();
        let mut held = [first, second];
        gates[release_first].open();
        assert!(held[release_first].result_timeout(LONG).is_ok());
        let r = queued.result_timeout(LONG);
        gates[1 - release_first].open();
        assert_eq!(
            r,
            Ok(64),
            "the queued task waited behind held task {} while the other worker was free",
            1 - release_first
        );
        assert!(held[1 - release_first].result_timeout(LONG).is_ok());
    }
}

/// `cancel()` returning `true` means the task never runs, even one the engine had already
/// handed to a busy worker ahead of time.
#[test]
fn a_successfully_cancelled_task_never_runs() {
    let _w = watchdog("a_successfully_cancelled_task_never_runs");
    let scratch = suite::util::Scratch::new();
    let pool = pool(1);
    let gate = Gate::closed();
    let held = pool.submit_fn(hold, gate.path()).unwrap();
    assert!(eventually(LONG, || held.running()));
    let next: Vec<_> = (0..3)
        .map(|i| {
            pool.submit_fn(suite::touch, scratch.file(&format!("t{i}")))
                .unwrap()
        })
        .collect();
    let cancelled: Vec<bool> = next.iter().map(|f| f.cancel()).collect();
    gate.open();
    assert!(result(held).is_ok());
    pool.shutdown(true, false);
    let ran = scratch.names();
    for (i, (f, c)) in next.iter().zip(&cancelled).enumerate() {
        let name = format!("t{i}");
        if *c {
            assert!(f.cancelled());
            assert!(
                !ran.contains(&name),
                "task {i} ran although cancel() returned true"
            );
        } else {
            assert!(
                ran.contains(&name),
                "task {i} was not cancelled and did not run"
            );
        }
    }
}

#[test]
fn idle_workers_exit_after_idle_timeout() {
    let _w = watchdog("idle_workers_exit_after_idle_timeout");
    let pool = ProcessPoolExecutor::builder()
        .max_workers(2)
        .idle_timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let first = result(pool.submit_fn(pid_of, ()).unwrap()).unwrap();
    assert!(
        eventually(LONG, || pool.worker_pids().is_empty()),
        "{:?}",
        pool.worker_pids()
    );
    #[cfg(unix)] // the process is gone (Linux's /proc)
    assert!(eventually(LONG, || !std::path::Path::new(&format!(
        "/proc/{first}"
    ))
    .exists()));
    // A new worker starts on demand.
    let second = result(pool.submit_fn(pid_of, ()).unwrap()).unwrap();
    assert_ne!(first, second);
}

#[test]
fn debug_names_the_workers() {
    let _w = watchdog("debug_names_the_workers");
    let pool = pool(1);
    let pid = result(pool.submit_fn(pid_of, ()).unwrap()).unwrap();
    let shown = format!("{pool:?}");
    assert!(shown.contains("ProcessPoolExecutor"), "{shown}");
    assert!(shown.contains(&pid.to_string()), "{shown}");
}

// ----- what a task sees ----------------------------------------------------------------------

/// A worker shows in `ps` as `prog: worker` and in `top` as `prog:worker` (the kernel's
/// 15-byte name), after this program, not as `exe`. (Read from Linux's /proc; Windows:
/// `process_windows.rs`.)
#[cfg(unix)]
#[test]
fn workers_are_named_after_the_program() {
    let _w = watchdog("workers_are_named_after_the_program");
    let pool = pool(1);
    let pid = pool.submit_fn(pid_of, ()).unwrap();
    let pid = result(pid).unwrap();
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    let argv0 = String::from_utf8_lossy(cmdline.split(|&b| b == 0).next().unwrap()).into_owned();
    let exe = std::env::current_exe().unwrap();
    let prog = exe.file_name().unwrap().to_string_lossy().into_owned();
    assert_eq!(argv0, format!("{prog}: worker"));
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap();
    if cfg!(concurrent_futures_portable_unix) {
        // The portable path names a worker by its argv[0] only; the kernel's name is the file's.
        let file: String = prog.chars().take(15).collect();
        assert_eq!(comm.trim_end(), file);
        return;
    }
    let short: String = prog.chars().take(8).collect();
    assert_eq!(comm.trim_end(), format!("{short}:worker"), "prog is {prog}");
}

#[test]
fn task_stdin_is_empty() {
    let _w = watchdog("task_stdin_is_empty");
    let pool = pool(1);
    assert_eq!(result(pool.submit_fn(read_stdin, ()).unwrap()), Ok(vec![]));
    // Reading stdin did not disturb the channel.
    assert_eq!(result(pool.submit_fn(cube, 2).unwrap()), Ok(8));
}

#[test]
fn worker_marker_is_not_inherited_by_tasks() {
    let _w = watchdog("worker_marker_is_not_inherited_by_tasks");
    let pool = pool(1);
    assert_eq!(
        result(pool.submit_fn(worker_env_visible, ()).unwrap()),
        Ok(false)
    );
}

#[test]
fn a_task_can_run_a_pool_of_its_own() {
    let _w = watchdog("a_task_can_run_a_pool_of_its_own");
    let pool = pool(1);
    let outer = result(pool.submit_fn(pid_of, ()).unwrap()).unwrap();
    let (inner, r) = result(pool.submit_fn(nested_cube, 5).unwrap()).unwrap();
    assert_eq!(r, Ok(125));
    assert_ne!(inner, 0);
    assert_ne!(inner, outer);
    assert_ne!(inner, std::process::id());
}

#[test]
fn callback_can_submit_a_follow_up_task() {
    let _w = watchdog("callback_can_submit_a_follow_up_task");
    let pool = std::sync::Arc::new(pool(2));
    let (tx, rx) = std::sync::mpsc::channel();
    let first = pool.submit_fn(cube, 2).unwrap();
    let p = pool.clone();
    first.add_done_callback(move |f| {
        let x = f.with_result(|r| *r.unwrap());
        let _ = tx.send(p.submit_fn(cube, x).map_err(|e| e.to_string()));
    });
    let second = rx.recv_timeout(LONG).unwrap().unwrap();
    assert_eq!(result(second), Ok(512));
    assert_eq!(result(first), Ok(8));
}

// ----- chunked map ---------------------------------------------------------------------------

#[test]
fn chunked_map_keeps_order_for_every_chunk_size() {
    let _w = watchdog("chunked_map_keeps_order_for_every_chunk_size");
    let pool = pool(2);
    for chunk in [1, 2, 7, 100, 1000, 5000] {
        let got: Vec<u64> = pool
            .map_with(cube, 0..1000u64, MapOptions::new().chunksize(chunk))
            .map(Result::unwrap)
            .collect();
        let want: Vec<u64> = (0..1000u64).map(cube).collect();
        assert_eq!(got, want, "chunksize {chunk}");
    }
    let none: Vec<_> = pool
        .map_with(cube, std::iter::empty(), MapOptions::new().chunksize(10))
        .collect();
    assert!(none.is_empty());
}

#[test]
fn chunked_map_fails_items_not_chunks_on_panic() {
    let _w = watchdog("chunked_map_fails_items_not_chunks_on_panic");
    let pool = pool(2);
    let out: Vec<_> = pool
        .map_with(picky, 1..=35u64, MapOptions::new().chunksize(8))
        .collect();
    assert_eq!(out.len(), 35);
    for (x, r) in (1..=35u64).zip(out) {
        if x % 10 == 0 {
            let err = r.unwrap_err();
            assert!(err.is_panic(), "{x}: {err:?}");
            assert_eq!(
                err.panic_message(),
                Some(format!("multiple of ten: {x}").as_str())
            );
        } else {
            assert_eq!(r, Ok(x));
        }
    }
}

#[test]
fn chunked_map_a_dead_worker_fails_its_chunk_only() {
    let _w = watchdog("chunked_map_a_dead_worker_fails_its_chunk_only");
    let pool = pool(2);
    // Chunks of 4: [1..4] [5..8] [999, 11, 12, 13] [14..17].
    let items: Vec<u64> = (1..=8).chain([999, 11, 12, 13]).chain(14..=17).collect();
    let out: Vec<_> = pool
        .map_with(picky, items.clone(), MapOptions::new().chunksize(4))
        .collect();
    assert_eq!(out.len(), items.len());
    for (i, (x, r)) in items.iter().zip(&out).enumerate() {
        if (8..12).contains(&i) {
            let err = r.as_ref().unwrap_err();
            assert!(err.is_worker_died(), "{x}: {err:?}");
            assert!(err.to_string().contains("exited with status 7"), "{err}");
        } else {
            assert_eq!(r, &Ok(*x));
        }
    }
}

/// Through the `Executor` trait, `chunksize` is the engine's own: a worker that dies fails
/// its whole chunk, as through the inherent method (one item per message would fail 999 alone).
#[test]
fn chunksize_holds_through_the_executor_trait() {
    let _w = watchdog("chunksize_holds_through_the_executor_trait");
    fn generic(pool: &impl concurrent_futures::Executor, items: Vec<u64>) -> Vec<bool> {
        pool.map_with(picky, items, MapOptions::new().chunksize(4))
            .map(|r| r.is_err_and(|e| e.is_worker_died()))
            .collect()
    }
    let pool = pool(2);
    let items: Vec<u64> = (1..=8).chain([999, 11, 12, 13]).chain(14..=17).collect();
    let died = generic(&pool, items);
    let want: Vec<bool> = (0..16).map(|i| (8..12).contains(&i)).collect();
    assert_eq!(died, want, "the chunk [999, 11, 12, 13] fails together");
}

#[test]
fn chunked_map_chunk_over_the_frame_limit_is_reported() {
    let _w = watchdog("chunked_map_chunk_over_the_frame_limit_is_reported");
    let pool = ProcessPoolExecutor::builder()
        .max_workers(1)
        .max_frame_bytes(4096)
        .build()
        .unwrap();
    let items: Vec<Vec<u8>> = vec![vec![1; 10], vec![2; 10], vec![3; 5000], vec![4; 10]];
    let lens: Vec<_> = pool
        .map_with(|v: Vec<u8>| v.len(), items, MapOptions::new().chunksize(1))
        .collect();
    // A closure is not registered: the map says so once and ends.
    assert_eq!(lens.len(), 1, "{lens:?}");
    let err = lens[0].as_ref().unwrap_err();
    assert!(matches!(err, TaskError::NotRegistered { .. }), "{err:?}");
    assert!(err.to_string().contains("a closure"), "{err}");
    let out: Vec<_> = pool
        .map_with(
            bytes,
            [10usize, 20, 8000, 30],
            MapOptions::new().chunksize(1),
        )
        .collect();
    assert_eq!(out[0].as_ref().map(Vec::len), Ok(10));
    assert_eq!(out[1].as_ref().map(Vec::len), Ok(20));
    let err = out[2].as_ref().unwrap_err();
    assert!(err.is_serialization(), "{err:?}");
    assert!(err.to_string().contains("frame limit"), "{err}");
    assert_eq!(out[3].as_ref().map(Vec::len), Ok(30));
}

#[test]
fn chunked_map_total_timeout_ends_iteration_and_cancels_the_rest() {
    let _w = watchdog("chunked_map_total_timeout_ends_iteration_and_cancels_the_rest");
    let gate = Gate::closed();
    let pool = pool(1);
    let held = pool.submit_fn(hold, gate.path()).unwrap();
    assert!(eventually(LONG, || held.running()));
    let mut it = pool.map_with(
        cube,
        0..100u64,
        MapOptions::new()
            .chunksize(10)
            .timeout(Duration::from_millis(200)),
    );
    let first = it.next().expect("an item");
    assert!(first.unwrap_err().is_timeout());
    assert!(it.next().is_none());
    drop(it);
    gate.open();
    assert!(result(held).is_ok());
    assert_eq!(pool.queued(), 0);
}

#[test]
fn dropping_a_chunked_map_cancels_unstarted_chunks() {
    let _w = watchdog("dropping_a_chunked_map_cancels_unstarted_chunks");
    let gate = Gate::closed();
    let pool = pool(1);
    let held = pool.submit_fn(hold, gate.path()).unwrap();
    assert!(eventually(LONG, || held.running()));
    let it = pool.map_with(
        cube,
        0..1000u64,
        MapOptions::new().chunksize(10).buffer_size(8),
    );
    assert!(pool.queued() <= 8, "{}", pool.queued());
    drop(it);
    gate.open();
    assert!(result(held).is_ok());
    // Nothing from the dropped map is left to run: the pool goes idle.
    pool.shutdown(true, false);
    assert_eq!(pool.queued(), 0);
}

#[test]
fn map_unordered_yields_every_result() {
    let _w = watchdog("map_unordered_yields_every_result");
    let pool = pool(2);
    let mut got: Vec<u64> = pool
        .map_unordered(cube, 0..300u64)
        .map(Result::unwrap)
        .collect();
    got.sort_unstable();
    let want: Vec<u64> = (0..300u64).map(cube).collect();
    assert_eq!(got, want);
}
