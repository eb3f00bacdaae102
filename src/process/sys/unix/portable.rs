//! The POSIX path, for every Unix without Linux's mechanisms (macOS, the BSDs), and for Linux
//! itself with `--cfg concurrent_futures_portable_unix`, so that it runs in CI: a `shm_open`ed
//! object unlinked at once for the rings, `waitid(WNOWAIT)` for a worker's end, a lifeline pipe
//! for the parent's death, and each OS's own peer-credential call for admission.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

/// How often a blocked reader asks whether its worker ended (there is no descriptor for it).
pub(crate) const EXIT_POLL: Duration = Duration::from_millis(50);

/// A new shared-memory object of `len` bytes, close-on-exec, that no other process can open:
/// `shm_open` of a fresh random name (short: macOS allows 31 bytes), unlinked at once.
pub(crate) fn shared_memory(len: usize) -> io::Result<OwnedFd> {
    for _ in 0..16 {
        let t = random_token().unwrap_or_else(crate::process::marker::weak_token);
        let mut name = String::from("/cf-ring-");
        for b in &t[..8] {
            name.push_str(&format!("{b:02x}"));
        }
        let cname = std::ffi::CString::new(name).expect("no NUL in a hex name");
        let flags = libc::O_RDWR | libc::O_CREAT | libc::O_EXCL;
        // SAFETY: a NUL-terminated name; the descriptor is owned at once.
        #[cfg(target_vendor = "apple")]
        let fd = unsafe { libc::shm_open(cname.as_ptr(), flags, 0o600 as libc::c_uint) };
        // SAFETY: as above.
        #[cfg(not(target_vendor = "apple"))]
        let fd = unsafe { libc::shm_open(cname.as_ptr(), flags, 0o600 as libc::mode_t) };
        if fd < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::AlreadyExists {
                continue;
            }
            return Err(e);
        }
        // SAFETY: `fd` is a fresh descriptor nobody else owns; the name is ours to remove.
        let fd = unsafe {
            libc::shm_unlink(cname.as_ptr());
            libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
            OwnedFd::from_raw_fd(fd)
        };
        super::set_len(fd.as_raw_fd(), len)?;
        return Ok(fd);
    }
    Err(io::Error::other("no free name for a shared-memory object"))
}

/// No descriptor tells the end of a process here: the reader asks every [`EXIT_POLL`].
pub(crate) fn exit_watch(_pid: u32) -> Option<OwnedFd> {
    None
}

/// The read end of this process's lifeline: a pipe whose write end only this process holds
/// (close-on-exec, never written), so that it reads end-of-file exactly when this process is
/// gone, however it died. Every worker gets the read end.
pub(crate) fn lifeline() -> io::Result<Option<RawFd>> {
    static LIFELINE: OnceLock<Result<(OwnedFd, OwnedFd), String>> = OnceLock::new();
    let pipe = LIFELINE.get_or_init(|| {
        let mut fds = [0 as RawFd; 2];
        // SAFETY: `fds` has room for the two descriptors; both are owned at once.
        unsafe {
            if libc::pipe(fds.as_mut_ptr()) != 0 {
                return Err(io::Error::last_os_error().to_string());
            }
            for fd in fds {
                libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
            }
            Ok((OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])))
        }
    });
    match pipe {
        Ok((read, _write)) => Ok(Some(read.as_raw_fd())),
        Err(e) => Err(io::Error::other(format!("no lifeline pipe: {e}"))),
    }
}

/// Ties this worker's life to its parent's: a thread waits for end-of-file on the lifeline and
/// then ends the process at once. False if the parent is already gone, or there is no
/// lifeline (then the worker must exit).
pub(crate) fn bind_to_parent(parent: u32, lifeline: Option<super::Lifeline>) -> bool {
    let Some(super::Lifeline(lifeline)) = lifeline else {
        return false;
    };
    let watch = std::thread::Builder::new()
        .name("worker-lifeline".into())
        .spawn(move || {
            let mut b = [0u8; 1];
            loop {
                // SAFETY: reads into a local buffer from our own descriptor.
                let n = unsafe { libc::read(lifeline.as_raw_fd(), b.as_mut_ptr().cast(), 1) };
                if n < 0 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                // End-of-file (or an error): the parent is gone.
                super::exit_now(0);
            }
        });
    // SAFETY: a plain libc call.
    watch.is_ok() && unsafe { libc::getppid() } as u32 == parent
}

/// What admission needs: elevated privileges, and the peer of standard input.
pub(crate) fn facts() -> crate::process::marker::Facts {
    super::common_facts(privileged(), peer_of_stdin)
}

/// The peer of standard input: `(pid, uid, gid)`. macOS: `getpeereid` and `LOCAL_PEERPID`.
#[cfg(target_vendor = "apple")]
fn peer_of_stdin() -> Option<(u32, u32, u32)> {
    // SAFETY: local out-parameters of the sizes the calls are told.
    unsafe {
        let (mut uid, mut gid) = (0, 0);
        if libc::getpeereid(0, &mut uid, &mut gid) != 0 {
            return None;
        }
        let mut pid: libc::pid_t = 0;
        let mut len = std::mem::size_of::<libc::pid_t>() as libc::socklen_t;
        let r = libc::getsockopt(
            0,
            libc::SOL_LOCAL,
            libc::LOCAL_PEERPID,
            (&mut pid as *mut libc::pid_t).cast(),
            &mut len,
        );
        (r == 0).then_some((pid as u32, uid, gid))
    }
}

/// FreeBSD: `LOCAL_PEERCRED` (its `xucred` carries the pid since FreeBSD 13).
#[cfg(target_os = "freebsd")]
fn peer_of_stdin() -> Option<(u32, u32, u32)> {
    // SAFETY: a local structure of the size getsockopt is told; the pid is read from the
    // union member FreeBSD fills.
    unsafe {
        let mut cred: libc::xucred = std::mem::zeroed();
        cred.cr_version = libc::XUCRED_VERSION;
        let mut len = std::mem::size_of::<libc::xucred>() as libc::socklen_t;
        let r = libc::getsockopt(
            0,
            libc::SOL_LOCAL,
            libc::LOCAL_PEERCRED,
            (&mut cred as *mut libc::xucred).cast(),
            &mut len,
        );
        if r != 0 || cred.cr_version != libc::XUCRED_VERSION || cred.cr_ngroups < 1 {
            return None;
        }
        let pid = cred.cr_pid__c_anonymous_union.cr_pid;
        Some((pid as u32, cred.cr_uid, cred.cr_groups[0]))
    }
}

/// Linux (with the switch): `SO_PEERCRED`, its only peer-credential call.
#[cfg(target_os = "linux")]
fn peer_of_stdin() -> Option<(u32, u32, u32)> {
    super::peer_cred()
}

/// Any other Unix: no peer credentials, so no process is admitted as a worker.
#[cfg(not(any(target_vendor = "apple", target_os = "freebsd", target_os = "linux")))]
fn peer_of_stdin() -> Option<(u32, u32, u32)> {
    None
}

/// Whether this process runs with elevated privileges (started setuid or setgid).
#[cfg(not(target_os = "linux"))]
pub(crate) fn privileged() -> bool {
    // SAFETY: a plain libc call.
    unsafe { libc::issetugid() != 0 }
}

/// Linux (with the switch) has no `issetugid`: `AT_SECURE` says the same, and more.
#[cfg(target_os = "linux")]
pub(crate) fn privileged() -> bool {
    // SAFETY: a plain libc call.
    unsafe { libc::getauxval(libc::AT_SECURE) != 0 }
}

/// Workers are named by the `argv[0]` their parent gives them (`prog: worker`).
pub(crate) fn name_worker() {}

/// 16 bytes from the system's random source, if it gives them.
#[cfg(any(target_vendor = "apple", target_os = "freebsd"))]
pub(crate) fn random_token() -> Option<[u8; 16]> {
    let mut t = [0u8; 16];
    // SAFETY: writes 16 bytes into `t`.
    (unsafe { libc::getentropy(t.as_mut_ptr().cast(), t.len()) } == 0).then_some(t)
}

/// 16 bytes from `/dev/urandom`, if it gives them.
#[cfg(not(any(target_vendor = "apple", target_os = "freebsd")))]
pub(crate) fn random_token() -> Option<[u8; 16]> {
    use std::io::Read;
    let mut t = [0u8; 16];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut t))
        .ok()
        .map(|()| t)
}

/// The program workers run: the running program's path (a file replaced since start would be
/// run instead; Linux's `/proc/self/exe` avoids that).
pub(crate) fn worker_program() -> PathBuf {
    super::super::program_file()
}
