//! Workload 2, latency: one task at a time, `submit` then wait for its result, 20,000 times
//! after 2,000 untimed warm-up round trips; each round trip timed on its own. Reported: the
//! median and the 90th percentile of each repetition, then the median of those over the
//! repetitions (a fresh pool of 2 workers each, peers interleaved). Ours: `submit(..).result()`;
//! rayon: `install` (its submit-and-wait); crossbeam-channel pool: send + `recv` on the task's
//! `oneshot`; threadpool: `execute` + `recv` on a shared channel; rusty_pool: `evaluate` +
//! `await_complete`; tokio: `spawn_blocking(..).await` inside one `block_on`; Python:
//! `submit(f).result()` timed with `perf_counter_ns`.

use crate::measure::{median, percentile};
use crate::peers::Kind;
use crate::report::{num, ratios, repetitions, Section, Table};
use crate::{python, Config};

pub fn run(cfg: &Config) -> Section {
    let (iters, warmup) = if cfg.quick {
        (2_000, 200)
    } else {
        (20_000, 2_000)
    };
    let reps = cfg.reps(3, 1);
    // Per peer: the median and the p90 of each repetition.
    let mut p50: Vec<Vec<f64>> = vec![Vec::new(); Kind::ALL.len() + 1];
    let mut p90: Vec<Vec<f64>> = vec![Vec::new(); Kind::ALL.len() + 1];
    let mut py_err = None;
    for rep in 0..reps {
        for (i, kind) in Kind::ALL.into_iter().enumerate() {
            let pool = kind.build(cfg.workers);
            let s = pool.round_trips(warmup, iters);
            drop(pool);
            p50[i].push(median(&s));
            p90[i].push(percentile(&s, 90.0));
            eprintln!(
                "roundtrip: rep {} {:<40} p50 {:>8.0} ns  p90 {:>8.0} ns",
                rep + 1,
                kind.label(),
                median(&s),
                percentile(&s, 90.0)
            );
        }
        let py = python::run(
            cfg.python.as_deref(),
            &[
                "roundtrip".into(),
                "--iters".into(),
                iters.to_string(),
                "--warmup".into(),
                warmup.to_string(),
            ],
        );
        match py {
            Ok(v) => {
                let s = python::numbers(&v, "ns");
                p50[Kind::ALL.len()].push(median(&s));
                p90[Kind::ALL.len()].push(percentile(&s, 90.0));
            }
            Err(why) => py_err = Some(why),
        }
    }
    let labels: Vec<&str> = Kind::ALL
        .iter()
        .map(|k| k.label())
        .chain([python::LABEL])
        .collect();
    let m50: Vec<Option<f64>> = p50
        .iter()
        .map(|v| (!v.is_empty()).then(|| median(v)))
        .collect();
    let m90: Vec<Option<f64>> = p90
        .iter()
        .map(|v| (!v.is_empty()).then(|| median(v)))
        .collect();
    let mut t = Table::new(&["pool (2 workers)", "median ns", "p90 ns", "× best (median)"]);
    for (i, r) in ratios(&m50).into_iter().enumerate() {
        let cell = |x: Option<f64>| match (x, &py_err) {
            (Some(x), _) => num(x, 0),
            (None, Some(why)) => why.clone(),
            (None, None) => "—".into(),
        };
        t.row(vec![labels[i].into(), cell(m50[i]), cell(m90[i]), r]);
    }
    Section {
        group: "roundtrip",
        title: "2. Latency: sequential submit → result".into(),
        workload: format!(
            "One task at a time: submit an empty task and wait for its result, {} times after {} \
             untimed warm-up round trips, each timed on its own; the median and the 90th \
             percentile of each repetition, median over {} (a fresh pool of {} \
             workers each). Ours: `submit(..).result()`; rayon: `install`; crossbeam-channel \
             pool: send + `recv` on the task's `oneshot`; threadpool: `execute` + `recv`; \
             rusty_pool: `evaluate` + `await_complete`; tokio: `spawn_blocking(..).await`; \
             Python: `submit(f).result()`.",
            num(iters as f64, 0),
            num(warmup as f64, 0),
            repetitions(reps),
            cfg.workers
        ),
        load: String::new(),
        tables: vec![t],
        notes: vec![],
    }
}
