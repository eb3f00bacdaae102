//! The parent's dispatcher: pending tasks, live workers, and what happens on every event
//! (submit, reply, worker exit, timeout, shutdown).
//!
//! All state is behind one mutex (`State`); I/O (writing frames, spawning, completing futures,
//! which runs callbacks) happens after it is released. Each event handler computes a [`Work`]
//! list under the lock and carries it out afterwards.
//!
//! A worker runs one task at a time, with up to three more (`map` tasks) queued behind it in its
//! ring, in the order the parent sent them; so when a worker dies the parent knows exactly
//! which task it was running — the oldest unanswered one, if the worker had taken it from its
//! ring: that task's future fails (with the pid and the signal or exit status), every other
//! task goes back to the queue, and a replacement is started if work remains (`pool/exit.rs`).
//! Stopping the pool is `pool/lifecycle.rs`.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::time::{Duration, Instant};

use super::proc::{KillReason, SpawnOptions, WorkerProc};
use super::reader::{read_loop, Parts};
use super::sys::Stop;
use super::timers::Timers;
use crate::error::TaskError;
use crate::remote::callbacks::Callbacks;
use crate::remote::codec;
use crate::remote::complete::Complete;
use crate::remote::front::{Defaults, Engine};
use crate::remote::registry::RemoteError;
use crate::remote::task::{Queue, Task};
use crate::remote::wire::{self, ERR, HELLO, OK};
use crate::sync::lock;

/// What the process engine keeps per task besides the shared fields.
pub(crate) struct Local {
    /// The identity of its future (for [`kill`](crate::ProcessPoolExecutor::kill)).
    pub(crate) future_id: usize,
    /// Submitted by `map`: may be queued inside a worker behind another `map` task.
    pub(crate) batchable: bool,
}

pub(crate) type Entry = Task<Local>;

#[derive(Clone)]
pub(crate) struct Init {
    pub(crate) frame: Vec<u8>,
}

#[derive(Clone)]
pub(crate) struct Config {
    pub(crate) max_workers: usize,
    pub(crate) max_tasks_per_child: Option<usize>,
    pub(crate) initializer: Option<Init>,
    pub(crate) idle_timeout: Option<Duration>,
    /// A task's time limit, retries and largest frame, unless it says otherwise.
    pub(crate) tasks: Defaults,
    /// How long `terminate_workers` waits after `SIGTERM` before `SIGKILL`.
    pub(crate) terminate_grace: Duration,
    /// How long a new worker may take to say `HELLO`.
    pub(crate) start_timeout: Duration,
    /// Marker flags for new workers.
    pub(crate) worker_flags: u32,
}

/// A worker that dies before its `HELLO` this many times in a row (with no worker having
/// served in between) means workers cannot start: the pool breaks.
const START_FAILURES: usize = 3;

/// How long a new worker may take to say `HELLO`, unless the builder says otherwise
/// (`start_timeout`). A copy of the program that neither becomes a worker nor exits (it ran its
/// own `main`: a server, say) is killed then, and counts as a worker that could not start,
/// instead of holding tasks back for good.
pub(crate) const START_TIMEOUT: Duration = Duration::from_secs(60);

/// How many tasks may be in one worker at once (sent, not yet answered): the one it runs and up
/// to three behind it, so that it finds its next task already in its ring when it finishes one,
/// instead of idling for a round trip through the parent (`map` tasks only: see
/// `Entry::pipelined`). With 2, a `map` of microsecond tasks spent a share of its time waiting on
/// the parent (the `process` benchmark's chunksize-1 row measures it); 8 was no faster than 4.
const PIPELINE: usize = 4;

struct Slot {
    proc: Arc<WorkerProc>,
    /// The worker's `HELLO` (with the right token) arrived: it is a worker, ready to serve.
    hello: bool,
    /// The timer id of its `HELLO` deadline.
    hello_deadline: u64,
    /// Sent and unanswered, oldest (the one running) first.
    in_flight: VecDeque<Entry>,
    /// The initializer has not answered yet.
    initializing: bool,
    /// Closed (or closing): takes no more work.
    retiring: bool,
    /// Signalled by the parent (`doom`).
    killed: bool,
    tasks_done: usize,
    idle_since: Instant,
    /// Since when its oldest task in flight has been running (for the busy time).
    busy_since: Instant,
}

impl Entry {
    /// Whether this task may wait inside a worker behind another one. Only `map` tasks do (a
    /// stream of similar tasks, where keeping the worker busy matters and their order is already
    /// fixed); a task from `submit` always goes to the first worker that is free, and a task with
    /// a time limit is never queued behind another (its clock starts when it is sent).
    fn pipelined(&self) -> bool {
        self.engine.batchable && self.timeout.is_none()
    }
}

impl Slot {
    /// Idle: ready, nothing in flight.
    fn idle(&self) -> bool {
        self.hello && !self.initializing && !self.retiring && self.in_flight.is_empty()
    }

    /// Can take `next` now (idle, or pipelining behind a task without a time limit).
    fn accepts(&self, next: &Entry, max_tasks: Option<usize>) -> bool {
        if !self.hello || self.initializing || self.retiring || self.in_flight.len() >= PIPELINE {
            return false;
        }
        if max_tasks.is_some_and(|m| self.tasks_done + self.in_flight.len() >= m) {
            return false;
        }
        match self.in_flight.back() {
            None => true,
            Some(prev) => prev.pipelined() && next.pipelined(),
        }
    }
}

struct State {
    /// Tasks not yet sent, and whether the pool takes work.
    queue: Queue<Local>,
    workers: Vec<Slot>,
    starting: usize,
    /// `terminate_workers` / `kill_workers` was called.
    terminating: bool,
    readers: Vec<std::thread::JoinHandle<()>>,
    /// A worker of this pool has said `HELLO`: workers can start.
    ever_ready: bool,
    /// Workers that died before their `HELLO` since the last one that said it.
    start_failures: usize,
}

/// A frame queued in a worker's outbox (under the state lock, so in `in_flight` order) to be
/// written: to whom, the task id, and the time limit to start now.
type Outgoing = (Arc<WorkerProc>, u64, Option<Duration>);
/// A future to complete.
type Finish = (Box<dyn Complete>, Result<Vec<u8>, TaskError>);

/// What an event handler must do once the lock is released.
#[derive(Default)]
struct Work {
    sends: Vec<Outgoing>,
    spawns: usize,
    closes: Vec<Arc<WorkerProc>>,
    finish: Vec<Finish>,
    cancels: Vec<Box<dyn Complete>>,
    /// Initializer frames to send to new workers.
    inits: Vec<Arc<WorkerProc>>,
}

pub(crate) struct Shared {
    pub(crate) cfg: Config,
    state: Mutex<State>,
    changed: Condvar,
    next_id: AtomicU64,
    timers: Timers,
    callbacks: Callbacks,
    me: Weak<Shared>,
    pub(crate) stats: crate::stats::Counters,
}

/// A thread about to wait for one of this pool's futures reads its workers' reply rings
/// itself, instead of waiting for their reader threads to read them and wake it (`port.md`):
/// a prompt reply then moves from the worker to the waiting thread through shared memory alone,
/// with two threads awake instead of three.
impl crate::future::Help for Shared {
    fn help(&self, key: u64, done: &dyn Fn() -> bool, deadline: Option<Instant>) -> bool {
        let proc = {
            let st = lock(&self.state);
            st.workers
                .iter()
                .find(|s| s.in_flight.iter().any(|e| e.id == key))
                .map(|s| s.proc.clone())
        };
        // Still queued in the parent (or answered already): its reply will come through a
        // reader thread, which sends it when a worker is free.
        let Some(proc) = proc else {
            return done();
        };
        super::port::help(self, &[proc], done, wire::READ_SPIN, deadline)
    }
}

std::thread_local! {
    /// The pool whose reader thread this is (callbacks run here).
    static READER_OF: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

impl Shared {
    /// The pool's state, with its callback and timer threads started: `Err` if a thread it
    /// needs cannot be started.
    pub(crate) fn new(cfg: Config) -> std::io::Result<Arc<Shared>> {
        super::spawner::ensure_started()?;
        let callbacks = Callbacks::start()?;
        let shared = Arc::new_cyclic(|me| Shared {
            cfg,
            stats: Default::default(),
            state: Mutex::new(State {
                queue: Queue::default(),
                workers: Vec::new(),
                starting: 0,
                terminating: false,
                readers: Vec::new(),
                ever_ready: false,
                start_failures: 0,
            }),
            changed: Condvar::new(),
            next_id: AtomicU64::new(1),
            timers: Timers::default(),
            callbacks,
            me: me.clone(),
        });
        // Started here, not on first use: a task's time limit must never silently not fire
        // because a thread could not be started later (`submit_fn_with_timeout` needs it too).
        shared.timers.ensure_running(&shared.me)?;
        Ok(shared)
    }

    pub(crate) fn timers(&self) -> &Timers {
        &self.timers
    }

    pub(crate) fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) fn weak(&self) -> Weak<Shared> {
        self.me.clone()
    }

    fn key(&self) -> usize {
        self as *const Shared as usize
    }

    // ----- events ------------------------------------------------------------------------------

    /// Queues a task. `Err` gives it back with the reason when the pool refuses work.
    #[allow(clippy::result_large_err)] // a refused entry goes back whole, on the rare path
    pub(crate) fn submit(&self, entry: Entry) -> Result<(), (Entry, Option<String>)> {
        let mut st = lock(&self.state);
        st.queue.admit(entry, &self.stats)?;
        let work = self.pump(&mut st);
        drop(st);
        self.execute(work);
        Ok(())
    }

    /// Assigns pending tasks to available workers, plans spawns and retirements.
    fn pump(&self, st: &mut State) -> Work {
        let mut work = Work::default();
        // Fill idle workers first. Pipeline (queue more tasks inside a busy worker) only once
        // the pool has all the workers it may have: while one is still starting, a task waits
        // for it rather than behind a task that may run long.
        let full =
            st.workers.iter().filter(|s| !s.retiring).count() + st.starting >= self.cfg.max_workers;
        let rounds = if full { PIPELINE } else { 1 };
        for round in 0..rounds {
            for slot in st.workers.iter_mut() {
                if slot.in_flight.len() != round {
                    continue;
                }
                while let Some(e) = st.queue.pending.front() {
                    if e.done.is_cancelled() {
                        st.queue.pending.pop_front();
                        self.stats.cancelled();
                        continue;
                    }
                    if !slot.accepts(e, self.cfg.max_tasks_per_child) {
                        break;
                    }
                    let e = st.queue.pending.pop_front().expect("front exists");
                    // Sent is running: `cancel()` returning true must mean the task never runs,
                    // and once in a worker's socket it will. Its clock starts now (a task with a
                    // time limit is only ever sent to an idle worker).
                    let again = e.done.is_running(); // sent before, to a worker that died
                    if !e.done.start() {
                        self.stats.cancelled();
                        continue; // cancelled meanwhile
                    }
                    if !again {
                        self.stats.started();
                    }
                    if slot.in_flight.is_empty() {
                        slot.busy_since = Instant::now();
                    }
                    #[cfg(feature = "tracing")]
                    let e = {
                        let (mut e, pid) = (e, slot.proc.pid as u64);
                        e.running =
                            Some(e.origin.start("processes", wire::call_name(&e.frame), pid));
                        e
                    };
                    let timeout = e.timeout;
                    slot.proc.queue(e.frame.clone());
                    work.sends.push((slot.proc.clone(), e.id, timeout));
                    slot.in_flight.push_back(e);
                    break;
                }
            }
        }
        // Drop cancelled entries at the front so that they do not cause spawns.
        while st
            .queue
            .pending
            .front()
            .is_some_and(|e| e.done.is_cancelled())
        {
            st.queue.pending.pop_front();
            self.stats.cancelled();
        }
        // Start workers for what is still waiting (also during shutdown: accepted work runs),
        // counting those already starting or initializing as spare.
        let live = st.workers.iter().filter(|s| !s.retiring).count() + st.starting;
        let waiting = st.queue.pending.len();
        let spare = st
            .workers
            .iter()
            .filter(|s| (s.initializing || !s.hello) && !s.retiring)
            .count()
            + st.starting;
        if waiting > spare && st.queue.broken.is_none() {
            let want = (waiting - spare).min(self.cfg.max_workers.saturating_sub(live));
            st.starting += want;
            work.spawns = want;
        }
        if st.queue.shutdown && st.queue.pending.is_empty() {
            for slot in st.workers.iter_mut() {
                if slot.idle() {
                    slot.retiring = true;
                    work.closes.push(slot.proc.clone());
                }
            }
        }
        work
    }

    /// Carries out what an event planned: futures are completed first, then frames written
    /// (without waiting for room: `outbox.rs`), workers closed and started.
    fn execute(&self, work: Work) {
        for c in work.cancels {
            c.cancel();
            self.stats.cancelled();
        }
        for (c, r) in work.finish {
            self.complete(c, r);
        }
        for (proc, id, timeout) in work.sends {
            if let Some(t) = timeout {
                self.timers.add(Instant::now() + t, id, &proc);
            }
            // Writes the outbox in order, whichever thread queued each frame.
            proc.flush();
        }
        if let Some(init) = &self.cfg.initializer {
            for p in work.inits {
                p.send(init.frame.clone());
            }
        }
        for p in work.closes {
            p.close();
        }
        for _ in 0..work.spawns {
            self.spawn_worker();
        }
    }

    /// Completes a future; its callbacks go to the callback thread.
    fn complete(&self, c: Box<dyn Complete>, r: Result<Vec<u8>, TaskError>) {
        crate::remote::complete::complete_on(&self.callbacks, c, r);
    }

    fn spawn_worker(&self) {
        let me = self
            .me
            .upgrade()
            .expect("the pool is alive while it spawns");
        let opts = SpawnOptions {
            frame_limit: self.cfg.tasks.frame_limit,
            flags: self.cfg.worker_flags,
        };
        let spawned = match WorkerProc::spawn(opts) {
            Ok(s) => s,
            Err(e) => return self.spawn_failed(format!("could not start a worker process: {e}")),
        };
        let proc = Arc::new(spawned.proc);
        // The parts go to the reader through a slot, so that they come back (and the child is
        // killed and reaped here) if the thread cannot start.
        let parts = Arc::new(Mutex::new(Some(Parts {
            proc: proc.clone(),
            child: spawned.child,
            sock: spawned.reader,
            exit: spawned.exit,
        })));
        // Held until the worker's slot exists: the reader, which takes the parts first, must not
        // handle the worker's HELLO before the slot it belongs to is there.
        let mut handoff = lock(&*parts);
        let reader_thread = std::thread::Builder::new()
            .name(format!("ProcessPoolExecutor-reader-{}", proc.pid))
            .spawn({
                let parts = parts.clone();
                let me = me.clone();
                move || {
                    READER_OF.with(|c| c.set(me.key()));
                    let taken = lock(&*parts).take();
                    if let Some(parts) = taken {
                        read_loop(me, parts);
                    }
                }
            });
        let handle = match reader_thread {
            Ok(h) => h,
            Err(e) => {
                if let Some(mut p) = handoff.take() {
                    let _ = p.child.kill();
                    let _ = p.child.wait();
                }
                return self.spawn_failed(format!(
                    "could not start a reader thread for a worker process: {e}"
                ));
            }
        };
        let hello_deadline = self.next_id();
        self.timers.add(
            Instant::now() + self.cfg.start_timeout,
            hello_deadline,
            &proc,
        );
        let mut st = lock(&self.state);
        st.starting -= 1;
        st.readers.retain(|h| !h.is_finished());
        st.readers.push(handle);
        st.workers.push(Slot {
            proc: proc.clone(),
            hello: false,
            hello_deadline,
            in_flight: VecDeque::new(),
            initializing: self.cfg.initializer.is_some(),
            retiring: false,
            killed: false,
            tasks_done: 0,
            idle_since: Instant::now(),
            busy_since: Instant::now(),
        });
        drop(handoff);
        // Tasks wait for the worker's HELLO; the initializer frame is sent at once (the worker
        // reads it after it said HELLO).
        let mut work = self.pump(&mut st);
        if st.queue.shutdown && st.queue.pending.is_empty() {
            // Nothing left for it (the work it was started for was cancelled meanwhile).
            if let Some(slot) = st.workers.last_mut() {
                slot.retiring = true;
                work.closes.push(proc.clone());
            }
        } else if self.cfg.initializer.is_some() {
            work.inits.push(proc.clone());
        }
        drop(st);
        if self.cfg.idle_timeout.is_some() {
            self.timers.poke();
        }
        self.execute(work);
    }

    /// A worker (or its reader thread) could not be started: logged; with no worker at all,
    /// the pool breaks, so that no task waits for a worker that will never come.
    fn spawn_failed(&self, why: String) {
        let mut st = lock(&self.state);
        st.starting -= 1;
        let none = st.workers.is_empty() && st.starting == 0;
        self.changed.notify_all();
        drop(st);
        if none {
            self.break_pool(why);
        } else {
            log::error!("process pool: {why}");
        }
    }

    /// A frame from a worker (its reader thread calls this). `Err`: the worker broke the
    /// protocol and must be killed.
    pub(crate) fn on_frame(
        &self,
        proc: &Arc<WorkerProc>,
        frame: wire::Frame,
    ) -> Result<(), String> {
        match frame.kind {
            HELLO => self.on_hello(proc, &frame.body),
            OK | ERR => self.on_reply(proc, frame),
            #[cfg(feature = "tracing")]
            wire::EVENTS => self.on_events(proc, frame),
            other => Err(format!("unexpected frame kind {other}")),
        }
    }

    /// Events a task emitted in the worker: emitted here, in the task's span. Events for a task
    /// the worker is not running (it was taken back) are dropped.
    #[cfg(feature = "tracing")]
    fn on_events(&self, proc: &Arc<WorkerProc>, frame: wire::Frame) -> Result<(), String> {
        let events: Vec<crate::trace::forward::Event> =
            codec::decode(&frame.body).map_err(|e| format!("unreadable EVENTS frame: {e}"))?;
        let st = lock(&self.state);
        let Some(slot) = st.workers.iter().find(|s| Arc::ptr_eq(&s.proc, proc)) else {
            return Ok(());
        };
        if let Some(r) = slot
            .in_flight
            .front()
            .filter(|e| e.id == frame.id)
            .and_then(|e| e.running.as_ref())
        {
            r.replay(&events, proc.pid);
        }
        Ok(())
    }

    fn on_hello(&self, proc: &Arc<WorkerProc>, token: &[u8]) -> Result<(), String> {
        if token != proc.token {
            return Err("its HELLO does not carry the token it was started with".into());
        }
        let mut st = lock(&self.state);
        let Some(slot) = st.workers.iter_mut().find(|s| Arc::ptr_eq(&s.proc, proc)) else {
            return Ok(());
        };
        if slot.hello {
            return Err("it said HELLO twice".into());
        }
        slot.hello = true;
        slot.idle_since = Instant::now();
        self.timers.remove(slot.hello_deadline);
        st.ever_ready = true;
        st.start_failures = 0;
        let work = self.pump(&mut st);
        drop(st);
        self.execute(work);
        Ok(())
    }

    fn on_reply(&self, proc: &Arc<WorkerProc>, frame: wire::Frame) -> Result<(), String> {
        // Proves the worker read the frame it answers, and checks what its ring's head says.
        proc.answered()?;
        let reply = if frame.kind == OK {
            Ok(frame.body)
        } else {
            Err(match codec::decode::<RemoteError>(&frame.body) {
                Ok(e) => TaskError::from(e),
                Err(e) => TaskError::Serialization {
                    message: format!("the worker sent an unreadable error: {e}"),
                },
            })
        };
        let mut st = lock(&self.state);
        let Some(slot) = st.workers.iter_mut().find(|s| Arc::ptr_eq(&s.proc, proc)) else {
            return Ok(());
        };
        if !slot.hello {
            return Err("it replied before its HELLO".into());
        }
        if slot.initializing {
            slot.initializing = false;
            slot.idle_since = Instant::now();
            if let Err(e) = reply {
                drop(st);
                self.break_pool(format!("the initializer failed: {e}"));
                return Ok(());
            }
            let work = self.pump(&mut st);
            drop(st);
            self.execute(work);
            return Ok(());
        }
        if slot.in_flight.front().map(|e| e.id) != Some(frame.id) {
            if slot.killed {
                // A worker being killed may answer a task that was already taken back.
                return Ok(());
            }
            return Err(format!("reply for unexpected task {}", frame.id));
        }
        let entry = slot.in_flight.pop_front().expect("checked above");
        slot.tasks_done += 1;
        slot.idle_since = Instant::now();
        self.stats.busy(slot.idle_since - slot.busy_since);
        slot.proc.port.note_task(slot.idle_since - slot.busy_since);
        slot.busy_since = slot.idle_since; // the next task in the worker runs from now
        self.stats.finished(reply.is_ok());
        let mut entry = entry;
        if let Some(r) = entry.running.take() {
            r.finish(crate::trace::outcome(&reply));
        }
        let limit_reached = self
            .cfg
            .max_tasks_per_child
            .is_some_and(|m| slot.tasks_done >= m);
        let mut retire = None;
        if limit_reached {
            slot.retiring = true;
            retire = Some(slot.proc.clone());
        }
        if entry.timeout.is_some() {
            self.timers.remove(entry.id);
        }
        let mut work = self.pump(&mut st);
        if st.queue.shutdown {
            self.changed.notify_all();
        }
        drop(st);
        if let Some(p) = retire {
            work.closes.push(p);
        }
        work.finish.push((entry.done, reply));
        self.execute(work);
        Ok(())
    }

    /// Stops the timer thread once the pool is shut down and has nothing left (`wait_idle`
    /// does too, but returns at once when called on one of the pool's own reader threads).
    fn stop_timers_if_finished(&self) {
        let st = lock(&self.state);
        let finished = st.queue.shutdown
            && st.workers.is_empty()
            && st.starting == 0
            && st.queue.pending.is_empty();
        drop(st);
        if finished {
            self.timers.stop();
        }
    }

    /// A task's deadline passed: kill its worker if it is still running that task.
    pub(crate) fn on_deadline(&self, id: u64, proc: &Arc<WorkerProc>) {
        let mut st = lock(&self.state);
        let st = &mut *st;
        let Some(slot) = st.workers.iter_mut().find(|s| Arc::ptr_eq(&s.proc, proc)) else {
            return;
        };
        if !slot.hello && slot.hello_deadline == id {
            slot.proc
                .signal(Stop::Kill, KillReason::NoHello(self.cfg.start_timeout));
            return;
        }
        if let Some(limit) = slot
            .in_flight
            .front()
            .filter(|e| e.id == id)
            .map(|e| e.timeout.unwrap_or_default())
        {
            Self::doom(
                slot,
                &mut st.queue.pending,
                Stop::Kill,
                KillReason::Timeout(limit),
            );
        }
    }

    /// Signals a worker the parent wants gone, under the state lock. It takes no more work
    /// (`retiring`), and the tasks queued behind its running task go back to `pending` at once:
    /// they have not started, and they must not be taken for the killed task — the running task
    /// may still answer before the signal lands, and then the next one would be the one the
    /// worker dies in.
    fn doom(slot: &mut Slot, pending: &mut VecDeque<Entry>, signal: Stop, reason: KillReason) {
        while slot.in_flight.len() > 1 {
            let e = slot.in_flight.pop_back().expect("len > 1");
            pending.push_front(e);
        }
        Self::stop_worker(slot, signal, reason);
    }

    /// Signals a worker the parent wants gone, under the state lock, leaving its tasks where
    /// they are: when the pool's workers are terminated every task in a worker ends, and which
    /// of them had begun is known only once the worker has ended, its last replies read and its
    /// ring's `head` final (`pool/exit.rs`) — the parent may not yet have read a reply the worker
    /// sent before it began the next task.
    fn stop_worker(slot: &mut Slot, signal: Stop, reason: KillReason) {
        slot.retiring = true;
        slot.killed = true;
        slot.proc.clear_outbox();
        slot.proc.signal(signal, reason);
    }

    /// Retires workers idle for longer than the idle timeout; returns when to look again.
    pub(crate) fn reap_idle(&self) -> Option<Instant> {
        let t = self.cfg.idle_timeout?;
        let now = Instant::now();
        let mut st = lock(&self.state);
        let mut next = None::<Instant>;
        let mut closes = Vec::new();
        for s in st.workers.iter_mut() {
            if s.idle() {
                let at = s.idle_since + t;
                if at <= now {
                    s.retiring = true;
                    closes.push(s.proc.clone());
                } else {
                    next = Some(next.map_or(at, |n| n.min(at)));
                }
            }
        }
        let any = !st.workers.is_empty();
        drop(st);
        for p in closes {
            p.close();
        }
        if any {
            Some(next.unwrap_or(now + t))
        } else {
            None
        }
    }
}

/// Records why the pool is broken; the first cause is logged (at error level, like Python's
/// `BrokenProcessPool` at CRITICAL), once.
fn mark_broken(st: &mut State, cause: &str) {
    if st.queue.broken.is_none() {
        log::error!("process pool broken: {cause}");
        st.queue.broken = Some(cause.to_owned());
    }
}

/// How the shared front end reaches the process engine: a task goes to the dispatcher
/// (`pool.rs`), which hands it to an idle worker or queues it.
impl Engine for Shared {
    type Extra = Local;

    fn next_id(&self) -> u64 {
        Shared::next_id(self)
    }
    fn defaults(&self) -> Defaults {
        self.cfg.tasks
    }
    /// A future whose waiting thread may read its worker's replies itself (`port.md`).
    fn promise<R: Send + 'static>(
        &self,
        id: u64,
    ) -> (crate::future::Promise<R>, crate::future::Future<R>) {
        crate::future::Promise::helped(self.weak() as std::sync::Weak<dyn crate::future::Help>, id)
    }
    fn extra(&self, future_id: usize, batchable: bool) -> Local {
        Local {
            future_id,
            batchable,
        }
    }
    fn submit(&self, task: Entry) -> Result<(), (Entry, Option<String>)> {
        Shared::submit(self, task)
    }
    fn max_workers(&self) -> usize {
        self.cfg.max_workers
    }
}

mod exit;
mod lifecycle;
use lifecycle::terminated_before_start;
