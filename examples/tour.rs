//! A tour of the crate: each usage pattern of Python's `concurrent.futures`, briefly, then what
//! Rust adds. Every section has a runnable example of its own with more detail (see the README).
//!
//! ```python
//! with ThreadPoolExecutor(10) as executor:
//!     futures = [executor.submit(task, i) for i in range(10)]
//!     for future in as_completed(futures):
//!         print(future.result())
//! ```
//!
//! Run: `cargo run --release --example tour` (a few seconds).

use std::collections::HashMap;
use std::error::Error;
use std::sync::{mpsc, Arc};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, sleep};
use std::time::{Duration, Instant};

#[cfg(any(unix, windows))]
use concurrent_futures::ProcessPoolExecutor;
use concurrent_futures::{
    as_completed, register, wait, AnyExecutor, Engine, Executor, Future, MapOptions, ReturnWhen,
    ThreadPoolExecutor,
};
use rand::random;

/// The stand-in task: sleeps a random time under 0.1 s, returns its input.
fn task(name: u32) -> u32 {
    sleep(Duration::from_secs_f64(random::<f64>() * 0.1));
    name
}

fn heading(title: &str) {
    println!("\n-- {title}");
}

/// Prints items on one line: `label: a b c`.
fn line(label: &str, items: impl IntoIterator<Item = impl std::fmt::Display>) {
    let items: Vec<String> = items.into_iter().map(|i| i.to_string()).collect();
    println!("{label}: {}", items.join(" "));
}

fn main() -> Result<(), Box<dyn Error>> {
    let start = Instant::now();
    println!("concurrent_futures: Python's concurrent.futures, in Rust");
    python_patterns()?;
    beyond_python()?;
    #[cfg(any(unix, windows))] // where the process engine runs
    processes()?;
    engine_from_flag()?;
    println!("\ntour finished in {:.2?}", start.elapsed());
    Ok(())
}

fn python_patterns() -> Result<(), Box<dyn Error>> {
    heading("1. submit returns a Future at once; result() blocks until the value is there");
    {
        let executor = ThreadPoolExecutor::with_max_workers(5)?;
        let future = executor.submit(|| {
            sleep(Duration::from_millis(100));
            "Completed"
        })?;
        println!("done: {}", future.done());
        println!("result: {}", future.result()?);
    } // leaving the block shuts the pool down and waits: Python's `with`

    heading("2. map and wait: results in input order (two inputs: zip them)");
    {
        let executor = ThreadPoolExecutor::with_max_workers(10)?;
        let results = executor.map(task, 0..10).collect::<Result<Vec<_>, _>>()?;
        line("map", results);
        let pairs = ["1", "2", "3"].into_iter().zip(["a", "b", "c"]);
        let results = executor.map(|(a, b)| format!("{a}{b}"), pairs);
        line("map over zip", results.collect::<Result<Vec<_>, _>>()?);
    }

    heading("3. submit, then as_completed: results in completion order");
    {
        let executor = ThreadPoolExecutor::with_max_workers(10)?;
        let futures = (0..10)
            .map(|i| executor.submit(move || task(i)))
            .collect::<Result<Vec<_>, _>>()?;
        let mut order = Vec::new();
        for future in as_completed(futures) {
            order.push(future.result()?);
        }
        line("as completed", order);
    }

    heading("4. submit, then walk the futures: results in submission order");
    {
        let executor = ThreadPoolExecutor::with_max_workers(10)?;
        let futures = (0..10)
            .map(|i| executor.submit(move || task(i)))
            .collect::<Result<Vec<_>, _>>()?;
        let results = futures.into_iter().map(Future::result);
        line("in order", results.collect::<Result<Vec<_>, _>>()?);
    }

    heading("5. done-callbacks: two per future, run in the order they were added");
    {
        let executor = ThreadPoolExecutor::with_max_workers(10)?;
        for i in 0..4 {
            let future = executor.submit(move || task(i))?;
            future.add_done_callback(|f| f.with_result(|r| println!("Callback 1: {}", r.unwrap())));
            future.add_done_callback(|f| f.with_result(|r| println!("Callback 2: {}", r.unwrap())));
        }
    }

    heading("6. wait for all: wait(.., AllCompleted), or shut the pool down");
    {
        let executor = ThreadPoolExecutor::with_max_workers(10)?;
        let futures = (0..10)
            .map(|i| executor.submit(move || task(i)))
            .collect::<Result<Vec<_>, _>>()?;
        let sets = wait(&futures, None, ReturnWhen::AllCompleted);
        println!(
            "wait: {} done, {} not done",
            sets.done.len(),
            sets.not_done.len()
        );
        let _more = (0..10)
            .map(|i| executor.submit(move || task(i)))
            .collect::<Result<Vec<_>, _>>()?;
        executor.shutdown(true, false);
        println!("shutdown(wait = true): all tasks are done");
    }

    heading("7. wait for the first, then shutdown(wait = false, cancel_futures = true)");
    {
        let executor = ThreadPoolExecutor::with_max_workers(10)?;
        let futures = (0..20)
            .map(|i| executor.submit(move || task(i)))
            .collect::<Result<Vec<_>, _>>()?;
        let mut sets = wait(futures, None, ReturnWhen::FirstCompleted);
        println!("first: {}", sets.done.pop().expect("one is done").result()?);
        executor.shutdown(false, true);
        let cancelled = sets.not_done.iter().filter(|f| f.cancelled()).count();
        println!("{cancelled} queued tasks cancelled; the running ones finish in the background");
    }

    heading("8. fan-out with a future -> url map; one load fails");
    {
        fn load_url(url: &str) -> Result<usize, String> {
            sleep(Duration::from_millis(url.len() as u64 * 3));
            match url {
                "http://some-made-up-domain.com/" => Err("name or service not known".into()),
                _ => Ok(url.len() * 1000),
            }
        }
        let executor = ThreadPoolExecutor::with_max_workers(5)?;
        let mut future_to_url = HashMap::new();
        for url in [
            "http://www.cnn.com/",
            "http://www.bbc.co.uk/",
            "http://some-made-up-domain.com/",
        ] {
            future_to_url.insert(executor.submit(move || load_url(url))?, url);
        }
        for (future, url) in as_completed(future_to_url) {
            match future.result()? {
                Ok(bytes) => println!("{url:?} page is {bytes} bytes"),
                Err(exc) => println!("{url:?} generated an exception: {exc}"),
            }
        }
    }

    heading("9. pitfall: tiny tasks cost more to hand over than to run");
    {
        let data: Vec<u64> = (0..100).collect();
        for workers in [100, 4] {
            let start = Instant::now();
            let executor = ThreadPoolExecutor::with_max_workers(workers)?;
            let results = executor.map(|n: u64| n * 2, data.clone());
            let results = results.collect::<Result<Vec<_>, _>>()?;
            drop(executor);
            println!(
                "{workers} workers: {:.1?} ({} results)",
                start.elapsed(),
                results.len()
            );
        }
        let start = Instant::now();
        let results: Vec<u64> = std::hint::black_box(&data).iter().map(|n| n * 2).collect();
        println!(
            "sequential: {:.1?} ({} results)",
            start.elapsed(),
            results.len()
        );
    }
    Ok(())
}

fn beyond_python() -> Result<(), Box<dyn Error>> {
    println!("\n== Beyond Python ==");

    heading("a panic is a value in its future; the worker carries on");
    {
        let executor = ThreadPoolExecutor::with_max_workers(1)?;
        // The default hook would also print the panic on stderr; the future carries it anyway.
        let default_hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        let failed = executor
            .submit(|| -> u32 { panic!("Number 3 is unlucky!") })?
            .result();
        std::panic::set_hook(default_hook);
        let err = failed.expect_err("the task panicked");
        println!("is_panic: {}, message: {}", err.is_panic(), err);
        println!(
            "same worker, next task: {}",
            executor.submit(|| 6 * 7)?.result()?
        );
    }

    heading("nested waits: a task may wait on a task of its own full pool");
    {
        let executor = Arc::new(ThreadPoolExecutor::with_max_workers(1)?);
        let inner_pool = Arc::clone(&executor);
        let outer = executor.submit(move || {
            // The only worker is busy running this task; Python deadlocks here.
            let inner = inner_pool.submit(|| 21).expect("the pool is open");
            inner.result().expect("the inner task ran") * 2
        })?;
        println!("outer = {}", outer.result()?);
    }

    heading("map is lazy with a bounded buffer: an endless input is fine");
    {
        let executor = ThreadPoolExecutor::with_max_workers(3)?;
        let squares = executor.map(|n: u64| n * n, 2..).take(4);
        line("squares of 2..", squares.collect::<Result<Vec<_>, _>>()?);
    }

    heading("a cancelled future is done at once, for every waiter");
    {
        let executor = ThreadPoolExecutor::with_max_workers(1)?;
        let (release, gate) = mpsc::channel::<()>();
        let busy = executor.submit(move || gate.recv().is_ok())?;
        let queued = executor.submit(|| "never runs")?;
        println!("cancel(): {}", queued.cancel());
        let start = Instant::now();
        let sets = wait(
            [&queued],
            Some(Duration::from_secs(10)),
            ReturnWhen::AllCompleted,
        );
        println!(
            "wait() returned after {:.1?} with {} done, while the worker is still busy",
            start.elapsed(),
            sets.done.len()
        );
        release.send(())?;
        busy.wait();
    }

    heading("futures can be .await-ed (here with a ten-line block_on)");
    {
        let executor = ThreadPoolExecutor::new();
        let a = executor.submit(|| task(20))?;
        let b = executor.submit(|| task(22))?;
        let sum = block_on(async { Ok::<_, Box<dyn Error>>(a.await? + b.await?) })?;
        println!("a + b = {sum}");
    }

    heading("scoped tasks may borrow from the caller's stack");
    {
        let executor = ThreadPoolExecutor::new();
        let words = vec!["threads", "processes", "futures"];
        let total: usize = executor.scope(|s| {
            let futures: Vec<_> = words
                .iter()
                .map(|w| s.submit(|| w.len()).unwrap())
                .collect();
            futures.into_iter().map(|f| f.result().unwrap()).sum()
        });
        println!("letters in {words:?}: {total}");
    }

    heading("one Executor trait over plain fn(A) -> R tasks, the shape every engine takes");
    {
        fn square(n: u64) -> u64 {
            n * n
        }
        fn sum_of_squares(executor: &impl Executor) -> u64 {
            executor.map(square, 1..=10).map(Result::unwrap).sum()
        }
        println!(
            "sum of squares 1..=10: {}",
            sum_of_squares(&ThreadPoolExecutor::new())
        );
    }
    Ok(())
}

/// Drives one `std::future::Future` to completion on this thread (any async runtime would do).
fn block_on<F: std::future::Future>(future: F) -> F::Output {
    struct Unpark(thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        match future.as_mut().poll(&mut cx) {
            Poll::Ready(output) => return output,
            Poll::Pending => thread::park(),
        }
    }
}

/// CPU-bound work for the process pool: counts the primes in `[lo, hi)`.
fn count_primes((lo, hi): (u64, u64)) -> usize {
    (lo..hi)
        .filter(|&n| n > 1 && (2..).take_while(|d| d * d <= n).all(|d| n % d != 0))
        .count()
}

/// A task that crashes its worker process.
#[cfg(any(unix, windows))]
fn crash(code: i32) -> u64 {
    std::process::exit(code)
}

/// Reports which process ran it.
#[cfg(any(unix, windows))]
fn whoami(_: ()) -> u32 {
    std::process::id()
}

register!(count_primes);
#[cfg(any(unix, windows))]
register!(crash, whoami);

#[cfg(any(unix, windows))]
fn processes() -> Result<(), Box<dyn Error>> {
    heading("Processes: the same API over worker processes (register! makes a fn runnable there)");
    let pool = ProcessPoolExecutor::with_max_workers(2)?;
    let ranges = (0..20u64).map(|i| (i * 10_000, (i + 1) * 10_000));
    let t = Instant::now();
    let total: usize = pool
        .map_with(count_primes, ranges, MapOptions::new().chunksize(5))
        .map(|r| r.expect("count_primes does not fail"))
        .sum();
    println!("primes below 200,000: {total} (in {:.1?})", t.elapsed());

    let me = std::process::id();
    let worker = pool.submit_fn(whoami, ())?.result()?;
    println!("this process: {me}, a worker: {worker}");

    heading("A crash stays local: one task exits its worker, the others still arrive");
    let crashed = pool.submit_fn(crash, 3)?;
    let fine: Vec<_> = (0..4u64)
        .map(|i| pool.submit_fn(count_primes, (0, 100 * (i + 1))))
        .collect::<Result<_, _>>()?;
    println!("crashed task: {}", crashed.result().unwrap_err());
    let counts = fine
        .into_iter()
        .map(|f| f.result())
        .collect::<Result<Vec<_>, _>>()?;
    line("other results", counts);
    Ok(())
}

/// The engine from `--engine threads|processes` (when not given: processes, or threads where
/// there is no process engine).
fn engine_flag() -> Result<Engine, Box<dyn Error>> {
    let args: Vec<String> = std::env::args().collect();
    match args.iter().position(|a| a == "--engine") {
        Some(i) => Ok(args.get(i + 1).ok_or("--engine needs a value")?.parse()?),
        None if cfg!(any(unix, windows)) => Ok(Engine::Processes),
        None => Ok(Engine::Threads),
    }
}

fn engine_from_flag() -> Result<(), Box<dyn Error>> {
    heading("One engine chosen at run time: --engine threads|processes (AnyExecutor)");
    // The code below is the same whichever engine runs it.
    fn total(pool: &impl Executor) -> usize {
        let ranges = (0..8u64).map(|i| (i * 10_000, (i + 1) * 10_000));
        pool.map_with(count_primes, ranges, MapOptions::new().chunksize(4))
            .map(|r| r.expect("count_primes does not fail"))
            .sum()
    }
    let pool = AnyExecutor::new(engine_flag()?, Some(2))?;
    println!("primes below 80,000 on {}: {}", pool.engine(), total(&pool));
    // Every engine keeps cheap counters (tokio's RuntimeMetrics is the model).
    let s = pool.stats();
    println!(
        "stats: {} submitted, {} completed, {} failed, {} workers alive, busy {:.1?}",
        s.submitted, s.completed, s.failed, s.workers_alive, s.busy
    );
    Ok(())
}
