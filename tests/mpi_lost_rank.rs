//! A rank that goes silent, on one host: the test relaunches its own binary as the 3 ranks of an
//! `mpirun` job and stops one of them with `SIGSTOP` mid-run (a stopped process sends nothing,
//! as a node cut off from the network). The heartbeat must find it within the rank timeout:
//! - a stopped worker rank: under a library without fault tolerance (Debian's Open MPI 4.1) the
//!   job ends with exit code 75 and a message naming the rank and its host; under ULFM the pool
//!   goes on and every task still completes;
//! - a stopped manager: every worker rank stops with an error saying so.
//!
//! Never a hang: `mpirun` is bounded by `timeout`, and the test asserts it ended by itself.
#![cfg(feature = "mpi")]

#[path = "mpi/launch.rs"]
#[allow(dead_code)]
mod launch;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use concurrent_futures::mpi::FaultTolerance;
use concurrent_futures::{register, MpiPoolExecutor};

const TIMEOUT: Duration = Duration::from_secs(2);

fn nap(ms: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(ms));
    ms
}
fn size(v: Vec<u8>) -> usize {
    v.len()
}
fn blob(n: usize) -> Vec<u8> {
    vec![7; n]
}
register!(nap, size, blob);

/// A large argument or result takes longer to cross than the rank timeout (300 ms here), and
/// its receiver sends no beat meanwhile (Open MPI's TCP transport reads the message in one go):
/// its sender must give it that time, the receiver must tell its other peers to wait, and
/// nobody is taken for lost.
#[test]
fn large_argument_ranks() {
    if !launch::under_mpirun() {
        return;
    }
    let built = MpiPoolExecutor::builder()
        .workers_per_rank(1)
        .rank_timeout(Duration::from_millis(300))
        .join_world();
    let Some(pool) = built.expect("join") else {
        return;
    };
    let big = vec![7u8; 512 << 20];
    let started = std::time::Instant::now();
    let f = pool.submit_fn(size, big).unwrap();
    assert_eq!(f.result(), Ok(512 << 20));
    println!("512 MiB argument: {:?}", started.elapsed());
    // And a large result: the manager receiving it sends no beat to the other worker rank
    // meanwhile, so it tells it to wait first.
    let started = std::time::Instant::now();
    let f = pool.submit_fn(blob, 512 << 20).unwrap();
    assert_eq!(f.result().map(|v| v.len()), Ok(512 << 20));
    println!("512 MiB result: {:?}", started.elapsed());
    assert_eq!(pool.max_workers(), 2, "nobody was taken for lost");
    pool.shutdown(true, false);
}

#[test]
#[ignore = "heavy: a 512 MiB argument and result, about a minute in a debug build; run with --ignored"]
fn a_rank_receiving_a_large_frame_is_not_taken_for_lost() {
    if launch::under_mpirun() {
        return;
    }
    let _one = ONE_JOB.lock().unwrap_or_else(|p| p.into_inner());
    launch::run_on_ranks("large_argument_ranks", 3);
}

/// Rank 0 prints what the launcher needs, then keeps the ranks busy.
#[test]
fn busy_ranks() {
    if !launch::under_mpirun() {
        return;
    }
    let built = MpiPoolExecutor::builder()
        .workers_per_rank(1)
        .retries(2)
        .rank_timeout(TIMEOUT)
        .join_world();
    let pool = match built {
        Ok(Some(pool)) => pool,
        Ok(None) => return,
        Err(e) => {
            println!("worker rank error: {e}");
            return;
        }
    };
    let ranks = pool.ranks();
    println!(
        "ft={:?} manager={} rank2={}",
        pool.fault_tolerance(),
        std::process::id(),
        ranks[1].2
    );
    // Long enough that the stop lands mid-run: 100 tasks of 100 ms on 2 workers, 5 s.
    let futures: Vec<_> = (0..100)
        .map(|_| pool.submit_fn(nap, 100).unwrap())
        .collect();
    let ok = futures.into_iter().filter_map(|f| f.result().ok()).count();
    println!("results ok={ok} max_workers={}", pool.max_workers());
    pool.shutdown(true, false);
}

struct Job {
    pids: (u32, u32),
    ft: FaultTolerance,
    out: String,
    code: Option<i32>,
}

/// One job at a time: two jobs of 3 ranks at once on a small machine would stall ranks for
/// longer than the short timeout these tests use.
static ONE_JOB: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Runs `busy_ranks` on 3 ranks; stops rank 0 (`manager`) or rank 2 once the pool serves;
/// returns what the job printed and how `mpirun` ended.
fn run_and_stop(manager: bool) -> Job {
    let _one = ONE_JOB.lock().unwrap_or_else(|p| p.into_inner());
    let mut child = Command::new("timeout")
        .args([
            "-k",
            "5",
            "120",
            "mpirun",
            "--allow-run-as-root",
            "--oversubscribe",
        ])
        .args(["--mca", "btl", "tcp,self", "-n", "3"])
        .arg(std::env::current_exe().unwrap())
        .args(["--exact", "busy_ranks", "--test-threads=1", "--nocapture"])
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("mpirun is installed (apt-get install openmpi-bin)");
    let stderr = child.stderr.take().unwrap();
    let err = std::thread::spawn(move || std::io::read_to_string(stderr).unwrap_or_default());
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut out = String::new();
    let mut pids = None;
    let mut ft = FaultTolerance::None;
    for line in lines.by_ref() {
        let line = line.unwrap_or_default();
        out.push_str(&line);
        out.push('\n');
        if let Some(at) = line.find("ft=") {
            let rest = &line[at + 3..];
            ft = if rest.starts_with("Ulfm") {
                FaultTolerance::Ulfm
            } else {
                FaultTolerance::None
            };
            let num = |key: &str| -> u32 {
                let v = rest.split(key).nth(1).unwrap().split(' ').next().unwrap();
                v.parse().unwrap()
            };
            let p = (num("manager="), num("rank2="));
            let target = if manager { p.0 } else { p.1 };
            std::thread::sleep(Duration::from_millis(500));
            // SAFETY: a plain signal to a rank of the job this test started.
            unsafe { libc::kill(target as i32, libc::SIGSTOP) };
            pids = Some(p);
            break;
        }
    }
    for line in lines {
        out.push_str(&line.unwrap_or_default());
        out.push('\n');
    }
    let status = child.wait().unwrap();
    out.push_str(&err.join().unwrap());
    let pids = pids.unwrap_or_else(|| panic!("the pool never served:\n{out}"));
    // Whatever is still stopped goes (a stopped manager outlives its job on some libraries).
    for pid in [pids.0, pids.1] {
        // SAFETY: plain signals to processes this test started.
        unsafe { libc::kill(pid as i32, libc::SIGKILL) };
    }
    Job {
        pids,
        ft,
        out,
        code: status.code(),
    }
}

#[test]
fn a_silent_worker_rank_is_found_within_the_timeout() {
    if launch::under_mpirun() {
        return;
    }
    let job = run_and_stop(false);
    let out = &job.out;
    assert_ne!(job.code, Some(124), "mpirun had to be killed:\n{out}");
    assert_ne!(job.code, Some(137), "mpirun had to be killed:\n{out}");
    let lost = "worker rank 2 on";
    let silent = format!("(pid {}) was lost: it sent nothing for 2.0 s", job.pids.1);
    assert!(out.contains(lost) && out.contains(&silent), "{out}");
    match job.ft {
        FaultTolerance::Ulfm => {
            assert!(out.contains("results ok=100 max_workers=1"), "{out}");
        }
        _ => {
            assert!(
                out.contains("no fault tolerance, so the job is ended"),
                "{out}"
            );
            assert_eq!(job.code, Some(75), "{out}");
        }
    }
}

#[test]
fn worker_ranks_stop_when_their_manager_goes_silent() {
    if launch::under_mpirun() {
        return;
    }
    let job = run_and_stop(true);
    let out = &job.out;
    assert_ne!(job.code, Some(124), "mpirun had to be killed:\n{out}");
    assert_ne!(job.code, Some(137), "mpirun had to be killed:\n{out}");
    let stopped = "worker rank error: invalid executor configuration: worker rank";
    let why = "its manager (rank 0) was lost: it sent nothing for 2.0 s; this worker rank stops";
    assert_eq!(out.matches(why).count(), 2, "{out}");
    assert_eq!(out.matches(stopped).count(), 2, "{out}");
}
