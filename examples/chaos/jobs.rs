//! The work the chaos runner submits: registered functions for worker processes (a value, a
//! panic, a self-inflicted crash, a long sleep, a task that ignores `SIGTERM`, a task that forks
//! a child which lingers, a result whose decoding or dropping panics in the parent), and the
//! thread tasks (a value, a panic, a task that submits to its own pool and waits).

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Once};
use std::time::{Duration, Instant};

use concurrent_futures::{register, TaskError, ThreadPoolExecutor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Every panic the runner causes carries this, so the hook can keep it quiet.
pub const MARKER: &str = "chaos: expected";

/// A nested task's inner submit was refused or its inner future cancelled (the pool was shut
/// down around it).
pub const NESTED_REFUSED: u64 = u64::MAX;
/// A nested task's inner wait ran out of time.
pub const NESTED_HUNG: u64 = u64::MAX - 1;
/// A nested task's inner future failed in a way nothing explains.
pub const NESTED_FAILED: u64 = u64::MAX - 2;

/// How long any single wait inside a task may last.
pub const INNER_WAIT: Duration = Duration::from_secs(30);

/// The value a task computes from its input: cheap, and wrong if anything is mixed up.
pub fn value_of(n: u64) -> u64 {
    (n.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(17) ^ 0x00C0_FFEE) % (u64::MAX - 16)
}

/// A process task.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub enum PJob {
    /// `value_of(n)`, after sleeping `sleep_us`.
    Compute { n: u64, sleep_us: u32 },
    /// Panics.
    Panic(u64),
    /// The worker sends itself `SIGKILL`.
    SigKill,
    /// The worker aborts (`SIGABRT`).
    Abort,
    /// The worker exits with this status.
    Exit(i32),
    /// `value_of(n)` after a long sleep: to be killed or timed out.
    Sleep { n: u64, ms: u32 },
    /// Ignores `SIGTERM`, then never returns: to be terminated with its pool.
    IgnoreTerm,
}

/// The process task.
pub fn pjob(job: PJob) -> u64 {
    quiet_panics();
    match job {
        PJob::Compute { n, sleep_us } => work(n, sleep_us),
        PJob::Panic(n) => panic!("{MARKER} panic {n}"),
        PJob::SigKill => loop {
            kill_self();
            std::thread::sleep(Duration::from_millis(1));
        },
        PJob::Abort => std::process::abort(),
        PJob::Exit(code) => std::process::exit(code),
        PJob::Sleep { n, ms } => {
            std::thread::sleep(Duration::from_millis(ms.into()));
            value_of(n)
        }
        PJob::IgnoreTerm => {
            // SAFETY: a plain syscall; from now on only SIGKILL ends this worker. (Windows: a
            // stop request is the pool's, and cannot be ignored: it ends the worker.)
            #[cfg(unix)]
            unsafe {
                libc::signal(libc::SIGTERM, libc::SIG_IGN)
            };
            loop {
                std::thread::park();
            }
        }
    }
}

/// Ends this worker at once: `SIGKILL`, or `TerminateProcess` with status 1 on Windows.
fn kill_self() {
    #[cfg(unix)]
    // SAFETY: a plain syscall; the worker kills itself.
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

/// How long a forked grandchild lingers unless the runner kills it first.
pub const LINGER_SECS: u32 = 120;

/// What a forking task does once its child is running.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ForkThen {
    /// Returns `value_of(n)`.
    Return,
    /// Never returns: its time limit kills the worker.
    Hang,
    /// `value_of(n)` after sleeping this long: to be killed.
    Sleep(u32),
}

/// A task that forks a child which lingers (it holds the worker's socket, its stdin), then
/// does `then`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ForkJob {
    pub n: u64,
    pub then: ForkThen,
    /// Where the grandchild records its pid (a file named by the pid).
    pub dir: String,
    /// Its name (`comm`) is `lingering_name(tag)`, so that the runner kills only its own.
    pub tag: u32,
}

/// The name a lingering grandchild gives itself (at most 15 bytes, as `comm` is).
#[cfg(unix)]
pub fn lingering_name(tag: u32) -> String {
    let mut name = format!("cgc-{tag}");
    name.truncate(15);
    name
}

/// The forking task.
pub fn fork_job(job: ForkJob) -> u64 {
    quiet_panics();
    fork_lingering(&job.dir, job.tag);
    match job.then {
        ForkThen::Return => value_of(job.n),
        ForkThen::Hang => loop {
            std::thread::park();
        },
        ForkThen::Sleep(ms) => {
            std::thread::sleep(Duration::from_millis(ms.into()));
            value_of(job.n)
        }
    }
}

/// On Windows a process cannot name itself: a lingering grandchild is this program's file.
#[cfg(windows)]
pub fn lingering_name(_tag: u32) -> String {
    std::env::current_exe()
        .ok()
        .and_then(|p| Some(p.file_name()?.to_string_lossy().into_owned()))
        .unwrap_or_default()
}

/// The variable that makes this program a lingering grandchild (Windows: no `fork`).
#[cfg(windows)]
const LINGER_ENV: &str = "CHAOS_LINGER_RECORD_DIR";

/// Windows has no `fork`: a task starts this program again, as a lingering grandchild that
/// records its pid in `dir`, sleeps [`LINGER_SECS`] and exits (`linger_if_asked`). Returns
/// once the record exists (or after 5 s).
#[cfg(windows)]
fn fork_lingering(dir: &str, _tag: u32) {
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    let child = std::process::Command::new(exe)
        .env(LINGER_ENV, dir)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
    let Ok(child) = child else {
        return;
    };
    let record = std::path::Path::new(dir).join(child.id().to_string());
    let t0 = Instant::now();
    while !record.exists() && t0.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(1));
    }
    if !record.exists() {
        let _ = std::fs::write(&record, b"");
    }
}

/// In a lingering grandchild (`fork_lingering`): records this pid, lingers, and exits.
#[cfg(windows)]
pub fn linger_if_asked() {
    let Some(dir) = std::env::var_os(LINGER_ENV) else {
        return;
    };
    let _ = std::fs::write(
        std::path::Path::new(&dir).join(std::process::id().to_string()),
        b"",
    );
    std::thread::sleep(Duration::from_secs(LINGER_SECS.into()));
    std::process::exit(0);
}

/// Forks a child that names itself, records its pid in `dir`, points its stdout and stderr at
/// `/dev/null` (so that it does not hold the runner's output open), keeps every other
/// descriptor (the worker's socket among them), sleeps [`LINGER_SECS`] and exits. Returns once
/// the record exists (or after 5 s).
#[cfg(unix)]
fn fork_lingering(dir: &str, tag: u32) {
    // Everything the child needs is prepared before the fork: after it, in a copy of a
    // multi-threaded process, only async-signal-safe calls, no allocation.
    let mut name = [0u8; 16];
    let n = lingering_name(tag);
    name[..n.len()].copy_from_slice(n.as_bytes());
    let mut path = [0u8; 512];
    let prefix = dir.as_bytes();
    if prefix.len() + 1 + 20 + 1 > path.len() {
        return; // no room for the record: no child
    }
    path[..prefix.len()].copy_from_slice(prefix);
    path[prefix.len()] = b'/';
    let digits_at = prefix.len() + 1;
    let devnull = c"/dev/null";
    // SAFETY: the child runs only async-signal-safe syscalls on memory prepared above, then
    // `_exit`s.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        unsafe {
            #[cfg(target_os = "linux")]
            libc::prctl(
                libc::PR_SET_NAME,
                name.as_ptr() as libc::c_ulong,
                0 as libc::c_ulong,
                0 as libc::c_ulong,
                0 as libc::c_ulong,
            );
            let null = libc::open(devnull.as_ptr(), libc::O_WRONLY);
            if null >= 0 {
                libc::dup2(null, 1);
                libc::dup2(null, 2);
                if null > 2 {
                    libc::close(null);
                }
            }
            let mut me = libc::getpid() as u64;
            let mut digits = [0u8; 20];
            let mut len = 0;
            loop {
                digits[len] = b'0' + (me % 10) as u8;
                len += 1;
                me /= 10;
                if me == 0 {
                    break;
                }
            }
            for i in 0..len {
                path[digits_at + i] = digits[len - 1 - i];
            }
            path[digits_at + len] = 0;
            let fd = libc::open(
                path.as_ptr().cast(),
                libc::O_CREAT | libc::O_WRONLY | libc::O_CLOEXEC,
                0o600,
            );
            if fd >= 0 {
                libc::close(fd);
            }
            let mut left = LINGER_SECS;
            while left > 0 {
                left = libc::sleep(left);
            }
            libc::_exit(0);
        }
    }
    if pid < 0 {
        return;
    }
    // The child writes its own record (so that it exists even if this worker is killed right
    // now); wait for it, and write it here if the child is slow.
    let record = std::path::Path::new(dir).join(pid.to_string());
    let t0 = Instant::now();
    while !record.exists() && t0.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(1));
    }
    if !record.exists() {
        let _ = std::fs::write(&record, b"");
    }
}

/// Bomb values made armed (their `Drop` panics), dropped armed (the `Drop` panicked), and
/// defused by the runner after taking them. At the end, made = dropped + defused: every value
/// the engine decoded was dropped exactly once.
pub static ARMED_MADE: AtomicU64 = AtomicU64::new(0);
pub static ARMED_DROPPED: AtomicU64 = AtomicU64::new(0);
pub static ARMED_DEFUSED: AtomicU64 = AtomicU64::new(0);

/// A result whose decoding (`Deserialize`) panics in the parent, or whose `Drop` does, as its
/// data says. The worker's own copy never panics: only a decoded one can be armed.
#[derive(Debug)]
pub struct Bomb {
    pub value: u64,
    on_decode: bool,
    on_drop: bool,
    armed: bool,
}

impl Bomb {
    /// Takes the value, so that dropping the rest does not panic.
    pub fn defuse(mut self) -> u64 {
        if self.armed {
            self.armed = false;
            ARMED_DEFUSED.fetch_add(1, Relaxed);
        }
        self.value
    }
}

impl Serialize for Bomb {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        (self.value, self.on_decode, self.on_drop).serialize(s)
    }
}

impl<'de> Deserialize<'de> for Bomb {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let (value, on_decode, on_drop) = <(u64, bool, bool)>::deserialize(d)?;
        if on_decode {
            panic!("{MARKER} decode panic {value}");
        }
        if on_drop {
            ARMED_MADE.fetch_add(1, Relaxed);
        }
        Ok(Bomb {
            value,
            on_decode,
            on_drop,
            armed: on_drop,
        })
    }
}

impl Drop for Bomb {
    fn drop(&mut self) {
        if self.armed {
            self.armed = false;
            ARMED_DROPPED.fetch_add(1, Relaxed);
            if !std::thread::panicking() {
                panic!("{MARKER} drop panic {}", self.value);
            }
        }
    }
}

/// What a bomb task returns.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub struct BombJob {
    pub n: u64,
    pub on_decode: bool,
    pub on_drop: bool,
}

/// The bomb task: `value_of(n)` in a [`Bomb`].
pub fn bomb_job(job: BombJob) -> Bomb {
    quiet_panics();
    Bomb {
        value: value_of(job.n),
        on_decode: job.on_decode,
        on_drop: job.on_drop,
        armed: false,
    }
}

/// An initializer that fails: its pool breaks.
pub fn failing_init(_: ()) {
    quiet_panics();
    panic!("{MARKER} initializer failure");
}

/// An initializer that succeeds.
pub fn quiet_init(_: ()) {
    quiet_panics();
}

register!(pjob, fork_job, bomb_job, failing_init, quiet_init);

/// A normal task's body.
pub fn work(n: u64, sleep_us: u32) -> u64 {
    if sleep_us > 0 {
        std::thread::sleep(Duration::from_micros(sleep_us.into()));
    }
    value_of(n)
}

/// A thread task that submits `depth` levels of tasks to its own pool, each waiting on the next.
pub fn nested(pool: Arc<ThreadPoolExecutor>, n: u64, depth: u32) -> u64 {
    if depth == 0 {
        return value_of(n);
    }
    let inner = pool.clone();
    let Ok(mut f) = pool.submit(move || nested(inner, n, depth - 1)) else {
        return NESTED_REFUSED;
    };
    match f.result_timeout(INNER_WAIT) {
        Ok(v) => v,
        Err(TaskError::Cancelled | TaskError::BrokenExecutor { .. }) => NESTED_REFUSED,
        Err(TaskError::Timeout { .. }) => NESTED_HUNG,
        Err(_) => NESTED_FAILED,
    }
}

/// Installs (once per process) a panic hook that keeps the runner's own panics quiet and
/// passes every other panic to the previous hook.
pub fn quiet_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let payload = info.payload();
            let message = payload
                .downcast_ref::<&str>()
                .copied()
                .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
                .unwrap_or("");
            if !message.contains(MARKER) {
                previous(info);
            }
        }));
    });
}
