//! Workload 4, CPU-bound scaling (seed 002's example): count the primes below 4,000,000 by trial
//! division (`is_prime(n)`: no divisor in `2..=isqrt(n)`), in ranges of 10,000 numbers, one task
//! per range. Sequentially on the calling thread, then with 2 workers: ours through `map` (the
//! seed's `executor.map(count_primes, ranges)`) and through `submit` + `result`, and rayon's
//! `par_iter` for reference. Median wall time of 5 repetitions (warm pools), speed-up over the
//! sequential run (about 1 s on the reference machine). The totals are checked against each
//! other (283,146 primes below 4,000,000).

use std::time::{Duration, Instant};

use concurrent_futures::ThreadPoolExecutor;
use rayon::prelude::*;

use crate::measure::median;
use crate::report::{num, repetitions, Section, Table};
use crate::Config;

const CHUNK: u64 = 10_000;

pub fn is_prime(n: u64) -> bool {
    if n < 2 {
        return false;
    }
    let mut i = 2;
    while i * i <= n {
        if n.is_multiple_of(i) {
            return false;
        }
        i += 1;
    }
    true
}

fn count_primes((start, end): (u64, u64)) -> u64 {
    (start..end)
        .filter(|&n| is_prime(std::hint::black_box(n)))
        .count() as u64
}

pub fn run(cfg: &Config) -> Section {
    let limit: u64 = if cfg.quick { 200_000 } else { 4_000_000 };
    let reps = cfg.reps(5, 1);
    let ranges: Vec<(u64, u64)> = (0..limit)
        .step_by(CHUNK as usize)
        .map(|s| (s, s + CHUNK))
        .collect();

    let pool = ThreadPoolExecutor::with_max_workers(cfg.workers).expect("pool");
    let rayon_pool = rayon::ThreadPoolBuilder::new()
        .num_threads(cfg.workers)
        .build()
        .expect("rayon pool");
    type Runner<'a> = Box<dyn Fn(&[(u64, u64)]) -> u64 + 'a>;
    let runners: Vec<(&str, Runner)> = vec![
        (
            "sequential (calling thread)",
            Box::new(|r: &[(u64, u64)]| r.iter().map(|&x| count_primes(x)).sum()),
        ),
        (
            "concurrent-futures, map",
            Box::new(|r: &[(u64, u64)]| {
                pool.map(count_primes, r.to_vec())
                    .map(|x| x.expect("task"))
                    .sum()
            }),
        ),
        (
            "concurrent-futures, submit + result",
            Box::new(|r: &[(u64, u64)]| {
                let fs: Vec<_> = r
                    .iter()
                    .map(|&x| pool.submit(move || count_primes(x)).expect("submit"))
                    .collect();
                fs.into_iter().map(|f| f.result().expect("task")).sum()
            }),
        ),
        (
            "rayon, par_iter",
            Box::new(|r: &[(u64, u64)]| {
                rayon_pool.install(|| r.par_iter().map(|&x| count_primes(x)).sum())
            }),
        ),
    ];
    // Warm-up (starts the pools' threads, faults in the code).
    let warm = &ranges[..ranges.len().min(4)];
    let expect = runners[0].1(warm);
    for (name, f) in &runners {
        assert_eq!(f(warm), expect, "{name} disagrees");
    }

    let mut times: Vec<Vec<Duration>> = vec![Vec::new(); runners.len()];
    let mut totals = vec![0; runners.len()];
    for rep in 0..reps {
        for (i, (name, f)) in runners.iter().enumerate() {
            let t = Instant::now();
            totals[i] = f(&ranges);
            times[i].push(t.elapsed());
            eprintln!(
                "primes: rep {} {name:<40} {:?} ({} primes)",
                rep + 1,
                times[i].last().unwrap(),
                totals[i]
            );
        }
    }
    for (i, (name, _)) in runners.iter().enumerate() {
        assert_eq!(totals[i], totals[0], "{name} counted differently");
    }
    let med: Vec<f64> = times
        .iter()
        .map(|v| median(&v.iter().map(Duration::as_secs_f64).collect::<Vec<_>>()))
        .collect();
    let mut t = Table::new(&["run", "seconds (median)", "speed-up", "efficiency"]);
    for (i, (name, _)) in runners.iter().enumerate() {
        let workers = if i == 0 { 1.0 } else { cfg.workers as f64 };
        let speedup = med[0] / med[i];
        t.row(vec![
            (*name).into(),
            format!("{:.3}", med[i]),
            format!("{speedup:.2}×"),
            format!("{:.0} %", speedup / workers * 100.0),
        ]);
    }
    Section {
        group: "primes",
        title: "4. CPU-bound scaling: counting primes".into(),
        workload: format!(
            "Count the primes below {} by trial division, one task per range of {} numbers \
             ({} tasks), as in the seed's `executor.map(count_primes, ranges)`; sequential vs. \
             {} workers; median of {} on warm pools. Efficiency = speed-up / \
             workers.",
            num(limit as f64, 0),
            num(CHUNK as f64, 0),
            ranges.len(),
            cfg.workers,
            repetitions(reps)
        ),
        load: String::new(),
        tables: vec![t],
        notes: vec![format!(
            "{} primes found by every run.",
            num(totals[0] as f64, 0)
        )],
    }
}
