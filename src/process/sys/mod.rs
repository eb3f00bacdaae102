//! The process engine's OS layer: the few verbs the engine speaks — start a worker, see it
//! end, stop it, share memory with it, ring its doorbell, admit a peer, tie a worker's life to
//! its parent's — each implemented per platform. The engine above holds no `libc` call, no
//! descriptor and no `cfg` on the operating system: it holds a `Channel`, a `SharedMemory` and
//! an `ExitWatch`, whose methods are the verbs (`unix/handles.rs`; on Windows `channel.rs`,
//! `memory.rs` and `exit.rs`), and calls the few free functions below; this module chooses the
//! implementation.
//!
//! | verb | Linux | portable Unix: macOS, the BSDs (Linux with `--cfg concurrent_futures_portable_unix`) | Windows (`windows/`: its module doc says which file holds each) |
//! |---|---|---|---|
//! | the program a worker runs | `/proc/self/exe` (the running program even if its file was replaced) | `std::env::current_exe()` (the file's path) | `current_exe()`, started by `CreateProcessW` (`std::process::Command` quotes the command line), after a check that the file is still the one running (volume and file index, recorded when the first pool started): a deleted or replaced file fails the start, saying so |
//! | memory for the rings | `memfd_create` | `shm_open` of a random name, unlinked at once | an unnamed section (`CreateFileMappingW` on the paging file) |
//! | the descriptors a worker gets | the rings' memory, over the socket (`SCM_RIGHTS`) | the same, and the read end of the parent's *lifeline* pipe | the section, the doorbell and end-of-side events, a handle to the parent and a stop-request event, each copied into the worker (`DuplicateHandle`: nothing inheritable), their values written on its standard input (an anonymous pipe, then replaced by `NUL`) |
//! | a worker's end, seen by the parent | a pidfd, readable when it exits (`waitid(WNOWAIT)` every 250 ms before Linux 5.3) | `waitid(WNOWAIT)`, asked every 50 ms while the reader sleeps | its process handle, waited on by its reader thread beside the events (one thread per worker: no 64-handle ceiling) |
//! | stopping a worker | `SIGTERM`, then `SIGKILL` | the same | its stop-request event (the worker ends itself with `STATUS_CONTROL_C_EXIT`), then `TerminateProcess` |
//! | the parent's death, seen by a worker (even after `SIGKILL`) | `PR_SET_PDEATHSIG`, then a `getppid` check | end-of-file on the lifeline, whose write end only the parent holds; a thread in the worker waits for it | a job object with `JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE` holding every worker (nested in the parent's own job, if it runs in one; refused: the start fails, saying why); and a thread in the worker waiting on the parent's process handle |
//! | who started a worker (admission) | `SO_PEERCRED`; `AT_SECURE` | macOS: `getpeereid` and `LOCAL_PEERPID`; FreeBSD: `LOCAL_PEERCRED`; `issetugid()` (on Linux: `SO_PEERCRED`, `AT_SECURE`) | the parent's pid (`NtQueryInformationProcess`) and the maker of the stdin pipe (`GetNamedPipeServerProcessId`); there is no setuid |
//! | random tokens | `getrandom` | `getentropy` (on Linux: `/dev/urandom`) | `BCryptGenRandom` |
//! | a worker's name | `argv[0]` and `PR_SET_NAME` | `argv[0]` | an argument, `prog: worker`, on its command line; `SetThreadDescription` |
//! | the start-up hook | a function in `.init_array` | `.init_array` (ELF), `__DATA,__mod_init_func` (Mach-O) | a function in `.CRT$XCU` (the C runtime's initializers) |
//! | doorbells, the end of either side | a Unix socket pair; `POLLRDHUP` | the same; `POLLHUP`, and `SO_NOSIGPIPE` where there is no `MSG_NOSIGNAL` | auto-reset events; manual-reset events set at close |
//! | a crash, described | the signal | the signal | its `NTSTATUS` (`0xC0000005` access violation, `0xC00000FD` stack overflow, `0xC0000409` fail-fast); no crash dialog (`SEM_NOGPFAULTERRORBOX`) |

use std::path::PathBuf;

#[cfg(unix)]
mod unix;

#[cfg(unix)]
pub(crate) use self::unix::*;

#[cfg(windows)]
mod windows;

#[cfg(windows)]
pub(crate) use self::windows::*;

/// This program's file as the OS names it (`current_exe`, else `argv[0]`): what workers run
/// where there is no handle on the running image (every platform but Linux's own path, which
/// runs `/proc/self/exe`).
#[cfg_attr(
    all(target_os = "linux", not(concurrent_futures_portable_unix)),
    allow(dead_code)
)]
fn program_file() -> PathBuf {
    std::env::current_exe().unwrap_or_else(|_| {
        std::env::args_os()
            .next()
            .map(PathBuf::from)
            .unwrap_or_default()
    })
}
