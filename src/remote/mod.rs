//! What the engines that run tasks in other processes share: the table of registered functions
//! ([`register!`](crate::register), `registry.rs`), the frame format ([`wire`]), the serde
//! format ([`codec`]), containing panics in user code (`unwind.rs`), running one frame in a
//! worker (`serve.rs`), a chunk's reply (`batch.rs`), turning a reply into a typed value in a future (`complete.rs`), the
//! chunked `map` ([`ChunkedMap`]) and the thread that runs done-callbacks (`callbacks.rs`).
//!
//! The process engine (`crate::process`) runs these frames in worker processes on this machine;
//! the same frames, names and codec serve any engine that moves them elsewhere.

mod batch;
pub(crate) mod callbacks;
mod chunked;
pub mod codec;
pub(crate) mod complete;
pub(crate) mod registry;
pub(crate) mod serve;
pub(crate) mod unwind;
pub mod wire;

pub use self::chunked::ChunkedMap;
pub use self::registry::{registered_name, RemoteError};

#[doc(hidden)]
pub mod __private {
    pub use super::registry::{Entry, Registration, RemoteError, Typed, REGISTRY};
    pub use linkme;
}
