//! Python's `concurrent.futures` for Rust: submit work to a pool, get a [`Future`] back.
//!
//! One API — `submit`, `map`, `shutdown`, a [`Future`] with `result`/`exception`/`cancel`/
//! `done`/`add_done_callback`, [`as_completed`] and [`wait`] — over interchangeable engines:
//! [`ThreadPoolExecutor`] for I/O-bound work, a process engine for CPU-bound work
//! (`ProcessPoolExecutor`, the default `process` feature, on Unix and Windows), and a cluster
//! engine over the ranks of an MPI job (`MpiPoolExecutor`, the `mpi` feature), all three behind
//! the [`Executor`] trait.
//!
//! Where Rust can do better than Python, it does: a task's panic is a value in its future;
//! a task may wait on a task it submitted to its own full pool without deadlocking;
//! `map` is lazy with a bounded buffer; a cancelled future counts as done for waiters at once;
//! futures can also be `.await`ed.
//!
//! ```
//! use concurrent_futures::{as_completed, ThreadPoolExecutor};
//!
//! fn task(n: u64) -> u64 { n * n }
//!
//! let pool = ThreadPoolExecutor::with_max_workers(10).unwrap();   // with ThreadPoolExecutor(10) as pool:
//! let futures: Vec<_> = (0..10).map(|i| pool.submit(move || task(i)).unwrap()).collect();
//! let mut total = 0;
//! for f in as_completed(futures) {                                 // for f in as_completed(futures):
//!     total += f.result().unwrap();                                //     total += f.result()
//! }
//! assert_eq!(total, 285);
//! // Dropping `pool` here is `shutdown(wait=True)`, like leaving the `with` block.
//! ```
//!
//! # Python → Rust
//!
//! | Python `concurrent.futures`                          | this crate                                                     |
//! |------------------------------------------------------|----------------------------------------------------------------|
//! | `ThreadPoolExecutor(max_workers=n)`                  | [`ThreadPoolExecutor::with_max_workers(n)`](ThreadPoolExecutor::with_max_workers), [`ThreadPoolExecutor::builder()`] |
//! | `ThreadPoolExecutor(initializer=f, thread_name_prefix=p)` | [`builder().initializer(f).thread_name_prefix(p)`](ThreadPoolBuilder) |
//! | `with executor:`                                     | `Drop` (the executor is shut down, waiting, when it goes out of scope) |
//! | `executor.submit(fn, *args)`                         | [`pool.submit(\|\| fn(args))`](ThreadPoolExecutor::submit), [`pool.submit_fn(fn, arg)`](Executor::submit_fn) |
//! | `executor.map(fn, xs, timeout=t, buffersize=b)`      | [`pool.map(fn, xs)`](ThreadPoolExecutor::map), [`map_with(fn, xs, MapOptions)`](ThreadPoolExecutor::map_with) — each item a `Result` |
//! | `executor.map(fn, xs, ys)`                           | `pool.map(\|(x, y)\| fn(x, y), xs.into_iter().zip(ys))`        |
//! | —                                                    | [`pool.map_unordered(fn, xs)`](ThreadPoolExecutor::map_unordered) (completion order) |
//! | `executor.shutdown(wait, cancel_futures=c)`          | [`pool.shutdown(wait, c)`](ThreadPoolExecutor::shutdown)        |
//! | `future.result()` / `result(timeout=t)`              | [`f.result()`](Future::result) / [`f.result_timeout(t)`](Future::result_timeout) / [`f.try_result()`](Future::try_result) |
//! | `future.exception()`                                 | [`f.exception()`](Future::exception)                            |
//! | `future.cancel()`, `cancelled()`, `running()`, `done()` | the same names                                               |
//! | `future.add_done_callback(fn)`                       | [`f.add_done_callback(\|f\| ..)`](Future::add_done_callback)    |
//! | `as_completed(fs)` / `as_completed(fs, timeout)`     | [`as_completed(fs)`](as_completed) / [`as_completed_timeout(fs, t)`](as_completed_timeout) |
//! | `{executor.submit(load, url): url for url in urls}`  | a `HashMap<Future<T>, Url>`, passed to `as_completed` as is ([`AsFuture`]) |
//! | `wait(fs, timeout, return_when=FIRST_COMPLETED)`     | [`wait(fs, timeout, ReturnWhen::FirstCompleted)`](wait)        |
//! | exceptions raised by `result()`                      | [`TaskError`]: `is_panic()`, `is_cancelled()`, `is_broken()`, `is_timeout()` |
//! | `RuntimeError` on submit after shutdown              | [`SubmitError::Shutdown`], which gives the task back            |
//! | `BrokenThreadPool`                                   | [`TaskError::BrokenExecutor`] / [`SubmitError::Broken`]         |
//! | `Future()` + `set_result` (for executor authors)     | [`Promise::new()`](Promise::new)                                |
//! | `asyncio.wrap_future(f)`                             | `f.await` ([`Future`] implements `std::future::Future`)         |
//! | —                                                    | [`pool.scope(\|s\| ..)`](ThreadPoolExecutor::scope): tasks that borrow from the stack |
//! | `ProcessPoolExecutor(max_workers=n)`                 | `ProcessPoolExecutor::with_max_workers(n)` (the `process` feature, on by default; Linux) |
//! | pickling a module-level function                     | `register!(f)` once, next to `fn f`; arguments and results are serde types |
//! | `executor.map(fn, xs, chunksize=k)`                  | `map_with(fn, xs, MapOptions::new().chunksize(k))`, through the [`Executor`] trait too |
//! | `if __name__ == "__main__":`                         | nothing: a worker is this program re-executed, and a start-up hook serves tasks before `main` runs |
//! | choosing the executor class at run time              | [`AnyExecutor::new(engine, n)`](AnyExecutor::new), [`AnyExecutor::from_env()`](AnyExecutor::from_env) |
//! | `mpi4py.futures.MPIPoolExecutor`                     | `MpiPoolExecutor` (the `mpi` feature)                           |
//!
//! # Platforms
//!
//! The thread engine runs wherever `std` has threads. The process engine runs on Linux, macOS,
//! the BSDs and Windows, each through its own OS layer (Linux's pidfds, `PR_SET_PDEATHSIG` and
//! `SO_PEERCRED`; a portable POSIX path elsewhere on Unix; job objects, sections and process
//! handles on Windows): the README's Platforms section has the mechanism behind each
//! guarantee on each. The cluster engine runs where an MPI library does (tested on Linux).
//!
//! Elsewhere, or without the `process` feature, the crate offers the thread engine with
//! everything around it ([`Future`], [`wait`], [`as_completed`], [`AnyExecutor`] with
//! [`Engine::Threads`]): `ProcessPoolExecutor` is absent, `register!` only checks that its
//! arguments are functions, and `AnyExecutor::new(Engine::Processes, ..)` returns an error
//! that says so.
//!
//! # What is easy to get wrong
//!
//! - **Dropping a [`Future`] does not cancel its task** (unlike `asyncio.wrap_future` and
//!   dropping a Rust `async` future): the task runs and its result is dropped. Call
//!   [`cancel`](Future::cancel) first to skip a task that has not started.
//! - **`panic = "abort"`** in the profile turns every panic into an abort: on the thread engine
//!   a task's panic then ends the whole program instead of failing its future; on the process
//!   and cluster engines it ends only the worker process, and the future gets `WorkerDied`.
//! - **A stack overflow** in a thread-pool task aborts the process (Rust cannot unwind from
//!   it); run code that may recurse without bound on processes, where it kills one worker.
//!
//! # Design notes
//!
//! Next to the code, and rendered in [`design`]: the future's state table and the
//! no-lost-wake-up argument ([`design::future_states`]); the thread engine's reuse, sleep,
//! shutdown and nested-wait protocols ([`design::thread_engine`]); why scoped tasks are sound
//! ([`design::scoped_tasks`]); O(n) waiting ([`design::waiting_on_many`]); and the process
//! engine's in its module documentation.

#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

/// What the [`register!`] macro expands to, and what the crate's own tests, fuzz targets and
/// benchmarks reach inside (the frame format, the codec, the ring checks). Not part of the API:
/// anything here may change in any release.
#[cfg(all(any(unix, windows), feature = "process"))]
#[doc(hidden)]
pub mod __private {
    pub use crate::process::outbox::check_producer as check_ring_producer;
    pub use crate::process::ring::check_consumer as check_ring_consumer;
    pub use crate::process::spawner::THREAD_NAME as SPAWNER_THREAD;
    pub use crate::remote::registry::{
        registered_name, Entry, Registration, RemoteError, Typed, REGISTRY,
    };
    pub use crate::remote::{codec, wire};
    pub use linkme;
}

/// The README's code blocks, compiled and run as doc-tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

mod any;
pub mod design;
mod error;
mod executor;
mod future;
mod map;
#[cfg(feature = "mpi")]
pub mod mpi;
#[cfg(all(any(unix, windows), feature = "process"))]
pub mod process;
#[cfg(all(any(unix, windows), feature = "process"))]
mod remote;
mod stats;
mod sync;
mod thread;
mod trace;
mod wait;

/// serde, as this crate uses it: arguments and results of tasks on processes derive its traits.
/// A program needs no `serde` dependency of its own:
///
/// ```
/// use concurrent_futures::serde::{Deserialize, Serialize};
/// use concurrent_futures::{register, ProcessPoolExecutor};
///
/// #[derive(Serialize, Deserialize)]
/// #[serde(crate = "concurrent_futures::serde")] // the derive finds serde through this crate
/// struct Order { id: u32, lines: Vec<u32> }
///
/// fn total(o: Order) -> u32 { o.lines.iter().sum() }
/// register!(total);
///
/// let pool = ProcessPoolExecutor::with_max_workers(1).unwrap();
/// let order = Order { id: 1, lines: vec![2, 3] };
/// assert_eq!(pool.submit_fn(total, order).unwrap().result(), Ok(5));
/// ```
pub use serde;

pub use crate::any::{AnyExecutor, Engine};
pub use crate::error::{AsCompletedTimeout, BuildError, SubmitError, TaskError};
pub use crate::executor::{Executor, Payload, SubmitOptions, TaskFn};
pub use crate::future::{Future, FutureState, InvalidState, Promise};
pub use crate::map::{Map, MapOptions, MapUnordered};
#[cfg(feature = "mpi")]
pub use crate::mpi::{MpiPoolBuilder, MpiPoolExecutor};
#[cfg(all(any(unix, windows), feature = "process"))]
pub use crate::process::{ProcessPoolBuilder, ProcessPoolExecutor};
pub use crate::stats::PoolStats;

/// Without the process engine (the `process` feature off, or a platform other than Unix and
/// Windows) there are no worker processes: `register!` only checks that its arguments are
/// functions, so code that registers its tasks builds either way.
#[cfg(not(all(any(unix, windows), feature = "process")))]
#[macro_export]
macro_rules! register {
    ($($f:expr),+ $(,)?) => {
        $(
            const _: () = {
                #[allow(dead_code)]
                fn __cf_exists() {
                    let _ = $f;
                }
            };
        )+
    };
}
pub use crate::thread::{
    default_max_workers, Scope, ScopedFuture, ThreadPoolBuilder, ThreadPoolExecutor,
};
pub use crate::wait::{
    as_completed, as_completed_timeout, wait, AsCompleted, AsCompletedWithin, AsFuture,
    DoneAndNotDone, ReturnWhen,
};
