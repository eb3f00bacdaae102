//! Small helpers over kernel handles: owning a returned handle, events, waits, and copying a
//! handle into another process (`DuplicateHandle`), which is how a worker gets each object the
//! parent shares with it: nothing is inheritable, and nothing has a name another process
//! could open.

use std::io;
use std::os::windows::io::{AsRawHandle, FromRawHandle, OwnedHandle, RawHandle};
use std::time::Duration;

use windows_sys::Win32::Foundation::{
    DuplicateHandle, DUPLICATE_SAME_ACCESS, HANDLE, INVALID_HANDLE_VALUE, WAIT_OBJECT_0,
    WAIT_TIMEOUT,
};
use windows_sys::Win32::System::Threading::{
    CreateEventW, GetCurrentProcess, SetEvent, WaitForMultipleObjects, WaitForSingleObject,
    INFINITE,
};

/// Owns a handle a call returned; `Err` (the thread's last error) if it is null or invalid.
pub(super) fn owned(h: HANDLE) -> io::Result<OwnedHandle> {
    if h.is_null() || h == INVALID_HANDLE_VALUE {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a fresh handle that nothing else owns.
    Ok(unsafe { OwnedHandle::from_raw_handle(h as RawHandle) })
}

/// The raw handle, as the API takes it.
pub(super) fn raw(h: &impl AsRawHandle) -> HANDLE {
    h.as_raw_handle() as HANDLE
}

/// A new unnamed, non-inheritable event: auto-reset (a doorbell: one wait takes it) or
/// manual-reset (a state: it stays set).
pub(super) fn event(manual_reset: bool) -> io::Result<OwnedHandle> {
    // SAFETY: no attributes, no name.
    owned(unsafe { CreateEventW(std::ptr::null(), manual_reset.into(), 0, std::ptr::null()) })
}

/// Sets an event (a failure means the handle is gone: nothing to do).
pub(super) fn set(h: &OwnedHandle) {
    // SAFETY: an event handle we own.
    unsafe { SetEvent(raw(h)) };
}

/// Whether `h` is signalled, waiting at most `limit` (`None`: no limit); a wait on an
/// auto-reset event takes its signal.
pub(super) fn wait_one(h: HANDLE, limit: Option<Duration>) -> bool {
    // SAFETY: a handle the caller holds.
    unsafe { WaitForSingleObject(h, millis(limit)) == WAIT_OBJECT_0 }
}

/// Waits for any of `hs` (at most 3: far under the 64-handle ceiling, one waiting thread per
/// worker) up to `limit`; the index of the first one signalled, `None` at the limit, `Err` if
/// the wait itself failed.
pub(super) fn wait_any(hs: &[HANDLE], limit: Option<Duration>) -> io::Result<Option<usize>> {
    // SAFETY: `hs` are handles the caller holds.
    let r = unsafe { WaitForMultipleObjects(hs.len() as u32, hs.as_ptr(), 0, millis(limit)) };
    if r == WAIT_TIMEOUT {
        return Ok(None);
    }
    let i = r.wrapping_sub(WAIT_OBJECT_0) as usize;
    if i < hs.len() {
        return Ok(Some(i));
    }
    Err(io::Error::last_os_error())
}

fn millis(limit: Option<Duration>) -> u32 {
    match limit {
        None => INFINITE,
        Some(d) => d.as_millis().min(u128::from(INFINITE - 1)) as u32,
    }
}

/// Copies `h` into process `target` (a handle with `PROCESS_DUP_HANDLE`), with the same access
/// (or `access`), not inheritable there; the handle's value in `target`.
pub(super) fn copy_into(target: HANDLE, h: HANDLE, access: Option<u32>) -> io::Result<u64> {
    let mut out: HANDLE = std::ptr::null_mut();
    let (access, opts) = match access {
        Some(a) => (a, 0),
        None => (0, DUPLICATE_SAME_ACCESS),
    };
    // SAFETY: valid source handles; `out` receives a value in the target's table.
    let ok = unsafe { DuplicateHandle(GetCurrentProcess(), h, target, &mut out, access, 0, opts) };
    if ok == 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(out as usize as u64)
}

/// Takes ownership of a handle value the parent copied into this process.
///
/// # Safety
/// `v` is such a value, owned by nothing else in this process.
pub(super) unsafe fn adopt(v: u64) -> io::Result<OwnedHandle> {
    owned(v as usize as HANDLE)
}
