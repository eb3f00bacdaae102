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
//! Windows has none of these yet: there the crate builds with the thread engine only.

#[cfg(unix)]
mod unix;

#[cfg(unix)]
pub(crate) use self::unix::*;
