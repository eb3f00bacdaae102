//! The process engine's OS layer on Windows: the verbs `sys/mod.rs` names, with Windows
//! objects behind them (its table's Windows column says which stands for which Unix one).
//!
//! - `handle.rs`: owning handles, events and waits, and copying a handle into a worker
//!   (`DuplicateHandle`): nothing the parent shares is inheritable or named.
//! - `channel.rs`: the channel (doorbells and each side's end as events; the first message
//!   over the worker's standard input, an anonymous pipe) and the worker's lifeline.
//! - `memory.rs`: the rings' section (`CreateFileMappingW`, unnamed) and its views.
//! - `exit.rs`: a worker's end (its process handle), stop requests, `TerminateProcess`, and the
//!   names of the `NTSTATUS` values a crash ends with.
//! - `job.rs`: the job object with `JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE`, the check that the
//!   program's file is still the running one, and the worker's lifeline thread.
//! - `admit.rs`: the facts admission needs (the parent, the peer of the stdin pipe), tokens,
//!   the worker's name.

use std::process::Command;

mod admit;
mod channel;
mod exit;
mod handle;
mod job;
mod memory;

pub(crate) use self::admit::{facts, name_worker, privileged, random_token, worker_program};
pub(crate) use self::channel::Channel;
pub(crate) use self::exit::{describe, stop, ExitWatch};
pub(crate) use self::job::{bind_to_parent, lifeline, start_worker};
pub(crate) use self::memory::{map_private, unmap, SharedMemory};

/// The command that starts a worker: this program's file, with one argument, `name` (`prog:
/// worker`), which its command line shows in Task Manager and Process Explorer. (`Command`
/// quotes the path and the argument, spaces and non-ASCII characters included.)
pub(crate) fn worker_command(name: &str) -> Command {
    let mut cmd = Command::new(worker_program());
    cmd.arg(name);
    cmd
}

/// How the parent stops a worker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stop {
    /// A request (its stop event): the worker ends itself, unless it is still starting.
    Ask,
    /// At once (`TerminateProcess`).
    Kill,
}

/// What woke a reader.
pub(crate) enum Woke {
    /// A doorbell, or the other side's end.
    Readable,
    /// The process ended.
    Exited,
}

/// Windows has no `SIGPIPE` (a write to a closed pipe fails with an error). Its counterpart
/// here: a crash ends the worker at once, with its status, instead of waiting on the system's
/// "stopped working" dialog (`SEM_NOGPFAULTERRORBOX`), nor asking about a missing disk.
pub(crate) fn ignore_sigpipe() {
    use windows_sys::Win32::System::Diagnostics::Debug::{
        SetErrorMode, SEM_FAILCRITICALERRORS, SEM_NOGPFAULTERRORBOX,
    };
    // SAFETY: a plain call on this process's error mode.
    unsafe { SetErrorMode(SEM_FAILCRITICALERRORS | SEM_NOGPFAULTERRORBOX) };
}

/// Stops this worker for good, as one stuck in start-up would (a test hook).
pub(crate) fn stall() {
    loop {
        std::thread::park();
    }
}

/// Ends this process at once (`TerminateProcess` on itself: no exit handler, no DLL detach).
pub(crate) fn exit_now(code: i32) -> ! {
    use windows_sys::Win32::System::Threading::{GetCurrentProcess, TerminateProcess};
    // SAFETY: ends this process.
    unsafe { TerminateProcess(GetCurrentProcess(), code as u32) };
    // Not reached; should the call fail, leave anyway.
    std::process::abort()
}

/// The start-up hook: `bootstrap` runs when the program is loaded, before `main`, among the C
/// runtime's initializers (`.CRT$XCU`, as C++ static constructors; MSVC and MinGW alike).
#[used]
#[link_section = ".CRT$XCU"]
static HOOK: extern "C" fn() = crate::process::child::bootstrap;

/// Referenced by the parent so that the linker keeps this object (and the hook) in any program
/// that uses the process engine.
pub(crate) fn keep_hook() {
    std::hint::black_box(&HOOK);
}
