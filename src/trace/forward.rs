//! A worker process's events, carried to its parent: the worker installs [`install`]'s
//! subscriber (it has no other: the program's `main`, where one would be set up, never runs
//! in a worker), which keeps each event as text; the worker sends what a task emitted in an
//! `EVENTS` frame before the task's reply ([`take`]); the parent emits each again ([`emit`]),
//! inside the task's span. At most [`MAX_EVENTS`] per task are kept (then one more says how
//! many were dropped), and events at `TRACE` level are not collected.

use std::fmt::{self, Write as _};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Level, Metadata};

use crate::sync::lock;

/// The most events kept for one task.
pub(crate) const MAX_EVENTS: usize = 1000;

/// One event, as text.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Event {
    /// 1 (error) to 4 (debug).
    pub(crate) level: u8,
    /// The event's target in the worker (its module path, usually).
    pub(crate) target: String,
    /// The message, then the other fields as ` name=value`.
    pub(crate) text: String,
}

static KEPT: Mutex<(Vec<Event>, usize)> = Mutex::new((Vec::new(), 0));

struct Collector {
    next_id: AtomicU64,
}

struct Text(String);

impl Visit for Text {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            let rest = std::mem::take(&mut self.0);
            let _ = write!(self.0, "{value:?}");
            self.0.push_str(&rest);
        } else {
            let _ = write!(self.0, " {}={value:?}", field.name());
        }
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0.insert_str(0, value);
        } else {
            let _ = write!(self.0, " {}={value}", field.name());
        }
    }
}

fn level_code(l: &Level) -> u8 {
    match *l {
        Level::ERROR => 1,
        Level::WARN => 2,
        Level::INFO => 3,
        Level::DEBUG => 4,
        Level::TRACE => 5,
    }
}

impl tracing::Subscriber for Collector {
    fn enabled(&self, meta: &Metadata<'_>) -> bool {
        *meta.level() <= Level::DEBUG
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(self.next_id.fetch_add(1, Relaxed))
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut text = Text(String::new());
        event.record(&mut text);
        let meta = event.metadata();
        let mut kept = lock(&KEPT);
        if kept.0.len() < MAX_EVENTS {
            kept.0.push(Event {
                level: level_code(meta.level()),
                target: meta.target().to_owned(),
                text: text.0,
            });
        } else {
            kept.1 += 1;
        }
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

/// Makes this worker process keep its events (once, at start).
pub(crate) fn install() {
    let _ = tracing::subscriber::set_global_default(Collector {
        next_id: AtomicU64::new(1),
    });
}

/// The events kept since the last call (the task that just ran emitted them).
pub(crate) fn take() -> Vec<Event> {
    let mut kept = lock(&KEPT);
    let (mut events, dropped) = (std::mem::take(&mut kept.0), std::mem::take(&mut kept.1));
    if dropped > 0 {
        events.push(Event {
            level: 2,
            target: "concurrent_futures::worker".into(),
            text: format!(
                "{dropped} more events of this task were dropped (at most {MAX_EVENTS} are kept)"
            ),
        });
    }
    events
}

/// Emits an event a worker sent, in the current span.
pub(crate) fn emit(e: &Event, pid: u32) {
    let t = e.target.as_str();
    let m = e.text.as_str();
    match e.level {
        1 => tracing::error!(target: "concurrent_futures::worker", worker_target = t, pid, "{m}"),
        2 => tracing::warn!(target: "concurrent_futures::worker", worker_target = t, pid, "{m}"),
        3 => tracing::info!(target: "concurrent_futures::worker", worker_target = t, pid, "{m}"),
        _ => tracing::debug!(target: "concurrent_futures::worker", worker_target = t, pid, "{m}"),
    }
}
