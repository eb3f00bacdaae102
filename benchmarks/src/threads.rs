//! Workload 1, throughput: submit 1,000,000 empty tasks, then wait for every result; time per
//! task. Every pool has 2 workers and is warmed up first; each repetition uses a fresh pool,
//! and repetitions interleave the peers (rep 1 of every peer, then rep 2, ...) so that a slow
//! patch of the machine does not land on one peer. Python's `ThreadPoolExecutor` runs the same
//! loop (`submit` into a preallocated list, then `result()` on each).

use crate::peers::Kind;
use crate::report::{num, ratios, repetitions, Section, Table};
use crate::{measure::median, python, Config};

pub fn run(cfg: &Config) -> Section {
    let n = if cfg.quick { 20_000 } else { 1_000_000 };
    let reps = cfg.reps(5, 2);
    let mut ns: Vec<Vec<f64>> = vec![Vec::new(); Kind::ALL.len()];
    for rep in 0..reps {
        for (i, kind) in Kind::ALL.into_iter().enumerate() {
            let pool = kind.build(cfg.workers);
            let d = pool.batch(n);
            drop(pool);
            ns[i].push(d.as_nanos() as f64 / n as f64);
            eprintln!(
                "threads: rep {} {:<40} {:>8.1} ns/task",
                rep + 1,
                kind.label(),
                ns[i].last().unwrap()
            );
        }
    }
    let mut labels: Vec<String> = Kind::ALL.iter().map(|k| k.label().to_string()).collect();
    let mut medians: Vec<Option<f64>> = ns.iter().map(|v| Some(median(v))).collect();
    let mut spreads: Vec<String> = ns.iter().map(|v| spread(v)).collect();

    labels.push(python::LABEL.into());
    let py = python::run(
        cfg.python.as_deref(),
        &[
            "batch".into(),
            "--tasks".into(),
            n.to_string(),
            "--reps".into(),
            reps.to_string(),
        ],
    );
    match py {
        Ok(v) => {
            let per: Vec<f64> = python::numbers(&v, "seconds")
                .iter()
                .map(|s| s * 1e9 / n as f64)
                .collect();
            eprintln!("threads: {:<40} {:?} ns/task", python::LABEL, per);
            medians.push(Some(median(&per)));
            spreads.push(spread(&per));
        }
        Err(why) => {
            medians.push(None);
            spreads.push(why);
        }
    }

    let mut t = Table::new(&[
        "pool (2 workers)",
        "ns/task (median)",
        "× best",
        "min … max",
    ]);
    for (((label, m), r), s) in labels
        .iter()
        .zip(&medians)
        .zip(ratios(&medians))
        .zip(spreads)
    {
        t.row(vec![
            label.clone(),
            m.map_or("—".into(), |m| num(m, 0)),
            r,
            s,
        ]);
    }
    Section {
        group: "threads",
        title: "1. Throughput: many empty tasks".into(),
        workload: format!(
            "Submit {} empty tasks, then wait for all of them; wall time per task, median of {} \
             (a fresh, warmed-up pool of {} workers each). Ours: `submit` + \
             `Future::result`; rayon: `scope` + `spawn`; crossbeam-channel pool: boxed closures \
             on one channel, a `oneshot` channel per result; threadpool: `execute` + one \
             shared `mpsc` channel; rusty_pool: `evaluate` + `await_complete`; tokio: \
             `spawn_blocking` with `max_blocking_threads(2)`, awaiting each `JoinHandle`; \
             Python: `submit` + `result()`.",
            num(n as f64, 0),
            repetitions(reps),
            cfg.workers
        ),
        load: String::new(),
        tables: vec![t],
        notes: vec![],
    }
}

/// `min … max` of the repetitions.
pub fn spread(v: &[f64]) -> String {
    let min = v.iter().copied().fold(f64::INFINITY, f64::min);
    let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    format!("{} … {}", num(min, 0), num(max, 0))
}
