//! The synchronisation primitives the crate is built on, swapped for `loom`'s under `--cfg loom`
//! so that the model tests in `tests/loom.rs` explore every interleaving of the real code.

#[cfg(not(loom))]
pub(crate) use std::sync::{
    atomic::{fence, AtomicBool, AtomicU8, AtomicUsize, Ordering},
    Arc, Condvar, Mutex, MutexGuard,
};
#[cfg(not(loom))]
pub(crate) use std::thread::{self, Thread};

#[cfg(loom)]
pub(crate) use loom::sync::{
    atomic::{fence, AtomicBool, AtomicU8, AtomicUsize, Ordering},
    Condvar, Mutex, MutexGuard,
};
// `loom::sync::Arc` supports neither `self: Arc<Self>` receivers nor unsizing to `Arc<dyn Trait>`,
// which the task machinery is built on; std's `Arc` is kept under loom. Its reference count is
// not modelled, but everything it protects (state words, locks, condvars) is.
#[cfg(loom)]
pub(crate) use loom::thread::{self, Thread};
#[cfg(loom)]
pub(crate) use std::sync::Arc;

/// Locks a mutex, ignoring poisoning: every critical section in this crate leaves its data
/// consistent before it can unwind (user code never runs under a lock).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    }
}

/// Spins briefly, then yields: the bounded busy-wait used before parking.
pub(crate) fn backoff(step: u32) {
    #[cfg(loom)]
    {
        let _ = step;
        loom::thread::yield_now();
    }
    #[cfg(not(loom))]
    {
        if step < 6 {
            for _ in 0..(1u32 << step) {
                std::hint::spin_loop();
            }
        } else {
            std::thread::yield_now();
        }
    }
}
