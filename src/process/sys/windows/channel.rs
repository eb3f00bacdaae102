//! The channel between the parent and a worker. Where Unix has one socket pair (doorbells,
//! descriptors, and the end of either side), Windows has events and a pipe:
//! - a doorbell each way: an auto-reset event (setting it rings; the wait that wakes takes it);
//! - the end of each side: a manual-reset event the side sets when it closes (a worker's death
//!   is seen from its process handle, `exit.rs`; the parent's by the worker's lifeline thread);
//! - the first message: the parent copies the events, the rings' section, a handle to itself
//!   (the lifeline) and the worker's stop-request event into the worker (`DuplicateHandle`)
//!   and writes their values, with the section's size, on the worker's standard input, an
//!   anonymous pipe only the parent holds the other end of. The worker then puts `NUL` in its
//!   place, so that user code reading stdin cannot read the channel.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::windows::io::{FromRawHandle, IntoRawHandle, OwnedHandle, RawHandle};
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex, OnceLock};

use windows_sys::Win32::Foundation::HANDLE;
use windows_sys::Win32::System::Console::{GetStdHandle, SetStdHandle, STD_INPUT_HANDLE};
use windows_sys::Win32::System::Pipes::CreatePipe;
use windows_sys::Win32::System::Threading::{
    GetCurrentProcess, PROCESS_QUERY_LIMITED_INFORMATION, PROCESS_SYNCHRONIZE,
};

use super::exit::{self, ExitWatch};
use super::handle::{adopt, copy_into, event, owned, raw, set, wait_any, wait_one};
use super::memory::SharedMemory;
use super::Woke;

/// The first message's first bytes.
const MAGIC: &[u8; 4] = b"cfw1";
/// Handles in the first message.
const HANDLES: usize = 7;
/// The first message: the magic, the section's size, the handle values.
const START_LEN: usize = 4 + 8 + 8 * HANDLES;

/// One end of the channel between the parent and a worker.
pub(crate) struct Channel(Arc<Inner>);

struct Inner {
    /// The events, once known (a worker knows them from its first message).
    ends: OnceLock<Ends>,
    /// The parent: the write end of the worker's standard input, until the first message is
    /// written; the worker: its former standard input, until it is read.
    pipe: Mutex<Option<File>>,
    /// The parent: the worker's stop-request event (`exit::stop`).
    stop: Option<OwnedHandle>,
}

/// This side's view of the four events.
struct Ends {
    /// Set by the other side to ring this one.
    bell_in: OwnedHandle,
    /// Set by this side to ring the other.
    bell_out: OwnedHandle,
    /// Set when the other side has closed.
    end_in: OwnedHandle,
    /// Set when this side closes.
    end_out: OwnedHandle,
}

/// What the worker holds for its parent's life: a handle to the parent process, and the event
/// the parent sets to ask it to stop (`job::bind_to_parent`).
pub(crate) struct Lifeline {
    pub(super) parent: OwnedHandle,
    pub(super) stop: OwnedHandle,
}

impl Channel {
    /// A connected pair: the parent's end, and the worker's, to be its standard input.
    pub(crate) fn pair() -> io::Result<(Channel, Stdio)> {
        let (read, write) = pipe()?;
        let ends = Ends {
            bell_in: event(false)?,
            bell_out: event(false)?,
            end_in: event(true)?,
            end_out: event(true)?,
        };
        let inner = Inner {
            ends: OnceLock::from(ends),
            pipe: Mutex::new(Some(File::from(write))),
            stop: Some(event(true)?),
        };
        Ok((Channel(Arc::new(inner)), Stdio::from(read)))
    }

    /// The worker's end: its standard input, which becomes `NUL`.
    pub(crate) fn from_stdin() -> io::Result<Channel> {
        // SAFETY: reads this process's standard input handle.
        let stdin = owned(unsafe { GetStdHandle(STD_INPUT_HANDLE) })?;
        if let Ok(null) = File::open("NUL") {
            // SAFETY: the handle is given to the process as its standard input, for good.
            unsafe { SetStdHandle(STD_INPUT_HANDLE, null.into_raw_handle() as HANDLE) };
        }
        Ok(Channel(Arc::new(Inner {
            ends: OnceLock::new(),
            pipe: Mutex::new(Some(File::from(stdin))),
            stop: None,
        })))
    }

    pub(crate) fn try_clone(&self) -> io::Result<Channel> {
        Ok(Channel(self.0.clone()))
    }

    fn ends(&self) -> Option<&Ends> {
        self.0.ends.get()
    }

    /// Rings the other side's doorbell.
    pub(crate) fn ring(&self) {
        if let Some(e) = self.ends() {
            set(&e.bell_out);
        }
    }

    /// Takes the doorbell if it rang; false at the other side's end.
    pub(crate) fn drain(&self) -> bool {
        let Some(e) = self.ends() else {
            return false;
        };
        wait_one(raw(&e.bell_in), Some(std::time::Duration::ZERO));
        !wait_one(raw(&e.end_in), Some(std::time::Duration::ZERO))
    }

    /// Whether the other side has closed (without blocking).
    pub(crate) fn hung_up(&self) -> bool {
        self.ends().map_or(true, |e| {
            wait_one(raw(&e.end_in), Some(std::time::Duration::ZERO))
        })
    }

    /// Blocks until a doorbell or the other side's end.
    pub(crate) fn wait(&self) -> io::Result<()> {
        let e = self.ends().ok_or_else(|| io::Error::other("no channel"))?;
        wait_any(&[raw(&e.bell_in), raw(&e.end_in)], None).map(drop)
    }

    /// Blocks until a doorbell, the other side's end, or the end of process `pid` (`exit`).
    pub(crate) fn wait_or_exit(&self, exit: &ExitWatch, pid: u32) -> Woke {
        let Some(e) = self.ends() else {
            return Woke::Exited;
        };
        exit.wait_with(pid, &[raw(&e.bell_in), raw(&e.end_in)])
    }

    /// Closes this side's writing half: the other side reads its end.
    pub(crate) fn close_write(&self) {
        if let Some(e) = self.ends() {
            set(&e.end_out);
        }
    }

    /// Closes both halves (the other side is gone).
    pub(crate) fn close(&self) {
        self.close_write();
    }

    /// The parent's first message to worker `child`: copies of the events, the rings'
    /// section, a handle to this process (the lifeline) and the stop-request event, put into
    /// the worker's handle table, their values written on its standard input, which is then
    /// closed (a worker that got nothing reads its end and exits).
    pub(crate) fn send_start(&self, shm: &SharedMemory, child: &Child) -> io::Result<()> {
        let pipe = crate::sync::lock(&self.0.pipe).take();
        let (Some(mut pipe), Some(e), Some(stop)) = (pipe, self.ends(), &self.0.stop) else {
            return Err(io::Error::other("the first message was sent already"));
        };
        let target = raw(child);
        let me_access = Some(PROCESS_SYNCHRONIZE | PROCESS_QUERY_LIMITED_INFORMATION);
        // SAFETY: the pseudo-handle of this process.
        let me = unsafe { GetCurrentProcess() };
        let copies = [
            copy_into(target, raw(&e.bell_out), None)?,
            copy_into(target, raw(&e.bell_in), None)?,
            copy_into(target, raw(&e.end_out), None)?,
            copy_into(target, raw(&e.end_in), None)?,
            copy_into(target, raw(&shm.section), None)?,
            copy_into(target, me, me_access)?,
            copy_into(target, raw(stop), None)?,
        ];
        exit::register_stop(child.id(), stop.try_clone()?);
        let mut msg = Vec::with_capacity(START_LEN);
        msg.extend_from_slice(MAGIC);
        msg.extend_from_slice(&shm.len.to_le_bytes());
        for c in copies {
            msg.extend_from_slice(&c.to_le_bytes());
        }
        pipe.write_all(&msg)
    }

    /// The worker's side of [`send_start`](Self::send_start) (blocking).
    pub(crate) fn recv_start(&self) -> io::Result<(SharedMemory, Option<Lifeline>)> {
        let mut pipe = crate::sync::lock(&self.0.pipe)
            .take()
            .ok_or_else(|| io::Error::other("the first message was read already"))?;
        let mut msg = [0u8; START_LEN];
        pipe.read_exact(&mut msg)?;
        // Left open, at its end (the parent closed its side): the C runtime's descriptor 0
        // still names this handle, and a closed one's value could be given to another object.
        let _ = pipe.into_raw_handle();
        if &msg[..4] != MAGIC {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "standard input did not carry the parent's first message",
            ));
        }
        let word = |i: usize| u64::from_le_bytes(msg[4 + 8 * i..12 + 8 * i].try_into().unwrap());
        // SAFETY: the values the parent copied into this process for it alone (the peer of
        // standard input is the parent: admission), each taken once.
        let h = |i: usize| unsafe { adopt(word(i + 1)) };
        let ends = Ends {
            bell_in: h(0)?,
            bell_out: h(1)?,
            end_in: h(2)?,
            end_out: h(3)?,
        };
        let shm = SharedMemory {
            section: h(4)?,
            len: word(0),
        };
        let lifeline = Lifeline {
            parent: h(5)?,
            stop: h(6)?,
        };
        let _ = self.0.ends.set(ends);
        Ok((shm, Some(lifeline)))
    }
}

/// An anonymous pipe, neither end inheritable (the command makes its copy of the read end
/// inheritable for the worker alone): `(read, write)`.
fn pipe() -> io::Result<(OwnedHandle, OwnedHandle)> {
    let (mut r, mut w): (HANDLE, HANDLE) = (std::ptr::null_mut(), std::ptr::null_mut());
    // SAFETY: out-parameters for two new handles, owned at once.
    if unsafe { CreatePipe(&mut r, &mut w, std::ptr::null(), 0) } == 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fresh handles nothing else owns.
    unsafe {
        Ok((
            OwnedHandle::from_raw_handle(r as RawHandle),
            OwnedHandle::from_raw_handle(w as RawHandle),
        ))
    }
}
