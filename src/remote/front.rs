//! The front end of the engines that run tasks in other processes: what `submit_fn`,
//! `submit_fn_with`, `map`, `map_with` and `map_unordered` do before a task reaches an engine —
//! find the function's registered name, encode the argument (or a chunk of items) into a `CALL`
//! frame under a fresh id, attach a future, apply the per-task settings over the pool's, and
//! queue the [`Task`]. Both [`ProcessPoolExecutor`](crate::ProcessPoolExecutor) and
//! `MpiPoolExecutor` call these functions; each engine says only how a task reaches a worker
//! ([`Engine::submit`]) and what it keeps per task besides ([`Engine::Extra`]).
//!
//! A new per-task setting goes into [`SubmitOptions`](crate::SubmitOptions), [`Task`] and
//! [`enqueue`] here, and both engines have it.

use std::sync::Arc;
use std::time::Duration;

use super::chunked::ChunkedMap;
use super::complete::{call_frame, refusal, Batch, Chunk, Complete, Typed};
use super::registry::{lookup_fn, not_registered};
use super::task::Task;
use super::wire::FLAG_BATCH;
use crate::error::SubmitError;
use crate::executor::{Payload, SubmitOptions, TaskFn};
use crate::future::{Future, Promise};
use crate::map::{Map, MapOptions, MapUnordered};

/// The pool's defaults for a task's settings, set by its builder.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Defaults {
    /// The largest frame a task may send or receive.
    pub(crate) frame_limit: usize,
    pub(crate) task_timeout: Option<Duration>,
    pub(crate) retries: u32,
}

/// What an engine that runs tasks elsewhere tells the front end.
pub(crate) trait Engine: Sync {
    /// What the engine keeps per task besides the shared [`Task`] fields.
    type Extra;

    /// A fresh task id.
    fn next_id(&self) -> u64;
    /// The pool's defaults.
    fn defaults(&self) -> Defaults;
    /// A promise and its future for task `id`. The process engine's futures can run a task
    /// queued in their own pool while their holder waits on them, which needs a handle on it.
    fn promise<R: Send + 'static>(&self, id: u64) -> (Promise<R>, Future<R>) {
        let _ = id;
        Promise::new()
    }
    /// The engine's own part of a new task: `future_id` is the identity of its future,
    /// `batchable` whether a `map` submitted it.
    fn extra(&self, future_id: usize, batchable: bool) -> Self::Extra;
    /// Queues a task. `Err` gives it back with the broken pool's cause, or `None` after
    /// shutdown.
    #[allow(clippy::result_large_err)] // a refused task goes back whole, on the rare path
    fn submit(&self, task: Task<Self::Extra>) -> Result<(), (Task<Self::Extra>, Option<String>)>;
    /// How many tasks run at once.
    fn max_workers(&self) -> usize;
    /// How many tasks (or chunks) a map keeps in flight unless told; `None`: the local
    /// engines' default.
    fn map_buffer(&self) -> Option<usize> {
        None
    }
}

/// `submit_fn_with`: `f(arg)` with `options`, as one task.
pub(crate) fn submit<E: Engine, A: Payload, R: Payload>(
    engine: &E,
    f: impl TaskFn<A, R>,
    arg: A,
    options: SubmitOptions,
) -> Result<Future<R>, SubmitError<A>> {
    let Some(reg) = lookup_fn(&f) else {
        return Err(SubmitError::NotRegistered(arg, not_registered(&f)));
    };
    let (id, frame) = match encode_call(engine, reg.name, 0, &arg, "the argument") {
        Ok(x) => x,
        Err(why) => return Err(SubmitError::Invalid(arg, why)),
    };
    enqueue(engine, id, frame, options, false, |t| Box::new(t)).map_err(|cause| match cause {
        Some(c) => SubmitError::Broken(arg, c),
        None => SubmitError::Shutdown(arg),
    })
}

/// A batch `f(items[0]), f(items[1]), …` as one task, whose future holds the per-item results.
fn submit_batch<E: Engine, A: Payload, R: Payload>(
    engine: &E,
    f: impl TaskFn<A, R>,
    items: Vec<A>,
) -> Result<Future<Chunk<R>>, SubmitError<()>> {
    let Some(reg) = lookup_fn(&f) else {
        return Err(SubmitError::NotRegistered((), not_registered(&f)));
    };
    let (id, frame) = encode_call(engine, reg.name, FLAG_BATCH, &items, "the chunk")
        .map_err(|why| SubmitError::Invalid((), why))?;
    enqueue(engine, id, frame, SubmitOptions::new(), true, |t| {
        Box::new(Batch(t))
    })
    .map_err(refusal)
}

/// `map_with`: `chunksize` items per task, results per item in input order.
pub(crate) fn map_with<'a, E: Engine, A: Payload, R: Payload, I: IntoIterator<Item = A>>(
    engine: &'a E,
    f: impl TaskFn<A, R>,
    items: I,
    options: MapOptions,
) -> Map<'a, R, I::IntoIter>
where
    I::IntoIter: 'a,
{
    Map::chunked(ChunkedMap::new(
        Box::new(move |items| submit_batch(engine, f, items)),
        items.into_iter(),
        with_buffer(engine, options),
        engine.max_workers(),
    ))
}

/// `map_unordered`: one task per item, results in completion order.
pub(crate) fn map_unordered<'a, E: Engine, A: Payload, R: Payload, I: IntoIterator<Item = A>>(
    engine: &'a E,
    f: impl TaskFn<A, R>,
    items: I,
) -> MapUnordered<'a, R, I::IntoIter> {
    MapUnordered::new(
        Box::new(move |a| submit(engine, f, a, SubmitOptions::new()).map_err(|e| e.map(|_| ()))),
        items.into_iter(),
        with_buffer(engine, MapOptions::default()),
        engine.max_workers(),
    )
}

/// How many tasks (or chunks) a map keeps in flight unless told.
pub(crate) fn default_buffer_size<E: Engine>(engine: &E) -> usize {
    engine
        .map_buffer()
        .unwrap_or_else(|| crate::map::default_buffer(engine.max_workers()))
}

/// `options`, with the engine's buffer size where none was asked for.
fn with_buffer<E: Engine>(engine: &E, options: MapOptions) -> MapOptions {
    match (options.buffer_size, engine.map_buffer()) {
        (None, Some(n)) => options.buffer_size(n),
        _ => options,
    }
}

/// A `CALL` frame for `value` under a fresh task id.
fn encode_call<E: Engine, T: serde::Serialize>(
    engine: &E,
    name: &str,
    flags: u8,
    value: &T,
    what: &str,
) -> Result<(u64, Vec<u8>), String> {
    let id = engine.next_id();
    call_frame(id, name, flags, value, what, engine.defaults().frame_limit).map(|f| (id, f))
}

/// Queues `frame` as task `id` with a new future; `done` wraps the future's completer. `Err`
/// carries the broken pool's cause, or `None` after shutdown.
pub(crate) fn enqueue<E: Engine, R: Send + 'static>(
    engine: &E,
    id: u64,
    frame: Vec<u8>,
    options: SubmitOptions,
    batchable: bool,
    done: impl FnOnce(Typed<R>) -> Box<dyn Complete>,
) -> Result<Future<R>, Option<String>> {
    let (promise, fut) = engine.promise(id);
    let view = fut.view();
    let defaults = engine.defaults();
    let task = Task {
        id,
        frame: Arc::new(frame),
        timeout: options.timeout.or(defaults.task_timeout),
        retries_left: options.retries.unwrap_or(defaults.retries),
        attempts: Vec::new(),
        done: done(Typed { promise, view }),
        origin: crate::trace::Origin::capture(),
        running: None,
        engine: engine.extra(fut.id(), batchable),
    };
    // A refused task is dropped unstarted; nobody holds its future.
    engine
        .submit(task)
        .map(|()| fut)
        .map_err(|(_, cause)| cause)
}

/// The [`Executor`](crate::Executor) impl of a pool `$pool` whose field `$inner` is an
/// `Arc` of its [`Engine`] (each method is the pool's own inherent one), and its `Drop`: the
/// pool shuts down and waits for its tasks, as Python's `with` block does.
macro_rules! remote_executor {
    ($pool:ident, $inner:ident) => {
        impl Drop for $pool {
            fn drop(&mut self) {
                self.$inner.shutdown(true, false);
            }
        }

        impl crate::executor::Executor for $pool {
            fn submit_fn<A: crate::Payload, R: crate::Payload>(
                &self,
                f: impl crate::TaskFn<A, R>,
                arg: A,
            ) -> Result<crate::Future<R>, crate::SubmitError<A>> {
                $pool::submit_fn(self, f, arg)
            }
            fn stats(&self) -> crate::PoolStats {
                $pool::stats(self)
            }
            fn shutdown_async(&self, cancel_futures: bool) -> crate::Future<()> {
                // Closed to new work now, as `shutdown` is; the wait happens on another thread.
                self.$inner.shutdown(false, cancel_futures);
                let inner = self.$inner.clone();
                crate::future::in_background(move || inner.shutdown(true, cancel_futures))
            }
            fn shutdown(&self, wait: bool, cancel_futures: bool) {
                $pool::shutdown(self, wait, cancel_futures)
            }
            fn max_workers(&self) -> usize {
                $pool::max_workers(self)
            }
            fn default_buffer_size(&self) -> usize {
                crate::remote::front::default_buffer_size(&*self.$inner)
            }
            fn map_with<'a, A: crate::Payload, R: crate::Payload, I: IntoIterator<Item = A>>(
                &'a self,
                f: impl crate::TaskFn<A, R>,
                items: I,
                options: crate::MapOptions,
            ) -> crate::Map<'a, R, I::IntoIter>
            where
                I::IntoIter: 'a,
            {
                $pool::map_with(self, f, items, options)
            }
        }
    };
}
pub(crate) use remote_executor;

/// The submit and map methods of a pool `$pool` whose field `$inner` is an `Arc` of its
/// [`Engine`], each the function of the same name above; the engine writes only their docs.
macro_rules! remote_methods {
    (
        $pool:ident, $inner:ident;
        $(#[$submit_fn:meta])* submit_fn;
        $(#[$submit_fn_with:meta])* submit_fn_with;
        $(#[$map:meta])* map;
        $(#[$map_with:meta])* map_with;
        $(#[$map_unordered:meta])* map_unordered;
    ) => {
        impl $pool {
            $(#[$submit_fn])*
            pub fn submit_fn<A: crate::Payload, R: crate::Payload>(
                &self,
                f: impl crate::TaskFn<A, R>,
                arg: A,
            ) -> Result<crate::Future<R>, crate::SubmitError<A>> {
                crate::remote::front::submit(&*self.$inner, f, arg, crate::SubmitOptions::new())
            }

            $(#[$submit_fn_with])*
            pub fn submit_fn_with<A: crate::Payload, R: crate::Payload>(
                &self,
                f: impl crate::TaskFn<A, R>,
                arg: A,
                options: crate::SubmitOptions,
            ) -> Result<crate::Future<R>, crate::SubmitError<A>> {
                crate::remote::front::submit(&*self.$inner, f, arg, options)
            }

            $(#[$map])*
            pub fn map<'a, A: crate::Payload, R: crate::Payload, I: IntoIterator<Item = A>>(
                &'a self,
                f: impl crate::TaskFn<A, R>,
                items: I,
            ) -> crate::Map<'a, R, I::IntoIter>
            where
                I::IntoIter: 'a,
            {
                crate::remote::front::map_with(&*self.$inner, f, items, crate::MapOptions::new())
            }

            $(#[$map_with])*
            pub fn map_with<'a, A: crate::Payload, R: crate::Payload, I: IntoIterator<Item = A>>(
                &'a self,
                f: impl crate::TaskFn<A, R>,
                items: I,
                options: crate::MapOptions,
            ) -> crate::Map<'a, R, I::IntoIter>
            where
                I::IntoIter: 'a,
            {
                crate::remote::front::map_with(&*self.$inner, f, items, options)
            }

            $(#[$map_unordered])*
            pub fn map_unordered<A: crate::Payload, R: crate::Payload, I: IntoIterator<Item = A>>(
                &self,
                f: impl crate::TaskFn<A, R>,
                items: I,
            ) -> crate::MapUnordered<'_, R, I::IntoIter> {
                crate::remote::front::map_unordered(&*self.$inner, f, items)
            }
        }
    };
}
pub(crate) use remote_methods;
