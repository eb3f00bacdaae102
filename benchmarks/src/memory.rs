//! Workload 5, memory per queued task: a pool with one worker runs a task that blocks on a
//! channel; 1,000,000 empty tasks are submitted behind it and the growth of the process's
//! resident memory (`/proc/self/statm`) across the submissions is divided by the task count.
//! The caller's handles (`Vec<Option<Future<()>>>` and the like) are allocated and touched
//! before the first reading, so the figure is what the pool keeps per queued task plus the
//! shared state the handle points to. Each peer runs in a child process of its own
//! (`bench __child memory PEER N`), so no heap freed by an earlier workload is reused; median of
//! 3 repetitions. Python runs the same with a `threading.Event` as the blocker.

use crate::measure::{median, run_child};
use crate::peers::Kind;
use crate::report::{num, ratios, repetitions, Section, Table};
use crate::{python, Config};

pub fn run(cfg: &Config) -> Section {
    let n: usize = if cfg.quick { 50_000 } else { 1_000_000 };
    let reps = cfg.reps(3, 1);
    let mut labels = Vec::new();
    let mut values: Vec<Option<f64>> = Vec::new();
    let mut errors: Vec<Option<String>> = Vec::new();
    for kind in Kind::ALL {
        let mut got = Vec::new();
        let mut err = None;
        for _ in 0..reps {
            let args = vec!["memory".to_string(), kind.id().to_string(), n.to_string()];
            match run_child(&args).and_then(|l| l.trim().parse::<f64>().map_err(|e| e.to_string()))
            {
                Ok(b) => got.push(b),
                Err(e) => err = Some(e),
            }
        }
        eprintln!("memory: {:<40} {got:?} bytes/task", kind.label());
        labels.push(kind.label().to_string());
        values.push((!got.is_empty()).then(|| median(&got)));
        errors.push(err);
    }
    let mut py = Vec::new();
    let mut py_err = None;
    for _ in 0..reps {
        match python::run(
            cfg.python.as_deref(),
            &["memory".into(), "--tasks".into(), n.to_string()],
        ) {
            Ok(v) => py.push(v["bytes_per_task"].as_f64().unwrap_or(f64::NAN)),
            Err(e) => py_err = Some(e),
        }
    }
    labels.push(python::LABEL.into());
    values.push((!py.is_empty()).then(|| median(&py)));
    errors.push(py_err);

    let mut t = Table::new(&[
        "pool (1 worker, blocked)",
        "bytes per queued task",
        "× best",
    ]);
    for (i, r) in ratios(&values).into_iter().enumerate() {
        let cell = match (values[i], &errors[i]) {
            (Some(v), _) => num(v, 0),
            (None, Some(e)) => e.clone(),
            (None, None) => "—".into(),
        };
        t.row(vec![labels[i].clone(), cell, r]);
    }
    Section {
        group: "memory",
        title: "5. Memory per queued task".into(),
        workload: format!(
            "One worker, blocked on a channel; {} empty tasks queued behind it; growth of \
             resident memory per queued task (the caller's handle vector allocated beforehand), \
             median of {}, each in a fresh process. What a peer keeps per task \
             differs: ours a task allocation (closure + future state) and a queue slot; the \
             crossbeam-channel pool a boxed closure and a `oneshot` channel; rusty_pool a \
             boxed closure and a oneshot; tokio a task cell; threadpool a boxed closure (its \
             result channel is shared); rayon a heap job in the worker's deque (no result \
             handle); Python a `Future` and a work item.",
            num(n as f64, 0),
            repetitions(reps)
        ),
        load: String::new(),
        tables: vec![t],
        notes: vec![],
    }
}

/// In the child: `PEER N` → prints the bytes per queued task.
pub fn child(args: &[String]) -> Result<String, String> {
    let [peer, n] = args else {
        return Err("usage: __child memory PEER N".into());
    };
    let n: usize = n.parse().map_err(|_| "bad N")?;
    let kind = Kind::from_id(peer).ok_or_else(|| format!("unknown peer {peer}"))?;
    let pool = kind.build(1);
    Ok(pool.pending_bytes(n).to_string())
}
