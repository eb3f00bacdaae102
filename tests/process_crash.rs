//! How [`ProcessPoolExecutor`] survives what can go wrong in or around a worker process: every
//! way a worker can die, panics, time limits, `kill`, `terminate_workers`/`kill_workers`,
//! values that do not encode or decode, corrupt frames in both directions, initializers and
//! `max_tasks_per_child`.
//!
//! The common shape of a check: a task's failure is reported on that task's future only, with
//! the pid of the worker that ran it (compared with the pid the worker itself reported), the
//! tasks queued behind it still run, and the executor stays usable — on a new worker when the
//! old one died, on the same one when it did not.

#![cfg(all(any(unix, windows), feature = "process"))]

#[cfg(unix)]
use std::path::Path;
use std::time::Duration;

use concurrent_futures::__private::wire;
use concurrent_futures::{register, Future, ProcessPoolExecutor, SubmitError, TaskError};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[path = "suite/util.rs"]
mod util;

use util::{eventually, Gate, Watchdog, LONG, TEST_LIMIT};

// ----- task functions ------------------------------------------------------------------------

/// The pid of the worker that runs it.
fn pid_of(_: ()) -> u32 {
    std::process::id()
}

fn square(x: u64) -> u64 {
    x * x
}

/// Keeps a worker busy until the gate at `gate` opens; returns the worker's pid.
fn hold(gate: String) -> u32 {
    util::hold_until_open(&gate);
    std::process::id()
}

/// Leaves a file named after the worker's pid in `started` (the task has begun), then holds
/// until the gate opens.
fn hold_started((gate, started): (String, String)) -> u32 {
    std::fs::write(format!("{started}/{}", std::process::id()), b"").unwrap();
    hold(gate)
}

/// Sleeps `ms` (only to stay busy until something stops it); returns the worker's pid.
fn sleep_ms(ms: u64) -> u32 {
    std::thread::sleep(Duration::from_millis(ms));
    std::process::id()
}

/// Sleeps `us` microseconds; returns them.
fn sleep_us(us: u64) -> u64 {
    std::thread::sleep(Duration::from_micros(us));
    us
}

fn panic_with(msg: String) -> u32 {
    std::panic::panic_any(msg)
}

/// The ways a worker can die.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
enum Death {
    /// `kill(getpid(), SIGKILL)`: what the OOM killer sends, too.
    SigKill,
    /// `std::process::abort()`.
    Abort,
    /// A store to an unmapped address.
    Segfault,
    /// `raise(SIGSEGV)`.
    RaiseSegv,
    /// `std::process::exit(code)`.
    Exit(i32),
    /// An allocation refused under a low `RLIMIT_AS` (Rust aborts on allocation failure).
    OutOfMemory,
    /// Unbounded recursion (Windows: `0xC00000FD`).
    #[cfg(windows)]
    StackOverflow,
}

/// Dies as told. Never returns normally.
#[cfg(unix)]
fn die(death: Death) -> u32 {
    set_rlimit(libc::RLIMIT_CORE, 0); // no core files from the crashes below
    match death {
        Death::SigKill => {
            // SAFETY: plain syscalls on this process.
            unsafe { libc::kill(libc::getpid(), libc::SIGKILL) };
        }
        Death::Abort => std::process::abort(),
        Death::Segfault => {
            // An aligned, non-null address in the never-mapped first page.
            let p = 0x10 as *mut u64;
            // SAFETY: none — the point is to fault. Nothing after it runs.
            unsafe { std::ptr::write_volatile(p, 1) };
        }
        Death::RaiseSegv => {
            // SAFETY: plain syscall.
            unsafe { libc::raise(libc::SIGSEGV) };
        }
        Death::Exit(code) => std::process::exit(code),
        Death::OutOfMemory => {
            let vm = vm_size_bytes();
            set_rlimit(libc::RLIMIT_AS, vm + (64 << 20));
            let v: Vec<u8> = vec![1; 1 << 30];
            std::hint::black_box(&v);
        }
    }
    // Only reached if the death did not happen at once.
    std::thread::sleep(Duration::from_secs(30));
    0
}

/// Dies as told, in Windows terms: `SigKill` is `TerminateProcess` with status 1 (as
/// `taskkill /F` and Task Manager end a process), `Abort` is Rust's (a fail-fast,
/// `0xC0000409`), `Segfault` an access violation (`0xC0000005`), `StackOverflow`
/// `0xC00000FD`. `RaiseSegv` and `OutOfMemory` are Unix's.
#[cfg(windows)]
fn die(death: Death) -> u32 {
    match death {
        Death::SigKill => {
            // SAFETY: ends this process.
            unsafe { win::TerminateProcess(win::GetCurrentProcess(), 1) };
        }
        Death::Abort => std::process::abort(),
        Death::Segfault => {
            let p = 0x10 as *mut u64;
            // SAFETY: none — the point is to fault. Nothing after it runs.
            unsafe { std::ptr::write_volatile(p, 1) };
        }
        Death::Exit(code) => std::process::exit(code),
        Death::StackOverflow => {
            std::hint::black_box(recurse(std::hint::black_box(1)));
        }
        Death::RaiseSegv | Death::OutOfMemory => unreachable!("Unix only"),
    }
    std::thread::sleep(Duration::from_secs(30));
    0
}

/// Recurses for ever (a stack overflow), each frame holding a buffer the optimizer keeps.
#[cfg(windows)]
#[allow(unconditional_recursion)]
fn recurse(n: u64) -> u64 {
    let buf = std::hint::black_box([n; 512]);
    recurse(buf[7] + 1) + buf[3]
}

/// The few Windows calls the tests make (the crate's own use `windows-sys`).
#[cfg(windows)]
mod win {
    pub type Handle = *mut std::ffi::c_void;
    #[link(name = "kernel32")]
    extern "system" {
        pub fn GetCurrentProcess() -> Handle;
        pub fn TerminateProcess(h: Handle, code: u32) -> i32;
        pub fn OpenProcess(access: u32, inherit: i32, pid: u32) -> Handle;
        pub fn GetExitCodeProcess(h: Handle, code: *mut u32) -> i32;
        pub fn CloseHandle(h: Handle) -> i32;
    }
}

/// How each death reads, per platform.
#[cfg(unix)]
mod words {
    pub const SIGKILL: &[&str] = &["signal 9", "SIGKILL"];
    pub const ABORT: &[&str] = &["signal 6", "SIGABRT"];
    pub const SEGFAULT: &[&str] = &["signal 11", "SIGSEGV"];
    /// A kill the pool sent (`kill`, `kill_workers`, a time limit).
    pub const KILLED: &str = "SIGKILL";
    /// A stop request the pool sent (`terminate_workers`).
    pub const ASKED: &str = "SIGTERM";
}
#[cfg(windows)]
mod words {
    pub const SIGKILL: &[&str] = &["exited with status 1"];
    pub const ABORT: &[&str] = &["0xC0000409", "STATUS_STACK_BUFFER_OVERRUN"];
    pub const SEGFAULT: &[&str] = &["0xC0000005", "STATUS_ACCESS_VIOLATION"];
    pub const KILLED: &str = "TerminateProcess";
    pub const ASKED: &str = "STATUS_CONTROL_C_EXIT";
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
type Resource = libc::__rlimit_resource_t;
#[cfg(all(unix, not(all(target_os = "linux", target_env = "gnu"))))]
type Resource = libc::c_int;

#[cfg(unix)]
fn set_rlimit(resource: Resource, value: u64) {
    let lim = libc::rlimit {
        rlim_cur: value as libc::rlim_t,
        rlim_max: value as libc::rlim_t,
    };
    // SAFETY: a valid rlimit struct for the call's duration.
    unsafe { libc::setrlimit(resource, &lim) };
}

/// This process's virtual memory size, from `/proc/self/status`.
#[cfg(unix)]
fn vm_size_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmSize:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(256 << 20, |kb| kb * 1024)
}

/// Refuses to be encoded; decodes like a `u32`.
#[derive(Debug, PartialEq)]
struct Unencodable(u32);

impl Serialize for Unencodable {
    fn serialize<S: Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        Err(serde::ser::Error::custom(
            "Unencodable refuses to be encoded",
        ))
    }
}

impl<'de> Deserialize<'de> for Unencodable {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        u32::deserialize(d).map(Unencodable)
    }
}

/// Encodes like a `u32`; refuses to be decoded.
#[derive(Debug, PartialEq)]
struct Undecodable(u32);

impl Serialize for Undecodable {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Undecodable {
    fn deserialize<D: Deserializer<'de>>(_: D) -> Result<Self, D::Error> {
        Err(serde::de::Error::custom(
            "Undecodable refuses to be decoded",
        ))
    }
}

fn takes_unencodable(a: Unencodable) -> u32 {
    a.0
}

fn takes_undecodable(a: Undecodable) -> u32 {
    a.0
}

fn returns_unencodable(x: u32) -> Unencodable {
    Unencodable(x)
}

fn returns_undecodable(x: u32) -> Undecodable {
    Undecodable(x)
}

/// Encodes as `(x, x)`, except that `x % 3 == 1` fails after writing its first half and
/// `x % 3 == 2` panics when it is decoded: in a chunk, each such item must fail alone.
#[derive(Debug, PartialEq)]
struct Picky(u32);

impl Serialize for Picky {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeTuple;
        let mut t = s.serialize_tuple(2)?;
        t.serialize_element(&self.0)?;
        if self.0 % 3 == 1 {
            return Err(serde::ser::Error::custom("half-written"));
        }
        t.serialize_element(&self.0)?;
        t.end()
    }
}

impl<'de> Deserialize<'de> for Picky {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let (a, b) = <(u32, u32)>::deserialize(d)?;
        assert!(a % 3 != 2, "Picky({a}) refuses to be decoded");
        assert_eq!(a, b);
        Ok(Picky(a))
    }
}

fn returns_picky(x: u32) -> Picky {
    Picky(x)
}

/// What a hostile task does to its worker's channel to the parent: appends `bytes` to the
/// replies' ring in shared memory as the worker would, then publishes a tail: the honest one
/// (`tail` 0), one that moved back (`u64::MAX`), or the honest one plus `tail` — then rings
/// the parent's doorbell and stays busy until the parent reacts. The layout is `ring.md`'s.
/// (Unix: the ring is found in `/proc/self/maps`, the doorbell is the socket.)
#[cfg(unix)]
fn write_to_channel((bytes, tail): (Vec<u8>, u64)) -> u32 {
    use std::sync::atomic::{AtomicU64, Ordering};
    const CAPACITY: usize = 256 << 10;
    const HEADER: usize = 192;
    let start = util::ring_mapping();
    let ring = start + HEADER + CAPACITY; // the second ring: worker → parent
                                          // SAFETY: the worker's own live mapping of the rings; the task runs on the thread that
                                          // writes replies, so nothing else writes this ring meanwhile.
    unsafe {
        let tail_ref = &*(ring as *const AtomicU64);
        let t = tail_ref.load(Ordering::Acquire);
        let data = (ring + HEADER) as *mut u8;
        for (i, b) in bytes.iter().enumerate() {
            *data.add((t as usize + i) % CAPACITY) = *b;
        }
        let new = match tail {
            0 => t + bytes.len() as u64,
            u64::MAX => 0,
            extra => t + extra,
        };
        tail_ref.store(new, Ordering::Release);
        let fd = channel_fd().expect("the worker's channel socket");
        libc::write(fd, [0u8].as_ptr().cast(), 1);
    }
    std::thread::sleep(Duration::from_secs(30));
    std::process::id()
}

/// The lowest descriptor above stderr that is a socket: the worker's channel.
#[cfg(unix)]
fn channel_fd() -> Option<i32> {
    let mut fds: Vec<i32> = std::fs::read_dir("/proc/self/fd")
        .ok()?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter(|&fd| fd > 2)
        .collect();
    fds.sort_unstable();
    fds.into_iter().find(|fd| {
        std::fs::read_link(format!("/proc/self/fd/{fd}"))
            .is_ok_and(|t| t.to_string_lossy().starts_with("socket:"))
    })
}

static INIT_RUNS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
static INIT_VALUE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// An initializer that records that it ran, and with which value.
fn init_record(v: u64) {
    use std::sync::atomic::Ordering::SeqCst;
    INIT_RUNS.fetch_add(1, SeqCst);
    INIT_VALUE.store(v, SeqCst);
}

/// (pid, how many times the initializer ran in this worker, the value it was given).
fn init_state(_: ()) -> (u32, u64, u64) {
    use std::sync::atomic::Ordering::SeqCst;
    (
        std::process::id(),
        INIT_RUNS.load(SeqCst),
        INIT_VALUE.load(SeqCst),
    )
}

fn init_panics(msg: String) {
    std::panic::panic_any(msg)
}

/// Waits for the gate at `gate`, then panics with `msg`.
fn init_panics_after((gate, msg): (String, String)) {
    util::hold_until_open(&gate);
    std::panic::panic_any(msg)
}

fn init_exits(code: i32) {
    std::process::exit(code)
}

register!(
    pid_of,
    square,
    hold,
    hold_started,
    sleep_ms,
    sleep_us,
    panic_with,
    die,
    takes_unencodable,
    takes_undecodable,
    returns_unencodable,
    returns_undecodable,
    returns_picky,
    init_record,
    init_state,
    init_panics,
    init_panics_after,
    init_exits,
);
#[cfg(unix)]
register!(write_to_channel);

/// The name `square` travels under (what `register!` records).
fn square_name() -> &'static str {
    concurrent_futures::__private::registered_name(square).expect("registered")
}

// ----- helpers -------------------------------------------------------------------------------

fn watchdog(test: &'static str) -> Watchdog {
    Watchdog::new(test, TEST_LIMIT)
}

fn pool(workers: usize) -> ProcessPoolExecutor {
    ProcessPoolExecutor::with_max_workers(workers).unwrap()
}

/// Runs `pid_of` and checks that the pid it reports is one the pool lists.
fn worker_pid(pool: &ProcessPoolExecutor) -> u32 {
    let pid = pool
        .submit_fn(pid_of, ())
        .unwrap()
        .result_timeout(LONG)
        .unwrap();
    assert!(
        pool.worker_pids().contains(&pid),
        "task pid {pid} not among the workers {:?}",
        pool.worker_pids()
    );
    pid
}

fn result<T>(mut f: Future<T>) -> Result<T, TaskError> {
    let r = f.result_timeout(LONG);
    assert!(
        !matches!(r, Err(TaskError::Timeout { .. })),
        "no result in {LONG:?}"
    );
    r
}

#[cfg(unix)]
fn process_exists(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// Whether process `pid` still runs (its pid is not reused meanwhile: the pool holds a handle
/// to it until its error is delivered).
#[cfg(windows)]
fn process_exists(pid: u32) -> bool {
    const SYNCHRONIZE_QUERY: u32 = 0x0010_0000 | 0x1000;
    // SAFETY: plain calls; the handle is closed at once.
    unsafe {
        let h = win::OpenProcess(SYNCHRONIZE_QUERY, 0, pid);
        if h.is_null() {
            return false;
        }
        let mut code = 0u32;
        let ok = win::GetExitCodeProcess(h, &mut code);
        win::CloseHandle(h);
        ok != 0 && code == 259 // STILL_ACTIVE
    }
}

/// Checks a `WorkerDied` error: the pid, and that `how` mentions each of `words`.
fn assert_died(err: &TaskError, pid: u32, words: &[&str]) {
    match err {
        TaskError::WorkerDied { pid: p, how, .. } => {
            assert_eq!(*p, pid, "{err}");
            for w in words {
                assert!(how.contains(w), "{err:?} does not mention {w:?}");
            }
            let shown = err.to_string();
            assert!(shown.contains(&pid.to_string()), "{shown}");
        }
        other => panic!("expected WorkerDied from pid {pid}, got {other:?}"),
    }
    assert!(err.is_worker_died());
}

/// Submits a task that dies as told, with tasks queued behind it on a one-worker pool, and
/// checks everything the engine promises about a dead worker. Returns the error.
fn check_death(death: Death, words: &[&str]) -> TaskError {
    let pool = pool(1);
    let before = worker_pid(&pool);
    let crash = pool.submit_fn(die, death).unwrap();
    let queued: Vec<Future<u64>> = (0..5).map(|i| pool.submit_fn(square, i).unwrap()).collect();
    let err = result(crash).unwrap_err();
    assert_died(&err, before, words);
    // The future fails only once the worker is reaped: its pid is gone.
    assert!(!process_exists(before), "worker {before} still exists");
    for (i, f) in queued.into_iter().enumerate() {
        assert_eq!(result(f), Ok((i * i) as u64), "queued task {i}");
    }
    let after = worker_pid(&pool);
    assert_ne!(after, before, "the dead worker was not replaced");
    assert!(pool.broken_cause().is_none());
    assert!(!pool.is_shutdown());
    err
}

// ----- deaths --------------------------------------------------------------------------------

#[test]
fn sigkill_fails_only_that_task() {
    let _w = watchdog("sigkill_fails_only_that_task");
    check_death(Death::SigKill, words::SIGKILL);
}

#[test]
fn abort_fails_only_that_task() {
    let _w = watchdog("abort_fails_only_that_task");
    check_death(Death::Abort, words::ABORT);
}

#[test]
fn segfault_fails_only_that_task() {
    let _w = watchdog("segfault_fails_only_that_task");
    check_death(Death::Segfault, words::SEGFAULT);
}

#[cfg(unix)]
#[test]
fn raised_sigsegv_fails_only_that_task() {
    let _w = watchdog("raised_sigsegv_fails_only_that_task");
    check_death(Death::RaiseSegv, &["signal 11", "SIGSEGV"]);
}

#[cfg(windows)]
#[test]
fn stack_overflow_fails_only_that_task() {
    let _w = watchdog("stack_overflow_fails_only_that_task");
    if util::under_wine() {
        // Wine 8 does not turn an overflow of a thread's stack into STATUS_STACK_OVERFLOW:
        // the process hangs in Wine's fault handler instead of ending.
        eprintln!("stack_overflow_fails_only_that_task: skipped under Wine (Wine limitation)");
        return;
    }
    check_death(
        Death::StackOverflow,
        &["0xC00000FD", "STATUS_STACK_OVERFLOW", "a stack overflow"],
    );
}

#[test]
fn exit_status_is_reported() {
    let _w = watchdog("exit_status_is_reported");
    let err = check_death(Death::Exit(3), &["exited with status 3"]);
    assert!(err.to_string().ends_with("exited with status 3"), "{err}");
}

#[test]
fn exit_zero_in_a_task_still_fails_it() {
    let _w = watchdog("exit_zero_in_a_task_still_fails_it");
    check_death(Death::Exit(0), &["exited with status 0"]);
}

/// The OOM killer's signal is SIGKILL: covered by `sigkill_fails_only_that_task`. An allocation
/// refused by the kernel (here under a low `RLIMIT_AS`) makes Rust abort the process instead.
#[cfg(unix)]
#[test]
fn allocation_failure_is_reported_as_abort() {
    let _w = watchdog("allocation_failure_is_reported_as_abort");
    check_death(Death::OutOfMemory, &["SIGABRT"]);
}

#[test]
fn crash_among_concurrent_tasks_fails_only_its_own() {
    let _w = watchdog("crash_among_concurrent_tasks_fails_only_its_own");
    let pool = pool(2);
    let mut futures = Vec::new();
    for i in 0..40u64 {
        futures.push((i, pool.submit_fn(square, i).unwrap()));
    }
    let crash = pool.submit_fn(die, Death::SigKill).unwrap();
    for i in 40..80u64 {
        futures.push((i, pool.submit_fn(square, i).unwrap()));
    }
    let err = result(crash).unwrap_err();
    assert!(err.is_worker_died(), "{err:?}");
    let TaskError::WorkerDied { pid, .. } = err else {
        unreachable!()
    };
    assert!(!process_exists(pid));
    for (i, f) in futures {
        assert_eq!(result(f), Ok(i * i));
    }
    assert!(pool.worker_pids().len() <= 2);
}

#[test]
fn every_future_ends_when_each_task_kills_its_worker() {
    let _w = watchdog("every_future_ends_when_each_task_kills_its_worker");
    let pool = pool(2);
    let crashes: Vec<_> = (0..6)
        .map(|i| {
            let death = if i % 2 == 0 {
                Death::SigKill
            } else {
                Death::Exit(9)
            };
            pool.submit_fn(die, death).unwrap()
        })
        .collect();
    let fine = pool.submit_fn(square, 12).unwrap();
    let mut pids = std::collections::HashSet::new();
    for f in crashes {
        match result(f).unwrap_err() {
            TaskError::WorkerDied { pid, .. } => assert!(pids.insert(pid), "pid {pid} twice"),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(result(fine), Ok(144));
}

#[test]
fn shutdown_wait_runs_queued_tasks_after_a_crash() {
    let _w = watchdog("shutdown_wait_runs_queued_tasks_after_a_crash");
    let pool = pool(1);
    let crash = pool.submit_fn(die, Death::Exit(4)).unwrap();
    let queued: Vec<_> = (0..4u64)
        .map(|i| pool.submit_fn(square, i).unwrap())
        .collect();
    pool.shutdown(true, false);
    assert!(result(crash).unwrap_err().is_worker_died());
    for (i, f) in queued.into_iter().enumerate() {
        let i = i as u64;
        assert!(f.done());
        assert_eq!(result(f), Ok(i * i));
    }
    assert!(pool.worker_pids().is_empty());
}

// ----- panics --------------------------------------------------------------------------------

#[test]
fn panic_message_arrives_and_worker_keeps_serving() {
    let _w = watchdog("panic_message_arrives_and_worker_keeps_serving");
    let pool = pool(1);
    let before = worker_pid(&pool);
    let f = pool
        .submit_fn(panic_with, "the sky is falling".to_string())
        .unwrap();
    let err = result(f).unwrap_err();
    assert!(err.is_panic(), "{err:?}");
    assert_eq!(err.panic_message(), Some("the sky is falling"));
    // Where it panicked travels with the message.
    let at = err
        .panic_location()
        .expect("the worker records the location");
    assert!(at.starts_with("tests/process_crash.rs:"), "{at}");
    assert_eq!(
        err.to_string(),
        format!("task panicked at {at}: the sky is falling")
    );
    for _ in 0..3 {
        assert_eq!(
            worker_pid(&pool),
            before,
            "a panic must not cost the worker"
        );
    }
}

// ----- time limits, kill ---------------------------------------------------------------------

#[test]
fn builder_task_timeout_stops_the_task_and_replaces_the_worker() {
    let _w = watchdog("builder_task_timeout_stops_the_task_and_replaces_the_worker");
    let limit = Duration::from_secs(2);
    let pool = ProcessPoolExecutor::builder()
        .max_workers(1)
        .task_timeout(limit)
        .build()
        .unwrap();
    let before = worker_pid(&pool);
    let slow = pool.submit_fn(sleep_ms, 60_000).unwrap();
    let queued = pool.submit_fn(square, 9).unwrap();
    let err = result(slow).unwrap_err();
    assert_eq!(err, TaskError::TaskTimedOut { limit });
    assert!(err.is_task_timeout());
    assert!(!process_exists(before));
    assert_eq!(result(queued), Ok(81));
    assert_ne!(worker_pid(&pool), before);
}

#[test]
fn per_submit_timeout_stops_the_task_and_replaces_the_worker() {
    let _w = watchdog("per_submit_timeout_stops_the_task_and_replaces_the_worker");
    let pool = pool(1);
    let before = worker_pid(&pool);
    let limit = Duration::from_millis(300);
    let slow = pool
        .submit_fn_with_timeout(sleep_ms, 60_000, limit)
        .unwrap();
    let queued = pool.submit_fn(square, 5).unwrap();
    let err = result(slow).unwrap_err();
    assert_eq!(err, TaskError::TaskTimedOut { limit });
    assert!(err.to_string().contains("time limit"), "{err}");
    assert!(!process_exists(before));
    assert_eq!(result(queued), Ok(25));
    let after = worker_pid(&pool);
    assert_ne!(after, before);
    // A task that finishes within its limit is unaffected, and so is its worker.
    let quick = pool
        .submit_fn_with_timeout(square, 6, Duration::from_secs(60))
        .unwrap();
    assert_eq!(result(quick), Ok(36));
    assert_eq!(worker_pid(&pool), after);
}

#[test]
fn per_submit_timeout_overrides_builder_default() {
    let _w = watchdog("per_submit_timeout_overrides_builder_default");
    let pool = ProcessPoolExecutor::builder()
        .max_workers(1)
        .task_timeout(Duration::from_secs(120))
        .build()
        .unwrap();
    let limit = Duration::from_millis(200);
    let slow = pool
        .submit_fn_with_timeout(sleep_ms, 60_000, limit)
        .unwrap();
    assert_eq!(result(slow), Err(TaskError::TaskTimedOut { limit }));
}

/// A deadline that passes just as its task finishes (the reply already on its way) must stop
/// that task or nothing: never the task the worker is given next, which has no time limit.
#[test]
fn deadline_racing_completion_never_stops_the_next_task() {
    let _w = watchdog("deadline_racing_completion_never_stops_the_next_task");
    let pool = pool(1);
    let limit = Duration::from_micros(2500);
    let mut failures = Vec::new();
    for i in 0..RACE_ROUNDS.min(400) {
        // Durations around the limit, so that some finish just before it and some just after.
        let timed = pool
            .submit_fn_with_timeout(sleep_us, 2000 + (i % 20) * 100, limit)
            .unwrap();
        let next = pool.submit_fn(square, i).unwrap();
        let t = result(timed);
        assert!(
            t.is_ok() || t == Err(TaskError::TaskTimedOut { limit }),
            "{t:?}"
        );
        let n = result(next);
        if n != Ok(i * i) {
            failures.push((i, t, n));
        }
    }
    assert!(
        failures.is_empty(),
        "tasks without a time limit stopped by the previous task's deadline: {failures:?}"
    );
}

/// How many rounds a race test runs; each may cost a worker, and a worker starts in about a
/// millisecond on Linux but a tenth of a second under Wine (its process creation: CI runs the
/// Windows build there), where fewer rounds still cross the window each way.
const RACE_ROUNDS: u64 = if cfg!(windows) { 120 } else { 1500 };

/// `kill` that arrives just as its task finishes may stop that task or nothing: never the task
/// the worker runs next.
#[test]
fn kill_racing_completion_never_stops_the_next_task() {
    let _w = watchdog("kill_racing_completion_never_stops_the_next_task");
    let pool = pool(1);
    let mut failures = Vec::new();
    for i in 0..RACE_ROUNDS {
        let target = pool.submit_fn(sleep_us, 500).unwrap();
        let next = pool.submit_fn(square, i).unwrap();
        assert!(eventually(LONG, || target.running() || target.done()));
        // Kill at spread-out moments around the end of the task (a spin, to hit the window).
        let start = std::time::Instant::now();
        let offset = Duration::from_micros(300 + (i % 41) * 10);
        while start.elapsed() < offset {
            std::hint::spin_loop();
        }
        let killed = pool.kill(&target);
        let n = result(next);
        if n != Ok(i * i) {
            failures.push((i, killed, result(target), n));
        }
    }
    assert!(
        failures.is_empty(),
        "tasks stopped by a kill aimed at the previous task: {failures:?}"
    );
}

#[test]
fn kill_stops_a_running_task() {
    let _w = watchdog("kill_stops_a_running_task");
    let gate = Gate::closed();
    let pool = pool(1);
    let before = worker_pid(&pool);
    let running = pool.submit_fn(hold, gate.path()).unwrap();
    let queued = pool.submit_fn(square, 3).unwrap();
    assert!(eventually(LONG, || running.running()), "{running:?}");
    assert!(
        !pool.kill(&queued),
        "kill must refuse a task that has not started"
    );
    assert!(pool.kill(&running));
    let err = result(running).unwrap_err();
    assert_died(&err, before, &["stopped on request", words::KILLED]);
    assert!(!process_exists(before));
    let mut queued = queued;
    assert_eq!(queued.result_timeout(LONG), Ok(9));
    assert!(!pool.kill(&queued), "kill must refuse a finished task");
    assert_ne!(worker_pid(&pool), before);
}

#[test]
fn kill_of_a_cancelled_future_is_refused() {
    let _w = watchdog("kill_of_a_cancelled_future_is_refused");
    let gate = Gate::closed();
    let pool = pool(1);
    let blocker = pool.submit_fn(hold, gate.path()).unwrap();
    assert!(eventually(LONG, || blocker.running()));
    // The engine may send a worker its next task early (that task then counts as running):
    // fillers absorb that, so `f` stays pending.
    let fillers: Vec<_> = (0..2).map(|i| pool.submit_fn(square, i).unwrap()).collect();
    let f = pool.submit_fn(square, 3).unwrap();
    assert!(f.cancel());
    assert!(!pool.kill(&f));
    gate.open();
    assert!(result(blocker).is_ok());
    for f in fillers {
        assert!(result(f).is_ok());
    }
}

#[test]
fn terminate_workers_ends_every_future() {
    let _w = watchdog("terminate_workers_ends_every_future");
    check_terminate(false);
}

#[test]
fn kill_workers_ends_every_future() {
    let _w = watchdog("kill_workers_ends_every_future");
    check_terminate(true);
}

fn check_terminate(kill: bool) {
    let gate = Gate::closed();
    let started = util::Scratch::new();
    let pool = pool(2);
    let held: Vec<_> = (0..2)
        .map(|_| {
            let arg = (gate.path(), started.file(""));
            pool.submit_fn(hold_started, arg).unwrap()
        })
        .collect();
    // Begun in their workers (a task only sent, not yet begun, would end as not started).
    assert!(eventually(LONG, || started.names().len() == 2));
    let queued: Vec<_> = (0..5u64)
        .map(|i| pool.submit_fn(square, i).unwrap())
        .collect();
    let pids = pool.worker_pids();
    assert!(!pids.is_empty());
    // Stop the pool from another thread, so that a stop that waits for the held tasks fails
    // this test (the gate is then opened) instead of hanging it.
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let returned = std::thread::scope(|s| {
        s.spawn(|| {
            if kill {
                pool.kill_workers();
            } else {
                pool.terminate_workers();
            }
            let _ = done_tx.send(());
        });
        let returned = done_rx.recv_timeout(LONG).is_ok();
        gate.open(); // lets a task that is (wrongly) still running finish
        returned
    });
    let name = if kill {
        "kill_workers"
    } else {
        "terminate_workers"
    };
    assert!(
        returned,
        "{name} waited for a held task instead of stopping it"
    );
    // Afterwards nothing is pending: every future is done without waiting.
    assert!(held.iter().all(|f| f.done()), "{held:?}");
    assert!(queued.iter().all(|f| f.done()), "{queued:?}");
    let signal = if kill { words::KILLED } else { words::ASKED };
    let assert_terminated = |err: &TaskError| match err {
        TaskError::WorkerDied { pid, how, .. } => {
            assert!(pids.contains(pid), "{err:?} not from one of {pids:?}");
            assert!(
                how.contains("terminated") && how.contains(signal),
                "{err:?}"
            );
        }
        other => panic!("expected WorkerDied from {name}, got {other:?}"),
    };
    for f in held {
        assert_terminated(&result(f).unwrap_err());
    }
    // A queued task was cancelled, or (if it had already been handed to a worker) failed with
    // its worker; none runs after the pool was stopped.
    for f in queued {
        if !f.cancelled() {
            assert_terminated(&result(f).unwrap_err());
        }
    }
    for pid in pids {
        assert!(!process_exists(pid), "worker {pid} survived");
    }
    assert!(pool.worker_pids().is_empty());
    assert!(pool.is_shutdown());
    let refused = pool.submit_fn(square, 2).unwrap_err();
    assert!(refused.is_shutdown());
    assert_eq!(refused.into_inner(), 2);
    // Idempotent, and harmless after the fact.
    pool.terminate_workers();
    pool.kill_workers();
}

#[test]
fn terminate_workers_on_an_idle_or_unused_pool() {
    let _w = watchdog("terminate_workers_on_an_idle_or_unused_pool");
    let unused = pool(2);
    unused.terminate_workers();
    assert!(unused.is_shutdown());
    let idle = pool(2);
    let pid = worker_pid(&idle);
    idle.kill_workers();
    assert!(!process_exists(pid));
    assert!(idle.worker_pids().is_empty());
}

// ----- serialization -------------------------------------------------------------------------

#[test]
fn argument_that_does_not_encode_is_refused_at_submit() {
    let _w = watchdog("argument_that_does_not_encode_is_refused_at_submit");
    let pool = pool(1);
    let err = pool
        .submit_fn(takes_unencodable, Unencodable(17))
        .unwrap_err();
    assert!(err.is_invalid(), "{err:?}");
    let shown = err.to_string();
    assert!(shown.contains("could not be encoded"), "{shown}");
    assert!(shown.contains("Unencodable` returned an error"), "{shown}");
    assert_eq!(err.into_inner(), Unencodable(17));
    assert_eq!(result(pool.submit_fn(square, 4).unwrap()), Ok(16));
}

#[test]
fn result_that_does_not_encode_fails_its_future_only() {
    let _w = watchdog("result_that_does_not_encode_fails_its_future_only");
    let pool = pool(1);
    let before = worker_pid(&pool);
    let err = result(pool.submit_fn(returns_unencodable, 5).unwrap()).unwrap_err();
    assert!(err.is_serialization(), "{err:?}");
    let shown = err.to_string();
    assert!(shown.contains("could not encode the result"), "{shown}");
    assert!(shown.contains("Unencodable` returned an error"), "{shown}");
    assert_eq!(worker_pid(&pool), before);
}

#[test]
fn result_that_does_not_decode_in_the_parent_fails_its_future_only() {
    let _w = watchdog("result_that_does_not_decode_in_the_parent_fails_its_future_only");
    let pool = pool(1);
    let before = worker_pid(&pool);
    let err = result(pool.submit_fn(returns_undecodable, 5).unwrap()).unwrap_err();
    assert!(err.is_serialization(), "{err:?}");
    let shown = err.to_string();
    assert!(shown.contains("result could not be decoded"), "{shown}");
    assert!(shown.contains("Undecodable` returned an error"), "{shown}");
    assert_eq!(worker_pid(&pool), before);
}

#[test]
fn in_a_chunk_a_result_that_fails_to_encode_or_decode_fails_its_item_only() {
    let _w = watchdog("in_a_chunk_a_result_that_fails_to_encode_or_decode_fails_its_item_only");
    let pool = pool(1);
    let before = worker_pid(&pool);
    let opts = concurrent_futures::MapOptions::new().chunksize(10);
    let got: Vec<_> = pool.map_with(returns_picky, 0..30u32, opts).collect();
    assert_eq!(got.len(), 30);
    for (x, r) in (0..30u32).zip(got) {
        match x % 3 {
            0 => assert_eq!(r, Ok(Picky(x))),
            1 => {
                let e = r.unwrap_err();
                assert!(e.is_serialization(), "{x}: {e:?}");
                assert!(
                    e.to_string().contains("Picky` returned an error"),
                    "{x}: {e}"
                );
            }
            _ => {
                let e = r.unwrap_err();
                assert!(e.is_panic(), "{x}: {e:?}");
                assert!(e.to_string().contains("refuses to be decoded"), "{x}: {e}");
            }
        }
    }
    assert_eq!(worker_pid(&pool), before);
}

#[test]
fn argument_that_does_not_decode_in_the_worker_fails_its_future_only() {
    let _w = watchdog("argument_that_does_not_decode_in_the_worker_fails_its_future_only");
    let pool = pool(1);
    let before = worker_pid(&pool);
    let err = result(pool.submit_fn(takes_undecodable, Undecodable(5)).unwrap()).unwrap_err();
    assert!(err.is_serialization(), "{err:?}");
    let shown = err.to_string();
    assert!(shown.contains("could not decode the argument"), "{shown}");
    assert!(shown.contains("Undecodable` returned an error"), "{shown}");
    assert_eq!(worker_pid(&pool), before);
}

#[test]
fn unregistered_function_is_refused_with_how_to_register() {
    let _w = watchdog("unregistered_function_is_refused_with_how_to_register");
    fn not_registered(x: u64) -> u64 {
        x + 1
    }
    let pool = pool(1);
    let err = pool.submit_fn(not_registered, 41).unwrap_err();
    assert!(err.is_not_registered(), "{err:?}");
    let shown = err.to_string();
    assert!(shown.contains("not registered"), "{shown}");
    assert!(shown.contains("register!("), "{shown}");
    assert_eq!(err.into_inner(), 41);
    // A registered function with the same signature is still found.
    assert_eq!(result(pool.submit_fn(square, 41).unwrap()), Ok(1681));
    // Nothing started for the refused submit.
    assert_eq!(pool.queued(), 0);
}

#[test]
fn a_closure_coerced_to_fn_is_refused_too() {
    let _w = watchdog("a_closure_coerced_to_fn_is_refused_too");
    let pool = pool(1);
    let f: fn(u64) -> u64 = |x| x * 2;
    let err = pool.submit_fn(f, 1).unwrap_err();
    assert!(err.is_not_registered(), "{err:?}");
}

// ----- frames: parent → worker ---------------------------------------------------------------

fn call_frame(id: u64, name: &str, flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = wire::begin(wire::CALL, id, Some((name, flags)));
    f.extend_from_slice(payload);
    wire::finish(&mut f, wire::DEFAULT_FRAME_LIMIT).unwrap();
    f
}

fn raw<R: concurrent_futures::Payload>(
    pool: &ProcessPoolExecutor,
    build: impl FnOnce(u64) -> Vec<u8>,
) -> Result<R, TaskError> {
    result(pool.__submit_raw_frame::<R>(build).unwrap())
}

#[test]
fn raw_well_formed_frame_runs() {
    let _w = watchdog("raw_well_formed_frame_runs");
    let pool = pool(1);
    let arg = concurrent_futures::__private::codec::encode(&7u64).unwrap();
    let r: Result<u64, _> = raw(&pool, |id| call_frame(id, square_name(), 0, &arg));
    assert_eq!(r, Ok(49));
    let batch = concurrent_futures::__private::codec::encode(&vec![2u64, 3]).unwrap();
    // A batch reply holds each item's result encoded on its own.
    type Items = Vec<Result<Vec<u8>, concurrent_futures::__private::RemoteError>>;
    let r: Result<Items, _> = raw(&pool, |id| {
        call_frame(id, square_name(), wire::FLAG_BATCH, &batch)
    });
    let items: Vec<u64> = r
        .unwrap()
        .into_iter()
        .map(|b| concurrent_futures::__private::codec::decode(&b.unwrap()).unwrap())
        .collect();
    assert_eq!(items, [4, 9]);
}

#[test]
fn unknown_function_name_on_the_wire() {
    let _w = watchdog("unknown_function_name_on_the_wire");
    let pool = pool(1);
    let before = worker_pid(&pool);
    let err = raw::<u64>(&pool, |id| call_frame(id, "no::such::fn", 0, &[0; 8])).unwrap_err();
    assert!(err.is_serialization(), "{err:?}");
    assert!(err.to_string().contains("`no::such::fn`"), "{err}");
    assert_eq!(worker_pid(&pool), before);
}

#[test]
fn undecodable_argument_bytes() {
    let _w = watchdog("undecodable_argument_bytes");
    let pool = pool(1);
    let before = worker_pid(&pool);
    // A u64 needs 8 bytes.
    let err = raw::<u64>(&pool, |id| call_frame(id, square_name(), 0, &[1, 2, 3])).unwrap_err();
    assert!(err.is_serialization(), "{err:?}");
    assert!(
        err.to_string().contains("could not decode the argument"),
        "{err}"
    );
    // A batch whose length prefix promises far more items than there are bytes.
    let err = raw::<u64>(&pool, |id| {
        call_frame(id, square_name(), wire::FLAG_BATCH, &u64::MAX.to_le_bytes())
    })
    .unwrap_err();
    assert!(
        err.to_string().contains("could not decode the argument"),
        "{err}"
    );
    assert_eq!(worker_pid(&pool), before);
}

#[test]
fn malformed_frame_bodies_fail_their_task_only() {
    let _w = watchdog("malformed_frame_bodies_fail_their_task_only");
    let pool = pool(1);
    let before = worker_pid(&pool);
    type Build = Box<dyn Fn(u64) -> Vec<u8>>;
    let cases: Vec<(&str, Build)> = vec![
        (
            "unexpected frame kind 99",
            Box::new(|id| {
                let mut f = wire::begin(99, id, Some((square_name(), 0)));
                f.extend_from_slice(&7u64.to_le_bytes());
                wire::finish(&mut f, 1 << 20).unwrap();
                f
            }),
        ),
        (
            "unexpected frame kind 16",
            Box::new(|id| {
                let mut f = wire::begin(wire::OK, id, None);
                wire::finish(&mut f, 1 << 20).unwrap();
                f
            }),
        ),
        (
            "name runs past the end",
            Box::new(|id| {
                let mut f = wire::begin(wire::CALL, id, None);
                f.extend_from_slice(&500u16.to_le_bytes());
                f.extend_from_slice(b"short");
                wire::finish(&mut f, 1 << 20).unwrap();
                f
            }),
        ),
        (
            "missing name length",
            Box::new(|id| {
                let mut f = wire::begin(wire::CALL, id, None);
                wire::finish(&mut f, 1 << 20).unwrap();
                f
            }),
        ),
        (
            "not UTF-8",
            Box::new(|id| {
                let mut f = wire::begin(wire::CALL, id, None);
                f.extend_from_slice(&2u16.to_le_bytes());
                f.extend_from_slice(&[0xff, 0xfe, 0]);
                wire::finish(&mut f, 1 << 20).unwrap();
                f
            }),
        ),
    ];
    for (want, build) in cases {
        let err = raw::<u64>(&pool, build).unwrap_err();
        assert!(err.is_serialization(), "{want}: {err:?}");
        assert!(err.to_string().contains(want), "{want}: {err}");
        assert_eq!(worker_pid(&pool), before, "{want}");
    }
}

#[test]
fn unreadable_frames_cost_the_worker_and_the_pool_recovers() {
    let _w = watchdog("unreadable_frames_cost_the_worker_and_the_pool_recovers");
    let limit = 1 << 20;
    let pool = ProcessPoolExecutor::builder()
        .max_workers(1)
        .max_frame_bytes(limit)
        .build()
        .unwrap();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        // Length over the worker's frame limit.
        ("oversized", {
            let mut f = ((limit + 1) as u32).to_le_bytes().to_vec();
            f.extend_from_slice(&[wire::CALL, 0, 0, 0, 0, 0, 0, 0, 0]);
            f
        }),
        ("length u32::MAX", vec![0xff; 16]),
        // Length below the header size.
        ("too short", vec![3, 0, 0, 0, 1, 2, 3]),
        ("zero length", vec![0, 0, 0, 0]),
    ];
    for (what, bytes) in cases {
        let before = worker_pid(&pool);
        let queued = pool.submit_fn(square, 11).unwrap();
        let err = raw::<u64>(&pool, |_| bytes).unwrap_err();
        assert_died(&err, before, &["exited with status"]);
        eprintln!("{what}: {err}");
        assert!(!process_exists(before), "{what}");
        assert_eq!(result(queued), Ok(121), "{what}");
        assert_ne!(worker_pid(&pool), before, "{what}");
    }
}

/// A frame that ends early leaves the worker waiting for the rest: nothing on a stream says the
/// bytes will never come. Only a time limit (or `kill`) ends that task; the pool then recovers.
#[test]
fn truncated_frame_ends_by_task_timeout() {
    let _w = watchdog("truncated_frame_ends_by_task_timeout");
    let limit = Duration::from_millis(500);
    let pool = ProcessPoolExecutor::builder()
        .max_workers(1)
        .task_timeout(limit)
        .build()
        .unwrap();
    let before = worker_pid(&pool);
    let queued = pool.submit_fn(square, 12).unwrap();
    let err = raw::<u64>(&pool, |id| {
        let mut f = call_frame(id, square_name(), 0, &7u64.to_le_bytes());
        f.truncate(f.len() - 3);
        f
    })
    .unwrap_err();
    assert_eq!(err, TaskError::TaskTimedOut { limit });
    assert_eq!(result(queued), Ok(144));
    assert_ne!(worker_pid(&pool), before);
    // Nothing at all: the same.
    let err = raw::<u64>(&pool, |_| Vec::new()).unwrap_err();
    assert_eq!(err, TaskError::TaskTimedOut { limit });
    assert_eq!(result(pool.submit_fn(square, 2).unwrap()), Ok(4));
}

#[test]
fn truncated_frame_can_be_killed() {
    let _w = watchdog("truncated_frame_can_be_killed");
    let pool = pool(1);
    let before = worker_pid(&pool);
    let f = pool
        .__submit_raw_frame::<u64>(|id| call_frame(id, square_name(), 0, &[7])[..10].to_vec())
        .unwrap();
    assert!(eventually(LONG, || f.running()));
    assert!(pool.kill(&f));
    assert_died(&result(f).unwrap_err(), before, &["stopped on request"]);
    assert_eq!(result(pool.submit_fn(square, 2).unwrap()), Ok(4));
}

// ----- frames: worker → parent ---------------------------------------------------------------

/// What a worker sends back is checked as strictly as what it receives: a reply the parent
/// cannot read costs the worker (killed, its task failed with the reason), never the parent.
/// (Unix: the scribbling task finds its ring and doorbell through `/proc`.)
#[cfg(unix)]
#[test]
fn corrupt_replies_kill_the_worker_with_a_protocol_error() {
    let _w = watchdog("corrupt_replies_kill_the_worker_with_a_protocol_error");
    let pool = pool(1);
    let ok_frame = |kind: u8, id: u64| {
        let mut f = wire::begin(kind, id, None);
        f.extend_from_slice(&concurrent_futures::__private::codec::encode(&1u32).unwrap());
        wire::finish(&mut f, 1 << 20).unwrap();
        f
    };
    let cases: Vec<(&str, Vec<u8>, u64)> = vec![
        (
            "exceeds the frame limit",
            vec![0xff, 0xff, 0xff, 0xff, 16],
            0,
        ),
        ("shorter than a header", vec![2, 0, 0, 0, 16, 0], 0),
        ("unexpected frame kind 1", ok_frame(wire::CALL, 1), 0),
        ("reply for unexpected task", ok_frame(wire::OK, u64::MAX), 0),
        // The ring's own indices, scribbled on.
        ("the writer moved back", vec![], u64::MAX),
        ("the writer ran past the reader", vec![], (256 << 10) + 1),
    ];
    for (want, bytes, tail) in cases {
        let before = worker_pid(&pool);
        let queued = pool.submit_fn(square, 8).unwrap();
        let err = result(pool.submit_fn(write_to_channel, (bytes, tail)).unwrap()).unwrap_err();
        assert_died(&err, before, &["protocol error", want]);
        assert!(!process_exists(before));
        assert_eq!(result(queued), Ok(64));
    }
    assert!(pool.broken_cause().is_none());
}

// ----- initializer ---------------------------------------------------------------------------

#[test]
fn initializer_runs_once_in_every_worker() {
    let _w = watchdog("initializer_runs_once_in_every_worker");
    let pool = ProcessPoolExecutor::builder()
        .max_workers(2)
        .initializer(init_record, 77)
        .build()
        .unwrap();
    let futures: Vec<_> = (0..40)
        .map(|_| pool.submit_fn(init_state, ()).unwrap())
        .collect();
    for f in futures {
        let (pid, runs, value) = result(f).unwrap();
        assert_ne!(pid, std::process::id());
        assert_eq!((runs, value), (1, 77), "worker {pid}");
    }
    // The parent never runs it.
    assert_eq!(init_state(()).1, 0);
}

#[test]
fn initializer_runs_in_replacement_workers() {
    let _w = watchdog("initializer_runs_in_replacement_workers");
    let pool = ProcessPoolExecutor::builder()
        .max_workers(1)
        .max_tasks_per_child(2)
        .initializer(init_record, 5)
        .build()
        .unwrap();
    let mut pids = std::collections::HashSet::new();
    for _ in 0..6 {
        let (pid, runs, value) = result(pool.submit_fn(init_state, ()).unwrap()).unwrap();
        assert_eq!((runs, value), (1, 5));
        pids.insert(pid);
    }
    assert_eq!(pids.len(), 3);
    // After a crash, too.
    assert!(result(pool.submit_fn(die, Death::SigKill).unwrap())
        .unwrap_err()
        .is_worker_died());
    let (_, runs, value) = result(pool.submit_fn(init_state, ()).unwrap()).unwrap();
    assert_eq!((runs, value), (1, 5));
}

#[test]
fn failing_initializer_breaks_the_pool_with_its_cause() {
    let _w = watchdog("failing_initializer_breaks_the_pool_with_its_cause");
    // The initializer fails only once every task was accepted (before, the pool could break
    // between two submits: the test raced its own initializer).
    let gate = Gate::closed();
    let pool = ProcessPoolExecutor::builder()
        .max_workers(2)
        .initializer(init_panics_after, (gate.path(), "no database".to_string()))
        .build()
        .unwrap();
    let futures: Vec<_> = (0..5u64)
        .map(|i| pool.submit_fn(square, i).unwrap())
        .collect();
    gate.open();
    for f in futures {
        let err = result(f).unwrap_err();
        assert!(err.is_broken(), "{err:?}");
        assert!(err.to_string().contains("no database"), "{err}");
    }
    let cause = pool.broken_cause().expect("broken");
    assert!(cause.contains("initializer"), "{cause}");
    assert!(cause.contains("no database"), "{cause}");
    assert!(pool.is_shutdown());
    match pool.submit_fn(square, 9) {
        Err(SubmitError::Broken(arg, c)) => {
            assert_eq!(arg, 9);
            assert_eq!(c, cause);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn initializer_that_kills_its_worker_breaks_the_pool() {
    let _w = watchdog("initializer_that_kills_its_worker_breaks_the_pool");
    let pool = ProcessPoolExecutor::builder()
        .max_workers(1)
        .initializer(init_exits, 5)
        .build()
        .unwrap();
    let err = result(pool.submit_fn(square, 3).unwrap()).unwrap_err();
    assert!(err.is_broken(), "{err:?}");
    let cause = pool.broken_cause().expect("broken");
    assert!(cause.contains("initializer"), "{cause}");
    assert!(cause.contains("exited with status 5"), "{cause}");
    assert!(pool.submit_fn(square, 3).unwrap_err().is_broken());
}

#[test]
fn unregistered_initializer_is_a_build_error() {
    fn setup(_: u8) {}
    let err = ProcessPoolExecutor::builder()
        .initializer(setup, 1)
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("register!("), "{err}");
}

// ----- max_tasks_per_child -------------------------------------------------------------------

#[test]
fn max_tasks_per_child_replaces_workers() {
    let _w = watchdog("max_tasks_per_child_replaces_workers");
    let pool = ProcessPoolExecutor::builder()
        .max_workers(1)
        .max_tasks_per_child(3)
        .build()
        .unwrap();
    // One at a time: pids come in runs of exactly three.
    let pids: Vec<u32> = (0..9)
        .map(|_| result(pool.submit_fn(pid_of, ()).unwrap()).unwrap())
        .collect();
    for run in pids.chunks(3) {
        assert!(run.iter().all(|&p| p == run[0]), "{pids:?}");
    }
    assert_ne!(pids[0], pids[3]);
    assert_ne!(pids[3], pids[6]);
    assert_ne!(pids[0], pids[6]);
    // All queued at once: still three tasks per worker.
    let futures: Vec<_> = (0..9)
        .map(|_| pool.submit_fn(pid_of, ()).unwrap())
        .collect();
    let mut per_pid = std::collections::HashMap::<u32, usize>::new();
    for f in futures {
        *per_pid.entry(result(f).unwrap()).or_default() += 1;
    }
    assert_eq!(per_pid.len(), 3, "{per_pid:?}");
    assert!(per_pid.values().all(|&n| n == 3), "{per_pid:?}");
}

#[test]
fn max_tasks_per_child_counts_failed_tasks() {
    let _w = watchdog("max_tasks_per_child_counts_failed_tasks");
    let pool = ProcessPoolExecutor::builder()
        .max_workers(1)
        .max_tasks_per_child(2)
        .build()
        .unwrap();
    let first = worker_pid(&pool);
    let err = result(pool.submit_fn(panic_with, "x".into()).unwrap()).unwrap_err();
    assert!(err.is_panic());
    assert_ne!(worker_pid(&pool), first);
}

#[test]
fn zero_max_tasks_per_child_is_a_build_error() {
    assert!(ProcessPoolExecutor::builder()
        .max_tasks_per_child(0)
        .build()
        .is_err());
    assert!(ProcessPoolExecutor::builder()
        .max_workers(0)
        .build()
        .is_err());
}
