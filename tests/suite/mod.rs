//! The behavioural suite every engine must pass, as CPython runs each of its executor tests
//! against every executor kind.
//!
//! An engine's test file instantiates it with a function that builds an executor with a given
//! number of workers:
//!
//! ```ignore
//! mod suite;
//! suite::executor_suite!(|workers| ThreadPoolExecutor::with_max_workers(workers).unwrap());
//! ```
//!
//! (`mod suite;` must sit at the root of the test crate: the generated tests name
//! `crate::suite`.) That expands to one `#[test]` per case; each case is a generic function in
//! one of the files below, written only against the [`Executor`] trait, [`Future`],
//! [`as_completed`] and [`wait`]:
//!
//! | file          | cases                                                                 |
//! |---------------|-----------------------------------------------------------------------|
//! | `submit.rs`   | `submit_fn`, payloads, panics, shutdown, refusals                     |
//! | `future.rs`   | cancel, timed results, `exception`, callbacks, `.await`, identity     |
//! | `map.rs`      | `map`, `map_with`, `map_unordered`: order, laziness, buffer, timeout  |
//! | `waiting.rs`  | `as_completed`, `as_completed_timeout`, `wait` with every `ReturnWhen` |
//!
//! Rules the cases follow, so that they hold for worker threads and worker processes alike:
//! tasks are the plain functions of the list below (serde arguments and results, no captured
//! state); a worker is held busy by [`hold`] on a file [`Gate`](util::Gate) that the test opens,
//! or kept busy by [`sleep_ms`] where no assertion depends on how long it takes; a task shows
//! that it ran by creating a file ([`touch`]). Every blocking call has a timeout, and a
//! [`Watchdog`](util::Watchdog) aborts a test that hangs anyway.
//!
//! [`Executor`]: concurrent_futures::Executor
//! [`Future`]: concurrent_futures::Future
//! [`as_completed`]: concurrent_futures::as_completed
//! [`wait`]: concurrent_futures::wait

#![allow(dead_code)] // each engine's test crate uses the whole suite; helpers may go unused

use concurrent_futures::{Executor, Future};
use serde::{Deserialize, Serialize};

// ---------------------------------------------------------------------------------------------
// The task functions. Every function a case submits is defined here, and registered in the one
// `register!` line below: an engine that runs tasks in other processes finds a function there by
// its registered name. A new task function goes into both places.
// ---------------------------------------------------------------------------------------------

concurrent_futures::register!(
    square,
    add,
    shout,
    summarize,
    checked_div,
    parse_number,
    noop,
    sleep_ms,
    hold,
    touch,
    panic_with,
    panic_if_odd,
    step,
);

/// `x²`.
pub fn square(x: u64) -> u64 {
    x * x
}

/// A tuple argument: `a + b`.
pub fn add((a, b): (i64, i64)) -> i64 {
    a + b
}

/// A `String` in, a `String` out.
pub fn shout(s: String) -> String {
    s.to_uppercase() + "!"
}

/// A struct in, a struct out.
pub fn summarize(r: Record) -> Summary {
    Summary {
        name: r.name.clone(),
        count: r.values.len(),
        total: r.values.iter().sum(),
        tags: r.tags.into_iter().filter(|t| !t.is_empty()).collect(),
    }
}

/// An `Option` result: division that refuses zero.
pub fn checked_div((a, b): (i32, i32)) -> Option<i32> {
    a.checked_div(b)
}

/// A `Result` result: a failure that is a value, not a panic.
pub fn parse_number(s: String) -> Result<i64, String> {
    s.trim().parse().map_err(|e| format!("{s:?}: {e}"))
}

/// Unit in, unit out.
pub fn noop(_: ()) {}

/// Keeps a worker busy for `ms` milliseconds (never used to order events), returns `ms`.
pub fn sleep_ms(ms: u64) -> u64 {
    std::thread::sleep(std::time::Duration::from_millis(ms));
    ms
}

/// Keeps a worker busy until the test opens the gate at `gate`; returns [`HELD`].
pub fn hold(gate: String) -> u64 {
    util::hold_until_open(&gate);
    HELD
}

/// Creates the file `path` (shows that the task ran); returns 1.
pub fn touch(path: String) -> u64 {
    std::fs::write(&path, b"ran").expect("touch");
    1
}

/// Panics with exactly `msg`.
pub fn panic_with(msg: String) -> u64 {
    std::panic::panic_any(msg)
}

/// `x` if even; panics with a formatted message if odd.
pub fn panic_if_odd(x: u64) -> u64 {
    if x % 2 == 1 {
        panic!("odd input {x}");
    }
    x
}

/// One of several behaviours, for inputs of `map` that must differ per item.
pub fn step(s: Step) -> u64 {
    match s {
        Step::Value(v) => v,
        Step::Hold(gate) => hold(gate),
        Step::Touch(path) => touch(path),
        Step::Sleep(ms) => sleep_ms(ms),
        Step::Panic(msg) => panic_with(msg),
    }
}

// ---------------------------------------------------------------------------------------------

/// What [`hold`] returns once released.
pub const HELD: u64 = 4242;

/// A struct argument.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub name: String,
    pub values: Vec<u64>,
    pub tags: Vec<String>,
}

/// A struct result.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub name: String,
    pub count: usize,
    pub total: u64,
    pub tags: Vec<String>,
}

/// What [`step`] does.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Step {
    Value(u64),
    Hold(String),
    Touch(String),
    Sleep(u64),
    Panic(String),
}

/// A one-worker executor whose worker is held busy by [`hold`] until `gate` opens, so that
/// whatever is submitted next stays pending.
///
/// Two filler tasks are queued behind the blocker: an engine may hand a worker its next task
/// before the current one ends, and the fillers absorb that, so the tasks a case submits next are
/// pending in every engine. Fields drop in order: the gate opens before the executor is shut down.
pub struct Held<E: Executor> {
    pub gate: util::Gate,
    pub pool: E,
    pub blocker: Future<u64>,
    pub fillers: Vec<Future<u64>>,
}

impl<E: Executor> Held<E> {
    pub fn new(make: impl Fn(usize) -> E) -> Self {
        let gate = util::Gate::closed();
        let pool = make(1);
        let blocker = pool.submit_fn(hold, gate.path()).unwrap();
        assert!(
            util::eventually(util::LONG, || blocker.running()),
            "the blocker never started: {blocker:?}"
        );
        let fillers = (0..2).map(|i| pool.submit_fn(square, i).unwrap()).collect();
        Held {
            gate,
            pool,
            blocker,
            fillers,
        }
    }

    /// Opens the gate and checks that the blocker returns normally.
    pub fn release(&mut self) {
        self.gate.open();
        assert_eq!(self.blocker.result_timeout(util::LONG), Ok(HELD));
    }
}

pub mod future;
pub mod map;
pub mod submit;
pub mod util;
pub mod waiting;

/// Expands to one `#[test]` per case of the suite, each building its executors with `$make`
/// (an expression usable as `Fn(usize) -> E` where `E: Executor + Sync`: the argument is the
/// number of workers).
macro_rules! executor_suite {
    ($make:expr) => {
        $crate::suite::executor_suite!(@cases $make;
            submit::submit_fn_returns_value,
            submit::submit_fn_carries_serde_payloads,
            submit::many_submits_all_correct,
            submit::submits_from_several_threads,
            submit::panic_becomes_task_error,
            submit::formatted_panic_message_is_kept,
            submit::max_workers_reports_configuration,
            submit::shutdown_wait_waits_for_every_task,
            submit::shutdown_is_idempotent,
            submit::submit_after_shutdown_gives_argument_back,
            submit::map_after_shutdown_reports_refusal_once,
            submit::shutdown_without_wait_returns_while_task_runs,
            submit::shutdown_cancel_futures_cancels_only_unstarted,
            submit::drop_waits_for_every_task,
            submit::futures_outlive_their_executor,
            submit::stats_count_every_outcome,
            submit::shutdown_async_completes_when_the_work_is_done,
            future::state_moves_pending_running_finished,
            future::cancel_pending_future,
            future::cancel_running_future_is_refused,
            future::cancel_finished_future_is_refused,
            future::cancelled_task_never_runs,
            future::result_timeout_leaves_future_usable,
            future::try_result_polls_without_blocking,
            future::exception_reports_without_consuming,
            future::exception_timeout_times_out,
            future::wait_timeout_reports_done,
            future::with_result_reads_in_place,
            future::callbacks_run_once_in_registration_order,
            future::callback_added_after_completion_runs_at_once,
            future::panicking_callback_does_not_affect_others,
            future::callback_runs_on_cancel,
            future::callback_sees_failure,
            future::await_finished_future,
            future::await_wakes_on_completion,
            future::await_reports_panic_and_cancellation,
            future::futures_compare_by_identity,
            map::map_preserves_input_order,
            map::map_is_lazy_over_infinite_input,
            map::map_buffer_bounds_reading_ahead,
            map::map_default_buffer_is_the_engines,
            map::map_total_timeout_ends_iteration,
            map::map_timeout_not_reached_returns_everything,
            map::map_drop_cancels_unstarted,
            map::map_per_item_errors_hide_nothing,
            map::map_empty_input,
            map::map_len_counts_what_is_to_come,
            map::map_unordered_yields_in_completion_order,
            map::map_unordered_returns_every_item,
            map::map_unordered_is_lazy_over_infinite_input,
            waiting::as_completed_yields_finished_first,
            waiting::as_completed_deduplicates,
            waiting::as_completed_timeout_counts_unfinished,
            waiting::as_completed_with_key_map,
            waiting::as_completed_with_pairs_and_references,
            waiting::as_completed_empty,
            waiting::as_completed_cancelled_counts_at_once,
            waiting::as_completed_sees_cancel_after_registration,
            waiting::wait_all_completed,
            waiting::wait_first_completed,
            waiting::wait_first_exception,
            waiting::wait_first_exception_without_failure_is_all_completed,
            waiting::wait_first_exception_ignores_cancellation,
            waiting::wait_timeout_returns_sets,
            waiting::wait_cancelled_counts_as_done_at_once,
            waiting::wait_empty,
            waiting::wait_by_reference_and_with_keys,
            waiting::wait_already_satisfied_returns_at_once,
        );
    };
    (@cases $make:expr; $($module:ident :: $case:ident),* $(,)?) => {
        $(
            #[test]
            fn $case() {
                let _watchdog = $crate::suite::util::Watchdog::new(
                    stringify!($case),
                    $crate::suite::util::TEST_LIMIT,
                );
                $crate::suite::$module::$case($make);
            }
        )*
    };
}

pub(crate) use executor_suite;
