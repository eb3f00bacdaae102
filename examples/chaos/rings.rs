//! Faults on the process engine's shared-memory rings:
//!
//! - a `map` whose items are larger than a worker's task ring can hold together (60–300 kB
//!   each), pipelined to the shared pool's workers while some of its tasks crash them: every
//!   item ends as injected (the crashed ones `WorkerDied`, the others their value), none hangs;
//!   and the same `map` on a pool of its own whose workers are killed (`kill_workers`) part-way,
//!   which must return with every item done;
//! - a task that scribbles on its own worker's rings (the task ring's `head` past its `tail` or
//!   a whole ring back, the reply ring's `tail` past the room there is): the worker is killed
//!   with a protocol error and only that task fails.

#[cfg(unix)]
use std::time::Duration;

use concurrent_futures::{register, MapOptions, ProcessPoolExecutor, TaskError};
use rand::rngs::StdRng;
use rand::Rng;
#[cfg(unix)]
use serde::{Deserialize, Serialize};

use crate::jobs::{pjob, value_of, PJob, MARKER};
use crate::ledger::{bump, lost, STATS};

#[cfg(unix)]
const CAPACITY: u64 = 256 << 10;
#[cfg(unix)]
const HEADER: usize = 192;

/// A process task with a payload: runs `job`, and checks the payload arrived whole.
pub fn pbig((job, payload): (PJob, Vec<u8>)) -> u64 {
    let want = payload.first().copied().unwrap_or(0);
    assert!(
        payload.iter().all(|&b| b == want),
        "{MARKER} never: the payload arrived torn"
    );
    pjob(job)
}

/// Which index a task scribbles on.
#[cfg(unix)]
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
pub enum Scribble {
    /// The task ring's `head` past its `tail`.
    HeadAhead,
    /// The task ring's `head` a whole ring back (the ring looks full for good).
    HeadBack,
    /// The reply ring's `tail` past the room there is (then a doorbell).
    TailAhead,
}

/// Scribbles on this worker's rings as `how` says; then waits to be killed. (Unix: the rings
/// are found in `/proc/self/maps`.)
#[cfg(unix)]
pub fn scribble(how: Scribble) -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap_or_default();
    let Some(line) = maps
        .lines()
        .find(|l| l.contains("concurrent-futures-ring") || l.contains("/cf-ring-"))
    else {
        return 0; // not in a worker: the check reports it
    };
    let start = usize::from_str_radix(line.split('-').next().unwrap_or("0"), 16).unwrap_or(0);
    let index = |ring: usize, off: usize| {
        // SAFETY: the worker's own live mapping of the rings; each index is a 64-aligned u64
        // at this offset (`ring.md`).
        unsafe { &*((start + ring * (HEADER + CAPACITY as usize) + off) as *const AtomicU64) }
    };
    match how {
        Scribble::HeadAhead | Scribble::HeadBack => {
            let t = index(0, 0).load(Ordering::Acquire);
            let head = match how {
                Scribble::HeadAhead => t + 1000,
                _ => t.wrapping_sub(CAPACITY),
            };
            // Caught when the parent reads the reply below.
            index(0, 64).store(head, Ordering::Release);
            1
        }
        Scribble::TailAhead => {
            let t = index(1, 0).load(Ordering::Acquire);
            index(1, 0).store(t + CAPACITY + 1, Ordering::Release);
            ring_parent();
            std::thread::sleep(Duration::from_secs(30));
            2
        }
    }
}

/// Rings the parent's doorbell: one byte on the worker's channel (the lowest socket above 2).
#[cfg(unix)]
fn ring_parent() {
    let Ok(dir) = std::fs::read_dir("/proc/self/fd") else {
        return;
    };
    let mut fds: Vec<i32> = dir
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter(|&fd| fd > 2)
        .collect();
    fds.sort_unstable();
    for fd in fds {
        // SAFETY: `st` is a local structure fstat fills; the write is one byte to our own fd.
        unsafe {
            let mut st: libc::stat = std::mem::zeroed();
            if libc::fstat(fd, &mut st) == 0 && st.st_mode & libc::S_IFMT == libc::S_IFSOCK {
                libc::write(fd, [0u8].as_ptr().cast(), 1);
                return;
            }
        }
    }
}

register!(pbig);
#[cfg(unix)]
register!(scribble);

/// A crash, a panic, or a value, with a payload of 60–300 kB.
fn big_item(rng: &mut StdRng) -> (PJob, Vec<u8>) {
    let n = rng.gen_range(0..u64::MAX / 2);
    let job = match rng.gen_range(0..100) {
        0..=4 => PJob::SigKill,
        5..=8 => PJob::Abort,
        9..=11 => PJob::Exit(rng.gen_range(1..=9)),
        12..=16 => PJob::Panic(n),
        _ => PJob::Compute { n, sleep_us: 0 },
    };
    let len = rng.gen_range(60_000..=300_000);
    (job, vec![rng.gen(); len])
}

/// Checks one item of a `map` against its job; `killed`: its pool's workers were killed.
fn check(job: PJob, r: &Result<u64, TaskError>, killed: bool) {
    let ok = match (job, r) {
        (PJob::Compute { n, .. }, Ok(v)) if *v == value_of(n) => true,
        (PJob::SigKill | PJob::Abort | PJob::Exit(_), Err(e)) if e.is_worker_died() => true,
        (PJob::Panic(_), Err(e)) if e.is_panic() => true,
        (_, Err(e)) if killed => e.is_worker_died() || e.is_broken() || e.is_cancelled(),
        _ => false,
    };
    if ok {
        match r {
            Ok(_) => bump(&STATS.o_ok),
            Err(e) if e.is_worker_died() => bump(&STATS.o_worker_died),
            Err(e) if e.is_panic() => bump(&STATS.o_panicked),
            Err(_) => bump(&STATS.o_broken),
        }
    } else {
        lost(|| format!("big map item {job:?}: {r:?}"));
    }
    bump(&STATS.progress);
}

/// A `map` of items larger than the ring, on the shared pool, some of them crashing its workers.
pub fn big_map(pool: &ProcessPoolExecutor, rng: &mut StdRng) {
    let items: Vec<_> = (0..rng.gen_range(4..=16)).map(|_| big_item(rng)).collect();
    let jobs: Vec<PJob> = items.iter().map(|(j, _)| *j).collect();
    bump(&STATS.f_ring_map);
    for _ in &jobs {
        bump(&STATS.tasks);
    }
    let opts = MapOptions::new().buffer_size(rng.gen_range(2..=8));
    for (job, r) in jobs.into_iter().zip(pool.map_with(pbig, items, opts)) {
        check(job, &r, false);
    }
}

/// The same on a pool of its own, whose workers are killed after the first result.
pub fn big_map_killed(rng: &mut StdRng) {
    let pool = match ProcessPoolExecutor::builder()
        .max_workers(rng.gen_range(1..=2))
        .build()
    {
        Ok(p) => p,
        Err(e) => return lost(|| format!("a pool for a big map: {e}")),
    };
    let items: Vec<_> = (0..rng.gen_range(4..=12)).map(|_| big_item(rng)).collect();
    let jobs: Vec<PJob> = items.iter().map(|(j, _)| *j).collect();
    bump(&STATS.f_ring_map);
    for _ in &jobs {
        bump(&STATS.tasks);
    }
    let opts = MapOptions::new().buffer_size(jobs.len());
    let mut results = pool.map_with(pbig, items, opts);
    let first = results.next();
    pool.kill_workers();
    let rest: Vec<_> = results.collect();
    for (job, r) in jobs.into_iter().zip(first.into_iter().chain(rest)) {
        check(job, &r, true);
    }
}

/// A task that scribbles on its worker's rings: it alone fails, with a protocol error.
#[cfg(unix)]
pub fn scribbler(pool: &ProcessPoolExecutor, rng: &mut StdRng) {
    let how = match rng.gen_range(0..3) {
        0 => Scribble::HeadAhead,
        1 => Scribble::HeadBack,
        _ => Scribble::TailAhead,
    };
    bump(&STATS.f_scribble);
    bump(&STATS.tasks);
    let r = match pool.submit_fn(scribble, how) {
        Ok(mut f) => f.result_timeout(Duration::from_secs(30)),
        Err(e) => return lost(|| format!("the shared pool refused a scribbler: {e}")),
    };
    match &r {
        Err(TaskError::WorkerDied { how: why, .. }) if why.contains("protocol error") => {
            bump(&STATS.o_worker_died)
        }
        _ => lost(|| format!("a scribbler ({how:?}) ended {r:?}")),
    }
    bump(&STATS.progress);
}
