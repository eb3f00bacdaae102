//! Load figures, one line each:
//!
//! - `threads`: 10,000,000 tasks through a `ThreadPoolExecutor` with a bounded queue
//!   (`max_queued(1024)`), futures dropped as they are submitted: throughput and peak RSS (memory
//!   stays flat because the queue pushes back).
//! - `processes`: 1,000,000 tasks through a `ProcessPoolExecutor`, `map` with `chunksize(1)` (one
//!   message per task): throughput, peak RSS of the parent and of a worker.
//! - `processes_chunked`: the same with `chunksize(1000)`, for comparison.
//! - `waiters`: 1,000 threads blocked on one future (a non-`Clone` value, read with
//!   `with_result`): how long until every one of them has the value.
//! - `as_completed` / `wait`: 100,000 futures in one `as_completed` and in one `wait`, timed
//!   once they are all done and while the pool is still completing them.
//!
//! Run: `cargo run --release --example load` (all), or name figures:
//! `cargo run --release --example load -- threads waiters`.
//! Each figure runs in a fresh process (so peak RSS is its own).

#[cfg(unix)]
#[path = "chaos/procfs.rs"]
mod procfs;

#[cfg(unix)]
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
#[cfg(unix)]
use std::sync::{mpsc, Arc, Barrier};
#[cfg(unix)]
use std::time::{Duration, Instant};

#[cfg(unix)]
use concurrent_futures::{
    as_completed, register, wait, Future, MapOptions, ProcessPoolExecutor, ReturnWhen,
    ThreadPoolExecutor,
};

#[cfg(unix)]
const FIGURES: [&str; 6] = [
    "threads",
    "processes",
    "processes_chunked",
    "waiters",
    "as_completed",
    "wait",
];

/// Set in the environment of the process that runs one figure.
#[cfg(unix)]
const CHILD_ENV: &str = "CF_LOAD_FIGURE";

/// How long any wait in this program may last.
#[cfg(unix)]
const LIMIT: Duration = Duration::from_secs(300);

/// A small amount of work with a checkable result.
#[cfg(unix)]
fn mix(x: u64) -> u64 {
    let mut h = x ^ 0x9E37_79B9_7F4A_7C15;
    for _ in 0..4 {
        h = (h ^ (h >> 31)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    }
    h
}
#[cfg(unix)]
register!(mix);

#[cfg(not(unix))]
fn main() {
    eprintln!("this example needs the process engine, which is Unix-only for now");
}

#[cfg(unix)]
fn main() {
    let mut names: Vec<String> = std::env::args().skip(1).collect();
    if names.is_empty() {
        names = FIGURES.iter().map(|s| s.to_string()).collect();
    }
    if let Some(bad) = names.iter().find(|n| !FIGURES.contains(&n.as_str())) {
        eprintln!(
            "load: unknown figure {bad:?}; figures: {}",
            FIGURES.join(" ")
        );
        std::process::exit(2);
    }
    if std::env::var_os(CHILD_ENV).is_some() {
        for name in &names {
            run(name);
        }
        return;
    }
    println!(
        "load: {} CPUs, {}",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        std::env::consts::ARCH
    );
    let exe = std::env::current_exe().expect("the program's path");
    let mut failed = false;
    for name in &names {
        let status = std::process::Command::new(&exe)
            .arg(name)
            .env(CHILD_ENV, "1")
            .status()
            .expect("the figure's process starts");
        if !status.success() {
            eprintln!("load {name}: failed ({status})");
            failed = true;
        }
    }
    if failed {
        std::process::exit(1);
    }
}

#[cfg(unix)]
fn run(name: &str) {
    match name {
        "threads" => threads(),
        "processes" => processes(1, "processes"),
        "processes_chunked" => processes(1000, "processes_chunked"),
        "waiters" => waiters(),
        "as_completed" => many_futures(true),
        "wait" => many_futures(false),
        _ => unreachable!("checked in main"),
    }
}

/// `10000000` → `10,000,000`.
#[cfg(unix)]
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(unix)]
fn peak_rss() -> String {
    mib(procfs::status_kb("VmHWM").unwrap_or(0))
}

#[cfg(unix)]
fn mib(kb: u64) -> String {
    format!("{:.1} MiB", kb as f64 / 1024.0)
}

#[cfg(unix)]
fn rate(n: u64, d: Duration) -> String {
    let r = n as f64 / d.as_secs_f64();
    if r >= 1e6 {
        format!("{:.2} M tasks/s", r / 1e6)
    } else {
        format!("{:.1} k tasks/s", r / 1e3)
    }
}

#[cfg(unix)]
fn threads() {
    const N: u64 = 10_000_000;
    let pool = ThreadPoolExecutor::builder()
        .max_queued(1024)
        .build()
        .expect("a valid configuration");
    let workers = pool.max_workers();
    let sum = Arc::new(AtomicU64::new(0));
    let mut rss_at_1m = 0;
    let start = Instant::now();
    for i in 0..N {
        let sum = sum.clone();
        // Blocks while 1024 tasks are queued; the future is dropped, the task still runs.
        drop(
            pool.submit(move || {
                sum.fetch_add(mix(i) & 0xFF, Relaxed);
            })
            .expect("the pool accepts work"),
        );
        if i == 1_000_000 {
            rss_at_1m = procfs::status_kb("VmRSS").unwrap_or(0);
        }
    }
    pool.shutdown(true, false);
    let elapsed = start.elapsed();
    let want: u64 = (0..N).map(|i| mix(i) & 0xFF).sum();
    assert_eq!(sum.load(Relaxed), want, "every task ran once");
    println!(
        "load threads: {} tasks, ThreadPoolExecutor(max_workers={workers}, max_queued=1024), \
         submit and drop the future: {:.2} s, {}, RSS after 1M tasks {}, peak RSS {}",
        thousands(N),
        elapsed.as_secs_f64(),
        rate(N, elapsed),
        mib(rss_at_1m),
        peak_rss()
    );
}

#[cfg(unix)]
fn processes(chunksize: usize, label: &str) {
    const N: u64 = 1_000_000;
    let pool = ProcessPoolExecutor::new();
    let workers = pool.max_workers();
    // Start the workers before the clock.
    let warm: Vec<_> = (0..workers as u64)
        .map(|i| pool.submit_fn(mix, i).expect("the pool accepts work"))
        .collect();
    for mut f in warm {
        f.result_timeout(LIMIT).expect("a worker starts");
    }
    let start = Instant::now();
    let mut n = 0u64;
    let mut check = 0u64;
    for r in pool.map_with(
        mix,
        0..N,
        MapOptions::new().chunksize(chunksize).timeout(LIMIT),
    ) {
        check = check.wrapping_add(r.expect("every task succeeds"));
        n += 1;
    }
    let elapsed = start.elapsed();
    let want = (0..N).fold(0u64, |a, i| a.wrapping_add(mix(i)));
    assert_eq!((n, check), (N, want), "every result arrived, in order");
    let worker_peak = pool
        .worker_pids()
        .iter()
        .filter_map(|pid| {
            let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        })
        .max()
        .unwrap_or(0);
    println!(
        "load {label}: {} tasks, ProcessPoolExecutor(max_workers={workers}), map chunksize {chunksize}: \
         {:.2} s, {}, peak RSS parent {}, worker {}",
        thousands(N),
        elapsed.as_secs_f64(),
        rate(N, elapsed),
        peak_rss(),
        mib(worker_peak)
    );
}

#[cfg(unix)]
fn waiters() {
    const WAITERS: usize = 1000;
    let pool = ThreadPoolExecutor::with_max_workers(1).expect("a valid configuration");
    let (tx, rx) = mpsc::channel::<()>();
    let fut: Future<Vec<u64>> = pool
        .submit(move || {
            rx.recv_timeout(LIMIT).expect("released");
            (0..1000).collect()
        })
        .expect("the pool accepts work");
    let ready = Barrier::new(WAITERS + 1);
    let start = std::thread::scope(|s| {
        let handles: Vec<_> = (0..WAITERS)
            .map(|_| {
                let (fut, ready) = (&fut, &ready);
                std::thread::Builder::new()
                    .stack_size(64 << 10)
                    .spawn_scoped(s, move || {
                        ready.wait();
                        let done = fut.wait_timeout(LIMIT);
                        let len = fut.with_result(|r| r.map(|v| v.len()).ok());
                        (done && len == Some(1000), Instant::now())
                    })
                    .expect("a waiter thread starts")
            })
            .collect();
        ready.wait();
        // Give every waiter time to park (this is a measurement, not a synchronisation).
        std::thread::sleep(Duration::from_millis(500));
        let start = Instant::now();
        tx.send(()).expect("the task waits");
        let results: Vec<(bool, Instant)> = handles
            .into_iter()
            .map(|h| h.join().expect("a waiter returns"))
            .collect();
        let ok = results.iter().filter(|r| r.0).count();
        let last = results.iter().map(|r| r.1).max().expect("waiters");
        assert_eq!(ok, WAITERS, "every waiter got the value");
        (start, last)
    });
    let (start, last) = start;
    println!(
        "load waiters: {} threads blocked on one future (non-Clone Vec, read with with_result): \
         all woken with the value {:.2} ms after the task was released, peak RSS {}",
        thousands(WAITERS as u64),
        (last - start).as_secs_f64() * 1e3,
        peak_rss()
    );
}

/// `as_completed` (or `wait`) over 100,000 futures: once all are done, and while a pool is
/// still completing them.
#[cfg(unix)]
fn many_futures(use_as_completed: bool) {
    const N: usize = 100_000;
    let what = if use_as_completed {
        "as_completed"
    } else {
        "wait(AllCompleted)"
    };
    let pool = ThreadPoolExecutor::with_max_workers(2).expect("a valid configuration");
    let run_over = |futs: &[Future<u64>]| -> usize {
        if use_as_completed {
            as_completed(futs.iter()).count()
        } else {
            let sets = wait(futs.iter(), Some(LIMIT), ReturnWhen::AllCompleted);
            assert!(sets.not_done.is_empty(), "every future is done");
            sets.done.len()
        }
    };

    // All done first.
    let futs: Vec<Future<u64>> = (0..N as u64)
        .map(|i| pool.submit(move || mix(i)).expect("the pool accepts work"))
        .collect();
    for f in &futs {
        assert!(f.wait_timeout(LIMIT), "a task finishes");
    }
    let start = Instant::now();
    assert_eq!(run_over(&futs), N);
    let after_done = start.elapsed();
    drop(futs);

    // While completing: the workers are held until the wait has started.
    let (tx, rx) = mpsc::channel::<()>();
    let rx = Arc::new(std::sync::Mutex::new(rx));
    let gates: Vec<Future<()>> = (0..pool.max_workers())
        .map(|_| {
            let rx = rx.clone();
            pool.submit(move || {
                let _ = rx.lock().map(|r| r.recv_timeout(LIMIT));
            })
            .expect("the pool accepts work")
        })
        .collect();
    let last_done = Arc::new(std::sync::Mutex::new(None::<Instant>));
    let futs: Vec<Future<u64>> = (0..N as u64)
        .map(|i| {
            let last_done = last_done.clone();
            pool.submit(move || {
                let v = mix(i);
                if i == N as u64 - 1 {
                    *last_done.lock().expect("not poisoned") = Some(Instant::now());
                }
                v
            })
            .expect("the pool accepts work")
        })
        .collect();
    let start = Instant::now();
    for _ in &gates {
        tx.send(()).expect("a gate task waits");
    }
    assert_eq!(run_over(&futs), N);
    let while_completing = start.elapsed();
    let drained = last_done
        .lock()
        .expect("not poisoned")
        .map(|t| t - start)
        .unwrap_or_default();
    println!(
        "load {}: {what} over {} futures: {:.1} ms when all are already done; {:.1} ms while a \
         2-thread pool completes them (the pool alone took {:.1} ms to finish them), peak RSS {}",
        if use_as_completed {
            "as_completed"
        } else {
            "wait"
        },
        thousands(N as u64),
        after_done.as_secs_f64() * 1e3,
        while_completing.as_secs_f64() * 1e3,
        drained.as_secs_f64() * 1e3,
        peak_rss()
    );
}
