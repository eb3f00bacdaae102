//! [`MpiPoolExecutor`]: the public face of the cluster engine.

use std::sync::Arc;

use super::builder::MpiPoolBuilder;
use super::session::Session;
use crate::error::BuildError;
use crate::remote::front::{self, Engine};

/// A pool over the ranks of an MPI job: mpi4py's `MPIPoolExecutor`, with the same API as
/// [`ProcessPoolExecutor`](crate::ProcessPoolExecutor). Tasks are [registered](crate::register)
/// functions; every rank runs the same program. Each worker rank runs its tasks in local worker
/// processes, so a task that crashes fails only its own future (with the host and pid), and
/// MPI never sees a rank die.
///
/// Static mode (every cluster): start the program with `mpirun -n N` or `srun -n N`.
///
/// ```no_run
/// use concurrent_futures::{register, MpiPoolExecutor};
/// fn square(x: u64) -> u64 { x * x }
/// register!(square);
///
/// fn main() {
///     // Rank 0 gets the pool; the other ranks serve until it is dropped, then get None.
///     let Some(pool) = MpiPoolExecutor::join_world().unwrap() else { return };
///     let total: u64 = pool.map(square, 0..1000).map(Result::unwrap).sum();
///     println!("{total}");
/// }
/// ```
///
/// Spawned mode: `MpiPoolExecutor::spawn(4)` starts 4 worker ranks running this program.
pub struct MpiPoolExecutor {
    session: Arc<Session>,
}

// The `Executor` trait and `Drop`, as every remote engine has them.
front::remote_executor!(MpiPoolExecutor, session);

front::remote_methods! {
    MpiPoolExecutor, session;
    /// Submits `f(arg)` to a worker rank. `f` must be [registered](crate::register).
    submit_fn;
    /// Like [`submit_fn`](Self::submit_fn) with a time limit and retries for this task.
    submit_fn_with;
    /// `f` over `items`, results in input order, lazily with a bounded buffer.
    map;
    /// [`map`](Self::map) with options; `chunksize` sends that many items per message.
    map_with;
    /// `f` over `items`, results in completion order.
    map_unordered;
}

impl MpiPoolExecutor {
    pub(super) fn from_session(session: Arc<Session>) -> Self {
        MpiPoolExecutor { session }
    }

    /// A builder for the other settings.
    pub fn builder() -> MpiPoolBuilder {
        MpiPoolBuilder::default()
    }

    /// Spawned mode with `n` worker ranks of one local worker each.
    pub fn spawn(n: usize) -> Result<Self, BuildError> {
        MpiPoolBuilder::default().max_workers(n).spawn()
    }

    /// Static mode with the default settings: see [`MpiPoolBuilder::join_world`].
    pub fn join_world() -> Result<Option<Self>, BuildError> {
        MpiPoolBuilder::default().join_world()
    }

    /// How many tasks (or chunks) a map keeps in flight unless told: `64 × max_workers`,
    /// enough to fill every rank's window of tasks in flight (a round trip across ranks is
    /// long next to a short task, so a rank needs up to 32 per local worker on the way to stay
    /// busy) and as many again ready for when a rank has room. With the `4 × max_workers` of
    /// the local engines, a map of microsecond tasks would wait on the network between items.
    pub fn default_buffer_size(&self) -> usize {
        self.session
            .map_buffer()
            .expect("the cluster engine sets it")
    }

    /// Shuts the pool down (the worker ranks finish); idempotent. See
    /// [`ThreadPoolExecutor::shutdown`](crate::ThreadPoolExecutor::shutdown).
    pub fn shutdown(&self, wait: bool, cancel_futures: bool) {
        self.session.shutdown(wait, cancel_futures);
    }

    /// How many tasks run at once: the local workers of every worker rank still serving (a
    /// lost rank's no longer count).
    pub fn max_workers(&self) -> usize {
        self.session.max_workers()
    }

    /// The pool's counters ([`PoolStats`](crate::PoolStats)): tasks (a `map` chunk counts as
    /// one) submitted, queued (at the manager), running (sent to a rank), completed, failed,
    /// cancelled; the local workers of the ranks still serving; workers replaced (tasks that
    /// came back from a dead worker); and the busy time, estimated from the replies (each
    /// reply counts its round trip, at most as many times the gap since that rank's previous
    /// reply as the rank has workers).
    pub fn stats(&self) -> crate::PoolStats {
        self.session.stats()
    }

    /// The worker ranks still serving: `(rank, host, pid, local workers)`.
    pub fn ranks(&self) -> Vec<(i32, String, u32, usize)> {
        self.session.ranks()
    }

    /// What a lost worker rank (its node crashed or cut off) does to this job, as the MPI
    /// library decides: with [`FaultTolerance::Ulfm`] its tasks are retried or fail and the
    /// pool goes on; with [`FaultTolerance::None`] the job ends. Also logged when the pool
    /// starts. See [`MpiPoolBuilder::rank_timeout`].
    ///
    /// [`FaultTolerance::Ulfm`]: super::FaultTolerance::Ulfm
    /// [`FaultTolerance::None`]: super::FaultTolerance::None
    pub fn fault_tolerance(&self) -> super::FaultTolerance {
        self.session.fault_tolerance()
    }

    /// How many tasks wait for a rank.
    pub fn queued(&self) -> usize {
        self.session.queued()
    }

    /// Whether the pool was shut down.
    pub fn is_shutdown(&self) -> bool {
        self.session.is_shutdown()
    }

    /// Why the pool is broken, if it is.
    pub fn broken_cause(&self) -> Option<String> {
        self.session.broken_cause()
    }
}

impl std::fmt::Debug for MpiPoolExecutor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MpiPoolExecutor")
            .field("max_workers", &self.max_workers())
            .field("ranks", &self.ranks())
            .field("queued", &self.queued())
            .finish()
    }
}
