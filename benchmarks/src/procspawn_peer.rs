//! procspawn's `Pool`, the Rust crate a program would otherwise use to run functions in a pool
//! of worker processes, in the process group's run (`process.rs`), 2 workers as ours:
//! - round trip: sequential `pool.spawn(i, inc).join()`;
//! - throughput: `inc` over N items, spawned in batches of 250 handles, each batch joined
//!   before the next (procspawn has no `map`; a batch bounds its open handles);
//! - many queued: N tasks submitted at once, then every result joined; for both engines, each
//!   in a process of its own (`bench __child process queued ENGINE N`) with a deadline, since
//!   a pool that runs out of descriptors may fail, panic or stop.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use concurrent_futures::ProcessPoolExecutor;
use procspawn::Pool;

/// The items of one procspawn batch in the throughput run.
pub const BATCH: usize = 250;

fn inc(x: u64) -> u64 {
    x + 1
}

concurrent_futures::register!(inc);

fn pool() -> Pool {
    Pool::new(2).expect("a procspawn pool of 2")
}

/// Sequential round trips: nanoseconds each.
pub fn round_trips(warmup: usize, iters: usize) -> Vec<f64> {
    let pool = pool();
    let mut out = Vec::with_capacity(iters);
    for i in 0..(warmup + iters) as u64 {
        let t = Instant::now();
        let r = pool.spawn(i, inc).join().expect("a procspawn task");
        let dt = t.elapsed().as_nanos() as f64;
        assert_eq!(r, i + 1);
        if i as usize >= warmup {
            out.push(dt);
        }
    }
    pool.shutdown();
    out
}

/// `inc` over `items` items in batches of [`BATCH`]: items per second.
pub fn batches(items: usize) -> f64 {
    let pool = pool();
    let run = |n: usize| {
        let mut done = 0;
        while done < n {
            let k = BATCH.min(n - done);
            let handles: Vec<_> = (0..k as u64).map(|i| pool.spawn(i, inc)).collect();
            for (i, h) in handles.into_iter().enumerate() {
                assert_eq!(h.join().expect("a procspawn task"), i as u64 + 1);
            }
            done += k;
        }
    };
    run(BATCH); // workers started
    let t = Instant::now();
    run(items);
    let per_s = items as f64 / t.elapsed().as_secs_f64();
    pool.shutdown();
    per_s
}

/// `bench __child process queued ENGINE N`: submits N tasks at once, then waits for every
/// result; prints the seconds it took, or fails with what went wrong.
pub fn queued_child(args: &[String]) -> Result<String, String> {
    let [_, engine, n] = args else {
        return Err("usage: __child process queued (ours|procspawn) N".into());
    };
    let n: u64 = n.parse().map_err(|_| "bad N")?;
    let t = Instant::now();
    match engine.as_str() {
        "ours" => {
            let pool = ProcessPoolExecutor::with_max_workers(2).map_err(|e| e.to_string())?;
            let futures = (0..n)
                .map(|i| pool.submit_fn(inc, i))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| e.to_string())?;
            for (i, f) in futures.into_iter().enumerate() {
                if f.result().map_err(|e| e.to_string())? != i as u64 + 1 {
                    return Err(format!("task {i}: a wrong result"));
                }
            }
        }
        "procspawn" => {
            let pool = pool();
            let handles: Vec<_> = (0..n).map(|i| pool.spawn(i, inc)).collect();
            for (i, h) in handles.into_iter().enumerate() {
                let r = h.join().map_err(|e| format!("task {i}: {e}"))?;
                if r != i as u64 + 1 {
                    return Err(format!("task {i}: a wrong result"));
                }
            }
        }
        other => return Err(format!("unknown engine {other}")),
    }
    Ok(format!("{:.3}", t.elapsed().as_secs_f64()))
}

/// Runs `bench __child process queued ENGINE N` with a deadline: the seconds it took, or what
/// ended it (its error or panic message, or the deadline).
pub fn queued(engine: &str, n: usize, limit: Duration) -> Result<f64, String> {
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    // Stderr to a file: a child that prints much there must not block on a full pipe.
    let log = std::env::temp_dir().join(format!("bench-queued-{}-{engine}", std::process::id()));
    let file = std::fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
    let mut child = Command::new(exe)
        .args(["__child", "process", "queued", engine, &n.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::from(file))
        .process_group(0) // its workers with it, if it has to be killed
        .spawn()
        .map_err(|e| format!("could not start the child: {e}"))?;
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().map_err(|e| e.to_string())? {
            break s;
        }
        if start.elapsed() > limit {
            // SAFETY: a signal to the process group made for the child above.
            unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
            let _ = child.wait();
            let _ = std::fs::remove_file(&log);
            return Err(format!("no end within {limit:?} (killed)"));
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut out = String::new();
    let _ = child.stdout.take().map(|mut s| s.read_to_string(&mut out));
    let err = std::fs::read_to_string(&log).unwrap_or_default();
    let _ = std::fs::remove_file(&log);
    if status.success() {
        return out.trim().parse().map_err(|_| format!("unreadable: {out}"));
    }
    // A panic's message is the line after "panicked at"; else the last line said.
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    let why = match lines.iter().position(|l| l.contains("panicked at")) {
        Some(i) => format!("panicked: {}", lines.get(i + 1).unwrap_or(&"")),
        None => lines.last().unwrap_or(&"").to_string(),
    };
    Err(format!("{status}: {}", why.trim()))
}
