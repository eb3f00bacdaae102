//! What [`ProcessPoolExecutor`] costs and leaves behind: large payloads both ways, the frame
//! limit, file descriptors with a deep queue, zombies, orphans, and the workers' standard
//! output and error.
//!
//! The checks count this process's descriptors and children, so the tests of this file run one
//! at a time (`SERIAL`). The orphan and output checks run this test binary again as a child
//! "parent" process (the ignored test `child_mode`, selected by an environment variable), which
//! the test then kills or reads.

#![cfg(all(unix, feature = "process"))]

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use concurrent_futures::{register, Future, ProcessPoolExecutor, TaskError};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[path = "suite/util.rs"]
mod util;

use util::{eventually, Gate, Watchdog, LONG, TEST_LIMIT};

/// Selects what `child_mode` does when this binary runs as a child process.
const MODE_ENV: &str = "PROCESS_RESOURCES_CHILD_MODE";

// ----- task functions ------------------------------------------------------------------------

fn pid_of(_: ()) -> u32 {
    std::process::id()
}

fn square(x: u64) -> u64 {
    x * x
}

fn hold(gate: String) -> u32 {
    util::hold_until_open(&gate);
    std::process::id()
}

/// Sleeps `ms`, only to stay busy until the test kills the process around it.
fn sleep_ms(ms: u64) -> u32 {
    std::thread::sleep(Duration::from_millis(ms));
    std::process::id()
}

fn exit_with(code: i32) -> u32 {
    std::process::exit(code)
}

/// Returns its argument: a payload that crosses both ways.
fn echo(v: Vec<u8>) -> Vec<u8> {
    v
}

fn echo_blob(b: Blob) -> Blob {
    b
}

/// `n` bytes, each `i % 251`.
fn make_bytes(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8).collect()
}

fn make_blob(n: usize) -> Blob {
    Blob(make_bytes(n))
}

/// Prints `marker` to the worker's stdout and stderr; returns the worker's pid.
fn print_marker(marker: String) -> u32 {
    println!("stdout {marker} from worker {}", std::process::id());
    eprintln!("stderr {marker} from worker {}", std::process::id());
    std::process::id()
}

register!(
    pid_of,
    square,
    hold,
    sleep_ms,
    exit_with,
    echo,
    echo_blob,
    make_bytes,
    make_blob,
    print_marker
);

/// Bytes that encode as one length-prefixed block (as `serde_bytes` does). A `Vec<u8>` goes
/// through serde one element at a time, which in a debug build takes tens of seconds for 100 MB;
/// this crosses at memory speed.
#[derive(Debug, PartialEq)]
struct Blob(Vec<u8>);

impl Serialize for Blob {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for Blob {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Blob;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("bytes")
            }
            fn visit_byte_buf<E>(self, v: Vec<u8>) -> Result<Blob, E> {
                Ok(Blob(v))
            }
            fn visit_bytes<E>(self, v: &[u8]) -> Result<Blob, E> {
                Ok(Blob(v.to_vec()))
            }
        }
        d.deserialize_byte_buf(V)
    }
}

// ----- helpers -------------------------------------------------------------------------------

/// One test of this file at a time: they count descriptors and child processes.
fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

fn watchdog(test: &'static str) -> Watchdog {
    Watchdog::new(test, TEST_LIMIT)
}

fn pool(workers: usize) -> ProcessPoolExecutor {
    ProcessPoolExecutor::with_max_workers(workers).unwrap()
}

fn result<T>(mut f: Future<T>) -> Result<T, TaskError> {
    let r = f.result_timeout(LONG);
    assert!(
        !matches!(r, Err(TaskError::Timeout { .. })),
        "no result in {LONG:?}"
    );
    r
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
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

/// This process's children that have exited and not been reaped.
fn zombie_children() -> Vec<u32> {
    let me = std::process::id();
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| proc_stat(pid) == Some(('Z', me)))
        .collect()
}

/// This process's children, living or not.
fn children() -> Vec<u32> {
    let me = std::process::id();
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| proc_stat(pid).is_some_and(|(_, ppid)| ppid == me))
        .collect()
}

/// Gone, or exited and waiting only for whoever adopted it to reap it.
fn process_ended(pid: u32) -> bool {
    match proc_stat(pid) {
        None => true,
        Some((state, _)) => state == 'Z' || state == 'X',
    }
}

/// Runs this test binary as a child in `mode`, with stdout and stderr piped.
fn spawn_child_mode(mode: &str, extra_env: &[(&str, &str)]) -> std::process::Child {
    // `/proc/self/exe`, not `current_exe()`: the test binary's path may have been replaced by a
    // rebuild while this test runs.
    let mut cmd = Command::new("/proc/self/exe");
    cmd.args([
        "child_mode",
        "--exact",
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ])
    .env(MODE_ENV, mode)
    .env("RUST_BACKTRACE", "0")
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    cmd.spawn().expect("run this test binary as a child")
}

/// Reads a pipe to its end on a thread; the text arrives on the returned channel.
fn drain<R: Read + Send + 'static>(mut r: R) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut s = String::new();
        let _ = r.read_to_string(&mut s);
        let _ = tx.send(s);
    });
    rx
}

/// Waits for `child` for at most `limit`; kills it (and fails) if it is still running.
fn wait_child(child: &mut std::process::Child, limit: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("child process {} still running after {limit:?}", child.id());
        }
        std::thread::sleep(Duration::from_millis(10)); // polling pace, not a synchronisation
    }
}

// ----- child modes ---------------------------------------------------------------------------

/// Not a test of its own: what this binary does when a test runs it as a child process.
#[test]
#[ignore = "run by other tests of this file as a child process"]
fn child_mode() {
    match std::env::var(MODE_ENV).as_deref() {
        Ok("orphan") => orphan_parent(),
        Ok("print") => print_parent(),
        Ok("deleted_exe") => deleted_exe_parent(),
        _ => {}
    }
}

/// Starts two workers on long tasks, reports their pids on stdout, then waits to be killed.
fn orphan_parent() {
    let pool = ProcessPoolExecutor::builder()
        .max_workers(2)
        .build()
        .unwrap();
    // A time limit keeps each task on a worker of its own (none is queued behind another);
    // the tasks stay busy until the process around them ends.
    let futures: Vec<_> = (0..2)
        .map(|_| {
            pool.submit_fn_with_timeout(sleep_ms, 100_000, Duration::from_secs(100))
                .unwrap()
        })
        .collect();
    assert!(eventually(LONG, || futures.iter().all(|f| f.running())
        && pool.worker_pids().len() == 2));
    let pids = pool.worker_pids();
    println!("WORKERS {} {}", pids[0], pids[1]);
    std::io::Write::flush(&mut std::io::stdout()).unwrap();
    // The test kills this process long before this ends.
    std::thread::sleep(Duration::from_secs(90));
    pool.kill_workers();
}

/// Runs one task that prints a marker, then exits normally.
fn print_parent() {
    let marker = std::env::var("PROCESS_RESOURCES_MARKER").unwrap();
    let pool = pool(1);
    let pid = result(pool.submit_fn(print_marker, marker).unwrap()).unwrap();
    println!("PARENT {} WORKER {pid}", std::process::id());
}

/// Deletes its own executable file (as a rebuild or an upgrade replacing it would), then runs
/// a task and prints the outcome.
fn deleted_exe_parent() {
    std::fs::remove_file(std::env::current_exe().unwrap()).unwrap();
    let pool = pool(1);
    let r = pool
        .submit_fn(square, 7)
        .map_err(|e| e.to_string())
        .map(result);
    println!("OUTCOME {r:?}");
}

// ----- payloads ------------------------------------------------------------------------------

#[test]
fn payload_of_4_mib_plus_one_both_ways() {
    let _s = serial();
    let _w = watchdog("payload_of_4_mib_plus_one_both_ways");
    let pool = pool(2);
    let n = (4 << 20) + 1;
    let data = make_bytes(n);
    let back = result(pool.submit_fn(echo, data.clone()).unwrap()).unwrap();
    assert_eq!(back.len(), n);
    assert!(back == data, "the bytes changed on the way");
    let made = result(pool.submit_fn(make_bytes, n).unwrap()).unwrap();
    assert!(made == data);
    // Several at once, on both workers.
    let futures: Vec<_> = (0..4)
        .map(|_| pool.submit_fn(echo, data.clone()).unwrap())
        .collect();
    for f in futures {
        assert!(result(f).unwrap() == data);
    }
}

#[test]
fn payload_of_100_mb_both_ways() {
    let _s = serial();
    let _w = watchdog("payload_of_100_mb_both_ways");
    let pool = pool(1);
    let n = 100_000_000;
    let data = Blob(make_bytes(n));
    let back = result(pool.submit_fn(echo_blob, Blob(data.0.clone())).unwrap()).unwrap();
    assert_eq!(back.0.len(), n);
    assert!(back == data, "the bytes changed on the way");
    drop(back);
    // Only the result is large.
    let made = result(pool.submit_fn(make_blob, n).unwrap()).unwrap();
    assert_eq!(made.0.len(), n);
    assert!(made == data);
    // The worker is still the same and still serves small tasks.
    assert_eq!(result(pool.submit_fn(square, 3).unwrap()), Ok(9));
}

// ----- the frame limit -----------------------------------------------------------------------

/// The name `echo` travels under.
fn echo_name() -> &'static str {
    concurrent_futures::__private::registered_name(echo).expect("registered")
}

/// How many bytes `n` bytes take encoded (a varint length, then the bytes).
fn encoded_len(n: usize) -> usize {
    concurrent_futures::__private::codec::encode(&(n as u64))
        .unwrap()
        .len()
        + n
}

/// The largest `n` such that `fixed` + `n` bytes encoded is at most `total`.
fn filling(total: usize, fixed: usize) -> usize {
    let mut n = total - fixed;
    while fixed + encoded_len(n) > total {
        n -= 1;
    }
    n
}

/// The argument length for which an `echo` call frame is exactly `limit` bytes long (not
/// counting the 4-byte length field): header 9, name length 2, name, flags 1, the encoded `Vec`
/// (its length, then the bytes).
fn echo_arg_filling(limit: usize) -> usize {
    let n = filling(limit, 9 + 2 + echo_name().len() + 1);
    assert_eq!(9 + 2 + echo_name().len() + 1 + encoded_len(n), limit);
    n
}

#[test]
fn argument_over_the_frame_limit_is_refused_at_submit() {
    let _s = serial();
    let _w = watchdog("argument_over_the_frame_limit_is_refused_at_submit");
    let limit = 1 << 20;
    let pool = ProcessPoolExecutor::builder()
        .max_workers(1)
        .max_frame_bytes(limit)
        .build()
        .unwrap();
    // Exactly at the limit: accepted. (The reply is the same size, so it fits too.)
    let fits = make_bytes(echo_arg_filling(limit) - 1);
    let fits_reply = fits.len();
    assert_eq!(
        result(pool.submit_fn(echo, fits).unwrap()).map(|v| v.len()),
        Ok(fits_reply)
    );
    let at = make_bytes(echo_arg_filling(limit));
    let at_len = at.len();
    assert_eq!(
        result(pool.submit_fn(echo, at).unwrap()).map(|v| v.len()),
        Ok(at_len)
    );
    // One byte more: refused, with the argument handed back.
    let over = make_bytes(echo_arg_filling(limit) + 1);
    let err = pool.submit_fn(echo, over.clone()).unwrap_err();
    assert!(err.is_invalid(), "{err:?}");
    let shown = err.to_string();
    assert!(shown.contains("too large"), "{shown}");
    assert!(shown.contains(&limit.to_string()), "{shown}");
    assert!(err.into_inner() == over);
    assert_eq!(pool.queued(), 0);
    // Far over the limit (and over the default limit's worth of nothing): the same.
    let err = pool.submit_fn(echo, make_bytes(3 * limit)).unwrap_err();
    assert!(err.is_invalid());
    assert_eq!(result(pool.submit_fn(square, 5).unwrap()), Ok(25));
}

#[test]
fn result_over_the_frame_limit_fails_its_future_only() {
    let _s = serial();
    let _w = watchdog("result_over_the_frame_limit_fails_its_future_only");
    let limit = 1 << 20;
    let pool = ProcessPoolExecutor::builder()
        .max_workers(1)
        .max_frame_bytes(limit)
        .build()
        .unwrap();
    let pid = result(pool.submit_fn(pid_of, ()).unwrap()).unwrap();
    // The reply frame: header 9, the encoded `Vec` (its length, then the bytes).
    let fits = filling(limit, 9);
    assert_eq!(
        result(pool.submit_fn(make_bytes, fits).unwrap()).map(|v| v.len()),
        Ok(fits)
    );
    let err = result(pool.submit_fn(make_bytes, fits + 1).unwrap()).unwrap_err();
    assert!(err.is_serialization(), "{err:?}");
    let shown = err.to_string();
    assert!(shown.contains("frame limit"), "{shown}");
    assert!(shown.contains(&limit.to_string()), "{shown}");
    let err = result(pool.submit_fn(make_bytes, 5 * limit).unwrap()).unwrap_err();
    assert!(err.is_serialization(), "{err:?}");
    // The worker that produced the oversized results keeps serving.
    assert_eq!(result(pool.submit_fn(pid_of, ()).unwrap()), Ok(pid));
}

#[test]
fn frame_limit_below_the_minimum_is_a_build_error() {
    let err = ProcessPoolExecutor::builder()
        .max_frame_bytes(10)
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("max_frame_bytes"), "{err}");
}

// ----- descriptors, zombies, orphans ---------------------------------------------------------

#[test]
fn fd_count_does_not_grow_with_queued_tasks() {
    let _s = serial();
    let _w = watchdog("fd_count_does_not_grow_with_queued_tasks");
    let gate = Gate::closed();
    let pool = pool(2);
    // Both workers busy (a time limit keeps each on a worker of its own).
    let held: Vec<_> = (0..2)
        .map(|_| {
            pool.submit_fn_with_timeout(hold, gate.path(), Duration::from_secs(600))
                .unwrap()
        })
        .collect();
    assert!(eventually(LONG, || held.iter().all(|f| f.running())));
    assert_eq!(pool.worker_pids().len(), 2);
    let before = open_fds();
    let queued: Vec<Future<u64>> = (0..100_000u64)
        .map(|i| pool.submit_fn(square, i).unwrap())
        .collect();
    let during = open_fds();
    assert_eq!(pool.queued(), 100_000);
    assert_eq!(pool.worker_pids().len(), 2);
    assert_eq!(during, before, "descriptors grew with the queue");
    pool.shutdown(false, true);
    assert!(queued.iter().all(|f| f.cancelled()));
    assert_eq!(pool.queued(), 0);
    drop(queued);
    gate.open();
    for f in held {
        assert!(result(f).is_ok());
    }
    drop(pool);
    assert!(open_fds() < before, "the workers' sockets were not closed");
}

#[test]
fn descriptors_are_released_after_crashes_and_drop() {
    let _s = serial();
    let _w = watchdog("descriptors_are_released_after_crashes_and_drop");
    let before = open_fds();
    {
        let pool = pool(2);
        for round in 0..10 {
            let crash = pool.submit_fn(exit_with, 3).unwrap();
            assert!(result(crash).unwrap_err().is_worker_died(), "round {round}");
            assert_eq!(
                result(pool.submit_fn(square, round).unwrap()),
                Ok(round * round)
            );
        }
    }
    assert_eq!(open_fds(), before);
}

#[test]
fn no_zombies_after_crashes_while_the_pool_lives_and_after_drop() {
    let _s = serial();
    let _w = watchdog("no_zombies_after_crashes_while_the_pool_lives_and_after_drop");
    assert_eq!(
        zombie_children(),
        Vec::<u32>::new(),
        "zombies before the test"
    );
    let gate = Gate::closed();
    // One worker and no retirement: the only children are that worker and its replacements,
    // and a task's future fails only once its dead worker was reaped.
    let pool = pool(1);
    let no_zombie = |what: &str| {
        assert_eq!(zombie_children(), Vec::<u32>::new(), "zombies after {what}");
    };
    for code in [0, 3] {
        assert!(result(pool.submit_fn(exit_with, code).unwrap())
            .unwrap_err()
            .is_worker_died());
        no_zombie("an exit");
    }
    let timed = pool
        .submit_fn_with_timeout(sleep_ms, 60_000, Duration::from_millis(100))
        .unwrap();
    assert!(result(timed).unwrap_err().is_task_timeout());
    no_zombie("a time limit");
    let killed = pool.submit_fn(hold, gate.path()).unwrap();
    assert!(eventually(LONG, || killed.running()));
    assert!(pool.kill(&killed));
    assert!(result(killed).unwrap_err().is_worker_died());
    no_zombie("kill");
    // Workers retired by max_tasks_per_child exit after their last task's future completed:
    // each is reaped soon after.
    let retiring = ProcessPoolExecutor::builder()
        .max_workers(2)
        .max_tasks_per_child(3)
        .build()
        .unwrap();
    for i in 0..20 {
        assert_eq!(result(retiring.submit_fn(square, i).unwrap()), Ok(i * i));
    }
    assert!(
        eventually(LONG, || zombie_children().is_empty()),
        "retired workers left as zombies: {:?}",
        zombie_children()
    );
    drop(retiring);
    no_zombie("dropping a pool with retired workers");
    let live = pool.worker_pids();
    drop(pool);
    assert_eq!(zombie_children(), Vec::<u32>::new(), "zombies after drop");
    for pid in live {
        assert!(
            proc_stat(pid).is_none(),
            "worker {pid} still exists after drop"
        );
    }
}

#[test]
fn no_worker_outlives_terminate_or_shutdown() {
    let _s = serial();
    let _w = watchdog("no_worker_outlives_terminate_or_shutdown");
    let before = children();
    for how in ["terminate", "kill", "shutdown"] {
        let pool = pool(2);
        let futures: Vec<_> = (0..10u64)
            .map(|i| pool.submit_fn(square, i).unwrap())
            .collect();
        for f in futures {
            assert!(result(f).is_ok());
        }
        let pids = pool.worker_pids();
        match how {
            "terminate" => pool.terminate_workers(),
            "kill" => pool.kill_workers(),
            _ => pool.shutdown(true, false),
        }
        for pid in pids {
            assert!(proc_stat(pid).is_none(), "{how}: worker {pid} still exists");
        }
        assert!(pool.worker_pids().is_empty());
    }
    assert_eq!(children(), before);
    assert_eq!(zombie_children(), Vec::<u32>::new());
}

/// The thread ids of this process, with their names.
fn threads() -> Vec<(String, String)> {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|e| {
            let tid = e.ok()?.file_name().to_str()?.to_owned();
            let comm = std::fs::read_to_string(format!("/proc/self/task/{tid}/comm")).ok()?;
            Some((tid, comm.trim_end().to_owned()))
        })
        .collect()
}

/// The last handle to a pool may be dropped on one of its own threads (a done-callback owns
/// it): the pool must still wind down, its worker, reader and timer threads included.
#[test]
fn pool_dropped_inside_its_own_callback_winds_down() {
    let _s = serial();
    let _w = watchdog("pool_dropped_inside_its_own_callback_winds_down");
    let before: Vec<String> = threads().into_iter().map(|(tid, _)| tid).collect();
    let pool = std::sync::Arc::new(
        ProcessPoolExecutor::builder()
            .max_workers(1)
            .idle_timeout(Duration::from_secs(600))
            .task_timeout(Duration::from_secs(600))
            .build()
            .unwrap(),
    );
    let gate = Gate::closed();
    let f = pool.submit_fn(hold, gate.path()).unwrap();
    assert!(eventually(LONG, || f.running()), "{f:?} {pool:?}");
    let worker = pool.worker_pids()[0];
    // The pool's threads: new since `before`, and named as the pool names them or (until a new
    // thread has set its name) as this test's thread, from which they inherit it. The test
    // harness may start other tests' threads meanwhile: those carry their own test's name.
    // (This thread is left out by its id too: a directory listing of /proc/self/task taken
    // while another thread exits may skip entries, so `before` may lack it.)
    let me = std::fs::read_to_string("/proc/thread-self/comm").unwrap();
    let me = me.trim_end();
    let my_tid = std::fs::read_link("/proc/thread-self").unwrap();
    let my_tid = my_tid.file_name().unwrap().to_str().unwrap().to_owned();
    let pool_threads: Vec<(String, String)> = threads()
        .into_iter()
        .filter(|(tid, comm)| {
            *tid != my_tid
                && !before.contains(tid)
                && (comm == me || comm.starts_with("ProcessPoolExec"))
        })
        .collect();
    assert!(
        pool_threads.len() >= 2,
        "a reader and a timer thread: {pool_threads:?}"
    );
    let owner = pool.clone();
    f.add_done_callback(move |_| drop(owner));
    drop(pool); // the callback now holds the last handle
    gate.open();
    assert!(f.wait_timeout(LONG));
    assert!(
        eventually(LONG, || proc_stat(worker).is_none()),
        "worker {worker} still exists: {:?}",
        proc_stat(worker)
    );
    let alive = || {
        let now = threads();
        now.into_iter()
            .filter(|(tid, _)| pool_threads.iter().any(|(t, _)| t == tid))
            .collect::<Vec<_>>()
    };
    assert!(
        eventually(LONG, || alive().is_empty()),
        "the pool's threads still run: {:?}",
        alive()
    );
}

#[test]
fn no_orphans_when_the_parent_is_killed() {
    let _s = serial();
    let _w = watchdog("no_orphans_when_the_parent_is_killed");
    let mut parent = spawn_child_mode("orphan", &[]);
    let stderr = drain(parent.stderr.take().unwrap());
    let (tx, rx) = mpsc::channel();
    let stdout = parent.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            // The harness may have printed "test child_mode ... " on the same line.
            if let Some((_, rest)) = line.split_once("WORKERS ") {
                let pids: Vec<u32> = rest
                    .split_whitespace()
                    .map(|p| p.parse().unwrap())
                    .collect();
                let _ = tx.send(pids);
            }
        }
    });
    let workers = match rx.recv_timeout(LONG) {
        Ok(p) => p,
        Err(_) => {
            let _ = parent.kill();
            let _ = parent.wait();
            let err = stderr.recv_timeout(LONG).unwrap_or_default();
            panic!("the child parent never reported its workers; its stderr:\n{err}");
        }
    };
    assert_eq!(workers.len(), 2);
    for &pid in &workers {
        assert_eq!(
            proc_stat(pid).map(|(_, ppid)| ppid),
            Some(parent.id()),
            "worker {pid} is not the child parent's"
        );
    }
    parent.kill().unwrap(); // SIGKILL: no destructor, no shutdown
    parent.wait().unwrap();
    let deadline = Duration::from_secs(10);
    let gone = eventually(deadline, || workers.iter().all(|&p| process_ended(p)));
    let left: Vec<_> = workers
        .iter()
        .filter(|&&p| !process_ended(p))
        .map(|&p| (p, proc_stat(p)))
        .collect();
    // Clean up before failing, so no process is left behind by the test itself.
    for &(p, _) in &left {
        // SAFETY: plain syscall; these are the orphaned workers of our own child.
        unsafe { libc::kill(p as i32, libc::SIGKILL) };
    }
    assert!(
        gone,
        "workers still running {deadline:?} after their parent was killed: {left:?}"
    );
}

#[test]
fn workers_inherit_stdout_and_stderr() {
    let _s = serial();
    let _w = watchdog("workers_inherit_stdout_and_stderr");
    let marker = format!("marker-{}-{}", std::process::id(), line!());
    let mut parent = spawn_child_mode("print", &[("PROCESS_RESOURCES_MARKER", &marker)]);
    let out = drain(parent.stdout.take().unwrap());
    let err = drain(parent.stderr.take().unwrap());
    let status = wait_child(&mut parent, LONG);
    let out = out.recv_timeout(LONG).unwrap();
    let err = err.recv_timeout(LONG).unwrap();
    assert!(status.success(), "{status}\nstdout:\n{out}\nstderr:\n{err}");
    let (parent_pid, worker_pid) = out
        .lines()
        .find_map(|l| {
            let rest = l.strip_prefix("PARENT ")?;
            let (p, w) = rest.split_once(" WORKER ")?;
            Some((p.parse::<u32>().ok()?, w.parse::<u32>().ok()?))
        })
        .unwrap_or_else(|| panic!("no PARENT line in:\n{out}"));
    assert_ne!(parent_pid, worker_pid);
    assert!(
        out.contains(&format!("stdout {marker} from worker {worker_pid}")),
        "the worker's print is not in the parent's stdout:\n{out}"
    );
    assert!(
        err.contains(&format!("stderr {marker} from worker {worker_pid}")),
        "the worker's eprint is not in the parent's stderr:\n{err}"
    );
    assert!(!err.contains(&format!("stdout {marker}")));
}

/// A program whose executable file was deleted or replaced after it started (a rebuild, an
/// upgrade) still starts workers: they run the program that is running, not what the path now
/// names.
#[test]
fn workers_start_after_the_executable_was_deleted() {
    let _s = serial();
    let _w = watchdog("workers_start_after_the_executable_was_deleted");
    let scratch = util::Scratch::new();
    let copy = scratch.file("copy-of-the-test-binary");
    std::fs::copy("/proc/self/exe", &copy).unwrap();
    let mut child = Command::new(&copy)
        .args([
            "child_mode",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(MODE_ENV, "deleted_exe")
        .env("RUST_BACKTRACE", "0")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = drain(child.stdout.take().unwrap());
    let err = drain(child.stderr.take().unwrap());
    let status = wait_child(&mut child, LONG);
    let out = out.recv_timeout(LONG).unwrap();
    let err = err.recv_timeout(LONG).unwrap();
    assert!(
        !Path::new(&copy).exists(),
        "the child did not delete its executable"
    );
    // The portable Unix path runs the program by its path (there is no `/proc/self/exe` on
    // macOS or the BSDs): with the file gone, the pool breaks once, saying why.
    let want = if cfg!(concurrent_futures_portable_unix) {
        "OUTCOME Ok(Err(BrokenExecutor { cause: \"could not start a worker process"
    } else {
        "OUTCOME Ok(Ok(49))"
    };
    assert!(
        out.contains(want),
        "{status}\nstdout:\n{out}\nstderr:\n{err}"
    );
}

#[test]
fn child_mode_does_nothing_without_its_variable() {
    // `cargo test -- --ignored` runs `child_mode` in the test process itself: it must return.
    assert!(std::env::var_os(MODE_ENV).is_none());
    child_mode();
    assert!(Path::new("/proc/self").exists());
}
