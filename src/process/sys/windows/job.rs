//! A worker's life tied to its parent's, both ways. The parent puts every worker into one job
//! object of its own, created unnamed with `JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE` and never
//! inherited: when the parent ends, however it ends (Task Manager's End task included), the
//! system closes its last handle to the job and ends every worker, and every process a task
//! started (unless the task started it with `CREATE_BREAKAWAY_FROM_JOB`, which the job allows:
//! on Unix too, what a task starts is the task's). A parent that itself runs inside a job nests this one in it (Windows 8 and later);
//! where that is refused, no worker starts and the pool breaks once, saying why. The worker
//! holds a handle to its parent (its lifeline) that a thread waits on, with the stop-request
//! event: the parent's end ends the worker at once, a request ends it with `STATUS_CONTROL_C_EXIT`.
//!
//! Workers run the program's file (`current_exe`), which Windows cannot re-execute by handle
//! as Linux does through `/proc/self/exe`: its identity (volume and file index) is recorded
//! when the first pool starts, and a file deleted or replaced since makes each start fail with
//! that reason, instead of running another program as a worker.

use std::io;
use std::os::windows::fs::OpenOptionsExt;
use std::os::windows::io::{AsRawHandle, OwnedHandle};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::OnceLock;

use windows_sys::Win32::Foundation::HANDLE;
use windows_sys::Win32::Storage::FileSystem::{
    GetFileInformationByHandle, BY_HANDLE_FILE_INFORMATION, FILE_READ_ATTRIBUTES,
};
use windows_sys::Win32::System::JobObjects::{
    AssignProcessToJobObject, CreateJobObjectW, JobObjectExtendedLimitInformation,
    SetInformationJobObject, JOBOBJECT_EXTENDED_LIMIT_INFORMATION, JOB_OBJECT_LIMIT_BREAKAWAY_OK,
    JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE,
};
use windows_sys::Win32::System::Threading::GetProcessId;

use super::channel::Lifeline;
use super::exit::STOPPED;
use super::handle::{owned, raw, wait_any, wait_one};

/// What a program has once for good, made when its first pool starts: the job its workers run
/// in, and the identity of the file they run.
struct Once {
    job: OwnedHandle,
    program: Option<(PathBuf, (u32, u64))>,
}

static ONCE: OnceLock<Result<Once, String>> = OnceLock::new();

/// Makes the job object and records the program's identity (the first pool does; `Err` fails
/// its build).
pub(crate) fn lifeline() -> io::Result<()> {
    once().map(drop)
}

fn once() -> io::Result<&'static Once> {
    let r = ONCE.get_or_init(|| {
        let job = new_job().map_err(|e| format!("no job object for the workers: {e}"))?;
        let program = std::env::current_exe()
            .ok()
            .and_then(|p| identity(&p).ok().map(|id| (p, id)));
        Ok(Once { job, program })
    });
    r.as_ref().map_err(|e| io::Error::other(e.clone()))
}

/// An unnamed, non-inheritable job whose processes end when its last handle closes.
fn new_job() -> io::Result<OwnedHandle> {
    // SAFETY: no attributes, no name.
    let job = owned(unsafe { CreateJobObjectW(std::ptr::null(), std::ptr::null()) })?;
    // SAFETY: a zeroed structure is a valid "no limits" value.
    let mut info: JOBOBJECT_EXTENDED_LIMIT_INFORMATION = unsafe { std::mem::zeroed() };
    // A process a task starts is in the job too, and ends with the program, unless the task
    // starts it with `CREATE_BREAKAWAY_FROM_JOB`, which the job allows.
    info.BasicLimitInformation.LimitFlags =
        JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE | JOB_OBJECT_LIMIT_BREAKAWAY_OK;
    // SAFETY: the structure and its size, for the class it is.
    let ok = unsafe {
        SetInformationJobObject(
            raw(&job),
            JobObjectExtendedLimitInformation,
            (&info as *const JOBOBJECT_EXTENDED_LIMIT_INFORMATION).cast(),
            std::mem::size_of_val(&info) as u32,
        )
    };
    if ok == 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(job)
}

/// A file's identity: its volume's serial number and its index on the volume.
fn identity(path: &Path) -> io::Result<(u32, u64)> {
    let f = std::fs::OpenOptions::new()
        .access_mode(FILE_READ_ATTRIBUTES)
        .share_mode(7) // read, write, delete: never in anyone's way
        .open(path)?;
    // SAFETY: a zeroed structure for the call to fill.
    let mut info: BY_HANDLE_FILE_INFORMATION = unsafe { std::mem::zeroed() };
    // SAFETY: an open file handle and the structure.
    if unsafe { GetFileInformationByHandle(f.as_raw_handle() as _, &mut info) } == 0 {
        return Err(io::Error::last_os_error());
    }
    let index = (u64::from(info.nFileIndexHigh) << 32) | u64::from(info.nFileIndexLow);
    Ok((info.dwVolumeSerialNumber, index))
}

/// `Err` with the reason if the program's file is no longer the one that is running.
fn check_program(once: &Once) -> io::Result<()> {
    let Some((path, id)) = &once.program else {
        return Ok(());
    };
    let why = match identity(path) {
        Ok(now) if now == *id => return Ok(()),
        Ok(_) => "was replaced since the program started",
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            "was deleted or moved since the program started"
        }
        Err(e) => {
            return Err(io::Error::other(format!(
                "the program's executable {} cannot be opened ({e}), and workers run that file",
                path.display()
            )))
        }
    };
    Err(io::Error::new(
        io::ErrorKind::NotFound,
        format!(
            "the program's executable {} {why} (a rebuild, an upgrade?), and workers run that \
             file: run the program again",
            path.display()
        ),
    ))
}

/// Starts a worker (on the spawner thread): the program's file, checked first, then put into
/// the program's job; a worker that cannot join it is killed, and the start fails saying why.
pub(crate) fn start_worker(mut cmd: Command) -> io::Result<Child> {
    let once = once()?;
    check_program(once)?;
    let mut child = spawn(&mut cmd)?;
    join_job(raw(&once.job), &mut child)?;
    Ok(child)
}

/// Puts the new worker `child` into `job`; if Windows refuses, ends it (and waits for it) and
/// says why.
fn join_job(job: HANDLE, child: &mut Child) -> io::Result<()> {
    // SAFETY: the job and the new process's handle, both ours.
    if unsafe { AssignProcessToJobObject(job, raw(child)) } != 0 {
        return Ok(());
    }
    let e = io::Error::last_os_error();
    let _ = child.kill();
    let _ = child.wait();
    Err(io::Error::new(
        e.kind(),
        format!(
            "Windows refused to put the worker in the program's job object, which ends workers \
             with the program ({e}); this program runs inside a job that allows no nested job \
             and no breakaway"
        ),
    ))
}

/// Starts the process, trying twice more (after 20 and 100 ms) when it fails for a reason that
/// may pass: Windows short of resources, and Wine under load, fail a `CreateProcess` now and then
/// (`ERROR_INTERNAL_ERROR`). A missing or forbidden file fails at once.
fn spawn(cmd: &mut Command) -> io::Result<Child> {
    let mut tries = [20u64, 100].into_iter();
    loop {
        match cmd.spawn() {
            Ok(child) => return Ok(child),
            Err(e) => match (e.kind(), tries.next()) {
                (io::ErrorKind::NotFound | io::ErrorKind::PermissionDenied, _) | (_, None) => {
                    return Err(e)
                }
                (_, Some(ms)) => std::thread::sleep(std::time::Duration::from_millis(ms)),
            },
        }
    }
}

/// Ties this worker's life to its parent's: a thread waits for the parent's end (then ends
/// this process at once) and for a stop request (then ends it with `STATUS_CONTROL_C_EXIT`).
/// False if the lifeline is not the parent's, the thread cannot start, or the parent is gone.
pub(crate) fn bind_to_parent(parent: u32, lifeline: Option<Lifeline>) -> bool {
    let Some(Lifeline { parent: p, stop }) = lifeline else {
        return false;
    };
    // SAFETY: a process handle we hold.
    if unsafe { GetProcessId(raw(&p)) } != parent {
        return false;
    }
    let gone = raw(&p) as usize;
    let watch = std::thread::Builder::new()
        .name("worker-lifeline".into())
        .spawn(move || {
            let code = match wait_any(&[raw(&p), raw(&stop)], None) {
                Ok(Some(1)) => STOPPED,
                _ => 0,
            };
            super::exit_now(code as i32);
        });
    watch.is_ok() && !wait_one(gone as _, Some(std::time::Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Windows refuses a job assignment (here: through a handle that may only query the job;
    /// Wine, where CI runs this, refuses nothing else): the start fails with the reason, and
    /// the process that could not join is ended, not left running outside the job.
    #[test]
    fn a_refused_job_fails_the_start_with_the_reason_and_ends_the_worker() {
        const JOB_OBJECT_QUERY: u32 = 0x0004;
        let job = new_job().unwrap();
        // SAFETY: the pseudo-handle of this process.
        let me = unsafe { windows_sys::Win32::System::Threading::GetCurrentProcess() };
        let weak = super::super::handle::copy_into(me, raw(&job), Some(JOB_OBJECT_QUERY)).unwrap();
        // SAFETY: a fresh handle value in this process, owned by nothing else.
        let weak = unsafe { super::super::handle::adopt(weak) }.unwrap();
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--list", "--exact", "no such test"])
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let e = join_job(raw(&weak), &mut child).unwrap_err();
        let shown = e.to_string();
        assert!(
            shown.contains("refused to put the worker in the program's job object"),
            "{shown}"
        );
        assert!(
            child.try_wait().unwrap().is_some(),
            "the worker was left running"
        );
    }
}
