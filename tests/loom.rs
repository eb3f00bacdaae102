//! Model checks of the races at the heart of the crate, run through the public API under `loom`,
//! which explores every interleaving of the crate's atomics, locks, condition variables and
//! park/unpark calls (up to a bound on preemptions).
//!
//! ```text
//! RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test --release --test loom
//! ```
//!
//! (`scripts/loom.sh` runs exactly that.) Under `--cfg loom`, `src/sync.rs` swaps the crate's
//! primitives for loom's, worker threads are loom threads, and the waits that would spin or time
//! out go straight to parking. A lost wake-up shows up as loom reporting a deadlock (every thread
//! blocked, the model not finished); a broken invariant as a failed assertion, with the
//! interleaving that led to it printed by loom when `LOOM_LOG=1 LOOM_LOCATION=1` are set.
//!
//! Counters used only for assertions are std atomics: they are not part of the protocol under
//! test, so they need not add branch points.
#![cfg(loom)]

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;

use concurrent_futures::{
    as_completed, wait, FutureState, Promise, ReturnWhen, TaskError, ThreadPoolExecutor,
};
use loom::thread;

/// Runs `f` under loom, bounding preemptions to 2 unless `LOOM_MAX_PREEMPTIONS` says otherwise,
/// and reports how many executions were explored (visible with `--nocapture`).
fn model(f: impl Fn() + Send + Sync + 'static) {
    model_bounded(usize::MAX, f)
}

/// A model with at most `cap` preemptions, and at most what `LOOM_MAX_PREEMPTIONS` says (2 if
/// it says nothing).
fn model_bounded(cap: usize, f: impl Fn() + Send + Sync + 'static) {
    let mut b = loom::model::Builder::new();
    // The future's cell lock spins (yielding) while another thread holds it: each spin is a
    // branch, more than loom's default allows for a path.
    b.max_branches = 20_000;
    b.preemption_bound = Some(b.preemption_bound.unwrap_or(2).min(cap));
    let runs = Arc::new(AtomicUsize::new(0));
    let r = runs.clone();
    b.check(move || {
        r.fetch_add(1, SeqCst);
        f()
    });
    let name = std::thread::current().name().unwrap_or("model").to_owned();
    println!("{name}: {} executions explored", runs.load(SeqCst));
}

fn pool(max_workers: usize) -> ThreadPoolExecutor {
    ThreadPoolExecutor::with_max_workers(max_workers).unwrap()
}

/// Polls `fut` to completion on this loom thread, parking between polls; the waker unparks it.
fn block_on<F: std::future::Future>(fut: F) -> F::Output {
    struct Unpark(thread::Thread);
    impl std::task::Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = std::task::Waker::from(Arc::new(Unpark(thread::current())));
    let mut cx = std::task::Context::from_waker(&waker);
    let mut fut = std::pin::pin!(fut);
    loop {
        if let std::task::Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
        thread::park();
    }
}

/// Counts its drops: put one in a closure to count how often the closure is dropped.
struct DropCount(Arc<AtomicUsize>);

impl Drop for DropCount {
    fn drop(&mut self) {
        self.0.fetch_add(1, SeqCst);
    }
}

/// A closure that counts its runs in `ran` and its drops in `dropped`, returning 7.
fn counted(ran: &Arc<AtomicUsize>, dropped: &Arc<AtomicUsize>) -> impl FnOnce() -> u32 + Send {
    let ran = ran.clone();
    let guard = DropCount(dropped.clone());
    move || {
        let _guard = guard;
        ran.fetch_add(1, SeqCst);
        7
    }
}

// ----- (a) cancel vs run -------------------------------------------------------------------------

/// A future cancelled while the pool's only worker tries to start it.
///
/// Exactly one side wins the `PENDING` CAS: either `cancel()` returns `true`, the future ends
/// `Cancelled` and the closure never runs, or `cancel()` returns `false`, the future ends
/// `Finished` with the closure's value and the closure ran once. Either way the closure is
/// dropped exactly once. A failure looks like: `cancel()` true but the closure ran (the worker
/// took the closure after a cancellation), a closure run or dropped twice (two threads touched
/// the `UnsafeCell` slot), or no drop at all (a leaked task).
#[test]
fn cancel_vs_run() {
    model(|| {
        let ran = Arc::new(AtomicUsize::new(0));
        let dropped = Arc::new(AtomicUsize::new(0));
        let pool = pool(1);
        let f = pool.submit(counted(&ran, &dropped)).unwrap();
        let cancelled = f.cancel();
        assert!(f.done() || !cancelled);
        drop(pool); // shutdown(wait = true)
        assert!(f.done());
        let state = f.state();
        match f.result() {
            Ok(v) => {
                assert_eq!(v, 7);
                assert!(!cancelled, "cancel() reported success but the task ran");
                assert_eq!(state, FutureState::Finished);
                assert_eq!(ran.load(SeqCst), 1);
            }
            Err(e) => {
                assert!(e.is_cancelled(), "unexpected error {e}");
                assert!(cancelled, "cancelled without cancel() saying so");
                assert_eq!(state, FutureState::Cancelled);
                assert_eq!(ran.load(SeqCst), 0, "a cancelled task ran");
            }
        }
        assert_eq!(
            dropped.load(SeqCst),
            1,
            "the closure was not dropped exactly once"
        );
    });
}

/// Cancel vs run with a third party blocked on the result: a thread parked in `result()` is
/// woken whichever of the canceller and the worker wins. A failure looks like a loom deadlock
/// (the waiter parked forever) or an outcome that contradicts `cancel()`'s answer.
#[test]
fn cancel_vs_run_with_blocked_waiter() {
    model(|| {
        let ran = Arc::new(AtomicUsize::new(0));
        let dropped = Arc::new(AtomicUsize::new(0));
        let pool = pool(1);
        let f = Arc::new(pool.submit(counted(&ran, &dropped)).unwrap());
        let f2 = f.clone();
        let canceller = thread::spawn(move || f2.cancel());
        f.wait();
        assert!(f.done());
        let cancelled = canceller.join().unwrap();
        assert_eq!(f.cancelled(), cancelled);
        drop(pool);
        assert_eq!(ran.load(SeqCst), usize::from(!cancelled));
        assert_eq!(dropped.load(SeqCst), 1);
    });
}

// ----- (b) completion vs waiter registration ------------------------------------------------------

/// A thread blocked in `result()` while another completes the future through a [`Promise`].
/// The waiter registers under the future's lock and re-checks the state; the completer drains
/// the waiter list under the same lock. A lost wake-up shows up as a loom deadlock (the waiter
/// parked, the completer gone).
#[test]
fn result_vs_set_result() {
    model(|| {
        let (p, f) = Promise::new();
        let completer = thread::spawn(move || p.set_result(5u32).unwrap());
        assert_eq!(f.result(), Ok(5));
        completer.join().unwrap();
    });
}

/// Two waiters (one in `wait()`, one in `result()`) and a completer: both waiters are woken.
/// A failure is a loom deadlock.
#[test]
fn two_waiters_vs_completion() {
    // One preemption: with two, loom explores schedules in which the two waiters, both spinning
    // on the future's lock while the completer holds it, yield to each other for ever and the
    // completer never runs again (a yield lets loom pick any thread without counting a
    // preemption), which no fair scheduler does. Every schedule with one preemption — the
    // completer stopped anywhere, the waiters interleaved freely around it — is explored.
    model_bounded(1, || {
        let (p, f) = Promise::new();
        let f = Arc::new(f);
        let f2 = f.clone();
        let waiter = thread::spawn(move || {
            f2.wait();
            assert!(f2.done());
        });
        let completer = thread::spawn(move || p.set_result(5u32).unwrap());
        f.wait();
        waiter.join().unwrap();
        completer.join().unwrap();
        let f = Arc::try_unwrap(f).unwrap_or_else(|_| panic!("future still shared"));
        assert_eq!(f.result(), Ok(5));
    });
}

/// A [`Promise`] dropped without a result while a thread waits on its future: the waiter is
/// woken with `BrokenExecutor`. A failure is a loom deadlock.
#[test]
fn dropped_promise_wakes_waiter() {
    model(|| {
        let (p, f) = Promise::<u32>::new();
        let dropper = thread::spawn(move || drop(p));
        assert!(f.result().unwrap_err().is_broken());
        dropper.join().unwrap();
    });
}

/// A done-callback registered while another thread completes the future runs exactly once —
/// on the completer (registered first) or at once on the registering thread (completion
/// first) — and sees the finished outcome. A failure looks like a count of 0 (the callback was
/// added to a list that had already been drained) or 2, or a callback seeing an unfinished
/// future.
#[test]
fn callback_vs_completion() {
    model(|| {
        let calls = Arc::new(AtomicUsize::new(0));
        let (p, f) = Promise::new();
        let completer = thread::spawn(move || p.set_result(5u32).unwrap());
        let c = calls.clone();
        f.add_done_callback(move |f| {
            assert_eq!(f.state(), FutureState::Finished);
            assert_eq!(f.with_result(|r| r.ok().copied()), Some(5));
            c.fetch_add(1, SeqCst);
        });
        completer.join().unwrap();
        assert_eq!(
            calls.load(SeqCst),
            1,
            "the callback did not run exactly once"
        );
    });
}

/// The future's state word is also its lock, and starting does not wait for the lock: a
/// producer starting and completing the future, a canceller, and a callback being registered
/// (the lock held) all race. Exactly one of "cancelled" and "finished with the value" happens,
/// the producer learns which, the callback runs once and sees it, and the start made while the
/// lock was held is not lost when the lock is released. A failure is a count other than 1, a
/// mismatch between the two sides, or a loom deadlock (a start lost: `complete` finds the
/// future still pending).
#[test]
fn start_and_cancel_vs_registration() {
    model(|| {
        let calls = Arc::new(AtomicUsize::new(0));
        let (p, f) = Promise::new();
        let f = Arc::new(f);
        let producer = thread::spawn(move || match p.set_running_or_notify_cancel() {
            Ok(true) => {
                p.set_result(7u32).unwrap();
                true
            }
            Ok(false) => false,
            Err(e) => panic!("{e}"),
        });
        let f2 = f.clone();
        let canceller = thread::spawn(move || f2.cancel());
        let c = calls.clone();
        f.add_done_callback(move |f| {
            assert!(f.done());
            c.fetch_add(1, SeqCst);
        });
        let produced = producer.join().unwrap();
        let cancelled = canceller.join().unwrap();
        assert_ne!(produced, cancelled, "both or neither won the future");
        assert_eq!(
            calls.load(SeqCst),
            1,
            "the callback did not run exactly once"
        );
        let f = Arc::try_unwrap(f).unwrap_or_else(|_| panic!("future still shared"));
        match f.result() {
            Ok(v) => assert!(produced && v == 7),
            Err(e) => assert!(cancelled && e.is_cancelled()),
        }
    });
}

/// An `.await` racing completion by a pool worker: the waker registered by `poll` is always
/// woken. A failure is a loom deadlock in `block_on`.
#[test]
fn await_vs_completion() {
    model(|| {
        let pool = pool(1);
        let f = pool.submit(|| 3u8).unwrap();
        assert_eq!(block_on(f), Ok(3));
    });
}

// ----- (c) submit vs shutdown ---------------------------------------------------------------------

/// A submit racing `shutdown(wait = true)` on another thread. Either the submit is refused with
/// `SubmitError::Shutdown` and the closure comes back intact, or it is admitted and then its
/// future must be finished by the time `shutdown(wait = true)` returns — the task was admitted
/// before the gate closed, so shutdown must wait for it. A failure looks like a loom deadlock
/// (a worker that never exits, a shutdown that never returns), a future still pending after
/// `shutdown(wait = true)` returned, or a refused closure that was lost.
///
/// The interleaving this model caught (fixed in `Pool::join_all`): the submitter is admitted;
/// `shutdown` closes the gate and finds the handle list empty; the submitter pushes the job,
/// spawns the first worker, records its handle and leaves the gate; `shutdown` then sees a
/// closed, quiet gate and returned without joining the new worker, its task still pending.
#[test]
fn submit_vs_shutdown() {
    model(|| {
        let pool = Arc::new(pool(1));
        let p = pool.clone();
        let shutter = thread::spawn(move || p.shutdown(true, false));
        let admitted = match pool.submit(|| 7u32) {
            Ok(f) => Some(f),
            Err(e) => {
                assert!(e.is_shutdown(), "refused for another reason: {e:?}");
                assert_eq!(
                    (e.into_inner())(),
                    7,
                    "the refused closure was not handed back"
                );
                None
            }
        };
        shutter.join().unwrap();
        if let Some(f) = admitted {
            assert!(
                f.done(),
                "shutdown(wait = true) returned while an admitted task was {:?}",
                f.state()
            );
            assert_eq!(f.result(), Ok(7));
        }
        assert!(pool.submit(|| 0u32).unwrap_err().is_shutdown());
    });
}

/// Two threads call `shutdown(wait = true)` while a task is queued: each call returns only once
/// the task has finished (shutdown is idempotent, and waiting means waiting whoever else is
/// also shutting down). A failure looks like either caller seeing the task unfinished after its
/// own `shutdown` returned.
#[test]
fn concurrent_shutdowns_both_wait() {
    model(|| {
        let pool = Arc::new(pool(1));
        let f = Arc::new(pool.submit(|| 7u32).unwrap());
        let (p, f2) = (pool.clone(), f.clone());
        let other = thread::spawn(move || {
            p.shutdown(true, false);
            f2.state()
        });
        pool.shutdown(true, false);
        assert_eq!(f.state(), FutureState::Finished);
        let seen_by_other = other.join().unwrap();
        assert_eq!(
            seen_by_other,
            FutureState::Finished,
            "a concurrent shutdown(wait = true) returned before the task finished"
        );
    });
}

/// A submit racing `shutdown(wait = true, cancel_futures = true)`: the submit is refused, or its
/// future ends finished or cancelled — never pending — and the closure is dropped exactly once.
#[test]
fn submit_vs_shutdown_cancelling() {
    model(|| {
        let ran = Arc::new(AtomicUsize::new(0));
        let dropped = Arc::new(AtomicUsize::new(0));
        let pool = Arc::new(pool(1));
        let p = pool.clone();
        let task = counted(&ran, &dropped);
        let submitter = thread::spawn(move || match p.submit(task) {
            Ok(f) => Some(f),
            Err(e) => {
                assert!(e.is_shutdown());
                drop(e.into_inner());
                None
            }
        });
        pool.shutdown(true, true);
        let admitted = submitter.join().unwrap();
        drop(pool);
        if let Some(f) = admitted {
            assert!(f.done(), "left {:?} after shutdown", f.state());
            match f.result() {
                Ok(7) => assert_eq!(ran.load(SeqCst), 1),
                Err(TaskError::Cancelled) => assert_eq!(ran.load(SeqCst), 0),
                other => panic!("unexpected outcome {other:?}"),
            }
        } else {
            assert_eq!(ran.load(SeqCst), 0);
        }
        assert_eq!(dropped.load(SeqCst), 1);
    });
}

// ----- (d) queue hand-off and the sleep protocol --------------------------------------------------

/// A job pushed while the only worker, having finished the previous job, heads for sleep: it
/// counts itself idle, finds the queue empty, increments `sleeping` and waits on the condvar.
/// The submitter pushes, fences and reads `sleeping`. The job is always run. A failure is a loom
/// deadlock (the worker asleep on a non-empty queue, the caller parked in `result()`).
#[test]
fn push_vs_worker_going_to_sleep() {
    model(|| {
        let pool = pool(1);
        assert_eq!(pool.submit(|| 1u8).unwrap().result(), Ok(1));
        assert_eq!(pool.submit(|| 2u8).unwrap().result(), Ok(2));
    });
}

/// Sequential submit → result on a two-worker pool reuses the idle worker: the worker counts
/// itself idle before completing the future, so the next submit claims it instead of spawning.
/// The second task blocks until the thread count was checked, so a second thread, if any, is
/// seen. A failure is a deadlock, or `thread_count() == 2`.
///
/// The interleaving this model caught (fixed in `Pool::push`): the submitter pushed the job
/// first and claimed an idle worker after; in between, the worker — still awake — popped the
/// job and took back its own idle mark, so the claim failed and a second thread was spawned
/// for nothing. With real threads this happened in about a third of the runs of 200 sequential
/// submit → result calls on a 4-worker pool.
#[test]
fn idle_worker_is_claimed_not_duplicated() {
    model(|| {
        let pool = pool(2);
        assert_eq!(pool.submit(|| 1u8).unwrap().result(), Ok(1));
        let (open, gate) = Promise::<()>::new();
        let second = pool.submit(move || gate.result().is_ok()).unwrap();
        assert_eq!(pool.thread_count(), 1, "an idle worker was not reused");
        open.set_result(()).unwrap();
        assert_eq!(second.result(), Ok(true));
    });
}

/// Two threads submit concurrently to a one-worker pool: both jobs run, whatever the worker was
/// doing when each was pushed. A failure is a loom deadlock.
#[test]
fn concurrent_pushes_one_worker() {
    model(|| {
        let pool = Arc::new(pool(1));
        let p = pool.clone();
        let other = thread::spawn(move || p.submit(|| 2u8).unwrap().result());
        assert_eq!(pool.submit(|| 1u8).unwrap().result(), Ok(1));
        assert_eq!(other.join().unwrap(), Ok(2));
    });
}

/// A bounded queue (`max_queued(1)`) on a one-worker pool: three back-to-back submits, the later
/// ones blocking for space until the worker pops. The submitter registers in `blocked` and
/// re-checks the count under `space_lock`; the worker decrements the count, fences and reads
/// `blocked`. A failure is a loom deadlock (the submitter blocked on a queue with space).
#[test]
fn bounded_queue_blocked_submit_is_woken() {
    model(|| {
        let pool = ThreadPoolExecutor::builder()
            .max_workers(1)
            .max_queued(1)
            .build()
            .unwrap();
        let fs: Vec<_> = (0..3u8).map(|i| pool.submit(move || i).unwrap()).collect();
        let got: Vec<_> = fs.into_iter().map(|f| f.result().unwrap()).collect();
        assert_eq!(got, [0, 1, 2]);
    });
}

/// A task on a one-worker pool with `max_queued(1)` submits two subtasks to its own pool and
/// waits for both. The second submit finds the queue full; the worker must not block on its own
/// queue, so it runs the queued subtask instead, freeing the slot. A failure is a loom deadlock.
#[test]
fn nested_submit_to_own_full_queue() {
    model(|| {
        let pool = Arc::new(
            ThreadPoolExecutor::builder()
                .max_workers(1)
                .max_queued(1)
                .build()
                .unwrap(),
        );
        let p = pool.clone();
        let outer = pool
            .submit(move || {
                let a = p.submit(|| 1u32).unwrap();
                let b = p.submit(|| 2u32).unwrap();
                drop(p);
                a.result().unwrap() + b.result().unwrap()
            })
            .unwrap();
        assert_eq!(outer.result(), Ok(3));
    });
}

// ----- scoped tasks -------------------------------------------------------------------------------

/// A scope whose task borrows a local and whose future is dropped unconsulted: the scope returns
/// only after the task ran and its allocation was freed (the last `LiveTask` drop unparks the
/// joining thread, which registered itself and re-checked the count). A failure is a loom
/// deadlock (the scope parked forever) or the borrowed counter not yet updated when the scope
/// returns.
#[test]
fn scope_join_vs_last_task_drop() {
    model(|| {
        let pool = pool(1);
        let hits = AtomicUsize::new(0);
        pool.scope(|s| {
            let _ = s.submit(|| hits.fetch_add(1, SeqCst)).unwrap();
        });
        assert_eq!(hits.load(SeqCst), 1);
    });
}

// ----- (e) nested wait ------------------------------------------------------------------------------

/// A task on a one-worker pool submits a subtask to the same pool and waits for it. The only
/// worker is busy with the outer task, so it must run the subtask itself (it wins the subtask's
/// `PENDING → RUNNING` CAS; the queued copy is skipped later). A failure is a loom deadlock, or
/// the subtask running twice.
#[test]
fn nested_wait_on_one_worker() {
    model(|| {
        let ran = Arc::new(AtomicUsize::new(0));
        let pool = Arc::new(pool(1));
        let p = pool.clone();
        let r = ran.clone();
        let outer = pool
            .submit(move || {
                let inner = p
                    .submit(move || {
                        r.fetch_add(1, SeqCst);
                        20u32
                    })
                    .unwrap();
                drop(p);
                inner.result().map(|v| v + 1)
            })
            .unwrap();
        assert_eq!(outer.result(), Ok(Ok(21)));
        drop(pool);
        assert_eq!(ran.load(SeqCst), 1);
    });
}

/// As above through `wait()`: a task waits for two subtasks it submitted to its own
/// one-worker pool. Each subtask runs exactly once. A failure is a deadlock or a wrong count.
#[test]
fn nested_wait_set_on_one_worker() {
    model(|| {
        let ran = Arc::new(AtomicUsize::new(0));
        let pool = Arc::new(pool(1));
        let p = pool.clone();
        let r = ran.clone();
        let outer = pool
            .submit(move || {
                let subs: Vec<_> = (0..2u32)
                    .map(|i| {
                        let r = r.clone();
                        p.submit(move || {
                            r.fetch_add(1, SeqCst);
                            i
                        })
                        .unwrap()
                    })
                    .collect();
                drop(p);
                let sets = wait(subs, None, ReturnWhen::AllCompleted);
                assert!(sets.not_done.is_empty());
                sets.done
                    .into_iter()
                    .map(|f| f.result().unwrap())
                    .sum::<u32>()
            })
            .unwrap();
        assert_eq!(outer.result(), Ok(1));
        drop(pool);
        assert_eq!(ran.load(SeqCst), 2);
    });
}

// ----- (f) the completion queue of as_completed / wait -------------------------------------------

/// `as_completed` over a pool task, a pool task cancelled concurrently, and a promise completed by
/// another thread: each is yielded exactly once, and each is done when yielded. A failure looks
/// like a key yielded twice or never, or a loom deadlock (the consumer parked with a completion
/// token pushed but no unpark, or a future that completed between registration and parking).
#[test]
fn as_completed_yields_each_once() {
    model(|| {
        let pool = pool(1);
        let a = pool.submit(|| 1u32).unwrap();
        let b = pool.submit(|| 2u32).unwrap();
        let (p, c) = Promise::new();
        let completer = thread::spawn(move || p.set_result(3u32).unwrap());
        let cancelled_b = b.cancel();
        let mut keys: Vec<u8> = as_completed(vec![(a, 0u8), (b, 1), (c, 2)])
            .map(|(f, k)| {
                assert!(f.done(), "yielded before done");
                if k == 1 {
                    assert_eq!(f.cancelled(), cancelled_b);
                }
                k
            })
            .collect();
        keys.sort_unstable();
        assert_eq!(keys, [0, 1, 2]);
        completer.join().unwrap();
    });
}

/// `wait(.., AllCompleted)` over a pool task and a promise completed by another thread returns
/// with both done. `wait(.., FirstCompleted)` returns with each future in exactly one set and
/// every future in `done` done. A failure is a loom deadlock or a future in the wrong set.
#[test]
fn wait_sets_are_exact() {
    model(|| {
        let pool = pool(1);
        let a = pool.submit(|| 1u32).unwrap();
        let (p, b) = Promise::new();
        let completer = thread::spawn(move || p.set_result(2u32).unwrap());
        let first = wait([&a, &b], None, ReturnWhen::FirstCompleted);
        assert!(!first.done.is_empty());
        assert_eq!(first.done.len() + first.not_done.len(), 2);
        assert!(first.done.iter().all(|f| f.done()));
        let all = wait([&a, &b], None, ReturnWhen::AllCompleted);
        assert_eq!(all.done.len(), 2);
        assert!(all.not_done.is_empty());
        completer.join().unwrap();
        assert_eq!(a.result(), Ok(1));
        assert_eq!(b.result(), Ok(2));
    });
}
