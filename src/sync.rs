//! The synchronisation primitives the crate is built on, swapped for `loom`'s under `--cfg loom`
//! so that the model tests in `tests/loom.rs` explore every interleaving of the real code.

#[cfg(not(loom))]
pub(crate) use std::sync::{
    atomic::{fence, AtomicBool, AtomicU32, AtomicUsize, Ordering},
    Arc, Condvar, Mutex, MutexGuard,
};
#[cfg(not(loom))]
pub(crate) use std::thread::{self, Thread};

#[cfg(loom)]
pub(crate) use loom::sync::{
    atomic::{fence, AtomicBool, AtomicU32, AtomicUsize, Ordering},
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
#[cfg(not(loom))]
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    }
}

/// Under loom, [`lock`] takes loom's mutexes and also std's (the process engine keeps std's:
/// it is not modelled, but it must still compile).
#[cfg(loom)]
pub(crate) fn lock<M: Lock + ?Sized>(m: &M) -> M::Guard<'_> {
    m.lock_ignoring_poison()
}

#[cfg(loom)]
pub(crate) trait Lock {
    type Guard<'a>
    where
        Self: 'a;
    fn lock_ignoring_poison(&self) -> Self::Guard<'_>;
}

#[cfg(loom)]
impl<T: ?Sized> Lock for Mutex<T> {
    type Guard<'a>
        = MutexGuard<'a, T>
    where
        Self: 'a;
    fn lock_ignoring_poison(&self) -> MutexGuard<'_, T> {
        self.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(loom)]
impl<T: ?Sized> Lock for std::sync::Mutex<T> {
    type Guard<'a>
        = std::sync::MutexGuard<'a, T>
    where
        Self: 'a;
    fn lock_ignoring_poison(&self) -> std::sync::MutexGuard<'_, T> {
        self.lock().unwrap_or_else(|p| p.into_inner())
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
