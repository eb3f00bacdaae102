//! The work the chaos runner submits: one registered function for worker processes (a value,
//! a panic, a self-inflicted crash, a long sleep), and the thread tasks (a value, a panic, a
//! task that submits to its own pool and waits).

use std::sync::{Arc, Once};
use std::time::Duration;

use concurrent_futures::{register, TaskError, ThreadPoolExecutor};
use serde::{Deserialize, Serialize};

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
}

/// The process task.
pub fn pjob(job: PJob) -> u64 {
    quiet_panics();
    match job {
        PJob::Compute { n, sleep_us } => work(n, sleep_us),
        PJob::Panic(n) => panic!("{MARKER} panic {n}"),
        PJob::SigKill => loop {
            // SAFETY: a plain syscall; the worker kills itself.
            unsafe { libc::kill(libc::getpid(), libc::SIGKILL) };
            std::thread::sleep(Duration::from_millis(1));
        },
        PJob::Abort => std::process::abort(),
        PJob::Exit(code) => std::process::exit(code),
        PJob::Sleep { n, ms } => {
            std::thread::sleep(Duration::from_millis(ms.into()));
            value_of(n)
        }
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

register!(pjob, failing_init, quiet_init);

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
