#![doc = include_str!("reader.md")]

use std::process::Child;
use std::sync::Arc;
use std::time::Duration;

use super::pool::Shared;
use super::port::Next;
use super::proc::{KillReason, WorkerProc};
use super::sys::{Channel, ExitWatch, Stop, Woke};
use crate::remote::wire;

/// What a reader thread owns.
pub(crate) struct Parts {
    pub(crate) proc: Arc<WorkerProc>,
    pub(crate) child: Child,
    pub(crate) sock: Channel,
    pub(crate) exit: ExitWatch,
}

/// How long a process that closed its socket may take to exit before it is killed.
const EXIT_GRACE: Duration = Duration::from_secs(2);

pub(crate) fn read_loop(pool: Arc<Shared>, parts: Parts) {
    let Parts {
        proc,
        mut child,
        sock,
        exit,
    } = parts;
    let port = &proc.port;
    let mut exited = false;
    // The worker's end of the socket closed: what is left in the ring is all there will be.
    let mut closed = false;
    loop {
        port.deliver(&pool, &proc);
        // The worker may have rung because it made room for what its outbox holds. (Under the
        // outbox's lock: a writer that asked for room has finished its flush by then, so a
        // doorbell for room is never missed.)
        proc.flush();
        match port.next(&proc, closed, wire::READ_SPIN) {
            Next::Again => continue,
            Next::Sleep => {}
            Next::Done | Next::Broken => break,
        }
        let woke = sock.wait_or_exit(&exit, proc.pid);
        port.woke();
        closed = !sock.drain();
        if let Woke::Exited = woke {
            exited = true;
            break;
        }
    }
    // Nothing more is written to it.
    proc.disconnect();
    port.finish(&pool, &proc);
    drop(sock);
    if !exited && !exit.wait(proc.pid, EXIT_GRACE) {
        proc.signal(
            Stop::Kill,
            KillReason::Protocol("it closed its channel but did not exit".into()),
        );
    }
    let (status, reason) = proc.reap(&mut child);
    drop(exit);
    pool.on_exit(&proc, status, reason);
}
