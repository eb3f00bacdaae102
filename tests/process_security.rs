#![cfg(all(target_os = "linux", feature = "process"))]
//! The worker start-up hook seen from outside: this test binary runs *itself* as a subprocess
//! (the `helper_main` "test", which does nothing unless `CF_SECURITY_HELPER` names a mode) with
//! `CONCURRENT_FUTURES_WORKER` set and standard input arranged per case, and checks that every
//! marker the hook must not believe — empty, malformed, stale, with the wrong kind of stdin or a
//! socket peer that is not the parent, under `AT_SECURE` — leaves the program's own `main` to
//! run, with the marker gone from its environment and exactly one warning line on stderr; that
//! the same arrangement with nothing wrong does make a worker (it says `HELLO` with the token);
//! that a pool started through the dynamic loader breaks with a hint instead of hanging; and that
//! task panics are quiet unless asked for, with their location and backtrace in the error.

use std::ffi::OsStr;
use std::io::Read;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use concurrent_futures::__private::wire;
use concurrent_futures::{register, ProcessPoolExecutor};

const MODE: &str = "CF_SECURITY_HELPER";
const SOCKET: &str = "CF_SECURITY_SOCKET";
const WORKER_ENV: &str = "CONCURRENT_FUTURES_WORKER";
/// The bound on every wait for a subprocess.
const LIMIT: Duration = Duration::from_secs(60);
const TOKEN: &str = "00112233445566778899aabbccddeeff";
const PANIC_MSG: &str = "xyzzy-distinctive-worker-panic";
const WARNING: &str = "concurrent-futures: CONCURRENT_FUTURES_WORKER is set but ";

fn triple(x: u64) -> u64 {
    x * 3
}

fn explode(tag: String) -> u64 {
    panic!("{PANIC_MSG} ({tag})")
}

register!(triple, explode);

/// A well-formed marker naming `parent`.
fn marker(parent: u32) -> String {
    format!("cf1:{parent}:{TOKEN}:1048576:0")
}

fn me() -> u32 {
    std::process::id()
}

// ----- the helper: this binary's `main` when a test starts it as a subprocess ----------------

/// Not a test: the body of the subprocesses the tests start (a no-op in a normal test run).
#[test]
fn helper_main() {
    let Some(mode) = std::env::var_os(MODE) else {
        return;
    };
    let mode = mode.to_string_lossy().into_owned();
    println!("\nMAIN RAN"); // on a line of its own, after libtest's "test helper_main ... "
    if std::env::var_os(WORKER_ENV).is_none() {
        println!("MARKER GONE");
    }
    // SAFETY: plain libc call.
    println!("AT_SECURE={}", unsafe { libc::getauxval(libc::AT_SECURE) });
    match mode.as_str() {
        "plain" => {}
        "connect" => {
            // Holds a connection to the test's listener open until the other end closes.
            let path = std::env::var_os(SOCKET).expect("CF_SECURITY_SOCKET");
            let mut s = UnixStream::connect(path).expect("connect to the test's listener");
            s.set_read_timeout(Some(LIMIT)).unwrap();
            let _ = s.read(&mut [0u8; 16]);
        }
        "build" => match ProcessPoolExecutor::builder().max_workers(1).build() {
            Ok(_) => println!("BUILD OK"),
            Err(e) => println!("BUILD ERR: {e}"),
        },
        "loader" => loader_mode(),
        "quiet" | "loud" | "backtrace" => panic_mode(&mode),
        "pool" => {
            let pool = ProcessPoolExecutor::with_max_workers(1).expect("build");
            let r = pool
                .submit_fn(triple, 14)
                .map(|mut f| f.result_timeout(LIMIT));
            println!("POOL {:?}", r.map_err(|e| e.to_string()));
        }
        other => panic!("unknown helper mode {other}"),
    }
    println!("HELPER DONE");
}

/// Under the dynamic loader: a pool's tasks fail (broken), quickly, and shutdown returns.
fn loader_mode() {
    let pool = ProcessPoolExecutor::builder()
        .max_workers(1)
        .build()
        .expect("build");
    let outcome = |x: u64| -> String {
        match pool.submit_fn(triple, x) {
            Ok(mut f) => match f.result_timeout(LIMIT) {
                Ok(v) => format!("OK {v}"),
                Err(e) => format!("broken={} {e}", e.is_broken()),
            },
            Err(e) => format!("broken={} {e}", e.is_broken()),
        }
    };
    println!("FIRST ERR {}", outcome(1));
    let start = Instant::now();
    for x in 0..5 {
        println!("LATER ERR {}", outcome(x));
    }
    println!("LATER TOOK MS {}", start.elapsed().as_millis());
    pool.shutdown(true, false);
    println!("SHUTDOWN RETURNED");
}

/// Runs a panicking task; prints the error, its location and its backtrace.
fn panic_mode(mode: &str) {
    let pool = ProcessPoolExecutor::builder()
        .max_workers(1)
        .print_worker_panics(mode == "loud")
        .build()
        .expect("build");
    let mut f = pool.submit_fn(explode, mode.to_owned()).expect("submit");
    let e = f.result_timeout(LIMIT).expect_err("the task panics");
    println!("PANIC ERR is_panic={}: {e}", e.is_panic());
    println!("LOCATION {:?}", e.panic_location());
    match e.panic_backtrace() {
        Some(bt) => println!("BACKTRACE BEGIN\n{bt}\nBACKTRACE END"),
        None => println!("NO BACKTRACE"),
    }
    pool.shutdown(true, false);
}

// ----- running the helper --------------------------------------------------------------------

struct Out {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

impl Out {
    /// Everything, for failure messages.
    fn all(&self) -> String {
        let (status, out, err) = (self.status, &self.stdout, &self.stderr);
        format!("status {status:?}\n--- stdout\n{out}\n--- stderr\n{err}")
    }
}

/// The helper in `mode`, run from `exe`, with a clean environment for the cases.
fn helper(exe: &Path, mode: &str) -> Command {
    let mut c = Command::new(exe);
    c.args(["--exact", "helper_main", "--nocapture", "--test-threads=1"])
        .env(MODE, mode)
        .env_remove(WORKER_ENV)
        .env_remove(SOCKET)
        .env_remove("RUST_BACKTRACE")
        .env_remove("RUST_LIB_BACKTRACE")
        .stdin(Stdio::null());
    c
}

/// The helper in `mode`, run through `program` (a loader, `unshare`) with `args` before its path.
fn wrapped(program: &Path, args: &[&str], mode: &str) -> Command {
    let h = helper(&this_exe(), mode);
    let mut c = Command::new(program);
    c.args(args)
        .arg(this_exe())
        .args(h.get_args())
        .stdin(Stdio::null());
    c.envs(h.get_envs().filter_map(|(k, v)| Some((k, v?))))
        .env_remove(WORKER_ENV);
    c
}

fn this_exe() -> PathBuf {
    std::env::current_exe().expect("current_exe")
}

fn read_all(r: Option<impl Read + Send + 'static>) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    let mut r = r.expect("a piped stream");
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = r.read_to_end(&mut buf);
        let _ = tx.send(String::from_utf8_lossy(&buf).into_owned());
    });
    rx
}

/// Spawns `cmd`, whose program may be a copy of this binary written a moment ago: another test
/// thread that forks meanwhile holds the copy's write descriptor until its child execs, and the
/// kernel then refuses to run the copy (`ETXTBSY`) for that instant; so that is retried.
fn spawn_copy(cmd: &mut Command) -> std::process::Child {
    let deadline = Instant::now() + LIMIT;
    loop {
        match cmd.spawn() {
            Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) => {
                assert!(Instant::now() < deadline, "spawn the helper: {e}");
                std::thread::yield_now();
            }
            r => return r.expect("spawn the helper"),
        }
    }
}

/// Runs `cmd` to its end (killing it and failing after [`LIMIT`]), capturing its output.
fn run(mut cmd: Command) -> Out {
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = spawn_copy(&mut cmd);
    drop(cmd); // closes our copies of the descriptors given to the child
    let (out, err) = (read_all(child.stdout.take()), read_all(child.stderr.take()));
    let deadline = Instant::now() + LIMIT;
    let status = loop {
        if let Some(s) = child.try_wait().expect("try_wait") {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "helper {} still running after {LIMIT:?}: killed",
                child.id()
            );
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let stdout = out.recv_timeout(LIMIT).expect("stdout closes");
    let stderr = err.recv_timeout(LIMIT).expect("stderr closes");
    Out {
        status,
        stdout,
        stderr,
    }
}

/// The "plain" helper with `marker` and `stdin`, from `exe`.
fn run_marked(exe: &Path, marker: impl AsRef<OsStr>, stdin: impl Into<Stdio>) -> Out {
    let mut c = helper(exe, "plain");
    c.env(WORKER_ENV, marker).stdin(stdin);
    run(c)
}

/// A socket pair: one end as a child's stdin, the other (peer: this process) to keep.
fn socket_stdin() -> (Stdio, UnixStream) {
    let (ours, theirs) = UnixStream::pair().expect("socketpair");
    (Stdio::from(OwnedFd::from(theirs)), ours)
}

/// The rings' memory as a parent makes it (the layout of `src/process/ring.md`): two rings of a
/// 192-byte header and 256 KiB of data; the second carries the worker's bytes.
struct TestRing(*mut u8, #[allow(dead_code)] OwnedFd);

const RING_DATA: usize = 256 << 10;
const RING_HEADER: usize = 192;
const RING_LEN: usize = 2 * (RING_HEADER + RING_DATA);

impl TestRing {
    /// What the worker has written so far.
    fn replies(&self) -> Vec<u8> {
        use std::sync::atomic::{AtomicU64, Ordering};
        let ring = unsafe { self.0.add(RING_HEADER + RING_DATA) };
        // SAFETY: our live mapping; the worker only appends.
        unsafe {
            let tail = (*(ring as *const AtomicU64)).load(Ordering::Acquire) as usize;
            std::slice::from_raw_parts(ring.add(RING_HEADER), tail.min(RING_DATA)).to_vec()
        }
    }
}

/// Makes the rings' memory and sends it over `sock` (`SCM_RIGHTS`), as a parent does first,
/// with the read end of a lifeline pipe whose write end the ring holds (the portable Unix path
/// watches it for the parent's death; Linux ignores it).
fn send_ring(sock: &UnixStream) -> TestRing {
    use std::os::fd::{AsRawFd, FromRawFd};
    // SAFETY: plain syscalls on fresh descriptors and local buffers of the sizes given.
    unsafe {
        let mut life = [0i32; 2];
        assert_eq!(libc::pipe(life.as_mut_ptr()), 0);
        let fd = libc::memfd_create(c"concurrent-futures-ring".as_ptr(), libc::MFD_CLOEXEC);
        assert!(fd >= 0);
        assert_eq!(libc::ftruncate(fd, RING_LEN as libc::off_t), 0);
        let p = libc::mmap(
            std::ptr::null_mut(),
            RING_LEN,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED,
            fd,
            0,
        );
        assert_ne!(p, libc::MAP_FAILED);
        let byte = [1u8];
        let mut iov = libc::iovec {
            iov_base: byte.as_ptr() as *mut libc::c_void,
            iov_len: 1,
        };
        let fds = [fd, life[0]];
        let space = libc::CMSG_SPACE(std::mem::size_of_val(&fds) as u32) as usize;
        let mut cbuf = vec![0u64; space.div_ceil(8)];
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = cbuf.as_mut_ptr().cast();
        msg.msg_controllen = space as _;
        let c = libc::CMSG_FIRSTHDR(&msg);
        (*c).cmsg_level = libc::SOL_SOCKET;
        (*c).cmsg_type = libc::SCM_RIGHTS;
        (*c).cmsg_len = libc::CMSG_LEN(std::mem::size_of_val(&fds) as u32) as _;
        std::ptr::copy_nonoverlapping(fds.as_ptr(), libc::CMSG_DATA(c) as *mut i32, 2);
        assert_eq!(libc::sendmsg(sock.as_raw_fd(), &msg, 0), 1);
        libc::close(fd);
        libc::close(life[0]);
        TestRing(p.cast(), OwnedFd::from_raw_fd(life[1]))
    }
}

/// Case 7, checked in every refused case: `main` ran, the marker is gone from its environment,
/// and stderr has exactly one warning line, which names `reason`.
fn assert_refused(out: &Out, reason: &str) {
    let all = out.all();
    assert!(out.status.success(), "{all}");
    for line in ["MAIN RAN", "MARKER GONE", "HELPER DONE"] {
        assert!(out.stdout.lines().any(|l| l == line), "no {line}: {all}");
    }
    let warnings: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.contains("concurrent-futures"))
        .collect();
    assert_eq!(warnings.len(), 1, "{all}");
    let w = warnings[0];
    assert!(w.starts_with(WARNING), "{all}");
    assert!(w.ends_with("; running the program normally"), "{all}");
    assert!(w.contains(reason), "expected {reason:?}: {all}");
}

// ----- refused markers -----------------------------------------------------------------------

/// An empty marker is refused and `main` runs.
#[test]
fn an_empty_marker_is_refused() {
    let (stdin, _ours) = socket_stdin();
    assert_refused(&run_marked(&this_exe(), "", stdin), "it is empty");
}

/// Every malformed shape (and a non-UTF-8 value) is refused, with the field that is wrong.
#[test]
fn malformed_markers_are_refused() {
    let p = me();
    let pid = "its parent pid is malformed";
    let (tok, flags) = ("its token is malformed", "its flags are malformed");
    let cases: Vec<(String, &str)> = vec![
        ("1".into(), "it is not a version-cf1 marker"),
        ("cf2:1:2:3:4".into(), "it is not a version-cf1 marker"),
        ("cf1:abc".into(), pid),
        (format!("cf1:0:{TOKEN}:1048576:0"), pid),
        (format!("cf1:{p}"), "it has no token"),
        (format!("cf1:{p}:{}:1048576:0", &TOKEN[1..]), tok),
        (format!("cf1:{p}:{TOKEN}0:1048576:0"), tok),
        (format!("cf1:{p}:{}:1048576:0", "g".repeat(32)), tok),
        (
            format!("cf1:{p}:{TOKEN}:12:0"),
            "its frame limit is malformed",
        ),
        (format!("cf1:{p}:{TOKEN}:1048576"), flags),
        (format!("cf1:{p}:{TOKEN}:1048576:x"), flags),
        (format!("{}:9", marker(p)), "it has extra fields"),
    ];
    let exe = this_exe();
    for (value, reason) in cases {
        // Correct parent and a socket from it: only the malformation is wrong.
        let (stdin, _ours) = socket_stdin();
        let out = run_marked(&exe, &value, stdin);
        assert_refused(&out, &format!("it is malformed ({reason})"));
    }
    let (stdin, _ours) = socket_stdin();
    let out = run_marked(&exe, OsStr::from_bytes(b"cf1:\xff\xfe"), stdin);
    assert_refused(&out, "it is not UTF-8");
}

/// A well-formed marker naming a process that is not the parent is "stale or inherited".
#[test]
fn a_marker_naming_an_unrelated_parent_is_refused() {
    // SAFETY: plain libc call.
    let grandparent = unsafe { libc::getppid() } as u32;
    // A pid above PID_MAX_LIMIT (never a process), and a live process that is not the parent.
    let mut parents = vec![4_194_305];
    if grandparent > 1 && grandparent != me() {
        parents.push(grandparent);
    }
    let exe = this_exe();
    for parent in parents {
        let (stdin, _ours) = socket_stdin();
        let out = run_marked(&exe, marker(parent), stdin);
        assert_refused(&out, "(a stale or inherited marker)");
        let names = format!("it names process {parent} and this process's parent is");
        assert_refused(&out, &format!("{names} {}", me()));
    }
}

/// The right parent, but stdin is not a socket (`/dev/null`, a pipe, a regular file).
#[test]
fn a_stdin_that_is_not_a_socket_is_refused() {
    let exe = this_exe();
    let file = std::fs::File::open(&exe).expect("open a regular file");
    let stdins: Vec<Stdio> = vec![Stdio::null(), Stdio::piped(), Stdio::from(file)];
    for stdin in stdins {
        let out = run_marked(&exe, marker(me()), stdin);
        assert_refused(&out, "standard input is not a socket");
    }
}

/// The right parent, stdin a socket, but its peer is another process: refused, naming that peer.
#[test]
fn a_socket_whose_peer_is_another_process_is_refused() {
    let dir = scratch_dir("peer");
    let path = dir.join("sock");
    let listener = UnixListener::bind(&path).expect("bind");
    listener.set_nonblocking(true).unwrap();
    let exe = this_exe();
    let mut c = helper(&exe, "connect");
    c.env(SOCKET, &path)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut connector = c.spawn().expect("spawn the connector");
    let deadline = Instant::now() + LIMIT;
    let stream = loop {
        match listener.accept() {
            Ok((s, _)) => break s,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => {
                let _ = connector.kill();
                let _ = connector.wait();
                panic!("no connection from the connector: {e}");
            }
        }
    };
    stream.set_nonblocking(false).unwrap();
    let out = run_marked(&exe, marker(me()), Stdio::from(OwnedFd::from(stream)));
    let _ = connector.kill();
    let _ = connector.wait();
    let _ = std::fs::remove_dir_all(&dir);
    let peer = format!(
        "socket on standard input belongs to process {}",
        connector.id()
    );
    assert_refused(&out, &format!("the {peer} (uid"));
    assert_refused(&out, &format!("not to this process's parent {}", me()));
}

/// The right parent, but stdin a *listening* socket (whose "peer" credentials are its own
/// creator's, the parent's): refused too, not taken for a channel.
#[test]
fn a_listening_socket_on_stdin_is_refused() {
    let dir = scratch_dir("listening");
    let listener = UnixListener::bind(dir.join("sock")).expect("bind");
    let out = run_marked(
        &this_exe(),
        marker(me()),
        Stdio::from(OwnedFd::from(listener)),
    );
    let _ = std::fs::remove_dir_all(&dir);
    assert_refused(&out, "the peer of standard input is unknown");
}

/// The control: the same arrangement with nothing wrong makes a worker, which says HELLO with the
/// marker's token and exits quietly at end-of-stream, without running `main`.
#[test]
fn a_correct_marker_makes_a_worker_that_says_hello() {
    let (stdin, ours) = socket_stdin();
    let mut c = helper(&this_exe(), "plain");
    c.env(WORKER_ENV, marker(me()))
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().expect("spawn");
    drop(c);
    // As the parent does: the rings' memory first, then HELLO comes back through them.
    let ring = send_ring(&ours);
    let limit = 1 << 20;
    let deadline = std::time::Instant::now() + LIMIT;
    let frame = loop {
        let buf = ring.replies();
        if let Ok((frame, _)) = wire::decode(&buf, limit) {
            break frame;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("no HELLO from the worker after {buf:?}");
        }
        std::thread::sleep(Duration::from_millis(1));
    };
    let token: Vec<u8> = (0..16)
        .map(|i| u8::from_str_radix(&TOKEN[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    assert_eq!((frame.kind, frame.id), (wire::HELLO, 0));
    assert_eq!(frame.body, token);
    drop(ours); // end-of-stream: the worker exits
    let (out, err) = (read_all(child.stdout.take()), read_all(child.stderr.take()));
    let stdout = out.recv_timeout(LIMIT).expect("the worker exits");
    let stderr = err.recv_timeout(LIMIT).expect("the worker exits");
    let status = child.wait().expect("wait");
    assert!(status.success(), "{status:?} {stdout} {stderr}");
    assert!(!stdout.contains("MAIN RAN"), "{stdout}");
    assert!(!stderr.contains("concurrent-futures"), "{stderr}");
}

// ----- AT_SECURE -----------------------------------------------------------------------------

/// A fresh directory, on a filesystem that honours set-id bits when one is at hand.
fn scratch_dir(what: &str) -> PathBuf {
    let nosuid = |p: &Path| {
        let c = std::ffi::CString::new(p.as_os_str().as_bytes()).unwrap();
        // SAFETY: `st` is a local, zeroed structure; `c` is a valid C string.
        let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
        unsafe { libc::statvfs(c.as_ptr(), &mut st) != 0 || st.f_flag & libc::ST_NOSUID != 0 }
    };
    let mut base = std::env::temp_dir();
    if nosuid(&base) {
        base = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    }
    let dir = base.join(format!("cf-security-{what}-{}", me()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create a scratch dir");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

/// Under AT_SECURE (a setgid copy run by root), a correct marker is refused, and a process pool
/// cannot be built.
#[test]
fn worker_mode_and_process_pools_are_refused_under_at_secure() {
    // SAFETY: plain libc call.
    if unsafe { libc::geteuid() } != 0 {
        println!("skipped: needs root (to make a setgid copy whose egid differs from its gid)");
        return;
    }
    let dir = scratch_dir("setgid");
    let exe = dir.join("setgid-copy");
    std::fs::copy(this_exe(), &exe).expect("copy the test binary");
    let c = std::ffi::CString::new(exe.as_os_str().as_bytes()).unwrap();
    // SAFETY: `c` is a valid C string; plain syscall.
    assert_eq!(unsafe { libc::chown(c.as_ptr(), 0, 65534) }, 0, "chown");
    // chmod after chown: chown clears the set-id bits.
    std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o2755)).unwrap();

    let (stdin, _ours) = socket_stdin();
    let refused = run_marked(&exe, marker(me()), stdin);
    let built = run(helper(&exe, "build"));
    let _ = std::fs::remove_dir_all(&dir);
    if refused.stdout.contains("AT_SECURE=0") {
        // The kernel ignored the setgid bit (a nosuid mount we could not detect, or no_new_privs).
        println!("skipped: the setgid copy did not run with AT_SECURE");
        return;
    }
    assert!(refused.stdout.contains("AT_SECURE=1"), "{}", refused.stdout);
    assert_refused(&refused, "the program runs with elevated privileges");
    assert!(built.status.success(), "{}", built.stderr);
    let line = built
        .stdout
        .lines()
        .find(|l| l.starts_with("BUILD "))
        .unwrap_or_else(|| panic!("no BUILD line: {}", built.stdout));
    assert!(line.starts_with("BUILD ERR: "), "{line}");
    assert!(line.contains("elevated privileges"), "{line}");
    assert!(line.contains("ThreadPoolExecutor"), "{line}");
}

// ----- the dynamic loader --------------------------------------------------------------------

/// The program interpreter of the test binary (its `PT_INTERP`), or a usual one.
fn find_loader() -> Option<PathBuf> {
    let elf = std::fs::read(this_exe()).ok()?;
    let u16_at = |o: usize| Some(u16::from_le_bytes(elf.get(o..o + 2)?.try_into().ok()?));
    let u64_at = |o: usize| Some(u64::from_le_bytes(elf.get(o..o + 8)?.try_into().ok()?));
    let from_elf = || -> Option<PathBuf> {
        // ELF64, little-endian only; anything else falls back to the usual paths.
        if elf.get(..6)? != b"\x7fELF\x02\x01" {
            return None;
        }
        let (phoff, phentsize, phnum) = (u64_at(0x20)? as usize, u16_at(0x36)?, u16_at(0x38)?);
        (0..phnum as usize).find_map(|i| {
            let ph = phoff + i * phentsize as usize;
            if u32::from_le_bytes(elf.get(ph..ph + 4)?.try_into().ok()?) != 3 {
                return None; // not PT_INTERP
            }
            let (off, len) = (u64_at(ph + 8)? as usize, u64_at(ph + 32)? as usize);
            let name = elf.get(off..off + len)?.split(|&b| b == 0).next()?;
            Some(PathBuf::from(OsStr::from_bytes(name)))
        })
    };
    from_elf()
        .into_iter()
        .chain(["/lib64/ld-linux-x86-64.so.2", "/lib/ld-linux-aarch64.so.1"].map(PathBuf::from))
        .find(|p| p.is_file())
}

/// Started through the dynamic loader, a pool breaks at once with a hint, every task fails the
/// same way without hanging, and shutdown returns.
#[test]
fn a_pool_started_through_the_dynamic_loader_breaks_with_a_hint() {
    let Some(loader) = find_loader() else {
        println!("skipped: no dynamic loader found (a static binary?)");
        return;
    };
    // The loader runs the program named by its first argument; the helper's follow.
    let out = run(wrapped(&loader, &[], "loader"));
    let all = out.all();
    assert!(out.status.success(), "{all}");
    let first = out
        .stdout
        .lines()
        .find(|l| l.starts_with("FIRST ERR "))
        .unwrap_or_else(|| panic!("no FIRST ERR: {all}"));
    assert!(first.starts_with("FIRST ERR broken=true "), "{all}");
    let needles = [
        "cannot start:",
        "dynamic loader",
        "run the program directly",
    ];
    for needle in needles {
        assert!(first.contains(needle), "no {needle:?} in {first}");
    }
    let later: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.starts_with("LATER ERR "))
        .collect();
    assert_eq!(later.len(), 5, "{all}");
    for l in later {
        assert!(l.starts_with("LATER ERR broken=true "), "{l}");
        assert!(l.contains("worker processes cannot start:"), "{l}");
        assert!(l.contains("dynamic loader"), "{l}");
    }
    let took = out
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("LATER TOOK MS "))
        .and_then(|ms| ms.parse::<u64>().ok())
        .unwrap_or_else(|| panic!("no LATER TOOK MS: {all}"));
    assert!(took < 10_000, "five tasks on a broken pool took {took} ms");
    assert!(out.stdout.contains("SHUTDOWN RETURNED"), "{all}");
}

// ----- worker panics -------------------------------------------------------------------------

fn run_panic_mode(mode: &str, backtrace: bool) -> (Out, String) {
    let mut c = helper(&this_exe(), mode);
    if backtrace {
        c.env("RUST_BACKTRACE", "1");
    }
    let out = run(c);
    let all = out.all();
    assert!(out.status.success(), "{all}");
    let expected = format!("PANIC ERR is_panic=true: task panicked at {}:", file!());
    let line = out
        .stdout
        .lines()
        .find(|l| l.starts_with("PANIC ERR"))
        .unwrap_or_else(|| panic!("no PANIC ERR: {all}"));
    assert!(line.starts_with(&expected), "{line}");
    assert!(line.ends_with(&format!(": {PANIC_MSG} ({mode})")), "{line}");
    assert!(out.stdout.contains("LOCATION Some(\"tests/"), "{all}");
    (out, all)
}

/// By default a task's panic prints nothing on the worker's stderr; it reaches the caller in the
/// error, with its location (and no backtrace without RUST_BACKTRACE).
#[test]
fn worker_panics_are_quiet_by_default() {
    let (out, all) = run_panic_mode("quiet", false);
    assert!(!out.stderr.contains(PANIC_MSG), "{all}");
    assert!(!out.stderr.contains("panicked"), "{all}");
    assert!(out.stdout.contains("NO BACKTRACE"), "{all}");
}

/// With `print_worker_panics(true)` the worker prints the panic on stderr too.
#[test]
fn print_worker_panics_prints_them_on_stderr() {
    let (out, all) = run_panic_mode("loud", false);
    assert!(out.stderr.contains(&format!("{PANIC_MSG} (loud)")), "{all}");
}

/// With RUST_BACKTRACE=1 the worker's backtrace travels in the error (and is still not printed).
#[test]
fn a_backtrace_travels_in_the_error_with_rust_backtrace() {
    let (out, all) = run_panic_mode("backtrace", true);
    let bt = out
        .stdout
        .split_once("BACKTRACE BEGIN\n")
        .and_then(|(_, rest)| rest.split_once("\nBACKTRACE END"))
        .map(|(bt, _)| bt)
        .unwrap_or_else(|| panic!("no backtrace: {all}"));
    assert!(!bt.trim().is_empty(), "{all}");
    assert!(bt.contains("explode"), "the backtrace names the task: {bt}");
    assert!(!out.stderr.contains(PANIC_MSG), "{all}");
}

// ----- and a real worker ---------------------------------------------------------------------

/// After all the refusals, a real pool of this test binary still computes, end to end.
#[test]
fn a_real_worker_still_works() {
    let pool = ProcessPoolExecutor::with_max_workers(2).expect("build");
    let mut f = pool.submit_fn(triple, 14).expect("submit");
    assert_eq!(f.result_timeout(LIMIT), Ok(42));
    let got: Vec<u64> = pool.map(triple, 0..20).map(Result::unwrap).collect();
    assert_eq!(got, (0..20).map(|x| x * 3).collect::<Vec<_>>());
    let mut f = pool.submit_fn(explode, "real".into()).expect("submit");
    let e = f.result_timeout(LIMIT).unwrap_err();
    assert!(e.is_panic(), "{e}");
    assert!(e.panic_location().unwrap().starts_with(file!()), "{e}");
    pool.shutdown(true, false);
}

/// A parent that is PID 1 (a container's entrypoint) starts workers: its marker names pid 1,
/// which once made every "worker" refuse and run the program's own `main` instead.
#[test]
fn a_parent_that_is_pid_1_can_start_workers() {
    // SAFETY: plain libc call.
    if unsafe { libc::geteuid() } != 0 {
        println!("skipped: needs root (for a new pid namespace)");
        return;
    }
    let unshare = Path::new("unshare");
    let out = run(wrapped(
        unshare,
        &["--pid", "--fork", "--mount-proc"],
        "pool",
    ));
    let all = out.all();
    if !out.stdout.contains("MAIN RAN") {
        println!("skipped: unshare failed: {all}");
        return;
    }
    assert!(out.stdout.contains("POOL Ok(Ok(42))"), "{all}");
    assert!(!out.stderr.contains("concurrent-futures"), "{all}");
}
