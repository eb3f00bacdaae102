//! A task as the engines that run tasks elsewhere hold it between `submit` and its reply: its
//! frame, its limits, its completer, how its earlier attempts ended. Each engine adds what only
//! it needs ([`Task::engine`]: the process engine's future identity and whether it may wait
//! behind another task, the cluster engine's send time) and keeps the rest as it is here, so a
//! new per-task setting is added once, in [`super::front`] and this file.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use super::complete::Complete;

pub(crate) struct Task<E> {
    pub(crate) id: u64,
    /// The `CALL` frame. Kept until the reply, so that a task whose worker died before
    /// answering can be sent again in full.
    pub(crate) frame: Arc<Vec<u8>>,
    pub(crate) timeout: Option<Duration>,
    /// How many more times to run it if its worker dies under it.
    pub(crate) retries_left: u32,
    /// How the earlier attempts ended (their workers died).
    pub(crate) attempts: Vec<String>,
    pub(crate) done: Box<dyn Complete>,
    /// The submitter's span, and the task's own while a worker has it (`tracing`).
    #[cfg_attr(not(feature = "tracing"), allow(dead_code))]
    pub(crate) origin: crate::trace::Origin,
    pub(crate) running: Option<crate::trace::Running>,
    /// What only the engine holding it needs.
    pub(crate) engine: E,
}

impl<E> Task<E> {
    /// Ends the span of the attempt that just failed, if one is open.
    pub(crate) fn attempt_failed(&mut self) {
        if let Some(r) = self.running.take() {
            r.finish("failed");
        }
    }

    /// The worker running this task died (`ended` says which and how): true if the task may
    /// run again, the attempt recorded; false if it has no retries left.
    pub(crate) fn retry(&mut self, ended: String) -> bool {
        self.attempt_failed();
        if self.retries_left == 0 {
            return false;
        }
        self.retries_left -= 1;
        self.attempts.push(ended);
        true
    }

    /// `how` the last attempt ended, with how the earlier ones did, for the task's error.
    pub(crate) fn with_attempts(&self, how: &str) -> String {
        if self.attempts.is_empty() {
            return how.to_owned();
        }
        let n = self.attempts.len() + 1;
        format!(
            "{how} (attempt {n} of {n}; before: {})",
            self.attempts.join("; ")
        )
    }
}

/// A pool's tasks not yet sent to a worker, and whether it still takes work: the part of its
/// state both engines keep alike.
pub(crate) struct Queue<E> {
    pub(crate) pending: VecDeque<Task<E>>,
    /// Takes no more work (shut down, or broken).
    pub(crate) shutdown: bool,
    /// Why the pool broke, if it did.
    pub(crate) broken: Option<String>,
}

impl<E> Default for Queue<E> {
    fn default() -> Self {
        Queue {
            pending: VecDeque::new(),
            shutdown: false,
            broken: None,
        }
    }
}

impl<E> Queue<E> {
    /// Queues `task` at the back (counted as submitted), unless the pool is shut down: then
    /// `Err` gives it back with the broken pool's cause (`None`: shut down by its owner).
    #[allow(clippy::result_large_err)] // a refused task goes back whole, on the rare path
    pub(crate) fn admit(
        &mut self,
        task: Task<E>,
        stats: &crate::stats::Counters,
    ) -> Result<(), (Task<E>, Option<String>)> {
        if self.shutdown {
            return Err((task, self.broken.clone()));
        }
        self.pending.push_back(task);
        stats.submitted();
        Ok(())
    }
}
