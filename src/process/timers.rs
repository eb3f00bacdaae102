//! Task deadlines and the idle-worker reaper of one process pool, served by one thread.
//!
//! The thread is started when the pool is built (a failure to start it is that build's error,
//! never a pool whose time limits silently do not fire; `submit_fn_with_timeout` needs it on any
//! pool). It also enforces each new worker's `HELLO` deadline. It stops for good once the pool is
//! shut down and idle. A deadline holds only a weak reference to
//! its worker: a worker that is gone needs no killing.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::time::Instant;

use super::pool::Shared;
use super::proc::WorkerProc;
use crate::sync::lock;

#[derive(Default)]
pub(crate) struct Timers {
    state: Mutex<TimerState>,
    cv: Condvar,
}

#[derive(Default)]
struct TimerState {
    deadlines: BTreeMap<(Instant, u64), Weak<WorkerProc>>,
    by_id: HashMap<u64, Instant>,
    running: bool,
    stop: bool,
    /// Stopped for good: the pool is shut down and idle.
    closed: bool,
}

impl Timers {
    /// Arms the deadline of task `id` running on `proc` (the thread is already running: see
    /// [`ensure_running`](Self::ensure_running)).
    pub(crate) fn add(&self, at: Instant, id: u64, proc: &Arc<WorkerProc>) {
        let mut st = lock(&self.state);
        st.deadlines.insert((at, id), Arc::downgrade(proc));
        st.by_id.insert(id, at);
        drop(st);
        self.cv.notify_one();
    }

    pub(crate) fn remove(&self, id: u64) {
        let mut st = lock(&self.state);
        if let Some(at) = st.by_id.remove(&id) {
            st.deadlines.remove(&(at, id));
        }
    }

    /// Stops the thread for good.
    pub(crate) fn stop(&self) {
        let mut st = lock(&self.state);
        st.closed = true;
        if st.running {
            st.stop = true;
        }
        drop(st);
        self.cv.notify_all();
    }

    /// Starts the thread unless it runs (or the pool is finished). `Err` if it cannot start.
    pub(crate) fn ensure_running(&self, pool: &Weak<Shared>) -> std::io::Result<()> {
        let mut st = lock(&self.state);
        if st.running || st.closed {
            return Ok(());
        }
        let Some(pool) = pool.upgrade() else {
            return Ok(());
        };
        std::thread::Builder::new()
            .name("ProcessPoolExecutor-timers".into())
            .spawn(move || timer_loop(pool))?;
        st.running = true;
        st.stop = false;
        Ok(())
    }

    /// Wakes the thread to look at the idle workers again.
    pub(crate) fn poke(&self) {
        self.cv.notify_all();
    }
}

fn timer_loop(pool: Arc<Shared>) {
    let timers = pool.timers();
    loop {
        let next_idle = pool.reap_idle();
        let now = Instant::now();
        let mut fired = Vec::new();
        let mut st = lock(&timers.state);
        if st.stop {
            st.running = false;
            return;
        }
        while let Some(&(at, id)) = st.deadlines.keys().next() {
            if at > now {
                break;
            }
            let proc = st.deadlines.remove(&(at, id)).and_then(|w| w.upgrade());
            st.by_id.remove(&id);
            if let Some(proc) = proc {
                fired.push((id, proc));
            }
        }
        if !fired.is_empty() {
            drop(st);
            for (id, proc) in fired {
                pool.on_deadline(id, &proc);
            }
            continue;
        }
        let next_deadline = st.deadlines.keys().next().map(|k| k.0);
        let next = match (next_deadline, next_idle) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        match next {
            None => drop(timers.cv.wait(st)),
            Some(n) => {
                let d = n.saturating_duration_since(Instant::now());
                drop(timers.cv.wait_timeout(st, d));
            }
        }
    }
}
