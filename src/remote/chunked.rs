//! [`ChunkedMap`]: `map` on an engine whose workers are other processes, which sends
//! `chunksize` items per message. The engines return it as a [`Map`](crate::Map), the one type
//! every engine's `map` returns.

use std::collections::VecDeque;
use std::time::Instant;

use super::complete::Chunk;
use crate::error::{SubmitError, TaskError};
use crate::executor::Payload;
use crate::future::{deadline_after, result_by, Future};
use crate::map::{default_buffer, refused, remaining, MapOptions};

/// `map` on an engine whose workers are other processes (behind [`Map`](crate::Map)): results
/// in input order, items sent `chunksize` per message (results stay per item), at most
/// `buffer_size` messages in flight. Dropping it cancels what has not started.
pub(crate) struct ChunkedMap<'a, R, I: Iterator> {
    submit: SubmitChunk<'a, I::Item, R>,
    input: Option<I>,
    chunksize: usize,
    in_flight: VecDeque<(ChunkFuture<R>, usize)>,
    ready: std::vec::IntoIter<Result<R, TaskError>>,
    buffer_size: usize,
    deadline: Option<Instant>,
    ended: bool,
}

/// A submitted chunk, or why it could not be submitted.
type ChunkFuture<R> = Result<Future<Chunk<R>>, TaskError>;

/// Submits one chunk as one message.
pub(crate) type SubmitChunk<'a, A, R> =
    Box<dyn FnMut(Vec<A>) -> Result<Future<Chunk<R>>, SubmitError<()>> + 'a>;

impl<'a, R: Payload, I: Iterator> ChunkedMap<'a, R, I>
where
    I::Item: Payload,
{
    /// A map over `input` that submits chunks with `submit`, on a pool of `max_workers`.
    pub(crate) fn new(
        submit: SubmitChunk<'a, I::Item, R>,
        input: I,
        options: MapOptions,
        max_workers: usize,
    ) -> Self {
        let mut m = ChunkedMap {
            submit,
            input: Some(input),
            chunksize: options.chunksize.unwrap_or(1),
            in_flight: VecDeque::new(),
            ready: Vec::new().into_iter(),
            buffer_size: options
                .buffer_size
                .unwrap_or_else(|| default_buffer(max_workers)),
            deadline: options.timeout.map(deadline_after),
            ended: false,
        };
        m.fill();
        m
    }
}

impl<R, I: Iterator> ChunkedMap<'_, R, I> {
    fn fill(&mut self) {
        while self.in_flight.len() < self.buffer_size {
            let Some(input) = self.input.as_mut() else {
                return;
            };
            let items: Vec<I::Item> = input.by_ref().take(self.chunksize).collect();
            if items.is_empty() {
                self.input = None;
                return;
            }
            let n = items.len();
            match (self.submit)(items) {
                Ok(f) => self.in_flight.push_back((Ok(f), n)),
                Err(e) => {
                    self.in_flight.push_back((Err(refused(e)), n));
                    self.input = None;
                }
            }
        }
    }

    fn cancel_rest(&mut self) {
        self.input = None;
        for (f, _) in self.in_flight.drain(..) {
            if let Ok(f) = f {
                f.cancel();
            }
        }
    }
}

impl<R, I: Iterator> Iterator for ChunkedMap<'_, R, I> {
    type Item = Result<R, TaskError>;

    /// Exact when the input's is: items, not chunks.
    fn size_hint(&self) -> (usize, Option<usize>) {
        let ready = self.ready.len();
        if self.ended {
            return (ready, Some(ready));
        }
        let held = ready + self.in_flight.iter().map(|(_, n)| n).sum::<usize>();
        remaining(held, self.input.as_ref())
    }

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(r) = self.ready.next() {
                return Some(r);
            }
            if self.ended {
                return None;
            }
            let Some((front, n)) = self.in_flight.pop_front() else {
                self.ended = true;
                return None;
            };
            let outcome = front.and_then(|f| result_by(f, self.deadline));
            if let Err(e @ TaskError::Timeout { .. }) = outcome {
                self.cancel_rest();
                self.ended = true;
                return Some(Err(e));
            }
            self.ready = match outcome {
                Ok(items) => items.into_iter(),
                Err(e) => (0..n)
                    .map(|_| Err(e.clone()))
                    .collect::<Vec<_>>()
                    .into_iter(),
            };
            self.fill();
        }
    }
}

/// `len()` counts items still to come (as [`Map`](crate::Map)'s does).
impl<R, I: ExactSizeIterator> ExactSizeIterator for ChunkedMap<'_, R, I> {}

impl<R, I: Iterator> Drop for ChunkedMap<'_, R, I> {
    fn drop(&mut self) {
        self.cancel_rest();
    }
}
