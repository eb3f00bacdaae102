//! A worker's end, seen by its reader thread: which of its tasks had begun, which go back to the
//! queue, whether the pool can still start workers, and the error the running task ends with.
//! (A child module of the dispatcher: it works on the same state, under the same lock.)

use std::sync::Arc;

use super::super::proc::{cannot_start, describe, KillReason, WorkerProc};
use super::{
    mark_broken, terminated_before_start, Entry, Shared, Slot, State, Work, START_FAILURES,
};
use crate::error::TaskError;
use crate::remote::complete::Complete;
use crate::sync::lock;

impl Shared {
    /// The worker `proc` ended (`status`), killed by the parent for `reason` if it was.
    pub(crate) fn on_exit(
        &self,
        proc: &Arc<WorkerProc>,
        status: std::io::Result<std::process::ExitStatus>,
        reason: Option<KillReason>,
    ) {
        let how = describe(&status);
        let mut st = lock(&self.state);
        let Some(i) = st.workers.iter().position(|s| Arc::ptr_eq(&s.proc, proc)) else {
            return;
        };
        let mut slot = st.workers.swap_remove(i);
        if slot.hello && !slot.retiring && !st.terminating {
            self.stats.replaced(); // died serving: another starts when there is work
        }
        let (running, unstarted) = self.sort_tasks(&mut st, &mut slot, proc, &reason);
        let broken = start_failure(&mut st, &slot, proc.pid, &reason, &how);
        if let Some(cause) = &broken {
            // No replacement: the pool is about to break.
            mark_broken(&mut st, cause);
        }
        let mut work = self.pump(&mut st);
        for d in unstarted {
            self.stats.finished(false);
            work.finish.push((d, Err(terminated_before_start())));
        }
        self.changed.notify_all();
        drop(st);
        if let Some(entry) = running {
            if let Some(entry) = self.fail_or_retry(entry, proc.pid, &reason, &how, &mut work) {
                // Queued again: its next attempt may start at once.
                let mut st = lock(&self.state);
                st.queue.pending.push_front(entry);
                let more = self.pump(&mut st);
                drop(st);
                self.execute(work);
                work = more;
            }
        }
        self.execute(work);
        if let Some(cause) = broken {
            self.break_pool(cause);
        }
        // Checked after the callbacks ran: one of them may have shut the pool down.
        self.stop_timers_if_finished();
    }

    /// Sorts the ended worker's tasks: the oldest unanswered one was running if the worker had
    /// taken it from its ring (it is returned); the others never started, and go back to the
    /// queue (marked running, they run on another worker) — or, while the pool's workers are
    /// being terminated, are returned to end as not started.
    fn sort_tasks(
        &self,
        st: &mut State,
        slot: &mut Slot,
        proc: &WorkerProc,
        reason: &Option<KillReason>,
    ) -> (Option<Entry>, Vec<Box<dyn Complete>>) {
        let mut running = slot.in_flight.pop_front();
        // Only a death from outside, or a terminate, leaves a task that had not begun to
        // begin elsewhere; a time limit, a kill or a protocol error ends the task it was for.
        let not_begun_too = matches!(reason, None | Some(KillReason::Terminated));
        if running.is_some() && not_begun_too && !proc.took_oldest() {
            let e = running.take().expect("checked");
            if e.timeout.is_some() {
                self.timers.remove(e.id); // its clock starts again when it is sent again
            }
            slot.in_flight.push_front(e);
        }
        let mut unstarted = Vec::new();
        for e in slot.in_flight.drain(..).rev() {
            if st.terminating {
                unstarted.push(e.done);
            } else {
                st.queue.pending.push_front(e);
            }
        }
        (running, unstarted)
    }

    /// Ends the task the worker was running with the error its death means, or — a death from
    /// outside, with retries left — returns it to be queued again.
    fn fail_or_retry(
        &self,
        mut entry: Entry,
        pid: u32,
        reason: &Option<KillReason>,
        how: &str,
        work: &mut Work,
    ) -> Option<Entry> {
        if entry.timeout.is_some() {
            self.timers.remove(entry.id);
        }
        // A worker that died under its task from outside (a crash, the OOM killer, a signal)
        // is not the task's fault, or may not be: run it again if it may be retried. (A time
        // limit, a kill or a terminate is the parent's own doing: never retried.)
        let may_retry = reason.is_none() && entry.retries_left > 0 && {
            let st = lock(&self.state);
            !st.terminating && st.queue.broken.is_none()
        };
        if may_retry && entry.retry(format!("worker {pid} {how}")) {
            return Some(entry);
        }
        self.stats.finished(false);
        entry.attempt_failed();
        let err = death_error(reason, pid, &entry.with_attempts(how));
        work.finish.push((entry.done, Err(err)));
        None
    }
}

/// Whether the ended worker's death means that workers cannot start (the cause to break the
/// pool with): one that never became a worker, when none of the pool ever did or too many did
/// not in a row, or one that died in its initializer.
fn start_failure(
    st: &mut State,
    slot: &Slot,
    pid: u32,
    reason: &Option<KillReason>,
    how: &str,
) -> Option<String> {
    if !slot.hello && !slot.retiring && matches!(reason, None | Some(KillReason::NoHello(_))) {
        // It never became a worker: no task was sent to it, and none is lost.
        st.start_failures += 1;
        if !st.ever_ready || st.start_failures >= START_FAILURES {
            let how = match reason {
                Some(KillReason::NoHello(limit)) => {
                    format!("did not start serving within {limit:?} and was killed")
                }
                _ => how.to_owned(),
            };
            return Some(cannot_start(pid, &how));
        }
    } else if slot.initializing && !slot.retiring && reason.is_none() {
        return Some(format!(
            "worker process {pid} died while running the initializer: {how}"
        ));
    }
    None
}

/// The error of a task whose worker `pid` ended (`how`) under it, for `reason`.
fn death_error(reason: &Option<KillReason>, pid: u32, how: &str) -> TaskError {
    let how = match reason {
        Some(KillReason::Timeout(limit)) => return TaskError::TaskTimedOut { limit: *limit },
        Some(KillReason::Killed) => format!("stopped on request ({how})"),
        Some(KillReason::Terminated) => format!("terminated with the pool ({how})"),
        Some(KillReason::Protocol(why)) => format!("killed after a protocol error: {why} ({how})"),
        // Never given a task: not reached.
        Some(KillReason::NoHello(limit)) => {
            format!("it did not start serving within {limit:?} ({how})")
        }
        None => how.to_owned(),
    };
    TaskError::WorkerDied {
        pid,
        how,
        host: None,
    }
}
