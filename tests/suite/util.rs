//! Test helpers shared by the executor suite and the engine-specific tests: a watchdog that
//! fails a hung test, a file gate that holds a worker busy across threads *and* processes, a
//! scratch directory, a tiny `block_on`, and per-thread CPU time.
//!
//! Nothing here sleeps to synchronise: the gate is opened explicitly by the test, and the only
//! polling loops ([`eventually`], the gate's wait) observe a condition under a generous deadline.

#![allow(dead_code)] // each test crate uses a different subset

use std::future::Future as StdFuture;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

/// The bound on every blocking call that is expected to return "soon": generous, so that a loaded
/// 2-core machine never trips it, short enough that a bug fails the test instead of hanging CI.
pub const LONG: Duration = Duration::from_secs(30);

/// How long a test may run before the [`Watchdog`] aborts the test binary.
pub const TEST_LIMIT: Duration = Duration::from_secs(120);

/// How long [`hold_until_open`] waits for its gate before it gives up (by panicking): shorter
/// than [`TEST_LIMIT`], so a test that fails with a gate still closed (its executor's `Drop`
/// then waits for the held task) fails by itself instead of tripping the watchdog.
pub const HOLD_LIMIT: Duration = Duration::from_secs(60);

/// Aborts the whole test binary (with a message naming the test) if it is still alive after
/// `limit`. Covers the blocking calls that have no timeout of their own (`Future::result`,
/// `shutdown(wait = true)`, dropping an executor, plain `as_completed`).
pub struct Watchdog {
    done: Option<mpsc::Sender<()>>,
}

impl Watchdog {
    pub fn new(test: &str, limit: Duration) -> Self {
        let test = test.to_owned();
        let (tx, rx) = mpsc::channel::<()>();
        thread::Builder::new()
            .name(format!("watchdog {test}"))
            .spawn(move || {
                if let Err(mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(limit) {
                    // Written straight to fd 2: the test harness captures `eprintln!`.
                    let _ = writeln!(
                        std::io::stderr(),
                        "\n*** test `{test}` still running after {limit:?}: a blocking call \
                         never returned; aborting the test binary ***"
                    );
                    std::process::abort();
                }
            })
            .expect("spawn watchdog");
        Watchdog { done: Some(tx) }
    }

    /// A watchdog for the calling test (the test harness names each test's thread after it),
    /// with the default [`TEST_LIMIT`].
    pub fn for_this_test() -> Self {
        let name = thread::current()
            .name()
            .unwrap_or("unnamed test")
            .to_owned();
        Watchdog::new(&name, TEST_LIMIT)
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        // Dropping the sender disconnects the channel: the watchdog thread exits.
        self.done.take();
    }
}

fn unique_path(kind: &str) -> PathBuf {
    static SEQ: AtomicUsize = AtomicUsize::new(0);
    let n = SEQ.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir().join(format!(
        "concurrent-futures-test-{}-{kind}-{n}",
        std::process::id()
    ))
}

/// A gate made of a file: closed while the file exists. A task given the path
/// ([`hold_until_open`]) blocks until the test opens the gate. A file works for worker threads
/// and worker processes alike, which a channel captured by a closure does not.
///
/// Dropping the gate opens it, so a failing test does not leave a worker blocked: declare the
/// gate *after* the executor, so that it drops (opens) first.
pub struct Gate {
    path: PathBuf,
}

impl Gate {
    pub fn closed() -> Self {
        let path = unique_path("gate");
        std::fs::write(&path, b"closed").expect("create gate file");
        Gate { path }
    }

    /// The path to hand to a task.
    pub fn path(&self) -> String {
        self.path.to_str().expect("utf-8 temp path").to_owned()
    }

    pub fn open(&self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

impl Drop for Gate {
    fn drop(&mut self) {
        self.open();
    }
}

/// Blocks the calling task until the gate at `path` is opened. Panics (failing the task, not
/// hanging it) if the gate stays closed longer than any test may run.
pub fn hold_until_open(path: &str) {
    let deadline = Instant::now() + HOLD_LIMIT;
    while Path::new(path).exists() {
        assert!(
            Instant::now() < deadline,
            "gate {path} was never opened (a test forgot to open it)"
        );
        thread::sleep(Duration::from_millis(2)); // the polling step of the gate, not a wait for an outcome
    }
}

/// A scratch directory, removed on drop. Tasks leave marker files in it to show that they ran.
pub struct Scratch {
    dir: PathBuf,
}

impl Scratch {
    pub fn new() -> Self {
        let dir = unique_path("scratch");
        std::fs::create_dir_all(&dir).expect("create scratch dir");
        Scratch { dir }
    }

    /// The path of a file named `name` in the directory (as a `String`, to travel to a task).
    pub fn file(&self, name: &str) -> String {
        self.dir
            .join(name)
            .to_str()
            .expect("utf-8 temp path")
            .to_owned()
    }

    /// The names of the files in the directory, sorted.
    pub fn names(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(&self.dir)
            .expect("read scratch dir")
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Polls `cond` (an observation, such as "the task is now running") until it holds or `within`
/// passes; returns whether it held. The short sleeps only pace the polling.
pub fn eventually(within: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(1));
    }
}

/// A waker that unparks the thread that blocks in [`block_on`], and records that it was used.
struct ThreadWaker {
    thread: Thread,
    woken: AtomicBool,
}

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::SeqCst);
        self.thread.unpark();
    }
}

/// Runs `fut` to completion on this thread, parking between polls. Fails (instead of hanging) if
/// the future stays pending for `timeout` without waking its waker: a lost wake-up is a failure,
/// not something a re-poll at the deadline papers over.
pub fn block_on<F: StdFuture>(fut: F, timeout: Duration) -> F::Output {
    let state = Arc::new(ThreadWaker {
        thread: thread::current(),
        woken: AtomicBool::new(false),
    });
    let waker = Waker::from(state.clone());
    let mut cx = Context::from_waker(&waker);
    let mut fut = pin!(fut);
    loop {
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
        let deadline = Instant::now() + timeout;
        while !state.woken.swap(false, Ordering::SeqCst) {
            let now = Instant::now();
            assert!(
                now < deadline,
                "block_on: the future stayed pending for {timeout:?} and never woke its waker"
            );
            thread::park_timeout(deadline - now);
        }
    }
}

/// Polls `fut` exactly once with a no-op waker.
pub fn poll_once<F: StdFuture + Unpin>(fut: &mut F) -> Poll<F::Output> {
    struct Noop;
    impl Wake for Noop {
        fn wake(self: Arc<Self>) {}
    }
    let waker = Waker::from(Arc::new(Noop));
    let mut cx = Context::from_waker(&waker);
    std::pin::Pin::new(fut).poll(&mut cx)
}

/// CPU time (user + system) consumed so far by the thread with kernel id `tid` of this
/// process, from `/proc/self/task/<tid>/stat`, in clock ticks converted at `USER_HZ = 100`.
#[cfg(target_os = "linux")]
pub fn thread_cpu_time(tid: &str) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")).unwrap_or_default();
    cpu_from_stat(&stat)
}

/// CPU time consumed so far by the calling thread.
#[cfg(target_os = "linux")]
pub fn current_thread_cpu_time() -> Duration {
    let stat =
        std::fs::read_to_string("/proc/thread-self/stat").expect("read /proc/thread-self/stat");
    cpu_from_stat(&stat)
}

#[cfg(target_os = "linux")]
fn cpu_from_stat(stat: &str) -> Duration {
    // The command name (field 2) may contain spaces; the fields after it are space-separated.
    // After the closing parenthesis: state (3), ..., utime (14), stime (15).
    let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
        return Duration::ZERO;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|s| s.parse::<u64>().ok())
            .unwrap_or(0)
    };
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

/// The kernel ids of this process's threads whose name starts with `prefix`.
#[cfg(target_os = "linux")]
pub fn threads_named(prefix: &str) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc/self/task").expect("read /proc/self/task") {
        let tid = e.unwrap().file_name().to_string_lossy().into_owned();
        if let Ok(comm) = std::fs::read_to_string(format!("/proc/self/task/{tid}/comm")) {
            if comm.trim_end().starts_with(prefix) {
                out.push(tid);
            }
        }
    }
    out
}

/// Where this worker process's shared-memory rings are mapped (Linux: read from
/// `/proc/self/maps`; the memfd's name on the Linux path, the `shm_open` name on the portable
/// one). For tasks that scribble on their own worker's rings.
pub fn ring_mapping() -> usize {
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    let line = maps
        .lines()
        .find(|l| l.contains("concurrent-futures-ring") || l.contains("/cf-ring-"))
        .expect("the worker's ring mapping");
    usize::from_str_radix(line.split('-').next().unwrap(), 16).unwrap()
}

/// Whether this Windows program runs under Wine (CI runs the Windows build there): ntdll
/// exports `wine_get_version`. Tests that Wine itself cannot pass say so and return early.
#[cfg(windows)]
pub fn under_wine() -> bool {
    #[link(name = "kernel32")]
    extern "system" {
        fn GetModuleHandleA(name: *const u8) -> *mut std::ffi::c_void;
        fn GetProcAddress(module: *mut std::ffi::c_void, name: *const u8) -> *mut std::ffi::c_void;
    }
    // SAFETY: NUL-terminated names; ntdll is loaded in every process.
    unsafe {
        let ntdll = GetModuleHandleA(c"ntdll.dll".as_ptr().cast());
        !ntdll.is_null() && !GetProcAddress(ntdll, c"wine_get_version".as_ptr().cast()).is_null()
    }
}

/// Ends this process at once, as the OOM killer or Task Manager's End task would: `SIGKILL`
/// on Unix, `TerminateProcess` with status 1 on Windows. [`KILLED`] is how its end reads.
pub fn kill_self() {
    #[cfg(unix)]
    // SAFETY: plain syscalls on this process.
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
}

/// How the end [`kill_self`] gives a worker reads in its error.
#[cfg(unix)]
pub const KILLED: &str = "SIGKILL";
#[cfg(windows)]
pub const KILLED: &str = "exited with status 1";
