//! [`MpiPoolBuilder`]: the settings of a cluster pool and its three ways to start.

use std::time::Duration;

use super::comm::Open;
use super::executor::MpiPoolExecutor;
use super::session::Session;
use crate::error::BuildError;
use crate::remote::front::Defaults;
use crate::remote::wire::DEFAULT_FRAME_LIMIT;

/// The argument a spawned worker rank is started with (its `main` never runs).
pub(crate) const WORKER_ARG: &str = "--concurrent-futures-mpi-worker";

/// Settings for an [`MpiPoolExecutor`]; end with [`spawn`](Self::spawn) or
/// [`join_world`](Self::join_world).
#[derive(Clone, Debug, Default)]
pub struct MpiPoolBuilder {
    pub(crate) max_workers: Option<usize>,
    pub(crate) workers_per_rank: Option<usize>,
    pub(crate) retries: u32,
    pub(crate) task_timeout: Option<Duration>,
    pub(crate) info: Vec<(String, String)>,
    pub(crate) rank_timeout: Option<Duration>,
}

impl MpiPoolBuilder {
    /// Spawned mode: how many tasks run at once across all worker ranks (default: this
    /// machine's cores). With [`workers_per_rank`](Self::workers_per_rank) `k` (default 1), `n / k`
    /// ranks (rounded up) are spawned.
    pub fn max_workers(mut self, n: usize) -> Self {
        self.max_workers = Some(n);
        self
    }

    /// Local worker processes per worker rank: the tasks it runs at once. Default: 1 for spawned
    /// ranks, and in static mode the cores of the rank's machine (one rank per node uses the
    /// whole node).
    pub fn workers_per_rank(mut self, k: usize) -> Self {
        self.workers_per_rank = Some(k);
        self
    }

    /// How many times a task whose worker process died is run again (on any rank) before its
    /// future fails; the error then lists every attempt. Default 0.
    pub fn retries(mut self, n: u32) -> Self {
        self.retries = n;
        self
    }

    /// A time limit for every task: one still running after `d` has its worker process killed
    /// (and replaced) and fails with [`TaskError::TaskTimedOut`](crate::TaskError::TaskTimedOut).
    pub fn task_timeout(mut self, d: Duration) -> Self {
        self.task_timeout = Some(d);
        self
    }

    /// How long a rank may send nothing before it is lost (default 10 s). The manager and each
    /// worker rank send each other a beat every fifth of it, so a rank whose node crashed or
    /// was cut off from the network is found within this time, whatever the MPI library.
    /// A lost worker rank's tasks are then retried on the others or fail, naming its host,
    /// where the library has fault tolerance ([`FaultTolerance::Ulfm`]); where it has none, the
    /// job is ended with a message naming the host, instead of hanging. A worker rank that
    /// loses its manager stops. Every rank must use the same value (in static mode, build the
    /// pool the same way on every rank). Short values risk taking a rank stalled by a loaded
    /// machine for a lost one. A rank receiving a large message sends no beat until it has all
    /// of it, so its sender gives it the time the message takes at 10 MB/s on top (about 100 s
    /// for a 1 GiB frame, the limit): a rank cut off during such a transfer is found that much
    /// later.
    ///
    /// [`FaultTolerance::Ulfm`]: crate::mpi::FaultTolerance::Ulfm
    pub fn rank_timeout(mut self, d: Duration) -> Self {
        self.rank_timeout = Some(d);
        self
    }

    fn timeout(&self) -> Duration {
        self.rank_timeout
            .unwrap_or(super::liveness::DEFAULT_TIMEOUT)
            .max(Duration::from_millis(100))
    }

    /// An `MPI_Info` key for `MPI_Comm_spawn` (`host`, `hostfile`, `map_by`, …; see your MPI
    /// library). By default `map_by` is `:OVERSUBSCRIBE` (Open MPI), so that asking for more
    /// ranks than the allocation's slots works on one machine.
    pub fn spawn_info(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.info.push((key.into(), value.into()));
        self
    }

    fn settings(&self) -> Defaults {
        Defaults {
            retries: self.retries,
            task_timeout: self.task_timeout,
            frame_limit: DEFAULT_FRAME_LIMIT,
        }
    }

    /// Spawned mode: starts worker ranks running this program (`MPI_Comm_spawn`). Where the MPI
    /// library cannot spawn (many clusters cannot), the error says so and names the static
    /// mode, [`join_world`](Self::join_world).
    pub fn spawn(self) -> Result<MpiPoolExecutor, BuildError> {
        let total = self.max_workers.unwrap_or_else(crate::default_max_workers);
        let per = self.workers_per_rank.unwrap_or(1);
        if total == 0 || per == 0 {
            return Err(BuildError::new(
                "max_workers and workers_per_rank must be at least 1",
            ));
        }
        let ranks = total.div_ceil(per);
        let mut info = self.info.clone();
        if !info.iter().any(|(k, _)| k == "map_by") {
            info.push(("map_by".into(), ":OVERSUBSCRIBE".into()));
        }
        let args = vec![
            WORKER_ARG.to_string(),
            format!("{per}"),
            format!("{}", self.timeout().as_millis()),
        ];
        let session = Session::start(
            Open::Spawn {
                n: ranks,
                args,
                info,
            },
            None,
            self.settings(),
            self.timeout(),
        )
        .map_err(|e| {
            BuildError::new(format!(
                "MPI could not spawn {ranks} worker ranks: {e}. Where spawning is not \
                     supported, start the program with `mpirun -n N` (or `srun -n N`) and use \
                     the static mode, MpiPoolExecutor::join_world()"
            ))
        })?;
        Ok(MpiPoolExecutor::from_session(session))
    }

    /// Static mode, for a program started as every rank of a job (`mpirun -n N ./prog`, `srun
    /// -n N ./prog`): every rank calls this at the same point. Rank 0 gets `Some(pool)` over
    /// ranks 1..N; every other rank serves tasks until rank 0's pool shuts down, then gets
    /// `None` (and typically returns from `main`). mpi4py's `MPICommExecutor`.
    pub fn join_world(self) -> Result<Option<MpiPoolExecutor>, BuildError> {
        let rank = world_rank().map_err(BuildError::new)?;
        self.join(|| Open::World, rank, 0)
    }

    /// Static mode over the communicator `open` names, as `rank` of it: `root` builds the pool,
    /// every other rank serves it.
    fn join(
        self,
        open: impl Fn() -> Open,
        rank: i32,
        root: i32,
    ) -> Result<Option<MpiPoolExecutor>, BuildError> {
        if rank == root {
            let session = Session::start(open(), Some(root), self.settings(), self.timeout())
                .map_err(|e| BuildError::new(format!("the cluster pool could not start: {e}")))?;
            return Ok(Some(MpiPoolExecutor::from_session(session)));
        }
        let per = self
            .workers_per_rank
            .unwrap_or_else(crate::default_max_workers);
        if per == 0 {
            return Err(BuildError::new("workers_per_rank must be at least 1"));
        }
        super::rank::serve(open(), root, per, DEFAULT_FRAME_LIMIT, self.timeout())
            .map_err(|e| BuildError::new(format!("worker rank {rank} stopped: {e}")))?;
        Ok(None)
    }

    /// Static mode over a communicator the program made (mpi4py's `MPICommExecutor(comm,
    /// root)`), for a program that initialised MPI itself — with
    /// `Threading::Multiple`, since the engine calls MPI from its own thread. Every rank of
    /// `comm` calls this at the same point: `root` gets `Some(pool)` over the others, which
    /// serve until its pool shuts down and then get `None`. The engine works on a duplicate of
    /// `comm`, so the program's own messages on it are never mixed with the engine's.
    pub fn join_comm(
        self,
        comm: &impl mpi::traits::Communicator,
        root: i32,
    ) -> Result<Option<MpiPoolExecutor>, BuildError> {
        use super::comm::RawComm;
        if mpi::environment::is_initialized()
            && mpi::environment::threading_support() != mpi::Threading::Multiple
        {
            return Err(BuildError::new(
                "join_comm needs MPI initialised with Threading::Multiple (the engine calls \
                 MPI from its own thread); or let the engine initialise MPI and use join_world",
            ));
        }
        let (rank, size) = (comm.rank(), comm.size());
        if !(0..size).contains(&root) {
            return Err(BuildError::new(format!(
                "root {root} is not a rank of the communicator (size {size})"
            )));
        }
        self.join(|| Open::Comm(RawComm(comm.as_raw())), rank, root)
    }
}

fn world_rank() -> Result<i32, String> {
    Ok(super::comm::get()?.world_rank)
}
