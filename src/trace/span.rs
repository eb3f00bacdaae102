//! A `tracing::Span` whose every call into the subscriber is contained: a subscriber that
//! panics costs the trace, never the task, the pool thread or the program.
//!
//! A span calls its subscriber when it is opened (`new_span`, or `current_span` and
//! `clone_span` for [`Span::current`]), cloned (`clone_span`), given a field (`record`),
//! entered and left (`enter`, `exit`) and dropped (`try_close`). [`ContainedSpan`] is the only
//! way the crate holds a span, and each of those calls goes through [`contained`]:
//!
//! - opening or cloning that panics gives [`Span::none`], on which later calls do nothing;
//! - its `Drop` moves the span out (leaving [`Span::none`], which calls nobody) and drops it
//!   inside `contained`, so a span is closed safely wherever its holder is dropped or replaced:
//!   on a reader thread, under a pool's lock, or while a panic unwinds;
//! - [`ContainedSpan::in_scope`] enters contained, runs the closure whatever happened, and
//!   leaves contained, from a guard's `Drop`, so a panicking `enter` never skips the closure
//!   and a panicking `exit` never turns an unwinding closure into an abort.
//!
//! A panic caught while another unwinds is no abort: only one that escapes a `Drop` during
//! unwinding is, and `contained` lets none escape.

use std::mem;

use tracing::field::{AsField, Value};
use tracing::span::{Entered, Id};
use tracing::Span;

/// Calls the subscriber (through `f`): a panic in it is dropped, not raised.
pub(super) fn contained<R>(f: impl FnOnce() -> R) -> Option<R> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(r) => Some(r),
        Err(p) => {
            crate::error::drop_quietly(p);
            None
        }
    }
}

/// A span that contains its subscriber's panics (module docs).
pub(crate) struct ContainedSpan(Span);

impl ContainedSpan {
    /// The span `open` makes, or none if the subscriber panicked making it.
    pub(super) fn open(open: impl FnOnce() -> Span) -> Self {
        ContainedSpan(contained(open).unwrap_or_else(Span::none))
    }

    /// The caller's current span (`current_span`, then `clone_span`).
    pub(super) fn current() -> Self {
        Self::open(Span::current)
    }

    /// The span's id, for a child's `parent:` (no subscriber call).
    pub(super) fn id(&self) -> Option<Id> {
        self.0.id()
    }

    /// Records a field's value.
    pub(super) fn record<Q: AsField + ?Sized, V: Value>(&self, field: &Q, value: V) {
        contained(|| {
            self.0.record(field, value);
        });
    }

    /// Runs `f` inside the span: always runs it, and never raises the subscriber's panic.
    pub(super) fn in_scope<R>(&self, f: impl FnOnce() -> R) -> R {
        let _inside = Inside(contained(|| self.0.enter()));
        f()
    }
}

/// Leaves the span (if entering it worked) when dropped, even while `f` unwinds.
struct Inside<'a>(Option<Entered<'a>>);

impl Drop for Inside<'_> {
    fn drop(&mut self) {
        if let Some(entered) = self.0.take() {
            contained(move || drop(entered));
        }
    }
}

impl Clone for ContainedSpan {
    fn clone(&self) -> Self {
        Self::open(|| self.0.clone())
    }
}

impl Drop for ContainedSpan {
    fn drop(&mut self) {
        let span = mem::replace(&mut self.0, Span::none());
        contained(move || drop(span));
    }
}
