//! Results as tables: printed to the terminal and written to `BENCHMARKS.md`, together with
//! the machine's description, the command that reproduces them and the date.
//!
//! `BENCHMARKS.md` keeps one block per workload group between `<!-- bench:NAME -->` and
//! `<!-- /bench:NAME -->`. A run replaces the blocks of the groups it ran and keeps the others,
//! so `bench roundtrip` refreshes one section without discarding the rest; each block says when,
//! on which CPU and with which command it was measured. The machine section is rewritten only by
//! a run of every group (a partial run keeps it, since the kept blocks were measured there).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

/// One table of results.
pub struct Table {
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(header: &[&str]) -> Self {
        Table {
            header: header.iter().map(|s| s.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        debug_assert_eq!(cells.len(), self.header.len());
        self.rows.push(cells);
    }

    fn markdown(&self) -> String {
        let mut s = format!("| {} |\n", self.header.join(" | "));
        s += &format!(
            "|{}\n",
            self.header
                .iter()
                .enumerate()
                .map(|(i, _)| if i == 0 { "---|" } else { "---:|" })
                .collect::<String>()
        );
        for r in &self.rows {
            s += &format!("| {} |\n", r.join(" | "));
        }
        s
    }

    fn text(&self) -> String {
        let n = self.header.len();
        let width = |i: usize| {
            self.rows
                .iter()
                .map(|r| r[i].chars().count())
                .chain([self.header[i].chars().count()])
                .max()
                .unwrap_or(0)
        };
        let widths: Vec<usize> = (0..n).map(width).collect();
        let line = |cells: &[String]| {
            cells
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    if i == 0 {
                        format!("{c:<w$}", w = widths[i])
                    } else {
                        format!("{c:>w$}", w = widths[i])
                    }
                })
                .collect::<Vec<_>>()
                .join("  ")
        };
        let mut s = line(&self.header) + "\n";
        s += &"-".repeat(widths.iter().sum::<usize>() + 2 * (n - 1));
        s += "\n";
        for r in &self.rows {
            s += &line(r);
            s += "\n";
        }
        s
    }
}

/// What one workload group produced.
pub struct Section {
    /// The group's name on the command line (and in the file's markers).
    pub group: &'static str,
    pub title: String,
    /// What was measured, how (one paragraph, Markdown).
    pub workload: String,
    pub tables: Vec<Table>,
    /// Remarks under the tables (Markdown list items without the dash).
    pub notes: Vec<String>,
    /// How busy the machine was with other processes while the group ran (filled in by the
    /// runner): they make the figures noisier, so the file says so.
    pub load: String,
}

impl Section {
    fn markdown(&self, run: &Run) -> String {
        let mut s = format!("## {}\n\n{}\n\n", self.title, self.workload);
        s += &format!(
            "_Measured {} on {} with `{}`{}; {}._\n\n",
            run.date,
            run.cpu(),
            run.command,
            if run.quick {
                " (quick: small counts)"
            } else {
                ""
            },
            self.load
        );
        for t in &self.tables {
            s += &t.markdown();
            s += "\n";
        }
        for n in &self.notes {
            s += &format!("- {n}\n");
        }
        if !self.notes.is_empty() {
            s += "\n";
        }
        s
    }

    pub fn print(&self) {
        println!("\n== {} ==\n{}", self.title, self.load);
        for t in &self.tables {
            println!("{}", t.text());
        }
        for n in &self.notes {
            println!("  * {n}");
        }
    }
}

/// The circumstances of one run of the harness.
pub struct Run {
    pub command: String,
    pub date: String,
    pub quick: bool,
    pub machine: Vec<(String, String)>,
}

impl Run {
    pub fn describe(command: String, quick: bool, python: Option<&Path>) -> Self {
        Run {
            command,
            date: utc_now(),
            quick,
            machine: machine(python),
        }
    }

    /// The CPU line of the machine's description.
    fn cpu(&self) -> &str {
        self.machine
            .iter()
            .find(|(k, _)| k == "CPU")
            .map_or("an unknown CPU", |(_, v)| v.as_str())
    }

    pub fn print(&self) {
        println!("{}", self.command);
        for (k, v) in &self.machine {
            println!("  {k}: {v}");
        }
    }
}

/// Fixed text of the file: what it is and how to read it.
const PREAMBLE: &str = "\
# Benchmarks

The thread engine (`ThreadPoolExecutor`) against other thread pools, and the process engine
(`ProcessPoolExecutor`) against a raw pipe, both against Python's `concurrent.futures`, all
measured by one run of the harness in `benchmarks/` (its files state their workloads in their
header comments). Peers run in the same process run, with the same
number of workers; each figure is the median over several repetitions, and \"× best\" is the
ratio to the best peer of the table (1.00 = the best). The last group compares the serde
formats the process engine could send its messages in.

Reproduce with `cargo run --release -p benchmarks --bin bench` (all groups), or name groups:
`bench threads roundtrip idle primes memory process codec`; `--quick` is a short smoke run with
small counts (it prints, and does not rewrite this file unless given `--write`). Each section
below says when, on which CPU and with which command it was last measured; the machine section
describes the last run of all groups (a run of some keeps it).
";

/// Rewrites `path`: the preamble, the machine, then one block per group in `order`, taken from
/// `sections` if this run produced it, else kept from the existing file. The machine section
/// describes the latest run of every group: a run of some groups keeps the file's (the other
/// blocks were measured there), and each block names the CPU it was measured on.
pub fn write_file(
    path: &Path,
    run: &Run,
    sections: &[Section],
    order: &[&str],
) -> std::io::Result<()> {
    let old = std::fs::read_to_string(path).unwrap_or_default();
    let mut blocks: BTreeMap<&str, String> = BTreeMap::new();
    for g in order {
        if let Some(b) = extract_block(&old, g) {
            blocks.insert(g, b);
        }
    }
    for s in sections {
        blocks.insert(s.group, s.markdown(run));
    }
    let mut out = String::from(PREAMBLE);
    let full = order.iter().all(|g| sections.iter().any(|s| s.group == *g));
    match extract_machine(&old) {
        Some(kept) if !full => out += &kept,
        _ => {
            out += "\n## Machine\n\n";
            for (k, v) in &run.machine {
                out += &format!("- {k}: {v}\n");
            }
            out += &format!("- measured: {} (latest run of all groups)\n\n", run.date);
        }
    }
    for g in order {
        if let Some(b) = blocks.get(g) {
            out += &format!("<!-- bench:{g} -->\n{}<!-- /bench:{g} -->\n\n", b);
        }
    }
    std::fs::write(path, out)
}

/// The file's machine section: from its heading to the first block.
fn extract_machine(text: &str) -> Option<String> {
    let start = text.find("\n## Machine\n")?;
    let end = start + text[start..].find("<!-- bench:")?;
    Some(text[start..end].to_string())
}

fn extract_block(text: &str, group: &str) -> Option<String> {
    let open = format!("<!-- bench:{group} -->\n");
    let close = format!("<!-- /bench:{group} -->");
    let start = text.find(&open)? + open.len();
    let end = start + text[start..].find(&close)?;
    Some(text[start..end].to_string())
}

/// The 1-minute load average, from `/proc/loadavg`.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".into())
}

/// The machine: CPU model, cores, memory, OS, kernel, compiler, Python.
fn machine(python: Option<&Path>) -> Vec<(String, String)> {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let field = |name: &str| {
        cpuinfo
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split(':').nth(1))
            .map(|v| v.trim().to_string())
    };
    let logical = cpuinfo
        .lines()
        .filter(|l| l.starts_with("processor"))
        .count();
    let available = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map(|kb| format!("{:.1} GiB", kb / 1024.0 / 1024.0))
        .unwrap_or_else(|| "unknown".into());
    let os = std::fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("PRETTY_NAME="))
                .map(|l| l["PRETTY_NAME=".len()..].trim_matches('"').to_string())
        })
        .unwrap_or_else(|| std::env::consts::OS.into());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".into());
    let rustc = command_line("rustc", &["--version"]).unwrap_or_else(|| "unknown".into());
    let py = python
        .and_then(|p| command_line(p.to_str()?, &["--version"]))
        .unwrap_or_else(|| "not found (Python rows skipped)".into());
    let mut cpu = field("model name").unwrap_or_else(|| "unknown".into());
    if let Some(mhz) = field("cpu MHz") {
        cpu += &format!(" ({mhz} MHz)");
    }
    vec![
        ("CPU".into(), cpu),
        (
            "cores".into(),
            format!(
                "{logical} logical CPUs in /proc/cpuinfo, {available} available to the process"
            ),
        ),
        ("memory".into(), mem),
        ("OS".into(), format!("{os}, Linux {kernel}")),
        ("rustc".into(), rustc),
        ("python".into(), py),
        ("peers".into(), crate::peers::versions()),
    ]
}

fn command_line(cmd: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(cmd).args(args).output().ok()?;
    let text = if out.stdout.is_empty() {
        out.stderr
    } else {
        out.stdout
    };
    Some(String::from_utf8_lossy(&text).trim().to_string())
}

/// The current UTC time as `YYYY-MM-DD HH:MM UTC`.
fn utc_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60
    )
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// "1 repetition", "5 repetitions".
pub fn repetitions(n: usize) -> String {
    format!("{n} repetition{}", if n == 1 { "" } else { "s" })
}

/// Formats a number with thousands separators and `decimals` digits after the point.
pub fn num(x: f64, decimals: usize) -> String {
    if !x.is_finite() {
        return "—".into();
    }
    let s = format!("{:.*}", decimals, x.abs());
    let (int, frac) = match s.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (s.as_str(), None),
    };
    let mut grouped = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    let sign = if x < 0.0 { "-" } else { "" };
    match frac {
        Some(f) => format!("{sign}{grouped}.{f}"),
        None => format!("{sign}{grouped}"),
    }
}

/// "× best" cells for `values` where smaller is better (`None`: no figure for that row).
pub fn ratios(values: &[Option<f64>]) -> Vec<String> {
    let best = values
        .iter()
        .flatten()
        .copied()
        .filter(|v| v.is_finite())
        .fold(f64::INFINITY, f64::min);
    values
        .iter()
        .map(|v| match v {
            Some(v) if v.is_finite() && best > 0.0 => format!("{:.2}", v / best),
            _ => "—".into(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }

    #[test]
    fn numbers() {
        assert_eq!(num(1234567.891, 1), "1,234,567.9");
        assert_eq!(num(999.0, 0), "999");
        assert_eq!(num(-1000.0, 0), "-1,000");
        assert_eq!(num(f64::NAN, 0), "—");
        assert_eq!(ratios(&[Some(2.0), None, Some(1.0)]), ["2.00", "—", "1.00"]);
    }

    #[test]
    fn blocks_are_kept_and_replaced() {
        let text = "x\n<!-- bench:a -->\nold a\n<!-- /bench:a -->\n";
        assert_eq!(extract_block(text, "a").as_deref(), Some("old a\n"));
        assert_eq!(extract_block(text, "b"), None);
        let file = "# B\n\n## Machine\n\n- CPU: x\n\n<!-- bench:a -->\n";
        assert_eq!(
            extract_machine(file).as_deref(),
            Some("\n## Machine\n\n- CPU: x\n\n")
        );
    }
}
