//! A spawned worker rank: the program was started by `MPI_Comm_spawn` with the worker argument,
//! so a hook in `.init_array` serves its manager before `main` can run, then exits (which
//! finalizes MPI). Started by hand, without an MPI parent, the program says so and exits. In
//! every other program the hook only bounds Open MPI's spawn wait (`spawn.rs`) and returns.

use std::io::Write;
use std::time::Duration;

use super::builder::WORKER_ARG;
use super::comm::Open;
use crate::remote::wire::DEFAULT_FRAME_LIMIT;

#[used]
#[cfg_attr(
    any(target_os = "linux", target_os = "android"),
    link_section = ".init_array"
)]
static BOOTSTRAP: extern "C" fn() = bootstrap;

/// Keeps this object (and `BOOTSTRAP`) in any program that uses the cluster engine.
pub(crate) fn ensure_linked() {
    std::hint::black_box(&BOOTSTRAP);
}

/// `argv[1..4]` from `/proc/self/cmdline` (std's own arguments may not be set up yet this
/// early); missing ones are empty.
fn args() -> Option<[String; 3]> {
    let raw = std::fs::read("/proc/self/cmdline").ok()?;
    let mut it = raw.split(|&b| b == 0).skip(1);
    let mut next = || String::from_utf8(it.next().unwrap_or_default().to_vec()).ok();
    Some([next()?, next()?, next()?])
}

extern "C" fn bootstrap() {
    // Every program that uses the engine: bound Open MPI's spawn wait (see `spawn.rs`).
    super::spawn::bound_exchange();
    let Some([flag, per, timeout_ms]) = args() else {
        return;
    };
    if flag != WORKER_ARG {
        return;
    }
    // Never across a privilege boundary (setuid, setgid, file capabilities).
    // SAFETY: a plain libc query.
    if unsafe { libc::getauxval(libc::AT_SECURE) } != 0 {
        let _ = writeln!(
            std::io::stderr(),
            "concurrent-futures: refusing to serve as an MPI worker rank with elevated privileges"
        );
        std::process::exit(2);
    }
    let per: usize = per.parse().unwrap_or(1).max(1);
    let timeout = timeout_ms
        .parse()
        .map_or(super::liveness::DEFAULT_TIMEOUT, Duration::from_millis);
    crate::remote::unwind::install_hook(false);
    let code = match super::rank::serve(Open::Parent, 0, per, DEFAULT_FRAME_LIMIT, timeout) {
        Ok(()) => 0,
        Err(e @ super::rank::Stopped::ManagerLost(_)) => {
            let _ = writeln!(
                std::io::stderr(),
                "concurrent-futures: this spawned worker rank stops: {e}"
            );
            3
        }
        Err(e) => {
            let _ = writeln!(
                std::io::stderr(),
                "concurrent-futures: {WORKER_ARG} is for worker ranks started by \
                 MpiPoolExecutor::spawn; this one cannot serve: {e}"
            );
            2
        }
    };
    let _ = std::io::stdout().flush();
    std::process::exit(code);
}
