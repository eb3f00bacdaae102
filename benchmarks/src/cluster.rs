//! Workload 8, the cluster engine (`--features mpi`): 3 ranks on this machine over TCP
//! (`mpirun -n 3 --oversubscribe --mca btl tcp,self`), one manager and two worker ranks of one
//! local worker each. Measured: sequential round trip (median of 2,500 after 500 of warm-up),
//! `map` of a no-op with chunksize 1 (50,000 items) and 100 (2,000,000 items), start-up to the
//! first result, and the CPU the manager and the ranks use in one idle second; ours in static
//! mode (every rank runs `bench __child cluster static`) and in spawned mode; mpi4py.futures on
//! the same workloads (`python/bench_mpi.py`, with and without its back-off); and the limit, a
//! 16-byte rsmpi ping-pong between two busy-polling ranks. One repetition each.

use std::process::Command;
use std::time::{Duration, Instant};

use concurrent_futures::mpi::rsmpi::{self, traits::*};
use concurrent_futures::{register, MapOptions, MpiPoolExecutor, ProcessPoolExecutor};

use crate::report::{num, Section, Table};
use crate::Config;

fn noop(x: u64) -> u64 {
    x
}
register!(noop);

const MPIRUN: &[&str] = &["--oversubscribe", "--mca", "btl", "tcp,self"];

fn mpirun(n: usize, prog: &str, args: &[&str], env: &[(&str, &str)]) -> Result<String, String> {
    let mut cmd = Command::new("timeout");
    cmd.args(["300", "mpirun"]);
    // SAFETY: a plain libc query.
    if unsafe { libc::geteuid() } == 0 {
        cmd.arg("--allow-run-as-root");
    }
    cmd.args(MPIRUN).args(["-n", &n.to_string()]);
    for (k, v) in env {
        cmd.args(["-x", &format!("{k}={v}")]);
    }
    cmd.arg(prog).args(args);
    let out = cmd.output().map_err(|e| format!("skipped (mpirun: {e})"))?;
    if !out.status.success() {
        return Err(format!(
            "failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("")
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `key=value` pairs from the last line that has them.
fn field(out: &str, key: &str) -> Option<f64> {
    out.lines()
        .rev()
        .flat_map(|l| l.split_whitespace())
        .find_map(|kv| kv.strip_prefix(&format!("{key}=")))
        .and_then(|v| v.parse().ok())
}

fn cpu_ms(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let f: Vec<&str> = stat[stat.rfind(')')? + 2..].split(' ').collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    // SAFETY: a plain libc query.
    Some(ticks * 1000.0 / unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64)
}

/// The measurement, in a child: `static` (under mpirun), `spawned`, or `pingpong`.
pub fn child(args: &[String]) -> Result<String, String> {
    let start = Instant::now();
    let mode = args.first().map(String::as_str).unwrap_or("static");
    if mode == "pingpong" {
        let (universe, _) = rsmpi::initialize_with_threading(rsmpi::Threading::Funneled)
            .ok_or("MPI already initialised")?;
        let world = universe.world();
        let buf = [0u8; 16];
        let mut t = Vec::new();
        for i in 0..20_000 {
            let s = Instant::now();
            if world.rank() == 0 {
                world.process_at_rank(1).send(&buf[..]);
                let _ = world.process_at_rank(1).receive_vec::<u8>();
            } else if world.rank() == 1 {
                let _ = world.process_at_rank(0).receive_vec::<u8>();
                world.process_at_rank(0).send(&buf[..]);
            }
            if i >= 2_000 {
                t.push(s.elapsed().as_secs_f64() * 1e6);
            }
        }
        t.sort_by(f64::total_cmp);
        return Ok(if world.rank() == 0 {
            format!("rtt_us={:.2}", t[t.len() / 2])
        } else {
            String::new()
        });
    }
    if mode == "process" {
        // The other half of the floor: the round trip into a local worker process, as a worker
        // rank makes it for every task.
        let pool = ProcessPoolExecutor::with_max_workers(1).map_err(|e| e.to_string())?;
        let rtt = sequential_rtt(|i| pool.submit_fn(noop, i).unwrap().result().unwrap());
        return Ok(format!("rtt_us={rtt:.2}"));
    }
    let builder = MpiPoolExecutor::builder().workers_per_rank(1);
    let pool = if mode == "static" {
        match builder.join_world().map_err(|e| e.to_string())? {
            Some(p) => p,
            None => return Ok(String::new()),
        }
    } else {
        builder.max_workers(2).spawn().map_err(|e| e.to_string())?
    };
    pool.submit_fn(noop, 1)
        .unwrap()
        .result()
        .map_err(|e| e.to_string())?;
    let startup = start.elapsed().as_secs_f64() * 1e3;
    let rtt = sequential_rtt(|i| pool.submit_fn(noop, i).unwrap().result().unwrap());
    let mut rates = Vec::new();
    for (chunk, n) in [(1usize, 50_000u64), (100, 2_000_000)] {
        let t = Instant::now();
        let sum: u64 = pool
            .map_with(noop, 0..n, MapOptions::new().chunksize(chunk))
            .map(Result::unwrap)
            .sum();
        assert_eq!(sum, n * (n - 1) / 2);
        rates.push(n as f64 / t.elapsed().as_secs_f64());
    }
    let mut pids = vec![std::process::id()];
    pids.extend(pool.ranks().iter().map(|r| r.2));
    let before: Vec<_> = pids.iter().map(|&p| cpu_ms(p).unwrap_or(0.0)).collect();
    std::thread::sleep(Duration::from_secs(1));
    let idle: f64 = pids
        .iter()
        .zip(&before)
        .map(|(&p, b)| cpu_ms(p).unwrap_or(0.0) - b)
        .sum();
    Ok(format!(
        "rtt_us={rtt:.2} map1={:.0} map100={:.0} startup_ms={startup:.0} idle_ms={idle:.0}",
        rates[0], rates[1]
    ))
}

/// The median of 2,500 sequential round trips, after 500 of warm-up.
fn sequential_rtt(mut one: impl FnMut(u64) -> u64) -> f64 {
    let mut rtt: Vec<f64> = (0..3000)
        .map(|i| {
            let t = Instant::now();
            one(i);
            t.elapsed().as_secs_f64() * 1e6
        })
        .skip(500)
        .collect();
    rtt.sort_by(f64::total_cmp);
    rtt[rtt.len() / 2]
}

pub fn run(cfg: &Config) -> Section {
    let exe = std::env::current_exe().expect("own path");
    let exe = exe.to_str().expect("a UTF-8 path");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/python/bench_mpi.py");
    let ours_static = mpirun(3, exe, &["__child", "cluster", "static"], &[]);
    let ours_spawned = Command::new(exe)
        .args(["__child", "cluster", "spawned"])
        .output()
        .map_err(|e| e.to_string())
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned());
    let py = cfg
        .python
        .as_ref()
        .and_then(|p| p.to_str())
        .unwrap_or("python3");
    let mpi4py = mpirun(3, py, &["-m", "mpi4py.futures", script], &[]);
    let mpi4py0 = mpirun(
        3,
        py,
        &["-m", "mpi4py.futures", script],
        &[("MPI4PY_FUTURES_BACKOFF", "0")],
    );
    let ping = mpirun(2, exe, &["__child", "cluster", "pingpong"], &[]);
    let process = Command::new(exe)
        .args(["__child", "cluster", "process"])
        .output()
        .map_err(|e| e.to_string())
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned());
    let runs = [
        ("concurrent-futures, static (mpirun -n 3)", &ours_static),
        ("concurrent-futures, spawned (2 ranks)", &ours_spawned),
        ("mpi4py.futures (mpirun -n 3)", &mpi4py),
        ("mpi4py.futures, MPI4PY_FUTURES_BACKOFF=0", &mpi4py0),
    ];
    let limit = ping.as_ref().ok().and_then(|o| field(o, "rtt_us"));
    let best_py = [&mpi4py, &mpi4py0]
        .iter()
        .filter_map(|r| r.as_ref().ok().and_then(|o| field(o, "rtt_us")))
        .fold(f64::INFINITY, f64::min);
    let mut t = Table::new(&[
        "run",
        "round trip µs",
        "× limit",
        "× faster than mpi4py",
        "map chunksize 1 items/s",
        "map chunksize 100 items/s",
        "start-up ms",
        "idle CPU ms in 1 s",
    ]);
    let cell = |o: &Result<String, String>, k: &str, d: usize| match o {
        Ok(o) => field(o, k).map_or("—".into(), |v| num(v, d)),
        Err(e) => e.clone(),
    };
    for (name, r) in runs {
        let rtt = r.as_ref().ok().and_then(|o| field(o, "rtt_us"));
        t.row(vec![
            name.into(),
            cell(r, "rtt_us", 1),
            rtt.zip(limit)
                .map_or("—".into(), |(a, l)| format!("{:.1}×", a / l)),
            rtt.filter(|_| best_py.is_finite())
                .map_or("—".into(), |a| format!("{:.1}×", best_py / a)),
            cell(r, "map1", 0),
            cell(r, "map100", 0),
            cell(r, "startup_ms", 0),
            cell(r, "idle_ms", 0),
        ]);
    }
    t.row(vec![
        "limit: rsmpi ping-pong, 16 bytes, busy-polling".into(),
        cell(&ping, "rtt_us", 1),
        "1.0×".into(),
        "—".into(),
        "—".into(),
        "—".into(),
        "—".into(),
        "—".into(),
    ]);
    let proc_rtt = process.as_ref().ok().and_then(|o| field(o, "rtt_us"));
    let dash = || vec!["—".to_string(); 5];
    t.row(
        [
            vec![
                "a process-engine round trip (1 worker), as a worker rank makes per task".into(),
                cell(&process, "rtt_us", 1),
                "—".into(),
            ],
            dash(),
        ]
        .concat(),
    );
    let floor = limit.zip(proc_rtt).map(|(l, p)| l + p);
    t.row(
        [
            vec![
                "floor: the ping-pong plus the process round trip".into(),
                floor.map_or("—".into(), |f| num(f, 1)),
                floor
                    .zip(limit)
                    .map_or("—".into(), |(f, l)| format!("{:.1}×", f / l)),
            ],
            dash(),
        ]
        .concat(),
    );
    Section {
        group: "cluster",
        title: "8. The cluster engine against mpi4py.futures".into(),
        workload: "3 ranks on this machine over TCP (`mpirun -n 3 --oversubscribe --mca btl \
                   tcp,self`): one manager, two worker ranks of one local worker each. \
                   Sequential round trip of a no-op (median of 2,500), `map` of a no-op with \
                   chunksize 1 (50,000 items) and 100 (2,000,000 items), start-up to the first \
                   result, and the CPU the manager and its ranks use in one idle second \
                   (clock-tick resolution, 10 ms). Targets: round trip ≤ 30 µs and ≥ 10× \
                   mpi4py.futures, chunksize 1 ≥ 60,000 items/s, idle ≈ 0."
            .into(),
        load: String::new(),
        tables: vec![t],
        notes: vec![
            "The limit row is the transport alone; a task also crosses a process-engine round \
             trip inside the worker rank (measured in the same run, next row), so the design's \
             floor is their sum (last row)."
                .into(),
        ],
    }
}
