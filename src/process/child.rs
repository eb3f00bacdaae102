//! The worker side: how a re-executed copy of the program becomes a worker before `main`, and
//! the loop it then runs.
//!
//! The parent starts a worker by running its own executable (`/proc/self/exe`) with the marker
//! variable set (`marker.rs`) and one end of a Unix socket pair as standard input. A function
//! placed in `.init_array` runs when the program is loaded — before the Rust runtime calls
//! `main`, and so before any user code, in binaries, examples, integration tests and doc-tests
//! alike. It removes the marker from the environment at once and enters worker mode only if
//! [`admit`](super::marker::admit) agrees: not under `AT_SECURE`, the marker well-formed, and
//! standard input a socket whose peer (`SO_PEERCRED`) is this process's parent with the same
//! uid and gid — so whoever can drive a worker already holds its privileges. Otherwise it prints
//! one line on stderr and returns, and the program's own `main` runs as usual.
//!
//! A worker then:
//! - asks for `SIGKILL` when its parent dies (`PR_SET_PDEATHSIG`), and checks `getppid()`
//!   once more afterwards, so a parent that died in between is not missed; no thread is needed,
//!   and no orphan survives its parent, even a `SIGKILL`ed one (the parent starts workers from a
//!   thread that lives as long as the process: `spawner.rs`);
//! - ignores `SIGPIPE`, as Rust's `main` does (a task writing to a closed pipe gets `EPIPE`);
//! - installs its panic hook (`unwind.rs`);
//! - moves the socket off fd 0 (user code reading stdin sees `/dev/null`) and keeps stdout and
//!   stderr (prints show up in the parent's terminal);
//! - maps the rings its parent sends first (`ring.rs`), sends `HELLO` with the marker's token
//!   through them, then serves frames until end-of-stream.

use std::io::{BufReader, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::sync::Arc;

use super::marker::{admit, Facts, Marker, FLAG_PRINT_PANICS, FLAG_STALL_START, WORKER_ENV};
use super::ring::{self, Consumer, Mapping, Producer};
use crate::remote::serve::run_frame;
use crate::remote::wire::{self, read_frame, HELLO};

/// Exit status of a worker that received a frame it could not parse at all.
pub(crate) const EXIT_PROTOCOL: i32 = 70;

#[used]
#[cfg_attr(
    any(target_os = "linux", target_os = "android"),
    link_section = ".init_array"
)]
static BOOTSTRAP: extern "C" fn() = bootstrap;

/// Referenced by the parent so that the linker keeps this object (and `BOOTSTRAP`) in any
/// program that uses the process engine.
pub(crate) fn ensure_linked() {
    std::hint::black_box(&BOOTSTRAP);
}

extern "C" fn bootstrap() {
    let Some(value) = std::env::var_os(WORKER_ENV) else {
        return;
    };
    // Before anything else: no process this one starts, and no code of the program, sees it.
    std::env::remove_var(WORKER_ENV);
    let marker = match admit(&value, &facts()) {
        Ok(m) => m,
        Err(why) => {
            let _ = writeln!(std::io::stderr(), "concurrent-futures: {why}");
            return;
        }
    };
    // SAFETY: plain syscalls. From here on this process is a worker of `marker.parent`.
    unsafe {
        libc::prctl(
            libc::PR_SET_PDEATHSIG,
            libc::SIGKILL as libc::c_ulong,
            0,
            0,
            0,
        );
        if libc::getppid() as u32 != marker.parent {
            // The parent died between the admission check and the request above.
            libc::_exit(0);
        }
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
    name_this_worker();
    #[cfg(feature = "tracing")]
    crate::trace::forward::install();
    crate::remote::unwind::install_hook(marker.flags & FLAG_PRINT_PANICS != 0);
    let code = serve(&marker);
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    // SAFETY: ends the process; nothing of the worker must run afterwards.
    unsafe { libc::_exit(code) }
}

/// Names the worker for `top` and `ps -e` (the kernel's 15-byte `comm`, which is `exe` after a
/// start through `/proc/self/exe`): `prog:worker` from the `prog: worker` its parent gave as
/// `argv[0]`, the program's name shortened to fit.
fn name_this_worker() {
    let Ok(cmdline) = std::fs::read("/proc/self/cmdline") else {
        return;
    };
    let argv0 = cmdline.split(|&b| b == 0).next().unwrap_or_default();
    let prog = argv0.strip_suffix(b": worker").unwrap_or(argv0);
    let keep = prog.len().min(15 - b":worker".len());
    let mut name = prog[..keep].to_vec();
    name.extend_from_slice(b":worker\0");
    // SAFETY: a NUL-terminated buffer of at most 16 bytes, as PR_SET_NAME reads.
    unsafe { libc::prctl(libc::PR_SET_NAME, name.as_ptr() as libc::c_ulong, 0, 0, 0) };
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

/// This process's privileges, parent and standard input, as [`admit`] needs them.
fn facts() -> Facts {
    // SAFETY: plain syscalls filling local, properly sized structures.
    unsafe {
        let mut st: libc::stat = std::mem::zeroed();
        let stdin_socket =
            libc::fstat(0, &mut st) == 0 && st.st_mode & libc::S_IFMT == libc::S_IFSOCK;
        let mut cred: libc::ucred = std::mem::zeroed();
        let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
        // A listening socket reports its own creator as its "peer": it has none.
        let mut accepting: libc::c_int = 0;
        let mut alen = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        let listening = stdin_socket
            && (libc::getsockopt(
                0,
                libc::SOL_SOCKET,
                libc::SO_ACCEPTCONN,
                (&mut accepting as *mut libc::c_int).cast(),
                &mut alen,
            ) != 0
                || accepting != 0);
        let peer = (stdin_socket
            && !listening
            && libc::getsockopt(
                0,
                libc::SOL_SOCKET,
                libc::SO_PEERCRED,
                (&mut cred as *mut libc::ucred).cast(),
                &mut len,
            ) == 0)
            .then_some((cred.pid as u32, cred.uid, cred.gid));
        Facts {
            secure: libc::getauxval(libc::AT_SECURE) != 0,
            ppid: libc::getppid() as u32,
            ids: (
                libc::getuid(),
                libc::geteuid(),
                libc::getgid(),
                libc::getegid(),
            ),
            stdin_socket,
            peer,
        }
    }
}

/// Whether this process runs with elevated privileges (`AT_SECURE`): then its workers would be
/// too, and they refuse to serve, so the parent refuses to build a process pool.
pub(crate) fn is_privileged() -> bool {
    // SAFETY: plain libc call.
    unsafe { libc::getauxval(libc::AT_SECURE) != 0 }
}

/// The worker's writing side: the replies' ring, and the socket for doorbells.
struct Out {
    ring: Producer,
    sock: RawFd,
}

impl Out {
    fn send(&mut self, frame: &[u8]) -> std::io::Result<()> {
        let sock = self.sock;
        ring::write_all(&mut self.ring, frame, sock, || ring::hung_up(sock))
    }
}

/// The worker's reading side: the tasks' ring as a blocking byte stream that ends when the
/// parent closes its end of the socket and the ring is empty.
struct In {
    ring: Consumer,
    sock: RawFd,
    closed: bool,
}

impl Read for In {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            let n = self.ring.read(buf)?;
            if n > 0 && self.ring.take_room_request() {
                // The parent has more for this worker than the ring held: now there is room.
                ring::ring_doorbell(self.sock);
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
            let mut p = libc::pollfd {
                fd: self.sock,
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd.
            let r = unsafe { libc::poll(&mut p, 1, -1) };
            let err = std::io::Error::last_os_error();
            self.ring.woke();
            if r < 0 && err.kind() != std::io::ErrorKind::Interrupted {
                return Err(err);
            }
            self.closed = !ring::drain_doorbells(self.sock);
        }
    }
}

fn serve(marker: &Marker) -> i32 {
    let limit = marker.frame_limit;
    // SAFETY: plain fd syscalls on fds this process owns: fd 0 is the socket the parent passed.
    let fd: RawFd = unsafe { libc::fcntl(0, libc::F_DUPFD_CLOEXEC, 3) };
    if fd < 0 {
        return EXIT_PROTOCOL;
    }
    // SAFETY: as above; `/dev/null` replaces fd 0 so user code cannot read the channel.
    unsafe {
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC);
        if null >= 0 {
            libc::dup2(null, 0);
            libc::close(null);
        }
    }
    // SAFETY: `fd` is a fresh descriptor owned by nothing else.
    let sock = unsafe { UnixStream::from_raw_fd(fd) };
    let map = match ring::recv_fd(sock.as_raw_fd()).and_then(|m| Mapping::open(m.as_raw_fd())) {
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
        sock: fd,
    };
    if marker.flags & FLAG_STALL_START != 0 {
        // SAFETY: a plain syscall; the test that asked for it kills this worker.
        unsafe { libc::raise(libc::SIGSTOP) };
    }
    let mut hello = wire::begin(HELLO, 0, None);
    hello.extend_from_slice(&marker.token);
    if wire::finish(&mut hello, limit).is_err() || out.send(&hello).is_err() {
        return 0;
    }
    let input = In {
        ring: Consumer::new(map, ring::TO_WORKER),
        sock: fd,
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
