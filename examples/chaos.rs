//! A seeded chaos runner: several submitter threads drive a `ThreadPoolExecutor` and a
//! `ProcessPoolExecutor` at once with a random mix of normal tasks and faults:
//!
//! - panics (both engines), nested submit-and-wait on the thread pool;
//! - worker processes that kill themselves (`SIGKILL`, abort, `exit(n)`), per-task time limits
//!   (`submit_fn_with_timeout`), and `ProcessPoolExecutor::kill` on running tasks;
//! - tasks that fork a child which lingers (`fork()`; the grandchild sleeps 120 s holding the
//!   worker's socket), then return, or hang until their time limit kills the worker, or are
//!   killed: the future must end as injected, never wait for the grandchild;
//! - tasks that ignore `SIGTERM` in short-lived pools built with `terminate_grace(200 ms)` and
//!   then `terminate_workers()`ed: terminate must return, with every future done;
//! - results whose `Deserialize` panics in the parent (the future fails as a panic, "decoding
//!   the result panicked"), and results whose `Drop` panics in the parent, some with the future
//!   dropped before completion (the engine drops the value): nothing else is affected, a later
//!   task on the pool completes, and every decoded value is dropped exactly once;
//! - cancel races; done-callbacks that panic, submit more work, or submit to their own process
//!   pool and wait for it (1-worker pools too: callbacks run on the pool's callback thread,
//!   never on a reader thread, which is checked);
//! - short-lived pools shut down (or dropped, or terminated) while tasks are in flight;
//! - `map`s of items larger than a worker's ring, pipelined while workers crash or are killed,
//!   and tasks that scribble on their worker's shared-memory rings (`chaos/rings.rs`);
//! - with the `tracing` feature, a global subscriber that panics now and then in every span
//!   callback (`chaos/subscriber.rs`).
//!
//! Every future's outcome is checked against what was injected into it, every done-callback
//! must run exactly once, every wait has a time limit (a watchdog aborts the run if nothing
//! progresses for 60 s), and at the end, with every executor dropped, no thread, child process
//! or file descriptor may be left over. The process-wide `concurrent-futures-spawner` thread
//! (`__private::SPAWNER_THREAD`), started by the first process pool, lives as long as the
//! program by design and is not counted; every pool's `ProcessPoolExecutor-callbacks` and
//! `-timers` threads must be gone. Lingering grandchildren are not the pool's responsibility:
//! each records its pid in a per-run temporary directory, and the runner `SIGKILL`s them (they
//! were reparented to init or a subreaper, so they are not its children) before the leak check.
//! It prints one summary line and exits non-zero if anything was lost, hung or leaked; problems
//! are described on stderr.
//!
//! Run: `cargo run --release --example chaos -- --seed 42 --duration 60`
//! (or `--tasks N` to stop after N submitted tasks; `--submitters N`, default 4).
//! A soak: `--duration 1800`. The choices each submitter makes follow from the seed; how they
//! interleave is up to the scheduler.

#[cfg(any(unix, windows))]
#[path = "chaos/jobs.rs"]
mod jobs;
#[cfg(any(unix, windows))]
#[path = "chaos/ledger.rs"]
mod ledger;
#[cfg(unix)]
#[path = "chaos/procfs.rs"]
mod procfs;
#[cfg(windows)]
#[path = "chaos/winproc.rs"]
mod procfs;
#[cfg(any(unix, windows))]
#[path = "chaos/rings.rs"]
mod rings;
#[cfg(any(unix, windows))]
#[path = "chaos/subscriber.rs"]
mod subscriber;

#[cfg(any(unix, windows))]
use std::collections::{BTreeMap, BTreeSet};
#[cfg(any(unix, windows))]
use std::panic::{catch_unwind, AssertUnwindSafe};
#[cfg(any(unix, windows))]
use std::path::{Path, PathBuf};
#[cfg(any(unix, windows))]
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
#[cfg(any(unix, windows))]
use std::sync::{Arc, Mutex, OnceLock, Weak};
#[cfg(any(unix, windows))]
use std::time::{Duration, Instant};

#[cfg(any(unix, windows))]
use concurrent_futures::__private::SPAWNER_THREAD;
#[cfg(any(unix, windows))]
use concurrent_futures::process::DEFAULT_TERMINATE_GRACE;
#[cfg(any(unix, windows))]
use concurrent_futures::{
    as_completed_timeout, wait, Future, ProcessPoolExecutor, ReturnWhen, TaskError,
    ThreadPoolExecutor,
};
#[cfg(any(unix, windows))]
use rand::rngs::StdRng;
#[cfg(any(unix, windows))]
use rand::{Rng, SeedableRng};

#[cfg(any(unix, windows))]
use jobs::{
    bomb_job, fork_job, lingering_name, nested, pjob, quiet_panics, value_of, work, Bomb, BombJob,
    ForkJob, ForkThen, PJob, INNER_WAIT, MARKER,
};
#[cfg(any(unix, windows))]
use ledger::{
    bump, diag, get, hung, lost, new_rec, settle_checks, verify, CbCheck, CbFault, Ctx, Engine,
    Fault, Meta, Tracked, Value, ADOPTED, STATS,
};

/// The longest any wait for a batch of futures may last.
#[cfg(any(unix, windows))]
const WAIT: Duration = Duration::from_secs(30);
/// No progress for this long aborts the run.
#[cfg(any(unix, windows))]
const WATCHDOG: Duration = Duration::from_secs(60);
/// How long the leak checks wait for threads and processes to wind down.
#[cfg(any(unix, windows))]
const GRACE: Duration = Duration::from_secs(15);
/// The grace between `SIGTERM` and `SIGKILL` of the pools that are terminated.
#[cfg(any(unix, windows))]
const TERMINATE_GRACE: Duration = Duration::from_millis(200);
/// `terminate_workers` on such a pool taking longer than this (twice the default grace) counts
/// as hung: it should take about [`TERMINATE_GRACE`].
#[cfg(any(unix, windows))]
const TERMINATE_LIMIT: Duration = Duration::from_secs(2 * DEFAULT_TERMINATE_GRACE.as_secs());
/// Forking faults each submitter may inject (each leaves a process for up to 120 s).
#[cfg(any(unix, windows))]
const FORKS_PER_SUBMITTER: u32 = 60;

/// Where lingering grandchildren record their pids, and the tag in their names.
#[cfg(any(unix, windows))]
static LINGER: OnceLock<(PathBuf, u32)> = OnceLock::new();

#[cfg(any(unix, windows))]
struct Args {
    seed: u64,
    duration: Option<Duration>,
    tasks: Option<u64>,
    submitters: usize,
}

#[cfg(any(unix, windows))]
fn parse_args() -> Args {
    let mut args = Args {
        seed: 42,
        duration: None,
        tasks: None,
        submitters: 4,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_default();
        let number = || -> u64 {
            value.parse().unwrap_or_else(|_| {
                eprintln!("chaos: {flag} needs a number, got {value:?}");
                std::process::exit(2)
            })
        };
        match flag.as_str() {
            "--seed" => args.seed = number(),
            "--duration" => args.duration = Some(Duration::from_secs(number())),
            "--tasks" => args.tasks = Some(number()),
            "--submitters" => args.submitters = number().max(1) as usize,
            _ => {
                eprintln!(
                    "usage: chaos [--seed N] [--duration SECONDS] [--tasks N] [--submitters N]"
                );
                std::process::exit(2)
            }
        }
    }
    if args.duration.is_none() && args.tasks.is_none() {
        args.duration = Some(Duration::from_secs(60));
    }
    args
}

/// What each thread is doing, for the watchdog's report.
#[cfg(any(unix, windows))]
static ACTIVITY: Mutex<BTreeMap<String, String>> = Mutex::new(BTreeMap::new());

#[cfg(any(unix, windows))]
fn activity(who: &str, what: impl Into<String>) {
    if let Ok(mut a) = ACTIVITY.lock() {
        a.insert(who.to_owned(), what.into());
    }
}

/// The shared pools and the stop condition.
#[cfg(any(unix, windows))]
struct World {
    tp: Arc<ThreadPoolExecutor>,
    pp: Arc<ProcessPoolExecutor>,
    tp_weak: Weak<ThreadPoolExecutor>,
    deadline: Option<Instant>,
    max_tasks: Option<u64>,
}

#[cfg(any(unix, windows))]
impl World {
    fn stop(&self) -> bool {
        self.deadline.is_some_and(|d| Instant::now() >= d)
            || self.max_tasks.is_some_and(|m| get(&STATS.tasks) >= m)
    }
}

/// One task to submit.
#[cfg(any(unix, windows))]
#[derive(Clone, Copy, Debug)]
struct Spec {
    engine: Engine,
    fault: Fault,
    n: u64,
    sleep_us: u32,
    /// Cancel right after submitting.
    cancel: bool,
    extra: CbFault,
    /// A per-task time limit (process engine).
    limit: Option<Duration>,
    /// Drop the future without waiting (only its callbacks are checked).
    forget: bool,
}

/// `forks`: how many forking faults this submitter may still inject.
#[cfg(any(unix, windows))]
fn pick_spec(rng: &mut StdRng, engine: Engine, fresh: bool, forks: &mut u32) -> Spec {
    let n = rng.gen_range(0..u64::MAX / 2);
    let roll = rng.gen_range(0..100);
    let fault = match engine {
        Engine::Thread => match roll {
            0..=9 => Fault::Panic,
            10..=17 => Fault::Nested(rng.gen_range(1..=3)),
            _ => Fault::None,
        },
        Engine::Process => match roll {
            0..=5 => Fault::Panic,
            6..=8 => Fault::SigKill,
            9..=11 => Fault::Abort,
            12..=14 => Fault::Exit(rng.gen_range(1..=9)),
            15..=17 => Fault::Timeout(Duration::from_millis(rng.gen_range(20..=80))),
            18..=19 if !fresh => Fault::Kill,
            // Rare: each leaves a process for up to 120 s.
            20 if *forks > 0 && rng.gen_bool(0.4) => match rng.gen_range(0..3) {
                0 => Fault::ForkReturn,
                1 => Fault::ForkHang(Duration::from_millis(rng.gen_range(30..=120))),
                _ if !fresh => Fault::ForkKill,
                _ => Fault::ForkReturn,
            },
            23..=24 if !fresh => Fault::DecodePanic,
            25..=26 if !fresh => Fault::DropPanic,
            _ => Fault::None,
        },
    };
    if fault.forks() {
        *forks -= 1;
    }
    let sleep_us = match (fresh, rng.gen_range(0..10)) {
        (true, 0..=4) => rng.gen_range(0..3000),
        (false, 0..=1) => rng.gen_range(0..2000),
        _ => 0,
    };
    let cancel = rng.gen_bool(0.08);
    let extra = match rng.gen_range(0..100) {
        0..=3 => CbFault::Panic,
        4..=8 => CbFault::Submit,
        9..=10 if engine == Engine::Process => CbFault::WaitPool,
        _ => CbFault::None,
    };
    let generous = rng.gen_bool(0.1);
    let limit = match fault {
        Fault::Timeout(l) | Fault::ForkHang(l) => Some(l),
        Fault::None if engine == Engine::Process && generous => Some(Duration::from_secs(30)),
        _ => None,
    };
    let forget = !fresh
        && match fault {
            Fault::None => rng.gen_bool(0.03),
            // The engine then drops the value, and its `Drop` panics on a pool thread.
            Fault::DropPanic => rng.gen_bool(0.5),
            _ => false,
        };
    Spec {
        engine,
        fault,
        n,
        sleep_us,
        cancel,
        extra,
        limit,
        forget,
    }
}

#[cfg(any(unix, windows))]
fn submit_thread(pool: &Arc<ThreadPoolExecutor>, spec: &Spec) -> Option<Future<u64>> {
    let (n, us) = (spec.n, spec.sleep_us);
    match spec.fault {
        Fault::Panic => pool
            .submit(move || -> u64 { panic!("{MARKER} panic {n}") })
            .ok(),
        Fault::Nested(depth) => {
            let inner = pool.clone();
            pool.submit(move || nested(inner, n, depth)).ok()
        }
        _ => pool.submit(move || work(n, us)).ok(),
    }
}

#[cfg(any(unix, windows))]
fn submit_process(pool: &ProcessPoolExecutor, spec: &Spec) -> Option<Future<u64>> {
    let n = spec.n;
    if spec.fault.forks() {
        let then = match spec.fault {
            Fault::ForkHang(_) => ForkThen::Hang,
            Fault::ForkKill => ForkThen::Sleep(5000),
            _ => ForkThen::Return,
        };
        let (dir, tag) = LINGER.get().expect("set in main");
        let job = ForkJob {
            n,
            then,
            dir: dir.to_string_lossy().into_owned(),
            tag: *tag,
        };
        return match spec.limit {
            Some(limit) => pool.submit_fn_with_timeout(fork_job, job, limit).ok(),
            None => pool.submit_fn(fork_job, job).ok(),
        };
    }
    let job = match spec.fault {
        Fault::Panic => PJob::Panic(n),
        Fault::SigKill => PJob::SigKill,
        Fault::Abort => PJob::Abort,
        Fault::Exit(code) => PJob::Exit(code),
        Fault::Timeout(_) => PJob::Sleep { n, ms: 3000 },
        Fault::Kill => PJob::Sleep { n, ms: 5000 },
        Fault::IgnoreTerm => PJob::IgnoreTerm,
        Fault::None
        | Fault::Nested(_)
        | Fault::ForkReturn
        | Fault::ForkHang(_)
        | Fault::ForkKill
        | Fault::DecodePanic
        | Fault::DropPanic => PJob::Compute {
            n,
            sleep_us: spec.sleep_us,
        },
    };
    match spec.limit {
        Some(limit) => pool.submit_fn_with_timeout(pjob, job, limit).ok(),
        None => pool.submit_fn(pjob, job).ok(),
    }
}

/// Submits a task whose result is a [`Bomb`] (`DecodePanic`, `DropPanic`).
#[cfg(any(unix, windows))]
fn submit_bomb(pool: &ProcessPoolExecutor, spec: &Spec) -> Option<Future<Bomb>> {
    let job = BombJob {
        n: spec.n,
        on_decode: spec.fault == Fault::DecodePanic,
        on_drop: spec.fault == Fault::DropPanic,
    };
    pool.submit_fn(bomb_job, job).ok()
}

/// Where a task goes.
#[cfg(any(unix, windows))]
#[derive(Clone, Copy)]
enum Target<'a> {
    Thread(&'a Arc<ThreadPoolExecutor>),
    Process(&'a Arc<ProcessPoolExecutor>),
}

/// Submits `spec`, attaches its callbacks, races its cancel. `None` if the pool refused it.
#[cfg(any(unix, windows))]
fn launch(
    spec: &Spec,
    target: Target<'_>,
    ctx: Ctx,
    tp_weak: &Weak<ThreadPoolExecutor>,
) -> Option<Tracked> {
    match target {
        Target::Thread(p) => track(submit_thread(p, spec), spec, ctx, tp_weak, None),
        Target::Process(p) => track(submit_process(p, spec), spec, ctx, tp_weak, Some(p)),
    }
}

/// Attaches a submitted future's callbacks and races its cancel. `None` if the pool refused it.
/// `pool`: the future's process pool (for a callback that waits on it).
#[cfg(any(unix, windows))]
fn track<T: Value>(
    fut: Option<Future<T>>,
    spec: &Spec,
    ctx: Ctx,
    tp_weak: &Weak<ThreadPoolExecutor>,
    pool: Option<&Arc<ProcessPoolExecutor>>,
) -> Option<Tracked<T>> {
    let Some(fut) = fut else {
        bump(&STATS.o_refused);
        return None;
    };
    bump(&STATS.tasks);
    match spec.fault {
        Fault::Panic => bump(&STATS.f_panic),
        Fault::SigKill => bump(&STATS.f_sigkill),
        Fault::Abort => bump(&STATS.f_abort),
        Fault::Exit(_) => bump(&STATS.f_exit),
        Fault::Timeout(_) => bump(&STATS.f_timeout),
        Fault::Kill => bump(&STATS.f_kill),
        Fault::Nested(_) => bump(&STATS.f_nested),
        Fault::ForkReturn | Fault::ForkHang(_) | Fault::ForkKill => bump(&STATS.f_fork),
        Fault::IgnoreTerm => bump(&STATS.f_ignore_term),
        Fault::DecodePanic => bump(&STATS.f_decode_panic),
        Fault::DropPanic => bump(&STATS.f_drop_panic),
        Fault::None => {}
    }
    if spec.fault == Fault::ForkKill {
        bump(&STATS.f_kill);
    }
    let rec = new_rec(spec.extra);
    let r = rec.clone();
    fut.add_done_callback(move |_| {
        // A process pool's callbacks run on its callback thread (or the thread that registered
        // or cancelled), never on a reader thread, which must go on delivering results.
        let here = std::thread::current();
        if let Some(name) = here
            .name()
            .filter(|n| n.starts_with("ProcessPoolExecutor-reader"))
        {
            lost(|| format!("future #{}: a done-callback ran on {name}", r.id));
        }
        r.cb.fetch_add(1, SeqCst);
    });
    match spec.extra {
        CbFault::None => {}
        CbFault::Panic => {
            bump(&STATS.f_cb_panic);
            let r = rec.clone();
            fut.add_done_callback(move |_| {
                r.cb_extra.fetch_add(1, SeqCst);
                panic!("{MARKER} callback panic");
            });
        }
        CbFault::Submit => {
            bump(&STATS.f_cb_submit);
            let r = rec.clone();
            let weak = tp_weak.clone();
            fut.add_done_callback(move |f| {
                let seed = f.with_result(|res| res.map_or(0, Value::seed));
                adopt_child(&weak, seed ^ r.id);
                r.cb_extra.fetch_add(1, SeqCst);
            });
        }
        CbFault::WaitPool => {
            bump(&STATS.f_cb_wait);
            let r = rec.clone();
            let pool = pool.map(Arc::downgrade);
            fut.add_done_callback(move |_| {
                match &pool {
                    Some(p) => wait_on_own_pool(p, r.id, ctx),
                    None => lost(|| format!("future #{}: WaitPool without a process pool", r.id)),
                }
                r.cb_extra.fetch_add(1, SeqCst);
            });
        }
    }
    let cancel = spec.cancel.then(|| {
        bump(&STATS.f_cancel);
        fut.cancel()
    });
    Some((
        fut,
        Meta {
            rec,
            engine: spec.engine,
            fault: spec.fault,
            n: spec.n,
            cancel,
            killed: false,
            ctx,
        },
    ))
}

/// A done-callback submits a small task to its own process pool and waits for it (at most
/// [`INNER_WAIT`]). It must complete: callbacks run on the pool's callback thread, so results
/// keep arriving meanwhile (with one worker, too); or at once on the thread that added them to a
/// done future or cancelled it. Only a short-lived pool (`ctx.may_refuse`) may be gone, shut
/// down, broken or terminated meanwhile.
#[cfg(any(unix, windows))]
fn wait_on_own_pool(pool: &Weak<ProcessPoolExecutor>, id: u64, ctx: Ctx) {
    let n = value_of(id) % (u64::MAX / 2);
    let Some(p) = pool.upgrade() else {
        if ctx.may_refuse {
            bump(&STATS.o_refused);
        } else {
            lost(|| format!("future #{id}: its pool was gone in its callback"));
        }
        return;
    };
    let submitted = p.submit_fn(pjob, PJob::Compute { n, sleep_us: 0 });
    // If this was the last handle, the pool shuts down here, on its own callback thread (its
    // Drop waits for the task just submitted).
    drop(p);
    let thread = std::thread::current().name().unwrap_or("?").to_owned();
    let mut f = match submitted {
        Ok(f) => f,
        Err(e) => {
            if ctx.may_refuse {
                bump(&STATS.o_refused);
            } else {
                lost(|| format!("future #{id}: its callback's submit was refused: {e}"));
            }
            return;
        }
    };
    match f.result_timeout(INNER_WAIT) {
        Ok(v) if v == value_of(n) => bump(&STATS.o_cb_waited),
        Err(TaskError::Timeout { .. }) => hung(|| {
            let state = f.state();
            let pool = pool.upgrade().map(|p| format!("{p:?}"));
            format!(
                "future #{id}: its callback's task not done after {INNER_WAIT:?} ({state:?}; \
                 callback on {thread}, ctx {ctx:?}, pool {pool:?})"
            )
        }),
        Err(TaskError::Cancelled) if ctx.cancel_futures || ctx.terminate => {
            bump(&STATS.o_cancelled)
        }
        Err(TaskError::WorkerDied { how, .. })
            if ctx.terminate && how.contains("terminated with the pool") =>
        {
            bump(&STATS.o_worker_died)
        }
        Err(TaskError::BrokenExecutor { .. }) if ctx.broken || ctx.terminate => {
            bump(&STATS.o_broken)
        }
        other => {
            lost(|| format!("future #{id}: its callback's task ended as {other:?} (ctx {ctx:?})"))
        }
    }
}

/// A done-callback submits a task to the shared thread pool; it is checked later.
#[cfg(any(unix, windows))]
fn adopt_child(pool: &Weak<ThreadPoolExecutor>, n: u64) {
    let n = n % (u64::MAX / 2);
    let Some(pool) = pool.upgrade() else {
        bump(&STATS.o_refused);
        return;
    };
    let Ok(child) = pool.submit(move || work(n, 0)) else {
        bump(&STATS.o_refused);
        return;
    };
    bump(&STATS.tasks);
    let rec = new_rec(CbFault::None);
    let r = rec.clone();
    child.add_done_callback(move |_| {
        r.cb.fetch_add(1, SeqCst);
    });
    let meta = Meta {
        rec,
        engine: Engine::Thread,
        fault: Fault::None,
        n,
        cancel: None,
        killed: false,
        ctx: Ctx::default(),
    };
    if let Ok(mut a) = ADOPTED.lock() {
        a.push((child, meta));
    }
}

/// Kills each `Kill`/`ForkKill` task once it runs (`kill` is false until it is its worker's
/// running task).
#[cfg(any(unix, windows))]
fn kill_when_running(pool: &ProcessPoolExecutor, items: &mut [Tracked]) {
    for (fut, meta) in items.iter_mut().filter(|(_, m)| m.fault.to_kill()) {
        let deadline = Instant::now() + WAIT;
        while !fut.done() && Instant::now() < deadline {
            if pool.kill(fut) {
                meta.killed = true;
                break;
            }
            std::thread::sleep(Duration::from_micros(200));
        }
    }
}

/// Drops a future that may hold a value whose `Drop` panics (it completed after it was last
/// looked at): the panic is the injected one, and this thread goes on.
#[cfg(any(unix, windows))]
fn discard<T>(fut: Future<T>) {
    let _ = catch_unwind(AssertUnwindSafe(move || drop(fut)));
}

/// Waits for every future (within [`WAIT`]) one after the other, takes its value and checks it.
#[cfg(any(unix, windows))]
fn settle_values<T: Value>(items: Vec<Tracked<T>>, checks: &mut Vec<CbCheck>) {
    let deadline = Instant::now() + WAIT;
    for (mut fut, meta) in items {
        match fut.result_timeout(deadline.saturating_duration_since(Instant::now())) {
            Err(TaskError::Timeout { .. }) => hung(|| {
                format!(
                    "{}: not done after {WAIT:?} ({:?})",
                    meta.describe(),
                    fut.state()
                )
            }),
            outcome => checks.extend(verify(meta, outcome.map(Value::take))),
        }
        discard(fut);
    }
}

/// Waits for every future (within [`WAIT`]) in one of three ways and checks it.
#[cfg(any(unix, windows))]
fn settle(items: Vec<Tracked>, how: u8, checks: &mut Vec<CbCheck>) {
    match how {
        0 => settle_values(items, checks),
        1 => {
            for r in as_completed_timeout(items, WAIT) {
                match r {
                    Ok((mut fut, meta)) => {
                        let outcome = fut.try_result();
                        checks.extend(verify(meta, outcome));
                    }
                    Err(e) => {
                        for _ in 1..e.unfinished {
                            bump(&STATS.hung);
                        }
                        hung(|| format!("as_completed_timeout: {e}"));
                    }
                }
            }
        }
        _ => {
            let sets = wait(items, Some(WAIT), ReturnWhen::AllCompleted);
            for (mut fut, meta) in sets.done {
                let outcome = fut.try_result();
                checks.extend(verify(meta, outcome));
            }
            for (fut, meta) in sets.not_done {
                hung(|| format!("{}: wait() left it {:?}", meta.describe(), fut.state()));
            }
        }
    }
}

/// A batch on the shared pools.
#[cfg(any(unix, windows))]
fn shared_batch(
    world: &World,
    rng: &mut StdRng,
    checks: &mut Vec<CbCheck>,
    who: &str,
    batch: u64,
    forks: &mut u32,
) {
    let size = rng.gen_range(8..=48);
    let specs: Vec<Spec> = (0..size)
        .map(|_| {
            let engine = if rng.gen_bool(0.55) {
                Engine::Thread
            } else {
                Engine::Process
            };
            pick_spec(rng, engine, false, forks)
        })
        .collect();
    let how = rng.gen_range(0..3u8);
    activity(who, format!("batch {batch}: submitting {size}"));
    let mut items = Vec::with_capacity(size);
    let mut bombs: Vec<Tracked<Bomb>> = Vec::new();
    for spec in &specs {
        if spec.fault.bomb() {
            let fut = submit_bomb(&world.pp, spec);
            match track(fut, spec, Ctx::default(), &world.tp_weak, Some(&world.pp)) {
                None => lost(|| format!("the shared pool refused {spec:?}")),
                Some((fut, meta)) if spec.forget => {
                    // Most likely before it completes: the engine then drops the value, and its
                    // `Drop` panics there. If it completed already, it panics here.
                    discard(fut);
                    checks.push(CbCheck::new(meta.rec));
                    // A later task on the same pool still completes.
                    let next = Spec {
                        fault: Fault::None,
                        cancel: false,
                        extra: CbFault::None,
                        limit: None,
                        forget: false,
                        ..*spec
                    };
                    match launch(
                        &next,
                        Target::Process(&world.pp),
                        Ctx::default(),
                        &world.tp_weak,
                    ) {
                        None => lost(|| format!("the shared pool refused {next:?}")),
                        Some(t) => items.push(t),
                    }
                }
                Some(t) => bombs.push(t),
            }
            continue;
        }
        let target = match spec.engine {
            Engine::Thread => Target::Thread(&world.tp),
            Engine::Process => Target::Process(&world.pp),
        };
        match launch(spec, target, Ctx::default(), &world.tp_weak) {
            None => lost(|| format!("the shared pool refused {spec:?}")),
            Some((fut, meta)) if spec.forget => {
                drop(fut);
                checks.push(CbCheck::new(meta.rec));
            }
            Some(t) => items.push(t),
        }
    }
    activity(who, format!("batch {batch}: killing"));
    kill_when_running(&world.pp, &mut items);
    activity(who, format!("batch {batch}: waiting (mode {how})"));
    settle(items, how, checks);
    if !bombs.is_empty() {
        activity(
            who,
            format!("batch {batch}: waiting for {} bombs", bombs.len()),
        );
        settle_values(bombs, checks);
    }
    let adopted = std::mem::take(&mut *ADOPTED.lock().unwrap_or_else(|p| p.into_inner()));
    if !adopted.is_empty() {
        activity(
            who,
            format!("batch {batch}: waiting for {} adopted", adopted.len()),
        );
        settle(adopted, 0, checks);
    }
}

/// How a short-lived pool ends.
#[cfg(any(unix, windows))]
#[derive(Clone, Copy, Debug)]
enum Mode {
    /// `shutdown(wait, cancel_futures)` from another thread while a submitter is still going.
    Shutdown { wait: bool, cancel: bool },
    /// Dropped with tasks in flight (nested tasks may still hold it, then the last one drops it).
    Drop,
    /// The last handle is dropped by a done-callback (on a worker or reader thread).
    DropInCallback,
    /// `terminate_workers` / `kill_workers` (process pools).
    Terminate { kill: bool },
}

/// A short-lived pool of either engine.
#[cfg(any(unix, windows))]
#[derive(Clone)]
enum Fresh {
    Thread(Arc<ThreadPoolExecutor>),
    Process(Arc<ProcessPoolExecutor>),
}

#[cfg(any(unix, windows))]
impl Fresh {
    fn target(&self) -> Target<'_> {
        match self {
            Fresh::Thread(p) => Target::Thread(p),
            Fresh::Process(p) => Target::Process(p),
        }
    }
    fn shutdown(&self, wait: bool, cancel: bool) {
        match self {
            Fresh::Thread(p) => p.shutdown(wait, cancel),
            Fresh::Process(p) => p.shutdown(wait, cancel),
        }
    }
}

/// A round on a short-lived pool that is shut down, dropped or terminated mid-flight.
#[cfg(any(unix, windows))]
fn fresh_round(
    world: &World,
    rng: &mut StdRng,
    checks: &mut Vec<CbCheck>,
    engine: Engine,
    who: &str,
    batch: u64,
    forks: &mut u32,
) {
    let broken = rng.gen_bool(0.06);
    let workers = rng.gen_range(1..=if engine == Engine::Thread { 4 } else { 2 });
    let mode = match rng.gen_range(0..if engine == Engine::Thread { 6 } else { 8 }) {
        0..=3 => Mode::Shutdown {
            wait: rng.gen_bool(0.5),
            cancel: rng.gen_bool(0.5),
        },
        4 => Mode::Drop,
        5 => Mode::DropInCallback,
        k => Mode::Terminate { kill: k == 7 },
    };
    let pool = match engine {
        Engine::Thread => {
            let mut b = ThreadPoolExecutor::builder()
                .max_workers(workers)
                .thread_name_prefix("chaos-round");
            if rng.gen_bool(0.3) {
                b = b.idle_timeout(Duration::from_millis(rng.gen_range(1..=20)));
            }
            if broken {
                b = b.initializer(|| panic!("{MARKER} initializer failure"));
            }
            Fresh::Thread(Arc::new(b.build().expect("a valid configuration")))
        }
        Engine::Process => {
            let mut b = ProcessPoolExecutor::builder().max_workers(workers);
            if rng.gen_bool(0.5) {
                b = b.idle_timeout(Duration::from_millis(rng.gen_range(10..=100)));
            }
            if rng.gen_bool(0.3) {
                b = b.max_tasks_per_child(rng.gen_range(1..=4));
            }
            if rng.gen_bool(0.15) {
                b = b.task_timeout(Duration::from_secs(20));
            }
            if broken {
                b = b.initializer(jobs::failing_init, ());
            } else if rng.gen_bool(0.2) {
                b = b.initializer(jobs::quiet_init, ());
            }
            if matches!(mode, Mode::Terminate { .. }) {
                b = b.terminate_grace(TERMINATE_GRACE);
            }
            Fresh::Process(Arc::new(b.build().expect("a valid configuration")))
        }
    };
    bump(&STATS.f_shutdown);
    if broken {
        bump(&STATS.f_broken);
    }
    let k = rng.gen_range(4..=24);
    let mut specs: Vec<Spec> = (0..k)
        .map(|_| pick_spec(rng, engine, true, forks))
        .collect();
    // A pool about to be terminated may get a task that ignores SIGTERM.
    if engine == Engine::Process && matches!(mode, Mode::Terminate { .. }) && rng.gen_bool(0.6) {
        let i = rng.gen_range(0..k);
        specs[i] = Spec {
            fault: Fault::IgnoreTerm,
            cancel: false,
            limit: None,
            ..specs[i]
        };
        // A callback that waits on the pool may run on this thread (a cancel race, or a task
        // done before its callbacks were added): its task, queued behind the one that never
        // ends, would wait for the terminate this thread has yet to call.
        for spec in &mut specs[i..] {
            if spec.extra == CbFault::WaitPool {
                spec.extra = CbFault::None;
            }
        }
    }
    let at = rng.gen_range(0..=k);
    let pick = rng.gen_range(0..k);
    let wait_first = rng.gen_bool(0.5);
    let how = rng.gen_range(0..3u8);
    let ctx = Ctx {
        cancel_futures: matches!(mode, Mode::Shutdown { cancel: true, .. }),
        terminate: matches!(mode, Mode::Terminate { .. }),
        broken,
        may_refuse: true,
    };
    activity(
        who,
        format!("round {batch}: {engine:?} pool, {mode:?}, {k} tasks"),
    );
    let mut items: Vec<Tracked> = Vec::with_capacity(k);
    match mode {
        Mode::Shutdown { wait, cancel } => {
            let submitted = AtomicUsize::new(0);
            items = std::thread::scope(|s| {
                let submitter = s.spawn(|| {
                    let mut out = Vec::new();
                    for spec in &specs {
                        out.extend(launch(spec, pool.target(), ctx, &world.tp_weak));
                        submitted.fetch_add(1, SeqCst);
                    }
                    out
                });
                let t0 = Instant::now();
                while submitted.load(SeqCst) < at && !submitter.is_finished() {
                    if t0.elapsed() > WAIT {
                        hung(|| format!("round {batch}: the submitter made no progress"));
                        break;
                    }
                    std::thread::yield_now();
                }
                pool.shutdown(wait, cancel);
                submitter.join().unwrap_or_default()
            });
            // Refused from now on.
            let probe = Spec {
                fault: Fault::None,
                cancel: false,
                extra: CbFault::None,
                forget: false,
                ..specs[0]
            };
            let accepted = match pool.target() {
                Target::Thread(p) => submit_thread(p, &probe),
                Target::Process(p) => submit_process(p, &probe),
            };
            if let Some(f) = accepted {
                lost(|| format!("round {batch}: a submit after shutdown was accepted"));
                let _ = f.wait_timeout(WAIT);
            }
        }
        Mode::Drop | Mode::DropInCallback | Mode::Terminate { .. } => {
            for spec in &specs {
                items.extend(launch(spec, pool.target(), ctx, &world.tp_weak));
            }
            match mode {
                Mode::DropInCallback if !items.is_empty() => {
                    let slot = Mutex::new(Some(pool.clone()));
                    let i = pick % items.len();
                    items[i].0.add_done_callback(move |_| {
                        let taken = slot.lock().ok().and_then(|mut s| s.take());
                        drop(taken);
                    });
                }
                Mode::Terminate { kill } => {
                    if let Fresh::Process(p) = &pool {
                        terminate(p, &items, kill, wait_first, who, batch);
                    }
                }
                _ => {}
            }
        }
    }
    // The pool goes before its futures are waited on (its Drop then waits for the tasks), or,
    // in half of the shutdown rounds, after.
    if !matches!(mode, Mode::Shutdown { .. }) || wait_first {
        activity(who, format!("round {batch}: dropping the {engine:?} pool"));
        drop(pool);
        activity(who, format!("round {batch}: waiting"));
        settle(items, how, checks);
    } else {
        activity(who, format!("round {batch}: waiting"));
        settle(items, how, checks);
        activity(who, format!("round {batch}: dropping the {engine:?} pool"));
        drop(pool);
    }
}

/// Terminates (`kill`: kills) a short-lived process pool's workers: once its task that ignores
/// `SIGTERM` runs, if it has one (else, if `wait_first`, once its first task is done). The call
/// must return within [`TERMINATE_LIMIT`], and afterwards every future of the pool is done.
#[cfg(any(unix, windows))]
fn terminate(
    pool: &ProcessPoolExecutor,
    items: &[Tracked],
    kill: bool,
    wait_first: bool,
    who: &str,
    batch: u64,
) {
    let stubborn = items.iter().find(|(_, m)| m.fault == Fault::IgnoreTerm);
    let mut ignoring = false;
    if let Some((f, meta)) = stubborn {
        // Once it runs, and has had a moment to ignore SIGTERM.
        let t0 = Instant::now();
        while !f.running() && !f.done() && t0.elapsed() < WAIT {
            std::thread::sleep(Duration::from_micros(200));
        }
        if f.running() {
            std::thread::sleep(Duration::from_millis(30));
            ignoring = !kill && !f.done();
        } else if !f.done() {
            hung(|| format!("{}: not running after {WAIT:?}", meta.describe()));
        }
    } else if let (true, Some((f, _))) = (wait_first, items.first()) {
        let _ = f.wait_timeout(WAIT);
    }
    activity(who, format!("round {batch}: terminating (kill={kill})"));
    let t0 = Instant::now();
    if kill {
        pool.kill_workers();
    } else {
        pool.terminate_workers();
    }
    let took = t0.elapsed();
    if ignoring && took >= TERMINATE_GRACE {
        // SIGTERM was ignored; SIGKILL followed after the grace.
        bump(&STATS.o_escalated);
    }
    if took > TERMINATE_LIMIT {
        hung(|| format!("round {batch}: terminate (kill={kill}) took {took:?}"));
    }
    for (f, meta) in items.iter().filter(|(f, _)| !f.done()) {
        lost(|| {
            format!(
                "{}: {:?} after terminate (kill={kill}) returned",
                meta.describe(),
                f.state()
            )
        });
    }
}

#[cfg(any(unix, windows))]
fn submitter(world: &World, idx: usize, seed: u64) -> Vec<CbCheck> {
    let who = format!("submitter-{idx}");
    let mut rng =
        StdRng::seed_from_u64(seed ^ (idx as u64 + 1).wrapping_mul(0xA076_1D64_78BD_642F));
    let mut checks = Vec::new();
    let mut batch = 0;
    let mut forks = FORKS_PER_SUBMITTER;
    let f = &mut forks;
    while !world.stop() {
        batch += 1;
        settle_checks(&mut checks);
        match rng.gen_range(0..100) {
            0..=5 => fresh_round(world, &mut rng, &mut checks, Engine::Thread, &who, batch, f),
            6..=11 => fresh_round(
                world,
                &mut rng,
                &mut checks,
                Engine::Process,
                &who,
                batch,
                f,
            ),
            12..=13 => {
                activity(&who, format!("batch {batch}: a map larger than the rings"));
                rings::big_map(&world.pp, &mut rng);
            }
            14 => {
                activity(
                    &who,
                    format!("batch {batch}: a map larger than the rings, killed"),
                );
                rings::big_map_killed(&mut rng);
            }
            15 => {
                activity(
                    &who,
                    format!("batch {batch}: a task scribbling on its rings"),
                );
                // Unix: the task finds its rings in /proc/self/maps and its doorbell among its
                // descriptors; on Windows its handles are not to be found from inside.
                #[cfg(unix)]
                rings::scribbler(&world.pp, &mut rng);
            }
            _ => shared_batch(world, &mut rng, &mut checks, &who, batch, f),
        }
    }
    activity(&who, "done");
    checks
}

#[cfg(any(unix, windows))]
fn summary(args_seed: u64, elapsed: Duration, leaked: u64, extra_hung: u64) -> String {
    let s = &STATS;
    format!(
        "chaos seed={} duration={}s tasks={} faults[panic={} sigkill={} abort={} exit={} timeout={} \
         cancel={} cb_panic={} cb_submit={} nested={} shutdown={} kill={} broken={} fork={} \
         ignore_term={} decode_panic={} drop_panic={} cb_wait={} ring_map={} scribble={} \
         subscriber_panic={}] \
         outcomes[ok={} panicked={} cancelled={} worker_died={} timed_out={} broken={} refused={} \
         cb_waited={} drops_panicked={} term_escalated={} lingering_killed={}] \
         lost={} hung={} leaked={}",
        args_seed,
        elapsed.as_secs(),
        get(&s.tasks),
        get(&s.f_panic),
        get(&s.f_sigkill),
        get(&s.f_abort),
        get(&s.f_exit),
        get(&s.f_timeout),
        get(&s.f_cancel),
        get(&s.f_cb_panic),
        get(&s.f_cb_submit),
        get(&s.f_nested),
        get(&s.f_shutdown),
        get(&s.f_kill),
        get(&s.f_broken),
        get(&s.f_fork),
        get(&s.f_ignore_term),
        get(&s.f_decode_panic),
        get(&s.f_drop_panic),
        get(&s.f_cb_wait),
        get(&s.f_ring_map),
        get(&s.f_scribble),
        get(&s.f_subscriber),
        get(&s.o_ok),
        get(&s.o_panicked),
        get(&s.o_cancelled),
        get(&s.o_worker_died),
        get(&s.o_timed_out),
        get(&s.o_broken),
        get(&s.o_refused),
        get(&s.o_cb_waited),
        jobs::ARMED_DROPPED.load(SeqCst),
        get(&s.o_escalated),
        get(&s.o_lingering),
        get(&s.lost),
        get(&s.hung) + extra_hung,
        leaked,
    )
}

/// Aborts the run with a report if nothing progresses for [`WATCHDOG`].
#[cfg(any(unix, windows))]
fn watchdog(stop: &AtomicBool, seed: u64, start: Instant) {
    let mut last = get(&STATS.progress);
    let mut since = Instant::now();
    while !stop.load(SeqCst) {
        std::thread::sleep(Duration::from_millis(250));
        let now = get(&STATS.progress);
        if now != last {
            last = now;
            since = Instant::now();
            continue;
        }
        if since.elapsed() >= WATCHDOG {
            eprintln!("chaos: WATCHDOG: no progress for {WATCHDOG:?}; what each thread was doing:");
            if let Ok(a) = ACTIVITY.lock() {
                for (who, what) in a.iter() {
                    eprintln!("chaos:   {who}: {what}");
                }
            }
            eprintln!("chaos: threads: {:?}", procfs::thread_names());
            println!("{}", summary(seed, start.elapsed(), 0, 1));
            std::process::exit(3);
        }
    }
}

/// Settles everything still outstanding: adopted futures, then callback checks.
#[cfg(any(unix, windows))]
fn drain(mut checks: Vec<CbCheck>) {
    activity("main", "settling adopted futures and callbacks");
    let deadline = Instant::now() + ledger::CALLBACK_GRACE;
    loop {
        let adopted = std::mem::take(&mut *ADOPTED.lock().unwrap_or_else(|p| p.into_inner()));
        let had = !adopted.is_empty();
        settle(adopted, 0, &mut checks);
        settle_checks(&mut checks);
        bump(&STATS.progress);
        if (checks.is_empty() && !had) || Instant::now() >= deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    for c in &checks {
        c.settle(true);
    }
}

/// This process's threads, less the spawner thread (`spawner`: its tid), which lives as long
/// as the program by design.
#[cfg(any(unix, windows))]
fn thread_count(spawner: Option<u32>) -> usize {
    procfs::threads()
        .iter()
        .filter(|(tid, _)| Some(*tid) != spawner)
        .count()
}

/// The tid of the process engine's spawner thread, if it runs.
#[cfg(any(unix, windows))]
fn spawner_tid() -> Option<u32> {
    let name = &SPAWNER_THREAD[..SPAWNER_THREAD.len().min(15)];
    procfs::threads()
        .into_iter()
        // Linux keeps 15 bytes of a thread's name; Windows keeps it whole.
        .find(|(_, comm)| comm == name || comm == SPAWNER_THREAD)
        .map(|(tid, _)| tid)
}

/// `SIGKILL`s the grandchildren that tasks forked and left lingering (recorded in `dir`, named
/// by `tag`): they are not this process's children (their parent, a worker, is gone, so init
/// or a subreaper adopted them), but they are this run's. Waits (within [`GRACE`]) until they
/// are gone (or zombies for their new parent to reap); returns how many are not.
#[cfg(any(unix, windows))]
fn kill_lingering(dir: &Path, tag: u32) -> u64 {
    activity("main", "killing lingering grandchildren");
    let name = lingering_name(tag);
    let ours = |pid: u32| procfs::process(pid).filter(|(comm, _)| *comm == name);
    let mut killed = BTreeSet::new();
    // Twice: a grandchild forked just before its worker died may record itself late.
    for pass in 0..2 {
        if pass > 0 {
            std::thread::sleep(Duration::from_millis(100));
        }
        let Ok(entries) = std::fs::read_dir(dir) else {
            break;
        };
        for entry in entries.filter_map(Result::ok) {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<u32>().ok())
            else {
                continue;
            };
            // Only a live process by that name is ours (a pid whose grandchild ended on its
            // own may have been reused).
            if killed.contains(&pid) || ours(pid).is_none() {
                continue;
            }
            #[cfg(unix)]
            // SAFETY: a plain syscall.
            unsafe {
                libc::kill(pid as libc::pid_t, libc::SIGKILL)
            };
            #[cfg(windows)]
            procfs::kill(pid);
            killed.insert(pid);
            bump(&STATS.o_lingering);
        }
    }
    let _ = std::fs::remove_dir_all(dir);
    let deadline = Instant::now() + GRACE;
    loop {
        let left: Vec<u32> = killed
            .iter()
            .copied()
            .filter(|&p| ours(p).is_some_and(|(_, state)| state != 'Z'))
            .collect();
        if left.is_empty() {
            return 0;
        }
        bump(&STATS.progress);
        if Instant::now() >= deadline {
            diag(|| format!("LEAKED lingering grandchildren still alive after SIGKILL: {left:?}"));
            return left.len() as u64;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits (within [`GRACE`]) for threads, child processes and descriptors to return to the
/// baseline; returns how many are left over.
#[cfg(any(unix, windows))]
fn leak_check(base_threads: usize, base_fds: usize, spawner: Option<u32>) -> u64 {
    activity("main", "checking for leaks");
    let deadline = Instant::now() + GRACE;
    loop {
        let threads = thread_count(spawner);
        let children = procfs::children();
        let fds = procfs::fd_count();
        let leaked =
            threads.saturating_sub(base_threads) + children.len() + fds.saturating_sub(base_fds);
        if leaked == 0 {
            return 0;
        }
        bump(&STATS.progress);
        if Instant::now() >= deadline {
            diag(|| {
                format!(
                    "LEAKED threads {threads} (started with {base_threads}: {:?}), children {children:?}, fds {fds} (started with {base_fds})",
                    procfs::thread_names()
                )
            });
            return leaked as u64;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[cfg(not(any(unix, windows)))]
fn main() {
    eprintln!("this example needs the process engine, which runs on Unix and Windows");
}

#[cfg(any(unix, windows))]
fn main() {
    // A lingering grandchild a task started (Windows has no fork: it is this program again).
    #[cfg(windows)]
    jobs::linger_if_asked();
    quiet_panics();
    subscriber::install();
    let args = parse_args();
    let start = Instant::now();
    let tag = std::process::id();
    let linger_dir = std::env::temp_dir().join(format!("chaos-lingering-{tag}"));
    if let Err(e) = std::fs::create_dir_all(&linger_dir) {
        eprintln!("chaos: cannot create {}: {e}", linger_dir.display());
        std::process::exit(2);
    }
    let _ = LINGER.set((linger_dir.clone(), tag));
    let stop_watchdog = AtomicBool::new(false);
    let (leaked, elapsed) = std::thread::scope(|s| {
        s.spawn(|| watchdog(&stop_watchdog, args.seed, start));
        let base_threads = thread_count(spawner_tid());
        let tp = Arc::new(
            ThreadPoolExecutor::builder()
                .max_workers(8)
                .thread_name_prefix("chaos-shared")
                .build()
                .expect("a valid configuration"),
        );
        let pp = Arc::new(
            ProcessPoolExecutor::builder()
                .max_workers(2)
                .max_tasks_per_child(1000)
                .idle_timeout(Duration::from_millis(500))
                .build()
                .expect("a valid configuration"),
        );
        // Counted once the first process pool exists: the program's lifeline (portable Unix
        // path), made with it, stays, as the spawner thread does. The pool itself holds no
        // descriptor until its first worker starts.
        let base_fds = procfs::fd_count();
        // Started by the first process pool; it stays.
        let spawner = spawner_tid();
        if spawner.is_none() {
            diag(|| "no spawner thread after the first process pool was built".into());
        }
        let world = World {
            tp_weak: Arc::downgrade(&tp),
            tp,
            pp,
            deadline: args.duration.map(|d| start + d),
            max_tasks: args.tasks,
        };
        let checks: Vec<CbCheck> = std::thread::scope(|inner| {
            let handles: Vec<_> = (0..args.submitters)
                .map(|i| {
                    let world = &world;
                    inner.spawn(move || submitter(world, i, args.seed))
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap_or_default())
                .collect()
        });
        let elapsed = start.elapsed();
        drain(checks);
        let World { tp, pp, .. } = world;
        activity("main", "dropping the shared thread pool");
        let t0 = Instant::now();
        while Arc::strong_count(&tp) > 1 && t0.elapsed() < GRACE {
            std::thread::sleep(Duration::from_millis(5));
        }
        let mut leaked = (Arc::strong_count(&tp) - 1) as u64;
        if leaked > 0 {
            diag(|| format!("LEAKED {leaked} handles to the shared thread pool"));
        }
        drop(tp);
        activity("main", "dropping the shared process pool");
        let t0 = Instant::now();
        while Arc::strong_count(&pp) > 1 && t0.elapsed() < GRACE {
            std::thread::sleep(Duration::from_millis(5));
        }
        let held = (Arc::strong_count(&pp) - 1) as u64;
        if held > 0 {
            diag(|| format!("LEAKED {held} handles to the shared process pool"));
        }
        leaked += held;
        drop(pp);
        bump(&STATS.progress);
        leaked += kill_lingering(&linger_dir, tag);
        leaked += leak_check(base_threads, base_fds, spawner);
        // Every bomb value decoded armed was dropped exactly once: by the engine (its `Drop`
        // panicked there) or defused by the runner after taking it.
        let made = jobs::ARMED_MADE.load(SeqCst);
        let dropped = jobs::ARMED_DROPPED.load(SeqCst);
        let defused = jobs::ARMED_DEFUSED.load(SeqCst);
        if made != dropped + defused {
            lost(|| format!("{made} bombs decoded armed, {dropped} dropped, {defused} defused"));
        }
        stop_watchdog.store(true, SeqCst);
        (leaked, elapsed)
    });
    println!("{}", summary(args.seed, elapsed, leaked, 0));
    if get(&STATS.lost) + get(&STATS.hung) + leaked > 0 {
        std::process::exit(1);
    }
}
