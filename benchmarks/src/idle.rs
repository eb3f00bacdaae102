//! Workload 3, idle cost: a pool of 2 workers runs a burst of 100,000 empty tasks, then sits
//! idle for 1 second; reported is the CPU time (user + system, `getrusage(RUSAGE_SELF)`) and the
//! context switches the whole process spends in that second, median of 3 repetitions. Each
//! measurement runs in a child process of its own (`bench __child idle PEER ...`), so no thread
//! of another pool is around; the "no pool" row is the same child with no pool (the cost of
//! the measuring thread's own sleep). Python runs the same in its own process.

use std::time::{Duration, Instant};

use crate::measure::{cpu_and_switches, median, run_child};
use crate::peers::Kind;
use crate::report::{num, repetitions, Section, Table};
use crate::{python, Config};

/// (CPU ns, context switches) per repetition, or why there are none.
type Samples = Result<Vec<(f64, f64)>, String>;

pub fn run(cfg: &Config) -> Section {
    let burst: usize = if cfg.quick { 5_000 } else { 100_000 };
    let window = if cfg.quick {
        Duration::from_millis(200)
    } else {
        Duration::from_secs(1)
    };
    let reps = cfg.reps(3, 1);
    let mut rows: Vec<(String, Samples)> = Vec::new();
    let ids: Vec<(&str, String)> = std::iter::once(("none", "no pool (baseline)".to_string()))
        .chain(Kind::ALL.iter().map(|k| (k.id(), k.label().to_string())))
        .collect();
    for (id, label) in ids {
        let mut got = Vec::new();
        let mut err = None;
        for _ in 0..reps {
            let args = vec![
                "idle".to_string(),
                id.to_string(),
                burst.to_string(),
                window.as_millis().to_string(),
                cfg.workers.to_string(),
            ];
            match run_child(&args).and_then(|line| parse_pair(&line)) {
                Ok(p) => got.push(p),
                Err(e) => err = Some(e),
            }
        }
        eprintln!("idle: {label:<40} {got:?}");
        rows.push((label, err.map_or(Ok(got), Err)));
    }
    let mut py_got = Vec::new();
    let mut py_err = None;
    for _ in 0..reps {
        let py = python::run(
            cfg.python.as_deref(),
            &[
                "idle".into(),
                "--burst".into(),
                burst.to_string(),
                "--window".into(),
                window.as_secs_f64().to_string(),
            ],
        );
        match py {
            Ok(v) => py_got.push((
                v["cpu_seconds"].as_f64().unwrap_or(f64::NAN) * 1e9,
                v["switches"].as_f64().unwrap_or(f64::NAN),
            )),
            Err(e) => py_err = Some(e),
        }
    }
    rows.push((python::LABEL.into(), py_err.map_or(Ok(py_got), Err)));

    let mut t = Table::new(&[
        "pool (2 workers), idle",
        "CPU µs in the window",
        "% of one core",
        "context switches",
    ]);
    for (label, r) in rows {
        match r {
            Ok(v) if !v.is_empty() => {
                let cpu = median(&v.iter().map(|p| p.0).collect::<Vec<_>>());
                let sw = median(&v.iter().map(|p| p.1).collect::<Vec<_>>());
                t.row(vec![
                    label,
                    num(cpu / 1e3, 0),
                    format!("{:.3}", cpu / window.as_nanos() as f64 * 100.0),
                    num(sw, 0),
                ]);
            }
            Ok(_) => t.row(vec![label, "—".into(), "—".into(), "—".into()]),
            Err(why) => t.row(vec![label, why, "—".into(), "—".into()]),
        }
    }
    Section {
        group: "idle",
        title: "3. Idle cost: CPU used by a pool with nothing to do".into(),
        workload: format!(
            "A pool of {} workers runs a burst of {} empty tasks, then sits idle for {:.1} s; \
             CPU time (user + system) and context switches of the whole process in that window \
             (`getrusage(RUSAGE_SELF)`), median of {}, each in a fresh process. \
             \"No pool\" is the measuring thread alone.",
            cfg.workers,
            num(burst as f64, 0),
            window.as_secs_f64(),
            repetitions(reps)
        ),
        load: String::new(),
        tables: vec![t],
        notes: vec![],
    }
}

fn parse_pair(line: &str) -> Result<(f64, f64), String> {
    let mut it = line.split_whitespace().map(str::parse::<f64>);
    match (it.next(), it.next()) {
        (Some(Ok(a)), Some(Ok(b))) => Ok((a, b)),
        _ => Err(format!("bad child output {line:?}")),
    }
}

/// In the child: `PEER BURST WINDOW_MS WORKERS` → prints `CPU_NS SWITCHES`.
pub fn child(args: &[String]) -> Result<String, String> {
    let [peer, burst, window_ms, workers] = args else {
        return Err("usage: __child idle PEER BURST WINDOW_MS WORKERS".into());
    };
    let burst: usize = burst.parse().map_err(|_| "bad BURST")?;
    let window = Duration::from_millis(window_ms.parse().map_err(|_| "bad WINDOW_MS")?);
    let workers: usize = workers.parse().map_err(|_| "bad WORKERS")?;
    let pool = match peer.as_str() {
        "none" => None,
        id => Some(
            Kind::from_id(id)
                .ok_or_else(|| format!("unknown peer {id}"))?
                .build(workers),
        ),
    };
    if let Some(p) = &pool {
        p.batch(burst);
    }
    let (cpu0, sw0) = cpu_and_switches();
    let t = Instant::now();
    std::thread::sleep(window);
    let (cpu1, sw1) = cpu_and_switches();
    let elapsed = t.elapsed();
    // Scale to the nominal window in case the sleep overran.
    let scale = window.as_secs_f64() / elapsed.as_secs_f64();
    let cpu = (cpu1 - cpu0).as_nanos() as f64 * scale;
    let sw = (sw1 - sw0) as f64 * scale;
    drop(pool);
    Ok(format!("{cpu} {sw}"))
}
