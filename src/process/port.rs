#![doc = include_str!("port.md")]

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed, Ordering::SeqCst};
use std::sync::{Arc, Mutex, MutexGuard, TryLockError};
use std::time::{Duration, Instant};

use super::pool::Shared;
use super::proc::{KillReason, WorkerProc};
use super::ring::{self, Consumer, Watch};
use super::sys::Stop;
use crate::remote::wire::{Frame, FrameBuf};
use crate::sync::lock;

/// The parent's end of one worker's reply ring.
pub(crate) struct Port {
    inner: Mutex<Inner>,
    watch: Watch,
    /// Frames taken from the ring and not yet handed to the pool (changed under the lock, read
    /// without it by a spinning helper).
    queued: AtomicUsize,
    /// Threads waiting for a future of the pool that watch the ring themselves.
    helpers: AtomicUsize,
    /// How long this worker's tasks take, about (`note_task`).
    typical_ns: AtomicU64,
}

struct Inner {
    ring: Consumer,
    buf: FrameBuf,
    frames: VecDeque<Frame>,
    /// A thread is handing frames to the pool; the others leave the queue to it.
    handing: bool,
    /// The ring or a frame broke the protocol: the worker is being killed, and nothing more is
    /// read from it.
    broken: bool,
}

/// What the reader thread does next.
pub(crate) enum Next {
    /// Look again: frames or bytes came.
    Again,
    /// Nothing for a while, and the ring says so (or a helper watches it): block.
    Sleep,
    /// The worker closed its end and the ring is empty.
    Done,
    /// The worker broke the protocol (it is being killed).
    Broken,
}

impl Port {
    pub(crate) fn new(ring: Consumer, frame_limit: usize) -> Port {
        Port {
            watch: ring.watch(),
            inner: Mutex::new(Inner {
                ring,
                buf: FrameBuf::new(frame_limit),
                frames: VecDeque::new(),
                handing: false,
                broken: false,
            }),
            queued: AtomicUsize::new(0),
            helpers: AtomicUsize::new(0),
            typical_ns: AtomicU64::new(0),
        }
    }

    /// Takes what the ring holds and queues the whole frames in it; how many bytes it took. A
    /// corrupt ring or a frame that does not parse kills the worker.
    fn pull_in(&self, g: &mut Inner, proc: &WorkerProc) -> usize {
        if g.broken {
            return 0;
        }
        let Inner { ring, buf, .. } = &mut *g;
        let n = match buf.append_with(|v| ring.read_into(v, ring::CAPACITY)) {
            Ok(n) => n,
            Err(corrupt) => {
                g.broken = true;
                proc.signal(Stop::Kill, KillReason::Protocol(corrupt.to_string()));
                return 0;
            }
        };
        loop {
            match g.buf.next_frame() {
                Ok(Some(frame)) => g.frames.push_back(frame),
                Ok(None) => break,
                // A frame that does not parse: the worker is not speaking the protocol.
                Err(e) => {
                    g.broken = true;
                    proc.signal(Stop::Kill, KillReason::Protocol(e.to_string()));
                    break;
                }
            }
        }
        self.queued.store(g.frames.len(), SeqCst);
        n
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        lock(&self.inner)
    }

    /// Takes what the ring holds, unless another thread is at it (a helper's look).
    fn try_pull(&self, proc: &WorkerProc) {
        let mut g = match self.inner.try_lock() {
            Ok(g) => g,
            Err(TryLockError::WouldBlock) => return,
            Err(TryLockError::Poisoned(p)) => p.into_inner(),
        };
        self.pull_in(&mut g, proc);
    }

    /// Hands the queued frames to the pool in order, unless another thread is doing so (it
    /// takes these too). The lock is not held while the pool handles a frame: handling may send
    /// the worker its next task, and wait for room to do so, while others read the ring.
    pub(crate) fn deliver(&self, pool: &Shared, proc: &Arc<WorkerProc>) {
        {
            let mut g = self.lock();
            if g.handing || g.frames.is_empty() {
                return;
            }
            g.handing = true;
        }
        /// Gives the queue up if handling a frame unwinds (it should not: the pool contains
        /// what user code does), so the frames behind it are not stranded.
        struct Handing<'a>(&'a Port);
        impl Drop for Handing<'_> {
            fn drop(&mut self) {
                self.0.lock().handing = false;
            }
        }
        let handing = Handing(self);
        loop {
            let frame = {
                let mut g = self.lock();
                match g.frames.pop_front() {
                    Some(f) => {
                        self.queued.store(g.frames.len(), SeqCst);
                        f
                    }
                    None => {
                        // Given up under the same lock that saw the queue empty: a frame
                        // queued after this finds nobody handing, and whoever queued it (or
                        // the reader, before it sleeps) hands it over.
                        g.handing = false;
                        drop(g);
                        std::mem::forget(handing);
                        return;
                    }
                }
            };
            if let Err(why) = pool.on_frame(proc, frame) {
                proc.signal(Stop::Kill, KillReason::Protocol(why));
            }
        }
    }

    /// The reader thread's step: takes what the ring holds; if nothing, spins on it for a
    /// moment (unless a helper watches it), then asks the worker for a doorbell.
    pub(crate) fn next(&self, proc: &WorkerProc, closed: bool, spin: Duration) -> Next {
        {
            let mut g = self.lock();
            if let Some(next) = self.look(&mut g, proc) {
                return next;
            }
            if closed {
                return Next::Done;
            }
        }
        if self.helpers.load(SeqCst) == 0 && self.spin(self.spin_for(spin)) {
            return Next::Again;
        }
        let mut g = self.lock();
        if let Some(next) = self.look(&mut g, proc) {
            return next;
        }
        if self.helpers.load(SeqCst) > 0 {
            // The last helper to leave asks for doorbells again, and takes what came before.
            return Next::Sleep;
        }
        match g.ring.prepare_sleep() {
            Ok(true) => Next::Again,
            Ok(false) => Next::Sleep,
            Err(corrupt) => {
                g.broken = true;
                proc.signal(Stop::Kill, KillReason::Protocol(corrupt.to_string()));
                Next::Broken
            }
        }
    }

    /// Pulls, and says whether there is anything for the reader to do now: frames nobody is
    /// handing, or a broken protocol.
    fn look(&self, g: &mut Inner, proc: &WorkerProc) -> Option<Next> {
        self.pull_in(g, proc);
        if !g.frames.is_empty() && !g.handing {
            return Some(Next::Again);
        }
        if g.broken {
            return Some(Next::Broken);
        }
        None
    }

    /// Spins for at most `limit` until bytes may be waiting (true), or a helper comes to watch
    /// the ring instead (false).
    fn spin(&self, limit: Duration) -> bool {
        let start = Instant::now();
        let mut i = 0u32;
        loop {
            if self.watch.maybe_bytes() {
                return true;
            }
            i = i.wrapping_add(1);
            if i % 64 == 0 {
                if self.helpers.load(SeqCst) > 0 || start.elapsed() >= limit {
                    return false;
                }
                std::thread::yield_now();
            }
            std::hint::spin_loop();
        }
    }

    /// Back from blocking: the reader watches the ring again, no doorbell is wanted.
    pub(crate) fn woke(&self) {
        self.lock().ring.woke();
    }

    /// The worker has ended, or closed its end: takes what is left in the ring (a worker's last
    /// reply is whole in the ring before it can exit), then waits until every frame has been
    /// handed to the pool (a helper may be handing the last ones).
    pub(crate) fn finish(&self, pool: &Shared, proc: &Arc<WorkerProc>) {
        while self.pull_in(&mut self.lock(), proc) > 0 {}
        let mut step = 0u32;
        loop {
            self.deliver(pool, proc);
            let g = self.lock();
            if !g.handing && g.frames.is_empty() {
                return;
            }
            drop(g);
            // Another thread is handing a frame: it ends soon (handling a frame never waits
            // for room in the worker's ring); the queue is left to it meanwhile.
            step += 1;
            if step < 64 {
                std::thread::yield_now();
            } else {
                std::thread::sleep(Duration::from_micros(100));
            }
        }
    }

    /// A thread waiting for a future of the pool starts watching this ring itself (`help`):
    /// the worker is asked not to ring meanwhile, and the reader sleeps.
    fn enter(&self) {
        self.helpers.fetch_add(1, SeqCst);
        self.watch.want_doorbell(false);
    }

    /// One look by a helper: takes what the ring holds and hands it to the pool.
    fn step(&self, pool: &Shared, proc: &Arc<WorkerProc>) {
        if self.watch.maybe_bytes() {
            self.try_pull(proc);
        }
        if self.queued.load(SeqCst) > 0 {
            self.deliver(pool, proc);
        }
    }

    /// A helper stops watching; the last one asks for doorbells again.
    fn leave(&self, pool: &Shared, proc: &Arc<WorkerProc>) {
        if self.helpers.fetch_sub(1, SeqCst) == 1 {
            self.rearm(pool, proc);
        }
    }

    /// Counts how long a task took in the worker (from when it was sent, or from the reply
    /// before it, to its reply): the spin of a thread waiting for a reply is only worth it when
    /// replies come within it.
    pub(crate) fn note_task(&self, took: Duration) {
        let took = took.as_nanos().min(u64::MAX as u128) as u64;
        let old = self.typical_ns.load(Relaxed);
        // A moving average over the last few tasks (a quarter of the weight on the newest).
        self.typical_ns.store(old - old / 4 + took / 4, Relaxed);
    }

    /// How long to spin for the next reply: `spin`, unless this worker's tasks take much
    /// longer than that (then the reply would not come within it, and the core the spin
    /// takes is one the worker may need).
    pub(crate) fn spin_for(&self, spin: Duration) -> Duration {
        if self.typical_ns.load(Relaxed) > 2 * spin.as_nanos() as u64 {
            Duration::ZERO
        } else {
            spin
        }
    }

    /// The last helper leaving: asks the worker for doorbells again, and takes what it wrote
    /// before it saw the request (what it writes after, it rings for, and the reader wakes).
    fn rearm(&self, pool: &Shared, proc: &Arc<WorkerProc>) {
        loop {
            self.watch.want_doorbell(true);
            let mine = {
                let mut g = self.lock();
                self.pull_in(&mut g, proc);
                !g.frames.is_empty() && !g.handing
            };
            if !mine {
                return;
            }
            self.deliver(pool, proc);
            if !self.watch.doorbell_wanted() {
                // The worker rang since: the reader is up and takes what follows.
                return;
            }
        }
    }
}

/// A thread about to wait for one of `pool`'s futures watches the reply rings of `workers` (the
/// one running its task) itself until `done()` or `deadline` (`port.md`), handing what comes
/// to the pool, instead of waiting for the reader threads to do so and wake it; their readers
/// sleep meanwhile. It spins for `spin` at most, and only while replies are likely to come
/// within it (`Port::spin_for`). Whether `done()`.
///
/// Watching every worker's ring was tried and was slower: the waiting thread then decodes
/// every reply alone, where each worker's reader decodes its own in parallel.
pub(crate) fn help(
    pool: &Shared,
    workers: &[Arc<WorkerProc>],
    done: &dyn Fn() -> bool,
    spin: Duration,
    deadline: Option<Instant>,
) -> bool {
    let spin = workers
        .iter()
        .map(|w| w.port.spin_for(spin))
        .max()
        .unwrap_or(Duration::ZERO);
    let until = Instant::now() + spin;
    let until = deadline.map_or(until, |d| d.min(until));
    for w in workers {
        w.port.enter();
    }
    let mut i = 0u32;
    loop {
        for w in workers {
            w.port.step(pool, w);
        }
        if done() {
            break;
        }
        i = i.wrapping_add(1);
        if i % 64 == 0 {
            if Instant::now() >= until {
                break;
            }
            std::thread::yield_now();
        }
        std::hint::spin_loop();
    }
    for w in workers {
        w.port.leave(pool, w);
    }
    done()
}
