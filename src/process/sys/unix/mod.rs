//! What every Unix shares: the channel (a socket pair carrying doorbells and descriptors), the
//! rings' mapping, signals, reaping, and the worker's first steps. Where Linux has a stronger
//! mechanism it is in `linux.rs`; the POSIX one every other Unix uses is in `portable.rs`
//! (chosen on Linux too with `--cfg concurrent_futures_portable_unix`, so it runs in CI).

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::ptr::NonNull;
use std::time::{Duration, Instant};

#[cfg(all(target_os = "linux", not(concurrent_futures_portable_unix)))]
#[path = "linux.rs"]
mod os;
#[cfg(not(all(target_os = "linux", not(concurrent_futures_portable_unix))))]
#[path = "portable.rs"]
mod os;

mod handles;

pub(crate) use self::handles::{Channel, ExitWatch, Lifeline, SharedMemory};
pub(crate) use self::os::{
    bind_to_parent, facts, lifeline, name_worker, privileged, random_token, worker_program,
};
use self::os::{exit_watch, shared_memory, EXIT_POLL};

// ----- starting, stopping and reaping a worker ----------------------------------------------

/// The command that starts a worker: this program ([`worker_program`]), called `name` in `ps`
/// (its `argv[0]`).
pub(crate) fn worker_command(name: &str) -> std::process::Command {
    use std::os::unix::process::CommandExt;
    let mut cmd = std::process::Command::new(worker_program());
    cmd.arg0(name);
    cmd
}

/// Starts a worker (on the spawner thread). Unix needs nothing more than the start: the worker
/// ties itself to its parent (`bind_to_parent`).
pub(crate) fn start_worker(mut cmd: std::process::Command) -> io::Result<std::process::Child> {
    cmd.spawn()
}

/// How the parent stops a worker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stop {
    /// A request (`SIGTERM`): the worker may act on it, or ignore it.
    Ask,
    /// At once (`SIGKILL`).
    Kill,
}

/// Sends `how` to process `pid` (a child not yet reaped, so the pid is still ours).
pub(crate) fn stop(pid: u32, how: Stop) {
    let sig = match how {
        Stop::Ask => libc::SIGTERM,
        Stop::Kill => libc::SIGKILL,
    };
    // SAFETY: a plain syscall.
    unsafe { libc::kill(pid as libc::pid_t, sig) };
}

/// Whether process `pid` (our unreaped child) has ended, without reaping it.
pub(crate) fn has_exited(pid: u32) -> bool {
    // SAFETY: `waitid` with `WNOWAIT` only inspects; `info` is a local, zeroed structure.
    unsafe {
        let mut info: libc::siginfo_t = std::mem::zeroed();
        let r = libc::waitid(
            libc::P_PID,
            pid as libc::id_t,
            &mut info,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
        );
        r == 0 && info.si_pid() != 0
    }
}

/// "killed by signal 9 (SIGKILL)", "exited with status 3".
pub(crate) fn describe(status: &io::Result<ExitStatus>, protocol_exit: i32) -> String {
    match status {
        Err(e) => format!("its status could not be read: {e}"),
        Ok(s) => {
            if let Some(sig) = s.signal() {
                let core = if s.core_dumped() { ", core dumped" } else { "" };
                format!("killed by signal {sig} ({}{core})", signal_name(sig))
            } else if let Some(code) = s.code() {
                if code == protocol_exit {
                    format!("exited with status {code} (it received a frame it could not read)")
                } else {
                    format!("exited with status {code}")
                }
            } else {
                "ended".to_owned()
            }
        }
    }
}

fn signal_name(sig: i32) -> &'static str {
    match sig {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGILL => "SIGILL",
        libc::SIGTRAP => "SIGTRAP",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGUSR1 => "SIGUSR1",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGUSR2 => "SIGUSR2",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGALRM => "SIGALRM",
        libc::SIGTERM => "SIGTERM",
        libc::SIGXCPU => "SIGXCPU",
        libc::SIGSYS => "SIGSYS",
        _ => "signal",
    }
}

// ----- waiting on the channel ---------------------------------------------------------------

/// What woke a reader.
pub(crate) enum Woke {
    /// The socket has doorbells, or its end.
    Readable,
    /// The process ended.
    Exited,
}

/// Blocks until `sock` is readable (or closed) or process `pid` ended (`exit`: its
/// [`exit_watch`], readable when it ends; without one, asked every [`EXIT_POLL`]).
fn wait(sock: RawFd, exit: Option<RawFd>, pid: u32) -> Woke {
    loop {
        let mut fds = [
            pollfd(sock, libc::POLLIN),
            pollfd(exit.unwrap_or(-1), libc::POLLIN),
        ];
        let timeout = if exit.is_some() {
            -1
        } else {
            EXIT_POLL.as_millis() as i32
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
            std::thread::sleep(EXIT_POLL);
            continue;
        }
        if fds[1].revents != 0 {
            return Woke::Exited;
        }
        if fds[0].revents != 0 {
            return Woke::Readable;
        }
        if exit.is_none() && has_exited(pid) {
            return Woke::Exited;
        }
    }
}

/// Waits up to `limit` for process `pid` to end; whether it did.
fn wait_exit(exit: Option<RawFd>, pid: u32, limit: Duration) -> bool {
    let until = Instant::now() + limit;
    loop {
        if has_exited(pid) {
            return true;
        }
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        match exit {
            Some(fd) => {
                let mut p = pollfd(fd, libc::POLLIN);
                // SAFETY: one valid pollfd.
                unsafe { libc::poll(&mut p, 1, left.as_millis().min(1000) as i32 + 1) };
            }
            None => std::thread::sleep(left.min(Duration::from_millis(10))),
        }
    }
}

/// Blocks until `sock` is readable; `Err` if it cannot poll.
fn wait_readable(sock: RawFd) -> io::Result<()> {
    let mut p = pollfd(sock, libc::POLLIN);
    // SAFETY: one valid pollfd.
    let r = unsafe { libc::poll(&mut p, 1, -1) };
    let err = io::Error::last_os_error();
    if r < 0 && err.kind() != io::ErrorKind::Interrupted {
        return Err(err);
    }
    Ok(())
}

fn pollfd(fd: RawFd, events: libc::c_short) -> libc::pollfd {
    libc::pollfd {
        fd,
        events,
        revents: 0,
    }
}

// ----- doorbells and descriptors ------------------------------------------------------------

/// `send` flags that keep a closed peer from raising `SIGPIPE` (where there is no such flag,
/// the socket has `SO_NOSIGPIPE`: [`channel`]).
#[cfg(not(target_vendor = "apple"))]
const NOSIGNAL: libc::c_int = libc::MSG_NOSIGNAL;
#[cfg(target_vendor = "apple")]
const NOSIGNAL: libc::c_int = 0;

/// A connected pair of Unix sockets for the parent and a worker, both close-on-exec.
fn channel() -> io::Result<(std::os::unix::net::UnixStream, OwnedFd)> {
    let (ours, theirs) = std::os::unix::net::UnixStream::pair()?;
    #[cfg(target_vendor = "apple")]
    for fd in [ours.as_raw_fd(), theirs.as_raw_fd()] {
        let one: libc::c_int = 1;
        // SAFETY: a plain setsockopt on our socket with a valid int.
        unsafe {
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_NOSIGPIPE,
                (&one as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
    }
    Ok((ours, OwnedFd::from(theirs)))
}

/// Rings the other side's doorbell: one byte on the socket. A full socket buffer already holds
/// a ring, so `EAGAIN` is fine; a closed one is the other side's end, seen by its reader.
fn ring_doorbell(sock: RawFd) {
    let b = [0u8];
    // SAFETY: a valid one-byte buffer; `sock` is a socket the caller holds.
    unsafe { libc::send(sock, b.as_ptr().cast(), 1, NOSIGNAL | libc::MSG_DONTWAIT) };
}

/// Takes every doorbell waiting on the socket; false at end-of-stream (the other side closed
/// it, or is gone).
fn drain_doorbells(sock: RawFd) -> bool {
    let mut buf = [0u8; 64];
    loop {
        // SAFETY: a valid buffer of its length.
        let n = unsafe { libc::recv(sock, buf.as_mut_ptr().cast(), buf.len(), libc::MSG_DONTWAIT) };
        if n > 0 {
            continue;
        }
        if n == 0 {
            return false;
        }
        let e = io::Error::last_os_error();
        match e.kind() {
            io::ErrorKind::Interrupted => continue,
            io::ErrorKind::WouldBlock => return true,
            _ => return false,
        }
    }
}

/// Whether `sock`'s other end has hung up (without blocking).
fn hung_up(sock: RawFd) -> bool {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    let events = libc::POLLRDHUP;
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    let events = 0;
    let mut p = pollfd(sock, events);
    // SAFETY: one valid pollfd, zero timeout.
    let n = unsafe { libc::poll(&mut p, 1, 0) };
    n > 0 && p.revents & (events | libc::POLLHUP | libc::POLLERR) != 0
}

/// The most descriptors one message carries.
const MAX_FDS: usize = 2;

/// Calls `f` with a message of one byte (`byte`) and room for `n` descriptors.
fn with_fd_msg<R>(byte: &mut [u8; 1], n: usize, f: impl FnOnce(&mut libc::msghdr) -> R) -> R {
    let mut iov = libc::iovec {
        iov_base: byte.as_mut_ptr().cast(),
        iov_len: 1,
    };
    // SAFETY: CMSG_SPACE is a pure computation.
    let space = unsafe { libc::CMSG_SPACE((n * std::mem::size_of::<RawFd>()) as u32) } as usize;
    let mut cbuf = vec![0u64; space.div_ceil(8)]; // aligned for cmsghdr
                                                  // SAFETY: a zeroed msghdr is valid; it points at `iov` and `cbuf`, which outlive `f`.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cbuf.as_mut_ptr().cast();
    msg.msg_controllen = space as _;
    f(&mut msg)
}

/// Sends `fds` (one or two) over the socket (`SCM_RIGHTS`), with one byte of payload.
fn send_fds(sock: RawFd, fds: &[RawFd]) -> io::Result<()> {
    assert!(!fds.is_empty() && fds.len() <= MAX_FDS);
    let mut byte = [1u8];
    let len = std::mem::size_of_val(fds);
    with_fd_msg(&mut byte, fds.len(), |msg| {
        // SAFETY: the control buffer has room for `fds` (`with_fd_msg`); the header is filled
        // with the libc macros.
        unsafe {
            let c = libc::CMSG_FIRSTHDR(msg);
            (*c).cmsg_level = libc::SOL_SOCKET;
            (*c).cmsg_type = libc::SCM_RIGHTS;
            (*c).cmsg_len = libc::CMSG_LEN(len as u32) as _;
            std::ptr::copy_nonoverlapping(fds.as_ptr(), libc::CMSG_DATA(c).cast(), fds.len());
            if libc::sendmsg(sock, msg, NOSIGNAL) != 1 {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(())
    })
}

/// Receives the descriptors sent by [`send_fds`] (blocking), each close-on-exec.
fn recv_fds(sock: RawFd) -> io::Result<Vec<OwnedFd>> {
    let mut byte = [0u8];
    #[cfg(any(target_os = "linux", target_os = "android", target_os = "freebsd"))]
    let flags = libc::MSG_CMSG_CLOEXEC;
    #[cfg(not(any(target_os = "linux", target_os = "android", target_os = "freebsd")))]
    let flags = 0;
    with_fd_msg(&mut byte, MAX_FDS, |msg| {
        // SAFETY: `msg` describes live buffers (`with_fd_msg`); received descriptors are owned
        // at once.
        unsafe {
            let n = loop {
                let n = libc::recvmsg(sock, msg, flags);
                if n < 0 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                break n;
            };
            if n != 1 {
                return Err(if n < 0 {
                    io::Error::last_os_error()
                } else {
                    io::Error::new(io::ErrorKind::UnexpectedEof, "nothing from the parent")
                });
            }
            let c = libc::CMSG_FIRSTHDR(msg);
            if c.is_null()
                || (*c).cmsg_level != libc::SOL_SOCKET
                || (*c).cmsg_type != libc::SCM_RIGHTS
            {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "the parent sent no descriptor",
                ));
            }
            let bytes = (*c).cmsg_len as usize - libc::CMSG_LEN(0) as usize;
            let count = (bytes / std::mem::size_of::<RawFd>()).min(MAX_FDS);
            let data = libc::CMSG_DATA(c) as *const RawFd;
            let fds: Vec<OwnedFd> = (0..count)
                .map(|i| OwnedFd::from_raw_fd(std::ptr::read_unaligned(data.add(i))))
                .collect();
            if flags == 0 {
                for fd in &fds {
                    libc::fcntl(fd.as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC);
                }
            }
            Ok(fds)
        }
    })
}

// ----- the rings' memory --------------------------------------------------------------------

/// Maps `len` bytes of `fd` shared, read and write.
fn map_shared(fd: RawFd, len: usize) -> io::Result<NonNull<u8>> {
    // SAFETY: a new shared mapping of `len` bytes of a file the caller sized.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED,
            fd,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    Ok(NonNull::new(p.cast()).expect("mmap returned a non-null address"))
}

/// A private anonymous mapping of `len` zeroed bytes (for the fuzz targets).
pub(crate) fn map_private(len: usize) -> NonNull<u8> {
    // SAFETY: a new private anonymous mapping.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANON,
            -1,
            0,
        )
    };
    assert_ne!(p, libc::MAP_FAILED, "mmap: {}", io::Error::last_os_error());
    NonNull::new(p.cast()).expect("mmap returned a non-null address")
}

/// Unmaps what [`map_shared`] or [`map_private`] mapped.
///
/// # Safety
/// `ptr` and `len` are a mapping of this module's, not used again.
pub(crate) unsafe fn unmap(ptr: NonNull<u8>, len: usize) {
    // SAFETY: the caller's promise.
    unsafe { libc::munmap(ptr.as_ptr().cast(), len) };
}

/// Sets the size of the shared-memory object `fd`.
fn set_len(fd: RawFd, len: usize) -> io::Result<()> {
    // SAFETY: plain syscall on the caller's descriptor.
    if unsafe { libc::ftruncate(fd, len as libc::off_t) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The size of the object `fd` refers to.
fn size_of(fd: RawFd) -> io::Result<u64> {
    // SAFETY: `st` is a properly sized, zeroed structure for fstat to fill.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: plain syscall.
    if unsafe { libc::fstat(fd, &mut st) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(st.st_size as u64)
}

// ----- the worker's first steps -------------------------------------------------------------

/// Ignores `SIGPIPE`, as Rust's `main` does (a task writing to a closed pipe gets `EPIPE`).
pub(crate) fn ignore_sigpipe() {
    // SAFETY: a plain libc call.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
}

/// Stops this process (`SIGSTOP`), as a worker stuck in start-up would (a test hook).
pub(crate) fn stall() {
    // SAFETY: a plain syscall.
    unsafe { libc::raise(libc::SIGSTOP) };
}

/// Ends this process at once (nothing of the worker must run afterwards).
pub(crate) fn exit_now(code: i32) -> ! {
    // SAFETY: ends the process.
    unsafe { libc::_exit(code) }
}

/// The channel the parent passed as standard input, moved off fd 0 (close-on-exec), with
/// `/dev/null` put in its place so that user code reading stdin cannot read the channel.
fn take_channel() -> io::Result<OwnedFd> {
    // SAFETY: plain fd syscalls on fds this process owns: fd 0 is the socket the parent passed.
    let fd: RawFd = unsafe { libc::fcntl(0, libc::F_DUPFD_CLOEXEC, 3) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: as above; the new descriptor is closed at once after `dup2`.
    unsafe {
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC);
        if null >= 0 {
            libc::dup2(null, 0);
            libc::close(null);
        }
    }
    // SAFETY: `fd` is a fresh descriptor owned by nothing else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Whether standard input is a socket, and whether it is a listening one (which reports its
/// own creator as its "peer": it has none).
fn stdin_socket() -> (bool, bool) {
    // SAFETY: plain syscalls filling local, properly sized structures.
    unsafe {
        let mut st: libc::stat = std::mem::zeroed();
        let socket = libc::fstat(0, &mut st) == 0 && st.st_mode & libc::S_IFMT == libc::S_IFSOCK;
        let mut accepting: libc::c_int = 0;
        let mut alen = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        let listening = socket
            && (libc::getsockopt(
                0,
                libc::SOL_SOCKET,
                libc::SO_ACCEPTCONN,
                (&mut accepting as *mut libc::c_int).cast(),
                &mut alen,
            ) != 0
                || accepting != 0);
        (socket, listening)
    }
}

/// `SO_PEERCRED` of standard input: `(pid, uid, gid)` (Linux's call, on both of its paths).
#[cfg(target_os = "linux")]
fn peer_cred() -> Option<(u32, u32, u32)> {
    // SAFETY: `cred` is a local structure of the size getsockopt is told.
    unsafe {
        let mut cred: libc::ucred = std::mem::zeroed();
        let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
        (libc::getsockopt(
            0,
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&mut cred as *mut libc::ucred).cast(),
            &mut len,
        ) == 0)
            .then_some((cred.pid as u32, cred.uid, cred.gid))
    }
}

/// This process's ids and parent, with what [`os`] says about privileges and the peer of
/// standard input, as admission needs them.
fn common_facts(
    secure: bool,
    peer: impl FnOnce() -> Option<(u32, u32, u32)>,
) -> crate::process::marker::Facts {
    let (stdin_socket, listening) = stdin_socket();
    // SAFETY: plain libc calls.
    let (ppid, ids) = unsafe {
        (
            libc::getppid() as u32,
            (
                libc::getuid(),
                libc::geteuid(),
                libc::getgid(),
                libc::getegid(),
            ),
        )
    };
    crate::process::marker::Facts {
        secure,
        ppid,
        ids,
        stdin_socket,
        peer: if stdin_socket && !listening {
            peer()
        } else {
            None
        },
    }
}

/// The start-up hook: `bootstrap` runs when the program is loaded, before `main`.
#[used]
#[cfg_attr(
    any(
        target_os = "linux",
        target_os = "android",
        target_os = "freebsd",
        target_os = "netbsd",
        target_os = "openbsd",
        target_os = "dragonfly",
        target_os = "illumos",
        target_os = "solaris"
    ),
    link_section = ".init_array"
)]
#[cfg_attr(target_vendor = "apple", link_section = "__DATA,__mod_init_func")]
static HOOK: extern "C" fn() = crate::process::child::bootstrap;

/// Referenced by the parent so that the linker keeps this object (and the hook) in any program
/// that uses the process engine.
pub(crate) fn keep_hook() {
    std::hint::black_box(&HOOK);
}
