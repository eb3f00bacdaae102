//! The cluster engine: [`MpiPoolExecutor`] over the ranks of an MPI job, through the `mpi`
//! crate (rsmpi). Build with the `mpi` feature (needs an MPI library and libclang).
//!
//! # A task's flow
//!
//! ```text
//!  rank 0 (manager)                         worker rank r (one per node)
//!  ───────────────                          ─────────────────────────────
//!  submit_fn(f, x)                          MPI thread: inbox
//!    CALL frame (registry name, codec)        TASK → local ProcessPoolExecutor
//!    session: least-loaded rank   ──TASK──▶     (task id rewritten)  ──socket──▶ worker process
//!    MPI thread: MPI_Isend                                                         runs f(x)
//!                                                reader thread: reply   ◀──socket──
//!  MPI thread: inbox  ◀──────────OK/ERR──────   relayed as it came (MPI_Isend)
//!    Complete::finish → Future<R>
//!    callbacks → the pool's callback thread
//! ```
//!
//! Every MPI call is made by one thread per process (`comm.rs`), so MPI is initialised with
//! `MPI_THREAD_FUNNELED`; messages are the process engine's frames (`protocol.rs` lists the
//! kinds, all under one tag on a communicator of the engine's own: a duplicate of the world in
//! static mode, the spawn intercommunicator in spawned mode).
//!
//! # How much is in flight
//!
//! The session sends each task to the least-loaded rank with room. A rank's room is a window
//! that follows the round trip (`session.rs`, `RankState::window`): between 2 and 32 tasks per
//! local worker, deeper the shorter the time from send to reply, so a stream of microsecond
//! tasks hides the network while long tasks are not parked at a busy rank. Sends queued for one
//! rank while the MPI thread was busy go out as one MPI message (`comm.rs`), and a `map` keeps
//! 64 tasks per worker in flight ([`MpiPoolExecutor::default_buffer_size`]).
//!
//! # Failures and shutdown
//!
//! - A task that panics fails its future, with the panic's message and location.
//! - A task that crashes (segfault, abort, `exit`, the OOM killer) kills a local worker
//!   process; the rank reports `WorkerDied` with its host and the pid, starts another worker,
//!   and the task is retried if it may be ([`retries`](MpiPoolBuilder::retries)).
//! - A spawn that Open MPI leaves hanging (a known Open MPI 4.1 / PMIx 4 fault) is bounded and
//!   tried again (`spawn.rs`).
//! - A rank that is lost itself (its node crashed, or cut off from the network) is found by the
//!   library where it reports failures (ULFM, `ulfm.rs`) or by the engine's own heartbeat
//!   within [`rank_timeout`](MpiPoolBuilder::rank_timeout) (`liveness.rs`, the design note
//!   [`lost_ranks`](crate::design::lost_ranks)). With ULFM the
//!   tasks it held are retried on the other ranks or fail naming its host, and the pool serves
//!   on with the rest; without, the job is ended (`MPI_Abort`) with a message naming the host,
//!   never left to hang. A worker rank that loses its manager stops. Every MPI call the engine
//!   makes returns its errors (`endpoint.rs`); none is fatal.
//! - `shutdown(wait)` lets queued tasks run (or cancels them), then sends `END` to every rank;
//!   each answers `FIN` once its replies are sent and returns from `join_world` (static mode) or
//!   exits (spawned mode, after `MPI_Comm_disconnect`). At process exit, pools still open are
//!   shut down and MPI is finalized.

mod builder;
mod child;
mod comm;
mod endpoint;
mod executor;
mod liveness;
mod protocol;
mod rank;
mod session;
mod spawn;
mod ulfm;

pub use self::builder::MpiPoolBuilder;
pub use self::executor::MpiPoolExecutor;
pub use self::ulfm::FaultTolerance;
/// The `mpi` crate (rsmpi) the engine is built on, for programs that initialise MPI themselves
/// and hand in a communicator ([`MpiPoolBuilder::join_comm`]).
pub use ::mpi as rsmpi;
