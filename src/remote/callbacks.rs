#![doc = include_str!("callbacks.md")]

use std::cell::Cell;
use std::sync::mpsc::{channel, Sender};
use std::sync::{Arc, Condvar, Mutex};

use crate::future::Deferred;
use crate::sync::lock;

/// Callbacks posted and not yet finished.
#[derive(Default)]
struct Outstanding {
    n: Mutex<usize>,
    cv: Condvar,
}

std::thread_local! {
    /// The `Outstanding` (by address) of the pool whose callback thread this is.
    static RUNNER_OF: Cell<usize> = const { Cell::new(0) };
}

pub(crate) struct Callbacks {
    tx: Mutex<Sender<Deferred>>,
    outstanding: Arc<Outstanding>,
}

impl Callbacks {
    /// Starts the pool's callback thread. It ends when the pool's last handle is gone.
    pub(crate) fn start() -> std::io::Result<Callbacks> {
        let (tx, rx) = channel::<Deferred>();
        let outstanding = Arc::new(Outstanding::default());
        let o = outstanding.clone();
        std::thread::Builder::new()
            .name("ProcessPoolExecutor-callbacks".into())
            .spawn(move || {
                RUNNER_OF.with(|c| c.set(Arc::as_ptr(&o) as usize));
                for job in rx {
                    // Each callback is contained where it runs (`run_callback`); the job's own
                    // drop (of the future's last handle, and so of its value) is contained here.
                    crate::error::drop_quietly(std::panic::catch_unwind(
                        std::panic::AssertUnwindSafe(job),
                    ));
                    let mut n = lock(&o.n);
                    *n -= 1;
                    if *n == 0 {
                        o.cv.notify_all();
                    }
                }
            })?;
        Ok(Callbacks {
            tx: Mutex::new(tx),
            outstanding,
        })
    }

    /// Hands `job` (a future's callbacks) to the callback thread.
    pub(crate) fn post(&self, job: Deferred) {
        *lock(&self.outstanding.n) += 1;
        if let Err(back) = lock(&self.tx).send(job) {
            // The thread is gone (only while the process exits): run them here rather than
            // never.
            let mut n = lock(&self.outstanding.n);
            *n -= 1;
            drop(n);
            crate::error::drop_quietly(std::panic::catch_unwind(std::panic::AssertUnwindSafe(
                back.0,
            )));
        }
    }

    /// Whether the current thread is this pool's callback thread.
    pub(crate) fn on_runner(&self) -> bool {
        RUNNER_OF.with(|c| c.get()) == Arc::as_ptr(&self.outstanding) as usize
    }

    /// Blocks until every posted callback has run (at once on the callback thread itself).
    pub(crate) fn wait_drained(&self) {
        if self.on_runner() {
            return;
        }
        let mut n = lock(&self.outstanding.n);
        while *n > 0 {
            n = match self.outstanding.cv.wait(n) {
                Ok(g) => g,
                Err(p) => p.into_inner(),
            };
        }
    }
}
