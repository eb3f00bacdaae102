//! What was injected into each future, what it must end as, and the tallies.
//!
//! Every submitted future gets a [`Meta`] (its injection and its pool's context) and a
//! [`Rec`] shared with its done-callbacks, which count how often they ran. When the future is
//! done its outcome is checked against [`Meta`]; its callback counts are checked a little
//! later ([`CbCheck`]), because a waiter can be woken before the callbacks have run.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use concurrent_futures::{Future, TaskError};

use super::jobs::{value_of, Bomb, MARKER, NESTED_FAILED, NESTED_HUNG, NESTED_REFUSED};

/// Which engine ran the task.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    Thread,
    Process,
}

/// What the task itself does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Returns `value_of(n)`.
    None,
    Panic,
    SigKill,
    Abort,
    Exit(i32),
    /// Sleeps past its own time limit.
    Timeout(Duration),
    /// Sleeps until the submitter kills it with `ProcessPoolExecutor::kill`.
    Kill,
    /// Submits to its own pool this deep and waits.
    Nested(u32),
    /// Forks a child that lingers (holding the worker's socket), then returns `value_of(n)`.
    ForkReturn,
    /// Forks a lingering child, then never returns: its time limit kills the worker.
    ForkHang(Duration),
    /// Forks a lingering child, then sleeps until the submitter kills it.
    ForkKill,
    /// Ignores `SIGTERM` and never returns; its pool is terminated (with a short grace).
    IgnoreTerm,
    /// The result's `Deserialize` panics in the parent.
    DecodePanic,
    /// The result's `Drop` panics in the parent (the value is defused when the runner takes
    /// it; the engine drops it when the future was dropped first).
    DropPanic,
}

impl Fault {
    /// Forks a child that lingers.
    pub fn forks(self) -> bool {
        matches!(
            self,
            Fault::ForkReturn | Fault::ForkHang(_) | Fault::ForkKill
        )
    }
    /// Sleeps until the submitter kills it.
    pub fn to_kill(self) -> bool {
        matches!(self, Fault::Kill | Fault::ForkKill)
    }
    /// Returns a [`Bomb`].
    pub fn bomb(self) -> bool {
        matches!(self, Fault::DecodePanic | Fault::DropPanic)
    }
}

/// An extra done-callback.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CbFault {
    None,
    /// Panics.
    Panic,
    /// Submits a task to the shared thread pool.
    Submit,
    /// Submits a small task to the future's own process pool and waits for it (30 s at most).
    WaitPool,
}

/// What the pool around a future may do to it besides its own fault.
#[derive(Clone, Copy, Debug, Default)]
pub struct Ctx {
    /// Shut down with `cancel_futures`: a future may end cancelled.
    pub cancel_futures: bool,
    /// `terminate_workers`/`kill_workers`: cancelled, or its worker terminated.
    pub terminate: bool,
    /// The pool's initializer fails: the future may end broken.
    pub broken: bool,
    /// A nested task's inner submit may be refused.
    pub may_refuse: bool,
}

/// Shared with the future's callbacks.
pub struct Rec {
    pub id: u64,
    /// Runs of the counting callback.
    pub cb: AtomicU32,
    /// Runs of the extra callback.
    pub cb_extra: AtomicU32,
    pub extra: CbFault,
}

/// Everything known about one submitted future.
pub struct Meta {
    pub rec: Arc<Rec>,
    pub engine: Engine,
    pub fault: Fault,
    pub n: u64,
    /// `Some(what cancel() returned)` if the submitter raced a cancel.
    pub cancel: Option<bool>,
    /// `ProcessPoolExecutor::kill` returned true for it.
    pub killed: bool,
    pub ctx: Ctx,
}

/// A future with its record.
pub type Tracked<T = u64> = (Future<T>, Meta);

/// What a tracked future holds: its value as checked, and a seed for callbacks.
pub trait Value: Send + 'static {
    /// A number derived from a borrowed value (for a callback's own task).
    fn seed(&self) -> u64;
    /// The value to check, taken out (a [`Bomb`] is defused).
    fn take(self) -> u64;
}

impl Value for u64 {
    fn seed(&self) -> u64 {
        *self
    }
    fn take(self) -> u64 {
        self
    }
}

impl Value for Bomb {
    fn seed(&self) -> u64 {
        self.value
    }
    fn take(self) -> u64 {
        self.defuse()
    }
}

macro_rules! counters {
    ($($name:ident),* $(,)?) => {
        /// Tallies for the summary line.
        #[derive(Default)]
        pub struct Stats { $(pub $name: AtomicU64,)* }
        impl Stats {
            pub const fn new() -> Stats { Stats { $($name: AtomicU64::new(0),)* } }
        }
    };
}

counters!(
    tasks,
    progress,
    f_panic,
    f_sigkill,
    f_abort,
    f_exit,
    f_timeout,
    f_cancel,
    f_cb_panic,
    f_cb_submit,
    f_nested,
    f_shutdown,
    f_kill,
    f_broken,
    f_fork,
    f_ignore_term,
    f_decode_panic,
    f_drop_panic,
    f_cb_wait,
    f_ring_map,
    f_scribble,
    f_subscriber,
    o_ok,
    o_panicked,
    o_cancelled,
    o_worker_died,
    o_timed_out,
    o_broken,
    o_refused,
    o_cb_waited,
    o_escalated,
    o_lingering,
    lost,
    hung,
);

pub static STATS: Stats = Stats::new();
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// Futures submitted by callbacks, waiting for a submitter (or the end) to check them.
pub static ADOPTED: Mutex<Vec<Tracked>> = Mutex::new(Vec::new());

pub fn bump(c: &AtomicU64) {
    c.fetch_add(1, Relaxed);
}

pub fn get(c: &AtomicU64) -> u64 {
    c.load(Relaxed)
}

/// A new record.
pub fn new_rec(extra: CbFault) -> Arc<Rec> {
    Arc::new(Rec {
        id: NEXT_ID.fetch_add(1, Relaxed),
        cb: AtomicU32::new(0),
        cb_extra: AtomicU32::new(0),
        extra,
    })
}

/// How many diagnostic lines have been printed (the first few problems are shown in full).
static DIAGNOSTICS: AtomicU64 = AtomicU64::new(0);

/// Prints one problem to stderr (the first 40 only).
pub fn diag(msg: impl FnOnce() -> String) {
    if DIAGNOSTICS.fetch_add(1, Relaxed) < 40 {
        eprintln!("chaos: {}", msg());
    }
}

/// A future whose outcome did not match its injection.
pub fn lost(msg: impl FnOnce() -> String) {
    bump(&STATS.lost);
    diag(|| format!("LOST {}", msg()));
}

/// A wait that ran out of time.
pub fn hung(msg: impl FnOnce() -> String) {
    bump(&STATS.hung);
    diag(|| format!("HUNG {}", msg()));
}

impl Meta {
    pub fn describe(&self) -> String {
        format!(
            "future #{} {:?} {:?} n={} cancel={:?} killed={} ctx={:?}",
            self.rec.id, self.engine, self.fault, self.n, self.cancel, self.killed, self.ctx
        )
    }
}

enum Class {
    Ok,
    Panicked,
    Cancelled,
    Died,
    TimedOut,
    Broken,
    Refused,
    Hung,
}

/// Checks a done future's outcome against its record and tallies it. Returns the callback
/// check to run later (none if the future hung).
pub fn verify(meta: Meta, outcome: Result<u64, TaskError>) -> Option<CbCheck> {
    bump(&STATS.progress);
    let class = match classify(&meta, &outcome) {
        Some(c) => c,
        None => {
            lost(|| format!("{}: ended as {outcome:?}", meta.describe()));
            return Some(CbCheck::new(meta.rec));
        }
    };
    bump(match class {
        Class::Ok => &STATS.o_ok,
        Class::Panicked => &STATS.o_panicked,
        Class::Cancelled => &STATS.o_cancelled,
        Class::Died => &STATS.o_worker_died,
        Class::TimedOut => &STATS.o_timed_out,
        Class::Broken => &STATS.o_broken,
        Class::Refused => &STATS.o_refused,
        Class::Hung => {
            hung(|| format!("{}: an inner wait ran out of time", meta.describe()));
            return None;
        }
    });
    Some(CbCheck::new(meta.rec))
}

fn classify(meta: &Meta, outcome: &Result<u64, TaskError>) -> Option<Class> {
    let cancelled = matches!(outcome, Err(TaskError::Cancelled));
    // cancel() said it cancelled: nothing else may happen.
    if meta.cancel == Some(true) {
        return cancelled.then_some(Class::Cancelled);
    }
    match outcome {
        Err(TaskError::Cancelled) => {
            return (meta.ctx.cancel_futures || meta.ctx.terminate).then_some(Class::Cancelled)
        }
        Err(TaskError::BrokenExecutor { .. }) if meta.ctx.broken => return Some(Class::Broken),
        // Sent to a worker that had not taken it from its ring when the pool was terminated.
        Err(TaskError::BrokenExecutor { cause })
            if meta.ctx.terminate && cause.contains("terminated before the task started") =>
        {
            return Some(Class::Broken)
        }
        Err(TaskError::WorkerDied { how, .. })
            if meta.ctx.terminate && how.contains("terminated with the pool") =>
        {
            return Some(Class::Died)
        }
        _ => {}
    }
    let expected = value_of(meta.n);
    let died = |needle: &str| match outcome {
        Err(TaskError::WorkerDied { how, .. }) if how.contains(needle) => Some(Class::Died),
        _ => None,
    };
    match meta.fault {
        Fault::None | Fault::ForkReturn | Fault::DropPanic => {
            (outcome == &Ok(expected)).then_some(Class::Ok)
        }
        Fault::DecodePanic => match outcome {
            Err(TaskError::Panicked { message, .. })
                if message.contains("decoding the result panicked") && message.contains(MARKER) =>
            {
                Some(Class::Panicked)
            }
            _ => None,
        },
        // Only a terminate ends it (accepted above).
        Fault::IgnoreTerm => None,
        Fault::Nested(_) => match outcome {
            Ok(v) if *v == expected => Some(Class::Ok),
            Ok(NESTED_REFUSED) if meta.ctx.may_refuse => Some(Class::Refused),
            Ok(NESTED_HUNG) => Some(Class::Hung),
            Ok(NESTED_FAILED) | Ok(_) | Err(_) => None,
        },
        Fault::Panic => match outcome {
            Err(TaskError::Panicked { message, .. }) if message.contains(MARKER) => {
                Some(Class::Panicked)
            }
            _ => None,
        },
        Fault::SigKill => died(DIED_KILLED),
        Fault::Abort => died(DIED_ABORT),
        Fault::Exit(code) => died(&format!("exited with status {code}")),
        Fault::Timeout(limit) | Fault::ForkHang(limit) => match outcome {
            Err(TaskError::TaskTimedOut { limit: l }) if *l == limit => Some(Class::TimedOut),
            _ => None,
        },
        Fault::Kill | Fault::ForkKill => match outcome {
            // kill() can race the task's own end.
            Ok(v) if *v == expected => Some(Class::Ok),
            _ if meta.killed => died("stopped on request"),
            _ => None,
        },
    }
}

/// How a worker that killed itself (`SIGKILL`; Windows: `TerminateProcess` with status 1), or
/// aborted, reads in its error.
#[cfg(unix)]
const DIED_KILLED: &str = "signal 9 (SIGKILL";
#[cfg(unix)]
const DIED_ABORT: &str = "signal 6 (SIGABRT";
#[cfg(windows)]
const DIED_KILLED: &str = "exited with status 1";
#[cfg(windows)]
const DIED_ABORT: &str = "0xC0000409";

/// A pending check that a future's callbacks ran exactly once each.
pub struct CbCheck {
    rec: Arc<Rec>,
    since: Instant,
}

/// How long a done future's callbacks may take to run.
pub const CALLBACK_GRACE: Duration = Duration::from_secs(30);

impl CbCheck {
    pub fn new(rec: Arc<Rec>) -> CbCheck {
        CbCheck {
            rec,
            since: Instant::now(),
        }
    }

    /// `true` when settled (correct, or reported as lost).
    pub fn settle(&self, final_pass: bool) -> bool {
        let cb = self.rec.cb.load(Relaxed);
        let extra = self.rec.cb_extra.load(Relaxed);
        let want_extra = u32::from(self.rec.extra != CbFault::None);
        if cb > 1 || extra > want_extra {
            lost(|| {
                format!(
                    "future #{}: callbacks ran {cb} and {extra} times",
                    self.rec.id
                )
            });
            return true;
        }
        if cb == 1 && extra == want_extra {
            return true;
        }
        if final_pass || self.since.elapsed() > CALLBACK_GRACE {
            lost(|| {
                format!(
                    "future #{}: callbacks ran {cb} and {extra} times (expected 1 and {want_extra})",
                    self.rec.id
                )
            });
            return true;
        }
        false
    }
}

/// Settles what can be settled now.
pub fn settle_checks(checks: &mut Vec<CbCheck>) {
    checks.retain(|c| !c.settle(false));
}
