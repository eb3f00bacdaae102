//! The process engine: [`ProcessPoolExecutor`].
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
//!  submit_fn(f, arg)
//!    │ registry: fn pointer → registered name ("crate::f")
//!    │ bincode(arg) → CALL frame [len|kind|id|name|flags|payload]
//!    ▼
//!  dispatcher (pool.rs, one mutex)
//!    │ idle worker? ──no──► pending queue (memory only: no fd per task)
//!    │ yes / when one frees up
//!    ▼                           Unix socket (the worker's stdin)
//!  send(frame) ───────────────────────────────────────────────► read_frame
//!                                                               registry: name → invoke
//!                                                               decode arg, call f (panic
//!                                                               caught), encode result
//!  reader thread (one per worker) ◄──────────────────────────── OK / ERR frame
//!    │ dispatch the next pending task to this worker
//!    │ decode result → Promise::set_result → Future (waiters, callbacks)
//!    ▼
//!  future.result()
//! ```
//!
//! # Detecting a dead worker, and which task it ran
//!
//! Each worker runs one task at a time and the parent records it (`Slot::in_flight`). When a
//! worker dies — `SIGKILL`, abort, segfault, `exit(3)`, OOM kill — its socket end closes and the
//! reader thread reads end-of-stream; it reaps the process (`waitpid`, so no zombie remains),
//! fails exactly the recorded task with [`TaskError::WorkerDied`](crate::TaskError) naming the
//! pid and the signal or exit status, and starts a replacement if work is waiting. Kills the
//! parent causes itself (task timeout, [`ProcessPoolExecutor::kill`], `terminate_workers`) are
//! recorded before the signal is sent, so the error says what happened. Every future ends: a
//! task is either pending in memory (run later, or cancelled/failed at shutdown/breakage), or in
//! flight on a worker whose exit is always observed.
//!
//! # Threat model
//!
//! The channel is an anonymous socket pair created by the parent; its ends are close-on-exec,
//! so only the parent and that one worker hold them — no other process can write frames to a
//! worker. A frame names a function by a string looked up in a link-time table
//! (`registry.rs`); there is no path from frame contents to a code address. A corrupt frame can
//! therefore cause only: a decode error on that task (bad name, bad argument bytes), or, if the
//! frame itself is unreadable (bad length, truncated), the worker exiting, which fails that
//! worker's task as a dead worker. The decoder checks every length against the bytes present and
//! the frame limit before allocating (`wire.rs`; fuzzed by `fuzz/`). Arguments are decoded by
//! `bincode` into the registered function's own argument type. The engine does not defend
//! against a malicious parent: it is the same program.

mod builder;
mod callbacks;
mod child;
mod chunked;
pub mod codec;
mod executor;
mod marker;
mod pool;
mod proc;
mod reader;
mod registry;
pub mod spawner;
mod timers;
mod unwind;
pub mod wire;

pub use self::builder::{ProcessPoolBuilder, DEFAULT_TERMINATE_GRACE};
pub use self::chunked::ChunkedMap;
pub use self::executor::ProcessPoolExecutor;
pub use self::registry::{registered_name, RemoteError};

#[doc(hidden)]
pub mod __private {
    pub use super::registry::{
        invoke, invoke_batch, type_id_of_val, types_of, Registration, RemoteError, REGISTRY,
    };
    pub use linkme;
}
