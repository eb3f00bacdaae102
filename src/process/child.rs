//! The worker side: how a re-executed copy of the program becomes a worker before `main`, and
//! the loop it then runs.
//!
//! The parent starts a worker by running its own executable (`/proc/self/exe`) with the
//! variable `CONCURRENT_FUTURES_WORKER` set and one end of a Unix socket pair as standard input.
//! A function placed in `.init_array` runs when the program is loaded — before the Rust
//! runtime calls `main`, and so before any user code, in binaries, examples, integration tests
//! and doc-tests alike. If the variable is set, it serves tasks and exits; `main` never runs.
//!
//! The worker moves the socket off fd 0 (user code reading stdin sees `/dev/null`), keeps
//! stdout and stderr (prints show up in the parent's terminal), and starts one watchdog thread
//! that blocks in `poll(POLLRDHUP)` on the socket: when the parent goes away — even by
//! `SIGKILL` — its end closes and the worker exits at once, in the middle of a task if need be.
//! No orphan is left behind.

use std::io::{BufReader, Write};
use std::os::fd::{FromRawFd, RawFd};
use std::os::unix::net::UnixStream;

use super::registry::{lookup_name, RemoteError};
use super::wire::{self, read_frame, send_all, CALL, ERR, FLAG_BATCH, INIT, OK};

/// Set in a worker's environment; its value is the frame limit in bytes.
pub(crate) const WORKER_ENV: &str = "CONCURRENT_FUTURES_WORKER";

/// Exit status of a worker that received a frame it could not parse at all.
pub(crate) const EXIT_PROTOCOL: i32 = 70;

#[used]
#[cfg_attr(
    any(target_os = "linux", target_os = "android", target_os = "freebsd"),
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
    let limit = value
        .to_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or(wire::DEFAULT_FRAME_LIMIT);
    // Processes a task starts must not become workers themselves.
    std::env::remove_var(WORKER_ENV);
    let code = serve(limit);
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    // SAFETY: ends the process; nothing of the worker must run afterwards.
    unsafe { libc::_exit(code) }
}

fn serve(limit: usize) -> i32 {
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
    std::thread::Builder::new()
        .name("concurrent-futures-orphan-watch".into())
        .spawn(move || watch_parent(fd))
        .ok();
    let mut reader = BufReader::with_capacity(1 << 16, &sock);
    loop {
        if reader.buffer().is_empty() {
            wire::spin_until_readable(fd, wire::READ_SPIN);
        }
        let frame = match read_frame(&mut reader, limit) {
            Ok(Some(f)) => f,
            Ok(None) => return 0,
            Err(e) => {
                eprintln!(
                    "concurrent-futures worker {}: unreadable frame, exiting: {e}",
                    std::process::id()
                );
                return EXIT_PROTOCOL;
            }
        };
        let id = frame.id;
        let reply = match frame.kind {
            CALL | INIT => match wire::parse_call(&frame.body) {
                Ok(call) => match lookup_name(call.name) {
                    None => Err(RemoteError::UnknownFunction(call.name.to_owned())),
                    Some(reg) if call.flags & FLAG_BATCH != 0 => (reg.invoke_batch)(call.payload),
                    Some(reg) => (reg.invoke)(call.payload),
                },
                Err(e) => Err(RemoteError::BadArgument(e.to_string())),
            },
            other => Err(RemoteError::BadArgument(format!(
                "unexpected frame kind {other}"
            ))),
        };
        drop(frame);
        if send_reply(fd, id, reply, limit).is_err() {
            return 0;
        }
    }
}

fn send_reply(
    fd: RawFd,
    id: u64,
    reply: Result<Vec<u8>, RemoteError>,
    limit: usize,
) -> std::io::Result<()> {
    let (kind, body) = match reply {
        Ok(b) if b.len() + wire::HEADER - 4 <= limit => (OK, b),
        Ok(b) => (
            ERR,
            encode_err(&RemoteError::BadResult(format!(
                "the result is {} bytes, over the frame limit of {limit} bytes",
                b.len()
            ))),
        ),
        Err(e) => (ERR, encode_err(&e)),
    };
    let mut head = wire::begin(kind, id, None);
    let len = (head.len() - 4 + body.len()) as u32;
    head[..4].copy_from_slice(&len.to_le_bytes());
    send_all(fd, &head)?;
    send_all(fd, &body)
}

fn encode_err(e: &RemoteError) -> Vec<u8> {
    bincode::serialize(e).unwrap_or_default()
}

/// Exits as soon as the parent's end of the socket closes.
fn watch_parent(fd: RawFd) {
    loop {
        let mut p = libc::pollfd {
            fd,
            events: libc::POLLRDHUP,
            revents: 0,
        };
        // SAFETY: one valid pollfd; `fd` stays open for the life of the process.
        let n = unsafe { libc::poll(&mut p, 1, -1) };
        if n < 0 {
            if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return;
        }
        if p.revents & (libc::POLLRDHUP | libc::POLLHUP | libc::POLLERR) != 0 {
            let _ = std::io::stdout().flush();
            // SAFETY: the parent is gone; end the process now, whatever the main thread does.
            unsafe { libc::_exit(0) }
        }
    }
}
