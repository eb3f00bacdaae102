//! One worker process as the parent sees it: how it is started, written to, signalled and
//! described when it ends.

use std::io;
use std::process::{Child, ExitStatus};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::marker::{Marker, WORKER_ENV};
use super::outbox::Outbox;
use super::port::Port;
use super::ring::{self, Consumer, Mapping, Producer};
use super::sys::{self, Channel, ExitWatch, Stop};
use crate::sync::lock;

/// Why the parent signalled a worker (so its death is reported as what it was).
#[derive(Clone, Debug)]
pub(crate) enum KillReason {
    /// Its task ran past its time limit.
    Timeout(Duration),
    /// The running task was stopped on request (`ProcessPoolExecutor::kill`).
    Killed,
    /// `terminate_workers` / `kill_workers`.
    Terminated,
    /// It sent a frame the parent could not read, or broke the protocol.
    Protocol(String),
    /// It did not say `HELLO` in time (it is not a worker, or cannot become one).
    NoHello(Duration),
}

struct ProcState {
    reason: Option<KillReason>,
    reaped: bool,
}

pub(crate) struct WorkerProc {
    pub(crate) pid: u32,
    sock: Channel,
    /// The frames for the worker, written into its task ring as it makes room (`outbox.rs`).
    out: Mutex<Outbox>,
    state: Mutex<ProcState>,
    /// The token the worker must send back in its `HELLO`.
    pub(crate) token: [u8; 16],
    /// The ring replies arrive through, with the frames taken from it (`port.rs`).
    pub(crate) port: Port,
}

/// A worker just started: the handle, the child (to reap), the socket end to read replies from
/// and, where the kernel has `pidfd_open` (Linux 5.3), a descriptor that becomes readable when
/// the process ends.
pub(crate) struct Spawned {
    pub(crate) proc: WorkerProc,
    pub(crate) child: Child,
    pub(crate) reader: Channel,
    pub(crate) exit: ExitWatch,
}

/// What the worker is told about its pool.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SpawnOptions {
    pub(crate) frame_limit: usize,
    pub(crate) flags: u32,
}

/// What a worker is called in `ps` (its `argv[0]`): `prog: worker`, after the program's own
/// name, as pools in the field name theirs (the kernel would otherwise show `exe`, the link
/// the worker was started through).
pub(crate) fn worker_name() -> String {
    let prog = std::env::args_os()
        .next()
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::current_exe().ok())
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "concurrent-futures".into());
    format!("{prog}: worker")
}

impl WorkerProc {
    /// Starts a worker: this program, re-executed (from the spawner thread) with a fresh marker
    /// and one end of a socket pair as its stdin.
    pub(crate) fn spawn(opts: SpawnOptions) -> io::Result<Spawned> {
        sys::keep_hook();
        let (ours, theirs) = Channel::pair()?; // both close-on-exec
        let (map, shm) = Mapping::create()?;
        let map = std::sync::Arc::new(map);
        let marker = Marker::new(opts.frame_limit, opts.flags);
        let mut cmd = sys::worker_command(&worker_name());
        cmd.env(WORKER_ENV, marker.encode()).stdin(theirs);
        let child = super::spawner::spawn(cmd)?;
        let exit = ExitWatch::new(child.id());
        let reader = match ours.try_clone() {
            Ok(r) => r,
            Err(e) => {
                let mut child = child;
                let _ = child.kill();
                let _ = child.wait();
                return Err(e);
            }
        };
        // The first thing the worker reads: the rings' memory (and, where the platform needs
        // it, the read end of the parent's lifeline: `sys`). A copy of the program that does
        // not become a worker never reads it, and may have exited already (then this fails with
        // EPIPE): either way its reader sees it end without a HELLO, and the pool says why, as
        // for any copy that does not become a worker; a live one that somehow got nothing says
        // nothing and is stopped at the HELLO deadline.
        let _ = ours.send_start(&shm, &child);
        drop(shm);
        Ok(Spawned {
            proc: WorkerProc {
                pid: child.id(),
                sock: ours,
                out: Mutex::new(Outbox::new(Producer::new(map.clone(), ring::TO_WORKER))),
                state: Mutex::new(ProcState {
                    reason: None,
                    reaped: false,
                }),
                token: marker.token,
                port: Port::new(Consumer::new(map, ring::TO_PARENT), opts.frame_limit),
            },
            child,
            reader,
            exit,
        })
    }

    /// Queues a frame (called under the dispatcher's lock, so frames queue in the order the
    /// worker must run them); [`flush`](Self::flush) writes it.
    pub(crate) fn queue(&self, frame: Arc<Vec<u8>>) {
        lock(&self.out).push(frame);
    }

    /// Queues a frame and writes what fits.
    pub(crate) fn send(&self, frame: Vec<u8>) {
        self.queue(Arc::new(frame));
        self.flush();
    }

    /// Writes what the ring has room for, oldest frame first, without waiting: the rest is
    /// written when the worker makes room (`outbox.rs`). A worker whose ring is corrupt is
    /// killed with a protocol error.
    pub(crate) fn flush(&self) {
        let mut out = lock(&self.out);
        match out.flush() {
            Ok(f) if f.ring => self.sock.ring(),
            Ok(_) => {}
            Err(corrupt) => {
                out.close();
                drop(out);
                self.signal(Stop::Kill, KillReason::Protocol(corrupt.to_string()));
            }
        }
    }

    /// A reply came for the oldest frame in the ring. `Err`: the reply or the ring's `head`
    /// breaks the protocol.
    pub(crate) fn answered(&self) -> Result<(), String> {
        lock(&self.out).answered()
    }

    /// Whether the worker had taken its oldest unanswered task from the ring (it may have
    /// started it); one it never took did not start.
    pub(crate) fn took_oldest(&self) -> bool {
        lock(&self.out).took_oldest()
    }

    /// Drops the frames not yet written (the worker is being killed).
    pub(crate) fn clear_outbox(&self) {
        lock(&self.out).close();
    }

    /// Closes the parent's writing end: the worker reads end-of-stream and exits.
    pub(crate) fn close(&self) {
        self.sock.close_write();
    }

    /// The worker is gone: nothing more is written to it, and the parent's end of the socket is
    /// shut both ways (a doorbell to a descendant that inherited the worker's end goes nowhere).
    pub(crate) fn disconnect(&self) {
        lock(&self.out).close();
        self.sock.close();
    }

    /// Stops the worker `how` (unless the process was already reaped) and records why.
    pub(crate) fn signal(&self, how: Stop, reason: KillReason) {
        let mut st = lock(&self.state);
        if st.reaped {
            return;
        }
        if st.reason.is_none() {
            st.reason = Some(reason);
        }
        // The pid cannot have been reused: the child is not reaped (`reaped` is set, under this
        // lock, before `wait`).
        sys::stop(self.pid, how);
    }

    /// Reaps the process (blocking until it ended) and returns its status and any kill reason.
    pub(crate) fn reap(&self, child: &mut Child) -> (io::Result<ExitStatus>, Option<KillReason>) {
        let reason = {
            let mut st = lock(&self.state);
            st.reaped = true;
            st.reason.clone()
        };
        (child.wait(), reason)
    }
}

/// "killed by signal 9 (SIGKILL)", "exited with status 3".
pub(crate) fn describe(status: &io::Result<ExitStatus>) -> String {
    sys::describe(status, super::child::EXIT_PROTOCOL)
}

/// Why a pool whose workers die before they can serve is broken.
pub(crate) fn cannot_start(pid: u32, how: &str) -> String {
    let program = sys::worker_program();
    let exe = std::fs::read_link(&program)
        .unwrap_or(program)
        .display()
        .to_string();
    let loader = std::path::Path::new(&exe)
        .file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with("ld-") || n.starts_with("ld.so"));
    let hint = if loader {
        format!(
            ": this program was started through the dynamic loader ({exe}), which cannot be \
             re-executed as the program; run the program directly"
        )
    } else {
        format!(
            ": re-executing {exe} did not give a worker (started through a loader or an \
             emulator, or killed at start?); run the program directly"
        )
    };
    format!("worker processes cannot start: worker {pid} {how} before it could serve{hint}")
}
