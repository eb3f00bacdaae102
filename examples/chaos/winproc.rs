//! What Windows says about this process, in the shape of `procfs.rs` (the chaos runner's leak
//! checks on Windows): threads and their names (a ToolHelp snapshot, `GetThreadDescription`),
//! open handles (`GetProcessHandleCount`), child processes (the snapshot's parent pids).

#![allow(dead_code)] // each user takes what it needs

use std::ffi::c_void;

type Handle = *mut c_void;

#[repr(C)]
struct ProcessEntry {
    size: u32,
    usage: u32,
    pid: u32,
    heap: usize,
    module: u32,
    threads: u32,
    parent: u32,
    priority: i32,
    flags: u32,
    exe: [u16; 260],
}

#[repr(C)]
struct ThreadEntry {
    size: u32,
    usage: u32,
    tid: u32,
    owner: u32,
    base_priority: i32,
    delta_priority: i32,
    flags: u32,
}

#[link(name = "kernel32")]
extern "system" {
    fn CreateToolhelp32Snapshot(flags: u32, pid: u32) -> Handle;
    fn Process32FirstW(snap: Handle, e: *mut ProcessEntry) -> i32;
    fn Process32NextW(snap: Handle, e: *mut ProcessEntry) -> i32;
    fn Thread32First(snap: Handle, e: *mut ThreadEntry) -> i32;
    fn Thread32Next(snap: Handle, e: *mut ThreadEntry) -> i32;
    fn OpenThread(access: u32, inherit: i32, tid: u32) -> Handle;
    fn GetThreadDescription(thread: Handle, name: *mut *mut u16) -> i32;
    fn LocalFree(p: *mut c_void) -> *mut c_void;
    fn GetCurrentProcess() -> Handle;
    fn GetProcessHandleCount(process: Handle, count: *mut u32) -> i32;
    fn OpenProcess(access: u32, inherit: i32, pid: u32) -> Handle;
    fn GetExitCodeProcess(process: Handle, code: *mut u32) -> i32;
    fn TerminateProcess(process: Handle, code: u32) -> i32;
    fn CloseHandle(h: Handle) -> i32;
}

const SNAP_PROCESS: u32 = 2;
const SNAP_THREAD: u32 = 4;
const INVALID: Handle = -1isize as Handle;

/// Every process in the system: `(pid, parent, exe name)`.
fn processes() -> Vec<(u32, u32, String)> {
    let mut out = Vec::new();
    // SAFETY: a snapshot walked with properly sized entries, then closed.
    unsafe {
        let snap = CreateToolhelp32Snapshot(SNAP_PROCESS, 0);
        if snap == INVALID {
            return out;
        }
        let mut e: ProcessEntry = std::mem::zeroed();
        e.size = std::mem::size_of::<ProcessEntry>() as u32;
        let mut ok = Process32FirstW(snap, &mut e);
        while ok != 0 {
            let len = e.exe.iter().position(|&c| c == 0).unwrap_or(e.exe.len());
            out.push((e.pid, e.parent, String::from_utf16_lossy(&e.exe[..len])));
            ok = Process32NextW(snap, &mut e);
        }
        CloseHandle(snap);
    }
    out
}

/// Whether process `pid` is still running.
fn running(pid: u32) -> bool {
    // SAFETY: plain calls; the handle is closed at once.
    unsafe {
        let h = OpenProcess(0x1000, 0, pid); // PROCESS_QUERY_LIMITED_INFORMATION
        if h.is_null() {
            return false;
        }
        let mut code = 0;
        let ok = GetExitCodeProcess(h, &mut code);
        CloseHandle(h);
        ok != 0 && code == 259 // STILL_ACTIVE
    }
}

/// This process's threads: `(tid, name)`.
pub fn threads() -> Vec<(u32, String)> {
    let me = std::process::id();
    let mut out = Vec::new();
    // SAFETY: a snapshot walked with properly sized entries, then closed.
    unsafe {
        let snap = CreateToolhelp32Snapshot(SNAP_THREAD, 0);
        if snap == INVALID {
            return out;
        }
        let mut e: ThreadEntry = std::mem::zeroed();
        e.size = std::mem::size_of::<ThreadEntry>() as u32;
        let mut ok = Thread32First(snap, &mut e);
        while ok != 0 {
            if e.owner == me {
                out.push((e.tid, thread_name(e.tid)));
            }
            ok = Thread32Next(snap, &mut e);
        }
        CloseHandle(snap);
    }
    out
}

/// A thread's description (its name, as Rust's std sets it), or "".
fn thread_name(tid: u32) -> String {
    // SAFETY: plain calls; the name is freed and the handle closed.
    unsafe {
        let h = OpenThread(0x0800, 0, tid); // THREAD_QUERY_LIMITED_INFORMATION
        if h.is_null() {
            return String::new();
        }
        let mut p: *mut u16 = std::ptr::null_mut();
        let mut name = String::new();
        if GetThreadDescription(h, &mut p) >= 0 && !p.is_null() {
            let mut len = 0;
            while *p.add(len) != 0 {
                len += 1;
            }
            name = String::from_utf16_lossy(std::slice::from_raw_parts(p, len));
            LocalFree(p.cast());
        }
        CloseHandle(h);
        name
    }
}

pub fn thread_count() -> usize {
    threads().len()
}

/// The names of this process's threads, for a leak report.
pub fn thread_names() -> Vec<String> {
    threads()
        .into_iter()
        .map(|(tid, name)| format!("{tid}:{name}"))
        .collect()
}

/// Open handles (Windows' counterpart of descriptors).
pub fn fd_count() -> usize {
    let mut n = 0u32;
    // SAFETY: a plain query with an out-parameter.
    unsafe { GetProcessHandleCount(GetCurrentProcess(), &mut n) };
    n as usize
}

/// Running processes whose parent is this process: `(pid, 'R')`.
pub fn children() -> Vec<(u32, char)> {
    let me = std::process::id();
    processes()
        .into_iter()
        .filter(|&(pid, parent, _)| parent == me && pid != me && running(pid))
        .map(|(pid, _, _)| (pid, 'R'))
        .collect()
}

/// No `/proc/self/status` here.
pub fn status_kb(_key: &str) -> Option<u64> {
    None
}

/// The exe name of a running process, if it runs (the state is always 'R').
pub fn process(pid: u32) -> Option<(String, char)> {
    if !running(pid) {
        return None;
    }
    processes()
        .into_iter()
        .find(|&(p, _, _)| p == pid)
        .map(|(_, _, exe)| (exe, 'R'))
}

/// Ends process `pid` at once (`TerminateProcess`), as `SIGKILL` does.
pub fn kill(pid: u32) {
    // SAFETY: plain calls; the handle is closed at once.
    unsafe {
        let h = OpenProcess(0x0001, 0, pid); // PROCESS_TERMINATE
        if !h.is_null() {
            TerminateProcess(h, 1);
            CloseHandle(h);
        }
    }
}
