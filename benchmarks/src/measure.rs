//! What the workloads measure with: order statistics, the process's CPU time and context
//! switches (`getrusage(RUSAGE_SELF)`, every thread of the process), its resident memory
//! (`/proc/self/statm`), and the child-process runner that gives a measurement a fresh heap.

use std::process::Command;
use std::time::{Duration, Instant};

/// The median of `xs` (the mean of the middle two for an even count); NaN when empty.
pub fn median(xs: &[f64]) -> f64 {
    percentile(xs, 50.0)
}

/// The `p`-th percentile of `xs` by linear interpolation between closest ranks; NaN when empty.
pub fn percentile(xs: &[f64], p: f64) -> f64 {
    if xs.is_empty() {
        return f64::NAN;
    }
    let mut v = xs.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    let rank = p / 100.0 * (v.len() - 1) as f64;
    let lo = rank.floor() as usize;
    let hi = rank.ceil() as usize;
    v[lo] + (v[hi] - v[lo]) * (rank - lo as f64)
}

/// Runs `op` `warmup` times, then `iters` times timing each call; nanoseconds per call.
pub fn time_each(warmup: usize, iters: usize, mut op: impl FnMut()) -> Vec<f64> {
    for _ in 0..warmup {
        op();
    }
    let mut out = Vec::with_capacity(iters);
    for _ in 0..iters {
        let t = Instant::now();
        op();
        out.push(t.elapsed().as_nanos() as f64);
    }
    out
}

/// CPU time (user + system) used so far by every thread of this process, and its context
/// switches (voluntary + involuntary).
pub fn cpu_and_switches() -> (Duration, u64) {
    // SAFETY: `getrusage` only writes the `rusage` we pass, which is valid for writes and may
    // start zeroed (all-zero is a valid `rusage`).
    let ru = unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        let rc = libc::getrusage(libc::RUSAGE_SELF, &mut ru);
        assert_eq!(rc, 0, "getrusage failed");
        ru
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    (
        tv(ru.ru_utime) + tv(ru.ru_stime),
        (ru.ru_nvcsw + ru.ru_nivcsw) as u64,
    )
}

/// How busy the machine is apart from this harness: start with [`Interference::start`], read
/// with [`Interference::share`].
pub struct Interference {
    wall: Instant,
    busy: Duration,
    ours: Duration,
}

impl Interference {
    pub fn start() -> Self {
        Interference {
            wall: Instant::now(),
            busy: machine_busy(),
            ours: own_cpu(),
        }
    }

    /// The share of the machine's CPU capacity (all cores) used by *other* processes since
    /// `start`: the machine's busy time (`/proc/stat`) minus this process's and its waited-for
    /// children's CPU time (`getrusage`), over wall time × cores. 0.0 on a quiet machine.
    pub fn share(&self) -> f64 {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
        let wall = self.wall.elapsed().as_secs_f64();
        let busy = machine_busy().saturating_sub(self.busy).as_secs_f64();
        let ours = own_cpu().saturating_sub(self.ours).as_secs_f64();
        ((busy - ours) / (wall * cores)).clamp(0.0, 1.0)
    }
}

/// CPU time spent by all cores outside idle and iowait since boot (`/proc/stat`, first line).
fn machine_busy() -> Duration {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let fields: Vec<u64> = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .filter_map(|f| f.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest time is already in user).
    let busy: u64 = fields
        .iter()
        .take(8)
        .enumerate()
        .filter(|(i, _)| *i != 3 && *i != 4)
        .map(|(_, v)| v)
        .sum();
    // SAFETY: `sysconf` has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Duration::from_nanos(busy * (1_000_000_000 / hz))
}

/// CPU time of this process and of its children that have been waited for.
fn own_cpu() -> Duration {
    let usage = |who| {
        // SAFETY: as in `cpu_and_switches`.
        let ru = unsafe {
            let mut ru: libc::rusage = std::mem::zeroed();
            libc::getrusage(who, &mut ru);
            ru
        };
        let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
        tv(ru.ru_utime) + tv(ru.ru_stime)
    };
    usage(libc::RUSAGE_SELF) + usage(libc::RUSAGE_CHILDREN)
}

/// Resident set size of this process in bytes (`/proc/self/statm`, second field).
pub fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("read /proc/self/statm");
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("parse /proc/self/statm");
    // SAFETY: `sysconf` has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    pages * page as u64
}

/// Runs this harness again as `bench __child ARGS...` and returns what the child printed on
/// its last line. Used where a measurement needs a process of its own: resident memory (no
/// heap left over from earlier workloads) and idle CPU (no threads left over from other pools).
pub fn run_child(args: &[String]) -> Result<String, String> {
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let out = Command::new(exe)
        .arg("__child")
        .args(args)
        .output()
        .map_err(|e| format!("could not start the child: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "child {:?} failed ({}): {}",
            args,
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    stdout
        .lines()
        .last()
        .map(str::to_owned)
        .ok_or_else(|| format!("child {args:?} printed nothing"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_statistics() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(percentile(&[1.0, 2.0, 3.0, 4.0, 5.0], 90.0), 4.6);
        assert!(median(&[]).is_nan());
    }

    #[test]
    fn process_counters_move() {
        let (cpu0, _) = cpu_and_switches();
        let mut x = 0u64;
        for i in 0..10_000_000u64 {
            x = x.wrapping_add(std::hint::black_box(i));
        }
        std::hint::black_box(x);
        let (cpu1, _) = cpu_and_switches();
        assert!(cpu1 >= cpu0);
        assert!(rss_bytes() > 0);
    }
}
