//! [`MpiPoolExecutor`]: the public face of the cluster engine.

use std::sync::Arc;

use super::builder::MpiPoolBuilder;
use super::session::{Entry, Session, MAX_WINDOW};
use crate::error::{BuildError, SubmitError};
use crate::executor::{Executor, MapOptions, Payload, SubmitOptions, TaskFn};
use crate::future::{Future, Promise};
use crate::map::{Map, MapUnordered};
use crate::remote::complete::{call_frame, refusal, Batch, Chunk, Complete, Typed};
use crate::remote::registry::{lookup_fn, not_registered};
use crate::remote::wire::FLAG_BATCH;
use crate::remote::ChunkedMap;

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

    /// Submits `f(arg)` to a worker rank. `f` must be [registered](crate::register).
    pub fn submit_fn<A: Payload, R: Payload>(
        &self,
        f: impl TaskFn<A, R>,
        arg: A,
    ) -> Result<Future<R>, SubmitError<A>> {
        self.submit_fn_with(f, arg, SubmitOptions::new())
    }

    /// Like [`submit_fn`](Self::submit_fn) with a time limit and retries for this task.
    pub fn submit_fn_with<A: Payload, R: Payload>(
        &self,
        f: impl TaskFn<A, R>,
        arg: A,
        options: SubmitOptions,
    ) -> Result<Future<R>, SubmitError<A>> {
        let Some(reg) = lookup_fn(&f) else {
            return Err(SubmitError::NotRegistered(arg, not_registered(&f)));
        };
        let (id, call) = match self.encode_call(reg.name, 0, &arg, "the argument") {
            Ok(x) => x,
            Err(why) => return Err(SubmitError::Invalid(arg, why)),
        };
        self.enqueue(id, call, options, |t| Box::new(t))
            .map_err(|cause| match cause {
                Some(c) => SubmitError::Broken(arg, c),
                None => SubmitError::Shutdown(arg),
            })
    }

    fn encode_call<T: serde::Serialize>(
        &self,
        name: &str,
        flags: u8,
        value: &T,
        what: &str,
    ) -> Result<(u64, Vec<u8>), String> {
        let id = self.session.next_id();
        call_frame(
            id,
            name,
            flags,
            value,
            what,
            self.session.settings.frame_limit,
        )
        .map(|f| (id, f))
    }

    fn enqueue<R: Send + 'static>(
        &self,
        id: u64,
        call: Vec<u8>,
        options: SubmitOptions,
        done: impl FnOnce(Typed<R>) -> Box<dyn Complete>,
    ) -> Result<Future<R>, Option<String>> {
        let (promise, fut) = Promise::new();
        let view = fut.view();
        let entry = Entry {
            id,
            call: Arc::new(call),
            timeout: options.timeout.or(self.session.settings.task_timeout),
            retries_left: options.retries.unwrap_or(self.session.settings.retries),
            attempts: Vec::new(),
            done: done(Typed { promise, view }),
            sent: None,
            origin: crate::trace::Origin::capture(),
            running: None,
        };
        self.session
            .submit(entry)
            .map(|()| fut)
            .map_err(|(_, cause)| cause)
    }

    fn submit_batch<A: Payload, R: Payload>(
        &self,
        f: impl TaskFn<A, R>,
        items: Vec<A>,
    ) -> Result<Future<Chunk<R>>, SubmitError<()>> {
        let Some(reg) = lookup_fn(&f) else {
            return Err(SubmitError::NotRegistered((), not_registered(&f)));
        };
        let (id, call) = self
            .encode_call(reg.name, FLAG_BATCH, &items, "the chunk")
            .map_err(|why| SubmitError::Invalid((), why))?;
        self.enqueue(id, call, SubmitOptions::new(), |t| Box::new(Batch(t)))
            .map_err(refusal)
    }

    /// `f` over `items`, results in input order, lazily with a bounded buffer.
    pub fn map<A: Payload, R: Payload, I: IntoIterator<Item = A>>(
        &self,
        f: impl TaskFn<A, R>,
        items: I,
    ) -> ChunkedMap<'_, R, I::IntoIter> {
        self.map_with(f, items, MapOptions::default())
    }

    /// [`map`](Self::map) with options; `chunksize` sends that many items per message.
    pub fn map_with<A: Payload, R: Payload, I: IntoIterator<Item = A>>(
        &self,
        f: impl TaskFn<A, R>,
        items: I,
        options: MapOptions,
    ) -> ChunkedMap<'_, R, I::IntoIter> {
        let options = self.map_buffer(options);
        ChunkedMap::new(
            Box::new(move |items| self.submit_batch(f, items)),
            items.into_iter(),
            options,
            self.max_workers(),
        )
    }

    /// How many tasks (or chunks) a map keeps in flight unless told: `64 × max_workers`,
    /// enough to fill every rank's window of tasks in flight (a round trip across ranks is
    /// long next to a short task, so a rank needs up to 32 per local worker on the way to stay
    /// busy) and as many again ready for when a rank has room. With the `4 × max_workers` of
    /// the local engines, a map of microsecond tasks would wait on the network between items.
    pub fn default_buffer_size(&self) -> usize {
        self.max_workers() * MAX_WINDOW * 2
    }

    fn map_buffer(&self, options: MapOptions) -> MapOptions {
        match options.buffer_size {
            Some(_) => options,
            None => options.buffer_size(self.default_buffer_size()),
        }
    }

    /// `f` over `items`, results in completion order.
    pub fn map_unordered<A: Payload, R: Payload, I: IntoIterator<Item = A>>(
        &self,
        f: impl TaskFn<A, R>,
        items: I,
    ) -> MapUnordered<'_, R, I::IntoIter> {
        MapUnordered::new(
            Box::new(move |a| self.submit_fn(f, a).map_err(|e| e.map(|_| ()))),
            items.into_iter(),
            self.map_buffer(MapOptions::default()),
            self.max_workers(),
        )
    }

    /// Shuts the pool down (the worker ranks finish); idempotent. See
    /// [`ThreadPoolExecutor::shutdown`](crate::ThreadPoolExecutor::shutdown).
    pub fn shutdown(&self, wait: bool, cancel_futures: bool) {
        self.session.shutdown(wait, cancel_futures);
    }

    /// How many tasks run at once: the local workers of every worker rank together.
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

    /// The worker ranks: `(rank, host, pid, local workers)`.
    pub fn ranks(&self) -> Vec<(i32, String, u32, usize)> {
        self.session.ranks()
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

impl Drop for MpiPoolExecutor {
    fn drop(&mut self) {
        self.session.shutdown(true, false);
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

impl Executor for MpiPoolExecutor {
    fn submit_fn<A: Payload, R: Payload>(
        &self,
        f: impl TaskFn<A, R>,
        arg: A,
    ) -> Result<Future<R>, SubmitError<A>> {
        MpiPoolExecutor::submit_fn(self, f, arg)
    }
    fn stats(&self) -> crate::PoolStats {
        MpiPoolExecutor::stats(self)
    }
    fn shutdown_async(&self, cancel_futures: bool) -> Future<()> {
        // Closed to new work now, as `shutdown` is; the wait happens on another thread.
        self.session.shutdown(false, cancel_futures);
        let inner = self.session.clone();
        crate::future::in_background(move || inner.shutdown(true, cancel_futures))
    }
    fn shutdown(&self, wait: bool, cancel_futures: bool) {
        MpiPoolExecutor::shutdown(self, wait, cancel_futures)
    }
    fn max_workers(&self) -> usize {
        MpiPoolExecutor::max_workers(self)
    }
    fn default_buffer_size(&self) -> usize {
        MpiPoolExecutor::default_buffer_size(self)
    }
    fn map_with<'a, A: Payload, R: Payload, I: IntoIterator<Item = A>>(
        &'a self,
        f: impl TaskFn<A, R>,
        items: I,
        options: MapOptions,
    ) -> Map<'a, R, I::IntoIter>
    where
        I::IntoIter: 'a,
    {
        // The same map as the inherent one: `chunksize` items per message.
        Map::engine(MpiPoolExecutor::map_with(self, f, items, options))
    }
}
