//! One communicator the MPI thread serves, and the MPI calls it makes on it: open, non-blocking
//! send, probe-and-receive, free. The calls go through the C interface directly, so that each
//! return code is seen: under ULFM a receive from any rank fails after a rank is lost, until
//! the failure is acknowledged ([`ulfm`](super::ulfm)), and a send to a lost rank completes in
//! error; the `mpi` crate's wrappers drop those codes (or assert on them).

use std::collections::HashSet;
use std::ffi::{c_char, CStr};
use std::sync::Arc;

use mpi::ffi;
use mpi::topology::{InterCommunicator, SimpleCommunicator};
use mpi::traits::*;

use super::comm::{Inbox, Open, RawComm};
use super::liveness::Watch;

pub(crate) type Bytes = Arc<Vec<u8>>;

/// The tag of the pool's messages (on its own communicators, so no user traffic can match it).
pub(crate) const TAG: i32 = 0x4346;
/// The tag of heartbeats ([`liveness`](super::liveness)), which the inbox never sees.
pub(crate) const BEAT_TAG: i32 = TAG + 1;

pub(crate) enum Comm {
    Intra(SimpleCommunicator),
    Inter(InterCommunicator),
    Parent(InterCommunicator),
}

/// What a probe found.
pub(crate) enum Probed {
    Nothing,
    Message {
        rank: i32,
        tag: i32,
        bytes: Vec<u8>,
    },
    /// A message over [`LARGE`], matched but not received yet.
    Large(Matched),
    /// The library reported an error (under ULFM: a rank failed): the code.
    Failed(i32),
}

impl Comm {
    pub(crate) fn raw(&self) -> ffi::MPI_Comm {
        match self {
            Comm::Intra(c) => c.as_raw(),
            Comm::Inter(c) | Comm::Parent(c) => c.as_raw(),
        }
    }

    pub(crate) fn is_inter(&self) -> bool {
        !matches!(self, Comm::Intra(_))
    }

    /// Starts sending `bytes` to `rank`; `Err` with MPI's code if it could not start.
    pub(crate) fn isend(
        &self,
        rank: i32,
        tag: i32,
        bytes: &Bytes,
    ) -> Result<ffi::MPI_Request, i32> {
        let mut req = unsafe { ffi::RSMPI_REQUEST_NULL };
        // SAFETY: the buffer is an `Arc` kept (in `Outgoing`) until the request completes, or
        // leaked with it.
        let rc = unsafe {
            ffi::MPI_Isend(
                bytes.as_ptr().cast(),
                bytes.len() as i32,
                u8::equivalent_datatype().as_raw(),
                rank,
                tag,
                self.raw(),
                &mut req,
            )
        };
        if rc == 0 {
            Ok(req)
        } else {
            Err(rc)
        }
    }

    /// Receives one message from any rank, if one has come; one over [`LARGE`] is only
    /// matched ([`Probed::Large`]): receiving it keeps the thread inside the library until all
    /// of it has come, which its caller may want to announce first.
    pub(crate) fn probe(&self) -> Probed {
        // SAFETY: plain MPI calls on a live communicator.
        unsafe {
            let mut flag = 0;
            let mut msg = ffi::RSMPI_MESSAGE_NULL;
            let mut status: ffi::MPI_Status = std::mem::zeroed();
            let rc = ffi::MPI_Improbe(
                ffi::RSMPI_ANY_SOURCE,
                ffi::RSMPI_ANY_TAG,
                self.raw(),
                &mut flag,
                &mut msg,
                &mut status,
            );
            if rc != 0 {
                return Probed::Failed(rc);
            }
            if flag == 0 {
                return Probed::Nothing;
            }
            let mut count = 0;
            ffi::MPI_Get_count(&status, u8::equivalent_datatype().as_raw(), &mut count);
            let matched = Matched {
                msg,
                status,
                len: count.max(0) as usize,
            };
            if matched.len > LARGE {
                return Probed::Large(matched);
            }
            matched.receive()
        }
    }
}

/// The messages over this size are received only after the peers were told to wait (see
/// `comm.rs`).
pub(crate) const LARGE: usize = 1 << 20;

/// A message matched by a probe, not received yet.
pub(crate) struct Matched {
    msg: ffi::MPI_Message,
    status: ffi::MPI_Status,
    pub(crate) len: usize,
}

impl Matched {
    /// Receives it (blocking until all of it has come).
    pub(crate) fn receive(mut self) -> Probed {
        let dt = u8::equivalent_datatype().as_raw();
        let mut bytes = vec![0u8; self.len];
        // SAFETY: the buffer holds the message's `len` bytes; the message handle is consumed.
        let rc = unsafe {
            ffi::MPI_Mrecv(
                bytes.as_mut_ptr().cast(),
                self.len as i32,
                dt,
                &mut self.msg,
                &mut self.status,
            )
        };
        if rc != 0 {
            return Probed::Failed(rc);
        }
        Probed::Message {
            rank: self.status.MPI_SOURCE,
            tag: self.status.MPI_TAG,
            bytes,
        }
    }
}

pub(crate) struct Endpoint {
    pub(crate) comm: Comm,
    pub(crate) inbox: Inbox,
    pub(crate) closing: bool,
    /// The peers it watches for silence, if any.
    pub(crate) watch: Option<Watch>,
    /// Ranks found lost: nothing more is sent to them.
    pub(crate) lost: HashSet<i32>,
    /// An error from the library was reported already (without ULFM it is not retried).
    pub(crate) failing: bool,
}

impl Endpoint {
    pub(crate) fn new(comm: Comm, inbox: Inbox) -> Self {
        Endpoint {
            comm,
            inbox,
            closing: false,
            watch: None,
            lost: HashSet::new(),
            failing: false,
        }
    }
}

/// A send in progress, with the buffer it reads.
pub(crate) struct Outgoing {
    pub(crate) ep: u64,
    pub(crate) rank: i32,
    pub(crate) req: ffi::MPI_Request,
    pub(crate) buf: Bytes,
}

impl Outgoing {
    /// Whether the send is over (done, or failed: its rank is lost, and the library may still
    /// hold the buffer, so it is leaked).
    pub(crate) fn test(&mut self) -> bool {
        let mut flag = 0;
        // SAFETY: a live request of this process's.
        let rc = unsafe { ffi::MPI_Test(&mut self.req, &mut flag, ffi::RSMPI_STATUS_IGNORE) };
        if rc != 0 {
            self.abandon();
            return true;
        }
        flag != 0
    }

    /// Gives the send up (its rank is lost): the request is freed and the buffer leaked, as
    /// the library may still read it.
    pub(crate) fn abandon(&mut self) {
        // SAFETY: freeing a request that is still active is allowed; MPI completes it (or not)
        // on its own, reading a buffer that is never freed.
        unsafe {
            if self.req != ffi::RSMPI_REQUEST_NULL {
                ffi::MPI_Request_free(&mut self.req);
            }
        }
        std::mem::forget(self.buf.clone());
    }
}

/// Frees a communicator; the parent intercommunicator is disconnected, so that the universe's
/// own disconnect at finalize finds no parent.
pub(crate) fn drop_comm(comm: Comm) {
    match comm {
        Comm::Parent(c) => {
            let mut raw = c.as_raw();
            std::mem::forget(c);
            // SAFETY: the live parent intercommunicator, not used again.
            unsafe { ffi::MPI_Comm_disconnect(&mut raw) };
        }
        other => drop(other),
    }
}

/// Opens what `what` names: the communicator and how many ranks can be sent to (the remote
/// group, or the whole communicator). Errors on it are returned, never fatal: under ULFM a
/// lost rank shows as an error on the calls that involve it.
pub(crate) fn open(what: Open) -> Result<(Comm, i32), String> {
    let (comm, remote) = open_comm(what)?;
    // SAFETY: a live communicator of ours and a predefined error handler.
    unsafe { ffi::MPI_Comm_set_errhandler(comm.raw(), ffi::RSMPI_ERRORS_RETURN) };
    Ok((comm, remote))
}

fn open_comm(what: Open) -> Result<(Comm, i32), String> {
    let world = SimpleCommunicator::world();
    match what {
        Open::World => {
            let dup = world.duplicate();
            let size = dup.size();
            Ok((Comm::Intra(dup), size))
        }
        Open::Comm(RawComm(raw)) => {
            // SAFETY: `raw` is a live communicator of the program's; the duplicate is ours.
            let mut dup = unsafe { ffi::RSMPI_COMM_NULL };
            let rc = unsafe { ffi::MPI_Comm_dup(raw, &mut dup) };
            if rc != 0 {
                return Err(error_string(rc));
            }
            // SAFETY: a fresh intra-communicator from MPI_Comm_dup.
            let dup = unsafe { SimpleCommunicator::from_raw(dup) };
            let size = dup.size();
            Ok((Comm::Intra(dup), size))
        }
        Open::Parent => {
            let parent = world
                .parent()
                .ok_or("this process was not spawned by an MPI program")?;
            let remote = parent.remote_size();
            Ok((Comm::Parent(parent), remote))
        }
        Open::Spawn { n, args, info } => super::spawn::spawn(n, &args, &info).map(|c| {
            let remote = c.remote_size();
            (Comm::Inter(c), remote)
        }),
    }
}

pub(crate) fn error_string(code: i32) -> String {
    let mut buf = vec![0 as c_char; 512];
    let mut len = 0;
    // SAFETY: the buffer holds MPI_MAX_ERROR_STRING (256 in Open MPI and MPICH) bytes and more.
    unsafe { ffi::MPI_Error_string(code, buf.as_mut_ptr(), &mut len) };
    // SAFETY: MPI writes a NUL-terminated string.
    let s = unsafe { CStr::from_ptr(buf.as_ptr()) };
    format!("{} (MPI error {code})", s.to_string_lossy())
}
