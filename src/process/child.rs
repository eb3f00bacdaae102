//! The worker side: how a re-executed copy of the program becomes a worker before `main`, and
//! the loop it then runs. (The mechanisms named here are Linux's; `sys/` has each platform's.)
//!
//! The parent starts a worker by running its own program (`/proc/self/exe`) with the marker
//! variable set (`marker.rs`) and one end of a Unix socket pair as standard input. A function
//! placed in `.init_array` (`__mod_init_func` on macOS) runs when the program is loaded —
//! before the Rust runtime calls `main`, and so before any user code, in binaries, examples,
//! integration tests and doc-tests alike. It removes the marker from the environment at once
//! and enters worker mode only if [`admit`](super::marker::admit) agrees: not running with
//! elevated privileges (`AT_SECURE`, `issetugid`), the marker well-formed, and standard input a
//! socket whose peer (`SO_PEERCRED`, `getpeereid`…) is this process's parent with the same uid
//! and gid — so whoever can drive a worker already holds its privileges. Otherwise it prints one
//! line on stderr and returns, and the program's own `main` runs as usual.
//!
//! A worker then:
//! - moves the socket off fd 0 (user code reading stdin sees `/dev/null`) and keeps stdout and
//!   stderr (prints show up in the parent's terminal);
//! - receives what its parent sends first: the rings' memory (`ring.rs`) and, on the portable
//!   Unix path, the read end of the parent's lifeline;
//! - ties its life to its parent's: `PR_SET_PDEATHSIG` (`SIGKILL` when the parent dies: no
//!   thread is needed, and no orphan survives its parent, even a `SIGKILL`ed one; the parent
//!   starts workers from a thread that lives as long as the process: `spawner.rs`), or a thread
//!   waiting for end-of-file on the lifeline; then checks `getppid()` once more, so a parent
//!   that died in between is not missed;
//! - ignores `SIGPIPE`, as Rust's `main` does (a task writing to a closed pipe gets `EPIPE`);
//! - installs its panic hook (`unwind.rs`);
//! - sends `HELLO` with the marker's token through the rings, then serves frames until
//!   end-of-stream.

use std::io::{BufReader, Read, Write};
use std::sync::Arc;

use super::marker::{admit, Marker, FLAG_PRINT_PANICS, FLAG_STALL_START, WORKER_ENV};
use super::ring::{self, Consumer, Mapping, Producer};
use super::sys::{self, Channel, SharedMemory};
use crate::remote::serve::run_frame;
use crate::remote::wire::{self, read_frame, HELLO};

/// Exit status of a worker that received a frame it could not parse at all.
pub(crate) const EXIT_PROTOCOL: i32 = 70;

/// The start-up hook (`sys::keep_hook` places it): turns this process into a worker if it was
/// started as one, before `main`.
pub(crate) extern "C" fn bootstrap() {
    let Some(value) = std::env::var_os(WORKER_ENV) else {
        return;
    };
    // Before anything else: no process this one starts, and no code of the program, sees it.
    std::env::remove_var(WORKER_ENV);
    let marker = match admit(&value, &sys::facts()) {
        Ok(m) => m,
        Err(why) => {
            let _ = writeln!(std::io::stderr(), "concurrent-futures: {why}");
            return;
        }
    };
    // From here on this process is a worker of `marker.parent`; the channel's first message
    // carries the rings' memory, and where the platform needs one, the parent's lifeline.
    let Ok(sock) = Channel::from_stdin() else {
        sys::exit_now(EXIT_PROTOCOL);
    };
    let (shm, lifeline) = match sock.recv_start() {
        Ok(start) => start,
        Err(e) => {
            let _ = writeln!(
                std::io::stderr(),
                "concurrent-futures worker {}: no channel from the parent: {e}",
                std::process::id()
            );
            sys::exit_now(EXIT_PROTOCOL);
        }
    };
    if !sys::bind_to_parent(marker.parent, lifeline) {
        // The parent died between the admission check and now.
        sys::exit_now(0);
    }
    sys::ignore_sigpipe();
    sys::name_worker();
    #[cfg(feature = "tracing")]
    crate::trace::forward::install();
    crate::remote::unwind::install_hook(marker.flags & FLAG_PRINT_PANICS != 0);
    let code = serve(&marker, sock, shm);
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    sys::exit_now(code)
}

/// Sends the events task `id` emitted (if any) ahead of its reply. Too many to fit the frame
/// limit: dropped.
#[cfg(feature = "tracing")]
fn send_events(out: &mut Out, id: u64, limit: usize) -> std::io::Result<()> {
    let events = crate::trace::forward::take();
    if events.is_empty() {
        return Ok(());
    }
    let Ok(body) = crate::remote::codec::encode(&events) else {
        return Ok(());
    };
    let mut f = wire::begin(wire::EVENTS, id, None);
    f.extend_from_slice(&body);
    match wire::finish(&mut f, limit) {
        Ok(()) => out.send(&f),
        Err(_) => Ok(()),
    }
}

/// Whether this process runs with elevated privileges: then its workers would be too, and they
/// refuse to serve, so the parent refuses to build a process pool.
pub(crate) fn is_privileged() -> bool {
    sys::privileged()
}

/// The worker's writing side: the replies' ring, and the socket for doorbells.
struct Out {
    ring: Producer,
    sock: Arc<Channel>,
}

impl Out {
    fn send(&mut self, frame: &[u8]) -> std::io::Result<()> {
        ring::write_all(&mut self.ring, frame, &self.sock)
    }
}

/// The worker's reading side: the tasks' ring as a blocking byte stream that ends when the
/// parent closes its end of the socket and the ring is empty.
struct In {
    ring: Consumer,
    sock: Arc<Channel>,
    closed: bool,
}

impl Read for In {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            let n = self.ring.read(buf)?;
            if n > 0 && self.ring.take_room_request() {
                // The parent has more for this worker than the ring held: now there is room.
                self.sock.ring();
            }
            if n > 0 || buf.is_empty() {
                return Ok(n);
            }
            if self.closed {
                return Ok(0);
            }
            if self.ring.spin(wire::READ_SPIN)? || self.ring.prepare_sleep()? {
                continue;
            }
            let polled = self.sock.wait();
            self.ring.woke();
            polled?;
            self.closed = !self.sock.drain();
        }
    }
}

fn serve(marker: &Marker, sock: Channel, shm: SharedMemory) -> i32 {
    let limit = marker.frame_limit;
    let sock = Arc::new(sock);
    let map = match Mapping::open(&shm) {
        Ok(m) => Arc::new(m),
        Err(e) => {
            let _ = writeln!(
                std::io::stderr(),
                "concurrent-futures worker {}: no channel from the parent: {e}",
                std::process::id()
            );
            return EXIT_PROTOCOL;
        }
    };
    let mut out = Out {
        ring: Producer::new(map.clone(), ring::TO_PARENT),
        sock: sock.clone(),
    };
    if marker.flags & FLAG_STALL_START != 0 {
        sys::stall(); // the test that asked for it kills this worker
    }
    let mut hello = wire::begin(HELLO, 0, None);
    hello.extend_from_slice(&marker.token);
    if wire::finish(&mut hello, limit).is_err() || out.send(&hello).is_err() {
        return 0;
    }
    let input = In {
        ring: Consumer::new(map, ring::TO_WORKER),
        sock,
        closed: false,
    };
    let mut reader = BufReader::with_capacity(1 << 16, input);
    loop {
        let frame = match read_frame(&mut reader, limit) {
            Ok(Some(f)) => f,
            Ok(None) => return 0,
            Err(e) => {
                let _ = writeln!(
                    std::io::stderr(),
                    "concurrent-futures worker {}: unreadable frame, exiting: {e}",
                    std::process::id()
                );
                return EXIT_PROTOCOL;
            }
        };
        #[cfg(feature = "tracing")]
        let id = frame.id;
        let reply = run_frame(frame, limit);
        #[cfg(feature = "tracing")]
        if send_events(&mut out, id, limit).is_err() {
            return 0;
        }
        if out.send(&reply).is_err() {
            return 0;
        }
    }
}
