//! The process engine's Windows-shaped behaviour (run under Wine in CI): a round trip, crashes
//! named by their NTSTATUS, kills, time limits and terminate_workers, panics and backtraces
//! crossing back, admission, the command line with spaces and non-ASCII characters, and a
//! program whose file is gone or that runs in a job.

#![cfg(all(windows, feature = "process"))]

use std::time::Duration;

use concurrent_futures::{register, ProcessPoolExecutor, TaskError};

#[path = "suite/util.rs"]
mod util;

use util::{Watchdog, LONG};

fn double(x: u64) -> u64 {
    x * 2
}

fn pid(_: ()) -> u32 {
    std::process::id()
}

register!(double, pid);

#[test]
fn a_round_trip() {
    let _watchdog = Watchdog::for_this_test();
    let pool = ProcessPoolExecutor::with_max_workers(2).unwrap();
    let mut f = pool.submit_fn(double, 21).unwrap();
    assert_eq!(f.result_timeout(LONG).unwrap(), 42);
    let p = pool
        .submit_fn(pid, ())
        .unwrap()
        .result_timeout(LONG)
        .unwrap();
    assert_ne!(p, std::process::id());
    let all: Vec<u64> = pool.map(double, 0..100).map(Result::unwrap).collect();
    assert_eq!(all, (0..100).map(|x| x * 2).collect::<Vec<_>>());
}

/// Set in a copy of this program that a test starts (`run_copy`): the name of the probe to run.
const PROBE: &str = "CF_WINDOWS_TEST_PROBE";

/// Runs this test program's copy at `exe` with only test `test`, as probe `probe`; its output.
fn run_copy(exe: &std::path::Path, test: &str, probe: &str) -> std::process::Output {
    std::process::Command::new(exe)
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(PROBE, probe)
        .output()
        .unwrap()
}

/// A copy of this test program in a new directory named `dir` (under the temporary
/// directory), as `file`.
fn copy_of_this_program(dir: &str, file: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(dir);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    let exe = d.join(file);
    std::fs::copy(std::env::current_exe().unwrap(), &exe).unwrap();
    exe
}

/// A program in a directory whose name has spaces and non-ASCII characters, itself named so,
/// starts its workers: the re-executed command line is quoted correctly.
#[test]
fn a_program_under_a_path_with_spaces_and_non_ascii_runs_a_pool() {
    let _watchdog = Watchdog::for_this_test();
    if std::env::var_os(PROBE).is_some() {
        return; // the copy below runs `a_round_trip`
    }
    let exe = copy_of_this_program("cf dir ü 字", "tést prog ö.exe");
    let out = run_copy(&exe, "a_round_trip", "round trip");
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{shown}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(shown.contains("1 passed"), "{shown}");
    let _ = std::fs::remove_dir_all(exe.parent().unwrap());
}

/// A program whose file was moved away, or replaced, after it started: its next pool cannot
/// start workers (they would run another program), and breaks once, saying why.
#[test]
fn a_deleted_or_replaced_program_breaks_the_pool_with_the_reason() {
    let _watchdog = Watchdog::for_this_test();
    match std::env::var(PROBE).as_deref() {
        Ok("moved") | Ok("replaced") => return replaced_probe(),
        _ => {}
    }
    for (how, words) in [
        ("moved", "was deleted or moved"),
        ("replaced", "was replaced"),
    ] {
        let exe = copy_of_this_program(&format!("cf-replaced-{how}"), "prog.exe");
        let out = run_copy(
            &exe,
            "a_deleted_or_replaced_program_breaks_the_pool_with_the_reason",
            how,
        );
        let shown = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{how}: {shown}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            shown.contains(&format!("broken: {words}")),
            "{how}: {shown}"
        );
        let _ = std::fs::remove_dir_all(exe.parent().unwrap());
    }
}

/// In the copy: a pool works; then the program's file is moved away (and, for "replaced",
/// another file put in its place), and a new pool breaks with the reason.
fn replaced_probe() {
    let replace = std::env::var(PROBE).unwrap() == "replaced";
    let pool = ProcessPoolExecutor::with_max_workers(1).unwrap();
    assert_eq!(
        pool.submit_fn(double, 1).unwrap().result_timeout(LONG),
        Ok(2)
    );
    drop(pool);
    let exe = std::env::current_exe().unwrap();
    std::fs::rename(&exe, exe.with_extension("old")).unwrap();
    if replace {
        std::fs::write(&exe, b"not this program").unwrap();
    }
    let pool = ProcessPoolExecutor::with_max_workers(1).unwrap();
    match pool.submit_fn(double, 1).unwrap().result_timeout(LONG) {
        Err(TaskError::BrokenExecutor { cause }) => {
            assert!(cause.contains("executable"), "{cause}");
            let words = if replace {
                "was replaced"
            } else {
                "was deleted or moved"
            };
            assert!(cause.contains(words), "{cause}");
            println!("broken: {words}");
        }
        other => panic!("expected a broken pool, got {other:?}"),
    }
}

/// A copy of the program started with the marker by anyone but a pool of its parent's never
/// serves: with a stale marker, or with no pipe as standard input, it runs its own `main`
/// (saying why on stderr); with its parent's marker and a pipe that carries no first message
/// from the pool, it exits without serving.
#[test]
fn a_program_not_started_by_its_pool_never_serves() {
    let _watchdog = Watchdog::for_this_test();
    if std::env::var_os(PROBE).is_some() {
        println!("main ran");
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let token = "0123456789abcdef0123456789abcdef";
    let me = std::process::id();
    let run = |parent: u32, stdin: std::process::Stdio, input: &[u8]| {
        let mut child = std::process::Command::new(&exe)
            .args([
                "a_program_not_started_by_its_pool_never_serves",
                "--exact",
                "--nocapture",
            ])
            .env(PROBE, "admission")
            .env(
                "CONCURRENT_FUTURES_WORKER",
                format!("cf1:{parent}:{token}:1048576:0"),
            )
            .stdin(stdin)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        if let Some(mut i) = child.stdin.take() {
            use std::io::Write;
            let _ = i.write_all(input);
        }
        let out = child.wait_with_output().unwrap();
        (
            out.status,
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    // A stale marker: another parent.
    let (status, out, err) = run(me.wrapping_add(4), std::process::Stdio::piped(), b"");
    assert!(status.success() && out.contains("main ran"), "{out}\n{err}");
    assert!(err.contains("stale or inherited"), "{err}");
    // No pipe on standard input.
    let (status, out, err) = run(me, std::process::Stdio::null(), b"");
    assert!(status.success() && out.contains("main ran"), "{out}\n{err}");
    assert!(err.contains("is set but"), "{err}");
    // Its parent's marker and pipe, but no first message from a pool: it exits, serving
    // nothing and running nothing.
    let (status, out, err) = run(me, std::process::Stdio::piped(), b"not the first message");
    assert!(
        !status.success() && !out.contains("main ran"),
        "{out}\n{err}"
    );
    assert!(err.contains("no channel from the parent"), "{err}");
}

fn boom(msg: String) -> u32 {
    panic!("{msg}")
}
register!(boom);

/// A task's panic crosses back with its message and location, and the worker keeps serving.
#[test]
fn a_panic_crosses_back_with_its_location() {
    let _watchdog = Watchdog::for_this_test();
    let pool = ProcessPoolExecutor::with_max_workers(1).unwrap();
    let before = pool
        .submit_fn(pid, ())
        .unwrap()
        .result_timeout(LONG)
        .unwrap();
    match pool
        .submit_fn(boom, "kaboom".into())
        .unwrap()
        .result_timeout(LONG)
    {
        Err(e) => {
            let shown = format!("{e}");
            assert!(shown.contains("kaboom"), "{shown}");
            assert!(shown.contains("process_windows.rs"), "{shown}");
        }
        other => panic!("expected a panic, got {other:?}"),
    }
    assert_eq!(
        pool.submit_fn(pid, ()).unwrap().result_timeout(LONG),
        Ok(before)
    );
}

/// Whether process `pid` still runs.
fn process_exists(pid: u32) -> bool {
    type Handle = *mut std::ffi::c_void;
    #[link(name = "kernel32")]
    extern "system" {
        fn OpenProcess(access: u32, inherit: i32, pid: u32) -> Handle;
        fn GetExitCodeProcess(h: Handle, code: *mut u32) -> i32;
        fn CloseHandle(h: Handle) -> i32;
    }
    // SAFETY: plain calls; the handle is closed at once.
    unsafe {
        let h = OpenProcess(0x1000, 0, pid); // PROCESS_QUERY_LIMITED_INFORMATION
        if h.is_null() {
            return false;
        }
        let mut code = 0u32;
        let ok = GetExitCodeProcess(h, &mut code);
        CloseHandle(h);
        ok != 0 && code == 259 // STILL_ACTIVE
    }
}

fn hold(gate: String) -> u32 {
    util::hold_until_open(&gate);
    std::process::id()
}
register!(hold);

/// Workers never outlive their parent: ended from outside (`TerminateProcess`, as Task
/// Manager's End task does) while its workers run tasks, the parent takes them with it (the
/// job object's kill-on-close, and each worker's lifeline).
#[test]
fn workers_end_with_their_parent() {
    let _watchdog = Watchdog::for_this_test();
    if std::env::var(PROBE).as_deref() == Ok("parent") {
        let gate = util::Gate::closed();
        let pool = ProcessPoolExecutor::with_max_workers(2).unwrap();
        let held: Vec<_> = (0..2)
            .map(|_| pool.submit_fn(hold, gate.path()).unwrap())
            .collect();
        assert!(util::eventually(LONG, || held.iter().all(|f| f.running())));
        println!("workers {:?}", pool.worker_pids());
        loop {
            std::thread::park(); // until the test ends this process
        }
    }
    use std::io::BufRead;
    let mut parent = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["workers_end_with_their_parent", "--exact", "--nocapture"])
        .env(PROBE, "parent")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(parent.stdout.take().unwrap()).lines();
    let pids: Vec<u32> = loop {
        let line = lines.next().expect("the parent's worker pids").unwrap();
        if let Some(list) = line.strip_prefix("workers [") {
            break list
                .trim_end_matches(']')
                .split(", ")
                .map(|p| p.parse().unwrap())
                .collect();
        }
    };
    assert_eq!(pids.len(), 2, "{pids:?}");
    assert!(pids.iter().all(|&p| process_exists(p)));
    parent.kill().unwrap();
    parent.wait().unwrap();
    assert!(
        util::eventually(LONG, || pids.iter().all(|&p| !process_exists(p))),
        "workers {pids:?} outlived their parent"
    );
}

/// Waits for the gate at `gate` to open, looking every 100 ms (70 workers looking every 2 ms,
/// as `hold` does, keep Wine's server too busy for the test to end in time).
fn hold_gently(gate: String) -> u32 {
    while std::path::Path::new(&gate).exists() {
        std::thread::sleep(Duration::from_millis(100));
    }
    std::process::id()
}
register!(hold_gently);

/// More workers than `WaitForMultipleObjects` can wait on at once (64; Python's pool stops at
/// 61): each worker's end is waited for by its own reader thread.
#[test]
fn more_than_64_workers_run_at_once() {
    let _watchdog = Watchdog::new("more_than_64_workers_run_at_once", Duration::from_secs(300));
    const N: usize = 70;
    let gate = util::Gate::closed();
    let pool = ProcessPoolExecutor::with_max_workers(N).unwrap();
    let held: Vec<_> = (0..N)
        .map(|_| pool.submit_fn(hold_gently, gate.path()).unwrap())
        .collect();
    let all_running = util::eventually(Duration::from_secs(240), || {
        held.iter().all(|f| f.running())
    });
    gate.open();
    assert!(
        all_running,
        "{} of {N} running",
        held.iter().filter(|f| f.running()).count()
    );
    let mut pids: Vec<u32> = held
        .into_iter()
        .map(|mut f| f.result_timeout(Duration::from_secs(120)).unwrap())
        .collect();
    pids.sort_unstable();
    pids.dedup();
    assert_eq!(pids.len(), N);
}

/// With `RUST_BACKTRACE=1` (which workers inherit), a task's panic brings the worker's
/// backtrace back in its error, naming the task, as on Unix.
#[test]
fn a_backtrace_crosses_back_with_rust_backtrace() {
    let _watchdog = Watchdog::for_this_test();
    if std::env::var(PROBE).as_deref() == Ok("backtrace") {
        let pool = ProcessPoolExecutor::with_max_workers(1).unwrap();
        let e = pool
            .submit_fn(boom, "with a backtrace".into())
            .unwrap()
            .result_timeout(LONG)
            .unwrap_err();
        let bt = e.panic_backtrace().expect("a backtrace in the error");
        assert!(bt.contains("boom"), "the backtrace names the task: {bt}");
        println!("backtrace crossed back");
        return;
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "a_backtrace_crosses_back_with_rust_backtrace",
            "--exact",
            "--nocapture",
        ])
        .env(PROBE, "backtrace")
        .env("RUST_BACKTRACE", "1")
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && shown.contains("backtrace crossed back"),
        "{shown}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// What a worker shows of itself: its command line's arguments, and its main thread's
/// description (where the task runs).
fn how_named(_: ()) -> (Vec<String>, String) {
    #[link(name = "kernel32")]
    extern "system" {
        fn GetCurrentThread() -> *mut std::ffi::c_void;
        fn GetThreadDescription(thread: *mut std::ffi::c_void, name: *mut *mut u16) -> i32;
        fn LocalFree(p: *mut std::ffi::c_void) -> *mut std::ffi::c_void;
    }
    let mut description = String::new();
    // SAFETY: this thread's description, freed after it is copied.
    unsafe {
        let mut p: *mut u16 = std::ptr::null_mut();
        if GetThreadDescription(GetCurrentThread(), &mut p) >= 0 && !p.is_null() {
            let len = (0..).take_while(|&i| *p.add(i) != 0).count();
            description = String::from_utf16_lossy(std::slice::from_raw_parts(p, len));
            LocalFree(p.cast());
        }
    }
    (std::env::args().collect(), description)
}
register!(how_named);

/// A worker is named after the program in Task Manager's and Process Explorer's command line
/// column (`prog.exe "prog.exe: worker"`), and its main thread is described so.
#[test]
fn workers_are_named_after_the_program() {
    let _watchdog = Watchdog::for_this_test();
    let pool = ProcessPoolExecutor::with_max_workers(1).unwrap();
    let (args, description) = pool
        .submit_fn(how_named, ())
        .unwrap()
        .result_timeout(LONG)
        .unwrap();
    let exe = std::env::current_exe().unwrap();
    let prog = exe.file_name().unwrap().to_string_lossy().into_owned();
    assert_eq!(args.len(), 2, "{args:?}");
    assert_eq!(args[1], format!("{prog}: worker"));
    assert_eq!(description, format!("{prog}: worker"));
}
