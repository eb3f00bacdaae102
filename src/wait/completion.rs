#![doc = include_str!("completion.md")]

use std::collections::VecDeque;
use std::time::Instant;

use crate::future::core::{Core, Waiter, FINISHED};
use crate::future::Future;
use crate::sync::{lock, thread, Arc, Mutex, Thread};

use super::AsFuture;

pub(crate) struct Completion {
    state: Mutex<State>,
}

struct State {
    ready: VecDeque<usize>,
    waiter: Option<Thread>,
    /// An async consumer (a `Stream`), woken like the thread.
    task: Option<std::task::Waker>,
}

impl crate::future::core::Notify for Completion {
    fn notify(&self, token: usize) {
        let (t, task) = {
            let mut s = lock(&self.state);
            s.ready.push_back(token);
            (s.waiter.take(), s.task.take())
        };
        if let Some(t) = t {
            t.unpark();
        }
        if let Some(w) = task {
            w.wake();
        }
    }
}

impl Completion {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Completion {
            state: Mutex::new(State {
                ready: VecDeque::new(),
                waiter: None,
                task: None,
            }),
        })
    }

    /// Registers on `core` with `token`; if the future is already final the token is queued
    /// at once.
    pub(crate) fn watch<T>(self: &Arc<Self>, core: &Core<T>, token: usize) {
        let me: Arc<dyn crate::future::core::Notify> = self.clone();
        if core.register(Waiter::Set(me, token)).is_err() {
            lock(&self.state).ready.push_back(token);
        }
    }

    /// Removes this completion's registration from `core` (before dropping an unfinished
    /// future's watch).
    pub(crate) fn unwatch<T>(self: &Arc<Self>, core: &Core<T>) {
        let me = Arc::as_ptr(self) as *const ();
        core.deregister(|w| matches!(w, Waiter::Set(n, _) if Arc::as_ptr(n) as *const () == me));
    }

    /// The next done token, without blocking.
    /// The next token, or `Pending` with `cx`'s waker recorded (in the same critical section
    /// as the check, so a token pushed after it wakes the task).
    #[cfg(feature = "futures")]
    pub(crate) fn poll_pop(&self, cx: &mut std::task::Context<'_>) -> std::task::Poll<usize> {
        let mut s = lock(&self.state);
        match s.ready.pop_front() {
            Some(t) => {
                s.task = None;
                std::task::Poll::Ready(t)
            }
            None => {
                s.task = Some(cx.waker().clone());
                std::task::Poll::Pending
            }
        }
    }

    pub(crate) fn try_pop(&self) -> Option<usize> {
        lock(&self.state).ready.pop_front()
    }

    /// The next done token, blocking until one arrives or `deadline` passes.
    pub(crate) fn pop(&self, deadline: Option<Instant>) -> Option<usize> {
        crate::thread::note_wait();
        loop {
            {
                let mut s = lock(&self.state);
                if let Some(t) = s.ready.pop_front() {
                    s.waiter = None;
                    return Some(t);
                }
                s.waiter = Some(thread::current());
            }
            match deadline {
                None => thread::park(),
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        let mut s = lock(&self.state);
                        s.waiter = None;
                        return s.ready.pop_front();
                    }
                    #[cfg(not(loom))]
                    std::thread::park_timeout(d - now);
                    #[cfg(loom)]
                    loom::thread::yield_now();
                }
            }
        }
    }
}

/// A set of distinct futures watched by one [`Completion`]; shared by `wait` and `as_completed`.
pub(crate) struct Watched<F: AsFuture> {
    pub(crate) items: Vec<Option<F>>,
    pub(crate) completion: Arc<Completion>,
    pub(crate) remaining: usize,
    help_cursor: usize,
}

impl<F: AsFuture> Watched<F> {
    /// Deduplicates by identity (first occurrence wins) and registers on each future.
    pub(crate) fn new(futures: impl IntoIterator<Item = F>) -> Self {
        let mut seen = std::collections::HashSet::new();
        let items: Vec<Option<F>> = futures
            .into_iter()
            .filter(|f| seen.insert(f.as_future().id()))
            .map(Some)
            .collect();
        let completion = Completion::new();
        for (i, f) in items.iter().enumerate() {
            completion.watch(f.as_ref().unwrap().as_future().core(), i);
        }
        let remaining = items.len();
        Watched {
            items,
            completion,
            remaining,
            help_cursor: 0,
        }
    }

    pub(crate) fn future(&self, i: usize) -> Option<&Future<F::Output>> {
        self.items[i].as_ref().map(|f| f.as_future())
    }

    /// On a pool's worker thread, runs one still-pending future of the same pool inline instead
    /// of blocking (the nested-wait rule). Each index is tried at most once, so this costs O(n)
    /// over the whole wait.
    pub(crate) fn help_one(&mut self) -> bool {
        if !crate::thread::on_worker_thread() {
            return false;
        }
        while self.help_cursor < self.items.len() {
            let i = self.help_cursor;
            self.help_cursor += 1;
            if let Some(f) = self.items[i].as_ref() {
                let f = f.as_future();
                if f.state() == crate::FutureState::Pending && f.help(Some(Instant::now())) {
                    return true;
                }
            }
        }
        false
    }

    /// The next finished index, blocking (and helping) until `deadline`.
    pub(crate) fn next_done(&mut self, deadline: Option<Instant>) -> Option<usize> {
        loop {
            if let Some(i) = self.completion.try_pop() {
                return Some(i);
            }
            if self.remaining == 0 {
                return None;
            }
            if self.help_one() {
                continue;
            }
            return self.completion.pop(deadline);
        }
    }

    /// Whether future `i` finished with an error other than cancellation.
    pub(crate) fn failed(&self, i: usize) -> bool {
        self.future(i).is_some_and(|f| {
            f.core().state() == FINISHED
                && matches!(
                    f.core().lock().outcome(),
                    crate::future::core::Outcome::Error(_)
                )
        })
    }
}

impl<F> Drop for Watched<F>
where
    F: AsFuture,
{
    fn drop(&mut self) {
        for f in self.items.iter().flatten() {
            let f = f.as_future();
            if !f.done() {
                self.completion.unwatch(f.core());
            }
        }
    }
}
