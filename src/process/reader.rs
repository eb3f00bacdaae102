#![doc = include_str!("reader.md")]

use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::process::Child;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::pool::Shared;
use super::port::Next;
use super::proc::{has_exited, KillReason, WorkerProc};
use super::ring;
use crate::remote::wire;

/// What a reader thread owns.
pub(crate) struct Parts {
    pub(crate) proc: Arc<WorkerProc>,
    pub(crate) child: Child,
    pub(crate) sock: UnixStream,
    pub(crate) pidfd: Option<OwnedFd>,
}

/// How long a process that closed its socket may take to exit before it is killed.
const EXIT_GRACE: Duration = Duration::from_secs(2);
/// Without a pidfd: how often a blocked reader asks whether the process ended.
const FALLBACK_POLL_MS: i32 = 250;

enum Woke {
    Readable,
    Exited,
}

pub(crate) fn read_loop(pool: Arc<Shared>, parts: Parts) {
    let Parts {
        proc,
        mut child,
        sock,
        pidfd,
    } = parts;
    let fd = sock.as_raw_fd();
    let pidfd_raw = pidfd.as_ref().map(AsRawFd::as_raw_fd);
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
        let woke = wait(fd, pidfd_raw, proc.pid);
        port.woke();
        closed = !ring::drain_doorbells(fd);
        if let Woke::Exited = woke {
            exited = true;
            break;
        }
    }
    // Nothing more is written to it.
    proc.disconnect();
    port.finish(&pool, &proc);
    drop(sock);
    if !exited && !wait_exit(pidfd_raw, proc.pid, EXIT_GRACE) {
        proc.signal(
            libc::SIGKILL,
            KillReason::Protocol("it closed its channel but did not exit".into()),
        );
    }
    let (status, reason) = proc.reap(&mut child);
    drop(pidfd);
    pool.on_exit(&proc, status, reason);
}

/// Blocks until the socket is readable (or closed) or the process ended.
fn wait(sock: RawFd, pidfd: Option<RawFd>, pid: u32) -> Woke {
    loop {
        let mut fds = [
            libc::pollfd {
                fd: sock,
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: pidfd.unwrap_or(-1),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        let timeout = if pidfd.is_some() {
            -1
        } else {
            FALLBACK_POLL_MS
        };
        // SAFETY: two valid pollfds (a negative fd is ignored by poll).
        let n = unsafe { libc::poll(fds.as_mut_ptr(), 2, timeout) };
        if n < 0 {
            if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                continue;
            }
            // Cannot poll: fall back to a blocking-free check of the process.
            if has_exited(pid) {
                return Woke::Exited;
            }
            std::thread::sleep(Duration::from_millis(FALLBACK_POLL_MS as u64));
            continue;
        }
        if fds[1].revents != 0 {
            return Woke::Exited;
        }
        if fds[0].revents != 0 {
            return Woke::Readable;
        }
        if pidfd.is_none() && has_exited(pid) {
            return Woke::Exited;
        }
    }
}

/// Waits up to `limit` for the process to end; whether it did.
fn wait_exit(pidfd: Option<RawFd>, pid: u32, limit: Duration) -> bool {
    let until = Instant::now() + limit;
    loop {
        if has_exited(pid) {
            return true;
        }
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        match pidfd {
            Some(fd) => {
                let mut p = libc::pollfd {
                    fd,
                    events: libc::POLLIN,
                    revents: 0,
                };
                // SAFETY: one valid pollfd.
                unsafe { libc::poll(&mut p, 1, left.as_millis().min(1000) as i32 + 1) };
            }
            None => std::thread::sleep(left.min(Duration::from_millis(10))),
        }
    }
}
