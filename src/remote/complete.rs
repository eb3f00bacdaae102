//! How a reply becomes a typed value in a future, for every engine whose workers send encoded
//! results: the engine holds each task's completer as a `Box<dyn Complete>` and hands it the
//! reply; decoding (and dropping the value, when nobody holds the future any more) is contained,
//! and the future's callbacks come back to be run on the engine's callback thread.

use serde::de::DeserializeOwned;

use super::codec;
use crate::error::{SubmitError, TaskError};
use crate::future::{Deferred, Future, Promise};

/// One chunk of a chunked map: per-item results.
pub(crate) type Chunk<R> = Vec<Result<R, TaskError>>;

/// The engine's view of one submitted task's future.
pub(crate) trait Complete: Send {
    /// PENDING → RUNNING; false if the future was cancelled.
    fn start(&self) -> bool;
    /// Completes with the reply body, or an error; returns the future's callbacks, which the
    /// pool runs on its callback thread. Decoding and dropping the value are contained: this
    /// never panics.
    fn finish(self: Box<Self>, reply: Result<Vec<u8>, TaskError>) -> Option<Deferred>;
    /// Cancels a task that never started.
    fn cancel(self: Box<Self>);
    /// Whether the future was cancelled by its holder.
    fn is_cancelled(&self) -> bool;
    /// Whether the future is marked running (it was sent to a worker; it may have gone back to
    /// the queue because that worker died before starting it).
    fn is_running(&self) -> bool;
}

/// Completes a `Future<R>` from a reply body.
pub(crate) struct Typed<R: Send + 'static> {
    pub(crate) promise: Promise<R>,
    pub(crate) view: Future<R>,
}

/// Decodes a result in the parent. A `Deserialize` that panics fails this task only (the reader
/// thread that calls this must survive it).
fn decode_result<R: DeserializeOwned>(bytes: &[u8]) -> Result<R, TaskError> {
    contained("result", || codec::decode::<R>(bytes))
}

/// Runs a decode of `what` with its errors and panics turned into the task's error.
fn contained<T>(what: &str, decode: impl FnOnce() -> Result<T, String>) -> Result<T, TaskError> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(decode)) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(TaskError::Serialization {
            message: format!("the {what} could not be decoded: {e}"),
        }),
        Err(p) => Err(TaskError::Panicked {
            message: format!(
                "decoding the {what} panicked: {}",
                crate::error::panic_message(&*p)
            ),
            location: None,
            backtrace: None,
        }),
    }
}

/// Completes `promise`; whatever user code runs meanwhile (the value's `Drop`, when nobody holds
/// the future any more) is contained.
fn settle<R: Send + 'static>(
    mut promise: Promise<R>,
    view: Future<R>,
    outcome: Result<R, TaskError>,
) -> Option<Deferred> {
    crate::error::drop_quietly(view);
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        promise.finish_deferring(outcome)
    }));
    match r {
        Ok(job) => job,
        Err(p) => {
            // The future is complete (only its drop panicked) or the promise fails it on drop.
            crate::error::drop_quietly(p);
            None
        }
    }
}

impl<R: DeserializeOwned + Send + 'static> Complete for Typed<R> {
    fn start(&self) -> bool {
        self.promise.start()
    }
    fn finish(self: Box<Self>, reply: Result<Vec<u8>, TaskError>) -> Option<Deferred> {
        let Typed { promise, view } = *self;
        let outcome = reply.and_then(|b| decode_result::<R>(&b));
        settle(promise, view, outcome)
    }
    fn cancel(self: Box<Self>) {
        self.view.cancel();
    }
    fn is_cancelled(&self) -> bool {
        self.promise.is_cancelled()
    }
    fn is_running(&self) -> bool {
        self.view.running()
    }
}

/// Builds the `CALL` frame for task `id`: function `name`, `flags`, and `value` encoded as its
/// payload (`what` names it in errors: "the argument", "the chunk"). Every engine submits this way.
pub(crate) fn call_frame<T: serde::Serialize>(
    id: u64,
    name: &str,
    flags: u8,
    value: &T,
    what: &str,
    limit: usize,
) -> Result<Vec<u8>, String> {
    let mut frame = super::wire::begin(super::wire::CALL, id, Some((name, flags)));
    codec::encode_into(&mut frame, value)
        .map_err(|e| format!("{what} could not be encoded: {e}"))?;
    super::wire::finish(&mut frame, limit).map_err(|e| format!("{what} is too large: {e}"))?;
    Ok(frame)
}

/// Completes a future and hands its callbacks to the engine's callback thread. `finish` contains
/// its own panics; this is the last line of defence for the calling (reader or MPI) thread.
pub(crate) fn complete_on(
    callbacks: &super::callbacks::Callbacks,
    c: Box<dyn Complete>,
    r: Result<Vec<u8>, TaskError>,
) {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| c.finish(r))) {
        Ok(Some(job)) => callbacks.post(job),
        Ok(None) => {}
        Err(p) => crate::error::drop_quietly(p),
    }
}

/// Why a submit without an argument to give back was refused.
pub(crate) fn refusal(cause: Option<String>) -> SubmitError<()> {
    match cause {
        Some(c) => SubmitError::Broken((), c),
        None => SubmitError::Shutdown(()),
    }
}

/// Hands a reply body as it came, undecoded, to a closure, on the thread that received it (a
/// cluster engine's worker rank relays its local workers' replies to its manager this way, with
/// no future and no extra thread in between). A task cancelled or refused before it ran is
/// relayed as that error.
#[cfg_attr(not(feature = "mpi"), allow(dead_code))]
pub(crate) struct Relay {
    pub(crate) send: Box<dyn FnOnce(Result<Vec<u8>, TaskError>) + Send>,
    pub(crate) started: std::sync::atomic::AtomicBool,
}

impl Complete for Relay {
    fn start(&self) -> bool {
        self.started
            .store(true, std::sync::atomic::Ordering::Relaxed);
        true
    }
    fn finish(self: Box<Self>, reply: Result<Vec<u8>, TaskError>) -> Option<Deferred> {
        let send = self.send;
        crate::error::drop_quietly(std::panic::catch_unwind(std::panic::AssertUnwindSafe(
            move || send(reply),
        )));
        None
    }
    fn cancel(self: Box<Self>) {
        (self.send)(Err(TaskError::Cancelled));
    }
    fn is_cancelled(&self) -> bool {
        false
    }
    fn is_running(&self) -> bool {
        self.started.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// Completes a chunk's future from a batch reply: per-item encoded results, each decoded on its
/// own (one bad item fails only itself).
pub(crate) struct Batch<R: Send + 'static>(pub(crate) Typed<Chunk<R>>);

impl<R: DeserializeOwned + Send + 'static> Complete for Batch<R> {
    fn start(&self) -> bool {
        self.0.promise.start()
    }
    fn finish(self: Box<Self>, reply: Result<Vec<u8>, TaskError>) -> Option<Deferred> {
        let Typed { promise, view } = self.0;
        // Each item's decode is contained on its own; `contained` is the last line of defence
        // for the thread that reads replies.
        let outcome = reply.and_then(|b| {
            contained("results", || {
                super::batch::decode(&b, |item| match item {
                    Ok(bytes) => decode_result::<R>(bytes),
                    Err(e) => Err(TaskError::from(e)),
                })
            })
        });
        settle(promise, view, outcome)
    }
    fn cancel(self: Box<Self>) {
        self.0.view.cancel();
    }
    fn is_cancelled(&self) -> bool {
        self.0.promise.is_cancelled()
    }
    fn is_running(&self) -> bool {
        self.0.view.running()
    }
}
