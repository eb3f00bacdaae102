//! `tracing` support (the `tracing` feature; without it every type here is empty and every call
//! a no-op, so call sites need no `cfg`).
//!
//! - At submit, a task takes an [`Origin`]: the span current then, and the time.
//! - When it starts, [`Origin::start`] opens a `task` span whose parent is that span (not
//!   whatever span the worker thread is in), with fields `engine`, `task` (the function's
//!   name), `worker` (thread index, pid, or rank) and `queued_us`; the thread engine enters it
//!   around the task, so events the task emits nest under it. When it ends, `outcome` (`ok`,
//!   `panicked`, `failed`) and `run_us` are recorded.
//! - On the process engine the span lives in the parent (it covers the time from sending the
//!   task to its reply). The worker process, which never runs the program's `main` and so has
//!   no subscriber of the program's, installs one of its own ([`forward`]): it keeps each
//!   event the task emits (level, target, message and fields as text) and sends them to the
//!   parent in an `EVENTS` frame just before the task's reply; the parent emits them again,
//!   inside the task's span, with target `concurrent_futures::worker` and the worker's target
//!   and pid as fields. Spans the task opens in the worker are not forwarded, only events.
//! - Every span the crate holds is a `span::ContainedSpan`: each call it makes into the
//!   subscriber (opening, cloning, recording, entering, leaving, closing) is contained, so a
//!   subscriber that panics costs the trace, never a task, a pool thread or the program.
//!
//! The crate's own diagnostics (a broken pool, a worker replaced) stay on `log`, which every
//! `tracing` subscriber can take in through `tracing-log`; carrying both would make a program
//! without `tracing` pay for it.

#[cfg(feature = "tracing")]
use std::time::Instant;

#[cfg(feature = "tracing")]
use span::ContainedSpan;

/// Where a task came from: the span current at submit, and when (boxed: a pointer in the
/// task's cell with the feature on, nothing without it).
#[derive(Clone)]
pub(crate) struct Origin {
    #[cfg(feature = "tracing")]
    inner: Box<(ContainedSpan, Instant)>,
}

/// A task's span while it runs.
pub(crate) struct Running {
    #[cfg(feature = "tracing")]
    inner: Box<(ContainedSpan, Instant)>,
}

impl Origin {
    /// The caller's current span, now.
    #[inline]
    pub(crate) fn capture() -> Self {
        Origin {
            #[cfg(feature = "tracing")]
            inner: Box::new((ContainedSpan::current(), Instant::now())),
        }
    }

    /// Opens the task's span (a child of the submitter's).
    #[inline]
    pub(crate) fn start(&self, engine: &'static str, task: &str, worker: u64) -> Running {
        #[cfg(not(feature = "tracing"))]
        let _ = (engine, task, worker);
        Running {
            #[cfg(feature = "tracing")]
            inner: Box::new((
                ContainedSpan::open(|| {
                    tracing::info_span!(
                        target: "concurrent_futures",
                        parent: self.inner.0.id(),
                        "task",
                        engine,
                        task,
                        worker,
                        queued_us = self.inner.1.elapsed().as_micros() as u64,
                        run_us = tracing::field::Empty,
                        outcome = tracing::field::Empty,
                    )
                }),
                Instant::now(),
            )),
        }
    }
}

impl Running {
    /// Runs `f` inside the task's span; `f` runs whatever the subscriber does.
    #[inline]
    pub(crate) fn in_scope<R>(&self, f: impl FnOnce() -> R) -> R {
        #[cfg(feature = "tracing")]
        return self.inner.0.in_scope(f);
        #[cfg(not(feature = "tracing"))]
        f()
    }

    /// Records how the task ended and how long it ran, and closes the span.
    #[inline]
    pub(crate) fn finish(self, outcome: &'static str) {
        #[cfg(feature = "tracing")]
        {
            let (span, started) = &*self.inner;
            span.record("run_us", started.elapsed().as_micros() as u64);
            span.record("outcome", outcome);
            // Dropping `self` closes the span, contained.
        }
        #[cfg(not(feature = "tracing"))]
        let _ = outcome;
    }

    /// Emits events a worker process sent back, inside the task's span.
    #[cfg(all(any(unix, windows), feature = "tracing", feature = "process"))]
    pub(crate) fn replay(&self, events: &[forward::Event], pid: u32) {
        self.inner.0.in_scope(|| {
            for e in events {
                span::contained(|| forward::emit(e, pid));
            }
        });
    }
}

/// The outcome field for a task's result.
#[cfg(all(any(unix, windows), feature = "process"))]
pub(crate) fn outcome<T>(r: &Result<T, crate::TaskError>) -> &'static str {
    match r {
        Ok(_) => "ok",
        Err(e) if e.is_panic() => "panicked",
        Err(_) => "failed",
    }
}

#[cfg(all(any(unix, windows), feature = "tracing", feature = "process"))]
pub(crate) mod forward;
#[cfg(feature = "tracing")]
mod span;
