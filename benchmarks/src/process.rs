//! The process engine against a raw pipe and Python's `ProcessPoolExecutor` (fork), 2 workers
//! each:
//! - round trip: sequential `submit_fn(inc, i).result()`, 20,000 times after 2,000 warm-up
//!   round trips, each timed; against the limits measured in the same repetition (`limits.rs`:
//!   a 1-byte ping-pong between two processes over shared memory and over a socketpair, both
//!   sides spinning), a blocking ping-pong over two pipes (which measures the machine's
//!   wake-up) and Python's `submit(inc, i).result()`;
//! - `map` throughput: `map(inc, 0..N)` with chunksize 1 (N = 200,000; Python 20,000) and
//!   chunksize 100 (N = 5,000,000; Python 1,000,000), small integers, items per second;
//! - CPU-bound speed-up: prime counting below 2,000,000 in ranges of 10,000, sequential vs.
//!   `map` on 2 worker processes;
//! - start-up: time from `ProcessPoolExecutor::new()` to the first result (a fresh pool each
//!   time, 10 pools; Python the same);
//! - procspawn's `Pool`, the Rust peer, in the same run: round trip, throughput in batches, and
//!   what 50,000 tasks queued at once do to each engine (`procspawn_peer.rs`).
//!
//! Reported: medians over the repetitions (and over the samples within one), the smallest
//! repetition's median beside it, with ratios to the limits and the targets.

use std::time::Instant;

use concurrent_futures::{register, Executor, MapOptions, ProcessPoolExecutor};

use crate::measure::{median, percentile};
use crate::procspawn_peer;
use crate::report::{num, repetitions, Section, Table};
use crate::{python, Config};

fn inc(x: u64) -> u64 {
    x + 1
}

fn count_primes((lo, hi): (u64, u64)) -> u64 {
    (lo..hi).filter(|&n| crate::primes::is_prime(n)).count() as u64
}

register!(inc, count_primes);

fn pool() -> ProcessPoolExecutor {
    ProcessPoolExecutor::with_max_workers(2).expect("2 workers")
}

/// Round trips over two pipes to a forked child that echoes one byte: nanoseconds each.
fn pipe_round_trips(warmup: usize, iters: usize) -> Vec<f64> {
    let mut a = [0i32; 2];
    let mut b = [0i32; 2];
    // SAFETY: plain syscalls on fresh descriptors; the child only reads, writes and exits.
    unsafe {
        assert_eq!(libc::pipe(a.as_mut_ptr()), 0);
        assert_eq!(libc::pipe(b.as_mut_ptr()), 0);
        let pid = libc::fork();
        assert!(pid >= 0);
        if pid == 0 {
            // Keep only the child's ends, so that the parent closing its end is end-of-file.
            libc::close(a[1]);
            libc::close(b[0]);
            let mut byte = 0u8;
            loop {
                if libc::read(a[0], (&mut byte as *mut u8).cast(), 1) != 1 {
                    libc::_exit(0);
                }
                libc::write(b[1], (&byte as *const u8).cast(), 1);
            }
        }
        libc::close(a[0]);
        libc::close(b[1]);
        let mut out = Vec::with_capacity(iters);
        let mut byte = 1u8;
        for i in 0..warmup + iters {
            let t = Instant::now();
            libc::write(a[1], (&byte as *const u8).cast(), 1);
            libc::read(b[0], (&mut byte as *mut u8).cast(), 1);
            if i >= warmup {
                out.push(t.elapsed().as_nanos() as f64);
            }
        }
        libc::close(a[1]);
        libc::close(b[0]);
        libc::waitpid(pid, std::ptr::null_mut(), 0);
        out
    }
}

fn our_round_trips(warmup: usize, iters: usize) -> Vec<f64> {
    let pool = pool();
    let mut out = Vec::with_capacity(iters);
    for i in 0..(warmup + iters) as u64 {
        let t = Instant::now();
        let r = pool.submit_fn(inc, i).expect("submit").result();
        let dt = t.elapsed().as_nanos() as f64;
        assert_eq!(r, Ok(i + 1));
        if i as usize >= warmup {
            out.push(dt);
        }
    }
    out
}

fn our_map(items: u64, chunksize: usize) -> f64 {
    our_map_on(&pool(), items, chunksize, false)
}

/// The same map, through the `Executor` trait (as a program generic over engines runs it) or
/// through the pool's own method.
fn our_map_on(pool: &ProcessPoolExecutor, items: u64, chunksize: usize, generic: bool) -> f64 {
    fn via_trait(pool: &impl Executor, items: u64, chunksize: usize) -> u64 {
        let mut n = 0;
        for r in pool.map_with(inc, 0..items, MapOptions::new().chunksize(chunksize)) {
            r.expect("inc does not fail");
            n += 1;
        }
        n
    }
    let warm: u64 = pool.map(inc, 0..1000u64).map(|r| r.unwrap()).sum();
    assert_eq!(warm, 500_500);
    if generic {
        let t = Instant::now();
        let n = via_trait(pool, items, chunksize);
        assert_eq!(n, items);
        return items as f64 / t.elapsed().as_secs_f64();
    }
    let t = Instant::now();
    let mut n = 0u64;
    for r in pool.map_with(inc, 0..items, MapOptions::new().chunksize(chunksize)) {
        r.expect("inc does not fail");
        n += 1;
    }
    let dt = t.elapsed().as_secs_f64();
    assert_eq!(n, items);
    items as f64 / dt
}

fn first_result() -> f64 {
    let t = Instant::now();
    let pool = pool();
    assert_eq!(pool.submit_fn(inc, 1).expect("submit").result(), Ok(2));
    let dt = t.elapsed().as_nanos() as f64;
    drop(pool);
    dt
}

fn primes(limit: u64) -> (f64, f64, u64) {
    let ranges: Vec<(u64, u64)> = (0..limit)
        .step_by(10_000)
        .map(|i| (i, i + 10_000))
        .collect();
    let t = Instant::now();
    let seq: u64 = ranges.iter().copied().map(count_primes).sum();
    let t_seq = t.elapsed().as_secs_f64();
    let pool = pool();
    let _ = pool.submit_fn(inc, 0).unwrap().result(); // workers started, as for the threads
    let t = Instant::now();
    let par: u64 = pool
        .map(count_primes, ranges.iter().copied())
        .map(|r| r.unwrap())
        .sum();
    let t_par = t.elapsed().as_secs_f64();
    assert_eq!(seq, par);
    (t_seq, t_par, seq)
}

fn py(cfg: &Config, args: &[&str]) -> Result<Vec<f64>, String> {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let v = python::run_script(cfg.python.as_deref(), python::PROCESS_SCRIPT, &args)?;
    let ns = python::numbers(&v, "ns");
    Ok(if ns.is_empty() {
        python::numbers(&v, "per_s")
    } else {
        ns
    })
}

/// `bench __child process queued ENGINE N` (`procspawn_peer.rs`).
pub fn child(args: &[String]) -> Result<String, String> {
    procspawn_peer::queued_child(args)
}

/// Many tasks queued at once on each engine, each in a process of its own with a deadline.
fn queued_table(cfg: &Config) -> Table {
    let n = if cfg.quick { 5_000 } else { 50_000 };
    let limit = std::time::Duration::from_secs(120);
    let mut files = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit fills the struct it is given.
    unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut files) };
    let title = format!(
        "{} tasks submitted at once, then every result (open-file limit {})",
        num(n as f64, 0),
        num(files.rlim_cur as f64, 0)
    );
    let mut t = Table::new(&[&title, "outcome"]);
    for (engine, label) in [
        ("ours", "concurrent-futures ProcessPoolExecutor"),
        ("procspawn", "procspawn 1.0 Pool"),
    ] {
        let outcome = match procspawn_peer::queued(engine, n, limit) {
            Ok(secs) => format!(
                "all done in {secs:.2} s ({} tasks/s)",
                num(n as f64 / secs, 0)
            ),
            Err(e) => format!("failed: {e}"),
        };
        eprintln!("process: {n} queued, {label}: {outcome}");
        t.row(vec![label.into(), outcome]);
    }
    t
}

pub fn run(cfg: &Config) -> Section {
    let reps = cfg.reps(3, 1);
    let (iters, warmup) = if cfg.quick {
        (2_000, 200)
    } else {
        (20_000, 2_000)
    };
    let (c1, c100) = if cfg.quick {
        (20_000, 200_000)
    } else {
        (200_000, 5_000_000)
    };
    let (py_c1, py_c100) = if cfg.quick {
        (2_000, 20_000)
    } else {
        (20_000, 1_000_000)
    };
    let pools = if cfg.quick { 3 } else { 10 };
    let limit = if cfg.quick { 200_000 } else { 2_000_000 };

    let mut pipe = Vec::new();
    let (mut shm, mut spin) = (Vec::new(), Vec::new());
    let mut ours_rt = (Vec::new(), Vec::new());
    let mut py_rt: Result<Vec<f64>, String> = Ok(Vec::new());
    let (mut m1, mut m100, mut py_m1, mut py_m100) = (vec![], vec![], Ok(vec![]), Ok(vec![]));
    let mut m100_trait = vec![];
    let (mut ps_rt, mut ps_batches) = (Vec::new(), Vec::new());
    let ps_items = if cfg.quick { 2_000 } else { 20_000 };
    let (mut first, mut py_first) = (Vec::new(), Ok(Vec::new()));
    let mut speedups = Vec::new();
    let mut seq_s = Vec::new();
    let mut par_s = Vec::new();
    let extend =
        |acc: &mut Result<Vec<f64>, String>, r: Result<Vec<f64>, String>, f: fn(&[f64]) -> f64| {
            match (acc.as_mut(), r) {
                (Ok(a), Ok(v)) => a.push(f(&v)),
                (_, Err(e)) => *acc = Err(e),
                _ => {}
            }
        };
    for rep in 0..reps {
        shm.push(median(&crate::limits::shared_memory(warmup, iters)));
        spin.push(median(&crate::limits::socketpair_spin(warmup, iters)));
        let p = pipe_round_trips(warmup, iters);
        pipe.push(median(&p));
        let o = our_round_trips(warmup, iters);
        ours_rt.0.push(median(&o));
        ours_rt.1.push(percentile(&o, 90.0));
        let it = iters / 10;
        let w = warmup / 10;
        extend(
            &mut py_rt,
            py(
                cfg,
                &[
                    "roundtrip",
                    "--iters",
                    &it.to_string(),
                    "--warmup",
                    &w.to_string(),
                ],
            ),
            median,
        );
        m1.push(our_map(c1, 1));
        m100.push(our_map(c100, 100));
        m100_trait.push(our_map_on(&pool(), c100, 100, true));
        extend(
            &mut py_m1,
            py(
                cfg,
                &["map", "--items", &py_c1.to_string(), "--chunksize", "1"],
            ),
            median,
        );
        extend(
            &mut py_m100,
            py(
                cfg,
                &["map", "--items", &py_c100.to_string(), "--chunksize", "100"],
            ),
            median,
        );
        let f: Vec<f64> = (0..pools).map(|_| first_result()).collect();
        first.push(median(&f));
        extend(
            &mut py_first,
            py(cfg, &["first", "--pools", &pools.to_string()]),
            median,
        );
        let (s, pp, _) = primes(limit);
        // Last in the repetition: nothing procspawn leaves behind can slow ours.
        let ps = procspawn_peer::round_trips(warmup / 10, iters / 10);
        ps_rt.push(median(&ps));
        ps_batches.push(procspawn_peer::batches(ps_items));
        seq_s.push(s);
        par_s.push(pp);
        speedups.push(s / pp);
        eprintln!(
            "process: rep {} shm {:.0} ns, socketpair spin {:.0} ns, pipe {:.0} ns, ours {:.0} ns, map c1 {:.0}/s, c100 {:.0}/s, first {:.2} ms, primes {:.2}x",
            rep + 1,
            shm.last().unwrap(),
            spin.last().unwrap(),
            median(&p),
            median(&o),
            m1.last().unwrap(),
            m100.last().unwrap(),
            f.iter().copied().fold(f64::NAN, f64::min) / 1e6,
            s / pp
        );
    }
    let cell = |r: &Result<Vec<f64>, String>, scale: f64, d: usize| match r {
        Ok(v) if !v.is_empty() => num(median(v) / scale, d),
        Ok(_) => "—".into(),
        Err(e) => e.clone(),
    };
    let pipe_m = median(&pipe);
    let ours_m = median(&ours_rt.0);
    let shm_m = median(&shm);
    let spin_m = median(&spin);
    let min = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
    let ratios = |m: f64| vec![format!("{:.1}×", m / shm_m), format!("{:.2}×", m / spin_m)];
    let mut t1 = Table::new(&[
        "round trip (2 workers)",
        "median µs",
        "min µs",
        "× shared memory",
        "× socketpair (spinning)",
    ]);
    let mut row = |label: &str, m: f64, mn: String| {
        let mut r = vec![label.to_string(), num(m / 1e3, 2), mn];
        r.extend(ratios(m));
        t1.row(r);
    };
    row(
        "limit: shared-memory ping-pong (1 cache line each way, both spinning)",
        shm_m,
        num(min(&shm) / 1e3, 2),
    );
    row(
        "limit: socketpair ping-pong (1 byte, both sides spinning)",
        spin_m,
        num(min(&spin) / 1e3, 2),
    );
    row(
        "blocking pipe ping-pong (1 byte, 2 processes; the wake-up)",
        pipe_m,
        num(min(&pipe) / 1e3, 2),
    );
    row(
        &format!(
            "concurrent-futures ProcessPoolExecutor (p90 {} µs; target ≤ 3 µs)",
            num(median(&ours_rt.1) / 1e3, 2)
        ),
        ours_m,
        num(min(&ours_rt.0) / 1e3, 2),
    );
    row(
        "procspawn 1.0 Pool (a tenth as many)",
        median(&ps_rt),
        num(min(&ps_rt) / 1e3, 1),
    );
    match &py_rt {
        Ok(v) if !v.is_empty() => row(
            "Python ProcessPoolExecutor (fork)",
            median(v),
            num(min(v) / 1e3, 1),
        ),
        _ => t1.row(vec![
            "Python ProcessPoolExecutor (fork)".into(),
            cell(&py_rt, 1e3, 1),
            "—".into(),
            "—".into(),
            "—".into(),
        ]),
    }

    let mut t2 = Table::new(&[
        "map throughput",
        "concurrent-futures",
        "procspawn 1.0",
        "Python (fork)",
        "target",
    ]);
    t2.row(vec![
        "chunksize 1, tasks/s".into(),
        num(median(&m1), 0),
        format!(
            "{} (spawn/join, {} at a time)",
            num(median(&ps_batches), 0),
            procspawn_peer::BATCH
        ),
        cell(&py_m1, 1.0, 0),
        format!("≥ 500,000 ({:.2}× of it)", median(&m1) / 500_000.0),
    ]);
    t2.row(vec![
        "chunksize 100, items/s".into(),
        num(median(&m100), 0),
        "—".into(),
        cell(&py_m100, 1.0, 0),
        format!("≥ 10,000,000 ({:.2}× of it)", median(&m100) / 10_000_000.0),
    ]);
    t2.row(vec![
        "chunksize 100 through the Executor trait, items/s".into(),
        num(median(&m100_trait), 0),
        "—".into(),
        "—".into(),
        format!(
            "= the row above ({:.2}× of it)",
            median(&m100_trait) / median(&m100)
        ),
    ]);
    t2.row(vec![
        "new() → first result, ms".into(),
        num(median(&first) / 1e6, 2),
        "—".into(),
        cell(&py_first, 1e6, 2),
        "≤ 10".into(),
    ]);
    let primes_label = format!("prime counting below {}", num(limit as f64, 0));
    let mut t3 = Table::new(&[&primes_label, "seconds", "speed-up", "× limit (2.0×)"]);
    t3.row(vec![
        "sequential".into(),
        num(median(&seq_s), 3),
        "1.00×".into(),
        "".into(),
    ]);
    t3.row(vec![
        "ProcessPoolExecutor, 2 workers (map); target ≥ 1.9×".into(),
        num(median(&par_s), 3),
        format!("{:.2}×", median(&speedups)),
        format!("{:.2}", median(&speedups) / 2.0),
    ]);
    Section {
        group: "process",
        title: "6. Process engine: round trip, map throughput, start-up, CPU-bound speed-up".into(),
        workload: format!(
            "2 worker processes. Round trip: sequential `submit_fn(inc, i).result()`, {} times after {} \
             warm-up, each timed, vs. the limits measured in the same repetition (a ping-pong \
             between two processes over shared memory and over a socketpair, both sides \
             spinning), a blocking ping-pong over two pipes, and Python's \
             `submit(inc, i).result()` (a tenth as many). `map(inc, 0..N)` with chunksize 1 \
             (N = {}; Python {}) and 100 (N = {}; Python {}). Start-up: `new()` to the first result, \
             a fresh pool each time ({} pools). Primes: ranges of 10,000. Medians over {}.",
            num(iters as f64, 0),
            num(warmup as f64, 0),
            num(c1 as f64, 0),
            num(py_c1 as f64, 0),
            num(c100 as f64, 0),
            num(py_c100 as f64, 0),
            pools,
            repetitions(reps)
        ),
        load: String::new(),
        tables: vec![t1, t2, t3, queued_table(cfg)],
        notes: vec![
            "The blocking pipe blocks in `read` on both sides, so on a virtual machine whose idle \
             CPUs take tens of microseconds to wake it pays the wake-up on every round trip; the \
             engine's reader and workers spin on their shared-memory ring for 50 µs before \
             blocking, so a prompt reply does not. The two spinning ping-pongs are the limits: the socketpair one is \
             what two syscalls per side cost, the shared-memory one what a cache line moving \
             between two cores costs."
                .into(),
        ],
    }
}
