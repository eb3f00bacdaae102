//! The OS objects the engine holds, as types whose methods are the layer's verbs: a
//! [`Channel`] (doorbells, the first message, the end of either side), the
//! [`SharedMemory`] of the rings, and an [`ExitWatch`] on a worker. The engine never sees the
//! descriptors inside, so another platform can put its own handles behind the same verbs.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::process::Stdio;
use std::ptr::NonNull;
use std::time::Duration;

use super::Woke;

/// One end of the channel between the parent and a worker: a Unix socket that carries
/// one-byte doorbells, the first message's descriptors, and, by its end, the end of either side.
pub(crate) struct Channel(UnixStream);

impl Channel {
    /// A connected pair: the parent's end, and the worker's, to be its standard input.
    pub(crate) fn pair() -> io::Result<(Channel, Stdio)> {
        let (ours, theirs) = super::channel()?;
        Ok((Channel(ours), Stdio::from(theirs)))
    }

    /// The worker's end, taken from standard input (which becomes `/dev/null`).
    pub(crate) fn from_stdin() -> io::Result<Channel> {
        Ok(Channel(UnixStream::from(super::take_channel()?)))
    }

    pub(crate) fn try_clone(&self) -> io::Result<Channel> {
        self.0.try_clone().map(Channel)
    }

    /// Rings the other side's doorbell.
    pub(crate) fn ring(&self) {
        super::ring_doorbell(self.0.as_raw_fd());
    }

    /// Takes every doorbell waiting; false at the other side's end.
    pub(crate) fn drain(&self) -> bool {
        super::drain_doorbells(self.0.as_raw_fd())
    }

    /// Whether the other side has hung up (without blocking).
    pub(crate) fn hung_up(&self) -> bool {
        super::hung_up(self.0.as_raw_fd())
    }

    /// Blocks until a doorbell or the other side's end.
    pub(crate) fn wait(&self) -> io::Result<()> {
        super::wait_readable(self.0.as_raw_fd())
    }

    /// Blocks until a doorbell, the other side's end, or the end of process `pid` (`exit`).
    pub(crate) fn wait_or_exit(&self, exit: &ExitWatch, pid: u32) -> Woke {
        super::wait(self.0.as_raw_fd(), exit.raw(), pid)
    }

    /// Closes this side's writing half: the other side reads its end.
    pub(crate) fn close_write(&self) {
        let _ = self.0.shutdown(std::net::Shutdown::Write);
    }

    /// Closes both halves (the other side is gone).
    pub(crate) fn close(&self) {
        let _ = self.0.shutdown(std::net::Shutdown::Both);
    }

    /// The parent's first message to a worker: the rings' memory, and the program's lifeline
    /// where the platform needs one.
    pub(crate) fn send_start(
        &self,
        shm: &SharedMemory,
        _child: &std::process::Child,
    ) -> io::Result<()> {
        let fds = [Some(shm.0.as_raw_fd()), super::lifeline()?];
        let fds: Vec<_> = fds.into_iter().flatten().collect();
        super::send_fds(self.0.as_raw_fd(), &fds)
    }

    /// The worker's side of [`send_start`](Self::send_start) (blocking).
    pub(crate) fn recv_start(&self) -> io::Result<(SharedMemory, Option<Lifeline>)> {
        let mut fds = super::recv_fds(self.0.as_raw_fd())?.into_iter();
        let shm = fds.next().ok_or_else(|| io::Error::other("no ring"))?;
        Ok((SharedMemory(shm), fds.next().map(Lifeline)))
    }
}

/// The read end of the parent's lifeline, as a worker received it (`bind_to_parent`).
pub(crate) struct Lifeline(
    // Read on the portable Unix path; Linux needs no lifeline and closes it.
    #[cfg_attr(
        all(target_os = "linux", not(concurrent_futures_portable_unix)),
        allow(dead_code)
    )]
    pub(super) OwnedFd,
);

/// A shared-memory object for the rings: only the parent and the worker it was sent to hold it.
pub(crate) struct SharedMemory(OwnedFd);

impl SharedMemory {
    /// A new object of `len` zeroed bytes.
    pub(crate) fn create(len: usize) -> io::Result<SharedMemory> {
        super::shared_memory(len).map(SharedMemory)
    }

    /// Its size in bytes.
    pub(crate) fn size(&self) -> io::Result<u64> {
        super::size_of(self.0.as_raw_fd())
    }

    /// Maps its first `len` bytes, shared, read and write (`unmap` undoes it).
    pub(crate) fn map(&self, len: usize) -> io::Result<NonNull<u8>> {
        super::map_shared(self.0.as_raw_fd(), len)
    }
}

/// Tells when a worker process ended, without reaping it.
pub(crate) struct ExitWatch(Option<OwnedFd>);

impl ExitWatch {
    /// A watch on process `pid` (our child).
    pub(crate) fn new(pid: u32) -> ExitWatch {
        ExitWatch(super::exit_watch(pid))
    }

    fn raw(&self) -> Option<std::os::fd::RawFd> {
        self.0.as_ref().map(AsRawFd::as_raw_fd)
    }

    /// Waits up to `limit` for process `pid` to end; whether it did.
    pub(crate) fn wait(&self, pid: u32, limit: Duration) -> bool {
        super::wait_exit(self.raw(), pid, limit)
    }
}
