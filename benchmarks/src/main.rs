//! The benchmark harness: `cargo run --release -p benchmarks --bin bench -- [OPTIONS] [GROUP...]`.
//!
//! Runs workload groups (all by default), prints a table per group, and rewrites
//! `BENCHMARKS.md` at the workspace root with the tables, the machine, the command and the date.
//! Each group is one module that states its workload in its header comment:
//!
//! | group       | module         | workload                                                   |
//! |-------------|----------------|------------------------------------------------------------|
//! | `threads`   | `threads.rs`   | 1,000,000 empty tasks, submit all then wait all: ns/task    |
//! | `roundtrip` | `roundtrip.rs` | sequential submit → result: median and p90                  |
//! | `idle`      | `idle.rs`      | CPU used by an idle pool in one second after a burst        |
//! | `primes`    | `primes.rs`    | CPU-bound prime counting: speed-up of 2 workers             |
//! | `memory`    | `memory.rs`    | resident bytes per task queued behind a blocked worker      |
//! | `scaling`   | `scaling.rs`   | 1, 2, 4, 8, 16 workers (up to the cores): speed-up, efficiency |
//! | `process`   | `process.rs`   | process engine vs. a raw pipe and Python's process pool     |
//! | `codec`     | `codec.rs`     | serde formats: encode/decode time and size of 4 payloads    |
//! | `cluster`   | `cluster.rs`   | the cluster engine vs. mpi4py.futures (`--features mpi`)    |
//!
//! The peers (`peers.rs`) and Python (`python.rs`, `python/bench_threads.py`) are shared by the
//! groups. A new group (say, `process` for the process engine) is a module with a
//! `run(&Config) -> Section` and a line in [`GROUPS`].

#[cfg(all(unix, feature = "mpi"))]
mod cluster;
#[cfg(unix)]
mod codec;
#[cfg(unix)]
mod idle;
#[cfg(unix)]
mod limits;
#[cfg(unix)]
mod measure;
#[cfg(unix)]
mod memory;
#[cfg(unix)]
mod peers;
#[cfg(unix)]
mod primes;
#[cfg(unix)]
mod process;
#[cfg(unix)]
mod procspawn_peer;
#[cfg(unix)]
mod python;
#[cfg(unix)]
mod report;
#[cfg(unix)]
mod roundtrip;
#[cfg(unix)]
mod scaling;
#[cfg(unix)]
mod threads;

#[cfg(unix)]
use std::path::{Path, PathBuf};

#[cfg(unix)]
use report::{Run, Section};

/// What every group is told about the run.
#[cfg(unix)]
pub struct Config {
    /// Small counts: a smoke run, seconds long.
    pub quick: bool,
    /// Repetitions requested on the command line (else each group's default).
    reps: Option<usize>,
    /// The Python interpreter, if one was found.
    pub python: Option<PathBuf>,
    /// Workers of every pool (the workloads are specified for 2).
    pub workers: usize,
}

#[cfg(unix)]
impl Config {
    /// The repetitions to run: `--reps`, else `full` (or `quick` under `--quick`).
    pub fn reps(&self, full: usize, quick: usize) -> usize {
        self.reps
            .unwrap_or(if self.quick { quick } else { full })
            .max(1)
    }
}

/// A measurement run in a child process: its arguments in, its one-line result out.
#[cfg(unix)]
type ChildFn = fn(&[String]) -> Result<String, String>;

/// A workload group.
#[cfg(unix)]
struct Group {
    name: &'static str,
    about: &'static str,
    run: fn(&Config) -> Section,
    /// The measurement a child process runs (`bench __child NAME ARGS...`), if the group needs
    /// one.
    child: Option<ChildFn>,
}

/// Every group, in the order they run and appear in `BENCHMARKS.md`.
#[cfg(unix)]
const GROUPS: &[Group] = &[
    Group {
        name: "threads",
        about: "throughput: 1,000,000 empty tasks, submit all then wait all",
        run: threads::run,
        child: None,
    },
    Group {
        name: "roundtrip",
        about: "latency: sequential submit -> result, median and p90",
        run: roundtrip::run,
        child: None,
    },
    Group {
        name: "idle",
        about: "CPU used by an idle pool in the second after a burst",
        run: idle::run,
        child: Some(idle::child),
    },
    Group {
        name: "primes",
        about: "CPU-bound prime counting: sequential vs. 2 workers",
        run: primes::run,
        child: None,
    },
    Group {
        name: "memory",
        about: "resident bytes per task queued behind a blocked worker",
        run: memory::run,
        child: Some(memory::child),
    },
    Group {
        name: "scaling",
        about: "the thread engine and rayon on 1, 2, 4, 8, 16 workers (up to the cores)",
        run: scaling::run,
        child: None,
    },
    Group {
        name: "process",
        about: "process engine: round trip vs. a raw pipe, map throughput, start-up, speed-up",
        run: process::run,
        child: Some(process::child),
    },
    Group {
        name: "codec",
        about: "serde formats: encode + decode time and encoded size, 4 payloads",
        run: codec::run,
        child: None,
    },
    #[cfg(feature = "mpi")]
    Group {
        name: "cluster",
        about: "the cluster engine vs. mpi4py.futures, 3 ranks over TCP (--features mpi)",
        run: cluster::run,
        child: Some(cluster::child),
    },
];

#[cfg(unix)]
const USAGE: &str = "\
usage: bench [--quick] [--reps N] [--write | --no-write] [--out PATH] [GROUP...]

Runs the benchmark groups (all if none is named), prints their tables and rewrites
BENCHMARKS.md (a full run does; a --quick run only with --write). Python's rows use
$PYTHON or the python3 on PATH, and say \"skipped\" without one.

options:
  --quick      small counts: a smoke run of a few seconds per group
  --reps N     repetitions of every measurement (default: per group)
  --write      write BENCHMARKS.md even for a --quick run
  --no-write   only print
  --out PATH   write there instead of BENCHMARKS.md
  --list       list the groups

bench solo PEER (batch|roundtrip) N [REPS] runs one peer's workload alone and prints its
figures, for profilers (perf record -g ./target/release/bench solo ours batch 1000000).
PEER: ours, rayon, crossbeam, threadpool, rusty_pool, tokio.";

#[cfg(not(unix))]
fn main() {
    eprintln!("bench: the harness measures with getrusage, /proc and fork: Unix only for now");
}

#[cfg(unix)]
fn main() {
    // A procspawn worker (the process group's peer) runs its function here and exits.
    procspawn::init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("__child") => std::process::exit(child(&args[1..])),
        Some("solo") => std::process::exit(solo(&args[1..])),
        _ => {}
    }

    let mut quick = false;
    let mut reps = None;
    let mut write = None;
    let mut out = Path::new(env!("CARGO_MANIFEST_DIR")).join("../BENCHMARKS.md");
    let mut chosen: Vec<&Group> = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--quick" => quick = true,
            "--write" => write = Some(true),
            "--no-write" => write = Some(false),
            "--reps" => match it.next().and_then(|n| n.parse().ok()) {
                Some(n) => reps = Some(n),
                None => fail("--reps needs a number"),
            },
            "--out" => match it.next() {
                Some(p) => out = PathBuf::from(p),
                None => fail("--out needs a path"),
            },
            "--list" => {
                for g in GROUPS {
                    println!("{:<10} {}", g.name, g.about);
                }
                return;
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                return;
            }
            name => match GROUPS.iter().find(|g| g.name == name) {
                Some(g) if !chosen.iter().any(|c| c.name == g.name) => chosen.push(g),
                Some(_) => {}
                None => fail(&format!("unknown group or option {name:?}")),
            },
        }
    }
    if chosen.is_empty() {
        chosen = GROUPS.iter().collect();
    } else {
        // Run (and write) in the canonical order, whatever the command line's.
        chosen.sort_by_key(|g| GROUPS.iter().position(|x| x.name == g.name));
    }
    let write = write.unwrap_or(!quick);

    let cfg = Config {
        quick,
        reps,
        python: python::find(),
        workers: 2,
    };
    let base = if cfg!(feature = "mpi") {
        "cargo run --release -p benchmarks --features mpi --bin bench"
    } else {
        "cargo run --release -p benchmarks --bin bench"
    };
    let command = std::iter::once(base.to_string())
        .chain((!args.is_empty()).then(|| format!("-- {}", args.join(" "))))
        .collect::<Vec<_>>()
        .join(" ");
    let run = Run::describe(command, quick, cfg.python.as_deref());
    run.print();
    if cfg!(debug_assertions) {
        eprintln!("warning: a debug build; figures are meaningless without --release");
    }

    let mut sections = Vec::new();
    for g in chosen {
        eprintln!("running {} ...", g.name);
        let before = report::load_average();
        let others = measure::Interference::start();
        let mut s = (g.run)(&cfg);
        let share = others.share();
        s.load = format!(
            "other processes used {:.0} % of the machine meanwhile (load average {before} → {})",
            share * 100.0,
            report::load_average()
        );
        if share > 0.05 {
            s.notes.push(format!(
                "**The machine was busy with other work** ({:.0} % of its CPU capacity went to \
                 other processes during this group): the figures are disturbed; re-run on a \
                 quiet machine for reference numbers.",
                share * 100.0
            ));
        }
        s.print();
        sections.push(s);
    }

    if write {
        let order: Vec<&str> = GROUPS.iter().map(|g| g.name).collect();
        match report::write_file(&out, &run, &sections, &order) {
            Ok(()) => println!("\nwrote {}", out.display()),
            Err(e) => fail(&format!("could not write {}: {e}", out.display())),
        }
    }
}

/// `bench __child GROUP ARGS...`: one measurement in a process of its own; prints its result.
#[cfg(unix)]
fn child(args: &[String]) -> i32 {
    let found = args
        .first()
        .and_then(|name| GROUPS.iter().find(|g| g.name == name))
        .and_then(|g| g.child);
    let Some(f) = found else {
        eprintln!("unknown child workload {args:?}");
        return 2;
    };
    match f(&args[1..]) {
        Ok(line) => {
            println!("{line}");
            0
        }
        Err(e) => {
            eprintln!("{e}");
            1
        }
    }
}

/// `bench solo PEER WORKLOAD N [REPS]`: one peer, one workload, nothing else in the process.
#[cfg(unix)]
fn solo(args: &[String]) -> i32 {
    let (Some(kind), Some(workload), Some(n)) = (
        args.first().and_then(|p| peers::Kind::from_id(p)),
        args.get(1),
        args.get(2).and_then(|n| n.parse::<usize>().ok()),
    ) else {
        fail("usage: bench solo PEER (batch|roundtrip) N [REPS]");
    };
    let reps: usize = args.get(3).and_then(|r| r.parse().ok()).unwrap_or(1);
    let pool = kind.build(2);
    for _ in 0..reps {
        match workload.as_str() {
            "batch" => {
                let d = pool.batch(n);
                println!(
                    "{}: {:.1} ns/task",
                    kind.label(),
                    d.as_nanos() as f64 / n as f64
                );
            }
            "roundtrip" => {
                let s = pool.round_trips(n / 10, n);
                println!(
                    "{}: median {:.0} ns, p90 {:.0} ns",
                    kind.label(),
                    measure::median(&s),
                    measure::percentile(&s, 90.0)
                );
            }
            other => fail(&format!("unknown workload {other:?}")),
        }
    }
    0
}

#[cfg(unix)]
fn fail(msg: &str) -> ! {
    eprintln!("bench: {msg}\n\n{USAGE}");
    std::process::exit(2);
}
