//! The `futures` feature: `as_completed` and `map_unordered` as `Stream`s, woken by
//! completions (a poll count far below a busy loop's shows no polling), and `shutdown_async`
//! awaited. A `block_on` of a few lines drives them: no runtime needed.
#![cfg(all(any(unix, windows), feature = "futures", feature = "process"))]

use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use concurrent_futures::{
    as_completed, register, Executor, ProcessPoolExecutor, ThreadPoolExecutor,
};
use futures_core::Stream;

const LIMIT: Duration = Duration::from_secs(60);

struct Unpark(std::thread::Thread);
impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// Collects a stream on this thread, parking between polls; returns the items and how many
/// times it polled. Panics past `LIMIT`.
fn collect<S: Stream + Unpin>(mut s: S) -> (Vec<S::Item>, usize) {
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let start = std::time::Instant::now();
    let (mut items, mut polls) = (Vec::new(), 0);
    loop {
        polls += 1;
        match Pin::new(&mut s).poll_next(&mut cx) {
            Poll::Ready(Some(x)) => items.push(x),
            Poll::Ready(None) => return (items, polls),
            Poll::Pending => {
                assert!(start.elapsed() < LIMIT, "the stream was never woken");
                std::thread::park_timeout(LIMIT);
            }
        }
    }
}

fn block_on<F: std::future::Future + Unpin>(mut f: F) -> F::Output {
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let start = std::time::Instant::now();
    loop {
        if let Poll::Ready(v) = Pin::new(&mut f).poll(&mut cx) {
            return v;
        }
        assert!(start.elapsed() < LIMIT, "the future was never woken");
        std::thread::park_timeout(LIMIT);
    }
}

#[test]
fn as_completed_is_a_stream_woken_by_completions() {
    let pool = ThreadPoolExecutor::with_max_workers(4).unwrap();
    let (tx, rx) = mpsc::channel::<()>();
    let rx = Arc::new(std::sync::Mutex::new(rx));
    let futures: Vec<_> = (0..4u32)
        .map(|i| {
            let rx = rx.clone();
            pool.submit(move || {
                rx.lock().unwrap().recv_timeout(LIMIT).unwrap();
                i
            })
            .unwrap()
        })
        .collect();
    let released = Arc::new(AtomicUsize::new(0));
    let feeder = {
        let released = released.clone();
        std::thread::spawn(move || {
            for _ in 0..4 {
                std::thread::sleep(Duration::from_millis(20)); // paces the releases only
                released.fetch_add(1, Ordering::SeqCst);
                tx.send(()).unwrap();
            }
        })
    };
    let (done, polls) = collect(as_completed(futures));
    feeder.join().unwrap();
    let mut got: Vec<u32> = done.into_iter().map(|f| f.result().unwrap()).collect();
    got.sort();
    assert_eq!(got, [0, 1, 2, 3]);
    // Woken once per completion (and spuriously now and then by park), not polled in a loop.
    assert!(polls <= 4 * 4 + 2, "{polls} polls for 4 completions");
}

fn triple(x: u64) -> u64 {
    x * 3
}
register!(triple);

#[test]
fn map_unordered_is_a_stream_with_every_result() {
    let pool = ProcessPoolExecutor::with_max_workers(2).unwrap();
    let (items, _) = collect(pool.map_unordered(triple, 0..50u64));
    let mut got: Vec<u64> = items.into_iter().map(Result::unwrap).collect();
    got.sort();
    assert_eq!(got, (0..50).map(|x| x * 3).collect::<Vec<_>>());
}

#[test]
fn shutdown_async_is_awaited_without_blocking() {
    let pool = ProcessPoolExecutor::with_max_workers(1).unwrap();
    let f = pool.submit_fn(triple, 5).unwrap();
    let done = Executor::shutdown_async(&pool, false);
    assert_eq!(block_on(done), Ok(()));
    assert!(f.done());
    assert_eq!(f.result(), Ok(15));
}
