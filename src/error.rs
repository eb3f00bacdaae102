//! Errors: what a task's failure was, why a submit was refused, why a builder failed.
//!
//! Every error is a plain value with predicates (`is_panic()`, `is_cancelled()`, …) and a one-line
//! `Display`. None of them loses the caller's data: a refused submit hands the task back
//! ([`SubmitError::into_inner`]).

use std::any::Any;
use std::fmt;
use std::time::Duration;

/// Why a [`Future`](crate::Future) holds no value.
///
/// `TaskError` is `Clone + Send + Sync + 'static`, so it can be inspected many times
/// ([`Future::exception`](crate::Future::exception)) and put into `anyhow`-style error boxes.
///
/// ```
/// use concurrent_futures::ThreadPoolExecutor;
///
/// let pool = ThreadPoolExecutor::new();
/// let fut = pool.submit(|| -> u32 { panic!("boom") }).unwrap();
/// let err = fut.result().unwrap_err();
/// assert!(err.is_panic());
/// assert_eq!(err.to_string(), "task panicked: boom");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub enum TaskError {
    /// The task panicked; the panic message is kept (a non-string payload is described as such).
    Panicked {
        /// The panic message.
        message: String,
        /// Where it panicked (`file:line:column`), when known: always on the process engine,
        /// where the worker's panic hook records it; `None` on the thread engine.
        location: Option<String>,
        /// The worker's backtrace (process engine, when `RUST_BACKTRACE` asks for one).
        backtrace: Option<String>,
    },
    /// The future was cancelled before its task started.
    Cancelled,
    /// The executor broke (for example its initializer panicked) before the task could run.
    BrokenExecutor {
        /// What broke it.
        cause: String,
    },
    /// The *caller's* wait ran out: a timed wait ([`Future::result_timeout`](crate::Future::result_timeout),
    /// a `map` with a timeout) gave up. The task itself is unaffected: it may still be running,
    /// and the future can be waited on again. Not to be confused with
    /// [`TaskTimedOut`](Self::TaskTimedOut), the *task's* own limit.
    Timeout {
        /// How long the wait lasted.
        waited: Duration,
    },
    /// The *task's* own limit ran out (`task_timeout`, `submit_fn_with_timeout`): it ran past
    /// its deadline and was stopped, and this is its final outcome (process and cluster
    /// engines). Not to be confused with [`Timeout`](Self::Timeout), the caller's wait.
    TaskTimedOut {
        /// The deadline the task was given.
        limit: Duration,
    },
    /// The worker process running the task died or was killed (process and cluster engines).
    WorkerDied {
        /// The worker's process id.
        pid: u32,
        /// How it ended, for example `killed by signal 9 (SIGKILL)` or `exited with status 3`.
        how: String,
        /// The host it ran on, when that is not this one (cluster engine).
        host: Option<String>,
    },
    /// The task's arguments or result could not be encoded or decoded, or the worker could not
    /// find the task's function (process engine).
    Serialization {
        /// What failed.
        message: String,
    },
    /// The value was already taken out of this future by an earlier `result` call.
    AlreadyTaken,
    /// A `map` on worker processes was given a function that was never
    /// [`register!`](crate::register)ed (or a closure): the same cause as
    /// [`SubmitError::NotRegistered`].
    NotRegistered {
        /// The function's type name.
        function: String,
    },
    /// The executor was shut down before this item of a `map` could be submitted: the same
    /// cause as [`SubmitError::Shutdown`] from `submit`.
    Shutdown,
}

impl TaskError {
    /// The kind's name, as a `Debug` of a future shows it (`finished raised Panicked: …`).
    pub(crate) fn kind_name(&self) -> &'static str {
        match self {
            TaskError::Panicked { .. } => "Panicked",
            TaskError::Cancelled => "Cancelled",
            TaskError::BrokenExecutor { .. } => "BrokenExecutor",
            TaskError::Timeout { .. } => "Timeout",
            TaskError::TaskTimedOut { .. } => "TaskTimedOut",
            TaskError::WorkerDied { .. } => "WorkerDied",
            TaskError::Serialization { .. } => "Serialization",
            TaskError::AlreadyTaken => "AlreadyTaken",
            TaskError::Shutdown => "Shutdown",
            TaskError::NotRegistered { .. } => "NotRegistered",
        }
    }

    /// The task panicked.
    ///
    /// ```
    /// use concurrent_futures::ThreadPoolExecutor;
    /// let pool = ThreadPoolExecutor::new();
    /// let err = pool.submit(|| -> u8 { panic!("bad input") }).unwrap().result().unwrap_err();
    /// assert!(err.is_panic());
    /// ```
    pub fn is_panic(&self) -> bool {
        matches!(self, TaskError::Panicked { .. })
    }
    /// The future was cancelled.
    ///
    /// ```
    /// use concurrent_futures::ThreadPoolExecutor;
    /// let pool = ThreadPoolExecutor::with_max_workers(1).unwrap();
    /// let (tx, rx) = std::sync::mpsc::channel::<()>();
    /// let _busy = pool.submit(move || rx.recv().ok()).unwrap(); // holds the only worker
    /// let queued = pool.submit(|| 1).unwrap();
    /// queued.cancel();
    /// assert!(queued.result().unwrap_err().is_cancelled());
    /// tx.send(()).unwrap();
    /// ```
    pub fn is_cancelled(&self) -> bool {
        matches!(self, TaskError::Cancelled)
    }
    /// The executor broke before the task could run.
    ///
    /// ```
    /// use concurrent_futures::ThreadPoolExecutor;
    /// let pool = ThreadPoolExecutor::builder()
    ///     .initializer(|| panic!("cannot open the database"))
    ///     .build()
    ///     .unwrap();
    /// let err = pool.submit(|| 1).unwrap().result().unwrap_err();
    /// assert!(err.is_broken());
    /// assert!(err.to_string().contains("cannot open the database"));
    /// ```
    pub fn is_broken(&self) -> bool {
        matches!(self, TaskError::BrokenExecutor { .. })
    }
    /// The executor was shut down before the item could be submitted (a `map` after
    /// `shutdown`); `submit` reports the same cause as [`SubmitError::Shutdown`].
    ///
    /// ```
    /// use concurrent_futures::ThreadPoolExecutor;
    /// let pool = ThreadPoolExecutor::new();
    /// pool.shutdown(true, false);
    /// let err = pool.map(|x: u32| x, 0..3).next().unwrap().unwrap_err();
    /// assert!(err.is_shutdown());
    /// assert!(pool.submit(|| 1).unwrap_err().is_shutdown());
    /// ```
    pub fn is_shutdown(&self) -> bool {
        matches!(self, TaskError::Shutdown)
    }
    /// A timed wait gave up; the future is still usable.
    ///
    /// ```
    /// use std::time::Duration;
    /// use concurrent_futures::ThreadPoolExecutor;
    /// let pool = ThreadPoolExecutor::new();
    /// let (tx, rx) = std::sync::mpsc::channel::<u32>();
    /// let mut f = pool.submit(move || rx.recv().unwrap()).unwrap();
    /// assert!(f.result_timeout(Duration::from_millis(5)).unwrap_err().is_timeout());
    /// tx.send(1).unwrap(); // the future was not affected: wait again
    /// assert_eq!(f.result_timeout(Duration::from_secs(30)), Ok(1));
    /// ```
    pub fn is_timeout(&self) -> bool {
        matches!(self, TaskError::Timeout { .. })
    }
    /// The task ran past its deadline and was stopped.
    ///
    /// ```
    /// use std::time::Duration;
    /// use concurrent_futures::{register, ProcessPoolExecutor};
    /// fn stuck(_: ()) { loop { std::thread::park() } }
    /// register!(stuck);
    /// let pool = ProcessPoolExecutor::with_max_workers(1).unwrap();
    /// let f = pool.submit_fn_with_timeout(stuck, (), Duration::from_millis(50)).unwrap();
    /// assert!(f.result().unwrap_err().is_task_timeout());
    /// ```
    pub fn is_task_timeout(&self) -> bool {
        matches!(self, TaskError::TaskTimedOut { .. })
    }
    /// The worker process running the task died.
    ///
    /// ```
    /// use concurrent_futures::{register, ProcessPoolExecutor};
    /// fn crash(code: i32) -> u32 { std::process::exit(code) }
    /// register!(crash);
    /// let pool = ProcessPoolExecutor::with_max_workers(1).unwrap();
    /// let err = pool.submit_fn(crash, 3).unwrap().result().unwrap_err();
    /// assert!(err.is_worker_died());
    /// assert!(err.to_string().ends_with("exited with status 3"));
    /// ```
    pub fn is_worker_died(&self) -> bool {
        matches!(self, TaskError::WorkerDied { .. })
    }
    /// Encoding, decoding or function lookup failed.
    ///
    /// ```
    /// use concurrent_futures::{register, ProcessPoolExecutor};
    /// fn zeros(n: usize) -> Vec<u8> { vec![0; n] }
    /// register!(zeros);
    /// let pool = ProcessPoolExecutor::builder().max_workers(1).max_frame_bytes(1024).build().unwrap();
    /// // The result does not fit in a frame: the worker cannot send it back.
    /// let err = pool.submit_fn(zeros, 4096).unwrap().result().unwrap_err();
    /// assert!(err.is_serialization());
    /// ```
    pub fn is_serialization(&self) -> bool {
        matches!(self, TaskError::Serialization { .. })
    }
    /// The panic message, when the task panicked.
    ///
    /// ```
    /// use concurrent_futures::ThreadPoolExecutor;
    /// let pool = ThreadPoolExecutor::new();
    /// let err = pool.submit(|| -> u8 { panic!("row {} is empty", 7) }).unwrap().result().unwrap_err();
    /// assert_eq!(err.panic_message(), Some("row 7 is empty"));
    /// ```
    pub fn panic_message(&self) -> Option<&str> {
        match self {
            TaskError::Panicked { message, .. } => Some(message),
            _ => None,
        }
    }

    /// Where the task panicked (`file:line:column`), when known (process engine).
    ///
    /// ```
    /// use concurrent_futures::{register, ProcessPoolExecutor};
    /// fn parse(s: String) -> u32 { s.parse().expect("a number") }
    /// register!(parse);
    /// let pool = ProcessPoolExecutor::with_max_workers(1).unwrap();
    /// let err = pool.submit_fn(parse, "x".to_string()).unwrap().result().unwrap_err();
    /// assert!(err.panic_location().unwrap().contains(".rs:"));
    /// assert!(err.to_string().starts_with("task panicked at "));
    /// ```
    pub fn panic_location(&self) -> Option<&str> {
        match self {
            TaskError::Panicked { location, .. } => location.as_deref(),
            _ => None,
        }
    }

    /// The worker's backtrace of the panic, when `RUST_BACKTRACE` was set (process engine).
    ///
    /// ```
    /// use concurrent_futures::ThreadPoolExecutor;
    /// let pool = ThreadPoolExecutor::new();
    /// let err = pool.submit(|| -> u8 { panic!("no") }).unwrap().result().unwrap_err();
    /// assert_eq!(err.panic_backtrace(), None); // threads: the panic hook prints it, if asked
    /// ```
    pub fn panic_backtrace(&self) -> Option<&str> {
        match self {
            TaskError::Panicked { backtrace, .. } => backtrace.as_deref(),
            _ => None,
        }
    }

    /// Builds a [`TaskError::Panicked`] from a payload caught by `catch_unwind`.
    /// The payload is dropped here, inside `catch_unwind`: a payload whose `Drop` panics must
    /// not unwind into the worker.
    pub(crate) fn from_panic(payload: Box<dyn Any + Send>) -> TaskError {
        let message = panic_message(&*payload);
        drop_quietly(payload);
        TaskError::Panicked {
            message,
            location: None,
            backtrace: None,
        }
    }
}

/// Drops `value`, containing (and logging) a panic raised by its `Drop`.
pub(crate) fn drop_quietly<T>(value: T) {
    if let Err(p) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(value))) {
        log::error!("a value's Drop panicked (ignored): {}", panic_message(&*p));
        std::mem::forget(p);
    }
}

/// Describes a panic payload in one line: the `&str` or `String` it carries, or its absence.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload (Box<dyn Any>)".to_owned()
    }
}

impl fmt::Display for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TaskError::Panicked {
                message,
                location: Some(at),
                ..
            } => write!(f, "task panicked at {at}: {message}"),
            TaskError::Panicked { message, .. } => write!(f, "task panicked: {message}"),
            TaskError::Cancelled => f.write_str("task was cancelled before it started"),
            TaskError::BrokenExecutor { cause } => write!(f, "broken executor: {cause}"),
            TaskError::Timeout { waited } => {
                write!(f, "timed out after {waited:?} waiting for the result")
            }
            TaskError::TaskTimedOut { limit } => {
                write!(
                    f,
                    "task exceeded its time limit of {limit:?} and was stopped"
                )
            }
            TaskError::WorkerDied {
                pid,
                how,
                host: None,
            } => write!(f, "worker process {pid} died while running the task: {how}"),
            TaskError::WorkerDied {
                pid,
                how,
                host: Some(host),
            } => write!(
                f,
                "worker process {pid} on {host} died while running the task: {how}"
            ),
            TaskError::Serialization { message } => write!(f, "serialization failed: {message}"),
            TaskError::AlreadyTaken => f.write_str("the result was already taken from this future"),
            TaskError::NotRegistered { function } => {
                f.write_str(&not_registered_message(function))
            }
            TaskError::Shutdown => f.write_str(
                "not submitted: the executor was shut down; map before shutdown, or on a new executor",
            ),
        }
    }
}

impl std::error::Error for TaskError {}

/// Why [`submit`](crate::ThreadPoolExecutor::submit) refused a task. The task is handed back.
///
/// ```
/// use concurrent_futures::ThreadPoolExecutor;
///
/// let pool = ThreadPoolExecutor::new();
/// pool.shutdown(true, false);
/// let err = pool.submit(|| 42).unwrap_err();
/// assert!(err.is_shutdown());
/// let task = err.into_inner();
/// assert_eq!(task(), 42); // nothing is lost
/// ```
#[non_exhaustive]
pub enum SubmitError<T> {
    /// The executor was shut down.
    Shutdown(T),
    /// The executor is broken (for example its initializer panicked); the cause is given.
    Broken(T, String),
    /// The executor's queue is full (only from `try_submit`).
    Full(T),
    /// The task cannot be sent to a worker (process engine: arguments that do not encode).
    Invalid(T, String),
    /// The function was never [`register!`](crate::register)ed, so a worker process cannot
    /// find it (or it is a closure, which cannot be): its type's name is given.
    NotRegistered(T, &'static str),
}

impl<T> SubmitError<T> {
    /// The executor was shut down.
    ///
    /// ```
    /// use concurrent_futures::ThreadPoolExecutor;
    /// let pool = ThreadPoolExecutor::new();
    /// pool.shutdown(true, false);
    /// assert!(pool.submit(|| 1).unwrap_err().is_shutdown());
    /// ```
    pub fn is_shutdown(&self) -> bool {
        matches!(self, SubmitError::Shutdown(_))
    }
    /// The executor is broken.
    ///
    /// ```
    /// use concurrent_futures::ThreadPoolExecutor;
    /// let pool = ThreadPoolExecutor::builder().initializer(|| panic!("no config")).build().unwrap();
    /// let first = pool.submit(|| 1).unwrap();
    /// assert!(first.result().unwrap_err().is_broken()); // the first task breaks the pool
    /// assert!(pool.submit(|| 2).unwrap_err().is_broken()); // later ones are refused
    /// ```
    pub fn is_broken(&self) -> bool {
        matches!(self, SubmitError::Broken(..))
    }
    /// The queue was full.
    ///
    /// ```
    /// use concurrent_futures::ThreadPoolExecutor;
    /// let pool = ThreadPoolExecutor::builder().max_workers(1).max_queued(1).build().unwrap();
    /// let (tx, rx) = std::sync::mpsc::channel::<()>();
    /// let _busy = pool.submit(move || rx.recv().ok()).unwrap();
    /// // The worker may not have taken the first task yet, so fill the queue until it refuses.
    /// let refused = (0..3).find_map(|_| pool.try_submit(|| ()).err()).unwrap();
    /// assert!(refused.is_full());
    /// tx.send(()).unwrap();
    /// ```
    pub fn is_full(&self) -> bool {
        matches!(self, SubmitError::Full(_))
    }
    /// The task itself cannot be sent (its argument does not encode).
    ///
    /// ```
    /// use concurrent_futures::{register, ProcessPoolExecutor};
    /// fn first(v: Vec<u8>) -> u8 { v[0] }
    /// register!(first);
    /// let pool = ProcessPoolExecutor::builder().max_workers(1).max_frame_bytes(1 << 10).build().unwrap();
    /// let err = pool.submit_fn(first, vec![0; 4096]).unwrap_err();
    /// assert!(err.is_invalid());
    /// ```
    pub fn is_invalid(&self) -> bool {
        matches!(self, SubmitError::Invalid(..))
    }
    /// The function was never registered (or is a closure) and cannot run in a worker
    /// process; the message names it and the fix.
    ///
    /// ```
    /// use concurrent_futures::ProcessPoolExecutor;
    /// fn forgotten(x: u32) -> u32 { x }
    /// let pool = ProcessPoolExecutor::with_max_workers(1).unwrap();
    /// let err = pool.submit_fn(forgotten, 1).unwrap_err();
    /// assert!(err.is_not_registered());
    /// assert!(err.to_string().contains("forgotten` is not registered"), "{err}");
    /// assert!(err.to_string().contains("register!(forgotten);"), "{err}");
    /// ```
    pub fn is_not_registered(&self) -> bool {
        matches!(self, SubmitError::NotRegistered(..))
    }
    /// Gives the refused task back.
    ///
    /// ```
    /// use concurrent_futures::ThreadPoolExecutor;
    /// let pool = ThreadPoolExecutor::new();
    /// pool.shutdown(true, false);
    /// let report = String::from("quarterly report");
    /// let task = pool.submit(move || report.len()).unwrap_err().into_inner();
    /// assert_eq!(task(), 16); // run it here instead
    /// ```
    pub fn into_inner(self) -> T {
        match self {
            SubmitError::Shutdown(t)
            | SubmitError::Broken(t, _)
            | SubmitError::Full(t)
            | SubmitError::Invalid(t, _)
            | SubmitError::NotRegistered(t, _) => t,
        }
    }
    /// Replaces the carried task, keeping the reason.
    pub(crate) fn map<U>(self, f: impl FnOnce(T) -> U) -> SubmitError<U> {
        match self {
            SubmitError::Shutdown(t) => SubmitError::Shutdown(f(t)),
            SubmitError::Broken(t, c) => SubmitError::Broken(f(t), c),
            SubmitError::Full(t) => SubmitError::Full(f(t)),
            SubmitError::Invalid(t, c) => SubmitError::Invalid(f(t), c),
            SubmitError::NotRegistered(t, n) => SubmitError::NotRegistered(f(t), n),
        }
    }
}

impl<T> fmt::Debug for SubmitError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SubmitError::Shutdown(_) => f.write_str("Shutdown(..)"),
            SubmitError::Broken(_, c) => f.debug_tuple("Broken").field(&"..").field(c).finish(),
            SubmitError::Full(_) => f.write_str("Full(..)"),
            SubmitError::Invalid(_, c) => f.debug_tuple("Invalid").field(&"..").field(c).finish(),
            SubmitError::NotRegistered(_, n) => f
                .debug_tuple("NotRegistered")
                .field(&"..")
                .field(n)
                .finish(),
        }
    }
}

impl<T> fmt::Display for SubmitError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SubmitError::Shutdown(_) => f.write_str("cannot submit: the executor was shut down"),
            SubmitError::Broken(_, c) => write!(f, "cannot submit: broken executor: {c}"),
            SubmitError::Full(_) => f.write_str("cannot submit: the executor's queue is full"),
            SubmitError::Invalid(_, c) => write!(f, "cannot submit: {c}"),
            SubmitError::NotRegistered(_, n) => {
                write!(f, "cannot submit: {}", not_registered_message(n))
            }
        }
    }
}

impl<T> std::error::Error for SubmitError<T> {}

/// What to do about a function a worker process cannot find, by its type name.
pub(crate) fn not_registered_message(function: &str) -> String {
    if function.starts_with("fn(") {
        format!(
            "a function pointer (`{function}`) cannot be looked up in a worker process: pass \
             the function itself (`submit_fn(name, arg)`), registered with \
             `concurrent_futures::register!(name);`"
        )
    } else if function.contains("{{closure}}") {
        format!(
            "a closure (`{function}`) cannot run in a worker process: pass a named function, \
             registered with `concurrent_futures::register!(name);`"
        )
    } else {
        let short = function.rsplit("::").next().unwrap_or(function);
        format!(
            "`{function}` is not registered for worker processes: add \
             `concurrent_futures::register!({short});` next to its definition"
        )
    }
}

/// A builder was given a setting it cannot honour (for example `max_workers(0)`).
///
/// ```
/// use concurrent_futures::ThreadPoolExecutor;
/// let err = ThreadPoolExecutor::with_max_workers(0).unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "invalid executor configuration: max_workers must be greater than 0"
/// );
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuildError {
    message: String,
}

impl BuildError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        BuildError {
            message: message.into(),
        }
    }
    /// What was wrong, without the `invalid executor configuration:` prefix.
    pub(crate) fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid executor configuration: {}", self.message)
    }
}

impl std::error::Error for BuildError {}

/// `as_completed_timeout` gave up: `unfinished` of `total` futures had not finished.
///
/// ```
/// use std::time::Duration;
/// use concurrent_futures::{as_completed_timeout, AsCompletedTimeout, ThreadPoolExecutor};
/// let pool = ThreadPoolExecutor::with_max_workers(2).unwrap();
/// let (tx, rx) = std::sync::mpsc::channel::<()>();
/// let quick = pool.submit(|| ()).unwrap();
/// let slow = pool.submit(move || rx.recv().unwrap()).unwrap();
/// quick.wait();
/// let outcomes: Vec<_> = as_completed_timeout([&quick, &slow], Duration::from_millis(10)).collect();
/// assert!(outcomes[0].is_ok());
/// assert_eq!(outcomes[1].as_ref().unwrap_err(), &AsCompletedTimeout { unfinished: 1, total: 2 });
/// tx.send(()).unwrap();
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AsCompletedTimeout {
    /// How many futures were still unfinished.
    pub unfinished: usize,
    /// How many distinct futures were given.
    pub total: usize,
}

impl fmt::Display for AsCompletedTimeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "timed out: {} (of {}) futures unfinished",
            self.unfinished, self.total
        )
    }
}

impl std::error::Error for AsCompletedTimeout {}

#[cfg(all(any(unix, windows), feature = "process"))]
pub use self::remote::RemoteError;

/// The error a task's worker sends back (process and cluster engines).
#[cfg(all(any(unix, windows), feature = "process"))]
mod remote {
    /// An error raised while running a task in a worker, as it travels back to the parent.
    /// The parent turns it into the future's [`TaskError`](crate::TaskError).
    ///
    /// ```
    /// use concurrent_futures::{__private::RemoteError, TaskError};
    /// let err = TaskError::from(RemoteError::Panicked {
    ///     message: "index out of bounds".into(),
    ///     location: Some("src/lib.rs:7:5".into()),
    ///     backtrace: None,
    /// });
    /// assert_eq!(err.panic_message(), Some("index out of bounds"));
    /// assert_eq!(err.panic_location(), Some("src/lib.rs:7:5"));
    /// let err = TaskError::from(RemoteError::BadArgument("unexpected end of input".into()));
    /// assert!(err.is_serialization());
    /// ```
    #[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
    #[non_exhaustive]
    pub enum RemoteError {
        /// The function (or the argument's `Deserialize`, or the result's `Serialize`) panicked.
        Panicked {
            /// The panic message.
            message: String,
            /// `file:line:column` of the panic.
            location: Option<String>,
            /// The worker's backtrace, when `RUST_BACKTRACE` asked for one.
            backtrace: Option<String>,
        },
        /// No function of that name is registered in the worker.
        UnknownFunction(String),
        /// The argument did not decode.
        BadArgument(String),
        /// The result did not encode (or exceeded the frame limit).
        BadResult(String),
        /// The task failed where it ran, and the error is relayed as it was (a cluster engine's
        /// worker rank relays what its local worker process reported: a death, a time limit).
        Failed(crate::TaskError),
    }

    impl RemoteError {
        /// Shortens every message so that the error's encoding fits in `max` bytes (a long panic
        /// message must not make the reply too large to send), marking what was cut.
        pub(crate) fn truncate_to(&mut self, max: usize) {
            let fields: Vec<&mut String> = match self {
                RemoteError::Panicked {
                    message,
                    location,
                    backtrace,
                } => {
                    let mut v = vec![message];
                    v.extend(location.as_mut());
                    v.extend(backtrace.as_mut());
                    v
                }
                RemoteError::UnknownFunction(m)
                | RemoteError::BadArgument(m)
                | RemoteError::BadResult(m) => vec![m],
                RemoteError::Failed(e) => match e {
                    crate::TaskError::Panicked { message, .. }
                    | crate::TaskError::Serialization { message }
                    | crate::TaskError::BrokenExecutor { cause: message }
                    | crate::TaskError::WorkerDied { how: message, .. } => vec![message],
                    _ => vec![],
                },
            };
            if fields.is_empty() {
                return;
            }
            // Room for the enum tag, the options and the length prefixes, then an equal share each.
            let share = max.saturating_sub(24) / fields.len();
            for f in fields {
                truncate_string(f, share);
            }
        }
    }

    /// Cuts `s` to at most `max` bytes (on a character boundary), ending it with a marker.
    fn truncate_string(s: &mut String, max: usize) {
        if s.len() <= max {
            return;
        }
        let cut = s.len();
        let marker_room = 40;
        let mut keep = max.saturating_sub(marker_room);
        while !s.is_char_boundary(keep) {
            keep -= 1;
        }
        s.truncate(keep);
        let marker = format!(" [… {} bytes cut]", cut - keep);
        if s.len() + marker.len() <= max {
            s.push_str(&marker);
        }
    }

    impl From<RemoteError> for crate::TaskError {
        fn from(e: RemoteError) -> Self {
            use crate::TaskError;
            match e {
                RemoteError::Panicked {
                    message,
                    location,
                    backtrace,
                } => TaskError::Panicked {
                    message,
                    location,
                    backtrace,
                },
                RemoteError::UnknownFunction(name) => TaskError::Serialization {
                    message: format!(
                        "no function named `{name}` is registered in the worker process"
                    ),
                },
                RemoteError::BadArgument(m) => TaskError::Serialization {
                    message: format!("the worker could not decode the argument: {m}"),
                },
                RemoteError::BadResult(m) => TaskError::Serialization {
                    message: format!("the worker could not encode the result: {m}"),
                },
                RemoteError::Failed(e) => e,
            }
        }
    }
}
