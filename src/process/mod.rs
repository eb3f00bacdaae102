//! The process engine: [`ProcessPoolExecutor`], on Linux, macOS, the BSDs and Windows. What it
//! asks of the operating system goes through one layer (`sys/`, its table of mechanisms per
//! platform): Linux uses its strongest mechanisms (a memfd, pidfds, `PR_SET_PDEATHSIG`,
//! `SO_PEERCRED`), every other Unix a portable POSIX path, which Linux runs too when built with
//! `RUSTFLAGS="--cfg concurrent_futures_portable_unix"` (CI does, so the path macOS and the BSDs
//! take is tested), and Windows its own objects (a section, events, process handles, a job
//! object; CI runs its tests under Wine). The names below (pidfd, `.init_array`, `SO_PEERCRED`) are Linux's; `sys/`
//! says what stands for each elsewhere.
//!
//! A worker that crashes fails only the task it was running; the pool replaces it and goes on:
//!
//! ```
//! use concurrent_futures::{register, ProcessPoolExecutor};
//! fn risky(x: i32) -> i32 {
//!     if x == 3 {
//!         std::process::exit(1); // stands for a segfault, an abort, an OOM kill
//!     }
//!     x * 10
//! }
//! register!(risky);
//! let pool = ProcessPoolExecutor::with_max_workers(2).unwrap();
//! let results: Vec<_> = pool.map(risky, 0..6).collect();
//! assert!(results[3].as_ref().unwrap_err().is_worker_died());
//! assert_eq!(results[..3], [Ok(0), Ok(10), Ok(20)]);
//! assert_eq!(results[4..], [Ok(40), Ok(50)]);
//! ```
//!
//! # How a task flows
//!
//! ```text
//!  parent                                                        worker process (same binary)
//!  ──────                                                        ────────────────────────────
//!  build(): callback + timer threads; the process-wide spawner thread (spawner.rs)
//!  submit_fn(f, arg)
//!    │ registry: fn item → registered name ("crate::f@12:1")
//!    │ codec (postcard): arg → CALL frame [len|kind|id|name|flags|payload]
//!    ▼
//!  dispatcher (pool.rs, one mutex)
//!    │ a worker that said HELLO and is idle? ──no──► pending queue (memory only: no fd per task)
//!    │ yes / when one frees up                         (spawn: /proc/self/exe + marker, from
//!    ▼                                                   the spawner thread)
//!                                Unix socket (the worker's stdin)  .init_array: admit (marker,
//!                                                                  AT_SECURE, SO_PEERCRED),
//!                                                                  PDEATHSIG, SIGPIPE ignored,
//!  memfd with two byte rings (SCM_RIGHTS) ──────────────────────► mapped (ring.rs)
//!                          ◄──────────────────────────────────── HELLO(token)   (ring)
//!  outbox (outbox.rs): what fits ── ring, a doorbell if it sleeps ──► read_frame
//!    the rest when the worker rings that it made room ◄────────── (after each read)
//!                                                               registry: name → invoke
//!                                                               decode arg, call f, encode
//!                                                               result, drop it — each caught
//!  reader thread (one per worker; reader.rs) ◄───────────────── OK / ERR frame
//!    │ spins on the reply ring, then polls the socket (doorbells, end) and the worker's pidfd
//!    │ decode result (contained) → future done, waiters woken
//!    │ then dispatch the next pending task to this worker (never waiting for room)
//!    ▼
//!  callback thread (callbacks.rs): done-callbacks         future.result()
//! ```
//!
//! # Detecting a dead worker, and which task it ran
//!
//! Each worker runs one task at a time (up to three `map` tasks may wait queued behind it) and the parent
//! records which (`Slot::in_flight`). Its reader thread notices its end from the process itself
//! — a pidfd that becomes readable when it exits — not only from end-of-stream, which a
//! descendant that inherited the socket (a task that forked a daemon) could postpone forever
//! ([design note](crate::design::worker_reader)). It takes the worker's last frames, reaps the process (`waitpid`, so no zombie
//! remains), fails exactly the task that was running with [`TaskError::WorkerDied`](crate::TaskError)
//! naming the pid and the signal or exit status, re-queues the ones that had not started, and
//! starts a replacement if work is waiting. Kills the parent causes itself (task timeout,
//! [`ProcessPoolExecutor::kill`], `terminate_workers`, which sends `SIGKILL` after a grace period
//! when `SIGTERM` is ignored) are recorded before the signal is sent, so the error says what
//! happened. A worker that dies before its `HELLO` was never given a task; if the pool's first
//! worker does (the program cannot re-execute itself: it was started through the dynamic loader,
//! say), the pool breaks with a message saying why, instead of failing task after task. Every
//! future ends: a task is either pending in memory (run later, or cancelled/failed at
//! shutdown/breakage), or in flight on a worker whose exit is always observed.
//!
//! Threads: the process-wide spawner (started by the first pool, never exits: workers ask for
//! `PR_SET_PDEATHSIG`, which fires when the *thread* that started them exits), and per pool a
//! callback thread, a timer thread (task deadlines, idle workers) and one reader per worker. The
//! pool's own threads start at `build()`, so a pool that could not start one is a build error,
//! never a pool whose time limits silently do not fire; a reader that cannot start is a worker
//! that cannot start (killed, reaped, logged; with no worker left, the pool breaks).
//!
//! # Threat model
//!
//! *Who can make a process a worker.* Every program that links the crate with the `process`
//! feature carries the start-up hook, so the hook trusts nothing it did not check. It enters
//! worker mode only when the marker variable is well-formed, the process is not running with
//! elevated privileges (`AT_SECURE`: setuid, setgid, file capabilities), and standard input is a
//! socket whose peer (`SO_PEERCRED`) is this process's parent (`getppid()`) with the same uid
//! and gid — so whoever can drive a worker already holds the privileges it runs with. It removes
//! the marker from the environment first; anything else (an empty, malformed, stale or inherited
//! marker, a peer that is not the parent) prints one line on stderr and the program runs its own
//! `main`. The marker carries a per-spawn random token that the worker sends back in its first
//! frame; the parent accepts nothing else from a worker before a matching `HELLO`
//! ([design note](crate::design::worker_admission)). A program running with elevated privileges cannot build a process pool.
//!
//! *What a frame can do.* The channel is an anonymous socket pair created by the parent and a
//! memfd of two byte rings it hands over the socket ([design note](crate::design::shared_memory_rings)); all are close-on-exec, so only
//! the parent and that one worker hold them (and whatever the worker's tasks fork). The parent
//! reads the ring as untrusted input, exactly as it read the socket: every index checked, the
//! bytes copied out and decoded by the same frame decoder. A frame names a
//! function by a string looked up in a link-time table (`registry.rs`), unique per registration
//! (a name shared by two functions is refused when a pool is built); there is no path from frame
//! contents to a code address. A corrupt frame can cause only: a decode error on that task (bad
//! name, bad argument bytes), or, if the frame itself is unreadable (bad length, truncated), the
//! worker exiting, which fails that worker's task as a dead worker. The decoders check every
//! length against the bytes present and the frame limit before allocating ([frame format](crate::design::frame_format); fuzzed
//! by `fuzz/`). Arguments are decoded by postcard (`codec.rs`) into the registered function's own
//! argument type; replies are checked as strictly by the parent, and a worker that breaks the
//! protocol is killed.
//!
//! *Panics.* User code the engine runs — `Deserialize`/`Serialize`/`Drop` of arguments and
//! results on both sides, the function, done-callbacks — runs contained: a panic is a value on
//! that task's future (with its location, from the worker's own panic hook), never a dead reader
//! thread or an aborted worker ([design note](crate::design::panics_across_processes)).
//!
//! *Not guaranteed.* The engine does not defend against a malicious parent: it is the same
//! program. Processes a task starts are the task's: a forked child that lingers is not killed
//! with its worker (it no longer delays anything; it keeps whatever it inherited, such as the
//! worker's stdout). A worker killed mid-task takes its side effects with it. `SIGKILL` cannot be
//! ignored, but a process in uninterruptible sleep (a hung NFS mount) ends only when the kernel
//! lets it.

mod builder;
mod child;
mod executor;
mod marker;
pub(crate) mod outbox;
mod pool;
mod port;
mod proc;
mod reader;
pub(crate) mod ring;
pub(crate) mod spawner;
mod sys;
mod timers;

pub use self::builder::{ProcessPoolBuilder, DEFAULT_TERMINATE_GRACE};
pub use self::executor::ProcessPoolExecutor;
