//! Workload 9, scaling: the thread engine and rayon with 1, 2, 4, 8 and 16 workers — as many of
//! those as the machine has cores — on a CPU-bound workload (prime counting below 2,000,000 in
//! ranges of 10,000, one task per range: ours `submit` + `result`, rayon `par_iter`) and on empty
//! tasks (200,000 submitted, then waited for, as in workload 1). Repetitions interleave every
//! (pool, workers) pair; the table shows each pair's median and minimum, the speed-up over the
//! same pool with one worker and the efficiency (speed-up ÷ workers). The same command measures
//! scaling on a larger machine.

use std::time::Instant;

use concurrent_futures::ThreadPoolExecutor;
use rayon::prelude::*;

use crate::measure::median;
use crate::peers::Kind;
use crate::primes::is_prime;
use crate::report::{num, repetitions, Section, Table};
use crate::Config;

const CHUNK: u64 = 10_000;

fn count(range: (u64, u64)) -> u64 {
    (range.0..range.1)
        .filter(|&n| is_prime(std::hint::black_box(n)))
        .count() as u64
}

/// Seconds to count the primes in `ranges` on our pool of `w` workers.
fn ours_cpu(w: usize, ranges: &[(u64, u64)]) -> (f64, u64) {
    let pool = ThreadPoolExecutor::with_max_workers(w).expect("pool");
    // Warm: every worker started.
    let warm: Vec<_> = (0..w).map(|_| pool.submit(|| ()).unwrap()).collect();
    warm.into_iter().for_each(|f| f.result().unwrap());
    let t = Instant::now();
    let futs: Vec<_> = ranges
        .iter()
        .map(|&r| pool.submit(move || count(r)).unwrap())
        .collect();
    let total = futs.into_iter().map(|f| f.result().unwrap()).sum();
    (t.elapsed().as_secs_f64(), total)
}

/// The same on a rayon pool of `w` threads.
fn rayon_cpu(w: usize, ranges: &[(u64, u64)]) -> (f64, u64) {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(w)
        .build()
        .expect("rayon pool");
    pool.install(|| (0..w).into_par_iter().for_each(|_| ()));
    let t = Instant::now();
    let total = pool.install(|| ranges.par_iter().map(|&r| count(r)).sum());
    (t.elapsed().as_secs_f64(), total)
}

pub fn run(cfg: &Config) -> Section {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let counts: Vec<usize> = [1, 2, 4, 8, 16]
        .into_iter()
        .filter(|&w| w <= cores)
        .collect();
    let limit: u64 = if cfg.quick { 200_000 } else { 2_000_000 };
    let empty = if cfg.quick { 20_000 } else { 200_000 };
    let reps = cfg.reps(3, 1);
    let ranges: Vec<(u64, u64)> = (0..limit)
        .step_by(CHUNK as usize)
        .map(|s| (s, s + CHUNK))
        .collect();
    let pools = [Kind::Ours, Kind::Rayon];
    // cpu[p][i] / tasks[p][i]: seconds per repetition for pool p with counts[i] workers.
    let mut cpu = vec![vec![Vec::new(); counts.len()]; pools.len()];
    let mut tasks = vec![vec![Vec::new(); counts.len()]; pools.len()];
    let mut totals = Vec::new();
    for rep in 0..reps {
        for (i, &w) in counts.iter().enumerate() {
            for (p, kind) in pools.iter().enumerate() {
                let (s, total) = match kind {
                    Kind::Ours => ours_cpu(w, &ranges),
                    _ => rayon_cpu(w, &ranges),
                };
                totals.push(total);
                cpu[p][i].push(s);
                let peer = kind.build(w);
                let d = peer.batch(empty);
                drop(peer);
                tasks[p][i].push(d.as_secs_f64());
                eprintln!(
                    "scaling: rep {} {:<38} {w:>2} workers: primes {s:.3} s, empty tasks {:.0} ns/task",
                    rep + 1,
                    kind.label(),
                    d.as_nanos() as f64 / empty as f64
                );
            }
        }
    }
    assert!(
        totals.windows(2).all(|t| t[0] == t[1]),
        "the pools disagree on the prime count: {totals:?}"
    );
    let min = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
    let table = |title: &str, data: &[Vec<Vec<f64>>], unit: &str, scale: f64, digits: usize| {
        let mut t = Table::new(&[
            title,
            "workers",
            &format!("median {unit}"),
            &format!("min {unit}"),
            "speed-up",
            "efficiency",
        ]);
        for (p, kind) in pools.iter().enumerate() {
            let base = median(&data[p][0]);
            for (i, &w) in counts.iter().enumerate() {
                let m = median(&data[p][i]);
                let speedup = base / m;
                t.row(vec![
                    kind.label().to_string(),
                    w.to_string(),
                    num(m * scale, digits),
                    num(min(&data[p][i]) * scale, digits),
                    format!("{speedup:.2}×"),
                    format!("{:.0} %", 100.0 * speedup / w as f64),
                ]);
            }
        }
        t
    };
    let per_task = 1e9 / empty as f64;
    Section {
        group: "scaling",
        title: "9. Scaling with the number of workers".into(),
        workload: format!(
            "Worker counts 1, 2, 4, 8, 16 up to this machine's {cores} cores ({}). CPU-bound: the \
             primes below {} by trial division, one task per range of {} (ours `submit` + \
             `result`, rayon `par_iter`), on a fresh pool warmed up first. Empty tasks: {} \
             submitted, then waited for. Medians and minimums over {}, repetitions interleaving \
             every pool and worker count. Speed-up is over the same pool with one worker; \
             efficiency is speed-up ÷ workers.",
            counts
                .iter()
                .map(|w| w.to_string())
                .collect::<Vec<_>>()
                .join(", "),
            num(limit as f64, 0),
            num(CHUNK as f64, 0),
            num(empty as f64, 0),
            repetitions(reps)
        ),
        load: String::new(),
        tables: vec![
            table("prime counting", &cpu, "s", 1.0, 3),
            table("empty tasks", &tasks, "ns/task", per_task, 0),
        ],
        notes: vec![],
    }
}
