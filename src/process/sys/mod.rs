//! The process engine's OS layer: the few verbs the engine speaks — start a worker, see it
//! end, stop it, share memory with it, ring its doorbell, admit a peer, tie a worker's life to
//! its parent's — each implemented per platform. The engine above holds no `libc` call, no
//! descriptor and no `cfg` on the operating system: it holds a `Channel`, a `SharedMemory` and
//! an `ExitWatch`, whose methods are the verbs (`unix/handles.rs`), and calls the few free
//! functions below; this module chooses the implementation.
//!
//! | verb | Linux | portable Unix: macOS, the BSDs (Linux with `--cfg concurrent_futures_portable_unix`) |
//! |---|---|---|
//! | the program a worker runs | `/proc/self/exe` (the running program even if its file was replaced) | `std::env::current_exe()` (the file's path) |
//! | memory for the rings | `memfd_create` | `shm_open` of a random name, unlinked at once |
//! | the descriptors a worker gets | the rings' memory, over the socket (`SCM_RIGHTS`) | the same, and the read end of the parent's *lifeline* pipe |
//! | a worker's end, seen by the parent | a pidfd, readable when it exits (`waitid(WNOWAIT)` every 250 ms before Linux 5.3) | `waitid(WNOWAIT)`, asked every 50 ms while the reader sleeps |
//! | the parent's death, seen by a worker (even after `SIGKILL`) | `PR_SET_PDEATHSIG`, then a `getppid` check | end-of-file on the lifeline, whose write end only the parent holds; a thread in the worker waits for it |
//! | who started a worker (admission) | `SO_PEERCRED`; `AT_SECURE` | macOS: `getpeereid` and `LOCAL_PEERPID`; FreeBSD: `LOCAL_PEERCRED`; `issetugid()` (on Linux: `SO_PEERCRED`, `AT_SECURE`) |
//! | random tokens | `getrandom` | `getentropy` (on Linux: `/dev/urandom`) |
//! | a worker's name | `argv[0]` and `PR_SET_NAME` | `argv[0]` |
//! | the start-up hook | a function in `.init_array` | `.init_array` (ELF), `__DATA,__mod_init_func` (Mach-O) |
//! | doorbells, the end of either side | a Unix socket pair; `POLLRDHUP` | the same; `POLLHUP`, and `SO_NOSIGPIPE` where there is no `MSG_NOSIGNAL` |
//!
//!
//! Windows (`windows/`; its module doc says which file holds each):
//!
//! | verb | Windows |
//! |---|---|
//! | the program a worker runs | `current_exe()`, run by `CreateProcessW` (`std::process::Command` quotes the command line), after a check that the file is still the one running (volume and file index recorded when the first pool started): a deleted or replaced file fails the start, saying so |
//! | memory for the rings | a section (`CreateFileMappingW` on the paging file), unnamed |
//! | the handles a worker gets | the section, two doorbell events, two end-of-side events, a handle to the parent and a stop-request event, each copied into the worker (`DuplicateHandle`: nothing inheritable), their values written on its standard input, an anonymous pipe, then replaced by `NUL` |
//! | a worker's end, seen by the parent | its process handle, waited on by its reader thread beside the events (one thread per worker: no 64-handle ceiling) |
//! | stopping a worker | a request: its stop-request event, on which the worker ends itself with `STATUS_CONTROL_C_EXIT`; at once: `TerminateProcess` |
//! | the parent's death, seen by a worker | a job object with `JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE` holding every worker (nested in the parent's own job, if it runs in one; refused: the pool breaks, saying why); and a lifeline thread in the worker waiting on the parent's process handle |
//! | who started a worker (admission) | the parent's pid (`NtQueryInformationProcess`) and the server end of the stdin pipe (`GetNamedPipeServerProcessId`); no setuid exists |
//! | random tokens | `BCryptGenRandom` |
//! | a worker's name | its command line's argument `prog: worker`; `SetThreadDescription` |
//! | the start-up hook | a function in `.CRT$XCU` (the C runtime's initializers) |
//! | doorbells, the end of either side | auto-reset events; manual-reset events set at close |
//! | a crash, described | its `NTSTATUS`: `0xC0000005` access violation, `0xC00000FD` stack overflow, `0xC0000409` fail-fast; status 3 is `abort()` |

#[cfg(unix)]
mod unix;

#[cfg(unix)]
pub(crate) use self::unix::*;

#[cfg(windows)]
mod windows;

#[cfg(windows)]
pub(crate) use self::windows::*;
