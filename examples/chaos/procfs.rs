//! What `/proc` says about this process: threads, open descriptors, child processes, memory.
//! Shared by the chaos runner (leak checks) and the load figures (peak RSS).

#![allow(dead_code)] // each user takes what it needs
use std::fs;

/// Threads of this process (`/proc/self/task`).
pub fn thread_count() -> usize {
    fs::read_dir("/proc/self/task").map_or(0, |d| d.count())
}

/// The names of this process's threads, for a leak report.
pub fn thread_names() -> Vec<String> {
    let Ok(dir) = fs::read_dir("/proc/self/task") else {
        return Vec::new();
    };
    dir.filter_map(Result::ok)
        .map(|e| {
            let comm = fs::read_to_string(e.path().join("comm")).unwrap_or_default();
            format!("{}:{}", e.file_name().to_string_lossy(), comm.trim())
        })
        .collect()
}

/// Open file descriptors (`/proc/self/fd`; the listing's own descriptor is counted every time,
/// so two counts compare).
pub fn fd_count() -> usize {
    fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
}

/// Processes whose parent is this process, zombies included: `(pid, state)`.
pub fn children() -> Vec<(u32, char)> {
    let me = std::process::id();
    let Ok(dir) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for entry in dir.filter_map(Result::ok) {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // "pid (comm) S ppid ...": comm may hold spaces and parentheses; split after the last ')'.
        let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
            continue;
        };
        let mut fields = rest.split_whitespace();
        let state = fields.next().and_then(|s| s.chars().next()).unwrap_or('?');
        if fields.next().and_then(|s| s.parse::<u32>().ok()) == Some(me) {
            out.push((pid, state));
        }
    }
    out
}

/// A `kB` figure from `/proc/self/status` (`VmHWM`, `VmRSS`, …).
pub fn status_kb(key: &str) -> Option<u64> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}

/// This process's threads: `(tid, name)` (a name is at most 15 bytes, as the kernel keeps it).
pub fn threads() -> Vec<(u32, String)> {
    let Ok(dir) = fs::read_dir("/proc/self/task") else {
        return Vec::new();
    };
    dir.filter_map(Result::ok)
        .filter_map(|e| {
            let tid = e.file_name().to_str()?.parse().ok()?;
            let comm = fs::read_to_string(e.path().join("comm")).unwrap_or_default();
            Some((tid, comm.trim().to_owned()))
        })
        .collect()
}

/// The name (`comm`) and state of any process, if it exists.
pub fn process(pid: u32) -> Option<(String, char)> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let comm = stat.get(open + 1..close)?.to_owned();
    let state = stat[close + 1..]
        .split_whitespace()
        .next()?
        .chars()
        .next()?;
    Some((comm, state))
}
