//! A worker's end as the parent sees it, and how the parent stops one. Where Unix has a pidfd
//! (or `waitid`), Windows has the process handle itself: the reader thread waits on it beside
//! the channel's events (one waiting thread per worker, so no 64-handle ceiling). A stop
//! request (`SIGTERM`) is an event the worker's lifeline thread waits on; a kill (`SIGKILL`) is
//! `TerminateProcess`. An exit status is named after its `NTSTATUS` (a crash) or as a number.

use std::collections::HashMap;
use std::io;
use std::os::windows::io::OwnedHandle;
use std::process::ExitStatus;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use windows_sys::Win32::System::Threading::{
    OpenProcess, TerminateProcess, PROCESS_QUERY_LIMITED_INFORMATION, PROCESS_SYNCHRONIZE,
    PROCESS_TERMINATE,
};

use super::handle::{owned, raw, set, wait_any, wait_one};
use super::{Stop, Woke};

/// The status a worker ends with when it honours a stop request (`STATUS_CONTROL_C_EXIT`, as
/// a console program Ctrl+C ends).
pub(super) const STOPPED: u32 = 0xC000_013A;
/// The status `TerminateProcess` gives a worker the parent kills (a customer-defined error
/// code, so that no crash is mistaken for it).
pub(super) const KILLED: u32 = 0xE0CF_0009;

/// Each live worker's stop-request event, by pid (set by `Channel::send_start`, removed when
/// its [`ExitWatch`] goes).
static STOPS: Mutex<Option<HashMap<u32, OwnedHandle>>> = Mutex::new(None);

pub(super) fn register_stop(pid: u32, ev: OwnedHandle) {
    crate::sync::lock(&STOPS)
        .get_or_insert_with(HashMap::new)
        .insert(pid, ev);
}

/// Opens process `pid` (our child, not yet waited for, so the pid is still ours) with `access`.
fn open(pid: u32, access: u32) -> io::Result<OwnedHandle> {
    // SAFETY: a plain call; the handle is owned at once.
    owned(unsafe { OpenProcess(access, 0, pid) })
}

/// Tells when a worker process ended: a handle to it, signalled at its end.
pub(crate) struct ExitWatch {
    pid: u32,
    process: Option<OwnedHandle>,
}

impl ExitWatch {
    /// A watch on process `pid` (our child).
    pub(crate) fn new(pid: u32) -> ExitWatch {
        ExitWatch {
            pid,
            process: open(pid, PROCESS_SYNCHRONIZE | PROCESS_QUERY_LIMITED_INFORMATION).ok(),
        }
    }

    /// Waits up to `limit` for process `pid` to end; whether it did.
    pub(crate) fn wait(&self, pid: u32, limit: Duration) -> bool {
        match &self.process {
            Some(p) => wait_one(raw(p), Some(limit)),
            None => poll_exit(pid, limit),
        }
    }

    /// Blocks until one of `events` is signalled (`Readable`) or the process ends (`Exited`).
    pub(super) fn wait_with(
        &self,
        pid: u32,
        events: &[windows_sys::Win32::Foundation::HANDLE],
    ) -> Woke {
        let mut hs = events.to_vec();
        let limit = match &self.process {
            Some(p) => {
                hs.push(raw(p));
                None
            }
            None => Some(POLL),
        };
        loop {
            match wait_any(&hs, limit) {
                Ok(Some(i)) if i == events.len() => return Woke::Exited,
                Ok(Some(_)) => return Woke::Readable,
                Ok(None) | Err(_) => {
                    if has_exited(pid) {
                        return Woke::Exited;
                    }
                    if limit.is_none() {
                        // The wait failed: do not spin.
                        std::thread::sleep(POLL);
                    }
                }
            }
        }
    }
}

impl Drop for ExitWatch {
    fn drop(&mut self) {
        if let Some(m) = crate::sync::lock(&STOPS).as_mut() {
            m.remove(&self.pid);
        }
    }
}

/// Without a handle to the process: how often a reader asks whether it ended.
const POLL: Duration = Duration::from_millis(50);

fn poll_exit(pid: u32, limit: Duration) -> bool {
    let until = Instant::now() + limit;
    loop {
        if has_exited(pid) {
            return true;
        }
        if Instant::now() >= until {
            return false;
        }
        std::thread::sleep(POLL.min(limit));
    }
}

/// Whether process `pid` (our child, not yet waited for) has ended.
fn has_exited(pid: u32) -> bool {
    match open(pid, PROCESS_SYNCHRONIZE) {
        Ok(p) => wait_one(raw(&p), Some(Duration::ZERO)),
        Err(_) => true,
    }
}

/// Stops process `pid` (our child, not yet waited for) `how`: a request (its stop event: the
/// worker ends itself with [`STOPPED`]) or at once (`TerminateProcess`, status [`KILLED`]). A
/// worker that cannot take requests yet (still starting) is killed.
pub(crate) fn stop(pid: u32, how: Stop) {
    if how == Stop::Ask {
        if let Some(ev) = crate::sync::lock(&STOPS).as_ref().and_then(|m| m.get(&pid)) {
            set(ev);
            return;
        }
    }
    if let Ok(p) = open(pid, PROCESS_TERMINATE) {
        // SAFETY: a process handle with PROCESS_TERMINATE.
        unsafe { TerminateProcess(raw(&p), KILLED) };
    }
}

/// "crashed: 0xC0000005 (STATUS_ACCESS_VIOLATION, an access violation)", "exited with status 3"
/// (3 is also what the C runtime's `abort()` exits with; Rust's own abort is a fail-fast,
/// `0xC0000409`).
pub(crate) fn describe(status: &io::Result<ExitStatus>, protocol_exit: i32) -> String {
    let code = match status {
        Err(e) => return format!("its status could not be read: {e}"),
        Ok(s) => match s.code() {
            Some(c) => c,
            None => return "ended".to_owned(),
        },
    };
    let u = code as u32;
    if code == protocol_exit {
        return format!("exited with status {code} (it received a frame it could not read)");
    }
    match u {
        KILLED => format!("killed (TerminateProcess, status {u:#X})"),
        STOPPED => format!("stopped on request (status {u:#X}, STATUS_CONTROL_C_EXIT)"),
        _ => match ntstatus_name(u) {
            Some((name, what)) => format!("crashed: {u:#X} ({name}, {what})"),
            None if u >= 0xC000_0000 => format!("crashed: {u:#X}"),
            None => format!("exited with status {code}"),
        },
    }
}

/// The name and meaning of the `NTSTATUS` values a crashed program ends with.
fn ntstatus_name(u: u32) -> Option<(&'static str, &'static str)> {
    Some(match u {
        0xC000_0005 => ("STATUS_ACCESS_VIOLATION", "an access violation"),
        0xC000_00FD => ("STATUS_STACK_OVERFLOW", "a stack overflow"),
        0xC000_0409 => ("STATUS_STACK_BUFFER_OVERRUN", "a fail-fast abort"),
        0xC000_001D => ("STATUS_ILLEGAL_INSTRUCTION", "an illegal instruction"),
        0xC000_0094 => (
            "STATUS_INTEGER_DIVIDE_BY_ZERO",
            "an integer division by zero",
        ),
        0xC000_0096 => ("STATUS_PRIVILEGED_INSTRUCTION", "a privileged instruction"),
        0xC000_0374 => ("STATUS_HEAP_CORRUPTION", "a corrupted heap"),
        0xC000_0017 => ("STATUS_NO_MEMORY", "out of memory"),
        0xC000_0135 => ("STATUS_DLL_NOT_FOUND", "a DLL it needs was not found"),
        0xC000_0139 => (
            "STATUS_ENTRYPOINT_NOT_FOUND",
            "a DLL lacks a function it needs",
        ),
        0xC000_0142 => ("STATUS_DLL_INIT_FAILED", "a DLL failed to start"),
        0x8000_0003 => ("STATUS_BREAKPOINT", "a breakpoint"),
        0x4001_0004 => ("DBG_TERMINATE_PROCESS", "ended by a debugger"),
        _ => return None,
    })
}
