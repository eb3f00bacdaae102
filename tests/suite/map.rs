//! `map`, `map_with` and `map_unordered`: input order, laziness, the bounded buffer, the total
//! timeout, cancellation on drop, and per-item errors.

use std::cell::Cell;
use std::time::Duration;

use concurrent_futures::{Executor, MapOptions, TaskError};

use super::util::{Gate, Scratch};
use super::*;

pub fn map_preserves_input_order<E: Executor>(make: impl Fn(usize) -> E) {
    let pool = make(3);
    // Later items finish first; results still come in input order.
    let steps = [30, 1, 15, 0, 8, 2].map(Step::Sleep);
    let got: Vec<_> = pool.map(step, steps).map(Result::unwrap).collect();
    assert_eq!(got, [30, 1, 15, 0, 8, 2]);

    let squares: Vec<_> = pool.map(square, 0..100).map(Result::unwrap).collect();
    assert_eq!(squares, (0..100).map(|x| x * x).collect::<Vec<_>>());

    let records = (0..5).map(|i| Record {
        name: format!("r{i}"),
        values: (0..i).collect(),
        tags: vec![],
    });
    let names: Vec<_> = pool
        .map(summarize, records)
        .map(|s| {
            let s = s.unwrap();
            (s.name, s.count)
        })
        .collect();
    assert_eq!(
        names,
        (0..5)
            .map(|i| (format!("r{i}"), i as usize))
            .collect::<Vec<_>>()
    );
}

pub fn map_is_lazy_over_infinite_input<E: Executor>(make: impl Fn(usize) -> E) {
    let pool = make(2);
    let read = Cell::new(0u64);
    let input = (0u64..).inspect(|_| read.set(read.get() + 1));
    let first: Vec<_> = pool
        .map(square, input)
        .take(20)
        .map(Result::unwrap)
        .collect();
    assert_eq!(first, (0..20).map(|x| x * x).collect::<Vec<_>>());
    // 20 consumed, plus at most one buffer read ahead.
    let ahead = pool.default_buffer_size() as u64;
    assert!(read.get() <= 20 + ahead, "read {} items", read.get());
}

pub fn map_buffer_bounds_reading_ahead<E: Executor>(make: impl Fn(usize) -> E) {
    let pool = make(2);
    let read = Cell::new(0usize);
    let input = (0..30u64).inspect(|_| read.set(read.get() + 1));
    let mut it = pool.map_with(square, input, MapOptions::new().buffer_size(3));
    assert_eq!(read.get(), 3, "the call submits one buffer and no more");
    assert_eq!(it.next(), Some(Ok(0)));
    assert_eq!(read.get(), 4, "one item read per result consumed");
    assert_eq!(it.next(), Some(Ok(1)));
    assert_eq!(read.get(), 5);
    assert_eq!(it.map(Result::unwrap).count(), 28);
    assert_eq!(read.get(), 30);

    // A buffer of 1: one in flight at a time.
    let read = Cell::new(0usize);
    let input = (0..3u64).inspect(|_| read.set(read.get() + 1));
    let it = pool.map_with(square, input, MapOptions::new().buffer_size(1));
    assert_eq!(read.get(), 1);
    assert_eq!(it.map(Result::unwrap).collect::<Vec<_>>(), [0, 1, 4]);
}

pub fn map_default_buffer_is_the_engines<E: Executor>(make: impl Fn(usize) -> E) {
    for workers in [1, 2, 3] {
        let pool = make(workers);
        let buffer = pool.default_buffer_size();
        assert!(
            buffer >= 4 * workers && buffer % workers == 0,
            "a fixed number per worker, at least 4: {buffer} for {workers}"
        );
        let read = Cell::new(0usize);
        let n = buffer as u64 + 50;
        let input = (0..n).inspect(|_| read.set(read.get() + 1));
        let it = pool.map(square, input);
        assert_eq!(read.get(), buffer, "one buffer read ahead, no more");
        assert_eq!(it.count() as u64, n);
        let read = Cell::new(0usize);
        let input = (0..n).inspect(|_| read.set(read.get() + 1));
        let it = pool.map_unordered(square, input);
        assert_eq!(read.get(), buffer, "map_unordered reads as far ahead");
        assert_eq!(it.count() as u64, n);
    }
}

pub fn map_total_timeout_ends_iteration<E: Executor>(make: impl Fn(usize) -> E) {
    let scratch = Scratch::new();
    let pool = make(1);
    let gate = Gate::closed();
    let steps = vec![
        Step::Hold(gate.path()),
        // Up to three `map` tasks wait inside a busy worker (process engine) and count as
        // started: padding, so that the tasks checked below are still in the parent.
        Step::Value(0),
        Step::Value(0),
        Step::Value(0),
        Step::Value(0),
        Step::Touch(scratch.file("a")),
        Step::Touch(scratch.file("b")),
    ];
    let timeout = Duration::from_millis(20);
    let mut it = pool.map_with(step, steps, MapOptions::new().timeout(timeout));
    match it.next() {
        Some(Err(TaskError::Timeout { .. })) => {}
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert!(it.next().is_none(), "the iteration ends after the timeout");
    // The tasks that had not started were cancelled: once the worker is free, none runs.
    gate.open();
    pool.shutdown(true, false);
    assert!(scratch.names().is_empty(), "ran: {:?}", scratch.names());
}

pub fn map_timeout_not_reached_returns_everything<E: Executor>(make: impl Fn(usize) -> E) {
    let pool = make(2);
    let opts = MapOptions::new().timeout(super::util::LONG).buffer_size(5);
    let got: Vec<_> = pool
        .map_with(square, 0..40, opts)
        .map(Result::unwrap)
        .collect();
    assert_eq!(got.len(), 40);
    assert_eq!(got[39], 39 * 39);
}

pub fn map_drop_cancels_unstarted<E: Executor>(make: impl Fn(usize) -> E) {
    let scratch = Scratch::new();
    let pool = make(1);
    let gate = Gate::closed();
    let steps = vec![
        Step::Hold(gate.path()),
        // Up to three `map` tasks wait inside a busy worker (process engine) and count as
        // started: padding, so that the tasks checked below are still in the parent.
        Step::Value(0),
        Step::Value(0),
        Step::Value(0),
        Step::Value(0),
        Step::Touch(scratch.file("a")),
        Step::Touch(scratch.file("b")),
        Step::Touch(scratch.file("c")),
    ];
    let it = pool.map_with(step, steps, MapOptions::new().buffer_size(6));
    drop(it);
    gate.open();
    pool.shutdown(true, false);
    assert!(scratch.names().is_empty(), "ran: {:?}", scratch.names());

    // Dropped after some results were consumed: the rest is still cancelled.
    let pool = make(1);
    let gate = Gate::closed();
    let steps = vec![
        Step::Touch(scratch.file("first")),
        Step::Hold(gate.path()),
        // Up to three `map` tasks wait inside a busy worker (process engine) and count as
        // started: padding, so that the tasks checked below are still in the parent.
        Step::Value(0),
        Step::Value(0),
        Step::Value(0),
        Step::Value(0),
        Step::Touch(scratch.file("late")),
    ];
    let mut it = pool.map_with(step, steps, MapOptions::new().buffer_size(5));
    assert_eq!(it.next(), Some(Ok(1)));
    drop(it);
    gate.open();
    pool.shutdown(true, false);
    assert_eq!(scratch.names(), ["first"]);
}

pub fn map_per_item_errors_hide_nothing<E: Executor>(make: impl Fn(usize) -> E) {
    let pool = make(2);
    let got: Vec<_> = pool.map(panic_if_odd, 0..10).collect();
    assert_eq!(got.len(), 10);
    for (i, r) in got.into_iter().enumerate() {
        if i % 2 == 0 {
            assert_eq!(r, Ok(i as u64));
        } else {
            let msg = format!("odd input {i}");
            assert_eq!(r.unwrap_err().panic_message(), Some(msg.as_str()));
        }
    }
}

pub fn map_empty_input<E: Executor>(make: impl Fn(usize) -> E) {
    let pool = make(1);
    assert!(pool.map(square, Vec::new()).next().is_none());
    assert!(pool.map_unordered(square, Vec::new()).next().is_none());
}

pub fn map_unordered_yields_in_completion_order<E: Executor>(make: impl Fn(usize) -> E) {
    let pool = make(2);
    let gate = Gate::closed();
    let mut it = pool.map_unordered(step, vec![Step::Hold(gate.path()), Step::Value(5)]);
    // The first input is held, so the second finishes first and comes first.
    assert_eq!(it.next(), Some(Ok(5)));
    gate.open();
    assert_eq!(it.next(), Some(Ok(HELD)));
    assert_eq!(it.next(), None);
}

pub fn map_unordered_returns_every_item<E: Executor>(make: impl Fn(usize) -> E) {
    let pool = make(3);
    let mut ok = Vec::new();
    let mut failed = 0;
    for r in pool.map_unordered(panic_if_odd, 0..50) {
        match r {
            Ok(v) => ok.push(v),
            Err(e) => {
                assert!(e.is_panic(), "{e:?}");
                failed += 1;
            }
        }
    }
    ok.sort();
    assert_eq!(ok, (0..50).filter(|x| x % 2 == 0).collect::<Vec<_>>());
    assert_eq!(failed, 25);
}

pub fn map_unordered_is_lazy_over_infinite_input<E: Executor>(make: impl Fn(usize) -> E) {
    let pool = make(2);
    let read = Cell::new(0u64);
    let input = (0u64..).inspect(|_| read.set(read.get() + 1));
    let got: Vec<_> = pool
        .map_unordered(square, input)
        .take(10)
        .map(Result::unwrap)
        .collect();
    assert_eq!(got.len(), 10);
    for v in got {
        let r = (v as f64).sqrt() as u64;
        assert_eq!(r * r, v, "{v} is not one of the squares");
    }
    let ahead = pool.default_buffer_size() as u64;
    assert!(read.get() <= 10 + ahead, "read {} items", read.get());
}

/// `len()` of a map is the number of results still to come (a progress bar's length), for
/// per-item and chunked maps and for `map_unordered`.
pub fn map_len_counts_what_is_to_come<E: Executor>(make: impl Fn(usize) -> E) {
    let pool = make(2);
    let items = || (0..20u64).collect::<Vec<_>>(); // an ExactSizeIterator input
    let mut it = pool.map(square, items());
    assert_eq!(it.len(), 20);
    for left in (15..20).rev() {
        assert!(it.next().unwrap().is_ok());
        assert_eq!(it.len(), left);
    }
    assert_eq!(it.by_ref().count(), 15);
    assert_eq!((it.len(), it.next()), (0, None));

    let mut chunked = pool.map_with(square, items(), MapOptions::new().chunksize(6));
    assert_eq!(chunked.len(), 20, "items, not chunks");
    chunked.next();
    assert_eq!(chunked.len(), 19);
    assert_eq!(chunked.count(), 19);

    let mut unordered = pool.map_unordered(square, items());
    assert_eq!(unordered.len(), 20);
    unordered.next();
    assert_eq!(unordered.len(), 19);
    assert_eq!(unordered.count(), 19);
}
