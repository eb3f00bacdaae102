//! Spawned mode's `MPI_Comm_spawn`, bounded.
//!
//! Open MPI 4.1 with an external PMIx 4 (the pair Debian 12 and Ubuntu 22.04 ship) hangs in
//! `MPI_Comm_spawn` now and then: a new rank never finishes `PMIx_Init`, and the parent waits in
//! `PMIx_Lookup` for its connection details for good (openpmix/openpmix#2735; here about one
//! spawn in sixty). Killing the stuck rank does not free the parent; only Open MPI's own bound
//! on that wait does, `pmix_base_exchange_timeout`, which is unbounded by default, read once at
//! `MPI_Init`, and cannot be changed later (`MPI_T_cvar_write` refuses it). So the engine's
//! start-up hook, which runs before `main` while the program has one thread, sets
//! `OMPI_MCA_pmix_base_exchange_timeout` to [`EXCHANGE_WAIT`] seconds where the environment
//! does not set it already (`-1` there keeps Open MPI's unbounded wait); Open MPI gives up
//! after about half of that (8 s of 15 here). A spawn attempt that ran out of that time is
//! tried again, up to [`ATTEMPTS`] times; Open MPI ends the ranks of an attempt that hung when
//! the program exits. Any other failure is reported at once.
//!
//! Other MPI libraries (MPICH, Intel MPI) ignore the variable and spawn as before.

use std::ffi::{c_char, CString};
use std::time::{Duration, Instant};

use mpi::ffi;
use mpi::topology::InterCommunicator;

use super::comm::error_string;

/// Open MPI's bound on a spawn's wait for its ranks, in seconds.
pub(crate) const EXCHANGE_VAR: &str = "OMPI_MCA_pmix_base_exchange_timeout";
/// The bound set where the environment has none. A spawn takes well under a second on an idle
/// machine and a few seconds on a loaded one.
pub(crate) const EXCHANGE_WAIT: &str = "15";
/// Attempts before a spawn that keeps timing out is reported.
pub(crate) const ATTEMPTS: u32 = 3;

/// Sets the bound unless the environment has one. Only from the start-up hook: the program
/// has one thread then, so nothing reads the environment while it changes.
pub(crate) fn bound_exchange() {
    if std::env::var_os(EXCHANGE_VAR).is_none() {
        std::env::set_var(EXCHANGE_VAR, EXCHANGE_WAIT);
    }
}

/// The bound in force, as `MPI_Init` read it.
fn exchange_wait() -> Option<Duration> {
    std::env::var(EXCHANGE_VAR)
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|&s| s > 0)
        .map(Duration::from_secs)
}

/// Spawns `n` ranks of this program with `args` and the `info` keys, trying again where an
/// attempt timed out.
pub(crate) fn spawn(
    n: usize,
    args: &[String],
    info: &[(String, String)],
) -> Result<InterCommunicator, String> {
    let wait = exchange_wait();
    let mut attempt = 1;
    loop {
        let started = Instant::now();
        let err = match spawn_once(n, args, info) {
            Ok(c) => return Ok(c),
            Err(e) => e,
        };
        let took = started.elapsed();
        // Open MPI gives up after about half the bound (8 s of 15 here); a spawn that fails
        // for any other reason fails within a second.
        if !wait.is_some_and(|w| took >= w / 3) {
            return Err(format!("{err} (after {took:.1?})"));
        }
        log::warn!(
            "concurrent-futures: MPI_Comm_spawn attempt {attempt} of {ATTEMPTS} timed out after \
             {took:.1?} (a known Open MPI 4.1 / PMIx 4 hang); {err}"
        );
        if attempt == ATTEMPTS {
            return Err(format!(
                "{err} (each of {ATTEMPTS} attempts timed out, the last after {took:.1?}: the new \
                 ranks never finished MPI_Init, a known hang of Open MPI 4.1 with PMIx 4, \
                 openpmix/openpmix#2735)"
            ));
        }
        attempt += 1;
    }
}

fn spawn_once(
    n: usize,
    args: &[String],
    info: &[(String, String)],
) -> Result<InterCommunicator, String> {
    let exe = std::fs::read_link("/proc/self/exe")
        .map_err(|e| format!("cannot find this program's executable: {e}"))?;
    let exe = CString::new(exe.as_os_str().as_encoded_bytes())
        .map_err(|_| "the executable's path holds a NUL byte".to_string())?;
    let args: Vec<CString> = args
        .iter()
        .map(|a| CString::new(a.as_str()).expect("no NUL in engine arguments"))
        .collect();
    let mut argv: Vec<*mut c_char> = args.iter().map(|a| a.as_ptr() as *mut c_char).collect();
    argv.push(std::ptr::null_mut());
    let n = i32::try_from(n).map_err(|_| "too many ranks".to_string())?;
    let mut errcodes = vec![0i32; n as usize];
    // SAFETY: every pointer is valid for the call; the info object is freed after it.
    unsafe {
        let mut inf = ffi::RSMPI_INFO_NULL;
        ffi::MPI_Info_create(&mut inf);
        for (k, v) in info {
            let (k, v) = (
                CString::new(k.as_str()).map_err(|_| "NUL in an info key")?,
                CString::new(v.as_str()).map_err(|_| "NUL in an info value")?,
            );
            ffi::MPI_Info_set(inf, k.as_ptr(), v.as_ptr());
        }
        let mut inter = ffi::RSMPI_COMM_NULL;
        let rc = ffi::MPI_Comm_spawn(
            exe.as_ptr(),
            argv.as_mut_ptr(),
            n,
            inf,
            0,
            ffi::RSMPI_COMM_SELF,
            &mut inter,
            errcodes.as_mut_ptr(),
        );
        ffi::MPI_Info_free(&mut inf);
        if rc != 0 {
            return Err(error_string(rc));
        }
        if let Some(&e) = errcodes.iter().find(|&&e| e != 0) {
            return Err(error_string(e));
        }
        ffi::MPI_Comm_set_errhandler(inter, ffi::RSMPI_ERRORS_RETURN);
        InterCommunicator::try_from_raw(inter)
            .ok_or_else(|| "MPI_Comm_spawn returned no intercommunicator".to_string())
    }
}
