//! The [`Future`] handle and the state machine behind it.
//!
//! - `core.rs`: the shared state (state table and the no-lost-wake-up argument are there);
//! - `handle.rs`: the public [`Future<T>`] and the engine-facing `Shared` trait;
//! - `promise.rs`: [`Promise<T>`], a future completed by hand.

pub(crate) mod core;
mod handle;
mod promise;

#[cfg(all(any(unix, windows), feature = "process"))]
pub(crate) use self::core::Deferred;
pub(crate) use self::handle::{deadline_after, result_by};
pub use self::handle::{Future, FutureState};
pub(crate) use self::promise::in_background;
#[cfg(all(any(unix, windows), feature = "process"))]
pub(crate) use self::promise::Help;
pub use self::promise::{InvalidState, Promise};
