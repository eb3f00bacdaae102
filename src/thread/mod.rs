//! The thread engine: [`ThreadPoolExecutor`].
//!
//! ```text
//!  submit(f) ──► admit (gate) ──► Arc<Task{f, Core}> ──► Queue (lock-free FIFO) ──► worker
//!      │                                 │                                         │
//!      └──────────── Future<T> ◄─────────┘          complete: slot + wake + callbacks
//! ```
//!
//! | file          | concept                                                                |
//! |---------------|------------------------------------------------------------------------|
//! | `executor.rs` | the public API                                                         |
//! | `builder.rs`  | configuration                                                          |
//! | `task.rs`     | a closure and its future's core in one allocation; who owns the closure |
//! | `queue.rs`    | the job queue                                                          |
//! | `pool.rs`     | shared state: admission, waking and spawning, bounded queue, shutdown  |
//! | `worker.rs`   | the worker loop (busy half, idle half)                                 |
//! | `scope.rs`    | scoped tasks and why they are sound                                    |
//!
//! # Lazy threads and reuse
//!
//! `idle` counts workers in their idle half that no submitter has claimed. A submit first tries
//! to claim one (CAS-decrement); only if none can be claimed does it reserve a thread slot
//! (CAS-increment of `threads` below `max_workers`) and spawn. A worker counts itself idle
//! *before* it completes a future, so a caller that is woken by a result and submits again
//! reuses that worker: three sequential submit→result calls leave one thread.
//!
//! # Sleeping without lost wake-ups
//!
//! An idle worker spins for ~50 µs (so back-to-back submits find it awake), then sleeps on a
//! condition variable. The sleeper increments `sleeping` and re-checks the queue inside the
//! condvar's mutex; a submitter pushes, issues a `SeqCst` fence and reads `sleeping`, notifying
//! under the mutex if it is non-zero. Both sides are sequentially consistent, so at least one
//! sees the other (`Pool::sleep`). A worker that retires after its idle timeout re-checks the
//! queue after releasing its thread slot, for the same reason (`Pool::try_retire`).
//!
//! # Shutdown protocol
//!
//! The gate word holds a `SHUTDOWN` bit and the number of submitters in flight. A submit
//! increments it and fails if the bit is set; `shutdown` sets the bit. A worker exits only when
//! the gate reads exactly `SHUTDOWN` (bit set, no submitter in flight) *and* the queue is empty,
//! so a job admitted before shutdown is always run (or, with `cancel_futures`, cancelled):
//! no future is left pending. The last submitter to leave a closed gate wakes every sleeper.
//! `shutdown(wait = true)` then joins every worker but the calling thread, so a task (or a
//! done-callback) may shut down or drop its own pool without deadlocking.
//!
//! # Nested waits
//!
//! A task may submit to its own pool and block on the result even when every worker is busy
//! (`max_workers = 1`: the only worker waits for a task that only it could run). Python
//! deadlocks here. We don't, by *helping*: when a pool's worker thread waits on a future of the
//! same pool whose task is still `PENDING`, it wins the `PENDING → RUNNING` CAS itself and runs
//! the task inline (`Task::help`); the copy left in the queue is skipped by whichever worker
//! pops it, because its CAS fails. If the task is already `RUNNING` on another worker, that
//! worker is making progress (or is itself helping), so blocking is safe. `wait` and
//! `as_completed` help the same way, one pending future at a time. Only threads of the same pool
//! help, so a task never runs on a thread that did not run the pool's initializer. A worker that
//! submits to its own full bounded queue runs a queued job instead of blocking.

mod builder;
mod executor;
mod pool;
mod queue;
mod scope;
mod task;
mod worker;

pub use self::builder::{default_max_workers, ThreadPoolBuilder};
pub use self::executor::ThreadPoolExecutor;
pub use self::scope::{Scope, ScopedFuture};
pub(crate) use self::worker::on_worker_thread;
