#![doc = include_str!("README.md")]

mod builder;
mod executor;
mod pool;
mod queue;
mod scope;
mod task;
mod worker;

pub use self::builder::{default_max_workers, ThreadPoolBuilder};
pub use self::executor::ThreadPoolExecutor;
pub(crate) use self::pool::note_wait;
pub use self::scope::{Scope, ScopedFuture};
pub(crate) use self::worker::on_worker_thread;
