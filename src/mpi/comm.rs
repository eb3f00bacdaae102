//! The MPI thread: one per process, started on first use, the only thread that ever calls MPI
//! (so `MPI_THREAD_FUNNELED` is all the library must provide). Everything else talks to it
//! through a command queue: open a communicator (a duplicate of the world, spawned ranks, the
//! parent), send bytes to a rank, close. What arrives is handed to the communicator's inbox, a
//! closure that runs on this thread and must not block.
//!
//! Sends are non-blocking (`MPI_Isend`): a blocking send of a large message waits for the
//! receiver to post its receive, and two ranks sending each other large messages at once would
//! wait for good. Each buffer is kept alive until its request completes. Sends to the same rank
//! that were queued while the thread was busy go as one message (up to [`COALESCE`] bytes;
//! a larger buffer goes alone, uncopied): the bytes are the concatenation, and the protocol's
//! frames carry their own lengths, so a burst of small tasks costs one MPI message.
//!
//! Receiving polls (`MPI_Improbe`) and backs off adaptively when nothing happens: it spins for
//! the first 200 µs after the last message, then naps for a sixteenth of the time it has been
//! idle, at most 20 ms (1 ms while a send is still in progress), and a command wakes it at
//! once. Blocking in the library instead is no cheaper: Open MPI's blocking receive busy-polls
//! a core until the message comes. So an idle pool costs fewer than a hundred wake-ups a second
//! (about 0 CPU) while a busy one answers within microseconds; after a long task, the reply
//! waits at most a sixteenth of the task's time (and never more than 20 ms) to be noticed.
//!
//! At process exit (`atexit`) the thread shuts down what is still open and calls
//! `MPI_Finalize`, which `mpirun` requires of every rank.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::Thread;
use std::time::{Duration, Instant};

use mpi::ffi;
use mpi::topology::SimpleCommunicator;
use mpi::traits::*;
use mpi::Threading;

use super::endpoint::{self, Endpoint, Outgoing, Probed, BEAT_TAG, LARGE, TAG};
use super::liveness::{self, Watch};
use super::ulfm::{self, FaultTolerance};
use crate::sync::lock;

pub(crate) use super::endpoint::{error_string, Bytes};

/// The name of the MPI thread.
pub(crate) const THREAD_NAME: &str = "concurrent-futures-mpi";

const SPIN: Duration = Duration::from_micros(200);
const MAX_NAP: Duration = Duration::from_millis(20);
const MAX_NAP_SENDING: Duration = Duration::from_millis(1);
const FINALIZE_WAIT: Duration = Duration::from_secs(10);
/// The bound once a rank was lost: `MPI_Finalize` then waits on it for good, even under ULFM
/// (open-mpi/ompi#11404), so the process exits without it after this.
const FINALIZE_WAIT_AFTER_LOSS: Duration = Duration::from_secs(2);
/// Whether any rank was lost in this process's lifetime.
static LOST_ANY: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
/// How long shutting a pool down waits for its communicator to be freed.
pub(crate) const CLOSE_WAIT: Duration = Duration::from_secs(10);
/// How often the heartbeats are looked at.
const CHECK_EVERY: Duration = Duration::from_millis(5);
/// A gap between two looks longer than this (and than a beat interval) is a stall: the thread
/// was blocked, not the peers silent.
const STALL: Duration = Duration::from_millis(100);
/// The most bytes that queued sends to one rank are merged into.
pub(crate) const COALESCE: usize = 64 << 10;

/// Receives `(source rank, event)` on the MPI thread.
pub(crate) type Inbox = Box<dyn FnMut(i32, Event) + Send>;

/// What an inbox is told about a rank.
pub(crate) enum Event {
    /// A message (one or more protocol frames).
    Message(Vec<u8>),
    /// The rank is lost, and why: silent past the timeout, or reported failed by the library.
    /// Nothing more is sent to it.
    Lost(String),
}

/// Which communicator to open.
pub(crate) enum Open {
    /// A duplicate of the world communicator (static mode: every rank of the job opens one).
    World,
    /// A duplicate of a communicator the program made (every rank of it opens one).
    Comm(RawComm),
    /// `n` new processes running this program with `args` (spawned mode).
    Spawn {
        n: usize,
        args: Vec<String>,
        info: Vec<(String, String)>,
    },
    /// The communicator to whoever spawned this process.
    Parent,
}

/// A communicator handle handed in by the program (MPI handles are plain values; the program
/// initialised MPI with `MPI_THREAD_MULTIPLE`, so any thread may use them).
pub(crate) struct RawComm(pub(crate) ffi::MPI_Comm);
// SAFETY: see above; the engine only duplicates it, on its MPI thread.
unsafe impl Send for RawComm {}

/// An opened communicator.
pub(crate) struct Opened {
    pub(crate) ep: u64,
    /// The number of ranks that can be sent to (the remote group, or the world).
    pub(crate) remote: i32,
}

enum Cmd {
    Open(Open, Inbox, SyncSender<Result<Opened, String>>),
    Send(u64, i32, Bytes),
    /// Watch these ranks of the endpoint for silence, with this timeout.
    Watch(u64, Vec<i32>, Duration),
    /// Stop watching a rank (it finished).
    Unwatch(u64, i32),
    Close(u64),
    /// End the whole job (`MPI_Abort` on the world) with this code.
    Abort(i32),
    Finalize(SyncSender<()>),
}

/// An event that came before its owner: `(rank, event)`.
type Early = (i32, Event);

/// Where an inbox delivers before its owner exists: a message can arrive (on the MPI thread)
/// before `open` has returned and the owner is built. Messages that come early wait here and
/// are delivered, in order, when the owner is set; checking and queuing happen under one lock,
/// so none slips between "no owner yet" and the hand-over.
pub(crate) struct Handoff<T> {
    /// The owner once set, and the events `(rank, event)` that came before it.
    inner: Mutex<(Option<T>, Vec<Early>)>,
}

impl<T> Handoff<T> {
    pub(crate) fn new() -> Self {
        Handoff {
            inner: Mutex::new((None, Vec::new())),
        }
    }

    /// Delivers a message to the owner with `f`, or keeps it until there is one.
    pub(crate) fn deliver(&self, rank: i32, event: Event, f: impl FnOnce(&T, i32, Event)) {
        let mut g = lock(&self.inner);
        match &g.0 {
            Some(owner) => f(owner, rank, event),
            None => g.1.push((rank, event)),
        }
    }

    /// Sets the owner, delivering what came early to it first with `f`.
    pub(crate) fn set(&self, owner: T, mut f: impl FnMut(&T, i32, Event)) {
        let mut g = lock(&self.inner);
        for (rank, event) in std::mem::take(&mut g.1) {
            f(&owner, rank, event);
        }
        g.0 = Some(owner);
    }
}

/// The handle to the MPI thread.
pub(crate) struct Mpi {
    queue: Mutex<VecDeque<Cmd>>,
    thread: Thread,
    /// The endpoints open on the MPI thread; `gone` is signalled when one is freed.
    live: Mutex<std::collections::HashSet<u64>>,
    gone: std::sync::Condvar,
    next_ep: AtomicU64,
    /// This process's rank in the world communicator.
    pub(crate) world_rank: i32,
    /// Whether the library survives a lost rank.
    pub(crate) fault_tolerance: FaultTolerance,
}

static MPI: OnceLock<Result<Mpi, String>> = OnceLock::new();
/// Run at exit before MPI is finalized: shuts down the pools still open.
static BEFORE_FINALIZE: OnceLock<fn()> = OnceLock::new();

/// The MPI thread, started (and MPI initialised) on first use.
pub(crate) fn get() -> Result<&'static Mpi, String> {
    super::child::ensure_linked();
    MPI.get_or_init(start).as_ref().map_err(Clone::clone)
}

/// Sets what runs at exit before MPI is finalized (the engine shuts down its open pools).
pub(crate) fn set_before_finalize(f: fn()) {
    let _ = BEFORE_FINALIZE.set(f);
}

fn start() -> Result<Mpi, String> {
    let (tx, rx) = sync_channel::<Result<(i32, FaultTolerance), String>>(1);
    let handle = std::thread::Builder::new()
        .name(THREAD_NAME.into())
        .spawn(move || {
            let universe = match mpi::initialize_with_threading(Threading::Funneled) {
                Some((_, provided)) if provided < Threading::Funneled => {
                    let _ = tx.send(Err(format!(
                        "the MPI library provides thread level {provided:?} only, and the \
                         cluster engine calls MPI from a thread of its own (it needs Funneled): \
                         use an MPI library built with thread support"
                    )));
                    return;
                }
                Some((u, _)) => Some(u),
                None => {
                    // The program initialised MPI itself: this thread may call it only if any
                    // thread may.
                    let level = mpi::environment::threading_support();
                    if level != Threading::Multiple {
                        let _ = tx.send(Err(format!(
                            "MPI was initialised by the program with thread level {level:?}, and \
                             the cluster engine calls MPI from its own thread: initialise with \
                             Threading::Multiple, or let the engine initialise MPI"
                        )));
                        return;
                    }
                    None
                }
            };
            // SAFETY: plain MPI calls on handles the library owns.
            unsafe {
                ffi::MPI_Comm_set_errhandler(ffi::RSMPI_COMM_WORLD, ffi::RSMPI_ERRORS_RETURN);
                ffi::MPI_Comm_set_errhandler(ffi::RSMPI_COMM_SELF, ffi::RSMPI_ERRORS_RETURN);
            }
            let world = SimpleCommunicator::world();
            let _ = tx.send(Ok((world.rank(), ulfm::detect())));
            run(universe);
        })
        .map_err(|e| format!("the MPI thread could not be started: {e}"))?;
    let (world_rank, fault_tolerance) = match rx.recv() {
        Ok(Ok(x)) => x,
        Ok(Err(e)) => return Err(e),
        Err(_) => return Err("MPI could not be initialised".into()),
    };
    // SAFETY: registers a plain `extern "C"` function.
    unsafe { libc::atexit(at_exit) };
    Ok(Mpi {
        queue: Mutex::new(VecDeque::new()),
        thread: handle.thread().clone(),
        live: Mutex::new(Default::default()),
        gone: std::sync::Condvar::new(),
        next_ep: AtomicU64::new(1),
        world_rank,
        fault_tolerance,
    })
}

extern "C" fn at_exit() {
    if let Some(f) = BEFORE_FINALIZE.get() {
        crate::error::drop_quietly(std::panic::catch_unwind(f));
    }
    if let Some(Ok(mpi)) = MPI.get() {
        let (tx, rx) = sync_channel(1);
        mpi.push(Cmd::Finalize(tx));
        let lost = LOST_ANY.load(Ordering::Relaxed);
        let _ = rx.recv_timeout(if lost {
            FINALIZE_WAIT_AFTER_LOSS
        } else {
            FINALIZE_WAIT
        });
    }
}

impl Mpi {
    /// Opens a communicator; its messages go to `inbox`. Blocks until the MPI thread has done
    /// it (a spawn takes a while). Never call it from an inbox.
    pub(crate) fn open(&self, what: Open, inbox: Inbox) -> Result<Opened, String> {
        let (tx, rx) = sync_channel(1);
        self.push(Cmd::Open(what, inbox, tx));
        rx.recv()
            .unwrap_or_else(|_| Err("the MPI thread has stopped".into()))
    }

    /// Sends `bytes` to `rank` of endpoint `ep` (in order with earlier sends to that rank).
    pub(crate) fn send(&self, ep: u64, rank: i32, bytes: Vec<u8>) {
        self.push(Cmd::Send(ep, rank, Arc::new(bytes)));
    }

    /// Sends the same bytes to several ranks.
    pub(crate) fn send_shared(&self, ep: u64, rank: i32, bytes: Bytes) {
        self.push(Cmd::Send(ep, rank, bytes));
    }

    /// Watches `peers` of endpoint `ep`: beats go to them, and one silent for `timeout` is
    /// reported lost to the inbox ([`liveness`](super::liveness)).
    pub(crate) fn watch(&self, ep: u64, peers: Vec<i32>, timeout: Duration) {
        self.push(Cmd::Watch(ep, peers, timeout));
    }

    /// Stops watching `rank` of endpoint `ep` (it finished).
    pub(crate) fn unwatch(&self, ep: u64, rank: i32) {
        self.push(Cmd::Unwatch(ep, rank));
    }

    /// Ends the whole job: `MPI_Abort` on the world with `code`, from the MPI thread.
    pub(crate) fn abort(&self, code: i32) {
        self.push(Cmd::Abort(code));
    }

    /// Closes endpoint `ep` once its sends are done (an intercommunicator is disconnected).
    pub(crate) fn close(&self, ep: u64) {
        self.push(Cmd::Close(ep));
    }

    /// Waits (at most `limit`) until endpoint `ep`, closed, is freed: its last sends have gone
    /// and the MPI thread no longer touches its communicator. A program that initialised MPI
    /// itself may call `MPI_Finalize` once its pool is shut down, and the engine's thread must
    /// not be inside an MPI call on that communicator then. Returns at once on the MPI thread
    /// itself (an inbox), which frees it after the inbox returns.
    pub(crate) fn wait_closed(&self, ep: u64, limit: Duration) -> bool {
        if std::thread::current().id() == self.thread.id() {
            return false;
        }
        let live = lock(&self.live);
        let (live, _) = self
            .gone
            .wait_timeout_while(live, limit, |l| l.contains(&ep))
            .unwrap_or_else(|p| p.into_inner());
        !live.contains(&ep)
    }

    fn push(&self, cmd: Cmd) {
        lock(&self.queue).push_back(cmd);
        self.thread.unpark();
    }
}

/// The MPI thread: runs the commands other threads queued, progresses the sends, receives,
/// closes what asked to be closed, and naps when nothing happened for a while.
fn run(universe: Option<mpi::environment::Universe>) {
    let mpi = loop {
        // The handle is stored once `start` returns; the first command cannot come earlier.
        match MPI.get() {
            Some(Ok(m)) => break m,
            _ => std::thread::park_timeout(Duration::from_millis(1)),
        }
    };
    let mut t = MpiThread {
        mpi,
        universe,
        eps: HashMap::new(),
        out: Vec::new(),
        still: Vec::new(),
        checked: Instant::now(),
    };
    let mut last = Instant::now();
    loop {
        let Some(commands) = t.commands() else {
            return; // finalized
        };
        let sent = t.progress_sends();
        let received = t.receive();
        // One clock read per turn, for the heartbeats, the signs of life and the back-off.
        let now = Instant::now();
        t.heartbeats(now);
        t.close_finished();
        if commands || sent || received {
            last = now;
        } else {
            nap(now - last, t.out.is_empty());
        }
    }
}

/// What the MPI thread holds between turns.
struct MpiThread {
    mpi: &'static Mpi,
    universe: Option<mpi::environment::Universe>,
    eps: HashMap<u64, Endpoint>,
    out: Vec<Outgoing>,
    /// Reused each turn: no allocation per turn.
    still: Vec<Outgoing>,
    /// When the heartbeats were last looked at (a long gap is a stall).
    checked: Instant,
}

impl MpiThread {
    /// Runs the queued commands, merging consecutive small sends to one rank. Whether there
    /// were any; `None` once `Finalize` ran (the thread ends).
    fn commands(&mut self) -> Option<bool> {
        let cmds: Vec<Cmd> = lock(&self.mpi.queue).drain(..).collect();
        let active = !cmds.is_empty();
        let mut merge = Merge::default();
        for cmd in cmds {
            let cmd = match cmd {
                Cmd::Send(ep, rank, bytes) => {
                    if let Some((ep, rank, bytes)) = merge.add(ep, rank, bytes) {
                        isend(&mut self.eps, &mut self.out, ep, rank, bytes);
                    }
                    continue;
                }
                other => other,
            };
            // Whatever else comes keeps its place after the sends before it.
            if let Some((ep, rank, bytes)) = merge.take() {
                isend(&mut self.eps, &mut self.out, ep, rank, bytes);
            }
            if let Cmd::Finalize(reply) = cmd {
                let eps = std::mem::take(&mut self.eps);
                finalize(eps, std::mem::take(&mut self.out), self.universe.take());
                lock(&self.mpi.live).clear();
                self.mpi.gone.notify_all();
                let _ = reply.send(());
                return None;
            }
            self.command(cmd);
        }
        if let Some((ep, rank, bytes)) = merge.take() {
            isend(&mut self.eps, &mut self.out, ep, rank, bytes);
        }
        Some(active)
    }

    /// Runs one command other than a send or finalize.
    fn command(&mut self, cmd: Cmd) {
        match cmd {
            Cmd::Open(what, inbox, reply) => {
                let _ = reply.send(self.open(what, inbox));
            }
            Cmd::Watch(ep, peers, timeout) => {
                let now = Instant::now();
                match self.eps.get_mut(&ep).map(|e| &mut e.watch) {
                    Some(Some(w)) => peers.into_iter().for_each(|r| w.add(r, now)),
                    Some(w) => *w = Some(Watch::new(peers, timeout, now)),
                    None => {}
                }
            }
            Cmd::Unwatch(ep, rank) => {
                if let Some(w) = self.eps.get_mut(&ep).and_then(|e| e.watch.as_mut()) {
                    w.remove(rank);
                }
            }
            Cmd::Close(ep) => {
                if let Some(e) = self.eps.get_mut(&ep) {
                    e.closing = true;
                }
            }
            Cmd::Abort(code) => {
                // SAFETY: a plain MPI call; it ends the job.
                unsafe { ffi::MPI_Abort(ffi::RSMPI_COMM_WORLD, code) };
                std::process::exit(code);
            }
            Cmd::Send(..) | Cmd::Finalize(_) => unreachable!("handled in `commands`"),
        }
    }

    /// Opens a communicator as a new endpoint whose messages go to `inbox`. The open may
    /// block (a spawn, a collective): the peers watched are told to wait longer first.
    fn open(&mut self, what: Open, inbox: Inbox) -> Result<Opened, String> {
        self.pause_peers(liveness::PAUSE_FOR_OPEN);
        endpoint::open(what).map(|(comm, remote)| {
            let ep = self.mpi.next_ep.fetch_add(1, Ordering::Relaxed);
            lock(&self.mpi.live).insert(ep);
            self.eps.insert(ep, Endpoint::new(comm, inbox));
            Opened { ep, remote }
        })
    }

    /// Progresses the sends and frees what has gone; whether any had.
    fn progress_sends(&mut self) -> bool {
        let mut active = false;
        for mut o in self.out.drain(..) {
            if o.test() {
                active = true;
            } else {
                self.still.push(o);
            }
        }
        std::mem::swap(&mut self.out, &mut self.still);
        active
    }

    /// Receives up to 64 messages per endpoint, each handed to its inbox (contained: a panic
    /// there does not end the MPI thread); whether any came. Every message is a sign of life
    /// of its rank; beats go no further.
    fn receive(&mut self) -> bool {
        let mut active = false;
        // A sign of life needs no finer time than one clock read per turn.
        let mut heard_at = None;
        let mut large = None;
        'eps: for (&id, e) in self.eps.iter_mut() {
            for _ in 0..64 {
                match e.comm.probe() {
                    Probed::Nothing => break,
                    Probed::Message { rank, tag, bytes } => {
                        active = true;
                        arrived(e, rank, tag, bytes, &mut heard_at);
                    }
                    Probed::Large(m) => {
                        large = Some((id, m));
                        break 'eps;
                    }
                    Probed::Failed(rc) => {
                        failed(id, e, &mut self.out, rc);
                        break;
                    }
                }
            }
        }
        if let Some((id, m)) = large {
            self.receive_large(id, m);
            return true;
        }
        active
    }

    /// Receives a large message: this thread stays inside the library until all of it has
    /// come, so the peers are told to wait that long first (its sender knows already).
    fn receive_large(&mut self, id: u64, m: endpoint::Matched) {
        self.pause_peers(liveness::transfer_pause(m.len));
        let Some(e) = self.eps.get_mut(&id) else {
            return;
        };
        match m.receive() {
            Probed::Message { rank, tag, bytes } => arrived(e, rank, tag, bytes, &mut None),
            Probed::Failed(rc) => failed(id, e, &mut self.out, rc),
            _ => {}
        }
    }

    /// Sends every peer watched a beat that carries `pause`: this thread may now be silent
    /// that long.
    fn pause_peers(&mut self, pause: Duration) {
        let pause = Arc::new(liveness::beat(pause));
        for (&id, e) in &self.eps {
            let peers: Vec<i32> = e.watch.iter().flat_map(|w| w.peers()).collect();
            for r in peers {
                beat(id, e, &mut self.out, r, &pause);
            }
        }
    }

    /// Sends the beats that are due and reports the peers silent past their timeout, every
    /// [`CHECK_EVERY`] at most (not on every turn of a busy loop). A check that came late (the
    /// thread was blocked) restarts every peer's clock.
    fn heartbeats(&mut self, now: Instant) {
        let gap = now.saturating_duration_since(self.checked);
        if gap < CHECK_EVERY {
            return;
        }
        self.checked = now;
        let mut zero: Option<Bytes> = None;
        for (&id, e) in self.eps.iter_mut() {
            if e.closing {
                continue;
            }
            let Some(w) = e.watch.as_mut() else { continue };
            if gap > w.every().max(STALL) {
                w.stalled(now);
            }
            let (due, lost) = (w.due(now), w.lost(now));
            for r in due {
                let bytes = zero.get_or_insert_with(|| Arc::new(liveness::beat(Duration::ZERO)));
                beat(id, e, &mut self.out, r, bytes);
            }
            for (r, silent) in lost {
                let why = format!("it sent nothing for {:.1} s", silent.as_secs_f64());
                lose(id, e, &mut self.out, r, why);
            }
        }
    }

    /// Closes what asked to be closed once nothing is on its way out.
    fn close_finished(&mut self) {
        let out = &self.out;
        let done: Vec<u64> = self
            .eps
            .iter()
            .filter(|(id, e)| e.closing && !out.iter().any(|o| o.ep == **id))
            .map(|(id, _)| *id)
            .collect();
        for id in done {
            if let Some(e) = self.eps.remove(&id) {
                endpoint::drop_comm(e.comm);
            }
            lock(&self.mpi.live).remove(&id);
            self.mpi.gone.notify_all();
        }
    }
}

/// A message from `rank`: a sign of life (a beat may carry a pause), handed to the inbox
/// unless it is a beat or its rank was lost.
fn arrived(e: &mut Endpoint, rank: i32, tag: i32, bytes: Vec<u8>, at: &mut Option<Instant>) {
    if !e.lost.is_empty() && e.lost.contains(&rank) {
        return; // its tasks went elsewhere already
    }
    if let Some(w) = e.watch.as_mut() {
        let pause = if tag == BEAT_TAG {
            liveness::pause_of(&bytes)
        } else {
            Duration::ZERO
        };
        w.heard(rank, pause, *at.get_or_insert_with(Instant::now));
    }
    if tag == TAG {
        deliver(e, rank, Event::Message(bytes));
    }
}

/// Hands an event to an endpoint's inbox; a panic there is contained.
fn deliver(e: &mut Endpoint, rank: i32, event: Event) {
    let inbox = &mut e.inbox;
    crate::error::drop_quietly(std::panic::catch_unwind(std::panic::AssertUnwindSafe(
        || inbox(rank, event),
    )));
}

/// Sends a beat to `rank` (unless it is lost).
fn beat(id: u64, e: &Endpoint, out: &mut Vec<Outgoing>, rank: i32, bytes: &Bytes) {
    if e.lost.contains(&rank) {
        return;
    }
    if let Ok(req) = e.comm.isend(rank, BEAT_TAG, bytes) {
        let buf = bytes.clone();
        out.push(Outgoing {
            ep: id,
            rank,
            req,
            buf,
        });
    }
}

/// `rank` of endpoint `id` is lost: its sends in progress are given up, nothing more goes to
/// it, and the inbox is told why.
fn lose(id: u64, e: &mut Endpoint, out: &mut [Outgoing], rank: i32, why: String) {
    if !e.lost.insert(rank) {
        return;
    }
    LOST_ANY.store(true, Ordering::Relaxed);
    if let Some(w) = e.watch.as_mut() {
        w.remove(rank);
    }
    for o in out.iter_mut().filter(|o| o.ep == id && o.rank == rank) {
        o.abandon();
    }
    deliver(e, rank, Event::Lost(why));
}

/// The library reported an error on a receive. Under ULFM that is a rank lost: the failed
/// ranks are acknowledged (so receiving from the others works again) and each reported lost.
fn failed(id: u64, e: &mut Endpoint, out: &mut [Outgoing], rc: i32) {
    let lost = match ulfm::get() {
        Some(u) => u.failed(e.comm.raw(), e.comm.is_inter()),
        None => Vec::new(),
    };
    let fresh: Vec<i32> = lost.into_iter().filter(|r| !e.lost.contains(r)).collect();
    if fresh.is_empty() && !e.failing {
        e.failing = true;
        log::error!("concurrent-futures: receiving failed: {}", error_string(rc));
    }
    for r in fresh {
        let why = format!("the MPI library reports it failed ({})", error_string(rc));
        lose(id, e, out, r, why);
    }
}

/// Waits a little after a turn with nothing to do, `idle` after the last that had: spins at
/// first, then naps longer the longer it stays idle (shorter while sends are in progress).
fn nap(idle: Duration, sending: bool) {
    if idle < SPIN {
        std::hint::spin_loop();
        std::thread::yield_now();
    } else {
        let cap = if sending { MAX_NAP_SENDING } else { MAX_NAP };
        std::thread::park_timeout((idle / 16).clamp(Duration::from_micros(20), cap));
    }
}

/// Starts a send of the pool's `bytes` to `rank` (dropped if that rank is lost).
/// A large message keeps its receiver inside the library until all of it has come (Open MPI's
/// TCP transport reads it in one go), so the receiver sends no beat meanwhile: it is given the
/// time the message takes on the slowest link assumed ([`liveness::transfer_pause`]).
fn isend(
    eps: &mut HashMap<u64, Endpoint>,
    out: &mut Vec<Outgoing>,
    ep: u64,
    rank: i32,
    bytes: Bytes,
) {
    let Some(e) = eps.get_mut(&ep) else { return };
    if e.lost.contains(&rank) {
        return;
    }
    if let Some(w) = e.watch.as_mut().filter(|_| bytes.len() > LARGE) {
        w.heard(rank, liveness::transfer_pause(bytes.len()), Instant::now());
    }
    match e.comm.isend(rank, TAG, &bytes) {
        Ok(req) => out.push(Outgoing {
            ep,
            rank,
            req,
            buf: bytes,
        }),
        Err(rc) => log::warn!(
            "concurrent-futures: a send to rank {rank} failed: {}",
            error_string(rc)
        ),
    }
}

/// Consecutive sends to one rank, merged into one message.
#[derive(Default)]
pub(crate) struct Merge {
    to: Option<(u64, i32)>,
    parts: Vec<Bytes>,
    len: usize,
}

impl Merge {
    /// Adds a send; returns a message to send first when this one cannot join the current one
    /// (another rank, or too large together).
    pub(crate) fn add(&mut self, ep: u64, rank: i32, bytes: Bytes) -> Option<(u64, i32, Bytes)> {
        let fits = self.to == Some((ep, rank)) && self.len + bytes.len() <= COALESCE;
        let before = if fits { None } else { self.take() };
        self.to = Some((ep, rank));
        self.len += bytes.len();
        self.parts.push(bytes);
        before
    }

    /// The merged message, if any: one part goes as it is, several are concatenated.
    pub(crate) fn take(&mut self) -> Option<(u64, i32, Bytes)> {
        let (ep, rank) = self.to.take()?;
        let len = std::mem::take(&mut self.len);
        let mut parts = std::mem::take(&mut self.parts);
        let bytes = if parts.len() == 1 {
            parts.pop().expect("one part")
        } else {
            let mut all = Vec::with_capacity(len);
            for p in &parts {
                all.extend_from_slice(p);
            }
            Arc::new(all)
        };
        Some((ep, rank, bytes))
    }
}

/// Completes what can be completed, leaks what cannot (a peer that is gone), disconnects and
/// finalizes.
fn finalize(
    eps: HashMap<u64, Endpoint>,
    out: Vec<Outgoing>,
    universe: Option<mpi::environment::Universe>,
) {
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut out = out;
    while !out.is_empty() && Instant::now() < deadline {
        out.retain_mut(|o| !o.test());
        std::thread::yield_now();
    }
    for mut o in out {
        o.abandon();
    }
    for (_, e) in eps {
        endpoint::drop_comm(e.comm);
    }
    drop(universe);
}
