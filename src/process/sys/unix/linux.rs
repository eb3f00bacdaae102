//! Linux's stronger mechanisms: a memfd for the rings, a pidfd for a worker's end,
//! `PR_SET_PDEATHSIG` for the parent's death, `SO_PEERCRED` and `AT_SECURE` for admission,
//! `getrandom`, `PR_SET_NAME`, and `/proc/self/exe`.

use std::io;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::path::PathBuf;
use std::time::Duration;

/// Without a pidfd (before Linux 5.3): how often a blocked reader asks whether its worker ended.
pub(crate) const EXIT_POLL: Duration = Duration::from_millis(250);

/// A new shared-memory object of `len` bytes, close-on-exec, that no other process can open.
pub(crate) fn shared_memory(len: usize) -> io::Result<OwnedFd> {
    // SAFETY: plain syscall; the descriptor is owned at once.
    let fd = unsafe { libc::memfd_create(c"concurrent-futures-ring".as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is a fresh descriptor nobody else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    super::set_len(std::os::fd::AsRawFd::as_raw_fd(&fd), len)?;
    Ok(fd)
}

/// A descriptor that becomes readable when process `pid` ends (`pidfd_open`, Linux 5.3), or
/// `None` where the kernel lacks it (then the reader asks every [`EXIT_POLL`]).
pub(crate) fn exit_watch(pid: u32) -> Option<OwnedFd> {
    // SAFETY: plain syscall; on success it returns a new close-on-exec descriptor we own.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    if fd < 0 {
        return None;
    }
    // SAFETY: `fd` is a fresh descriptor owned by nothing else.
    Some(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// The descriptor a worker watches for its parent's death, if this platform needs one: Linux
/// does not (`PR_SET_PDEATHSIG`).
pub(crate) fn lifeline() -> io::Result<Option<RawFd>> {
    Ok(None)
}

/// Ties this worker's life to its parent's: `SIGKILL` when the thread that started it (the
/// parent's spawner, which lives as long as the parent) ends. False if the parent is already
/// gone (then the worker must exit).
pub(crate) fn bind_to_parent(parent: u32, _lifeline: Option<super::Lifeline>) -> bool {
    // SAFETY: plain syscalls.
    unsafe {
        libc::prctl(
            libc::PR_SET_PDEATHSIG,
            libc::SIGKILL as libc::c_ulong,
            0,
            0,
            0,
        );
        // The parent may have died between the admission check and the request above.
        libc::getppid() as u32 == parent
    }
}

/// What admission needs: `AT_SECURE`, and the peer of standard input (`SO_PEERCRED`).
pub(crate) fn facts() -> crate::process::marker::Facts {
    super::common_facts(privileged(), super::peer_cred)
}

/// Whether this process runs with elevated privileges (`AT_SECURE`: setuid, setgid, file
/// capabilities).
pub(crate) fn privileged() -> bool {
    // SAFETY: plain libc call.
    unsafe { libc::getauxval(libc::AT_SECURE) != 0 }
}

/// Names the worker for `top` and `ps -e` (the kernel's 15-byte `comm`, which is `exe` after a
/// start through `/proc/self/exe`): `prog:worker` from the `prog: worker` its parent gave as
/// `argv[0]`, the program's name shortened to fit.
pub(crate) fn name_worker() {
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

/// 16 bytes from the kernel's random source, if it gives them.
pub(crate) fn random_token() -> Option<[u8; 16]> {
    let mut t = [0u8; 16];
    // SAFETY: writes at most 16 bytes into `t`.
    let n = unsafe { libc::getrandom(t.as_mut_ptr().cast(), t.len(), 0) };
    (n == t.len() as isize).then_some(t)
}

/// The program workers run: `/proc/self/exe` names the program that is running even after its
/// file was deleted or replaced (a rebuild, an upgrade), where `current_exe()` would name the new
/// file.
pub(crate) fn worker_program() -> PathBuf {
    PathBuf::from("/proc/self/exe")
}
