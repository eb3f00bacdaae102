#![doc = include_str!("unwind.md")]

use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicBool, Ordering};

use super::registry::RemoteError;
use crate::error::{drop_quietly, panic_message};

/// Where and how a panic happened, as the hook saw it.
#[derive(Default)]
struct Seen {
    location: Option<String>,
    backtrace: Option<String>,
}

std::thread_local! {
    /// Set while this thread runs a task's code inside [`catch`].
    static IN_TASK: Cell<bool> = const { Cell::new(false) };
    /// What the hook recorded for the last panic on this thread.
    static SEEN: RefCell<Option<Seen>> = const { RefCell::new(None) };
}

static PRINT: AtomicBool = AtomicBool::new(false);

/// Installs the worker's panic hook; `print`: also print task panics to stderr.
pub(crate) fn install_hook(print: bool) {
    PRINT.store(print, Ordering::Relaxed);
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !IN_TASK.with(Cell::get) {
            return previous(info);
        }
        let bt = std::backtrace::Backtrace::capture();
        let backtrace =
            (bt.status() == std::backtrace::BacktraceStatus::Captured).then(|| bt.to_string());
        let location = info.location().map(|l| l.to_string());
        SEEN.with(|s| {
            *s.borrow_mut() = Some(Seen {
                location,
                backtrace,
            })
        });
        if PRINT.load(Ordering::Relaxed) {
            previous(info);
        }
    }));
}

/// Runs `f` (one stage of a task: `what` names it for the message when it is not the task's
/// own function) with panics turned into [`RemoteError::Panicked`].
pub(crate) fn catch<T>(what: Option<&str>, f: impl FnOnce() -> T) -> Result<T, RemoteError> {
    let outer = IN_TASK.with(|t| t.replace(true));
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    IN_TASK.with(|t| t.set(outer));
    r.map_err(|payload| {
        let message = panic_message(&*payload);
        drop_quietly(payload);
        let seen = SEEN.with(|s| s.borrow_mut().take()).unwrap_or_default();
        RemoteError::Panicked {
            message: match what {
                None => message,
                Some(stage) => format!("{stage} panicked: {message}"),
            },
            location: seen.location,
            backtrace: seen.backtrace,
        }
    })
}

/// Drops `value` in a task's context: a panicking `Drop` is contained (and logged), and does not
/// change the task's outcome, which is already decided.
pub(crate) fn drop_in_task<T>(value: T) {
    let outer = IN_TASK.with(|t| t.replace(true));
    drop_quietly(value);
    IN_TASK.with(|t| t.set(outer));
    SEEN.with(|s| s.borrow_mut().take());
}
