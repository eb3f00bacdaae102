//! The manager's side of a cluster pool: the queue of tasks, the worker ranks with their
//! capacity and what each holds, and what each message from a rank does. Its inbox runs on the
//! MPI thread; submitting threads only queue and wake it.
//!
//! Dispatch: a task goes to the least-loaded rank (in-flight tasks over local workers) that has
//! room; a rank holds up to twice its workers, so the next task is already there when one
//! finishes. A task whose worker process died is run again (on any rank) while it has retries
//! left; the last error lists every attempt.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::time::{Duration, Instant};

use super::comm::{self, Event, Handoff, Mpi, Open};
use super::protocol::{self, Ready, END, FIN, READY};
use super::ulfm::FaultTolerance;
use crate::error::TaskError;
use crate::remote::callbacks::Callbacks;
use crate::remote::codec;
use crate::remote::complete::{complete_on, Complete};
use crate::remote::front::{Defaults, Engine};
use crate::remote::registry::RemoteError;
use crate::remote::task::{Queue, Task};
use crate::remote::wire::{Frame, ERR, OK};
use crate::sync::lock;

/// Hands an event to the session, if it is still there.
fn deliver(session: &Weak<Session>, rank: i32, event: Event) {
    if let Some(s) = session.upgrade() {
        match event {
            Event::Message(bytes) => s.on_message(rank, bytes),
            Event::Lost(why) => s.on_lost(rank, why),
        }
    }
}

/// The exit code of a job ended because a rank was lost where the library cannot go on
/// without it (`EX_TEMPFAIL`: run it again).
pub(crate) const LOST_RANK_EXIT: i32 = 75;
/// A future to complete, with its outcome.
type Finish = (Box<dyn Complete>, Result<Vec<u8>, TaskError>);

/// How long a new pool waits for its worker ranks to say they are ready.
pub(crate) const READY_WAIT: Duration = Duration::from_secs(120);

/// What the manager keeps per task besides the shared fields: when it was last sent to a rank.
pub(crate) struct Sent(pub(crate) Option<Instant>);

pub(crate) type Entry = Task<Sent>;

/// The scale of queued work a rank may hold, in time (see [`RankState::window`]).
const QUEUED_WORK: Duration = Duration::from_millis(10);
/// The most tasks in flight to a rank, per local worker (and the least, 2: one running, one
/// on its way).
pub(crate) const MAX_WINDOW: usize = 32;

#[derive(Default)]
struct RankState {
    ready: Option<Ready>,
    in_flight: HashMap<u64, Entry>,
    /// It said FIN, or was lost: nothing more is sent to it.
    finished: bool,
    /// Why it was lost, if it was.
    lost: Option<String>,
    /// A moving average of the time from sending a task to its reply (`None` before the first).
    latency: Option<Duration>,
    /// When its last reply came (for the busy-time estimate).
    last_reply: Option<Instant>,
}

impl RankState {
    /// How many tasks may be in flight to this rank. A short task waits mostly on the round
    /// trip, so a rank needs many in flight to stay busy; a long one gains nothing from a deep
    /// queue and would be better run by a rank that frees up first. With `L` the average time
    /// from send to reply, the window per worker is `w = QUEUED_WORK / L`, between 2 and
    /// [`MAX_WINDOW`]. As the queue makes up part of `L` (`L ≥ w × s` for tasks of `s` each),
    /// the work queued per worker, about `w × s`, stays under `√(QUEUED_WORK × s)`: 1 ms for
    /// 100 µs tasks, so an idle rank never waits on much work parked at a busy one, while a
    /// stream of microsecond tasks keeps up to `MAX_WINDOW` per worker on the way. (A rank
    /// always gets two per worker: with tasks longer than `QUEUED_WORK`, one more each.)
    fn window(&self, workers: usize) -> usize {
        let per = match self.latency {
            None => 2,
            Some(l) => (QUEUED_WORK.as_nanos() / l.as_nanos().max(1)) as usize,
        };
        workers * per.clamp(2, MAX_WINDOW)
    }

    /// A reply to a task sent at `sent` came now: the latency is recorded, and the busy time
    /// it stands for returned. Estimated: a rank with a queue answers every `task / workers`,
    /// so a reply stands for at most `workers` times the gap since the last one.
    fn answered(&mut self, sent: Instant) -> Duration {
        let now = Instant::now();
        let latency = now - sent;
        self.record(latency);
        let workers = self.ready.as_ref().map_or(1, |r| r.workers);
        let gap = self.last_reply.map_or(latency, |t| (now - t) * workers);
        self.last_reply = Some(now);
        latency.min(gap)
    }

    fn record(&mut self, sample: Duration) {
        self.latency = Some(match self.latency {
            None => sample,
            Some(l) => (l * 7 + sample) / 8,
        });
    }
}

#[derive(Default)]
struct State {
    ranks: Vec<RankState>,
    /// Tasks not yet sent, and whether the pool takes work.
    queue: Queue<Sent>,
    end_sent: bool,
    closed: bool,
}

impl State {
    fn idle(&self) -> bool {
        self.queue.pending.is_empty() && self.ranks.iter().all(|r| r.in_flight.is_empty())
    }
    fn all_finished(&self) -> bool {
        self.ranks.iter().all(|r| r.finished || r.ready.is_none())
    }
    /// The worker ranks still serving (ready, not lost).
    fn serving(&self) -> impl Iterator<Item = &Ready> {
        self.ranks
            .iter()
            .filter(|r| r.lost.is_none())
            .filter_map(|r| r.ready.as_ref())
    }
}

pub(crate) struct Session {
    mpi: &'static Mpi,
    ep: u64,
    /// Ranks of the endpoint that are workers (all but the manager itself).
    workers: Vec<i32>,
    state: Mutex<State>,
    changed: Condvar,
    callbacks: Callbacks,
    next_id: AtomicU64,
    pub(crate) settings: Defaults,
    stats: crate::stats::Counters,
    /// A worker rank silent this long is lost.
    rank_timeout: Duration,
}

/// Every live session, to shut down at exit before MPI is finalized.
static LIVE: Mutex<Vec<Weak<Session>>> = Mutex::new(Vec::new());

fn shutdown_all() {
    let live: Vec<_> = lock(&LIVE).drain(..).filter_map(|w| w.upgrade()).collect();
    for s in live {
        s.shutdown_bounded(false, true, Duration::from_secs(5));
    }
}

impl Session {
    /// Opens the communicator, waits for every worker rank's `READY`.
    pub(crate) fn start(
        open: Open,
        manager: Option<i32>,
        s: Defaults,
        rank_timeout: Duration,
    ) -> Result<Arc<Session>, String> {
        let mpi = comm::get()?;
        comm::set_before_finalize(shutdown_all);
        let callbacks =
            Callbacks::start().map_err(|e| format!("the callback thread could not start: {e}"))?;
        // A READY may beat `open`'s return: it waits in the hand-off until the session exists.
        let handoff: Arc<Handoff<Weak<Session>>> = Arc::new(Handoff::new());
        let inbox = {
            let handoff = handoff.clone();
            Box::new(move |rank: i32, event: Event| {
                handoff.deliver(rank, event, deliver);
            })
        };
        let opened = mpi.open(open, inbox)?;
        let workers: Vec<i32> = (0..opened.remote).filter(|&r| Some(r) != manager).collect();
        if workers.is_empty() {
            mpi.close(opened.ep);
            return Err(
                "the job has no worker ranks: start it with at least 2 ranks \
                        (mpirun -n 2 or more)"
                    .into(),
            );
        }
        let mut st = State::default();
        st.ranks
            .resize_with(opened.remote as usize, RankState::default);
        let session = Arc::new(Session {
            mpi,
            ep: opened.ep,
            workers,
            state: Mutex::new(st),
            changed: Condvar::new(),
            callbacks,
            next_id: AtomicU64::new(1),
            settings: s,
            stats: Default::default(),
            rank_timeout,
        });
        handoff.set(Arc::downgrade(&session), deliver);
        if let Err(e) = session.wait_ready() {
            session.end_now();
            return Err(e);
        }
        log::info!(
            "concurrent-futures: cluster pool over {} worker ranks; {}",
            session.workers.len(),
            match mpi.fault_tolerance {
                FaultTolerance::Ulfm =>
                    "the MPI library has fault tolerance (ULFM): a lost \
                                         rank's tasks fail or are retried and the pool goes on",
                _ => "the MPI library has no fault tolerance: a lost rank ends the job",
            }
        );
        lock(&LIVE).push(Arc::downgrade(&session));
        Ok(session)
    }

    /// Waits for every worker rank's READY; refuses a rank that runs another program.
    fn wait_ready(&self) -> Result<(), String> {
        let deadline = Instant::now() + READY_WAIT;
        let mut st = lock(&self.state);
        loop {
            if let Some(why) = st.ranks.iter().find_map(|r| r.lost.clone()) {
                return Err(why);
            }
            let missing: Vec<i32> = (self.workers.iter().copied())
                .filter(|&r| st.ranks[r as usize].ready.is_none())
                .collect();
            if missing.is_empty() {
                return Ok(());
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(format!(
                    "worker ranks {missing:?} did not report ready within {READY_WAIT:?}: \
                     they run this same program, so they must not block before their first \
                     pool call"
                ));
            }
            st = self
                .changed
                .wait_timeout(st, deadline - now)
                .map(|(g, _)| g)
                .unwrap_or_else(|p| p.into_inner().0);
        }
    }

    /// Tells every worker rank to finish and closes the communicator (a pool that could not
    /// start).
    fn end_now(&self) {
        let mut st = lock(&self.state);
        st.queue.shutdown = true;
        st.end_sent = true;
        let end = Arc::new(protocol::frame(END, 0, &[]));
        for &r in &self.workers {
            self.mpi.send_shared(self.ep, r, end.clone());
        }
        st.closed = true;
        self.mpi.close(self.ep);
    }

    pub(crate) fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// The local workers of every rank together.
    pub(crate) fn max_workers(&self) -> usize {
        lock(&self.state)
            .serving()
            .map(|r| r.workers as usize)
            .sum()
    }

    /// `(rank, host, pid, local workers)` of every worker rank still serving.
    pub(crate) fn ranks(&self) -> Vec<(i32, String, u32, usize)> {
        let st = lock(&self.state);
        self.workers
            .iter()
            .filter_map(|&r| {
                let rs = &st.ranks[r as usize];
                rs.ready
                    .as_ref()
                    .filter(|_| rs.lost.is_none())
                    .map(|x| (r, x.host.clone(), x.pid, x.workers as usize))
            })
            .collect()
    }

    /// The counters, with the local workers of the ranks still serving.
    pub(crate) fn stats(&self) -> crate::PoolStats {
        let alive = {
            let st = lock(&self.state);
            st.ranks
                .iter()
                .filter(|r| !r.finished)
                .filter_map(|r| r.ready.as_ref())
                .map(|r| r.workers as usize)
                .sum()
        };
        self.stats.snapshot(alive)
    }

    pub(crate) fn fault_tolerance(&self) -> FaultTolerance {
        self.mpi.fault_tolerance
    }

    pub(crate) fn queued(&self) -> usize {
        lock(&self.state).queue.pending.len()
    }

    pub(crate) fn is_shutdown(&self) -> bool {
        lock(&self.state).queue.shutdown
    }

    pub(crate) fn broken_cause(&self) -> Option<String> {
        lock(&self.state).queue.broken.clone()
    }

    /// Queues a task. `Err` carries the broken pool's cause, or `None` after shutdown.
    #[allow(clippy::result_large_err)] // a refused entry goes back whole, on the rare path
    pub(crate) fn submit(&self, entry: Entry) -> Result<(), (Entry, Option<String>)> {
        let mut st = lock(&self.state);
        st.queue.admit(entry, &self.stats)?;
        self.pump(&mut st);
        Ok(())
    }

    /// Sends pending tasks to ranks with room.
    fn pump(&self, st: &mut State) {
        while let Some(front) = st.queue.pending.front() {
            if front.done.is_cancelled() {
                st.queue.pending.pop_front();
                self.stats.cancelled();
                continue;
            }
            // The least-loaded rank with room.
            let best = self
                .workers
                .iter()
                .filter_map(|&r| {
                    let rs = &st.ranks[r as usize];
                    let cap = rs.ready.as_ref()?.workers as usize;
                    (!rs.finished && rs.in_flight.len() < rs.window(cap))
                        .then(|| (rs.in_flight.len() * 1024 / cap.max(1), r))
                })
                .min();
            let Some((_, rank)) = best else { break };
            let e = st.queue.pending.pop_front().expect("front exists");
            let again = e.done.is_running(); // a retry
            if !e.done.start() {
                self.stats.cancelled();
                continue; // cancelled meanwhile
            }
            if !again {
                self.stats.started();
            }
            let msg = protocol::task(e.id, e.timeout, &e.frame);
            self.mpi.send(self.ep, rank, msg);
            let e = Entry {
                engine: Sent(Some(Instant::now())),
                #[cfg(feature = "tracing")]
                running: Some(e.origin.start(
                    "cluster",
                    crate::remote::wire::call_name(&e.frame),
                    rank as u64,
                )),
                ..e
            };
            st.ranks[rank as usize].in_flight.insert(e.id, e);
        }
        self.maybe_end(st);
    }

    /// Once shut down and drained, tells every rank to finish.
    fn maybe_end(&self, st: &mut State) {
        if st.queue.shutdown && !st.end_sent && st.idle() {
            st.end_sent = true;
            let end = Arc::new(protocol::frame(END, 0, &[]));
            for &r in &self.workers {
                self.mpi.send_shared(self.ep, r, end.clone());
            }
        }
    }

    fn complete_all(&self, list: Vec<Finish>) {
        for (c, r) in list {
            complete_on(&self.callbacks, c, r);
        }
    }

    /// A message from `rank` (on the MPI thread): one or more frames.
    fn on_message(&self, rank: i32, bytes: Vec<u8>) {
        for frame in protocol::frames(&bytes) {
            match frame {
                Some(frame) => self.on_frame(rank, frame),
                None => {
                    log::warn!("concurrent-futures: ignored a malformed message from rank {rank}")
                }
            }
        }
    }

    fn on_frame(&self, rank: i32, frame: Frame) {
        let mut st = lock(&self.state);
        if st.ranks.get(rank as usize).is_none() {
            return;
        }
        let mut finish = Vec::new();
        match frame.kind {
            READY => self.on_ready(&mut st.ranks[rank as usize], rank, &frame.body),
            FIN => self.on_fin(&mut st, rank, &mut finish),
            OK | ERR => self.on_reply(&mut st, rank, frame, &mut finish),
            other => log::warn!("concurrent-futures: rank {rank} sent unexpected kind {other}"),
        }
        drop(st);
        self.complete_all(finish);
    }

    /// A worker rank is ready: how many local workers it has, on which host; from now on it
    /// is watched for silence. One that runs another program is refused.
    fn on_ready(&self, rs: &mut RankState, rank: i32, body: &[u8]) {
        match codec::decode::<Ready>(body) {
            Ok(r) => {
                if let Some(why) = r.mismatch(rank) {
                    rs.lost = Some(why);
                } else {
                    self.mpi.watch(self.ep, vec![rank], self.rank_timeout);
                }
                rs.ready = Some(Ready {
                    workers: r.workers.max(1),
                    ..r
                })
            }
            Err(e) => {
                rs.lost = Some(format!(
                    "worker rank {rank} sent a READY this program cannot read ({e}): every rank \
                     must run the same program"
                ))
            }
        }
        self.changed.notify_all();
    }

    /// A worker rank finished: whatever it still held cannot come back.
    fn on_fin(&self, st: &mut State, rank: i32, finish: &mut Vec<Finish>) {
        self.mpi.unwatch(self.ep, rank);
        let rs = &mut st.ranks[rank as usize];
        rs.finished = true;
        for (_, e) in rs.in_flight.drain() {
            self.stats.finished(false);
            let how = format!("its worker rank {rank} finished before replying");
            let err = TaskError::WorkerDied {
                pid: 0,
                how,
                host: None,
            };
            finish.push((e.done, Err(err)));
        }
        self.close_if_done(st);
        self.changed.notify_all();
    }

    /// A worker rank was lost (silent past the rank timeout, or reported failed by the
    /// library). With fault tolerance, the tasks it held are run again elsewhere (while they
    /// have retries) or fail naming its host, and the pool goes on with the others; a pool
    /// with none left is broken. Without, the job cannot go on: it is ended, naming the host.
    fn on_lost(&self, rank: i32, why: String) {
        let mut st = lock(&self.state);
        let Some(rs) = st.ranks.get_mut(rank as usize) else {
            return;
        };
        if rs.finished || rs.lost.is_some() {
            return; // it had said FIN: done with it already
        }
        let (host, pid) = rs
            .ready
            .as_ref()
            .map_or((String::from("an unknown host"), 0), |r| {
                (r.host.clone(), r.pid)
            });
        let what = format!("worker rank {rank} on {host} (pid {pid}) was lost: {why}");
        if self.mpi.fault_tolerance != FaultTolerance::Ulfm {
            static ENDING: std::sync::Once = std::sync::Once::new();
            ENDING.call_once(|| self.end_job(&what));
            return;
        }
        log::error!("concurrent-futures: {what}; its tasks go to the other ranks");
        rs.finished = true;
        rs.lost = Some(what.clone());
        let held: Vec<Entry> = rs.in_flight.drain().map(|(_, e)| e).collect();
        let died = |how: String| TaskError::WorkerDied {
            pid,
            how,
            host: Some(host.clone()),
        };
        let how = format!("its worker rank {rank} was lost: {why}");
        let mut finish = Vec::new();
        for mut e in held {
            // As a reply saying its worker died would (`on_reply`): the attempt's span ends.
            if let Some(r) = e.running.take() {
                r.finish(crate::trace::outcome::<()>(&Err(died(how.clone()))));
            }
            if e.retry(format!("rank {rank} on {host} {how}")) {
                st.queue.pending.push_front(e);
                continue;
            }
            let err = died(e.with_attempts(&how));
            self.stats.finished(false);
            finish.push((e.done, Err(err)));
        }
        if st.serving().next().is_none() {
            self.break_pool(&mut st, &what, &mut finish);
        }
        self.pump(&mut st);
        self.close_if_done(&mut st);
        self.changed.notify_all();
        drop(st);
        self.complete_all(finish);
    }

    /// Closes the communicator once no rank is left to hear from.
    fn close_if_done(&self, st: &mut State) {
        if st.all_finished() && !st.closed {
            st.closed = true;
            self.mpi.close(self.ep);
        }
    }

    /// A rank was lost and the library cannot go on without it: the job is ended, naming the
    /// host, rather than left to hang.
    fn end_job(&self, what: &str) {
        eprintln!(
            "concurrent-futures: {what}. This MPI library has no fault tolerance, so the job \
             is ended (MPI_Abort, exit code {LOST_RANK_EXIT}); to survive a lost node, run \
             under Open MPI 5 with `mpirun --with-ft ulfm`"
        );
        self.mpi.abort(LOST_RANK_EXIT);
    }

    /// No worker rank is left: the pool takes no more work and its queued tasks fail.
    fn break_pool(&self, st: &mut State, last: &str, finish: &mut Vec<Finish>) {
        let cause = format!("every worker rank was lost (the last: {last})");
        st.queue.shutdown = true;
        st.end_sent = true; // no rank to tell
        for e in st.queue.pending.drain(..) {
            self.stats.finished(false);
            let err = TaskError::BrokenExecutor {
                cause: cause.clone(),
            };
            finish.push((e.done, Err(err)));
        }
        st.queue.broken = Some(cause);
    }

    /// A task's reply: complete its future, or queue it again if its worker died and it may be
    /// retried; then send the rank more work.
    fn on_reply(&self, st: &mut State, rank: i32, frame: Frame, finish: &mut Vec<Finish>) {
        let rs = &mut st.ranks[rank as usize];
        let Some(mut e) = rs.in_flight.remove(&frame.id) else {
            return;
        };
        if let Some(sent) = e.engine.0 {
            self.stats.busy(rs.answered(sent));
        }
        let reply = reply_of(rank, frame);
        if let Some(r) = e.running.take() {
            r.finish(crate::trace::outcome(&reply));
        }
        match reply {
            Err(TaskError::WorkerDied { pid, how, host }) => {
                self.stats.replaced(); // its rank starts another worker
                let on = host.as_deref().unwrap_or_default();
                if e.retry(format!("worker {pid} on {on} {how}")) {
                    st.queue.pending.push_front(e);
                } else {
                    let how = e.with_attempts(&how);
                    self.stats.finished(false);
                    finish.push((e.done, Err(TaskError::WorkerDied { pid, how, host })));
                }
            }
            other => {
                self.stats.finished(other.is_ok());
                finish.push((e.done, other));
            }
        }
        self.pump(st);
        if st.queue.shutdown {
            self.changed.notify_all(); // only a shutdown waits for replies
        }
    }

    /// Shuts down; with `wait`, returns once every task finished, every rank said FIN and
    /// every callback ran.
    pub(crate) fn shutdown(&self, wait: bool, cancel_futures: bool) {
        self.shutdown_bounded(wait, cancel_futures, Duration::MAX);
    }

    fn shutdown_bounded(&self, wait: bool, cancel_futures: bool, limit: Duration) {
        let mut st = lock(&self.state);
        st.queue.shutdown = true;
        let mut cancelled = Vec::new();
        if cancel_futures {
            cancelled.extend(st.queue.pending.drain(..).map(|e| e.done));
        }
        self.maybe_end(&mut st);
        drop(st);
        for c in cancelled {
            c.cancel();
            self.stats.cancelled();
        }
        {
            let mut st = lock(&self.state);
            self.maybe_end(&mut st);
        }
        if !wait {
            return;
        }
        let deadline = Instant::now().checked_add(limit);
        let mut st = lock(&self.state);
        while !(st.end_sent && st.all_finished()) {
            let left = deadline.map_or(Duration::from_secs(3600), |d| {
                d.saturating_duration_since(Instant::now())
            });
            if left.is_zero() {
                return;
            }
            st = self
                .changed
                .wait_timeout(st, left)
                .map(|(g, _)| g)
                .unwrap_or_else(|p| p.into_inner().0);
        }
        let closed = st.closed;
        drop(st);
        // The program may finalize MPI as soon as this returns (`join_comm`): the
        // communicator must be freed by then.
        if closed {
            self.mpi.wait_closed(self.ep, comm::CLOSE_WAIT.min(limit));
        }
        self.callbacks.wait_drained();
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let mut st = lock(&self.state);
        if !st.closed {
            st.closed = true;
            self.mpi.close(self.ep);
        }
        drop(st);
        self.mpi.wait_closed(self.ep, comm::CLOSE_WAIT);
    }
}

/// How the shared front end reaches the cluster engine: a task is queued at the manager, which
/// sends it to the least-loaded rank with room (`session.rs`).
impl Engine for Session {
    type Extra = Sent;

    fn next_id(&self) -> u64 {
        Session::next_id(self)
    }
    fn defaults(&self) -> Defaults {
        self.settings
    }
    fn extra(&self, _future_id: usize, _batchable: bool) -> Sent {
        Sent(None)
    }
    fn submit(&self, task: Entry) -> Result<(), (Entry, Option<String>)> {
        Session::submit(self, task)
    }
    fn max_workers(&self) -> usize {
        Session::max_workers(self)
    }
    fn map_buffer(&self) -> Option<usize> {
        Some(Session::max_workers(self) * MAX_WINDOW * 2)
    }
}

/// A reply's outcome: the `OK` body, or the task's error from an `ERR` frame.
fn reply_of(rank: i32, frame: Frame) -> Result<Vec<u8>, TaskError> {
    if frame.kind == OK {
        return Ok(frame.body);
    }
    Err(match codec::decode::<RemoteError>(&frame.body) {
        Ok(err) => TaskError::from(err),
        Err(err) => TaskError::Serialization {
            message: format!("rank {rank} sent an unreadable error: {err}"),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_deepens_for_short_tasks_and_stays_shallow_for_long_ones() {
        let mut rs = RankState::default();
        assert_eq!(rs.window(3), 6, "before any reply: two per worker");
        for _ in 0..64 {
            rs.record(Duration::from_micros(20));
        }
        assert_eq!(
            rs.window(3),
            3 * MAX_WINDOW,
            "microsecond tasks: the deepest window"
        );
        for _ in 0..64 {
            rs.record(Duration::from_millis(50));
        }
        assert_eq!(rs.window(3), 6, "long tasks: back to two per worker");
        rs.latency = Some(Duration::from_millis(1));
        assert_eq!(rs.window(1), 10, "in between: QUEUED_WORK / latency");
    }

    #[test]
    fn the_latency_is_a_moving_average() {
        let mut rs = RankState::default();
        rs.record(Duration::from_micros(800));
        assert_eq!(rs.latency, Some(Duration::from_micros(800)));
        rs.record(Duration::from_micros(0));
        assert_eq!(rs.latency, Some(Duration::from_micros(700)));
    }
}
