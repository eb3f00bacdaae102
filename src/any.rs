//! [`AnyExecutor`]: one type that is any engine, chosen at run time (from a flag, a config file
//! or the environment). `Box<dyn Executor>` cannot exist — the trait's methods are generic — so
//! this enum is the way to write `let pool = if fast { threads } else { processes };`.

use std::fmt;
use std::str::FromStr;

use crate::error::{BuildError, SubmitError};
use crate::executor::{Executor, Payload, TaskFn};
use crate::future::Future;
use crate::map::{Map, MapOptions};
#[cfg(feature = "mpi")]
use crate::mpi::MpiPoolExecutor;
#[cfg(all(any(unix, windows), feature = "process"))]
use crate::process::ProcessPoolExecutor;
use crate::thread::ThreadPoolExecutor;

/// The environment variable [`AnyExecutor::from_env`] reads the engine from.
pub const ENGINE_VAR: &str = "CONCURRENT_FUTURES_ENGINE";
/// The environment variable [`AnyExecutor::from_env`] reads the worker count from.
pub const WORKERS_VAR: &str = "CONCURRENT_FUTURES_MAX_WORKERS";

/// Which engine an [`AnyExecutor`] runs: parsed from `threads`, `processes` or `cluster`
/// (also `thread`, `process`, `mpi`), as a command-line flag gives it.
///
/// ```
/// use concurrent_futures::Engine;
/// assert_eq!("processes".parse::<Engine>(), Ok(Engine::Processes));
/// let err = "gpu".parse::<Engine>().unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "invalid executor configuration: unknown engine `gpu`: use threads, processes or cluster"
/// );
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Engine {
    /// [`ThreadPoolExecutor`]: for I/O-bound work and closures.
    Threads,
    /// `ProcessPoolExecutor`: CPU-bound work, crash isolation
    /// (the `process` feature, on by default; not on Windows yet).
    Processes,
    /// `MpiPoolExecutor` in spawned mode (the `mpi` feature).
    Cluster,
}

impl FromStr for Engine {
    type Err = BuildError;
    fn from_str(s: &str) -> Result<Self, BuildError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "threads" | "thread" => Ok(Engine::Threads),
            "processes" | "process" => Ok(Engine::Processes),
            "cluster" | "mpi" => Ok(Engine::Cluster),
            other => Err(BuildError::new(format!(
                "unknown engine `{other}`: use threads, processes or cluster"
            ))),
        }
    }
}

impl fmt::Display for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Engine::Threads => "threads",
            Engine::Processes => "processes",
            Engine::Cluster => "cluster",
        })
    }
}

/// Any engine, behind the [`Executor`] trait: the program picks threads, processes or the
/// cluster at run time and the rest of the code does not change.
///
/// Tasks given through the trait are [`register!`](crate::register)ed functions, so that the
/// same call works on every engine.
///
/// ```
/// use concurrent_futures::{register, AnyExecutor, Engine, Executor};
/// fn square(x: u64) -> u64 { x * x }
/// register!(square);
///
/// // From a flag: `--engine threads` or `--engine processes`.
/// let flag = "processes";
/// let pool = AnyExecutor::new(flag.parse().unwrap(), Some(2)).unwrap();
/// assert_eq!(pool.engine(), Engine::Processes);
/// let total: u64 = pool.map(square, 0..100).map(Result::unwrap).sum();
/// assert_eq!(total, 328_350);
/// assert_eq!(pool.submit_fn(square, 12).unwrap().result(), Ok(144));
/// ```
#[non_exhaustive]
pub enum AnyExecutor {
    /// A thread pool.
    Threads(ThreadPoolExecutor),
    /// A process pool.
    #[cfg(all(any(unix, windows), feature = "process"))]
    Processes(ProcessPoolExecutor),
    /// The cluster engine.
    #[cfg(feature = "mpi")]
    Cluster(MpiPoolExecutor),
}

/// Calls `$body` with `$p` bound to whichever engine `$self` holds.
macro_rules! each {
    ($self:expr, $p:ident => $body:expr) => {
        match $self {
            AnyExecutor::Threads($p) => $body,
            #[cfg(all(any(unix, windows), feature = "process"))]
            AnyExecutor::Processes($p) => $body,
            #[cfg(feature = "mpi")]
            AnyExecutor::Cluster($p) => $body,
        }
    };
}

impl AnyExecutor {
    /// A pool of `engine` with `max_workers` (`None`: the engine's default, the machine's
    /// cores). An engine this build leaves out (its cargo feature off) is an error that says
    /// which feature to turn on.
    ///
    /// ```
    /// use concurrent_futures::{AnyExecutor, Engine, Executor};
    /// let pool = AnyExecutor::new(Engine::Threads, Some(3)).unwrap();
    /// assert_eq!(pool.max_workers(), 3);
    /// assert!(AnyExecutor::new(Engine::Threads, Some(0)).is_err());
    /// ```
    pub fn new(engine: Engine, max_workers: Option<usize>) -> Result<Self, BuildError> {
        match engine {
            Engine::Threads => Ok(AnyExecutor::Threads(match max_workers {
                Some(n) => ThreadPoolExecutor::with_max_workers(n)?,
                None => ThreadPoolExecutor::new(),
            })),
            #[cfg(all(any(unix, windows), feature = "process"))]
            Engine::Processes => Ok(AnyExecutor::Processes(match max_workers {
                Some(n) => ProcessPoolExecutor::with_max_workers(n)?,
                None => ProcessPoolExecutor::new(),
            })),
            #[cfg(all(any(unix, windows), not(feature = "process")))]
            Engine::Processes => Err(BuildError::new(
                "the process engine is not in this build: enable the `process` feature",
            )),
            #[cfg(not(any(unix, windows)))]
            Engine::Processes => Err(BuildError::new(
                "the process engine runs on Unix and Windows: use the thread engine on this \
                 platform",
            )),
            #[cfg(feature = "mpi")]
            Engine::Cluster => {
                let mut b = MpiPoolExecutor::builder();
                if let Some(n) = max_workers {
                    b = b.max_workers(n);
                }
                Ok(AnyExecutor::Cluster(b.spawn()?))
            }
            #[cfg(not(feature = "mpi"))]
            Engine::Cluster => Err(BuildError::new(
                "the cluster engine is not in this build: enable the `mpi` feature",
            )),
        }
    }

    /// A pool chosen by the environment: the engine from `CONCURRENT_FUTURES_ENGINE`
    /// (`threads` when unset) and the worker count from `CONCURRENT_FUTURES_MAX_WORKERS` (the
    /// engine's default when unset). A value that does not parse is an error naming the
    /// variable.
    ///
    /// ```
    /// use concurrent_futures::{AnyExecutor, Engine};
    /// // With neither variable set: a thread pool of the default size.
    /// # std::env::remove_var("CONCURRENT_FUTURES_ENGINE");
    /// # std::env::remove_var("CONCURRENT_FUTURES_MAX_WORKERS");
    /// let pool = AnyExecutor::from_env().unwrap();
    /// assert_eq!(pool.engine(), Engine::Threads);
    /// ```
    pub fn from_env() -> Result<Self, BuildError> {
        let var = |name: &str| match std::env::var(name) {
            Ok(v) if !v.trim().is_empty() => Ok(Some(v)),
            Ok(_) | Err(std::env::VarError::NotPresent) => Ok(None),
            Err(std::env::VarError::NotUnicode(_)) => {
                Err(BuildError::new(format!("{name} is not valid UTF-8")))
            }
        };
        let engine = match var(ENGINE_VAR)? {
            Some(v) => v.parse().map_err(|e: BuildError| {
                BuildError::new(format!("{ENGINE_VAR}: {}", e.message()))
            })?,
            None => Engine::Threads,
        };
        let workers = match var(WORKERS_VAR)? {
            Some(v) => Some(v.trim().parse::<usize>().map_err(|_| {
                BuildError::new(format!("{WORKERS_VAR}={v:?} is not a number of workers"))
            })?),
            None => None,
        };
        Self::new(engine, workers)
    }

    /// Which engine this is.
    ///
    /// ```
    /// use concurrent_futures::{AnyExecutor, Engine, ThreadPoolExecutor};
    /// let pool = AnyExecutor::from(ThreadPoolExecutor::new());
    /// assert_eq!(pool.engine(), Engine::Threads);
    /// ```
    pub fn engine(&self) -> Engine {
        match self {
            AnyExecutor::Threads(_) => Engine::Threads,
            #[cfg(all(any(unix, windows), feature = "process"))]
            AnyExecutor::Processes(_) => Engine::Processes,
            #[cfg(feature = "mpi")]
            AnyExecutor::Cluster(_) => Engine::Cluster,
        }
    }
}

impl From<ThreadPoolExecutor> for AnyExecutor {
    fn from(p: ThreadPoolExecutor) -> Self {
        AnyExecutor::Threads(p)
    }
}

#[cfg(all(any(unix, windows), feature = "process"))]
impl From<ProcessPoolExecutor> for AnyExecutor {
    fn from(p: ProcessPoolExecutor) -> Self {
        AnyExecutor::Processes(p)
    }
}

#[cfg(feature = "mpi")]
impl From<MpiPoolExecutor> for AnyExecutor {
    fn from(p: MpiPoolExecutor) -> Self {
        AnyExecutor::Cluster(p)
    }
}

impl fmt::Debug for AnyExecutor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        each!(self, p => fmt::Debug::fmt(p, f))
    }
}

impl Executor for AnyExecutor {
    fn submit_fn<A: Payload, R: Payload>(
        &self,
        f: impl TaskFn<A, R>,
        arg: A,
    ) -> Result<Future<R>, SubmitError<A>> {
        each!(self, p => Executor::submit_fn(p, f, arg))
    }
    fn shutdown(&self, wait: bool, cancel_futures: bool) {
        each!(self, p => Executor::shutdown(p, wait, cancel_futures))
    }
    fn shutdown_async(&self, cancel_futures: bool) -> Future<()> {
        each!(self, p => Executor::shutdown_async(p, cancel_futures))
    }
    fn max_workers(&self) -> usize {
        each!(self, p => Executor::max_workers(p))
    }
    fn default_buffer_size(&self) -> usize {
        each!(self, p => Executor::default_buffer_size(p))
    }
    fn stats(&self) -> crate::PoolStats {
        each!(self, p => Executor::stats(p))
    }
    fn map_with<'a, A: Payload, R: Payload, I: IntoIterator<Item = A>>(
        &'a self,
        f: impl TaskFn<A, R>,
        items: I,
        options: MapOptions,
    ) -> Map<'a, R, I::IntoIter>
    where
        I::IntoIter: 'a,
    {
        each!(self, p => Executor::map_with(p, f, items, options))
    }
}
