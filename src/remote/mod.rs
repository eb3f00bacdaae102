//! What the engines that run tasks in other processes share, so that each engine keeps only
//! how a task reaches a worker and how its end is seen:
//!
//! - the front end (`front.rs`): `submit_fn`, `submit_fn_with`, `map`, `map_with`,
//!   `map_unordered` up to the queue, and the task as both engines hold it (`task.rs`: its
//!   frame, limits, retries and how earlier attempts ended);
//! - the table of registered functions ([`register!`](crate::register), `registry.rs`);
//! - the frame format (`wire.rs`) and the serde format (`codec.rs`);
//! - in a worker: running one frame (`serve.rs`), a chunk's reply (`batch.rs`), containing panics
//!   in user code (`unwind.rs`);
//! - in the parent: turning a reply into a typed value in a future (`complete.rs`), the chunked
//!   `map` (`chunked.rs`) and the thread that runs done-callbacks (`callbacks.rs`).
//!
//! The process engine (`crate::process`) runs these frames in worker processes on this machine,
//! the cluster engine (`crate::mpi`) on the ranks of an MPI job. None of this is public: the
//! `register!` macro, the tests and the fuzz targets reach what they need through the hidden
//! `__private` module.

mod batch;
pub(crate) mod callbacks;
pub(crate) mod chunked;
pub mod codec;
pub(crate) mod complete;
pub(crate) mod front;
pub(crate) mod registry;
pub(crate) mod serve;
pub(crate) mod task;
pub(crate) mod unwind;
pub mod wire;
