//! Stopping a process pool: `kill` one task, `terminate_workers`, `shutdown`, breaking, and
//! waiting until every worker is gone. (A child module of the dispatcher: it works on the same
//! state, under the same lock.)

use std::time::{Duration, Instant};

use super::super::proc::KillReason;
use super::super::sys::Stop;
use super::{mark_broken, Entry, Shared, READER_OF};
use crate::error::TaskError;
use crate::sync::lock;

impl Shared {
    /// The counters, with the worker processes alive now.
    pub(crate) fn snapshot(&self) -> crate::PoolStats {
        let alive = lock(&self.state).workers.len();
        self.stats.snapshot(alive)
    }

    /// Stops the task whose future has identity `future_id`, if it is running.
    pub(crate) fn kill(&self, future_id: usize) -> bool {
        let mut st = lock(&self.state);
        let st = &mut *st;
        for s in st.workers.iter_mut() {
            if s.in_flight
                .front()
                .is_some_and(|e| e.engine.future_id == future_id)
            {
                Self::doom(s, &mut st.queue.pending, Stop::Kill, KillReason::Killed);
                return true;
            }
        }
        false
    }

    /// Signals every worker; their running tasks fail. Shuts the pool down first (cancelling
    /// what has not started), and waits until every worker is gone.
    pub(crate) fn terminate(&self, signal: Stop) {
        self.shutdown(false, true);
        let unstarted: Vec<_> = {
            let mut st = lock(&self.state);
            let st = &mut *st;
            st.terminating = true;
            for s in st.workers.iter_mut() {
                Self::stop_worker(s, signal, KillReason::Terminated);
            }
            // Sent to a worker that died before (marked running) and queued again: it never
            // started, and fails; the rest never left the parent, and is cancelled.
            st.queue.pending.drain(..).map(|e| e.done).collect()
        };
        for c in unstarted {
            if c.is_running() {
                self.stats.finished(false);
                self.complete(c, Err(terminated_before_start()));
            } else {
                c.cancel();
                self.stats.cancelled();
            }
        }
        // A task may ignore `SIGTERM` (or be slow to act on it): after the grace period, the
        // workers still there get `SIGKILL`, so this returns, and no future stays pending.
        let on_reader = READER_OF.with(|c| c.get()) == self.key();
        if signal != Stop::Kill && (on_reader || !self.wait_gone(self.cfg.terminate_grace)) {
            let st = lock(&self.state);
            for s in st.workers.iter() {
                s.proc.signal(Stop::Kill, KillReason::Terminated);
            }
        }
        self.wait_idle();
    }

    /// Waits up to `grace` for every worker to be gone; whether they are.
    fn wait_gone(&self, grace: Duration) -> bool {
        let until = Instant::now() + grace;
        let mut st = lock(&self.state);
        while !st.workers.is_empty() {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            st = match self.changed.wait_timeout(st, left) {
                Ok((g, _)) => g,
                Err(p) => p.into_inner().0,
            };
        }
        true
    }

    pub(crate) fn break_pool(&self, cause: String) {
        let mut st = lock(&self.state);
        mark_broken(&mut st, &cause);
        let cause = st.queue.broken.clone().unwrap_or(cause);
        st.queue.shutdown = true;
        let drained: Vec<Entry> = st.queue.pending.drain(..).collect();
        let work = self.pump(&mut st);
        self.changed.notify_all();
        drop(st);
        self.execute(work);
        for e in drained {
            let sent = e.done.is_running();
            if !e.done.start() {
                self.stats.cancelled();
            } else {
                if sent {
                    self.stats.finished(false);
                } else {
                    self.stats.failed_unstarted();
                }
                self.complete(
                    e.done,
                    Err(TaskError::BrokenExecutor {
                        cause: cause.clone(),
                    }),
                );
            }
        }
    }

    pub(crate) fn shutdown(&self, wait: bool, cancel_futures: bool) {
        let mut st = lock(&self.state);
        st.queue.shutdown = true;
        let mut work;
        let cancelled: Vec<Entry> = if cancel_futures {
            // A task marked running (sent to a worker that died before starting it) still runs.
            let (running, pending): (Vec<Entry>, Vec<Entry>) = st
                .queue
                .pending
                .drain(..)
                .partition(|e| e.done.is_running());
            st.queue.pending = running.into();
            pending
        } else {
            Vec::new()
        };
        work = self.pump(&mut st);
        drop(st);
        work.cancels.extend(cancelled.into_iter().map(|e| e.done));
        self.execute(work);
        self.stop_timers_if_finished();
        if wait {
            self.wait_idle();
        }
    }

    /// Blocks until every worker has exited and been reaped (not from one of this pool's
    /// reader threads, where it would wait for itself).
    fn wait_idle(&self) {
        if READER_OF.with(|c| c.get()) == self.key() {
            return;
        }
        let mut st = lock(&self.state);
        while !(st.workers.is_empty() && st.starting == 0 && st.queue.pending.is_empty()) {
            st = match self.changed.wait(st) {
                Ok(g) => g,
                Err(p) => p.into_inner(),
            };
        }
        let readers = std::mem::take(&mut st.readers);
        drop(st);
        for h in readers {
            let _ = h.join();
        }
        self.timers.stop();
        self.callbacks.wait_drained();
    }

    pub(crate) fn is_shutdown(&self) -> bool {
        lock(&self.state).queue.shutdown
    }

    pub(crate) fn broken_cause(&self) -> Option<String> {
        lock(&self.state).queue.broken.clone()
    }

    pub(crate) fn worker_pids(&self) -> Vec<u32> {
        lock(&self.state)
            .workers
            .iter()
            .filter(|s| !s.retiring)
            .map(|s| s.proc.pid)
            .collect()
    }

    pub(crate) fn pending_len(&self) -> usize {
        lock(&self.state).queue.pending.len()
    }
}

/// The error of a task that was sent to a worker but never started, when the pool's workers are
/// terminated.
pub(super) fn terminated_before_start() -> TaskError {
    TaskError::BrokenExecutor {
        cause: "the pool's workers were terminated before the task started".into(),
    }
}
