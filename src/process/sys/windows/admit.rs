//! What the start-up hook needs to admit a worker, in Windows terms. A worker is admitted when
//! its parent (`NtQueryInformationProcess`) is the process the marker names and its standard
//! input is a pipe whose server end that same process made (`GetNamedPipeServerProcessId`):
//! the parent's own anonymous pipe, whose write end it alone holds. Windows has no setuid: a
//! program runs with the token of whoever started it, so there are no user and group ids to
//! compare, and no privilege boundary to refuse. Tokens come from `BCryptGenRandom`.

use std::path::PathBuf;

use windows_sys::Wdk::System::Threading::{NtQueryInformationProcess, ProcessBasicInformation};
use windows_sys::Win32::Security::Cryptography::{
    BCryptGenRandom, BCRYPT_USE_SYSTEM_PREFERRED_RNG,
};
use windows_sys::Win32::Storage::FileSystem::{GetFileType, FILE_TYPE_PIPE};
use windows_sys::Win32::System::Console::{GetStdHandle, STD_INPUT_HANDLE};
use windows_sys::Win32::System::Pipes::{GetNamedPipeClientProcessId, GetNamedPipeServerProcessId};
use windows_sys::Win32::System::Threading::{
    GetCurrentProcess, GetCurrentThread, SetThreadDescription,
};

/// What admission needs: the parent, and whether standard input is the parent's pipe. (The
/// `stdin_socket` fact is "standard input is a pipe" here; ids are all 0.)
pub(crate) fn facts() -> crate::process::marker::Facts {
    // SAFETY: reads this process's standard input handle (not owned here).
    let stdin = unsafe { GetStdHandle(STD_INPUT_HANDLE) };
    // SAFETY: a plain query on a handle that may be anything (or null).
    let pipe = !stdin.is_null() && unsafe { GetFileType(stdin) } == FILE_TYPE_PIPE;
    crate::process::marker::Facts {
        secure: privileged(),
        ppid: parent_pid().unwrap_or(0),
        ids: (0, 0, 0, 0),
        stdin_socket: pipe,
        peer: if pipe { pipe_maker(stdin) } else { None }.map(|pid| (pid, 0, 0)),
    }
}

/// The process that made the pipe `h`: the pid recorded with its server end (an anonymous
/// pipe is a named pipe with a unique name, both of whose ends its maker opened), or, where
/// that is not answered, with its client end.
fn pipe_maker(h: windows_sys::Win32::Foundation::HANDLE) -> Option<u32> {
    let mut pid = 0u32;
    // SAFETY: plain queries with an out-parameter.
    let ok = unsafe {
        GetNamedPipeServerProcessId(h, &mut pid) != 0
            || GetNamedPipeClientProcessId(h, &mut pid) != 0
    };
    ok.then_some(pid)
}

/// `PROCESS_BASIC_INFORMATION`, as `NtQueryInformationProcess` fills it.
#[repr(C)]
struct BasicInfo {
    exit_status: i32,
    peb: usize,
    affinity: usize,
    priority: i32,
    pid: usize,
    parent: usize,
}

/// The pid of the process that started this one.
fn parent_pid() -> Option<u32> {
    // SAFETY: a zeroed structure of plain integers.
    let mut info: BasicInfo = unsafe { std::mem::zeroed() };
    let mut len = 0u32;
    // SAFETY: the structure and its size, for the class it is.
    let st = unsafe {
        NtQueryInformationProcess(
            GetCurrentProcess(),
            ProcessBasicInformation,
            (&mut info as *mut BasicInfo).cast(),
            std::mem::size_of::<BasicInfo>() as u32,
            &mut len,
        )
    };
    (st >= 0).then_some(info.parent as u32)
}

/// Windows has no setuid or file capabilities: a program never runs with more privileges than
/// whoever started it.
pub(crate) fn privileged() -> bool {
    false
}

/// Names the worker's main thread `prog: worker` (debuggers, Process Explorer); the program's
/// name stays its image's, and its command line ends with `prog: worker` (`worker_command`).
pub(crate) fn name_worker() {
    let name = crate::process::proc::worker_name();
    let wide: Vec<u16> = name.encode_utf16().chain([0]).collect();
    // SAFETY: a NUL-terminated UTF-16 string for this thread.
    unsafe { SetThreadDescription(GetCurrentThread(), wide.as_ptr()) };
}

/// 16 bytes from the system's preferred random source, if it gives them.
pub(crate) fn random_token() -> Option<[u8; 16]> {
    let mut t = [0u8; 16];
    // SAFETY: writes 16 bytes into `t`.
    let st = unsafe {
        BCryptGenRandom(
            std::ptr::null_mut(),
            t.as_mut_ptr(),
            16,
            BCRYPT_USE_SYSTEM_PREFERRED_RNG,
        )
    };
    (st >= 0).then_some(t)
}

/// The program workers run: the running program's file (`job.rs` checks it is still that).
pub(crate) fn worker_program() -> PathBuf {
    super::super::program_file()
}
