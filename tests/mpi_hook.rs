//! The start-up hook of the cluster engine, which runs in every program that uses it before
//! `main`: the worker argument given by hand (no MPI parent) is refused with a message that
//! names `MpiPoolExecutor::spawn`; under `AT_SECURE` (a set-id copy) it is refused before MPI
//! is touched; and Open MPI's spawn wait is bounded only where the environment sets no bound.
//! Each case runs a copy of this test binary as a child and reads what it printed.
#![cfg(feature = "mpi")]

use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The argument `MpiPoolExecutor::spawn` gives its worker ranks.
const WORKER_ARG: &str = "--concurrent-futures-mpi-worker";
const EXCHANGE_VAR: &str = "OMPI_MCA_pmix_base_exchange_timeout";
const HELPER: &str = "CF_MPI_HOOK_HELPER";
const LIMIT: Duration = Duration::from_secs(120);

/// In a child started by a case below: prints what the hook left behind.
#[test]
fn helper_prints_what_the_hook_saw() {
    // Keeps the engine (and its hook) in this binary.
    std::hint::black_box(concurrent_futures::MpiPoolExecutor::spawn as fn(_) -> _);
    if std::env::var_os(HELPER).is_none() {
        return;
    }
    // SAFETY: a plain libc query.
    let secure = unsafe { libc::getauxval(libc::AT_SECURE) };
    let exchange = std::env::var(EXCHANGE_VAR).unwrap_or_else(|_| "unset".into());
    println!("HOOK AT_SECURE={secure} EXCHANGE={exchange}");
}

fn this_exe() -> PathBuf {
    std::env::current_exe().expect("the test binary")
}

/// Runs `cmd` to completion within [`LIMIT`] (killed past it: a hang fails the case).
fn run(mut cmd: Command) -> Output {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the child");
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let reader = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = out.read_to_end(&mut s);
        s
    });
    let ereader = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = err.read_to_end(&mut s);
        s
    });
    let deadline = Instant::now() + LIMIT;
    let status = loop {
        if let Some(st) = child.try_wait().expect("wait") {
            break st;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the child ran past {LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: reader.join().unwrap(),
        stderr: ereader.join().unwrap(),
    }
}

fn helper(exe: &Path) -> Command {
    let mut cmd = Command::new(exe);
    cmd.args(["--exact", "helper_prints_what_the_hook_saw", "--nocapture"])
        .env(HELPER, "1");
    cmd
}

fn hook_line(out: &Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout);
    stdout
        .lines()
        .find(|l| l.starts_with("HOOK "))
        .unwrap_or_else(|| panic!("no HOOK line: {stdout}"))
        .to_string()
}

#[test]
fn the_worker_argument_by_hand_is_refused_with_what_to_do() {
    let mut cmd = Command::new(this_exe());
    cmd.args([WORKER_ARG, "1"]);
    let out = run(cmd);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("is for worker ranks started by MpiPoolExecutor::spawn"),
        "{stderr}"
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).is_empty(),
        "the program's own main never ran"
    );
}

#[test]
fn the_spawn_wait_is_bounded_only_where_the_environment_sets_no_bound() {
    let mut unset = helper(&this_exe());
    unset.env_remove(EXCHANGE_VAR);
    let line = hook_line(&run(unset));
    assert!(line.ends_with("EXCHANGE=15"), "{line}");

    let mut set = helper(&this_exe());
    set.env(EXCHANGE_VAR, "7");
    let line = hook_line(&run(set));
    assert!(
        line.ends_with("EXCHANGE=7"),
        "the user's bound stays: {line}"
    );
}

/// A setgid copy (root only: its egid then differs from its gid, so the kernel sets
/// `AT_SECURE`) given the worker argument refuses before MPI is initialised.
#[test]
fn the_worker_argument_is_refused_under_at_secure() {
    // SAFETY: a plain libc query.
    if unsafe { libc::geteuid() } != 0 {
        println!("skipped: needs root (to make a setgid copy whose egid differs from its gid)");
        return;
    }
    let dir = std::env::temp_dir().join(format!("cf-mpi-hook-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let exe = dir.join("setgid-copy");
    std::fs::copy(this_exe(), &exe).expect("copy the test binary");
    let c = std::ffi::CString::new(exe.as_os_str().as_bytes()).unwrap();
    // SAFETY: `c` is a valid C string; plain syscall.
    assert_eq!(unsafe { libc::chown(c.as_ptr(), 0, 65534) }, 0, "chown");
    // chmod after chown: chown clears the set-id bits.
    std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o2755)).unwrap();
    let probe = run(helper(&exe));
    let mut cmd = Command::new(&exe);
    cmd.args([WORKER_ARG, "1"]);
    let refused = run(cmd);
    let _ = std::fs::remove_dir_all(&dir);
    let line = hook_line(&probe);
    if line.contains("AT_SECURE=0") {
        // The kernel ignored the setgid bit (a nosuid mount, or no_new_privs).
        println!("skipped: the setgid copy did not run with AT_SECURE");
        return;
    }
    assert!(line.contains("AT_SECURE=1"), "{line}");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("refusing to serve as an MPI worker rank with elevated privileges"),
        "{stderr}"
    );
}
