//! A worker rank: serves its manager's tasks until told to finish. Tasks run in a local
//! process pool (the process engine), so a task that crashes kills a local worker process, not
//! the rank: MPI never sees a rank die, and the manager gets `WorkerDied` with this host and
//! the dead process's pid.
//!
//! The inbox (on the MPI thread) only hands each `TASK` to the local pool, which never blocks;
//! the local pool's reader thread relays the reply straight back through the MPI thread. `END`
//! wakes the thread that called [`serve`], which waits for the replies still on their way,
//! says `FIN` and returns.
//!
//! A worker rank watches its manager ([`liveness`](super::liveness)): a manager silent past the
//! rank timeout (its node crashed, or cut off), or reported failed by the library, is lost;
//! the rank then kills its local workers and [`serve`] returns an error at once, so every
//! worker rank of a job whose manager is gone ends within the timeout.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};

use std::time::Duration;

use super::comm::{self, Event, Handoff, Open};
use super::protocol::{self, Ready, END, FIN, READY, TASK};
use crate::error::TaskError;
use crate::executor::SubmitOptions;
use crate::process::ProcessPoolExecutor;
use crate::remote::codec;
use crate::remote::registry::RemoteError;
use crate::remote::serve::reply_frame;
use crate::remote::wire::Frame;
use crate::sync::lock;

struct Shared {
    pool: ProcessPoolExecutor,
    /// END came; or the manager was lost (why).
    ended: Mutex<(bool, Option<String>)>,
    changed: Condvar,
    /// Tasks handed to the local pool whose reply has not been sent yet.
    outstanding: AtomicUsize,
    host: String,
    limit: usize,
}

/// Why [`serve`] returned early.
#[derive(Debug)]
pub(crate) enum Stopped {
    /// The rank could not start serving.
    Failed(String),
    /// The manager was lost (silent past the timeout, or failed): the rank stopped.
    ManagerLost(String),
}

impl std::fmt::Display for Stopped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Stopped::Failed(e) | Stopped::ManagerLost(e) => f.write_str(e),
        }
    }
}

impl From<String> for Stopped {
    fn from(e: String) -> Self {
        Stopped::Failed(e)
    }
}

/// Serves the manager at `manager` of `open` with `workers` local worker processes; returns
/// when the manager says `END`, or with an error once it is lost (silent for `timeout`).
pub(crate) fn serve(
    open: Open,
    manager: i32,
    workers: usize,
    limit: usize,
    timeout: Duration,
) -> Result<(), Stopped> {
    let mpi = comm::get()?;
    let pool = ProcessPoolExecutor::builder()
        .max_workers(workers)
        .build()
        .map_err(|e| e.to_string())?;
    let shared = Arc::new(Shared {
        pool,
        ended: Mutex::new((false, None)),
        changed: Condvar::new(),
        outstanding: AtomicUsize::new(0),
        host: protocol::hostname(),
        limit,
    });
    // A TASK may beat `open`'s return (the endpoint id): it waits in the hand-off.
    let handoff: Arc<Handoff<u64>> = Arc::new(Handoff::new());
    let relay = move |shared: &Arc<Shared>| {
        let shared = shared.clone();
        move |&ep: &u64, rank: i32, event: Event| match event {
            _ if rank != manager => {}
            Event::Message(bytes) => on_message(&shared, mpi, ep, manager, bytes),
            Event::Lost(why) => {
                lock(&shared.ended).1 = Some(why);
                shared.changed.notify_all();
            }
        }
    };
    let inbox = {
        let (handoff, relay) = (handoff.clone(), relay(&shared));
        Box::new(move |rank: i32, event: Event| handoff.deliver(rank, event, &relay))
    };
    let opened = mpi.open(open, inbox)?;
    let ep = opened.ep;
    handoff.set(ep, relay(&shared));
    let body = codec::encode(&Ready::this(workers as u32)).map_err(|e| format!("READY: {e}"))?;
    mpi.send(ep, manager, protocol::frame(READY, 0, &body));
    mpi.watch(ep, vec![manager], timeout);
    let mut ended = lock(&shared.ended);
    while ended.1.is_none() && (!ended.0 || shared.outstanding.load(Ordering::Acquire) > 0) {
        ended = shared
            .changed
            .wait(ended)
            .unwrap_or_else(|p| p.into_inner());
    }
    let lost = ended.1.take();
    drop(ended);
    if let Some(why) = lost {
        shared.pool.kill_workers();
        shared.pool.shutdown(true, true);
        mpi.close(ep);
        return Err(Stopped::ManagerLost(format!(
            "its manager (rank {manager}) was lost: {why}; this worker rank stops"
        )));
    }
    shared.pool.shutdown(true, false);
    mpi.send(ep, manager, protocol::frame(FIN, 0, &[]));
    mpi.close(ep);
    // The program may finalize MPI as soon as this returns (`join_comm`).
    mpi.wait_closed(ep, comm::CLOSE_WAIT);
    Ok(())
}

fn on_message(
    shared: &Arc<Shared>,
    mpi: &'static comm::Mpi,
    ep: u64,
    manager: i32,
    bytes: Vec<u8>,
) {
    for frame in protocol::frames(&bytes) {
        match frame {
            Some(frame) => on_frame(shared, mpi, ep, manager, frame),
            None => log::warn!("concurrent-futures: ignored a malformed message from the manager"),
        }
    }
}

fn on_frame(shared: &Arc<Shared>, mpi: &'static comm::Mpi, ep: u64, manager: i32, frame: Frame) {
    match frame.kind {
        TASK => {
            let id = frame.id;
            let Some((timeout, call)) = protocol::parse_task(&frame.body) else {
                let err = RemoteError::BadArgument("malformed TASK message".into());
                mpi.send(ep, manager, reply_frame(id, Err(err), shared.limit));
                return;
            };
            shared.outstanding.fetch_add(1, Ordering::AcqRel);
            let relay = {
                let shared = shared.clone();
                Box::new(move |reply: Result<Vec<u8>, TaskError>| {
                    let reply = reply.map_err(|e| {
                        RemoteError::Failed(match e {
                            TaskError::WorkerDied {
                                pid,
                                how,
                                host: None,
                            } => TaskError::WorkerDied {
                                pid,
                                how,
                                host: Some(shared.host.clone()),
                            },
                            other => other,
                        })
                    });
                    mpi.send(ep, manager, reply_frame(id, reply, shared.limit));
                    if shared.outstanding.fetch_sub(1, Ordering::AcqRel) == 1 {
                        let _g = lock(&shared.ended);
                        shared.changed.notify_all();
                    }
                })
            };
            let mut options = SubmitOptions::new().retries(0);
            if let Some(t) = timeout {
                options = options.timeout(t);
            }
            let _ = shared.pool.submit_frame(
                |local| {
                    let mut f = call.to_vec();
                    if f.len() >= 13 {
                        f[5..13].copy_from_slice(&local.to_le_bytes());
                    }
                    f
                },
                options,
                relay,
            );
        }
        END => {
            lock(&shared.ended).0 = true;
            shared.changed.notify_all();
        }
        other => log::warn!("concurrent-futures: unexpected message kind {other} from the manager"),
    }
}
