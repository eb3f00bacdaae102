//! Whether the MPI library survives a lost rank, and the few fault-tolerance calls the engine
//! makes where it does.
//!
//! ULFM (User-Level Failure Mitigation) is Open MPI 5's fault tolerance, on when a job is started
//! with `mpirun --with-ft ulfm`: a rank that dies or is cut off then shows as an error
//! (`MPIX_ERR_PROC_FAILED`) on the calls that involve it, and the rest of the job goes on. The
//! `mpi` crate binds only the standard, so the two `MPIX_*` calls used here are looked up at run
//! time (`dlsym`): one build serves Open MPI 4.1 (no such symbols: [`FaultTolerance::None`]),
//! Open MPI 5 started without `--with-ft ulfm` (the symbols, but the `MPI_FT` attribute says
//! off) and Open MPI 5 with it ([`FaultTolerance::Ulfm`]).
//!
//! After a failure, a receive from any rank keeps failing with `MPIX_ERR_PROC_FAILED_PENDING`
//! until the failure is acknowledged: [`Ulfm::failed`] names the failed ranks of a communicator
//! and acknowledges them, after which receiving works again.

use std::ffi::{c_char, c_int, c_void, CStr};
use std::sync::OnceLock;

use mpi::ffi;

/// What the MPI library does when a rank of the job is lost (its node crashed, or cut off).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FaultTolerance {
    /// The library reports a lost rank and the job goes on (Open MPI 5 under `mpirun --with-ft
    /// ulfm`): the pool fails or retries the tasks the lost rank held and keeps serving with the
    /// others.
    Ulfm,
    /// The library has no fault tolerance (Open MPI 4.1, MPICH as usually built, Open MPI 5
    /// started without `--with-ft ulfm`): a lost rank ends the job. The pool makes sure it does,
    /// with a message that names the lost rank's host, instead of leaving it hanging.
    None,
}

type AckFailed = unsafe extern "C" fn(ffi::MPI_Comm, c_int, *mut c_int) -> c_int;
type GetFailed = unsafe extern "C" fn(ffi::MPI_Comm, *mut ffi::MPI_Group) -> c_int;

/// Open MPI 5's fault-tolerance calls.
pub(crate) struct Ulfm {
    ack_failed: AckFailed,
    get_failed: GetFailed,
}

/// The key of Open MPI 5's `MPI_FT` attribute (`MPIX_FT`): an `int`, 1 when ULFM is on.
const OMPI5_FT_KEY: c_int = 12;

static ULFM: OnceLock<Option<Ulfm>> = OnceLock::new();

/// The library's fault tolerance; call on the MPI thread, after `MPI_Init`.
pub(crate) fn detect() -> FaultTolerance {
    match ULFM.get_or_init(probe) {
        Some(_) => FaultTolerance::Ulfm,
        None => FaultTolerance::None,
    }
}

/// The fault-tolerance calls, where the library has them and they are on.
pub(crate) fn get() -> Option<&'static Ulfm> {
    ULFM.get().and_then(Option::as_ref)
}

fn probe() -> Option<Ulfm> {
    let ack = symbol(c"MPIX_Comm_ack_failed")?;
    let get = symbol(c"MPIX_Comm_get_failed")?;
    if !library_version().starts_with("Open MPI v") || !ft_attribute() {
        return None;
    }
    // SAFETY: the symbols have these C signatures in Open MPI 5's `mpiext_ftmpi_c.h`.
    Some(unsafe {
        Ulfm {
            ack_failed: std::mem::transmute::<*mut c_void, AckFailed>(ack),
            get_failed: std::mem::transmute::<*mut c_void, GetFailed>(get),
        }
    })
}

fn symbol(name: &CStr) -> Option<*mut c_void> {
    // SAFETY: a lookup in the symbols already loaded (libmpi is linked into the program).
    let p = unsafe { libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr()) };
    (!p.is_null()).then_some(p)
}

fn library_version() -> String {
    let mut buf = vec![0 as c_char; 8192];
    let mut len = 0;
    // SAFETY: MPI_MAX_LIBRARY_VERSION_STRING is 256 in Open MPI, 8192 in MPICH.
    unsafe { ffi::MPI_Get_library_version(buf.as_mut_ptr(), &mut len) };
    // SAFETY: a NUL-terminated string.
    unsafe { CStr::from_ptr(buf.as_ptr()) }
        .to_string_lossy()
        .into_owned()
}

/// Open MPI 5's `MPI_FT` attribute on the world: whether ULFM is on in this job.
fn ft_attribute() -> bool {
    let mut value: *mut c_int = std::ptr::null_mut();
    let mut flag = 0;
    // SAFETY: a predefined attribute of the world; MPI stores a pointer to an int in `value`.
    let rc = unsafe {
        ffi::MPI_Comm_get_attr(
            ffi::RSMPI_COMM_WORLD,
            OMPI5_FT_KEY,
            (&mut value as *mut *mut c_int).cast(),
            &mut flag,
        )
    };
    // SAFETY: set by MPI when `flag` is true.
    rc == 0 && flag != 0 && !value.is_null() && unsafe { *value } != 0
}

impl Ulfm {
    /// The ranks of `comm` (of its remote group, for an intercommunicator) that have failed,
    /// acknowledged, so that receiving from any rank works again.
    pub(crate) fn failed(&self, comm: ffi::MPI_Comm, inter: bool) -> Vec<i32> {
        // SAFETY: plain MPI calls on live handles; the groups are freed before returning.
        unsafe {
            let mut failed: ffi::MPI_Group = ffi::RSMPI_GROUP_EMPTY;
            if (self.get_failed)(comm, &mut failed) != 0 {
                return Vec::new();
            }
            let mut n = 0;
            ffi::MPI_Group_size(failed, &mut n);
            let mut acked = 0;
            (self.ack_failed)(comm, n, &mut acked);
            let mut group: ffi::MPI_Group = ffi::RSMPI_GROUP_EMPTY;
            if inter {
                ffi::MPI_Comm_remote_group(comm, &mut group);
            } else {
                ffi::MPI_Comm_group(comm, &mut group);
            }
            let from: Vec<c_int> = (0..n).collect();
            let mut to = vec![ffi::RSMPI_UNDEFINED; n as usize];
            if n > 0 {
                ffi::MPI_Group_translate_ranks(failed, n, from.as_ptr(), group, to.as_mut_ptr());
            }
            ffi::MPI_Group_free(&mut group);
            ffi::MPI_Group_free(&mut failed);
            to.retain(|&r| r != ffi::RSMPI_UNDEFINED);
            to
        }
    }
}
