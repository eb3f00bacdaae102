//! The thread pools under test, each driven through its own idiomatic API:
//!
//! | peer                  | submit                          | wait for the result                 |
//! |-----------------------|---------------------------------|-------------------------------------|
//! | concurrent-futures    | `ThreadPoolExecutor::submit`    | `Future::result`                    |
//! | rayon                 | `ThreadPool::scope` + `spawn` (batch), `install` (round trip) | the scope's end / `install` returning |
//! | crossbeam-channel pool| a `Box<dyn FnOnce>` on an unbounded channel to N threads (written here) | a per-task `oneshot` channel |
//! | threadpool            | `ThreadPool::execute`           | one shared `mpsc` channel           |
//! | rusty_pool            | `ThreadPool::evaluate`          | `JoinHandle::await_complete`        |
//! | tokio                 | `spawn_blocking` on a current-thread runtime with `max_blocking_threads(N)` | `.await` on the `JoinHandle` |
//!
//! Every peer is built with the same number of workers and warmed up (its threads started)
//! before anything is timed. Python's pool is in `python.rs`.

use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, unbounded, Sender};

use crate::measure::{rss_bytes, time_each};

/// How many tasks start every peer's threads before a measurement.
const WARMUP_TASKS: usize = 10_000;

/// A thread pool under test.
pub trait Peer {
    /// Submits `n` empty tasks, then waits for all of them; the time from the first submit to
    /// the last result.
    fn batch(&self, n: usize) -> Duration;
    /// `warmup` untimed, then `iters` timed sequential submit → result round trips (ns each).
    fn round_trips(&self, warmup: usize, iters: usize) -> Vec<f64>;
    /// With the pool's only worker blocked, the growth of resident memory per task while `n`
    /// empty tasks are queued behind it (the caller's handles are allocated beforehand).
    fn pending_bytes(&self, n: usize) -> f64;
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Ours,
    Rayon,
    Crossbeam,
    Threadpool,
    RustyPool,
    Tokio,
}

impl Kind {
    pub const ALL: [Kind; 6] = [
        Kind::Ours,
        Kind::Rayon,
        Kind::Crossbeam,
        Kind::Threadpool,
        Kind::RustyPool,
        Kind::Tokio,
    ];

    /// The row label.
    pub fn label(self) -> &'static str {
        match self {
            Kind::Ours => "concurrent-futures ThreadPoolExecutor",
            Kind::Rayon => "rayon ThreadPool",
            Kind::Crossbeam => "crossbeam-channel pool",
            Kind::Threadpool => "threadpool",
            Kind::RustyPool => "rusty_pool",
            Kind::Tokio => "tokio spawn_blocking",
        }
    }

    /// The name on a child's command line.
    pub fn id(self) -> &'static str {
        match self {
            Kind::Ours => "ours",
            Kind::Rayon => "rayon",
            Kind::Crossbeam => "crossbeam",
            Kind::Threadpool => "threadpool",
            Kind::RustyPool => "rusty_pool",
            Kind::Tokio => "tokio",
        }
    }

    pub fn from_id(id: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.id() == id)
    }

    /// A warmed-up pool of `workers` threads.
    pub fn build(self, workers: usize) -> Box<dyn Peer> {
        let p: Box<dyn Peer> = match self {
            Kind::Ours => Box::new(Ours(
                concurrent_futures::ThreadPoolExecutor::with_max_workers(workers)
                    .expect("build ThreadPoolExecutor"),
            )),
            Kind::Rayon => Box::new(Rayon(
                rayon::ThreadPoolBuilder::new()
                    .num_threads(workers)
                    .build()
                    .expect("build rayon pool"),
            )),
            Kind::Crossbeam => Box::new(CrossbeamPool::new(workers)),
            Kind::Threadpool => Box::new(Threadpool(threadpool::ThreadPool::new(workers))),
            Kind::RustyPool => Box::new(RustyPool(rusty_pool::ThreadPool::new(
                workers,
                workers,
                Duration::from_secs(600),
            ))),
            Kind::Tokio => Box::new(Tokio(
                tokio::runtime::Builder::new_current_thread()
                    .max_blocking_threads(workers)
                    .build()
                    .expect("build tokio runtime"),
            )),
        };
        p.batch(WARMUP_TASKS);
        p
    }
}

/// The peers' crate versions, from the workspace's `Cargo.lock`.
pub fn versions() -> String {
    crate_versions(&[
        "rayon",
        "crossbeam-channel",
        "threadpool",
        "rusty_pool",
        "tokio",
    ])
}

/// `"name version, ..."` for `names`, the versions taken from the workspace's `Cargo.lock`
/// (`?` for a crate it does not list).
pub fn crate_versions(names: &[&str]) -> String {
    let lock = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.lock"))
        .unwrap_or_default();
    let version = |name: &str| {
        let key = format!("name = \"{name}\"\nversion = \"");
        lock.find(&key)
            .map(|i| {
                let rest = &lock[i + key.len()..];
                rest[..rest.find('"').unwrap_or(0)].to_string()
            })
            .unwrap_or_else(|| "?".into())
    };
    names
        .iter()
        .map(|n| format!("{n} {}", version(n)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Queues `n` tasks behind a blocked worker and returns the resident-memory growth per task.
/// `block` submits the given blocking closure; `submit` queues one empty task and returns its
/// handle; `finish` waits on a handle once the blocker is released.
fn measure_pending<H>(
    n: usize,
    block: impl FnOnce(Box<dyn FnOnce() + Send>),
    mut submit: impl FnMut() -> H,
    mut finish: impl FnMut(H),
) -> f64 {
    let (started_tx, started_rx) = bounded::<()>(1);
    let (release_tx, release_rx) = bounded::<()>(1);
    block(Box::new(move || {
        let _ = started_tx.send(());
        let _ = release_rx.recv_timeout(Duration::from_secs(300));
    }));
    started_rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the blocking task did not start");
    // Touch the handles' storage before the first reading, so that it is not counted.
    let mut handles: Vec<Option<H>> = Vec::new();
    handles.resize_with(n, || None);
    let before = rss_bytes();
    for slot in handles.iter_mut() {
        *slot = Some(submit());
    }
    let after = rss_bytes();
    release_tx.send(()).expect("release the blocking task");
    for h in handles.into_iter().flatten() {
        finish(h);
    }
    (after as f64 - before as f64) / n as f64
}

// ----- concurrent-futures ------------------------------------------------------------------

struct Ours(concurrent_futures::ThreadPoolExecutor);

impl Peer for Ours {
    fn batch(&self, n: usize) -> Duration {
        let mut futures = Vec::with_capacity(n);
        let t = Instant::now();
        for _ in 0..n {
            futures.push(self.0.submit(|| ()).expect("submit"));
        }
        for f in futures {
            f.result().expect("task result");
        }
        t.elapsed()
    }

    fn round_trips(&self, warmup: usize, iters: usize) -> Vec<f64> {
        time_each(warmup, iters, || {
            self.0
                .submit(|| ())
                .expect("submit")
                .result()
                .expect("task");
        })
    }

    fn pending_bytes(&self, n: usize) -> f64 {
        measure_pending(
            n,
            |b| drop(self.0.submit(b).expect("submit")),
            || self.0.submit(|| ()).expect("submit"),
            |f| f.result().expect("task result"),
        )
    }
}

// ----- rayon --------------------------------------------------------------------------------

struct Rayon(rayon::ThreadPool);

impl Peer for Rayon {
    fn batch(&self, n: usize) -> Duration {
        let t = Instant::now();
        self.0.scope(|s| {
            for _ in 0..n {
                s.spawn(|_| ());
            }
        });
        t.elapsed()
    }

    fn round_trips(&self, warmup: usize, iters: usize) -> Vec<f64> {
        time_each(warmup, iters, || self.0.install(|| ()))
    }

    /// The scope's closure runs on the pool's only worker, so every spawned job stays queued
    /// in its deque until the closure returns: no blocker needed.
    fn pending_bytes(&self, n: usize) -> f64 {
        let mut grew = 0;
        self.0.scope(|s| {
            let before = rss_bytes();
            for _ in 0..n {
                s.spawn(|_| ());
            }
            grew = rss_bytes() as i64 - before as i64;
        });
        grew as f64 / n as f64
    }
}

// ----- a minimal crossbeam-channel pool -----------------------------------------------------

type Job = Box<dyn FnOnce() + Send>;

/// `workers` threads pulling boxed closures from one unbounded crossbeam channel; each task
/// reports its result on a channel of its own (the `oneshot` crate: one small allocation, a
/// lock-free send, a parking receive).
struct CrossbeamPool {
    jobs: Option<Sender<Job>>,
    threads: Vec<JoinHandle<()>>,
}

impl CrossbeamPool {
    fn new(workers: usize) -> Self {
        let (tx, rx) = unbounded::<Job>();
        let threads = (0..workers)
            .map(|_| {
                let rx = rx.clone();
                std::thread::spawn(move || {
                    for job in rx {
                        job();
                    }
                })
            })
            .collect();
        CrossbeamPool {
            jobs: Some(tx),
            threads,
        }
    }

    fn submit<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> oneshot::Receiver<T> {
        let (tx, rx) = oneshot::channel();
        self.jobs
            .as_ref()
            .expect("pool is open")
            .send(Box::new(move || {
                let _ = tx.send(f());
            }))
            .expect("send job");
        rx
    }
}

impl Drop for CrossbeamPool {
    fn drop(&mut self) {
        self.jobs.take();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl Peer for CrossbeamPool {
    fn batch(&self, n: usize) -> Duration {
        let mut results = Vec::with_capacity(n);
        let t = Instant::now();
        for _ in 0..n {
            results.push(self.submit(|| ()));
        }
        for r in results {
            r.recv().expect("task result");
        }
        t.elapsed()
    }

    fn round_trips(&self, warmup: usize, iters: usize) -> Vec<f64> {
        time_each(warmup, iters, || self.submit(|| ()).recv().expect("task"))
    }

    fn pending_bytes(&self, n: usize) -> f64 {
        measure_pending(
            n,
            |b| drop(self.submit(b)),
            || self.submit(|| ()),
            |r| r.recv().expect("task result"),
        )
    }
}

// ----- threadpool ---------------------------------------------------------------------------

struct Threadpool(threadpool::ThreadPool);

impl Peer for Threadpool {
    fn batch(&self, n: usize) -> Duration {
        let (tx, rx) = mpsc::channel::<()>();
        let t = Instant::now();
        for _ in 0..n {
            let tx = tx.clone();
            self.0.execute(move || tx.send(()).expect("send result"));
        }
        for _ in 0..n {
            rx.recv().expect("task result");
        }
        t.elapsed()
    }

    fn round_trips(&self, warmup: usize, iters: usize) -> Vec<f64> {
        let (tx, rx) = mpsc::channel::<()>();
        time_each(warmup, iters, || {
            let tx = tx.clone();
            self.0.execute(move || tx.send(()).expect("send result"));
            rx.recv().expect("task result");
        })
    }

    fn pending_bytes(&self, n: usize) -> f64 {
        let (tx, rx) = mpsc::channel::<()>();
        measure_pending(
            n,
            |b| self.0.execute(b),
            || {
                let tx = tx.clone();
                self.0.execute(move || tx.send(()).expect("send result"));
            },
            |()| rx.recv().expect("task result"),
        )
    }
}

// ----- rusty_pool ---------------------------------------------------------------------------

struct RustyPool(rusty_pool::ThreadPool);

impl Peer for RustyPool {
    fn batch(&self, n: usize) -> Duration {
        let mut handles = Vec::with_capacity(n);
        let t = Instant::now();
        for _ in 0..n {
            handles.push(self.0.evaluate(|| ()));
        }
        for h in handles {
            h.await_complete();
        }
        t.elapsed()
    }

    fn round_trips(&self, warmup: usize, iters: usize) -> Vec<f64> {
        time_each(warmup, iters, || self.0.evaluate(|| ()).await_complete())
    }

    fn pending_bytes(&self, n: usize) -> f64 {
        measure_pending(
            n,
            |b| self.0.execute(b),
            || self.0.evaluate(|| ()),
            |h| h.await_complete(),
        )
    }
}

// ----- tokio --------------------------------------------------------------------------------

struct Tokio(tokio::runtime::Runtime);

impl Peer for Tokio {
    fn batch(&self, n: usize) -> Duration {
        self.0.block_on(async {
            let mut handles = Vec::with_capacity(n);
            let t = Instant::now();
            for _ in 0..n {
                handles.push(tokio::task::spawn_blocking(|| ()));
            }
            for h in handles {
                h.await.expect("task result");
            }
            t.elapsed()
        })
    }

    fn round_trips(&self, warmup: usize, iters: usize) -> Vec<f64> {
        self.0.block_on(async {
            for _ in 0..warmup {
                tokio::task::spawn_blocking(|| ()).await.expect("task");
            }
            let mut out = Vec::with_capacity(iters);
            for _ in 0..iters {
                let t = Instant::now();
                tokio::task::spawn_blocking(|| ()).await.expect("task");
                out.push(t.elapsed().as_nanos() as f64);
            }
            out
        })
    }

    fn pending_bytes(&self, n: usize) -> f64 {
        let _context = self.0.enter();
        measure_pending(
            n,
            |b| drop(tokio::task::spawn_blocking(b)),
            || tokio::task::spawn_blocking(|| ()),
            |h| self.0.block_on(h).expect("task result"),
        )
    }
}
