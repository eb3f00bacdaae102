//! Lazy `map` and `map_unordered` over any engine: at most `buffer_size` tasks are in flight,
//! and the input is read one item per result consumed, so an infinite input works and memory
//! stays bounded (CPython before 3.14 reads the whole input at the call).
//!
//! Both take a `submit` closure, which is how every engine plugs in.

use std::collections::VecDeque;
use std::time::Instant;

use crate::error::{SubmitError, TaskError};
use crate::future::{deadline_after, result_by, Future};
use crate::sync::Arc;
use crate::wait::completion::Completion;

mod options;
pub use self::options::MapOptions;

/// How an engine submits one item of a map.
pub(crate) type SubmitOne<'a, A, R> = Box<dyn FnMut(A) -> Result<Future<R>, SubmitError<()>> + 'a>;

/// The default number of tasks in flight: a small multiple of the worker count.
pub(crate) fn default_buffer(max_workers: usize) -> usize {
    (max_workers.saturating_mul(4)).max(4)
}

/// The size hint of `n` items held plus what `input` has left (nothing once it is dropped).
pub(crate) fn remaining<I: Iterator>(n: usize, input: Option<&I>) -> (usize, Option<usize>) {
    let (lo, hi) = input.map_or((0, Some(0)), |i| i.size_hint());
    (lo.saturating_add(n), hi.and_then(|h| h.checked_add(n)))
}

/// The error a map yields in order for an item the executor refused.
pub(crate) fn refused(e: SubmitError<()>) -> TaskError {
    match e {
        SubmitError::Shutdown(_) => TaskError::Shutdown,
        SubmitError::NotRegistered(_, function) => TaskError::NotRegistered {
            function: function.into(),
        },
        SubmitError::Broken(_, cause) => TaskError::BrokenExecutor { cause },
        SubmitError::Invalid(_, message) => TaskError::Serialization { message },
        other => TaskError::BrokenExecutor {
            cause: other.to_string(),
        },
    }
}

/// The iterator returned by `map`: results in input order, each a `Result`.
///
/// Dropping it cancels the submitted tasks that have not started.
///
/// ```
/// use concurrent_futures::ThreadPoolExecutor;
/// let pool = ThreadPoolExecutor::new();
/// // An infinite input: only a bounded number of tasks is ever in flight.
/// let first: Vec<u64> = pool.map(|n: u64| n * n, 0..).take(5).map(Result::unwrap).collect();
/// assert_eq!(first, [0, 1, 4, 9, 16]);
/// ```
#[must_use = "map is lazy: dropping the iterator cancels the tasks that have not started"]
pub struct Map<'a, R, I: Iterator>(Inner<'a, R, I>);

enum Inner<'a, R, I: Iterator> {
    /// One task per item, on this engine's own futures.
    PerItem(PerItem<'a, R, I>),
    /// The process and cluster engines' map, which sends `chunksize` items per message.
    #[cfg(all(any(unix, windows), feature = "process"))]
    Chunked(crate::remote::chunked::ChunkedMap<'a, R, I>),
}

impl<'a, R, I: Iterator> Map<'a, R, I> {
    pub(crate) fn new(
        submit: SubmitOne<'a, I::Item, R>,
        input: I,
        options: MapOptions,
        max_workers: usize,
    ) -> Self {
        Map(Inner::PerItem(PerItem::new(
            submit,
            input,
            options,
            max_workers,
        )))
    }

    /// The process and cluster engines' map, as a `Map`.
    #[cfg(all(any(unix, windows), feature = "process"))]
    pub(crate) fn chunked(map: crate::remote::chunked::ChunkedMap<'a, R, I>) -> Self {
        Map(Inner::Chunked(map))
    }
}

impl<R, I: Iterator> Iterator for Map<'_, R, I> {
    type Item = Result<R, TaskError>;

    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.0 {
            Inner::PerItem(m) => m.next(),
            #[cfg(all(any(unix, windows), feature = "process"))]
            Inner::Chunked(m) => m.next(),
        }
    }

    /// Exact when the input's is: the items not yielded yet, in flight or still to be read.
    fn size_hint(&self) -> (usize, Option<usize>) {
        match &self.0 {
            Inner::PerItem(m) => m.size_hint(),
            #[cfg(all(any(unix, windows), feature = "process"))]
            Inner::Chunked(m) => m.size_hint(),
        }
    }
}

/// `len()` is how many results are still to come, so a progress bar (`indicatif`'s
/// `.progress()`) knows its length. One exception: a map that ends early — its total timeout
/// passed, or the executor refused an item — yields that error as its last item, and fewer
/// items than `len()` said.
///
/// ```
/// use concurrent_futures::ThreadPoolExecutor;
/// let pool = ThreadPoolExecutor::new();
/// let mut results = pool.map(|x: u32| x + 1, vec![1, 2, 3]);
/// assert_eq!(results.len(), 3);
/// results.next();
/// assert_eq!(results.len(), 2);
/// ```
impl<R, I: ExactSizeIterator> ExactSizeIterator for Map<'_, R, I> {}

struct PerItem<'a, R, I: Iterator> {
    submit: SubmitOne<'a, I::Item, R>,
    input: Option<I>,
    in_flight: VecDeque<Result<Future<R>, TaskError>>,
    buffer_size: usize,
    deadline: Option<Instant>,
    ended: bool,
}

impl<'a, R, I: Iterator> PerItem<'a, R, I> {
    fn new(
        submit: SubmitOne<'a, I::Item, R>,
        input: I,
        options: MapOptions,
        max_workers: usize,
    ) -> Self {
        let mut m = PerItem {
            submit,
            input: Some(input),
            in_flight: VecDeque::new(),
            buffer_size: options
                .buffer_size
                .unwrap_or_else(|| default_buffer(max_workers)),
            deadline: options.timeout.map(deadline_after),
            ended: false,
        };
        m.fill();
        m
    }

    /// Submits from the input until `buffer_size` tasks are in flight or the input ends.
    fn fill(&mut self) {
        while self.in_flight.len() < self.buffer_size {
            let Some(input) = self.input.as_mut() else {
                return;
            };
            let Some(item) = input.next() else {
                self.input = None;
                return;
            };
            match (self.submit)(item) {
                Ok(f) => self.in_flight.push_back(Ok(f)),
                Err(e) => {
                    // The executor refuses work: report it once, in order, and stop reading.
                    self.in_flight.push_back(Err(refused(e)));
                    self.input = None;
                }
            }
        }
    }

    fn cancel_rest(&mut self) {
        self.input = None;
        for f in self.in_flight.drain(..).flatten() {
            f.cancel();
        }
    }
}

impl<R, I: Iterator> Iterator for PerItem<'_, R, I> {
    type Item = Result<R, TaskError>;

    fn size_hint(&self) -> (usize, Option<usize>) {
        if self.ended {
            return (0, Some(0));
        }
        remaining(self.in_flight.len(), self.input.as_ref())
    }

    fn next(&mut self) -> Option<Self::Item> {
        if self.ended {
            return None;
        }
        let Some(front) = self.in_flight.pop_front() else {
            self.ended = true;
            return None;
        };
        let out = front.and_then(|f| result_by(f, self.deadline));
        if matches!(out, Err(TaskError::Timeout { .. })) {
            self.cancel_rest();
            self.ended = true;
        }
        if !self.ended {
            self.fill();
        }
        Some(out)
    }
}

impl<R, I: Iterator> Drop for PerItem<'_, R, I> {
    fn drop(&mut self) {
        self.cancel_rest();
    }
}

/// The iterator returned by `map_unordered`: results in completion order.
///
/// ```
/// use concurrent_futures::ThreadPoolExecutor;
/// let pool = ThreadPoolExecutor::new();
/// let mut got: Vec<i32> = pool.map_unordered(|x: i32| x + 1, vec![1, 2, 3]).map(Result::unwrap).collect();
/// got.sort();
/// assert_eq!(got, [2, 3, 4]);
/// ```
#[must_use = "map is lazy: dropping the iterator cancels the tasks that have not started"]
pub struct MapUnordered<'a, R, I: Iterator> {
    submit: SubmitOne<'a, I::Item, R>,
    input: Option<I>,
    slots: Vec<Option<Future<R>>>,
    free: Vec<usize>,
    in_flight: usize,
    refused: Option<TaskError>,
    completion: Arc<Completion>,
    buffer_size: usize,
    deadline: Option<Instant>,
    started: Instant,
    ended: bool,
}

impl<'a, R, I: Iterator> MapUnordered<'a, R, I> {
    pub(crate) fn new(
        submit: SubmitOne<'a, I::Item, R>,
        input: I,
        options: MapOptions,
        max_workers: usize,
    ) -> Self {
        let mut m = MapUnordered {
            submit,
            input: Some(input),
            slots: Vec::new(),
            free: Vec::new(),
            in_flight: 0,
            refused: None,
            completion: Completion::new(),
            buffer_size: options
                .buffer_size
                .unwrap_or_else(|| default_buffer(max_workers)),
            deadline: options.timeout.map(deadline_after),
            started: Instant::now(),
            ended: false,
        };
        m.fill();
        m
    }

    fn fill(&mut self) {
        while self.in_flight < self.buffer_size {
            let Some(input) = self.input.as_mut() else {
                return;
            };
            let Some(item) = input.next() else {
                self.input = None;
                return;
            };
            match (self.submit)(item) {
                Ok(f) => {
                    let i = self.free.pop().unwrap_or_else(|| {
                        self.slots.push(None);
                        self.slots.len() - 1
                    });
                    self.completion.watch(f.core(), i);
                    self.slots[i] = Some(f);
                    self.in_flight += 1;
                }
                Err(e) => {
                    self.refused = Some(refused(e));
                    self.input = None;
                }
            }
        }
    }

    fn cancel_rest(&mut self) {
        self.input = None;
        for f in self.slots.iter_mut().filter_map(Option::take) {
            f.cancel();
            self.completion.unwatch(f.core());
        }
        self.in_flight = 0;
    }
}

impl<R, I: Iterator> Iterator for MapUnordered<'_, R, I> {
    type Item = Result<R, TaskError>;

    fn size_hint(&self) -> (usize, Option<usize>) {
        if self.ended {
            return (0, Some(0));
        }
        let held = self.in_flight + usize::from(self.refused.is_some());
        remaining(held, self.input.as_ref())
    }

    fn next(&mut self) -> Option<Self::Item> {
        if self.ended {
            return None;
        }
        if self.in_flight == 0 {
            self.ended = true;
            return self.refused.take().map(Err);
        }
        match self.completion.pop(self.deadline) {
            Some(i) => {
                let f = self.slots[i].take().expect("a slot completes once");
                self.free.push(i);
                self.in_flight -= 1;
                self.fill();
                Some(f.result())
            }
            None => {
                let waited = self.started.elapsed();
                self.cancel_rest();
                self.ended = true;
                Some(Err(TaskError::Timeout { waited }))
            }
        }
    }
}

/// As a `Stream` (the `futures` feature): results in completion order for async code, woken by
/// completions, with the same bounded buffer (taking a result submits the next item, on the
/// polling task: on a thread pool with `max_queued` that submit may wait for room). The total
/// timeout of [`MapOptions`] does not apply to the stream: wrap it in the runtime's timeout.
#[cfg(feature = "futures")]
impl<R, I: Iterator + Unpin> futures_core::Stream for MapUnordered<'_, R, I> {
    type Item = Result<R, TaskError>;
    fn poll_next(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.ended {
            return std::task::Poll::Ready(None);
        }
        if this.in_flight == 0 {
            this.ended = true;
            return std::task::Poll::Ready(this.refused.take().map(Err));
        }
        this.completion.poll_pop(cx).map(|i| {
            let f = this.slots[i].take().expect("a slot completes once");
            this.free.push(i);
            this.in_flight -= 1;
            this.fill();
            Some(f.result())
        })
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        Iterator::size_hint(self)
    }
}

/// `len()` is how many results are still to come, with the same exception as
/// [`Map`]'s: a map that ends early yields fewer.
///
/// ```
/// use concurrent_futures::ThreadPoolExecutor;
/// let pool = ThreadPoolExecutor::new();
/// let results = pool.map_unordered(|x: u32| x * 2, 0..10);
/// assert_eq!(results.len(), 10);
/// ```
impl<R, I: ExactSizeIterator> ExactSizeIterator for MapUnordered<'_, R, I> {}

impl<R, I: Iterator> Drop for MapUnordered<'_, R, I> {
    fn drop(&mut self) {
        self.cancel_rest();
    }
}
