//! Python's `concurrent.futures.ThreadPoolExecutor` as a peer: the harness runs
//! `benchmarks/python/bench_threads.py` (standard library only) with `python3` and reads the
//! one JSON object it prints. Where no `python3` can be found, the Python rows say "skipped".

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

pub const LABEL: &str = "Python ThreadPoolExecutor";

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/python/bench_threads.py");

/// `$PYTHON` if set, else the first `python3` on `PATH`.
pub fn find() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("PYTHON") {
        return Some(PathBuf::from(p));
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join("python3"))
        .find(|p| p.is_file())
}

/// The process-pool script (`bench process`).
pub const PROCESS_SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/python/bench_processes.py");

/// Runs one workload of the thread-pool script; `Err` carries the reason shown in the table.
pub fn run(python: Option<&Path>, args: &[String]) -> Result<Value, String> {
    run_script(python, SCRIPT, args)
}

/// Runs one workload of `script`.
pub fn run_script(python: Option<&Path>, script: &str, args: &[String]) -> Result<Value, String> {
    let python = python.ok_or_else(|| "skipped (python3 not found)".to_string())?;
    let out = Command::new(python)
        .arg(script)
        .args(args)
        .output()
        .map_err(|e| format!("skipped ({}: {e})", python.display()))?;
    if !out.status.success() {
        return Err(format!(
            "failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().last().unwrap_or_default();
    serde_json::from_str(line).map_err(|e| format!("failed (bad output: {e})"))
}

/// The numbers under `key` in a script's answer.
pub fn numbers(v: &Value, key: &str) -> Vec<f64> {
    v[key]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_f64).collect())
        .unwrap_or_default()
}
